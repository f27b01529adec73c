//! The choker: which interested peers we upload to.
//!
//! Every `unchoke_interval` the caller runs a round with a snapshot of every
//! connected peer ([`ChokePeer`]) and gets back who to choke and unchoke
//! ([`ChokeRound`]). The choker remembers, per peer, when it was unchoked and
//! how much it had been sent then, and which peers hold the optimistic slots.
//!
//! Ranking (best first), shared by downloading and seeding torrents:
//!
//! 1. tit-for-tat: peers that send us data fastest (`download_rate`); peers
//!    of torrents we seed send us nothing and tie at zero;
//! 2. peers of torrents we download before peers of torrents we seed;
//! 3. for peers of downloading torrents, those we upload to fastest; for
//!    peers of seeding torrents, the seeding algorithm
//!    ([`SeedChokingAlgorithm`]):
//!    * *round robin*: peers that are unchoked and have not yet received
//!      `seeding_piece_quota` pieces' worth since their unchoke keep their
//!      slot; then peers that were choked longest ago; peers that used up
//!      their quota come last, so the slots rotate over everyone;
//!    * *fastest upload*: peers we upload to fastest first;
//!    * *anti-leech*: peers that have just started or are about to finish
//!      first (score grows with the distance of their progress from 50%,
//!      progress being the larger of what they announce and what we sent
//!      them), ties broken round-robin;
//! 4. peers already unchoked (stability), then a seeded random order.
//!
//! The number of regular slots is `unchoke_slots_limit` (fixed-slots mode;
//! negative = unlimited) or, in rate-based mode, the number of peers whose
//! upload rate passes a threshold that starts at
//! `rate_choker_initial_threshold` and grows by that much per slot, plus one.
//! Optimistic slots (`num_optimistic_unchoke_slots`, 0 = 20% of the slots,
//! at least one) are taken out of that total and rotate every
//! `optimistic_unchoke_interval` to the interested choked peers that waited
//! longest for one.

use std::collections::{HashMap, HashSet};

use crate::piece_picker::PeerKey;
use crate::rng::Rng;

/// Slot-count strategy (`choking_algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChokingAlgorithm {
    /// A fixed number of slots, `unchoke_slots_limit` (setting value 0).
    FixedSlots,
    /// Slots opened by upload rate (setting value 2, also `auto_expand_choker`).
    RateBased,
}

impl ChokingAlgorithm {
    /// From the integer setting; unknown values (including the removed
    /// bittyrant choker, 3) give `None`.
    pub fn from_setting(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::FixedSlots),
            2 => Some(Self::RateBased),
            _ => None,
        }
    }
}

/// Ordering used among peers of torrents we seed (`seed_choking_algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedChokingAlgorithm {
    /// Rotate slots over all interested peers (setting value 0).
    RoundRobin,
    /// Unchoke the peers we upload to fastest (1).
    FastestUpload,
    /// Prefer peers that just started or are about to finish (2).
    AntiLeech,
}

impl SeedChokingAlgorithm {
    /// From the integer setting; unknown values give `None`.
    pub fn from_setting(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::RoundRobin),
            1 => Some(Self::FastestUpload),
            2 => Some(Self::AntiLeech),
            _ => None,
        }
    }
}

/// Choker settings; defaults follow libtorrent's.
#[derive(Clone, Debug, PartialEq)]
pub struct ChokerConfig {
    /// Total unchoke slots including optimistic ones; negative = unlimited (8).
    pub unchoke_slots_limit: i32,
    /// Fixed or rate-based slot count.
    pub choking_algorithm: ChokingAlgorithm,
    /// Ordering among peers of seeding torrents.
    pub seed_choking_algorithm: SeedChokingAlgorithm,
    /// Optimistic slots; 0 = automatic, 20% of the slots (at least 1).
    pub num_optimistic_unchoke_slots: u32,
    /// Milliseconds between optimistic rotations (30 s).
    pub optimistic_unchoke_interval_ms: u64,
    /// Milliseconds between rounds (15 s).
    pub unchoke_interval_ms: u64,
    /// Start (and step) of the rate-based threshold, bytes/s (1024).
    pub rate_choker_initial_threshold: u64,
    /// Round robin: pieces a peer may receive per unchoke before it yields
    /// its slot (20).
    pub seeding_piece_quota: u32,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        Self {
            unchoke_slots_limit: 8,
            choking_algorithm: ChokingAlgorithm::FixedSlots,
            seed_choking_algorithm: SeedChokingAlgorithm::RoundRobin,
            num_optimistic_unchoke_slots: 0,
            optimistic_unchoke_interval_ms: 30_000,
            unchoke_interval_ms: 15_000,
            rate_choker_initial_threshold: 1024,
            seeding_piece_quota: 20,
        }
    }
}

/// Snapshot of one connected peer for a choke round.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ChokePeer {
    /// The caller's handle of the connection.
    pub key: PeerKey,
    /// The peer is interested in our pieces.
    pub interested: bool,
    /// The peer's torrent is one we seed: it is ranked by the seeding
    /// algorithm instead of our upload rate to it.
    pub seeding: bool,
    /// Bytes/s the peer sends us.
    pub download_rate: u64,
    /// Bytes/s we send the peer.
    pub upload_rate: u64,
    /// Bytes we have sent the peer so far (cumulative).
    pub total_uploaded: u64,
    /// Pieces the peer announces.
    pub num_have: u32,
    /// Pieces in the peer's torrent.
    pub num_pieces: u32,
    /// Piece length of the peer's torrent.
    pub piece_length: u32,
}

/// Decisions of one round.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChokeRound {
    /// Peers to send UNCHOKE to (were choked).
    pub unchoke: Vec<PeerKey>,
    /// Peers to send CHOKE to (were unchoked).
    pub choke: Vec<PeerKey>,
    /// Every peer unchoked after this round.
    pub unchoked: Vec<PeerKey>,
    /// The peers holding optimistic slots after this round.
    pub optimistic: Vec<PeerKey>,
    /// Regular (non-optimistic) slots this round; `u32::MAX` = unlimited.
    pub regular_slots: u32,
}

#[derive(Clone, Debug, Default)]
struct PeerState {
    unchoked: bool,
    optimistic: bool,
    /// When it was last unchoked or choked (whichever happened last).
    changed_at: u64,
    uploaded_at_unchoke: u64,
    last_optimistic: Option<u64>,
}

/// Session-wide choker. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Choker {
    cfg: ChokerConfig,
    state: HashMap<PeerKey, PeerState>,
    last_round: Option<u64>,
    last_rotation: Option<u64>,
    rng: Rng,
}

impl Choker {
    /// A choker with no peers; `seed` drives tie-breaking.
    pub fn new(cfg: ChokerConfig, seed: u64) -> Self {
        Self {
            cfg,
            state: HashMap::new(),
            last_round: None,
            last_rotation: None,
            rng: Rng::new(seed),
        }
    }

    /// Current settings.
    pub fn config(&self) -> &ChokerConfig {
        &self.cfg
    }

    /// Replaces the settings (takes effect next round).
    pub fn set_config(&mut self, cfg: ChokerConfig) {
        self.cfg = cfg;
    }

    /// True when `unchoke_interval` has passed since the last round (or no
    /// round ran yet).
    pub fn is_round_due(&self, now: u64) -> bool {
        self.last_round
            .is_none_or(|t| now.saturating_sub(t) >= self.cfg.unchoke_interval_ms)
    }

    /// Whether the choker currently has `peer` unchoked.
    pub fn is_unchoked(&self, peer: PeerKey) -> bool {
        self.state.get(&peer).is_some_and(|s| s.unchoked)
    }

    /// Forgets a disconnected peer (also done implicitly for peers missing
    /// from a round's snapshot).
    pub fn remove_peer(&mut self, peer: PeerKey) {
        self.state.remove(&peer);
    }

    fn total_slots(&self, peers: &[ChokePeer]) -> Option<u32> {
        match self.cfg.choking_algorithm {
            ChokingAlgorithm::FixedSlots => u32::try_from(self.cfg.unchoke_slots_limit).ok(),
            ChokingAlgorithm::RateBased => {
                let mut rates: Vec<u64> = peers
                    .iter()
                    .filter(|p| p.interested)
                    .map(|p| p.upload_rate)
                    .collect();
                rates.sort_unstable_by(|a, b| b.cmp(a));
                let step = self.cfg.rate_choker_initial_threshold.max(1);
                let mut threshold = step;
                let mut slots = 0u32;
                for r in rates {
                    if r < threshold {
                        break;
                    }
                    slots += 1;
                    threshold = threshold.saturating_add(step);
                }
                Some(slots + 1)
            }
        }
    }

    /// Runs one round at `now` over a snapshot of all connected peers.
    pub fn run(&mut self, now: u64, peers: &[ChokePeer]) -> ChokeRound {
        self.last_round = Some(now);
        // forget peers that are gone
        let present: HashSet<PeerKey> = peers.iter().map(|p| p.key).collect();
        self.state.retain(|k, _| present.contains(k));
        for p in peers {
            self.state.entry(p.key).or_default();
        }
        let total = self.total_slots(peers);
        let (regular, optimistic_slots) = match total {
            None => (u32::MAX, 0),
            Some(0) => (0, 0),
            Some(t) => {
                let opt = if self.cfg.num_optimistic_unchoke_slots == 0 {
                    (t / 5).max(1)
                } else {
                    self.cfg.num_optimistic_unchoke_slots
                };
                let opt = opt.min(t.saturating_sub(1));
                (t - opt, opt)
            }
        };

        // rank interested peers
        let mut cands: Vec<(&ChokePeer, u64)> = peers
            .iter()
            .filter(|p| p.interested)
            .map(|p| (p, self.rng.next_u64()))
            .collect();
        let quota_bytes = u64::from(self.cfg.seeding_piece_quota);
        let algo = self.cfg.seed_choking_algorithm;
        let state = &self.state;
        let rr_key = |p: &ChokePeer| -> (u8, u64) {
            // smaller is better
            let s = state.get(&p.key).cloned().unwrap_or_default();
            if s.unchoked {
                let sent = p.total_uploaded.saturating_sub(s.uploaded_at_unchoke);
                if sent < quota_bytes * u64::from(p.piece_length.max(1)) {
                    (0, 0)
                } else {
                    (2, s.changed_at)
                }
            } else {
                (1, s.changed_at)
            }
        };
        let anti_leech = |p: &ChokePeer| -> u64 {
            let n = u64::from(p.num_pieces.max(1));
            let sent_pieces = p.total_uploaded / u64::from(p.piece_length.max(1));
            let have = u64::from(p.num_have).max(sent_pieces).min(n);
            let permille = have * 1000 / n;
            permille.abs_diff(500)
        };
        cands.sort_by(|(a, ra), (b, rb)| {
            b.download_rate
                .cmp(&a.download_rate)
                .then_with(|| a.seeding.cmp(&b.seeding))
                .then_with(|| match (a.seeding, algo) {
                    (false, _) | (true, SeedChokingAlgorithm::FastestUpload) => {
                        b.upload_rate.cmp(&a.upload_rate)
                    }
                    (true, SeedChokingAlgorithm::RoundRobin) => rr_key(a).cmp(&rr_key(b)),
                    (true, SeedChokingAlgorithm::AntiLeech) => anti_leech(b)
                        .cmp(&anti_leech(a))
                        .then_with(|| rr_key(a).cmp(&rr_key(b))),
                })
                .then_with(|| {
                    let ua = state.get(&a.key).is_some_and(|s| s.unchoked);
                    let ub = state.get(&b.key).is_some_and(|s| s.unchoked);
                    ub.cmp(&ua)
                })
                .then_with(|| ra.cmp(rb))
        });

        let mut new_unchoked: Vec<PeerKey> = cands
            .iter()
            .take(regular as usize)
            .map(|(p, _)| p.key)
            .collect();

        // optimistic slots
        let rest: Vec<PeerKey> = cands
            .iter()
            .skip(regular as usize)
            .map(|(p, _)| p.key)
            .collect();
        let rotate = self
            .last_rotation
            .is_none_or(|t| now.saturating_sub(t) >= self.cfg.optimistic_unchoke_interval_ms);
        let mut optimistic: Vec<PeerKey> = Vec::new();
        if optimistic_slots > 0 && !rest.is_empty() {
            if !rotate {
                for k in &rest {
                    if optimistic.len() < optimistic_slots as usize
                        && self.state.get(k).is_some_and(|s| s.optimistic)
                    {
                        optimistic.push(*k);
                    }
                }
            } else {
                self.last_rotation = Some(now);
            }
            if optimistic.len() < optimistic_slots as usize {
                let mut pool: Vec<(Option<u64>, u64, PeerKey)> = rest
                    .iter()
                    .filter(|k| !optimistic.contains(k))
                    .map(|k| {
                        let s = self.state.get(k);
                        // on rotation, the current holders go to the back
                        let last = s.and_then(|s| s.last_optimistic);
                        (last, self.rng.next_u64(), *k)
                    })
                    .collect();
                // never-optimistic first (None < Some), then oldest
                pool.sort();
                for (_, _, k) in pool {
                    if optimistic.len() >= optimistic_slots as usize {
                        break;
                    }
                    optimistic.push(k);
                }
            }
        }
        for k in &optimistic {
            if let Some(s) = self.state.get_mut(k) {
                if !s.optimistic || rotate {
                    s.last_optimistic = Some(now);
                }
            }
        }
        new_unchoked.extend_from_slice(&optimistic);

        let mut round = ChokeRound {
            regular_slots: regular,
            ..ChokeRound::default()
        };
        let unchoke_set: HashSet<PeerKey> = new_unchoked.iter().copied().collect();
        for p in peers {
            let want = unchoke_set.contains(&p.key);
            let is_opt = optimistic.contains(&p.key);
            let Some(s) = self.state.get_mut(&p.key) else {
                continue;
            };
            if want && !s.unchoked {
                s.unchoked = true;
                s.changed_at = now;
                s.uploaded_at_unchoke = p.total_uploaded;
                round.unchoke.push(p.key);
            } else if !want && s.unchoked {
                s.unchoked = false;
                s.changed_at = now;
                round.choke.push(p.key);
            }
            s.optimistic = is_opt;
            if want {
                round.unchoked.push(p.key);
            }
        }
        round.optimistic = optimistic;
        round
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(k: u32) -> ChokePeer {
        ChokePeer {
            key: PeerKey(k),
            interested: true,
            num_pieces: 100,
            piece_length: 16384,
            ..ChokePeer::default()
        }
    }

    fn cfg(slots: i32, opt: u32) -> ChokerConfig {
        ChokerConfig {
            unchoke_slots_limit: slots,
            num_optimistic_unchoke_slots: opt,
            ..ChokerConfig::default()
        }
    }

    #[test]
    fn tit_for_tat_plus_optimistic() {
        let mut c = Choker::new(cfg(4, 1), 1);
        let mut peers: Vec<ChokePeer> = (0..10).map(peer).collect();
        for (i, p) in peers.iter_mut().enumerate() {
            p.download_rate = (i as u64) * 1000;
        }
        peers[9].interested = false;
        let r = c.run(0, &peers);
        assert_eq!(r.regular_slots, 3);
        let mut regular: Vec<u32> = r
            .unchoked
            .iter()
            .filter(|k| !r.optimistic.contains(k))
            .map(|k| k.0)
            .collect();
        regular.sort_unstable();
        assert_eq!(regular, vec![6, 7, 8]);
        assert_eq!(r.optimistic.len(), 1);
        assert!(r.optimistic[0].0 < 6);
        assert_eq!(r.unchoke.len(), 4);
        assert!(r.choke.is_empty());
        assert!(!c.is_unchoked(PeerKey(9)));
        // next round, peer 2 becomes the best uploader: 8 loses its slot
        peers[2].download_rate = 50_000;
        let opt_before = r.optimistic[0];
        let r2 = c.run(15_000, &peers);
        assert!(r2.unchoked.contains(&PeerKey(2)));
        assert!(r2.unchoked.contains(&opt_before) || opt_before == PeerKey(2));
        assert!(!r2.unchoked.contains(&PeerKey(6)) || r2.optimistic.contains(&PeerKey(6)));
        assert_eq!(r2.unchoked.len(), 4);
    }

    #[test]
    fn optimistic_rotation_visits_everyone() {
        let mut c = Choker::new(cfg(2, 1), 3);
        let peers: Vec<ChokePeer> = (0..6)
            .map(|k| {
                let mut p = peer(k);
                p.download_rate = if k == 0 { 10_000 } else { 0 };
                p
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut t = 0;
        for _ in 0..5 {
            let r = c.run(t, &peers);
            assert_eq!(r.optimistic.len(), 1);
            assert!(r.unchoked.contains(&PeerKey(0)));
            seen.insert(r.optimistic[0]);
            // between rotations the optimistic peer is kept
            let r_mid = c.run(t + 15_000, &peers);
            assert_eq!(r_mid.optimistic, r.optimistic);
            t += 30_000;
        }
        // 5 rotations over 5 choked-otherwise peers: each got a turn
        assert_eq!(seen.len(), 5);
        assert!(!seen.contains(&PeerKey(0)));
    }

    #[test]
    fn unlimited_and_zero_slots() {
        let peers: Vec<ChokePeer> = (0..5).map(peer).collect();
        let mut c = Choker::new(cfg(-1, 0), 0);
        let r = c.run(0, &peers);
        assert_eq!(r.unchoked.len(), 5);
        assert!(r.optimistic.is_empty());
        let mut c = Choker::new(cfg(0, 0), 0);
        assert!(c.is_round_due(0));
        assert!(c.run(0, &peers).unchoked.is_empty());
        assert!(!c.is_round_due(0));
        assert!(!c.is_round_due(14_999));
        assert!(c.is_round_due(15_000));
    }

    #[test]
    fn rate_based_slots_grow_with_upload_rate() {
        let mut conf = cfg(8, 1);
        conf.choking_algorithm = ChokingAlgorithm::RateBased;
        let mut c = Choker::new(conf, 0);
        let mut peers: Vec<ChokePeer> = (0..20).map(peer).collect();
        // rates 10k, 9k, ... : thresholds 1k, 2k, 3k, ... pass while
        // rate >= k * 1024
        for (i, p) in peers.iter_mut().enumerate() {
            p.upload_rate = 10_000u64.saturating_sub(i as u64 * 1000);
        }
        let r = c.run(0, &peers);
        // passes: 10000>=1024, 9000>=2048, 8000>=3072, 7000>=4096,
        // 6000>=5120, 5000<6144 -> 5 slots, +1 = 6 total, 1 optimistic
        assert_eq!(r.regular_slots, 5);
        assert_eq!(r.unchoked.len(), 6);
        for p in &mut peers {
            p.upload_rate = 0;
        }
        let r = c.run(15_000, &peers);
        assert_eq!(r.unchoked.len(), 1);
        assert!(ChokingAlgorithm::from_setting(3).is_none());
        assert_eq!(
            SeedChokingAlgorithm::from_setting(2),
            Some(SeedChokingAlgorithm::AntiLeech)
        );
    }

    #[test]
    fn seeding_fastest_upload() {
        let mut conf = cfg(3, 0);
        conf.num_optimistic_unchoke_slots = 1;
        conf.seed_choking_algorithm = SeedChokingAlgorithm::FastestUpload;
        let mut c = Choker::new(conf, 0);
        let peers: Vec<ChokePeer> = (0..6)
            .map(|k| {
                let mut p = peer(k);
                p.seeding = true;
                p.upload_rate = u64::from(k) * 100;
                p
            })
            .collect();
        let r = c.run(0, &peers);
        let regular: Vec<PeerKey> = r
            .unchoked
            .iter()
            .copied()
            .filter(|k| !r.optimistic.contains(k))
            .collect();
        assert_eq!(regular.len(), 2);
        assert!(regular.contains(&PeerKey(5)) && regular.contains(&PeerKey(4)));
    }

    #[test]
    fn seeding_round_robin_rotates_after_quota() {
        // a single slot: no room for an optimistic one
        let mut conf = cfg(1, 0);
        conf.seeding_piece_quota = 1;
        let mut c = Choker::new(conf, 0);
        let mut peers: Vec<ChokePeer> = (0..4)
            .map(|k| {
                let mut p = peer(k);
                p.seeding = true;
                p
            })
            .collect();
        let mut regular_seen = std::collections::HashSet::new();
        let mut t = 0;
        for _ in 0..4 {
            let r = c.run(t, &peers);
            assert!(r.optimistic.is_empty());
            assert_eq!(r.unchoked.len(), 1);
            regular_seen.insert(r.unchoked[0]);
            // everyone unchoked receives more than the quota
            for p in &mut peers {
                if c.is_unchoked(p.key) {
                    p.total_uploaded += 2 * 16384;
                }
            }
            t += 15_000;
        }
        assert_eq!(regular_seen.len(), 4, "{regular_seen:?}");
    }

    #[test]
    fn seeding_round_robin_keeps_peer_under_quota() {
        let mut conf = cfg(2, 0);
        conf.num_optimistic_unchoke_slots = 1;
        let mut c = Choker::new(conf, 0);
        let peers: Vec<ChokePeer> = (0..4)
            .map(|k| ChokePeer {
                seeding: true,
                ..peer(k)
            })
            .collect();
        let r = c.run(0, &peers);
        let regular: Vec<PeerKey> = r
            .unchoked
            .iter()
            .copied()
            .filter(|k| !r.optimistic.contains(k))
            .collect();
        // no bytes sent: under the quota, it keeps its slot
        let r2 = c.run(15_000, &peers);
        assert!(r2.unchoked.contains(&regular[0]));
        assert!(!r2.choke.contains(&regular[0]));
    }

    #[test]
    fn seeding_anti_leech_prefers_extremes() {
        let mut conf = cfg(3, 0);
        conf.num_optimistic_unchoke_slots = 1;
        conf.seed_choking_algorithm = SeedChokingAlgorithm::AntiLeech;
        let mut c = Choker::new(conf, 0);
        let haves = [50u32, 0, 98, 45, 60];
        let peers: Vec<ChokePeer> = haves
            .iter()
            .enumerate()
            .map(|(k, &h)| {
                let mut p = peer(k as u32);
                p.seeding = true;
                p.num_have = h;
                p
            })
            .collect();
        let r = c.run(0, &peers);
        let mut regular: Vec<u32> = r
            .unchoked
            .iter()
            .filter(|k| !r.optimistic.contains(k))
            .map(|k| k.0)
            .collect();
        regular.sort_unstable();
        assert_eq!(regular, vec![1, 2]);
        // a peer claiming 0 pieces but already sent 60% counts as 60%
        let mut peers2 = peers.clone();
        peers2[1].total_uploaded = 60 * 16384;
        let mut c2 = Choker::new(c.config().clone(), 0);
        let r = c2.run(0, &peers2);
        let regular: Vec<u32> = r
            .unchoked
            .iter()
            .filter(|k| !r.optimistic.contains(k))
            .map(|k| k.0)
            .collect();
        assert!(!regular.contains(&1));
        assert!(regular.contains(&2));
    }

    #[test]
    fn downloading_torrents_rank_before_seeding_ones() {
        // 2 slots: 1 regular + 1 optimistic
        let mut c = Choker::new(cfg(2, 1), 0);
        let mut seeding = peer(0);
        seeding.seeding = true;
        seeding.upload_rate = 1_000_000;
        let mut slow = peer(1);
        slow.upload_rate = 10;
        let mut fast = peer(2);
        fast.upload_rate = 500;
        let r = c.run(0, &[seeding.clone(), slow.clone(), fast.clone()]);
        let regular: Vec<PeerKey> = r
            .unchoked
            .iter()
            .copied()
            .filter(|k| !r.optimistic.contains(k))
            .collect();
        // no one sends us data: downloading-torrent peers first, the one we
        // upload to fastest wins
        assert_eq!(regular, vec![PeerKey(2)]);
        // a seeding-torrent peer that sends us data (tit-for-tat) wins
        let mut c = Choker::new(cfg(2, 1), 0);
        seeding.download_rate = 1;
        let r = c.run(0, &[seeding, slow, fast]);
        assert!(r.unchoked.contains(&PeerKey(0)));
        assert!(!r.optimistic.contains(&PeerKey(0)));
    }

    #[test]
    fn disconnected_peers_forgotten_and_uninterested_choked() {
        let mut c = Choker::new(cfg(4, 1), 0);
        let mut peers: Vec<ChokePeer> = (0..3).map(peer).collect();
        let r = c.run(0, &peers);
        assert_eq!(r.unchoked.len(), 3);
        peers[0].interested = false;
        peers.truncate(2);
        let r = c.run(15_000, &peers);
        assert_eq!(r.choke, vec![PeerKey(0)]);
        assert!(!c.is_unchoked(PeerKey(2)));
        assert_eq!(r.unchoked, vec![PeerKey(1)]);
    }
}
