//! The socket side of a web seed connection.
//!
//! One task per connection owns the TCP stream and the sans-IO
//! [`lt_webseed::WebSeedConnection`]: it connects, writes the requests the
//! state machine produces, feeds it what it reads, calls its timer, and
//! forwards its events to the engine. The engine decides what to request
//! ([`WebCmd::Request`]) and does everything with the data (picker, disk,
//! hashing).

use std::time::{Duration, Instant};

use lt_webseed::{WebSeedConnection, WebSeedEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::engine::Event;
use crate::peer_io::ConnId;

/// What the engine tells a web seed task.
#[derive(Debug)]
pub(crate) enum WebCmd {
    Request(lt_webseed::PieceRange),
}

/// What a web seed task reports.
#[derive(Debug)]
pub(crate) enum WebIoEvent {
    /// The TCP connection is up; `local` is our end of it.
    Connected {
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
    },
    /// The connection could not be made.
    ConnectFailed(std::io::Error),
    /// An event of the state machine. `Closed` is the last one.
    Conn(WebSeedEvent),
}

/// Starts the task of one connection. Dropping the returned sender closes
/// the connection.
pub(crate) fn start(
    id: ConnId,
    conn: WebSeedConnection,
    connect_timeout: Duration,
    events: mpsc::UnboundedSender<Event>,
    proxy: Option<lt_proxy::ProxyConfig>,
) -> mpsc::UnboundedSender<WebCmd> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(id, conn, connect_timeout, rx, events, proxy));
    tx
}

/// Connects to the seed, or through the proxy: an HTTP proxy gets the
/// requests in absolute form (see [`Rewrite`]), a SOCKS proxy a tunnel.
async fn open(
    host: &str,
    port: u16,
    proxy: Option<&lt_proxy::ProxyConfig>,
    timeout: Duration,
) -> std::io::Result<(TcpStream, Vec<u8>)> {
    let attempt = async {
        match proxy {
            None => Ok((TcpStream::connect((host, port)).await?, Vec::new())),
            Some(p) if p.kind == lt_proxy::ProxyKind::Http => {
                let h = p.host.trim_start_matches('[').trim_end_matches(']');
                Ok((TcpStream::connect((h, p.port)).await?, Vec::new()))
            }
            Some(p) => {
                let target = crate::proxy_io::target_for(p, host, port).await?;
                crate::proxy_io::tunnel(p, target, Duration::MAX).await
            }
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "Connection timed out",
        )),
    }
}

/// For an HTTP proxy: the origin to put in front of request targets and
/// the proxy credentials.
struct Rewrite {
    origin: String,
    auth: Option<(String, String)>,
}

async fn run(
    id: ConnId,
    mut conn: WebSeedConnection,
    connect_timeout: Duration,
    mut cmds: mpsc::UnboundedReceiver<WebCmd>,
    events: mpsc::UnboundedSender<Event>,
    proxy: Option<lt_proxy::ProxyConfig>,
) {
    let send = |ev: WebIoEvent| events.send(Event::Web(id, ev)).is_ok();
    let host = conn
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = conn.port();
    let rewrite = proxy
        .as_ref()
        .filter(|p| p.kind == lt_proxy::ProxyKind::Http)
        .map(|p| Rewrite {
            origin: format!(
                "http://{}",
                lt_proxy::Target::from_host(&host, port).authority()
            ),
            auth: p.auth.clone(),
        });
    let (stream, leftover) = match open(&host, port, proxy.as_ref(), connect_timeout).await {
        Ok(s) => s,
        Err(e) => {
            send(WebIoEvent::ConnectFailed(e));
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (local, remote) = match (stream.local_addr(), stream.peer_addr()) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) | (_, Err(e)) => {
            send(WebIoEvent::ConnectFailed(e));
            return;
        }
    };
    if !send(WebIoEvent::Connected { local, remote }) {
        return;
    }
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = vec![0u8; 64 * 1024];
    let mut engine_gone = false;
    if !leftover.is_empty() {
        conn.on_data(&leftover, Instant::now());
    }
    loop {
        // requests to write
        while let Some(bytes) = conn.poll_transmit(Instant::now()) {
            let bytes = match &rewrite {
                None => bytes,
                Some(r) => {
                    let auth = r.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
                    match lt_proxy::absolute_form(&bytes, &r.origin, auth) {
                        Some(b) => b,
                        None => {
                            conn.close();
                            break;
                        }
                    }
                }
            };
            if wr.write_all(&bytes).await.is_err() {
                conn.on_eof(Instant::now());
                break;
            }
        }
        // events to forward; `Closed` ends the task
        let mut closed = false;
        while let Some(ev) = conn.poll_event() {
            closed |= matches!(ev, WebSeedEvent::Closed { .. });
            if !send(WebIoEvent::Conn(ev)) {
                engine_gone = true;
            }
        }
        if closed || engine_gone {
            return;
        }
        let deadline = conn.next_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(WebCmd::Request(r)) => {
                    if conn.request(r).is_err() {
                        // the range is not valid for this torrent: give up
                        // on the connection, reporting what is unfinished
                        conn.close();
                    }
                }
                // the engine dropped us
                None => return,
            },
            n = rd.read(&mut buf) => match n {
                Ok(0) | Err(_) => conn.on_eof(Instant::now()),
                Ok(n) => conn.on_data(buf.get(..n).unwrap_or(&[]), Instant::now()),
            },
            _ = sleep => conn.tick(Instant::now()),
        }
    }
}
