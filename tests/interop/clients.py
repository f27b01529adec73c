"""Drivers for the BitTorrent clients the interop tests pair with ours.

Every client runs as a separate process on 127.0.0.1 only, with DHT, local
peer discovery, UPnP/NAT-PMP and peer exchange off, and is driven headless:

- `LtClient`: tests/peers/lt_peer.py under a Python interpreter, i.e. our
  module (LT_OURS_PYTHON, default: this interpreter) or the reference
  (.venv-ref/bin/python);
- `Transmission`: transmission-cli 3.x with a settings.json in its config dir;
- `Aria2`: aria2c, watched through its JSON-RPC interface on 127.0.0.1;
- `Qbittorrent`: qbittorrent-nox 4.x, driven through its WebUI API on
  127.0.0.1 (localhost authentication off), with multiple connections per
  IP allowed (every peer here is 127.0.0.1: without it, qbittorrent closes
  incoming connections at once while it holds any other 127.0.0.1 one).

Every process is registered with a `Procs` set that kills it (its whole
process group) when the test ends, whatever happens.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LT_PEER = ROOT / "tests" / "peers" / "lt_peer.py"
REF_PY = ROOT / ".venv-ref" / "bin" / "python"


def ours_python():
    return os.environ.get("LT_OURS_PYTHON") or sys.executable


class HarnessError(AssertionError):
    pass


def free_port():
    """A port free on 127.0.0.1 for both TCP and UDP (BitTorrent clients use
    both: uTP shares the TCP listen port)."""
    for _ in range(100):
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise HarnessError("no free port")


def wait_until(pred, timeout, what, interval=0.1, diag=None):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            extra = f"\n{diag()}" if diag else ""
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


def tcp_listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, n=4000):
    try:
        data = Path(path).read_bytes()
    except OSError:
        return "(no log)"
    return data[-n:].decode("utf-8", "replace")


class Procs:
    """Every subprocess a test starts; `kill_all` ends them (process groups)."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log, **kw):
        logf = open(log, "ab")
        kw.setdefault("stdout", logf)
        kw.setdefault("stderr", logf if kw["stdout"] is logf else subprocess.STDOUT)
        p = subprocess.Popen([str(a) for a in argv], start_new_session=True,
                             stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
        logf.close()
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    try:
                        f.close()
                    except OSError:
                        pass
        self.procs.clear()


def copy_content(ds, dest, pad_files=False):
    """A seeder's own copy of a data set's files (never the pristine ones).
    `pad_files`: also write the pad files (zeros), for clients that do not
    know BEP 47 pad files and treat them as ordinary files."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for rel, _ in ds["files"]:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(ds["root"]) / rel, dest / rel)
    if pad_files:
        for rel in ds["pad_files"]:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            size = int(Path(rel).name)  # create_torrent names a pad file by its size
            with open(dest / rel, "wb") as f:
                f.truncate(size)


def first_difference(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        off = 0
        while True:
            x, y = fa.read(1 << 16), fb.read(1 << 16)
            if x != y:
                for i, (p, q) in enumerate(zip(x, y)):
                    if p != q:
                        return off + i
                return off + min(len(x), len(y))
            if not x:
                return None
            off += len(x)


def content_matches(ds, save):
    """True when every (non-pad) file of the data set is in `save`, byte for byte."""
    for rel, size in ds["files"]:
        got = Path(save) / rel
        try:
            if got.stat().st_size != size:
                return False
        except OSError:
            return False
        if first_difference(Path(ds["root"]) / rel, got) is not None:
            return False
    return True


def content_report(ds, save):
    lines = []
    for rel, size in ds["files"]:
        got = Path(save) / rel
        if not got.exists():
            lines.append(f"{rel}: missing")
            continue
        gsize = got.stat().st_size
        d = first_difference(Path(ds["root"]) / rel, got)
        lines.append(f"{rel}: size {gsize}/{size}, "
                     + ("identical" if d is None else f"first difference at byte {d}"))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# lt_peer.py (our module or the reference)


class LtRunning:
    def __init__(self, procs, argv, log, label):
        self.label = label
        self.log = log
        self.events = []
        self.lines = []
        self.proc = procs.start(argv, log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                self.events.append(ev)

    def event(self, name):
        for ev in self.events:
            if ev.get("event") == name:
                return ev
        return None

    @property
    def port(self):
        ev = self.event("listening")
        return ev and ev["port"]

    def wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None and not self.event("listening"):
                self._reader.join(2)
                raise HarnessError(f"{self.label} exited with {self.proc.returncode} "
                                   f"before listening\n{self.diagnostics()}")
            return self.port
        return wait_until(ready, timeout, f"{self.label} to be ready", diag=self.diagnostics)

    def is_complete(self):
        return self.event("complete") is not None

    def stop(self, timeout=10):
        """Close stdin (the peer's signal to stop) and collect its summary."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._reader.join(5)
        return self.event("summary")

    def summary(self):
        return self.event("summary")

    def diagnostics(self):
        out = "\n".join(self.lines[-40:])
        return f"--- {self.label} stdout:\n{out}\n--- {self.label} stderr:\n{tail(self.log)}"


class LtClient:
    can_connect = True  # it can dial a given peer (connect_peer)
    dials_tracker_peers = True  # it connects to the peers a tracker returns

    def __init__(self, name, python):
        self.name = name
        self.python = str(python)

    def _start(self, procs, mode, ds, variant, work, connect, extra):
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        argv = [self.python, LT_PEER, mode, "--torrent", ds["torrents"][variant],
                "--save-path", work / "data", "--timeout", "300"]
        for port in connect or []:
            argv += ["--connect", f"127.0.0.1:{port}"]
        argv += extra
        return LtRunning(procs, argv, work / "stderr.log", f"{self.name} {mode}")

    def start_seed(self, procs, ds, variant, work, connect=None, extra=()):
        copy_content(ds, Path(work) / "data")
        return self._start(procs, "seed", ds, variant, work, connect, list(extra))

    def start_leech(self, procs, ds, variant, work, connect=None, extra=()):
        return self._start(procs, "leech", ds, variant, work, connect, list(extra))


# --------------------------------------------------------------------------
# transmission-cli


class TransmissionRunning:
    def __init__(self, procs, ds, variant, work, seed):
        self.work = Path(work)
        self.cfg = self.work / "config"
        self.cfg.mkdir(parents=True, exist_ok=True)
        self.data = self.work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.seed = seed
        self.label = f"transmission {'seed' if seed else 'leech'}"
        settings = {
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "port-forwarding-enabled": False,
            "bind-address-ipv4": "127.0.0.1",
            "bind-address-ipv6": "::1",
            "peer-port": self.port,
            "peer-port-random-on-start": False,
            "rpc-enabled": False,
            "blocklist-enabled": False,
            "rename-partial-files": False,
            "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False,
            "speed-limit-up-enabled": False,
            "speed-limit-down-enabled": False,
            "download-dir": str(self.data),
            "incomplete-dir-enabled": False,
            "message-level": 2,
        }
        (self.cfg / "settings.json").write_text(json.dumps(settings, indent=1))
        self.log = self.work / "transmission.log"
        argv = ["stdbuf", "-o0", "-e0", "transmission-cli", "-g", self.cfg, "-w", self.data,
                "-p", self.port, "-M"]
        if seed:
            argv.append("-v")
        argv.append(ds["torrents"][variant])
        self.proc = procs.start(argv, self.log)

    def _output(self):
        return tail(self.log, 20000)

    def wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.label} exited with {self.proc.returncode}\n"
                                   f"{self.diagnostics()}")
            if not tcp_listening(self.port):
                return False
            return (not self.seed) or "Seeding" in self._output()
        wait_until(ready, timeout, f"{self.label} to be ready", diag=self.diagnostics)
        return self.port

    def is_complete(self):
        return "Seeding" in self._output()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        return None

    def diagnostics(self):
        # progress lines end in \r: keep the last few
        out = self._output().replace("\r", "\n").splitlines()
        return f"--- {self.label} output:\n" + "\n".join(out[-25:])


class Transmission:
    name = "transmission"
    # transmission-cli has no option to dial a peer: in the no-tracker case
    # our side connects to it
    can_connect = False
    # transmission drops peers at 127.x.x.x from tracker replies (it treats
    # them as "martian"): it never dials them, it only accepts them
    dials_tracker_peers = False

    def start_seed(self, procs, ds, variant, work, connect=None):
        assert not connect
        copy_content(ds, Path(work) / "data", pad_files=True)
        return TransmissionRunning(procs, ds, variant, work, seed=True)

    def start_leech(self, procs, ds, variant, work, connect=None):
        assert not connect
        return TransmissionRunning(procs, ds, variant, work, seed=False)


# --------------------------------------------------------------------------
# aria2c


class Aria2Running:
    def __init__(self, procs, ds, variant, work, seed):
        self.work = Path(work)
        self.data = self.work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.rpc_port = free_port()
        self.seed = seed
        self.label = f"aria2 {'seed' if seed else 'leech'}"
        self.log = self.work / "aria2.log"
        argv = [
            "aria2c", "--no-conf=true", f"--dir={self.data}",
            f"--listen-port={self.port}", "--interface=127.0.0.1", "--disable-ipv6=true",
            "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
            "--enable-rpc=true", f"--rpc-listen-port={self.rpc_port}", "--rpc-listen-all=false",
            "--seed-ratio=0.0", "--file-allocation=none", "--summary-interval=0",
            "--console-log-level=notice", f"--log={self.work / 'aria2-debug.log'}",
            "--log-level=info", "--bt-stop-timeout=0", "--auto-save-interval=0",
            "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5",
            "--max-overall-upload-limit=0", "--max-overall-download-limit=0",
        ]
        if variant == "udp":
            # aria2 speaks UDP tracker only through its DHT socket: DHT is on,
            # bound to 127.0.0.1, with an empty routing table (no entry point,
            # no saved nodes), so it has nobody to contact
            argv += ["--enable-dht=true", f"--dht-listen-port={free_port()}",
                     f"--dht-file-path={self.work / 'dht.dat'}"]
        else:
            argv += ["--enable-dht=false"]
        if seed:
            argv += ["--check-integrity=true", "--bt-seed-unverified=false"]
        argv.append(f"--torrent-file={ds['torrents'][variant]}")
        self.proc = procs.start(argv, self.log)

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": "t", "method": method,
                           "params": list(params)}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.rpc_port}/jsonrpc", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=3) as r:
            return json.loads(r.read())["result"]

    def status(self):
        try:
            active = self.rpc("aria2.tellActive")
        except OSError:
            return None
        return active[0] if active else None

    def wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.label} exited with {self.proc.returncode}\n"
                                   f"{self.diagnostics()}")
            st = self.status()
            if st is None or not tcp_listening(self.port):
                return False
            return (not self.seed) or st.get("seeder") == "true"
        wait_until(ready, timeout, f"{self.label} to be ready", diag=self.diagnostics)
        return self.port

    def is_complete(self):
        st = self.status()
        return bool(st) and st.get("seeder") == "true" \
            and st.get("completedLength") == st.get("totalLength")

    def stop(self):
        st = None
        if self.proc.poll() is None:
            st = self.status()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        return st

    def diagnostics(self):
        st = None
        if self.proc.poll() is None:
            try:
                st = self.status()
            except Exception as e:  # diagnostics only
                st = repr(e)
        return (f"--- {self.label} status: {json.dumps(st)[:1500]}\n--- {self.label} output:\n"
                f"{tail(self.log, 3000)}\n--- {self.label} log:\n{tail(self.work / 'aria2-debug.log', 4000)}")


class Aria2:
    name = "aria2"
    # aria2c has no option to dial a given peer: in the no-tracker case our
    # side connects to it
    can_connect = False
    dials_tracker_peers = True

    def start_seed(self, procs, ds, variant, work, connect=None):
        assert not connect
        copy_content(ds, Path(work) / "data", pad_files=True)
        return Aria2Running(procs, ds, variant, work, seed=True)

    def start_leech(self, procs, ds, variant, work, connect=None):
        assert not connect
        return Aria2Running(procs, ds, variant, work, seed=False)


# --------------------------------------------------------------------------
# qbittorrent-nox

QBT_CONF = """\
[LegalNotice]
Accepted=true

[Application]
FileLogger\\Enabled=true
FileLogger\\Path={log_dir}

[BitTorrent]
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\Port={port}
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\InterfaceAddress=127.0.0.1
Session\\QueueingSystemEnabled=false
Session\\AddTorrentPaused=false
Session\\DefaultSavePath={data}
Session\\TempPathEnabled=false
Session\\GlobalMaxRatio=-1
Session\\AnnounceToAllTrackers=true
Session\\MultiConnectionsPerIp=true

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\\ResolvePeerCountries=false
Connection\\UPnP=false
General\\Locale=en
WebUI\\Address=127.0.0.1
WebUI\\Port={webui}
WebUI\\LocalHostAuth=false
WebUI\\UseUPnP=false
WebUI\\HostHeaderValidation=false
WebUI\\CSRFProtection=false
"""


class QbtRunning:
    # qbittorrent-nox 4.5 can crash on its own at start-up (SIGSEGV in
    # FreeDiskSpaceChecker::checked, a race in its WebUI's pooled thread:
    # qbittorrent issue 19732). A crash (SIGSEGV, SIGBUS, SIGABRT) before the
    # client is ready starts it again with a fresh profile, up to this many
    # launches in all; a crash later, or any other exit, fails the test
    LAUNCHES = 2

    def __init__(self, procs, ds, variant, work, seed, connect):
        self.procs = procs
        self.ds = ds
        self.variant = variant
        self.seed = seed
        self.connect = connect
        self.work = Path(work)
        self.data = self.work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.label = f"qbittorrent {'seed' if seed else 'leech'}"
        self.log = self.work / "qbittorrent.log"
        self.launches = 0
        self.hash = ds["v1"]
        while True:
            try:
                self._launch()
                return
            except HarnessError:
                if not self._may_relaunch():
                    raise

    def _launch(self):
        self.launches += 1
        self.port = free_port()
        self.webui = free_port()
        profile = self.work / f"profile{self.launches}"
        conf = profile / "qBittorrent" / "config"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "qBittorrent.conf").write_text(QBT_CONF.format(
            port=self.port, webui=self.webui, data=self.data, log_dir=self.qbt_logs()))
        env = dict(os.environ, HOME=str(self.work), XDG_CONFIG_HOME=str(self.work / "xdg"))
        self.proc = self.procs.start(["qbittorrent-nox", f"--profile={profile}",
                                      f"--webui-port={self.webui}"], self.log, env=env)
        wait_until(self._api_up, 30, f"{self.label} WebUI", diag=self.diagnostics)
        self._check_isolation()
        self._add(self.ds["torrents"][self.variant])
        self.hash = self.ds["v1"]
        row = wait_until(lambda: self.info(), 15, f"{self.label} to add the torrent",
                         diag=self.diagnostics)
        # qbittorrent's own id of a hybrid torrent is not its v1 info-hash
        self.hash = row["hash"]
        for p in self.connect or []:
            self._post("torrents/addPeers", {"hashes": self.hash, "peers": f"127.0.0.1:{p}"})

    def qbt_logs(self):
        return self.work / f"qbt-logs{self.launches}"

    def _may_relaunch(self):
        """After the process ended: whether it crashed and may start again."""
        if self.proc.poll() is None or self.launches >= self.LAUNCHES:
            return False
        crashed = -self.proc.returncode in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT)
        if crashed:
            self.log.rename(self.log.with_suffix(f".crash{self.launches}.log"))
        return crashed

    def _url(self, path):
        return f"http://127.0.0.1:{self.webui}/api/v2/{path}"

    def _get(self, path):
        with urllib.request.urlopen(self._url(path), timeout=3) as r:
            return r.read()

    def _post(self, path, fields):
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(urllib.request.Request(self._url(path), data=data),
                                    timeout=5) as r:
            return r.read()

    def _api_up(self):
        if self.proc.poll() is not None:
            raise HarnessError(f"{self.label} exited with {self.proc.returncode}\n"
                               f"{self.diagnostics()}")
        try:
            return self._get("app/version")
        except OSError:
            return False

    def _check_isolation(self):
        prefs = json.loads(self._get("app/preferences"))
        expect = {"dht": False, "lsd": False, "pex": False, "upnp": False,
                  "listen_port": self.port,
                  "enable_multi_connections_from_same_ip": True}
        wrong = {k: prefs.get(k) for k, v in expect.items() if prefs.get(k) != v}
        if wrong:
            raise HarnessError(f"{self.label}: configuration not applied: {wrong}")

    def _add(self, torrent):
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in (("savepath", str(self.data)), ("paused", "false"), ("autoTMM", "false"),
                     ("contentLayout", "Original"), ("skip_checking", "false")):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                         f"{v}\r\n".encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="torrents"; '
                     f'filename="t.torrent"\r\nContent-Type: application/x-bittorrent\r\n\r\n'
                     .encode() + Path(torrent).read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        req = urllib.request.Request(self._url("torrents/add"), data=b"".join(parts), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            body = r.read()
        if body.strip() != b"Ok.":
            raise HarnessError(f"{self.label}: torrents/add answered {body!r}")

    def info(self):
        try:
            rows = json.loads(self._get("torrents/info"))
        except OSError:
            return None
        for r in rows:
            if self.hash in (r.get("hash"), r.get("infohash_v1")):
                return r
        return None

    def wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                if not self._may_relaunch():
                    raise HarnessError(f"{self.label} exited\n{self.diagnostics()}")
                self._launch()
                return False
            if not tcp_listening(self.port):
                return False
            return (not self.seed) or self.is_complete()
        wait_until(ready, timeout, f"{self.label} to be ready", diag=self.diagnostics)
        return self.port

    def is_complete(self):
        r = self.info()
        return bool(r) and r.get("progress") == 1 and r.get("state") in (
            "uploading", "stalledUP", "forcedUP", "queuedUP")

    def stop(self):
        st = None
        if self.proc.poll() is None:
            st = self.info()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        return st

    def diagnostics(self):
        info = peers = None
        if self.proc.poll() is None:
            info = self.info()
            try:
                peers = json.loads(self._get(f"sync/torrentPeers?hash={self.hash}")).get("peers")
                trackers = json.loads(self._get(f"torrents/trackers?hash={self.hash}"))
            except Exception as e:  # diagnostics only
                trackers = repr(e)
        else:
            trackers = None
        return (f"--- {self.label} torrent: {json.dumps(info)[:1500]}\n"
                f"--- peers: {json.dumps(peers)[:1500]}\n--- trackers: {json.dumps(trackers)[:800]}\n"
                f"--- output:\n{tail(self.log, 1500)}\n"
                f"--- log:\n{tail(self.qbt_logs() / 'qbittorrent.log', 3000)}")


class Qbittorrent:
    name = "qbittorrent"
    can_connect = True  # WebUI API torrents/addPeers
    dials_tracker_peers = True

    def start_seed(self, procs, ds, variant, work, connect=None):
        copy_content(ds, Path(work) / "data")
        return QbtRunning(procs, ds, variant, work, True, connect)

    def start_leech(self, procs, ds, variant, work, connect=None):
        return QbtRunning(procs, ds, variant, work, False, connect)
