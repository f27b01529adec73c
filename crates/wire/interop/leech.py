# Interop check: the reference libtorrent downloads a torrent from our serve_file example
# on loopback. argv[1] = rc4 | plaintext, argv[2] = path of the serve_file binary.
import libtorrent as lt, os, sys, time, subprocess, shutil
d = os.path.join(os.environ.get('INTEROP_DIR', '/tmp/wireinterop'), 'src'); os.makedirs(d, exist_ok=True)
data = bytes((i * 13 + 5) % 253 for i in range(100000)) * 3 + b'tail'
open(os.path.join(d, 'g.bin'), 'wb').write(data)
fs = lt.file_storage(); lt.add_files(fs, os.path.join(d, 'g.bin'))
t = lt.create_torrent(fs, 32768, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(t, d)
ti = lt.torrent_info(t.generate())
enc = sys.argv[1]
srv = subprocess.Popen([sys.argv[2], os.path.join(d, 'g.bin'), str(ti.info_hashes().v1), '32768'], stdout=subprocess.PIPE, text=True)
port = int(srv.stdout.readline().split()[1])
dst = os.path.join(os.environ.get('INTEROP_DIR', '/tmp/wireinterop'), 'dst_' + enc); shutil.rmtree(dst, ignore_errors=True); os.makedirs(dst)
pol = {'rc4': 0, 'plaintext': 2}[enc]
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False, 'in_enc_policy': pol, 'out_enc_policy': pol,
                'allowed_enc_level': 2 if enc == 'rc4' else 3, 'alert_mask': lt.alert_category.all})
h = s.add_torrent({'ti': ti, 'save_path': dst})
h.connect_peer(('127.0.0.1', port))
end = time.time() + 25
while time.time() < end:
    for a in s.pop_alerts():
        if isinstance(a, (lt.peer_disconnected_alert, lt.peer_error_alert, lt.hash_failed_alert)):
            print('ALERT', type(a).__name__, a.message(), flush=True)
    st = h.status()
    if st.is_seeding:
        break
    time.sleep(0.1)
st = h.status()
print('progress', st.progress, 'seeding', st.is_seeding, 'num_pieces', st.num_pieces, '/', ti.num_pieces())
ok = open(os.path.join(dst, 'g.bin'), 'rb').read() == data if st.is_seeding else False
print('DATA MATCH', ok)
s.remove_torrent(h)
del s
print(srv.communicate(timeout=40)[0])
