"""BEP 52 hash exchange against the reference, both directions: a v2-only
magnet gets the info dictionary with ut_metadata, then its piece layers
with hash requests (verified against each file's merkle root), then the
data, checked byte for byte. One file spans more than 512 pieces, so its
layer comes in two runs, each proved with uncle hashes up to the root."""
import hashlib
import json
import subprocess

import pytest

from ltdiff import REF_PY
from test_magnet_swarm import V2_ONLY, run_magnet_leech, start_seed
from test_transfer import digest


def make_v2_torrent(d, flags=V2_ONLY, piece_size=16384):
    src = d / "seed" / "payload"
    src.mkdir(parents=True)
    # 530 pieces and a bit: two runs of piece-layer hashes
    big = b"".join(hashlib.sha256(b"big%d" % i).digest() for i in range(530 * 512 + 40))
    (src / "big.bin").write_bytes(big)
    (src / "small.bin").write_bytes(hashlib.sha256(b"s").digest() * 1300)  # 3 pieces
    (src / "tiny.bin").write_bytes(b"tiny" * 100)                          # 1 piece
    code = f"""
import libtorrent as lt, warnings, json
warnings.simplefilter("ignore")
fs = lt.file_storage()
lt.add_files(fs, {str(src)!r})
ct = lt.create_torrent(fs, {piece_size}, flags={flags})
lt.set_piece_hashes(ct, {str(src.parent)!r})
data = lt.bencode(ct.generate())
open({str(d / 't.torrent')!r}, "wb").write(data)
ti = lt.torrent_info(data)
print(json.dumps({{"uri": lt.make_magnet_uri(ti), "pieces": ti.num_pieces()}}))
"""
    out = subprocess.run([str(REF_PY), "-c", code], check=True, timeout=120,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def v2_torrent(tmp_path_factory):
    d = tmp_path_factory.mktemp("v2_hashes")
    return d, make_v2_torrent(d)


@pytest.mark.parametrize("seeder,leecher", [
    ("ref", "ours"),   # we ask the reference for the piece layers
    ("ours", "ref"),   # the reference asks us
])
def test_v2_only_magnet_download(v2_torrent, tmp_path, seeder, leecher):
    d, info = v2_torrent
    assert "xt=urn:btmh:" in info["uri"] and "xt=urn:btih:" not in info["uri"]
    assert info["pieces"] > 530
    seed, port = start_seed(seeder, d, tmp_path)
    try:
        r, err = run_magnet_leech(leecher, info["uri"], tmp_path / "dl", port, {"wait": 60})
    finally:
        seed.kill()
        seed.wait(10)
    assert ["metadata_received", 0] in r["alerts"], (r, err[-2000:])
    assert not any(a[0] == "torrent_error" for a in r["alerts"]), r
    assert r["seeding"], (r, err[-2000:])
    assert r["ti_pieces"] == info["pieces"]
    assert digest(tmp_path / "dl") == digest(d / "seed")
