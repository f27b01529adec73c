//! Magnet links: a torrent added without metadata (`downloading_metadata`)
//! fetches its info dictionary from peers with `ut_metadata` (BEP 9),
//! checks it against the info-hash and then becomes a normal torrent
//! (storage, picker, file check). Also serves our metadata to peers.
//!
//! While the metadata is missing the torrent holds a placeholder
//! `TorrentInfo` (`is_valid()` false) and a one-piece placeholder picker
//! that is never asked for blocks; the wire connections have no piece
//! geometry until [`Engine::promote_magnet`] gives them one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_core::error::{Category, ErrorCode};
use lt_picker::PiecePicker;
use lt_settings::keys;
use lt_storage::{HashKinds, StorageParams};
use lt_wire::extension::{names, ExtHandshake, ExtensionMessage, MetadataMsg};
use lt_wire::peer::PieceGeometry;

use super::{file_ranges, mark_pad_blocks, wire_hashes, Engine};
use crate::alert::AlertKind;
use crate::peer_io::ConnId;
use crate::torrent::flags;
use crate::torrent::unix_now;
use crate::types::{TorrentId, TorrentState};
use crate::ut_metadata::{MetaError, MetadataAssembler, Progress, PIECE_SIZE};

/// The ids we ask peers to send these extensions under (libtorrent's).
pub(super) const UT_METADATA_ID: u8 = 2;
pub(super) const UT_PEX_ID: u8 = 1;

/// A peer that rejected a metadata request is not asked again this soon.
const REJECT_BACKOFF: Duration = Duration::from_secs(10);

const METADATA_TOO_LARGE: i32 = 100;
const INVALID_METADATA_MESSAGE: i32 = 103;
const MISMATCHING_INFO_HASH: i32 = 30;

/// Metadata being fetched for one torrent.
pub(super) struct Fetch {
    asm: MetadataAssembler,
    /// Peers that sent pieces of the current attempt.
    senders: HashSet<ConnId>,
    rejected: HashMap<ConnId, Instant>,
}

#[derive(Default)]
pub(super) struct MagnetState {
    fetches: HashMap<TorrentId, Fetch>,
}

fn lt_err(v: i32) -> ErrorCode {
    ErrorCode::new(v, Category::Libtorrent)
}

impl Engine {
    /// Our extensions, advertised in every extension handshake under
    /// libtorrent's ids: the messages the wire state machine takes in
    /// (`lt_donthave`, `upload_only`) and those the engine does.
    pub(super) fn add_our_extensions(h: &mut ExtHandshake) {
        h.m.insert(names::UT_METADATA.to_string(), UT_METADATA_ID);
        h.m.insert(names::UT_PEX.to_string(), UT_PEX_ID);
        h.m.insert(names::UPLOAD_ONLY.to_string(), 3);
        h.m.insert(names::LT_DONTHAVE.to_string(), 7);
    }

    /// The `metadata_size` to announce to peers of torrent `tid`: the info
    /// dictionary's size when we have it (and the torrent is not private).
    pub(super) fn metadata_size_of(&self, tid: TorrentId) -> Option<u64> {
        let t = self.torrents.get(&tid)?;
        (t.meta.is_valid() && !t.meta.private()).then(|| t.meta.metadata_size() as u64)
    }

    /// `torrent_handle.set_metadata(info)`: the user supplies the info
    /// dictionary. Ignored when the torrent has its metadata; one that does
    /// not hash to the info-hash posts `metadata_failed_alert`, the right
    /// one `metadata_received_alert`, as in the reference.
    pub fn set_metadata(&mut self, id: TorrentId, info: &[u8]) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        if t.meta.is_valid() {
            return;
        }
        let ih = t.meta.info_hashes();
        let mut asm = MetadataAssembler::new(ih, info.len().max(1));
        let done = info
            .chunks(PIECE_SIZE)
            .enumerate()
            .map(|(i, c)| asm.on_data(0, i as u32, info.len() as u64, c))
            .last();
        match done {
            Some(Ok(Progress::Complete(buf))) => self.promote_magnet(id, buf),
            _ => {
                let torrent = t.torrent_ref();
                self.alert(AlertKind::MetadataFailed {
                    torrent,
                    error: lt_err(MISMATCHING_INFO_HASH),
                });
            }
        }
    }

    /// A torrent was added without metadata: start looking for it.
    pub(super) fn start_magnet(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let max = self.settings.get_int(keys::MAX_METADATA_SIZE).max(0) as usize;
        let paused = t.is_paused();
        let ih = t.meta.info_hashes();
        self.magnet.fetches.insert(
            id,
            Fetch {
                asm: MetadataAssembler::new(ih, max),
                senders: HashSet::new(),
                rejected: HashMap::new(),
            },
        );
        self.set_state(id, TorrentState::DownloadingMetadata);
        if !paused {
            self.start_announcing(id);
        }
        self.trigger_auto_manage();
        self.connect_candidates(id);
    }

    pub(super) fn magnet_torrent_removed(&mut self, id: TorrentId) {
        self.magnet.fetches.remove(&id);
    }

    pub(super) fn magnet_peer_gone(&mut self, tid: Option<TorrentId>, id: ConnId) {
        if let Some(f) = tid.and_then(|t| self.magnet.fetches.get_mut(&t)) {
            f.asm.on_peer_gone(id.0);
            f.senders.remove(&id);
            f.rejected.remove(&id);
        }
    }

    /// The peer's extension handshake arrived.
    pub(super) fn on_ext_handshake(&mut self, id: ConnId, h: &ExtHandshake) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        // A peer that saw a complete copy `complete_ago` seconds ago.
        if let (Some(ago), Some(t)) = (
            h.complete_ago.filter(|&a| a >= 0),
            self.torrents.get_mut(&tid),
        ) {
            t.last_seen_complete = t.last_seen_complete.max(unix_now() - ago);
        }
        let Some(f) = self.magnet.fetches.get_mut(&tid) else {
            return;
        };
        if let Some(size) = h.metadata_size {
            if !f.asm.size_ok(size) {
                self.metadata_too_large(tid, id);
                return;
            }
            let _ = f.asm.set_size(size);
        }
        self.request_metadata(tid, id);
    }

    /// A peer announced (or sent) metadata larger than `max_metadata_size`.
    fn metadata_too_large(&mut self, tid: TorrentId, id: ConnId) {
        if let Some(t) = self.torrents.get(&tid) {
            let torrent = t.torrent_ref();
            self.alert(AlertKind::MetadataFailed {
                torrent,
                error: lt_err(METADATA_TOO_LARGE),
            });
        }
        self.disconnect(id, Some(lt_err(METADATA_TOO_LARGE)));
    }

    /// Asks peer `id` for the next missing metadata piece, if it has the
    /// extension and nothing outstanding.
    fn request_metadata(&mut self, tid: TorrentId, id: ConnId) {
        let now = Instant::now();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if !p.conn.is_connected() || !p.conn.peer_supports(names::UT_METADATA) {
            return;
        }
        let Some(f) = self.magnet.fetches.get_mut(&tid) else {
            return;
        };
        if f.rejected
            .get(&id)
            .is_some_and(|at| now.duration_since(*at) < REJECT_BACKOFF)
        {
            return;
        }
        // Without a size (no peer announced `metadata_size`) there is
        // nothing to ask for yet, as in libtorrent.
        let Some(piece) = f.asm.pick(id.0, now) else {
            return;
        };
        let m = ExtensionMessage::Metadata(MetadataMsg::Request { piece });
        let _ = p.conn.send_extension(&m);
        self.flush(id);
    }

    /// A `ut_metadata`, `ut_pex` or `upload_only` message (other extension
    /// messages are handled by the wire state machine or ignored).
    pub(super) fn on_extension(&mut self, id: ConnId, m: ExtensionMessage) {
        match m {
            ExtensionMessage::Metadata(m) => self.on_metadata_msg(id, m),
            ExtensionMessage::Pex(m) => self.on_pex(id, m),
            ExtensionMessage::UploadOnly(true) => {
                self.close_if_redundant(id, 37 /* upload_upload_connection */);
            }
            _ => {}
        }
    }

    fn on_metadata_msg(&mut self, id: ConnId, m: MetadataMsg) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        match m {
            MetadataMsg::Request { piece } => self.serve_metadata(tid, id, piece),
            MetadataMsg::Reject { piece } => {
                if let Some(f) = self.magnet.fetches.get_mut(&tid) {
                    f.asm.on_reject(id.0, piece);
                    f.rejected.insert(id, Instant::now());
                }
            }
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                let Some(f) = self.magnet.fetches.get_mut(&tid) else {
                    // Not fetching (already have it): ignore like libtorrent.
                    return;
                };
                f.senders.insert(id);
                match f.asm.on_data(id.0, piece, total_size, &data) {
                    Ok(Progress::Partial) => self.request_metadata(tid, id),
                    Ok(Progress::Complete(buf)) => self.promote_magnet(tid, buf),
                    Err(MetaError::TooLarge) => self.metadata_too_large(tid, id),
                    Err(MetaError::BadPiece) => {
                        self.disconnect(id, Some(lt_err(INVALID_METADATA_MESSAGE)))
                    }
                    Err(MetaError::HashMismatch) => {
                        let senders: Vec<ConnId> = f.senders.drain().collect();
                        if let Some(t) = self.torrents.get(&tid) {
                            let torrent = t.torrent_ref();
                            self.alert(AlertKind::MetadataFailed {
                                torrent,
                                error: lt_err(MISMATCHING_INFO_HASH),
                            });
                        }
                        for s in senders {
                            self.disconnect(s, Some(lt_err(MISMATCHING_INFO_HASH)));
                        }
                    }
                }
            }
            MetadataMsg::Unknown { .. } => {}
        }
    }

    /// Answers a metadata request: the piece when we have the metadata
    /// (and the torrent is not private), a reject otherwise.
    fn serve_metadata(&mut self, tid: TorrentId, id: ConnId, piece: u32) {
        let info = self
            .torrents
            .get(&tid)
            .filter(|t| t.meta.is_valid() && !t.meta.private())
            .map(|t| t.meta.info_section_arc());
        let reply = info.and_then(|info| {
            let start = (piece as usize).checked_mul(PIECE_SIZE)?;
            if start >= info.len() {
                return None;
            }
            let end = (start + PIECE_SIZE).min(info.len());
            Some(MetadataMsg::Data {
                piece,
                total_size: info.len() as u64,
                data: bytes::Bytes::copy_from_slice(info.get(start..end)?),
            })
        });
        let msg = reply.unwrap_or(MetadataMsg::Reject { piece });
        if let Some(p) = self.peers.get_mut(&id) {
            let _ = p.conn.send_extension(&ExtensionMessage::Metadata(msg));
        }
        self.flush(id);
    }

    /// Once a second: ask idle peers for missing pieces (requests that
    /// timed out go to other peers).
    pub(super) fn magnet_tick(&mut self) {
        let tids: Vec<TorrentId> = self.magnet.fetches.keys().copied().collect();
        for tid in tids {
            let peers = self.torrent_conns(tid);
            for id in peers {
                self.request_metadata(tid, id);
            }
        }
    }

    /// Whether a file of the torrent spans more than one piece but has no
    /// piece layer to check those pieces against.
    fn lacks_piece_layers(&self, tid: TorrentId) -> bool {
        let Some(t) = self.torrents.get(&tid) else {
            return false;
        };
        let fs = t.meta.files();
        (0..fs.num_files()).any(|f| {
            !fs.pad_file_at(f)
                && fs.file_size(f) > i64::from(fs.piece_length())
                && t.meta.piece_layer(f).is_empty()
        })
    }

    /// The metadata arrived and hashes to the info-hash: build the real
    /// torrent and check the files.
    pub(super) fn promote_magnet(&mut self, tid: TorrentId, info: Vec<u8>) {
        let ti = match lt_metainfo::TorrentInfo::from_info_section(
            &info,
            &lt_metainfo::LoadLimits::default(),
        ) {
            Ok(ti) => ti,
            Err(_) => {
                // It hashes to the info-hash but is not a valid info
                // dictionary: nothing to retry with.
                if let Some(t) = self.torrents.get(&tid) {
                    let torrent = t.torrent_ref();
                    self.alert(AlertKind::MetadataFailed {
                        torrent,
                        error: lt_err(14 /* invalid_swarm_metadata */),
                    });
                }
                return;
            }
        };
        if self.magnet_conflict(tid, &ti) {
            return;
        }
        let ti = Arc::new(ti);
        let fs = ti.files();
        let Ok(mut picker) = PiecePicker::new(
            fs.total_size().max(0) as u64,
            fs.piece_length().max(1) as u32,
            ti.info_hashes().best().0[0] as u64 | 0x9e37_79b9_7f4a_7c15,
        ) else {
            if let Some(t) = self.torrents.get(&tid) {
                let torrent = t.torrent_ref();
                self.alert(AlertKind::MetadataFailed {
                    torrent,
                    error: lt_err(14 /* invalid_swarm_metadata */),
                });
            }
            return;
        };
        self.magnet.fetches.remove(&tid);
        let ih = ti.info_hashes();
        // Metadata from peers has no piece layers: v2 pieces can only be
        // checked against single-piece files' roots, so a hybrid torrent
        // is verified with its v1 hashes.
        let kinds = match (ih.has_v1(), ih.has_v2()) {
            (true, _) => HashKinds::V1,
            (false, true) => HashKinds::V2,
            _ => HashKinds::V1,
        };
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        let mut sp = StorageParams::new(ti.clone(), t.save_path.clone());
        sp.file_priorities = t.file_priorities.clone();
        sp.part_file_name = format!(".{}.parts", ih.best().to_hex());
        if t.flags & flags::SEQUENTIAL_DOWNLOAD != 0 {
            picker.set_sequential(true);
        }
        let old_storage = t.storage;
        t.meta = ti;
        t.picker = picker;
        mark_pad_blocks(t);
        if !t.file_priorities.is_empty() {
            let prios = lt_picker::file_priorities_to_piece_priorities(
                &file_ranges(t.meta.files()),
                &t.file_priorities,
                t.picker.piece_length(),
                t.picker.num_pieces(),
            );
            t.picker.set_piece_priorities(&prios);
        }
        super::share_mode::share_zero_priorities(t);
        let n = t.picker.num_pieces();
        let g = PieceGeometry::new(
            t.meta.files().piece_length().max(1) as u32,
            t.meta.files().total_size().max(0) as u64,
        );
        let peers: Vec<ConnId> = t.peers.iter().copied().collect();
        let torrent = t.torrent_ref();
        self.by_storage.remove(&old_storage);
        self.disk().remove_storage(old_storage);
        let storage = self.disk().add_storage(sp, kinds);
        self.by_storage.insert(storage, tid);
        if let Some(t) = self.torrents.get_mut(&tid) {
            t.storage = storage;
        }
        for h in wire_hashes(&ih) {
            self.by_hash.insert(h, tid);
        }
        // Give every connection the piece geometry; the pieces peers
        // announced meanwhile become availability.
        let mut dead = Vec::new();
        for id in &peers {
            let Some(p) = self.peers.get_mut(id) else {
                continue;
            };
            p.has = lt_picker::Bitfield::new(n as usize);
            let ok = match g {
                Some(g) => p.conn.set_geometry(g, lt_wire::Bitfield::new(n)).is_ok(),
                None => false,
            };
            if !ok {
                dead.push(*id);
                continue;
            }
            let mut has = lt_picker::Bitfield::new(n as usize);
            if let Some(bf) = p.conn.peer_pieces() {
                for i in bf.iter_set() {
                    has.set(i as usize);
                }
            }
            self.set_peer_pieces(*id, has);
        }
        for id in dead {
            self.disconnect(id, Some(lt_err(INVALID_METADATA_MESSAGE)));
        }
        self.alert(AlertKind::MetadataReceived {
            torrent: torrent.clone(),
        });
        // The info dictionary holds each file's merkle root but not the
        // piece layers: fetch them from peers (engine/v2hashes.rs). A
        // v2-only torrent checks its pieces against them, so it waits for
        // them; a hybrid one checks with its v1 hashes meanwhile.
        let fetching = ih.has_v2()
            && self.lacks_piece_layers(tid)
            && self.v2hash_start(tid, kinds == HashKinds::V2);
        if !(fetching && kinds == HashKinds::V2) {
            self.start_checking(tid);
        }
        // Tell the peers we now have the metadata to share (an updated
        // extension handshake with `metadata_size`).
        let size = self.metadata_size_of(tid);
        let mut h = self.peer_config().extensions;
        h.metadata_size = size;
        h.reqq = u32::try_from(
            self.settings
                .get_int(keys::MAX_ALLOWED_IN_REQUEST_QUEUE)
                .max(1),
        )
        .ok();
        for id in &peers {
            if let Some(p) = self.peers.get_mut(id) {
                p.conn.set_metadata_size(size);
                if p.conn.is_connected() && p.conn.peer_extensions().is_some() {
                    let _ = p.conn.send_ext_handshake(h.clone());
                }
            }
            self.update_interest(*id);
            self.flush(*id);
        }
    }
}
