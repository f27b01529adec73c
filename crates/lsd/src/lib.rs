//! Local Service Discovery (BEP 14), sans IO, as libtorrent does it.
//!
//! Peers on the local network find each other by sending small HTTP-like
//! datagrams to a multicast group (`239.192.152.143:6771` for IPv4,
//! `[ff15::efc0:988f]:6771` for IPv6):
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: 6881\r\n
//! Infohash: 0123456789abcdef0123456789abcdef01234567\r\n
//! cookie: 1a2b3c4d\r\n
//! \r\n\r\n
//! ```
//!
//! * [`encode_announce`] / [`parse_announce`]: the message codec. Parsing is
//!   strict and bounded (at most [`MAX_DATAGRAM`] bytes and
//!   [`MAX_HEADERS`] header lines; no allocation beyond the info-hash
//!   list).
//! * [`Lsd`]: the per-interface state machine. It owns no socket and reads
//!   no clock: the driver feeds it received datagrams
//!   ([`Lsd::on_datagram`]) and the time ([`Lsd::tick`]), and sends the
//!   [`Datagram`]s it returns to the multicast group.
//!
//! # Scheduling (libtorrent's behaviour)
//!
//! * A torrent is announced when it starts ([`Lsd::announce`]), then the
//!   registered torrents are announced one at a time, round robin, every
//!   `max(local_service_announce_interval / number_of_torrents, 1 s)`, so
//!   each torrent is announced about once per interval (default 300 s).
//!   The first round-robin slot is at a random point of the first period.
//! * Each announce is sent three times (at 0 s, +2 s and +6 s) because
//!   multicast is lossy. A torrent with a v1 and a v2 info-hash sends one
//!   message per hash (the v2 hash truncated to 20 bytes), as libtorrent
//!   does.
//! * Rate limiting: explicit announces of one torrent closer together than
//!   [`LsdConfig::min_announce_gap`] (BEP 14 asks for no more than one a
//!   minute) are dropped, a torrent is never queued twice, and all sending
//!   goes through a token bucket ([`LsdConfig::burst`],
//!   [`LsdConfig::datagrams_per_second`]).
//!
//! # Receiving
//!
//! A received announce is ignored when it carries our own cookie (our own
//! multicast looped back), when the sender is outside
//! [`LsdConfig::local_network`] (like libtorrent, which only accepts
//! peers from the network of the interface it listens on), or when none of
//! its info-hashes belongs to a registered torrent. Otherwise every
//! matching info-hash gives an [`LsdPeer`]: "peer `from.ip():Port` has
//! info-hash H". Private torrents must not be registered (the session's
//! job, as in libtorrent).
//!
//! # Driving loop
//!
//! One [`Lsd`] per listen interface, with a UDP socket bound to port 6771
//! (`SO_REUSEADDR`) joined to the group on that interface:
//!
//! ```no_run
//! use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
//! use std::time::{Duration, Instant};
//! use lt_core::{InfoHash, Sha1Hash};
//! use lt_lsd::{Family, Lsd, LsdConfig, LSD_GROUP_V4, LSD_PORT};
//!
//! let iface = Ipv4Addr::LOCALHOST;
//! let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
//! sock.set_reuse_address(true).unwrap();
//! sock.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, LSD_PORT)).into()).unwrap();
//! sock.join_multicast_v4(&LSD_GROUP_V4, &iface).unwrap();
//! sock.set_multicast_if_v4(&iface).unwrap();
//! sock.set_multicast_loop_v4(true).unwrap();
//! sock.set_multicast_ttl_v4(32).unwrap();
//! let sock: UdpSocket = sock.into();
//!
//! let cfg = LsdConfig::new(Family::V4, 6881);
//! let seed = 0x1234_5678_9abc_def0; // from the OS RNG in a real session
//! let mut lsd = Lsd::new(cfg, seed, Instant::now());
//! let ih = InfoHash::from_v1(Sha1Hash([7; 20]));
//! lsd.add_torrent(ih);
//! lsd.announce(&ih, Instant::now());
//! let mut buf = [0u8; 1500];
//! loop {
//!     for d in lsd.tick(Instant::now()) {
//!         let _ = sock.send_to(&d.payload, d.to);
//!     }
//!     let wait = lsd.next_timeout().saturating_duration_since(Instant::now());
//!     sock.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).unwrap();
//!     if let Ok((n, from)) = sock.recv_from(&mut buf) {
//!         if let Ok(peers) = lsd.on_datagram(&buf[..n], from, Instant::now()) {
//!             for p in peers {
//!                 println!("{} has {}", p.peer, p.info_hash.to_hex());
//!             }
//!         }
//!     }
//! }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use lt_core::{InfoHash, Sha1Hash};

/// The LSD UDP port.
pub const LSD_PORT: u16 = 6771;
/// The IPv4 multicast group.
pub const LSD_GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 192, 152, 143);
/// The IPv6 multicast group (site-local scope).
pub const LSD_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f);
/// Largest datagram accepted (libtorrent's receive buffer).
pub const MAX_DATAGRAM: usize = 1500;
/// Most header lines accepted in one message.
pub const MAX_HEADERS: usize = 32;
/// Times each announce is sent (first send plus two resends).
pub const SENDS_PER_ANNOUNCE: u8 = 3;

/// Address family of the interface an [`Lsd`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The multicast group and port announces are sent to.
    pub fn group(self) -> SocketAddr {
        match self {
            Family::V4 => SocketAddr::from((LSD_GROUP_V4, LSD_PORT)),
            Family::V6 => SocketAddr::V6(SocketAddrV6::new(LSD_GROUP_V6, LSD_PORT, 0, 0)),
        }
    }

    /// The `Host` header's address part.
    fn host(self) -> &'static str {
        match self {
            Family::V4 => "239.192.152.143",
            Family::V6 => "[ff15::efc0:988f]",
        }
    }
}

/// Why a received datagram produced no peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LsdError {
    /// Longer than [`MAX_DATAGRAM`].
    TooLarge(usize),
    /// The header block does not end with an empty line.
    Incomplete,
    /// The first line is not `METHOD TARGET HTTP/1.x`.
    BadRequestLine,
    /// The method is not `BT-SEARCH`.
    WrongMethod,
    /// A header line is not `name: value` with visible characters.
    BadHeader,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// No `Port` header.
    MissingPort,
    /// The `Port` header is not a number in 1..=65534.
    BadPort,
    /// No `Infohash` header with 40 hex digits (all zeros is not valid).
    NoInfoHash,
    /// The message carries our own cookie (our own announce looped back).
    OwnAnnounce,
    /// The sender is outside [`LsdConfig::local_network`].
    ForeignNetwork,
    /// None of the info-hashes belongs to a registered torrent.
    UnknownTorrent,
}

impl fmt::Display for LsdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LsdError::TooLarge(n) => write!(f, "LSD datagram too large ({n} bytes)"),
            LsdError::Incomplete => f.write_str("incomplete LSD message"),
            LsdError::BadRequestLine => f.write_str("invalid LSD request line"),
            LsdError::WrongMethod => f.write_str("invalid LSD method (expected BT-SEARCH)"),
            LsdError::BadHeader => f.write_str("invalid LSD header line"),
            LsdError::TooManyHeaders => f.write_str("too many LSD header lines"),
            LsdError::MissingPort => f.write_str("LSD message without port"),
            LsdError::BadPort => f.write_str("invalid LSD port"),
            LsdError::NoInfoHash => f.write_str("LSD message without a valid info-hash"),
            LsdError::OwnAnnounce => f.write_str("our own LSD announce"),
            LsdError::ForeignNetwork => f.write_str("LSD message from outside the local network"),
            LsdError::UnknownTorrent => f.write_str("LSD message for no torrent of ours"),
        }
    }
}

impl std::error::Error for LsdError {}

/// A parsed `BT-SEARCH` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The sender's BitTorrent listen port.
    pub port: u16,
    /// Every well-formed, non-zero info-hash, in message order.
    pub info_hashes: Vec<Sha1Hash>,
    /// The sender's cookie, when present and hexadecimal.
    pub cookie: Option<u32>,
}

/// Builds a `BT-SEARCH` message for `family`'s group, byte for byte as
/// libtorrent writes it (one `Infohash` header per hash, lower-case hex
/// cookie, `\r\n\r\n` after the empty line).
pub fn encode_announce(
    family: Family,
    port: u16,
    info_hashes: &[Sha1Hash],
    cookie: u32,
) -> Vec<u8> {
    let mut s = String::with_capacity(100 + 53 * info_hashes.len());
    s.push_str("BT-SEARCH * HTTP/1.1\r\nHost: ");
    s.push_str(family.host());
    s.push_str(":6771\r\nPort: ");
    s.push_str(&port.to_string());
    s.push_str("\r\n");
    for ih in info_hashes {
        s.push_str("Infohash: ");
        s.push_str(&ih.to_hex());
        s.push_str("\r\n");
    }
    s.push_str(&format!("cookie: {cookie:x}\r\n\r\n\r\n"));
    s.into_bytes()
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| *c != b' ' && *c != b'\t')
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn parse_info_hash(v: &[u8]) -> Option<Sha1Hash> {
    if v.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(v.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (hex_digit(*hi)? << 4) | hex_digit(*lo)?;
    }
    let h = Sha1Hash(out);
    (!h.is_zero()).then_some(h)
}

fn parse_port(v: &[u8]) -> Result<u16, LsdError> {
    if v.is_empty() || v.len() > 5 || !v.iter().all(u8::is_ascii_digit) {
        return Err(LsdError::BadPort);
    }
    let n = v.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    // libtorrent rejects 0 and 65535 (`port >= uint16 max`).
    match u16::try_from(n) {
        Ok(p) if p != 0 && p != u16::MAX => Ok(p),
        _ => Err(LsdError::BadPort),
    }
}

fn parse_cookie(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    v.iter()
        .try_fold(0u32, |a, c| Some((a << 4) | u32::from(hex_digit(*c)?)))
}

/// Parses a received `BT-SEARCH` message.
///
/// Accepts `\r\n` or bare `\n` line ends, a case-insensitive method and
/// header names, and ignores bytes after the empty line. The first `Port`
/// and `cookie` headers count; every `Infohash` header is read, malformed
/// ones (not 40 hex digits, or all zeros) are skipped as libtorrent does.
pub fn parse_announce(data: &[u8]) -> Result<Announce, LsdError> {
    if data.len() > MAX_DATAGRAM {
        return Err(LsdError::TooLarge(data.len()));
    }
    // only lines terminated by '\n' are complete
    let mut lines = data
        .split_inclusive(|c| *c == b'\n')
        .map_while(|l| l.strip_suffix(b"\n"));
    let first = lines.next().ok_or(LsdError::BadRequestLine)?;
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let mut parts = first.split(|c| *c == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LsdError::BadRequestLine);
    };
    if target.is_empty() || !version.starts_with(b"HTTP/1.") || version.len() != 8 {
        return Err(LsdError::BadRequestLine);
    }
    if !method.eq_ignore_ascii_case(b"BT-SEARCH") {
        return Err(LsdError::WrongMethod);
    }
    let mut port = None;
    let mut cookie = None;
    let mut cookie_seen = false;
    let mut info_hashes = Vec::new();
    let mut count = 0usize;
    let mut finished = false;
    for raw in lines {
        let l = raw.strip_suffix(b"\r").unwrap_or(raw);
        if l.is_empty() {
            finished = true;
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(LsdError::TooManyHeaders);
        }
        let colon = l
            .iter()
            .position(|c| *c == b':')
            .ok_or(LsdError::BadHeader)?;
        let (name, rest) = l.split_at(colon);
        let value = trim(rest.get(1..).unwrap_or(&[]));
        let name_ok = !name.is_empty()
            && name
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c));
        let value_ok = value
            .iter()
            .all(|c| (0x20..0x7f).contains(c) || *c == b'\t');
        if !name_ok || !value_ok {
            return Err(LsdError::BadHeader);
        }
        if name.eq_ignore_ascii_case(b"port") {
            if port.is_none() {
                port = Some(parse_port(value));
            }
        } else if name.eq_ignore_ascii_case(b"cookie") {
            if !cookie_seen {
                cookie_seen = true;
                cookie = parse_cookie(value);
            }
        } else if name.eq_ignore_ascii_case(b"infohash") {
            if let Some(h) = parse_info_hash(value) {
                info_hashes.push(h);
            }
        }
    }
    if !finished {
        return Err(LsdError::Incomplete);
    }
    let port = port.ok_or(LsdError::MissingPort)??;
    if info_hashes.is_empty() {
        return Err(LsdError::NoInfoHash);
    }
    Ok(Announce {
        port,
        info_hashes,
        cookie,
    })
}

/// Settings of an [`Lsd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsdConfig {
    /// Family of the interface (which group and `Host` to use).
    pub family: Family,
    /// Our BitTorrent listen port, sent in `Port`.
    pub listen_port: u16,
    /// `local_service_announce_interval`: each torrent is announced about
    /// once per interval (default 300 s).
    pub announce_interval: Duration,
    /// Explicit [`Lsd::announce`] calls for one torrent closer together
    /// than this are dropped (default 60 s, BEP 14's "one per minute").
    pub min_announce_gap: Duration,
    /// Token bucket size: datagrams that may be sent back to back.
    pub burst: u32,
    /// Token bucket refill rate; 0 turns the rate limit off.
    pub datagrams_per_second: u32,
    /// `(address, netmask)` of the interface; announces from outside that
    /// network are ignored. `None` accepts any sender.
    pub local_network: Option<(IpAddr, IpAddr)>,
}

impl LsdConfig {
    /// Defaults for `family` and our `listen_port`.
    pub fn new(family: Family, listen_port: u16) -> Self {
        LsdConfig {
            family,
            listen_port,
            announce_interval: Duration::from_secs(300),
            min_announce_gap: Duration::from_secs(60),
            burst: 20,
            datagrams_per_second: 5,
            local_network: None,
        }
    }
}

/// A datagram to send to [`Family::group`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Destination: the LSD multicast group and port.
    pub to: SocketAddr,
    /// The message.
    pub payload: Vec<u8>,
}

/// "Peer `peer` has info-hash `info_hash`", for the registered torrent
/// `torrent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsdPeer {
    /// The torrent as registered with [`Lsd::add_torrent`].
    pub torrent: InfoHash,
    /// The 20-byte info-hash as announced (v1, or v2 truncated).
    pub info_hash: Sha1Hash,
    /// The sender's address with the announced port.
    pub peer: SocketAddr,
}

#[derive(Clone, Debug)]
struct Torrent {
    ih: InfoHash,
    last_explicit: Option<Instant>,
}

#[derive(Clone, Debug)]
struct Pending {
    ih: InfoHash,
    sends: u8,
    due: Instant,
}

/// The LSD state machine for one interface. See the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct Lsd {
    cfg: LsdConfig,
    cookie: u32,
    torrents: Vec<Torrent>,
    next_rr: usize,
    next_rr_at: Instant,
    queue: VecDeque<Pending>,
    tokens: u32,
    /// Time of the last token refill.
    refill_at: Instant,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn ih_hashes(ih: &InfoHash) -> Vec<Sha1Hash> {
    let mut v = Vec::with_capacity(2);
    if ih.has_v2() {
        v.push(ih.v2.truncated());
    }
    if ih.has_v1() {
        v.push(ih.v1);
    }
    v
}

fn in_network(addr: IpAddr, net: (IpAddr, IpAddr)) -> bool {
    let map = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match (map(addr), map(net.0), map(net.1)) {
        (IpAddr::V4(a), IpAddr::V4(n), IpAddr::V4(m)) => {
            u32::from(a) & u32::from(m) == u32::from(n) & u32::from(m)
        }
        (IpAddr::V6(a), IpAddr::V6(n), IpAddr::V6(m)) => {
            u128::from(a) & u128::from(m) == u128::from(n) & u128::from(m)
        }
        _ => false,
    }
}

impl Lsd {
    /// A new state machine. `seed` feeds the cookie and the random start
    /// (pass OS randomness); `now` is the current time.
    pub fn new(cfg: LsdConfig, seed: u64, now: Instant) -> Self {
        let mut st = seed;
        let cookie = (splitmix(&mut st) & 0x7fff_ffff) as u32;
        let first = cfg.announce_interval.max(Duration::from_secs(1));
        let millis = u64::try_from(first.as_millis()).unwrap_or(u64::MAX).max(1);
        let start = Duration::from_millis(splitmix(&mut st) % millis);
        Lsd {
            tokens: cfg.burst,
            cfg,
            cookie,
            torrents: Vec::new(),
            next_rr: 0,
            next_rr_at: now + start,
            queue: VecDeque::new(),
            refill_at: now,
        }
    }

    /// Our cookie (31 bits), sent in every announce.
    pub fn cookie(&self) -> u32 {
        self.cookie
    }

    /// The configuration.
    pub fn config(&self) -> &LsdConfig {
        &self.cfg
    }

    /// Changes the port sent in `Port` (after the listen socket moved).
    pub fn set_listen_port(&mut self, port: u16) {
        self.cfg.listen_port = port;
    }

    /// Changes `local_service_announce_interval`.
    pub fn set_announce_interval(&mut self, interval: Duration) {
        self.cfg.announce_interval = interval;
    }

    /// Registers a torrent: it joins the round robin and received announces
    /// for it are reported. Returns `false` if it was already registered.
    pub fn add_torrent(&mut self, ih: InfoHash) -> bool {
        if ih.is_empty() || self.torrents.iter().any(|t| t.ih == ih) {
            return false;
        }
        self.torrents.push(Torrent {
            ih,
            last_explicit: None,
        });
        true
    }

    /// Unregisters a torrent (paused, removed, made private) and drops its
    /// queued sends. Returns `false` if it was not registered.
    pub fn remove_torrent(&mut self, ih: &InfoHash) -> bool {
        let Some(pos) = self.torrents.iter().position(|t| t.ih == *ih) else {
            return false;
        };
        self.torrents.remove(pos);
        if self.next_rr > pos {
            self.next_rr -= 1;
        }
        self.queue.retain(|p| p.ih != *ih);
        true
    }

    /// Number of registered torrents.
    pub fn num_torrents(&self) -> usize {
        self.torrents.len()
    }

    /// Queues an immediate announce of a registered torrent (when it starts
    /// or resumes). Returns `false` if it is not registered, already queued
    /// or was announced this way less than `min_announce_gap` ago.
    pub fn announce(&mut self, ih: &InfoHash, now: Instant) -> bool {
        let gap = self.cfg.min_announce_gap;
        let Some(t) = self.torrents.iter_mut().find(|t| t.ih == *ih) else {
            return false;
        };
        if t.last_explicit.is_some_and(|l| now < l + gap) {
            return false;
        }
        if self.queue.iter().any(|p| p.ih == *ih && p.sends == 0) {
            return false;
        }
        t.last_explicit = Some(now);
        self.queue.push_back(Pending {
            ih: *ih,
            sends: 0,
            due: now,
        });
        true
    }

    fn round_robin_delay(&self) -> Duration {
        let n = u32::try_from(self.torrents.len().max(1)).unwrap_or(u32::MAX);
        (self.cfg.announce_interval / n).max(Duration::from_secs(1))
    }

    /// Tokens an announce of `ih` takes: one per datagram, capped at the
    /// bucket size so it can always go out eventually; none when the rate
    /// limit is off.
    fn tokens_needed(&self, ih: &InfoHash) -> u32 {
        if self.cfg.datagrams_per_second == 0 {
            return 0;
        }
        let n = u32::try_from(ih_hashes(ih).len()).unwrap_or(u32::MAX);
        n.min(self.cfg.burst.max(1))
    }

    fn refill(&mut self, now: Instant) {
        let rate = self.cfg.datagrams_per_second;
        if rate == 0 {
            self.tokens = self.cfg.burst;
            self.refill_at = now;
            return;
        }
        let cap = self.cfg.burst.max(1);
        let per = Duration::from_secs(1) / rate;
        while self.tokens < cap && self.refill_at + per <= now {
            self.tokens += 1;
            self.refill_at += per;
        }
        if self.tokens >= cap {
            self.refill_at = now;
        }
    }

    /// Advances time: runs the round robin and returns the datagrams due
    /// now (within the rate limit). Call it at [`Lsd::next_timeout`] and
    /// after [`Lsd::announce`].
    pub fn tick(&mut self, now: Instant) -> Vec<Datagram> {
        self.refill(now);
        if now >= self.next_rr_at {
            if self.torrents.is_empty() {
                self.next_rr_at = now + self.cfg.announce_interval.max(Duration::from_secs(1));
            } else {
                if self.next_rr >= self.torrents.len() {
                    self.next_rr = 0;
                }
                if let Some(t) = self.torrents.get(self.next_rr) {
                    let ih = t.ih;
                    // a fresh round-robin announce replaces queued resends
                    self.queue.retain(|p| p.ih != ih);
                    self.queue.push_back(Pending {
                        ih,
                        sends: 0,
                        due: now,
                    });
                }
                self.next_rr += 1;
                self.next_rr_at = now + self.round_robin_delay();
            }
        }
        let mut out = Vec::new();
        let mut keep = VecDeque::with_capacity(self.queue.len());
        while let Some(mut p) = self.queue.pop_front() {
            if p.due > now {
                keep.push_back(p);
                continue;
            }
            let need = self.tokens_needed(&p.ih);
            if self.tokens < need {
                keep.push_back(p);
                continue;
            }
            self.tokens -= need;
            let hashes = ih_hashes(&p.ih);
            for h in hashes {
                out.push(Datagram {
                    to: self.cfg.family.group(),
                    payload: encode_announce(
                        self.cfg.family,
                        self.cfg.listen_port,
                        &[h],
                        self.cookie,
                    ),
                });
            }
            p.sends += 1;
            if p.sends < SENDS_PER_ANNOUNCE {
                p.due = now + Duration::from_secs(2 * u64::from(p.sends));
                keep.push_back(p);
            }
        }
        self.queue = keep;
        out
    }

    /// When [`Lsd::tick`] should next be called.
    pub fn next_timeout(&self) -> Instant {
        let mut t = self.next_rr_at;
        for p in &self.queue {
            let mut due = p.due;
            let need = self.tokens_needed(&p.ih);
            if need > self.tokens && self.cfg.datagrams_per_second > 0 {
                let per = Duration::from_secs(1) / self.cfg.datagrams_per_second;
                due = due.max(self.refill_at + per * (need - self.tokens));
            }
            t = t.min(due);
        }
        t
    }

    /// Handles a datagram received on the LSD socket from `from`. Returns
    /// the peers it announces for registered torrents, or why it was
    /// ignored.
    pub fn on_datagram(
        &mut self,
        data: &[u8],
        from: SocketAddr,
        _now: Instant,
    ) -> Result<Vec<LsdPeer>, LsdError> {
        if let Some(net) = self.cfg.local_network {
            if !in_network(from.ip(), net) {
                return Err(LsdError::ForeignNetwork);
            }
        }
        let a = parse_announce(data)?;
        if a.cookie == Some(self.cookie) {
            return Err(LsdError::OwnAnnounce);
        }
        let peer = SocketAddr::new(from.ip(), a.port);
        let mut out = Vec::new();
        for h in &a.info_hashes {
            for t in &self.torrents {
                let matches = (t.ih.has_v1() && t.ih.v1 == *h)
                    || (t.ih.has_v2() && t.ih.v2.truncated() == *h);
                if matches && !out.iter().any(|p: &LsdPeer| p.torrent == t.ih) {
                    out.push(LsdPeer {
                        torrent: t.ih,
                        info_hash: *h,
                        peer,
                    });
                }
            }
        }
        if out.is_empty() {
            return Err(LsdError::UnknownTorrent);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
