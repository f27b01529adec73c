//! Alerts: what the engine tells its user, one value per event.
//!
//! Each alert has a timestamp, a kind with its data, and the category bits
//! of libtorrent's `alert::category_t`, which the alert mask filters on.

use std::net::SocketAddr;
use std::time::SystemTime;

use lt_core::{ErrorCode, InfoHash};

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

/// libtorrent's `operation_t` values the engine reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Unknown = 0,
    Bittorrent = 1,
    Iocontrol = 2,
    GetInterface = 3,
    Enum = 4,
    SockOpen = 5,
    SockBind = 6,
    SockListen = 7,
    SockBindToDevice = 8,
    SockAccept = 9,
    ParseAddress = 10,
    EnumIf = 11,
    FileStat = 12,
    FileCopy = 13,
    FileFallocate = 14,
    FileHardLink = 15,
    FileRemove = 16,
    FileRename = 17,
    FileOpen = 18,
    Mkdir = 19,
    CheckResume = 20,
    Exception = 21,
    AllocCachePiece = 22,
    PartfileMove = 23,
    PartfileRead = 24,
    PartfileWrite = 25,
    HostnameLookup = 26,
    Symlink = 27,
    HandshakeOp = 28,
    SockOption = 29,
    EnumRoute = 30,
    FileSeek = 31,
    Timer = 32,
    FileMmap = 33,
    FileTruncate = 34,
    Connect = 35,
    SockRead = 36,
    SockWrite = 37,
    FileRead = 38,
    FileWrite = 39,
    Encryption = 40,
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
        event: TrackerEvent,
    },
    TrackerReply {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        num_peers: i32,
    },
    TrackerWarning {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        msg: String,
    },
    TrackerError {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        times_in_row: i32,
        error: ErrorCode,
        failure_reason: String,
        status_code: i32,
    },
    ScrapeReply {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        incomplete: i32,
        complete: i32,
    },
    ScrapeFailed {
        torrent: TorrentRef,
        url: String,
        local_endpoint: Option<SocketAddr>,
        error: ErrorCode,
        msg: String,
    },
    /// `post_session_stats()`: every metric's value, by metric index.
    SessionStats {
        values: Vec<i64>,
    },
    /// Alerts were dropped because the queue was full: bit `i` of the
    /// bitmap stands for alert type id `i`.
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
            TorrentFinished { .. } => "torrent_finished",
            TorrentPaused { .. } => "torrent_paused",
            TorrentResumed { .. } => "torrent_resumed",
            TorrentError { .. } => "torrent_error",
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
            ScrapeReply { .. } => "scrape_reply",
            ScrapeFailed { .. } => "scrape_failed",
            SessionStats { .. } => "session_stats",
            AlertsDropped { .. } => "alerts_dropped",
            Performance { .. } => "performance",
            ExternalIp { .. } => "external_ip",
            Log { .. } => "log",
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
            FileError { .. } => 43,
            ExternalIp { .. } => 47,
            ListenFailed { .. } => 48,
            ListenSucceeded { .. } => 49,
            TorrentError { .. } => 64,
            IncomingConnection { .. } => 66,
            AddTorrent { .. } => 67,
            StateUpdate { .. } => 68,
            SessionStats { .. } => 70,
            Log { .. } => 79,
            AlertsDropped { .. } => 95,
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
            TorrentFinished { .. } => STATUS,
            TorrentPaused { .. } => STATUS,
            TorrentResumed { .. } => STATUS,
            TorrentError { .. } => ERROR | STATUS,
            PieceFinished { .. } => PIECE_PROGRESS,
            HashFailed { .. } => STATUS,
            FileCompleted { .. } => FILE_PROGRESS,
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
            ScrapeReply { .. } => TRACKER,
            ScrapeFailed { .. } => TRACKER | ERROR,
            SessionStats { .. } => STATS,
            AlertsDropped { .. } => ERROR,
            Performance { .. } => PERFORMANCE_WARNING,
            ExternalIp { .. } => STATUS,
            Log { .. } => SESSION_LOG,
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
            | TorrentFinished { torrent }
            | TorrentPaused { torrent }
            | TorrentResumed { torrent }
            | TorrentError { torrent, .. }
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
            | ScrapeReply { torrent, .. }
            | ScrapeFailed { torrent, .. }
            | Performance { torrent, .. } => Some(torrent),
            ListenSucceeded { .. }
            | ListenFailed { .. }
            | StateUpdate { .. }
            | IncomingConnection { .. }
            | SessionStats { .. }
            | AlertsDropped { .. }
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
}
