//! Super seeding (BEP 16), as libtorrent does it.
//!
//! A torrent with `torrent_flags::super_seeding` that is a seed hides its
//! pieces: a new connection is given an empty bitfield (`have_none` with the
//! fast extension, nothing without it), and each peer is then shown at most
//! two pieces at a time with `have` messages, the rarest ones no other peer
//! is being shown. A shown piece is replaced by another one when
//! - the peer itself announces it (default), or, with
//!   `strict_super_seeding`, when *another* peer announces it, i.e. the piece
//!   has spread beyond the peer we gave it to (the peer must have it too).
//!
//! Requests for pieces a peer was never shown are rejected by the peer wire
//! state machine (its `our_pieces` is the set shown to that peer). Turning
//! the flag off (or leaving seed state) shows every remaining piece with
//! `have` messages. A torrent that is not a seed once its files are checked
//! loses the flag, as in the reference.
//!
//! Engine hooks: [`Engine::ss_hide_pieces`] (from `wire_torrent`),
//! [`Engine::ss_connected`], [`Engine::ss_peer_pieces`], [`Engine::ss_have`]
//! (peer events), [`Engine::ss_flags_changed`] (`set_flags`),
//! [`Engine::ss_checked`] (`checked`), [`Engine::ss_peer_gone`]
//! (`disconnect`).

use std::collections::{HashMap, HashSet};

use lt_settings::keys;

use super::{ConnId, Engine};
use crate::torrent::flags;
use crate::types::TorrentId;

/// How many pieces a peer is shown at once.
pub(crate) const SLOTS: usize = 2;

/// The pieces currently shown to each super-seeded connection.
#[derive(Default)]
pub(crate) struct SuperSeedState {
    peers: HashMap<ConnId, [Option<u32>; SLOTS]>,
}

/// Picks the piece to show a peer next: one the peer lacks (and was not
/// shown before), with the fewest peers having it; a piece being shown to
/// another peer counts as very common, so each piece goes to one peer at a
/// time while there are others. Ties are broken by `random(n)` (an index in
/// `0..n`). `None` when the peer has (or was shown) every piece.
pub(crate) fn pick_piece(
    num_pieces: u32,
    unavailable: impl Fn(u32) -> bool,
    availability: impl Fn(u32) -> u32,
    shown_elsewhere: &HashSet<u32>,
    random: impl FnOnce(usize) -> usize,
) -> Option<u32> {
    const SHOWN: u32 = 999;
    let mut best = u32::MAX;
    let mut candidates = Vec::new();
    for i in 0..num_pieces {
        if unavailable(i) {
            continue;
        }
        let a = if shown_elsewhere.contains(&i) {
            SHOWN
        } else {
            availability(i).min(SHOWN - 1)
        };
        if a < best {
            best = a;
            candidates.clear();
        }
        if a == best {
            candidates.push(i);
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let k = random(candidates.len()).min(candidates.len() - 1);
    candidates.get(k).copied()
}

impl SuperSeedState {
    pub(crate) fn is_tracked(&self, id: ConnId) -> bool {
        self.peers.contains_key(&id)
    }

    pub(crate) fn shown(&self, id: ConnId) -> [Option<u32>; SLOTS] {
        self.peers.get(&id).copied().unwrap_or([None; SLOTS])
    }

    pub(crate) fn remove(&mut self, id: ConnId) -> Option<[Option<u32>; SLOTS]> {
        self.peers.remove(&id)
    }

    fn set_slot(&mut self, id: ConnId, old: Option<u32>, new: Option<u32>) {
        let slots = self.peers.entry(id).or_insert([None; SLOTS]);
        if let Some(s) = slots.iter_mut().find(|s| **s == old) {
            *s = new;
        }
    }
}

impl Engine {
    /// Whether torrent `tid` hides its pieces from new connections.
    pub(super) fn super_seeding_active(&self, tid: TorrentId) -> bool {
        self.torrents.get(&tid).is_some_and(|t| {
            t.flags & flags::SUPER_SEEDING != 0 && t.meta.is_valid() && t.is_seed()
        })
    }

    /// `wire_torrent` hook: a super-seeding torrent starts every connection
    /// with no pieces shown.
    pub(super) fn ss_hide_pieces(&self, tid: TorrentId, our: &mut lt_wire::Bitfield) {
        if self.super_seeding_active(tid) {
            *our = lt_wire::Bitfield::new(our.len());
        }
    }

    /// The handshake with `id` completed. A connection started while super
    /// seeding is tracked and shown its first pieces; one that was started
    /// super seeding but whose torrent stopped meanwhile is shown all.
    pub(super) fn ss_connected(&mut self, id: ConnId) {
        let Some((tid, hidden)) = self.peers.get(&id).and_then(|p| {
            let tid = p.torrent?;
            let t = self.torrents.get(&tid)?;
            let hidden = t.is_seed()
                && t.meta.is_valid()
                && p.conn.our_pieces().count() < t.picker.num_pieces();
            Some((tid, hidden))
        }) else {
            return;
        };
        if !hidden {
            return;
        }
        if !self.super_seeding_active(tid) {
            self.ss_show_all(id);
            return;
        }
        self.super_seed.peers.insert(id, [None; SLOTS]);
        for _ in 0..SLOTS {
            self.ss_replace(id, None);
        }
    }

    /// The peer (re)announced all its pieces: pieces shown to it that it
    /// already has are replaced.
    pub(super) fn ss_peer_pieces(&mut self, id: ConnId) {
        if !self.super_seed.is_tracked(id) {
            return;
        }
        for piece in self.super_seed.shown(id) {
            let has = self
                .peers
                .get(&id)
                .is_some_and(|p| piece.is_some_and(|i| p.has.get(i as usize)));
            if has || piece.is_none() {
                self.ss_replace(id, piece);
            }
        }
    }

    /// Peer `from` announced piece `piece`.
    pub(super) fn ss_have(&mut self, from: ConnId, piece: u32) {
        let Some(tid) = self.peers.get(&from).and_then(|p| p.torrent) else {
            return;
        };
        if !self.super_seeding_active(tid) {
            return;
        }
        let shown_to_from = self.super_seed.shown(from).contains(&Some(piece));
        if !self.settings.get_bool(keys::STRICT_SUPER_SEEDING) {
            // The peer got the piece we showed it: show it another one.
            if shown_to_from {
                self.ss_replace(from, Some(piece));
            }
            return;
        }
        // Strict: a piece shown to some peers has spread once another peer
        // announces it; those that downloaded it are shown a new one.
        let single = self.torrents.get(&tid).is_some_and(|t| t.peers.len() == 1);
        if shown_to_from && !single {
            return;
        }
        let conns = self.torrent_conns(tid);
        for c in conns {
            let shown = self.super_seed.shown(c).contains(&Some(piece));
            let has = self
                .peers
                .get(&c)
                .is_some_and(|p| p.has.get(piece as usize));
            if shown && has {
                self.ss_replace(c, Some(piece));
            }
        }
    }

    /// Replaces the shown piece `old` (`None`: an empty slot) of peer `id`
    /// by a newly picked one and sends its `have`.
    fn ss_replace(&mut self, id: ConnId, old: Option<u32>) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let mut shown_elsewhere = HashSet::new();
        for c in &t.peers {
            if *c != id {
                shown_elsewhere.extend(self.super_seed.shown(*c).into_iter().flatten());
            }
        }
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let n = t.picker.num_pieces();
        let rng = &mut self.rng;
        let new = pick_piece(
            n,
            |i| p.has.get(i as usize) || p.conn.our_pieces().get(i),
            |i| t.picker.availability(i),
            &shown_elsewhere,
            |k| rng.below(k),
        );
        self.super_seed.set_slot(id, old, new);
        if let Some(i) = new {
            if let Some(p) = self.peers.get_mut(&id) {
                let _ = p.conn.we_have(i);
            }
            self.flush(id);
        }
    }

    /// Shows peer `id` every piece it was not shown yet and stops tracking it.
    fn ss_show_all(&mut self, id: ConnId) {
        self.super_seed.remove(id);
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let have = t.picker.have_bitfield();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if !p.conn.is_connected() {
            return;
        }
        let n = p.conn.our_pieces().len();
        for i in 0..n {
            if have.get(i as usize) && !p.conn.our_pieces().get(i) {
                let _ = p.conn.we_have(i);
            }
        }
        self.flush(id);
    }

    /// `set_flags` hook, with whether the torrent was super seeding before.
    pub(super) fn ss_flags_changed(&mut self, tid: TorrentId, was_active: bool) {
        if was_active && !self.super_seeding_active(tid) {
            self.ss_stop(tid);
        }
    }

    /// Super seeding stopped for `tid`: every tracked peer is shown all.
    pub(super) fn ss_stop(&mut self, tid: TorrentId) {
        let conns = self.torrent_conns(tid);
        for c in conns {
            if self.super_seed.is_tracked(c) {
                self.ss_show_all(c);
            }
        }
    }

    /// `checked` hook: a torrent that is not a seed drops the flag.
    pub(super) fn ss_checked(&mut self, tid: TorrentId) {
        if let Some(t) = self.torrents.get_mut(&tid) {
            if t.flags & flags::SUPER_SEEDING != 0 && !t.is_seed() {
                t.flags &= !flags::SUPER_SEEDING;
            }
        }
    }

    /// `disconnect` hook.
    pub(super) fn ss_peer_gone(&mut self, id: ConnId) {
        self.super_seed.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u32]) -> HashSet<u32> {
        v.iter().copied().collect()
    }

    #[test]
    fn picks_the_rarest_piece_the_peer_lacks() {
        let avail = [3u32, 1, 2, 1, 0];
        // Piece 4 is had by the peer; 1 and 3 tie at availability 1.
        let got = pick_piece(5, |i| i == 4, |i| avail[i as usize], &set(&[]), |n| n - 1);
        assert_eq!(got, Some(3));
        let got = pick_piece(5, |i| i == 4, |i| avail[i as usize], &set(&[]), |_| 0);
        assert_eq!(got, Some(1));
    }

    #[test]
    fn avoids_pieces_shown_to_other_peers() {
        let got = pick_piece(3, |_| false, |_| 0, &set(&[0, 1]), |_| 0);
        assert_eq!(got, Some(2));
        // All shown elsewhere: still one of them (the peer needs something).
        let got = pick_piece(3, |_| false, |_| 0, &set(&[0, 1, 2]), |_| 1);
        assert_eq!(got, Some(1));
    }

    #[test]
    fn nothing_left_to_show() {
        assert_eq!(pick_piece(4, |_| true, |_| 0, &set(&[]), |_| 0), None);
        assert_eq!(pick_piece(0, |_| false, |_| 0, &set(&[]), |_| 0), None);
        // A random source returning out of range is clamped.
        assert_eq!(pick_piece(2, |_| false, |_| 0, &set(&[]), |_| 7), Some(1));
    }
}
