//! A deterministic in-memory network of `Dht` nodes: datagrams go through a
//! simulated router (a queue), time is simulated, no sockets.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;
use lt_dht::{Config, Dht, Event, KeyPair};

struct Net {
    nodes: Vec<Dht>,
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    now: Instant,
    events: Vec<Vec<Event>>,
    /// Nodes whose datagrams are dropped both ways (gone offline).
    offline: HashSet<usize>,
    delivered: u64,
}

const STEP: Duration = Duration::from_millis(50);

impl Net {
    fn new(n: usize, read_only: impl Fn(usize) -> bool) -> Net {
        // distinct /24s, all loopback
        Net::with_addrs(n, read_only, |i| {
            SocketAddr::from(([127, 0, i as u8, 1], 6881))
        })
    }

    fn with_addrs(
        n: usize,
        read_only: impl Fn(usize) -> bool,
        addr_of: impl Fn(usize) -> SocketAddr,
    ) -> Net {
        let now = Instant::now();
        let mut net = Net {
            nodes: Vec::new(),
            addrs: Vec::new(),
            by_addr: HashMap::new(),
            now,
            events: vec![Vec::new(); n],
            offline: HashSet::new(),
            delivered: 0,
        };
        for i in 0..n {
            let addr = addr_of(i);
            let mut seed = [0u8; 32];
            seed[0] = i as u8;
            seed[1] = 0xd7;
            let config = Config {
                read_only: read_only(i),
                ..Config::default()
            };
            let mut d = Dht::new(config, addr, seed, now);
            if i != 0 {
                d.add_router(addr_of(0));
            }
            net.by_addr.insert(addr, i);
            net.addrs.push(addr);
            net.nodes.push(d);
        }
        net
    }

    /// Moves datagrams until none are in flight, then advances time by one step.
    fn step(&mut self) {
        let mut queue = VecDeque::new();
        loop {
            for (i, d) in self.nodes.iter_mut().enumerate() {
                while let Some(t) = d.poll_transmit() {
                    queue.push_back((self.addrs[i], t.to, t.data));
                }
                while let Some(e) = d.poll_event() {
                    self.events[i].push(e);
                }
            }
            if queue.is_empty() {
                break;
            }
            while let Some((from, to, data)) = queue.pop_front() {
                let Some(&j) = self.by_addr.get(&to) else {
                    continue;
                };
                let Some(&i) = self.by_addr.get(&from) else {
                    continue;
                };
                if self.offline.contains(&j) || self.offline.contains(&i) {
                    continue;
                }
                self.delivered += 1;
                self.nodes[j].handle_datagram(&data, from, self.now);
            }
        }
        self.now += STEP;
        for d in &mut self.nodes {
            d.tick(self.now);
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    /// Runs until `pred` holds for node `i`'s events (bounded).
    fn run_until(&mut self, i: usize, limit: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let end = self.now + limit;
        loop {
            if let Some(e) = self.events[i].iter().find(|e| pred(e)) {
                return e.clone();
            }
            assert!(
                self.now < end,
                "node {i}: no matching event within {limit:?}"
            );
            self.step();
        }
    }

    /// Staggered bootstrap of every node but the router.
    fn bootstrap_all(&mut self) {
        for i in 1..self.nodes.len() {
            let now = self.now;
            self.nodes[i].bootstrap(now);
            self.step();
            self.step();
            self.step();
        }
        self.run(Duration::from_secs(30));
    }
}

#[test]
fn bootstrap_fills_routing_tables() {
    let mut net = Net::new(50, |_| false);
    net.bootstrap_all();
    for i in 1..50 {
        assert!(
            net.events[i]
                .iter()
                .any(|e| matches!(e, Event::Bootstrapped { .. })),
            "node {i} did not finish bootstrapping"
        );
        let n = net.nodes[i].routing_table().len();
        assert!(n >= 10, "node {i} has only {n} nodes");
    }
    // the router learned about everyone who queried it
    assert!(net.nodes[0].routing_table().len() >= 20);
    // every table entry is a real node with the id it claims
    for d in &net.nodes {
        for e in d.routing_table().nodes() {
            let j = net.by_addr[&e.addr];
            assert_eq!(net.nodes[j].node_id(), e.id);
        }
    }
    let stats = net.nodes[3].stats(net.now);
    assert_eq!(stats.nodes, net.nodes[3].routing_table().len());
    assert!(stats.counters.find_node_out > 0 && stats.counters.messages_in > 0);
    assert!(!stats.routing_table.is_empty());
    // saved state restores the id and seeds the next bootstrap
    let st = net.nodes[3].state();
    assert_eq!(st.ids[0].1, net.nodes[3].node_id());
    assert!(st.nodes.len() >= 10);
    let restored = Dht::with_state(
        Config::default(),
        net.addrs[3],
        [1; 32],
        &lt_dht::DhtState::decode(&st.encode()).unwrap(),
        net.now,
    );
    assert_eq!(restored.node_id(), net.nodes[3].node_id());
}

#[test]
fn announce_then_get_peers_and_samples() {
    let mut net = Net::new(50, |_| false);
    net.bootstrap_all();
    let ih = Sha1Hash::digest(b"some torrent");
    let now = net.now;
    let a = net.nodes[5].announce(ih, Some(7000), false, now);
    let ev = net.run_until(
        5,
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == a),
    );
    let Event::Peers { announced_to, .. } = ev else {
        unreachable!()
    };
    assert!(announced_to >= 4, "announced to {announced_to}");
    // implied port: another node announces with its source port
    let now = net.now;
    net.nodes[6].announce(ih, None, true, now);
    net.run(Duration::from_secs(15));
    let now = net.now;
    let g = net.nodes[30].get_peers(ih, now);
    let ev = net.run_until(
        30,
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == g),
    );
    let Event::Peers {
        peers, info_hash, ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(info_hash, ih);
    assert!(
        peers.contains(&SocketAddr::from(([127, 0, 5, 1], 7000))),
        "{peers:?}"
    );
    assert!(
        peers.contains(&SocketAddr::from(([127, 0, 6, 1], 6881))),
        "{peers:?}"
    );
    // each get_peers query was reported
    let outgoing = net.events[30]
        .iter()
        .filter(|e| matches!(e, Event::OutgoingGetPeers { info_hash, .. } if *info_hash == ih))
        .count();
    assert!(outgoing >= 8, "{outgoing} outgoing get_peers");
    // the storing nodes reported the incoming announce
    let storers: Vec<usize> = (0..50)
        .filter(|&i| {
            net.events[i]
                .iter()
                .any(|e| matches!(e, Event::IncomingAnnounce { info_hash, .. } if *info_hash == ih))
        })
        .collect();
    assert!(storers.len() >= 4);
    // BEP 51: a storing node's sample contains the hash
    let now = net.now;
    let s = net.nodes[10].sample_infohashes(net.addrs[storers[0]], Sha1Hash([0; 20]), now);
    let ev = net.run_until(10, Duration::from_secs(15), |e| {
        matches!(e, Event::Samples { lookup, .. } | Event::QueryFailed { lookup, .. } if *lookup == s)
    });
    let Event::Samples {
        samples,
        num,
        interval,
        nodes,
        ..
    } = ev
    else {
        panic!("sample query failed: {ev:?}")
    };
    assert_eq!(num, 1);
    assert_eq!(samples, vec![ih]);
    assert_eq!(interval, Duration::from_secs(21600));
    assert!(!nodes.is_empty());
    // an unknown hash finds no peers
    let now = net.now;
    let g = net.nodes[31].get_peers(Sha1Hash([9; 20]), now);
    let ev = net.run_until(
        31,
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == g),
    );
    assert!(matches!(ev, Event::Peers { peers, .. } if peers.is_empty()));
}

#[test]
fn bep44_items_across_nodes() {
    let mut net = Net::new(50, |_| false);
    net.bootstrap_all();
    // immutable
    let value = b"d4:spam4:eggse".to_vec();
    let now = net.now;
    let (target, put) = net.nodes[7].put_immutable(value.clone(), now).unwrap();
    let ev = net.run_until(
        7,
        Duration::from_secs(30),
        |e| matches!(e, Event::PutDone { lookup, .. } if *lookup == put),
    );
    assert!(
        matches!(ev, Event::PutDone { num_success, mutable: None, .. } if num_success >= 4),
        "{ev:?}"
    );
    let now = net.now;
    let g = net.nodes[40].get_immutable(target, now);
    let ev = net.run_until(
        40,
        Duration::from_secs(30),
        |e| matches!(e, Event::ImmutableItem { lookup, .. } if *lookup == g),
    );
    assert_eq!(
        ev,
        Event::ImmutableItem {
            lookup: g,
            target,
            value: Some(value)
        }
    );
    // not valid bencode / too big is refused up front
    assert!(net.nodes[7].put_immutable(b"4:ab".to_vec(), now).is_none());
    assert!(net.nodes[7].put_immutable(vec![b'i'; 1001], now).is_none());

    // mutable, with salt, sequence numbers chosen automatically
    let keys = KeyPair::from_seed(&[33; 32]);
    let now = net.now;
    let p = net.nodes[8]
        .put_mutable(
            keys.clone(),
            b"salt".to_vec(),
            b"5:first".to_vec(),
            None,
            now,
        )
        .unwrap();
    let ev = net.run_until(
        8,
        Duration::from_secs(30),
        |e| matches!(e, Event::PutDone { lookup, .. } if *lookup == p),
    );
    let Event::PutDone {
        num_success,
        mutable: Some(info),
        ..
    } = ev
    else {
        panic!("{ev:?}")
    };
    assert!(num_success >= 4);
    assert_eq!(info.seq, 1);
    let now = net.now;
    let g = net.nodes[41].get_mutable(keys.public_key(), b"salt".to_vec(), now);
    let ev = net.run_until(
        41,
        Duration::from_secs(30),
        |e| matches!(e, Event::MutableItem { lookup, authoritative: true, .. } if *lookup == g),
    );
    let Event::MutableItem {
        seq,
        value,
        signature,
        key,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!((seq, value.as_deref()), (1, Some(&b"5:first"[..])));
    assert_eq!(key, keys.public_key());
    assert_eq!(signature, info.signature);
    // the item was also reported as soon as it arrived, non-authoritatively
    assert!(net.events[41]
        .iter()
        .any(|e| matches!(e, Event::MutableItem { lookup, authoritative: false, seq: 1, .. } if *lookup == g)));
    // an update gets seq 2 and replaces the value everywhere
    let now = net.now;
    let p = net.nodes[9]
        .put_mutable(
            keys.clone(),
            b"salt".to_vec(),
            b"6:second".to_vec(),
            None,
            now,
        )
        .unwrap();
    let ev = net.run_until(
        9,
        Duration::from_secs(30),
        |e| matches!(e, Event::PutDone { lookup, .. } if *lookup == p),
    );
    assert!(
        matches!(&ev, Event::PutDone { mutable: Some(i), num_success, .. } if i.seq == 2 && *num_success >= 4),
        "{ev:?}"
    );
    // an explicit stale sequence number is refused by every node
    let now = net.now;
    let p = net.nodes[10]
        .put_mutable(
            keys.clone(),
            b"salt".to_vec(),
            b"5:stale".to_vec(),
            Some(1),
            now,
        )
        .unwrap();
    let ev = net.run_until(
        10,
        Duration::from_secs(30),
        |e| matches!(e, Event::PutDone { lookup, .. } if *lookup == p),
    );
    assert!(
        matches!(ev, Event::PutDone { num_success: 0, .. }),
        "{ev:?}"
    );
    let now = net.now;
    let g = net.nodes[42].get_mutable(keys.public_key(), b"salt".to_vec(), now);
    let ev = net.run_until(
        42,
        Duration::from_secs(30),
        |e| matches!(e, Event::MutableItem { lookup, authoritative: true, .. } if *lookup == g),
    );
    assert!(
        matches!(ev, Event::MutableItem { seq: 2, value: Some(ref v), .. } if v == b"6:second"),
        "{ev:?}"
    );
    // a different salt is a different item: not found
    let now = net.now;
    let g = net.nodes[42].get_mutable(keys.public_key(), b"other".to_vec(), now);
    let ev = net.run_until(
        42,
        Duration::from_secs(30),
        |e| matches!(e, Event::MutableItem { lookup, authoritative: true, .. } if *lookup == g),
    );
    assert!(
        matches!(ev, Event::MutableItem { value: None, .. }),
        "{ev:?}"
    );
}

#[test]
fn read_only_nodes_stay_out_of_tables() {
    let ro = |i: usize| i >= 40;
    let mut net = Net::new(50, ro);
    net.bootstrap_all();
    let ro_addrs: HashSet<SocketAddr> = (40..50).map(|i| net.addrs[i]).collect();
    for (i, d) in net.nodes.iter().enumerate() {
        for e in d.routing_table().nodes() {
            assert!(
                !ro_addrs.contains(&e.addr),
                "node {i} has read-only node {} in its table",
                e.addr
            );
        }
    }
    // read-only nodes still bootstrap and look things up
    assert!(net.nodes[45].routing_table().len() >= 10);
    let ih = Sha1Hash([0x55; 20]);
    let now = net.now;
    net.nodes[3].announce(ih, Some(9999), false, now);
    net.run(Duration::from_secs(15));
    let now = net.now;
    let g = net.nodes[45].get_peers(ih, now);
    let ev = net.run_until(
        45,
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == g),
    );
    assert!(
        matches!(ev, Event::Peers { ref peers, .. } if peers.contains(&SocketAddr::from(([127, 0, 3, 1], 9999)))),
        "{ev:?}"
    );
    // and never answer queries
    let c = net.nodes[45].stats(net.now).counters;
    assert!(c.messages_in > 0);
    assert_eq!(
        c.messages_out,
        c.ping_out
            + c.find_node_out
            + c.get_peers_out
            + c.announce_peer_out
            + c.get_out
            + c.put_out
            + c.sample_infohashes_out
    );
}

#[test]
fn lookups_survive_nodes_going_offline() {
    let mut net = Net::new(40, |_| false);
    net.bootstrap_all();
    let ih = Sha1Hash([0x77; 20]);
    let now = net.now;
    net.nodes[2].announce(ih, Some(1234), false, now);
    net.run(Duration::from_secs(15));
    // a third of the network disappears
    for i in (10..40).step_by(3) {
        net.offline.insert(i);
    }
    let now = net.now;
    let g = net.nodes[4].get_peers(ih, now);
    let ev = net.run_until(
        4,
        Duration::from_secs(60),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == g),
    );
    assert!(
        matches!(ev, Event::Peers { ref peers, .. } if peers.contains(&SocketAddr::from(([127, 0, 2, 1], 1234)))),
        "{ev:?}"
    );
    // timeouts were counted and dead nodes eventually leave the tables
    net.run(Duration::from_secs(20 * 60));
    let d = &net.nodes[4];
    let dead: Vec<_> = d
        .routing_table()
        .nodes()
        .filter(|e| net.offline.contains(&net.by_addr[&e.addr]))
        .collect();
    let live = d.routing_table().nodes().count();
    assert!(
        dead.iter().all(|e| e.fail_count > 0 || !e.is_good(net.now)),
        "offline nodes still look good"
    );
    assert!(live > 0);
}

#[test]
fn simulation_is_deterministic() {
    let run = || {
        let mut net = Net::new(20, |_| false);
        net.bootstrap_all();
        let ids: Vec<_> = net.nodes.iter().map(|d| d.node_id()).collect();
        let sizes: Vec<_> = net.nodes.iter().map(|d| d.routing_table().len()).collect();
        (ids, sizes, net.delivered)
    };
    assert_eq!(run(), run());
}

#[test]
fn ipv6_network() {
    let mut net = Net::with_addrs(
        20,
        |_| false,
        |i| SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 7000 + i as u16)),
    );
    net.bootstrap_all();
    for i in 1..20 {
        assert!(net.nodes[i].routing_table().len() >= 8, "node {i}");
    }
    let ih = Sha1Hash([0x66; 20]);
    let now = net.now;
    net.nodes[1].announce(ih, Some(4242), false, now);
    net.run(Duration::from_secs(15));
    let now = net.now;
    let g = net.nodes[15].get_peers(ih, now);
    let ev = net.run_until(
        15,
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == g),
    );
    let want = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 4242));
    assert!(
        matches!(ev, Event::Peers { ref peers, .. } if peers.contains(&want)),
        "{ev:?}"
    );
    // state goes to nodes6
    let st = net.nodes[3].state();
    assert!(st.nodes.is_empty() && st.nodes6.len() >= 8);
}
