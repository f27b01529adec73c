"""Streaming: our leecher sets piece deadlines (alert_when_available) on
the first pieces of a file served by a reference seeder whose torrent is
rate-limited (upload_limit); those pieces finish
first, in deadline order, and each comes back as a read_piece_alert with
the right bytes."""
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import libtorrent as lt
import pytest

from ltdiff import REF_PY

SEEDER = r"""
import os, select, sys, time
import libtorrent as lt
tor, save, port_file = sys.argv[1:4]
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False, "aio_threads": 1,
                  "allowed_fast_set_size": 0})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.upload_limit = 160000
h = ses.add_torrent(atp)
end = time.time() + 60
while not h.status().is_seeding and time.time() < end:
    time.sleep(0.05)
open(port_file + ".tmp", "w").write(str(ses.listen_port()))
os.replace(port_file + ".tmp", port_file)
while time.time() < end:
    ses.pop_alerts()
    if select.select([sys.stdin], [], [], 0.1)[0] and not sys.stdin.read(1):
        break
"""
PIECE = 16384
NUM_PIECES = 96
STREAM = 10  # pieces with a deadline


def payload():
    out = bytearray()
    seed = b"stream"
    while len(out) < PIECE * NUM_PIECES:
        seed = hashlib.sha256(seed).digest()
        out += seed * 64
    return bytes(out[:PIECE * NUM_PIECES])


@pytest.fixture
def seeded(tmp_path):
    data = payload()
    seed_dir = tmp_path / "seed"
    (seed_dir / "movie").mkdir(parents=True)
    (seed_dir / "movie" / "film.bin").write_bytes(data)
    (seed_dir / "movie" / "extra.txt").write_bytes(b"x" * 5000)
    fs = lt.file_storage()
    lt.add_files(fs, str(seed_dir / "movie"))
    ct = lt.create_torrent(fs, PIECE, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(seed_dir))
    tor = tmp_path / "movie.torrent"
    tor.write_bytes(lt.bencode(ct.generate()))
    port_file = tmp_path / "port"
    # 160 KB/s for this torrent: the whole torrent takes ~10 s, the
    # streamed pieces ~1 s. One disk thread, so that the seeder answers
    # requests in the order they came, and no allowed-fast pieces (BEP 6),
    # which a choked leecher requests before it may ask for the streamed
    # ones: what is under test is our side's ordering.
    seeder = subprocess.Popen(
        [str(REF_PY), "-c", SEEDER, str(tor), str(seed_dir), str(port_file)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        end = time.time() + 30
        while not port_file.exists():
            assert seeder.poll() is None, "reference seeder exited"
            assert time.time() < end, "reference seeder never listened"
            time.sleep(0.05)
        yield tor, int(port_file.read_text()), seed_dir
    finally:
        if seeder.poll() is None:
            seeder.stdin.close()
            try:
                seeder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                seeder.kill()
                seeder.wait()


def test_deadline_pieces_arrive_first_and_in_order(seeded, tmp_path):
    tor, port, seed_dir = seeded
    ses = lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                      "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0",
                      "alert_mask": lt.alert.category_t.status_notification
                      | lt.alert.category_t.storage_notification
                      | lt.alert.category_t.progress_notification
                      | lt.alert.category_t.error_notification})
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(str(tor))
    atp.save_path = str(tmp_path / "leech")
    h = ses.add_torrent(atp)
    ti = atp.ti
    fs = ti.files()
    film = next(i for i in range(fs.num_files()) if fs.file_name(i) == "film.bin")
    first = ti.map_file(film, 0, 1).piece
    streamed = list(range(first, first + STREAM))
    end = time.time() + 20
    while h.status().state not in (lt.torrent_status.downloading,):
        assert time.time() < end, "leecher never checked"
        time.sleep(0.05)
    # staggered deadlines, set before any peer: nothing else is requested yet
    for k, p in enumerate(streamed):
        h.set_piece_deadline(p, 200 + 100 * k, lt.deadline_flags_t.alert_when_available)
    h.connect_peer(("127.0.0.1", port))

    finished = []
    reads = {}
    read_order = []
    end = time.time() + 45
    while len(reads) < STREAM:
        assert time.time() < end, f"streamed pieces missing: {sorted(reads)}; {finished}"
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.piece_finished_alert):
                finished.append(a.piece_index)
            elif isinstance(a, lt.read_piece_alert):
                assert not a.error.value(), a.message()
                reads[a.piece] = bytes(a.buffer)
                read_order.append(a.piece)
            elif isinstance(a, lt.hash_failed_alert):
                pytest.fail(a.message())
    st = h.status()
    ses.remove_torrent(h)

    # the streamed pieces finished first, in deadline order
    assert finished[:STREAM] == streamed, f"finished {finished[:20]} read {read_order}"
    # every one came back, whole and correct, in the same order
    assert read_order == streamed, f"read {read_order} finished {finished[:20]}"
    whole = b"".join((seed_dir / fs.file_path(i)).read_bytes() for i in range(fs.num_files()))
    for p in streamed:
        off = p * PIECE
        want = whole[off:off + ti.piece_size(p)]
        assert reads[p] == want, f"piece {p} data differs"
    # and the rest of the torrent was still far from done
    assert st.num_pieces < NUM_PIECES
