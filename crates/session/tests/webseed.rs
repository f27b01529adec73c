//! Web seeds driven by the engine, against a tiny keep-alive HTTP server
//! on loopback: BEP 17 (`httpseeds`, reachable only through the Rust API,
//! as libtorrent 2.x's Python API ignores them) and BEP 19 with a
//! `503` + `Retry-After` answer that must be honoured.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lt_metainfo::WebSeedKind;
use lt_session::{AlertKind, TorrentState};

/// A keep-alive HTTP/1.1 server: `answer(target, range)` gives the status
/// line, extra headers and body of each request. Returns the port and the
/// request targets seen.
fn serve<F>(answer: F) -> (u16, Arc<Mutex<Vec<String>>>)
where
    F: Fn(&str, Option<(u64, u64)>) -> (String, String, Vec<u8>) + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let answer = answer.clone();
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split(' ').nth(1).unwrap_or("").to_string();
                    let mut range = None;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("Range: bytes=") {
                            let (a, b) = v.split_once('-').unwrap();
                            range = Some((a.parse().unwrap(), b.parse().unwrap()));
                        }
                    }
                    seen.lock().unwrap().push(target.clone());
                    let (status, headers, body) = answer(&target, range);
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{headers}\r\n",
                        body.len()
                    );
                    if w.write_all(head.as_bytes()).is_err() || w.write_all(&body).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn query<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

#[test]
fn bep17_http_seed_downloads_byte_for_byte() {
    let dir = tempdir("webseed");
    let piece_len = 32 * 1024;
    let content = Arc::new(data(300_007, 11));
    let ti = Arc::new(make_torrent("h.bin", &[("h.bin", &content)], piece_len));
    let c = content.clone();
    let (port, seen) = serve(move |target, _| {
        let piece: usize = query(target, "piece").unwrap().parse().unwrap();
        let start = piece * piece_len;
        let end = (start + piece_len).min(c.len());
        let mut body = c[start..end].to_vec();
        if let Some(r) = query(target, "ranges") {
            let (a, b) = r.split_once('-').unwrap();
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            body = body[a..=b].to_vec();
        }
        ("200 OK".into(), String::new(), body)
    });
    let ses = session();
    let id = add(&ses, &ti, &dir);
    let url = format!("http://127.0.0.1:{port}/seed");
    assert!(ses
        .call(move |e| e.add_web_seed(id, url, WebSeedKind::HttpSeed))
        .unwrap());
    wait_state(&ses, id, TorrentState::Seeding, 30);
    assert_eq!(std::fs::read(dir.join("h.bin")).unwrap(), *content);
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    let ih = ti.info_hashes().v1;
    for t in seen.iter() {
        assert!(t.starts_with("/seed?info_hash="), "{t}");
        let got = query(t, "info_hash").unwrap();
        assert!(got.len() >= 20);
        // the escaped hash decodes to the v1 info-hash
        let mut raw = Vec::new();
        let b = got.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                raw.push(u8::from_str_radix(&got[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                raw.push(b[i]);
                i += 1;
            }
        }
        assert_eq!(raw, ih.0);
    }
    assert_eq!(
        ses.call(move |e| e.web_seed_urls(id, WebSeedKind::HttpSeed))
            .unwrap(),
        vec![format!("http://127.0.0.1:{port}/seed")]
    );
}

#[test]
fn bep19_retry_after_is_honoured() {
    let dir = tempdir("webseed");
    let content = Arc::new(data(200_000, 5));
    let ti = Arc::new(make_torrent("r.bin", &[("r.bin", &content)], 16 * 1024));
    let c = content.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let calls2 = calls.clone();
    let (port, _) = serve(move |_, range| {
        if calls2.fetch_add(1, Ordering::SeqCst) == 0 {
            return (
                "503 Service Unavailable".into(),
                "Retry-After: 1\r\n".into(),
                Vec::new(),
            );
        }
        let (a, b) = range.unwrap();
        (
            "206 Partial Content".into(),
            format!("Content-Range: bytes {a}-{b}/{}\r\n", c.len()),
            c[a as usize..=b as usize].to_vec(),
        )
    });
    let ses = session();
    let id = add(&ses, &ti, &dir);
    let url = format!("http://127.0.0.1:{port}/");
    let started = Instant::now();
    assert!(ses
        .call(move |e| e.add_web_seed(id, url, WebSeedKind::UrlSeed))
        .unwrap());
    // the default retry delay (urlseed_wait_retry) is 30 s: finishing
    // well before shows the server's Retry-After was used
    wait_state(&ses, id, TorrentState::Seeding, 15);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(std::fs::read(dir.join("r.bin")).unwrap(), *content);
    let alerts = ses.pop_alerts();
    let failed: Vec<String> = alerts
        .iter()
        .filter_map(|a| match &a.kind {
            AlertKind::UrlSeed { url, msg, .. } => Some(format!("{url} {msg}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        vec![format!("http://127.0.0.1:{port}/ 503 Service Unavailable")]
    );
}
