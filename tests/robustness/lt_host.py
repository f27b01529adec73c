"""A libtorrent session under test, driven through the Python API only, so it
runs unchanged on our module and on the reference (whichever
`import libtorrent` finds in the interpreter running it).

    python lt_host.py --add TORRENT=SAVE_PATH [--add ...] [--settings JSON]
                      [--port-file F] [--alerts F] [--connect HOST:PORT]
                      [--exit-when-done] [--timeout S]

Every torrent in `--add` is added (the first one gets the `--connect`
peers). Each alert is appended to `--alerts` as one JSON line (flushed at
once, so a process killed with SIGKILL leaves a readable log):
{"t": seconds, "what": ..., "msg": ..., "piece": ..., "ip": ...}.
The session runs until stdin closes, the timeout passes, or (with
`--exit-when-done`) every torrent is seeding. Lines on stdin are commands:
`connect HOST:PORT` (to the first torrent), `add TORRENT=SAVE_PATH`, and
`remove` (the oldest torrent added by `add`, with its files). Loopback only.
"""
import argparse
import json
import os
import select
import sys
import time

import libtorrent as lt


def alert_mask():
    """Every category but the debug logs and per-block notifications."""
    c = lt.alert.category_t
    mask = int(c.all_categories)
    for name in ("peer_log_notification", "torrent_log_notification", "picker_log_notification",
                 "session_log_notification", "port_mapping_log_notification",
                 "dht_log_notification", "block_progress_notification", "upload_notification"):
        if hasattr(c, name):
            mask &= ~int(getattr(c, name))
    return mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--add", action="append", default=[])
    ap.add_argument("--settings", default="{}")
    ap.add_argument("--port-file")
    ap.add_argument("--alerts")
    ap.add_argument("--connect", action="append", default=[])
    ap.add_argument("--exit-when-done", action="store_true")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()

    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": alert_mask(),
    }
    settings.update(json.loads(args.settings))
    ses = lt.session(settings)
    handles = []
    for spec in args.add:
        path, save = spec.split("=", 1)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(path)
        atp.save_path = save
        handles.append(ses.add_torrent(atp))
    # Announce the port only once every torrent is past checking, so a
    # peer connecting at once finds the torrent ready.
    ready_by = time.monotonic() + 30
    checking = (lt.torrent_status.states.checking_files, lt.torrent_status.states.checking_resume_data)
    while time.monotonic() < ready_by and any(h.status().state in checking for h in handles):
        time.sleep(0.02)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(ses.listen_port()))
        os.replace(tmp, args.port_file)
    for peer in args.connect:
        host, port = peer.rsplit(":", 1)
        handles[0].connect_peer((host, int(port)))

    log = open(args.alerts, "a", buffering=1) if args.alerts else None
    start = time.monotonic()
    deadline = start + args.timeout
    code = 1
    pending = b""
    extra = []  # torrents added by `add` commands, removed by `remove`
    while time.monotonic() < deadline:
        for a in ses.pop_alerts():
            if log is None:
                continue
            rec = {"t": round(time.monotonic() - start, 3), "what": a.what(), "msg": a.message()}
            if hasattr(a, "piece_index"):
                rec["piece"] = int(a.piece_index)
            if a.what() in ("peer_ban_alert", "peer_connect_alert", "peer_disconnected_alert",
                            "incoming_connection_alert"):
                try:
                    rec["ip"] = list(a.ip) if hasattr(a, "ip") else list(a.endpoint)
                except Exception:  # noqa: BLE001 - best effort diagnostics
                    pass
            log.write(json.dumps(rec) + "\n")
        if args.exit_when_done and handles and all(h.status().is_seeding for h in handles):
            code = 0
            break
        r, _, _ = select.select([0], [], [], 0)
        if r:
            chunk = os.read(0, 4096)
            if not chunk:
                code = 0
                break
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                cmd = line.decode().split()
                if len(cmd) == 2 and cmd[0] == "connect":
                    host, port = cmd[1].rsplit(":", 1)
                    handles[0].connect_peer((host, int(port)))
                elif len(cmd) == 2 and cmd[0] == "add":
                    path, save = cmd[1].split("=", 1)
                    atp = lt.add_torrent_params()
                    atp.ti = lt.torrent_info(path)
                    atp.save_path = save
                    extra.append(ses.add_torrent(atp))
                elif len(cmd) == 1 and cmd[0] == "remove" and extra:
                    ses.remove_torrent(extra.pop(0), lt.session.delete_files)
        ses.wait_for_alert(50)
    statuses = [h.status() for h in handles]
    print(json.dumps({
        "done": code == 0,
        "progress": [s.progress for s in statuses],
        "seeding": [s.is_seeding for s in statuses],
        "pieces": [[i for i, b in enumerate(s.pieces) if b] for s in statuses],
    }), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
