//! Proxy handshakes, sans IO: SOCKS4 (and 4a, for host names), SOCKS5
//! (CONNECT and UDP ASSOCIATE, without authentication or with
//! username/password, RFC 1928/1929) and HTTP `CONNECT` (with basic auth),
//! plus the SOCKS5 UDP datagram header and the rewriting of HTTP requests
//! into the absolute form an HTTP proxy expects.
//!
//! A [`Handshake`] is created for one target, hands out the bytes to write
//! ([`Handshake::poll_transmit`]) and is fed what the proxy sends
//! ([`Handshake::on_data`]) until it reports [`Progress::Done`] (the tunnel
//! is up; bytes read past the proxy's reply are returned) or an error. The
//! errors are libtorrent's: SOCKS reply codes map onto the same system
//! error numbers and `socks` category values the reference reports.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use lt_core::error::{Category, ErrorCode};

/// The longest HTTP proxy reply head accepted.
pub const MAX_HTTP_REPLY: usize = 8192;

/// Values of libtorrent's `socks` error category.
pub mod socks_errors {
    pub const UNSUPPORTED_VERSION: i32 = 1;
    pub const UNSUPPORTED_AUTHENTICATION_METHOD: i32 = 2;
    pub const UNSUPPORTED_AUTHENTICATION_VERSION: i32 = 3;
    pub const AUTHENTICATION_ERROR: i32 = 4;
    pub const USERNAME_REQUIRED: i32 = 5;
    pub const GENERAL_FAILURE: i32 = 6;
    pub const COMMAND_NOT_SUPPORTED: i32 = 7;
    pub const NO_IDENTD: i32 = 8;
    pub const IDENTD_ERROR: i32 = 9;
}
use socks_errors as se;

/// The kinds of proxy (`settings_pack::proxy_type_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Socks4,
    Socks5,
    Http,
    /// An i2p SAM bridge. Not supported: every connection that would go
    /// through it fails with "no i2p router is set up" instead of being
    /// made around it.
    I2p,
}

/// A proxy to use, from the `proxy_*` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    /// Username and password (`socks5_pw`, `http_pw`); for `socks4` the
    /// username is sent as the user id.
    pub auth: Option<(String, String)>,
    /// `proxy_hostnames`: hand host names to the proxy instead of resolving
    /// them locally.
    pub proxy_hostnames: bool,
    /// `proxy_peer_connections`
    pub peers: bool,
    /// `proxy_tracker_connections`
    pub trackers: bool,
}

/// Why a `proxy_type` value gives no proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoProxy {
    /// `none`
    None,
    /// a value out of range
    Invalid,
}

impl ProxyConfig {
    /// Builds the configuration from the settings' values.
    #[allow(clippy::too_many_arguments)]
    pub fn from_settings(
        proxy_type: i32,
        host: &str,
        port: i32,
        username: &str,
        password: &str,
        proxy_hostnames: bool,
        peers: bool,
        trackers: bool,
    ) -> Result<ProxyConfig, NoProxy> {
        let (kind, pw) = match proxy_type {
            0 => return Err(NoProxy::None),
            1 => (ProxyKind::Socks4, false),
            2 => (ProxyKind::Socks5, false),
            3 => (ProxyKind::Socks5, true),
            4 => (ProxyKind::Http, false),
            5 => (ProxyKind::Http, true),
            6 => (ProxyKind::I2p, false),
            _ => return Err(NoProxy::Invalid),
        };
        let auth = if pw || (kind == ProxyKind::Socks4 && !username.is_empty()) {
            Some((username.to_owned(), password.to_owned()))
        } else {
            None
        };
        Ok(ProxyConfig {
            kind,
            host: host.to_owned(),
            port: port.clamp(0, 65535) as u16,
            auth,
            proxy_hostnames,
            peers,
            trackers,
        })
    }

    /// The handshake to open a TCP tunnel to `target` through this proxy.
    pub fn connect(&self, target: Target) -> Result<Handshake, ProxyError> {
        match self.kind {
            ProxyKind::Socks4 => {
                let user = self.auth.as_ref().map(|a| a.0.as_str()).unwrap_or("");
                Handshake::socks4(target, user)
            }
            ProxyKind::Socks5 => Handshake::socks5(target, Command::Connect, self.auth.clone()),
            ProxyKind::Http => Ok(Handshake::http_connect(target, self.auth.clone())),
            ProxyKind::I2p => Err(ProxyError::NoI2pRouter),
        }
    }
}

/// Where a tunnel leads: an address, or a host name the proxy resolves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Addr(SocketAddr),
    Name(String, u16),
}

impl Target {
    pub fn port(&self) -> u16 {
        match self {
            Target::Addr(a) => a.port(),
            Target::Name(_, p) => *p,
        }
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        match self {
            Target::Addr(a) => a.to_string(),
            Target::Name(n, p) if n.contains(':') => format!("[{n}]:{p}"),
            Target::Name(n, p) => format!("{n}:{p}"),
        }
    }

    /// A host name that is an IP address literal becomes an address.
    pub fn from_host(host: &str, port: u16) -> Target {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => Target::Addr(SocketAddr::new(ip, port)),
            Err(_) => Target::Name(bare.to_owned(), port),
        }
    }
}

/// SOCKS5 commands used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Connect,
    UdpAssociate,
}

/// How a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// A value of the `socks` category ([`socks_errors`]).
    Socks(i32),
    /// A SOCKS reply code mapped onto a system error number, as libtorrent
    /// maps them (refused, unreachable, ...).
    System(i32),
    /// An HTTP proxy answered `CONNECT` with this non-2xx status.
    HttpRefused(u16),
    /// The HTTP proxy's reply is not HTTP or too long.
    HttpBadReply,
    /// The proxy closed the connection during the handshake.
    Eof,
    /// The target cannot be expressed in this protocol (an IPv6 address
    /// over SOCKS4, a host name longer than 255 bytes, credentials longer
    /// than 255 bytes).
    InvalidTarget,
    /// `proxy_type` is `i2p_proxy`, which this library does not support.
    NoI2pRouter,
}

impl ProxyError {
    /// The error code libtorrent reports for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProxyError::Socks(v) => ErrorCode::new(*v, Category::Socks),
            ProxyError::System(e) => ErrorCode::new(*e, Category::System),
            // libtorrent reports any refused or unparsable CONNECT reply
            // as "operation not supported"
            ProxyError::HttpRefused(_) | ProxyError::HttpBadReply => {
                ErrorCode::new(libc::EOPNOTSUPP, Category::System)
            }
            ProxyError::Eof => ErrorCode::new(libc::ECONNRESET, Category::System),
            ProxyError::InvalidTarget => ErrorCode::new(libc::EAFNOSUPPORT, Category::System),
            // libtorrent's no_i2p_router
            ProxyError::NoI2pRouter => ErrorCode::new(160, Category::Libtorrent),
        }
    }
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code().message())
    }
}

impl std::error::Error for ProxyError {}

/// Where a handshake stands after being fed data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for more of the proxy's reply (write what
    /// [`Handshake::poll_transmit`] returns first).
    NeedMore,
    /// The tunnel is up.
    Done(Established),
}

/// A finished handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Established {
    /// The address the proxy reports (`BND.ADDR`); for UDP ASSOCIATE the
    /// relay to send datagrams to. `None` for HTTP, or a host name.
    pub bound: Option<SocketAddr>,
    /// Bytes read past the end of the proxy's reply: the first bytes of
    /// the tunnelled stream.
    pub leftover: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Socks4Reply,
    Socks5Method,
    Socks5Auth,
    Socks5Reply,
    HttpReply,
    Done,
    Failed,
}

/// One proxy handshake.
#[derive(Debug)]
pub struct Handshake {
    state: State,
    out: Vec<u8>,
    buf: Vec<u8>,
    target: Target,
    command: Command,
    auth: Option<(String, String)>,
}

impl Handshake {
    /// A SOCKS4 `CONNECT`; a host name makes it SOCKS4a. IPv6 targets are
    /// refused ([`ProxyError::InvalidTarget`]).
    pub fn socks4(target: Target, user_id: &str) -> Result<Handshake, ProxyError> {
        let mut out = vec![4, 1];
        out.extend_from_slice(&target.port().to_be_bytes());
        match &target {
            Target::Addr(SocketAddr::V4(a)) => out.extend_from_slice(&a.ip().octets()),
            Target::Addr(SocketAddr::V6(_)) => return Err(ProxyError::InvalidTarget),
            Target::Name(..) => out.extend_from_slice(&[0, 0, 0, 1]),
        }
        if user_id.contains('\0') {
            return Err(ProxyError::InvalidTarget);
        }
        out.extend_from_slice(user_id.as_bytes());
        out.push(0);
        if let Target::Name(n, _) = &target {
            if n.contains('\0') {
                return Err(ProxyError::InvalidTarget);
            }
            out.extend_from_slice(n.as_bytes());
            out.push(0);
        }
        Ok(Handshake {
            state: State::Socks4Reply,
            out,
            buf: Vec::new(),
            target,
            command: Command::Connect,
            auth: None,
        })
    }

    /// A SOCKS5 request, offering username/password authentication when
    /// `auth` is given. For [`Command::UdpAssociate`] the target is the
    /// address we will send from (libtorrent sends `0.0.0.0:0`).
    pub fn socks5(
        target: Target,
        command: Command,
        auth: Option<(String, String)>,
    ) -> Result<Handshake, ProxyError> {
        if let Target::Name(n, _) = &target {
            if n.len() > 255 {
                return Err(ProxyError::InvalidTarget);
            }
        }
        if let Some((u, p)) = &auth {
            if u.len() > 255 || p.len() > 255 {
                return Err(ProxyError::InvalidTarget);
            }
        }
        let out = if auth.is_some() {
            vec![5, 2, 0, 2]
        } else {
            vec![5, 1, 0]
        };
        Ok(Handshake {
            state: State::Socks5Method,
            out,
            buf: Vec::new(),
            target,
            command,
            auth,
        })
    }

    /// An HTTP `CONNECT`, with `Proxy-Authorization: Basic` when `auth` is
    /// given.
    pub fn http_connect(target: Target, auth: Option<(String, String)>) -> Handshake {
        let authority = target.authority();
        let mut req = format!("CONNECT {authority} HTTP/1.0\r\nHost: {authority}\r\n");
        if let Some((u, p)) = &auth {
            req.push_str("Proxy-Authorization: Basic ");
            req.push_str(&base64(format!("{u}:{p}").as_bytes()));
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        Handshake {
            state: State::HttpReply,
            out: req.into_bytes(),
            buf: Vec::new(),
            target,
            command: Command::Connect,
            auth,
        }
    }

    /// Bytes to write to the proxy, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }

    /// Whether the handshake has finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done | State::Failed)
    }

    /// The connection closed before the handshake finished.
    pub fn on_eof(&mut self) -> ProxyError {
        self.state = State::Failed;
        ProxyError::Eof
    }

    /// Feeds bytes read from the proxy.
    pub fn on_data(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        if matches!(self.state, State::Done | State::Failed) {
            return Err(ProxyError::Socks(se::GENERAL_FAILURE));
        }
        self.buf.extend_from_slice(data);
        loop {
            let before = self.state;
            let r = self.step();
            match r {
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e);
                }
                Ok(Some(est)) => {
                    self.state = State::Done;
                    return Ok(Progress::Done(est));
                }
                Ok(None) if self.state == before => return Ok(Progress::NeedMore),
                Ok(None) => {}
            }
        }
    }

    /// Consumes one message of the reply if it is complete. `Ok(None)`
    /// with the state unchanged means more bytes are needed.
    fn step(&mut self) -> Result<Option<Established>, ProxyError> {
        match self.state {
            State::Socks4Reply => {
                let Some(r) = self.buf.get(..8) else {
                    return Ok(None);
                };
                if r[0] != 0 {
                    return Err(ProxyError::Socks(se::UNSUPPORTED_VERSION));
                }
                match r[1] {
                    90 => {}
                    91 => return Err(ProxyError::System(libc::ECONNREFUSED)),
                    92 => return Err(ProxyError::Socks(se::NO_IDENTD)),
                    93 => return Err(ProxyError::Socks(se::IDENTD_ERROR)),
                    _ => return Err(ProxyError::Socks(se::GENERAL_FAILURE)),
                }
                let port = u16::from_be_bytes([r[2], r[3]]);
                let ip = Ipv4Addr::new(r[4], r[5], r[6], r[7]);
                let leftover = self.buf.split_off(8);
                Ok(Some(Established {
                    bound: Some(SocketAddr::new(IpAddr::V4(ip), port)),
                    leftover,
                }))
            }
            State::Socks5Method => {
                let Some(r) = self.buf.get(..2) else {
                    return Ok(None);
                };
                let (ver, method) = (r[0], r[1]);
                self.buf.drain(..2);
                if ver != 5 {
                    return Err(ProxyError::Socks(se::UNSUPPORTED_VERSION));
                }
                match method {
                    0 => {
                        self.out.extend(self.request());
                        self.state = State::Socks5Reply;
                    }
                    2 => {
                        let Some((u, p)) = &self.auth else {
                            return Err(ProxyError::Socks(se::USERNAME_REQUIRED));
                        };
                        self.out.push(1);
                        self.out.push(u.len() as u8);
                        self.out.extend_from_slice(u.as_bytes());
                        self.out.push(p.len() as u8);
                        self.out.extend_from_slice(p.as_bytes());
                        self.state = State::Socks5Auth;
                    }
                    _ => return Err(ProxyError::Socks(se::UNSUPPORTED_AUTHENTICATION_METHOD)),
                }
                Ok(None)
            }
            State::Socks5Auth => {
                let Some(r) = self.buf.get(..2) else {
                    return Ok(None);
                };
                let (ver, status) = (r[0], r[1]);
                self.buf.drain(..2);
                if ver != 1 {
                    return Err(ProxyError::Socks(se::UNSUPPORTED_AUTHENTICATION_VERSION));
                }
                if status != 0 {
                    return Err(ProxyError::Socks(se::AUTHENTICATION_ERROR));
                }
                self.out.extend(self.request());
                self.state = State::Socks5Reply;
                Ok(None)
            }
            State::Socks5Reply => {
                let Some(head) = self.buf.get(..4) else {
                    return Ok(None);
                };
                if head[0] != 5 {
                    return Err(ProxyError::Socks(se::UNSUPPORTED_VERSION));
                }
                if head[1] != 0 {
                    return Err(socks5_reply_error(head[1]));
                }
                let len = match head[3] {
                    1 => 4 + 4 + 2,
                    4 => 4 + 16 + 2,
                    3 => match self.buf.get(4) {
                        Some(&n) => 4 + 1 + usize::from(n) + 2,
                        None => return Ok(None),
                    },
                    _ => return Err(ProxyError::Socks(se::GENERAL_FAILURE)),
                };
                let Some(r) = self.buf.get(..len) else {
                    return Ok(None);
                };
                let port = u16::from_be_bytes([r[len - 2], r[len - 1]]);
                let bound = match r[3] {
                    1 => Some(SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::new(r[4], r[5], r[6], r[7])),
                        port,
                    )),
                    4 => {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(&r[4..20]);
                        Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port))
                    }
                    _ => None,
                };
                let leftover = self.buf.split_off(len);
                Ok(Some(Established { bound, leftover }))
            }
            State::HttpReply => {
                let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                    // no head can end within the bound any more
                    if self.buf.len() >= MAX_HTTP_REPLY + 4 {
                        return Err(ProxyError::HttpBadReply);
                    }
                    return Ok(None);
                };
                if end > MAX_HTTP_REPLY {
                    return Err(ProxyError::HttpBadReply);
                }
                let status = parse_status(&self.buf[..end]).ok_or(ProxyError::HttpBadReply)?;
                if !(200..300).contains(&status) {
                    return Err(ProxyError::HttpRefused(status));
                }
                let leftover = self.buf.split_off(end + 4);
                Ok(Some(Established {
                    bound: None,
                    leftover,
                }))
            }
            State::Done | State::Failed => Err(ProxyError::Socks(se::GENERAL_FAILURE)),
        }
    }

    fn request(&self) -> Vec<u8> {
        let cmd = match self.command {
            Command::Connect => 1,
            Command::UdpAssociate => 3,
        };
        let mut r = vec![5, cmd, 0];
        write_socks5_addr(&mut r, &self.target);
        r
    }
}

/// libtorrent's mapping of SOCKS5 reply codes.
fn socks5_reply_error(rep: u8) -> ProxyError {
    match rep {
        2 => ProxyError::System(libc::EPERM),
        3 => ProxyError::System(libc::ENETUNREACH),
        4 => ProxyError::System(libc::EHOSTUNREACH),
        5 => ProxyError::System(libc::ECONNREFUSED),
        6 => ProxyError::System(libc::ETIMEDOUT),
        7 => ProxyError::Socks(se::COMMAND_NOT_SUPPORTED),
        8 => ProxyError::System(libc::EAFNOSUPPORT),
        _ => ProxyError::Socks(se::GENERAL_FAILURE),
    }
}

fn write_socks5_addr(out: &mut Vec<u8>, target: &Target) {
    match target {
        Target::Addr(SocketAddr::V4(a)) => {
            out.push(1);
            out.extend_from_slice(&a.ip().octets());
        }
        Target::Addr(SocketAddr::V6(a)) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
        }
        Target::Name(n, _) => {
            // length checked when the handshake was made
            out.push(3);
            out.push(n.len().min(255) as u8);
            out.extend_from_slice(n.as_bytes().get(..255).unwrap_or(n.as_bytes()));
        }
    }
    out.extend_from_slice(&target.port().to_be_bytes());
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The status code of `HTTP/1.x NNN ...`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line_end = find(head, b"\r\n").unwrap_or(head.len());
    let line = std::str::from_utf8(head.get(..line_end)?).ok()?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

/// A datagram to send to a SOCKS5 UDP relay: the header naming the
/// destination, then the payload.
pub fn udp_encapsulate(target: &Target, payload: &[u8]) -> Result<Vec<u8>, ProxyError> {
    if let Target::Name(n, _) = target {
        if n.len() > 255 {
            return Err(ProxyError::InvalidTarget);
        }
    }
    let mut out = Vec::with_capacity(payload.len() + 22);
    out.extend_from_slice(&[0, 0, 0]);
    write_socks5_addr(&mut out, target);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Splits a datagram from a SOCKS5 UDP relay into its source and payload.
/// Fragments (FRAG != 0) are refused, as libtorrent drops them.
pub fn udp_decapsulate(data: &[u8]) -> Result<(Target, &[u8]), ProxyError> {
    let bad = ProxyError::Socks(se::GENERAL_FAILURE);
    let head = data.get(..4).ok_or(bad.clone())?;
    if head[0] != 0 || head[1] != 0 || head[2] != 0 {
        return Err(bad);
    }
    let (target, used) = match head[3] {
        1 => {
            let r = data.get(4..10).ok_or(bad.clone())?;
            let ip = Ipv4Addr::new(r[0], r[1], r[2], r[3]);
            let port = u16::from_be_bytes([r[4], r[5]]);
            (Target::Addr(SocketAddr::new(IpAddr::V4(ip), port)), 10)
        }
        4 => {
            let r = data.get(4..22).ok_or(bad.clone())?;
            let mut o = [0u8; 16];
            o.copy_from_slice(&r[..16]);
            let port = u16::from_be_bytes([r[16], r[17]]);
            (
                Target::Addr(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port)),
                22,
            )
        }
        3 => {
            let n = usize::from(*data.get(4).ok_or(bad.clone())?);
            let name = data.get(5..5 + n).ok_or(bad.clone())?;
            let p = data.get(5 + n..7 + n).ok_or(bad.clone())?;
            let name = String::from_utf8_lossy(name).into_owned();
            (Target::Name(name, u16::from_be_bytes([p[0], p[1]])), 7 + n)
        }
        _ => return Err(bad),
    };
    Ok((target, data.get(used..).unwrap_or(&[])))
}

/// Rewrites complete HTTP requests (heads only, as trackers and web seeds
/// send them) for an HTTP proxy: each origin-form target (`/path`) becomes
/// `origin` + path (`http://host:port/path`), and with `auth` a
/// `Proxy-Authorization: Basic` header follows the request line. `None`
/// when the bytes are not whole requests.
pub fn absolute_form(requests: &[u8], origin: &str, auth: Option<(&str, &str)>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(requests.len() + origin.len() + 64);
    let mut rest = requests;
    while !rest.is_empty() {
        let end = find(rest, b"\r\n\r\n")? + 4;
        let req = rest.get(..end)?;
        rest = rest.get(end..)?;
        let line_end = find(req, b"\r\n")?;
        let line = req.get(..line_end)?;
        let sp1 = line.iter().position(|&b| b == b' ')?;
        let target = line.get(sp1 + 1..)?;
        out.extend_from_slice(line.get(..=sp1)?);
        if target.first() == Some(&b'/') {
            out.extend_from_slice(origin.as_bytes());
        }
        out.extend_from_slice(target);
        out.extend_from_slice(b"\r\n");
        if let Some((u, p)) = auth {
            out.extend_from_slice(b"Proxy-Authorization: Basic ");
            out.extend_from_slice(base64(format!("{u}:{p}").as_bytes()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(req.get(line_end + 2..)?);
    }
    Some(out)
}

pub use lt_core::base64::encode as base64;

#[cfg(test)]
mod tests;
