"""uTP under an upload rate limit: a seeder whose global peer class (applied
to loopback through set_peer_class_filter) limits uploads to RATE serves a
uTP-only leecher at a good part of that rate, also after earlier uTP
leechers were killed (SIGKILL) mid-download. A killed leecher's port answers
with ICMP port unreachable; its uTP connections must end at once, not keep
their share of the class's quota while their retransmissions time out (they
took ~7.5 s each and starved the next leecher: ~30-35% of the limit with six
dead ones). The bounds are loose lower bounds on progress (60% of what the
limit allows in the window, 50% after the kills), not speed measurements.
Leechers are our module in their own processes; the seeder runs in this
one. Loopback only, bounded (~20 s)."""
import json
import os
import signal
import subprocess
import sys
import time

import libtorrent as lt

RATE = 200_000  # bytes/s, the seeder's upload limit
WINDOW = 4.0  # seconds of download measured
PIECE = 65536
SIZE = 4 << 20  # far more than WINDOW * RATE: never completes

BASE = {"enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "listen_interfaces": "127.0.0.1:0", "alert_mask": 0}

LEECHER = r"""
import json, sys, time
import libtorrent as lt
tor, save, port, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "listen_interfaces": "127.0.0.1:0", "alert_mask": 0,
                "enable_outgoing_tcp": False, "enable_incoming_tcp": False})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(tor)
p.save_path = save
h = s.add_torrent(p)
h.connect_peer(("127.0.0.1", port))
# the window starts with the first payload byte (connection set up)
end = time.monotonic() + 20
while h.status().total_payload_download == 0 and time.monotonic() < end:
    time.sleep(0.02)
first = h.status().total_payload_download
print(json.dumps({"event": "flowing", "bytes": first}), flush=True)
time.sleep(window)
st = h.status()
utp = [bool(pi.flags & 0x20000) for pi in h.get_peer_info()]
print(json.dumps({"event": "done", "bytes": st.total_payload_download - first, "utp": utp}), flush=True)
"""


def make_seeder(tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "f.bin").write_bytes(os.urandom(SIZE))
    fs = lt.file_storage()
    fs.add_file("f.bin", SIZE)
    ct = lt.create_torrent(fs, PIECE)
    lt.set_piece_hashes(ct, str(seed))
    tor = tmp_path / "t.torrent"
    tor.write_bytes(lt.bencode(ct.generate()))
    ses = lt.session(dict(BASE, upload_rate_limit=RATE, allow_multiple_connections_per_ip=True))
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(f)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(str(tor))
    atp.save_path = str(seed)
    h = ses.add_torrent(atp)
    end = time.monotonic() + 20
    while not h.status().is_seeding:
        assert time.monotonic() < end, "seeder never seeded"
        time.sleep(0.05)
    return ses, h, tor


def leecher(tmp_path, name, tor, port):
    save = tmp_path / name
    save.mkdir()
    return subprocess.Popen([sys.executable, "-c", LEECHER, str(tor), str(save), str(port), str(WINDOW)],
                            stdout=subprocess.PIPE, text=True)


def event(proc, name):
    line = proc.stdout.readline()
    assert line, f"leecher exited (rc {proc.wait()}) before {name!r}"
    ev = json.loads(line)
    assert ev["event"] == name, ev
    return ev


def measure(tmp_path, tor, port):
    proc = leecher(tmp_path, "measured", tor, port)
    try:
        event(proc, "flowing")
        done = event(proc, "done")
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert done["utp"] == [True], done  # the one connection is uTP
    return done["bytes"]


def test_utp_leecher_reaches_the_seeders_class_limit(tmp_path):
    ses, h, tor = make_seeder(tmp_path)
    got = measure(tmp_path, tor, ses.listen_port())
    assert got >= 0.6 * RATE * WINDOW, f"{got} bytes in {WINDOW}s under a {RATE} B/s limit"
    # and the limit holds (a 1 s burst at most on top)
    assert got <= RATE * (WINDOW + 1.5), got


def test_killed_utp_leechers_do_not_keep_the_quota(tmp_path):
    ses, h, tor = make_seeder(tmp_path)
    port = ses.listen_port()
    for i in range(6):
        proc = leecher(tmp_path, f"killed{i}", tor, port)
        try:
            event(proc, "flowing")
            time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
    # (no wait for the dead connections to go: the next leecher starts now)
    left = h.status().num_peers
    got = measure(tmp_path, tor, port)
    # (half the limit: dead connections that keep their share leave ~30-35%;
    # one CI run on a loaded machine gave 59%, locally it is ~96%)
    assert got >= 0.5 * RATE * WINDOW, (
        f"{got} bytes in {WINDOW}s after killed uTP leechers ({left} of their connections left)")
