#!/usr/bin/env bash
# Rough disk-layer throughput check (not a test): writes and checks a
# BENCH_MB MiB torrent (default 1024) through lt-storage's DiskIo and prints
# MB/s next to the machine's raw `dd` write speed.
# Usage: bench/bench_storage.sh [DIR]     (DIR defaults to a temp dir)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
MB="${BENCH_MB:-1024}"
DIR="${1:-$(mktemp -d -t lt-bench-storage.XXXXXX)}"
mkdir -p "$DIR"
trap 'rm -rf "$DIR/dd.bin" "$DIR/bench"' EXIT

export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build -q --release -p lt-storage --example bench_storage

echo "== raw dd write, ${MB} MiB (page cache, then with fdatasync)"
dd if=/dev/zero of="$DIR/dd.bin" bs=1M count="$MB" 2>&1 | tail -n1
rm -f "$DIR/dd.bin"
dd if=/dev/zero of="$DIR/dd.bin" bs=1M count="$MB" conv=fdatasync 2>&1 | tail -n1
rm -f "$DIR/dd.bin"

echo "== lt-storage"
BENCH_MB="$MB" target/release/examples/bench_storage "$DIR"
