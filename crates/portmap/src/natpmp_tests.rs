use super::*;

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
const GW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const EXT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);

fn gw() -> SocketAddr {
    SocketAddr::from((GW, SERVER_PORT))
}

fn sends(out: &[Output]) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

fn logs(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Log(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The PCP answer a gateway gives to `req`.
fn pcp_reply(req: &[u8], result: u8, lifetime: u32, ext_port: Option<u16>) -> Vec<u8> {
    let mut r = vec![2, 0x81, 0, result];
    r.extend_from_slice(&lifetime.to_be_bytes());
    r.extend_from_slice(&77u32.to_be_bytes());
    r.extend_from_slice(&[0; 12]);
    r.extend_from_slice(&req[24..42]); // nonce, protocol, reserved, internal port
    match ext_port {
        Some(p) => r.extend_from_slice(&p.to_be_bytes()),
        None => r.extend_from_slice(&req[42..44]),
    }
    r.extend_from_slice(&EXT.to_ipv6_mapped().octets());
    r
}

fn natpmp_reply(req: &[u8], result: u16, lifetime: u32) -> Vec<u8> {
    let mut r = vec![0, 128 + req[1]];
    r.extend_from_slice(&result.to_be_bytes());
    r.extend_from_slice(&5u32.to_be_bytes());
    r.extend_from_slice(&req[4..6]);
    r.extend_from_slice(if lifetime == 0 { &[0, 0] } else { &req[6..8] });
    r.extend_from_slice(&lifetime.to_be_bytes());
    r
}

#[test]
fn pcp_map_request_layout_and_success() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 42);
    let i = c.add_mapping(t0, Protocol::Tcp, 6881, 6882).unwrap();
    assert_eq!(i, 0);
    let out = c.drain();
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    let req = &s[0];
    assert_eq!(req.len(), 60);
    assert_eq!(&req[..4], &[2, 1, 0, 0]);
    assert_eq!(&req[4..8], &3600u32.to_be_bytes());
    assert_eq!(&req[8..24], &LOCAL.to_ipv6_mapped().octets());
    assert_eq!(req[36], 6);
    assert_eq!(&req[40..42], &6882u16.to_be_bytes());
    assert_eq!(&req[42..44], &6881u16.to_be_bytes());
    // a private local address suggests ::ffff:0.0.0.0
    assert_eq!(
        &req[44..60],
        &Ipv4Addr::UNSPECIFIED.to_ipv6_mapped().octets()
    );
    assert_eq!(
        logs(&out),
        [
            "add-mapping: proto: TCP port: 6881 local-port: 6882 action: add ttl: 0",
            "update-mapping: proto: TCP port: 6881 local-port: 6882 action: add ttl: 0",
            "==> port map [ mapping: 0 action: add transport: PCP proto: TCP local: 6882 external: 6881 ttl: 3600 ]",
        ]
    );
    c.on_datagram(t0, gw(), &pcp_reply(req, 0, 3600, Some(7000)));
    let out = c.drain();
    assert!(out.contains(&Output::Mapped {
        mapping: 0,
        protocol: Protocol::Tcp,
        external_port: 7000,
        external_ip: Some(EXT),
    }));
    assert!(logs(&out).contains(
        &"<== port map [ transport: PCP protocol: tcp local: 6882 external: 7000 ttl: 3600 ]"
            .into()
    ));
    assert!(logs(&out).contains(&"next expiration [ idx: 0 ttl: 2700 ]".into()));
    assert_eq!(c.mapping(0), Some((Protocol::Tcp, 6882, 7000)));
    // no resend timer once answered; the refresh is due at 3/4 of the lease
    let due = c.next_deadline().unwrap();
    assert!(due > t0 + Duration::from_secs(2690) && due <= t0 + Duration::from_secs(2700));
}

#[test]
fn one_request_at_a_time_then_the_next() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 100, 100);
    c.add_mapping(t0, Protocol::Udp, 100, 100);
    let s = sends(&c.drain());
    assert_eq!(s.len(), 1, "the UDP mapping waits for the TCP one");
    c.on_datagram(t0, gw(), &pcp_reply(&s[0], 0, 3600, None));
    let out = c.drain();
    let s2 = sends(&out);
    assert_eq!(s2.len(), 1);
    assert_eq!(s2[0][36], 17);
    c.on_datagram(t0, gw(), &pcp_reply(&s2[0], 0, 3600, None));
    let out = c.drain();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Mapped {
            mapping: 1,
            protocol: Protocol::Udp,
            ..
        }
    )));
}

#[test]
fn retransmits_with_linear_backoff_then_gives_up() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 100, 100);
    let mut times = vec![Duration::ZERO];
    assert_eq!(sends(&c.drain()).len(), 1);
    let mut now = t0;
    for _ in 0..20 {
        let Some(d) = c.next_deadline() else { break };
        if d > t0 + Duration::from_secs(60) {
            break;
        }
        now = d;
        c.tick(now);
        if !sends(&c.drain()).is_empty() {
            times.push(now - t0);
        }
    }
    let ms: Vec<u128> = times.iter().map(|d| d.as_millis()).collect();
    assert_eq!(ms, [0, 250, 750, 1500, 2500, 3750, 5250, 7000, 9000]);
    // abandoned after 11.25 s; retried two hours later
    assert_eq!((now - t0).as_millis(), 11250);
    assert_eq!(c.current, None);
}

#[test]
fn falls_back_to_natpmp_on_unsupported_version() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Udp, 5000, 5001);
    c.drain();
    // a NAT-PMP-only gateway answers a version-2 request with version 0,
    // result 1
    c.on_datagram(t0, gw(), &[0, 129, 0, 1, 0, 0, 0, 9]);
    let out = c.drain();
    let s = sends(&out);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0], [0, 1, 0, 0, 0x13, 0x89, 0x13, 0x88, 0, 0, 0x0e, 0x10]);
    assert_eq!(s[1], [0, 0]);
    assert_eq!(
        logs(&out),
        [
            "unsupported version",
            "==> port map [ mapping: 0 action: add transport: NAT-PMP proto: UDP local: 5001 external: 5000 ttl: 3600 ]",
            "==> get public IP address",
        ]
    );
    c.on_datagram(t0, gw(), &[0, 128, 0, 0, 0, 0, 0, 1, 203, 0, 113, 9]);
    c.on_datagram(t0, gw(), &natpmp_reply(&s[0], 0, 7200));
    let out = c.drain();
    assert!(logs(&out).contains(&"<== public IP address [ 203.0.113.9 ]".into()));
    assert!(out.contains(&Output::Mapped {
        mapping: 0,
        protocol: Protocol::Udp,
        external_port: 5000,
        external_ip: Some(EXT),
    }));
}

#[test]
fn error_results_map_to_pcp_codes() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 1, 1);
    let s = sends(&c.drain());
    c.on_datagram(t0, gw(), &pcp_reply(&s[0], 2, 0, None));
    let out = c.drain();
    assert!(out.contains(&Output::Failed {
        mapping: 0,
        code: 2
    }));
    // NAT-PMP's "out of resources" (4) is PCP's "no resources" (8)
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 1, 1);
    c.drain();
    c.on_datagram(t0, gw(), &[0, 130, 0, 1, 0, 0, 0, 0]);
    let s = sends(&c.drain());
    c.on_datagram(t0, gw(), &natpmp_reply(&s[0], 4, 0));
    assert!(c.drain().contains(&Output::Failed {
        mapping: 0,
        code: 8
    }));
}

#[test]
fn refresh_after_three_quarters_of_the_lifetime() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 9, 9);
    let s = sends(&c.drain());
    c.on_datagram(t0, gw(), &pcp_reply(&s[0], 0, 100, None));
    c.drain();
    let due = c.next_deadline().unwrap();
    assert_eq!((due - t0).as_millis(), 75_000 - 100);
    c.tick(due);
    let out = c.drain();
    assert!(logs(&out).contains(&"mapping 0 expired".into()));
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(&s[0][4..8], &3600u32.to_be_bytes());
}

#[test]
fn delete_and_close_send_zero_lifetime() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 9, 9);
    let s = sends(&c.drain());
    c.on_datagram(t0, gw(), &pcp_reply(&s[0], 0, 3600, None));
    c.add_mapping(t0, Protocol::Udp, 9, 9);
    let s = sends(&c.drain());
    c.on_datagram(t0, gw(), &pcp_reply(&s[0], 0, 3600, None));
    c.drain();
    c.delete_mapping(t0, 0);
    let s = sends(&c.drain());
    assert_eq!(s.len(), 1);
    assert_eq!(&s[0][4..8], &[0, 0, 0, 0]);
    c.on_datagram(t0, gw(), &pcp_reply(&s[0], 0, 0, None));
    assert_eq!(c.mapping(0), None, "the slot is free again");
    c.drain();
    c.close(t0);
    let out = c.drain();
    let s = sends(&out);
    assert_eq!(s.len(), 1, "{out:?}");
    assert_eq!(s[0][36], 17);
    assert_eq!(&s[0][4..8], &[0, 0, 0, 0]);
    assert!(c.closed());
    assert_eq!(c.next_deadline(), None);
    assert!(c.add_mapping(t0, Protocol::Tcp, 1, 1).is_none());
}

#[test]
fn unsent_mapping_is_dropped_silently() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 1, 1);
    let j = c.add_mapping(t0, Protocol::Tcp, 2, 2).unwrap();
    c.drain();
    c.delete_mapping(t0, j);
    assert!(sends(&c.drain()).is_empty());
    assert_eq!(c.mapping(j), None);
    // the slot is reused
    assert_eq!(c.add_mapping(t0, Protocol::Udp, 3, 3), Some(j));
}

#[test]
fn malformed_and_foreign_replies_are_ignored() {
    let t0 = Instant::now();
    let mut c = NatPmp::new(LOCAL, GW, 3600, 1);
    c.add_mapping(t0, Protocol::Tcp, 9, 9);
    let s = sends(&c.drain());
    let good = pcp_reply(&s[0], 0, 3600, None);
    let cases: Vec<(SocketAddr, Vec<u8>, &str)> = vec![
        (
            SocketAddr::from(([10, 0, 0, 2], SERVER_PORT)),
            good.clone(),
            "received packet from wrong IP: 10.0.0.2:5351",
        ),
        (gw(), vec![], "received packet of invalid size: 0"),
        (gw(), vec![2, 0x81, 0], "received packet of invalid size: 3"),
        (gw(), vec![7, 0, 0, 0, 0], "unexpected version: 7"),
        (
            gw(),
            good[..59].to_vec(),
            "received packet of invalid size: 59",
        ),
        (
            gw(),
            [&good[..], &[0]].concat(),
            "received packet of invalid size: 61",
        ),
        (
            gw(),
            vec![0, 130, 0, 0, 0],
            "received packet of invalid size: 5",
        ),
    ];
    for (from, d, want) in cases {
        c.on_datagram(t0, from, &d);
        assert_eq!(logs(&c.drain()), [want]);
    }
    // wrong nonce: not ours
    let mut bad = good.clone();
    bad[24] ^= 0xff;
    c.on_datagram(t0, gw(), &bad);
    let l = logs(&c.drain());
    assert!(l[0].ends_with(" not found in map table"), "{l:?}");
    // still waiting; the good answer is taken
    c.on_datagram(t0, gw(), &good);
    assert!(c
        .drain()
        .iter()
        .any(|o| matches!(o, Output::Mapped { mapping: 0, .. })));
    // fuzz-ish: random datagrams never panic
    let mut x = 12345u64;
    for len in 0..200 {
        let d: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        c.on_datagram(t0, gw(), &d);
        let mut d2 = d.clone();
        if let Some(b) = d2.first_mut() {
            *b = 2;
        }
        c.on_datagram(t0, gw(), &d2);
    }
}
