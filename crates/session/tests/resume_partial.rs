//! Partially downloaded pieces in resume data: their blocks are trusted
//! (never requested again), the piece is hash-checked when its last block
//! arrives, a piece whose restored blocks are bad is fetched again whole,
//! and `save_resume_data` reports the blocks of incomplete pieces that are
//! on disk.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_session::alert::BlockEvent;
use lt_session::torrent::AddTorrent;
use lt_session::{AlertKind, ResumeExtra, Session, TorrentState};

const BLOCK: usize = 16 * 1024;
const PIECE: usize = 4 * BLOCK;

fn collect(ses: &Session, seen: &mut Vec<AlertKind>) {
    for a in ses.pop_alerts() {
        seen.push(a.kind);
    }
}

/// Blocks the seeder uploaded, as (piece, block).
fn uploaded(seen: &[AlertKind]) -> BTreeSet<(u32, u32)> {
    seen.iter()
        .filter_map(|k| match k {
            AlertKind::Block {
                event: BlockEvent::Uploaded,
                piece,
                block,
                ..
            } => Some((*piece, *block)),
            _ => None,
        })
        .collect()
}

/// Writes `bytes` at `off` of the file (creating it).
fn write_at(path: &Path, off: usize, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(off as u64)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn restored_blocks_are_not_requested_again_and_bad_ones_refetched() {
    let dir = tempdir("partial");
    let payload = data(5 * PIECE, 7);
    let ti = Arc::new(make_torrent("p.bin", &[("p.bin", &payload)], PIECE));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("p.bin"), &payload).unwrap();
    let leech_dir = dir.join("leech");
    std::fs::create_dir_all(&leech_dir).unwrap();
    let file = leech_dir.join("p.bin");

    // piece 0 had; piece 1: blocks 0, 1 on disk; piece 2: blocks 0, 2;
    // piece 3: block 3 claimed but its bytes on disk are wrong
    let good = |p: usize, b: usize| &payload[p * PIECE + b * BLOCK..p * PIECE + (b + 1) * BLOCK];
    write_at(&file, 0, &payload[..PIECE]);
    for (p, b) in [(1, 0), (1, 1), (2, 0), (2, 2)] {
        write_at(&file, p * PIECE + b * BLOCK, good(p, b));
    }
    write_at(&file, 3 * PIECE + 3 * BLOCK, &vec![0x55; BLOCK]);
    let mut unfinished = BTreeMap::new();
    unfinished.insert(1u32, vec![true, true, false, false]);
    unfinished.insert(2, vec![true, false, true, false]);
    unfinished.insert(3, vec![false, false, false, true]);
    let mut have = vec![false; 5];
    have[0] = true;
    let extra = ResumeExtra {
        have_pieces: have,
        unfinished_pieces: unfinished,
        ..Default::default()
    };

    let seeder = session();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    let leecher = session();
    // paused, to look at the restored state before any peer comes
    let at = AddTorrent {
        flags: lt_session::torrent::flags::PAUSED,
        ..AddTorrent::new(ti.clone(), leech_dir.to_string_lossy().into_owned())
    };
    let l = leecher
        .call(move |e| e.add_torrent_resumed(at, extra, None))
        .unwrap()
        .unwrap();
    let mut lseen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lseen
        .iter()
        .any(|k| matches!(k, AlertKind::TorrentChecked { .. }))
    {
        assert!(Instant::now() < deadline, "not checked: {lseen:#?}");
        leecher.wait_for_alert(Duration::from_millis(50));
        collect(&leecher, &mut lseen);
    }
    // trusted: no file check
    assert!(!lseen.iter().any(|k| matches!(
        k,
        AlertKind::StateChanged {
            state: TorrentState::CheckingFiles,
            ..
        }
    )));
    let st = leecher.call(move |e| e.status(l)).unwrap().unwrap();
    assert_eq!(st.pieces, vec![true, false, false, false, false]);
    assert_eq!(st.total_wanted_done, (PIECE + 5 * BLOCK) as i64);
    // the restored blocks come back in the resume data
    let rd = leecher
        .call(move |e| e.resume_data(l, false))
        .unwrap()
        .unwrap();
    let got: Vec<(i32, Vec<bool>)> = rd.unfinished_pieces.into_iter().collect();
    assert_eq!(
        got,
        vec![
            (1, vec![true, true, false, false]),
            (2, vec![true, false, true, false]),
            (3, vec![false, false, false, true]),
        ]
    );

    leecher.call(move |e| e.resume_torrent(l)).unwrap();
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    let mut sseen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        collect(&seeder, &mut sseen);
        collect(&leecher, &mut lseen);
        let st = leecher.call(move |e| e.status(l)).unwrap().unwrap();
        if st.state == TorrentState::Seeding {
            break;
        }
        assert!(Instant::now() < deadline, "not done: {:?}", st.pieces);
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    collect(&seeder, &mut sseen);
    collect(&leecher, &mut lseen);
    assert_eq!(std::fs::read(&file).unwrap(), payload);

    let up = uploaded(&sseen);
    // never requested: the had piece and the good restored blocks
    for b in 0..4 {
        assert!(!up.contains(&(0, b)), "piece 0 block {b} re-sent");
    }
    for pb in [(1, 0), (1, 1), (2, 0), (2, 2)] {
        assert!(!up.contains(&pb), "restored block {pb:?} re-sent: {up:?}");
    }
    // the missing blocks came
    for pb in [(1, 2), (1, 3), (2, 1), (2, 3), (4, 0)] {
        assert!(up.contains(&pb), "{pb:?} not sent: {up:?}");
    }
    // piece 3 failed its check with the bad block, then came again whole
    let failed: Vec<u32> = lseen
        .iter()
        .filter_map(|k| match k {
            AlertKind::HashFailed { piece, .. } => Some(*piece),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![3]);
    assert!(up.contains(&(3, 3)), "bad block of piece 3 not refetched");
    let passed: BTreeSet<u32> = lseen
        .iter()
        .filter_map(|k| match k {
            AlertKind::PieceFinished { piece, .. } => Some(*piece),
            _ => None,
        })
        .collect();
    assert_eq!(passed, (1..5).collect());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_resume_data_with_flush_records_the_blocks_on_disk() {
    // a leecher fed slowly by a rate-limited seeder: saves with
    // flush_disk_cache report blocks of incomplete pieces, every one of
    // them on disk with the right bytes, and every piece reported had is
    // on disk too
    let dir = tempdir("partial-save");
    let payload = data(8 * PIECE, 9);
    let ti = Arc::new(make_torrent("q.bin", &[("q.bin", &payload)], PIECE));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("q.bin"), &payload).unwrap();
    let seeder = session();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    seeder
        .call(move |e| e.set_torrent_limits(s, Some(160 * 1024), None, None, None))
        .unwrap();
    let leecher = session();
    let leech_dir = dir.join("leech");
    let l = add(&leecher, &ti, &leech_dir);
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    let file = leech_dir.join("q.bin");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut blocks_seen = 0;
    let mut seen = Vec::new();
    loop {
        leecher
            .call(move |e| e.save_resume_data(l, lt_session::resume_flags::FLUSH_DISK_CACHE))
            .unwrap();
        let rd = loop {
            leecher.wait_for_alert(Duration::from_millis(50));
            collect(&leecher, &mut seen);
            let found = seen.iter().rev().find_map(|k| match k {
                AlertKind::SaveResumeData { params, .. } => Some(params.clone()),
                _ => None,
            });
            if let Some(rd) = found {
                seen.clear();
                break rd;
            }
            assert!(Instant::now() < deadline, "no save_resume_data alert");
        };
        let on_disk = std::fs::read(&file).unwrap_or_default();
        for (p, mask) in &rd.unfinished_pieces {
            for (b, set) in mask.iter().enumerate() {
                if *set {
                    blocks_seen += 1;
                    let at = *p as usize * PIECE + b * BLOCK;
                    assert_eq!(
                        on_disk.get(at..at + BLOCK),
                        Some(&payload[at..at + BLOCK]),
                        "block {p}/{b} reported but not on disk"
                    );
                }
            }
        }
        for (p, had) in rd.have_pieces.iter().enumerate() {
            if *had {
                let at = p * PIECE;
                assert_eq!(on_disk.get(at..at + PIECE), Some(&payload[at..at + PIECE]));
            }
        }
        let st = leecher.call(move |e| e.status(l)).unwrap().unwrap();
        if st.state == TorrentState::Seeding {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(blocks_seen > 0, "never saw a block of a partial piece");
    let _ = std::fs::remove_dir_all(&dir);
}
