//! Manual interoperability check: connects to a BitTorrent peer on
//! loopback, optionally through MSE, downloads piece 0 and the metadata
//! (ut_metadata) and verifies both by hash.
//!
//! ```text
//! cargo run -p lt-wire --example fetch_piece -- 127.0.0.1:PORT INFOHASH PIECE_LEN TOTAL PIECE0_SHA1 METADATA_SIZE rc4|plaintext|none
//! ```
//!
//! A blocking std socket with a short read timeout stands in for the
//! session engine's tokio task; the whole run is bounded to 20 seconds.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lt_core::{InfoHash, Sha1Hash};
use lt_wire::extension::names;
use lt_wire::mse::{MseHandshake, Rc4, CRYPTO_PLAINTEXT, CRYPTO_RC4};
use lt_wire::{
    Bitfield, BlockRequest, Event, ExtensionMessage, MetadataMsg, PeerConfig, PeerConnection,
    PieceGeometry, TorrentInfo,
};

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(out.len());
        out.extend_from_slice(&h.finish().to_le_bytes());
    }
    out.truncate(n);
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 8 {
        return Err(
            "usage: fetch_piece ADDR INFOHASH PIECE_LEN TOTAL PIECE0_SHA1 METADATA_SIZE MODE"
                .into(),
        );
    }
    let ih = Sha1Hash::from_hex(&args[2]).ok_or("bad info-hash")?;
    let geometry = PieceGeometry::new(args[3].parse()?, args[4].parse()?).ok_or("bad geometry")?;
    let want_p0 = Sha1Hash::from_hex(&args[5]).ok_or("bad piece hash")?;
    let meta_size: u64 = args[6].parse()?;
    let mode = args[7].as_str();
    let deadline = Instant::now() + Duration::from_secs(20);

    let mut sock = TcpStream::connect(&args[1])?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let now = Instant::now();
    let mut cfg = PeerConfig::new(Sha1Hash(*b"-LR0001-interopcheck"));
    cfg.extensions.m.insert(names::UT_METADATA.into(), 3);
    let torrent = TorrentInfo {
        info_hash: InfoHash::from_v1(ih),
        geometry: Some(geometry),
        our_pieces: Bitfield::new(geometry.num_pieces),
    };
    let peer_ip = sock.peer_addr().ok().map(|a| a.ip());
    let mut conn = PeerConnection::outgoing(cfg, torrent, ih, peer_ip, now);
    let mut buf = vec![0u8; 64 * 1024];

    // Optional MSE layer; the BitTorrent handshake goes out as IA.
    let (mut enc, mut dec): (Option<Rc4>, Option<Rc4>) = (None, None);
    if mode != "none" {
        let methods = if mode == "rc4" {
            CRYPTO_RC4
        } else {
            CRYPTO_PLAINTEXT
        };
        let ia = conn.poll_transmit().map(|b| b.to_vec()).unwrap_or_default();
        let pad_len = (random_bytes(1)[0] as usize) % 64;
        let mut mse =
            MseHandshake::outgoing(ih, &random_bytes(20), &random_bytes(pad_len), methods, ia);
        sock.write_all(&mse.take_output())?;
        while !mse.is_done() {
            if Instant::now() > deadline {
                return Err("MSE handshake timed out".into());
            }
            match sock.read(&mut buf) {
                Ok(0) => return Err("peer closed during MSE".into()),
                Ok(n) => mse.receive(&buf[..n])?,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e.into()),
            }
            let out = mse.take_output();
            if !out.is_empty() {
                sock.write_all(&out)?;
            }
        }
        let r = mse.take_result().ok_or("no MSE result")?;
        println!("MSE done: {:?}", r.method);
        enc = r.encryptor;
        dec = r.decryptor;
        conn.receive(&r.initial_payload, Instant::now());
    }

    let mut piece0 = vec![0u8; geometry.piece_size(0) as usize];
    let mut blocks_left = 0;
    let mut metadata: Option<Vec<u8>> = None;
    let mut requested = false;
    loop {
        let now = Instant::now();
        if now > deadline {
            return Err("timed out".into());
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Connected {
                    peer_id,
                    extensions,
                    ..
                } => {
                    println!(
                        "connected to {:?} ({:?})",
                        String::from_utf8_lossy(&peer_id.0[..8]),
                        extensions
                    );
                    conn.interested()?;
                }
                Event::ExtensionHandshake(h) => {
                    println!(
                        "peer extensions: v={:?} metadata_size={:?} reqq={:?}",
                        h.v, h.metadata_size, h.reqq
                    );
                    if conn.peer_supports(names::UT_METADATA) {
                        conn.send_extension(&ExtensionMessage::Metadata(MetadataMsg::Request {
                            piece: 0,
                        }))?;
                    }
                }
                Event::Unchoked if !requested => {
                    requested = true;
                    let size = geometry.piece_size(0);
                    let mut off = 0;
                    while off < size {
                        let len = (16 * 1024).min(size - off);
                        conn.request(BlockRequest::new(0, off, len), now)?;
                        blocks_left += 1;
                        off += len;
                    }
                }
                Event::Block {
                    piece: 0,
                    offset,
                    data,
                } => {
                    piece0[offset as usize..offset as usize + data.len()].copy_from_slice(&data);
                    blocks_left -= 1;
                }
                Event::Extension(ExtensionMessage::Metadata(MetadataMsg::Data {
                    piece: 0,
                    total_size,
                    data,
                })) => {
                    println!("metadata piece 0: {} of {total_size} bytes", data.len());
                    metadata = Some(data.to_vec());
                }
                Event::Disconnect { reason } => {
                    return Err(format!("disconnected: {reason}").into())
                }
                _ => {}
            }
        }
        if requested && blocks_left == 0 && (metadata.is_some() || meta_size > 16384) {
            break;
        }
        while let Some(chunk) = conn.poll_transmit() {
            let mut c = chunk.to_vec();
            if let Some(e) = enc.as_mut() {
                e.apply(&mut c);
            }
            sock.write_all(&c)?;
        }
        match sock.read(&mut buf) {
            Ok(0) => return Err("peer closed".into()),
            Ok(n) => {
                let data = &mut buf[..n];
                if let Some(d) = dec.as_mut() {
                    d.apply(data);
                }
                conn.receive(data, Instant::now());
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e.into()),
        }
        conn.handle_timeout(Instant::now());
    }
    let got = Sha1Hash::digest(&piece0);
    println!("piece 0 sha1 {got} (expected {want_p0})");
    if got != want_p0 {
        return Err("piece 0 hash mismatch".into());
    }
    if let Some(m) = metadata {
        let h = Sha1Hash::digest(&m);
        println!("metadata sha1 {h} (info-hash {ih})");
        if h != ih {
            return Err("metadata hash mismatch".into());
        }
    }
    let c = conn.counters();
    println!(
        "OK: payload down {} protocol down {} protocol up {}",
        c.payload_down, c.protocol_down, c.protocol_up
    );
    Ok(())
}
