use std::time::Duration;

use lt_session::{alert::category, AlertKind, Session};
use lt_settings::{keys, SettingsPack};

fn pack(listen: &str) -> SettingsPack {
    let mut p = SettingsPack::new();
    p.set_str(keys::LISTEN_INTERFACES, listen);
    p.set_int(keys::ALERT_MASK, category::ALL as i32);
    p.set_bool(keys::ENABLE_DHT, false);
    p.set_bool(keys::ENABLE_LSD, false);
    p.set_bool(keys::ENABLE_UPNP, false);
    p.set_bool(keys::ENABLE_NATPMP, false);
    p
}

fn loopback_session() -> Session {
    Session::new(&pack("127.0.0.1:0,[::1]:0")).expect("session")
}

#[test]
fn listens_on_ephemeral_ports_and_reports_them() {
    let ses = loopback_session();
    assert!(ses.wait_for_alert(Duration::from_secs(5)));
    let port = ses.listen_port();
    assert_ne!(port, 0);
    assert!(ses.is_listening());
    let alerts = ses.pop_alerts();
    let ok: Vec<_> = alerts
        .iter()
        .filter_map(|a| match &a.kind {
            AlertKind::ListenSucceeded {
                endpoint,
                socket_type,
            } => Some((*endpoint, *socket_type)),
            _ => None,
        })
        .collect();
    // As the reference: TCP then uTP (same port) for each interface.
    use lt_session::alert::SocketType::{Tcp, Utp};
    assert_eq!(ok.len(), 4, "{alerts:?}");
    assert_eq!((ok[0].0.port(), ok[0].1), (port, Tcp));
    assert_eq!((ok[1].0, ok[1].1), (ok[0].0, Utp));
    assert!(ok[2].0.is_ipv6() && ok[2].1 == Tcp);
    assert_eq!((ok[3].0, ok[3].1), (ok[2].0, Utp));
    // Something is really listening there.
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
}

#[test]
fn bad_interface_reports_listen_failed() {
    let ses = Session::new(&pack("127.0.0.1:0,nosuchdev0:0")).unwrap();
    assert!(ses.wait_for_alert(Duration::from_secs(5)));
    ses.listen_port(); // the engine has opened its sockets by now
    let failed = ses
        .pop_alerts()
        .into_iter()
        .filter(|a| matches!(a.kind, AlertKind::ListenFailed { .. }))
        .count();
    assert_eq!(failed, 1);
}

#[test]
fn a_port_taken_for_udp_fails_utp_only() {
    // A port whose UDP half is in use: TCP listens, uTP reports the failure.
    let (udp, port) = loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            break (udp, port);
        }
    };
    let ses = Session::new(&pack(&format!("127.0.0.1:{port}"))).unwrap();
    assert!(ses.wait_for_alert(Duration::from_secs(5)));
    assert_eq!(ses.listen_port(), port);
    use lt_session::alert::SocketType::{Tcp, Utp};
    let got: Vec<_> = ses
        .pop_alerts()
        .into_iter()
        .filter_map(|a| match a.kind {
            AlertKind::ListenSucceeded { socket_type, .. } => Some((true, socket_type)),
            AlertKind::ListenFailed { socket_type, .. } => Some((false, socket_type)),
            _ => None,
        })
        .collect();
    assert_eq!(got, [(true, Tcp), (false, Utp)]);
    drop(udp);
}

#[test]
fn drop_shuts_down_promptly() {
    let t = std::time::Instant::now();
    for _ in 0..5 {
        let ses = loopback_session();
        let _ = ses.listen_port();
        drop(ses);
    }
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn apply_settings_changes_only_given_keys_and_reopens_listen_sockets() {
    let ses = loopback_session();
    let first = ses.listen_port();
    let mut p = SettingsPack::new();
    p.set_str(keys::LISTEN_INTERFACES, "127.0.0.1:0");
    ses.apply_settings(p).unwrap();
    let s = ses.get_settings().unwrap();
    assert_eq!(s.get_str(keys::LISTEN_INTERFACES), "127.0.0.1:0");
    assert_eq!(s.get_int(keys::ALERT_MASK), category::ALL as i32);
    let second = ses.listen_port();
    assert_ne!(second, 0);
    assert_ne!(first, second);
}
