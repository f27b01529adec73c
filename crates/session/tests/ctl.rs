//! Torrent control in one session: adding with resume state (trusted
//! without a recheck, or rejected when a file is missing), save_resume_data
//! with only_if_modified, and queue positions.

mod common;
use common::*;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_metainfo::TorrentInfo;
use lt_session::torrent::AddTorrent;
use lt_session::{
    resume_flags, AlertKind, QueueMove, ResumeExtra, Session, TorrentId, TorrentState,
};

const PIECE: usize = 16 * 1024;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// A two-file v1 torrent "t" (a.bin: 3 pieces, b.bin: 2 pieces) whose
/// files are written under `dir`.
fn torrent(dir: &Path, name: &str) -> Arc<TorrentInfo> {
    let files = [("a.bin", data(3 * PIECE, 1)), ("b.bin", data(2 * PIECE, 2))];
    std::fs::create_dir_all(dir.join(name)).unwrap();
    for (n, d) in &files {
        std::fs::write(dir.join(name).join(n), d).unwrap();
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    Arc::new(make_torrent(name, &refs, PIECE))
}

fn params(ti: &Arc<TorrentInfo>, save: &Path, flags: u64) -> AddTorrent {
    AddTorrent {
        flags,
        ..AddTorrent::new(ti.clone(), save.to_string_lossy().into_owned())
    }
}

/// Collects alerts until `pred` matches one (or panics after `secs`).
fn wait_alert(
    ses: &Session,
    seen: &mut Vec<AlertKind>,
    secs: u64,
    pred: impl Fn(&AlertKind) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        ses.wait_for_alert(Duration::from_millis(50));
        for a in ses.pop_alerts() {
            seen.push(a.kind);
        }
        if seen.iter().any(&pred) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out; seen {seen:#?}");
    }
}

fn checked(k: &AlertKind) -> bool {
    matches!(k, AlertKind::TorrentChecked { .. })
}

fn entered_checking_files(seen: &[AlertKind]) -> bool {
    seen.iter().any(|k| {
        matches!(
            k,
            AlertKind::StateChanged {
                state: TorrentState::CheckingFiles,
                ..
            }
        )
    })
}

#[test]
fn resume_state_is_trusted_when_the_files_exist() {
    let dir = tempdir("trust");
    let ti = torrent(&dir, "t");
    let ses = session();
    // b.bin's data is damaged: a check would find pieces 3 and 4 bad
    std::fs::write(dir.join("t/b.bin"), vec![0xee; 2 * PIECE]).unwrap();
    let extra = ResumeExtra {
        have_pieces: vec![true; 5],
        total_uploaded: 1234,
        ..Default::default()
    };
    let at = params(&ti, &dir, 0);
    let id = ses
        .call(move |e| e.add_torrent_resumed(at, extra, None))
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    wait_alert(&ses, &mut seen, 20, checked);
    assert!(!entered_checking_files(&seen), "{seen:#?}");
    let st = ses.call(move |e| e.status(id)).unwrap().unwrap();
    assert_eq!(st.state, TorrentState::Seeding);
    assert_eq!(st.num_pieces, 5);
    assert_eq!(st.total_payload_upload, 1234);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_file_rejects_resume_state_and_checks() {
    let dir = tempdir("reject");
    let ti = torrent(&dir, "t");
    let ses = session();
    std::fs::remove_file(dir.join("t/b.bin")).unwrap();
    let extra = ResumeExtra {
        have_pieces: vec![true; 5],
        ..Default::default()
    };
    let at = params(&ti, &dir, 0);
    let id = ses
        .call(move |e| e.add_torrent_resumed(at, extra, None))
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    wait_alert(&ses, &mut seen, 20, checked);
    let rejected = seen.iter().find_map(|k| match k {
        AlertKind::FastresumeRejected { error, path, .. } => Some((error.value, path.clone())),
        _ => None,
    });
    let (code, path) = rejected.expect("fastresume_rejected");
    assert_eq!(code, 134);
    assert!(path.ends_with("t/b.bin"), "{path}");
    assert!(entered_checking_files(&seen));
    let st = ses.call(move |e| e.status(id)).unwrap().unwrap();
    assert_eq!(st.pieces, vec![true, true, true, false, false]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_resume_data_reports_state_and_honours_only_if_modified() {
    let dir = tempdir("save");
    let ti = torrent(&dir, "t");
    let ses = session();
    let at = params(&ti, &dir, 0);
    let id = ses
        .call(move |e| e.add_torrent_resumed(at, ResumeExtra::default(), None))
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    wait_alert(&ses, &mut seen, 20, checked);
    let need = ses
        .call(move |e| e.need_save_resume_data(id, resume_flags::IF_DOWNLOAD_PROGRESS))
        .unwrap();
    assert!(need);
    ses.call(move |e| e.save_resume_data(id, resume_flags::SAVE_INFO_DICT))
        .unwrap();
    seen.clear();
    wait_alert(&ses, &mut seen, 5, |k| {
        matches!(k, AlertKind::SaveResumeData { .. })
    });
    let rd = seen
        .iter()
        .find_map(|k| match k {
            AlertKind::SaveResumeData { params, .. } => Some(params.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(rd.have_pieces, vec![true; 5]);
    assert!(rd.ti.is_some());
    assert_eq!(rd.save_path, dir.to_string_lossy());
    // nothing changed since: only_if_modified (download progress) fails
    ses.call(move |e| e.save_resume_data(id, resume_flags::IF_DOWNLOAD_PROGRESS))
        .unwrap();
    seen.clear();
    wait_alert(&ses, &mut seen, 5, |k| {
        matches!(k, AlertKind::SaveResumeDataFailed { .. })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn queue_positions_move() {
    let dir = tempdir("queue");
    let ses = session();
    let mut ids: Vec<TorrentId> = Vec::new();
    for i in 0..4 {
        // empty save paths: nothing on disk, the torrents stay unfinished
        let ti = torrent(&dir.join("src"), &format!("q{i}"));
        let at = params(&ti, &dir.join("dl"), 0);
        ids.push(ses.call(move |e| e.add_torrent(at)).unwrap().unwrap());
    }
    let positions = |ses: &Session| -> Vec<i32> {
        let ids = ids.clone();
        ses.call(move |e| ids.iter().map(|id| e.queue_position(*id)).collect())
            .unwrap()
    };
    assert_eq!(positions(&ses), vec![0, 1, 2, 3]);
    let last = ids[3];
    ses.call(move |e| e.queue_move(last, QueueMove::Top))
        .unwrap();
    assert_eq!(positions(&ses), vec![1, 2, 3, 0]);
    let first = ids[0];
    ses.call(move |e| e.queue_move(first, QueueMove::Down))
        .unwrap();
    assert_eq!(positions(&ses), vec![2, 1, 3, 0]);
    ses.call(move |e| e.queue_move(first, QueueMove::Bottom))
        .unwrap();
    assert_eq!(positions(&ses), vec![3, 1, 2, 0]);
    ses.call(move |e| e.queue_move(first, QueueMove::Up))
        .unwrap();
    assert_eq!(positions(&ses), vec![2, 1, 3, 0]);
    ses.call(move |e| e.queue_move(first, QueueMove::Set(0)))
        .unwrap();
    assert_eq!(positions(&ses), vec![0, 2, 3, 1]);
    // a removed torrent leaves the queue
    ses.call(move |e| e.remove_torrent(last, false)).unwrap();
    let rest = ids[..3].to_vec();
    let pos: Vec<i32> = ses
        .call(move |e| rest.iter().map(|id| e.queue_position(*id)).collect())
        .unwrap();
    assert_eq!(pos, vec![0, 1, 2]);
    let _ = std::fs::remove_dir_all(&dir);
}
