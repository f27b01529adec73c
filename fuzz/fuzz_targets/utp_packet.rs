//! Fuzzes uTP: the packet parser, and a `UtpSocket` with one outgoing
//! connection (with data queued) and incoming connections allowed, fed the
//! fuzzer's datagrams over advancing time. A flags byte can patch in the
//! right connection id and an acknowledgement of the last packet sent, so
//! the connected states are reached. Nothing may panic.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lt_utp::packet::{Packet, PacketType};
use lt_utp::{UtpConfig, UtpSocket};

fuzz_target!(|data: &[u8]| {
    let _ = Packet::parse(data);
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };

    let t0 = Instant::now();
    let mut cfg = UtpConfig::default();
    cfg.recv_buffer = 64 * 1024;
    cfg.max_reorder_packets = 64;
    let mut s = UtpSocket::new(cfg, t0, u64::from(flags));
    let peer: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let c = s.connect(peer, t0).unwrap();
    let _ = s.write(c, &[7u8; 5000]);
    let mut recv_id = 0u16;
    let mut last_seq = 0u16;
    let mut now = t0;
    let drain = |s: &mut UtpSocket, now: Instant, recv_id: &mut u16, last_seq: &mut u16| {
        while let Some(t) = s.poll_transmit(now) {
            if let Ok(p) = Packet::parse(&t.data) {
                match p.header.packet_type {
                    PacketType::Syn => {
                        *recv_id = p.header.connection_id;
                        *last_seq = p.header.seq_nr;
                    }
                    PacketType::Data | PacketType::Fin => *last_seq = p.header.seq_nr,
                    _ => {}
                }
            }
        }
        while s.poll_event().is_some() {}
    };
    drain(&mut s, now, &mut recv_id, &mut last_seq);
    // datagrams: a length byte, then that many bytes
    while let Some((&n, tail)) = rest.split_first() {
        let n = (n as usize).min(tail.len());
        let (d, tail) = tail.split_at(n);
        rest = tail;
        let mut d = d.to_vec();
        if flags & 1 != 0 && d.len() >= 4 {
            d[2..4].copy_from_slice(&recv_id.to_be_bytes());
        }
        if flags & 2 != 0 && d.len() >= 20 {
            d[18..20].copy_from_slice(&last_seq.to_be_bytes());
        }
        s.handle_datagram(&d, peer, now);
        now += Duration::from_millis(u64::from(flags >> 2) * 13);
        s.tick(now);
        drain(&mut s, now, &mut recv_id, &mut last_seq);
        let mut buf = [0u8; 700];
        let _ = s.read(c, &mut buf);
        let _ = s.write(c, &buf[..100]);
    }
    s.close(c, now);
    for i in 1..200u64 {
        now += Duration::from_millis(250 * i);
        s.tick(now);
        drain(&mut s, now, &mut recv_id, &mut last_seq);
    }
});
