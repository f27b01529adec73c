//! Fuzzes UDP tracker replies: the packet decoder for both address
//! families, and a `UdpTrackerConnection` (announce or scrape) fed
//! fuzzer packets, with the expected transaction id patched in on request
//! so the deeper states are reached. Nothing may panic.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lt_core::{PeerId, Sha1Hash};
use lt_tracker::udp::parse_reply;
use lt_tracker::{
    ConnectionCache, Event, RequestKind, TrackerRequest, TrackerSettings, UdpStep,
    UdpTrackerConnection, MAX_PEERS_PER_REPLY,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let _ = parse_reply(rest, false);
    let _ = parse_reply(rest, true);

    let target: SocketAddr = if flags & 1 == 0 {
        "127.0.0.1:6969"
    } else {
        "[::1]:6969"
    }
    .parse()
    .unwrap();
    let req = TrackerRequest {
        url: "udp://tracker.example:6969/announce?x=1".into(),
        kind: if flags & 2 == 0 {
            RequestKind::Announce
        } else {
            RequestKind::Scrape
        },
        info_hash: Sha1Hash([1; 20]),
        peer_id: PeerId::from([2; 20]),
        event: Event::Started,
        num_want: 50,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut cache = ConnectionCache::new();
    let mut c = UdpTrackerConnection::new(
        req,
        target,
        &TrackerSettings::default(),
        t0,
        u64::from(flags),
    )
    .unwrap();
    let _ = c.start(t0, &mut cache);
    // packets separated by 0xff 0xff; each may get the current transaction id
    for (i, pkt) in rest.split(|&b| b == 0xff).enumerate() {
        let mut pkt = pkt.to_vec();
        if flags & 4 != 0 && pkt.len() >= 8 {
            pkt[4..8].copy_from_slice(&c.transaction_id().to_be_bytes());
        }
        let now = t0 + Duration::from_millis(i as u64);
        match c.on_packet(now, target, &pkt, &mut cache) {
            UdpStep::Done(lt_tracker::UdpOutcome::Announce(r)) => {
                assert!(r.num_peers() <= MAX_PEERS_PER_REPLY);
                break;
            }
            UdpStep::Done(_) => break,
            _ => {}
        }
    }
    let _ = c.on_timeout(t0 + Duration::from_secs(3600));
});
