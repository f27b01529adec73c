//! The engine task: owns every torrent and connection, and is the only
//! place their state changes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::alert::{category, Alert, AlertKind, Operation, SocketType};
use crate::listen::{parse_listen_interfaces, ListenHost};
use crate::peer_io::{Closed, ConnId, Frame};
use crate::{Job, Shared};
use lt_settings::{keys, Settings, SettingsPack};

/// Events that the socket and disk tasks send to the engine.
pub(crate) enum Event {
    /// A connection arrived on a listen socket.
    Incoming {
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
    },
    /// A frame from a connection's reader.
    Frame(ConnId, Frame),
    /// A connection's socket closed or failed.
    Closed(ConnId, Closed),
    /// A connection's writer put this many bytes on the wire.
    Written(ConnId, usize),
}

struct ListenSocket {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// The engine state. Reached by user calls through [`crate::Session::call`].
pub struct Engine {
    shared: Arc<Shared>,
    #[allow(dead_code)]
    jobs: mpsc::UnboundedSender<Job>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: Option<mpsc::UnboundedReceiver<Event>>,
    settings: Settings,
    listen_sockets: Vec<ListenSocket>,
    shutting_down: bool,
}

impl Engine {
    pub(crate) fn new(
        shared: Arc<Shared>,
        jobs: mpsc::UnboundedSender<Job>,
        settings: Settings,
    ) -> Engine {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Engine {
            shared,
            jobs,
            events_tx,
            events_rx: Some(events_rx),
            settings,
            listen_sockets: Vec::new(),
            shutting_down: false,
        }
    }

    /// Posts an alert if its category is enabled.
    pub(crate) fn alert(&self, kind: AlertKind) {
        self.shared.alerts.post(Alert::new(kind));
    }

    pub(crate) fn should_post(&self, category: u32) -> bool {
        self.shared.alerts.should_post(category)
    }

    pub(crate) async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        let Some(mut events) = self.events_rx.take() else {
            return;
        };
        self.open_listen_sockets().await;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.shutting_down {
            tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => job(&mut self),
                    None => break,
                },
                Some(ev) = events.recv() => self.on_event(ev),
                _ = tick.tick() => self.on_tick(),
            }
        }
        self.close_listen_sockets();
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Incoming { stream, peer } => {
                self.alert(AlertKind::IncomingConnection {
                    endpoint: peer,
                    socket_type: SocketType::Tcp,
                });
                // Torrent lookup by info-hash happens once the handshake
                // arrives; without torrents there is nothing to serve.
                drop(stream);
            }
            Event::Frame(..) | Event::Closed(..) | Event::Written(..) => {}
        }
    }

    fn on_tick(&mut self) {}

    pub(crate) fn begin_shutdown(&mut self) {
        self.shutting_down = true;
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Applies a settings pack and reacts to the values that changed.
    pub fn apply_settings(&mut self, pack: &SettingsPack) {
        let old_listen = self.settings.get_str(keys::LISTEN_INTERFACES).to_owned();
        self.settings.apply(pack);
        let s = &self.settings;
        self.shared
            .alerts
            .set_mask(s.get_int(keys::ALERT_MASK) as u32);
        self.shared
            .alerts
            .set_limit(s.get_int(keys::ALERT_QUEUE_SIZE).max(1) as usize);
        if self.settings.get_str(keys::LISTEN_INTERFACES) != old_listen {
            self.close_listen_sockets();
            self.open_listen_sockets_sync();
        }
    }

    async fn open_listen_sockets(&mut self) {
        self.open_listen_sockets_sync();
    }

    fn open_listen_sockets_sync(&mut self) {
        let (ifaces, bad) = parse_listen_interfaces(self.settings.get_str(keys::LISTEN_INTERFACES));
        for b in bad {
            if self.should_post(category::SESSION_LOG) {
                self.alert(AlertKind::Log {
                    msg: format!("failed to parse listen interface: {b}"),
                });
            }
        }
        for li in ifaces {
            let ip = match &li.host {
                ListenHost::Ip(ip) => *ip,
                ListenHost::Device(name) => match device_address(name) {
                    Some(ip) => ip,
                    None => {
                        let endpoint = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), li.port);
                        self.alert(AlertKind::ListenFailed {
                            interface: name.clone(),
                            endpoint,
                            op: Operation::GetInterface,
                            error: lt_core::ErrorCode::new(
                                lt_core::ErrorCategory::System,
                                libc::ENODEV,
                                "No such device",
                            ),
                            socket_type: SocketType::Tcp,
                        });
                        continue;
                    }
                },
            };
            let addr = SocketAddr::new(ip, li.port);
            match bind_listener(addr) {
                Ok(listener) => {
                    let local = listener.local_addr().unwrap_or(addr);
                    let tx = self.events_tx.clone();
                    let task = tokio::spawn(accept_loop(listener, tx));
                    self.listen_sockets.push(ListenSocket { local, task });
                    self.alert(AlertKind::ListenSucceeded {
                        endpoint: local,
                        socket_type: SocketType::Tcp,
                    });
                }
                Err((op, e)) => {
                    self.alert(AlertKind::ListenFailed {
                        interface: li_display(&li.host, li.port),
                        endpoint: addr,
                        op,
                        error: lt_core::ErrorCode::from_io(&e),
                        socket_type: SocketType::Tcp,
                    });
                }
            }
        }
    }

    fn close_listen_sockets(&mut self) {
        for s in self.listen_sockets.drain(..) {
            s.task.abort();
        }
    }

    /// The first TCP listen port, 0 when not listening.
    pub fn listen_port(&self) -> u16 {
        self.listen_sockets.first().map_or(0, |s| s.local.port())
    }

    pub fn is_listening(&self) -> bool {
        !self.listen_sockets.is_empty()
    }

    /// The local endpoints being listened on.
    pub fn listen_endpoints(&self) -> Vec<SocketAddr> {
        self.listen_sockets.iter().map(|s| s.local).collect()
    }
}

fn li_display(host: &ListenHost, port: u16) -> String {
    match host {
        ListenHost::Ip(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        ListenHost::Ip(a) => format!("{a}:{port}"),
        ListenHost::Device(d) => format!("{d}:{port}"),
    }
}

/// Resolves a device name to its first address. Only the loopback device
/// is resolved without enumerating interfaces.
fn device_address(name: &str) -> Option<IpAddr> {
    match name {
        "lo" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "lo6" => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => None,
    }
}

fn bind_listener(addr: SocketAddr) -> Result<TcpListener, (Operation, std::io::Error)> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| (Operation::SockOpen, e))?;
    sock.set_reuseaddr(true)
        .map_err(|e| (Operation::SockOption, e))?;
    sock.bind(addr).map_err(|e| (Operation::SockBind, e))?;
    sock.listen(128).map_err(|e| (Operation::SockListen, e))
}

async fn accept_loop(listener: TcpListener, tx: mpsc::UnboundedSender<Event>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if tx.send(Event::Incoming { stream, peer }).is_err() {
                    return;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
