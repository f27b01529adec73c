"""Storage faults, driven through the Python API only, so the same scenario
runs on our module and on the reference (whichever `import libtorrent` the
interpreter finds). Prints one JSON object with what it observed; the
assertions are in test_faults.py.

    python fault_host.py disk_full  --torrent T --data D --save S [--fill BYTES]
    python fault_host.py read_only  --torrent T --data D --save S
    python fault_host.py vanished   --torrent T --data D --save S --how delete|truncate

disk_full and read_only expect `--save` to be on a small tmpfs (full, or
mounted read-only) set up by the caller; the seed is a raw-socket seed
(hostile_peer.HostileSeed, honest) in a thread of this process. vanished
seeds from `--save` and, once seeding, deletes or truncates the file, then
asks for blocks with a raw peer and reports what it was sent. Loopback only;
every wait is bounded.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import libtorrent as lt  # noqa: E402

from hostile_peer import (  # noqa: E402
    BLOCK, INTERESTED, PIECE, REJECT, UNCHOKE, Closed, HostileSeed, RawPeer, Torrent, bitfield_bytes,
    BITFIELD, request,
)


def settings():
    c = lt.alert.category_t
    return {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": int(c.error_notification) | int(c.status_notification) | int(c.storage_notification)
        | int(c.piece_progress_notification),
    }


def name(a) -> str:
    """The alert's name without the `_alert` suffix (the reference's what()
    has none)."""
    w = a.what()
    return w[:-6] if w.endswith("_alert") else w


class Run:
    def __init__(self, ses):
        self.ses = ses
        self.t0 = time.monotonic()
        self.alerts = []

    def pump(self, seconds: float, until=None):
        """Collects alerts for up to `seconds`; returns the first alert for
        which `until(alert)` is true (or None)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for a in self.ses.pop_alerts():
                rec = {"t": round(time.monotonic() - self.t0, 3), "what": name(a), "msg": a.message()}
                if hasattr(a, "piece_index"):
                    rec["piece"] = int(a.piece_index)
                if rec["what"] == "file_error":
                    rec["errno"] = a.error.value()
                    rec["error"] = a.error.message()
                    rec["filename"] = a.filename()
                    rec["file"] = str(a.file)
                self.alerts.append(rec)
                if until is not None and until(a):
                    return rec
            self.ses.wait_for_alert(50)
        return None

    def what(self, name):
        return [a for a in self.alerts if a["what"] == name]


def counts(alerts) -> dict:
    out = {}
    for a in alerts:
        out[a["what"]] = out.get(a["what"], 0) + 1
    return out


def status_dict(h):
    s = h.status()
    return {
        "state": str(s.state),
        "paused": bool(s.paused),
        "errc": s.errc.value(),
        "error": s.errc.message(),
        "error_file": int(s.error_file),
        "is_seeding": bool(s.is_seeding),
        "pieces": [i for i, b in enumerate(s.pieces) if b],
        "flags_paused": bool(int(h.flags()) & int(lt.torrent_flags.paused)),
    }


def settle(run, h, seconds: float = 10) -> dict:
    """The torrent's status once it is paused with its error set (the
    reference may take a moment after the first file_error_alert), or
    after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        run.pump(0.2)
        st = status_dict(h)
        if (st["paused"] and st["errc"] != 0) or time.monotonic() > deadline:
            return st


def intact(path: str, t: Torrent, pieces) -> list:
    """The pieces of `pieces` whose bytes in `path` are NOT the torrent's."""
    bad = []
    try:
        with open(path, "rb") as f:
            for i in pieces:
                f.seek(i * t.piece_length)
                if hashlib.sha1(f.read(t.piece_size(i))).digest() != t.piece_hashes[i]:
                    bad.append(i)
    except OSError:
        return list(pieces)
    return bad


def load(args) -> Torrent:
    with open(args.data, "rb") as f:
        data = f.read()
    return Torrent(args.work, args.name, data, piece_length=args.piece_length)


def add(ses, args, save):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = save
    return ses.add_torrent(atp)


def disk_full(args, out):
    t = load(args)
    filler = os.path.join(args.save, "filler")
    with open(filler, "wb") as f:
        f.write(b"\xAA" * args.fill)
    dl = os.path.join(args.save, "dl")
    ses = lt.session(settings())
    run = Run(ses)
    with HostileSeed(t) as seed:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(args.torrent)
        atp.save_path = dl
        if args.allocate:
            atp.storage_mode = lt.storage_mode_t.storage_mode_allocate
        h = ses.add_torrent(atp)
        h.connect_peer(("127.0.0.1", seed.port))
        err = run.pump(60, lambda a: name(a) == "file_error")
        out["file_error"] = err
        st = settle(run, h)
        out["after_error"] = st
        path = os.path.join(dl, t.name)
        finished = sorted({a["piece"] for a in run.what("piece_finished")})
        out["finished_before"] = finished
        out["finished_not_have"] = sorted(set(finished) - set(st["pieces"]))
        out["bad_on_disk"] = intact(path, t, st["pieces"])
        blocks_before = seed.blocks_sent
        time.sleep(2)
        run.pump(0.1)
        out["blocks_while_paused"] = seed.blocks_sent - blocks_before
        # Free the space and carry on.
        os.remove(filler)
        if args.recover in ("clear", "both"):
            h.clear_error()
        if args.recover in ("resume", "both"):
            h.resume()
        mark = len(run.alerts)
        if not h.status().is_seeding:
            # A peer may have been dropped with the error: give it back.
            h.connect_peer(("127.0.0.1", seed.port))
        done = run.pump(args.finish_timeout, lambda a: name(a) == "torrent_finished")
        out["finished"] = done is not None
        out["after_resume"] = status_dict(h)
        again = sorted({a["piece"] for a in run.alerts[mark:] if a["what"] == "piece_finished"})
        out["refetched_verified"] = sorted(set(again) & set(st["pieces"]))
        with open(path, "rb") as f:
            out["identical"] = f.read() == t.data
    out["alerts"] = counts(run.alerts)


def read_only(args, out):
    ses = lt.session(settings())
    run = Run(ses)
    t = load(args)
    with HostileSeed(t) as seed:
        h = add(ses, args, args.save)
        h.connect_peer(("127.0.0.1", seed.port))
        err = run.pump(30, lambda a: name(a) == "file_error")
        out["file_error"] = err
        out["after_error"] = settle(run, h)
        # The session is still usable: a second torrent on a writable path
        # downloads completely.
        t2 = Torrent(os.path.join(args.work, "second"), "g.bin", os.urandom(1024 * 1024 + 7))
        other = os.path.join(args.work, "writable")
        with HostileSeed(t2) as seed2:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(t2.path)
            atp.save_path = other
            h2 = ses.add_torrent(atp)
            h2.connect_peer(("127.0.0.1", seed2.port))
            done = run.pump(60, lambda a: name(a) == "torrent_finished")
        out["other_finished"] = done is not None
        try:
            with open(os.path.join(other, t2.name), "rb") as f:
                out["other_identical"] = f.read() == t2.data
        except OSError as e:
            out["other_identical"] = repr(e)
        ses.remove_torrent(h)
        run.pump(1.0)
        out["torrents_left"] = len(ses.get_torrents())
    out["alerts"] = counts(run.alerts)


def vanished(args, out):
    t = load(args)
    ses = lt.session(settings())
    run = Run(ses)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.save
    if args.how == "delete_unchecked":
        # seed_mode: no check, so the file is not opened before it goes.
        atp.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not h.status().is_seeding:
        run.pump(0.05)
    out["seeding"] = h.status().is_seeding
    path = os.path.join(args.save, t.name)
    if args.how in ("delete", "delete_unchecked"):
        os.remove(path)
    else:
        os.truncate(path, len(t.data) // 4)
    port = ses.listen_port()
    got = {"good": 0, "bad": 0, "rejects": 0, "closed": False}
    peer = RawPeer.connect(port)
    try:
        peer.handshake(t.info_hash)
        peer.send(BITFIELD, bitfield_bytes(t.num_pieces, have=[]))
        peer.send(INTERESTED)
        unchoked = peer.read_until(lambda i, p: i == UNCHOKE, timeout=10)
        out["unchoked"] = unchoked is not None
        # Every piece, first block: the first quarter is still on disk when
        # truncated, the rest is not.
        asked = [(i, 0, min(BLOCK, t.piece_size(i))) for i in range(t.num_pieces)]
        for p, o, n in asked:
            peer.send_raw(request(p, o, n))
        deadline = time.monotonic() + 15
        answered = 0
        while time.monotonic() < deadline and answered < len(asked):
            m = peer.read_msg(timeout=max(0.1, deadline - time.monotonic()))
            if m is None:
                break
            mid, payload = m
            if mid == PIECE:
                p, o = struct.unpack(">II", payload[:8])
                answered += 1
                if payload[8:] == t.block(p, o, len(payload) - 8):
                    got["good"] += 1
                else:
                    got["bad"] += 1
            elif mid == REJECT:
                answered += 1
                got["rejects"] += 1
    except (Closed, OSError):
        got["closed"] = True
    finally:
        peer.close()
    out["served"] = got
    run.pump(2.0)
    out["after"] = status_dict(h)
    out["file_errors"] = run.what("file_error")
    out["alerts"] = counts(run.alerts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["disk_full", "read_only", "vanished"])
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--piece-length", type=int, default=64 * 1024)
    ap.add_argument("--work", required=True, help="a writable scratch directory")
    ap.add_argument("--save", required=True)
    ap.add_argument("--fill", type=int, default=0)
    ap.add_argument("--how", default="delete")
    ap.add_argument("--allocate", action="store_true", help="disk_full: storage_mode_allocate")
    ap.add_argument("--finish-timeout", type=float, default=90)
    ap.add_argument("--recover", choices=["clear", "resume", "both"], default="both",
                    help="disk_full: clear_error(), resume() or both once space is freed")
    args = ap.parse_args()
    out = {"module": lt.__file__}
    try:
        {"disk_full": disk_full, "read_only": read_only, "vanished": vanished}[args.mode](args, out)
    finally:
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
