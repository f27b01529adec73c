"""BEP 52 hash exchange against the reference, both directions: a v2-only
magnet gets the info dictionary with ut_metadata, then its piece layers
with hash requests (verified against each file's merkle root), then the
data, checked byte for byte. One file spans more than 512 pieces, so its
layer comes in two runs, each proved with uncle hashes up to the root."""
import hashlib
import socket
import struct
import subprocess
import threading

import pytest

from ltdiff import REF_PY, digest, ref_make_torrent
from test_magnet_swarm import V2_ONLY, bencode, recv_exact, run_magnet_leech, start_seed


def make_v2_torrent(d, flags=V2_ONLY, piece_size=16384):
    # 530 pieces and a bit: two runs of piece-layer hashes
    big = b"".join(hashlib.sha256(b"big%d" % i).digest() for i in range(530 * 512 + 40))
    return ref_make_torrent(d, {"big.bin": big,
                                "small.bin": hashlib.sha256(b"s").digest() * 1300,  # 3 pieces
                                "tiny.bin": b"tiny" * 100},                         # 1 piece
                            piece_size, flags=flags)


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


class RejectingSeed(threading.Thread):
    """A scripted v2 peer that serves the info dictionary (ut_metadata) but
    answers every hash request with a hash reject."""

    def __init__(self, info, corrupt=False):
        super().__init__(daemon=True)
        self.info = info
        self.corrupt = corrupt  # answer with hashes that do not prove out
        self.closed_by_peer = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.hash_requests = []

    def run(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(20)
        try:
            hs = recv_exact(c, 68)
            reserved = bytearray(8)
            reserved[5] |= 0x10
            reserved[7] |= 0x10 | 0x04  # v2, fast
            c.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + hs[28:48] + b"-FK0001-" + b"y" * 12)
            ext = bencode({"m": {"ut_metadata": 3}, "metadata_size": len(self.info)})
            c.sendall(struct.pack(">IBB", len(ext) + 2, 20, 0) + ext)
            c.sendall(struct.pack(">IB", 1, 14))  # have all
            their_id = 2
            while True:
                (n,) = struct.unpack(">I", recv_exact(c, 4))
                if n == 0:
                    continue
                body = recv_exact(c, n)
                if body[0] == 21 and len(body) == 49:
                    self.hash_requests.append(body[1:])
                    if self.corrupt:
                        _, _, length, proof = struct.unpack(">IIII", body[33:49])
                        n = length + max(0, proof + 1 - (length.bit_length() - 1))
                        junk = b"\x5a" * 32 * n
                        c.sendall(struct.pack(">IB", 49 + len(junk), 22) + body[1:] + junk)
                    else:
                        c.sendall(struct.pack(">IB", 49, 23) + body[1:])
                    continue
                if body[0] != 20 or body[1] != 3:
                    continue
                piece = int(body[2:].split(b"5:piecei", 1)[1].split(b"e", 1)[0])
                data = self.info[piece * 16384:(piece + 1) * 16384]
                hdr = bencode({"msg_type": 1, "piece": piece, "total_size": len(self.info)})
                c.sendall(struct.pack(">IBB", len(hdr) + len(data) + 2, 20, their_id) + hdr + data)
        except ConnectionError:
            self.closed_by_peer = True
        except (socket.timeout, OSError):
            pass
        finally:
            c.close()
            self.sock.close()


def info_dict(d):
    data = (d / "t.torrent").read_bytes()
    meta = subprocess.run([str(REF_PY), "-c", "import sys, libtorrent as lt; "
                           "sys.stdout.buffer.write(lt.bencode(lt.bdecode(open(sys.argv[1], 'rb')"
                           ".read())[b'info']))", str(d / "t.torrent")],
                          check=True, capture_output=True, timeout=60).stdout
    assert meta and meta in data
    return meta


def test_hashes_that_do_not_prove_out_get_the_peer_dropped(v2_torrent, tmp_path):
    """A peer answers the hash requests with hashes of the right count that
    do not hash up to the file root: we drop it (invalid_hashes) and take
    nothing from it; the torrent does not start downloading."""
    d, info = v2_torrent
    fake = RejectingSeed(info_dict(d), corrupt=True)
    fake.start()
    r, err = run_magnet_leech("ours", info["uri"], tmp_path / "dl", fake.port,
                              {"wait": 5, "settings": {"out_enc_policy": 2}})
    fake.join(25)
    assert ["metadata_received", 0] in r["alerts"], (r, err[-2000:])
    assert fake.hash_requests and fake.closed_by_peer
    assert not r["seeding"] and not any(a[0] == "torrent_error" for a in r["alerts"]), r


def test_v2_only_magnet_stops_when_no_peer_has_the_layers(v2_torrent, tmp_path):
    """The only peer refuses every hash request: after the metadata the
    torrent stops with missing_piece_layer (214) and downloads nothing."""
    d, info = v2_torrent
    fake = RejectingSeed(info_dict(d))
    fake.start()
    r, err = run_magnet_leech("ours", info["uri"], tmp_path / "dl", fake.port,
                              {"stop_on_failure": True, "wait": 20,
                               "settings": {"out_enc_policy": 2}})
    fake.join(25)
    assert ["metadata_received", 0] in r["alerts"], (r, err[-2000:])
    assert ["torrent_error", 214] in r["alerts"], r
    assert r["has_metadata"] and not r["seeding"]
    assert fake.hash_requests, "the layers were asked for"
    # each request names a file root, the piece layer (16 KiB pieces: 0)
    # and a run of at most 512 hashes
    for req in fake.hash_requests:
        base, index, length, proof = struct.unpack(">IIII", req[32:])
        assert base == 0 and length <= 512 and index % length == 0


def merkle(leaves, width):
    """Root of a SHA-256 tree over `leaves` padded with zero hashes to `width`."""
    layer = list(leaves) + [b"\0" * 32] * (width - len(leaves))
    while len(layer) > 1:
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
    return layer[0]


def test_our_seed_answers_hash_requests(v2_torrent, tmp_path):
    """A scripted v2 peer asks our seed for hashes: a valid run comes back
    with its uncle proof and hashes up to the file's root (computed here
    from the data); requests outside the tree, with a proof reaching the
    root, or naming an unknown root are refused with hash reject."""
    import libtorrent as lt  # ours: only to read the .torrent's v2 hash
    d, info = v2_torrent
    ti = lt.torrent_info(str(d / "t.torrent"))
    v2 = bytes.fromhex(str(ti.info_hashes().v2))
    big = (d / "seed" / "payload" / "big.bin").read_bytes()
    blocks = [hashlib.sha256(big[i:i + 16384]).digest() for i in range(0, len(big), 16384)]
    assert len(blocks) == 531
    root = merkle(blocks, 1024)   # 531 blocks: 1024 leaves, 10 layers
    seed, port = start_seed("ours", d, tmp_path, {"in_enc_policy": 2, "out_enc_policy": 2})
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=20)
        reserved = bytearray(8)
        reserved[7] |= 0x10 | 0x04
        c.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + v2[:20] + b"-FK0001-" + b"q" * 12)
        hs = recv_exact(c, 68)
        assert hs[28:48] == v2[:20]

        def ask(r, base, index, length, proof):
            c.sendall(struct.pack(">IB", 49, 21) + r + struct.pack(">IIII", base, index, length, proof))

        ask(root, 0, 0, 512, 9)          # the first run, one uncle up to the root
        ask(root, 0, 512, 512, 9)        # the second run (19 real hashes, pads)
        ask(root, 0, 1024, 512, 9)       # past the layer
        ask(root, 0, 0, 512, 10)         # a proof reaching the root
        ask(b"\x07" * 32, 0, 0, 2, 0)    # no such file
        ask(root, 0, 3, 2, 0)            # index not a multiple of the length
        got = []
        while len(got) < 6:
            (n,) = struct.unpack(">I", recv_exact(c, 4))
            body = recv_exact(c, n) if n else b""
            if body[:1] in (b"\x16", b"\x17"):
                got.append(body)
        c.close()
    finally:
        seed.kill()
        seed.wait(10)
    replies = {(b[0], struct.unpack(">II", b[37:45])): b for b in got}
    first = replies[(22, (0, 512))]
    hashes = [first[49 + 32 * i:49 + 32 * (i + 1)] for i in range((len(first) - 49) // 32)]
    assert len(hashes) == 513 and hashes[:512] == blocks[:512]
    assert hashlib.sha256(merkle(hashes[:512], 512) + hashes[512]).digest() == root
    second = replies[(22, (512, 512))]
    run2 = [second[49 + 32 * i:49 + 32 * (i + 1)] for i in range(513)]
    assert run2[:19] == blocks[512:] and run2[19:512] == [b"\0" * 32] * 493
    assert hashlib.sha256(run2[512] + merkle(run2[:512], 512)).digest() == root
    rejected = sorted(k[1] for k in replies if k[0] == 23)
    assert rejected == [(0, 2), (0, 512), (3, 2), (1024, 512)], rejected
