#!/usr/bin/env python3
"""A minimal BitTorrent client on the libtorrent Python API.

    python simple_client.py TORRENT_FILE SAVE_PATH

Adds the torrent to a session, prints its progress about once a second and
exits once the download is complete (the torrent is seeding).
"""
import sys
import time

import libtorrent as lt


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} TORRENT_FILE SAVE_PATH", file=sys.stderr)
        return 2
    torrent_file, save_path = argv[1], argv[2]

    ses = lt.session({"listen_interfaces": "0.0.0.0:6881"})
    handle = ses.add_torrent({"ti": lt.torrent_info(torrent_file), "save_path": save_path})
    print("starting", handle.status().name, flush=True)

    status = handle.status()
    while not status.is_seeding:
        print("%.2f%% complete (down: %.1f kB/s up: %.1f kB/s peers: %d) %s" % (
            status.progress * 100, status.download_rate / 1000, status.upload_rate / 1000,
            status.num_peers, status.state), flush=True)
        for alert in ses.pop_alerts():
            if alert.category() & lt.alert.category_t.error_notification:
                print("alert:", alert.message(), flush=True)
        time.sleep(1)
        status = handle.status()

    print(status.name, "complete", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
