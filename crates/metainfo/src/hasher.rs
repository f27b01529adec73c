//! The piece hashing engine used when creating torrents.
//!
//! Given the files of a torrent laid out back to back (pad files included),
//! it computes
//! * v1: the SHA-1 of every piece, pieces spanning file boundaries, pad files
//!   read as zeros;
//! * v2 (BEP 52): for every file the SHA-256 of its 16 KiB blocks, the merkle
//!   tree over them (padded to a power of two with zero leaves), the piece
//!   layer and the file's root;
//! * hybrid: both at once, reading every byte once.
//!
//! The work is split in jobs of whole pieces (about 1 MiB each) taken by
//! one worker thread per core. Each worker hashes its job 64 KiB at a time
//! (whole pieces when pieces are smaller): SHA-1 incrementally over the
//! piece, SHA-256 per 16 KiB block, both from the same bytes for hybrid
//! torrents. It reads them through a read-only mapping of a 16 MiB window of
//! the file ([`lt_core::mapped`]), so they are hashed straight from the
//! page cache, without the copy a `pread` makes; where a range crosses
//! files or pad files, or a file cannot be mapped, it reads them with
//! `pread` into one reused buffer instead. Results go
//! back to the calling thread over a channel; the caller's progress callback
//! runs on the calling thread, once per piece, in completion order.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use lt_core::mapped::Mapping;
use lt_core::{Sha1Hash, Sha256Hash};

use crate::merkle::hash_pair;

/// The digest functions (RustCrypto; SHA-NI when the CPU has it: per CPU
/// second as fast as OpenSSL's on the machines measured).
mod digest {
    pub fn sha1(data: &[u8]) -> [u8; 20] {
        use sha1::Digest;
        sha1::Sha1::digest(data).into()
    }
    pub fn sha256(data: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(data).into()
    }
}

/// SHA-1 of `data` with the fastest backend built in.
pub fn sha1(data: &[u8]) -> Sha1Hash {
    Sha1Hash(digest::sha1(data))
}

/// SHA-256 of `data` with the fastest backend built in.
pub fn sha256(data: &[u8]) -> Sha256Hash {
    Sha256Hash(digest::sha256(data))
}

/// Size of a v2 merkle leaf.
pub const BLOCK_SIZE: u64 = 16 * 1024;

/// Bytes read (and hashed) per job, rounded to whole pieces.
const JOB_BYTES: u64 = 1024 * 1024;

/// One file of the torrent as the hasher sees it.
#[derive(Debug, Clone)]
pub struct HashFile {
    /// Where to read the file's bytes. Ignored for pad files and files of
    /// size zero.
    pub path: PathBuf,
    /// Size in bytes (zero for symlinks).
    pub size: u64,
    /// A pad file: contributes `size` zero bytes, never read, no v2 tree.
    pub pad: bool,
}

/// What to hash.
#[derive(Debug, Clone)]
pub struct HashRequest {
    /// The files in torrent order, pad files included.
    pub files: Vec<HashFile>,
    /// Piece length; a power of two of at least 16 KiB when `v2` is set.
    pub piece_length: u64,
    /// Compute v1 piece hashes.
    pub v1: bool,
    /// Compute v2 merkle trees.
    pub v2: bool,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

/// The v2 hashes of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTree {
    /// The merkle root (`pieces root`).
    pub root: Sha256Hash,
    /// The piece layer: one hash per piece of the file. Empty for a file that
    /// fits in one piece (it has no piece layer in the torrent).
    pub piece_layer: Vec<Sha256Hash>,
}

/// The result of hashing.
#[derive(Debug, Clone, Default)]
pub struct HashOutput {
    /// SHA-1 of every piece (empty unless v1 was requested).
    pub v1: Vec<Sha1Hash>,
    /// Per file index: the v2 tree, `None` for pad files, empty files and
    /// symlinks (and for every file when v2 was not requested).
    pub v2: Vec<Option<FileTree>>,
}

/// Why hashing stopped.
#[derive(Debug)]
pub enum HashError {
    /// A file could not be opened or read.
    Io { path: PathBuf, error: io::Error },
    /// A file ended before the size the torrent gives it.
    FileTooShort { path: PathBuf },
    /// The progress callback asked to stop.
    Aborted,
    /// The request is inconsistent (piece length, v2 alignment).
    Invalid(&'static str),
}

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashError::Io { path, error } => write!(f, "{}: {}", path.display(), error),
            HashError::FileTooShort { path } => write!(f, "{}: file too short", path.display()),
            HashError::Aborted => f.write_str("aborted"),
            HashError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HashError {}

/// Number of pieces of `total` bytes in pieces of `piece_length`.
pub fn num_pieces(total: u64, piece_length: u64) -> u64 {
    if piece_length == 0 {
        return 0;
    }
    total.div_ceil(piece_length)
}

/// The root of a perfect subtree of `leaves` zero leaves (a power of two).
pub fn zero_subtree(leaves: u64) -> Sha256Hash {
    let mut h = Sha256Hash::zero();
    let mut n = 1u64;
    while n < leaves {
        h = hash_pair(&h, &h);
        n *= 2;
    }
    h
}

/// Merkle root over `nodes`, padded to `width` (a power of two, at least
/// `nodes.len()`) with `pad`, whose parents are built as usual.
pub fn merkle_root(nodes: &[Sha256Hash], width: u64, pad: Sha256Hash) -> Sha256Hash {
    if nodes.is_empty() {
        return zero_subtree(width);
    }
    let mut layer: Vec<Sha256Hash> = nodes.to_vec();
    let mut pad = pad;
    let mut width = width.max(1);
    while width > 1 {
        if layer.len() % 2 == 1 {
            layer.push(pad);
        }
        let next: Vec<Sha256Hash> = layer
            .chunks_exact(2)
            .map(|p| hash_pair(&p[0], &p[1]))
            .collect();
        layer = next;
        pad = hash_pair(&pad, &pad);
        width /= 2;
    }
    layer.first().copied().unwrap_or(pad)
}

/// A file with a v2 tree: its index, offset and size.
#[derive(Clone, Copy)]
struct V2File {
    index: usize,
    offset: u64,
    size: u64,
}

/// What a worker sends back for one job.
struct JobResult {
    first_piece: u64,
    v1: Vec<Sha1Hash>,
    /// Per piece: the v2 hash (piece-layer node, or the file root for a
    /// file of one piece), `None` for pieces with no file data.
    v2: Vec<Option<Sha256Hash>>,
}

struct Layout<'a> {
    req: &'a HashRequest,
    offsets: Vec<u64>,
    total: u64,
    /// For v2: per piece, the index into `v2files` of the file it belongs to.
    piece_file: Vec<u32>,
    v2files: Vec<V2File>,
    blocks_per_piece: u64,
}

impl<'a> Layout<'a> {
    fn new(req: &'a HashRequest) -> Result<Self, HashError> {
        if req.piece_length == 0 {
            return Err(HashError::Invalid("invalid piece size"));
        }
        let mut offsets = Vec::with_capacity(req.files.len());
        let mut total = 0u64;
        for f in &req.files {
            offsets.push(total);
            total = total
                .checked_add(f.size)
                .ok_or(HashError::Invalid("torrent too large"))?;
        }
        let npieces = num_pieces(total, req.piece_length);
        let mut piece_file = Vec::new();
        let mut v2files = Vec::new();
        let mut blocks_per_piece = 1;
        if req.v2 {
            if req.piece_length < BLOCK_SIZE || !req.piece_length.is_power_of_two() {
                return Err(HashError::Invalid("invalid piece size"));
            }
            blocks_per_piece = req.piece_length / BLOCK_SIZE;
            let npieces =
                usize::try_from(npieces).map_err(|_| HashError::Invalid("too many pieces"))?;
            piece_file = vec![u32::MAX; npieces];
            for (i, f) in req.files.iter().enumerate() {
                if f.pad || f.size == 0 {
                    continue;
                }
                let off = offsets[i];
                if off % req.piece_length != 0 {
                    return Err(HashError::Invalid("v2 files must be aligned to pieces"));
                }
                let slot = u32::try_from(v2files.len())
                    .map_err(|_| HashError::Invalid("too many files"))?;
                let first = off / req.piece_length;
                let last = (off + f.size).div_ceil(req.piece_length);
                for p in first..last {
                    // p < npieces because off + size <= total
                    if let Some(s) = piece_file.get_mut(p as usize) {
                        *s = slot;
                    }
                }
                v2files.push(V2File {
                    index: i,
                    offset: off,
                    size: f.size,
                });
            }
        }
        Ok(Layout {
            req,
            offsets,
            total,
            piece_file,
            v2files,
            blocks_per_piece,
        })
    }
}

/// A worker's cache of the file it read last.
struct OpenFile {
    index: usize,
    file: File,
}

/// Bytes of a file mapped at a time: few `mmap`/`munmap` calls (each unmap
/// interrupts the other workers' cores to flush their TLBs), little
/// address space per worker. Pages are mapped as they are first read (the
/// kernel maps 16 around each fault), so the pieces of a window that other
/// workers hash cost nothing here. (Measured, 2 GiB hot, 2 workers: 16 MiB
/// windows hashed 6-10% faster than 4 MiB ones populated up front, and
/// 8-12% faster than `pread`.)
const WINDOW: u64 = 16 * 1024 * 1024;

/// The mapped window of file `index` from byte `start` of the file.
struct Window {
    index: usize,
    start: u64,
    map: Mapping,
}

/// Where a worker's bytes come from: a mapped window of the file it
/// reads, or `buf`, filled with `pread`, for ranges that cross files or
/// pads and files that cannot be mapped.
#[derive(Default)]
struct Reader {
    cache: Option<OpenFile>,
    window: Option<Window>,
    buf: Vec<u8>,
}

impl Reader {
    /// The torrent's `len` bytes from `start`.
    fn read(&mut self, lay: &Layout<'_>, start: u64, len: usize) -> Result<&[u8], HashError> {
        if self.map(lay, start, len) {
            if let Some(w) = &mut self.window {
                let from = (start - lay.offsets[w.index] - w.start) as usize;
                if let Some(bytes) = w.map.read_at(from, len) {
                    return Ok(bytes);
                }
            }
        }
        self.buf.resize(len, 0);
        read_range(lay, start, &mut self.buf, &mut self.cache)?;
        Ok(&self.buf)
    }

    /// Makes `window` cover the range if it lies in one file that can be
    /// mapped; false if the range must be read.
    fn map(&mut self, lay: &Layout<'_>, start: u64, len: usize) -> bool {
        let i = lay
            .offsets
            .partition_point(|&o| o <= start)
            .saturating_sub(1);
        let (Some(f), Some(&foff)) = (lay.req.files.get(i), lay.offsets.get(i)) else {
            return false;
        };
        let rel = start - foff;
        let end = rel + len as u64;
        if f.pad || end > f.size {
            return false;
        }
        if let Some(w) = &self.window {
            if w.index == i && w.start <= rel && end <= w.start + w.map.bytes().len() as u64 {
                return true;
            }
        }
        // Unmap the old window before mapping the next.
        self.window = None;
        if self.cache.as_ref().map(|c| c.index) != Some(i) {
            match File::open(&f.path) {
                Ok(file) => self.cache = Some(OpenFile { index: i, file }),
                // `read_range` reports the error
                Err(_) => return false,
            }
        }
        let Some(c) = &self.cache else {
            return false;
        };
        let wstart = rel - rel % WINDOW;
        let wend = (wstart + WINDOW).max(end).min(f.size);
        // A file shorter than its size, or one that cannot be mapped, is
        // read instead: `read_range` reports exactly where it ends.
        match Mapping::new(&c.file, wstart, (wend - wstart) as usize) {
            Ok(map) => {
                self.window = Some(Window {
                    index: i,
                    start: wstart,
                    map,
                });
                true
            }
            Err(_) => false,
        }
    }

    /// An error if a read of the window faulted since it was mapped: the
    /// bytes hashed from it were zeros. The file was cut while being
    /// hashed (or its pages could not be read), which the reference, like a
    /// `pread` here, reports as the file being too short.
    fn fault(&self, lay: &Layout<'_>) -> Option<HashError> {
        let w = self.window.as_ref().filter(|w| w.map.faulted())?;
        Some(HashError::FileTooShort {
            path: lay.req.files[w.index].path.clone(),
        })
    }
}

/// Fills `buf` with the torrent's bytes starting at `start`.
fn read_range(
    lay: &Layout<'_>,
    start: u64,
    buf: &mut [u8],
    cache: &mut Option<OpenFile>,
) -> Result<(), HashError> {
    let end = start + buf.len() as u64;
    // first file whose range ends after `start`
    let mut i = lay
        .offsets
        .partition_point(|&o| o <= start)
        .saturating_sub(1);
    while i < lay.req.files.len() {
        let f = &lay.req.files[i];
        let foff = lay.offsets[i];
        if foff >= end {
            break;
        }
        let fend = foff + f.size;
        if fend <= start || f.size == 0 {
            i += 1;
            continue;
        }
        let s = start.max(foff);
        let e = end.min(fend);
        let dst = &mut buf[(s - start) as usize..(e - start) as usize];
        if f.pad {
            dst.fill(0);
        } else {
            if cache.as_ref().map(|c| c.index) != Some(i) {
                let file = File::open(&f.path).map_err(|error| HashError::Io {
                    path: f.path.clone(),
                    error,
                })?;
                *cache = Some(OpenFile { index: i, file });
            }
            if let Some(c) = cache.as_ref() {
                read_exact_at(&c.file, dst, s - foff).map_err(|error| {
                    if error.kind() == io::ErrorKind::UnexpectedEof {
                        HashError::FileTooShort {
                            path: f.path.clone(),
                        }
                    } else {
                        HashError::Io {
                            path: f.path.clone(),
                            error,
                        }
                    }
                })?;
            }
        }
        i += 1;
    }
    Ok(())
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes hashed at a time: small enough that they are still in the core's
/// cache for the second hash of a hybrid torrent (and, when read with
/// `pread`, after the copy), large enough that per-read costs do not
/// matter. A power of two, so with v2 (power-of-two pieces of at least
/// 16 KiB) a read never splits a 16 KiB block. (Measured on the AMD EPYC
/// machine of bench/RESULTS.md: with 128 KiB `pread`s between SHA-256
/// runs, the kernel's copy out of the page cache took 6 times as long as
/// with 64 KiB, SHA-1 or not; 64 KiB costs SHA-1 nothing.)
const CHUNK: u64 = 64 * 1024;

/// Hashes of the piece being read.
struct PieceAcc {
    v1: Option<sha1::Sha1>,
    leaves: Vec<Sha256Hash>,
}

impl PieceAcc {
    fn new(lay: &Layout<'_>) -> Self {
        PieceAcc {
            v1: None,
            leaves: Vec::with_capacity(if lay.req.v2 {
                lay.blocks_per_piece as usize
            } else {
                0
            }),
        }
    }

    fn start(&mut self, lay: &Layout<'_>) {
        use sha1::Digest;
        self.v1 = lay.req.v1.then(sha1::Sha1::new);
        self.leaves.clear();
    }

    /// Feeds `data`, the piece's bytes from `at` (relative to the piece
    /// start; a multiple of 16 KiB unless this is the piece's last part).
    fn update(&mut self, lay: &Layout<'_>, p: u64, at: u64, data: &[u8]) {
        use sha1::Digest;
        if let Some(h) = self.v1.as_mut() {
            h.update(data);
        }
        if let Some((len, _)) = v2_part(lay, p) {
            if at < len {
                let end = ((len - at) as usize).min(data.len());
                self.leaves
                    .extend(data[..end].chunks(BLOCK_SIZE as usize).map(sha256));
            }
        }
    }

    /// Appends the finished piece's hashes to `out`.
    fn finish(&mut self, lay: &Layout<'_>, p: u64, out: &mut JobResult) {
        use sha1::Digest;
        if let Some(h) = self.v1.take() {
            out.v1.push(Sha1Hash(h.finalize().into()));
        }
        if lay.req.v2 {
            out.v2.push(v2_part(lay, p).map(|(_, f)| {
                if f.size <= lay.req.piece_length {
                    // the whole file: its tree is as wide as its block count
                    let width = (self.leaves.len() as u64).next_power_of_two();
                    merkle_root(&self.leaves, width, Sha256Hash::zero())
                } else {
                    merkle_root(&self.leaves, lay.blocks_per_piece, Sha256Hash::zero())
                }
            }));
        }
    }
}

/// With v2: how many bytes of piece `p` are file data (the rest is pad or
/// past the end), and the file, or `None` for a piece with no file data.
fn v2_part<'l>(lay: &'l Layout<'_>, p: u64) -> Option<(u64, &'l V2File)> {
    if !lay.req.v2 {
        return None;
    }
    let slot = lay.piece_file.get(p as usize).copied().unwrap_or(u32::MAX);
    let f = lay.v2files.get(slot as usize)?;
    let pstart = p * lay.req.piece_length;
    let fend = f.offset + f.size;
    Some((fend.min(pstart + lay.req.piece_length) - pstart, f))
}

/// Reads and hashes pieces `first..last`, [`CHUNK`] bytes at a time.
/// On a read error, returns the pieces finished before it and the error.
fn hash_job(
    lay: &Layout<'_>,
    first: u64,
    last: u64,
    reader: &mut Reader,
) -> (JobResult, Option<HashError>) {
    let pl = lay.req.piece_length;
    let mut out = JobResult {
        first_piece: first,
        v1: Vec::new(),
        v2: Vec::new(),
    };
    let mut acc = PieceAcc::new(lay);
    let mut p = first;
    while p < last {
        let pstart = p * pl;
        if pl <= CHUNK {
            // Several whole pieces per read.
            let n = (CHUNK / pl).clamp(1, last - p);
            let end = ((p + n) * pl).min(lay.total);
            let done = (out.v1.len(), out.v2.len());
            match reader.read(lay, pstart, (end - pstart) as usize) {
                Ok(data) => {
                    for (k, piece) in data.chunks(pl as usize).enumerate() {
                        acc.start(lay);
                        acc.update(lay, p + k as u64, 0, piece);
                        acc.finish(lay, p + k as u64, &mut out);
                    }
                }
                Err(e) if n == 1 => return (out, Some(e)),
                Err(_) => {
                    // Find the failing piece: the ones before it are done.
                    for q in p..p + n {
                        let qend = ((q + 1) * pl).min(lay.total);
                        match reader.read(lay, q * pl, (qend - q * pl) as usize) {
                            Ok(data) => {
                                acc.start(lay);
                                acc.update(lay, q, 0, data);
                                acc.finish(lay, q, &mut out);
                            }
                            Err(e) => return (out, Some(e)),
                        }
                    }
                    // Every piece read on its own: the error went away.
                }
            }
            if let Some(e) = reader.fault(lay) {
                // The pieces of this read were hashed from zeros.
                out.v1.truncate(done.0);
                out.v2.truncate(done.1);
                return (out, Some(e));
            }
            p += n;
        } else {
            // One piece, read in chunks.
            let pend = (pstart + pl).min(lay.total);
            acc.start(lay);
            let mut at = pstart;
            while at < pend {
                let e = (at + CHUNK).min(pend);
                match reader.read(lay, at, (e - at) as usize) {
                    Ok(data) => acc.update(lay, p, at - pstart, data),
                    Err(err) => return (out, Some(err)),
                }
                if let Some(err) = reader.fault(lay) {
                    return (out, Some(err));
                }
                at = e;
            }
            acc.finish(lay, p, &mut out);
            p += 1;
        }
    }
    (out, None)
}

/// Hashes everything `req` describes. `progress` runs on the calling thread
/// once per piece (in completion order, not necessarily ascending); returning
/// `false` stops hashing with [`HashError::Aborted`].
pub fn hash_files(
    req: &HashRequest,
    mut progress: impl FnMut(u64) -> bool,
) -> Result<HashOutput, HashError> {
    let lay = Layout::new(req)?;
    let pl = req.piece_length;
    let npieces = num_pieces(lay.total, pl);
    let pieces_per_job = (JOB_BYTES / pl).max(1);
    let njobs = npieces.div_ceil(pieces_per_job);
    let threads = if req.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        req.threads
    };
    let threads = threads.min(njobs as usize).max(1);
    let zero_piece_pad = zero_subtree(lay.blocks_per_piece);

    let np = usize::try_from(npieces).map_err(|_| HashError::Invalid("too many pieces"))?;
    let mut out_v1 = if req.v1 {
        vec![Sha1Hash::zero(); np]
    } else {
        Vec::new()
    };
    let mut out_v2: Vec<Option<Sha256Hash>> = if req.v2 { vec![None; np] } else { Vec::new() };

    let next_job = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Result<JobResult, HashError>>(threads * 2);

    let result: Result<(), HashError> = std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let lay = &lay;
            let next_job = &next_job;
            let stop = &stop;
            s.spawn(move || {
                let mut reader = Reader::default();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let j = next_job.fetch_add(1, Ordering::Relaxed) as u64;
                    if j >= njobs {
                        return;
                    }
                    let first = j * pieces_per_job;
                    let last = (first + pieces_per_job).min(npieces);
                    let (done, err) = hash_job(lay, first, last, &mut reader);
                    let any = !done.v1.is_empty() || !done.v2.is_empty();
                    if any && tx.send(Ok(done)).is_err() {
                        return;
                    }
                    if let Some(e) = err {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        for msg in rx.iter() {
            if outcome.is_err() {
                continue; // drain so workers can finish
            }
            match msg {
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    outcome = Err(e);
                }
                Ok(job) => {
                    let n = job.v1.len().max(job.v2.len());
                    for (k, h) in job.v1.into_iter().enumerate() {
                        if let Some(slot) = out_v1.get_mut(job.first_piece as usize + k) {
                            *slot = h;
                        }
                    }
                    for (k, h) in job.v2.into_iter().enumerate() {
                        if let Some(slot) = out_v2.get_mut(job.first_piece as usize + k) {
                            *slot = h;
                        }
                    }
                    for k in 0..n as u64 {
                        if !progress(job.first_piece + k) {
                            stop.store(true, Ordering::Relaxed);
                            outcome = Err(HashError::Aborted);
                            break;
                        }
                    }
                }
            }
        }
        outcome
    });
    result?;

    let mut v2 = vec![None; req.files.len()];
    if req.v2 {
        for f in &lay.v2files {
            let first = (f.offset / pl) as usize;
            let count = f.size.div_ceil(pl) as usize;
            let layer: Vec<Sha256Hash> = out_v2
                .get(first..first + count)
                .unwrap_or(&[])
                .iter()
                .map(|h| h.unwrap_or_default())
                .collect();
            let tree = if count == 1 {
                FileTree {
                    root: layer.first().copied().unwrap_or_default(),
                    piece_layer: Vec::new(),
                }
            } else {
                let width = (count as u64).next_power_of_two();
                FileTree {
                    root: merkle_root(&layer, width, zero_piece_pad),
                    piece_layer: layer,
                }
            };
            if let Some(slot) = v2.get_mut(f.index) {
                *slot = Some(tree);
            }
        }
    }
    Ok(HashOutput { v1: out_v1, v2 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lt-hasher-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn data(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Reference merkle root straight from the definition: leaves are block
    /// hashes, padded with zeros to a power of two at least `min_leaves`.
    fn naive_root(content: &[u8], min_leaves: usize) -> Sha256Hash {
        let mut layer: Vec<Sha256Hash> = content.chunks(16384).map(Sha256Hash::digest).collect();
        let width = layer.len().next_power_of_two().max(min_leaves);
        layer.resize(width, Sha256Hash::zero());
        while layer.len() > 1 {
            layer = layer
                .chunks(2)
                .map(|p| {
                    let mut b = p[0].0.to_vec();
                    b.extend_from_slice(&p[1].0);
                    Sha256Hash::digest(&b)
                })
                .collect();
        }
        layer[0]
    }

    #[test]
    fn v1_spans_files_and_pads_are_zeros() {
        let d = tmpdir("v1");
        let a = data(20000, 1);
        let b = data(30000, 2);
        std::fs::File::create(d.join("a"))
            .unwrap()
            .write_all(&a)
            .unwrap();
        std::fs::File::create(d.join("b"))
            .unwrap()
            .write_all(&b)
            .unwrap();
        let req = HashRequest {
            files: vec![
                HashFile {
                    path: d.join("a"),
                    size: 20000,
                    pad: false,
                },
                HashFile {
                    path: PathBuf::new(),
                    size: 100,
                    pad: true,
                },
                HashFile {
                    path: d.join("b"),
                    size: 30000,
                    pad: false,
                },
            ],
            piece_length: 16384,
            v1: true,
            v2: false,
            threads: 3,
        };
        let mut seen = Vec::new();
        let out = hash_files(&req, |p| {
            seen.push(p);
            true
        })
        .unwrap();
        let mut all = a.clone();
        all.extend(std::iter::repeat_n(0, 100));
        all.extend_from_slice(&b);
        let want: Vec<Sha1Hash> = all.chunks(16384).map(Sha1Hash::digest).collect();
        assert_eq!(out.v1, want);
        seen.sort();
        assert_eq!(seen, (0..want.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn v2_trees_match_definition() {
        let d = tmpdir("v2");
        let a = data(100000, 3); // several pieces of 32 KiB
        let b = data(5000, 4); // one block
        let c = data(40000, 5); // fits one piece of 64k? no: piece is 32k
        for (n, v) in [("a", &a), ("b", &b), ("c", &c)] {
            std::fs::File::create(d.join(n))
                .unwrap()
                .write_all(v)
                .unwrap();
        }
        let pl = 32768u64;
        let pad = |size: u64| {
            let r = size % pl;
            HashFile {
                path: PathBuf::new(),
                size: if r == 0 { 0 } else { pl - r },
                pad: true,
            }
        };
        let req = HashRequest {
            files: vec![
                HashFile {
                    path: d.join("a"),
                    size: 100000,
                    pad: false,
                },
                pad(100000),
                HashFile {
                    path: d.join("b"),
                    size: 5000,
                    pad: false,
                },
                pad(5000),
                HashFile {
                    path: PathBuf::new(),
                    size: 0,
                    pad: false,
                },
                HashFile {
                    path: d.join("c"),
                    size: 40000,
                    pad: false,
                },
            ],
            piece_length: pl,
            v1: true,
            v2: true,
            threads: 2,
        };
        let out = hash_files(&req, |_| true).unwrap();
        let ta = out.v2[0].as_ref().unwrap();
        assert_eq!(ta.root, naive_root(&a, 2));
        assert_eq!(ta.piece_layer.len(), 4);
        assert_eq!(ta.piece_layer[3], naive_root(&a[98304..], 2));
        let tb = out.v2[2].as_ref().unwrap();
        assert_eq!(tb.root, Sha256Hash::digest(&b));
        assert!(tb.piece_layer.is_empty());
        assert!(out.v2[1].is_none() && out.v2[4].is_none());
        let tc = out.v2[5].as_ref().unwrap();
        assert_eq!(tc.root, naive_root(&c, 1));
        assert_eq!(tc.piece_layer.len(), 2);
        // v1 over the padded stream
        assert_eq!(out.v1.len(), 4 + 1 + 2);
    }

    #[test]
    fn short_file_and_missing_file_are_errors() {
        let d = tmpdir("short");
        std::fs::File::create(d.join("a"))
            .unwrap()
            .write_all(&[1, 2, 3])
            .unwrap();
        let mut req = HashRequest {
            files: vec![HashFile {
                path: d.join("a"),
                size: 10,
                pad: false,
            }],
            piece_length: 16384,
            v1: true,
            v2: true,
            threads: 1,
        };
        assert!(matches!(
            hash_files(&req, |_| true),
            Err(HashError::FileTooShort { .. })
        ));
        req.files[0].path = d.join("missing");
        assert!(matches!(
            hash_files(&req, |_| true),
            Err(HashError::Io { .. })
        ));
    }

    #[test]
    fn progress_can_abort() {
        let d = tmpdir("abort");
        std::fs::File::create(d.join("a"))
            .unwrap()
            .write_all(&data(200000, 9))
            .unwrap();
        let req = HashRequest {
            files: vec![HashFile {
                path: d.join("a"),
                size: 200000,
                pad: false,
            }],
            piece_length: 16384,
            v1: true,
            v2: false,
            threads: 2,
        };
        let mut n = 0;
        let r = hash_files(&req, |_| {
            n += 1;
            n < 3
        });
        assert!(matches!(r, Err(HashError::Aborted)));
        assert_eq!(n, 3);
    }

    fn write(d: &std::path::Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = d.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    #[test]
    fn pieces_larger_than_a_read_hybrid() {
        // 1 MiB pieces are read in 64 KiB parts; file a's second piece has
        // a v2 part shorter than the piece, then a pad file.
        let d = tmpdir("large");
        let pl = 1u64 << 20;
        let a = data(1_300_000, 7);
        let b = data(2_600_000, 8);
        let req = HashRequest {
            files: vec![
                HashFile {
                    path: write(&d, "a", &a),
                    size: a.len() as u64,
                    pad: false,
                },
                HashFile {
                    path: PathBuf::new(),
                    size: 2 * pl - a.len() as u64,
                    pad: true,
                },
                HashFile {
                    path: write(&d, "b", &b),
                    size: b.len() as u64,
                    pad: false,
                },
            ],
            piece_length: pl,
            v1: true,
            v2: true,
            threads: 2,
        };
        let out = hash_files(&req, |_| true).unwrap();
        let mut all = a.clone();
        all.resize(2 * pl as usize, 0);
        all.extend_from_slice(&b);
        let want: Vec<Sha1Hash> = all.chunks(pl as usize).map(Sha1Hash::digest).collect();
        assert_eq!(out.v1, want);
        let ta = out.v2[0].as_ref().unwrap();
        assert_eq!(ta.root, naive_root(&a, 128));
        assert_eq!(ta.piece_layer[1], naive_root(&a[pl as usize..], 64));
        let tb = out.v2[2].as_ref().unwrap();
        assert_eq!(tb.root, naive_root(&b, 256));
        assert_eq!(tb.piece_layer.len(), 3);
        assert_eq!(tb.piece_layer[2], naive_root(&b[2 * pl as usize..], 64));
    }

    #[test]
    fn a_short_file_reports_the_pieces_before_it() {
        // Small pieces (several per read) and large pieces (several reads
        // per piece): the pieces before the missing bytes are reported.
        for (pl, on_disk, declared, before) in [
            (16384u64, 100_000usize, 200_000u64, 6u64),
            (1 << 20, 2_200_000, 3 << 20, 2),
        ] {
            let d = tmpdir("shortmid");
            let req = HashRequest {
                files: vec![HashFile {
                    path: write(&d, "a", &data(on_disk, 3)),
                    size: declared,
                    pad: false,
                }],
                piece_length: pl,
                v1: true,
                v2: true,
                threads: 1,
            };
            let mut seen = Vec::new();
            let r = hash_files(&req, |p| {
                seen.push(p);
                true
            });
            assert!(matches!(r, Err(HashError::FileTooShort { .. })), "{pl}");
            assert_eq!(seen, (0..before).collect::<Vec<_>>(), "{pl}");
        }
    }

    #[test]
    fn unaligned_v2_file_is_rejected() {
        let req = HashRequest {
            files: vec![
                HashFile {
                    path: PathBuf::new(),
                    size: 10,
                    pad: true,
                },
                HashFile {
                    path: PathBuf::from("x"),
                    size: 10,
                    pad: false,
                },
            ],
            piece_length: 16384,
            v1: false,
            v2: true,
            threads: 1,
        };
        assert!(matches!(
            hash_files(&req, |_| true),
            Err(HashError::Invalid(_))
        ));
    }
}
