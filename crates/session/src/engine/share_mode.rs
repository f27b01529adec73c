//! Share mode (`torrent_flags::share_mode`), as libtorrent does it.
//!
//! A share-mode torrent does not want the torrent: every piece starts with
//! priority 0 (so the torrent is "finished" with nothing downloaded), and
//! once a second (and after each piece) the engine decides whether to
//! download one more piece, only when that piece can be uploaded to enough
//! peers to improve the share ratio:
//! - there are downloaders (peers that are neither seeds, in share mode nor
//!   upload-only) missing more pieces than the seeds can give them
//!   (each seed counts for two pieces);
//! - what we downloaded so far, times `share_mode_target`, is already
//!   uploaded (the first piece is always allowed);
//! - no more pieces are in flight than 5% of those downloaded;
//! - the rarest piece we lack is missing from at least
//!   `share_mode_target` of the connected peers.
//!
//! The piece picked (at random among the rarest) gets the default priority.
//! When more than half of the connected peers are seeds and the torrent is
//! near its connection limit, seeds are disconnected (they take slots that
//! downloaders could use).
//!
//! Engine hooks: [`share_zero_priorities`] (adding, metadata received),
//! [`Engine::share_checked`],
//! [`Engine::share_flags_changed`] (`set_flags`), [`Engine::share_tick`]
//! (second tick), [`Engine::share_piece_passed`].

use std::collections::HashSet;

use lt_core::error::{Category, ErrorCode};
use lt_settings::keys;

use super::{ConnId, Engine};
use crate::alert::AlertKind;
use crate::torrent::{flags, Torrent};
use crate::types::TorrentId;

/// libtorrent's default piece priority.
const DEFAULT_PRIORITY: u8 = 4;

/// What the decision looks at for one connected peer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharePeer {
    pub seed: bool,
    /// In share mode or upload-only: never downloads from us.
    pub not_downloading: bool,
    pub num_have: u32,
}

/// What the decision looks at for one piece.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharePiece {
    /// Connected peers having it.
    pub peer_count: u32,
    pub priority: u8,
    pub have: bool,
    pub downloading: bool,
}

/// The torrent-wide inputs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShareTorrent {
    pub piece_length: u64,
    pub target: i64,
    pub total_uploaded: i64,
    pub num_have: u32,
    pub downloading: usize,
    pub max_connections: usize,
}

/// What to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ShareDecision {
    /// Number of seeds to disconnect (chosen at random by the caller).
    pub drop_seeds: usize,
    /// Pieces we have or download at priority 0: back to the default.
    pub restore: Vec<u32>,
    /// The piece to download next.
    pub pick: Option<u32>,
}

/// libtorrent's share-mode rule (see the module documentation).
/// `piece(i)` describes piece `i` of `num_pieces`; it is only asked for
/// when the peers make a download worth considering.
pub(crate) fn share_decide(
    t: &ShareTorrent,
    peers: &[SharePeer],
    num_pieces: u32,
    piece: impl Fn(u32) -> SharePiece,
    random: impl FnOnce(usize) -> usize,
) -> ShareDecision {
    let mut d = ShareDecision::default();
    let num_pieces_i = i64::from(num_pieces);
    let num_peers = peers.len() as i64;
    if num_peers == 0 {
        return d;
    }
    let num_seeds = peers.iter().filter(|p| p.seed).count() as i64;
    let mut num_downloaders = 0i64;
    let mut missing: i64 = 0;
    for p in peers.iter().filter(|p| !p.seed && !p.not_downloading) {
        num_downloaders += 1;
        missing += num_pieces_i - i64::from(p.num_have);
    }
    let max_conn = t.max_connections.max(1) as i64;
    if num_seeds * 100 / num_peers > 50 && (num_peers * 100 / max_conn > 90 || num_peers > 20) {
        d.drop_seeds = (num_seeds - num_peers / 2).max(0) as usize;
    }
    if num_downloaders == 0 {
        return d;
    }
    // Each seed uploads about two pieces while we get one and pass it on.
    missing -= 2 * num_seeds;
    if missing <= 0 {
        return d;
    }
    let downloaded = i64::from(t.num_have);
    let budget = downloaded
        .saturating_mul(t.piece_length as i64)
        .saturating_mul(t.target);
    if downloaded > 0 && budget > t.total_uploaded {
        return d;
    }
    if t.downloading as i64 > downloaded / 20 {
        return d;
    }
    let mut rarest = u32::MAX;
    let mut candidates = Vec::new();
    for i in 0..num_pieces {
        let p = piece(i);
        if p.peer_count == 0 {
            continue;
        }
        if p.priority == 0 && (p.have || p.downloading) {
            d.restore.push(i);
            continue;
        }
        if p.priority > 0 || p.have {
            continue;
        }
        if p.peer_count < rarest {
            rarest = p.peer_count;
            candidates.clear();
        }
        if p.peer_count == rarest {
            candidates.push(i);
        }
    }
    // Download a piece only if enough peers lack it to upload it `target`
    // times.
    if candidates.is_empty() || num_peers - i64::from(rarest) < t.target {
        return d;
    }
    let k = random(candidates.len()).min(candidates.len() - 1);
    d.pick = candidates.get(k).copied();
    d
}

/// A share-mode torrent with metadata starts with every piece (and file)
/// at priority 0. The disk keeps its priorities: downloaded pieces go to
/// the files, and a seed added in share mode stays a seed.
pub(super) fn share_zero_priorities(t: &mut Torrent) {
    if t.flags & flags::SHARE_MODE == 0 || !t.meta.is_valid() {
        return;
    }
    t.file_priorities = vec![0; t.meta.files().num_files()];
    let n = t.picker.num_pieces() as usize;
    t.picker.set_piece_priorities(&vec![0; n]);
}

impl Engine {
    pub(super) fn share_mode_on(&self, tid: TorrentId) -> bool {
        self.torrents
            .get(&tid)
            .is_some_and(|t| t.flags & flags::SHARE_MODE != 0)
    }

    /// `set_flags` hook: turning share mode on sets every priority to 0
    /// (posting `file_prio`, as the reference does); turning it off leaves
    /// the priorities as they are.
    pub(super) fn share_flags_changed(&mut self, tid: TorrentId, was_on: bool) {
        if was_on || !self.share_mode_on(tid) {
            return;
        }
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        if !t.meta.is_valid() {
            return;
        }
        share_zero_priorities(t);
        let tref = t.torrent_ref();
        self.after_priority_change(tid);
        self.alert(AlertKind::FilePrio { torrent: tref });
        self.share_recalc(tid);
    }

    /// `checked` hook: a share-mode torrent that turns out to be a seed
    /// reports its pieces at the default priority (the reference keeps no
    /// piece priorities for seeds); its file priorities stay 0.
    pub(super) fn share_checked(&mut self, tid: TorrentId) {
        if let Some(t) = self.torrents.get_mut(&tid) {
            if t.flags & flags::SHARE_MODE != 0 && t.is_seed() {
                let n = t.picker.num_pieces() as usize;
                t.picker.set_piece_priorities(&vec![DEFAULT_PRIORITY; n]);
            }
        }
    }

    /// Second-tick hook: every active share-mode torrent reconsiders.
    pub(super) fn share_tick(&mut self) {
        let ids: Vec<TorrentId> = self
            .torrents
            .iter()
            .filter(|(_, t)| t.flags & flags::SHARE_MODE != 0 && t.is_active())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.share_recalc(id);
        }
    }

    /// `piece_passed` hook.
    pub(super) fn share_piece_passed(&mut self, tid: TorrentId) {
        if self.share_mode_on(tid) {
            self.share_recalc(tid);
        }
    }

    fn share_recalc(&mut self, tid: TorrentId) {
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        if t.is_seed() || !t.meta.is_valid() || !t.is_active() {
            return;
        }
        let mut peers = Vec::new();
        let mut conns = Vec::new();
        for c in &t.peers {
            let Some(p) = self.peers.get(c) else {
                continue;
            };
            if !p.conn.is_connected() {
                continue;
            }
            let ext = p.conn.peer_extensions();
            let not_downloading =
                ext.is_some_and(|h| h.share_mode == Some(true) || h.upload_only == Some(true));
            let seed = p.is_seed();
            peers.push(SharePeer {
                seed,
                not_downloading,
                num_have: p.has.count() as u32,
            });
            conns.push((*c, seed));
        }
        let n = t.picker.num_pieces();
        let downloading: HashSet<u32> = t.picker.downloading_pieces().into_iter().collect();
        let picker = &t.picker;
        let piece = |i| SharePiece {
            peer_count: picker.availability(i),
            priority: picker.piece_priority(i),
            have: picker.have_piece(i),
            downloading: downloading.contains(&i),
        };
        let max_connections = if t.max_connections > 0 {
            t.max_connections as usize
        } else {
            self.settings.get_int(keys::CONNECTIONS_LIMIT).max(1) as usize
        };
        let inputs = ShareTorrent {
            piece_length: t.picker.piece_length() as u64,
            target: i64::from(self.settings.get_int(keys::SHARE_MODE_TARGET)),
            total_uploaded: t.total_payload_upload,
            num_have: t.picker.num_have(),
            downloading: t.picker.num_downloading(),
            max_connections,
        };
        let rng = &mut self.rng;
        let d = share_decide(&inputs, &peers, n, piece, |k| rng.below(k));
        if d.drop_seeds > 0 {
            let mut seeds: Vec<ConnId> = conns.iter().filter(|c| c.1).map(|c| c.0).collect();
            self.rng.shuffle(&mut seeds);
            for c in seeds.into_iter().take(d.drop_seeds) {
                // upload_upload_connection
                self.disconnect(c, Some(ErrorCode::new(37, Category::Libtorrent)));
            }
        }
        if d.restore.is_empty() && d.pick.is_none() {
            return;
        }
        if let Some(t) = self.torrents.get_mut(&tid) {
            for i in d.restore.iter().copied().chain(d.pick) {
                t.picker.set_piece_priority(i, DEFAULT_PRIORITY);
            }
        }
        self.after_priority_change(tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torrent(num_have: u32, uploaded: i64) -> ShareTorrent {
        ShareTorrent {
            piece_length: 100,
            target: 3,
            total_uploaded: uploaded,
            num_have,
            downloading: 0,
            max_connections: 200,
        }
    }

    fn leech(num_have: u32) -> SharePeer {
        SharePeer {
            seed: false,
            not_downloading: false,
            num_have,
        }
    }

    const SEED: SharePeer = SharePeer {
        seed: true,
        not_downloading: false,
        num_have: 10,
    };

    fn piece(peer_count: u32) -> SharePiece {
        SharePiece {
            peer_count,
            priority: 0,
            have: false,
            downloading: false,
        }
    }

    #[test]
    fn first_piece_is_the_rarest_when_enough_peers_lack_it() {
        let peers = [SEED, leech(0), leech(0), leech(0)];
        let mut pieces = [piece(2); 10];
        pieces[4] = piece(1);
        pieces[7] = piece(1);
        let d = share_decide(
            &torrent(0, 0),
            &peers,
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 1,
        );
        assert_eq!(d.pick, Some(7));
        let d = share_decide(
            &torrent(0, 0),
            &peers,
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.pick, Some(4));
        assert_eq!(d.drop_seeds, 0);
    }

    #[test]
    fn waits_until_uploaded_target_times_what_it_downloaded() {
        let peers = [SEED, leech(0), leech(0), leech(0)];
        let mut pieces = [piece(1); 10];
        pieces[0] = SharePiece {
            peer_count: 1,
            priority: 4,
            have: true,
            downloading: false,
        };
        // One piece of 100 bytes: 300 must be uploaded before the next.
        assert_eq!(
            share_decide(
                &torrent(1, 299),
                &peers,
                pieces.len() as u32,
                |i| pieces[i as usize],
                |_| 0
            )
            .pick,
            None
        );
        let d = share_decide(
            &torrent(1, 300),
            &peers,
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.pick, Some(1));
    }

    #[test]
    fn nothing_without_enough_demand() {
        // Two leechers: a piece only one peer has is lacked by 2 < 3 peers.
        let pieces = [piece(1); 10];
        assert_eq!(
            share_decide(
                &torrent(0, 0),
                &[SEED, leech(0), leech(0)],
                pieces.len() as u32,
                |i| pieces[i as usize],
                |_| 0
            ),
            ShareDecision::default()
        );
        // Only seeds and share-mode peers: nobody to upload to.
        let sm = SharePeer {
            not_downloading: true,
            ..leech(0)
        };
        let d = share_decide(
            &torrent(0, 0),
            &[SEED, sm, sm, sm],
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.pick, None);
        // Downloaders missing fewer pieces than the seeds can serve.
        let d = share_decide(
            &torrent(0, 0),
            &[SEED, SEED, leech(7)],
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.pick, None);
        // A piece is already downloading.
        let t = ShareTorrent {
            downloading: 1,
            ..torrent(0, 0)
        };
        let d = share_decide(
            &t,
            &[SEED, leech(0), leech(0), leech(0)],
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.pick, None);
        // No peers at all.
        assert_eq!(
            share_decide(
                &torrent(0, 0),
                &[],
                pieces.len() as u32,
                |i| pieces[i as usize],
                |_| 0
            ),
            ShareDecision::default()
        );
    }

    #[test]
    fn drops_surplus_seeds_near_the_connection_limit() {
        let mut peers = vec![SEED; 20];
        peers.extend([leech(0), leech(0)]);
        let pieces = [piece(21); 4];
        let d = share_decide(
            &torrent(0, 0),
            &peers,
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.drop_seeds, 20 - 11);
        assert_eq!(d.pick, None);
        // Few peers, far from the limit: seeds stay.
        let d = share_decide(
            &torrent(0, 0),
            &[SEED, SEED, leech(0)],
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 0,
        );
        assert_eq!(d.drop_seeds, 0);
    }

    #[test]
    fn restores_pieces_had_at_priority_zero() {
        let peers = [SEED, leech(0), leech(0), leech(0)];
        let mut pieces = [piece(1); 4];
        pieces[2].have = true;
        let d = share_decide(
            &torrent(1, 1000),
            &peers,
            pieces.len() as u32,
            |i| pieces[i as usize],
            |_| 2,
        );
        assert_eq!(d.restore, vec![2]);
        assert_eq!(d.pick, Some(3));
    }
}
