use super::*;

fn h(b: u8) -> Sha1Hash {
    Sha1Hash([b; 20])
}

fn from() -> SocketAddr {
    "192.168.1.7:6771".parse().unwrap()
}

#[test]
fn encode_matches_libtorrent_format() {
    let m = encode_announce(Family::V4, 6881, &[h(0xab)], 0x4e0a_7846);
    let want = format!(
        "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: {}\r\ncookie: 4e0a7846\r\n\r\n\r\n",
        "ab".repeat(20)
    );
    assert_eq!(String::from_utf8(m).unwrap(), want);
    let m6 = encode_announce(Family::V6, 1, &[h(1)], 0);
    assert!(m6.starts_with(b"BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 1\r\n"));
    assert!(m6.ends_with(b"cookie: 0\r\n\r\n\r\n"));
}

#[test]
fn round_trip_one_and_several() {
    for hashes in [vec![h(1)], vec![h(1), h(2), h(0xfe)]] {
        for fam in [Family::V4, Family::V6] {
            let m = encode_announce(fam, 51413, &hashes, 0x7fff_ffff);
            let a = parse_announce(&m).unwrap();
            assert_eq!(a.port, 51413);
            assert_eq!(a.info_hashes, hashes);
            assert_eq!(a.cookie, Some(0x7fff_ffff));
        }
    }
}

#[test]
fn parse_lenient_forms() {
    // bare LF, lower-case method and names, no cookie, extra headers,
    // upper-case hex, trailing garbage after the empty line
    let m = format!(
        "bt-search * HTTP/1.0\nhost: x\nPORT:  80 \nX-Other: y\nINFOHASH: {}\n\ntrailing",
        "AB".repeat(20)
    );
    let a = parse_announce(m.as_bytes()).unwrap();
    assert_eq!(a.port, 80);
    assert_eq!(a.info_hashes, vec![h(0xab)]);
    assert_eq!(a.cookie, None);
}

#[test]
fn parse_skips_bad_info_hashes_like_libtorrent() {
    let m = format!(
        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {}\r\nInfohash: {}\r\nInfohash: {}\r\nInfohash: {}\r\n\r\n",
        "zz".repeat(20),
        "00".repeat(20),
        "12".repeat(19),
        "34".repeat(20)
    );
    assert_eq!(
        parse_announce(m.as_bytes()).unwrap().info_hashes,
        vec![h(0x34)]
    );
}

#[test]
fn parse_first_port_and_cookie_count() {
    let m = format!(
        "BT-SEARCH * HTTP/1.1\r\nPort: 10\r\nPort: 20\r\ncookie: xyz\r\ncookie: 5\r\nInfohash: {}\r\n\r\n",
        "01".repeat(20)
    );
    let a = parse_announce(m.as_bytes()).unwrap();
    assert_eq!(a.port, 10);
    assert_eq!(a.cookie, None, "a non-hex cookie is not anyone's");
}

#[test]
fn parse_rejects_malformed() {
    let ih = "01".repeat(20);
    let ok = |port: &str| format!("BT-SEARCH * HTTP/1.1\r\nPort: {port}\r\nInfohash: {ih}\r\n\r\n");
    let cases: Vec<(Vec<u8>, LsdError)> = vec![
        (vec![], LsdError::BadRequestLine),
        (
            b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n".to_vec(),
            LsdError::Incomplete,
        ),
        (
            format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {ih}\r\n").into_bytes(),
            LsdError::Incomplete,
        ),
        (
            ok("1").replace("BT-SEARCH", "GET").into_bytes(),
            LsdError::WrongMethod,
        ),
        (
            ok("1").replace("BT-SEARCH", "BT-SEARCHX").into_bytes(),
            LsdError::WrongMethod,
        ),
        (
            ok("1").replace(" * ", "  ").into_bytes(),
            LsdError::BadRequestLine,
        ),
        (
            ok("1").replace("HTTP/1.1", "HTTP/2.0").into_bytes(),
            LsdError::BadRequestLine,
        ),
        (
            ok("1").replace("HTTP/1.1", "HTTP/1.1 x").into_bytes(),
            LsdError::BadRequestLine,
        ),
        (ok("0").into_bytes(), LsdError::BadPort),
        (ok("65535").into_bytes(), LsdError::BadPort),
        (ok("99999").into_bytes(), LsdError::BadPort),
        (ok("-1").into_bytes(), LsdError::BadPort),
        (ok("12ab").into_bytes(), LsdError::BadPort),
        (ok("").into_bytes(), LsdError::BadPort),
        (
            ok("1").replace("Port: 1\r\n", "").into_bytes(),
            LsdError::MissingPort,
        ),
        (
            ok("1").replace(&ih, &"00".repeat(20)).into_bytes(),
            LsdError::NoInfoHash,
        ),
        (
            ok("1").replace("Port: 1", "Port 1").into_bytes(),
            LsdError::BadHeader,
        ),
        (
            ok("1").replace("Port: 1", ": 1").into_bytes(),
            LsdError::BadHeader,
        ),
        (
            ok("1").replace("Port: 1", "Po rt: 1").into_bytes(),
            LsdError::BadHeader,
        ),
        (
            ok("1").replace("Port: 1", "Port: 1\u{1}").into_bytes(),
            LsdError::BadHeader,
        ),
        (
            vec![b'A'; MAX_DATAGRAM + 1],
            LsdError::TooLarge(MAX_DATAGRAM + 1),
        ),
    ];
    for (m, want) in cases {
        assert_eq!(
            parse_announce(&m),
            Err(want.clone()),
            "{:?}",
            String::from_utf8_lossy(&m)
        );
    }
    let many = format!(
        "BT-SEARCH * HTTP/1.1\r\n{}\r\n",
        "X: y\r\n".repeat(MAX_HEADERS + 1)
    );
    assert_eq!(
        parse_announce(many.as_bytes()),
        Err(LsdError::TooManyHeaders)
    );
    // non-UTF-8 bytes in a value are rejected, not a panic
    let mut bin = ok("1").into_bytes();
    let pos = bin.iter().position(|c| *c == b'1').unwrap();
    bin.insert(pos, 0xff);
    assert!(parse_announce(&bin).is_err());
}

#[test]
fn parse_every_prefix_never_panics() {
    let m = encode_announce(Family::V4, 6881, &[h(1), h(2)], 77);
    for n in 0..m.len() {
        let r = parse_announce(&m[..n]);
        // the header block is complete only at the first "\r\n\r\n"
        let end = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 3;
        assert_eq!(r.is_ok(), n > end, "prefix {n}");
    }
}

fn cfg() -> LsdConfig {
    LsdConfig::new(Family::V4, 6881)
}

#[test]
fn explicit_announce_sends_three_times() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.announce_interval = Duration::from_secs(3600);
    let mut lsd = Lsd::new(c, 1, t0);
    assert!(
        lsd.next_timeout() > t0 + Duration::from_secs(10),
        "random start of this seed"
    );
    let ih = InfoHash::from_v1(h(5));
    assert!(!lsd.announce(&ih, t0), "unregistered");
    assert!(lsd.add_torrent(ih));
    assert!(!lsd.add_torrent(ih));
    assert!(lsd.announce(&ih, t0));
    assert!(!lsd.announce(&ih, t0), "already queued");
    let d = lsd.tick(t0);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].to, "239.192.152.143:6771".parse().unwrap());
    let a = parse_announce(&d[0].payload).unwrap();
    assert_eq!(
        (a.port, a.info_hashes.clone(), a.cookie),
        (6881, vec![h(5)], Some(lsd.cookie()))
    );
    let mut times = vec![0u64];
    let mut t = t0;
    for _ in 0..100 {
        let next = lsd.next_timeout();
        if next > t0 + Duration::from_secs(10) {
            break;
        }
        t = next.max(t);
        if !lsd.tick(t).is_empty() {
            times.push((t - t0).as_secs());
        }
    }
    assert_eq!(times, vec![0, 2, 6]);
    // a second explicit announce within the minimum gap is dropped
    assert!(!lsd.announce(&ih, t0 + Duration::from_secs(30)));
    assert!(lsd.announce(&ih, t0 + Duration::from_secs(61)));
}

#[test]
fn hybrid_torrent_sends_both_hashes() {
    let t0 = Instant::now();
    let mut lsd = Lsd::new(cfg(), 2, t0);
    let ih = InfoHash::new(h(1), lt_core::Sha256Hash([9; 32]));
    lsd.add_torrent(ih);
    lsd.announce(&ih, t0);
    let got: Vec<Vec<Sha1Hash>> = lsd
        .tick(t0)
        .iter()
        .map(|d| parse_announce(&d.payload).unwrap().info_hashes)
        .collect();
    assert_eq!(got, vec![vec![Sha1Hash([9; 20])], vec![h(1)]]);
}

#[test]
fn round_robin_spreads_torrents_over_interval() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.announce_interval = Duration::from_secs(300);
    let mut lsd = Lsd::new(c, 3, t0);
    for i in 1..=3 {
        lsd.add_torrent(InfoHash::from_v1(h(i)));
    }
    // the random start lies within the first interval
    let first = lsd.next_timeout();
    assert!(first >= t0 && first < t0 + Duration::from_secs(300));
    // run 30 minutes; record the first send time of every announce
    let mut firsts: Vec<(u64, u8)> = Vec::new();
    let mut t = t0;
    let end = t0 + Duration::from_secs(1800);
    while t < end {
        t = lsd.next_timeout().max(t);
        for d in lsd.tick(t) {
            let ih = parse_announce(&d.payload).unwrap().info_hashes[0];
            let secs = (t - t0).as_secs();
            if !firsts.iter().any(|(s, b)| *b == ih.0[0] && secs < s + 10) {
                firsts.push((secs, ih.0[0]));
            }
        }
    }
    // round robin order 1,2,3,1,2,3... 100 s apart
    for w in firsts.windows(2) {
        assert_eq!(w[1].0 - w[0].0, 100, "{firsts:?}");
        assert_eq!(w[1].1, w[0].1 % 3 + 1, "{firsts:?}");
    }
    assert!(firsts.len() >= 17, "{firsts:?}");
}

#[test]
fn different_seeds_give_different_cookies_and_starts() {
    let t0 = Instant::now();
    let a = Lsd::new(cfg(), 1, t0);
    let b = Lsd::new(cfg(), 2, t0);
    assert_ne!(a.cookie(), b.cookie());
    assert_ne!(a.next_timeout(), b.next_timeout());
    assert!(a.cookie() <= 0x7fff_ffff);
}

#[test]
fn token_bucket_limits_bursts() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.burst = 4;
    c.datagrams_per_second = 2;
    let mut lsd = Lsd::new(c, 4, t0);
    for i in 1..=10 {
        let ih = InfoHash::from_v1(h(i));
        lsd.add_torrent(ih);
        lsd.announce(&ih, t0);
    }
    assert_eq!(lsd.tick(t0).len(), 4);
    assert!(lsd.tick(t0).is_empty());
    assert_eq!(lsd.next_timeout(), t0 + Duration::from_millis(500));
    assert_eq!(lsd.tick(t0 + Duration::from_millis(500)).len(), 1);
    // over 10 s no more than burst + 2/s are sent
    let mut sent = 5;
    let mut t = t0 + Duration::from_millis(500);
    while t < t0 + Duration::from_secs(10) {
        t = lsd.next_timeout().max(t + Duration::from_millis(1));
        sent += lsd.tick(t).len();
    }
    assert!(sent <= 4 + 2 * 10, "{sent}");
    assert!(sent >= 18, "{sent}");
}

#[test]
fn remove_torrent_drops_queue() {
    let t0 = Instant::now();
    let mut lsd = Lsd::new(cfg(), 5, t0);
    let ih = InfoHash::from_v1(h(1));
    lsd.add_torrent(ih);
    lsd.announce(&ih, t0);
    assert!(lsd.remove_torrent(&ih));
    assert!(!lsd.remove_torrent(&ih));
    assert!(lsd.tick(t0).is_empty());
    assert_eq!(lsd.num_torrents(), 0);
}

#[test]
fn receive_reports_peers_and_ignores_own_and_unknown() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.local_network = Some((
        "192.168.1.1".parse().unwrap(),
        "255.255.255.0".parse().unwrap(),
    ));
    let mut lsd = Lsd::new(c, 6, t0);
    let v1 = InfoHash::from_v1(h(1));
    let hybrid = InfoHash::new(h(2), lt_core::Sha256Hash([3; 32]));
    lsd.add_torrent(v1);
    lsd.add_torrent(hybrid);
    let m = encode_announce(Family::V4, 7000, &[h(1), Sha1Hash([3; 20]), h(9)], 0x1234);
    let peers = lsd.on_datagram(&m, from(), t0).unwrap();
    let peer: SocketAddr = "192.168.1.7:7000".parse().unwrap();
    assert_eq!(
        peers,
        vec![
            LsdPeer {
                torrent: v1,
                info_hash: h(1),
                peer
            },
            LsdPeer {
                torrent: hybrid,
                info_hash: Sha1Hash([3; 20]),
                peer
            },
        ]
    );
    let own = encode_announce(Family::V4, 7000, &[h(1)], lsd.cookie());
    assert_eq!(
        lsd.on_datagram(&own, from(), t0),
        Err(LsdError::OwnAnnounce)
    );
    let unknown = encode_announce(Family::V4, 7000, &[h(9)], 1);
    assert_eq!(
        lsd.on_datagram(&unknown, from(), t0),
        Err(LsdError::UnknownTorrent)
    );
    let outside: SocketAddr = "10.0.0.1:6771".parse().unwrap();
    assert_eq!(
        lsd.on_datagram(&m, outside, t0),
        Err(LsdError::ForeignNetwork)
    );
    assert_eq!(
        lsd.on_datagram(b"junk", from(), t0),
        Err(LsdError::BadRequestLine)
    );
}

#[test]
fn two_machines_through_in_memory_router() {
    let t0 = Instant::now();
    let mut a = Lsd::new(LsdConfig::new(Family::V6, 1111), 10, t0);
    let mut b = Lsd::new(LsdConfig::new(Family::V6, 2222), 11, t0);
    let ih = InfoHash::from_v1(h(0x42));
    a.add_torrent(ih);
    b.add_torrent(ih);
    a.announce(&ih, t0);
    let addr_a: SocketAddr = "[fe80::1]:6771".parse().unwrap();
    let mut found = Vec::new();
    for d in a.tick(t0) {
        assert_eq!(d.to, Family::V6.group());
        // the group delivers to every member, the sender included
        assert_eq!(
            a.on_datagram(&d.payload, addr_a, t0),
            Err(LsdError::OwnAnnounce)
        );
        found.extend(b.on_datagram(&d.payload, addr_a, t0).unwrap());
    }
    assert_eq!(
        found,
        vec![LsdPeer {
            torrent: ih,
            info_hash: h(0x42),
            peer: "[fe80::1]:1111".parse().unwrap()
        }]
    );
}

#[test]
fn rate_limited_hybrid_waits_for_two_tokens_without_busy_loop() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.burst = 3;
    c.datagrams_per_second = 1;
    c.announce_interval = Duration::from_secs(3600);
    let mut lsd = Lsd::new(c, 1, t0);
    let a = InfoHash::new(h(1), lt_core::Sha256Hash([2; 32]));
    let b = InfoHash::new(h(3), lt_core::Sha256Hash([4; 32]));
    for ih in [a, b] {
        lsd.add_torrent(ih);
        lsd.announce(&ih, t0);
    }
    assert_eq!(lsd.tick(t0).len(), 2, "a's two hashes; one token left");
    // b needs two tokens: the next wake-up is when the second one refills
    assert_eq!(lsd.next_timeout(), t0 + Duration::from_secs(1));
    assert!(lsd.tick(t0 + Duration::from_millis(999)).is_empty());
    let d = lsd.tick(t0 + Duration::from_secs(1));
    assert_eq!(d.len(), 2);
    assert!(lsd.next_timeout() > t0 + Duration::from_secs(1));
    // a zero-sized bucket still lets one announce out per token
    let mut c = cfg();
    c.burst = 0;
    c.datagrams_per_second = 1;
    let mut lsd = Lsd::new(c, 1, t0);
    lsd.add_torrent(a);
    lsd.announce(&a, t0);
    let mut sent = 0;
    let mut t = t0;
    for _ in 0..5 {
        t = lsd.next_timeout().max(t);
        sent += lsd.tick(t).len();
    }
    assert!(sent >= 2, "{sent}");
}
