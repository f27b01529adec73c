//! uTP, the Micro Transport Protocol (BEP 29), sans-IO.
//!
//! A [`UtpSocket`] multiplexes any number of uTP connections over one UDP
//! socket that the caller owns. It never touches the network or a clock:
//! the caller feeds it received datagrams ([`UtpSocket::handle_datagram`])
//! and the current time, drives its timers ([`UtpSocket::tick`] at
//! [`UtpSocket::next_timeout`]), sends what [`UtpSocket::poll_transmit`]
//! returns, and reacts to [`UtpSocket::poll_event`]. Each connection is a
//! reliable, ordered byte stream ([`UtpSocket::write`], [`UtpSocket::read`],
//! [`UtpSocket::close`]) with LEDBAT congestion control, compatible with
//! libtorrent's implementation.
//!
//! The UDP socket is usually shared with the DHT and UDP trackers:
//! [`looks_like_utp`] tells uTP datagrams apart cheaply.
//!
//! # Driving loop
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::{Duration, Instant};
//! use lt_utp::{Event, UtpConfig, UtpSocket};
//!
//! let udp = UdpSocket::bind("127.0.0.1:0")?;
//! udp.set_nonblocking(true)?;
//! let mut utp = UtpSocket::new(UtpConfig::default(), Instant::now(), 0x5eed);
//! let conn = utp.connect("127.0.0.1:6881".parse().unwrap(), Instant::now())?;
//! utp.write(conn, b"hello")?;
//! let mut buf = [0u8; 65536];
//! loop {
//!     let now = Instant::now();
//!     // 1. everything that arrived
//!     while let Ok((n, from)) = udp.recv_from(&mut buf) {
//!         if lt_utp::looks_like_utp(&buf[..n]) {
//!             utp.handle_datagram(&buf[..n], from, now);
//!         } // else: hand it to the DHT / tracker code
//!     }
//!     // 2. timers
//!     utp.tick(now);
//!     // 3. what the connections want to say
//!     while let Some(t) = utp.poll_transmit(now) {
//!         let _ = udp.send_to(&t.data, t.to);
//!     }
//!     // 4. what happened
//!     while let Some(ev) = utp.poll_event() {
//!         match ev {
//!             Event::Incoming(c) => { /* a peer connected to us; c is ready */ }
//!             Event::Connected(c) => { /* our connect() succeeded */ }
//!             Event::Readable(c) => {
//!                 let mut data = [0u8; 16384];
//!                 match utp.read(c, &mut data) {
//!                     Ok(0) => { utp.close(c, now); } // the peer finished
//!                     Ok(n) => { /* use data[..n] */ }
//!                     Err(_) => {}
//!                 }
//!             }
//!             Event::Writable(c) => { /* write more */ }
//!             Event::Closed(c, reason) => { utp.close(c, now); }
//!         }
//!     }
//!     // 5. sleep until a datagram arrives or the next timer (a real
//!     //    program waits on the socket with this deadline)
//!     let wait = utp.next_timeout().map_or(Duration::from_millis(50), |t| {
//!         t.saturating_duration_since(Instant::now())
//!     });
//!     std::thread::sleep(wait.min(Duration::from_millis(5)));
//! #   break;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Calls that change state (`handle_datagram`, `tick`, `write`, `read`,
//! `close`) may leave datagrams to send: drain `poll_transmit` after them.
//! Acknowledgements are deferred until `poll_transmit`, so handling a whole
//! batch of datagrams first and then draining sends one ACK per batch.
//!
//! # Connection lifecycle
//!
//! * [`UtpSocket::connect`] returns a [`ConnectionId`] at once; data
//!   written before [`Event::Connected`] is queued and sent after the
//!   handshake. A connection accepted from a peer's SYN is announced by
//!   [`Event::Incoming`] and is connected right away.
//! * [`Event::Readable`] is edge-triggered: it fires when data (or the end
//!   of the stream) becomes available after `read` had emptied the buffer,
//!   so on it read until [`Error::WouldBlock`] or `Ok(0)`. `read`
//!   returning `Ok(0)` means the peer closed its side (FIN).
//! * [`Event::Writable`] fires when a quarter of the send buffer is free
//!   again after a `write` accepted less than offered.
//! * [`Event::Closed`] reports an abnormal end (reset by the peer, timed
//!   out). The id stays valid (reads and writes fail with
//!   [`Error::Closed`]) until the application calls [`UtpSocket::close`].
//! * [`UtpSocket::close`] is the application letting go of the id: data
//!   already written is still delivered, then a FIN is sent; the socket
//!   forgets the connection once the FIN is acknowledged (or the peer stops
//!   answering). No events are reported for an id after `close`.
//! * [`UtpSocket::reset`] aborts at once with a RESET.

#![forbid(unsafe_code)]

mod config;
mod conn;
pub mod packet;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

pub use config::UtpConfig;
pub use conn::ConnectionInfo;
use conn::{Conn, Ctx, State};
pub use packet::looks_like_utp;
use packet::{Packet, PacketType};

/// Identifies a connection within its [`UtpSocket`]. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Why a connection ended abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer sent a RESET (for a connection attempt: refused).
    Reset,
    /// The peer stopped acknowledging (or never answered the SYN).
    TimedOut,
    /// The network reported the peer's port unreachable (an ICMP error
    /// for a datagram we sent it, see [`UtpSocket::peer_unreachable`]).
    Unreachable,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::Reset => "connection reset by peer",
            CloseReason::TimedOut => "connection timed out",
            CloseReason::Unreachable => "connection refused",
        })
    }
}

/// Something the application should know about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A peer opened a connection to us; it is connected.
    Incoming(ConnectionId),
    /// Our [`UtpSocket::connect`] completed its handshake.
    Connected(ConnectionId),
    /// Data, or the end of the stream, can be read.
    Readable(ConnectionId),
    /// Send buffer space freed up after a `write` was cut short.
    Writable(ConnectionId),
    /// The connection ended abnormally.
    Closed(ConnectionId, CloseReason),
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// Errors of the per-connection calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// No such connection (never existed, or closed by the application).
    UnknownConnection,
    /// Nothing to read yet, or the send buffer is full.
    WouldBlock,
    /// The connection ended abnormally.
    Closed(CloseReason),
    /// Writing after the stream was shut down.
    NotWritable,
    /// No free connection id towards that peer, or too many connections.
    TooManyConnections,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownConnection => f.write_str("unknown uTP connection"),
            Error::WouldBlock => f.write_str("operation would block"),
            Error::Closed(r) => write!(f, "{r}"),
            Error::NotWritable => f.write_str("uTP stream is shut down"),
            Error::TooManyConnections => f.write_str("too many uTP connections"),
        }
    }
}

impl std::error::Error for Error {}

/// Counters, named after libtorrent's `utp.*` session statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UtpStats {
    pub packet_loss: u64,
    pub timeouts: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub fast_retransmit: u64,
    pub packet_resend: u64,
    pub samples_above_target: u64,
    pub samples_below_target: u64,
    pub payload_packets_in: u64,
    pub payload_packets_out: u64,
    pub invalid_packets_in: u64,
    pub redundant_packets_in: u64,
}

/// The uTP multiplexer of one UDP socket. See the [crate documentation](crate).
pub struct UtpSocket {
    cfg: UtpConfig,
    epoch: Instant,
    rng: u64,
    next_handle: u64,
    conns: HashMap<ConnectionId, Conn>,
    /// (peer, our receive id) -> connection
    by_key: HashMap<(SocketAddr, u16), ConnectionId>,
    dirty: Vec<ConnectionId>,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: UtpStats,
}

impl fmt::Debug for UtpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UtpSocket")
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl UtpSocket {
    /// A socket with no connections. `now` is the origin of the packet
    /// timestamps; `seed` seeds the generator of connection ids and initial
    /// sequence numbers (pass something unpredictable, e.g. from the OS).
    pub fn new(cfg: UtpConfig, now: Instant, seed: u64) -> UtpSocket {
        UtpSocket {
            cfg: cfg.sanitized(),
            epoch: now,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            next_handle: 1,
            conns: HashMap::new(),
            by_key: HashMap::new(),
            dirty: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: UtpStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UtpConfig {
        &self.cfg
    }

    /// Changes the configuration (settings changed at runtime). Buffer
    /// sizes apply to later writes and reads.
    pub fn set_config(&mut self, cfg: UtpConfig) {
        self.cfg = cfg.sanitized();
    }

    /// Counters since the socket was created.
    pub fn stats(&self) -> &UtpStats {
        &self.stats
    }

    /// Number of connections held, including those closing.
    pub fn num_connections(&self) -> usize {
        self.conns.len()
    }

    fn random(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn new_handle(&mut self) -> ConnectionId {
        let h = ConnectionId(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn mark_dirty(&mut self, id: ConnectionId) {
        if !self.dirty.contains(&id) {
            self.dirty.push(id);
        }
    }

    /// Opens a connection to `addr`; the SYN is queued at once.
    pub fn connect(&mut self, addr: SocketAddr, now: Instant) -> Result<ConnectionId, Error> {
        if self.conns.len() >= self.cfg.max_connections {
            return Err(Error::TooManyConnections);
        }
        let mut recv_id = None;
        for _ in 0..64 {
            let r = self.random() as u16;
            // our send id is r + 1; keep both free towards this peer
            if !self.by_key.contains_key(&(addr, r))
                && !self.by_key.contains_key(&(addr, r.wrapping_add(1)))
            {
                recv_id = Some(r);
                break;
            }
        }
        let recv_id = recv_id.ok_or(Error::TooManyConnections)?;
        let seq = self.random() as u16;
        let handle = self.new_handle();
        let mut ctx = Ctx {
            cfg: &self.cfg,
            epoch: self.epoch,
            out: &mut self.out,
            events: &mut self.events,
            stats: &mut self.stats,
        };
        let c = Conn::connect(handle, addr, recv_id, seq, now, &mut ctx);
        self.by_key.insert((addr, recv_id), handle);
        self.conns.insert(handle, c);
        Ok(handle)
    }

    /// Handles one received datagram. Returns false if it is not a valid
    /// uTP packet for us (malformed, or for no connection); such datagrams
    /// are dropped (a data packet for an unknown connection is answered
    /// with a RESET).
    pub fn handle_datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) -> bool {
        let p = match Packet::parse(data) {
            Ok(p) => p,
            Err(_) => {
                self.stats.invalid_packets_in += 1;
                return false;
            }
        };
        self.stats.packets_in += 1;
        let h = p.header;
        let mut found = self.by_key.get(&(from, h.connection_id)).copied();
        if found.is_none() && h.packet_type == PacketType::Reset {
            // a RESET may carry either of the connection's ids
            found = [
                h.connection_id.wrapping_add(1),
                h.connection_id.wrapping_sub(1),
            ]
            .iter()
            .find_map(|id| {
                let c = self.by_key.get(&(from, *id))?;
                let conn = self.conns.get(c)?;
                (conn.send_id == h.connection_id).then_some(*c)
            });
        }
        if h.packet_type == PacketType::Syn {
            // a SYN's id is the initiator's receive id; ours is one more
            found = self
                .by_key
                .get(&(from, h.connection_id.wrapping_add(1)))
                .copied();
            if found.is_none() {
                return self.accept(&p, from, now);
            }
        }
        let Some(id) = found else {
            match h.packet_type {
                PacketType::Data | PacketType::Fin => {
                    self.send_stray_reset(h.connection_id, from, now);
                }
                _ => {}
            }
            self.stats.invalid_packets_in += 1;
            return false;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return false;
        };
        let mut ctx = Ctx {
            cfg: &self.cfg,
            epoch: self.epoch,
            out: &mut self.out,
            events: &mut self.events,
            stats: &mut self.stats,
        };
        let ok = conn.on_packet(&p, now, &mut ctx);
        if !ok {
            self.stats.invalid_packets_in += 1;
        }
        self.after_change(id);
        ok
    }

    fn send_stray_reset(&mut self, conn_id: u16, to: SocketAddr, now: Instant) {
        let h = packet::Header {
            packet_type: PacketType::Reset,
            connection_id: conn_id,
            timestamp_us: now.saturating_duration_since(self.epoch).as_micros() as u64 as u32,
            timestamp_diff_us: 0,
            wnd_size: 0,
            seq_nr: self.random() as u16,
            ack_nr: 0,
        };
        let mut data = Vec::with_capacity(packet::HEADER_LEN);
        packet::encode(&mut data, &h, None, &[]);
        self.out.push_back(Transmit { to, data });
        self.stats.packets_out += 1;
    }

    fn accept(&mut self, p: &Packet, from: SocketAddr, now: Instant) -> bool {
        let recv_id = p.header.connection_id.wrapping_add(1);
        if !self.cfg.accept_incoming
            || self.conns.len() >= self.cfg.max_connections
            || self.by_key.contains_key(&(from, p.header.connection_id))
        {
            self.send_stray_reset(p.header.connection_id, from, now);
            return false;
        }
        let seq = self.random() as u16;
        let handle = self.new_handle();
        let mut ctx = Ctx {
            cfg: &self.cfg,
            epoch: self.epoch,
            out: &mut self.out,
            events: &mut self.events,
            stats: &mut self.stats,
        };
        let c = Conn::accept(handle, from, p, seq, now, &mut ctx);
        self.by_key.insert((from, recv_id), handle);
        self.conns.insert(handle, c);
        self.events.push_back(Event::Incoming(handle));
        self.mark_dirty(handle);
        true
    }

    /// Bookkeeping after a connection did something: forget it when done,
    /// unmap it when dead, schedule a flush.
    fn after_change(&mut self, id: ConnectionId) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        if matches!(c.state, State::Dead(_)) {
            let key = (c.addr, c.recv_id);
            if self.by_key.get(&key) == Some(&id) {
                self.by_key.remove(&key);
            }
        }
        if c.finished() {
            let key = (c.addr, c.recv_id);
            if self.by_key.get(&key) == Some(&id) {
                self.by_key.remove(&key);
            }
            self.conns.remove(&id);
            self.dirty.retain(|d| *d != id);
            return;
        }
        self.mark_dirty(id);
    }

    /// Runs timers: retransmissions, connection timeouts, keep-alives.
    /// Call it at [`next_timeout`](Self::next_timeout) (calling it more
    /// often is harmless).
    pub fn tick(&mut self, now: Instant) {
        let ids: Vec<ConnectionId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.next_timeout(&self.cfg).is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                let mut ctx = Ctx {
                    cfg: &self.cfg,
                    epoch: self.epoch,
                    out: &mut self.out,
                    events: &mut self.events,
                    stats: &mut self.stats,
                };
                c.on_timer(now, &mut ctx);
            }
            self.after_change(id);
        }
    }

    /// The earliest time [`tick`](Self::tick) has work to do, if any.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.next_timeout(&self.cfg))
            .min()
    }

    /// The next datagram to send, if any. Builds pending ACKs and data
    /// packets when the queue runs empty.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if self.out.is_empty() && !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for id in dirty {
                if let Some(c) = self.conns.get_mut(&id) {
                    let mut ctx = Ctx {
                        cfg: &self.cfg,
                        epoch: self.epoch,
                        out: &mut self.out,
                        events: &mut self.events,
                        stats: &mut self.stats,
                    };
                    c.flush(now, &mut ctx);
                    if c.finished() {
                        let key = (c.addr, c.recv_id);
                        if self.by_key.get(&key) == Some(&id) {
                            self.by_key.remove(&key);
                        }
                        self.conns.remove(&id);
                    }
                }
            }
        }
        self.out.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn live(&mut self, id: ConnectionId) -> Result<&mut Conn, Error> {
        match self.conns.get_mut(&id) {
            None => Err(Error::UnknownConnection),
            Some(c) if c.app_closed => Err(Error::UnknownConnection),
            Some(c) => match c.state {
                State::Dead(r) => Err(Error::Closed(r)),
                _ => Ok(c),
            },
        }
    }

    /// Queues bytes for sending; returns how many were accepted (the
    /// rest did not fit the send buffer: wait for [`Event::Writable`]).
    pub fn write(&mut self, id: ConnectionId, data: &[u8]) -> Result<usize, Error> {
        let cfg = self.cfg.clone();
        let c = self.live(id)?;
        if !c.writable() {
            return Err(Error::NotWritable);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = c.write(data, &cfg);
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        self.mark_dirty(id);
        Ok(n)
    }

    /// Reads received bytes in order. `Ok(0)` (with a non-empty `buf`)
    /// means the peer closed the stream; [`Error::WouldBlock`] that nothing
    /// has arrived yet.
    pub fn read(&mut self, id: ConnectionId, buf: &mut [u8]) -> Result<usize, Error> {
        let cfg = self.cfg.clone();
        let c = self.live(id)?;
        if !c.has_data() {
            return if c.at_eof() {
                Ok(0)
            } else {
                Err(Error::WouldBlock)
            };
        }
        let n = c.read(buf, &cfg);
        self.mark_dirty(id);
        Ok(n)
    }

    /// Like [`read`](Self::read) without a copy: up to `max` bytes as one
    /// chunk of a received packet. An empty result means end of stream.
    pub fn read_bytes(&mut self, id: ConnectionId, max: usize) -> Result<Bytes, Error> {
        let cfg = self.cfg.clone();
        let c = self.live(id)?;
        if !c.has_data() {
            return if c.at_eof() {
                Ok(Bytes::new())
            } else {
                Err(Error::WouldBlock)
            };
        }
        let b = c.read_bytes(max.max(1), &cfg);
        self.mark_dirty(id);
        Ok(b)
    }

    /// Bytes received and not yet read.
    pub fn readable_bytes(&self, id: ConnectionId) -> usize {
        self.conns
            .get(&id)
            .map_or(0, |c| c.info(&self.cfg).recv_buffered)
    }

    /// Bytes written to a connection that are not in a packet yet (they
    /// wait for the congestion or receive window). 0 for an unknown id.
    pub fn unsent_bytes(&self, id: ConnectionId) -> usize {
        self.conns.get(&id).map_or(0, |c| c.unsent())
    }

    /// The network says `addr` is unreachable (an ICMP port or host
    /// unreachable for a datagram we sent there, as the UDP socket's error
    /// queue reports it): every connection to that address ends at once
    /// with [`CloseReason::Unreachable`] instead of waiting for its
    /// retransmissions to time out. Returns how many connections ended.
    pub fn peer_unreachable(&mut self, addr: SocketAddr) -> usize {
        let ids: Vec<ConnectionId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.addr == addr && !matches!(c.state, State::Dead(_)))
            .map(|(id, _)| *id)
            .collect();
        for &id in &ids {
            if let Some(c) = self.conns.get_mut(&id) {
                let mut ctx = Ctx {
                    cfg: &self.cfg,
                    epoch: self.epoch,
                    out: &mut self.out,
                    events: &mut self.events,
                    stats: &mut self.stats,
                };
                c.die(CloseReason::Unreachable, &mut ctx);
            }
            self.after_change(id);
        }
        ids.len()
    }

    /// The peer's address.
    pub fn peer_addr(&self, id: ConnectionId) -> Option<SocketAddr> {
        self.conns.get(&id).map(|c| c.addr)
    }

    /// Transport state of a connection (window, RTT, buffers).
    pub fn info(&self, id: ConnectionId) -> Option<ConnectionInfo> {
        self.conns.get(&id).map(|c| c.info(&self.cfg))
    }

    /// The application is done with `id`: written data is still delivered,
    /// then the stream is closed with a FIN. Unread received data is
    /// discarded. Closing an unknown id does nothing.
    pub fn close(&mut self, id: ConnectionId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.app_closed {
            return;
        }
        if c.state == State::SynSent {
            // nothing delivered yet: just abort the attempt
            let mut ctx = Ctx {
                cfg: &self.cfg,
                epoch: self.epoch,
                out: &mut self.out,
                events: &mut self.events,
                stats: &mut self.stats,
            };
            c.app_closed = true;
            c.send_reset(now, &mut ctx);
            c.die(CloseReason::Reset, &mut ctx);
        } else {
            c.close(now);
        }
        self.after_change(id);
    }

    /// Half-close: data already written is delivered, then a FIN; further
    /// writes fail with [`Error::NotWritable`] while reading goes on until
    /// the peer closes too. The id stays valid until [`close`](Self::close).
    pub fn shutdown(&mut self, id: ConnectionId) -> Result<(), Error> {
        let c = self.live(id)?;
        c.shutdown = true;
        self.mark_dirty(id);
        Ok(())
    }

    /// Aborts the connection with a RESET and forgets it.
    pub fn reset(&mut self, id: ConnectionId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let mut ctx = Ctx {
            cfg: &self.cfg,
            epoch: self.epoch,
            out: &mut self.out,
            events: &mut self.events,
            stats: &mut self.stats,
        };
        c.app_closed = true;
        if !matches!(c.state, State::Dead(_)) {
            c.send_reset(now, &mut ctx);
            c.die(CloseReason::Reset, &mut ctx);
        }
        self.after_change(id);
    }
}
