//! Drives local service discovery (BEP 14, `lt-lsd`) from the engine.
//!
//! When `enable_lsd` is set, one IPv4 socket bound to port 6771
//! (`SO_REUSEADDR`, so that several sessions on a host share it) joins the
//! LSD multicast group on the interface of the first IPv4 listen endpoint
//! (any interface when that is unspecified). Announces are sent for every
//! active torrent that is not private and has no `disable_lsd` flag; the
//! peers received become connect candidates and `lsd_peer_alert`s.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_core::InfoHash;
use lt_lsd::{Family, Lsd, LsdConfig, LSD_GROUP_V4, LSD_PORT};
use lt_settings::keys;

use super::Engine;
use crate::alert::{category, AlertKind};
use crate::dht_alert::DhtAlert;
use crate::torrent::flags;
use crate::types::TorrentId;

struct LsdSocket {
    socket: Arc<tokio::net::UdpSocket>,
    task: tokio::task::JoinHandle<()>,
    lsd: Lsd,
    iface: Ipv4Addr,
    torrents: Vec<(TorrentId, InfoHash)>,
}

impl Drop for LsdSocket {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
pub(crate) struct LsdDriver {
    sock: Option<LsdSocket>,
    last_scan: Option<Instant>,
    /// The interface a bind failed on (not retried until it changes).
    failed: Option<Ipv4Addr>,
}

/// A UDP socket on `0.0.0.0:6771` joined to the group on `iface`.
fn open_socket(iface: Ipv4Addr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, LSD_PORT)).into())?;
    s.join_multicast_v4(&LSD_GROUP_V4, &iface)?;
    s.set_multicast_if_v4(&iface)?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(32)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

impl Engine {
    fn lsd_interface(&self) -> Option<Ipv4Addr> {
        self.listen_endpoints().iter().find_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
    }

    /// Once a second: open/close the socket, register torrents, send.
    pub(super) fn lsd_tick(&mut self) {
        let now = Instant::now();
        let due = self
            .lsd
            .last_scan
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_millis(500));
        if !due {
            return;
        }
        self.lsd.last_scan = Some(now);
        let enabled = self.settings.get_bool(keys::ENABLE_LSD) && !self.shutting_down;
        let iface = if enabled { self.lsd_interface() } else { None };
        if self.lsd.sock.as_ref().map(|s| s.iface) != iface {
            self.lsd.sock = None;
            if let Some(iface) = iface {
                self.lsd_open(iface, now);
            }
        }
        let port = self.listen_port();
        let interval = Duration::from_secs(
            self.settings
                .get_int(keys::LOCAL_SERVICE_ANNOUNCE_INTERVAL)
                .max(1) as u64,
        );
        let wanted: Vec<(TorrentId, InfoHash)> = self
            .torrents
            .values()
            .filter(|t| {
                t.is_active() && t.flags & flags::DISABLE_LSD == 0 && !t.meta.as_ref().private()
            })
            .map(|t| (t.id, t.meta.as_ref().info_hashes()))
            .collect();
        let Some(s) = self.lsd.sock.as_mut() else {
            return;
        };
        if s.lsd.config().listen_port != port {
            s.lsd.set_listen_port(port);
        }
        if s.lsd.config().announce_interval != interval {
            s.lsd.set_announce_interval(interval);
        }
        let gone: Vec<(TorrentId, InfoHash)> = s
            .torrents
            .iter()
            .filter(|t| !wanted.contains(t))
            .copied()
            .collect();
        for (_, ih) in &gone {
            s.lsd.remove_torrent(ih);
        }
        s.torrents.retain(|t| wanted.contains(t));
        for t in wanted {
            if !s.torrents.contains(&t) {
                s.lsd.add_torrent(t.1);
                s.lsd.announce(&t.1, now);
                s.torrents.push(t);
            }
        }
        for d in s.lsd.tick(now) {
            let _ = s.socket.try_send_to(&d.payload, d.to);
        }
    }

    fn lsd_open(&mut self, iface: Ipv4Addr, now: Instant) {
        if self.lsd.failed == Some(iface) {
            return;
        }
        let sock = match open_socket(iface).and_then(tokio::net::UdpSocket::from_std) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                self.lsd.failed = Some(iface);
                if self.should_post(category::ERROR) {
                    self.alert(AlertKind::Dht(DhtAlert::LsdError {
                        error: super::io_error(&e),
                    }));
                }
                return;
            }
        };
        self.lsd.failed = None;
        let rx = sock.clone();
        let jobs = self.jobs.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; lt_lsd::MAX_DATAGRAM];
            loop {
                match rx.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or_default().to_vec();
                        let job = move |e: &mut Engine| e.lsd_datagram(from, &data);
                        if jobs.send(Box::new(job)).is_err() {
                            return;
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        let mut seed = [0u8; 8];
        super::os_random(&mut seed);
        let cfg = LsdConfig::new(Family::V4, self.listen_port());
        self.lsd.sock = Some(LsdSocket {
            socket: sock,
            task,
            lsd: Lsd::new(cfg, u64::from_le_bytes(seed), now),
            iface,
            torrents: Vec::new(),
        });
    }

    fn lsd_datagram(&mut self, from: SocketAddr, data: &[u8]) {
        let Some(s) = self.lsd.sock.as_mut() else {
            return;
        };
        let Ok(peers) = s.lsd.on_datagram(data, from, Instant::now()) else {
            return;
        };
        let own = self.listen_endpoints();
        let one_per_ip = self.one_per_ip();
        for p in peers {
            let Some(tid) = self.find_torrent(&p.torrent) else {
                continue;
            };
            let Some(t) = self.torrents.get_mut(&tid) else {
                continue;
            };
            if own.contains(&p.peer) || t.banned.contains(&p.peer.ip()) || p.peer.port() == 0 {
                continue;
            }
            let torrent = t.torrent_ref();
            t.learn_peer(p.peer, one_per_ip, false);
            if self.should_post(category::PEER) {
                self.alert(AlertKind::Dht(DhtAlert::LsdPeer {
                    torrent,
                    endpoint: p.peer,
                }));
            }
            self.connect_candidates(tid);
        }
    }
}
