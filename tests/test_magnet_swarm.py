"""Magnet links (BEP 9 metadata exchange) and peer exchange (BEP 11) over
loopback, between our module and the reference, data verified byte for
byte. Also: oversized metadata, metadata that does not hash to the
info-hash (from a scripted fake peer), and PEX spreading peers."""
import hashlib
import json
import os
import socket
import struct
import subprocess
import textwrap
import threading
import time

import pytest

from ltdiff import PY, digest, ref_make_torrent
from test_transfer import SEED

HERE = os.path.dirname(os.path.abspath(__file__))
LT_PEER = os.path.join(HERE, "peers", "lt_peer.py")

MAGNET_LEECH = """
import json, os, sys, time, libtorrent as lt
uri, save, port, opts = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
cat = lt.alert.category_t
s = lt.session(dict({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                     "enable_upnp": False, "enable_natpmp": False,
                     "alert_mask": cat.status_notification | cat.error_notification
                     | cat.storage_notification},
                    **opts.get("settings", {})))
atp = lt.parse_magnet_uri(uri)
atp.save_path = save
h = s.add_torrent(atp)
st = h.status()
first = {"state": str(st.state), "has_metadata": st.has_metadata,
         "torrent_file": h.torrent_file() is not None, "name": st.name}
h.connect_peer(("127.0.0.1", port))
alerts = []
t = time.time()
while time.time() - t < opts.get("wait", 30):
    for a in s.pop_alerts():
        if a.what() == "metadata_received":
            alerts.append(["metadata_received", 0])
        elif a.what() == "metadata_failed":
            alerts.append(["metadata_failed", a.error.value()])
        elif a.what() == "torrent_error":
            alerts.append(["torrent_error", a.error.value()])
    st = h.status()
    if st.is_seeding:
        break
    if opts.get("stop_on_failure") and any(x[0] in ("metadata_failed", "torrent_error")
                                           for x in alerts):
        break
    time.sleep(0.05)
if st.is_seeding:
    # the last blocks may still be on their way to disk: flush before exiting
    h.save_resume_data(lt.torrent_handle.flush_disk_cache)
    t = time.time()
    while time.time() - t < 10:
        if any(a.what().startswith("save_resume_data") for a in s.pop_alerts()):
            break
        time.sleep(0.05)
ti = h.torrent_file()
print(json.dumps({"first": first, "seeding": st.is_seeding, "state": str(st.state),
                  "has_metadata": st.has_metadata, "alerts": alerts,
                  "ti_name": ti.name() if ti is not None else None,
                  "ti_pieces": ti.num_pieces() if ti is not None else 0}), flush=True)
# the reference may still hold written blocks in memory: its session's
# destructor writes them out (an interpreter exit may not run it)
del ti, h, s
os._exit(0)
"""


V2_ONLY = 32  # create_torrent.v2_only


def make_torrent(d, flags, piece_size, private=False):
    return ref_make_torrent(d, {"a.bin": hashlib.sha256(b"a").digest() * 40000,
                                "b.bin": hashlib.sha256(b"b").digest() * 21111},
                            piece_size, flags=flags, private=private)


@pytest.fixture(scope="module")
def v1_torrent(tmp_path_factory):
    d = tmp_path_factory.mktemp("magnet_v1")
    return d, make_torrent(d, 64, 16384)  # v1_only, 16 KiB pieces: a 3-piece info dict


@pytest.fixture(scope="module")
def hybrid_torrent(tmp_path_factory):
    d = tmp_path_factory.mktemp("magnet_hybrid")
    return d, make_torrent(d, 0, 65536)


def start_seed(kind, torrent_dir, tmp_path, settings=None):
    port_file = tmp_path / "port"
    seed = subprocess.Popen(
        [PY[kind], "-c", textwrap.dedent(SEED), str(torrent_dir / "t.torrent"),
         str(torrent_dir / "seed"), str(port_file), json.dumps(settings or {})],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if time.monotonic() > deadline:
            seed.kill()
            pytest.fail("seeder did not start")
        time.sleep(0.05)
    return seed, int(port_file.read_text())


def run_magnet_leech(kind, uri, save, port, opts):
    out = subprocess.run([PY[kind], "-c", textwrap.dedent(MAGNET_LEECH), uri, str(save), str(port),
                          json.dumps(opts)], capture_output=True, text=True, timeout=90)
    assert out.stdout.strip(), out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.mark.parametrize("seeder,leecher,which", [
    ("ref", "ours", "v1"),      # we fetch the metadata from the reference
    ("ours", "ref", "v1"),      # the reference fetches it from us
    ("ours", "ours", "v1"),
    ("ref", "ours", "hybrid"),  # a magnet with both btih and btmh
])
def test_magnet_download(v1_torrent, hybrid_torrent, tmp_path, seeder, leecher, which):
    d, info = v1_torrent if which == "v1" else hybrid_torrent
    if which == "hybrid":
        assert "xt=urn:btmh:" in info["uri"] and "xt=urn:btih:" in info["uri"]
    seed, port = start_seed(seeder, d, tmp_path)
    try:
        r, err = run_magnet_leech(leecher, info["uri"], tmp_path / "dl", port, {})
    finally:
        seed.kill()
        seed.wait(10)
    assert r["first"] == {"state": "downloading_metadata", "has_metadata": False,
                          "torrent_file": False, "name": "payload"}, r
    assert r["seeding"], (r, err[-2000:])
    assert r["has_metadata"] and r["ti_name"] == "payload" and r["ti_pieces"] > 0
    assert ["metadata_received", 0] in r["alerts"]
    assert digest(tmp_path / "dl") == digest(d / "seed")


def test_oversized_metadata_is_refused(v1_torrent, tmp_path):
    d, info = v1_torrent
    assert info["info_size"] > 2048
    seed, port = start_seed("ref", d, tmp_path)
    try:
        r, err = run_magnet_leech("ours", info["uri"], tmp_path / "dl", port,
                                  {"settings": {"max_metadata_size": 2048}, "wait": 10,
                                   "stop_on_failure": True})
    finally:
        seed.kill()
        seed.wait(10)
    assert r["alerts"] and r["alerts"][0] == ["metadata_failed", 100], r  # metadata_too_large
    assert not r["has_metadata"] and r["state"] == "downloading_metadata"
    assert not (tmp_path / "dl").exists() or digest(tmp_path / "dl") == {}


# ---------------------------------------------------------------------------
# A scripted peer that serves metadata not matching the info-hash.

def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, str):
        return bencode(x.encode())
    if isinstance(x, dict):
        return b"d" + b"".join(bencode(k) + bencode(x[k]) for k in sorted(x)) + b"e"
    raise TypeError(x)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


class FakeSeed(threading.Thread):
    """Answers ut_metadata requests with `metadata` (claiming `size`)."""

    def __init__(self, metadata, size=None):
        super().__init__(daemon=True)
        self.metadata = metadata
        self.size = size if size is not None else len(metadata)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.closed_by_peer = False

    def run(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(20)
        try:
            hs = recv_exact(c, 68)
            reserved = bytearray(8)
            reserved[5] |= 0x10
            c.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + hs[28:48] + b"-FK0001-" + b"x" * 12)
            ext = bencode({"m": {"ut_metadata": 3}, "metadata_size": self.size})
            c.sendall(struct.pack(">IBB", len(ext) + 2, 20, 0) + ext)
            their_id = None
            while True:
                (n,) = struct.unpack(">I", recv_exact(c, 4))
                if n == 0:
                    continue
                body = recv_exact(c, n)
                if body[0] != 20:
                    continue
                if body[1] == 0:
                    their_id = 2 if b"11:ut_metadatai2e" in body else None
                    continue
                if body[1] != 3:  # our ut_metadata id, as announced above
                    continue
                msg = body[2:]
                piece = int(msg.split(b"5:piecei", 1)[1].split(b"e", 1)[0])
                self.requests.append(piece)
                data = self.metadata[piece * 16384:(piece + 1) * 16384]
                hdr = bencode({"msg_type": 1, "piece": piece, "total_size": self.size})
                assert their_id == 2
                c.sendall(struct.pack(">IBB", len(hdr) + len(data) + 2, 20, their_id) + hdr + data)
        except (ConnectionError, socket.timeout, OSError):
            self.closed_by_peer = True
        finally:
            c.close()
            self.sock.close()


FAKE_LEECH = """
import json, os, sys, time, libtorrent as lt
ih, port = sys.argv[1], int(sys.argv[2])
cat = lt.alert.category_t
# plaintext only: the scripted peer speaks no MSE
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False,
                "out_enc_policy": int(lt.enc_policy.pe_disabled),
                "alert_mask": cat.status_notification | cat.error_notification
                | cat.connect_notification})
atp = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + ih)
atp.save_path = sys.argv[3]
h = s.add_torrent(atp)
h.connect_peer(("127.0.0.1", port))
out = {"failed": [], "received": False, "disconnect": []}
t = time.time()
while time.time() - t < 15 and not out["failed"]:
    for a in s.pop_alerts():
        if a.what() == "metadata_failed":
            out["failed"].append(a.error.value())
        elif a.what() == "metadata_received":
            out["received"] = True
    time.sleep(0.05)
time.sleep(0.5)
for a in s.pop_alerts():
    if a.what() == "peer_disconnected":
        out["disconnect"].append(a.error.value())
st = h.status()
out["state"] = str(st.state)
out["has_metadata"] = st.has_metadata
print(json.dumps(out), flush=True)
os._exit(0)
"""


def test_metadata_with_wrong_hash_is_rejected(tmp_path):
    # an info dict of two 16 KiB pieces that is not the one the magnet names
    info = bencode({"length": 5, "name": "x", "piece length": 16384,
                    "pieces": b"\x01" * 20 * 900})
    assert len(info) > 16384
    wanted = hashlib.sha1(b"something else").hexdigest()
    fake = FakeSeed(info)
    fake.start()
    out = subprocess.run([PY["ours"], "-c", textwrap.dedent(FAKE_LEECH), wanted, str(fake.port),
                          str(tmp_path / "dl")], capture_output=True, text=True, timeout=60)
    fake.join(20)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["failed"] == [30], r                     # mismatching info-hash
    assert not r["received"] and not r["has_metadata"]
    assert r["state"] == "downloading_metadata"
    assert sorted(fake.requests) == [0, 1]
    assert fake.closed_by_peer                         # we dropped the liar


def test_metadata_larger_than_announced_piece_is_rejected(tmp_path):
    # the peer announces 20 bytes but sends a full piece: a protocol error
    info = bencode({"length": 5, "name": "x", "piece length": 16384, "pieces": b"\x01" * 20})
    fake = FakeSeed(info + b"garbage" * 10, size=len(info))
    fake.metadata = info + b"garbage" * 10
    fake.start()
    wanted = hashlib.sha1(info).hexdigest()
    out = subprocess.run([PY["ours"], "-c", textwrap.dedent(FAKE_LEECH), wanted, str(fake.port),
                          str(tmp_path / "dl")], capture_output=True, text=True, timeout=60)
    fake.join(20)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert not r["received"] and not r["has_metadata"], r
    assert fake.requests == [0] and fake.closed_by_peer


# ---------------------------------------------------------------------------
# Peer exchange

PEX_PEER = """
import json, os, select, sys, time, libtorrent as lt
tor, save, port, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
wait = float(sys.argv[5]) if len(sys.argv) > 5 else 30
# TCP only: the reference's first uTP attempt to our listener stalls for
# ~10 s before it falls back (a uTP issue outside this test's subject).
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False,
                "enable_outgoing_utp": False, "enable_incoming_utp": False,
                "allow_multiple_connections_per_ip": True})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(tor); atp.save_path = save
h = s.add_torrent(atp)
h.connect_peer(("127.0.0.1", port))
print(json.dumps({"port": s.listen_port()}), flush=True)
seen = {}
t = time.time()
while time.time() - t < wait:
    for p in h.get_peer_info():
        seen[p.ip[1]] = max(seen.get(p.ip[1], 0), p.source)
    if want and all(w in seen for w in want):
        break
    if not want and select.select([sys.stdin], [], [], 0)[0]:
        break
    time.sleep(0.1)
print(json.dumps({"seen": seen, "pex": int(lt.peer_info.pex)}), flush=True)
os._exit(0)
"""


def pex_swarm(d, tmp_path, hub, newcomer, wait=30):
    """A and B (reference leechers) join the hub, then a newcomer that knows
    only the hub looks for A and B. The hub uploads slowly so that nobody
    completes (and drops its peers) early. Returns the newcomer's peers
    (port -> source flags), the pex flag, the hub's and A/B's ports."""
    hub_p, hub_port = start_seed(hub, d, tmp_path, {
        "upload_rate_limit": 4000, "ignore_limits_on_local_network": False,
        "allow_multiple_connections_per_ip": True})
    procs = [hub_p]
    tor = str(d / "t.torrent")
    try:
        ports = []
        for name in ("a", "b"):
            p = subprocess.Popen([PY["ref"], "-c", textwrap.dedent(PEX_PEER), tor,
                                  str(tmp_path / name), str(hub_port), "[]"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            procs.append(p)
            ports.append(json.loads(p.stdout.readline())["port"])
        time.sleep(3)  # A and B connect to the hub and hear of each other
        out = subprocess.run([PY[newcomer], "-c", textwrap.dedent(PEX_PEER), tor,
                              str(tmp_path / "new"), str(hub_port), json.dumps(ports), str(wait)],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip(), out.stderr[-3000:]
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        for p in procs:
            p.kill()
            p.wait(10)
    return {int(k): v for k, v in r["seen"].items()}, r["pex"], hub_port, ports


@pytest.mark.parametrize("hub,newcomer", [("ours", "ref"), ("ref", "ours"), ("ours", "ours")])
def test_pex_spreads_peers(v1_torrent, tmp_path, hub, newcomer):
    """The newcomer learns A and B through ut_pex and connects to them."""
    seen, pex, hub_port, ports = pex_swarm(v1_torrent[0], tmp_path, hub, newcomer)
    r = {"seen": seen, "pex": pex}
    assert hub_port in seen, r
    for port in ports:
        assert port in seen, r
        assert seen[port] & r["pex"], r    # learnt through peer exchange
    assert not seen[hub_port] & r["pex"]


ADD_FORMS = """
import json, warnings, libtorrent as lt
warnings.simplefilter("ignore")
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
out = {}
uri = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=hello"
atp = lt.parse_magnet_uri(uri)
atp.save_path = "/nonexistent-magnet-test"
def desc(h):
    st = h.status()
    return [str(st.state), st.has_metadata, st.name, str(h.info_hash()), h.torrent_file() is None,
            st.progress, st.num_pieces, st.total_wanted, len(st.pieces), st.is_seeding, st.is_finished]
out["atp"] = desc(s.add_torrent(atp))
out["url"] = desc(s.add_torrent({"url": "magnet:?xt=urn:btih:" + "cd" * 20,
                                  "save_path": "/nonexistent-magnet-test"}))
out["add_magnet_uri"] = desc(lt.add_magnet_uri(s, "magnet:?xt=urn:btih:" + "ef" * 20 + "&dn=x",
                                               {"save_path": "/nonexistent-magnet-test"}))
d = lt.parse_magnet_uri_dict("magnet:?xt=urn:btih:" + "12" * 20)
d["save_path"] = "/nonexistent-magnet-test"
out["parse_dict"] = desc(s.add_torrent(d))
try:
    a = lt.add_torrent_params(); a.save_path = "/nonexistent-magnet-test"
    s.add_torrent(a)
    out["empty"] = "added"
except Exception as e:
    out["empty"] = [type(e).__name__, str(e)]
out["dup"] = str(s.add_torrent(atp).info_hash())
out["count"] = len(s.get_torrents())
print(json.dumps(out))
"""


def test_adding_magnets_matches_reference(ref, ours):
    r, o = ref(ADD_FORMS), ours(ADD_FORMS)
    assert o == r
    assert r["atp"][:5] == ["downloading_metadata", False, "hello", "ab" * 20, True]


@pytest.fixture(scope="module")
def private_torrent(tmp_path_factory):
    d = tmp_path_factory.mktemp("magnet_private")
    return d, make_torrent(d, 64, 16384, private=True)


def test_private_torrent_has_no_pex(private_torrent, tmp_path):
    """BEP 27: our hub sends no peer exchange for a private torrent, so the
    newcomer meets nobody but the hub."""
    seen, pex, hub_port, ports = pex_swarm(private_torrent[0], tmp_path, "ours", "ref", wait=8)
    assert hub_port in seen, seen
    assert not any(p in seen for p in ports), seen
    assert not any(v & pex for v in seen.values()), seen


def test_private_torrent_metadata_is_not_served(private_torrent, tmp_path):
    d, info = private_torrent
    seed, port = start_seed("ours", d, tmp_path)
    try:
        r, err = run_magnet_leech("ref", info["uri"], tmp_path / "dl", port, {"wait": 6})
    finally:
        seed.kill()
        seed.wait(10)
    assert not r["has_metadata"] and r["state"] == "downloading_metadata", r


SET_METADATA = """
import json, sys, time, libtorrent as lt
data = open(sys.argv[1], "rb").read()
info = lt.bencode(lt.bdecode(data)[b"info"])
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False,
                "alert_mask": lt.alert.category_t.status_notification
                | lt.alert.category_t.error_notification})
atp = lt.parse_magnet_uri(lt.make_magnet_uri(lt.torrent_info(data)))
atp.save_path = sys.argv[2]
h = s.add_torrent(atp)
out = {"garbage": h.set_metadata(b"d4:name1:xe")}
time.sleep(0.3)
out["after_garbage"] = h.status().has_metadata
out["ok"] = h.set_metadata(info)
t = time.time()
while not h.status().is_seeding and time.time() - t < 10:
    time.sleep(0.05)
st = h.status()
names = [a.what() for a in s.pop_alerts()]
out["alerts"] = sorted(set(n for n in names if n.startswith("metadata")))
out["failed_error"] = None
out["state"] = str(st.state)
out["has_metadata"] = st.has_metadata
out["name"] = h.torrent_file().name()
out["pieces"] = h.torrent_file().num_pieces()
print(json.dumps(out))
"""


def test_set_metadata_matches_reference(v1_torrent, tmp_path, ref, ours):
    """set_metadata() on a magnet: a dictionary with the wrong hash posts
    metadata_failed; the right one makes the torrent check its files (the
    seed's own directory, so it becomes a seed)."""
    d, _ = v1_torrent
    code = SET_METADATA.replace("sys.argv[1]", repr(str(d / "t.torrent"))).replace(
        "sys.argv[2]", repr(str(d / "seed")))
    r, o = ref(code), ours(code)
    assert o == r
    assert r["has_metadata"] and r["state"] == "seeding" and r["name"] == "payload"
    assert "metadata_failed" in r["alerts"]
