//! Super seeding (BEP 16), as libtorrent does it.
//!
//! A torrent with `torrent_flags::super_seeding` that is a seed hides its
//! pieces: a new connection is given an empty bitfield (`have_none` with the
//! fast extension, nothing without it), and each peer is then shown one
//! piece at a time with a `have` message, the rarest one no other peer is
//! being shown. The reference shows one piece at a time too (its peer log
//! has one `HAVE (super seed)` per peer until that piece comes back). The
//! shown piece is replaced by another one when
//! - the peer itself announces it (default), or, with
//!   `strict_super_seeding`, when *another* peer announces it, i.e. the piece
//!   has spread beyond the peer we gave it to (the peer must have it too);
//! - the peer has not been interested in us for [`UNINTERESTED`] (since the
//!   handshake or its last `not_interested`): it may not want the piece, or
//!   got it elsewhere without saying so. This repeats every second while
//!   the peer stays uninterested, as in the reference.
//!
//! Requests for pieces a peer was never shown are rejected by the peer wire
//! state machine (its `our_pieces` is the set shown to that peer). Turning
//! the flag off (or leaving seed state) shows every remaining piece with
//! `have` messages. A torrent that is not a seed once its files are checked
//! loses the flag, as in the reference.
//!
//! Engine hooks: [`Engine::ss_hide_pieces`] (from `wire_torrent`),
//! [`Engine::ss_connected`], [`Engine::ss_peer_pieces`], [`Engine::ss_have`],
//! [`Engine::ss_not_interested`] (peer events), [`Engine::ss_tick`] (second
//! tick), [`Engine::ss_flags_changed`] (`set_flags`), [`Engine::ss_checked`]
//! (`checked`), [`Engine::ss_peer_gone`] (`disconnect`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use lt_settings::keys;

use super::{ConnId, Engine};
use crate::torrent::flags;
use crate::types::TorrentId;

/// How long a peer may stay uninterested in its shown piece before it is
/// shown another one.
pub(crate) const UNINTERESTED: Duration = Duration::from_secs(10);

/// What a super-seeded connection is shown.
struct Shown {
    /// The piece shown now (`None`: nothing left to show).
    piece: Option<u32>,
    /// Since when the peer has not been interested in us.
    uninterested_since: Instant,
}

/// The piece currently shown to each super-seeded connection.
#[derive(Default)]
pub(crate) struct SuperSeedState {
    peers: HashMap<ConnId, Shown>,
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

    /// The piece shown to `id` now.
    pub(crate) fn shown(&self, id: ConnId) -> Option<u32> {
        self.peers.get(&id).and_then(|s| s.piece)
    }

    pub(crate) fn remove(&mut self, id: ConnId) {
        self.peers.remove(&id);
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
    /// seeding is tracked and shown its first piece; one that was started
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
        let shown = Shown {
            piece: None,
            uninterested_since: Instant::now(),
        };
        self.super_seed.peers.insert(id, shown);
        self.ss_replace(id);
    }

    /// The peer (re)announced all its pieces: if it has the piece shown to
    /// it (or was shown none), it is shown another.
    pub(super) fn ss_peer_pieces(&mut self, id: ConnId) {
        if !self.super_seed.is_tracked(id) {
            return;
        }
        let stale = match self.super_seed.shown(id) {
            Some(i) => self.peers.get(&id).is_some_and(|p| p.has.get(i as usize)),
            None => true,
        };
        if stale {
            self.ss_replace(id);
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
        let shown_to_from = self.super_seed.shown(from) == Some(piece);
        if !self.settings.get_bool(keys::STRICT_SUPER_SEEDING) {
            // The peer got the piece we showed it: show it another one.
            if shown_to_from {
                self.ss_replace(from);
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
            let has = self
                .peers
                .get(&c)
                .is_some_and(|p| p.has.get(piece as usize));
            if self.super_seed.shown(c) == Some(piece) && has {
                self.ss_replace(c);
            }
        }
    }

    /// Peer `id` sent `not_interested`.
    pub(super) fn ss_not_interested(&mut self, id: ConnId) {
        if let Some(s) = self.super_seed.peers.get_mut(&id) {
            s.uninterested_since = Instant::now();
        }
    }

    /// Second tick: a peer uninterested in us for [`UNINTERESTED`] is shown
    /// another piece.
    pub(super) fn ss_tick(&mut self, now: Instant) {
        let due: Vec<ConnId> = self
            .super_seed
            .peers
            .iter()
            .filter(|(id, s)| {
                // (`None`: the peer has or was shown every piece; showing
                // is never undone, so there is nothing to pick later either)
                s.piece.is_some()
                    && now.duration_since(s.uninterested_since) >= UNINTERESTED
                    && self
                        .peers
                        .get(id)
                        .is_some_and(|p| !p.conn.peer_interested())
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.ss_replace(id);
        }
    }

    /// Shows peer `id` a newly picked piece in place of the one it was
    /// shown, and sends its `have`.
    fn ss_replace(&mut self, id: ConnId) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let shown_elsewhere: HashSet<u32> = t
            .peers
            .iter()
            .filter(|c| **c != id)
            .filter_map(|c| self.super_seed.shown(*c))
            .collect();
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
        if let Some(s) = self.super_seed.peers.get_mut(&id) {
            s.piece = new;
        }
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
