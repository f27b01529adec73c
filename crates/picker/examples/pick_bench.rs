//! Throughput of the piece picker on a large torrent.
//!
//!     cargo run --release -p lt-picker --example pick_bench [pieces] [peers]
//!
//! Builds a torrent of `pieces` pieces (default 100,000, 16 blocks each) and
//! `peers` connected peers (default 300: 10% seeds, the rest holding a random
//! half of the pieces), then downloads the whole torrent: each step a random
//! peer asks for 16 blocks, they are marked requested, received and
//! finished, and completed pieces pass. Prints the time per pick call.

use std::time::Instant;

use lt_picker::{Bitfield, PeerKey, PickOptions, PiecePicker, Rng};

fn main() {
    let mut args = std::env::args().skip(1);
    let pieces: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let npeers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let piece_len = 16 * 16384u32;
    let mut rng = Rng::new(1);
    let mut picker = PiecePicker::new(u64::from(pieces) * u64::from(piece_len), piece_len, 1)
        .expect("valid geometry");
    let mut bitfields = Vec::with_capacity(npeers);
    for i in 0..npeers {
        if i % 10 == 0 {
            bitfields.push(Bitfield::full(pieces as usize));
        } else {
            let mut b = Bitfield::new(pieces as usize);
            for p in 0..pieces {
                if rng.below(2) == 0 {
                    b.set(p as usize);
                }
            }
            bitfields.push(b);
        }
    }
    let t0 = Instant::now();
    for b in &bitfields {
        if b.all() {
            picker.peer_have_all();
        } else {
            picker.peer_bitfield(b);
        }
    }
    println!(
        "setup: {pieces} pieces, {npeers} peers, availability fed in {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let mut picks = 0u64;
    let mut pick_time = 0f64;
    let t1 = Instant::now();
    while !picker.is_finished() {
        let peer = rng.below(npeers);
        let opts = PickOptions::new(PeerKey(peer as u32));
        let t = Instant::now();
        let blocks = picker.pick(&bitfields[peer], 16, &opts);
        pick_time += t.elapsed().as_secs_f64();
        picks += 1;
        for b in blocks {
            picker.mark_requested(b, PeerKey(peer as u32));
            if picker.mark_received(b, PeerKey(peer as u32)).is_some() && picker.mark_finished(b) {
                picker.piece_passed(b.piece);
            }
        }
    }
    println!(
        "instant delivery: downloaded in {:.2} s: {picks} picks, {:.2} µs per pick",
        t1.elapsed().as_secs_f64(),
        pick_time / picks as f64 * 1e6
    );

    // Pipelined: every peer keeps `depth` requests in flight and one random
    // peer delivers its oldest block per step, so thousands of pieces are
    // partial at once.
    let depth = 64usize;
    let mut picker = PiecePicker::new(u64::from(pieces) * u64::from(piece_len), piece_len, 2)
        .expect("valid geometry");
    for b in &bitfields {
        if b.all() {
            picker.peer_have_all();
        } else {
            picker.peer_bitfield(b);
        }
    }
    let mut queues: Vec<std::collections::VecDeque<lt_picker::BlockRef>> =
        vec![Default::default(); npeers];
    let (mut picks, mut pick_time, mut max_partial) = (0u64, 0f64, 0usize);
    let t2 = Instant::now();
    while !picker.is_finished() {
        let peer = rng.below(npeers);
        let key = PeerKey(peer as u32);
        if let Some(b) = queues[peer].pop_front() {
            if picker.mark_received(b, key).is_some() && picker.mark_finished(b) {
                picker.piece_passed(b.piece);
            }
        }
        let want = depth - queues[peer].len();
        let t = Instant::now();
        let blocks = picker.pick(&bitfields[peer], want, &PickOptions::new(key));
        pick_time += t.elapsed().as_secs_f64();
        picks += 1;
        for b in blocks {
            picker.mark_requested(b, key);
            queues[peer].push_back(b);
        }
        max_partial = max_partial.max(picker.num_downloading());
    }
    println!(
        "pipelined ({depth} per peer): downloaded in {:.2} s: {picks} picks, {:.2} µs per pick, up to {max_partial} partial pieces",
        t2.elapsed().as_secs_f64(),
        pick_time / picks as f64 * 1e6
    );
}
