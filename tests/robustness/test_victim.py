"""Our module as a downloading victim: corrupt blocks from a hostile seed,
and a download killed with SIGKILL mid-way. The session under test runs in
its own process (lt_host.py); the seeds are hostile_peer.HostileSeed (a raw
socket seed) and an honest session. Loopback only: the hostile seed listens
on 127.0.0.2 so that banning it (by address) does not ban the honest seed on
127.0.0.1."""
from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import pytest

from harness import wait_for
from hostile_peer import HostileSeed, Torrent


def what(a) -> str:
    w = a["what"]
    return w[:-6] if w.endswith("_alert") else w


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_corrupt_blocks_fail_hash_ban_and_refetch(impl, tmp_path, make_host):
    rng = random.Random(99)
    t = Torrent(tmp_path / "t", "c.bin", rng.randbytes(2 * 1024 * 1024 + 123), piece_length=64 * 1024)
    corrupt = {2, 5, 9}
    honest = make_host("ours", tmp_path / "honest", [(t.path, t.seed_dir)], name="honest")
    dl = tmp_path / "dl"
    dl.mkdir()
    with HostileSeed(t, corrupt=corrupt, host="127.0.0.2") as bad:
        victim = make_host(impl, tmp_path / "victim", [(t.path, dl)], connect=[bad.address],
                           settings={"max_failcount": 1}, name="victim")
        # Only the hostile seed is known: it delivers every piece, the
        # corrupt ones fail their hash and it is banned.
        ban = victim.wait_alert(lambda a: what(a) == "peer_ban", 30)
        assert ban is not None, f"no peer_ban_alert; alerts: {[what(a) for a in victim.alerts()][-30:]}"
        failed = {a["piece"] for a in victim.alerts() if what(a) == "hash_failed"}
        assert failed and failed <= corrupt, f"hash failures {failed}, corrupt pieces {corrupt}"
        assert bad.corrupt_blocks_sent >= 1
        # Banned: asking for it again does not bring it back.
        before = bad.connections
        victim.command(f"connect {bad.address}")
        time.sleep(3)
        assert bad.connections == before, "the banned peer was connected again"
        # The honest seed supplies what is missing.
        victim.command(f"connect 127.0.0.1:{honest.port}")
        done = wait_for(lambda: victim.wait_alert(lambda a: what(a) == "torrent_finished", 0), 60, 0.2)
        assert done, "the victim did not finish from the honest seed"
        assert bad.connections == before
    summary = victim.stop()
    assert summary["seeding"] == [True]
    assert (dl / t.name).read_bytes() == t.data
    finished = {a["piece"] for a in victim.alerts() if what(a) == "piece_finished"}
    assert finished == set(range(t.num_pieces))
    # Every failed piece was fetched again (and passed).
    assert failed <= finished


def verified_on_disk(t: Torrent, path: Path):
    """Indices of the pieces whose bytes on disk match their hash."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    out = set()
    for i in range(t.num_pieces):
        chunk = data[i * t.piece_length:i * t.piece_length + t.piece_size(i)]
        if hashlib.sha1(chunk).digest() == t.piece_hashes[i]:
            out.add(i)
    return out


def test_sigkill_mid_download_keeps_verified_pieces(tmp_path, make_host):
    rng = random.Random(7)
    t = Torrent(tmp_path / "t", "k.bin", rng.randbytes(4 * 1024 * 1024 - 999), piece_length=64 * 1024)
    dl = tmp_path / "dl"
    dl.mkdir()
    reported_total = set()
    with HostileSeed(t, delay=0.01) as seed:  # honest, just slow
        for run, kill_at in enumerate((12, 36)):
            h = make_host("ours", tmp_path / f"run{run}", [(t.path, dl)], connect=[seed.address],
                          name=f"run{run}")
            got = wait_for(lambda: len({a["piece"] for a in h.alerts()
                                        if what(a) == "piece_finished"} | reported_total) >= kill_at,
                           60, 0.02)
            assert got, f"run {run}: the download did not progress"
            h.kill()
            reported = {a["piece"] for a in h.alerts() if what(a) == "piece_finished"}
            reported_total |= reported
            # Nothing was reported done that is not on disk, intact.
            on_disk = verified_on_disk(t, dl / t.name)
            lost = reported_total - on_disk
            assert not lost, f"run {run}: pieces reported finished but not intact on disk after SIGKILL: {sorted(lost)}"
            # A restart's recheck finds every one of them.
            check = make_host("ours", tmp_path / f"check{run}", [(t.path, dl)], name=f"check{run}")
            summary = check.stop()
            found = set(summary["pieces"][0])
            assert reported_total <= found, f"run {run}: recheck lost {sorted(reported_total - found)}"
            assert found <= on_disk, "recheck reported a piece whose data is wrong"
            assert summary["progress"][0] < 1.0
        # Finish.
        final = make_host("ours", tmp_path / "final", [(t.path, dl)], connect=[seed.address],
                          exit_when_done=True, name="final")
        code, summary = final.wait(90)
        assert code == 0 and summary["seeding"] == [True], summary
    assert (dl / t.name).read_bytes() == t.data
    # Nothing verified before the kills had to be downloaded again.
    refetched = {a["piece"] for a in final.alerts() if what(a) == "piece_finished"} & reported_total
    assert not refetched, f"pieces verified before the kill were downloaded again: {sorted(refetched)}"
