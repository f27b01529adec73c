"""SSL torrents (a root certificate in the info dictionary, peers
authenticated by certificates signed by it, TLS on the SSL listen socket):
transfers between our module and the reference in both directions and
between two of ours, refusal of certificates from another root, and
torrent_need_cert_alert. Certificates are made with the openssl CLI; data
is verified byte for byte."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import libtorrent as lt
from ltdiff import REF_PY

COMMON = """
import json, os, sys, time, libtorrent as lt
args = json.loads(sys.argv[1])
s = lt.session({"listen_interfaces": "127.0.0.1:0,127.0.0.1:0s", "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "alert_mask": lt.alert.category_t.status_notification
                              | lt.alert.category_t.error_notification
                              | lt.alert.category_t.connect_notification})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(args["torrent"])
atp.save_path = args["save"]
h = s.add_torrent(atp)
need_cert = 0
def drain():
    global need_cert
    for a in s.pop_alerts():
        if a.what() == "torrent_need_cert":
            need_cert += 1
# the torrent asks for a certificate before it is given one
t = time.time()
while need_cert == 0 and time.time() - t < 10:
    drain(); time.sleep(0.02)
if args["mode"] == "file":
    h.set_ssl_certificate(args["cert"], args["key"], "")
else:
    h.set_ssl_certificate_buffer(open(args["cert"]).read(), open(args["key"]).read(), "")
"""

SEED = COMMON + """
t = time.time()
while not h.status().is_seeding and time.time() - t < 20:
    time.sleep(0.02)
port = s.ssl_listen_port()
open(args["port_file"] + ".tmp", "w").write(str(port))
os.replace(args["port_file"] + ".tmp", args["port_file"])
sys.stdin.read()   # serve until the test closes stdin
drain()
print(json.dumps({"need_cert": need_cert, "ssl_port": port}), flush=True)
os._exit(0)
"""

LEECH = COMMON + """
h.connect_peer(("127.0.0.1", args["port"]))
t = time.time()
while not h.status().is_seeding and time.time() - t < args["timeout"]:
    drain(); time.sleep(0.05)
drain()
print(json.dumps({"seeding": h.status().is_seeding, "need_cert": need_cert,
                  "done": h.status().total_wanted_done}), flush=True)
os._exit(0)
"""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A root, two peer certificates it signs (CN `*`), and a peer
    certificate from another root."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (d / "ext.cnf").write_text("basicConstraints=CA:FALSE\n")
    for ca in ("root", "rogue"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "30",
                "-subj", f"/CN={ca}", cwd=d)
    for name, ca in (("a", "root"), ("b", "root"), ("r", "rogue")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=*",
                cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "30", "-extfile", "ext.cnf",
                cwd=d)
    return d


@pytest.fixture(scope="module")
def ssl_torrent(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("ssl-torrent")
    src = d / "seed"
    src.mkdir()
    data = os.urandom(700_000)
    (src / "payload.bin").write_bytes(data)
    fs = lt.file_storage()
    fs.add_file("payload.bin", len(data))
    ct = lt.create_torrent(fs, 32768)
    ct.set_root_cert((pki / "root.pem").read_text())
    lt.set_piece_hashes(ct, str(src))
    (d / "t.torrent").write_bytes(lt.bencode(ct.generate()))
    ti = lt.torrent_info(str(d / "t.torrent"))
    assert ti.ssl_cert() == (pki / "root.pem").read_text()
    return d, data


PYTHONS = {"ours": sys.executable, "ref": str(REF_PY)}


def run_pair(tmp_path, pki, ssl_torrent, seeder, leecher, leech_cert="b", timeout=30):
    d, data = ssl_torrent
    port_file = tmp_path / "port"
    seed_args = {"torrent": str(d / "t.torrent"), "save": str(d / "seed"),
                 "cert": str(pki / "a.pem"), "key": str(pki / "a.key"), "mode": "file",
                 "port_file": str(port_file)}
    seed = subprocess.Popen([PYTHONS[seeder], "-c", textwrap.dedent(SEED), json.dumps(seed_args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            if port_file.exists() or seed.poll() is not None:
                break
            __import__("time").sleep(0.1)
        port = int(port_file.read_text())
        assert port != 0
        dl = tmp_path / "dl"
        leech_args = {"torrent": str(d / "t.torrent"), "save": str(dl),
                      "cert": str(pki / f"{leech_cert}.pem"), "key": str(pki / f"{leech_cert}.key"),
                      "mode": "buffer", "port": port, "timeout": timeout}
        p = subprocess.run([PYTHONS[leecher], "-c", textwrap.dedent(LEECH),
                            json.dumps(leech_args)],
                           capture_output=True, text=True, timeout=timeout + 60)
        assert p.returncode == 0, p.stderr
        leech = json.loads(p.stdout)
    finally:
        out, _ = seed.communicate(input="", timeout=30)
    seed_res = json.loads(out)
    return seed_res, leech, dl, data


@pytest.mark.parametrize("seeder,leecher", [("ours", "ours"), ("ref", "ours"), ("ours", "ref")])
def test_ssl_torrent_transfer(tmp_path, pki, ssl_torrent, seeder, leecher):
    seed, leech, dl, data = run_pair(tmp_path, pki, ssl_torrent, seeder, leecher)
    assert seed["need_cert"] == 1 and leech["need_cert"] == 1
    assert leech["seeding"], leech
    assert (dl / "payload.bin").read_bytes() == data


@pytest.mark.parametrize("seeder,leecher", [("ours", "ours"), ("ref", "ours"), ("ours", "ref")])
def test_certificate_from_another_root_is_refused(tmp_path, pki, ssl_torrent, seeder, leecher):
    seed, leech, dl, data = run_pair(tmp_path, pki, ssl_torrent, seeder, leecher,
                                     leech_cert="r", timeout=4)
    assert not leech["seeding"] and leech["done"] == 0, leech


NEED_CERT = """
import json, os, time, libtorrent as lt
d = os.environ["TDIR"]
s = lt.session({"listen_interfaces": "127.0.0.1:0,127.0.0.1:0s", "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "alert_mask": lt.alert.category_t.all_categories})
plain = lt.torrent_info({b"info": {b"name": b"plain", b"piece length": 16384,
                                    b"pieces": b"a" * 20, b"length": 10}})
ssl = lt.torrent_info(d + "/t.torrent")
hp = s.add_torrent({"ti": plain, "save_path": d + "/nowhere"})
hs = s.add_torrent({"ti": ssl, "save_path": d + "/nowhere"})
out = {"need": [], "errors": []}
t = time.time()
while time.time() - t < 1.5:
    for a in s.pop_alerts():
        if a.what() == "torrent_need_cert":
            out["need"].append([a.message()[7:], a.torrent_name, a.category(),
                                a.error.value(), a.handle == hs,
                                isinstance(a, lt.torrent_alert)])
    time.sleep(0.05)
# the file form on a torrent that is not an SSL torrent, and missing files
hp.set_ssl_certificate("/nonexistent.pem", "/nonexistent.key", "")
hp.set_ssl_certificate_buffer("x", "y", "")
hs.set_ssl_certificate("/nonexistent.pem", "/nonexistent.key", "")
t = time.time()
while time.time() - t < 1:
    for a in s.pop_alerts():
        if a.what() == "torrent_error":
            out["errors"].append([a.torrent_name, a.error.value(), a.error.category().name(),
                                  a.filename() if hasattr(a, "filename") else None])
    time.sleep(0.05)
out["ssl_port"] = s.ssl_listen_port() > 0
s2 = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False})
out["no_ssl_port"] = s2.ssl_listen_port()
for bad in (1, None):
    try:
        hs.set_ssl_certificate_buffer(bad, "k", "")
        out.setdefault("bad", []).append("no error")
    except TypeError as e:
        out.setdefault("bad", []).append(type(e).__name__)
try:
    lt.torrent_handle().set_ssl_certificate("a", "b", "c")
except RuntimeError as e:
    out["invalid"] = str(e)
print(json.dumps(out))
"""


def test_need_cert_alert_and_errors_match_reference(ref, ours, ssl_torrent):
    d, _ = ssl_torrent
    r = ref(NEED_CERT, TDIR=str(d))
    o = ours(NEED_CERT, TDIR=str(d))
    assert len(o["need"]) == 1 and o["need"][0][4] and o["need"][0][5]
    assert o == r


ANNOUNCE = """
import json, os, socket, threading, time, libtorrent as lt
d = os.environ["TDIR"]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
lines = []
def serve():
    while True:
        c, _ = srv.accept()
        lines.append(c.recv(4096).decode(errors="replace").split("\\r\\n")[0]); c.close()
threading.Thread(target=serve, daemon=True).start()
url = "http://127.0.0.1:%d/announce" % srv.getsockname()[1]
s = lt.session({"listen_interfaces": "127.0.0.1:0,127.0.0.1:0s", "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False})
out = {}
for kind in ("ssl", "plain"):
    if kind == "ssl":
        ti = lt.torrent_info(d + "/t.torrent")
    else:
        ti = lt.torrent_info({b"info": {b"name": b"plain", b"piece length": 16384,
                                         b"pieces": b"a" * 20, b"length": 10}})
    atp = lt.add_torrent_params(); atp.ti = ti; atp.save_path = d + "/nowhere"
    atp.trackers = [url]
    del lines[:]
    h = s.add_torrent(atp)
    t = time.time()
    while not lines and time.time() - t < 10:
        time.sleep(0.05)
    ports = {int(p.split("=")[1]) for p in lines[0].split("?", 1)[1].split(" ")[0].split("&")
             if p.startswith("port=")} if lines else set()
    out[kind] = ("ssl_port" if ports == {s.ssl_listen_port()} else
                 "listen_port" if ports == {s.listen_port()} else sorted(ports))
    s.remove_torrent(h)
print(json.dumps(out))
"""


def test_ssl_torrent_announces_the_ssl_port(ref, ours, ssl_torrent):
    d, _ = ssl_torrent
    o = ours(ANNOUNCE, TDIR=str(d))
    assert o == {"ssl": "ssl_port", "plain": "listen_port"}
    assert o == ref(ANNOUNCE, TDIR=str(d))
