//! Socket pumps for peer connections.
//!
//! Each connection gets a reader task and a writer task. The reader reads
//! into a reusable buffer and hands each chunk to the engine as `Bytes`;
//! the engine feeds it to the connection's sans-IO state machine
//! (`lt_wire::PeerConnection`). The writer takes encoded messages (`Bytes`,
//! block payloads sliced from disk buffers without copying) and writes them
//! in batches with vectored writes. Neither task interprets the protocol.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::engine::Event;

/// Identifies a connection inside one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Why a connection's socket side ended.
#[derive(Debug)]
pub(crate) enum Closed {
    Eof,
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Read-side backpressure shared by all connections of a session: bytes
/// received and not yet on disk (or discarded). Readers stop reading once
/// it reaches three quarters of the limit (`max_queued_disk_bytes`) and
/// resume when it is back under half of it, as libtorrent's disk buffer
/// watermarks do, so a slow disk throttles the sockets instead of growing
/// memory, and readers wake for a batch rather than for every block.
pub(crate) struct RecvBudget {
    pub queued: std::sync::atomic::AtomicUsize,
    pub limit: std::sync::atomic::AtomicUsize,
    blocked: std::sync::atomic::AtomicBool,
    pub drained: tokio::sync::Notify,
}

impl RecvBudget {
    pub fn new(limit: usize) -> Self {
        RecvBudget {
            queued: 0.into(),
            limit: limit.into(),
            blocked: false.into(),
            drained: tokio::sync::Notify::new(),
        }
    }

    pub fn over(&self) -> bool {
        self.blocked.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn add(&self, n: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = self.queued.fetch_add(n, Relaxed).saturating_add(n);
        let limit = self.limit.load(Relaxed);
        if now >= limit - limit / 4 {
            self.blocked.store(true, Relaxed);
        }
    }

    /// Releases `n` bytes and wakes readers once under the low watermark.
    pub fn release(&self, n: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let prev = self
            .queued
            .fetch_update(Relaxed, Relaxed, |q| Some(q.saturating_sub(n)))
            .unwrap_or(0);
        if prev.saturating_sub(n) < self.limit.load(Relaxed) / 2
            && self.blocked.swap(false, Relaxed)
        {
            self.drained.notify_waiters();
        }
    }
}

/// Starts the reader and writer tasks of an established connection and
/// returns the sender for outgoing data.
pub(crate) fn start(
    id: ConnId,
    stream: TcpStream,
    events: mpsc::UnboundedSender<Event>,
    budget: std::sync::Arc<RecvBudget>,
) -> mpsc::UnboundedSender<Bytes> {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    start_halves(id, rd, wr, events, budget)
}

/// Starts the reader and writer tasks over any byte stream (a TLS stream of
/// an SSL torrent's connection).
pub(crate) fn start_stream<S>(
    id: ConnId,
    stream: S,
    events: mpsc::UnboundedSender<Event>,
    budget: std::sync::Arc<RecvBudget>,
) -> mpsc::UnboundedSender<Bytes>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    start_halves(id, rd, wr, events, budget)
}

fn start_halves<R, W>(
    id: ConnId,
    rd: R,
    wr: W,
    events: mpsc::UnboundedSender<Event>,
    budget: std::sync::Arc<RecvBudget>,
) -> mpsc::UnboundedSender<Bytes>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    // The writer holds `done` for as long as it runs. When it ends (the
    // engine dropped the sender, or a write failed) the reader stops as
    // well, so both halves are dropped and the socket is closed even if
    // the peer keeps its end open. Without this a disconnected peer that
    // never closes would keep our socket, and its reader task, forever.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(read_loop(id, rd, events.clone(), done_rx, budget));
    tokio::spawn(write_loop(id, wr, rx, events, done_tx));
    tx
}

/// How long a disconnected peer's unsent data may wait for the peer to
/// read it before the socket is closed anyway.
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// Connects with a timeout.
/// Connects to `addr`. With a non-empty `ports` range (`outgoing_port`,
/// `num_outgoing_ports`) the local port is taken from it, trying each in
/// turn from `start` until one binds.
pub(crate) async fn connect(
    addr: SocketAddr,
    timeout: Duration,
    ports: std::ops::Range<u16>,
    start: u16,
) -> std::io::Result<TcpStream> {
    let attempt = async {
        if ports.is_empty() {
            return TcpStream::connect(addr).await;
        }
        let n = ports.end - ports.start;
        let mut last = std::io::Error::new(std::io::ErrorKind::AddrInUse, "no outgoing port free");
        for i in 0..n {
            let port = ports.start + (start % n + i) % n;
            let sock = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            let _ = sock.set_reuseaddr(true);
            let local = match addr {
                SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], port)),
                SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], port)),
            };
            if let Err(e) = sock.bind(local) {
                last = e;
                continue;
            }
            match sock.connect(addr).await {
                Ok(s) => return Ok(s),
                // the same local port may already be connected to this peer
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "Connection timed out",
        )),
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    id: ConnId,
    mut rd: R,
    events: mpsc::UnboundedSender<Event>,
    mut writer_done: tokio::sync::oneshot::Receiver<()>,
    budget: std::sync::Arc<RecvBudget>,
) {
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let reason = loop {
        while budget.over() {
            let drained = budget.drained.notified();
            if !budget.over() {
                break;
            }
            tokio::select! {
                _ = drained => {}
                // Re-check now and then: a release may race the wait.
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                _ = &mut writer_done => return,
            }
        }
        if buf.capacity() < 64 * 1024 {
            buf.reserve(256 * 1024);
        }
        let read = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            // The connection is closed: the engine has forgotten it.
            _ = &mut writer_done => return,
        };
        match read {
            Ok(0) => break Closed::Eof,
            Ok(_) => {
                if events.send(Event::Data(id, buf.split().freeze())).is_err() {
                    return;
                }
            }
            Err(e) => break Closed::Read(e),
        }
    };
    let _ = events.send(Event::Closed(id, reason));
}

async fn write_loop<W: AsyncWrite + Unpin>(
    id: ConnId,
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    events: mpsc::UnboundedSender<Event>,
    _done: tokio::sync::oneshot::Sender<()>,
) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(64);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < 64 {
            match rx.try_recv() {
                Ok(b) => batch.push(b),
                Err(_) => break,
            }
        }
        let total: usize = batch.iter().map(Bytes::len).sum();
        let written = tokio::select! {
            // Biased: a write that completes at once never starts the timer.
            biased;
            r = write_all_vectored(&mut wr, &mut batch) => r,
            // A peer that stopped reading must not hold the socket once
            // the engine has dropped it.
            _ = abandoned(&rx) => return,
        };
        if let Err(e) = written {
            let _ = events.send(Event::Closed(id, Closed::Write(e)));
            return;
        }
        if events.send(Event::Written(id, total)).is_err() {
            return;
        }
    }
    // The engine dropped the sender: close our side gracefully.
    let _ = wr.shutdown().await;
}

/// Resolves once the engine has dropped the connection's sender and
/// [`CLOSE_LINGER`] has passed since.
async fn abandoned(rx: &mpsc::UnboundedReceiver<Bytes>) {
    let step = Duration::from_millis(500);
    let mut closed_for = Duration::ZERO;
    loop {
        tokio::time::sleep(step).await;
        if rx.is_closed() {
            closed_for += step;
            if closed_for >= CLOSE_LINGER {
                return;
            }
        }
    }
}

async fn write_all_vectored<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bufs: &mut Vec<Bytes>,
) -> std::io::Result<()> {
    let mut first = 0;
    while first < bufs.len() {
        let slices: Vec<IoSlice<'_>> = bufs[first..].iter().map(|b| IoSlice::new(b)).collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && first < bufs.len() {
            let len = bufs[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                let rest = bufs[first].slice(n..);
                bufs[first] = rest;
                n = 0;
            }
        }
    }
    bufs.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Reading stops at three quarters of the limit and resumes under half.
    #[test]
    fn recv_budget_watermarks() {
        let b = RecvBudget::new(100);
        b.add(74);
        assert!(!b.over());
        b.add(1);
        assert!(b.over(), "75 of 100 queued");
        b.release(25);
        assert!(b.over(), "50 is not under half");
        b.release(1);
        assert!(!b.over(), "49 of 100 queued");
        b.add(20);
        assert!(!b.over(), "69: under the high watermark again");
        b.release(1000);
        assert_eq!(b.queued.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    /// Both tasks end (and so the socket is closed) once the engine drops
    /// the connection, though the peer keeps its end open and sends on.
    #[test]
    fn dropping_the_sender_ends_both_tasks() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let mut peer = std::net::TcpStream::connect(addr).expect("connect");
            let (stream, _) = listener.accept().await.expect("accept");
            let (events_tx, mut events_rx) = mpsc::unbounded_channel();
            let tx = start(
                ConnId(1),
                stream,
                events_tx,
                std::sync::Arc::new(RecvBudget::new(1 << 20)),
            );
            tx.send(Bytes::from_static(b"bye")).expect("send");
            drop(tx);
            // The peer keeps writing and never closes.
            peer.write_all(b"still here").expect("write");
            // Every sender of `events` is gone once both tasks have ended.
            let drained = tokio::time::timeout(Duration::from_secs(5), async {
                while events_rx.recv().await.is_some() {}
            })
            .await;
            assert!(drained.is_ok(), "a socket task outlived its connection");
            // The peer got what was queued, then the end of the stream.
            peer.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut got = Vec::new();
            let _ = peer.read_to_end(&mut got);
            assert!(got.starts_with(b"bye"));
        });
    }

    /// A writer blocked on a peer that never reads gives up after
    /// [`CLOSE_LINGER`] once the engine has dropped the connection.
    #[test]
    fn stuck_writer_gives_up_after_the_linger() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let _peer = std::net::TcpStream::connect(addr).expect("connect");
            let (stream, _) = listener.accept().await.expect("accept");
            let (events_tx, mut events_rx) = mpsc::unbounded_channel();
            let tx = start(
                ConnId(2),
                stream,
                events_tx,
                std::sync::Arc::new(RecvBudget::new(1 << 20)),
            );
            // Far more than the socket buffers hold; the peer reads nothing.
            for _ in 0..64 {
                tx.send(Bytes::from(vec![0u8; 1 << 20])).expect("send");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(tx);
            let drained = tokio::time::timeout(CLOSE_LINGER + Duration::from_secs(5), async {
                while events_rx.recv().await.is_some() {}
            })
            .await;
            assert!(
                drained.is_ok(),
                "the writer stayed blocked on a dropped connection"
            );
        });
    }
}
