"""Physical limits of this machine, used as the yardstick of every case.

    python bench/limits.py [--refresh] [--quick]

Measures (each a median of 3):
  sha1_MBps, sha256_MBps  single-core hashing (`openssl speed -evp`, 16 KiB
                          blocks; hashlib if openssl is absent)
  tcp_loopback_MBps       one sender process -> one receiver process over
                          127.0.0.1 (Python, 1 MiB sendall / recv_into)
  memcpy_MBps             one-core memory copy bandwidth (256 MiB memmove)
  disk_write_MBps         sequential write + fdatasync of 512 MiB (256 quick)
                          in the temp dir

The figures are cached in $TMPDIR/lt-bench-limits.json for 6 hours so every
script of one run shares them (`--refresh` re-measures). Prints one human
line and one JSON line per limit.

`leech_baseline(files, root)` (called by bench_transfer.py per case, not
cached) measures what a plain leecher of a torrent's files spends on this
machine: a fresh single-threaded process receives the bytes over loopback
TCP, hashes them with SHA-1 and creates and writes the files with the
fewest system calls (1 MiB receives and writes, one open and close per
file). For many small files that is close to a floor: each file costs one
create and one write whatever the engine. For one big file an engine can
spend less (reserving the file's blocks before writing them, for one).
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CACHE = os.path.join(tempfile.gettempdir(), "lt-bench-limits.json")
MAX_AGE = 6 * 3600


def _openssl_speed(alg):
    exe = shutil.which("openssl")
    if not exe:
        return None
    p = subprocess.run([exe, "speed", "-seconds", "2", "-bytes", "16384", "-evp", alg],
                       capture_output=True, text=True, timeout=120)
    # last line: "sha1  <n>k" (bytes per second / 1000 at 16384-byte blocks)
    for line in reversed(p.stdout.splitlines()):
        m = re.match(r"^\s*%s\s+([\d.]+)k\s*$" % re.escape(alg), line, re.I)
        if m:
            return float(m.group(1)) * 1000 / 1e6
    return None


def _hashlib_speed(alg, seconds=1.0):
    buf = os.urandom(1 << 20)
    h = hashlib.new(alg)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(16):
            h.update(buf)
        n += 16 << 20
    return n / (time.perf_counter() - t0) / 1e6


def hash_speed(alg):
    v = _openssl_speed(alg)
    return (v, "openssl speed -evp") if v else (_hashlib_speed(alg), "hashlib")


_RECV = r"""
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
buf = bytearray(1 << 20); mv = memoryview(buf); n = 0; t0 = None
while True:
    k = c.recv_into(mv)
    if t0 is None: t0 = time.perf_counter()
    if not k: break
    n += k
print(n / (time.perf_counter() - t0) / 1e6, flush=True)
"""


def tcp_loopback(seconds=2.0):
    rx = subprocess.Popen([sys.executable, "-c", _RECV], stdout=subprocess.PIPE, text=True)
    port = int(rx.stdout.readline())
    s = socket.create_connection(("127.0.0.1", port))
    buf = memoryview(os.urandom(1 << 20))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(64):
            s.sendall(buf)
    s.close()
    v = float(rx.stdout.readline())
    rx.wait()
    return v


def memcpy(size=256 << 20):
    src = bytearray(os.urandom(1 << 20)) * (size >> 20)
    dst = bytearray(size)
    dst[:] = src  # fault pages in
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        dst[:] = src
        best = max(best, size / (time.perf_counter() - t0) / 1e6)
    return best


def disk_write(mb):
    buf = os.urandom(1 << 20)
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir(), prefix="lt-bench-dd") as f:
        t0 = time.perf_counter()
        for _ in range(mb):
            f.write(buf)
        f.flush()
        os.fdatasync(f.fileno())
        return mb / (time.perf_counter() - t0) * 1.048576


_BASELINE = r"""
import hashlib, json, os, resource, socket, sys, time
files = json.loads(sys.stdin.read())
root, port = sys.argv[1], int(sys.argv[2])
total = sum(size for _, size in files)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
buf = bytearray(1 << 20); mv = memoryview(buf)
s = socket.create_connection(("127.0.0.1", port))
c0 = cpu(); n = 0
while n < total:
    k = s.recv_into(mv)
    if not k: raise SystemExit("sender closed early")
    n += k
recv = cpu() - c0
s.close()
c0 = cpu(); h = hashlib.sha1(); left = total
while left:
    k = min(left, len(mv)); h.update(mv[:k]); left -= k
sha1 = cpu() - c0
c0 = cpu(); w0 = time.perf_counter(); made = set()
for rel, size in files:
    path = os.path.join(root, rel)
    d = os.path.dirname(path)
    if d not in made:
        os.makedirs(d, exist_ok=True); made.add(d)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    off = 0
    while off < size:
        off += os.pwrite(fd, mv[:min(size - off, len(mv))], off)
    os.close(fd)
files_cpu, files_wall = cpu() - c0, time.perf_counter() - w0
print(json.dumps({"recv_cpu": recv, "sha1_cpu": sha1, "files_cpu": files_cpu, "files_wall": files_wall}))
"""


def leech_baseline(files, root):
    """CPU seconds a plain leecher of `files` ([(relative path, size)])
    spends here: receiving the bytes over loopback TCP, SHA-1 and creating
    and writing the files under `root` (which it creates; the caller deletes
    it). A fresh process, so its pages are as new as a leecher's. Returns
    {"recv_cpu", "sha1_cpu", "files_cpu", "files_wall"} in seconds."""
    total = sum(size for _, size in files)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    p = subprocess.Popen([sys.executable, "-c", _BASELINE, root, str(lsock.getsockname()[1])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdin.write(json.dumps(files))
    p.stdin.close()
    lsock.settimeout(60)
    conn, _ = lsock.accept()
    lsock.close()
    buf = memoryview(os.urandom(1 << 20))
    left = total
    with conn:
        while left:
            k = min(left, len(buf))
            conn.sendall(buf[:k])
            left -= k
        out = p.stdout.read()
    if p.wait(timeout=3600) != 0:
        raise RuntimeError("leech baseline process failed")
    return json.loads(out)


def measure_all(quick=False):
    reps = 1 if quick else 3
    out = {"measured_at": time.time(), "quick": quick}
    src = None
    for alg in ("sha1", "sha256"):
        vals = []
        for _ in range(reps):
            v, src = hash_speed(alg)
            vals.append(v)
        out[f"{alg}_MBps"] = statistics.median(vals)
    out["hash_source"] = src
    out["tcp_loopback_MBps"] = statistics.median(tcp_loopback(1.0 if quick else 2.0) for _ in range(reps))
    out["memcpy_MBps"] = statistics.median(memcpy() for _ in range(reps))
    out["disk_write_MBps"] = disk_write(256 if quick else 512)
    out["load_avg"] = os.getloadavg()
    out["cpus"] = os.cpu_count()
    return out


def get(refresh=False, quick=False):
    """The cached limits (measuring them if missing, stale or `refresh`)."""
    if not refresh and os.path.exists(CACHE):
        try:
            with open(CACHE) as f:
                d = json.load(f)
            if time.time() - d["measured_at"] < MAX_AGE and (quick or not d.get("quick")):
                return d
        except (OSError, ValueError, KeyError):
            pass
    d = measure_all(quick)
    with open(CACHE + ".tmp", "w") as f:
        json.dump(d, f)
    os.replace(CACHE + ".tmp", CACHE)
    return d


LABELS = {
    "sha1_MBps": "SHA-1, one core",
    "sha256_MBps": "SHA-256, one core",
    "tcp_loopback_MBps": "loopback TCP, process to process",
    "memcpy_MBps": "memory copy, one core",
    "disk_write_MBps": "disk write + fdatasync",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--refresh", action="store_true")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    d = get(a.refresh, a.quick)
    for k, label in LABELS.items():
        print(f"limit {label:<36} {d[k]:10.1f} MB/s", flush=True)
        print(json.dumps({"case": f"limit {k}", "value": d[k], "unit": "MB/s", "label": label}), flush=True)
    print(f"# hash source: {d['hash_source']}; load average at measurement {d['load_avg']}")


if __name__ == "__main__":
    main()
