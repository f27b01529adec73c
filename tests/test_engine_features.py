"""Engine behaviour users rely on, checked end to end between two sessions
of our module on loopback: file priorities, rate limits, sequential
download, read_piece, force_recheck, pause/resume alerts, IPv6."""
import hashlib
import os
import time

import libtorrent as lt
import pytest

BASE = {
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.all_categories,
}


def session(listen="127.0.0.1:0", **extra):
    return lt.session(dict(BASE, listen_interfaces=listen, **extra))


def make(tmp_path, files, piece=16384):
    src = tmp_path / "seed" / "t"
    src.mkdir(parents=True)
    for name, size in files.items():
        (src / name).write_bytes(hashlib.sha256(name.encode()).digest() * (size // 32) + b"z" * (size % 32))
    fs = lt.file_storage()
    for name, size in sorted(files.items()):
        fs.add_file("t/" + name, size)
    ct = lt.create_torrent(fs, piece, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(tmp_path / "seed"))
    return lt.torrent_info(lt.bencode(ct.generate()))


def add(ses, ti, path, **fields):
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = str(path)
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    for k, v in fields.items():
        setattr(atp, k, v)
    return ses.add_torrent(atp)


def wait(pred, secs=30):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def pair(tmp_path):
    seeder, leecher = session(), session()
    yield seeder, leecher
    del seeder, leecher


def test_file_priority_zero_is_not_downloaded(tmp_path, pair):
    seeder, leecher = pair
    ti = make(tmp_path, {"a.bin": 64 * 1024, "b.bin": 64 * 1024, "c.bin": 64 * 1024})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    h = add(leecher, ti, tmp_path / "dl", file_priorities=[4, 0, 4])
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    assert wait(lambda: h.status().is_finished)
    st = h.status()
    assert not st.is_seeding                      # finished, but b.bin was skipped
    assert h.file_progress() == [64 * 1024, 0, 64 * 1024]
    assert h.get_file_priorities() == [4, 0, 4]
    assert not (tmp_path / "dl" / "t" / "b.bin").exists()
    assert (tmp_path / "dl" / "t" / "a.bin").read_bytes() == (tmp_path / "seed" / "t" / "a.bin").read_bytes()
    # asking for the file later fetches it
    h.prioritize_files([4, 4, 4])
    assert wait(lambda: h.status().is_seeding)
    assert (tmp_path / "dl" / "t" / "b.bin").read_bytes() == (tmp_path / "seed" / "t" / "b.bin").read_bytes()


def test_upload_rate_limit_slows_the_transfer(tmp_path, pair):
    seeder, leecher = pair
    size = 600 * 1024
    ti = make(tmp_path, {"x.bin": size})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    s.set_upload_limit(200 * 1024)
    assert s.upload_limit() == 200 * 1024
    h = add(leecher, ti, tmp_path / "dl")
    start = time.monotonic()
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    assert wait(lambda: h.status().is_seeding, 60)
    # 600 KiB at 200 KiB/s needs well over a second (a lower bound only:
    # a loaded machine can only make it slower)
    assert time.monotonic() - start > 1.5


def test_session_download_limit_and_sequential(tmp_path, pair):
    seeder, leecher = pair
    leecher.apply_settings({"download_rate_limit": 150 * 1024})
    # the session limit is the global peer class's, which leaves out the
    # local network by default: put loopback in it
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    leecher.set_peer_class_filter(f)
    ti = make(tmp_path, {"x.bin": 400 * 1024})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    h = add(leecher, ti, tmp_path / "dl")
    h.set_sequential_download(True)
    assert h.status().sequential_download
    order = []
    start = time.monotonic()
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    def done():
        for a in leecher.pop_alerts():
            if isinstance(a, lt.piece_finished_alert):
                order.append(a.piece_index)
        return h.status().is_seeding
    assert wait(done, 60)
    assert time.monotonic() - start > 1.5
    assert len(order) == ti.num_pieces()
    # in sequential mode pieces complete close to in order
    assert sum(1 for a, b in zip(order, order[1:]) if b < a) <= 3, order


def test_force_recheck_and_pause_resume_alerts(tmp_path):
    ses = session()
    ti = make(tmp_path, {"x.bin": 100 * 1024})
    h = add(ses, ti, tmp_path / "seed")
    assert wait(lambda: h.status().is_seeding)
    # damage one piece on disk: the recheck must find it missing
    p = tmp_path / "seed" / "t" / "x.bin"
    data = bytearray(p.read_bytes())
    data[20000] ^= 0xFF
    p.write_bytes(bytes(data))
    ses.pop_alerts()
    h.force_recheck()
    assert wait(lambda: h.status().state == lt.torrent_status.states.downloading
                and h.status().num_pieces == ti.num_pieces() - 1)
    assert not h.have_piece(1) and h.have_piece(0)
    h.pause()
    assert wait(lambda: h.status().paused)
    h.resume()
    seen = []
    assert wait(lambda: (seen.extend(a.what() for a in ses.pop_alerts()), "torrent_resumed" in seen)[1])
    assert "torrent_paused" in seen and "torrent_checked" in seen


def test_ipv6_transfer(tmp_path):
    try:
        seeder, leecher = session("[::1]:0"), session("[::1]:0")
    except RuntimeError:
        pytest.skip("no IPv6 loopback")
    if not seeder.is_listening():
        pytest.skip("no IPv6 loopback")
    ti = make(tmp_path, {"x.bin": 200 * 1024})
    s = add(seeder, ti, tmp_path / "seed")
    assert wait(lambda: s.status().is_seeding)
    h = add(leecher, ti, tmp_path / "dl")
    h.connect_peer(("::1", seeder.listen_port()))
    assert wait(lambda: h.status().is_seeding)
    assert [p.ip[0] for p in s.get_peer_info()] in ([], ["::1"])
    assert (tmp_path / "dl" / "t" / "x.bin").read_bytes() == (tmp_path / "seed" / "t" / "x.bin").read_bytes()
