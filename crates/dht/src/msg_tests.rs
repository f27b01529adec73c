use super::*;
use crate::id::Rng;

fn id(b: u8) -> NodeId {
    Sha1Hash([b; 20])
}

fn v4(a: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, a], port))
}

fn v6(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), port))
}

fn query(q: Query) -> Message {
    Message {
        tid: b"aa".to_vec(),
        version: Some(b"LT\x02\x11".to_vec()),
        ip: None,
        read_only: false,
        body: Body::Query {
            id: id(1),
            query: q,
        },
    }
}

fn all_queries() -> Vec<Query> {
    let want = Want { n4: true, n6: true };
    vec![
        Query::Ping,
        Query::FindNode {
            target: id(2),
            want,
        },
        Query::FindNode {
            target: id(2),
            want: Want::default(),
        },
        Query::GetPeers {
            info_hash: id(3),
            want,
            noseed: true,
        },
        Query::AnnouncePeer {
            info_hash: id(3),
            port: 6881,
            implied_port: false,
            token: b"tokn".to_vec(),
            seed: false,
        },
        Query::AnnouncePeer {
            info_hash: id(3),
            port: 0,
            implied_port: true,
            token: b"tokn".to_vec(),
            seed: true,
        },
        Query::Get {
            target: id(4),
            seq: Some(3),
            want: Want::default(),
        },
        Query::Put(PutArgs {
            token: b"t".to_vec(),
            value: b"12:Hello World!".to_vec(),
            key: None,
            sig: None,
            seq: None,
            cas: None,
            salt: Vec::new(),
        }),
        Query::Put(PutArgs {
            token: b"t".to_vec(),
            value: b"d1:ai1ee".to_vec(),
            key: Some([5; 32]),
            sig: Some([6; 64]),
            seq: Some(9),
            cas: Some(8),
            salt: b"salt".to_vec(),
        }),
        Query::SampleInfohashes {
            target: id(7),
            want: Want {
                n4: true,
                n6: false,
            },
        },
        Query::Unknown {
            method: b"vote".to_vec(),
            target: Some(id(8)),
        },
    ]
}

#[test]
fn queries_round_trip() {
    for q in all_queries() {
        let mut m = query(q);
        let enc = m.encode();
        // canonical: the strict decoder (sorted keys) accepts it
        let strict = Limits {
            strict_key_order: true,
            ..LIMITS
        };
        assert!(
            lt_bencode::decode_with(&enc, strict).is_ok(),
            "{}",
            String::from_utf8_lossy(&enc)
        );
        assert_eq!(Message::parse(&enc).unwrap(), m);
        m.read_only = true;
        m.version = None;
        assert_eq!(Message::parse(&m.encode()).unwrap(), m);
    }
}

#[test]
fn responses_round_trip() {
    let nodes = vec![
        NodeInfo {
            id: id(1),
            addr: v4(1, 1),
        },
        NodeInfo {
            id: id(2),
            addr: v4(2, 65535),
        },
    ];
    let nodes6 = vec![NodeInfo {
        id: id(3),
        addr: v6(6881),
    }];
    let full = Response {
        nodes,
        nodes6,
        token: Some(b"abcd".to_vec()),
        values: vec![v4(9, 1000), v6(2000)],
        v: Some(b"li1ei2ee".to_vec()),
        k: Some([1; 32]),
        sig: Some([2; 64]),
        seq: Some(-1),
        samples: Some(vec![id(4), id(5)]),
        num: Some(300),
        interval: Some(21600),
        p: Some(6881),
    };
    for r in [Response::default(), full] {
        let m = Message {
            tid: vec![0, 1],
            version: None,
            ip: Some(v4(3, 4000)),
            read_only: false,
            body: Body::Response {
                id: id(9),
                response: Box::new(r),
            },
        };
        let enc = m.encode();
        assert_eq!(Message::parse(&enc).unwrap(), m);
    }
    let e = Message {
        tid: vec![],
        version: None,
        ip: Some(v6(1)),
        read_only: false,
        body: Body::Error {
            code: 203,
            message: b"invalid token".to_vec(),
        },
    };
    assert_eq!(Message::parse(&e.encode()).unwrap(), e);
}

#[test]
fn known_wire_forms() {
    // BEP 5's ping example
    let m = Message::parse(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe").unwrap();
    assert_eq!(m.tid, b"aa");
    assert_eq!(
        m.body,
        Body::Query {
            id: Sha1Hash(*b"abcdefghij0123456789"),
            query: Query::Ping
        }
    );
    // what the reference libtorrent answered to it
    let r = Message::parse(
        b"d2:ip6:\x7f\x00\x00\x01\x93\xa21:rd2:id20:+\xaeg\x9d\xd7\xe5\x80\xa0\x0bz\xda\xcc\x1b,\xee\x07&2\x15D1:pi37794ee1:t2:aa1:v4:LT\x02\x111:y1:re",
    )
    .unwrap();
    assert_eq!(r.ip, Some(v4(1, 37794)));
    assert_eq!(r.version.as_deref(), Some(&b"LT\x02\x11"[..]));
    match r.body {
        Body::Response { response, .. } => assert_eq!(response.p, Some(37794)),
        _ => panic!("not a response"),
    }
    // BEP 5's error example
    let e = Message::parse(b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee").unwrap();
    assert_eq!(
        e.body,
        Body::Error {
            code: 201,
            message: b"A Generic Error Ocurred".to_vec()
        }
    );
    // BEP 5's get_peers response with values
    let r = Message::parse(b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re")
        .unwrap();
    match r.body {
        Body::Response { response, .. } => {
            assert_eq!(response.token.as_deref(), Some(&b"aoeusnth"[..]));
            assert_eq!(response.values.len(), 2);
            assert_eq!(response.values[0], "97.120.106.101:11893".parse().unwrap());
        }
        _ => panic!("not a response"),
    }
}

#[test]
fn malformed_is_an_error() {
    let bad: &[(&[u8], &str)] = &[
        (b"", "invalid bencoding"),
        (b"i1e", "message is not a dictionary"),
        (b"de", "missing 't' key"),
        (b"d1:t2:aae", "missing 'y' key"),
        (b"d1:t2:aa1:y1:xe", "unknown message type"),
        (b"d1:ti1e1:y1:qe", "missing 't' key"),
        (b"d1:t17:aaaaaaaaaaaaaaaaa1:y1:qe", "transaction id too long"),
        (b"d1:t2:aa1:y1:qe", "missing 'q' key"),
        (b"d1:q4:ping1:t2:aa1:y1:qe", "missing 'a' key"),
        (b"d1:ade1:q4:ping1:t2:aa1:y1:qe", "missing 'id' key"),
        (b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", "invalid node id"),
        (b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe", "missing 'target' key"),
        (
            b"d1:ad2:id20:abcdefghij01234567896:target19:abcdefghij012345678e1:q9:find_node1:t2:aa1:y1:qe",
            "missing 'target' key",
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij01234567894:wanti1ee1:q9:find_node1:t2:aa1:y1:qe",
            "'want' is not a list",
        ),
        (b"d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe", "missing 'info_hash' key"),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij01234567894:porti6881ee1:q13:announce_peer1:t2:aa1:y1:qe",
            "missing 'token' key",
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij01234567894:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
            "invalid 'port'",
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij01234567895:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
            "missing 'port' key",
        ),
        (b"d1:ad2:id20:abcdefghij01234567895:token1:xe1:q3:put1:t2:aa1:y1:qe", "missing 'v' key"),
        (
            b"d1:ad2:id20:abcdefghij01234567891:k32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5:token1:x1:vi1ee1:q3:put1:t2:aa1:y1:qe",
            "missing 'sig' or 'seq' key",
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567891:k3:abc5:token1:x1:vi1ee1:q3:put1:t2:aa1:y1:qe",
            "invalid 'k'",
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567893:seqi1e5:token1:x1:vi1ee1:q3:put1:t2:aa1:y1:qe",
            "missing 'k' key",
        ),
        (b"d1:t2:aa1:y1:re", "missing 'r' key"),
        (b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re", "nodes length not a multiple of 26"),
        (
            b"d1:rd2:id20:abcdefghij01234567896:nodes63:abce1:t2:aa1:y1:re",
            "nodes6 length not a multiple of 38",
        ),
        (b"d1:rd2:id20:abcdefghij01234567896:valuesi1ee1:t2:aa1:y1:re", "'values' is not a list"),
        (b"d1:rd2:id20:abcdefghij01234567897:samples3:abce1:t2:aa1:y1:re", "samples length not a multiple of 20"),
        (b"d1:rd2:id20:abcdefghij01234567893:seq1:xe1:t2:aa1:y1:re", "invalid 'seq'"),
        (b"d1:t2:aa1:y1:ee", "missing 'e' key"),
        (b"d1:eli201ee1:t2:aa1:y1:ee", "invalid error message"),
        (b"d1:el3:abce1:t2:aa1:y1:ee", "invalid error code"),
        (b"d2:ip3:abc1:t2:aa1:y1:re", "invalid 'ip'"),
    ];
    for (input, reason) in bad {
        let e = Message::parse(input).expect_err(&String::from_utf8_lossy(input));
        assert_eq!(e.reason, *reason, "{}", String::from_utf8_lossy(input));
    }
    // a query error keeps the tid so an error reply can be sent
    let e = Message::parse(b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:xy1:y1:qe")
        .unwrap_err();
    assert_eq!(e.tid.as_deref(), Some(&b"xy"[..]));
    assert!(e.is_query);
    // oversize values and salts
    let mut big = b"d1:ad2:id20:abcdefghij01234567895:token1:x1:v1001:".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1001));
    big.extend_from_slice(b"e1:q3:put1:t2:aa1:y1:qe");
    assert_eq!(Message::parse(&big).unwrap_err().reason, "message too big");
    // deep nesting and too many tokens hit the bencode limits
    let mut deep = b"d1:ad2:id20:abcdefghij01234567891:v".to_vec();
    deep.extend(std::iter::repeat_n(b'l', 20));
    deep.extend(std::iter::repeat_n(b'e', 20));
    deep.extend_from_slice(b"e1:q3:put1:t2:aa1:y1:qe");
    assert_eq!(
        Message::parse(&deep).unwrap_err().reason,
        "invalid bencoding"
    );
    let mut wide = b"d1:ad2:id20:abcdefghij01234567891:vl".to_vec();
    for _ in 0..600 {
        wide.extend_from_slice(b"i1e");
    }
    wide.extend_from_slice(b"ee1:q3:put1:t2:aa1:y1:qe");
    assert_eq!(
        Message::parse(&wide).unwrap_err().reason,
        "invalid bencoding"
    );
    assert_eq!(
        Message::parse(&[b'x'; MAX_DATAGRAM + 1])
            .unwrap_err()
            .reason,
        "datagram too large"
    );
}

#[test]
fn unknown_keys_and_values_are_tolerated() {
    // unknown keys anywhere, unknown 'want' entries, values of odd length skipped
    let m = Message::parse(
        b"d1:ad2:id20:abcdefghij01234567891:xi5e6:target20:abcdefghij01234567894:wantl2:n42:n9ee1:q9:find_node1:t2:aa1:zi1e1:y1:qe",
    )
    .unwrap();
    assert_eq!(
        m.body,
        Body::Query {
            id: Sha1Hash(*b"abcdefghij0123456789"),
            query: Query::FindNode {
                target: Sha1Hash(*b"abcdefghij0123456789"),
                want: Want {
                    n4: true,
                    n6: false
                }
            }
        }
    );
    let r =
        Message::parse(b"d1:rd2:id20:abcdefghij01234567896:valuesl3:abc6:axje.uee1:t2:aa1:y1:re")
            .unwrap();
    match r.body {
        Body::Response { response, .. } => assert_eq!(response.values.len(), 1),
        _ => panic!(),
    }
    // an unknown method with a target is kept, for a find_node-like answer
    let u = Message::parse(
        b"d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij0123456789e1:q4:vote1:t2:aa1:y1:qe",
    )
    .unwrap();
    assert!(matches!(
        u.body,
        Body::Query {
            query: Query::Unknown {
                target: Some(_),
                ..
            },
            ..
        }
    ));
}

#[test]
fn compact_forms() {
    for a in [v4(1, 1), v6(65535)] {
        let c = compact_endpoint(&a);
        assert_eq!(c.len(), if a.is_ipv4() { 6 } else { 18 });
        assert_eq!(parse_compact_endpoint(&c), Some(a));
    }
    assert_eq!(parse_compact_endpoint(&[1, 2, 3]), None);
    let nodes = vec![
        NodeInfo {
            id: id(1),
            addr: v4(1, 2),
        },
        NodeInfo {
            id: id(2),
            addr: v6(3),
        },
    ];
    let mut b4 = Vec::new();
    write_compact_nodes(&mut b4, &nodes, false);
    assert_eq!(b4.len(), 26);
    let mut b6 = Vec::new();
    write_compact_nodes(&mut b6, &nodes, true);
    assert_eq!(b6.len(), 38);
    assert_eq!(parse_compact_nodes(&b4, false).unwrap(), vec![nodes[0]]);
    assert_eq!(parse_compact_nodes(&b6, true).unwrap(), vec![nodes[1]]);
    assert!(parse_compact_nodes(&b6, false).is_err());
    let many = vec![0u8; 26 * (MAX_NODES + 1)];
    assert_eq!(
        parse_compact_nodes(&many, false).unwrap_err(),
        "too many nodes"
    );
}

/// Random mutations of valid messages never panic (the fuzz target runs
/// the same check open-ended).
#[test]
fn mutations_never_panic() {
    let mut rng = Rng::new([11; 32]);
    let mut seeds: Vec<Vec<u8>> = all_queries()
        .into_iter()
        .map(|q| query(q).encode())
        .collect();
    seeds.push(b"d1:rd2:id20:abcdefghij01234567895:nodes26:abcdefghij0123456789axje.u5:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re".to_vec());
    for _ in 0..20_000 {
        let mut m = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            if m.is_empty() {
                break;
            }
            let i = rng.below(m.len());
            match rng.below(4) {
                0 => m[i] = rng.next_u64() as u8,
                1 => {
                    m.remove(i);
                }
                2 => m.insert(i, b"0123456789:ilde"[rng.below(15)]),
                _ => m.truncate(i),
            }
        }
        if let Ok(msg) = Message::parse(&m) {
            // whatever parses re-encodes and parses to the same message
            let again = Message::parse(&msg.encode());
            assert_eq!(again.as_ref().ok(), Some(&msg));
        }
    }
}

#[test]
fn mapped_addresses_round_trip() {
    let mapped: SocketAddr = "[::ffff:1.2.3.4]:80".parse().unwrap();
    let m = Message {
        tid: b"a".to_vec(),
        version: None,
        ip: Some(mapped),
        read_only: false,
        body: Body::Response {
            id: id(1),
            response: Box::new(Response {
                values: vec![mapped],
                ..Response::default()
            }),
        },
    };
    assert_eq!(Message::parse(&m.encode()).unwrap(), m);
}
