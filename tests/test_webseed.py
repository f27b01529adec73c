"""Web seeds (BEP 19 url seeds) driven by the session: torrents downloaded
from a loopback HTTP server (tests/webseed_server.py) and verified byte for
byte, alone and together with a peer; broken seeds (404, corrupt data,
connection refused) reported by url_seed_alert / hash_failed while the
download completes from another source; the handle's url seed list
compared with the reference."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ltdiff import PY, REF_PY, digest
from webseed_server import WebSeedServer


CLIENT = """
import json, sys, time, libtorrent as lt
a = json.loads(sys.argv[1])
settings = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": False, "enable_natpmp": False,
            "alert_mask": lt.alert.category_t.all_categories}
settings.update(a.get("settings", {}))
s = lt.session(settings)
if a.get("loopback_in_global"):
    # rate limits are the global peer class's, which by default leaves out
    # the local network: put every address in it
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    s.set_peer_class_filter(f)
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(a["torrent"]); atp.save_path = a["save"]
atp.url_seeds = a.get("atp_seeds", [])
h = s.add_torrent(atp)
for u in a.get("handle_seeds", []):
    h.add_url_seed(u)
for p in a.get("peers", []):
    h.connect_peer(("127.0.0.1", p))
out = {"url_seed": [], "hash_failed": 0, "peer_ban": 0, "types": {}, "disconnects": [], "connects": 0}
t = time.time()
while time.time() - t < a.get("limit", 40):
    for al in s.pop_alerts():
        w = al.what()
        if w == "url_seed":
            out["url_seed"].append({"url": al.server_url(), "url2": al.url, "msg": al.error_message(),
                                    "msg2": al.msg, "value": al.error.value(),
                                    "cat": al.error.category().name(), "message": al.message(),
                                    "category": int(al.category())})
        elif w in ("hash_failed", "peer_ban"):
            out[w] += 1
        elif w == "peer_connect":
            out["connects"] += 1
        elif w == "peer_disconnected":
            out["disconnects"].append({"ep": list(al.endpoint), "value": al.error.value(),
                                       "cat": al.error.category().name(), "op": int(al.op)})
    for p in h.get_peer_info():
        k = str(p.connection_type)
        out["types"][k] = max(out["types"].get(k, 0), p.total_download)
    if h.status().is_seeding:
        break
    time.sleep(0.05)
out["seeding"] = h.status().is_seeding
out["secs"] = time.time() - t
out["url_seeds"] = h.url_seeds()
# Seeding can be reported while the last blocks are still being written
# (the reference hashes them from memory): have them on disk before the
# hard exit, for the caller to compare files.
h.flush_cache()
t = time.time()
while time.time() - t < 10 and not any(al.what() == "cache_flushed" for al in s.pop_alerts()):
    time.sleep(0.02)
print(json.dumps(out), flush=True)
import os; os._exit(0)
"""

SEEDER = """
import sys, time, libtorrent as lt
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_incoming_utp": False,
                "upload_rate_limit": int(sys.argv[3])})
# the upload limit is the global peer class's: put loopback in it (by
# default local-network peers are in the local class only)
f = lt.ip_filter()
f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
s.set_peer_class_filter(f)
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(sys.argv[1]); atp.save_path = sys.argv[2]
h = s.add_torrent(atp)
t = time.time()
while not h.status().is_seeding and time.time() - t < 20:
    time.sleep(0.02)
print(s.listen_port(), flush=True)
sys.stdin.read()
"""


def run_client(impl, timeout=60, **args):
    p = subprocess.run([PY[impl], "-c", textwrap.dedent(CLIENT), json.dumps(args)],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def make_torrent(d, files, piece_length, name="payload"):
    """Writes `files` ({relative path: bytes}) under d/seed/<name> and a
    torrent of them made by the reference (hybrid, pad files between
    files of a multi-file torrent) to d/t.torrent."""
    root = d / "seed"
    for rel, data in files.items():
        p = root / name / rel if len(files) > 1 else root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    code = f"""
import libtorrent as lt, warnings
warnings.simplefilter("ignore")
fs = lt.file_storage()
lt.add_files(fs, {str(root / name)!r})
ct = lt.create_torrent(fs, {piece_length})
lt.set_piece_hashes(ct, {str(root)!r})
open({str(d / 't.torrent')!r}, "wb").write(lt.bencode(ct.generate()))
"""
    subprocess.run([str(REF_PY), "-c", code], check=True, timeout=60)
    return d / "t.torrent"


def blob(tag, n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s-%d" % (tag, i)).digest()
        i += 1
    return bytes(out[:n])


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    d = tmp_path_factory.mktemp("ws_multi")
    tor = make_torrent(d, {"a.bin": blob(b"a", 300_001), "sub/b.bin": blob(b"b", 170_000),
                           "c.bin": blob(b"c", 5)}, 32768)
    return d, tor


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    d = tmp_path_factory.mktemp("ws_single")
    tor = make_torrent(d, {"x": blob(b"s", 400_000)}, 65536, name="single.bin")
    return d, tor


def has_pad_files(tor):
    code = f"""
import json, libtorrent as lt
fs = lt.torrent_info({str(tor)!r}).files()
print(json.dumps([fs.file_flags(i) & 1 for i in range(fs.num_files())]))
"""
    p = subprocess.run([str(REF_PY), "-c", code], capture_output=True, text=True, check=True)
    return any(json.loads(p.stdout))


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_multi_file_with_pad_files(multi, tmp_path, impl):
    d, tor = multi
    assert has_pad_files(tor)
    with WebSeedServer(d / "seed", chunk_delay=0.01) as srv:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), atp_seeds=[srv.url("/")])
        paths = list(srv.httpd.paths)
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert r["url_seed"] == []
    # pad files are never asked for; every request is for a real file
    assert paths and all(p.startswith("/payload/") and ".pad" not in p for p in paths), paths
    # the web seed shows in peer_info as a web_seed connection that downloaded
    assert r["types"].get("2", 0) > 0, r["types"]


@pytest.mark.parametrize("form", ["dir", "file"])
@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_single_file(single, tmp_path, form, impl):
    d, tor = single
    with WebSeedServer(d / "seed") as srv:
        url = srv.url("/") if form == "dir" else srv.url("/single.bin")
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), handle_seeds=[url])
        paths = set(srv.httpd.paths)
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert paths == {"/single.bin"}
    assert r["url_seeds"] == [url]


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_web_seed_and_peer(multi, tmp_path, impl):
    d, tor = multi
    seeder = subprocess.Popen([PY[impl], "-c", textwrap.dedent(SEEDER), str(tor),
                               str(d / "seed"), "100000"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(seeder.stdout.readline())
        with WebSeedServer(d / "seed", chunk_delay=0.1) as srv:
            r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                           atp_seeds=[srv.url("/")], peers=[port])
            hits = srv.hits
    finally:
        seeder.kill()
        seeder.wait(10)
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert hits > 0
    # both kinds of source were connected (connection_type:
    # standard_bittorrent 1, web_seed 2); ours asks the web seed for about a
    # piece per request so the peer gets work too (the reference asks for
    # whole files and leaves the peer nothing to send here)
    assert r["types"].get("2", 0) > 0 and "1" in r["types"], r["types"]
    if impl == "ours":
        assert r["types"]["1"] > 0, r["types"]


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_download_rate_limit_applies_to_web_seeds(multi, tmp_path, impl):
    """download_rate_limit (100 kB/s) holds web seed downloads back: the
    ~470 kB cannot arrive in much less than 4.7 s (a lower bound only).
    The limit is the global peer class's; a loopback web seed is in it once
    the peer class filter puts loopback there (by default it is in the
    local class, which is unlimited)."""
    d, tor = multi
    with WebSeedServer(d / "seed") as srv:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                       atp_seeds=[srv.url("/")], settings={"download_rate_limit": 100_000},
                       loopback_in_global=True)
        # with the default class filter the limit leaves the seed alone
        free = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl2"),
                          atp_seeds=[srv.url("/")], settings={"download_rate_limit": 100_000})
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert r["secs"] > 2.5, r["secs"]
    assert free["seeding"] and free["secs"] < 2.5, free


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_redirected_seed(multi, tmp_path, impl):
    """A seed answering 302 to another server: the download follows it."""
    d, tor = multi
    with WebSeedServer(d / "seed") as target, \
            WebSeedServer(d / "seed", "redirect:" + "http://127.0.0.1:%d/" % target.port) as moved:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"), atp_seeds=[moved.url("/")])
        hits = (moved.hits, target.hits)
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert hits[0] > 0 and hits[1] > 0, hits
    assert r["url_seed"] == []


def unused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_404_seed_reported_other_seed_completes(multi, tmp_path, impl):
    d, tor = multi
    # the good seed is slow so the bad one is surely tried before the end
    with WebSeedServer(d / "seed", "404") as bad, \
            WebSeedServer(d / "seed", chunk_delay=0.02) as good:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                       atp_seeds=[bad.url("/"), good.url("/")])
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert r["url_seed"], r
    for a in r["url_seed"]:
        assert a["url"] == a["url2"] == bad.url("/")
        assert a["msg"] == a["msg2"] == "404 Not Found"
        assert (a["value"], a["cat"]) == (0, "system")
        assert a["message"].endswith("url seed (%s) failed: Success" % bad.url("/"))
        assert a["category"] == 3   # peer | error
    # the failing seed stays listed (it is retried after urlseed_wait_retry)
    assert r["url_seeds"] == sorted([bad.url("/"), good.url("/")])


def test_404_alert_matches_reference(multi, tmp_path):
    d, tor = multi
    fields = lambda r: sorted({(a["url"], a["msg"], a["value"], a["cat"], a["message"], a["category"])
                               for a in r["url_seed"]})
    with WebSeedServer(d / "seed", "404") as bad:
        res = {impl: run_client(impl, torrent=str(tor), save=str(tmp_path / impl), limit=4,
                                atp_seeds=[bad.url("/")], settings={"urlseed_wait_retry": 1})
               for impl in ("ours", "ref")}
    assert not res["ours"]["seeding"] and not res["ref"]["seeding"]
    assert fields(res["ours"]) and fields(res["ours"]) == fields(res["ref"])
    # retried after urlseed_wait_retry (1 s) within the 4 s run
    assert len(res["ours"]["url_seed"]) >= 2


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_corrupt_seed_banned_other_seed_completes(multi, tmp_path, impl):
    d, tor = multi
    with WebSeedServer(d / "seed", "corrupt") as bad, WebSeedServer(d / "seed") as good:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                       atp_seeds=[bad.url("/")], handle_seeds=[good.url("/")])
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    assert r["hash_failed"] >= 1
    assert r["peer_ban"] >= 1
    # the corrupt seed is disconnected: "too many corrupt pieces"
    bad_ep = ["127.0.0.1", bad.port]
    assert {"ep": bad_ep, "value": 93, "cat": "libtorrent", "op": 1} in r["disconnects"], r
    # a url_seed_alert "peer banned" may come (the reference posts it late)
    for a in r["url_seed"]:
        assert a["url"] == bad.url("/") and (a["value"], a["cat"]) == (91, "libtorrent")
        assert a["message"].endswith("failed: peer banned")
    # a banned seed is dropped from the list, as in libtorrent
    assert r["url_seeds"] == [good.url("/")]


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_refused_seed_reported_other_seed_completes(multi, tmp_path, impl):
    d, tor = multi
    dead = "http://127.0.0.1:%d/" % unused_port()
    with WebSeedServer(d / "seed") as good:
        r = run_client(impl, torrent=str(tor), save=str(tmp_path / "dl"),
                       atp_seeds=[dead, good.url("/")])
    assert r["seeding"], r
    assert digest(tmp_path / "dl") == digest(d / "seed")
    # as libtorrent: no url_seed_alert, a peer_disconnected (operation
    # connect, ECONNREFUSED) for the web seed's address
    port = int(dead.rsplit(":", 1)[1].strip("/"))
    assert not [a for a in r["url_seed"] if a["url"] == dead], r["url_seed"]
    refused = [a for a in r["disconnects"] if a["ep"] == ["127.0.0.1", port]]
    assert refused and refused[0]["value"] == 111 and refused[0]["cat"] == "system", r["disconnects"]
    assert refused[0]["op"] == 16   # operation_t.connect


def test_https_seed_reported(multi, tmp_path):
    """No TLS in the session: an https seed gives url_seed_alert (unsupported
    URL protocol) and the download goes on from the other seed."""
    d, tor = multi
    with WebSeedServer(d / "seed") as good:
        tls = "https://127.0.0.1:%d/" % good.port
        r = run_client("ours", torrent=str(tor), save=str(tmp_path / "dl"),
                       atp_seeds=[tls, good.url("/")])
    assert r["seeding"], r
    a = [a for a in r["url_seed"] if a["url"] == tls]
    assert a and (a[0]["value"], a[0]["cat"]) == (24, "libtorrent"), r["url_seed"]


HANDLE = """
import json, sys, libtorrent as lt, warnings
warnings.simplefilter("ignore")
tor, save = sys.argv[1], sys.argv[2]
out = {}
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
ti = lt.torrent_info(tor)
ti.add_url_seed("http://b.example/")
ti.add_http_seed("http://h.example/seed")
atp = lt.add_torrent_params(); atp.ti = ti; atp.save_path = save
atp.url_seeds = ["http://a.example/x", "http://n.example/"]
atp.http_seeds = ["http://z.example/"]
atp.flags |= lt.torrent_flags.paused; atp.flags &= ~lt.torrent_flags.auto_managed
h = s.add_torrent(atp)
out["initial"] = [h.url_seeds(), h.http_seeds()]
out["add_ret"] = repr(h.add_url_seed("http://c.example/"))
h.add_url_seed(b"http://0.example/")
h.add_url_seed("http://c.example/")
out["after_add"] = h.url_seeds()
h.remove_url_seed("http://nonexistent/")
h.remove_url_seed("http://b.example/")
h.remove_url_seed("http://a.example/x/")
h.remove_url_seed("http://c.example/")
out["after_remove"] = h.url_seeds()
s2 = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
ti = lt.torrent_info(tor)
ti.add_url_seed("http://t.example/")
atp = lt.add_torrent_params(); atp.ti = ti; atp.save_path = save + "2"
atp.url_seeds = ["http://o.example/d"]
atp.flags |= lt.torrent_flags.paused | lt.torrent_flags.override_web_seeds
atp.flags &= ~lt.torrent_flags.auto_managed
out["override"] = s2.add_torrent(atp).url_seeds()
h.add_http_seed("http://y.example/"); h.remove_http_seed("http://z.example/")
out["http"] = h.http_seeds()
out["types"] = [type(h.url_seeds()).__name__, type(h.http_seeds()).__name__]
errs = []
for bad in (5, None):
    try:
        h.add_url_seed(bad); errs.append("ok")
    except Exception as e:
        errs.append([type(e).__name__, isinstance(e, TypeError), str(e)])
out["errors"] = errs
inv = lt.torrent_handle()
warnings.simplefilter("error")
res = []
for f, args in (("url_seeds", ()), ("http_seeds", ()), ("add_url_seed", ("http://x/",)),
                ("remove_url_seed", ("http://x/",)), ("add_http_seed", ("http://x/",)),
                ("remove_http_seed", ("http://x/",))):
    try:
        res.append(repr(getattr(inv, f)(*args)))
    except Exception as e:
        res.append([type(e).__name__, str(e)])
out["invalid"] = res
print(json.dumps(out))
"""


def test_handle_url_seeds_match_reference(multi, tmp_path):
    d, tor = multi
    res = {}
    for impl in ("ours", "ref"):
        p = subprocess.run([PY[impl], "-c", textwrap.dedent(HANDLE), str(tor), str(tmp_path / impl)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-3000:]
        res[impl] = json.loads(p.stdout)
    assert res["ours"] == res["ref"]
    assert res["ours"]["after_add"] == ["http://0.example/", "http://a.example/x/",
                                        "http://b.example/", "http://c.example/",
                                        "http://n.example/"]
    assert res["ours"]["override"] == ["http://o.example/d/"]


def test_remove_url_seed_stops_download(multi, tmp_path):
    """A seed removed through the handle is no longer used: the server sees
    no request after the removal and the torrent stays incomplete."""
    d, tor = multi
    code = """
import json, sys, time, libtorrent as lt
tor, save, url = sys.argv[1], sys.argv[2], sys.argv[3]
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(tor); atp.save_path = save
atp.url_seeds = [url]
atp.flags |= lt.torrent_flags.paused; atp.flags &= ~lt.torrent_flags.auto_managed
h = s.add_torrent(atp)
h.remove_url_seed(url)
h.resume()
time.sleep(2)
st = h.status()
print(json.dumps({"seeds": h.url_seeds(), "down": st.total_payload_download, "seeding": st.is_seeding}))
"""
    with WebSeedServer(d / "seed") as srv:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(tor),
                            str(tmp_path / "dl"), srv.url("/")],
                           capture_output=True, text=True, timeout=60)
        hits = srv.hits
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout)
    assert r == {"seeds": [], "down": 0, "seeding": False}
    assert hits == 0


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_pause_closes_web_seed_resume_finishes(multi, tmp_path, impl):
    """Pausing the torrent closes its web seed connection (no request
    reaches the server while paused); resuming finishes the download."""
    d, tor = multi
    code = """
import json, sys, time, libtorrent as lt
sys.path.insert(0, sys.argv[4])
tor, save, url = sys.argv[1], sys.argv[2], sys.argv[3]
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(tor); atp.save_path = save
atp.url_seeds = [url]
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
t = time.time()
while h.status().total_payload_download == 0 and time.time() - t < 20:
    time.sleep(0.02)
h.pause()
time.sleep(0.5)
print("paused", flush=True)
sys.stdin.readline()
paused_peers = len(h.get_peer_info())
down = h.status().total_payload_download
time.sleep(1.0)
still = h.status().total_payload_download == down
h.resume()
t = time.time()
while not h.status().is_seeding and time.time() - t < 30:
    time.sleep(0.05)
print(json.dumps({"paused_peers": paused_peers, "still": still, "seeding": h.status().is_seeding}))
"""
    with WebSeedServer(d / "seed", chunk_delay=0.05) as srv:
        p = subprocess.Popen([PY[impl], "-c", textwrap.dedent(code), str(tor),
                              str(tmp_path / "dl"), srv.url("/"), os.path.dirname(__file__)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline().strip() == "paused"
            hits = srv.hits
            time.sleep(1.0)
            hits_paused = srv.hits
            p.stdin.write("go\n")
            p.stdin.flush()
            out, _ = p.communicate(timeout=60)
        finally:
            p.kill()
            p.wait(10)
    r = json.loads(out.strip().splitlines()[-1])
    assert hits > 0 and hits_paused == hits
    assert r == {"paused_peers": 0, "still": True, "seeding": True}
    assert digest(tmp_path / "dl") == digest(d / "seed")
