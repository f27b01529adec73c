"""A hostile raw-socket peer (hostile_peer.RawPeer) against a seeding session
of our module and, for comparison, of the reference, run as separate
processes (lt_host.py). Each scenario asserts:

- the hostile peer is disconnected within a bound, or its messages are
  ignored as the reference ignores them (the connection still works after);
- the session's RSS stays bounded;
- an honest leecher (tests/peers/lt_peer.py) started at the same time
  still completes with byte-identical data.

The session seeds torrent A (complete) and holds torrent B with no data
(so B's pieces are "pieces we lack"). Loopback only.
"""
from __future__ import annotations

import os
import struct
import time

import pytest

from harness import Host, Leecher, wait_for
from hostile_peer import (
    BITFIELD, BLOCK, CHOKE, HAVE_NONE, INTERESTED, NOT_INTERESTED, PIECE, REJECT,
    RESERVED_NONE, UNCHOKE, Closed, RawPeer, Torrent, bitfield_bytes, encode, have,
    random_peer_id, request,
)

IMPLS = ["ours", "ref"]
HANDSHAKE_TIMEOUT = 3
PEER_TIMEOUT = 4
# Generous: a session seeding 8 MiB should not grow by this much from any
# one hostile peer.
RSS_BOUND = 64 * 1024 * 1024
SETTINGS = {"handshake_timeout": HANDSHAKE_TIMEOUT, "peer_timeout": PEER_TIMEOUT}


class Env:
    def __init__(self, impl, host, a, b, root):
        self.impl, self.host, self.a, self.b, self.root = impl, host, a, b, root
        self.n = 0

    def leecher(self, impl=None):
        """An honest leecher of A (lt_peer.py), by default of the host's
        implementation. (The reference leecher tries uTP first and our
        session has none, which costs it seconds per connection: it is
        used where a second client matters, not everywhere.)"""
        self.n += 1
        return Leecher(impl or self.impl, self.a, self.root / f"leech{self.n}", self.host.port)


@pytest.fixture(scope="module", params=IMPLS)
def env(request, tmp_path_factory):
    impl = request.param
    root = tmp_path_factory.mktemp(f"hostile-{impl}")
    rng = __import__("random").Random(1234)
    a = Torrent(root / "ta", "a.bin", rng.randbytes(8 * 1024 * 1024 + 777))
    b = Torrent(root / "tb", "b.bin", rng.randbytes(2 * 1024 * 1024))
    (root / "empty").mkdir()
    host = Host(impl, root, [(a.path, a.seed_dir), (b.path, root / "empty")], settings=SETTINGS,
                timeout=600, name=f"seed-{impl}")
    yield Env(impl, host, a, b, root)
    host.kill()


@pytest.fixture
def scenario(env, request):
    """Runs the checks common to every scenario around the test body: an
    honest leecher alongside, RSS before/after, the host still alive.
    Tests marked `other_leecher` get a leecher of the other implementation."""
    rss0 = env.host.rss()
    other = "ref" if env.impl == "ours" else "ours"
    leecher = env.leecher(other if request.node.get_closest_marker("other_leecher") else None)
    yield env
    try:
        leecher.assert_complete(timeout=90)
    finally:
        leecher.kill()
    assert env.host.alive(), "the session process died"
    grew = env.host.rss() - rss0
    assert grew < RSS_BOUND, f"session RSS grew by {grew >> 20} MiB"


def connected(env, torrent=None, **kw) -> RawPeer:
    p = RawPeer.connect(env.host.port)
    p.handshake((torrent or env.a).info_hash, **kw)
    return p


def unchoked(env, torrent=None, **kw) -> RawPeer:
    """A peer past the handshake, interested and unchoked by the host."""
    p = connected(env, torrent, **kw)
    p.send(INTERESTED)
    m = p.read_until(lambda i, _: i == UNCHOKE, 10)
    assert m is not None, "the host never unchoked an interested peer"
    return p


def fetch_block(p: RawPeer, torrent: Torrent, piece: int, offset: int = 0, timeout: float = 10) -> bytes:
    """Requests one block and returns its data (the connection works)."""
    length = min(BLOCK, torrent.piece_size(piece) - offset)
    p.send_raw(request(piece, offset, length))
    m = p.read_until(lambda i, pl: i == PIECE and pl[:8] == struct.pack(">II", piece, offset), timeout)
    assert m is not None, f"no block {piece}/{offset} came back"
    return m[1][8:]


# ---------------------------------------------------------------------------
# disconnected


def test_oversized_length_prefix(scenario):
    p = connected(scenario)
    p.send_raw(struct.pack(">IB", 0x7FFFFFFF, PIECE) + b"\0" * 4096)
    assert p.wait_closed(5), "a 2 GiB length prefix did not close the connection"


def test_oversized_length_prefix_before_body(scenario):
    # Just above what any peer message may be (16 MiB); no body follows.
    p = connected(scenario)
    p.send_raw(struct.pack(">I", 16 * 1024 * 1024 + 13))
    assert p.wait_closed(5)


def test_message_before_handshake(scenario):
    p = RawPeer.connect(scenario.host.port)
    p.send_raw(encode(INTERESTED) + request(0, 0) * 20)
    assert p.wait_closed(HANDSHAKE_TIMEOUT + 3)


def test_garbage_instead_of_handshake(scenario):
    p = RawPeer.connect(scenario.host.port)
    p.send_raw(b"\x13BitTorrent protocoX" + os.urandom(200))
    assert p.wait_closed(HANDSHAKE_TIMEOUT + 3)


def test_wrong_info_hash(scenario):
    p = RawPeer.connect(scenario.host.port)
    p.send_handshake(os.urandom(20))
    assert p.wait_closed(5)


def test_have_past_piece_count(scenario):
    for t, idx in ((scenario.b, scenario.b.num_pieces), (scenario.b, 0xFFFFFFFF),
                   (scenario.a, scenario.a.num_pieces + 1000)):
        p = connected(scenario, t)
        p.send_raw(have(idx))
        assert p.wait_closed(5), f"have({idx}) of {t.num_pieces} pieces was accepted"
        p.close()


def test_bitfield_wrong_length(scenario):
    n = scenario.b.num_pieces
    for bf in (bitfield_bytes(n)[:-1], bitfield_bytes(n) + b"\0", b"", b"\xff" * 4096):
        p = connected(scenario, scenario.b)
        p.send(BITFIELD, bf)
        assert p.wait_closed(5), f"a bitfield of {len(bf)} bytes for {n} pieces was accepted"
        p.close()


def test_duplicate_peer_id(scenario):
    pid = random_peer_id()
    first = connected(scenario, peer_id=pid)
    second = RawPeer.connect(scenario.host.port)
    second.send_handshake(scenario.a.info_hash, peer_id=pid)
    assert second.wait_closed(5), "a second connection with the same peer id stayed"
    # The first one is unaffected.
    first.send(INTERESTED)
    assert first.read_until(lambda i, _: i == UNCHOKE, 10) is not None


def test_slow_loris_silent_after_connect(scenario):
    socks = [RawPeer.connect(scenario.host.port) for _ in range(20)]
    t0 = time.monotonic()
    for s in socks:
        assert s.wait_closed(HANDSHAKE_TIMEOUT + 10 - (time.monotonic() - t0)), \
            "a connection that never sent a handshake was kept"


def test_slow_loris_partial_handshake(scenario):
    p = RawPeer.connect(scenario.host.port)
    p.send_raw(b"\x13BitTorrent pro")
    assert p.wait_closed(HANDSHAKE_TIMEOUT + 4)


def test_silent_after_handshake(scenario):
    p = connected(scenario)
    t0 = time.monotonic()
    assert p.wait_closed(PEER_TIMEOUT + 6), "a peer silent after its handshake was never timed out"
    assert time.monotonic() - t0 >= PEER_TIMEOUT - 1.5


# ---------------------------------------------------------------------------
# ignored (the connection stays usable, as with the reference)


def test_requests_for_pieces_we_lack(scenario):
    b = scenario.b
    # With the fast extension a refused request is rejected.
    p = unchoked(scenario, b)
    p.send_raw(b"".join(request(i, 0) for i in range(8)))
    rejects = set()
    deadline = time.monotonic() + 5
    while len(rejects) < 8 and time.monotonic() < deadline:
        m = p.read_msg(deadline - time.monotonic())
        if m is None:
            break
        assert m[0] != PIECE, "the host sent data of a piece it does not have"
        if m[0] == REJECT:
            rejects.add(struct.unpack(">III", m[1])[0])
    assert rejects == set(range(8))
    assert p.is_open(1)
    # Without it they are dropped silently; the connection stays.
    q = unchoked(scenario, b, reserved=RESERVED_NONE)
    q.send_raw(b"".join(request(i, 0) for i in range(8)))
    msgs = q.drain(1.5)
    assert not [m for m in msgs if m[0] in (PIECE, REJECT)], msgs
    assert q.is_open(0.5)


def test_requests_beyond_the_end(scenario):
    a = scenario.a
    last = a.num_pieces - 1
    bad = [
        request(a.num_pieces, 0),                       # piece index past the end
        request(0xFFFFFFFF, 0),
        request(last, a.piece_size(last)),              # offset past the last piece
        request(0, a.piece_length - 10, BLOCK),         # block straddles the piece end
        request(0, 0, 0),                               # empty
        request(0, 0, 1024 * 1024),                     # far too long
    ]
    p = unchoked(scenario)
    p.send_raw(b"".join(bad))
    msgs = p.drain(1.5)
    assert not [m for m in msgs if m[0] == PIECE], "the host answered an invalid request with data"
    # Ignored, and the connection still serves valid requests.
    assert fetch_block(p, a, last) == a.block(last, 0, min(BLOCK, a.piece_size(last)))


def test_bitfield_spare_bits(scenario):
    """BEP 3 allows dropping such a peer; the reference ignores the spare
    bits. Either is fine, but if the connection stays it must work and the
    bogus bits must not count as pieces."""
    a = scenario.a
    assert a.num_pieces % 8 != 0
    bf = bytearray(bitfield_bytes(a.num_pieces, [0]))
    bf[-1] |= 1
    p = connected(scenario)
    p.send(BITFIELD, bytes(bf))
    if p.wait_closed(1.5):
        return
    p.send(INTERESTED)
    assert p.read_until(lambda i, _: i == UNCHOKE, 10) is not None
    assert fetch_block(p, a, 3) == a.block(3, 0, BLOCK)


@pytest.mark.other_leecher
def test_request_flood_without_reading(scenario):
    """Thousands of requests from a peer that never reads what we send."""
    a = scenario.a
    p = unchoked(scenario)
    p.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
    rss0 = scenario.host.rss()
    full = a.num_pieces - 1  # every piece but the short last one
    blob = b"".join(request(i % full, ((i // full) % 4) * BLOCK) for i in range(full * 4))
    p.sock.settimeout(10)
    for _ in range(10):  # the same 2,000-odd requests ten times over
        if not p.try_send_raw(blob):
            break
    time.sleep(1.5)
    grew = scenario.host.rss() - rss0
    assert grew < 48 * 1024 * 1024, f"RSS grew {grew >> 20} MiB for one peer's request flood"
    # Too many requests are refused, not a reason to drop the peer.
    assert p.is_open(0.5)
    p.close()


@pytest.mark.other_leecher
def test_choke_unchoke_storm(scenario):
    a = scenario.a
    p = connected(scenario)
    p.send(HAVE_NONE)
    storm = (encode(CHOKE) + encode(UNCHOKE) + encode(INTERESTED) + encode(NOT_INTERESTED)) * 50_000
    p.sock.settimeout(20)
    p.send_raw(storm)
    # Ignored: the storm leaves a working connection behind.
    p.send(INTERESTED)
    deadline = time.monotonic() + 15
    got = None
    while got is None and time.monotonic() < deadline:
        p.send_raw(request(5, BLOCK))
        got = p.read_until(lambda i, pl: i == PIECE and pl[:8] == struct.pack(">II", 5, BLOCK), 1)
    assert got is not None and got[1][8:] == a.block(5, BLOCK, BLOCK)


def test_many_connections_and_duplicates(scenario):
    """Fifty connections from one address (all allowed here), then they all
    drop at once."""
    peers = []
    for _ in range(50):
        p = RawPeer.connect(scenario.host.port)
        p.send_handshake(scenario.a.info_hash)
        peers.append(p)
    alive = 0
    for p in peers:
        try:
            p.recv_handshake(5)
            alive += 1
        except (Closed, TimeoutError):
            pass
    assert alive > 0
    for p in peers:
        p.close()


# ---------------------------------------------------------------------------
# resources


def test_closed_peers_release_their_sockets(env):
    """Peers the session disconnects (wrong info-hash) but that keep their
    end open: the session must close its sockets fully, not leak them."""
    host = env.host
    base = host.sockets()
    peers = []
    for _ in range(40):
        p = RawPeer.connect(host.port)
        p.send_handshake(os.urandom(20))
        peers.append(p)
    for p in peers:
        assert p.wait_closed(5)
    # The hostile ends are still open; the session's ends must be gone.
    released = wait_for(lambda: host.sockets() <= base + 2, 10, 0.2)
    leaked = host.sockets() - base
    for p in peers:
        p.close()
    assert released, f"{leaked} sockets still open in the session after it dropped 40 peers"


def test_memory_after_hostile_connections(env):
    """120 short hostile connections: RSS settles."""
    host = env.host
    rss0 = host.rss()
    for round_ in range(4):
        peers = []
        for k in range(30):
            p = RawPeer.connect(host.port)
            kind = k % 3
            if kind == 0:
                p.send_raw(struct.pack(">I", 0xFFFFFFF0))
            elif kind == 1:
                p.send_handshake(env.a.info_hash)
                p.try_send_raw(have(10 ** 6))
            else:
                p.send_handshake(env.a.info_hash)
                p.try_send_raw(request(0, 0) * 100)
            peers.append(p)
        for p in peers:
            p.close()
    time.sleep(1)
    grew = host.rss() - rss0
    assert grew < RSS_BOUND, f"RSS grew {grew >> 20} MiB over 120 hostile connections"
