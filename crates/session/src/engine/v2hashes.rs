//! BEP 52 hash exchange: serving `hash request`s from the piece layers of
//! the torrents we have, and fetching the piece layers of a v2 (or hybrid)
//! torrent whose metadata came from peers (`ut_metadata` carries only the
//! info dictionary, which holds each file's merkle root but not the piece
//! layer hashes the pieces are checked against).
//!
//! Fetching: each file spanning more than one piece is asked for in runs
//! of up to 512 piece-layer hashes (as libtorrent does), each with the
//! uncle hashes that prove it up to the file's root. A run that does not
//! hash up to the root gets its sender disconnected (`invalid_hashes`).
//! Once every run of every file is in, the layers become part of the
//! torrent's metadata and a v2-only torrent starts checking and
//! downloading (until then it requests no blocks). When every connected
//! peer has refused a run and none is in flight, a v2-only torrent stops
//! with `missing_piece_layer`; a hybrid one keeps downloading on its v1
//! hashes and simply does without the layers. Hashes are asked for only on
//! connections opened with the v2 info-hash (see [`Engine::hash_capable`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lt_core::error::{Category, ErrorCode};
use lt_core::{ProtocolVersion, Sha256Hash};
use lt_metainfo::file_storage::{merkle_num_leafs, BLOCK_SIZE};
use lt_metainfo::merkle;
use lt_wire::{HashRequest, Message};

use super::Engine;
use crate::alert::AlertKind;
use crate::peer_io::ConnId;
use crate::types::TorrentId;

/// Piece-layer hashes asked for in one request (libtorrent's run size).
const RUN: u32 = 512;
/// A request unanswered this long is asked of another peer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight to one peer.
const MAX_PER_PEER: usize = 8;

const INVALID_HASHES: i32 = 118;
const MISSING_PIECE_LAYER: i32 = 214;

/// One run of piece-layer hashes being fetched.
struct Run {
    req: HashRequest,
    done: bool,
    asked: Option<(ConnId, Instant)>,
    /// Connected peers that refused it.
    rejected: HashSet<ConnId>,
}

/// The piece layer of one file being fetched.
struct FileFetch {
    file: usize,
    root: Sha256Hash,
    /// Tree layer of the piece layer (log2 of blocks per piece).
    piece_level: u32,
    /// Layers between the blocks and the root.
    height: u32,
    num_pieces: u32,
    /// `num_pieces` hashes, filled in as runs verify.
    layer: Vec<u8>,
    runs: Vec<Run>,
}

struct LayerFetch {
    /// v2-only: the download waits for the layers.
    blocking: bool,
    files: Vec<FileFetch>,
}

type Tree = Arc<Vec<Vec<Sha256Hash>>>;

#[derive(Default)]
pub(super) struct V2HashState {
    fetches: HashMap<TorrentId, LayerFetch>,
    /// Trees built from piece layers to answer requests, per torrent and
    /// file (built on the first request for a file).
    trees: HashMap<(TorrentId, usize), Tree>,
}

fn lt_err(v: i32) -> ErrorCode {
    ErrorCode::new(v, Category::Libtorrent)
}

impl Engine {
    /// Whether we may ask the peer for hashes: a connection opened with
    /// the torrent's v2 info-hash. libtorrent drops a peer that sends a
    /// hash request on a connection opened with the v1 hash of a hybrid
    /// torrent, even one it upgraded to v2.
    fn hash_capable(&self, id: ConnId) -> bool {
        self.peers.get(&id).is_some_and(|p| {
            let v2 = p
                .torrent
                .and_then(|t| self.torrents.get(&t))
                .map(|t| t.meta.info_hashes())
                .filter(|ih| ih.has_v2())
                .map(|ih| ih.v2.truncated());
            p.conn.is_connected()
                && p.conn.protocol_version() == ProtocolVersion::V2
                && v2.is_some()
                && p.conn.named_info_hash() == v2
        })
    }

    /// While a v2-only torrent waits for its piece layers it requests no
    /// blocks: there is nothing to check them against.
    pub(super) fn v2hash_blocks_requests(&self, id: ConnId) -> bool {
        if self.v2hashes.fetches.is_empty() {
            return false;
        }
        self.peers
            .get(&id)
            .and_then(|p| p.torrent)
            .and_then(|t| self.v2hashes.fetches.get(&t))
            .is_some_and(|f| f.blocking)
    }

    /// The metadata of torrent `tid` arrived without piece layers: fetch
    /// them. Returns false when no file needs one (nothing to wait for).
    pub(super) fn v2hash_start(&mut self, tid: TorrentId, blocking: bool) -> bool {
        let Some(t) = self.torrents.get(&tid) else {
            return false;
        };
        let fs = t.meta.files();
        let piece_length = i64::from(fs.piece_length());
        let bpp = (piece_length / BLOCK_SIZE).max(1) as u64;
        if !bpp.is_power_of_two() {
            return false;
        }
        let piece_level = bpp.trailing_zeros();
        let mut files = Vec::new();
        for f in 0..fs.num_files() {
            if fs.pad_file_at(f)
                || fs.file_size(f) <= piece_length
                || !t.meta.piece_layer(f).is_empty()
            {
                continue;
            }
            let blocks = i64::from(fs.file_num_blocks(f));
            let leaves = merkle_num_leafs(blocks).max(1) as u64;
            let height = leaves.trailing_zeros();
            let num_pieces = fs.file_num_pieces(f).max(0) as u32;
            let Some(width) = u32::try_from(leaves >> piece_level)
                .ok()
                .filter(|w| *w >= 2)
            else {
                continue;
            };
            let length = width.min(RUN);
            let run_layers = length.trailing_zeros();
            // prove each run up to the root, the only node we know
            let uncles = height - piece_level - run_layers;
            let proof_layers = uncles + run_layers - 1;
            let root = fs.root(f);
            let runs = (0..num_pieces.div_ceil(length))
                .map(|i| Run {
                    req: HashRequest {
                        pieces_root: root,
                        base_layer: piece_level,
                        index: i * length,
                        length,
                        proof_layers,
                    },
                    done: false,
                    asked: None,
                    rejected: HashSet::new(),
                })
                .collect();
            files.push(FileFetch {
                file: f,
                root,
                piece_level,
                height,
                num_pieces,
                layer: vec![0; num_pieces as usize * 32],
                runs,
            });
        }
        if files.is_empty() {
            return false;
        }
        self.v2hashes
            .fetches
            .insert(tid, LayerFetch { blocking, files });
        self.v2hash_request(tid);
        true
    }

    /// Sends the runs nobody is working on to peers that have not refused
    /// them.
    fn v2hash_request(&mut self, tid: TorrentId) {
        let now = Instant::now();
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let mut peers: Vec<ConnId> = t.peers.iter().copied().collect();
        peers.sort();
        peers.retain(|id| self.hash_capable(*id));
        let Some(fetch) = self.v2hashes.fetches.get_mut(&tid) else {
            return;
        };
        let mut load: HashMap<ConnId, usize> = HashMap::new();
        for r in fetch.files.iter().flat_map(|f| f.runs.iter()) {
            if let (false, Some((p, _))) = (r.done, r.asked) {
                *load.entry(p).or_default() += 1;
            }
        }
        let mut sends = Vec::new();
        for r in fetch.files.iter_mut().flat_map(|f| f.runs.iter_mut()) {
            if r.done
                || r.asked
                    .is_some_and(|(_, at)| now.saturating_duration_since(at) < REQUEST_TIMEOUT)
            {
                continue;
            }
            let pick = peers
                .iter()
                .filter(|p| !r.rejected.contains(p))
                .filter(|p| load.get(p).copied().unwrap_or(0) < MAX_PER_PEER)
                .min_by_key(|p| load.get(p).copied().unwrap_or(0))
                .copied();
            let Some(p) = pick else {
                continue;
            };
            if let Some((old, _)) = r.asked {
                if let Some(n) = load.get_mut(&old) {
                    *n = n.saturating_sub(1);
                }
            }
            *load.entry(p).or_default() += 1;
            r.asked = Some((p, now));
            sends.push((p, r.req));
        }
        for (p, req) in sends {
            if let Some(peer) = self.peers.get_mut(&p) {
                let _ = peer.conn.send_hash_message(Message::HashRequest(req));
            }
            self.flush(p);
        }
    }

    /// A peer asks for hashes: answer from the file's piece layer, or
    /// refuse (unknown root, a request outside the tree, hashes below the
    /// piece layer, which we do not keep, or a layer we lack ourselves).
    fn on_hash_request(&mut self, id: ConnId, req: HashRequest) {
        let reply = self.serve_hashes(id, &req);
        let msg = match reply {
            Some(hashes) => {
                let mut buf = Vec::with_capacity(hashes.len() * 32);
                for h in &hashes {
                    buf.extend_from_slice(&h.0);
                }
                Message::Hashes {
                    request: req,
                    hashes: Bytes::from(buf),
                }
            }
            None => Message::HashReject(req),
        };
        if let Some(p) = self.peers.get_mut(&id) {
            let _ = p.conn.send_hash_message(msg);
        }
        self.flush(id);
    }

    fn serve_hashes(&mut self, id: ConnId, req: &HashRequest) -> Option<Vec<Sha256Hash>> {
        let tid = self.peers.get(&id)?.torrent?;
        let t = self.torrents.get(&tid)?;
        if !t.meta.is_valid() {
            return None;
        }
        let fs = t.meta.files();
        let file = fs.file_index_for_root(&req.pieces_root)?;
        let blocks = i64::from(fs.file_num_blocks(file));
        if !req.validate_for_file(blocks.max(0) as u64) {
            return None;
        }
        let piece_level =
            ((i64::from(fs.piece_length()) / BLOCK_SIZE).max(1) as u64).trailing_zeros();
        let tree = match self.v2hashes.trees.get(&(tid, file)) {
            Some(tree) => tree.clone(),
            None => {
                let layer = t.meta.piece_layer(file);
                if layer.is_empty() {
                    return None;
                }
                let pieces: Vec<Sha256Hash> = layer
                    .chunks_exact(32)
                    .filter_map(|c| Sha256Hash::from_slice(c).ok())
                    .collect();
                let leaves = merkle_num_leafs(blocks).max(1) as usize;
                let width = (leaves >> piece_level).max(1);
                let tree: Tree = Arc::new(merkle::tree_layers(&pieces, width, piece_level));
                self.v2hashes.trees.insert((tid, file), tree.clone());
                tree
            }
        };
        merkle::hashes_for_request(
            &tree,
            piece_level,
            req.base_layer,
            req.index,
            req.length,
            req.proof_layers,
        )
    }

    /// A `hashes` reply: if it answers a run being fetched, check it
    /// against the file's root and keep it.
    fn on_hashes(&mut self, id: ConnId, req: HashRequest, hashes: Bytes) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        let Some(fetch) = self.v2hashes.fetches.get_mut(&tid) else {
            return;
        };
        let Some(ff) = fetch.files.iter_mut().find(|f| f.root == req.pieces_root) else {
            return;
        };
        let Some(run) = ff.runs.iter_mut().find(|r| r.req == req && !r.done) else {
            // unsolicited or already answered: ignored, like libtorrent
            return;
        };
        let all: Vec<Sha256Hash> = hashes
            .chunks_exact(32)
            .filter_map(|c| Sha256Hash::from_slice(c).ok())
            .collect();
        let n = (req.length as usize).min(all.len());
        let (run_hashes, uncles) = all.split_at(n);
        let ok = merkle::verify_hash_run(
            &ff.root,
            ff.height,
            ff.piece_level,
            req.index,
            run_hashes,
            uncles,
        );
        if !ok {
            run.asked = None;
            self.disconnect(id, Some(lt_err(INVALID_HASHES)));
            self.v2hash_request(tid);
            return;
        }
        run.done = true;
        run.asked = None;
        let start = req.index as usize;
        let real = (ff.num_pieces as usize).saturating_sub(start).min(n);
        for (k, h) in run_hashes.iter().take(real).enumerate() {
            let at = (start + k) * 32;
            if let Some(dst) = ff.layer.get_mut(at..at + 32) {
                dst.copy_from_slice(&h.0);
            }
        }
        if fetch.files.iter().all(|f| f.runs.iter().all(|r| r.done)) {
            self.v2hash_complete(tid);
        } else {
            self.v2hash_request(tid);
        }
    }

    /// Every layer is in: it joins the torrent's metadata, and a v2-only
    /// torrent starts checking its files and downloading.
    fn v2hash_complete(&mut self, tid: TorrentId) {
        let Some(fetch) = self.v2hashes.fetches.remove(&tid) else {
            return;
        };
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        let meta = Arc::make_mut(&mut t.meta);
        for f in fetch.files {
            meta.set_piece_layer(f.file, f.layer);
        }
        if fetch.blocking {
            self.start_checking(tid);
        }
    }

    fn on_hash_reject(&mut self, id: ConnId, req: HashRequest) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        let Some(fetch) = self.v2hashes.fetches.get_mut(&tid) else {
            return;
        };
        for r in fetch.files.iter_mut().flat_map(|f| f.runs.iter_mut()) {
            if r.req == req && !r.done {
                r.rejected.insert(id);
                if r.asked.is_some_and(|(p, _)| p == id) {
                    r.asked = None;
                }
            }
        }
        self.v2hash_request(tid);
        self.v2hash_check_stuck(tid);
    }

    /// Gives up when a run was refused by every connected peer able to
    /// exchange hashes and is not being asked of anyone.
    fn v2hash_check_stuck(&mut self, tid: TorrentId) {
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let peers: Vec<ConnId> = t
            .peers
            .iter()
            .copied()
            .filter(|p| self.hash_capable(*p))
            .collect();
        let Some(fetch) = self.v2hashes.fetches.get(&tid) else {
            return;
        };
        let stuck = fetch.files.iter().flat_map(|f| f.runs.iter()).any(|r| {
            !r.done
                && r.asked.is_none()
                && !r.rejected.is_empty()
                && peers.iter().all(|p| r.rejected.contains(p))
        });
        if !stuck {
            return;
        }
        let blocking = fetch.blocking;
        self.v2hashes.fetches.remove(&tid);
        if !blocking {
            // hybrid: the v1 hashes check the pieces; do without layers
            return;
        }
        let error = lt_err(MISSING_PIECE_LAYER);
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        t.error = Some(error);
        t.error_file = -1;
        let torrent = t.torrent_ref();
        self.alert(AlertKind::TorrentError {
            torrent,
            error,
            filename: String::new(),
        });
        self.pause_torrent(tid);
    }

    /// Peer events of the hash exchange.
    pub(super) fn on_hash_event(&mut self, id: ConnId, ev: lt_wire::Event) {
        match ev {
            lt_wire::Event::HashRequest(h) => self.on_hash_request(id, h),
            lt_wire::Event::Hashes { request, hashes } => self.on_hashes(id, request, hashes),
            lt_wire::Event::HashReject(h) => self.on_hash_reject(id, h),
            _ => {}
        }
    }

    pub(super) fn v2hash_peer_gone(&mut self, tid: Option<TorrentId>, id: ConnId) {
        let Some(tid) = tid else {
            return;
        };
        let Some(fetch) = self.v2hashes.fetches.get_mut(&tid) else {
            return;
        };
        for r in fetch.files.iter_mut().flat_map(|f| f.runs.iter_mut()) {
            r.rejected.remove(&id);
            if r.asked.is_some_and(|(p, _)| p == id) {
                r.asked = None;
            }
        }
    }

    pub(super) fn v2hash_torrent_removed(&mut self, tid: TorrentId) {
        self.v2hashes.fetches.remove(&tid);
        self.v2hashes.trees.retain(|(t, _), _| *t != tid);
    }

    /// Once a second: ask newly connected peers, retry timed-out runs.
    pub(super) fn v2hash_tick(&mut self) {
        if self.v2hashes.fetches.is_empty() {
            return;
        }
        let tids: Vec<TorrentId> = self.v2hashes.fetches.keys().copied().collect();
        for tid in tids {
            self.v2hash_request(tid);
        }
    }
}
