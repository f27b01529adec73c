//! Magnet links between two engines in one process: the leecher knows only
//! the info-hash and fetches the info dictionary from the seed (BEP 9).

mod common;
use common::*;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_metainfo::TorrentInfo;
use lt_session::torrent::AddTorrent;
use lt_session::{AlertKind, Session, TorrentState};
use lt_settings::{keys, SettingsPack};

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
    let at = AddTorrent::new(ti.clone(), save.to_string_lossy().into_owned());
    ses.call(move |e| e.add_torrent(at))
        .unwrap()
        .expect("added")
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
    let dir = tempdir("session");
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
