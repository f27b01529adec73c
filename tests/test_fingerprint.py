"""fingerprint, generate_fingerprint(_bytes), client_fingerprint and
identify_client, compared with the reference over many peer ids."""
import inspect
import random

import libtorrent as lt

PROBE = r"""
import libtorrent as lt, json, warnings, random
warnings.simplefilter('ignore')
def t(f):
    try:
        return ['ok', f()]
    except Exception as e:
        return [('TypeError' if isinstance(e, TypeError) else type(e).__name__), str(e) if not isinstance(e, TypeError) else '']
ids = IDS
out = []
for i in ids:
    pid = lt.sha1_hash(bytes.fromhex(i))
    out.append(t(lambda: lt.identify_client(pid)))
    def cf():
        f = lt.client_fingerprint(pid)
        return None if f is None else [f.major_version, f.minor_version, f.revision_version, f.tag_version, t(lambda: str(f))]
    out.append(t(cf))
args = [('LT', 2, 1, 1, 0), ('qB', 4, 5, 2, 0), ('A', 1, 2, 3, 4), ('ABC', 1, 2, 3, 4), ('', 1, 2, 3, 4),
        ('LT', 10, 11, 36, 37), ('LT', -1, 0, 0, 0), ('LT', 0, 0, 0, -1), ('LT', 62, 0, 0, 0), ('LT', 100, 0, 0, 0),
        ('LT', 245, 0, 0, 0), ('LT', 2**31, 0, 0, 0), ('\xe9', 1, 2, 3, 4), (b'LT', 1, 2, 3, 4), ('LT', 1.0, 2, 3, 4),
        ('LT', True, 2, 3, 4)]
for a in args:
    out.append(t(lambda: lt.generate_fingerprint(*a)))
    out.append(t(lambda: str(lt.fingerprint(*a))))
    out.append(t(lambda: [lt.fingerprint(*a).major_version, lt.fingerprint(*a).tag_version]))
for a in [(b'LT', 2, 1, 1, 0), (b'LT', 2), (b'LT', 2, 3), (b'LT', 200, 0, 0, 0), (b'LT', 245, 246, 300, 1000),
          (b'LT', 2**31), (b'\xff\x00', 1), (b'LTX', 1), ('LT', 1), (b'LT', -1), (bytearray(b'LT'), 1)]:
    out.append(t(lambda: lt.generate_fingerprint_bytes(*a).hex()))
out.append(t(lambda: lt.identify_client(b'x' * 20)))
print(json.dumps(out))
"""


def peer_ids():
    rnd = random.Random(1234)
    fixed = [b'-LT2110-', b'-qB4520-', b'-UT3550-', b'-TR294Z-', b'-ZZ1000-', b'-lt0D60-', b'M7-2-3--',
             b'M4-20-8-', b'S58B-----', b'T03I--00', b'A310--001', b'x' * 20, b'\x00' * 20, b'\xff' * 20,
             b'exbc\x00LORD', b'-BC0200-', b'-AZ2500-', b'Plus12345', b'-G3', b'-ML2.7.2-kgjjfkd', b'OP1234',
             b'XBT054d-', b'Mbrst1-1-1', b'-FG10Z0-', b'-LT21!0-', b'-LTabc0-', b'eX', b'eXabcdefghijklmnop',
             b'FUTB', b'-SP3605-', b'DNA0102', b'BitCometLite', b'-UM1850-', b'-BT7a9S-', b'-DE13F0-',
             b'-XX-', b'Q1-2-3--', b'-XL0012-', b'M1-2--3-', b'M 1- 2- 3-', b'M123-4-5-', b'M1234-5-6-',
             b'M-12-3-4-', b'M+1-2-3-', b'-BOW123-', b'-BOW12\x00-', b'-BOWxyz-', b'Azureus' + b'\x00',
             b'\x00\x00\x00\x00\x00Azureus', b'\x00' * 12 + b'\x97', b'\x00' * 13 + b'x' * 7,
             b'\x00' * 12 + b'x' * 8, b'xeX', b'S\x01\x02\x03xxxx\x00', b'S\x81\x02\x03', b'SABC--',
             b'-A\x80' + b'1234-', b'-\x7fZ1234-', b'-Z\xff1234-', b'AZ2500BTxxxx', b'xxRSxxxx', b'xxBSxx',
             b'Plus---', b'Deadman Walking-', b'btpd/', b'-Qt-', b'martini', b'a00---0']
    ids = [(p + b'\x00' * 20)[:20] for p in fixed]
    ids += [(p + b'x' * 20)[:20] for p in fixed]
    alphabet = b'-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.!~_ \x00\x80\xff'
    for _ in range(3000):
        style = rnd.randrange(4)
        if style == 0:
            head = b'-' + bytes(rnd.choice(alphabet) for _ in range(6)) + b'-'
        elif style == 1:
            head = bytes([rnd.choice(b'AMQRSTOUXZ')]) + bytes(rnd.choice(alphabet) for _ in range(8))
        elif style == 2:
            head = bytes([rnd.choice(b'M-Q1')]) + b'-'.join(str(rnd.randrange(-5, 1200)).encode() for _ in range(3)) + b'-'
        else:
            head = bytes(rnd.choice(alphabet) for _ in range(8))
        tail = bytes(rnd.choice(alphabet) for _ in range(20))
        ids.append((head + tail)[:20])
    return [i.hex() for i in ids]


def test_fingerprints_and_identify_client_match_reference(ref, ours):
    code = PROBE.replace("ids = IDS", inspect.getsource(peer_ids) + "ids = peer_ids()")
    want = ref(code)
    got = ours(code)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, i


def test_our_user_agent_fingerprint_is_generated():
    assert lt.generate_fingerprint("LT", 2, 1, 1, 0) == lt.default_settings()["peer_fingerprint"]
