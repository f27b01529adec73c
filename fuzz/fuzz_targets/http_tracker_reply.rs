//! Fuzzes HTTP tracker replies: a whole HTTP response fed in fuzzer-chosen
//! chunk sizes to an `HttpTrackerConnection` (announce or scrape), plus the
//! bencoded body parsers on their own. Nothing may panic; peer lists stay
//! bounded.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lt_core::{PeerId, Sha1Hash};
use lt_tracker::{
    parse_announce_response, parse_scrape_response, HttpTrackerConnection, HttpTrackerOutcome,
    RequestKind, TrackerRequest, TrackerSettings, MAX_PEERS_PER_REPLY,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(flags >> 1).max(1);
    let kind = if flags & 1 == 0 {
        RequestKind::Announce
    } else {
        RequestKind::Scrape
    };

    if let Ok(r) = parse_announce_response(rest) {
        assert!(r.num_peers() <= MAX_PEERS_PER_REPLY);
    }
    let _ = parse_scrape_response(rest, &Sha1Hash([0x41; 20]));

    let req = TrackerRequest {
        url: "http://127.0.0.1:6969/announce".into(),
        kind,
        info_hash: Sha1Hash([0x41; 20]),
        peer_id: PeerId::from([0x42; 20]),
        listen_port: 6881,
        ..Default::default()
    };
    let settings = TrackerSettings {
        max_http_recv_buffer_size: 64 * 1024,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut c = HttpTrackerConnection::new(req, &settings, t0).expect("valid request");
    let mut outcome = None;
    for part in rest.chunks(chunk) {
        if let Some(o) = c.on_data(t0, part) {
            outcome = Some(o);
            break;
        }
    }
    if outcome.is_none() {
        outcome = c.on_eof(t0);
    }
    match outcome {
        Some(HttpTrackerOutcome::Announce(r)) => {
            assert!(r.num_peers() <= MAX_PEERS_PER_REPLY);
            assert!(r.interval >= settings.min_announce_interval);
        }
        Some(HttpTrackerOutcome::Redirect { location }) => {
            let _ = c.follow_redirect(&location, t0);
        }
        Some(_) => {}
        None => panic!("no outcome after EOF"),
    }
    // a finished (or freshly redirected) connection has nothing to report
    assert!(c.on_data(t0, b"x").is_none());
    let _ = c.on_timeout(t0 + Duration::from_secs(3600));
});
