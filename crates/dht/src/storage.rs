//! The serving side's state: write tokens, peers announced per info-hash
//! and BEP 44 items, all bounded by the `dht_max_*` settings.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;

use crate::id::Rng;

/// How often the token secret changes. A token is accepted with the
/// current or the previous secret, so it stays valid for 5 to 10 minutes.
pub const TOKEN_ROTATION: Duration = Duration::from_secs(5 * 60);
/// Length of the tokens we hand out (libtorrent's `write_token_size`).
pub const TOKEN_LEN: usize = 4;
/// Announced peers are dropped after this long without a re-announce.
pub const PEER_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Write tokens (BEP 5): a hash of the requester's IP, the target and a
/// secret that rotates every [`TOKEN_ROTATION`].
#[derive(Clone, Debug)]
pub struct Tokens {
    current: [u8; 20],
    previous: [u8; 20],
    rotated: Instant,
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    }
}

impl Tokens {
    pub fn new(rng: &mut Rng, now: Instant) -> Self {
        let mut current = [0u8; 20];
        let mut previous = [0u8; 20];
        rng.fill(&mut current);
        rng.fill(&mut previous);
        Tokens {
            current,
            previous,
            rotated: now,
        }
    }

    fn make(secret: &[u8; 20], ip: &IpAddr, target: &Sha1Hash) -> [u8; TOKEN_LEN] {
        let mut buf = Vec::with_capacity(56);
        buf.extend_from_slice(&ip_bytes(ip));
        buf.extend_from_slice(secret);
        buf.extend_from_slice(&target.0);
        let h = Sha1Hash::digest(&buf);
        let mut out = [0u8; TOKEN_LEN];
        out.copy_from_slice(&h.0[..TOKEN_LEN]);
        out
    }

    /// The token for a requester at `ip` asking about `target`.
    pub fn generate(&self, ip: &IpAddr, target: &Sha1Hash) -> Vec<u8> {
        Self::make(&self.current, ip, target).to_vec()
    }

    /// Whether `token` was issued to `ip` for `target` within the last two
    /// rotation periods.
    pub fn verify(&self, token: &[u8], ip: &IpAddr, target: &Sha1Hash) -> bool {
        token.len() == TOKEN_LEN
            && (token == Self::make(&self.current, ip, target)
                || token == Self::make(&self.previous, ip, target))
    }

    /// Rotates the secret when [`TOKEN_ROTATION`] has passed.
    pub fn tick(&mut self, rng: &mut Rng, now: Instant) {
        if now.saturating_duration_since(self.rotated) >= TOKEN_ROTATION {
            self.previous = self.current;
            rng.fill(&mut self.current);
            self.rotated = now;
        }
    }
}

#[derive(Clone, Debug)]
struct PeerEntry {
    added: Instant,
    seed: bool,
}

#[derive(Clone, Debug, Default)]
struct Torrent {
    peers: HashMap<SocketAddr, PeerEntry>,
}

/// Peers announced to us, per info-hash.
#[derive(Clone, Debug)]
pub struct PeerStore {
    torrents: HashMap<Sha1Hash, Torrent>,
    /// `dht_max_torrents`.
    pub max_torrents: usize,
    /// `dht_max_peers`: peers kept per info-hash.
    pub max_peers: usize,
    sample: Vec<Sha1Hash>,
    sample_at: Option<Instant>,
}

impl PeerStore {
    pub fn new(max_torrents: usize, max_peers: usize) -> Self {
        PeerStore {
            torrents: HashMap::new(),
            max_torrents,
            max_peers,
            sample: Vec::new(),
            sample_at: None,
        }
    }

    pub fn num_torrents(&self) -> usize {
        self.torrents.len()
    }

    pub fn num_peers(&self) -> usize {
        self.torrents.values().map(|t| t.peers.len()).sum()
    }

    /// Stores a peer; returns false when it could not be stored (limits of
    /// zero).
    pub fn announce(
        &mut self,
        ih: Sha1Hash,
        peer: SocketAddr,
        seed: bool,
        rng: &mut Rng,
        now: Instant,
    ) -> bool {
        if self.max_torrents == 0 || self.max_peers == 0 {
            return false;
        }
        if !self.torrents.contains_key(&ih) && self.torrents.len() >= self.max_torrents {
            // Make room by dropping the torrent with the fewest peers.
            if let Some(victim) = self
                .torrents
                .iter()
                .min_by_key(|(h, t)| (t.peers.len(), **h))
                .map(|(h, _)| *h)
            {
                self.torrents.remove(&victim);
            }
        }
        let max_peers = self.max_peers;
        let t = self.torrents.entry(ih).or_default();
        if !t.peers.contains_key(&peer) && t.peers.len() >= max_peers {
            // Replace a random peer so that newcomers still get in.
            let mut keys: Vec<SocketAddr> = t.peers.keys().copied().collect();
            keys.sort_unstable();
            let i = rng.below(keys.len());
            if let Some(k) = keys.get(i).copied() {
                t.peers.remove(&k);
            }
        }
        t.peers.insert(peer, PeerEntry { added: now, seed });
        true
    }

    /// Up to `max` peers for `ih` (a random subset when there are more),
    /// leaving out seeds when `noseed` is set.
    pub fn get(&self, ih: &Sha1Hash, noseed: bool, max: usize, rng: &mut Rng) -> Vec<SocketAddr> {
        let Some(t) = self.torrents.get(ih) else {
            return Vec::new();
        };
        let mut all: Vec<SocketAddr> = t
            .peers
            .iter()
            .filter(|(_, p)| !(noseed && p.seed))
            .map(|(a, _)| *a)
            .collect();
        all.sort();
        if all.len() > max {
            // partial Fisher-Yates
            for i in 0..max {
                let j = i + rng.below(all.len() - i);
                all.swap(i, j);
            }
            all.truncate(max);
        }
        all
    }

    /// Drops expired peers and empty torrents.
    pub fn expire(&mut self, now: Instant) {
        for t in self.torrents.values_mut() {
            t.peers
                .retain(|_, p| now.saturating_duration_since(p.added) < PEER_LIFETIME);
        }
        self.torrents.retain(|_, t| !t.peers.is_empty());
    }

    /// BEP 51: up to `max` stored info-hashes, re-drawn every `interval`.
    pub fn sample(
        &mut self,
        max: usize,
        interval: Duration,
        rng: &mut Rng,
        now: Instant,
    ) -> Vec<Sha1Hash> {
        let fresh = self
            .sample_at
            .is_some_and(|t| now.saturating_duration_since(t) < interval);
        if !fresh || self.sample.iter().any(|h| !self.torrents.contains_key(h)) {
            let mut all: Vec<Sha1Hash> = self.torrents.keys().copied().collect();
            all.sort();
            let n = all.len().min(max);
            for i in 0..n {
                let j = i + rng.below(all.len() - i);
                all.swap(i, j);
            }
            all.truncate(n);
            self.sample = all;
            self.sample_at = Some(now);
        }
        self.sample.clone()
    }
}

/// A stored immutable item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredImmutable {
    pub value: Vec<u8>,
    pub last_put: Instant,
}

/// A stored mutable item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMutable {
    pub value: Vec<u8>,
    pub key: [u8; 32],
    pub sig: [u8; 64],
    pub seq: i64,
    pub salt: Vec<u8>,
    pub last_put: Instant,
}

/// Why a mutable put was refused: a KRPC error code and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutRefused {
    pub code: i64,
    pub message: &'static str,
}

/// BEP 44 items, at most `max_items` of both kinds together.
#[derive(Clone, Debug)]
pub struct ItemStore {
    immutable: HashMap<Sha1Hash, StoredImmutable>,
    mutable: HashMap<Sha1Hash, StoredMutable>,
    /// `dht_max_dht_items`.
    pub max_items: usize,
    /// `dht_item_lifetime` (zero: items never expire).
    pub lifetime: Duration,
}

impl ItemStore {
    pub fn new(max_items: usize, lifetime: Duration) -> Self {
        ItemStore {
            immutable: HashMap::new(),
            mutable: HashMap::new(),
            max_items,
            lifetime,
        }
    }

    pub fn num_immutable(&self) -> usize {
        self.immutable.len()
    }

    pub fn num_mutable(&self) -> usize {
        self.mutable.len()
    }

    pub fn get_immutable(&self, target: &Sha1Hash) -> Option<&StoredImmutable> {
        self.immutable.get(target)
    }

    pub fn get_mutable(&self, target: &Sha1Hash) -> Option<&StoredMutable> {
        self.mutable.get(target)
    }

    /// Makes room for one new item by dropping the least recently put one.
    fn make_room(&mut self) -> bool {
        if self.max_items == 0 {
            return false;
        }
        while self.immutable.len() + self.mutable.len() >= self.max_items {
            let oldest_i = self
                .immutable
                .iter()
                .min_by_key(|(h, i)| (i.last_put, **h))
                .map(|(h, i)| (i.last_put, *h));
            let oldest_m = self
                .mutable
                .iter()
                .min_by_key(|(h, i)| (i.last_put, **h))
                .map(|(h, i)| (i.last_put, *h));
            match (oldest_i, oldest_m) {
                (Some(a), Some(b)) if b < a => {
                    self.mutable.remove(&b.1);
                }
                (Some(a), _) => {
                    self.immutable.remove(&a.1);
                }
                (None, Some(b)) => {
                    self.mutable.remove(&b.1);
                }
                (None, None) => return false,
            }
        }
        true
    }

    /// Stores an immutable item (the caller checked `target` = SHA-1 of
    /// `value`).
    pub fn put_immutable(&mut self, target: Sha1Hash, value: &[u8], now: Instant) -> bool {
        if let Some(i) = self.immutable.get_mut(&target) {
            i.last_put = now;
            return true;
        }
        if !self.make_room() {
            return false;
        }
        self.immutable.insert(
            target,
            StoredImmutable {
                value: value.to_vec(),
                last_put: now,
            },
        );
        true
    }

    /// Stores a mutable item whose signature the caller verified, applying
    /// the sequence-number and compare-and-swap rules of BEP 44.
    pub fn put_mutable(
        &mut self,
        target: Sha1Hash,
        item: StoredMutable,
        cas: Option<i64>,
    ) -> Result<(), PutRefused> {
        if let Some(old) = self.mutable.get_mut(&target) {
            if let Some(cas) = cas {
                if cas != old.seq {
                    return Err(PutRefused {
                        code: 301,
                        message: "CAS mismatch",
                    });
                }
            }
            if item.seq < old.seq {
                return Err(PutRefused {
                    code: 302,
                    message: "old sequence number",
                });
            }
            if item.seq == old.seq && item.value != old.value {
                return Err(PutRefused {
                    code: 302,
                    message: "old sequence number",
                });
            }
            *old = item;
            return Ok(());
        }
        if !self.make_room() {
            return Err(PutRefused {
                code: 202,
                message: "item storage full",
            });
        }
        self.mutable.insert(target, item);
        Ok(())
    }

    /// Drops items older than the lifetime (when one is set).
    pub fn expire(&mut self, now: Instant) {
        if self.lifetime.is_zero() {
            return;
        }
        let life = self.lifetime;
        self.immutable
            .retain(|_, i| now.saturating_duration_since(i.last_put) < life);
        self.mutable
            .retain(|_, i| now.saturating_duration_since(i.last_put) < life);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn tokens_rotate_and_expire() {
        let mut rng = Rng::new([5; 32]);
        let t0 = Instant::now();
        let mut tokens = Tokens::new(&mut rng, t0);
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
        let ih = Sha1Hash([1; 20]);
        let tok = tokens.generate(&ip, &ih);
        assert_eq!(tok.len(), TOKEN_LEN);
        assert!(tokens.verify(&tok, &ip, &ih));
        assert!(!tokens.verify(&tok, &other, &ih));
        assert!(!tokens.verify(&tok, &ip, &Sha1Hash([2; 20])));
        assert!(!tokens.verify(b"", &ip, &ih));
        tokens.tick(&mut rng, t0 + TOKEN_ROTATION);
        assert!(tokens.verify(&tok, &ip, &ih), "valid for one more period");
        tokens.tick(&mut rng, t0 + TOKEN_ROTATION * 2);
        assert!(
            !tokens.verify(&tok, &ip, &ih),
            "expired after two rotations"
        );
    }

    #[test]
    fn peer_limits_and_expiry() {
        let mut rng = Rng::new([6; 32]);
        let now = Instant::now();
        let mut s = PeerStore::new(2, 3);
        let p = |i: u8| SocketAddr::from(([127, 0, 0, i], 1000 + i as u16));
        let a = Sha1Hash([1; 20]);
        let b = Sha1Hash([2; 20]);
        let c = Sha1Hash([3; 20]);
        for i in 0..5 {
            assert!(s.announce(a, p(i), i == 0, &mut rng, now));
        }
        assert_eq!(s.get(&a, false, 100, &mut rng).len(), 3);
        s.announce(b, p(9), false, &mut rng, now);
        // a third torrent evicts the one with the fewest peers (b)
        s.announce(c, p(8), false, &mut rng, now);
        assert_eq!(s.num_torrents(), 2);
        assert!(s.get(&b, false, 100, &mut rng).is_empty());
        assert_eq!(s.get(&a, false, 2, &mut rng).len(), 2);
        // seeds are left out with noseed
        let mut t = PeerStore::new(10, 10);
        t.announce(a, p(1), true, &mut rng, now);
        t.announce(a, p(2), false, &mut rng, now);
        assert_eq!(t.get(&a, true, 10, &mut rng), vec![p(2)]);
        t.expire(now + PEER_LIFETIME);
        assert_eq!(t.num_torrents(), 0);
        let mut z = PeerStore::new(0, 10);
        assert!(!z.announce(a, p(1), false, &mut rng, now));
    }

    #[test]
    fn sample_is_bounded_and_cached() {
        let mut rng = Rng::new([6; 32]);
        let now = Instant::now();
        let mut s = PeerStore::new(100, 10);
        for i in 0..30u8 {
            s.announce(
                Sha1Hash([i; 20]),
                SocketAddr::from(([127, 0, 0, 1], 1)),
                false,
                &mut rng,
                now,
            );
        }
        let iv = Duration::from_secs(60);
        let a = s.sample(20, iv, &mut rng, now);
        assert_eq!(a.len(), 20);
        let mut uniq = a.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 20);
        assert_eq!(s.sample(20, iv, &mut rng, now + Duration::from_secs(1)), a);
    }

    #[test]
    fn mutable_put_rules() {
        let now = Instant::now();
        let mut s = ItemStore::new(2, Duration::ZERO);
        let t = Sha1Hash([7; 20]);
        let item = |seq: i64, v: &[u8]| StoredMutable {
            value: v.to_vec(),
            key: [1; 32],
            sig: [2; 64],
            seq,
            salt: Vec::new(),
            last_put: now,
        };
        assert!(s.put_mutable(t, item(5, b"1:a"), None).is_ok());
        assert_eq!(
            s.put_mutable(t, item(4, b"1:b"), None).map_err(|e| e.code),
            Err(302)
        );
        assert_eq!(
            s.put_mutable(t, item(5, b"1:b"), None).map_err(|e| e.code),
            Err(302)
        );
        assert!(s.put_mutable(t, item(5, b"1:a"), None).is_ok());
        assert_eq!(
            s.put_mutable(t, item(6, b"1:b"), Some(4))
                .map_err(|e| e.code),
            Err(301)
        );
        assert!(s.put_mutable(t, item(6, b"1:b"), Some(5)).is_ok());
        assert_eq!(s.get_mutable(&t).map(|i| i.seq), Some(6));
        // the limit counts both kinds; the oldest goes first
        assert!(s.put_immutable(Sha1Hash([1; 20]), b"1:x", now + Duration::from_secs(1)));
        assert!(s.put_immutable(Sha1Hash([2; 20]), b"1:y", now + Duration::from_secs(2)));
        assert_eq!(s.num_mutable(), 0);
        assert_eq!(s.num_immutable(), 2);
        let mut life = ItemStore::new(10, Duration::from_secs(10));
        life.put_immutable(Sha1Hash([1; 20]), b"1:x", now);
        life.expire(now + Duration::from_secs(10));
        assert_eq!(life.num_immutable(), 0);
    }
}
