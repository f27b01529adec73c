//! Peer, torrent and piece-picker logs (`peer_log_alert`,
//! `torrent_log_alert`, `picker_log_alert`).
//!
//! Every entry point checks the alert mask first and returns before
//! formatting anything when the category is off, so the logs cost one
//! atomic load per hook when unused. Incoming protocol messages are logged
//! from the connection's decoded events; outgoing ones from the bytes the
//! connection hands to the socket (before encryption), framed by a small
//! per-connection reader that keeps at most a message header.

use lt_wire::peer::Event as PeerEvent;

use super::*;
use crate::log_alert::{picker_flags, Direction, LogAlert};

/// Logging state of the session.
#[derive(Default)]
pub(super) struct LogState {
    /// Framing of each connection's outgoing byte stream, created when
    /// peer logging is on.
    out: HashMap<ConnId, OutFramer>,
}

/// Splits an outgoing stream (handshake, then length-prefixed messages)
/// into messages, keeping only the first bytes of each.
struct OutFramer {
    /// Handshake bytes still expected.
    handshake_left: usize,
    /// The bytes of the current handshake or message header.
    head: Vec<u8>,
    /// Body bytes of the current message to pass over unread.
    skip: usize,
}

/// Bytes of a message body kept for its log line (id and three integers).
const HEAD_BODY: usize = 13;
const HANDSHAKE_LEN: usize = 68;

impl OutFramer {
    fn new() -> Self {
        OutFramer {
            handshake_left: HANDSHAKE_LEN,
            head: Vec::with_capacity(HANDSHAKE_LEN),
            skip: 0,
        }
    }

    /// Feeds bytes; returns the (name, details) of every message that
    /// started in them.
    fn feed(&mut self, mut b: &[u8]) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            if self.handshake_left > 0 {
                let n = self.handshake_left.min(b.len());
                self.head.extend_from_slice(&b[..n]);
                self.handshake_left -= n;
                b = &b[n..];
                if self.handshake_left == 0 {
                    if let (Some(res), Some(ih)) = (self.head.get(20..28), self.head.get(28..48)) {
                        let bits: String = res.iter().map(|x| format!("{x:08b}")).collect();
                        out.push(("EXTENSIONS", bits));
                        out.push(("HANDSHAKE", format!("ih: {}", hex(ih))));
                    }
                    self.head.clear();
                }
                continue;
            }
            if self.skip > 0 {
                let n = self.skip.min(b.len());
                self.skip -= n;
                b = &b[n..];
                continue;
            }
            // collecting a length prefix and the start of the body
            let len = if self.head.len() >= 4 {
                u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]])
                    as usize
            } else {
                let n = (4 - self.head.len()).min(b.len());
                self.head.extend_from_slice(&b[..n]);
                b = &b[n..];
                if self.head.len() < 4 {
                    continue;
                }
                u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]])
                    as usize
            };
            let want = len.min(HEAD_BODY);
            let have = self.head.len() - 4;
            let n = (want - have.min(want)).min(b.len());
            self.head.extend_from_slice(&b[..n]);
            b = &b[n..];
            if self.head.len() - 4 == want {
                if let Some(m) = describe(&self.head[4..], len) {
                    out.push(m);
                }
                self.skip = len - want;
                self.head.clear();
            }
        }
        out
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// The log line of an outgoing message from its first bytes (`len` is
/// the whole body's length).
fn describe(body: &[u8], len: usize) -> Option<(&'static str, String)> {
    let Some(&id) = body.first() else {
        return Some(("KEEPALIVE", String::new()));
    };
    let req = || {
        format!(
            "piece: {} s: {:x} l: {:x}",
            be32(body, 1),
            be32(body, 5),
            if id == 7 {
                len.saturating_sub(9) as u32
            } else {
                be32(body, 9)
            }
        )
    };
    Some(match id {
        0 => ("CHOKE", String::new()),
        1 => ("UNCHOKE", String::new()),
        2 => ("INTERESTED", String::new()),
        3 => ("NOT_INTERESTED", String::new()),
        4 => ("HAVE", format!("piece: {}", be32(body, 1))),
        5 => ("BITFIELD", format!("bytes: {}", len.saturating_sub(1))),
        6 => ("REQUEST", req()),
        7 => ("PIECE", req()),
        8 => ("CANCEL", req()),
        9 => (
            "DHT_PORT",
            format!(
                "p: {}",
                body.get(1..3)
                    .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
            ),
        ),
        13 => ("SUGGEST", format!("piece: {}", be32(body, 1))),
        14 => ("HAVE_ALL", String::new()),
        15 => ("HAVE_NONE", String::new()),
        16 => ("REJECT_PIECE", req()),
        17 => ("ALLOWED_FAST", format!("{}", be32(body, 1))),
        20 => match body.get(1) {
            Some(0) => (
                "EXTENDED_HANDSHAKE",
                format!("bytes: {}", len.saturating_sub(2)),
            ),
            Some(e) => (
                "EXTENDED",
                format!("msg: {} bytes: {}", e, len.saturating_sub(2)),
            ),
            None => ("EXTENDED", String::new()),
        },
        21 => ("HASH_REQUEST", String::new()),
        22 => ("HASHES", String::new()),
        23 => ("HASH_REJECT", String::new()),
        _ => ("UNKNOWN", format!("id: {id} bytes: {len}")),
    })
}

fn req_text(r: &BlockRequest) -> String {
    format!("piece: {} s: {:x} l: {:x}", r.piece, r.offset, r.length)
}

impl Engine {
    /// Posts a line of connection `id`'s log. `msg` is only called when
    /// the `peer_log` category is enabled.
    pub(super) fn peer_log(
        &self,
        id: ConnId,
        direction: Direction,
        event: &'static str,
        msg: impl FnOnce() -> String,
    ) {
        if !self.should_post(category::PEER_LOG) {
            return;
        }
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let torrent = p
            .torrent
            .and_then(|t| self.torrents.get(&t))
            .map(|t| t.torrent_ref());
        let peer = PeerRef {
            endpoint: p.addr,
            pid: p.conn.peer_id().map(|h| h.0).unwrap_or([0; 20]),
        };
        self.alert(AlertKind::Extra(LogAlert::Peer {
            torrent,
            peer,
            direction,
            event,
            msg: msg(),
        }));
    }

    /// Posts a line of torrent `tid`'s log, if `torrent_log` is enabled.
    pub(super) fn torrent_log(&self, tid: TorrentId, msg: impl FnOnce() -> String) {
        if !self.should_post(category::TORRENT_LOG) {
            return;
        }
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        self.alert(AlertKind::Extra(LogAlert::Torrent {
            torrent: t.torrent_ref(),
            msg: msg(),
        }));
    }

    /// A connection starts: ours (`outgoing`) or accepted.
    pub(super) fn log_connection(&self, id: ConnId) {
        let utp = self.peers.get(&id).is_some_and(|p| p.utp.is_some());
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let dir = if p.outgoing {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        let (addr, local) = (p.addr, p.local);
        self.peer_log(id, dir, "CONNECTION", || {
            format!(
                "ep: {} type: {} local: {}",
                addr,
                if utp { "uTP" } else { "TCP" },
                local
            )
        });
    }

    /// Our connection attempt reached the peer.
    pub(super) fn log_connected(&self, id: ConnId) {
        let Some(addr) = self.peers.get(&id).map(|p| p.addr) else {
            return;
        };
        self.peer_log(id, Direction::Outgoing, "CONNECTION_ESTABLISHED", || {
            format!("ep: {addr}")
        });
    }

    /// A connection is being closed with `error`.
    pub(super) fn log_closed(&mut self, id: ConnId, error: Option<&ErrorCode>) {
        self.log.out.remove(&id);
        let e = error.copied().unwrap_or_default();
        self.peer_log(id, Direction::Info, "CONNECTION_CLOSED", || {
            format!("ERROR: ({}:{}) {}", e.category.name(), e.value, e.message())
        });
    }

    /// An incoming connection named torrent `tid`.
    pub(super) fn log_attached(&self, tid: TorrentId, id: ConnId) {
        let Some(addr) = self.peers.get(&id).map(|p| p.addr) else {
            return;
        };
        let n = self.torrents.get(&tid).map_or(0, |t| t.peers.len());
        self.torrent_log(tid, || {
            format!("ATTACHED CONNECTION \"{addr}\" connections: {n}")
        });
        self.peer_log(id, Direction::Info, "ATTACH", || {
            "attached to torrent".to_string()
        });
    }

    /// Logs bytes the connection is about to send (plaintext).
    pub(super) fn log_outgoing(&mut self, id: ConnId, b: &[u8]) {
        if !self.should_post(category::PEER_LOG) {
            return;
        }
        let msgs = self
            .log
            .out
            .entry(id)
            .or_insert_with(OutFramer::new)
            .feed(b);
        for (name, text) in msgs {
            self.peer_log(id, Direction::OutgoingMessage, name, || text);
        }
    }

    /// Logs a decoded event of the connection (incoming messages).
    pub(super) fn log_peer_event(&self, id: ConnId, ev: &PeerEvent) {
        if !self.should_post(category::PEER_LOG) {
            return;
        }
        use Direction::{Incoming as In, IncomingMessage as Msg, Info};
        let (dir, name, text): (Direction, &'static str, String) = match ev {
            PeerEvent::IncomingHandshake {
                info_hash,
                reserved,
            } => {
                let bits: String = reserved.0.iter().map(|x| format!("{x:08b}")).collect();
                self.peer_log(id, Msg, "EXTENSIONS", || bits);
                (In, "HANDSHAKE", format!("ih: {}", info_hash.to_hex()))
            }
            PeerEvent::Connected { peer_id, .. } => (
                In,
                "HANDSHAKE",
                format!(
                    "received peer_id: {} client: {}",
                    hex(&peer_id.0),
                    lt_core::fingerprint::identify_client(&peer_id.0)
                ),
            ),
            PeerEvent::Choked => (Msg, "CHOKE", String::new()),
            PeerEvent::Unchoked => (Msg, "UNCHOKE", String::new()),
            PeerEvent::Interested => (Msg, "INTERESTED", String::new()),
            PeerEvent::NotInterested => (Msg, "NOT_INTERESTED", String::new()),
            PeerEvent::Have(i) => (Msg, "HAVE", format!("piece: {i}")),
            PeerEvent::Bitfield => (Msg, "BITFIELD", String::new()),
            PeerEvent::HaveAll => (Msg, "HAVE_ALL", String::new()),
            PeerEvent::HaveNone => (Msg, "HAVE_NONE", String::new()),
            PeerEvent::DontHave(i) => (Msg, "DONT_HAVE", format!("piece: {i}")),
            PeerEvent::Block {
                piece,
                offset,
                data,
            } => (
                Msg,
                "PIECE",
                format!("piece: {} s: {:x} l: {:x}", piece, offset, data.len()),
            ),
            PeerEvent::UnrequestedBlock { piece, offset, len } => (
                Info,
                "INVALID_PIECE",
                format!("piece: {piece} s: {offset:x} l: {len:x}"),
            ),
            PeerEvent::Request(r) => (Msg, "REQUEST", req_text(r)),
            PeerEvent::InvalidRequest { request, .. } => {
                (Info, "INVALID_REQUEST", req_text(request))
            }
            PeerEvent::Cancel(r) => (Msg, "CANCEL", req_text(r)),
            PeerEvent::Rejected(r) => (Msg, "REJECT_PIECE", req_text(r)),
            PeerEvent::RequestTimedOut(r) => (Info, "REQUEST_TIME_OUT", req_text(r)),
            PeerEvent::AllowedFast(i) => (Msg, "ALLOWED_FAST", format!("{i}")),
            PeerEvent::Suggest(i) => (Msg, "SUGGEST", format!("piece: {i}")),
            PeerEvent::DhtPort(p) => (Msg, "DHT_PORT", format!("p: {p}")),
            PeerEvent::ExtensionHandshake(h) => {
                let m: Vec<String> = h.m.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                (
                    Msg,
                    "EXTENDED_HANDSHAKE",
                    format!(
                        "v: {} m: {{ {} }}",
                        h.v.as_deref().unwrap_or(""),
                        m.join(", ")
                    ),
                )
            }
            PeerEvent::Extension(m) => (
                Msg,
                "EXTENDED",
                format!("{m:?}").chars().take(200).collect(),
            ),
            PeerEvent::Extended { id: e, name, .. } => (
                Msg,
                "EXTENDED",
                format!("msg: {} {}", e, name.as_deref().unwrap_or("unknown")),
            ),
            PeerEvent::HashRequest(_) => (Msg, "HASH_REQUEST", String::new()),
            PeerEvent::Hashes { .. } => (Msg, "HASHES", String::new()),
            PeerEvent::HashReject(_) => (Msg, "HASH_REJECT", String::new()),
            PeerEvent::Disconnect { reason } => (Info, "PEER_ERROR", reason.to_string()),
        };
        self.peer_log(id, dir, name, || text);
    }

    /// The `picker_log_alert` flags describing a pick made for `peer`
    /// from torrent `t`, judged on the picker state before the picked
    /// blocks are marked requested.
    pub(super) fn picker_flags(t: &Torrent, blocks: &[BlockRef], suggested: bool) -> u32 {
        let mut f = 0;
        let initial_threshold = 4; // initial_picker_threshold
        let random = t.picker.num_have() < initial_threshold;
        let sequential = t.flags & flags::SEQUENTIAL_DOWNLOAD != 0;
        let partial: std::collections::HashSet<u32> =
            t.picker.downloading_pieces().into_iter().collect();
        for b in blocks {
            f |= if t.picker.block_state(*b) == lt_picker::BlockState::Requested {
                picker_flags::END_GAME
            } else if partial.contains(&b.piece) {
                picker_flags::PRIORITIZE_PARTIALS
            } else if suggested {
                picker_flags::SUGGESTED_PIECES
            } else if sequential {
                picker_flags::SEQUENTIAL_PIECES
            } else if random {
                picker_flags::RANDOM_PIECES
            } else {
                picker_flags::RAREST_FIRST
            };
        }
        f
    }

    /// Posts the blocks picked for connection `id`.
    pub(super) fn picker_log(&self, id: ConnId, flags: u32, blocks: &[BlockRef]) {
        if blocks.is_empty() {
            return;
        }
        let Some((torrent, peer)) = self.peer_ref(id) else {
            return;
        };
        self.alert(AlertKind::Extra(LogAlert::Picker {
            torrent,
            peer,
            flags,
            blocks: blocks.iter().map(|b| (b.piece, b.block)).collect(),
        }));
    }
}

impl Engine {
    /// Before a full file check: posts `oversized_file_alert` if a file on
    /// disk is larger than the torrent says (as libtorrent, once per
    /// check). Only looks at the files when the `storage` category is on.
    pub(super) fn check_oversized_files(&self, tid: TorrentId) {
        if !self.should_post(category::STORAGE) {
            return;
        }
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        if !t.meta.is_valid() {
            return;
        }
        let fs = t.meta.files();
        let oversized = (0..fs.num_files()).any(|i| {
            !fs.pad_file_at(i)
                && std::fs::metadata(fs.file_path(i, &t.save_path))
                    .is_ok_and(|m| m.is_file() && m.len() > fs.file_size(i).max(0) as u64)
        });
        if oversized {
            self.alert(AlertKind::Extra(LogAlert::OversizedFile {
                torrent: t.torrent_ref(),
            }));
        }
    }

    /// An error on the UDP socket of listen endpoint `idx` (`op` is
    /// `sock_read` or `sock_write`); `endpoint` is the peer address when
    /// known, else the socket's own.
    pub(super) fn udp_error(&self, endpoint: SocketAddr, op: Operation, e: &std::io::Error) {
        if !self.should_post(category::ERROR) {
            return;
        }
        self.alert(AlertKind::Extra(LogAlert::UdpError {
            endpoint,
            op,
            error: io_error(e),
        }));
    }
}

/// A failed receive on a UDP socket bound to `local`: `udp_error_alert`,
/// except for the ICMP echoes of earlier sends (refused, reset), which
/// are routine.
pub(super) fn udp_recv_error(shared: &crate::Shared, local: SocketAddr, e: &std::io::Error) {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionReset | K::WouldBlock | K::Interrupted
    ) || !shared.alerts.should_post(category::ERROR)
    {
        return;
    }
    shared
        .alerts
        .post(Alert::new(AlertKind::Extra(LogAlert::UdpError {
            endpoint: local,
            op: Operation::SockRead,
            error: io_error(e),
        })));
}
