//! Socket side of tracker requests: runs one `lt-tracker` connection state
//! machine over tokio sockets and reports its outcome. All protocol logic
//! (URLs, parsing, retries, back-off) stays in `lt-tracker`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lt_proxy::{ProxyConfig, ProxyKind};
use lt_tracker::{
    udp_host_port, AnnounceResponse, ConnectionCache, HttpTrackerConnection, HttpTrackerOutcome,
    ReplyError, ScrapeResponse, TrackerError, TrackerRequest, TrackerSettings, UdpOutcome, UdpStep,
    UdpTrackerConnection,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::proxy_io;

/// What a finished tracker request produced.
#[derive(Debug)]
pub(crate) enum TrackerResult {
    Announce(AnnounceResponse),
    Scrape(ScrapeResponse),
    Failed(ReplyError),
}

fn failed(e: TrackerError) -> TrackerResult {
    TrackerResult::Failed(ReplyError {
        error: e,
        warning_message: String::new(),
        retry_interval: 0,
        min_interval: 0,
    })
}

const MAX_REDIRECTS: usize = 5;

/// Runs one request to completion (bounded by the request's own timeouts),
/// through `proxy` when given (`proxy_tracker_connections`).
pub(crate) async fn run(
    req: TrackerRequest,
    settings: TrackerSettings,
    udp_cache: Arc<Mutex<ConnectionCache>>,
    seed: u64,
    proxy: Option<ProxyConfig>,
    login: Option<String>,
) -> TrackerResult {
    if req.url.starts_with("udp://") {
        match proxy {
            // As libtorrent: UDP can only be proxied by SOCKS5; through any
            // other proxy a UDP tracker is refused rather than contacted
            // directly.
            Some(p) if p.kind != ProxyKind::Socks5 => {
                failed(TrackerError::Io(proxy_io::coded_message(
                    lt_core::error::ErrorCode::new(libc::EACCES, lt_core::error::Category::Generic),
                )))
            }
            p => run_udp(req, settings, udp_cache, seed, p).await,
        }
    } else {
        run_http(req, settings, proxy, login).await
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, TrackerError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::lookup_host((host, port)).await {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| TrackerError::Io("host not found".into())),
        Err(e) => Err(TrackerError::Io(e.to_string())),
    }
}

async fn run_http(
    req: TrackerRequest,
    settings: TrackerSettings,
    proxy: Option<ProxyConfig>,
    login: Option<String>,
) -> TrackerResult {
    let mut conn = match HttpTrackerConnection::new(req, &settings, Instant::now()) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    if let Some(l) = login {
        conn.set_login(&l);
    }
    for _ in 0..=MAX_REDIRECTS {
        if conn.is_https() {
            return failed(TrackerError::UnsupportedUrlProtocol);
        }
        let route = match &proxy {
            Some(p) => Route::Proxy(p),
            None => match resolve(conn.host(), conn.port()).await {
                Ok(a) => Route::Direct(a),
                Err(e) => return failed(e),
            },
        };
        match http_once(&mut conn, route).await {
            HttpTrackerOutcome::Announce(r) => return TrackerResult::Announce(r),
            HttpTrackerOutcome::Scrape(r) => return TrackerResult::Scrape(r),
            HttpTrackerOutcome::Failed(e) => return TrackerResult::Failed(e),
            HttpTrackerOutcome::Redirect { location } => {
                if let Err(e) = conn.follow_redirect(&location, Instant::now()) {
                    return failed(e);
                }
            }
        }
    }
    failed(TrackerError::TooManyRedirects)
}

/// How an HTTP request reaches the tracker.
enum Route<'a> {
    Direct(SocketAddr),
    Proxy(&'a ProxyConfig),
}

/// Connects as `route` says; returns the stream and the request to write
/// (in absolute form, with `Proxy-Authorization`, for an HTTP proxy).
async fn open(
    conn: &HttpTrackerConnection,
    route: Route<'_>,
) -> std::io::Result<(tokio::net::TcpStream, Vec<u8>)> {
    match route {
        Route::Direct(addr) => Ok((
            tokio::net::TcpStream::connect(addr).await?,
            conn.request_bytes().to_vec(),
        )),
        Route::Proxy(p) if p.kind == ProxyKind::Http => {
            let host = p.host.trim_start_matches('[').trim_end_matches(']');
            let stream = tokio::net::TcpStream::connect((host, p.port)).await?;
            let origin = format!(
                "http://{}",
                lt_proxy::Target::from_host(conn.host(), conn.port()).authority()
            );
            let auth = p.auth.as_ref().map(|(u, w)| (u.as_str(), w.as_str()));
            let req = lt_proxy::absolute_form(conn.request_bytes(), &origin, auth)
                .ok_or_else(|| std::io::Error::other("malformed tracker request"))?;
            Ok((stream, req))
        }
        Route::Proxy(p) => {
            let target = proxy_io::target_for(p, conn.host(), conn.port()).await?;
            // the caller bounds the whole attempt by the tracker's timeout
            let (stream, _) = proxy_io::tunnel(p, target, std::time::Duration::MAX).await?;
            Ok((stream, conn.request_bytes().to_vec()))
        }
    }
}

async fn http_once(conn: &mut HttpTrackerConnection, route: Route<'_>) -> HttpTrackerOutcome {
    let io_fail = |e: std::io::Error| {
        HttpTrackerOutcome::Failed(ReplyError {
            error: TrackerError::Io(proxy_io::io_message(&e)),
            warning_message: String::new(),
            retry_interval: 0,
            min_interval: 0,
        })
    };
    let deadline = conn.next_timeout();
    let connect = tokio::time::timeout_at(deadline.into(), open(conn, route));
    let (mut stream, request) = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return io_fail(e),
        Err(_) => {
            return conn
                .on_timeout(Instant::now())
                .unwrap_or_else(|| io_fail(std::io::ErrorKind::TimedOut.into()))
        }
    };
    if let Err(e) = stream.write_all(&request).await {
        return io_fail(e);
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let deadline = conn.next_timeout();
        let read = tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await;
        let now = Instant::now();
        let out = match read {
            Ok(Ok(0)) => conn.on_eof(now),
            Ok(Ok(n)) => conn.on_data(now, &buf[..n]),
            Ok(Err(e)) => conn.on_io_error(e.to_string()),
            Err(_) => conn.on_timeout(now),
        };
        if let Some(o) = out {
            return o;
        }
    }
}

async fn run_udp(
    req: TrackerRequest,
    settings: TrackerSettings,
    cache: Arc<Mutex<ConnectionCache>>,
    seed: u64,
    proxy: Option<ProxyConfig>,
) -> TrackerResult {
    let (host, port) = match udp_host_port(&req.url) {
        Ok(hp) => hp,
        Err(e) => return failed(e),
    };
    let target = match resolve(&host, port).await {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    let bind: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match &proxy {
        Some(p) => {
            let timeout =
                std::time::Duration::from_secs(u64::from(settings.tracker_receive_timeout.max(1)));
            match proxy_io::UdpAssociation::open(p, timeout).await {
                Ok(a) => UdpSock::Proxied(a),
                Err(e) => return failed(TrackerError::Io(proxy_io::io_message(&e))),
            }
        }
        None => match tokio::net::UdpSocket::bind(bind).await {
            Ok(s) => UdpSock::Direct(s),
            Err(e) => return failed(TrackerError::Io(e.to_string())),
        },
    };
    let mut conn = match UdpTrackerConnection::new(req, target, &settings, Instant::now(), seed) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut step = {
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        conn.start(Instant::now(), &mut c)
    };
    let mut buf = vec![0u8; 4096];
    loop {
        match step {
            UdpStep::Send(pkt) => {
                if let Err(e) = sock.send_to(&pkt, conn.target()).await {
                    return failed(TrackerError::Io(e.to_string()));
                }
            }
            UdpStep::Done(UdpOutcome::Announce(r)) => return TrackerResult::Announce(r),
            UdpStep::Done(UdpOutcome::Scrape(r)) => return TrackerResult::Scrape(r),
            UdpStep::Done(UdpOutcome::Failed(e)) => return TrackerResult::Failed(e),
            UdpStep::Idle => {}
        }
        let deadline = conn.next_timeout();
        let recv = tokio::time::timeout_at(deadline.into(), sock.recv_from(&mut buf)).await;
        let now = Instant::now();
        step = match recv {
            Ok(Ok((n, from))) => {
                let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
                conn.on_packet(now, from, &buf[..n], &mut c)
            }
            Ok(Err(_)) => {
                // ICMP errors surface here; wait for the retransmit timer.
                tokio::time::sleep_until(deadline.into()).await;
                conn.on_timeout(Instant::now())
            }
            Err(_) => conn.on_timeout(now),
        };
    }
}

/// The socket of a UDP tracker request: direct, or through a SOCKS5 UDP
/// ASSOCIATE.
enum UdpSock {
    Direct(tokio::net::UdpSocket),
    Proxied(proxy_io::UdpAssociation),
}

impl UdpSock {
    async fn send_to(&self, data: &[u8], to: SocketAddr) -> std::io::Result<()> {
        match self {
            UdpSock::Direct(s) => s.send_to(data, to).await.map(|_| ()),
            UdpSock::Proxied(a) => a.send_to(data, &lt_proxy::Target::Addr(to)).await,
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        match self {
            UdpSock::Direct(s) => s.recv_from(buf).await,
            UdpSock::Proxied(a) => a.recv_from(buf).await,
        }
    }
}
