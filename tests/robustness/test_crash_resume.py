"""Crash safety of resume data: a downloader (our module, in its own
process) that saves resume data the way real clients do (periodically, on
piece_finished, writing the file from save_resume_data_alert through a
temporary file and a rename) is killed with SIGKILL at a random moment, 50
times, and restarted from its last resume file each time. After every
restart:
  - nothing the resume file says is verified is lost (every piece it lists
    as had is had again, without a recheck),
  - nothing unverified is reported done: every piece the restarted session
    reports as had, and every block of an unfinished piece the resume file
    lists, is byte-correct on disk,
and at the end the download completes byte-identical to the seeder's.
The seeder (our module too, tests/peers/lt_peer.py) is rate-limited and the
pieces are small, so that kills land mid-download. Bounded: well under
90 s."""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import libtorrent as lt

HERE = Path(__file__).resolve().parent
LT_PEER = HERE.parent / "peers" / "lt_peer.py"
PIECE = 65536  # 4 blocks: partly downloaded pieces exist
NUM_PIECES = 32
BLOCK = 16384
KILLS = 50
RATE = 80_000  # bytes/s from the seeder

DOWNLOADER = r"""
import json, os, sys, time
import libtorrent as lt
tor, save, resume, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ses = lt.session({"enable_outgoing_utp": False, "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                  "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0",
                  "alert_mask": lt.alert.category_t.status_notification
                  | lt.alert.category_t.storage_notification
                  | lt.alert.category_t.progress_notification
                  | lt.alert.category_t.error_notification})
# the .torrent is kept apart from the resume file, as clients do
if os.path.exists(resume):
    atp = lt.read_resume_data(open(resume, "rb").read())
else:
    atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
h = ses.add_torrent(atp)
def emit(**kw):
    print(json.dumps(kw), flush=True)
checking = False
rejected = []
def handle(a):
    global checking
    if isinstance(a, lt.save_resume_data_alert):
        tmp = resume + ".tmp"
        with open(tmp, "wb") as f:
            f.write(lt.write_resume_data_buf(a.params))
        os.replace(tmp, resume)
    elif isinstance(a, lt.piece_finished_alert):
        h.save_resume_data(lt.torrent_handle.flush_disk_cache)
    elif isinstance(a, lt.state_changed_alert) and a.state == lt.torrent_status.checking_files:
        checking = True
    elif isinstance(a, lt.fastresume_rejected_alert):
        rejected.append(a.message())
end = time.time() + 30
while True:
    for a in ses.pop_alerts():
        handle(a)
    st = h.status()
    if st.state in (lt.torrent_status.downloading, lt.torrent_status.finished,
                    lt.torrent_status.seeding):
        break
    if time.time() > end:
        emit(event="stuck", state=str(st.state))
        sys.exit(1)
    ses.wait_for_alert(20)
emit(event="restored", pieces=[i for i, b in enumerate(st.pieces) if b],
     checking=checking, rejected=rejected)
h.connect_peer(("127.0.0.1", port))
last_save = time.time()
done = False
while True:
    ses.wait_for_alert(50)
    for a in ses.pop_alerts():
        handle(a)
    if time.time() - last_save > 0.3:
        h.save_resume_data(lt.torrent_handle.flush_disk_cache)
        last_save = time.time()
    if not done and h.status().is_seeding:
        done = True
        h.save_resume_data(lt.torrent_handle.flush_disk_cache)
        emit(event="complete")
"""


def make_payload():
    out = bytearray()
    seed = b"crash"
    while len(out) < PIECE * NUM_PIECES:
        seed = hashlib.sha256(seed).digest()
        out += seed * 16
    return bytes(out[:PIECE * NUM_PIECES])


def resume_claims(path):
    """(had pieces, {piece: [blocks]}) the resume file says are on disk."""
    if not path.exists():
        return set(), {}
    atp = lt.read_resume_data(path.read_bytes())
    had = {i for i, b in enumerate(atp.have_pieces) if b}
    unfinished = {int(p): [k for k, b in enumerate(m) if b]
                  for p, m in atp.unfinished_pieces.items()}
    return had, unfinished


def test_sigkill_loop_never_loses_verified_data(tmp_path):
    payload = make_payload()
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    (seed_dir / "data.bin").write_bytes(payload)
    fs = lt.file_storage()
    fs.add_file("data.bin", len(payload))
    ct = lt.create_torrent(fs, PIECE, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(seed_dir))
    tor = tmp_path / "t.torrent"
    tor.write_bytes(lt.bencode(ct.generate()))
    port_file = tmp_path / "port"
    seeder = subprocess.Popen(
        [sys.executable, str(LT_PEER), "seed", "--torrent", str(tor), "--save-path",
         str(seed_dir), "--port-file", str(port_file), "--timeout", "120",
         "--upload-rate-limit", str(RATE)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    save = tmp_path / "leech"
    save.mkdir()
    resume = tmp_path / "t.resume"
    target = save / "data.bin"
    rng = random.Random(20261128)
    started = time.time()
    stats = {"restarts": 0, "had_max": 0, "unfinished_blocks": 0, "killed_with": []}
    try:
        end = time.time() + 20
        while not port_file.exists():
            assert seeder.poll() is None and time.time() < end, "seeder never listened"
            time.sleep(0.05)
        port = port_file.read_text()

        def start():
            return subprocess.Popen(
                [sys.executable, "-c", DOWNLOADER, str(tor), str(save), str(resume), port],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def restored(proc):
            line = proc.stdout.readline()
            assert line, f"downloader died: {proc.stderr.read()[-2000:]}"
            ev = json.loads(line)
            assert ev["event"] == "restored", ev
            return ev

        def check_restart(ev, claimed_had, claimed_blocks):
            had = set(ev["pieces"])
            assert not ev["rejected"], ev["rejected"]
            if claimed_had or claimed_blocks:
                # (resume data claiming nothing is checked against the files)
                assert not ev["checking"], "resume data was rechecked"
            # nothing verified is lost
            assert claimed_had <= had, sorted(claimed_had - had)
            disk = target.read_bytes() if target.exists() else b""
            # nothing unverified is reported done
            for p in had:
                assert disk[p * PIECE:(p + 1) * PIECE] == payload[p * PIECE:(p + 1) * PIECE], \
                    f"piece {p} reported had but wrong on disk"
            for p, blocks in claimed_blocks.items():
                for b in blocks:
                    at = p * PIECE + b * BLOCK
                    assert disk[at:at + BLOCK] == payload[at:at + BLOCK], \
                        f"block {p}/{b} in resume data but wrong on disk"
            stats["had_max"] = max(stats["had_max"], len(had))
            stats["unfinished_blocks"] += sum(len(b) for b in claimed_blocks.values())

        for k in range(KILLS):
            claimed_had, claimed_blocks = resume_claims(resume)
            proc = start()
            try:
                ev = restored(proc)
                check_restart(ev, claimed_had, claimed_blocks)
                stats["restarts"] += 1
                time.sleep(rng.uniform(0.05, 0.7))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc.stdout.close()
                proc.stderr.close()
            stats["killed_with"].append(len(resume_claims(resume)[0]))
            assert time.time() - started < 75, f"too slow: {stats}"

        # the last restart runs to the end
        claimed_had, claimed_blocks = resume_claims(resume)
        proc = start()
        try:
            ev = restored(proc)
            check_restart(ev, claimed_had, claimed_blocks)
            deadline = time.time() + 60
            while True:
                line = proc.stdout.readline()
                assert line, f"downloader died: {proc.stderr.read()[-2000:]}"
                if json.loads(line)["event"] == "complete":
                    break
                assert time.time() < deadline
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        assert target.read_bytes() == payload
    finally:
        if seeder.poll() is None:
            seeder.stdin.close()
            try:
                seeder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                seeder.kill()
                seeder.wait()
    # the kills did land mid-download: progress grew over the loop and the
    # download was not finished long before the last kill
    kw = stats["killed_with"]
    assert kw[0] < NUM_PIECES // 2, stats
    assert sum(1 for n in kw if 0 < n < NUM_PIECES) >= KILLS // 3, stats
    print(json.dumps({k: v for k, v in stats.items() if k != "killed_with"}), kw)
