"""One seed and N leechers (default 20), each its own process, on loopback.

    python bench/bench_swarm.py [--leechers 20] [--size-mib 256] [--runs 3] [--quick]

All processes run the same implementation (an ours-only swarm, then a
reference-only swarm). Every peer starts and finishes checking first; then
each is told to connect to the seed and to every other leecher
(`connect_peer`, full mesh) and the clock starts. It stops when the last
leecher reports seeding. Leechers keep serving until every one is done.
Reported: time until all finish, aggregate download rate (N x size / time),
total CPU seconds of all processes during the swarm, the sum and the max of
their peak RSS.

Physical limit: the data every leecher must receive and SHA-1 hash, N x
size, spread over the machine's cores at min(loopback TCP, SHA-1) per
core, i.e. N x size / (cores x min(tcp, sha1)) seconds.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import limits  # noqa: E402


def one_run(impl, torrent, save, n, args):
    dirs = [tempfile.mkdtemp(prefix="lt-bench-swarm-", dir=args.data_root) for _ in range(n)]
    peers = []
    try:
        seed = common.Peer(impl, torrent, save, poll=args.poll)
        peers.append(seed)
        leechers = [common.Peer(impl, torrent, d, poll=args.poll) for d in dirs]
        peers += leechers
        ready = [p.wait_event("ready") for p in peers]
        if not ready[0]["is_seeding"]:
            raise RuntimeError(f"{impl} seed not seeding: {ready[0]}")
        eps = [f"127.0.0.1:{r['port']}" for r in ready]
        t0 = time.monotonic()
        for i, p in enumerate(leechers, start=1):
            # connect to the seed and every leecher started before this one;
            # later ones connect to it, so the mesh is complete.
            p.send("connect " + ",".join(eps[:i]))
        done = []
        for p in leechers:
            done.append(p.wait_event("complete", args.timeout))
        wall = time.monotonic() - t0
        exits = [p.close() for p in peers]
        peers = []
    finally:
        for p in peers:
            p.proc.kill()
            p.proc.wait()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    cpu = sum(x["cpu_user"] + x["cpu_sys"] - r["cpu"] for x, r in zip(exits, ready) if x)
    hwm = [x["vm_hwm_kb"] / 1024 for x in exits if x]
    return {"wall": wall, "cpu": cpu, "rss_sum_mib": sum(hwm), "rss_max_mib": max(hwm),
            "seed_upload_share": (exits[0] or {}).get("total_payload_upload", 0) / (n * sum_bytes(torrent)),
            "slowest_leecher_t": max(c["t"] for c in done)}


_SIZES = {}


def sum_bytes(torrent):
    return _SIZES[torrent]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leechers", type=int, default=20)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--piece-kib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--poll", type=float, default=0.1)
    ap.add_argument("--impls", default="both", choices=["both", "ours", "ref"])
    ap.add_argument("--data-root", default=common.default_data_root())
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--quick", action="store_true", help="5 leechers, 16 MiB, 1 run")
    args = ap.parse_args()
    if args.quick:
        args.leechers, args.size_mib, args.runs = min(args.leechers, 5), min(args.size_mib, 16), 1
    os.makedirs(args.data_root, exist_ok=True)
    impls = common.pick_impls(args.impls)
    lim = limits.get(quick=args.quick)
    per_core = min(lim["tcp_loopback_MBps"], lim["sha1_MBps"])
    common.print_header("swarm", leechers=args.leechers, size_mib=args.size_mib, runs=args.runs, impls=impls)
    t, save, total, gen = common.make_dataset(args.data_root, "swarm", [args.size_mib << 20],
                                              args.piece_kib << 10, seed=21, multi=False)
    _SIZES[t] = total
    n = args.leechers
    limit_s = n * total / 1e6 / (per_core * (os.cpu_count() or 1))
    print(f"# {n} leechers x {total >> 20} MiB; limit {limit_s:.2f}s "
          f"({os.cpu_count()} cores x {per_core:.0f} MB/s)", flush=True)
    res = {}
    for impl in impls:
        runs = [one_run(impl, t, save, n, args) for _ in range(args.runs)]
        rec = {k: common.median_of(runs, k) for k in runs[0]}
        rec["samples_wall"] = [r["wall"] for r in runs]
        res[impl] = rec
        print(f"swarm {impl:<4} all done in {rec['wall']:7.2f}s ({limit_s / rec['wall']:5.1%} of limit)  "
              f"aggregate {n * total / rec['wall'] / 1e6:7.1f} MB/s  cpu {rec['cpu']:.1f}s  "
              f"rss sum {rec['rss_sum_mib']:.0f} MiB max {rec['rss_max_mib']:.0f} MiB  "
              f"seed uploaded {rec['seed_upload_share']:.0%} of all", flush=True)
        print(json.dumps({"case": f"swarm {impl}", "impl": impl, "leechers": n, "bytes": total, **rec,
                          "limit": limit_s, "fraction_of_limit": limit_s / rec["wall"]}), flush=True)
    if "ours" in res and "ref" in res:
        o, r = res["ours"], res["ref"]
        common.report(f"swarm 1+{n} x {total >> 20} MiB, all done", o["wall"], r["wall"], limit=limit_s,
                      limit_label="cores x min(TCP, SHA-1)",
                      extra={"cpu_s": [o["cpu"], r["cpu"]], "rss_sum_mib": [o["rss_sum_mib"], r["rss_sum_mib"]]})


if __name__ == "__main__":
    main()
