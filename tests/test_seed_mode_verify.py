"""Seed mode (`torrent_flags.seed_mode`) hashes each piece before its first
upload, as libtorrent does: `verified_pieces` lists the pieces hashed so far,
the torrent leaves seed mode once every piece is verified, and a piece that
fails its hash makes it leave seed mode and check its files, so the bad
piece is never sent. The same script runs against the reference and ours,
each with a leecher of its own kind, on loopback (~10 s each)."""
import pytest

SCRIPT = r"""
import json, os, shutil, sys, time, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
D = os.environ["DIR"]
corrupt = os.environ.get("CORRUPT") == "1"
PIECE, N = 32768, 12
shutil.rmtree(D, ignore_errors=True)
os.makedirs(D + "/s/t")
data = bytes((i * 7 + i // 1000) % 251 for i in range(PIECE * N))
open(D + "/s/t/f.bin", "wb").write(data)
fs = lt.file_storage()
fs.add_file("t/f.bin", len(data))
ct = lt.create_torrent(fs, PIECE, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, D + "/s")
ti = lt.torrent_info(lt.bencode(ct.generate()))
if corrupt:
    with open(D + "/s/t/f.bin", "r+b") as f:
        f.seek(3 * PIECE + 5)
        f.write(b"\xff\xfe")
S = {"enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
     "listen_interfaces": "127.0.0.1:0", "alert_mask": lt.alert_category.status | lt.alert_category.error}
seeder = lt.session(S)
p = lt.add_torrent_params()
p.ti = ti
p.save_path = D + "/s"
p.flags |= lt.torrent_flags.seed_mode
p.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
hs = seeder.add_torrent(p)
failed = []

def pump():
    for a in seeder.pop_alerts():
        if isinstance(a, lt.hash_failed_alert):
            failed.append(a.piece_index)

def seed_state():
    st = hs.status(lt.torrent_handle.query_verified_pieces)
    return {"seed_mode": bool(st.flags & lt.torrent_flags.seed_mode),
            "verified": [i for i, v in enumerate(st.verified_pieces) if v],
            "verified_len": len(st.verified_pieces), "num_pieces": st.num_pieces}

def leech(name, prios, wait):
    ses = lt.session(S)
    p = lt.add_torrent_params()
    p.ti = ti
    p.save_path = D + "/" + name
    p.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    p.piece_priorities = prios
    h = ses.add_torrent(p)
    h.connect_peer(("127.0.0.1", seeder.listen_port()))
    end = time.time() + wait
    while time.time() < end and not h.status().is_finished:
        pump()
        time.sleep(0.05)
    have = [i for i, v in enumerate(h.status().pieces) if v]
    return ses, h, have

time.sleep(0.3)
pump()
out = {"before": seed_state()}
if not corrupt:
    ses1, h1, have1 = leech("l1", [7 if i in (1, 3) else 0 for i in range(N)], 10)
    out["partial"] = dict(seed_state(), leecher=have1)
    # resume data keeps the verified pieces, and adding it restores them
    hs.save_resume_data()
    end = time.time() + 5
    rd = None
    while rd is None and time.time() < end:
        for a in seeder.pop_alerts():
            if isinstance(a, lt.save_resume_data_alert):
                rd = lt.write_resume_data_buf(a.params)
        time.sleep(0.02)
    atp = lt.read_resume_data(rd)
    out["resume_verified"] = [i for i, v in enumerate(atp.verified_pieces) if v]
    out["resume_seed_mode"] = bool(atp.flags & lt.torrent_flags.seed_mode)
    other = lt.session(S)
    atp.ti = ti
    # with its piece list the resume data is trusted and ends seed mode;
    # without it, seed mode goes on from the pieces verified so far
    restored = []
    for have in (atp.have_pieces, []):
        atp.have_pieces = have
        h3 = other.add_torrent(atp)
        time.sleep(0.5)
        st = h3.status(lt.torrent_handle.query_verified_pieces)
        restored.append([bool(st.flags & lt.torrent_flags.seed_mode),
                         [i for i, v in enumerate(st.verified_pieces) if v],
                         str(st.state).split(".")[-1], st.num_pieces])
        other.remove_torrent(h3)
        time.sleep(0.2)
    out["restored"] = restored
    del other
    ses2, h2, have2 = leech("l2", [1] * N, 10)
    got = open(D + "/l2/t/f.bin", "rb").read() if len(have2) == N else b""
    out["full"] = dict(seed_state(), leecher=len(have2), same=got == data)
else:
    ses1, h1, have1 = leech("l1", [1] * N, 4)
    end = time.time() + 10
    while time.time() < end and (hs.status().state != lt.torrent_status.downloading or not failed):
        pump()
        time.sleep(0.05)
    pump()
    out["after"] = dict(seed_state(), leecher=have1, failed=failed,
                        state=str(hs.status().state).split(".")[-1])
print(json.dumps(out))
"""


def test_pieces_are_verified_before_their_first_upload(ref, ours, tmp_path):
    for run in (ref, ours):
        d = tmp_path / run.__name__
        o = run(SCRIPT, DIR=d)
        assert o["before"] == {"seed_mode": True, "verified": [], "verified_len": 12,
                               "num_pieces": 12}, (run.__name__, o)
        # only the pieces uploaded were hashed; still in seed mode
        assert o["partial"]["leecher"] == [1, 3], (run.__name__, o)
        assert o["partial"]["verified"] == [1, 3], (run.__name__, o)
        assert o["partial"]["seed_mode"], (run.__name__, o)
        assert o["resume_verified"] == [1, 3], (run.__name__, o)
        assert o["resume_seed_mode"], (run.__name__, o)
        assert o["restored"] == [[False, [], "seeding", 12],
                                 [True, [1, 3], "seeding", 12]], (run.__name__, o)
        # all verified: an ordinary seed, no verified list any more
        assert o["full"] == {"seed_mode": False, "verified": [], "verified_len": 0,
                             "num_pieces": 12, "leecher": 12, "same": True}, (run.__name__, o)


def test_a_bad_piece_ends_seed_mode_and_is_never_sent(ref, ours, tmp_path):
    for run in (ref, ours):
        d = tmp_path / run.__name__
        o = run(SCRIPT, DIR=d, CORRUPT="1")["after"]
        assert o["failed"] == [3], (run.__name__, o)
        assert not o["seed_mode"], (run.__name__, o)
        # the check found every piece but the damaged one
        assert o["num_pieces"] == 11 and o["state"] == "downloading", (run.__name__, o)
        assert 3 not in o["leecher"], (run.__name__, o)
