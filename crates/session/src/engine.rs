//! The engine task: owns every torrent and connection, and is the only
//! place their state changes.
//!
//! Inputs arrive on two channels — user jobs (closures) and [`Event`]s from
//! socket tasks, connect attempts and the disk thread pool — plus a 100 ms
//! tick. Each input is handled to completion before the next, so there is
//! no locking inside the engine.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lt_core::error::{Category, ErrorCode};
use lt_core::{PeerId, Sha1Hash};
use lt_picker::{BlockRef, PeerKey, PickOptions, PiecePicker, PipelineConfig, RequestPipeline};
use lt_settings::{keys, Settings, SettingsPack};
use lt_storage::{Completion, DiskIo, DiskIoConfig, HashKinds, StorageId, StorageParams};
use lt_wire::message::BlockRequest;
use lt_wire::mse::{looks_like_plaintext, CryptoMethod, MseHandshake, Rc4};
use lt_wire::peer::{Event as PeerEvent, PeerConfig, PeerConnection, PieceGeometry};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::alert::{category, Alert, AlertKind, BlockEvent, Operation, PeerRef, SocketType};
use crate::listen::{parse_listen_interfaces, ListenHost};
use crate::peer_io::{self, Closed, ConnId};
use crate::torrent::{flags, unix_now, whole_secs, AddTorrent, Metadata, Rates, Times, Torrent};
use crate::tracker_io::{self, TrackerResult};
use crate::types::{PeerInfo, TorrentId, TorrentState, TorrentStatus};
use crate::{Job, Shared};

mod handle_compat;
mod handle_ops;
mod log;
mod outgoing_mse;
mod outgoing_utp;
mod peer_class;
mod report;
mod webseed;
use lt_picker::bandwidth::{BandwidthManager, Direction};
use lt_picker::choker::{ChokePeer, Choker, ChokerConfig, ChokingAlgorithm, SeedChokingAlgorithm};
use lt_tracker::{AnnounceEntry, AnnounceJob, ConnectionCache, TrackerOutput};

mod conflict;
pub(crate) mod ctl;
mod deadline;
mod dht;
mod dht_log;
mod lsd;
mod magnet;
mod mem;
mod pex;
mod portmap;
mod proxy;
mod seed_mode;
mod share_mode;
mod ssl;
mod super_seed;
pub use ssl::SslCertificate;
mod utp_pace;
mod v2hashes;

/// Events that socket tasks, connect attempts and the disk send the engine.
pub(crate) enum Event {
    /// A connection arrived on a listen socket.
    Incoming {
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
    },
    /// An outgoing connection attempt finished.
    Connected {
        id: ConnId,
        result: std::io::Result<tokio::net::TcpStream>,
    },
    /// Bytes from a connection's reader.
    Data(ConnId, Bytes),
    /// A connection's socket closed or failed.
    Closed(ConnId, Closed),
    /// A connection's writer put this many bytes on the wire.
    Written(ConnId, usize),
    /// A datagram arrived on the UDP socket of listen endpoint `idx`.
    Udp {
        idx: usize,
        from: SocketAddr,
        data: Bytes,
    },
    /// The network reported `to` unreachable for a datagram sent from the
    /// UDP socket of listen endpoint `idx` (ICMP port unreachable).
    UdpUnreachable { idx: usize, to: SocketAddr },
    /// A disk job finished.
    Disk(Completion),
    /// A tracker request finished.
    Tracker {
        torrent: TorrentId,
        job: Box<AnnounceJob>,
        result: Box<TrackerResult>,
    },
    /// A web seed connection's task reports.
    Web(ConnId, crate::webseed_io::WebIoEvent),
    /// A connection on an SSL listen socket finished its TLS handshake.
    SslIncoming(Box<crate::ssl::SslIncoming>),
    /// An outgoing TLS connection (SSL torrent) is established or failed.
    SslConnected(
        ConnId,
        std::io::Result<Box<tokio_rustls::TlsStream<tokio::net::TcpStream>>>,
    ),
    /// A SOCKS5 UDP association task of UDP socket `idx` reports.
    ProxyUdp(usize, proxy::UdpRelayEvent),
}

struct ListenSocket {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// The UDP side of a listen endpoint: uTP connections (and, later, the DHT
/// and UDP trackers) share one socket on the listen port.
struct UdpEndpoint {
    socket: Arc<tokio::net::UdpSocket>,
    utp: lt_utp::UtpSocket,
    task: tokio::task::JoinHandle<()>,
}

/// One peer connection.
/// Stream encryption state of a connection (MSE/PE).
enum Crypto {
    /// Incoming: the first bytes decide between a plaintext handshake and MSE.
    Detect(Vec<u8>),
    Handshake(Box<MseHandshake>),
    Plain,
    /// The MSE handshake chose plaintext (`plaintext_encrypted`).
    MsePlain,
    Rc4 {
        enc: Box<Rc4>,
        dec: Box<Rc4>,
    },
}

impl Peer {
    /// The peer has every piece.
    fn is_seed(&self) -> bool {
        !self.has.is_empty() && self.has.all()
    }

    /// A seed, or a peer that said it only uploads (`upload_only`).
    fn upload_only(&self) -> bool {
        self.is_seed() || self.conn.peer_extensions().and_then(|e| e.upload_only) == Some(true)
    }
}

impl Crypto {
    /// Outgoing bytes as they go on the wire (RC4 when negotiated).
    fn encrypt(&mut self, b: Bytes) -> Bytes {
        match self {
            Crypto::Rc4 { enc, .. } => {
                let mut v = b.to_vec();
                enc.apply(&mut v);
                Bytes::from(v)
            }
            _ => b,
        }
    }
}

struct Peer {
    conn: PeerConnection,
    crypto: Crypto,
    addr: SocketAddr,
    /// Our end of the connection (unspecified until connected).
    local: SocketAddr,
    outgoing: bool,
    torrent: Option<TorrentId>,
    /// `None` while an outgoing connection is being established, and for
    /// uTP connections.
    tx: Option<mpsc::UnboundedSender<Bytes>>,
    /// A uTP connection: its endpoint, its id, and bytes its send buffer
    /// could not take yet.
    utp: Option<(usize, lt_utp::ConnectionId)>,
    utp_pending: std::collections::VecDeque<Bytes>,
    key: PeerKey,
    pipeline: RequestPipeline,
    /// The peer's pieces in the picker's representation.
    has: lt_picker::Bitfield,
    /// `has` holds what the peer said it has (a bitfield, have all/none,
    /// or a have): the wire may have parsed more than the engine has
    /// taken in yet.
    pieces_known: bool,
    /// `peer_connect_alert` was posted (so `peer_disconnected_alert` will
    /// be): when an outgoing connection starts, or an incoming one names
    /// its torrent.
    alerted_connect: bool,
    /// Both handshakes completed at some point.
    handshaked: bool,
    /// Pieces this peer sent part of that failed the hash check.
    hashfails: u32,
    /// Bytes of its blocks waiting to be written.
    writing: usize,
    /// Bytes handed to the writer task and not yet written.
    send_queued: usize,
    /// Requests not yet read from disk: the send queue is full or the
    /// upload rate limit has no quota left.
    deferred: std::collections::VecDeque<BlockRequest>,
    /// Bytes granted by the rate limiter and not used yet.
    up_credit: u64,
    down_credit: u64,
    /// Bytes of this peer's requests being read from disk.
    reading: usize,
    last_counters: [u64; 4],
    rates: Rates,
    /// Whether the last snub state was reported (`peer_snubbed_alert`).
    reported_snubbed: bool,
    /// `have` messages since the last second tick, and the download rate
    /// they imply for the peer.
    haves: u32,
    remote_dl_rate: i32,
    /// This connection's own rate limits (`set_peer_*_limit`), if set.
    bw_channel: Option<lt_picker::bandwidth::ChannelId>,
    /// The peer classes it belongs to (engine/peer_class.rs).
    classes: crate::peer_class::ClassSet,
}

/// The engine state. Reached by user calls through [`crate::Session::call`].
pub struct Engine {
    shared: Arc<Shared>,
    #[allow(dead_code)]
    jobs: mpsc::UnboundedSender<Job>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: Option<mpsc::UnboundedReceiver<Event>>,
    settings: Settings,
    listen_sockets: Vec<ListenSocket>,
    udp: Vec<UdpEndpoint>,
    /// Connections carried over uTP: (endpoint, uTP connection) → peer.
    utp_conns: HashMap<(usize, lt_utp::ConnectionId), ConnId>,
    shutting_down: bool,
    /// A peer has connected to us since the session started.
    had_incoming: bool,
    paused: bool,
    /// When the pending auto-management pass runs (`trigger_auto_manage`),
    /// and when the last one ran.
    auto_manage_at: Option<tokio::time::Instant>,
    auto_managed_at: tokio::time::Instant,
    peer_id: PeerId,
    disk: Option<DiskIo>,
    /// Boxed: the table then holds pointers, not the large `Torrent`s
    /// (idle torrents dominate the memory of big sessions).
    torrents: HashMap<TorrentId, Box<Torrent>>,
    /// The tracker settings the torrents share (engine/mem.rs).
    shared_tracker_settings: Option<Arc<lt_tracker::TrackerSettings>>,
    by_storage: HashMap<StorageId, TorrentId>,
    next_torrent: u64,
    peers: HashMap<ConnId, Peer>,
    next_conn: u64,
    /// Blocks handed to the disk and not written yet, by the connection
    /// they came from (`peer_info.pending_disk_bytes`).
    pending_writes: HashMap<(StorageId, u32, u32), ConnId>,
    /// Reads in flight: (storage, piece, offset) → connections waiting.
    pending_reads: HashMap<(StorageId, u32, u32), Vec<(ConnId, u32)>>,
    /// Reads of several contiguous blocks as one disk job, by the key of
    /// their first block: each block's (offset, length).
    read_runs: HashMap<(StorageId, u32, u32), Vec<(u32, u32)>>,
    /// `read_piece()` calls in flight: the blocks gathered so far.
    /// The buffer holds the whole piece; the count is the bytes read so far.
    user_reads: HashMap<(StorageId, u32), (crate::alert::TorrentRef, Vec<u8>, u32)>,
    /// Storages whose files are being deleted, for the alert.
    deleting: HashMap<StorageId, crate::alert::TorrentRef>,
    epoch: Instant,
    last_second: Instant,
    udp_cache: Arc<std::sync::Mutex<ConnectionCache>>,
    /// Received block bytes not yet written (read backpressure).
    recv_budget: Arc<peer_io::RecvBudget>,
    /// Torrents by v1 and truncated v2 info-hash.
    by_hash: HashMap<Sha1Hash, TorrentId>,
    bw: BandwidthManager,
    /// Peer classes and their filters (engine/peer_class.rs).
    classes: crate::peer_class::PeerClasses,
    choker: Choker,
    /// The `key` sent to trackers, and the seed of UDP transaction ids.
    tracker_key: u32,
    rng: lt_picker::Rng,
    /// The DHT nodes on the UDP sockets (engine/dht.rs).
    dht: dht::DhtDriver,
    /// Local service discovery (engine/lsd.rs).
    lsd: lsd::LsdDriver,
    /// UPnP and NAT-PMP port mapping (engine/portmap.rs).
    portmap: portmap::PortmapDriver,
    /// Metadata downloads of magnet-link torrents (engine/magnet.rs).
    magnet: magnet::MagnetState,
    /// BEP 52 hash exchange: piece layers served and fetched (engine/v2hashes.rs).
    v2hashes: v2hashes::V2HashState,
    /// Peer exchange state (engine/pex.rs).
    pex: pex::PexState,
    /// Resume data, queue and storage control (engine/ctl.rs).
    ctl: ctl::Ctl,
    deadlines: deadline::Deadlines,
    /// Web seeds and their connections.
    web: webseed::WebSeeds,
    /// Proxied connections (engine/proxy.rs).
    proxy: proxy::ProxyState,
    /// Pieces shown to super-seeded peers (engine/super_seed.rs).
    super_seed: super_seed::SuperSeedState,
    /// SSL torrents: certificates, SSL listen sockets, TLS connections.
    ssl: ssl::SslState,
    /// Outgoing uTP attempts and addresses without uTP (engine/outgoing_utp.rs).
    utp_out: outgoing_utp::UtpOut,
    /// uTP peers held back at the send watermark (engine/utp_pace.rs).
    utp_pace: utp_pace::UtpPace,
    /// Peer log framing state (engine/log.rs).
    log: log::LogState,
    /// Deprecated per-torrent settings (engine/handle_compat.rs).
    compat: handle_compat::Compat,
}

/// The libtorrent error code for a protocol error of a connection.
fn peer_error(e: &lt_wire::Error) -> ErrorCode {
    use lt_wire::Error as E;
    let v = match e {
        E::BadProtocolString | E::UnknownMessage { .. } | E::NotNegotiated { .. } => 68,
        E::UnexpectedMessage(_) | E::NotSupported(_) => 68,
        E::InfoHashMismatch => 30,
        E::SelfConnection => 47,
        E::MessageTooLarge { .. } => 81,
        E::BadMessageLength { id, .. } => match id {
            0 => 53,
            1 => 54,
            2 => 55,
            3 => 56,
            4 => 41,
            5 => 42,
            6 => 57,
            7 => 44,
            8 => 60,
            9 => 61,
            13 => 62,
            14 => 63,
            15 => 64,
            16 => 65,
            17 => 66,
            20 => 67,
            21 => 117,
            22 => 118,
            23 => 119,
            _ => 68,
        },
        E::BadBitfield => 42,
        E::InvalidHashes => 118,
        E::PieceOutOfRange { .. } => 41,
        E::BadRequest => 57,
        E::BadExtension(_) => 67,
        E::TooManyRequests => 43,
        E::Timeout(what) if what.contains("handshake") => 51,
        E::Timeout(_) => 50,
        E::Encryption(_) => 76,
        E::Closed => 0,
    };
    ErrorCode::new(v, Category::Libtorrent)
}

/// An OS error as an error code.
pub(crate) fn io_error(e: &std::io::Error) -> ErrorCode {
    if let Some(c) = proxy::socks_error(e) {
        return c;
    }
    ErrorCode::new(e.raw_os_error().unwrap_or(libc::EIO), Category::System)
}

impl Engine {
    pub(crate) fn new(
        shared: Arc<Shared>,
        jobs: mpsc::UnboundedSender<Job>,
        settings: Settings,
    ) -> Engine {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let fingerprint = settings.get_str(keys::PEER_FINGERPRINT).as_bytes().to_vec();
        let recv_limit = settings.get_int(keys::MAX_QUEUED_DISK_BYTES).max(1 << 20) as usize;
        let mut bw = BandwidthManager::new(0);
        let classes = crate::peer_class::PeerClasses::new(&mut bw, 0);
        Engine {
            shared,
            jobs,
            events_tx,
            events_rx: Some(events_rx),
            settings,
            listen_sockets: Vec::new(),
            udp: Vec::new(),
            utp_conns: HashMap::new(),
            shutting_down: false,
            auto_manage_at: None,
            auto_managed_at: tokio::time::Instant::now(),
            had_incoming: false,
            paused: false,
            peer_id: make_peer_id(&fingerprint),
            disk: None,
            torrents: HashMap::new(),
            shared_tracker_settings: None,
            by_storage: HashMap::new(),
            next_torrent: 1,
            peers: HashMap::new(),
            next_conn: 1,
            pending_reads: HashMap::new(),
            pending_writes: HashMap::new(),
            read_runs: HashMap::new(),
            user_reads: HashMap::new(),
            deleting: HashMap::new(),
            epoch: Instant::now(),
            last_second: Instant::now(),
            udp_cache: Default::default(),
            recv_budget: Arc::new(peer_io::RecvBudget::new(recv_limit)),
            by_hash: HashMap::new(),
            bw,
            classes,
            choker: Choker::new(ChokerConfig::default(), random_seed()),
            tracker_key: 0,
            rng: lt_picker::Rng::new(random_seed()),
            dht: Default::default(),
            lsd: Default::default(),
            portmap: Default::default(),
            magnet: Default::default(),
            v2hashes: Default::default(),
            pex: Default::default(),
            ctl: Default::default(),
            deadlines: Default::default(),
            web: Default::default(),
            proxy: Default::default(),
            super_seed: Default::default(),
            ssl: Default::default(),
            utp_out: Default::default(),
            utp_pace: Default::default(),
            log: Default::default(),
            compat: Default::default(),
        }
        .with_tracker_key()
    }

    fn with_tracker_key(mut self) -> Self {
        self.tracker_key = self.rng.next_u64() as u32;
        self.apply_limits();
        self.init_peer_class_settings();
        self
    }

    /// Applies the rate-limit and choking settings.
    fn apply_limits(&mut self) {
        // the session rate limits are the global peer class's
        // (engine/peer_class.rs)
        let s = &self.settings;
        let cfg = ChokerConfig {
            unchoke_slots_limit: s.get_int(keys::UNCHOKE_SLOTS_LIMIT),
            choking_algorithm: ChokingAlgorithm::from_setting(
                s.get_int(keys::CHOKING_ALGORITHM).into(),
            )
            .unwrap_or(ChokingAlgorithm::FixedSlots),
            seed_choking_algorithm: SeedChokingAlgorithm::from_setting(
                s.get_int(keys::SEED_CHOKING_ALGORITHM).into(),
            )
            .unwrap_or(SeedChokingAlgorithm::RoundRobin),
            num_optimistic_unchoke_slots: s.get_int(keys::NUM_OPTIMISTIC_UNCHOKE_SLOTS).max(0)
                as u32,
            optimistic_unchoke_interval_ms: s.get_int(keys::OPTIMISTIC_UNCHOKE_INTERVAL).max(1)
                as u64
                * 1000,
            unchoke_interval_ms: s.get_int(keys::UNCHOKE_INTERVAL).max(1) as u64 * 1000,
            rate_choker_initial_threshold: s.get_int(keys::RATE_CHOKER_INITIAL_THRESHOLD).max(0)
                as u64,
            seeding_piece_quota: s.get_int(keys::SEEDING_PIECE_QUOTA).max(1) as u32,
        };
        self.choker.set_config(cfg);
    }

    /// Posts an alert if its category is enabled.
    pub(crate) fn alert(&self, kind: AlertKind) {
        self.shared.alerts.post(Alert::new(kind));
    }

    pub(crate) fn should_post(&self, category: u32) -> bool {
        self.shared.alerts.should_post(category)
    }

    fn millis(&self, t: Instant) -> u64 {
        t.duration_since(self.epoch).as_millis() as u64
    }

    pub(crate) async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        let Some(mut events) = self.events_rx.take() else {
            return;
        };
        self.open_listen_sockets();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.shutting_down {
            let auto_manage_at = self.auto_manage_at;
            let auto_manage = async move {
                match auto_manage_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => job(&mut self),
                    None => break,
                },
                Some(ev) = events.recv() => {
                    // Blocks written while handling the batch wake one disk
                    // worker at its end, not one per block.
                    if let Some(d) = &self.disk {
                        d.hold_wakeups();
                    }
                    self.on_event(ev);
                    // Drain what is already queued before looking at jobs
                    // again, so a busy swarm is processed in batches.
                    for _ in 0..256 {
                        match events.try_recv() {
                            Ok(ev) => self.on_event(ev),
                            Err(_) => break,
                        }
                    }
                    self.utp_pump_due();
                    if let Some(d) = &self.disk {
                        d.release_wakeups();
                    }
                }
                _ = tick.tick() => self.on_tick(),
                _ = auto_manage => {}
            }
            self.auto_manage_if_due(false);
        }
        self.portmap_shutdown().await;
        self.close_listen_sockets();
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            self.disconnect(id, None);
        }
        if let Some(disk) = self.disk.take() {
            for t in self.torrents.values() {
                disk.remove_storage(t.storage);
            }
            // Dropping the service flushes and joins its threads.
            tokio::task::spawn_blocking(move || drop(disk));
        }
    }

    fn disk(&mut self) -> &DiskIo {
        if self.disk.is_none() {
            let s = &self.settings;
            let cfg = DiskIoConfig::from_settings(
                s.get_int(keys::AIO_THREADS).into(),
                s.get_int(keys::HASHING_THREADS).into(),
                s.get_int(keys::FILE_POOL_SIZE).into(),
                s.get_int(keys::CACHE_SIZE).into(),
                s.get_int(keys::MAX_QUEUED_DISK_BYTES).into(),
            );
            let tx = self.events_tx.clone();
            let sink = move |c: Completion| {
                let _ = tx.send(Event::Disk(c));
            };
            match DiskIo::new(cfg, sink) {
                Ok(d) => self.disk = Some(d),
                Err(e) => panic!("cannot start the disk threads: {e}"),
            }
            self.apply_file_settings();
        }
        match &self.disk {
            Some(d) => d,
            None => unreachable!("created above"),
        }
    }

    /// `file_pool_size`, `disk_io_write_mode` and `no_atime_storage`, for
    /// the files opened from now on (nothing to do before the disk threads
    /// start: they start with them).
    fn apply_file_settings(&self) {
        let Some(d) = &self.disk else {
            return;
        };
        let s = &self.settings;
        let pool = d.file_pool();
        pool.set_capacity(s.get_int(keys::FILE_POOL_SIZE).max(1) as usize);
        // libtorrent's io_buffer_mode_t: 2 disable_os_cache, 3 write_through
        let mode = s.get_int(keys::DISK_IO_WRITE_MODE);
        pool.set_open_flags(lt_storage::OpenFlags {
            sync: mode == 2 || mode == 3,
            noatime: s.get_bool(keys::NO_ATIME_STORAGE),
        });
    }

    fn on_event(&mut self, ev: Event) {
        // What comes from the network sees the queue settled (a torrent just
        // added is started before a peer can find it paused).
        self.auto_manage_if_due(!matches!(ev, Event::Disk(_)));
        match ev {
            Event::Incoming { stream, peer } => self.on_incoming(stream, peer),
            Event::Connected { id, result } => self.on_connected(id, result),
            Event::Data(id, data) => self.on_data(id, data),
            Event::Closed(id, why) => {
                let (err, op) = match why {
                    Closed::Eof => (eof_error(), Operation::SockRead),
                    Closed::Read(e) => (io_error(&e), Operation::SockRead),
                    Closed::Write(e) => (io_error(&e), Operation::SockWrite),
                };
                self.disconnect_op(id, Some(err), Some(op));
            }
            Event::Written(id, n) => {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.send_queued = p.send_queued.saturating_sub(n);
                }
                self.serve_deferred(id);
            }
            Event::Udp { idx, from, data } => self.on_udp(idx, from, &data),
            Event::UdpUnreachable { idx, to } => self.on_udp_unreachable(idx, to),
            Event::Disk(c) => self.on_disk(c),
            Event::Tracker {
                torrent,
                job,
                result,
            } => self.on_tracker_result(torrent, *job, *result),
            Event::Web(id, ev) => self.on_web_event(id, ev),
            Event::SslIncoming(inc) => self.on_ssl_incoming(*inc),
            Event::SslConnected(id, result) => self.on_ssl_connected(id, result),
            Event::ProxyUdp(idx, ev) => self.on_proxy_udp(idx, ev),
        }
    }

    /// Bytes from a connection: through the encryption layer (detecting and
    /// running an incoming MSE handshake) into the `PeerConnection`.
    fn on_data(&mut self, id: ConnId, data: Bytes) {
        let now = Instant::now();
        let mut start_mse: Option<Vec<u8>> = None;
        {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            match &mut p.crypto {
                Crypto::Plain | Crypto::MsePlain => p.conn.receive_bytes(data, now),
                Crypto::Rc4 { dec, .. } => {
                    let mut buf = data.to_vec();
                    dec.apply(&mut buf);
                    p.conn.receive_bytes(Bytes::from(buf), now);
                }
                Crypto::Detect(buf) => {
                    buf.extend_from_slice(&data);
                    if buf.len() >= 20 || (!buf.is_empty() && buf[0] != 19) {
                        let first = std::mem::take(buf);
                        if looks_like_plaintext(&first) {
                            p.crypto = Crypto::Plain;
                            p.conn.receive_bytes(Bytes::from(first), now);
                        } else {
                            start_mse = Some(first);
                        }
                    }
                }
                Crypto::Handshake(h) => {
                    if h.receive(&data).is_err() {
                        self.disconnect(id, Some(ErrorCode::new(76, Category::Libtorrent)));
                        return;
                    }
                }
            }
        }
        if let Some(first) = start_mse {
            if !self.start_incoming_mse(id, &first) {
                return;
            }
        }
        if !self.finish_mse(id) {
            return;
        }
        self.drive_peer(id);
    }

    /// Begins the receiving side of an MSE handshake with every torrent's
    /// info-hash as a candidate key. False when encryption is refused.
    fn start_incoming_mse(&mut self, id: ConnId, first: &[u8]) -> bool {
        let s = &self.settings;
        // in_enc_policy: 0 forced, 1 enabled, 2 disabled
        if s.get_int(keys::IN_ENC_POLICY) == 2 {
            self.disconnect(id, Some(ErrorCode::new(77, Category::Libtorrent)));
            return false;
        }
        let level = s.get_int(keys::ALLOWED_ENC_LEVEL);
        let mut methods = 0;
        if level & 1 != 0 {
            methods |= lt_wire::mse::CRYPTO_PLAINTEXT;
        }
        if level & 2 != 0 {
            methods |= lt_wire::mse::CRYPTO_RC4;
        }
        let prefer_rc4 = s.get_bool(keys::PREFER_RC4);
        let skeys: Vec<Sha1Hash> = self.by_hash.keys().copied().collect();
        let mut secret = [0u8; 96];
        os_random(&mut secret);
        let pad_len = (self.rng.next_u64() % 512) as usize;
        let pad: Vec<u8> = (0..pad_len).map(|_| self.rng.next_u64() as u8).collect();
        let mut h = MseHandshake::incoming(&skeys, &secret, &pad, methods, prefer_rc4);
        if h.receive(first).is_err() {
            self.disconnect(id, Some(ErrorCode::new(76, Category::Libtorrent)));
            return false;
        }
        if let Some(p) = self.peers.get_mut(&id) {
            p.crypto = Crypto::Handshake(Box::new(h));
        }
        true
    }

    /// Sends what the MSE handshake queued and, once it is done, switches
    /// the connection to its negotiated mode. False if the peer is gone.
    fn finish_mse(&mut self, id: ConnId) -> bool {
        let now = Instant::now();
        let Some(p) = self.peers.get_mut(&id) else {
            return false;
        };
        let Crypto::Handshake(h) = &mut p.crypto else {
            return true;
        };
        let out = h.take_output();
        let utp = p.utp.is_some();
        if !out.is_empty() {
            if utp {
                // written by flush_utp below, ahead of any BitTorrent bytes
                p.utp_pending.push_back(Bytes::from(out));
            } else {
                p.send_queued += out.len();
                if let Some(tx) = &p.tx {
                    let _ = tx.send(Bytes::from(out));
                }
            }
        }
        if !h.is_done() {
            if utp {
                self.flush_utp(id);
            }
            return true;
        }
        let Some(r) = h.take_result() else {
            return true;
        };
        p.crypto = match (r.method, r.encryptor, r.decryptor) {
            (CryptoMethod::Rc4, Some(enc), Some(dec)) => Crypto::Rc4 {
                enc: Box::new(enc),
                dec: Box::new(dec),
            },
            _ => Crypto::MsePlain,
        };
        if !r.initial_payload.is_empty() {
            p.conn.receive_bytes(Bytes::from(r.initial_payload), now);
        }
        if utp {
            self.flush_utp(id);
        }
        true
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for idx in 0..self.udp.len() {
            if let Some(u) = self.udp.get_mut(idx) {
                u.utp.tick(now);
            }
            self.pump_utp(idx);
        }
        self.utp_out_tick(now);
        self.dht_tick();
        self.lsd_tick();
        self.portmap_tick();
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in &ids {
            if let Some(p) = self.peers.get_mut(id) {
                p.conn.handle_timeout(now);
            }
            self.serve_deferred(*id);
            self.request_blocks(*id);
            self.drive_peer(*id);
        }
        self.web_tick();
        self.ctl_tick();
        self.deadline_tick();
        if now.duration_since(self.last_second) >= Duration::from_secs(1) {
            let secs = now.duration_since(self.last_second).as_secs_f64();
            self.last_second = now;
            self.second_tick(secs);
        }
    }

    fn second_tick(&mut self, secs: f64) {
        self.proxy_udp_tick();
        // (errors and piece checks change what counts without a hook)
        self.account_times();
        for p in self.peers.values_mut() {
            let c = p.conn.counters();
            let totals = [
                (c.payload_down + c.protocol_down) as i64,
                (c.payload_up + c.protocol_up) as i64,
                c.payload_down as i64,
                c.payload_up as i64,
            ];
            p.rates.update(totals, secs);
            p.pipeline
                .update_rate(p.rates.payload_download.max(0) as u64);
            let piece_len = p
                .torrent
                .and_then(|t| self.torrents.get(&t))
                .map_or(0.0, |t| t.picker.piece_length() as f64);
            let rate = f64::from(std::mem::take(&mut p.haves)) * piece_len / secs.max(0.001);
            p.remote_dl_rate = (f64::from(p.remote_dl_rate) * 0.5 + rate * 0.5) as i32;
        }
        let tids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        let now = Instant::now();
        for tid in tids {
            if let Some(t) = self.torrents.get_mut(&tid) {
                let due: Vec<SocketAddr> = t
                    .retry
                    .iter()
                    .filter(|(at, _)| *at <= now)
                    .map(|(_, a)| *a)
                    .collect();
                if !due.is_empty() {
                    t.retry.retain(|(at, _)| *at > now);
                }
                for a in due {
                    if !t.candidates.contains(&a) {
                        t.candidates.push_back(a);
                    }
                }
                let totals = [
                    t.total_download,
                    t.total_upload,
                    t.total_payload_download,
                    t.total_payload_upload,
                ];
                let (down, up) = (t.rates.payload_total(2), t.rates.payload_total(3));
                t.rates.update(totals, secs);
                if t.total_payload_download > down {
                    t.last_download = unix_now();
                }
                if t.total_payload_upload > up {
                    t.last_upload = unix_now();
                }
                if t.peers
                    .iter()
                    .any(|c| self.peers.get(c).is_some_and(Peer::is_seed))
                {
                    t.last_seen_complete = unix_now();
                }
            }
            self.connect_candidates(tid);
            self.tracker_timer(tid);
        }
        self.web_second_tick(secs);
        self.choke_round();
        self.auto_manage();
        self.magnet_tick();
        self.v2hash_tick();
        self.pex_tick();
        self.share_tick();
        self.ss_tick(now);
        self.snub_tick(now);
        self.report_second(Duration::from_secs_f64(secs));
    }

    /// Asks for an auto-management pass (as libtorrent, which posts it):
    /// after the current job or event batch, but at most one pass per
    /// `AUTO_MANAGE_INTERVAL`, since a pass sorts the whole queue (adding
    /// 1,000 torrents one call at a time ran 1,000 passes). Network events
    /// run a pending pass first.
    pub(crate) fn trigger_auto_manage(&mut self) {
        const AUTO_MANAGE_INTERVAL: Duration = Duration::from_millis(2);
        let earliest = self.auto_managed_at + AUTO_MANAGE_INTERVAL;
        self.auto_manage_at.get_or_insert(earliest);
    }

    /// Runs the pending auto-management pass if its time has come, or
    /// with `now_anyway` if one is pending at all.
    fn auto_manage_if_due(&mut self, now_anyway: bool) {
        let Some(at) = self.auto_manage_at else {
            return;
        };
        let now = tokio::time::Instant::now();
        if now_anyway || at <= now {
            self.auto_manage_at = None;
            self.auto_managed_at = now;
            self.auto_manage();
        }
    }

    /// Starts and stops auto-managed torrents so that at most
    /// `active_downloads` download and `active_seeds` seed (and at most
    /// `active_limit` in all), in queue order (the order they were added).
    fn auto_manage(&mut self) {
        if self.paused {
            return;
        }
        let s = &self.settings;
        let limit = |k| match s.get_int(k) {
            n if n < 0 => usize::MAX,
            n => n as usize,
        };
        let (max_dl, max_seed, max_all) = (
            limit(keys::ACTIVE_DOWNLOADS),
            limit(keys::ACTIVE_SEEDS),
            limit(keys::ACTIVE_LIMIT),
        );
        let mut ids: Vec<TorrentId> = self
            .torrents
            .values()
            .filter(|t| {
                t.flags & flags::AUTO_MANAGED != 0
                    && t.error.is_none()
                    && !matches!(
                        t.state,
                        TorrentState::CheckingFiles
                            | TorrentState::CheckingResumeData
                            | TorrentState::QueuedForChecking
                    )
            })
            .map(|t| t.id)
            .collect();
        self.ctl_queue_sort(&mut ids);
        let (mut dl, mut seed, mut all) = (0usize, 0usize, 0usize);
        for id in ids {
            let Some(t) = self.torrents.get(&id) else {
                continue;
            };
            let finished = t.picker.is_finished();
            let start = all < max_all
                && if finished {
                    seed < max_seed
                } else {
                    dl < max_dl
                };
            if start {
                all += 1;
                if finished {
                    seed += 1;
                } else {
                    dl += 1;
                }
                if t.is_paused() {
                    self.resume_torrent(id);
                }
            } else if !t.is_paused() {
                self.pause_torrent(id);
            }
        }
    }

    pub(crate) fn begin_shutdown(&mut self) {
        self.shutting_down = true;
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Applies a settings pack and reacts to the values that changed.
    pub fn apply_settings(&mut self, pack: &SettingsPack) {
        let old_listen = self.settings.get_str(keys::LISTEN_INTERFACES).to_owned();
        let old_fingerprint = self.settings.get_str(keys::PEER_FINGERPRINT).to_owned();
        let old_classes = self.peer_class_settings_before();
        self.settings.apply(pack);
        self.peer_class_settings_changed(old_classes);
        if self.settings.get_str(keys::PEER_FINGERPRINT) != old_fingerprint {
            self.peer_id = make_peer_id(self.settings.get_str(keys::PEER_FINGERPRINT).as_bytes());
        }
        let s = &self.settings;
        self.shared
            .alerts
            .set_mask(s.get_int(keys::ALERT_MASK) as u32);
        self.shared
            .alerts
            .set_limit(s.get_int(keys::ALERT_QUEUE_SIZE).max(1) as usize);
        self.apply_limits();
        self.recv_budget.limit.store(
            self.settings
                .get_int(keys::MAX_QUEUED_DISK_BYTES)
                .max(1 << 20) as usize,
            std::sync::atomic::Ordering::Relaxed,
        );
        if self.settings.get_str(keys::LISTEN_INTERFACES) != old_listen {
            self.close_listen_sockets();
            self.open_listen_sockets();
        }
        self.proxy_udp_tick();
        self.dht_apply_settings();
        self.utp_apply_settings();
        self.apply_file_settings();
    }

    pub fn pause(&mut self) {
        if self.paused {
            return;
        }
        self.account_times();
        self.paused = true;
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            self.disconnect(id, None);
        }
    }

    pub fn resume(&mut self) {
        self.account_times();
        self.paused = false;
    }

    /// Brings every torrent's time counters up to now.
    fn account_times(&mut self) {
        let now = Instant::now();
        for t in self.torrents.values_mut() {
            t.account_time(now, !self.paused);
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    // ------------------------------------------------------------------
    // torrents

    /// Adds a torrent. Fails when one with the same info-hash exists.
    pub fn add_torrent(&mut self, p: AddTorrent) -> Result<TorrentId, ErrorCode> {
        let ih = p.meta.info_hashes();
        if let Some(existing) = self.find_torrent(&ih) {
            if p.flags & flags::DUPLICATE_IS_ERROR != 0 {
                return Err(ErrorCode::new(
                    19, /* duplicate_torrent */
                    Category::Libtorrent,
                ));
            }
            return Ok(existing);
        }
        // Without metadata (magnet link): a placeholder one-piece picker.
        let magnet = !p.meta.is_valid();
        let fs = p.meta.files();
        let picker = PiecePicker::new(
            fs.total_size().max(magnet as i64) as u64,
            fs.piece_length().max(1) as u32,
            ih.best().0[0] as u64 | 0x9e37_79b9_7f4a_7c15,
        )
        .map_err(|_| ErrorCode::new(10 /* parse_failed files */, Category::Libtorrent))?;
        let id = TorrentId(self.next_torrent);
        self.next_torrent += 1;
        let mut sp = StorageParams::new(p.meta.clone(), p.save_path.clone());
        sp.file_priorities = p.file_priorities.clone();
        sp.mode = p.storage_mode;
        sp.part_file_name = format!(".{}.parts", ih.best().to_hex());
        sp.renamed_files = self.ctl_pending_renames();
        let kinds = match (ih.has_v1(), ih.has_v2()) {
            (true, true) => HashKinds::BOTH,
            (false, true) => HashKinds::V2,
            _ => HashKinds::V1,
        };
        let storage = self.disk().add_storage(sp, kinds);
        let now = Instant::now();
        let mut t = Torrent {
            id,
            meta: p.meta,
            save_path: p.save_path,
            storage,
            picker,
            state: TorrentState::CheckingResumeData,
            flags: p.flags,
            error: None,
            error_file: -1,
            peers: Default::default(),
            candidates: Default::default(),
            known: Default::default(),
            known_seeds: Default::default(),
            banned: Default::default(),
            retry: Default::default(),
            failcount: Default::default(),
            hashing: Default::default(),
            seed_verify: None,
            contributors: Default::default(),
            checking_progress: 0.0,
            full_check: false,
            file_priorities: p.file_priorities,
            added_time: unix_now(),
            completed_time: 0,
            last_seen_complete: 0,
            times: Times::new(now),
            total_payload_download: 0,
            total_payload_upload: 0,
            total_download: 0,
            total_upload: 0,
            total_failed_bytes: 0,
            total_redundant_bytes: 0,
            upload_limit: p.upload_limit,
            download_limit: p.download_limit,
            max_connections: p.max_connections,
            max_uploads: p.max_uploads,
            rates: Rates::default(),
            bw_channel: {
                let now = self.millis(now);
                let ch = self.bw.add_channel(now);
                self.bw
                    .set_limit(now, ch, Direction::Upload, p.upload_limit.max(0) as u64);
                self.bw
                    .set_limit(now, ch, Direction::Download, p.download_limit.max(0) as u64);
                ch
            },
            deadline_alerts: Default::default(),
            storage_mode: p.storage_mode,
            stats_reported: [0; 4],
            last_download: 0,
            last_upload: 0,
            plaintext_peers: Default::default(),
            trackers: {
                let mut list = lt_tracker::TrackerList::new(ih, self.shared_tracker_settings());
                for (url, tier) in &p.trackers {
                    list.add_tracker(AnnounceEntry::new(url, *tier, lt_tracker::source::TORRENT));
                }
                if list.settings().prefer_udp_trackers {
                    list.prioritize_udp_trackers();
                }
                list
            },
        };
        // Pad-file blocks never come from peers.
        mark_pad_blocks(&mut t);
        if !p.piece_priorities.is_empty() {
            t.picker.set_piece_priorities(&p.piece_priorities);
        } else if !t.file_priorities.is_empty() {
            let prios = lt_picker::file_priorities_to_piece_priorities(
                &file_ranges(t.meta.files()),
                &t.file_priorities,
                t.picker.piece_length(),
                t.picker.num_pieces(),
            );
            t.picker.set_piece_priorities(&prios);
        }
        if t.flags & flags::SEQUENTIAL_DOWNLOAD != 0 {
            t.picker.set_sequential(true);
        }
        share_mode::share_zero_priorities(&mut t);
        let one_per_ip = self.one_per_ip();
        for a in p.peers {
            t.learn_peer(a, one_per_ip, false);
        }
        let tref = t.torrent_ref();
        self.by_storage.insert(storage, id);
        for h in wire_hashes(&ih) {
            self.by_hash.insert(h, id);
        }
        self.torrents.insert(id, Box::new(t));
        self.shared.live().insert(id);
        self.ctl_added(id);
        if self.should_post(category::STATUS) {
            self.alert(AlertKind::TorrentAdded {
                torrent: tref.clone(),
            });
        }
        let params = self.ctl_take_add_params();
        self.alert(AlertKind::AddTorrent {
            torrent: tref,
            error: ErrorCode::default(),
            params,
        });
        self.ssl_torrent_added(id);
        self.torrent_log(id, || {
            format!(
                "init torrent: {}",
                self.torrents.get(&id).map_or("", |t| t.meta.name())
            )
        });
        if magnet {
            self.start_magnet(id);
        } else {
            self.start_checking(id);
        }
        Ok(id)
    }

    fn set_state(&mut self, id: TorrentId, state: TorrentState) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let prev = t.state;
        if prev == state {
            return;
        }
        let said = self.says_upload_only(id);
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        t.account_time(Instant::now(), !self.paused);
        t.state = state;
        let tref = t.torrent_ref();
        self.torrent_log(id, || format!("set_state() {}", state as i32));
        self.alert(AlertKind::StateChanged {
            torrent: tref,
            state,
            prev_state: prev,
        });
        let says = self.says_upload_only(id);
        // As libtorrent, tell the peers only where they may close the
        // connection over it, i.e. with `close_redundant_connections`.
        if says != said && self.settings.get_bool(keys::CLOSE_REDUNDANT_CONNECTIONS) {
            for c in self.torrent_conns(id) {
                if let Some(p) = self.peers.get_mut(&c) {
                    p.conn.set_upload_only(says);
                }
                self.flush(c);
            }
        }
    }

    fn start_checking(&mut self, id: TorrentId) {
        if self.ctl_take_resume(id) {
            return;
        }
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let storage = t.storage;
        if t.flags & flags::SEED_MODE != 0 {
            // Seed mode: trust the files if they have their sizes; each
            // piece is hashed before its first upload (engine/seed_mode.rs).
            self.ctl_check_seed_mode(id);
            return;
        }
        let meta = t.meta.clone();
        self.check_oversized_files(id);
        // As libtorrent: the torrent is in checking_resume_data until the
        // check finds data on disk (Completion::CheckStarted); a torrent
        // with none goes straight on to downloading.
        self.set_state(id, TorrentState::CheckingResumeData);
        if let Some(t) = self.torrents.get_mut(&id) {
            t.full_check = true;
            t.checking_progress = 0.0;
        }
        let verifier: lt_storage::PieceVerifier =
            Box::new(move |piece, h| verify_piece(meta.as_ref(), piece, h));
        self.disk().async_check_files(storage, verifier);
    }

    /// Files checked (or trusted): start downloading or seeding.
    fn checked(&mut self, id: TorrentId) {
        self.ss_checked(id);
        self.share_checked(id);
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        t.checking_progress = 1.0;
        let tref = t.torrent_ref();
        let state = if t.picker.is_seeding() {
            TorrentState::Seeding
        } else if t.picker.is_finished() {
            TorrentState::Finished
        } else {
            TorrentState::Downloading
        };
        if t.storage_mode == lt_storage::StorageMode::Allocate && state == TorrentState::Downloading
        {
            // Allocate every wanted file in full now, so a disk that cannot
            // hold the torrent fails here (Completion::Initialized).
            let storage = t.storage;
            self.disk().async_initialize(storage);
        }
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let paused = t.is_paused();
        if state != TorrentState::Downloading {
            // Complete already, as a download that ends: libtorrent passes
            // through `finished` and posts `torrent_finished_alert`.
            if t.completed_time == 0 {
                t.completed_time = unix_now();
            }
            self.set_state(id, TorrentState::Finished);
            self.alert(AlertKind::TorrentFinished {
                torrent: tref.clone(),
            });
        }
        self.set_state(id, state);
        self.alert(AlertKind::TorrentChecked { torrent: tref });
        if self.ctl_stop_when_ready(id) {
            return;
        }
        if !paused {
            self.start_announcing(id);
        }
        self.trigger_auto_manage();
        self.connect_candidates(id);
    }

    pub fn find_torrent(&self, ih: &lt_core::InfoHash) -> Option<TorrentId> {
        wire_hashes(ih)
            .into_iter()
            .find_map(|h| self.by_hash.get(&h).copied())
    }

    /// The torrent whose (possibly truncated v2) info-hash is `wire`.
    fn torrent_by_wire_hash(&self, wire: &Sha1Hash) -> Option<TorrentId> {
        self.by_hash.get(wire).copied()
    }

    pub fn torrent_ids(&self) -> Vec<TorrentId> {
        let mut v: Vec<TorrentId> = self.torrents.keys().copied().collect();
        v.sort();
        v
    }

    pub fn has_torrent(&self, id: TorrentId) -> bool {
        self.torrents.contains_key(&id)
    }

    pub fn torrent_meta(&self, id: TorrentId) -> Option<Arc<lt_metainfo::TorrentInfo>> {
        self.torrents.get(&id).map(|t| t.meta.clone())
    }

    pub fn remove_torrent(&mut self, id: TorrentId, delete_files: bool) -> bool {
        self.ctl_forget(id);
        self.deadline_forget(id);
        self.compat_forget(id);
        self.stop_announcing(id);
        self.magnet_torrent_removed(id);
        self.v2hash_torrent_removed(id);
        self.pex_torrent_removed(id);
        self.ssl_torrent_removed(id);
        let Some(t) = self.torrents.get(&id) else {
            return false;
        };
        let peers: Vec<ConnId> = t.peers.iter().copied().collect();
        for c in peers {
            self.disconnect(c, None);
        }
        let Some(t) = self.torrents.remove(&id) else {
            return false;
        };
        self.shared.live().remove(&id);
        self.by_storage.remove(&t.storage);
        self.pending_writes.retain(|k, _| k.0 != t.storage);
        for h in wire_hashes(&Metadata::info_hashes(t.meta.as_ref())) {
            self.by_hash.remove(&h);
        }
        self.bw.remove_channel(t.bw_channel);
        let tref = t.torrent_ref();
        if let Some(disk) = &self.disk {
            if delete_files {
                disk.async_delete_files(t.storage, lt_storage::DeleteFlags::Files);
                // The deleted/failed alert comes with the completion.
                self.deleting.insert(t.storage, tref.clone());
            } else {
                disk.remove_storage(t.storage);
            }
        }
        self.alert(AlertKind::TorrentRemoved { torrent: tref });
        true
    }

    pub fn status(&self, id: TorrentId) -> Option<TorrentStatus> {
        self.status_with(id, crate::types::status_query::ALL, None, Instant::now())
    }

    /// The status with the optional parts in `query`; `queue` holds the
    /// queue positions when the caller computed them for many torrents.
    pub(crate) fn status_with(
        &self,
        id: TorrentId,
        query: u32,
        queue: Option<&HashMap<TorrentId, i32>>,
        now: Instant,
    ) -> Option<TorrentStatus> {
        let t = self.torrents.get(&id)?;
        let mut seeds = 0;
        let mut uploads = 0;
        for c in &t.peers {
            if let Some(p) = self.peers.get(c) {
                if p.is_seed() {
                    seeds += 1;
                }
                if !p.conn.am_choking() {
                    uploads += 1;
                }
            }
        }
        let peers = self.num_not_connecting(t.peers.iter()) as i32;
        let mut st = t.status(peers, t.peers.len() as i32, seeds, uploads, query);
        let times = t.times_at(now, !self.paused);
        st.active_duration = whole_secs(times.active);
        st.finished_duration = whole_secs(times.finished);
        st.seeding_duration = whole_secs(times.seeding);
        st.paused = st.paused || self.paused;
        self.ctl_status(id, &mut st, queue, now);
        st.priority = self.torrent_priority(id);
        Some(st)
    }

    pub fn pause_torrent(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if t.flags & flags::PAUSED != 0 {
            return;
        }
        t.account_time(Instant::now(), !self.paused);
        t.flags |= flags::PAUSED;
        let tref = t.torrent_ref();
        let peers: Vec<ConnId> = t.peers.iter().copied().collect();
        self.torrent_log(id, || {
            format!("pausing torrent, disconnecting {} peers", peers.len())
        });
        for c in peers {
            self.disconnect(c, None);
        }
        self.stop_announcing(id);
        self.alert(AlertKind::TorrentPaused { torrent: tref });
    }

    pub fn resume_torrent(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if t.flags & flags::PAUSED == 0 {
            return;
        }
        t.account_time(Instant::now(), !self.paused);
        t.flags &= !flags::PAUSED;
        // Reconnect to every peer we knew.
        let known: Vec<SocketAddr> = t.known.iter().copied().collect();
        t.candidates = known.into_iter().collect();
        let tref = t.torrent_ref();
        self.torrent_log(id, || "resuming torrent".to_string());
        self.alert(AlertKind::TorrentResumed { torrent: tref });
        self.start_announcing(id);
        self.connect_candidates(id);
    }

    pub fn set_flags(&mut self, id: TorrentId, value: u64, mask: u64) {
        let paused_before = self.torrents.get(&id).map(|t| t.is_paused());
        let super_seeding_before = self.super_seeding_active(id);
        let share_mode_before = self.share_mode_on(id);
        if mask & flags::PAUSED != 0 {
            if value & flags::PAUSED != 0 {
                self.pause_torrent(id);
            } else if paused_before == Some(true) {
                self.resume_torrent(id);
            }
        }
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let m = mask & !flags::PAUSED;
        t.flags = (t.flags & !m) | (value & m);
        t.picker
            .set_sequential(t.flags & flags::SEQUENTIAL_DOWNLOAD != 0);
        self.ss_flags_changed(id, super_seeding_before);
        self.share_flags_changed(id, share_mode_before);
    }

    pub fn connect_peer(&mut self, id: TorrentId, addr: SocketAddr) {
        let one_per_ip = self.one_per_ip();
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        // A banned peer stays banned (as in libtorrent).
        if t.banned.contains(&addr.ip()) {
            return;
        }
        t.learn_peer(addr, one_per_ip, true);
        self.connect_candidates(id);
    }

    pub fn force_recheck(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let peers: Vec<ConnId> = t.peers.iter().copied().collect();
        let n = t.picker.num_pieces();
        for i in 0..n {
            t.picker.clear_have(i);
        }
        t.error = None;
        // Every piece is hashed now: the torrent leaves seed mode.
        t.flags &= !flags::SEED_MODE;
        t.seed_verify = None;
        for c in peers {
            self.disconnect(c, None);
        }
        self.start_checking(id);
    }

    /// Clears a torrent's error; it can then be resumed.
    pub fn clear_error(&mut self, id: TorrentId) {
        if let Some(t) = self.torrents.get_mut(&id) {
            t.error = None;
            t.error_file = -1;
        }
        self.trigger_auto_manage();
    }

    /// Writes out every buffered block of the torrent.
    pub fn flush_cache(&mut self, id: TorrentId) {
        if let Some(storage) = self.torrents.get(&id).map(|t| t.storage) {
            self.disk().async_flush(storage);
        }
    }

    pub fn have_piece(&self, id: TorrentId, piece: u32) -> bool {
        self.torrents
            .get(&id)
            .is_some_and(|t| t.picker.have_piece(piece))
    }

    pub fn read_piece(&mut self, id: TorrentId, piece: u32) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let tref = t.torrent_ref();
        if piece >= t.picker.num_pieces() || !t.picker.have_piece(piece) {
            self.alert(AlertKind::ReadPiece {
                torrent: tref,
                piece,
                data: Vec::new(),
                error: ErrorCode::new(141 /* invalid_piece_index */, Category::Libtorrent),
            });
            return;
        }
        let storage = t.storage;
        let size = t.picker.piece_size(piece);
        self.user_reads
            .insert((storage, piece), (tref, vec![0; size as usize], 0));
        let mut off = 0;
        while off < size {
            let len = (size - off).min(lt_picker::BLOCK_SIZE);
            self.disk().async_read(storage, piece, off, len);
            off += len;
        }
    }

    pub fn file_progress(&self, id: TorrentId) -> Vec<i64> {
        let Some(t) = self.torrents.get(&id) else {
            return Vec::new();
        };
        let fs = t.meta.files();
        let mut out = vec![0i64; fs.num_files()];
        for piece in 0..t.picker.num_pieces() {
            if !t.picker.have_piece(piece) {
                continue;
            }
            for s in fs.map_block(piece as i32, 0, t.picker.piece_size(piece) as i64) {
                if let Some(v) = out.get_mut(s.file_index) {
                    *v += s.size;
                }
            }
        }
        out
    }

    pub fn piece_priorities(&self, id: TorrentId) -> Vec<u8> {
        self.torrents
            .get(&id)
            .map(|t| t.picker.piece_priorities())
            .unwrap_or_default()
    }

    pub fn set_piece_priorities(&mut self, id: TorrentId, prios: &[(u32, u8)]) {
        if let Some(t) = self.torrents.get_mut(&id) {
            for &(i, p) in prios {
                t.picker.set_piece_priority(i, p);
            }
        }
        self.after_priority_change(id);
    }

    pub fn file_priorities(&self, id: TorrentId) -> Vec<u8> {
        let Some(t) = self.torrents.get(&id) else {
            return Vec::new();
        };
        let n = t.meta.files().num_files();
        (0..n)
            .map(|i| t.file_priorities.get(i).copied().unwrap_or(4))
            .collect()
    }

    pub fn set_file_priorities(&mut self, id: TorrentId, prios: Vec<u8>) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        t.file_priorities = prios.clone();
        let piece_prios = lt_picker::file_priorities_to_piece_priorities(
            &file_ranges(t.meta.files()),
            &t.file_priorities,
            t.picker.piece_length(),
            t.picker.num_pieces(),
        );
        t.picker.set_piece_priorities(&piece_prios);
        let storage = t.storage;
        let tref = t.torrent_ref();
        self.disk().async_set_file_priorities(storage, prios);
        self.after_priority_change(id);
        self.alert(AlertKind::FilePrio { torrent: tref });
    }

    fn after_priority_change(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let finished = t.picker.is_finished();
        let state = t.state;
        if finished && state == TorrentState::Downloading {
            self.on_finished(id);
        } else if !finished && matches!(state, TorrentState::Finished) {
            self.set_state(id, TorrentState::Downloading);
            // the seeds left alone while finished are worth dialling again
            if let Some(t) = self.torrents.get_mut(&id) {
                let seeds: Vec<SocketAddr> = t.known_seeds.iter().copied().collect();
                for a in seeds {
                    if t.known.contains(&a) && !t.candidates.contains(&a) {
                        t.candidates.push_back(a);
                    }
                }
            }
            self.connect_candidates(id);
        }
        let conns = self.torrent_conns(id);
        for c in conns {
            self.update_interest(c);
            self.request_blocks(c);
            self.flush(c);
        }
    }

    /// Availability of every piece; empty for a seed (as libtorrent, which
    /// drops its piece picker once seeding).
    pub fn piece_availability(&self, id: TorrentId) -> Vec<i32> {
        self.torrents
            .get(&id)
            .filter(|t| !t.is_seed())
            .map(|t| {
                t.picker
                    .piece_availability()
                    .into_iter()
                    .map(|v| v as i32)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn download_queue(&self, id: TorrentId) -> Vec<lt_picker::PartialPieceInfo> {
        self.torrents
            .get(&id)
            .map(|t| t.picker.download_queue())
            .unwrap_or_default()
    }

    /// The connections of torrent `id` (none if it is gone), to act on
    /// while the engine changes.
    fn torrent_conns(&self, id: TorrentId) -> Vec<ConnId> {
        self.torrents
            .get(&id)
            .map(|t| t.peers.iter().copied().collect())
            .unwrap_or_default()
    }

    /// libtorrent's default: one connection per IP and torrent (unless
    /// `allow_multiple_connections_per_ip`).
    fn one_per_ip(&self) -> bool {
        !self
            .settings
            .get_bool(keys::ALLOW_MULTIPLE_CONNECTIONS_PER_IP)
    }

    /// Whether an outgoing connection is still being established (the
    /// TCP or uTP connect has not completed): libtorrent's half-open
    /// connections, which count as connections but not as peers.
    fn is_connecting(&self, cid: ConnId, p: &Peer) -> bool {
        p.outgoing && ((p.tx.is_none() && p.utp.is_none()) || self.utp_is_connecting(cid))
    }

    /// Connections that are not [connecting](Self::is_connecting).
    fn num_not_connecting<'a>(&self, ids: impl Iterator<Item = &'a ConnId>) -> usize {
        ids.filter(|c| {
            self.peers
                .get(c)
                .is_some_and(|p| !self.is_connecting(**c, p))
        })
        .count()
    }

    pub fn peer_info(&self, id: TorrentId) -> Vec<PeerInfo> {
        let Some(t) = self.torrents.get(&id) else {
            return Vec::new();
        };
        let down_limited = t.download_limit > 0;
        let n = t.picker.num_pieces();
        let now = Instant::now();
        let max_timeout = self.settings.get_int(keys::REQUEST_TIMEOUT).max(1) as i64;
        t.peers
            .iter()
            .filter_map(|c| Some((*c, self.peers.get(c)?)))
            .map(|(cid, p)| {
                let connecting = self.is_connecting(cid, p);
                let pieces: Vec<bool> = (0..n).map(|i| p.has.get(i as usize)).collect();
                let have = pieces.iter().filter(|&&b| b).count();
                let progress = if n == 0 { 0.0 } else { have as f32 / n as f32 };
                let c = p.conn.counters();
                let receiving = p.conn.receiving_block();
                let requested: i64 = p
                    .conn
                    .outstanding_requests()
                    .map(|r| i64::from(r.length))
                    .sum();
                let rt = p.conn.round_trips();
                let (recv_cap, recv_used) = p.conn.recv_buffer_use();
                let peer_id = p.conn.peer_id();
                let pid = peer_id.map(|h| h.0).unwrap_or([0; 20]);
                // peer_info flag bits
                let mut fl = 0u32;
                let mut set = |cond: bool, bit: u32| {
                    if cond {
                        fl |= bit;
                    }
                };
                set(p.conn.am_interested(), 0x1); // interesting
                set(p.conn.am_choking(), 0x2); // choked
                set(p.conn.peer_interested(), 0x4); // remote_interested
                set(p.conn.peer_choking(), 0x8); // remote_choked
                set(p.conn.peer_extensions().is_some(), 0x10); // supports_extensions
                set(p.outgoing, 0x20); // outgoing_connection
                set(!connecting && !p.conn.is_connected(), 0x40); // handshake
                set(connecting, 0x80); // connecting
                set(p.has.all() && n > 0, 0x400); // seed
                set(p.pipeline.is_snubbed(), 0x1000); // snubbed
                let says_upload_only = p.conn.peer_extensions().and_then(|e| e.upload_only);
                set(says_upload_only == Some(true), 0x2000); // upload_only
                set(matches!(p.crypto, Crypto::Rc4 { .. }), 0x80000); // rc4_encrypted
                set(matches!(p.crypto, Crypto::MsePlain), 0x100000); // plaintext_encrypted
                set(p.utp.is_some(), 0x20000); // utp_socket
                PeerInfo {
                    ip: p.addr,
                    local_endpoint: p.local,
                    pid,
                    // As libtorrent: the version the extension handshake
                    // names, else what the peer id tells (nothing before
                    // the handshake).
                    client: match p.conn.peer_extensions().and_then(|e| e.v.as_ref()) {
                        Some(v) if !v.is_empty() => v.as_bytes().to_vec(),
                        _ if peer_id.is_some() => lt_core::fingerprint::identify_client_bytes(&pid),
                        _ => Vec::new(),
                    },
                    flags: fl,
                    source: self.peer_source(id, p.addr, p.outgoing),
                    connection_type: 1, // standard_bittorrent
                    num_pieces: have as i32,
                    pieces,
                    up_speed: p.rates.upload,
                    down_speed: p.rates.download,
                    payload_up_speed: p.rates.payload_upload,
                    payload_down_speed: p.rates.payload_download,
                    total_download: c.payload_down as i64,
                    total_upload: c.payload_up as i64,
                    download_queue_length: p.pipeline.num_outstanding() as i32,
                    upload_queue_length: p.conn.peer_requests().count() as i32,
                    // requested bytes not received yet
                    queue_bytes: (requested - receiving.map_or(0, |b| i64::from(b.2)))
                        .clamp(0, i64::from(i32::MAX)) as i32,
                    request_timeout: if requested == 0 {
                        -1
                    } else {
                        request_timeout_secs(rt, max_timeout)
                    },
                    num_hashfails: p.hashfails as i32,
                    failcount: t.failcount.get(&p.addr).map_or(0, |&f| f as i32),
                    downloading_piece_index: receiving.map_or(-1, |b| b.0 as i32),
                    downloading_block_index: receiving
                        .map_or(-1, |b| (b.1 / lt_picker::BLOCK_SIZE) as i32),
                    downloading_progress: receiving.map_or(0, |b| b.2 as i32),
                    downloading_total: receiving.map_or(0, |b| b.3 as i32),
                    progress,
                    progress_ppm: (progress as f64 * 1e6) as i32,
                    last_request: now.saturating_duration_since(p.conn.last_request()),
                    last_active: now.saturating_duration_since(p.conn.last_active()),
                    rtt: rt.mean_ms().min(i64::from(i32::MAX)) as i32,
                    // bytes handed to the socket writer and not yet sent:
                    // our send queue has no capacity beyond what it holds
                    send_buffer_size: p.send_queued.min(i32::MAX as usize) as i32,
                    used_send_buffer: p.send_queued.min(i32::MAX as usize) as i32,
                    receive_buffer_size: recv_cap.min(i32::MAX as usize) as i32,
                    used_receive_buffer: recv_used.min(i32::MAX as usize) as i32,
                    download_rate_peak: p.rates.download_peak,
                    upload_rate_peak: p.rates.upload_peak,
                    read_state: bw_state(
                        p.down_credit == 0
                            && (down_limited || self.class_download_limited(&p.classes)),
                        true,
                        self.recv_budget.over(),
                    ),
                    write_state: bw_state(
                        !p.deferred.is_empty() && p.reading == 0,
                        p.send_queued > 0,
                        p.reading > 0,
                    ),
                    pending_disk_bytes: p.writing.min(i32::MAX as usize) as i32,
                    send_quota: p.up_credit.min(i32::MAX as u64) as i32,
                    receive_quota: p.down_credit.min(i32::MAX as u64) as i32,
                    remote_dl_rate: p.remote_dl_rate,
                    download_queue_time: {
                        let queued =
                            p.pipeline.num_outstanding() as i64 * i64::from(lt_picker::BLOCK_SIZE);
                        let rate = i64::from(p.rates.payload_download.max(1));
                        (queued / rate) as i32
                    },
                }
            })
            .chain(self.web_peer_info(id))
            .collect()
    }

    /// Posts a `state_update` alert with the status of every torrent.
    pub fn post_torrent_updates(&mut self) {
        let status: Vec<TorrentStatus> = self
            .torrent_ids()
            .into_iter()
            .filter_map(|id| self.status(id))
            .collect();
        self.alert(AlertKind::StateUpdate { status });
    }

    /// Posts a `session_stats` alert with every metric, by metric index.
    pub fn post_session_stats(&mut self) {
        let mut values = vec![0i64; lt_settings::metrics::NUM_METRICS];
        let mut set = |name: &str, v: i64| {
            if let Some(i) = lt_settings::metrics::find_metric_idx(name) {
                if let Some(slot) = values.get_mut(i) {
                    *slot = v;
                }
            }
        };
        let (mut pd, mut d, mut pu, mut u, mut failed, mut redundant) = (0, 0, 0, 0, 0, 0);
        let mut by_state = [0i64; 8];
        for t in self.torrents.values() {
            pd += t.total_payload_download;
            d += t.total_download;
            pu += t.total_payload_upload;
            u += t.total_upload;
            failed += t.total_failed_bytes;
            redundant += t.total_redundant_bytes;
            by_state[t.state as usize] += 1;
        }
        set("net.recv_payload_bytes", pd);
        set("net.recv_bytes", d);
        set("net.sent_payload_bytes", pu);
        set("net.sent_bytes", u);
        set("net.recv_failed_bytes", failed);
        set("net.recv_redundant_bytes", redundant);
        set(
            "ses.num_downloading_torrents",
            by_state[TorrentState::Downloading as usize],
        );
        set(
            "ses.num_seeding_torrents",
            by_state[TorrentState::Seeding as usize],
        );
        set(
            "ses.num_checking_torrents",
            by_state[TorrentState::CheckingFiles as usize],
        );
        set(
            "ses.num_upload_only_torrents",
            by_state[TorrentState::Finished as usize],
        );
        let connected = self.num_not_connecting(self.peers.keys()) as i64;
        set("peer.num_peers_connected", connected);
        set(
            "peer.num_peers_half_open",
            self.peers.len() as i64 - connected,
        );
        set(
            "peer.num_peers_up_unchoked",
            self.peers.values().filter(|p| !p.conn.am_choking()).count() as i64,
        );
        set(
            "peer.num_peers_down_unchoked",
            self.peers
                .values()
                .filter(|p| !p.conn.peer_choking())
                .count() as i64,
        );
        set(
            "peer.num_peers_down_interested",
            self.peers
                .values()
                .filter(|p| p.conn.am_interested())
                .count() as i64,
        );
        set(
            "peer.num_peers_up_interested",
            self.peers
                .values()
                .filter(|p| p.conn.peer_interested())
                .count() as i64,
        );
        // Bytes handed to the disk for writing and not written yet: queued
        // write jobs and blocks held in the write cache alike.
        set(
            "disk.queued_write_bytes",
            self.recv_budget
                .queued
                .load(std::sync::atomic::Ordering::Relaxed) as i64,
        );
        for (name, v) in self.dht_metrics() {
            set(name, v);
        }
        self.alert(AlertKind::SessionStatsHeader);
        self.alert(AlertKind::SessionStats { values });
    }

    // ------------------------------------------------------------------
    // trackers

    fn tracker_settings(&self) -> lt_tracker::TrackerSettings {
        let s = &self.settings;
        lt_tracker::TrackerSettings {
            user_agent: s.get_str(keys::USER_AGENT).to_owned(),
            anonymous_mode: s.get_bool(keys::ANONYMOUS_MODE),
            announce_ip: s.get_str(keys::ANNOUNCE_IP).to_owned(),
            announce_crypto_support: s.get_bool(keys::ANNOUNCE_CRYPTO_SUPPORT),
            in_enc_policy: s.get_int(keys::IN_ENC_POLICY),
            report_redundant_bytes: s.get_bool(keys::REPORT_REDUNDANT_BYTES),
            num_want: s.get_int(keys::NUM_WANT),
            min_announce_interval: s.get_int(keys::MIN_ANNOUNCE_INTERVAL).max(0) as u32,
            max_http_recv_buffer_size: s.get_int(keys::MAX_HTTP_RECV_BUFFER_SIZE).max(1024)
                as usize,
            tracker_completion_timeout: s.get_int(keys::TRACKER_COMPLETION_TIMEOUT).max(1) as u32,
            tracker_receive_timeout: s.get_int(keys::TRACKER_RECEIVE_TIMEOUT).max(1) as u32,
            stop_tracker_timeout: s.get_int(keys::STOP_TRACKER_TIMEOUT).max(1) as u32,
            udp_tracker_token_expiry: s.get_int(keys::UDP_TRACKER_TOKEN_EXPIRY).max(0) as u32,
            tracker_backoff: s.get_int(keys::TRACKER_BACKOFF).max(0) as u32,
            announce_to_all_tiers: s.get_bool(keys::ANNOUNCE_TO_ALL_TIERS),
            announce_to_all_trackers: s.get_bool(keys::ANNOUNCE_TO_ALL_TRACKERS),
            ssrf_mitigation: s.get_bool(keys::SSRF_MITIGATION),
            allow_idna: s.get_bool(keys::ALLOW_IDNA),
            prefer_udp_trackers: s.get_bool(keys::PREFER_UDP_TRACKERS),
        }
    }

    /// What the trackers are told about a torrent.
    fn tracker_status(&self, id: TorrentId) -> Option<lt_tracker::TorrentStatus> {
        let t = self.torrents.get(&id)?;
        let total = t.meta.files().total_size();
        Some(lt_tracker::TorrentStatus {
            peer_id: self.peer_id,
            key: self.tracker_key,
            listen_port: self.ssl_announce_port(id),
            uploaded: t.total_payload_upload,
            downloaded: t.total_payload_download,
            left: (total - t.picker.bytes_done() as i64).max(0),
            corrupt: t.total_failed_bytes,
            redundant: t.total_redundant_bytes,
            is_seed: t.picker.is_seeding(),
            is_finished: t.picker.is_finished(),
            private_torrent: t.meta.private(),
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        })
    }

    /// Runs `f` on a torrent's tracker list with the torrent's current
    /// status, then carries out what the list asks for.
    fn drive_trackers(
        &mut self,
        id: TorrentId,
        f: impl FnOnce(&mut lt_tracker::TrackerList, &lt_tracker::TorrentStatus, Instant),
    ) {
        let Some(st) = self.tracker_status(id) else {
            return;
        };
        if let Some(t) = self.torrents.get_mut(&id) {
            f(&mut t.trackers, &st, Instant::now());
        }
        self.pump_trackers(id);
    }

    fn start_announcing(&mut self, id: TorrentId) {
        let endpoints = self.listen_endpoints();
        self.drive_trackers(id, |list, st, now| {
            list.set_listen_endpoints(&endpoints);
            list.start_announcing(now, st);
        });
    }

    fn stop_announcing(&mut self, id: TorrentId) {
        self.drive_trackers(id, |list, st, now| list.stop_announcing(now, st));
    }

    fn tracker_timer(&mut self, id: TorrentId) {
        self.drive_trackers(id, |list, st, now| list.on_timer(now, st));
    }

    /// Carries out what a torrent's tracker list asks for.
    fn pump_trackers(&mut self, id: TorrentId) {
        loop {
            let Some(t) = self.torrents.get_mut(&id) else {
                return;
            };
            let Some(out) = t.trackers.poll_output() else {
                return;
            };
            let torrent = t.torrent_ref();
            let ep = |k: &lt_tracker::AnnounceKey| Some(k.local_endpoint);
            match out {
                TrackerOutput::Announce(job) | TrackerOutput::Scrape(job) => {
                    if job.request.kind == lt_tracker::RequestKind::Announce {
                        self.alert(AlertKind::TrackerAnnounce {
                            torrent,
                            url: job.key.url.clone(),
                            local_endpoint: ep(&job.key),
                            version: job.key.version,
                            event: tracker_event(job.request.event),
                        });
                    }
                    let settings = self.tracker_settings();
                    let cache = self.udp_cache.clone();
                    let seed = self.rng.next_u64();
                    let tx = self.events_tx.clone();
                    let proxy = self.tracker_proxy();
                    let login = self.tracker_login(id);
                    tokio::spawn(async move {
                        let result = tracker_io::run(
                            job.request.clone(),
                            settings,
                            cache,
                            seed,
                            proxy,
                            login,
                        )
                        .await;
                        let _ = tx.send(Event::Tracker {
                            torrent: id,
                            job: Box::new(job),
                            result: Box::new(result),
                        });
                    });
                }
                TrackerOutput::Reply { key, num_peers } => self.alert(AlertKind::TrackerReply {
                    torrent,
                    url: key.url.clone(),
                    local_endpoint: ep(&key),
                    version: key.version,
                    num_peers: num_peers as i32,
                }),
                TrackerOutput::Warning { key, message } => self.alert(AlertKind::TrackerWarning {
                    torrent,
                    url: key.url.clone(),
                    local_endpoint: ep(&key),
                    version: key.version,
                    msg: message,
                }),
                TrackerOutput::Error {
                    key,
                    error,
                    times_in_row,
                    failure_reason,
                } => {
                    let status_code = match &error {
                        lt_tracker::TrackerError::HttpStatus { code, .. } => *code as i32,
                        _ => -1,
                    };
                    self.alert(AlertKind::TrackerError {
                        torrent,
                        url: key.url.clone(),
                        local_endpoint: ep(&key),
                        version: key.version,
                        times_in_row: times_in_row as i32,
                        error: tracker_error_code(&error),
                        failure_reason,
                        status_code,
                    })
                }
                TrackerOutput::TrackerId { .. } => {}
                TrackerOutput::ScrapeReply {
                    key,
                    complete,
                    incomplete,
                } => self.alert(AlertKind::ScrapeReply {
                    torrent,
                    url: key.url.clone(),
                    local_endpoint: ep(&key),
                    version: key.version,
                    incomplete,
                    complete,
                }),
                TrackerOutput::ScrapeFailed { key, error } => self.alert(AlertKind::ScrapeFailed {
                    torrent,
                    url: key.url.clone(),
                    local_endpoint: ep(&key),
                    version: key.version,
                    error: tracker_error_code(&error),
                    msg: error.to_string(),
                }),
            }
        }
    }

    fn on_tracker_result(&mut self, id: TorrentId, job: AnnounceJob, result: TrackerResult) {
        let Some(st) = self.tracker_status(id) else {
            return;
        };
        let own = self.listen_endpoints();
        let one_per_ip = self.one_per_ip();
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let now = Instant::now();
        match result {
            TrackerResult::Announce(resp) => {
                t.trackers.on_announce_response(now, &job, &resp);
                let mut addrs: Vec<SocketAddr> = resp
                    .peers4
                    .iter()
                    .map(|a| SocketAddr::V4(*a))
                    .chain(resp.peers6.iter().map(|a| SocketAddr::V6(*a)))
                    .collect();
                for p in &resp.peers {
                    if let Ok(ip) = p.hostname.parse::<IpAddr>() {
                        addrs.push(SocketAddr::new(ip, p.port));
                    }
                }
                for a in addrs {
                    if own.contains(&a) || t.banned.contains(&a.ip()) || a.port() == 0 {
                        continue;
                    }
                    t.learn_peer(a, one_per_ip, false);
                }
            }
            TrackerResult::Scrape(resp) => t.trackers.on_scrape_response(&job, &resp),
            TrackerResult::Failed(e) => {
                if job.request.kind == lt_tracker::RequestKind::Scrape {
                    t.trackers.on_scrape_error(&job, &e);
                } else {
                    t.trackers.on_announce_error(now, &job, &e, &st);
                }
            }
        }
        self.pump_trackers(id);
        self.connect_candidates(id);
    }

    /// The torrent's trackers with their state.
    pub fn trackers(&self, id: TorrentId) -> Vec<AnnounceEntry> {
        self.torrents
            .get(&id)
            .map(|t| t.trackers.trackers().to_vec())
            .unwrap_or_default()
    }

    pub fn add_tracker(&mut self, id: TorrentId, url: String, tier: u8) {
        let endpoints = self.listen_endpoints();
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if t.trackers
            .add_tracker(AnnounceEntry::new(&url, tier, lt_tracker::source::CLIENT))
        {
            t.trackers.set_listen_endpoints(&endpoints);
        }
        if t.is_active() {
            self.tracker_timer(id);
        }
    }

    pub fn replace_trackers(&mut self, id: TorrentId, list: Vec<(String, u8)>) {
        let endpoints = self.listen_endpoints();
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let entries = list
            .iter()
            .map(|(u, tier)| AnnounceEntry::new(u, *tier, lt_tracker::source::CLIENT))
            .collect();
        t.trackers.replace_trackers(entries);
        t.trackers.set_listen_endpoints(&endpoints);
        if t.is_active() {
            self.start_announcing(id);
        }
    }

    /// Announces again after `seconds` (to tracker `idx`, or all).
    pub fn force_reannounce(
        &mut self,
        id: TorrentId,
        seconds: u32,
        idx: Option<usize>,
        ignore_min_interval: bool,
    ) {
        if let Some(t) = self.torrents.get_mut(&id) {
            t.trackers
                .force_reannounce(Instant::now(), seconds, idx, ignore_min_interval);
        }
        self.tracker_timer(id);
    }

    pub fn scrape_tracker(&mut self, id: TorrentId, idx: Option<usize>) {
        self.drive_trackers(id, |list, st, _| list.scrape(idx, st));
    }

    /// Per-torrent limits: `(upload, download, max_connections, max_uploads)`;
    /// a negative value leaves that one unchanged.
    pub fn set_torrent_limits(
        &mut self,
        id: TorrentId,
        up: Option<i32>,
        down: Option<i32>,
        conns: Option<i32>,
        uploads: Option<i32>,
    ) {
        let now = self.millis(Instant::now());
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if let Some(v) = up {
            t.upload_limit = if v <= 0 { -1 } else { v };
            self.bw
                .set_limit(now, t.bw_channel, Direction::Upload, v.max(0) as u64);
        }
        if let Some(v) = down {
            t.download_limit = if v <= 0 { -1 } else { v };
            self.bw
                .set_limit(now, t.bw_channel, Direction::Download, v.max(0) as u64);
        }
        if let Some(v) = conns {
            t.max_connections = v;
        }
        if let Some(v) = uploads {
            t.max_uploads = v;
        }
    }

    /// `set_piece_deadline`: the piece is picked before others, earliest
    /// deadline first; with `alert_when_available` its data is posted as a
    /// `read_piece_alert` once we have it.
    pub fn set_piece_deadline(&mut self, id: TorrentId, piece: u32, deadline_ms: u32, alert: bool) {
        let now = self.millis(Instant::now());
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if piece >= t.picker.num_pieces() {
            return;
        }
        let have = t.picker.have_piece(piece);
        if !have {
            t.picker
                .set_piece_deadline(piece, now + u64::from(deadline_ms));
        }
        if alert {
            if have {
                self.read_piece(id, piece);
            } else if let Some(t) = self.torrents.get_mut(&id) {
                t.deadline_alerts.insert(piece);
            }
        }
        let conns = self.torrent_conns(id);
        for c in conns {
            self.request_blocks(c);
            self.flush(c);
        }
    }

    pub fn reset_piece_deadline(&mut self, id: TorrentId, piece: u32) {
        if let Some(t) = self.torrents.get_mut(&id) {
            t.picker.clear_piece_deadline(piece);
            t.deadline_alerts.remove(&piece);
        }
    }

    pub fn clear_piece_deadlines(&mut self, id: TorrentId) {
        if let Some(t) = self.torrents.get_mut(&id) {
            t.picker.clear_deadlines();
            t.deadline_alerts.clear();
        }
    }

    /// Number of connected peers in the session.
    pub fn num_connections(&self) -> usize {
        self.peers.len()
    }

    // ------------------------------------------------------------------
    // connections

    fn peer_config(&self) -> PeerConfig {
        let mut cfg = PeerConfig::new(self.peer_id);
        cfg.max_peer_requests = self
            .settings
            .get_int(keys::MAX_ALLOWED_IN_REQUEST_QUEUE)
            .max(1) as usize;
        // `peer_timeout` is libtorrent's "nothing received" timeout;
        // `inactivity_timeout` is about uninterested peers.
        cfg.inactivity_timeout =
            Duration::from_secs(self.settings.get_int(keys::PEER_TIMEOUT).max(1) as u64);
        cfg.handshake_timeout =
            Duration::from_secs(self.settings.get_int(keys::HANDSHAKE_TIMEOUT).max(1) as u64);
        cfg.request_timeout =
            Duration::from_secs(self.settings.get_int(keys::REQUEST_TIMEOUT).max(1) as u64);
        cfg.allowed_fast_set_size =
            self.settings.get_int(keys::ALLOWED_FAST_SET_SIZE).max(0) as u32;
        // As libtorrent: `handshake_client_version`, else the user agent.
        let v = match self.settings.get_str(keys::HANDSHAKE_CLIENT_VERSION) {
            "" => self.settings.get_str(keys::USER_AGENT),
            v => v,
        };
        cfg.extensions.v = Some(v.to_string()).filter(|v| !v.is_empty());
        cfg.extensions.p = Some(self.listen_port());
        Self::add_our_extensions(&mut cfg.extensions);
        self.apply_anonymous_mode(&mut cfg);
        cfg
    }

    fn wire_torrent(&self, id: TorrentId) -> Option<lt_wire::peer::TorrentInfo> {
        let t = self.torrents.get(&id)?;
        let fs = t.meta.files();
        let geometry = PieceGeometry::new(fs.piece_length() as u32, fs.total_size().max(0) as u64);
        let n = t.picker.num_pieces();
        let mut our = lt_wire::Bitfield::new(n);
        for i in 0..n {
            if t.picker.have_piece(i) {
                our.set(i);
            }
        }
        self.ss_hide_pieces(id, &mut our);
        Some(lt_wire::peer::TorrentInfo {
            info_hash: t.meta.info_hashes(),
            geometry,
            our_pieces: our,
        })
    }

    fn new_peer(
        &mut self,
        mut conn: PeerConnection,
        addr: SocketAddr,
        outgoing: bool,
        torrent: Option<TorrentId>,
    ) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        if let Some(t) = torrent {
            conn.set_metadata_size(self.metadata_size_of(t));
        }
        let now = Instant::now();
        let pipeline = RequestPipeline::new(self.pipeline_config(), self.millis(now));
        let n = torrent
            .and_then(|t| self.torrents.get(&t))
            .map_or(0, |t| t.picker.num_pieces());
        self.peers.insert(
            id,
            Peer {
                conn,
                crypto: if outgoing {
                    Crypto::Plain
                } else {
                    Crypto::Detect(Vec::new())
                },
                addr,
                local: SocketAddr::from(([0, 0, 0, 0], 0)),
                outgoing,
                torrent,
                tx: None,
                utp: None,
                utp_pending: Default::default(),
                key: PeerKey(id.0 as u32),
                pipeline,
                has: lt_picker::Bitfield::new(n as usize),
                alerted_connect: false,
                handshaked: false,
                hashfails: 0,
                writing: 0,
                send_queued: 0,
                deferred: Default::default(),
                up_credit: 0,
                down_credit: 0,
                reading: 0,
                last_counters: [0; 4],
                rates: Rates::default(),
                reported_snubbed: false,
                haves: 0,
                pieces_known: false,
                remote_dl_rate: 0,
                bw_channel: None,
                classes: Default::default(),
            },
        );
        if let Some(t) = torrent.and_then(|t| self.torrents.get_mut(&t)) {
            t.peers.insert(id);
        }
        id
    }

    /// Second tick: a peer that sent no block for `piece_timeout` while
    /// requests to it were outstanding is snubbed (`peer_snubbed_alert`
    /// follows from `report_second`); its requests are cancelled and go
    /// back to the picker for other peers. Requests older than
    /// `request_timeout` are the wire's (`RequestTimedOut`).
    fn snub_tick(&mut self, now: Instant) {
        let now_ms = self.millis(now);
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            let back = p.pipeline.poll_timeouts(now_ms);
            if back.is_empty() {
                continue;
            }
            let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) else {
                continue;
            };
            for b in back {
                let len = t.picker.block_size(b);
                let _ = p.conn.cancel(BlockRequest::new(
                    b.piece,
                    b.block * lt_picker::BLOCK_SIZE,
                    len,
                ));
                t.picker.mark_aborted(b, p.key);
            }
            self.flush(id);
            self.request_blocks(id);
        }
    }

    fn pipeline_config(&self) -> PipelineConfig {
        PipelineConfig {
            request_queue_time: self.settings.get_int(keys::REQUEST_QUEUE_TIME).max(1) as f64,
            max_out_request_queue: self.settings.get_int(keys::MAX_OUT_REQUEST_QUEUE).max(1) as u32,
            piece_timeout_ms: self.settings.get_int(keys::PIECE_TIMEOUT).max(1) as u64 * 1000,
            request_timeout_ms: self.settings.get_int(keys::REQUEST_TIMEOUT).max(1) as u64 * 1000,
            ..PipelineConfig::default()
        }
    }

    fn connect_candidates(&mut self, id: TorrentId) {
        if self.paused || self.shutting_down {
            return;
        }
        let max_global = self.settings.get_int(keys::CONNECTIONS_LIMIT).max(1) as usize;
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        if !t.is_active() || self.ssl_blocks_connect(id) || !self.outgoing_transport_enabled() {
            return;
        }
        let limit = if t.max_connections > 0 {
            t.max_connections as usize
        } else {
            usize::MAX
        };
        let mut budget = limit
            .saturating_sub(t.peers.len())
            .min(max_global.saturating_sub(self.peers.len()));
        let Some(wire) = self.wire_torrent(id) else {
            return;
        };
        let send_hash = {
            let ih = wire.info_hash;
            if ih.has_v1() {
                ih.v1
            } else {
                ih.v2.truncated()
            }
        };
        let timeout =
            Duration::from_secs(self.settings.get_int(keys::PEER_CONNECT_TIMEOUT).max(1) as u64);
        let one_per_ip = self.one_per_ip();
        while budget > 0 {
            let Some(addr) = self
                .torrents
                .get_mut(&id)
                .and_then(|t| t.candidates.if_allocated()?.pop_front())
            else {
                break;
            };
            if self.peers.values().any(|p| {
                p.torrent == Some(id) && (p.addr == addr || one_per_ip && p.addr.ip() == addr.ip())
            }) {
                continue;
            }
            if self.ctl_blocked(Some(id), addr) || self.privileged_port_blocked(id, addr) {
                continue;
            }
            // a seed has nothing for a finished torrent
            let finished = self.torrents.get(&id).is_some_and(|t| {
                t.is_finished() && t.meta.is_valid() && t.known_seeds.contains(&addr)
            });
            if finished {
                continue;
            }
            budget -= 1;
            let mut conn = PeerConnection::outgoing(
                self.peer_config(),
                wire.clone(),
                send_hash,
                Some(addr.ip()),
                Instant::now(),
            );
            let (upload_only, complete_ago) = self.ext_handshake_state(id);
            conn.set_upload_only(upload_only);
            conn.set_complete_ago(complete_ago);
            let cid = self.new_peer(conn, addr, true, Some(id));
            self.join_peer_classes(cid);
            if self.ssl_connect(cid, id, addr, timeout) {
                self.alert_peer_connect(cid);
                continue;
            }
            self.begin_outgoing_mse(cid, id, send_hash);
            self.start_outgoing_connect(cid, addr, timeout);
        }
    }

    fn on_connected(&mut self, id: ConnId, result: std::io::Result<tokio::net::TcpStream>) {
        match result {
            Ok(stream) => {
                let Some(p) = self.peers.get_mut(&id) else {
                    return;
                };
                if let Ok(a) = stream.local_addr() {
                    p.local = a;
                }
                p.tx = Some(peer_io::start(
                    id,
                    stream,
                    self.events_tx.clone(),
                    self.recv_budget.clone(),
                ));
                self.log_connected(id);
                // An outgoing MSE handshake sends its key first.
                if !self.finish_mse(id) {
                    return;
                }
                self.drive_peer(id);
            }
            Err(e) => {
                self.proxy_connect_failed(id, &e);
                self.disconnect(id, Some(io_error(&e)));
            }
        }
    }

    /// `no_connect_privileged_ports`: a peer on a port below 1024 is not
    /// connected to (`peer_blocked_alert`, `privileged_ports`).
    fn privileged_port_blocked(&self, id: TorrentId, addr: SocketAddr) -> bool {
        if addr.port() >= 1024 || !self.settings.get_bool(keys::NO_CONNECT_PRIVILEGED_PORTS) {
            return false;
        }
        let torrent = self.torrents.get(&id).map(|t| t.torrent_ref());
        self.peer_blocked(torrent, addr, 3 /* privileged_ports */);
        true
    }

    /// Posts `peer_blocked_alert` for `addr` with libtorrent's `reason`.
    pub(super) fn peer_blocked(
        &self,
        torrent: Option<crate::alert::TorrentRef>,
        addr: SocketAddr,
        reason: i32,
    ) {
        self.alert(AlertKind::PeerBlocked {
            torrent,
            peer: PeerRef {
                endpoint: addr,
                pid: [0; 20],
            },
            reason,
        });
    }

    fn on_incoming(&mut self, stream: tokio::net::TcpStream, addr: SocketAddr) {
        if !self.settings.get_bool(keys::ENABLE_INCOMING_TCP) {
            // as libtorrent: refused before it counts as an incoming
            // connection (dropping `stream` closes it)
            self.peer_blocked(None, addr, 5 /* tcp_disabled */);
            return;
        }
        // As libtorrent, only a connection from outside the local network
        // proves that we are reachable.
        self.had_incoming |= !lt_core::ip_filter::is_local(&addr.ip());
        self.alert(AlertKind::IncomingConnection {
            endpoint: addr,
            socket_type: SocketType::Tcp,
        });
        if self.ctl_blocked(None, addr) {
            return;
        }
        if self.paused || self.incoming_over_limit(addr.ip(), false) {
            return;
        }
        let conn = PeerConnection::incoming(self.peer_config(), Some(addr.ip()), Instant::now());
        let id = self.new_peer(conn, addr, false, None);
        self.join_peer_classes(id);
        if let (Some(p), Ok(a)) = (self.peers.get_mut(&id), stream.local_addr()) {
            p.local = a;
        }
        let tx = peer_io::start(id, stream, self.events_tx.clone(), self.recv_budget.clone());
        if let Some(p) = self.peers.get_mut(&id) {
            p.tx = Some(tx);
        }
        self.log_connection(id);
    }

    /// Handles a connection's pending events and sends what it queued.
    fn drive_peer(&mut self, id: ConnId) {
        loop {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            let Some(ev) = p.conn.poll_event() else {
                break;
            };
            self.on_peer_event(id, ev);
        }
        self.flush(id);
    }

    fn flush(&mut self, id: ConnId) {
        let utp = self.peers.get(&id).is_some_and(|p| p.utp.is_some());
        if utp {
            self.flush_utp(id);
        }
        let log_out = self.should_post(category::PEER_LOG);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if !utp {
            let Some(tx) = &p.tx else {
                return;
            };
            if matches!(p.crypto, Crypto::Handshake(_)) {
                // The BitTorrent handshake waits for the encryption handshake.
                return;
            }
            let mut logged = Vec::new();
            while let Some(b) = p.conn.poll_transmit() {
                p.send_queued += b.len();
                if log_out {
                    logged.push(b.clone());
                }
                let b = p.crypto.encrypt(b);
                if tx.send(b).is_err() {
                    break;
                }
            }
            for b in logged {
                self.log_outgoing(id, &b);
            }
        }
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        // uTP peers too: the torrent's transfer totals
        let c = p.conn.counters();
        let now = [c.payload_down, c.protocol_down, c.payload_up, c.protocol_up];
        let d: Vec<i64> = now
            .iter()
            .zip(p.last_counters.iter())
            .map(|(a, b)| a.saturating_sub(*b) as i64)
            .collect();
        p.last_counters = now;
        if let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) {
            t.total_payload_download += d[0];
            t.total_download += d[0] + d[1];
            t.total_payload_upload += d[2];
            t.total_upload += d[2] + d[3];
        }
    }

    /// Posts `peer_connect_alert` for a connection bound to its torrent, as
    /// libtorrent: an outgoing one as it starts connecting, an incoming one
    /// once its handshake names the torrent.
    fn alert_peer_connect(&mut self, id: ConnId) {
        let Some((torrent, peer)) = self.peer_ref(id) else {
            return;
        };
        let socket_type = self.socket_type(id);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if p.alerted_connect {
            return;
        }
        p.alerted_connect = true;
        let outgoing = p.outgoing;
        self.alert(AlertKind::PeerConnect {
            torrent,
            peer,
            socket_type,
            outgoing,
        });
    }

    fn peer_ref(&self, id: ConnId) -> Option<(crate::alert::TorrentRef, PeerRef)> {
        let p = self.peers.get(&id)?;
        let t = self.torrents.get(&p.torrent?)?;
        Some((
            t.torrent_ref(),
            PeerRef {
                endpoint: p.addr,
                pid: p.conn.peer_id().map(|h| h.0).unwrap_or([0; 20]),
            },
        ))
    }

    /// An incoming connection names torrent `tid`. Under
    /// [one connection per IP](Self::one_per_ip), as libtorrent: if the
    /// torrent has a connection with that IP already, the new one is closed
    /// (`duplicate_peer_id`), unless ours is still connecting, then that one
    /// goes. False when `id` was closed.
    fn admit_one_per_ip(&mut self, id: ConnId, tid: TorrentId) -> bool {
        let (Some(p), Some(t)) = (self.peers.get(&id), self.torrents.get(&tid)) else {
            return false;
        };
        if !self.one_per_ip() {
            return true;
        }
        let ip = p.addr.ip();
        let other = t
            .peers
            .iter()
            .copied()
            .find(|c| *c != id && self.peers.get(c).is_some_and(|q| q.addr.ip() == ip));
        let Some(other) = other else {
            return true;
        };
        let duplicate = ErrorCode::new(79 /* duplicate_peer_id */, Category::Libtorrent);
        let connecting = self
            .peers
            .get(&other)
            .is_some_and(|q| self.is_connecting(other, q));
        if connecting {
            self.disconnect(other, Some(duplicate));
            true
        } else {
            self.disconnect(id, Some(duplicate));
            false
        }
    }

    fn on_peer_event(&mut self, id: ConnId, ev: PeerEvent) {
        self.log_peer_event(id, &ev);
        match ev {
            PeerEvent::IncomingHandshake { info_hash, .. } => {
                let tid = self.torrent_by_wire_hash(&info_hash);
                let wire = tid.and_then(|t| {
                    self.torrents
                        .get(&t)
                        .filter(|t| t.is_active())
                        .and_then(|_| self.wire_torrent(t))
                });
                let (Some(tid), Some(wire)) = (tid, wire) else {
                    self.disconnect(id, None);
                    return;
                };
                if !self.ssl_handshake_allowed(id, tid) {
                    self.disconnect(id, None);
                    return;
                }
                let banned = self.peers.get(&id).is_some_and(|p| {
                    self.torrents
                        .get(&tid)
                        .is_some_and(|t| t.banned.contains(&p.addr.ip()))
                });
                if banned {
                    self.disconnect(id, None);
                    return;
                }
                if !self.admit_one_per_ip(id, tid) {
                    return;
                }
                let n = self.torrents.get(&tid).map_or(0, |t| t.picker.num_pieces());
                let metadata_size = self.metadata_size_of(tid);
                let (upload_only, complete_ago) = self.ext_handshake_state(tid);
                if let Some(p) = self.peers.get_mut(&id) {
                    p.torrent = Some(tid);
                    p.has = lt_picker::Bitfield::new(n as usize);
                    p.conn.set_metadata_size(metadata_size);
                    p.conn.set_upload_only(upload_only);
                    p.conn.set_complete_ago(complete_ago);
                    let _ = p.conn.accept(wire, Instant::now());
                }
                if let Some(t) = self.torrents.get_mut(&tid) {
                    t.peers.insert(id);
                }
                self.log_attached(tid, id);
                self.alert_peer_connect(id);
            }
            PeerEvent::Connected { peer_id, .. } => {
                // Like libtorrent: a second connection to the same torrent
                // from the same peer id is closed (duplicate_peer_id).
                let tid = self.peers.get(&id).and_then(|p| p.torrent);
                let duplicate = tid.is_some()
                    && self.peers.iter().any(|(o, q)| {
                        *o != id
                            && q.torrent == tid
                            && q.conn.is_connected()
                            && q.conn.peer_id() == Some(peer_id)
                    });
                if duplicate {
                    self.disconnect(
                        id,
                        Some(ErrorCode::new(
                            79, /* duplicate_peer_id */
                            Category::Libtorrent,
                        )),
                    );
                    return;
                }
                if let Some(p) = self.peers.get_mut(&id) {
                    p.handshaked = true;
                }
                self.maybe_unchoke(id);
                self.ss_connected(id);
            }
            PeerEvent::Bitfield | PeerEvent::HaveAll | PeerEvent::HaveNone => {
                // The peer (re-)announced all its pieces: the wire state holds
                // them; availability is recounted from scratch for this peer.
                let Some(p) = self.peers.get(&id) else {
                    return;
                };
                let n = p.has.len();
                let mut has = lt_picker::Bitfield::new(n);
                if let Some(bf) = p.conn.peer_pieces() {
                    for i in bf.iter_set() {
                        has.set(i as usize);
                    }
                }
                self.set_peer_pieces(id, has);
                if self.close_if_redundant(id, 37 /* upload_upload_connection */) {
                    return;
                }
                self.ss_peer_pieces(id);
                self.update_interest(id);
                self.request_blocks(id);
            }
            PeerEvent::Have(i) => {
                let newly = self
                    .peers
                    .get_mut(&id)
                    .map(|p| {
                        p.pieces_known = true;
                        !p.has.get(i as usize) && p.has.set(i as usize)
                    })
                    .unwrap_or(false);
                if newly {
                    self.with_picker(id, |picker, _| picker.peer_have(i));
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.haves += 1;
                    }
                    self.saw_if_seed(id);
                    if self.close_if_redundant(id, 37 /* upload_upload_connection */) {
                        return;
                    }
                }
                self.ss_have(id, i);
                self.update_interest(id);
                self.request_blocks(id);
            }
            PeerEvent::DontHave(i) => {
                let had = self
                    .peers
                    .get_mut(&id)
                    .map(|p| p.has.get(i as usize) && p.has.clear(i as usize))
                    .unwrap_or(false);
                if had {
                    self.with_picker(id, |picker, _| picker.peer_lost_have(i));
                }
            }
            PeerEvent::Unchoked | PeerEvent::AllowedFast(_) => self.request_blocks(id),
            PeerEvent::Choked => {
                let (tid, key, aborted) = match self.peers.get_mut(&id) {
                    Some(p) => (p.torrent, p.key, p.pipeline.on_choked()),
                    None => return,
                };
                if let Some(t) = tid.and_then(|t| self.torrents.get_mut(&t)) {
                    for b in aborted {
                        t.picker.mark_aborted(b, key);
                    }
                }
            }
            PeerEvent::Interested => self.maybe_unchoke(id),
            PeerEvent::NotInterested => self.ss_not_interested(id),
            PeerEvent::Block {
                piece,
                offset,
                data,
            } => self.on_block(id, piece, offset, data),
            PeerEvent::UnrequestedBlock { piece, offset, len } => {
                self.block_alert(id, BlockEvent::Unwanted, piece, offset);
                if let Some(t) = self.peers.get(&id).and_then(|p| p.torrent) {
                    if let Some(t) = self.torrents.get_mut(&t) {
                        t.total_redundant_bytes += len as i64;
                    }
                }
            }
            PeerEvent::Request(r) => self.on_request(id, r),
            PeerEvent::InvalidRequest { request, we_have } => {
                self.invalid_request_alert(id, request, we_have)
            }
            PeerEvent::Cancel(_) => {}
            PeerEvent::Rejected(r) | PeerEvent::RequestTimedOut(r) => {
                let event = if matches!(ev, PeerEvent::Rejected(_)) {
                    BlockEvent::Dropped
                } else {
                    BlockEvent::Timeout
                };
                self.block_alert(id, event, r.piece, r.offset);
                let Some(p) = self.peers.get_mut(&id) else {
                    return;
                };
                let b = BlockRef::new(r.piece, r.offset / lt_picker::BLOCK_SIZE);
                let key = p.key;
                p.pipeline.on_request_removed(b);
                if let PeerEvent::RequestTimedOut(r) = ev {
                    let _ = p.conn.cancel(r);
                }
                if let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) {
                    t.picker.mark_aborted(b, key);
                }
                self.request_blocks(id);
            }
            PeerEvent::ExtensionHandshake(h) => {
                self.on_ext_handshake(id, &h);
                self.close_if_redundant(id, 37 /* upload_upload_connection */);
            }
            PeerEvent::Extension(m) => self.on_extension(id, m),
            PeerEvent::Suggest(_) | PeerEvent::DhtPort(_) | PeerEvent::Extended { .. } => {}
            ev @ (PeerEvent::HashRequest(_)
            | PeerEvent::Hashes { .. }
            | PeerEvent::HashReject(_)) => self.on_hash_event(id, ev),
            PeerEvent::Disconnect { reason } => {
                let err = peer_error(&reason);
                self.disconnect(id, Some(err));
            }
        }
    }

    /// Replaces a peer's pieces, moving the picker's availability counts
    /// from the old set to the new one.
    fn set_peer_pieces(&mut self, id: ConnId, has: lt_picker::Bitfield) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let old = std::mem::replace(&mut p.has, has);
        p.pieces_known = true;
        let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) else {
            return;
        };
        if old.count() > 0 {
            t.picker.peer_lost_bitfield(&old);
        }
        if p.has.count() > 0 {
            t.picker.peer_bitfield(&p.has);
        }
        self.saw_if_seed(id);
    }

    /// `last_seen_complete`: the peer is a seed, so the swarm has a
    /// complete copy now.
    fn saw_if_seed(&mut self, id: ConnId) {
        let Some(p) = self.peers.get(&id).filter(|p| p.is_seed()) else {
            return;
        };
        if let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) {
            t.last_seen_complete = unix_now();
        }
    }

    /// Runs `f` on the picker of the peer's torrent with the peer's pieces.
    fn with_picker(&mut self, id: ConnId, f: impl FnOnce(&mut PiecePicker, &lt_picker::Bitfield)) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) else {
            return;
        };
        f(&mut t.picker, &p.has);
    }

    /// Whether the peer has a piece we want.
    fn is_interesting(&self, id: ConnId) -> bool {
        let Some(p) = self.peers.get(&id) else {
            return false;
        };
        let Some(t) = p.torrent.and_then(|t| self.torrents.get(&t)) else {
            return false;
        };
        !t.picker.is_finished()
            && p.has.iter_ones().any(|i| {
                let i = i as u32;
                !t.picker.have_piece(i) && t.picker.piece_priority(i) > 0
            })
    }

    fn update_interest(&mut self, id: ConnId) {
        let interesting = self.is_interesting(id);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if interesting && !p.conn.am_interested() {
            let _ = p.conn.interested();
        } else if !interesting && p.conn.am_interested() {
            let _ = p.conn.not_interested();
        }
        // As libtorrent after each interest update (may close the peer).
        self.close_if_redundant(id, 37 /* upload_upload_connection */);
    }

    fn maybe_unchoke(&mut self, id: ConnId) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        if !p.conn.am_choking() || !p.conn.peer_interested() {
            return;
        }
        let Some(tid) = p.torrent else {
            return;
        };
        // A free slot is given at once; the choker rebalances every round.
        // A peer exempt from the slots (its peer class) is unchoked at once
        // and the exempt ones don't take slots.
        let slots = self.settings.get_int(keys::UNCHOKE_SLOTS_LIMIT);
        let unchoked = self
            .peers
            .values()
            .filter(|q| !q.conn.am_choking() && !self.classes.ignore_unchoke_slots(&q.classes))
            .count() as i32;
        if self.ignores_unchoke_slots(id) || slots < 0 || unchoked < slots {
            if let Some(p) = self.peers.get_mut(&id) {
                let _ = p.conn.unchoke();
            }
        }
        let _ = tid;
    }

    /// Every `unchoke_interval`: lets the choker pick who is unchoked
    /// (tit-for-tat while downloading, the seeding algorithm when seeding,
    /// optimistic slots rotating), and applies its decisions.
    fn choke_round(&mut self) {
        let now = self.millis(Instant::now());
        if !self.choker.is_round_due(now) {
            return;
        }
        let snapshot: Vec<ChokePeer> = self
            .peers
            .values()
            .filter(|p| p.conn.is_connected())
            .filter(|p| !self.classes.ignore_unchoke_slots(&p.classes))
            .filter_map(|p| {
                let t = self.torrents.get(&p.torrent?)?;
                Some(ChokePeer {
                    key: p.key,
                    interested: p.conn.peer_interested(),
                    seeding: t.is_seed(),
                    download_rate: p.rates.payload_download.max(0) as u64,
                    upload_rate: p.rates.payload_upload.max(0) as u64,
                    total_uploaded: p.conn.counters().payload_up,
                    num_have: p.has.count() as u32,
                    num_pieces: t.picker.num_pieces(),
                    piece_length: t.picker.piece_length(),
                })
            })
            .collect();
        let round = self.choker.run(now, &snapshot);
        let unchoked: std::collections::HashSet<PeerKey> = round.unchoked.iter().copied().collect();
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            if !p.conn.is_connected() {
                continue;
            }
            let want_unchoked = if self.classes.ignore_unchoke_slots(&p.classes) {
                p.conn.peer_interested() && p.torrent.is_some()
            } else {
                unchoked.contains(&p.key)
            };
            if want_unchoked && p.conn.am_choking() {
                let _ = p.conn.unchoke();
            } else if !want_unchoked && !p.conn.am_choking() {
                let _ = p.conn.choke();
                p.deferred.clear();
            }
            self.flush(id);
        }
    }

    fn request_blocks(&mut self, id: ConnId) {
        if self.v2hash_blocks_requests(id) {
            return;
        }
        let now = Instant::now();
        let now_ms = self.millis(now);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if !p.conn.is_connected() || !p.conn.am_interested() {
            return;
        }
        let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) else {
            return;
        };
        // upload mode: serve only, request nothing
        if !t.is_active()
            || !t.meta.is_valid()
            || t.picker.is_finished()
            || t.flags & flags::UPLOAD_MODE != 0
        {
            return;
        }
        let mut want = p.pipeline.num_to_request();
        if want == 0 {
            return;
        }
        // Download rate limit: ask for quota for the blocks we would request.
        let block = u64::from(lt_picker::BLOCK_SIZE);
        let need = (want as u64 * block).saturating_sub(p.down_credit);
        if need > 0 {
            let channels: Vec<_> = std::iter::once(t.bw_channel)
                .chain(p.bw_channel)
                .chain(self.classes.channels(&p.classes))
                .collect();
            let g = self.bw.request_weighted(
                now_ms,
                lt_picker::bandwidth::ConnId(p.key.0),
                &channels,
                Direction::Download,
                need,
                self.classes.priority(&p.classes, Direction::Download),
            );
            p.down_credit += g.bytes;
        }
        want = want.min((p.down_credit / block) as usize);
        if want == 0 {
            return;
        }
        let allowed: Vec<u32> = p.conn.allowed_fast_received().collect();
        let mut opts = PickOptions::new(p.key);
        opts.peer_choking = p.conn.peer_choking();
        opts.allowed_fast = &allowed;
        if opts.peer_choking && allowed.is_empty() {
            return;
        }
        let blocks = t.picker.pick(&p.has, want, &opts);
        let picked = self
            .shared
            .alerts
            .should_post(category::PICKER_LOG)
            .then(|| (Self::picker_flags(t, &blocks, false), blocks.clone()));
        let report = self.shared.alerts.should_post(category::BLOCK_PROGRESS);
        let mut requested = Vec::new();
        for b in blocks {
            let len = t.picker.block_size(b);
            let r = BlockRequest::new(b.piece, b.block * lt_picker::BLOCK_SIZE, len);
            if p.conn.request(r, now).is_ok() {
                t.picker.mark_requested(b, p.key);
                p.pipeline.on_request_sent(b, now_ms);
                p.down_credit = p.down_credit.saturating_sub(u64::from(len));
                if report {
                    requested.push(r);
                }
            }
        }
        for r in requested {
            self.block_alert(id, BlockEvent::Downloading, r.piece, r.offset);
        }
        if let Some((flags, blocks)) = picked {
            self.picker_log(id, flags, &blocks);
        }
    }

    fn on_block(&mut self, id: ConnId, piece: u32, offset: u32, data: Bytes) {
        let now_ms = self.millis(Instant::now());
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let b = BlockRef::new(piece, offset / lt_picker::BLOCK_SIZE);
        let key = p.key;
        p.pipeline.on_block_received(b, now_ms);
        let Some(tid) = p.torrent else {
            return;
        };
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        match t.picker.mark_received(b, key) {
            None => {
                t.total_redundant_bytes += data.len() as i64;
            }
            Some(cancel) => {
                self.block_alert(id, BlockEvent::Finished, piece, offset);
                let Some(t) = self.torrents.get_mut(&tid) else {
                    return;
                };
                t.contributors.entry(piece).or_default().insert(id);
                let storage = t.storage;
                let others: Vec<ConnId> = cancel.iter().map(|k| ConnId(k.0 as u64)).collect();
                let len = data.len() as u32;
                if let Some(disk) = &self.disk {
                    self.recv_budget.add(data.len());
                    disk.async_write(storage, piece, offset, data);
                    self.pending_writes.insert((storage, piece, offset), id);
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.writing += len as usize;
                    }
                }
                for o in others {
                    self.cancel_request(o, BlockRequest::new(piece, offset, len));
                }
            }
        }
        self.request_blocks(id);
    }

    fn on_request(&mut self, id: ConnId, r: BlockRequest) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let Some(t) = p.torrent.and_then(|t| self.torrents.get(&t)) else {
            return;
        };
        if !t.picker.have_piece(r.piece) {
            if let Some(p) = self.peers.get_mut(&id) {
                let _ = p.conn.reject_request(r);
            }
            self.invalid_request_alert(id, r, false);
            return;
        }
        if let Some(p) = self.peers.get_mut(&id) {
            p.deferred.push_back(r);
        }
        self.serve_deferred(id);
    }

    /// Reads requested blocks from disk while the peer's send queue is below
    /// `send_buffer_watermark` and the upload rate limits grant quota.
    fn serve_deferred(&mut self, id: ConnId) {
        let watermark = self
            .settings
            .get_int(keys::SEND_BUFFER_WATERMARK)
            .max(16 * 1024) as usize;
        let now = self.millis(Instant::now());
        let mut ready = Vec::new();
        let utp_backlog = self.utp_backlog(id);
        {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            let channels: Vec<_> = p
                .torrent
                .and_then(|t| self.torrents.get(&t))
                .map(|t| t.bw_channel)
                .into_iter()
                .chain(p.bw_channel)
                .chain(self.classes.channels(&p.classes))
                .collect();
            let priority = self.classes.priority(&p.classes, Direction::Upload);
            while let Some(r) = p.deferred.front().copied() {
                if utp_backlog.unwrap_or(p.send_queued) + p.reading >= watermark {
                    self.utp_pace.wait(id, utp_backlog.is_some());
                    break;
                }
                let len = u64::from(r.length);
                if p.up_credit < len {
                    let g = self.bw.request_weighted(
                        now,
                        lt_picker::bandwidth::ConnId(p.key.0),
                        &channels,
                        Direction::Upload,
                        len - p.up_credit,
                        priority,
                    );
                    p.up_credit += g.bytes;
                    if p.up_credit < len {
                        break;
                    }
                }
                p.up_credit -= len;
                p.deferred.pop_front();
                p.reading += r.length as usize;
                ready.push(r);
            }
        }
        self.read_for_peer(id, &ready);
    }

    /// Reads the blocks `ready` asked by peer `id`. Runs of contiguous
    /// blocks of one piece that no one else is reading are read as one
    /// disk job (fewer reads, completions and wake-ups per byte served),
    /// or right here when the bytes are in the page cache
    /// (`DiskIo::read_cached`: no disk thread, no completion).
    fn read_for_peer(&mut self, id: ConnId, ready: &[BlockRequest]) {
        const RUN_MAX: u32 = 256 * 1024;
        let held;
        let ready = match self.seed_mode_hold(id, ready) {
            Some(now) => {
                held = now;
                &held[..]
            }
            None => ready,
        };
        let Some(storage) = self
            .peers
            .get(&id)
            .and_then(|p| p.torrent)
            .and_then(|t| self.torrents.get(&t))
            .map(|t| t.storage)
        else {
            return;
        };
        let mut i = 0;
        while let Some(first) = ready.get(i).copied() {
            let mut end = first.offset + first.length;
            let mut j = i + 1;
            while let Some(r) = ready.get(j) {
                if r.piece != first.piece
                    || r.offset != end
                    || end - first.offset + r.length > RUN_MAX
                {
                    break;
                }
                end += r.length;
                j += 1;
            }
            let run = &ready[i..j];
            let start = (storage, first.piece, first.offset);
            let free = !self.read_runs.contains_key(&start)
                && run.iter().all(|r| {
                    !self
                        .pending_reads
                        .contains_key(&(storage, r.piece, r.offset))
                });
            let cached = if free {
                self.disk()
                    .read_cached(storage, first.piece, first.offset, end - first.offset)
            } else {
                None
            };
            if cached.is_some() || (run.len() > 1 && free) {
                for r in run {
                    self.pending_reads
                        .entry((storage, r.piece, r.offset))
                        .or_default()
                        .push((id, r.length));
                }
                let blocks = run.iter().map(|r| (r.offset, r.length)).collect();
                match cached {
                    Some(data) => {
                        self.serve_run(storage, first.piece, first.offset, blocks, Ok(data))
                    }
                    None => {
                        self.read_runs.insert(start, blocks);
                        self.disk().async_read(
                            storage,
                            first.piece,
                            first.offset,
                            end - first.offset,
                        );
                    }
                }
            } else {
                for r in run {
                    self.read_block_for_peer(storage, id, *r);
                }
            }
            i = j;
        }
    }

    fn read_block_for_peer(&mut self, storage: StorageId, id: ConnId, r: BlockRequest) {
        let key = (storage, r.piece, r.offset);
        let first = !self.pending_reads.contains_key(&key);
        self.pending_reads
            .entry(key)
            .or_default()
            .push((id, r.length));
        if first {
            self.disk().async_read(storage, r.piece, r.offset, r.length);
        }
    }

    fn on_disk(&mut self, c: Completion) {
        match c {
            Completion::Write {
                storage,
                piece,
                offset,
                len,
                result,
            } => {
                self.recv_budget.release(len as usize);
                let from = self.pending_writes.remove(&(storage, piece, offset));
                if let Some(p) = from.and_then(|c| self.peers.get_mut(&c)) {
                    p.writing = p.writing.saturating_sub(len as usize);
                }
                let Some(&tid) = self.by_storage.get(&storage) else {
                    return;
                };
                let b = BlockRef::new(piece, offset / lt_picker::BLOCK_SIZE);
                match result {
                    Ok(()) => {
                        let Some(t) = self.torrents.get_mut(&tid) else {
                            return;
                        };
                        if t.picker.mark_finished(b)
                            && t.hashing.insert(piece)
                            && !self.deadline_hold(tid, piece)
                        {
                            self.disk().async_hash(storage, piece);
                            self.deadline_release(tid);
                        }
                    }
                    Err(e) => {
                        if let Some(t) = self.torrents.get_mut(&tid) {
                            t.picker.mark_write_failed(b);
                        }
                        self.storage_error(tid, &e);
                    }
                }
            }
            Completion::Hash {
                storage,
                piece,
                result,
            } => {
                let Some(&tid) = self.by_storage.get(&storage) else {
                    return;
                };
                if let Some(t) = self.torrents.get_mut(&tid) {
                    t.hashing.remove(&piece);
                }
                match result {
                    Ok(h) => {
                        let ok = self
                            .torrents
                            .get(&tid)
                            .is_some_and(|t| verify_piece(t.meta.as_ref(), piece, &h));
                        if self.seed_mode_hashed(tid, piece, ok) {
                            return;
                        }
                        if ok {
                            self.piece_passed(tid, piece);
                        } else {
                            self.piece_failed(tid, piece);
                        }
                    }
                    Err(e) => {
                        if let Some(sv) = self
                            .torrents
                            .get_mut(&tid)
                            .and_then(|t| t.seed_verify.as_mut())
                        {
                            sv.waiting.remove(&piece);
                        }
                        self.storage_error(tid, &e)
                    }
                }
            }
            Completion::Read {
                storage,
                piece,
                offset,
                result,
            } => {
                let key = (storage, piece, offset);
                let run_len =
                    |b: &Vec<(u32, u32)>| b.iter().map(|(_, l)| *l as usize).sum::<usize>();
                let is_run = match (&result, self.read_runs.get(&key)) {
                    (Ok(d), Some(b)) => run_len(b) == d.len(),
                    (Err(_), Some(_)) => true,
                    _ => false,
                };
                if is_run {
                    let blocks = self.read_runs.remove(&key).unwrap_or_default();
                    self.serve_run(storage, piece, offset, blocks, result);
                    return;
                }
                if let Some((tref, mut buf, got)) = self.user_reads.remove(&(storage, piece)) {
                    match &result {
                        Ok(d) => {
                            // Blocks may complete in any order: count them.
                            let at = offset as usize;
                            if let Some(dst) = buf.get_mut(at..at + d.len()) {
                                dst.copy_from_slice(d);
                            }
                            let got = got + d.len() as u32;
                            if got as usize >= buf.len() {
                                self.deadline_read_done(
                                    storage,
                                    piece,
                                    AlertKind::ReadPiece {
                                        torrent: tref,
                                        piece,
                                        data: buf,
                                        error: ErrorCode::default(),
                                    },
                                );
                            } else {
                                self.user_reads.insert((storage, piece), (tref, buf, got));
                            }
                        }
                        Err(e) => self.deadline_read_done(
                            storage,
                            piece,
                            AlertKind::ReadPiece {
                                torrent: tref,
                                piece,
                                data: Vec::new(),
                                error: io_error(&e.error),
                            },
                        ),
                    }
                }
                match result {
                    Ok(data) => {
                        self.serve_read(storage, piece, offset, Ok(Bytes::from(data)), false)
                    }
                    Err(e) => self.serve_read(storage, piece, offset, Err(&e), true),
                }
            }
            Completion::CheckStarted { storage } => {
                let tid = self.by_storage.get(&storage).copied();
                if let Some(id) = tid.filter(|id| {
                    self.torrents.get(id).is_some_and(|t| {
                        t.full_check && t.state == TorrentState::CheckingResumeData
                    })
                }) {
                    self.set_state(id, TorrentState::CheckingFiles);
                }
            }
            Completion::CheckProgress {
                storage,
                checked,
                total,
            } => {
                if let Some(t) = self
                    .by_storage
                    .get(&storage)
                    .and_then(|id| self.torrents.get_mut(id))
                {
                    t.checking_progress = if total == 0 {
                        1.0
                    } else {
                        checked as f32 / total as f32
                    };
                }
            }
            Completion::CheckDone { storage, result } => {
                let Some(&tid) = self.by_storage.get(&storage) else {
                    return;
                };
                if let Some(t) = self.torrents.get_mut(&tid) {
                    t.full_check = false;
                }
                match result {
                    Ok(r) => {
                        if let Some(t) = self.torrents.get_mut(&tid) {
                            for (i, have) in r.have.iter().enumerate() {
                                if *have {
                                    t.picker.set_have(i as u32);
                                }
                            }
                        }
                        self.checked(tid);
                    }
                    Err(e) => self.storage_error(tid, &e),
                }
            }
            Completion::Flushed { storage, .. } => {
                let tid = self.by_storage.get(&storage).copied();
                if tid.is_some_and(|id| self.ctl_flushed(id)) {
                    return;
                }
                if let Some(t) = tid.and_then(|id| self.torrents.get(&id)) {
                    let torrent = t.torrent_ref();
                    self.alert(AlertKind::CacheFlushed { torrent });
                }
            }
            Completion::Deleted { storage, result } => {
                if let Some(tref) = self.deleting.remove(&storage) {
                    match result {
                        Ok(()) => self.alert(AlertKind::TorrentDeleted { torrent: tref }),
                        Err(e) => self.alert(AlertKind::TorrentDeleteFailed {
                            torrent: tref,
                            error: io_error(&e.error),
                        }),
                    }
                }
                if let Some(disk) = &self.disk {
                    disk.remove_storage(storage);
                }
            }
            Completion::Initialized {
                storage,
                result: Err(e),
            } => {
                if let Some(&tid) = self.by_storage.get(&storage) {
                    self.storage_error(tid, &e);
                }
            }
            other => self.ctl_on_disk(other),
        }
    }

    /// A read of the run of blocks `blocks` (offset, length) of `piece`
    /// starting at `offset` finished: each block goes to the peers waiting
    /// for it, as a view of the one buffer; a failure is reported once.
    fn serve_run(
        &mut self,
        storage: StorageId,
        piece: u32,
        offset: u32,
        blocks: Vec<(u32, u32)>,
        result: Result<Vec<u8>, lt_storage::StorageError>,
    ) {
        match result {
            Ok(d) => {
                let data = Bytes::from(d);
                for (off, len) in blocks {
                    let at = (off - offset) as usize;
                    let block = data.slice(at..at + len as usize);
                    self.serve_read(storage, piece, off, Ok(block), false);
                }
            }
            Err(e) => {
                for (i, (off, _)) in blocks.into_iter().enumerate() {
                    self.serve_read(storage, piece, off, Err(&e), i == 0);
                }
            }
        }
    }

    /// A block read for peers finished: it goes to every peer waiting for
    /// it, or they are told it cannot be served (and, with `report`, the
    /// torrent gets the storage error).
    fn serve_read(
        &mut self,
        storage: StorageId,
        piece: u32,
        offset: u32,
        result: Result<Bytes, &lt_storage::StorageError>,
        report: bool,
    ) {
        let waiting = self
            .pending_reads
            .remove(&(storage, piece, offset))
            .unwrap_or_default();
        match result {
            Ok(data) => {
                for (cid, len) in waiting {
                    if let Some(p) = self.peers.get_mut(&cid) {
                        p.reading = p.reading.saturating_sub(len as usize);
                        let block = data.slice(..(len as usize).min(data.len()));
                        if p.conn.send_block(piece, offset, block).is_ok() {
                            self.block_alert(cid, BlockEvent::Uploaded, piece, offset);
                        }
                    }
                    self.flush(cid);
                }
            }
            Err(e) => {
                for (cid, len) in waiting {
                    if let Some(p) = self.peers.get_mut(&cid) {
                        p.reading = p.reading.saturating_sub(len as usize);
                        let _ = p.conn.reject_request(BlockRequest::new(piece, offset, len));
                    }
                    self.flush(cid);
                }
                if report {
                    if let Some(&tid) = self.by_storage.get(&storage) {
                        self.storage_error(tid, e);
                    }
                }
            }
        }
    }

    fn storage_error(&mut self, tid: TorrentId, e: &lt_storage::StorageError) {
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        let err = io_error(&e.error);
        let (file_idx, filename) = match e.file {
            lt_storage::ErrorFile::Index(i) => {
                (i as i32, t.meta.files().file_path(i, &t.save_path))
            }
            _ => (-1, String::new()),
        };
        t.error = Some(err);
        t.error_file = file_idx;
        let tref = t.torrent_ref();
        self.alert(AlertKind::FileError {
            torrent: tref.clone(),
            filename: filename.clone(),
            op: storage_op(e.operation),
            error: err,
        });
        self.alert(AlertKind::TorrentError {
            torrent: tref,
            error: err,
            filename,
        });
        self.pause_torrent(tid);
    }

    fn piece_passed(&mut self, tid: TorrentId, piece: u32) {
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        // (the last piece makes it finished or a seed: the time so far
        // counts as before)
        t.account_time(Instant::now(), !self.paused);
        t.picker.piece_passed(piece);
        t.contributors.remove(&piece);
        let deadline_alert = t.deadline_alerts.remove(&piece);
        let tref = t.torrent_ref();
        let peers: Vec<ConnId> = t.peers.iter().copied().collect();
        let finished = t.picker.is_finished();
        let num_have = t.picker.num_have();
        self.torrent_log(tid, || {
            format!("PIECE_PASSED ({piece}) (num_have: {num_have})")
        });
        self.alert(AlertKind::PieceFinished {
            torrent: tref.clone(),
            piece,
        });
        self.file_completions(tid, piece);
        if deadline_alert {
            self.deadline_read_issued(tid, piece);
            self.read_piece(tid, piece);
        }
        for c in &peers {
            if let Some(p) = self.peers.get_mut(c) {
                if p.conn.is_connected() {
                    let _ = p.conn.we_have(piece);
                }
            }
            self.update_interest(*c);
            self.flush(*c);
        }
        if finished {
            self.on_finished(tid);
        }
        self.share_piece_passed(tid);
    }

    /// Posts `file_completed` for files that piece `piece` completed.
    fn file_completions(&mut self, tid: TorrentId, piece: u32) {
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        if !self.should_post(category::FILE_PROGRESS) {
            return;
        }
        let fs = t.meta.files();
        let slices = fs.map_block(piece as i32, 0, t.picker.piece_size(piece) as i64);
        let mut done = Vec::new();
        for s in slices {
            let f = s.file_index;
            if fs.pad_file_at(f) {
                continue;
            }
            let (first, last) = fs.file_piece_range(f);
            let complete = (first..last.max(first + 1)).all(|p| t.picker.have_piece(p as u32));
            if complete {
                done.push(f as u32);
            }
        }
        let tref = t.torrent_ref();
        for index in done {
            self.alert(AlertKind::FileCompleted {
                torrent: tref.clone(),
                index,
            });
        }
    }

    fn on_finished(&mut self, tid: TorrentId) {
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        t.completed_time = unix_now();
        let seed = t.picker.is_seeding();
        let tref = t.torrent_ref();
        if seed {
            self.drive_trackers(tid, |list, st, now| list.completed(now, st));
        }
        // as libtorrent: the state change first, then the alert
        self.set_state(tid, TorrentState::Finished);
        self.alert(AlertKind::TorrentFinished { torrent: tref });
        if seed {
            self.set_state(tid, TorrentState::Seeding);
        }
        // Peers that only upload have nothing left to give us.
        let peers = self.torrent_conns(tid);
        for c in peers {
            self.close_if_redundant(c, 98 /* torrent_finished */);
        }
    }

    /// What our extension handshake says of torrent `tid` besides the
    /// extensions: `upload_only`, and `complete_ago` (-1 until we have seen
    /// a complete copy, as libtorrent).
    fn ext_handshake_state(&self, tid: TorrentId) -> (bool, i64) {
        let seen = self.torrents.get(&tid).map_or(0, |t| t.last_seen_complete);
        let complete_ago = if seen > 0 {
            (unix_now() - seen).max(0)
        } else {
            -1
        };
        (self.says_upload_only(tid), complete_ago)
    }

    /// Whether our extension handshake says `upload_only` for torrent
    /// `tid`, as libtorrent's: it is finished, and not in share mode or
    /// super seeding, and we are not anonymous.
    fn says_upload_only(&self, tid: TorrentId) -> bool {
        self.torrents.get(&tid).is_some_and(|t| {
            matches!(t.state, TorrentState::Finished | TorrentState::Seeding)
                && t.flags & (flags::SHARE_MODE | flags::SUPER_SEEDING) == 0
                && !self.settings.get_bool(keys::ANONYMOUS_MODE)
        })
    }

    /// libtorrent's `close_redundant_connections`, for a peer that only
    /// uploads (a seed, or one that said `upload_only`): once our torrent
    /// is finished the connection serves neither side and is closed with
    /// libtorrent error `code` (`upload_upload_connection` when the peer's
    /// news made it so, `torrent_finished` when ours did); while we are
    /// downloading it is closed if the peer has nothing we want
    /// (`uninteresting_upload_peer`), once it has said what it has and our
    /// files are checked. Never in share mode or without the metadata.
    /// True if closed.
    fn close_if_redundant(&mut self, id: ConnId, code: i32) -> bool {
        if !self.settings.get_bool(keys::CLOSE_REDUNDANT_CONNECTIONS) {
            return false;
        }
        let Some(p) = self.peers.get(&id) else {
            return false;
        };
        let Some(t) = p.torrent.and_then(|t| self.torrents.get(&t)) else {
            return false;
        };
        if !p.upload_only() || t.flags & flags::SHARE_MODE != 0 || !t.meta.is_valid() {
            return false;
        }
        let code = match t.state {
            TorrentState::Finished | TorrentState::Seeding => code,
            TorrentState::Downloading if p.pieces_known && !self.is_interesting(id) => {
                38 // uninteresting_upload_peer
            }
            _ => return false,
        };
        self.disconnect(id, Some(ErrorCode::new(code, Category::Libtorrent)));
        true
    }

    fn piece_failed(&mut self, tid: TorrentId, piece: u32) {
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        t.picker.piece_failed(piece);
        t.total_failed_bytes += t.picker.piece_size(piece) as i64;
        let contributors = t.contributors.remove(&piece).unwrap_or_default();
        let tref = t.torrent_ref();
        self.torrent_log(tid, || {
            format!(
                "PIECE_FAILED ({piece}) contributors: {}",
                contributors.len()
            )
        });
        self.alert(AlertKind::HashFailed {
            torrent: tref,
            piece,
        });
        self.web_piece_failed(tid, &contributors);
        for c in &contributors {
            if let Some(p) = self.peers.get_mut(c) {
                p.hashfails += 1;
            }
        }
        // A piece that came from a single peer proves that peer sent bad
        // data: ban it. With several contributors we cannot tell.
        if contributors.len() == 1 {
            for c in contributors {
                if let Some((torrent, peer)) = self.peer_ref(c) {
                    self.alert(AlertKind::PeerBan { torrent, peer });
                }
                if let Some(addr) = self.peers.get(&c).map(|p| p.addr) {
                    if let Some(t) = self.torrents.get_mut(&tid) {
                        t.banned.insert(addr.ip());
                        t.candidates.retain(|a| a.ip() != addr.ip());
                    }
                }
                self.disconnect(c, None);
            }
        }
    }

    fn socket_type(&self, id: ConnId) -> SocketType {
        if let Some(t) = self
            .ssl_socket_type(id)
            .or_else(|| self.proxy_socket_type(id))
        {
            return t;
        }
        match self.peers.get(&id) {
            Some(p) if p.utp.is_some() => SocketType::Utp,
            _ => SocketType::Tcp,
        }
    }

    /// Closes a connection and forgets it. An outgoing connection to a
    /// peer we still may need is retried later, backing off with each
    /// failure.
    fn disconnect(&mut self, id: ConnId, error: Option<ErrorCode>) {
        self.disconnect_op(id, error, None);
    }

    /// [`disconnect`](Self::disconnect), naming the failed operation for
    /// `peer_disconnected_alert` (else: `connect` for an attempt that
    /// failed, `bittorrent` otherwise, as libtorrent).
    fn disconnect_op(&mut self, id: ConnId, error: Option<ErrorCode>, op: Option<Operation>) {
        self.log_closed(id, error.as_ref());
        let refs = self.peer_ref(id);
        let socket_type = self.socket_type(id);
        let op = match self.peers.get(&id) {
            Some(p) if error.is_some() && self.is_connecting(id, p) => Operation::Connect,
            _ => op.unwrap_or(Operation::Bittorrent),
        };
        let Some(mut p) = self.peers.remove(&id) else {
            return;
        };
        self.ssl_conn_gone(id);
        self.proxy_forget(id);
        let was_connected = p.conn.is_connected() || p.handshaked;
        let utp_connect_failed = self.utp_connect_failed(id);
        let mse_failed = p.outgoing
            && (p.tx.is_some() || (p.utp.is_some() && !utp_connect_failed))
            && matches!(p.crypto, Crypto::Handshake(_));
        p.conn.close();
        if let Some((idx, cid)) = p.utp {
            self.utp_conns.remove(&(idx, cid));
            if let Some(u) = self.udp.get_mut(idx) {
                u.utp.close(cid, Instant::now());
            }
        }
        self.bw.remove_conn(lt_picker::bandwidth::ConnId(p.key.0));
        if let Some(ch) = p.bw_channel {
            self.bw.remove_channel(ch);
        }
        self.leave_peer_classes(&p.classes);
        self.choker.remove_peer(p.key);
        self.magnet_peer_gone(p.torrent, id);
        self.v2hash_peer_gone(p.torrent, id);
        self.pex_peer_gone(id);
        self.ss_peer_gone(id);
        if let Some(t) = p.torrent.and_then(|t| self.torrents.get_mut(&t)) {
            let peer_seed = p.is_seed();
            if peer_seed && t.known.contains(&p.addr) {
                t.known_seeds.insert(p.addr);
            }
            // a peer that only uploads is no use to a finished torrent
            let redundant = t.is_finished() && t.meta.is_valid() && p.upload_only();
            let useful = !redundant && !t.banned.contains(&p.addr.ip());
            if p.outgoing && useful && !self.shutting_down && t.is_active() {
                let fails = t.failcount.entry(p.addr).or_insert(0);
                if was_connected {
                    *fails = 0;
                } else {
                    *fails += 1;
                }
                let max_fail = self.settings.get_int(keys::MAX_FAILCOUNT).max(1) as u32;
                if *fails < max_fail {
                    let delay = Duration::from_secs(1u64 << (*fails).min(6));
                    t.retry.push((Instant::now() + delay, p.addr));
                }
            }
            t.peers.remove(&id);
            for b in p.pipeline.outstanding().collect::<Vec<_>>() {
                t.picker.mark_aborted(b, p.key);
            }
            t.picker.abort_peer(p.key);
            if p.conn.peer_pieces().is_some() || p.has.count() > 0 {
                t.picker.peer_lost_bitfield(&p.has);
            }
        }
        if let (true, Some(tid)) = (mse_failed && !self.shutting_down, p.torrent) {
            self.mse_fallback(tid, p.addr);
        }
        // (a uTP attempt ended by us, on pause or removal, proves nothing)
        let utp_failed = utp_connect_failed && error.is_some() && !self.shutting_down;
        if let (true, Some(tid)) = (utp_failed, p.torrent) {
            self.utp_fallback(tid, p.addr);
        }
        if p.alerted_connect {
            if let Some((torrent, peer)) = refs {
                let error = error.unwrap_or_default();
                self.alert(AlertKind::PeerDisconnected {
                    torrent,
                    peer,
                    socket_type,
                    op,
                    error,
                    reason: 0,
                });
            }
        }
        // Dropping the sender ends the writer task, which shuts the socket.
    }

    // ------------------------------------------------------------------
    // uTP

    /// A datagram on a listen endpoint's UDP socket.
    fn on_udp(&mut self, idx: usize, from: SocketAddr, data: &[u8]) {
        let (from, data) = self.proxy.relayed(idx, from, data).unwrap_or((from, data));
        if data.first() == Some(&b'd') {
            self.dht_datagram(idx, from, data);
            return;
        }
        if !lt_utp::looks_like_utp(data) {
            return;
        }
        let now = Instant::now();
        if let Some(u) = self.udp.get_mut(idx) {
            u.utp.handle_datagram(data, from, now);
        }
        // pumped once the queued events are handled (engine/utp_pace.rs)
        self.utp_pace.pump_due(idx);
    }

    /// Handles the uTP socket's events and sends its datagrams.
    fn pump_utp(&mut self, idx: usize) {
        let now = Instant::now();
        while let Some(ev) = self.udp.get_mut(idx).and_then(|u| u.utp.poll_event()) {
            match ev {
                lt_utp::Event::Incoming(cid) => self.on_utp_incoming(idx, cid),
                lt_utp::Event::Connected(cid) => self.on_utp_connected(idx, cid),
                lt_utp::Event::Readable(cid) => {
                    let Some(&peer) = self.utp_conns.get(&(idx, cid)) else {
                        continue;
                    };
                    loop {
                        let r = self
                            .udp
                            .get_mut(idx)
                            .map(|u| u.utp.read_bytes(cid, 256 * 1024));
                        match r {
                            Some(Ok(b)) if b.is_empty() => {
                                self.disconnect_op(
                                    peer,
                                    Some(eof_error()),
                                    Some(Operation::SockRead),
                                );
                                break;
                            }
                            Some(Ok(b)) => self.on_data(peer, b),
                            _ => break,
                        }
                        if !self.peers.contains_key(&peer) {
                            break;
                        }
                    }
                }
                lt_utp::Event::Writable(cid) => {
                    if let Some(&peer) = self.utp_conns.get(&(idx, cid)) {
                        self.flush_utp(peer);
                    }
                }
                lt_utp::Event::Closed(cid, reason) => {
                    if let Some(peer) = self.utp_conns.remove(&(idx, cid)) {
                        let connecting = self.utp_is_connecting(peer);
                        let err = Self::utp_close_error(reason, connecting);
                        self.disconnect(peer, Some(err));
                    }
                }
            }
        }
        let Some(u) = self.udp.get_mut(idx) else {
            return;
        };
        let mut failed = Vec::new();
        while let Some(t) = u.utp.poll_transmit(now) {
            // A full socket buffer drops the datagram; uTP retransmits.
            if let Some(e) = self.proxy.udp_send(&u.socket, idx, true, &t.data, t.to) {
                failed.push((t.to, e));
            }
        }
        for (to, e) in failed {
            self.udp_error(to, Operation::SockWrite, &e);
        }
    }

    fn on_utp_incoming(&mut self, idx: usize, cid: lt_utp::ConnectionId) {
        let Some(addr) = self.udp.get(idx).and_then(|u| u.utp.peer_addr(cid)) else {
            return;
        };
        if !self.settings.get_bool(keys::ENABLE_INCOMING_UTP) {
            // as libtorrent: closed without an alert
            if let Some(u) = self.udp.get_mut(idx) {
                u.utp.close(cid, Instant::now());
            }
            return;
        }
        self.had_incoming |= !lt_core::ip_filter::is_local(&addr.ip());
        self.alert(AlertKind::IncomingConnection {
            endpoint: addr,
            socket_type: SocketType::Utp,
        });
        if self.ctl_blocked(None, addr) || self.paused || self.incoming_over_limit(addr.ip(), true)
        {
            if let Some(u) = self.udp.get_mut(idx) {
                u.utp.close(cid, Instant::now());
            }
            return;
        }
        let conn = PeerConnection::incoming(self.peer_config(), Some(addr.ip()), Instant::now());
        let id = self.new_peer(conn, addr, false, None);
        let local = self.udp.get(idx).and_then(|u| u.socket.local_addr().ok());
        if let Some(p) = self.peers.get_mut(&id) {
            p.utp = Some((idx, cid));
            if let Some(l) = local {
                p.local = l;
            }
        }
        self.utp_conns.insert((idx, cid), id);
        self.join_peer_classes(id);
        self.log_connection(id);
    }

    /// Writes a uTP peer's queued bytes into its uTP send buffer.
    fn flush_utp(&mut self, id: ConnId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((idx, cid)) = p.utp else {
            return;
        };
        // The BitTorrent handshake waits for the encryption handshake.
        let log_out = self.shared.alerts.should_post(category::PEER_LOG);
        let mut logged = Vec::new();
        while !matches!(p.crypto, Crypto::Handshake(_)) {
            let Some(b) = p.conn.poll_transmit() else {
                break;
            };
            if log_out {
                logged.push(b.clone());
            }
            let b = p.crypto.encrypt(b);
            p.utp_pending.push_back(b);
        }
        if !logged.is_empty() {
            for b in logged {
                self.log_outgoing(id, &b);
            }
            self.flush_utp(id);
            return;
        }
        let Some(u) = self.udp.get_mut(idx) else {
            return;
        };
        while let Some(mut b) = p.utp_pending.pop_front() {
            match u.utp.write(cid, &b) {
                Ok(n) if n >= b.len() => {}
                Ok(n) => {
                    p.utp_pending.push_front(b.split_off(n));
                    break;
                }
                Err(lt_utp::Error::WouldBlock) => {
                    p.utp_pending.push_front(b);
                    break;
                }
                Err(_) => break,
            }
        }
        self.pump_utp(idx);
    }

    // ------------------------------------------------------------------
    // listen sockets

    /// `reopen_network_sockets()`: opens the configured listen sockets that
    /// are not open (one that failed to bind, a device that came up);
    /// sockets already listening are kept.
    pub fn reopen_network_sockets(&mut self) {
        self.open_listen_sockets();
    }

    fn open_listen_sockets(&mut self) {
        let (ifaces, bad) = parse_listen_interfaces(self.settings.get_str(keys::LISTEN_INTERFACES));
        for b in bad {
            if self.should_post(category::SESSION_LOG) {
                self.alert(AlertKind::Log {
                    msg: format!("failed to parse listen interface: {b}"),
                });
            }
        }
        for li in ifaces {
            let ssl = li.ssl;
            let ip = match &li.host {
                ListenHost::Ip(ip) => *ip,
                ListenHost::Device(name) => match device_address(name) {
                    Some(ip) => ip,
                    None => {
                        let endpoint = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), li.port);
                        self.alert(AlertKind::ListenFailed {
                            interface: name.clone(),
                            endpoint,
                            op: Operation::GetInterface,
                            error: ErrorCode::new(libc::ENODEV, Category::System),
                            socket_type: if ssl {
                                SocketType::TcpSsl
                            } else {
                                SocketType::Tcp
                            },
                        });
                        continue;
                    }
                },
            };
            if ssl {
                self.ssl_listen(ip, li.port, li_display(&li.host, li.port));
                continue;
            }
            let open = self
                .listen_sockets
                .iter()
                .any(|s| s.local.ip() == ip && (li.port == 0 || s.local.port() == li.port));
            if open {
                // already listening there (`reopen_network_sockets`)
                continue;
            }
            let (addr, bound) = self.bind_listen_port(SocketAddr::new(ip, li.port));
            match bound {
                Ok((listener, udp)) => {
                    let local = listener.local_addr().unwrap_or(addr);
                    let tx = self.events_tx.clone();
                    let task = tokio::spawn(accept_loop(listener, tx));
                    self.listen_sockets.push(ListenSocket { local, task });
                    self.alert(AlertKind::ListenSucceeded {
                        endpoint: local,
                        socket_type: SocketType::Tcp,
                    });
                    match udp {
                        Ok(udp) => self.open_udp(udp, local),
                        Err(e) => self.alert(AlertKind::ListenFailed {
                            interface: li_display(&li.host, li.port),
                            endpoint: local,
                            op: Operation::SockBind,
                            error: io_error(&e),
                            socket_type: SocketType::Utp,
                        }),
                    }
                }
                Err((op, e)) => {
                    self.alert(AlertKind::ListenFailed {
                        interface: li_display(&li.host, li.port),
                        endpoint: addr,
                        op,
                        error: io_error(&e),
                        socket_type: SocketType::Tcp,
                    });
                }
            }
        }
    }

    /// Binds a listen endpoint at `addr`. A port in use is retried on the
    /// next ports, `max_retry_port_bind` of them, then (with
    /// `listen_system_port_fallback`) on a port the system picks, as
    /// libtorrent does. Returns the address last tried.
    fn bind_listen_port(&self, mut addr: SocketAddr) -> (SocketAddr, Bound) {
        let mut retries = self.settings.get_int(keys::MAX_RETRY_PORT_BIND).max(0);
        loop {
            let bound = bind_pair(addr);
            match &bound {
                Err((_, e)) if e.kind() == std::io::ErrorKind::AddrInUse && addr.port() != 0 => {
                    if retries > 0 && addr.port() < u16::MAX {
                        retries -= 1;
                        addr.set_port(addr.port() + 1);
                    } else if self.settings.get_bool(keys::LISTEN_SYSTEM_PORT_FALLBACK) {
                        addr.set_port(0);
                    } else {
                        return (addr, bound);
                    }
                }
                _ => return (addr, bound),
            }
        }
    }

    /// Binds the UDP socket of a listen endpoint (same address and port)
    /// for uTP.
    fn open_udp(&mut self, std_sock: std::net::UdpSocket, local: SocketAddr) {
        crate::udp_errqueue::enable(&std_sock);
        let _ = std_sock.set_nonblocking(true);
        let Ok(sock) = tokio::net::UdpSocket::from_std(std_sock) else {
            return;
        };
        let socket = Arc::new(sock);
        let idx = self.udp.len();
        let tx = self.events_tx.clone();
        let rx = socket.clone();
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                match rx.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        if tx.send(Event::Udp { idx, from, data }).is_err() {
                            return;
                        }
                    }
                    // ICMP errors surface as failed receives; keep going.
                    Err(e) => {
                        log::udp_recv_error(&shared, local, &e);
                        let (queued, gone) = {
                            use std::os::fd::AsRawFd;
                            crate::udp_errqueue::drain(rx.as_raw_fd(), 256)
                        };
                        // (an ICMP report is no reason to slow down)
                        if queued == 0 {
                            tokio::time::sleep(Duration::from_millis(1)).await
                        }
                        for to in gone {
                            if tx.send(Event::UdpUnreachable { idx, to }).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let cfg = self.utp_config();
        let utp = lt_utp::UtpSocket::new(cfg, Instant::now(), self.rng.next_u64());
        self.udp.push(UdpEndpoint { socket, utp, task });
        self.proxy_udp_tick();
        self.alert(AlertKind::ListenSucceeded {
            endpoint: local,
            socket_type: SocketType::Utp,
        });
    }

    fn close_listen_sockets(&mut self) {
        for s in self.listen_sockets.drain(..) {
            s.task.abort();
        }
        self.ssl_close_listen();
        let utp_peers: Vec<ConnId> = self.utp_conns.values().copied().collect();
        for id in utp_peers {
            self.disconnect(id, None);
        }
        for u in self.udp.drain(..) {
            u.task.abort();
        }
        self.utp_conns.clear();
    }

    /// The first TCP listen port, 0 when not listening.
    pub fn listen_port(&self) -> u16 {
        self.listen_sockets.first().map_or(0, |s| s.local.port())
    }

    pub fn is_listening(&self) -> bool {
        !self.listen_sockets.is_empty()
    }

    /// The local endpoints being listened on.
    pub fn listen_endpoints(&self) -> Vec<SocketAddr> {
        self.listen_sockets.iter().map(|s| s.local).collect()
    }
}

/// `(offset, size)` of every file in the torrent's byte stream, for
/// mapping file priorities onto pieces.
/// `peer_info` bandwidth-state bits: `bw_idle` always, then `bw_limit`
/// (waiting for rate-limit quota), `bw_network` (a socket operation in
/// flight) and `bw_disk` (waiting for the disk).
fn bw_state(limit: bool, network: bool, disk: bool) -> u8 {
    1 | if limit { 2 } else { 0 } | if network { 4 } else { 0 } | if disk { 16 } else { 0 }
}

fn file_ranges(fs: &lt_metainfo::FileStorage) -> Vec<(u64, u64)> {
    (0..fs.num_files())
        .map(|f| {
            (
                fs.file_offset(f).max(0) as u64,
                fs.file_size(f).max(0) as u64,
            )
        })
        .collect()
}

/// Marks the blocks that lie entirely inside pad files as received.
fn mark_pad_blocks(t: &mut Torrent) {
    let fs = t.meta.files();
    let pads: Vec<usize> = (0..fs.num_files()).filter(|&f| fs.pad_file_at(f)).collect();
    if pads.is_empty() {
        return;
    }
    let bs = lt_picker::BLOCK_SIZE as i64;
    let plen = fs.piece_length() as i64;
    for f in pads {
        let start = fs.file_offset(f);
        let end = start + fs.file_size(f);
        let mut off = (start + bs - 1) / bs * bs;
        while off + bs <= end || (off < end && end == fs.total_size()) {
            let piece = (off / plen) as u32;
            let block = ((off % plen) / bs) as u32;
            t.picker.mark_pad_block(BlockRef::new(piece, block));
            off += bs;
        }
    }
}

/// Checks a piece's hashes against the metadata.
fn verify_piece(
    meta: &dyn crate::torrent::Metadata,
    piece: u32,
    h: &lt_storage::PieceHash,
) -> bool {
    let ih = meta.info_hashes();
    let mut ok = true;
    if ih.has_v1() {
        ok &= match (meta.v1_piece_hash(piece), h.v1) {
            (Some(want), Some(got)) => want == got,
            _ => false,
        };
    }
    if ih.has_v2() && !h.v2_blocks.is_empty() {
        if let Some((root, leaves)) = meta.v2_piece_root(piece) {
            ok &= lt_metainfo::merkle::merkle_root(&h.v2_blocks, leaves as usize, 0) == root;
        }
    }
    ok
}

fn storage_op(op: lt_storage::Operation) -> Operation {
    use lt_storage::Operation as S;
    match op {
        S::FileRead => Operation::FileRead,
        S::FileWrite => Operation::FileWrite,
        S::FileOpen => Operation::FileOpen,
        S::Mkdir => Operation::Mkdir,
        S::FileRename => Operation::FileRename,
        S::FileRemove => Operation::FileRemove,
        S::FileStat => Operation::FileStat,
        S::FileCopy => Operation::FileCopy,
        S::FileFallocate => Operation::FileFallocate,
        S::Symlink => Operation::Symlink,
        S::PartfileRead => Operation::PartfileRead,
        S::PartfileWrite => Operation::PartfileWrite,
        S::PartfileMove => Operation::PartfileMove,
        _ => Operation::File,
    }
}

fn tracker_event(e: lt_tracker::Event) -> crate::alert::TrackerEvent {
    use crate::alert::TrackerEvent as A;
    match e {
        lt_tracker::Event::None => A::None,
        lt_tracker::Event::Completed => A::Completed,
        lt_tracker::Event::Started => A::Started,
        lt_tracker::Event::Stopped => A::Stopped,
        lt_tracker::Event::Paused => A::Paused,
    }
}

/// The error code libtorrent reports for a tracker failure.
pub fn tracker_error_code(e: &lt_tracker::TrackerError) -> ErrorCode {
    use lt_tracker::TrackerError as T;
    let lt = |v| ErrorCode::new(v, Category::Libtorrent);
    match e {
        T::HttpStatus { code, .. } => ErrorCode::new(i32::from(*code), Category::Http),
        T::TrackerFailure(_) => lt(173),
        T::InvalidTrackerResponse
        | T::InvalidFilesEntry
        | T::InvalidHashEntry
        | T::InvalidPeerDict => lt(171),
        T::Bdecode(_) => lt(15),
        T::ScrapeNotAvailable => lt(170),
        T::InvalidTrackerResponseLength => lt(177),
        T::InvalidTrackerTransactionId => lt(178),
        T::InvalidTrackerAction => lt(179),
        T::TimedOut => lt(36),
        T::HttpParse(_) => lt(150),
        T::ResponseTooLarge => lt(81),
        T::TooManyRedirects | T::InvalidRedirect => lt(85),
        T::UnexpectedEof => ErrorCode::new(libc::ECONNRESET, Category::System),
        T::UnsupportedUrlProtocol => lt(24),
        T::InvalidUrl(_) => lt(25),
        T::Gzip => lt(152),
        T::Io(m) => crate::proxy_io::socks_code_in(m)
            .unwrap_or_else(|| ErrorCode::new(e.errno().unwrap_or(libc::EIO), Category::System)),
        T::SsrfMitigation => lt(180),
        T::BlockedByIdna => lt(180),
    }
}

/// The 20-byte forms of a torrent's info-hashes (v1, truncated v2), as
/// they appear in handshakes and trackers.
fn wire_hashes(ih: &lt_core::InfoHash) -> Vec<Sha1Hash> {
    let mut v = Vec::with_capacity(2);
    if ih.has_v1() {
        v.push(ih.v1);
    }
    if ih.has_v2() {
        v.push(ih.v2.truncated());
    }
    v
}

/// Fills `buf` from the OS random source (for MSE secrets); falls back to
/// the engine's PRNG-free time mix only if /dev/urandom is unavailable.
fn os_random(buf: &mut [u8]) {
    use std::io::Read;
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok();
    if !ok {
        let mut rng = lt_picker::Rng::new(random_seed());
        for b in buf.iter_mut() {
            *b = rng.next_u64() as u8;
        }
    }
}

fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    t ^ (u64::from(std::process::id()) << 32) ^ (&t as *const u64 as u64)
}

/// A peer id: the fingerprint followed by random printable characters.
fn make_peer_id(fingerprint: &[u8]) -> PeerId {
    let mut id = [0u8; 20];
    let n = fingerprint.len().min(20);
    id[..n].copy_from_slice(&fingerprint[..n]);
    let mut rng = lt_picker::Rng::new(random_seed());
    const CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-._~";
    for b in id.iter_mut().skip(n) {
        *b = CHARS[(rng.next_u64() % CHARS.len() as u64) as usize];
    }
    Sha1Hash(id)
}

fn li_display(host: &ListenHost, port: u16) -> String {
    match host {
        ListenHost::Ip(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        ListenHost::Ip(a) => format!("{a}:{port}"),
        ListenHost::Device(d) => format!("{d}:{port}"),
    }
}

/// Resolves a device name to its first address. Only the loopback device
/// is resolved without enumerating interfaces.
fn device_address(name: &str) -> Option<IpAddr> {
    match name {
        "lo" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "lo6" => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => None,
    }
}

/// Binds a TCP listener and the UDP socket for uTP on the same address and
/// port. With port 0 the kernel picks the TCP port, which UDP may already
/// use elsewhere: then another port is tried, so that both halves share
/// one. The UDP result is an error when no pair was found (or the fixed
/// port is taken for UDP); the TCP listener still serves.
/// A bound listen endpoint: its TCP listener and UDP socket (whose bind may
/// have failed alone), or what failed.
type Bound =
    Result<(TcpListener, std::io::Result<std::net::UdpSocket>), (Operation, std::io::Error)>;

fn bind_pair(addr: SocketAddr) -> Bound {
    const ATTEMPTS: usize = 16;
    let mut attempt = 0;
    loop {
        let listener = bind_listener(addr)?;
        let local = listener.local_addr().unwrap_or(addr);
        match std::net::UdpSocket::bind(local) {
            Ok(udp) => return Ok((listener, Ok(udp))),
            Err(e) if addr.port() != 0 || attempt + 1 >= ATTEMPTS => return Ok((listener, Err(e))),
            Err(_) => attempt += 1,
        }
    }
}

fn bind_listener(addr: SocketAddr) -> Result<TcpListener, (Operation, std::io::Error)> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| (Operation::SockOpen, e))?;
    sock.set_reuseaddr(true)
        .map_err(|e| (Operation::SockOption, e))?;
    sock.bind(addr).map_err(|e| (Operation::SockBind, e))?;
    sock.listen(128).map_err(|e| (Operation::SockListen, e))
}

async fn accept_loop(listener: TcpListener, tx: mpsc::UnboundedSender<Event>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if tx.send(Event::Incoming { stream, peer }).is_err() {
                    return;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Seconds a request may take before it times out, as libtorrent reports it
/// (`peer_info.request_timeout`): the round-trip mean plus four mean
/// deviations (a fifth of the mean after one sample; `request_timeout`
/// before any), rounded up, at most `max_secs`, at least 2 (the check runs
/// once a second).
fn request_timeout_secs(rt: lt_wire::peer::RoundTrips, max_secs: i64) -> i32 {
    let ms = match rt.samples() {
        0 => return max_secs.min(i64::from(i32::MAX)) as i32,
        1 => rt.mean_ms() + rt.mean_ms() / 5,
        _ => rt.mean_ms() + 4 * rt.deviation_ms(),
    };
    ((ms + 999) / 1000).min(max_secs).max(2) as i32
}

/// The error of a connection the peer closed (asio's end of file).
fn eof_error() -> ErrorCode {
    ErrorCode::new(2, Category::AsioMisc)
}
