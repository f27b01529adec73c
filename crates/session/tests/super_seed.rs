//! Super seeding (BEP 16) seen from the wire: raw peers connect to a
//! super-seeding engine over loopback and check every message it sends.

mod common;
use common::*;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_session::torrent::{flags, AddTorrent};
use lt_session::{Session, TorrentState};
use lt_settings::{keys, SettingsPack};

const PIECE: usize = 16 * 1024;
const PIECES: u32 = 8;

const HAVE: u8 = 4;
const BITFIELD: u8 = 5;
const REQUEST: u8 = 6;
const PIECE_MSG: u8 = 7;
const HAVE_ALL: u8 = 14;
const HAVE_NONE: u8 = 15;
const REJECT: u8 = 16;
const UNCHOKE: u8 = 1;
const INTERESTED: u8 = 2;

/// A hand-driven peer: writes messages, reads every message that arrives.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(port: u16, ih: [u8; 20], tag: u8, fast: bool) -> Raw {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut reserved = [0u8; 8];
        reserved[5] |= 0x10; // extension protocol
        if fast {
            reserved[7] |= 0x04;
        }
        let mut hs = vec![19u8];
        hs.extend_from_slice(b"BitTorrent protocol");
        hs.extend_from_slice(&reserved);
        hs.extend_from_slice(&ih);
        hs.extend_from_slice(b"-XX0001-");
        hs.extend_from_slice(&[tag; 12]);
        s.write_all(&hs).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut r = Raw { s, buf: Vec::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.buf.len() < 68 {
            assert!(Instant::now() < deadline, "no handshake");
            r.fill();
        }
        assert_eq!(&r.buf[28..48], &ih);
        r.buf.drain(..68);
        r
    }

    fn fill(&mut self) {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) => panic!("connection closed"),
            Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            Err(_) => {}
        }
    }

    fn send(&mut self, id: u8, payload: &[u8]) {
        let mut m = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        m.push(id);
        m.extend_from_slice(payload);
        self.s.write_all(&m).unwrap();
    }

    fn request(&mut self, piece: u32, len: u32) {
        let mut p = piece.to_be_bytes().to_vec();
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&len.to_be_bytes());
        self.send(REQUEST, &p);
    }

    /// Messages (id, payload) received during `wait`, keep-alives and
    /// extension messages left out.
    fn read_for(&mut self, wait: Duration) -> Vec<(u8, Vec<u8>)> {
        let end = Instant::now() + wait;
        while Instant::now() < end {
            self.fill();
        }
        let mut out = Vec::new();
        while self.buf.len() >= 4 {
            let n = u32::from_be_bytes(self.buf[..4].try_into().unwrap()) as usize;
            if self.buf.len() < 4 + n {
                break;
            }
            let m: Vec<u8> = self.buf[4..4 + n].to_vec();
            self.buf.drain(..4 + n);
            if n > 0 && m[0] != 20 {
                out.push((m[0], m[1..].to_vec()));
            }
        }
        out
    }
}

fn haves(msgs: &[(u8, Vec<u8>)]) -> Vec<u32> {
    msgs.iter()
        .filter(|m| m.0 == HAVE)
        .map(|m| u32::from_be_bytes(m.1[..4].try_into().unwrap()))
        .collect()
}

fn ids(msgs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    msgs.iter().map(|m| m.0).collect()
}

/// A super-seeding session with an 8-piece torrent, and its info-hash.
fn super_seed(strict: bool) -> (Session, lt_session::TorrentId, [u8; 20], Vec<u8>) {
    let dir = tempdir("superseed");
    let content = data(PIECE * PIECES as usize, 7);
    let ti = Arc::new(make_torrent("ss.bin", &[("ss.bin", &content)], PIECE));
    std::fs::write(dir.join("ss.bin"), &content).unwrap();
    let ses = session();
    let mut p = SettingsPack::new();
    p.set_bool(keys::STRICT_SUPER_SEEDING, strict);
    // the hand-driven peers all come from 127.0.0.1
    p.set_bool(keys::ALLOW_MULTIPLE_CONNECTIONS_PER_IP, true);
    ses.call(move |e| e.apply_settings(&p)).unwrap();
    let mut at = AddTorrent::new(ti.clone(), dir.to_string_lossy().into_owned());
    at.flags |= flags::SUPER_SEEDING;
    let id = ses.call(move |e| e.add_torrent(at)).unwrap().unwrap();
    wait_state(&ses, id, TorrentState::Seeding, 20);
    (ses, id, ti.info_hashes().v1.0, content)
}

const SHORT: Duration = Duration::from_millis(400);

#[test]
fn shows_one_piece_per_peer_and_serves_only_those() {
    let (ses, id, ih, content) = super_seed(false);
    let port = ses.listen_port();
    let mut peers: Vec<Raw> = (0..3)
        .map(|i| Raw::connect(port, ih, b'a' + i, true))
        .collect();
    let mut shown = Vec::new();
    for p in &mut peers {
        p.send(HAVE_NONE, &[]);
        let msgs = p.read_for(SHORT);
        let m = ids(&msgs);
        // An empty bitfield first, never the real one.
        assert_eq!(m.first(), Some(&HAVE_NONE), "{m:?}");
        assert!(!m.contains(&BITFIELD) && !m.contains(&HAVE_ALL), "{m:?}");
        let h = haves(&msgs);
        assert_eq!(h.len(), 1, "{m:?}");
        shown.push(h);
    }
    // Each piece goes to one peer while unshown pieces remain.
    let all: HashSet<u32> = shown.iter().flatten().copied().collect();
    assert_eq!(all.len(), 3, "{shown:?}");

    // A peer without the fast extension gets no bitfield at all, then a
    // piece nobody was shown.
    let mut d = Raw::connect(port, ih, b'd', false);
    let msgs = d.read_for(SHORT);
    assert!(!ids(&msgs).contains(&BITFIELD), "{msgs:?}");
    let dh = haves(&msgs);
    assert_eq!(dh.len(), 1, "{msgs:?}");
    assert!(!all.contains(&dh[0]), "{dh:?} {all:?}");

    // Requests: a piece not shown to the peer is rejected, a shown one is
    // served.
    let a = &mut peers[0];
    a.send(INTERESTED, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut unchoked = false;
    while !unchoked {
        assert!(Instant::now() < deadline, "never unchoked");
        unchoked = ids(&a.read_for(Duration::from_millis(100))).contains(&UNCHOKE);
    }
    let hidden = (0..PIECES).find(|i| !shown[0].contains(i)).unwrap();
    a.request(hidden, PIECE as u32);
    let msgs = a.read_for(SHORT);
    assert_eq!(ids(&msgs), vec![REJECT], "{msgs:?}");
    let piece = shown[0][0];
    a.request(piece, PIECE as u32);
    let msgs = a.read_for(SHORT);
    let got = msgs
        .iter()
        .find(|m| m.0 == PIECE_MSG)
        .expect("piece served");
    let at = piece as usize * PIECE;
    assert_eq!(&got.1[8..], &content[at..at + PIECE]);

    // Default (non-strict): the peer announcing its piece is shown another.
    a.send(HAVE, &piece.to_be_bytes());
    let h = haves(&a.read_for(SHORT));
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(!shown[0].contains(&h[0]));
    // The others heard nothing.
    assert!(haves(&peers[1].read_for(SHORT)).is_empty());

    // Turning super seeding off shows every remaining piece.
    ses.call(move |e| e.set_flags(id, 0, flags::SUPER_SEEDING))
        .unwrap();
    let msgs = peers[1].read_for(SHORT);
    let mut seen: HashSet<u32> = shown[1].iter().copied().collect();
    seen.extend(haves(&msgs));
    assert_eq!(seen.len(), PIECES as usize, "{msgs:?}");
    assert_eq!(haves(&msgs).len(), PIECES as usize - 1);
}

#[test]
fn strict_shows_a_new_piece_once_another_peer_has_it() {
    let (ses, _id, ih, _) = super_seed(true);
    let port = ses.listen_port();
    let mut a = Raw::connect(port, ih, b'a', true);
    a.send(HAVE_NONE, &[]);
    let shown_a = haves(&a.read_for(SHORT));
    assert_eq!(shown_a.len(), 1);
    let mut b = Raw::connect(port, ih, b'b', true);
    b.send(HAVE_NONE, &[]);
    let shown_b = haves(&b.read_for(SHORT));
    assert_eq!(shown_b.len(), 1);
    let pa = shown_a[0];
    // A downloading its piece is not enough in strict mode.
    a.send(HAVE, &pa.to_be_bytes());
    assert!(haves(&a.read_for(SHORT)).is_empty());
    // B announcing it (A passed it on) earns A a new piece; B is not shown
    // anything new for it.
    b.send(HAVE, &pa.to_be_bytes());
    let new_a = haves(&a.read_for(SHORT));
    assert_eq!(new_a.len(), 1, "{new_a:?}");
    assert!(!shown_a.contains(&new_a[0]) && new_a[0] != pa);
    assert!(haves(&b.read_for(SHORT)).is_empty());
}

#[test]
fn a_peer_uninterested_for_ten_seconds_is_shown_another_piece_every_second() {
    let (ses, _id, ih, _) = super_seed(false);
    let port = ses.listen_port();
    let mut a = Raw::connect(port, ih, b'a', true);
    let mut b = Raw::connect(port, ih, b'b', true);
    a.send(HAVE_NONE, &[]);
    b.send(HAVE_NONE, &[]);
    // B is interested from the start; A never is.
    b.send(INTERESTED, &[]);
    let first = haves(&a.read_for(Duration::from_secs(8)));
    assert_eq!(first.len(), 1, "{first:?}");
    // Ten seconds after the handshake (at the next second tick), A is
    // shown another piece, and another each second after that.
    let next = haves(&a.read_for(Duration::from_millis(4500)));
    assert!(
        !next.is_empty() && !next.contains(&first[0]),
        "{first:?} {next:?}"
    );
    let more = haves(&a.read_for(Duration::from_millis(2500)));
    assert!(!more.is_empty(), "{more:?}");
    // B, interested all along, still has only its first piece.
    assert_eq!(haves(&b.read_for(SHORT)).len(), 1);
    // Once interested, A is left with what it was shown.
    a.send(INTERESTED, &[]);
    a.read_for(Duration::from_millis(200));
    assert!(haves(&a.read_for(Duration::from_millis(2500))).is_empty());
}

#[test]
fn a_torrent_that_is_not_a_seed_drops_the_flag_and_hides_nothing() {
    let dir = tempdir("superseed-leech");
    let content = data(PIECE * PIECES as usize, 9);
    let ti = Arc::new(make_torrent("ss.bin", &[("ss.bin", &content)], PIECE));
    let ses = session();
    let mut at = AddTorrent::new(ti, dir.to_string_lossy().into_owned());
    at.flags |= flags::SUPER_SEEDING;
    let id = ses.call(move |e| e.add_torrent(at)).unwrap().unwrap();
    wait_state(&ses, id, TorrentState::Downloading, 20);
    let st = ses.call(move |e| e.status(id)).unwrap().unwrap();
    assert!(!st.super_seeding);
    // Set again: kept (it takes effect once the torrent is a seed).
    ses.call(move |e| e.set_flags(id, flags::SUPER_SEEDING, flags::SUPER_SEEDING))
        .unwrap();
    let st = ses.call(move |e| e.status(id)).unwrap().unwrap();
    assert!(st.super_seeding);
}
