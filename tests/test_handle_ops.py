"""torrent_handle operations that feed data or limits into the engine:
add_piece (compared with the reference) and per-peer rate limits."""
import time

import libtorrent as lt

from ltdiff import run_ours, run_ref
from test_engine_features import add, make, pair, wait  # noqa: F401  (pair is a fixture)

# Every piece supplied by the user, one of them first with wrong data: the
# torrent becomes a seed with the right bytes, and the wrong piece fails.
ADD_PIECE = r"""
import hashlib, json, os, tempfile, time
import libtorrent as lt
d = tempfile.mkdtemp()
data = b''.join(hashlib.sha256(i.to_bytes(2, 'big')).digest() for i in range(2048))  # 64 KiB
fs = lt.file_storage(); fs.add_file('p/x.bin', len(data))
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
for i in range(4):
    ct.set_hash(i, hashlib.sha1(data[i * 16384:(i + 1) * 16384]).digest())
ti = lt.torrent_info(lt.bencode(ct.generate()))
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False,
                'alert_mask': lt.alert.category_t.all_categories})
atp = lt.add_torrent_params(); atp.ti = ti; atp.save_path = d
h = s.add_torrent(atp)
deadline = time.time() + 10
while time.time() < deadline and h.status().state != lt.torrent_status.downloading:
    time.sleep(0.02)
events = []
def drain():
    for a in s.pop_alerts():
        if isinstance(a, (lt.piece_finished_alert, lt.hash_failed_alert)):
            events.append([type(a).__name__, a.piece_index])
h.add_piece(1, b'\0' * 16384, 0)
deadline = time.time() + 10
while time.time() < deadline and not events:
    drain(); time.sleep(0.02)
for i in range(4):
    h.add_piece(i, data[i * 16384:(i + 1) * 16384], 0)
deadline = time.time() + 10
while time.time() < deadline and not h.status().is_seeding:
    drain(); time.sleep(0.02)
time.sleep(0.2); drain()
print(json.dumps({'events': sorted(events), 'seeding': h.status().is_seeding,
                  'have': [h.have_piece(i) for i in range(4)],
                  'ok': open(os.path.join(d, 'p', 'x.bin'), 'rb').read() == data}))
"""


def test_add_piece_matches_reference():
    ours = run_ours(ADD_PIECE)
    assert ours["seeding"] and ours["ok"] and ours["have"] == [True] * 4
    assert ["hash_failed_alert", 1] in ours["events"]
    assert run_ref(ADD_PIECE) == ours


def limited_transfer(tmp_path, pair, set_limit):
    """300 KiB from a seed capped at 200 KiB/s (about 1.5 s); once the
    connection exists `set_limit` caps that one peer at 40 KiB/s, which
    must stretch the transfer well past 4 s (a lower bound only: a loaded
    machine can only make it slower)."""
    seeder, leecher = pair
    ti = make(tmp_path, {"x.bin": 300 * 1024})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    s.set_upload_limit(200 * 1024)
    h = add(leecher, ti, tmp_path / "dl")
    start = time.monotonic()
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    assert wait(lambda: h.get_peer_info() and s.get_peer_info(), 10)
    set_limit(s, h)
    assert wait(lambda: h.status().is_seeding, 60)
    assert time.monotonic() - start > 4
    assert (tmp_path / "dl" / "t" / "x.bin").read_bytes() == (tmp_path / "seed" / "t" / "x.bin").read_bytes()


def test_peer_download_limit(tmp_path, pair):  # noqa: F811
    limited_transfer(tmp_path, pair,
                     lambda s, h: h.set_peer_download_limit(h.get_peer_info()[0].ip, 40 * 1024))


def test_peer_upload_limit(tmp_path, pair):  # noqa: F811
    limited_transfer(tmp_path, pair,
                     lambda s, h: s.set_peer_upload_limit(s.get_peer_info()[0].ip, 40 * 1024))


def test_outgoing_ports(tmp_path, pair):  # noqa: F811
    import socket
    seeder, leecher = pair
    # a free range of local ports, probed by binding its first port
    for base in range(41000, 60000, 997):
        try:
            probe = socket.socket()
            probe.bind(("127.0.0.1", base))
            probe.close()
            break
        except OSError:
            continue
    leecher.outgoing_ports(base, base + 5)
    # the range binds TCP connections; uTP ones leave from the listen
    # socket (as on the reference), and uTP is tried first
    leecher.apply_settings({"enable_outgoing_utp": False})
    st = leecher.get_settings()
    assert (st["outgoing_port"], st["num_outgoing_ports"]) == (base, 5)
    ti = make(tmp_path, {"x.bin": 64 * 1024})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    h = add(leecher, ti, tmp_path / "dl")
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    assert wait(lambda: h.status().is_seeding)
    ports = {a.endpoint[1] for a in seeder.pop_alerts()
             if isinstance(a, lt.incoming_connection_alert)}
    assert ports and all(base <= p < base + 5 for p in ports), ports


def test_file_status_lists_open_files(tmp_path, pair):  # noqa: F811
    import datetime
    seeder, leecher = pair
    ti = make(tmp_path, {"a.bin": 40 * 1024, "b.bin": 40 * 1024})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    h = add(leecher, ti, tmp_path / "dl")
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    assert wait(lambda: h.status().is_seeding)
    # the downloaded files were opened for writing and are still pooled
    files = h.file_status()
    assert sorted(f.file_index for f in files) == [0, 1]
    assert all(f.open_mode == 2 for f in files)          # read_write
    now = datetime.datetime.now()
    assert all(abs((now - f.last_use).total_seconds()) < 60 for f in files)
    # reading a piece of the seed opens its first file read-only
    s.read_piece(0)
    assert wait(lambda: any(isinstance(a, lt.read_piece_alert) for a in seeder.pop_alerts()))
    assert 0 in [f.file_index for f in s.file_status()]


def test_reopen_network_sockets_retries_a_busy_port():
    import socket
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    # (no moving on to the next ports or a system port: test_setting_effects)
    ses = lt.session({"listen_interfaces": f"127.0.0.1:{port}", "enable_dht": False,
                      "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                      "max_retry_port_bind": 0, "listen_system_port_fallback": False,
                      "alert_mask": lt.alert.category_t.status_notification
                      | lt.alert.category_t.error_notification})
    assert wait(lambda: any(isinstance(a, lt.listen_failed_alert) for a in ses.pop_alerts()), 10)
    assert not ses.is_listening()
    ses.reopen_network_sockets()           # still busy: fails again
    assert wait(lambda: any(isinstance(a, lt.listen_failed_alert) for a in ses.pop_alerts()), 10)
    busy.close()
    ses.reopen_network_sockets()
    assert wait(lambda: any(isinstance(a, lt.listen_succeeded_alert) for a in ses.pop_alerts()), 10)
    assert ses.is_listening() and ses.listen_port() == port
    ses.reopen_network_sockets()           # nothing to do: no second socket
    time.sleep(0.3)
    assert not any(isinstance(a, (lt.listen_succeeded_alert, lt.listen_failed_alert))
                   for a in ses.pop_alerts())
