"""torrent_conflict_alert (BEP 52): a hybrid torrent added as two magnet
links, one by its v1 info-hash and one by its v2 info-hash. When the
metadata arrives on one of them, both stop with duplicate_torrent on their
metadata and the alert names both and carries the metadata. The same
script runs on the reference and on ours; the outcomes must match."""
import json
import os
import subprocess
import sys
import textwrap

from ltdiff import REF_PY

PY = {"ours": sys.executable, "ref": str(REF_PY)}

CONFLICT = """
import json, os, sys, time, warnings, libtorrent as lt
warnings.simplefilter("ignore")
d = sys.argv[1]
os.makedirs(os.path.join(d, "seed", "p"), exist_ok=True)
open(os.path.join(d, "seed", "p", "a"), "wb").write(bytes(range(256)) * 800)
fs = lt.file_storage(); lt.add_files(fs, os.path.join(d, "seed", "p"))
ct = lt.create_torrent(fs, 16384); lt.set_piece_hashes(ct, os.path.join(d, "seed"))
ti = lt.torrent_info(lt.bencode(ct.generate()))
cfg = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
       "enable_upnp": False, "enable_natpmp": False, "alert_mask": 0x7fffffff}
seed = lt.session(cfg)
seed.add_torrent({"ti": ti, "save_path": os.path.join(d, "seed")})
t = time.time()
while not seed.get_torrents()[0].status().is_seeding and time.time() - t < 20:
    time.sleep(0.05)
l = lt.session(cfg)
ih = ti.info_hashes()
a = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + str(ih.v1)); a.save_path = os.path.join(d, "l1")
b = lt.parse_magnet_uri("magnet:?xt=urn:btmh:1220" + str(ih.v2)); b.save_path = os.path.join(d, "l2")
ha = l.add_torrent(a); hb = l.add_torrent(b)
out = {"added": len(l.get_torrents()), "events": []}
ha.connect_peer(("127.0.0.1", seed.listen_port()))
t = time.time()
done = False
while time.time() - t < 15 and not done:
    for al in l.pop_alerts():
        w = al.what()
        if w == "torrent_conflict":
            md = al.metadata
            out["events"].append([w, al.handle == ha, al.conflicting_torrent == hb,
                                  al.message().split(" ", 1)[1], al.category(),
                                  md.name() if md is not None else None,
                                  str(md.info_hashes().v2) == str(ih.v2) if md is not None else None,
                                  isinstance(al, lt.torrent_alert)])
            done = True
        elif w == "torrent_error":
            out["events"].append([w, "a" if al.handle == ha else "b", al.error.value(),
                                  al.message().split(" ", 1)[1]])
        elif w in ("metadata_received", "torrent_paused"):
            out["events"].append([w, "a" if al.handle == ha else "b"])
    time.sleep(0.05)
time.sleep(0.5)
for h, n in ((ha, "a"), (hb, "b")):
    st = h.status()
    out[n] = [str(st.state), st.errc.value(), st.paused, st.has_metadata, st.error_file,
              h.torrent_file() is None]
print(json.dumps(out))
os._exit(0)
"""


def run(kind, d):
    r = subprocess.run([PY[kind], "-c", textwrap.dedent(CONFLICT), str(d)],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip(), r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_hybrid_added_as_two_magnets_conflicts(tmp_path):
    r = run("ref", tmp_path / "ref")
    o = run("ours", tmp_path / "ours")
    assert r["added"] == 2
    assert r["events"][-1] == ["torrent_conflict", True, True,
                               "has a conflict with another torrent", 1, "p", True, True]
    assert ["torrent_error", "b", 19, "ERROR: (19 torrent already exists in session) metadata"] \
        in r["events"]
    assert r["a"] == ["downloading_metadata", 19, True, False, -4, True]
    assert o == r
