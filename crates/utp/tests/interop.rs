//! Interoperability with the reference libtorrent over real UDP on
//! 127.0.0.1: we connect over uTP to a libtorrent seeder, exchange
//! BitTorrent handshakes and download the whole torrent; then a libtorrent
//! leecher connects to our uTP listener and downloads it from us. Skips
//! when the reference module's virtualenv (`.venv-ref`, see
//! scripts/setup.sh) is missing.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use lt_core::{PeerId, Sha1Hash};
use lt_utp::{ConnectionId, Event, UtpConfig, UtpSocket};
use lt_wire::handshake::{Handshake, Reserved, HANDSHAKE_LEN};

const BLOCK: usize = 16 * 1024;

fn reference_python() -> Option<PathBuf> {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-ref/bin/python");
    [local, PathBuf::from("/work/main/.venv-ref/bin/python")]
        .into_iter()
        .find(|p| p.exists())
}

/// The reference peer script running in a subprocess, its stdout lines
/// arriving on a channel.
struct RefPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    dir: PathBuf,
}

impl RefPeer {
    fn spawn(python: &PathBuf, args: &[&str]) -> RefPeer {
        let dir = std::env::temp_dir().join(format!(
            "lt-utp-interop-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ rand_seed() as u128
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ref_utp_peer.py");
        let mut child = Command::new(python)
            .arg("-W")
            .arg("ignore")
            .arg(&script)
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .arg("--timeout")
            .arg("60")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the reference peer");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        RefPeer {
            child,
            stdin,
            lines,
            dir,
        }
    }

    fn line(&self, deadline: Instant) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines
            .recv_timeout(left)
            .expect("the reference peer printed nothing in time")
    }
}

impl Drop for RefPeer {
    fn drop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32)
}

// ---- just enough JSON for the script's output

fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\": ");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} missing: {json}"))
        + pat.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim()
}

fn json_str(json: &str, key: &str) -> String {
    json_field(json, key).trim_matches('"').to_string()
}

fn json_int(json: &str, key: &str) -> usize {
    json_field(json, key).parse().unwrap()
}

fn json_str_list(json: &str, key: &str) -> Vec<String> {
    let pat = format!("\"{key}\": [");
    let start = json.find(&pat).unwrap() + pat.len();
    let end = start + json[start..].find(']').unwrap();
    json[start..end]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The torrent's content, as the script builds it.
fn content(total: usize) -> Vec<u8> {
    (0..total as u64)
        .map(|i| ((i * 0x9E37_79B1) >> 16) as u8)
        .collect()
}

// ---- a lossy relay between our socket and the reference

/// Forwards datagrams between our uTP socket (`ours`) and the reference
/// peer (`theirs`, learned from its first datagram if not given), dropping
/// a seeded pseudo-random share of them in each direction.
struct Relay {
    sock: UdpSocket,
    ours: SocketAddr,
    theirs: Option<SocketAddr>,
    rng: u64,
    loss_percent: u64,
    forwarded: usize,
    dropped: usize,
}

impl Relay {
    fn new(ours: SocketAddr, theirs: Option<SocketAddr>, loss_percent: u64) -> Relay {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        Relay {
            sock,
            ours,
            theirs,
            rng: 0x2545_f491_4f6c_dd1d,
            loss_percent,
            forwarded: 0,
            dropped: 0,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = self.sock.recv_from(&mut buf) {
            let to = if from == self.ours {
                match self.theirs {
                    Some(t) => t,
                    None => continue,
                }
            } else {
                self.theirs.get_or_insert(from);
                self.ours
            };
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if self.rng % 100 < self.loss_percent {
                self.dropped += 1;
                continue;
            }
            self.forwarded += 1;
            let _ = self.sock.send_to(&buf[..n], to);
        }
    }
}

// ---- a UDP socket driving a uTP socket

struct Net {
    udp: UdpSocket,
    utp: UtpSocket,
    buf: Vec<u8>,
    relay: Option<Relay>,
}

impl Net {
    fn new() -> Net {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        Net {
            udp,
            utp: UtpSocket::new(UtpConfig::default(), Instant::now(), rand_seed()),
            buf: vec![0; 65536],
            relay: None,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.udp.local_addr().unwrap()
    }

    /// Receives what arrived, runs timers, sends, returns the events.
    fn pump(&mut self) -> Vec<Event> {
        if let Some(r) = self.relay.as_mut() {
            r.pump();
        }
        let now = Instant::now();
        loop {
            match self.udp.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let d = &self.buf[..n];
                    if lt_utp::looks_like_utp(d) {
                        self.utp.handle_datagram(d, from, now);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => panic!("recv: {e}"),
            }
        }
        self.utp.tick(now);
        while let Some(t) = self.utp.poll_transmit(now) {
            let _ = self.udp.send_to(&t.data, t.to);
        }
        let mut ev = Vec::new();
        while let Some(e) = self.utp.poll_event() {
            if let Event::Closed(_, r) = e {
                panic!("uTP connection closed: {r}");
            }
            ev.push(e);
        }
        std::thread::sleep(Duration::from_millis(1));
        ev
    }

    /// Appends everything readable on `c` to `into`.
    fn read_into(&mut self, c: ConnectionId, into: &mut Vec<u8>) -> bool {
        let mut chunk = [0u8; 16384];
        loop {
            match self.utp.read(c, &mut chunk) {
                Ok(0) => return false,
                Ok(n) => into.extend_from_slice(&chunk[..n]),
                Err(lt_utp::Error::WouldBlock) => return true,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Writes as much of `pending` as fits; drops what was written.
    fn write_from(&mut self, c: ConnectionId, pending: &mut Vec<u8>) {
        while !pending.is_empty() {
            match self.utp.write(c, pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(lt_utp::Error::WouldBlock) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
    }
}

fn our_peer_id() -> PeerId {
    PeerId::from_slice(b"-RS0001-utpinterop01").unwrap()
}

/// Pops one length-prefixed peer message (id, payload) off `buf`.
fn pop_message(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    loop {
        if buf.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if buf.len() < 4 + len {
            return None;
        }
        let msg: Vec<u8> = buf.drain(..4 + len).skip(4).collect();
        if let Some((&id, payload)) = msg.split_first() {
            return Some((id, payload.to_vec()));
        } // else keep-alive
    }
}

fn message(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    m.push(id);
    m.extend_from_slice(payload);
    m
}

#[test]
fn we_download_from_a_reference_seeder_over_utp() {
    download_from_seeder(0);
}

#[test]
fn we_download_from_a_reference_seeder_through_a_lossy_relay() {
    download_from_seeder(5);
}

#[test]
fn a_reference_leecher_downloads_from_us_over_utp() {
    serve_leecher(0);
}

#[test]
fn a_reference_leecher_downloads_from_us_through_a_lossy_relay() {
    serve_leecher(5);
}

fn download_from_seeder(loss_percent: u64) {
    let Some(python) = reference_python() else {
        eprintln!("SKIPPED: reference libtorrent not installed (.venv-ref, see scripts/setup.sh)");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let seed = RefPeer::spawn(&python, &["seed"]);
    let info = seed.line(deadline);
    let port = json_int(&info, "port") as u16;
    let info_hash = Sha1Hash::from_hex(&json_str(&info, "info_hash")).unwrap();
    let total = json_int(&info, "total");
    let piece_len = json_int(&info, "piece_length");
    let hashes = json_str_list(&info, "pieces");
    assert_eq!(hashes.len(), total.div_ceil(piece_len));

    let mut net = Net::new();
    let mut peer: SocketAddr = ([127, 0, 0, 1], port).into();
    if loss_percent > 0 {
        let relay = Relay::new(net.addr(), Some(peer), loss_percent);
        peer = relay.addr();
        net.relay = Some(relay);
    }
    let c = net.utp.connect(peer, Instant::now()).unwrap();
    let hs = Handshake {
        reserved: Reserved::NONE,
        info_hash,
        peer_id: our_peer_id(),
    };
    let mut out = hs.encode().to_vec();
    out.extend_from_slice(&message(2, &[])); // interested
    let mut inbuf = Vec::new();
    let mut connected = false;
    let mut their_hs = None;
    let mut requested = false;
    let mut data = vec![0u8; total];
    let mut received = 0;
    while received < total {
        assert!(
            Instant::now() < deadline,
            "timed out: connected {connected}, handshake {their_hs:?}, {received} bytes, {:?}",
            net.utp.info(c)
        );
        for e in net.pump() {
            if e == Event::Connected(c) {
                connected = true;
            }
        }
        net.write_from(c, &mut out);
        assert!(net.read_into(c, &mut inbuf), "the seeder closed the stream");
        if their_hs.is_none() {
            if inbuf.len() < HANDSHAKE_LEN {
                continue;
            }
            let h = Handshake::decode(&inbuf[..HANDSHAKE_LEN]).expect("a BitTorrent handshake");
            inbuf.drain(..HANDSHAKE_LEN);
            assert_eq!(h.info_hash, info_hash);
            assert_ne!(h.peer_id, our_peer_id());
            their_hs = Some(h);
        }
        while let Some((id, p)) = pop_message(&mut inbuf) {
            match id {
                1 if !requested => {
                    // unchoked: ask for every block at once
                    requested = true;
                    for begin in (0..total).step_by(BLOCK) {
                        let piece = begin / piece_len;
                        let off = begin % piece_len;
                        let len = BLOCK.min(total - begin).min(piece_len - off);
                        let mut r = Vec::new();
                        r.extend_from_slice(&(piece as u32).to_be_bytes());
                        r.extend_from_slice(&(off as u32).to_be_bytes());
                        r.extend_from_slice(&(len as u32).to_be_bytes());
                        out.extend_from_slice(&message(6, &r));
                    }
                }
                7 => {
                    assert!(p.len() >= 8);
                    let piece = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
                    let off = u32::from_be_bytes([p[4], p[5], p[6], p[7]]) as usize;
                    let at = piece * piece_len + off;
                    let block = &p[8..];
                    data[at..at + block.len()].copy_from_slice(block);
                    received += block.len();
                }
                _ => {}
            }
        }
    }
    assert!(connected);
    for (i, h) in hashes.iter().enumerate() {
        let piece = &data[i * piece_len..((i + 1) * piece_len).min(total)];
        assert_eq!(Sha1Hash::digest(piece).to_hex(), *h, "piece {i}");
    }
    assert_eq!(data, content(total));
    // close gracefully: our FIN gets acknowledged and the connection goes
    let now = Instant::now();
    net.utp.close(c, now);
    let end = Instant::now() + Duration::from_secs(10);
    while net.utp.num_connections() > 0 && Instant::now() < end {
        net.pump();
    }
    assert_eq!(net.utp.num_connections(), 0, "FIN never acknowledged");
    let st = net.utp.stats();
    eprintln!("{st:?}");
    assert_eq!(st.invalid_packets_in, 0);
    if let Some(r) = &net.relay {
        // the seeder's lost packets were resent and put back in order
        assert!(r.dropped > 10, "{} dropped", r.dropped);
    }
}

fn serve_leecher(loss_percent: u64) {
    let Some(python) = reference_python() else {
        eprintln!("SKIPPED: reference libtorrent not installed (.venv-ref, see scripts/setup.sh)");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut net = Net::new();
    let mut port = net.addr().port();
    if loss_percent > 0 {
        let relay = Relay::new(net.addr(), None, loss_percent);
        port = relay.addr().port();
        net.relay = Some(relay);
    }
    let port = port.to_string();
    let leech = RefPeer::spawn(&python, &["leech", "--connect", &port]);
    let mut info = None;
    let mut conn = None;
    let mut inbuf = Vec::new();
    let mut out = Vec::new();
    let mut their_hs = None;
    let mut served = 0usize;
    let mut result = None;
    while result.is_none() {
        assert!(
            Instant::now() < deadline,
            "timed out: conn {conn:?}, handshake {their_hs:?}, served {served}"
        );
        for e in net.pump() {
            if let Event::Incoming(c) = e {
                assert!(conn.is_none(), "a second connection");
                conn = Some(c);
            }
        }
        if let Ok(line) = leech.lines.try_recv() {
            if info.is_none() {
                info = Some(line);
            } else {
                result = Some(line);
            }
        }
        let (Some(c), Some(info)) = (conn, info.as_ref()) else {
            continue;
        };
        let total = json_int(info, "total");
        let piece_len = json_int(info, "piece_length");
        let info_hash = Sha1Hash::from_hex(&json_str(info, "info_hash")).unwrap();
        if !net.read_into(c, &mut inbuf) {
            continue; // the leecher finished and closed
        }
        if their_hs.is_none() {
            if inbuf.len() < HANDSHAKE_LEN {
                continue;
            }
            let h = Handshake::decode(&inbuf[..HANDSHAKE_LEN]).expect("a BitTorrent handshake");
            inbuf.drain(..HANDSHAKE_LEN);
            assert_eq!(h.info_hash, info_hash, "handshake for another torrent");
            their_hs = Some(h);
            let ours = Handshake {
                reserved: Reserved::NONE,
                info_hash,
                peer_id: our_peer_id(),
            };
            out.extend_from_slice(&ours.encode());
            let n = total.div_ceil(piece_len);
            let mut bits = vec![0u8; n.div_ceil(8)];
            for i in 0..n {
                bits[i / 8] |= 0x80 >> (i % 8);
            }
            out.extend_from_slice(&message(5, &bits)); // bitfield
            out.extend_from_slice(&message(1, &[])); // unchoke
        }
        let data = content(total);
        while let Some((id, p)) = pop_message(&mut inbuf) {
            if id == 6 && p.len() == 12 {
                let piece = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
                let off = u32::from_be_bytes([p[4], p[5], p[6], p[7]]) as usize;
                let len = u32::from_be_bytes([p[8], p[9], p[10], p[11]]) as usize;
                let at = piece * piece_len + off;
                let mut payload = p[..8].to_vec();
                payload.extend_from_slice(&data[at..at + len]);
                out.extend_from_slice(&message(7, &payload));
                served += len;
            }
        }
        net.write_from(c, &mut out);
    }
    let result = result.unwrap_or_default();
    assert!(
        result.contains("\"done\": true"),
        "the reference leecher did not finish: {result}"
    );
    let st = net.utp.stats();
    eprintln!("{result}\n{st:?}");
    assert_eq!(st.invalid_packets_in, 0);
    if let Some(r) = &net.relay {
        assert!(r.dropped > 0 && st.packet_resend > 0, "{st:?}");
    }
    assert!(their_hs.is_some());
    assert!(served >= json_int(info.as_deref().unwrap_or_default(), "total"));
}
