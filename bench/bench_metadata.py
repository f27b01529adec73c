"""bdecode and torrent_info of a 50,000-file torrent, ours vs the reference.

    python bench/bench_metadata.py [--files N] [--runs R]
"""
import argparse
import hashlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import bencode, measure, report  # noqa: E402


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
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.torrent")
        size = make_torrent(args.files, path)
        print(f"# {args.files} files, {size / 1e6:.1f} MB torrent")
        loops = 5
        bdecode = f"""
            import json, time, libtorrent as lt
            data = open({path!r}, 'rb').read()
            t = time.perf_counter()
            for _ in range({loops}): lt.bdecode(data)
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}}}))
        """
        o, r, _ = measure(bdecode, args.runs)
        report(f"bdecode {args.files} files", o, r)
        ti = f"""
            import json, time, libtorrent as lt
            data = open({path!r}, 'rb').read()
            t = time.perf_counter()
            for _ in range({loops}): lt.torrent_info(data)
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}}}))
        """
        o, r, _ = measure(ti, args.runs)
        report(f"torrent_info {args.files} files", o, r)
        tif = f"""
            import json, time, libtorrent as lt
            t = time.perf_counter()
            for _ in range({loops}): lt.torrent_info({path!r})
            print(json.dumps({{'seconds': (time.perf_counter() - t) / {loops}}}))
        """
        o, r, _ = measure(tif, args.runs)
        report(f"torrent_info(path) {args.files} files", o, r)


if __name__ == "__main__":
    main()
