//! BEP 52 hash exchange between two engines in one process: a v2-only (or
//! hybrid) magnet gets the info dictionary with `ut_metadata`, then the
//! piece layers with hash requests, verified against each file's root, and
//! downloads; a seed that cannot supply the layers leaves the torrent
//! stopped with `missing_piece_layer`.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_core::{InfoHash, Sha1Hash};
use lt_metainfo::create::{flags, layout_files, CreateFileEntry, CreateTorrent};
use lt_metainfo::{LoadLimits, TorrentInfo};
use lt_session::{AlertKind, Session, TorrentState};

/// Files of a torrent named "payload" under `dir`: a file of more than 512
/// pieces (two runs of hashes, each proved with uncle hashes), one of a
/// few pieces and one of a single piece (no piece layer at all).
fn payload(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("payload/big.bin".to_string(), data(530 * 16384 + 1000, 3)),
        ("payload/small.bin".to_string(), data(40_000, 5)),
        ("payload/tiny.bin".to_string(), data(5_000, 9)),
    ];
    for (p, d) in &files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, d).unwrap();
    }
    files
}

fn create(dir: &Path, files: &[(String, Vec<u8>)], create_flags: u32) -> TorrentInfo {
    let entries: Vec<CreateFileEntry> = files
        .iter()
        .map(|(p, d)| CreateFileEntry {
            path: p.clone(),
            size: d.len() as i64,
            ..Default::default()
        })
        .collect();
    let fs = layout_files(&entries, 16384, create_flags).unwrap();
    let mut ct = CreateTorrent::new(&fs, create_flags);
    ct.set_piece_hashes(&fs, dir, 2, |_| true).unwrap();
    TorrentInfo::from_bytes(&ct.generate_buf(&fs).unwrap()).unwrap()
}

fn file_index(ti: &TorrentInfo, name: &str) -> usize {
    let fs = ti.files();
    (0..fs.num_files())
        .find(|&f| fs.file_path(f, "").ends_with(name))
        .expect("file in torrent")
}

struct Swarm {
    _seeder: Session,
    leecher: Session,
    l: lt_session::TorrentId,
    leech_dir: PathBuf,
}

/// A seeder of `seed_ti` (its data in place) and a leecher that knows only
/// the info-hashes, connected to it.
fn swarm(tag: &str, seed_ti: TorrentInfo, seed_dir: &Path) -> Swarm {
    let ih = seed_ti.info_hashes();
    swarm_magnet(tag, seed_ti, seed_dir, ih)
}

/// Like [`swarm`], the leecher's magnet naming the info-hashes `ih`.
fn swarm_magnet(tag: &str, seed_ti: TorrentInfo, seed_dir: &Path, ih: InfoHash) -> Swarm {
    let seeder = session();
    let leecher = session();
    let s = add(&seeder, &Arc::new(seed_ti), seed_dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    // a seed without piece layers cannot check its v2 pieces: it never
    // becomes a seed, but still serves the info dictionary
    while Instant::now() < deadline {
        let st = seeder.call(move |e| e.status(s)).unwrap().unwrap();
        if st.state == TorrentState::Seeding || st.state == TorrentState::Downloading {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let leech_dir = tempdir(tag).join("leech");
    let l = add(
        &leecher,
        &Arc::new(TorrentInfo::from_info_hash(ih)),
        &leech_dir,
    );
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    Swarm {
        _seeder: seeder,
        leecher,
        l,
        leech_dir,
    }
}

fn check_download(sw: &Swarm, files: &[(String, Vec<u8>)], original: &TorrentInfo) {
    let l = sw.l;
    wait_state(&sw.leecher, l, TorrentState::Seeding, 90);
    for (p, d) in files {
        assert_eq!(&std::fs::read(sw.leech_dir.join(p)).unwrap(), d, "{p}");
    }
    // a hybrid torrent checks with its v1 hashes and may finish before the
    // layers are in: wait for them
    let deadline = Instant::now() + Duration::from_secs(30);
    let meta = loop {
        let meta = sw
            .leecher
            .call(move |e| e.torrent_meta(l))
            .unwrap()
            .unwrap();
        if !meta.piece_layer(file_index(&meta, "big.bin")).is_empty() || Instant::now() > deadline {
            break meta;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // the fetched layers are the creator's, byte for byte
    for f in 0..original.files().num_files() {
        assert!(meta.piece_layer(f) == original.piece_layer(f), "file {f}");
    }
    assert_eq!(
        meta.piece_layer(file_index(&meta, "big.bin")).len(),
        531 * 32
    );
    assert_eq!(
        meta.piece_layer(file_index(&meta, "small.bin")).len(),
        3 * 32
    );
    assert!(meta.piece_layer(file_index(&meta, "tiny.bin")).is_empty());
    let errors: Vec<_> = sw
        .leecher
        .pop_alerts()
        .into_iter()
        .filter(|a| matches!(a.kind, AlertKind::TorrentError { .. }))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn v2_only_magnet_fetches_piece_layers_and_downloads() {
    let dir = tempdir("v2hashes-v2");
    let seed_dir = dir.join("seed");
    let files = payload(&seed_dir);
    let ti = create(&seed_dir, &files, flags::V2_ONLY);
    assert!(!ti.info_hashes().has_v1());
    assert_eq!(ti.piece_layer(file_index(&ti, "big.bin")).len(), 531 * 32);
    let sw = swarm("v2hashes-v2-l", ti.clone(), &seed_dir);
    check_download(&sw, &files, &ti);
}

#[test]
fn hybrid_magnet_by_its_v2_hash_fetches_piece_layers_too() {
    // a magnet naming only the v2 info-hash of a hybrid torrent: the
    // connection is opened with the v2 hash, so layers may be asked for;
    // the pieces are checked with the v1 hashes meanwhile
    let dir = tempdir("v2hashes-hybrid");
    let seed_dir = dir.join("seed");
    let files = payload(&seed_dir);
    let ti = create(&seed_dir, &files, 0);
    let ih = ti.info_hashes();
    assert!(ih.has_v1() && ih.has_v2());
    let magnet = InfoHash::new(Sha1Hash::default(), ih.v2);
    let sw = swarm_magnet("v2hashes-hybrid-l", ti.clone(), &seed_dir, magnet);
    check_download(&sw, &files, &ti);
}

#[test]
fn hybrid_magnet_by_its_v1_hash_downloads_without_asking_for_hashes() {
    // opened with the v1 hash: no hash requests (libtorrent would drop us),
    // the v1 hashes check the data
    let dir = tempdir("v2hashes-hybrid-v1");
    let seed_dir = dir.join("seed");
    let files = payload(&seed_dir);
    let ti = create(&seed_dir, &files, 0);
    let sw = swarm("v2hashes-hybrid-v1-l", ti.clone(), &seed_dir);
    let l = sw.l;
    wait_state(&sw.leecher, l, TorrentState::Seeding, 90);
    for (p, d) in &files {
        assert_eq!(&std::fs::read(sw.leech_dir.join(p)).unwrap(), d, "{p}");
    }
    let meta = sw
        .leecher
        .call(move |e| e.torrent_meta(l))
        .unwrap()
        .unwrap();
    assert!(meta.piece_layer(file_index(&meta, "big.bin")).is_empty());
}

#[test]
fn v2_only_magnet_without_a_peer_having_the_layers_stops() {
    let dir = tempdir("v2hashes-none");
    let seed_dir = dir.join("seed");
    let files = payload(&seed_dir);
    let full = create(&seed_dir, &files, flags::V2_ONLY);
    // the "seed" has only the info dictionary: it serves it, but refuses
    // every hash request
    let bare = TorrentInfo::from_info_section(full.info_section(), &LoadLimits::default()).unwrap();
    assert!(bare.piece_layer(file_index(&bare, "big.bin")).is_empty());
    let sw = swarm("v2hashes-none-l", bare, &seed_dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = None;
    let mut received = false;
    while got.is_none() && Instant::now() < deadline {
        for a in sw.leecher.pop_alerts() {
            match a.kind {
                AlertKind::TorrentError { error, .. } => got = Some(error.value),
                AlertKind::MetadataReceived { .. } => received = true,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(received);
    assert_eq!(got, Some(214), "missing_piece_layer");
    let l = sw.l;
    let st = sw.leecher.call(move |e| e.status(l)).unwrap().unwrap();
    assert!(st.has_metadata);
    assert_ne!(st.state, TorrentState::Seeding);
    assert!(!sw.leech_dir.join("payload/big.bin").exists() || st.total_done == 0);
}
