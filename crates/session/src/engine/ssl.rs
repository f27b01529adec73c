//! SSL torrents in the engine.
//!
//! A torrent whose metadata carries a root certificate (`ssl-cert`) only
//! talks to peers over TLS, authenticated by certificates chaining to that
//! root. Added without our certificate, it posts `torrent_need_cert_alert`
//! and connects to nobody (and accepts nobody) until
//! `set_ssl_certificate[_buffer]` gives it one. Connections we open to its
//! peers run the TLS handshake (server name = the info-hash in hex) before
//! the BitTorrent handshake, without MSE. Incoming TLS connections arrive on
//! the SSL listen sockets (`s`-suffixed `listen_interfaces` entries); the
//! accept task picks the torrent from the server name (`crate::ssl`) and the
//! BitTorrent handshake must then name the same torrent. A plaintext
//! connection naming an SSL torrent, or a TLS one naming another torrent,
//! is closed.

use super::*;
use crate::ssl::{self as tls, Identity, SslError, SslIncoming, TorrentTls};
use tokio_rustls::TlsStream;

/// The engine's SSL state.
#[derive(Default)]
pub(super) struct SslState {
    /// Server configurations by info-hash, read by the accept tasks.
    registry: tls::Registry,
    torrents: HashMap<TorrentId, SslTorrent>,
    /// Connections carried over TLS; incoming ones with the info-hash their
    /// server name gave.
    conns: HashMap<ConnId, Option<Sha1Hash>>,
    listeners: Vec<ListenSocket>,
}

struct SslTorrent {
    /// The trust anchors from the torrent; `None` when they did not parse
    /// (the torrent then connects to nobody).
    roots: Option<Arc<rustls::RootCertStore>>,
    /// Our certificate's configurations, once given.
    tls: Option<Arc<TorrentTls>>,
}

/// Where `set_ssl_certificate` takes the certificate and key from.
#[derive(Debug, Clone)]
pub enum SslCertificate {
    /// PEM files (certificate, private key, DH parameters).
    Files {
        cert: String,
        key: String,
        dh: String,
    },
    /// PEM text.
    Buffers {
        cert: Vec<u8>,
        key: Vec<u8>,
        dh: Vec<u8>,
    },
}

/// The hash named in the TLS server name of connections we open: the one
/// sent in the BitTorrent handshake.
fn sni_hash_of(ih: &lt_core::InfoHash) -> Sha1Hash {
    if ih.has_v1() {
        ih.v1
    } else {
        ih.v2.truncated()
    }
}

impl Engine {
    /// A torrent was added: an SSL torrent waits for our certificate.
    pub(super) fn ssl_torrent_added(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let pem = t.meta.ssl_cert();
        if pem.is_empty() {
            return;
        }
        let tref = t.torrent_ref();
        let roots = match tls::parse_root(pem.as_bytes()) {
            Ok(r) => Some(r),
            Err(e) => {
                self.ssl_error(tref.clone(), &e);
                None
            }
        };
        self.ssl
            .torrents
            .insert(id, SslTorrent { roots, tls: None });
        if self.should_post(category::STATUS) {
            self.alert(AlertKind::TorrentNeedCert {
                torrent: tref,
                error: ErrorCode::default(),
            });
        }
    }

    pub(super) fn ssl_torrent_removed(&mut self, id: TorrentId) {
        if self.ssl.torrents.remove(&id).is_none() {
            return;
        }
        if let Ok(mut r) = self.ssl.registry.write() {
            r.retain(|h, _| self.by_hash.get(h) != Some(&id));
        }
    }

    fn is_ssl_torrent(&self, id: TorrentId) -> bool {
        self.ssl.torrents.contains_key(&id)
    }

    /// An SSL torrent without our certificate connects to nobody.
    pub(super) fn ssl_blocks_connect(&self, id: TorrentId) -> bool {
        self.ssl.torrents.get(&id).is_some_and(|s| s.tls.is_none())
    }

    /// Opens the connection `cid` to `addr` over TLS if `tid` is an SSL
    /// torrent; false for other torrents (the caller connects as usual).
    pub(super) fn ssl_connect(
        &mut self,
        cid: ConnId,
        tid: TorrentId,
        addr: SocketAddr,
        timeout: Duration,
    ) -> bool {
        let Some(s) = self.ssl.torrents.get(&tid) else {
            return false;
        };
        let Some(cfg) = s.tls.clone() else {
            // connect_candidates does not get here without a certificate
            self.disconnect(cid, None);
            return true;
        };
        let tx = self.events_tx.clone();
        let ports = self.outgoing_ports();
        let start = self.rng.next_u64() as u16;
        tokio::spawn(async move {
            let result = match peer_io::connect(addr, timeout, ports, start).await {
                Ok(stream) => tls::connect(stream, &cfg).await.map(Box::new),
                Err(e) => Err(e),
            };
            let _ = tx.send(Event::SslConnected(cid, result));
        });
        true
    }

    /// An outgoing TLS connection is established (or failed).
    pub(super) fn on_ssl_connected(
        &mut self,
        id: ConnId,
        result: std::io::Result<Box<TlsStream<tokio::net::TcpStream>>>,
    ) {
        let stream = match result {
            Ok(s) => s,
            Err(e) => {
                self.ssl.conns.insert(id, None);
                self.disconnect(id, Some(io_error(&e)));
                return;
            }
        };
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if let Ok(a) = stream.get_ref().0.local_addr() {
            p.local = a;
        }
        p.crypto = Crypto::Plain;
        p.tx = Some(peer_io::start_stream(
            id,
            *stream,
            self.events_tx.clone(),
            self.recv_budget.clone(),
        ));
        self.ssl.conns.insert(id, None);
        self.drive_peer(id);
    }

    /// A connection on an SSL listen socket finished its TLS handshake.
    pub(super) fn on_ssl_incoming(&mut self, inc: SslIncoming) {
        let addr = inc.peer;
        let Ok((stream, hash)) = inc.result else {
            return;
        };
        self.had_incoming |= !lt_core::ip_filter::is_local(&addr.ip());
        self.alert(AlertKind::IncomingConnection {
            endpoint: addr,
            socket_type: SocketType::TcpSsl,
        });
        if self.ctl_blocked(None, addr) {
            return;
        }
        let max_global = self.settings.get_int(keys::CONNECTIONS_LIMIT).max(1) as usize;
        if self.paused || self.peers.len() >= max_global {
            return;
        }
        let conn = PeerConnection::incoming(self.peer_config(), Some(addr.ip()), Instant::now());
        let id = self.new_peer(conn, addr, false, None);
        let tx =
            peer_io::start_stream(id, stream, self.events_tx.clone(), self.recv_budget.clone());
        if let Some(p) = self.peers.get_mut(&id) {
            if let Some(local) = inc.local {
                p.local = local;
            }
            // No MSE inside TLS.
            p.crypto = Crypto::Plain;
            p.tx = Some(tx);
        }
        self.ssl.conns.insert(id, Some(hash));
    }

    /// Whether an incoming connection may join torrent `tid`: TLS ones only
    /// the SSL torrent their server name named, plaintext ones only
    /// torrents that are not SSL torrents.
    pub(super) fn ssl_handshake_allowed(&self, id: ConnId, tid: TorrentId) -> bool {
        match self.ssl.conns.get(&id) {
            Some(Some(sni)) => self.by_hash.get(sni) == Some(&tid) && self.is_ssl_torrent(tid),
            Some(None) => self.is_ssl_torrent(tid),
            None => !self.is_ssl_torrent(tid),
        }
    }

    pub(super) fn ssl_conn_gone(&mut self, id: ConnId) {
        self.ssl.conns.remove(&id);
    }

    /// The socket type of a TLS connection, for alerts.
    pub(super) fn ssl_socket_type(&self, id: ConnId) -> Option<SocketType> {
        self.ssl
            .conns
            .contains_key(&id)
            .then_some(SocketType::TcpSsl)
    }

    /// `set_ssl_certificate[_buffer]`: our certificate and key for an SSL
    /// torrent. Errors are reported as `torrent_error_alert` (as libtorrent
    /// does); `dh_params` and a passphrase are not needed by our TLS (no
    /// finite-field DH; keys must be unencrypted).
    pub fn set_ssl_certificate(&mut self, id: TorrentId, src: SslCertificate) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let tref = t.torrent_ref();
        let name = t.meta.name().to_string();
        let sni = sni_hash_of(&t.meta.info_hashes());
        if !self.is_ssl_torrent(id) {
            // As libtorrent: the file form reports `not_an_ssl_torrent`,
            // the buffer form ignores the call.
            if matches!(src, SslCertificate::Files { .. }) {
                self.alert(AlertKind::TorrentError {
                    torrent: tref,
                    error: ErrorCode::new(113, Category::Libtorrent),
                    filename: String::new(),
                });
            }
            return;
        }
        let Some(roots) = self.ssl.torrents.get(&id).and_then(|s| s.roots.clone()) else {
            // the torrent's root did not parse (reported when it was added):
            // no peer can be verified
            return;
        };
        // As libtorrent, each input's problem is reported on its own, and
        // the certificate is used when the certificate and key are good
        // (DH parameters are only checked, not used).
        let mut errors: Vec<(ErrorCode, String)> = Vec::new();
        let (cert, key, dh, label) = match src {
            SslCertificate::Buffers { cert, key, dh } => (
                Ok(cert),
                Ok(key),
                Ok(dh),
                ["[certificate]", "[private key]", "[dh params]"].map(String::from),
            ),
            SslCertificate::Files { cert, key, dh } => {
                let read = |path: &str| std::fs::read(path).map_err(|e| io_error(&e));
                (read(&cert), read(&key), read(&dh), [cert, key, dh])
            }
        };
        let invalid = || ErrorCode::new(libc::EINVAL, Category::System);
        let chain = match cert {
            Ok(c) => tls::parse_chain(&c).map_err(|e| (invalid(), format!("{} {e}", label[0]))),
            Err(e) => Err((e, label[0].clone())),
        };
        let key = match key {
            Ok(k) => tls::parse_key(&k).map_err(|e| (invalid(), format!("{} {e}", label[1]))),
            Err(e) => Err((e, label[1].clone())),
        };
        let chain = chain.map_err(|e| errors.push(e)).ok();
        let key = key.map_err(|e| errors.push(e)).ok();
        match dh {
            Ok(d) if tls::looks_like_dh_params(&d) => {}
            Ok(_) => errors.push((invalid(), format!("{} no DH parameters", label[2]))),
            Err(e) => errors.push((e, label[2].clone())),
        }
        let built = match (chain, key) {
            (Some(c), Some(k)) => Some(
                Identity::new(c, k)
                    .and_then(|ident| TorrentTls::new(roots, &name, &sni, &ident))
                    .map_err(|e| errors.push((invalid(), format!("{} {e}", label[1])))),
            ),
            _ => None,
        };
        for (error, filename) in errors {
            self.alert(AlertKind::TorrentError {
                torrent: tref.clone(),
                error,
                filename,
            });
        }
        let Some(Ok(cfg)) = built else {
            return;
        };
        let cfg = Arc::new(cfg);
        if let Ok(mut r) = self.ssl.registry.write() {
            for (h, tid) in self.by_hash.iter() {
                if *tid == id {
                    r.insert(*h, cfg.server.clone());
                }
            }
        }
        if let Some(s) = self.ssl.torrents.get_mut(&id) {
            s.tls = Some(cfg);
        }
        self.connect_candidates(id);
    }

    fn ssl_error(&self, torrent: crate::alert::TorrentRef, e: &SslError) {
        self.alert(AlertKind::TorrentError {
            torrent,
            error: ErrorCode::new(libc::EINVAL, Category::System),
            filename: format!("{} {e}", e.which()),
        });
    }

    /// Opens an SSL listen socket (an `s` entry of `listen_interfaces`).
    pub(super) fn ssl_listen(&mut self, ip: IpAddr, port: u16, display: String) {
        let open = self
            .ssl
            .listeners
            .iter()
            .any(|s| s.local.ip() == ip && (port == 0 || s.local.port() == port));
        if open {
            return;
        }
        let addr = SocketAddr::new(ip, port);
        match bind_listener(addr) {
            Ok(listener) => {
                let local = listener.local_addr().unwrap_or(addr);
                let task = tokio::spawn(tls::accept_loop(
                    listener,
                    self.ssl.registry.clone(),
                    self.events_tx.clone(),
                ));
                self.ssl.listeners.push(ListenSocket { local, task });
                self.alert(AlertKind::ListenSucceeded {
                    endpoint: local,
                    socket_type: SocketType::TcpSsl,
                });
            }
            Err((op, e)) => {
                self.alert(AlertKind::ListenFailed {
                    interface: display,
                    endpoint: addr,
                    op,
                    error: io_error(&e),
                    socket_type: SocketType::TcpSsl,
                });
            }
        }
    }

    pub(super) fn ssl_close_listen(&mut self) {
        for s in self.ssl.listeners.drain(..) {
            s.task.abort();
        }
    }

    /// The port trackers are told for an SSL torrent: the SSL listen
    /// port (`None` for other torrents: the listen socket's own port).
    pub(super) fn ssl_announce_port(&self, id: TorrentId) -> Option<u16> {
        let port = self.ssl_listen_port();
        (self.is_ssl_torrent(id) && port != 0).then_some(port)
    }

    /// The first SSL listen port, 0 when none is open.
    pub fn ssl_listen_port(&self) -> u16 {
        self.ssl.listeners.first().map_or(0, |s| s.local.port())
    }
}
