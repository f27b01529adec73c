# Interop check: the reference libtorrent seeds on loopback; argv[1] = rc4 | mseplain | plaintext.
# Prints one JSON line (port, info-hash, geometry, piece 0 hash) and seeds for 25 s.
import libtorrent as lt, os, sys, time, hashlib, json
d = os.path.join(os.environ.get('INTEROP_DIR', '/tmp/wireinterop'), 'data'); os.makedirs(d, exist_ok=True)
data = bytes((i * 31 + 7) % 251 for i in range(100000)) * 3  # 300000 bytes
open(os.path.join(d, 'f.bin'), 'wb').write(data)
fs = lt.file_storage(); lt.add_files(fs, os.path.join(d, 'f.bin'))
t = lt.create_torrent(fs, 65536, flags=lt.create_torrent.v1_only if len(sys.argv) < 3 else 0)
lt.set_piece_hashes(t, d)
ti = lt.torrent_info(t.generate())
enc = sys.argv[1]  # rc4 | plaintext
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False,
                'in_enc_policy': {'rc4': 0, 'mseplain': 0}.get(enc, 2), 'out_enc_policy': {'rc4': 0, 'mseplain': 0}.get(enc, 2),
                'allowed_enc_level': {'rc4': 2, 'mseplain': 1}.get(enc, 3), 'alert_mask': lt.alert_category.all})
h = s.add_torrent({'ti': ti, 'save_path': d, 'flags': lt.torrent_flags.seed_mode})
time.sleep(0.5)
info = {'port': s.listen_port(), 'ih': str(ti.info_hashes().v1), 'piece_len': ti.piece_length(),
        'total': ti.total_size(), 'p0': hashlib.sha1(data[:65536]).hexdigest(), 'meta': ti.metadata_size()}
print(json.dumps(info), flush=True)
end = time.time() + float(os.environ.get("SEED_SECS", "25"))
while time.time() < end:
    for a in s.pop_alerts():
        if isinstance(a, (lt.peer_disconnected_alert, lt.peer_connect_alert, lt.incoming_connection_alert, lt.peer_error_alert)):
            print('ALERT', type(a).__name__, a.message(), file=sys.stderr, flush=True)
    time.sleep(0.1)
