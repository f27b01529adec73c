use super::*;

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const SVC: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";

fn cfg() -> Config {
    Config {
        local: LOCAL,
        device: "eth0".into(),
        user_agent: "libtorrent/2.1.1.0".into(),
        lease: 3600,
        ignore_nonrouters: false,
        gateway: Some(Ipv4Addr::new(10, 77, 0, 2)),
    }
}

const DESC: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://10.77.0.2:5000/</URLBase>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceList><device><serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl/IPConn</controlURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>"#;

fn http_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn soap_ok(action: &str, inner: &str) -> Vec<u8> {
    http_ok(&format!(
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:{action}Response xmlns:u=\"{SVC}\">{inner}</u:{action}Response></s:Body></s:Envelope>"
    ))
}

fn soap_fault(code: i32) -> Vec<u8> {
    let body = format!("<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>{code}</errorCode><errorDescription>x</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>");
    format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ssdp_answer(loc: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\nUSN: uuid:x::upnp:rootdevice\r\nLOCATION: {loc}\r\n\r\n").into_bytes()
}

fn https(out: &[Output]) -> Vec<(u64, SocketAddrV4, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Http { id, addr, request } => {
                Some((*id, *addr, String::from_utf8_lossy(request).into_owned()))
            }
            _ => None,
        })
        .collect()
}

fn logs(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Log(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn from() -> SocketAddr {
    SocketAddr::from(([10, 77, 0, 2], 40000))
}

/// A client with a device found, described and its external IP known.
fn ready(now: Instant) -> Upnp {
    let mut u = Upnp::new(cfg(), now, 7);
    u.drain();
    u.on_ssdp(from(), &ssdp_answer("http://10.77.0.2:5000/rootDesc.xml"));
    let h = https(&u.drain());
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0].2,
        "GET /rootDesc.xml HTTP/1.1\r\nHost: 10.77.0.2:5000\r\nConnection: close\r\n\r\n"
    );
    u.on_http(now, h[0].0, Ok(http_ok(DESC)));
    let out = u.drain();
    let h = https(&out);
    assert_eq!(h.len(), 1);
    assert!(h[0].2.contains("#GetExternalIPAddress\""));
    assert!(logs(&out).contains(&"found control URL: http://10.77.0.2:5000/ctl/IPConn namespace urn:schemas-upnp-org:service:WANIPConnection:1 urlbase: http://10.77.0.2:5000 in response from http://10.77.0.2:5000/rootDesc.xml".to_string()));
    u.on_http(
        now,
        h[0].0,
        Ok(soap_ok(
            "GetExternalIPAddress",
            "<NewExternalIPAddress>203.0.113.7</NewExternalIPAddress>",
        )),
    );
    let out = u.drain();
    assert!(logs(&out).contains(&"got router external IP address 203.0.113.7".to_string()));
    u
}

#[test]
fn search_datagram_and_schedule() {
    let t0 = Instant::now();
    let mut u = Upnp::new(cfg(), t0, 1);
    let out = u.drain();
    assert_eq!(
        out[0],
        Output::Log("broadcasting search for rootdevice".into())
    );
    assert_eq!(
        out[1],
        Output::Multicast(
            b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST:upnp:rootdevice\r\nMAN:\"ssdp:discover\"\r\nMX:3\r\n\r\n\r\n".to_vec()
        )
    );
    let mut at = vec![0u64];
    for _ in 0..20 {
        let Some(d) = u.next_deadline() else { break };
        u.tick(d);
        u.drain();
        at.push((d - t0).as_secs());
    }
    // with no device: 2 s, 4 s, 6 s ... apart, twelve searches in all
    assert_eq!(at, [0, 2, 6, 12, 20, 30, 42, 56, 72, 90, 110, 132]);
}

#[test]
fn soap_requests_match_the_reference_byte_counts() {
    let url = Url::parse("http://10.77.0.2:34245/ctl/IPConn").unwrap();
    let r = String::from_utf8(soap_request(&url, SVC, "GetExternalIPAddress", "")).unwrap();
    assert!(r.starts_with("POST /ctl/IPConn HTTP/1.1\r\nHost: 10.77.0.2:34245\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nContent-Length: 282\r\nSoapaction: \"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"\r\n\r\n<?xml"), "{r}");
}

#[test]
fn maps_and_deletes_through_soap() {
    let t0 = Instant::now();
    let mut u = ready(t0);
    let i = u.add_mapping(Protocol::Tcp, 41563, 41563).unwrap();
    let out = u.drain();
    assert_eq!(
        logs(&out)[0],
        "adding port map: [ protocol: tcp ext_port: 41563 local_ep: 10.77.0.1:41563 device: eth0] "
    );
    let h = https(&out);
    assert_eq!(h.len(), 1);
    assert!(h[0].2.contains("Content-Length: 599\r\n"), "{}", h[0].2);
    assert!(h[0].2.contains("<NewExternalPort>41563</NewExternalPort><NewProtocol>TCP</NewProtocol><NewInternalPort>41563</NewInternalPort><NewInternalClient>10.77.0.1</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>libtorrent/2.1.1.0</NewPortMappingDescription><NewLeaseDuration>3600</NewLeaseDuration>"));
    // a second mapping waits for the first request
    let j = u.add_mapping(Protocol::Udp, 41563, 41563).unwrap();
    assert!(https(&u.drain()).is_empty());
    u.on_http(t0, h[0].0, Ok(soap_ok("AddPortMapping", "")));
    let out = u.drain();
    assert!(out.contains(&Output::Mapped {
        mapping: i,
        protocol: Protocol::Tcp,
        external_port: 41563,
        external_ip: Some(Ipv4Addr::new(203, 0, 113, 7)),
    }));
    let h = https(&out);
    assert!(h[0].2.contains("<NewProtocol>UDP</NewProtocol>"));
    u.on_http(t0, h[0].0, Ok(soap_ok("AddPortMapping", "")));
    assert!(u
        .drain()
        .iter()
        .any(|o| matches!(o, Output::Mapped { mapping, .. } if *mapping == j)));
    // renewal at 3/4 of the lease
    let (due, h) = loop {
        // the searches (at 2, 6 and 12 s) come first
        let due = u.next_deadline().unwrap();
        u.tick(due);
        let h = https(&u.drain());
        if !h.is_empty() {
            break (due, h);
        }
    };
    assert_eq!((due - t0).as_secs(), 2700);
    assert_eq!(h.len(), 1);
    assert!(h[0].2.contains("#AddPortMapping"));
    u.on_http(due, h[0].0, Ok(soap_ok("AddPortMapping", "")));
    // then the UDP one, due at the same time
    let h = https(&u.drain());
    assert!(h[0].2.contains("<NewProtocol>UDP</NewProtocol>"));
    u.on_http(due, h[0].0, Ok(soap_ok("AddPortMapping", "")));
    u.drain();
    // delete
    u.delete_mapping(i);
    let out = u.drain();
    assert_eq!(
        logs(&out)[0],
        "deleting port map: [ protocol: tcp ext_port: 41563 local_ep: 10.77.0.1:41563 device: eth0]"
    );
    let h = https(&out);
    assert!(h[0].2.contains("Content-Length: 377\r\n"), "{}", h[0].2);
    assert!(h[0].2.contains("#DeletePortMapping\""));
    u.on_http(due, h[0].0, Ok(soap_ok("DeletePortMapping", "")));
    u.drain();
    // close deletes what is left
    u.close();
    let h = https(&u.drain());
    assert_eq!(h.len(), 1);
    assert!(h[0].2.contains("<NewProtocol>UDP</NewProtocol>"));
    assert!(!u.idle());
    u.on_http(due, h[0].0, Ok(soap_ok("DeletePortMapping", "")));
    assert!(https(&u.drain()).is_empty());
    assert!(u.idle());
}

#[test]
fn conflict_retries_other_ports_then_fails() {
    let t0 = Instant::now();
    let mut u = ready(t0);
    u.add_mapping(Protocol::Tcp, 5000, 5000);
    let mut ports = vec![];
    let mut failed = None;
    for _ in 0..10 {
        let out = u.drain();
        if let Some(f) = out.iter().find(|o| matches!(o, Output::Failed { .. })) {
            failed = Some(f.clone());
            break;
        }
        let h = https(&out);
        let req = &h[0].2;
        let p = req.split("<NewExternalPort>").nth(1).unwrap();
        ports.push(p.split('<').next().unwrap().parse::<u16>().unwrap());
        u.on_http(t0, h[0].0, Ok(soap_fault(718)));
    }
    assert_eq!(ports.len(), 5);
    assert_eq!(ports[0], 5000);
    assert!(ports[1..].iter().all(|&p| p > 1024));
    assert_eq!(
        failed,
        Some(Output::Failed {
            mapping: 0,
            code: 718,
            http: false
        })
    );
}

#[test]
fn permanent_lease_only_gateway_gets_lease_zero() {
    let t0 = Instant::now();
    let mut u = ready(t0);
    u.add_mapping(Protocol::Udp, 6000, 6000);
    let h = https(&u.drain());
    u.on_http(t0, h[0].0, Ok(soap_fault(725)));
    let h = https(&u.drain());
    assert!(h[0].2.contains("<NewLeaseDuration>0</NewLeaseDuration>"));
    u.on_http(t0, h[0].0, Ok(soap_ok("AddPortMapping", "")));
    assert!(u.drain().iter().any(|o| matches!(o, Output::Mapped { .. })));
    // permanent: nothing to renew
    assert!(u
        .next_deadline()
        .is_none_or(|d| d < t0 + Duration::from_secs(3600)));
}

#[test]
fn other_errors_and_transport_failures_are_reported() {
    let t0 = Instant::now();
    let mut u = ready(t0);
    u.add_mapping(Protocol::Tcp, 1, 1);
    let h = https(&u.drain());
    u.on_http(t0, h[0].0, Ok(soap_fault(606)));
    assert!(u.drain().contains(&Output::Failed {
        mapping: 0,
        code: 606,
        http: false
    }));
    u.add_mapping(Protocol::Tcp, 2, 2);
    let h = https(&u.drain());
    u.on_http(
        t0,
        h[0].0,
        Ok(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()),
    );
    assert!(u.drain().contains(&Output::Failed {
        mapping: 1,
        code: 404,
        http: true
    }));
    u.add_mapping(Protocol::Tcp, 3, 3);
    let h = https(&u.drain());
    u.on_http(t0, h[0].0, Err("connection refused".into()));
    let out = u.drain();
    assert!(out.contains(&Output::Failed {
        mapping: 2,
        code: -1,
        http: false
    }));
    // an unknown request id is ignored
    u.on_http(t0, 9999, Ok(vec![]));
}

#[test]
fn ssdp_answers_are_filtered() {
    let t0 = Instant::now();
    let mut u = Upnp::new(cfg(), t0, 1);
    u.drain();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (ssdp_answer("http://127.0.0.2:80/x.xml"), "ignoring rootdevice from 10.77.0.2:40000 with invalid address: 127.0.0.2"),
        (b"garbage".to_vec(), "received malformed SSDP packet from 10.77.0.2:40000"),
        (b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n".to_vec(), "missing location header from 10.77.0.2:40000"),
        (ssdp_answer("ftp://10.0.0.1/"), "invalid URL \"ftp://10.0.0.1/\" from 10.77.0.2:40000: malformed response: not an http URL"),
        (ssdp_answer("http://router.local:80/"), "invalid URL \"http://router.local:80/\" from 10.77.0.2:40000: malformed response: host is not an IPv4 address"),
    ];
    for (d, want) in cases {
        u.on_ssdp(from(), &d);
        assert_eq!(logs(&u.drain()), [want]);
    }
    // a non-router is ignored when asked
    let mut c = cfg();
    c.ignore_nonrouters = true;
    let mut u = Upnp::new(c, t0, 1);
    u.drain();
    u.on_ssdp(from(), &ssdp_answer("http://10.77.0.9:80/d.xml"));
    assert!(https(&u.drain()).is_empty());
    u.on_ssdp(from(), &ssdp_answer("http://10.77.0.2:80/d.xml"));
    assert_eq!(https(&u.drain()).len(), 1);
    // the same device twice is fetched once
    u.on_ssdp(from(), &ssdp_answer("http://10.77.0.2:80/d.xml"));
    assert!(https(&u.drain()).is_empty());
}

#[test]
fn bad_descriptions_fail_the_device() {
    let t0 = Instant::now();
    for body in [
        http_ok("<root><device></device></root>"),
        http_ok(
            "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>",
        ),
        b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec(),
        b"not http".to_vec(),
        vec![0xff; 100],
    ] {
        let mut u = Upnp::new(cfg(), t0, 1);
        u.drain();
        u.on_ssdp(from(), &ssdp_answer("http://10.77.0.2:80/d.xml"));
        let h = https(&u.drain());
        u.on_http(t0, h[0].0, Ok(body));
        let out = u.drain();
        assert!(https(&out).is_empty(), "{out:?}");
        u.add_mapping(Protocol::Tcp, 1, 1);
        assert!(https(&u.drain()).is_empty());
    }
}

#[test]
fn mapping_added_before_the_device_is_found_is_sent_once_ready() {
    let t0 = Instant::now();
    let mut u = Upnp::new(cfg(), t0, 1);
    u.add_mapping(Protocol::Tcp, 7, 7);
    u.drain();
    u.on_ssdp(from(), &ssdp_answer("http://10.77.0.2:5000/rootDesc.xml"));
    let h = https(&u.drain());
    u.on_http(t0, h[0].0, Ok(http_ok(DESC)));
    let h = https(&u.drain());
    u.on_http(t0, h[0].0, Ok(soap_ok("GetExternalIPAddress", "")));
    let h = https(&u.drain());
    assert_eq!(h.len(), 1);
    assert!(h[0].2.contains("#AddPortMapping"));
}

#[test]
fn http_parser_is_strict_and_bounded() {
    let r = parse_http(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!(r.body, b"abcde");
    for bad in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
    ] {
        assert!(
            parse_http(bad, false).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let huge = vec![b'a'; MAX_HTTP_RESPONSE + 1];
    assert_eq!(parse_http(&huge, false), Err(ParseError::TooLarge));
    // the description parser handles prefixes, self-closing tags and junk
    let d = parse_description(b"<a:root><a:service/><a:service><a:serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</a:serviceType><a:controlURL>http://10.0.0.1:80/c</a:controlURL></a:service></a:root>").unwrap();
    assert_eq!(d.control_url, "http://10.0.0.1:80/c");
    assert_eq!(
        d.service_type,
        "urn:schemas-upnp-org:service:WANPPPConnection:1"
    );
    let mut x = 99u64;
    for len in 0..300 {
        let d: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b"<>/: servicecontrolURLTypeWANIPConnection\r\n0123456789HTP."[(x % 57) as usize]
            })
            .collect();
        let _ = parse_http(&d, false);
        let _ = parse_http(&d, true);
        let _ = parse_description(&d);
    }
    assert!(Url::parse("http://1.2.3.4:99999/").is_err());
    assert_eq!(
        Url::parse("http://1.2.3.4").unwrap().to_string(),
        "http://1.2.3.4:80/"
    );
}
