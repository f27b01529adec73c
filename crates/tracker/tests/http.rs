use std::io::Write;
use std::time::{Duration, Instant};

use lt_core::{PeerId, Sha1Hash};
use lt_tracker::http::{inflate_gzip, MAX_HEADER_BYTES};
use lt_tracker::*;

fn req(url: &str) -> TrackerRequest {
    TrackerRequest {
        url: url.into(),
        info_hash: Sha1Hash([0x41; 20]),
        peer_id: PeerId::from(*b"-LT2110-000000000000"),
        listen_port: 6881,
        left: 100,
        key: 0xabcdef01,
        event: Event::Started,
        num_want: 200,
        ..Default::default()
    }
}

const OK_BODY: &[u8] =
    b"d8:completei1e10:incompletei2e8:intervali1000e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";

#[test]
fn request_bytes() {
    let s = TrackerSettings::default();
    let c = HttpTrackerConnection::new(req("http://t.example:8080/announce"), &s, Instant::now())
        .unwrap();
    let text = String::from_utf8(c.request_bytes().to_vec()).unwrap();
    let url = c
        .url()
        .strip_prefix("http://t.example:8080")
        .unwrap()
        .to_string();
    assert_eq!(
        text,
        format!(
            "GET {url} HTTP/1.1\r\nHost: t.example:8080\r\nUser-Agent: libtorrent/2.1.1.0\r\n\
             Accept-Encoding: gzip\r\nConnection: close\r\n\r\n"
        )
    );
    assert_eq!(
        (c.host(), c.port(), c.is_https()),
        ("t.example", 8080, false)
    );
    assert!(url.starts_with(
        "/announce?info_hash=AAAAAAAAAAAAAAAAAAAA&peer_id=-LT2110-000000000000&port=6881"
    ));

    // default port omitted, custom user agent, auth from the URL
    let s = TrackerSettings {
        user_agent: "qBittorrent/5.0".into(),
        ..Default::default()
    };
    let c = HttpTrackerConnection::new(req("https://u:p@t.example/a/announce"), &s, Instant::now())
        .unwrap();
    let text = String::from_utf8(c.request_bytes().to_vec()).unwrap();
    assert!(
        text.contains("\r\nHost: t.example\r\nUser-Agent: qBittorrent/5.0\r\n"),
        "{text}"
    );
    assert!(text.contains("Authorization: Basic dTpw\r\n"));
    assert_eq!((c.port(), c.is_https()), (443, true));

    // anonymous mode sends libtorrent's generic user agent (except for
    // private torrents)
    let s = TrackerSettings {
        anonymous_mode: true,
        ..Default::default()
    };
    let c = HttpTrackerConnection::new(req("http://t/announce"), &s, Instant::now()).unwrap();
    assert!(String::from_utf8_lossy(c.request_bytes()).contains("\r\nUser-Agent: curl/7.81.0\r\n"));
    let mut r = req("http://t/announce");
    r.private_torrent = true;
    let c = HttpTrackerConnection::new(r, &s, Instant::now()).unwrap();
    assert!(
        String::from_utf8_lossy(c.request_bytes()).contains("User-Agent: libtorrent/2.1.1.0\r\n")
    );

    // IPv6 literal host
    let c = HttpTrackerConnection::new(
        req("http://[::1]:6969/announce"),
        &TrackerSettings::default(),
        Instant::now(),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(c.request_bytes()).contains("\r\nHost: [::1]:6969\r\n"));
    assert_eq!(c.host(), "::1");

    assert_eq!(
        HttpTrackerConnection::new(
            req("udp://t:1/announce"),
            &TrackerSettings::default(),
            Instant::now()
        )
        .unwrap_err(),
        TrackerError::UnsupportedUrlProtocol
    );
}

fn run(resp: &[u8], chunk: usize) -> Option<HttpTrackerOutcome> {
    let now = Instant::now();
    let mut c =
        HttpTrackerConnection::new(req("http://t/announce"), &TrackerSettings::default(), now)
            .unwrap();
    for part in resp.chunks(chunk.max(1)) {
        if let Some(o) = c.on_data(now, part) {
            return Some(o);
        }
    }
    c.on_eof(now)
}

fn announce(o: Option<HttpTrackerOutcome>) -> AnnounceResponse {
    match o {
        Some(HttpTrackerOutcome::Announce(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn failed(o: Option<HttpTrackerOutcome>) -> TrackerError {
    match o {
        Some(HttpTrackerOutcome::Failed(e)) => e.error,
        other => panic!("{other:?}"),
    }
}

#[test]
fn content_length_response_any_split() {
    let resp = [
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            OK_BODY.len()
        )
        .as_bytes(),
        OK_BODY,
    ]
    .concat();
    for chunk in [1, 2, 3, 7, 1000] {
        let r = announce(run(&resp, chunk));
        assert_eq!(r.interval, 1000);
        assert_eq!(r.peers4, vec!["127.0.0.1:6881".parse().unwrap()]);
        assert_eq!((r.complete, r.incomplete), (1, 2));
    }
    // interval raised to min_announce_interval
    let body = b"d8:intervali10ee";
    let resp = [
        format!("HTTP/1.0 200 OK\nContent-Length: {}\n\n", body.len()).as_bytes(),
        body,
    ]
    .concat();
    assert_eq!(announce(run(&resp, 5)).interval, 300);
}

#[test]
fn chunked_and_eof_delimited_bodies() {
    let (a, b) = OK_BODY.split_at(10);
    let resp = [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        format!("{:x};ext=1\r\n", a.len()).as_bytes(),
        a,
        b"\r\n",
        format!("{:X}\r\n", b.len()).as_bytes(),
        b,
        b"\r\n0\r\nX-Trailer: y\r\n\r\n",
    ]
    .concat();
    for chunk in [1, 4, 1000] {
        assert_eq!(announce(run(&resp, chunk)).interval, 1000);
    }
    let resp = [&b"HTTP/1.1 200 OK\r\n\r\n"[..], OK_BODY].concat();
    assert_eq!(announce(run(&resp, 3)).interval, 1000);
}

#[test]
fn gzip_body() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(OK_BODY).unwrap();
    let gz = enc.finish().unwrap();
    let resp = [
        format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            gz.len()
        )
        .as_bytes(),
        &gz,
    ]
    .concat();
    assert_eq!(announce(run(&resp, 100)).interval, 1000);
    // a bomb is cut at the limit
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'a'; 10 << 20]).unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 100_000);
    assert_eq!(
        inflate_gzip(&bomb, 1 << 20),
        Err(TrackerError::ResponseTooLarge)
    );
    assert_eq!(inflate_gzip(b"not gzip", 1 << 20), Err(TrackerError::Gzip));
    let resp = [
        format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            bomb.len()
        )
        .as_bytes(),
        &bomb,
    ]
    .concat();
    assert_eq!(failed(run(&resp, 4096)), TrackerError::ResponseTooLarge);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nde";
    assert!(matches!(failed(run(resp, 100)), TrackerError::HttpParse(_)));
}

#[test]
fn status_errors_and_failure_reason() {
    let e = failed(run(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!",
        100,
    ));
    assert_eq!(
        e,
        TrackerError::HttpStatus {
            code: 404,
            message: "Not Found".into()
        }
    );
    // the error is known from the head alone
    let now = Instant::now();
    let mut c =
        HttpTrackerConnection::new(req("http://t/announce"), &TrackerSettings::default(), now)
            .unwrap();
    assert!(matches!(
        c.on_data(now, b"HTTP/1.1 503 Busy\r\nContent-Length: 100000\r\n\r\n"),
        Some(HttpTrackerOutcome::Failed(_))
    ));
    let body = b"d14:failure reason6:banned8:intervali60ee";
    let resp = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        body,
    ]
    .concat();
    match run(&resp, 100) {
        Some(HttpTrackerOutcome::Failed(e)) => {
            assert_eq!(e.error, TrackerError::TrackerFailure("banned".into()));
            assert_eq!(e.retry_interval, 300, "raised to min_announce_interval");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_http() {
    for resp in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 999 X\r\n\r\n",
        b"FTP 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\ndeXX\r\n",
    ] {
        assert!(
            matches!(failed(run(resp, 3)), TrackerError::HttpParse(_)),
            "{}",
            String::from_utf8_lossy(resp)
        );
    }
    // truncated bodies
    assert_eq!(
        failed(run(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nde", 3)),
        TrackerError::UnexpectedEof
    );
    assert_eq!(
        failed(run(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde",
            3
        )),
        TrackerError::UnexpectedEof
    );
    assert_eq!(
        failed(run(b"HTTP/1.1 200 OK\r\nContent", 3)),
        TrackerError::UnexpectedEof
    );
    assert_eq!(failed(run(b"", 3)), TrackerError::UnexpectedEof);
    // headers without end
    let endless = [
        &b"HTTP/1.1 200 OK\r\n"[..],
        &b"X: y\r\n".repeat(MAX_HEADER_BYTES / 4),
    ]
    .concat();
    assert!(matches!(
        failed(run(&endless, 500)),
        TrackerError::HttpParse(_)
    ));
    // too many headers
    let many = [
        &b"HTTP/1.1 200 OK\r\n"[..],
        &b"X: y\r\n".repeat(200),
        b"\r\n",
    ]
    .concat();
    assert!(matches!(
        failed(run(&many, 500)),
        TrackerError::HttpParse(_)
    ));
    // a chunk line without end
    let resp = [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        &[b'1'; 2000],
    ]
    .concat();
    assert!(matches!(
        failed(run(&resp, 100)),
        TrackerError::HttpParse(_)
    ));
    // non-dictionary body
    let e = failed(run(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nle", 3));
    assert_eq!(e, TrackerError::InvalidTrackerResponse);
    // retry intervals: body errors wait the interval (default 1800), the
    // rest only back off
    let retry = |resp: &[u8]| match run(resp, 100) {
        Some(HttpTrackerOutcome::Failed(e)) => e.retry_interval,
        other => panic!("{other:?}"),
    };
    assert_eq!(retry(b"HTTP/1.1 200 OK\r\n\r\ngarbage"), 1800);
    assert_eq!(
        retry(b"HTTP/1.1 200 OK\r\n\r\nd14:failure reason1:x8:intervali10ee"),
        300
    );
    assert_eq!(retry(b"HTTP/1.1 404 Not Found\r\n\r\n"), 0);
    assert_eq!(retry(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nd"), 0);
}

#[test]
fn body_size_limit() {
    let s = TrackerSettings {
        max_http_recv_buffer_size: 1000,
        ..Default::default()
    };
    let now = Instant::now();
    let mk = || HttpTrackerConnection::new(req("http://t/announce"), &s, now).unwrap();
    let mut c = mk();
    assert_eq!(
        c.on_data(now, b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n"),
        None
    );
    assert!(
        matches!(c.on_data(now, &[b'x'; 1001]), Some(HttpTrackerOutcome::Failed(e)) if e.error == TrackerError::ResponseTooLarge)
    );
    let mut c = mk();
    c.on_data(now, b"HTTP/1.1 200 OK\r\n\r\n");
    let mut out = None;
    for _ in 0..20 {
        out = c.on_data(now, &[b'x'; 100]);
        if out.is_some() {
            break;
        }
    }
    assert!(
        matches!(out, Some(HttpTrackerOutcome::Failed(e)) if e.error == TrackerError::ResponseTooLarge)
    );
    let mut c = mk();
    let o = c.on_data(
        now,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n",
    );
    assert!(
        matches!(o, Some(HttpTrackerOutcome::Failed(e)) if e.error == TrackerError::ResponseTooLarge)
    );
}

#[test]
fn redirects() {
    let now = Instant::now();
    let mut c = HttpTrackerConnection::new(
        req("http://t.example/announce"),
        &TrackerSettings::default(),
        now,
    )
    .unwrap();
    let o = c.on_data(
        now,
        b"HTTP/1.1 302 Found\r\nLocation: http://other.example:81/x/announce?info_hash=1\r\n\r\n",
    );
    assert_eq!(
        o,
        Some(HttpTrackerOutcome::Redirect {
            location: "http://other.example:81/x/announce?info_hash=1".into()
        })
    );
    c.follow_redirect("http://other.example:81/x/announce?info_hash=1", now)
        .unwrap();
    assert_eq!((c.host(), c.port()), ("other.example", 81));
    assert!(c
        .request_bytes()
        .starts_with(b"GET /x/announce?info_hash=1 HTTP/1.1\r\nHost: other.example:81\r\n"));
    // relative locations
    let o = c.on_data(
        now,
        b"HTTP/1.1 301 Moved\r\nLocation: /abs?x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(matches!(o, Some(HttpTrackerOutcome::Redirect { .. })));
    c.follow_redirect("/abs?x", now).unwrap();
    assert_eq!(c.url(), "http://other.example:81/abs?x");
    c.follow_redirect("rel", now).unwrap();
    assert_eq!(c.url(), "http://other.example:81/rel");
    assert_eq!(
        c.follow_redirect("ftp://x/", now),
        Err(TrackerError::InvalidRedirect)
    );
    assert_eq!(
        c.follow_redirect("http://bad host/", now),
        Err(TrackerError::InvalidRedirect)
    );
    // the redirected request completes normally
    let resp = [
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            OK_BODY.len()
        )
        .as_bytes(),
        OK_BODY,
    ]
    .concat();
    assert!(matches!(
        c.on_data(now, &resp),
        Some(HttpTrackerOutcome::Announce(_))
    ));
    // at most five
    for _ in 0..2 {
        c.follow_redirect("/again", now).unwrap();
    }
    assert_eq!(
        c.follow_redirect("/again", now),
        Err(TrackerError::TooManyRedirects)
    );
    // a 3xx without Location is an HTTP error
    assert!(matches!(
        failed(run(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 100)),
        TrackerError::HttpStatus { code: 302, .. }
    ));
}

#[test]
fn timeouts() {
    let t0 = Instant::now();
    let s = TrackerSettings::default();
    let mut c = HttpTrackerConnection::new(req("http://t/announce"), &s, t0).unwrap();
    // nothing received: the 10 s receive timeout
    assert_eq!(c.next_timeout(), t0 + Duration::from_secs(10));
    assert_eq!(c.on_timeout(t0 + Duration::from_secs(9)), None);
    // data keeps it alive until the 30 s completion timeout
    for s in [5, 14, 23] {
        assert_eq!(
            c.on_data(t0 + Duration::from_secs(s), b"HTTP/1.1 200 OK\r\n"),
            None
        );
    }
    assert_eq!(c.next_timeout(), t0 + Duration::from_secs(30));
    assert!(
        matches!(c.on_timeout(t0 + Duration::from_secs(30)), Some(HttpTrackerOutcome::Failed(e)) if e.error == TrackerError::TimedOut)
    );
    assert_eq!(c.on_data(t0, b"more"), None, "finished");
    // stopped: stop_tracker_timeout
    let mut r = req("http://t/announce");
    r.event = Event::Stopped;
    let c = HttpTrackerConnection::new(r, &s, t0).unwrap();
    assert_eq!(c.next_timeout(), t0 + Duration::from_secs(5));
}

#[test]
fn scrape_over_http() {
    let now = Instant::now();
    let mut r = req("http://t/announce");
    r.kind = RequestKind::Scrape;
    let mut c = HttpTrackerConnection::new(r, &TrackerSettings::default(), now).unwrap();
    assert!(c
        .request_bytes()
        .starts_with(b"GET /scrape?info_hash=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\n"));
    let body = [
        &b"d5:filesd20:"[..],
        &[0x41; 20],
        b"d8:completei2e10:downloadedi3e10:incompletei4eeee",
    ]
    .concat();
    let resp = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        &body,
    ]
    .concat();
    match c.on_data(now, &resp) {
        Some(HttpTrackerOutcome::Scrape(s)) => {
            assert_eq!((s.complete, s.downloaded, s.incomplete), (2, 3, 4))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ssrf_mitigation_and_idna() {
    let s = TrackerSettings::default();
    let now = Instant::now();
    // query strings that already carry tracker parameters
    for url in [
        "http://t/announce?info_hash=x",
        "http://t/a?Port=1",
        "http://t/announce?a=1&peer_id",
    ] {
        assert_eq!(
            HttpTrackerConnection::new(req(url), &s, now).unwrap_err(),
            TrackerError::SsrfMitigation,
            "{url}"
        );
    }
    assert!(HttpTrackerConnection::new(req("http://t/announce?passkey=1"), &s, now).is_ok());
    let off = TrackerSettings {
        ssrf_mitigation: false,
        allow_idna: true,
        ..Default::default()
    };
    assert!(HttpTrackerConnection::new(req("http://t/a?port=1"), &off, now).is_ok());

    // loopback trackers must use an /announce path
    let loopback: Vec<std::net::IpAddr> =
        vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let mut c = HttpTrackerConnection::new(req("http://localhost/x/announce"), &s, now).unwrap();
    let mut addrs = loopback.clone();
    addrs.push("10.0.0.1".parse().unwrap());
    assert_eq!(c.filter_endpoints(&mut addrs), None);
    assert_eq!(addrs, vec!["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    let mut addrs = loopback.clone();
    assert!(
        matches!(c.filter_endpoints(&mut addrs), Some(HttpTrackerOutcome::Failed(e)) if e.error == TrackerError::SsrfMitigation)
    );
    let mut c = HttpTrackerConnection::new(req("http://localhost/announce.php"), &s, now).unwrap();
    let mut addrs = loopback.clone();
    assert_eq!(c.filter_endpoints(&mut addrs), None);
    assert_eq!(addrs, loopback);
    let mut c = HttpTrackerConnection::new(req("http://localhost/x"), &off, now).unwrap();
    let mut addrs = loopback.clone();
    assert_eq!(c.filter_endpoints(&mut addrs), None);

    // IDNA host names
    assert_eq!(
        HttpTrackerConnection::new(req("http://xn--9ca.example/announce"), &s, now).unwrap_err(),
        TrackerError::BlockedByIdna
    );
    assert!(HttpTrackerConnection::new(req("http://xn--9ca.example/announce"), &off, now).is_ok());
    assert_eq!(
        TrackerError::SsrfMitigation.to_string(),
        "blocked by SSRF mitigation"
    );
    assert_eq!(
        TrackerError::BlockedByIdna.to_string(),
        "blocked by IDNA ban"
    );
}

#[test]
fn set_login_adds_basic_auth_and_keeps_it_across_redirects() {
    let s = TrackerSettings::default();
    let mut c =
        HttpTrackerConnection::new(req("http://x:y@t.example/announce"), &s, Instant::now())
            .unwrap();
    c.set_login("user:pa:ss");
    let text = String::from_utf8(c.request_bytes().to_vec()).unwrap();
    // base64("user:pa:ss"); the URL's own credentials are replaced
    assert!(
        text.contains("\r\nAuthorization: Basic dXNlcjpwYTpzcw==\r\n"),
        "{text}"
    );
    assert_eq!(text.matches("Authorization").count(), 1);
    c.follow_redirect("http://other.example/announce?x=1", Instant::now())
        .unwrap();
    let text = String::from_utf8(c.request_bytes().to_vec()).unwrap();
    assert!(text.contains("Host: other.example\r\n"));
    assert!(
        text.contains("\r\nAuthorization: Basic dXNlcjpwYTpzcw==\r\n"),
        "{text}"
    );
}
