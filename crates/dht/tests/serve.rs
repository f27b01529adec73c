//! The serving side of one `Dht`, driven with hand-made datagrams.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;
use lt_dht::msg::{Body, Message, PutArgs, Query, Response, Want};
use lt_dht::{item, Config, Dht, Event, KeyPair, NodeId};

const ME: &str = "127.0.0.1:6881";
const PEER: &str = "127.0.0.2:5000";

fn me() -> SocketAddr {
    ME.parse().unwrap()
}
fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

fn node(config: Config) -> (Dht, Instant) {
    let now = Instant::now();
    (Dht::new(config, me(), [1; 32], now), now)
}

fn q(query: Query, ro: bool) -> Vec<u8> {
    Message {
        tid: b"tx".to_vec(),
        version: None,
        ip: None,
        read_only: ro,
        body: Body::Query {
            id: Sha1Hash([0x42; 20]),
            query,
        },
    }
    .encode()
}

/// Sends a query from `from`; returns the reply addressed to `from` (other
/// datagrams, such as the node pinging us back, are returned separately).
fn ask_from(
    d: &mut Dht,
    now: Instant,
    from: SocketAddr,
    query: Query,
) -> (Option<Message>, Vec<Message>) {
    d.handle_datagram(&q(query, false), from, now);
    let mut reply = None;
    let mut others = Vec::new();
    while let Some(t) = d.poll_transmit() {
        let m = Message::parse(&t.data).expect("we send valid messages");
        assert_eq!(t.to, from);
        if m.tid == b"tx" {
            reply = Some(m);
        } else {
            others.push(m);
        }
    }
    (reply, others)
}

fn ask(d: &mut Dht, now: Instant, query: Query) -> Message {
    ask_from(d, now, peer(), query).0.expect("a reply")
}

fn response(m: &Message) -> &Response {
    match &m.body {
        Body::Response { response, .. } => response,
        other => panic!("not a response: {other:?}"),
    }
}

fn error(m: &Message) -> (i64, String) {
    match &m.body {
        Body::Error { code, message } => (*code, String::from_utf8_lossy(message).into_owned()),
        other => panic!("not an error: {other:?}"),
    }
}

fn events(d: &mut Dht) -> Vec<Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

#[test]
fn ping_reports_ip_and_pings_back() {
    let (mut d, now) = node(Config::default());
    let (reply, others) = ask_from(&mut d, now, peer(), Query::Ping);
    let reply = reply.unwrap();
    assert_eq!(reply.ip, Some(peer()), "BEP 42 ip field");
    assert!(matches!(reply.body, Body::Response { id, .. } if id == d.node_id()));
    // the querying node is not in the table yet: it is pinged first
    assert_eq!(others.len(), 1);
    assert!(matches!(
        &others[0].body,
        Body::Query {
            query: Query::Ping,
            ..
        }
    ));
    assert!(d.routing_table().is_empty());
    // its answer puts it in the table
    let pong = Message {
        tid: others[0].tid.clone(),
        version: None,
        ip: Some(me()),
        read_only: false,
        body: Body::Response {
            id: Sha1Hash([0x42; 20]),
            response: Box::default(),
        },
    };
    d.handle_datagram(&pong.encode(), peer(), now);
    assert_eq!(d.routing_table().len(), 1);
    // a reply with an unknown transaction id or from elsewhere is ignored
    d.handle_datagram(&pong.encode(), peer(), now);
    assert_eq!(d.stats(now).counters.messages_in_dropped, 1);
    // find_node returns it
    let r = ask(
        &mut d,
        now,
        Query::FindNode {
            target: Sha1Hash([0x42; 20]),
            want: Want::default(),
        },
    );
    assert_eq!(response(&r).nodes.len(), 1);
    assert_eq!(response(&r).nodes[0].addr, peer());
}

#[test]
fn read_only_queriers_are_not_pinged() {
    let (mut d, now) = node(Config::default());
    d.handle_datagram(&q(Query::Ping, true), peer(), now);
    let out: Vec<_> = std::iter::from_fn(|| d.poll_transmit()).collect();
    assert_eq!(out.len(), 1, "only the reply, no ping back");
}

#[test]
fn announce_needs_a_valid_token() {
    let (mut d, now) = node(Config::default());
    let ih = Sha1Hash([7; 20]);
    let r = ask(
        &mut d,
        now,
        Query::GetPeers {
            info_hash: ih,
            want: Want::default(),
            noseed: false,
        },
    );
    let token = response(&r).token.clone().expect("token");
    assert!(response(&r).values.is_empty());
    assert!(events(&mut d).contains(&Event::IncomingGetPeers {
        info_hash: ih,
        from: peer()
    }));
    let announce = |token: Vec<u8>, port, implied_port| Query::AnnouncePeer {
        info_hash: ih,
        port,
        implied_port,
        token,
        seed: false,
    };
    let e = ask(&mut d, now, announce(b"nope".to_vec(), 7000, false));
    assert_eq!(error(&e), (203, "invalid token".into()));
    // a token is bound to the requester's IP
    let other: SocketAddr = "127.0.0.3:5000".parse().unwrap();
    let e = ask_from(&mut d, now, other, announce(token.clone(), 7000, false))
        .0
        .unwrap();
    assert_eq!(error(&e).0, 203);
    let ok = ask(&mut d, now, announce(token.clone(), 7000, false));
    response(&ok);
    let ok = ask(&mut d, now, announce(token.clone(), 0, true));
    response(&ok);
    let ev = events(&mut d);
    assert!(ev.contains(&Event::IncomingAnnounce {
        info_hash: ih,
        peer: "127.0.0.2:7000".parse().unwrap()
    }));
    assert!(
        ev.contains(&Event::IncomingAnnounce {
            info_hash: ih,
            peer: peer()
        }),
        "implied port"
    );
    let r = ask(
        &mut d,
        now,
        Query::GetPeers {
            info_hash: ih,
            want: Want::default(),
            noseed: false,
        },
    );
    let mut values = response(&r).values.clone();
    values.sort();
    assert_eq!(values, vec![peer(), "127.0.0.2:7000".parse().unwrap()]);
    // tokens expire after two rotations
    let later = now + Duration::from_secs(5 * 60);
    d.tick(later);
    response(&ask(&mut d, later, announce(token.clone(), 7001, false)));
    let much_later = later + Duration::from_secs(5 * 60);
    d.tick(much_later);
    assert_eq!(
        error(&ask(&mut d, much_later, announce(token, 7002, false))).0,
        203
    );
    // sample_infohashes lists it
    let r = ask(
        &mut d,
        much_later,
        Query::SampleInfohashes {
            target: ih,
            want: Want::default(),
        },
    );
    assert_eq!(response(&r).samples.as_deref(), Some(&[ih][..]));
    assert_eq!(response(&r).num, Some(1));
    assert_eq!(response(&r).interval, Some(21600));
}

#[test]
fn max_peers_reply_and_limits() {
    let cfg = Config {
        max_peers_reply: 3,
        max_torrents: 1,
        ..Config::default()
    };
    let (mut d, now) = node(cfg);
    let ih = Sha1Hash([7; 20]);
    for i in 1..=10u8 {
        let from = SocketAddr::from(([127, 0, 0, 10 + i], 6000));
        let r = ask_from(
            &mut d,
            now,
            from,
            Query::GetPeers {
                info_hash: ih,
                want: Want::default(),
                noseed: false,
            },
        )
        .0
        .unwrap();
        let token = response(&r).token.clone().unwrap();
        let a = ask_from(
            &mut d,
            now,
            from,
            Query::AnnouncePeer {
                info_hash: ih,
                port: 1,
                implied_port: false,
                token,
                seed: false,
            },
        )
        .0
        .unwrap();
        response(&a);
    }
    let r = ask(
        &mut d,
        now,
        Query::GetPeers {
            info_hash: ih,
            want: Want::default(),
            noseed: false,
        },
    );
    assert_eq!(response(&r).values.len(), 3);
    assert_eq!(d.stats(now).peers, 10);
    // a second torrent evicts the first (max_torrents 1)
    let ih2 = Sha1Hash([8; 20]);
    let r = ask(
        &mut d,
        now,
        Query::GetPeers {
            info_hash: ih2,
            want: Want::default(),
            noseed: false,
        },
    );
    let token = response(&r).token.clone().unwrap();
    response(&ask(
        &mut d,
        now,
        Query::AnnouncePeer {
            info_hash: ih2,
            port: 2,
            implied_port: false,
            token,
            seed: false,
        },
    ));
    assert_eq!(d.stats(now).torrents, 1);
    // settings changes apply to the next reply
    let other: SocketAddr = "127.0.0.3:5000".parse().unwrap();
    let gp = Query::GetPeers {
        info_hash: ih2,
        want: Want::default(),
        noseed: false,
    };
    let r = ask_from(&mut d, now, other, gp.clone()).0.unwrap();
    let token = response(&r).token.clone().unwrap();
    let a = Query::AnnouncePeer {
        info_hash: ih2,
        port: 3,
        implied_port: false,
        token,
        seed: false,
    };
    response(&ask_from(&mut d, now, other, a).0.unwrap());
    assert_eq!(response(&ask(&mut d, now, gp.clone())).values.len(), 2);
    let mut cfg = d.config().clone();
    cfg.max_peers_reply = 1;
    d.set_config(cfg);
    assert_eq!(response(&ask(&mut d, now, gp)).values.len(), 1);
}

#[test]
fn mapped_ipv4_sources_are_ipv4() {
    let (mut d, now) = node(Config::default());
    let mapped: SocketAddr = "[::ffff:127.0.0.2]:5000".parse().unwrap();
    d.handle_datagram(&q(Query::Ping, true), mapped, now);
    let t = d.poll_transmit().unwrap();
    assert_eq!(t.to, peer());
    assert_eq!(Message::parse(&t.data).unwrap().ip, Some(peer()));
    // a real IPv6 source is another family: dropped
    d.handle_datagram(&q(Query::Ping, true), "[::1]:5000".parse().unwrap(), now);
    assert!(d.poll_transmit().is_none());
}

fn put_args(token: Vec<u8>, value: &[u8]) -> PutArgs {
    PutArgs {
        token,
        value: value.to_vec(),
        key: None,
        sig: None,
        seq: None,
        cas: None,
        salt: Vec::new(),
    }
}

#[test]
fn immutable_put_and_get() {
    let (mut d, now) = node(Config::default());
    let value = b"12:Hello World!";
    let target = item::immutable_target(value);
    let r = ask(
        &mut d,
        now,
        Query::Get {
            target,
            seq: None,
            want: Want::default(),
        },
    );
    assert!(response(&r).v.is_none());
    let token = response(&r).token.clone().unwrap();
    // the token is for this target only (another value has another target)
    let e = ask(&mut d, now, Query::Put(put_args(token.clone(), b"3:abc")));
    assert_eq!(error(&e), (203, "invalid token".into()));
    response(&ask(&mut d, now, Query::Put(put_args(token, value))));
    let r = ask(
        &mut d,
        now,
        Query::Get {
            target,
            seq: None,
            want: Want::default(),
        },
    );
    assert_eq!(response(&r).v.as_deref(), Some(&value[..]));
    assert_eq!(d.stats(now).immutable_items, 1);
}

#[test]
fn mutable_put_rules() {
    let (mut d, now) = node(Config::default());
    let keys = KeyPair::from_seed(&[5; 32]);
    let pk = keys.public_key();
    let salt = b"foobar".to_vec();
    let target = item::mutable_target(&pk, &salt);
    let r = ask(
        &mut d,
        now,
        Query::Get {
            target,
            seq: None,
            want: Want::default(),
        },
    );
    let token = response(&r).token.clone().unwrap();
    let put = |seq: i64, value: &[u8], cas: Option<i64>, sig: Option<[u8; 64]>| {
        Query::Put(PutArgs {
            token: token.clone(),
            value: value.to_vec(),
            key: Some(pk),
            sig: Some(sig.unwrap_or_else(|| keys.sign_mutable(&salt, seq, value))),
            seq: Some(seq),
            cas,
            salt: salt.clone(),
        })
    };
    let e = ask(&mut d, now, put(1, b"1:a", None, Some([0; 64])));
    assert_eq!(error(&e), (206, "invalid signature".into()));
    response(&ask(&mut d, now, put(2, b"1:a", None, None)));
    assert_eq!(error(&ask(&mut d, now, put(1, b"1:b", None, None))).0, 302);
    assert_eq!(
        error(&ask(&mut d, now, put(3, b"1:b", Some(1), None))),
        (301, "CAS mismatch".into())
    );
    response(&ask(&mut d, now, put(3, b"1:b", Some(2), None)));
    let r = ask(
        &mut d,
        now,
        Query::Get {
            target,
            seq: None,
            want: Want::default(),
        },
    );
    let rr = response(&r);
    assert_eq!(
        (rr.k, rr.seq, rr.v.as_deref()),
        (Some(pk), Some(3), Some(&b"1:b"[..]))
    );
    assert!(item::verify_mutable(
        &pk,
        &salt,
        3,
        b"1:b",
        &rr.sig.unwrap()
    ));
    // a get with a seq at least as new omits the value
    let r = ask(
        &mut d,
        now,
        Query::Get {
            target,
            seq: Some(3),
            want: Want::default(),
        },
    );
    assert_eq!((response(&r).seq, response(&r).v.as_ref()), (Some(3), None));
    // salt too big / value too big are refused with their codes
    let mut raw = b"d1:ad2:id20:abcdefghij01234567891:k32:".to_vec();
    raw.extend_from_slice(&pk);
    raw.extend_from_slice(b"4:salt65:");
    raw.extend(std::iter::repeat_n(b's', 65));
    raw.extend_from_slice(b"3:seqi1e3:sig64:");
    raw.extend([0u8; 64]);
    raw.extend_from_slice(b"5:token1:x1:vi1ee1:q3:put1:t2:tx1:y1:qe");
    d.handle_datagram(&raw, peer(), now);
    let m = Message::parse(&d.poll_transmit().unwrap().data).unwrap();
    assert_eq!(error(&m), (207, "salt too big".into()));
}

#[test]
fn malformed_queries_get_protocol_errors() {
    let (mut d, now) = node(Config::default());
    d.handle_datagram(
        b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:xy1:y1:qe",
        peer(),
        now,
    );
    let m = Message::parse(&d.poll_transmit().unwrap().data).unwrap();
    assert_eq!(m.tid, b"xy");
    assert_eq!(error(&m), (203, "missing 'target' key".into()));
    // unknown method without a target
    let e = ask(
        &mut d,
        now,
        Query::Unknown {
            method: b"frob".to_vec(),
            target: None,
        },
    );
    assert_eq!(error(&e), (204, "method unknown".into()));
    // unknown method with a target: answered like find_node
    response(&ask(
        &mut d,
        now,
        Query::Unknown {
            method: b"frob".to_vec(),
            target: Some(Sha1Hash([1; 20])),
        },
    ));
    // garbage and stray responses are dropped silently
    for junk in [
        &b""[..],
        b"garbage",
        b"d1:t2:aa1:y1:re",
        b"d1:rd2:id20:abcdefghij0123456789e1:t2:zz1:y1:re",
    ] {
        d.handle_datagram(junk, peer(), now);
        assert!(d.poll_transmit().is_none());
    }
}

#[test]
fn read_only_node_does_not_answer() {
    let (mut d, now) = node(Config {
        read_only: true,
        ..Config::default()
    });
    d.handle_datagram(&q(Query::Ping, false), peer(), now);
    assert!(d.poll_transmit().is_none());
    // its own queries carry ro=1
    d.add_node(peer(), now);
    let m = Message::parse(&d.poll_transmit().unwrap().data).unwrap();
    assert!(m.read_only);
}

#[test]
fn responses_are_rate_limited() {
    let (mut d, now) = node(Config {
        upload_rate_limit: 500,
        block_ratelimit: 0,
        ..Config::default()
    });
    let mut sent = 0;
    let mut len = 0;
    for i in 0..40u8 {
        let from = SocketAddr::from(([127, 0, 1, i], 1000));
        d.handle_datagram(&q(Query::Ping, true), from, now);
        while let Some(t) = d.poll_transmit() {
            len = t.data.len();
            sent += 1;
        }
    }
    let stats = d.stats(now);
    // a full second's worth of quota to start with, then nothing
    assert_eq!(sent, 500 / len, "{len}-byte replies");
    assert_eq!(stats.counters.messages_out_dropped as usize, 40 - sent);
    // the quota refills with time
    let later = now + Duration::from_secs(1);
    d.handle_datagram(&q(Query::Ping, true), peer(), later);
    assert!(d.poll_transmit().is_some());
}

#[test]
fn abusive_ips_are_blocked() {
    let (mut d, now) = node(Config {
        block_ratelimit: 1,
        upload_rate_limit: 1_000_000,
        ..Config::default()
    });
    let mut answered = 0;
    for _ in 0..20 {
        d.handle_datagram(&q(Query::Ping, true), peer(), now);
        answered += std::iter::from_fn(|| d.poll_transmit()).count();
    }
    assert_eq!(answered, 10, "10 packets per 10 s at a rate limit of 1/s");
    // still blocked after the window, until the block timeout
    let later = now + Duration::from_secs(60);
    d.handle_datagram(&q(Query::Ping, true), peer(), later);
    assert!(d.poll_transmit().is_none());
    let after = now + Duration::from_secs(301);
    d.handle_datagram(&q(Query::Ping, true), peer(), after);
    assert!(d.poll_transmit().is_some());
    // others are unaffected
    d.handle_datagram(&q(Query::Ping, true), "127.0.0.9:1".parse().unwrap(), now);
}

#[test]
fn external_ip_voting_changes_the_node_id() {
    let local: SocketAddr = "0.0.0.0:6881".parse().unwrap();
    let now = Instant::now();
    let mut d = Dht::new(Config::default(), local, [2; 32], now);
    let external: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    let old = d.node_id();
    for i in 0..5u8 {
        let from = SocketAddr::from(([198, 51, 100, i + 1], 6881));
        d.add_node(from, now);
        let t = d.poll_transmit().unwrap();
        let m = Message::parse(&t.data).unwrap();
        let reply = Message {
            tid: m.tid,
            version: None,
            ip: Some(SocketAddr::new(external, 6881)),
            read_only: false,
            body: Body::Response {
                id: Sha1Hash([i + 1; 20]),
                response: Box::default(),
            },
        };
        d.handle_datagram(&reply.encode(), from, now);
    }
    let ev = events(&mut d);
    assert!(
        ev.contains(&Event::ExternalAddress { ip: external }),
        "{ev:?}"
    );
    assert_ne!(d.node_id(), old);
    assert!(lt_dht::id::verify_secure_id(&d.node_id(), &external));
    assert!(ev.contains(&Event::NodeIdChanged { id: d.node_id() }));
    assert_eq!(d.external_ip(), Some(external));
    assert_eq!(d.state().ids, vec![(external, d.node_id())]);
}

#[test]
fn enforce_node_id_keeps_invalid_ids_out() {
    let local: SocketAddr = "0.0.0.0:6881".parse().unwrap();
    let now = Instant::now();
    let from: SocketAddr = "198.51.100.1:6881".parse().unwrap();
    let mut rng = lt_dht::id::Rng::new([3; 32]);
    let good: NodeId = lt_dht::id::generate_secure_id(&from.ip(), &mut rng);
    let bad: NodeId = Sha1Hash([0x11; 20]);
    for (enforce, id, expect) in [(true, bad, 0), (true, good, 1), (false, bad, 1)] {
        let mut d = Dht::new(
            Config {
                enforce_node_id: enforce,
                ..Config::default()
            },
            local,
            [2; 32],
            now,
        );
        d.add_node(from, now);
        let m = Message::parse(&d.poll_transmit().unwrap().data).unwrap();
        let reply = Message {
            tid: m.tid,
            version: None,
            ip: None,
            read_only: false,
            body: Body::Response {
                id,
                response: Box::default(),
            },
        };
        d.handle_datagram(&reply.encode(), from, now);
        assert_eq!(d.routing_table().len(), expect, "enforce {enforce}");
    }
}

#[test]
fn unanswered_queries_time_out() {
    let (mut d, now) = node(Config::default());
    let l = d.ping(peer(), now);
    assert!(d.poll_transmit().is_some());
    d.tick(now + Duration::from_secs(3));
    assert!(events(&mut d).is_empty());
    d.tick(now + Duration::from_secs(11));
    assert_eq!(
        events(&mut d),
        vec![Event::QueryFailed {
            lookup: l,
            to: peer()
        }]
    );
    assert_eq!(d.stats(now).outstanding_queries, 0);
    // a bootstrap with no routers and an empty table finishes at once
    let b = d.bootstrap(now);
    assert!(events(&mut d).contains(&Event::Bootstrapped {
        lookup: b,
        nodes: 0
    }));
}
