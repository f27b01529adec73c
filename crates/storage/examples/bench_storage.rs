//! Rough throughput check of the disk layer (not a test): writes a torrent
//! of `BENCH_MB` MiB (default 1024) through `DiskIo` in 16 KiB blocks,
//! hashes every piece (hashing on write), syncs, then checks the files
//! (read + SHA-1 of every piece), printing MB/s for each phase.
//!
//! Usage: `cargo run --release -p lt-storage --example bench_storage [DIR]`

use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Instant;

use lt_core::Sha1Hash;
use lt_metainfo::{FileFlags, FileStorage};
use lt_storage::{Completion, DiskIo, DiskIoConfig, HashKinds, PieceHash, StorageParams};

fn main() {
    let mb: u64 = std::env::var("BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("lt-bench-storage-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create bench dir");

    let total = mb << 20;
    let piece_len: i32 = 4 << 20;
    let mut fs = FileStorage::new();
    // Four files of uneven size so pieces straddle file boundaries.
    let sizes = [
        total / 2 + 12_345,
        total / 4 - 12_345,
        total / 8,
        total - total / 2 - total / 4 - total / 8,
    ];
    for (i, s) in sizes.iter().enumerate() {
        fs.add_file(&format!("bench/f{i}"), *s as i64, FileFlags::NONE, 0, "")
            .expect("add file");
    }
    fs.set_piece_length(piece_len);
    fs.compute_num_pieces();
    let fs = Arc::new(fs);
    let num_pieces = fs.num_pieces() as u32;

    let (tx, rx) = channel();
    let cfg = DiskIoConfig::default();
    println!(
        "bench_storage: {mb} MiB, {num_pieces} pieces of {} KiB, aio_threads={} hashing_threads={} cache={} MiB, dir {}",
        piece_len >> 10,
        cfg.aio_threads,
        cfg.hashing_threads,
        cfg.cache_bytes >> 20,
        dir.display()
    );
    let io = DiskIo::new(cfg, tx).expect("start disk io");
    let id = io.add_storage(StorageParams::new(fs.clone(), &dir), HashKinds::V1);

    // Block contents: cheap pattern, distinct per block.
    let block = 16 * 1024u32;
    let mut pattern = vec![0u8; block as usize];
    let mut x = 0x9e3779b97f4a7c15u64;
    for b in pattern.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }

    // Write phase: keep at most 64 pieces in flight, like a download.
    let start = Instant::now();
    let mut hashes = vec![Sha1Hash::zero(); num_pieces as usize];
    let mut next_piece = 0u32;
    let mut done = 0u32;
    let mut in_flight = 0u32;
    while done < num_pieces {
        while in_flight < 64 && next_piece < num_pieces {
            let size = fs.piece_size(next_piece as i32) as u32;
            let mut off = 0;
            while off < size {
                let len = block.min(size - off);
                let mut data = pattern[..len as usize].to_vec();
                data[..4].copy_from_slice(&next_piece.to_le_bytes());
                data[4..8].copy_from_slice(&off.to_le_bytes());
                io.async_write(id, next_piece, off, data);
                off += len;
            }
            io.async_hash(id, next_piece);
            next_piece += 1;
            in_flight += 1;
        }
        match rx.recv().expect("completion") {
            Completion::Write { result, .. } => {
                result.expect("write");
            }
            Completion::Hash { piece, result, .. } => {
                hashes[piece as usize] = result.expect("hash").v1.expect("v1 hash");
                done += 1;
                in_flight -= 1;
            }
            c => panic!("unexpected {c:?}"),
        }
    }
    let t_write = start.elapsed();
    for i in 0..fs.num_files() {
        let f = std::fs::File::open(dir.join(fs.file_path(i, ""))).expect("open");
        f.sync_all().expect("sync");
    }
    let t_sync = start.elapsed();
    let mbs = |secs: f64| (total as f64 / 1e6) / secs;
    println!(
        "write+hash (page cache): {:.2} s, {:.0} MB/s",
        t_write.as_secs_f64(),
        mbs(t_write.as_secs_f64())
    );
    println!(
        "write+hash+fsync:        {:.2} s, {:.0} MB/s",
        t_sync.as_secs_f64(),
        mbs(t_sync.as_secs_f64())
    );

    // Check phase.
    let start = Instant::now();
    let expected = hashes.clone();
    io.async_check_files(
        id,
        Box::new(move |p, h: &PieceHash| h.v1 == expected.get(p as usize).copied()),
    );
    let have = loop {
        match rx.recv().expect("completion") {
            Completion::CheckDone { result, .. } => break result.expect("check").have,
            Completion::CheckProgress { .. } => {}
            c => panic!("unexpected {c:?}"),
        }
    };
    let t_check = start.elapsed();
    let valid = have.iter().filter(|&&h| h).count();
    println!(
        "check (read+sha1):       {:.2} s, {:.0} MB/s, {valid}/{num_pieces} pieces valid",
        t_check.as_secs_f64(),
        mbs(t_check.as_secs_f64())
    );
    assert_eq!(valid, num_pieces as usize, "check found invalid pieces");

    // Reference: SHA-1 alone over the same amount of data.
    let buf = vec![7u8; piece_len as usize];
    let start = Instant::now();
    for _ in 0..num_pieces {
        std::hint::black_box(Sha1Hash::digest(&buf));
    }
    println!(
        "sha1 alone:              {:.0} MB/s",
        mbs(start.elapsed().as_secs_f64())
    );

    drop(io);
    let _ = std::fs::remove_dir_all(&dir);
}
