//! Drives port mapping (`lt-portmap`) from the engine.
//!
//! As libtorrent, every IPv4 listen endpoint gets a PCP/NAT-PMP client
//! (when `enable_natpmp` is set and a default route leaves from that
//! endpoint's interface, or `natpmp_gateway` names the gateway) and a UPnP
//! client (when `enable_upnp` is set), and both map the listen port for TCP
//! and UDP. `add_port_mapping` adds a mapping to every client and returns
//! the indices (UPnP's, then NAT-PMP's, per endpoint); `delete_port_mapping`
//! removes that index from every client. Turning a setting off, changing
//! the listen endpoints or shutting down deletes the mappings (NAT-PMP's
//! without waiting for answers; UPnP's with a bounded wait at shutdown).
//!
//! The I/O is here: one UDP socket per client bound to the endpoint's
//! address (NAT-PMP requests go to `gateway:5351`, SSDP searches to
//! 239.255.255.250:1900), a task per socket feeding datagrams back as jobs,
//! and a task per UPnP HTTP request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_core::error::{Category, ErrorCode};
use lt_portmap::natpmp::{self, NatPmp};
use lt_portmap::upnp::{self, Upnp};
use lt_portmap::Protocol;
use lt_settings::keys;

use super::Engine;
use crate::alert::{category, AlertKind};
use crate::portmap_alert::{PortmapAlert, Transport};

/// Time allowed for one UPnP HTTP exchange.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed at shutdown for UPnP deletes.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

struct Sock {
    /// Sends go through the plain (non-blocking) socket: tokio's
    /// `try_send_to` refuses until the reactor has seen the socket
    /// writable, which loses the first datagrams of a new socket.
    send: std::net::UdpSocket,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Iface {
    local: Ipv4Addr,
    device: String,
    /// Wanted but unavailable (no gateway, or no socket): mappings get -1.
    natpmp_off: bool,
    upnp_off: bool,
    natpmp: Option<(NatPmp, Sock)>,
    upnp: Option<(Upnp, Sock)>,
}

/// The listen endpoints mapped, and whether NAT-PMP and UPnP are on.
type Wanted = (Vec<(Ipv4Addr, u16)>, bool, bool);

#[derive(Default)]
pub(crate) struct PortmapDriver {
    ifaces: Vec<Iface>,
    /// What the current clients were started for: (endpoints, natpmp, upnp).
    config: Option<Wanted>,
    last_check: Option<Instant>,
}

/// The interface name of each local IPv4 address.
fn interface_names() -> Vec<(Ipv4Addr, String)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a pointer to a list it allocates into
    // `head`; on success we only read the list, then free it once with
    // freeifaddrs. Every pointer read is checked for null first, and
    // ifa_addr is only reinterpreted as sockaddr_in when its family says
    // AF_INET (the C API guarantees the layout then). ifa_name is a
    // NUL-terminated string owned by the list, copied before it is freed.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut p = head;
        while !p.is_null() {
            let ifa = &*p;
            if !ifa.ifa_addr.is_null()
                && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET
                && !ifa.ifa_name.is_null()
            {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                out.push((ip, name));
            }
            p = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// Default routes from `/proc/net/route`: (interface, gateway).
pub(crate) fn default_routes(table: &str) -> Vec<(String, Ipv4Addr)> {
    let mut out = Vec::new();
    for line in table.lines().skip(1).take(4096) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(iface), Some(dest), Some(gw), Some(flags), Some(mask)) =
            (f.first(), f.get(1), f.get(2), f.get(3), f.get(7))
        else {
            continue;
        };
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(gw), Some(flags), Some(mask)) =
            (hex(dest), hex(gw), hex(flags), hex(mask))
        else {
            continue;
        };
        // RTF_UP | RTF_GATEWAY, destination and mask 0; the kernel prints
        // each address's network-order bytes as a native-endian integer
        if dest == 0 && mask == 0 && flags & 3 == 3 && gw != 0 {
            out.push((iface.to_string(), Ipv4Addr::from(gw.to_ne_bytes())));
        }
    }
    out
}

fn udp_socket(
    local: Ipv4Addr,
    multicast: bool,
) -> std::io::Result<(tokio::net::UdpSocket, std::net::UdpSocket)> {
    use socket2::{Domain, Protocol as P, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(P::UDP))?;
    s.bind(&SocketAddr::from((local, 0)).into())?;
    if multicast {
        s.set_multicast_if_v4(&local)?;
        s.set_multicast_loop_v4(true)?;
        s.set_multicast_ttl_v4(4)?;
        // fails (ENODEV) when no route leads to the group, as
        // libtorrent's SSDP socket does; UPnP stays off there
        s.join_multicast_v4(&upnp::SSDP_GROUP, &Ipv4Addr::UNSPECIFIED)?;
    }
    s.set_nonblocking(true)?;
    let send: std::net::UdpSocket = s.try_clone()?.into();
    Ok((tokio::net::UdpSocket::from_std(s.into())?, send))
}

/// One HTTP exchange: connect, send, read until the peer closes.
async fn http_exchange(addr: SocketAddrV4, request: Vec<u8>) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let work = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(&request).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if buf.len() > upnp::MAX_HTTP_RESPONSE {
                return Err("response too large".to_string());
            }
            // a complete response with a Content-Length need not wait for
            // the close
            if let Ok(r) = upnp::parse_http(&buf, false) {
                if r.header("content-length").is_some() {
                    break;
                }
            }
        }
        Ok(buf)
    };
    match tokio::time::timeout(HTTP_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err("timed out".to_string()),
    }
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    super::os_random(&mut b);
    u64::from_le_bytes(b)
}

impl Engine {
    fn portmap_wanted(&self) -> Wanted {
        let natpmp = self.settings.get_bool(keys::ENABLE_NATPMP) && !self.shutting_down;
        let upnp = self.settings.get_bool(keys::ENABLE_UPNP) && !self.shutting_down;
        let mut eps = Vec::new();
        if natpmp || upnp {
            for a in self.listen_endpoints() {
                match a.ip() {
                    IpAddr::V4(v4) if v4.is_unspecified() => {
                        // every address of an interface with a default route
                        let routes = std::fs::read_to_string("/proc/net/route")
                            .map(|t| default_routes(&t))
                            .unwrap_or_default();
                        for (ip, name) in interface_names() {
                            if routes.iter().any(|(r, _)| *r == name)
                                && !eps.contains(&(ip, a.port()))
                            {
                                eps.push((ip, a.port()));
                            }
                        }
                    }
                    IpAddr::V4(v4) => {
                        if !eps.contains(&(v4, a.port())) {
                            eps.push((v4, a.port()));
                        }
                    }
                    IpAddr::V6(_) => {}
                }
            }
        }
        (eps, natpmp, upnp)
    }

    /// Every tick: (re)start or stop the clients, run their timers.
    pub(super) fn portmap_tick(&mut self) {
        let now = Instant::now();
        let due = self
            .portmap
            .last_check
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_millis(500));
        let wanted = if due {
            self.portmap.last_check = Some(now);
            Some(self.portmap_wanted())
        } else {
            None
        };
        if let Some(wanted) = wanted.filter(|w| self.portmap.config.as_ref() != Some(w)) {
            self.portmap_stop();
            let (eps, natpmp, upnp) = wanted.clone();
            self.portmap.config = Some(wanted);
            if natpmp || upnp {
                for (local, port) in eps {
                    self.portmap_start(local, port, natpmp, upnp);
                }
            }
        }
        let now = Instant::now();
        for i in 0..self.portmap.ifaces.len() {
            if let Some(f) = self.portmap.ifaces.get_mut(i) {
                if let Some((c, _)) = f.natpmp.as_mut() {
                    if c.next_deadline().is_some_and(|d| now >= d) {
                        c.tick(now);
                    }
                }
                if let Some((c, _)) = f.upnp.as_mut() {
                    if c.next_deadline().is_some_and(|d| now >= d) {
                        c.tick(now);
                    }
                }
            }
            self.portmap_flush(i);
        }
    }

    fn portmap_log(&self, transport: Transport, local: Ipv4Addr, msg: String) {
        if self.should_post(category::PORT_MAPPING_LOG) {
            self.alert(AlertKind::Portmap(PortmapAlert::Log {
                transport,
                msg,
                local: IpAddr::V4(local),
            }));
        }
    }

    fn portmap_start(&mut self, local: Ipv4Addr, port: u16, want_natpmp: bool, want_upnp: bool) {
        let now = Instant::now();
        let names = interface_names();
        let device = names
            .iter()
            .find(|(ip, _)| *ip == local)
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        let routes = std::fs::read_to_string("/proc/net/route")
            .map(|t| default_routes(&t))
            .unwrap_or_default();
        let route_gw = routes
            .iter()
            .find(|(ifn, _)| *ifn == device)
            .map(|(_, gw)| *gw);
        let mut iface = Iface {
            local,
            device: device.clone(),
            natpmp_off: want_natpmp,
            upnp_off: want_upnp,
            natpmp: None,
            upnp: None,
        };
        if want_natpmp {
            let configured = self
                .settings
                .get_str(keys::NATPMP_GATEWAY)
                .trim()
                .to_owned();
            let gw = if configured.is_empty() {
                route_gw
            } else {
                configured.parse::<Ipv4Addr>().ok()
            };
            match gw {
                None => {
                    self.portmap_log(
                        Transport::NatPmp,
                        local,
                        format!("failed to find default route for \"{device}\" {local}"),
                    );
                    self.portmap_log(Transport::NatPmp, local, "closing".into());
                }
                Some(gw) => {
                    self.portmap_log(Transport::NatPmp, local, format!("found gateway at: {gw}"));
                    match udp_socket(local, false) {
                        Ok(s) => {
                            let lease = self.settings.get_int(keys::NATPMP_LEASE_DURATION).max(0);
                            let client = NatPmp::new(local, gw, lease as u32, seed());
                            let sock = self.portmap_socket(local, s, false);
                            iface.natpmp = Some((client, sock));
                            iface.natpmp_off = false;
                        }
                        Err(e) => self.portmap_socket_error(Transport::NatPmp, local, &e),
                    }
                }
            }
        }
        if want_upnp {
            match udp_socket(local, true) {
                Ok(s) => {
                    let cfg = upnp::Config {
                        local,
                        device: device.clone(),
                        user_agent: self.settings.get_str(keys::USER_AGENT).to_owned(),
                        lease: self.settings.get_int(keys::UPNP_LEASE_DURATION).max(0) as u32,
                        ignore_nonrouters: self.settings.get_bool(keys::UPNP_IGNORE_NONROUTERS),
                        gateway: route_gw,
                    };
                    let client = Upnp::new(cfg, now, seed());
                    let sock = self.portmap_socket(local, s, true);
                    iface.upnp = Some((client, sock));
                    iface.upnp_off = false;
                }
                Err(e) => {
                    let msg = e.to_string();
                    let msg = msg.split(" (os error").next().unwrap_or("").to_owned();
                    self.portmap_log(
                        Transport::Upnp,
                        local,
                        format!("failed to open multicast socket: \"{msg}\""),
                    );
                }
            }
        }
        self.portmap.ifaces.push(iface);
        let i = self.portmap.ifaces.len() - 1;
        self.portmap_flush(i);
        // map the listen port, TCP and UDP, on both
        if let Some(f) = self.portmap.ifaces.get_mut(i) {
            if let Some((c, _)) = f.natpmp.as_mut() {
                c.add_mapping(now, Protocol::Tcp, port, port);
                c.add_mapping(now, Protocol::Udp, port, port);
            }
        }
        self.portmap_flush(i);
        if let Some(f) = self.portmap.ifaces.get_mut(i) {
            if let Some((c, _)) = f.upnp.as_mut() {
                c.add_mapping(Protocol::Tcp, port, port);
                c.add_mapping(Protocol::Udp, port, port);
            }
        }
        self.portmap_flush(i);
        self.portmap_log_disabled(i, Protocol::Tcp, port, port);
        self.portmap_log_disabled(i, Protocol::Udp, port, port);
    }

    /// The log line of a mapping added while UPnP is unavailable.
    fn portmap_log_disabled(&self, i: usize, protocol: Protocol, external: u16, local_port: u16) {
        let Some(f) = self.portmap.ifaces.get(i) else {
            return;
        };
        if f.upnp_off {
            self.portmap_log(
                Transport::Upnp,
                f.local,
                format!(
                    "adding port map: [ protocol: {} ext_port: {external} local_ep: {}:{local_port} device: {}] DISABLED",
                    protocol.lower(),
                    f.local,
                    f.device
                ),
            );
        }
    }

    fn portmap_socket_error(&self, transport: Transport, local: Ipv4Addr, e: &std::io::Error) {
        if self.should_post(category::PORT_MAPPING | category::ERROR) {
            self.alert(AlertKind::Portmap(PortmapAlert::Error {
                mapping: -1,
                transport,
                error: super::io_error(e),
                local: IpAddr::V4(local),
            }));
        }
    }

    fn portmap_socket(
        &self,
        local: Ipv4Addr,
        (rx, send): (tokio::net::UdpSocket, std::net::UdpSocket),
        ssdp: bool,
    ) -> Sock {
        let jobs = self.jobs.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; natpmp::MAX_DATAGRAM.max(upnp::MAX_DATAGRAM)];
            loop {
                match rx.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or_default().to_vec();
                        let job =
                            move |e: &mut Engine| e.portmap_datagram(local, ssdp, from, &data);
                        if jobs.send(Box::new(job)).is_err() {
                            return;
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        Sock { send, task }
    }

    fn portmap_iface(&self, local: Ipv4Addr) -> Option<usize> {
        self.portmap.ifaces.iter().position(|f| f.local == local)
    }

    fn portmap_datagram(&mut self, local: Ipv4Addr, ssdp: bool, from: SocketAddr, data: &[u8]) {
        let Some(i) = self.portmap_iface(local) else {
            return;
        };
        let now = Instant::now();
        if let Some(f) = self.portmap.ifaces.get_mut(i) {
            if ssdp {
                if let Some((c, _)) = f.upnp.as_mut() {
                    c.on_ssdp(from, data);
                }
            } else if let Some((c, _)) = f.natpmp.as_mut() {
                c.on_datagram(now, from, data);
            }
        }
        self.portmap_flush(i);
    }

    fn portmap_http(&mut self, local: Ipv4Addr, id: u64, result: Result<Vec<u8>, String>) {
        let Some(i) = self.portmap_iface(local) else {
            return;
        };
        if let Some((c, _)) = self.portmap.ifaces.get_mut(i).and_then(|f| f.upnp.as_mut()) {
            c.on_http(Instant::now(), id, result);
        }
        self.portmap_flush(i);
    }

    /// Carries out the clients' outputs: datagrams, HTTP requests, alerts.
    fn portmap_flush(&mut self, i: usize) {
        let Some(f) = self.portmap.ifaces.get_mut(i) else {
            return;
        };
        let local = f.local;
        let mut alerts = Vec::new();
        if let Some((c, sock)) = f.natpmp.as_mut() {
            let gw = SocketAddr::V4(c.gateway());
            for o in c.drain() {
                match o {
                    natpmp::Output::Send(b) => {
                        let _ = sock.send.send_to(&b, gw);
                    }
                    natpmp::Output::Log(s) => alerts.push((Transport::NatPmp, Err(s))),
                    natpmp::Output::Mapped {
                        mapping,
                        protocol,
                        external_port,
                        ..
                    } => alerts.push((
                        Transport::NatPmp,
                        Ok(PortmapAlert::Mapped {
                            mapping: mapping as i32,
                            external_port: i32::from(external_port),
                            protocol: protocol.value(),
                            transport: Transport::NatPmp,
                            local: IpAddr::V4(local),
                        }),
                    )),
                    natpmp::Output::Failed { mapping, code } => alerts.push((
                        Transport::NatPmp,
                        Ok(PortmapAlert::Error {
                            mapping: mapping as i32,
                            transport: Transport::NatPmp,
                            error: ErrorCode::new(i32::from(code), Category::Pcp),
                            local: IpAddr::V4(local),
                        }),
                    )),
                }
            }
        }
        let mut http = Vec::new();
        if let Some((c, sock)) = f.upnp.as_mut() {
            for o in c.drain() {
                match o {
                    upnp::Output::Multicast(b) => {
                        let to = SocketAddr::from((upnp::SSDP_GROUP, upnp::SSDP_PORT));
                        if let Err(e) = sock.send.send_to(&b, to) {
                            alerts.push((
                                Transport::Upnp,
                                Err(format!("failed to send SSDP search: {e}")),
                            ));
                        }
                    }
                    upnp::Output::Http { id, addr, request } => http.push((id, addr, request)),
                    upnp::Output::Log(s) => alerts.push((Transport::Upnp, Err(s))),
                    upnp::Output::Mapped {
                        mapping,
                        protocol,
                        external_port,
                        ..
                    } => alerts.push((
                        Transport::Upnp,
                        Ok(PortmapAlert::Mapped {
                            mapping: mapping as i32,
                            external_port: i32::from(external_port),
                            protocol: protocol.value(),
                            transport: Transport::Upnp,
                            local: IpAddr::V4(local),
                        }),
                    )),
                    upnp::Output::Failed {
                        mapping,
                        code,
                        http,
                    } => alerts.push((
                        Transport::Upnp,
                        Ok(PortmapAlert::Error {
                            mapping: mapping as i32,
                            transport: Transport::Upnp,
                            error: ErrorCode::new(
                                code,
                                if http { Category::Http } else { Category::Upnp },
                            ),
                            local: IpAddr::V4(local),
                        }),
                    )),
                }
            }
        }
        for (id, addr, request) in http {
            let jobs = self.jobs.clone();
            tokio::spawn(async move {
                let result = http_exchange(addr, request).await;
                let _ = jobs.send(Box::new(move |e: &mut Engine| {
                    e.portmap_http(local, id, result)
                }));
            });
        }
        for (transport, a) in alerts {
            match a {
                Ok(a) => self.alert(AlertKind::Portmap(a)),
                Err(msg) => self.portmap_log(transport, local, msg),
            }
        }
    }

    /// Deletes every mapping and drops the clients. NAT-PMP deletes are
    /// sent at once; UPnP's run in a task of their own.
    fn portmap_stop(&mut self) {
        let now = Instant::now();
        for i in 0..self.portmap.ifaces.len() {
            if let Some((c, _)) = self
                .portmap
                .ifaces
                .get_mut(i)
                .and_then(|f| f.natpmp.as_mut())
            {
                c.close(now);
            }
            self.portmap_flush(i);
        }
        for f in std::mem::take(&mut self.portmap.ifaces) {
            if let Some((c, sock)) = f.upnp {
                tokio::spawn(upnp_close(c, sock, self.shared.clone(), f.local, None));
            }
        }
    }

    /// At shutdown: delete the mappings, waiting a bounded time for UPnP.
    pub(super) async fn portmap_shutdown(&mut self) {
        let now = Instant::now();
        for i in 0..self.portmap.ifaces.len() {
            if let Some((c, _)) = self
                .portmap
                .ifaces
                .get_mut(i)
                .and_then(|f| f.natpmp.as_mut())
            {
                c.close(now);
            }
            self.portmap_flush(i);
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_WAIT;
        let mut tasks = Vec::new();
        for f in std::mem::take(&mut self.portmap.ifaces) {
            if let Some((c, sock)) = f.upnp {
                tasks.push(upnp_close(
                    c,
                    sock,
                    self.shared.clone(),
                    f.local,
                    Some(deadline),
                ));
            }
        }
        for t in tasks {
            let _ = tokio::time::timeout_at(deadline, t).await;
        }
        self.portmap.config = None;
    }

    /// `session.add_port_mapping`: the mapping's index in every client.
    pub fn add_port_mapping(&mut self, udp: bool, external_port: u16, local_port: u16) -> Vec<i32> {
        let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
        let now = Instant::now();
        let mut out = Vec::new();
        for i in 0..self.portmap.ifaces.len() {
            // as libtorrent: -1 from a port mapper that is unavailable
            self.portmap_log_disabled(i, protocol, external_port, local_port);
            if let Some(f) = self.portmap.ifaces.get_mut(i) {
                if let Some((c, _)) = f.upnp.as_mut() {
                    let h = c.add_mapping(protocol, external_port, local_port);
                    out.push(h.map_or(-1, |h| h as i32));
                } else if f.upnp_off {
                    out.push(-1);
                }
                if let Some((c, _)) = f.natpmp.as_mut() {
                    let h = c.add_mapping(now, protocol, external_port, local_port);
                    out.push(h.map_or(-1, |h| h as i32));
                } else if f.natpmp_off {
                    out.push(-1);
                }
            }
            self.portmap_flush(i);
        }
        out
    }

    /// `session.delete_port_mapping`.
    pub fn delete_port_mapping(&mut self, handle: i32) {
        let Ok(h) = usize::try_from(handle) else {
            return;
        };
        let now = Instant::now();
        for i in 0..self.portmap.ifaces.len() {
            if let Some(f) = self.portmap.ifaces.get_mut(i) {
                if let Some((c, _)) = f.upnp.as_mut() {
                    c.delete_mapping(h);
                }
                if let Some((c, _)) = f.natpmp.as_mut() {
                    c.delete_mapping(now, h);
                }
            }
            self.portmap_flush(i);
        }
    }
}

/// Runs a closing UPnP client's deletes to the end (or `deadline`),
/// posting its alerts directly.
async fn upnp_close(
    mut c: Upnp,
    sock: Sock,
    shared: Arc<crate::Shared>,
    local: Ipv4Addr,
    deadline: Option<tokio::time::Instant>,
) {
    drop(sock);
    c.close();
    let deadline = deadline.unwrap_or_else(|| tokio::time::Instant::now() + HTTP_TIMEOUT);
    loop {
        let mut next = None;
        for o in c.drain() {
            match o {
                upnp::Output::Http { id, addr, request } => next = Some((id, addr, request)),
                upnp::Output::Log(msg) if shared.alerts.should_post(category::PORT_MAPPING_LOG) => {
                    shared
                        .alerts
                        .post(crate::Alert::new(AlertKind::Portmap(PortmapAlert::Log {
                            transport: Transport::Upnp,
                            msg,
                            local: IpAddr::V4(local),
                        })));
                }
                _ => {}
            }
        }
        let Some((id, addr, request)) = next else {
            return;
        };
        let result = match tokio::time::timeout_at(deadline, http_exchange(addr, request)).await {
            Ok(r) => r,
            Err(_) => return,
        };
        c.on_http(Instant::now(), id, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_route_parsing() {
        let t =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                 eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
                 lo\t00000000\t0200007F\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 bad line\n\
                 tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(
            default_routes(t),
            [
                ("eth0".to_string(), Ipv4Addr::new(192, 168, 1, 1)),
                ("lo".to_string(), Ipv4Addr::new(127, 0, 0, 2)),
            ]
        );
    }
}
