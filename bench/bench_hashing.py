"""Hashing: `set_piece_hashes` for v1, v2 and hybrid, and `force_recheck`.

    python bench/bench_hashing.py [--size-mib 2048] [--runs 3] [--quick] [--only create|recheck]

Data: one file of --size-mib MiB, generated once (deterministic, no holes)
under $LT_BENCH_DATA and reused; it is read once before timing, so it is in
the page cache (the resident fraction is printed).

set_piece_hashes: `create_torrent(list_files(...), 0 (automatic piece
size), flags)` then `set_piece_hashes`; timed is the hashing call only.
force_recheck: the data is added as a v1 torrent, the script waits until it
seeds, then times force_recheck() until the torrent is seeding again (status
polled every 10 ms). The first check (on add) is reported too.

Limits: single-core SHA-1 (v1, recheck), SHA-256 (v2), both in series
(hybrid), times the number of cores for wall time; MB per CPU-second of the
process (all threads) is compared with one core, which stays meaningful on
a busy machine.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import limits  # noqa: E402

MODES = {"v1": 64, "v2": 32, "hybrid": 0}

CREATE = r"""
import json, time, warnings, resource
warnings.simplefilter("ignore")
import libtorrent as lt
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
ct = lt.create_torrent(lt.list_files({path!r}), 0, {flags})
n = [0]
def cb(p):
    n[0] += 1
c0 = cpu(); t0 = time.perf_counter()
lt.set_piece_hashes(ct, {base!r}, cb)
dt = time.perf_counter() - t0; c = cpu() - c0
ct.generate()
print(json.dumps({{"seconds": dt, "cpu_seconds": c, "callbacks": n[0], "piece_length": ct.piece_length()}}))
"""

RECHECK = r"""
import json, time, resource
import libtorrent as lt
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
ses = lt.session({{"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False}})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info({torrent!r})
atp.save_path = {save!r}
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
t0 = time.perf_counter()
h = ses.add_torrent(atp)
while not h.status().is_seeding:
    if time.perf_counter() - t0 > 1800: raise SystemExit("initial check did not finish")
    time.sleep(0.01)
first = time.perf_counter() - t0
c0 = cpu(); t0 = time.perf_counter()
h.force_recheck()
seen_checking = False
while True:
    st = h.status()
    if st.state in (lt.torrent_status.states.checking_files, lt.torrent_status.states.checking_resume_data):
        seen_checking = True
    elif st.is_seeding and (seen_checking or time.perf_counter() - t0 > 0.5):
        break
    if time.perf_counter() - t0 > 1800: raise SystemExit("recheck did not finish")
    time.sleep(0.01)
dt = time.perf_counter() - t0; c = cpu() - c0
print(json.dumps({{"seconds": dt, "cpu_seconds": c, "first_check": first, "seen_checking": seen_checking}}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["create", "recheck"])
    ap.add_argument("--impls", default="both", choices=["both", "ours", "ref"])
    ap.add_argument("--data-root", default=common.default_data_root())
    ap.add_argument("--quick", action="store_true", help="256 MiB, 1 run")
    args = ap.parse_args()
    if args.quick:
        args.size_mib, args.runs = min(args.size_mib, 256), 1
    os.makedirs(args.data_root, exist_ok=True)
    lim = limits.get(quick=args.quick)
    cores = os.cpu_count() or 1
    sha1, sha256 = lim["sha1_MBps"], lim["sha256_MBps"]
    single = {"v1": sha1, "v2": sha256, "hybrid": 1 / (1 / sha1 + 1 / sha256), "recheck": sha1}
    common.print_header("hashing", size_mib=args.size_mib, runs=args.runs, cores=cores)
    torrent, save, size, gen = common.make_dataset(args.data_root, "hash", [args.size_mib << 20], 1 << 20,
                                                   seed=31, multi=False)
    path = os.path.join(save, "hash")
    with open(path, "rb") as f:  # warm the page cache
        while f.read(1 << 24):
            pass
    print(f"# {size >> 20} MiB file ({'generated in %.1fs' % gen if gen else 'reused'}), "
          f"page cache resident {common.page_cache_fraction(path):.0%}; single core sha1 {sha1:.0f} MB/s, "
          f"sha256 {sha256:.0f} MB/s ({lim['hash_source']})", flush=True)
    impls = ["ours", "ref"] if args.impls == "both" else [args.impls]

    def case(name, code, mode):
        samples = {}
        for impl in impls:
            samples[impl] = [common.run_snippet(common.IMPLS[impl], code) for _ in range(args.runs)]
        med = {i: common.median_of(s, "seconds") for i, s in samples.items()}
        cpu = {i: common.median_of(s, "cpu_seconds") for i, s in samples.items()}
        limit_s = size / 1e6 / (single[mode] * cores)
        extra = {"bytes": size, "cores": cores, "load_avg": os.getloadavg()}
        for i in impls:
            mbps = size / med[i] / 1e6
            per_cpu = size / cpu[i] / 1e6 if cpu[i] else float("nan")
            extra[f"{i}_MBps"] = mbps
            extra[f"{i}_MB_per_cpu_s"] = per_cpu
            extra[f"{i}_cores_busy"] = cpu[i] / med[i]
            extra[f"{i}_samples"] = [s["seconds"] for s in samples[i]]
            if "first_check" in samples[i][0]:
                extra[f"{i}_first_check_s"] = common.median_of(samples[i], "first_check")
            print(f"#   {name} {i}: {mbps:7.0f} MB/s wall, {per_cpu:7.0f} MB per CPU-s "
                  f"({per_cpu / single[mode]:.0%} of one core), {cpu[i] / med[i]:.2f} cores busy", flush=True)
        if len(impls) == 2:
            common.report(name, med["ours"], med["ref"], limit=limit_s,
                          limit_label=f"{cores} cores x {single[mode]:.0f} MB/s", extra=extra)
        else:
            print(json.dumps({"case": name, "impl": impls[0], "seconds": med[impls[0]], "limit": limit_s, **extra}))

    if args.only in (None, "create"):
        for mode, flags in MODES.items():
            case(f"set_piece_hashes {mode} {size >> 20} MiB", CREATE.format(path=path, base=save, flags=flags), mode)
    if args.only in (None, "recheck"):
        if "ours" in impls and not common.ours_available():
            print("# WARNING: our build has no session yet; recheck runs on the reference only", file=sys.stderr)
            impls = ["ref"]
        case(f"force_recheck {size >> 20} MiB", RECHECK.format(torrent=torrent, save=save), "recheck")


if __name__ == "__main__":
    main()
