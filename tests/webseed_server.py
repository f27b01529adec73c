"""A small threaded HTTP/1.1 file server for web seed tests (loopback only).

Serves files under `root` with `Range: bytes=a-b` support (206 answers) and
keep-alive. `mode` changes its behaviour: "ok", "404" (every request fails),
"corrupt" (every byte of the body is inverted), "redirect:<base>" (a 302
to <base> followed by the request path), "http_seed" (BEP 17:
`?info_hash=..&piece=N[&ranges=a-b]` answered from the piece layout given by
`pieces`). `chunk_delay` slows answers down (a pause after every
16 KiB written). Counts the requests it answered in `hits`.
"""
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.hits += 1
            srv.paths.append(self.path)
        if srv.mode == "404":
            body = b"not here"
            self.send_response(404, "Not Found")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if srv.mode.startswith("redirect:"):
            self.send_response(302, "Found")
            self.send_header("Location", srv.mode[len("redirect:"):] + self.path.lstrip("/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if srv.mode == "http_seed":
            return self._http_seed()
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        full = os.path.normpath(os.path.join(srv.root, path.lstrip("/")))
        if not full.startswith(os.path.abspath(srv.root)) or not os.path.isfile(full):
            self.send_response(404, "Not Found")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(full)
        first, last, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            first, last, status = int(a), min(int(b), size - 1), 206
        with open(full, "rb") as f:
            f.seek(first)
            data = f.read(last - first + 1)
        self._send(status, data, (first, last, size) if status == 206 else None)

    def _http_seed(self):
        srv = self.server
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        piece = int(q["piece"][0])
        start = piece * srv.piece_length
        with open(srv.single_file, "rb") as f:
            f.seek(start)
            data = f.read(srv.piece_length)
        if "ranges" in q:
            a, _, b = q["ranges"][0].partition("-")
            data = data[int(a):int(b) + 1]
        self._send(200, data, None)

    def _send(self, status, data, crange):
        if self.server.mode == "corrupt":
            data = bytes(255 - c for c in data)
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if crange:
            self.send_header("Content-Range", "bytes %d-%d/%d" % crange)
        self.end_headers()
        if self.server.chunk_delay:
            for i in range(0, len(data), 16384):
                self.wfile.write(data[i:i + 16384])
                self.wfile.flush()
                time.sleep(self.server.chunk_delay)
        else:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass   # clients closing early (a finished download) are expected


class WebSeedServer:
    def __init__(self, root, mode="ok", single_file=None, piece_length=0, chunk_delay=0.0):
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.root = os.path.abspath(str(root))
        self.httpd.mode = mode
        self.httpd.hits = 0
        self.httpd.paths = []
        self.httpd.lock = threading.Lock()
        self.httpd.single_file = single_file
        self.httpd.piece_length = piece_length
        self.httpd.chunk_delay = chunk_delay
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def hits(self):
        return self.httpd.hits

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    import sys
    import time
    with WebSeedServer(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "ok") as s:
        print(s.port, flush=True)
        time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 60)
