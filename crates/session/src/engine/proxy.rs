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
