//! One uTP connection: handshake, reliable in-order delivery, selective
//! acknowledgement, retransmission and LEDBAT congestion control.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

/// Bytes written by the application, waiting to be packetised. Kept as the
/// written chunks so that appending never moves what is already queued.
#[derive(Default)]
struct SendQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl SendQueue {
    fn len(&self) -> usize {
        self.len
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
    fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        self.chunks.push_back(Bytes::copy_from_slice(data));
    }
    /// The first `n` bytes (at most `len`), without a copy when they lie in
    /// one chunk.
    fn take(&mut self, n: usize) -> Bytes {
        let n = n.min(self.len);
        self.len = dec(self.len, n);
        match self.chunks.front_mut() {
            Some(f) if f.len() > n => return f.split_to(n),
            Some(f) if f.len() == n => return self.chunks.pop_front().unwrap_or_default(),
            _ => {}
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let Some(f) = self.chunks.front_mut() else {
                break;
            };
            let k = f.len().min(n - out.len());
            out.extend_from_slice(&f[..k]);
            f.advance(k);
            if f.is_empty() {
                self.chunks.pop_front();
            }
        }
        out.freeze()
    }
}

use crate::packet::{self, seq_diff, seq_less, Header, Packet, PacketType, MAX_SACK_BYTES};
use crate::{CloseReason, ConnectionId, Event, Transmit, UtpConfig, UtpStats};

/// Most packets kept in flight (sent, not yet cumulatively acknowledged).
const MAX_INFLIGHT_PACKETS: usize = 2048;
/// Longest a closed connection lingers trying to deliver its data and FIN.
const LINGER: Duration = Duration::from_secs(60);
/// After our FIN is acknowledged, how long a closed connection waits for
/// the peer's FIN (to acknowledge it) before it is forgotten.
const FIN_WAIT: Duration = Duration::from_secs(3);
/// Floor of the retransmission timeout, whatever `utp_min_timeout` says.
const MIN_RTO_US: u64 = 10_000;
/// Fast retransmit after this many duplicate (or selective) acks.
const DUP_ACK_LIMIT: u32 = 3;
/// Cap of the back-off exponent of the retransmission timer.
const MAX_BACKOFF_SHIFT: u32 = 6;
/// Length of one bucket of the base delay history.
const DELAY_BUCKET: Duration = Duration::from_secs(60);
/// Number of buckets: the base delay is the minimum of the last 10 minutes.
const DELAY_BUCKETS: usize = 10;

/// `a - b` for byte counters that can never go negative; saturating so a
/// bookkeeping slip can never turn into a panic or a wrapped counter.
fn dec(a: usize, b: usize) -> usize {
    debug_assert!(a >= b, "counter underflow: {a} - {b}");
    a.saturating_sub(b)
}

/// Shared state a connection needs while it handles something.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a UtpConfig,
    pub epoch: Instant,
    pub out: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<Event>,
    pub stats: &'a mut UtpStats,
}

impl Ctx<'_> {
    fn micros(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_micros() as u64 as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// SYN sent, waiting for the peer's first packet.
    SynSent,
    /// Handshake done (for an accepted connection: as soon as the SYN
    /// arrived).
    Connected,
    /// Torn down; nothing more is sent or received.
    Dead(CloseReason),
}

struct OutPacket {
    seq: u16,
    kind: PacketType,
    payload: Bytes,
    sent_at: Instant,
    transmissions: u32,
    /// Marked lost; waiting to be sent again. Not counted in flight.
    need_resend: bool,
    /// Already retransmitted because of duplicate or selective acks.
    fast_resent: bool,
    /// Acknowledged by a selective ACK. Not counted in flight.
    sacked: bool,
}

/// Minimum of one-way delay samples over the last ten minutes, compared on
/// the 32-bit microsecond circle.
struct DelayBase {
    buckets: [u32; DELAY_BUCKETS],
    filled: usize,
    bucket_start: Option<Instant>,
}

fn wrap_less(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) > 0
}

impl DelayBase {
    fn new() -> Self {
        DelayBase {
            buckets: [0; DELAY_BUCKETS],
            filled: 0,
            bucket_start: None,
        }
    }

    /// Records a sample; returns the queuing delay above the base.
    fn sample(&mut self, s: u32, now: Instant) -> u32 {
        match self.bucket_start {
            None => {
                self.bucket_start = Some(now);
                self.buckets[0] = s;
                self.filled = 1;
            }
            Some(start) => {
                if now.saturating_duration_since(start) >= DELAY_BUCKET {
                    self.buckets.rotate_right(1);
                    self.buckets[0] = s;
                    self.filled = (self.filled + 1).min(DELAY_BUCKETS);
                    self.bucket_start = Some(now);
                } else if wrap_less(s, self.buckets[0]) {
                    self.buckets[0] = s;
                }
            }
        }
        let mut base = self.buckets[0];
        for &b in &self.buckets[1..self.filled] {
            if wrap_less(b, base) {
                base = b;
            }
        }
        let d = s.wrapping_sub(base);
        if d > u32::MAX / 2 {
            0
        } else {
            d
        }
    }
}

/// A snapshot of a connection's transport state, for diagnostics and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// Congestion window, bytes.
    pub cwnd: usize,
    /// In slow start.
    pub slow_start: bool,
    /// Payload bytes sent and not yet acknowledged.
    pub bytes_in_flight: usize,
    /// Smoothed round-trip time, if measured.
    pub rtt: Option<Duration>,
    /// Current retransmission timeout (before back-off).
    pub rto: Duration,
    /// Last measured queuing delay above the base delay.
    pub queue_delay: Duration,
    /// Window the peer advertised, bytes.
    pub peer_window: u32,
    /// Bytes written and not yet acknowledged by the peer.
    pub send_buffered: usize,
    /// Bytes received and not yet read.
    pub recv_buffered: usize,
    /// Consecutive retransmission timeouts.
    pub timeouts: u32,
    /// The close reason code the peer sent (libtorrent's extension 3).
    pub peer_close_reason: Option<u16>,
}

pub(crate) struct Conn {
    pub handle: ConnectionId,
    pub addr: SocketAddr,
    pub recv_id: u16,
    pub send_id: u16,
    pub state: State,
    /// For accepted connections: the SYN's sequence number (to recognise
    /// a retransmitted SYN).
    pub syn_seq: Option<u16>,
    /// The application called `close` (or never will read again).
    pub app_closed: bool,
    /// The application shut down its sending side: FIN after the data.
    pub shutdown: bool,

    // ---- sending
    seq_nr: u16,
    acked: u16,
    inflight: VecDeque<OutPacket>,
    /// Written, not yet packetised: chunks as written.
    send_queue: SendQueue,
    send_buffered: usize,
    bytes_in_flight: usize,
    fin_seq: Option<u16>,
    fin_acked: bool,
    writable_wanted: bool,
    cwnd: i64,
    ssthresh: i64,
    slow_start: bool,
    loss_seq: u16,
    dup_acks: u32,
    peer_wnd: u32,
    srtt_us: Option<u32>,
    rttvar_us: u32,
    rto_deadline: Option<Instant>,
    num_timeouts: u32,
    probe_deadline: Option<Instant>,
    probe_due: bool,
    /// Some packet may have `need_resend` set.
    resend_pending: bool,
    delay_base: DelayBase,
    queue_delay_us: u32,
    last_send: Instant,
    linger_deadline: Option<Instant>,

    // ---- receiving
    ack_nr: u16,
    reply_micro: u32,
    /// Slot `i` holds the packet with sequence number `ack_nr + 1 + i`.
    reorder: VecDeque<Option<(Bytes, bool)>>,
    reorder_bytes: usize,
    recv_buf: VecDeque<Bytes>,
    recv_buffered: usize,
    eof_seq: Option<u16>,
    eof: bool,
    readable_notified: bool,
    ack_pending: bool,
    last_adv_wnd: u32,
    peer_close_reason: Option<u16>,
}

impl Conn {
    fn new(
        handle: ConnectionId,
        addr: SocketAddr,
        recv_id: u16,
        send_id: u16,
        seq_nr: u16,
        cfg: &UtpConfig,
        now: Instant,
    ) -> Conn {
        Conn {
            handle,
            addr,
            recv_id,
            send_id,
            state: State::SynSent,
            syn_seq: None,
            app_closed: false,
            shutdown: false,
            seq_nr,
            acked: seq_nr.wrapping_sub(1),
            inflight: VecDeque::new(),
            send_queue: SendQueue::default(),
            send_buffered: 0,
            bytes_in_flight: 0,
            fin_seq: None,
            fin_acked: false,
            writable_wanted: false,
            // one packet to start with, as libtorrent
            cwnd: (cfg.max_payload as i64) << 16,
            ssthresh: i64::MAX,
            slow_start: true,
            loss_seq: seq_nr.wrapping_sub(1),
            dup_acks: 0,
            peer_wnd: cfg.max_payload as u32,
            srtt_us: None,
            rttvar_us: 0,
            rto_deadline: None,
            num_timeouts: 0,
            probe_deadline: None,
            probe_due: false,
            resend_pending: false,
            delay_base: DelayBase::new(),
            queue_delay_us: 0,
            last_send: now,
            linger_deadline: None,
            ack_nr: 0,
            reply_micro: 0,
            reorder: VecDeque::new(),
            reorder_bytes: 0,
            recv_buf: VecDeque::new(),
            recv_buffered: 0,
            eof_seq: None,
            eof: false,
            readable_notified: false,
            ack_pending: false,
            last_adv_wnd: cfg.recv_buffer as u32,
            peer_close_reason: None,
        }
    }

    /// An outgoing connection; sends the SYN.
    pub fn connect(
        handle: ConnectionId,
        addr: SocketAddr,
        recv_id: u16,
        seq_nr: u16,
        now: Instant,
        ctx: &mut Ctx,
    ) -> Conn {
        let mut c = Conn::new(
            handle,
            addr,
            recv_id,
            recv_id.wrapping_add(1),
            seq_nr,
            ctx.cfg,
            now,
        );
        c.push_packet(PacketType::Syn, Bytes::new(), now, ctx);
        c
    }

    /// A connection accepted from a SYN; acknowledges it.
    pub fn accept(
        handle: ConnectionId,
        addr: SocketAddr,
        syn: &Packet,
        seq_nr: u16,
        now: Instant,
        ctx: &mut Ctx,
    ) -> Conn {
        let h = &syn.header;
        let mut c = Conn::new(
            handle,
            addr,
            h.connection_id.wrapping_add(1),
            h.connection_id,
            seq_nr,
            ctx.cfg,
            now,
        );
        c.state = State::Connected;
        c.syn_seq = Some(h.seq_nr);
        c.ack_nr = h.seq_nr;
        c.peer_wnd = h.wnd_size;
        c.reply_micro = ctx.micros(now).wrapping_sub(h.timestamp_us);
        c.ack_pending = true;
        c
    }

    // ------------------------------------------------------------ helpers

    fn window_bytes(&self) -> usize {
        (self.cwnd >> 16).max(0) as usize
    }

    fn adv_window(&self, cfg: &UtpConfig) -> u32 {
        cfg.recv_buffer
            .saturating_sub(self.recv_buffered + self.reorder_bytes)
            .min(u32::MAX as usize) as u32
    }

    fn rto(&self, cfg: &UtpConfig) -> Duration {
        let min = cfg.utp_min_timeout as u64 * 1000;
        let us = match self.srtt_us {
            Some(s) => (s as u64 + 2 * self.rttvar_us as u64).max(min),
            None => (cfg.utp_connect_timeout as u64 * 1000).max(min),
        };
        // whatever the settings say, never retransmit faster than this
        Duration::from_micros(us.max(MIN_RTO_US))
    }

    fn backed_off_timeout(&self, cfg: &UtpConfig) -> Duration {
        let base = if self.state == State::SynSent {
            Duration::from_millis(cfg.utp_connect_timeout as u64)
                .max(Duration::from_micros(MIN_RTO_US))
        } else {
            self.rto(cfg)
        };
        base * (1u32 << self.num_timeouts.min(MAX_BACKOFF_SHIFT))
    }

    fn min_cwnd(cfg: &UtpConfig) -> i64 {
        (cfg.max_payload as i64) << 16
    }

    fn has_unacked(&self) -> bool {
        self.inflight.iter().any(|p| !p.sacked)
    }

    /// Builds the selective ACK bitmask of the reorder buffer.
    fn sack_mask(&self) -> Option<([u8; MAX_SACK_BYTES], usize)> {
        if self.reorder.len() < 2 {
            return None;
        }
        let mut mask = [0u8; MAX_SACK_BYTES];
        let mut any = false;
        let mut highest = 0;
        // bit i: seq ack_nr + 2 + i, i.e. reorder slot i + 1
        for (i, slot) in self.reorder.iter().skip(1).enumerate() {
            if i >= MAX_SACK_BYTES * 8 {
                break;
            }
            if slot.is_some() {
                mask[i / 8] |= 1 << (i % 8);
                any = true;
                highest = i;
            }
        }
        if !any {
            return None;
        }
        let len = (highest / 8 + 1).div_ceil(4) * 4;
        Some((mask, len.min(MAX_SACK_BYTES)))
    }

    fn emit(&mut self, kind: PacketType, seq: u16, payload: &[u8], now: Instant, ctx: &mut Ctx) {
        let wnd = self.adv_window(ctx.cfg);
        let h = Header {
            packet_type: kind,
            connection_id: if kind == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            timestamp_us: ctx.micros(now),
            timestamp_diff_us: self.reply_micro,
            wnd_size: wnd,
            seq_nr: seq,
            ack_nr: if kind == PacketType::Syn {
                0
            } else {
                self.ack_nr
            },
        };
        let sack = if kind == PacketType::Syn {
            None
        } else {
            self.sack_mask()
        };
        let mut data = Vec::new();
        packet::encode(&mut data, &h, sack.as_ref().map(|(m, l)| &m[..*l]), payload);
        ctx.out.push_back(Transmit {
            to: self.addr,
            data,
        });
        ctx.stats.packets_out += 1;
        if !payload.is_empty() {
            ctx.stats.payload_packets_out += 1;
        }
        self.last_adv_wnd = wnd;
        self.ack_pending = false;
        self.last_send = now;
    }

    /// Sends a new sequenced packet (SYN, DATA or FIN) and keeps it for
    /// retransmission.
    fn push_packet(&mut self, kind: PacketType, payload: Bytes, now: Instant, ctx: &mut Ctx) {
        let seq = self.seq_nr;
        self.seq_nr = self.seq_nr.wrapping_add(1);
        self.emit(kind, seq, &payload, now, ctx);
        self.bytes_in_flight += payload.len();
        self.inflight.push_back(OutPacket {
            seq,
            kind,
            payload,
            sent_at: now,
            transmissions: 1,
            need_resend: false,
            fast_resent: false,
            sacked: false,
        });
        if self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.backed_off_timeout(ctx.cfg));
        }
    }

    fn rtt_sample(&mut self, sample: Duration) {
        let s = sample.as_micros().min(u32::MAX as u128 / 4) as u32;
        match self.srtt_us {
            None => {
                self.srtt_us = Some(s);
                self.rttvar_us = s / 2;
            }
            Some(srtt) => {
                let err = (srtt as i64 - s as i64).unsigned_abs() as u32;
                self.rttvar_us = (self.rttvar_us as u64 * 3 / 4 + err as u64 / 4) as u32;
                self.srtt_us = Some((srtt as u64 * 7 / 8 + s as u64 / 8) as u32);
            }
        }
    }

    fn on_loss(&mut self, seq: u16, ctx: &mut Ctx) {
        ctx.stats.packet_loss += 1;
        // one cut per window of data
        if seq_less(self.loss_seq, seq) {
            let cut = self.cwnd * ctx.cfg.utp_loss_multiplier.min(100) as i64 / 100;
            self.cwnd = cut.max(Self::min_cwnd(ctx.cfg));
            self.ssthresh = self.cwnd;
            self.slow_start = false;
            self.loss_seq = self.seq_nr.wrapping_sub(1);
        }
    }

    /// LEDBAT: grow or shrink the window by how far the measured queuing
    /// delay is from the target, scaled by the share of the window acked.
    fn ledbat(&mut self, acked_bytes: usize, delay_us: u32, ctx: &mut Ctx) {
        let cfg = ctx.cfg;
        let target = (cfg.utp_target_delay.max(1) as i64) * 1000;
        let delay = delay_us as i64;
        if delay > target {
            ctx.stats.samples_above_target += 1;
        } else {
            ctx.stats.samples_below_target += 1;
        }
        // only a sender that fills its window learns anything about it
        let saturated = self.bytes_in_flight + acked_bytes + cfg.max_payload > self.window_bytes();
        let window = self.window_bytes().max(acked_bytes).max(1) as i64;
        let window_factor = ((acked_bytes as i64) << 16) / window;
        // not clamped: far above the target the window shrinks fast
        let delay_factor = ((target - delay) << 16) / target;
        let linear = (window_factor.saturating_mul(delay_factor) >> 16)
            .saturating_mul(cfg.utp_gain_factor as i64);
        if delay >= target && self.slow_start {
            self.slow_start = false;
            self.ssthresh = self.cwnd / 2;
        }
        let gain = if !saturated {
            0
        } else if self.slow_start {
            // TCP-like slow start: grow by what was acked, up to ssthresh
            let exponential = (acked_bytes as i64) << 16;
            if self.cwnd + exponential > self.ssthresh {
                self.slow_start = false;
                linear
            } else {
                exponential.max(linear)
            }
        } else {
            linear
        };
        let max = (cfg.send_buffer.max(cfg.max_payload) as i64) << 16;
        self.cwnd = self
            .cwnd
            .saturating_add(gain)
            .clamp(Self::min_cwnd(cfg), max);
    }

    // ------------------------------------------------------------ incoming

    /// Handles a packet addressed to this connection. Returns false if it
    /// was dropped as invalid.
    pub fn on_packet(&mut self, p: &Packet, now: Instant, ctx: &mut Ctx) -> bool {
        let h = &p.header;
        if let State::Dead(_) = self.state {
            return false;
        }
        match h.packet_type {
            PacketType::Reset => {
                self.die(CloseReason::Reset, ctx);
                return true;
            }
            PacketType::Syn => {
                // a retransmitted SYN: our STATE was lost
                if self.syn_seq == Some(h.seq_nr) {
                    self.ack_pending = true;
                    return true;
                }
                return false;
            }
            _ => {}
        }
        if self.state == State::SynSent {
            // the first answer must acknowledge the SYN
            if h.ack_nr != self.seq_nr.wrapping_sub(1) {
                return false;
            }
            self.ack_nr = h.seq_nr.wrapping_sub(1);
            self.state = State::Connected;
            ctx.events.push_back(Event::Connected(self.handle));
        }
        // acks of packets we never sent: hostile or confused, drop
        if seq_less(self.seq_nr.wrapping_sub(1), h.ack_nr) {
            return false;
        }
        // data too far ahead to be buffered
        if matches!(h.packet_type, PacketType::Data | PacketType::Fin) {
            let d = seq_diff(h.seq_nr, self.ack_nr);
            if d > ctx.cfg.max_reorder_packets.min(0x7fff) as i16 {
                return false;
            }
        }
        if let Some(r) = p.close_reason {
            self.peer_close_reason = Some(r);
        }
        self.reply_micro = ctx.micros(now).wrapping_sub(h.timestamp_us);
        self.peer_wnd = h.wnd_size;
        if h.ack_nr == self.acked && (h.wnd_size as usize) < ctx.cfg.max_payload {
            // the peer is alive, just out of buffer space: unanswered
            // window probes are not timeouts
            self.num_timeouts = 0;
        }
        self.on_ack(p, now, ctx);
        match h.packet_type {
            PacketType::Data if !p.payload.is_empty() => {
                ctx.stats.payload_packets_in += 1;
                self.on_data(h.seq_nr, Bytes::copy_from_slice(p.payload), false, ctx)
            }
            PacketType::Fin => self.on_data(h.seq_nr, Bytes::new(), true, ctx),
            _ => {}
        }
        if self.peer_wnd as usize >= ctx.cfg.max_payload.min(self.send_queue.len()).max(1) {
            self.probe_deadline = None;
        }
        true
    }

    fn on_ack(&mut self, p: &Packet, now: Instant, ctx: &mut Ctx) {
        let h = &p.header;
        if seq_less(h.ack_nr, self.acked) {
            return; // stale, reordered ack
        }
        let mut acked_bytes = 0usize;
        let mut rtt: Option<Duration> = None;
        let progressed = h.ack_nr != self.acked;
        while seq_less(self.acked, h.ack_nr) {
            let Some(pkt) = self.inflight.pop_front() else {
                break;
            };
            self.acked = pkt.seq;
            if !pkt.sacked {
                if !pkt.need_resend {
                    self.bytes_in_flight = dec(self.bytes_in_flight, pkt.payload.len());
                }
                acked_bytes += pkt.payload.len();
                if pkt.transmissions == 1 {
                    rtt = Some(now.saturating_duration_since(pkt.sent_at));
                }
            }
            self.send_buffered = dec(self.send_buffered, pkt.payload.len());
            if Some(pkt.seq) == self.fin_seq {
                self.fin_acked = true;
                if self.app_closed && !self.eof {
                    // wait a little for the peer's FIN, to acknowledge it
                    let wait = now + FIN_WAIT;
                    self.linger_deadline = Some(self.linger_deadline.map_or(wait, |l| l.min(wait)));
                }
            }
        }
        if progressed {
            self.acked = h.ack_nr;
            self.dup_acks = 0;
            self.num_timeouts = 0;
        } else if h.packet_type == PacketType::State && self.has_unacked() {
            self.dup_acks += 1;
        }
        // selective acks: bit i is ack_nr + 2 + i
        let mut sacked_any = false;
        if let Some(mask) = p.sack {
            let base = self.acked.wrapping_add(1);
            let first = h.ack_nr.wrapping_add(2);
            let offset = seq_diff(first, base);
            if offset >= 0 {
                let offset = offset as usize;
                'bits: for (byte_i, byte) in mask.iter().enumerate() {
                    for bit in 0..8 {
                        let idx = offset + byte_i * 8 + bit;
                        if idx >= self.inflight.len() {
                            break 'bits;
                        }
                        if byte & (1 << bit) == 0 {
                            continue;
                        }
                        let pkt = &mut self.inflight[idx];
                        if pkt.sacked {
                            continue;
                        }
                        pkt.sacked = true;
                        sacked_any = true;
                        if !pkt.need_resend {
                            self.bytes_in_flight = dec(self.bytes_in_flight, pkt.payload.len());
                        }
                        acked_bytes += pkt.payload.len();
                        if pkt.transmissions == 1 {
                            rtt = Some(now.saturating_duration_since(pkt.sent_at));
                        }
                    }
                }
            }
        }
        if let Some(r) = rtt {
            self.rtt_sample(r);
        }
        // loss detection: fast retransmit after three duplicate acks, or
        // for any hole with three selectively acked packets after it
        let mut lost: Vec<usize> = Vec::new();
        if self.dup_acks >= DUP_ACK_LIMIT {
            if let Some(first) = self.inflight.front() {
                if !first.sacked && !first.fast_resent && !first.need_resend {
                    lost.push(0);
                }
            }
        }
        if sacked_any {
            let mut after = 0;
            for (i, pkt) in self.inflight.iter().enumerate().rev() {
                if pkt.sacked {
                    after += 1;
                } else if after >= DUP_ACK_LIMIT
                    && !pkt.fast_resent
                    && !pkt.need_resend
                    && !lost.contains(&i)
                {
                    lost.push(i);
                }
            }
        }
        for i in lost {
            let Some(pkt) = self.inflight.get_mut(i) else {
                continue;
            };
            pkt.need_resend = true;
            self.resend_pending = true;
            pkt.fast_resent = true;
            self.bytes_in_flight = dec(self.bytes_in_flight, pkt.payload.len());
            let seq = pkt.seq;
            ctx.stats.fast_retransmit += 1;
            self.on_loss(seq, ctx);
        }
        if acked_bytes > 0 && h.timestamp_diff_us != 0 {
            let d = self.delay_base.sample(h.timestamp_diff_us, now);
            self.queue_delay_us = d;
            self.ledbat(acked_bytes, d, ctx);
        }
        if progressed || sacked_any {
            self.rto_deadline = if !self.inflight.is_empty() {
                Some(now + self.backed_off_timeout(ctx.cfg))
            } else {
                None
            };
        }
        if self.writable_wanted
            && !self.app_closed
            && ctx.cfg.send_buffer.saturating_sub(self.send_buffered) >= ctx.cfg.send_buffer / 4
        {
            self.writable_wanted = false;
            ctx.events.push_back(Event::Writable(self.handle));
        }
    }

    fn on_data(&mut self, seq: u16, payload: Bytes, fin: bool, ctx: &mut Ctx) {
        // anything that carries a sequence number is acknowledged, even
        // when it is a duplicate (our earlier ack may have been lost)
        self.ack_pending = true;
        let d = seq_diff(seq, self.ack_nr);
        if d <= 0 {
            ctx.stats.redundant_packets_in += 1;
            return;
        }
        if let Some(e) = self.eof_seq {
            if seq_less(e, seq) {
                return;
            }
        }
        let idx = (d - 1) as usize;
        if idx >= ctx.cfg.max_reorder_packets.max(1) {
            return;
        }
        // The next packet in order only needs room next to what waits to be
        // read (out-of-order packets must never crowd out the one that fills
        // the hole), and is always taken into an empty buffer however large
        // it is. Out-of-order packets need room next to everything buffered.
        // (Once the application closed, nothing waits to be read: in-order
        // data is accepted and discarded so the peer can finish.)
        let used = if idx == 0 {
            self.recv_buffered
        } else {
            self.recv_buffered + self.reorder_bytes
        };
        let fits = used + payload.len() <= ctx.cfg.recv_buffer;
        let first_into_empty = idx == 0 && self.recv_buffered == 0;
        if !(fits || first_into_empty) {
            return; // no room: the peer retransmits once we have space
        }
        if fin {
            self.eof_seq = Some(seq);
            // drop anything buffered beyond the end
            while self.reorder.len() > idx + 1 {
                if let Some(Some((b, _))) = self.reorder.pop_back() {
                    self.reorder_bytes = dec(self.reorder_bytes, b.len());
                }
            }
        }
        if self.reorder.len() <= idx {
            self.reorder.resize(idx + 1, None);
        }
        if self.reorder[idx].is_some() {
            ctx.stats.redundant_packets_in += 1;
            return;
        }
        self.reorder_bytes += payload.len();
        self.reorder[idx] = Some((payload, fin));
        let mut delivered = false;
        while let Some(Some(_)) = self.reorder.front() {
            let Some(Some((b, is_fin))) = self.reorder.pop_front() else {
                break;
            };
            self.ack_nr = self.ack_nr.wrapping_add(1);
            self.reorder_bytes = dec(self.reorder_bytes, b.len());
            if is_fin {
                self.eof = true;
                delivered = true;
                self.reorder.clear();
                self.reorder_bytes = 0;
                break;
            }
            if !b.is_empty() && !self.app_closed {
                self.recv_buffered += b.len();
                self.recv_buf.push_back(b);
                delivered = true;
            }
        }
        if delivered && !self.readable_notified && !self.app_closed {
            self.readable_notified = true;
            ctx.events.push_back(Event::Readable(self.handle));
        }
    }

    pub fn die(&mut self, reason: CloseReason, ctx: &mut Ctx) {
        if let State::Dead(_) = self.state {
            return;
        }
        self.state = State::Dead(reason);
        self.inflight.clear();
        self.send_queue.clear();
        self.recv_buf.clear();
        self.reorder.clear();
        self.recv_buffered = 0;
        self.reorder_bytes = 0;
        self.bytes_in_flight = 0;
        self.send_buffered = 0;
        if !self.app_closed {
            ctx.events.push_back(Event::Closed(self.handle, reason));
        }
    }

    /// Sends a RESET to the peer.
    pub fn send_reset(&mut self, now: Instant, ctx: &mut Ctx) {
        let seq = self.seq_nr;
        self.emit(PacketType::Reset, seq, &[], now, ctx);
    }

    // ------------------------------------------------------------ app side

    pub fn write(&mut self, data: &[u8], cfg: &UtpConfig) -> usize {
        let room = cfg.send_buffer.saturating_sub(self.send_buffered);
        let n = room.min(data.len());
        if n < data.len() {
            self.writable_wanted = true;
        }
        self.send_queue.push(&data[..n]);
        self.send_buffered += n;
        n
    }

    pub fn read(&mut self, buf: &mut [u8], cfg: &UtpConfig) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(front) = self.recv_buf.front_mut() else {
                break;
            };
            let k = front.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&front[..k]);
            front.advance(k);
            if front.is_empty() {
                self.recv_buf.pop_front();
            }
            n += k;
        }
        self.after_read(n, cfg);
        n
    }

    pub fn read_bytes(&mut self, max: usize, cfg: &UtpConfig) -> Bytes {
        let Some(front) = self.recv_buf.front_mut() else {
            return Bytes::new();
        };
        let b = if front.len() <= max {
            self.recv_buf.pop_front().unwrap_or_default()
        } else {
            front.split_to(max)
        };
        self.after_read(b.len(), cfg);
        b
    }

    fn after_read(&mut self, n: usize, cfg: &UtpConfig) {
        self.recv_buffered = dec(self.recv_buffered, n);
        if self.recv_buf.is_empty() {
            self.readable_notified = false;
        }
        // tell a sender we held back that there is room again
        let wnd = self.adv_window(cfg) as usize;
        let last = self.last_adv_wnd as usize;
        if wnd >= last + cfg.recv_buffer / 4
            || (last < 2 * cfg.max_payload && wnd >= 2 * cfg.max_payload)
        {
            self.ack_pending = true;
        }
    }

    /// Written bytes not yet packetised.
    pub fn unsent(&self) -> usize {
        self.send_queue.len()
    }

    pub fn has_data(&self) -> bool {
        !self.recv_buf.is_empty()
    }

    pub fn at_eof(&self) -> bool {
        self.eof && self.recv_buf.is_empty()
    }

    pub fn writable(&self) -> bool {
        self.fin_seq.is_none() && !self.app_closed && !self.shutdown
    }

    /// Graceful close: queued data is still delivered, then a FIN.
    pub fn close(&mut self, now: Instant) {
        self.app_closed = true;
        self.linger_deadline = Some(now + LINGER);
        self.recv_buf.clear();
        self.recv_buffered = 0;
    }

    /// The connection has nothing left to do and can be forgotten.
    pub fn finished(&self) -> bool {
        self.app_closed
            && (matches!(self.state, State::Dead(_))
                || (self.fin_acked && self.eof && !self.ack_pending))
    }

    pub fn info(&self, cfg: &UtpConfig) -> ConnectionInfo {
        ConnectionInfo {
            peer: self.addr,
            cwnd: self.window_bytes(),
            slow_start: self.slow_start,
            bytes_in_flight: self.bytes_in_flight,
            rtt: self.srtt_us.map(|s| Duration::from_micros(s as u64)),
            rto: self.rto(cfg),
            queue_delay: Duration::from_micros(self.queue_delay_us as u64),
            peer_window: self.peer_wnd,
            send_buffered: self.send_buffered,
            recv_buffered: self.recv_buffered,
            timeouts: self.num_timeouts,
            peer_close_reason: self.peer_close_reason,
        }
    }

    // ------------------------------------------------------------ output

    /// Sends whatever is due: retransmissions, new data (subject to the
    /// congestion and receive windows and to Nagle), the FIN, an ACK.
    pub fn flush(&mut self, now: Instant, ctx: &mut Ctx) {
        if self.state != State::Connected {
            return;
        }
        let cfg = ctx.cfg;
        let window = self.window_bytes().min(self.peer_wnd as usize);
        // retransmissions first
        let mut stopped = false;
        for i in 0..if self.resend_pending {
            self.inflight.len()
        } else {
            0
        } {
            let (len, need) = match self.inflight.get(i) {
                Some(p) => (p.payload.len(), p.need_resend && !p.sacked),
                None => break,
            };
            if !need {
                continue;
            }
            if self.bytes_in_flight > 0 && self.bytes_in_flight + len > window {
                stopped = true;
                break;
            }
            let Some(p) = self.inflight.get_mut(i) else {
                break;
            };
            p.need_resend = false;
            p.transmissions += 1;
            p.sent_at = now;
            let (kind, seq, payload) = (p.kind, p.seq, p.payload.clone());
            self.bytes_in_flight += len;
            ctx.stats.packet_resend += 1;
            self.emit(kind, seq, &payload, now, ctx);
            if self.rto_deadline.is_none() {
                self.rto_deadline = Some(now + self.backed_off_timeout(cfg));
            }
        }
        if !stopped {
            self.resend_pending = false;
        }
        // new data
        while !self.send_queue.is_empty() && self.fin_seq.is_none() {
            if self.inflight.len() >= MAX_INFLIGHT_PACKETS {
                break;
            }
            let mut n = self.send_queue.len().min(cfg.max_payload);
            if n < cfg.max_payload && self.bytes_in_flight > 0 && !self.app_closed && !self.shutdown
            {
                break; // Nagle: wait for the outstanding data to be acked
            }
            if self.bytes_in_flight > 0 {
                if self.bytes_in_flight + n > window {
                    break;
                }
            } else if (self.peer_wnd as usize) < n {
                // the peer's buffer is (nearly) full
                if self.peer_wnd > 0 {
                    n = self.peer_wnd as usize;
                } else if self.probe_due {
                    n = 1;
                } else {
                    if self.probe_deadline.is_none() {
                        self.probe_deadline = Some(now + self.rto(cfg));
                    }
                    break;
                }
            }
            self.probe_due = false;
            let payload = self.send_queue.take(n);
            self.push_packet(PacketType::Data, payload, now, ctx);
        }
        if (self.app_closed || self.shutdown)
            && self.send_queue.is_empty()
            && self.fin_seq.is_none()
        {
            self.fin_seq = Some(self.seq_nr);
            self.num_timeouts = 0;
            self.push_packet(PacketType::Fin, Bytes::new(), now, ctx);
        }
        if self.ack_pending {
            let seq = self.seq_nr;
            self.emit(PacketType::State, seq, &[], now, ctx);
        }
    }

    /// The earliest time `on_timer` has something to do.
    pub fn next_timeout(&self, cfg: &UtpConfig) -> Option<Instant> {
        if let State::Dead(_) = self.state {
            return None;
        }
        let mut t = self.rto_deadline;
        for d in [self.probe_deadline, self.linger_deadline]
            .into_iter()
            .flatten()
        {
            t = Some(t.map_or(d, |x| x.min(d)));
        }
        if self.state == State::Connected {
            if let Some(k) = self.last_send.checked_add(cfg.keepalive_interval) {
                t = Some(t.map_or(k, |x| x.min(k)));
            }
        }
        t
    }

    /// Timers: retransmission timeout, zero-window probe, keep-alive,
    /// linger limit. Returns true if there may be something to flush.
    pub fn on_timer(&mut self, now: Instant, ctx: &mut Ctx) -> bool {
        if let State::Dead(_) = self.state {
            return false;
        }
        let cfg = ctx.cfg;
        if let Some(l) = self.linger_deadline {
            if now >= l {
                if !self.fin_acked {
                    self.send_reset(now, ctx);
                }
                self.die(CloseReason::TimedOut, ctx);
                return false;
            }
        }
        let mut dirty = false;
        if let Some(d) = self.rto_deadline {
            if now >= d {
                dirty = true;
                self.num_timeouts += 1;
                ctx.stats.timeouts += 1;
                let limit = if self.state == State::SynSent {
                    cfg.utp_syn_resends
                } else if self.fin_seq.is_some() {
                    cfg.utp_fin_resends
                } else {
                    cfg.utp_num_resends
                };
                if self.num_timeouts > limit || self.inflight.is_empty() {
                    if !self.inflight.is_empty() {
                        self.die(CloseReason::TimedOut, ctx);
                        return false;
                    }
                    self.rto_deadline = None;
                } else if self.state == State::SynSent {
                    if let Some(p) = self.inflight.front_mut() {
                        p.transmissions += 1;
                        p.sent_at = now;
                        let seq = p.seq;
                        ctx.stats.packet_resend += 1;
                        self.emit(PacketType::Syn, seq, &[], now, ctx);
                    }
                    self.rto_deadline = Some(now + self.backed_off_timeout(cfg));
                } else {
                    // back to one packet, everything outstanding is lost
                    self.ssthresh = (self.cwnd / 2).max(Self::min_cwnd(cfg));
                    self.cwnd = Self::min_cwnd(cfg);
                    self.slow_start = true;
                    self.loss_seq = self.seq_nr.wrapping_sub(1);
                    // selective acks are forgotten too: a peer may renege
                    for p in self.inflight.iter_mut() {
                        if !p.need_resend {
                            if !p.sacked {
                                self.bytes_in_flight = dec(self.bytes_in_flight, p.payload.len());
                            }
                            p.need_resend = true;
                            self.resend_pending = true;
                        }
                        p.sacked = false;
                        p.fast_resent = false;
                    }
                    self.rto_deadline = Some(now + self.backed_off_timeout(cfg));
                }
            }
        }
        if let Some(d) = self.probe_deadline {
            if now >= d {
                self.probe_deadline = None;
                self.probe_due = true;
                dirty = true;
            }
        }
        if self.state == State::Connected
            && self
                .last_send
                .checked_add(cfg.keepalive_interval)
                .is_some_and(|k| now >= k)
        {
            self.ack_pending = true;
            dirty = true;
        }
        dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ctx<R>(cfg: &UtpConfig, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let mut out = VecDeque::new();
        let mut events = VecDeque::new();
        let mut stats = UtpStats::default();
        let mut ctx = Ctx {
            cfg,
            epoch: Instant::now(),
            out: &mut out,
            events: &mut events,
            stats: &mut stats,
        };
        f(&mut ctx)
    }

    fn conn(cfg: &UtpConfig) -> Conn {
        let mut c = Conn::new(
            ConnectionId(1),
            "127.0.0.1:1".parse().unwrap(),
            10,
            11,
            100,
            cfg,
            Instant::now(),
        );
        c.state = State::Connected;
        c.slow_start = false;
        c.cwnd = 100_000 << 16;
        c
    }

    #[test]
    fn base_delay_is_the_minimum_across_the_u32_wrap() {
        let t = Instant::now();
        let mut b = DelayBase::new();
        assert_eq!(b.sample(u32::MAX - 1000, t), 0);
        // 2000 us later on the wrapped clock: 2000 above the base
        assert_eq!(b.sample(999, t), 2000);
        // a smaller sample becomes the base
        assert_eq!(b.sample(u32::MAX - 5000, t), 0);
        assert_eq!(b.sample(u32::MAX - 4000, t), 1000);
        // old minima age out after ten one-minute buckets
        let later = t + DELAY_BUCKET * 11;
        let mut tt = t;
        for i in 0..11 {
            tt += DELAY_BUCKET;
            b.sample(50_000 + i, tt);
        }
        assert_eq!(b.sample(60_000, later), 10_000 - 1);
    }

    #[test]
    fn ledbat_grows_below_target_and_shrinks_above_it() {
        let cfg = UtpConfig::default();
        with_ctx(&cfg, |ctx| {
            // saturated: the whole window is in flight
            let mut c = conn(&cfg);
            c.bytes_in_flight = 100_000;
            let before = c.cwnd;
            c.ledbat(10_000, 0, ctx);
            // a tenth of the window acked at zero delay: gain/10
            let grew = (c.cwnd - before) >> 16;
            assert!((299..=300).contains(&grew), "{grew}"); // 16-bit fixed point

            let mut c = conn(&cfg);
            c.bytes_in_flight = 100_000;
            let before = c.cwnd;
            c.ledbat(100_000, 300_000, ctx); // three times the target
            let shrank = (before - c.cwnd) >> 16;
            assert!((5999..=6000).contains(&shrank), "{shrank}");

            // application-limited: no change either way
            let mut c = conn(&cfg);
            c.bytes_in_flight = 0;
            let before = c.cwnd;
            c.ledbat(1000, 0, ctx);
            c.ledbat(1000, 1_000_000, ctx);
            assert_eq!(c.cwnd, before);

            // never below one packet
            let mut c = conn(&cfg);
            c.cwnd = Conn::min_cwnd(&cfg);
            c.bytes_in_flight = 1400;
            c.ledbat(1400, u32::MAX / 2, ctx);
            assert_eq!(c.cwnd, Conn::min_cwnd(&cfg));
            assert!(ctx.stats.samples_above_target >= 2);
        });
    }

    #[test]
    fn slow_start_doubles_until_the_delay_reaches_the_target() {
        let cfg = UtpConfig::default();
        with_ctx(&cfg, |ctx| {
            let mut c = conn(&cfg);
            c.slow_start = true;
            c.cwnd = 10_000 << 16;
            c.bytes_in_flight = 10_000;
            c.ledbat(10_000, 1000, ctx);
            assert_eq!(c.cwnd >> 16, 20_000);
            assert!(c.slow_start);
            c.bytes_in_flight = 20_000;
            c.ledbat(5_000, 150_000, ctx);
            assert!(!c.slow_start);
            assert_eq!(c.ssthresh >> 16, 10_000);
            assert!(c.cwnd >> 16 < 20_000);
        });
    }

    #[test]
    fn loss_cuts_the_window_once_per_window() {
        let cfg = UtpConfig::default();
        with_ctx(&cfg, |ctx| {
            let mut c = conn(&cfg);
            c.seq_nr = 200;
            c.loss_seq = 99;
            c.on_loss(150, ctx);
            assert_eq!(c.cwnd >> 16, 50_000);
            // another loss from the same window: no second cut
            c.on_loss(160, ctx);
            assert_eq!(c.cwnd >> 16, 50_000);
            // a loss of data sent after the cut
            c.on_loss(201, ctx);
            assert_eq!(c.cwnd >> 16, 25_000);
            assert_eq!(ctx.stats.packet_loss, 3);
        });
    }
}
