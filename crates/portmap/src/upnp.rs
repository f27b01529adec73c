//! UPnP Internet Gateway Device client, sans IO.
//!
//! The caller multicasts [`Output::Multicast`] datagrams to
//! 239.255.255.250:1900 from a socket bound to the local interface address
//! and feeds the unicast answers to [`Upnp::on_ssdp`]; it carries out
//! [`Output::Http`] requests (connect, write the bytes, read the response
//! until the peer closes, at most [`MAX_HTTP_RESPONSE`] bytes) and feeds
//! the result to [`Upnp::on_http`]; it calls [`Upnp::tick`] when
//! [`Upnp::next_deadline`] passes.
//!
//! Each device found answers its description (the first WANIPConnection
//! or WANPPPConnection service is used), its external address, then one
//! SOAP request at a time for the mappings. As libtorrent: a conflicting
//! mapping (718) is retried on a random port, up to four times; a gateway
//! that only supports permanent leases (725) is asked again with lease 0;
//! mappings are renewed when three quarters of their lease have passed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::{Action, Protocol};

/// The SSDP multicast group and port.
pub const SSDP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const SSDP_PORT: u16 = 1900;
/// Largest SSDP datagram worth reading.
pub const MAX_DATAGRAM: usize = 4096;
/// Largest HTTP response accepted (description or SOAP answer).
pub const MAX_HTTP_RESPONSE: usize = 256 * 1024;
/// Most devices tracked at once.
const MAX_DEVICES: usize = 16;
/// Adding attempts of one mapping when the gateway reports conflicts.
const MAX_ATTEMPTS: u32 = 5;

/// UPnP error codes with special handling.
pub const ERR_CONFLICT: i32 = 718;
pub const ERR_ONLY_PERMANENT_LEASES: i32 = 725;

/// What the client wants done or reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this datagram to 239.255.255.250:1900.
    Multicast(Vec<u8>),
    /// Make this HTTP request on a new connection to `addr`; report the
    /// response (or failure) with [`Upnp::on_http`] and `id`.
    Http {
        id: u64,
        addr: SocketAddrV4,
        request: Vec<u8>,
    },
    /// A `portmap_log_alert` line.
    Log(String),
    /// A mapping was made on a device.
    Mapped {
        mapping: usize,
        protocol: Protocol,
        external_port: u16,
        external_ip: Option<Ipv4Addr>,
    },
    /// A device refused a mapping: `code` in the "upnp" error category,
    /// or an HTTP status when `http` is set.
    Failed {
        mapping: usize,
        code: i32,
        http: bool,
    },
}

/// Why a reply was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    TooLarge,
    Malformed(&'static str),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::TooLarge => f.write_str("response too large"),
            ParseError::Malformed(w) => write!(f, "malformed response: {w}"),
        }
    }
}

/// An `http://a.b.c.d[:port]/path` URL (devices are addressed by IP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub addr: SocketAddrV4,
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, ParseError> {
        let s = s.trim();
        if s.len() > 1024 {
            return Err(ParseError::TooLarge);
        }
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("HTTP://"))
            .ok_or(ParseError::Malformed("not an http URL"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| ParseError::Malformed("bad port"))?,
            ),
            None => (hostport, 80),
        };
        let ip: Ipv4Addr = host
            .parse()
            .map_err(|_| ParseError::Malformed("host is not an IPv4 address"))?;
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(ParseError::Malformed("bad path"));
        }
        Ok(Url {
            addr: SocketAddrV4::new(ip, port),
            path: path.to_owned(),
        })
    }

    /// `http://ip:port`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resolves `r` (absolute URL or path) against this URL.
    pub fn join(&self, r: &str) -> Result<Url, ParseError> {
        let r = r.trim();
        if r.starts_with("http://") || r.starts_with("HTTP://") {
            return Url::parse(r);
        }
        let path = if r.starts_with('/') {
            r.to_owned()
        } else {
            format!("/{r}")
        };
        Url::parse(&format!("{}{}", self.base(), path))
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.addr, self.path)
    }
}

/// The M-SEARCH datagram libtorrent multicasts.
pub fn search_request() -> Vec<u8> {
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST:upnp:rootdevice\r\nMAN:\"ssdp:discover\"\r\nMX:3\r\n\r\n\r\n".to_vec()
}

/// An HTTP response: status, headers (names lower-cased), body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete HTTP/1.x response (as read until the connection
/// closed). With `head_only` (SSDP) there is no body.
pub fn parse_http(data: &[u8], head_only: bool) -> Result<HttpResponse, ParseError> {
    if data.len() > MAX_HTTP_RESPONSE {
        return Err(ParseError::TooLarge);
    }
    let (head, rest) = match find(data, b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None if head_only => (data.strip_suffix(b"\r\n").unwrap_or(data), &data[..0]),
        None => return Err(ParseError::Malformed("incomplete header")),
    };
    let head = std::str::from_utf8(head).map_err(|_| ParseError::Malformed("header not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(ParseError::Malformed("not an HTTP response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or(ParseError::Malformed("bad status"))?;
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= 64 {
            return Err(ParseError::Malformed("too many headers"));
        }
        let (k, v) = line
            .split_once(':')
            .ok_or(ParseError::Malformed("bad header line"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut r = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only {
        return Ok(r);
    }
    let chunked = r
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut rest = rest;
        loop {
            let i = find(rest, b"\r\n").ok_or(ParseError::Malformed("bad chunk"))?;
            let size_s =
                std::str::from_utf8(&rest[..i]).map_err(|_| ParseError::Malformed("bad chunk"))?;
            let size_s = size_s.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_s, 16)
                .map_err(|_| ParseError::Malformed("bad chunk size"))?;
            rest = &rest[i + 2..];
            if size == 0 {
                break;
            }
            let chunk = rest
                .get(..size)
                .ok_or(ParseError::Malformed("truncated chunk"))?;
            r.body.extend_from_slice(chunk);
            rest = rest
                .get(size..)
                .and_then(|x| x.strip_prefix(b"\r\n"))
                .ok_or(ParseError::Malformed("bad chunk end"))?;
        }
    } else if let Some(len) = r.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ParseError::Malformed("bad content-length"))?;
        r.body = rest
            .get(..len)
            .ok_or(ParseError::Malformed("truncated body"))?
            .to_vec();
    } else {
        r.body = rest.to_vec();
    }
    Ok(r)
}

/// The text between the first `<tag>` (or `<ns:tag>`) and its end tag,
/// searching `xml` from `from`; returns it and the index after the end tag.
fn element<'a>(xml: &'a str, tag: &str, from: usize) -> Option<(&'a str, usize)> {
    let mut pos = from;
    while let Some(off) = xml.get(pos..)?.find('<') {
        let start = pos + off + 1;
        let end = start + xml.get(start..)?.find('>')?;
        let name = xml.get(start..end)?;
        let name_only = name.split_whitespace().next().unwrap_or("");
        let local = name_only.rsplit(':').next().unwrap_or("");
        if local == tag && !name_only.starts_with('/') && !name.ends_with('/') {
            let close_local = format!("/{name_only}>");
            let body_start = end + 1;
            let rel = xml.get(body_start..)?.find(&format!("<{close_local}"))?;
            let body = xml.get(body_start..body_start + rel)?;
            return Some((body, body_start + rel + close_local.len() + 1));
        }
        pos = end + 1;
    }
    None
}

/// What a device description says about port mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub url_base: Option<String>,
    pub service_type: String,
    pub control_url: String,
}

/// Finds the first WANIPConnection / WANPPPConnection service.
pub fn parse_description(xml: &[u8]) -> Result<Description, ParseError> {
    if xml.len() > MAX_HTTP_RESPONSE {
        return Err(ParseError::TooLarge);
    }
    let xml = std::str::from_utf8(xml).map_err(|_| ParseError::Malformed("not UTF-8"))?;
    let url_base = element(xml, "URLBase", 0).map(|(s, _)| s.trim().to_owned());
    let mut pos = 0;
    let mut services = 0;
    while let Some((svc, next)) = element(xml, "service", pos) {
        services += 1;
        if services > 256 {
            break;
        }
        pos = next;
        let Some((ty, _)) = element(svc, "serviceType", 0) else {
            continue;
        };
        let ty = ty.trim();
        if !(ty.starts_with("urn:schemas-upnp-org:service:WANIPConnection:")
            || ty.starts_with("urn:schemas-upnp-org:service:WANPPPConnection:"))
        {
            continue;
        }
        let Some((ctl, _)) = element(svc, "controlURL", 0) else {
            continue;
        };
        if ctl.trim().is_empty() {
            continue;
        }
        return Ok(Description {
            url_base,
            service_type: ty.to_owned(),
            control_url: ctl.trim().to_owned(),
        });
    }
    Err(ParseError::Malformed(
        "no WANIPConnection or WANPPPConnection service",
    ))
}

/// The SOAP request text for `action` with `args` (already XML).
pub fn soap_request(url: &Url, service: &str, action: &str, args: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:{action} xmlns:u=\"{service}\">{args}</u:{action}></s:Body></s:Envelope>"
    );
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nContent-Length: {}\r\nSoapaction: \"{service}#{action}\"\r\n\r\n{body}",
        url.path,
        url.addr,
        body.len()
    )
    .into_bytes()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The outcome of a SOAP call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoapResult {
    Ok { body: String },
    UpnpError { code: i32, body: String },
    HttpError { status: u16, body: String },
}

/// Reads a SOAP answer: a UPnP error code wins, then the HTTP status.
pub fn parse_soap(resp: &HttpResponse) -> SoapResult {
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    if let Some(code) = element(&body, "errorCode", 0).and_then(|(c, _)| c.trim().parse().ok()) {
        return SoapResult::UpnpError { code, body };
    }
    if resp.status != 200 {
        return SoapResult::HttpError {
            status: resp.status,
            body,
        };
    }
    SoapResult::Ok { body }
}

#[derive(Clone, Debug)]
struct GlobalMapping {
    protocol: Option<Protocol>,
    external_port: u16,
    local_port: u16,
}

#[derive(Clone, Debug)]
struct DevMapping {
    action: Action,
    external_port: u16,
    expires: Option<Instant>,
    attempts: u32,
    mapped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DevState {
    Describing,
    ExternalIp,
    Ready,
    Failed,
}

#[derive(Clone, Debug)]
struct Device {
    location: Url,
    state: DevState,
    control: Option<(Url, String)>,
    external_ip: Option<Ipv4Addr>,
    mappings: Vec<DevMapping>,
    /// The request in flight and what it is about.
    busy: Option<(u64, Pending)>,
    lease: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Describe,
    ExternalIp,
    Map(usize),
    Unmap(usize),
}

/// Settings of a [`Upnp`] client.
#[derive(Clone, Debug)]
pub struct Config {
    /// The local interface address (mappings point here).
    pub local: Ipv4Addr,
    /// The interface name, for log lines.
    pub device: String,
    /// `NewPortMappingDescription`.
    pub user_agent: String,
    /// Seconds asked per mapping (`upnp_lease_duration`; 0: permanent).
    pub lease: u32,
    /// Ignore devices that are not the default gateway.
    pub ignore_nonrouters: bool,
    /// The default gateway, if known.
    pub gateway: Option<Ipv4Addr>,
}

/// One interface's UPnP client.
pub struct Upnp {
    cfg: Config,
    mappings: Vec<GlobalMapping>,
    devices: Vec<Device>,
    searches: u32,
    next_search: Option<Instant>,
    next_id: u64,
    closing: bool,
    rng: u64,
    out: Vec<Output>,
}

impl Upnp {
    /// Starts: the first search is sent at once.
    pub fn new(cfg: Config, now: Instant, seed: u64) -> Upnp {
        let mut u = Upnp {
            cfg,
            mappings: Vec::new(),
            devices: Vec::new(),
            searches: 0,
            next_search: None,
            next_id: 1,
            closing: false,
            rng: seed | 1,
            out: Vec::new(),
        };
        u.search(now);
        u
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
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

    fn search(&mut self, now: Instant) {
        self.log("broadcasting search for rootdevice".into());
        self.out.push(Output::Multicast(search_request()));
        self.searches += 1;
        let again = self.searches < 4 || (self.devices.is_empty() && self.searches < 12);
        self.next_search = again.then(|| now + Duration::from_secs(2 * u64::from(self.searches)));
    }

    /// When [`Upnp::tick`] must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let renew = self
            .devices
            .iter()
            .filter(|d| d.state == DevState::Ready)
            .flat_map(|d| d.mappings.iter().filter_map(|m| m.expires))
            .min();
        match (self.next_search, renew) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when nothing is in flight (after `close`, all deletes done).
    pub fn idle(&self) -> bool {
        self.devices.iter().all(|d| d.busy.is_none())
    }

    pub fn tick(&mut self, now: Instant) {
        if self.closing {
            return;
        }
        if self.next_search.is_some_and(|t| now >= t) {
            self.search(now);
        }
        for d in 0..self.devices.len() {
            let Some(dev) = self.devices.get_mut(d) else {
                break;
            };
            if dev.state != DevState::Ready {
                continue;
            }
            let mut due = false;
            for m in &mut dev.mappings {
                if m.expires.is_some_and(|e| now >= e) && m.action == Action::None {
                    m.expires = None;
                    m.action = Action::Add;
                    due = true;
                }
            }
            if due {
                self.next_request(d);
            }
        }
    }

    fn ep_text(&self, i: usize) -> String {
        match self.mappings.get(i) {
            Some(m) => format!(
                "[ protocol: {} ext_port: {} local_ep: {}:{} device: {}]",
                m.protocol.map(|p| p.lower()).unwrap_or("none"),
                m.external_port,
                self.cfg.local,
                m.local_port,
                self.cfg.device
            ),
            None => String::new(),
        }
    }

    /// Adds a mapping on every device (now and found later).
    pub fn add_mapping(
        &mut self,
        protocol: Protocol,
        external_port: u16,
        local_port: u16,
    ) -> Option<usize> {
        if self.closing {
            return None;
        }
        let m = GlobalMapping {
            protocol: Some(protocol),
            external_port,
            local_port,
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
        let line = format!("adding port map: {} ", self.ep_text(i));
        self.log(line);
        for d in 0..self.devices.len() {
            if let Some(dev) = self.devices.get_mut(d) {
                set_dev_mapping(dev, i, Action::Add, external_port);
            }
            self.next_request(d);
        }
        Some(i)
    }

    /// Deletes mapping `i` on every device.
    pub fn delete_mapping(&mut self, i: usize) {
        let Some(m) = self.mappings.get(i) else {
            return;
        };
        if m.protocol.is_none() {
            return;
        }
        let line = format!("deleting port map: {}", self.ep_text(i));
        self.log(line);
        let mut any = false;
        for d in 0..self.devices.len() {
            if let Some(dev) = self.devices.get_mut(d) {
                if let Some(dm) = dev.mappings.get_mut(i) {
                    let in_flight = matches!(dev.busy, Some((_, Pending::Map(j))) if j == i);
                    if dm.mapped || in_flight {
                        dm.action = Action::Delete;
                        any = true;
                    } else {
                        dm.action = Action::None;
                    }
                }
            }
            self.next_request(d);
        }
        if !any {
            if let Some(m) = self.mappings.get_mut(i) {
                m.protocol = None;
            }
        }
    }

    /// Deletes every mapping on every device; `idle()` tells when done.
    pub fn close(&mut self) {
        self.closing = true;
        self.next_search = None;
        for d in 0..self.devices.len() {
            if let Some(dev) = self.devices.get_mut(d) {
                for m in &mut dev.mappings {
                    m.action = if m.mapped {
                        Action::Delete
                    } else {
                        Action::None
                    };
                    m.expires = None;
                }
            }
            self.next_request(d);
        }
    }

    /// An SSDP answer from `from`.
    pub fn on_ssdp(&mut self, from: SocketAddr, data: &[u8]) {
        if self.closing || data.len() > MAX_DATAGRAM {
            return;
        }
        let Ok(r) = parse_http(data, true) else {
            self.log(format!("received malformed SSDP packet from {from}"));
            return;
        };
        if r.status != 200 {
            return;
        }
        let Some(loc) = r.header("location") else {
            self.log(format!("missing location header from {from}"));
            return;
        };
        let url = match Url::parse(loc) {
            Ok(u) => u,
            Err(e) => {
                self.log(format!("invalid URL {loc:?} from {from}: {e}"));
                return;
            }
        };
        let ip = *url.addr.ip();
        if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
            self.log(format!(
                "ignoring rootdevice from {from} with invalid address: {ip}"
            ));
            return;
        }
        if self.cfg.ignore_nonrouters && self.cfg.gateway != Some(ip) {
            self.log(format!(
                "ignoring device {url} from {from}: not the default route's router"
            ));
            return;
        }
        if self.devices.iter().any(|d| d.location == url) {
            return;
        }
        if self.devices.len() >= MAX_DEVICES {
            return;
        }
        self.log(format!("found rootdevice: {url} ({})", self.devices.len()));
        let mut dev = Device {
            location: url.clone(),
            state: DevState::Describing,
            control: None,
            external_ip: None,
            mappings: Vec::new(),
            busy: None,
            lease: self.cfg.lease,
        };
        for (i, m) in self.mappings.iter().enumerate() {
            if m.protocol.is_some() {
                set_dev_mapping(&mut dev, i, Action::Add, m.external_port);
            }
        }
        self.devices.push(dev);
        let d = self.devices.len() - 1;
        self.log(format!("connecting to: {url}"));
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            url.path, url.addr
        );
        self.request(d, url.addr, Pending::Describe, req.into_bytes());
    }

    fn request(&mut self, d: usize, addr: SocketAddrV4, what: Pending, bytes: Vec<u8>) {
        let id = self.next_id;
        self.next_id += 1;
        if let Some(dev) = self.devices.get_mut(d) {
            dev.busy = Some((id, what));
        }
        self.out.push(Output::Http {
            id,
            addr,
            request: bytes,
        });
    }

    fn soap(&mut self, d: usize, what: Pending, action: &str, args: &str) {
        let Some((url, svc)) = self.devices.get(d).and_then(|x| x.control.clone()) else {
            return;
        };
        let req = soap_request(&url, &svc, action, args);
        if !matches!(what, Pending::ExternalIp) {
            self.log(format!("connecting to {}", url.addr.ip()));
        }
        self.log(format!("sending: {}", String::from_utf8_lossy(&req)));
        self.request(d, url.addr, what, req);
    }

    /// Starts the device's next SOAP call, if it is idle.
    fn next_request(&mut self, d: usize) {
        let Some(dev) = self.devices.get(d) else {
            return;
        };
        if dev.busy.is_some() || dev.state != DevState::Ready {
            return;
        }
        let Some(i) = dev.mappings.iter().position(|m| m.action != Action::None) else {
            return;
        };
        let Some(dm) = dev.mappings.get(i).cloned() else {
            return;
        };
        let lease = dev.lease;
        let Some(g) = self.mappings.get(i).cloned() else {
            return;
        };
        let Some(proto) = g.protocol else {
            if let Some(x) = self.devices.get_mut(d).and_then(|x| x.mappings.get_mut(i)) {
                x.action = Action::None;
            }
            return self.next_request(d);
        };
        match dm.action {
            Action::Add => {
                let args = format!(
                    "<NewRemoteHost></NewRemoteHost><NewExternalPort>{}</NewExternalPort><NewProtocol>{}</NewProtocol><NewInternalPort>{}</NewInternalPort><NewInternalClient>{}</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>{}</NewPortMappingDescription><NewLeaseDuration>{}</NewLeaseDuration>",
                    dm.external_port,
                    proto.upper(),
                    g.local_port,
                    self.cfg.local,
                    xml_escape(&self.cfg.user_agent),
                    lease
                );
                self.soap(d, Pending::Map(i), "AddPortMapping", &args);
            }
            Action::Delete => {
                let args = format!(
                    "<NewRemoteHost></NewRemoteHost><NewExternalPort>{}</NewExternalPort><NewProtocol>{}</NewProtocol>",
                    dm.external_port,
                    proto.upper()
                );
                self.soap(d, Pending::Unmap(i), "DeletePortMapping", &args);
            }
            Action::None => {}
        }
    }

    /// The result of HTTP request `id`: the bytes read, or why it failed.
    pub fn on_http(&mut self, now: Instant, id: u64, result: Result<Vec<u8>, String>) {
        let Some(d) = self
            .devices
            .iter()
            .position(|x| x.busy.is_some_and(|b| b.0 == id))
        else {
            return;
        };
        let Some((_, what)) = self.devices.get_mut(d).and_then(|x| x.busy.take()) else {
            return;
        };
        let parsed = result.and_then(|b| parse_http(&b, false).map_err(|e| e.to_string()));
        match what {
            Pending::Describe => self.on_description(d, parsed),
            Pending::ExternalIp => {
                if let Ok(r) = &parsed {
                    let body = String::from_utf8_lossy(&r.body).into_owned();
                    self.log(format!("get external IP address response: {body}"));
                    if let Some(ip) = element(&body, "NewExternalIPAddress", 0)
                        .and_then(|(s, _)| s.trim().parse::<Ipv4Addr>().ok())
                    {
                        self.log(format!("got router external IP address {ip}"));
                        if let Some(dev) = self.devices.get_mut(d) {
                            dev.external_ip = Some(ip);
                        }
                    }
                } else if let Err(e) = &parsed {
                    self.log(format!("error getting external IP address: {e}"));
                }
                if let Some(dev) = self.devices.get_mut(d) {
                    dev.state = DevState::Ready;
                }
            }
            Pending::Map(i) => self.on_map_response(now, d, i, parsed),
            Pending::Unmap(i) => {
                match &parsed {
                    Ok(r) => {
                        let body = String::from_utf8_lossy(&r.body).into_owned();
                        self.log(format!("unmap response: {body}"));
                    }
                    Err(e) => self.log(format!("error while deleting port map: {e}")),
                }
                if let Some(dm) = self.devices.get_mut(d).and_then(|x| x.mappings.get_mut(i)) {
                    dm.mapped = false;
                    if dm.action == Action::Delete {
                        dm.action = Action::None;
                    }
                }
                let still = self.devices.iter().any(|x| {
                    x.mappings
                        .get(i)
                        .is_some_and(|m| m.mapped || m.action != Action::None)
                });
                if !still && !self.closing {
                    if let Some(g) = self.mappings.get_mut(i) {
                        g.protocol = None;
                    }
                }
            }
        }
        self.next_request(d);
    }

    fn on_description(&mut self, d: usize, parsed: Result<HttpResponse, String>) {
        let Some(loc) = self.devices.get(d).map(|x| x.location.clone()) else {
            return;
        };
        let fail = |s: &mut Self, msg: String| {
            s.log(msg);
            if let Some(dev) = s.devices.get_mut(d) {
                dev.state = DevState::Failed;
            }
        };
        let r = match parsed {
            Ok(r) if r.status == 200 => r,
            Ok(r) => {
                return fail(
                    self,
                    format!(
                        "error while fetching control url from: {loc}: HTTP status {}",
                        r.status
                    ),
                )
            }
            Err(e) => {
                return fail(
                    self,
                    format!("error while fetching control url from: {loc}: {e}"),
                )
            }
        };
        let desc = match parse_description(&r.body) {
            Ok(x) => x,
            Err(e) => {
                return fail(
                    self,
                    format!("could not find a port mapping interface in response from: {loc}: {e}"),
                )
            }
        };
        let base = match desc.url_base.as_deref().map(Url::parse) {
            Some(Ok(b)) => b,
            _ => loc.clone(),
        };
        let ctl = match base.join(&desc.control_url) {
            Ok(u) => u,
            Err(e) => {
                return fail(
                    self,
                    format!("invalid control URL in response from: {loc}: {e}"),
                )
            }
        };
        if self.cfg.ignore_nonrouters && self.cfg.gateway != Some(*ctl.addr.ip()) {
            return fail(self, format!("ignoring control URL {ctl}: not a router"));
        }
        self.log(format!(
            "found control URL: {ctl} namespace {} urlbase: {} in response from {loc}",
            desc.service_type,
            base.base()
        ));
        if let Some(dev) = self.devices.get_mut(d) {
            dev.control = Some((ctl, desc.service_type));
            dev.state = DevState::ExternalIp;
        }
        self.soap(d, Pending::ExternalIp, "GetExternalIPAddress", "");
    }

    fn on_map_response(
        &mut self,
        now: Instant,
        d: usize,
        i: usize,
        parsed: Result<HttpResponse, String>,
    ) {
        let Some(proto) = self.mappings.get(i).and_then(|m| m.protocol) else {
            return;
        };
        let result = match parsed {
            Ok(r) => parse_soap(&r),
            Err(e) => {
                self.log(format!("error while adding port map: {e}"));
                if let Some(dm) = self.devices.get_mut(d).and_then(|x| x.mappings.get_mut(i)) {
                    dm.action = Action::None;
                }
                self.out.push(Output::Failed {
                    mapping: i,
                    code: -1,
                    http: false,
                });
                return;
            }
        };
        let closing = self.closing;
        let lease_cfg = self.cfg.lease;
        let random_port = 1025 + (self.random() % 64000) as u16;
        let Some(dev) = self.devices.get_mut(d) else {
            return;
        };
        let ext_ip = dev.external_ip;
        let dev_lease = dev.lease;
        let Some(dm) = dev.mappings.get_mut(i) else {
            return;
        };
        match result {
            SoapResult::Ok { body } => {
                let still_wanted = dm.action == Action::Add;
                dm.mapped = true;
                dm.attempts = 0;
                if still_wanted {
                    dm.action = Action::None;
                }
                dm.expires = (dev_lease > 0 && !closing)
                    .then(|| now + Duration::from_secs(u64::from(dev_lease) * 3 / 4));
                let port = dm.external_port;
                if still_wanted {
                    self.out.push(Output::Mapped {
                        mapping: i,
                        protocol: proto,
                        external_port: port,
                        external_ip: ext_ip,
                    });
                }
                self.log(format!("map response: {body}"));
            }
            SoapResult::UpnpError { code, body } => {
                dm.attempts += 1;
                let mut retry = false;
                if dm.action == Action::Add {
                    if code == ERR_CONFLICT && dm.attempts < MAX_ATTEMPTS {
                        dm.external_port = random_port;
                        retry = true;
                    } else if code == ERR_ONLY_PERMANENT_LEASES && dev_lease != 0 {
                        dev.lease = 0;
                        retry = true;
                    }
                }
                let _ = lease_cfg;
                if let Some(dm) = self.devices.get_mut(d).and_then(|x| x.mappings.get_mut(i)) {
                    if !retry {
                        dm.action = Action::None;
                        dm.attempts = 0;
                    }
                }
                self.log(format!("error while adding port map, code: {code}"));
                if !retry {
                    self.out.push(Output::Failed {
                        mapping: i,
                        code,
                        http: false,
                    });
                    self.log(format!("map response: {body}"));
                }
            }
            SoapResult::HttpError { status, body } => {
                dm.action = Action::None;
                self.out.push(Output::Failed {
                    mapping: i,
                    code: i32::from(status),
                    http: true,
                });
                self.log(format!("map response: {body}"));
            }
        }
    }
}

fn set_dev_mapping(dev: &mut Device, i: usize, action: Action, external_port: u16) {
    while dev.mappings.len() <= i {
        dev.mappings.push(DevMapping {
            action: Action::None,
            external_port: 0,
            expires: None,
            attempts: 0,
            mapped: false,
        });
    }
    if let Some(m) = dev.mappings.get_mut(i) {
        *m = DevMapping {
            action,
            external_port,
            expires: None,
            attempts: 0,
            mapped: false,
        };
    }
}

#[cfg(test)]
#[path = "upnp_tests.rs"]
mod tests;
