//! UDP trackers (BEP 15): packet encoding and strict decoding, the
//! connection-id cache, and [`UdpTrackerConnection`], the sans-IO state
//! machine for one announce or scrape.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;

use crate::escape::parse_url;
use crate::request::{Event, RequestKind, TrackerRequest, TrackerSettings};
use crate::response::{
    parse_compact_v4, parse_compact_v6, AnnounceResponse, ReplyError, ScrapeResponse,
    MAX_PEERS_PER_REPLY,
};
use crate::TrackerError;

/// The magic `connection_id` of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// BEP 15 actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Connect = 0,
    Announce = 1,
    Scrape = 2,
    Error = 3,
}

impl Action {
    fn from_u32(v: u32) -> Option<Action> {
        Some(match v {
            0 => Action::Connect,
            1 => Action::Announce,
            2 => Action::Scrape,
            3 => Action::Error,
            _ => return None,
        })
    }
}

/// A connect request.
pub fn encode_connect(transaction_id: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    b[8..12].copy_from_slice(&(Action::Connect as u32).to_be_bytes());
    b[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    b
}

/// An announce request, laid out as libtorrent sends it: the 98-byte BEP 15
/// body, then (when the tracker URL has a path) a BEP 41 `URLData` option
/// (type 2) with up to 255 bytes of the path and query.
pub fn encode_announce(
    connection_id: u64,
    transaction_id: u32,
    req: &TrackerRequest,
    announce_ip: Option<Ipv4Addr>,
    url_data: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(98 + 2 + url_data.len().min(255));
    b.extend_from_slice(&connection_id.to_be_bytes());
    b.extend_from_slice(&(Action::Announce as u32).to_be_bytes());
    b.extend_from_slice(&transaction_id.to_be_bytes());
    b.extend_from_slice(req.info_hash.as_bytes());
    b.extend_from_slice(req.peer_id.as_bytes());
    b.extend_from_slice(&req.downloaded.to_be_bytes());
    b.extend_from_slice(&req.left.to_be_bytes());
    b.extend_from_slice(&req.uploaded.to_be_bytes());
    b.extend_from_slice(&(req.event as u32).to_be_bytes());
    b.extend_from_slice(&announce_ip.map_or(0, u32::from).to_be_bytes());
    b.extend_from_slice(&req.key.to_be_bytes());
    b.extend_from_slice(&req.num_want.to_be_bytes());
    b.extend_from_slice(&req.listen_port.to_be_bytes());
    if !url_data.is_empty() {
        let n = url_data.len().min(255);
        b.push(2);
        b.push(n as u8);
        b.extend_from_slice(&url_data[..n]);
    }
    b
}

/// A scrape request for the given info-hashes.
pub fn encode_scrape(connection_id: u64, transaction_id: u32, info_hashes: &[Sha1Hash]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + 20 * info_hashes.len());
    b.extend_from_slice(&connection_id.to_be_bytes());
    b.extend_from_slice(&(Action::Scrape as u32).to_be_bytes());
    b.extend_from_slice(&transaction_id.to_be_bytes());
    for ih in info_hashes {
        b.extend_from_slice(ih.as_bytes());
    }
    b
}

/// A decoded tracker packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpReply {
    Connect {
        transaction_id: u32,
        connection_id: u64,
    },
    /// `interval` is raw here; `min_interval` is libtorrent's fixed 60.
    Announce {
        transaction_id: u32,
        response: AnnounceResponse,
    },
    /// One `(seeders, completed, leechers)` triple per info-hash asked.
    Scrape {
        transaction_id: u32,
        entries: Vec<ScrapeResponse>,
    },
    Error {
        transaction_id: u32,
        message: String,
    },
}

/// Why a packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpParseError {
    /// Shorter than the header of its action.
    TooShort,
    /// An action number outside 0..=3.
    UnknownAction,
    /// An announce peer list that is not a whole number of entries.
    BadPeerListLength,
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

/// Decodes a tracker packet. `ipv6` selects 18-byte peer entries for
/// announce replies (BEP 15: the address family of the tracker).
pub fn parse_reply(buf: &[u8], ipv6: bool) -> Result<UdpReply, UdpParseError> {
    if buf.len() < 8 {
        return Err(UdpParseError::TooShort);
    }
    let action = Action::from_u32(be32(buf, 0)).ok_or(UdpParseError::UnknownAction)?;
    let transaction_id = be32(buf, 4);
    let body = &buf[8..];
    match action {
        Action::Connect => {
            if body.len() < 8 {
                return Err(UdpParseError::TooShort);
            }
            let mut a = [0u8; 8];
            a.copy_from_slice(&body[..8]);
            Ok(UdpReply::Connect {
                transaction_id,
                connection_id: u64::from_be_bytes(a),
            })
        }
        Action::Announce => {
            if body.len() < 12 {
                return Err(UdpParseError::TooShort);
            }
            let interval = be32(body, 0) as i32;
            let incomplete = be32(body, 4) as i32;
            let complete = be32(body, 8) as i32;
            let peers = &body[12..];
            let stride = if ipv6 { 18 } else { 6 };
            if !peers.len().is_multiple_of(stride) {
                return Err(UdpParseError::BadPeerListLength);
            }
            let mut response = AnnounceResponse {
                interval: interval.max(0) as u32,
                min_interval: 60,
                complete,
                incomplete,
                ..Default::default()
            };
            if ipv6 {
                parse_compact_v6(peers, &mut response.peers6, MAX_PEERS_PER_REPLY);
            } else {
                parse_compact_v4(peers, &mut response.peers4, MAX_PEERS_PER_REPLY);
            }
            Ok(UdpReply::Announce {
                transaction_id,
                response,
            })
        }
        Action::Scrape => {
            if body.len() < 12 {
                return Err(UdpParseError::TooShort);
            }
            let entries = body
                .chunks_exact(12)
                .map(|c| ScrapeResponse {
                    complete: be32(c, 0) as i32,
                    downloaded: be32(c, 4) as i32,
                    incomplete: be32(c, 8) as i32,
                    downloaders: -1,
                })
                .collect();
            Ok(UdpReply::Scrape {
                transaction_id,
                entries,
            })
        }
        Action::Error => Ok(UdpReply::Error {
            transaction_id,
            message: String::from_utf8_lossy(body)
                .trim_end_matches('\0')
                .to_string(),
        }),
    }
}

/// Connection ids per tracker endpoint, reused until they expire
/// (`udp_tracker_token_expiry`, 60 s). Share one per session.
#[derive(Debug, Default, Clone)]
pub struct ConnectionCache {
    map: HashMap<SocketAddr, (u64, Instant)>,
}

impl ConnectionCache {
    pub fn new() -> Self {
        Self::default()
    }
    /// A still valid connection id for `target`.
    pub fn get(&mut self, target: SocketAddr, now: Instant) -> Option<u64> {
        match self.map.get(&target) {
            Some(&(id, expires)) if now < expires => Some(id),
            Some(_) => {
                self.map.remove(&target);
                None
            }
            None => None,
        }
    }
    /// Stores a connection id for `target`, valid until `expires`. Expired
    /// ids are purged when the cache grows past 4096 entries.
    pub fn insert(&mut self, target: SocketAddr, id: u64, now: Instant, expires: Instant) {
        if self.map.len() >= 4096 {
            self.map.retain(|_, (_, e)| *e > now);
            if self.map.len() >= 4096 {
                self.map.clear();
            }
        }
        self.map.insert(target, (id, expires));
    }
    /// Forgets every id (e.g. after a network change).
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

/// What the driver should do after feeding a [`UdpTrackerConnection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpStep {
    /// Nothing: the packet was not for us, or it is not time yet.
    Idle,
    /// Send this datagram to [`UdpTrackerConnection::target`].
    Send(Vec<u8>),
    /// The request is over.
    Done(UdpOutcome),
}

/// How a UDP request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpOutcome {
    /// `interval` already raised to `min_announce_interval`.
    Announce(AnnounceResponse),
    Scrape(ScrapeResponse),
    Failed(ReplyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Connecting,
    Announcing,
    Scraping,
    Done,
}

/// First retransmission delay (BEP 15: 15 * 2^n seconds).
pub const RETRANSMIT_BASE: Duration = Duration::from_secs(15);
/// Retransmissions of one packet before giving up (BEP 15's n = 8).
pub const MAX_RETRANSMITS: u32 = 8;

/// One UDP announce or scrape, sans IO.
///
/// The driver resolves the URL's host (see [`udp_host_port`]), creates the
/// connection for one resolved address, sends what [`start`](Self::start)
/// returns, then feeds every datagram received from that address to
/// [`on_packet`](Self::on_packet) and calls [`on_timeout`](Self::on_timeout)
/// at [`next_timeout`](Self::next_timeout).
///
/// Packets are resent after 15·2ⁿ seconds without a reply; the request
/// fails with `TimedOut` at libtorrent's limit, `tracker_completion_timeout`
/// (`stop_tracker_timeout` for `stopped`) after the start, or after
/// [`MAX_RETRANSMITS`] resends, whichever is first.
#[derive(Debug)]
pub struct UdpTrackerConnection {
    req: TrackerRequest,
    target: SocketAddr,
    state: State,
    transaction_id: u32,
    rng: u64,
    retransmits: u32,
    last_send: Instant,
    deadline: Instant,
    token_expiry: Duration,
    min_announce_interval: u32,
    announce_ip: Option<Ipv4Addr>,
    url_data: Vec<u8>,
    last_packet: Vec<u8>,
}

/// Host and port of a `udp://host:port[/path]` URL.
pub fn udp_host_port(url: &str) -> Result<(String, u16), TrackerError> {
    let u = parse_url(url)?;
    if u.scheme != "udp" {
        return Err(TrackerError::UnsupportedUrlProtocol);
    }
    let port = u.port.ok_or(TrackerError::InvalidUrl(
        crate::escape::UrlError::InvalidPort,
    ))?;
    Ok((u.host, port))
}

impl UdpTrackerConnection {
    /// Prepares a request to `target`, a resolved address of the URL's
    /// host. `seed` drives the transaction ids (pass fresh randomness).
    pub fn new(
        req: TrackerRequest,
        target: SocketAddr,
        settings: &TrackerSettings,
        now: Instant,
        seed: u64,
    ) -> Result<Self, TrackerError> {
        let u = parse_url(&req.url)?;
        if u.scheme != "udp" {
            return Err(TrackerError::UnsupportedUrlProtocol);
        }
        let announce_ip = if settings.anonymous_mode {
            None
        } else {
            settings
                .announce_ip
                .parse::<IpAddr>()
                .ok()
                .and_then(|ip| match ip {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
        };
        let mut c = UdpTrackerConnection {
            deadline: now + settings.completion_timeout(req.event),
            req,
            target,
            state: State::Idle,
            transaction_id: 0,
            rng: seed,
            retransmits: 0,
            last_send: now,
            token_expiry: Duration::from_secs(u64::from(settings.udp_tracker_token_expiry)),
            min_announce_interval: settings.min_announce_interval,
            announce_ip,
            url_data: u.path.into_bytes(),
            last_packet: Vec::new(),
        };
        c.new_transaction_id();
        Ok(c)
    }

    /// The request this connection serves.
    pub fn request(&self) -> &TrackerRequest {
        &self.req
    }
    /// Where packets go.
    pub fn target(&self) -> SocketAddr {
        self.target
    }
    /// The transaction id currently expected.
    pub fn transaction_id(&self) -> u32 {
        self.transaction_id
    }

    fn new_transaction_id(&mut self) {
        loop {
            // splitmix64
            self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let t = z as u32;
            if t != 0 && t != self.transaction_id {
                self.transaction_id = t;
                return;
            }
        }
    }

    /// The first packet: a connect, or straight the announce/scrape when
    /// `cache` holds a fresh connection id for the target.
    pub fn start(&mut self, now: Instant, cache: &mut ConnectionCache) -> UdpStep {
        if self.state != State::Idle {
            return UdpStep::Idle;
        }
        match cache.get(self.target, now) {
            Some(id) => self.send_request(now, id),
            None => {
                self.state = State::Connecting;
                self.send(now, encode_connect(self.transaction_id).to_vec())
            }
        }
    }

    fn send_request(&mut self, now: Instant, connection_id: u64) -> UdpStep {
        let pkt = match self.req.kind {
            RequestKind::Announce => {
                self.state = State::Announcing;
                encode_announce(
                    connection_id,
                    self.transaction_id,
                    &self.req,
                    self.announce_ip,
                    &self.url_data,
                )
            }
            RequestKind::Scrape => {
                self.state = State::Scraping;
                encode_scrape(connection_id, self.transaction_id, &[self.req.info_hash])
            }
        };
        self.send(now, pkt)
    }

    fn send(&mut self, now: Instant, pkt: Vec<u8>) -> UdpStep {
        self.retransmits = 0;
        self.last_send = now;
        self.last_packet = pkt.clone();
        UdpStep::Send(pkt)
    }

    /// When [`on_timeout`](Self::on_timeout) should next be called.
    pub fn next_timeout(&self) -> Instant {
        let resend = self.last_send + RETRANSMIT_BASE * (1u32 << self.retransmits.min(16));
        resend.min(self.deadline)
    }

    /// Resends the outstanding packet or gives up.
    pub fn on_timeout(&mut self, now: Instant) -> UdpStep {
        if matches!(self.state, State::Idle | State::Done) {
            return UdpStep::Idle;
        }
        if now >= self.deadline {
            return self.fail(TrackerError::TimedOut);
        }
        if now < self.next_timeout() {
            return UdpStep::Idle;
        }
        if self.retransmits >= MAX_RETRANSMITS {
            return self.fail(TrackerError::TimedOut);
        }
        self.retransmits += 1;
        self.last_send = now;
        UdpStep::Send(self.last_packet.clone())
    }

    /// A datagram from `from`. Packets from elsewhere, shorter than their
    /// header, with another transaction id or an unexpected action are
    /// ignored, as libtorrent does; an error packet or a malformed peer
    /// list fails the request.
    pub fn on_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        cache: &mut ConnectionCache,
    ) -> UdpStep {
        if matches!(self.state, State::Idle | State::Done) || from != self.target {
            return UdpStep::Idle;
        }
        if data.len() < 8 || be32(data, 4) != self.transaction_id {
            return UdpStep::Idle;
        }
        let reply = match parse_reply(data, self.target.is_ipv6()) {
            Ok(r) => r,
            Err(UdpParseError::BadPeerListLength) if self.state == State::Announcing => {
                return self.fail(TrackerError::InvalidTrackerResponseLength)
            }
            Err(_) => return UdpStep::Idle,
        };
        match (self.state, reply) {
            (_, UdpReply::Error { message, .. }) => {
                self.fail(TrackerError::TrackerFailure(message))
            }
            (State::Connecting, UdpReply::Connect { connection_id, .. }) => {
                cache.insert(self.target, connection_id, now, now + self.token_expiry);
                self.new_transaction_id();
                self.send_request(now, connection_id)
            }
            (State::Announcing, UdpReply::Announce { mut response, .. }) => {
                self.state = State::Done;
                response.interval = response.interval.max(self.min_announce_interval);
                UdpStep::Done(UdpOutcome::Announce(response))
            }
            (State::Scraping, UdpReply::Scrape { entries, .. }) => {
                self.state = State::Done;
                match entries.first() {
                    Some(e) => UdpStep::Done(UdpOutcome::Scrape(*e)),
                    None => self.fail(TrackerError::InvalidTrackerResponseLength),
                }
            }
            _ => UdpStep::Idle,
        }
    }

    fn fail(&mut self, e: TrackerError) -> UdpStep {
        self.state = State::Done;
        UdpStep::Done(UdpOutcome::Failed(e.into()))
    }

    /// Whether the request is over.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The event being announced.
    pub fn event(&self) -> Event {
        self.req.event
    }
}
