//! Two sessions in one process trade a torrent over loopback.

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

#[test]
fn seed_to_leech_multi_file_byte_for_byte() {
    let dir = tempdir();
    let a = data(700_000, 1);
    let b = data(5, 2);
    let c = data(1_300_001, 3);
    let ti = Arc::new(make_torrent(
        "multi",
        &[("a.bin", &a), ("b.bin", &b), ("c.bin", &c)],
        64 * 1024,
    ));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(seed_dir.join("multi")).unwrap();
    std::fs::write(seed_dir.join("multi/a.bin"), &a).unwrap();
    std::fs::write(seed_dir.join("multi/b.bin"), &b).unwrap();
    std::fs::write(seed_dir.join("multi/c.bin"), &c).unwrap();

    let seeder = session();
    let leecher = session();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    let leech_dir = dir.join("leech");
    let l = add(&leecher, &ti, &leech_dir);
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    wait_state(&leecher, l, TorrentState::Seeding, 60);
    assert_eq!(std::fs::read(leech_dir.join("multi/a.bin")).unwrap(), a);
    assert_eq!(std::fs::read(leech_dir.join("multi/b.bin")).unwrap(), b);
    assert_eq!(std::fs::read(leech_dir.join("multi/c.bin")).unwrap(), c);
    let alerts = leecher.pop_alerts();
    let finished = alerts
        .iter()
        .filter(|a| matches!(a.kind, AlertKind::TorrentFinished { .. }))
        .count();
    let pieces = alerts
        .iter()
        .filter(|a| matches!(a.kind, AlertKind::PieceFinished { .. }))
        .count();
    assert_eq!(finished, 1);
    assert_eq!(pieces, ti.num_pieces() as usize);
    let st = seeder.call(move |e| e.status(s)).unwrap().unwrap();
    assert!(st.total_payload_upload >= (a.len() + b.len() + c.len()) as i64);
}

#[test]
fn existing_files_are_checked_and_partial_data_kept() {
    let dir = tempdir();
    let content = data(1_000_000, 7);
    let ti = Arc::new(make_torrent("one.bin", &[("one.bin", &content)], 32 * 1024));
    // Half the file is right, the rest is garbage.
    let mut on_disk = content.clone();
    for b in on_disk[500_000..].iter_mut() {
        *b ^= 0x5a;
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("one.bin"), &on_disk).unwrap();
    let ses = session();
    let id = add(&ses, &ti, &dir);
    wait_state(&ses, id, TorrentState::Downloading, 20);
    let st = ses.call(move |e| e.status(id)).unwrap().unwrap();
    let good = 500_000 / (32 * 1024);
    assert_eq!(st.num_pieces, good as i32);
    assert!(st.pieces[..good].iter().all(|&h| h));
    assert!(st.pieces[good..].iter().all(|&h| !h));
}

#[test]
fn allocate_mode_allocates_wanted_files_once_checked() {
    let dir = tempdir();
    let a = data(300_000, 11);
    let b = data(70_001, 12);
    let ses = session();
    let mut ids = Vec::new();
    for (sub, mode, piece) in [
        ("allocate", lt_session::StorageMode::Allocate, 32 * 1024),
        ("sparse", lt_session::StorageMode::Sparse, 16 * 1024),
    ] {
        // Two torrents (the piece size differs): a session holds one of each.
        let ti = Arc::new(make_torrent(
            "alloc",
            &[("a.bin", &a), ("b.bin", &b)],
            piece,
        ));
        let at = AddTorrent {
            meta: ti,
            save_path: dir.join(sub).to_string_lossy().into_owned(),
            flags: 0,
            peers: Vec::new(),
            file_priorities: Vec::new(),
            piece_priorities: Vec::new(),
            upload_limit: -1,
            download_limit: -1,
            max_connections: -1,
            max_uploads: -1,
            trackers: Vec::new(),
            storage_mode: mode,
        };
        let id = ses
            .call(move |e| e.add_torrent(at))
            .unwrap()
            .expect("added");
        wait_state(&ses, id, TorrentState::Downloading, 20);
        ids.push(id);
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let alloc = dir.join("allocate/alloc");
    let deadline = Instant::now() + Duration::from_secs(10);
    while size(&alloc.join("b.bin")) != Some(b.len() as u64) {
        assert!(Instant::now() < deadline, "b.bin not allocated");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(size(&alloc.join("a.bin")), Some(a.len() as u64));
    // Sparse: nothing is written before data arrives.
    assert!(size(&dir.join("sparse/alloc/a.bin")).unwrap_or(0) == 0);
    let modes: Vec<i32> = ids
        .iter()
        .map(|&id| {
            ses.call(move |e| e.status(id))
                .unwrap()
                .unwrap()
                .storage_mode
        })
        .collect();
    assert_eq!(modes, [0, 1]);
    let errors: Vec<_> = ses
        .pop_alerts()
        .into_iter()
        .filter(|a| matches!(a.kind, AlertKind::FileError { .. }))
        .collect();
    assert!(errors.is_empty());
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
