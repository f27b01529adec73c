"""The states a torrent passes through while its files are checked, and the
alerts of it, are the reference's: a check starts in checking_resume_data
and enters checking_files only when some data is on disk (a file with at
least one byte, or the part file); a torrent found complete passes through
`finished`, with torrent_finished_alert and its completed_time, before
`seeding`; a rejected resume (here: seed mode without the files) is checked
in checking_files. Differential: the same script under both modules."""
import pytest

from ltdiff import run_ours, run_ref

SCRIPT = r"""
import hashlib, json, os, tempfile, time, warnings
import libtorrent as lt
warnings.simplefilter("ignore")

PIECE = 1 << 18
data = os.urandom(4 * PIECE)
files = [("a.bin", 2 * PIECE), ("b.bin", 2 * PIECE)]
pieces = b"".join(hashlib.sha1(data[k:k + PIECE]).digest() for k in range(0, len(data), PIECE))

def torrent(name):
    info = {b"name": name.encode(), b"piece length": PIECE, b"pieces": pieces,
            b"files": [{b"path": [n.encode()], b"length": size} for n, size in files]}
    return lt.torrent_info(lt.bencode({b"info": info}))

ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                  "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                  "alert_mask": lt.alert.category_t.status_notification
                  | lt.alert.category_t.error_notification})

def on_disk(d, name, sizes):
    os.makedirs(os.path.join(d, name), exist_ok=True)
    at = 0
    for (fname, size), n in zip(files, sizes):
        if n is not None:
            with open(os.path.join(d, name, fname), "wb") as f:
                f.write(data[at:at + n])
        at += size

def until_checked(h):
    seen, deadline = [], time.monotonic() + 20
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if not (hasattr(a, "handle") and a.handle == h):
                continue
            if isinstance(a, lt.state_changed_alert):
                seen.append(f"{a.prev_state}->{a.state}")
            elif isinstance(a, lt.save_resume_data_alert):
                until_checked.resume = lt.write_resume_data_buf(a.params)
                seen.append("saved")
            elif type(a).__name__ in ("torrent_checked_alert", "torrent_finished_alert",
                                      "fastresume_rejected_alert"):
                seen.append(type(a).__name__)
            if isinstance(a, (lt.torrent_checked_alert, lt.save_resume_data_alert)):
                return seen
    return seen + ["timed out"]

def report(h, seen):
    st = h.status()
    return {"alerts": seen, "state": str(st.state), "completed": st.completed_time > 0}

def add(sizes, prios=None, flags=0, resume=None, name=None):
    # each torrent its own name, so its own info-hash, except where the
    # resume data of an earlier one is added again
    add.n = getattr(add, "n", 0) + 1
    name = name or f"t{add.n}"
    d = tempfile.mkdtemp()
    on_disk(d, name, sizes)
    p = lt.read_resume_data(resume) if resume else lt.add_torrent_params()
    p.ti = torrent(name)
    p.save_path = d
    p.flags |= flags
    if prios:
        p.file_priorities = prios
    h = ses.add_torrent(p)
    return h, until_checked(h)

out = {}
h, seen = add([None, None])
out["nothing"] = report(h, seen)
h.force_recheck()
out["nothing, recheck"] = report(h, until_checked(h))
out["empty file"] = report(*add([0, None]))
out["one byte"] = report(*add([None, 1]))
out["skipped file on disk"] = report(*add([10, None], prios=[0, 1]))
out["skipped, nothing"] = report(*add([None, None], prios=[0, 1]))
h, seen = add([2 * PIECE, 2 * PIECE], name="complete")
out["complete"] = report(h, seen)
h.force_recheck()
out["complete, recheck"] = report(h, until_checked(h))
h.save_resume_data()
until_checked(h)
ses.remove_torrent(h)
while ses.get_torrents() and any(t == h for t in ses.get_torrents()):
    time.sleep(0.05)
out["complete, from resume data"] = report(
    *add([2 * PIECE, 2 * PIECE], resume=until_checked.resume, name="complete"))
out["seed mode, no files"] = report(*add([None, None], flags=lt.torrent_flags.seed_mode))
out["seed mode, files"] = report(
    *add([2 * PIECE, 2 * PIECE], flags=lt.torrent_flags.seed_mode))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ref_states():
    return run_ref(SCRIPT)


def test_check_states_and_alerts_are_the_references(ref_states):
    ours = run_ours(SCRIPT)
    assert ours == ref_states
    # what the comparison covers, as the reference shows it
    assert ref_states["nothing"]["alerts"][0] == "checking_resume_data->downloading"
    assert "checking_resume_data->checking_files" in ref_states["one byte"]["alerts"]
    assert ref_states["complete"]["alerts"][-3:] == [
        "torrent_finished_alert", "finished->seeding", "torrent_checked_alert"]
    assert ref_states["complete"]["completed"]
    assert "fastresume_rejected_alert" in ref_states["seed mode, no files"]["alerts"]


MAGNET = r"""
import hashlib, json, os, tempfile, time, warnings
import libtorrent as lt
warnings.simplefilter("ignore")

S = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
     "enable_upnp": False, "enable_natpmp": False,
     "alert_mask": lt.alert.category_t.status_notification}
PIECE = 1 << 18
seed_dir, leech_dir = tempfile.mkdtemp(), tempfile.mkdtemp()
data = os.urandom(4 * PIECE)
with open(os.path.join(seed_dir, "t.bin"), "wb") as f:
    f.write(data)
pieces = b"".join(hashlib.sha1(data[k:k + PIECE]).digest() for k in range(0, len(data), PIECE))
ti = lt.torrent_info(lt.bencode({b"info": {b"name": b"t.bin", b"piece length": PIECE,
                                           b"length": len(data), b"pieces": pieces}}))
seed, leech = lt.session(S), lt.session(S)
p = lt.add_torrent_params()
p.ti = ti
p.save_path = seed_dir
seed.add_torrent(p)
m = lt.parse_magnet_uri(lt.make_magnet_uri(ti))
m.save_path = leech_dir
h = leech.add_torrent(m)
h.connect_peer(("127.0.0.1", seed.listen_port()))
seen = []
deadline = time.monotonic() + 30
while time.monotonic() < deadline and "finished->seeding" not in seen:
    leech.wait_for_alert(100)
    for a in leech.pop_alerts():
        if isinstance(a, lt.state_changed_alert):
            seen.append(f"{a.prev_state}->{a.state}")
        elif type(a).__name__ in ("torrent_checked_alert", "torrent_finished_alert",
                                  "metadata_received_alert"):
            seen.append(type(a).__name__)
print(json.dumps(seen))
"""


def test_magnet_download_states_and_alerts_are_the_references():
    ref = run_ref(MAGNET)
    assert run_ours(MAGNET) == ref
    assert ref[-3:] == ["downloading->finished", "torrent_finished_alert", "finished->seeding"]
