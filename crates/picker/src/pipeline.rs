//! Request pipelining for one peer: how many block requests to keep in
//! flight, and when they have timed out.
//!
//! The target depth follows the peer's measured download rate: enough
//! requests to cover `request_queue_time` seconds of transfer,
//! `request_queue_time × rate / 16 KiB`, clamped to
//! `[min_request_queue, max_out_request_queue]`. A new connection starts in
//! *slow start*: the depth grows by one per block received (roughly doubling
//! every round trip) until the rate stops increasing, then the rate formula
//! takes over. A peer that sends nothing for `piece_timeout` while we wait on
//! it is *snubbed*: its depth drops to one and its outstanding requests are
//! handed back so other peers can take them.

use std::collections::VecDeque;

use crate::piece_picker::{BlockRef, BLOCK_SIZE};

/// Tuning of [`RequestPipeline`]; defaults follow libtorrent's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineConfig {
    /// Seconds of transfer to keep requested ahead (`request_queue_time`, 3).
    pub request_queue_time: f64,
    /// Upper bound of the depth (`max_out_request_queue`, 500).
    pub max_out_request_queue: u32,
    /// Lower bound of the depth when not snubbed (2).
    pub min_request_queue: u32,
    /// Depth of a new connection, before slow start grows it (4).
    pub initial_queue: u32,
    /// Milliseconds without any block while requests are outstanding before
    /// the peer is snubbed (`piece_timeout`, 20 s).
    pub piece_timeout_ms: u64,
    /// Milliseconds after which a single request is considered lost and
    /// handed back (`request_timeout`, 60 s).
    pub request_timeout_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            request_queue_time: 3.0,
            max_out_request_queue: 500,
            min_request_queue: 2,
            initial_queue: 4,
            piece_timeout_ms: 20_000,
            request_timeout_ms: 60_000,
        }
    }
}

/// Request queue state of one peer connection.
#[derive(Clone, Debug)]
pub struct RequestPipeline {
    cfg: PipelineConfig,
    desired: u32,
    slow_start: bool,
    snubbed: bool,
    prev_rate: u64,
    /// Outstanding requests with the time each was sent.
    outstanding: VecDeque<(BlockRef, u64)>,
    /// Last time we saw progress (block received, or first request sent on
    /// an empty queue).
    last_progress: u64,
}

impl RequestPipeline {
    /// A new connection, in slow start.
    pub fn new(cfg: PipelineConfig, now: u64) -> Self {
        let desired = cfg.initial_queue.clamp(1, cfg.max_out_request_queue.max(1));
        Self {
            cfg,
            desired,
            slow_start: true,
            snubbed: false,
            prev_rate: 0,
            outstanding: VecDeque::new(),
            last_progress: now,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }

    /// Target number of requests in flight.
    pub fn desired_queue_size(&self) -> u32 {
        if self.snubbed {
            1
        } else {
            self.desired
        }
    }

    /// Requests currently in flight.
    pub fn num_outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The blocks in flight, oldest first.
    pub fn outstanding(&self) -> impl Iterator<Item = BlockRef> + '_ {
        self.outstanding.iter().map(|&(b, _)| b)
    }

    /// How many more requests to send now (what to ask the picker for).
    pub fn num_to_request(&self) -> usize {
        (self.desired_queue_size() as usize).saturating_sub(self.outstanding.len())
    }

    /// Whether the connection is still in slow start.
    pub fn is_slow_start(&self) -> bool {
        self.slow_start
    }

    /// Whether the peer is snubbed (sent nothing for `piece_timeout`).
    pub fn is_snubbed(&self) -> bool {
        self.snubbed
    }

    /// A request for `b` was sent at `now`.
    pub fn on_request_sent(&mut self, b: BlockRef, now: u64) {
        if self.outstanding.is_empty() {
            self.last_progress = now;
        }
        self.outstanding.push_back((b, now));
    }

    fn remove(&mut self, b: BlockRef) -> bool {
        match self.outstanding.iter().position(|&(x, _)| x == b) {
            Some(pos) => {
                self.outstanding.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Block `b` arrived at `now`. Returns false when it was not requested
    /// from this peer (unsolicited or already timed out). Any block counts
    /// as progress and lifts a snub; in slow start the depth grows by one.
    pub fn on_block_received(&mut self, b: BlockRef, now: u64) -> bool {
        let was = self.remove(b);
        self.last_progress = now;
        self.snubbed = false;
        if was && self.slow_start {
            self.desired = (self.desired + 1).min(self.cfg.max_out_request_queue.max(1));
        }
        was
    }

    /// The request for `b` is gone without data (rejected or cancelled).
    pub fn on_request_removed(&mut self, b: BlockRef) -> bool {
        self.remove(b)
    }

    /// The peer choked us: every outstanding request is dropped and
    /// returned (to be aborted in the picker). Slow start ends.
    pub fn on_choked(&mut self) -> Vec<BlockRef> {
        self.slow_start = false;
        self.outstanding.drain(..).map(|(b, _)| b).collect()
    }

    /// Feeds the measured download rate from this peer (bytes per second),
    /// typically once a second. Ends slow start when the rate no longer
    /// grows (by more than 1/8), then sizes the queue from the rate.
    pub fn update_rate(&mut self, rate: u64) {
        if self.slow_start {
            if rate > 0 && rate <= self.prev_rate + self.prev_rate / 8 {
                self.slow_start = false;
            }
            self.prev_rate = self.prev_rate.max(rate);
            if self.slow_start {
                return;
            }
        }
        let want = (self.cfg.request_queue_time.max(0.0) * rate as f64 / f64::from(BLOCK_SIZE))
            .ceil()
            .min(f64::from(u32::MAX)) as u32;
        let lo = self.cfg.min_request_queue.max(1);
        let hi = self.cfg.max_out_request_queue.max(lo);
        self.desired = want.clamp(lo, hi);
    }

    /// Checks for timeouts at `now` and returns the requests to hand back to
    /// the picker (and cancel on the wire). When nothing arrived for
    /// `piece_timeout` while requests were outstanding the peer becomes
    /// snubbed and all its requests are returned; otherwise only requests
    /// older than `request_timeout` are.
    pub fn poll_timeouts(&mut self, now: u64) -> Vec<BlockRef> {
        if self.outstanding.is_empty() {
            return Vec::new();
        }
        if now.saturating_sub(self.last_progress) >= self.cfg.piece_timeout_ms {
            self.snubbed = true;
            self.slow_start = false;
            self.last_progress = now;
            return self.outstanding.drain(..).map(|(b, _)| b).collect();
        }
        let limit = self.cfg.request_timeout_ms;
        let mut out = Vec::new();
        self.outstanding.retain(|&(b, t)| {
            if now.saturating_sub(t) >= limit {
                out.push(b);
                false
            } else {
                true
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(i: u32) -> BlockRef {
        BlockRef::new(i, 0)
    }

    #[test]
    fn slow_start_grows_then_rate_based() {
        let mut p = RequestPipeline::new(PipelineConfig::default(), 0);
        assert_eq!(p.desired_queue_size(), 4);
        assert_eq!(p.num_to_request(), 4);
        for i in 0..4 {
            p.on_request_sent(b(i), 0);
        }
        assert_eq!(p.num_to_request(), 0);
        for i in 0..4 {
            assert!(p.on_block_received(b(i), 10));
        }
        assert_eq!(p.desired_queue_size(), 8);
        assert!(!p.on_block_received(b(99), 10));
        assert_eq!(p.desired_queue_size(), 8, "unsolicited block does not grow");
        p.update_rate(100_000);
        assert!(p.is_slow_start());
        p.update_rate(300_000);
        assert!(p.is_slow_start());
        p.update_rate(310_000); // stopped growing
        assert!(!p.is_slow_start());
        // 3 s * 310000 / 16384 = 56.8 -> 57
        assert_eq!(p.desired_queue_size(), 57);
        p.update_rate(0);
        assert_eq!(p.desired_queue_size(), 2);
        p.update_rate(1_000_000_000);
        assert_eq!(p.desired_queue_size(), 500);
    }

    #[test]
    fn snub_and_request_timeouts() {
        let cfg = PipelineConfig {
            piece_timeout_ms: 1000,
            request_timeout_ms: 500,
            ..PipelineConfig::default()
        };
        let mut p = RequestPipeline::new(cfg, 0);
        assert!(p.poll_timeouts(10_000).is_empty());
        p.on_request_sent(b(1), 10_000);
        p.on_request_sent(b(2), 10_300);
        assert!(p.poll_timeouts(10_400).is_empty());
        assert_eq!(p.poll_timeouts(10_500), vec![b(1)]);
        p.on_block_received(b(9), 10_600); // progress
        assert_eq!(p.poll_timeouts(10_799), vec![]);
        assert_eq!(p.poll_timeouts(10_800), vec![b(2)]);
        // a silent peer is snubbed after piece_timeout, all requests back
        let mut q = RequestPipeline::new(
            PipelineConfig {
                piece_timeout_ms: 1000,
                request_timeout_ms: 5000,
                ..PipelineConfig::default()
            },
            0,
        );
        q.on_request_sent(b(3), 0);
        q.on_request_sent(b(4), 500);
        assert!(q.poll_timeouts(999).is_empty());
        assert_eq!(q.poll_timeouts(1000), vec![b(3), b(4)]);
        assert!(q.is_snubbed());
        assert_eq!(q.desired_queue_size(), 1);
        q.on_request_sent(b(5), 1000);
        assert_eq!(q.num_to_request(), 0);
        q.on_block_received(b(5), 1200);
        assert!(!q.is_snubbed());
        assert_eq!(q.desired_queue_size(), 4);
    }

    #[test]
    fn choke_returns_outstanding() {
        let mut p = RequestPipeline::new(PipelineConfig::default(), 0);
        p.on_request_sent(b(1), 0);
        p.on_request_sent(b(2), 0);
        assert!(p.on_request_removed(b(1)));
        assert!(!p.on_request_removed(b(1)));
        assert_eq!(p.on_choked(), vec![b(2)]);
        assert_eq!(p.num_outstanding(), 0);
        assert!(!p.is_slow_start());
    }
}
