//! Helpers shared by the engine's integration tests: a loopback session
//! with discovery off, deterministic data, v1 torrents built in memory,
//! adding and waiting.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_bencode::Value;
use lt_core::Sha1Hash;
use lt_metainfo::TorrentInfo;
use lt_session::alert::category;
use lt_session::torrent::AddTorrent;
use lt_session::{Session, TorrentState};
use lt_settings::{keys, SettingsPack};

pub fn session() -> Session {
    let mut p = SettingsPack::new();
    p.set_str(keys::LISTEN_INTERFACES, "127.0.0.1:0");
    p.set_int(keys::ALERT_MASK, category::ALL as i32);
    p.set_bool(keys::ENABLE_DHT, false);
    p.set_bool(keys::ENABLE_LSD, false);
    p.set_bool(keys::ENABLE_UPNP, false);
    p.set_bool(keys::ENABLE_NATPMP, false);
    Session::new(&p).expect("session")
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
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

/// A v1 torrent of `files` (name, bytes) with the given piece length.
pub fn make_torrent(name: &str, files: &[(&str, &[u8])], piece_len: usize) -> TorrentInfo {
    let all: Vec<u8> = files.iter().flat_map(|f| f.1.iter().copied()).collect();
    let pieces: Vec<u8> = all
        .chunks(piece_len)
        .flat_map(|c| Sha1Hash::digest(c).0)
        .collect();
    let mut info = BTreeMap::new();
    info.insert(b"name".to_vec(), Value::Bytes(name.into()));
    info.insert(b"piece length".to_vec(), Value::Int(piece_len as i64));
    info.insert(b"pieces".to_vec(), Value::Bytes(pieces));
    if files.len() == 1 {
        info.insert(b"length".to_vec(), Value::Int(all.len() as i64));
    } else {
        let list = files
            .iter()
            .map(|(n, d)| {
                let mut f = BTreeMap::new();
                f.insert(b"length".to_vec(), Value::Int(d.len() as i64));
                f.insert(
                    b"path".to_vec(),
                    Value::List(vec![Value::Bytes(n.as_bytes().to_vec())]),
                );
                Value::Dict(f)
            })
            .collect();
        info.insert(b"files".to_vec(), Value::List(list));
    }
    let mut t = BTreeMap::new();
    t.insert(b"info".to_vec(), Value::Dict(info));
    TorrentInfo::from_bytes(&Value::Dict(t).encode()).expect("valid torrent")
}

pub fn add(ses: &Session, ti: &Arc<TorrentInfo>, save: &Path) -> lt_session::TorrentId {
    let at = AddTorrent::new(ti.clone(), save.to_string_lossy().into_owned());
    ses.call(move |e| e.add_torrent(at))
        .unwrap()
        .expect("added")
}

pub fn wait_state(ses: &Session, id: lt_session::TorrentId, want: TorrentState, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let st = ses.call(move |e| e.status(id)).unwrap().expect("status");
        if st.state == want {
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

/// A fresh directory under the system temp dir, named after `tag`.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "lt-{tag}-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
