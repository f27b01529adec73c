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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
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
    Io(std::io::Error),
}

/// Starts the reader and writer tasks of an established connection and
/// returns the sender for outgoing data.
pub(crate) fn start(
    id: ConnId,
    stream: TcpStream,
    events: mpsc::UnboundedSender<Event>,
) -> mpsc::UnboundedSender<Bytes> {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(id, rd, events.clone()));
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

async fn read_loop(id: ConnId, mut rd: OwnedReadHalf, events: mpsc::UnboundedSender<Event>) {
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let reason = loop {
        if buf.capacity() < 64 * 1024 {
            buf.reserve(256 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => break Closed::Eof,
            Ok(_) => {
                if events.send(Event::Data(id, buf.split().freeze())).is_err() {
                    return;
                }
            }
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
