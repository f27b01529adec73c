use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use lt_core::{InfoHash, Sha1Hash, Sha256Hash};
use lt_metainfo::{LoadLimits, TorrentInfo};
use lt_settings::{SettingIndex, SettingsPack, Value};

use crate::resume_data::{pack_bits, tracker_tier_lists, unpack_bits};
use crate::*;

/// What libtorrent 2.1's `write_resume_data_buf(add_torrent_params())`
/// produces (captured from the reference module).
const DEFAULT_RESUME: &[u8] = b"d11:active_timei0e10:added_timei0e10:allocation6:sparse15:apply_ip_filteri1e12:auto_managedi1e14:completed_timei0e11:disable_dhti0e11:disable_lsdi0e11:disable_pexi0e17:disable_v1_hashesi0e19:download_rate_limiti-1e11:file-format22:libtorrent resume file12:file-versioni2e13:finished_timei0e3:i2pi0e9:info-hash20:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0010:info-hash232:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0013:last_downloadi0e18:last_seen_completei0e11:last_uploadi0e18:libtorrent-version7:2.1.1.015:max_connectionsi-1e11:max_uploadsi-1e12:num_completei-1e14:num_downloadedi-1e14:num_incompletei-1e13:part_file_dir0:6:pausedi1e16:root_certificate0:9:save_path0:9:seed_modei0e12:seeding_timei0e19:sequential_downloadi0e10:share_modei0e15:stop_when_readyi0e13:super_seedingi0e16:total_downloadedi0e14:total_uploadedi0e8:trackersle11:upload_modei0e17:upload_rate_limiti-1e8:url-listlee";

fn ep(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn header() -> Vec<u8> {
    let mut v = b"d11:file-format22:libtorrent resume file9:info-hash20:".to_vec();
    v.extend_from_slice(&[b'a'; 20]);
    v
}

/// A resume file with the header plus `body` (bencoded key/value pairs).
fn with(body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut v = header();
    v.extend_from_slice(body.as_ref());
    v.push(b'e');
    v
}

#[test]
fn default_params_write_like_the_reference() {
    assert_eq!(ResumeData::default().write().unwrap(), DEFAULT_RESUME);
}

fn populated() -> ResumeData {
    let mut unfinished = BTreeMap::new();
    unfinished.insert(
        1,
        vec![true, false, true, false, false, false, false, false, true],
    );
    let mut renamed = BTreeMap::new();
    renamed.insert(0, "a/b".to_owned());
    renamed.insert(3, "c".to_owned());
    ResumeData {
        info_hashes: InfoHash::new(Sha1Hash::from([b'a'; 20]), Sha256Hash::from([b'b'; 32])),
        name: "nm".into(),
        save_path: "/sp".into(),
        url: "http://url".into(),
        comment: "cm".into(),
        created_by: "cb".into(),
        creation_date: 20,
        root_certificate: "rc".into(),
        part_file_dir: "pfd".into(),
        storage_mode: StorageMode::Allocate,
        flags: flags::SEED_MODE | flags::SEQUENTIAL_DOWNLOAD | flags::I2P_TORRENT,
        total_uploaded: 7,
        total_downloaded: 8,
        active_time: 9,
        finished_time: 10,
        seeding_time: 11,
        added_time: 12,
        completed_time: 13,
        last_seen_complete: 14,
        num_complete: 15,
        num_incomplete: 16,
        num_downloaded: 17,
        last_download: 18,
        last_upload: 19,
        max_uploads: 3,
        max_connections: 4,
        upload_limit: 5,
        download_limit: 6,
        trackers: vec![
            "http://a/ann".into(),
            "http://b/ann".into(),
            "udp://c:1/ann".into(),
        ],
        tracker_tiers: vec![0, 2, 2],
        url_seeds: vec!["http://u1/".into(), "http://u2/".into()],
        have_pieces: vec![true, false, true, true, false, false, false, false],
        verified_pieces: vec![false, true, true, false, false, false, false, false],
        unfinished_pieces: unfinished,
        renamed_files: renamed,
        peers: vec![ep("1.2.3.4:80"), ep("[::1]:81"), ep("[2001:db8::5]:82")],
        banned_peers: vec![ep("5.6.7.8:90"), ep("[fe80::1]:91")],
        file_priorities: vec![0, 1, 4, 7],
        piece_priorities: vec![0, 1, 7, 3],
        ..ResumeData::default()
    }
}

#[test]
fn populated_params_round_trip() {
    let rd = populated();
    let buf = rd.write().unwrap();
    let back = ResumeData::read(&buf).unwrap();
    let mut expect = rd.clone();
    // reading marks the trackers and web seeds as overriding the torrent's
    expect.flags |= flags::OVERRIDE_TRACKERS | flags::OVERRIDE_WEB_SEEDS;
    // a file priority of 0 takes the torrent out of seed mode
    expect.flags &= !flags::SEED_MODE;
    // flags without a key of their own come from the defaults
    expect.flags |= flags::DEFAULT_FLAGS
        & !(flags::PAUSED | flags::AUTO_MANAGED | flags::APPLY_IP_FILTER | flags::NEED_SAVE_RESUME);
    // block bitmasks come back whole bytes long
    expect
        .unfinished_pieces
        .insert(1, unpack_bits(&pack_bits(&rd.unfinished_pieces[&1])));
    assert_eq!(back, expect);
    // and the second trip is stable
    assert_eq!(back.write().unwrap(), {
        let mut again = expect.clone();
        again.flags = back.flags;
        again.write().unwrap()
    });
}

#[test]
fn written_keys_follow_the_reference_layout() {
    let buf = populated().write().unwrap();
    let doc = lt_bencode::decode(&buf).unwrap();
    let root = doc.root();
    assert_eq!(root.get_bytes(b"pieces"), Some(&[0xb0][..]));
    assert_eq!(root.get_bytes(b"verified"), Some(&[0x60][..]));
    assert_eq!(root.get_bytes(b"piece_priority"), Some(&[0, 1, 7, 3][..]));
    assert_eq!(root.get_bytes(b"peers"), Some(&[1, 2, 3, 4, 0, 80][..]));
    assert_eq!(root.get_bytes(b"peers6").map(<[u8]>::len), Some(36));
    assert_eq!(
        root.get_bytes(b"banned_peers"),
        Some(&[5, 6, 7, 8, 0, 90][..])
    );
    let tiers = root.get_list(b"trackers").unwrap();
    let sizes: Vec<usize> = tiers.list_iter().map(|t| t.len()).collect();
    assert_eq!(sizes, vec![1, 0, 2]);
    let mapped: Vec<&[u8]> = root
        .get_list(b"mapped_files")
        .unwrap()
        .list_iter()
        .map(|n| n.as_bytes().unwrap())
        .collect();
    assert_eq!(mapped, vec![&b"a/b"[..], b"", b"", b"c"]);
    let unf = root.get_list(b"unfinished").unwrap().list_at(0).unwrap();
    assert_eq!(unf.get_bytes(b"bitmask"), Some(&[0xa0, 0x80][..]));
    assert_eq!(unf.get_int(b"piece"), Some(1));
    assert_eq!(root.get_int(b"i2p"), Some(1));
    assert_eq!(root.get_int(b"sequential_download"), Some(1));
    assert_eq!(root.get_bytes(b"allocation"), Some(&b"allocate"[..]));
    // no httpseeds, no trackerid: libtorrent 2.1 writes neither
    assert!(root.get(b"httpseeds").is_none());
}

#[test]
fn tracker_tiers_clamp_and_repeat() {
    let t: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    assert_eq!(
        tracker_tier_lists(&t, &[1]),
        vec![vec![], vec!["a", "b", "c"]]
    );
    let l = tracker_tier_lists(&t[..1], &[-1]);
    assert_eq!(l.len(), 1025);
    assert_eq!(l[1024], vec!["a"]);
    assert_eq!(tracker_tier_lists(&t[..1], &[5000]).len(), 1025);
    assert!(tracker_tier_lists(&[], &[3]).is_empty());
}

#[test]
fn header_errors() {
    let err = |b: &[u8]| ResumeData::read(b).unwrap_err().to_string();
    assert_eq!(err(b"i5e"), "not a dictionary [libtorrent:136]");
    assert_eq!(err(b"le"), "not a dictionary [libtorrent:136]");
    assert_eq!(err(b"de"), "invalid file format tag [libtorrent:28]");
    assert_eq!(
        err(b"d11:file-format1:x9:info-hash20:aaaaaaaaaaaaaaaaaaaae"),
        "invalid file format tag [libtorrent:28]"
    );
    for v in [0i64, 3, -1, 1 << 32] {
        let mut b = b"d11:file-format22:libtorrent resume file12:file-versioni".to_vec();
        b.extend_from_slice(format!("{v}ee").as_bytes());
        assert_eq!(err(&b), "invalid file format tag [libtorrent:28]");
    }
    assert_eq!(
        err(b"d11:file-format22:libtorrent resume filee"),
        "missing info-hash [libtorrent:29]"
    );
    assert_eq!(
        err(b"d11:file-format22:libtorrent resume file9:info-hash3:abce"),
        "missing info-hash [libtorrent:29]"
    );
    assert_eq!(
        err(b""),
        "unexpected end of file in bencoded string [bdecode:3]"
    );
    assert_eq!(
        err(b"d3:foo"),
        "unexpected end of file in bencoded string [bdecode:3]"
    );
    let mut deep = header();
    deep.extend_from_slice(b"1:x");
    deep.extend(std::iter::repeat_n(b'l', 2000));
    deep.extend(std::iter::repeat_n(b'e', 2001));
    assert_eq!(err(&deep), "bencoded nesting depth exceeded [bdecode:5]");
}

#[test]
fn only_v2_hash_is_enough() {
    let mut b = b"d11:file-format22:libtorrent resume file10:info-hash232:".to_vec();
    b.extend_from_slice(&[b'b'; 32]);
    b.push(b'e');
    let r = ResumeData::read(&b).unwrap();
    assert!(!r.info_hashes.has_v1());
    assert_eq!(r.info_hashes.v2, Sha256Hash::from([b'b'; 32]));
    // a string `file-version` counts as missing (1)
    let r = ResumeData::read(&with(b"12:file-version1:26:pieces2:\x03\x01")).unwrap();
    assert_eq!(r.have_pieces, vec![true, true]);
    assert_eq!(r.verified_pieces, vec![true, false]);
}

#[test]
fn defaults_and_flags_of_a_minimal_file() {
    let r = ResumeData::read(&with(b"")).unwrap();
    assert_eq!(r.flags, flags::DEFAULT_FLAGS & !flags::NEED_SAVE_RESUME);
    assert_eq!(r.num_complete, -1);
    assert_eq!(r.max_uploads, -1);
    assert!(r.trackers.is_empty());
    // wrong types fall back to defaults
    let r = ResumeData::read(&with(b"11:max_uploads1:36:paused1:114:total_uploaded1:5")).unwrap();
    assert_eq!(r.max_uploads, -1);
    assert_eq!(r.total_uploaded, 0);
    assert_ne!(r.flags & flags::PAUSED, 0);
    // C int truncation of 32-bit fields, 64-bit ones kept
    let r = ResumeData::read(&with(
        b"11:active_timei1099511627781e11:max_uploadsi-34359738371e9:seed_modei4294967296e14:total_uploadedi9223372036854775807e",
    ))
    .unwrap();
    assert_eq!(r.active_time, 5);
    assert_eq!(r.max_uploads, -3);
    assert_ne!(r.flags & flags::SEED_MODE, 0);
    assert_eq!(r.total_uploaded, i64::MAX);
}

#[test]
fn piece_bitfields_v1_and_v2() {
    // version 1: one byte per piece
    let r = ResumeData::read(&with(b"6:pieces5:\x03\x01\x02\x00\x05")).unwrap();
    assert_eq!(r.have_pieces, vec![true, true, false, false, true]);
    assert_eq!(r.verified_pieces, vec![true, false, true, false, false]);
    let r = ResumeData::read(&with(b"6:pieces3:\x01\x00\x01")).unwrap();
    assert_eq!(r.have_pieces, vec![true, false, true]);
    assert!(r.verified_pieces.is_empty(), "none verified: left empty");
    // version 2: packed bits; `verified` replaces what pieces gave
    let r = ResumeData::read(&with(
        b"12:file-versioni2e6:pieces2:\x03\x018:verified1:\x01",
    ))
    .unwrap();
    assert_eq!(r.have_pieces.len(), 16);
    assert_eq!(
        r.have_pieces.iter().positions(),
        vec![6, 7, 15],
        "bits MSB first"
    );
    assert_eq!(r.verified_pieces.iter().positions(), vec![7]);
    let r = ResumeData::read(&with(b"6:pieces2:\x03\x028:verified0:")).unwrap();
    assert!(r.verified_pieces.is_empty());
}

trait Positions {
    fn positions(self) -> Vec<usize>;
}
impl<'a, I: Iterator<Item = &'a bool>> Positions for I {
    fn positions(self) -> Vec<usize> {
        self.enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
            .collect()
    }
}

#[test]
fn lists_skip_malformed_items() {
    let r = ResumeData::read(&with(
        b"8:trackersl l1:a1:be 1:c le li5e1:de ll1:eee e".replace_spaces(),
    ))
    .unwrap();
    assert_eq!(r.trackers, vec!["a", "b", "", "d", ""]);
    assert_eq!(r.tracker_tiers, vec![0, 0, 2, 2, 3]);
    assert_ne!(r.flags & flags::OVERRIDE_TRACKERS, 0);

    let r = ResumeData::read(&with(b"9:httpseedsl1:he8:url-listl1:u0:i5ee")).unwrap();
    assert_eq!(r.url_seeds, vec!["u"]);
    assert_ne!(r.flags & flags::OVERRIDE_WEB_SEEDS, 0);
    // httpseeds alone do not override
    let r = ResumeData::read(&with(b"9:httpseedsl1:he")).unwrap();
    assert_eq!(r.flags & flags::OVERRIDE_WEB_SEEDS, 0);

    let r = ResumeData::read(&with(
        b"13:file_priorityli0ei1e1:xi8ei-1ei255ei256eli1eee14:piece_priority4:\x00\x01\x08\xff",
    ))
    .unwrap();
    assert_eq!(r.file_priorities, vec![0, 1, 4, 7, 7, 7, 0, 4]);
    assert_eq!(r.piece_priorities, vec![0, 1, 7, 7]);

    let r = ResumeData::read(&with(b"12:mapped_filesl1:a0:i5e1:dee")).unwrap();
    assert_eq!(r.renamed_files.len(), 2);
    assert_eq!(r.renamed_files[&0], "a");
    assert_eq!(r.renamed_files[&3], "d");
}

trait ReplaceSpaces {
    fn replace_spaces(&self) -> Vec<u8>;
}
impl ReplaceSpaces for [u8] {
    fn replace_spaces(&self) -> Vec<u8> {
        self.iter().copied().filter(|b| *b != b' ').collect()
    }
}

#[test]
fn peers_ignore_short_tails() {
    let mut body = b"5:peers13:".to_vec();
    body.extend_from_slice(&[1, 2, 3, 4, 0, 80, 1, 2, 3, 4, 0, 81, 9]);
    body.extend_from_slice(b"6:peers619:");
    body.extend_from_slice(&[0; 15]);
    body.extend_from_slice(&[1, 0, 82, 7]);
    body.extend_from_slice(b"12:banned_peers7:");
    body.extend_from_slice(&[5, 6, 7, 8, 0, 90, 1]);
    let r = ResumeData::read(&with(&body)).unwrap();
    assert_eq!(
        r.peers,
        vec![ep("1.2.3.4:80"), ep("1.2.3.4:81"), ep("[::1]:82")]
    );
    assert_eq!(r.banned_peers, vec![ep("5.6.7.8:90")]);
}

#[test]
fn unfinished_pieces_rules() {
    let r = ResumeData::read(&with(
        b"10:unfinishedl d7:bitmask2:\x80\x015:piecei1ee d7:bitmask1:\x805:piecei-1ee d7:bitmask0:5:piecei2ee i5e d7:bitmask1:\x01e d5:piecei3ee d7:bitmaski5e5:piecei4ee d7:bitmask1:\x405:piecei1ee d7:bitmask1:\x015:piecei4294967301ee e"
            .replace_spaces(),
    ))
    .unwrap();
    assert_eq!(
        r.unfinished_pieces.keys().copied().collect::<Vec<_>>(),
        vec![1, 5]
    );
    assert_eq!(r.unfinished_pieces[&1].iter().positions(), vec![1]);
    assert_eq!(r.unfinished_pieces[&5].iter().positions(), vec![7]);
}

#[test]
fn trees_bits_by_file_version() {
    let mut body = b"5:treesld6:hashes64:".to_vec();
    body.extend_from_slice(&[b'x'; 64]);
    body.extend_from_slice(b"4:mask1:\xc08:verified2:10ed6:hashes32:");
    body.extend_from_slice(&[b'y'; 32]);
    body.extend_from_slice(b"ed6:hashes33:");
    body.extend_from_slice(&[b'z'; 33]);
    body.extend_from_slice(b"ed6:hashes32:");
    body.extend_from_slice(&[b'w'; 32]);
    body.extend_from_slice(b"ee");
    let r = ResumeData::read(&with(&body)).unwrap();
    // the malformed third entry ends the list
    assert_eq!(r.merkle_trees.len(), 2);
    assert_eq!(r.merkle_trees[0].len(), 2);
    assert_eq!(r.verified_leaf_hashes[0], vec![true, false]);
    assert_eq!(r.merkle_tree_mask[0], vec![false]);
    let out = r.write().unwrap();
    let doc = lt_bencode::decode(&out).unwrap();
    let t0 = doc.root().get_list(b"trees").unwrap().list_at(0).unwrap();
    assert_eq!(t0.get_bytes(b"verified"), Some(&[0x80][..]));
    assert_eq!(t0.get_bytes(b"mask"), Some(&[0x00][..]));
    let t1 = doc.root().get_list(b"trees").unwrap().list_at(1).unwrap();
    assert!(t1.get(b"mask").is_none() && t1.get(b"verified").is_none());
    // a version-2 file (what we write) keeps packed bits as they are
    let again = ResumeData::read(&out).unwrap();
    assert_eq!(again.verified_leaf_hashes[0].len(), 8);
    assert_eq!(again.write().unwrap(), out);
}

/// A small single-file v1 info dictionary.
fn v1_info() -> Vec<u8> {
    let mut b = b"d6:lengthi100e4:name1:a12:piece lengthi16384e6:pieces20:".to_vec();
    b.extend_from_slice(&[7; 20]);
    b.push(b'e');
    b
}

#[test]
fn embedded_info_dict() {
    let info = v1_info();
    let ti = TorrentInfo::from_info_section(&info, &LoadLimits::default()).unwrap();
    let rd = ResumeData {
        info_hashes: ti.info_hashes(),
        ti: Some(ti),
        comment: "C".into(),
        ..ResumeData::default()
    };
    let buf = rd.write().unwrap();
    assert!(buf.windows(info.len()).any(|w| w == info.as_slice()));
    let back = ResumeData::read(&buf).unwrap();
    let ti = back.ti.as_ref().unwrap();
    assert_eq!(ti.info_section(), info.as_slice());
    assert_eq!(ti.comment(), "C");
    assert_eq!(ti.num_pieces(), 1);

    // an info dict that does not hash to the stored info-hash
    let mut bad = header();
    bad.extend_from_slice(b"4:info");
    bad.extend_from_slice(&info);
    bad.push(b'e');
    assert_eq!(
        ResumeData::read(&bad).unwrap_err().to_string(),
        "mismatching info-hash [libtorrent:30]"
    );
    // a zero info-hash is not checked
    let mut zero = b"d11:file-format22:libtorrent resume file4:info".to_vec();
    zero.extend_from_slice(&info);
    zero.extend_from_slice(b"9:info-hash20:");
    zero.extend_from_slice(&[0; 20]);
    zero.push(b'e');
    let r = ResumeData::read(&zero).unwrap();
    assert!(r.ti.is_some() && r.info_hashes.is_empty());
    // an invalid info dict is the metainfo error
    let mut inv =
        b"d11:file-format22:libtorrent resume file4:infod4:name1:ae9:info-hash20:".to_vec();
    inv.extend_from_slice(&[0; 20]);
    inv.push(b'e');
    assert_eq!(
        ResumeData::read(&inv).unwrap_err().to_string(),
        "invalid or missing 'piece length' entry in torrent file [libtorrent:6]"
    );
    // the piece limit applies to the embedded dict
    let lim = LoadLimits {
        max_pieces: 0,
        ..LoadLimits::default()
    };
    assert_eq!(
        ResumeData::read_with(&zero, &lim).unwrap_err().to_string(),
        "too many pieces in torrent [libtorrent:13]"
    );
}

#[test]
fn renamed_file_index_is_bounded() {
    let mut rd = ResumeData::default();
    rd.renamed_files.insert(-1, "x".into());
    assert_eq!(rd.write(), Err(WriteError::InvalidFileIndex(-1)));
    rd.renamed_files.clear();
    rd.renamed_files.insert(i32::MAX, "x".into());
    assert!(rd.write().is_err());
}

#[test]
fn hostile_sizes_stay_linear() {
    // a long list of tiny items decodes into as many entries, no more
    let mut body = b"8:url-listl".to_vec();
    for _ in 0..100_000 {
        body.extend_from_slice(b"1:u");
    }
    body.push(b'e');
    let r = ResumeData::read(&with(&body)).unwrap();
    assert_eq!(r.url_seeds.len(), 100_000);
    // beyond the token limit: a bdecode error
    let lim = LoadLimits {
        max_decode_tokens: 1000,
        ..LoadLimits::default()
    };
    assert_eq!(
        ResumeData::read_with(&with(&body), &lim)
            .unwrap_err()
            .to_string(),
        "bencoded item count limit exceeded [bdecode:6]"
    );
}

// --- session state -------------------------------------------------------

/// `write_session_params_buf(session_params())` of the reference.
const DEFAULT_SESSION: &[u8] = b"d3:dhtd18:aggressive_lookupsi1e15:block_ratelimiti5e13:block_timeouti300e15:enforce_node_idi0e22:extended_routing_tablei1e20:ignore_dark_interneti1e13:item_lifetimei0e13:max_dht_itemsi700e14:max_fail_counti20e9:max_peersi500e15:max_peers_replyi100e24:max_torrent_search_replyi20e12:max_torrentsi2000e15:privacy_lookupsi0e9:read_onlyi0e20:restrict_routing_ipsi1e19:restrict_search_ipsi1e16:search_branchingi5ee9:dht stated7:node-idlee10:extensionsde10:ip_filter4l12:\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00e10:ip_filter6l36:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00e8:settingsdee";

#[test]
fn default_session_state_like_the_reference() {
    assert_eq!(
        SessionParams::default().write(save_state_flags::ALL),
        DEFAULT_SESSION
    );
    assert_eq!(SessionParams::default().write(0), b"de");
    assert_eq!(
        SessionParams::default().write(save_state_flags::SAVE_EXTENSION_STATE),
        b"d10:extensionsdee"
    );
}

fn setting(name: &str) -> SettingIndex {
    SettingIndex::from_name(name).unwrap()
}

#[test]
fn session_state_round_trip() {
    let mut p = SessionParams::default();
    p.settings
        .set(setting("user_agent"), Value::Str("foo".into()))
        .unwrap();
    p.settings
        .set(setting("connections_limit"), Value::Int(17))
        .unwrap();
    p.settings
        .set(setting("enable_dht"), Value::Bool(false))
        .unwrap();
    p.ip_filter
        .add_rule(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 255)),
            1,
        )
        .unwrap();
    p.ip_filter
        .add_rule("::1".parse().unwrap(), "::2".parse().unwrap(), 1)
        .unwrap();
    p.dht_state
        .nids
        .push((IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)), [b'a'; 20]));
    p.dht_state.nodes.push(ep("1.2.3.4:5"));
    p.dht_state.nodes6.push(ep("[::1]:6"));
    p.dht_settings.max_peers = 9;
    let buf = p.write(save_state_flags::ALL);
    // settings sorted by name
    let s = buf.windows(8).position(|w| w == b"settings").unwrap();
    let tail = &buf[s..];
    let c = tail
        .windows(17)
        .position(|w| w == b"connections_limit")
        .unwrap();
    let e = tail.windows(10).position(|w| w == b"enable_dht").unwrap();
    let u = tail.windows(10).position(|w| w == b"user_agent").unwrap();
    assert!(c < e && e < u);

    let back = SessionParams::read(&buf, save_state_flags::ALL).unwrap();
    assert_eq!(back, p);
    // without the settings, the dht block lands in the settings
    let back = SessionParams::read(
        &buf,
        save_state_flags::ALL & !save_state_flags::SAVE_SETTINGS,
    )
    .unwrap();
    let mut expect = p.clone();
    expect.settings = SettingsPack::new();
    expect
        .settings
        .set(setting("dht_max_peers"), Value::Int(9))
        .unwrap();
    for (name, v) in [
        ("dht_max_peers_reply", 100),
        ("dht_search_branching", 5),
        ("dht_max_fail_count", 20),
        ("dht_max_torrents", 2000),
        ("dht_max_dht_items", 700),
        ("dht_max_torrent_search_reply", 20),
        ("dht_block_timeout", 300),
        ("dht_block_ratelimit", 5),
        ("dht_item_lifetime", 0),
    ] {
        expect.settings.set(setting(name), Value::Int(v)).unwrap();
    }
    for (name, v) in [
        ("dht_restrict_routing_ips", true),
        ("dht_restrict_search_ips", true),
        ("dht_extended_routing_table", true),
        ("dht_aggressive_lookups", true),
        ("dht_privacy_lookups", false),
        ("dht_enforce_node_id", false),
        ("dht_ignore_dark_internet", true),
        ("dht_read_only", false),
    ] {
        expect.settings.set(setting(name), Value::Bool(v)).unwrap();
    }
    assert_eq!(back, expect);

    // flags select what is read
    let only_filter = SessionParams::read(&buf, save_state_flags::SAVE_IP_FILTER).unwrap();
    assert_eq!(only_filter.ip_filter, p.ip_filter);
    assert!(only_filter.settings.is_empty());
    assert_eq!(only_filter.dht_state, DhtState::default());
}

#[test]
fn session_state_lenient_reading() {
    // not a dictionary: defaults
    assert_eq!(
        SessionParams::read(b"le", save_state_flags::ALL).unwrap(),
        SessionParams::default()
    );
    assert!(SessionParams::read(b"xx", save_state_flags::ALL).is_err());
    let p = SessionParams::read(
        b"d8:settingsd12:active_seeds3:str17:connections_limiti8589934595e10:enable_lsdi5e16:peer_fingerprinti7e7:unknowni1e10:user_agent1:xee",
        save_state_flags::ALL,
    )
    .unwrap();
    let got: Vec<(&str, Value)> = p
        .settings
        .iter()
        .map(|(i, v)| (i.name(), v.clone()))
        .collect();
    let mut want = SettingsPack::new();
    want.set(setting("user_agent"), Value::Str("x".into()))
        .unwrap();
    want.set(setting("connections_limit"), Value::Int(3))
        .unwrap();
    want.set(setting("enable_lsd"), Value::Bool(true)).unwrap();
    let want: Vec<(&str, Value)> = want.iter().map(|(i, v)| (i.name(), v.clone())).collect();
    assert_eq!(got, want);

    // dht state: 24/36-byte ids, an old single id, 6/18-byte nodes
    let mut b = b"d9:dht stated7:node-idl24:".to_vec();
    b.extend_from_slice(&[1; 24]);
    b.extend_from_slice(b"20:");
    b.extend_from_slice(&[2; 20]);
    b.extend_from_slice(
        b"i5ee5:nodesl6:\x01\x02\x03\x04\x00\x055:shorte6:nodes6l6:\x01\x02\x03\x04\x00\x07eee",
    );
    let p = SessionParams::read(&b, save_state_flags::ALL).unwrap();
    assert_eq!(
        p.dht_state.nids,
        vec![(IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)), [1; 20])]
    );
    assert_eq!(p.dht_state.nodes, vec![ep("1.2.3.4:5")]);
    assert_eq!(p.dht_state.nodes6, vec![ep("1.2.3.4:7")]);
    let mut b = b"d9:dht stated7:node-id20:".to_vec();
    b.extend_from_slice(&[3; 20]);
    b.extend_from_slice(b"ee");
    let p = SessionParams::read(&b, save_state_flags::ALL).unwrap();
    assert_eq!(
        p.dht_state.nids,
        vec![(IpAddr::V4(Ipv4Addr::UNSPECIFIED), [3; 20])]
    );

    // ip filter entries of the wrong size are skipped
    let p = SessionParams::read(
        b"d10:ip_filter4l11:\x0a\x00\x00\x00\x0a\x00\x00\xff\x00\x00\x00i5e12:\x0b\x00\x00\x00\x0b\x00\x00\xff\x00\x00\x00\x0712:\x0c\x00\x00\x00\x0b\x00\x00\xff\x00\x00\x00\x01ee",
        save_state_flags::ALL,
    )
    .unwrap();
    assert_eq!(
        p.ip_filter.access(IpAddr::V4(Ipv4Addr::new(11, 0, 0, 9))),
        7
    );
    assert_eq!(
        p.ip_filter.access(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))),
        0
    );
}
