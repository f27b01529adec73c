"""A reference libtorrent peer for the uTP interop test (tests/interop.rs).

    python ref_utp_peer.py seed  --dir D
    python ref_utp_peer.py leech --dir D --connect PORT

Both build the same v1 torrent over deterministic data (byte i is
((i * 0x9E3779B1) >> 16) & 0xff), listen on 127.0.0.1 with uTP enabled and
plaintext peer connections only, and print one JSON line describing the
torrent. The seeder serves until stdin closes; the leecher connects to
127.0.0.1:PORT over uTP (outgoing TCP is disabled), downloads, and prints a
second JSON line with the outcome. Loopback only; everything is bounded by
--timeout.
"""
import argparse
import json
import os
import select
import sys
import time

import libtorrent as lt

TOTAL = 1_000_123
PIECE = 256 * 1024


def make_data():
    return bytes(((i * 0x9E3779B1) >> 16) & 0xFF for i in range(TOTAL))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--connect", type=int)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    src = os.path.join(args.dir, "src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "utp.bin"), "wb") as f:
        f.write(make_data())
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(src, "utp.bin"))
    ct = lt.create_torrent(fs, PIECE, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, src)
    ti = lt.torrent_info(ct.generate())

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": True,
        "enable_outgoing_utp": True,
        "enable_outgoing_tcp": args.mode == "seed",
        "in_enc_policy": 2,
        "out_enc_policy": 2,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.connect_notification
        | lt.alert.category_t.peer_notification,
    })
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = src if args.mode == "seed" else os.path.join(args.dir, "dl")
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        st = h.status()
        if ses.listen_port() and (args.mode == "leech" or st.is_seeding):
            break
        time.sleep(0.05)
    print(json.dumps({
        "port": ses.listen_port(),
        "info_hash": str(ti.info_hash()),
        "piece_length": PIECE,
        "total": TOTAL,
        "pieces": [ti.hash_for_piece(i).hex() for i in range(ti.num_pieces())],
    }), flush=True)

    log = []
    if args.mode == "leech":
        h.connect_peer(("127.0.0.1", args.connect))
    done = False
    while time.monotonic() < deadline:
        for a in ses.pop_alerts():
            log.append(a.message())
        if args.mode == "leech":
            if h.status().is_seeding:
                done = True
                break
        else:
            r, _, _ = select.select([sys.stdin], [], [], 0)
            if r and not sys.stdin.read(1):
                done = True
                break
        ses.wait_for_alert(50)
    peers = []
    try:
        peers = [{"ip": p.ip[0], "utp": bool(p.flags & p.utp_socket)} for p in h.get_peer_info()]
    except Exception:  # noqa: BLE001 - diagnostics only
        pass
    print(json.dumps({"done": done, "progress": h.status().progress, "peers": peers,
                      "log": log[-30:]}), flush=True)


if __name__ == "__main__":
    main()
