//! Socket side of proxies: runs the sans-IO [`lt_proxy::Handshake`] over a
//! TCP connection to the proxy, giving a tunnelled `TcpStream`, and keeps
//! a SOCKS5 UDP ASSOCIATE for datagrams. The protocol logic stays in
//! `lt-proxy`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use lt_core::error::{Category, ErrorCode};
use lt_proxy::{Command, Handshake, Progress, ProxyConfig, ProxyError, Target};
use lt_settings::{keys, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The proxy the settings name, if any (`proxy_type` none or i2p give
/// none: libtorrent's i2p proxy is a SAM bridge used only for i2p
/// torrents, which this engine does not support).
pub(crate) fn config(s: &Settings) -> Option<ProxyConfig> {
    let c = ProxyConfig::from_settings(
        s.get_int(keys::PROXY_TYPE),
        s.get_str(keys::PROXY_HOSTNAME),
        s.get_int(keys::PROXY_PORT),
        s.get_str(keys::PROXY_USERNAME),
        s.get_str(keys::PROXY_PASSWORD),
        s.get_bool(keys::PROXY_HOSTNAMES),
        s.get_bool(keys::PROXY_PEER_CONNECTIONS),
        s.get_bool(keys::PROXY_TRACKER_CONNECTIONS),
    )
    .ok()?;
    Some(c)
}

/// A proxy error outside the system category, carried inside an
/// `io::Error` (system-category errors travel as raw OS errors).
#[derive(Debug)]
struct CodedFailure(ErrorCode);

impl std::fmt::Display for CodedFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&coded_message(self.0))
    }
}

impl std::error::Error for CodedFailure {}

/// The `io::Error` for a failed handshake.
pub(crate) fn failure(e: ProxyError) -> io::Error {
    let code = e.code();
    match code.category {
        Category::System => io::Error::from_raw_os_error(code.value),
        _ => io::Error::other(CodedFailure(code)),
    }
}

/// The error code of an `io::Error` made by [`failure`] outside the
/// system category.
pub(crate) fn socks_code(e: &io::Error) -> Option<ErrorCode> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<CodedFailure>())
        .map(|s| s.0)
}

/// An error's message with its code, for errors that travel as text
/// (tracker errors); [`socks_code_in`] reads the code back.
pub(crate) fn coded_message(code: ErrorCode) -> String {
    format!(
        "{} [{}:{}]",
        code.message(),
        code.category.name(),
        code.value
    )
}

/// The text of an I/O error, keeping the code of a [`failure`].
pub(crate) fn io_message(e: &io::Error) -> String {
    match socks_code(e) {
        Some(c) => coded_message(c),
        None => e.to_string(),
    }
}

/// The error code in a message made by [`coded_message`].
pub(crate) fn socks_code_in(msg: &str) -> Option<ErrorCode> {
    let inner = msg.strip_suffix(']')?;
    let (_, code) = inner.rsplit_once(" [")?;
    let (cat, value) = code.split_once(':')?;
    let category = Category::ALL.into_iter().find(|c| c.name() == cat)?;
    if category == Category::System {
        return None;
    }
    Some(ErrorCode::new(value.parse().ok()?, category))
}

async fn connect_proxy(p: &ProxyConfig) -> io::Result<TcpStream> {
    let host = p.host.trim_start_matches('[').trim_end_matches(']');
    TcpStream::connect((host, p.port)).await
}

/// Drives `hs` over `stream` to its end; returns bytes read past the reply.
async fn run_handshake(
    stream: &mut TcpStream,
    mut hs: Handshake,
) -> io::Result<lt_proxy::Established> {
    let mut buf = [0u8; 1024];
    loop {
        if let Some(out) = hs.poll_transmit() {
            stream.write_all(&out).await?;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(failure(hs.on_eof()));
        }
        match hs.on_data(buf.get(..n).unwrap_or(&[])) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Done(est)) => return Ok(est),
            Err(e) => return Err(failure(e)),
        }
    }
}

/// The target to hand the proxy for `host`: an IP literal as an address;
/// a name as is with `proxy_hostnames`, else resolved here.
pub(crate) async fn target_for(p: &ProxyConfig, host: &str, port: u16) -> io::Result<Target> {
    match Target::from_host(host, port) {
        Target::Name(n, port) if !p.proxy_hostnames => {
            let mut addrs = tokio::net::lookup_host((n.as_str(), port)).await?;
            addrs
                .next()
                .map(Target::Addr)
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host not found"))
        }
        t => Ok(t),
    }
}

/// Opens a TCP tunnel to `target` through the proxy within `timeout`.
/// Returns the stream and any bytes of the tunnelled stream that arrived
/// with the proxy's reply.
pub(crate) async fn tunnel(
    p: &ProxyConfig,
    target: Target,
    timeout: Duration,
) -> io::Result<(TcpStream, Vec<u8>)> {
    let attempt = async {
        let hs = p.connect(target).map_err(failure)?;
        let mut stream = connect_proxy(p).await?;
        let est = run_handshake(&mut stream, hs).await?;
        Ok((stream, est.leftover))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
    }
}

/// A SOCKS5 UDP ASSOCIATE: datagrams go to the proxy's relay with a
/// header naming their destination. The association lives as long as the
/// control connection, which this value owns.
pub(crate) struct UdpAssociation {
    _control: TcpStream,
    socket: UdpSocket,
    relay: SocketAddr,
}

impl UdpAssociation {
    pub(crate) async fn open(p: &ProxyConfig, timeout: Duration) -> io::Result<UdpAssociation> {
        let attempt = async {
            let unspecified = Target::Addr(SocketAddr::from(([0, 0, 0, 0], 0)));
            let hs = Handshake::socks5(unspecified, Command::UdpAssociate, p.auth.clone())
                .map_err(failure)?;
            let mut control = connect_proxy(p).await?;
            let est = run_handshake(&mut control, hs).await?;
            let proxy_ip = control.peer_addr()?.ip();
            // A relay reported as 0.0.0.0 means "the proxy's own address".
            let relay = match est.bound {
                Some(a) if !a.ip().is_unspecified() => a,
                Some(a) => SocketAddr::new(proxy_ip, a.port()),
                None => return Err(failure(ProxyError::Socks(6))),
            };
            let bind: SocketAddr = if relay.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = UdpSocket::bind(bind).await?;
            Ok(UdpAssociation {
                _control: control,
                socket,
                relay,
            })
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
        }
    }

    pub(crate) async fn send_to(&self, data: &[u8], to: &Target) -> io::Result<()> {
        let d = lt_proxy::udp_encapsulate(to, data).map_err(failure)?;
        self.socket.send_to(&d, self.relay).await.map(|_| ())
    }

    /// The next datagram relayed to us: its payload (moved to the front
    /// of `buf`), length and source. Datagrams not from the relay, or
    /// with a malformed header, are skipped.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            if from != self.relay {
                continue;
            }
            let Some(data) = buf.get(..n) else { continue };
            let (src, payload) = match lt_proxy::udp_decapsulate(data) {
                Ok((Target::Addr(a), p)) => (a, p.len()),
                _ => continue,
            };
            let start = n - payload;
            buf.copy_within(start..n, 0);
            return Ok((payload, src));
        }
    }
}

/// Makes a SOCKS5 UDP ASSOCIATE for datagrams sent from `from` (sent as
/// `0.0.0.0:0`, "any", when `None`); returns the control connection (the
/// association ends when it closes) and the relay address. A failure
/// names the proxy endpoint and whether connecting or the handshake
/// failed.
pub(crate) async fn associate(
    p: &ProxyConfig,
    from: Option<SocketAddr>,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), (SocketAddr, crate::alert::Operation, io::Error)> {
    use crate::alert::Operation;
    let unresolved = SocketAddr::from(([0, 0, 0, 0], p.port));
    let host = p.host.trim_start_matches('[').trim_end_matches(']');
    let proxy = match tokio::net::lookup_host((host, p.port)).await {
        Ok(mut a) => a.next().unwrap_or(unresolved),
        Err(e) => return Err((unresolved, Operation::HostnameLookup, e)),
    };
    let attempt = async {
        let mut control = TcpStream::connect(proxy)
            .await
            .map_err(|e| (Operation::Connect, e))?;
        let source = Target::Addr(from.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))));
        let hs = Handshake::socks5(source, Command::UdpAssociate, p.auth.clone())
            .map_err(|e| (Operation::Handshake, failure(e)))?;
        let est = run_handshake(&mut control, hs)
            .await
            .map_err(|e| (Operation::Handshake, e))?;
        let relay = match est.bound {
            Some(a) if !a.ip().is_unspecified() => a,
            Some(a) => SocketAddr::new(proxy.ip(), a.port()),
            None => {
                return Err((
                    Operation::Handshake,
                    failure(ProxyError::Socks(lt_proxy::socks_errors::GENERAL_FAILURE)),
                ))
            }
        };
        Ok((control, relay))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err((op, e))) => Err((proxy, op, e)),
        Err(_) => Err((
            proxy,
            Operation::Connect,
            io::Error::from_raw_os_error(libc::ETIMEDOUT),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn socks5(port: u16) -> ProxyConfig {
        ProxyConfig::from_settings(2, "127.0.0.1", i32::from(port), "", "", true, true, true)
            .expect("config")
    }

    /// A one-shot SOCKS5 server: greeting, then a request for an IPv4
    /// target, answered with `rep`; returns the accepted stream.
    async fn serve_socks5(listener: &TcpListener, rep: u8, extra: &[u8]) -> TcpStream {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut greet = [0u8; 3];
        s.read_exact(&mut greet).await.expect("greeting");
        assert_eq!(greet, [5, 1, 0]);
        s.write_all(&[5, 0]).await.expect("method");
        let mut req = [0u8; 10];
        s.read_exact(&mut req).await.expect("request");
        let mut reply = vec![5, rep, 0, 1, 0, 0, 0, 0, 0x1a, 0xe1];
        reply.extend_from_slice(extra);
        s.write_all(&reply).await.expect("reply");
        s
    }

    #[test]
    fn tunnel_carries_data_and_early_bytes() {
        rt().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let server = async {
                let mut s = serve_socks5(&listener, 0, b"early").await;
                let mut buf = [0u8; 4];
                s.read_exact(&mut buf).await.expect("read");
                s.write_all(&buf).await.expect("echo");
                s
            };
            let target = Target::Addr(SocketAddr::from(([10, 0, 0, 1], 6881)));
            let client = async {
                let (mut stream, leftover) = tunnel(&socks5(port), target, Duration::from_secs(5))
                    .await
                    .expect("tunnel");
                assert_eq!(leftover, b"early");
                stream.write_all(b"ping").await.expect("write");
                let mut buf = [0u8; 4];
                stream.read_exact(&mut buf).await.expect("read");
                assert_eq!(&buf, b"ping");
            };
            let (_s, ()) = tokio::join!(server, client);
        });
    }

    #[test]
    fn tunnel_errors_keep_their_codes() {
        rt().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let target = Target::Addr(SocketAddr::from(([10, 0, 0, 1], 6881)));
            let cfg = socks5(port);
            // "connection not allowed by ruleset" is EPERM, as in libtorrent
            let (_s, r) = tokio::join!(
                serve_socks5(&listener, 2, b""),
                tunnel(&cfg, target.clone(), Duration::from_secs(5))
            );
            let e = r.expect_err("refused");
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
            // general failure stays in the socks category
            let (_s, r) = tokio::join!(
                serve_socks5(&listener, 1, b""),
                tunnel(&cfg, target.clone(), Duration::from_secs(5))
            );
            let e = r.expect_err("refused");
            assert_eq!(socks_code(&e), Some(ErrorCode::new(6, Category::Socks)));
            // a proxy that is not there
            drop(listener);
            let e = tunnel(&cfg, target, Duration::from_secs(5))
                .await
                .expect_err("down");
            assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        });
    }

    #[test]
    fn udp_association_wraps_and_unwraps() {
        rt().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let relay = UdpSocket::bind("127.0.0.1:0").await.expect("relay");
            let relay_port = relay.local_addr().expect("addr").port();
            let server = async {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut greet = [0u8; 3];
                s.read_exact(&mut greet).await.expect("greeting");
                s.write_all(&[5, 0]).await.expect("method");
                let mut req = [0u8; 10];
                s.read_exact(&mut req).await.expect("request");
                assert_eq!(req[..2], [5, 3]);
                // the relay reported as 0.0.0.0: the proxy's own address
                let mut reply = vec![5, 0, 0, 1, 0, 0, 0, 0];
                reply.extend_from_slice(&relay_port.to_be_bytes());
                s.write_all(&reply).await.expect("reply");
                s
            };
            let cfg = socks5(port);
            let (_control, assoc) =
                tokio::join!(server, UdpAssociation::open(&cfg, Duration::from_secs(5)));
            let assoc = assoc.expect("associate");
            let to = Target::Addr(SocketAddr::from(([127, 0, 0, 1], 9999)));
            assoc.send_to(b"query", &to).await.expect("send");
            let mut buf = [0u8; 256];
            let (n, from) = relay.recv_from(&mut buf).await.expect("relayed");
            assert_eq!(
                lt_proxy::udp_decapsulate(&buf[..n]),
                Ok((to, &b"query"[..]))
            );
            // a datagram from elsewhere is ignored; the relay's is unwrapped
            let stranger = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            stranger.send_to(b"noise", from).await.expect("noise");
            let src = Target::Addr(SocketAddr::from(([5, 6, 7, 8], 1)));
            let d = lt_proxy::udp_encapsulate(&src, b"answer").expect("wrap");
            relay.send_to(&d, from).await.expect("answer");
            let (n, who) = assoc.recv_from(&mut buf).await.expect("recv");
            assert_eq!(
                (&buf[..n], who),
                (&b"answer"[..], "5.6.7.8:1".parse().expect("ip"))
            );
        });
    }

    #[test]
    fn socks_errors_survive_io_error_and_text() {
        let e = failure(ProxyError::Socks(4));
        assert_eq!(socks_code(&e), Some(ErrorCode::new(4, Category::Socks)));
        assert_eq!(
            socks_code_in(&e.to_string()),
            Some(ErrorCode::new(4, Category::Socks))
        );
        assert!(e.to_string().starts_with("SOCKS authentication error"));
        let g = ErrorCode::new(13, Category::Generic);
        assert_eq!(socks_code_in(&coded_message(g)), Some(g));
        assert_eq!(socks_code_in("Connection refused (os error 111)"), None);
        let e = failure(ProxyError::System(libc::ECONNREFUSED));
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        assert_eq!(socks_code(&e), None);
        assert_eq!(socks_code_in(&e.to_string()), None);
    }
}
