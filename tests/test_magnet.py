"""Differential tests of magnet links: parse_magnet_uri, parse_magnet_uri_dict
and make_magnet_uri give the same values and the same exceptions as the
reference."""
import pytest

H = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
B32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"
V2 = "ab" * 32

URIS = [
    "magnet:?xt=urn:btih:" + H,
    "magnet:?xt=urn:btih:" + H.upper(),
    "magnet:?xt=urn:btih:" + B32,
    "magnet:?xt=urn:btih:" + B32.lower(),
    "magnet:?xt=urn:btih:" + "A" * 31 + "1",
    "magnet:?xt=urn:btmh:1220" + V2,
    "magnet:?xt=urn:btih:" + H + "&xt=urn:btmh:1220" + V2,
    "magnet:?xt=urn:btih:" + H + "&dn=hello%20world+x&tr=http%3A%2F%2Ft1%2Fa&tr=udp://t2:80&tr.1=http://t3"
    "&ws=http%3A%2F%2Fws%2F&x.pe=1.2.3.4:5&x.pe=[::1]:7&x.pe=bad&so=0,2-4,7&dht=node:1",
    "magnet:?xt=urn:btih:" + H + "&so=1-",
    "magnet:?xt=urn:btih:" + H + "&so=x",
    "magnet:?xt=urn:btih:" + H + "&so=5-2",
    "magnet:?xt=urn:btih:" + H + "&so=3,3,1",
    "magnet:?xt=urn:btih:" + H + "&so=10000",
    "magnet:?xt=urn:btih:" + H + "&so=10001",
    "magnet:?xt=urn:btih:" + H + "&so=0-2-5,x",
    "magnet:?xt=urn:btih:" + H + "&so=,,1,",
    "magnet:?xt=urn:btih:" + H + "&so=2-3&so=0",
    "magnet:?xt=urn:btih:" + H + "&tr=http://a&tr=http://a",
    "magnet:?xt=urn:btih:" + H + "&dn=%zz",
    "magnet:?xt=urn:btih:" + H + "&dn=ab%zz",
    "magnet:?xt=urn:btih:" + H + "&dn=",
    "magnet:?xt=urn:btih:" + H + "&dn=a&dn=b",
    "magnet:?xt=urn:btih:" + H + "&xl=1234&kt=a+b&as=http://as&xs=http://xs&mt=x",
    "magnet:?xt=urn:btih:" + H + "&&&dn=x&=y&z",
    "magnet:?xt=urn:btih:" + H + "&peer=1.2.3.4:6881",
    "magnet:?xt=urn:btih:" + H + "&dht=h:0&dht=h:65535&dht=:5&dht=[::1]:5&dht=h:65534&dht=noport",
    "magnet:?xt=urn:btih:" + H + "&x.pe=h:5&x.pe=1.2.3.4&x.pe=1.2.3.4:99999&x.pe=1.2.3.4:0&x.pe=[::1]:80",
    "magnet:?xt=urn:btih:" + H + "&tr=a%zz&tr=&ws=&ws=a%zz&ws=http://w%20x",
    "magnet:?xt=urn:btih:" + H + "&tr=%",
    "magnet:?XT=urn:btih:" + H,
    "magnet:?xt.1=urn:btih:" + H,
    "magnet:?xt.a=urn:btih:" + H,
    "magnet:?xt=urn%3abtih%3a" + H,
    "magnet:?xt=urn:btih:" + H + "&xt=urn:btih:" + "0" * 40,
    "magnet:?xt=urn:btih:" + H + "&DN=upper&TR=http://up",
    # malformed
    "magnet:?xt=urn:btih:" + H[:-2],
    "magnet:?xt=urn:btih:zz" + H[2:],
    "magnet:?xt=urn:btih:" + "A" * 31 + "=",
    "magnet:?xt=urn:btih:" + "A" * 31 + "0",
    "magnet:?xt=urn:btmh:1220" + "ab" * 31,
    "magnet:?xt=urn:btmh:1120" + V2,
    "magnet:?xt=urn:btmh:1220" + "zz" * 32,
    "magnet:?xt=urn:btih:%zz",
    "magnet:?xt=urn:sha1:" + H,
    "magnet:?xt=URN:BTIH:" + H,
    "magnet:?xt=urn:btih:" + H + "#frag",
    "magnet:?dn=x",
    "magnet:",
    "magnet:?",
    "http://x",
    "",
    "MAGNET:?xt=urn:btih:" + H,
]

PARSE = r'''
import json, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
URIS = %r
out = []
for u in URIS:
    try:
        p = lt.parse_magnet_uri(u)
        r = dict(ih=[str(p.info_hashes.v1), str(p.info_hashes.v2)], ih1=str(p.info_hash), name=p.name,
                 tr=p.trackers, tiers=p.tracker_tiers, ws=p.url_seeds, peers=[list(x) for x in p.peers],
                 fp=p.file_priorities, dht=p.dht_nodes, flags=p.flags, save_path=p.save_path,
                 magnet=lt.make_magnet_uri(p))
    except Exception as e:
        r = "EXC %%s: %%s" %% (type(e).__name__, e)
    try:
        d = lt.parse_magnet_uri_dict(u)
        d = {k: (v.hex() if isinstance(v, bytes) else [int(v), str(v)] if k == "storage_mode" else v) for k, v in d.items()}
    except Exception as e:
        d = "EXC %%s: %%s" %% (type(e).__name__, e)
    out.append([u, r, d])
print(json.dumps(out))
''' % (URIS,)


@pytest.fixture(scope="module")
def parsed():
    from ltdiff import run_ours, run_ref
    return run_ref(PARSE), run_ours(PARSE)


def test_reference_sees_both_kinds(parsed):
    ref, _ = parsed
    ok = [x for x in ref if isinstance(x[1], dict)]
    bad = [x for x in ref if isinstance(x[1], str)]
    assert len(ok) > 25 and len(bad) > 10


@pytest.mark.parametrize("i", range(len(URIS)))
def test_parse_same_as_reference(parsed, i):
    ref, ours = parsed
    assert ours[i] == ref[i]


MAKE = r'''
import json, os, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
out = {}
atp = lt.add_torrent_params()
atp.info_hashes = lt.info_hash_t(lt.sha1_hash(b"a" * 20))
atp.name = "-_.!~*()'@:/?#[]$,;+ \u00e9"
atp.file_priorities = [0, 4, 4, 4, 0, 1, 0, 7, 0]
atp.dht_nodes = [("h", 5)]
atp.peers = [("1.2.3.4", 5), ("::1", 6)]
atp.trackers = ["http://a/?x=1&y=2", "udp://b:1"]
atp.url_seeds = ["http://w/a b"]
out["full"] = lt.make_magnet_uri(atp)
atp.file_priorities = [4, 4]
out["all_on"] = lt.make_magnet_uri(atp)
atp.file_priorities = [0, 0]
out["all_off"] = lt.make_magnet_uri(atp)
atp2 = lt.add_torrent_params()
atp2.info_hashes = lt.info_hash_t(lt.sha1_hash(b"b" * 20), lt.sha256_hash(b"c" * 32))
out["hybrid"] = lt.make_magnet_uri(atp2)
atp3 = lt.add_torrent_params()
atp3.info_hashes = lt.info_hash_t(lt.sha256_hash(b"c" * 32))
out["v2"] = lt.make_magnet_uri(atp3)
out["empty"] = lt.make_magnet_uri(lt.add_torrent_params())
out["ih_only_ti"] = lt.make_magnet_uri(lt.torrent_info(lt.sha1_hash(b"d" * 20)))
d = {b"announce-list": [[b"http://t1/"], [b"http://t2/"]], b"url-list": [b"http://ws/a b", b"http://x/"],
     b"info": {b"name": b"a b&c=d/\xc3\xa9", b"piece length": 16384, b"files": [{b"length": 5, b"path": [b"x"]}],
               b"pieces": b"p" * 20}}
out["ti"] = lt.make_magnet_uri(lt.torrent_info(lt.bencode(d)))
out["ti_web_seeds"] = lt.torrent_info(lt.bencode(d)).web_seeds()
rt = lt.parse_magnet_uri(out["full"])
out["round_trip"] = [rt.name, rt.trackers, rt.url_seeds, rt.file_priorities, [list(x) for x in rt.peers], rt.dht_nodes]
try:
    lt.make_magnet_uri(5)
    out["bad"] = "no error"
except Exception as e:
    out["bad"] = type(e).__name__
print(json.dumps(out))
'''


def test_make_magnet_uri(ref, ours):
    r, o = ref(MAKE), ours(MAKE)
    assert r["full"].startswith("magnet:?xt=urn:btih:")
    assert o == r
