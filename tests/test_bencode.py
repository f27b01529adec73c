"""lt.bencode / lt.bdecode: differential tests against the reference module.

A deterministic corpus of valid, non-canonical and malformed inputs is run
through both modules (each in its own interpreter); every case must give the
same value, or the same exception type and message."""
import json
import random

import pytest

# Turns whatever a call returns into JSON that keeps types and dict order,
# and any exception into [module, name, message, is-TypeError].
PRELUDE = r'''
import json, warnings
import libtorrent as lt

class DictSub(dict): pass
class ListSub(list): pass
class StrSub(str): pass
class BytesSub(bytes): pass
class IntSub(int): pass
class TupleSub(tuple): pass

def enc(v):
    if isinstance(v, bytes): return {'b': v.hex(), 't': type(v).__name__}
    if isinstance(v, dict): return {'d': [[enc(k), enc(x)] for k, x in v.items()]}
    if isinstance(v, list): return {'l': [enc(x) for x in v]}
    if isinstance(v, bool): return {'bool': v}
    if isinstance(v, int): return {'i': str(v), 't': type(v).__name__}
    return {'other': repr(v)}

def run(f):
    try:
        return enc(f())
    except Exception as e:
        return {'exc': [type(e).__module__, type(e).__name__, str(e), isinstance(e, TypeError)]}
'''

# ---------------------------------------------------------------- corpus


def _int_body(rng):
    r = rng.random()
    if r < 0.5:
        return str(rng.randrange(-1000, 1000))
    if r < 0.6:
        return rng.choice(["0", "-0", "00", "-00", "007", "-007"])
    if r < 0.8:
        return str(rng.choice([1, -1]) * rng.randrange(2**62, 2**66))
    return rng.choice(["9223372036854775807", "-9223372036854775808", "9223372036854775808",
                       "-9223372036854775809", "9" * 20, "-" + "9" * 20, "1" * 21, "0" * 20])


def _string(rng):
    n = rng.choice([0, 1, 2, 3, 5, 8, 20])
    data = bytes(rng.randrange(256) for _ in range(n)) if rng.random() < 0.3 else \
        bytes(rng.choice(b"abcdxyz") for _ in range(n))
    header = str(n)
    if rng.random() < 0.05:
        header = "0" + header
    return header.encode() + b":" + data


def gen_value(rng, depth=0):
    """Bencoded bytes of a random value; keys may be unsorted or repeated."""
    r = rng.random()
    if depth > 4 or r < 0.3:
        return b"i" + _int_body(rng).encode() + b"e"
    if r < 0.6:
        return _string(rng)
    if r < 0.8:
        return b"l" + b"".join(gen_value(rng, depth + 1) for _ in range(rng.randrange(5))) + b"e"
    out = b"d"
    for _ in range(rng.randrange(5)):
        out += rng.choice([b"1:a", b"1:b", b"2:ab", b"1:z", b"0:", b"3:key", b"1:\xff"])
        out += gen_value(rng, depth + 1)
    return out + b"e"


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        if not data:
            break
        at = rng.randrange(len(data))
        op = rng.randrange(4)
        if op == 0:
            data[at] = rng.choice(b"ilde0123456789:-xe ")
        elif op == 1:
            del data[at]
        elif op == 2:
            data.insert(at, rng.choice(b"ilde019:-"))
        else:
            del data[at:]
    return bytes(data)


EDGE_CASES = [
    b"", b"garbage", b"x", b"e", b":", b"-1:a", b"i", b"i-", b"ie", b"i-e", b"i--1e", b"i+1e",
    b"i 1e", b"i1-2e", b"i12a3e", b"i1", b"i1e", b"i1ex", b"i1ee", b"i03e", b"i-0e", b"i00e",
    b"i-01e", b"i9223372036854775807e", b"i9223372036854775808e", b"i-9223372036854775808e",
    b"i-9223372036854775809e", b"i" + b"9" * 20 + b"e", b"i" + b"9" * 21 + b"e",
    b"i" + b"1" * 21 + b"x", b"i" + b"1" * 21, b"i-" + b"1" * 21 + b"e",
    b"0:", b"00:", b"03:abc", b"1", b"12", b"12:", b"3abc", b"1x", b"3:", b"3:a", b"5:abc",
    b"4:spam", b"4:\xff\xfe\x00a", b"1:a1:b", b"99999999999:abc", b"9223372036854775807:a",
    b"9223372036854775808:a", b"99999999999999999999999:a", b"0000000001:a",
    b"l", b"le", b"lee", b"li1e", b"li1eXe", b"l3:", b"l4:spami1ee", b"l-1e",
    b"d", b"de", b"d1:a", b"d1:ae", b"d1:ai1e", b"d1:ai1e2:", b"d1:a1:b", b"di1ei2ee", b"dle",
    b"dde", b"d1:ai1eie", b"d1:ai1eXe", b"d3:abcle", b"d1:ai1e1:bi2ee", b"d1:bi1e1:ai2ee",
    b"d1:ai1e1:ai2ee", b"d1:a1:b1:a1:ce", b"d2:ab1:x1:ai1ee", b"d1:ai1eexx",
    b"d1:bd1:bi1e1:ai2e1:bi3ee1:ai4ee",
    b"l" * 98 + b"e" * 98, b"l" * 99 + b"e" * 99, b"l" * 100 + b"e" * 100, b"l" * 99,
    b"l" * 100, b"l" * 200, b"l" * 99 + b"x", b"d1:a" * 99 + b"i1e" + b"e" * 99,
    b"d1:a" * 100 + b"i1e" + b"e" * 100, b"l" * 99 + b"d" + b"e" * 100,
    b"l" * 99 + b"i1e" + b"e" * 99,
]


def decode_corpus():
    rng = random.Random(20261127)
    cases = list(EDGE_CASES)
    valid = [gen_value(rng) for _ in range(300)]
    cases += valid
    cases += [mutate(rng, v) for v in valid]
    cases += [v + rng.choice([b"x", b"e", b"i1e", b"\x00"]) for v in valid[:40]]
    return cases


def _py_int(rng):
    return rng.choice([0, 1, -1, 255, 256, -129, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
                       2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64, rng.randrange(-10**6, 10**6)])


def gen_object(rng, depth=0):
    """Python source of a random object for bencode()."""
    r = rng.random()
    if depth > 3 or r < 0.25:
        choice = rng.randrange(12)
        if choice == 0:
            return repr(_py_int(rng))
        if choice == 1:
            return repr(bytes(rng.randrange(256) for _ in range(rng.randrange(6))))
        if choice == 2:
            return repr("".join(rng.choice("ab\u00e9\u4e2d") for _ in range(rng.randrange(4))))
        if choice == 3:
            return rng.choice(["True", "False", "None", "1.5", "0.0", "float('nan')"])
        if choice == 4:
            return "bytearray(%r)" % bytes(rng.choice(b"xyz") for _ in range(rng.randrange(4)))
        if choice == 5:
            return "(%s)" % "".join("%d," % _py_int(rng) for _ in range(rng.randrange(4)))
        if choice == 6:
            return rng.choice(["(1, 'a')", "(1.0,)", "((1,),)", "(True, 2)", "TupleSub((65, 66))"])
        if choice == 7:
            return rng.choice(["IntSub(7)", "StrSub('s')", "BytesSub(b'q')", "memoryview(b'm')",
                               "{1, 2}", "frozenset()", "range(2)", "object()", "1j"])
        if choice == 8:
            return repr("\ud800")
        return repr(rng.randrange(-5, 5))
    if r < 0.5:
        items = [gen_object(rng, depth + 1) for _ in range(rng.randrange(5))]
        src = "[%s]" % ", ".join(items)
        return "ListSub(%s)" % src if rng.random() < 0.1 else src
    keys = ["'a'", "b'a'", "'b'", "b'\\xff'", "'\u00e9'", "''", "b''", "StrSub('k')",
            "BytesSub(b'k')"]
    if rng.random() < 0.15:
        keys += ["1", "None", "(1,)", "True", "'\\ud800'"]
    entries = ["%s: %s" % (rng.choice(keys), gen_object(rng, depth + 1))
               for _ in range(rng.randrange(5))]
    src = "{%s}" % ", ".join(entries)
    return "DictSub(%s)" % src if rng.random() < 0.08 else src


def encode_corpus():
    rng = random.Random(1127)
    return [gen_object(rng) for _ in range(400)]


# ---------------------------------------------------------------- helpers


def _compare(ref_out, ours_out, labels):
    assert len(ref_out) == len(ours_out) == len(labels)
    mismatches = [(label, r, o) for label, r, o in zip(labels, ref_out, ours_out) if r != o]
    assert not mismatches, "%d of %d differ; first: %r" % (
        len(mismatches), len(labels), mismatches[:3])


# ---------------------------------------------------------------- tests


def test_corpus_is_large_and_deterministic():
    assert decode_corpus() == decode_corpus()
    assert encode_corpus() == encode_corpus()
    assert len(decode_corpus()) > 600
    assert len(encode_corpus()) == 400


def test_bdecode_matches_reference(ref, ours):
    cases = decode_corpus()
    code = PRELUDE + "CASES = [bytes.fromhex(h) for h in %s]\n" % json.dumps(
        [c.hex() for c in cases]) + r'''
out = [run(lambda c=c: lt.bdecode(c)) for c in CASES]
out += [run(lambda c=c: lt.bdecode(bytearray(c))) for c in CASES[:150]]
print(json.dumps(out))
'''
    labels = cases + cases[:150]
    r, o = ref(code), ours(code)
    _compare(r, o, labels)
    # The corpus exercises every error the reference reports, and values.
    messages = {x["exc"][2] for x in r if "exc" in x}
    for code_no in (1, 2, 3, 4, 5, 7):  # 6 (item count) has its own test
        assert any(m.endswith("[bdecode:%d]" % code_no) for m in messages), code_no
    assert sum(1 for x in r if "exc" not in x) > 300


def test_bdecode_token_limit_matches_reference(ref, ours):
    code = PRELUDE + r'''
out = []
for n in (1999998, 1999999):
    data = b"l" + b"0:" * n + b"e"
    out.append(run(lambda: len(lt.bdecode(data))))
data = b"d" + b"0:i1e" * 999999 + b"e"
out.append(run(lambda: len(lt.bdecode(data))))
data = b"d" + b"0:i1e" * 1000000 + b"e"
out.append(run(lambda: len(lt.bdecode(data))))
print(json.dumps(out))
'''
    r = ref(code)
    assert r == ours(code)
    assert "exc" in r[1] and "exc" not in r[0]


def test_bencode_matches_reference(ref, ours):
    objs = encode_corpus()
    code = PRELUDE + "SOURCES = %s\n" % json.dumps(objs) + r'''
out = []
for mode in ("ignore", "error"):
    with warnings.catch_warnings():
        warnings.simplefilter(mode)
        for src in SOURCES:
            out.append(run(lambda: lt.bencode(eval(src))))
# Which warnings are raised, how many and with which message.
for src in SOURCES:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(lambda: lt.bencode(eval(src)))
    out.append([[w.category.__name__, str(w.message)] for w in caught])
print(json.dumps(out))
'''
    r, o = ref(code), ours(code)
    _compare(r, o, objs * 3)
    kinds = {x["exc"][1] for x in r[:800] if isinstance(x, dict) and "exc" in x}
    assert {"TypeError", "OverflowError", "DeprecationWarning", "UnicodeEncodeError"} <= kinds


def test_round_trip_matches_reference(ref, ours):
    # bdecode(bencode(x)) for generated documents, and bencode(bdecode(d)).
    rng = random.Random(77)
    docs = [gen_value(rng) for _ in range(200)]
    code = PRELUDE + "CASES = [bytes.fromhex(h) for h in %s]\n" % json.dumps(
        [d.hex() for d in docs]) + r'''
out = []
for c in CASES:
    out.append(run(lambda: lt.bencode(lt.bdecode(c))))
    out.append(run(lambda: lt.bdecode(lt.bencode(lt.bdecode(c)))))
print(json.dumps(out))
'''
    _compare(ref(code), ours(code), [d for d in docs for _ in (0, 1)])


def test_argument_errors_match_reference(ref, ours):
    code = PRELUDE + r'''
calls = [
    lambda: lt.bdecode("i1e"), lambda: lt.bdecode(None), lambda: lt.bdecode(5),
    lambda: lt.bdecode(memoryview(b"i1e")), lambda: lt.bdecode([b"i1e"]),
    lambda: lt.bdecode(), lambda: lt.bdecode(b"i1e", 2), lambda: lt.bdecode(data=b"i1e"),
    lambda: lt.bencode(), lambda: lt.bencode(1, 2),
    lambda: lt.bdecode(BytesSub(b"i5e")), lambda: lt.bdecode(bytearray(b"i6e")),
]
out = [run(c) for c in calls]
try:
    lt.bdecode(None)
except TypeError as e:
    out.append([type(e).__module__, type(e).__qualname__, [c.__name__ for c in type(e).__mro__]])
print(json.dumps(out))
'''
    r = ref(code)
    assert r == ours(code)
    assert r[0]["exc"][1] == "ArgumentError"


def test_deep_nesting(ref, ours):
    # Both handle moderately deep structures the same way.
    code = PRELUDE + r'''
x = []
for _ in range(1500):
    x = [x]
d = {}
for _ in range(500):
    d = {"k": d}
print(json.dumps([run(lambda: lt.bencode(x).hex()[:40] and len(lt.bencode(x))),
                  run(lambda: len(lt.bencode(d))),
                  run(lambda: lt.bdecode(lt.bencode(x)))]))
'''
    assert ref(code) == ours(code)


def test_cyclic_and_very_deep_structures_raise_not_crash(ours):
    # The reference crashes (stack overflow) here; ours raises RecursionError.
    code = PRELUDE + r'''
cyc = []
cyc.append(cyc)
deep = []
for _ in range(200000):
    deep = [deep]
out = [run(lambda: lt.bencode(cyc)), run(lambda: lt.bencode(deep))]
import sys; sys.setrecursionlimit(10**6)
print(json.dumps(out))
'''
    out = ours(code)
    for r in out:
        assert r["exc"][1] == "RecursionError", r


def test_hostile_inputs_bounded(ref, ours):
    # Huge claimed lengths and deep nesting fail fast without allocating.
    code = PRELUDE + r'''
cases = [b"9999999999999999:" , b"l" * 10**6, b"d" * 10**6, b"i" + b"1" * 10**6 + b"e",
         b"4294967296:a", b"l" + b"i1e" * 10 + b"9999999:x"]
out = [run(lambda c=c: lt.bdecode(c)) for c in cases]
print(json.dumps(out))
'''
    out = ours(code)
    assert out == ref(code)
    msgs = [r["exc"][2] for r in out]
    assert msgs == [
        "unexpected end of file in bencoded string [bdecode:3]",
        "bencoded nesting depth exceeded [bdecode:5]",
        "expected digit in bencoded string [bdecode:1]",
        "integer overflow [bdecode:7]",
        "unexpected end of file in bencoded string [bdecode:3]",
        "unexpected end of file in bencoded string [bdecode:3]",
    ]


GC_STATE = r'''
import gc, json
import libtorrent as lt
# large enough for the collector to be paused during the conversion
big = lt.bencode({b"files": [{b"length": i, b"path": [b"d", b"f%d" % i]} for i in range(3000)]})
small = b"d1:ai1ee"
out = {}
for enabled in (True, False):
    gc.enable() if enabled else gc.disable()
    after = []
    for data in (big, small, big[:-1]):
        try:
            v = lt.bdecode(data)
            res = len(v[b"files"]) if b"files" in v else sorted(v)
        except Exception as e:
            res = type(e).__name__
        after.append([gc.isenabled(), str(res)])
    out[str(enabled)] = after
gc.enable()
# the result is fully tracked and collectable: a cycle made through it is freed
v = lt.bdecode(big)
v[b"self"] = v
gc.collect()
out["tracked"] = gc.is_tracked(v) and gc.is_tracked(v[b"files"][0])
print(json.dumps(out))
'''


def test_bdecode_keeps_the_collector_state(ref, ours):
    """bdecode pauses the cyclic GC while it builds a large result: the
    caller's setting (enabled or disabled) is what it finds afterwards,
    also after an error, and the values are ordinary GC-tracked objects."""
    o, r = ours(GC_STATE), ref(GC_STATE)
    assert o["True"] == [[True, "3000"], [True, "[b'a']"], [True, "RuntimeError"]]
    assert o["False"] == [[False, "3000"], [False, "[b'a']"], [False, "RuntimeError"]]
    assert o == r
