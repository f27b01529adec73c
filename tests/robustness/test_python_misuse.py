"""Misuse of the Python API: wrong argument types, calls on a removed
torrent's handle, many threads on one session, a session dropped while a
thread waits in it, and interpreter exit with threads still waiting.
Scripts run in subprocesses (a crash or hang cannot take pytest down), the
differential ones under the reference as well."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import HERE, interpreter

PRELUDE = f"""
import json, os, sys, tempfile, threading, time
sys.path.insert(0, {str(HERE)!r})
import libtorrent as lt
from hostile_peer import Torrent

def new_session():
    return lt.session({{"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False}})

def make_torrent(d, name="a.bin", size=100000, piece=16384, seed=1):
    import random
    return Torrent(d, name, random.Random(seed).randbytes(size), piece)

def outcome(f):
    try:
        r = f()
        return ["ok", None]
    except TypeError as e:
        return ["TypeError", str(e)]
    except RuntimeError as e:
        return ["RuntimeError", str(e)]
    except Exception as e:
        return [type(e).__name__, str(e)]
"""


def run(impl: str, body: str, timeout: float = 60, check=True):
    code = PRELUDE + textwrap.dedent(body)
    p = subprocess.run([interpreter(impl), "-c", code], capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, f"{impl} script failed ({p.returncode}):\n{p.stderr[-3000:]}"
    return p


def run_json(impl: str, body: str, timeout: float = 60):
    import json
    p = run(impl, body, timeout)
    return json.loads(p.stdout.strip().splitlines()[-1])


WRONG_TYPES = """
ses = new_session()
d = tempfile.mkdtemp()
T = make_torrent(d)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(T.path)
atp.save_path = d
h = ses.add_torrent(atp)
calls = {
    "session(int)": lambda: lt.session(5),
    "add_torrent(int)": lambda: ses.add_torrent(5),
    "add_torrent(str)": lambda: ses.add_torrent("abc"),
    "remove_torrent(int)": lambda: ses.remove_torrent(5),
    "find_torrent(str)": lambda: ses.find_torrent("abc"),
    "apply_settings(list)": lambda: ses.apply_settings([1, 2]),
    "apply_settings(bad value)": lambda: ses.apply_settings({"connections_limit": "abc"}),
    "pop_alerts(int)": lambda: ses.pop_alerts(1),
    "wait_for_alert(str)": lambda: ses.wait_for_alert("x"),
    "listen_port(int)": lambda: ses.listen_port(3),
    "torrent_info(int)": lambda: lt.torrent_info(5),
    "torrent_info(None)": lambda: lt.torrent_info(None),
    "atp.save_path = int": lambda: setattr(atp, "save_path", 5),
    "atp.ti = str": lambda: setattr(atp, "ti", "x"),
    "connect_peer(str)": lambda: h.connect_peer("127.0.0.1:5"),
    "connect_peer((str, str))": lambda: h.connect_peer(("127.0.0.1", "x")),
    "piece_priority(str)": lambda: h.piece_priority("x"),
    "have_piece(str)": lambda: h.have_piece("x"),
    "file_priority(str)": lambda: h.file_priority("x"),
    "set_flags(str)": lambda: h.set_flags("x"),
    "sha1_hash(int)": lambda: lt.sha1_hash(5),
    "bdecode(int)": lambda: lt.bdecode(5),
}
print(json.dumps({k: outcome(f) for k, f in calls.items()}))
"""


def test_wrong_argument_types_raise_type_error():
    ours = run_json("ours", WRONG_TYPES)
    ref = run_json("ref", WRONG_TYPES)
    for call, (kind, msg) in ref.items():
        # Every one of these is a TypeError in the reference (Boost.Python's
        # ArgumentError is a TypeError); it must be one in ours too.
        assert kind == "TypeError", f"reference: {call} -> {kind} {msg}"
        assert ours[call][0] == "TypeError", f"{call}: ours raised {ours[call]}"


REMOVED_HANDLE = """
ses = new_session()
d = tempfile.mkdtemp()
T = make_torrent(d)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(T.path)
atp.save_path = d
h = ses.add_torrent(atp)
ses.remove_torrent(h)
deadline = time.time() + 10
while time.time() < deadline and h.is_valid():
    time.sleep(0.02)
removed = not h.is_valid()
calls = {
    "status": lambda: h.status(),
    "pause": lambda: h.pause(),
    "resume": lambda: h.resume(),
    "save_path": lambda: h.save_path(),
    "name": lambda: h.name(),
    "connect_peer": lambda: h.connect_peer(("127.0.0.1", 1)),
    "force_recheck": lambda: h.force_recheck(),
    "get_peer_info": lambda: h.get_peer_info(),
    "piece_priorities": lambda: h.piece_priorities(),
    "have_piece": lambda: h.have_piece(0),
    "read_piece": lambda: h.read_piece(0),
    "flags": lambda: h.flags(),
    "is_paused": lambda: h.is_paused(),
    "is_valid": lambda: h.is_valid(),
    "info_hashes": lambda: h.info_hashes(),
    "session.remove_torrent again": lambda: ses.remove_torrent(h),
}
print(json.dumps({"removed": removed, "calls": {k: outcome(f) for k, f in calls.items()}}))
"""


def test_removed_handle_raises_like_the_reference():
    ours = run_json("ours", REMOVED_HANDLE)
    ref = run_json("ref", REMOVED_HANDLE)
    assert ours["removed"] and ref["removed"]
    assert ref["calls"]["status"] == ["RuntimeError", "invalid torrent handle used [libtorrent:20]"]
    diffs = {k: (ref["calls"][k], v) for k, v in ours["calls"].items() if v != ref["calls"][k]}
    assert not diffs, f"calls on a removed handle differ (reference, ours): {diffs}"


def test_many_threads_on_one_session():
    p = run("ours", """
    ses = new_session()
    d = tempfile.mkdtemp()
    torrents = [make_torrent(os.path.join(d, str(i)), f"t{i}.bin", 50000 + i, seed=i) for i in range(8)]
    errors = []
    stop = time.monotonic() + 4
    counts = {"status": 0, "pop": 0, "add": 0, "remove": 0, "invalid": 0}
    lock = threading.Lock()

    def bump(k):
        with lock:
            counts[k] += 1

    def adder(i):
        t = torrents[i]
        while time.monotonic() < stop:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(t.path)
            atp.save_path = os.path.join(d, str(i))
            try:
                h = ses.add_torrent(atp)
                bump("add")
                h.status()
                ses.remove_torrent(h)
                bump("remove")
            except RuntimeError as e:
                bump("invalid")
            except Exception as e:
                errors.append(repr(e))

    def poller():
        while time.monotonic() < stop:
            try:
                for h in ses.get_torrents():
                    try:
                        h.status()
                        bump("status")
                    except RuntimeError as e:
                        if "invalid torrent handle" not in str(e):
                            errors.append(repr(e))
                        bump("invalid")
                ses.pop_alerts()
                bump("pop")
                ses.wait_for_alert(5)
                ses.get_torrent_status(lambda st: True)
                ses.is_paused()
            except Exception as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=adder, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=poller) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    alive = sum(t.is_alive() for t in threads)
    print(json.dumps({"errors": errors[:10], "alive": alive, "counts": counts}))
    """, timeout=90)
    import json
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["alive"] == 0, "threads hung on the session"
    assert not r["errors"], r["errors"]
    assert r["counts"]["add"] > 10 and r["counts"]["pop"] > 10, r["counts"]


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_session_dropped_while_a_thread_waits(impl):
    p = run(impl, """
    import gc
    ses = new_session()
    got = []
    def waiter(s):
        t0 = time.monotonic()
        a = s.wait_for_alert(3000)
        got.append(time.monotonic() - t0)
    t = threading.Thread(target=waiter, args=(ses,))
    ses.pop_alerts()
    t.start()
    time.sleep(0.2)
    del ses
    gc.collect()
    t.join(20)
    print(json.dumps({"alive": t.is_alive(), "waited": got}))
    """, timeout=60)
    import json
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert not r["alive"] and len(r["waited"]) == 1 and r["waited"][0] < 10, r


EXIT_WITH_WAITERS = """
ses = new_session()
d = tempfile.mkdtemp()
T = make_torrent(d)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(T.path)
atp.save_path = d
h = ses.add_torrent(atp)
def wait_forever():
    while True:
        ses.wait_for_alert(10000)
def busy():
    while True:
        ses.pop_alerts()
        h.status()
for _ in range(3):
    threading.Thread(target=wait_forever, daemon=True).start()
threading.Thread(target=busy, daemon=True).start()
time.sleep(0.05)
print("exiting", flush=True)
"""


def test_interpreter_exit_with_live_session_and_waiting_threads():
    """100 runs in a row, every exit clean (exit code 0, no abort)."""
    code = PRELUDE + textwrap.dedent(EXIT_WITH_WAITERS)

    def one(_):
        p = subprocess.run([interpreter("ours"), "-c", code], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr[-1500:]

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(one, range(100)))
    bad = [(rc, err) for rc, out, err in results if rc != 0 or "exiting" not in out]
    assert not bad, f"{len(bad)} of 100 exits were not clean; first: {bad[0]}"
