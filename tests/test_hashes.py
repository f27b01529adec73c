"""sha1_hash / sha256_hash / peer_id / info_hash_t, compared with the reference."""
import warnings

import libtorrent as lt
import pytest

PROBE = r"""
import libtorrent as lt, json, warnings
warnings.simplefilter('ignore')
S, T, I = lt.sha1_hash, lt.sha256_hash, lt.info_hash_t
V1, V2 = lt.protocol_version.V1, lt.protocol_version.V2
def t(f):
    try:
        return ['ok', f()]
    except Exception as e:
        return [('TypeError' if isinstance(e, TypeError) else type(e).__name__)]
out = []
inputs = [b'', b'a' * 5, b'a' * 19, b'a' * 20, b'a' * 21, bytes(range(32)), b'\xff' * 40,
          'a' * 20, 'a' * 40, 'abcde', '\xe9' * 10, '\xe9' * 20, bytearray(b'x' * 20), bytearray(3),
          5, None, 1.5, memoryview(b'a' * 20)]
for cls in (S, T):
    out.append(t(lambda: [str(cls()), cls().to_bytes().hex(), cls().is_all_zeros()]))
    for x in inputs:
        out.append(t(lambda: [str(cls(x)), cls(x).to_bytes().hex(), cls(x).to_string().hex(),
                              cls(x).is_all_zeros(), hash(cls(x))]))
    out.append(t(lambda: cls(b'a' * 40, 1)))
    out.append(t(lambda: cls(cls())))
hs = [S(bytes([i]) * 20) for i in (0, 1, 2, 127, 128, 255)] + [S(bytes(range(20))), S(bytes(8) + b'\x01' * 12)]
out.append([hash(h) for h in hs])
out.append([[a < b, a == b, a != b, b < a] for a in hs for b in hs])
out.append(t(lambda: hs[0] <= hs[1]))
out.append(t(lambda: hs[0] < 5))
out.append([hs[0] == 5, hs[0] != 5, S() == T(), S(b'a' * 20) == T(b'a' * 32)])
h = S(b'\x01' * 20); h.clear(); out.append([str(h), h.is_all_zeros()])
out.append([lt.peer_id is S, bool(S())])
a, b = S(b'\x01' * 20), T(b'\x02' * 32)
ihs = [I(), I(a), I(b), I(a, b), I(sha1_hash=a), I(sha256_hash=b), I(S(b'\x02' * 20)), I(T(b'\x01' * 32))]
for ih in ihs:
    out.append([ih.has_v1(), ih.has_v2(), str(ih.v1), str(ih.v2), str(ih.get_best()),
                ih.has(V1), ih.has(V2), str(ih.get(V1)), str(ih.get(V2)), hash(ih)])
out.append([[x < y, x == y, x != y] for x in ihs for y in ihs])
for f in (lambda: I(b, a), lambda: I(b'x' * 20), lambda: I(a).has(0), lambda: I(a).get(1),
          lambda: I(a) <= I(b), lambda: I(5), lambda: setattr(I(a), 'v1', a)):
    out.append(t(f))
ih = I(a, b); v = ih.v1; v.clear(); out.append([str(ih.v1), ih.has_v1()])
import pickle
out.append(t(lambda: pickle.dumps(S())))
out.append(t(lambda: pickle.dumps(I())))
print(json.dumps(out))
"""


def test_hashes_match_reference(ref, ours):
    want = ref(PROBE)
    got = ours(PROBE)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, i


def test_deprecation_warnings_like_reference():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lt.sha1_hash("a" * 40)
    assert [str(x.message) for x in w] == [
        "sha1_hash('str') is deprecated",
        "long hash length. this will work, but is deprecated"]
    assert all(x.category is DeprecationWarning for x in w)
    with pytest.raises(ValueError, match="short hash length"):
        lt.sha256_hash(b"a" * 20)


def test_hashes_usable_as_dict_keys():
    d = {lt.sha1_hash(b"a" * 20): 1}
    assert d[lt.sha1_hash(b"a" * 20)] == 1
    assert lt.info_hash_t(lt.sha1_hash(b"a" * 20)) in {lt.info_hash_t(lt.sha1_hash(b"a" * 20))}
