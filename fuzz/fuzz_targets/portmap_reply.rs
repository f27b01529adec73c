//! Fuzzes what a gateway can send the port-mapping clients: PCP / NAT-PMP
//! datagrams, SSDP answers, device descriptions and SOAP answers. Nothing
//! may panic.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use lt_portmap::natpmp::NatPmp;
use lt_portmap::upnp::{self, Config, Upnp};
use lt_portmap::Protocol;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let gw = Ipv4Addr::new(10, 0, 0, 1);
    let mut n = NatPmp::new(Ipv4Addr::new(10, 0, 0, 2), gw, 3600, 1);
    n.add_mapping(now, Protocol::Tcp, 1000, 1000);
    n.on_datagram(now, SocketAddr::from((gw, 5351)), data);
    n.tick(now);
    let _ = n.drain();

    let _ = upnp::parse_http(data, true);
    if let Ok(r) = upnp::parse_http(data, false) {
        let _ = upnp::parse_soap(&r);
    }
    let _ = upnp::parse_description(data);
    let cfg = Config {
        local: Ipv4Addr::new(10, 0, 0, 2),
        device: "eth0".into(),
        user_agent: "x".into(),
        lease: 3600,
        ignore_nonrouters: false,
        gateway: Some(gw),
    };
    let mut u = Upnp::new(cfg, now, 1);
    u.add_mapping(Protocol::Udp, 1, 1);
    u.on_ssdp(SocketAddr::from((gw, 1900)), data);
    // answer every request the client makes with the fuzz input
    for _ in 0..4 {
        let ids: Vec<u64> = u
            .drain()
            .into_iter()
            .filter_map(|o| match o {
                upnp::Output::Http { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        for id in ids {
            u.on_http(now, id, Ok(data.to_vec()));
        }
    }
});
