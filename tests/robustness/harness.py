"""Helpers for the robustness suite: sessions of our module or of the
reference run in their own processes (tests/robustness/lt_host.py), so that
their memory and file descriptors can be measured and they can be killed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REF_PY = ROOT / ".venv-ref" / "bin" / "python"
HOST = HERE / "lt_host.py"
LT_PEER = ROOT / "tests" / "peers" / "lt_peer.py"

sys.path.insert(0, str(HERE))


def interpreter(impl: str) -> str:
    if impl == "ours":
        return sys.executable
    if not REF_PY.exists():
        pytest.fail("reference virtualenv missing: run scripts/setup.sh")
    return str(REF_PY)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def num_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def num_tcp_fds(pid: int) -> int:
    """Open sockets of `pid` (listening ones included)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def wait_for(pred, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


class Host:
    """A running lt_host.py process."""

    def __init__(self, impl: str, workdir: Path, adds, settings=None, connect=(),
                 exit_when_done=False, timeout=120, name="host"):
        self.impl = impl
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port_file = self.workdir / f"{name}.port"
        self.alerts_file = self.workdir / f"{name}.alerts.jsonl"
        self.stderr_file = self.workdir / f"{name}.stderr"
        cmd = [interpreter(impl), str(HOST), "--port-file", str(self.port_file),
               "--alerts", str(self.alerts_file), "--settings", json.dumps(settings or {}),
               "--timeout", str(timeout)]
        for t, save in adds:
            cmd += ["--add", f"{t}={save}"]
        for c in connect:
            cmd += ["--connect", c]
        if exit_when_done:
            cmd.append("--exit-when-done")
        self._stderr = open(self.stderr_file, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, cwd=str(self.workdir))
        if not wait_for(lambda: self.port_file.exists() or self.proc.poll() is not None, 30):
            self.kill()
            pytest.fail(f"{impl} host did not start")
        if self.proc.poll() is not None and not self.port_file.exists():
            pytest.fail(f"{impl} host exited: {self.stderr_file.read_text()[-3000:]}")
        self.port = int(self.port_file.read_text())

    @property
    def pid(self):
        return self.proc.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def fds(self) -> int:
        return num_fds(self.pid)

    def sockets(self) -> int:
        return num_tcp_fds(self.pid)

    def alerts(self):
        if not self.alerts_file.exists():
            return []
        out = []
        for line in self.alerts_file.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line cut by SIGKILL
        return out

    def command(self, line: str):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_alert(self, pred, timeout: float):
        """The first logged alert (a dict) for which `pred` is true, or None."""
        found = []

        def check():
            for a in self.alerts():
                if pred(a):
                    found.append(a)
                    return True
            return False

        wait_for(check, timeout, 0.1)
        return found[0] if found else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20):
        """Closes stdin (a clean stop) and returns the JSON summary."""
        try:
            # communicate() closes stdin, which stops the host
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self._stderr.close()
        lines = out.decode().strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def wait(self, timeout: float):
        """Waits for the host to exit by itself (stdin stays open)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        out = self.proc.stdout.read()
        self._stderr.close()
        lines = out.decode().strip().splitlines()
        return self.proc.returncode, (json.loads(lines[-1]) if lines else None)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._stderr.close()


class Leecher:
    """tests/peers/lt_peer.py downloading from a host, running ours or the
    reference."""

    def __init__(self, impl: str, torrent, save_path: Path, port: int, timeout: float = 60):
        self.torrent = torrent
        self.save_path = Path(save_path)
        self.save_path.mkdir(parents=True, exist_ok=True)
        # stdin stays open: lt_peer.py gives up when its stdin closes
        self.proc = subprocess.Popen(
            [interpreter(impl), str(LT_PEER), "leech", "--torrent", torrent.path,
             "--save-path", str(save_path), "--connect", f"127.0.0.1:{port}",
             "--timeout", str(timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self, timeout: float = 90):
        # Wait for the leecher to exit by itself (done or its own timeout)
        # without closing its stdin; kill it past `timeout`.
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            out = self.proc.stdout.read()
            err = self.proc.stderr.read()
            self.proc.wait()
        finally:
            timer.cancel()
            self.proc.stdin.close()
        lines = out.decode().strip().splitlines()
        summary = json.loads(lines[-1]) if lines else None
        return self.proc.returncode, summary, err.decode()

    def assert_complete(self, timeout: float = 90):
        code, summary, err = self.finish(timeout)
        assert code == 0 and summary and summary["done"], f"honest leecher failed: {summary} {err[-2000:]}"
        got = (self.save_path / self.torrent.name).read_bytes()
        assert got == self.torrent.data, "honest leecher got wrong data"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
