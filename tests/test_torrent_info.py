"""Differential tests of torrent parsing: a corpus of torrents is generated
once with the reference module (its create_torrent, or hand-built bencode
for malformed and hostile variants), then every accessor of torrent_info /
file_storage is dumped under the reference and under ours and compared."""
import json
import os
import tempfile

import pytest

from ltdiff import run_ours, run_ref

# ---------------------------------------------------------------------------
# corpus: generated under the reference; writes <dir>/<case>.torrent

GEN = r'''
import copy, json, os, random, sys
import warnings
warnings.simplefilter("ignore")
import libtorrent as lt

out = os.environ["CORPUS"]
rnd = random.Random(1234)
data = os.path.join(out, "data")
def write(path, n):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(n)))
write(os.path.join(data, "single.bin"), 100000)
write(os.path.join(data, "multi", "a.txt"), 40000)
write(os.path.join(data, "multi", "sub", "b.txt"), 70000)
write(os.path.join(data, "multi", "empty"), 0)
write(os.path.join(data, "multi", "z", "c.bin"), 16384)
write(os.path.join(data, "uni", "\u00fc", "\u65e5\u672c.txt"), 5000)
write(os.path.join(data, "uni", "caf\u00e9 \U0001f600.txt"), 3000)

cases = {}
def save(name, d):
    b = d if isinstance(d, bytes) else lt.bencode(d)
    with open(os.path.join(out, name + ".torrent"), "wb") as f:
        f.write(b)
    cases[name] = True

def mk(src, flags, piece=32768, trackers=(("http://t1/announce", 0), ("http://t2/announce", 1)), private=False):
    fs = lt.file_storage()
    lt.add_files(fs, src)
    ct = lt.create_torrent(fs, piece, flags)
    for url, tier in trackers:
        ct.add_tracker(url, tier)
    ct.set_comment("hello")
    ct.set_creator("me")
    ct.set_priv(private)
    lt.set_piece_hashes(ct, os.path.dirname(src))
    return ct.generate()

V1, V2 = lt.create_torrent.v1_only, lt.create_torrent.v2_only
base = {}
for kind, flags in (("v1", V1), ("v2", V2), ("hy", 0)):
    for what in ("single.bin", "multi", "uni"):
        d = mk(os.path.join(data, what), flags)
        name = "%s_%s" % (what.split(".")[0], kind)
        base[name] = d
        save(name, d)
save("multi_v1_private", mk(os.path.join(data, "multi"), V1, private=True))
save("multi_v1_16k", mk(os.path.join(data, "multi"), V1, piece=16384))
save("multi_hy_64k", mk(os.path.join(data, "multi"), 0, piece=65536))
many = [("http://tr%d.example/announce" % i, i // 3) for i in range(30)]
save("many_trackers", mk(os.path.join(data, "multi"), V1, trackers=many))

def mod(src, f):
    d = copy.deepcopy(base[src]); f(d); return d
def info(d): return d[b"info"]
def setf(src, key, val): return mod(src, lambda d: info(d).__setitem__(key, val))
def popf(src, key): return mod(src, lambda d: info(d).pop(key))

# 50,000 files of one byte
files = [{b"length": 1, b"path": [b"d%d" % (i // 1000), b"f%05d" % i]} for i in range(50000)]
save("fifty_thousand", {b"info": {b"name": b"big", b"piece length": 16384, b"files": files,
                                   b"pieces": bytes(rnd.getrandbits(8) for _ in range(20 * 4))}})

# hostile path elements
hostile = [b".", b"..", b"...", b"", b"/", b"\\", b"a/", b"/..", b"../", b". .", b"\x00", b"\xe2\x80\xae",
           b"a\xe2\x80\xaeb", b"\xc3(", b"\xc3", b"\xe2\x82x", b"\xf0\x9f\x98\x80", b"\xed\xa0\x80",
           b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80", b"\xff\xff", b"x" * 239 + b".txt",
           b"x" * 300 + b".txt", b"x" * 300 + b".a.verylongextension", "\u00e9".encode() * 250,
           b"_____padding_file_1", b"a\x7fb", b"a\x1fb", b"CON", b"C:", b"a:b", b"a*b?<>|\"", b"..a",
           b"/etc", b"\xf8abcd", b"\xfe\xfe"]
for i, e in enumerate(hostile):
    save("path_first_%d" % i, mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"path", [e, b"f"])))
    save("path_last_%d" % i, mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"path", [b"f", e])))
    save("name_multi_%d" % i, setf("multi_v1", b"name", e))
    save("name_single_%d" % i, setf("single_v1", b"name", e))
    save("tree_key_%d" % i, mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(e or b"_", info(d)[b"file tree"].pop(b"a.txt"))) if e else base["multi_v2"])
save("path_all_dots", mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"path", [b"..", b"..", b"x"])))
save("name_utf8_key", setf("multi_v1", b"name.utf-8", b"good"))
save("path_utf8_key", mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"path.utf-8", [b"u", b"v"])))

# attributes, symlinks, mtime, per-file sha1
save("attrs", mod("multi_v1", lambda d: info(d)[b"files"][1].update({b"attr": b"xhz", b"mtime": 1234, b"sha1": b"a" * 20})))
save("attr_pad", mod("multi_v1", lambda d: info(d)[b"files"][1].update({b"attr": b"p"})))
save("symlink", mod("multi_v1", lambda d: info(d)[b"files"][0].update({b"attr": b"lxh", b"symlink path": [b"sub", b"..", b"b.txt"]})))
save("symlink_nopath", mod("multi_v1", lambda d: info(d)[b"files"][0].update({b"attr": b"l"})))
save("v2_attrs", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].__setitem__(b"attr", b"xh")))
save("v2_symlink", mod("multi_v2", lambda d: info(d)[b"file tree"][b"empty"][b""].update({b"attr": b"l", b"symlink path": [b"sub", b"b.txt"]})))
save("v2_empty_with_root", mod("multi_v2", lambda d: info(d)[b"file tree"][b"empty"][b""].__setitem__(b"pieces root", b"r" * 32)))
save("v2_tree_emptysub", mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(b"sub2", {})))
save("v2_deep", mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(b"d", eval("{b'd':" * 60 + "{b'': {b'length': 0}}" + "}" * 60))))
save("v2_single_renamed", setf("single_v2", b"name", b"other"))
save("v2_no_layers", mod("multi_v2", lambda d: d.pop(b"piece layers")))
save("v2_layers_notdict", mod("multi_v2", lambda d: d.__setitem__(b"piece layers", [1])))
save("v2_layers_missing_one", mod("multi_v2", lambda d: d[b"piece layers"].pop(sorted(d[b"piece layers"])[0])))
save("hy_no_pieces", popf("multi_hy", b"pieces"))
save("hy_no_files", popf("multi_hy", b"files"))

# trackers, seeds, nodes, metadata
def top(src, key, val): return mod(src, lambda d: d.__setitem__(key, val))
save("tiers", top("multi_v1", b"announce-list", [[b"http://a", b"http://b"], [], [b"  http://c  ", b"", b"http://a"], [b"udp://d:1"],
                                                  [b" http://e", b"http://f ", b"\thttp://g", b"x y", b"foo", b"ws://w"]]))
save("announce_only", mod("multi_v1", lambda d: d.pop(b"announce-list")))
save("announce_ws", mod("multi_v1", lambda d: (d.pop(b"announce-list"), d.__setitem__(b"announce", b"  http://x"))))
save("al_notlist", top("multi_v1", b"announce-list", [b"http://q", [b"http://r"]]))
save("al_empty", top("multi_v1", b"announce-list", []))
save("al_int", top("multi_v1", b"announce-list", [[5, b"http://r"]]))
save("i2p", top("multi_v1", b"announce-list", [[b"http://tracker.i2p/announce"]]))
save("urllist_str", top("multi_v1", b"url-list", b"http://ws/"))
save("urllist_list", top("multi_v1", b"url-list", [b"http://ws/", b"", b"http://ws2", b"http://ws/", 5]))
save("urllist_single", top("single_v1", b"url-list", [b"http://ws", b"http://ws2/"]))
save("httpseeds", top("multi_v1", b"httpseeds", [b"http://hs/"]))
save("nodes", top("multi_v1", b"nodes", [[b"1.2.3.4", 6881], [b"host", 1], [b"x"], [5, 6], b"str", [b"", 3], [b"h", -1]]))
save("collections", mod("multi_v1", lambda d: (d.__setitem__(b"collections", [b"c1", b"c2"]), info(d).__setitem__(b"collections", [b"ic1", 5]))))
save("similar", mod("multi_v1", lambda d: (d.__setitem__(b"similar", [b"a" * 20, b"short"]), info(d).__setitem__(b"similar", [b"b" * 20]))))
save("private2", setf("multi_v1", b"private", 2))
save("private_neg", setf("multi_v1", b"private", -1))
save("private_str", setf("multi_v1", b"private", b"1"))
save("private_outside", top("multi_v1", b"private", 1))
save("comment_utf8", mod("multi_v1", lambda d: (d.__setitem__(b"comment.utf-8", b"c8"), d.__setitem__(b"comment", b"\xffbad"))))
save("comment_bad", mod("multi_v1", lambda d: (d.__setitem__(b"comment", b"\xffbad"), d.__setitem__(b"created by", b"\xc3("))))
save("cdate_neg", top("multi_v1", b"creation date", -5))
save("cdate_str", top("multi_v1", b"creation date", b"5"))
save("ssl", setf("multi_v1", b"ssl-cert", b"CERTDATA"))
save("unsorted_info", b"d4:infod4:name1:x12:piece lengthi16384e6:lengthi1e6:pieces20:" + b"a" * 20 + b"ee")
save("dup_key", b"d4:infod4:name1:x4:name1:y12:piece lengthi16384e6:lengthi1e6:pieces20:" + b"a" * 20 + b"ee")
# keys of a file entry given twice (the first one counts), `path.utf-8` not
# a list, keys in unusual order, a padding marker in the directory or name
fl = b"d6:lengthi3e6:lengthi5e4:pathl1:ae4:pathl1:bee" + b"d4:pathl1:ce4:attr1:x6:lengthi4e4:attr1:he"
fl += b"d10:path.utf-81:u4:pathl1:d2:e1e6:lengthi2ee" + b"d6:lengthi1e4:pathl18:_____padding_file_1:fee"
fl += b"d6:lengthi1e5:mtimei7e5:mtimei9e4:sha120:" + b"s" * 20 + b"4:pathl1:gee"
save("dup_key_files", b"d4:infod5:filesl" + fl + b"e4:name3:top12:piece lengthi16384e6:pieces20:" + b"a" * 20 + b"ee")
save("dup_key_files_pad_name", b"d4:infod5:filesl" + fl + b"e4:name20:x_____padding_file_x12:piece lengthi16384e6:pieces20:" + b"a" * 20 + b"ee")
save("trailing", lt.bencode(base["multi_v1"]) + b"xx")
raw = lt.bencode(base["multi_v1"])
save("leading_zero", raw.replace(b"12:piece lengthi32768e", b"12:piece lengthi032768e"))

# malformed
save("m_empty", b"")
save("m_garbage", b"xyz")
save("m_notdict", b"li1ee")
save("m_deep", b"d1:x" + b"l" * 200 + b"e" * 200 + raw[1:])
save("m_int_overflow", raw.replace(b"i32768e", b"i99999999999999999999999e"))
save("m_negzero", raw.replace(b"i32768e", b"i-0e"))
save("m_bad_announce", b"d8:announce5:x y/" + raw[1:])
save("m_noinfo", mod("multi_v1", lambda d: d.pop(b"info")))
save("m_info_int", top("multi_v1", b"info", 5))
save("m_info_empty", top("multi_v1", b"info", {}))
save("m_no_plen", popf("multi_v1", b"piece length"))
for v in (0, -16384, 1000, 2 ** 40, b"32768"):
    save("m_plen_%s" % (v if isinstance(v, int) else "str"), setf("multi_v1", b"piece length", v))
save("m_no_pieces", popf("multi_v1", b"pieces"))
save("m_pieces_short", mod("multi_v1", lambda d: info(d).__setitem__(b"pieces", info(d)[b"pieces"][:-20])))
save("m_pieces_19", mod("multi_v1", lambda d: info(d).__setitem__(b"pieces", info(d)[b"pieces"][:-1])))
save("m_no_name", popf("multi_v1", b"name"))
save("m_files_empty", setf("multi_v1", b"files", []))
save("m_files_notlist", setf("multi_v1", b"files", 3))
save("m_file_nolength", mod("multi_v1", lambda d: info(d)[b"files"][1].pop(b"length")))
save("m_file_neglength", mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"length", -5)))
save("m_file_nopath", mod("multi_v1", lambda d: info(d)[b"files"][1].pop(b"path")))
save("m_file_nothing", mod("multi_v1", lambda d: (info(d)[b"files"][1].pop(b"path"), info(d)[b"files"][1].pop(b"length"))))
save("m_file_emptypath", mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"path", [])))
save("m_file_path_int", mod("multi_v1", lambda d: info(d)[b"files"][1].__setitem__(b"path", [5, b"x"])))
save("m_file_notdict", mod("multi_v1", lambda d: info(d)[b"files"].__setitem__(1, 5)))
save("m_dup_files", mod("multi_v1", lambda d: info(d)[b"files"].append(copy.deepcopy(info(d)[b"files"][2]))))
save("m_single_nolength", popf("single_v1", b"length"))
save("m_single_neg", setf("single_v1", b"length", -1))
save("m_single_zero", mod("single_v1", lambda d: (info(d).__setitem__(b"length", 0), info(d).__setitem__(b"pieces", b""))))
save("m_all_empty", mod("multi_v1", lambda d: (info(d).__setitem__(b"files", [{b"length": 0, b"path": [b"a"]}]), info(d).__setitem__(b"pieces", b""))))
save("m_v2_no_tree", popf("multi_v2", b"file tree"))
save("m_v2_metaver3", setf("multi_v2", b"meta version", 3))
save("m_v2_metaver1", setf("multi_v2", b"meta version", 1))
first_layer = lambda d: sorted(d[b"piece layers"])[0]
save("m_v2_bad_layer", mod("multi_v2", lambda d: d[b"piece layers"].__setitem__(first_layer(d), b"x" * 64)))
save("m_v2_short_layer", mod("multi_v2", lambda d: d[b"piece layers"].__setitem__(first_layer(d), b"x" * 32)))
save("m_v2_layer_unknown", mod("multi_v2", lambda d: d[b"piece layers"].__setitem__(b"z" * 32, b"")))
save("m_v2_layer_extra", mod("multi_v2", lambda d: d[b"piece layers"].__setitem__(first_layer(d), d[b"piece layers"][first_layer(d)] + b"q" * 32)))
save("m_v2_tree_empty", setf("multi_v2", b"file tree", {}))
save("m_v2_no_root", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].pop(b"pieces root")))
save("m_v2_bad_root_len", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].__setitem__(b"pieces root", b"x" * 31)))
save("m_v2_wrong_root", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].__setitem__(b"pieces root", b"r" * 32)))
save("m_v2_plen_small", setf("multi_v2", b"piece length", 8192))
save("m_v2_plen_npow2", setf("multi_v2", b"piece length", 49152))
save("m_v2_file_and_dir", mod("multi_v2", lambda d: info(d)[b"file tree"][b"sub"].__setitem__(b"", {b"length": 5})))
save("m_v2_leaf_at_root", mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(b"", {b"length": 5})))
save("m_v2_leaf_extra", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"].__setitem__(b"other", {b"": {b"length": 3}})))
save("m_v2_neglen", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].__setitem__(b"length", -3)))
save("m_v2_nolen", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].pop(b"length")))
save("m_v2_len_str", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].__setitem__(b"length", b"5")))
save("m_v2_leaf_notdict", mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(b"a.txt", 5)))
save("m_v2_subdir_notdict", mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(b"sub", [1])))
save("m_v2_pad_attr", mod("multi_v2", lambda d: info(d)[b"file tree"][b"a.txt"][b""].__setitem__(b"attr", b"p")))
save("m_v2_unsorted", lt.bencode(base["multi_v2"]).replace(b"5:a.txt", b"5:z.txt"))
save("m_v2_deep", mod("multi_v2", lambda d: info(d)[b"file tree"].__setitem__(b"d", eval("{b'd':" * 99 + "{b'': {b'length': 0}}" + "}" * 99))))
save("m_hy_mismatch", mod("multi_hy", lambda d: info(d)[b"files"][0].__setitem__(b"length", 40001)))
save("m_hy_mismatch_name", mod("multi_hy", lambda d: info(d)[b"files"][0].__setitem__(b"path", [b"z.txt"])))
save("m_hy_nopad", mod("multi_hy", lambda d: info(d).__setitem__(b"files", [f for f in info(d)[b"files"] if b"attr" not in f])))
save("m_hy_badpieces", setf("multi_hy", b"pieces", b"x" * 20))
save("m_hy_single_len", mod("multi_hy", lambda d: (info(d).pop(b"files"), info(d).__setitem__(b"length", 5))))
print(json.dumps(sorted(cases)))
'''

# ---------------------------------------------------------------------------
# dump: every accessor, run under both modules

DUMP = r'''
import json, os, sys, warnings
warnings.simplefilter("ignore")
import libtorrent as lt

def exc(e):
    return "EXC %s: %s" % (type(e).__name__, e)

def t(out, k, f):
    try:
        out[k] = f()
    except Exception as e:
        out[k] = exc(e)

def dump(ti, full):
    out = {}
    fs = ti.files()
    n = ti.num_files()
    for k in ("name", "comment", "creator", "creation_date", "num_files", "num_pieces", "piece_length",
              "total_size", "size_on_disk", "priv", "is_i2p", "is_valid", "ssl_cert", "collections",
              "metadata_size"):
        t(out, k, getattr(ti, k))
    t(out, "info_hash", lambda: str(ti.info_hash()))
    t(out, "info_hashes", lambda: [str(ti.info_hashes().v1), str(ti.info_hashes().v2),
                                   ti.info_hashes().has_v1(), ti.info_hashes().has_v2()])
    t(out, "info_section", lambda: ti.info_section().hex() if len(ti.info_section()) < 4096 else len(ti.info_section()))
    t(out, "metadata", lambda: ti.metadata() == ti.info_section())
    t(out, "trackers", lambda: [(a.url, a.tier, a.fail_limit, int(a.source), a.verified, a.trackerid) for a in ti.trackers()])
    t(out, "web_seeds", lambda: [(w["url"], w["auth"]) for w in ti.web_seeds()])
    t(out, "nodes", ti.nodes)
    t(out, "similar", lambda: [str(x) for x in ti.similar_torrents()])
    t(out, "merkle", lambda: ti.merkle_tree())
    t(out, "is_merkle", ti.is_merkle_torrent)
    np = ti.num_pieces()
    sample = sorted(set([0, 1, np // 2, np - 2, np - 1])) if full else [0, np - 1]
    t(out, "hashes", lambda: [ti.hash_for_piece(i).hex() for i in sample if 0 <= i < np])
    t(out, "psizes", lambda: [ti.piece_size(i) for i in sample if 0 <= i < np])
    t(out, "piece_oob", lambda: ti.piece_size(np))
    t(out, "hash_oob", lambda: ti.hash_for_piece(-1))
    files = range(n) if full else sorted(set([0, 1, n // 2, n - 1]))
    t(out, "files", lambda: [(fs.file_path(i), fs.file_path(i, "/save"), fs.file_name(i), fs.file_size(i),
                              fs.file_offset(i), int(fs.file_flags(i)), str(fs.root(i)), str(fs.hash(i)),
                              fs.symlink(i), fs.file_absolute_path(i), fs.at(i).mtime, fs.at(i).path,
                              fs.at(i).symlink_path, fs.at(i).pad_file, fs.piece_index_at_file(i),
                              fs.file_index_for_root(fs.root(i)))
                             for i in files if 0 <= i < n])
    t(out, "fs", lambda: [fs.name(), fs.v2(), fs.is_valid(), fs.num_files(), fs.num_pieces(), fs.piece_length(),
                          fs.total_size(), fs.size_on_disk()])
    t(out, "orig", lambda: ti.orig_files().num_files() == n and ti.layout().total_size())
    t(out, "at_offset", lambda: [fs.file_index_at_offset(o) for o in (0, 1, ti.total_size() // 3, ti.total_size() - 1, ti.total_size(), -1)])
    t(out, "at_piece", lambda: [(fs.file_index_at_piece(p), fs.last_file_index_at_piece(p)) for p in sample if 0 <= p < np])
    t(out, "map_block", lambda: [[(s.file_index, s.offset, s.size) for s in ti.map_block(p, 100, ti.piece_length())] for p in sample if 0 <= p < np])
    t(out, "map_file", lambda: [(r.piece, r.start, r.length) for r in (ti.map_file(i, 10, 20000) for i in files if 0 <= i < n)])
    t(out, "file_oob", lambda: fs.file_path(n))
    t(out, "magnet", lambda: lt.make_magnet_uri(ti))
    return out

res = {}
cdir = os.environ["CORPUS"]
for name in json.loads(os.environ["CASES"]):
    p = os.path.join(cdir, name + ".torrent")
    try:
        ti = lt.torrent_info(p)
    except Exception as e:
        res[name] = exc(e)
        continue
    full = name != "fifty_thousand"
    r = dump(ti, full)
    with open(p, "rb") as f:
        buf = f.read()
    try:
        r["from_bytes_same"] = dump(lt.torrent_info(buf), full) == r
        r["from_dict_same"] = dump(lt.torrent_info(lt.bdecode(buf)), full) == r if name[:2] != "m_" and "trailing" not in name else None
        r["copy_same"] = dump(lt.torrent_info(ti), full) == r
    except Exception as e:
        r["other_forms"] = exc(e)
    res[name] = r
print(json.dumps(res))
'''


@pytest.fixture(scope="module")
def corpus_dir():
    with tempfile.TemporaryDirectory(prefix="ti-corpus-") as d:
        names = run_ref(GEN, CORPUS=d)
        yield d, names


@pytest.fixture(scope="module")
def corpus(corpus_dir):
    d, names = corpus_dir
    env = dict(CORPUS=d, CASES=json.dumps(names))
    return names, run_ref(DUMP, timeout=600, **env), run_ours(DUMP, timeout=600, **env)


def test_corpus_is_large(corpus):
    names, ref, _ = corpus
    assert len(names) > 250
    # a fair share of it loads and a fair share fails
    ok = [n for n in names if isinstance(ref[n], dict)]
    bad = [n for n in names if not isinstance(ref[n], dict)]
    assert len(ok) > 150 and len(bad) > 40


CATEGORIES = ["single_", "multi_", "uni_", "many_trackers", "fifty_thousand", "path_", "name_", "tree_key_",
              "attr", "symlink", "v2_", "hy_", "tiers", "announce", "al_", "i2p", "urllist", "httpseeds",
              "nodes", "collections", "similar", "private", "comment", "cdate", "ssl", "unsorted", "dup_key",
              "trailing", "leading_zero", "m_"]


@pytest.mark.parametrize("prefix", CATEGORIES)
def test_same_as_reference(corpus, prefix):
    names, ref, ours = corpus
    selected = [n for n in names if n.startswith(prefix)]
    assert selected, prefix
    for n in selected:
        assert ours[n] == ref[n], n


def test_fifty_thousand_files(corpus):
    _, ref, ours = corpus
    assert ref["fifty_thousand"]["num_files"] == 50000
    assert ours["fifty_thousand"] == ref["fifty_thousand"]


LIMITS = r'''
import json, os, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
p = os.path.join(os.environ["CORPUS"], "multi_v1.torrent")
buf = open(p, "rb").read()
out = {}
for k, cfg in [("depth", {"max_decode_depth": 2}), ("tokens", {"max_decode_tokens": 10}),
               ("pieces", {"max_pieces": 2}), ("buf_file", {"max_buffer_size": 10}), ("ok", {"max_pieces": 1000})]:
    for form, arg in (("bytes", buf), ("path", p)):
        try:
            out[k + form] = lt.torrent_info(arg, cfg).name()
        except Exception as e:
            out[k + form] = "EXC %s: %s" % (type(e).__name__, e)
for k, arg in (("missing", "/nonexistent/x.torrent"), ("dir", os.environ["CORPUS"]), ("bytearray", bytearray(b"xx"))):
    try:
        out[k] = lt.torrent_info(arg).name()
    except Exception as e:
        out[k] = "EXC %s: %s" % (type(e).__name__, e)
ih = lt.torrent_info(lt.sha1_hash(b"a" * 20))
out["ih"] = [ih.is_valid(), ih.name(), ih.num_files(), ih.num_pieces(), ih.total_size(), str(ih.info_hashes().v1), ih.info_section().hex(), ih.piece_length()]
ih = lt.torrent_info(lt.info_hash_t(lt.sha256_hash(b"a" * 32)))
out["ih2"] = [ih.is_valid(), str(ih.info_hash()), lt.make_magnet_uri(ih)]
ih = lt.torrent_info(lt.sha256_hash(b"b" * 32))
out["ih3"] = [ih.is_valid(), str(ih.info_hashes().v2)]
print(json.dumps(out))
'''


def test_limits_and_constructor_forms(corpus_dir, ref, ours):
    d, _ = corpus_dir
    r, o = ref(LIMITS, CORPUS=d), ours(LIMITS, CORPUS=d)
    assert r["depthbytes"].startswith("EXC RuntimeError")
    assert o == r


LOAD = r'''
import json, os, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
out = {}
for name in ("multi_hy", "multi_v1", "single_v2", "tiers", "urllist_list", "nodes"):
    p = os.path.join(os.environ["CORPUS"], name + ".torrent")
    for form in ("file", "buffer"):
        atp = lt.load_torrent_file(p) if form == "file" else lt.load_torrent_buffer(open(p, "rb").read())
        ti = atp.ti
        out[name + form] = [atp.trackers, atp.tracker_tiers, atp.url_seeds, atp.dht_nodes, atp.comment,
                            atp.created_by, atp.creation_date, str(atp.info_hashes.v1), str(atp.info_hashes.v2),
                            atp.name, atp.flags, ti.name(), [t.url for t in ti.trackers()], ti.web_seeds(),
                            ti.comment(), ti.creation_date(), ti.num_files()]
    w = lt.write_torrent_file(atp)
    out[name + "write"] = sorted(k.decode() for k in w)
    out[name + "write_info"] = bytes(x & 0xff for x in w[b"info"]) == ti.info_section()
    out[name + "write_ann"] = [w.get(b"announce"), w.get(b"announce-list"), w.get(b"url-list"), w.get(b"nodes")]
    out[name + "reload"] = str(lt.torrent_info(lt.bencode({k: (lt.bdecode(bytes(x & 0xff for x in v)) if k == b"info" else v) for k, v in w.items()})).info_hashes().v1)
for f in (lambda: lt.load_torrent_file("/nonexistent"), lambda: lt.load_torrent_buffer(b"xx"),
          lambda: lt.write_torrent_file(lt.add_torrent_params())):
    try:
        f(); out.setdefault("errors", []).append("no error")
    except Exception as e:
        out.setdefault("errors", []).append("%s: %s" % (type(e).__name__, e))
print(json.dumps(out, default=repr))
'''


def test_load_and_write(corpus_dir, ref, ours):
    d, _ = corpus_dir
    r, o = ref(LOAD, CORPUS=d), ours(LOAD, CORPUS=d)
    assert r["multi_hyfile"][0] and r["multi_hyfile"][12] == []  # trackers moved into the params
    assert o == r


ATP = r'''
import json, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
p = lt.add_torrent_params()
out = {}
for k in sorted(dir(p)):
    if k.startswith("_"):
        continue
    v = getattr(p, k)
    if k in ("info_hash", "info_hashes"):
        v = str(v) if k == "info_hash" else [str(v.v1), str(v.v2)]
    elif k == "storage_mode":
        v = [int(v), str(v)]
    out[k] = v
p.save_path = "/x"; p.flags = 5; p.trackers = ["a", "b"]; p.file_priorities = [1, 0]
p.info_hash = lt.sha1_hash(b"q" * 20); p.storage_mode = lt.storage_mode_t.storage_mode_allocate
p.peers = [("1.2.3.4", 5)]; p.renamed_files = {0: "x"}; p.dht_nodes = [("h", 1)]
out["set"] = [p.save_path, p.flags, p.trackers, p.file_priorities, str(p.info_hashes.v1), int(p.storage_mode),
              p.peers, p.renamed_files, p.dht_nodes]
print(json.dumps(out, default=repr))
'''


def test_add_torrent_params_defaults(ref, ours):
    r, o = ref(ATP), ours(ATP)
    assert r["flags"] == 352440
    assert o == r


FS = r'''
import json, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
def t(f):
    try:
        return f()
    except Exception as e:
        return "EXC %s: %s" % (type(e).__name__, e)
out = {}
fs = lt.file_storage()
fs.add_file("top/x/a", 10, lt.file_storage.flag_executable, 5)
fs.add_file("top/b", 0)
fs.add_file("other/c", 7, lt.file_storage.flag_pad_file)
fs.add_file("top/l", 7, lt.file_storage.flag_symlink, 0, "x/a")
fs.add_file("/abs/d", 3)
fs.add_file("top/s2", 1, lt.file_storage.flag_symlink)
fs.add_file("top/s3", 1, 0, 0, "zzz")
fs.add_file(b"top/bytes", 2, lt.file_storage.flag_hidden)
fs.add_file("top//y/", 1)
fs.add_file("x/../y", 1)
# doubled, trailing and repeated directory separators; a directory seen before
fs.add_file("top/x/a2", 1); fs.add_file("top/x//a3", 1); fs.add_file("q/r/s/", 1); fs.add_file("q/r/s2", 1)
fe = lt.file_entry(); fe.path = "top/fe"; fe.mtime = 3; fe.symlink_path = "qq"
fs.add_file(fe)
def files():
    return [(fs.file_path(i), fs.file_path(i, "/sp"), fs.file_name(i), fs.file_offset(i), fs.file_size(i),
             int(fs.file_flags(i)), fs.symlink(i), fs.file_absolute_path(i), fs.at(i).mtime, fs.at(i).symlink_path,
             fs.at(i).executable_attribute, fs.at(i).hidden_attribute, fs.at(i).symlink_attribute)
            for i in range(fs.num_files())]
out["files"] = files()
out["sizes"] = [fs.name(), fs.piece_length(), fs.num_pieces(), fs.total_size(), fs.size_on_disk(), fs.is_valid(), fs.v2(), len(fs)]
out["p0"] = t(lambda: fs.piece_size(0))
fs.set_piece_length(16)
fs.set_num_pieces(3)
out["psize"] = [t(lambda: fs.piece_size(i)) for i in (-1, 0, 1, 2, 3)]
out["at_off"] = [fs.file_index_at_offset(o) for o in (0, 9, 10, 17, 26, 27, 1000, -1)]
out["at_piece"] = [t(lambda: (fs.file_index_at_piece(p), fs.last_file_index_at_piece(p))) for p in (-1, 0, 1, 2, 3)]
out["piece_at_file"] = [t(lambda: fs.piece_index_at_file(i)) for i in (0, 3, 6, 7)]
out["hash_root"] = [str(fs.hash(0)), str(fs.root(0)), fs.file_index_for_root(lt.sha256_hash()),
                    fs.file_index_for_root(lt.sha256_hash(b"\x01" * 32))]
fs.set_name("NEW")
out["renamed_storage"] = files()
fs.rename_file(0, "NEW/q/r"); fs.rename_file(1, "zz"); fs.rename_file(2, "/a/b")
fs.rename_file(3, "NEW//m//n/"); fs.rename_file(4, "q/r/t"); fs.rename_file(5, "NEW/x/a")
out["renamed_files"] = files()
out["iter"] = [e.path for e in fs]
out["errors"] = [t(lambda: fs.add_file("top/big", 2 ** 62)), t(lambda: fs.add_file("top/big", 2 ** 63 - 1)),
                 t(lambda: fs.piece_size(99)), t(lambda: fs.rename_file(99, "x"))]
e = lt.file_storage()
out["empty"] = [e.file_index_at_offset(5), e.name(), e.total_size(), e.num_files(), e.is_valid()]
fe = lt.file_entry()
out["file_entry"] = [fe.path, fe.size, fe.offset, fe.mtime, fe.pad_file, fe.executable_attribute, fe.hidden_attribute,
                     fe.symlink_attribute, fe.symlink_path, str(fe.filehash)]
fsl = lt.file_slice()
out["file_slice"] = [fsl.file_index, fsl.offset, fsl.size]
pr = lt.peer_request()
out["peer_request"] = [pr.piece, pr.start, pr.length, pr == lt.peer_request()]
a = lt.announce_entry("http://x")
out["announce"] = [a.url, a.tier, a.fail_limit, int(a.source), a.verified, a.trackerid, a.fails, a.updating,
                   a.start_sent, a.complete_sent, a.send_stats, a.message, a.scrape_complete, a.scrape_incomplete,
                   a.scrape_downloaded, a.min_announce, a.next_announce, a.min_announce_in(), a.next_announce_in(),
                   a.is_working(), a.can_announce(False)]
a.tier = 3; a.url = "u"; a.fail_limit = 2
out["announce_set"] = [a.tier, a.url, a.fail_limit]
print(json.dumps(out))
'''


def test_file_storage(ref, ours):
    r, o = ref(FS), ours(FS)
    assert r["files"][0][0] == "top/x/a"
    assert o == r


WARN = r'''
import json, warnings
import libtorrent as lt
import os
ti = lt.torrent_info(os.environ["T"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fs = ti.files()
calls = {"files": lambda: ti.files(), "orig_files": lambda: ti.orig_files(), "layout": lambda: ti.layout(),
         "file_at": lambda: ti.file_at(0), "info_hash": lambda: ti.info_hash(), "merkle_tree": ti.merkle_tree,
         "is_merkle_torrent": ti.is_merkle_torrent, "metadata": ti.metadata, "metadata_size": ti.metadata_size,
         "nodes": ti.nodes, "web_seeds": ti.web_seeds, "trackers": ti.trackers, "name": ti.name,
         "at": lambda: fs.at(0), "iter": lambda: list(fs), "len": lambda: len(fs), "hash": lambda: fs.hash(0)}
out = {}
for k, f in calls.items():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        f()
        out[k] = [str(x.message) for x in w if issubclass(x.category, DeprecationWarning)]
print(json.dumps(out))
'''


def test_deprecation_warnings(corpus_dir, ref, ours):
    t = os.path.join(corpus_dir[0], "multi_hy.torrent")
    r, o = ref(WARN, T=t), ours(WARN, T=t)
    assert r["files"] == ["files() is deprecated"]
    assert o == r


MUTATE = r'''
import json, os, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
def t(f):
    try:
        r = f()
        return r if isinstance(r, (int, str, list, bool, type(None))) else repr(type(r))
    except Exception as e:
        return "EXC %s: %s" % (type(e).__name__, e)
out = {}
ti = lt.torrent_info(os.path.join(os.environ["CORPUS"], "multi_v1.torrent"))
ti.add_tracker("http://new/announce", 3)
ti.add_tracker("http://t1/announce", 5)
ti.add_tracker("udp://x.i2p:1/announce")
out["trackers"] = [(a.url, a.tier) for a in ti.trackers()]
out["i2p"] = ti.is_i2p()
ti.add_url_seed("http://seed/")
ti.add_url_seed("http://seed/")
ti.add_http_seed("http://hseed/", "user:pw")
out["web_seeds"] = ti.web_seeds()
ti.set_web_seeds([{"url": "http://only/", "auth": "a", "type": 0}])
out["set_web_seeds"] = ti.web_seeds()
ti.add_node("router", 6881)
out["nodes"] = ti.nodes()
ti.rename_file(1, "multi/renamed.bin")
ti.rename_file(2, "/abs/path")
out["renamed"] = [ti.files().file_path(i) for i in range(ti.num_files())]
out["orig"] = [ti.orig_files().file_path(i) for i in range(ti.num_files())]
fs = lt.file_storage()
fs.add_file("remapped/one", ti.total_size() - 5)
fs.add_file("remapped/two", 5)
ti.remap_files(fs)
out["remapped"] = [(ti.files().file_path(i), ti.files().file_size(i)) for i in range(ti.num_files())]
out["remapped_orig"] = [ti.orig_files().file_path(i) for i in range(ti.orig_files().num_files())]
out["remapped_pieces"] = [ti.num_pieces(), ti.piece_length(), ti.files().num_pieces()]
out["map_block_oob"] = t(lambda: ti.map_block(99, 0, 1))
out["map_file_oob"] = t(lambda: ti.map_file(99, 0, 1))
out["map_file_past"] = t(lambda: [ti.map_file(1, 10 ** 9, 5).piece, ti.map_file(1, 10 ** 9, 5).length])
out["file_at"] = t(lambda: [ti.file_at(0).path, ti.file_at(0).size, ti.file_at(0).offset])
out["magnet"] = lt.make_magnet_uri(ti)
print(json.dumps(out))
'''


def test_mutators(corpus_dir, ref, ours):
    d, _ = corpus_dir
    r, o = ref(MUTATE, CORPUS=d), ours(MUTATE, CORPUS=d)
    assert r["trackers"]
    assert o == r


BADARGS = r'''
import json
import libtorrent as lt
out = []
for a in [(5,), (), (memoryview(b"x"),), ("a", "b", "c"), (None,)]:
    try:
        lt.torrent_info(*a)
        out.append("no error")
    except Exception as e:
        out.append([type(e).__name__, isinstance(e, TypeError), str(e)])
print(json.dumps(out))
'''


def test_constructor_argument_errors(ref, ours):
    r, o = ref(BADARGS), ours(BADARGS)
    assert r[0][:2] == ["ArgumentError", True]
    assert o == r


TIERS = r'''
import json, os, warnings
warnings.simplefilter("ignore")
import libtorrent as lt
d = lt.bdecode(open(os.path.join(os.environ["CORPUS"], "multi_v1.torrent"), "rb").read())
d[b"announce-list"] = [[b"http://t%d/" % i] for i in range(300)]
ti = lt.torrent_info(lt.bencode(d))
ti.add_tracker("http://neg", -5)
ti.add_tracker("http://big", 1000)
ti.add_tracker("http://t1/", 7)
print(json.dumps([(a.url, a.tier) for a in ti.trackers()]))
'''


def test_many_tiers(corpus_dir, ref, ours):
    r, o = ref(TIERS, CORPUS=corpus_dir[0]), ours(TIERS, CORPUS=corpus_dir[0])
    assert len(r) == 302
    # tiers are 8-bit and wrap; the order inside one tier of such a long
    # list is an artifact of the reference's unstable sort
    assert [t for _, t in o] == [t for _, t in r]
    assert sorted(map(tuple, o)) == sorted(map(tuple, r))


def test_directory_with_a_single_file_is_multi_file(ref, ours, tmp_path):
    """A directory holding one file gives a multi-file torrent named after
    the directory, in v1, v2 and hybrid form (regression: v2 trees with one
    entry were taken for single-file torrents)."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "x.bin").write_bytes(bytes(range(256)) * 200)
    code = f"""
import json, libtorrent as lt, warnings
warnings.simplefilter("ignore")
out = []
for flags in (0, lt.create_torrent.v1_only, lt.create_torrent.v2_only):
    fs = lt.file_storage()
    lt.add_files(fs, {str(d)!r})
    ct = lt.create_torrent(fs, 16384, flags=flags)
    lt.set_piece_hashes(ct, {str(tmp_path)!r})
    ti = lt.torrent_info(lt.bencode(ct.generate()))
    out.append([ti.num_files(), ti.files().file_path(0), ti.name(), str(ti.info_hashes().v1)])
print(json.dumps(out))
"""
    assert ours(code) == ref(code)
