//! Creating `.torrent` files: laying files out (canonical order, pad files,
//! automatic piece size), collecting piece hashes and writing the metainfo
//! dictionary, v1, v2 (BEP 52) or hybrid.
//!
//! The file list itself is a [`FileStorage`]; [`CreateTorrent`] holds
//! everything else (hashes, trackers, comment, ...) and takes the storage as
//! an argument where it needs it, so a caller can keep the storage wherever it
//! likes (the Python binding shares it with a `file_storage` object).

use std::collections::BTreeMap;
use std::path::Path;

use lt_bencode::Value;
use lt_core::{Sha1Hash, Sha256Hash};

use crate::file_storage::{FileFlags, FileStorage};
use crate::hasher::{self, FileTree, HashError, HashFile, HashOutput, HashRequest};
use crate::torrent_info::{TorrentInfo, WebSeedKind};

/// Flags of [`CreateTorrent`] (libtorrent's `create_flags_t`).
pub mod flags {
    /// Deprecated, no effect.
    pub const OPTIMIZE_ALIGNMENT: u32 = 1;
    /// Deprecated, no effect.
    pub const MERKLE: u32 = 2;
    /// Include file modification times (`mtime`).
    pub const MODIFICATION_TIME: u32 = 4;
    /// Store symlinks as symlinks instead of following them.
    pub const SYMLINKS: u32 = 8;
    /// A v2-only torrent.
    pub const V2_ONLY: u32 = 32;
    /// A v1-only torrent.
    pub const V1_ONLY: u32 = 64;
    /// Sort files and pad them to piece boundaries even for v1-only.
    pub const CANONICAL_FILES: u32 = 128;
    /// `list_files`: do not record file attributes (executable, symlink).
    pub const NO_ATTRIBUTES: u32 = 256;
    /// Like `CANONICAL_FILES` but without a pad file after the last file.
    pub const CANONICAL_FILES_NO_TAIL_PADDING: u32 = 512;
}

/// Largest piece size accepted.
pub const MAX_PIECE_SIZE: i32 = 128 * 1024 * 1024;

/// One file to put in a torrent (libtorrent's `create_file_entry`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CreateFileEntry {
    /// Path with `/` separators, its first element being the torrent name.
    pub path: String,
    pub size: i64,
    pub flags: FileFlags,
    pub mtime: i64,
    /// Symlink target relative to the torrent's top directory.
    pub symlink: String,
}

/// Errors of torrent creation, with libtorrent's error codes.
#[derive(Debug)]
pub enum CreateError {
    /// `invalid piece size` (libtorrent 48).
    InvalidPieceSize,
    /// `invalid length of torrent` (libtorrent 9): the files add up to zero
    /// bytes, or too many.
    InvalidLength,
    /// `no files in torrent` (libtorrent 16).
    NoFiles,
    /// `missing or invalid 'hash' entry` (libtorrent 175): generate() before
    /// every piece was hashed.
    MissingHash,
    /// A piece index out of range.
    InvalidPieceIndex,
    /// A file index out of range.
    FileIndexOutOfRange,
    /// `file too short` (libtorrent 23) while hashing.
    FileTooShort,
    /// A file could not be read while hashing.
    Io(std::io::Error),
    /// The progress callback stopped hashing.
    Aborted,
}

impl CreateError {
    /// libtorrent's message for the error.
    pub fn message(&self) -> String {
        match self {
            CreateError::InvalidPieceSize => "invalid piece size".into(),
            CreateError::InvalidLength => "invalid length of torrent".into(),
            CreateError::NoFiles => "no files in torrent".into(),
            CreateError::MissingHash => "missing or invalid 'hash' entry".into(),
            CreateError::InvalidPieceIndex => "invalid piece index".into(),
            CreateError::FileIndexOutOfRange => "file index out of range".into(),
            CreateError::FileTooShort => "file too short".into(),
            CreateError::Io(e) => e.to_string(),
            CreateError::Aborted => "aborted".into(),
        }
    }

    /// `(category, value)` of the libtorrent error code, when it has one.
    pub fn code(&self) -> Option<(&'static str, i32)> {
        Some(match self {
            CreateError::InvalidPieceSize => ("libtorrent", 48),
            CreateError::InvalidLength => ("libtorrent", 9),
            CreateError::NoFiles => ("libtorrent", 16),
            CreateError::MissingHash => ("libtorrent", 175),
            CreateError::FileTooShort => ("libtorrent", 23),
            _ => return None,
        })
    }
}

impl std::fmt::Display for CreateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for CreateError {}

impl From<HashError> for CreateError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Io { error, .. } => CreateError::Io(error),
            HashError::FileTooShort { .. } => CreateError::FileTooShort,
            HashError::Aborted => CreateError::Aborted,
            HashError::Invalid(_) => CreateError::InvalidPieceSize,
        }
    }
}

/// The piece size libtorrent picks for `total` bytes when asked for an
/// automatic one: 16 KiB up to about 2.7 MB, doubling every time the size
/// quadruples (the threshold for `16 KiB << i` is `4^(14+i) / 100`,
/// rounded), at most 16 MiB.
pub fn auto_piece_size(total: i64) -> i32 {
    for i in 0..10u32 {
        let limit = ((1i64 << (28 + 2 * i)) + 50) / 100;
        if total <= limit {
            return (16 * 1024) << i;
        }
    }
    16 * 1024 * 1024
}

/// Resolves the piece size asked for: 0 is automatic; v2 and hybrid round
/// anything below 16 KiB up to 16 KiB and need a power of two; v1 accepts a
/// power of two or a multiple of 16 KiB. At most [`MAX_PIECE_SIZE`].
pub fn resolve_piece_size(
    piece_size: i32,
    total: i64,
    create_flags: u32,
) -> Result<i32, CreateError> {
    if piece_size == 0 {
        return Ok(auto_piece_size(total));
    }
    let v2 = create_flags & flags::V1_ONLY == 0;
    let ps = if v2 {
        piece_size.max(16 * 1024)
    } else {
        piece_size
    };
    // negative sizes are refused (libtorrent lets a negative multiple of
    // 16 KiB through for v1, which cannot describe a torrent)
    let ok = ps > 0
        && ps <= MAX_PIECE_SIZE
        && if v2 {
            (ps as u32).is_power_of_two()
        } else {
            (ps as u32).is_power_of_two() || ps % (16 * 1024) == 0
        };
    if ok {
        Ok(ps)
    } else {
        Err(CreateError::InvalidPieceSize)
    }
}

/// Whether files are sorted and padded for these flags.
fn canonical(create_flags: u32) -> bool {
    create_flags & flags::V1_ONLY == 0
        || create_flags & (flags::CANONICAL_FILES | flags::CANONICAL_FILES_NO_TAIL_PADDING) != 0
}

/// Builds the file layout of a new torrent from `entries`: resolves the
/// piece size, and for v2/hybrid (or with a `canonical_files` flag) sorts
/// the files by path and aligns every file to a piece boundary with pad
/// files (after each file, or with `CANONICAL_FILES_NO_TAIL_PADDING` before
/// each non-empty file that needs it). Symlink attributes are kept only
/// with [`flags::SYMLINKS`].
pub fn layout_files(
    entries: &[CreateFileEntry],
    piece_size: i32,
    create_flags: u32,
) -> Result<FileStorage, CreateError> {
    if entries.is_empty() {
        return Err(CreateError::NoFiles);
    }
    let mut total: i64 = 0;
    for e in entries {
        if e.size < 0 {
            return Err(CreateError::InvalidLength);
        }
        total = total
            .checked_add(e.size)
            .ok_or(CreateError::InvalidLength)?;
    }
    if total == 0 {
        return Err(CreateError::InvalidLength);
    }
    let pl = resolve_piece_size(piece_size, total, create_flags)?;
    let pl64 = i64::from(pl);

    let mut order: Vec<&CreateFileEntry> = entries.iter().collect();
    let canon = canonical(create_flags);
    if canon {
        order.retain(|e| !e.flags.contains(FileFlags::PAD_FILE));
        order.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    }
    let tail_padding = create_flags & flags::CANONICAL_FILES_NO_TAIL_PADDING == 0;
    let single = order.len() == 1;

    let mut fs = FileStorage::new();
    let add_err = |_| CreateError::InvalidLength;
    for e in &order {
        let mut fl = e.flags;
        if create_flags & flags::SYMLINKS == 0 {
            fl = FileFlags(fl.0 & !FileFlags::SYMLINK.0);
        }
        if canon && !tail_padding && e.size > 0 {
            let misalign = fs.total_size() % pl64;
            if misalign != 0 {
                fs.add_pad_file(pl64 - misalign).map_err(add_err)?;
            }
        }
        fs.add_file(&e.path, e.size, fl, e.mtime, &e.symlink)
            .map_err(add_err)?;
        if canon && tail_padding && !single && e.size > 0 {
            let misalign = fs.total_size() % pl64;
            if misalign != 0 {
                fs.add_pad_file(pl64 - misalign).map_err(add_err)?;
            }
        }
    }
    fs.set_piece_length(pl);
    fs.compute_num_pieces();
    fs.set_v2(create_flags & flags::V1_ONLY == 0);
    Ok(fs)
}

/// The files of `fs` as creation entries (the inverse of [`layout_files`],
/// pad files included).
pub fn entries_of(fs: &FileStorage) -> Vec<CreateFileEntry> {
    (0..fs.num_files())
        .map(|i| CreateFileEntry {
            path: fs.file_path(i, ""),
            size: fs.file_size(i),
            flags: fs.file_flags(i),
            mtime: fs.mtime(i),
            symlink: fs.raw_symlink(i).unwrap_or("").to_owned(),
        })
        .collect()
}

/// Everything about a torrent being created except its files.
#[derive(Clone, Debug)]
pub struct CreateTorrent {
    flags: u32,
    piece_length: i32,
    num_pieces: i32,
    piece_hashes: Vec<Option<Sha1Hash>>,
    file_hashes: Vec<Option<Sha1Hash>>,
    trees: Vec<Option<FileTree>>,
    trackers: Vec<(String, i32)>,
    url_seeds: Vec<String>,
    http_seeds: Vec<String>,
    nodes: Vec<(String, i32)>,
    collections: Vec<String>,
    similar: Vec<Sha1Hash>,
    comment: String,
    creator: String,
    creation_date: i64,
    private: bool,
    root_cert: Vec<u8>,
    /// The info dictionary of an existing torrent, written verbatim (set
    /// by [`CreateTorrent::from_torrent_info`]).
    raw_info: Option<Vec<u8>>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Splits a path on `/`, skipping empty elements.
fn components(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|c| !c.is_empty())
}

fn bytes(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

fn dict() -> BTreeMap<Vec<u8>, Value> {
    BTreeMap::new()
}

impl CreateTorrent {
    /// State for a torrent over `fs`, laid out by [`layout_files`] (or an
    /// equivalent storage with its piece length set). The creation date is
    /// now.
    pub fn new(fs: &FileStorage, create_flags: u32) -> Self {
        CreateTorrent {
            flags: create_flags,
            piece_length: fs.piece_length(),
            num_pieces: fs.num_pieces(),
            piece_hashes: vec![None; fs.num_pieces().max(0) as usize],
            file_hashes: vec![None; fs.num_files()],
            trees: vec![None; fs.num_files()],
            trackers: Vec::new(),
            url_seeds: Vec::new(),
            http_seeds: Vec::new(),
            nodes: Vec::new(),
            collections: Vec::new(),
            similar: Vec::new(),
            comment: String::new(),
            creator: String::new(),
            creation_date: now_secs(),
            private: false,
            root_cert: Vec::new(),
            raw_info: None,
        }
    }

    /// A creator that re-creates an existing torrent: its files, v1 piece
    /// hashes, trackers, web seeds, nodes, comment, creator, creation date
    /// and private flag, v2 piece layers; the info dictionary is written
    /// back byte for byte. When a file's piece layer is missing from `ti`
    /// the piece layers are left out (v2-only: `MissingHash`), as libtorrent
    /// does.
    pub fn from_torrent_info(ti: &TorrentInfo) -> (FileStorage, CreateTorrent) {
        let fs = ti.files().clone();
        let mut fl = 0;
        if !ti.v2() {
            fl |= flags::V1_ONLY;
        }
        if !ti.v1() {
            fl |= flags::V2_ONLY;
        }
        let mut ct = CreateTorrent::new(&fs, fl);
        if ti.has_v1_hashes() {
            for p in 0..ct.num_pieces {
                if let Some(slot) = ct.piece_hashes.get_mut(p as usize) {
                    *slot = Some(ti.hash_for_piece(p));
                }
            }
        }
        for t in ti.trackers() {
            ct.add_tracker(&t.url, i32::from(t.tier));
        }
        for w in ti.web_seeds() {
            match w.kind {
                WebSeedKind::UrlSeed => ct.add_url_seed(&w.url),
                WebSeedKind::HttpSeed => ct.add_http_seed(&w.url),
            }
        }
        for (h, port) in ti.nodes() {
            ct.add_node(h, (*port).clamp(0, i64::from(i32::MAX)) as i32);
        }
        ct.comment = ti.comment().to_owned();
        ct.creator = ti.creator().to_owned();
        ct.creation_date = ti.creation_date();
        ct.private = ti.private();
        if ti.v2() {
            let pl = i64::from(fs.piece_length()).max(1);
            for i in 0..fs.num_files() {
                let size = fs.file_size(i);
                if fs.pad_file_at(i) || size <= pl {
                    continue;
                }
                // libtorrent files a piece layer under the first file with
                // its root only, so a second file with the same content has
                // none (and the layers are then left out, see generate)
                if fs.file_index_for_root(&fs.root(i)) != Some(i) {
                    continue;
                }
                let layer = ti.piece_layer(i);
                let want = ((size + pl - 1) / pl) as usize * 32;
                if layer.len() != want {
                    continue;
                }
                let piece_layer = layer
                    .chunks_exact(32)
                    .filter_map(|c| Sha256Hash::from_slice(c).ok())
                    .collect();
                if let Some(slot) = ct.trees.get_mut(i) {
                    *slot = Some(FileTree {
                        root: fs.root(i),
                        piece_layer,
                    });
                }
            }
        }
        ct.raw_info = Some(ti.info_section().to_vec());
        (fs, ct)
    }

    /// The verbatim info dictionary of a torrent re-created from a
    /// [`TorrentInfo`].
    pub fn raw_info(&self) -> Option<&[u8]> {
        self.raw_info.as_deref()
    }

    /// The bencoded torrent (what [`generate`](Self::generate) gives,
    /// encoded, with a verbatim info dictionary when there is one).
    pub fn generate_buf(&self, fs: &FileStorage) -> Result<Vec<u8>, CreateError> {
        let Value::Dict(top) = self.generate(fs)? else {
            return Err(CreateError::MissingHash);
        };
        let mut out = Vec::new();
        out.push(b'd');
        for (k, v) in &top {
            Value::Bytes(k.clone()).encode_into(&mut out);
            match (&self.raw_info, k.as_slice()) {
                (Some(raw), b"info") => out.extend_from_slice(raw),
                _ => v.encode_into(&mut out),
            }
        }
        out.push(b'e');
        Ok(out)
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }
    /// Has v1 metadata (not v2-only).
    pub fn is_v1(&self) -> bool {
        self.flags & flags::V2_ONLY == 0
    }
    /// Has v2 metadata (not v1-only).
    pub fn is_v2(&self) -> bool {
        self.flags & flags::V1_ONLY == 0
    }
    pub fn piece_length(&self) -> i32 {
        self.piece_length
    }
    pub fn num_pieces(&self) -> i32 {
        self.num_pieces
    }

    pub fn add_tracker(&mut self, url: &str, tier: i32) {
        self.trackers.push((url.to_owned(), tier));
    }
    pub fn add_url_seed(&mut self, url: &str) {
        self.url_seeds.push(url.to_owned());
    }
    /// Recorded, but like libtorrent 2.1 not written to the torrent (BEP 17
    /// `httpseeds` is obsolete).
    pub fn add_http_seed(&mut self, url: &str) {
        self.http_seeds.push(url.to_owned());
    }
    pub fn http_seeds(&self) -> &[String] {
        &self.http_seeds
    }
    pub fn add_node(&mut self, host: &str, port: i32) {
        self.nodes.push((host.to_owned(), port));
    }
    pub fn add_collection(&mut self, c: &str) {
        self.collections.push(c.to_owned());
    }
    pub fn add_similar_torrent(&mut self, ih: Sha1Hash) {
        self.similar.push(ih);
    }
    pub fn set_comment(&mut self, c: &str) {
        self.comment = c.to_owned();
    }
    pub fn set_creator(&mut self, c: &str) {
        self.creator = c.to_owned();
    }
    pub fn set_creation_date(&mut self, t: i64) {
        self.creation_date = t;
    }
    pub fn set_priv(&mut self, p: bool) {
        self.private = p;
    }
    pub fn is_private(&self) -> bool {
        self.private
    }
    pub fn set_root_cert(&mut self, pem: &[u8]) {
        self.root_cert = pem.to_vec();
    }

    /// Sets the v1 SHA-1 of `piece`.
    pub fn set_hash(&mut self, piece: i32, h: Sha1Hash) -> Result<(), CreateError> {
        let slot = usize::try_from(piece)
            .ok()
            .and_then(|p| self.piece_hashes.get_mut(p))
            .ok_or(CreateError::InvalidPieceIndex)?;
        *slot = Some(h);
        Ok(())
    }
    /// The v1 SHA-1 of `piece`, if set.
    pub fn hash(&self, piece: i32) -> Option<Sha1Hash> {
        usize::try_from(piece)
            .ok()
            .and_then(|p| self.piece_hashes.get(p).copied().flatten())
    }
    /// Sets the optional per-file SHA-1 (`sha1` key).
    pub fn set_file_hash(&mut self, file: usize, h: Sha1Hash) -> Result<(), CreateError> {
        let slot = self
            .file_hashes
            .get_mut(file)
            .ok_or(CreateError::FileIndexOutOfRange)?;
        *slot = Some(h);
        Ok(())
    }
    /// Sets the v2 merkle tree of `file`.
    pub fn set_file_tree(&mut self, file: usize, tree: FileTree) -> Result<(), CreateError> {
        let slot = self
            .trees
            .get_mut(file)
            .ok_or(CreateError::FileIndexOutOfRange)?;
        *slot = Some(tree);
        Ok(())
    }
    /// The v2 merkle tree of `file`, if computed.
    pub fn file_tree(&self, file: usize) -> Option<&FileTree> {
        self.trees.get(file).and_then(|t| t.as_ref())
    }

    /// Size of `piece` in bytes.
    pub fn piece_size(&self, fs: &FileStorage, piece: i32) -> Result<i32, CreateError> {
        if piece < 0 || piece >= self.num_pieces {
            return Err(CreateError::InvalidPieceIndex);
        }
        Ok(fs.piece_size(piece))
    }

    /// What to hash to fill in every hash, reading files below `base`.
    pub fn hash_request(&self, fs: &FileStorage, base: &Path, threads: usize) -> HashRequest {
        let files = (0..fs.num_files())
            .map(|i| {
                let pad = fs.pad_file_at(i);
                let symlink = fs.file_flags(i).contains(FileFlags::SYMLINK);
                HashFile {
                    path: if pad {
                        Default::default()
                    } else {
                        base.join(fs.file_path(i, ""))
                    },
                    size: if symlink {
                        0
                    } else {
                        fs.file_size(i).max(0) as u64
                    },
                    pad,
                }
            })
            .collect();
        HashRequest {
            files,
            piece_length: self.piece_length.max(0) as u64,
            v1: self.is_v1(),
            v2: self.is_v2(),
            threads,
        }
    }

    /// Stores the result of hashing.
    pub fn apply_hashes(&mut self, out: HashOutput) {
        for (slot, h) in self.piece_hashes.iter_mut().zip(out.v1) {
            *slot = Some(h);
        }
        for (slot, t) in self.trees.iter_mut().zip(out.v2) {
            if t.is_some() {
                *slot = t;
            }
        }
    }

    /// Reads the files below `base` and sets every hash. `progress` is
    /// called once per piece on this thread; returning `false` stops.
    pub fn set_piece_hashes(
        &mut self,
        fs: &FileStorage,
        base: &Path,
        threads: usize,
        progress: impl FnMut(u64) -> bool,
    ) -> Result<(), CreateError> {
        let req = self.hash_request(fs, base, threads);
        let out = hasher::hash_files(&req, progress)?;
        self.apply_hashes(out);
        Ok(())
    }

    /// The `attr` string of a file, when it gets one.
    fn attr(fs: &FileStorage, i: usize) -> Option<Value> {
        let f = fs.file_flags(i);
        let mut a = String::new();
        if f.contains(FileFlags::PAD_FILE) {
            a.push('p');
        }
        if f.contains(FileFlags::HIDDEN) {
            a.push('h');
        }
        if f.contains(FileFlags::EXECUTABLE) {
            a.push('x');
        }
        if f.contains(FileFlags::SYMLINK) {
            a.push('l');
        }
        if a.is_empty() && fs.raw_symlink(i).is_none() {
            None
        } else {
            Some(bytes(&a))
        }
    }

    fn symlink_path(fs: &FileStorage, i: usize) -> Option<Value> {
        if !fs.file_flags(i).contains(FileFlags::SYMLINK) {
            return None;
        }
        let target = fs.raw_symlink(i)?;
        Some(Value::List(components(target).map(bytes).collect()))
    }

    fn mtime(&self, fs: &FileStorage, i: usize) -> Option<Value> {
        let t = fs.mtime(i);
        (self.flags & flags::MODIFICATION_TIME != 0 && t != 0 && !fs.pad_file_at(i))
            .then_some(Value::Int(t))
    }

    /// Whether the torrent has the single-file layout (one file, no
    /// directory).
    fn single_file(fs: &FileStorage) -> bool {
        fs.num_files() == 1 && !fs.file_path(0, "").contains('/')
    }

    /// Path elements of file `i` below the torrent name.
    fn rel_path(fs: &FileStorage, i: usize) -> Vec<String> {
        let p = fs.file_path(i, "");
        if Self::single_file(fs) {
            return vec![p];
        }
        components(&p).skip(1).map(str::to_owned).collect()
    }

    /// The v1 keys describing file `i` (`attr`, `length`, `mtime`, `sha1`,
    /// `symlink path`; `path` added by the caller).
    fn v1_file_keys(&self, fs: &FileStorage, i: usize, d: &mut BTreeMap<Vec<u8>, Value>) {
        if let Some(a) = Self::attr(fs, i) {
            d.insert(b"attr".to_vec(), a);
        }
        let symlink = fs.file_flags(i).contains(FileFlags::SYMLINK);
        d.insert(
            b"length".to_vec(),
            Value::Int(if symlink { 0 } else { fs.file_size(i) }),
        );
        if let Some(t) = self.mtime(fs, i) {
            d.insert(b"mtime".to_vec(), t);
        }
        if let Some(Some(h)) = self.file_hashes.get(i) {
            d.insert(b"sha1".to_vec(), Value::Bytes(h.0.to_vec()));
        }
        if let Some(s) = Self::symlink_path(fs, i) {
            d.insert(b"symlink path".to_vec(), s);
        }
    }

    /// The metainfo dictionary. Fails with [`CreateError::MissingHash`]
    /// until every hash it needs is set. A hybrid creator given only v1
    /// piece hashes (no file's v2 tree) makes a v1 torrent, as libtorrent
    /// does (`set_hash` alone, as the Python bindings offer).
    pub fn generate(&self, fs: &FileStorage) -> Result<Value, CreateError> {
        if fs.num_files() == 0 {
            return Err(CreateError::NoFiles);
        }
        let v1 = self.is_v1();
        let v2 = self.is_v2()
            && !(v1 && self.raw_info.is_none() && self.trees.iter().all(Option::is_none));
        let mut info = dict();
        let mut top = dict();
        if let Some(raw) = &self.raw_info {
            // a re-created torrent: the info dictionary as it was, and the
            // piece layers carried over when every file that needs one has
            // it (a v2-only torrent cannot do without them)
            if v2 {
                let mut layers = dict();
                let mut complete = true;
                let pl = i64::from(self.piece_length).max(1);
                for i in 0..fs.num_files() {
                    if fs.pad_file_at(i) || fs.file_size(i) <= pl {
                        continue;
                    }
                    match self.trees.get(i).and_then(|t| t.as_ref()) {
                        Some(t) => {
                            let mut layer = Vec::with_capacity(t.piece_layer.len() * 32);
                            for h in &t.piece_layer {
                                layer.extend_from_slice(&h.0);
                            }
                            layers.insert(t.root.0.to_vec(), Value::Bytes(layer));
                        }
                        None => complete = false,
                    }
                }
                if complete {
                    top.insert(b"piece layers".to_vec(), Value::Dict(layers));
                } else if !v1 {
                    return Err(CreateError::MissingHash);
                }
            }
            let doc = lt_bencode::decode(raw).map_err(|_| CreateError::MissingHash)?;
            top.insert(b"info".to_vec(), doc.root().to_value());
            self.add_top_level(&mut top);
            return Ok(Value::Dict(top));
        }

        if v1 {
            let mut pieces = Vec::with_capacity(self.piece_hashes.len() * 20);
            for h in &self.piece_hashes {
                // As libtorrent, an all-zero hash counts as missing.
                let h = h.filter(|h| h.0 != [0; 20]);
                pieces.extend_from_slice(&h.ok_or(CreateError::MissingHash)?.0);
            }
            info.insert(b"pieces".to_vec(), Value::Bytes(pieces));
            if Self::single_file(fs) {
                self.v1_file_keys(fs, 0, &mut info);
            } else {
                let mut files = Vec::with_capacity(fs.num_files());
                for i in 0..fs.num_files() {
                    let mut d = dict();
                    self.v1_file_keys(fs, i, &mut d);
                    let path = Self::rel_path(fs, i).iter().map(|c| bytes(c)).collect();
                    d.insert(b"path".to_vec(), Value::List(path));
                    files.push(Value::Dict(d));
                }
                info.insert(b"files".to_vec(), Value::List(files));
            }
        }

        if v2 {
            let mut tree = dict();
            let mut layers = dict();
            for i in 0..fs.num_files() {
                if fs.pad_file_at(i) {
                    continue;
                }
                let mut d = dict();
                if let Some(a) = Self::attr(fs, i) {
                    d.insert(b"attr".to_vec(), a);
                }
                let symlink = fs.file_flags(i).contains(FileFlags::SYMLINK);
                if !symlink {
                    d.insert(b"length".to_vec(), Value::Int(fs.file_size(i)));
                }
                if let Some(t) = self.mtime(fs, i) {
                    d.insert(b"mtime".to_vec(), t);
                }
                if !symlink && fs.file_size(i) > 0 {
                    let t = self
                        .trees
                        .get(i)
                        .and_then(|t| t.as_ref())
                        .ok_or(CreateError::MissingHash)?;
                    d.insert(b"pieces root".to_vec(), Value::Bytes(t.root.0.to_vec()));
                    if !t.piece_layer.is_empty() {
                        let mut layer = Vec::with_capacity(t.piece_layer.len() * 32);
                        for h in &t.piece_layer {
                            layer.extend_from_slice(&h.0);
                        }
                        layers.insert(t.root.0.to_vec(), Value::Bytes(layer));
                    }
                }
                if let Some(s) = Self::symlink_path(fs, i) {
                    d.insert(b"symlink path".to_vec(), s);
                }
                let mut leaf = dict();
                leaf.insert(Vec::new(), Value::Dict(d));
                insert_tree(&mut tree, &Self::rel_path(fs, i), Value::Dict(leaf));
            }
            info.insert(b"file tree".to_vec(), Value::Dict(tree));
            info.insert(b"meta version".to_vec(), Value::Int(2));
            top.insert(b"piece layers".to_vec(), Value::Dict(layers));
        }

        info.insert(b"name".to_vec(), bytes(fs.name()));
        info.insert(
            b"piece length".to_vec(),
            Value::Int(i64::from(self.piece_length)),
        );
        if self.private {
            info.insert(b"private".to_vec(), Value::Int(1));
        }
        if !self.collections.is_empty() {
            info.insert(
                b"collections".to_vec(),
                Value::List(self.collections.iter().map(|c| bytes(c)).collect()),
            );
        }
        if !self.similar.is_empty() {
            info.insert(
                b"similar".to_vec(),
                Value::List(
                    self.similar
                        .iter()
                        .map(|h| Value::Bytes(h.0.to_vec()))
                        .collect(),
                ),
            );
        }
        if !self.root_cert.is_empty() {
            info.insert(b"ssl-cert".to_vec(), Value::Bytes(self.root_cert.clone()));
        }
        top.insert(b"info".to_vec(), Value::Dict(info));
        self.add_top_level(&mut top);
        Ok(Value::Dict(top))
    }

    /// The keys outside the info dictionary.
    fn add_top_level(&self, top: &mut BTreeMap<Vec<u8>, Value>) {
        if !self.trackers.is_empty() {
            let mut sorted = self.trackers.clone();
            sorted.sort_by_key(|t| t.1); // stable: keeps insertion order per tier
            top.insert(b"announce".to_vec(), bytes(&sorted[0].0));
            if sorted.len() > 1 {
                let mut tiers: Vec<Value> = Vec::new();
                let mut current: Vec<Value> = Vec::new();
                let mut tier = sorted[0].1;
                for (url, t) in &sorted {
                    if *t != tier && !current.is_empty() {
                        tiers.push(Value::List(std::mem::take(&mut current)));
                    }
                    tier = *t;
                    current.push(bytes(url));
                }
                tiers.push(Value::List(current));
                top.insert(b"announce-list".to_vec(), Value::List(tiers));
            }
        }
        if !self.comment.is_empty() {
            top.insert(b"comment".to_vec(), bytes(&self.comment));
        }
        if !self.creator.is_empty() {
            top.insert(b"created by".to_vec(), bytes(&self.creator));
        }
        if self.creation_date != 0 {
            top.insert(b"creation date".to_vec(), Value::Int(self.creation_date));
        }
        if !self.nodes.is_empty() {
            let nodes = self
                .nodes
                .iter()
                .map(|(h, p)| Value::List(vec![bytes(h), Value::Int(i64::from(*p))]))
                .collect();
            top.insert(b"nodes".to_vec(), Value::List(nodes));
        }
        match self.url_seeds.len() {
            0 => {}
            1 => {
                top.insert(b"url-list".to_vec(), bytes(&self.url_seeds[0]));
            }
            _ => {
                top.insert(
                    b"url-list".to_vec(),
                    Value::List(self.url_seeds.iter().map(|u| bytes(u)).collect()),
                );
            }
        }
    }
}

/// Inserts `leaf` at `path` in a nested `file tree` dictionary.
fn insert_tree(tree: &mut BTreeMap<Vec<u8>, Value>, path: &[String], leaf: Value) {
    let Some((last, dirs)) = path.split_last() else {
        return;
    };
    let mut node = tree;
    for d in dirs {
        let entry = node
            .entry(d.as_bytes().to_vec())
            .or_insert_with(|| Value::Dict(dict()));
        if !matches!(entry, Value::Dict(_)) {
            *entry = Value::Dict(dict());
        }
        node = match entry {
            Value::Dict(m) => m,
            _ => return,
        };
    }
    node.insert(last.as_bytes().to_vec(), leaf);
}

/// Lists the files below `root` the way libtorrent's `list_files` does:
/// depth first in directory order, each path starting with the last element
/// of `root`. `pred` gets the absolute path of every file and directory and
/// can skip it (a skipped directory is not entered). Symlinks are followed
/// unless [`flags::SYMLINKS`] is set; then a link is recorded with its
/// target relative to the torrent's top directory, and a link pointing
/// outside of it is left out. [`flags::NO_ATTRIBUTES`] records no
/// executable or symlink attribute. A `root` that does not exist gives an
/// empty list.
pub fn list_files(
    root: &Path,
    create_flags: u32,
    mut pred: impl FnMut(&str) -> bool,
) -> Vec<CreateFileEntry> {
    let mut out = Vec::new();
    let abs = if root.is_absolute() {
        root.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(root))
            .unwrap_or_else(|_| root.to_path_buf())
    };
    let abs_str = abs.to_string_lossy();
    let abs_str = abs_str.trim_end_matches('/');
    let abs = Path::new(if abs_str.is_empty() { "/" } else { abs_str }).to_path_buf();
    let Some(name) = abs.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return out;
    };
    let mut ctx = ListCtx {
        flags: create_flags,
        top: abs.clone(),
        pred: &mut pred,
        out: &mut out,
    };
    ctx.visit(&abs, &name, 0);
    out
}

struct ListCtx<'a, P: FnMut(&str) -> bool> {
    flags: u32,
    top: std::path::PathBuf,
    pred: &'a mut P,
    out: &'a mut Vec<CreateFileEntry>,
}

/// Maximum directory depth walked (guards against cycles through followed
/// directory symlinks).
const MAX_LIST_DEPTH: usize = 256;

impl<P: FnMut(&str) -> bool> ListCtx<'_, P> {
    fn visit(&mut self, abs: &Path, rel: &str, depth: usize) {
        if depth > MAX_LIST_DEPTH || !(self.pred)(&abs.to_string_lossy()) {
            return;
        }
        let symlinks = self.flags & flags::SYMLINKS != 0;
        let attrs = self.flags & flags::NO_ATTRIBUTES == 0;
        let Ok(lmeta) = std::fs::symlink_metadata(abs) else {
            return;
        };
        if symlinks && lmeta.file_type().is_symlink() {
            if !attrs {
                self.push(rel, &lmeta, FileFlags::NONE, String::new());
                return;
            }
            let Ok(target) = std::fs::read_link(abs) else {
                return;
            };
            let Some(rel_target) = self.link_target(abs, &target) else {
                return;
            };
            let mut fl = FileFlags::SYMLINK;
            if is_executable(&lmeta) {
                fl |= FileFlags::EXECUTABLE;
            }
            self.out.push(CreateFileEntry {
                path: rel.to_owned(),
                size: 0,
                flags: fl,
                mtime: mtime_of(&lmeta),
                symlink: rel_target,
            });
            return;
        }
        let Ok(meta) = std::fs::metadata(abs) else {
            return;
        };
        if meta.is_dir() {
            let Ok(rd) = std::fs::read_dir(abs) else {
                return;
            };
            for ent in rd.flatten() {
                let name = ent.file_name();
                let name = name.to_string_lossy();
                let child_rel = format!("{rel}/{name}");
                self.visit(&abs.join(&*name), &child_rel, depth + 1);
            }
        } else {
            let fl = if attrs && is_executable(&meta) {
                FileFlags::EXECUTABLE
            } else {
                FileFlags::NONE
            };
            self.push(rel, &meta, fl, String::new());
        }
    }

    fn push(&mut self, rel: &str, meta: &std::fs::Metadata, fl: FileFlags, symlink: String) {
        self.out.push(CreateFileEntry {
            path: rel.to_owned(),
            size: meta.len() as i64,
            flags: fl,
            mtime: mtime_of(meta),
            symlink,
        });
    }

    /// The target of the link at `link` relative to the top directory, or
    /// `None` when it points outside of it.
    fn link_target(&self, link: &Path, target: &Path) -> Option<String> {
        if target.is_absolute() {
            return None;
        }
        let base = link.parent()?.strip_prefix(&self.top).ok()?;
        let mut parts: Vec<String> = base
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        for c in target.iter() {
            let c = c.to_string_lossy();
            match &*c {
                "." => {}
                ".." => {
                    parts.pop()?;
                }
                _ => parts.push(c.into_owned()),
            }
        }
        Some(parts.join("/"))
    }
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_m: &std::fs::Metadata) -> bool {
    false
}

fn mtime_of(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// The v2 file root of `data` as a standalone file with `piece_length`
/// pieces (helper for tests and tools).
pub fn file_root(data: &[u8]) -> Sha256Hash {
    let leaves: Vec<Sha256Hash> = data
        .chunks(hasher::BLOCK_SIZE as usize)
        .map(Sha256Hash::digest)
        .collect();
    let width = (leaves.len() as u64).next_power_of_two();
    hasher::merkle_root(&leaves, width, Sha256Hash::zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, size: i64) -> CreateFileEntry {
        CreateFileEntry {
            path: path.into(),
            size,
            ..Default::default()
        }
    }

    fn paths(fs: &FileStorage) -> Vec<(String, i64)> {
        (0..fs.num_files())
            .map(|i| (fs.file_path(i, ""), fs.file_size(i)))
            .collect()
    }

    #[test]
    fn auto_piece_size_thresholds() {
        assert_eq!(auto_piece_size(1), 16384);
        assert_eq!(auto_piece_size(2_684_355), 16384);
        assert_eq!(auto_piece_size(2_684_356), 32768);
        assert_eq!(auto_piece_size(10_737_418), 32768);
        assert_eq!(auto_piece_size(10_737_419), 65536);
        assert_eq!(auto_piece_size(10_995_116_278), 1 << 20);
        assert_eq!(auto_piece_size(10_995_116_279), 2 << 20);
        assert_eq!(auto_piece_size(703_687_441_777), 8 << 20);
        assert_eq!(auto_piece_size(703_687_441_778), 16 << 20);
        assert_eq!(auto_piece_size(i64::MAX), 16 << 20);
    }

    #[test]
    fn piece_size_rules() {
        let v1 = flags::V1_ONLY;
        assert_eq!(resolve_piece_size(16, 1, v1).unwrap(), 16);
        assert_eq!(resolve_piece_size(49152, 1, v1).unwrap(), 49152);
        assert!(resolve_piece_size(10000, 1, v1).is_err());
        assert!(resolve_piece_size(1 << 28, 1, v1).is_err());
        assert_eq!(resolve_piece_size(8192, 1, 0).unwrap(), 16384);
        assert_eq!(resolve_piece_size(-1, 1, 0).unwrap(), 16384);
        assert!(resolve_piece_size(20000, 1, 0).is_err());
        assert!(resolve_piece_size(49152, 1, 0).is_err());
        assert_eq!(resolve_piece_size(1 << 27, 1, 0).unwrap(), 1 << 27);
    }

    #[test]
    fn canonical_layout_sorts_and_pads() {
        let fs = layout_files(
            &[
                e("r/z", 20000),
                e("r/a.txt", 0),
                e("r/a/b", 70000),
                e("r/A", 10),
            ],
            0,
            0,
        )
        .unwrap();
        assert_eq!(
            paths(&fs),
            vec![
                ("r/A".into(), 10),
                ("r/.pad/16374".into(), 16374),
                ("r/a.txt".into(), 0),
                ("r/a/b".into(), 70000),
                ("r/.pad/11920".into(), 11920),
                ("r/z".into(), 20000),
                ("r/.pad/12768".into(), 12768),
            ]
        );
        assert_eq!(fs.num_pieces(), 8);
        let fs = layout_files(
            &[e("r/a", 100), e("r/b", 0), e("r/c", 5)],
            0,
            flags::V1_ONLY | flags::CANONICAL_FILES_NO_TAIL_PADDING,
        )
        .unwrap();
        assert_eq!(
            paths(&fs),
            vec![
                ("r/a".into(), 100),
                ("r/b".into(), 0),
                ("r/.pad/16284".into(), 16284),
                ("r/c".into(), 5)
            ]
        );
        // v1 keeps the given order, no padding
        let fs = layout_files(&[e("r/b", 100), e("r/a", 5)], 0, flags::V1_ONLY).unwrap();
        assert_eq!(paths(&fs), vec![("r/b".into(), 100), ("r/a".into(), 5)]);
        // one file: no tail pad
        let fs = layout_files(&[e("r/a", 100)], 0, 0).unwrap();
        assert_eq!(paths(&fs), vec![("r/a".into(), 100)]);
    }

    #[test]
    fn layout_errors() {
        assert!(matches!(layout_files(&[], 0, 0), Err(CreateError::NoFiles)));
        assert!(matches!(
            layout_files(&[e("r/a", 0)], 0, 0),
            Err(CreateError::InvalidLength)
        ));
        assert!(matches!(
            layout_files(&[e("r/a", 5)], 10000, flags::V1_ONLY),
            Err(CreateError::InvalidPieceSize)
        ));
    }

    #[test]
    fn a_hybrid_creator_with_v1_hashes_only_makes_a_v1_torrent() {
        let fs = layout_files(&[e("r/a", 10), e("r/b", 20000)], 16384, 0).unwrap();
        let mut ct = CreateTorrent::new(&fs, 0);
        for p in 0..ct.num_pieces() {
            ct.set_hash(p, Sha1Hash([0x11; 20])).unwrap();
        }
        let Value::Dict(top) = ct.generate(&fs).unwrap() else {
            panic!("not a dictionary");
        };
        let Some(Value::Dict(info)) = top.get(b"info".as_slice()) else {
            panic!("no info");
        };
        assert!(info.contains_key(b"pieces".as_slice()));
        assert!(!info.contains_key(b"meta version".as_slice()));
        assert!(!top.contains_key(b"piece layers".as_slice()));
        // One file's tree without the other's is a missing hash, not v1.
        let a = (0..fs.num_files())
            .find(|&i| fs.file_size(i) == 10)
            .unwrap();
        let tree = FileTree {
            root: Sha256Hash([0x22; 32]),
            piece_layer: Vec::new(),
        };
        ct.set_file_tree(a, tree).unwrap();
        assert!(matches!(ct.generate(&fs), Err(CreateError::MissingHash)));
        // And with every v1 hash missing there is nothing to fall back on.
        let none = CreateTorrent::new(&fs, 0);
        assert!(matches!(none.generate(&fs), Err(CreateError::MissingHash)));
    }

    #[test]
    fn generate_needs_hashes_and_lists_trackers_by_tier() {
        let fs = layout_files(&[e("r/a", 10), e("r/b", 20000)], 0, flags::V1_ONLY).unwrap();
        let mut ct = CreateTorrent::new(&fs, flags::V1_ONLY);
        assert!(matches!(ct.generate(&fs), Err(CreateError::MissingHash)));
        for p in 0..ct.num_pieces() {
            ct.set_hash(p, Sha1Hash([0x11; 20])).unwrap();
        }
        assert!(matches!(
            ct.set_hash(2, Sha1Hash::zero()),
            Err(CreateError::InvalidPieceIndex)
        ));
        for (u, t) in [("t1", 0), ("t2", 1), ("t3", 0), ("t4", 5)] {
            ct.add_tracker(u, t);
        }
        ct.add_url_seed("u1");
        ct.set_creation_date(0);
        let Value::Dict(top) = ct.generate(&fs).unwrap() else {
            panic!()
        };
        assert_eq!(
            top.get(&b"announce"[..]),
            Some(&Value::Bytes(b"t1".to_vec()))
        );
        let tiers = Value::List(vec![
            Value::List(vec![bytes("t1"), bytes("t3")]),
            Value::List(vec![bytes("t2")]),
            Value::List(vec![bytes("t4")]),
        ]);
        assert_eq!(top.get(&b"announce-list"[..]), Some(&tiers));
        assert_eq!(top.get(&b"url-list"[..]), Some(&bytes("u1")));
        assert!(!top.contains_key(&b"creation date"[..]));
        let Some(Value::Dict(info)) = top.get(&b"info"[..]) else {
            panic!()
        };
        assert_eq!(info.get(&b"name"[..]), Some(&bytes("r")));
        assert!(matches!(info.get(&b"files"[..]), Some(Value::List(l)) if l.len() == 2));
    }

    #[test]
    fn v2_tree_and_layers() {
        let dir = std::env::temp_dir().join(format!("lt-create-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("r")).unwrap();
        let big: Vec<u8> = (0..40000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(dir.join("r/big"), &big).unwrap();
        std::fs::write(dir.join("r/small"), b"hello").unwrap();
        let fs = layout_files(&[e("r/small", 5), e("r/big", 40000)], 16384, 0).unwrap();
        let mut ct = CreateTorrent::new(&fs, 0);
        let mut n = 0;
        ct.set_piece_hashes(&fs, &dir, 2, |_| {
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 4);
        let Value::Dict(top) = ct.generate(&fs).unwrap() else {
            panic!()
        };
        let Some(Value::Dict(layers)) = top.get(&b"piece layers"[..]) else {
            panic!()
        };
        assert_eq!(layers.len(), 1);
        let root = file_root(&big);
        assert_eq!(
            layers
                .get(&root.0.to_vec())
                .map(|v| matches!(v, Value::Bytes(b) if b.len() == 96)),
            Some(true)
        );
        let Some(Value::Dict(info)) = top.get(&b"info"[..]) else {
            panic!()
        };
        let Some(Value::Dict(tree)) = info.get(&b"file tree"[..]) else {
            panic!()
        };
        let Some(Value::Dict(small)) = tree.get(&b"small"[..]) else {
            panic!()
        };
        let Some(Value::Dict(leaf)) = small.get(&b""[..]) else {
            panic!()
        };
        assert_eq!(
            leaf.get(&b"pieces root"[..]),
            Some(&Value::Bytes(Sha256Hash::digest(b"hello").0.to_vec()))
        );
    }

    fn hashed(flags_: u32) -> (FileStorage, CreateTorrent) {
        let dir =
            std::env::temp_dir().join(format!("lt-create-rt-{}-{}", std::process::id(), flags_));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("r/sub")).unwrap();
        std::fs::write(dir.join("r/a"), vec![3u8; 50000]).unwrap();
        std::fs::write(dir.join("r/sub/b"), vec![4u8; 7]).unwrap();
        let entries = list_files(&dir.join("r"), 0, |_| true);
        let fs = layout_files(&entries, 16384, flags_).unwrap();
        let mut ct = CreateTorrent::new(&fs, flags_);
        ct.set_piece_hashes(&fs, &dir, 2, |_| true).unwrap();
        ct.add_tracker("http://t/announce", 0);
        ct.set_comment("c");
        (fs, ct)
    }

    #[test]
    fn parser_loads_what_we_create_and_recreates_it() {
        for f in [0, flags::V1_ONLY, flags::V2_ONLY] {
            let (fs, ct) = hashed(f);
            let buf = ct.generate_buf(&fs).unwrap();
            let ti = TorrentInfo::from_bytes(&buf).unwrap();
            assert_eq!(ti.num_files(), fs.num_files());
            assert_eq!(ti.v1(), f != flags::V2_ONLY);
            assert_eq!(ti.v2(), f != flags::V1_ONLY);
            assert_eq!(
                ti.files().root(0),
                ct.file_tree(0).map(|t| t.root).unwrap_or_default()
            );
            let (fs2, ct2) = CreateTorrent::from_torrent_info(&ti);
            let again = ct2.generate_buf(&fs2).unwrap();
            assert_eq!(again, buf);
        }
    }
}
