"""Super seeding (BEP 16) and share mode in loopback swarms mixing our module
and the reference: data verified byte for byte, upload totals checked
against what the mode promises. The flag and handle API is compared with
the reference directly."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from ltdiff import REF_PY

PY = {"ours": sys.executable, "ref": str(REF_PY)}

# One swarm node. Writes <dir>/<name>.checked once its torrent is checked,
# then its port to <dir>/<name>.port (with cfg "after": only once each node
# named there is connected to all the others named), connects to every other
# node that wrote one, keeps <dir>/<name>.peers at its number of peers,
# writes <dir>/<name>.done when it has every piece, and keeps serving until
# <dir>/stop exists (or the timeout passes). Prints a summary.
NODE = """
import json, os, sys, time, warnings, libtorrent as lt
warnings.simplefilter("ignore")
cfg = json.loads(sys.argv[1])
d, name = cfg["dir"], cfg["name"]
settings = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": False, "enable_natpmp": False,
            "allow_multiple_connections_per_ip": True}
settings.update(cfg.get("settings", {}))
s = lt.session(settings)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(cfg["torrent"])
atp.save_path = cfg["save"]
atp.flags |= cfg.get("flags", 0)
h = s.add_torrent(atp)
t0 = time.time()
while time.time() - t0 < 20 and str(h.status().state).split(".")[-1] in (
        "checking_files", "checking_resume_data"):
    time.sleep(0.02)
first = {"super_seeding": h.status().super_seeding, "flags": h.flags(),
         "state": str(h.status().state).split(".")[-1]}
open(os.path.join(d, name + ".checked"), "w").write("1")
def num_peers(other):
    try:
        return int(open(os.path.join(d, other + ".peers")).read())
    except (OSError, ValueError):
        return -1
after = cfg.get("after", [])
while time.time() - t0 < cfg["timeout"] and any(num_peers(o) < len(after) - 1 for o in after):
    time.sleep(0.02)
port_file = os.path.join(d, name + ".port")
open(port_file + ".tmp", "w").write(str(s.listen_port()))
os.replace(port_file + ".tmp", port_file)
connected = {}
max_pieces_in_flight = 0
t0 = time.time()
while time.time() - t0 < cfg["timeout"] and not os.path.exists(os.path.join(d, "stop")):
    for f in os.listdir(d):
        if f.endswith(".port") and f != name + ".port":
            # (re)connect every few seconds: a refused or dropped
            # connection is tried again
            if time.time() - connected.get(f, -99) > 3:
                try:
                    port = int(open(os.path.join(d, f)).read())
                except ValueError:
                    continue
                h.connect_peer(("127.0.0.1", port))
                connected[f] = time.time()
    st = h.status()
    peers_file = os.path.join(d, name + ".peers")
    open(peers_file + ".tmp", "w").write(str(st.num_peers))
    os.replace(peers_file + ".tmp", peers_file)
    if st.is_seeding and not os.path.exists(os.path.join(d, name + ".done")):
        open(os.path.join(d, name + ".done"), "w").write("1")
    max_pieces_in_flight = max(max_pieces_in_flight, len(h.get_download_queue()))
    time.sleep(0.05)
st = h.status()
peers = [[p.ip[1], p.total_download, p.total_upload] for p in h.get_peer_info()]
print(json.dumps({"first": first, "peers": peers, "port": s.listen_port(), "seeding": st.is_seeding, "num_pieces": st.num_pieces,
                  "uploaded": st.total_payload_upload, "downloaded": st.total_payload_download,
                  "super_seeding": st.super_seeding, "share_mode": st.share_mode,
                  "state": str(st.state).split(".")[-1],
                  "max_in_flight": max_pieces_in_flight}), flush=True)
os._exit(0)
"""


def make_torrent(tmp_path, size, piece_len):
    """A single-file torrent made with our module (in this interpreter)."""
    import libtorrent as lt
    src = tmp_path / "src"
    src.mkdir()
    content = os.urandom(size)
    (src / "f.bin").write_bytes(content)
    fs = lt.file_storage()
    fs.add_file("f.bin", size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ct = lt.create_torrent(fs, piece_len)
    lt.set_piece_hashes(ct, str(src))
    path = tmp_path / "t.torrent"
    path.write_bytes(lt.bencode(ct.generate()))
    return path, src, hashlib.sha1(content).hexdigest()


def run_swarm(tmp_path, torrent, nodes, leechers, timeout=90):
    """Starts `nodes` (name -> (impl, cfg)); waits until every leecher in
    `leechers` is done; stops all and returns name -> summary."""
    d = tmp_path / "swarm"
    d.mkdir()
    procs = {}
    try:
        for name, (impl, cfg) in nodes.items():
            c = dict(cfg, dir=str(d), name=name, torrent=str(torrent), timeout=timeout)
            procs[name] = subprocess.Popen([PY[impl], "-c", textwrap.dedent(NODE), json.dumps(c)],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # the seed first, so leechers find it checked
            if name == "seed":
                deadline = time.time() + 30
                while not (d / "seed.checked").exists():
                    assert time.time() < deadline, "seed never listened"
                    assert procs[name].poll() is None, procs[name].stderr.read().decode()
                    time.sleep(0.05)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all((d / (n + ".done")).exists() for n in leechers):
                break
            time.sleep(0.1)
        (d / "stop").write_text("1")
        out = {}
        for name, p in procs.items():
            so, se = p.communicate(timeout=30)
            assert p.returncode == 0, (name, se.decode()[-2000:])
            out[name] = json.loads(so.decode().strip().splitlines()[-1])
        return out
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def file_sha1(path):
    return hashlib.sha1(path.read_bytes()).hexdigest()


SUPER = 256
SHARE = 4


@pytest.mark.parametrize("seed_impl,leech_impls", [
    ("ours", ["ours", "ours", "ref", "ref"]),
    ("ref", ["ours", "ours", "ours"]),
])
def test_super_seed_swarm(tmp_path, seed_impl, leech_impls):
    """A super seed and several leechers: every leecher ends byte-identical
    and the seed uploaded not much more than one copy (the leechers pass
    the pieces on). The seed joins once the leechers are connected to each
    other: a leecher alone with a super seed is shown piece after piece and
    takes a whole copy from it, as it would from the reference, so leechers
    starting one after another would measure their start-up times."""
    size = 64 * 1024 * 24
    torrent, src, sha = make_torrent(tmp_path, size, 64 * 1024)
    leechers = ["leech%d" % i for i in range(len(leech_impls))]
    nodes = {"seed": (seed_impl, {"save": str(src), "flags": SUPER, "after": leechers})}
    for name, impl in zip(leechers, leech_impls):
        nodes[name] = (impl, {"save": str(tmp_path / name)})
    out = run_swarm(tmp_path, torrent, nodes, leechers)
    seed = out["seed"]
    assert seed["first"]["super_seeding"] and seed["super_seeding"], seed
    for name in leechers:
        assert out[name]["seeding"], (name, out)
        assert file_sha1(tmp_path / name / "f.bin") == sha, name
    assert seed["uploaded"] >= size
    print("super seed uploaded %.2f copies" % (seed["uploaded"] / size))
    # Each piece leaves the seed about once (measured: ours 1.11-1.22
    # copies, also beside two busy loops; the reference 1.03-1.11); a plain
    # seed in the same swarm uploads about 2.9.
    assert seed["uploaded"] < 1.6 * size, out


def test_upload_to_a_utp_peer_counts_in_the_totals(tmp_path):
    """The reference connects over uTP first: what our seed sends it counts
    in total_payload_upload like TCP traffic (the share-ratio rules above
    depend on it)."""
    size = 64 * 1024 * 8
    torrent, src, sha = make_torrent(tmp_path, size, 64 * 1024)
    nodes = {"seed": ("ours", {"save": str(src)}),
             "leech0": ("ref", {"save": str(tmp_path / "leech0")})}
    out = run_swarm(tmp_path, torrent, nodes, ["leech0"])
    assert file_sha1(tmp_path / "leech0" / "f.bin") == sha
    assert size <= out["seed"]["uploaded"] < 1.2 * size, out


@pytest.mark.parametrize("share_impl,target", [("ours", 3), ("ref", 3), ("ours", 10), ("ref", 10)])
def test_share_mode_swarm(tmp_path, share_impl, target):
    """A share-mode torrent joining a rate-limited seed and three leechers
    downloads pieces one at a time, only after uploading `share_mode_target`
    times what it has, and never completes the torrent. With a target no
    swarm of five can reach, it downloads nothing."""
    piece = 16 * 1024
    size = piece * 64
    torrent, src, sha = make_torrent(tmp_path, size, piece)
    nodes = {
        # the limit must hold for loopback peers too (by default they are
        # in the local peer class, which the global limit leaves alone)
        "seed": ("ours", {"save": str(src), "settings": {"upload_rate_limit": 96 * 1024,
                                                        "ignore_limits_on_local_network": False}}),
        "share": (share_impl, {"save": str(tmp_path / "share"), "flags": SHARE,
                               "settings": {"share_mode_target": target}}),
    }
    leechers = []
    for i, impl in enumerate(["ours", "ref", "ours"]):
        name = "leech%d" % i
        leechers.append(name)
        nodes[name] = (impl, {"save": str(tmp_path / name)})
    out = run_swarm(tmp_path, torrent, nodes, leechers)
    for name in leechers:
        assert out[name]["seeding"], (name, out)
        assert file_sha1(tmp_path / name / "f.bin") == sha, name
    share = out["share"]
    assert share["share_mode"] and share["first"]["state"] == "finished", share
    assert not share["seeding"], share
    if target > 4:
        assert share["num_pieces"] == 0 and share["downloaded"] == 0, share
        return
    # measured: ours 6 pieces down / 17 up, the reference 1 down / 3 up
    if share_impl == "ref" and share["num_pieces"] == 0:
        # (the reference's share mode fetched nothing before the swarm
        # finished once in CI; it is the oracle here, ours is what is tested)
        pytest.skip(f"the reference's share mode fetched no piece this run: {share}")
    assert 0 < share["num_pieces"] < 64, share
    assert share["uploaded"] > 0, share
    # a piece is only fetched once `target` times what it has went out
    assert share["uploaded"] >= (share["num_pieces"] - 1) * target * piece, share
    # one piece at a time (no more in flight than 5% of those it has)
    assert share["max_in_flight"] <= 1 + share["num_pieces"] // 20, share


API = """
import json, os, time, tempfile, warnings, libtorrent as lt
warnings.simplefilter("ignore")
d = tempfile.mkdtemp()
def mk(name, pieces=10):
    os.makedirs(d + "/src", exist_ok=True)
    data = bytes((i * 7 + len(name)) % 251 for i in range(16384 * pieces))
    open(d + "/src/" + name, "wb").write(data)
    fs = lt.file_storage(); fs.add_file(name, len(data))
    ct = lt.create_torrent(fs, 16384); lt.set_piece_hashes(ct, d + "/src")
    return lt.torrent_info(ct.generate())
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
def settle(h):
    t = time.time()
    while time.time() - t < 10 and str(h.status().state).split(".")[-1] in (
            "checking_files", "checking_resume_data"):
        time.sleep(0.02)
    time.sleep(0.3)
out = {}
p = lt.add_torrent_params(); p.ti = mk("a"); p.save_path = d + "/src"
p.flags |= lt.torrent_flags.super_seeding
a = s.add_torrent(p); settle(a)
out["seed"] = [a.flags() & 256, a.status().super_seeding, a.super_seeding(),
               str(a.status().state).split(".")[-1]]
a.super_seeding(False)
out["seed_off"] = [a.flags() & 256, a.status().super_seeding, a.super_seeding()]
a.set_flags(lt.torrent_flags.super_seeding)
out["seed_on"] = [a.flags() & 256, a.status().super_seeding]
p = lt.add_torrent_params(); p.ti = mk("b"); p.save_path = d + "/empty"
p.flags |= lt.torrent_flags.super_seeding
b = s.add_torrent(p); settle(b)
out["leech"] = [b.flags() & 256, b.status().super_seeding, b.super_seeding()]
b.super_seeding(True)
out["leech_set"] = [b.flags() & 256, b.status().super_seeding]
b.force_recheck(); settle(b)
out["leech_recheck"] = [b.flags() & 256]
p = lt.add_torrent_params(); p.ti = mk("c"); p.save_path = d + "/sm"
p.flags |= lt.torrent_flags.share_mode
c = s.add_torrent(p); settle(c)
st = c.status()
out["share"] = [st.share_mode, c.flags() & 4, str(st.state).split(".")[-1], st.is_finished,
                st.is_seeding, c.get_piece_priorities(), c.get_file_priorities(), st.total_wanted,
                st.progress, st.progress_ppm]
c.set_share_mode(False); time.sleep(0.3); st = c.status()
out["share_off"] = [st.share_mode, c.get_piece_priorities(), str(st.state).split(".")[-1]]
p = lt.add_torrent_params(); p.ti = mk("f"); p.save_path = d + "/src"
p.flags |= lt.torrent_flags.share_mode
f = s.add_torrent(p); settle(f); st = f.status()
out["share_seed"] = [st.share_mode, str(st.state).split(".")[-1], st.is_seeding,
                     f.get_piece_priorities(), f.get_file_priorities(), st.progress]
p = lt.add_torrent_params(); p.ti = mk("e"); p.save_path = d + "/e"
e = s.add_torrent(p); settle(e)
e.set_share_mode(True); time.sleep(0.5); st = e.status()
out["share_runtime"] = [st.share_mode, e.get_piece_priorities(), e.get_file_priorities(),
                        str(st.state).split(".")[-1], st.total_wanted]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    e.super_seeding(); e.set_share_mode(True)
    out["warnings"] = [(x.category.__name__, str(x.message)) for x in w]
print(json.dumps(out))
"""


def test_flags_and_handle_api_match_reference(ref, ours):
    assert ours(API) == ref(API)
