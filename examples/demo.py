"""The main job: make a torrent, seed it from one session and download it in
a second over loopback, then verify every byte. Needs no internet.

    python examples/demo.py [--size-mb N] [--files N] [--keep DIR]
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time

import libtorrent as lt

LOOPBACK = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
}


def make_data(root, total_mb, n_files):
    """Deterministic pseudo-random files under root/demo/."""
    d = os.path.join(root, "demo")
    os.makedirs(d)
    per_file = max(1, total_mb * 1024 * 1024 // n_files)
    for i in range(n_files):
        size = per_file + i * 1237  # uneven sizes, so pieces span files
        seed = hashlib.sha256(b"demo-%d" % i).digest()
        with open(os.path.join(d, f"file{i:03d}.bin"), "wb") as f:
            block = seed * (65536 // len(seed))
            written = 0
            while written < size:
                chunk = block[: min(len(block), size - written)]
                f.write(chunk)
                written += len(chunk)
                block = hashlib.sha256(block[:64]).digest() * (65536 // 32)
    return d


def make_torrent(data_dir, out_path):
    fs = lt.file_storage()
    lt.add_files(fs, data_dir)
    ct = lt.create_torrent(fs)
    ct.set_creator("libtorrent-rs demo")
    lt.set_piece_hashes(ct, os.path.dirname(data_dir))
    with open(out_path, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return lt.torrent_info(out_path)


def digest_tree(root):
    h = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                h[os.path.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=64)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--keep", help="work in this directory and keep it")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="lt-demo-")
    os.makedirs(work, exist_ok=True)
    try:
        seed_dir = os.path.join(work, "seed")
        leech_dir = os.path.join(work, "leech")
        shutil.rmtree(seed_dir, ignore_errors=True)
        shutil.rmtree(leech_dir, ignore_errors=True)
        os.makedirs(seed_dir)
        t0 = time.monotonic()
        data = make_data(seed_dir, args.size_mb, args.files)
        ti = make_torrent(data, os.path.join(work, "demo.torrent"))
        print(f"created {ti.name()}: {ti.num_files()} files, {ti.total_size() / 1e6:.1f} MB, "
              f"{ti.num_pieces()} pieces, v1 {ti.info_hashes().v1}  ({time.monotonic() - t0:.1f}s)")
        print("magnet:", lt.make_magnet_uri(ti))

        seeder = lt.session(LOOPBACK)
        leecher = lt.session(LOOPBACK)
        atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = seed_dir
        seed = seeder.add_torrent(atp)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(os.path.join(work, "demo.torrent"))
        atp.save_path = leech_dir
        leech = leecher.add_torrent(atp)

        deadline = time.monotonic() + args.timeout
        while not seed.status().is_seeding:
            if time.monotonic() > deadline:
                sys.exit("seeder did not finish checking its files")
            time.sleep(0.05)
        leech.connect_peer(("127.0.0.1", seeder.listen_port()))
        start = time.monotonic()
        last = 0.0
        while True:
            st = leech.status()
            if st.is_seeding:
                break
            for a in leecher.pop_alerts() + seeder.pop_alerts():
                if a.category() & lt.alert.category_t.error_notification:
                    print("  alert:", a.message())
            now = time.monotonic()
            if now - last >= 0.5:
                print(f"  {st.progress * 100:5.1f}%  down {st.download_payload_rate / 1e6:7.1f} MB/s  "
                      f"peers {st.num_peers}  state {st.state}")
                last = now
            if now > deadline:
                sys.exit(f"download did not finish in {args.timeout}s (progress {st.progress:.3f})")
            time.sleep(0.05)
        took = time.monotonic() - start
        print(f"downloaded {ti.total_size() / 1e6:.1f} MB in {took:.2f}s "
              f"({ti.total_size() / 1e6 / max(took, 1e-9):.1f} MB/s)")

        want = digest_tree(os.path.join(seed_dir, ti.name()))
        got = digest_tree(os.path.join(leech_dir, ti.name()))
        if want != got:
            sys.exit("MISMATCH: downloaded data differs from the original")
        print(f"verified: {len(got)} files identical to the seed's")
        del leecher, seeder
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
