"""Creates the interop test data and its .torrent files.

Run under the reference libtorrent (its create_torrent is the oracle for
what a torrent looks like): writes deterministic pseudo-random content
under OUT/content and, for each data set, one .torrent per announce
variant (no tracker, HTTP, UDP). Prints a JSON manifest.

    python make_torrents.py OUT --http URL --udp URL
"""
import argparse
import json
import os
import random
import warnings

import libtorrent as lt

warnings.simplefilter("ignore", DeprecationWarning)

V1 = "v1"          # v1 only, no padding
V1_PAD = "v1-pad"  # v1 only, every file aligned to a piece with a pad file
HYBRID = "hybrid"  # v1+v2 (create_torrent's default): pad files as well

MULTI_FILES = [
    ("alpha.bin", 1024 * 1024 + 1),
    ("sub/beta.bin", 300_000),
    ("sub/deeper/gamma.bin", 1),
    ("delta.bin", 2 * 1024 * 1024 + 5),
]

# name -> (files relative to the data set's root, piece size, format)
DATASETS = {
    # a plain v1 single-file torrent; the length is not a multiple of the piece size
    "single": ([("single.bin", 3 * 1024 * 1024 + 777)], 65536, V1),
    # a v1 multi-file torrent with pad files (every client can read it)
    "multi": ([(f"multi/{f}", s) for f, s in MULTI_FILES], 32768, V1_PAD),
    # a hybrid v1+v2 multi-file torrent with pad files
    "hybrid": ([(f"hybrid/{f}", s) for f, s in MULTI_FILES], 32768, HYBRID),
    # the swarm test's data: many small pieces so that leechers can trade
    "swarm": ([("swarm.bin", 6 * 1024 * 1024 + 3)], 16384, V1),
}
FLAGS = {
    V1: lt.create_torrent.v1_only,
    V1_PAD: lt.create_torrent.v1_only | lt.create_torrent.canonical_files,
    HYBRID: 0,
}


def write_content(root, files, seed):
    rng = random.Random(seed)
    for rel, size in files:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rng.randbytes(size))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--http", required=True)
    ap.add_argument("--udp", required=True)
    args = ap.parse_args()
    content = os.path.join(args.out, "content")
    manifest = {}
    for name, (files, piece_size, fmt) in DATASETS.items():
        root = os.path.join(content, name)
        write_content(root, files, name)
        top = files[0][0].split("/")[0]
        fs = lt.file_storage()
        lt.add_files(fs, os.path.join(root, top))
        ct = lt.create_torrent(fs, piece_size, flags=FLAGS[fmt])
        ct.set_creator("libtorrent-rs interop tests")
        lt.set_piece_hashes(ct, root)
        base = ct.generate()
        ti = lt.torrent_info(base)
        ih = ti.info_hashes()
        hashes = [str(ih.v1)]
        if ih.has_v2():
            hashes.append(str(ih.v2)[:40])  # what v2 announces carry
        pads = [ti.files().file_path(i) for i in range(ti.files().num_files())
                if ti.files().file_flags(i) & lt.file_storage.flag_pad_file]
        if (fmt != V1) != bool(pads):
            raise SystemExit(f"{name}: pad files {pads} do not fit format {fmt}")
        torrents = {}
        for variant, url in (("none", None), ("http", args.http), ("udp", args.udp)):
            e = dict(base)
            if url:
                e[b"announce"] = url.encode()
            path = os.path.join(args.out, f"{name}-{variant}.torrent")
            with open(path, "wb") as f:
                f.write(lt.bencode(e))
            torrents[variant] = path
        manifest[name] = {
            "format": fmt,
            "root": root,
            "files": files,
            "pad_files": pads,
            "info_hashes": hashes,
            "v1": str(ih.v1),
            "torrents": torrents,
            "total_size": sum(s for _, s in files),
        }
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
