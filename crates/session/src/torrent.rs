//! Per-torrent state held by the engine.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lt_core::error::ErrorCode;
use lt_core::{InfoHash, Sha1Hash, Sha256Hash};
use lt_metainfo::FileStorage;
use lt_picker::PiecePicker;
use lt_storage::StorageId;

use crate::alert::TorrentRef;
use crate::lazy::LazyBox;
use crate::peer_io::ConnId;
use crate::types::{status_query, TorrentId, TorrentState, TorrentStatus};

/// What the engine needs to know about a torrent's metadata. Implemented
/// for `lt_metainfo::TorrentInfo`; tests implement it directly.
pub trait Metadata: Send + Sync + 'static {
    fn files(&self) -> &FileStorage;
    fn info_hashes(&self) -> InfoHash;
    fn name(&self) -> &str;
    /// The private flag (BEP 27).
    fn private(&self) -> bool;
    /// The SHA-1 of piece `i` (v1 and hybrid torrents).
    fn v1_piece_hash(&self, i: u32) -> Option<Sha1Hash>;
    /// The expected v2 merkle root of piece `i`'s blocks, with the number of
    /// leaves it covers (v2 and hybrid torrents).
    fn v2_piece_root(&self, i: u32) -> Option<(Sha256Hash, u32)>;
}

/// `torrent_flags_t` bits the engine reads.
pub mod flags {
    pub const SEED_MODE: u64 = 1;
    pub const UPLOAD_MODE: u64 = 2;
    pub const SHARE_MODE: u64 = 4;
    pub const APPLY_IP_FILTER: u64 = 8;
    pub const PAUSED: u64 = 16;
    pub const AUTO_MANAGED: u64 = 32;
    pub const DUPLICATE_IS_ERROR: u64 = 64;
    pub const UPDATE_SUBSCRIBE: u64 = 128;
    pub const SUPER_SEEDING: u64 = 256;
    pub const SEQUENTIAL_DOWNLOAD: u64 = 512;
    pub const STOP_WHEN_READY: u64 = 1024;
    pub const OVERRIDE_TRACKERS: u64 = 2048;
    pub const OVERRIDE_WEB_SEEDS: u64 = 4096;
    pub const NEED_SAVE_RESUME: u64 = 8192;
    pub const DISABLE_DHT: u64 = 524288;
    pub const DISABLE_LSD: u64 = 1048576;
    pub const DISABLE_PEX: u64 = 2097152;
    pub const NO_VERIFY_FILES: u64 = 4194304;
    pub const DEFAULT_DONT_DOWNLOAD: u64 = 8388608;
    pub const I2P_TORRENT: u64 = 16777216;
}

/// What a user asks for when adding a torrent.
pub struct AddTorrent {
    pub meta: Arc<lt_metainfo::TorrentInfo>,
    pub save_path: String,
    pub flags: u64,
    /// Peers to connect to once the torrent is ready.
    pub peers: Vec<SocketAddr>,
    pub file_priorities: Vec<u8>,
    pub piece_priorities: Vec<u8>,
    pub upload_limit: i32,
    pub download_limit: i32,
    pub max_connections: i32,
    pub max_uploads: i32,
    /// Tracker URLs with their tiers.
    pub trackers: Vec<(String, u8)>,
    /// Sparse files, or every file allocated in full once checked.
    pub storage_mode: lt_storage::StorageMode,
}

impl AddTorrent {
    /// A torrent saved under `save_path`, with no flags, no limits, default
    /// priorities, sparse files and no extra peers or trackers.
    pub fn new(meta: Arc<lt_metainfo::TorrentInfo>, save_path: impl Into<String>) -> Self {
        AddTorrent {
            meta,
            save_path: save_path.into(),
            flags: 0,
            peers: Vec::new(),
            file_priorities: Vec::new(),
            piece_priorities: Vec::new(),
            upload_limit: -1,
            download_limit: -1,
            max_connections: -1,
            max_uploads: -1,
            trackers: Vec::new(),
            storage_mode: lt_storage::StorageMode::Sparse,
        }
    }
}

pub(crate) struct Torrent {
    pub id: TorrentId,
    pub meta: Arc<lt_metainfo::TorrentInfo>,
    pub save_path: String,
    pub storage: StorageId,
    pub picker: PiecePicker,
    pub state: TorrentState,
    pub flags: u64,
    pub error: Option<ErrorCode>,
    pub error_file: i32,
    pub peers: LazyBox<HashSet<ConnId>>,
    /// Addresses to connect to.
    pub candidates: LazyBox<VecDeque<SocketAddr>>,
    /// Addresses we know (connected or not), to avoid duplicates.
    pub known: LazyBox<HashSet<SocketAddr>>,
    /// Those of `known` seen to have every piece (for the seed rank).
    pub known_seeds: LazyBox<HashSet<SocketAddr>>,
    /// Peers to try again later: when, and how often they failed.
    pub retry: LazyBox<Vec<(Instant, SocketAddr)>>,
    pub failcount: LazyBox<HashMap<SocketAddr, u32>>,
    /// Addresses that sent data failing the hash check.
    pub banned: LazyBox<HashSet<std::net::IpAddr>>,
    /// Pieces being hashed.
    pub hashing: LazyBox<HashSet<u32>>,
    /// Peers that sent blocks of each downloading piece (for banning).
    pub contributors: LazyBox<HashMap<u32, HashSet<ConnId>>>,
    /// Seed mode: the pieces hashed before their first upload so far, and
    /// the requests waiting for a hash (allocated at the first request).
    pub seed_verify: Option<Box<SeedVerify>>,
    pub checking_progress: f32,
    /// A full check of the files (not of resume data) is running.
    pub full_check: bool,
    pub file_priorities: Vec<u8>,
    pub added_time: i64,
    pub completed_time: i64,
    /// Unix time we last saw a complete copy in the swarm (a seed connected
    /// to us, or a peer's `complete_ago`); 0 never.
    pub last_seen_complete: i64,
    /// Time spent unpaused, accounted up to `times.since`.
    pub times: Times,
    pub total_payload_download: i64,
    pub total_payload_upload: i64,
    pub total_download: i64,
    pub total_upload: i64,
    pub total_failed_bytes: i64,
    pub total_redundant_bytes: i64,
    pub upload_limit: i32,
    pub download_limit: i32,
    pub max_connections: i32,
    pub max_uploads: i32,
    pub rates: Rates,
    pub trackers: lt_tracker::TrackerList,
    /// Rate-limit channel of this torrent.
    pub bw_channel: lt_picker::bandwidth::ChannelId,
    /// Pieces with `alert_when_available` deadlines: read them once we have them.
    pub deadline_alerts: LazyBox<HashSet<u32>>,
    pub storage_mode: lt_storage::StorageMode,
    /// Totals at the last `stats` alert: payload up, protocol up, payload
    /// down, protocol down.
    pub stats_reported: [i64; 4],
    /// When payload was last received / sent (unix seconds, 0: never).
    pub last_download: i64,
    pub last_upload: i64,
    /// Peers that dropped an encrypted connection attempt: reached in
    /// plaintext from then on (`out_enc_policy` = enabled).
    pub plaintext_peers: LazyBox<HashSet<SocketAddr>>,
}

/// Seconds a torrent spent active (not paused, not in error, past
/// checking): in all, while finished, and while a seed; libtorrent's
/// active, finished and seeding time, which goals and seed ranks use.
#[derive(Clone, Copy)]
pub(crate) struct Times {
    pub active: f64,
    pub finished: f64,
    pub seeding: f64,
    /// When the counters were last brought up to date.
    pub since: Instant,
}

impl Times {
    pub fn new(now: Instant) -> Self {
        Times {
            active: 0.0,
            finished: 0.0,
            seeding: 0.0,
            since: now,
        }
    }
}

/// Seed mode's record of verified pieces (libtorrent hashes each piece of
/// a seed-mode torrent before it first uploads it).
pub(crate) struct SeedVerify {
    /// One flag per piece.
    pub verified: Vec<bool>,
    pub count: usize,
    /// Requests per piece waiting for that piece's hash.
    pub waiting: HashMap<u32, Vec<(ConnId, lt_wire::message::BlockRequest)>>,
}

impl SeedVerify {
    /// The record for `num_pieces` pieces, of which `verified` (as many
    /// flags as given; the rest unverified).
    pub fn new(mut verified: Vec<bool>, num_pieces: usize) -> Box<SeedVerify> {
        verified.resize(num_pieces, false);
        Box::new(SeedVerify {
            count: verified.iter().filter(|v| **v).count(),
            verified,
            waiting: HashMap::new(),
        })
    }
}

/// Whole seconds (truncated), as libtorrent reports these durations.
pub(crate) fn whole_secs(secs: f64) -> Duration {
    Duration::from_secs(secs.max(0.0) as u64)
}

/// Byte rates over a sliding window, updated once a second.
#[derive(Default, Clone, Copy)]
pub(crate) struct Rates {
    pub download: i32,
    pub upload: i32,
    pub payload_download: i32,
    pub payload_upload: i32,
    /// The highest `download` and `upload` seen.
    pub download_peak: i32,
    pub upload_peak: i32,
    last_totals: [i64; 4],
}

impl Rates {
    /// Folds in the totals at the end of a tick of `secs` seconds.
    pub fn update(&mut self, totals: [i64; 4], secs: f64) {
        let rate = |i: usize, prev: i32| -> i32 {
            let delta = (totals[i] - self.last_totals[i]).max(0) as f64 / secs.max(0.001);
            // Exponential smoothing, as a client's rate display expects.
            (prev as f64 * 0.5 + delta * 0.5) as i32
        };
        self.download = rate(0, self.download);
        self.upload = rate(1, self.upload);
        self.payload_download = rate(2, self.payload_download);
        self.payload_upload = rate(3, self.payload_upload);
        self.download_peak = self.download_peak.max(self.download);
        self.upload_peak = self.upload_peak.max(self.upload);
        self.last_totals = totals;
    }

    /// The total of channel `i` (download, upload, payload download,
    /// payload upload) at the last update.
    pub fn payload_total(&self, i: usize) -> i64 {
        self.last_totals.get(i).copied().unwrap_or(0)
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Torrent {
    pub fn torrent_ref(&self) -> TorrentRef {
        TorrentRef {
            id: self.id,
            name: Metadata::name(self.meta.as_ref()).to_owned(),
            info_hashes: Metadata::info_hashes(self.meta.as_ref()),
        }
    }

    pub fn is_paused(&self) -> bool {
        self.flags & flags::PAUSED != 0
    }

    pub fn is_seed(&self) -> bool {
        self.picker.is_seeding()
    }

    /// Whether the torrent wants to download (has wanted pieces missing).
    pub fn is_finished(&self) -> bool {
        self.picker.is_finished()
    }

    pub fn is_active(&self) -> bool {
        !self.is_paused()
            && self.error.is_none()
            && matches!(
                self.state,
                TorrentState::DownloadingMetadata
                    | TorrentState::Downloading
                    | TorrentState::Finished
                    | TorrentState::Seeding
            )
    }

    /// The time counters brought up to `now`, the torrent having been in
    /// its present state since they were last accounted (`running`:
    /// the session is not paused).
    pub fn times_at(&self, now: Instant, running: bool) -> Times {
        let mut t = self.times;
        let dt = now.saturating_duration_since(t.since).as_secs_f64();
        t.since = now;
        if running && self.is_active() {
            t.active += dt;
            if self.is_finished() {
                t.finished += dt;
            }
            if self.is_seed() {
                t.seeding += dt;
            }
        }
        t
    }

    /// Brings the time counters up to `now`: called before anything that
    /// changes whether the torrent is active, finished or a seed.
    pub fn account_time(&mut self, now: Instant, running: bool) {
        self.times = self.times_at(now, running);
    }

    /// libtorrent's seed rank: how much a finished torrent deserves a
    /// seeding slot, for given running and finished times (seconds). Bits
    /// 28-30 flag an unmet seeding goal, no seeds and a recent start; the
    /// low bits grow with downloaders per seed.
    pub fn seed_rank_for(
        &self,
        settings: &lt_settings::Settings,
        seeds: i32,
        peers: i32,
        active: i64,
        finished: i64,
    ) -> i32 {
        const SEED_RATIO_NOT_MET: i32 = 0x4000_0000;
        const NO_SEEDS: i32 = 0x2000_0000;
        const RECENTLY_STARTED: i32 = 0x1000_0000;
        const PRIO_MASK: i32 = 0x0fff_ffff;
        if !self.is_finished() {
            return 0;
        }
        let scale = if self.is_seed() { 1000 } else { 500 };
        let mut ret = 0;
        let download_time = active - finished;
        let downloaded = self
            .total_payload_download
            .max(Metadata::files(self.meta.as_ref()).total_size());
        use lt_settings::keys;
        if finished < i64::from(settings.get_int(keys::SEED_TIME_LIMIT))
            && download_time > 1
            && finished * 100 / download_time
                < i64::from(settings.get_int(keys::SEED_TIME_RATIO_LIMIT))
            && downloaded > 0
            && self.total_payload_upload * 100 / downloaded
                < i64::from(settings.get_int(keys::SHARE_RATIO_LIMIT))
        {
            ret |= SEED_RATIO_NOT_MET;
        }
        if !self.is_paused() && active < 30 * 60 {
            ret |= RECENTLY_STARTED;
        }
        let (mut seeds, mut downloaders) = (seeds, peers - seeds);
        for ih in self
            .trackers
            .trackers()
            .iter()
            .flat_map(|a| &a.endpoints)
            .flat_map(|e| &e.info_hashes)
        {
            if ih.scrape_complete >= 0 {
                seeds = ih.scrape_complete;
            }
            if ih.scrape_incomplete >= 0 {
                downloaders = ih.scrape_incomplete;
            }
        }
        if seeds <= 0 {
            ret |= NO_SEEDS | (downloaders.max(0) & PRIO_MASK);
        } else {
            ret |= ((1 + downloaders.max(0)) * scale / seeds) & PRIO_MASK;
        }
        ret
    }

    /// Records a peer address (from a tracker, the DHT, PEX, local
    /// discovery, resume data or `connect_peer`) and queues it to connect
    /// to, at the front when `first`. True when the address is new.
    ///
    /// With `one_per_ip` (libtorrent's default, without
    /// `allow_multiple_connections_per_ip`) the torrent knows one port per
    /// IP: a new port replaces the one known before.
    pub fn learn_peer(&mut self, a: SocketAddr, one_per_ip: bool, first: bool) -> bool {
        let known = !self.known.insert(a);
        if one_per_ip && !known {
            let old: Vec<SocketAddr> = self
                .known
                .iter()
                .filter(|k| k.ip() == a.ip() && **k != a)
                .copied()
                .collect();
            for o in old {
                self.known.remove(&o);
                if let Some(c) = self.candidates.if_allocated() {
                    c.retain(|c| *c != o);
                }
            }
        }
        // (a new address is in no queue yet: only `first` needs the scan)
        if first {
            if !self.candidates.contains(&a) {
                self.candidates.push_front(a);
            }
        } else if !known {
            self.candidates.push_back(a);
        }
        !known
    }

    /// The torrent's status with the optional parts in `query`
    /// ([`status_query`]).
    pub fn status(
        &self,
        num_peers: i32,
        num_connections: i32,
        num_seeds: i32,
        num_uploads: i32,
        query: u32,
    ) -> TorrentStatus {
        let total = Metadata::files(self.meta.as_ref()).total_size();
        let total_done = self.picker.bytes_done() as i64;
        // A magnet link's placeholder picker has no real pieces.
        let n = if self.meta.is_valid() {
            self.picker.num_pieces()
        } else {
            0
        };
        let pieces: Vec<bool> = if query & status_query::PIECES != 0 {
            (0..n).map(|i| self.picker.have_piece(i)).collect()
        } else {
            Vec::new()
        };
        let (wanted, mut wanted_done) = if n > 0 {
            let (w, d) = self.picker.wanted_bytes();
            (w as i64, d as i64)
        } else {
            (0, 0)
        };
        // finished blocks of wanted partial pieces count too
        if self.picker.num_downloading() > 0 && n > 0 {
            wanted_done += self
                .picker
                .download_queue()
                .iter()
                .filter(|pp| self.picker.piece_priority(pp.piece) > 0)
                .flat_map(|pp| &pp.blocks)
                .filter(|b| b.state == lt_picker::BlockState::Finished)
                .map(|b| i64::from(b.block_size))
                .sum::<i64>();
        }
        let text = |bit: u32, s: &str| {
            if query & bit != 0 {
                s.to_owned()
            } else {
                String::new()
            }
        };
        let progress = match self.state {
            TorrentState::CheckingFiles | TorrentState::CheckingResumeData => {
                self.checking_progress
            }
            TorrentState::DownloadingMetadata => 0.0,
            // Of the wanted bytes, as libtorrent (1 when nothing is wanted).
            _ if wanted <= 0 => 1.0,
            _ => (wanted_done as f64 / wanted as f64) as f32,
        };
        // The best counts any tracker reported (-1: none did).
        let (mut num_complete, mut num_incomplete) = (-1, -1);
        for ih in self
            .trackers
            .trackers()
            .iter()
            .flat_map(|a| &a.endpoints)
            .flat_map(|e| &e.info_hashes)
        {
            num_complete = num_complete.max(ih.scrape_complete);
            num_incomplete = num_incomplete.max(ih.scrape_incomplete);
        }
        TorrentStatus {
            id: Some(self.id),
            query,
            info_hashes: Metadata::info_hashes(self.meta.as_ref()),
            name: text(status_query::NAME, Metadata::name(self.meta.as_ref())),
            save_path: text(status_query::SAVE_PATH, &self.save_path),
            state: self.state,
            flags: self.flags,
            paused: self.is_paused(),
            auto_managed: self.flags & flags::AUTO_MANAGED != 0,
            is_finished: self.is_finished(),
            is_seeding: self.is_seed(),
            has_metadata: self.meta.is_valid(),
            seed_mode: self.flags & flags::SEED_MODE != 0,
            upload_mode: self.flags & flags::UPLOAD_MODE != 0,
            share_mode: self.flags & flags::SHARE_MODE != 0,
            super_seeding: self.flags & flags::SUPER_SEEDING != 0,
            sequential_download: self.flags & flags::SEQUENTIAL_DOWNLOAD != 0,
            stop_when_ready: self.flags & flags::STOP_WHEN_READY != 0,
            ip_filter_applies: self.flags & flags::APPLY_IP_FILTER != 0,
            need_save_resume: self.flags & flags::NEED_SAVE_RESUME != 0,
            progress,
            progress_ppm: (progress as f64 * 1_000_000.0) as i32,
            error: self.error,
            error_file: self.error_file,
            total_download: self.total_download,
            total_upload: self.total_upload,
            total_payload_download: self.total_payload_download,
            total_payload_upload: self.total_payload_upload,
            total_failed_bytes: self.total_failed_bytes,
            total_redundant_bytes: self.total_redundant_bytes,
            all_time_download: self.total_payload_download,
            all_time_upload: self.total_payload_upload,
            total_done,
            total,
            total_wanted_done: wanted_done,
            total_wanted: wanted,
            download_rate: self.rates.download,
            upload_rate: self.rates.upload,
            download_payload_rate: self.rates.payload_download,
            upload_payload_rate: self.rates.payload_upload,
            num_seeds,
            num_peers,
            num_complete,
            num_incomplete,
            last_download: self.last_download,
            last_upload: self.last_upload,
            list_seeds: num_seeds,
            list_peers: self.known.len() as i32,
            connect_candidates: self.candidates.len() as i32,
            num_pieces: if n == 0 {
                0
            } else {
                self.picker.num_have() as i32
            },
            pieces,
            verified_pieces: match &self.seed_verify {
                _ if query & status_query::VERIFIED_PIECES == 0 => Vec::new(),
                Some(sv) if self.flags & flags::SEED_MODE != 0 => sv.verified.clone(),
                None if self.flags & flags::SEED_MODE != 0 => vec![false; n as usize],
                _ => Vec::new(),
            },
            distributed_copies: -1.0,
            distributed_full_copies: -1,
            distributed_fraction: -1,
            block_size: lt_picker::BLOCK_SIZE as i32,
            num_uploads,
            num_connections,
            uploads_limit: self.max_uploads,
            connections_limit: self.max_connections,
            download_limit: self.download_limit,
            upload_limit: self.upload_limit,
            added_time: self.added_time,
            completed_time: self.completed_time,
            last_seen_complete: self.last_seen_complete,
            storage_mode: self.storage_mode as i32,
            ..Default::default()
        }
    }
}

impl Metadata for lt_metainfo::TorrentInfo {
    fn files(&self) -> &FileStorage {
        lt_metainfo::TorrentInfo::files(self)
    }

    fn info_hashes(&self) -> InfoHash {
        lt_metainfo::TorrentInfo::info_hashes(self)
    }

    fn name(&self) -> &str {
        lt_metainfo::TorrentInfo::name(self)
    }

    fn private(&self) -> bool {
        lt_metainfo::TorrentInfo::private(self)
    }

    fn v1_piece_hash(&self, i: u32) -> Option<Sha1Hash> {
        (self.has_v1_hashes() && (i as i64) < self.num_pieces() as i64)
            .then(|| self.hash_for_piece(i as i32))
    }

    fn v2_piece_root(&self, i: u32) -> Option<(Sha256Hash, u32)> {
        let fs = lt_metainfo::TorrentInfo::files(self);
        let file = fs.file_index_at_piece(i as i32)?;
        let layer = self.piece_layer(file);
        if layer.is_empty() {
            // A file of at most one piece has no piece layer: the piece's
            // tree is the file's tree.
            let leaves =
                lt_metainfo::file_storage::merkle_num_leafs(fs.file_num_blocks(file) as i64);
            return Some((fs.root(file), u32::try_from(leaves).ok()?));
        }
        let k = (i as usize).checked_sub(fs.piece_index_at_file(file).max(0) as usize)?;
        let h = layer.get(k * 32..k * 32 + 32)?;
        let blocks = (fs.piece_length() as u32 / lt_picker::BLOCK_SIZE).max(1);
        Some((Sha256Hash::from_slice(h).ok()?, blocks))
    }
}

#[cfg(test)]
mod size_tests {
    /// Every torrent of a session holds one boxed `Torrent`, idle or not
    /// (issue 4: memory per idle torrent at most half the reference's).
    /// It was 1,384 bytes with its per-peer sets and maps inline; those
    /// are now allocated on first use (`LazyBox`), and the picker's rarely
    /// used maps and the tracker settings likewise (824 bytes). A field
    /// that grows it past this bound should be lazily allocated or shared
    /// too, or the bound raised knowingly.
    #[test]
    fn torrent_stays_small() {
        use std::mem::size_of;
        assert!(
            size_of::<super::Torrent>() <= 900,
            "{}",
            size_of::<super::Torrent>()
        );
        assert!(size_of::<lt_picker::PiecePicker>() <= 260);
        assert!(size_of::<lt_tracker::TrackerList>() <= 200);
    }
}
