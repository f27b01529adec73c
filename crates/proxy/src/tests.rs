use super::*;

fn v4(a: [u8; 4], port: u16) -> Target {
    Target::Addr(SocketAddr::from((a, port)))
}

fn done(p: Result<Progress, ProxyError>) -> Established {
    match p {
        Ok(Progress::Done(e)) => e,
        other => panic!("not done: {other:?}"),
    }
}

fn creds() -> Option<(String, String)> {
    Some(("user".into(), "secret".into()))
}

// ---------------------------------------------------------------- SOCKS4

#[test]
fn socks4_connect_to_address() {
    let mut h = Handshake::socks4(v4([10, 0, 0, 2], 6881), "id").unwrap();
    assert_eq!(
        h.poll_transmit().unwrap(),
        [4, 1, 0x1a, 0xe1, 10, 0, 0, 2, b'i', b'd', 0]
    );
    assert_eq!(h.poll_transmit(), None);
    // the reply may arrive in pieces, with tunnelled bytes behind it
    assert_eq!(h.on_data(&[0, 90, 0x1a]), Ok(Progress::NeedMore));
    let e = done(h.on_data(&[0xe1, 127, 0, 0, 1, b'x', b'y']));
    assert_eq!(e.bound, Some("127.0.0.1:6881".parse().unwrap()));
    assert_eq!(e.leftover, b"xy");
    assert!(h.is_finished());
}

#[test]
fn socks4a_sends_the_host_name() {
    let mut h = Handshake::socks4(Target::Name("tracker.example".into(), 80), "").unwrap();
    let mut want = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
    want.extend_from_slice(b"tracker.example\0");
    assert_eq!(h.poll_transmit().unwrap(), want);
}

#[test]
fn socks4_refuses_ipv6_and_nul() {
    let t = Target::Addr("[::1]:80".parse().unwrap());
    assert_eq!(
        Handshake::socks4(t, "").unwrap_err(),
        ProxyError::InvalidTarget
    );
    assert_eq!(
        Handshake::socks4(v4([1, 2, 3, 4], 1), "a\0b").unwrap_err(),
        ProxyError::InvalidTarget
    );
    assert_eq!(
        Handshake::socks4(Target::Name("a\0".into(), 1), "").unwrap_err(),
        ProxyError::InvalidTarget
    );
}

#[test]
fn socks4_error_replies() {
    let cases = [
        (91, ErrorCode::new(libc::ECONNREFUSED, Category::System)),
        (92, ErrorCode::new(se::NO_IDENTD, Category::Socks)),
        (93, ErrorCode::new(se::IDENTD_ERROR, Category::Socks)),
        (95, ErrorCode::new(se::GENERAL_FAILURE, Category::Socks)),
    ];
    for (cd, code) in cases {
        let mut h = Handshake::socks4(v4([1, 2, 3, 4], 5), "").unwrap();
        h.poll_transmit();
        let e = h.on_data(&[0, cd, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(e.code(), code, "cd {cd}");
        assert!(h.is_finished());
        // nothing more is accepted once failed
        assert!(h.on_data(&[0]).is_err());
    }
    let mut h = Handshake::socks4(v4([1, 2, 3, 4], 5), "").unwrap();
    let e = h.on_data(&[4, 90, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(e, ProxyError::Socks(se::UNSUPPORTED_VERSION));
}

// ---------------------------------------------------------------- SOCKS5

fn socks5_ok_reply() -> Vec<u8> {
    vec![5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]
}

#[test]
fn socks5_connect_without_auth() {
    let mut h = Handshake::socks5(v4([10, 1, 2, 3], 443), Command::Connect, None).unwrap();
    assert_eq!(h.poll_transmit().unwrap(), [5, 1, 0]);
    assert_eq!(h.on_data(&[5, 0]), Ok(Progress::NeedMore));
    assert_eq!(
        h.poll_transmit().unwrap(),
        [5, 1, 0, 1, 10, 1, 2, 3, 1, 0xbb]
    );
    let mut reply = socks5_ok_reply();
    reply.extend_from_slice(b"BT");
    let e = done(h.on_data(&reply));
    assert_eq!(e.bound, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(e.leftover, b"BT");
}

#[test]
fn socks5_connect_with_auth_byte_by_byte() {
    let mut h = Handshake::socks5(
        Target::Name("example.org".into(), 80),
        Command::Connect,
        creds(),
    )
    .unwrap();
    assert_eq!(h.poll_transmit().unwrap(), [5, 2, 0, 2]);
    assert_eq!(h.on_data(&[5]), Ok(Progress::NeedMore));
    assert_eq!(h.poll_transmit(), None);
    assert_eq!(h.on_data(&[2]), Ok(Progress::NeedMore));
    let mut want = vec![1, 4];
    want.extend_from_slice(b"user");
    want.push(6);
    want.extend_from_slice(b"secret");
    assert_eq!(h.poll_transmit().unwrap(), want);
    assert_eq!(h.on_data(&[1, 0]), Ok(Progress::NeedMore));
    let mut req = vec![5, 1, 0, 3, 11];
    req.extend_from_slice(b"example.org");
    req.extend_from_slice(&[0, 80]);
    assert_eq!(h.poll_transmit().unwrap(), req);
    let reply = [
        5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 7,
    ];
    for b in &reply[..reply.len() - 1] {
        assert_eq!(h.on_data(&[*b]), Ok(Progress::NeedMore));
    }
    let e = done(h.on_data(&reply[reply.len() - 1..]));
    assert_eq!(e.bound, Some("[::1]:7".parse().unwrap()));
    assert!(e.leftover.is_empty());
}

#[test]
fn socks5_server_may_skip_auth_we_offered() {
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, creds()).unwrap();
    h.poll_transmit();
    assert_eq!(h.on_data(&[5, 0]), Ok(Progress::NeedMore));
    assert_eq!(h.poll_transmit().unwrap()[..2], [5, 1]);
}

#[test]
fn socks5_reply_with_domain_bound_address() {
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    h.on_data(&[5, 0]).unwrap();
    let mut reply = vec![5, 0, 0, 3, 3];
    reply.extend_from_slice(b"abc");
    reply.extend_from_slice(&[0, 1, 9]);
    let e = done(h.on_data(&reply));
    assert_eq!(e.bound, None);
    assert_eq!(e.leftover, [9]);
}

#[test]
fn socks5_udp_associate() {
    let mut h = Handshake::socks5(v4([0, 0, 0, 0], 0), Command::UdpAssociate, None).unwrap();
    h.poll_transmit();
    h.on_data(&[5, 0]).unwrap();
    assert_eq!(h.poll_transmit().unwrap(), [5, 3, 0, 1, 0, 0, 0, 0, 0, 0]);
    let e = done(h.on_data(&[5, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39]));
    assert_eq!(e.bound, Some("127.0.0.1:12345".parse().unwrap()));
}

#[test]
fn socks5_method_errors() {
    // no acceptable method
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    let e = h.on_data(&[5, 0xff]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::new(2, Category::Socks));
    assert_eq!(e.to_string(), "SOCKS unsupported authentication method");
    // password asked for, none configured
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    assert_eq!(
        h.on_data(&[5, 2]).unwrap_err(),
        ProxyError::Socks(se::USERNAME_REQUIRED)
    );
    // not a SOCKS5 server
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    assert_eq!(
        h.on_data(&[4, 0]).unwrap_err(),
        ProxyError::Socks(se::UNSUPPORTED_VERSION)
    );
}

#[test]
fn socks5_auth_errors() {
    let start = || {
        let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, creds()).unwrap();
        h.poll_transmit();
        h.on_data(&[5, 2]).unwrap();
        h.poll_transmit();
        h
    };
    assert_eq!(
        start().on_data(&[1, 1]).unwrap_err(),
        ProxyError::Socks(se::AUTHENTICATION_ERROR)
    );
    assert_eq!(
        start().on_data(&[5, 0]).unwrap_err(),
        ProxyError::Socks(se::UNSUPPORTED_AUTHENTICATION_VERSION)
    );
    // over-long credentials cannot be sent
    let long = Some(("u".repeat(256), String::new()));
    assert_eq!(
        Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, long).unwrap_err(),
        ProxyError::InvalidTarget
    );
    assert_eq!(
        Handshake::socks5(Target::Name("a".repeat(256), 1), Command::Connect, None).unwrap_err(),
        ProxyError::InvalidTarget
    );
}

#[test]
fn socks5_every_reply_code() {
    let sys = |e| ErrorCode::new(e, Category::System);
    let cases = [
        (1, ErrorCode::new(se::GENERAL_FAILURE, Category::Socks)),
        (2, sys(libc::EPERM)),
        (3, sys(libc::ENETUNREACH)),
        (4, sys(libc::EHOSTUNREACH)),
        (5, sys(libc::ECONNREFUSED)),
        (6, sys(libc::ETIMEDOUT)),
        (
            7,
            ErrorCode::new(se::COMMAND_NOT_SUPPORTED, Category::Socks),
        ),
        (8, sys(libc::EAFNOSUPPORT)),
        (9, ErrorCode::new(se::GENERAL_FAILURE, Category::Socks)),
        (255, ErrorCode::new(se::GENERAL_FAILURE, Category::Socks)),
    ];
    for (rep, code) in cases {
        let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
        h.on_data(&[5, 0]).unwrap();
        let e = h.on_data(&[5, rep, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(e.code(), code, "rep {rep}");
    }
    // a reply of the wrong version, or an unknown address type
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    h.on_data(&[5, 0]).unwrap();
    assert_eq!(
        h.on_data(&[4, 0, 0, 1]).unwrap_err(),
        ProxyError::Socks(se::UNSUPPORTED_VERSION)
    );
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    h.on_data(&[5, 0]).unwrap();
    assert_eq!(
        h.on_data(&[5, 0, 0, 9]).unwrap_err(),
        ProxyError::Socks(se::GENERAL_FAILURE)
    );
}

#[test]
fn eof_during_handshake() {
    let mut h = Handshake::socks5(v4([1, 1, 1, 1], 1), Command::Connect, None).unwrap();
    h.on_data(&[5]).unwrap();
    let e = h.on_eof();
    assert_eq!(e.code(), ErrorCode::new(libc::ECONNRESET, Category::System));
    assert!(h.is_finished());
}

// ---------------------------------------------------------------- HTTP

#[test]
fn http_connect_with_and_without_auth() {
    let mut h = Handshake::http_connect(v4([10, 0, 0, 1], 6881), None);
    assert_eq!(
        h.poll_transmit().unwrap(),
        b"CONNECT 10.0.0.1:6881 HTTP/1.0\r\nHost: 10.0.0.1:6881\r\n\r\n"
    );
    assert_eq!(
        h.on_data(b"HTTP/1.1 200 Connection established\r\n"),
        Ok(Progress::NeedMore)
    );
    let e = done(h.on_data(b"Via: x\r\n\r\n\x13Bit"));
    assert_eq!(e.bound, None);
    assert_eq!(e.leftover, b"\x13Bit");

    let mut h = Handshake::http_connect(Target::Addr("[::1]:80".parse().unwrap()), creds());
    let req = String::from_utf8(h.poll_transmit().unwrap()).unwrap();
    assert!(req.starts_with("CONNECT [::1]:80 HTTP/1.0\r\n"), "{req}");
    assert!(
        req.contains("\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n"),
        "{req}"
    );
    assert!(req.ends_with("\r\n\r\n"));
}

#[test]
fn http_connect_errors() {
    for code in [403u16, 407, 502, 100, 302] {
        let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
        let e = h
            .on_data(format!("HTTP/1.1 {code} No\r\n\r\n").as_bytes())
            .unwrap_err();
        assert_eq!(e, ProxyError::HttpRefused(code));
        assert_eq!(e.code(), ErrorCode::new(libc::EOPNOTSUPP, Category::System));
    }
    for bad in [
        &b"SSH-2.0\r\n\r\n"[..],
        b"HTTP/1.1 2000 x\r\n\r\n",
        b"HTTP/1.1 abc\r\n\r\n",
    ] {
        let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
        assert_eq!(h.on_data(bad).unwrap_err(), ProxyError::HttpBadReply);
    }
    // an endless head is refused once over the bound
    let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
    assert_eq!(h.on_data(b"HTTP/1.1 200 OK\r\n"), Ok(Progress::NeedMore));
    let junk = vec![b'a'; MAX_HTTP_REPLY];
    assert_eq!(h.on_data(&junk).unwrap_err(), ProxyError::HttpBadReply);
    // a head ending right at the bound is accepted, fed whole or in bytes
    let mut reply = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    reply.resize(MAX_HTTP_REPLY, b'x');
    reply.extend_from_slice(b"\r\n\r\n");
    let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
    assert!(matches!(h.on_data(&reply), Ok(Progress::Done(_))));
    let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
    let last = reply.iter().map(|b| h.on_data(&[*b])).last();
    assert!(matches!(last, Some(Ok(Progress::Done(_)))), "{last:?}");
    // one byte longer is refused both ways
    reply.insert(20, b'x');
    let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
    assert_eq!(h.on_data(&reply).unwrap_err(), ProxyError::HttpBadReply);
    let mut h = Handshake::http_connect(v4([1, 1, 1, 1], 1), None);
    let errs = reply.iter().filter_map(|b| h.on_data(&[*b]).err()).next();
    assert_eq!(errs, Some(ProxyError::HttpBadReply));
}

// ---------------------------------------------------------------- config

#[test]
fn config_from_settings() {
    let c = ProxyConfig::from_settings(3, "127.0.0.1", 1080, "u", "p", true, true, false).unwrap();
    assert_eq!(c.kind, ProxyKind::Socks5);
    assert_eq!(c.auth, Some(("u".into(), "p".into())));
    assert!(!c.trackers);
    let c = ProxyConfig::from_settings(2, "h", 70000, "u", "p", true, true, true).unwrap();
    assert_eq!((c.auth, c.port), (None, 65535));
    let c = ProxyConfig::from_settings(1, "h", 1, "ident", "", true, true, true).unwrap();
    assert_eq!(c.auth, Some(("ident".into(), String::new())));
    assert_eq!(
        ProxyConfig::from_settings(4, "h", 1, "u", "p", true, true, true)
            .unwrap()
            .auth,
        None
    );
    assert_eq!(
        ProxyConfig::from_settings(5, "h", 1, "u", "p", true, true, true)
            .unwrap()
            .kind,
        ProxyKind::Http
    );
    assert_eq!(
        ProxyConfig::from_settings(0, "", 0, "", "", true, true, true),
        Err(NoProxy::None)
    );
    let i2p = ProxyConfig::from_settings(6, "", 0, "", "", true, true, true).unwrap();
    assert_eq!(i2p.kind, ProxyKind::I2p);
    let e = i2p.connect(v4([1, 2, 3, 4], 5)).unwrap_err();
    assert_eq!(e, ProxyError::NoI2pRouter);
    assert_eq!(e.to_string(), "no i2p router is set up");
    assert_eq!(
        ProxyConfig::from_settings(7, "", 0, "", "", true, true, true),
        Err(NoProxy::Invalid)
    );
    assert_eq!(
        ProxyConfig::from_settings(-1, "", 0, "", "", true, true, true),
        Err(NoProxy::Invalid)
    );
    // the handshake the configuration makes
    let c = ProxyConfig::from_settings(1, "h", 1, "me", "", true, true, true).unwrap();
    let mut h = c.connect(v4([1, 2, 3, 4], 5)).unwrap();
    assert_eq!(h.poll_transmit().unwrap()[8..], *b"me\0");
    let c = ProxyConfig::from_settings(5, "h", 1, "u", "p", true, true, true).unwrap();
    let mut h = c.connect(v4([1, 2, 3, 4], 5)).unwrap();
    assert!(h
        .poll_transmit()
        .unwrap()
        .starts_with(b"CONNECT 1.2.3.4:5 "));
    let c = ProxyConfig::from_settings(2, "h", 1, "u", "p", true, true, true).unwrap();
    let mut h = c.connect(v4([1, 2, 3, 4], 5)).unwrap();
    assert_eq!(h.poll_transmit().unwrap(), [5, 1, 0]);
}

#[test]
fn target_forms() {
    assert_eq!(Target::from_host("1.2.3.4", 5), v4([1, 2, 3, 4], 5));
    assert_eq!(Target::from_host("[::1]", 5).authority(), "[::1]:5");
    assert_eq!(Target::from_host("host", 5), Target::Name("host".into(), 5));
    assert_eq!(Target::Name("host".into(), 5).authority(), "host:5");
}

// ---------------------------------------------------------------- UDP

#[test]
fn udp_header_round_trips() {
    for t in [
        v4([1, 2, 3, 4], 6881),
        Target::Addr("[2001:db8::1]:53".parse().unwrap()),
        Target::Name("router.example".into(), 6881),
    ] {
        let d = udp_encapsulate(&t, b"payload").unwrap();
        assert_eq!(d[..3], [0, 0, 0]);
        let (src, payload) = udp_decapsulate(&d).unwrap();
        assert_eq!(src, t);
        assert_eq!(payload, b"payload");
    }
    assert_eq!(
        udp_encapsulate(&Target::Name("a".repeat(256), 1), b"").unwrap_err(),
        ProxyError::InvalidTarget
    );
}

#[test]
fn udp_decapsulate_rejects_bad_datagrams() {
    let good = udp_encapsulate(&v4([1, 2, 3, 4], 1), b"x").unwrap();
    // every truncation of the header is refused, never a panic
    for n in 0..10 {
        assert!(udp_decapsulate(&good[..n]).is_err(), "len {n}");
    }
    let mut frag = good.clone();
    frag[2] = 1;
    assert!(udp_decapsulate(&frag).is_err());
    let mut atyp = good.clone();
    atyp[3] = 7;
    assert!(udp_decapsulate(&atyp).is_err());
    assert!(udp_decapsulate(&[0, 0, 0, 3, 200, b'a']).is_err());
    assert!(udp_decapsulate(&[0, 0, 0, 4, 1]).is_err());
}

// ---------------------------------------------------------------- absolute form

#[test]
fn absolute_form_rewrites_each_request() {
    let two = b"GET /a?x=1 HTTP/1.1\r\nHost: h:8\r\n\r\nGET /b HTTP/1.1\r\nHost: h:8\r\nRange: bytes=0-1\r\n\r\n";
    let out = absolute_form(two, "http://h:8", Some(("u", "p"))).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET http://h:8/a?x=1 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\nHost: h:8\r\n\r\n\
         GET http://h:8/b HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\nHost: h:8\r\nRange: bytes=0-1\r\n\r\n"
    );
    let out = absolute_form(b"GET /x HTTP/1.1\r\n\r\n", "http://h", None).unwrap();
    assert_eq!(out, b"GET http://h/x HTTP/1.1\r\n\r\n");
    assert_eq!(
        absolute_form(b"GET /x HTTP/1.1\r\n", "http://h", None),
        None
    );
    assert_eq!(absolute_form(b"GARBAGE\r\n\r\n", "http://h", None), None);
    assert_eq!(absolute_form(b"", "http://h", None), Some(Vec::new()));
}
