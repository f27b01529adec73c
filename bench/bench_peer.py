"""A benchmark peer: one session, one torrent, driven over stdin/stdout.

Module-agnostic (whichever `import libtorrent` the interpreter finds), so a
benchmark can pair our module and the reference in any combination.

    python bench_peer.py --torrent T --save-path DIR [--seed-mode] [--poll S]

Protocol (one JSON object per stdout line):
  -> {"event": "ready", "port": P, "t_check": s, "cpu": s, ...}
        the session listens and the torrent finished checking (a seed is
        seeding at this point);
  <- "connect H:P[,H:P...]"   connect to these peers (a line on stdin)
  <- "start"                  (optional) nothing else; marks the start
  -> {"event": "complete", "t": s, ...}   a leecher became a seed; `t`
        is measured from the first `connect` line;
  <- EOF on stdin             shut down
  -> {"event": "exit", "cpu_user": s, "cpu_sys": s, "vm_hwm_kb": k, ...}
CPU figures are getrusage(RUSAGE_SELF) (all threads); memory is VmHWM/VmRSS
from /proc/self/status. Loopback only: DHT, LSD, UPnP and NAT-PMP are off.
"""
import argparse
import json
import os
import resource
import select
import sys
import time

import libtorrent as lt


def emit(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def mem_kb():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                k, v = line.split(":")
                out[k.lower()] = int(v.split()[0])
    return out.get("vmhwm", 0), out.get("vmrss", 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save-path", required=True)
    ap.add_argument("--seed-mode", action="store_true", help="skip the initial check (torrent_flags.seed_mode)")
    ap.add_argument("--poll", type=float, default=0.05, help="status poll interval, seconds")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--settings", default="{}", help="extra settings, JSON")
    args = ap.parse_args()
    t_start = time.monotonic()

    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        "allow_multiple_connections_per_ip": True,
        # Plain BitTorrent over TCP: uTP and protocol encryption off on every
        # side, so all pairings speak the same protocol (the reference would
        # otherwise pick uTP on loopback, which it rate-limits to ~10 MB/s).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": int(lt.enc_policy.pe_disabled),
        "in_enc_policy": int(lt.enc_policy.pe_disabled),
    }
    settings.update(json.loads(args.settings))
    ses = lt.session(settings)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.save_path
    # Start at once rather than on the auto-manager's next tick.
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    if args.seed_mode:
        atp.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    deadline = t_start + args.timeout
    errors = []

    debug = os.environ.get("LT_BENCH_DEBUG")

    def drain():
        for a in ses.pop_alerts():
            if debug:
                sys.stderr.write(f"{time.monotonic() - t_start:8.3f} {type(a).__name__}: {a.message()}\n")
            if a.category() & lt.alert.category_t.error_notification:
                errors.append(a.message())

    # Wait for checking to finish (downloading or seeding state).
    checking = {str(lt.torrent_status.states.checking_files),
                str(lt.torrent_status.states.checking_resume_data)}
    while time.monotonic() < deadline:
        drain()
        st = h.status()
        if str(st.state) not in checking and ses.listen_port():
            break
        time.sleep(args.poll)
    t_ready = time.monotonic()
    u, s = cpu()
    st = h.status()
    emit(event="ready", port=ses.listen_port(), t_check=t_ready - t_start, cpu=u + s,
         is_seeding=st.is_seeding, progress=st.progress, errors=errors[:5])

    t0 = None
    completed = st.is_seeding
    stdin_open = True
    while time.monotonic() < deadline:
        if stdin_open:
            r, _, _ = select.select([sys.stdin], [], [], 0)
            if r:
                line = sys.stdin.readline()
                if not line:
                    stdin_open = False
                    break
                line = line.strip()
                if line.startswith("connect"):
                    if t0 is None:
                        t0 = time.monotonic()
                    for peer in filter(None, line.split(None, 1)[1].split(",") if " " in line else []):
                        host, port = peer.rsplit(":", 1)
                        h.connect_peer((host, int(port)))
                elif line == "start" and t0 is None:
                    t0 = time.monotonic()
                continue
        drain()
        if not completed:
            st = h.status()
            if st.is_seeding:
                completed = True
                u, s = cpu()
                emit(event="complete", t=time.monotonic() - (t0 or t_ready), cpu=u + s,
                     total_payload_download=st.total_payload_download)
        time.sleep(args.poll)

    drain()
    st = h.status()
    u, s = cpu()
    hwm, rss = mem_kb()
    emit(event="exit", completed=completed, progress=st.progress, cpu_user=u, cpu_sys=s,
         vm_hwm_kb=hwm, vm_rss_kb=rss, total_payload_download=st.total_payload_download,
         total_payload_upload=st.total_payload_upload, num_peers=st.num_peers, errors=errors[:20])
    # Leave quickly: the session's destructor may block on tracker/disk shutdown.
    del h
    del ses
    return 0 if completed else 1


if __name__ == "__main__":
    sys.exit(main())
