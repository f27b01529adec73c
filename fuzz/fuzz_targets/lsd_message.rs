//! Fuzzes the LSD (BEP 14) message parser and the `Lsd` state machine's
//! receive path: nothing may panic, and whatever parses must re-encode to
//! a message that parses to the same announce.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use lt_core::{InfoHash, Sha1Hash};
use lt_lsd::{encode_announce, parse_announce, Family, Lsd, LsdConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = parse_announce(data) {
        let cookie = a.cookie.unwrap_or(0);
        let again = parse_announce(&encode_announce(Family::V4, a.port, &a.info_hashes, cookie));
        assert_eq!(
            again.map(|b| (b.port, b.info_hashes)),
            Ok((a.port, a.info_hashes.clone()))
        );
    }
    let now = Instant::now();
    let mut lsd = Lsd::new(LsdConfig::new(Family::V4, 6881), 1, now);
    lsd.add_torrent(InfoHash::from_v1(Sha1Hash([0x11; 20])));
    let from: SocketAddr = "192.168.0.2:6771"
        .parse()
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = lsd.on_datagram(data, from, now);
    let _ = lsd.tick(now);
});
