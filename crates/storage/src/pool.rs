//! A bounded, least-recently-used pool of open file handles shared by all
//! torrents of a session (libtorrent's `file_pool_size`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::error::{Context, ErrorFile, Operation, Result};

/// How a file is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; a file that does not exist is an error.
    Read,
    /// Read and write; the file and its parent directories are created when
    /// missing.
    ReadWrite,
}

/// Key of a pool entry: the storage's unique id and the file index.
type Key = (u64, usize);

struct Entry {
    file: Arc<File>,
    writable: bool,
    last_use: u64,
    /// Wall-clock time of the last use, for `file_status()`.
    used_at: SystemTime,
}

/// A file the pool holds open (`torrent_handle.file_status()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFile {
    pub file_index: usize,
    pub writable: bool,
    pub last_use: SystemTime,
}

struct Inner {
    map: HashMap<Key, Entry>,
    tick: u64,
    capacity: usize,
}

/// A bounded LRU cache of open files.
///
/// Handles are returned as `Arc<File>`: evicting an entry drops the pool's
/// reference, and the descriptor closes as soon as the IO operation that may
/// still be using it finishes. So the number of open descriptors is at most
/// `capacity` plus the number of IO operations in flight.
///
/// A file opened read-only is re-opened read-write (replacing the entry) when
/// a write needs it; a read-write handle serves reads too.
///
/// How files are opened follows [`OpenFlags`]; a change applies to files
/// opened afterwards (as in libtorrent, which sets them at open).
pub struct FilePool {
    inner: Mutex<Inner>,
    writers: [Mutex<()>; WRITE_LOCKS],
    /// [`OpenFlags`] as bits: 1 sync, 2 noatime.
    flags: AtomicU8,
}

/// How the pool opens files, from libtorrent's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// `O_SYNC`: each write returns once the data is on the device
    /// (`disk_io_write_mode` `disable_os_cache` or `write_through`; the
    /// reference opens every file this way then, read-only ones too).
    pub sync: bool,
    /// `O_NOATIME` (`no_atime_storage`), where the system allows it: it is
    /// refused for files of another owner, which are then opened without.
    pub noatime: bool,
}

impl OpenFlags {
    fn bits(self) -> u8 {
        u8::from(self.sync) | u8::from(self.noatime) << 1
    }

    fn from_bits(b: u8) -> Self {
        Self {
            sync: b & 1 != 0,
            noatime: b & 2 != 0,
        }
    }
}

/// Stripes of the per-file write locks (see [`FilePool::write_lock`]).
const WRITE_LOCKS: usize = 64;

impl FilePool {
    /// A pool keeping at most `capacity` files open (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                tick: 0,
                capacity: capacity.max(1),
            }),
            writers: std::array::from_fn(|_| Mutex::new(())),
            flags: AtomicU8::new(0),
        }
    }

    /// Sets how files are opened from now on.
    pub fn set_open_flags(&self, flags: OpenFlags) {
        self.flags.store(flags.bits(), Ordering::Relaxed);
    }

    /// How files are opened now.
    pub fn open_flags(&self) -> OpenFlags {
        OpenFlags::from_bits(self.flags.load(Ordering::Relaxed))
    }

    /// Held while writing into file `index` of storage `uid`, so that two
    /// disk workers do not write into one file at once: they would contend
    /// on its inode lock in the kernel, spinning, rather than sleep here.
    /// Writes into different files (a torrent of many small files) go on in
    /// parallel. Striped: two files may share a lock, which only
    /// serialises their writes.
    pub fn write_lock(&self, uid: u64, index: usize) -> MutexGuard<'_, ()> {
        let stripe = (uid as usize).wrapping_mul(31).wrapping_add(index) % WRITE_LOCKS;
        self.writers[stripe]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked while holding
        // it; the map is still structurally valid.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the capacity, closing least recently used files if needed.
    pub fn set_capacity(&self, capacity: usize) {
        let mut g = self.lock();
        g.capacity = capacity.max(1);
        let cap = g.capacity;
        evict_down_to(&mut g, cap);
    }

    /// Number of files the pool currently holds open.
    pub fn open_count(&self) -> usize {
        self.lock().map.len()
    }

    /// Returns an open handle for file `file` of storage `storage` at `path`.
    ///
    /// With [`OpenMode::ReadWrite`] missing parent directories are created
    /// (errors are reported as [`Operation::Mkdir`]) and the file is created
    /// without truncation.
    pub fn open(
        &self,
        storage: u64,
        file: usize,
        path: &Path,
        mode: OpenMode,
    ) -> Result<Arc<File>> {
        let key = (storage, file);
        {
            let mut g = self.lock();
            g.tick += 1;
            let tick = g.tick;
            if let Some(e) = g.map.get_mut(&key) {
                if e.writable || mode == OpenMode::Read {
                    e.last_use = tick;
                    e.used_at = SystemTime::now();
                    return Ok(e.file.clone());
                }
            }
        }
        // Open outside the lock: it may block on a slow disk.
        let flags = self.open_flags();
        let f = Arc::new(open_file(path, mode, flags, ErrorFile::Index(file))?);
        let mut g = self.lock();
        g.tick += 1;
        let tick = g.tick;
        if let Some(e) = g.map.get_mut(&key) {
            // Another thread opened it meanwhile; keep the better handle.
            if e.writable || mode == OpenMode::Read {
                e.last_use = tick;
                e.used_at = SystemTime::now();
                return Ok(e.file.clone());
            }
        }
        let cap = g.capacity;
        if !g.map.contains_key(&key) {
            evict_down_to(&mut g, cap.saturating_sub(1));
        }
        g.map.insert(
            key,
            Entry {
                file: f.clone(),
                writable: mode == OpenMode::ReadWrite,
                last_use: tick,
                used_at: SystemTime::now(),
            },
        );
        Ok(f)
    }

    /// The handle of file `file` of `storage` if the pool holds it open
    /// (it counts as a use); never opens a file.
    pub fn get_open(&self, storage: u64, file: usize) -> Option<Arc<File>> {
        let mut g = self.lock();
        g.tick += 1;
        let tick = g.tick;
        let e = g.map.get_mut(&(storage, file))?;
        e.last_use = tick;
        e.used_at = SystemTime::now();
        Some(e.file.clone())
    }

    /// The files of `storage` held open, by file index.
    pub fn open_files(&self, storage: u64) -> Vec<OpenFile> {
        let mut v: Vec<OpenFile> = self
            .lock()
            .map
            .iter()
            .filter(|(k, _)| k.0 == storage)
            .map(|(k, e)| OpenFile {
                file_index: k.1,
                writable: e.writable,
                last_use: e.used_at,
            })
            .collect();
        v.sort_by_key(|f| f.file_index);
        v
    }

    /// Closes every file of `storage`.
    pub fn release_storage(&self, storage: u64) {
        self.lock().map.retain(|k, _| k.0 != storage);
    }

    /// Closes one file of `storage`.
    pub fn release_file(&self, storage: u64, file: usize) {
        self.lock().map.remove(&(storage, file));
    }
}

fn evict_down_to(g: &mut Inner, n: usize) {
    while g.map.len() > n {
        let Some(oldest) = g
            .map
            .iter()
            .min_by_key(|(_, e)| e.last_use)
            .map(|(k, _)| *k)
        else {
            break;
        };
        g.map.remove(&oldest);
    }
}

/// Opens `path` with `flags`, creating parent directories for writing.
pub(crate) fn open_file(
    path: &Path,
    mode: OpenMode,
    flags: OpenFlags,
    which: ErrorFile,
) -> Result<File> {
    let mut oo = OpenOptions::new();
    oo.read(true);
    if mode == OpenMode::ReadWrite {
        oo.write(true).create(true);
    }
    #[cfg(unix)]
    let (sync, noatime) = {
        use std::os::unix::fs::OpenOptionsExt;
        let sync = if flags.sync { libc::O_SYNC } else { 0 };
        #[cfg(target_os = "linux")]
        let noatime = if flags.noatime { libc::O_NOATIME } else { 0 };
        #[cfg(not(target_os = "linux"))]
        let noatime = 0;
        oo.custom_flags(sync | noatime);
        (sync, noatime)
    };
    #[cfg(not(unix))]
    let _ = flags;
    let first = oo.open(path);
    // Only a file's owner may open it without updating its access time.
    #[cfg(unix)]
    let first = match first {
        Err(e) if noatime != 0 && e.raw_os_error() == Some(libc::EPERM) => {
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut oo, sync);
            oo.open(path)
        }
        r => r,
    };
    match first {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound && mode == OpenMode::ReadWrite => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).ctx(which, Operation::Mkdir)?;
            }
            oo.open(path).ctx(which, Operation::FileOpen)
        }
        Err(e) => Err(crate::error::StorageError::new(
            e,
            which,
            Operation::FileOpen,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_locks_serialise_one_file_only() {
        use std::sync::mpsc;
        use std::time::Duration;
        let pool = Arc::new(FilePool::new(4));
        let held = pool.write_lock(7, 0);
        let take = |index: usize| {
            let (tx, rx) = mpsc::channel();
            let p = pool.clone();
            std::thread::spawn(move || {
                let _g = p.write_lock(7, index);
                let _ = tx.send(());
            });
            rx
        };
        // Another file of the storage is written meanwhile...
        take(1)
            .recv_timeout(Duration::from_secs(10))
            .expect("a different file's writer waited");
        // ...the same file waits until the first writer is done.
        let same = take(0);
        assert!(same.recv_timeout(Duration::from_millis(100)).is_err());
        drop(held);
        same.recv_timeout(Duration::from_secs(10))
            .expect("the second writer never got the file");
    }

    #[test]
    fn lru_bounded_and_upgrades_mode() {
        let dir = std::env::temp_dir().join(format!("lt-pool-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = FilePool::new(2);
        for i in 0..5 {
            pool.open(1, i, &dir.join(format!("f{i}")), OpenMode::ReadWrite)
                .unwrap();
            assert!(pool.open_count() <= 2);
        }
        // f4 is the most recent: still pooled, same handle.
        let a = pool.open(1, 4, &dir.join("f4"), OpenMode::Read).unwrap();
        let b = pool
            .open(1, 4, &dir.join("f4"), OpenMode::ReadWrite)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // read-only first, then upgraded to read-write: a new handle.
        pool.release_storage(1);
        assert_eq!(pool.open_count(), 0);
        let r = pool.open(2, 0, &dir.join("f0"), OpenMode::Read).unwrap();
        let w = pool
            .open(2, 0, &dir.join("f0"), OpenMode::ReadWrite)
            .unwrap();
        assert!(!Arc::ptr_eq(&r, &w));
        // Reading a missing file is an open error, not a creation.
        let err = pool
            .open(2, 1, &dir.join("missing"), OpenMode::Read)
            .unwrap_err();
        assert_eq!(err.operation, Operation::FileOpen);
        assert_eq!(err.file, ErrorFile::Index(1));
        assert!(!dir.join("missing").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The status flags of `f` as `/proc/self/fdinfo` shows them.
    #[cfg(target_os = "linux")]
    fn fd_flags(f: &File) -> i32 {
        use std::os::unix::io::AsRawFd;
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd())).unwrap();
        let line = info.lines().find(|l| l.starts_with("flags:")).unwrap();
        i32::from_str_radix(line["flags:".len()..].trim(), 8).unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn files_open_with_the_flags_set_at_their_opening() {
        let dir = std::env::temp_dir().join(format!("lt-pool-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = FilePool::new(8);
        let plain = pool
            .open(1, 0, &dir.join("a"), OpenMode::ReadWrite)
            .unwrap();
        assert_eq!(fd_flags(&plain) & (libc::O_SYNC | libc::O_NOATIME), 0);
        pool.set_open_flags(OpenFlags {
            sync: true,
            noatime: true,
        });
        assert!(pool.open_flags().sync && pool.open_flags().noatime);
        // A file already open keeps its handle; new ones get the flags,
        // read-only ones too.
        let again = pool.open(1, 0, &dir.join("a"), OpenMode::Read).unwrap();
        assert!(Arc::ptr_eq(&plain, &again));
        let w = pool
            .open(1, 1, &dir.join("b"), OpenMode::ReadWrite)
            .unwrap();
        let r = pool.open(1, 2, &dir.join("a"), OpenMode::Read).unwrap();
        for f in [&w, &r] {
            let fl = fd_flags(f);
            assert_eq!(fl & libc::O_SYNC, libc::O_SYNC, "{fl:o}");
            assert_eq!(fl & libc::O_NOATIME, libc::O_NOATIME, "{fl:o}");
        }
        pool.set_open_flags(OpenFlags {
            sync: false,
            noatime: true,
        });
        let n = pool
            .open(1, 3, &dir.join("c"), OpenMode::ReadWrite)
            .unwrap();
        assert_eq!(
            fd_flags(&n) & (libc::O_SYNC | libc::O_NOATIME),
            libc::O_NOATIME
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
