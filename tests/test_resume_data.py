"""write_resume_data / write_resume_data_buf / read_resume_data compared
with the reference: the same script runs under both modules and must print
the same JSON (resume bytes, decoded entries, read-back params, exceptions)."""
import json

import pytest

# Shared by every script: JSON-able views of entries and add_torrent_params.
PRE = r"""
import libtorrent as lt, json, hashlib

def J(x):
    if isinstance(x, bytes):
        return 'b:' + x.hex()
    if isinstance(x, dict):
        return {('k:' + k.hex() if isinstance(k, bytes) else str(k)): J(v) for k, v in sorted(x.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(x, (list, tuple)):
        return [J(v) for v in x]
    return x

FIELDS = ['name', 'save_path', 'trackers', 'tracker_tiers', 'dht_nodes', 'url_seeds', 'http_seeds', 'flags',
          'max_uploads', 'max_connections', 'upload_limit', 'download_limit', 'total_uploaded',
          'total_downloaded', 'active_time', 'finished_time', 'seeding_time', 'added_time', 'completed_time',
          'last_seen_complete', 'num_complete', 'num_incomplete', 'num_downloaded', 'last_download',
          'last_upload', 'trackerid', 'url', 'comment', 'created_by', 'creation_date', 'root_certificate',
          'part_file_dir', 'file_priorities', 'piece_priorities', 'peers', 'banned_peers', 'have_pieces',
          'verified_pieces', 'unfinished_pieces', 'renamed_files', 'version']

def dump(a):
    d = {f: J(getattr(a, f)) for f in FIELDS}
    d['storage_mode'] = int(a.storage_mode)
    d['ih'] = [str(a.info_hashes.v1), str(a.info_hashes.v2), str(a.info_hash)]
    if a.ti is not None:
        ih = a.ti.info_hashes()
        d['ti'] = [str(ih.v1), str(ih.v2), a.ti.num_pieces(), a.ti.name(), a.ti.comment(),
                   a.ti.creator(), a.ti.creation_date(), a.ti.total_size(), a.ti.num_files()]
    else:
        d['ti'] = None
    return d

def attempt(f):
    try:
        return {'ok': f()}
    except Exception as e:
        return {'exc': type(e).__name__, 'msg': str(e)}

def read(buf, *a):
    return attempt(lambda: dump(lt.read_resume_data(buf, *a)))

def full_params():
    atp = lt.add_torrent_params()
    atp.name = 'nm'
    atp.save_path = '/sp'
    atp.trackers = ['http://a/ann', 'http://b/ann', 'udp://c:1/ann', 'http://d/']
    atp.tracker_tiers = [0, 2, 2]
    atp.url_seeds = ['http://u1/', 'http://u2/']
    atp.http_seeds = ['http://h1/']
    atp.dht_nodes = [('n1', 5)]
    atp.flags = (lt.torrent_flags.seed_mode | lt.torrent_flags.super_seeding | lt.torrent_flags.share_mode
                 | lt.torrent_flags.sequential_download | lt.torrent_flags.disable_pex | (1 << 24) | (1 << 25))
    atp.info_hashes = lt.info_hash_t(lt.sha1_hash(b'a' * 20), lt.sha256_hash(b'b' * 32))
    atp.max_uploads = 3
    atp.max_connections = 4
    atp.upload_limit = 5
    atp.download_limit = 6
    atp.total_uploaded = 7
    atp.total_downloaded = 2 ** 40
    atp.active_time = 9
    atp.finished_time = 10
    atp.seeding_time = 11
    atp.added_time = 12
    atp.completed_time = 13
    atp.last_seen_complete = 14
    atp.num_complete = 15
    atp.num_incomplete = 16
    atp.num_downloaded = 17
    atp.last_download = 18
    atp.last_upload = 19
    atp.trackerid = 'tid'
    atp.url = 'http://url'
    atp.comment = 'cm'
    atp.created_by = 'cb'
    atp.creation_date = 20
    atp.root_certificate = 'rc'
    atp.part_file_dir = 'pfd'
    atp.file_priorities = [0, 1, 4, 7, 6]
    atp.piece_priorities = [0, 1, 7, 3, 2]
    atp.peers = [('1.2.3.4', 80), ('::1', 81), ('2001:db8::5', 82), ('::ffff:9.8.7.6', 83)]
    atp.banned_peers = [('5.6.7.8', 90), ('fe80::1', 91)]
    atp.have_pieces = [True, False, True, True, False, False, True, False, True, True]
    atp.verified_pieces = [False, True, True]
    atp.unfinished_pieces = {1: [True, False, True] + [False] * 5 + [True], 3: [], 7: [False, True]}
    atp.renamed_files = {0: 'a/b', 3: 'c'}
    atp.storage_mode = lt.storage_mode_t.storage_mode_allocate
    return atp

def trip(atp):
    buf = lt.write_resume_data_buf(atp)
    return {'buf': buf.hex(), 'entry': J(lt.write_resume_data(atp)), 'back': read(buf)}
"""


def run_both(ref, ours, body, **kw):
    code = PRE + body
    r = ref(code, **kw)
    o = ours(code, **kw)
    return r, o


def test_default_and_full_params(ref, ours):
    r, o = run_both(ref, ours, r"""
out = {'default': trip(lt.add_torrent_params()), 'full': trip(full_params())}
# a second trip through the read-back params is stable
a = lt.read_resume_data(lt.write_resume_data_buf(full_params()))
out['again'] = trip(a)
print(json.dumps(out))
""")
    assert r == o
    # the checks above really exercised the fields
    back = r['full']['back']['ok']
    assert back['peers'] and back['banned_peers'] and back['unfinished_pieces']
    assert back['file_priorities'] == [0, 1, 4, 7, 6]


def test_field_by_field(ref, ours):
    """Each field set alone: its keys and read-back value."""
    r, o = run_both(ref, ours, r"""
cases = [
    ('trackers', ['http://x/'], None), ('tracker_tiers', [1, 0], ['a', 'b', 'c']),
    ('tracker_tiers', [-1], ['a']), ('tracker_tiers', [5000, 3], ['a', 'b']),
    ('url_seeds', ['u', ''], None), ('http_seeds', ['h'], None),
    ('peers', [('1.2.3.4', 1)], None), ('peers', [('::2', 65535)], None),
    ('banned_peers', [('0.0.0.0', 0)], None),
    ('have_pieces', [False] * 9, None), ('have_pieces', [True] * 17, None),
    ('verified_pieces', [False] * 4, None), ('verified_pieces', [True], None),
    ('unfinished_pieces', {-1: [True]}, None), ('unfinished_pieces', {2: [True] * 9}, None),
    ('renamed_files', {5: 'x'}, None), ('renamed_files', {0: ''}, None),
    ('file_priorities', [7, 0, 255], None), ('piece_priorities', [255, 8, 0], None),
    ('name', 'n\u00e9', None), ('save_path', '/\u00fc', None), ('url', 'u', None), ('comment', 'c', None),
    ('created_by', 'x', None), ('creation_date', -5, None), ('root_certificate', 'r', None),
    ('part_file_dir', 'p', None), ('trackerid', 't', None), ('dht_nodes', [('a', 1)], None),
    ('flags', 0, None), ('flags', 2 ** 63, None), ('flags', lt.torrent_flags.default_flags, None),
    ('storage_mode', lt.storage_mode_t.storage_mode_sparse, None),
    ('active_time', -1, None), ('num_complete', 2 ** 31 - 1, None), ('last_upload', -2 ** 40, None),
    ('info_hashes', lt.info_hash_t(lt.sha256_hash(b'c' * 32)), None),
    ('info_hash', lt.sha1_hash(b'q' * 20), None),
]
out = []
for field, value, trackers in cases:
    a = lt.add_torrent_params()
    a.info_hashes = lt.info_hash_t(lt.sha1_hash(b'a' * 20))
    if trackers is not None:
        a.trackers = trackers
    try:
        setattr(a, field, value)
    except Exception as e:
        out.append([field, 'set', type(e).__name__])
        continue
    out.append([field, attempt(lambda: trip(a))])
print(json.dumps(out))
""")
    assert r == o


@pytest.fixture(scope="module")
def torrents(request):
    """.torrent files made by the reference: v1, v2 and hybrid, several
    files, piece sizes from 16 KiB (leaf layer) up."""
    from ltdiff import run_ref
    return run_ref(r"""
import libtorrent as lt, os, tempfile, json
def make(kind, sizes, plen):
    d = tempfile.mkdtemp()
    os.makedirs(d + '/t')
    for i, size in enumerate(sizes):
        with open(f'{d}/t/f{i}', 'wb') as f:
            f.write(bytes((j * 7 + i) % 251 for j in range(size)))
    fs = lt.file_storage()
    # one file: a single-file torrent (no directory)
    lt.add_files(fs, d + '/t' + ('/f0' if len(sizes) == 1 else ''))
    flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hy': 0}[kind]
    ct = lt.create_torrent(fs, plen, flags=flags)
    ct.set_comment('cmt')
    ct.set_creator('me')
    ct.add_tracker('http://t1/a', 0)
    ct.add_tracker('http://t2/a', 1)
    ct.add_url_seed('http://ws/')
    lt.set_piece_hashes(ct, d + ('/t' if len(sizes) == 1 else ''))
    return lt.bencode(ct.generate()).hex()
out = {}
for kind in ['v1', 'v2', 'hy']:
    out[kind + '_small'] = make(kind, [100000, 40000], 16384)
    out[kind + '_big'] = make(kind, [300000, 16384, 1], 65536)
out['v2_single'] = make('v2', [16384], 16384)
print(json.dumps(out))
""")


@pytest.mark.parametrize("name", ["v1_small", "v1_big", "v2_small", "v2_big", "hy_small", "hy_big", "v2_single"])
def test_with_metadata(ref, ours, torrents, name):
    """Params loaded from a .torrent (ti set; v2 merkle trees from the piece
    layers) with a partial download: identical bytes, identical entries
    (the info dict as a tuple), identical read-back params."""
    r, o = run_both(ref, ours, r"""
import os
tb = bytes.fromhex(os.environ['TORRENT'])
atp = lt.load_torrent_buffer(tb)
n = atp.ti.num_pieces()
atp.have_pieces = [i % 3 == 0 for i in range(n)]
atp.unfinished_pieces = {1: [True, False]}
atp.file_priorities = [4] * atp.ti.num_files()
atp.piece_priorities = [i % 8 for i in range(n)]
atp.save_path = '/downloads'
out = {'trip': trip(atp)}
# read back and write again: the metadata and trees survive
a2 = lt.read_resume_data(lt.write_resume_data_buf(atp))
out['again'] = lt.write_resume_data_buf(a2).hex()
# no comment on the params: none written, even though the torrent had one
atp.comment = ''
atp.created_by = ''
atp.creation_date = 0
out['nocomment'] = trip(atp)
# a torrent whose info-hash does not match the params'
atp.info_hashes = lt.info_hash_t(lt.sha1_hash(b'z' * 20))
out['mismatch'] = read(lt.write_resume_data_buf(atp))
print(json.dumps(out))
""", TORRENT=torrents[name])
    assert r == o
    assert r['trip']['back']['ok']['ti'] is not None
    assert r['mismatch']['exc'] == 'RuntimeError'


def test_cross_module_files(ref, ours, torrents):
    """A file written by one module loads in the other into the same
    params (checked both ways)."""
    gen = PRE + r"""
import os
out = {}
atp = full_params()
out['full'] = lt.write_resume_data_buf(atp).hex()
t = lt.load_torrent_buffer(bytes.fromhex(os.environ['TORRENT']))
t.have_pieces = [True, False] * 4
t.peers = [('10.0.0.1', 6881), ('fe80::2', 6882)]
out['torrent'] = lt.write_resume_data_buf(t).hex()
m = lt.parse_magnet_uri('magnet:?xt=urn:btih:' + 'ab' * 20 + '&dn=x&tr=http://t/a&tr=http://u/b')
m.save_path = '/m'
out['magnet'] = lt.write_resume_data_buf(m).hex()
print(json.dumps(out))
"""
    load = PRE + r"""
import os
files = json.loads(os.environ['FILES'])
print(json.dumps({k: read(bytes.fromhex(v)) for k, v in files.items()}))
"""
    from_ref = ref(gen, TORRENT=torrents['hy_small'])
    from_ours = ours(gen, TORRENT=torrents['hy_small'])
    assert from_ref == from_ours
    files = json.dumps(from_ref)
    a = ref(load, FILES=files)
    b = ours(load, FILES=files)
    assert a == b
    assert all('ok' in v for v in a.values())


MALFORMED = r"""
IH = b'a' * 20
F = {b'file-format': b'libtorrent resume file', b'info-hash': IH}
def c(**kw):
    d = dict(F)
    d.update({k.replace('_D', '-').replace('_S', ' ').encode(): v for k, v in kw.items()})
    return lt.bencode(d)
cases = {
 'empty': b'', 'notdict': b'i5e', 'list': b'le', 'trunc': b'd3:foo', 'emptydict': b'de', 'garbage': b'xx',
 'noformat': lt.bencode({b'info-hash': IH}),
 'badformat': lt.bencode({b'file-format': b'x', b'info-hash': IH}),
 'formatint': lt.bencode({b'file-format': 5, b'info-hash': IH}),
 'noih': lt.bencode({b'file-format': b'libtorrent resume file'}),
 'shortih': c(info_Dhash=b'a' * 19),
 'ih2only': lt.bencode({b'file-format': b'libtorrent resume file', b'info-hash2': b'b' * 32}),
 'ih2short': lt.bencode({b'file-format': b'libtorrent resume file', b'info-hash': b'a' * 19, b'info-hash2': b'b' * 31}),
 'ihint': c(info_Dhash=5),
 'ih_both_zero': c(info_Dhash=b'\0' * 20, info_Dhash2=b'\0' * 32),
 'ih_21': c(info_Dhash=b'a' * 21, info_Dhash2=b'b' * 32),
 'minimal': c(),
 'fv1': c(file_Dversion=1), 'fv2': c(file_Dversion=2), 'fv3': c(file_Dversion=3), 'fv0': c(file_Dversion=0),
 'fvneg': c(file_Dversion=-1), 'fvstr': c(file_Dversion=b'2', pieces=b'\x03\x01'), 'fvbig': c(file_Dversion=2 ** 32 + 2),
 'alloc_full': c(allocation=b'full'), 'alloc_allocate': c(allocation=b'allocate'),
 'alloc_compact': c(allocation=b'compact'), 'alloc_int': c(allocation=5),
 'ints_as_str': c(total_uploaded=b'5', paused=b'1', num_complete=b'x', max_uploads=b'3'),
 'bigints': c(total_uploaded=2 ** 63 - 1, active_time=2 ** 40 + 5, num_complete=2 ** 33 + 7,
              max_uploads=-(2 ** 35) - 3, added_time=2 ** 62, upload_rate_limit=2 ** 31, seed_mode=2 ** 32),
 'hugeint': b'd11:file-format22:libtorrent resume file9:info-hash20:aaaaaaaaaaaaaaaaaaaa14:total_uploadedi99999999999999999999999ee',
 'times': c(last_seen_complete=-5, finished_time=-1, seeding_time=2 ** 31, last_download=2 ** 40,
            creation_Sdate=2 ** 40, completed_time=-7),
 'v1pieces': c(pieces=b'\x03\x01\x02\x00\x05'),
 'v1pieces_none_verified': c(pieces=b'\x01\x00\x01'),
 'v2pieces': c(pieces=b'\x03\x01', file_Dversion=2),
 'v2pieces_ver': c(pieces=b'\x03\x01', verified=b'\x01', file_Dversion=2),
 'v1pieces_ver': c(pieces=b'\x03\x01', verified=b'\x01'),
 'v1_ver_empty': c(pieces=b'\x03\x02', verified=b''),
 'pieces_list': c(pieces=[1, 2], verified=5),
 'verified_only': c(verified=b'\xff'),
 'prio': c(file_priority=[0, 1, b'x', 8, -1, 255, 256, [1]], piece_priority=b'\x00\x01\x08\xff'),
 'prio_seed': c(seed_mode=1, file_priority=[1, 0]),
 'prio_seed2': c(seed_mode=1, file_priority=[1, b'x']),
 'piece_prio_list': c(piece_priority=[1, 2]), 'file_prio_str': c(file_priority=b'\x01\x02'),
 'trackers': c(trackers=[[b'a', b'b'], b'c', [], [5, b'd'], [[b'e']]]),
 'trackers_str': c(trackers=b'abc'), 'trackers_empty': c(trackers=[]),
 'urls': c(url_Dlist=[b'u', b'', 5], httpseeds=[b'h', b'']),
 'urls_str': c(url_Dlist=b'u', httpseeds=b'h'), 'httpseeds_only': c(httpseeds=[b'h']),
 'urllist_empty': c(url_Dlist=[]), 'urllist_dict': c(url_Dlist={}),
 'peers': c(peers=b'\x01\x02\x03\x04\x00\x50' * 2 + b'\x01', peers6=b'\x00' * 15 + b'\x01\x00\x51' + b'\x01',
            banned_peers=b'\x01\x02\x03\x04\x00\x50' * 2 + b'xyz', banned_peers6=b'\x00' * 18),
 'banned7': c(banned_peers=b'\x01\x02\x03\x04\x00\x50\x05'),
 'unfinished': c(unfinished=[{b'piece': 1, b'bitmask': b'\x80\x01'}, {b'piece': -1, b'bitmask': b'\x80'},
                             {b'piece': 2, b'bitmask': b''}, 5, {b'bitmask': b'\x01'}, {b'piece': 3},
                             {b'piece': 4, b'bitmask': 5}, {b'piece': 1, b'bitmask': b'\x40'},
                             {b'piece': 2 ** 32 + 5, b'bitmask': b'\x01'}]),
 'unf_notlist': c(unfinished={b'piece': 1}),
 'mapped': c(mapped_files=[b'a', b'', 5, b'd']), 'mapped_notlist': c(mapped_files=b'abc'),
 'strs': c(name=b'n', save_path=b's', comment=b'c', created_Sby=b'cb', creation_Sdate=7, url=b'u',
           root_certificate=b'r', part_file_dir=b'p', trackerid=b'x'),
 'strs_as_int': c(name=5, save_path=5, comment=5, created_Sby=5, url=5, root_certificate=5, part_file_dir=5),
 'name_list': c(name=[b'x']),
 'flags_all': c(seed_mode=1, upload_mode=1, share_mode=1, apply_ip_filter=0, paused=0, auto_managed=0,
                super_seeding=1, sequential_download=1, stop_when_ready=1, disable_dht=1, disable_lsd=1,
                disable_pex=1, i2p=1, disable_v1_hashes=1),
 'flags_neg': c(paused=-1, share_mode=-1, upload_mode=b'1'),
 'trees': c(trees=[{b'hashes': b'x' * 64, b'verified': b'10', b'mask': b'\xc0'}, {b'hashes': b'y' * 32},
                   {b'hashes': b'z' * 33}, {b'hashes': b'w' * 32}]),
 'trees2': c(trees=[{b'hashes': b''}, 5, {b'hashes': b'y' * 32}]),
 'trees_v2': c(file_Dversion=2, trees=[{b'hashes': b'x' * 64, b'verified': b'10', b'mask': b'\x01\xfc'},
                                    {b'hashes': b'y' * 32, b'mask': 5}, {b'hashes': b'z' * 33}]),
 'info_notdict': c(info=[1]),
 'info_invalid': c(info_Dhash=b'\0' * 20, info={b'name': b'x'}),
 'info_empty': c(info_Dhash=b'\0' * 20, info={}),
 'dictkey_unsorted': b'd9:info-hash20:aaaaaaaaaaaaaaaaaaaa11:file-format22:libtorrent resume filee',
 'dupkey': b'd11:file-format22:libtorrent resume file9:info-hash20:aaaaaaaaaaaaaaaaaaaa9:info-hash20:bbbbbbbbbbbbbbbbbbbbe',
 'trailing': c() + b'xx',
 'deep': b'd11:file-format22:libtorrent resume file9:info-hash20:aaaaaaaaaaaaaaaaaaaa1:x' + b'l' * 2000 + b'e' * 2000 + b'e',
}
out = {}
for k, v in cases.items():
    out[k] = read(v)
    # what the read-back params write (when they load)
    if 'ok' in out[k]:
        out[k]['rewrite'] = lt.write_resume_data_buf(lt.read_resume_data(v)).hex()
print(json.dumps(out))
"""


def test_malformed_and_lenient_inputs(ref, ours):
    """Wrong types fall back to defaults; bad headers, bad bencoding and a
    mismatching info dict raise the same exception as the reference."""
    r, o = run_both(ref, ours, MALFORMED)
    assert r.keys() == o.keys()
    for k in r:
        assert r[k] == o[k], k
    assert r['fv3']['msg'] == 'invalid file format tag [libtorrent:28]'
    assert r['notdict']['msg'] == 'not a dictionary [libtorrent:136]'


def test_hostile_sizes(ref, ours):
    """Huge lists decode into as many entries and no more; past the token
    limit both fail alike."""
    r, o = run_both(ref, ours, r"""
IH = b'a' * 20
base = {b'file-format': b'libtorrent resume file', b'info-hash': IH}
out = {}
d = dict(base); d[b'peers'] = b'\x01\x02\x03\x04\x00\x50' * 50000; d[b'peers6'] = b'\x00' * 18 * 20000 + b'\x01'
a = lt.read_resume_data(lt.bencode(d)); out['peers'] = [len(a.peers), a.peers[-1]]
d = dict(base); d[b'url-list'] = [b'u'] * 200000
a = lt.read_resume_data(lt.bencode(d)); out['urls'] = len(a.url_seeds)
d = dict(base); d[b'pieces'] = b'\xff' * 100000; d[b'file-version'] = 2
a = lt.read_resume_data(lt.bencode(d)); out['pieces'] = [len(a.have_pieces), sum(a.have_pieces)]
d = dict(base); d[b'mapped_files'] = [b''] * 100000 + [b'x']
a = lt.read_resume_data(lt.bencode(d)); out['mapped'] = J(a.renamed_files)
d = dict(base); d[b'trackers'] = [[b't']] * 3000000
out['tokens'] = read(lt.bencode(d))
d = dict(base); d[b'trackers'] = [[b't']] * 1000
out['tokens_limit'] = read(lt.bencode(d), {'max_decode_tokens': 500})
out['depth_limit'] = read(lt.bencode(dict(base, x=[[[1]]])), {'max_decode_depth': 2})
out['limits_bad_key'] = read(lt.bencode(base), {'foo': 1})
out['limits_buffer'] = read(lt.bencode(base), {'max_buffer_size': 5})
print(json.dumps(out))
""")
    assert r == o
    assert r['peers'][0] == 70000


def test_argument_handling(ref, ours):
    r, o = run_both(ref, ours, r"""
IH = b'a' * 20
ok = lt.bencode({b'file-format': b'libtorrent resume file', b'info-hash': IH})
out = {}
out['bytearray'] = read(bytearray(ok))
for name, args in [('str', (ok.decode('latin1'),)), ('dict', ({b'x': 1},)), ('int', (5,)),
                   ('none', ()), ('memview', (memoryview(ok),)), ('limits_int', (ok, 5)),
                   ('three', (ok, {}, 1))]:
    r = attempt(lambda: lt.read_resume_data(*args))
    out[name] = [r.get('exc'), isinstance(r.get('exc'), str) and 'did not match C++ signature' in r.get('msg', '')]
out['limits_badval'] = read(ok, {'max_pieces': 'x'})
out['limits_overflow'] = read(ok, {'max_pieces': 2 ** 40})
for f in ['write_resume_data', 'write_resume_data_buf']:
    for args in [(5,), (), (lt.add_torrent_params(), 1)]:
        r = attempt(lambda: getattr(lt, f)(*args))
        out[f + str(len(args))] = [r.get('exc'), r.get('msg')]
print(json.dumps(out))
""")
    assert r == o


def test_magnet_only_params(ref, ours):
    r, o = run_both(ref, ours, r"""
out = {}
for uri in ['magnet:?xt=urn:btih:' + 'cd' * 20 + '&dn=name&tr=http://a/&tr=udp://b:1/&ws=http://w/',
            'magnet:?xt=urn:btmh:1220' + 'ef' * 32 + '&dn=v2',
            'magnet:?xt=urn:btih:' + '12' * 20 + '&xt=urn:btmh:1220' + '34' * 32 + '&x.pe=1.2.3.4:5']:
    m = lt.parse_magnet_uri(uri)
    m.save_path = '/x'
    out[uri] = trip(m)
print(json.dumps(out))
""")
    assert r == o
