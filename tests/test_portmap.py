"""Port mapping (UPnP IGD and PCP / NAT-PMP) end to end, against the fake
gateway of tests/fake_gateway.py, under our module and the reference.

Every scenario runs in a private network namespace (`unshare -n`, needs
root) whose only interface is lo, carrying 10.77.0.1 (the session) and
10.77.0.2 (the gateway, also the default route): SSDP multicast, PCP and
the SOAP calls all stay on loopback. Without root the tests are skipped
(the sans-IO clients are tested by `cargo test -p lt-portmap`)."""
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REF_PY = HERE.parent / ".venv-ref" / "bin" / "python"
DRIVER = HERE / "portmap_netns.py"

PRELUDE = """
import json, time, warnings, libtorrent as lt
warnings.simplefilter("ignore")
T0 = time.time()
ALERTS = []

def record(s):
    for a in s.pop_alerts():
        n = type(a).__name__
        if not n.startswith("portmap"):
            continue
        d = {"t": round(time.time() - T0, 2), "type": n, "message": a.message(),
             "map_transport": int(a.map_transport), "map_type": a.map_type, "type_": repr(a.type)}
        if n == "portmap_alert":
            d.update(mapping=a.mapping, external_port=a.external_port,
                     map_protocol=int(a.map_protocol))
        if n == "portmap_error_alert":
            d.update(mapping=a.mapping, msg=a.msg, error=[a.error.value(), a.error.category().name(),
                                                          a.error.message()])
        if n == "portmap_log_alert":
            d.update(msg=a.msg)
        ALERTS.append(d)

def pump(s, seconds):
    end = time.time() + seconds
    while time.time() < end:
        s.wait_for_alert(50)
        record(s)

def session(**extra):
    base = {"listen_interfaces": "10.77.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": True, "enable_natpmp": True,
            "alert_mask": lt.alert.category_t.port_mapping_notification
            | lt.alert.category_t.port_mapping_log_notification}
    base.update(extra)
    return lt.session(base)
"""


def netns_available():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    p = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return p.returncode == 0


pytestmark = pytest.mark.skipif(not netns_available(),
                                reason="needs a private network namespace (root)")


def run(python, body, tmp_path, *gateway_args):
    script = tmp_path / f"client_{Path(python).parent.parent.name}.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    p = subprocess.run(["unshare", "-n", sys.executable, str(DRIVER), str(python), str(script),
                        *gateway_args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def ours(body, tmp_path, *gw):
    return run(sys.executable, body, tmp_path, *gw)


def ref(body, tmp_path, *gw):
    if not REF_PY.exists():
        pytest.skip("reference virtualenv missing")
    return run(REF_PY, body, tmp_path, *gw)


LIFECYCLE = """
s = session(upnp_lease_duration=4)
pump(s, 4.2)
port = s.listen_port()
handles = s.add_port_mapping(lt.portmap_protocol.tcp, 7000, 7001)
pump(s, 0.8)
del s
print(json.dumps({"port": port, "handles": handles, "alerts": ALERTS}))
"""


def mapped(alerts, transport):
    return [(a["mapping"], a["external_port"], a["map_protocol"]) for a in alerts
            if a["type"] == "portmap_alert" and a["map_transport"] == transport]


def test_mappings_created_refreshed_and_deleted_on_shutdown(tmp_path):
    # PCP grants 4 s leases: refreshed after 3 s; UPnP leases of 4 s renewed too
    r = ours(LIFECYCLE, tmp_path, "--lifetime", "4")
    c, gw = r["client"], r["gateway"]
    port = c["port"]
    assert c["handles"] == [2, 2], c["handles"]  # UPnP's index, then NAT-PMP's
    # NAT-PMP: listen port TCP then UDP, refreshed, then the user's mapping
    natpmp = mapped(c["alerts"], 0)
    assert natpmp[:2] == [(0, port, 1), (1, port, 2)], natpmp
    assert (2, 7000, 1) in natpmp
    assert natpmp.count((0, port, 1)) >= 2, "the TCP mapping was refreshed"
    upnp = mapped(c["alerts"], 1)
    assert upnp[:2] == [(0, port, 1), (1, port, 2)], upnp
    assert (2, 7000, 1) in upnp
    pcp = [(g["proto"], g["internal"], g["lifetime"]) for g in gw if g["kind"] == "pcp"]
    assert pcp[:2] == [(6, port, 3600), (17, port, 3600)], pcp
    assert pcp.count((6, port, 3600)) >= 2, pcp
    # shutdown deletes everything: lifetime 0 for each mapping
    for m in [(6, port, 0), (17, port, 0), (6, 7001, 0)]:
        assert m in pcp, (m, pcp)
    soap = [(g["action"], g["args"].get("NewProtocol"), g["args"].get("NewExternalPort"),
             g["args"].get("NewLeaseDuration")) for g in gw if g["kind"] == "soap"]
    assert soap[0] == ("GetExternalIPAddress", None, None, None)
    adds = [x for x in soap if x[0] == "AddPortMapping"]
    assert adds[:2] == [("AddPortMapping", "TCP", str(port), "4"),
                        ("AddPortMapping", "UDP", str(port), "4")], adds
    assert adds.count(("AddPortMapping", "TCP", str(port), "4")) >= 2, "renewed"
    deletes = {x[1:3] for x in soap if x[0] == "DeletePortMapping"}
    assert deletes == {("TCP", str(port)), ("UDP", str(port)), ("TCP", "7000")}, soap
    add = next(g for g in gw if g["kind"] == "soap" and g["action"] == "AddPortMapping")
    assert add["args"]["NewInternalClient"] == "10.77.0.1"
    assert add["args"]["NewPortMappingDescription"] == "libtorrent/2.1.1.0"
    # the messages, as the reference words them
    msgs = [a["message"] for a in c["alerts"] if a["type"] == "portmap_alert"]
    assert f"successfully mapped port using NAT-PMP. local: 10.77.0.1 external port: TCP/{port}" in msgs
    assert f"successfully mapped port using UPnP. local: 10.77.0.1 external port: UDP/{port}" in msgs
    logs = [a["message"] for a in c["alerts"] if a["type"] == "portmap_log_alert"]
    assert "NAT-PMP [10.77.0.1]: found gateway at: 10.77.0.2" in logs
    assert "UPnP [10.77.0.1]: broadcasting search for rootdevice" in logs
    assert any(m.startswith("UPnP [10.77.0.1]: found rootdevice: http://10.77.0.2:") for m in logs)


def test_lifecycle_matches_reference(tmp_path):
    want_r = ref(LIFECYCLE, tmp_path, "--lifetime", "4")
    got_r = ours(LIFECYCLE, tmp_path, "--lifetime", "4")
    want, got = want_r["client"], got_r["client"]
    # what the gateway saw, per protocol (PCP and SOAP interleave by timing)
    def wire(r, kind):
        port = str(r["client"]["port"])
        return [(g.get("action"), g.get("proto"), g.get("lifetime"),
                 g.get("args", {}).get("NewProtocol"),
                 g.get("args", {}).get("NewLeaseDuration"),
                 str(g.get("internal", g.get("args", {}).get("NewExternalPort"))) == port)
                for g in r["gateway"] if g["kind"] == kind]
    # (each message once, in order of first sending: how many renewals fall
    # inside the 5 s run depends on timing, and the reference's UPnP renewal
    # of UDP sometimes comes after it, once in CI; the renewals themselves
    # are checked in the test above)
    def firsts(seq):
        return [x for i, x in enumerate(seq) if x not in seq[:i]]
    assert firsts(wire(got_r, "pcp")) == firsts(wire(want_r, "pcp"))
    assert firsts(wire(got_r, "soap")) == firsts(wire(want_r, "soap"))
    assert got["handles"] == want["handles"]
    first = lambda c, tr: mapped(c["alerts"], tr)[:2]
    norm = lambda c, tr: [(m, p == c["port"], pr) for m, p, pr in first(c, tr)]
    assert norm(got, 0) == norm(want, 0)
    assert norm(got, 1) == norm(want, 1)
    # the first log lines of each transport, port numbers aside
    def head(c, tr, n):
        return [a["message"].replace(str(c["port"]), "P") for a in c["alerts"]
                if a["type"] == "portmap_log_alert" and a["map_transport"] == tr][:n]
    assert head(got, 0, 5) == head(want, 0, 5)
    assert head(got, 1, 3) == head(want, 1, 3)


ERRORS = """
s = session()
pump(s, 1.5)
print(json.dumps({"alerts": [a for a in ALERTS if a["type"] == "portmap_error_alert"]}))
"""


def test_gateway_errors_become_portmap_error_alerts(tmp_path):
    got = ours(ERRORS, tmp_path, "--natpmp", "error:2", "--upnp", "error:606")["client"]["alerts"]
    natpmp = [a for a in got if a["map_transport"] == 0]
    upnp = [a for a in got if a["map_transport"] == 1]
    assert [a["mapping"] for a in natpmp] == [0, 1]
    assert natpmp[0]["error"] == [2, "pcp error", "not authorized"]
    assert natpmp[0]["message"] == "could not map port using NAT-PMP[10.77.0.1]: not authorized"
    assert natpmp[0]["msg"] == "not authorized"
    assert [a["mapping"] for a in upnp] == [0, 1]
    assert upnp[0]["error"][:2] == [606, "upnp"]
    assert upnp[0]["message"] == f"could not map port using UPnP[10.77.0.1]: {upnp[0]['error'][2]}"
    want = ref(ERRORS, tmp_path, "--natpmp", "error:2", "--upnp", "error:606")["client"]["alerts"]
    key = lambda l: sorted((a["map_transport"], a["mapping"], tuple(a["error"]), a["message"]) for a in l)
    assert key(got) == key(want)


def test_conflicts_retry_then_fail_like_the_reference(tmp_path):
    got = ours(ERRORS, tmp_path, "--natpmp", "error:8", "--upnp", "error:718")
    want = ref(ERRORS, tmp_path, "--natpmp", "error:8", "--upnp", "error:718")
    key = lambda l: sorted((a["map_transport"], a["mapping"], tuple(a["error"])) for a in l)
    assert key(got["client"]["alerts"]) == key(want["client"]["alerts"])
    adds = lambda r: sum(1 for g in r["gateway"] if g.get("action") == "AddPortMapping")
    assert adds(got) == adds(want) == 10  # five attempts per mapping


NATPMP_ONLY = """
s = session(enable_upnp=False)
pump(s, 1.5)
port = s.listen_port()
del s
print(json.dumps({"port": port, "alerts": ALERTS}))
"""


def test_falls_back_to_natpmp(tmp_path):
    r = ours(NATPMP_ONLY, tmp_path, "--natpmp", "natpmp")
    c, gw = r["client"], r["gateway"]
    port = c["port"]
    assert mapped(c["alerts"], 0) == [(0, port, 1), (1, port, 2)]
    logs = [a["msg"] for a in c["alerts"] if a["type"] == "portmap_log_alert"]
    assert "unsupported version" in logs
    assert "<== public IP address [ 203.0.113.7 ]" in logs
    kinds = [(g["kind"], g["op"]) for g in gw if g["kind"] in ("pcp", "natpmp")]
    assert kinds[0] == ("pcp", "map")
    assert ("natpmp", "ip") in kinds
    maps = [(g["proto"], g["lifetime"]) for g in gw if g["kind"] == "natpmp" and g["op"] == "map"]
    assert maps == [("tcp", 3600), ("udp", 3600), ("tcp", 0), ("udp", 0)], maps
    assert not any(g["kind"] == "ssdp" for g in gw), "UPnP is off"


MASK = """
s = session(alert_mask=lt.alert.category_t.port_mapping_notification)
pump(s, 1.0)
print(json.dumps({"types": sorted({a["type"] for a in ALERTS})}))
"""


TYPES = """
s = session()
pump(s, 1.0)
print(json.dumps(sorted({(a["type"], a["type_"], a["map_type"]) for a in ALERTS})))
"""


def test_type_is_the_transport_like_the_reference(tmp_path):
    got = ours(TYPES, tmp_path, "--natpmp", "error:2")["client"]
    assert ["portmap_alert", "1", 1] in got and ["portmap_error_alert", "0", 0] in got
    assert got == ref(TYPES, tmp_path, "--natpmp", "error:2")["client"]


def test_log_alerts_only_when_the_mask_asks(tmp_path):
    got = ours(MASK, tmp_path)["client"]["types"]
    assert got == ["portmap_alert"]
    assert ref(MASK, tmp_path)["client"]["types"] == got


API = """
out = {}
s = session(enable_upnp=False, enable_natpmp=False)
out["disabled"] = s.add_port_mapping(lt.portmap_protocol.tcp, 5000, 5000)
s.delete_port_mapping(0)
s.delete_port_mapping(99)
s.delete_port_mapping(-1)
try:
    s.add_port_mapping(5, 1, 1)
except Exception as e:
    out["bad"] = [type(e).__name__, isinstance(e, TypeError), str(e)]
warnings.simplefilter("error")
for n in ["start_upnp", "start_natpmp", "stop_upnp", "stop_natpmp"]:
    try:
        getattr(s, n)()
    except DeprecationWarning as e:
        out[n] = str(e)
warnings.simplefilter("ignore")
for n in ["start_natpmp", "start_upnp"]:
    out[n + "_ret"] = getattr(s, n)()
    out[n + "_settings"] = [s.get_settings()["enable_upnp"], s.get_settings()["enable_natpmp"]]
pump(s, 1.0)
out["handles"] = s.add_port_mapping(lt.session.udp, 6000, 6001)
for n in ["stop_natpmp", "stop_upnp"]:
    getattr(s, n)()
    out[n + "_settings"] = [s.get_settings()["enable_upnp"], s.get_settings()["enable_natpmp"]]
print(json.dumps(out))
"""


def test_api_matches_reference(tmp_path):
    got = ours(API, tmp_path)["client"]
    want = ref(API, tmp_path)["client"]
    assert got == want
    assert got["disabled"] == []
    assert got["handles"] == [2, 2]
    assert got["bad"][:2] == ["ArgumentError", True]


NO_ROUTE = """
import subprocess
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "alert_mask": lt.alert.category_t.port_mapping_notification
                | lt.alert.category_t.port_mapping_log_notification})
pump(s, 1.0)
port = s.listen_port()
h = s.add_port_mapping(lt.portmap_protocol.tcp, 5000, 5001)
pump(s, 0.2)
print(json.dumps({"handles": h, "log": [a["message"].replace(str(port), "P") for a in ALERTS]}))
"""


def test_no_default_route_disables_both(tmp_path):
    """A namespace with lo and no route at all: NAT-PMP finds no gateway,
    UPnP cannot join the SSDP group; nothing is sent."""
    out = {}
    for who, py in (("ours", sys.executable), ("ref", REF_PY)):
        if who == "ref" and not REF_PY.exists():
            continue
        script = tmp_path / f"noroute_{who}.py"
        script.write_text(PRELUDE + textwrap.dedent(NO_ROUTE))
        p = subprocess.run(["unshare", "-n", str(py), str(script)], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        out[who] = json.loads(p.stdout)
    assert out["ours"]["log"] == [
        'NAT-PMP [127.0.0.1]: failed to find default route for "lo" 127.0.0.1',
        "NAT-PMP [127.0.0.1]: closing",
        'UPnP [127.0.0.1]: failed to open multicast socket: "No such device"',
        "UPnP [127.0.0.1]: adding port map: [ protocol: tcp ext_port: P local_ep: 127.0.0.1:P device: lo] DISABLED",
        "UPnP [127.0.0.1]: adding port map: [ protocol: udp ext_port: P local_ep: 127.0.0.1:P device: lo] DISABLED",
        "UPnP [127.0.0.1]: adding port map: [ protocol: tcp ext_port: 5000 local_ep: 127.0.0.1:5001 device: lo] DISABLED",
    ]
    # both port mappers are there but unavailable
    assert out["ours"]["handles"] == [-1, -1]
    if "ref" in out:
        assert out["ours"] == out["ref"]
