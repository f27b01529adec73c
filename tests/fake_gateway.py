"""A fake home gateway for port-mapping tests: a NAT-PMP / PCP server on
UDP 5351 and a UPnP Internet Gateway Device (SSDP responder on the
239.255.255.250:1900 multicast group, device description and SOAP control
over HTTP). Everything binds to loopback addresses; it is meant to run in a
private network namespace whose default route points at `--addr`.

Every request is logged as one JSON line on stdout (flushed), so a test can
see exactly what a client sent:
  {"kind": "pcp", "op": "map", "proto": 6, "internal": 1234, "external": 1234, "lifetime": 3600}
  {"kind": "natpmp", "op": "map", "proto": "tcp", ...}   {"kind": "natpmp", "op": "ip"}
  {"kind": "ssdp", "st": "upnp:rootdevice"}   {"kind": "http", "path": "/rootDesc.xml"}
  {"kind": "soap", "action": "AddPortMapping", "args": {...}}

Behaviour is chosen on the command line:
  --natpmp pcp|natpmp|error:N|silent   answer PCP, answer only NAT-PMP v0
                                       (PCP gets UNSUPP_VERSION), answer every
                                       map with result code N, or never answer
  --upnp ok|error:N|silent             SOAP AddPortMapping succeeds, fails with
                                       UPnP error N, or no SSDP answer at all
  --lifetime S                         lifetime granted to NAT-PMP/PCP maps
"""
import argparse
import json
import socket
import socketserver
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXTERNAL_IP = "203.0.113.7"  # TEST-NET-3: never routed


def log(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def natpmp_socket(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 5351))
    return s


def natpmp_server(s, mode, lifetime):
    epoch = 1000
    while True:
        d, src = s.recvfrom(2048)
        epoch += 1
        if len(d) < 2:
            continue
        ver, op = d[0], d[1]
        if ver == 2 and len(d) >= 60 and op & 0x7F == 1:
            req_life = struct.unpack(">I", d[4:8])[0]
            nonce = d[24:36]
            proto = d[36]
            internal, external = struct.unpack(">HH", d[40:44])
            log(kind="pcp", op="map", proto=proto, internal=internal, external=external,
                lifetime=req_life)
            if mode == "silent":
                continue
            if mode == "natpmp":
                # a NAT-PMP-only server: version 0, UNSUPP_VERSION
                s.sendto(struct.pack(">BBHI", 0, 128 + op, 1, epoch), src)
                continue
            result = int(mode.split(":")[1]) if mode.startswith("error:") else 0
            life = min(req_life, lifetime) if req_life else 0
            ext_ip = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(EXTERNAL_IP)
            hdr = struct.pack(">BBBBII12x", 2, 0x81, 0, result, life if result == 0 else 0, epoch)
            body = nonce + struct.pack(">B3xHH", proto, internal, external) + ext_ip
            s.sendto(hdr + body, src)
        elif ver == 0 and op == 0 and len(d) == 2:
            log(kind="natpmp", op="ip")
            if mode in ("silent",):
                continue
            s.sendto(struct.pack(">BBHI", 0, 128, 0, epoch) + socket.inet_aton(EXTERNAL_IP), src)
        elif ver == 0 and op in (1, 2) and len(d) >= 12:
            internal, external, req_life = struct.unpack(">HHI", d[4:12])
            log(kind="natpmp", op="map", proto="udp" if op == 1 else "tcp",
                internal=internal, external=external, lifetime=req_life)
            if mode == "silent":
                continue
            result = int(mode.split(":")[1]) if mode.startswith("error:") else 0
            life = min(req_life, lifetime)
            ext = external if req_life else 0
            s.sendto(struct.pack(">BBHIHHI", 0, 128 + op, result, epoch, internal,
                                 ext if result == 0 else 0, life if result == 0 else 0), src)
        else:
            log(kind="unknown-udp", hex=d[:64].hex())


DESC = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<URLBase>http://{host}:{port}/</URLBase>
<device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>fake gateway</friendlyName>
<modelName>fake-igd</modelName>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service>
<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL>
<eventSubURL>/evt/IPConn</eventSubURL>
<SCPDURL>/WANIPCn.xml</SCPDURL>
</service></serviceList>
</device></deviceList>
</device></deviceList>
</device>
</root>
"""


def soap_args(body):
    out = {}
    import re
    for m in re.finditer(r"<(New\w+)>([^<]*)</\1>", body):
        out[m.group(1)] = m.group(2)
    return out


def make_http(addr, mode):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, body, ctype="text/xml"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def do_GET(self):
            log(kind="http", path=self.path)
            if self.path == "/rootDesc.xml":
                self.reply(200, DESC.format(host=addr, port=self.server.server_address[1]))
            else:
                self.reply(404, "")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            action = (self.headers.get("SOAPAction", "").strip('"').split("#") + [""])[1]
            log(kind="soap", path=self.path, action=action, args=soap_args(body))
            svc = "urn:schemas-upnp-org:service:WANIPConnection:1"
            if action == "AddPortMapping" and mode.startswith("error:"):
                code = int(mode.split(":")[1])
                fault = ("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                         "<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>"
                         "<detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\">"
                         f"<errorCode>{code}</errorCode><errorDescription>fake error</errorDescription>"
                         "</UPnPError></detail></s:Fault></s:Body></s:Envelope>")
                self.reply(500, fault)
                return
            inner = ""
            if action == "GetExternalIPAddress":
                inner = f"<NewExternalIPAddress>{EXTERNAL_IP}</NewExternalIPAddress>"
            self.reply(200, "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                            "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
                            f"<u:{action}Response xmlns:u=\"{svc}\">{inner}</u:{action}Response>"
                            "</s:Body></s:Envelope>")
    return H


def ssdp_sockets(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 1900))
    mreq = socket.inet_aton("239.255.255.250") + socket.inet_aton("127.0.0.1")
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind((addr, 0))
    return s, out


def ssdp_server(s, out, addr, http_port):
    while True:
        d, src = s.recvfrom(4096)
        text = d.decode("latin1")
        if not text.startswith("M-SEARCH"):
            continue
        st = ""
        for line in text.split("\r\n"):
            if line.lower().startswith("st:"):
                st = line[3:].strip()
        log(kind="ssdp", st=st, src=list(src))
        reply = ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                 f"ST: {st}\r\nUSN: uuid:fake-igd::{st}\r\nEXT:\r\nSERVER: fake/1.0 UPnP/1.1 fake/1.0\r\n"
                 f"LOCATION: http://{addr}:{http_port}/rootDesc.xml\r\n\r\n")
        out.sendto(reply.encode(), src)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can hang
        # in a namespace without DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.2")
    ap.add_argument("--natpmp", default="pcp")
    ap.add_argument("--upnp", default="ok")
    ap.add_argument("--lifetime", type=int, default=3600)
    a = ap.parse_args()
    # every socket is bound (and the group joined) before "ready"
    ns = natpmp_socket(a.addr)
    threading.Thread(target=natpmp_server, args=(ns, a.natpmp, a.lifetime), daemon=True).start()
    httpd = Server((a.addr, 0), make_http(a.addr, a.upnp))
    if a.upnp != "silent":
        s, out = ssdp_sockets(a.addr)
        threading.Thread(target=ssdp_server, args=(s, out, a.addr, httpd.server_address[1]),
                         daemon=True).start()
    log(kind="ready", http_port=httpd.server_address[1])
    httpd.serve_forever()


if __name__ == "__main__":
    main()
