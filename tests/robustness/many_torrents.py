"""One session, N torrents: add them all, read every status, remove them
all, twice, measuring the process's RSS at each step. Driven through the
Python API only (runs on our module or the reference). Prints one JSON
object.

    python many_torrents.py --dir D [--count 1000] [--cycles 2]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import libtorrent as lt  # noqa: E402

from hostile_peer import bencode  # noqa: E402


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def write_torrents(d: str, count: int) -> list:
    """`count` distinct single-file torrents (1 MiB, 16 pieces; their data
    never exists, so each one checks to nothing and waits for peers)."""
    paths = []
    for i in range(count):
        info = {
            "name": f"t{i:05d}.bin",
            "length": 1024 * 1024,
            "piece length": 64 * 1024,
            "pieces": b"".join(hashlib.sha1(b"%d/%d" % (i, j)).digest() for j in range(16)),
        }
        p = os.path.join(d, f"t{i:05d}.torrent")
        with open(p, "wb") as f:
            f.write(bencode({"info": info}))
        paths.append(p)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=2)
    args = ap.parse_args()
    paths = write_torrents(args.dir, args.count)
    infos = [lt.torrent_info(p) for p in paths]
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": 0,
    })
    out = {"count": args.count, "rss_start": rss(), "cycles": []}
    save = os.path.join(args.dir, "save")
    checking = (lt.torrent_status.states.checking_files, lt.torrent_status.states.checking_resume_data)
    for _ in range(args.cycles):
        c = {}
        t0 = time.monotonic()
        handles = []
        for ti in infos:
            atp = lt.add_torrent_params()
            atp.ti = ti
            atp.save_path = save
            handles.append(ses.add_torrent(atp))
        c["add_s"] = round(time.monotonic() - t0, 3)
        c["torrents"] = len(ses.get_torrents())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not any(h.status().state in checking for h in handles):
                break
            time.sleep(0.2)
        c["rss_added"] = rss()
        t0 = time.monotonic()
        sts = [h.status() for h in handles]
        c["status_s"] = round(time.monotonic() - t0, 3)
        c["status_names_ok"] = sorted(s.name for s in sts) == sorted(ti.name() for ti in infos)
        c["states"] = sorted({str(s.state) for s in sts})
        c["progress_max"] = max(s.progress for s in sts)
        ses.pop_alerts()
        t0 = time.monotonic()
        for h in handles:
            ses.remove_torrent(h)
        deadline = time.monotonic() + 60
        while ses.get_torrents() and time.monotonic() < deadline:
            time.sleep(0.05)
        c["remove_s"] = round(time.monotonic() - t0, 3)
        c["left"] = len(ses.get_torrents())
        del handles, sts
        time.sleep(0.5)
        c["rss_removed"] = rss()
        out["cycles"].append(c)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
