//! Parses arbitrary bytes as a .torrent file, and the tail as a magnet
//! link. Whatever loads must answer every accessor without panicking and
//! keep its invariants: files tile the byte space, paths never escape the
//! save directory, piece sizes add up to the total size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lt_metainfo::{magnet, LoadLimits, TorrentInfo};

fuzz_target!(|data: &[u8]| {
    let limits = LoadLimits {
        max_pieces: 1 << 16,
        ..Default::default()
    };
    if let Ok(ti) = TorrentInfo::from_bytes_with(data, &limits) {
        let fs = ti.files();
        let mut offset = 0i64;
        for i in fs.file_range() {
            assert_eq!(fs.file_offset(i), offset);
            offset += fs.file_size(i);
            let p = fs.file_path(i, "");
            assert!(!p.starts_with('/'));
            assert!(
                !p.split('/').any(|e| e == ".." || e == "." || e.is_empty()),
                "{p:?}"
            );
            let _ = fs.symlink(i);
            let _ = fs.file_name(i);
        }
        assert_eq!(offset, fs.total_size());
        let mut sum = 0i64;
        for p in 0..ti.num_pieces() {
            sum += i64::from(ti.piece_size(p));
            let _ = ti.hash_for_piece(p);
            let _ = fs.map_block(p, 0, i64::from(ti.piece_length()));
            let _ = fs.file_index_at_piece(p);
            if fs.v2() {
                let _ = fs.piece_size2(p);
            }
        }
        assert_eq!(sum, ti.total_size());
        for i in fs.file_range().take(64) {
            let _ = fs.map_file(i, 0, 16384);
            let _ = ti.piece_layer(i);
        }
        let _ = ti.trackers();
        let _ = ti.web_seeds();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(m) = magnet::parse_magnet_uri(s) {
            assert!(m.file_priorities.len() <= magnet::MAX_SELECT_INDEX as usize + 1);
            let _ = magnet::make_magnet_uri(&magnet::MagnetSource {
                info_hashes: m.info_hashes,
                ..Default::default()
            });
        }
    }
});
