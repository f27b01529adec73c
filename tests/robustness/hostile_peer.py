"""A scripted raw-socket BitTorrent peer for robustness tests.

Self-contained on purpose: its own bencode encoder, .torrent writer,
handshake and message codec, so that it depends on neither libtorrent
module and can misbehave in ways a real client never would.

    peer = RawPeer.connect(port)
    peer.handshake(info_hash)            # send ours, read theirs
    peer.send(UNCHOKE)                   # a message id with no payload
    peer.send(REQUEST, struct.pack(">III", piece, offset, length))
    peer.send_raw(b"...")                # anything at all
    peer.wait_closed(5)                  # True once the other side closed

`HostileSeed` is the other direction: a listening seed that serves a
torrent to a leecher under test, corrupting the blocks it is told to.
Loopback only.
"""
from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time

PROTOCOL = b"\x13BitTorrent protocol"
# reserved bits: extension protocol (byte 5, 0x10) and fast extension (byte 7, 0x04)
RESERVED_FAST_EXT = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])
RESERVED_NONE = bytes(8)

CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE, BITFIELD, REQUEST, PIECE, CANCEL = range(9)
PORT = 9
SUGGEST, HAVE_ALL, HAVE_NONE, REJECT, ALLOWED_FAST = 0x0D, 0x0E, 0x0F, 0x10, 0x11
EXTENDED = 20
BLOCK = 16 * 1024


# ---------------------------------------------------------------------------
# bencode and .torrent files


def bencode(v) -> bytes:
    if isinstance(v, bool):
        raise TypeError("bool is not bencodable")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(f"cannot bencode {type(v).__name__}")


class Torrent:
    """A single-file v1 torrent over `data`, written to `<dir>/<name>.torrent`
    with its payload at `<dir>/seed/<name>` (a complete copy to seed from)."""

    def __init__(self, directory, name: str, data: bytes, piece_length: int = 64 * 1024):
        self.name = name
        self.data = data
        self.piece_length = piece_length
        self.num_pieces = (len(data) + piece_length - 1) // piece_length
        self.piece_hashes = [
            hashlib.sha1(data[i * piece_length:(i + 1) * piece_length]).digest()
            for i in range(self.num_pieces)
        ]
        info = {
            "name": name,
            "length": len(data),
            "piece length": piece_length,
            "pieces": b"".join(self.piece_hashes),
        }
        self.info_hash = hashlib.sha1(bencode(info)).digest()
        directory = str(directory)
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, name + ".torrent")
        with open(self.path, "wb") as f:
            f.write(bencode({"info": info, "created by": "hostile_peer"}))
        self.seed_dir = os.path.join(directory, "seed")
        os.makedirs(self.seed_dir, exist_ok=True)
        with open(os.path.join(self.seed_dir, name), "wb") as f:
            f.write(data)

    def piece_size(self, i: int) -> int:
        return min(self.piece_length, len(self.data) - i * self.piece_length)

    def block(self, piece: int, offset: int, length: int) -> bytes:
        start = piece * self.piece_length + offset
        return self.data[start:start + length]

    def piece_data(self, i: int) -> bytes:
        return self.data[i * self.piece_length:i * self.piece_length + self.piece_size(i)]


def bitfield_bytes(num_pieces: int, have=None) -> bytes:
    """A well-formed bitfield; all pieces unless `have` (an iterable of
    indices) is given."""
    out = bytearray((num_pieces + 7) // 8)
    for i in (range(num_pieces) if have is None else have):
        out[i // 8] |= 0x80 >> (i % 8)
    return bytes(out)


def random_peer_id(prefix: bytes = b"-HP0001-") -> bytes:
    return prefix + os.urandom(20 - len(prefix))


# ---------------------------------------------------------------------------
# messages


def encode(msg_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


def request(piece: int, offset: int, length: int = BLOCK) -> bytes:
    return encode(REQUEST, struct.pack(">III", piece, offset, length))


def have(piece: int) -> bytes:
    return encode(HAVE, struct.pack(">I", piece))


def handshake_bytes(info_hash: bytes, peer_id: bytes, reserved: bytes = RESERVED_FAST_EXT) -> bytes:
    assert len(info_hash) == 20 and len(peer_id) == 20 and len(reserved) == 8
    return PROTOCOL + reserved + info_hash + peer_id


class Closed(Exception):
    """The other side closed the connection (EOF or reset)."""


class RawPeer:
    """One TCP connection speaking (or abusing) the peer wire protocol."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.peer_handshake = None
        self.closed = False

    @classmethod
    def connect(cls, port: int, host: str = "127.0.0.1", timeout: float = 5) -> "RawPeer":
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, msg_id: int, payload: bytes = b""):
        self.sock.sendall(encode(msg_id, payload))

    def try_send_raw(self, data: bytes) -> bool:
        """Sends, returning False instead of raising when the other side
        has already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    # -- receiving
    def _fill(self, deadline: float) -> bool:
        """Reads more bytes; False on timeout, raises Closed on EOF/reset."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(256 * 1024)
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
            self.closed = True
            raise Closed(str(e)) from e
        if not chunk:
            self.closed = True
            raise Closed("EOF")
        self.buf += chunk
        return True

    def _take(self, n: int, deadline: float):
        while len(self.buf) < n:
            if not self._fill(deadline):
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def send_handshake(self, info_hash: bytes, peer_id: bytes | None = None,
                       reserved: bytes = RESERVED_FAST_EXT):
        self.peer_id = peer_id or random_peer_id()
        self.send_raw(handshake_bytes(info_hash, self.peer_id, reserved))

    def recv_handshake(self, timeout: float = 5) -> dict:
        raw = self._take(68, time.monotonic() + timeout)
        if raw is None:
            raise TimeoutError("no handshake received")
        if raw[:20] != PROTOCOL:
            raise ValueError(f"not a BitTorrent handshake: {raw[:20]!r}")
        self.peer_handshake = {"reserved": raw[20:28], "info_hash": raw[28:48], "peer_id": raw[48:68]}
        return self.peer_handshake

    def handshake(self, info_hash: bytes, **kw) -> dict:
        self.send_handshake(info_hash, **kw)
        return self.recv_handshake()

    def read_msg(self, timeout: float = 5):
        """The next message as (id, payload), ('keepalive', b'') for a
        keep-alive, or None on timeout. Raises Closed."""
        deadline = time.monotonic() + timeout
        head = self._take(4, deadline)
        if head is None:
            return None
        (n,) = struct.unpack(">I", head)
        if n == 0:
            return ("keepalive", b"")
        body = self._take(n, deadline)
        if body is None:
            # Put the header back so a later call still frames correctly.
            self.buf[:0] = head
            return None
        return (body[0], body[1:])

    def read_until(self, pred, timeout: float = 5):
        """Reads messages until `pred(id, payload)` is true; returns that
        message, or None on timeout. Raises Closed."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.read_msg(max(0.0, deadline - time.monotonic()))
            if m is None:
                return None
            if pred(*m):
                return m

    def drain(self, timeout: float):
        """Reads and collects messages for `timeout` seconds (or until the
        connection closes, which is re-raised as Closed)."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.read_msg(max(0.0, deadline - time.monotonic()))
            if m is None:
                break
            out.append(m)
        return out

    def wait_closed(self, timeout: float) -> bool:
        """True once the other side closed (EOF or reset) within
        `timeout`, discarding whatever it sends meanwhile."""
        if self.closed:
            return True
        deadline = time.monotonic() + timeout
        self.buf.clear()
        try:
            while self._fill(deadline):
                self.buf.clear()
        except Closed:
            return True
        return False

    def is_open(self, timeout: float = 0.5) -> bool:
        """True if the connection is still up after `timeout` seconds."""
        return not self.wait_closed(timeout)


# ---------------------------------------------------------------------------
# a hostile seed


class HostileSeed:
    """Listens on a loopback address and seeds `torrent` to whoever
    connects, sending wrong bytes for the first block of each piece in
    `corrupt` (a set of indices), waiting `delay` seconds before each block
    (to make a download slow enough to interrupt). Counts connections and
    blocks so tests can see what a victim did."""

    def __init__(self, torrent: Torrent, corrupt=(), peer_id: bytes | None = None,
                 host: str = "127.0.0.1", delay: float = 0.0):
        self.torrent = torrent
        self.corrupt = set(corrupt)
        self.delay = delay
        self.host = host
        self.peer_id = peer_id or random_peer_id(b"-HS0001-")
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.blocks_sent = 0
        self.corrupt_blocks_sent = 0
        self.pieces_served = set()
        self.errors = []
        self._stop = threading.Event()
        self._threads = []
        self._socks = []
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                s, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(s)
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, s: socket.socket):
        peer = RawPeer(s)
        tor = self.torrent
        try:
            hs = peer.recv_handshake(timeout=10)
            if hs["info_hash"] != tor.info_hash:
                return
            peer.send_raw(handshake_bytes(tor.info_hash, self.peer_id, RESERVED_NONE))
            peer.send(BITFIELD, bitfield_bytes(tor.num_pieces))
            peer.send(UNCHOKE)
            while not self._stop.is_set():
                m = peer.read_msg(timeout=0.5)
                if m is None or m[0] != REQUEST:
                    continue
                piece, offset, length = struct.unpack(">III", m[1])
                data = tor.block(piece, offset, length)
                if self.delay:
                    time.sleep(self.delay)
                if piece in self.corrupt and offset == 0:
                    data = bytes(b ^ 0x5A for b in data)
                    with self._lock:
                        self.corrupt_blocks_sent += 1
                with self._lock:
                    self.blocks_sent += 1
                    self.pieces_served.add(piece)
                peer.send(PIECE, struct.pack(">II", piece, offset) + data)
        except (Closed, OSError, TimeoutError, ValueError) as e:
            self.errors.append(repr(e))
        finally:
            peer.close()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self):
        self._stop.set()
        self.listener.close()
        with self._lock:
            for s in self._socks:
                try:
                    s.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
