//! Seed mode (`torrent_flags::seed_mode`): the torrent starts as a seed
//! without checking its files, and, as libtorrent does, hashes each piece
//! before its first upload. Requests for a piece not verified yet wait for
//! its hash; once every piece is verified the torrent leaves seed mode. A
//! piece that fails its hash proves the files are not what the torrent
//! says: `hash_failed_alert`, then the torrent leaves seed mode and checks
//! every file.

use lt_wire::message::BlockRequest;

use super::{AlertKind, ConnId, Engine};
use crate::torrent::{flags, SeedVerify};
use crate::types::TorrentId;

impl Engine {
    /// The requests of `ready` (asked by peer `id`) that may be read now,
    /// or `None` when the torrent is not in seed mode (all of them). The
    /// others wait for their piece's hash, which is started here.
    pub(super) fn seed_mode_hold(
        &mut self,
        id: ConnId,
        ready: &[BlockRequest],
    ) -> Option<Vec<BlockRequest>> {
        let tid = self.peers.get(&id)?.torrent?;
        let t = self.torrents.get_mut(&tid)?;
        if t.flags & flags::SEED_MODE == 0 || ready.is_empty() {
            return None;
        }
        let n = t.picker.num_pieces() as usize;
        let sv = t
            .seed_verify
            .get_or_insert_with(|| SeedVerify::new(Vec::new(), n));
        let mut now = Vec::with_capacity(ready.len());
        let mut to_hash = Vec::new();
        for r in ready {
            if sv.verified.get(r.piece as usize).copied().unwrap_or(true) {
                now.push(*r);
                continue;
            }
            let waiting = sv.waiting.entry(r.piece).or_default();
            if waiting.is_empty() {
                to_hash.push(r.piece);
            }
            waiting.push((id, *r));
        }
        let storage = t.storage;
        to_hash.retain(|&piece| t.hashing.insert(piece));
        for piece in to_hash {
            self.disk().async_hash(storage, piece);
        }
        Some(now)
    }

    /// A piece's hash came back (`ok`: it matches). Returns false when no
    /// seed-mode request waited for it (an ordinary hash).
    pub(super) fn seed_mode_hashed(&mut self, tid: TorrentId, piece: u32, ok: bool) -> bool {
        let Some(t) = self.torrents.get_mut(&tid) else {
            return false;
        };
        let Some(sv) = t.seed_verify.as_mut() else {
            return false;
        };
        let Some(waiting) = sv.waiting.remove(&piece) else {
            return false;
        };
        if !ok {
            let torrent = t.torrent_ref();
            self.torrent_log(tid, || format!("SEED_MODE_HASH_FAILED ({piece})"));
            self.alert(AlertKind::HashFailed { torrent, piece });
            // (clears seed mode, disconnects the peers, checks every piece)
            self.force_recheck(tid);
            return true;
        }
        if let Some(v) = sv.verified.get_mut(piece as usize) {
            if !*v {
                *v = true;
                sv.count += 1;
            }
        }
        if sv.count == sv.verified.len() {
            // every piece verified: an ordinary seed from now on
            t.flags &= !flags::SEED_MODE;
            t.seed_verify = None;
        }
        for (c, r) in waiting {
            self.read_for_peer(c, &[r]);
        }
        true
    }
}
