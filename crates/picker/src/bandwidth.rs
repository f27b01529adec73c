//! Token-bucket rate limiting with fair sharing among connections.
//!
//! A [`BandwidthManager`] holds *channels*: the global one (always present,
//! [`BandwidthManager::global`]) and any number added for torrents or peer
//! classes. Each channel has an independent upload and download token
//! bucket refilled at its limit (bytes per second, 0 = unlimited) and holding
//! at most `burst_ms` worth of tokens.
//!
//! A connection that wants to move bytes asks [`BandwidthManager::request`]
//! with the channels it belongs to (the global channel is always added). The
//! answer ([`Grant`]) says how many bytes may go now, charged to every one of
//! those channels, and, when that is less than asked, the time to ask again.
//!
//! Fairness: a channel tracks the connections that asked it during the last
//! `fair_window_ms` and how much each was granted recently (decaying with
//! that time constant). A connection may take its fair share of a window
//! (`limit × window / active connections`) minus its recent usage. Tokens
//! that pile up past half the bucket are unclaimed and are shared the same
//! way (each request may take its 1/n part), so the bandwidth others leave
//! unused is not wasted while a greedy connection still can't starve the
//! others. In steady state up to half a bucket stays in reserve. Time is
//! passed in, in milliseconds.
//!
//! Priorities: a request may carry a weight ([`BandwidthManager::request_weighted`],
//! a peer class's `upload_priority`/`download_priority`); shares are then
//! proportional to the weights of the connections active on the channel.

use std::collections::HashMap;

use crate::lazy::LazyBox;

/// Which way the bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Bytes we send.
    Upload,
    /// Bytes we receive.
    Download,
}

impl Direction {
    fn idx(self) -> usize {
        match self {
            Self::Upload => 0,
            Self::Download => 1,
        }
    }
}

/// A rate-limit channel (global, a torrent, a peer class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelId(u32);

/// The caller's handle of a connection (for fair sharing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

/// Answer to a quota request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Bytes that may be transferred now (already charged).
    pub bytes: u64,
    /// When `bytes` is less than asked: the time (ms) to ask again.
    pub retry_at: Option<u64>,
}

#[derive(Clone, Debug)]
struct Bucket {
    limit: u64,
    tokens: u64,
    /// Sub-byte remainder of the refill, in byte·ms units (< 1000).
    rem: u64,
    last: u64,
    /// Per connection: last request time and decayed recent usage.
    /// Allocated on the first request (most channels never see one).
    active: LazyBox<HashMap<ConnId, Usage>>,
    /// Sum of the weights of `active`.
    weight_sum: u64,
    last_prune: u64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    last_request: u64,
    /// Bytes granted, decayed exponentially with time constant `window`.
    used: f64,
    used_at: u64,
    weight: u64,
}

impl Usage {
    fn decayed(&self, now: u64, window: u64) -> f64 {
        let dt = now.saturating_sub(self.used_at) as f64;
        self.used * (-dt / window.max(1) as f64).exp()
    }
}

impl Bucket {
    fn new(now: u64) -> Self {
        Self {
            limit: 0,
            tokens: 0,
            rem: 0,
            last: now,
            active: LazyBox::default(),
            weight_sum: 0,
            last_prune: now,
        }
    }

    fn capacity(&self, burst_ms: u64) -> u64 {
        ((u128::from(self.limit) * u128::from(burst_ms) / 1000).min(u128::from(u64::MAX)) as u64)
            .max(1)
    }

    fn refill(&mut self, now: u64, burst_ms: u64) {
        if now <= self.last {
            return;
        }
        let dt = now - self.last;
        self.last = now;
        if self.limit == 0 {
            return;
        }
        let add = u128::from(self.limit) * u128::from(dt) + u128::from(self.rem);
        let cap = self.capacity(burst_ms);
        let tokens = u128::from(self.tokens) + add / 1000;
        if tokens >= u128::from(cap) {
            self.tokens = cap;
            self.rem = 0;
        } else {
            self.tokens = tokens as u64;
            self.rem = (add % 1000) as u64;
        }
    }

    /// Registers a request of `conn` with weight `weight`; returns (the
    /// summed weight of the active connections, the connection's decayed
    /// recent usage).
    fn touch(&mut self, now: u64, conn: ConnId, window: u64, weight: u64) -> (u64, f64) {
        if now.saturating_sub(self.last_prune) >= window / 4 {
            self.active
                .retain(|_, u| now.saturating_sub(u.last_request) < window);
            self.weight_sum = self.active.values().map(|u| u.weight).sum();
            self.last_prune = now;
        }
        let u = self.active.entry(conn).or_insert(Usage {
            last_request: now,
            used: 0.0,
            used_at: now,
            weight: 0,
        });
        u.last_request = now;
        self.weight_sum = self.weight_sum - u.weight + weight;
        u.weight = weight;
        let used = u.decayed(now, window);
        (self.weight_sum, used)
    }

    fn charge(&mut self, now: u64, conn: ConnId, bytes: u64, window: u64) {
        self.tokens -= bytes.min(self.tokens);
        if let Some(u) = self.active.get_mut(&conn) {
            u.used = u.decayed(now, window) + bytes as f64;
            u.used_at = now;
        }
    }
}

#[derive(Clone, Debug)]
struct Channel {
    buckets: [Bucket; 2],
}

/// Rate limiter for the whole session. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct BandwidthManager {
    channels: Vec<Option<Channel>>,
    burst_ms: u64,
    fair_window_ms: u64,
}

impl Default for BandwidthManager {
    fn default() -> Self {
        Self::new(0)
    }
}

impl BandwidthManager {
    /// A manager whose clock starts at `now`, with an unlimited global
    /// channel, 1 s bursts and a 1 s fairness window.
    pub fn new(now: u64) -> Self {
        Self {
            channels: vec![Some(Channel {
                buckets: [Bucket::new(now), Bucket::new(now)],
            })],
            burst_ms: 1000,
            fair_window_ms: 1000,
        }
    }

    /// Sets how many milliseconds of tokens a bucket may hold (at least 1).
    pub fn set_burst_ms(&mut self, ms: u64) {
        self.burst_ms = ms.max(1);
    }

    /// Sets how long a connection counts as active after a request (≥ 1 ms).
    pub fn set_fair_window_ms(&mut self, ms: u64) {
        self.fair_window_ms = ms.max(1);
    }

    /// The global channel, charged by every request.
    pub fn global(&self) -> ChannelId {
        ChannelId(0)
    }

    /// Adds an unlimited channel (for a torrent or a peer class).
    pub fn add_channel(&mut self, now: u64) -> ChannelId {
        let ch = Channel {
            buckets: [Bucket::new(now), Bucket::new(now)],
        };
        if let Some(pos) = self.channels.iter().skip(1).position(Option::is_none) {
            self.channels[pos + 1] = Some(ch);
            return ChannelId(pos as u32 + 1);
        }
        self.channels.push(Some(ch));
        ChannelId(self.channels.len() as u32 - 1)
    }

    /// Removes a channel (the global one can't be removed). Its id may be
    /// reused by a later [`Self::add_channel`].
    pub fn remove_channel(&mut self, ch: ChannelId) -> bool {
        if ch.0 == 0 {
            return false;
        }
        match self.channels.get_mut(ch.0 as usize) {
            Some(slot @ Some(_)) => {
                *slot = None;
                true
            }
            _ => false,
        }
    }

    fn channel_mut(&mut self, ch: ChannelId) -> Option<&mut Channel> {
        self.channels
            .get_mut(ch.0 as usize)
            .and_then(Option::as_mut)
    }

    /// Sets a channel's limit in bytes per second (0 = unlimited). Tokens
    /// earned so far at the old rate are kept, up to the new capacity.
    /// Returns false for an unknown channel.
    pub fn set_limit(
        &mut self,
        now: u64,
        ch: ChannelId,
        dir: Direction,
        bytes_per_sec: u64,
    ) -> bool {
        let burst = self.burst_ms;
        let Some(c) = self.channel_mut(ch) else {
            return false;
        };
        let b = &mut c.buckets[dir.idx()];
        b.refill(now, burst);
        b.limit = bytes_per_sec;
        b.last = b.last.max(now);
        if bytes_per_sec > 0 {
            b.tokens = b.tokens.min(b.capacity(burst));
        } else {
            b.tokens = 0;
            b.rem = 0;
        }
        true
    }

    /// A channel's limit (0 = unlimited); `None` for an unknown channel.
    pub fn limit(&self, ch: ChannelId, dir: Direction) -> Option<u64> {
        self.channels
            .get(ch.0 as usize)
            .and_then(Option::as_ref)
            .map(|c| c.buckets[dir.idx()].limit)
    }

    /// Forgets a connection (it no longer counts for fair sharing).
    pub fn remove_conn(&mut self, conn: ConnId) {
        for c in self.channels.iter_mut().flatten() {
            for b in &mut c.buckets {
                if let Some(u) = b.active.if_allocated().and_then(|a| a.remove(&conn)) {
                    b.weight_sum -= u.weight;
                }
            }
        }
    }

    /// Asks to move `want` bytes in direction `dir` for connection `conn`,
    /// which belongs to `channels` (the global channel is always included;
    /// unknown channels are ignored). The granted bytes are charged to every
    /// channel. When less than `want` is granted, `retry_at` says when a
    /// useful amount will be available.
    pub fn request(
        &mut self,
        now: u64,
        conn: ConnId,
        channels: &[ChannelId],
        dir: Direction,
        want: u64,
    ) -> Grant {
        self.request_weighted(now, conn, channels, dir, want, 1)
    }

    /// [`Self::request`] with a priority: on each limited channel the
    /// connection's share is `weight` (at least 1) over the summed weights
    /// of the connections active there.
    pub fn request_weighted(
        &mut self,
        now: u64,
        conn: ConnId,
        channels: &[ChannelId],
        dir: Direction,
        want: u64,
        weight: u64,
    ) -> Grant {
        let weight = weight.max(1);
        let burst = self.burst_ms;
        let window = self.fair_window_ms;
        let d = dir.idx();
        let mut ids: Vec<u32> = Vec::with_capacity(channels.len() + 1);
        ids.push(0);
        for c in channels {
            if !ids.contains(&c.0) && self.channels.get(c.0 as usize).is_some_and(Option::is_some) {
                ids.push(c.0);
            }
        }
        let mut grant = want;
        // per limited channel: (limit, tokens, summed weight / own weight,
        // budget-bound)
        let mut limited: Vec<(u64, u64, u64, bool)> = Vec::new();
        for &id in &ids {
            let Some(Some(c)) = self.channels.get_mut(id as usize) else {
                continue;
            };
            let b = &mut c.buckets[d];
            if b.limit == 0 {
                continue;
            }
            b.refill(now, burst);
            let (sum, used) = b.touch(now, conn, window, weight);
            let sum = sum.max(weight);
            let share = weight as f64 / sum as f64;
            // this connection's fair share of one window, minus what it used
            let entitled = b.limit as f64 * window as f64 / 1000.0 * share;
            let budget = (entitled - used).max(0.0) as u64;
            // tokens piling up past half the bucket are unclaimed: each
            // connection may take its part of them
            let surplus = (b.tokens.saturating_sub(b.capacity(burst) / 2) as f64 * share) as u64;
            let n = sum.div_ceil(weight).max(1);
            let allowed = b.tokens.min(budget.max(surplus));
            grant = grant.min(allowed);
            limited.push((b.limit, b.tokens, n, allowed < b.tokens));
        }
        if limited.is_empty() {
            return Grant {
                bytes: want,
                retry_at: None,
            };
        }
        for &id in &ids {
            if let Some(Some(c)) = self.channels.get_mut(id as usize) {
                let b = &mut c.buckets[d];
                if b.limit > 0 {
                    b.charge(now, conn, grant, window);
                }
            }
        }
        let retry_at = if grant < want {
            let left = want - grant;
            let mut wait = 1u64;
            for &(limit, tokens, n, budget_bound) in &limited {
                let tokens = tokens.saturating_sub(grant);
                // ask again once about 1/20 s of this connection's fair
                // share (or what it still needs) has accumulated
                let target = left.min((limit / 20 / n).max(1));
                if tokens < target {
                    let ms = ((target - tokens) as u128 * 1000).div_ceil(u128::from(limit));
                    wait = wait.max(ms.min(u128::from(u64::MAX / 2)) as u64);
                }
                if budget_bound {
                    // its usage must decay first
                    wait = wait.max((window / 20).max(1));
                }
            }
            Some(now.saturating_add(wait))
        } else {
            None
        };
        Grant {
            bytes: grant,
            retry_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Direction = Direction::Upload;
    const DOWN: Direction = Direction::Download;

    #[test]
    fn unlimited_grants_everything() {
        let mut m = BandwidthManager::new(0);
        let g = m.request(0, ConnId(1), &[], UP, 1 << 30);
        assert_eq!(
            g,
            Grant {
                bytes: 1 << 30,
                retry_at: None
            }
        );
    }

    #[test]
    fn single_connection_gets_the_rate() {
        let mut m = BandwidthManager::new(0);
        let g = m.global();
        assert!(m.set_limit(0, g, UP, 10_000));
        let mut total = 0;
        let mut t = 0;
        while t <= 10_000 {
            let gr = m.request(t, ConnId(1), &[], UP, 1 << 20);
            total += gr.bytes;
            let next = gr.retry_at.unwrap();
            assert!(next > t);
            t = next;
        }
        // 10 s at 10 kB/s, starting from an empty bucket; up to half a
        // bucket (5 kB) may stay in reserve
        assert!((94_000..=101_000).contains(&total), "{total}");
        // downloads are not limited by the upload bucket
        assert_eq!(
            m.request(t, ConnId(1), &[], DOWN, 5_000_000).bytes,
            5_000_000
        );
    }

    #[test]
    fn burst_is_capped() {
        let mut m = BandwidthManager::new(0);
        let g = m.global();
        m.set_limit(0, g, DOWN, 1000);
        // idle for a minute: at most one second of tokens
        let gr = m.request(60_000, ConnId(1), &[], DOWN, 1_000_000);
        assert_eq!(gr.bytes, 1000);
        let gr = m.request(60_000, ConnId(1), &[], DOWN, 10);
        assert_eq!(gr.bytes, 0);
        assert_eq!(gr.retry_at, Some(60_010));
    }

    #[test]
    fn fair_sharing_among_connections() {
        let mut m = BandwidthManager::new(0);
        let g = m.global();
        m.set_limit(0, g, UP, 100_000);
        let mut got = [0u64; 10];
        let mut retry = [0u64; 10];
        let mut t = 0;
        while t < 20_000 {
            for c in 0..10 {
                if retry[c] <= t {
                    // connection 0 is greedy and asks for a lot
                    let want = if c == 0 { 10_000_000 } else { 16_384 };
                    let gr = m.request(t, ConnId(c as u32), &[], UP, want);
                    got[c] += gr.bytes;
                    retry[c] = gr.retry_at.unwrap_or(t);
                }
            }
            t += 5;
        }
        let total: u64 = got.iter().sum();
        // 20 s at 100 kB/s, minus at most half a bucket of reserve
        assert!((1_940_000..=2_010_000).contains(&total), "{total}");
        let mean = total / 10;
        for (c, &x) in got.iter().enumerate() {
            assert!(x > mean * 8 / 10 && x < mean * 12 / 10, "conn {c}: {got:?}");
        }
    }

    #[test]
    fn torrent_and_class_channels_bound_their_members() {
        let mut m = BandwidthManager::new(0);
        let torrent = m.add_channel(0);
        let class = m.add_channel(0);
        assert_ne!(torrent, class);
        m.set_limit(0, torrent, DOWN, 5_000);
        m.set_limit(0, class, DOWN, 2_000);
        m.set_limit(0, m.global(), DOWN, 1_000_000);
        let mut a = 0;
        let mut b = 0;
        for step in 1..=1000u64 {
            let t = step * 10;
            // conn 1 is in the torrent only, conn 2 in the torrent and the class
            a += m.request(t, ConnId(1), &[torrent], DOWN, 100_000).bytes;
            b += m
                .request(t, ConnId(2), &[torrent, class], DOWN, 100_000)
                .bytes;
        }
        // 10 s: the class allows 20 kB, the torrent 50 kB in total
        assert!(b <= 20_100, "{b}");
        assert!(b >= 18_000, "{b}");
        assert!((46_000..=50_100).contains(&(a + b)), "{a} {b}");
        assert_eq!(m.limit(class, DOWN), Some(2_000));
        assert!(m.remove_channel(class));
        assert!(!m.remove_channel(class));
        assert!(!m.remove_channel(m.global()));
        assert_eq!(m.limit(class, DOWN), None);
        assert!(!m.set_limit(0, class, DOWN, 1));
        assert_eq!(m.add_channel(0), class, "slot reused");
        m.remove_conn(ConnId(1));
    }

    #[test]
    fn weights_split_a_channel_proportionally() {
        let mut m = BandwidthManager::new(0);
        let ch = m.add_channel(0);
        m.set_limit(0, ch, UP, 100_000);
        let mut got = [0u64; 2];
        let mut retry = [0u64; 2];
        let weights = [1u64, 3];
        let mut t = 0;
        while t < 20_000 {
            for c in 0..2 {
                if retry[c] <= t {
                    let gr =
                        m.request_weighted(t, ConnId(c as u32), &[ch], UP, 1 << 20, weights[c]);
                    got[c] += gr.bytes;
                    retry[c] = gr.retry_at.unwrap_or(t);
                }
            }
            t += 5;
        }
        let total = got[0] + got[1];
        assert!((1_900_000..=2_010_000).contains(&total), "{total}");
        // three times the share for weight 3
        let ratio = got[1] as f64 / got[0] as f64;
        assert!((2.5..=3.5).contains(&ratio), "{got:?}");
        // forgetting a connection takes its weight out of the sum
        m.remove_conn(ConnId(1));
        let g = m.request_weighted(t, ConnId(0), &[ch], UP, 1 << 20, 1);
        assert!(g.bytes > 0);
    }

    #[test]
    fn a_connection_outside_a_channel_is_not_charged_by_it() {
        let mut m = BandwidthManager::new(0);
        let class = m.add_channel(0);
        m.set_limit(0, class, DOWN, 1_000);
        // not in the class: unlimited
        assert_eq!(m.request(10, ConnId(1), &[], DOWN, 1 << 20).bytes, 1 << 20);
        // in the class: held to its bucket
        assert!(m.request(10, ConnId(2), &[class], DOWN, 1 << 20).bytes <= 1_000);
    }

    #[test]
    fn lifting_a_limit() {
        let mut m = BandwidthManager::new(0);
        let g = m.global();
        m.set_limit(0, g, UP, 1);
        assert_eq!(m.request(0, ConnId(1), &[], UP, 100).bytes, 0);
        m.set_limit(0, g, UP, 0);
        assert_eq!(m.request(0, ConnId(1), &[], UP, 100).bytes, 100);
    }
}
