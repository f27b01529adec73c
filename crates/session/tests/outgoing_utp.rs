//! Outgoing connections over uTP (`enable_outgoing_utp`), the fallback to
//! TCP when a peer does not answer uTP, and MSE over outgoing uTP.

mod common;
use common::*;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_metainfo::TorrentInfo;
use lt_session::alert::SocketType;
use lt_session::{AlertKind, Session, TorrentState};
use lt_settings::{keys, SettingsPack};

struct Swarm {
    seeder: Session,
    leecher: Session,
    ti: Arc<TorrentInfo>,
    content: Vec<u8>,
    leech_dir: PathBuf,
    leech_id: lt_session::TorrentId,
}

/// A seeding session and a leeching one, each configured by `seed_cfg` /
/// `leech_cfg`, the leecher told about the seeder.
fn swarm(tag: &str, len: usize, seed_cfg: SettingsPack, leech_cfg: SettingsPack) -> Swarm {
    let dir = tempdir(tag);
    let content = data(len, 11);
    let ti = Arc::new(make_torrent("f.bin", &[("f.bin", &content)], 64 * 1024));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("f.bin"), &content).unwrap();
    let seeder = session();
    seeder.apply_settings(seed_cfg).unwrap();
    let leecher = session();
    leecher.apply_settings(leech_cfg).unwrap();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    let leech_dir = dir.join("leech");
    let l = add(&leecher, &ti, &leech_dir);
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    Swarm {
        seeder,
        leecher,
        ti,
        content,
        leech_dir,
        leech_id: l,
    }
}

fn connect_types(alerts: &[lt_session::Alert]) -> Vec<(SocketType, bool)> {
    alerts
        .iter()
        .filter_map(|a| match &a.kind {
            AlertKind::PeerConnect {
                socket_type,
                outgoing,
                ..
            } => Some((*socket_type, *outgoing)),
            _ => None,
        })
        .collect()
}

/// Waits for the leecher to finish, collecting its alerts and the
/// `peer_info` flags seen on the way.
fn finish(sw: &Swarm, secs: u64) -> (Vec<lt_session::Alert>, Vec<u32>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut alerts = Vec::new();
    let mut flags = Vec::new();
    let l = sw.leech_id;
    loop {
        alerts.extend(sw.leecher.pop_alerts());
        for p in sw.leecher.call(move |e| e.peer_info(l)).unwrap() {
            flags.push(p.flags);
        }
        let st = sw.leecher.call(move |e| e.status(l)).unwrap().unwrap();
        if st.state == TorrentState::Seeding {
            break;
        }
        assert!(Instant::now() < deadline, "timed out at {}", st.progress);
        std::thread::sleep(Duration::from_millis(20));
    }
    alerts.extend(sw.leecher.pop_alerts());
    assert_eq!(
        sw.ti.num_pieces() as usize,
        sw.content.len().div_ceil(64 * 1024)
    );
    assert_eq!(
        std::fs::read(sw.leech_dir.join("f.bin")).unwrap(),
        sw.content,
        "downloaded bytes differ"
    );
    (alerts, flags)
}

const UTP_SOCKET: u32 = 0x20000;
const HANDSHAKE: u32 = 0x40;
const CONNECTING: u32 = 0x80;
const RC4: u32 = 0x80000;

#[test]
fn utp_only_leecher_downloads_over_utp() {
    let mut leech = SettingsPack::new();
    leech.set_bool(keys::ENABLE_OUTGOING_TCP, false);
    // slow enough to see the connection in peer_info (loopback peers are
    // exempt from rate limits unless told otherwise)
    leech.set_bool(keys::IGNORE_LIMITS_ON_LOCAL_NETWORK, false);
    leech.set_int(keys::DOWNLOAD_RATE_LIMIT, 4 << 20);
    let sw = swarm("utp-only", 3_000_000, SettingsPack::new(), leech);
    let (alerts, flags) = finish(&sw, 60);
    let types = connect_types(&alerts);
    assert!(!types.is_empty());
    assert!(
        types.iter().all(|t| *t == (SocketType::Utp, true)),
        "{types:?}"
    );
    assert!(flags.iter().any(|f| f & UTP_SOCKET != 0), "{flags:x?}");
    // The seeder saw the connection arrive over uTP.
    let incoming: Vec<SocketType> = sw
        .seeder
        .pop_alerts()
        .into_iter()
        .filter_map(|a| match a.kind {
            AlertKind::IncomingConnection { socket_type, .. } => Some(socket_type),
            _ => None,
        })
        .collect();
    assert!(incoming.contains(&SocketType::Utp), "{incoming:?}");
}

#[test]
fn outgoing_utp_is_the_default_transport() {
    let sw = swarm(
        "utp-default",
        500_000,
        SettingsPack::new(),
        SettingsPack::new(),
    );
    let (alerts, _) = finish(&sw, 60);
    let types = connect_types(&alerts);
    assert_eq!(types.first(), Some(&(SocketType::Utp, true)), "{types:?}");
}

#[test]
fn forced_rc4_over_outgoing_utp() {
    let mut seed = SettingsPack::new();
    seed.set_int(keys::IN_ENC_POLICY, 0); // forced
    seed.set_int(keys::ALLOWED_ENC_LEVEL, 2); // rc4
    let mut leech = SettingsPack::new();
    leech.set_bool(keys::ENABLE_OUTGOING_TCP, false);
    leech.set_int(keys::OUT_ENC_POLICY, 0);
    leech.set_int(keys::ALLOWED_ENC_LEVEL, 2);
    leech.set_bool(keys::IGNORE_LIMITS_ON_LOCAL_NETWORK, false);
    leech.set_int(keys::DOWNLOAD_RATE_LIMIT, 4 << 20);
    let sw = swarm("utp-rc4", 3_000_000, seed, leech);
    let (alerts, flags) = finish(&sw, 60);
    assert!(connect_types(&alerts)
        .iter()
        .all(|t| *t == (SocketType::Utp, true)));
    assert!(
        flags.iter().any(|f| f & UTP_SOCKET != 0 && f & RC4 != 0),
        "{flags:x?}"
    );
}

#[test]
fn falls_back_to_tcp_when_the_peer_refuses_utp() {
    let mut seed = SettingsPack::new();
    seed.set_bool(keys::ENABLE_INCOMING_UTP, false);
    let started = Instant::now();
    let sw = swarm("utp-fallback", 500_000, seed, SettingsPack::new());
    let (alerts, flags) = finish(&sw, 60);
    // peer_connect_alert comes as each attempt starts: uTP, then TCP
    let types = connect_types(&alerts);
    assert_eq!(
        types,
        vec![(SocketType::Utp, true), (SocketType::Tcp, true)],
        "{types:?}"
    );
    // no uTP connection got through (the attempt is listed while it
    // connects; the transfer may end before a poll sees the TCP one)
    assert!(flags
        .iter()
        .filter(|f| *f & (CONNECTING | HANDSHAKE) == 0)
        .all(|f| f & UTP_SOCKET == 0));
    // A RESET answers the SYN: no waiting for the connect timeout.
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn falls_back_to_tcp_after_the_utp_connect_timeout() {
    // A peer that only listens on TCP: its uTP SYNs go unanswered, so the
    // attempt gives up after `utp_connect_timeout` and TCP is tried.
    let mut leech = SettingsPack::new();
    leech.set_int(keys::UTP_CONNECT_TIMEOUT, 500);
    let dir = tempdir("utp-timeout");
    let content = data(300_000, 5);
    let ti = Arc::new(make_torrent("f.bin", &[("f.bin", &content)], 64 * 1024));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("f.bin"), &content).unwrap();
    let seeder = session();
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    // A TCP relay on its own port forwards to the seeder; nothing listens
    // on UDP at that port, so the uTP SYNs go unanswered.
    let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let seed_port = seeder.listen_port();
    std::thread::spawn(move || {
        for c in relay.incoming() {
            let Ok(c) = c else { return };
            let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", seed_port)) else {
                return;
            };
            let (mut a, mut b) = (c.try_clone().unwrap(), up.try_clone().unwrap());
            let (mut c2, mut up2) = (c, up);
            std::thread::spawn(move || std::io::copy(&mut a, &mut up2));
            std::thread::spawn(move || std::io::copy(&mut b, &mut c2));
        }
    });
    let leecher = session();
    leecher.apply_settings(leech).unwrap();
    let leech_dir = dir.join("leech");
    let l = add(&leecher, &ti, &leech_dir);
    let started = Instant::now();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], relay_port).into()))
        .unwrap();
    wait_state(&leecher, l, TorrentState::Seeding, 30);
    assert_eq!(std::fs::read(leech_dir.join("f.bin")).unwrap(), content);
    let alerts = leecher.pop_alerts();
    let types = connect_types(&alerts);
    assert_eq!(
        types,
        vec![(SocketType::Utp, true), (SocketType::Tcp, true)]
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn no_outgoing_transport_opens_nothing() {
    let mut leech = SettingsPack::new();
    leech.set_bool(keys::ENABLE_OUTGOING_TCP, false);
    leech.set_bool(keys::ENABLE_OUTGOING_UTP, false);
    let sw = swarm("utp-none", 100_000, SettingsPack::new(), leech);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sw.leecher.call(|e| e.num_connections()).unwrap(), 0);
    assert_eq!(sw.seeder.call(|e| e.num_connections()).unwrap(), 0);
    let l = sw.leech_id;
    let st = sw.leecher.call(move |e| e.status(l)).unwrap().unwrap();
    assert_eq!(st.num_pieces, 0);
}
