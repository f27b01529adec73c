//! Interop with the reference libtorrent DHT: a reference node runs as a
//! subprocess of `.venv-ref/bin/python` on 127.0.0.1 (`ref_node.py`), and
//! two of our nodes talk to it over std UDP sockets on 127.0.0.1.
//!
//! Skips (with a message) when the reference venv is missing. Set
//! `LT_REF_PYTHON` to point at another interpreter with the reference
//! module.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use lt_core::{to_hex, Sha1Hash};
use lt_dht::msg::{Body, Message, Query, Want};
use lt_dht::{item, Config, Dht, Event, KeyPair};

fn reference_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LT_REF_PYTHON") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../../.venv-ref/bin/python"),
        PathBuf::from("/work/main/.venv-ref/bin/python"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

struct Ours {
    dht: Dht,
    sock: UdpSocket,
    events: Vec<Event>,
}

impl Ours {
    fn new(seed: u8) -> Ours {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let addr = sock.local_addr().unwrap();
        let dht = Dht::new(Config::default(), addr, [seed; 32], Instant::now());
        Ours {
            dht,
            sock,
            events: Vec::new(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = self.sock.recv_from(&mut buf) {
            self.dht.handle_datagram(&buf[..n], from, Instant::now());
        }
        self.dht.tick(Instant::now());
        while let Some(t) = self.dht.poll_transmit() {
            let _ = self.sock.send_to(&t.data, t.to);
        }
        while let Some(e) = self.dht.poll_event() {
            self.events.push(e);
        }
    }
}

struct World {
    a: Ours,
    b: Ours,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    ref_addr: SocketAddr,
}

impl World {
    fn start(python: &PathBuf) -> World {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ref_node.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the reference node");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("reference node started");
        let port: u16 = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .expect("PORT line");
        World {
            a: Ours::new(0xa1),
            b: Ours::new(0xb2),
            child,
            stdin,
            lines: rx,
            ref_addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn pump(&mut self) {
        self.a.pump();
        self.b.pump();
    }

    /// Sends a command to the reference node, pumping our nodes meanwhile.
    fn py(&mut self, cmd: &str) -> Vec<String> {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(line) = self.lines.try_recv() {
                let mut f = line.split_whitespace().map(str::to_string);
                match f.next().as_deref() {
                    Some("OK") => return f.collect(),
                    _ => panic!("reference node: {cmd}: {line}"),
                }
            }
            assert!(Instant::now() < end, "reference node did not answer {cmd}");
            self.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait(&mut self, which: char, limit: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let end = Instant::now() + limit;
        loop {
            self.pump();
            let evs = if which == 'a' {
                &self.a.events
            } else {
                &self.b.events
            };
            if let Some(e) = evs.iter().find(|e| pred(e)) {
                return e.clone();
            }
            assert!(
                Instant::now() < end,
                "node {which}: no matching event within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn interop_with_reference_libtorrent() {
    let Some(python) = reference_python() else {
        eprintln!("SKIPPED interop_with_reference_libtorrent: reference venv (.venv-ref/bin/python) not found; set LT_REF_PYTHON");
        return;
    };
    let mut w = World::start(&python);
    let ref_addr = w.ref_addr;

    // ping: the reference answers and enters our table
    let now = Instant::now();
    let p = w.a.dht.ping(ref_addr, now);
    w.b.dht.add_node(ref_addr, now);
    let end = Instant::now() + Duration::from_secs(10);
    while w.a.dht.routing_table().is_empty() || w.b.dht.routing_table().is_empty() {
        assert!(
            Instant::now() < end,
            "the reference did not answer our ping"
        );
        assert!(!w
            .a
            .events
            .iter()
            .any(|e| matches!(e, Event::QueryFailed { lookup, .. } if *lookup == p)));
        w.pump();
        std::thread::sleep(Duration::from_millis(5));
    }
    let ref_id = w.a.dht.routing_table().nodes().next().unwrap().id;
    assert_eq!(
        w.a.dht.routing_table().nodes().next().unwrap().addr,
        ref_addr
    );

    // the reference adds both of our nodes (it queries them, we answer)
    for addr in [w.a.addr(), w.b.addr()] {
        w.py(&format!("add_node {} {}", addr.ip(), addr.port()));
    }
    let end = Instant::now() + Duration::from_secs(10);
    let queried = |d: &Dht| {
        let c = d.stats(Instant::now()).counters;
        c.ping_in + c.find_node_in + c.get_peers_in > 0
    };
    while !queried(&w.a.dht) || !queried(&w.b.dht) {
        assert!(Instant::now() < end, "the reference did not ping our nodes");
        w.pump();
        std::thread::sleep(Duration::from_millis(5));
    }

    // find_node, by hand: the reference returns our node A in compact form
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let q = Message {
        tid: b"fn".to_vec(),
        version: None,
        ip: None,
        read_only: true,
        body: Body::Query {
            id: Sha1Hash([0x33; 20]),
            query: Query::FindNode {
                target: w.a.dht.node_id(),
                want: Want::default(),
            },
        },
    };
    let end = Instant::now() + Duration::from_secs(10);
    let found = loop {
        assert!(
            Instant::now() < end,
            "find_node: the reference never listed node A"
        );
        raw.send_to(&q.encode(), ref_addr).unwrap();
        let mut buf = [0u8; 2048];
        let mut got = None;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(300) {
            w.pump();
            if let Ok((n, _)) = raw.recv_from(&mut buf) {
                got = Some(Message::parse(&buf[..n]).expect("the reference's reply parses"));
                break;
            }
        }
        if let Some(Message {
            tid,
            ip,
            body: Body::Response { id, response },
            ..
        }) = got
        {
            assert_eq!(tid, b"fn");
            assert_eq!(id, ref_id);
            assert_eq!(ip, Some(raw.local_addr().unwrap()));
            if let Some(n) = response.nodes.iter().find(|n| n.addr == w.a.addr()) {
                break *n;
            }
        }
    };
    assert_eq!(found.id, w.a.dht.node_id());

    // our find_node traversal (bootstrap) through the reference finds B
    let now = Instant::now();
    let bl = w.a.dht.bootstrap(now);
    w.wait(
        'a',
        Duration::from_secs(30),
        |e| matches!(e, Event::Bootstrapped { lookup, .. } if *lookup == bl),
    );
    let b_addr = w.b.addr();
    assert!(
        w.a.dht.routing_table().nodes().any(|e| e.addr == b_addr),
        "A learned B from the reference"
    );
    let now = Instant::now();
    let bl = w.b.dht.bootstrap(now);
    w.wait(
        'b',
        Duration::from_secs(30),
        |e| matches!(e, Event::Bootstrapped { lookup, .. } if *lookup == bl),
    );

    // announce from A: announce_peer reaches the reference and B
    let ih = Sha1Hash::digest(b"lt-dht interop torrent");
    let now = Instant::now();
    let an = w.a.dht.announce(ih, Some(7777), false, now);
    let ev = w.wait(
        'a',
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == an),
    );
    assert!(
        matches!(ev, Event::Peers { announced_to, .. } if announced_to >= 2),
        "{ev:?}"
    );
    // the reference finds the peer (dht_get_peers -> dht_get_peers_reply_alert)
    let peers = w.py(&format!("get_peers {}", ih.to_hex()));
    assert!(
        peers.contains(&"127.0.0.1:7777".to_string()),
        "reference found {peers:?}"
    );
    // and it stored our announce itself: B's lookup gets it from the reference
    let now = Instant::now();
    let g = w.b.dht.get_peers(ih, now);
    let ev = w.wait(
        'b',
        Duration::from_secs(30),
        |e| matches!(e, Event::Peers { lookup, .. } if *lookup == g),
    );
    assert!(
        matches!(ev, Event::Peers { ref peers, .. } if peers.contains(&"127.0.0.1:7777".parse().unwrap())),
        "{ev:?}"
    );
    // BEP 51 against the reference
    let now = Instant::now();
    let s = w.a.dht.sample_infohashes(ref_addr, Sha1Hash([0; 20]), now);
    let ev = w.wait('a', Duration::from_secs(15), |e| {
        matches!(e, Event::Samples { lookup, .. } | Event::QueryFailed { lookup, .. } if *lookup == s)
    });
    assert!(
        matches!(ev, Event::Samples { ref samples, num, .. } if num >= 1 && samples.contains(&ih)),
        "{ev:?}"
    );

    // BEP 44 immutable: ours -> reference
    let value = b"d5:hello5:worlde".to_vec();
    let now = Instant::now();
    let (target, put) = w.a.dht.put_immutable(value.clone(), now).unwrap();
    let ev = w.wait(
        'a',
        Duration::from_secs(30),
        |e| matches!(e, Event::PutDone { lookup, .. } if *lookup == put),
    );
    assert!(
        matches!(ev, Event::PutDone { num_success, .. } if num_success >= 2),
        "{ev:?}"
    );
    let got = w.py(&format!("get_immutable {}", target.to_hex()));
    assert_eq!(got, vec![to_hex(&value)]);
    // reference -> ours
    let text = "stored by the reference";
    let got = w.py(&format!("put_immutable {}", to_hex(text.as_bytes())));
    let encoded = format!("{}:{}", text.len(), text).into_bytes();
    let t2 = item::immutable_target(&encoded);
    assert_eq!(got[0], t2.to_hex());
    assert!(got[1].parse::<usize>().unwrap() >= 1);
    let now = Instant::now();
    let g = w.a.dht.get_immutable(t2, now);
    let ev = w.wait(
        'a',
        Duration::from_secs(30),
        |e| matches!(e, Event::ImmutableItem { lookup, .. } if *lookup == g),
    );
    assert_eq!(
        ev,
        Event::ImmutableItem {
            lookup: g,
            target: t2,
            value: Some(encoded)
        }
    );

    // BEP 44 mutable: ours -> reference
    let keys = KeyPair::from_seed(&[0x5e; 32]);
    let now = Instant::now();
    let put =
        w.a.dht
            .put_mutable(
                keys.clone(),
                b"ours".to_vec(),
                b"10:from rust!".to_vec(),
                None,
                now,
            )
            .unwrap();
    let ev = w.wait(
        'a',
        Duration::from_secs(30),
        |e| matches!(e, Event::PutDone { lookup, .. } if *lookup == put),
    );
    assert!(
        matches!(ev, Event::PutDone { num_success, .. } if num_success >= 2),
        "{ev:?}"
    );
    let got = w.py(&format!(
        "get_mutable {} {}",
        to_hex(&keys.public_key()),
        to_hex(b"ours")
    ));
    assert_eq!(got, vec!["1".to_string(), to_hex(b"10:from rust!")]);
    // reference -> ours, signed by the reference with a key in libtorrent's format
    let got = w.py(&format!(
        "put_mutable {} {} {} {}",
        to_hex(&keys.libtorrent_secret()),
        to_hex(&keys.public_key()),
        to_hex(b"from the reference"),
        to_hex(b"theirs")
    ));
    assert_eq!(got[0], "1");
    let now = Instant::now();
    let g =
        w.b.dht
            .get_mutable(keys.public_key(), b"theirs".to_vec(), now);
    let ev = w.wait(
        'b',
        Duration::from_secs(30),
        |e| matches!(e, Event::MutableItem { lookup, authoritative: true, .. } if *lookup == g),
    );
    let Event::MutableItem {
        seq,
        value,
        signature,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(seq, 1);
    assert_eq!(value.as_deref(), Some(&b"18:from the reference"[..]));
    assert!(item::verify_mutable(
        &keys.public_key(),
        b"theirs",
        1,
        b"18:from the reference",
        &signature
    ));
}
