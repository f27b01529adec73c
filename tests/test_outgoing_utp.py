"""Outgoing uTP (enable_outgoing_utp / enable_outgoing_tcp): transfers over
uTP only between our module and the reference in both directions, and the
fallback to TCP when the peer does not answer uTP. Every download is
compared byte for byte with the seed. Peers run as tests/peers/lt_peer.py
processes on loopback."""
import hashlib
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ltdiff import PY, digest, ref_make_torrent

HERE = Path(__file__).resolve().parent
LT_PEER = HERE / "peers" / "lt_peer.py"

UTP_ONLY = ["enable_outgoing_tcp=false"]


@pytest.fixture(scope="module")
def torrent(tmp_path_factory):
    """A two-file torrent of 1.3 MB made by the reference."""
    d = tmp_path_factory.mktemp("utp")
    ref_make_torrent(d, {"a.bin": hashlib.sha256(b"utp-a").digest() * 30000,
                         "b.bin": hashlib.sha256(b"utp-b").digest() * 11111}, 65536)
    return d


def sets(args):
    return [a for kv in args for a in ("--set", kv)]


class Seeder:
    def __init__(self, who, torrent, tmp_path, settings=()):
        self.port_file = tmp_path / f"port-{who}"
        self.proc = subprocess.Popen(
            [PY[who], str(LT_PEER), "seed", "--torrent", str(torrent / "t.torrent"),
             "--save-path", str(torrent / "seed"), "--port-file", str(self.port_file),
             "--timeout", "90", *sets(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            assert self.proc.poll() is None, "seeder exited"
            assert time.monotonic() < deadline, "seeder did not start"
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(15)
        except Exception:
            self.proc.kill()
            self.proc.wait(10)
        lines = [json.loads(x) for x in self.proc.stdout.read().splitlines() if x.strip()]
        return next((x for x in lines if x.get("event") == "summary"), {})


def leech(who, torrent, dest, port, settings=(), timeout=60):
    # stdin stays open: lt_peer gives up when it closes
    proc = subprocess.Popen(
        [PY[who], str(LT_PEER), "leech", "--torrent", str(torrent / "t.torrent"),
         "--save-path", str(dest), "--connect", f"127.0.0.1:{port}",
         "--timeout", str(timeout), *sets(settings)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout + 30)
        out = proc.stdout.read()
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdin.close()
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    summary = next((x for x in lines if x.get("event") == "summary"), None)
    assert summary, err[-2000:]
    return summary


def connects(summary):
    return [a for a in summary["alerts"] if a.startswith("peer_connect_alert")]


@pytest.mark.parametrize("seeder,leecher", [
    ("ours", "ours"),
    ("ref", "ours"),
    ("ours", "ref"),
])
def test_utp_only_transfer(torrent, tmp_path, seeder, leecher):
    seed = Seeder(seeder, torrent, tmp_path)
    try:
        t0 = time.monotonic()
        s = leech(leecher, torrent, tmp_path / "dl", seed.port, UTP_ONLY)
        secs = time.monotonic() - t0
    finally:
        seed_summary = seed.stop()
    assert s["done"] and s["is_seeding"], s
    assert digest(tmp_path / "dl") == digest(torrent / "seed")
    c = connects(s)
    assert c and all(x.endswith("(uTP)") for x in c), c
    # the seeder saw the connection arrive over uTP
    assert any("incoming_connection_alert" in a and "uTP" in a
               for a in seed_summary.get("alerts", [])), seed_summary.get("alerts")
    assert secs < 40


def test_ours_falls_back_to_tcp_when_the_reference_ignores_utp(torrent, tmp_path):
    # The reference with incoming uTP off drops our SYNs without an answer:
    # after utp_connect_timeout (3 s) we try TCP.
    seed = Seeder("ref", torrent, tmp_path, ["enable_incoming_utp=false"])
    try:
        t0 = time.monotonic()
        s = leech("ours", torrent, tmp_path / "dl", seed.port)
        secs = time.monotonic() - t0
    finally:
        seed.stop()
    assert s["done"], s
    assert digest(tmp_path / "dl") == digest(torrent / "seed")
    # peer_connect_alert comes as each attempt starts: the uTP one(s),
    # then the TCP one that got through
    c = connects(s)
    assert c and c[-1].endswith("(TCP)") and all(x.endswith("(uTP)") for x in c[:-1]), c
    assert 2.5 < secs < 30, secs


def test_ours_falls_back_to_tcp_for_a_tcp_only_peer(torrent, tmp_path):
    # A peer that only listens on TCP: a relay in front of our seeder on a
    # port where nothing answers uTP.
    seed = Seeder("ours", torrent, tmp_path, ["enable_incoming_utp=false"])
    relay = socket.socket()
    relay.bind(("127.0.0.1", 0))
    relay.listen(8)
    relay_port = relay.getsockname()[1]

    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            try:
                c, _ = relay.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", seed.port))
            threading.Thread(target=pipe, args=(c, up), daemon=True).start()
            threading.Thread(target=pipe, args=(up, c), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        s = leech("ours", torrent, tmp_path / "dl", relay_port, ["utp_connect_timeout=800"])
    finally:
        relay.close()
        seed.stop()
    assert s["done"], s
    assert digest(tmp_path / "dl") == digest(torrent / "seed")
    # peer_connect_alert comes as each attempt starts: the uTP one(s),
    # then the TCP one that got through
    c = connects(s)
    assert c and c[-1].endswith("(TCP)") and all(x.endswith("(uTP)") for x in c[:-1]), c


def test_no_outgoing_transport_connects_to_nobody(torrent, tmp_path):
    seed = Seeder("ours", torrent, tmp_path)
    try:
        s = leech("ours", torrent, tmp_path / "dl", seed.port,
                  ["enable_outgoing_tcp=false", "enable_outgoing_utp=false"], timeout=4)
    finally:
        seed.stop()
    assert not s["done"] and s["total_payload_download"] == 0 and s["peers"] == []
    assert connects(s) == []

