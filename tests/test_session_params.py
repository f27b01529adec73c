"""write_session_params / write_session_params_buf / read_session_params
and session_params' settings and ip_filter, compared with the reference."""

PRE = r"""
import libtorrent as lt, json

def J(x):
    if isinstance(x, bytes):
        return 'b:' + x.hex()
    if isinstance(x, dict):
        return {('k:' + k.hex() if isinstance(k, bytes) else str(k)): J(v) for k, v in sorted(x.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(x, (list, tuple)):
        return [J(v) for v in x]
    return x

def attempt(f):
    try:
        return {'ok': f()}
    except Exception as e:
        return {'exc': type(e).__name__, 'msg': str(e)}

def state(sp):
    # the settings in order, and everything written back
    return {'settings': list(map(list, sp.settings.items())),
            'written': lt.write_session_params_buf(sp).hex()}

def populated():
    sp = lt.session_params()
    sp.settings = {'user_agent': 'foo', 'connections_limit': 17, 'enable_dht': False, 'active_downloads': 3,
                   'peer_fingerprint': '-XX-', 'dht_max_peers': 55, 'connection_speed': 200}
    f = lt.ip_filter()
    f.add_rule('10.0.0.0', '10.0.0.255', 1)
    f.add_rule('::1', '::2', 1)
    sp.ip_filter = f
    return sp
"""

FLAGS = [0, 1, 2, 4, 8, 16, 2048, 4096, 4096 | 1, 2 ** 32 - 1]


def test_write_by_flags(ref, ours):
    code = PRE + r"""
out = {}
for name, sp in [('default', lt.session_params()), ('populated', populated())]:
    out[name] = {str(f): [lt.write_session_params_buf(sp, f).hex(), J(lt.write_session_params(sp, f))]
                 for f in FLAGS}
    out[name]['noflags'] = lt.write_session_params_buf(sp).hex()
    out[name]['named'] = lt.write_session_params_buf(sp, lt.save_state_flags_t.save_settings).hex()
print(json.dumps(out))
""".replace("FLAGS", repr(FLAGS))
    r = ref(code)
    assert r == ours(code)
    assert 'k:' + b'ip_filter4'.hex() in r['populated']['4096'][1]


def test_params_object(ref, ours):
    code = PRE + r"""
out = {}
out['default_settings'] = lt.session_params().settings
out['ctor'] = lt.session_params({'user_agent': 'x', 'connections_limit': 200}).settings
sp = lt.session_params()
# the ip_filter attribute is the params' own filter: edits apply in place
sp.ip_filter.add_rule('10.0.0.0', '10.0.0.255', 1)
out['in_place'] = lt.write_session_params_buf(sp, 4096).hex()
f = sp.ip_filter
f.add_rule('11.0.0.0', '11.0.0.255', 1)
out['alias'] = lt.write_session_params_buf(sp, 4096).hex()
# assignment copies
g = lt.ip_filter()
sp.ip_filter = g
g.add_rule('12.0.0.0', '12.0.0.255', 1)
out['copied'] = lt.write_session_params_buf(sp, 4096).hex()
out['bad_ctor'] = attempt(lambda: lt.session_params(5))['exc']
print(json.dumps(out))
"""
    assert ref(code) == ours(code)


def test_round_trip_and_reading(ref, ours):
    code = PRE + r"""
out = {}
buf = lt.write_session_params_buf(populated())
out['trip'] = state(lt.read_session_params(buf))
out['trip_dict'] = state(lt.read_session_params(lt.bdecode(buf)))
for f in FLAGS:
    out['flags%d' % f] = state(lt.read_session_params(buf, f))
keys = [b'aggressive_lookups', b'block_ratelimit', b'block_timeout', b'enforce_node_id',
        b'extended_routing_table', b'ignore_dark_internet', b'item_lifetime', b'max_dht_items',
        b'max_fail_count', b'max_peers', b'max_peers_reply', b'max_torrent_search_reply', b'max_torrents',
        b'privacy_lookups', b'read_only', b'restrict_routing_ips', b'restrict_search_ips', b'search_branching']
cases = {
 'empty': b'de', 'notdict': b'le', 'int': b'i1e', 'garbage': b'xx', 'trunc': b'd8:settingsd',
 'deep': b'd1:x' + b'l' * 200 + b'e' * 200 + b'e',
 'settings': lt.bencode({b'settings': {b'user_agent': b'x', b'connections_limit': 5, b'enable_dht': 0,
                                       b'unknown': 1, b'active_seeds': b'str', b'peer_fingerprint': 7,
                                       b'enable_lsd': 5, b'connection_speed': 2 ** 33 + 3,
                                       b'enable_upnp': 2 ** 32}}),
 'settings_notdict': lt.bencode({b'settings': [1]}),
 'dht_all': lt.bencode({b'dht': {k: i + 2 for i, k in enumerate(keys)}}),
 'dht_some': lt.bencode({b'dht': {b'max_peers': b'x', b'read_only': -5, b'search_branching': 2 ** 33 + 1}}),
 'ipf': lt.bencode({b'ip_filter4': [b'\x00\x00\x00\x00\t\xff\xff\xff\x00\x00\x00\x00',
                                    b'\n\x00\x00\x00\n\x00\x00\xff\x00\x00\x00\x01',
                                    b'\n\x00\x01\x00\xff\xff\xff\xff\x00\x00\x00\x00']}),
 'ipf_bad': lt.bencode({b'ip_filter4': [b'\n\x00\x00\x00\n\x00\x00\xff\x00\x00\x00', 5,
                                        b'\x0b\x00\x00\x00\x0b\x00\x00\xff\x00\x00\x00\x07',
                                        b'\x0c\x00\x00\x00\x0b\x00\x00\xff\x00\x00\x00\x01']}),
 'ipf6': lt.bencode({b'ip_filter6': [b'\0' * 15 + b'\x01' + b'\0' * 15 + b'\x05' + b'\0\0\0\x01',
                                     b'\0' * 15 + b'\x09' + b'\0' * 15 + b'\x08' + b'\0\0\0\x01']}),
 'ipf_notlist': lt.bencode({b'ip_filter4': b'\n\x00\x00\x00\n\x00\x00\xff\x00\x00\x00\x01'}),
 'dhtstate': lt.bencode({b'dht state': {b'node-id': [b'\x01\x02\x03\x04' + b'a' * 20, b'x' * 20,
                                                     b'\0' * 16 + b'b' * 20, 5],
                                        b'nodes': [b'\x01\x02\x03\x04\x00\x05', b'short', b'\x01\x02\x03\x04\x00\x05'],
                                        b'nodes6': [b'\0' * 16 + b'\x00\x06', b'\x01\x02\x03\x04\x00\x07']}}),
 'dhtstate_old_id': lt.bencode({b'dht state': {b'node-id': b'a' * 20}}),
 'dhtstate_id24': lt.bencode({b'dht state': {b'node-id': b'\x01\x02\x03\x04' + b'a' * 20}}),
 'ext': lt.bencode({b'extensions': {b'x': 1}}),
}
for k, v in cases.items():
    out[k] = attempt(lambda: state(lt.read_session_params(v)))
    out[k + '_bytearray'] = attempt(lambda: state(lt.read_session_params(bytearray(v))))
out['dict_str_keys'] = attempt(lambda: state(lt.read_session_params({'settings': {'user_agent': 'y'}})))
for name, args in [('str', ('de',)), ('none', ()), ('int', (5,)), ('flag_str', (b'de', 'x')),
                   ('three', (b'de', 1, 2))]:
    r = attempt(lambda: lt.read_session_params(*args))
    out['arg_' + name] = [r.get('exc'), 'did not match C++ signature' in r.get('msg', '')]
for name, f in [('neg', -1), ('big', 2 ** 32)]:
    out['wflag_' + name] = attempt(lambda: lt.write_session_params(lt.session_params(), f))
    out['rflag_' + name] = attempt(lambda: state(lt.read_session_params(b'de', f)))
for fn in ['write_session_params', 'write_session_params_buf']:
    r = attempt(lambda: getattr(lt, fn)(5))
    out[fn] = [r.get('exc'), r.get('msg')]
    r = attempt(lambda: getattr(lt, fn)(lt.session_params(), 'x'))
    out[fn + '_flagstr'] = [r.get('exc'), 'did not match C++ signature' in r.get('msg', '')]
print(json.dumps(out))
""".replace("FLAGS", repr(FLAGS))
    r = ref(code)
    o = ours(code)
    assert r.keys() == o.keys()
    for k in r:
        assert r[k] == o[k], k
    assert r['garbage']['exc'] == 'RuntimeError'
