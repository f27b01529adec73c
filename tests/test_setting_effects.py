"""Settings whose effect shows from outside, run on both modules:
`prefer_udp_trackers` (tracker order), `piece_timeout` (when a peer that
sends nothing is snubbed), `no_connect_privileged_ports`,
`enable_incoming_tcp`/`enable_incoming_utp` (connections refused), and
`max_retry_port_bind`/`listen_system_port_fallback` (a busy listen port)."""

COMMON = r"""
import json, socket, struct, tempfile, threading, time
import libtorrent as lt

def session(**settings):
    base = {"enable_dht": False, "enable_lsd": False, "enable_upnp": False,
            "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0"}
    base.update(settings)
    return lt.session(base)

def torrent(**top):
    d = {b"info": {b"name": b"x", b"piece length": 16384, b"length": 16384 * 4,
                   b"pieces": b"a" * 80}}
    d.update(top)
    return lt.torrent_info(d)

def add(s, ti, **kw):
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = tempfile.mkdtemp()
    for k, v in kw.items():
        setattr(atp, k, v)
    return s.add_torrent(atp)
"""


def test_prefer_udp_trackers_puts_udp_first_on_the_same_host(ref, ours):
    code = COMMON + r"""
out = {}
tiers = [[b"http://127.0.0.1:1/announce", b"udp://127.0.0.1:1", b"http://localhost:2/a",
          b"udp://localhost:2", b"http://127.0.0.2:3/a"], [b"udp://127.0.0.2:3"]]
for pref in (True, False):
    s = session(prefer_udp_trackers=pref)
    h = add(s, torrent(**{"announce-list": tiers}), flags=lt.torrent_flags.paused)
    out[str(pref)] = [[t["url"], t["tier"]] for t in h.trackers()]
print(json.dumps(out))
"""
    r = ref(code)
    assert [u for u, _ in r["True"]][:4] == ["udp://127.0.0.1:1", "http://127.0.0.1:1/announce",
                                             "udp://localhost:2", "http://localhost:2/a"]
    assert [u for u, _ in r["False"]][:2] == ["http://127.0.0.1:1/announce", "udp://127.0.0.1:1"]
    assert ours(code) == r


def test_piece_timeout_snubs_a_peer_that_sends_nothing(ref, ours):
    # A hand-driven peer has every piece, unchokes, and never sends a block.
    code = COMMON + r"""
def silent_seed(info_hash, stop):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    def run():
        c, _ = srv.accept()
        c.recv(68)
        c.sendall(b"\x13BitTorrent protocol" + bytes(8) + info_hash + b"-XX0001-" + b"s" * 12)
        c.sendall(struct.pack(">IB", 2, 5) + b"\xf0")  # bitfield: 4 pieces
        c.sendall(struct.pack(">IB", 1, 1))  # unchoke
        stop.wait(20)
        c.close()
    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1]

out = []
for piece_timeout in (2, 20):
    s = session(piece_timeout=piece_timeout, alert_mask=lt.alert.category_t.peer_notification,
                enable_outgoing_utp=False, out_enc_policy=2)
    ti = torrent()
    h = add(s, ti)
    stop = threading.Event()
    h.connect_peer(("127.0.0.1", silent_seed(ti.info_hash().to_bytes(), stop)))
    t0, snubbed = time.time(), None
    while snubbed is None and time.time() - t0 < 7:
        for a in s.pop_alerts():
            if isinstance(a, lt.peer_snubbed_alert):
                snubbed = time.time() - t0
        time.sleep(0.05)
    stop.set()
    out.append(None if snubbed is None else round(snubbed))
print(json.dumps(out))
"""
    r = ref(code)
    o = ours(code)
    # (the snub shows within a second tick or two after the timeout)
    assert r[0] is not None and 2 <= r[0] <= 4 and r[1] is None, r
    assert o[0] is not None and 2 <= o[0] <= 4 and o[1] is None, o


def with_peer_alerts(code_body):
    """The alerts about peers (log lines left out) a snippet collects in
    `seen`, as [type, reason]."""
    return COMMON + r"""
def peer_alerts(s):
    out = []
    for a in s.pop_alerts():
        n = type(a).__name__
        if ("peer" in n or "incoming" in n) and n != "peer_log_alert":
            out.append([n, getattr(a, "reason", None)])
    return out
""" + code_body


def test_no_connect_privileged_ports_blocks_ports_below_1024(ref, ours):
    code = with_peer_alerts(r"""
out = {}
for flag in (True, False):
    s = session(no_connect_privileged_ports=flag, enable_outgoing_utp=False,
                alert_mask=lt.alert.category_t.all_categories)
    h = add(s, torrent())
    time.sleep(0.3)
    s.pop_alerts()
    h.connect_peer(("127.0.0.1", 999))
    time.sleep(1.5)
    out[str(flag)] = peer_alerts(s)
print(json.dumps(out))
""")
    r = ref(code)
    assert r["True"] == [["peer_blocked_alert", 3]], r
    assert ["peer_connect_alert", None] in r["False"], r
    assert ours(code) == r


def test_incoming_connections_refused_when_disabled(ref, ours):
    # TCP: a peer_blocked_alert (tcp_disabled) and the socket closed before
    # the handshake; uTP: closed without an alert.
    code = with_peer_alerts(r"""
s = session(enable_incoming_tcp=False, alert_mask=lt.alert.category_t.all_categories)
ti = torrent()
add(s, ti)
time.sleep(0.3)
s.pop_alerts()
c = socket.create_connection(("127.0.0.1", s.listen_port()))
c.sendall(b"\x13BitTorrent protocol" + bytes(8) + ti.info_hash().to_bytes() + b"-XX0001-" + b"s" * 12)
c.settimeout(3)
try:
    answer = len(c.recv(68))
except OSError:
    answer = 0
time.sleep(0.5)
tcp = peer_alerts(s)
a = session(enable_incoming_utp=False, alert_mask=lt.alert.category_t.all_categories)
b = session(enable_outgoing_tcp=False)
for x in (a, b):
    add(x, ti)
time.sleep(0.3)
a.pop_alerts()
b.get_torrents()[0].connect_peer(("127.0.0.1", a.listen_port()))
time.sleep(2)
print(json.dumps({"tcp": tcp, "answer": answer, "utp": peer_alerts(a),
                  "utp_peers": len(a.get_torrents()[0].get_peer_info())}))
""")
    r = ref(code)
    assert r == {"tcp": [["peer_blocked_alert", 5]], "answer": 0, "utp": [], "utp_peers": 0}, r
    assert ours(code) == r


def test_a_busy_listen_port_moves_to_the_next_ports_or_a_system_port(ref, ours):
    code = COMMON + r"""
blk = socket.socket()
blk.bind(("127.0.0.1", 0))
blk.listen(1)
port = blk.getsockname()[1]
out = {}
for retry, fallback in ((10, True), (0, True), (0, False), (3, False)):
    s = session(listen_interfaces="127.0.0.1:%d" % port, max_retry_port_bind=retry,
                listen_system_port_fallback=fallback, alert_mask=lt.alert.category_t.all_categories)
    time.sleep(0.5)
    alerts = [type(a).__name__ for a in s.pop_alerts() if "listen" in type(a).__name__]
    lp = s.listen_port()
    where = ("zero" if lp == 0 else "next" if port < lp <= port + retry else
             "same" if lp == port else "other")
    out["%d %s" % (retry, fallback)] = [where, sorted(set(alerts))]
    del s
print(json.dumps(out))
"""
    r = ref(code)
    assert r == {"10 True": ["next", ["listen_succeeded_alert"]],
                 "0 True": ["other", ["listen_succeeded_alert"]],
                 "0 False": ["zero", ["listen_failed_alert"]],
                 "3 False": ["next", ["listen_succeeded_alert"]]}, r
    assert ours(code) == r
