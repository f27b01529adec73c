"""A small terminal BitTorrent client on the libtorrent API.

    python examples/client.py [--save-path DIR] [--listen 127.0.0.1:6881]
                              [--peer HOST:PORT ...] TORRENT_OR_MAGNET ...

It shows every torrent's progress, rates and peers, refreshing once a second.
Keys (type the key, then Enter):  p  pause all   r  resume all
                                  v  toggle the peer list   q  quit
"""
import argparse
import os
import select
import sys
import time

import libtorrent as lt

STATES = {
    lt.torrent_status.states.queued_for_checking: "queued",
    lt.torrent_status.states.checking_files: "checking",
    lt.torrent_status.states.downloading_metadata: "metadata",
    lt.torrent_status.states.downloading: "downloading",
    lt.torrent_status.states.finished: "finished",
    lt.torrent_status.states.seeding: "seeding",
    lt.torrent_status.states.checking_resume_data: "resuming",
}


def human(n):
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:6.1f} {unit}"
        n /= 1000
    return f"{n:6.1f} TB"


def add(ses, what, save_path, peers):
    if what.startswith("magnet:"):
        atp = lt.parse_magnet_uri(what)
    else:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(what)
    atp.save_path = save_path
    h = ses.add_torrent(atp)
    for p in peers:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host, int(port)))
    return h


def render(handles, show_peers):
    lines = [f"{'name':30} {'state':11} {'progress':>8} {'down':>11} {'up':>11} {'peers':>5}"]
    for h in handles:
        st = h.status()
        lines.append(f"{st.name[:30]:30} {STATES.get(st.state, str(st.state)):11} "
                     f"{st.progress * 100:7.1f}% {human(st.download_payload_rate)}/s "
                     f"{human(st.upload_payload_rate)}/s {st.num_peers:5}"
                     + ("  [paused]" if st.paused else ""))
        if show_peers:
            for p in h.get_peer_info():
                lines.append(f"    {p.ip[0]}:{p.ip[1]:<6} {p.client[:24]:24} "
                             f"down {human(p.down_speed)}/s up {human(p.up_speed)}/s "
                             f"{p.progress * 100:5.1f}%")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("torrents", nargs="+")
    ap.add_argument("--save-path", default=".")
    ap.add_argument("--listen", default="0.0.0.0:6881")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--no-dht", action="store_true")
    args = ap.parse_args()

    ses = lt.session({
        "listen_interfaces": args.listen,
        "enable_dht": not args.no_dht,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })
    handles = [add(ses, t, os.path.abspath(args.save_path), args.peer) for t in args.torrents]
    show_peers = False
    interactive = sys.stdin.isatty()
    while True:
        for a in ses.pop_alerts():
            if a.category() & lt.alert.category_t.error_notification:
                print("!", a.message())
        if interactive:
            print("\033[2J\033[H", end="")
        print(render(handles, show_peers))
        print("keys: p pause  r resume  v peers  q quit", flush=True)
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready:
            line = sys.stdin.readline()
            if not line:  # stdin closed: keep running until everything seeds
                if all(h.status().is_seeding for h in handles):
                    return 0
                time.sleep(1)
                continue
            key = line.strip()[:1]
            if key == "q":
                return 0
            if key == "p":
                for h in handles:
                    # an auto-managed torrent would be resumed by the queue
                    h.unset_flags(lt.torrent_flags.auto_managed)
                    h.pause()
            elif key == "r":
                for h in handles:
                    h.set_flags(lt.torrent_flags.auto_managed)
                    h.resume()
            elif key == "v":
                show_peers = not show_peers


if __name__ == "__main__":
    sys.exit(main())
