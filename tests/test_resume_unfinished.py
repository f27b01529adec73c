"""Partially downloaded pieces in resume data (`unfinished`: piece + block
bitmask; `add_torrent_params.unfinished_pieces`), across modules both ways:
one module adds a torrent with a had piece and two blocks of another piece,
and writes its resume file with save_resume_data; the other module loads
that file, reports the blocks as done without a recheck, writes them back
in its own resume data, and then downloads the rest from a seeder without
asking for those blocks again (the seeder's block_uploaded alerts show
what was sent), ending byte-identical."""
import json

import pytest

P = 65536
BLOCK = 16384

SETUP = r"""
import os, json
D = os.environ["DIR"]
P = 65536
data = bytes((i * 7 + 13) % 251 for i in range(4 * P))
os.makedirs(D + "/src", exist_ok=True)
open(D + "/src/x.bin", "wb").write(data)
os.makedirs(D + "/dl", exist_ok=True)
# on disk: piece 0 and the first two blocks of piece 1
disk = bytearray(4 * P)
disk[:P + 2 * 16384] = data[:P + 2 * 16384]
open(D + "/dl/x.bin", "wb").write(bytes(disk))
import libtorrent as lt
fs = lt.file_storage()
fs.add_file("x.bin", len(data))
ct = lt.create_torrent(fs, P, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, D + "/src")
open(D + "/t.torrent", "wb").write(lt.bencode(ct.generate()))
print(json.dumps(True))
"""

PRELUDE = r"""
import json, os, time
import libtorrent as lt
D = os.environ["DIR"]
cat = lt.alert.category_t
def session():
    return lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                       "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0",
                       "alert_mask": cat.status_notification | cat.storage_notification
                       | cat.upload_notification | cat.progress_notification})
def wait(ses, kind, secs=20):
    end = time.time() + secs
    seen = []
    while time.time() < end:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            seen.append(a.what())
            if isinstance(a, kind):
                return a, seen
    raise SystemExit(f"no {kind}: {seen}")
"""

WRITE = PRELUDE + r"""
ses = session()
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(D + "/t.torrent")
atp.save_path = D + "/dl"
atp.have_pieces = [True, False, False, False]
atp.unfinished_pieces = {1: [True, True, False, False]}
h = ses.add_torrent(atp)
wait(ses, lt.torrent_checked_alert)
st = h.status()
h.save_resume_data()
a, _ = wait(ses, lt.save_resume_data_alert)
open(D + "/t.resume", "wb").write(lt.write_resume_data_buf(a.params))
print(json.dumps({"done": st.total_done, "unfinished": {str(k): v for k, v in a.params.unfinished_pieces.items()}}))
"""

READ = PRELUDE + r"""
ses = session()
atp = lt.read_resume_data(open(D + "/t.resume", "rb").read())
atp.ti = lt.torrent_info(D + "/t.torrent")
atp.save_path = D + "/dl"
h = ses.add_torrent(atp)
states = []
end = time.time() + 20
while True:
    ses.wait_for_alert(100)
    done = False
    for a in ses.pop_alerts():
        if isinstance(a, lt.state_changed_alert):
            states.append(str(a.state))
        if isinstance(a, lt.torrent_checked_alert):
            done = True
    if done:
        break
    assert time.time() < end
st = h.status()
out = {"states": states, "done": st.total_done, "wanted_done": st.total_wanted_done,
       "pieces": list(st.pieces)}
h.save_resume_data()
a, _ = wait(ses, lt.save_resume_data_alert)
out["unfinished"] = {str(k): v for k, v in a.params.unfinished_pieces.items()}
# now fetch the rest from a seeder of the same module
seed = session()
s_atp = lt.add_torrent_params()
s_atp.ti = lt.torrent_info(D + "/t.torrent")
s_atp.save_path = D + "/src"
sh = seed.add_torrent(s_atp)
end = time.time() + 20
while not sh.status().is_seeding:
    assert time.time() < end
    time.sleep(0.05)
seed.pop_alerts()
h.connect_peer(("127.0.0.1", seed.listen_port()))
sent = set()
failed = []
end = time.time() + 30
while not h.status().is_seeding:
    assert time.time() < end, "download did not finish"
    ses.wait_for_alert(50)
    for a in ses.pop_alerts():
        if isinstance(a, lt.hash_failed_alert):
            failed.append(a.piece_index)
    for a in seed.pop_alerts():
        if isinstance(a, lt.block_uploaded_alert):
            sent.add((a.piece_index, a.block_index))
time.sleep(0.3)
for a in seed.pop_alerts():
    if isinstance(a, lt.block_uploaded_alert):
        sent.add((a.piece_index, a.block_index))
out["sent"] = sorted(sent)
out["failed"] = failed
out["identical"] = open(D + "/dl/x.bin", "rb").read() == open(D + "/src/x.bin", "rb").read()
print(json.dumps(out))
"""


@pytest.mark.parametrize("writer,reader", [("ref", "ours"), ("ours", "ref"), ("ours", "ours")])
def test_unfinished_pieces_cross_module(tmp_path, ref, ours, writer, reader):
    run = {"ref": ref, "ours": ours}
    env = {"DIR": tmp_path}
    run[writer](SETUP, **env)
    w = run[writer](WRITE, **env)
    assert w["done"] == P + 2 * BLOCK
    assert w["unfinished"] == {"1": [True, True, False, False]}
    r = run[reader](READ, **env)
    # trusted: no file check, the blocks count as done
    assert "checking_files" not in r["states"], r["states"]
    assert r["done"] == P + 2 * BLOCK and r["wanted_done"] == P + 2 * BLOCK
    assert r["pieces"] == [True, False, False, False]
    assert r["unfinished"] == {"1": [True, True, False, False]}
    # never asked again for what the resume data had
    sent = {tuple(x) for x in r["sent"]}
    assert not sent & {(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)}, sorted(sent)
    assert {(1, 2), (1, 3), (2, 0), (3, 3)} <= sent, sorted(sent)
    assert r["failed"] == []
    assert r["identical"]


TRUST = r"""
import json, os, time
import libtorrent as lt
D = os.environ["DIR"]
P = 65536
data = bytes((i * 7 + 13) % 251 for i in range(4 * P))
os.makedirs(D + "/src", exist_ok=True)
open(D + "/src/x.bin", "wb").write(data)
fs = lt.file_storage()
fs.add_file("x.bin", len(data))
ct = lt.create_torrent(fs, P, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, D + "/src")
ti = lt.torrent_info(ct.generate())
out = []
# (piece list, unfinished pieces): what is trusted and what is checked
for k, (have, unfinished) in enumerate([([False] * 4, {}), ([False] * 4, {1: [True, True, False, False]}),
                                        ([], {1: [True, True, False, False]}), ([], {})]):
    d = D + "/dl%d" % k
    os.makedirs(d)
    # on disk: piece 0 whole
    open(d + "/x.bin", "wb").write(data[:P] + bytes(3 * P))
    ses = lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                      "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0",
                      "alert_mask": lt.alert.category_t.status_notification})
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = d
    atp.have_pieces = have
    atp.unfinished_pieces = unfinished
    h = ses.add_torrent(atp)
    states = []
    end = time.time() + 20
    while time.time() < end:
        ses.wait_for_alert(100)
        als = ses.pop_alerts()
        states += [str(a.state) for a in als if isinstance(a, lt.state_changed_alert)]
        if any(isinstance(a, lt.torrent_checked_alert) for a in als):
            break
    st = h.status()
    out.append([states, st.total_done, list(st.pieces)])
print(json.dumps(out))
"""


def test_which_resume_data_is_trusted_matches_reference(tmp_path, ref, ours):
    r = ref(TRUST, DIR=tmp_path / "ref")
    assert ours(TRUST, DIR=tmp_path / "ours") == r
    # a piece list (even empty of pieces) is trusted; none means a check
    assert r[0][1] == 0 and r[1][1] == 2 * BLOCK
    assert r[2][1] == P and r[3][1] == P
