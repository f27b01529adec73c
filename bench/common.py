"""Shared helpers for the side-by-side benchmarks.

Each case runs a snippet under our module (this interpreter's `libtorrent`)
and under the reference module (`.venv-ref`), several times each, in fresh
processes, and reports medians and the ratio reference/ours (> 1 means we
are faster). Every case prints a human line and one JSON line.
"""
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF_PY = os.environ.get("LT_REF_PYTHON", str(ROOT / ".venv-ref" / "bin" / "python"))
OURS_PY = os.environ.get("LT_OURS_PYTHON", sys.executable)


def run_snippet(python, code, timeout=1800):
    """Runs `code` in a fresh `python`; it must print one JSON object last."""
    p = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, cwd="/")
    if p.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def measure(code, runs=3, key="seconds"):
    """Median of `key` over `runs` runs for each module: (ours, ref, samples)."""
    ours = [run_snippet(OURS_PY, code)[key] for _ in range(runs)]
    ref = [run_snippet(REF_PY, code)[key] for _ in range(runs)]
    return statistics.median(ours), statistics.median(ref), {"ours": ours, "ref": ref}


def report(case, ours, ref, unit="s", lower_is_better=True, limit=None, limit_label="", extra=None):
    ratio = (ref / ours if lower_is_better else ours / ref) if ours and ref else float("nan")
    line = f"{case:<40} ours {ours:10.4f}{unit}  ref {ref:10.4f}{unit}  ratio {ratio:6.2f}x"
    rec = {"case": case, "ours": ours, "ref": ref, "unit": unit, "ratio": ratio}
    if limit is not None:
        frac = (limit / ours if lower_is_better else ours / limit) if ours else float("nan")
        line += f"  ({frac:5.1%} of {limit_label})"
        rec.update({"limit": limit, "limit_label": limit_label, "fraction_of_limit": frac})
    if extra:
        rec.update(extra)
    print(line, flush=True)
    print(json.dumps(rec), flush=True)
    return rec


def bencode(x):
    """A minimal pure-Python bencoder, so inputs don't depend on either module."""
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, (bytes, bytearray)):
        return b"%d:%s" % (len(x), bytes(x))
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    if isinstance(x, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in x.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(type(x))


# ---------------------------------------------------------------------------
# Shared by the multi-process benchmarks (transfer, swarm, hashing, scale).

import hashlib  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

PEER = str(Path(__file__).resolve().parent / "bench_peer.py")
IMPLS = {"ours": OURS_PY, "ref": REF_PY}


def ours_available():
    """True if our build has what the session benchmarks need."""
    p = subprocess.run([OURS_PY, "-c", "import libtorrent as lt; lt.session; lt.add_torrent_params"],
                       capture_output=True, cwd="/")
    return p.returncode == 0


def pick_impls(requested):
    """The implementations to run: `requested` ("both", "ours", "ref"), minus
    ours when our build lacks the session API (said on stderr)."""
    impls = ["ours", "ref"] if requested == "both" else [requested]
    if "ours" in impls and not ours_available():
        print(f"# WARNING: {OURS_PY} has no libtorrent.session yet; running the reference only",
              file=sys.stderr, flush=True)
        impls = [i for i in impls if i != "ours"]
    return impls


def machine_info():
    info = {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "kernel": os.uname().release}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_total_kb"] = int(f.readline().split()[1])
        for k in ("dirty_ratio", "dirty_background_ratio"):
            with open(f"/proc/sys/vm/{k}") as f:
                info[k] = int(f.read())
    except (OSError, ValueError):
        pass
    return info


def print_header(title, **params):
    info = machine_info()
    print(f"# {title}: {json.dumps(params)}")
    print(f"# machine: {info.get('cpu')} x{info['cpus']}, {info.get('mem_total_kb', 0) >> 20} GiB, "
          f"load {info['load_avg'][0]:.2f}/{info['load_avg'][1]:.2f}/{info['load_avg'][2]:.2f}, "
          f"vm.dirty_background_ratio {info.get('dirty_background_ratio')}% "
          f"vm.dirty_ratio {info.get('dirty_ratio')}%", flush=True)
    print(json.dumps({"header": title, "params": params, "machine": info}), flush=True)


def median_of(samples, key):
    vals = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


# --- deterministic payload ------------------------------------------------

CHUNK = 1 << 20


class Payload:
    """Deterministic, incompressible, non-sparse bytes: a 1 MiB pseudo-random
    base rotated per chunk, each 16 KiB block stamped with (seed, block index)
    so no two blocks (and no two pieces) are equal."""

    def __init__(self, seed):
        import random
        self.seed = seed
        base = random.Random(seed).randbytes(CHUNK + 4096)
        self.base = memoryview(base)

    def chunk(self, i, size=CHUNK):
        rot = (i * 4099) % 4096
        c = bytearray(self.base[rot:rot + size])
        for off in range(0, size, 16384):
            c[off:off + 16] = struct.pack("<QQ", self.seed, i * 64 + off // 16384)
        return c


def file_sizes_many(n_files, avg, seed):
    """`n_files` sizes averaging `avg` bytes, deterministic, 1 B .. 2*avg."""
    import random
    r = random.Random(seed)
    return [r.randint(1, 2 * avg) for _ in range(n_files)]


def dataset_paths(n_files, multi=True):
    """The path (a list of components under the torrent's name) of each file
    of a dataset from make_dataset."""
    return [[f"d{i // 1000:03d}", f"f{i:06d}.bin"] for i in range(n_files)] if multi else [[]]


def make_dataset(root, name, sizes, piece_len, seed=1, multi=True):
    """Writes the files of a torrent under root/name and the .torrent (v1)
    next to it, hashing with hashlib so neither module is involved. Reuses a
    complete earlier dataset with the same parameters (marker file).
    Returns (torrent_path, save_path, total_bytes, seconds_spent)."""
    key = hashlib.sha1(json.dumps([name, len(sizes), sum(sizes), sizes[:50], piece_len, seed,
                                   multi]).encode()).hexdigest()[:12]
    base = os.path.join(root, f"{name}-{key}")
    tpath = base + ".torrent"
    save = os.path.join(base, "data")
    marker = base + ".ok"
    total = sum(sizes)
    if os.path.exists(marker) and os.path.exists(tpath):
        return tpath, save, total, 0.0
    t0 = time.perf_counter()
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(save)
    payload = Payload(seed)
    paths = dataset_paths(len(sizes), multi)
    pieces = []
    ph = hashlib.sha1()
    in_piece = 0
    ci = 0
    buf = memoryview(b"")

    def take(n):
        nonlocal buf, ci
        out = []
        while n:
            if not buf:
                buf = memoryview(payload.chunk(ci))
                ci += 1
            k = min(n, len(buf))
            out.append(buf[:k])
            buf = buf[k:]
            n -= k
        return out

    for size, p in zip(sizes, paths):
        fp = os.path.join(save, name, *p) if multi else os.path.join(save, name)
        os.makedirs(os.path.dirname(fp), exist_ok=True)
        with open(fp, "wb") as f:
            left = size
            while left:
                n = min(left, piece_len - in_piece, CHUNK)
                for part in take(n):
                    f.write(part)
                    ph.update(part)
                in_piece += n
                left -= n
                if in_piece == piece_len:
                    pieces.append(ph.digest())
                    ph = hashlib.sha1()
                    in_piece = 0
    if in_piece:
        pieces.append(ph.digest())
    info = {"name": name, "piece length": piece_len, "pieces": b"".join(pieces)}
    if multi:
        info["files"] = [{"length": s, "path": p} for s, p in zip(sizes, paths)]
    else:
        info["length"] = total
    with open(tpath, "wb") as f:
        f.write(bencode({"info": info, "creation date": 1700000000}))
    open(marker, "w").close()
    return tpath, save, total, time.perf_counter() - t0


def page_cache_fraction(path):
    """Fraction of the bytes under `path` resident in the page cache
    (`fincore`), or None if fincore is unavailable."""
    exe = shutil.which("fincore")
    if not exe:
        return None
    files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs] if os.path.isdir(path) else [path]
    res = tot = 0
    for i in range(0, len(files), 500):
        p = subprocess.run([exe, "-b", "-n", "-o", "RES,SIZE"] + files[i:i + 500], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                res += int(parts[0])
                tot += int(parts[1])
    return min(1.0, res / tot) if tot else None


def drop_cache(path):
    """Evicts the (clean) pages of the files under `path` from the page cache
    (posix_fadvise DONTNEED; no root needed)."""
    files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs] if os.path.isdir(path) else [path]
    for fp in files:
        fd = os.open(fp, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def default_data_root():
    return os.environ.get("LT_BENCH_DATA", os.path.join(tempfile.gettempdir(), "lt-bench-data"))


# --- peer processes -------------------------------------------------------

class Peer:
    """One bench_peer.py process under `impl` ("ours"/"ref")."""

    def __init__(self, impl, torrent, save_path, seed_mode=False, poll=0.05, settings=None, timeout=3600,
                 wrap=()):
        cmd = list(wrap) + [IMPLS[impl], PEER, "--torrent", torrent, "--save-path", save_path,
               "--poll", str(poll), "--timeout", str(timeout)]
        if seed_mode:
            cmd.append("--seed-mode")
        if settings:
            cmd += ["--settings", json.dumps(settings)]
        self.impl = impl
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
        self.events = {}

    def wait_event(self, name, timeout=3600):
        """Reads stdout lines until event `name` (blocking)."""
        deadline = time.monotonic() + timeout
        while name not in self.events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.impl} peer: no {name!r} event")
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.impl} peer exited (rc {self.proc.wait()}) before {name!r}; "
                                   f"got {self.events}")
            ev = json.loads(line)
            self.events[ev["event"]] = ev
        return self.events[name]

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self, timeout=120):
        """Closes stdin; returns the exit event (None if it never came)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            ev = self.wait_event("exit", timeout)
        except (RuntimeError, TimeoutError):
            ev = None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return ev

    def fileno(self):
        return self.proc.stdout.fileno()
