//! [`PeerConnection`]: the per-peer protocol state machine.
//!
//! It owns the receive buffer, decodes the handshake and then messages,
//! keeps the choke/interest state, the peer's pieces, the requests in both
//! directions and the timers, and queues the bytes to send. It performs no
//! I/O and reads no clock: the driver feeds it bytes and `Instant`s and
//! drains [`Event`]s and outgoing bytes. It does not choose what to
//! request: the driver (with a piece picker) calls [`PeerConnection::request`].

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use lt_core::{InfoHash, PeerId, ProtocolVersion, Sha1Hash};

use crate::extension::{names, ExtHandshake, ExtensionMessage};
use crate::fast::allowed_fast_set;
use crate::handshake::{
    match_info_hash, Handshake, HandshakeDecoder, HandshakeProgress, Reserved, HANDSHAKE_LEN,
};
use crate::message::{
    piece_header, BlockRequest, HashRequest, Message, MessageDecoder, DEFAULT_MAX_MESSAGE_LEN,
};
use crate::{Bitfield, Error};

/// Spare capacity [`PeerConnection::recv_buffer`] guarantees for a read.
pub const MIN_READ_SPACE: usize = 16 * 1024;

/// What to do with a message id this crate does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownMessagePolicy {
    /// Skip it (its bytes are counted as protocol overhead).
    Ignore,
    /// Disconnect with [`Error::UnknownMessage`] (what libtorrent does).
    Disconnect,
}

/// Settings of a connection. [`PeerConfig::new`] gives libtorrent's defaults.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The reserved bits we send (which extensions we offer).
    pub reserved: Reserved,
    /// The largest length prefix accepted; anything above disconnects.
    pub max_message_len: u32,
    /// How many requests from the peer we queue (`reqq` we advertise).
    /// Beyond it requests are rejected (fast extension) or dropped.
    pub max_peer_requests: usize,
    /// The largest block a peer may request.
    pub max_request_len: u32,
    /// How long a request we sent may stay unanswered before
    /// [`Event::RequestTimedOut`].
    pub request_timeout: Duration,
    /// Send a keep-alive when nothing was sent for this long.
    pub keepalive_interval: Duration,
    /// Disconnect when nothing was received for this long.
    pub inactivity_timeout: Duration,
    /// Disconnect when the handshake has not completed after this long.
    pub handshake_timeout: Duration,
    /// How many allowed-fast pieces we grant a peer (BEP 6), 0 for none.
    pub allowed_fast_set_size: u32,
    /// Unknown message ids (and extended messages under an id we did not
    /// register).
    pub unknown_messages: UnknownMessagePolicy,
    /// Invalid requests (outside the torrent, empty, too long) tolerated
    /// before disconnecting; each is rejected or ignored.
    pub max_invalid_requests: u32,
    /// Our extension handshake (`m` maps the extension names we understand
    /// to the ids we want to receive them under). Sent when both sides set
    /// the extension-protocol bit. `reqq` is filled from `max_peer_requests`
    /// when left `None`.
    pub extensions: ExtHandshake,
}

impl PeerConfig {
    /// Defaults: standard reserved bits, 1 MiB messages, 2000 queued peer
    /// requests, 16 KiB max request, 60 s request timeout, 60 s keep-alive,
    /// 120 s inactivity, 10 s handshake timeout, 5 allowed-fast pieces,
    /// unknown messages disconnect, 300 invalid requests tolerated, and no
    /// extensions registered.
    pub fn new(peer_id: PeerId) -> Self {
        PeerConfig {
            peer_id,
            reserved: Reserved::standard(),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_peer_requests: 2000,
            max_request_len: 16 * 1024,
            request_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(60),
            inactivity_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(10),
            allowed_fast_set_size: 5,
            unknown_messages: UnknownMessagePolicy::Disconnect,
            max_invalid_requests: 300,
            extensions: ExtHandshake::default(),
        }
    }
}

/// Piece sizes of a torrent, once its metadata is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceGeometry {
    pub num_pieces: u32,
    pub piece_length: u32,
    pub total_size: u64,
}

impl PieceGeometry {
    /// Builds the geometry from the piece length and total size.
    /// `None` when the piece length is 0 or the piece count overflows u32.
    pub fn new(piece_length: u32, total_size: u64) -> Option<Self> {
        if piece_length == 0 {
            return None;
        }
        let n = total_size.div_ceil(piece_length as u64);
        Some(PieceGeometry {
            num_pieces: u32::try_from(n).ok()?,
            piece_length,
            total_size,
        })
    }

    /// Size of piece `i` (the last one may be short); 0 when out of range.
    pub fn piece_size(&self, i: u32) -> u32 {
        if i >= self.num_pieces {
            return 0;
        }
        let start = i as u64 * self.piece_length as u64;
        self.total_size
            .saturating_sub(start)
            .min(self.piece_length as u64) as u32
    }

    /// Whether a block lies inside its piece and is not empty.
    pub fn block_in_range(&self, r: &BlockRequest) -> bool {
        r.length > 0
            && r.piece < self.num_pieces
            && r.offset as u64 + r.length as u64 <= self.piece_size(r.piece) as u64
    }
}

/// The torrent a connection belongs to.
#[derive(Clone, Debug)]
pub struct TorrentInfo {
    /// Its info-hashes (v1, v2 or both).
    pub info_hash: InfoHash,
    /// Piece sizes, `None` while the metadata is unknown (magnet links).
    pub geometry: Option<PieceGeometry>,
    /// The pieces we have, sent as bitfield / have-all / have-none once
    /// the handshake completes. Ignored (and may be empty) without geometry.
    pub our_pieces: Bitfield,
}

/// Byte counters, split into payload (block data) and protocol (all else:
/// handshake, message headers, control messages). Bytes of an MSE
/// handshake are not seen by the connection and not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub payload_down: u64,
    pub protocol_down: u64,
    pub payload_up: u64,
    pub protocol_up: u64,
}

/// Something that happened on the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// (Incoming connections) the peer named this info-hash. Call
    /// [`PeerConnection::accept`] with the matching torrent, or
    /// [`PeerConnection::close`]. Nothing more is read until then.
    IncomingHandshake {
        info_hash: Sha1Hash,
        reserved: Reserved,
    },
    /// The handshake completed. `extensions` holds the bits both sides set.
    Connected {
        peer_id: PeerId,
        extensions: Reserved,
        version: ProtocolVersion,
    },
    Choked,
    Unchoked,
    Interested,
    NotInterested,
    /// The peer has a new piece.
    Have(u32),
    /// The peer sent its bitfield (read it with [`PeerConnection::peer_pieces`]).
    Bitfield,
    HaveAll,
    HaveNone,
    /// `lt_donthave`: the peer lost a piece.
    DontHave(u32),
    /// A block we requested arrived. `data` is a view of the receive buffer.
    Block {
        piece: u32,
        offset: u32,
        data: Bytes,
    },
    /// A block we had not requested (or had cancelled) arrived; it is dropped.
    UnrequestedBlock {
        piece: u32,
        offset: u32,
        len: u32,
    },
    /// The peer wants a block. Answer with [`PeerConnection::send_block`]
    /// or [`PeerConnection::reject_request`].
    Request(BlockRequest),
    /// The peer asked for a block outside the torrent or of a piece we do
    /// not have; it was refused (`we_have`: the piece is ours, the range
    /// is what was wrong).
    InvalidRequest {
        request: BlockRequest,
        we_have: bool,
    },
    /// The peer withdrew a request we had reported.
    Cancel(BlockRequest),
    /// A request we sent will not be answered: an explicit `reject`, or (no
    /// fast extension) the peer choked us.
    Rejected(BlockRequest),
    /// A request we sent has been outstanding longer than the request
    /// timeout. It stays outstanding; the block is still accepted if it comes.
    RequestTimedOut(BlockRequest),
    /// BEP 6: the peer lets us request this piece while choked.
    AllowedFast(u32),
    /// BEP 6: the peer suggests this piece.
    Suggest(u32),
    /// BEP 5: the peer's DHT port.
    DhtPort(u16),
    /// BEP 10: the peer's extension handshake (also sent again on updates).
    ExtensionHandshake(Box<ExtHandshake>),
    /// A parsed message of a known extension.
    Extension(ExtensionMessage),
    /// An extension message this crate has no parser for. `name` is the
    /// extension we registered under `id`, `None` if we registered none.
    Extended {
        id: u8,
        name: Option<String>,
        payload: Bytes,
    },
    /// BEP 52 (only valid requests are reported; invalid ones are answered
    /// with `hash reject` automatically).
    HashRequest(HashRequest),
    Hashes {
        request: HashRequest,
        hashes: Bytes,
    },
    HashReject(HashRequest),
    /// The connection is over; drop the socket. Always the last event.
    Disconnect {
        reason: Error,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading the peer's handshake.
    Handshake,
    /// Incoming: the info-hash arrived, waiting for [`PeerConnection::accept`].
    AwaitAccept,
    Active,
    Closed,
}

#[derive(Clone, Copy, Debug)]
struct Outstanding {
    req: BlockRequest,
    sent_at: Instant,
    timed_out: bool,
}

/// A running mean and mean deviation of request round trips, in
/// milliseconds, weighting the last 20 samples or so (libtorrent reports
/// both in `peer_info` and derives its request timeout from them).
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundTrips {
    /// Fixed point: 1/64 ms.
    mean: i64,
    deviation: i64,
    samples: i64,
}

impl RoundTrips {
    const WINDOW: i64 = 20;

    pub fn add(&mut self, ms: i64) {
        let s = ms.saturating_mul(64);
        let dev = if self.samples > 0 {
            (self.mean - s).abs()
        } else {
            0
        };
        self.samples = (self.samples + 1).min(Self::WINDOW);
        self.mean += (s - self.mean) / self.samples;
        if self.samples > 1 {
            self.deviation += (dev - self.deviation) / (self.samples - 1);
        }
    }
    pub fn samples(&self) -> i64 {
        self.samples
    }
    /// The mean round trip (0 before the first sample).
    pub fn mean_ms(&self) -> i64 {
        if self.samples > 0 {
            (self.mean + 32) / 64
        } else {
            0
        }
    }
    /// The mean deviation (0 before the second sample).
    pub fn deviation_ms(&self) -> i64 {
        if self.samples > 1 {
            (self.deviation + 32) / 64
        } else {
            0
        }
    }
}

/// Pieces the peer announced before the piece count was known.
#[derive(Clone, Debug, Default)]
struct PendingPieces {
    /// Bits from a bitfield message and/or `have`s (MSB first).
    raw: Vec<u8>,
    /// Set by have-all / have-none.
    all: Option<bool>,
    /// Byte length of the bitfield message, which must match exactly.
    bitfield_len: Option<usize>,
}

/// One peer connection. See the crate documentation for the driving loop.
pub struct PeerConnection {
    cfg: PeerConfig,
    phase: Phase,
    outgoing: bool,
    torrent: Option<TorrentInfo>,
    /// The 20-byte hash we sent (outgoing) or must check against.
    sent_info_hash: Option<Sha1Hash>,
    peer_ip: Option<IpAddr>,
    version: ProtocolVersion,
    hs: HandshakeDecoder,
    peer_reserved: Reserved,
    peer_id: Option<PeerId>,
    extensions: Reserved,
    decoder: MessageDecoder,
    recv: BytesMut,
    // output
    out: VecDeque<Bytes>,
    small: BytesMut,
    events: VecDeque<Event>,
    // state
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    peer_pieces: Option<Bitfield>,
    pending_pieces: PendingPieces,
    /// A bitfield, have-all, have-none or have was received.
    pieces_announced: bool,
    invalid_requests: u32,
    our_pieces: Bitfield,
    outstanding: Vec<Outstanding>,
    peer_requests: VecDeque<BlockRequest>,
    allowed_fast_out: HashSet<u32>,
    allowed_fast_in: HashSet<u32>,
    peer_ext: Option<ExtHandshake>,
    peer_ext_ids: BTreeMap<String, u8>,
    our_ext_names: BTreeMap<u8, String>,
    counters: Counters,
    created: Instant,
    last_received: Instant,
    last_sent: Instant,
    /// When we last sent a request (the connection's start before that).
    last_request: Instant,
    round_trips: RoundTrips,
    /// The latest `Instant` we were given; stamps queued output.
    now: Instant,
}

impl PeerConnection {
    fn base(cfg: PeerConfig, outgoing: bool, peer_ip: Option<IpAddr>, now: Instant) -> Self {
        let mut cfg = cfg;
        if cfg.extensions.reqq.is_none() {
            cfg.extensions.reqq = u32::try_from(cfg.max_peer_requests).ok();
        }
        let our_ext_names = cfg
            .extensions
            .m
            .iter()
            .filter(|(_, &id)| id != 0)
            .map(|(n, &id)| (id, n.clone()))
            .collect();
        PeerConnection {
            decoder: MessageDecoder::new(cfg.max_message_len),
            our_ext_names,
            cfg,
            phase: Phase::Handshake,
            outgoing,
            torrent: None,
            sent_info_hash: None,
            peer_ip,
            version: ProtocolVersion::V1,
            hs: HandshakeDecoder::new(),
            peer_reserved: Reserved::NONE,
            peer_id: None,
            extensions: Reserved::NONE,
            recv: BytesMut::with_capacity(16 * 1024),
            out: VecDeque::new(),
            small: BytesMut::new(),
            events: VecDeque::new(),
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            peer_pieces: None,
            pending_pieces: PendingPieces::default(),
            pieces_announced: false,
            invalid_requests: 0,
            our_pieces: Bitfield::new(0),
            outstanding: Vec::new(),
            peer_requests: VecDeque::new(),
            allowed_fast_out: HashSet::new(),
            allowed_fast_in: HashSet::new(),
            peer_ext: None,
            peer_ext_ids: BTreeMap::new(),
            counters: Counters::default(),
            created: now,
            last_received: now,
            last_sent: now,
            last_request: now,
            round_trips: RoundTrips::default(),
            now,
        }
    }

    /// A connection we initiate to a peer for `torrent`. Our handshake is
    /// queued at once, naming `send_hash` — the v1 hash or the truncated v2
    /// hash of the torrent (use [`InfoHash::best`] or `get(version)`). The
    /// peer must answer with one of the torrent's hashes; it may upgrade a
    /// hybrid torrent's v1 connection to v2 when both set the v2 bit.
    pub fn outgoing(
        cfg: PeerConfig,
        torrent: TorrentInfo,
        send_hash: Sha1Hash,
        peer_ip: Option<IpAddr>,
        now: Instant,
    ) -> Self {
        let mut c = Self::base(cfg, true, peer_ip, now);
        match match_info_hash(&torrent.info_hash, &send_hash) {
            Some(v) => c.version = v,
            None => {
                c.close_with(Error::InfoHashMismatch);
                return c;
            }
        }
        if torrent.info_hash.has_v1() && torrent.info_hash.has_v2() {
            // Like libtorrent, offer the BEP 52 upgrade (and hash
            // exchange) for a hybrid torrent.
            c.cfg.reserved.set_v2(true);
        }
        c.sent_info_hash = Some(send_hash);
        c.set_torrent(torrent);
        c.queue_handshake(send_hash);
        c
    }

    /// A connection a peer made to us. Its handshake is read first; on
    /// [`Event::IncomingHandshake`] look the info-hash up (see
    /// [`match_info_hash`]) and call [`accept`](Self::accept).
    pub fn incoming(cfg: PeerConfig, peer_ip: Option<IpAddr>, now: Instant) -> Self {
        Self::base(cfg, false, peer_ip, now)
    }

    /// Accepts an incoming connection for `torrent` after
    /// [`Event::IncomingHandshake`]: checks that the peer's info-hash is one
    /// of the torrent's, replies with our handshake and resumes reading.
    pub fn accept(&mut self, torrent: TorrentInfo, now: Instant) -> Result<(), Error> {
        self.tick(now);
        if self.phase != Phase::AwaitAccept {
            return Err(Error::UnexpectedMessage(
                "accept() outside of the incoming handshake",
            ));
        }
        let Some(wire) = self.sent_info_hash else {
            return Err(Error::InfoHashMismatch);
        };
        let Some(mut version) = match_info_hash(&torrent.info_hash, &wire) else {
            self.close_with(Error::InfoHashMismatch);
            return Err(Error::InfoHashMismatch);
        };
        if torrent.info_hash.has_v1() && torrent.info_hash.has_v2() {
            // Like libtorrent, offer the BEP 52 upgrade (and hash
            // exchange) for a hybrid torrent.
            self.cfg.reserved.set_v2(true);
        }
        let mut reply = wire;
        if version == ProtocolVersion::V1
            && torrent.info_hash.has_v2()
            && self.peer_reserved.v2()
            && self.cfg.reserved.v2()
        {
            // BEP 52 upgrade: answer a hybrid torrent's v1 hash with the v2 one.
            version = ProtocolVersion::V2;
            reply = torrent.info_hash.v2.truncated();
        }
        self.version = version;
        self.set_torrent(torrent);
        self.queue_handshake(reply);
        self.phase = Phase::Handshake;
        self.process(now);
        Ok(())
    }

    fn set_torrent(&mut self, t: TorrentInfo) {
        self.our_pieces = match t.geometry {
            Some(g) if t.our_pieces.len() == g.num_pieces => t.our_pieces.clone(),
            Some(g) => Bitfield::new(g.num_pieces),
            None => Bitfield::new(0),
        };
        self.torrent = Some(t);
    }

    fn queue_handshake(&mut self, hash: Sha1Hash) {
        let h = Handshake {
            reserved: self.cfg.reserved,
            info_hash: hash,
            peer_id: self.cfg.peer_id,
        };
        self.small.extend_from_slice(&h.encode());
        self.counters.protocol_up += HANDSHAKE_LEN as u64;
    }

    // ---------------------------------------------------------------
    // Accessors

    /// True until the connection is closed.
    pub fn is_open(&self) -> bool {
        self.phase != Phase::Closed
    }
    /// True once both handshakes are done.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Active
    }
    pub fn is_outgoing(&self) -> bool {
        self.outgoing
    }
    pub fn peer_id(&self) -> Option<PeerId> {
        self.peer_id
    }
    /// The extension bits both sides set.
    pub fn extensions(&self) -> Reserved {
        self.extensions
    }
    /// The peer's reserved bits.
    pub fn peer_reserved(&self) -> Reserved {
        self.peer_reserved
    }
    /// Whether the connection speaks v1 or v2 (BEP 52) for this torrent.
    /// The info-hash the connecting side named in its handshake (ours
    /// for an outgoing connection, the peer's for an incoming one), before
    /// any BEP 52 upgrade of the reply.
    pub fn named_info_hash(&self) -> Option<Sha1Hash> {
        self.sent_info_hash
    }
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }
    pub fn am_choking(&self) -> bool {
        self.am_choking
    }
    pub fn am_interested(&self) -> bool {
        self.am_interested
    }
    pub fn peer_choking(&self) -> bool {
        self.peer_choking
    }
    pub fn peer_interested(&self) -> bool {
        self.peer_interested
    }
    /// The peer's pieces, once the piece count is known.
    pub fn peer_pieces(&self) -> Option<&Bitfield> {
        self.peer_pieces.as_ref()
    }
    /// Whether the peer has piece `i` (false while unknown).
    pub fn peer_has(&self, i: u32) -> bool {
        self.peer_pieces.as_ref().is_some_and(|b| b.get(i))
    }
    /// Our pieces as this connection knows them.
    pub fn our_pieces(&self) -> &Bitfield {
        &self.our_pieces
    }
    /// Requests we sent that have not been answered, oldest first.
    pub fn outstanding_requests(&self) -> impl Iterator<Item = BlockRequest> + '_ {
        self.outstanding.iter().map(|o| o.req)
    }
    /// Requests from the peer waiting for [`send_block`](Self::send_block).
    /// Round trips of our requests answered so far.
    pub fn round_trips(&self) -> RoundTrips {
        self.round_trips
    }
    /// When we last sent a request (the connection's start before that).
    pub fn last_request(&self) -> Instant {
        self.last_request
    }
    /// When bytes last went either way.
    pub fn last_active(&self) -> Instant {
        self.last_received.max(self.last_sent)
    }
    /// The `piece` message being received, once its header is in: the
    /// block's piece, offset, bytes received so far and length.
    pub fn receiving_block(&self) -> Option<(u32, u32, u32, u32)> {
        let b = &self.recv;
        if self.phase != Phase::Active || b.len() < 13 || b[4] != 7 {
            return None;
        }
        let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let length = be(0).checked_sub(9)?;
        let got = ((b.len() - 13) as u32).min(length);
        Some((be(5), be(9), got, length))
    }
    /// The receive buffer's capacity and the bytes in it.
    pub fn recv_buffer_use(&self) -> (usize, usize) {
        (self.recv.capacity(), self.recv.len())
    }

    pub fn peer_requests(&self) -> impl Iterator<Item = BlockRequest> + '_ {
        self.peer_requests.iter().copied()
    }
    /// The allowed-fast pieces we granted the peer.
    pub fn allowed_fast_granted(&self) -> impl Iterator<Item = u32> + '_ {
        self.allowed_fast_out.iter().copied()
    }
    /// The allowed-fast pieces the peer granted us.
    pub fn allowed_fast_received(&self) -> impl Iterator<Item = u32> + '_ {
        self.allowed_fast_in.iter().copied()
    }
    /// The peer's last extension handshake.
    pub fn peer_extensions(&self) -> Option<&ExtHandshake> {
        self.peer_ext.as_ref()
    }
    /// Whether the peer registered extension `name`.
    pub fn peer_supports(&self, name: &str) -> bool {
        self.peer_ext_ids.contains_key(name)
    }
    /// How many requests the peer accepts at once (its `reqq`, else 250).
    pub fn peer_request_limit(&self) -> u32 {
        self.peer_ext.as_ref().and_then(|e| e.reqq).unwrap_or(250)
    }
    pub fn counters(&self) -> Counters {
        self.counters
    }
    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }

    // ---------------------------------------------------------------
    // Input

    /// The receive buffer. Read from the socket straight into it (e.g.
    /// `socket.read_buf(conn.recv_buffer())`), then call
    /// [`process`](Self::process). Blocks of `piece` messages are handed
    /// out as views of this buffer, so no further copy is made before disk.
    ///
    /// The buffer is given at least [`MIN_READ_SPACE`] bytes of spare
    /// capacity, so a read into it is never tiny. Once a block has been
    /// split off, the next reservation moves the (few) unparsed bytes into a
    /// fresh allocation while the old one lives on in the block's `Bytes`.
    pub fn recv_buffer(&mut self) -> &mut BytesMut {
        if self.recv.capacity() - self.recv.len() < MIN_READ_SPACE {
            self.recv.reserve(MIN_READ_SPACE);
        }
        &mut self.recv
    }

    /// Copies `data` into the receive buffer and processes it.
    pub fn receive(&mut self, data: &[u8], now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        self.recv.extend_from_slice(data);
        self.process(now);
    }

    /// Processes whatever is in the receive buffer. Events are queued for
    /// [`poll_event`](Self::poll_event).
    pub fn process(&mut self, now: Instant) {
        self.tick(now);
        if self.recv.is_empty() {
            return;
        }
        while self.phase != Phase::Closed && !self.recv.is_empty() {
            match self.phase {
                Phase::Handshake => {
                    let before = self.recv.len();
                    let r = self.hs.decode(&mut self.recv);
                    self.counters.protocol_down += (before - self.recv.len()) as u64;
                    self.last_received = now;
                    match r {
                        Err(e) => self.close_with(e),
                        Ok(HandshakeProgress::NeedMore) => return,
                        Ok(HandshakeProgress::InfoHash {
                            reserved,
                            info_hash,
                        }) => {
                            self.on_info_hash(reserved, info_hash);
                        }
                        Ok(HandshakeProgress::Complete(h)) => self.on_handshake_complete(h, now),
                    }
                }
                Phase::AwaitAccept => {
                    // Bytes keep arriving while the driver looks the torrent
                    // up; bound what we hold for it.
                    if self.recv.len() > self.cfg.max_message_len as usize + HANDSHAKE_LEN {
                        self.close_with(Error::MessageTooLarge {
                            len: self.recv.len().min(u32::MAX as usize) as u32,
                            max: self.cfg.max_message_len,
                        });
                    }
                    return;
                }
                Phase::Closed => return,
                Phase::Active => match self.decoder.decode(&mut self.recv) {
                    Err(e) => self.close_with(e),
                    Ok(None) => return,
                    Ok(Some((msg, wire_len))) => self.on_decoded(msg, wire_len, now),
                },
            }
        }
    }

    fn on_decoded(&mut self, msg: Message, wire_len: usize, now: Instant) {
        self.last_received = now;
        let payload = match &msg {
            Message::Piece { data, .. } => data.len(),
            _ => 0,
        };
        self.counters.payload_down += payload as u64;
        self.counters.protocol_down += (wire_len - payload) as u64;
        if let Err(e) = self.on_message(msg) {
            self.close_with(e);
        }
    }

    /// Processes a chunk the driver already holds as [`Bytes`] (e.g. sent
    /// by a reader task). Messages that lie wholly inside `chunk` are
    /// decoded from it without copying — a block is a view of `chunk`; only
    /// a message split across chunks is assembled in the receive buffer.
    pub fn receive_bytes(&mut self, mut chunk: Bytes, now: Instant) {
        self.tick(now);
        while !chunk.is_empty() {
            if self.phase == Phase::Closed {
                return;
            }
            if self.phase != Phase::Active {
                // Handshake: small, copied. It may complete part-way through
                // the chunk, so hand over only what it can consume.
                let take = if self.phase == Phase::Handshake {
                    (HANDSHAKE_LEN - self.hs.consumed()).clamp(1, chunk.len())
                } else {
                    chunk.len()
                };
                self.recv.extend_from_slice(&chunk.split_to(take));
                self.process(now);
                continue;
            }
            if !self.recv.is_empty() {
                // Complete the message already started in the receive buffer.
                let need = match self.decoder.next_len(&self.recv) {
                    Ok(Some(total)) => total.saturating_sub(self.recv.len()),
                    Ok(None) => 4 - self.recv.len().min(4),
                    Err(e) => {
                        self.close_with(e);
                        return;
                    }
                };
                let take = need.clamp(1, chunk.len());
                self.recv.extend_from_slice(&chunk.split_to(take));
                self.process(now);
                continue;
            }
            match self.decoder.decode_bytes(&mut chunk) {
                Err(e) => self.close_with(e),
                Ok(Some((msg, wire_len))) => self.on_decoded(msg, wire_len, now),
                Ok(None) => {
                    self.recv.extend_from_slice(&chunk);
                    return;
                }
            }
        }
    }

    fn on_info_hash(&mut self, reserved: Reserved, info_hash: Sha1Hash) {
        self.peer_reserved = reserved;
        if self.outgoing {
            let ok = self
                .torrent
                .as_ref()
                .and_then(|t| match_info_hash(&t.info_hash, &info_hash));
            match ok {
                Some(v) if Some(info_hash) == self.sent_info_hash => self.version = v,
                // A hybrid torrent's v1 handshake answered with its v2
                // hash: libtorrent does so (whatever the reserved bits) to
                // a peer it learned of through the v2 hash, e.g. from a
                // local service discovery announce.
                Some(ProtocolVersion::V2) => self.version = ProtocolVersion::V2,
                _ => self.close_with(Error::InfoHashMismatch),
            }
        } else {
            self.sent_info_hash = Some(info_hash);
            self.phase = Phase::AwaitAccept;
            self.events.push_back(Event::IncomingHandshake {
                info_hash,
                reserved,
            });
        }
    }

    fn on_handshake_complete(&mut self, h: Handshake, now: Instant) {
        if self.torrent.is_none() {
            // Unreachable by construction (incoming connections stop at the
            // info-hash until accepted); kept as a guard, not a panic.
            self.close_with(Error::UnexpectedMessage(
                "handshake completed before accept",
            ));
            return;
        }
        if h.peer_id == self.cfg.peer_id {
            self.close_with(Error::SelfConnection);
            return;
        }
        self.peer_id = Some(h.peer_id);
        self.extensions = self.cfg.reserved.intersect(&h.reserved);
        self.phase = Phase::Active;
        self.last_received = now;
        self.events.push_back(Event::Connected {
            peer_id: h.peer_id,
            extensions: self.extensions,
            version: self.version,
        });
        self.send_initial();
    }

    /// Bitfield (or have-all/none), extension handshake, allowed-fast set.
    fn send_initial(&mut self) {
        let fast = self.extensions.fast();
        let geometry = self.torrent.as_ref().and_then(|t| t.geometry);
        let n = self.our_pieces.len();
        if fast && n > 0 && self.our_pieces.all() {
            self.push(&Message::HaveAll);
        } else if fast && self.our_pieces.count() == 0 {
            self.push(&Message::HaveNone);
        } else if self.our_pieces.count() > 0 {
            let bf = Bytes::copy_from_slice(self.our_pieces.as_bytes());
            self.push(&Message::Bitfield(bf));
        }
        if self.extensions.extension_protocol() {
            // BEP 10 `yourip`: the peer's address as we see it (libtorrent
            // sends it on every connection); our listen port `p` only to a
            // peer we connected to, which cannot know it (as libtorrent).
            if self.cfg.extensions.yourip.is_none() {
                self.cfg.extensions.yourip = self.peer_ip;
            }
            if !self.outgoing {
                self.cfg.extensions.p = None;
            }
            let payload = Bytes::from(self.cfg.extensions.encode());
            self.push(&Message::Extended { id: 0, payload });
        }
        if let (true, Some(g), Some(ip), Some(t)) =
            (fast, geometry, self.peer_ip, self.torrent.as_ref())
        {
            let ih = t.info_hash.get(self.version);
            let set = allowed_fast_set(ip, &ih, g.num_pieces, self.cfg.allowed_fast_set_size);
            for i in set {
                self.allowed_fast_out.insert(i);
                if self.our_pieces.get(i) {
                    self.push(&Message::AllowedFast(i));
                }
            }
        }
    }

    fn geometry(&self) -> Option<PieceGeometry> {
        self.torrent.as_ref().and_then(|t| t.geometry)
    }

    fn check_piece(&self, piece: u32) -> Result<(), Error> {
        match self.geometry() {
            Some(g) if piece >= g.num_pieces => Err(Error::PieceOutOfRange { piece }),
            _ => Ok(()),
        }
    }

    fn require(&self, on: bool, m: &Message) -> Result<(), Error> {
        if on {
            Ok(())
        } else {
            Err(Error::NotNegotiated {
                id: m.id().unwrap_or(0),
            })
        }
    }

    fn on_message(&mut self, msg: Message) -> Result<(), Error> {
        let fast = self.extensions.fast();
        match msg {
            Message::KeepAlive => {}
            Message::Choke => {
                self.peer_choking = true;
                self.events.push_back(Event::Choked);
                if !fast {
                    for o in std::mem::take(&mut self.outstanding) {
                        self.events.push_back(Event::Rejected(o.req));
                    }
                }
            }
            Message::Unchoke => {
                self.peer_choking = false;
                self.events.push_back(Event::Unchoked);
            }
            Message::Interested => {
                self.peer_interested = true;
                self.events.push_back(Event::Interested);
            }
            Message::NotInterested => {
                self.peer_interested = false;
                self.events.push_back(Event::NotInterested);
            }
            Message::Have(i) => {
                self.check_piece(i)?;
                self.peer_has_piece(i)?;
                self.pieces_announced = true;
                self.events.push_back(Event::Have(i));
            }
            Message::Bitfield(b) => {
                self.first_bitfield()?;
                match self.geometry() {
                    Some(g) => self.peer_pieces = Some(Bitfield::from_wire(&b, g.num_pieces)?),
                    None => {
                        self.pending_pieces = PendingPieces {
                            raw: b.to_vec(),
                            all: None,
                            bitfield_len: Some(b.len()),
                        };
                    }
                }
                self.events.push_back(Event::Bitfield);
            }
            ref m @ (Message::HaveAll | Message::HaveNone) => {
                self.require(fast, m)?;
                self.first_bitfield()?;
                let all = matches!(m, Message::HaveAll);
                match self.geometry() {
                    Some(g) => {
                        self.peer_pieces = Some(if all {
                            Bitfield::full(g.num_pieces)
                        } else {
                            Bitfield::new(g.num_pieces)
                        })
                    }
                    None => {
                        self.pending_pieces = PendingPieces {
                            raw: Vec::new(),
                            all: Some(all),
                            bitfield_len: None,
                        }
                    }
                }
                self.events
                    .push_back(if all { Event::HaveAll } else { Event::HaveNone });
            }
            Message::Request(r) => self.on_peer_request(r)?,
            Message::Cancel(r) => {
                if let Some(pos) = self.peer_requests.iter().position(|q| *q == r) {
                    self.peer_requests.remove(pos);
                    self.events.push_back(Event::Cancel(r));
                    if fast {
                        self.push(&Message::Reject(r));
                    }
                }
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                let len = data.len() as u32;
                let req = BlockRequest {
                    piece,
                    offset,
                    length: len,
                };
                if let Some(g) = self.geometry() {
                    if !g.block_in_range(&req) {
                        return Err(Error::BadRequest);
                    }
                }
                match self.outstanding.iter().position(|o| o.req == req) {
                    Some(pos) => {
                        let o = self.outstanding.remove(pos);
                        if !o.timed_out {
                            let rtt = self.now.saturating_duration_since(o.sent_at);
                            self.round_trips.add(rtt.as_millis() as i64);
                        }
                        self.events.push_back(Event::Block {
                            piece,
                            offset,
                            data,
                        });
                    }
                    None => self
                        .events
                        .push_back(Event::UnrequestedBlock { piece, offset, len }),
                }
            }
            Message::Port(p) => {
                // BEP 5 does not require ignoring it without the bit; we report it
                // only when the DHT bit was negotiated.
                if self.extensions.dht() {
                    self.events.push_back(Event::DhtPort(p));
                }
            }
            ref m @ Message::Suggest(i) => {
                self.require(fast, m)?;
                // Out-of-range suggestions are ignored (as libtorrent does).
                if self.check_piece(i).is_ok() {
                    self.events.push_back(Event::Suggest(i));
                }
            }
            ref m @ Message::Reject(r) => {
                self.require(fast, m)?;
                if let Some(pos) = self.outstanding.iter().position(|o| o.req == r) {
                    self.outstanding.remove(pos);
                    self.events.push_back(Event::Rejected(r));
                }
            }
            ref m @ Message::AllowedFast(i) => {
                self.require(fast, m)?;
                // Out-of-range pieces are ignored (as libtorrent does).
                if self.check_piece(i).is_ok()
                    && self.allowed_fast_in.len() < 4096
                    && self.allowed_fast_in.insert(i)
                {
                    self.events.push_back(Event::AllowedFast(i));
                }
            }
            Message::Extended { id, payload } => {
                // Like libtorrent, extended messages are processed even when
                // the peer did not set the extension bit.
                self.on_extended(id, payload)?;
            }
            ref m @ (Message::HashRequest(_) | Message::Hashes { .. } | Message::HashReject(_)) => {
                self.require(
                    self.version == ProtocolVersion::V2 || self.extensions.v2(),
                    m,
                )?;
                match msg {
                    Message::HashRequest(h) if !h.validate() => self.push(&Message::HashReject(h)),
                    Message::HashRequest(h) => self.events.push_back(Event::HashRequest(h)),
                    Message::Hashes { request, hashes } => {
                        // The reply must be the requested run plus exactly
                        // the proof its header asks for (bounded: `validate`
                        // caps both counts).
                        if !request.validate() || (hashes.len() / 32) as u64 != request.reply_len()
                        {
                            return Err(Error::InvalidHashes);
                        }
                        self.events.push_back(Event::Hashes { request, hashes })
                    }
                    Message::HashReject(h) => self.events.push_back(Event::HashReject(h)),
                    _ => {}
                }
            }
            Message::Unknown { id, .. } => {
                if self.cfg.unknown_messages == UnknownMessagePolicy::Disconnect {
                    return Err(Error::UnknownMessage { id });
                }
            }
        }
        Ok(())
    }

    /// Bitfield, have-all and have-none may come once, before any `have`.
    /// Marks the peer's pieces as announced. A later bitfield, have-all or
    /// have-none replaces what the peer had (libtorrent accepts them, and
    /// aria2 sends a bitfield after have-none).
    fn first_bitfield(&mut self) -> Result<(), Error> {
        self.pieces_announced = true;
        Ok(())
    }

    fn peer_has_piece(&mut self, i: u32) -> Result<(), Error> {
        if let Some(g) = self.geometry() {
            let bf = self
                .peer_pieces
                .get_or_insert_with(|| Bitfield::new(g.num_pieces));
            bf.set(i);
            return Ok(());
        }
        // Piece count unknown: remember the bit, bounded by what a bitfield
        // message could carry.
        let byte = (i / 8) as usize;
        if byte >= self.cfg.max_message_len as usize {
            return Err(Error::PieceOutOfRange { piece: i });
        }
        let raw = &mut self.pending_pieces.raw;
        if raw.len() <= byte {
            raw.resize(byte + 1, 0);
        }
        if let Some(b) = raw.get_mut(byte) {
            *b |= 0x80 >> (i % 8);
        }
        Ok(())
    }

    fn on_peer_request(&mut self, r: BlockRequest) -> Result<(), Error> {
        let fast = self.extensions.fast();
        let valid = r.length > 0
            && r.length <= self.cfg.max_request_len
            && self.geometry().is_some_and(|g| g.block_in_range(&r));
        let we_have = self.our_pieces.get(r.piece);
        if !valid || !we_have {
            self.events.push_back(Event::InvalidRequest {
                request: r,
                we_have,
            });
        }
        if !valid {
            // Invalid requests are answered like refused ones (reject with
            // the fast extension, else ignored), as libtorrent does; a peer
            // that keeps sending them is disconnected.
            self.invalid_requests += 1;
            if self.invalid_requests > self.cfg.max_invalid_requests {
                return Err(Error::BadRequest);
            }
            if fast {
                self.push(&Message::Reject(r));
            }
            return Ok(());
        }
        let choked_ok = !self.am_choking || (fast && self.allowed_fast_out.contains(&r.piece));
        let acceptable = choked_ok
            && self.our_pieces.get(r.piece)
            && self.peer_requests.len() < self.cfg.max_peer_requests
            && !self.peer_requests.contains(&r);
        if acceptable {
            self.peer_requests.push_back(r);
            self.events.push_back(Event::Request(r));
        } else if fast {
            self.push(&Message::Reject(r));
        }
        Ok(())
    }

    fn on_extended(&mut self, id: u8, payload: Bytes) -> Result<(), Error> {
        if id == 0 {
            // A malformed extension handshake is ignored (as libtorrent does).
            let Ok(h) = ExtHandshake::parse(&payload) else {
                return Ok(());
            };
            for (name, &eid) in &h.m {
                if eid == 0 {
                    self.peer_ext_ids.remove(name);
                } else if self.peer_ext_ids.len() < 256 || self.peer_ext_ids.contains_key(name) {
                    self.peer_ext_ids.insert(name.clone(), eid);
                }
            }
            self.peer_ext = Some(h.clone());
            self.events
                .push_back(Event::ExtensionHandshake(Box::new(h)));
            return Ok(());
        }
        let Some(name) = self.our_ext_names.get(&id).cloned() else {
            // An id we never registered: libtorrent disconnects.
            if self.cfg.unknown_messages == UnknownMessagePolicy::Disconnect {
                return Err(Error::UnknownMessage {
                    id: crate::message::id::EXTENDED,
                });
            }
            self.events.push_back(Event::Extended {
                id,
                name: None,
                payload,
            });
            return Ok(());
        };
        match ExtensionMessage::parse(&name, &payload)? {
            Some(ExtensionMessage::DontHave(i)) => {
                self.check_piece(i)?;
                if let Some(b) = self.peer_pieces.as_mut() {
                    b.clear(i);
                }
                self.events.push_back(Event::DontHave(i));
            }
            Some(ExtensionMessage::UploadOnly(v)) => {
                // The peer's news since its handshake: what
                // `peer_extensions().upload_only` says from now on.
                if let Some(e) = self.peer_ext.as_mut() {
                    e.upload_only = Some(v);
                }
                self.events
                    .push_back(Event::Extension(ExtensionMessage::UploadOnly(v)));
            }
            Some(m) => self.events.push_back(Event::Extension(m)),
            None => self.events.push_back(Event::Extended {
                id,
                name: Some(name),
                payload,
            }),
        }
        Ok(())
    }

    /// Supplies the piece geometry once the metadata is known (magnet
    /// links). Pieces the peer announced so far are validated against it.
    pub fn set_geometry(&mut self, g: PieceGeometry, our_pieces: Bitfield) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending_pieces);
        let r: Result<Bitfield, Error> = (|| {
            if pending.all == Some(true) {
                return Ok(Bitfield::full(g.num_pieces));
            }
            let need = crate::bitfield::bitfield_bytes(g.num_pieces);
            if pending.bitfield_len.is_some_and(|n| n != need) || pending.raw.len() > need {
                return Err(Error::BadBitfield);
            }
            // have-none or nothing, plus any `have`s; or a bitfield plus
            // `have`s. Spare bits set mean an index beyond the last piece.
            let mut raw = pending.raw;
            raw.resize(need, 0);
            Bitfield::from_wire(&raw, g.num_pieces)
        })();
        match r {
            Ok(bf) => {
                self.peer_pieces = Some(bf);
                if let Some(t) = self.torrent.as_mut() {
                    t.geometry = Some(g);
                }
                self.our_pieces = if our_pieces.len() == g.num_pieces {
                    our_pieces
                } else {
                    Bitfield::new(g.num_pieces)
                };
                Ok(())
            }
            Err(e) => {
                self.close_with(e.clone());
                Err(e)
            }
        }
    }

    // ---------------------------------------------------------------
    // Output

    fn tick(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn push(&mut self, m: &Message) {
        self.last_sent = self.now;
        let payload = match m {
            Message::Piece { data, .. } => data.len(),
            _ => 0,
        };
        let before = self.small.len();
        m.encode(&mut self.small);
        let n = self.small.len() - before;
        self.counters.protocol_up += (n - payload) as u64;
        self.counters.payload_up += payload as u64;
    }

    fn check_active(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Active => Ok(()),
            Phase::Closed => Err(Error::Closed),
            _ => Err(Error::UnexpectedMessage("the handshake has not completed")),
        }
    }

    /// The next chunk of bytes to write to the socket, in order. Write it
    /// completely before asking for the next one. Blocks sent with
    /// [`send_block`](Self::send_block) come out as their own chunk (the
    /// caller's `Bytes`, not copied).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(b) = self.out.pop_front() {
            return Some(b);
        }
        if self.small.is_empty() {
            None
        } else {
            Some(self.small.split().freeze())
        }
    }

    /// Whether there are bytes waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn wants_to_send(&self) -> bool {
        !self.out.is_empty() || !self.small.is_empty()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Chokes the peer. With the fast extension its queued requests are
    /// rejected (except for allowed-fast pieces); without it they are dropped.
    pub fn choke(&mut self) -> Result<(), Error> {
        self.check_active()?;
        if self.am_choking {
            return Ok(());
        }
        self.am_choking = true;
        self.push(&Message::Choke);
        let fast = self.extensions.fast();
        let queued = std::mem::take(&mut self.peer_requests);
        for r in queued {
            if fast && self.allowed_fast_out.contains(&r.piece) {
                self.peer_requests.push_back(r);
            } else if fast {
                self.push(&Message::Reject(r));
            }
        }
        Ok(())
    }

    pub fn unchoke(&mut self) -> Result<(), Error> {
        self.check_active()?;
        if self.am_choking {
            self.am_choking = false;
            self.push(&Message::Unchoke);
        }
        Ok(())
    }

    pub fn interested(&mut self) -> Result<(), Error> {
        self.check_active()?;
        if !self.am_interested {
            self.am_interested = true;
            self.push(&Message::Interested);
        }
        Ok(())
    }

    pub fn not_interested(&mut self) -> Result<(), Error> {
        self.check_active()?;
        if self.am_interested {
            self.am_interested = false;
            self.push(&Message::NotInterested);
        }
        Ok(())
    }

    /// Requests a block. Refused (with the reason) when the peer chokes us
    /// and the piece is not allowed-fast, when the peer lacks the piece,
    /// when the block is outside its piece, or when it is already requested.
    pub fn request(&mut self, r: BlockRequest, now: Instant) -> Result<(), Error> {
        self.tick(now);
        self.check_active()?;
        if let Some(g) = self.geometry() {
            if !g.block_in_range(&r) {
                return Err(Error::BadRequest);
            }
        }
        if self.peer_choking && !(self.extensions.fast() && self.allowed_fast_in.contains(&r.piece))
        {
            return Err(Error::UnexpectedMessage("the peer is choking us"));
        }
        if !self.peer_has(r.piece) {
            return Err(Error::PieceOutOfRange { piece: r.piece });
        }
        if self.outstanding.iter().any(|o| o.req == r) {
            return Err(Error::BadRequest);
        }
        self.outstanding.push(Outstanding {
            req: r,
            sent_at: now,
            timed_out: false,
        });
        self.last_request = now;
        self.push(&Message::Request(r));
        Ok(())
    }

    /// Cancels a request we sent. Returns whether it was outstanding. With
    /// the fast extension the peer will still answer with the block or a
    /// reject; the block then comes as [`Event::UnrequestedBlock`].
    pub fn cancel(&mut self, r: BlockRequest) -> Result<bool, Error> {
        self.check_active()?;
        match self.outstanding.iter().position(|o| o.req == r) {
            Some(pos) => {
                self.outstanding.remove(pos);
                self.push(&Message::Cancel(r));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Sends a block the peer requested. `data` must be the whole block.
    /// Returns `Ok(false)` (and sends nothing) when the request is no longer
    /// queued (the peer cancelled it, or we choked the peer meanwhile).
    pub fn send_block(&mut self, piece: u32, offset: u32, data: Bytes) -> Result<bool, Error> {
        self.check_active()?;
        let r = BlockRequest {
            piece,
            offset,
            length: data.len() as u32,
        };
        let Some(pos) = self.peer_requests.iter().position(|q| *q == r) else {
            return Ok(false);
        };
        self.peer_requests.remove(pos);
        self.small
            .extend_from_slice(&piece_header(piece, offset, r.length));
        self.counters.protocol_up += 13;
        self.last_sent = self.now;
        self.counters.payload_up += data.len() as u64;
        if !data.is_empty() {
            self.out.push_back(self.small.split().freeze());
            self.out.push_back(data);
        }
        Ok(true)
    }

    /// Declines a request the peer made (e.g. the disk read failed): it is
    /// removed from the queue and, with the fast extension, rejected.
    pub fn reject_request(&mut self, r: BlockRequest) -> Result<(), Error> {
        self.check_active()?;
        if let Some(pos) = self.peer_requests.iter().position(|q| *q == r) {
            self.peer_requests.remove(pos);
            if self.extensions.fast() {
                self.push(&Message::Reject(r));
            }
        }
        Ok(())
    }

    /// We completed piece `i`: records it and sends `have`.
    pub fn we_have(&mut self, i: u32) -> Result<(), Error> {
        self.check_active()?;
        if !self.our_pieces.set(i) {
            return Err(Error::PieceOutOfRange { piece: i });
        }
        self.push(&Message::Have(i));
        Ok(())
    }

    /// BEP 6 suggest.
    pub fn suggest(&mut self, i: u32) -> Result<(), Error> {
        self.check_active()?;
        if !self.extensions.fast() {
            return Err(Error::NotSupported("fast extension"));
        }
        self.push(&Message::Suggest(i));
        Ok(())
    }

    /// BEP 5: tells the peer our DHT port.
    pub fn send_dht_port(&mut self, port: u16) -> Result<(), Error> {
        self.check_active()?;
        if !self.extensions.dht() {
            return Err(Error::NotSupported("DHT"));
        }
        self.push(&Message::Port(port));
        Ok(())
    }

    /// Sends an extension message under the id the peer registered for it.
    pub fn send_extension(&mut self, m: &ExtensionMessage) -> Result<(), Error> {
        self.send_extended(m.name(), Bytes::from(m.encode()))
    }

    /// Sends a raw extension payload for extension `name`.
    pub fn send_extended(&mut self, name: &str, payload: Bytes) -> Result<(), Error> {
        self.check_active()?;
        let Some(&id) = self.peer_ext_ids.get(name) else {
            return Err(Error::NotSupported("extension"));
        };
        self.push(&Message::Extended { id, payload });
        Ok(())
    }

    /// Sets the `metadata_size` (BEP 9) our extension handshake announces.
    /// Applies to a handshake not sent yet (call it before the connection
    /// completes its handshake, e.g. right before [`accept`](Self::accept)).
    pub fn set_metadata_size(&mut self, size: Option<u64>) {
        self.cfg.extensions.metadata_size = size;
    }

    /// Whether we want nothing from the peer (our torrent is finished):
    /// said as `upload_only` in the extension handshake if it is still to
    /// be sent; once connected, a change is sent as libtorrent's
    /// `upload_only` message (if the peer registered it).
    pub fn set_upload_only(&mut self, v: bool) {
        let was = self.cfg.extensions.upload_only == Some(true);
        self.cfg.extensions.upload_only = v.then_some(true);
        if was != v && self.phase == Phase::Active && self.peer_supports(names::UPLOAD_ONLY) {
            let _ = self.send_extension(&ExtensionMessage::UploadOnly(v));
        }
    }

    /// The `complete_ago` of the extension handshake still to be sent:
    /// seconds since we last saw a complete copy of the torrent, -1 never.
    pub fn set_complete_ago(&mut self, secs: i64) {
        self.cfg.extensions.complete_ago = Some(secs);
    }

    /// Sends an updated extension handshake.
    pub fn send_ext_handshake(&mut self, h: ExtHandshake) -> Result<(), Error> {
        self.check_active()?;
        if !self.extensions.extension_protocol() {
            return Err(Error::NotSupported("extension protocol"));
        }
        self.our_ext_names =
            h.m.iter()
                .filter(|(_, &id)| id != 0)
                .map(|(n, &id)| (id, n.clone()))
                .collect();
        self.push(&Message::Extended {
            id: 0,
            payload: Bytes::from(h.encode()),
        });
        self.cfg.extensions = h;
        Ok(())
    }

    /// BEP 52 hash request / hashes / hash reject.
    pub fn send_hash_message(&mut self, m: Message) -> Result<(), Error> {
        self.check_active()?;
        if !matches!(
            m,
            Message::HashRequest(_) | Message::Hashes { .. } | Message::HashReject(_)
        ) {
            return Err(Error::UnexpectedMessage("not a hash message"));
        }
        if self.version != ProtocolVersion::V2 && !self.extensions.v2() {
            return Err(Error::NotSupported("v2"));
        }
        self.push(&m);
        Ok(())
    }

    /// Closes the connection: queues [`Event::Disconnect`] with
    /// [`Error::Closed`]. Pending output is discarded.
    pub fn close(&mut self) {
        self.close_with(Error::Closed);
    }

    fn close_with(&mut self, reason: Error) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.out.clear();
        self.small.clear();
        self.recv = BytesMut::new();
        self.outstanding.clear();
        self.peer_requests.clear();
        self.events.push_back(Event::Disconnect { reason });
    }

    // ---------------------------------------------------------------
    // Time

    /// Runs the timers: handshake timeout, inactivity timeout, keep-alive,
    /// request timeouts. Call it when [`next_timeout`](Self::next_timeout)
    /// is reached (calling it more often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        match self.phase {
            Phase::Closed => return,
            Phase::Handshake | Phase::AwaitAccept => {
                if now.saturating_duration_since(self.created) >= self.cfg.handshake_timeout {
                    self.close_with(Error::Timeout("handshake"));
                }
                return;
            }
            Phase::Active => {}
        }
        if now.saturating_duration_since(self.last_received) >= self.cfg.inactivity_timeout {
            self.close_with(Error::Timeout("no data received"));
            return;
        }
        if now.saturating_duration_since(self.last_sent) >= self.cfg.keepalive_interval {
            self.push(&Message::KeepAlive);
        }
        let t = self.cfg.request_timeout;
        for o in self.outstanding.iter_mut() {
            if !o.timed_out && now.saturating_duration_since(o.sent_at) >= t {
                o.timed_out = true;
                self.events.push_back(Event::RequestTimedOut(o.req));
            }
        }
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout)
    /// has something to do; `None` once closed.
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::Handshake | Phase::AwaitAccept => {
                Some(self.created + self.cfg.handshake_timeout)
            }
            Phase::Active => {
                let mut t = (self.last_received + self.cfg.inactivity_timeout)
                    .min(self.last_sent + self.cfg.keepalive_interval);
                if let Some(o) = self
                    .outstanding
                    .iter()
                    .filter(|o| !o.timed_out)
                    .map(|o| o.sent_at)
                    .min()
                {
                    t = t.min(o + self.cfg.request_timeout);
                }
                Some(t)
            }
        }
    }
}
