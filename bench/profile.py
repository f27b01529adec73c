"""Profiles one side of a benchmark case with `perf` (user space, cpu-clock).

    python bench/profile.py CASE [--impl ours|ref] [--size-mib N] [--torrents N] [--top 25]

CASE is one of:
  transfer-leech, transfer-seed   a seeder -> leecher transfer of a
                                  --size-mib single-file torrent; perf runs on
                                  the named process (both sides use --impl)
  status                          get_torrent_status over --torrents torrents, 200x
  add-remove                      add then remove --torrents torrents, 20x
  recheck                         force_recheck of a --size-mib torrent, 3x
Prints the flat profile (self time by shared object and by symbol) and the
top call chains. Needs `perf` (Debian: linux-perf) and
kernel.perf_event_paranoid <= 2; perf.data is left in $TMPDIR/lt-bench-perf.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_scale  # noqa: E402
import bench_transfer  # noqa: E402
import common  # noqa: E402

OUT = os.path.join(tempfile.gettempdir(), "lt-bench-perf")

SNIPPETS = {
    "status": bench_scale.PRELUDE + r"""
handles = [ses.add_torrent(p) for p in params]
time.sleep(1)
for _ in range(200):
    ses.get_torrent_status(lambda s: True)
print(json.dumps({{}}))
""",
    "add-remove": bench_scale.PRELUDE + r"""
for _ in range(20):
    handles = [ses.add_torrent(p) for p in params]
    for h in handles:
        ses.remove_torrent(h)
    while ses.get_torrents():
        time.sleep(0.001)
    ses.pop_alerts()
print(json.dumps({{}}))
""",
}

RECHECK = r"""
import json, time, libtorrent as lt
ses = lt.session({{"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                      "enable_upnp": False, "enable_natpmp": False}})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info({torrent!r}); atp.save_path = {save!r}
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = ses.add_torrent(atp)
for _ in range(4):
    while not h.status().is_seeding: time.sleep(0.01)
    h.force_recheck(); time.sleep(0.2)
while not h.status().is_seeding: time.sleep(0.01)
print(json.dumps({{}}))
"""


def perf_cmd(name):
    os.makedirs(OUT, exist_ok=True)
    return ["perf", "record", "-q", "-F", "1999", "-g", "--call-graph", "dwarf,16384", "-o",
            os.path.join(OUT, name + ".data"), "--"]


def show(name, top):
    data = os.path.join(OUT, name + ".data")
    for sort in ("dso", "dso,symbol"):
        p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                            "--sort", sort, "--percent-limit", "0.8"], capture_output=True, text=True)
        lines = [ln for ln in p.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
        print(f"--- self time by {sort} ({name})")
        print("\n".join(lines[:top]))
    p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "caller,2,callee,function",
                        "--percent-limit", "4", "--sort", "symbol"], capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    print(f"--- call chains of the hottest symbols ({name})")
    print("\n".join(lines[:top * 4]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=["transfer-leech", "transfer-seed", "status", "add-remove", "recheck"])
    ap.add_argument("--impl", default="ours", choices=["ours", "ref"])
    ap.add_argument("--other", choices=["ours", "ref"], help="transfer: implementation of the other (not "
                    "profiled) side; default --impl")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--seed-mode", action="store_true", help="transfer: the seeder skips its initial check, "
                    "so a seeder profile shows serving only")
    ap.add_argument("--files", type=int, default=0, help="transfer: a many-file torrent of this many files "
                    "(32 KiB average) instead of one --size-mib file")
    ap.add_argument("--utp", action="store_true", help="transfer: uTP only on both sides (TCP disabled)")
    ap.add_argument("--torrents", type=int, default=1000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--data-root", default=common.default_data_root())
    args = ap.parse_args()
    name = f"{args.case}-{args.impl}"
    py = common.IMPLS[args.impl]
    if args.case.startswith("transfer") or args.case == "recheck":
        os.makedirs(args.data_root, exist_ok=True)
        if args.files and args.case.startswith("transfer"):
            sizes = common.file_sizes_many(args.files, 32 << 10, seed=12)
            t, save, total, _ = common.make_dataset(args.data_root, "many", sizes, 256 << 10, seed=12)
            name += f"-{args.files}files"
        else:
            t, save, total, _ = common.make_dataset(args.data_root, "prof", [args.size_mib << 20], 1 << 20,
                                                    seed=41, multi=False)
    if args.case.startswith("transfer"):
        dl = tempfile.mkdtemp(prefix="lt-bench-prof-", dir=args.data_root)
        try:
            other = args.other or args.impl
            s_impl, l_impl = (args.impl, other) if args.case.endswith("seed") else (other, args.impl)
            name += f"-with-{other}" + ("-utp" if args.utp else "")
            extra = bench_transfer.UTP_ONLY if args.utp else None
            seed = common.Peer(s_impl, t, save, seed_mode=args.seed_mode, settings=extra, wrap=perf_cmd(name) if args.case.endswith("seed") else ())
            r = seed.wait_event("ready")
            leech = common.Peer(l_impl, t, dl, settings=extra, wrap=perf_cmd(name) if args.case.endswith("leech") else ())
            leech.wait_event("ready")
            t0 = time.monotonic()
            leech.send(f"connect 127.0.0.1:{r['port']}")
            leech.wait_event("complete")
            print(f"# transfer of {total >> 20} MiB took {time.monotonic() - t0:.2f}s under perf")
            seed.close()
            leech.close()
        finally:
            shutil.rmtree(dl, ignore_errors=True)
    else:
        if args.case == "recheck":
            code = RECHECK.format(torrent=t, save=save)
        else:
            tmp = tempfile.mkdtemp(prefix="lt-bench-prof-")
            tdir, save = os.path.join(tmp, "t"), os.path.join(tmp, "s")
            os.makedirs(tdir)
            os.makedirs(save)
            bench_scale.make_torrents(tdir, args.torrents)
            code = SNIPPETS[args.case].format(dir=tdir, save=save, mask=0)
        subprocess.run(perf_cmd(name) + [py, "-c", code], check=True, cwd="/")
    show(name, args.top)


if __name__ == "__main__":
    main()
