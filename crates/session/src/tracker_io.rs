//! Socket side of tracker requests: runs one `lt-tracker` connection state
//! machine over tokio sockets and reports its outcome. All protocol logic
//! (URLs, parsing, retries, back-off) stays in `lt-tracker`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lt_tracker::{
    udp_host_port, AnnounceResponse, ConnectionCache, HttpTrackerConnection, HttpTrackerOutcome,
    ReplyError, ScrapeResponse, TrackerError, TrackerRequest, TrackerSettings, UdpOutcome, UdpStep,
    UdpTrackerConnection,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Runs one request to completion (bounded by the request's own timeouts).
pub(crate) async fn run(
    req: TrackerRequest,
    settings: TrackerSettings,
    udp_cache: Arc<Mutex<ConnectionCache>>,
    seed: u64,
    login: Option<String>,
) -> TrackerResult {
    if req.url.starts_with("udp://") {
        run_udp(req, settings, udp_cache, seed).await
    } else {
        run_http(req, settings, login).await
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
        let addr = match resolve(conn.host(), conn.port()).await {
            Ok(a) => a,
            Err(e) => return failed(e),
        };
        match http_once(&mut conn, addr).await {
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

async fn http_once(conn: &mut HttpTrackerConnection, addr: SocketAddr) -> HttpTrackerOutcome {
    let io_fail = |e: std::io::Error| {
        HttpTrackerOutcome::Failed(ReplyError {
            error: TrackerError::Io(e.to_string()),
            warning_message: String::new(),
            retry_interval: 0,
            min_interval: 0,
        })
    };
    let deadline = conn.next_timeout();
    let connect = tokio::time::timeout_at(deadline.into(), tokio::net::TcpStream::connect(addr));
    let mut stream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return io_fail(e),
        Err(_) => {
            return conn
                .on_timeout(Instant::now())
                .unwrap_or_else(|| io_fail(std::io::ErrorKind::TimedOut.into()))
        }
    };
    if let Err(e) = stream.write_all(conn.request_bytes()).await {
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
    let sock = match tokio::net::UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return failed(TrackerError::Io(e.to_string())),
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
