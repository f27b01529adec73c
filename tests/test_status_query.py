"""torrent_status's optional parts follow the query flags
(`torrent_handle.query_*`), as in the reference: get_torrent_status with
flags 0 leaves name, save_path, pieces and torrent_file empty, and each flag
fills its part in."""
from ltdiff import run_ours, run_ref

SCRIPT = r"""
import hashlib, json, tempfile, time
import libtorrent as lt
d = tempfile.mkdtemp()
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False})
pieces = b''.join(hashlib.sha1(b'%d' % k).digest() for k in range(5))
info = {b'name': b'x.bin', b'piece length': 16384, b'length': 5 * 16384, b'pieces': pieces}
h = ses.add_torrent({'ti': lt.torrent_info(lt.bencode({b'info': info})), 'save_path': d})
time.sleep(0.3)
th = lt.torrent_handle
# libtorrent's query_torrent_file/query_name/query_save_path: values of
# status_flags_t that the bindings do not name
Q_TORRENT_FILE, Q_NAME, Q_SAVE_PATH = 32, 64, 128
def view(s):
    return {'name': s.name, 'save_path': s.save_path == d, 'pieces': len(s.pieces),
            'torrent_file': s.torrent_file is not None, 'queue_position': s.queue_position}
out = {}
for label, fl in [('none', 0), ('name', Q_NAME), ('save_path', Q_SAVE_PATH),
                  ('pieces', th.query_pieces), ('torrent_file', Q_TORRENT_FILE),
                  ('all', Q_NAME | Q_SAVE_PATH | th.query_pieces | Q_TORRENT_FILE)]:
    out['ses_' + label] = view(ses.get_torrent_status(lambda s: True, fl)[0])
    out['h_' + label] = view(h.status(fl))
out['h_default'] = view(h.status())
out['refresh_none'] = view(ses.refresh_torrent_status([h.status()], 0)[0])
print(json.dumps(out, sort_keys=True))
"""


def test_status_query_flags_match_reference():
    ours = run_ours(SCRIPT)
    assert ours == run_ref(SCRIPT)
    # and the cases say what they should, not merely agree
    assert ours["ses_none"] == {"name": "", "save_path": False, "pieces": 0, "torrent_file": False,
                                "queue_position": 0}
    assert ours["h_default"] == {"name": "x.bin", "save_path": True, "pieces": 5, "torrent_file": True,
                                 "queue_position": 0}
