"""Times lt.bdecode / lt.bencode on a generated 50,000-file torrent.

Run with each interpreter, e.g.
    .venv-ref/bin/python bench/bench_bencode.py
    python bench/bench_bencode.py
Prints one JSON line: best-of-N seconds per operation."""
import json
import sys
import time

import libtorrent as lt


def make_torrent(files=50_000):
    info_files = []
    for i in range(files):
        info_files.append({
            b"length": 1000 + i * 37,
            b"path": [b"dir%03d" % (i % 500), b"file-%06d.dat" % i],
        })
    total = sum(f[b"length"] for f in info_files)
    pieces = (total + 262143) // 262144
    info = {
        b"files": info_files,
        b"name": b"bench",
        b"piece length": 262144,
        b"pieces": bytes(range(20)) * pieces,
    }
    return lt.bencode({b"announce": b"http://127.0.0.1:6969/announce", b"info": info})


def best(f, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    data = make_torrent()
    decoded = lt.bdecode(data)
    out = {
        "module": lt.__file__,
        "bytes": len(data),
        "bdecode_s": best(lambda: lt.bdecode(data), n),
        "bencode_s": best(lambda: lt.bencode(decoded), n),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
