"""A BitTorrent peer driven through the libtorrent Python API.

Runs unchanged on our module and on the reference module (whichever
`import libtorrent` finds in the interpreter that runs it), so the interop
tests can pair any two implementations:

    python lt_peer.py seed  --torrent T --save-path DIR [--port-file F] [--timeout S]
    python lt_peer.py leech --torrent T --save-path DIR [--connect HOST:PORT ...] [--timeout S]

Loopback only: DHT, LSD, UPnP and NAT-PMP are off and the session listens on
127.0.0.1. A seeder runs until its stdin closes or the timeout passes. A
leecher exits 0 once the torrent is complete (with --stay it keeps serving
until its stdin closes), 1 on timeout or when its stdin closes before.

Progress is reported on stdout as JSON lines: {"event": "listening", "port": P}
once the session listens (for a seeder: once its data is checked and it
seeds), {"event": "complete"} when a leecher finishes, and a last line
{"event": "summary", ...} with the torrent's totals, the per-peer totals of
get_peer_info() and the alerts seen. --port-file also writes the port to a
file (atomically) at the "listening" moment.
"""
import argparse
import json
import os
import select
import sys
import time

import libtorrent as lt


def parse_setting(kv):
    """KEY=VALUE of --set: true/false, an integer, else a string."""
    key, _, value = kv.partition("=")
    if value in ("true", "false"):
        return key, value == "true"
    try:
        return key, int(value, 0)
    except ValueError:
        return key, value


def make_session(listen, upload_rate_limit, extra=()):
    cat = lt.alert.category_t
    settings = {
        "listen_interfaces": listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": cat.error_notification | cat.status_notification
        | cat.tracker_notification | cat.peer_notification | cat.connect_notification,
        "allow_multiple_connections_per_ip": True,
    }
    if upload_rate_limit:
        settings["upload_rate_limit"] = upload_rate_limit
    settings.update(dict(extra))
    ses = lt.session(settings)
    if upload_rate_limit:
        # the limit is the global peer class's, which by default leaves out
        # local-network peers (the swarm runs on loopback): put every
        # address in it
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(f)
    return ses


def emit(**kw):
    print(json.dumps(kw), flush=True)


def peer_rows(h):
    rows = []
    # libtorrent's peer_info::utp_socket bit; its bindings do not export it
    utp_flag = getattr(lt.peer_info, "utp_socket", 0x20000)
    try:
        peers = h.get_peer_info()
    except Exception as e:  # reported, not hidden: the summary carries it
        return [{"error": repr(e)}]
    for p in peers:
        ip = p.ip
        rows.append({
            "ip": f"{ip[0]}:{ip[1]}",
            "client": p.client.decode("utf-8", "replace"),
            "total_download": p.total_download,
            "total_upload": p.total_upload,
            "seed": bool(p.flags & lt.peer_info.seed),
            "utp": bool(p.flags & utp_flag),
        })
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save-path", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--connect", action="append", default=[],
                    help="HOST:PORT to connect to once the torrent is added")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--stay", action="store_true",
                    help="leecher: keep serving after completion until stdin closes")
    ap.add_argument("--upload-rate-limit", type=int, default=0,
                    help="session upload_rate_limit in bytes/s, applied to every peer, "
                    "loopback too (0: unlimited)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a session setting (true/false, integer or string)")
    args = ap.parse_args()

    ses = make_session(args.listen, args.upload_rate_limit,
                       [parse_setting(kv) for kv in args.set])
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.save_path
    h = ses.add_torrent(atp)

    announced = False

    def announce_port():
        nonlocal announced
        announced = True
        port = ses.listen_port()
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(port))
            os.replace(tmp, args.port_file)
        emit(event="listening", port=port)

    if args.mode == "leech":
        announce_port()
    for peer in args.connect:
        host, port = peer.rsplit(":", 1)
        h.connect_peer((host, int(port)))

    deadline = time.monotonic() + args.timeout
    alerts = []
    errors = []
    complete = False
    done = False
    stdin_open = True
    while time.monotonic() < deadline:
        for a in ses.pop_alerts():
            line = f"{type(a).__name__}: {a.message()}"
            if len(alerts) < 200:
                alerts.append(line)
            if a.category() & lt.alert.category_t.error_notification:
                errors.append(line)
        st = h.status()
        if args.mode == "seed" and not announced and st.is_seeding:
            announce_port()
        if args.mode == "leech" and st.is_seeding and not complete:
            complete = True
            emit(event="complete")
            if not args.stay:
                done = True
                break
        # stdin closing is the signal to stop (for a leecher: to give up)
        r, _, _ = select.select([sys.stdin], [], [], 0)
        if r and not sys.stdin.read(1):
            stdin_open = False
            done = complete or args.mode == "seed"
            break
        ses.wait_for_alert(100)
    st = h.status()
    emit(
        event="summary",
        mode=args.mode,
        done=done,
        stdin_open=stdin_open,
        progress=st.progress,
        state=str(st.state),
        is_seeding=st.is_seeding,
        total_payload_download=st.total_payload_download,
        total_payload_upload=st.total_payload_upload,
        peers=peer_rows(h),
        errors=errors[:20],
        alerts=alerts[-60:],
    )
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
