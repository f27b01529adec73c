//! A deterministic simulated network between two uTP sockets: per-direction
//! propagation delay, jitter (hence reordering), loss, duplication and a
//! bandwidth-limited bottleneck queue, all driven by a seeded generator and
//! a virtual clock.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_utp::{ConnectionId, Event, Transmit, UtpConfig, UtpSocket};

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Deterministic test data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let x = r.next().to_le_bytes();
        let k = (len - v.len()).min(8);
        v.extend_from_slice(&x[..k]);
    }
    v
}

#[derive(Clone, Debug)]
pub struct Link {
    pub delay: Duration,
    pub jitter: Duration,
    pub loss: f64,
    pub duplicate: f64,
    /// Bytes per second through the bottleneck; 0 = unlimited.
    pub bandwidth: u64,
    /// Packets that would wait longer than this in the queue are dropped.
    pub max_queue: Duration,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            bandwidth: 0,
            max_queue: Duration::from_secs(1),
        }
    }
}

/// What a filter decides about a datagram before the link sees it.
pub type Filter = Box<dyn FnMut(usize, &[u8]) -> bool>;

/// A datagram on the wire: (arrival, order, to-index, data).
type Arrival = (Instant, u64, usize, Vec<u8>);

pub struct Sim {
    pub t0: Instant,
    pub now: Instant,
    pub rng: Rng,
    pub sockets: [UtpSocket; 2],
    pub addrs: [SocketAddr; 2],
    pub links: [Link; 2],
    /// Per direction: when the bottleneck is free again.
    busy_until: [Instant; 2],
    /// (arrival, order, to-index, data)
    in_flight: BinaryHeap<Reverse<Arrival>>,
    order: u64,
    /// Called for every datagram socket `i` sends; false drops it.
    pub filter: Option<Filter>,
    /// Queuing delay each data packet met at the bottleneck, per direction.
    pub queue_samples: [Vec<(Duration, Duration)>; 2],
    /// Every datagram sent, per direction (for inspection).
    pub sent: [Vec<Vec<u8>>; 2],
    pub keep_sent: bool,
    pub events: [Vec<Event>; 2],
}

impl Sim {
    pub fn new(seed: u64, cfg: [UtpConfig; 2], links: [Link; 2]) -> Sim {
        let t0 = Instant::now();
        let [c0, c1] = cfg;
        Sim {
            t0,
            now: t0,
            rng: Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1),
            sockets: [
                UtpSocket::new(c0, t0, seed ^ 0xa),
                UtpSocket::new(c1, t0, seed ^ 0xb),
            ],
            addrs: [
                "127.0.0.1:6881".parse().unwrap(),
                "127.0.0.2:6882".parse().unwrap(),
            ],
            links,
            busy_until: [t0, t0],
            in_flight: BinaryHeap::new(),
            order: 0,
            filter: None,
            queue_samples: [Vec::new(), Vec::new()],
            sent: [Vec::new(), Vec::new()],
            keep_sent: false,
            events: [Vec::new(), Vec::new()],
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Puts a datagram from socket `from` on the wire.
    pub fn send(&mut self, from: usize, t: Transmit) {
        let to = 1 - from;
        if t.to != self.addrs[to] {
            return; // addressed elsewhere (e.g. a RESET to an injector)
        }
        if self.keep_sent {
            self.sent[from].push(t.data.clone());
        }
        if let Some(f) = self.filter.as_mut() {
            if !f(from, &t.data) {
                return;
            }
        }
        let link = self.links[from].clone();
        if self.rng.unit() < link.loss {
            return;
        }
        let mut depart = self.now;
        if let Some(tx_ns) = (t.data.len() as u64 * 1_000_000_000).checked_div(link.bandwidth) {
            let start = self.busy_until[from].max(self.now);
            let queued = start - self.now;
            if queued > link.max_queue {
                return; // tail drop
            }
            if t.data.len() > 100 {
                self.queue_samples[from].push((self.elapsed(), queued));
            }
            let tx = Duration::from_nanos(tx_ns);
            self.busy_until[from] = start + tx;
            depart = start + tx;
        }
        let copies = if self.rng.unit() < link.duplicate {
            2
        } else {
            1
        };
        let mut data = Some(t.data);
        for i in 0..copies {
            let jitter = if link.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_nanos(self.rng.next() % link.jitter.as_nanos() as u64)
            };
            let at = depart + link.delay + jitter;
            self.order += 1;
            let d = if i + 1 == copies {
                data.take().unwrap_or_default()
            } else {
                data.clone().unwrap_or_default()
            };
            self.in_flight.push(Reverse((at, self.order, to, d)));
        }
    }

    /// Injects a raw datagram arriving at socket `to` from `from` now.
    pub fn inject(&mut self, to: usize, from: SocketAddr, data: &[u8]) -> bool {
        let now = self.now;
        self.sockets[to].handle_datagram(data, from, now)
    }

    /// Drains both sockets' transmit queues onto the wire and collects events.
    pub fn pump(&mut self) {
        for i in 0..2 {
            let now = self.now;
            while let Some(t) = self.sockets[i].poll_transmit(now) {
                self.send(i, t);
            }
            while let Some(e) = self.sockets[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Advances the clock to the next arrival or timer (at most `max`),
    /// delivers what arrived and runs the timers. Returns false when
    /// nothing at all is pending.
    pub fn step(&mut self, max: Duration) -> bool {
        self.pump();
        let mut next = self.now + max;
        let mut any = false;
        if let Some(Reverse((at, ..))) = self.in_flight.peek() {
            next = next.min(*at);
            any = true;
        }
        for s in &self.sockets {
            if let Some(t) = s.next_timeout() {
                next = next.min(t.max(self.now));
                any = true;
            }
        }
        self.now = next.max(self.now);
        while let Some(Reverse((at, ..))) = self.in_flight.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, to, data))) = self.in_flight.pop() else {
                break;
            };
            let from = self.addrs[1 - to];
            let now = self.now;
            self.sockets[to].handle_datagram(&data, from, now);
        }
        for s in &mut self.sockets {
            s.tick(self.now);
        }
        self.pump();
        any
    }

    /// Connects socket 0 to socket 1; returns (client id, server id).
    pub fn connect(&mut self) -> (ConnectionId, ConnectionId) {
        let addr = self.addrs[1];
        let now = self.now;
        let c = self.sockets[0].connect(addr, now).unwrap();
        let deadline = self.now + Duration::from_secs(60);
        let mut server = None;
        let mut connected = false;
        while self.now < deadline && !(connected && server.is_some()) {
            self.step(Duration::from_millis(100));
            for e in &self.events[0] {
                if *e == Event::Connected(c) {
                    connected = true;
                }
            }
            for e in &self.events[1] {
                if let Event::Incoming(s) = e {
                    server = Some(*s);
                }
            }
        }
        assert!(connected, "client never connected");
        (c, server.expect("server never saw the connection"))
    }
}

/// One side of a bulk exchange: writes `out` then shuts down, reads until
/// the peer's end of stream.
pub struct Pipe {
    pub id: ConnectionId,
    pub out: Vec<u8>,
    pub written: usize,
    pub received: Vec<u8>,
    pub eof: bool,
    pub shut: bool,
    /// Stop reading (to fill the receiver's buffer) until this time.
    pub read_paused_until: Option<Instant>,
}

impl Pipe {
    pub fn new(id: ConnectionId, out: Vec<u8>) -> Pipe {
        Pipe {
            id,
            out,
            written: 0,
            received: Vec::with_capacity(16 << 20),
            eof: false,
            shut: false,
            read_paused_until: None,
        }
    }

    pub fn service(&mut self, s: &mut UtpSocket, now: Instant) {
        while self.written < self.out.len() {
            match s.write(self.id, &self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(lt_utp::Error::WouldBlock) => break,
                Err(e) => panic!("write failed: {e}"),
            }
        }
        if self.written == self.out.len() && !self.shut {
            s.shutdown(self.id).unwrap();
            self.shut = true;
        }
        if self.read_paused_until.is_some_and(|t| now < t) {
            return;
        }
        let mut buf = [0u8; 32 * 1024];
        loop {
            match s.read(self.id, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(lt_utp::Error::WouldBlock) => break,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    pub fn done(&self) -> bool {
        self.eof && self.shut
    }
}

/// Runs a two-way exchange to completion (or `limit` of virtual time) and
/// returns both pipes.
pub fn exchange(sim: &mut Sim, a: Vec<u8>, b: Vec<u8>, limit: Duration) -> (Pipe, Pipe) {
    let (c, s) = sim.connect();
    let mut pa = Pipe::new(c, a);
    let mut pb = Pipe::new(s, b);
    let deadline = sim.now + limit;
    while sim.now < deadline && !(pa.done() && pb.done()) {
        let now = sim.now;
        pa.service(&mut sim.sockets[0], now);
        pb.service(&mut sim.sockets[1], now);
        sim.step(Duration::from_millis(50));
        let t = sim.elapsed();
        for ev in &mut sim.events {
            for e in ev.drain(..) {
                if let Event::Closed(_, r) = e {
                    panic!("connection closed: {r} at {t:?}");
                }
            }
        }
    }
    (pa, pb)
}
