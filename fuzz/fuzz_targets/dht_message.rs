//! Parses arbitrary bytes as a KRPC message: whatever parses re-encodes to
//! a message that parses the same; then a `Dht` node (and a read-only one)
//! is fed the datagram as a query/response from a peer, and the saved-state
//! decoder reads it. Nothing may panic.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lt_dht::{Config, Dht, DhtState, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::parse(data) {
        let enc = msg.encode();
        let again = Message::parse(&enc).expect("our encoding must parse");
        assert_eq!(again, msg);
    }
    let now = Instant::now();
    let me: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let peer: SocketAddr = "127.0.0.2:6881".parse().unwrap();
    for read_only in [false, true] {
        let config = Config {
            read_only,
            ..Config::default()
        };
        let mut d = Dht::new(config, me, [7; 32], now);
        // one outstanding query so that responses can match a transaction
        d.add_node(peer, now);
        let _ = d.poll_transmit();
        d.handle_datagram(data, peer, now);
        d.tick(now + Duration::from_secs(11));
        while let Some(t) = d.poll_transmit() {
            assert!(Message::parse(&t.data).is_ok());
        }
        while d.poll_event().is_some() {}
    }
    let _ = DhtState::decode(data);
});
