//! libtorrent's resume-data file (`file-format: libtorrent resume file`,
//! `file-version` 2): [`ResumeData`] holds every field the format carries;
//! [`ResumeData::write`] encodes it byte-for-byte as libtorrent 2.1 does and
//! [`ResumeData::read`] parses it with libtorrent's rules (lenient about
//! wrong types, which fall back to defaults; strict about the header).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use lt_bencode::{Encoder, Kind, Limits, Node};
use lt_core::{InfoHash, Sha1Hash, Sha256Hash};
use lt_metainfo::{LoadLimits, TorrentInfo};

use crate::error::ResumeError;

/// The `file-format` tag of a resume file.
pub const FILE_FORMAT: &[u8] = b"libtorrent resume file";
/// The `libtorrent-version` written into resume files (the version of the
/// reference this format matches).
pub const LIBTORRENT_VERSION: &[u8] = b"2.1.1.0";
/// Highest `file_priority`/`piece_priority` value (`top_priority`).
pub const TOP_PRIORITY: u8 = 7;
/// Default download priority.
pub const DEFAULT_PRIORITY: u8 = 4;
/// Highest tracker tier written (libtorrent clamps tiers to this).
pub const MAX_TRACKER_TIER: usize = 1024;
/// Highest file index accepted in [`ResumeData::renamed_files`] when
/// writing (the `mapped_files` list is as long as the highest index).
pub const MAX_MAPPED_FILE_INDEX: i32 = 1 << 24;

/// `torrent_flags_t` bits (values of libtorrent 2.1).
pub mod flags {
    pub const SEED_MODE: u64 = 1 << 0;
    pub const UPLOAD_MODE: u64 = 1 << 1;
    pub const SHARE_MODE: u64 = 1 << 2;
    pub const APPLY_IP_FILTER: u64 = 1 << 3;
    pub const PAUSED: u64 = 1 << 4;
    pub const AUTO_MANAGED: u64 = 1 << 5;
    pub const DUPLICATE_IS_ERROR: u64 = 1 << 6;
    pub const UPDATE_SUBSCRIBE: u64 = 1 << 7;
    pub const SUPER_SEEDING: u64 = 1 << 8;
    pub const SEQUENTIAL_DOWNLOAD: u64 = 1 << 9;
    pub const STOP_WHEN_READY: u64 = 1 << 10;
    pub const OVERRIDE_TRACKERS: u64 = 1 << 11;
    pub const OVERRIDE_WEB_SEEDS: u64 = 1 << 12;
    pub const NEED_SAVE_RESUME: u64 = 1 << 13;
    pub const DISABLE_DHT: u64 = 1 << 19;
    pub const DISABLE_LSD: u64 = 1 << 20;
    pub const DISABLE_PEX: u64 = 1 << 21;
    pub const NO_VERIFY_FILES: u64 = 1 << 22;
    pub const DEFAULT_DONT_DOWNLOAD: u64 = 1 << 23;
    pub const I2P_TORRENT: u64 = 1 << 24;
    pub const DISABLE_V1_HASHES: u64 = 1 << 25;
    /// `torrent_flags::default_flags`.
    pub const DEFAULT_FLAGS: u64 = 352_440;
}

/// The flags stored as their own 0/1 keys, in libtorrent's order.
const FLAG_KEYS: [(&[u8], u64); 14] = [
    (b"seed_mode", flags::SEED_MODE),
    (b"upload_mode", flags::UPLOAD_MODE),
    (b"share_mode", flags::SHARE_MODE),
    (b"apply_ip_filter", flags::APPLY_IP_FILTER),
    (b"paused", flags::PAUSED),
    (b"auto_managed", flags::AUTO_MANAGED),
    (b"super_seeding", flags::SUPER_SEEDING),
    (b"sequential_download", flags::SEQUENTIAL_DOWNLOAD),
    (b"stop_when_ready", flags::STOP_WHEN_READY),
    (b"disable_dht", flags::DISABLE_DHT),
    (b"disable_lsd", flags::DISABLE_LSD),
    (b"disable_pex", flags::DISABLE_PEX),
    (b"i2p", flags::I2P_TORRENT),
    (b"disable_v1_hashes", flags::DISABLE_V1_HASHES),
];

/// How the storage allocates files (`allocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageMode {
    /// `storage_mode_allocate`: written as `allocate` (`full` is read too).
    Allocate,
    /// `storage_mode_sparse`, the default.
    #[default]
    Sparse,
}

/// Everything libtorrent's resume format carries about one torrent: the
/// resume-relevant part of `add_torrent_params`. The engine fills one from
/// a live torrent (have/verified pieces, partially downloaded blocks,
/// priorities, statistics, flags) and consumes one on add to skip the
/// recheck.
///
/// Text fields hold UTF-8 (bytes that are not valid UTF-8 are replaced when
/// read). Bit vectors are one `bool` per piece/block.
#[derive(Debug, Clone)]
pub struct ResumeData {
    pub info_hashes: InfoHash,
    /// The torrent's metadata, when known (written as the `info` dict).
    pub ti: Option<TorrentInfo>,
    pub name: String,
    pub save_path: String,
    /// The deprecated `url` of the torrent.
    pub url: String,
    pub comment: String,
    pub created_by: String,
    pub creation_date: i64,
    pub root_certificate: String,
    pub part_file_dir: String,
    pub storage_mode: StorageMode,
    /// `torrent_flags_t` bits (see [`flags`]).
    pub flags: u64,

    /// v2 merkle trees per file (sparse: only the nodes set in
    /// [`merkle_tree_mask`](Self::merkle_tree_mask), or the whole tree when
    /// the mask is empty).
    pub merkle_trees: Vec<Vec<Sha256Hash>>,
    /// Per file: which tree nodes `merkle_trees` holds.
    pub merkle_tree_mask: Vec<Vec<bool>>,
    /// Per file: which leaf (block) hashes are verified.
    pub verified_leaf_hashes: Vec<Vec<bool>>,

    pub total_uploaded: i64,
    pub total_downloaded: i64,
    /// Seconds.
    pub active_time: i32,
    pub finished_time: i32,
    pub seeding_time: i32,
    /// POSIX times.
    pub added_time: i64,
    pub completed_time: i64,
    pub last_seen_complete: i64,
    pub last_download: i64,
    pub last_upload: i64,
    /// Scrape cache (-1: unknown).
    pub num_complete: i32,
    pub num_incomplete: i32,
    pub num_downloaded: i32,
    /// Per-torrent limits (-1: unlimited).
    pub max_uploads: i32,
    pub max_connections: i32,
    pub upload_limit: i32,
    pub download_limit: i32,

    /// Tracker URLs and their tiers (parallel vectors; a missing tier
    /// repeats the previous one).
    pub trackers: Vec<String>,
    pub tracker_tiers: Vec<i32>,
    pub url_seeds: Vec<String>,

    /// One per piece: the piece is downloaded and passed its hash check.
    pub have_pieces: Vec<bool>,
    /// One per piece: the piece was verified against the files (seed mode).
    pub verified_pieces: Vec<bool>,
    /// Partially downloaded pieces: piece index to one bit per block.
    pub unfinished_pieces: BTreeMap<i32, Vec<bool>>,
    /// File index to its new path.
    pub renamed_files: BTreeMap<i32, String>,
    pub peers: Vec<SocketAddr>,
    pub banned_peers: Vec<SocketAddr>,
    /// 0 (don't download) ..= 7.
    pub file_priorities: Vec<u8>,
    pub piece_priorities: Vec<u8>,
}

/// Two torrents are the same when their metadata and descriptive fields
/// are.
fn same_ti(a: &Option<TorrentInfo>, b: &Option<TorrentInfo>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.info_section() == b.info_section()
                && a.info_hashes() == b.info_hashes()
                && a.comment() == b.comment()
                && a.creator() == b.creator()
                && a.creation_date() == b.creation_date()
        }
        _ => false,
    }
}

impl PartialEq for ResumeData {
    fn eq(&self, o: &Self) -> bool {
        self.info_hashes == o.info_hashes
            && same_ti(&self.ti, &o.ti)
            && self.name == o.name
            && self.save_path == o.save_path
            && self.url == o.url
            && self.comment == o.comment
            && self.created_by == o.created_by
            && self.creation_date == o.creation_date
            && self.root_certificate == o.root_certificate
            && self.part_file_dir == o.part_file_dir
            && self.storage_mode == o.storage_mode
            && self.flags == o.flags
            && self.merkle_trees == o.merkle_trees
            && self.merkle_tree_mask == o.merkle_tree_mask
            && self.verified_leaf_hashes == o.verified_leaf_hashes
            && self.total_uploaded == o.total_uploaded
            && self.total_downloaded == o.total_downloaded
            && self.active_time == o.active_time
            && self.finished_time == o.finished_time
            && self.seeding_time == o.seeding_time
            && self.added_time == o.added_time
            && self.completed_time == o.completed_time
            && self.last_seen_complete == o.last_seen_complete
            && self.last_download == o.last_download
            && self.last_upload == o.last_upload
            && self.num_complete == o.num_complete
            && self.num_incomplete == o.num_incomplete
            && self.num_downloaded == o.num_downloaded
            && self.max_uploads == o.max_uploads
            && self.max_connections == o.max_connections
            && self.upload_limit == o.upload_limit
            && self.download_limit == o.download_limit
            && self.trackers == o.trackers
            && self.tracker_tiers == o.tracker_tiers
            && self.url_seeds == o.url_seeds
            && self.have_pieces == o.have_pieces
            && self.verified_pieces == o.verified_pieces
            && self.unfinished_pieces == o.unfinished_pieces
            && self.renamed_files == o.renamed_files
            && self.peers == o.peers
            && self.banned_peers == o.banned_peers
            && self.file_priorities == o.file_priorities
            && self.piece_priorities == o.piece_priorities
    }
}

impl Default for ResumeData {
    /// The values of a default-constructed `add_torrent_params`.
    fn default() -> Self {
        ResumeData {
            info_hashes: InfoHash::default(),
            ti: None,
            name: String::new(),
            save_path: String::new(),
            url: String::new(),
            comment: String::new(),
            created_by: String::new(),
            creation_date: 0,
            root_certificate: String::new(),
            part_file_dir: String::new(),
            storage_mode: StorageMode::Sparse,
            flags: flags::DEFAULT_FLAGS,
            merkle_trees: Vec::new(),
            merkle_tree_mask: Vec::new(),
            verified_leaf_hashes: Vec::new(),
            total_uploaded: 0,
            total_downloaded: 0,
            active_time: 0,
            finished_time: 0,
            seeding_time: 0,
            added_time: 0,
            completed_time: 0,
            last_seen_complete: 0,
            last_download: 0,
            last_upload: 0,
            num_complete: -1,
            num_incomplete: -1,
            num_downloaded: -1,
            max_uploads: -1,
            max_connections: -1,
            upload_limit: -1,
            download_limit: -1,
            trackers: Vec::new(),
            tracker_tiers: Vec::new(),
            url_seeds: Vec::new(),
            have_pieces: Vec::new(),
            verified_pieces: Vec::new(),
            unfinished_pieces: BTreeMap::new(),
            renamed_files: BTreeMap::new(),
            peers: Vec::new(),
            banned_peers: Vec::new(),
            file_priorities: Vec::new(),
            piece_priorities: Vec::new(),
        }
    }
}

/// Why [`ResumeData::write`] refused its input (values no resume file can
/// hold; libtorrent's own writer would crash or exhaust memory on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// A renamed file index below 0 or above [`MAX_MAPPED_FILE_INDEX`].
    InvalidFileIndex(i32),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::InvalidFileIndex(i) => write!(f, "invalid file index {i} in renamed_files"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Packs bits MSB-first, as libtorrent's `bitfield` stores them.
pub fn pack_bits(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, _) in bits.iter().enumerate().filter(|(_, b)| **b) {
        if let Some(byte) = out.get_mut(i / 8) {
            *byte |= 0x80 >> (i % 8);
        }
    }
    out
}

/// Unpacks every bit of `bytes`, MSB-first (8 per byte).
pub fn unpack_bits(bytes: &[u8]) -> Vec<bool> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(8));
    for b in bytes {
        for k in 0..8 {
            out.push(b & (0x80 >> k) != 0);
        }
    }
    out
}

/// The compact form of an endpoint: address then big-endian port.
fn write_endpoint(out: &mut Vec<u8>, ep: &SocketAddr) {
    match ep.ip() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
    out.extend_from_slice(&ep.port().to_be_bytes());
}

/// Reads consecutive compact endpoints of `len` bytes (6 or 18); a short
/// tail is ignored.
fn read_endpoints(buf: &[u8], len: usize, out: &mut Vec<SocketAddr>) {
    for c in buf.chunks_exact(len) {
        if let Some(ep) = read_endpoint(c) {
            out.push(ep);
        }
    }
}

/// One compact endpoint of 6 (IPv4) or 18 (IPv6) bytes.
pub fn read_endpoint(c: &[u8]) -> Option<SocketAddr> {
    match c.len() {
        6 => {
            let a: [u8; 4] = c.get(..4)?.try_into().ok()?;
            let p: [u8; 2] = c.get(4..6)?.try_into().ok()?;
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(a)),
                u16::from_be_bytes(p),
            ))
        }
        18 => {
            let a: [u8; 16] = c.get(..16)?.try_into().ok()?;
            let p: [u8; 2] = c.get(16..18)?.try_into().ok()?;
            Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(a)),
                u16::from_be_bytes(p),
            ))
        }
        _ => None,
    }
}

/// Lossy UTF-8 of a byte string.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Encodes one value into a fresh buffer.
fn enc(f: impl FnOnce(&mut Encoder<'_>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut Encoder::new(&mut out));
    out
}

fn enc_int(v: i64) -> Vec<u8> {
    enc(|e| {
        e.int(v);
    })
}

fn enc_bytes(b: &[u8]) -> Vec<u8> {
    enc(|e| {
        e.bytes(b);
    })
}

fn enc_str_list<'s>(items: impl Iterator<Item = &'s str>) -> Vec<u8> {
    enc(|e| {
        e.begin_list();
        for s in items {
            e.bytes(s.as_bytes());
        }
        e.end();
    })
}

/// Groups trackers into tier lists the way libtorrent writes them: a
/// missing tier repeats the previous one; tiers are clamped to
/// `0..=MAX_TRACKER_TIER` (negative tiers, as unsigned, clamp to the top).
pub fn tracker_tier_lists<'a>(trackers: &'a [String], tiers: &[i32]) -> Vec<Vec<&'a str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    if trackers.is_empty() {
        return out;
    }
    out.push(Vec::new());
    let mut tier = 0usize;
    let mut it = tiers.iter();
    for t in trackers {
        if let Some(&v) = it.next() {
            tier = if v < 0 {
                MAX_TRACKER_TIER
            } else {
                (v as usize).min(MAX_TRACKER_TIER)
            };
        }
        if out.len() <= tier {
            out.resize_with(tier + 1, Vec::new);
        }
        if let Some(l) = out.get_mut(tier) {
            l.push(t.as_str());
        }
    }
    out
}

impl ResumeData {
    /// The bencoded resume file, byte-identical to libtorrent 2.1's
    /// `write_resume_data_buf` for the same params.
    pub fn write(&self) -> Result<Vec<u8>, WriteError> {
        self.write_with_info(self.ti.as_ref().map(|t| t.info_section()))
    }

    /// [`write`](Self::write) with the `info` dict given apart (`self.ti`
    /// is ignored): for callers that keep the torrent elsewhere and would
    /// rather not clone it.
    pub fn write_with_info(&self, info: Option<&[u8]>) -> Result<Vec<u8>, WriteError> {
        let mut d: BTreeMap<&[u8], Vec<u8>> = BTreeMap::new();
        d.insert(b"file-format", enc_bytes(FILE_FORMAT));
        d.insert(b"file-version", enc_int(2));
        d.insert(b"libtorrent-version", enc_bytes(LIBTORRENT_VERSION));
        d.insert(
            b"allocation",
            enc_bytes(match self.storage_mode {
                StorageMode::Allocate => b"allocate",
                StorageMode::Sparse => b"sparse",
            }),
        );
        d.insert(b"total_uploaded", enc_int(self.total_uploaded));
        d.insert(b"total_downloaded", enc_int(self.total_downloaded));
        d.insert(b"active_time", enc_int(self.active_time.into()));
        d.insert(b"finished_time", enc_int(self.finished_time.into()));
        d.insert(b"seeding_time", enc_int(self.seeding_time.into()));
        d.insert(b"last_seen_complete", enc_int(self.last_seen_complete));
        d.insert(b"last_download", enc_int(self.last_download));
        d.insert(b"last_upload", enc_int(self.last_upload));
        d.insert(b"num_complete", enc_int(self.num_complete.into()));
        d.insert(b"num_incomplete", enc_int(self.num_incomplete.into()));
        d.insert(b"num_downloaded", enc_int(self.num_downloaded.into()));
        for (key, bit) in FLAG_KEYS {
            d.insert(key, enc_int(i64::from(self.flags & bit != 0)));
        }
        d.insert(b"added_time", enc_int(self.added_time));
        d.insert(b"completed_time", enc_int(self.completed_time));
        d.insert(b"save_path", enc_bytes(self.save_path.as_bytes()));
        d.insert(
            b"root_certificate",
            enc_bytes(self.root_certificate.as_bytes()),
        );
        d.insert(b"part_file_dir", enc_bytes(self.part_file_dir.as_bytes()));
        if !self.name.is_empty() {
            d.insert(b"name", enc_bytes(self.name.as_bytes()));
        }
        if !self.url.is_empty() {
            d.insert(b"url", enc_bytes(self.url.as_bytes()));
        }
        d.insert(b"info-hash", enc_bytes(self.info_hashes.v1.as_bytes()));
        d.insert(b"info-hash2", enc_bytes(self.info_hashes.v2.as_bytes()));
        if let Some(info) = info {
            d.insert(b"info", info.to_vec());
        }
        if !self.comment.is_empty() {
            d.insert(b"comment", enc_bytes(self.comment.as_bytes()));
        }
        if self.creation_date != 0 {
            d.insert(b"creation date", enc_int(self.creation_date));
        }
        if !self.created_by.is_empty() {
            d.insert(b"created by", enc_bytes(self.created_by.as_bytes()));
        }
        if !self.merkle_trees.is_empty() {
            d.insert(b"trees", self.encode_trees());
        }
        if !self.unfinished_pieces.is_empty() {
            d.insert(
                b"unfinished",
                enc(|e| {
                    e.begin_list();
                    for (piece, bits) in &self.unfinished_pieces {
                        e.begin_dict();
                        e.bytes(b"bitmask").bytes(&pack_bits(bits));
                        e.bytes(b"piece").int(i64::from(*piece));
                        e.end();
                    }
                    e.end();
                }),
            );
        }
        let tiers = tracker_tier_lists(&self.trackers, &self.tracker_tiers);
        d.insert(
            b"trackers",
            enc(|e| {
                e.begin_list();
                for tier in &tiers {
                    e.begin_list();
                    for t in tier {
                        e.bytes(t.as_bytes());
                    }
                    e.end();
                }
                e.end();
            }),
        );
        d.insert(
            b"url-list",
            enc_str_list(self.url_seeds.iter().map(String::as_str)),
        );
        if !self.have_pieces.is_empty() {
            d.insert(b"pieces", enc_bytes(&pack_bits(&self.have_pieces)));
        }
        if self.verified_pieces.iter().any(|b| *b) {
            d.insert(b"verified", enc_bytes(&pack_bits(&self.verified_pieces)));
        }
        if !self.renamed_files.is_empty() {
            let mut names: Vec<&str> = Vec::new();
            for (&idx, name) in &self.renamed_files {
                if !(0..=MAX_MAPPED_FILE_INDEX).contains(&idx) {
                    return Err(WriteError::InvalidFileIndex(idx));
                }
                let idx = idx as usize;
                if idx >= names.len() {
                    names.resize(idx + 1, "");
                }
                if let Some(slot) = names.get_mut(idx) {
                    *slot = name;
                }
            }
            d.insert(b"mapped_files", enc_str_list(names.into_iter()));
        }
        for (list, k4, k6) in [
            (&self.peers, &b"peers"[..], &b"peers6"[..]),
            (&self.banned_peers, b"banned_peers", b"banned_peers6"),
        ] {
            if list.is_empty() {
                continue;
            }
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            for p in list {
                if p.is_ipv6() {
                    write_endpoint(&mut v6, p);
                } else {
                    write_endpoint(&mut v4, p);
                }
            }
            d.insert(k4, enc_bytes(&v4));
            d.insert(k6, enc_bytes(&v6));
        }
        d.insert(b"upload_rate_limit", enc_int(self.upload_limit.into()));
        d.insert(b"download_rate_limit", enc_int(self.download_limit.into()));
        d.insert(b"max_connections", enc_int(self.max_connections.into()));
        d.insert(b"max_uploads", enc_int(self.max_uploads.into()));
        if !self.file_priorities.is_empty() {
            d.insert(
                b"file_priority",
                enc(|e| {
                    e.begin_list();
                    for p in &self.file_priorities {
                        e.int(i64::from(*p));
                    }
                    e.end();
                }),
            );
        }
        if !self.piece_priorities.is_empty() {
            d.insert(b"piece_priority", enc_bytes(&self.piece_priorities));
        }

        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        for (k, v) in &d {
            e.bytes(k).raw(v);
        }
        e.end();
        Ok(out)
    }

    fn encode_trees(&self) -> Vec<u8> {
        enc(|e| {
            e.begin_list();
            for (f, tree) in self.merkle_trees.iter().enumerate() {
                e.begin_dict();
                let mut hashes = Vec::with_capacity(tree.len() * 32);
                for h in tree {
                    hashes.extend_from_slice(h.as_bytes());
                }
                e.bytes(b"hashes").bytes(&hashes);
                if let Some(mask) = self.merkle_tree_mask.get(f).filter(|m| !m.is_empty()) {
                    e.bytes(b"mask").bytes(&pack_bits(mask));
                }
                if let Some(v) = self.verified_leaf_hashes.get(f).filter(|v| !v.is_empty()) {
                    e.bytes(b"verified").bytes(&pack_bits(v));
                }
                e.end();
            }
            e.end();
        })
    }

    /// Parses a resume file with libtorrent's default load limits.
    pub fn read(buf: &[u8]) -> Result<Self, ResumeError> {
        Self::read_with(buf, &LoadLimits::default())
    }

    /// Parses a resume file: bencode bounded by `limits` (depth, tokens),
    /// an embedded `info` dict bounded by `limits.max_pieces`.
    pub fn read_with(buf: &[u8], limits: &LoadLimits) -> Result<Self, ResumeError> {
        let doc = lt_bencode::decode_compat(buf, bencode_limits(limits))?;
        Self::from_node(doc.root(), limits)
    }

    /// Parses a decoded resume file.
    pub fn from_node(rd: Node<'_, '_>, limits: &LoadLimits) -> Result<Self, ResumeError> {
        let mut ret = ResumeData::default();
        if rd.kind() != Kind::Dict {
            return Err(ResumeError::NotADictionary);
        }
        if let Some(alloc) = rd.get_bytes(b"allocation") {
            ret.storage_mode = if alloc == b"allocate" || alloc == b"full" {
                StorageMode::Allocate
            } else {
                StorageMode::Sparse
            };
        }
        let version = rd.get_int(b"file-version").unwrap_or(1);
        if rd.get_bytes(b"file-format") != Some(FILE_FORMAT) || !(1..=2).contains(&version) {
            return Err(ResumeError::InvalidFileTag);
        }
        let ih1 = rd.get_bytes(b"info-hash").filter(|b| b.len() == 20);
        let ih2 = rd.get_bytes(b"info-hash2").filter(|b| b.len() == 32);
        if ih1.is_none() && ih2.is_none() {
            return Err(ResumeError::MissingInfoHash);
        }
        ret.name = str_value(rd, b"name");
        if let Some(h) = ih1.and_then(|b| Sha1Hash::from_slice(b).ok()) {
            ret.info_hashes.v1 = h;
        }
        if let Some(h) = ih2.and_then(|b| Sha256Hash::from_slice(b).ok()) {
            ret.info_hashes.v2 = h;
        }

        if let Some(info) = rd.get_dict(b"info") {
            let section = info.raw();
            let ih = &ret.info_hashes;
            if (ih.has_v1() && Sha1Hash::digest(section) != ih.v1)
                || (ih.has_v2() && Sha256Hash::digest(section) != ih.v2)
            {
                return Err(ResumeError::MismatchingInfoHash);
            }
            let mut ti = TorrentInfo::from_info_section(section, limits)?;
            ti.set_creation_date(rd.get_int(b"creation date").unwrap_or(0));
            ti.set_creator(str_value(rd, b"created by"));
            ti.set_comment(str_value(rd, b"comment"));
            ret.ti = Some(ti);
        }

        if let Some(trees) = rd.get_list(b"trees") {
            for de in trees.list_iter() {
                if de.kind() != Kind::Dict {
                    break;
                }
                let Some(hashes) = de.get_bytes(b"hashes") else {
                    break;
                };
                if hashes.len() % 32 != 0 {
                    break;
                }
                ret.merkle_trees.push(
                    hashes
                        .chunks_exact(32)
                        .filter_map(|c| Sha256Hash::from_slice(c).ok())
                        .collect(),
                );
                // version 2: packed bits; version 1: one character per
                // bit, '1' for set
                let bits = |k: &[u8]| -> Vec<bool> {
                    let b = de.get_bytes(k).unwrap_or(&[]);
                    if version == 1 {
                        b.iter().map(|c| *c == b'1').collect()
                    } else {
                        unpack_bits(b)
                    }
                };
                ret.verified_leaf_hashes.push(bits(b"verified"));
                ret.merkle_tree_mask.push(bits(b"mask"));
            }
        }

        ret.total_uploaded = rd.get_int(b"total_uploaded").unwrap_or(0);
        ret.total_downloaded = rd.get_int(b"total_downloaded").unwrap_or(0);
        ret.active_time = int32(rd, b"active_time", 0);
        ret.finished_time = int32(rd, b"finished_time", 0);
        ret.seeding_time = int32(rd, b"seeding_time", 0);
        ret.last_seen_complete = rd.get_int(b"last_seen_complete").unwrap_or(0);
        ret.last_download = rd.get_int(b"last_download").unwrap_or(0);
        ret.last_upload = rd.get_int(b"last_upload").unwrap_or(0);
        ret.num_complete = int32(rd, b"num_complete", -1);
        ret.num_incomplete = int32(rd, b"num_incomplete", -1);
        ret.num_downloaded = int32(rd, b"num_downloaded", -1);
        ret.max_uploads = int32(rd, b"max_uploads", -1);
        ret.max_connections = int32(rd, b"max_connections", -1);
        ret.upload_limit = int32(rd, b"upload_rate_limit", -1);
        ret.download_limit = int32(rd, b"download_rate_limit", -1);

        for (key, bit) in FLAG_KEYS {
            let default = i64::from(bit & flags::DEFAULT_FLAGS != 0);
            if rd.get_int(key).unwrap_or(default) == 0 {
                ret.flags &= !bit;
            } else {
                ret.flags |= bit;
            }
        }

        ret.save_path = str_value(rd, b"save_path");
        ret.url = str_value(rd, b"url");
        ret.comment = str_value(rd, b"comment");
        ret.created_by = str_value(rd, b"created by");
        ret.creation_date = rd.get_int(b"creation date").unwrap_or(0);
        ret.root_certificate = str_value(rd, b"root_certificate");
        ret.part_file_dir = str_value(rd, b"part_file_dir");

        if let Some(mapped) = rd.get_list(b"mapped_files") {
            for (i, n) in mapped.list_iter().enumerate() {
                let name = n.as_bytes().unwrap_or(&[]);
                if name.is_empty() {
                    continue;
                }
                let Ok(i) = i32::try_from(i) else { break };
                ret.renamed_files.insert(i, text(name));
            }
        }

        ret.added_time = rd.get_int(b"added_time").unwrap_or(0);
        ret.completed_time = rd.get_int(b"completed_time").unwrap_or(0);

        if let Some(prios) = rd.get_list(b"file_priority") {
            ret.file_priorities = prios
                .list_iter()
                .map(|n| {
                    let v = n.as_int().unwrap_or(i64::from(DEFAULT_PRIORITY)) as u8;
                    v.min(TOP_PRIORITY)
                })
                .collect();
            // a file not to download is suspicious in seed mode: leave it
            if ret.file_priorities.contains(&0) {
                ret.flags &= !flags::SEED_MODE;
            }
        }

        if let Some(trackers) = rd.get_list(b"trackers") {
            // the resume file's trackers replace the .torrent file's
            ret.flags |= flags::OVERRIDE_TRACKERS;
            let mut tier = 0i32;
            for tier_list in trackers.list_iter() {
                if tier_list.kind() != Kind::List {
                    continue;
                }
                for t in tier_list.list_iter() {
                    ret.trackers.push(text(t.as_bytes().unwrap_or(&[])));
                    ret.tracker_tiers.push(tier);
                }
                tier = tier.saturating_add(1);
            }
        }

        // (`httpseeds` is neither read nor written any more)
        if let Some(urls) = rd.get_list(b"url-list") {
            // the resume file's web seeds replace the .torrent file's
            ret.flags |= flags::OVERRIDE_WEB_SEEDS;
            for u in urls.list_iter() {
                match u.as_bytes() {
                    Some(b) if !b.is_empty() => ret.url_seeds.push(text(b)),
                    _ => {}
                }
            }
        }

        if let Some(pieces) = rd.get_bytes(b"pieces") {
            if version == 1 {
                // one byte per piece: bit 0 have, bit 1 verified
                ret.have_pieces = pieces.iter().map(|b| b & 1 != 0).collect();
                // (kept empty when no piece is marked verified)
                if pieces.iter().any(|b| b & 2 != 0) {
                    ret.verified_pieces = pieces.iter().map(|b| b & 2 != 0).collect();
                }
            } else {
                ret.have_pieces = unpack_bits(pieces);
            }
        }
        if let Some(v) = rd.get_bytes(b"verified") {
            ret.verified_pieces = unpack_bits(v);
        }

        if let Some(prio) = rd.get_bytes(b"piece_priority") {
            ret.piece_priorities = prio.iter().map(|p| (*p).min(TOP_PRIORITY)).collect();
        }

        for (key, len, banned) in [
            (&b"peers"[..], 6, false),
            (b"peers6", 18, false),
            (b"banned_peers", 6, true),
            (b"banned_peers6", 18, true),
        ] {
            if let Some(b) = rd.get_bytes(key) {
                let list = if banned {
                    &mut ret.banned_peers
                } else {
                    &mut ret.peers
                };
                read_endpoints(b, len, list);
            }
        }

        if let Some(unfinished) = rd.get_list(b"unfinished") {
            for e in unfinished.list_iter() {
                if e.kind() != Kind::Dict {
                    continue;
                }
                // the index is read as a C int
                let piece = e.get_int(b"piece").unwrap_or(-1) as i32;
                if piece < 0 {
                    continue;
                }
                match e.get_bytes(b"bitmask") {
                    Some(mask) if !mask.is_empty() => {
                        ret.unfinished_pieces.insert(piece, unpack_bits(mask));
                    }
                    _ => {}
                }
            }
        }

        // freshly loaded from resume data: nothing new to save
        ret.flags &= !flags::NEED_SAVE_RESUME;
        Ok(ret)
    }

    /// Fills the merkle-tree fields from a v2 torrent's piece layers, as
    /// libtorrent's torrent loaders do: per file a sparse tree holding the
    /// piece layer, a mask marking those nodes, and the leaf hashes marked
    /// verified when the piece layer is the leaf layer. Files without a
    /// layer (pad files, files of at most one piece) get empty entries.
    /// Leaves v1-only torrents alone.
    pub fn set_trees_from_torrent(&mut self, ti: &TorrentInfo) {
        let fs = ti.files();
        if !ti.v2() {
            return;
        }
        let piece_len = i64::from(fs.piece_length());
        let bpp = (piece_len / lt_metainfo::file_storage::BLOCK_SIZE).max(1);
        let n = fs.num_files();
        let (mut trees, mut masks, mut verified) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for f in fs.file_range() {
            let layer = ti.piece_layer(f);
            if fs.pad_file_at(f) || fs.file_size(f) <= piece_len || layer.is_empty() {
                trees.push(Vec::new());
                masks.push(Vec::new());
                verified.push(Vec::new());
                continue;
            }
            let num_blocks = i64::from(fs.file_num_blocks(f));
            let leafs = lt_metainfo::file_storage::merkle_num_leafs(num_blocks);
            let nodes = lt_metainfo::file_storage::merkle_num_nodes(leafs).max(0) as usize;
            let first = fs.file_first_piece_node(f).max(0) as usize;
            let hashes: Vec<Sha256Hash> = layer
                .chunks_exact(32)
                .filter_map(|c| Sha256Hash::from_slice(c).ok())
                .collect();
            let mut mask = vec![false; nodes];
            for slot in mask.iter_mut().skip(first).take(hashes.len()) {
                *slot = true;
            }
            trees.push(hashes);
            masks.push(mask);
            verified.push(vec![bpp == 1; num_blocks.max(0) as usize]);
        }
        self.merkle_trees = trees;
        self.merkle_tree_mask = masks;
        self.verified_leaf_hashes = verified;
    }
}

/// The bencode limits of a load: libtorrent's depth and token bounds,
/// lenient key order, bytes after the root value ignored.
pub fn bencode_limits(l: &LoadLimits) -> Limits {
    Limits {
        max_depth: l.max_decode_depth.clamp(0, 100_000) as usize,
        max_tokens: l.max_decode_tokens.clamp(0, 100_000_000) as usize,
        strict_key_order: false,
        allow_trailing: true,
    }
}

/// A string value (empty when missing or not a string).
fn str_value(n: Node<'_, '_>, key: &[u8]) -> String {
    text(n.get_bytes(key).unwrap_or(&[]))
}

/// An integer read as a C `int` (truncated), `default` when missing.
fn int32(n: Node<'_, '_>, key: &[u8], default: i32) -> i32 {
    n.get_int(key).map_or(default, |v| v as i32)
}
