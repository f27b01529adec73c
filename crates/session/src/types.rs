//! Plain data the engine hands out: torrent ids, states, status snapshots,
//! peer info.

use std::net::SocketAddr;
use std::time::Duration;

use lt_core::error::ErrorCode;
use lt_core::InfoHash;

/// A torrent's id within its session. Never reused by a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TorrentId(pub u64);

/// `torrent_status::state_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TorrentState {
    QueuedForChecking = 0,
    CheckingFiles = 1,
    DownloadingMetadata = 2,
    Downloading = 3,
    Finished = 4,
    Seeding = 5,
    Allocating = 6,
    #[default]
    CheckingResumeData = 7,
}

/// `status_flags_t`: the optional parts of a [`TorrentStatus`] to fill in.
pub mod status_query {
    pub const DISTRIBUTED_COPIES: u32 = 1;
    pub const ACCURATE_DOWNLOAD_COUNTERS: u32 = 2;
    pub const LAST_SEEN_COMPLETE: u32 = 4;
    pub const PIECES: u32 = 8;
    pub const VERIFIED_PIECES: u32 = 16;
    pub const TORRENT_FILE: u32 = 32;
    pub const NAME: u32 = 64;
    pub const SAVE_PATH: u32 = 128;
    pub const RENAMED_FILES: u32 = 256;
    pub const ALL: u32 = u32::MAX;
}

/// A snapshot of one torrent (`torrent_status`).
#[derive(Clone, Debug, Default)]
pub struct TorrentStatus {
    pub id: Option<TorrentId>,
    /// The [`status_query`] flags it was made with: the optional fields
    /// not asked for are left empty.
    pub query: u32,
    pub info_hashes: InfoHash,
    pub name: String,
    pub save_path: String,
    pub state: TorrentState,
    pub flags: u64,
    pub paused: bool,
    pub auto_managed: bool,
    pub is_finished: bool,
    pub is_seeding: bool,
    pub has_metadata: bool,
    pub seed_mode: bool,
    pub upload_mode: bool,
    pub share_mode: bool,
    pub super_seeding: bool,
    pub sequential_download: bool,
    pub stop_when_ready: bool,
    pub moving_storage: bool,
    pub announcing_to_trackers: bool,
    pub announcing_to_lsd: bool,
    pub announcing_to_dht: bool,
    pub need_save_resume: bool,
    pub ip_filter_applies: bool,
    pub has_incoming: bool,
    pub progress: f32,
    pub progress_ppm: i32,
    pub error: Option<ErrorCode>,
    pub error_file: i32,
    pub current_tracker: String,
    pub total_download: i64,
    pub total_upload: i64,
    pub total_payload_download: i64,
    pub total_payload_upload: i64,
    pub total_failed_bytes: i64,
    pub total_redundant_bytes: i64,
    pub all_time_download: i64,
    pub all_time_upload: i64,
    pub total_done: i64,
    pub total: i64,
    pub total_wanted_done: i64,
    pub total_wanted: i64,
    pub download_rate: i32,
    pub upload_rate: i32,
    pub download_payload_rate: i32,
    pub upload_payload_rate: i32,
    pub num_seeds: i32,
    pub num_peers: i32,
    pub num_complete: i32,
    pub num_incomplete: i32,
    pub list_seeds: i32,
    pub list_peers: i32,
    pub connect_candidates: i32,
    pub num_pieces: i32,
    pub pieces: Vec<bool>,
    pub verified_pieces: Vec<bool>,
    pub distributed_full_copies: i32,
    pub distributed_fraction: i32,
    pub distributed_copies: f32,
    pub block_size: i32,
    pub num_uploads: i32,
    pub num_connections: i32,
    pub uploads_limit: i32,
    pub connections_limit: i32,
    pub up_bandwidth_queue: i32,
    pub down_bandwidth_queue: i32,
    pub download_limit: i32,
    pub upload_limit: i32,
    pub queue_position: i32,
    pub storage_mode: i32,
    pub next_announce: Duration,
    pub announce_interval: Duration,
    /// Unix times (seconds); 0 when never.
    pub added_time: i64,
    pub completed_time: i64,
    pub last_seen_complete: i64,
    pub last_upload: i64,
    pub last_download: i64,
    pub last_scrape: i64,
    pub seed_rank: i32,
    pub active_duration: Duration,
    pub finished_duration: Duration,
    pub seeding_duration: Duration,
    /// Files renamed against the metadata: index → new name.
    pub renamed_files: std::collections::BTreeMap<usize, String>,
    /// `set_priority()` (deprecated): the torrent's priority, 0 unless set.
    pub priority: i32,
}

impl TorrentStatus {
    /// Keeps the optional parts of `old` this status was not asked for, as
    /// `refresh_torrent_status` updates the caller's statuses in place.
    pub fn keep_unqueried(&mut self, old: &TorrentStatus) {
        use status_query::*;
        let kept = old.query & !self.query;
        if kept & NAME != 0 {
            self.name.clone_from(&old.name);
        }
        if kept & SAVE_PATH != 0 {
            self.save_path.clone_from(&old.save_path);
        }
        if kept & PIECES != 0 {
            self.pieces.clone_from(&old.pieces);
        }
        if kept & VERIFIED_PIECES != 0 {
            self.verified_pieces.clone_from(&old.verified_pieces);
        }
        if kept & RENAMED_FILES != 0 {
            self.renamed_files.clone_from(&old.renamed_files);
        }
        self.query |= kept;
    }
}

/// One peer of a torrent (`peer_info`).
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub ip: SocketAddr,
    pub local_endpoint: SocketAddr,
    pub pid: [u8; 20],
    pub client: Vec<u8>,
    pub flags: u32,
    pub source: u32,
    pub connection_type: u32,
    pub pieces: Vec<bool>,
    pub num_pieces: i32,
    pub up_speed: i32,
    pub down_speed: i32,
    pub payload_up_speed: i32,
    pub payload_down_speed: i32,
    pub total_download: i64,
    pub total_upload: i64,
    pub download_queue_length: i32,
    pub upload_queue_length: i32,
    pub queue_bytes: i32,
    pub request_timeout: i32,
    pub num_hashfails: i32,
    pub failcount: i32,
    pub downloading_piece_index: i32,
    pub downloading_block_index: i32,
    pub downloading_progress: i32,
    pub downloading_total: i32,
    pub progress: f32,
    pub progress_ppm: i32,
    pub last_request: Duration,
    pub last_active: Duration,
    pub rtt: i32,
    pub send_buffer_size: i32,
    pub used_send_buffer: i32,
    pub receive_buffer_size: i32,
    pub used_receive_buffer: i32,
    pub download_rate_peak: i32,
    pub upload_rate_peak: i32,
    /// `bw_idle` / `bw_limit` / `bw_network` / `bw_disk` bits.
    pub read_state: u8,
    pub write_state: u8,
    pub pending_disk_bytes: i32,
    pub send_quota: i32,
    pub receive_quota: i32,
    /// Seconds to receive what is requested at the current rate.
    pub download_queue_time: i32,
    /// The peer's download rate, estimated from its `have` messages.
    pub remote_dl_rate: i32,
}

/// Session-wide totals and rates (`session_status`, deprecated in
/// libtorrent in favour of session stats, still offered by its bindings).
#[derive(Clone, Debug, Default)]
pub struct SessionStatus {
    pub has_incoming_connections: bool,
    pub upload_rate: i32,
    pub download_rate: i32,
    pub payload_upload_rate: i32,
    pub payload_download_rate: i32,
    pub total_download: i64,
    pub total_upload: i64,
    pub total_payload_download: i64,
    pub total_payload_upload: i64,
    pub total_failed_bytes: i64,
    pub total_redundant_bytes: i64,
    pub num_peers: i32,
    pub num_unchoked: i32,
    pub allowed_upload_slots: i32,
    pub up_bandwidth_queue: i32,
    pub down_bandwidth_queue: i32,
    pub up_bandwidth_bytes_queue: i32,
    pub down_bandwidth_bytes_queue: i32,
    /// uTP connections (all in the connected state once accepted).
    pub utp_connected: i32,
    /// The DHT nodes' routing tables, replacement lists, stored torrents,
    /// outstanding queries and traffic (summed over the nodes).
    pub dht_nodes: i64,
    pub dht_node_cache: i64,
    pub dht_torrents: i64,
    pub dht_total_allocations: i64,
    pub total_dht_download: i64,
    pub total_dht_upload: i64,
}
