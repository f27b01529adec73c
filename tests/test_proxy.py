"""Proxies (proxy_type, proxy_* settings) on both modules: downloads whose
peer connections all pass a loopback proxy (tests/proxy_server.py) so the
seeder sees only the proxy's connections; HTTP and UDP tracker announces,
web seeds and DHT traffic through it; refused logins, refused requests and
a dead proxy reported by the same alerts and error codes as the reference;
the deprecated proxy_settings API compared with the reference."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ltdiff import REF_PY, run_ours, run_ref
from webseed_server import WebSeedServer

PY = {"ours": sys.executable, "ref": str(REF_PY)}
TESTS = os.path.dirname(os.path.abspath(__file__))
TYPES = {"socks4": 1, "socks5": 2, "socks5_pw": 3, "http": 4, "http_pw": 5}

# Runs a downloading session behind a proxy started in the same process,
# with optional loopback HTTP/UDP trackers and a DHT node socket, and
# prints what happened as JSON.
CLIENT = r"""
import json, os, socket, struct, sys, threading, time, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
a = json.loads(sys.argv[1])
sys.path.insert(0, a["tests"])
from proxy_server import ProxyServer
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

px = a.get("proxy", {})
proxy = ProxyServer(username=px.get("username"), password=px.get("password"),
                    fail=px.get("fail"))
pport = proxy.start()
if px.get("down"):
    proxy.stop()

http_seen, udp_seen, dht_seen = [], [], []

class Tracker(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        http_seen.append(self.client_address[1])
        body = b"d8:intervali1800e5:peers0:e"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

trackers = []
if "http" in a.get("trackers", []):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Tracker)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    trackers.append("http://127.0.0.1:%d/announce" % httpd.server_address[1])

def udp_tracker(sock):
    while True:
        try:
            d, src = sock.recvfrom(2048)
        except OSError:
            return
        udp_seen.append(src[1])
        if len(d) >= 16 and struct.unpack(">I", d[8:12])[0] == 0:
            sock.sendto(struct.pack(">IIQ", 0, struct.unpack(">I", d[12:16])[0], 0x1234), src)
        elif len(d) >= 98 and struct.unpack(">I", d[8:12])[0] == 1:
            sock.sendto(struct.pack(">IIIII", 1, struct.unpack(">I", d[12:16])[0], 1800, 0, 1), src)

if "udp" in a.get("trackers", []):
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); us.bind(("127.0.0.1", 0))
    threading.Thread(target=udp_tracker, args=(us,), daemon=True).start()
    trackers.append("udp://127.0.0.1:%d/announce" % us.getsockname()[1])

settings = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "alert_mask": lt.alert.category_t.all_categories,
            "proxy_hostname": "127.0.0.1", "proxy_port": pport}
if a.get("dht"):
    ds = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); ds.bind(("127.0.0.1", 0))
    ds.settimeout(0.05)
    settings["enable_dht"] = True
    settings["dht_bootstrap_nodes"] = "127.0.0.1:%d" % ds.getsockname()[1]
settings.update(a.get("settings", {}))
s = lt.session(settings)
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(a["torrent"]); atp.save_path = a["save"]
atp.trackers = trackers
atp.url_seeds = a.get("url_seeds", [])
h = s.add_torrent(atp)
for p in a.get("peers", []):
    h.connect_peer(("127.0.0.1", p))
out = {"alerts": []}
stop = set(a.get("stop_on", []))
t = time.time()
done = False
while time.time() - t < a.get("limit", 30) and not done:
    if a.get("dht"):
        try:
            d, src = ds.recvfrom(2048)
            dht_seen.append(src[1])
        except socket.timeout:
            pass
    for al in s.pop_alerts():
        w = al.what()
        if w in ("peer_disconnected", "peer_error", "tracker_error", "tracker_reply", "socks5",
                 "url_seed"):
            e = {"what": w}
            if hasattr(al, "error"):
                e["error"] = [al.error.value(), al.error.category().name()]
            if hasattr(al, "op"):
                e["op"] = int(al.op)
            if w in ("tracker_error", "tracker_reply"):
                e["url"] = al.url
            if w == "socks5":
                e["ip"] = list(al.ip)
                e["message"] = al.message()
            out["alerts"].append(e)
            stop.discard(w)
            if a.get("stop_on") and not stop:
                done = True
    if a.get("until_seeding") and h.status().is_seeding:
        done = True
    if a.get("dht") and dht_seen:
        done = True
    time.sleep(0.05)
time.sleep(a.get("linger", 0))
out["seeding"] = h.status().is_seeding
out["proxy_log"] = proxy.log
out["proxy_port"] = pport
out["outbound_ports"] = proxy.outbound_ports
out["http_seen"] = http_seen
out["udp_seen"] = udp_seen
out["dht_seen"] = dht_seen
out["trackers"] = trackers
print(json.dumps(out), flush=True)
os._exit(0)
"""

# A seeder that prints its port, then on end of stdin the remote ports of
# every connection it saw.
SEEDER = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_incoming_utp": False,
                "enable_outgoing_utp": False,
                "alert_mask": lt.alert.category_t.all_categories})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(sys.argv[1]); atp.save_path = sys.argv[2]
h = s.add_torrent(atp)
t = time.time()
while not h.status().is_seeding and time.time() - t < 20:
    time.sleep(0.02)
print(s.listen_port(), flush=True)
seen = set()
import threading
stop = threading.Event()
def watch():
    while not stop.is_set():
        for al in s.pop_alerts():
            if al.what() == "incoming_connection":
                seen.add(al.endpoint[1])
        for p in h.get_peer_info():
            seen.add(p.ip[1])
        time.sleep(0.05)
th = threading.Thread(target=watch, daemon=True); th.start()
sys.stdin.read()
stop.set(); th.join(2)
print(json.dumps(sorted(seen)), flush=True)
os._exit(0)
"""


def run_client(impl, timeout=90, **args):
    args["tests"] = TESTS
    p = subprocess.run([PY[impl], "-c", CLIENT, json.dumps(args)],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


class Seeder:
    def __init__(self, impl, tor, root):
        self.p = subprocess.Popen([PY[impl], "-c", SEEDER, str(tor), str(root)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())

    def finish(self):
        """The remote ports of the connections it saw."""
        out, _ = self.p.communicate("", timeout=30)
        return json.loads(out.strip().splitlines()[-1])

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


@pytest.fixture(scope="module")
def torrent(tmp_path_factory):
    d = tmp_path_factory.mktemp("proxy")
    root = d / "seed"
    root.mkdir()
    (root / "payload.bin").write_bytes(os.urandom(300_000))
    code = f"""
import libtorrent as lt, warnings
warnings.simplefilter("ignore")
fs = lt.file_storage()
lt.add_files(fs, {str(root / 'payload.bin')!r})
ct = lt.create_torrent(fs, 32768)
lt.set_piece_hashes(ct, {str(root)!r})
open({str(d / 't.torrent')!r}, "wb").write(lt.bencode(ct.generate()))
"""
    subprocess.run([str(REF_PY), "-c", code], check=True, timeout=60)
    return d / "t.torrent", root


def proxy_settings(ptype, user="u", password="p"):
    s = {"proxy_type": TYPES[ptype]}
    if ptype.endswith("_pw"):
        s.update(proxy_username=user, proxy_password=password)
    return s


def of(r, what):
    return [a for a in r["alerts"] if a["what"] == what]


# ---------------------------------------------------------------- peers

@pytest.mark.parametrize("ptype", list(TYPES))
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_download_through_proxy(torrent, tmp_path, impl, ptype):
    tor, root = torrent
    seeder = Seeder(impl, tor, root)
    try:
        px = {"username": "u", "password": "p"} if ptype.endswith("_pw") else {}
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), peers=[seeder.port],
                       settings=proxy_settings(ptype), proxy=px, until_seeding=True)
        seen = seeder.finish()
    finally:
        seeder.kill()
    assert r["seeding"], r
    assert (tmp_path / "dl" / "payload.bin").read_bytes() == (root / "payload.bin").read_bytes()
    # the proxy was asked for the seeder, with the configured login
    to_seeder = [e for e in r["proxy_log"]
                 if e["target"] in (["127.0.0.1", seeder.port], "127.0.0.1:%d" % seeder.port)]
    assert to_seeder, r["proxy_log"]
    kind = {"socks4": "socks4", "http": "http", "http_pw": "http"}.get(ptype, "socks5")
    assert all(e["proto"] == kind and "refused" not in e for e in to_seeder), to_seeder
    if ptype.endswith("_pw"):
        assert all(e["auth"] == ["u", "p"] for e in to_seeder), to_seeder
    # the seeder saw connections only from the proxy's outbound sockets
    assert seen and set(seen) <= set(r["outbound_ports"]), (seen, r["outbound_ports"])


@pytest.mark.parametrize("ptype", ["socks5_pw", "http_pw"])
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_wrong_password_fails_without_direct_connection(torrent, tmp_path, impl, ptype):
    tor, root = torrent
    seeder = Seeder(impl, tor, root)
    try:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), peers=[seeder.port],
                       settings=proxy_settings(ptype, password="wrong"),
                       proxy={"username": "u", "password": "p"},
                       stop_on=["peer_disconnected"], limit=15, linger=0.5)
        seen = seeder.finish()
    finally:
        seeder.kill()
    assert not r["seeding"]
    assert seen == [], "a connection reached the seeder around the proxy"
    assert r["proxy_log"] and all("refused" in e for e in r["proxy_log"]), r["proxy_log"]
    disc = of(r, "peer_disconnected")
    assert disc, r["alerts"]
    if ptype == "socks5_pw":
        # SOCKS authentication error, reported as peer_error too
        assert disc[0]["error"] == [4, "socks"] and disc[0]["op"] == 16, disc
        assert of(r, "peer_error")[0]["error"] == [4, "socks"]
    else:
        # a refused CONNECT is "operation not supported"
        assert disc[0]["error"] == [95, "system"] and disc[0]["op"] == 16, disc


# the first peer_disconnected error of a connection the proxy refuses
# with this reply code
REFUSALS = [("socks5", 1), ("socks5", 2), ("socks5", 4), ("socks5", 5), ("socks5", 7),
            ("socks5", 8), ("socks4", 91), ("socks4", 92), ("socks4", 93), ("http", 403)]


@pytest.mark.parametrize("ptype,code", REFUSALS)
def test_refusal_codes_match_reference(torrent, tmp_path, ptype, code):
    tor, _ = torrent
    got = {}
    for impl in ("ours", "ref"):
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / impl), peers=[9],
                       settings=proxy_settings(ptype), proxy={"fail": code},
                       stop_on=["peer_disconnected"], limit=15)
        disc = of(r, "peer_disconnected")
        assert disc, (impl, r["alerts"])
        errs = of(r, "peer_error")
        got[impl] = (disc[0]["error"], disc[0]["op"], errs[0]["error"] if errs else None)
    assert got["ours"] == got["ref"], got


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_proxy_down(torrent, tmp_path, impl):
    tor, _ = torrent
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), peers=[9],
                   settings=proxy_settings("socks5"), proxy={"down": True},
                   trackers=["http"], stop_on=[], limit=4)
    disc = of(r, "peer_disconnected")
    assert disc and disc[0]["error"] == [111, "system"] and disc[0]["op"] == 16, r["alerts"]
    terr = of(r, "tracker_error")
    assert terr and all(e["error"] == [111, "system"] for e in terr), r["alerts"]
    assert r["http_seen"] == [], "the tracker was reached around the proxy"
    # the UDP association to the proxy failed: socks5_alert, op connect
    s5 = of(r, "socks5")
    assert s5 and s5[0]["error"] == [111, "system"] and s5[0]["op"] == 16, r["alerts"]
    assert s5[0]["ip"] == ["127.0.0.1", r["proxy_port"]]
    assert s5[0]["message"] == ("SOCKS5 error. op: connect ec: Connection refused ep: 127.0.0.1:%d"
                                % r["proxy_port"])


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_socks5_method_refused_posts_socks5_alert(torrent, tmp_path, impl):
    tor, _ = torrent
    # the proxy wants a password; none is configured
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), peers=[9],
                   settings=proxy_settings("socks5"), proxy={"username": "u", "password": "p"},
                   stop_on=["socks5", "peer_disconnected"], limit=8)
    s5 = of(r, "socks5")
    assert s5 and s5[0]["error"] == [2, "socks"] and s5[0]["op"] == 40, r["alerts"]
    disc = of(r, "peer_disconnected")
    assert disc and disc[0]["error"] == [2, "socks"], r["alerts"]


# ---------------------------------------------------------------- trackers

@pytest.mark.parametrize("ptype", ["socks5", "socks5_pw", "socks4", "http", "http_pw"])
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_http_tracker_through_proxy(torrent, tmp_path, impl, ptype):
    tor, _ = torrent
    px = {"username": "u", "password": "p"} if ptype.endswith("_pw") else {}
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                   settings=proxy_settings(ptype), proxy=px, trackers=["http"],
                   stop_on=["tracker_reply"], limit=15)
    assert of(r, "tracker_reply"), r["alerts"]
    # the tracker saw only the proxy's connections
    assert r["http_seen"] and set(r["http_seen"]) <= set(r["outbound_ports"]), r
    log = [e for e in r["proxy_log"] if "refused" not in e]
    if ptype.startswith("http"):
        # an HTTP proxy gets the announce as an absolute-URI GET
        assert log and all(e["cmd"] == "GET" and e["target"].startswith(r["trackers"][0] + "?")
                           for e in log), log
        if ptype == "http_pw":
            assert all(e["auth"] == ["u", "p"] for e in log)
    else:
        tunnels = [e for e in log if e["cmd"] != "udp_associate"]
        tracker_port = int(r["trackers"][0].rsplit(":", 1)[1].split("/")[0])
        assert tunnels and all(e["cmd"] in ("connect", 1)
                               and e["target"] == ["127.0.0.1", tracker_port]
                               for e in tunnels), log


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_udp_tracker_through_socks5(torrent, tmp_path, impl):
    tor, _ = torrent
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                   settings=proxy_settings("socks5_pw"), proxy={"username": "u", "password": "p"},
                   trackers=["udp"], stop_on=["tracker_reply"], limit=15)
    assert of(r, "tracker_reply"), r["alerts"]
    assoc = [e for e in r["proxy_log"] if e["cmd"] == "udp_associate"]
    port = int(r["trackers"][0].rsplit(":", 1)[1].split("/")[0])
    relayed = [d for e in assoc for d in e["datagrams"] if d[1] == port]
    assert relayed, r["proxy_log"]
    assert all(e["auth"] == ["u", "p"] for e in assoc)
    # the tracker saw only the relay's socket
    relay_ports = {e["relay_port"] for e in assoc}
    assert r["udp_seen"] and set(r["udp_seen"]) <= relay_ports, (r["udp_seen"], relay_ports)


@pytest.mark.parametrize("ptype", ["http", "socks4"])
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_udp_tracker_refused_by_non_udp_proxy(torrent, tmp_path, impl, ptype):
    tor, _ = torrent
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                   settings=proxy_settings(ptype), trackers=["udp"],
                   stop_on=["tracker_error"], limit=10)
    terr = of(r, "tracker_error")
    assert terr and terr[0]["error"] == [13, "generic"], r["alerts"]
    assert r["udp_seen"] == []


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_trackers_direct_without_proxy_tracker_connections(torrent, tmp_path, impl):
    tor, _ = torrent
    settings = dict(proxy_settings("socks5"), proxy_tracker_connections=False)
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), settings=settings,
                   trackers=["http"], stop_on=["tracker_reply"], limit=15)
    assert of(r, "tracker_reply"), r["alerts"]
    assert r["http_seen"] and not set(r["http_seen"]) & set(r["outbound_ports"])
    assert not [e for e in r["proxy_log"] if e["cmd"] == "connect"]


# ---------------------------------------------------------------- web seeds, DHT

@pytest.mark.parametrize("ptype", ["socks5", "http_pw"])
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_web_seed_through_proxy(torrent, tmp_path, impl, ptype):
    tor, root = torrent
    px = {"username": "u", "password": "p"} if ptype.endswith("_pw") else {}
    with WebSeedServer(root) as srv:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                       url_seeds=[srv.url("/")], settings=proxy_settings(ptype), proxy=px,
                       until_seeding=True, limit=30)
    assert r["seeding"], r
    assert (tmp_path / "dl" / "payload.bin").read_bytes() == (root / "payload.bin").read_bytes()
    web_port = srv.httpd.server_address[1]
    to_web = [e for e in r["proxy_log"]
              if e["target"] == ["127.0.0.1", web_port]
              or str(e["target"]).startswith("http://127.0.0.1:%d/" % web_port)]
    assert to_web, r["proxy_log"]
    if ptype == "http_pw":
        assert all(e["cmd"] == "GET" and e["auth"] == ["u", "p"] for e in to_web), to_web


@pytest.mark.parametrize("send_local", [False, True])
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_dht_through_socks5(torrent, tmp_path, impl, send_local):
    tor, _ = torrent
    settings = dict(proxy_settings("socks5"), socks5_udp_send_local_ep=send_local)
    r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), dht=True,
                   settings=settings, limit=15)
    assoc = [e for e in r["proxy_log"] if e["cmd"] == "udp_associate"]
    relay_ports = {e["relay_port"] for e in assoc}
    # the bootstrap node was contacted, and only through the relay
    assert r["dht_seen"] and set(r["dht_seen"]) <= relay_ports, (r["dht_seen"], relay_ports)
    # UDP ASSOCIATE names "any" source, or with socks5_udp_send_local_ep
    # the UDP socket's port
    if send_local:
        assert all(e["target"][1] != 0 for e in assoc), assoc
    else:
        assert all(e["target"] == ["0.0.0.0", 0] for e in assoc), assoc


# ---------------------------------------------------------------- API

API = r"""
import json, warnings
import libtorrent as lt
out = {}
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    PS = lt.proxy_type_t.proxy_settings
    p = PS()
    out["warn"] = [str(x.message) for x in w]
out["name"] = [PS.__name__, PS.__module__, hasattr(lt, "proxy_settings")]
out["defaults"] = [str(p.type), p.hostname, p.port, p.username, p.password,
                   p.proxy_hostnames, p.proxy_peer_connections]
out["members"] = sorted(k for k in dir(p) if not k.startswith("_"))
warnings.simplefilter("ignore")
def attempt(f):
    try:
        return ["ok", repr(f())]
    except Exception as e:
        return [type(e).__name__, str(e)]
def setter(name, v):
    def f():
        setattr(p, name, v)
        return getattr(p, name)
    return f
out["set"] = [attempt(setter(k, v)) for k, v in [
    ("type", lt.proxy_type_t.http_pw), ("type", 2), ("port", 65535), ("port", 65536),
    ("port", -1), ("port", 1.5), ("hostname", b"h"), ("hostname", None), ("username", "u"),
    ("password", "pw"), ("proxy_hostnames", 0), ("proxy_peer_connections", False)]]
out["init"] = attempt(lambda: PS(1))
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
keys = ["proxy_type", "proxy_hostname", "proxy_port", "proxy_username", "proxy_password",
        "proxy_hostnames", "proxy_peer_connections", "proxy_tracker_connections",
        "i2p_hostname", "i2p_port"]
def view(q):
    return [str(q.type), q.hostname, q.port, q.username, q.password, q.proxy_hostnames,
            q.proxy_peer_connections]
getters = ["proxy", "peer_proxy", "tracker_proxy", "web_seed_proxy", "dht_proxy", "i2p_proxy"]
out["get0"] = [view(getattr(s, g)()) for g in getters]
p = PS(); p.type = lt.proxy_type_t.socks5_pw; p.hostname = "10.0.0.1"; p.port = 1080
p.username = "user"; p.password = "secret"; p.proxy_hostnames = False
p.proxy_peer_connections = False
out["set_fn"] = {}
for f in ["set_proxy", "set_peer_proxy", "set_tracker_proxy", "set_web_seed_proxy",
          "set_dht_proxy", "set_i2p_proxy"]:
    s2 = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                     "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False})
    getattr(s2, f)(p)
    st = s2.get_settings()
    out["set_fn"][f] = [[st[k] for k in keys], [view(getattr(s2, g)()) for g in getters]]
    out["set_fn"][f + "_bad"] = attempt(lambda: getattr(s2, f)(None))[0]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    s.proxy(); s.set_proxy(p); s.i2p_proxy(); s.set_dht_proxy(p)
    out["warn2"] = [(x.category.__name__, str(x.message)) for x in w]
print(json.dumps(out))
"""


def test_proxy_settings_api_matches_reference():
    ours, ref = run_ours(API), run_ref(API)
    for k in ref:
        assert ours[k] == ref[k], (k, ours[k], ref[k])


# ---------------------------------------------------------------- anonymous mode

ANON = r"""
import json, os, socket, sys, time, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
a = json.loads(sys.argv[1])
sys.path.insert(0, a["tests"])
from proxy_server import ProxyServer
proxy = ProxyServer(); pport = proxy.start()
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1); port = l.getsockname()[1]
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                "out_enc_policy": 2, "anonymous_mode": a["anon"],
                "alert_mask": lt.alert.category_t.all_categories,
                "proxy_type": 4, "proxy_hostname": "127.0.0.1", "proxy_port": pport,
                "proxy_peer_connections": False})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(a["torrent"]); atp.save_path = a["save"]
atp.trackers = ["http://127.0.0.1:1/announce"]
h = s.add_torrent(atp)
h.connect_peer(("127.0.0.1", port))
l.settimeout(10)
c, _ = l.accept(); c.settimeout(0.5)
buf, sent, t = b"", False, time.time()
while time.time() - t < 3:
    try:
        d = c.recv(65536)
    except socket.timeout:
        d = b"-"
    if not d:
        break
    if d != b"-":
        buf += d
    if len(buf) >= 68 and not sent:
        # our handshake, with the extension protocol bit
        c.sendall(buf[:20] + b"\0\0\0\0\0\x10\0\0" + buf[28:48] + b"-XX0000-abcdefghijkl")
        sent = True
    if len(buf) > 72 and len(buf) >= 72 + int.from_bytes(buf[68:72], "big"):
        break
n = int.from_bytes(buf[68:72], "big")
ext = lt.bdecode(buf[74:72 + n])
t = time.time()
while time.time() - t < 10 and not [e for e in proxy.log if e["cmd"] == "GET"]:
    time.sleep(0.05)
alerts = [al.what() for al in s.pop_alerts()]
gets = [e for e in proxy.log if e["cmd"] == "GET"]
print(json.dumps({"ext_keys": sorted(k.decode() for k in ext), "alerts": alerts,
                  "user_agent": [e["headers"].get("user-agent") for e in gets]}))
os._exit(0)
"""


@pytest.mark.parametrize("anon", [False, True])
def test_anonymous_mode_matches_reference(torrent, tmp_path, anon):
    tor, _ = torrent
    got = {}
    for impl in ("ours", "ref"):
        args = {"tests": TESTS, "anon": anon, "torrent": str(tor), "save": str(tmp_path / impl)}
        p = subprocess.run([PY[impl], "-c", ANON, json.dumps(args)], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-3000:]
        got[impl] = json.loads(p.stdout.strip().splitlines()[-1])
    for impl, r in got.items():
        # the client version is left out of the extension handshake
        assert ("v" in r["ext_keys"]) == (not anon), (impl, r)
        # libtorrent 2.x never posts anonymous_mode_alert
        assert "anonymous_mode" not in r["alerts"], (impl, r)
        # the tracker request through the HTTP proxy
        assert r["user_agent"], (impl, r)
    # the same User-Agent policy: none in anonymous mode
    assert set(got["ours"]["user_agent"]) == set(got["ref"]["user_agent"]), got


def test_i2p_proxy_refuses_instead_of_connecting_directly(torrent, tmp_path):
    """proxy_type i2p_proxy: the reference would go through an i2p SAM
    bridge (and, with none running, its peer connections hang and trackers
    are never contacted). We support no i2p: connections fail at once
    with "no i2p router is set up", and nothing is contacted directly."""
    tor, root = torrent
    seeder = Seeder("ours", tor, root)
    try:
        r = run_client("ours", torrent=str(tor), save=str(tmp_path / "dl"), peers=[seeder.port],
                       settings={"proxy_type": 6}, trackers=["http"],
                       stop_on=["peer_disconnected", "tracker_error"], limit=10)
        seen = seeder.finish()
    finally:
        seeder.kill()
    assert seen == [] and r["http_seen"] == [] and r["proxy_log"] == []
    disc = of(r, "peer_disconnected")
    assert disc and disc[0]["error"] == [160, "libtorrent"] and disc[0]["op"] == 16, r["alerts"]
    terr = of(r, "tracker_error")
    assert terr and terr[0]["error"] == [160, "libtorrent"], r["alerts"]
