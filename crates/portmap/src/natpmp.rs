//! PCP (RFC 6887) / NAT-PMP (RFC 6886) client, sans IO.
//!
//! Like libtorrent, the client first speaks PCP (version 2) and switches to
//! NAT-PMP (version 0) for good when the gateway answers "unsupported
//! version". Mappings live in a table whose indices are the handles given
//! to the user; freed slots are reused. One request is in flight at a time:
//! it is resent after 250 ms, 500 ms, ... (linear back-off) and abandoned
//! after nine sends, to be retried two hours later. A granted mapping is
//! refreshed when three quarters of its lifetime have passed. `close`
//! sends a delete for every mapping without waiting for the answers.
//!
//! The caller owns one UDP socket bound to the local interface address,
//! sends every [`Output::Send`] to `gateway:5351`, feeds every datagram it
//! receives to [`NatPmp::on_datagram`] and calls [`NatPmp::tick`] when
//! [`NatPmp::next_deadline`] passes.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::{Action, Protocol};

/// The gateway's PCP / NAT-PMP server port.
pub const SERVER_PORT: u16 = 5351;
/// Largest datagram worth reading (a PCP message is at most 1100 bytes).
pub const MAX_DATAGRAM: usize = 1100;
/// Sends of one request before it is abandoned.
const MAX_SENDS: u32 = 9;
const RETRY_LATER: Duration = Duration::from_secs(2 * 3600);

const VERSION_NATPMP: u8 = 0;
const VERSION_PCP: u8 = 2;
const PCP_OPCODE_MAP: u8 = 1;
/// PCP result code "unsupported version" (also NAT-PMP result 1).
const UNSUPP_VERSION: u16 = 1;

/// What the client wants done or reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this datagram to the gateway.
    Send(Vec<u8>),
    /// A `portmap_log_alert` line.
    Log(String),
    /// A mapping was granted (a `portmap_alert`).
    Mapped {
        mapping: usize,
        protocol: Protocol,
        external_port: u16,
        external_ip: Option<Ipv4Addr>,
    },
    /// The gateway refused a mapping (a `portmap_error_alert`); `code` is
    /// in libtorrent's "pcp error" category.
    Failed { mapping: usize, code: u8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Pcp,
    NatPmp,
}

impl Version {
    fn name(self) -> &'static str {
        match self {
            Version::Pcp => "PCP",
            Version::NatPmp => "NAT-PMP",
        }
    }
}

#[derive(Clone, Debug)]
struct Mapping {
    /// `None`: a free slot.
    protocol: Option<Protocol>,
    local_port: u16,
    external_port: u16,
    action: Action,
    expires: Option<Instant>,
    map_sent: bool,
    outstanding: bool,
    nonce: [u8; 12],
    external_ip: Option<Ipv4Addr>,
}

/// One gateway's PCP / NAT-PMP client.
pub struct NatPmp {
    local: Ipv4Addr,
    gateway: SocketAddrV4,
    lease: u32,
    version: Version,
    mappings: Vec<Mapping>,
    current: Option<usize>,
    sends: u32,
    resend_at: Option<Instant>,
    next_refresh: Option<(usize, Instant)>,
    external_ip: Option<Ipv4Addr>,
    closing: bool,
    rng: u64,
    out: Vec<Output>,
}

fn secs_until(t: Option<Instant>, now: Instant) -> i64 {
    match t {
        None => 0,
        Some(t) if t >= now => t.duration_since(now).as_secs() as i64,
        Some(t) => -(now.duration_since(t).as_secs() as i64),
    }
}

/// Whether `a` is an address of a private / local network.
pub fn is_local(a: Ipv4Addr) -> bool {
    a.is_private() || a.is_loopback() || a.is_link_local()
}

impl NatPmp {
    /// A client for the gateway `gateway` (port 5351), sending from the
    /// local address `local`, asking for `lease` seconds per mapping.
    /// `seed` seeds the PCP nonces.
    pub fn new(local: Ipv4Addr, gateway: Ipv4Addr, lease: u32, seed: u64) -> NatPmp {
        NatPmp {
            local,
            gateway: SocketAddrV4::new(gateway, SERVER_PORT),
            lease,
            version: Version::Pcp,
            mappings: Vec::new(),
            current: None,
            sends: 0,
            resend_at: None,
            next_refresh: None,
            external_ip: None,
            closing: false,
            rng: seed | 1,
            out: Vec::new(),
        }
    }

    pub fn gateway(&self) -> SocketAddrV4 {
        self.gateway
    }

    /// The outputs produced since the last call.
    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// When [`NatPmp::tick`] must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.resend_at, self.next_refresh.map(|r| r.1)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `(protocol, local port, external port)` of a live mapping.
    pub fn mapping(&self, index: usize) -> Option<(Protocol, u16, u16)> {
        let m = self.mappings.get(index)?;
        Some((m.protocol?, m.local_port, m.external_port))
    }

    /// True once `close` was called and every delete has been sent.
    pub fn closed(&self) -> bool {
        self.closing && self.current.is_none()
    }

    fn log(&mut self, s: String) {
        self.out.push(Output::Log(s));
    }

    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn mapping_log(&mut self, op: &str, i: usize, now: Instant) {
        let Some(m) = self.mappings.get(i) else {
            return;
        };
        let line = format!(
            "{op}-mapping: proto: {} port: {} local-port: {} action: {} ttl: {}",
            m.protocol.map(|p| p.upper()).unwrap_or("none"),
            m.external_port,
            m.local_port,
            m.action.name(),
            secs_until(m.expires, now)
        );
        self.log(line);
    }

    /// Adds a mapping of `external_port` on the gateway to `local_port`
    /// here; returns its index (`None` once closed).
    pub fn add_mapping(
        &mut self,
        now: Instant,
        protocol: Protocol,
        external_port: u16,
        local_port: u16,
    ) -> Option<usize> {
        if self.closing {
            return None;
        }
        let mut nonce = [0u8; 12];
        let a = self.random().to_le_bytes();
        let b = self.random().to_le_bytes();
        nonce[..8].copy_from_slice(&a);
        nonce[8..].copy_from_slice(&b[..4]);
        let m = Mapping {
            protocol: Some(protocol),
            local_port,
            external_port,
            action: Action::Add,
            expires: None,
            map_sent: false,
            outstanding: false,
            nonce,
            external_ip: None,
        };
        let i = match self.mappings.iter().position(|m| m.protocol.is_none()) {
            Some(i) => {
                if let Some(slot) = self.mappings.get_mut(i) {
                    *slot = m;
                }
                i
            }
            None => {
                self.mappings.push(m);
                self.mappings.len() - 1
            }
        };
        self.mapping_log("add", i, now);
        self.update_mapping(now, i);
        Some(i)
    }

    /// Removes mapping `index` (deleting it on the gateway if it was sent).
    pub fn delete_mapping(&mut self, now: Instant, index: usize) {
        let Some(m) = self.mappings.get_mut(index) else {
            return;
        };
        if m.protocol.is_none() {
            return;
        }
        if !m.map_sent {
            m.action = Action::None;
            m.protocol = None;
            return;
        }
        m.action = Action::Delete;
        self.update_mapping(now, index);
    }

    /// Deletes every mapping: the requests are sent at once and their
    /// answers not waited for.
    pub fn close(&mut self, now: Instant) {
        self.closing = true;
        self.log("closing".into());
        for m in &mut self.mappings {
            if m.protocol.is_some() {
                m.action = Action::Delete;
            }
        }
        self.next_refresh = None;
        self.resend_at = None;
        self.current = None;
        self.update_mapping(now, 0);
    }

    /// Starts work on mapping `i` if the socket is free, otherwise (or when
    /// it needs nothing) moves on to the next mapping that does.
    fn update_mapping(&mut self, now: Instant, start: usize) {
        let mut i = start;
        let mut wrapped = false;
        loop {
            if i >= self.mappings.len() {
                return;
            }
            self.mapping_log("update", i, now);
            let Some(m) = self.mappings.get(i) else {
                return;
            };
            let idle = m.action == Action::None || m.protocol.is_none();
            if !idle {
                if self.current.is_some() {
                    return;
                }
                self.sends = 0;
                self.send_map_request(now, i);
                if !self.closing {
                    return;
                }
                // closing: the delete is sent, don't wait for the answer
                self.current = None;
                if let Some(m) = self.mappings.get_mut(i) {
                    m.action = Action::None;
                }
            }
            // try the next mapping
            if i + 1 < self.mappings.len() {
                i += 1;
                continue;
            }
            if wrapped {
                return;
            }
            wrapped = true;
            match self
                .mappings
                .iter()
                .position(|m| m.action != Action::None && m.protocol.is_some())
            {
                Some(j) => i = j,
                None => return,
            }
        }
    }

    fn send_map_request(&mut self, now: Instant, i: usize) {
        self.current = Some(i);
        let version = self.version;
        let lease = self.lease;
        let local = self.local;
        let Some(m) = self.mappings.get_mut(i) else {
            return;
        };
        let Some(protocol) = m.protocol else {
            return;
        };
        let ttl = if m.action == Action::Add { lease } else { 0 };
        let mut buf = Vec::with_capacity(60);
        match version {
            Version::NatPmp => {
                buf.push(VERSION_NATPMP);
                buf.push(match protocol {
                    Protocol::Udp => 1,
                    Protocol::Tcp => 2,
                });
                buf.extend_from_slice(&[0, 0]);
                buf.extend_from_slice(&m.local_port.to_be_bytes());
                buf.extend_from_slice(&m.external_port.to_be_bytes());
                buf.extend_from_slice(&ttl.to_be_bytes());
            }
            Version::Pcp => {
                buf.push(VERSION_PCP);
                buf.push(PCP_OPCODE_MAP);
                buf.extend_from_slice(&[0, 0]);
                buf.extend_from_slice(&ttl.to_be_bytes());
                buf.extend_from_slice(&local.to_ipv6_mapped().octets());
                buf.extend_from_slice(&m.nonce);
                buf.push(match protocol {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                });
                buf.extend_from_slice(&[0, 0, 0]);
                buf.extend_from_slice(&m.local_port.to_be_bytes());
                buf.extend_from_slice(&m.external_port.to_be_bytes());
                let suggested = match m.external_ip {
                    Some(ip) => ip,
                    None if is_local(local) => Ipv4Addr::UNSPECIFIED,
                    None => local,
                };
                buf.extend_from_slice(&suggested.to_ipv6_mapped().octets());
            }
        }
        m.map_sent = true;
        m.outstanding = true;
        let line = format!(
            "==> port map [ mapping: {i} action: {} transport: {} proto: {} local: {} external: {} ttl: {ttl} ]",
            m.action.name(),
            version.name(),
            protocol.upper(),
            m.local_port,
            m.external_port
        );
        self.log(line);
        self.out.push(Output::Send(buf));
        if self.closing {
            self.resend_at = None;
        } else {
            self.sends += 1;
            self.resend_at = Some(now + Duration::from_millis(250 * u64::from(self.sends)));
        }
    }

    fn send_get_ip_address_request(&mut self) {
        if self.version != Version::NatPmp {
            return;
        }
        self.log("==> get public IP address".into());
        self.out.push(Output::Send(vec![VERSION_NATPMP, 0]));
    }

    fn resend_request(&mut self, now: Instant, i: usize) {
        if self.current != Some(i) {
            return;
        }
        if self.sends >= MAX_SENDS || self.closing {
            self.current = None;
            self.resend_at = None;
            if let Some(m) = self.mappings.get_mut(i) {
                m.action = Action::None;
                m.expires = Some(now + RETRY_LATER);
            }
            self.try_next_mapping(now, i);
            return;
        }
        self.send_map_request(now, i);
    }

    fn try_next_mapping(&mut self, now: Instant, i: usize) {
        if i + 1 < self.mappings.len() {
            self.update_mapping(now, i + 1);
            return;
        }
        if let Some(j) = self
            .mappings
            .iter()
            .position(|m| m.action != Action::None && m.protocol.is_some())
        {
            self.update_mapping(now, j);
        }
    }

    /// Timers: retransmission and lease refresh.
    pub fn tick(&mut self, now: Instant) {
        if self.resend_at.is_some_and(|t| now >= t) {
            self.resend_at = None;
            if let Some(i) = self.current {
                self.resend_request(now, i);
            }
        }
        if let Some((i, at)) = self.next_refresh {
            if now >= at && !self.closing {
                self.next_refresh = None;
                self.log(format!("mapping {i} expired"));
                if let Some(m) = self.mappings.get_mut(i) {
                    m.action = Action::Add;
                }
                self.update_mapping(now, i);
            }
        }
    }

    fn update_expiration_timer(&mut self, now: Instant) {
        if self.closing {
            return;
        }
        let soon = now + Duration::from_millis(100);
        let mut min_expire = soon + Duration::from_secs(3600);
        let mut min_index = None;
        for i in 0..self.mappings.len() {
            let Some(m) = self.mappings.get(i) else {
                break;
            };
            if m.protocol.is_none() || m.action != Action::None {
                continue;
            }
            match m.expires {
                Some(e) if e >= soon => {
                    if e < min_expire {
                        min_expire = e;
                        min_index = Some(i);
                    }
                }
                _ => {
                    self.log(format!("mapping {i} expired"));
                    if let Some(m) = self.mappings.get_mut(i) {
                        m.action = Action::Add;
                    }
                    if self.next_refresh.map(|r| r.0) == Some(i) {
                        self.next_refresh = None;
                    }
                    self.update_mapping(now, i);
                }
            }
        }
        if self.next_refresh.map(|r| r.0) == min_index {
            return;
        }
        if let Some(i) = min_index {
            self.log(format!(
                "next expiration [ idx: {i} ttl: {} ]",
                secs_until(Some(min_expire), now)
            ));
            let at = now + min_expire.saturating_duration_since(soon);
            self.next_refresh = Some((i, at));
        }
    }

    /// A datagram from `from`.
    pub fn on_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if self.closing {
            return;
        }
        if from != SocketAddr::V4(self.gateway) {
            self.log(format!("received packet from wrong IP: {from}"));
            return;
        }
        let n = data.len();
        let invalid = |s: &mut Self| s.log(format!("received packet of invalid size: {n}"));
        let (Some(&version), Some(&cmd)) = (data.first(), data.get(1)) else {
            invalid(self);
            return;
        };
        if n < 4 {
            invalid(self);
            return;
        }
        if version != VERSION_NATPMP && version != VERSION_PCP {
            self.log(format!("unexpected version: {version}"));
            return;
        }
        let pcp = version == VERSION_PCP;
        let cmd = if pcp { cmd & 0x7f } else { cmd };
        let result = if pcp {
            u16::from(data.get(3).copied().unwrap_or(0))
        } else {
            be16(data, 2)
        };
        if result == UNSUPP_VERSION {
            self.log("unsupported version".into());
            if self.version == Version::Pcp {
                self.version = Version::NatPmp;
                if let Some(i) = self.current {
                    self.resend_request(now, i);
                }
                self.send_get_ip_address_request();
            }
            return;
        }
        if (!pcp && n < 12) || (pcp && n < 24) {
            invalid(self);
            return;
        }
        if !pcp && cmd == 128 {
            let ip = Ipv4Addr::new(
                data.get(8).copied().unwrap_or(0),
                data.get(9).copied().unwrap_or(0),
                data.get(10).copied().unwrap_or(0),
                data.get(11).copied().unwrap_or(0),
            );
            self.external_ip = Some(ip);
            self.log(format!("<== public IP address [ {ip} ]"));
            return;
        }
        if (!pcp && n != 16) || (pcp && n != 60) {
            invalid(self);
            return;
        }
        let (protocol, private_port, public_port, lifetime, ext_ip, nonce) = if pcp {
            let mut nonce = [0u8; 12];
            if let Some(s) = data.get(24..36) {
                nonce.copy_from_slice(s);
            }
            let protocol = if data.get(36) == Some(&6) {
                Protocol::Tcp
            } else {
                Protocol::Udp
            };
            let mut a = [0u8; 16];
            if let Some(s) = data.get(44..60) {
                a.copy_from_slice(s);
            }
            let ext = std::net::Ipv6Addr::from(a).to_ipv4_mapped();
            (
                protocol,
                be16(data, 40),
                be16(data, 42),
                be32(data, 4),
                ext,
                Some(nonce),
            )
        } else {
            let protocol = if cmd.wrapping_sub(128) == 1 {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            (
                protocol,
                be16(data, 8),
                be16(data, 10),
                be32(data, 12),
                None,
                None,
            )
        };
        let msg = format!(
            "<== port map [ transport: {} protocol: {} local: {private_port} external: {public_port} ttl: {lifetime} ]",
            if pcp { "PCP" } else { "NAT-PMP" },
            protocol.lower()
        );
        let found = self.mappings.iter().position(|m| {
            m.local_port == private_port
                && m.protocol == Some(protocol)
                && m.map_sent
                && m.outstanding
                && nonce.is_none_or(|n| n == m.nonce)
        });
        let Some(index) = found else {
            self.log(format!("{msg} not found in map table"));
            return;
        };
        self.log(msg);
        self.resend_at = None;
        let external_ip = self.external_ip;
        let Some(m) = self.mappings.get_mut(index) else {
            return;
        };
        m.outstanding = false;
        if public_port == 0 || lifetime == 0 {
            m.protocol = None;
        } else {
            m.expires = Some(now + Duration::from_secs(u64::from(lifetime) * 3 / 4));
            m.external_port = public_port;
            if let Some(ip) = ext_ip.filter(|ip| !ip.is_unspecified()) {
                m.external_ip = Some(ip);
            }
        }
        if result != 0 {
            m.expires = Some(now + RETRY_LATER);
            let code = if pcp {
                result
            } else {
                match result {
                    3 => 7,
                    4 => 8,
                    5 => 4,
                    r => r,
                }
            };
            self.out.push(Output::Failed {
                mapping: index,
                code: u8::try_from(code).unwrap_or(u8::MAX),
            });
        } else if m.action == Action::Add {
            if let Some(protocol) = m.protocol {
                let ip = if pcp { m.external_ip } else { external_ip };
                self.out.push(Output::Mapped {
                    mapping: index,
                    protocol,
                    external_port: m.external_port,
                    external_ip: ip,
                });
            }
        }
        if let Some(m) = self.mappings.get_mut(index) {
            m.action = Action::None;
        }
        self.current = None;
        self.update_expiration_timer(now);
        self.try_next_mapping(now, index);
    }
}

fn be16(d: &[u8], at: usize) -> u16 {
    match d.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn be32(d: &[u8], at: usize) -> u32 {
    match d.get(at..at + 4) {
        Some(&[a, b, c, e]) => u32::from_be_bytes([a, b, c, e]),
        _ => 0,
    }
}

#[cfg(test)]
#[path = "natpmp_tests.rs"]
mod tests;
