//! Magnet links between two engines in one process: the leecher knows only
//! the info-hash and fetches the info dictionary from the seed (BEP 9).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_bencode::Value;
use lt_core::Sha1Hash;
use lt_metainfo::TorrentInfo;
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

/// Deterministic pseudo-random bytes.
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

/// A v1 torrent of `files` (name, bytes) with the given piece length.
fn make_torrent(name: &str, files: &[(&str, &[u8])], piece_len: usize) -> TorrentInfo {
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

fn add(ses: &Session, ti: &Arc<TorrentInfo>, save: &Path) -> lt_session::TorrentId {
    add_with(ses, ti, save, SettingsPack::new())
}

fn add_with(
    ses: &Session,
    ti: &Arc<TorrentInfo>,
    save: &Path,
    settings: SettingsPack,
) -> lt_session::TorrentId {
    ses.call(move |e| e.apply_settings(&settings)).unwrap();
    let at = AddTorrent {
        meta: ti.clone(),
        save_path: save.to_string_lossy().into_owned(),
        flags: 0,
        peers: Vec::new(),
        file_priorities: Vec::new(),
        piece_priorities: Vec::new(),
        upload_limit: -1,
        download_limit: -1,
        max_connections: -1,
        max_uploads: -1,
        trackers: Vec::new(),
        storage_mode: lt_session::StorageMode::Sparse,
    };
    ses.call(move |e| e.add_torrent(at))
        .unwrap()
        .expect("added")
}

fn wait_state(ses: &Session, id: lt_session::TorrentId, want: TorrentState, secs: u64) {
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

fn seed_and_magnet(
    name: &str,
    leech_settings: SettingsPack,
) -> (
    Session,
    Session,
    lt_session::TorrentId,
    Vec<u8>,
    std::path::PathBuf,
) {
    let dir = tempdir();
    let a = data(300_000, 7);
    let ti = Arc::new(make_torrent(name, &[("a.bin", &a)], 16 * 1024));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join(name), &a).unwrap();
    let seeder = session();
    let leecher = session();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    let magnet = Arc::new(TorrentInfo::from_info_hash(ti.info_hashes()));
    let leech_dir = dir.join("leech");
    let l = add_with(&leecher, &magnet, &leech_dir, leech_settings);
    let st = leecher.call(move |e| e.status(l)).unwrap().unwrap();
    assert_eq!(st.state, TorrentState::DownloadingMetadata);
    assert!(!st.has_metadata);
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    (seeder, leecher, l, a, leech_dir)
}

#[test]
fn magnet_fetches_metadata_then_downloads() {
    let (_seeder, leecher, l, a, leech_dir) = seed_and_magnet("one.bin", SettingsPack::new());
    wait_state(&leecher, l, TorrentState::Seeding, 60);
    assert_eq!(std::fs::read(leech_dir.join("one.bin")).unwrap(), a);
    let meta = leecher.call(move |e| e.torrent_meta(l)).unwrap().unwrap();
    assert!(meta.is_valid());
    assert_eq!(meta.name(), "one.bin");
    let alerts = leecher.pop_alerts();
    assert!(alerts
        .iter()
        .any(|a| matches!(a.kind, AlertKind::MetadataReceived { .. })));
}

#[test]
fn metadata_above_max_metadata_size_is_refused() {
    let mut p = SettingsPack::new();
    p.set_int(keys::MAX_METADATA_SIZE, 100);
    let (_seeder, leecher, l, _a, _dir) = seed_and_magnet("two.bin", p);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut failed = None;
    while failed.is_none() && Instant::now() < deadline {
        for a in leecher.pop_alerts() {
            if let AlertKind::MetadataFailed { error, .. } = a.kind {
                failed = Some(error);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let error = failed.expect("metadata_failed_alert");
    assert_eq!(error.value, 100, "metadata_too_large");
    let st = leecher.call(move |e| e.status(l)).unwrap().unwrap();
    assert_eq!(st.state, TorrentState::DownloadingMetadata);
    assert!(!st.has_metadata);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "lt-session-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
