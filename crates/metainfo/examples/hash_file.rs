//! Hashes one file as `set_piece_hashes` does, for profiling the hasher
//! alone: wall time, CPU seconds and MB hashed per CPU second (compare with
//! `openssl speed -evp sha1` / `sha256`). Linux (CPU time from /proc).
//!
//! Usage: hash_file FILE v1|v2|hybrid THREADS [PIECE_BYTES]

use lt_metainfo::hasher::{hash_files, HashFile, HashRequest};

/// User + system CPU seconds of this process (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the command name, which ends with ')'
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: hash_file FILE v1|v2|hybrid THREADS [PIECE_BYTES]");
        std::process::exit(2);
    }
    let path = std::path::PathBuf::from(&a[1]);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let req = HashRequest {
        files: vec![HashFile {
            path,
            size,
            pad: false,
        }],
        piece_length: a.get(4).and_then(|v| v.parse().ok()).unwrap_or(512 * 1024),
        v1: a[2] != "v2",
        v2: a[2] != "v1",
        threads: a[3].parse().unwrap_or(0),
    };
    let c0 = cpu_seconds();
    let t0 = std::time::Instant::now();
    let r = hash_files(&req, |_| true);
    let c = cpu_seconds() - c0;
    println!(
        "{} threads {}: {:.3} s wall, {:.2} CPU-s, {:.0} MB per CPU-s{}",
        a[2],
        a[3],
        t0.elapsed().as_secs_f64(),
        c,
        size as f64 / c / 1e6,
        if r.is_ok() { "" } else { " (failed)" }
    );
}
