//! Proxies (`proxy_type`, `proxy_*` settings): which connections go
//! through the proxy, and the alerts of proxied connections. The sockets
//! are opened by `proxy_io.rs`; the handshakes are `lt-proxy`'s.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use lt_core::error::{Category, ErrorCode};
use lt_proxy::{ProxyConfig, ProxyKind, Target};

use super::{Engine, Event};
use crate::alert::{AlertKind, Operation, SocketType};
use crate::peer_io::ConnId;
use crate::proxy_io;

/// Per-session proxy state.
#[derive(Default)]
pub(crate) struct ProxyState {
    /// Outgoing peer connections made through the proxy, with the socket
    /// type their alerts name.
    peers: HashMap<ConnId, SocketType>,
    /// The SOCKS5 proxy the UDP associations below were made with.
    udp_config: Option<ProxyConfig>,
    /// Per UDP listen socket (by index): its association.
    udp: HashMap<usize, UdpRelay>,
    /// Bumped whenever every association is dropped, so reports of old
    /// association tasks are ignored.
    generation: u64,
}

/// How long a failed or lost UDP association waits before it is tried
/// again.
const UDP_RETRY: Duration = Duration::from_secs(5);

struct UdpRelay {
    /// The UDP socket's local address when the association was started.
    local: SocketAddr,
    /// Datagrams sent while the association is being made, sent once it
    /// is up.
    queue: Vec<(Vec<u8>, SocketAddr)>,
    state: RelayState,
    task: Option<tokio::task::JoinHandle<()>>,
}

enum RelayState {
    Connecting,
    Up(SocketAddr),
    Retry(std::time::Instant),
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// What a UDP association task reports.
pub(crate) enum UdpRelayEvent {
    /// The association is up: send datagrams to `relay`.
    Up { generation: u64, relay: SocketAddr },
    /// It could not be made.
    Failed {
        generation: u64,
        proxy: SocketAddr,
        op: Operation,
        error: std::io::Error,
    },
    /// The proxy closed the control connection.
    Closed { generation: u64 },
}

/// Datagrams held per socket while its association is being made.
const MAX_QUEUED: usize = 256;

/// Where a datagram goes.
#[derive(Clone, Copy)]
enum UdpRoute {
    Direct,
    Relay(SocketAddr),
    /// A SOCKS5 proxy is set but its association is not up: held until it
    /// is (or dropped when it fails), never sent around the proxy.
    Hold,
}

impl ProxyState {
    /// Where a datagram from UDP socket `idx` goes; `peer` for peer (uTP)
    /// traffic, which follows `proxy_peer_connections`.
    fn udp_route(&self, idx: usize, peer: bool) -> UdpRoute {
        let Some(cfg) = &self.udp_config else {
            return UdpRoute::Direct;
        };
        if peer && !cfg.peers {
            return UdpRoute::Direct;
        }
        match self.udp.get(&idx).map(|r| &r.state) {
            Some(RelayState::Up(relay)) => UdpRoute::Relay(*relay),
            _ => UdpRoute::Hold,
        }
    }

    /// Sends a datagram from UDP socket `idx` (`socket`): directly, through
    /// its SOCKS5 relay, or held while the relay is being set up. `peer`
    /// marks peer (uTP) traffic, which follows `proxy_peer_connections`.
    /// A full socket buffer drops the datagram; the protocols retransmit.
    pub(super) fn udp_send(
        &mut self,
        socket: &tokio::net::UdpSocket,
        idx: usize,
        peer: bool,
        data: &[u8],
        to: SocketAddr,
    ) -> Option<std::io::Error> {
        let sent = match self.udp_route(idx, peer) {
            UdpRoute::Direct => socket.try_send_to(data, to),
            UdpRoute::Relay(relay) => match lt_proxy::udp_encapsulate(&Target::Addr(to), data) {
                Ok(d) => socket.try_send_to(&d, relay),
                Err(_) => return None,
            },
            UdpRoute::Hold => {
                if let Some(r) = self.udp.get_mut(&idx) {
                    if r.queue.len() < MAX_QUEUED {
                        r.queue.push((data.to_vec(), to));
                    }
                }
                return None;
            }
        };
        // A full socket buffer drops the datagram (uTP retransmits); other
        // errors are the caller's to report (`udp_error_alert`).
        sent.err()
            .filter(|e| e.kind() != std::io::ErrorKind::WouldBlock)
    }

    /// A datagram from the relay of socket `idx`: its real source and
    /// payload. `None` for any other datagram.
    pub(super) fn relayed<'a>(
        &self,
        idx: usize,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Option<(SocketAddr, &'a [u8])> {
        match self.udp.get(&idx).map(|r| &r.state) {
            Some(RelayState::Up(relay)) if *relay == from => {
                match lt_proxy::udp_decapsulate(data) {
                    Ok((Target::Addr(src), payload)) => Some((src, payload)),
                    // malformed, fragmented or named sources are dropped
                    _ => Some((from, &[])),
                }
            }
            _ => None,
        }
    }
}

impl Engine {
    /// The proxy for peer connections and web seeds, if
    /// `proxy_peer_connections` is set.
    pub(super) fn peer_proxy(&self) -> Option<ProxyConfig> {
        proxy_io::config(&self.settings).filter(|p| p.peers)
    }

    /// The proxy for tracker requests, if `proxy_tracker_connections` is
    /// set.
    pub(super) fn tracker_proxy(&self) -> Option<ProxyConfig> {
        proxy_io::config(&self.settings).filter(|p| p.trackers)
    }

    /// Starts an outgoing TCP connection to a peer, through the proxy when
    /// one applies; the outcome comes back as [`Event::Connected`].
    pub(super) fn spawn_peer_connect(
        &mut self,
        cid: ConnId,
        addr: SocketAddr,
        timeout: Duration,
        ports: std::ops::Range<u16>,
        start: u16,
    ) {
        let tx = self.events_tx.clone();
        let Some(proxy) = self.peer_proxy() else {
            tokio::spawn(async move {
                let result = crate::peer_io::connect(addr, timeout, ports, start).await;
                let _ = tx.send(Event::Connected { id: cid, result });
            });
            return;
        };
        let socket_type = match proxy.kind {
            ProxyKind::Http => SocketType::Http,
            ProxyKind::I2p => SocketType::I2p,
            // libtorrent names SOCKS4 connections "Socks5" as well
            ProxyKind::Socks4 | ProxyKind::Socks5 => SocketType::Socks5,
        };
        self.proxy.peers.insert(cid, socket_type);
        tokio::spawn(async move {
            match proxy_io::tunnel(&proxy, Target::Addr(addr), timeout).await {
                Ok((stream, leftover)) => {
                    let _ = tx.send(Event::Connected {
                        id: cid,
                        result: Ok(stream),
                    });
                    if !leftover.is_empty() {
                        let _ = tx.send(Event::Data(cid, leftover.into()));
                    }
                }
                Err(e) => {
                    let _ = tx.send(Event::Connected {
                        id: cid,
                        result: Err(e),
                    });
                }
            }
        });
    }

    /// Once a second: keeps a SOCKS5 UDP association per UDP socket while
    /// the proxy is SOCKS5 (DHT and uTP datagrams then go through it, as
    /// libtorrent's proxied UDP sockets do), retrying failed ones.
    pub(super) fn proxy_udp_tick(&mut self) {
        let want = proxy_io::config(&self.settings).filter(|p| p.kind == ProxyKind::Socks5);
        if want != self.proxy.udp_config {
            self.proxy.udp.clear();
            self.proxy.udp_config = want.clone();
            self.proxy.generation += 1;
        }
        let Some(cfg) = want else {
            return;
        };
        let now = std::time::Instant::now();
        // `socks5_udp_send_local_ep`: tell the proxy where datagrams will
        // come from instead of "anywhere"
        let send_local = self
            .settings
            .get_bool(lt_settings::keys::SOCKS5_UDP_SEND_LOCAL_EP);
        for idx in 0..self.udp.len() {
            let Some(local) = self.udp.get(idx).and_then(|u| u.socket.local_addr().ok()) else {
                continue;
            };
            let due = match self.proxy.udp.get(&idx) {
                None => true,
                Some(r) if r.local != local => true,
                Some(r) => matches!(r.state, RelayState::Retry(t) if now >= t),
            };
            if !due {
                continue;
            }
            let generation = self.proxy.generation;
            let tx = self.events_tx.clone();
            let cfg = cfg.clone();
            let task = tokio::spawn(async move {
                let timeout = Duration::from_secs(10);
                let from = send_local.then_some(local);
                let assoc = proxy_io::associate(&cfg, from, timeout).await;
                let (mut control, relay) = match assoc {
                    Ok(a) => a,
                    Err((proxy, op, error)) => {
                        let _ = tx.send(Event::ProxyUdp(
                            idx,
                            UdpRelayEvent::Failed {
                                generation,
                                proxy,
                                op,
                                error,
                            },
                        ));
                        return;
                    }
                };
                let _ = tx.send(Event::ProxyUdp(
                    idx,
                    UdpRelayEvent::Up { generation, relay },
                ));
                // The association lasts as long as the control connection.
                let mut buf = [0u8; 256];
                loop {
                    use tokio::io::AsyncReadExt;
                    match control.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                let _ = tx.send(Event::ProxyUdp(idx, UdpRelayEvent::Closed { generation }));
            });
            self.proxy.udp.insert(
                idx,
                UdpRelay {
                    local,
                    queue: Vec::new(),
                    state: RelayState::Connecting,
                    task: Some(task),
                },
            );
        }
    }

    pub(super) fn on_proxy_udp(&mut self, idx: usize, ev: UdpRelayEvent) {
        let generation = match &ev {
            UdpRelayEvent::Up { generation, .. }
            | UdpRelayEvent::Failed { generation, .. }
            | UdpRelayEvent::Closed { generation } => *generation,
        };
        if generation != self.proxy.generation {
            return;
        }
        let Some(r) = self.proxy.udp.get_mut(&idx) else {
            return;
        };
        let retry = RelayState::Retry(std::time::Instant::now() + UDP_RETRY);
        match ev {
            UdpRelayEvent::Up { relay, .. } => {
                r.state = RelayState::Up(relay);
                let queued = std::mem::take(&mut r.queue);
                if let Some(u) = self.udp.get(idx) {
                    for (data, to) in queued {
                        if let Ok(d) = lt_proxy::udp_encapsulate(&Target::Addr(to), &data) {
                            let _ = u.socket.try_send_to(&d, relay);
                        }
                    }
                }
            }
            UdpRelayEvent::Closed { .. } => r.state = retry,
            UdpRelayEvent::Failed {
                proxy, op, error, ..
            } => {
                r.state = retry;
                r.queue.clear();
                let error = super::io_error(&error);
                // As libtorrent: failures to reach the proxy and to agree
                // on a method are reported; a refused login or request is
                // only retried.
                let reported = op == Operation::Connect
                    || (error.category == Category::Socks && matches!(error.value, 1 | 2 | 5));
                if reported {
                    self.alert(AlertKind::Socks5 {
                        error,
                        ip: proxy,
                        op,
                    });
                }
            }
        }
    }

    /// `anonymous_mode`: as libtorrent, the client version (`v`) is left
    /// out of the extension handshake. (Trackers get no user agent, `ip`
    /// or local addresses: see `lt-tracker`.) libtorrent 2.x posts no
    /// `anonymous_mode_alert`; neither does this engine.
    pub(super) fn apply_anonymous_mode(&self, cfg: &mut lt_wire::peer::PeerConfig) {
        if self.settings.get_bool(lt_settings::keys::ANONYMOUS_MODE) {
            cfg.extensions.v = None;
        }
    }

    /// The socket type of a proxied peer connection.
    pub(super) fn proxy_socket_type(&self, id: ConnId) -> Option<SocketType> {
        self.proxy.peers.get(&id).copied()
    }

    /// A connection is gone.
    pub(super) fn proxy_forget(&mut self, id: ConnId) {
        self.proxy.peers.remove(&id);
    }

    /// A proxied connection attempt failed: as libtorrent, a `socks`
    /// error is reported as `peer_error`, and every failure as
    /// `peer_disconnected` (operation `connect`).
    pub(super) fn proxy_connect_failed(&mut self, id: ConnId, e: &std::io::Error) {
        let Some(socket_type) = self.proxy_socket_type(id) else {
            return;
        };
        let Some((torrent, peer)) = self.peer_ref(id) else {
            return;
        };
        let error = super::io_error(e);
        if error.category == Category::Socks {
            self.alert(AlertKind::PeerError {
                torrent: torrent.clone(),
                peer: peer.clone(),
                op: Operation::Connect,
                error,
            });
        }
        self.alert(AlertKind::PeerDisconnected {
            torrent,
            peer,
            socket_type,
            op: Operation::Connect,
            error,
            reason: 0,
        });
    }
}

/// The error code of an I/O error that may carry a `socks` error.
pub(super) fn socks_error(e: &std::io::Error) -> Option<ErrorCode> {
    proxy_io::socks_code(e)
}
