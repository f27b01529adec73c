//! Parses arbitrary text as a magnet link. Whatever parses must write back
//! as a link that parses again to the same info-hashes, trackers, web
//! seeds and peers (names and trackers that are not UTF-8 are skipped when
//! writing, as they cannot be put in a `&str`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lt_metainfo::magnet::{make_magnet_uri, parse_magnet_uri, MagnetSource};

fn utf8(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = parse_magnet_uri(text) else {
        return;
    };
    let trackers: Vec<&str> = m.trackers.iter().filter_map(|v| utf8(v)).collect();
    let url_seeds: Vec<&str> = m.url_seeds.iter().filter_map(|v| utf8(v)).collect();
    let src = MagnetSource {
        info_hashes: m.info_hashes,
        name: utf8(&m.name).unwrap_or(""),
        trackers: trackers.clone(),
        url_seeds: url_seeds.clone(),
        peers: m.peers.clone(),
        dht_nodes: Vec::new(),
        file_priorities: Vec::new(),
    };
    let link = make_magnet_uri(&src);
    let again = parse_magnet_uri(&link).expect("a link we write parses");
    assert_eq!(again.info_hashes, m.info_hashes);
    assert_eq!(again.peers, m.peers);
    let back: Vec<&str> = again.trackers.iter().filter_map(|v| utf8(v)).collect();
    assert_eq!(back, trackers);
    let back: Vec<&str> = again.url_seeds.iter().filter_map(|v| utf8(v)).collect();
    assert_eq!(back, url_seeds);
});
