#!/usr/bin/env python3
"""Soak test: one session (lt_host.py, our module by default) under a
steady mixed load for DURATION seconds while its RSS is sampled; fails if
the memory keeps growing. Not part of the default pytest run (test_load.py
runs a 30 s version); run the long one by hand:

    python tests/robustness/soak.py --duration 600 [--impl ours|ref] [--json OUT]

The load, all on loopback, repeated until the time is up:
- honest leechers (tests/peers/lt_peer.py, our module), one after another,
  each downloading the 8 MiB seeded torrent from scratch and checking it;
- raw-socket peers in bursts of 40 (handshake, interested, one request,
  check the block, close), half of them closing without a word;
- hostile connections (oversized length prefix, garbage handshake);
- a second torrent added and removed (with its files) every cycle.

RSS is sampled every --sample seconds. "Flat" means: the highest sample of
the last quarter of the run is at most --max-growth MiB above the median
of the samples of the second quarter (the first quarter is warm-up).
Prints a JSON summary (samples, counts, growth) and exits 1 if a leecher
failed, a peer was sent a wrong byte, the session died, or memory grew.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pytest  # noqa: E402,F401  (harness uses pytest.fail for setup errors)

from harness import Host, Leecher  # noqa: E402
from hostile_peer import RawPeer, Torrent  # noqa: E402
from test_load import RawSwarm  # noqa: E402

MiB = 1024 * 1024


def raw_load(t: Torrent, port: int, stop: threading.Event, counts: dict):
    rng = random.Random(7)
    while not stop.is_set():
        swarm = RawSwarm(t, port, 40)
        try:
            # Half of the burst goes away at once, the rest gets its block.
            for i, s in enumerate(list(swarm.peers)):
                if i % 2:
                    swarm.sel.unregister(s)
                    s.close()
                    swarm.peers[s]["closed"] = True
            swarm.run(10, lambda: swarm.count("good") + swarm.count("closed") >= 40)
            counts["raw_peers"] += 40
            counts["raw_blocks"] += sum(st["good"] for st in swarm.peers.values())
            counts["raw_bad"] += sum(st["bad"] for st in swarm.peers.values())
        finally:
            swarm.close()
        # Hostile bits: an oversized prefix and a garbage handshake.
        for payload in (b"\xff\xff\xff\xff" + os.urandom(16), os.urandom(68)):
            try:
                with RawPeer.connect(port, timeout=3) as p:
                    p.send_raw(payload)
                    p.wait_closed(3)
                counts["hostile"] += 1
            except OSError:
                counts["hostile_refused"] += 1
        stop.wait(rng.uniform(0.2, 0.6))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--sample", type=float, default=5)
    ap.add_argument("--impl", default="ours")
    ap.add_argument("--max-growth", type=float, default=16, help="MiB")
    ap.add_argument("--json", help="also write the summary here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lt-soak-"))
    counts = {"leechers": 0, "leecher_failures": 0, "raw_peers": 0, "raw_blocks": 0, "raw_bad": 0,
              "hostile": 0, "hostile_refused": 0, "add_remove": 0}
    samples = []
    host = None
    stop = threading.Event()
    try:
        rng = random.Random(11)
        t = Torrent(work / "a", "a.bin", rng.randbytes(8 * MiB + 333), piece_length=64 * 1024)
        t2 = Torrent(work / "b", "b.bin", rng.randbytes(MiB + 5), piece_length=32 * 1024)
        host = Host(args.impl, work / "host", [(t.path, t.seed_dir)], name="soak",
                    settings={"connections_limit": 400, "unchoke_slots_limit": -1},
                    timeout=args.duration + 120)
        raw = threading.Thread(target=raw_load, args=(t, host.port, stop, counts), daemon=True)
        raw.start()
        start = time.monotonic()
        next_sample = start
        cycle = 0
        while time.monotonic() - start < args.duration and host.alive():
            cycle += 1
            host.command(f"add {t2.path}={work / 'b_dl'}")
            lw = work / f"leech{cycle % 2}"
            shutil.rmtree(lw, ignore_errors=True)
            leecher = Leecher("ours", t, lw, host.port, timeout=60)
            while leecher.proc.poll() is None:
                now = time.monotonic()
                if now >= next_sample:
                    samples.append((round(now - start, 1), host.rss()))
                    next_sample += args.sample
                time.sleep(0.1)
            code, summary, err = leecher.finish(10)
            ok = code == 0 and summary and summary.get("done") and \
                (lw / t.name).read_bytes() == t.data
            counts["leechers"] += 1
            if not ok:
                counts["leecher_failures"] += 1
                print(f"leecher {cycle} failed: {code} {summary} {err[-500:]}", file=sys.stderr)
            host.command("remove")
            counts["add_remove"] += 1
        if host.alive():
            samples.append((round(time.monotonic() - start, 1), host.rss()))
        stop.set()
        raw.join(30)
        alive = host.alive()
    finally:
        stop.set()
        if host is not None:
            host.kill()
        shutil.rmtree(work, ignore_errors=True)

    n = len(samples)
    rss = [r for _, r in samples]
    q = max(1, n // 4)
    base = statistics.median(rss[q:2 * q]) if n >= 4 else rss[0]
    tail = max(rss[-q:]) if rss else 0
    growth = (tail - base) / MiB
    out = {
        "impl": args.impl, "duration_s": args.duration, "alive": alive, **counts,
        "rss_mib": [(t_, round(r / MiB, 1)) for t_, r in samples],
        "rss_first_mib": round(rss[0] / MiB, 1) if rss else None,
        "rss_base_mib": round(base / MiB, 1), "rss_max_mib": round(max(rss) / MiB, 1) if rss else None,
        "rss_last_mib": round(rss[-1] / MiB, 1) if rss else None,
        "growth_mib": round(growth, 1),
    }
    text = json.dumps(out)
    print(text, flush=True)
    if args.json:
        Path(args.json).write_text(text + "\n")
    ok = alive and counts["leecher_failures"] == 0 and counts["raw_bad"] == 0 and counts["leechers"] > 0 \
        and growth <= args.max_growth
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
