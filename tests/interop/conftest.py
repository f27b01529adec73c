"""Fixtures of the interop suite: an isolated network, the test data and
.torrent files (made by the reference's create_torrent), a real opentracker
on 127.0.0.1 serving HTTP and UDP announces, and a process set that kills
every client a test started."""
import ctypes
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from clients import REF_PY, HarnessError, Procs, free_port, tail, wait_until

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1


def _enter_private_network():
    """Move this process (and so every client it starts) into a network
    namespace of its own with only the loopback interface: nothing the tests
    run can reach a non-loopback address, whatever it is configured to do.
    Needs root (CI runs as root); elsewhere the clients' own settings are the
    only guard, and a warning says so."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        warnings.warn(f"interop: no private network namespace ({os.strerror(err)}); "
                      "relying on the clients' settings alone to stay on loopback")
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True


@pytest.fixture(scope="session")
def private_network():
    if os.environ.get("LT_INTEROP_NETNS", "1") == "0":
        return False
    return _enter_private_network()


def bdecode(data):
    """Minimal bencode decoder for tracker replies (test-side only)."""
    def dec(i):
        c = data[i:i + 1]
        if c == b"i":
            j = data.index(b"e", i)
            return int(data[i + 1:j]), j + 1
        if c in (b"l", b"d"):
            i += 1
            items = []
            while data[i:i + 1] != b"e":
                v, i = dec(i)
                items.append(v)
            if c == b"l":
                return items, i + 1
            return dict(zip(items[::2], items[1::2])), i + 1
        j = data.index(b":", i)
        n = int(data[i:j])
        return data[j + 1:j + 1 + n], j + 1 + n
    return dec(0)[0]


class Tracker:
    """opentracker on 127.0.0.1:port, HTTP and UDP. `restart` gives each test
    a tracker with no memory of earlier tests' (now dead) peers."""

    def __init__(self, argv, port, log):
        self.argv = argv
        self.port = port
        self.log = log
        self.procs = Procs()
        self.proc = None
        self.http = f"http://127.0.0.1:{port}/announce"
        self.udp = f"udp://127.0.0.1:{port}/announce"

    def start(self):
        self.proc = self.procs.start(self.argv, self.log)
        proc = self.proc

        def up():
            if proc.poll() is not None:
                raise HarnessError(f"opentracker exited: {tail(self.log)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(up, 15, "opentracker to listen", interval=0.05)

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        self.procs.kill_all()

    def scrape(self, info_hash_hex):
        ih = bytes.fromhex(info_hash_hex)
        url = f"http://127.0.0.1:{self.port}/scrape?info_hash={urllib.request.quote(ih)}"
        with urllib.request.urlopen(url, timeout=3) as r:
            reply = bdecode(r.read())
        return reply.get(b"files", {}).get(ih, {})

    def wait_peers(self, info_hash_hex, kind, n, timeout, diag=None):
        """Until the tracker counts `n` peers of `kind` ("complete": seeds,
        "incomplete": leechers) in the swarm, as its scrape reports."""
        key = kind.encode()
        wait_until(lambda: self.scrape(info_hash_hex).get(key, 0) >= n, timeout,
                   f"{n} {kind} peer(s) of {info_hash_hex} announced to the tracker",
                   interval=0.2, diag=diag)


@pytest.fixture(scope="session")
def interop_env(private_network, tmp_path_factory):
    """Data sets and torrents, and a running opentracker that serves them."""
    if not REF_PY.exists():
        pytest.fail("reference virtualenv missing: run scripts/setup.sh")
    ot = shutil.which("opentracker")
    if not ot:
        pytest.fail("opentracker is not installed: run scripts/setup.sh")
    base = tmp_path_factory.mktemp("interop-data")
    port = free_port()
    http, udp = f"http://127.0.0.1:{port}/announce", f"udp://127.0.0.1:{port}/announce"
    p = subprocess.run([str(REF_PY), str(Path(__file__).with_name("make_torrents.py")), str(base),
                        "--http", http, "--udp", udp],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise HarnessError(f"make_torrents.py failed:\n{p.stderr}")
    datasets = json.loads(p.stdout)

    # opentracker chroots into its directory and (as root) drops to nobody:
    # a world-readable directory outside pytest's private tmp
    otdir = Path(tempfile.mkdtemp(prefix="lt-interop-ot-"))
    otdir.chmod(0o755)
    wl = otdir / "whitelist.txt"
    wl.write_text("".join(f"{h}\n" for ds in datasets.values() for h in ds["info_hashes"]))
    wl.chmod(0o644)
    (otdir / "ot.conf").write_text("access.whitelist whitelist.txt\n")
    (otdir / "ot.conf").chmod(0o644)
    argv = [ot, "-i", "127.0.0.1", "-p", str(port), "-P", str(port),
            "-f", str(otdir / "ot.conf"), "-d", str(otdir)]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # it refuses to run as root
    tracker = Tracker(argv, port, base / "opentracker.log")
    try:
        tracker.start()
        yield {"datasets": datasets, "tracker": tracker, "base": base,
               "isolated": private_network}
    finally:
        tracker.stop()
        shutil.rmtree(otdir, ignore_errors=True)


@pytest.fixture
def tracker(interop_env):
    """The session's opentracker, restarted empty for this test."""
    interop_env["tracker"].restart()
    return interop_env["tracker"]


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.kill_all()
