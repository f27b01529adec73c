"""Captures the announces the reference libtorrent sends to an HTTP and a
UDP tracker (started, then stopped on pause) and prints them as JSON (UDP
packets hex-encoded). Run by tests/reference.rs with the reference
module's interpreter."""
import json
import socket
import struct
import tempfile
import threading
import time

import libtorrent as lt

srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(5)
port = srv.getsockname()[1]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(('127.0.0.1', 0))
uport = udp.getsockname()[1]
got = []
udp_got = []


def serve():
    while True:
        c, _ = srv.accept()
        data = b''
        while b'\r\n\r\n' not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
        got.append(data.decode('latin1'))
        body = b'd8:intervali1800e5:peers0:e'
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
        c.close()


def serve_udp():
    while True:
        pkt, addr = udp.recvfrom(2048)
        udp_got.append(pkt.hex())
        action, tid = struct.unpack('>II', pkt[8:16])
        if action == 0:
            udp.sendto(struct.pack('>IIQ', 0, tid, 0x1122334455667788), addr)
        elif action == 1:
            udp.sendto(struct.pack('>IIIII', 1, tid, 1800, 0, 0), addr)


threading.Thread(target=serve, daemon=True).start()
threading.Thread(target=serve_udp, daemon=True).start()
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False,
                'announce_to_all_tiers': True, 'announce_to_all_trackers': True})
p = lt.add_torrent_params()
p.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes(range(20))))
p.save_path = tempfile.mkdtemp()
p.trackers = ['http://127.0.0.1:%d/announce?passkey=a%%20b' % port, 'udp://127.0.0.1:%d/announce' % uport]
h = s.add_torrent(p)


def wait(cond):
    t0 = time.time()
    while not cond() and time.time() - t0 < 15:
        time.sleep(0.05)


wait(lambda: len(got) >= 1 and len(udp_got) >= 2)
h.pause()
wait(lambda: len(got) >= 2 and len(udp_got) >= 3)
print(json.dumps({'requests': got, 'udp': udp_got}))
