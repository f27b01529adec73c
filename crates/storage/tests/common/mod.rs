//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_metainfo::{FileFlags, FileStorage};
use lt_storage::Completion;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "lt-storage-test-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A layout from `(path, size, flags)` entries.
pub fn layout(files: &[(&str, i64, FileFlags)], piece_length: i32) -> Arc<FileStorage> {
    let mut fs = FileStorage::new();
    for (p, s, f) in files {
        fs.add_file(p, *s, *f, 0, "").unwrap();
    }
    fs.set_piece_length(piece_length);
    fs.compute_num_pieces();
    Arc::new(fs)
}

/// The torrent's byte stream for a layout: file data from `data`, zeros in
/// pad files.
pub fn stream(fs: &FileStorage, seed: u64) -> Vec<u8> {
    let mut all = data(fs.total_size() as usize, seed);
    for i in 0..fs.num_files() {
        if fs.pad_file_at(i) {
            let a = fs.file_offset(i) as usize;
            let b = a + fs.file_size(i) as usize;
            all[a..b].fill(0);
        }
    }
    all
}

/// Blocks `(piece, offset, len)` of 16 KiB (or shorter at piece ends).
pub fn blocks(fs: &FileStorage, block: u32) -> Vec<(u32, u32, u32)> {
    let mut v = Vec::new();
    for p in 0..fs.num_pieces() as u32 {
        let size = fs.piece_size(p as i32) as u32;
        let mut off = 0;
        while off < size {
            let len = block.min(size - off);
            v.push((p, off, len));
            off += len;
        }
    }
    v
}

/// A deterministic shuffle.
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Waits for the next completion (panics after 30 s).
pub fn next(rx: &Receiver<Completion>) -> Completion {
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(c) => c,
        Err(RecvTimeoutError::Timeout) => panic!("no completion within 30 s"),
        Err(RecvTimeoutError::Disconnected) => panic!("sink dropped"),
    }
}

/// Collects completions until `f` returns `Some`, returning that value and
/// everything seen before it.
pub fn until<T>(
    rx: &Receiver<Completion>,
    mut f: impl FnMut(&Completion) -> Option<T>,
) -> (T, Vec<Completion>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "timed out");
        let c = next(rx);
        if let Some(t) = f(&c) {
            return (t, seen);
        }
        seen.push(c);
    }
}

/// Open descriptors of this process whose target is under `dir`.
pub fn open_fds_under(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.starts_with(dir))
        .count()
}
