//! Tracker replies: the bencoded HTTP announce and scrape bodies (BEP 3,
//! BEP 23 compact peers, BEP 7 `peers6`, BEP 48 scrape).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use lt_bencode::{Kind, Limits, Node};
use lt_core::{PeerId, Sha1Hash};

use crate::TrackerError;

/// Upper bound on the peers kept from one reply; the rest are dropped.
pub const MAX_PEERS_PER_REPLY: usize = 16_384;

/// A peer from the dictionary model of `peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerEntry {
    /// `peer id` when present and 20 bytes long, else all zeros.
    pub peer_id: PeerId,
    /// The `ip` string: an address or a host name.
    pub hostname: String,
    pub port: u16,
}

/// A successful announce reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds until the next regular announce (`interval`, default 1800,
    /// raised to `min_announce_interval` by the connection).
    pub interval: u32,
    /// `min interval` (default 30; UDP replies use 60).
    pub min_interval: u32,
    /// `tracker id`, empty when absent.
    pub trackerid: String,
    /// `warning message`, empty when absent.
    pub warning_message: String,
    /// Seeds (`complete`), -1 when unknown.
    pub complete: i32,
    /// Leechers (`incomplete`), -1 when unknown.
    pub incomplete: i32,
    /// Completed downloads (`downloaded`), -1 when unknown.
    pub downloaded: i32,
    /// Dictionary-model peers.
    pub peers: Vec<PeerEntry>,
    /// Compact IPv4 peers.
    pub peers4: Vec<SocketAddrV4>,
    /// Compact IPv6 peers (`peers6`, or a UDP announce over IPv6).
    pub peers6: Vec<SocketAddrV6>,
    /// Our address as the tracker sees it (`external ip`, 4 or 16 bytes).
    pub external_ip: Option<IpAddr>,
}

impl Default for AnnounceResponse {
    fn default() -> Self {
        AnnounceResponse {
            interval: 1800,
            min_interval: 30,
            trackerid: String::new(),
            warning_message: String::new(),
            complete: -1,
            incomplete: -1,
            downloaded: -1,
            peers: Vec::new(),
            peers4: Vec::new(),
            peers6: Vec::new(),
            external_ip: None,
        }
    }
}

impl AnnounceResponse {
    /// Number of peers in all three lists.
    pub fn num_peers(&self) -> usize {
        self.peers.len() + self.peers4.len() + self.peers6.len()
    }
}

/// A successful scrape reply for one info-hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeResponse {
    /// -1 when the tracker did not say.
    pub complete: i32,
    pub incomplete: i32,
    pub downloaded: i32,
    /// `downloaders` (HTTP only), -1 when absent.
    pub downloaders: i32,
}

/// A failed reply that still carried information the announce logic uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    pub error: TrackerError,
    /// `warning message`, empty when absent.
    pub warning_message: String,
    /// Seconds to wait at least before retrying: for errors about a
    /// received body (a `failure reason`, bad bencoding, missing entries)
    /// the reply's `interval`, default 1800, as libtorrent does; 0 (back-off
    /// only) for transport and HTTP status errors.
    pub retry_interval: u32,
    pub min_interval: u32,
}

impl From<TrackerError> for ReplyError {
    fn from(error: TrackerError) -> Self {
        ReplyError {
            error,
            warning_message: String::new(),
            retry_interval: 0,
            min_interval: 0,
        }
    }
}

/// An error about a body that could not be used: like libtorrent, the retry
/// waits the default interval (1800 s).
fn body_error(error: TrackerError) -> ReplyError {
    ReplyError {
        error,
        warning_message: String::new(),
        retry_interval: 1800,
        min_interval: 30,
    }
}

fn limits() -> Limits {
    Limits {
        max_depth: 32,
        max_tokens: 1_000_000,
        strict_key_order: false,
        allow_trailing: true,
    }
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

fn clamp_secs(v: i64) -> u32 {
    v.clamp(0, i64::from(i32::MAX)) as u32
}

fn string_lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn dict_int(n: &Node<'_, '_>, key: &[u8], default: i64) -> i64 {
    n.get_int(key).unwrap_or(default)
}

fn extract_peer(n: &Node<'_, '_>) -> Result<PeerEntry, TrackerError> {
    if n.kind() != Kind::Dict {
        return Err(TrackerError::InvalidPeerDict);
    }
    let peer_id = match n.get_bytes(b"peer id") {
        Some(b) if b.len() == 20 => Sha1Hash::from_slice(b).unwrap_or_default(),
        _ => PeerId::zero(),
    };
    let hostname = n
        .get_bytes(b"ip")
        .ok_or(TrackerError::InvalidTrackerResponse)?;
    let port = n
        .get_int(b"port")
        .ok_or(TrackerError::InvalidTrackerResponse)?;
    Ok(PeerEntry {
        peer_id,
        hostname: string_lossy(hostname),
        // libtorrent truncates to 16 bits
        port: port as u16,
    })
}

/// Parses compact IPv4 peers (6 bytes each; a trailing partial entry is ignored).
pub fn parse_compact_v4(b: &[u8], out: &mut Vec<SocketAddrV4>, cap: usize) {
    for c in b.chunks_exact(6).take(cap.saturating_sub(out.len())) {
        let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        out.push(SocketAddrV4::new(ip, u16::from_be_bytes([c[4], c[5]])));
    }
}

/// Parses compact IPv6 peers (18 bytes each; a trailing partial entry is ignored).
pub fn parse_compact_v6(b: &[u8], out: &mut Vec<SocketAddrV6>, cap: usize) {
    for c in b.chunks_exact(18).take(cap.saturating_sub(out.len())) {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&c[..16]);
        out.push(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            u16::from_be_bytes([c[16], c[17]]),
            0,
            0,
        ));
    }
}

/// Parses a bencoded announce reply the way libtorrent does: a
/// `failure reason` makes it an error (carrying `interval`), `peers` may be
/// a compact string or a list of dictionaries (entries without `ip`/`port`
/// are skipped; the reply fails only when all are bad), `peers6` is compact,
/// `external ip` is 4 or 16 bytes. At most [`MAX_PEERS_PER_REPLY`] peers
/// are kept.
pub fn parse_announce_response(body: &[u8]) -> Result<AnnounceResponse, ReplyError> {
    let doc = lt_bencode::decode_with(body, limits())
        .map_err(|e| body_error(TrackerError::Bdecode(e)))?;
    let root = doc.root();
    if root.kind() != Kind::Dict {
        return Err(body_error(TrackerError::InvalidTrackerResponse));
    }
    let mut resp = AnnounceResponse {
        interval: clamp_secs(dict_int(&root, b"interval", 1800)),
        min_interval: clamp_secs(dict_int(&root, b"min interval", 30)),
        ..Default::default()
    };
    if let Some(id) = root.get_bytes(b"tracker id") {
        resp.trackerid = string_lossy(id);
    }
    let warning = root
        .get_bytes(b"warning message")
        .map(string_lossy)
        .unwrap_or_default();
    if let Some(failure) = root.get_bytes(b"failure reason") {
        return Err(ReplyError {
            error: TrackerError::TrackerFailure(string_lossy(failure)),
            warning_message: warning,
            retry_interval: resp.interval,
            min_interval: resp.min_interval,
        });
    }
    resp.warning_message = warning;
    resp.complete = clamp_i32(dict_int(&root, b"complete", -1));
    resp.incomplete = clamp_i32(dict_int(&root, b"incomplete", -1));
    resp.downloaded = clamp_i32(dict_int(&root, b"downloaded", -1));

    if let Some(peers) = root.get(b"peers") {
        match peers.kind() {
            Kind::Bytes => parse_compact_v4(
                peers.as_bytes().unwrap_or_default(),
                &mut resp.peers4,
                MAX_PEERS_PER_REPLY,
            ),
            Kind::List => {
                let mut last_error = None;
                for item in peers.list_iter() {
                    if resp.peers.len() >= MAX_PEERS_PER_REPLY {
                        break;
                    }
                    match extract_peer(&item) {
                        Ok(p) => resp.peers.push(p),
                        Err(e) => last_error = Some(e),
                    }
                }
                if resp.peers.is_empty() {
                    if let Some(error) = last_error {
                        return Err(ReplyError {
                            error,
                            warning_message: resp.warning_message,
                            retry_interval: resp.interval,
                            min_interval: resp.min_interval,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(p6) = root.get_bytes(b"peers6") {
        let cap = MAX_PEERS_PER_REPLY.saturating_sub(resp.peers.len() + resp.peers4.len());
        parse_compact_v6(p6, &mut resp.peers6, cap);
    }
    if let Some(ip) = root.get_bytes(b"external ip") {
        resp.external_ip = match ip.len() {
            4 => Some(IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(ip);
                Some(IpAddr::V6(Ipv6Addr::from(a)))
            }
            _ => None,
        };
    }
    Ok(resp)
}

/// Parses a bencoded scrape reply and picks the entry of `info_hash` from
/// its `files` dictionary.
pub fn parse_scrape_response(
    body: &[u8],
    info_hash: &Sha1Hash,
) -> Result<ScrapeResponse, ReplyError> {
    let doc = lt_bencode::decode_with(body, limits())
        .map_err(|e| body_error(TrackerError::Bdecode(e)))?;
    let root = doc.root();
    if root.kind() != Kind::Dict {
        return Err(body_error(TrackerError::InvalidTrackerResponse));
    }
    let interval = clamp_secs(dict_int(&root, b"interval", 1800));
    let min_interval = clamp_secs(dict_int(&root, b"min interval", 30));
    let warning = root
        .get_bytes(b"warning message")
        .map(string_lossy)
        .unwrap_or_default();
    if let Some(failure) = root.get_bytes(b"failure reason") {
        return Err(ReplyError {
            error: TrackerError::TrackerFailure(string_lossy(failure)),
            warning_message: warning,
            retry_interval: interval,
            min_interval,
        });
    }
    let err = |error| ReplyError {
        error,
        warning_message: warning.clone(),
        retry_interval: interval,
        min_interval,
    };
    let files = root
        .get_dict(b"files")
        .ok_or_else(|| err(TrackerError::InvalidFilesEntry))?;
    let entry = files
        .get_dict(info_hash.as_bytes())
        .ok_or_else(|| err(TrackerError::InvalidHashEntry))?;
    Ok(ScrapeResponse {
        complete: clamp_i32(dict_int(&entry, b"complete", -1)),
        incomplete: clamp_i32(dict_int(&entry, b"incomplete", -1)),
        downloaded: clamp_i32(dict_int(&entry, b"downloaded", -1)),
        downloaders: clamp_i32(dict_int(&entry, b"downloaders", -1)),
    })
}
