use std::net::{IpAddr, SocketAddrV4};

use lt_core::Sha1Hash;
use lt_tracker::*;

fn bstr(s: &[u8]) -> Vec<u8> {
    let mut v = format!("{}:", s.len()).into_bytes();
    v.extend_from_slice(s);
    v
}

fn dict(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut v = b"d".to_vec();
    for (k, val) in entries {
        v.extend(bstr(k.as_bytes()));
        v.extend_from_slice(val);
    }
    v.push(b'e');
    v
}

fn int(i: i64) -> Vec<u8> {
    format!("i{i}e").into_bytes()
}

#[test]
fn compact_reply_with_everything() {
    let body = dict(&[
        ("complete", int(5)),
        ("downloaded", int(50)),
        ("external ip", bstr(&[1, 2, 3, 4])),
        ("incomplete", int(7)),
        ("interval", int(900)),
        ("min interval", int(60)),
        (
            "peers",
            bstr(&[10, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0x1a, 0xe2, 9]),
        ),
        (
            "peers6",
            bstr(&[[0u8; 15].as_slice(), &[1, 0, 80], &[1, 2, 3]].concat()),
        ),
        ("tracker id", bstr(b"abc")),
        ("warning message", bstr(b"be nice")),
    ]);
    let r = parse_announce_response(&body).unwrap();
    assert_eq!(r.interval, 900);
    assert_eq!(r.min_interval, 60);
    assert_eq!((r.complete, r.incomplete, r.downloaded), (5, 7, 50));
    assert_eq!(r.trackerid, "abc");
    assert_eq!(r.warning_message, "be nice");
    assert_eq!(
        r.peers4,
        vec![
            SocketAddrV4::new([10, 0, 0, 1].into(), 6881),
            SocketAddrV4::new([10, 0, 0, 2].into(), 6882)
        ],
        "the trailing partial entry is ignored"
    );
    assert_eq!(r.peers6, vec!["[::1]:80".parse().unwrap()]);
    assert_eq!(r.external_ip, Some(IpAddr::from([1, 2, 3, 4])));
    assert_eq!(r.num_peers(), 3);
}

#[test]
fn defaults_when_fields_are_missing() {
    let r = parse_announce_response(b"de").unwrap();
    assert_eq!(r.interval, 1800);
    assert_eq!(r.min_interval, 30);
    assert_eq!((r.complete, r.incomplete, r.downloaded), (-1, -1, -1));
    assert!(r.trackerid.is_empty() && r.peers4.is_empty() && r.external_ip.is_none());
    // wrong types are treated as absent
    let body = dict(&[
        ("complete", bstr(b"5")),
        ("external ip", bstr(&[1, 2, 3])),
        ("interval", bstr(b"x")),
        ("peers", int(3)),
        ("peers6", int(1)),
        ("tracker id", int(1)),
    ]);
    let r = parse_announce_response(&body).unwrap();
    assert_eq!(r.interval, 1800);
    assert_eq!(r.complete, -1);
    assert_eq!(r.num_peers(), 0);
    assert!(r.external_ip.is_none());
    assert!(r.trackerid.is_empty());
    // negative and huge intervals are clamped
    let r = parse_announce_response(&dict(&[
        ("interval", int(-5)),
        ("min interval", int(1 << 40)),
    ]))
    .unwrap();
    assert_eq!(r.interval, 0);
    assert_eq!(r.min_interval, i32::MAX as u32);
    // IPv6 external ip
    let r = parse_announce_response(&dict(&[("external ip", bstr(&[0xfe; 16]))])).unwrap();
    assert_eq!(r.external_ip, Some(IpAddr::from([0xfe; 16])));
}

#[test]
fn dictionary_peers() {
    let p1 = dict(&[
        ("ip", bstr(b"10.0.0.1")),
        ("peer id", bstr(&[7; 20])),
        ("port", int(6881)),
    ]);
    let p2 = dict(&[
        ("ip", bstr(b"peer.example")),
        ("peer id", bstr(b"short")),
        ("port", int(80)),
    ]);
    let bad_no_port = dict(&[("ip", bstr(b"1.1.1.1"))]);
    let bad_not_dict = int(4);
    let list = [
        b"l".to_vec(),
        p1,
        bad_no_port.clone(),
        p2,
        bad_not_dict.clone(),
        b"e".to_vec(),
    ]
    .concat();
    let r = parse_announce_response(&dict(&[("peers", list)])).unwrap();
    assert_eq!(r.peers.len(), 2);
    assert_eq!(r.peers[0].hostname, "10.0.0.1");
    assert_eq!(r.peers[0].peer_id, Sha1Hash([7; 20]));
    assert_eq!(r.peers[0].port, 6881);
    assert_eq!(r.peers[1].hostname, "peer.example");
    assert!(
        r.peers[1].peer_id.is_zero(),
        "a peer id of the wrong length is dropped"
    );

    // every entry bad: error
    let list = [b"l".to_vec(), bad_no_port, b"e".to_vec()].concat();
    let e = parse_announce_response(&dict(&[("interval", int(999)), ("peers", list)])).unwrap_err();
    assert_eq!(e.error, TrackerError::InvalidTrackerResponse);
    assert_eq!(e.retry_interval, 999);
    let list = [b"l".to_vec(), bad_not_dict, b"e".to_vec()].concat();
    let e = parse_announce_response(&dict(&[("peers", list)])).unwrap_err();
    assert_eq!(e.error, TrackerError::InvalidPeerDict);
    // an empty list is fine
    assert_eq!(
        parse_announce_response(&dict(&[("peers", b"le".to_vec())]))
            .unwrap()
            .num_peers(),
        0
    );
}

#[test]
fn failure_reason_is_an_error_with_retry_interval() {
    let body = dict(&[
        ("failure reason", bstr(b"unregistered torrent")),
        ("interval", int(3600)),
        ("warning message", bstr(b"w")),
    ]);
    let e = parse_announce_response(&body).unwrap_err();
    assert_eq!(
        e.error,
        TrackerError::TrackerFailure("unregistered torrent".into())
    );
    assert_eq!(e.retry_interval, 3600);
    assert_eq!(e.warning_message, "w");
    let e = parse_announce_response(&dict(&[("failure reason", bstr(b"x"))])).unwrap_err();
    assert_eq!(e.retry_interval, 1800);
}

#[test]
fn malformed_replies() {
    for body in [
        &b""[..],
        b"d",
        b"d8:intervali1e",
        b"x",
        b"d5:peers10:abce",
        b"di1ei2ee",
    ] {
        let e = parse_announce_response(body).unwrap_err();
        assert!(
            matches!(e.error, TrackerError::Bdecode(_)),
            "{body:?}: {e:?}"
        );
    }
    for body in [&b"le"[..], b"i5e", b"i5e extra", b"4:spam"] {
        assert_eq!(
            parse_announce_response(body).unwrap_err().error,
            TrackerError::InvalidTrackerResponse
        );
    }
    // deep nesting is bounded, not a stack overflow
    let deep = [vec![b'l'; 100_000], vec![b'e'; 100_000]].concat();
    assert!(parse_announce_response(&deep).is_err());
    // a trailing newline after the dictionary is tolerated
    assert!(parse_announce_response(b"d8:intervali60ee\n").is_ok());
}

#[test]
fn huge_peer_lists_are_bounded() {
    let n = MAX_PEERS_PER_REPLY + 1000;
    let compact: Vec<u8> = (0..n)
        .flat_map(|i| [10, 0, (i >> 8) as u8, i as u8, 0, 1])
        .collect();
    let r = parse_announce_response(&dict(&[
        ("peers", bstr(&compact)),
        ("peers6", bstr(&[0; 18 * 10])),
    ]))
    .unwrap();
    assert_eq!(r.peers4.len(), MAX_PEERS_PER_REPLY);
    assert_eq!(
        r.num_peers(),
        MAX_PEERS_PER_REPLY,
        "peers6 shares the bound"
    );
    let one = dict(&[("ip", bstr(b"1.1.1.1")), ("port", int(1))]);
    let list = [b"l".to_vec(), one.repeat(n), b"e".to_vec()].concat();
    let r = parse_announce_response(&dict(&[("peers", list)])).unwrap();
    assert_eq!(r.peers.len(), MAX_PEERS_PER_REPLY);
}

#[test]
fn scrape_replies() {
    let ih = Sha1Hash([0xaa; 20]);
    let entry = dict(&[
        ("complete", int(3)),
        ("downloaded", int(9)),
        ("incomplete", int(4)),
    ]);
    let files = [b"d".to_vec(), bstr(&[0xaa; 20]), entry, b"e".to_vec()].concat();
    let body = dict(&[("files", files.clone())]);
    let r = parse_scrape_response(&body, &ih).unwrap();
    assert_eq!(
        (r.complete, r.downloaded, r.incomplete, r.downloaders),
        (3, 9, 4, -1)
    );
    assert_eq!(
        parse_scrape_response(&body, &Sha1Hash([0xbb; 20]))
            .unwrap_err()
            .error,
        TrackerError::InvalidHashEntry
    );
    assert_eq!(
        parse_scrape_response(b"de", &ih).unwrap_err().error,
        TrackerError::InvalidFilesEntry
    );
    assert_eq!(
        parse_scrape_response(&dict(&[("files", b"le".to_vec())]), &ih)
            .unwrap_err()
            .error,
        TrackerError::InvalidFilesEntry
    );
    assert_eq!(
        parse_scrape_response(&dict(&[("failure reason", bstr(b"no"))]), &ih)
            .unwrap_err()
            .error,
        TrackerError::TrackerFailure("no".into())
    );
    assert!(matches!(
        parse_scrape_response(b"d5:files", &ih).unwrap_err().error,
        TrackerError::Bdecode(_)
    ));
}
