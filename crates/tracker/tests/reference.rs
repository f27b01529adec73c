//! Differential test: the HTTP announce requests (URL and headers) we build
//! are byte-for-byte those the reference libtorrent sends, for the same
//! peer id, key, port and counters. Skips when the reference module's
//! virtualenv (`.venv-ref`, see scripts/setup.sh) is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lt_core::{PeerId, Sha1Hash};
use lt_tracker::*;

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn param<'a>(request_line: &'a str, name: &str) -> &'a str {
    let query = request_line
        .split_once('?')
        .unwrap()
        .1
        .split(' ')
        .next()
        .unwrap();
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
}

/// Pulls a JSON string array out of the reference script's output.
fn json_strings(json: &str, key: &str) -> Vec<String> {
    let start = json.find(&format!("\"{key}\": [")).unwrap() + key.len() + 5;
    let mut out = Vec::new();
    let mut chars = json[start..].chars();
    loop {
        match chars.next() {
            Some('"') => {
                let mut s = String::new();
                loop {
                    match chars.next().unwrap() {
                        '"' => break,
                        '\\' => match chars.next().unwrap() {
                            'r' => s.push('\r'),
                            'n' => s.push('\n'),
                            '"' => s.push('"'),
                            '\\' => s.push('\\'),
                            c => panic!("unexpected escape {c}"),
                        },
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            Some(']') | None => return out,
            Some(_) => {}
        }
    }
}

#[test]
fn http_announce_requests_match_reference_libtorrent() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv-ref/bin/python");
    if !python.exists() {
        eprintln!(
            "SKIPPED: reference libtorrent not installed at {} (run scripts/setup.sh)",
            python.display()
        );
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ref_announce.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("reference script timed out");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let json = String::from_utf8(out.stdout).unwrap();
    let requests = json_strings(&json, "requests");
    assert_eq!(
        requests.len(),
        2,
        "expected started and stopped announces: {json}"
    );

    for (raw, event, num_want) in [
        (&requests[0], Event::Started, 200),
        (&requests[1], Event::Stopped, 0),
    ] {
        let line = raw.lines().next().unwrap();
        let host = raw.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap();
        let req = TrackerRequest {
            url: format!("http://{host}/announce?passkey=a%20b"),
            info_hash: Sha1Hash((0u8..20).collect::<Vec<_>>().try_into().unwrap()),
            peer_id: PeerId::from_slice(&unescape(param(line, "peer_id"))).unwrap(),
            listen_port: param(line, "port").parse().unwrap(),
            left: 16384,
            key: u32::from_str_radix(param(line, "key"), 16).unwrap(),
            event,
            num_want,
            ..Default::default()
        };
        let c =
            HttpTrackerConnection::new(req, &TrackerSettings::default(), Instant::now()).unwrap();
        assert_eq!(String::from_utf8(c.request_bytes().to_vec()).unwrap(), *raw);
    }

    // UDP: a connect, then the announces (the connection id is reused for
    // the stopped one)
    let udp: Vec<Vec<u8>> = json_strings(&json, "udp")
        .iter()
        .map(|h| lt_core::from_hex(h).unwrap())
        .collect();
    assert_eq!(udp.len(), 3, "{json}");
    let tid = u32::from_be_bytes(udp[0][12..16].try_into().unwrap());
    assert_eq!(udp[0], lt_tracker::udp::encode_connect(tid));
    for (pkt, event, num_want) in [(&udp[1], Event::Started, 200), (&udp[2], Event::Stopped, 0)] {
        let req = TrackerRequest {
            url: "udp://127.0.0.1:1/announce".into(),
            info_hash: Sha1Hash((0u8..20).collect::<Vec<_>>().try_into().unwrap()),
            peer_id: PeerId::from_slice(&pkt[36..56]).unwrap(),
            listen_port: u16::from_be_bytes([pkt[96], pkt[97]]),
            left: 16384,
            key: u32::from_be_bytes(pkt[88..92].try_into().unwrap()),
            event,
            num_want,
            ..Default::default()
        };
        let tid = u32::from_be_bytes(pkt[12..16].try_into().unwrap());
        let ours =
            lt_tracker::udp::encode_announce(0x1122334455667788, tid, &req, None, b"/announce");
        assert_eq!(lt_core::to_hex(&ours), lt_core::to_hex(pkt));
    }
}
