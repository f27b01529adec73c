//! Peer classes through the engine: the rate-limit settings kept in step
//! with the built-in classes (only on change, negative stored as 0), the
//! deprecated ignore_limits_on_local_network switching the default class
//! filter, and the class filters and settings round-tripping.

mod common;
use common::*;

use std::net::IpAddr;

use lt_session::peer_class::{PeerClassInfo, SocketKind, GLOBAL_CLASS, LOCAL_CLASS, TCP_CLASS};
use lt_settings::{keys, SettingsPack};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn rate_limit_settings_drive_the_global_and_local_classes() {
    let mut p = SettingsPack::new();
    p.set_str(keys::LISTEN_INTERFACES, "127.0.0.1:0");
    p.set_bool(keys::ENABLE_DHT, false);
    p.set_int(keys::UPLOAD_RATE_LIMIT, 4000);
    p.set_int(keys::LOCAL_DOWNLOAD_RATE_LIMIT, 700);
    let ses = lt_session::Session::new(&p).unwrap();
    // the limits a session starts with are the classes'
    let (up, local_down) = ses
        .call(|e| {
            (
                e.peer_class(GLOBAL_CLASS).upload_limit,
                e.peer_class(LOCAL_CLASS).download_limit,
            )
        })
        .unwrap();
    assert_eq!((up, local_down), (4000, 700));

    // set_peer_class does not write the setting back, and re-applying an
    // unchanged setting leaves the class alone
    let got = ses
        .call(|e| {
            let mut g = e.peer_class(GLOBAL_CLASS);
            g.upload_limit = 9000;
            e.set_peer_class(GLOBAL_CLASS, g);
            let mut p = SettingsPack::new();
            p.set_int(keys::UPLOAD_RATE_LIMIT, 4000);
            e.apply_settings(&p);
            (
                e.peer_class(GLOBAL_CLASS).upload_limit,
                e.settings().get_int(keys::UPLOAD_RATE_LIMIT),
            )
        })
        .unwrap();
    assert_eq!(got, (9000, 4000));

    // a changed value reaches the class; a negative one is stored as 0
    let got = ses
        .call(|e| {
            let mut p = SettingsPack::new();
            p.set_int(keys::UPLOAD_RATE_LIMIT, -5);
            p.set_int(keys::LOCAL_UPLOAD_RATE_LIMIT, 5);
            e.apply_settings(&p);
            (
                e.peer_class_rate_limit(GLOBAL_CLASS, true),
                e.settings().get_int(keys::UPLOAD_RATE_LIMIT),
                e.peer_class_rate_limit(LOCAL_CLASS, true),
            )
        })
        .unwrap();
    assert_eq!(got, (0, 0, 5));
}

#[test]
fn ignore_limits_on_local_network_switches_the_default_filter() {
    let ses = session();
    let access = |ses: &lt_session::Session| {
        ses.call(|e| e.peer_class_filter().access(ip("127.0.0.1")))
            .unwrap()
    };
    assert_eq!(access(&ses), 1 << LOCAL_CLASS);
    let mut p = SettingsPack::new();
    p.set_bool(keys::IGNORE_LIMITS_ON_LOCAL_NETWORK, false);
    ses.apply_settings(p).unwrap();
    assert_eq!(access(&ses), 1 << GLOBAL_CLASS);
    let mut p = SettingsPack::new();
    p.set_bool(keys::IGNORE_LIMITS_ON_LOCAL_NETWORK, true);
    ses.apply_settings(p).unwrap();
    assert_eq!(access(&ses), 1 << LOCAL_CLASS);
}

#[test]
fn classes_and_filters_round_trip() {
    let ses = session();
    let (id, info, tf) = ses
        .call(|e| {
            let id = e.create_peer_class("mine");
            e.set_peer_class(
                id,
                PeerClassInfo {
                    ignore_unchoke_slots: true,
                    connection_limit_factor: 200,
                    label: "renamed".into(),
                    upload_limit: 3,
                    download_limit: 50_000,
                    upload_priority: 4,
                    download_priority: 1000,
                },
            );
            let mut f = e.peer_class_type_filter();
            f.add(SocketKind::Utp, id);
            f.remove(SocketKind::Tcp, TCP_CLASS);
            f.disallow(SocketKind::Tcp, GLOBAL_CLASS);
            e.set_peer_class_type_filter(f);
            (id, e.peer_class(id), e.peer_class_type_filter())
        })
        .unwrap();
    assert_eq!(id, 3);
    assert_eq!(info.label, "renamed");
    assert_eq!((info.upload_limit, info.download_limit), (10, 50_000));
    assert_eq!((info.upload_priority, info.download_priority), (4, 255));
    assert_eq!(tf.apply(SocketKind::Utp, 0), 1 << id);
    assert_eq!(tf.apply(SocketKind::Tcp, 1 << GLOBAL_CLASS), 0);
    assert_eq!(
        tf.apply(SocketKind::Tcp, 1 << LOCAL_CLASS),
        1 << LOCAL_CLASS
    );
    let gone = ses
        .call(move |e| {
            e.delete_peer_class(id);
            e.peer_class(id)
        })
        .unwrap();
    assert_eq!(gone, PeerClassInfo::default());
}
