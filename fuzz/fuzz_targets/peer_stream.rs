//! Fuzzes the peer wire protocol: an incoming `PeerConnection` fed a valid
//! handshake (with fuzzer-chosen reserved bits) followed by arbitrary bytes
//! in fuzzer-chosen chunk sizes, plus the standalone decoders. BEP 52
//! hash requests that come out are answered (or refused) as the engine
//! does, and `hashes` replies are checked to carry exactly their run and
//! proof.
//!
//! Register it in `fuzz/Cargo.toml` with
//! `[[bin]] name = "peer_stream", path = "fuzz_targets/peer_stream.rs"` and
//! the dependencies `libfuzzer-sys`, `lt-wire`, `lt-core`, `bytes`.
#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use lt_core::{InfoHash, Sha1Hash};
use lt_wire::{
    Bitfield, Event, ExtHandshake, Handshake, HashRequest, Message, MessageDecoder, MetadataMsg,
    PeerConfig, PeerConnection, PexMsg, PieceGeometry, Reserved, TorrentInfo, UnknownMessagePolicy,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&chunk, rest)) = rest.split_first() else {
        return;
    };

    // Standalone decoders never panic.
    let dec = MessageDecoder::new(64 * 1024);
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(_)) = dec.decode(&mut buf) {}
    let _ = ExtHandshake::parse(rest);
    let _ = PexMsg::parse(rest);
    let _ = MetadataMsg::parse(&Bytes::copy_from_slice(rest));
    if flags & 0x80 != 0 {
        // The MSE responder fed arbitrary bytes (one modpow per input).
        let both = lt_wire::mse::CRYPTO_RC4 | lt_wire::mse::CRYPTO_PLAINTEXT;
        let mut mse =
            lt_wire::mse::MseHandshake::incoming(&[Sha1Hash([7; 20])], &[1; 20], &[], both, true);
        for c in rest.chunks(1 + chunk as usize) {
            if mse.receive(c).is_err() {
                break;
            }
        }
        return;
    }

    // A full connection.
    let now = Instant::now();
    let mut cfg = PeerConfig::new(Sha1Hash([2; 20]));
    cfg.max_message_len = 64 * 1024;
    cfg.max_peer_requests = 8;
    cfg.extensions.m.insert("ut_metadata".into(), 3);
    cfg.extensions.m.insert("ut_pex".into(), 4);
    cfg.extensions.m.insert("lt_donthave".into(), 5);
    if flags & 0x40 != 0 {
        cfg.unknown_messages = UnknownMessagePolicy::Ignore;
    }
    if flags & 8 != 0 {
        // both sides set the v2 bit: BEP 52 hash messages are allowed
        cfg.reserved.set_v2(true);
    }
    let mut reserved = Reserved::NONE;
    reserved
        .set_fast(flags & 1 != 0)
        .set_extension_protocol(flags & 2 != 0)
        .set_dht(flags & 4 != 0);
    reserved.set_v2(flags & 8 != 0);
    let mut conn = PeerConnection::incoming(cfg, Some("127.0.0.1".parse().unwrap()), now);
    let h = Handshake {
        reserved,
        info_hash: Sha1Hash([7; 20]),
        peer_id: Sha1Hash([1; 20]),
    };
    conn.receive(&h.encode(), now);
    let geometry = if flags & 0x10 != 0 {
        None
    } else {
        PieceGeometry::new(16384, 40 * 16384 + 100)
    };
    let ours = if flags & 0x20 != 0 {
        Bitfield::full(41)
    } else {
        Bitfield::new(41)
    };
    while let Some(ev) = conn.poll_event() {
        if let Event::IncomingHandshake { .. } = ev {
            let _ = conn.accept(
                TorrentInfo {
                    info_hash: InfoHash::from_v1(Sha1Hash([7; 20])),
                    geometry,
                    our_pieces: ours.clone(),
                },
                now,
            );
        }
    }
    let step = 1 + chunk as usize % 64;
    let mut t = now;
    for piece in rest.chunks(step) {
        if chunk & 0x80 != 0 {
            conn.receive_bytes(Bytes::copy_from_slice(piece), t);
        } else {
            conn.receive(piece, t);
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Interested => {
                    let _ = conn.unchoke();
                }
                Event::Request(r) => {
                    let _ = conn.send_block(
                        r.piece,
                        r.offset,
                        Bytes::from(vec![0u8; r.length as usize]),
                    );
                }
                Event::Unchoked => {
                    let _ = conn.request(lt_wire::BlockRequest::new(0, 0, 16384), t);
                }
                // BEP 52: answer a hash request as the engine would, for a
                // file of 40 blocks (a bounded reply), or refuse it.
                Event::HashRequest(h) => {
                    assert!(h.validate(), "invalid requests are refused by the wire");
                    let m = if h.validate_for_file(40) {
                        let n = h.reply_len();
                        assert!(n <= u64::from(HashRequest::MAX_LENGTH) + 64);
                        Message::Hashes {
                            request: h,
                            hashes: Bytes::from(vec![0u8; n as usize * 32]),
                        }
                    } else {
                        Message::HashReject(h)
                    };
                    let _ = conn.send_hash_message(m);
                }
                Event::Hashes { request, hashes } => {
                    // only replies of exactly the run plus its proof get out
                    assert!(request.validate());
                    assert_eq!((hashes.len() / 32) as u64, request.reply_len());
                    assert_eq!(hashes.len() % 32, 0);
                }
                Event::HashReject(_) => {}
                _ => {}
            }
        }
        while conn.poll_transmit().is_some() {}
        t += Duration::from_secs(7);
        conn.handle_timeout(t);
    }
    if geometry.is_none() {
        let _ = conn.set_geometry(PieceGeometry::new(16384, 40 * 16384 + 100).unwrap(), ours);
    }
});
