//! Real-socket tests on the loopback interface: two `Lsd` state machines
//! talking through the LSD multicast group, and interoperation with the
//! reference libtorrent (`.venv-ref`), both directions. They are skipped,
//! with a message, when this machine's loopback does not deliver multicast
//! or the reference is not installed.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lt_core::{InfoHash, Sha1Hash};
use lt_lsd::*;
use socket2::{Domain, Protocol, Socket, Type};

/// A UDP socket bound to the LSD group and port (shared with other
/// listeners through SO_REUSEADDR), joined to the group on 127.0.0.1 and
/// sending multicast through loopback.
fn group_socket() -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::from((LSD_GROUP_V4, LSD_PORT)).into())?;
    s.join_multicast_v4(&LSD_GROUP_V4, &Ipv4Addr::LOCALHOST)?;
    s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(s.into())
}

/// Whether a datagram sent to the group on loopback comes back.
fn multicast_works() -> bool {
    let Ok(s) = group_socket() else { return false };
    let probe = b"lt-lsd loopback probe";
    let deadline = Instant::now() + Duration::from_secs(2);
    if s.send_to(probe, (LSD_GROUP_V4, LSD_PORT)).is_err() {
        return false;
    }
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if &buf[..n] == probe {
                return true;
            }
        }
    }
    false
}

fn recv_until<T>(
    s: &UdpSocket,
    deadline: Instant,
    mut f: impl FnMut(&[u8], SocketAddr) -> Option<T>,
) -> Option<T> {
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            if let Some(t) = f(&buf[..n], from) {
                return Some(t);
            }
        }
    }
    None
}

#[test]
fn two_state_machines_over_loopback_multicast() {
    if !multicast_works() {
        eprintln!("SKIP: multicast on loopback does not work here (the in-memory router test covers the exchange)");
        return;
    }
    let sa = group_socket().unwrap();
    let sb = group_socket().unwrap();
    let t0 = Instant::now();
    let ih = InfoHash::from_v1(Sha1Hash::digest(
        format!("lsd loopback {:?}", t0).as_bytes(),
    ));
    let mut a = Lsd::new(LsdConfig::new(Family::V4, 40001), 0xa, t0);
    let mut b = Lsd::new(LsdConfig::new(Family::V4, 40002), 0xb, t0);
    a.add_torrent(ih);
    b.add_torrent(ih);
    assert!(a.announce(&ih, t0));
    for d in a.tick(Instant::now()) {
        sa.send_to(&d.payload, d.to).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let peer = recv_until(&sb, deadline, |data, from| {
        b.on_datagram(data, from, Instant::now()).ok()
    });
    let peer = peer.expect("b saw a's announce");
    assert_eq!(
        peer,
        vec![LsdPeer {
            torrent: ih,
            info_hash: ih.v1,
            peer: "127.0.0.1:40001".parse().unwrap()
        }]
    );
    // a sees its own announce looped back and ignores it by cookie
    let own = recv_until(
        &sa,
        Instant::now() + Duration::from_secs(5),
        |data, from| {
            let a_parsed = parse_announce(data).ok()?;
            (a_parsed.info_hashes == vec![ih.v1]).then(|| a.on_datagram(data, from, Instant::now()))
        },
    );
    assert_eq!(own, Some(Err(LsdError::OwnAnnounce)));
}

fn reference_python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-ref/bin/python");
    p.exists().then_some(p)
}

const REF_SCRIPT: &str = r#"
import json, os, sys, tempfile, time
import libtorrent as lt
ses = lt.session({'enable_lsd': True, 'listen_interfaces': '127.0.0.1:0',
                  'enable_dht': False, 'enable_upnp': False, 'enable_natpmp': False,
                  'alert_mask': lt.alert_category.all})
d = tempfile.mkdtemp()
with open(os.path.join(d, 'f'), 'wb') as f:
    f.write(os.urandom(50000))
fs = lt.file_storage()
fs.add_file('f', 50000)
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, d)
ti = lt.torrent_info(lt.bencode(ct.generate()))
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = d
ses.add_torrent(atp)
print(json.dumps({'ih': str(ti.info_hash()), 'port': ses.listen_port()}), flush=True)
end = time.time() + 20
while time.time() < end:
    ses.wait_for_alert(200)
    for a in ses.pop_alerts():
        if a.what() == 'lsd_peer':
            print(json.dumps({'lsd_peer': a.message()}), flush=True)
"#;

#[test]
fn interop_with_reference_libtorrent() {
    let Some(py) = reference_python() else {
        eprintln!("SKIP: reference libtorrent (.venv-ref) not installed");
        return;
    };
    if !multicast_works() {
        eprintln!("SKIP: multicast on loopback does not work here");
        return;
    }
    let sock = group_socket().unwrap();
    let mut child = Command::new(py)
        .arg("-c")
        .arg(REF_SCRIPT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let first = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("reference started");
        let ih_hex = first
            .split("\"ih\": \"")
            .nth(1)
            .unwrap()
            .get(..40)
            .unwrap()
            .to_string();
        let port: u16 = first
            .rsplit("\"port\": ")
            .next()
            .unwrap()
            .trim_end_matches('}')
            .parse()
            .unwrap();
        let ih = InfoHash::from_v1(Sha1Hash::from_hex(&ih_hex).unwrap());

        // 1. the reference's announce parses and names its info-hash and port
        let mut ours = Lsd::new(LsdConfig::new(Family::V4, 40003), 0xc, Instant::now());
        ours.add_torrent(ih);
        let deadline = Instant::now() + Duration::from_secs(15);
        let got = recv_until(&sock, deadline, |data, from| {
            let a = parse_announce(data).ok()?;
            a.info_hashes
                .contains(&ih.v1)
                .then(|| (a, ours.on_datagram(data, from, Instant::now())))
        });
        let (a, peers) = got.expect("an announce from the reference within 15 s");
        assert_eq!(a.port, port);
        assert!(a.cookie.is_some());
        assert_eq!(
            peers,
            Ok(vec![LsdPeer {
                torrent: ih,
                info_hash: ih.v1,
                peer: SocketAddr::from((Ipv4Addr::LOCALHOST, port))
            }])
        );

        // 2. the reference accepts our announce: lsd_peer_alert with our port
        assert!(ours.announce(&ih, Instant::now()));
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = None;
        while Instant::now() < deadline && seen.is_none() {
            for d in ours.tick(Instant::now()) {
                sock.send_to(&d.payload, d.to).unwrap();
            }
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
                if l.contains("lsd_peer") && l.contains("peer 127.0.0.1:40003:") {
                    seen = Some(l);
                }
            }
        }
        let seen = seen.expect("reference posted lsd_peer_alert for our announce");
        assert!(seen.contains(&ih_hex[..6]), "{seen}");
    }));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::io::stderr().flush();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
