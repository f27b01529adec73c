//! TorrentStorage used directly: mapping, pad files, lazy creation, part
//! file, symlinks, move/rename/delete, allocation and IO errors.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use lt_metainfo::{FileFlags, FileStorage};
use lt_storage::{
    DeleteFlags, ErrorFile, FileLayout, FilePool, MoveFlags, Operation, StorageMode, StorageParams,
    TorrentStorage,
};

const N: FileFlags = FileFlags::NONE;
const PAD: FileFlags = FileFlags::PAD_FILE;

fn storage(fs: &Arc<FileStorage>, dir: &Path) -> TorrentStorage {
    TorrentStorage::new(
        StorageParams::new(fs.clone(), dir),
        Arc::new(FilePool::new(8)),
    )
}

fn write_all(st: &TorrentStorage, fs: &FileStorage, all: &[u8], order_seed: Option<u64>) {
    let mut bl = blocks(fs, 16 * 1024);
    if let Some(s) = order_seed {
        shuffle(&mut bl, s);
    }
    let pl = fs.piece_length() as usize;
    for (p, off, len) in bl {
        let a = p as usize * pl + off as usize;
        st.write(p, off, &all[a..a + len as usize]).unwrap();
    }
}

fn read_all(st: &TorrentStorage, fs: &FileStorage) -> Vec<u8> {
    let mut out = Vec::new();
    for p in 0..fs.num_pieces() as u32 {
        let mut buf = vec![0u8; fs.piece_size(p as i32) as usize];
        st.read(p, 0, &mut buf).unwrap();
        out.extend_from_slice(&buf);
    }
    out
}

#[test]
fn out_of_order_blocks_across_file_boundaries_read_back_equal() {
    let dir = TempDir::new("ooo");
    // Odd sizes so pieces and blocks straddle files; an empty file too.
    let fs = layout(
        &[
            ("t/a", 70_001, N),
            ("t/sub/b", 0, N),
            ("t/sub/c", 16_383, N),
            ("t/d", 1, N),
            ("t/e/f/g", 200_000, N),
        ],
        32 * 1024,
    );
    let st = storage(&fs, dir.path());
    let all = stream(&fs, 1);
    write_all(&st, &fs, &all, Some(7));
    assert_eq!(read_all(&st, &fs), all);
    // Each file on disk holds exactly its slice of the stream.
    for i in 0..fs.num_files() {
        let p = dir.path().join(fs.file_path(i, ""));
        let size = fs.file_size(i) as usize;
        if size == 0 {
            // Never written: created lazily only by initialize().
            assert!(!p.exists());
            continue;
        }
        let a = fs.file_offset(i) as usize;
        assert_eq!(std::fs::read(&p).unwrap(), &all[a..a + size], "file {i}");
    }
    // A read spanning three files in the middle of a piece.
    let mut buf = vec![0u8; 20_000];
    st.read(2, 3_000, &mut buf).unwrap();
    let a = 2 * 32 * 1024 + 3_000;
    assert_eq!(buf, &all[a..a + 20_000]);
    // Out of range requests are errors, not panics.
    assert!(st.read(fs.num_pieces() as u32, 0, &mut buf).is_err());
    assert!(st.write(0, 32 * 1024 - 10, &[0u8; 11]).is_err());
}

#[test]
fn pad_files_never_created_and_read_as_zeros() {
    let dir = TempDir::new("pad");
    let fs = layout(
        &[
            ("t/a", 10_000, N),
            ("t/.pad/6384", 6_384, PAD),
            ("t/b", 16_384, N),
            ("t/c", 5, N),
            ("t/.pad/16379", 16_379, PAD),
            ("t/d", 100, N),
        ],
        16 * 1024,
    );
    let st = storage(&fs, dir.path());
    // Nonzero bytes sent for pad ranges must not reach the disk.
    let all = data(fs.total_size() as usize, 2);
    write_all(&st, &fs, &all, Some(3));
    assert!(!dir.path().join("t/.pad").exists());
    let back = read_all(&st, &fs);
    for i in 0..fs.num_files() {
        let a = fs.file_offset(i) as usize;
        let b = a + fs.file_size(i) as usize;
        if fs.pad_file_at(i) {
            assert!(back[a..b].iter().all(|&x| x == 0));
        } else {
            assert_eq!(&back[a..b], &all[a..b]);
        }
    }
    // v2 piece sizes stop at the pad file.
    assert_eq!(st.v2_piece_len(0), 10_000);
    assert_eq!(st.v2_piece_len(1), 16_384);
    assert_eq!(st.v2_piece_len(2), 5);
    st.initialize().unwrap();
    assert!(!dir.path().join("t/.pad").exists());
}

#[test]
fn files_are_created_lazily() {
    let dir = TempDir::new("lazy");
    let fs = layout(&[("t/x/a", 40_000, N), ("t/y/b", 40_000, N)], 16 * 1024);
    let st = storage(&fs, dir.path());
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    st.write(0, 0, &[1u8; 1000]).unwrap();
    assert!(dir.path().join("t/x/a").exists());
    assert!(!dir.path().join("t/y").exists());
    // Sparse: the file is as long as what was written.
    assert_eq!(
        std::fs::metadata(dir.path().join("t/x/a")).unwrap().len(),
        1000
    );
    // Reading a file that does not exist is a file_open error on that file.
    let mut buf = [0u8; 10];
    let e = st.read(4, 0, &mut buf).unwrap_err();
    assert_eq!(e.file, ErrorFile::Index(1));
    assert_eq!(e.operation, Operation::FileOpen);
    assert_eq!(e.error.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn skipped_file_goes_to_part_file_and_is_exported_when_wanted() {
    let dir = TempDir::new("part");
    let fs = layout(
        &[("t/a", 20_000, N), ("t/b", 30_000, N), ("t/c", 20_000, N)],
        16 * 1024,
    );
    let mut params = StorageParams::new(fs.clone(), dir.path());
    params.file_priorities = vec![4, 0, 4];
    params.part_file_name = ".abc.parts".into();
    let st = TorrentStorage::new(params, Arc::new(FilePool::new(4)));
    let all = stream(&fs, 4);
    write_all(&st, &fs, &all, Some(9));
    assert!(!dir.path().join("t/b").exists(), "skipped file created");
    assert!(dir.path().join(".abc.parts").exists());
    assert_eq!(read_all(&st, &fs), all);
    // Survives a restart: a new storage object reads the part file.
    drop(st);
    let mut params = StorageParams::new(fs.clone(), dir.path());
    params.file_priorities = vec![4, 0, 4];
    params.part_file_name = ".abc.parts".into();
    let st = TorrentStorage::new(params, Arc::new(FilePool::new(4)));
    assert_eq!(read_all(&st, &fs), all);
    // Wanting the file moves its bytes out of the part file.
    st.set_file_priorities(&[4, 1, 4]).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("t/b")).unwrap(),
        &all[20_000..50_000]
    );
    assert!(!dir.path().join(".abc.parts").exists());
    assert_eq!(read_all(&st, &fs), all);
}

#[test]
fn symlinks_are_created_relative() {
    let dir = TempDir::new("sym");
    let mut fs = FileStorage::new();
    fs.add_file("t/x/a", 5, N, 0, "").unwrap();
    fs.add_file("t/y/link", 0, FileFlags::SYMLINK, 0, "x/a")
        .unwrap();
    fs.add_file("t/empty", 0, N, 0, "").unwrap();
    fs.set_piece_length(16 * 1024);
    fs.compute_num_pieces();
    let fs = Arc::new(fs);
    let st = storage(&fs, dir.path());
    st.write(0, 0, b"hello").unwrap();
    st.initialize().unwrap();
    let link = dir.path().join("t/y/link");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../x/a"));
    assert_eq!(std::fs::read(&link).unwrap(), b"hello");
    assert_eq!(
        std::fs::metadata(dir.path().join("t/empty")).unwrap().len(),
        0
    );
    // Idempotent.
    st.initialize().unwrap();
}

#[test]
fn allocate_mode_allocates_full_files() {
    let dir = TempDir::new("alloc");
    let fs = layout(
        &[
            ("t/a", 300_000, N),
            ("t/.pad/x", 1000, PAD),
            ("t/b", 5000, N),
        ],
        16 * 1024,
    );
    let mut params = StorageParams::new(fs.clone(), dir.path());
    params.mode = StorageMode::Allocate;
    params.file_priorities = vec![4, 4, 0];
    let st = TorrentStorage::new(params, Arc::new(FilePool::new(4)));
    st.initialize().unwrap();
    let m = std::fs::metadata(dir.path().join("t/a")).unwrap();
    assert_eq!(m.len(), 300_000);
    use std::os::unix::fs::MetadataExt;
    // Allocated, not sparse (unless the file system cannot allocate).
    assert!(m.blocks() * 512 >= 300_000 || m.blocks() == 0);
    assert!(!dir.path().join("t/b").exists(), "skipped file allocated");
    assert!(!dir.path().join("t/.pad").exists());
}

#[test]
fn reserve_piece_keeps_sizes_and_contents() {
    let dir = TempDir::new("reserve");
    let fs = layout(
        &[("t/a", 200_000, N), ("t/b", 300_000, N), ("t/c", 10_000, N)],
        256 * 1024,
    );
    let st = storage(&fs, dir.path());
    st.initialize().unwrap();
    // Piece 1 is the last 237,856 bytes of `b` (from offset 62,144) and all
    // of `c`.
    st.write(1, 0, &[7u8; 100]).unwrap();
    let b = dir.path().join("t/b");
    assert_eq!(std::fs::metadata(&b).unwrap().len(), 62_144 + 100);
    st.reserve_piece(0); // all of `a` and the head of `b` (too short to reserve)
    st.reserve_piece(1);
    use std::os::unix::fs::MetadataExt;
    let mb = std::fs::metadata(&b).unwrap();
    // Sizes do not change; the blocks are reserved (ext4 and tmpfs, where
    // the tests run, support it).
    assert_eq!(mb.len(), 62_144 + 100);
    assert!(mb.blocks() * 512 >= 237_856, "{} blocks", mb.blocks());
    let ma = std::fs::metadata(dir.path().join("t/a")).unwrap();
    assert_eq!(ma.len(), 0);
    assert!(ma.blocks() * 512 >= 200_000, "{} blocks", ma.blocks());
    // A range shorter than 128 KiB is left to the writes: `c` is not even
    // created.
    assert!(!dir.path().join("t/c").exists());
    let mut got = vec![0u8; 100];
    st.read(1, 0, &mut got).unwrap();
    assert_eq!(got, [7u8; 100]);
}

#[test]
fn move_rename_delete() {
    let dir = TempDir::new("move");
    let fs = layout(&[("t/d1/a", 20_000, N), ("t/d2/b", 20_000, N)], 16 * 1024);
    let old = dir.path().join("old");
    let new = dir.path().join("new");
    let st = storage(&fs, &old);
    let all = stream(&fs, 5);
    write_all(&st, &fs, &all, None);

    // fail_if_exist refuses when a destination file exists, moving nothing.
    std::fs::create_dir_all(new.join("t/d2")).unwrap();
    std::fs::write(new.join("t/d2/b"), b"other").unwrap();
    let e = st.move_storage(&new, MoveFlags::FailIfExist).unwrap_err();
    assert_eq!(e.error.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(e.file, ErrorFile::Index(1));
    assert!(old.join("t/d1/a").exists());
    assert_eq!(st.save_path(), old);

    // dont_replace keeps the destination's file.
    st.move_storage(&new, MoveFlags::DontReplace).unwrap();
    assert_eq!(st.save_path(), new);
    assert_eq!(std::fs::read(new.join("t/d1/a")).unwrap(), &all[..20_000]);
    assert_eq!(std::fs::read(new.join("t/d2/b")).unwrap(), b"other");
    assert!(!old.join("t/d1").exists(), "empty source dir left behind");

    // always_replace moves back over it.
    std::fs::remove_file(new.join("t/d2/b")).unwrap();
    write_all(&st, &fs, &all, None);
    st.move_storage(&old, MoveFlags::AlwaysReplaceFiles)
        .unwrap();
    assert_eq!(read_all(&st, &fs), all);

    // rename moves the file on disk and later IO follows it.
    let p = st.rename_file(0, Path::new("t/renamed")).unwrap();
    assert_eq!(p, old.join("t/renamed"));
    assert!(!old.join("t/d1/a").exists());
    assert_eq!(read_all(&st, &fs), all);

    // a file where the new name needs a directory: ENOTDIR, nothing moved
    std::fs::write(old.join("blocker"), b"x").unwrap();
    let e = st.rename_file(1, Path::new("blocker/b")).unwrap_err();
    assert_eq!(e.error.raw_os_error(), Some(libc::ENOTDIR));
    assert!(old.join("t/d2/b").exists());
    std::fs::remove_file(old.join("blocker")).unwrap();

    // delete removes files and the torrent's directories, not the save path.
    st.delete_files(DeleteFlags::Files).unwrap();
    assert!(!old.join("t").exists());
    assert!(old.exists());
}

#[test]
fn disk_full_is_reported_not_panicking() {
    // /dev/full accepts open for writing and fails every write with ENOSPC.
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let fs = layout(&[("full", 50_000, N)], 16 * 1024);
    assert_eq!(fs.file_path(0, ""), "full");
    let st = storage(&fs, Path::new("/dev"));
    let e = st.write(0, 0, &[7u8; 16_384]).unwrap_err();
    assert!(e.is_disk_full(), "{e}");
    assert_eq!(e.operation, Operation::FileWrite);
    assert_eq!(e.file, ErrorFile::Index(0));
    assert_eq!(e.error.raw_os_error(), Some(libc::ENOSPC));
}

/// Makes `dir` unwritable; returns false when that is impossible here.
pub fn make_read_only(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join(".probe");
    if std::fs::write(&probe, b"x").is_err() {
        return true;
    }
    // Root ignores permissions: try the immutable attribute instead.
    let _ = std::fs::remove_file(&probe);
    let ok = std::process::Command::new("chattr")
        .arg("+i")
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok && std::fs::write(&probe, b"x").is_err()
}

pub fn undo_read_only(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(dir)
        .status();
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

#[test]
fn read_only_directory_is_reported() {
    let dir = TempDir::new("ro");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    if !make_read_only(&ro) {
        undo_read_only(&ro);
        eprintln!("skipped: cannot make a read-only directory here");
        return;
    }
    let fs = layout(&[("t/a", 20_000, N), ("single", 0, N)], 16 * 1024);
    let st = storage(&fs, &ro);
    let e = st.write(0, 0, &[1u8; 100]).unwrap_err();
    assert!(e.is_read_only(), "{e}");
    assert_eq!(e.file, ErrorFile::Index(0));
    assert_eq!(e.operation, Operation::Mkdir);
    assert!(st.initialize().is_err());
    undo_read_only(&ro);
}

#[test]
fn layout_trait_matches_file_storage() {
    let fs = layout(
        &[("t/a", 10, N), ("t/b", 0, N), ("t/c", 30_000, N)],
        16 * 1024,
    );
    let l: &dyn FileLayout = &*fs;
    assert_eq!(l.num_pieces(), 2);
    assert_eq!(l.piece_size(1), 30_010 - 16_384);
    assert_eq!(l.file_path(2), Path::new("t/c"));
    let s = l.map_block(0, 5, 100);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].file_index, s[0].offset, s[0].size), (0, 5, 5));
    assert_eq!((s[1].file_index, s[1].offset, s[1].size), (2, 0, 95));
    assert!(l.symlink_target(0).is_none());
}

#[test]
fn dropping_a_storage_closes_its_pooled_files() {
    let dir = TempDir::new("dropclose");
    let fs = layout(&[("t/a", 20_000, N), ("t/b", 20_000, N)], 16 * 1024);
    let pool = Arc::new(FilePool::new(8));
    let st = TorrentStorage::new(StorageParams::new(fs.clone(), dir.path()), pool.clone());
    st.write(0, 0, &[1u8; 16_384]).unwrap();
    st.write(1, 10_000, &[1u8; 6_384]).unwrap();
    assert_eq!(pool.open_count(), 2);
    assert_eq!(open_fds_under(dir.path()), 2);
    drop(st);
    assert_eq!(pool.open_count(), 0);
    assert_eq!(open_fds_under(dir.path()), 0);
}

/// `read_to_vec` (no zero-fill) returns the same bytes as `read` for ranges
/// within a file, across files and over pad files, and the same errors for
/// a missing or too short file.
#[test]
fn read_to_vec_matches_read() {
    let dir = TempDir::new("st-read-to-vec");
    let fs = layout(
        &[
            ("t/a", 40_000, N),
            ("t/pad", 9_152, PAD),
            ("t/b", 70_000, N),
        ],
        16 * 1024,
    );
    let st = storage(&fs, dir.path());
    let all = stream(&fs, 31);
    write_all(&st, &fs, &all, Some(3));
    for p in 0..fs.num_pieces() as u32 {
        let size = fs.piece_size(p as i32) as u32;
        for (off, len) in [
            (0, size),
            (100, size - 100),
            (size / 2, size - size / 2),
            (0, 1),
        ] {
            let mut want = vec![0u8; len as usize];
            st.read(p, off, &mut want).unwrap();
            assert_eq!(
                st.read_to_vec(p, off, len).unwrap(),
                want,
                "piece {p} off {off}"
            );
        }
    }
    assert!(st.read_to_vec(0, 0, 16 * 1024 + 1).is_err());
    // t/b cut short: the same UnexpectedEof as `read`.
    let b = dir.path().join("t/b");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&b)
        .unwrap()
        .set_len(1_000)
        .unwrap();
    let last = fs.num_pieces() as u32 - 1;
    let len = fs.piece_size(last as i32) as u32;
    let e = st.read_to_vec(last, 0, len).unwrap_err();
    let mut buf = vec![0u8; len as usize];
    let e2 = st.read(last, 0, &mut buf).unwrap_err();
    assert_eq!(e.error.kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(
        (e.error.kind(), e.file, e.operation),
        (e2.error.kind(), e2.file, e2.operation)
    );
    assert_eq!(e.file, ErrorFile::Index(2));
    // Missing file: NotFound, as with `read`.
    std::fs::remove_file(&b).unwrap();
    st.release_files();
    let e = st.read_to_vec(last, 0, len).unwrap_err();
    assert_eq!(e.error.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn map_file_maps_what_the_file_holds_and_refuses_pads_and_short_files() {
    let dir = TempDir::new("mapfile");
    let fs = layout(
        &[
            ("t/a", 100_000, N),
            ("t/.pad/x", 31_072, PAD),
            ("t/b", 50_000, N),
        ],
        32 * 1024,
    );
    let st = storage(&fs, dir.path());
    let all = stream(&fs, 3);
    write_all(&st, &fs, &all, None);
    // Up to max_len, from any offset.
    let m = st.map_file(0, 10, 1000, 5000).expect("mapped");
    assert_eq!(m.bytes(), &all[10..5010]);
    // Clipped to what the file holds.
    let m = st.map_file(0, 90_000, 10_000, 1 << 20).expect("mapped");
    assert_eq!(m.bytes(), &all[90_000..100_000]);
    let b = fs.file_offset(2) as usize;
    let m = st.map_file(2, 0, 50_000, 1 << 20).expect("mapped");
    assert_eq!(m.bytes(), &all[b..b + 50_000]);
    assert!(!m.faulted());
    // Pad files are never on disk; a file shorter than needed is read
    // instead (and its reader reports where it ends).
    assert!(st.map_file(1, 0, 1, 1000).is_none());
    assert!(st.map_file(0, 90_000, 10_001, 1 << 20).is_none());
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("t/b"))
        .unwrap()
        .set_len(20_000)
        .unwrap();
    assert!(st.map_file(2, 0, 20_001, 1 << 20).is_none());
    assert_eq!(
        st.map_file(2, 0, 1, 1 << 20).expect("mapped").bytes().len(),
        20_000
    );
}

/// Drops the clean pages of `path` from the page cache.
fn evict(path: &Path) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: a plain call on a descriptor `f` keeps open.
    let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(r, 0);
}

#[test]
fn read_cached_reads_open_files_from_the_page_cache_only() {
    let dir = TempDir::new("cached");
    let fs = layout(
        &[
            ("t/a", 100_000, N),
            ("t/.pad/x", 31_072, PAD),
            ("t/b", 50_000, N),
            ("t/c", 40_000, N),
        ],
        32 * 1024,
    );
    let st = storage(&fs, dir.path());
    let all = stream(&fs, 5);
    write_all(&st, &fs, &all, None);
    // Just written through the pool: open, and in the page cache.
    assert_eq!(
        st.read_cached(0, 100, 16_384).expect("cached"),
        &all[100..16_484]
    );
    // Across two files (piece 5: the end of b, the start of c).
    let p5 = 5 * 32 * 1024;
    assert_eq!(
        st.read_cached(5, 0, 32 * 1024).expect("cached"),
        &all[p5..p5 + 32 * 1024]
    );
    // A range touching a pad file, or out of range: not here.
    assert!(st.read_cached(3, 0, 32 * 1024).is_none());
    assert!(st.read_cached(0, 32 * 1024 - 1, 2).is_none());
    // Files the pool does not hold open are not opened.
    st.release_files();
    assert!(st.read_cached(0, 0, 16_384).is_none());
    let mut buf = vec![0u8; 16_384];
    st.read(0, 0, &mut buf).unwrap();
    assert_eq!(st.read_cached(0, 0, 16_384).expect("open again"), buf);
    // Bytes not in the page cache would wait for the disk: refused, until
    // a read through the disk path brings them back. (The kernel may keep
    // a page that sits in another CPU's LRU cache through one eviction:
    // evicted again until it is gone.)
    let evicted = (0..50).any(|_| {
        evict(&dir.path().join("t/a"));
        let gone = st.read_cached(0, 0, 16_384).is_none();
        if !gone {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        gone
    });
    assert!(evicted, "the page cache kept the file");
    st.read(0, 0, &mut buf).unwrap();
    assert_eq!(st.read_cached(0, 0, 16_384).expect("cached again"), buf);
    // A file of priority 0 may be in the part file: refused.
    st.read(4, 0, &mut buf).unwrap();
    st.set_file_priorities(&[0, 1, 1, 1]).unwrap();
    assert!(st.read_cached(0, 0, 16_384).is_none());
    assert!(st.read_cached(4, 0, 16_384).is_some());
}
