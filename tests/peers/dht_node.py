"""A DHT node process usable with either module (ours or the reference).

It starts a session on loopback with the DHT on (no bootstrap routers, IP
restrictions off so that many nodes on 127.0.0.1 may share a routing
table), prints `{"port": N}`, then answers one JSON command per stdin line
with one JSON line on stdout. Every wait is bounded by the command's
`timeout`.

Commands: add_node, announce, get_peers, put_immutable, get_immutable,
put_mutable, get_mutable, add_torrent, wait_seeding, stats, live_nodes,
state, quit.
"""
import json
import os
import sys
import time
import warnings

import libtorrent as lt

warnings.simplefilter("ignore")

cat = lt.alert.category_t
MASK = (cat.error_notification | cat.status_notification | cat.dht_notification
        | cat.dht_operation_notification | cat.tracker_notification | cat.connect_notification
        | cat.peer_notification)

extra = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": True,
    "dht_bootstrap_nodes": "",
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    # every node shares 127.0.0.1: per-IP rate limits would block them
    "dht_block_ratelimit": 10000,
    "alert_mask": MASK,
}
settings.update(extra)
ses = lt.session(settings)
pending = []


def snap(a):
    """What the commands need of an alert, copied at once: the reference's
    alert objects are only valid until the next pop_alerts()."""
    w = a.what()
    d = {"what": w, "msg": a.message()}
    if w == "dht_get_peers_reply":
        d.update(ih=str(a.info_hash), peers=[tuple(p) for p in a.peers()], num_peers=a.num_peers())
    elif w == "dht_put":
        d.update(target=str(a.target), public_key=a.public_key, num_success=a.num_success,
                 seq=a.seq, salt=a.salt)
    elif w == "dht_immutable_item":
        d.update(target=str(a.target), item=a.item)
    elif w == "dht_mutable_item":
        d.update(key=a.key, authoritative=a.authoritative, item=a.item, seq=a.seq, salt=a.salt,
                 signature=a.signature)
    elif w == "dht_stats":
        d.update(routing_table=a.routing_table, active_requests=a.active_requests)
    elif w == "dht_live_nodes":
        d.update(nodes=[list(n["endpoint"]) for n in a.nodes])
    elif w == "session_stats":
        d.update(values={k: v for k, v in a.values.items() if k.startswith("dht.")})
    return d


def pump():
    pending.extend(snap(a) for a in ses.pop_alerts())


def wait_for(pred, timeout):
    """The first alert (queued or new) for which pred is true, or None."""
    deadline = time.monotonic() + timeout
    while True:
        pump()
        for i, a in enumerate(pending):
            if pred(a):
                del pending[i]
                return a
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ses.wait_for_alert(int(min(left, 0.2) * 1000))


def entry_json(v):
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, dict):
        return {"d": {k.hex() if isinstance(k, bytes) else k: entry_json(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"l": [entry_json(x) for x in v]}
    return v


deadline = time.monotonic() + 10
while ses.listen_port() == 0 and time.monotonic() < deadline:
    time.sleep(0.02)
print(json.dumps({"port": ses.listen_port()}), flush=True)
handles = {}

for line in sys.stdin:
    c = json.loads(line)
    cmd, to = c["cmd"], c.get("timeout", 20)
    out = {}
    if cmd == "add_node":
        for p in c["ports"]:
            ses.add_dht_node(("127.0.0.1", p))
    elif cmd == "announce":
        ses.dht_announce(lt.sha1_hash(bytes.fromhex(c["ih"])), c["port"], 0)
    elif cmd == "get_peers":
        ih = lt.sha1_hash(bytes.fromhex(c["ih"]))
        found = set()
        end = time.monotonic() + to
        # lookups may finish before every node stored the announce: retry
        want = set(map(tuple, c.get("want", [])))
        while time.monotonic() < end and ("num_peers" not in out or not want <= found):
            ses.dht_get_peers(ih)
            a = wait_for(lambda a: a["what"] == "dht_get_peers_reply" and a["ih"] == str(ih),
                         end - time.monotonic())
            if a is None:
                break
            found |= set(a["peers"])
            out["num_peers"] = a["num_peers"]
        out["peers"] = sorted(found)
    elif cmd == "put_immutable":
        target = ses.dht_put_immutable_item(c["value"].encode())
        a = wait_for(lambda a: a["what"] == "dht_put" and a["target"] == str(target), to)
        out = {"target": str(target), "num_success": a["num_success"] if a else -1,
               "msg": a["msg"] if a else ""}
    elif cmd == "get_immutable":
        t = lt.sha1_hash(bytes.fromhex(c["target"]))
        ses.dht_get_immutable_item(t)
        a = wait_for(lambda a: a["what"] == "dht_immutable_item" and a["target"] == str(t), to)
        out = {"item": entry_json(a["item"]) if a else None, "msg": a["msg"] if a else ""}
    elif cmd == "put_mutable":
        sk, pk = bytes.fromhex(c["sk"]), bytes.fromhex(c["pk"])
        ses.dht_put_mutable_item(sk, pk, c["value"].encode(), c["salt"].encode())
        a = wait_for(lambda a: a["what"] == "dht_put" and a["public_key"] == pk, to)
        out = {"num_success": a["num_success"] if a else -1, "seq": a["seq"] if a else None,
               "salt": a["salt"].decode() if a else None, "msg": a["msg"] if a else ""}
    elif cmd == "get_mutable":
        pk = bytes.fromhex(c["pk"])
        ses.dht_get_mutable_item(pk, c["salt"].encode())
        a = wait_for(lambda a: a["what"] == "dht_mutable_item" and a["key"] == pk
                     and a["authoritative"], to)
        out = {"item": entry_json(a["item"]) if a else None, "seq": a["seq"] if a else None,
               "salt": a["salt"].decode() if a else None,
               "sig": a["signature"].hex() if a else None, "msg": a["msg"] if a else ""}
    elif cmd == "add_torrent":
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(c["torrent"])
        atp.save_path = c["save"]
        atp.flags |= c.get("flags", 0)
        handles[c["name"]] = ses.add_torrent(atp)
    elif cmd == "wait_seeding":
        h = handles[c["name"]]
        end = time.monotonic() + to
        while not h.status().is_seeding and time.monotonic() < end:
            pump()
            time.sleep(0.1)
        pump()
        out = {"seeding": h.status().is_seeding,
               "dht_replies": sum(1 for a in pending if a["what"] == "dht_reply"),
               "peers": [list(p.ip) for p in h.get_peer_info()]}
    elif cmd == "stats":
        ses.post_dht_stats()
        a = wait_for(lambda a: a["what"] == "dht_stats", to)
        out = {"routing_table": a["routing_table"] if a else None,
               "active_requests": len(a["active_requests"]) if a else None}
    elif cmd == "live_nodes":
        # the node is named by its id (one node per listen socket)
        st = lt.write_session_params(ses.session_state())[b"dht state"]
        ses.dht_live_nodes(lt.sha1_hash(st[b"node-id"][0][:20]))
        a = wait_for(lambda a: a["what"] == "dht_live_nodes", to)
        out = {"nodes": a["nodes"] if a else None}
    elif cmd == "metrics":
        ses.post_session_stats()
        a = wait_for(lambda a: a["what"] == "session_stats", to)
        out = {"values": a["values"] if a else None}
    elif cmd == "status":
        st = ses.status()
        out = {"dht_nodes": st.dht_nodes, "dht_torrents": st.dht_torrents,
               "total_dht_download": st.total_dht_download, "total_dht_upload": st.total_dht_upload}
    elif cmd == "running":
        out = {"running": ses.is_dht_running()}
    elif cmd == "quit":
        print("{}", flush=True)
        os._exit(0)
    print(json.dumps(out), flush=True)
