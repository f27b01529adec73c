//! Parsing of `.torrent` files: v1 (BEP 3), v2 (BEP 52) and hybrid.

use std::borrow::Cow;
use std::sync::Arc;

use lt_bencode::{Kind, Limits, Node};
use lt_core::{InfoHash, Sha1Hash, Sha256Hash};

use crate::error::MetainfoError;
use crate::file_storage::{FileFlags, FileStorage, NewFile};
use crate::merkle::root_from_piece_layer;
use crate::sanitize::{sanitize_element, sanitize_element_cow, sanitize_symlink, sanitize_utf8};

/// Bounds applied while loading a torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Largest `.torrent` file read from disk.
    pub max_buffer_size: i64,
    /// Largest number of pieces.
    pub max_pieces: i64,
    /// Deepest bencode nesting.
    pub max_decode_depth: i64,
    /// Largest number of bencode tokens.
    pub max_decode_tokens: i64,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_buffer_size: 10_000_000,
            max_pieces: 0x20_0000,
            max_decode_depth: 100,
            max_decode_tokens: 3_000_000,
        }
    }
}

impl LoadLimits {
    fn bencode(&self) -> Limits {
        Limits {
            max_depth: self.max_decode_depth.clamp(0, 100_000) as usize,
            max_tokens: self.max_decode_tokens.clamp(0, 100_000_000) as usize,
            strict_key_order: false,
            allow_trailing: true,
        }
    }
}

/// Where a tracker entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrackerSource {
    #[default]
    Torrent = 1,
    Client = 2,
    MagnetLink = 4,
    Tex = 8,
}

/// A tracker listed in a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    pub url: String,
    pub tier: u8,
    pub source: TrackerSource,
}

/// Kind of web seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebSeedKind {
    /// BEP 19 (`url-list`).
    UrlSeed,
    /// BEP 17 (`httpseeds`).
    HttpSeed,
}

/// A web seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSeed {
    pub url: String,
    pub auth: String,
    pub extra_headers: Vec<(String, String)>,
    pub kind: WebSeedKind,
}

/// A parsed torrent.
#[derive(Debug, Clone, Default)]
pub struct TorrentInfo {
    files: FileStorage,
    orig_files: Option<Box<FileStorage>>,
    info_section: Arc<[u8]>,
    /// Byte range of the v1 `pieces` string inside `info_section`, or the
    /// start offset 0 when the torrent has none (see [`Self::hash_for_piece`]).
    piece_hashes: usize,
    has_piece_hashes: bool,
    info_hash: InfoHash,
    comment: String,
    created_by: String,
    creation_date: i64,
    trackers: Vec<Tracker>,
    web_seeds: Vec<WebSeed>,
    nodes: Vec<(String, i64)>,
    collections: Vec<String>,
    similar: Vec<Sha1Hash>,
    private: bool,
    i2p: bool,
    multifile: bool,
    ssl_cert: String,
    /// v2 piece layer per file index (empty when absent).
    piece_layers: Vec<Vec<u8>>,
    valid: bool,
}

fn utf8_or_sanitized(b: &[u8]) -> String {
    sanitize_utf8(b)
}

/// A tracker URL is kept when it is valid UTF-8, has a `scheme://` prefix
/// and contains no whitespace or control characters (leading whitespace is
/// stripped first).
fn clean_tracker_url(b: &[u8]) -> Option<String> {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    let b = b.get(start..)?;
    let s = std::str::from_utf8(b).ok()?;
    if s.bytes().any(|c| c <= b' ' || c == 0x7f) {
        return None;
    }
    let (scheme, rest) = s.split_once("://")?;
    if scheme.is_empty()
        || rest.is_empty()
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
    {
        return None;
    }
    Some(s.to_owned())
}

/// Percent-encodes the path of a URL when it holds characters that need
/// it (spaces, non-ASCII...); other URLs are returned as they are.
pub fn maybe_url_encode(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let after = scheme_end + 3;
    let path_start = url
        .get(after..)
        .and_then(|r| r.find('/'))
        .map_or(url.len(), |i| after + i);
    let (head, path) = url.split_at(path_start);
    let keep = |c: u8| c.is_ascii_alphanumeric() || b"/-_.!~*()".contains(&c);
    if path.bytes().all(keep) {
        return url.to_owned();
    }
    let mut out = String::with_capacity(url.len() + 16);
    out.push_str(head);
    for c in path.bytes() {
        if keep(c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02x}"));
        }
    }
    out
}

fn is_i2p_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    host.ends_with(".i2p")
}

struct ParsedFiles {
    fs: FileStorage,
}

impl TorrentInfo {
    /// A torrent known only by its info-hash (`is_valid()` is false).
    pub fn from_info_hash(ih: InfoHash) -> Self {
        TorrentInfo {
            info_hash: ih,
            info_section: Arc::from(Vec::new()),
            ..Default::default()
        }
    }

    /// Parses a `.torrent` buffer with default limits.
    pub fn from_bytes(buf: &[u8]) -> Result<Self, MetainfoError> {
        Self::from_bytes_with(buf, &LoadLimits::default())
    }

    /// Parses a `.torrent` buffer.
    pub fn from_bytes_with(buf: &[u8], limits: &LoadLimits) -> Result<Self, MetainfoError> {
        let doc = lt_bencode::decode_compat(buf, limits.bencode())?;
        Self::from_node(doc.root(), limits)
    }

    /// Reads and parses a `.torrent` file.
    pub fn from_file(path: &std::path::Path, limits: &LoadLimits) -> Result<Self, MetainfoError> {
        let buf = read_torrent_file(path, limits)?;
        Self::from_bytes_with(&buf, limits)
    }

    /// Parses a decoded torrent (the root dictionary).
    pub fn from_node(root: Node<'_, '_>, limits: &LoadLimits) -> Result<Self, MetainfoError> {
        if root.kind() != Kind::Dict {
            return Err(MetainfoError::NotADictionary);
        }
        let Some(info) = root.get_dict(b"info") else {
            return Err(MetainfoError::MissingInfo);
        };
        let mut ti = Self::parse_info_section(info, limits)?;

        if ti.info_hash.has_v2() {
            if let Some(layers) = root.get(b"piece layers") {
                ti.parse_piece_layers(layers)?;
            }
        }

        // trackers
        let mut trackers = Vec::new();
        if let Some(al) = root.get_list(b"announce-list") {
            for (tier, t) in al.list_iter().enumerate() {
                if t.kind() != Kind::List {
                    continue;
                }
                for u in t.list_iter() {
                    let Some(b) = u.as_bytes() else { continue };
                    if let Some(url) = clean_tracker_url(b) {
                        trackers.push(Tracker {
                            url,
                            // tiers are 8-bit in the reference: they wrap
                            tier: tier as u8,
                            source: TrackerSource::Torrent,
                        });
                    }
                }
            }
        }
        if trackers.is_empty() {
            if let Some(url) = root.get_bytes(b"announce").and_then(clean_tracker_url) {
                trackers.push(Tracker {
                    url,
                    tier: 0,
                    source: TrackerSource::Torrent,
                });
            }
        }
        // stable sort by tier
        trackers.sort_by_key(|t| t.tier);
        ti.i2p = trackers.iter().any(|t| is_i2p_url(&t.url));
        ti.trackers = trackers;

        // DHT nodes
        if let Some(nodes) = root.get_list(b"nodes") {
            for n in nodes.list_iter() {
                if n.kind() != Kind::List || n.len() < 2 {
                    continue;
                }
                let (Some(h), Some(p)) = (
                    n.list_at(0).and_then(|x| x.as_bytes()),
                    n.list_at(1).and_then(|x| x.as_int()),
                ) else {
                    continue;
                };
                ti.nodes.push((utf8_or_sanitized(h), p));
            }
        }

        // web seeds
        let multifile = ti.multifile && ti.files.num_files() > 1;
        let add_seed = |b: &[u8], kind: WebSeedKind, seeds: &mut Vec<WebSeed>| {
            let start = b
                .iter()
                .position(|c| !c.is_ascii_whitespace())
                .unwrap_or(b.len());
            let b = b.get(start..).unwrap_or(&[]);
            if b.is_empty() {
                return;
            }
            let mut url = maybe_url_encode(&String::from_utf8_lossy(b));
            if multifile && kind == WebSeedKind::UrlSeed && !url.ends_with('/') {
                url.push('/');
            }
            if seeds.iter().any(|s| s.url == url && s.kind == kind) {
                return;
            }
            seeds.push(WebSeed {
                url,
                auth: String::new(),
                extra_headers: Vec::new(),
                kind,
            });
        };
        let mut seeds = Vec::new();
        if let Some(ul) = root.get(b"url-list") {
            match ul.kind() {
                Kind::Bytes => add_seed(
                    ul.as_bytes().unwrap_or(&[]),
                    WebSeedKind::UrlSeed,
                    &mut seeds,
                ),
                Kind::List => {
                    for u in ul.list_iter() {
                        if let Some(b) = u.as_bytes() {
                            add_seed(b, WebSeedKind::UrlSeed, &mut seeds);
                        }
                    }
                }
                _ => {}
            }
        }
        ti.web_seeds = seeds;

        ti.comment = root
            .get_bytes(b"comment.utf-8")
            .or_else(|| root.get_bytes(b"comment"))
            .map(utf8_or_sanitized)
            .unwrap_or_default();
        ti.created_by = root
            .get_bytes(b"created by.utf-8")
            .or_else(|| root.get_bytes(b"created by"))
            .map(utf8_or_sanitized)
            .unwrap_or_default();
        ti.creation_date = root
            .get_int(b"creation date")
            .filter(|&d| d >= 0)
            .unwrap_or(0);

        if let Some(c) = root.get_list(b"collections") {
            for x in c.list_iter() {
                if let Some(b) = x.as_bytes() {
                    ti.collections.push(utf8_or_sanitized(b));
                }
            }
        }
        if let Some(c) = root.get_list(b"similar") {
            for x in c.list_iter() {
                if let Some(h) = x.as_bytes().and_then(|b| Sha1Hash::from_slice(b).ok()) {
                    ti.similar.push(h);
                }
            }
        }
        Ok(ti)
    }

    /// Parses an info dictionary on its own (as received from peers).
    pub fn from_info_section(info: &[u8], limits: &LoadLimits) -> Result<Self, MetainfoError> {
        let doc = lt_bencode::decode_compat(info, limits.bencode())?;
        let root = doc.root();
        if root.kind() != Kind::Dict {
            return Err(MetainfoError::MissingInfo);
        }
        Self::parse_info_section(root, limits)
    }

    fn parse_info_section(info: Node<'_, '_>, limits: &LoadLimits) -> Result<Self, MetainfoError> {
        let section = info.raw();
        let v1_hash = Sha1Hash::digest(section);
        let mut ti = TorrentInfo {
            info_section: Arc::from(section),
            valid: true,
            ..Default::default()
        };
        let version = info
            .get(b"meta version")
            .map(|n| n.as_int().unwrap_or(0))
            .unwrap_or(-1);
        let mut v2_hash = Sha256Hash::zero();
        if version > 0 {
            v2_hash = Sha256Hash::digest(section);
            if version > 2 {
                return Err(MetainfoError::UnknownVersion);
            }
        }
        let piece_length = info.get_int(b"piece length").unwrap_or(-1);
        if piece_length <= 0 || piece_length > i64::from(i32::MAX) {
            return Err(MetainfoError::MissingPieceLength);
        }
        let Some(name_b) = info
            .get_bytes(b"name.utf-8")
            .or_else(|| info.get_bytes(b"name"))
        else {
            return Err(MetainfoError::MissingName);
        };
        let mut name = sanitize_element(name_b);
        if name.is_empty() {
            name = v1_hash.to_hex();
        }

        let mut has_v1_files = false;
        let mut files;
        if version >= 2 {
            if piece_length < crate::file_storage::BLOCK_SIZE
                || piece_length & (piece_length - 1) != 0
            {
                return Err(MetainfoError::MissingPieceLength);
            }
            let Some(tree) = info.get_dict(b"file tree") else {
                return Err(MetainfoError::MissingFileTree);
            };
            let v1_layout = if info.get_list(b"files").is_some() {
                Some(true)
            } else if info.get(b"length").is_some() {
                Some(false)
            } else {
                None
            };
            files = extract_files2(tree, &name, piece_length, v1_layout)?.fs;
            files.set_v2(true);
            // v1 part of a hybrid torrent
            let v1 = if let Some(list) = info.get_list(b"files") {
                Some(extract_files(list, &name)?)
            } else if info.get(b"length").is_some() {
                Some(extract_single_file(info)?)
            } else {
                None
            };
            if let Some(v1) = v1 {
                has_v1_files = true;
                if !files_compatible(&files, &v1.fs) {
                    return Err(MetainfoError::InconsistentFiles);
                }
                ti.multifile = info.get_list(b"files").is_some();
                // the v1 list is authoritative for the layout (it decides
                // whether the last file is padded); it takes the v2 roots
                let mut v1fs = v1.fs;
                for i in v1fs.file_range() {
                    if i < files.num_files() {
                        v1fs.set_root(i, (!files.root(i).is_zero()).then(|| files.root(i)));
                    }
                }
                v1fs.set_v2(true);
                files = v1fs;
            } else {
                ti.multifile = !(files.num_files() <= 2 && files.file_path(0, "") == files.name());
            }
        } else {
            if info.get_dict(b"file tree").is_some() {
                return Err(MetainfoError::MissingMetaVersion);
            }
            has_v1_files = true;
            files = if let Some(list) = info.get_list(b"files") {
                ti.multifile = true;
                extract_files(list, &name)?.fs
            } else {
                extract_single_file(info)?.fs
            };
        }
        files.set_piece_length(piece_length as i32);
        if files.num_files() == 0 {
            return Err(MetainfoError::NoFiles);
        }
        if files.total_size() == 0 {
            return Err(MetainfoError::InvalidLength);
        }
        let np = (files.total_size() + piece_length - 1) / piece_length;
        if np >= i64::from(i32::MAX) / 20 || np > limits.max_pieces {
            return Err(MetainfoError::TooManyPieces);
        }
        files.set_num_pieces(np as i32);

        match info
            .get(b"pieces")
            .and_then(|p| p.as_bytes().map(|b| (p, b)))
        {
            Some((p, b)) => {
                if b.len() as i64 != np * 20 {
                    return Err(MetainfoError::InvalidHashes);
                }
                // the string's contents start after its length prefix
                let raw = p.raw();
                let start = p.offset() + (raw.len() - b.len()) - info.offset();
                ti.piece_hashes = start;
                ti.has_piece_hashes = true;
            }
            None => {
                if version < 2 {
                    return Err(MetainfoError::MissingPieces);
                }
            }
        }

        ti.info_hash = InfoHash::new(
            if has_v1_files {
                v1_hash
            } else {
                Sha1Hash::zero()
            },
            v2_hash,
        );
        ti.private = info.get_int(b"private").is_some_and(|p| p != 0);
        if let Some(c) = info.get_list(b"collections") {
            for x in c.list_iter() {
                if let Some(b) = x.as_bytes() {
                    ti.collections.push(utf8_or_sanitized(b));
                }
            }
        }
        if let Some(c) = info.get_list(b"similar") {
            for x in c.list_iter() {
                if let Some(h) = x.as_bytes().and_then(|b| Sha1Hash::from_slice(b).ok()) {
                    ti.similar.push(h);
                }
            }
        }
        if let Some(c) = info.get_bytes(b"ssl-cert") {
            ti.ssl_cert = String::from_utf8_lossy(c).into_owned();
        }
        ti.files = files;
        Ok(ti)
    }

    fn parse_piece_layers(&mut self, layers: Node<'_, '_>) -> Result<(), MetainfoError> {
        if layers.kind() != Kind::Dict {
            return Ok(());
        }
        let fs = &self.files;
        let pl = i64::from(fs.piece_length());
        let mut found: Vec<(Sha256Hash, &[u8])> = Vec::new();
        for (k, v) in layers.dict_iter() {
            let (Ok(root), Some(b)) = (Sha256Hash::from_slice(k), v.as_bytes()) else {
                return Err(MetainfoError::InvalidPieceLayer);
            };
            if b.len() % 32 != 0 {
                return Err(MetainfoError::InvalidPieceLayer);
            }
            let known = fs
                .file_range()
                .any(|i| fs.file_size(i) > pl && !fs.pad_file_at(i) && fs.root(i) == root);
            if !known {
                return Err(MetainfoError::InvalidPieceLayer);
            }
            found.push((root, b));
        }
        let mut out = vec![Vec::new(); fs.num_files()];
        for i in fs.file_range() {
            if fs.file_size(i) <= pl || fs.pad_file_at(i) {
                continue;
            }
            let root = fs.root(i);
            let Some((_, b)) = found.iter().find(|(r, _)| *r == root) else {
                continue;
            };
            let n = fs.file_num_pieces(i) as usize;
            if b.len() != n * 32 {
                return Err(MetainfoError::InvalidPieceLayer);
            }
            let hashes: Vec<Sha256Hash> = b
                .chunks_exact(32)
                .filter_map(|c| Sha256Hash::from_slice(c).ok())
                .collect();
            if root_from_piece_layer(&hashes, pl, i64::from(fs.file_num_blocks(i))) != root {
                return Err(MetainfoError::InvalidPieceLayer);
            }
            if let Some(slot) = out.get_mut(i) {
                *slot = b.to_vec();
            }
        }
        self.piece_layers = out;
        Ok(())
    }

    // ---- accessors ----

    pub fn files(&self) -> &FileStorage {
        &self.files
    }
    pub fn files_mut(&mut self) -> &mut FileStorage {
        &mut self.files
    }
    /// The file layout as in the torrent, before any rename or remap.
    pub fn orig_files(&self) -> &FileStorage {
        self.orig_files.as_deref().unwrap_or(&self.files)
    }
    /// Renames a file (the original layout stays available in
    /// [`Self::orig_files`]).
    pub fn rename_file(&mut self, file: usize, new_path: &str) {
        self.copy_on_write();
        self.files.rename_file(file, new_path);
    }
    /// Replaces the file layout with another one of the same total size.
    pub fn remap_files(&mut self, fs: FileStorage) -> bool {
        if fs.total_size() != self.files.total_size() {
            return false;
        }
        self.copy_on_write();
        let mut fs = fs;
        fs.set_piece_length(self.files.piece_length());
        fs.set_num_pieces(self.files.num_pieces());
        self.files = fs;
        true
    }
    fn copy_on_write(&mut self) {
        if self.orig_files.is_none() {
            self.orig_files = Some(Box::new(self.files.clone()));
        }
    }

    pub fn is_valid(&self) -> bool {
        self.valid
    }
    pub fn name(&self) -> &str {
        self.files.name()
    }
    pub fn comment(&self) -> &str {
        &self.comment
    }
    pub fn set_comment(&mut self, c: String) {
        self.comment = c;
    }
    pub fn creator(&self) -> &str {
        &self.created_by
    }
    pub fn set_creator(&mut self, c: String) {
        self.created_by = c;
    }
    pub fn creation_date(&self) -> i64 {
        self.creation_date
    }
    pub fn set_creation_date(&mut self, d: i64) {
        self.creation_date = d;
    }
    pub fn info_hashes(&self) -> InfoHash {
        self.info_hash
    }
    pub fn private(&self) -> bool {
        self.private
    }
    pub fn is_i2p(&self) -> bool {
        self.i2p
    }
    /// Whether the v1 part is a multi-file torrent (`files` list).
    pub fn is_multifile(&self) -> bool {
        self.multifile
    }
    pub fn ssl_cert(&self) -> &str {
        &self.ssl_cert
    }
    pub fn trackers(&self) -> &[Tracker] {
        &self.trackers
    }
    pub fn clear_trackers(&mut self) {
        self.trackers.clear();
    }
    /// Adds a tracker unless it is already listed; keeps tiers ordered.
    pub fn add_tracker(&mut self, url: &str, tier: u8, source: TrackerSource) {
        if url.is_empty() || self.trackers.iter().any(|t| t.url == url) {
            return;
        }
        self.trackers.push(Tracker {
            url: url.to_owned(),
            tier,
            source,
        });
        self.trackers.sort_by_key(|t| t.tier);
    }
    pub fn web_seeds(&self) -> &[WebSeed] {
        &self.web_seeds
    }
    pub fn set_web_seeds(&mut self, seeds: Vec<WebSeed>) {
        self.web_seeds = seeds;
    }
    pub fn add_web_seed(&mut self, seed: WebSeed) {
        self.web_seeds.push(seed);
    }
    pub fn clear_web_seeds(&mut self) {
        self.web_seeds.clear();
    }
    pub fn nodes(&self) -> &[(String, i64)] {
        &self.nodes
    }
    pub fn add_node(&mut self, host: String, port: i64) {
        self.nodes.push((host, port));
    }
    pub fn clear_nodes(&mut self) {
        self.nodes.clear();
    }
    pub fn collections(&self) -> &[String] {
        &self.collections
    }
    pub fn similar_torrents(&self) -> &[Sha1Hash] {
        &self.similar
    }
    /// The bencoded info dictionary, exactly as in the torrent file.
    pub fn info_section(&self) -> &[u8] {
        &self.info_section
    }
    pub fn info_section_arc(&self) -> Arc<[u8]> {
        self.info_section.clone()
    }
    pub fn metadata_size(&self) -> usize {
        self.info_section.len()
    }
    pub fn num_files(&self) -> usize {
        self.files.num_files()
    }
    pub fn num_pieces(&self) -> i32 {
        self.files.num_pieces()
    }
    pub fn piece_length(&self) -> i32 {
        self.files.piece_length()
    }
    pub fn total_size(&self) -> i64 {
        self.files.total_size()
    }
    pub fn piece_size(&self, piece: i32) -> i32 {
        self.files.piece_size(piece)
    }
    /// Whether the torrent carries v1 piece hashes.
    pub fn has_v1_hashes(&self) -> bool {
        self.has_piece_hashes
    }
    pub fn v1(&self) -> bool {
        self.info_hash.has_v1()
    }
    pub fn v2(&self) -> bool {
        self.info_hash.has_v2()
    }

    /// The 20 bytes at `piece * 20` of the torrent's `pieces` string. A
    /// torrent without v1 hashes yields the bytes at that position of the
    /// info section (what libtorrent returns), or zeros past its end.
    pub fn hash_for_piece(&self, piece: i32) -> Sha1Hash {
        if piece < 0 || piece >= self.num_pieces() {
            return Sha1Hash::zero();
        }
        let start = self.piece_hashes + piece as usize * 20;
        self.info_section
            .get(start..start + 20)
            .and_then(|b| Sha1Hash::from_slice(b).ok())
            .unwrap_or_default()
    }

    /// The v1 piece hashes as one byte string (empty when absent).
    pub fn piece_hashes(&self) -> &[u8] {
        if !self.has_piece_hashes {
            return &[];
        }
        let len = self.num_pieces().max(0) as usize * 20;
        self.info_section
            .get(self.piece_hashes..self.piece_hashes + len)
            .unwrap_or(&[])
    }

    /// The v2 piece layer of a file (concatenated SHA-256 hashes), empty
    /// when the torrent has none for it.
    pub fn piece_layer(&self, file: usize) -> &[u8] {
        self.piece_layers.get(file).map_or(&[], |v| v.as_slice())
    }
    /// Sets the piece layer of a file.
    pub fn set_piece_layer(&mut self, file: usize, layer: Vec<u8>) {
        if self.piece_layers.len() < self.files.num_files() {
            self.piece_layers.resize(self.files.num_files(), Vec::new());
        }
        if let Some(s) = self.piece_layers.get_mut(file) {
            *s = layer;
        }
    }
}

/// Reads a `.torrent` file, refusing files larger than the limit.
pub fn read_torrent_file(
    path: &std::path::Path,
    limits: &LoadLimits,
) -> Result<Vec<u8>, MetainfoError> {
    let io = |e: std::io::Error| MetainfoError::Io(e.raw_os_error().unwrap_or(5));
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() || meta.len() as i64 > limits.max_buffer_size {
        return Err(MetainfoError::MetadataTooLarge);
    }
    std::fs::read(path).map_err(io)
}

fn parse_attr(n: Node<'_, '_>) -> FileFlags {
    attr_flags(n.get_bytes(b"attr"))
}

fn attr_flags(attr: Option<&[u8]>) -> FileFlags {
    let mut f = FileFlags::NONE;
    if let Some(a) = attr {
        for c in a {
            match c {
                b'l' => f |= FileFlags::SYMLINK,
                b'x' => f |= FileFlags::EXECUTABLE,
                b'h' => f |= FileFlags::HIDDEN,
                b'p' => f |= FileFlags::PAD_FILE,
                _ => {}
            }
        }
    }
    f
}

fn symlink_of(n: Node<'_, '_>, flags: &mut FileFlags) -> String {
    if !flags.contains(FileFlags::SYMLINK) {
        return String::new();
    }
    symlink_from(
        n.get_list(b"symlink path.utf-8")
            .or_else(|| n.get_list(b"symlink path")),
        flags,
    )
}

/// The sanitized target of a symlink given its (first) `symlink path`
/// list; clears the flag when there is none.
fn symlink_from(list: Option<Node<'_, '_>>, flags: &mut FileFlags) -> String {
    match list {
        Some(l) => sanitize_symlink(l.list_iter().filter_map(|e| e.as_bytes())),
        None => {
            flags.0 &= !FileFlags::SYMLINK.0;
            String::new()
        }
    }
}

fn extract_single_file(info: Node<'_, '_>) -> Result<ParsedFiles, MetainfoError> {
    let name_b = info
        .get_bytes(b"name.utf-8")
        .or_else(|| info.get_bytes(b"name"))
        .unwrap_or(&[]);
    if name_b.is_empty() {
        return Err(MetainfoError::MissingName);
    }
    let name = sanitize_element(name_b);
    if name.is_empty() {
        return Err(MetainfoError::MissingName);
    }
    let size = info
        .get_int(b"length")
        .ok_or(MetainfoError::InvalidLength)?;
    if size < 0 {
        return Err(MetainfoError::InvalidLength);
    }
    let mut flags = parse_attr(info);
    if name.contains("_____padding_file_") {
        flags |= FileFlags::PAD_FILE;
    }
    let symlink = symlink_of(info, &mut flags);
    let mut fs = FileStorage::new();
    fs.add_file_full(NewFile {
        path: &name,
        size,
        flags,
        mtime: info.get_int(b"mtime").unwrap_or(0),
        symlink: &symlink,
        root: None,
        filehash: info
            .get_bytes(b"sha1")
            .and_then(|b| Sha1Hash::from_slice(b).ok()),
    })
    .map_err(|_| MetainfoError::InvalidLength)?;
    Ok(ParsedFiles { fs })
}

/// A file whose path contains this is a padding file (old BitComet
/// convention, as libtorrent reads it).
const PAD_MARKER: &str = "_____padding_file_";

/// The keys of a v1 `files` entry, each the first occurrence in the
/// dictionary (what [`Node::get`] would return), found in one pass.
#[derive(Default)]
struct V1FileKeys<'d, 'a> {
    length: Option<Node<'d, 'a>>,
    path_utf8: Option<Node<'d, 'a>>,
    path: Option<Node<'d, 'a>>,
    attr: Option<Node<'d, 'a>>,
    mtime: Option<Node<'d, 'a>>,
    sha1: Option<Node<'d, 'a>>,
    symlink_utf8: Option<Node<'d, 'a>>,
    symlink: Option<Node<'d, 'a>>,
}

impl<'d, 'a> V1FileKeys<'d, 'a> {
    fn scan(f: Node<'d, 'a>) -> Self {
        let mut k = V1FileKeys::default();
        // Compared as fixed-size arrays, the keys compile to a length
        // switch and integer compares instead of a `memcmp` call per key.
        fn is<const N: usize>(key: &[u8], want: &[u8; N]) -> bool {
            <&[u8; N]>::try_from(key).is_ok_and(|k| k == want)
        }
        for (key, v) in f.dict_iter() {
            let slot = match key.len() {
                4 if is(key, b"path") => &mut k.path,
                4 if is(key, b"attr") => &mut k.attr,
                4 if is(key, b"sha1") => &mut k.sha1,
                5 if is(key, b"mtime") => &mut k.mtime,
                6 if is(key, b"length") => &mut k.length,
                10 if is(key, b"path.utf-8") => &mut k.path_utf8,
                12 if is(key, b"symlink path") => &mut k.symlink,
                18 if is(key, b"symlink path.utf-8") => &mut k.symlink_utf8,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        k
    }
}

fn list_node<'d, 'a>(n: Option<Node<'d, 'a>>) -> Option<Node<'d, 'a>> {
    n.filter(|n| n.kind() == Kind::List)
}

fn extract_files(list: Node<'_, '_>, name: &str) -> Result<ParsedFiles, MetainfoError> {
    let mut fs = FileStorage::new();
    if list.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    fs.reserve(list.len());
    let name_is_pad = name.contains(PAD_MARKER);
    let mut dir = String::new();
    for f in list.list_iter() {
        if f.kind() != Kind::Dict {
            return Err(MetainfoError::FailedToParseFiles);
        }
        let k = V1FileKeys::scan(f);
        let size = k
            .length
            .and_then(|n| n.as_int())
            .ok_or(MetainfoError::InvalidLength)?;
        if size < 0 {
            return Err(MetainfoError::InvalidLength);
        }
        let Some(pl) = list_node(k.path_utf8).or_else(|| list_node(k.path)) else {
            return Err(MetainfoError::MissingName);
        };
        if pl.is_empty() {
            return Err(MetainfoError::MissingName);
        }
        // the path is `name/dir/leaf`: `dir` gets every element but the last
        dir.clear();
        let mut leaf: Option<Cow<'_, str>> = None;
        let mut is_pad = name_is_pad;
        for e in pl.list_iter() {
            let Some(b) = e.as_bytes() else {
                return Err(MetainfoError::InvalidName);
            };
            // a dropped element (empty, `.`, `..`) becomes `_`
            let mut el = sanitize_element_cow(b);
            if el.is_empty() {
                el = Cow::Borrowed("_");
            }
            // the marker holds no `/`, so it lies within one element
            is_pad = is_pad || (el.len() >= PAD_MARKER.len() && el.contains(PAD_MARKER));
            if let Some(prev) = leaf.replace(el) {
                if !dir.is_empty() {
                    dir.push('/');
                }
                dir.push_str(&prev);
            }
        }
        let leaf = leaf.unwrap_or(Cow::Borrowed("_"));
        let mut flags = attr_flags(k.attr.and_then(|n| n.as_bytes()));
        if is_pad {
            flags |= FileFlags::PAD_FILE;
        }
        let symlink = if flags.contains(FileFlags::SYMLINK) {
            symlink_from(
                list_node(k.symlink_utf8).or_else(|| list_node(k.symlink)),
                &mut flags,
            )
        } else {
            String::new()
        };
        let file = NewFile {
            path: "",
            size,
            flags,
            mtime: k.mtime.and_then(|n| n.as_int()).unwrap_or(0),
            symlink: &symlink,
            root: None,
            filehash: k
                .sha1
                .and_then(|n| n.as_bytes())
                .and_then(|b| Sha1Hash::from_slice(b).ok()),
        };
        fs.add_file_split(name, &dir, &leaf, file)
            .map_err(|_| MetainfoError::InvalidLength)?;
    }
    Ok(ParsedFiles { fs })
}

/// Deepest directory nesting accepted in a v2 file tree.
const MAX_TREE_DEPTH: usize = 100;

/// `multifile`: what the v1 part of a hybrid torrent says (a `files` list
/// or a `length`); `None` for a v2-only torrent, where a tree holding one
/// file at its root is a single-file torrent named by that file's key.
fn extract_files2(
    tree: Node<'_, '_>,
    name: &str,
    piece_length: i64,
    multifile: Option<bool>,
) -> Result<ParsedFiles, MetainfoError> {
    if tree.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    let mut fs = FileStorage::new();
    let single = match multifile {
        Some(m) => !m,
        None => {
            tree.len() == 1
                && tree.dict_iter().next().is_some_and(|(_, v)| {
                    v.get(b"").is_some_and(|l| l.kind() == Kind::Dict) && v.len() == 1
                })
        }
    };
    let root_path = if single {
        String::new()
    } else {
        name.to_owned()
    };
    let mut path = root_path;
    walk_tree(tree, &mut path, 0, &mut fs, piece_length)?;
    Ok(ParsedFiles { fs })
}

fn walk_tree(
    dir: Node<'_, '_>,
    path: &mut String,
    depth: usize,
    fs: &mut FileStorage,
    piece_length: i64,
) -> Result<(), MetainfoError> {
    if depth >= MAX_TREE_DEPTH {
        return Err(MetainfoError::TooDeepFileTree);
    }
    let mut prev: Option<&[u8]> = None;
    for (key, value) in dir.dict_iter() {
        if prev.is_some_and(|p| p >= key) {
            return Err(MetainfoError::InvalidBencoding);
        }
        prev = Some(key);
        if value.kind() != Kind::Dict {
            return Err(MetainfoError::FailedToParseFiles);
        }
        if key.is_empty() {
            return Err(MetainfoError::FailedToParseFiles);
        }
        let elem = sanitize_element_cow(key);
        let len_before = path.len();
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(if elem.is_empty() { "_" } else { &elem });
        if let Some(leaf) = value.get(b"") {
            // a file: its dictionary must hold only the "" key
            if value.len() != 1 || leaf.kind() != Kind::Dict {
                return Err(MetainfoError::FailedToParseFiles);
            }
            add_v2_file(leaf, path, fs, piece_length)?;
        } else {
            walk_tree(value, path, depth + 1, fs, piece_length)?;
        }
        path.truncate(len_before);
    }
    Ok(())
}

fn add_v2_file(
    leaf: Node<'_, '_>,
    path: &str,
    fs: &mut FileStorage,
    piece_length: i64,
) -> Result<(), MetainfoError> {
    let size = leaf
        .get_int(b"length")
        .ok_or(MetainfoError::InvalidLength)?;
    if size < 0 {
        return Err(MetainfoError::InvalidLength);
    }
    let mut flags = parse_attr(leaf);
    if flags.contains(FileFlags::PAD_FILE) {
        return Err(MetainfoError::V2PadFile);
    }
    let symlink = symlink_of(leaf, &mut flags);
    let root = if size > 0 && !flags.contains(FileFlags::SYMLINK) {
        match leaf.get_bytes(b"pieces root").map(Sha256Hash::from_slice) {
            Some(Ok(r)) => Some(r),
            _ => return Err(MetainfoError::MissingPiecesRoot),
        }
    } else {
        None
    };
    fs.add_file_full(NewFile {
        path,
        size,
        flags,
        mtime: leaf.get_int(b"mtime").unwrap_or(0),
        symlink: &symlink,
        root,
        filehash: None,
    })
    .map_err(|_| MetainfoError::InvalidLength)?;
    let rem = size % piece_length;
    if rem != 0 {
        fs.add_pad_file(piece_length - rem)
            .map_err(|_| MetainfoError::InvalidLength)?;
    }
    Ok(())
}

/// Whether the v1 file list of a hybrid torrent describes the same files
/// as its v2 file tree.
fn files_compatible(a: &FileStorage, b: &FileStorage) -> bool {
    // a padding file at the very end is optional
    let len = |fs: &FileStorage| {
        let n = fs.num_files();
        if n > 0 && fs.pad_file_at(n - 1) {
            n - 1
        } else {
            n
        }
    };
    if len(a) != len(b) {
        return false;
    }
    (0..len(a)).all(|i| {
        a.file_size(i) == b.file_size(i)
            && a.pad_file_at(i) == b.pad_file_at(i)
            && (a.pad_file_at(i) || a.file_path(i, "") == b.file_path(i, ""))
            && a.file_flags(i) == b.file_flags(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lt_bencode::Value;
    use std::collections::BTreeMap;

    fn b(s: &[u8]) -> Value {
        Value::Bytes(s.to_vec())
    }
    fn d(items: Vec<(&[u8], Value)>) -> Value {
        Value::Dict(
            items
                .into_iter()
                .map(|(k, v)| (k.to_vec(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    }
    fn l(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    fn single(len: i64, plen: i64, pieces: usize) -> Value {
        d(vec![
            (b"announce", b(b"http://t/announce")),
            (
                b"info",
                d(vec![
                    (b"name", b(b"file.bin")),
                    (b"length", Value::Int(len)),
                    (b"piece length", Value::Int(plen)),
                    (b"pieces", b(&vec![7u8; pieces * 20])),
                ]),
            ),
        ])
    }

    fn multi(paths: Vec<Vec<&[u8]>>) -> Value {
        let files = paths
            .into_iter()
            .map(|p| {
                d(vec![
                    (b"length", Value::Int(10)),
                    (b"path", l(p.into_iter().map(b).collect())),
                ])
            })
            .collect::<Vec<_>>();
        let n = files.len();
        d(vec![(
            b"info",
            d(vec![
                (b"name", b(b"top")),
                (b"files", l(files)),
                (b"piece length", Value::Int(16384)),
                (b"pieces", b(&vec![1u8; 20 * n.div_ceil(1638).max(1)])),
            ]),
        )])
    }

    #[test]
    fn v1_single_file() {
        let buf = single(40000, 16384, 3).encode();
        let ti = TorrentInfo::from_bytes(&buf).unwrap();
        assert_eq!(ti.name(), "file.bin");
        assert_eq!(ti.num_files(), 1);
        assert_eq!(ti.num_pieces(), 3);
        assert_eq!(ti.piece_size(2), 40000 - 2 * 16384);
        assert_eq!(ti.hash_for_piece(1), Sha1Hash([7u8; 20]));
        assert_eq!(ti.trackers().len(), 1);
        let doc = lt_bencode::decode(&buf).unwrap();
        let info = doc.root().get(b"info").unwrap().raw();
        assert_eq!(ti.info_section(), info);
        assert_eq!(ti.info_hashes(), InfoHash::from_v1(Sha1Hash::digest(info)));
    }

    #[test]
    fn v1_errors() {
        assert_eq!(
            TorrentInfo::from_bytes(&single(40000, 16384, 2).encode()).unwrap_err(),
            MetainfoError::InvalidHashes
        );
        assert_eq!(
            TorrentInfo::from_bytes(&single(40000, 0, 3).encode()).unwrap_err(),
            MetainfoError::MissingPieceLength
        );
        assert_eq!(
            TorrentInfo::from_bytes(&single(-1, 16384, 3).encode()).unwrap_err(),
            MetainfoError::InvalidLength
        );
        assert_eq!(
            TorrentInfo::from_bytes(b"li1ee").unwrap_err(),
            MetainfoError::NotADictionary
        );
        assert_eq!(
            TorrentInfo::from_bytes(b"de").unwrap_err(),
            MetainfoError::MissingInfo
        );
        assert_eq!(
            TorrentInfo::from_bytes(b"d4:info").unwrap_err(),
            MetainfoError::Bdecode(crate::BdecodeError::UnexpectedEof)
        );
        let lim = LoadLimits {
            max_pieces: 2,
            ..Default::default()
        };
        assert_eq!(
            TorrentInfo::from_bytes_with(&single(40000, 16384, 3).encode(), &lim).unwrap_err(),
            MetainfoError::TooManyPieces
        );
    }

    #[test]
    fn hostile_paths_stay_inside() {
        let ti = TorrentInfo::from_bytes(
            &multi(vec![
                vec![b"..", b"..", b"etc", b"passwd"],
                vec![b"/abs", b"x"],
                vec![b"a/b", b"c\\d"],
                vec![b"", b"."],
            ])
            .encode(),
        )
        .unwrap();
        let paths: Vec<String> = ti
            .files()
            .file_range()
            .map(|i| ti.files().file_path(i, ""))
            .collect();
        assert_eq!(
            paths,
            vec!["top/_/_/etc/passwd", "top/abs/x", "top/ab/cd", "top/_/_"]
        );
        for p in &paths {
            assert!(
                p.starts_with("top/")
                    && !p.split('/').any(|e| e == ".." || e == "." || e.is_empty())
            );
        }
    }

    /// A v2 torrent of one 40,000 byte file with 16 KiB pieces, its root
    /// and piece layer computed here.
    fn v2_torrent(corrupt_layer: bool) -> Vec<u8> {
        let data: Vec<u8> = (0..40000u32).map(|i| (i * 7 % 251) as u8).collect();
        let blocks: Vec<Sha256Hash> = data.chunks(16384).map(Sha256Hash::digest).collect();
        let root = crate::merkle::merkle_root(&blocks, 4, 0);
        let mut layer: Vec<u8> = blocks.iter().flat_map(|h| h.0).collect();
        if corrupt_layer {
            layer[0] ^= 1;
        }
        d(vec![
            (
                b"info",
                d(vec![
                    (b"name", b(b"v2")),
                    (b"meta version", Value::Int(2)),
                    (b"piece length", Value::Int(16384)),
                    (
                        b"file tree",
                        d(vec![(
                            b"f.bin",
                            d(vec![(
                                b"",
                                d(vec![
                                    (b"length", Value::Int(40000)),
                                    (b"pieces root", b(&root.0)),
                                ]),
                            )]),
                        )]),
                    ),
                ]),
            ),
            (b"piece layers", d(vec![(&root.0[..], b(&layer))])),
        ])
        .encode()
    }

    #[test]
    fn v2_layers_are_verified() {
        let ti = TorrentInfo::from_bytes(&v2_torrent(false)).unwrap();
        assert!(ti.info_hashes().has_v2() && !ti.info_hashes().has_v1());
        assert_eq!(ti.num_files(), 2, "a tail pad file is added");
        assert!(ti.files().pad_file_at(1));
        assert_eq!(ti.total_size(), 3 * 16384);
        assert_eq!(ti.piece_layer(0).len(), 3 * 32);
        assert_eq!(
            TorrentInfo::from_bytes(&v2_torrent(true)).unwrap_err(),
            MetainfoError::InvalidPieceLayer
        );
    }

    #[test]
    fn damaged_input_never_panics() {
        let bufs = [
            single(40000, 16384, 3).encode(),
            v2_torrent(false),
            multi(vec![vec![b"a"], vec![b"b"]]).encode(),
        ];
        let mut seed: u32 = 12345;
        for buf in &bufs {
            for cut in 0..buf.len() {
                let _ = TorrentInfo::from_bytes(&buf[..cut]);
            }
            for _ in 0..2000 {
                let mut m = buf.clone();
                for _ in 0..3 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let pos = (seed >> 8) as usize % m.len();
                    m[pos] = (seed >> 3) as u8;
                }
                let _ = TorrentInfo::from_bytes(&m);
            }
        }
    }
}
