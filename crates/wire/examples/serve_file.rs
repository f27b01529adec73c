//! Manual interoperability check, the incoming side: listens on loopback,
//! accepts one peer (plaintext or MSE, detected from its first bytes) and
//! seeds a single-file torrent to it until it disconnects or 30 s pass.
//!
//! ```text
//! cargo run -p lt-wire --example serve_file -- FILE INFOHASH PIECE_LEN
//! ```
//! It prints `PORT <n>` once listening.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lt_core::{InfoHash, Sha1Hash};
use lt_wire::mse::{looks_like_plaintext, MseHandshake, Rc4, CRYPTO_PLAINTEXT, CRYPTO_RC4};
use lt_wire::{Bitfield, Event, PeerConfig, PeerConnection, PieceGeometry, TorrentInfo};

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
    if args.len() != 4 {
        return Err("usage: serve_file FILE INFOHASH PIECE_LEN".into());
    }
    let data = Bytes::from(std::fs::read(&args[1])?);
    let ih = Sha1Hash::from_hex(&args[2]).ok_or("bad info-hash")?;
    let geometry = PieceGeometry::new(args[3].parse()?, data.len() as u64).ok_or("bad geometry")?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("PORT {}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut sock, addr) = listener.accept()?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut buf = vec![0u8; 64 * 1024];

    // Peek at the first bytes to tell plaintext from MSE.
    let mut first = Vec::new();
    while first.len() < 20 {
        if Instant::now() > deadline {
            return Err("timed out".into());
        }
        match sock.read(&mut buf) {
            Ok(0) => return Err("closed".into()),
            Ok(n) => first.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (mut enc, mut dec): (Option<Rc4>, Option<Rc4>) = (None, None);
    let mut initial = first.clone();
    if !looks_like_plaintext(&first) {
        let pad_len = (random_bytes(1)[0] as usize) % 64;
        let mut mse = MseHandshake::incoming(
            &[ih],
            &random_bytes(20),
            &random_bytes(pad_len),
            CRYPTO_RC4 | CRYPTO_PLAINTEXT,
            true,
        );
        mse.receive(&first)?;
        loop {
            let out = mse.take_output();
            if !out.is_empty() {
                sock.write_all(&out)?;
            }
            if mse.is_done() {
                break;
            }
            if Instant::now() > deadline {
                return Err("MSE timed out".into());
            }
            match sock.read(&mut buf) {
                Ok(0) => return Err("closed during MSE".into()),
                Ok(n) => mse.receive(&buf[..n])?,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e.into()),
            }
        }
        let r = mse.take_result().ok_or("no MSE result")?;
        println!("MSE done: {:?}", r.method);
        enc = r.encryptor;
        dec = r.decryptor;
        initial = r.initial_payload;
    }

    let mut conn = PeerConnection::incoming(
        PeerConfig::new(Sha1Hash(*b"-LR0001-serverchecks")),
        Some(addr.ip()),
        Instant::now(),
    );
    conn.receive(&initial, Instant::now());
    let mut served = 0u64;
    loop {
        let now = Instant::now();
        if now > deadline {
            println!("deadline reached; served {served} bytes");
            return Ok(());
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::IncomingHandshake { info_hash, .. } => {
                    let t = TorrentInfo {
                        info_hash: InfoHash::from_v1(ih),
                        geometry: Some(geometry),
                        our_pieces: Bitfield::full(geometry.num_pieces),
                    };
                    if info_hash != ih {
                        conn.close();
                    } else {
                        conn.accept(t, now)?;
                    }
                }
                Event::Connected { peer_id, .. } => {
                    println!("connected: {}", String::from_utf8_lossy(&peer_id.0[..8]))
                }
                Event::Interested => conn.unchoke()?,
                Event::Request(r) => {
                    let start =
                        r.piece as usize * geometry.piece_length as usize + r.offset as usize;
                    let block = data.slice(start..start + r.length as usize);
                    served += r.length as u64;
                    conn.send_block(r.piece, r.offset, block)?;
                }
                Event::Disconnect { reason } => {
                    println!("disconnect: {reason}; served {served} bytes");
                    return Ok(());
                }
                _ => {}
            }
        }
        while let Some(chunk) = conn.poll_transmit() {
            let mut c = chunk.to_vec();
            if let Some(e) = enc.as_mut() {
                e.apply(&mut c);
            }
            sock.write_all(&c)?;
        }
        match sock.read(&mut buf) {
            Ok(0) => {
                println!("peer closed; served {served} bytes");
                return Ok(());
            }
            Ok(n) => {
                let d = &mut buf[..n];
                if let Some(x) = dec.as_mut() {
                    x.apply(d);
                }
                conn.receive(d, Instant::now());
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e.into()),
        }
        conn.handle_timeout(Instant::now());
    }
}
