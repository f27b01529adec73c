//! Alerts: what the engine tells its user, one value per event.
//!
//! Each alert has a timestamp, a kind with its data, and the category bits
//! of libtorrent's `alert::category_t`, which the alert mask filters on.

use std::net::SocketAddr;
use std::time::SystemTime;

use lt_core::error::ErrorCode;
use lt_core::InfoHash;

use crate::alert_queue::QueuedAlert;
use crate::types::{TorrentId, TorrentState};

/// `alert::category_t` bits.
pub mod category {
    pub const ERROR: u32 = 1;
    pub const PEER: u32 = 2;
    pub const PORT_MAPPING: u32 = 4;
    pub const STORAGE: u32 = 8;
    pub const TRACKER: u32 = 16;
    pub const CONNECT: u32 = 32;
    pub const STATUS: u32 = 64;
    /// The deprecated `progress` bit, still set on progress alerts.
    pub const PROGRESS: u32 = 128;
    pub const IP_BLOCK: u32 = 256;
    pub const PERFORMANCE_WARNING: u32 = 512;
    pub const DHT: u32 = 1024;
    pub const STATS: u32 = 2048;
    pub const SESSION_LOG: u32 = 8192;
    pub const TORRENT_LOG: u32 = 16384;
    pub const PEER_LOG: u32 = 32768;
    pub const INCOMING_REQUEST: u32 = 65536;
    pub const DHT_LOG: u32 = 131072;
    pub const DHT_OPERATION: u32 = 262144;
    pub const PORT_MAPPING_LOG: u32 = 524288;
    pub const PICKER_LOG: u32 = 1048576;
    pub const FILE_PROGRESS: u32 = 2097152;
    pub const PIECE_PROGRESS: u32 = 4194304;
    pub const UPLOAD: u32 = 8388608;
    pub const BLOCK_PROGRESS: u32 = 16777216;
    pub const ALL: u32 = 0xffff_ffff;
}

/// The torrent an alert is about.
#[derive(Clone, Debug)]
pub struct TorrentRef {
    pub id: TorrentId,
    pub name: String,
    pub info_hashes: InfoHash,
}

/// The peer an alert is about.
#[derive(Clone, Debug)]
pub struct PeerRef {
    pub endpoint: SocketAddr,
    pub pid: [u8; 20],
}

/// libtorrent's `socket_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketType {
    Tcp = 0,
    Socks5 = 1,
    Http = 2,
    Utp = 3,
    I2p = 4,
    TcpSsl = 5,
    Socks5Ssl = 6,
    HttpSsl = 7,
    UtpSsl = 8,
}

/// libtorrent's `operation_t`: what the engine was doing when an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Unknown = 0,
    Bittorrent = 1,
    Iocontrol = 2,
    Getpeername = 3,
    Getname = 4,
    AllocRecvbuf = 5,
    AllocSndbuf = 6,
    FileWrite = 7,
    FileRead = 8,
    File = 9,
    SockWrite = 10,
    SockRead = 11,
    SockOpen = 12,
    SockBind = 13,
    Available = 14,
    Encryption = 15,
    Connect = 16,
    SslHandshake = 17,
    GetInterface = 18,
    SockListen = 19,
    SockBindToDevice = 20,
    SockAccept = 21,
    ParseAddress = 22,
    EnumIf = 23,
    FileStat = 24,
    FileCopy = 25,
    FileFallocate = 26,
    FileHardLink = 27,
    FileRemove = 28,
    FileRename = 29,
    FileOpen = 30,
    Mkdir = 31,
    CheckResume = 32,
    Exception = 33,
    AllocCachePiece = 34,
    PartfileMove = 35,
    PartfileRead = 36,
    PartfileWrite = 37,
    HostnameLookup = 38,
    Symlink = 39,
    Handshake = 40,
    SockOption = 41,
}

/// Tracker announce events (`event_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackerEvent {
    None = 0,
    Completed = 1,
    Started = 2,
    Stopped = 3,
    Paused = 4,
}

/// The number of alert types (`alerts_dropped_alert.dropped_alerts` has one
/// flag per type).
pub const NUM_ALERT_TYPES: usize = 105;

/// What happened.
#[derive(Clone, Debug)]
pub enum AlertKind {
    ListenSucceeded {
        endpoint: SocketAddr,
        socket_type: SocketType,
    },
    ListenFailed {
        interface: String,
        endpoint: SocketAddr,
        op: Operation,
        error: ErrorCode,
        socket_type: SocketType,
    },
    /// A torrent was added (or failed to be: `error` set, `torrent` names
    /// what was asked for).
    AddTorrent {
        torrent: TorrentRef,
        error: ErrorCode,
        /// What the user passed, without the metadata (the alert's
        /// `params`); the engine keeps no copy.
        params: Option<Box<lt_resume::ResumeData>>,
    },
    TorrentRemoved {
        torrent: TorrentRef,
    },
    TorrentDeleted {
        torrent: TorrentRef,
    },
    TorrentDeleteFailed {
        torrent: TorrentRef,
        error: ErrorCode,
    },
    StateChanged {
        torrent: TorrentRef,
        state: TorrentState,
        prev_state: TorrentState,
    },
    /// `post_torrent_updates()`: the torrents whose status changed.
    StateUpdate {
        status: Vec<crate::types::TorrentStatus>,
    },
    TorrentChecked {
        torrent: TorrentRef,
    },
    /// The metadata of a magnet-link torrent arrived and checked out.
    MetadataReceived {
        torrent: TorrentRef,
    },
    /// Metadata received from peers was invalid (wrong hash, unparsable).
    MetadataFailed {
        torrent: TorrentRef,
        error: ErrorCode,
    },
    TorrentFinished {
        torrent: TorrentRef,
    },
    TorrentPaused {
        torrent: TorrentRef,
    },
    TorrentResumed {
        torrent: TorrentRef,
    },
    TorrentError {
        torrent: TorrentRef,
        error: ErrorCode,
        filename: String,
    },
    /// An SSL torrent has no certificate of ours (`set_ssl_certificate`).
    TorrentNeedCert {
        torrent: TorrentRef,
        error: ErrorCode,
    },
    /// A hybrid torrent's metadata arrived on `torrent` (added by one of
    /// its info-hashes) while `conflicting` was added by the other: both
    /// stop with `duplicate_torrent` (libtorrent's `torrent_conflict_alert`).
    TorrentConflict {
        torrent: TorrentRef,
        conflicting: TorrentRef,
        metadata: std::sync::Arc<lt_metainfo::TorrentInfo>,
    },
    PieceFinished {
        torrent: TorrentRef,
        piece: u32,
    },
    HashFailed {
        torrent: TorrentRef,
        piece: u32,
    },
    FileCompleted {
        torrent: TorrentRef,
        index: u32,
    },
    FileError {
        torrent: TorrentRef,
        filename: String,
        op: Operation,
        error: ErrorCode,
    },
    ReadPiece {
        torrent: TorrentRef,
        piece: u32,
        data: Vec<u8>,
        error: ErrorCode,
    },
    PeerConnect {
        torrent: TorrentRef,
        peer: PeerRef,
        socket_type: SocketType,
        /// We opened the connection (else the peer did).
        outgoing: bool,
    },
    PeerDisconnected {
        torrent: TorrentRef,
        peer: PeerRef,
        socket_type: SocketType,
        op: Operation,
        error: ErrorCode,
        reason: i32,
    },
    PeerBan {
        torrent: TorrentRef,
        peer: PeerRef,
    },
    PeerError {
        torrent: TorrentRef,
        peer: PeerRef,
        op: Operation,
        error: ErrorCode,
    },
    IncomingConnection {
        endpoint: SocketAddr,
        socket_type: SocketType,
    },
    TrackerAnnounce {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        /// Which info-hash was announced (v1 or v2).
        version: lt_core::ProtocolVersion,
        event: TrackerEvent,
    },
    TrackerReply {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        /// Which info-hash was announced (v1 or v2).
        version: lt_core::ProtocolVersion,
        num_peers: i32,
    },
    TrackerWarning {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        /// Which info-hash was announced (v1 or v2).
        version: lt_core::ProtocolVersion,
        msg: String,
    },
    TrackerError {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        /// Which info-hash was announced (v1 or v2).
        version: lt_core::ProtocolVersion,
        times_in_row: i32,
        error: ErrorCode,
        failure_reason: String,
        status_code: i32,
    },
    ScrapeReply {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        /// Which info-hash was announced (v1 or v2).
        version: lt_core::ProtocolVersion,
        incomplete: i32,
        complete: i32,
    },
    ScrapeFailed {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        /// Which info-hash was announced (v1 or v2).
        version: lt_core::ProtocolVersion,
        error: ErrorCode,
        msg: String,
    },
    /// Precedes the first `session_stats` alert.
    SessionStatsHeader,
    /// `post_session_stats()`: every metric's value, by metric index.
    SessionStats {
        values: Vec<i64>,
    },
    /// Alerts were dropped because the queue was full: bit `i` of the
    /// bitmap stands for alert type id `i`.
    /// The SOCKS5 UDP association of a UDP socket failed (`ip`: the
    /// proxy).
    Socks5 {
        error: ErrorCode,
        ip: SocketAddr,
        op: Operation,
    },
    AlertsDropped {
        dropped: [u64; 4],
    },
    Performance {
        torrent: TorrentRef,
        warning_code: i32,
    },
    ExternalIp {
        address: std::net::IpAddr,
    },
    /// Session log line (category `SESSION_LOG`).
    Log {
        msg: String,
    },
    /// DHT and local service discovery alerts (dht_alert.rs).
    Dht(crate::dht_alert::DhtAlert),
    /// Port mapping (NAT-PMP / PCP and UPnP).
    Portmap(crate::portmap_alert::PortmapAlert),
    /// Log alerts, UDP errors, oversized files (log_alert.rs).
    Extra(crate::log_alert::LogAlert),
    /// `save_resume_data()` result: the torrent's resume state.
    SaveResumeData {
        torrent: TorrentRef,
        params: Box<lt_resume::ResumeData>,
    },
    SaveResumeDataFailed {
        torrent: TorrentRef,
        error: ErrorCode,
    },
    /// Resume data did not match the files: a full check follows.
    FastresumeRejected {
        torrent: TorrentRef,
        error: ErrorCode,
        op: Operation,
        path: String,
    },
    StorageMoved {
        torrent: TorrentRef,
        path: String,
        old_path: String,
    },
    StorageMovedFailed {
        torrent: TorrentRef,
        error: ErrorCode,
        op: Operation,
        path: String,
    },
    FileRenamed {
        torrent: TorrentRef,
        index: u32,
        new_name: String,
        old_name: String,
    },
    FileRenameFailed {
        torrent: TorrentRef,
        index: u32,
        error: ErrorCode,
    },
    /// A peer was not connected (or was disconnected) because of a filter;
    /// no torrent for incoming connections. `reason`: 0 = ip_filter.
    PeerBlocked {
        torrent: Option<TorrentRef>,
        peer: PeerRef,
        reason: i32,
    },
    /// A web seed failed (`url_seed_alert`). `msg` is the server's
    /// status line for HTTP errors, else empty.
    UrlSeed {
        torrent: TorrentRef,
        url: String,
        error: ErrorCode,
        msg: String,
    },
    /// The deprecated `torrent_added_alert`, posted beside `add_torrent`.
    TorrentAdded {
        torrent: TorrentRef,
    },
    /// `post_file_progress()`: bytes downloaded of each file.
    FileProgress {
        torrent: TorrentRef,
        files: Vec<i64>,
    },
    /// `post_peer_info()`.
    PeerInfoList {
        torrent: TorrentRef,
        peers: Vec<crate::types::PeerInfo>,
    },
    /// `post_piece_availability()`.
    PieceAvailability {
        torrent: TorrentRef,
        availability: Vec<i32>,
    },
    /// `post_download_queue()`.
    PieceInfo {
        torrent: TorrentRef,
        queue: Vec<lt_picker::PartialPieceInfo>,
    },
    /// `post_trackers()`.
    TrackerList {
        torrent: TorrentRef,
        trackers: Vec<lt_tracker::AnnounceEntry>,
    },
    /// A block was requested, received, timed out, uploaded, dropped by
    /// the peer, or arrived without being asked for.
    Block {
        torrent: TorrentRef,
        peer: PeerRef,
        event: BlockEvent,
        piece: u32,
        block: u32,
    },
    PeerSnubbed {
        torrent: TorrentRef,
        peer: PeerRef,
    },
    PeerUnsnubbed {
        torrent: TorrentRef,
        peer: PeerRef,
    },
    /// A peer asked for a block we cannot give it.
    InvalidRequest {
        torrent: TorrentRef,
        peer: PeerRef,
        piece: u32,
        start: u32,
        length: u32,
        we_have: bool,
        peer_interested: bool,
        withheld: bool,
    },
    CacheFlushed {
        torrent: TorrentRef,
    },
    /// File priorities were applied (`prioritize_files`, `file_priority`).
    FilePrio {
        torrent: TorrentRef,
    },
    /// The deprecated per-second `stats_alert`: bytes per channel over
    /// `interval` milliseconds.
    Stats {
        torrent: TorrentRef,
        transferred: [i32; 10],
        interval: i32,
    },
}

/// What happened to a block (`block_*_alert`, `request_dropped_alert`,
/// `unwanted_block_alert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockEvent {
    Downloading,
    Finished,
    Timeout,
    Uploaded,
    Dropped,
    Unwanted,
}

/// One alert.
#[derive(Clone, Debug)]
pub struct Alert {
    pub timestamp: SystemTime,
    pub kind: AlertKind,
}

impl Alert {
    pub fn new(kind: AlertKind) -> Self {
        Alert {
            timestamp: SystemTime::now(),
            kind,
        }
    }

    /// The alert's name without the `_alert` suffix, as `what()` returns it.
    pub fn what(&self) -> &'static str {
        use AlertKind::*;
        match &self.kind {
            ListenSucceeded { .. } => "listen_succeeded",
            ListenFailed { .. } => "listen_failed",
            AddTorrent { .. } => "add_torrent",
            TorrentRemoved { .. } => "torrent_removed",
            TorrentDeleted { .. } => "torrent_deleted",
            TorrentDeleteFailed { .. } => "torrent_delete_failed",
            StateChanged { .. } => "state_changed",
            StateUpdate { .. } => "state_update",
            TorrentChecked { .. } => "torrent_checked",
            MetadataReceived { .. } => "metadata_received",
            MetadataFailed { .. } => "metadata_failed",
            TorrentFinished { .. } => "torrent_finished",
            TorrentPaused { .. } => "torrent_paused",
            TorrentResumed { .. } => "torrent_resumed",
            TorrentError { .. } => "torrent_error",
            TorrentNeedCert { .. } => "torrent_need_cert",
            TorrentConflict { .. } => "torrent_conflict",
            PieceFinished { .. } => "piece_finished",
            HashFailed { .. } => "hash_failed",
            FileCompleted { .. } => "file_completed",
            FileError { .. } => "file_error",
            ReadPiece { .. } => "read_piece",
            PeerConnect { .. } => "peer_connect",
            PeerDisconnected { .. } => "peer_disconnected",
            PeerBan { .. } => "peer_ban",
            PeerError { .. } => "peer_error",
            IncomingConnection { .. } => "incoming_connection",
            TrackerAnnounce { .. } => "tracker_announce",
            TrackerReply { .. } => "tracker_reply",
            TrackerWarning { .. } => "tracker_warning",
            TrackerError { .. } => "tracker_error",
            UrlSeed { .. } => "url_seed",
            ScrapeReply { .. } => "scrape_reply",
            ScrapeFailed { .. } => "scrape_failed",
            SessionStatsHeader => "session_stats_header",
            SessionStats { .. } => "session_stats",
            AlertsDropped { .. } => "alerts_dropped",
            Socks5 { .. } => "socks5",
            Performance { .. } => "performance",
            ExternalIp { .. } => "external_ip",
            Log { .. } => "log",
            Dht(d) => d.what(),
            Portmap(d) => d.what(),
            Extra(x) => x.what(),
            SaveResumeData { .. } => "save_resume_data",
            SaveResumeDataFailed { .. } => "save_resume_data_failed",
            FastresumeRejected { .. } => "fastresume_rejected",
            StorageMoved { .. } => "storage_moved",
            StorageMovedFailed { .. } => "storage_moved_failed",
            FileRenamed { .. } => "file_renamed",
            FileRenameFailed { .. } => "file_rename_failed",
            PeerBlocked { .. } => "peer_blocked",
            TorrentAdded { .. } => "torrent_added",
            FileProgress { .. } => "file_progress",
            PeerInfoList { .. } => "peer_info",
            PieceAvailability { .. } => "piece_availability",
            PieceInfo { .. } => "piece_info",
            TrackerList { .. } => "tracker_list",
            Block { event, .. } => match event {
                BlockEvent::Downloading => "block_downloading",
                BlockEvent::Finished => "block_finished",
                BlockEvent::Timeout => "block_timeout",
                BlockEvent::Uploaded => "block_uploaded",
                BlockEvent::Dropped => "request_dropped",
                BlockEvent::Unwanted => "unwanted_block",
            },
            PeerSnubbed { .. } => "peer_snubbed",
            PeerUnsnubbed { .. } => "peer_unsnubbed",
            InvalidRequest { .. } => "invalid_request",
            CacheFlushed { .. } => "cache_flushed",
            FilePrio { .. } => "file_prio",
            Stats { .. } => "stats",
        }
    }

    /// libtorrent's numeric alert type (`alert::type()`), also the bit used
    /// in `alerts_dropped_alert`.
    pub fn alert_type(&self) -> usize {
        use AlertKind::*;
        match &self.kind {
            TorrentRemoved { .. } => 4,
            ReadPiece { .. } => 5,
            FileCompleted { .. } => 6,
            Performance { .. } => 9,
            StateChanged { .. } => 10,
            TrackerError { .. } => 11,
            UrlSeed { .. } => 42,
            TrackerWarning { .. } => 12,
            ScrapeReply { .. } => 13,
            ScrapeFailed { .. } => 14,
            TrackerReply { .. } => 15,
            TrackerAnnounce { .. } => 17,
            HashFailed { .. } => 18,
            PeerBan { .. } => 19,
            PeerError { .. } => 22,
            PeerConnect { .. } => 23,
            PeerDisconnected { .. } => 24,
            TorrentFinished { .. } => 26,
            PieceFinished { .. } => 27,
            TorrentDeleted { .. } => 35,
            TorrentDeleteFailed { .. } => 36,
            TorrentPaused { .. } => 39,
            TorrentResumed { .. } => 40,
            TorrentChecked { .. } => 41,
            MetadataFailed { .. } => 44,
            MetadataReceived { .. } => 45,
            FileError { .. } => 43,
            ExternalIp { .. } => 47,
            ListenFailed { .. } => 48,
            ListenSucceeded { .. } => 49,
            TorrentError { .. } => 64,
            TorrentNeedCert { .. } => 65,
            TorrentConflict { .. } => 99,
            IncomingConnection { .. } => 66,
            AddTorrent { .. } => 67,
            StateUpdate { .. } => 68,
            SessionStatsHeader => 92,
            SessionStats { .. } => 70,
            Log { .. } => 79,
            AlertsDropped { .. } => 95,
            Socks5 { .. } => 96,
            Dht(d) => d.alert_type(),
            Portmap(d) => d.alert_type(),
            Extra(x) => x.alert_type(),
            FileRenamed { .. } => 7,
            FileRenameFailed { .. } => 8,
            StorageMoved { .. } => 33,
            StorageMovedFailed { .. } => 34,
            SaveResumeData { .. } => 37,
            SaveResumeDataFailed { .. } => 38,
            FastresumeRejected { .. } => 53,
            PeerBlocked { .. } => 54,
            TorrentAdded { .. } => 3,
            PeerUnsnubbed { .. } => 20,
            PeerSnubbed { .. } => 21,
            InvalidRequest { .. } => 25,
            Block { event, .. } => match event {
                BlockEvent::Dropped => 28,
                BlockEvent::Timeout => 29,
                BlockEvent::Finished => 30,
                BlockEvent::Downloading => 31,
                BlockEvent::Unwanted => 32,
                BlockEvent::Uploaded => 94,
            },
            Stats { .. } => 57,
            CacheFlushed { .. } => 58,
            FilePrio { .. } => 97,
            PeerInfoList { .. } => 100,
            FileProgress { .. } => 101,
            PieceInfo { .. } => 102,
            PieceAvailability { .. } => 103,
            TrackerList { .. } => 104,
        }
    }

    /// The category bits.
    pub fn category(&self) -> u32 {
        use category::*;
        use AlertKind::*;
        match &self.kind {
            ListenSucceeded { .. } => STATUS,
            ListenFailed { .. } => STATUS | ERROR,
            AddTorrent { .. } => STATUS,
            TorrentRemoved { .. } => STATUS,
            TorrentDeleted { .. } => STORAGE,
            TorrentDeleteFailed { .. } => STORAGE | ERROR,
            StateChanged { .. } => STATUS,
            StateUpdate { .. } => STATUS,
            TorrentChecked { .. } => STATUS,
            MetadataReceived { .. } => STATUS,
            MetadataFailed { .. } => ERROR,
            TorrentFinished { .. } => STATUS,
            TorrentPaused { .. } => STATUS,
            TorrentResumed { .. } => STATUS,
            TorrentError { .. } => ERROR | STATUS,
            TorrentNeedCert { .. } => STATUS,
            TorrentConflict { .. } => ERROR,
            PieceFinished { .. } => PIECE_PROGRESS | PROGRESS,
            HashFailed { .. } => STATUS,
            FileCompleted { .. } => FILE_PROGRESS | PROGRESS,
            FileError { .. } => STATUS | ERROR | STORAGE,
            ReadPiece { .. } => STORAGE,
            PeerConnect { .. } => CONNECT,
            PeerDisconnected { .. } => CONNECT,
            PeerBan { .. } => PEER,
            PeerError { .. } => PEER,
            IncomingConnection { .. } => PEER,
            TrackerAnnounce { .. } => TRACKER,
            TrackerReply { .. } => TRACKER,
            TrackerWarning { .. } => TRACKER | ERROR,
            TrackerError { .. } => TRACKER | ERROR,
            UrlSeed { .. } => PEER | ERROR,
            ScrapeReply { .. } => TRACKER,
            ScrapeFailed { .. } => TRACKER | ERROR,
            SessionStatsHeader | SessionStats { .. } => STATS,
            AlertsDropped { .. } => ERROR,
            Socks5 { .. } => ERROR,
            Performance { .. } => PERFORMANCE_WARNING,
            ExternalIp { .. } => STATUS,
            Log { .. } => SESSION_LOG,
            Dht(d) => d.category(),
            Portmap(d) => d.category(),
            Extra(x) => x.category(),
            SaveResumeData { .. } => STORAGE,
            SaveResumeDataFailed { .. } => STORAGE | ERROR,
            FastresumeRejected { .. } => STATUS | ERROR,
            StorageMoved { .. } => STORAGE,
            StorageMovedFailed { .. } => STORAGE,
            FileRenamed { .. } => STORAGE,
            FileRenameFailed { .. } => STORAGE,
            PeerBlocked { .. } => IP_BLOCK,
            TorrentAdded { .. } => STATUS,
            FileProgress { .. } => FILE_PROGRESS,
            PeerInfoList { .. } | PieceAvailability { .. } | TrackerList { .. } => STATUS,
            PieceInfo { .. } => PIECE_PROGRESS,
            Block { event, .. } => match event {
                BlockEvent::Downloading | BlockEvent::Finished => BLOCK_PROGRESS | PROGRESS,
                BlockEvent::Timeout | BlockEvent::Dropped => BLOCK_PROGRESS | PEER,
                BlockEvent::Uploaded => UPLOAD | PROGRESS,
                BlockEvent::Unwanted => PEER,
            },
            PeerSnubbed { .. } | PeerUnsnubbed { .. } | InvalidRequest { .. } => PEER,
            CacheFlushed { .. } | FilePrio { .. } => STORAGE,
            Stats { .. } => STATS,
        }
    }

    /// The error an alert carries, if its kind has one.
    pub fn error(&self) -> Option<&ErrorCode> {
        use AlertKind::*;
        match &self.kind {
            ListenFailed { error, .. }
            | AddTorrent { error, .. }
            | MetadataFailed { error, .. }
            | TorrentDeleteFailed { error, .. }
            | TorrentError { error, .. }
            | TorrentNeedCert { error, .. }
            | FileError { error, .. }
            | ReadPiece { error, .. }
            | PeerDisconnected { error, .. }
            | PeerError { error, .. }
            | TrackerError { error, .. }
            | ScrapeFailed { error, .. }
            | SaveResumeDataFailed { error, .. }
            | FastresumeRejected { error, .. }
            | StorageMovedFailed { error, .. }
            | FileRenameFailed { error, .. }
            | UrlSeed { error, .. }
            | Socks5 { error, .. } => Some(error),
            Dht(d) => d.error(),
            Portmap(d) => d.error(),
            Extra(x) => x.error(),
            _ => None,
        }
    }

    /// The torrent this alert is about, if any.
    pub fn torrent(&self) -> Option<&TorrentRef> {
        use AlertKind::*;
        match &self.kind {
            AddTorrent { torrent, .. }
            | TorrentRemoved { torrent }
            | TorrentDeleted { torrent }
            | TorrentDeleteFailed { torrent, .. }
            | StateChanged { torrent, .. }
            | TorrentChecked { torrent }
            | MetadataReceived { torrent }
            | MetadataFailed { torrent, .. }
            | TorrentFinished { torrent }
            | TorrentPaused { torrent }
            | TorrentResumed { torrent }
            | TorrentError { torrent, .. }
            | TorrentNeedCert { torrent, .. }
            | TorrentConflict { torrent, .. }
            | PieceFinished { torrent, .. }
            | HashFailed { torrent, .. }
            | FileCompleted { torrent, .. }
            | FileError { torrent, .. }
            | ReadPiece { torrent, .. }
            | PeerConnect { torrent, .. }
            | PeerDisconnected { torrent, .. }
            | PeerBan { torrent, .. }
            | PeerError { torrent, .. }
            | TrackerAnnounce { torrent, .. }
            | TrackerReply { torrent, .. }
            | TrackerWarning { torrent, .. }
            | TrackerError { torrent, .. }
            | UrlSeed { torrent, .. }
            | ScrapeReply { torrent, .. }
            | ScrapeFailed { torrent, .. }
            | Performance { torrent, .. }
            | SaveResumeData { torrent, .. }
            | SaveResumeDataFailed { torrent, .. }
            | FastresumeRejected { torrent, .. }
            | StorageMoved { torrent, .. }
            | StorageMovedFailed { torrent, .. }
            | FileRenamed { torrent, .. }
            | FileRenameFailed { torrent, .. } => Some(torrent),
            PeerBlocked { torrent, .. } => torrent.as_ref(),
            TorrentAdded { torrent }
            | FileProgress { torrent, .. }
            | PeerInfoList { torrent, .. }
            | PieceAvailability { torrent, .. }
            | PieceInfo { torrent, .. }
            | TrackerList { torrent, .. }
            | Block { torrent, .. }
            | PeerSnubbed { torrent, .. }
            | PeerUnsnubbed { torrent, .. }
            | InvalidRequest { torrent, .. }
            | CacheFlushed { torrent }
            | FilePrio { torrent }
            | Stats { torrent, .. } => Some(torrent),
            Dht(d) => d.torrent(),
            Portmap(_) => None,
            Extra(x) => x.torrent(),
            ListenSucceeded { .. }
            | ListenFailed { .. }
            | StateUpdate { .. }
            | IncomingConnection { .. }
            | SessionStatsHeader
            | SessionStats { .. }
            | AlertsDropped { .. }
            | Socks5 { .. }
            | ExternalIp { .. }
            | Log { .. } => None,
        }
    }
}

impl QueuedAlert for Alert {
    fn category(&self) -> u32 {
        Alert::category(self)
    }
    fn type_id(&self) -> usize {
        self.alert_type()
    }
    /// As libtorrent: these are posted whatever the alert mask.
    fn always_post(&self) -> bool {
        matches!(
            self.kind,
            AlertKind::AddTorrent { .. }
                | AlertKind::TorrentRemoved { .. }
                | AlertKind::StateUpdate { .. }
                | AlertKind::SessionStatsHeader
                | AlertKind::SessionStats { .. }
                | AlertKind::ReadPiece { .. }
                | AlertKind::Dht(crate::dht_alert::DhtAlert::Stats { .. })
                | AlertKind::SaveResumeData { .. }
                | AlertKind::SaveResumeDataFailed { .. }
                | AlertKind::FileRenamed { .. }
                | AlertKind::FileRenameFailed { .. }
                | AlertKind::CacheFlushed { .. }
                | AlertKind::TorrentDeleted { .. }
                | AlertKind::TorrentDeleteFailed { .. }
        )
    }
}

impl TorrentRef {
    /// How libtorrent names a torrent in alert messages: the first six hex
    /// digits of its best info-hash.
    pub fn short_name(&self) -> String {
        let mut s = if self.info_hashes.has_v2() {
            self.info_hashes.v2.to_hex()
        } else {
            self.info_hashes.v1.to_hex()
        };
        s.truncate(6);
        s
    }
}

impl SocketType {
    /// The label used in messages (`TCP`, `uTP`, ...).
    pub fn label(self) -> &'static str {
        match self {
            SocketType::Tcp => "TCP",
            SocketType::Socks5 => "Socks5",
            SocketType::Http => "HTTP",
            SocketType::Utp => "uTP",
            SocketType::I2p => "I2P",
            SocketType::TcpSsl => "SSL/TCP",
            SocketType::Socks5Ssl => "SSL/Socks5",
            SocketType::HttpSsl => "SSL/HTTP",
            SocketType::UtpSsl => "SSL/uTP",
        }
    }
}

impl TorrentState {
    /// The state's label in `state_changed` messages.
    pub fn label(self) -> &'static str {
        match self {
            TorrentState::QueuedForChecking => "checking (q)",
            TorrentState::CheckingFiles => "checking",
            TorrentState::DownloadingMetadata => "dl metadata",
            TorrentState::Downloading => "downloading",
            TorrentState::Finished => "finished",
            TorrentState::Seeding => "seeding",
            TorrentState::Allocating => "allocating",
            TorrentState::CheckingResumeData => "checking (r)",
        }
    }
}

impl TrackerEvent {
    pub fn label(self) -> &'static str {
        match self {
            TrackerEvent::None => "",
            TrackerEvent::Completed => "completed",
            TrackerEvent::Started => "started",
            TrackerEvent::Stopped => "stopped",
            TrackerEvent::Paused => "paused",
        }
    }
}

fn ep(a: &SocketAddr) -> String {
    a.to_string()
}

/// `peer_alert::message()`: the torrent and the peer's endpoint.
fn peer_prefix(t: &TorrentRef, p: &PeerRef) -> String {
    format!("{} peer {}", t.short_name(), ep(&p.endpoint))
}

fn tracker_prefix(
    t: &TorrentRef,
    url: &str,
    local: &Option<SocketAddr>,
    version: lt_core::ProtocolVersion,
) -> String {
    let local = local.map_or_else(String::new, |l| ep(&l));
    let v = match version {
        lt_core::ProtocolVersion::V1 => "v1",
        lt_core::ProtocolVersion::V2 => "v2",
    };
    format!("{} ({})[{}-{}]", t.short_name(), url, local, v)
}

impl Alert {
    /// The human-readable message, in libtorrent's wording.
    pub fn message(&self) -> String {
        use AlertKind::*;
        match &self.kind {
            ListenSucceeded {
                endpoint,
                socket_type,
            } => format!(
                "successfully listening on [{}] {}",
                socket_type.label(),
                ep(endpoint)
            ),
            ListenFailed {
                interface,
                op,
                error,
                socket_type,
                ..
            } => format!(
                "listening on {} ({}) failed: [{}] [{}] {}",
                interface,
                socket_type.label(),
                operation_label(*op),
                error.category.name(),
                error.message()
            ),
            AddTorrent { torrent, error, .. } => {
                if error.is_error() {
                    format!(
                        "failed to add torrent \"{}\": {}",
                        torrent.name,
                        error.message()
                    )
                } else {
                    format!("added torrent: {}", torrent.name)
                }
            }
            TorrentRemoved { torrent } => format!("{} removed", torrent.short_name()),
            TorrentDeleted { torrent } => format!("{} deleted", torrent.short_name()),
            TorrentDeleteFailed { torrent, error } => format!(
                "{} torrent deletion failed: {}",
                torrent.short_name(),
                error.message()
            ),
            StateChanged { torrent, state, .. } => {
                format!(
                    "{}: state changed to: {}",
                    torrent.short_name(),
                    state.label()
                )
            }
            StateUpdate { status } => format!("state updates for {} torrents", status.len()),
            TorrentChecked { torrent } => format!("{} checked", torrent.short_name()),
            MetadataReceived { torrent } => {
                format!("{} metadata successfully received", torrent.short_name())
            }
            MetadataFailed { torrent, .. } => {
                format!("{} invalid metadata received", torrent.short_name())
            }
            TorrentFinished { torrent } => {
                format!("{} torrent finished downloading", torrent.short_name())
            }
            TorrentPaused { torrent } => format!("{} paused", torrent.short_name()),
            TorrentResumed { torrent } => format!("{} resumed", torrent.short_name()),
            TorrentError {
                torrent,
                error,
                filename,
            } => format!(
                "{} ERROR: ({} {}) {}",
                torrent.short_name(),
                error.value,
                error.message(),
                filename
            ),
            TorrentNeedCert { torrent, .. } => {
                format!("{} needs SSL certificate", torrent.short_name())
            }
            TorrentConflict { torrent, .. } => format!(
                "{} has a conflict with another torrent",
                torrent.short_name()
            ),
            PieceFinished { torrent, piece } => {
                format!(
                    "{} piece: {} finished downloading",
                    torrent.short_name(),
                    piece
                )
            }
            HashFailed { torrent, piece } => {
                format!("{} hash for piece {} failed", torrent.short_name(), piece)
            }
            UrlSeed {
                torrent,
                url,
                error,
                ..
            } => format!(
                "{} url seed ({}) failed: {}",
                torrent.short_name(),
                url,
                error.message()
            ),
            FileCompleted { torrent, index } => {
                format!(
                    "{}: file {} finished downloading",
                    torrent.short_name(),
                    index
                )
            }
            FileError {
                torrent,
                filename,
                op,
                error,
            } => format!(
                "{} {} ({}) error: {}",
                torrent.short_name(),
                operation_label(*op),
                filename,
                error.message()
            ),
            ReadPiece {
                torrent,
                piece,
                error,
                ..
            } => {
                if error.is_error() {
                    format!(
                        "{}: read_piece {} failed: {}",
                        torrent.short_name(),
                        piece,
                        error.message()
                    )
                } else {
                    format!("{}: read_piece {} successful", torrent.short_name(), piece)
                }
            }
            PeerConnect {
                torrent,
                peer,
                socket_type,
                outgoing,
            } => format!(
                "{} {} ({})",
                peer_prefix(torrent, peer),
                if *outgoing {
                    "outgoing connection to peer"
                } else {
                    "incoming connection to peer"
                },
                socket_type.label()
            ),
            PeerDisconnected {
                torrent,
                peer,
                socket_type,
                op,
                error,
                reason,
            } => format!(
                "{} peer {} disconnecting ({}) [{}] [{}]: {} (reason: {})",
                torrent.short_name(),
                ep(&peer.endpoint),
                socket_type.label(),
                operation_label(*op),
                error.category.name(),
                error.message(),
                reason
            ),
            PeerBan { torrent, peer } => format!(
                "{} peer {} banning peer",
                torrent.short_name(),
                ep(&peer.endpoint)
            ),
            PeerError {
                torrent,
                peer,
                op,
                error,
            } => format!(
                "{} peer {} peer error [{}] [{}]: {}",
                torrent.short_name(),
                ep(&peer.endpoint),
                operation_label(*op),
                error.category.name(),
                error.message()
            ),
            IncomingConnection {
                endpoint,
                socket_type,
            } => format!(
                "incoming connection from {} ({})",
                ep(endpoint),
                socket_type.label()
            ),
            TrackerAnnounce {
                torrent,
                url,
                local_endpoint,
                version,
                event,
            } => format!(
                "{} sending announce ({})",
                tracker_prefix(torrent, url, local_endpoint, *version),
                event.label()
            ),
            TrackerReply {
                torrent,
                url,
                local_endpoint,
                version,
                num_peers,
            } => format!(
                "{} received peers: {}",
                tracker_prefix(torrent, url, local_endpoint, *version),
                num_peers
            ),
            TrackerWarning {
                torrent,
                url,
                local_endpoint,
                version,
                msg,
            } => format!(
                "{} warning: {}",
                tracker_prefix(torrent, url, local_endpoint, *version),
                msg
            ),
            TrackerError {
                torrent,
                url,
                local_endpoint,
                version,
                times_in_row,
                error,
                failure_reason,
                ..
            } => format!(
                "{} {} \"{}\" ({})",
                tracker_prefix(torrent, url, local_endpoint, *version),
                error.message(),
                failure_reason,
                times_in_row
            ),
            ScrapeReply {
                torrent,
                url,
                local_endpoint,
                version,
                incomplete,
                complete,
            } => format!(
                "{} scrape reply: {} {}",
                tracker_prefix(torrent, url, local_endpoint, *version),
                incomplete,
                complete
            ),
            ScrapeFailed {
                torrent,
                url,
                local_endpoint,
                version,
                error,
                msg,
            } => format!(
                "{} scrape failed: {}",
                tracker_prefix(torrent, url, local_endpoint, *version),
                if msg.is_empty() {
                    error.message()
                } else {
                    msg.clone()
                }
            ),
            SessionStatsHeader => "session stats header".to_string(),
            SessionStats { .. } => "session stats".to_string(),
            AlertsDropped { .. } => "dropped alerts: ".to_string(),
            Socks5 { error, ip, op } => format!(
                "SOCKS5 error. op: {} ec: {} ep: {}",
                operation_label(*op),
                error.message(),
                ep(ip)
            ),
            Performance {
                torrent,
                warning_code,
            } => format!(
                "{}: performance warning: {}",
                torrent.short_name(),
                warning_code
            ),
            ExternalIp { address } => format!("external IP received: {address}"),
            Log { msg } => msg.clone(),
            Dht(d) => d.message(),
            Portmap(d) => d.message(),
            Extra(x) => x.message(),
            SaveResumeData { torrent, .. } => {
                format!("{} resume data generated", torrent.short_name())
            }
            SaveResumeDataFailed { torrent, error } => format!(
                "{} resume data was not generated: {}",
                torrent.short_name(),
                error.message()
            ),
            FastresumeRejected {
                torrent,
                error,
                op,
                path,
            } => format!(
                "{} fast resume rejected. {}({}): {}",
                torrent.short_name(),
                operation_label(*op),
                path,
                error.message()
            ),
            StorageMoved {
                torrent,
                path,
                old_path,
            } => format!(
                "{} moved storage from \"{}\" to: \"{}\"",
                torrent.short_name(),
                old_path,
                path
            ),
            StorageMovedFailed {
                torrent,
                error,
                op,
                path,
            } => format!(
                "{} storage move failed. {} ({}): {}",
                torrent.short_name(),
                operation_label(*op),
                path,
                error.message()
            ),
            FileRenamed {
                torrent,
                index,
                new_name,
                old_name,
            } => format!(
                "{}: file {} renamed from \"{}\" to \"{}\"",
                torrent.short_name(),
                index,
                old_name,
                new_name
            ),
            PeerBlocked {
                torrent,
                peer,
                reason,
            } => format!(
                "{} peer {}: blocked peer [{}]",
                torrent
                    .as_ref()
                    .map_or_else(|| "------".to_string(), |t| t.short_name()),
                ep(&peer.endpoint),
                match reason {
                    0 => "ip_filter",
                    1 => "port_filter",
                    2 => "i2p_mixed",
                    3 => "privileged_ports",
                    4 => "utp_disabled",
                    5 => "tcp_disabled",
                    6 => "invalid_local_interface",
                    _ => "ssrf_mitigation",
                }
            ),
            FileRenameFailed {
                torrent,
                index,
                error,
            } => format!(
                "{}: failed to rename file {}: {}",
                torrent.short_name(),
                index,
                error.message()
            ),
            TorrentAdded { torrent } => format!("{} added", torrent.short_name()),
            FileProgress { torrent, .. } => format!("{} file_progress", torrent.short_name()),
            PeerInfoList { torrent, .. } => format!("{} peer_info", torrent.short_name()),
            PieceAvailability { torrent, .. } => {
                format!("{} piece_availability", torrent.short_name())
            }
            PieceInfo { torrent, .. } => format!("{} piece_info", torrent.short_name()),
            TrackerList { torrent, .. } => format!("{} tracker_list", torrent.short_name()),
            Block {
                torrent,
                peer,
                event,
                piece,
                block,
            } => {
                let what = match event {
                    BlockEvent::Downloading => "requested block (piece: ",
                    BlockEvent::Finished => "block finished downloading (piece: ",
                    BlockEvent::Timeout => "peer timed out request ( piece: ",
                    BlockEvent::Uploaded => "block uploaded to a peer (piece: ",
                    BlockEvent::Dropped => "peer dropped block ( piece: ",
                    BlockEvent::Unwanted => "received block not in download queue (piece: ",
                };
                format!(
                    "{} {}{} block: {})",
                    peer_prefix(torrent, peer),
                    what,
                    piece,
                    block
                )
            }
            PeerSnubbed { torrent, peer } => format!("{} peer snubbed", peer_prefix(torrent, peer)),
            PeerUnsnubbed { torrent, peer } => {
                format!("{} peer unsnubbed", peer_prefix(torrent, peer))
            }
            InvalidRequest {
                torrent,
                peer,
                piece,
                start,
                length,
                we_have,
                peer_interested,
                withheld,
            } => format!(
                "{} peer sent an invalid piece request (piece: {} start: {} len: {}){}",
                peer_prefix(torrent, peer),
                piece,
                start,
                length,
                if *withheld {
                    ": super seeding withheld piece"
                } else if !we_have {
                    ": we don't have piece"
                } else if !peer_interested {
                    ": peer is not interested"
                } else {
                    ""
                }
            ),
            CacheFlushed { torrent } => torrent.short_name(),
            FilePrio { torrent } => format!("{} file priorities updated", torrent.short_name()),
            Stats {
                torrent,
                transferred,
                interval,
            } => {
                let mut s = format!("{}: [{}]", torrent.short_name(), interval);
                for v in transferred {
                    s.push_str(&format!(" {v}"));
                }
                s
            }
        }
    }
}

/// `operation_name()` of an operation, as used in messages.
pub fn operation_label(op: Operation) -> &'static str {
    lt_core::operation::operation_name(op as i64)
}
