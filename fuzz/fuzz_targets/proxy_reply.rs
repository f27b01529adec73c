//! Fuzzes the proxy handshakes' reply parsing (SOCKS4, SOCKS5 with and
//! without a login, for CONNECT and UDP ASSOCIATE, HTTP CONNECT) and the
//! SOCKS5 UDP header parser: nothing may panic, the HTTP reply stays
//! bounded, and a handshake fed the same bytes in one piece or byte by
//! byte ends the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lt_proxy::{Command, Handshake, Progress, ProxyError, Target};

fn target() -> Target {
    Target::Addr(std::net::SocketAddr::from(([10, 0, 0, 1], 6881)))
}

fn handshakes() -> Vec<Handshake> {
    let auth = Some(("user".to_owned(), "pass".to_owned()));
    let mut v = Vec::new();
    if let Ok(h) = Handshake::socks4(target(), "id") {
        v.push(h);
    }
    for cmd in [Command::Connect, Command::UdpAssociate] {
        for a in [None, auth.clone()] {
            if let Ok(h) = Handshake::socks5(target(), cmd, a) {
                v.push(h);
            }
        }
    }
    v.push(Handshake::http_connect(target(), auth));
    v
}

fn run(h: &mut Handshake, chunks: &mut dyn Iterator<Item = &[u8]>) -> Result<Progress, ProxyError> {
    let mut last = Ok(Progress::NeedMore);
    for c in chunks {
        let _ = h.poll_transmit();
        last = h.on_data(c);
        if !matches!(last, Ok(Progress::NeedMore)) {
            break;
        }
    }
    last
}

fuzz_target!(|data: &[u8]| {
    let whole = handshakes()
        .iter_mut()
        .map(|h| run(h, &mut std::iter::once(data)))
        .collect::<Vec<_>>();
    let bytewise = handshakes()
        .iter_mut()
        .map(|h| run(h, &mut data.chunks(1)))
        .collect::<Vec<_>>();
    for (a, b) in whole.iter().zip(&bytewise) {
        // the same verdict; leftover bytes may differ in how they are split
        match (a, b) {
            (Ok(Progress::Done(x)), Ok(Progress::Done(y))) => assert_eq!(x.bound, y.bound),
            _ => assert_eq!(a, b),
        }
        if let Ok(Progress::Done(x)) = a {
            assert!(x.leftover.len() <= data.len());
        }
    }
    if let Ok((_, payload)) = lt_proxy::udp_decapsulate(data) {
        assert!(payload.len() <= data.len());
    }
});
