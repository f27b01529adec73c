//! Socket pumps for peer connections.
//!
//! Each connection gets a reader task and a writer task. The reader does
//! the framing: it reads straight into one growing buffer, and splits off
//! the 68-byte handshake and then each length-prefixed message as a `Bytes`
//! frame that shares that buffer — no copy between the kernel and the
//! engine, and a block payload reaches the disk thread without another
//! one. The writer takes encoded messages (`Bytes`) and writes them in
//! batches with vectored writes. Neither task interprets the protocol; the
//! engine does, on the frames it receives.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::engine::Event;

/// Identifies a connection inside one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Length of the BitTorrent handshake.
pub const HANDSHAKE_LEN: usize = 68;

/// What the reader hands the engine.
pub(crate) enum Frame {
    /// The 68-byte handshake.
    Handshake(Bytes),
    /// One message, without its 4-byte length prefix (empty = keep-alive).
    Message(Bytes),
}

/// Why a connection's socket side ended.
#[derive(Debug)]
pub(crate) enum Closed {
    Eof,
    Io(std::io::Error),
    /// A length prefix beyond the limit.
    Oversized(u32),
}

/// Starts the reader and writer tasks of an established connection and
/// returns the sender for outgoing data.
pub(crate) fn start(
    id: ConnId,
    stream: TcpStream,
    max_frame: u32,
    events: mpsc::UnboundedSender<Event>,
) -> mpsc::UnboundedSender<Bytes> {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(id, rd, max_frame, events.clone()));
    tokio::spawn(write_loop(id, wr, rx, events));
    tx
}

/// Connects with a timeout.
pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "Connection timed out",
        )),
    }
}

async fn read_loop(
    id: ConnId,
    mut rd: OwnedReadHalf,
    max_frame: u32,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut handshake_done = false;
    let reason = loop {
        // Split off every complete frame in the buffer.
        loop {
            if !handshake_done {
                if buf.len() < HANDSHAKE_LEN {
                    break;
                }
                let hs = buf.split_to(HANDSHAKE_LEN).freeze();
                handshake_done = true;
                if events.send(Event::Frame(id, Frame::Handshake(hs))).is_err() {
                    return;
                }
                continue;
            }
            if buf.len() < 4 {
                break;
            }
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if len > max_frame {
                let _ = events.send(Event::Closed(id, Closed::Oversized(len)));
                return;
            }
            let total = 4 + len as usize;
            if buf.len() < total {
                // Make room for the rest of this frame in one go.
                buf.reserve(total - buf.len());
                break;
            }
            let _ = buf.split_to(4);
            let msg = buf.split_to(len as usize).freeze();
            if events.send(Event::Frame(id, Frame::Message(msg))).is_err() {
                return;
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => break Closed::Eof,
            Ok(_) => {}
            Err(e) => break Closed::Io(e),
        }
    };
    let _ = events.send(Event::Closed(id, reason));
}

async fn write_loop(
    id: ConnId,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    events: mpsc::UnboundedSender<Event>,
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
        if let Err(e) = write_all_vectored(&mut wr, &mut batch).await {
            let _ = events.send(Event::Closed(id, Closed::Io(e)));
            return;
        }
        if events.send(Event::Written(id, total)).is_err() {
            return;
        }
    }
    // The engine dropped the sender: close our side gracefully.
    let _ = wr.shutdown().await;
}

async fn write_all_vectored(wr: &mut OwnedWriteHalf, bufs: &mut Vec<Bytes>) -> std::io::Result<()> {
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
