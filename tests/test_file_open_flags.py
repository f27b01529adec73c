"""How the storage opens files, compared with the reference: with
`disk_io_write_mode` set to `disable_os_cache` (2) or `write_through` (3)
every file is opened `O_SYNC`; `no_atime_storage` (on by default) opens them
`O_NOATIME`; `disk_io_read_mode` changes nothing. Settings applied while the
session runs hold for the files opened afterwards, and a smaller
`file_pool_size` closes files at once. Read from `/proc/self/fdinfo`, so
Linux only."""
import sys

import pytest

from ltdiff import run_ours, run_ref

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fdinfo")

# One session per configuration adds a piece of a torrent with
# `add_piece` (no peer needed), then the flags of the files it holds open
# are read. Then a session that wrote a piece into each of four files is
# told `file_pool_size` 1.
SCRIPT = r"""
import hashlib, json, os, tempfile, time, warnings
import libtorrent as lt
warnings.simplefilter("ignore")
O_SYNC, O_NOATIME = 0o4010000, 0o1000000
PIECE = 65536
root = tempfile.mkdtemp()

def make(name, nfiles):
    fs = lt.file_storage()
    for i in range(nfiles):
        fs.add_file(os.path.join(name, "f%d.bin" % i), 4 * PIECE)
    ct = lt.create_torrent(fs, PIECE)
    for p in range(ct.num_pieces()):
        ct.set_hash(p, hashlib.sha1(bytes([p]) * PIECE).digest())
    return lt.torrent_info(lt.bencode(ct.generate()))

def add_pieces(s, ti, save, pieces):
    h = s.add_torrent({"ti": ti, "save_path": save})
    for p in pieces:
        h.add_piece(p, bytes([p]) * PIECE, 0)
    t0 = time.time()
    while h.status().num_pieces < len(pieces) and time.time() - t0 < 20:
        time.sleep(0.02)
    return h

def open_flags(d):
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
            info = open("/proc/self/fdinfo/" + fd).read()
        except OSError:
            continue
        if target.startswith(d + "/"):
            bits = int(info.split("flags:")[1].split()[0], 8)
            out.add((bits & O_SYNC == O_SYNC, bits & O_NOATIME != 0))
    return sorted(out)

one, four = make("one", 1), make("four", 4)
base = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False}
configs = {
    "default": ({}, None),
    "atime": ({"no_atime_storage": False}, None),
    "write_disable_os_cache": ({"disk_io_write_mode": 2, "no_atime_storage": False}, None),
    "write_through": ({"disk_io_write_mode": 3}, None),
    "aligned_only": ({"disk_io_write_mode": 1}, None),
    "read_disable_os_cache": ({"disk_io_read_mode": 2}, None),
    # applied after the session wrote another torrent's files
    "applied_later": ({}, {"disk_io_write_mode": 3, "no_atime_storage": False}),
}
flags, keep = {}, []
for name, (settings, later) in configs.items():
    s = lt.session(dict(base, **settings))
    if later is not None:
        keep.append(add_pieces(s, four, os.path.join(root, name, "other"), [0]))
        s.apply_settings(later)
    d = os.path.join(root, name, "dst")
    h = add_pieces(s, one, d, [0, 1])
    flags[name] = open_flags(d)
    keep.append((s, h))

s = lt.session(base)
h = add_pieces(s, four, os.path.join(root, "pool"), [0, 4, 8, 12])
before = len(h.file_status())
s.apply_settings({"file_pool_size": 1})
time.sleep(0.5)
print(json.dumps({"flags": flags, "pool": [before, len(h.file_status())]}))
"""


@pytest.fixture(scope="module")
def both():
    return run_ours(SCRIPT), run_ref(SCRIPT)


def test_open_flags_follow_the_settings_as_in_the_reference(both):
    ours, ref = both
    expected = {
        "default": [[False, True]],
        "atime": [[False, False]],
        "write_disable_os_cache": [[True, False]],
        "write_through": [[True, True]],
        "aligned_only": [[False, True]],
        "read_disable_os_cache": [[False, True]],
        "applied_later": [[True, False]],
    }
    assert ref["flags"] == expected, ref
    assert ours["flags"] == expected, ours


def test_a_smaller_file_pool_closes_files_at_once(both):
    ours, ref = both
    assert ref["pool"] == [4, 1], ref
    assert ours["pool"] == [4, 1], ours
