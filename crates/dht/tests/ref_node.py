# A reference libtorrent DHT node on 127.0.0.1, driven line by line over
# stdin by crates/dht/tests/interop.rs. Replies are one line each:
# "OK <fields...>" (hex where binary) or "ERR <message>".
import sys
import time

import libtorrent as lt

s = lt.session({
    'enable_dht': True,
    'dht_bootstrap_nodes': '',
    'listen_interfaces': '127.0.0.1:0',
    'dht_restrict_routing_ips': False,
    'dht_restrict_search_ips': False,
    'dht_enforce_node_id': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'alert_mask': lt.alert.category_t.all_categories,
})
deadline = time.time() + 10
while s.listen_port() == 0 and time.time() < deadline:
    time.sleep(0.05)
print('PORT', s.listen_port(), flush=True)


def wait_for(pred, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        s.wait_for_alert(100)
        for a in s.pop_alerts():
            if pred(a):
                return a
    return None


def reply(*fields):
    print('OK', *fields, flush=True)


for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    cmd, args = parts[0], parts[1:]
    if cmd == 'quit':
        break
    elif cmd == 'add_node':
        s.add_dht_node((args[0], int(args[1])))
        reply()
    elif cmd == 'get_peers':
        ih = lt.sha1_hash(bytes.fromhex(args[0]))
        s.dht_get_peers(ih)
        a = wait_for(lambda a: isinstance(a, lt.dht_get_peers_reply_alert) and a.info_hash == ih)
        if a is None:
            print('ERR timeout', flush=True)
        else:
            reply(*['%s:%d' % p for p in a.peers()])
    elif cmd == 'get_immutable':
        t = lt.sha1_hash(bytes.fromhex(args[0]))
        s.dht_get_immutable_item(t)
        a = wait_for(lambda a: isinstance(a, lt.dht_immutable_item_alert) and a.target == t)
        if a is None:
            print('ERR timeout', flush=True)
        else:
            reply(lt.bencode(a.item).hex())
    elif cmd == 'put_immutable':
        # the argument is a hex string value: put it as a bencoded string
        t = s.dht_put_immutable_item(bytes.fromhex(args[0]))
        a = wait_for(lambda a: isinstance(a, lt.dht_put_alert) and a.target == t)
        if a is None:
            print('ERR timeout', flush=True)
        else:
            reply(str(t), a.num_success)
    elif cmd == 'put_mutable':
        sk, pk, data, salt = (bytes.fromhex(x) for x in args[:4])
        s.dht_put_mutable_item(sk, pk, data, salt)
        a = wait_for(lambda a: isinstance(a, lt.dht_put_alert) and bytes(a.public_key) == pk)
        if a is None:
            print('ERR timeout', flush=True)
        else:
            reply(a.seq, a.num_success)
    elif cmd == 'get_mutable':
        pk, salt = bytes.fromhex(args[0]), bytes.fromhex(args[1]) if len(args) > 1 else b''
        s.dht_get_mutable_item(pk, salt)
        a = wait_for(lambda a: isinstance(a, lt.dht_mutable_item_alert) and a.authoritative)
        if a is None:
            print('ERR timeout', flush=True)
        else:
            reply(a.seq, lt.bencode(a.item).hex())
    else:
        print('ERR unknown command', flush=True)
