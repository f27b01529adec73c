//! Two sessions in one process trade a torrent over loopback.

mod common;
use common::*;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_session::torrent::AddTorrent;
use lt_session::{AlertKind, TorrentState};

#[test]
fn seed_to_leech_multi_file_byte_for_byte() {
    let dir = tempdir("session");
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
    let dir = tempdir("session");
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
    let dir = tempdir("session");
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
            storage_mode: mode,
            ..AddTorrent::new(ti, dir.join(sub).to_string_lossy().into_owned())
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

#[test]
fn seed_read_failure_is_a_file_error_and_serves_nothing() {
    // The seed's file shrinks under it after the check: the blocks it was
    // asked for (read several at a time) cannot be read. The seeder reports
    // a file error; the leecher gets none of the missing data.
    let dir = tempdir("readfail");
    let content = data(1_000_000, 9);
    let ti = Arc::new(make_torrent("f.bin", &[("f.bin", &content)], 256 * 1024));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("f.bin"), &content).unwrap();
    let seeder = session();
    let leecher = session();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    std::fs::OpenOptions::new()
        .write(true)
        .open(seed_dir.join("f.bin"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    let leech_dir = dir.join("leech");
    let l = add(&leecher, &ti, &leech_dir);
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut file_errors = 0;
    while file_errors == 0 {
        assert!(Instant::now() < deadline, "no file error on the seeder");
        file_errors += seeder
            .pop_alerts()
            .iter()
            .filter(|a| matches!(a.kind, AlertKind::FileError { .. }))
            .count();
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let st = leecher.call(move |e| e.status(l)).unwrap().unwrap();
    assert_eq!(st.num_pieces, 0, "no piece can be complete");
    assert_eq!(st.total_failed_bytes, 0, "no bad data was sent");
}
