"""Restart from resume data: how long a fresh session takes to bring back
200 torrents from their resume files, without rechecking any payload.

    python bench/restart.py [--torrents 200] [--runs 3] [--impls both|ours|ref]

Setup (pure Python, once): --torrents distinct two-file v1 torrents
(a.bin + b.bin, 96 KiB each, 16 KiB pieces) and their files, mixed:
  complete  every byte on disk                       -> seeding
  partial   some pieces on disk, the rest missing    -> downloading
  prio      partial, b.bin at priority 0 and a few
            pieces of a.bin at priority 7            -> downloading / finished

Per module, once (not timed): a session adds every torrent (not
auto-managed), checks the files, applies the priorities, then saves resume
data for all of them (`save_info_dict`) into resume files, and records
each torrent's state, pieces and total_wanted_done, and the disk counters
of that check.

Timed, in a fresh process per run (runs of the two modules interleaved): read every resume file
(read_resume_data), add them all (async_add_torrent), and wait until every
torrent has reached its recorded final state. Reported: the median wall
time from the first add until the last torrent is there, and the median
CPU time the process used meanwhile (all threads; less noisy than the
wall time on a loaded machine). Each run also
verifies that nothing was rechecked: no torrent entered checking_files,
every torrent's total_wanted_done and pieces equal the recorded ones, and
the session counters disk.num_blocks_read / disk.num_blocks_hashed stayed
0 (reported for the initial check too: the reference's stay 0 even there),
and the process read (rchar of /proc/self/io, page-cache hits included)
less than 5% of the payload on disk while restarting.
One JSON line per case, like the other bench scripts.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PIECE = 16 * 1024
FILE = 6 * PIECE

COMMON = r"""
import json, os, time
import libtorrent as lt
D = {dir!r}
def session():
    return lt.session({{"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                       "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                       "alert_queue_size": 1000000,
                       "alert_mask": lt.alert.category_t.status_notification
                       | lt.alert.category_t.storage_notification
                       | lt.alert.category_t.error_notification}})
def disk_counters(ses):
    ses.post_session_stats()
    end = time.time() + 10
    while time.time() < end:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                v = a.values
                return {{k: v[k] for k in ("disk.num_blocks_read", "disk.num_blocks_hashed")}}
    raise SystemExit("no session_stats_alert")
def rchar():
    # bytes this process read through read()/pread() (any file, cached or not)
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
FINAL = (lt.torrent_status.downloading, lt.torrent_status.finished, lt.torrent_status.seeding)
"""

PREPARE = COMMON + r"""
kinds = json.load(open(os.path.join(D, "kinds.json")))
out = os.path.join(D, "resume-" + {impl!r})
os.makedirs(out, exist_ok=True)
ses = session()
handles = {{}}
for name, kind in sorted(kinds.items()):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(os.path.join(D, "torrents", name + ".torrent"))
    atp.save_path = os.path.join(D, "data")
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    if kind == "prio":
        atp.file_priorities = [4, 0]
    h = ses.add_torrent(atp)
    if kind == "prio":
        h.piece_priority(0, 7)
        h.piece_priority(1, 7)
    handles[name] = h
end = time.time() + 600
while True:
    ses.pop_alerts()
    if all(h.status().state in FINAL for h in handles.values()):
        break
    assert time.time() < end, "initial check did not finish"
    time.sleep(0.05)
check_counters = disk_counters(ses)
expected = {{}}
for name, h in handles.items():
    st = h.status()
    expected[name] = {{"state": int(st.state), "wanted_done": st.total_wanted_done,
                      "pieces": [int(b) for b in st.pieces]}}
    h.save_resume_data(lt.torrent_handle.save_info_dict)
saved = 0
end = time.time() + 120
while saved < len(handles):
    assert time.time() < end, "save_resume_data alerts missing"
    ses.wait_for_alert(100)
    for a in ses.pop_alerts():
        if isinstance(a, lt.save_resume_data_alert):
            name = a.params.name
            with open(os.path.join(out, name + ".resume"), "wb") as f:
                f.write(lt.write_resume_data_buf(a.params))
            saved += 1
        elif isinstance(a, lt.save_resume_data_failed_alert):
            raise SystemExit(a.message())
json.dump(expected, open(os.path.join(out, "expected.json"), "w"))
print(json.dumps({{"saved": saved, "check_counters": check_counters}}))
"""

RESTART = COMMON + r"""
src = os.path.join(D, "resume-" + {impl!r})
expected = json.load(open(os.path.join(src, "expected.json")))
bufs = [open(os.path.join(src, n + ".resume"), "rb").read() for n in sorted(expected)]
ses = session()
checking = set()
read0 = rchar()
cpu0 = time.process_time()
t0 = time.perf_counter()
for b in bufs:
    ses.async_add_torrent(lt.read_resume_data(b))
handles = {{}}
pending = set(expected)
while pending:
    assert time.perf_counter() - t0 < 300, f"{{len(pending)}} torrents not back"
    ses.wait_for_alert(10)
    for a in ses.pop_alerts():
        if isinstance(a, lt.add_torrent_alert):
            if a.error.value():
                raise SystemExit(a.message())
            handles[a.torrent_name] = a.handle
        elif isinstance(a, lt.state_changed_alert):
            if a.state == lt.torrent_status.checking_files:
                checking.add(a.torrent_name)
    if len(handles) < len(expected):
        continue
    for st in ses.get_torrent_status(lambda s: True, 0x40):  # query_name
        if st.name in pending and int(st.state) == expected[st.name]["state"]:
            pending.discard(st.name)
elapsed = time.perf_counter() - t0
cpu = time.process_time() - cpu0
read_bytes = rchar() - read0
counters = disk_counters(ses)
bad = []
for name, h in handles.items():
    st = h.status()
    e = expected[name]
    if (int(st.state) != e["state"] or st.total_wanted_done != e["wanted_done"]
            or [int(b) for b in st.pieces] != e["pieces"]):
        bad.append(name)
print(json.dumps({{"seconds": elapsed, "checking": sorted(checking), "bad": bad,
                  "counters": counters, "n": len(handles), "read_bytes": read_bytes, "cpu": cpu}}))
"""


def payload(i, f):
    out = bytearray()
    seed = b"%d/%d" % (i, f)
    while len(out) < FILE:
        seed = hashlib.sha256(seed).digest()
        out += seed * 32
    return bytes(out[:FILE])


def make(d, n):
    """Torrents, their data (complete or partial) and each one's kind."""
    os.makedirs(os.path.join(d, "torrents"))
    kinds = {}
    for i in range(n):
        name = f"r{i:04d}"
        kind = ("complete", "partial", "prio")[i % 3]
        kinds[name] = kind
        files = [payload(i, 0), payload(i, 1)]
        whole = b"".join(files)
        pieces = b"".join(hashlib.sha1(whole[k:k + PIECE]).digest()
                          for k in range(0, len(whole), PIECE))
        info = {"name": name, "piece length": PIECE, "pieces": pieces,
                "files": [{"length": FILE, "path": ["a.bin"]}, {"length": FILE, "path": ["b.bin"]}]}
        with open(os.path.join(d, "torrents", name + ".torrent"), "wb") as f:
            f.write(common.bencode({"info": info}))
        root = os.path.join(d, "data", name)
        os.makedirs(root)
        for fname, data in zip(("a.bin", "b.bin"), files):
            if kind != "complete":
                # partial: every other piece present, the rest zeros
                data = b"".join(data[k:k + PIECE] if (k // PIECE + i) % 2 == 0 else bytes(PIECE)
                                for k in range(0, FILE, PIECE))
            with open(os.path.join(root, fname), "wb") as f:
                f.write(data)
    with open(os.path.join(d, "kinds.json"), "w") as f:
        json.dump(kinds, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--torrents", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--impls", default="both", choices=["both", "ours", "ref"])
    args = ap.parse_args()
    impls = common.pick_impls(args.impls)
    common.print_header("restart", torrents=args.torrents, runs=args.runs, impls=impls)
    tmp = tempfile.mkdtemp(prefix="lt-bench-restart-")
    try:
        make(tmp, args.torrents)
        prep = {}
        for i in impls:
            prep[i] = common.run_snippet(common.IMPLS[i], PREPARE.format(dir=tmp, impl=i))
            print(f"#   {i}: saved {prep[i]['saved']} resume files; initial check counters "
                  f"{prep[i]['check_counters']}", flush=True)
        samples = {i: [] for i in impls}
        reads = {i: [] for i in impls}
        cpus = {i: [] for i in impls}
        # interleaved, so both see the same machine conditions
        for _ in range(args.runs):
            for i in impls:
                r = common.run_snippet(common.IMPLS[i], RESTART.format(dir=tmp, impl=i))
                # a recheck would read the payload: far more than this
                payload_on_disk = args.torrents * 2 * FILE // 2
                if (r["checking"] or r["bad"] or any(r["counters"].values())
                        or r["n"] != args.torrents or r["read_bytes"] > payload_on_disk // 20):
                    raise SystemExit(f"{i}: payload rechecked or state lost: {json.dumps(r)[:2000]}")
                samples[i].append(r["seconds"])
                cpus[i].append(r["cpu"])
                reads[i].append(r["read_bytes"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    def out(case, src, note):
        med = {i: sorted(src[i])[len(src[i]) // 2] for i in impls}
        extra = {"limit": None, "limit_note": note, "samples": src,
                 "verified": "no checking_files, wanted_done/pieces equal, "
                 "disk.num_blocks_read/hashed 0, < 5% of the payload read",
                 "initial_check_counters": {i: prep[i]["check_counters"] for i in impls},
                 "bytes_read_during_restart": reads}
        if len(impls) == 2:
            common.report(case, med["ours"], med["ref"], extra=extra)
        else:
            i = impls[0]
            print(f"{case:<40} {i} {med[i]:10.4f}s", flush=True)
            print(json.dumps({"case": case, "impl": i, "value": med[i], "unit": "s", **extra}),
                  flush=True)

    n = args.torrents
    out(f"restart {n} torrents (wall)", samples, "no hardware bound (no payload is read)")
    out(f"restart {n} torrents (process CPU)", cpus, "CPU time of all the process' threads")

if __name__ == "__main__":
    main()
