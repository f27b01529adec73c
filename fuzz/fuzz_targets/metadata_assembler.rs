//! Fuzzes the BEP 9 metadata assembler (`lt_wire::ut_metadata`): a true
//! info dictionary (size and content from the input) is assembled from
//! fuzzer-driven operations — pieces in any order, duplicated, truncated,
//! oversized, with wrong total sizes or corrupted bytes (a wrong hash),
//! rejects, departing peers, timeouts, resets. Invariants: nothing panics,
//! memory stays within the size limit, a completed dictionary is always
//! the true one, and picks stay within the piece count.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lt_core::{InfoHash, Sha1Hash, Sha256Hash};
use lt_wire::ut_metadata::{MetadataAssembler, Progress, PIECE_SIZE};

fuzz_target!(|data: &[u8]| {
    let [a, b, seed, kind, limit, rest @ ..] = data else {
        return;
    };
    // the true dictionary: 1 ..= 65536 bytes
    let len = 1 + (usize::from(*a) << 8 | usize::from(*b));
    let truth: Vec<u8> = (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(u32::from(*seed)) as u8
        })
        .collect();
    let ih = match kind % 3 {
        0 => InfoHash::from_v1(Sha1Hash::digest(&truth)),
        1 => InfoHash::new(Sha1Hash::default(), Sha256Hash::digest(&truth)),
        _ => InfoHash::new(Sha1Hash::digest(&truth), Sha256Hash::digest(&truth)),
    };
    // a limit below, at or above the true size
    let max = match limit % 4 {
        0 => len,
        1 => len.saturating_sub(1 + usize::from(*limit)),
        2 => len + usize::from(*limit) * 1000,
        _ => 1 << 20,
    };
    let mut asm = MetadataAssembler::new(ih, max);
    let t0 = Instant::now();
    let mut now = t0;
    for op in rest.chunks(6) {
        let [code, peer, p, x, y, z] = match *op {
            [c, pe, p, x, y, z] => [c, pe, p, x, y, z],
            _ => return,
        };
        let peer = u64::from(peer % 8);
        let piece = u32::from(p) % 8;
        let true_size = len as u64;
        match code % 8 {
            0 => {
                let size = if x & 1 == 0 {
                    true_size
                } else {
                    u64::from_le_bytes([y, z, x, p, 0, 0, 0, if x & 2 != 0 { 0xff } else { 0 }])
                };
                let _ = asm.set_size(size);
            }
            1 | 2 | 3 => {
                // a piece of the true dictionary, maybe damaged
                let start = piece as usize * PIECE_SIZE;
                let end = (start + PIECE_SIZE).min(len);
                let mut d: Vec<u8> = truth
                    .get(start.min(len)..end.max(start.min(len)))
                    .unwrap_or(&[])
                    .to_vec();
                match x % 6 {
                    0 => d.truncate(usize::from(y)),
                    1 => d.extend(std::iter::repeat_n(z, usize::from(y))),
                    2 => {
                        if let Some(v) = d.get_mut(usize::from(y)) {
                            *v ^= 1 | z;
                        }
                    }
                    _ => {}
                }
                let total = if z & 0x80 != 0 && x % 6 == 5 {
                    u64::from(y) << 8 | u64::from(z)
                } else {
                    true_size
                };
                if let Ok(Progress::Complete(buf)) = asm.on_data(peer, piece, total, &d) {
                    assert_eq!(buf, truth, "a completed dictionary hashes to the info-hash");
                    assert!(buf.len() <= max);
                }
            }
            4 => {
                if let Some(i) = asm.pick(peer, now) {
                    assert!(i < asm.num_pieces());
                }
            }
            5 => asm.on_reject(peer, piece),
            6 => asm.on_peer_gone(peer),
            _ => {
                if x == 0 {
                    asm.reset();
                } else {
                    now += Duration::from_secs(u64::from(x));
                }
            }
        }
        assert!(asm.num_have() <= asm.num_pieces());
        if let Some(s) = asm.size() {
            assert!(s <= max && s > 0);
            assert_eq!(asm.num_pieces() as usize, s.div_ceil(PIECE_SIZE));
        }
    }
});
