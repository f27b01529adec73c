"""dht_log_alert: lines of the DHT's activity, posted only when the alert
mask has dht_log_notification. Two sessions on loopback, the second
bootstrapping from the first, on the reference and on ours: both report
the node start (tracker module), the router (node module) and the queries
they send (rpc_manager module) in the same words; without the category no
dht_log alert comes out."""
import json
import subprocess
import sys
import textwrap

from ltdiff import REF_PY

PY = {"ours": sys.executable, "ref": str(REF_PY)}

DHT_LOG = """
import json, os, re, sys, time, libtorrent as lt
cat = lt.alert.category_t
with_log = sys.argv[1] == "1"
def mk(boot=""):
    mask = cat.dht_notification | (cat.dht_log_notification if with_log else 0)
    return lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": True, "enable_lsd": False,
                       "enable_upnp": False, "enable_natpmp": False, "dht_bootstrap_nodes": boot,
                       "alert_mask": mask})
a = mk()
time.sleep(0.5)
b = mk("127.0.0.1:%d" % a.listen_port())
port = a.listen_port()
seen = {"count": 0, "kinds": [], "modules": []}
t = time.time()
while time.time() - t < 5:
    for al in b.pop_alerts():
        if al.what() != "dht_log":
            continue
        seen["count"] += 1
        m = al.log_message()
        name = str(al.module)
        assert al.message() == "DHT %s: %s" % (name, m), (al.message(), name, m)
        assert al.category() == int(cat.dht_log_notification)
        assert isinstance(al, lt.dht_log_alert) and isinstance(al.module, lt.dht_module_t)
        if name not in seen["modules"]:
            seen["modules"].append(name)
        if re.fullmatch(r"starting 127\\.0\\.0\\.1 DHT tracker with node id: [0-9a-f]{40}", m):
            k = ["tracker", "start"]
        elif m == "adding router node: 127.0.0.1:%d" % port:
            k = [name, "router"]
        elif re.fullmatch(r"(\\[\\d+\\] )?invoking (get_peers|find_node) -> 127\\.0\\.0\\.1:%d" % port, m):
            k = [name, "invoke"]
        else:
            continue
        if k not in seen["kinds"]:
            seen["kinds"].append(k)
    if len(seen["kinds"]) == 3:
        break
    time.sleep(0.05)
seen["kinds"].sort()
print(json.dumps(seen))
os._exit(0)
"""


def run(kind, with_log):
    r = subprocess.run([PY[kind], "-c", textwrap.dedent(DHT_LOG), "1" if with_log else "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip(), r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_dht_log_lines_match_reference():
    r, o = run("ref", True), run("ours", True)
    want = [["node", "router"], ["rpc_manager", "invoke"], ["tracker", "start"]]
    assert r["kinds"] == want, r
    assert o["kinds"] == want, o
    assert o["count"] > 3


def test_no_dht_log_without_the_category():
    for kind in ("ref", "ours"):
        assert run(kind, False)["count"] == 0
