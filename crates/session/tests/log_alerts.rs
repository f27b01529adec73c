//! peer_log, torrent_log and picker_log alerts (only with their category
//! in the mask), udp_error_alert and oversized_file_alert.

mod common;
use common::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_session::alert::category;
use lt_session::log_alert::{Direction, LogAlert};
use lt_session::{Alert, AlertKind, Session, TorrentState};
use lt_settings::{keys, SettingsPack};

fn mask(ses: &Session, m: u32) {
    let mut p = SettingsPack::new();
    p.set_int(keys::ALERT_MASK, m as i32);
    ses.apply_settings(p).unwrap();
}

/// Seeds a 3-piece torrent from one session to another, both with alert
/// mask `m`; returns (seeder alerts, leecher alerts, number of pieces).
fn transfer(tag: &str, m: u32) -> (Vec<Alert>, Vec<Alert>, u32) {
    let dir = tempdir(tag);
    let content = data(40_000 * 5, 3);
    let ti = Arc::new(make_torrent("f.bin", &[("f.bin", &content)], 64 * 1024));
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("f.bin"), &content).unwrap();
    let seeder = session();
    let leecher = session();
    mask(&seeder, m);
    mask(&leecher, m);
    let s = add(&seeder, &ti, &seed_dir);
    wait_state(&seeder, s, TorrentState::Seeding, 20);
    let l = add(&leecher, &ti, &dir.join("leech"));
    let port = seeder.listen_port();
    leecher
        .call(move |e| e.connect_peer(l, ([127, 0, 0, 1], port).into()))
        .unwrap();
    wait_state(&leecher, l, TorrentState::Seeding, 60);
    assert_eq!(std::fs::read(dir.join("leech/f.bin")).unwrap(), content);
    std::thread::sleep(Duration::from_millis(300));
    (
        seeder.pop_alerts(),
        leecher.pop_alerts(),
        ti.num_pieces() as u32,
    )
}

fn peer_lines(alerts: &[Alert]) -> Vec<(Direction, &'static str, String)> {
    alerts
        .iter()
        .filter_map(|a| match &a.kind {
            AlertKind::Extra(LogAlert::Peer {
                direction,
                event,
                msg,
                ..
            }) => Some((*direction, *event, msg.clone())),
            _ => None,
        })
        .collect()
}

fn has(lines: &[(Direction, &'static str, String)], d: Direction, ev: &str, text: &str) -> bool {
    lines
        .iter()
        .any(|(dd, e, m)| *dd == d && *e == ev && m.contains(text))
}

#[test]
fn peer_log_shows_both_directions_of_the_exchange() {
    let (seed, leech, _) = transfer("peerlog", category::PEER_LOG | category::STATUS);
    let l = peer_lines(&leech);
    let s = peer_lines(&seed);
    // the connection we opened, our handshake, what we asked for
    assert!(
        has(&l, Direction::Outgoing, "CONNECTION", "ep: 127.0.0.1:"),
        "{l:?}"
    );
    assert!(has(&l, Direction::OutgoingMessage, "HANDSHAKE", "ih: "));
    assert!(has(&l, Direction::OutgoingMessage, "INTERESTED", ""));
    assert!(has(
        &l,
        Direction::OutgoingMessage,
        "REQUEST",
        "piece: 0 s: 0 l: 4000"
    ));
    assert!(has(
        &l,
        Direction::IncomingMessage,
        "PIECE",
        "piece: 0 s: 4000 l: 4000"
    ));
    assert!(has(&l, Direction::IncomingMessage, "UNCHOKE", ""));
    // the seeder's side of the same exchange
    assert!(has(&s, Direction::Incoming, "CONNECTION", ""), "{s:?}");
    assert!(has(
        &s,
        Direction::IncomingMessage,
        "REQUEST",
        "piece: 0 s: 0 l: 4000"
    ));
    assert!(has(
        &s,
        Direction::OutgoingMessage,
        "PIECE",
        "piece: 0 s: 0 l: 4000"
    ));
    assert!(has(&s, Direction::OutgoingMessage, "UNCHOKE", ""));
    assert!(has(&s, Direction::Info, "CONNECTION_CLOSED", "ERROR"));
    // every line names the peer and renders as libtorrent's do
    let a = leech
        .iter()
        .find(|a| {
            matches!(
                &a.kind,
                AlertKind::Extra(LogAlert::Peer {
                    event: "REQUEST",
                    ..
                })
            )
        })
        .unwrap();
    assert_eq!(a.category(), category::PEER_LOG);
    assert_eq!(a.what(), "peer_log");
    let m = a.message();
    assert!(
        m.contains(" peer 127.0.0.1:") && m.contains(" ==> REQUEST [ piece: "),
        "{m}"
    );
    // no other log category leaked in
    assert!(!leech.iter().chain(&seed).any(|a| matches!(
        &a.kind,
        AlertKind::Extra(LogAlert::Torrent { .. } | LogAlert::Picker { .. })
    )));
}

#[test]
fn torrent_log_follows_the_torrent() {
    let (seed, leech, n) = transfer("torrentlog", category::TORRENT_LOG);
    let lines: Vec<String> = leech
        .iter()
        .filter_map(|a| match &a.kind {
            AlertKind::Extra(LogAlert::Torrent { msg, .. }) => Some(msg.clone()),
            _ => None,
        })
        .collect();
    assert!(
        lines.iter().any(|l| l == "init torrent: f.bin"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "set_state() 3")); // downloading
    assert!(lines.iter().any(|l| l == "set_state() 5")); // seeding
    for p in 0..n {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("PIECE_PASSED ({p})"))),
            "{lines:?}"
        );
    }
    // the seeder logs the incoming connection joining its torrent
    assert!(seed.iter().any(|a| matches!(
        &a.kind,
        AlertKind::Extra(LogAlert::Torrent { msg, .. }) if msg.starts_with("ATTACHED CONNECTION \"127.0.0.1:")
    )));
    let a = leech
        .iter()
        .find(|a| matches!(&a.kind, AlertKind::Extra(LogAlert::Torrent { .. })))
        .unwrap();
    assert_eq!(a.what(), "torrent_log");
    assert!(a.message().contains(": "));
    assert!(!leech
        .iter()
        .any(|a| matches!(&a.kind, AlertKind::Extra(LogAlert::Peer { .. }))));
}

#[test]
fn picker_log_lists_the_picked_blocks() {
    let (_, leech, n) = transfer("pickerlog", category::PICKER_LOG);
    let picks: Vec<(u32, Vec<(u32, u32)>)> = leech
        .iter()
        .filter_map(|a| match &a.kind {
            AlertKind::Extra(LogAlert::Picker { flags, blocks, .. }) => {
                Some((*flags, blocks.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(!picks.is_empty());
    let mut all: Vec<(u32, u32)> = picks.iter().flat_map(|p| p.1.clone()).collect();
    all.sort();
    all.dedup();
    // every block of the torrent was picked at some point (4 per piece,
    // the last piece shorter)
    let total_blocks = (40_000usize * 5).div_ceil(16384);
    assert_eq!(all.len(), total_blocks, "{all:?}");
    assert!(all.iter().all(|(p, b)| *p < n && *b < 4));
    assert!(picks.iter().all(|(f, b)| *f != 0 && !b.is_empty()));
    // the first pick of a torrent with no pieces is random
    assert_ne!(picks[0].0 & 0x400, 0, "{:x}", picks[0].0);
    let a = leech
        .iter()
        .find(|a| matches!(&a.kind, AlertKind::Extra(LogAlert::Picker { .. })))
        .unwrap();
    assert_eq!(a.category(), category::PICKER_LOG);
    assert!(
        a.message().contains("picker_log [ random_pieces ] ("),
        "{}",
        a.message()
    );
}

#[test]
fn no_log_alerts_without_their_categories() {
    let m = category::ALL & !(category::PEER_LOG | category::TORRENT_LOG | category::PICKER_LOG);
    let (seed, leech, _) = transfer("nolog", m);
    assert!(!seed.is_empty() && !leech.is_empty());
    assert!(!seed.iter().chain(&leech).any(|a| matches!(
        &a.kind,
        AlertKind::Extra(
            LogAlert::Peer { .. } | LogAlert::Torrent { .. } | LogAlert::Picker { .. }
        )
    )));
}

fn oversized_alerts(extra: usize) -> usize {
    let dir = tempdir("oversized");
    let content = data(100_000, 9);
    let ti = Arc::new(make_torrent("f.bin", &[("f.bin", &content)], 16 * 1024));
    let mut on_disk = content.clone();
    on_disk.extend(std::iter::repeat_n(7u8, extra));
    std::fs::write(dir.join("f.bin"), &on_disk).unwrap();
    let ses = session();
    let id = add(&ses, &ti, &dir);
    wait_state(&ses, id, TorrentState::Seeding, 20);
    ses.pop_alerts()
        .iter()
        .filter(|a| matches!(&a.kind, AlertKind::Extra(LogAlert::OversizedFile { .. })))
        .inspect(|a| {
            assert_eq!(a.category(), category::STORAGE);
            assert!(a.message().ends_with(" has an oversized file"));
        })
        .count()
}

#[test]
fn oversized_file_alert_when_a_file_is_larger_on_disk() {
    assert_eq!(oversized_alerts(5000), 1);
    assert_eq!(oversized_alerts(0), 0);
}

#[test]
fn udp_error_alert_on_a_failed_send() {
    // A uTP connection to port 0: the kernel refuses the datagram (EINVAL)
    // before anything leaves the socket.
    let ses = session();
    let mut p = SettingsPack::new();
    p.set_bool(keys::ENABLE_OUTGOING_TCP, false);
    ses.apply_settings(p).unwrap();
    let dir = tempdir("udperr");
    let ti = Arc::new(make_torrent(
        "f.bin",
        &[("f.bin", &data(1000, 1))],
        16 * 1024,
    ));
    let id = add(&ses, &ti, &dir);
    wait_state(&ses, id, TorrentState::Downloading, 20);
    ses.call(move |e| e.connect_peer(id, ([127, 0, 0, 1], 0).into()))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = ses.pop_alerts().into_iter().find_map(|a| match &a.kind {
            AlertKind::Extra(LogAlert::UdpError {
                endpoint, error, ..
            }) => Some((*endpoint, *error, a.message(), a.category())),
            _ => None,
        });
        if let Some((ep, err, msg, cat)) = found {
            assert_eq!(ep, ([127, 0, 0, 1], 0).into());
            assert_eq!(err.value, libc_einval());
            assert_eq!(cat, category::ERROR);
            assert!(
                msg.starts_with("UDP error: ") && msg.contains("from: 127.0.0.1"),
                "{msg}"
            );
            return;
        }
        assert!(Instant::now() < deadline, "no udp_error_alert");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn libc_einval() -> i32 {
    22
}
