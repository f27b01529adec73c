//! The DiskIo service: write cache with hashing on write, hash jobs,
//! checking, ordering of fence jobs, errors, bounded pool and cache.

mod common;

use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

use common::*;
use lt_core::{Sha1Hash, Sha256Hash};
use lt_metainfo::{FileFlags, FileStorage};
use lt_storage::{
    Completion, DeleteFlags, DiskIo, DiskIoConfig, ErrorFile, HashKinds, MoveFlags, Operation,
    PieceHash, StorageId, StorageParams,
};

const N: FileFlags = FileFlags::NONE;
const PAD: FileFlags = FileFlags::PAD_FILE;

fn service(cfg: DiskIoConfig) -> (DiskIo, Receiver<Completion>) {
    let (tx, rx) = channel();
    (DiskIo::new(cfg, tx).unwrap(), rx)
}

fn small_cfg() -> DiskIoConfig {
    DiskIoConfig {
        aio_threads: 3,
        hashing_threads: 2,
        ..DiskIoConfig::default()
    }
}

fn piece_bytes<'a>(fs: &FileStorage, all: &'a [u8], p: u32) -> &'a [u8] {
    let a = p as usize * fs.piece_length() as usize;
    &all[a..a + fs.piece_size(p as i32) as usize]
}

fn submit_blocks(io: &DiskIo, id: StorageId, fs: &FileStorage, all: &[u8], bl: &[(u32, u32, u32)]) {
    let pl = fs.piece_length() as usize;
    for &(p, off, len) in bl {
        let a = p as usize * pl + off as usize;
        io.async_write(id, p, off, all[a..a + len as usize].to_vec());
    }
}

/// Waits for the hash of `piece`, asserting every write of it completed Ok
/// before.
fn wait_hash(rx: &Receiver<Completion>, id: StorageId, piece: u32) -> (PieceHash, Vec<Completion>) {
    let (r, seen) = until(rx, |c| match c {
        Completion::Hash {
            storage,
            piece: p,
            result,
        } if *storage == id && *p == piece => Some(match result {
            Ok(h) => Ok(h.clone()),
            Err(e) => Err(e.to_string()),
        }),
        _ => None,
    });
    (r.expect("hash failed"), seen)
}

#[test]
fn blocks_out_of_order_hash_and_read_back() {
    let dir = TempDir::new("io-ooo");
    let fs = layout(
        &[("t/a", 100_000, N), ("t/b", 3, N), ("t/c", 150_000, N)],
        64 * 1024,
    );
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let all = stream(&fs, 11);
    let mut bl = blocks(&fs, 16 * 1024);
    shuffle(&mut bl, 5);
    submit_blocks(&io, id, &fs, &all, &bl);
    let mut writes = 0;
    for p in 0..fs.num_pieces() as u32 {
        io.async_hash(id, p);
    }
    let mut hashed = vec![false; fs.num_pieces() as usize];
    let mut written_bytes = vec![0u32; fs.num_pieces() as usize];
    while hashed.iter().any(|h| !h) {
        match next(&rx) {
            Completion::Write {
                piece, len, result, ..
            } => {
                result.unwrap();
                assert!(
                    !hashed[piece as usize],
                    "write completed after its piece's hash"
                );
                written_bytes[piece as usize] += len;
                writes += 1;
            }
            Completion::Hash { piece, result, .. } => {
                let h = result.unwrap();
                // A piece is reported only once all its blocks are written.
                assert_eq!(
                    written_bytes[piece as usize],
                    fs.piece_size(piece as i32) as u32
                );
                assert_eq!(h.v1, Some(Sha1Hash::digest(piece_bytes(&fs, &all, piece))));
                assert!(h.v2_blocks.is_empty());
                hashed[piece as usize] = true;
            }
            c => panic!("unexpected {c:?}"),
        }
    }
    assert_eq!(writes, bl.len());
    // Read back block by block through the service.
    for &(p, off, len) in &bl {
        io.async_read(id, p, off, len);
        let (data, _) = until(&rx, |c| match c {
            Completion::Read {
                piece,
                offset,
                result,
                ..
            } if *piece == p && *offset == off => Some(result.as_ref().unwrap().clone()),
            _ => None,
        });
        let a = p as usize * fs.piece_length() as usize + off as usize;
        assert_eq!(data, &all[a..a + len as usize]);
    }
    assert_eq!(io.stats().cached_pieces, 0);
    assert_eq!(io.stats().buffered_bytes, 0);
}

#[test]
fn hash_failure_detected_and_rehash_from_disk() {
    let dir = TempDir::new("io-bad");
    let fs = layout(&[("t/a", 128 * 1024, N)], 64 * 1024);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let all = stream(&fs, 12);
    let mut bad = all.clone();
    bad[70_000] ^= 0xff; // piece 1
    submit_blocks(&io, id, &fs, &bad, &blocks(&fs, 16 * 1024));
    io.async_hash(id, 0);
    let (h0, _) = wait_hash(&rx, id, 0);
    io.async_hash(id, 1);
    let (h1, _) = wait_hash(&rx, id, 1);
    assert_eq!(h0.v1, Some(Sha1Hash::digest(piece_bytes(&fs, &all, 0))));
    assert_ne!(h1.v1, Some(Sha1Hash::digest(piece_bytes(&fs, &all, 1))));
    assert_eq!(h1.v1, Some(Sha1Hash::digest(piece_bytes(&fs, &bad, 1))));
    // Re-download the bad block only; the hash is recomputed from disk.
    io.async_write(id, 1, 0, all[65_536..81_920].to_vec());
    io.async_hash(id, 1);
    let (h1, _) = wait_hash(&rx, id, 1);
    assert_eq!(h1.v1, Some(Sha1Hash::digest(piece_bytes(&fs, &all, 1))));
}

#[test]
fn v2_block_hashes_and_hybrid_pads() {
    let dir = TempDir::new("io-v2");
    // Hybrid layout: each file piece-aligned by pad files.
    let fs = layout(
        &[
            ("t/a", 40_000, N),
            ("t/.pad/25536", 25_536, PAD),
            ("t/b", 70_000, N),
        ],
        64 * 1024,
    );
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::BOTH);
    let all = stream(&fs, 13);
    let expect_v2 = |p: u32, len: usize| -> Vec<Sha256Hash> {
        let a = p as usize * 65_536;
        all[a..a + len]
            .chunks(16_384)
            .map(Sha256Hash::digest)
            .collect()
    };
    // Piece 0 in order (hashed on write), piece 1 reversed, piece 2 via a
    // partial block written at an unaligned offset (hashed from disk).
    let bl = blocks(&fs, 16 * 1024);
    let mut order: Vec<_> = bl.iter().filter(|b| b.0 == 0).copied().collect();
    order.extend(bl.iter().filter(|b| b.0 == 1).rev().copied());
    submit_blocks(&io, id, &fs, &all, &order);
    let a2 = 2 * 65_536;
    io.async_write(id, 2, 0, all[a2..a2 + 100].to_vec());
    io.async_write(
        id,
        2,
        100,
        all[a2 + 100..a2 + fs.piece_size(2) as usize].to_vec(),
    );
    for p in 0..3 {
        io.async_hash(id, p);
    }
    let mut got = std::collections::HashMap::new();
    while got.len() < 3 {
        if let Completion::Hash { piece, result, .. } = next(&rx) {
            got.insert(piece, result.unwrap());
        }
    }
    for (p, v2len) in [(0u32, 40_000usize), (1, 65_536), (2, 70_000 - 65_536)] {
        let h = &got[&p];
        assert_eq!(
            h.v1,
            Some(Sha1Hash::digest(piece_bytes(&fs, &all, p))),
            "v1 {p}"
        );
        assert_eq!(h.v2_blocks, expect_v2(p, v2len), "v2 {p}");
    }
    assert!(!dir.path().join("t/.pad").exists());
    // Single block hash from disk.
    io.async_hash_block(id, 1, 16_384);
    let (h, _) = until(&rx, |c| match c {
        Completion::BlockHash { result, .. } => Some(*result.as_ref().unwrap()),
        _ => None,
    });
    assert_eq!(
        h,
        Sha256Hash::digest(&all[65_536 + 16_384..65_536 + 32_768])
    );
}

#[test]
fn check_files_finds_exactly_the_valid_pieces() {
    let dir = TempDir::new("io-check");
    let pl = 32 * 1024;
    let fs = layout(
        &[("t/a", 100_000, N), ("t/b", 50_000, N), ("t/c", 120_000, N)],
        pl,
    );
    let all = stream(&fs, 14);
    let hashes: Vec<Sha1Hash> = (0..fs.num_pieces() as u32)
        .map(|p| Sha1Hash::digest(piece_bytes(&fs, &all, p)))
        .collect();
    // Partially written torrent: file a complete but one byte of piece 1
    // corrupted, file b missing, file c only its first 40000 bytes.
    let sp = dir.path();
    std::fs::create_dir_all(sp.join("t")).unwrap();
    let mut a = all[..100_000].to_vec();
    a[40_000] ^= 1;
    std::fs::write(sp.join("t/a"), &a).unwrap();
    std::fs::write(sp.join("t/c"), &all[150_000..190_000]).unwrap();
    let mut expect = Vec::new();
    for p in 0..fs.num_pieces() as u32 {
        let start = p as usize * pl as usize;
        let end = start + fs.piece_size(p as i32) as usize;
        let ok = end <= 100_000 && p != 1 || start >= 150_000 && end <= 190_000;
        expect.push(ok);
    }
    assert!(expect.iter().any(|&x| x) && expect.iter().any(|&x| !x));

    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), sp), HashKinds::V1);
    let h2 = hashes.clone();
    io.async_check_files(
        id,
        Box::new(move |p, h: &PieceHash| h.v1 == h2.get(p as usize).copied()),
    );
    let (res, seen) = until(&rx, |c| match c {
        Completion::CheckDone { result, .. } => Some(result.as_ref().unwrap().clone()),
        _ => None,
    });
    assert!(!res.aborted);
    assert_eq!(res.have, expect);
    let last = seen.iter().rev().find_map(|c| match c {
        Completion::CheckProgress { checked, total, .. } => Some((*checked, *total)),
        _ => None,
    });
    assert_eq!(last, Some((fs.num_pieces() as u32, fs.num_pieces() as u32)));
    // Checking created nothing.
    assert!(!sp.join("t/b").exists());

    // Nothing on disk at all: every piece invalid, nothing read.
    let empty = TempDir::new("io-check-empty");
    let id2 = io.add_storage(StorageParams::new(fs.clone(), empty.path()), HashKinds::V1);
    io.async_check_files(id2, Box::new(|_, _| true));
    let (res, _) = until(&rx, |c| match c {
        Completion::CheckDone { storage, result } if *storage == id2 => {
            Some(result.as_ref().unwrap().clone())
        }
        _ => None,
    });
    assert!(res.have.iter().all(|&x| !x));
}

#[test]
fn abort_check_stops_early() {
    let dir = TempDir::new("io-abort");
    let fs = layout(&[("t/a", 4 << 20, N)], 16 * 1024);
    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    std::fs::write(dir.path().join("t/a"), vec![0u8; 4 << 20]).unwrap();
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate_rx = std::sync::Mutex::new(gate_rx);
    // The verifier blocks on piece 3 until the test has asked to abort.
    io.async_check_files(
        id,
        Box::new(move |p, _| {
            if p == 3 {
                let _ = gate_rx.lock().unwrap().recv();
            }
            true
        }),
    );
    until(&rx, |c| match c {
        Completion::CheckProgress { checked, .. } if *checked >= 2 => Some(()),
        _ => None,
    });
    io.abort_check(id);
    gate_tx.send(()).unwrap();
    let (res, _) = until(&rx, |c| match c {
        Completion::CheckDone { result, .. } => Some(result.as_ref().unwrap().clone()),
        _ => None,
    });
    assert!(res.aborted);
    assert!(res.have.len() < fs.num_pieces() as usize);
}

#[test]
fn fence_jobs_are_ordered_after_earlier_writes() {
    let dir = TempDir::new("io-fence");
    let fs = layout(&[("t/x/a", 50_000, N), ("t/b", 30_000, N)], 16 * 1024);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(
        StorageParams::new(fs.clone(), dir.path().join("one")),
        HashKinds::V1,
    );
    let all = stream(&fs, 15);
    let bl = blocks(&fs, 16 * 1024);
    submit_blocks(&io, id, &fs, &all, &bl);
    // Submitted right after the writes: must see all of them.
    io.async_move_storage(id, dir.path().join("two"), MoveFlags::AlwaysReplaceFiles);
    io.async_read(id, 3, 0, 16_384);
    let mut writes = 0;
    let mut moved = false;
    loop {
        match next(&rx) {
            Completion::Write { result, .. } => {
                result.unwrap();
                assert!(!moved);
                writes += 1;
            }
            Completion::Moved { result, .. } => {
                assert_eq!(result.unwrap(), dir.path().join("two"));
                assert_eq!(writes, bl.len());
                moved = true;
            }
            Completion::Read { result, .. } => {
                assert!(moved);
                assert_eq!(result.unwrap(), &all[3 * 16_384..4 * 16_384]);
                break;
            }
            c => panic!("unexpected {c:?}"),
        }
    }
    assert_eq!(
        std::fs::read(dir.path().join("two/t/x/a")).unwrap(),
        &all[..50_000]
    );
    assert!(!dir.path().join("one/t").exists());
    assert_eq!(io.save_path(id), Some(dir.path().join("two")));

    io.async_rename_file(id, 1, "t/renamed".into());
    io.async_release_files(id);
    io.async_flush(id);
    until(&rx, |c| {
        matches!(c, Completion::Flushed { .. }).then_some(())
    });
    assert!(dir.path().join("two/t/renamed").exists());
    assert_eq!(io.stats().open_files, 0);

    // Jobs queued behind the removal fail cleanly (and nothing hangs).
    io.remove_storage(id);
    io.async_write(id, 0, 0, vec![1u8; 100]);
    io.async_hash(id, 0);
    let mut failed = 0;
    while failed < 2 {
        match next(&rx) {
            Completion::Write { result, .. } => {
                assert!(result.is_err());
                failed += 1;
            }
            Completion::Hash { result, .. } => {
                assert!(result.is_err());
                failed += 1;
            }
            Completion::Removed { result, .. } => result.unwrap(),
            c => panic!("unexpected {c:?}"),
        }
    }
    io.async_read(id, 0, 0, 10);
    let (r, _) = until(&rx, |c| match c {
        Completion::Read { result, .. } => Some(result.as_ref().err().map(|e| e.error.kind())),
        _ => None,
    });
    assert_eq!(r, Some(std::io::ErrorKind::NotFound));
}

#[test]
fn write_cache_is_bounded() {
    let dir = TempDir::new("io-cache");
    let pl = 256 * 1024;
    let fs = layout(&[("t/a", 32 * pl as i64, N)], pl);
    let budget = 256 * 1024;
    let cfg = DiskIoConfig {
        cache_bytes: budget,
        aio_threads: 1,
        ..small_cfg()
    };
    let (io, rx) = service(cfg);
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let all = stream(&fs, 16);
    // Half of every piece: no piece completes, so only the budget flushes.
    let bl: Vec<_> = blocks(&fs, 16 * 1024)
        .into_iter()
        .filter(|b| b.1 < pl as u32 / 2)
        .collect();
    let mut max_buffered = 0;
    let pl_us = pl as usize;
    for &(p, off, len) in &bl {
        let a = p as usize * pl_us + off as usize;
        io.async_write(id, p, off, all[a..a + len as usize].to_vec());
        max_buffered = max_buffered.max(io.stats().buffered_bytes);
    }
    io.async_flush(id);
    let (_, seen) = until(&rx, |c| {
        matches!(c, Completion::Flushed { .. }).then_some(())
    });
    let ok_writes = seen
        .iter()
        .filter(|c| matches!(c, Completion::Write { result: Ok(()), .. }))
        .count();
    assert_eq!(ok_writes, bl.len());
    assert!(max_buffered <= budget + 16 * 1024, "{max_buffered}");
    assert_eq!(io.stats().buffered_bytes, 0);
    // The rest of every piece, then hashes: partly hashed on write, partly
    // re-read; all correct.
    let rest: Vec<_> = blocks(&fs, 16 * 1024)
        .into_iter()
        .filter(|b| b.1 >= pl as u32 / 2)
        .collect();
    submit_blocks(&io, id, &fs, &all, &rest);
    for p in 0..fs.num_pieces() as u32 {
        io.async_hash(id, p);
        let (h, _) = wait_hash(&rx, id, p);
        assert_eq!(h.v1, Some(Sha1Hash::digest(piece_bytes(&fs, &all, p))));
    }
}

#[test]
fn file_pool_bounds_open_descriptors() {
    let dir = TempDir::new("io-pool");
    let files: Vec<(String, i64, FileFlags)> =
        (0..40).map(|i| (format!("t/f{i:02}"), 5_000, N)).collect();
    let refs: Vec<(&str, i64, FileFlags)> =
        files.iter().map(|(p, s, f)| (p.as_str(), *s, *f)).collect();
    let fs = layout(&refs, 16 * 1024);
    let cfg = DiskIoConfig {
        file_pool_size: 4,
        aio_threads: 2,
        hashing_threads: 1,
        ..DiskIoConfig::default()
    };
    let (io, rx) = service(cfg);
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let all = stream(&fs, 17);
    let mut max_fds = 0;
    for p in 0..fs.num_pieces() as u32 {
        let a = p as usize * 16_384;
        io.async_write(
            id,
            p,
            0,
            all[a..a + fs.piece_size(p as i32) as usize].to_vec(),
        );
        io.async_hash(id, p);
        wait_hash(&rx, id, p);
        max_fds = max_fds.max(open_fds_under(dir.path()));
        assert!(io.stats().open_files <= 4);
    }
    assert!(max_fds <= 4, "{max_fds} descriptors open");
    for i in 0..fs.num_files() {
        assert!(dir.path().join(fs.file_path(i, "")).exists());
    }
    io.async_release_files(id);
    until(&rx, |c| {
        matches!(c, Completion::Released { .. }).then_some(())
    });
    assert_eq!(open_fds_under(dir.path()), 0);
}

#[test]
fn disk_full_comes_back_as_completions() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let fs = layout(&[("full", 40_000, N)], 32 * 1024);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), "/dev"), HashKinds::V1);
    io.async_write(id, 0, 0, vec![1u8; 16_384]);
    io.async_write(id, 0, 16_384, vec![1u8; 16_384]);
    io.async_hash(id, 0);
    let mut errors = 0;
    loop {
        match next(&rx) {
            Completion::Write { result, .. } => {
                let e = result.unwrap_err();
                assert!(e.is_disk_full());
                assert_eq!(e.file, ErrorFile::Index(0));
                assert_eq!(e.operation, Operation::FileWrite);
                errors += 1;
            }
            Completion::Hash { result, .. } => {
                // The hash is never taken from data that did not reach the
                // disk: it reflects what the device holds.
                if let Ok(h) = result {
                    assert_ne!(h.v1, Some(Sha1Hash::digest(&[1u8; 32_768])));
                }
                break;
            }
            c => panic!("unexpected {c:?}"),
        }
    }
    assert_eq!(errors, 2);
}

#[test]
fn bad_requests_are_errors() {
    let dir = TempDir::new("io-badreq");
    let fs = layout(&[("t/a", 20_000, N)], 16 * 1024);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    io.async_write(id, 5, 0, vec![0; 10]);
    io.async_write(id, 1, 3_000, vec![0; 10_000]);
    io.async_write(id, 0, 0, Vec::new());
    io.async_read(id, 0, 16_000, 1_000);
    io.async_hash(id, 9);
    io.async_write(999, 0, 0, vec![0; 10]);
    for _ in 0..6 {
        match next(&rx) {
            Completion::Write { result, .. } => assert!(result.is_err()),
            Completion::Read { result, .. } => assert!(result.is_err()),
            Completion::Hash { result, .. } => assert!(result.is_err()),
            c => panic!("unexpected {c:?}"),
        }
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn drop_writes_out_buffered_blocks() {
    let dir = TempDir::new("io-drop");
    let fs = layout(&[("t/a", 100_000, N)], 64 * 1024);
    let all = stream(&fs, 18);
    {
        let (io, _rx) = service(small_cfg());
        let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
        io.async_write(id, 0, 0, all[..16_384].to_vec());
    }
    assert_eq!(
        std::fs::read(dir.path().join("t/a")).unwrap(),
        &all[..16_384]
    );
}

#[test]
fn closure_sink_works() {
    let dir = TempDir::new("io-closure");
    let fs = layout(&[("t/a", 1_000, N)], 16 * 1024);
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    let io = DiskIo::new(small_cfg(), move |c: Completion| {
        let _ = tx.lock().unwrap().send(c);
    })
    .unwrap();
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    io.async_write(id, 0, 0, vec![9u8; 1_000]);
    assert!(matches!(
        next(&rx),
        Completion::Write { result: Ok(()), .. }
    ));
    let _ = Arc::new(());
}

#[test]
fn part_file_priorities_initialize_and_delete_through_the_service() {
    let dir = TempDir::new("io-part");
    let fs = layout(
        &[
            ("t/a", 20_000, N),
            ("t/b", 30_000, N),
            ("t/c", 20_000, N),
            ("t/e", 0, N),
        ],
        16 * 1024,
    );
    let (io, rx) = service(small_cfg());
    let mut params = StorageParams::new(fs.clone(), dir.path());
    params.file_priorities = vec![4, 0, 4, 4];
    params.part_file_name = ".x.parts".into();
    let id = io.add_storage(params, HashKinds::V1);
    io.async_initialize(id);
    let (ok, _) = until(&rx, |c| match c {
        Completion::Initialized { result, .. } => Some(result.is_ok()),
        _ => None,
    });
    assert!(ok);
    assert!(dir.path().join("t/e").exists());
    assert!(!dir.path().join("t/b").exists());
    let all = stream(&fs, 19);
    let bl = blocks(&fs, 16 * 1024);
    submit_blocks(&io, id, &fs, &all, &bl);
    for p in 0..fs.num_pieces() as u32 {
        io.async_hash(id, p);
    }
    let mut n = 0;
    while n < fs.num_pieces() {
        if let Completion::Hash { piece, result, .. } = next(&rx) {
            assert_eq!(
                result.unwrap().v1,
                Some(Sha1Hash::digest(piece_bytes(&fs, &all, piece)))
            );
            n += 1;
        }
    }
    assert!(!dir.path().join("t/b").exists());
    assert!(dir.path().join(".x.parts").exists());
    // A check reads the skipped file's bytes from the part file.
    let hashes: Vec<Sha1Hash> = (0..fs.num_pieces() as u32)
        .map(|p| Sha1Hash::digest(piece_bytes(&fs, &all, p)))
        .collect();
    io.async_check_files(
        id,
        Box::new(move |p, h: &PieceHash| h.v1 == Some(hashes[p as usize])),
    );
    let (res, _) = until(&rx, |c| match c {
        Completion::CheckDone { result, .. } => Some(result.as_ref().unwrap().clone()),
        _ => None,
    });
    assert!(res.have.iter().all(|&x| x));

    io.async_set_file_priorities(id, vec![4, 4, 4, 4]);
    let (ok, _) = until(&rx, |c| match c {
        Completion::PrioritiesSet { result, .. } => Some(result.is_ok()),
        _ => None,
    });
    assert!(ok);
    assert_eq!(
        std::fs::read(dir.path().join("t/b")).unwrap(),
        &all[20_000..50_000]
    );
    assert!(!dir.path().join(".x.parts").exists());

    // Buffered blocks of a deleted torrent are dropped, not written.
    io.async_write(id, 0, 0, vec![1u8; 100]);
    io.async_delete_files(id, DeleteFlags::Files);
    let mut deleted = false;
    let mut write_err = false;
    while !deleted {
        match next(&rx) {
            Completion::Write { result, .. } => write_err = result.is_err(),
            Completion::Deleted { result, .. } => {
                result.unwrap();
                deleted = true;
            }
            c => panic!("unexpected {c:?}"),
        }
    }
    assert!(write_err);
    assert!(!dir.path().join("t").exists());
    assert_eq!(io.stats().buffered_bytes, 0);
}

#[test]
fn a_panicking_job_is_reported_and_the_storage_goes_on() {
    let dir = TempDir::new("io-panic");
    let fs = layout(&[("t/a", 20_000, N)], 16 * 1024);
    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    std::fs::write(dir.path().join("t/a"), vec![0u8; 20_000]).unwrap();
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    io.async_check_files(id, Box::new(|_, _| panic!("verifier bug")));
    // Submitted behind the check's fence: must still run.
    io.async_read(id, 0, 0, 100);
    let (r, _) = until(&rx, |c| match c {
        Completion::CheckDone { result, .. } => Some(result.is_err()),
        _ => None,
    });
    assert!(r);
    let (r, _) = until(&rx, |c| match c {
        Completion::Read { result, .. } => Some(result.as_ref().map(|v| v.len()).unwrap()),
        _ => None,
    });
    assert_eq!(r, 100);
}

#[test]
fn a_long_check_does_not_hold_up_other_torrents() {
    let dir = TempDir::new("io-checkpar");
    let fs = layout(&[("t/a", 64 * 1024, N)], 16 * 1024);
    std::fs::create_dir_all(dir.path().join("one/t")).unwrap();
    std::fs::write(dir.path().join("one/t/a"), vec![0u8; 64 * 1024]).unwrap();
    let (io, rx) = service(DiskIoConfig {
        hashing_threads: 1,
        ..small_cfg()
    });
    let one = io.add_storage(
        StorageParams::new(fs.clone(), dir.path().join("one")),
        HashKinds::V1,
    );
    let two = io.add_storage(
        StorageParams::new(fs.clone(), dir.path().join("two")),
        HashKinds::V1,
    );
    let (gate_tx, gate_rx) = channel::<()>();
    let gate_rx = std::sync::Mutex::new(gate_rx);
    io.async_check_files(
        one,
        Box::new(move |_, _| {
            let _ = gate_rx.lock().unwrap().recv();
            true
        }),
    );
    // While the check of `one` waits, `two` writes and hashes a piece.
    let all = stream(&fs, 20);
    io.async_write(two, 0, 0, all[..16_384].to_vec());
    io.async_hash(two, 0);
    let (h, _) = wait_hash(&rx, two, 0);
    assert_eq!(h.v1, Some(Sha1Hash::digest(&all[..16_384])));
    for _ in 0..4 {
        gate_tx.send(()).unwrap();
    }
    let (res, _) = until(&rx, |c| match c {
        Completion::CheckDone { result, .. } => Some(result.as_ref().unwrap().clone()),
        _ => None,
    });
    assert_eq!(res.have, vec![true; 4]);
}

#[test]
fn failed_flush_is_not_hashed_from_memory_and_recovers() {
    let dir = TempDir::new("io-recover");
    let fs = layout(&[("t/a", 32_768, N)], 32_768);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let all = stream(&fs, 21);
    // A directory where the file should be: every write to it fails.
    std::fs::create_dir_all(dir.path().join("t/a")).unwrap();
    io.async_write(id, 0, 0, all[..16_384].to_vec());
    io.async_write(id, 0, 16_384, all[16_384..].to_vec());
    io.async_hash(id, 0);
    let mut errs = 0;
    loop {
        match next(&rx) {
            Completion::Write { result, .. } => {
                let e = result.unwrap_err();
                assert_eq!(e.file, ErrorFile::Index(0));
                errs += 1;
            }
            Completion::Hash { result, .. } => {
                assert!(result.is_err(), "hash taken from data not on disk");
                break;
            }
            c => panic!("unexpected {c:?}"),
        }
    }
    assert_eq!(errs, 2);
    // The user fixes the problem; the blocks come again and verify.
    std::fs::remove_dir(dir.path().join("t/a")).unwrap();
    io.async_release_files(id);
    io.async_write(id, 0, 0, all[..16_384].to_vec());
    io.async_write(id, 0, 16_384, all[16_384..].to_vec());
    io.async_hash(id, 0);
    let (h, _) = wait_hash(&rx, id, 0);
    assert_eq!(h.v1, Some(Sha1Hash::digest(&all)));
}

#[test]
fn hybrid_check_hashes_large_pieces_in_parallel_and_verifies_in_order() {
    // Pieces of 512 KiB (read in several chunks), a v2 part shorter than the
    // piece before a pad file, a short last piece; pieces 2 and 4 corrupt.
    let dir = TempDir::new("io-check-hybrid");
    let pl = 512 * 1024;
    let fs = layout(
        &[
            ("t/a", 600_000, N),
            ("t/.pad/1", 2 * pl as i64 - 600_000, PAD),
            ("t/b", 1_700_000, N),
        ],
        pl,
    );
    let all = stream(&fs, 23);
    let n = fs.num_pieces() as u32;
    assert_eq!(n, 6);
    let expect_hash = |p: u32| {
        let bytes = piece_bytes(&fs, &all, p);
        let v2_len = match p {
            1 => 600_000 - pl as usize,
            _ => bytes.len(),
        };
        PieceHash {
            v1: Some(Sha1Hash::digest(bytes)),
            v2_blocks: bytes[..v2_len]
                .chunks(16 * 1024)
                .map(Sha256Hash::digest)
                .collect(),
        }
    };
    let want: Vec<PieceHash> = (0..n).map(expect_hash).collect();
    let sp = dir.path();
    std::fs::create_dir_all(sp.join("t")).unwrap();
    let a = all[..600_000].to_vec();
    let mut b = all[2 * pl as usize..].to_vec();
    b[10] ^= 1; // piece 2
    b[2 * pl as usize + 300_000] ^= 1; // piece 4
    std::fs::write(sp.join("t/a"), &a).unwrap();
    std::fs::write(sp.join("t/b"), &b).unwrap();

    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), sp), HashKinds::BOTH);
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_order = order.clone();
    io.async_check_files(
        id,
        Box::new(move |p, h: &PieceHash| {
            seen_order.lock().unwrap().push(p);
            *h == want[p as usize]
        }),
    );
    let (res, _) = until(&rx, |c| match c {
        Completion::CheckDone { result, .. } => Some(result.as_ref().unwrap().clone()),
        _ => None,
    });
    assert!(!res.aborted);
    assert_eq!(res.have, vec![true, true, false, true, false, true]);
    assert_eq!(*order.lock().unwrap(), (0..n).collect::<Vec<_>>());
}

/// Blocks handed over as `Bytes` slices of one shared receive buffer (with
/// message headers between them, as the engine does), submitted while
/// worker wake-ups are held: all are written and hashed once released.
#[test]
fn held_wakeups_and_shared_buffer_slices() {
    let dir = TempDir::new("io-hold");
    let fs = layout(&[("t/a", 300_000, N)], 64 * 1024);
    let all = stream(&fs, 23);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    let bl = blocks(&fs, 16 * 1024);
    // One buffer: a 13-byte header before each block, like piece messages.
    let mut wire = Vec::new();
    let mut at = Vec::new();
    let pl = fs.piece_length() as usize;
    for &(p, off, len) in &bl {
        wire.extend_from_slice(&[0xAB; 13]);
        at.push(wire.len());
        let a = p as usize * pl + off as usize;
        wire.extend_from_slice(&all[a..a + len as usize]);
    }
    let wire = bytes::Bytes::from(wire);
    io.hold_wakeups();
    for (&(p, off, len), &start) in bl.iter().zip(&at) {
        io.async_write(id, p, off, wire.slice(start..start + len as usize));
    }
    for p in 0..fs.num_pieces() as u32 {
        io.async_hash(id, p);
    }
    io.release_wakeups();
    drop(wire);
    // The pieces' hashes complete in any order (several hash threads).
    let n = fs.num_pieces() as usize;
    let mut hashed = vec![None; n];
    while hashed.iter().any(Option::is_none) {
        match next(&rx) {
            Completion::Hash {
                storage,
                piece,
                result,
            } if storage == id => {
                hashed[piece as usize] = Some(result.expect("hash failed").v1);
            }
            Completion::Write { result, .. } => assert!(result.is_ok()),
            _ => {}
        }
    }
    for (p, h) in hashed.into_iter().enumerate() {
        assert_eq!(
            h.flatten(),
            Some(Sha1Hash::digest(piece_bytes(&fs, &all, p as u32)))
        );
    }
    drop(io);
    assert_eq!(std::fs::read(dir.path().join("t/a")).unwrap(), all);
}

/// A job submitted while wake-ups are held and never released still runs
/// (an idle worker looks at its queue now and then).
#[test]
fn held_wakeups_never_strand_a_job() {
    let dir = TempDir::new("io-hold-forgot");
    let fs = layout(&[("t/a", 20_000, N)], 16 * 1024);
    let all = stream(&fs, 24);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(StorageParams::new(fs.clone(), dir.path()), HashKinds::V1);
    io.hold_wakeups();
    io.async_write(id, 1, 0, all[16_384..].to_vec());
    io.async_hash(id, 1);
    let (h, _) = wait_hash(&rx, id, 1);
    assert_eq!(h.v1, Some(Sha1Hash::digest(&all[16_384..])));
}

#[test]
fn read_cached_leaves_pieces_in_the_write_cache_and_waits_for_fences() {
    let dir = TempDir::new("io-cached");
    let fs = layout(&[("t/a", 100_000, N)], 32 * 1024);
    let (io, rx) = service(small_cfg());
    let id = io.add_storage(
        StorageParams::new(fs.clone(), dir.path().join("one")),
        HashKinds::V1,
    );
    let all = stream(&fs, 3);
    // Piece 0 written and hashed: no cache state left, its file open.
    let bl: Vec<_> = blocks(&fs, 16 * 1024)
        .into_iter()
        .filter(|b| b.0 == 0)
        .collect();
    submit_blocks(&io, id, &fs, &all, &bl);
    io.async_hash(id, 0);
    wait_hash(&rx, id, 0);
    assert_eq!(
        io.read_cached(id, 0, 0, 32 * 1024).expect("cached"),
        piece_bytes(&fs, &all, 0)
    );
    // Piece 1 has a block in the write cache: a disk thread reads it.
    io.async_write(id, 1, 0, all[32 * 1024..48 * 1024].to_vec());
    assert!(io.read_cached(id, 1, 0, 16 * 1024).is_none());
    // While a move is queued or running, reads wait for it.
    io.async_move_storage(id, dir.path().join("two"), MoveFlags::AlwaysReplaceFiles);
    assert!(io.read_cached(id, 0, 0, 16 * 1024).is_none());
    until(&rx, |c| match c {
        Completion::Moved { result, .. } => Some(result.as_ref().unwrap().clone()),
        _ => None,
    });
    // Afterwards the file at its new place is read (opened by a disk
    // thread first).
    io.async_read(id, 0, 0, 16 * 1024);
    until(&rx, |c| match c {
        Completion::Read { result, .. } => Some(result.as_ref().unwrap().len()),
        _ => None,
    });
    assert!(dir.path().join("two/t/a").exists());
    assert_eq!(
        io.read_cached(id, 0, 0, 16 * 1024).expect("cached"),
        &all[..16 * 1024]
    );
}
