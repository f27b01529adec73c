//! The disk I/O service: worker threads that run storage jobs off the
//! network thread and report completions through a non-blocking sink.
//!
//! # Threads and queues
//! Two pools: `aio_threads` workers run writes, reads and file-system jobs
//! (move, rename, delete, release, flush, initialise, priorities);
//! `hashing_threads` workers run piece hashing and file checking.
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
    /// Worker threads for hashing and checking (`hashing_threads`).
    pub hashing_threads: usize,
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
        data: Vec<u8>,
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
    fn on_hash_pool(&self) -> bool {
        matches!(
            self,
            JobKind::Hash { .. } | JobKind::BlockHash { .. } | JobKind::Check { .. }
        )
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
    fn covers(&self, size: u32) -> bool {
        size == 0 || self.0.first() == Some(&(0, size))
    }
}

#[derive(Default)]
struct PieceState {
    /// Blocks in memory, not yet written, by offset.
    blocks: BTreeMap<u32, Vec<u8>>,
    /// Write jobs waiting for their block to reach the file.
    waiters: Vec<(u32, u32)>,
    received: RangeSet,
    v1: Option<sha1::Sha1>,
    hashed_upto: u32,
    v2: Vec<Option<Sha256Hash>>,
    v2_len: Option<u32>,
    deferred: Option<Job>,
    /// A block of this piece failed to be written: its hash must not pass.
    write_failed: bool,
}

struct PieceEntry {
    slot: Arc<Slot>,
    piece: u32,
    pending: AtomicUsize,
    buffered: AtomicUsize,
    last_use: AtomicU64,
    st: Mutex<PieceState>,
}

struct Queue {
    q: Mutex<VecDeque<Job>>,
    cv: Condvar,
}

struct Shared {
    pool: Arc<FilePool>,
    sink: Box<dyn CompletionSink>,
    cfg: DiskIoConfig,
    storages: Mutex<HashMap<StorageId, Arc<Slot>>>,
    next_id: AtomicU32,
    aio: Queue,
    hash: Queue,
    cache: Mutex<HashMap<(StorageId, u32), Arc<PieceEntry>>>,
    buffered: AtomicUsize,
    epoch: Instant,
    pending_jobs: AtomicUsize,
    shutdown: AtomicBool,
}

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
            aio: Queue {
                q: Mutex::new(VecDeque::new()),
                cv: Condvar::new(),
            },
            hash: Queue {
                q: Mutex::new(VecDeque::new()),
                cv: Condvar::new(),
            },
            cache: Mutex::new(HashMap::new()),
            buffered: AtomicUsize::new(0),
            epoch: Instant::now(),
            pending_jobs: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
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
                    .spawn(move || worker(s, false))?,
            );
        }
        for i in 0..cfg.hashing_threads.max(1) {
            let s = shared.clone();
            me.threads.push(
                std::thread::Builder::new()
                    .name(format!("lt-hash-{i}"))
                    .spawn(move || worker(s, true))?,
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
    /// [`Completion::Write`] once the block is in its file(s).
    pub fn async_write(&self, id: StorageId, piece: u32, offset: u32, data: Vec<u8>) {
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

    /// Reads `len` bytes at `offset` inside `piece`, for upload.
    pub fn async_read(&self, id: StorageId, piece: u32, offset: u32, len: u32) {
        self.submit(id, JobKind::Read { piece, offset, len });
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

fn unknown_storage(id: StorageId, kind: JobKind) -> Completion {
    let e = || no_storage(id);
    let storage = id;
    match kind {
        JobKind::Write {
            entry,
            offset,
            data,
        } => Completion::Write {
            storage,
            piece: entry.piece,
            offset,
            len: data.len() as u32,
            result: Err(e()),
        },
        JobKind::Read { piece, offset, .. } => Completion::Read {
            storage,
            piece,
            offset,
            result: Err(e()),
        },
        JobKind::Hash { piece } => Completion::Hash {
            storage,
            piece,
            result: Err(e()),
        },
        JobKind::BlockHash { piece, offset } => Completion::BlockHash {
            storage,
            piece,
            offset,
            result: Err(e()),
        },
        JobKind::Check { .. } => Completion::CheckDone {
            storage,
            result: Err(e()),
        },
        JobKind::Move { .. } => Completion::Moved {
            storage,
            result: Err(e()),
        },
        JobKind::Rename { file, .. } => Completion::Renamed {
            storage,
            file,
            result: Err(e()),
        },
        JobKind::Delete { .. } => Completion::Deleted {
            storage,
            result: Err(e()),
        },
        JobKind::Release => Completion::Released {
            storage,
            result: Err(e()),
        },
        JobKind::Flush => Completion::Flushed {
            storage,
            result: Err(e()),
        },
        JobKind::Initialize => Completion::Initialized {
            storage,
            result: Err(e()),
        },
        JobKind::SetPriorities { .. } => Completion::PrioritiesSet {
            storage,
            result: Err(e()),
        },
        JobKind::Remove => Completion::Removed {
            storage,
            result: Err(e()),
        },
    }
}

enum Outcome {
    Done,
    Deferred,
}

fn worker(shared: Arc<Shared>, hashing: bool) {
    let queue = if hashing { &shared.hash } else { &shared.aio };
    let tick = Duration::from_millis(500);
    loop {
        let job = {
            let mut q = lock(&queue.q);
            loop {
                if let Some(j) = q.pop_front() {
                    break Some(j);
                }
                if shared.shutdown.load(Ordering::Acquire)
                    && shared.pending_jobs.load(Ordering::Acquire) == 0
                {
                    return;
                }
                let (g, timeout) = queue
                    .cv
                    .wait_timeout(q, tick)
                    .unwrap_or_else(|e| e.into_inner());
                q = g;
                if timeout.timed_out() && q.is_empty() {
                    break None;
                }
            }
        };
        match job {
            Some(job) => {
                let slot = job.slot.clone();
                let fence = job.kind.is_fence();
                if let Outcome::Done = shared.execute(job) {
                    shared.job_done(&slot, fence);
                }
            }
            None => {
                if !hashing {
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
        let q = if job.kind.on_hash_pool() {
            &self.hash
        } else {
            &self.aio
        };
        lock(&q.q).push_back(job);
        q.cv.notify_one();
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
            if let JobKind::Write { entry, .. } = &kind {
                entry.pending.fetch_sub(1, Ordering::AcqRel);
            }
            self.sink.complete(unknown_storage(id, kind));
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
                    let done = self.flush_locked(&entry, &mut ps);
                    let result = if ps.write_failed {
                        Err(StorageError::new(
                            io::Error::other("a block of this piece failed to be written"),
                            ErrorFile::None,
                            Operation::FileWrite,
                        ))
                    } else {
                        hash_piece(&slot, piece, Some(&mut ps))
                    };
                    *ps = PieceState::default();
                    drop(ps);
                    self.drop_entry_if_idle(&entry);
                    self.send_writes(&entry, done);
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

    fn do_write(&self, slot: &Arc<Slot>, entry: Arc<PieceEntry>, offset: u32, data: Vec<u8>) {
        let piece = entry.piece;
        entry.last_use.store(self.now_ms(), Ordering::Relaxed);
        let len = data.len() as u32;
        let size = slot.storage.layout().piece_size(piece);
        let (done, deferred) = {
            let mut ps = lock(&entry.st);
            // v2: hash an aligned whole block right away.
            if slot.kinds.v2 && offset % BLOCK_SIZE == 0 {
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
            let done = if ps.received.covers(size) {
                self.flush_locked(&entry, &mut ps)
            } else {
                Vec::new()
            };
            let deferred = if entry.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                ps.deferred.take()
            } else {
                None
            };
            (done, deferred)
        };
        self.send_writes(&entry, done);
        if let Some(j) = deferred {
            self.dispatch(j);
        }
        self.enforce_budget();
    }

    /// Writes out the piece's buffered blocks; returns the completed waiters.
    fn flush_locked(&self, entry: &PieceEntry, ps: &mut PieceState) -> Vec<(u32, u32, Result<()>)> {
        let storage = &entry.slot.storage;
        let blocks = std::mem::take(&mut ps.blocks);
        let mut errors: Vec<(u32, u32, StorageError)> = Vec::new();
        let mut freed = 0;
        for (off, data) in &blocks {
            freed += data.len();
            if let Err(e) = storage.write(entry.piece, *off, data) {
                errors.push((*off, *off + data.len() as u32, e));
            }
        }
        entry.buffered.fetch_sub(freed, Ordering::Relaxed);
        self.buffered.fetch_sub(freed, Ordering::Relaxed);
        if !errors.is_empty() {
            ps.write_failed = true;
        }
        std::mem::take(&mut ps.waiters)
            .into_iter()
            .map(|(off, len)| {
                let err = errors
                    .iter()
                    .find(|(s, e, _)| off < *e && off + len > *s)
                    .map(|(_, _, e)| clone_err(e));
                (off, len, err.map_or(Ok(()), Err))
            })
            .collect()
    }

    fn send_writes(&self, entry: &PieceEntry, done: Vec<(u32, u32, Result<()>)>) {
        for (offset, len, result) in done {
            self.sink.complete(Completion::Write {
                storage: entry.slot.id,
                piece: entry.piece,
                offset,
                len,
                result,
            });
        }
    }

    fn flush_entry(&self, entry: &Arc<PieceEntry>) {
        let done = {
            let mut ps = lock(&entry.st);
            self.flush_locked(entry, &mut ps)
        };
        self.send_writes(entry, done);
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
            let done = {
                let mut ps = lock(&e.st);
                let d = self.flush_locked(&e, &mut ps);
                if drop_state {
                    *ps = PieceState::default();
                }
                d
            };
            for (_, _, r) in &done {
                if let (Err(err), None) = (r, &first_err) {
                    first_err = Some(clone_err(err));
                }
            }
            if drop_state {
                self.drop_entry_if_idle(&e);
            }
            self.send_writes(&e, done);
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Drops a storage's buffered blocks without writing them (its files are
    /// being deleted); their write jobs complete with `Interrupted`.
    fn discard_storage(&self, slot: &Arc<Slot>) {
        for e in self.storage_entries(slot.id) {
            let waiters = {
                let mut ps = lock(&e.st);
                let freed: usize = ps.blocks.values().map(Vec::len).sum();
                e.buffered.fetch_sub(freed, Ordering::Relaxed);
                self.buffered.fetch_sub(freed, Ordering::Relaxed);
                let w = std::mem::take(&mut ps.waiters);
                *ps = PieceState::default();
                w
            };
            self.drop_entry_if_idle(&e);
            let done = waiters
                .into_iter()
                .map(|(o, l)| {
                    let err = StorageError::new(
                        io::Error::new(io::ErrorKind::Interrupted, "files deleted"),
                        ErrorFile::None,
                        Operation::FileWrite,
                    );
                    (o, l, Err(err))
                })
                .collect();
            self.send_writes(&e, done);
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
                Some(v) => self.flush_entry(&v),
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
        let mut buf = vec![0u8; len as usize];
        slot.storage.read(piece, offset, &mut buf)?;
        Ok(buf)
    }

    fn do_block_hash(&self, slot: &Arc<Slot>, piece: u32, offset: u32) -> Result<Sha256Hash> {
        let layout = slot.storage.layout();
        if piece >= layout.num_pieces() || offset % BLOCK_SIZE != 0 {
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

    fn do_check(&self, slot: &Arc<Slot>, mut verifier: PieceVerifier) -> Result<CheckResult> {
        let storage = &slot.storage;
        let total = storage.layout().num_pieces();
        let sizes = storage.existing_sizes();
        let mut have = Vec::with_capacity(total as usize);
        let step = (total / 100).max(1);
        for piece in 0..total {
            if slot.abort_check.load(Ordering::Acquire) {
                return Ok(CheckResult {
                    have,
                    aborted: true,
                });
            }
            let ok = if storage.piece_on_disk(piece, &sizes) {
                match hash_piece(slot, piece, None) {
                    Ok(h) => verifier(piece, &h),
                    Err(e)
                        if matches!(
                            e.error.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof
                        ) =>
                    {
                        false
                    }
                    Err(mut e) => {
                        if e.operation == Operation::FileRead {
                            e.operation = Operation::CheckResume;
                        }
                        return Err(e);
                    }
                }
            } else {
                false
            };
            have.push(ok);
            if (piece + 1) % step == 0 || piece + 1 == total {
                self.sink.complete(Completion::CheckProgress {
                    storage: slot.id,
                    checked: piece + 1,
                    total,
                });
            }
        }
        Ok(CheckResult {
            have,
            aborted: false,
        })
    }
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
    loop {
        let Some((&start, data)) = blocks.range(..=*hashed_upto).next_back() else {
            break;
        };
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
