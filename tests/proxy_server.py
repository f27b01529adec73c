"""A small loopback proxy server for tests: SOCKS4/4a, SOCKS5 (CONNECT and
UDP ASSOCIATE, optional username/password) and HTTP (CONNECT and
absolute-URI requests, optional basic auth) on one port, told apart by the
first byte a client sends. It records what passed through it in `log`
(a list of dicts) and can be told to refuse (`fail`).

    p = ProxyServer(username="u", password="p")
    port = p.start()
    ...
    p.log  # [{"proto": "socks5", "cmd": "connect", "target": ["127.0.0.1", 6881], ...}]
    p.stop()

`fail` makes the proxy refuse requests: for "socks5" the REP code sent for
CONNECT/UDP ASSOCIATE, for "socks4" the CD code (91..93), for "http" the
status code. Everything listens on 127.0.0.1 only."""
import base64
import ipaddress
import select
import socket
import struct
import threading


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("eof")
        buf += chunk
    return buf


def _recv_until(sock, marker, limit=65536):
    buf = b""
    while marker not in buf:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("eof")
        buf += chunk
        if len(buf) > limit:
            raise ConnectionError("too long")
    return buf


def _pipe(a, b, counter):
    """Copies both ways until either side closes."""
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 60)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
                counter[0 if s is a else 1] += len(data)
    except OSError:
        return


def _socks5_addr(host, port):
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        h = host.encode()
        return bytes([3, len(h)]) + h + struct.pack(">H", port)
    if ip.version == 4:
        return b"\x01" + ip.packed + struct.pack(">H", port)
    return b"\x04" + ip.packed + struct.pack(">H", port)


def _parse_socks5_addr(data):
    """(host, port, length used) of a SOCKS5 address at the start of data."""
    atyp = data[0]
    if atyp == 1:
        return str(ipaddress.IPv4Address(data[1:5])), struct.unpack(">H", data[5:7])[0], 7
    if atyp == 4:
        return str(ipaddress.IPv6Address(data[1:17])), struct.unpack(">H", data[17:19])[0], 19
    if atyp == 3:
        n = data[1]
        return data[2:2 + n].decode(), struct.unpack(">H", data[2 + n:4 + n])[0], 4 + n
    raise ValueError("bad address type")


class ProxyServer:
    def __init__(self, username=None, password=None, fail=None, fail_proto=None):
        self.username = username
        self.password = password
        self.fail = fail
        self.fail_proto = fail_proto
        self.log = []
        # local ports of the connections the proxy made to targets: what
        # the targets see as the client's port
        self.outbound_ports = []
        self._lock = threading.Lock()
        self._sock = None
        self._threads = []
        self._closing = False
        self._others = []

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        return self.port

    def stop(self):
        self._closing = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
        for s in list(self._others):
            try:
                s.close()
            except OSError:
                pass

    def record(self, **entry):
        with self._lock:
            self.log.append(entry)

    def _accept(self):
        while not self._closing:
            try:
                c, addr = self._sock.accept()
            except OSError:
                return
            self._others.append(c)
            threading.Thread(target=self._serve, args=(c, addr), daemon=True).start()

    def _failing(self, proto):
        return self.fail is not None and self.fail_proto in (None, proto)

    def _serve(self, c, addr):
        c.settimeout(30)
        try:
            first = c.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first[0] == 4:
                self._socks4(c, addr)
            elif first[0] == 5:
                self._socks5(c, addr)
            else:
                self._http(c, addr)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _connect_target(self, host, port):
        s = socket.create_connection((host, port), timeout=10)
        s.settimeout(None)
        self._others.append(s)
        with self._lock:
            self.outbound_ports.append(s.getsockname()[1])
        return s

    # -- SOCKS4 --------------------------------------------------------------

    def _socks4(self, c, addr):
        head = _recv_exact(c, 8)
        _, cmd, port = struct.unpack(">BBH", head[:4])
        ip = str(ipaddress.IPv4Address(head[4:8]))
        user = _recv_until(c, b"\0")[:-1].decode("latin-1")
        host = ip
        if head[4:7] == b"\0\0\0" and head[7] != 0:  # SOCKS4a
            host = _recv_until(c, b"\0")[:-1].decode("latin-1")
        entry = {"proto": "socks4", "cmd": cmd, "target": [host, port], "user": user,
                 "client": list(addr)}
        if self._failing("socks4"):
            entry["refused"] = self.fail
            self.record(**entry)
            c.sendall(struct.pack(">BBH", 0, self.fail, 0) + b"\0\0\0\0")
            return
        try:
            t = self._connect_target(host, port)
        except OSError:
            entry["refused"] = 91
            self.record(**entry)
            c.sendall(b"\0\x5b\0\0\0\0\0\0")
            return
        self.record(**entry)
        c.sendall(b"\0\x5a" + struct.pack(">H", t.getsockname()[1]) + socket.inet_aton("127.0.0.1"))
        entry["bytes"] = [0, 0]
        c.settimeout(None)
        _pipe(c, t, entry["bytes"])
        t.close()

    # -- SOCKS5 --------------------------------------------------------------

    def _socks5(self, c, addr):
        ver, n = _recv_exact(c, 2)
        methods = _recv_exact(c, n)
        auth = None
        if self.username is not None:
            if 2 not in methods:
                self.record(proto="socks5", cmd="auth", refused="no acceptable method",
                            methods=list(methods), client=list(addr))
                c.sendall(b"\x05\xff")
                return
            c.sendall(b"\x05\x02")
            v, ulen = _recv_exact(c, 2)
            user = _recv_exact(c, ulen).decode("latin-1")
            (plen,) = _recv_exact(c, 1)
            pw = _recv_exact(c, plen).decode("latin-1")
            auth = [user, pw]
            if v != 1 or user != self.username or pw != self.password:
                self.record(proto="socks5", cmd="auth", refused="bad credentials", auth=auth,
                            client=list(addr))
                c.sendall(b"\x01\x01")
                return
            c.sendall(b"\x01\x00")
        else:
            if 0 not in methods:
                c.sendall(b"\x05\xff")
                return
            c.sendall(b"\x05\x00")
        ver, cmd, _ = _recv_exact(c, 3)
        atyp = _recv_exact(c, 1)
        if atyp[0] == 1:
            rest = _recv_exact(c, 6)
        elif atyp[0] == 4:
            rest = _recv_exact(c, 18)
        elif atyp[0] == 3:
            ln = _recv_exact(c, 1)
            rest = ln + _recv_exact(c, ln[0] + 2)
        else:
            c.sendall(b"\x05\x08\x00\x01" + b"\0" * 6)
            return
        host, port, _ = _parse_socks5_addr(atyp + rest)
        names = {1: "connect", 2: "bind", 3: "udp_associate"}
        entry = {"proto": "socks5", "cmd": names.get(cmd, cmd), "target": [host, port],
                 "atyp": atyp[0], "auth": auth, "client": list(addr)}
        if self._failing("socks5"):
            entry["refused"] = self.fail
            self.record(**entry)
            c.sendall(bytes([5, self.fail, 0, 1]) + b"\0" * 6)
            return
        if cmd == 1:
            try:
                t = self._connect_target(host, port)
            except OSError:
                entry["refused"] = 5
                self.record(**entry)
                c.sendall(b"\x05\x05\x00\x01" + b"\0" * 6)
                return
            self.record(**entry)
            c.sendall(b"\x05\x00\x00" + _socks5_addr("127.0.0.1", t.getsockname()[1]))
            entry["bytes"] = [0, 0]
            c.settimeout(None)
            _pipe(c, t, entry["bytes"])
            t.close()
        elif cmd == 3:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", 0))
            self._others.append(u)
            entry["datagrams"] = []
            entry["relay_port"] = u.getsockname()[1]
            self.record(**entry)
            c.sendall(b"\x05\x00\x00" + _socks5_addr("127.0.0.1", u.getsockname()[1]))
            c.settimeout(None)
            self._udp_relay(c, u, entry)
        else:
            entry["refused"] = 7
            self.record(**entry)
            c.sendall(b"\x05\x07\x00\x01" + b"\0" * 6)

    def _udp_relay(self, c, u, entry):
        """Relays until the control connection closes. Datagrams from the
        client carry a SOCKS5 UDP header naming their destination; replies
        get one naming their source."""
        client = None
        try:
            while True:
                r, _, _ = select.select([c, u], [], [], 60)
                if not r:
                    return
                if c in r:
                    if not c.recv(1024):
                        return
                if u in r:
                    data, src = u.recvfrom(65536)
                    if client is None or src == client:
                        if len(data) < 4 or data[2] != 0:
                            continue  # fragments are dropped, as RFC 1928 allows
                        client = src
                        host, port, n = _parse_socks5_addr(data[3:])
                        entry["datagrams"].append([host, port, len(data) - 3 - n])
                        u.sendto(data[3 + n:], (host, port))
                    else:
                        u.sendto(b"\0\0\0" + _socks5_addr(src[0], src[1]) + data, client)
        except OSError:
            return
        finally:
            u.close()

    # -- HTTP ----------------------------------------------------------------

    def _http(self, c, addr):
        head = _recv_until(c, b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        auth = None
        pa = headers.get("proxy-authorization")
        if pa and pa.lower().startswith("basic "):
            auth = base64.b64decode(pa[6:]).decode("latin-1").split(":", 1)
        entry = {"proto": "http", "cmd": method, "target": target, "auth": auth,
                 "client": list(addr), "headers": headers}
        if self.username is not None and auth != [self.username, self.password]:
            entry["refused"] = 407
            self.record(**entry)
            c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                      b"Proxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n")
            return
        if self._failing("http"):
            entry["refused"] = self.fail
            self.record(**entry)
            c.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\n\r\n" % self.fail)
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            try:
                t = self._connect_target(host.strip("[]"), int(port))
            except OSError:
                entry["refused"] = 502
                self.record(**entry)
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.record(**entry)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            entry["bytes"] = [0, 0]
            c.settimeout(None)
            _pipe(c, t, entry["bytes"])
            t.close()
            return
        # absolute-URI requests: each is forwarded with an origin-form
        # target; responses are copied back as they come
        if not target.startswith("http://"):
            entry["refused"] = 400
            self.record(**entry)
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        hostport = target[len("http://"):].partition("/")[0]
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else "80"
        else:
            host, _, port = hostport.partition(":")
            port = port or "80"
        self.record(**entry)
        t = self._connect_target(host.strip("[]"), int(port))
        entry["requests"] = [target]
        threading.Thread(target=self._copy_back, args=(t, c), daemon=True).start()
        c.settimeout(None)
        while True:
            out = [f"{method} /{target[len('http://'):].partition('/')[2]} HTTP/1.1"]
            for line in lines[1:]:
                if line and not line.lower().startswith("proxy-"):
                    out.append(line)
            t.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            try:
                head = _recv_until(c, b"\r\n\r\n").decode("latin-1")
            except (OSError, ConnectionError):
                break
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            entry["requests"].append(target)
        t.close()

    def _copy_back(self, t, c):
        try:
            while True:
                data = t.recv(65536)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        try:
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
