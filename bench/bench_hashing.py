#!/usr/bin/env python3
"""Benchmark of piece hashing for torrent creation (not a test).

Creates a 1 GiB file (page-cached after a warm-up read) and times
`set_piece_hashes` for v1, v2 and hybrid torrents in our module and in the
reference (each run in a fresh subprocess: ours with this interpreter, the
reference with .venv-ref), at least 3 runs each. Prints medians, the ratio
reference/ours and one JSON line per case, plus the single-core SHA-1 /
SHA-256 throughput (openssl speed, or hashlib) and the resulting ideal
throughput on all cores.

Wall-clock throughput is only comparable with "cores x single core" on an
idle machine. `openssl speed` divides by CPU time, so the script also reports
MB per CPU-second of the hashing call (all threads), which stays meaningful
on a busy machine, and the load average before each case.

    python bench/bench_hashing.py [--size-mib 1024] [--runs 3] [--dir /tmp]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF_PY = ROOT / ".venv-ref" / "bin" / "python"

MODES = {"v1": 64, "v2": 32, "hybrid": 0}

INNER = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
base, name, flags, piece_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ct = lt.create_torrent(lt.list_files(base + "/" + name), piece_size, flags)
n = [0]
def cb(p):
    n[0] += 1
t0 = time.perf_counter()
c0 = time.process_time()
lt.set_piece_hashes(ct, base, cb)
cpu = time.process_time() - c0
dt = time.perf_counter() - t0
g = ct.generate()
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "pieces": n[0], "piece_length": ct.piece_length()}))
"""


def single_core_mb_s(algo):
    """Single-core throughput in MB/s (10^6 bytes) of `algo` over 16 KiB
    buffers: openssl speed if present, else hashlib."""
    if shutil.which("openssl"):
        try:
            out = subprocess.run(
                ["openssl", "speed", "-evp", algo, "-bytes", "16384", "-seconds", "2"],
                capture_output=True, text=True, timeout=60).stdout
            for line in out.splitlines():
                if line.startswith(algo):
                    v = line.split()[-1]
                    m = re.match(r"([\d.]+)k", v)
                    if m:
                        return float(m.group(1)) * 1000 / 1e6, "openssl"
        except Exception:
            pass
    buf = os.urandom(16384)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        hashlib.new(algo, buf).digest()
        n += 1
    return n * len(buf) / (time.perf_counter() - t0) / 1e6, "hashlib"


def make_file(path, size):
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        i = 0
        while left > 0:
            # vary the content a little per MiB without paying urandom for all of it
            c = chunk if i % 2 == 0 else chunk[::-1]
            f.write(c[:min(left, len(c))])
            left -= len(c)
            i += 1
    # warm the page cache
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run(py, base, name, flags, piece_size):
    p = subprocess.run([str(py), "-c", INNER, base, name, str(flags), str(piece_size)],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--piece-size", type=int, default=0, help="0: automatic")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--no-ref", action="store_true")
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    sha1, src1 = single_core_mb_s("sha1")
    sha256, src2 = single_core_mb_s("sha256")
    hybrid = 1 / (1 / sha1 + 1 / sha256)
    limits = {"v1": sha1, "v2": sha256, "hybrid": hybrid}
    print(f"cores: {cores}; single core: sha1 {sha1:.0f} MB/s ({src1}), "
          f"sha256 {sha256:.0f} MB/s ({src2}), both {hybrid:.0f} MB/s")

    tmp = tempfile.mkdtemp(prefix="lt-bench-", dir=args.dir)
    try:
        size = args.size_mib << 20
        os.makedirs(os.path.join(tmp, "bench"))
        make_file(os.path.join(tmp, "bench", "data.bin"), size)
        impls = [("ours", sys.executable)]
        if not args.no_ref and REF_PY.exists():
            impls.append(("ref", REF_PY))
        for mode, flags in MODES.items():
            med = {}
            for impl, py in impls:
                times = []
                cpus = []
                info = None
                load = os.getloadavg()[0]
                for _ in range(args.runs):
                    info = run(py, tmp, "bench", flags, args.piece_size)
                    times.append(info["seconds"])
                    cpus.append(info["cpu_seconds"])
                m = statistics.median(times)
                cpu = statistics.median(cpus)
                med[impl] = m
                mb_s = size / m / 1e6
                mb_cpu_s = size / cpu / 1e6 if cpu > 0 else float("nan")
                line = {
                    "case": f"{mode}-{impl}", "mode": mode, "impl": impl,
                    "size_bytes": size, "piece_length": info["piece_length"],
                    "callbacks": info["pieces"], "runs": times, "median_s": m,
                    "mb_per_s": mb_s, "single_core_limit_mb_s": limits[mode],
                    "all_cores_limit_mb_s": limits[mode] * cores,
                    "fraction_of_all_cores_limit": mb_s / (limits[mode] * cores),
                    "cpu_seconds": cpus, "median_cpu_s": cpu,
                    "mb_per_cpu_s": mb_cpu_s,
                    "fraction_of_single_core_limit_per_cpu_s": mb_cpu_s / limits[mode],
                    "cores_busy": cpu / m, "loadavg_1min": load,
                }
                print(f"{mode:7s} {impl:4s} median {m:.3f}s  {mb_s:8.0f} MB/s wall "
                      f"({100 * line['fraction_of_all_cores_limit']:.0f}% of {cores} x single core); "
                      f"{mb_cpu_s:6.0f} MB per CPU-s ({100 * mb_cpu_s / limits[mode]:.0f}% of single core), "
                      f"{cpu / m:.2f} cores busy, load {load:.1f}")
                print(json.dumps(line))
            if "ref" in med:
                print(f"{mode:7s} ref/ours time ratio: {med['ref'] / med['ours']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
