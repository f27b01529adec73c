"""Session scale: many torrents in one session, and alert throughput.

    python bench/bench_scale.py [--torrents 1000] [--runs 3] [--quick]

Torrents: --torrents distinct single-file v1 torrents (16 MiB, 1 MiB pieces,
generated in pure Python), added with a save path where no data exists, so
each one is idle in the downloading state with no peers. Cases, each in a
fresh process per run:
  add N torrents           add_torrent() N times (torrent_info parsed beforehand)
  memory per idle torrent  (VmRSS after adding and 2 s of settling - before) / N,
                           measured after one warm-up torrent: the first add
                           of a session pays one-time costs (~0.9 MiB for
                           either module, mostly code paged in) that are not
                           per torrent; the figure with them is printed too
  get_torrent_status N     one session.get_torrent_status(lambda s: True) call
  remove N torrents        remove_torrent() N times until get_torrents() is empty
  alert throughput         every alert category on; add then remove N torrents
                           while popping; alerts popped per second of wall
                           time (production and popping), and per second
                           spent inside pop_alerts()
There is no hardware bound for these (engine bookkeeping and Python object
creation): the JSON lines carry "limit": null.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PRELUDE = r"""
import json, os, time, gc
import libtorrent as lt
def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
ses = lt.session({{"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False, "alert_queue_size": 1000000,
                  "alert_mask": {mask}}})
d = {dir!r}
params = []
for name in sorted(os.listdir(d)):
    if name.endswith(".torrent"):
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(os.path.join(d, name))
        atp.save_path = {save!r}
        params.append(atp)
n = len(params)
"""

SCALE = PRELUDE + r"""
gc.collect(); time.sleep(0.5); ses.pop_alerts()
rss_cold = rss_kb()
warm, params, n = ses.add_torrent(params[0]), params[1:], n - 1
time.sleep(1.0); ses.pop_alerts(); gc.collect()
rss0 = rss_kb()
t0 = time.perf_counter()
handles = [ses.add_torrent(p) for p in params]
add_s = time.perf_counter() - t0
time.sleep(2.0); ses.pop_alerts(); gc.collect()
rss1 = rss_kb()
st_times = []
for _ in range(5):
    t0 = time.perf_counter()
    sts = ses.get_torrent_status(lambda s: True)
    st_times.append(time.perf_counter() - t0)
    assert len(sts) == n + 1, len(sts)
del sts
t0 = time.perf_counter()
for h in handles:
    ses.remove_torrent(h)
while len(ses.get_torrents()) > 1:
    time.sleep(0.001)
rm_s = time.perf_counter() - t0
st_times.sort()
print(json.dumps({{"add_s": add_s, "remove_s": rm_s, "status_s": st_times[2], "n": n,
                  "kb_per_torrent": (rss1 - rss0) / n,
                  "kb_per_torrent_with_first": (rss1 - rss_cold) / (n + 1)}}))
"""

ALERTS = PRELUDE + r"""
count = 0
pop_s = 0.0
removed = 0
def pop():
    global count, pop_s, removed
    t = time.perf_counter()
    al = ses.pop_alerts()
    pop_s += time.perf_counter() - t
    count += len(al)
    for a in al:
        if isinstance(a, lt.torrent_removed_alert):
            removed += 1
t0 = time.perf_counter()
handles = []
for i, p in enumerate(params):
    handles.append(ses.add_torrent(p))
    if i % 50 == 0: pop()
for i, h in enumerate(handles):
    ses.remove_torrent(h)
    if i % 50 == 0: pop()
while removed < n and time.perf_counter() - t0 < 300:
    ses.wait_for_alert(100)
    pop()
wall = time.perf_counter() - t0
print(json.dumps({{"alerts": count, "wall_s": wall, "pop_s": pop_s, "alerts_per_s": count / wall,
                  "alerts_per_pop_s": count / pop_s if pop_s else None, "removed": removed}}))
"""


def make_torrents(d, n):
    for i in range(n):
        pieces = b"".join(hashlib.sha1(b"%d-%d" % (i, k)).digest() for k in range(16))
        info = {"name": f"t{i:05d}.bin", "piece length": 1 << 20, "length": 16 << 20, "pieces": pieces}
        with open(os.path.join(d, f"t{i:05d}.torrent"), "wb") as f:
            f.write(common.bencode({"info": info}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--torrents", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--impls", default="both", choices=["both", "ours", "ref"])
    ap.add_argument("--quick", action="store_true", help="200 torrents, 1 run")
    args = ap.parse_args()
    if args.quick:
        args.torrents, args.runs = min(args.torrents, 200), 1
    impls = common.pick_impls(args.impls)
    common.print_header("scale", torrents=args.torrents, runs=args.runs, impls=impls)
    tmp = tempfile.mkdtemp(prefix="lt-bench-scale-")
    try:
        tdir = os.path.join(tmp, "torrents")
        save = os.path.join(tmp, "save")
        os.makedirs(tdir)
        os.makedirs(save)
        make_torrents(tdir, args.torrents + 1)  # one warms the session up
        n = args.torrents
        code = SCALE.format(dir=tdir, save=save, mask=0)
        samples = {i: [common.run_snippet(common.IMPLS[i], code) for _ in range(args.runs)] for i in impls}
        allmask = "lt.alert.category_t.all_categories"
        acode = ALERTS.format(dir=tdir, save=save, mask=allmask)
        asamples = {i: [common.run_snippet(common.IMPLS[i], acode) for _ in range(args.runs)] for i in impls}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def out(case, key, src, unit="s", lower=True):
        med = {i: common.median_of(src[i], key) for i in impls}
        extra = {"limit": None, "limit_note": "no hardware bound", "samples": {i: [s[key] for s in src[i]]
                                                                              for i in impls}}
        if len(impls) == 2:
            common.report(case, med["ours"], med["ref"], unit=unit, lower_is_better=lower, extra=extra)
        else:
            i = impls[0]
            print(f"{case:<40} {i} {med[i]:10.4f}{unit}", flush=True)
            print(common.json.dumps({"case": case, "impl": i, "value": med[i], "unit": unit, **extra}), flush=True)

    out(f"add {n} torrents", "add_s", samples)
    out("memory per idle torrent", "kb_per_torrent", samples, unit=" KiB")
    out("  (with the first add's one-time cost)", "kb_per_torrent_with_first", samples, unit=" KiB")
    out(f"get_torrent_status {n}", "status_s", samples)
    out(f"remove {n} torrents", "remove_s", samples)
    out("alerts/s (add+remove, all categories)", "alerts_per_s", asamples, unit=" /s", lower=False)
    out("alerts/s inside pop_alerts", "alerts_per_pop_s", asamples, unit=" /s", lower=False)
    for i in impls:
        print(f"#   {i}: {common.median_of(asamples[i], 'alerts'):.0f} alerts for {n} adds + {n} removes", flush=True)


if __name__ == "__main__":
    main()
