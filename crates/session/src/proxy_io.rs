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

/// Makes a SOCKS5 UDP ASSOCIATE for datagrams sent from any of our UDP
/// sockets; returns the control connection (the association ends when it
/// closes) and the relay address. A failure names the proxy endpoint and
/// whether connecting or the handshake failed.
pub(crate) async fn associate(
    p: &ProxyConfig,
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
        let unspecified = Target::Addr(SocketAddr::from(([0, 0, 0, 0], 0)));
        let hs = Handshake::socks5(unspecified, Command::UdpAssociate, p.auth.clone())
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
