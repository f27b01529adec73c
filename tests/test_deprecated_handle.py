"""Deprecated torrent_handle calls (set_priority, set_ratio, use_interface,
set_tracker_login) and session.add_extension, run on both modules: the
same warnings, errors and effects."""

COMMON = r"""
import json, tempfile, threading, time, warnings, http.server
import libtorrent as lt

def session():
    return lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                       "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0"})

def torrent(tracker=None):
    d = {b"info": {b"name": b"x", b"piece length": 16384, b"length": 100,
                   b"pieces": b"a" * 20}}
    if tracker:
        d[b"announce"] = tracker.encode()
    return lt.torrent_info(d)

def call(f):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            r = f()
            res = ["ok", repr(r)]
        except Exception as e:
            res = ["raise", isinstance(e, TypeError) and "TypeError" or type(e).__name__,
                   str(e) if isinstance(e, RuntimeError) else ""]
    return res + [[str(x.message) for x in w if issubclass(x.category, DeprecationWarning)]]
"""


def test_warnings_and_invalid_handles(ref, ours):
    code = COMMON + r"""
out = {}
h = lt.torrent_handle()
out["invalid"] = [call(lambda: h.set_priority(1)), call(lambda: h.set_ratio(1.0)),
                  call(lambda: h.use_interface("lo")), call(lambda: h.set_tracker_login("a", "b"))]
s = session()
atp = lt.add_torrent_params(); atp.ti = torrent(); atp.save_path = tempfile.mkdtemp()
h = s.add_torrent(atp)
out["valid"] = [call(lambda: h.set_priority(5)), call(lambda: h.set_ratio(-1.0)),
                call(lambda: h.use_interface("127.0.0.1")),
                call(lambda: h.set_tracker_login("u", "p"))]
out["types"] = [call(lambda: h.set_priority("x"))[:2], call(lambda: h.set_ratio("x"))[:2],
                call(lambda: h.use_interface(5))[:2], call(lambda: h.set_tracker_login("a"))[:2],
                call(lambda: h.set_priority(2 ** 40))[:2]]
out["ext"] = [call(lambda: s.add_extension(x)) for x in
              ["ut_pex", "ut_metadata", "smart_ban", "bogus", 5, None, lambda: 0,
               lt.create_ut_pex_plugin]]
out["ext_args"] = [call(lambda: s.add_extension())[:2], call(lambda: s.add_extension(1, 2))[:2]]
print(json.dumps(out))
"""
    assert ours(code) == ref(code)


def test_set_priority_shows_in_status(ref, ours):
    code = COMMON + r"""
warnings.simplefilter("ignore")
s = session()
atp = lt.add_torrent_params(); atp.ti = torrent(); atp.save_path = tempfile.mkdtemp()
h = s.add_torrent(atp)
seen = [h.status().priority]
for v in [5, -1, 300, 70000, 0, 42]:
    h.set_priority(v)
    time.sleep(0.05)
    seen.append(h.status().priority)
print(json.dumps(seen))
"""
    r = ref(code)
    assert r == [0, 5, 0, 300, 70000, 0, 42]
    assert ours(code) == r


def test_use_interface_sets_outgoing_interfaces(ref, ours):
    code = COMMON + r"""
warnings.simplefilter("ignore")
s = session()
atp = lt.add_torrent_params(); atp.ti = torrent(); atp.save_path = tempfile.mkdtemp()
h = s.add_torrent(atp)
seen = [s.get_settings()["outgoing_interfaces"]]
for v in ["127.0.0.1", "eth0,lo", ""]:
    h.use_interface(v)
    time.sleep(0.1)
    seen.append(s.get_settings()["outgoing_interfaces"])
print(json.dumps(seen))
"""
    r = ref(code)
    assert r == ["", "127.0.0.1", "eth0,lo", ""]
    assert ours(code) == r


def test_set_tracker_login_authenticates_http_announces(ref, ours):
    code = COMMON + r"""
warnings.simplefilter("ignore")
auth = []
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth.append(self.headers.get("Authorization"))
        body = b"d8:intervali1800e5:peers0:e"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
s = session()
atp = lt.add_torrent_params()
atp.ti = torrent("http://127.0.0.1:%d/announce" % srv.server_port)
atp.save_path = tempfile.mkdtemp()
atp.flags = lt.torrent_flags.paused
h = s.add_torrent(atp)
h.set_tracker_login("user", "pa:ss")
time.sleep(0.2)
h.resume()
def wait(n):
    t = time.time()
    while len(auth) < n and time.time() - t < 10:
        time.sleep(0.05)
wait(1)
h.set_tracker_login("", "")
time.sleep(0.2)
h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
wait(2)
print(json.dumps(auth[:2]))
"""
    r = ref(code)
    assert r == ["Basic dXNlcjpwYTpzcw==", None]
    assert ours(code) == r
