//! Two `PeerConnection`s wired to each other in memory.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lt_core::{InfoHash, ProtocolVersion, Sha1Hash, Sha256Hash};
use lt_wire::extension::names;
use lt_wire::{
    Bitfield, BlockRequest, Error, Event, ExtHandshake, ExtensionMessage, HashRequest, Message,
    MetadataMsg, PeerConfig, PeerConnection, PieceGeometry, Reserved, TorrentInfo,
    UnknownMessagePolicy,
};

const IH: Sha1Hash = Sha1Hash([7; 20]);
const PIECE: u32 = 32 * 1024;
const BLOCK: u32 = 16 * 1024;
// 3 pieces; the last one is 20000 bytes.
const TOTAL: u64 = 2 * PIECE as u64 + 20000;

fn geometry() -> PieceGeometry {
    PieceGeometry::new(PIECE, TOTAL).unwrap()
}

fn torrent(have: Bitfield) -> TorrentInfo {
    TorrentInfo {
        info_hash: InfoHash::from_v1(IH),
        geometry: Some(geometry()),
        our_pieces: have,
    }
}

fn content(piece: u32, offset: u32, len: u32) -> Bytes {
    let start = piece as u64 * PIECE as u64 + offset as u64;
    Bytes::from(
        (0..len as u64)
            .map(|i| ((start + i) * 31 % 251) as u8)
            .collect::<Vec<_>>(),
    )
}

fn cfg(id: u8) -> PeerConfig {
    let mut c = PeerConfig::new(Sha1Hash([id; 20]));
    c.extensions.m.insert(names::UT_METADATA.into(), 3);
    c.extensions.m.insert(names::LT_DONTHAVE.into(), 7);
    c.extensions.m.insert(names::UPLOAD_ONLY.into(), 8);
    c.extensions.p = Some(6881);
    c
}

struct Pair {
    a: PeerConnection,
    b: PeerConnection,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    b_torrent: Option<TorrentInfo>,
    now: Instant,
}

impl Pair {
    /// `a` connects out to `b`; `b` accepts `b_torrent` when asked.
    fn new(a_cfg: PeerConfig, a_t: TorrentInfo, b_cfg: PeerConfig, b_t: TorrentInfo) -> Pair {
        let now = Instant::now();
        let ip = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        let hash = a_t.info_hash.best();
        let a = PeerConnection::outgoing(a_cfg, a_t, hash, ip, now);
        let b = PeerConnection::incoming(b_cfg, ip, now);
        let mut p = Pair {
            a,
            b,
            a_events: vec![],
            b_events: vec![],
            b_torrent: Some(b_t),
            now,
        };
        p.pump();
        p
    }

    /// Moves bytes both ways until nothing moves; collects events.
    fn pump(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(x) = self.a.poll_transmit() {
                moved = true;
                self.b.receive(&x, self.now);
            }
            while let Some(x) = self.b.poll_transmit() {
                moved = true;
                self.a.receive(&x, self.now);
            }
            while let Some(e) = self.a.poll_event() {
                moved = true;
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                moved = true;
                if let Event::IncomingHandshake { .. } = e {
                    if let Some(t) = self.b_torrent.take() {
                        let _ = self.b.accept(t, self.now);
                    }
                }
                self.b_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("pump did not settle");
    }

    fn take_a(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.a_events)
    }
    fn take_b(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.b_events)
    }
}

fn seed_and_leech() -> Pair {
    Pair::new(
        cfg(1),
        torrent(Bitfield::new(3)),
        cfg(2),
        torrent(Bitfield::full(3)),
    )
}

fn blocks(g: PieceGeometry) -> Vec<BlockRequest> {
    let mut v = vec![];
    for p in 0..g.num_pieces {
        let size = g.piece_size(p);
        let mut off = 0;
        while off < size {
            let len = BLOCK.min(size - off);
            v.push(BlockRequest::new(p, off, len));
            off += len;
        }
    }
    v
}

#[test]
fn handshake_and_initial_messages() {
    let mut p = seed_and_leech();
    let a = p.take_a();
    let b = p.take_b();
    assert!(matches!(b[0], Event::IncomingHandshake { info_hash, .. } if info_hash == IH));
    assert!(b.iter().any(|e| matches!(e, Event::Connected { peer_id, version: ProtocolVersion::V1, .. } if *peer_id == Sha1Hash([1; 20]))));
    assert!(a
        .iter()
        .any(|e| matches!(e, Event::Connected { peer_id, .. } if *peer_id == Sha1Hash([2; 20]))));
    // The seed announced have-all (fast extension), the leech have-none.
    assert!(a.contains(&Event::HaveAll));
    assert!(b.contains(&Event::HaveNone));
    assert!(p.a.peer_pieces().unwrap().all());
    assert_eq!(p.b.peer_pieces().unwrap().count(), 0);
    assert!(p.a.peer_supports(names::UT_METADATA));
    // Each side tells the other its address as seen (`yourip`).
    let lo = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
    assert_eq!(p.a.peer_extensions().and_then(|h| h.yourip), lo);
    assert_eq!(p.b.peer_extensions().and_then(|h| h.yourip), lo);
    // The listen port goes only to a peer we connected to.
    assert_eq!(p.b.peer_extensions().and_then(|h| h.p), Some(6881));
    assert_eq!(p.a.peer_extensions().and_then(|h| h.p), None);
    assert_eq!(p.a.peer_request_limit(), 2000);
    assert_eq!(p.a.extensions(), Reserved::standard());
    assert!(p.a.peer_choking() && p.a.am_choking() && !p.a.am_interested());
}

#[test]
fn transfers_pieces() {
    let mut p = seed_and_leech();
    p.take_a();
    p.take_b();
    p.a.interested().unwrap();
    p.pump();
    assert!(p.take_b().contains(&Event::Interested));
    assert!(p.b.peer_interested());
    p.b.unchoke().unwrap();
    p.pump();
    assert!(p.take_a().contains(&Event::Unchoked));
    let g = geometry();
    let all = blocks(g);
    assert_eq!(all.len(), 6);
    for r in &all {
        p.a.request(*r, p.now).unwrap();
    }
    assert_eq!(p.a.outstanding_requests().count(), 6);
    // Duplicate requests are refused locally.
    assert_eq!(p.a.request(all[0], p.now), Err(Error::BadRequest));
    p.pump();
    let reqs: Vec<BlockRequest> = p
        .take_b()
        .into_iter()
        .filter_map(|e| {
            if let Event::Request(r) = e {
                Some(r)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(reqs, all);
    for r in reqs {
        assert!(p
            .b
            .send_block(r.piece, r.offset, content(r.piece, r.offset, r.length))
            .unwrap());
    }
    p.pump();
    let mut got = vec![0u8; TOTAL as usize];
    let mut n = 0;
    for e in p.take_a() {
        if let Event::Block {
            piece,
            offset,
            data,
        } = e
        {
            let start = (piece * PIECE + offset) as usize;
            got[start..start + data.len()].copy_from_slice(&data);
            n += 1;
        }
    }
    assert_eq!(n, 6);
    assert_eq!(got, content(0, 0, TOTAL as u32).to_vec());
    assert_eq!(p.a.outstanding_requests().count(), 0);
    // Counters agree on both ends.
    let (ca, cb) = (p.a.counters(), p.b.counters());
    assert_eq!(ca.payload_down, TOTAL);
    assert_eq!(cb.payload_up, TOTAL);
    assert_eq!(ca.protocol_down, cb.protocol_up);
    assert_eq!(ca.protocol_up, cb.protocol_down);
    assert_eq!(ca.payload_up, 0);
    // Leech completes piece 0 and tells the seed.
    p.a.we_have(0).unwrap();
    p.pump();
    assert!(p.take_b().contains(&Event::Have(0)));
    assert!(p.b.peer_has(0) && !p.b.peer_has(1));
}

#[test]
fn block_is_view_of_receive_buffer() {
    let mut p = seed_and_leech();
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    p.a.request(BlockRequest::new(1, 0, BLOCK), p.now).unwrap();
    p.pump();
    p.b.send_block(1, 0, content(1, 0, BLOCK)).unwrap();
    p.take_a();
    // Read into the connection's buffer directly, as a socket read would.
    let mut wire = vec![];
    while let Some(x) = p.b.poll_transmit() {
        wire.extend_from_slice(&x);
    }
    let buf = p.a.recv_buffer();
    buf.extend_from_slice(&wire);
    let (lo, hi) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
    p.a.process(p.now);
    let ev = p.a.poll_event().unwrap();
    let Event::Block { data, .. } = ev else {
        panic!("{ev:?}")
    };
    let ptr = data.as_ptr() as usize;
    assert!(ptr >= lo && ptr + data.len() <= hi, "block was copied");
    assert_eq!(data, content(1, 0, BLOCK));
}

#[test]
fn fast_choke_rejects_and_allowed_fast() {
    let mut c2 = cfg(2);
    c2.allowed_fast_set_size = 1;
    let mut p = Pair::new(
        cfg(1),
        torrent(Bitfield::new(3)),
        c2,
        torrent(Bitfield::full(3)),
    );
    // The seed granted allowed-fast pieces (from 127.0.0.1 and the info-hash).
    let granted: Vec<u32> = p.b.allowed_fast_granted().collect();
    let expected = lt_wire::fast::allowed_fast_set(IpAddr::V4(Ipv4Addr::LOCALHOST), &IH, 3, 1);
    assert_eq!(granted, expected);
    assert_eq!(granted.len(), 1);
    let a_events = p.take_a();
    let received: Vec<u32> = a_events
        .iter()
        .filter_map(|e| {
            if let Event::AllowedFast(i) = e {
                Some(*i)
            } else {
                None
            }
        })
        .collect();
    let mut r2 = received.clone();
    r2.sort();
    let mut e2 = expected.clone();
    e2.sort();
    assert_eq!(r2, e2);
    // While choked the leech may request an allowed-fast piece only.
    let fast_piece = expected[0];
    let r = BlockRequest::new(fast_piece, 0, BLOCK);
    p.a.request(r, p.now).unwrap();
    p.pump();
    assert!(p.take_b().contains(&Event::Request(r)));
    assert!(p
        .b
        .send_block(r.piece, r.offset, content(r.piece, 0, BLOCK))
        .unwrap());
    p.pump();
    assert!(p
        .take_a()
        .iter()
        .any(|e| matches!(e, Event::Block { piece, .. } if *piece == fast_piece)));

    // Unchoke, queue requests for all blocks, then choke: non-fast requests
    // are rejected explicitly.
    p.b.unchoke().unwrap();
    p.pump();
    let all: Vec<_> = blocks(geometry())
        .into_iter()
        .filter(|b| b.piece != fast_piece)
        .collect();
    for r in &all {
        p.a.request(*r, p.now).unwrap();
    }
    p.pump();
    p.take_b();
    p.b.choke().unwrap();
    p.pump();
    let rejected: Vec<_> = p
        .take_a()
        .into_iter()
        .filter_map(|e| {
            if let Event::Rejected(r) = e {
                Some(r)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(rejected.len(), all.len());
    assert_eq!(p.a.outstanding_requests().count(), 0);
    assert!(p.b.peer_requests().next().is_none());
}

#[test]
fn choke_without_fast_drops_requests() {
    let mut c1 = cfg(1);
    c1.reserved.set_fast(false);
    let mut p = Pair::new(
        c1,
        torrent(Bitfield::new(3)),
        cfg(2),
        torrent(Bitfield::full(3)),
    );
    assert!(p.take_a().contains(&Event::Bitfield));
    assert!(!p.a.extensions().fast());
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    p.a.request(BlockRequest::new(0, 0, BLOCK), p.now).unwrap();
    p.a.request(BlockRequest::new(0, BLOCK, BLOCK), p.now)
        .unwrap();
    p.pump();
    p.b.choke().unwrap();
    p.pump();
    let ev = p.take_a();
    assert!(ev.contains(&Event::Choked));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Rejected(_)))
            .count(),
        2
    );
    // Choked and no fast: requesting is refused.
    assert!(p.a.request(BlockRequest::new(0, 0, BLOCK), p.now).is_err());
    // The seed dropped the queued requests: sending a block for one is a no-op.
    assert_eq!(p.b.send_block(0, 0, content(0, 0, BLOCK)), Ok(false));
}

#[test]
fn cancel_with_fast_is_answered_with_reject() {
    let mut p = seed_and_leech();
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    let r = BlockRequest::new(2, 0, BLOCK);
    p.a.request(r, p.now).unwrap();
    p.pump();
    p.take_b();
    assert_eq!(p.a.cancel(r), Ok(true));
    assert_eq!(p.a.cancel(r), Ok(false));
    p.pump();
    assert!(p.take_b().contains(&Event::Cancel(r)));
    // The reject for a request the leech no longer tracks is not reported.
    assert!(!p.take_a().iter().any(|e| matches!(e, Event::Rejected(_))));
    assert_eq!(p.b.send_block(2, 0, content(2, 0, BLOCK)), Ok(false));
}

#[test]
fn peer_request_queue_is_bounded() {
    let mut c2 = cfg(2);
    c2.max_peer_requests = 2;
    let mut p = Pair::new(
        cfg(1),
        torrent(Bitfield::new(3)),
        c2,
        torrent(Bitfield::full(3)),
    );
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    for r in blocks(geometry()).into_iter().take(4) {
        p.a.request(r, p.now).unwrap();
    }
    p.pump();
    assert_eq!(
        p.take_b()
            .iter()
            .filter(|e| matches!(e, Event::Request(_)))
            .count(),
        2
    );
    assert_eq!(
        p.take_a()
            .iter()
            .filter(|e| matches!(e, Event::Rejected(_)))
            .count(),
        2
    );
    assert_eq!(p.a.outstanding_requests().count(), 2);
}

#[test]
fn timers() {
    let mut p = seed_and_leech();
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    let t0 = p.now;
    let r = BlockRequest::new(0, 0, BLOCK);
    p.a.request(r, t0).unwrap();
    p.pump();
    p.take_a();
    // Request timeout (60 s) fires once.
    let deadline = p.a.next_timeout().unwrap();
    assert!(deadline <= t0 + Duration::from_secs(60));
    p.a.handle_timeout(t0 + Duration::from_secs(59));
    assert!(p.a.poll_event().is_none());
    // Keep-alive: nothing sent for 60 s.
    p.a.handle_timeout(t0 + Duration::from_secs(61));
    assert_eq!(p.a.poll_event(), Some(Event::RequestTimedOut(r)));
    assert_eq!(&p.a.poll_transmit().unwrap()[..], &[0, 0, 0, 0]);
    p.a.handle_timeout(t0 + Duration::from_secs(62));
    assert!(p.a.poll_event().is_none());
    assert!(p.a.poll_transmit().is_none());
    // Still outstanding: a late block is delivered.
    p.now = t0 + Duration::from_secs(62);
    p.b.send_block(0, 0, content(0, 0, BLOCK)).unwrap();
    p.pump();
    assert!(p.take_a().iter().any(|e| matches!(e, Event::Block { .. })));
    // Inactivity: nothing received for 120 s.
    p.a.handle_timeout(t0 + Duration::from_secs(62 + 121));
    assert_eq!(
        p.a.poll_event(),
        Some(Event::Disconnect {
            reason: Error::Timeout("no data received")
        })
    );
    assert!(!p.a.is_open());
    assert_eq!(p.a.next_timeout(), None);
}

#[test]
fn handshake_timeout() {
    let now = Instant::now();
    let mut c = PeerConnection::incoming(cfg(1), None, now);
    assert_eq!(c.next_timeout(), Some(now + Duration::from_secs(10)));
    c.receive(&lt_wire::handshake::PROTOCOL[..10], now);
    c.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(
        c.poll_event(),
        Some(Event::Disconnect {
            reason: Error::Timeout("handshake")
        })
    );
}

#[test]
fn self_connection_detected() {
    let mut p = Pair::new(
        cfg(1),
        torrent(Bitfield::new(3)),
        cfg(1),
        torrent(Bitfield::full(3)),
    );
    assert!(p.take_b().contains(&Event::Disconnect {
        reason: Error::SelfConnection
    }));
}

#[test]
fn info_hash_mismatch() {
    // Incoming: accept with a torrent that does not have the hash.
    let other = TorrentInfo {
        info_hash: InfoHash::from_v1(Sha1Hash([8; 20])),
        geometry: Some(geometry()),
        our_pieces: Bitfield::full(3),
    };
    let mut p = Pair::new(cfg(1), torrent(Bitfield::new(3)), cfg(2), other.clone());
    assert!(p.take_b().contains(&Event::Disconnect {
        reason: Error::InfoHashMismatch
    }));
    // Outgoing: the peer answers with another hash.
    let now = Instant::now();
    let mut a = PeerConnection::outgoing(cfg(1), torrent(Bitfield::new(3)), IH, None, now);
    let h = lt_wire::Handshake {
        reserved: Reserved::standard(),
        info_hash: Sha1Hash([8; 20]),
        peer_id: Sha1Hash([2; 20]),
    };
    a.receive(&h.encode(), now);
    assert_eq!(
        a.poll_event(),
        Some(Event::Disconnect {
            reason: Error::InfoHashMismatch
        })
    );
    // Outgoing with a hash that is not the torrent's.
    let mut a = PeerConnection::outgoing(
        cfg(1),
        torrent(Bitfield::new(3)),
        Sha1Hash([9; 20]),
        None,
        now,
    );
    assert_eq!(
        a.poll_event(),
        Some(Event::Disconnect {
            reason: Error::InfoHashMismatch
        })
    );
}

#[test]
fn v2_upgrade_on_hybrid() {
    let v2 = Sha256Hash::digest(b"v2 info");
    let hybrid = |have| TorrentInfo {
        info_hash: InfoHash::new(IH, v2),
        geometry: Some(geometry()),
        our_pieces: have,
    };
    let mut c1 = cfg(1);
    c1.reserved.set_v2(true);
    let mut c2 = cfg(2);
    c2.reserved.set_v2(true);
    let now = Instant::now();
    let mut a = PeerConnection::outgoing(c1.clone(), hybrid(Bitfield::new(3)), IH, None, now);
    let mut b = PeerConnection::incoming(c2.clone(), None, now);
    b.receive(&a.poll_transmit().unwrap(), now);
    assert!(
        matches!(b.poll_event(), Some(Event::IncomingHandshake { info_hash, .. }) if info_hash == IH)
    );
    b.accept(hybrid(Bitfield::full(3)), now).unwrap();
    assert_eq!(b.protocol_version(), ProtocolVersion::V2);
    let reply = b.poll_transmit().unwrap();
    assert_eq!(&reply[28..48], &v2.truncated().0);
    a.receive(&reply, now);
    assert!(matches!(
        a.poll_event(),
        Some(Event::Connected {
            version: ProtocolVersion::V2,
            ..
        })
    ));
    assert!(a.extensions().v2());
    // Hash messages flow on a v2 connection; an invalid request is rejected.
    let bad = HashRequest {
        pieces_root: Sha256Hash([1; 32]),
        base_layer: 0,
        index: 1,
        length: 3,
        proof_layers: 0,
    };
    let good = HashRequest {
        index: 0,
        length: 4,
        ..bad
    };
    a.send_hash_message(Message::HashRequest(bad)).unwrap();
    a.send_hash_message(Message::HashRequest(good)).unwrap();
    while let Some(x) = a.poll_transmit() {
        b.receive(&x, now);
    }
    let evs: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(evs.contains(&Event::HashRequest(good)));
    assert!(!evs.contains(&Event::HashRequest(bad)));
    while let Some(x) = b.poll_transmit() {
        a.receive(&x, now);
    }
    let evs: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(evs.contains(&Event::HashReject(bad)));
}

#[test]
fn extension_messages() {
    let mut p = seed_and_leech();
    p.take_a();
    p.take_b();
    let m = ExtensionMessage::Metadata(MetadataMsg::Request { piece: 0 });
    p.a.send_extension(&m).unwrap();
    p.b.send_extension(&ExtensionMessage::DontHave(1)).unwrap();
    p.pump();
    assert!(p.take_b().contains(&Event::Extension(m)));
    assert!(p.take_a().contains(&Event::DontHave(1)));
    assert!(!p.a.peer_has(1) && p.a.peer_has(0));
    // Not registered by the peer.
    assert_eq!(
        p.a.send_extension(&ExtensionMessage::ShareMode(true)),
        Err(Error::NotSupported("extension"))
    );
    // An update that disables ut_metadata on b's side.
    let mut h = ExtHandshake::default();
    h.m.insert(names::UT_METADATA.into(), 0);
    h.upload_only = Some(true);
    p.b.send_ext_handshake(h).unwrap();
    p.pump();
    assert!(p
        .take_a()
        .iter()
        .any(|e| matches!(e, Event::ExtensionHandshake(h) if h.upload_only == Some(true))));
    assert!(!p.a.peer_supports(names::UT_METADATA));
    assert!(p.a.peer_supports(names::LT_DONTHAVE));
}

#[test]
fn upload_only_changes_are_sent_as_messages() {
    let mut p = seed_and_leech();
    p.take_a();
    p.take_b();
    assert_eq!(p.b.peer_extensions().and_then(|h| h.upload_only), None);
    // Connected: a change goes out as an `upload_only` message, and the
    // receiver's view of the peer's handshake follows it; saying the same
    // again sends nothing.
    for v in [true, false] {
        p.a.set_upload_only(v);
        p.pump();
        assert!(p
            .take_b()
            .contains(&Event::Extension(ExtensionMessage::UploadOnly(v))));
        assert_eq!(p.b.peer_extensions().and_then(|h| h.upload_only), Some(v));
        p.a.set_upload_only(v);
        p.pump();
        assert!(p.take_b().is_empty());
    }
}

#[test]
fn magnet_bitfield_validated_once_geometry_known() {
    let magnet = |have| TorrentInfo {
        info_hash: InfoHash::from_v1(IH),
        geometry: None,
        our_pieces: have,
    };
    let mut c1 = cfg(1);
    c1.reserved.set_fast(false);
    let mut p = Pair::new(
        c1.clone(),
        magnet(Bitfield::new(0)),
        cfg(2),
        torrent(Bitfield::full(3)),
    );
    assert!(p.take_a().contains(&Event::Bitfield));
    assert!(p.a.peer_pieces().is_none());
    p.a.set_geometry(geometry(), Bitfield::new(3)).unwrap();
    assert!(p.a.peer_pieces().unwrap().all());

    // A bitfield too long for the real piece count is caught at that point.
    let mut p = Pair::new(
        c1,
        magnet(Bitfield::new(0)),
        cfg(2),
        torrent(Bitfield::full(3)),
    );
    let small = PieceGeometry::new(PIECE, PIECE as u64).unwrap();
    assert_eq!(
        p.a.set_geometry(small, Bitfield::new(1)),
        Err(Error::BadBitfield)
    );
    assert!(!p.a.is_open());
}

/// Drives `b` through the handshake by hand and returns it with the raw
/// bytes it sent, so tests can feed it arbitrary peer input.
fn raw_peer(reserved: Reserved, b_cfg: PeerConfig) -> (PeerConnection, Instant) {
    let now = Instant::now();
    let mut b = PeerConnection::incoming(b_cfg, None, now);
    let h = lt_wire::Handshake {
        reserved,
        info_hash: IH,
        peer_id: Sha1Hash([1; 20]),
    };
    b.receive(&h.encode(), now);
    assert!(matches!(
        b.poll_event(),
        Some(Event::IncomingHandshake { .. })
    ));
    b.accept(torrent(Bitfield::full(3)), now).unwrap();
    assert!(matches!(b.poll_event(), Some(Event::Connected { .. })));
    while b.poll_transmit().is_some() {}
    (b, now)
}

fn disconnect_reason(c: &mut PeerConnection) -> Option<Error> {
    std::iter::from_fn(|| c.poll_event()).find_map(|e| {
        if let Event::Disconnect { reason } = e {
            Some(reason)
        } else {
            None
        }
    })
}

#[test]
fn hostile_input() {
    let wire = |m: Message| m.to_bytes();
    let cases: Vec<(Reserved, Vec<u8>, Error)> = vec![
        (
            Reserved::standard(),
            vec![0xff, 0xff, 0xff, 0xff, 1],
            Error::MessageTooLarge {
                len: u32::MAX,
                max: 1 << 20,
            },
        ),
        (
            Reserved::standard(),
            wire(Message::Bitfield(Bytes::from_static(&[0xff]))).to_vec(),
            Error::BadBitfield,
        ),
        // 3 pieces: spare bits must be clear
        (
            Reserved::standard(),
            wire(Message::Bitfield(Bytes::from_static(&[0xf0]))).to_vec(),
            Error::BadBitfield,
        ),
        (
            Reserved::standard(),
            wire(Message::Have(3)).to_vec(),
            Error::PieceOutOfRange { piece: 3 },
        ),
        (
            Reserved::NONE,
            wire(Message::Suggest(1)).to_vec(),
            Error::NotNegotiated { id: 13 },
        ),
        // An extended message under an id we never registered.
        (
            Reserved::standard(),
            wire(Message::Extended {
                id: 77,
                payload: Bytes::new(),
            })
            .to_vec(),
            Error::UnknownMessage { id: 20 },
        ),
        (
            Reserved::standard(),
            vec![0, 0, 0, 2, 1, 0],
            Error::BadMessageLength { id: 1, len: 2 },
        ),
        (
            Reserved::standard(),
            vec![0, 0, 0, 1, 99],
            Error::UnknownMessage { id: 99 },
        ),
        (
            Reserved::NONE,
            wire(Message::HaveAll).to_vec(),
            Error::NotNegotiated { id: 14 },
        ),
        (
            Reserved::standard(),
            wire(Message::Piece {
                piece: 0,
                offset: PIECE,
                data: Bytes::from_static(b"x"),
            })
            .to_vec(),
            Error::BadRequest,
        ),
        (
            Reserved::standard(),
            wire(Message::HashRequest(HashRequest {
                pieces_root: Sha256Hash([0; 32]),
                base_layer: 0,
                index: 0,
                length: 2,
                proof_layers: 0,
            }))
            .to_vec(),
            Error::NotNegotiated { id: 21 },
        ),
    ];
    for (reserved, input, want) in cases {
        let (mut b, now) = raw_peer(reserved, cfg(2));
        b.receive(&input, now);
        let got = disconnect_reason(&mut b);
        assert!(
            got.as_ref()
                .is_some_and(|g| std::mem::discriminant(g) == std::mem::discriminant(&want)),
            "{input:?}: {got:?} != {want:?}"
        );
        assert_eq!(got, Some(want));
        // Once closed, more input is ignored and nothing is sent.
        b.receive(&[0, 0, 0, 0], now);
        assert!(b.poll_event().is_none() && b.poll_transmit().is_none());
    }
    // Tolerated, as libtorrent tolerates them: the connection stays open.
    let mut c = cfg(2);
    c.unknown_messages = UnknownMessagePolicy::Ignore;
    let (mut b, now) = raw_peer(Reserved::standard(), c);
    b.receive(&[0, 0, 0, 1, 99], now);
    b.receive(&wire(Message::Suggest(99)), now);
    b.receive(&wire(Message::AllowedFast(99)), now);
    b.receive(
        &wire(Message::Extended {
            id: 0,
            payload: Bytes::from_static(b"d1:m"),
        }),
        now,
    );
    assert!(b.is_open());
    assert!(b.poll_event().is_none());
    assert!(b.poll_transmit().is_none());
    // Extended messages are processed even without the extension bit; a
    // port message without the DHT bit is ignored.
    let (mut b, now) = raw_peer(Reserved::NONE, cfg(2));
    b.receive(&wire(Message::Port(6881)), now);
    b.receive(
        &wire(Message::Extended {
            id: 0,
            payload: Bytes::from_static(b"d1:md6:ut_pexi1eee"),
        }),
        now,
    );
    assert!(matches!(b.poll_event(), Some(Event::ExtensionHandshake(_))));
    assert!(b.peer_supports("ut_pex") && b.is_open());
}

#[test]
fn invalid_requests_are_rejected_then_disconnect() {
    let mut c = cfg(2);
    c.max_invalid_requests = 3;
    let (mut b, now) = raw_peer(Reserved::standard(), c);
    let bad = [
        BlockRequest::new(5, 0, BLOCK),
        BlockRequest::new(2, 16384, 16384),
        BlockRequest::new(0, 0, 0),
    ];
    for r in bad {
        b.receive(&Message::Request(r).to_bytes(), now);
        assert_eq!(b.poll_transmit().unwrap(), Message::Reject(r).to_bytes());
        // reported, so the session can raise invalid_request_alert
        assert!(matches!(
            b.poll_event(),
            Some(Event::InvalidRequest { request, .. }) if request == r
        ));
        assert!(b.poll_event().is_none());
    }
    // Too large a block, once more over the limit: disconnect.
    b.receive(
        &Message::Request(BlockRequest::new(0, 0, 32 * 1024)).to_bytes(),
        now,
    );
    assert_eq!(disconnect_reason(&mut b), Some(Error::BadRequest));
    // Without the fast extension invalid requests are silently ignored.
    let (mut b, now) = raw_peer(Reserved::NONE, cfg(2));
    b.receive(
        &Message::Request(BlockRequest::new(5, 0, BLOCK)).to_bytes(),
        now,
    );
    assert!(b.is_open() && b.poll_transmit().is_none());
    assert!(matches!(
        b.poll_event(),
        Some(Event::InvalidRequest { we_have: false, .. })
    ));
    assert!(b.poll_event().is_none());
}

#[test]
fn messages_before_handshake_and_garbage() {
    let now = Instant::now();
    for input in [
        &Message::Interested.to_bytes()[..],
        b"GET /announce HTTP/1.1\r\n",
        &[0u8; 100][..],
        &[19u8][..],
    ] {
        let mut c = PeerConnection::incoming(cfg(1), None, now);
        c.receive(input, now);
        if input == [19u8] {
            assert!(c.is_open());
            continue;
        }
        assert_eq!(disconnect_reason(&mut c), Some(Error::BadProtocolString));
    }
    // Deterministic pseudo-random garbage after a valid handshake must
    // never panic; the connection either stays open or disconnects.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let (mut b, now) = raw_peer(Reserved::standard(), cfg(2));
        let len = (rnd() % 200) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        // Make small length prefixes likely so that messages get parsed.
        if data.len() > 4 {
            data[0] = 0;
            data[1] = 0;
            data[2] = 0;
            data[3] %= 20;
        }
        for chunk in data.chunks(1 + (rnd() % 7) as usize) {
            b.receive(chunk, now);
        }
        while b.poll_event().is_some() {}
        while b.poll_transmit().is_some() {}
        b.handle_timeout(now + Duration::from_secs(1000));
        assert!(!b.is_open());
    }
}

#[test]
fn geometry_and_recv_buffer() {
    let g = geometry();
    assert_eq!(g.num_pieces, 3);
    assert_eq!(
        (g.piece_size(0), g.piece_size(2), g.piece_size(3)),
        (PIECE, 20000, 0)
    );
    assert!(g.block_in_range(&BlockRequest::new(2, 16384, 20000 - 16384)));
    assert!(!g.block_in_range(&BlockRequest::new(2, 16384, 16384)));
    assert!(PieceGeometry::new(0, 10).is_none());
    assert!(PieceGeometry::new(1, u64::MAX).is_none());
    let mut p = seed_and_leech();
    let buf = p.a.recv_buffer();
    assert!(buf.capacity() - buf.len() >= lt_wire::MIN_READ_SPACE);
}

#[test]
fn haves_before_geometry_are_bounded_and_kept() {
    let magnet = TorrentInfo {
        info_hash: InfoHash::from_v1(IH),
        geometry: None,
        our_pieces: Bitfield::new(0),
    };
    let mut c1 = cfg(1);
    c1.max_message_len = 1024;
    let mut p = Pair::new(c1, magnet, cfg(2), torrent(Bitfield::new(3)));
    p.take_a();
    p.b.we_have(2).unwrap();
    p.pump();
    assert!(p.take_a().contains(&Event::Have(2)));
    p.a.set_geometry(geometry(), Bitfield::new(3)).unwrap();
    assert!(p.a.peer_has(2) && !p.a.peer_has(1));
    // Without geometry, a have index beyond what any bitfield could hold is refused.
    let magnet = TorrentInfo {
        info_hash: InfoHash::from_v1(IH),
        geometry: None,
        our_pieces: Bitfield::new(0),
    };
    let mut c1 = cfg(1);
    c1.max_message_len = 1024;
    let now = Instant::now();
    let mut a = PeerConnection::outgoing(c1, magnet, IH, None, now);
    let h = lt_wire::Handshake {
        reserved: Reserved::standard(),
        info_hash: IH,
        peer_id: Sha1Hash([2; 20]),
    };
    a.receive(&h.encode(), now);
    a.receive(&Message::Have(1024 * 8).to_bytes(), now);
    assert_eq!(
        disconnect_reason(&mut a),
        Some(Error::PieceOutOfRange { piece: 8192 })
    );
}

#[test]
fn transfer_over_mse_rc4() {
    use lt_wire::mse::{MseHandshake, CRYPTO_PLAINTEXT, CRYPTO_RC4};
    let now = Instant::now();
    let mut a = PeerConnection::outgoing(cfg(1), torrent(Bitfield::new(3)), IH, None, now);
    let mut b = PeerConnection::incoming(cfg(2), None, now);
    // The BitTorrent handshake rides in the MSE initial payload.
    let ia = a.poll_transmit().unwrap().to_vec();
    let mut ma = MseHandshake::outgoing(
        IH,
        &[0x11; 20],
        &[0x22; 33],
        CRYPTO_RC4 | CRYPTO_PLAINTEXT,
        ia,
    );
    let mut mb = MseHandshake::incoming(
        &[Sha1Hash([9; 20]), IH],
        &[0x33; 20],
        &[0x44; 5],
        CRYPTO_RC4,
        true,
    );
    for _ in 0..4 {
        mb.receive(&ma.take_output()).unwrap();
        ma.receive(&mb.take_output()).unwrap();
    }
    let (ra, rb) = (ma.take_result().unwrap(), mb.take_result().unwrap());
    assert_eq!(rb.skey, IH);
    let (mut a_enc, mut a_dec) = (ra.encryptor.unwrap(), ra.decryptor.unwrap());
    let (mut b_enc, mut b_dec) = (rb.encryptor.unwrap(), rb.decryptor.unwrap());
    b.receive(&rb.initial_payload, now);
    a.receive(&ra.initial_payload, now);
    let mut got_blocks = 0;
    let mut requested = false;
    for _ in 0..20 {
        while let Some(ev) = b.poll_event() {
            match ev {
                Event::IncomingHandshake { info_hash, .. } => {
                    assert_eq!(info_hash, rb.skey);
                    b.accept(torrent(Bitfield::full(3)), now).unwrap();
                }
                Event::Interested => b.unchoke().unwrap(),
                Event::Request(r) => {
                    b.send_block(r.piece, r.offset, content(r.piece, r.offset, r.length))
                        .unwrap();
                }
                _ => {}
            }
        }
        while let Some(ev) = a.poll_event() {
            match ev {
                Event::HaveAll => a.interested().unwrap(),
                Event::Unchoked if !requested => {
                    requested = true;
                    for r in blocks(geometry()) {
                        a.request(r, now).unwrap();
                    }
                }
                Event::Block {
                    piece,
                    offset,
                    data,
                } => {
                    assert_eq!(data, content(piece, offset, data.len() as u32));
                    got_blocks += 1;
                }
                _ => {}
            }
        }
        // Encrypted "wire" in both directions; the bytes on it never show
        // the plaintext protocol string.
        while let Some(x) = a.poll_transmit() {
            let mut x = x.to_vec();
            a_enc.apply(&mut x);
            b_dec.apply(&mut x);
            b.receive(&x, now);
        }
        while let Some(x) = b.poll_transmit() {
            let mut x = x.to_vec();
            b_enc.apply(&mut x);
            assert!(!x.windows(19).any(|w| w == b"BitTorrent protocol"));
            a_dec.apply(&mut x);
            a.receive(&x, now);
        }
    }
    assert_eq!(got_blocks, 6);
    assert!(a.is_open() && b.is_open());
}

#[test]
fn input_while_awaiting_accept_is_bounded() {
    let now = Instant::now();
    let mut c = cfg(2);
    c.max_message_len = 1000;
    let mut b = PeerConnection::incoming(c, None, now);
    let h = lt_wire::Handshake {
        reserved: Reserved::standard(),
        info_hash: IH,
        peer_id: Sha1Hash([1; 20]),
    };
    b.receive(&h.encode(), now);
    assert!(matches!(
        b.poll_event(),
        Some(Event::IncomingHandshake { .. })
    ));
    b.receive(&[0u8; 900], now);
    assert!(b.is_open());
    b.receive(&[0u8; 200], now);
    assert!(matches!(
        disconnect_reason(&mut b),
        Some(Error::MessageTooLarge { .. })
    ));
    assert!(b.accept(torrent(Bitfield::full(3)), now).is_err());
}

#[test]
fn receive_bytes_is_zero_copy_and_chunking_agnostic() {
    // Build the seed's whole output stream for a transfer, then feed it to
    // fresh leeches in different chunkings; all must see the same events.
    let mut p = seed_and_leech();
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    for r in blocks(geometry()) {
        p.a.request(r, p.now).unwrap();
    }
    p.pump();
    for e in p.take_b() {
        if let Event::Request(r) = e {
            p.b.send_block(r.piece, r.offset, content(r.piece, r.offset, r.length))
                .unwrap();
        }
    }
    let mut stream = Vec::new();
    while let Some(x) = p.b.poll_transmit() {
        stream.extend_from_slice(&x);
    }
    let expected: Vec<Event> = {
        let mut a = p.a;
        a.receive(&stream, p.now);
        std::iter::from_fn(|| a.poll_event()).collect()
    };
    assert_eq!(
        expected
            .iter()
            .filter(|e| matches!(e, Event::Block { .. }))
            .count(),
        6
    );
    for chunk in [1usize, 3, 4, 13, 1000, 16384 + 13, 1 << 20] {
        let mut q = seed_and_leech();
        q.a.interested().unwrap();
        q.pump();
        q.b.unchoke().unwrap();
        q.pump();
        for r in blocks(geometry()) {
            q.a.request(r, q.now).unwrap();
        }
        q.pump();
        q.take_a();
        let whole = Bytes::from(stream.clone());
        let mut got = vec![];
        let mut off = 0;
        while off < whole.len() {
            let end = (off + chunk).min(whole.len());
            let piece = whole.slice(off..end);
            let (lo, hi) = (
                piece.as_ptr() as usize,
                piece.as_ptr() as usize + piece.len(),
            );
            q.a.receive_bytes(piece, q.now);
            while let Some(e) = q.a.poll_event() {
                if let Event::Block { data, .. } = &e {
                    let ptr = data.as_ptr() as usize;
                    if chunk >= 1 << 20 {
                        assert!(ptr >= lo && ptr + data.len() <= hi, "block copied");
                    }
                }
                got.push(e);
            }
            off = end;
        }
        assert_eq!(got, expected, "chunk size {chunk}");
    }
}

#[test]
fn receive_bytes_through_the_handshake() {
    // The peer's handshake and first messages in one chunk, then garbage.
    let now = Instant::now();
    let mut b = PeerConnection::incoming(cfg(2), None, now);
    let h = lt_wire::Handshake {
        reserved: Reserved::standard(),
        info_hash: IH,
        peer_id: Sha1Hash([1; 20]),
    };
    let mut first = h.encode().to_vec();
    first.extend_from_slice(&Message::HaveNone.to_bytes());
    first.extend_from_slice(&Message::Interested.to_bytes());
    b.receive_bytes(Bytes::from(first), now);
    assert!(matches!(
        b.poll_event(),
        Some(Event::IncomingHandshake { .. })
    ));
    b.accept(torrent(Bitfield::full(3)), now).unwrap();
    let evs: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(matches!(evs[0], Event::Connected { .. }));
    assert_eq!(&evs[1..], &[Event::HaveNone, Event::Interested]);
    b.receive_bytes(Bytes::from_static(&[0, 0xff, 0, 0]), now);
    assert!(matches!(
        disconnect_reason(&mut b),
        Some(Error::MessageTooLarge { .. })
    ));
}

/// A bitfield after have-none (aria2 does this) replaces the peer's pieces,
/// as libtorrent accepts it; so do later have-all / have-none.
#[test]
fn later_bitfield_replaces_the_peers_pieces() {
    let (mut b, now) = raw_peer(Reserved::standard(), PeerConfig::new(Sha1Hash([2; 20])));
    let wire = |m: Message| m.to_bytes();
    let msgs = [
        wire(Message::HaveNone),
        wire(Message::Have(1)),
        wire(Message::Bitfield(Bytes::from_static(&[0xa0]))),
    ]
    .concat();
    b.receive(&msgs, now);
    b.process(now);
    let events: Vec<Event> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, Event::Disconnect { .. })),
        "{events:?}"
    );
    assert!(matches!(events.last(), Some(Event::Bitfield)));
    let pieces = b.peer_pieces().unwrap();
    assert!(pieces.get(0) && !pieces.get(1) && pieces.get(2));
    b.receive(&wire(Message::HaveAll), now);
    b.process(now);
    assert!(matches!(b.poll_event(), Some(Event::HaveAll)));
    assert!(b.peer_pieces().unwrap().all());
}

#[test]
fn v1_handshake_answered_with_v2_hash_without_v2_bit() {
    // libtorrent answers a hybrid torrent's v1 handshake with the v2 hash
    // when it learned of us through the v2 hash (a local service discovery
    // announce), even when neither side set the v2 reserved bit.
    let v2 = Sha256Hash::digest(b"v2 info");
    let hybrid = TorrentInfo {
        info_hash: InfoHash::new(IH, v2),
        geometry: Some(geometry()),
        our_pieces: Bitfield::new(3),
    };
    let now = Instant::now();
    let mut a = PeerConnection::outgoing(cfg(1), hybrid, IH, None, now);
    let _ = a.poll_transmit();
    let h = lt_wire::Handshake {
        reserved: Reserved::standard(),
        info_hash: v2.truncated(),
        peer_id: Sha1Hash([2; 20]),
    };
    a.receive(&h.encode(), now);
    assert!(matches!(
        a.poll_event(),
        Some(Event::Connected {
            version: ProtocolVersion::V2,
            ..
        })
    ));
    // a hash that is neither of the torrent's still fails
    let mut a = PeerConnection::outgoing(cfg(1), torrent(Bitfield::new(3)), IH, None, now);
    let _ = a.poll_transmit();
    let h = lt_wire::Handshake {
        info_hash: Sha1Hash([9; 20]),
        ..h
    };
    a.receive(&h.encode(), now);
    assert_eq!(
        a.poll_event(),
        Some(Event::Disconnect {
            reason: Error::InfoHashMismatch
        })
    );
}

/// Two connected v2 peers (a hybrid torrent upgraded to v2).
fn v2_pair() -> (PeerConnection, PeerConnection, Instant) {
    let v2 = Sha256Hash::digest(b"v2 info");
    let hybrid = |have| TorrentInfo {
        info_hash: InfoHash::new(IH, v2),
        geometry: Some(geometry()),
        our_pieces: have,
    };
    let mut c1 = cfg(1);
    c1.reserved.set_v2(true);
    let mut c2 = cfg(2);
    c2.reserved.set_v2(true);
    let now = Instant::now();
    let mut a = PeerConnection::outgoing(c1, hybrid(Bitfield::new(3)), IH, None, now);
    let mut b = PeerConnection::incoming(c2, None, now);
    b.receive(&a.poll_transmit().unwrap(), now);
    while let Some(ev) = b.poll_event() {
        if matches!(ev, Event::IncomingHandshake { .. }) {
            b.accept(hybrid(Bitfield::full(3)), now).unwrap();
        }
    }
    while let Some(x) = b.poll_transmit() {
        a.receive(&x, now);
    }
    while a.poll_event().is_some() {}
    (a, b, now)
}

#[test]
fn hashes_reply_must_carry_the_run_and_its_proof() {
    let req = HashRequest {
        pieces_root: Sha256Hash([1; 32]),
        base_layer: 0,
        index: 0,
        length: 4,
        proof_layers: 3, // a run of 4 covers 2 layers: 2 uncles
    };
    assert_eq!(req.reply_len(), 6);
    // the exact count is delivered
    let (mut a, mut b, now) = v2_pair();
    let ok = Bytes::from(vec![7u8; 6 * 32]);
    b.send_hash_message(Message::Hashes {
        request: req,
        hashes: ok.clone(),
    })
    .unwrap();
    while let Some(x) = b.poll_transmit() {
        a.receive(&x, now);
    }
    let evs: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(evs.contains(&Event::Hashes {
        request: req,
        hashes: ok
    }));
    assert!(a.is_connected());
    // one hash short, one too many, a malformed header: disconnected
    for (request, n) in [
        (req, 5usize),
        (req, 7),
        (HashRequest { length: 3, ..req }, 3),
        (HashRequest { length: 0, ..req }, 0),
        (
            HashRequest {
                proof_layers: u32::MAX,
                ..req
            },
            6,
        ),
    ] {
        let (mut a, mut b, now) = v2_pair();
        b.send_hash_message(Message::Hashes {
            request,
            hashes: Bytes::from(vec![7u8; n * 32]),
        })
        .unwrap();
        while let Some(x) = b.poll_transmit() {
            a.receive(&x, now);
        }
        assert_eq!(
            disconnect_reason(&mut a),
            Some(Error::InvalidHashes),
            "{request:?} with {n} hashes"
        );
    }
}

#[test]
fn hash_messages_need_v2() {
    // a plain v1 connection: hash messages are a protocol violation and
    // cannot be sent
    let mut p = seed_and_leech();
    let req = HashRequest {
        pieces_root: Sha256Hash([1; 32]),
        base_layer: 0,
        index: 0,
        length: 2,
        proof_layers: 0,
    };
    assert_eq!(
        p.a.send_hash_message(Message::HashRequest(req)),
        Err(Error::NotSupported("v2"))
    );
    assert!(p.a.send_hash_message(Message::Have(1)).is_err());
}

#[test]
fn request_timing_and_the_block_being_received() {
    let mut p = seed_and_leech();
    let start = p.now;
    assert_eq!(p.a.last_request(), start);
    assert_eq!(p.a.round_trips().samples(), 0);
    p.a.interested().unwrap();
    p.pump();
    p.b.unchoke().unwrap();
    p.pump();
    let r = BlockRequest::new(0, 0, BLOCK);
    p.now += Duration::from_millis(5);
    p.a.request(r, p.now).unwrap();
    assert_eq!(p.a.last_request(), p.now);
    p.pump();
    p.b.send_block(0, 0, content(0, 0, BLOCK)).unwrap();
    let mut wire = Vec::new();
    while let Some(x) = p.b.poll_transmit() {
        wire.extend_from_slice(&x);
    }
    // The header and 100 bytes of the block arrive 40 ms after the request.
    p.now += Duration::from_millis(40);
    p.a.receive(&wire[..13 + 100], p.now);
    assert_eq!(p.a.receiving_block(), Some((0, 0, 100, BLOCK)));
    assert!(p.a.recv_buffer_use().1 >= 113);
    p.a.receive(&wire[13 + 100..], p.now);
    assert_eq!(p.a.receiving_block(), None);
    let rt = p.a.round_trips();
    assert_eq!((rt.samples(), rt.mean_ms(), rt.deviation_ms()), (1, 40, 0));
    assert_eq!(p.a.last_active(), p.now);
}

#[test]
fn round_trips_average_and_deviation() {
    let mut rt = lt_wire::peer::RoundTrips::default();
    rt.add(100);
    rt.add(200);
    // mean 150; deviation of the second sample from the first mean: 100
    assert_eq!((rt.mean_ms(), rt.deviation_ms()), (150, 100));
    for _ in 0..100 {
        rt.add(10);
    }
    // the window forgets old samples
    assert!(rt.mean_ms() <= 11, "{}", rt.mean_ms());
    assert!(rt.deviation_ms() < 10, "{}", rt.deviation_ms());
}
