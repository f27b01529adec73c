"""A BitTorrent peer driven through the libtorrent Python API.

Runs unchanged on our module and on the reference module (whichever
`import libtorrent` finds in the interpreter that runs it), so the interop
tests can pair any two implementations:

    python lt_peer.py seed  --torrent T --save-path DIR --port-file F [--timeout S]
    python lt_peer.py leech --torrent T --save-path DIR [--connect HOST:PORT ...] [--timeout S]

Loopback only: DHT, LSD, UPnP and NAT-PMP are off and the session listens on
127.0.0.1. A seeder runs until its stdin closes or the timeout passes; a
leecher exits 0 once the torrent is complete, 1 on timeout. The last line
printed is a JSON summary.
"""
import argparse
import json
import os
import select
import sys
import time

import libtorrent as lt


def make_session(listen):
    return lt.session({
        "listen_interfaces": listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        "allow_multiple_connections_per_ip": True,
    })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save-path", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--connect", action="append", default=[])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    ses = make_session(args.listen)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.save_path
    h = ses.add_torrent(atp)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(ses.listen_port()))
        os.replace(tmp, args.port_file)
    for peer in args.connect:
        host, port = peer.rsplit(":", 1)
        h.connect_peer((host, int(port)))

    deadline = time.monotonic() + args.timeout
    errors = []
    done = False
    while time.monotonic() < deadline:
        for a in ses.pop_alerts():
            if a.category() & lt.alert.category_t.error_notification:
                errors.append(a.message())
        st = h.status()
        if args.mode == "leech" and st.is_seeding:
            done = True
            break
        if args.mode == "seed":
            r, _, _ = select.select([sys.stdin], [], [], 0)
            if r and not sys.stdin.read(1):
                done = True
                break
        ses.wait_for_alert(100)
    st = h.status()
    print(json.dumps({
        "mode": args.mode,
        "done": done,
        "progress": st.progress,
        "state": str(st.state),
        "total_payload_download": st.total_payload_download,
        "total_payload_upload": st.total_payload_upload,
        "errors": errors[:20],
    }), flush=True)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
