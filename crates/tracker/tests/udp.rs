use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_core::{PeerId, Sha1Hash};
use lt_tracker::udp::{
    encode_announce, encode_connect, encode_scrape, parse_reply, UdpParseError, PROTOCOL_ID,
};
use lt_tracker::*;

fn req(url: &str, event: Event) -> TrackerRequest {
    TrackerRequest {
        url: url.into(),
        info_hash: Sha1Hash([7; 20]),
        peer_id: PeerId::from([9; 20]),
        listen_port: 6881,
        uploaded: 0x0102,
        downloaded: 0x0304,
        left: 0x0506,
        key: 0xdead_beef,
        event,
        num_want: 200,
        ..Default::default()
    }
}

fn target() -> SocketAddr {
    "127.0.0.1:6969".parse().unwrap()
}

fn connect_reply(tid: u32, conn: u64) -> Vec<u8> {
    let mut v = 0u32.to_be_bytes().to_vec();
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&conn.to_be_bytes());
    v
}

fn announce_reply(tid: u32, interval: u32, leechers: u32, seeders: u32, peers: &[u8]) -> Vec<u8> {
    let mut v = 1u32.to_be_bytes().to_vec();
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&interval.to_be_bytes());
    v.extend_from_slice(&leechers.to_be_bytes());
    v.extend_from_slice(&seeders.to_be_bytes());
    v.extend_from_slice(peers);
    v
}

fn tid_of(pkt: &[u8]) -> u32 {
    u32::from_be_bytes(pkt[12..16].try_into().unwrap())
}

fn sent(step: UdpStep) -> Vec<u8> {
    match step {
        UdpStep::Send(p) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

#[test]
fn connect_packet_layout() {
    let p = encode_connect(0x11223344);
    assert_eq!(&p[..8], &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
    assert_eq!(&p[8..12], &[0, 0, 0, 0]);
    assert_eq!(&p[12..], &[0x11, 0x22, 0x33, 0x44]);
    assert_eq!(PROTOCOL_ID, 0x41727101980);
}

#[test]
fn announce_packet_layout() {
    let r = req("udp://t:1/announce?k=v", Event::Completed);
    let p = encode_announce(
        0x0102030405060708,
        0xaabbccdd,
        &r,
        Some("1.2.3.4".parse().unwrap()),
        b"/announce?k=v",
    );
    assert_eq!(p.len(), 98 + 2 + 13);
    assert_eq!(&p[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&p[8..12], &1u32.to_be_bytes());
    assert_eq!(&p[12..16], &0xaabbccddu32.to_be_bytes());
    assert_eq!(&p[16..36], &[7; 20]);
    assert_eq!(&p[36..56], &[9; 20]);
    assert_eq!(&p[56..64], &0x0304i64.to_be_bytes()); // downloaded
    assert_eq!(&p[64..72], &0x0506i64.to_be_bytes()); // left
    assert_eq!(&p[72..80], &0x0102i64.to_be_bytes()); // uploaded
    assert_eq!(&p[80..84], &1u32.to_be_bytes()); // completed
    assert_eq!(&p[84..88], &[1, 2, 3, 4]);
    assert_eq!(&p[88..92], &0xdeadbeefu32.to_be_bytes());
    assert_eq!(&p[92..96], &200i32.to_be_bytes());
    assert_eq!(&p[96..98], &6881u16.to_be_bytes());
    assert_eq!(&p[98..100], &[2, 13]);
    assert_eq!(&p[100..], b"/announce?k=v");
    // URL data is capped at 255 bytes, absent for an empty path
    let long = vec![b'a'; 300];
    let p = encode_announce(0, 0, &r, None, &long);
    assert_eq!(p.len(), 98 + 2 + 255);
    assert_eq!(p[99], 255);
    assert_eq!(encode_announce(0, 0, &r, None, b"").len(), 98);
}

#[test]
fn scrape_packet_layout() {
    let p = encode_scrape(5, 6, &[Sha1Hash([1; 20]), Sha1Hash([2; 20])]);
    assert_eq!(p.len(), 16 + 40);
    assert_eq!(&p[8..12], &2u32.to_be_bytes());
    assert_eq!(&p[36..], &[2; 20]);
}

#[test]
fn parse_replies() {
    assert_eq!(parse_reply(&[0; 7], false), Err(UdpParseError::TooShort));
    assert_eq!(
        parse_reply(&[0, 0, 0, 9, 0, 0, 0, 0], false),
        Err(UdpParseError::UnknownAction)
    );
    assert_eq!(
        parse_reply(&connect_reply(1, 2)[..15], false),
        Err(UdpParseError::TooShort)
    );
    assert_eq!(
        parse_reply(&connect_reply(1, 2), false),
        Ok(UdpReply::Connect {
            transaction_id: 1,
            connection_id: 2
        })
    );
    assert_eq!(
        parse_reply(&announce_reply(1, 2, 3, 4, &[])[..19], false),
        Err(UdpParseError::TooShort)
    );
    let peers = [127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80];
    match parse_reply(&announce_reply(5, 1800, 3, 4, &peers), false).unwrap() {
        UdpReply::Announce {
            transaction_id,
            response,
        } => {
            assert_eq!(transaction_id, 5);
            assert_eq!(response.interval, 1800);
            assert_eq!(response.min_interval, 60);
            assert_eq!(response.incomplete, 3);
            assert_eq!(response.complete, 4);
            assert_eq!(
                response.peers4,
                vec![
                    "127.0.0.1:6881".parse().unwrap(),
                    "10.0.0.2:80".parse().unwrap()
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_reply(&announce_reply(5, 1, 1, 1, &peers[..7]), false),
        Err(UdpParseError::BadPeerListLength)
    );
    // an 18-byte IPv6 entry
    let mut p6 = [0u8; 18];
    p6[15] = 1;
    p6[16] = 0x1a;
    p6[17] = 0xe1;
    match parse_reply(&announce_reply(5, 1, 1, 1, &p6), true).unwrap() {
        UdpReply::Announce { response, .. } => {
            assert_eq!(response.peers6, vec!["[::1]:6881".parse().unwrap()]);
            assert!(response.peers4.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_reply(&announce_reply(5, 1, 1, 1, &peers), true),
        Err(UdpParseError::BadPeerListLength)
    );
    let mut scrape = 2u32.to_be_bytes().to_vec();
    scrape.extend_from_slice(&9u32.to_be_bytes());
    scrape.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30]);
    match parse_reply(&scrape, false).unwrap() {
        UdpReply::Scrape {
            transaction_id: 9,
            entries,
        } => {
            assert_eq!(entries.len(), 1);
            assert_eq!(
                (
                    entries[0].complete,
                    entries[0].downloaded,
                    entries[0].incomplete
                ),
                (10, 20, 30)
            );
        }
        other => panic!("{other:?}"),
    }
    let mut err = 3u32.to_be_bytes().to_vec();
    err.extend_from_slice(&9u32.to_be_bytes());
    err.extend_from_slice(b"bad torrent");
    assert_eq!(
        parse_reply(&err, false),
        Ok(UdpReply::Error {
            transaction_id: 9,
            message: "bad torrent".into()
        })
    );
}

#[test]
fn connect_then_announce_and_strict_filtering() {
    let s = TrackerSettings::default();
    let now = Instant::now();
    let mut cache = ConnectionCache::new();
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969/announce", Event::Started),
        target(),
        &s,
        now,
        1,
    )
    .unwrap();
    let p = sent(c.start(now, &mut cache));
    assert_eq!(p.len(), 16);
    let tid = tid_of(&p);
    assert_ne!(tid, 0);
    // from another address: ignored
    let other: SocketAddr = "127.0.0.2:6969".parse().unwrap();
    assert_eq!(
        c.on_packet(now, other, &connect_reply(tid, 77), &mut cache),
        UdpStep::Idle
    );
    // wrong transaction id: ignored
    assert_eq!(
        c.on_packet(now, target(), &connect_reply(tid ^ 1, 77), &mut cache),
        UdpStep::Idle
    );
    // short: ignored
    assert_eq!(
        c.on_packet(now, target(), &connect_reply(tid, 77)[..12], &mut cache),
        UdpStep::Idle
    );
    // wrong action (an announce reply while connecting): ignored
    assert_eq!(
        c.on_packet(
            now,
            target(),
            &announce_reply(tid, 1, 1, 1, &[]),
            &mut cache
        ),
        UdpStep::Idle
    );
    let a = sent(c.on_packet(now, target(), &connect_reply(tid, 77), &mut cache));
    assert_eq!(&a[..8], &77u64.to_be_bytes());
    assert_eq!(&a[8..12], &1u32.to_be_bytes());
    assert_eq!(&a[80..84], &2u32.to_be_bytes()); // started
    assert_eq!(&a[98..], &[&[2u8, 9][..], b"/announce"].concat()[..]);
    let tid2 = tid_of(&a);
    assert_ne!(tid2, tid, "a new transaction id after connect");
    // the old transaction id no longer matches
    assert_eq!(
        c.on_packet(
            now,
            target(),
            &announce_reply(tid, 1, 1, 1, &[]),
            &mut cache
        ),
        UdpStep::Idle
    );
    // bad peer list length: error
    match c.on_packet(
        now,
        target(),
        &announce_reply(tid2, 10, 1, 2, &[1, 2, 3]),
        &mut cache,
    ) {
        UdpStep::Done(UdpOutcome::Failed(e)) => {
            assert_eq!(e.error, TrackerError::InvalidTrackerResponseLength)
        }
        other => panic!("{other:?}"),
    }
    assert!(c.is_done());
}

#[test]
fn announce_reply_interval_raised_to_minimum() {
    let s = TrackerSettings::default();
    let now = Instant::now();
    let mut cache = ConnectionCache::new();
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        now,
        2,
    )
    .unwrap();
    let tid = tid_of(&sent(c.start(now, &mut cache)));
    let a = sent(c.on_packet(now, target(), &connect_reply(tid, 5), &mut cache));
    assert_eq!(a.len(), 98, "no URL data without a path");
    let tid2 = tid_of(&a);
    match c.on_packet(
        now,
        target(),
        &announce_reply(tid2, 10, 1, 2, &[1, 2, 3, 4, 0, 5]),
        &mut cache,
    ) {
        UdpStep::Done(UdpOutcome::Announce(r)) => {
            assert_eq!(r.interval, 300);
            assert_eq!(r.peers4, vec!["1.2.3.4:5".parse().unwrap()]);
            assert_eq!((r.incomplete, r.complete), (1, 2));
        }
        other => panic!("{other:?}"),
    }
    // finished: later packets are ignored
    assert_eq!(
        c.on_packet(
            now,
            target(),
            &announce_reply(tid2, 10, 1, 2, &[]),
            &mut cache
        ),
        UdpStep::Idle
    );
}

#[test]
fn error_packet_fails() {
    let s = TrackerSettings::default();
    let now = Instant::now();
    let mut cache = ConnectionCache::new();
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        now,
        3,
    )
    .unwrap();
    let tid = tid_of(&sent(c.start(now, &mut cache)));
    let mut err = 3u32.to_be_bytes().to_vec();
    err.extend_from_slice(&tid.to_be_bytes());
    err.extend_from_slice(b"denied");
    match c.on_packet(now, target(), &err, &mut cache) {
        UdpStep::Done(UdpOutcome::Failed(e)) => {
            assert_eq!(e.error, TrackerError::TrackerFailure("denied".into()))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn connection_id_reused_for_60_seconds() {
    let s = TrackerSettings::default();
    let t0 = Instant::now();
    let mut cache = ConnectionCache::new();
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        t0,
        4,
    )
    .unwrap();
    let tid = tid_of(&sent(c.start(t0, &mut cache)));
    sent(c.on_packet(t0, target(), &connect_reply(tid, 0x55), &mut cache));

    let t1 = t0 + Duration::from_secs(59);
    let mut c2 = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        t1,
        5,
    )
    .unwrap();
    let p = sent(c2.start(t1, &mut cache));
    assert_eq!(p.len(), 98, "announce sent straight away");
    assert_eq!(&p[..8], &0x55u64.to_be_bytes());

    // another port on the same host has its own id
    let other: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut c3 =
        UdpTrackerConnection::new(req("udp://127.0.0.1:7000", Event::None), other, &s, t1, 6)
            .unwrap();
    assert_eq!(sent(c3.start(t1, &mut cache)).len(), 16);

    let t2 = t0 + Duration::from_secs(60);
    let mut c4 = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        t2,
        7,
    )
    .unwrap();
    assert_eq!(
        sent(c4.start(t2, &mut cache)).len(),
        16,
        "expired: connect again"
    );
}

#[test]
fn retransmission_back_off_and_give_up() {
    let t0 = Instant::now();
    let mut cache = ConnectionCache::new();
    // libtorrent's default limit: 30 s for the whole request
    let s = TrackerSettings::default();
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        t0,
        8,
    )
    .unwrap();
    let first = sent(c.start(t0, &mut cache));
    assert_eq!(c.next_timeout(), t0 + Duration::from_secs(15));
    assert_eq!(c.on_timeout(t0 + Duration::from_secs(14)), UdpStep::Idle);
    assert_eq!(
        sent(c.on_timeout(t0 + Duration::from_secs(15))),
        first,
        "same packet resent"
    );
    assert_eq!(
        c.next_timeout(),
        t0 + Duration::from_secs(30),
        "capped by the deadline"
    );
    match c.on_timeout(t0 + Duration::from_secs(30)) {
        UdpStep::Done(UdpOutcome::Failed(e)) => assert_eq!(e.error, TrackerError::TimedOut),
        other => panic!("{other:?}"),
    }

    // a longer completion timeout shows the 15 * 2^n schedule
    let s = TrackerSettings {
        tracker_completion_timeout: 100_000,
        ..Default::default()
    };
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::None),
        target(),
        &s,
        t0,
        9,
    )
    .unwrap();
    sent(c.start(t0, &mut cache));
    let mut t = t0;
    let mut gaps = Vec::new();
    loop {
        let next = c.next_timeout();
        gaps.push((next - t).as_secs());
        t = next;
        match c.on_timeout(t) {
            UdpStep::Send(_) => {}
            UdpStep::Done(UdpOutcome::Failed(e)) => {
                assert_eq!(e.error, TrackerError::TimedOut);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(gaps, vec![15, 30, 60, 120, 240, 480, 960, 1920, 3840]);

    // stopped events get stop_tracker_timeout (5 s)
    let s = TrackerSettings::default();
    let mut c = UdpTrackerConnection::new(
        req("udp://127.0.0.1:6969", Event::Stopped),
        target(),
        &s,
        t0,
        10,
    )
    .unwrap();
    sent(c.start(t0, &mut cache));
    assert_eq!(c.next_timeout(), t0 + Duration::from_secs(5));
    assert!(matches!(
        c.on_timeout(t0 + Duration::from_secs(5)),
        UdpStep::Done(UdpOutcome::Failed(_))
    ));
}

#[test]
fn scrape_flow_and_ipv6_announce() {
    let s = TrackerSettings::default();
    let now = Instant::now();
    let mut cache = ConnectionCache::new();
    let mut r = req("udp://127.0.0.1:6969", Event::None);
    r.kind = RequestKind::Scrape;
    let mut c = UdpTrackerConnection::new(r, target(), &s, now, 11).unwrap();
    let tid = tid_of(&sent(c.start(now, &mut cache)));
    let p = sent(c.on_packet(now, target(), &connect_reply(tid, 1), &mut cache));
    assert_eq!(p.len(), 36);
    let tid = tid_of(&p);
    let mut reply = 2u32.to_be_bytes().to_vec();
    reply.extend_from_slice(&tid.to_be_bytes());
    // too short: ignored
    assert_eq!(
        c.on_packet(now, target(), &reply, &mut cache),
        UdpStep::Idle
    );
    reply.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    match c.on_packet(now, target(), &reply, &mut cache) {
        UdpStep::Done(UdpOutcome::Scrape(r)) => {
            assert_eq!((r.complete, r.downloaded, r.incomplete), (1, 2, 3))
        }
        other => panic!("{other:?}"),
    }

    let t6: SocketAddr = "[::1]:6969".parse().unwrap();
    let mut c =
        UdpTrackerConnection::new(req("udp://[::1]:6969", Event::None), t6, &s, now, 12).unwrap();
    let tid = tid_of(&sent(c.start(now, &mut cache)));
    let tid = tid_of(&sent(c.on_packet(
        now,
        t6,
        &connect_reply(tid, 1),
        &mut cache,
    )));
    let mut p6 = vec![0u8; 18];
    p6[0] = 0x20;
    p6[1] = 0x01;
    p6[17] = 80;
    match c.on_packet(now, t6, &announce_reply(tid, 1000, 0, 0, &p6), &mut cache) {
        UdpStep::Done(UdpOutcome::Announce(r)) => {
            assert_eq!(r.peers6, vec!["[2001::]:80".parse().unwrap()]);
            assert_eq!(r.interval, 1000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn urls() {
    assert_eq!(
        udp_host_port("udp://tracker.example:1337/announce").unwrap(),
        ("tracker.example".into(), 1337)
    );
    assert_eq!(udp_host_port("udp://[::1]:80").unwrap(), ("::1".into(), 80));
    assert!(udp_host_port("udp://tracker.example/announce").is_err());
    assert_eq!(
        udp_host_port("http://a:1/"),
        Err(TrackerError::UnsupportedUrlProtocol)
    );
    let s = TrackerSettings::default();
    assert!(UdpTrackerConnection::new(
        req("http://a:1/", Event::None),
        target(),
        &s,
        Instant::now(),
        1
    )
    .is_err());
}
