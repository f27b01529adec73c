//! Deterministic transfers between two uTP sockets over a simulated network.

mod sim;

use std::time::Duration;

use lt_utp::packet::{self, Header, Packet, PacketType};
use lt_utp::{CloseReason, Event, UtpConfig};
use sim::{data, exchange, Link, Sim};

fn cfgs() -> [UtpConfig; 2] {
    [UtpConfig::default(), UtpConfig::default()]
}

fn ptype(d: &[u8]) -> Option<PacketType> {
    Packet::parse(d).ok().map(|p| p.header.packet_type)
}

#[test]
fn ten_megabytes_both_ways_on_a_clean_link() {
    let link = Link {
        delay: Duration::from_millis(20),
        bandwidth: 20_000_000,
        max_queue: Duration::from_millis(500),
        ..Link::default()
    };
    let mut sim = Sim::new(1, cfgs(), [link.clone(), link]);
    let a = data(10 << 20, 1);
    let b = data(10 << 20, 2);
    let (pa, pb) = exchange(&mut sim, a.clone(), b.clone(), Duration::from_secs(120));
    assert!(pa.eof && pb.eof, "not finished after {:?}", sim.elapsed());
    assert!(pa.received == b, "client received wrong bytes");
    assert!(pb.received == a, "server received wrong bytes");
    // both directions share the 20 MB/s links: well over half used
    assert!(
        sim.elapsed() < Duration::from_secs(2),
        "too slow: {:?}",
        sim.elapsed()
    );
}

#[test]
fn ten_megabytes_both_ways_through_loss_jitter_and_duplication() {
    let link = Link {
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(15), // reorders packets
        loss: 0.03,
        duplicate: 0.02,
        bandwidth: 8_000_000,
        max_queue: Duration::from_millis(300),
    };
    let mut sim = Sim::new(7, cfgs(), [link.clone(), link]);
    let a = data(10 << 20, 3);
    let b = data(10 << 20, 4);
    let (pa, pb) = exchange(&mut sim, a.clone(), b.clone(), Duration::from_secs(600));
    assert!(pa.eof && pb.eof, "not finished after {:?}", sim.elapsed());
    assert!(pa.received == b, "client received wrong bytes");
    assert!(pb.received == a, "server received wrong bytes");
    let st = sim.sockets[0].stats();
    assert!(st.packet_resend > 0 && st.fast_retransmit > 0, "{st:?}");
    assert!(sim.sockets[1].stats().redundant_packets_in > 0);
}

#[test]
fn small_transfers_with_many_seeds() {
    for seed in 0..20u64 {
        let link = Link {
            delay: Duration::from_millis(5 + seed * 3),
            jitter: Duration::from_millis(seed % 7 * 4),
            loss: (seed % 5) as f64 * 0.03,
            duplicate: 0.05,
            bandwidth: 2_000_000,
            max_queue: Duration::from_millis(200),
        };
        let mut sim = Sim::new(seed + 100, cfgs(), [link.clone(), link]);
        let a = data(100_000 + seed as usize * 777, seed);
        let b = data(3 + seed as usize * 5000, seed + 1000);
        let (pa, pb) = exchange(&mut sim, a.clone(), b.clone(), Duration::from_secs(600));
        assert!(pa.received == b && pb.received == a, "seed {seed}");
        assert!(pa.eof && pb.eof, "seed {seed}");
    }
}

#[test]
fn small_receive_buffers_under_heavy_loss_and_reordering() {
    for seed in 0..10u64 {
        let mut cfg = cfgs();
        cfg[0].recv_buffer = 5000 + seed as usize * 1000;
        cfg[1].recv_buffer = 4096;
        // at 20 % loss each way a few timeouts in a row are likely; this
        // test is about the buffers, not about giving up
        for c in &mut cfg {
            c.utp_num_resends = 20;
            c.utp_fin_resends = 20;
        }
        let link = Link {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(20),
            loss: 0.2,
            duplicate: 0.1,
            ..Link::default()
        };
        let mut sim = Sim::new(300 + seed, cfg, [link.clone(), link]);
        let a = data(200_000, seed);
        let b = data(100_000, seed + 1);
        let (pa, pb) = exchange(&mut sim, a.clone(), b.clone(), Duration::from_secs(3600));
        assert!(pa.received == b && pb.received == a, "seed {seed}");
    }
}

#[test]
fn extreme_settings_do_not_break_the_stream() {
    let mut odd = UtpConfig {
        utp_target_delay: 0,
        utp_gain_factor: 0,
        utp_min_timeout: 0,
        utp_connect_timeout: 0,
        utp_loss_multiplier: 1000,
        keepalive_interval: Duration::MAX,
        max_payload: 0,
        recv_buffer: 0,
        send_buffer: 0,
        max_reorder_packets: 0,
        ..UtpConfig::default()
    };
    let huge = UtpConfig {
        utp_target_delay: u32::MAX,
        utp_gain_factor: u32::MAX,
        utp_min_timeout: 3000,
        utp_syn_resends: u32::MAX,
        utp_num_resends: u32::MAX,
        utp_connect_timeout: 60_000,
        max_payload: usize::MAX,
        recv_buffer: usize::MAX,
        send_buffer: usize::MAX,
        max_reorder_packets: usize::MAX,
        ..UtpConfig::default()
    };
    odd.utp_syn_resends = 50;
    odd.utp_num_resends = 50;
    let link = Link {
        loss: 0.05,
        jitter: Duration::from_millis(5),
        ..Link::default()
    };
    let mut sim = Sim::new(25, [odd, huge], [link.clone(), link]);
    let a = data(200_000, 1);
    let b = data(150_000, 2);
    let (pa, pb) = exchange(&mut sim, a.clone(), b.clone(), Duration::from_secs(3600));
    assert!(
        pa.received == b && pb.received == a,
        "after {:?}: {} of {}, {} of {}; {:?} {:?}",
        sim.elapsed(),
        pa.received.len(),
        b.len(),
        pb.received.len(),
        a.len(),
        sim.sockets[0].info(pa.id),
        sim.sockets[1].info(pb.id)
    );
}

/// Steady-state queuing delay at the bottleneck, past the first seconds.
fn queue_delay_after(sim: &Sim, warmup: Duration) -> (Duration, Duration) {
    let samples: Vec<Duration> = sim.queue_samples[0]
        .iter()
        .filter(|(t, _)| *t > warmup)
        .map(|(_, q)| *q)
        .collect();
    assert!(samples.len() > 100);
    let avg = samples.iter().sum::<Duration>() / samples.len() as u32;
    (avg, samples.into_iter().max().unwrap_or_default())
}

fn ledbat_run(target_ms: u32) -> (Duration, Duration, Sim) {
    // a 200 kB/s bottleneck with a 3 second deep buffer: a loss-based
    // sender would fill it; LEDBAT keeps the queue near its target delay
    let link = Link {
        delay: Duration::from_millis(25),
        bandwidth: 200_000,
        max_queue: Duration::from_secs(3),
        ..Link::default()
    };
    let mut cfg = cfgs();
    cfg[0].utp_target_delay = target_ms;
    let mut sim = Sim::new(3, cfg, [link.clone(), link]);
    let a = data(5 << 20, 5);
    let (_, pb) = exchange(&mut sim, a.clone(), Vec::new(), Duration::from_secs(120));
    assert!(pb.received == a);
    // past slow start's overshoot and the convergence from it
    let (avg, max) = queue_delay_after(&sim, Duration::from_secs(12));
    (avg, max, sim)
}

#[test]
fn ledbat_keeps_the_queue_near_the_target_delay() {
    let (avg, max, sim) = ledbat_run(100);
    assert!(
        avg > Duration::from_millis(60) && avg < Duration::from_millis(140),
        "average queue delay {avg:?}"
    );
    assert!(max < Duration::from_millis(200), "max queue delay {max:?}");
    let st = sim.sockets[0].stats();
    assert!(st.samples_above_target > 0, "{st:?}");
    // no loss at all: the deep buffer never overflowed
    assert_eq!(st.packet_resend, 0, "{st:?}");
    // and the link stayed busy: 5 MiB at 200 kB/s is 26.2 s
    assert!(
        sim.elapsed() < Duration::from_secs(29),
        "{:?}",
        sim.elapsed()
    );

    // the target is what sets the standing queue
    let (avg_low, _, _) = ledbat_run(40);
    let (avg_high, _, _) = ledbat_run(300);
    assert!(avg_low < avg * 3 / 4, "{avg_low:?} vs {avg:?}");
    assert!(avg_high > avg * 2, "{avg_high:?} vs {avg:?}");
}

#[test]
fn ledbat_window_shrinks_when_the_queue_grows_past_the_target() {
    let link = Link {
        delay: Duration::from_millis(10),
        bandwidth: 1_000_000,
        max_queue: Duration::from_secs(5),
        ..Link::default()
    };
    let mut sim = Sim::new(9, cfgs(), [link.clone(), link]);
    let (c, s) = sim.connect();
    let blob = data(1 << 20, 1);
    let mut written = 0;
    let mut buf = vec![0u8; 1 << 16];
    let mut run = |sim: &mut Sim, until: Duration, f: &mut dyn FnMut(&Sim)| {
        while sim.elapsed() < until {
            if let Ok(n) = sim.sockets[0].write(c, &blob[written % blob.len()..]) {
                written += n;
            }
            while sim.sockets[1].read(s, &mut buf).is_ok_and(|n| n > 0) {}
            sim.step(Duration::from_millis(10));
            f(sim);
        }
    };
    run(&mut sim, Duration::from_secs(6), &mut |_| {});
    let before = sim.sockets[0].info(c).unwrap();
    assert!(
        before.queue_delay < Duration::from_millis(200),
        "{before:?}"
    );
    // now the bottleneck gets five times slower: the queue delay jumps
    // far over the target and the window has to come down
    sim.links[0].bandwidth = 200_000;
    let mut peak_delay = Duration::ZERO;
    run(&mut sim, Duration::from_secs(26), &mut |sim| {
        peak_delay = peak_delay.max(sim.sockets[0].info(c).unwrap().queue_delay);
    });
    let after = sim.sockets[0].info(c).unwrap();
    assert!(peak_delay > Duration::from_millis(300), "{peak_delay:?}");
    assert!(
        after.cwnd * 3 < before.cwnd,
        "cwnd {} -> {}",
        before.cwnd,
        after.cwnd
    );
    assert!(after.queue_delay < Duration::from_millis(150), "{after:?}");
}

#[test]
fn lost_syns_are_retransmitted() {
    let mut sim = Sim::new(11, cfgs(), [Link::default(), Link::default()]);
    let mut syns = 0;
    sim.filter = Some(Box::new(move |from, d| {
        if from == 0 && ptype(d) == Some(PacketType::Syn) {
            syns += 1;
            return syns > 2; // drop the first two
        }
        true
    }));
    sim.keep_sent = true;
    let (c, _s) = sim.connect();
    let n = sim.sent[0]
        .iter()
        .filter(|d| ptype(d) == Some(PacketType::Syn))
        .count();
    assert_eq!(n, 3);
    // connect timeout 3 s, then doubled: 3 s + 6 s
    assert!(
        sim.elapsed() >= Duration::from_secs(9),
        "{:?}",
        sim.elapsed()
    );
    assert!(sim.elapsed() < Duration::from_secs(10));
    assert!(sim.events[0].contains(&Event::Connected(c)));
}

#[test]
fn unanswered_connect_times_out_after_syn_resends() {
    let mut sim = Sim::new(12, cfgs(), [Link::default(), Link::default()]);
    sim.filter = Some(Box::new(|from, _| from != 0));
    sim.keep_sent = true;
    let now = sim.now;
    let addr = sim.addrs[1];
    let c = sim.sockets[0].connect(addr, now).unwrap();
    while sim.elapsed() < Duration::from_secs(60) && sim.events[0].is_empty() {
        sim.step(Duration::from_secs(1));
    }
    assert_eq!(sim.events[0], vec![Event::Closed(c, CloseReason::TimedOut)]);
    // utp_syn_resends = 2: the SYN and two resends, over 3 + 6 + 12 s
    assert_eq!(sim.sent[0].len(), 3);
    assert_eq!(sim.elapsed(), Duration::from_secs(21));
    assert_eq!(
        sim.sockets[0].read(c, &mut [0; 4]),
        Err(lt_utp::Error::Closed(CloseReason::TimedOut))
    );
    sim.sockets[0].close(c, sim.now);
    assert_eq!(sim.sockets[0].num_connections(), 0);
}

#[test]
fn lost_fin_is_retransmitted_and_the_stream_ends() {
    let mut sim = Sim::new(13, cfgs(), [Link::default(), Link::default()]);
    let mut fins = 0;
    sim.filter = Some(Box::new(move |from, d| {
        if from == 0 && ptype(d) == Some(PacketType::Fin) {
            fins += 1;
            return fins > 1;
        }
        true
    }));
    sim.keep_sent = true;
    let (c, s) = sim.connect();
    sim.sockets[0].write(c, b"last words").unwrap();
    let now = sim.now;
    sim.sockets[0].close(c, now);
    assert_eq!(
        sim.sockets[0].write(c, b"x"),
        Err(lt_utp::Error::UnknownConnection)
    );
    let mut got = Vec::new();
    let mut eof = false;
    while sim.elapsed() < Duration::from_secs(30) && !eof {
        sim.step(Duration::from_millis(100));
        let mut buf = [0u8; 64];
        loop {
            match sim.sockets[1].read(s, &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
    }
    assert!(eof);
    assert_eq!(got, b"last words");
    let fins = sim.sent[0]
        .iter()
        .filter(|d| ptype(d) == Some(PacketType::Fin))
        .count();
    assert_eq!(fins, 2);
    // our FIN was acked; the client waits for the server's FIN
    for _ in 0..10 {
        sim.step(Duration::from_millis(100));
    }
    assert_eq!(sim.sockets[0].num_connections(), 1);
    // which comes when the server closes its side too: both forget it
    let now = sim.now;
    sim.sockets[1].close(s, now);
    for _ in 0..5 {
        sim.step(Duration::from_millis(100));
    }
    assert_eq!(sim.sockets[0].num_connections(), 0);
    assert!(sim.events[0]
        .iter()
        .all(|e| !matches!(e, Event::Closed(..))));
    // the server's FIN was acknowledged, not reset
    assert!(!sim.sent[0]
        .iter()
        .any(|d| ptype(d) == Some(PacketType::Reset)));
    assert_eq!(sim.sockets[1].num_connections(), 0);
}

#[test]
fn a_closed_connection_forgets_a_peer_that_never_sends_its_fin() {
    let mut sim = Sim::new(24, cfgs(), [Link::default(), Link::default()]);
    let (c, _s) = sim.connect();
    let now = sim.now;
    sim.sockets[0].close(c, now);
    let start = sim.elapsed();
    while sim.sockets[0].num_connections() > 0 && sim.elapsed() < Duration::from_secs(60) {
        sim.step(Duration::from_millis(100));
    }
    let waited = sim.elapsed() - start;
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[test]
fn unacknowledged_fin_gives_up_after_fin_resends() {
    let mut sim = Sim::new(14, cfgs(), [Link::default(), Link::default()]);
    let (c, _s) = sim.connect();
    sim.keep_sent = true;
    sim.filter = Some(Box::new(|from, _| from == 1)); // 0 -> 1 goes dead
    let now = sim.now;
    sim.sockets[0].close(c, now);
    while sim.elapsed() < Duration::from_secs(120) && sim.sockets[0].num_connections() > 0 {
        sim.step(Duration::from_secs(1));
    }
    assert_eq!(sim.sockets[0].num_connections(), 0);
    let fins = sim.sent[0]
        .iter()
        .filter(|d| ptype(d) == Some(PacketType::Fin))
        .count();
    assert_eq!(fins, 3); // utp_fin_resends = 2
}

#[test]
fn dead_peer_times_out_after_num_resends() {
    let mut sim = Sim::new(15, cfgs(), [Link::default(), Link::default()]);
    let (c, _s) = sim.connect();
    sim.filter = Some(Box::new(|from, _| from == 0)); // the peer falls silent
    sim.keep_sent = true;
    sim.sockets[0].write(c, &data(50_000, 1)).unwrap();
    let start = sim.elapsed();
    while sim.elapsed() < Duration::from_secs(120) && sim.events[0].len() < 2 {
        sim.step(Duration::from_secs(1));
    }
    assert_eq!(
        sim.events[0].last(),
        Some(&Event::Closed(c, CloseReason::TimedOut))
    );
    let rto_waits = sim.elapsed() - start;
    // min timeout 500 ms, doubled each time: .5 + 1 + 2 + 4 s
    assert!(rto_waits >= Duration::from_millis(7500), "{rto_waits:?}");
    assert!(rto_waits < Duration::from_secs(10), "{rto_waits:?}");
    assert_eq!(sim.sockets[0].stats().timeouts, 4);
}

#[test]
fn unreachable_peer_ends_its_connections_at_once() {
    let mut sim = Sim::new(18, cfgs(), [Link::default(), Link::default()]);
    let (c, _s) = sim.connect();
    sim.filter = Some(Box::new(|from, _| from == 0)); // the peer is gone
    sim.sockets[0].write(c, &data(50_000, 1)).unwrap();
    sim.step(Duration::from_millis(10));
    assert!(
        sim.sockets[0].unsent_bytes(c) > 0,
        "the window holds data back"
    );
    // an ICMP error for another address changes nothing
    let other = "127.0.0.9:9".parse().unwrap();
    assert_eq!(sim.sockets[0].peer_unreachable(other), 0);
    let addr = sim.addrs[1];
    assert_eq!(sim.sockets[0].peer_unreachable(addr), 1);
    sim.pump();
    assert_eq!(
        sim.events[0].last(),
        Some(&Event::Closed(c, CloseReason::Unreachable))
    );
    assert_eq!(sim.sockets[0].unsent_bytes(c), 0);
    assert_eq!(
        sim.sockets[0].write(c, b"x"),
        Err(lt_utp::Error::Closed(CloseReason::Unreachable))
    );
    // already dead: nothing more to end
    assert_eq!(sim.sockets[0].peer_unreachable(addr), 0);
    let now = sim.now;
    sim.sockets[0].close(c, now);
    sim.pump();
    assert_eq!(sim.sockets[0].num_connections(), 0);
}

#[test]
fn reset_closes_the_peer_and_refused_connects_fail() {
    let mut sim = Sim::new(16, cfgs(), [Link::default(), Link::default()]);
    let (c, s) = sim.connect();
    let now = sim.now;
    sim.sockets[1].reset(s, now);
    for _ in 0..5 {
        sim.step(Duration::from_millis(50));
    }
    assert!(sim.events[0].contains(&Event::Closed(c, CloseReason::Reset)));
    assert_eq!(
        sim.sockets[0].write(c, b"x"),
        Err(lt_utp::Error::Closed(CloseReason::Reset))
    );

    let mut cfg = cfgs();
    cfg[1].accept_incoming = false;
    let mut sim = Sim::new(17, cfg, [Link::default(), Link::default()]);
    let now = sim.now;
    let addr = sim.addrs[1];
    let c = sim.sockets[0].connect(addr, now).unwrap();
    for _ in 0..5 {
        sim.step(Duration::from_millis(50));
    }
    assert_eq!(sim.events[0], vec![Event::Closed(c, CloseReason::Reset)]);
    assert!(sim.events[1].is_empty());
}

#[test]
fn a_reader_that_stops_reading_throttles_the_writer() {
    let mut cfg = cfgs();
    cfg[1].recv_buffer = 64 * 1024;
    let mut sim = Sim::new(18, cfg, [Link::default(), Link::default()]);
    let (c, s) = sim.connect();
    let blob = data(1 << 20, 8);
    let mut written = sim.sockets[0].write(c, &blob).unwrap();
    for _ in 0..200 {
        sim.step(Duration::from_millis(20));
        if let Ok(n) = sim.sockets[0].write(c, &blob[written..]) {
            written += n;
        }
    }
    // the receiver holds at most its buffer; the sender has stopped
    assert_eq!(sim.sockets[1].readable_bytes(s), 64 * 1024);
    assert_eq!(sim.sockets[0].info(c).unwrap().peer_window, 0);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 10_000];
    let limit = sim.elapsed() + Duration::from_secs(120);
    while got.len() < blob.len() && sim.elapsed() < limit {
        while let Ok(n) = sim.sockets[1].read(s, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        if written < blob.len() {
            if let Ok(n) = sim.sockets[0].write(c, &blob[written..]) {
                written += n;
            }
        }
        sim.step(Duration::from_millis(20));
    }
    assert!(got == blob, "{} of {} bytes", got.len(), blob.len());
}

#[test]
fn window_updates_lost_are_recovered_by_probes() {
    let mut cfg = cfgs();
    cfg[1].recv_buffer = 16 * 1024;
    let mut sim = Sim::new(19, cfg, [Link::default(), Link::default()]);
    let (c, s) = sim.connect();
    let blob = data(200_000, 8);
    let mut written = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 100_000];
    // the receiver reads only every 2 seconds, and the window update it
    // sends right after reading is always lost
    let drop_next = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = drop_next.clone();
    sim.filter = Some(Box::new(move |from, _| !(from == 1 && flag.replace(false))));
    let mut last_read = sim.now;
    while got.len() < blob.len() && sim.elapsed() < Duration::from_secs(300) {
        if written < blob.len() {
            if let Ok(n) = sim.sockets[0].write(c, &blob[written..]) {
                written += n;
            }
        }
        if sim.now - last_read >= Duration::from_secs(2) {
            last_read = sim.now;
            while let Ok(n) = sim.sockets[1].read(s, &mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            drop_next.set(true);
        }
        sim.step(Duration::from_millis(100));
        assert!(
            !sim.events[0].iter().any(|e| matches!(e, Event::Closed(..))),
            "{:?}",
            sim.events[0]
        );
    }
    assert!(got == blob, "{} of {}", got.len(), blob.len());
}

#[test]
fn small_writes_are_coalesced() {
    let link = Link {
        delay: Duration::from_millis(50),
        ..Link::default()
    };
    let mut sim = Sim::new(20, cfgs(), [link.clone(), link]);
    let (c, s) = sim.connect();
    sim.keep_sent = true;
    let before = sim.sent[0].len();
    // 2000 writes of 10 bytes within one round trip
    for i in 0..2000u32 {
        sim.sockets[0]
            .write(c, &i.to_be_bytes().repeat(3)[..10])
            .unwrap();
        if i % 100 == 0 {
            sim.step(Duration::from_millis(1));
        }
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 20_000 && sim.elapsed() < Duration::from_secs(20) {
        sim.step(Duration::from_millis(10));
        while let Ok(n) = sim.sockets[1].read(s, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(got.len(), 20_000);
    let data_pkts = sim.sent[0][before..]
        .iter()
        .filter(|d| ptype(d) == Some(PacketType::Data))
        .count();
    // 20 000 bytes fit 15 full packets; Nagle keeps it near that
    assert!(data_pkts <= 25, "{data_pkts} data packets");
}

#[test]
fn idle_connections_send_keepalives() {
    let mut sim = Sim::new(21, cfgs(), [Link::default(), Link::default()]);
    let (c, _s) = sim.connect();
    sim.keep_sent = true;
    while sim.elapsed() < Duration::from_secs(100) {
        sim.step(Duration::from_secs(5));
    }
    let n = sim.sent[0].len();
    assert!((3..=4).contains(&n), "{n} packets in 100 s");
    assert!(sim.sent[0]
        .iter()
        .all(|d| ptype(d) == Some(PacketType::State)));
    assert!(sim.sockets[0].info(c).is_some());
}

/// Packets a hostile or confused sender might produce.
fn forge(h: Header, ext_sack: Option<&[u8]>, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    packet::encode(&mut v, &h, None, payload);
    if let Some(s) = ext_sack {
        // any length, up to 255 bytes
        let mut w = v[..20].to_vec();
        w[1] = packet::EXT_SACK;
        w.push(0);
        w.push(s.len() as u8);
        w.extend_from_slice(s);
        w.extend_from_slice(payload);
        return w;
    }
    v
}

#[test]
fn hostile_datagrams_are_ignored() {
    let link = Link {
        delay: Duration::from_millis(10),
        bandwidth: 5_000_000,
        ..Link::default()
    };
    let mut sim = Sim::new(22, cfgs(), [link.clone(), link]);
    sim.keep_sent = true;
    let (c, s) = sim.connect();
    // learn the ids and sequence numbers from real traffic
    sim.sockets[0].write(c, b"probe").unwrap();
    for _ in 0..5 {
        sim.step(Duration::from_millis(10));
    }
    let last0 = Packet::parse(sim.sent[0].last().unwrap()).unwrap().header;
    let last1 = Packet::parse(sim.sent[1].last().unwrap()).unwrap().header;
    let to_server = last0.connection_id; // what the server receives on
    let to_client = last1.connection_id;
    let client_addr = sim.addrs[0];
    let server_addr = sim.addrs[1];
    let stranger: std::net::SocketAddr = "127.0.0.9:9999".parse().unwrap();

    let a = data(3 << 20, 30);
    let b = data(2 << 20, 31);
    let mut pa = sim::Pipe::new(c, a.clone());
    let mut pb = sim::Pipe::new(s, b.clone());
    let mut rng = sim::Rng(77);
    let mut accepted = 0;
    while sim.elapsed() < Duration::from_secs(120) && !(pa.done() && pb.done()) {
        let now = sim.now;
        pa.service(&mut sim.sockets[0], now);
        pb.service(&mut sim.sockets[1], now);
        // every step, a few nasty datagrams at both ends
        for _ in 0..3 {
            let k = rng.next();
            let h = Header {
                packet_type: [PacketType::Data, PacketType::State, PacketType::Fin][k as usize % 3],
                connection_id: to_server,
                timestamp_us: rng.next() as u32,
                timestamp_diff_us: rng.next() as u32,
                wnd_size: rng.next() as u32,
                seq_nr: rng.next() as u16,
                ack_nr: rng.next() as u16,
            };
            let junk: Vec<u8> = (0..(k % 200)).map(|_| rng.next() as u8).collect();
            let mut cases: Vec<(usize, std::net::SocketAddr, Vec<u8>)> = vec![
                // garbage
                (1, client_addr, junk.clone()),
                // the right ids from a stranger
                (1, stranger, forge(h, None, &junk)),
                // wrong connection id from the right peer
                (
                    1,
                    client_addr,
                    forge(
                        Header {
                            connection_id: to_server ^ 0x5555,
                            ..h
                        },
                        None,
                        &junk,
                    ),
                ),
                (
                    0,
                    server_addr,
                    forge(
                        Header {
                            connection_id: to_client.wrapping_add(7),
                            ..h
                        },
                        None,
                        &[],
                    ),
                ),
            ];
            // the right ids from the right peer, acking far beyond what was
            // sent, with a huge selective ack, or a RESET with a wrong id
            let far = Header {
                packet_type: PacketType::State,
                connection_id: to_client,
                ack_nr: last0.seq_nr.wrapping_add(30_000 + (k % 1000) as u16),
                ..h
            };
            cases.push((0, server_addr, forge(far, None, &[])));
            cases.push((0, server_addr, forge(far, Some(&[0xff; 255]), &[])));
            let reset = Header {
                packet_type: PacketType::Reset,
                connection_id: to_client.wrapping_add(100),
                ..h
            };
            cases.push((0, server_addr, forge(reset, None, &[])));
            cases.push((
                0,
                stranger,
                forge(
                    Header {
                        connection_id: to_client,
                        ..reset
                    },
                    None,
                    &[],
                ),
            ));
            let (to, from, d) = cases.swap_remove(k as usize % cases.len());
            if sim.inject(to, from, &d) {
                accepted += 1;
            }
        }
        sim.step(Duration::from_millis(20));
        for ev in &mut sim.events {
            for e in ev.drain(..) {
                assert!(!matches!(e, Event::Closed(..)), "{e:?}");
            }
        }
    }
    assert!(
        pa.done() && pb.done(),
        "transfer stalled at {:?}",
        sim.elapsed()
    );
    let mismatch =
        |x: &[u8], y: &[u8]| (x.len(), y.len(), x.iter().zip(y).position(|(p, q)| p != q));
    assert_eq!(accepted, 0, "a forged packet was accepted");
    assert!(pa.received == b, "{:?}", mismatch(&pa.received, &b));
    let a = [&b"probe"[..], &a].concat();
    assert!(pb.received == a, "{:?}", mismatch(&pb.received, &a));
    assert!(sim.sockets[0].stats().invalid_packets_in > 0);
}

#[test]
fn forged_selective_acks_of_the_peer_cannot_corrupt_the_stream() {
    // the peer itself lies: it selectively acks everything it has not seen.
    // The data may stall on those packets but is never delivered wrong, and
    // the sender recovers by retransmission timeouts.
    let link = Link::default();
    let mut sim = Sim::new(23, cfgs(), [link.clone(), link]);
    let (c, s) = sim.connect();
    let blob = data(100_000, 3);
    sim.sockets[0].write(c, &blob).unwrap();
    sim.keep_sent = true;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let mut lied = 0;
    while got.len() < blob.len() && sim.elapsed() < Duration::from_secs(60) {
        sim.step(Duration::from_millis(10));
        if lied < 3 {
            if let Some(last) = sim.sent[1].last() {
                let h = Packet::parse(last).unwrap().header;
                let d = forge(
                    Header {
                        packet_type: PacketType::State,
                        ..h
                    },
                    Some(&[0xff; 255]),
                    &[],
                );
                let from = sim.addrs[1];
                sim.inject(0, from, &d);
                lied += 1;
            }
        }
        while let Ok(n) = sim.sockets[1].read(s, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(got == blob);
}

#[test]
fn writable_fires_after_a_short_write_and_read_bytes_streams_without_copies() {
    let mut cfg = cfgs();
    cfg[0].send_buffer = 50_000;
    let mut sim = Sim::new(26, cfg, [Link::default(), Link::default()]);
    let (c, s) = sim.connect();
    let blob = data(120_000, 4);
    let n = sim.sockets[0].write(c, &blob).unwrap();
    assert_eq!(n, 50_000);
    assert_eq!(
        sim.sockets[0].write(c, &blob[n..]),
        Err(lt_utp::Error::WouldBlock)
    );
    let mut written = n;
    let mut got = Vec::new();
    let mut writable = 0;
    let mut eof = false;
    while !eof && sim.elapsed() < Duration::from_secs(30) {
        sim.step(Duration::from_millis(10));
        for e in std::mem::take(&mut sim.events[0]) {
            if e == Event::Writable(c) {
                writable += 1;
                while written < blob.len() {
                    match sim.sockets[0].write(c, &blob[written..]) {
                        Ok(k) => written += k,
                        Err(_) => break,
                    }
                }
                if written == blob.len() {
                    sim.sockets[0].shutdown(c).unwrap();
                }
            }
        }
        loop {
            match sim.sockets[1].read_bytes(s, 4000) {
                Ok(b) if b.is_empty() => {
                    eof = true;
                    break;
                }
                Ok(b) => {
                    assert!(b.len() <= 4000);
                    got.extend_from_slice(&b);
                }
                Err(lt_utp::Error::WouldBlock) => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert!(eof);
    assert!(writable >= 2, "{writable} writable events");
    assert!(got == blob);
    assert_eq!(
        sim.sockets[0].write(c, b"more"),
        Err(lt_utp::Error::NotWritable)
    );
}
