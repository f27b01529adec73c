//! Web seeds driven by the engine, against a tiny keep-alive HTTP server
//! on loopback: BEP 17 (`httpseeds`, reachable only through the Rust API,
//! as libtorrent 2.x's Python API ignores them) and BEP 19 with a
//! `503` + `Retry-After` answer that must be honoured.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lt_bencode::Value;
use lt_core::Sha1Hash;
use lt_metainfo::{TorrentInfo, WebSeedKind};
use lt_session::alert::category;
use lt_session::torrent::AddTorrent;
use lt_session::{AlertKind, Session, TorrentState};
use lt_settings::{keys, SettingsPack};

fn session() -> Session {
    let mut p = SettingsPack::new();
    p.set_str(keys::LISTEN_INTERFACES, "127.0.0.1:0");
    p.set_int(keys::ALERT_MASK, category::ALL as i32);
    p.set_bool(keys::ENABLE_DHT, false);
    p.set_bool(keys::ENABLE_LSD, false);
    p.set_bool(keys::ENABLE_UPNP, false);
    p.set_bool(keys::ENABLE_NATPMP, false);
    Session::new(&p).expect("session")
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn single_file_torrent(name: &str, content: &[u8], piece_len: usize) -> TorrentInfo {
    let pieces: Vec<u8> = content
        .chunks(piece_len)
        .flat_map(|c| Sha1Hash::digest(c).0)
        .collect();
    let mut info = BTreeMap::new();
    info.insert(b"name".to_vec(), Value::Bytes(name.into()));
    info.insert(b"piece length".to_vec(), Value::Int(piece_len as i64));
    info.insert(b"pieces".to_vec(), Value::Bytes(pieces));
    info.insert(b"length".to_vec(), Value::Int(content.len() as i64));
    let mut t = BTreeMap::new();
    t.insert(b"info".to_vec(), Value::Dict(info));
    TorrentInfo::from_bytes(&Value::Dict(t).encode()).expect("valid torrent")
}

fn add(ses: &Session, ti: &Arc<TorrentInfo>, save: &Path) -> lt_session::TorrentId {
    let at = AddTorrent::new(ti.clone(), save.to_string_lossy().into_owned());
    ses.call(move |e| e.add_torrent(at))
        .unwrap()
        .expect("added")
}

fn wait_seeding(ses: &Session, id: lt_session::TorrentId, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let st = ses.call(move |e| e.status(id)).unwrap().expect("status");
        if st.state == TorrentState::Seeding {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out in state {:?} (progress {})",
            st.state,
            st.progress
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "lt-webseed-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

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
    let dir = tempdir();
    let piece_len = 32 * 1024;
    let content = Arc::new(data(300_007, 11));
    let ti = Arc::new(single_file_torrent("h.bin", &content, piece_len));
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
    wait_seeding(&ses, id, 30);
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
    let dir = tempdir();
    let content = Arc::new(data(200_000, 5));
    let ti = Arc::new(single_file_torrent("r.bin", &content, 16 * 1024));
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
    wait_seeding(&ses, id, 15);
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
