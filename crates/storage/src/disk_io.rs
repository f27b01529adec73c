//! The disk I/O service: worker threads that run storage jobs off the
//! network thread and report completions through a non-blocking sink.
//!
//! # Threads and queues
//! Two pools: `aio_threads` workers run writes, reads and file-system jobs
//! (move, rename, delete, release, flush, initialise, priorities);
//! `hashing_threads` workers hash pieces; `checking_threads` workers (one
//! by default, like libtorrent's `active_checking`) check files, so a long
//! check does not hold up piece verification of other torrents. A check
//! reads and hashes its pieces on one scoped thread per core and verifies
//! them in piece order on its checking worker.
//!
//! # Ordering
//! Jobs of one storage run concurrently, except *fence* jobs (move, rename,
//! delete, release, flush, initialise, set priorities, check files, remove):
//! a fence waits for every job of that storage submitted before it, and jobs
//! submitted after it wait until it is done. A hash job waits for the writes
//! of its piece submitted before it.
//!
//! # Write cache and hashing on write
//! Written blocks are kept in a per-piece buffer. As blocks arrive the v1
//! SHA-1 state advances over the contiguous prefix, and with v2 each aligned
//! 16 KiB block's SHA-256 is taken, so a piece received in order needs no
//! re-read to be hashed. A piece's blocks are written to the files when the
//! piece is complete, when the cache exceeds its budget (least recently used
//! pieces first), when they have been idle for `write_cache_expiry`, and
//! before any read, hash or fence job of the storage. A [`Completion::Write`]
//! is sent only once its block is in the file, and a
//! [`Completion::Hash`] only after all of the piece's blocks are: a piece is
//! never reported done before it is written.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lt_core::{Sha1Hash, Sha256Hash};
use sha1::Digest as _;

use crate::error::{ErrorFile, Operation, Result, StorageError};
use crate::pool::FilePool;
use crate::storage::{DeleteFlags, MoveFlags, StorageParams, TorrentStorage};

/// Size of a v2 merkle leaf block.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// Identifies a storage registered with [`DiskIo::add_storage`].
pub type StorageId = u32;

/// Configuration of the service, from the session settings of the same
/// names.
#[derive(Clone, Debug)]
pub struct DiskIoConfig {
    /// Worker threads for reads, writes and file-system jobs (`aio_threads`).
    pub aio_threads: usize,
    /// Worker threads for piece hashing (`hashing_threads`).
    pub hashing_threads: usize,
    /// Worker threads for file checks, i.e. how many torrents are checked at
    /// once (`active_checking`).
    pub checking_threads: usize,
    /// Most files kept open across all storages (`file_pool_size`).
    pub file_pool_size: usize,
    /// Most bytes of written blocks kept in memory before the least recently
    /// used pieces are written out (`cache_size` × 16 KiB). Keep it below the
    /// engine's `max_queued_disk_bytes`, or the engine may stop receiving
    /// while waiting for write completions.
    pub cache_bytes: usize,
    /// Buffered blocks of a piece idle this long are written out.
    pub write_cache_expiry: Duration,
}

impl Default for DiskIoConfig {
    fn default() -> Self {
        Self {
            aio_threads: 10,
            hashing_threads: 1,
            checking_threads: 1,
            file_pool_size: 40,
            cache_bytes: 2048 * BLOCK_SIZE as usize,
            write_cache_expiry: Duration::from_secs(10),
        }
    }
}

impl DiskIoConfig {
    /// Builds the configuration from libtorrent setting values:
    /// `aio_threads`, `hashing_threads`, `file_pool_size`, `cache_size` (in
    /// 16 KiB blocks) and `max_queued_disk_bytes` (the cache is capped at
    /// half of it). Non-positive values take the minimum (1 thread, 1 file,
    /// one block).
    pub fn from_settings(
        aio_threads: i64,
        hashing_threads: i64,
        file_pool_size: i64,
        cache_size: i64,
        max_queued_disk_bytes: i64,
    ) -> Self {
        let pos = |v: i64| usize::try_from(v).unwrap_or(0).max(1);
        let cache = pos(cache_size).saturating_mul(BLOCK_SIZE as usize);
        let cap = pos(max_queued_disk_bytes / 2).max(BLOCK_SIZE as usize);
        Self {
            aio_threads: pos(aio_threads),
            hashing_threads: pos(hashing_threads),
            checking_threads: 1,
            file_pool_size: pos(file_pool_size),
            cache_bytes: cache.min(cap),
            write_cache_expiry: Duration::from_secs(10),
        }
    }
}

/// Which hashes a storage's pieces are verified with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKinds {
    /// SHA-1 of the whole piece (v1 and hybrid torrents).
    pub v1: bool,
    /// SHA-256 of each 16 KiB block of the piece (v2 and hybrid torrents).
    pub v2: bool,
}

impl HashKinds {
    /// v1 only.
    pub const V1: HashKinds = HashKinds {
        v1: true,
        v2: false,
    };
    /// v2 only.
    pub const V2: HashKinds = HashKinds {
        v1: false,
        v2: true,
    };
    /// Hybrid.
    pub const BOTH: HashKinds = HashKinds { v1: true, v2: true };
}

/// The hashes of one piece.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PieceHash {
    /// SHA-1 of the piece (pad bytes included as zeros), if v1 is wanted.
    pub v1: Option<Sha1Hash>,
    /// SHA-256 of each 16 KiB block of the piece's file data (the last one
    /// may be shorter; bytes of pad files are not covered), if v2 is wanted.
    /// The engine combines them into the piece's merkle root.
    pub v2_blocks: Vec<Sha256Hash>,
}

/// Result of a finished (or aborted) file check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// One flag per piece: `true` when its data is on disk and verified.
    pub have: Vec<bool>,
    /// True when [`DiskIo::abort_check`] stopped the check early; `have`
    /// then only covers the pieces checked so far.
    pub aborted: bool,
}

/// Decides whether a checked piece is valid, given its hashes. Called on a
/// hashing thread.
pub type PieceVerifier = Box<dyn FnMut(u32, &PieceHash) -> bool + Send>;

/// The outcome of a job, sent to the [`CompletionSink`].
#[derive(Debug)]
pub enum Completion {
    /// A block is written to its file(s), or failed to be.
    Write {
        storage: StorageId,
        piece: u32,
        offset: u32,
        len: u32,
        result: Result<()>,
    },
    /// A block read for upload.
    Read {
        storage: StorageId,
        piece: u32,
        offset: u32,
        result: Result<Vec<u8>>,
    },
    /// A piece's hashes; all its blocks are on disk when this is `Ok`.
    Hash {
        storage: StorageId,
        piece: u32,
        result: Result<PieceHash>,
    },
    /// SHA-256 of one 16 KiB block (v2 block verification).
    BlockHash {
        storage: StorageId,
        piece: u32,
        offset: u32,
        result: Result<Sha256Hash>,
    },
    /// A file check found data on disk and is reading it (a check of a
    /// torrent with nothing on disk finishes without this).
    CheckStarted { storage: StorageId },
    /// Progress of a file check: `checked` of `total` pieces done.
    CheckProgress {
        storage: StorageId,
        checked: u32,
        total: u32,
    },
    /// A file check is finished.
    CheckDone {
        storage: StorageId,
        result: Result<CheckResult>,
    },
    /// Storage moved; `Ok` holds the new save path.
    Moved {
        storage: StorageId,
        result: Result<PathBuf>,
    },
    /// File renamed; `Ok` holds its new absolute path.
    Renamed {
        storage: StorageId,
        file: usize,
        result: Result<PathBuf>,
    },
    /// Files deleted.
    Deleted {
        storage: StorageId,
        result: Result<()>,
    },
    /// Buffered writes flushed and open files closed.
    Released {
        storage: StorageId,
        result: Result<()>,
    },
    /// All writes submitted before the flush are in their files.
    Flushed {
        storage: StorageId,
        result: Result<()>,
    },
    /// [`DiskIo::async_initialize`] done.
    Initialized {
        storage: StorageId,
        result: Result<()>,
    },
    /// [`DiskIo::async_set_file_priorities`] done.
    PrioritiesSet {
        storage: StorageId,
        result: Result<()>,
    },
    /// The storage is flushed, closed and forgotten.
    Removed {
        storage: StorageId,
        result: Result<()>,
    },
}

/// Receives completions. Must not block: it is called on worker threads
/// (and, for jobs rejected up front, on the submitting thread).
///
/// Implemented for `std::sync::mpsc::Sender<Completion>` and for closures;
/// an engine on tokio passes e.g.
/// `move |c| { let _ = tx.send(c); }` with an unbounded tokio sender.
pub trait CompletionSink: Send + Sync + 'static {
    /// Delivers one completion.
    fn complete(&self, c: Completion);
}

impl CompletionSink for std::sync::mpsc::Sender<Completion> {
    fn complete(&self, c: Completion) {
        // The receiver being gone means nobody is interested any more.
        let _ = self.send(c);
    }
}

impl<F: Fn(Completion) + Send + Sync + 'static> CompletionSink for F {
    fn complete(&self, c: Completion) {
        self(c)
    }
}

/// Counters of the service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Bytes of written blocks held in memory.
    pub buffered_bytes: usize,
    /// Pieces with cache state.
    pub cached_pieces: usize,
    /// Files open in the pool.
    pub open_files: usize,
    /// Jobs submitted and not yet completed.
    pub pending_jobs: usize,
}

enum JobKind {
    Write {
        entry: Arc<PieceEntry>,
        offset: u32,
        data: Bytes,
    },
    Read {
        piece: u32,
        offset: u32,
        len: u32,
    },
    Hash {
        piece: u32,
    },
    BlockHash {
        piece: u32,
        offset: u32,
    },
    Check {
        verifier: PieceVerifier,
    },
    Move {
        path: PathBuf,
        flags: MoveFlags,
    },
    Rename {
        file: usize,
        path: PathBuf,
    },
    Delete {
        flags: DeleteFlags,
    },
    Release,
    Flush,
    Initialize,
    SetPriorities {
        prios: Vec<u8>,
    },
    Remove,
}

impl JobKind {
    fn is_fence(&self) -> bool {
        !matches!(
            self,
            JobKind::Write { .. }
                | JobKind::Read { .. }
                | JobKind::Hash { .. }
                | JobKind::BlockHash { .. }
        )
    }
    fn pool(&self) -> Pool {
        match self {
            JobKind::Hash { .. } | JobKind::BlockHash { .. } => Pool::Hash,
            JobKind::Check { .. } => Pool::Check,
            _ => Pool::Aio,
        }
    }
}

struct Job {
    slot: Arc<Slot>,
    kind: JobKind,
}

#[derive(Default)]
struct Sched {
    outstanding: usize,
    fence_running: bool,
    blocked: VecDeque<Job>,
}

struct Slot {
    id: StorageId,
    storage: TorrentStorage,
    kinds: HashKinds,
    sched: Mutex<Sched>,
    abort_check: AtomicBool,
    removed: AtomicBool,
}

/// Ranges `[start, end)` received for a piece, sorted and disjoint.
#[derive(Default)]
struct RangeSet(Vec<(u32, u32)>);

impl RangeSet {
    fn add(&mut self, start: u32, end: u32) {
        let (mut s, mut e) = (start, end);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.0 {
            if b < s {
                out.push((a, b));
            } else if a > e {
                if !placed {
                    out.push((s, e));
                    placed = true;
                }
                out.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        if !placed {
            out.push((s, e));
        }
        self.0 = out;
    }
    fn remove(&mut self, start: u32, end: u32) {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if b <= start || a >= end {
                out.push((a, b));
                continue;
            }
            if a < start {
                out.push((a, start));
            }
            if b > end {
                out.push((end, b));
            }
        }
        self.0 = out;
    }
    fn covers(&self, size: u32) -> bool {
        size == 0 || self.0.first() == Some(&(0, size))
    }
}

#[derive(Default)]
struct PieceState {
    /// Blocks in memory, not yet written, by offset. They are slices of
    /// the buffers the engine received them in (no copy).
    blocks: BTreeMap<u32, Bytes>,
    /// Write jobs waiting for their block to reach the file.
    waiters: Vec<(u32, u32)>,
    received: RangeSet,
    v1: Option<sha1::Sha1>,
    hashed_upto: u32,
    v2: Vec<Option<Sha256Hash>>,
    v2_len: Option<u32>,
    deferred: Option<Job>,
    /// The piece's pad-file ranges were added to `received` (they are never
    /// written, so without them a piece with padding would never complete).
    pads_marked: bool,
    /// The piece's disk blocks were reserved before its first write.
    reserved: bool,
}

struct PieceEntry {
    slot: Arc<Slot>,
    piece: u32,
    pending: AtomicUsize,
    buffered: AtomicUsize,
    last_use: AtomicU64,
    st: Mutex<PieceState>,
}

/// A job queue of one pool.
///
/// A worker is woken for a new job only when there are more queued jobs
/// than workers awake (between jobs or running a short one): a worker
/// already awake takes the next job when it is done, so a stream of small
/// jobs (blocks to write) does not wake a thread per job. A worker running
/// a fence job (which may take long: a move, a delete) does not count as
/// awake, so jobs behind it get a worker of their own.
struct Queue {
    q: Mutex<VecDeque<Job>>,
    cv: Condvar,
    /// Workers awake and not running a fence job. Decremented only with
    /// `q` locked, so a dispatcher holding `q` never counts a worker that is
    /// about to sleep.
    awake: AtomicUsize,
}

impl Queue {
    fn new() -> Self {
        Queue {
            q: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
            awake: AtomicUsize::new(0),
        }
    }
}

struct Shared {
    pool: Arc<FilePool>,
    sink: Box<dyn CompletionSink>,
    cfg: DiskIoConfig,
    storages: Mutex<HashMap<StorageId, Arc<Slot>>>,
    next_id: AtomicU32,
    aio: Queue,
    hash: Queue,
    check: Queue,
    cache: Mutex<HashMap<(StorageId, u32), Arc<PieceEntry>>>,
    buffered: AtomicUsize,
    epoch: Instant,
    pending_jobs: AtomicUsize,
    shutdown: AtomicBool,
    /// Set by [`DiskIo::hold_wakeups`]: IO workers are not woken for new
    /// jobs (up to `HOLD_MAX` queued) until [`DiskIo::release_wakeups`].
    hold: AtomicBool,
}

/// Most jobs queued beyond the awake workers while wake-ups are held.
const HOLD_MAX: usize = 32;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn clone_err(e: &StorageError) -> StorageError {
    let io = match e.error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.error.kind(), e.error.to_string()),
    };
    StorageError::new(io, e.file, e.operation)
}

fn invalid(msg: &str, op: Operation) -> StorageError {
    StorageError::new(
        io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()),
        ErrorFile::None,
        op,
    )
}

/// The disk I/O service. See the [module documentation](self).
///
/// All `async_*` methods return at once; their result arrives later as a
/// [`Completion`]. Dropping the service runs every job already submitted,
/// writes out the cache, and joins the threads.
pub struct DiskIo {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl DiskIo {
    /// Starts the worker threads. `sink` receives every completion.
    pub fn new(cfg: DiskIoConfig, sink: impl CompletionSink) -> io::Result<Self> {
        Self::with_pool(cfg, sink, None)
    }

    /// Like [`new`](Self::new), sharing an existing file pool.
    pub fn with_pool(
        cfg: DiskIoConfig,
        sink: impl CompletionSink,
        pool: Option<Arc<FilePool>>,
    ) -> io::Result<Self> {
        let pool = pool.unwrap_or_else(|| Arc::new(FilePool::new(cfg.file_pool_size)));
        let shared = Arc::new(Shared {
            pool,
            sink: Box::new(sink),
            cfg: cfg.clone(),
            storages: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(0),
            aio: Queue::new(),
            hash: Queue::new(),
            check: Queue::new(),
            cache: Mutex::new(HashMap::new()),
            buffered: AtomicUsize::new(0),
            epoch: Instant::now(),
            pending_jobs: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            hold: AtomicBool::new(false),
        });
        // Built first so that a failed spawn drops it, which stops and joins
        // the threads already started.
        let mut me = DiskIo {
            shared: shared.clone(),
            threads: Vec::new(),
        };
        for i in 0..cfg.aio_threads.max(1) {
            let s = shared.clone();
            me.threads.push(
                std::thread::Builder::new()
                    .name(format!("lt-disk-{i}"))
                    .spawn(move || worker(s, Pool::Aio))?,
            );
        }
        for i in 0..cfg.hashing_threads.max(1) {
            let s = shared.clone();
            me.threads.push(
                std::thread::Builder::new()
                    .name(format!("lt-hash-{i}"))
                    .spawn(move || worker(s, Pool::Hash))?,
            );
        }
        for i in 0..cfg.checking_threads.max(1) {
            let s = shared.clone();
            me.threads.push(
                std::thread::Builder::new()
                    .name(format!("lt-check-{i}"))
                    .spawn(move || worker(s, Pool::Check))?,
            );
        }
        Ok(me)
    }

    /// The shared file pool.
    pub fn file_pool(&self) -> &Arc<FilePool> {
        &self.shared.pool
    }

    /// Registers a torrent's storage. Does no IO.
    pub fn add_storage(&self, params: StorageParams, kinds: HashKinds) -> StorageId {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            id,
            storage: TorrentStorage::new(params, self.shared.pool.clone()),
            kinds,
            sched: Mutex::new(Sched::default()),
            abort_check: AtomicBool::new(false),
            removed: AtomicBool::new(false),
        });
        lock(&self.shared.storages).insert(id, slot);
        id
    }

    /// Current save path of a storage.
    pub fn save_path(&self, id: StorageId) -> Option<PathBuf> {
        self.slot(id).map(|s| s.storage.save_path())
    }

    /// Counters.
    pub fn stats(&self) -> DiskStats {
        DiskStats {
            buffered_bytes: self.shared.buffered.load(Ordering::Relaxed),
            cached_pieces: lock(&self.shared.cache).len(),
            open_files: self.shared.pool.open_count(),
            pending_jobs: self.shared.pending_jobs.load(Ordering::Relaxed),
        }
    }

    /// The files of storage `id` the pool holds open.
    pub fn open_files(&self, id: StorageId) -> Vec<crate::pool::OpenFile> {
        self.slot(id)
            .map(|s| self.shared.pool.open_files(s.storage.uid()))
            .unwrap_or_default()
    }

    fn slot(&self, id: StorageId) -> Option<Arc<Slot>> {
        lock(&self.shared.storages).get(&id).cloned()
    }

    /// Queues `kind`, or reports `unknown` when the storage does not exist.
    fn submit(&self, id: StorageId, kind: JobKind) {
        match self.slot(id) {
            Some(slot) => self.shared.submit(Job { slot, kind }),
            None => self.shared.sink.complete(unknown_storage(id, kind)),
        }
    }

    /// Writes a block (`data` at `offset` inside `piece`). Completes with
    /// [`Completion::Write`] once the block is in its file(s). `data` is
    /// kept as is until written (a `Bytes` slice of a receive buffer is not
    /// copied).
    pub fn async_write(&self, id: StorageId, piece: u32, offset: u32, data: impl Into<Bytes>) {
        let data: Bytes = data.into();
        let Some(slot) = self.slot(id) else {
            return self.shared.sink.complete(Completion::Write {
                storage: id,
                piece,
                offset,
                len: data.len() as u32,
                result: Err(no_storage(id)),
            });
        };
        let layout = slot.storage.layout();
        let len = data.len() as u64;
        if piece >= layout.num_pieces()
            || data.is_empty()
            || u64::from(offset) + len > u64::from(layout.piece_size(piece))
        {
            return self.shared.sink.complete(Completion::Write {
                storage: id,
                piece,
                offset,
                len: data.len() as u32,
                result: Err(invalid("block out of range", Operation::FileWrite)),
            });
        }
        let entry = self.shared.entry_for_write(&slot, piece);
        self.shared.submit(Job {
            slot,
            kind: JobKind::Write {
                entry,
                offset,
                data,
            },
        });
    }

    /// Holds back waking IO workers for jobs submitted from now on, until
    /// [`release_wakeups`](Self::release_wakeups), so that a batch of
    /// blocks (e.g. everything parsed from one socket read) wakes one worker
    /// instead of one per block. A held job still wakes a worker when more
    /// than a few dozen are queued, and an idle worker looks at the queue at
    /// least every 500 ms, so a forgotten release delays but never strands
    /// a job.
    pub fn hold_wakeups(&self) {
        self.shared.hold.store(true, Ordering::Release);
    }

    /// Ends [`hold_wakeups`](Self::hold_wakeups) and wakes a worker if jobs
    /// are queued and none is awake to take them.
    pub fn release_wakeups(&self) {
        if self.shared.hold.swap(false, Ordering::AcqRel) {
            let q = &self.shared.aio;
            let wake = lock(&q.q).len() > q.awake.load(Ordering::Acquire);
            if wake {
                q.cv.notify_one();
            }
        }
    }

    /// Reads `len` bytes at `offset` inside `piece`, for upload.
    pub fn async_read(&self, id: StorageId, piece: u32, offset: u32, len: u32) {
        self.submit(id, JobKind::Read { piece, offset, len });
    }

    /// Reads `len` bytes at `offset` inside `piece` for upload on the
    /// calling thread, when that cannot wait for the disk
    /// ([`TorrentStorage::read_cached`]: open files, bytes in the page
    /// cache), the storage has no job that must finish first (a move,
    /// rename, release or delete running or queued) and the piece has no
    /// state in the write cache. `None` otherwise: then use
    /// [`async_read`](Self::async_read). Serving cached blocks this way
    /// spares a disk thread's wake-up and a completion per read.
    pub fn read_cached(&self, id: StorageId, piece: u32, offset: u32, len: u32) -> Option<Vec<u8>> {
        let slot = self.slot(id)?;
        {
            let s = lock(&slot.sched);
            if s.fence_running || !s.blocked.is_empty() {
                return None;
            }
        }
        if lock(&self.shared.cache).contains_key(&(id, piece)) {
            return None;
        }
        slot.storage.read_cached(piece, offset, len)
    }

    /// Hashes a piece (the kinds given to [`add_storage`](Self::add_storage)),
    /// after the writes of that piece submitted before it. Uses the hash
    /// state accumulated while writing when it can, otherwise reads the
    /// piece back. The piece's cache state is dropped afterwards.
    pub fn async_hash(&self, id: StorageId, piece: u32) {
        self.submit(id, JobKind::Hash { piece });
    }

    /// SHA-256 of the 16 KiB block at `offset` (a multiple of 16 KiB) of
    /// `piece`, read from disk (v2 block verification).
    pub fn async_hash_block(&self, id: StorageId, piece: u32, offset: u32) {
        self.submit(id, JobKind::BlockHash { piece, offset });
    }

    /// Checks the existing files: every piece whose files exist and are long
    /// enough is read and hashed, and `verifier` decides if it is valid;
    /// pieces of missing files are not read. Progress comes as
    /// [`Completion::CheckProgress`], the result as
    /// [`Completion::CheckDone`]. Write caches of the storage are discarded
    /// after being written out.
    pub fn async_check_files(&self, id: StorageId, verifier: PieceVerifier) {
        if let Some(slot) = self.slot(id) {
            slot.abort_check.store(false, Ordering::Release);
        }
        self.submit(id, JobKind::Check { verifier });
    }

    /// Asks a running or queued check of `id` to stop; it then completes
    /// with `aborted: true`.
    pub fn abort_check(&self, id: StorageId) {
        if let Some(slot) = self.slot(id) {
            slot.abort_check.store(true, Ordering::Release);
        }
    }

    /// Moves the storage to `path`.
    pub fn async_move_storage(&self, id: StorageId, path: PathBuf, flags: MoveFlags) {
        self.submit(id, JobKind::Move { path, flags });
    }

    /// Renames file `file` to `path` (relative to the save path or absolute).
    pub fn async_rename_file(&self, id: StorageId, file: usize, path: PathBuf) {
        self.submit(id, JobKind::Rename { file, path });
    }

    /// Deletes the storage's files (buffered writes are discarded).
    pub fn async_delete_files(&self, id: StorageId, flags: DeleteFlags) {
        self.submit(id, JobKind::Delete { flags });
    }

    /// Writes out buffered blocks and closes the storage's files.
    pub fn async_release_files(&self, id: StorageId) {
        self.submit(id, JobKind::Release);
    }

    /// Writes out every buffered block of the storage.
    pub fn async_flush(&self, id: StorageId) {
        self.submit(id, JobKind::Flush);
    }

    /// Creates symlinks and empty files and, in allocate mode, allocates the
    /// files ([`TorrentStorage::initialize`]).
    pub fn async_initialize(&self, id: StorageId) {
        self.submit(id, JobKind::Initialize);
    }

    /// Changes file priorities ([`TorrentStorage::set_file_priorities`]).
    pub fn async_set_file_priorities(&self, id: StorageId, prios: Vec<u8>) {
        self.submit(id, JobKind::SetPriorities { prios });
    }

    /// Flushes and closes the storage, then forgets it. Jobs submitted for
    /// it afterwards complete with a `NotFound` error.
    pub fn remove_storage(&self, id: StorageId) {
        self.submit(id, JobKind::Remove);
    }
}

impl Drop for DiskIo {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.wake_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Every job has run; write out whatever is still buffered.
        let entries: Vec<Arc<PieceEntry>> = lock(&self.shared.cache).values().cloned().collect();
        for e in entries {
            self.shared.flush_entry(&e);
        }
    }
}

fn no_storage(id: StorageId) -> StorageError {
    StorageError::new(
        io::Error::new(io::ErrorKind::NotFound, format!("no storage {id}")),
        ErrorFile::None,
        Operation::File,
    )
}

/// What a job was, without its payload: enough to report its failure.
#[derive(Clone, Copy)]
enum Tag {
    Write { piece: u32, offset: u32, len: u32 },
    Read { piece: u32, offset: u32 },
    Hash { piece: u32 },
    BlockHash { piece: u32, offset: u32 },
    Check,
    Move,
    Rename { file: usize },
    Delete,
    Release,
    Flush,
    Initialize,
    SetPriorities,
    Remove,
}

impl JobKind {
    fn tag(&self) -> Tag {
        match self {
            JobKind::Write {
                entry,
                offset,
                data,
            } => Tag::Write {
                piece: entry.piece,
                offset: *offset,
                len: data.len() as u32,
            },
            JobKind::Read { piece, offset, .. } => Tag::Read {
                piece: *piece,
                offset: *offset,
            },
            JobKind::Hash { piece } => Tag::Hash { piece: *piece },
            JobKind::BlockHash { piece, offset } => Tag::BlockHash {
                piece: *piece,
                offset: *offset,
            },
            JobKind::Check { .. } => Tag::Check,
            JobKind::Move { .. } => Tag::Move,
            JobKind::Rename { file, .. } => Tag::Rename { file: *file },
            JobKind::Delete { .. } => Tag::Delete,
            JobKind::Release => Tag::Release,
            JobKind::Flush => Tag::Flush,
            JobKind::Initialize => Tag::Initialize,
            JobKind::SetPriorities { .. } => Tag::SetPriorities,
            JobKind::Remove => Tag::Remove,
        }
    }
}

/// The completion reporting that a job failed with `e`.
fn failed(storage: StorageId, tag: Tag, e: StorageError) -> Completion {
    match tag {
        Tag::Write { piece, offset, len } => Completion::Write {
            storage,
            piece,
            offset,
            len,
            result: Err(e),
        },
        Tag::Read { piece, offset } => Completion::Read {
            storage,
            piece,
            offset,
            result: Err(e),
        },
        Tag::Hash { piece } => Completion::Hash {
            storage,
            piece,
            result: Err(e),
        },
        Tag::BlockHash { piece, offset } => Completion::BlockHash {
            storage,
            piece,
            offset,
            result: Err(e),
        },
        Tag::Check => Completion::CheckDone {
            storage,
            result: Err(e),
        },
        Tag::Move => Completion::Moved {
            storage,
            result: Err(e),
        },
        Tag::Rename { file } => Completion::Renamed {
            storage,
            file,
            result: Err(e),
        },
        Tag::Delete => Completion::Deleted {
            storage,
            result: Err(e),
        },
        Tag::Release => Completion::Released {
            storage,
            result: Err(e),
        },
        Tag::Flush => Completion::Flushed {
            storage,
            result: Err(e),
        },
        Tag::Initialize => Completion::Initialized {
            storage,
            result: Err(e),
        },
        Tag::SetPriorities => Completion::PrioritiesSet {
            storage,
            result: Err(e),
        },
        Tag::Remove => Completion::Removed {
            storage,
            result: Err(e),
        },
    }
}

fn unknown_storage(id: StorageId, kind: JobKind) -> Completion {
    failed(id, kind.tag(), no_storage(id))
}

enum Outcome {
    Done,
    Deferred,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    Aio,
    Hash,
    Check,
}

fn worker(shared: Arc<Shared>, pool: Pool) {
    let queue = shared.queue(pool);
    let tick = Duration::from_millis(500);
    queue.awake.fetch_add(1, Ordering::AcqRel);
    loop {
        let job = {
            let mut q = lock(&queue.q);
            loop {
                if let Some(j) = q.pop_front() {
                    if j.kind.is_fence() {
                        queue.awake.fetch_sub(1, Ordering::AcqRel);
                    }
                    break Some(j);
                }
                if shared.shutdown.load(Ordering::Acquire)
                    && shared.pending_jobs.load(Ordering::Acquire) == 0
                {
                    queue.awake.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
                queue.awake.fetch_sub(1, Ordering::AcqRel);
                let (g, timeout) = queue
                    .cv
                    .wait_timeout(q, tick)
                    .unwrap_or_else(|e| e.into_inner());
                q = g;
                queue.awake.fetch_add(1, Ordering::AcqRel);
                if timeout.timed_out() && q.is_empty() {
                    break None;
                }
            }
        };
        match job {
            Some(job) => {
                let slot = job.slot.clone();
                let fence = job.kind.is_fence();
                let tag = job.kind.tag();
                // A bug in a job must not kill the worker or leave the
                // storage's queue blocked: report the job as failed.
                let run =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.execute(job)));
                match run {
                    Ok(Outcome::Deferred) => {}
                    Ok(Outcome::Done) => shared.job_done(&slot, fence),
                    Err(_) => {
                        let e = StorageError::new(
                            io::Error::other("internal error in disk job"),
                            ErrorFile::None,
                            Operation::File,
                        );
                        shared.sink.complete(failed(slot.id, tag, e));
                        shared.job_done(&slot, fence);
                    }
                }
                if fence {
                    // Not counted while it ran (see `Queue`).
                    queue.awake.fetch_add(1, Ordering::AcqRel);
                }
            }
            None => {
                if pool == Pool::Aio {
                    shared.expire_idle();
                }
            }
        }
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn wake_all(&self) {
        // Take each queue lock so a worker between its check and its wait
        // cannot miss the notification.
        drop(lock(&self.aio.q));
        self.aio.cv.notify_all();
        drop(lock(&self.hash.q));
        self.hash.cv.notify_all();
        drop(lock(&self.check.q));
        self.check.cv.notify_all();
    }

    fn queue(&self, pool: Pool) -> &Queue {
        match pool {
            Pool::Aio => &self.aio,
            Pool::Hash => &self.hash,
            Pool::Check => &self.check,
        }
    }

    /// The piece's cache entry, created if needed, with one more pending
    /// write. Counted under the cache lock so that an entry with pending
    /// writes is never dropped (see `drop_entry_if_idle`).
    fn entry_for_write(&self, slot: &Arc<Slot>, piece: u32) -> Arc<PieceEntry> {
        let mut cache = lock(&self.cache);
        let e = cache
            .entry((slot.id, piece))
            .or_insert_with(|| {
                Arc::new(PieceEntry {
                    slot: slot.clone(),
                    piece,
                    pending: AtomicUsize::new(0),
                    buffered: AtomicUsize::new(0),
                    last_use: AtomicU64::new(self.now_ms()),
                    st: Mutex::new(PieceState::default()),
                })
            })
            .clone();
        e.pending.fetch_add(1, Ordering::AcqRel);
        e
    }

    fn submit(&self, job: Job) {
        self.pending_jobs.fetch_add(1, Ordering::AcqRel);
        let fence = job.kind.is_fence();
        let slot = job.slot.clone();
        let mut s = lock(&slot.sched);
        if s.fence_running || !s.blocked.is_empty() || (fence && s.outstanding > 0) {
            s.blocked.push_back(job);
            return;
        }
        s.outstanding += 1;
        if fence {
            s.fence_running = true;
        }
        drop(s);
        self.dispatch(job);
    }

    fn dispatch(&self, job: Job) {
        let pool = job.kind.pool();
        let q = self.queue(pool);
        let wake = {
            let mut jobs = lock(&q.q);
            jobs.push_back(job);
            let awake = q.awake.load(Ordering::Acquire);
            let held = pool == Pool::Aio
                && self.hold.load(Ordering::Acquire)
                && jobs.len() <= awake + HOLD_MAX;
            jobs.len() > awake && !held
        };
        if wake {
            q.cv.notify_one();
        }
    }

    fn job_done(&self, slot: &Arc<Slot>, fence: bool) {
        let mut ready = Vec::new();
        {
            let mut s = lock(&slot.sched);
            s.outstanding -= 1;
            if fence {
                s.fence_running = false;
            }
            while !s.fence_running {
                let Some(front) = s.blocked.front() else {
                    break;
                };
                if front.kind.is_fence() {
                    if s.outstanding == 0 {
                        if let Some(j) = s.blocked.pop_front() {
                            s.outstanding += 1;
                            s.fence_running = true;
                            ready.push(j);
                        }
                    }
                    break;
                }
                if let Some(j) = s.blocked.pop_front() {
                    s.outstanding += 1;
                    ready.push(j);
                }
            }
        }
        for j in ready {
            self.dispatch(j);
        }
        if self.pending_jobs.fetch_sub(1, Ordering::AcqRel) == 1
            && self.shutdown.load(Ordering::Acquire)
        {
            self.wake_all();
        }
    }

    fn execute(&self, job: Job) -> Outcome {
        let Job { slot, kind } = job;
        let id = slot.id;
        if slot.removed.load(Ordering::Acquire) {
            let mut deferred = None;
            if let JobKind::Write { entry, .. } = &kind {
                let mut ps = lock(&entry.st);
                if entry.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    deferred = ps.deferred.take();
                }
            }
            self.sink.complete(unknown_storage(id, kind));
            // A hash waiting for this write fails the same way.
            if let Some(j) = deferred {
                self.dispatch(j);
            }
            return Outcome::Done;
        }
        let st = &slot.storage;
        let c = match kind {
            JobKind::Write {
                entry,
                offset,
                data,
            } => {
                self.do_write(&slot, entry, offset, data);
                return Outcome::Done;
            }
            JobKind::Read { piece, offset, len } => {
                let result = self.do_read(&slot, piece, offset, len);
                Completion::Read {
                    storage: id,
                    piece,
                    offset,
                    result,
                }
            }
            JobKind::Hash { piece } => {
                let entry = lock(&self.cache).get(&(id, piece)).cloned();
                if let Some(entry) = entry {
                    let mut ps = lock(&entry.st);
                    if entry.pending.load(Ordering::Acquire) > 0 {
                        ps.deferred = Some(Job {
                            slot: slot.clone(),
                            kind: JobKind::Hash { piece },
                        });
                        return Outcome::Deferred;
                    }
                    self.flush_locked(&entry, &mut ps);
                    let result = hash_piece(&slot, piece, Some(&mut ps));
                    *ps = PieceState::default();
                    drop(ps);
                    self.drop_entry_if_idle(&entry);
                    Completion::Hash {
                        storage: id,
                        piece,
                        result,
                    }
                } else {
                    Completion::Hash {
                        storage: id,
                        piece,
                        result: hash_piece(&slot, piece, None),
                    }
                }
            }
            JobKind::BlockHash { piece, offset } => {
                let result = self.do_block_hash(&slot, piece, offset);
                Completion::BlockHash {
                    storage: id,
                    piece,
                    offset,
                    result,
                }
            }
            JobKind::Check { verifier } => {
                let result = self
                    .flush_storage(&slot, true)
                    .and_then(|_| self.do_check(&slot, verifier));
                Completion::CheckDone {
                    storage: id,
                    result,
                }
            }
            JobKind::Move { path, flags } => {
                let result = self
                    .flush_storage(&slot, false)
                    .and_then(|_| st.move_storage(&path, flags));
                Completion::Moved {
                    storage: id,
                    result,
                }
            }
            JobKind::Rename { file, path } => {
                let result = self
                    .flush_storage(&slot, false)
                    .and_then(|_| st.rename_file(file, &path));
                Completion::Renamed {
                    storage: id,
                    file,
                    result,
                }
            }
            JobKind::Delete { flags } => {
                if flags == DeleteFlags::Files {
                    self.discard_storage(&slot);
                }
                Completion::Deleted {
                    storage: id,
                    result: st.delete_files(flags),
                }
            }
            JobKind::Release => {
                let result = self.flush_storage(&slot, false);
                st.release_files();
                Completion::Released {
                    storage: id,
                    result,
                }
            }
            JobKind::Flush => Completion::Flushed {
                storage: id,
                result: self.flush_storage(&slot, false),
            },
            JobKind::Initialize => Completion::Initialized {
                storage: id,
                result: st.initialize(),
            },
            JobKind::SetPriorities { prios } => {
                let result = self
                    .flush_storage(&slot, false)
                    .and_then(|_| st.set_file_priorities(&prios));
                Completion::PrioritiesSet {
                    storage: id,
                    result,
                }
            }
            JobKind::Remove => {
                let result = self.flush_storage(&slot, true);
                st.release_files();
                slot.removed.store(true, Ordering::Release);
                lock(&self.storages).remove(&id);
                Completion::Removed {
                    storage: id,
                    result,
                }
            }
        };
        self.sink.complete(c);
        Outcome::Done
    }

    fn do_write(&self, slot: &Arc<Slot>, entry: Arc<PieceEntry>, offset: u32, data: Bytes) {
        let piece = entry.piece;
        entry.last_use.store(self.now_ms(), Ordering::Relaxed);
        let len = data.len() as u32;
        let size = slot.storage.layout().piece_size(piece);
        let deferred = {
            let mut ps = lock(&entry.st);
            // v2: hash an aligned whole block right away.
            if slot.kinds.v2 && offset.is_multiple_of(BLOCK_SIZE) {
                let v2_len = *ps
                    .v2_len
                    .get_or_insert_with(|| slot.storage.v2_piece_len(piece));
                if offset < v2_len && len == (v2_len - offset).min(BLOCK_SIZE) {
                    let n = v2_len.div_ceil(BLOCK_SIZE) as usize;
                    if ps.v2.len() != n {
                        ps.v2 = vec![None; n];
                    }
                    if let Some(s) = ps.v2.get_mut((offset / BLOCK_SIZE) as usize) {
                        *s = Some(Sha256Hash::digest(&data));
                    }
                }
            }
            if !ps.pads_marked {
                ps.pads_marked = true;
                let layout = slot.storage.layout();
                let mut at = 0u32;
                for sl in layout.map_block(piece, 0, size) {
                    let n = sl.size as u32;
                    if layout.pad_file_at(sl.file_index) {
                        ps.received.add(at, at + n);
                    }
                    at += n;
                }
            }
            ps.received.add(offset, offset + len);
            ps.waiters.push((offset, len));
            let added = data.len();
            if let Some(old) = ps.blocks.insert(offset, data) {
                entry.buffered.fetch_sub(old.len(), Ordering::Relaxed);
                self.buffered.fetch_sub(old.len(), Ordering::Relaxed);
            }
            entry.buffered.fetch_add(added, Ordering::Relaxed);
            self.buffered.fetch_add(added, Ordering::Relaxed);
            if slot.kinds.v1 {
                advance_v1(&mut ps);
            }
            if ps.received.covers(size) {
                self.flush_locked(&entry, &mut ps);
            }
            if entry.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                ps.deferred.take()
            } else {
                None
            }
        };
        if let Some(j) = deferred {
            self.dispatch(j);
        }
        self.enforce_budget();
    }

    /// Writes out the piece's buffered blocks and sends the completions of
    /// the waiting write jobs. Called with the piece's lock held, so that no
    /// hash completion of the piece can overtake these write completions.
    /// Returns a copy of the first error.
    fn flush_locked(&self, entry: &PieceEntry, ps: &mut PieceState) -> Option<StorageError> {
        let storage = &entry.slot.storage;
        let blocks = std::mem::take(&mut ps.blocks);
        let mut errors: Vec<(u32, u32, StorageError)> = Vec::new();
        let mut freed = 0;
        // One write per block: a vectored write (pwritev) of a piece's
        // blocks, which lie in separate buffers, was measured several times
        // slower in the kernel's copy (copy_folio_from_iter_atomic) than
        // separate writes of the same buffers.
        if !blocks.is_empty() {
            if !ps.reserved {
                ps.reserved = true;
                storage.reserve_piece(entry.piece);
            }
            for (off, data) in &blocks {
                freed += data.len();
                if let Err(e) = storage.write(entry.piece, *off, data) {
                    errors.push((*off, *off + data.len() as u32, e));
                }
            }
        }
        entry.buffered.fetch_sub(freed, Ordering::Relaxed);
        self.buffered.fetch_sub(freed, Ordering::Relaxed);
        if !errors.is_empty() {
            // What failed to reach the disk is not received, and no hash
            // may be taken from it: forget the SHA-1 state (the hash job
            // re-reads the piece from disk) and the v2 hashes of those
            // blocks.
            ps.v1 = None;
            ps.hashed_upto = 0;
            for (s, e, _) in &errors {
                ps.received.remove(*s, *e);
                let first = (s / BLOCK_SIZE) as usize;
                let last = e.div_ceil(BLOCK_SIZE) as usize;
                for b in ps.v2.iter_mut().take(last).skip(first) {
                    *b = None;
                }
            }
        }
        for (offset, len) in std::mem::take(&mut ps.waiters) {
            let err = errors
                .iter()
                .find(|(s, e, _)| offset < *e && offset + len > *s)
                .map(|(_, _, e)| clone_err(e));
            self.sink.complete(Completion::Write {
                storage: entry.slot.id,
                piece: entry.piece,
                offset,
                len,
                result: err.map_or(Ok(()), Err),
            });
        }
        errors.first().map(|(_, _, e)| clone_err(e))
    }

    fn flush_entry(&self, entry: &Arc<PieceEntry>) -> Option<StorageError> {
        let mut ps = lock(&entry.st);
        self.flush_locked(entry, &mut ps)
    }

    fn drop_entry_if_idle(&self, entry: &Arc<PieceEntry>) {
        let mut cache = lock(&self.cache);
        let key = (entry.slot.id, entry.piece);
        if entry.pending.load(Ordering::Acquire) == 0 {
            if let Some(e) = cache.get(&key) {
                if Arc::ptr_eq(e, entry) {
                    cache.remove(&key);
                }
            }
        }
    }

    fn storage_entries(&self, id: StorageId) -> Vec<Arc<PieceEntry>> {
        lock(&self.cache)
            .iter()
            .filter(|(k, _)| k.0 == id)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Writes out every buffered block of a storage (run inside a fence, so
    /// no write of it is in flight). With `drop_state`, also forgets the
    /// pieces' hash state.
    fn flush_storage(&self, slot: &Arc<Slot>, drop_state: bool) -> Result<()> {
        let mut first_err: Option<StorageError> = None;
        for e in self.storage_entries(slot.id) {
            let err = {
                let mut ps = lock(&e.st);
                let err = self.flush_locked(&e, &mut ps);
                if drop_state {
                    *ps = PieceState::default();
                }
                err
            };
            if first_err.is_none() {
                first_err = err;
            }
            if drop_state {
                self.drop_entry_if_idle(&e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Drops a storage's buffered blocks without writing them (its files are
    /// being deleted); their write jobs complete with `Interrupted`.
    fn discard_storage(&self, slot: &Arc<Slot>) {
        for e in self.storage_entries(slot.id) {
            {
                let mut ps = lock(&e.st);
                let freed: usize = ps.blocks.values().map(Bytes::len).sum();
                e.buffered.fetch_sub(freed, Ordering::Relaxed);
                self.buffered.fetch_sub(freed, Ordering::Relaxed);
                for (offset, len) in std::mem::take(&mut ps.waiters) {
                    self.sink.complete(Completion::Write {
                        storage: slot.id,
                        piece: e.piece,
                        offset,
                        len,
                        result: Err(StorageError::new(
                            io::Error::new(io::ErrorKind::Interrupted, "files deleted"),
                            ErrorFile::None,
                            Operation::FileWrite,
                        )),
                    });
                }
                *ps = PieceState::default();
            }
            self.drop_entry_if_idle(&e);
        }
    }

    /// Writes out least recently used pieces while over the cache budget.
    fn enforce_budget(&self) {
        while self.buffered.load(Ordering::Relaxed) > self.cfg.cache_bytes {
            let victim = lock(&self.cache)
                .values()
                .filter(|e| e.buffered.load(Ordering::Relaxed) > 0)
                .min_by_key(|e| e.last_use.load(Ordering::Relaxed))
                .cloned();
            match victim {
                Some(v) => {
                    self.flush_entry(&v);
                }
                None => break,
            }
        }
    }

    /// Writes out pieces idle longer than `write_cache_expiry`.
    fn expire_idle(&self) {
        let limit = self.cfg.write_cache_expiry.as_millis() as u64;
        let now = self.now_ms();
        let idle: Vec<Arc<PieceEntry>> = lock(&self.cache)
            .values()
            .filter(|e| {
                e.buffered.load(Ordering::Relaxed) > 0
                    && now.saturating_sub(e.last_use.load(Ordering::Relaxed)) >= limit
            })
            .cloned()
            .collect();
        for e in idle {
            self.flush_entry(&e);
        }
    }

    fn do_read(&self, slot: &Arc<Slot>, piece: u32, offset: u32, len: u32) -> Result<Vec<u8>> {
        let layout = slot.storage.layout();
        if piece >= layout.num_pieces()
            || len == 0
            || u64::from(offset) + u64::from(len) > u64::from(layout.piece_size(piece))
        {
            return Err(invalid("read out of range", Operation::FileRead));
        }
        let entry = lock(&self.cache).get(&(slot.id, piece)).cloned();
        if let Some(e) = entry {
            if e.buffered.load(Ordering::Relaxed) > 0 {
                self.flush_entry(&e);
            }
        }
        slot.storage.read_to_vec(piece, offset, len)
    }

    fn do_block_hash(&self, slot: &Arc<Slot>, piece: u32, offset: u32) -> Result<Sha256Hash> {
        let layout = slot.storage.layout();
        if piece >= layout.num_pieces() || !offset.is_multiple_of(BLOCK_SIZE) {
            return Err(invalid("block hash out of range", Operation::FileRead));
        }
        let v2_len = slot.storage.v2_piece_len(piece);
        if offset >= v2_len {
            return Err(invalid("block hash out of range", Operation::FileRead));
        }
        let entry = lock(&self.cache).get(&(slot.id, piece)).cloned();
        if let Some(e) = entry {
            if e.buffered.load(Ordering::Relaxed) > 0 {
                self.flush_entry(&e);
            }
        }
        let mut buf = vec![0u8; (v2_len - offset).min(BLOCK_SIZE) as usize];
        slot.storage.read(piece, offset, &mut buf)?;
        Ok(Sha256Hash::digest(&buf))
    }

    /// Checks every piece. One worker per core (scoped threads) takes the
    /// next piece, reads it in cache-sized chunks and hashes each chunk
    /// while it is hot; this thread receives the hashes, puts them back in
    /// piece order and runs the verifier and the progress reports in that
    /// order, as a single reader would.
    fn do_check(&self, slot: &Arc<Slot>, mut verifier: PieceVerifier) -> Result<CheckResult> {
        let storage = &slot.storage;
        let total = storage.layout().num_pieces();
        let sizes = storage.existing_sizes();
        if storage.any_data_on_disk(&sizes) {
            self.sink
                .complete(Completion::CheckStarted { storage: slot.id });
        }
        let mut have = Vec::with_capacity(total as usize);
        let step = (total / 100).max(1);
        let abort = &slot.abort_check;
        // No threads for pieces that are not there: a torrent with nothing
        // on disk (a new download) is checked without starting any.
        let on_disk = (0..total)
            .filter(|&p| storage.piece_on_disk(p, &sizes))
            .take(64)
            .count();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(on_disk);
        if threads == 0 {
            for piece in 0..total {
                if abort.load(Ordering::Acquire) {
                    break;
                }
                have.push(false);
                if (piece + 1).is_multiple_of(step) || piece + 1 == total {
                    self.sink.complete(Completion::CheckProgress {
                        storage: slot.id,
                        checked: piece + 1,
                        total,
                    });
                }
            }
            let aborted = have.len() < total as usize;
            return Ok(CheckResult { have, aborted });
        }
        let next = AtomicU32::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|sc| {
            type Msg = (u32, Result<Option<PieceHash>>);
            let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(threads * 2);
            for i in 0..threads {
                let tx = tx.clone();
                let (sizes, next, stop) = (&sizes, &next, &stop);
                std::thread::Builder::new()
                    .name(format!("lt-check-hash-{i}"))
                    .spawn_scoped(sc, move || {
                        let mut buf = Vec::new();
                        let mut window = None;
                        loop {
                            if stop.load(Ordering::Acquire) || abort.load(Ordering::Acquire) {
                                break;
                            }
                            let piece = next.fetch_add(1, Ordering::Relaxed);
                            if piece >= total {
                                break;
                            }
                            let r = if storage.piece_on_disk(piece, sizes) {
                                read_and_hash(slot, piece, &mut buf, &mut window).map(Some)
                            } else {
                                Ok(None)
                            };
                            let fatal = r.as_ref().is_err_and(|e| !is_missing(e));
                            // The receiver is gone when the check stopped early.
                            if tx.send((piece, r)).is_err() || fatal {
                                break;
                            }
                        }
                    })
                    .map_err(|e| StorageError::new(e, ErrorFile::None, Operation::CheckResume))?;
            }
            drop(tx);
            // Every piece handed out is sent, so the pieces before any one
            // received arrive too; `pending` holds those that came early.
            let mut pending: BTreeMap<u32, Result<Option<PieceHash>>> = BTreeMap::new();
            'recv: for (piece, r) in rx {
                pending.insert(piece, r);
                while let Some(r) = pending.remove(&(have.len() as u32)) {
                    if abort.load(Ordering::Acquire) {
                        break 'recv;
                    }
                    let piece = have.len() as u32;
                    let ok = match r {
                        Ok(Some(h)) => verifier(piece, &h),
                        Ok(None) => false,
                        Err(e) if is_missing(&e) => false,
                        Err(e) => {
                            stop.store(true, Ordering::Release);
                            return Err(e);
                        }
                    };
                    have.push(ok);
                    if (piece + 1).is_multiple_of(step) || piece + 1 == total {
                        self.sink.complete(Completion::CheckProgress {
                            storage: slot.id,
                            checked: piece + 1,
                            total,
                        });
                    }
                }
            }
            stop.store(true, Ordering::Release);
            Ok(())
        })?;
        let aborted = have.len() < total as usize;
        Ok(CheckResult { have, aborted })
    }
}

/// Bytes hashed at a time while checking: a multiple of [`BLOCK_SIZE`],
/// small enough that the chunk is still in the core's cache for the second
/// hash of a hybrid torrent (and, when read with `pread`, after the copy;
/// 64 KiB: see `CHUNK` in `lt-metainfo`'s hasher for why not 128).
const CHECK_CHUNK: u32 = 64 * 1024;

/// Bytes of a file a check thread maps at a time (see `WINDOW` in
/// `lt-metainfo`'s hasher, which reads the same way).
const CHECK_WINDOW: u64 = 16 * 1024 * 1024;

/// A check thread's read-only mapping of part of one file, so chunks are
/// hashed straight from the page cache (`lt_core::mapped`).
struct CheckWindow {
    file: usize,
    start: u64,
    map: lt_core::mapped::Mapping,
}

/// The `n` bytes at `off` inside `piece` from the thread's mapped window
/// (mapping the window first), or `None` when they must be read: they span
/// files, or lie in a file that cannot be mapped.
fn mapped_chunk<'w>(
    storage: &TorrentStorage,
    window: &'w mut Option<CheckWindow>,
    piece: u32,
    off: u32,
    n: u32,
) -> Option<&'w [u8]> {
    let slices = storage.layout().map_block(piece, off, n);
    let [s] = slices.as_slice() else {
        return None;
    };
    let (start, end) = (s.offset, s.offset + u64::from(n));
    let hit = window.as_ref().is_some_and(|w| {
        w.file == s.file_index && w.start <= start && end <= w.start + w.map.bytes().len() as u64
    });
    if !hit {
        // Unmap the old window before mapping the next.
        *window = None;
        let wstart = start - start % CHECK_WINDOW;
        let need = (end - wstart) as usize;
        let max = need.max(CHECK_WINDOW as usize);
        let map = storage.map_file(s.file_index, wstart, need, max)?;
        *window = Some(CheckWindow {
            file: s.file_index,
            start: wstart,
            map,
        });
    }
    let w = window.as_mut()?;
    w.map.read_at((start - w.start) as usize, n as usize)
}

/// Hashes `piece` [`CHECK_CHUNK`] bytes at a time, each chunk from the
/// thread's mapped `window` or, where it cannot be mapped, read into `buf`
/// (reused between calls): SHA-1 over the whole piece, SHA-256 of each
/// 16 KiB block of its v2 part, both from the same bytes.
fn read_and_hash(
    slot: &Slot,
    piece: u32,
    buf: &mut Vec<u8>,
    window: &mut Option<CheckWindow>,
) -> Result<PieceHash> {
    let storage = &slot.storage;
    let size = storage.layout().piece_size(piece);
    let v2_len = if slot.kinds.v2 {
        storage.v2_piece_len(piece).min(size)
    } else {
        0
    };
    let mut v1 = slot.kinds.v1.then(sha1::Sha1::new);
    let mut out = PieceHash::default();
    if slot.kinds.v2 {
        out.v2_blocks.reserve(v2_len.div_ceil(BLOCK_SIZE) as usize);
    }
    let mut off = 0u32;
    while off < size {
        let n = (size - off).min(CHECK_CHUNK);
        let chunk = match mapped_chunk(storage, window, piece, off, n) {
            Some(bytes) => bytes,
            None => {
                buf.resize(n as usize, 0);
                storage.read(piece, off, buf)?;
                &buf[..]
            }
        };
        if let Some(h) = v1.as_mut() {
            h.update(chunk);
        }
        if off < v2_len {
            let end = (v2_len - off).min(n) as usize;
            out.v2_blocks.extend(
                chunk[..end]
                    .chunks(BLOCK_SIZE as usize)
                    .map(Sha256Hash::digest),
            );
        }
        if window.as_ref().is_some_and(|w| w.map.faulted()) {
            // The file was cut while mapped: what was hashed were zeros,
            // and the piece is not there.
            *window = None;
            return Err(StorageError::new(
                io::ErrorKind::UnexpectedEof.into(),
                ErrorFile::None,
                Operation::FileRead,
            ));
        }
        off += n;
    }
    if let Some(h) = v1 {
        out.v1 = Some(Sha1Hash(h.finalize().into()));
    }
    Ok(out)
}

/// A file that does not exist or is too short: its pieces are just not
/// there, which is no error while checking.
fn is_missing(e: &StorageError) -> bool {
    matches!(
        e.error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof
    )
}

/// Feeds the SHA-1 state with buffered bytes contiguous to what it has seen.
fn advance_v1(ps: &mut PieceState) {
    let PieceState {
        blocks,
        v1,
        hashed_upto,
        ..
    } = ps;
    let h = v1.get_or_insert_with(sha1::Sha1::new);
    while let Some((&start, data)) = blocks.range(..=*hashed_upto).next_back() {
        let end = start + data.len() as u32;
        if end <= *hashed_upto {
            break;
        }
        let from = (*hashed_upto - start) as usize;
        h.update(&data[from..]);
        *hashed_upto = end;
    }
}

/// Computes a piece's hashes, using the state gathered on write (`ps`) and
/// reading the rest from disk. The piece's blocks must already be written.
fn hash_piece(slot: &Arc<Slot>, piece: u32, ps: Option<&mut PieceState>) -> Result<PieceHash> {
    let storage = &slot.storage;
    let layout = storage.layout();
    if piece >= layout.num_pieces() {
        return Err(invalid("piece out of range", Operation::FileRead));
    }
    let size = layout.piece_size(piece);
    let (mut v1_state, from, mut v2_known) = match ps {
        Some(ps) => (ps.v1.take(), ps.hashed_upto, std::mem::take(&mut ps.v2)),
        None => (None, 0, Vec::new()),
    };
    let from = if v1_state.is_some() {
        from.min(size)
    } else {
        0
    };
    // Read what neither hash has covered: for v1 everything past `from`,
    // for v2 the blocks not hashed on write.
    let v2_len = if slot.kinds.v2 {
        storage.v2_piece_len(piece)
    } else {
        0
    };
    let nblocks = v2_len.div_ceil(BLOCK_SIZE) as usize;
    if v2_known.len() != nblocks {
        v2_known = vec![None; nblocks];
    }
    let need_v1 = slot.kinds.v1 && from < size;
    let first_missing_v2 = v2_known
        .iter()
        .position(Option::is_none)
        .map(|i| i as u32 * BLOCK_SIZE);
    let read_from = match (need_v1, first_missing_v2) {
        (true, Some(b)) => Some(from.min(b)),
        (true, None) => Some(from),
        (false, Some(b)) => Some(b),
        (false, None) => None,
    };
    let mut buf = Vec::new();
    let mut buf_start = 0;
    if let Some(start) = read_from {
        let end = if need_v1 { size } else { v2_len };
        buf = vec![0u8; (end - start) as usize];
        storage.read(piece, start, &mut buf)?;
        buf_start = start;
    }
    let mut out = PieceHash::default();
    if slot.kinds.v1 {
        let mut h = v1_state.take().unwrap_or_default();
        if need_v1 {
            let skip = (from - buf_start) as usize;
            h.update(&buf[skip..]);
        }
        out.v1 = Some(Sha1Hash(h.finalize().into()));
    }
    if slot.kinds.v2 {
        for (i, known) in v2_known.iter().enumerate() {
            let start = i as u32 * BLOCK_SIZE;
            let end = (start + BLOCK_SIZE).min(v2_len);
            let h = match known {
                Some(h) => *h,
                None => {
                    let a = (start - buf_start) as usize;
                    let b = (end - buf_start) as usize;
                    Sha256Hash::digest(&buf[a..b])
                }
            };
            out.v2_blocks.push(h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_set_merges() {
        let mut r = RangeSet::default();
        r.add(10, 20);
        r.add(30, 40);
        assert!(!r.covers(40));
        r.add(0, 10);
        assert_eq!(r.0, vec![(0, 20), (30, 40)]);
        r.add(15, 35);
        assert_eq!(r.0, vec![(0, 40)]);
        assert!(r.covers(40));
        assert!(!r.covers(41));
        r.add(50, 60);
        r.add(45, 46);
        assert_eq!(r.0, vec![(0, 40), (45, 46), (50, 60)]);
        assert!(RangeSet::default().covers(0));
        r.remove(10, 20);
        assert_eq!(r.0, vec![(0, 10), (20, 40), (45, 46), (50, 60)]);
        r.remove(0, 46);
        assert_eq!(r.0, vec![(50, 60)]);
        r.remove(55, 100);
        assert_eq!(r.0, vec![(50, 55)]);
    }

    #[test]
    fn v1_advances_over_contiguous_blocks_only() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut ps = PieceState::default();
        ps.blocks.insert(30, Bytes::copy_from_slice(&data[30..60]));
        advance_v1(&mut ps);
        assert_eq!(ps.hashed_upto, 0);
        ps.blocks.insert(0, Bytes::copy_from_slice(&data[0..30]));
        ps.blocks.insert(70, Bytes::copy_from_slice(&data[70..100]));
        advance_v1(&mut ps);
        assert_eq!(ps.hashed_upto, 60);
        ps.blocks.insert(60, Bytes::copy_from_slice(&data[60..70]));
        advance_v1(&mut ps);
        assert_eq!(ps.hashed_upto, 100);
        let h = ps.v1.take().unwrap().finalize();
        assert_eq!(Sha1Hash(h.into()), Sha1Hash::digest(&data));
    }

    #[test]
    fn config_from_settings() {
        let c = DiskIoConfig::from_settings(10, 1, 40, 2048, 104_857_600);
        assert_eq!(c.cache_bytes, 2048 * 16384);
        let c = DiskIoConfig::from_settings(0, -1, 0, 100_000, 1 << 20);
        assert_eq!(
            (c.aio_threads, c.hashing_threads, c.file_pool_size),
            (1, 1, 1)
        );
        assert_eq!(c.cache_bytes, 1 << 19);
    }
}
