//! Web seeds (BEP 19 `url-list`, BEP 17 `httpseeds`) as download sources.
//!
//! Each torrent has a list of web seeds (from its metainfo, the
//! `add_torrent_params`, and `add_url_seed`/`add_http_seed`). While the
//! torrent downloads, up to `max_web_seed_connections` of them are
//! connected, each by a task in [`crate::webseed_io`] that runs the sans-IO
//! [`lt_webseed::WebSeedConnection`]. The engine picks blocks for them
//! with the piece picker (as for a peer that has every piece), coalesces
//! runs of blocks into byte ranges (at most `urlseed_pipeline_size` in
//! flight), and writes the blocks that come back like a peer's. A failing
//! seed posts `url_seed_alert` and is tried again after its retry delay
//! (`urlseed_wait_retry` or the server's `Retry-After`); a seed whose data
//! fails the hash check is banned (`ban_web_seeds`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_core::error::{Category, ErrorCode};
use lt_metainfo::{WebSeed, WebSeedKind};
use lt_picker::{Bitfield, BlockRef, PeerKey, PickOptions};
use lt_settings::keys;
use lt_webseed::{CloseReason, PieceRange, WebSeedConnection, WebSeedError, WebSeedEvent};
use tokio::sync::mpsc;

use super::{io_error, Engine};
use crate::alert::{AlertKind, Operation, PeerRef, SocketType};
use crate::peer_io::ConnId;
use crate::torrent::flags;
use crate::types::{PeerInfo, TorrentId};
use crate::webseed_io::{self, WebCmd, WebIoEvent};

/// `peer_info::connection_type` of web seeds.
const WEB_SEED: u32 = 2;
const HTTP_SEED: u32 = 4;

/// Redirects followed in a row before the seed counts as failed.
const MAX_REDIRECTS: u32 = 5;

/// Web seed state of the session.
#[derive(Default)]
pub(crate) struct WebSeeds {
    torrents: HashMap<TorrentId, Vec<Seed>>,
    conns: HashMap<ConnId, WebConn>,
}

struct Seed {
    /// As listed (what `url_seeds()` returns and alerts name).
    seed: WebSeed,
    /// Where a redirect of the whole seed sent us.
    location: Option<String>,
    /// Per-file redirects (BEP 19 multi-file): the path of the file on
    /// this seed's host.
    file_paths: Vec<(usize, String)>,
    /// The files this seed has (`None`: all). A file redirected elsewhere
    /// is taken from this seed and given to an ephemeral seed at the new
    /// location, as libtorrent does.
    have_files: Option<Vec<bool>>,
    /// Made by a per-file redirect: not listed by `url_seeds()`.
    ephemeral: bool,
    redirects: u32,
    conn: Option<ConnId>,
    retry_at: Option<Instant>,
    /// Banned (corrupt data) or unusable (bad URL): never connected again.
    disabled: bool,
}

struct WebConn {
    torrent: TorrentId,
    url: String,
    kind: WebSeedKind,
    ephemeral: bool,
    key: PeerKey,
    tx: mpsc::UnboundedSender<WebCmd>,
    remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
    /// `peer_connect` was posted (so `peer_disconnected` follows).
    alerted: bool,
    /// The TCP connection is up.
    connected: bool,
    has: Bitfield,
    /// Blocks requested and not received.
    outstanding: HashSet<BlockRef>,
    ranges_in_flight: usize,
    /// Bytes granted by the download rate limiter and not requested yet.
    down_credit: u64,
    /// Its peer classes, once its address is known (engine/peer_class.rs).
    classes: Option<crate::peer_class::ClassSet>,
    total_download: i64,
    /// Payload bytes over the last second, for the speed in `peer_info`.
    rate_bytes: i64,
    down_speed: i32,
}

fn url_error_code(e: &WebSeedError) -> ErrorCode {
    let v = match e {
        WebSeedError::Url(lt_webseed::UrlError::UnsupportedScheme) => 24,
        WebSeedError::Url(lt_webseed::UrlError::Malformed) => 25,
        WebSeedError::Http(_) => 150,
        WebSeedError::InvalidRange => 87,
        WebSeedError::MissingLocation => 84,
        _ => 83,
    };
    ErrorCode::new(v, Category::Libtorrent)
}

impl Engine {
    /// The torrent's web seeds, taken from its metainfo the first time.
    fn web_seeds_mut(&mut self, tid: TorrentId) -> Option<&mut Vec<Seed>> {
        if !self.web.torrents.contains_key(&tid) {
            let t = self.torrents.get(&tid)?;
            let mut list: Vec<Seed> = Vec::new();
            // BEP 17 seeds of the metainfo are ignored, as libtorrent 2.x
            // does; they can still be added through the engine API
            for w in t
                .meta
                .web_seeds()
                .iter()
                .filter(|w| w.kind == WebSeedKind::UrlSeed)
            {
                if !list
                    .iter()
                    .any(|s| s.seed.url == w.url && s.seed.kind == w.kind)
                {
                    list.push(Seed::new(w.clone()));
                }
            }
            self.web.torrents.insert(tid, list);
        }
        self.web.torrents.get_mut(&tid)
    }

    /// `torrent_handle.url_seeds()` / `http_seeds()`, sorted as
    /// libtorrent's set.
    pub fn web_seed_urls(&mut self, tid: TorrentId, kind: WebSeedKind) -> Vec<String> {
        let mut v: Vec<String> = self
            .web_seeds_mut(tid)
            .map(|l| {
                l.iter()
                    .filter(|s| s.seed.kind == kind && !s.ephemeral)
                    .map(|s| s.seed.url.clone())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }

    /// `add_url_seed` / `add_http_seed`. False if the torrent is gone.
    pub fn add_web_seed(&mut self, tid: TorrentId, url: String, kind: WebSeedKind) -> bool {
        let Some(list) = self.web_seeds_mut(tid) else {
            return false;
        };
        match list
            .iter_mut()
            .find(|s| s.seed.url == url && s.seed.kind == kind && !s.ephemeral)
        {
            // adding again lifts a ban or an error delay
            Some(s) => {
                s.disabled = false;
                s.retry_at = None;
            }
            None => list.push(Seed::new(WebSeed {
                url,
                auth: String::new(),
                extra_headers: Vec::new(),
                kind,
            })),
        }
        true
    }

    /// `remove_url_seed` / `remove_http_seed`: forgets the seed and closes
    /// its connection. False if the torrent is gone.
    pub fn remove_web_seed(&mut self, tid: TorrentId, url: &str, kind: WebSeedKind) -> bool {
        let Some(list) = self.web_seeds_mut(tid) else {
            return false;
        };
        let mut close = Vec::new();
        list.retain(|s| {
            let gone = s.seed.url == url && s.seed.kind == kind && !s.ephemeral;
            if gone {
                close.extend(s.conn);
            }
            !gone
        });
        for c in close {
            self.web_drop(c, ErrorCode::default());
        }
        true
    }

    fn web_wait_retry(&self) -> Duration {
        Duration::from_secs(
            u64::try_from(self.settings.get_int(keys::URLSEED_WAIT_RETRY)).unwrap_or(0),
        )
    }

    /// Closes a connection from our side, with `peer_disconnected`.
    fn web_drop(&mut self, id: ConnId, error: ErrorCode) {
        if let Some(c) = self.web_close(id) {
            self.web_disconnect_alert(&c, Operation::Bittorrent, error);
        }
    }

    /// Drops a connection, returning its blocks to the picker.
    fn web_close(&mut self, id: ConnId) -> Option<WebConn> {
        let c = self.web.conns.remove(&id)?;
        self.bw.remove_conn(lt_picker::bandwidth::ConnId(c.key.0));
        if let Some(set) = &c.classes {
            self.leave_peer_classes(set);
        }
        if let Some(t) = self.torrents.get_mut(&c.torrent) {
            for b in &c.outstanding {
                t.picker.mark_aborted(*b, c.key);
            }
            t.picker.abort_peer(c.key);
        }
        if let Some(list) = self.web.torrents.get_mut(&c.torrent) {
            for s in list.iter_mut().filter(|s| s.conn == Some(id)) {
                s.conn = None;
            }
        }
        Some(c)
    }

    /// Every 100 ms: forgets removed torrents, closes the connections of
    /// torrents that need none, connects seeds that are due and keeps the
    /// connections' request pipelines full.
    pub(super) fn web_tick(&mut self) {
        if self.web.torrents.is_empty() {
            // nothing listed yet: look at new torrents
            if self
                .torrents
                .values()
                .all(|t| t.meta.web_seeds().is_empty())
            {
                return;
            }
        }
        let now = Instant::now();
        let tids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        let torrents = &self.torrents;
        self.web.torrents.retain(|t, _| torrents.contains_key(t));
        let stale: Vec<ConnId> = self
            .web
            .conns
            .iter()
            .filter(|(_, c)| !self.torrents.contains_key(&c.torrent))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(c) = self.web.conns.remove(&id) {
                self.bw.remove_conn(lt_picker::bandwidth::ConnId(c.key.0));
                if let Some(set) = &c.classes {
                    self.leave_peer_classes(set);
                }
            }
        }
        let max_conns =
            usize::try_from(self.settings.get_int(keys::MAX_WEB_SEED_CONNECTIONS)).unwrap_or(0);
        for tid in tids {
            if self.web_seeds_mut(tid).is_none_or(|l| l.is_empty()) {
                continue;
            }
            let Some(t) = self.torrents.get(&tid) else {
                continue;
            };
            let wanted = t.is_active()
                && !t.picker.is_finished()
                && t.picker.num_pieces() > 0
                && t.flags & flags::UPLOAD_MODE == 0
                && !self.paused;
            let conns: Vec<ConnId> = self
                .web
                .conns
                .iter()
                .filter(|(_, c)| c.torrent == tid)
                .map(|(id, _)| *id)
                .collect();
            if !wanted {
                let error = if t.picker.is_finished() {
                    ErrorCode::new(98, Category::Libtorrent) // torrent finished
                } else {
                    ErrorCode::default()
                };
                for c in conns {
                    self.web_drop(c, error);
                }
                continue;
            }
            let mut open = conns.len();
            let n = self.web.torrents.get(&tid).map_or(0, |l| l.len());
            for i in 0..n {
                if open >= max_conns {
                    break;
                }
                let due = self
                    .web
                    .torrents
                    .get(&tid)
                    .and_then(|l| l.get(i))
                    .is_some_and(|s| {
                        !s.disabled && s.conn.is_none() && s.retry_at.is_none_or(|at| at <= now)
                    });
                if due && self.web_connect(tid, i, now) {
                    open += 1;
                }
            }
            for c in conns {
                self.web_request(c);
            }
        }
    }

    /// Every second: the download speed of each connection.
    pub(super) fn web_second_tick(&mut self, secs: f64) {
        for c in self.web.conns.values_mut() {
            c.down_speed = (c.rate_bytes as f64 / secs.max(0.001)) as i32;
            c.rate_bytes = 0;
        }
    }

    /// Starts a connection to seed `idx` of torrent `tid`. False if it
    /// cannot be made (an alert says why).
    fn web_connect(&mut self, tid: TorrentId, idx: usize, now: Instant) -> bool {
        let s = &self.settings;
        let settings = lt_webseed::WebSeedSettings {
            user_agent: s.get_str(keys::USER_AGENT).to_string(),
            always_send_user_agent: s.get_bool(keys::ALWAYS_SEND_USER_AGENT),
            request_timeout: Duration::from_secs(
                u64::try_from(s.get_int(keys::URLSEED_TIMEOUT))
                    .unwrap_or(0)
                    .max(1),
            ),
            default_retry: Duration::from_secs(
                u64::try_from(s.get_int(keys::URLSEED_WAIT_RETRY)).unwrap_or(0),
            ),
            max_pipeline: usize::try_from(s.get_int(keys::URLSEED_PIPELINE_SIZE))
                .unwrap_or(1)
                .max(1),
            ..Default::default()
        };
        let connect_timeout = Duration::from_secs(
            u64::try_from(s.get_int(keys::PEER_CONNECT_TIMEOUT))
                .unwrap_or(15)
                .max(1),
        );
        let Some(t) = self.torrents.get(&tid) else {
            return false;
        };
        let files = t.meta.orig_files().clone();
        let ih = t.meta.info_hashes();
        let info_hash = if ih.has_v1() { ih.v1 } else { ih.best() };
        let num_pieces = t.picker.num_pieces() as usize;
        let Some(seed) = self.web.torrents.get(&tid).and_then(|l| l.get(idx)) else {
            return false;
        };
        let mut ws = seed.seed.clone();
        if let Some(loc) = &seed.location {
            ws.url = loc.clone();
        }
        let listed = seed.seed.url.clone();
        let kind = seed.seed.kind;
        let ephemeral = seed.ephemeral;
        let file_paths = seed.file_paths.clone();
        if seed
            .have_files
            .as_ref()
            .is_some_and(|hf| !hf.iter().any(|&h| h))
        {
            return false;
        }
        let has = web_pieces(t.meta.orig_files(), num_pieces, seed.have_files.as_deref());
        let conn =
            WebSeedConnection::new(&ws, files, info_hash, settings, now).and_then(|mut c| {
                if c.is_tls() {
                    // no TLS in the session (yet)
                    return Err(WebSeedError::Url(lt_webseed::UrlError::UnsupportedScheme));
                }
                for (f, p) in &file_paths {
                    c.set_file_path(*f, p)?;
                }
                Ok(c)
            });
        let literal = conn.as_ref().ok().and_then(|c| {
            let host = c.host().trim_start_matches('[').trim_end_matches(']');
            host.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, c.port()))
        });
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                if let Some(l) = self.web.torrents.get_mut(&tid) {
                    if matches!(
                        e,
                        WebSeedError::Url(lt_webseed::UrlError::UnsupportedScheme)
                    ) {
                        // kept in the list, never connected
                        if let Some(s) = l.get_mut(idx) {
                            s.disabled = true;
                        }
                    } else if idx < l.len() {
                        l.remove(idx);
                    }
                }
                self.url_seed_alert(tid, &listed, url_error_code(&e), String::new());
                return false;
            }
        };
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let tx = webseed_io::start(
            id,
            conn,
            connect_timeout,
            self.events_tx.clone(),
            self.peer_proxy(),
        );
        self.web.conns.insert(
            id,
            WebConn {
                torrent: tid,
                url: listed,
                kind,
                ephemeral,
                key: PeerKey(id.0 as u32),
                tx,
                remote: None,
                local: None,
                alerted: false,
                connected: false,
                has,
                outstanding: HashSet::new(),
                ranges_in_flight: 0,
                down_credit: 0,
                classes: None,
                total_download: 0,
                rate_bytes: 0,
                down_speed: 0,
            },
        );
        if let Some(s) = self.web.torrents.get_mut(&tid).and_then(|l| l.get_mut(idx)) {
            s.conn = Some(id);
        }
        // as libtorrent, `peer_connect` when the connection is started
        // (for a host name, once it is resolved and connected)
        if let Some(addr) = literal {
            self.web_connect_alert(id, addr);
        }
        true
    }

    fn web_connect_alert(&mut self, id: ConnId, remote: SocketAddr) {
        if self.web.conns.get(&id).is_some_and(|c| c.classes.is_none()) {
            let set = self.web_seed_classes(remote.ip());
            if let Some(c) = self.web.conns.get_mut(&id) {
                c.classes = Some(set);
            }
        }
        let Some(c) = self.web.conns.get_mut(&id) else {
            return;
        };
        c.remote = Some(remote);
        if c.alerted {
            return;
        }
        c.alerted = true;
        let Some(t) = self.torrents.get(&c.torrent) else {
            return;
        };
        let torrent = t.torrent_ref();
        self.alert(AlertKind::PeerConnect {
            torrent,
            peer: PeerRef {
                endpoint: remote,
                pid: [0; 20],
            },
            socket_type: SocketType::Tcp,
            outgoing: true,
        });
    }

    /// `peer_disconnected` for a connection that posted `peer_connect`.
    fn web_disconnect_alert(&mut self, c: &WebConn, op: Operation, error: ErrorCode) {
        let Some(endpoint) = c.remote else {
            return;
        };
        if !c.alerted {
            return;
        }
        let Some(t) = self.torrents.get(&c.torrent) else {
            return;
        };
        let torrent = t.torrent_ref();
        self.alert(AlertKind::PeerDisconnected {
            torrent,
            peer: PeerRef {
                endpoint,
                pid: [0; 20],
            },
            socket_type: SocketType::Tcp,
            op,
            error,
            reason: 0,
        });
    }

    /// Fills the connection's pipeline with picked blocks, as byte ranges.
    fn web_request(&mut self, id: ConnId) {
        let pipeline = usize::try_from(self.settings.get_int(keys::URLSEED_PIPELINE_SIZE))
            .unwrap_or(1)
            .max(1);
        let max_bytes = i64::from(self.settings.get_int(keys::URLSEED_MAX_REQUEST_BYTES))
            .max(i64::from(lt_picker::BLOCK_SIZE));
        // received blocks waiting for the disk above the limit: ask for
        // more once it drained (the 100 ms tick tries again)
        if self.recv_budget.over() {
            return;
        }
        let Some(c) = self.web.conns.get_mut(&id) else {
            return;
        };
        if !c.connected {
            return;
        }
        let Some(t) = self.torrents.get_mut(&c.torrent) else {
            return;
        };
        if !t.is_active() || t.picker.is_finished() || t.flags & flags::UPLOAD_MODE != 0 {
            return;
        }
        let pl = i64::from(t.picker.piece_length());
        let block = i64::from(lt_picker::BLOCK_SIZE);
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        while c.ranges_in_flight < pipeline {
            // about a piece's worth per request, within the rate limits
            let mut n = (pl / block).clamp(1, max_bytes / block) as usize;
            let need = (n as u64 * block as u64).saturating_sub(c.down_credit);
            if need > 0 {
                let dir = lt_picker::bandwidth::Direction::Download;
                let set = c.classes.as_ref();
                let channels: Vec<_> = std::iter::once(t.bw_channel)
                    .chain(set.into_iter().flat_map(|s| self.classes.channels(s)))
                    .collect();
                let g = self.bw.request_weighted(
                    now_ms,
                    lt_picker::bandwidth::ConnId(c.key.0),
                    &channels,
                    dir,
                    need,
                    set.map_or(1, |s| self.classes.priority(s, dir)),
                );
                c.down_credit += g.bytes;
            }
            n = n.min((c.down_credit / block as u64) as usize);
            if n == 0 {
                return;
            }
            let mut opts = PickOptions::new(c.key);
            opts.max_requesters = 2;
            let blocks = t.picker.pick(&c.has, n, &opts);
            if blocks.is_empty() {
                return;
            }
            let mut ranges: Vec<(i64, i64)> = Vec::new();
            for b in blocks {
                if !t.picker.mark_requested(b, c.key) {
                    continue;
                }
                c.outstanding.insert(b);
                c.down_credit = c
                    .down_credit
                    .saturating_sub(u64::from(t.picker.block_size(b)));
                let start = i64::from(b.piece) * pl + i64::from(b.block) * block;
                let len = i64::from(t.picker.block_size(b));
                match ranges.last_mut() {
                    Some((s, l)) if *s + *l == start && *l + len <= max_bytes => *l += len,
                    _ => ranges.push((start, len)),
                }
            }
            if ranges.is_empty() {
                return;
            }
            for (start, len) in ranges {
                let r = PieceRange {
                    piece: (start / pl) as i32,
                    start: (start % pl) as i32,
                    length: len as i32,
                };
                if c.tx.send(WebCmd::Request(r)).is_err() {
                    return;
                }
                c.ranges_in_flight += 1;
            }
        }
    }

    /// An event from a web seed task.
    pub(super) fn on_web_event(&mut self, id: ConnId, ev: WebIoEvent) {
        match ev {
            WebIoEvent::Connected { local, remote } => {
                if let Some(c) = self.web.conns.get_mut(&id) {
                    c.local = Some(local);
                    c.connected = true;
                }
                self.web_connect_alert(id, remote);
                self.web_request(id);
            }
            WebIoEvent::ConnectFailed(e) => {
                let Some(c) = self.web_close(id) else {
                    return;
                };
                // libtorrent posts no url_seed_alert for this, only
                // peer_disconnected, and tries again later
                self.web_disconnect_alert(&c, Operation::Connect, io_error(&e));
                let wait = self.web_wait_retry();
                self.web_set_retry(&c, Some(wait));
            }
            WebIoEvent::Conn(WebSeedEvent::Block {
                piece,
                offset,
                data,
            }) => self.web_block(id, piece, offset, data),
            WebIoEvent::Conn(WebSeedEvent::RequestDone(_)) => {
                if let Some(c) = self.web.conns.get_mut(&id) {
                    c.ranges_in_flight = c.ranges_in_flight.saturating_sub(1);
                }
                self.web_request(id);
            }
            WebIoEvent::Conn(WebSeedEvent::Closed { reason, .. }) => {
                let Some(c) = self.web_close(id) else {
                    return;
                };
                self.web_closed(c, reason);
            }
        }
    }

    fn web_block(&mut self, id: ConnId, piece: i32, offset: i32, data: Vec<u8>) {
        let (Ok(piece), Ok(offset)) = (u32::try_from(piece), u32::try_from(offset)) else {
            return;
        };
        let Some(c) = self.web.conns.get_mut(&id) else {
            return;
        };
        let b = BlockRef::new(piece, offset / lt_picker::BLOCK_SIZE);
        if !c.outstanding.remove(&b) {
            // pad-file blocks (the picker never asks for them) and
            // blocks of ranges the picker took back
            return;
        }
        let len = data.len() as i64;
        c.total_download += len;
        c.rate_bytes += len;
        let key = c.key;
        let Some(t) = self.torrents.get_mut(&c.torrent) else {
            return;
        };
        t.total_payload_download += len;
        t.total_download += len;
        match t.picker.mark_received(b, key) {
            None => t.total_redundant_bytes += len,
            Some(cancel) => {
                t.contributors.entry(piece).or_default().insert(id);
                let storage = t.storage;
                if let Some(disk) = &self.disk {
                    self.recv_budget.add(data.len());
                    disk.async_write(storage, piece, offset, data);
                }
                for k in cancel {
                    let o = ConnId(u64::from(k.0));
                    if let Some(q) = self.peers.get_mut(&o) {
                        let _ = q.conn.cancel(lt_wire::message::BlockRequest::new(
                            piece, offset, len as u32,
                        ));
                        q.pipeline.on_request_removed(b);
                    }
                    self.flush(o);
                }
            }
        }
    }

    fn web_closed(&mut self, c: WebConn, reason: CloseReason) {
        let wait = self.web_wait_retry();
        let error = match &reason {
            CloseReason::HttpStatus { status, .. } => {
                ErrorCode::new(i32::from(*status), Category::Http)
            }
            CloseReason::Redirect { .. } => ErrorCode::new(86, Category::Libtorrent),
            CloseReason::Protocol(e) => url_error_code(e),
            CloseReason::Timeout => ErrorCode::new(36, Category::Libtorrent),
            CloseReason::ServerClosed | CloseReason::Local => ErrorCode::default(),
        };
        self.web_disconnect_alert(&c, Operation::Bittorrent, error);
        match reason {
            CloseReason::Local => {}
            CloseReason::ServerClosed => {
                // reconnect at once while it makes progress
                if c.total_download == 0 {
                    self.web_set_retry(&c, Some(wait));
                }
            }
            CloseReason::Redirect { location, file, .. } => {
                let ok = self.web_redirect(&c, location, file);
                if !ok {
                    self.web_failed(
                        &c,
                        ErrorCode::new(85, Category::Libtorrent),
                        String::new(),
                        None,
                    );
                }
            }
            CloseReason::HttpStatus {
                status,
                reason,
                retry_after,
                ..
            } => {
                let msg = format!("{status} {reason}");
                self.web_failed(&c, ErrorCode::default(), msg, Some(retry_after));
            }
            CloseReason::Protocol(e) => {
                self.web_failed(&c, url_error_code(&e), String::new(), None);
            }
            CloseReason::Timeout => {
                self.web_failed(
                    &c,
                    ErrorCode::new(36, Category::Libtorrent),
                    String::new(),
                    None,
                );
            }
        }
    }

    /// Follows a redirect: of the whole seed, or (BEP 19 multi-file) of
    /// one file on the same host. False if it cannot be followed.
    fn web_redirect(&mut self, c: &WebConn, location: String, file: Option<usize>) -> bool {
        let Some(s) = self
            .web
            .torrents
            .get_mut(&c.torrent)
            .and_then(|l| l.iter_mut().find(|s| s.is(c)))
        else {
            return true;
        };
        let Some(f) = file else {
            s.redirects += 1;
            if s.redirects > MAX_REDIRECTS {
                return false;
            }
            s.location = Some(location);
            s.retry_at = None;
            return true;
        };
        // one file moved: this seed no longer has it; an ephemeral seed at
        // the new origin has it at the new path
        let Ok((origin, path)) = lt_webseed::split_url(&location) else {
            return false;
        };
        let hops = s.redirects + 1;
        if hops > MAX_REDIRECTS {
            return false;
        }
        let Some(nfiles) = self
            .torrents
            .get(&c.torrent)
            .map(|t| t.meta.orig_files().num_files())
        else {
            return true;
        };
        let Some(list) = self.web.torrents.get_mut(&c.torrent) else {
            return true;
        };
        let Some(s) = list.iter_mut().find(|s| s.is(c)) else {
            return true;
        };
        if let Some(h) = s
            .have_files
            .get_or_insert_with(|| vec![true; nfiles])
            .get_mut(f)
        {
            *h = false;
        }
        s.retry_at = None;
        let (auth, headers) = (s.seed.auth.clone(), s.seed.extra_headers.clone());
        let base = format!("{origin}/");
        let idx = match list.iter().position(|e| e.ephemeral && e.seed.url == base) {
            Some(i) => i,
            None => {
                let mut e = Seed::new(WebSeed {
                    url: base,
                    auth,
                    extra_headers: headers,
                    kind: WebSeedKind::UrlSeed,
                });
                e.ephemeral = true;
                e.have_files = Some(vec![false; nfiles]);
                list.push(e);
                list.len() - 1
            }
        };
        if let Some(e) = list.get_mut(idx) {
            e.redirects = e.redirects.max(hops);
            if let Some(h) = e.have_files.as_mut().and_then(|v| v.get_mut(f)) {
                *h = true;
            }
            e.file_paths.retain(|(g, _)| *g != f);
            e.file_paths.push((f, path));
            e.retry_at = None;
            // a live connection of that seed: close it, so the next one
            // asks for the new file at its path
            if let Some(cid) = e.conn {
                self.web_drop(cid, ErrorCode::default());
            }
        }
        true
    }

    fn web_set_retry(&mut self, c: &WebConn, after: Option<Duration>) {
        let at = after.map(|d| Instant::now() + d);
        if let Some(s) = self
            .web
            .torrents
            .get_mut(&c.torrent)
            .and_then(|l| l.iter_mut().find(|s| s.is(c)))
        {
            s.retry_at = at;
        }
    }

    /// A failed connection: `url_seed_alert`, then a retry after `retry`
    /// (default `urlseed_wait_retry`).
    fn web_failed(&mut self, c: &WebConn, error: ErrorCode, msg: String, retry: Option<Duration>) {
        let wait = self.web_wait_retry();
        self.web_set_retry(c, Some(retry.unwrap_or(wait)));
        self.url_seed_alert(c.torrent, &c.url, error, msg);
    }

    fn url_seed_alert(&mut self, tid: TorrentId, url: &str, error: ErrorCode, msg: String) {
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let torrent = t.torrent_ref();
        self.alert(AlertKind::UrlSeed {
            torrent,
            url: url.to_string(),
            error,
            msg,
        });
    }

    /// A piece failed its hash check: a web seed that sent all of it is
    /// banned (`ban_web_seeds`), as libtorrent does.
    pub(super) fn web_piece_failed(&mut self, tid: TorrentId, contributors: &HashSet<ConnId>) {
        if contributors.len() != 1 || !self.settings.get_bool(keys::BAN_WEB_SEEDS) {
            return;
        }
        for id in contributors {
            let Some(c) = self.web_close(*id) else {
                continue;
            };
            // a banned seed is dropped from the list
            if let Some(l) = self.web.torrents.get_mut(&tid) {
                l.retain(|s| !s.is(&c));
            }
            if let (Some(t), Some(endpoint)) = (self.torrents.get(&tid), c.remote) {
                let torrent = t.torrent_ref();
                self.alert(AlertKind::PeerBan {
                    torrent,
                    peer: crate::alert::PeerRef {
                        endpoint,
                        pid: [0; 20],
                    },
                });
            }
            self.url_seed_alert(
                tid,
                &c.url,
                ErrorCode::new(91, Category::Libtorrent),
                String::new(),
            );
            // too many corrupt pieces
            self.web_disconnect_alert(
                &c,
                Operation::Bittorrent,
                ErrorCode::new(93, Category::Libtorrent),
            );
        }
    }

    /// `peer_info` entries of the torrent's connected web seeds.
    pub(super) fn web_peer_info(&self, tid: TorrentId) -> Vec<PeerInfo> {
        let n = self.torrents.get(&tid).map_or(0, |t| t.picker.num_pieces());
        self.web
            .conns
            .values()
            .filter(|c| c.torrent == tid)
            .filter(|c| c.connected)
            .filter_map(|c| {
                let remote = c.remote?;
                Some(PeerInfo {
                    ip: remote,
                    local_endpoint: c.local.unwrap_or(remote),
                    pid: [0; 20],
                    client: Vec::new(),
                    // interesting, outgoing_connection, seed
                    flags: 0x1 | 0x20 | 0x400,
                    source: 0,
                    connection_type: match c.kind {
                        WebSeedKind::UrlSeed => WEB_SEED,
                        WebSeedKind::HttpSeed => HTTP_SEED,
                    },
                    pieces: vec![true; n as usize],
                    num_pieces: n as i32,
                    up_speed: 0,
                    down_speed: c.down_speed,
                    payload_up_speed: 0,
                    payload_down_speed: c.down_speed,
                    total_download: c.total_download,
                    total_upload: 0,
                    download_queue_length: c.outstanding.len() as i32,
                    upload_queue_length: 0,
                    queue_bytes: 0,
                    request_timeout: 0,
                    num_hashfails: 0,
                    failcount: 0,
                    downloading_piece_index: -1,
                    downloading_block_index: -1,
                    downloading_progress: 0,
                    downloading_total: 0,
                    progress: 1.0,
                    progress_ppm: 1_000_000,
                    last_request: Duration::ZERO,
                    last_active: Duration::ZERO,
                    rtt: 0,
                    send_buffer_size: 0,
                    used_send_buffer: 0,
                    receive_buffer_size: 0,
                    used_receive_buffer: 0,
                    download_rate_peak: 0,
                    upload_rate_peak: 0,
                    read_state: super::bw_state(
                        c.down_credit == 0,
                        c.ranges_in_flight > 0,
                        self.recv_budget.over(),
                    ),
                    write_state: super::bw_state(false, false, false),
                    pending_disk_bytes: 0,
                    send_quota: 0,
                    receive_quota: c.down_credit.min(i32::MAX as u64) as i32,
                    download_queue_time: {
                        let queued = c.outstanding.len() as i64 * i64::from(lt_picker::BLOCK_SIZE);
                        (queued / i64::from(c.down_speed.max(1))) as i32
                    },
                    remote_dl_rate: 0,
                })
            })
            .collect()
    }
}

impl Seed {
    /// The seed a connection was made to.
    fn is(&self, c: &WebConn) -> bool {
        self.seed.url == c.url && self.seed.kind == c.kind && self.ephemeral == c.ephemeral
    }

    fn new(seed: WebSeed) -> Self {
        Seed {
            seed,
            location: None,
            file_paths: Vec::new(),
            have_files: None,
            ephemeral: false,
            redirects: 0,
            conn: None,
            retry_at: None,
            disabled: false,
        }
    }
}

/// The pieces a seed having `have_files` (`None`: every file) can serve:
/// those lying wholly in files it has (pad files aside).
fn web_pieces(
    fs: &lt_metainfo::FileStorage,
    num_pieces: usize,
    have_files: Option<&[bool]>,
) -> Bitfield {
    let Some(hf) = have_files else {
        return Bitfield::full(num_pieces);
    };
    let mut b = Bitfield::new(num_pieces);
    for p in 0..num_pieces {
        let slices = fs.map_block(p as i32, 0, i64::from(fs.piece_size(p as i32)));
        let ok = slices
            .iter()
            .all(|x| fs.pad_file_at(x.file_index) || hf.get(x.file_index).copied() == Some(true));
        if ok {
            b.set(p);
        }
    }
    b
}
