"""bdecode, bencode and torrent_info of a 50,000-file torrent, ours vs the reference.

    python bench/bench_metadata.py [--files N] [--runs R] [--quick]

Limits: bdecode and bencode can go no faster than one copy of the
encoded bytes (memory copy, one core); torrent_info also has to SHA-1 the
info dictionary (the info-hash): copy + SHA-1 of the file's size.
"""
import argparse
import hashlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import limits  # noqa: E402
import statistics  # noqa: E402
from common import OURS_PY, REF_PY, bencode, print_header, report, run_snippet  # noqa: E402


def measure(code, runs):
    """Runs ours and the reference alternately `runs` times each; returns
    the medians of wall and of CPU seconds: ((ours, ref), (ours, ref)).
    On a shared machine the CPU figure (`time.process_time`) is the
    steadier one."""
    samples = {"ours": [], "ref": []}
    for _ in range(runs):
        for impl, py in (("ours", OURS_PY), ("ref", REF_PY)):
            samples[impl].append(run_snippet(py, code))
    med = lambda impl, key: statistics.median(r[key] for r in samples[impl])  # noqa: E731
    return (med("ours", "seconds"), med("ref", "seconds")), (med("ours", "cpu"), med("ref", "cpu"))


def report_both(case, times, **kw):
    (o, r), (oc, rc) = times
    report(case, o, r, **kw)
    report(case + " (CPU)", oc, rc, **kw)


def make_torrent(n_files, path):
    piece_len = 256 * 1024
    files, total = [], 0
    for i in range(n_files):
        size = 1000 + (i * 7919) % 200_000
        files.append({"length": size, "path": [f"dir{i % 97}", f"file{i:06d}.dat"]})
        total += size
    n_pieces = (total + piece_len - 1) // piece_len
    pieces = b"".join(hashlib.sha1(i.to_bytes(4, "big")).digest() for i in range(n_pieces))
    t = {"announce": "http://127.0.0.1:6969/announce", "creation date": 1700000000,
         "info": {"name": "bench", "piece length": piece_len, "pieces": pieces, "files": files}}
    data = bencode(t)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="5,000 files, 1 run")
    args = ap.parse_args()
    if args.quick:
        args.files, args.runs = min(args.files, 5000), 1
    lim = limits.get(quick=args.quick)
    print_header("metadata", files=args.files, runs=args.runs)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.torrent")
        size = make_torrent(args.files, path)
        print(f"# {args.files} files, {size / 1e6:.1f} MB torrent")
        loops = 5
        bdecode = f"""
            import json, time, libtorrent as lt
            data = open({path!r}, 'rb').read()
            t, c = time.perf_counter(), time.process_time()
            for _ in range({loops}): lt.bdecode(data)
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}, 'cpu': (time.process_time() - c) / {loops}}}))
        """
        m = measure(bdecode, args.runs)
        copy_s = size / 1e6 / lim["memcpy_MBps"]
        hash_s = size / 1e6 / lim["sha1_MBps"]
        report_both(f"bdecode {args.files} files", m, limit=copy_s, limit_label="memcpy of the input")
        benc = f"""
            import json, time, libtorrent as lt
            e = lt.bdecode(open({path!r}, 'rb').read())
            t, c = time.perf_counter(), time.process_time()
            for _ in range({loops}): lt.bencode(e)
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}, 'cpu': (time.process_time() - c) / {loops}}}))
        """
        m = measure(benc, args.runs)
        report_both(f"bencode {args.files} files", m, limit=copy_s, limit_label="memcpy of the output")
        ti = f"""
            import json, time, libtorrent as lt
            data = open({path!r}, 'rb').read()
            t, c = time.perf_counter(), time.process_time()
            for _ in range({loops}): lt.torrent_info(data)
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}, 'cpu': (time.process_time() - c) / {loops}}}))
        """
        m = measure(ti, args.runs)
        report_both(f"torrent_info {args.files} files", m, limit=copy_s + hash_s, limit_label="memcpy + SHA-1")
        tif = f"""
            import json, time, libtorrent as lt
            t, c = time.perf_counter(), time.process_time()
            for _ in range({loops}): lt.torrent_info({path!r})
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}, 'cpu': (time.process_time() - c) / {loops}}}))
        """
        m = measure(tif, args.runs)
        report_both(f"torrent_info(path) {args.files} files", m, limit=copy_s + hash_s,
                    limit_label="memcpy + SHA-1")


if __name__ == "__main__":
    main()
