use std::time::{Duration, Instant};

use lt_core::Sha1Hash;
use lt_metainfo::{FileStorage, WebSeed, WebSeedKind};

use crate::http::*;
use crate::url::*;
use crate::*;

const PL: i32 = 32 * 1024;

/// name "tör", files: a (40000), pad (25536 -> aligns b to 65536),
/// "dir/b c€" (30000), e (0 bytes), "z" (5000).
fn multi() -> FileStorage {
    let mut fs = FileStorage::new();
    fs.add_file("tör/a", 40000, Default::default(), 0, "")
        .unwrap();
    fs.add_pad_file(65536 - 40000).unwrap();
    fs.add_file("tör/dir/b c€", 30000, Default::default(), 0, "")
        .unwrap();
    fs.add_file("tör/e", 0, Default::default(), 0, "").unwrap();
    fs.add_file("tör/z", 5000, Default::default(), 0, "")
        .unwrap();
    fs.set_piece_length(PL);
    fs.compute_num_pieces();
    fs
}

fn single(size: i64) -> FileStorage {
    let mut fs = FileStorage::new();
    fs.add_file("my file.iso", size, Default::default(), 0, "")
        .unwrap();
    fs.set_piece_length(PL);
    fs.compute_num_pieces();
    fs
}

fn seed(url: &str, kind: WebSeedKind) -> WebSeed {
    WebSeed {
        url: url.into(),
        auth: String::new(),
        extra_headers: vec![],
        kind,
    }
}

fn conn(url: &str, fs: FileStorage) -> WebSeedConnection {
    WebSeedConnection::new(
        &seed(url, WebSeedKind::UrlSeed),
        fs,
        Sha1Hash([0xab; 20]),
        WebSeedSettings::default(),
        Instant::now(),
    )
    .unwrap()
}

/// Request lines ("GET target") and Range values of a transmit buffer.
fn requests(bytes: &[u8]) -> Vec<(String, Option<String>)> {
    let s = String::from_utf8(bytes.to_vec()).unwrap();
    s.split("\r\n\r\n")
        .filter(|r| !r.is_empty())
        .map(|r| {
            let mut lines = r.split("\r\n");
            let first = lines.next().unwrap();
            let target = first
                .strip_prefix("GET ")
                .unwrap()
                .strip_suffix(" HTTP/1.1")
                .unwrap()
                .to_string();
            let range = lines
                .find_map(|l| l.strip_prefix("Range: bytes="))
                .map(str::to_string);
            (target, range)
        })
        .collect()
}

fn events(c: &mut WebSeedConnection) -> Vec<WebSeedEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Deterministic content of torrent byte `i` (pad bytes are zero).
fn content(fs: &FileStorage) -> Vec<u8> {
    let mut v = Vec::new();
    for f in fs.file_range() {
        for i in 0..fs.file_size(f) {
            v.push(if fs.pad_file_at(f) {
                0
            } else {
                (i as u8).wrapping_mul(31).wrapping_add(f as u8 + 1)
            });
        }
    }
    v
}

fn file_bytes(fs: &FileStorage, file: usize) -> Vec<u8> {
    let all = content(fs);
    let off = fs.file_offset(file) as usize;
    all[off..off + fs.file_size(file) as usize].to_vec()
}

fn response_206(data: &[u8], first: usize, last: usize, total: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {first}-{last}/{total}\r\nContent-Length: {}\r\n\r\n",
        last - first + 1
    )
    .into_bytes();
    r.extend_from_slice(&data[first..=last]);
    r
}

#[test]
fn escaping_matches_libtorrent() {
    assert_eq!(escape_string("a b/c€~*()!'"), "a%20b%2fc%e2%82%ac~*()!%27");
    assert_eq!(escape_path("tör/dir/b c€"), "t%c3%b6r/dir/b%20c%e2%82%ac");
    assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    assert_eq!(base64(b"a"), "YQ==");
    assert_eq!(base64(b"ab"), "YWI=");
}

#[test]
fn url_parsing() {
    let u = Url::parse("https://u:p@[::1]:8443/x/y?q").unwrap();
    assert_eq!(
        (
            u.tls,
            u.userinfo.as_str(),
            u.host.as_str(),
            u.port,
            u.path.as_str()
        ),
        (true, "u:p", "[::1]", 8443, "/x/y?q")
    );
    assert_eq!(u.connect_host(), "::1");
    assert_eq!(u.host_header(), "[::1]:8443");
    let u = Url::parse("HTTP://example.com").unwrap();
    assert_eq!(
        (u.port, u.path.as_str(), u.host_header()),
        (80, "", "example.com".to_string())
    );
    for bad in [
        "ftp://x/",
        "http://",
        "http://:80/",
        "http://h:0/",
        "http://h:99999/",
        "http://h:8x/",
        "http://h/a b",
        "http://[::1/",
    ] {
        assert!(Url::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        resolve_location("http://h:81/a/b", "c").unwrap(),
        "http://h:81/a/c"
    );
    assert_eq!(
        resolve_location("http://h:81/a/b", "/c").unwrap(),
        "http://h:81/c"
    );
    assert_eq!(
        resolve_location("https://h/a", "//g/x").unwrap(),
        "https://g/x"
    );
    assert_eq!(
        resolve_location("http://h/a", "http://o/p").unwrap(),
        "http://o/p"
    );
    assert!(resolve_location("http://h/a", "").is_err());
    assert_eq!(
        split_url("http://o:1/p/q").unwrap(),
        ("http://o:1".to_string(), "/p/q".to_string())
    );
}

#[test]
fn multi_file_requests_skip_pads_and_escape_paths() {
    let fs = multi();
    let mut c = conn("http://127.0.0.1:8000/seed", fs.clone());
    // the whole torrent: a, (pad), b, z
    let total = fs.total_size() as i32;
    c.request(PieceRange {
        piece: 0,
        start: 0,
        length: total,
    })
    .unwrap();
    let t = Instant::now();
    let reqs = requests(&c.poll_transmit(t).unwrap());
    assert_eq!(
        reqs,
        vec![
            ("/seed/t%c3%b6r/a".to_string(), Some("0-39999".to_string())),
            (
                "/seed/t%c3%b6r/dir/b%20c%e2%82%ac".to_string(),
                Some("0-29999".to_string())
            ),
            ("/seed/t%c3%b6r/z".to_string(), Some("0-4999".to_string())),
        ]
    );
    assert!(c.poll_transmit(t).is_none());
    // a piece inside the pad file only: no request at all, zeros at once
    let mut c2 = conn("http://h/seed/", fs.clone());
    c2.request(PieceRange {
        piece: 1,
        start: 40000 - 32768,
        length: 65536 - 40000,
    })
    .unwrap();
    assert!(c2.poll_transmit(t).is_none());
    let ev = events(&mut c2);
    let zeros: usize = ev
        .iter()
        .map(|e| match e {
            WebSeedEvent::Block { data, .. } => {
                assert!(data.iter().all(|b| *b == 0));
                data.len()
            }
            _ => 0,
        })
        .sum();
    assert_eq!(zeros, 65536 - 40000);
    assert_eq!(
        ev.last(),
        Some(&WebSeedEvent::RequestDone(PieceRange {
            piece: 1,
            start: 7232,
            length: 25536
        }))
    );
}

#[test]
fn request_headers() {
    let mut s = seed("http://user:pw@h:8080/x/", WebSeedKind::UrlSeed);
    s.extra_headers = vec![("X-A".into(), "1".into())];
    let mut c = WebSeedConnection::new(
        &s,
        single(100000),
        Sha1Hash([0; 20]),
        WebSeedSettings::default(),
        Instant::now(),
    )
    .unwrap();
    c.request(PieceRange {
        piece: 1,
        start: 100,
        length: 10,
    })
    .unwrap();
    c.request(PieceRange {
        piece: 2,
        start: 0,
        length: 10,
    })
    .unwrap();
    let out = String::from_utf8(c.poll_transmit(Instant::now()).unwrap()).unwrap();
    let first = format!(
        "GET /x/my%20file.iso HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: libtorrent/2.1.1.0\r\nAuthorization: Basic {}\r\nX-A: 1\r\nConnection: keep-alive\r\nRange: bytes={}-{}\r\n\r\n",
        base64(b"user:pw"),
        PL + 100,
        PL + 109
    );
    let second = format!(
        "GET /x/my%20file.iso HTTP/1.1\r\nHost: h:8080\r\nAuthorization: Basic {}\r\nX-A: 1\r\nRange: bytes={}-{}\r\n\r\n",
        base64(b"user:pw"),
        2 * PL,
        2 * PL + 9
    );
    assert_eq!(out, first + &second);
    // header injection is refused
    let mut bad = seed("http://h/", WebSeedKind::UrlSeed);
    bad.extra_headers = vec![("X".into(), "a\r\nEvil: 1".into())];
    assert_eq!(
        WebSeedConnection::new(
            &bad,
            single(10),
            Sha1Hash([0; 20]),
            WebSeedSettings::default(),
            Instant::now()
        )
        .err(),
        Some(WebSeedError::BadHeaderValue)
    );
}

#[test]
fn single_file_url_rules() {
    // not ending in '/': the file itself, used as written
    let c = conn("http://h/files/other%20name.iso?x=1", single(10));
    assert_eq!(c.file_target(0), "/files/other%20name.iso?x=1");
    // ending in '/': the torrent name is appended, escaped
    let c = conn("http://h/files/", single(10));
    assert_eq!(c.file_target(0), "/files/my%20file.iso");
    let c = conn("http://h", single(10));
    assert_eq!(c.file_target(0), "/my%20file.iso");
    // multi-file without trailing slash gets one
    let c = conn("http://h/d", multi());
    assert_eq!(c.file_target(0), "/d/t%c3%b6r/a");
}

#[test]
fn bep17_requests() {
    let fs = single(100000);
    let mut c = WebSeedConnection::new(
        &seed("http://h/seed.php", WebSeedKind::HttpSeed),
        fs.clone(),
        Sha1Hash([0x20; 20]),
        WebSeedSettings::default(),
        Instant::now(),
    )
    .unwrap();
    c.request(PieceRange {
        piece: 0,
        start: 0,
        length: PL + 10,
    })
    .unwrap();
    c.request(PieceRange {
        piece: 3,
        start: 0,
        length: 100000 - 3 * PL,
    })
    .unwrap();
    let reqs = requests(&c.poll_transmit(Instant::now()).unwrap());
    let ih = "%20".repeat(20);
    assert_eq!(
        reqs,
        vec![
            (format!("/seed.php?info_hash={ih}&piece=0"), None),
            (format!("/seed.php?info_hash={ih}&piece=1&ranges=0-9"), None),
            (format!("/seed.php?info_hash={ih}&piece=3"), None),
        ]
    );
    // responses: 200 with the bytes
    let data = content(&fs);
    let mut resp = Vec::new();
    for (a, b) in [
        (0, PL as usize),
        (PL as usize, PL as usize + 10),
        (3 * PL as usize, 100000),
    ] {
        resp.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b - a).into_bytes());
        resp.extend_from_slice(&data[a..b]);
    }
    c.on_data(&resp, Instant::now());
    let ev = events(&mut c);
    let got: Vec<u8> = ev
        .iter()
        .filter_map(|e| match e {
            WebSeedEvent::Block { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut want = data[..PL as usize + 10].to_vec();
    want.extend_from_slice(&data[3 * PL as usize..]);
    assert_eq!(got, want);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, WebSeedEvent::RequestDone(_)))
            .count(),
        2
    );
    assert!(!c.is_closed());
}

#[test]
fn bep17_503_body_gives_retry() {
    for (body, secs) in [("120", 120), ("junk", 60), ("0", 60)] {
        let mut c = WebSeedConnection::new(
            &seed("http://h/s", WebSeedKind::HttpSeed),
            single(1000),
            Sha1Hash([1; 20]),
            WebSeedSettings::default(),
            Instant::now(),
        )
        .unwrap();
        c.request(PieceRange {
            piece: 0,
            start: 0,
            length: 1000,
        })
        .unwrap();
        c.poll_transmit(Instant::now()).unwrap();
        c.on_data(
            format!(
                "HTTP/1.1 503 Busy\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
            Instant::now(),
        );
        assert_eq!(
            events(&mut c),
            vec![WebSeedEvent::Closed {
                reason: CloseReason::HttpStatus {
                    status: 503,
                    reason: "Busy".into(),
                    file: None,
                    retry_after: Duration::from_secs(secs)
                },
                unfinished: vec![PieceRange {
                    piece: 0,
                    start: 0,
                    length: 1000
                }],
            }]
        );
    }
}

/// Drives `c` with the concatenated `resp` split once at `split`; returns
/// the blocks (piece, offset, data) and other events.
fn run_split(c: &mut WebSeedConnection, resp: &[u8], split: usize) -> Vec<WebSeedEvent> {
    let t = Instant::now();
    c.on_data(&resp[..split], t);
    c.on_data(&resp[split..], t);
    events(c)
}

#[test]
fn responses_split_at_every_byte_boundary() {
    let fs = multi();
    let data = content(&fs);
    // piece 1 = a[32768..40000] + pad + ...; take bytes 30000..70000 of the
    // torrent: a[30000..40000], pad[..25536], b[0..4464]
    let start = 30000i64;
    let len = 40000i32;
    let r = PieceRange {
        piece: 0,
        start: start as i32,
        length: len,
    };
    let a = file_bytes(&fs, 0);
    let b = file_bytes(&fs, 2);
    let mut resp = response_206(&a, 30000, 39999, 40000);
    // the second one chunked, with an extension and a trailer
    let body = &b[0..4464];
    resp.extend_from_slice(b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4463/30000\r\nTransfer-Encoding: chunked\r\n\r\n");
    resp.extend(format!("{:x};ext=1\r\n", 1000).into_bytes());
    resp.extend_from_slice(&body[..1000]);
    resp.extend_from_slice(b"\r\n");
    resp.extend(format!("{:X}\r\n", body.len() - 1000).into_bytes());
    resp.extend_from_slice(&body[1000..]);
    resp.extend_from_slice(b"\r\n0\r\nX-T: 1\r\n\r\n");
    let mut reference: Option<Vec<WebSeedEvent>> = None;
    for split in 0..=resp.len() {
        let mut c = conn("http://h/", fs.clone());
        c.request(r).unwrap();
        let sent = requests(&c.poll_transmit(Instant::now()).unwrap());
        assert_eq!(sent.len(), 2);
        let ev = run_split(&mut c, &resp, split);
        match &reference {
            None => {
                let mut got = Vec::new();
                let mut next = start;
                for e in &ev {
                    if let WebSeedEvent::Block {
                        piece,
                        offset,
                        data: d,
                    } = e
                    {
                        assert_eq!(i64::from(*piece) * i64::from(PL) + i64::from(*offset), next);
                        // blocks end on 16 KiB boundaries of the piece
                        let end = i64::from(*offset) + d.len() as i64;
                        assert!(
                            end % 16384 == 0 || next + d.len() as i64 == start + i64::from(len)
                        );
                        next += d.len() as i64;
                        got.extend_from_slice(d);
                    }
                }
                assert_eq!(
                    got,
                    data[start as usize..start as usize + len as usize].to_vec()
                );
                assert_eq!(ev.last(), Some(&WebSeedEvent::RequestDone(r)));
                reference = Some(ev);
            }
            Some(want) => assert_eq!(&ev, want, "split at {split}"),
        }
        assert!(!c.is_closed());
        assert_eq!(c.in_flight(), 0);
    }
    // and one byte at a time
    let mut c = conn("http://h/", fs.clone());
    c.request(r).unwrap();
    c.poll_transmit(Instant::now()).unwrap();
    for b in &resp {
        c.on_data(std::slice::from_ref(b), Instant::now());
    }
    assert_eq!(Some(events(&mut c)), reference);
}

fn closed_reason(ev: &[WebSeedEvent]) -> Option<(CloseReason, Vec<PieceRange>)> {
    ev.iter().find_map(|e| match e {
        WebSeedEvent::Closed { reason, unfinished } => Some((reason.clone(), unfinished.clone())),
        _ => None,
    })
}

#[test]
fn malformed_responses_close_with_protocol_error() {
    let fs = single(100000);
    let data = content(&fs);
    let ok_body = |n: usize| data[..n].to_vec();
    let cases: Vec<(Vec<u8>, WebSeedError)> = vec![
        (b"HTTP/2 206 X\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadStatusLine)),
        (b"HTTP/1.1 20 X\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadStatusLine)),
        (b"HTTP/1.1 206X\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadStatusLine)),
        (b"ICY 200 OK\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadStatusLine)),
        (b"HTTP/1.1 206 OK\r\nNoColon\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadHeader)),
        (b"HTTP/1.1 206 OK\r\nBad Name: 1\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadHeader)),
        (b"HTTP/1.1 206 OK\r\nContent-Length: -1\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadContentLength)),
        (b"HTTP/1.1 206 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadContentLength)),
        (b"HTTP/1.1 206 OK\r\nContent-Range: bytes 5-1/10\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadContentRange)),
        (b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/50\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadContentRange)),
        (b"HTTP/1.1 206 OK\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::UnsupportedEncoding)),
        (b"HTTP/1.1 206 OK\r\nContent-Encoding: gzip\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::UnsupportedEncoding)),
        (b"HTTP/1.1 101 Switching\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::UnexpectedUpgrade)),
        // wrong range / length
        (b"HTTP/1.1 206 OK\r\nContent-Range: bytes 1-100/100000\r\nContent-Length: 100\r\n\r\n".to_vec(), WebSeedError::InvalidRange),
        (b"HTTP/1.1 206 OK\r\nContent-Length: 100\r\n\r\n".to_vec(), WebSeedError::InvalidRange),
        (b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nContent-Length: 99\r\n\r\n".to_vec(), WebSeedError::InvalidRange),
        // a 200 with the whole file when a range was asked
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec(), WebSeedError::InvalidRange),
        // chunked body longer than the range
        (
            [b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n".to_vec(), ok_body(101)].concat(),
            WebSeedError::InvalidRange,
        ),
        (
            b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            WebSeedError::Http(HttpError::BadChunk),
        ),
        (
            [b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n".to_vec(), ok_body(100), b"XX".to_vec()].concat(),
            WebSeedError::Http(HttpError::BadChunk),
        ),
        (
            b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n".to_vec(),
            WebSeedError::Http(HttpError::BadChunk),
        ),
        // chunked body shorter than the range
        (
            [b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nTransfer-Encoding: chunked\r\n\r\n63\r\n".to_vec(), ok_body(99), b"\r\n0\r\n\r\n".to_vec()].concat(),
            WebSeedError::InvalidRange,
        ),
        (
            [b"HTTP/1.1 206 OK\r\nContent-Range: bytes 0-99/100000\r\nContent-Length: 100\r\n\r\n".to_vec(), ok_body(100), b"HTTP/1.1 200 OK\r\n\r\n".to_vec()].concat(),
            WebSeedError::UnexpectedResponse,
        ),
        (b"HTTP/1.1 301 Moved\r\n\r\n".to_vec(), WebSeedError::MissingLocation),
        ([b"HTTP/1.1 200 OK\r\nX: ".to_vec(), vec![b'a'; 20000]].concat(), WebSeedError::Http(HttpError::HeadTooLarge)),
        (b"HTTP/1.1 206 OK\r\nX: \x01\r\n\r\n".to_vec(), WebSeedError::Http(HttpError::BadHeader)),
    ];
    for (resp, want) in cases {
        let mut c = conn("http://h/f", fs.clone());
        let r = PieceRange {
            piece: 0,
            start: 0,
            length: 100,
        };
        c.request(r).unwrap();
        c.poll_transmit(Instant::now()).unwrap();
        c.on_data(&resp, Instant::now());
        let ev = events(&mut c);
        let (reason, unfinished) = closed_reason(&ev).unwrap_or_else(|| {
            panic!(
                "not closed: {:?} {ev:?}",
                String::from_utf8_lossy(&resp[..resp.len().min(200)])
            )
        });
        assert_eq!(
            reason,
            CloseReason::Protocol(want),
            "{:?}",
            String::from_utf8_lossy(&resp[..resp.len().min(200)])
        );
        assert!(c.is_closed());
        assert!(unfinished.is_empty() || unfinished == vec![r]);
        // nothing more is accepted after close
        c.on_data(b"HTTP/1.1 200 OK\r\n\r\n", Instant::now());
        assert!(c.poll_event().is_none());
        assert_eq!(c.request(r), Err(WebSeedError::Closed));
    }
}

#[test]
fn interim_responses_content_range_without_unit_and_http10() {
    let fs = single(1000);
    let data = content(&fs);
    let mut c = conn("http://h/f", fs.clone());
    let r = PieceRange {
        piece: 0,
        start: 10,
        length: 20,
    };
    c.request(r).unwrap();
    c.poll_transmit(Instant::now()).unwrap();
    let mut resp =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 206 Partial\r\nContent-Range: 10-29/1000\r\n\r\n"
            .to_vec();
    resp.extend_from_slice(&data[10..30]);
    c.on_data(&resp, Instant::now());
    // HTTP/1.0 without Content-Length: body until EOF, then no keep-alive
    assert!(!c.is_closed());
    c.on_eof(Instant::now());
    let ev = events(&mut c);
    assert_eq!(
        ev[0],
        WebSeedEvent::Block {
            piece: 0,
            offset: 10,
            data: data[10..30].to_vec()
        }
    );
    assert_eq!(ev[1], WebSeedEvent::RequestDone(r));
    assert_eq!(
        ev[2],
        WebSeedEvent::Closed {
            reason: CloseReason::ServerClosed,
            unfinished: vec![]
        }
    );
    assert_eq!(c.keep_alive(), Some(false));
}

#[test]
fn redirects_are_reported_per_file() {
    let fs = multi();
    let mut c = conn("http://h:81/s/", fs.clone());
    let r = PieceRange {
        piece: 2,
        start: 0,
        length: 1000,
    };
    c.request(r).unwrap();
    assert_eq!(
        requests(&c.poll_transmit(Instant::now()).unwrap())[0].0,
        "/s/t%c3%b6r/dir/b%20c%e2%82%ac"
    );
    c.on_data(
        b"HTTP/1.1 302 Found\r\nLocation: ../elsewhere/b\r\nContent-Length: 0\r\n\r\n",
        Instant::now(),
    );
    assert_eq!(
        events(&mut c),
        vec![WebSeedEvent::Closed {
            reason: CloseReason::Redirect {
                status: 302,
                location: "http://h:81/s/t%c3%b6r/dir/../elsewhere/b".into(),
                file: Some(2)
            },
            unfinished: vec![r],
        }]
    );
    // a single-file seed moves as a whole
    let mut c = conn("http://h/f.iso", single(1000));
    c.request(PieceRange {
        piece: 0,
        start: 0,
        length: 10,
    })
    .unwrap();
    c.poll_transmit(Instant::now()).unwrap();
    c.on_data(
        b"HTTP/1.1 301 Moved\r\nLocation: https://mirror/f.iso\r\n\r\n",
        Instant::now(),
    );
    let (reason, _) = closed_reason(&events(&mut c)).unwrap();
    assert_eq!(
        reason,
        CloseReason::Redirect {
            status: 301,
            location: "https://mirror/f.iso".into(),
            file: None
        }
    );
    // set_file_path sends that file's requests to the redirected path
    let mut c = conn("http://h/s/", fs.clone());
    c.set_file_path(2, "/other/b").unwrap();
    assert!(c.set_file_path(2, "no-slash").is_err());
    c.request(r).unwrap();
    assert_eq!(
        requests(&c.poll_transmit(Instant::now()).unwrap())[0].0,
        "/other/b"
    );
}

#[test]
fn error_status_with_retry_after_and_unfinished_ranges() {
    let fs = single(100000);
    let data = content(&fs);
    let mut c = conn("http://h/f", fs.clone());
    let r1 = PieceRange {
        piece: 0,
        start: 0,
        length: PL,
    };
    let r2 = PieceRange {
        piece: 1,
        start: 0,
        length: PL,
    };
    c.request(r1).unwrap();
    c.request(r2).unwrap();
    c.poll_transmit(Instant::now()).unwrap();
    // the first 20000 bytes of r1 arrive (one whole block), then the
    // connection closes in the middle
    let mut resp = format!(
        "HTTP/1.1 206 OK\r\nContent-Range: bytes 0-{}/100000\r\nContent-Length: {PL}\r\n\r\n",
        PL - 1
    )
    .into_bytes();
    resp.extend_from_slice(&data[..20000]);
    c.on_data(&resp, Instant::now());
    c.on_eof(Instant::now());
    let ev = events(&mut c);
    assert_eq!(
        ev[0],
        WebSeedEvent::Block {
            piece: 0,
            offset: 0,
            data: data[..16384].to_vec()
        }
    );
    assert_eq!(
        ev[1],
        WebSeedEvent::Closed {
            reason: CloseReason::Protocol(WebSeedError::Http(HttpError::UnexpectedEof)),
            unfinished: vec![
                PieceRange {
                    piece: 0,
                    start: 16384,
                    length: PL - 16384
                },
                r2
            ],
        }
    );
    // 503 with Retry-After; 404 without
    for (resp, status, retry) in [
        (
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
            503,
            120,
        ),
        (
            "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!",
            404,
            30,
        ),
        (
            "HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n",
            503,
            30,
        ),
    ] {
        let mut c = conn("http://h/s/", multi());
        c.request(PieceRange {
            piece: 2,
            start: 0,
            length: 10,
        })
        .unwrap();
        c.poll_transmit(Instant::now()).unwrap();
        c.on_data(resp.as_bytes(), Instant::now());
        let (reason, _) = closed_reason(&events(&mut c)).unwrap();
        let CloseReason::HttpStatus {
            status: s,
            file,
            retry_after,
            ..
        } = reason
        else {
            panic!("{reason:?}")
        };
        assert_eq!(
            (s, file, retry_after),
            (status, Some(2), Duration::from_secs(retry))
        );
    }
}

#[test]
fn pipeline_limit_and_connection_close() {
    let fs = single(100000);
    let data = content(&fs);
    let settings = WebSeedSettings {
        max_pipeline: 2,
        ..Default::default()
    };
    let mut c = WebSeedConnection::new(
        &seed("http://h/f", WebSeedKind::UrlSeed),
        fs.clone(),
        Sha1Hash([0; 20]),
        settings,
        Instant::now(),
    )
    .unwrap();
    for p in 0..3 {
        c.request(PieceRange {
            piece: p,
            start: 0,
            length: 100,
        })
        .unwrap();
    }
    let t = Instant::now();
    assert_eq!(requests(&c.poll_transmit(t).unwrap()).len(), 2);
    assert!(c.poll_transmit(t).is_none());
    c.on_data(&response_206(&data, 0, 99, 100000), t);
    let third = requests(&c.poll_transmit(t).unwrap());
    assert_eq!(
        third,
        vec![(
            "/f".to_string(),
            Some(format!("{}-{}", 2 * PL, 2 * PL + 99))
        )]
    );
    // the server answers the second and closes: the third is unfinished
    let mut resp = response_206(&data, PL as usize, PL as usize + 99, 100000);
    let pos = resp.windows(2).position(|w| w == b"\r\n").unwrap();
    resp.splice(pos..pos, b"\r\nConnection: close".iter().copied());
    c.on_data(&resp, t);
    let ev = events(&mut c);
    assert_eq!(
        ev.last(),
        Some(&WebSeedEvent::Closed {
            reason: CloseReason::ServerClosed,
            unfinished: vec![PieceRange {
                piece: 2,
                start: 0,
                length: 100
            }]
        })
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, WebSeedEvent::RequestDone(_)))
            .count(),
        2
    );
    assert_eq!(
        c.keep_alive(),
        Some(true),
        "the first response kept the connection"
    );
}

#[test]
fn timeout_only_with_requests_in_flight() {
    let t0 = Instant::now();
    let mut c = conn("http://h/f", single(1000));
    assert_eq!(c.next_timeout(), None);
    c.request(PieceRange {
        piece: 0,
        start: 0,
        length: 10,
    })
    .unwrap();
    assert_eq!(c.next_timeout(), None, "nothing sent yet");
    c.poll_transmit(t0).unwrap();
    assert_eq!(c.next_timeout(), Some(t0 + Duration::from_secs(20)));
    c.tick(t0 + Duration::from_secs(19));
    assert!(!c.is_closed());
    c.on_data(b"HTTP/1.1 206", t0 + Duration::from_secs(19));
    assert_eq!(c.next_timeout(), Some(t0 + Duration::from_secs(39)));
    c.tick(t0 + Duration::from_secs(39));
    assert!(c.is_closed());
    assert_eq!(
        closed_reason(&events(&mut c)).unwrap().0,
        CloseReason::Timeout
    );
}

#[test]
fn bad_requests_are_refused() {
    let mut c = conn("http://h/f", single(1000));
    for r in [
        PieceRange {
            piece: -1,
            start: 0,
            length: 1,
        },
        PieceRange {
            piece: 1,
            start: 0,
            length: 1,
        },
        PieceRange {
            piece: 0,
            start: 0,
            length: 0,
        },
        PieceRange {
            piece: 0,
            start: -1,
            length: 1,
        },
        PieceRange {
            piece: 0,
            start: 999,
            length: 2,
        },
    ] {
        assert_eq!(c.request(r), Err(WebSeedError::BadRequest), "{r:?}");
    }
    assert_eq!(
        WebSeedConnection::new(
            &seed("ftp://h/", WebSeedKind::UrlSeed),
            single(1),
            Sha1Hash([0; 20]),
            WebSeedSettings::default(),
            Instant::now()
        )
        .err(),
        Some(WebSeedError::Url(UrlError::UnsupportedScheme))
    );
    assert_eq!(
        WebSeedConnection::new(
            &seed("http://h/", WebSeedKind::UrlSeed),
            FileStorage::new(),
            Sha1Hash([0; 20]),
            WebSeedSettings::default(),
            Instant::now()
        )
        .err(),
        Some(WebSeedError::NoFiles)
    );
}

#[test]
fn parser_direct() {
    let mut p = ResponseParser::new(1024);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    let (n, ev) = p.parse(resp).unwrap();
    let Some(Parsed::Head(h)) = ev else { panic!() };
    assert_eq!(
        (
            h.status,
            h.reason.as_str(),
            h.content_length,
            h.connection_close
        ),
        (200, "OK", Some(3), true)
    );
    assert_eq!(h.header("connection"), Some("close"));
    let (m, ev) = p.parse(&resp[n..]).unwrap();
    assert_eq!(ev, Some(Parsed::Body(b"abc")));
    assert_eq!(p.parse(&resp[n + m..]).unwrap(), (0, Some(Parsed::End)));
    assert!(p.is_idle());
    assert_eq!(parse_content_range("bytes 0-0/1"), Ok((0, 1)));
    assert_eq!(parse_content_range("bytes 5-9/*"), Ok((5, 10)));
    assert!(parse_content_range("bytes -5/10").is_err());
    assert!(parse_content_range("bytes 1-2-3/10").is_err());
    // a chunk-size line longer than the limit is refused, not buffered
    let mut p = ResponseParser::new(1024);
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (n, _) = p.parse(head).unwrap();
    assert_eq!(n, head.len());
    let long = vec![b'0'; MAX_LINE + 1];
    assert_eq!(p.parse(&long), Err(HttpError::BadChunk));
}
