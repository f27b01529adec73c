//! Node ids, XOR distance, BEP 42 node-id security and the deterministic
//! random generator the node uses (seeded by the caller: this crate reads
//! no clock and no OS entropy).

use std::net::IpAddr;

use lt_core::Sha1Hash;

/// A DHT node id: 160 bits, the same shape as an info-hash.
pub type NodeId = Sha1Hash;

/// XOR distance between two ids.
pub fn distance(a: &NodeId, b: &NodeId) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (o, (x, y)) in out.iter_mut().zip(a.0.iter().zip(b.0.iter())) {
        *o = x ^ y;
    }
    out
}

/// Number of leading bits `a` and `b` share (160 when equal).
pub fn common_prefix_bits(a: &NodeId, b: &NodeId) -> usize {
    let d = distance(a, b);
    let mut bits = 0;
    for byte in d {
        if byte == 0 {
            bits += 8;
        } else {
            bits += byte.leading_zeros() as usize;
            break;
        }
    }
    bits
}

/// `Ordering` of `a` and `b` by their distance to `target` (closer first).
pub fn cmp_distance(target: &NodeId, a: &NodeId, b: &NodeId) -> std::cmp::Ordering {
    distance(target, a).cmp(&distance(target, b))
}

/// A random id that shares exactly `prefix` leading bits with `base`
/// (used to refresh bucket `prefix`).
pub fn random_id_in_bucket(base: &NodeId, prefix: usize, rng: &mut Rng) -> NodeId {
    let mut id = rng.id();
    let prefix = prefix.min(159);
    for bit in 0..=prefix {
        let byte = bit / 8;
        let mask = 0x80u8 >> (bit % 8);
        let want = if bit == prefix {
            // the first differing bit
            !base.0[byte] & mask
        } else {
            base.0[byte] & mask
        };
        id.0[byte] = (id.0[byte] & !mask) | want;
    }
    id
}

/// CRC-32C (Castagnoli), as BEP 42 requires.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

/// The 21 leading bits of a BEP 42 id for `ip` with random selector `r`
/// (0..8), as the top of a u32 (the low 11 bits are zero).
fn bep42_prefix(ip: &IpAddr, r: u8) -> u32 {
    let r = r & 7;
    let crc = match ip {
        IpAddr::V4(v4) => {
            let mut b = v4.octets();
            for (x, m) in b.iter_mut().zip([0x03u8, 0x0f, 0x3f, 0xff]) {
                *x &= m;
            }
            b[0] |= r << 5;
            crc32c(&b)
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let mut b = [0u8; 8];
            for (i, m) in [0x01u8, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]
                .iter()
                .enumerate()
            {
                b[i] = o[i] & m;
            }
            b[0] |= r << 5;
            crc32c(&b)
        }
    };
    crc & 0xffff_f800
}

/// A BEP 42 node id for external address `ip`: the first 21 bits come
/// from the CRC-32C of the masked address, the last byte is the selector,
/// everything else is random.
pub fn generate_secure_id(ip: &IpAddr, rng: &mut Rng) -> NodeId {
    let mut id = rng.id();
    let r = id.0[19] & 7;
    let prefix = bep42_prefix(ip, r);
    id.0[0] = (prefix >> 24) as u8;
    id.0[1] = (prefix >> 16) as u8;
    id.0[2] = ((prefix >> 8) as u8 & 0xf8) | (id.0[2] & 0x07);
    id
}

/// Whether `id` is a valid BEP 42 id for `ip`. Addresses on local networks
/// (loopback, private, link-local) are exempt and always valid.
pub fn verify_secure_id(id: &NodeId, ip: &IpAddr) -> bool {
    if is_local(ip) {
        return true;
    }
    let prefix = bep42_prefix(ip, id.0[19]);
    id.0[0] == (prefix >> 24) as u8
        && id.0[1] == (prefix >> 16) as u8
        && (id.0[2] & 0xf8) == ((prefix >> 8) as u8 & 0xf8)
}

pub use lt_core::ip_filter::is_local;

/// A small deterministic generator (xoshiro256**), seeded by the caller.
/// The session seeds it from the operating system's randomness; tests seed
/// it with constants so that runs repeat exactly.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator from 32 seed bytes (an all-zero seed is remapped, since
    /// xoshiro cannot leave the zero state).
    pub fn new(seed: [u8; 32]) -> Self {
        let mut s = [0u64; 4];
        for (i, w) in s.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&seed[i * 8..i * 8 + 8]);
            *w = u64::from_le_bytes(b);
        }
        if s.iter().all(|&w| w == 0) {
            s = [
                0x9E37_79B9_7F4A_7C15,
                0xBF58_476D_1CE4_E5B9,
                0x94D0_49BB_1331_11EB,
                1,
            ];
        }
        Rng { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// 20 random bytes.
    pub fn id(&mut self) -> NodeId {
        let mut b = [0u8; 20];
        self.fill(&mut b);
        Sha1Hash(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn crc32c_known_vector() {
        // RFC 3720 B.4: 32 bytes of zeros
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn bep42_test_vectors() {
        // The examples of BEP 42: (ip, rand selector, first 3 bytes / mask)
        let cases: [(Ipv4Addr, u8, [u8; 3]); 5] = [
            (Ipv4Addr::new(124, 31, 75, 21), 1, [0x5f, 0xbf, 0xb8]),
            (Ipv4Addr::new(21, 75, 31, 124), 86, [0x5a, 0x3c, 0xe8]),
            (Ipv4Addr::new(65, 23, 51, 170), 22, [0xa5, 0xd4, 0x30]),
            (Ipv4Addr::new(84, 124, 73, 14), 65, [0x1b, 0x03, 0x20]),
            (Ipv4Addr::new(43, 213, 53, 83), 90, [0xe5, 0x6f, 0x68]),
        ];
        for (ip, r, prefix) in cases {
            let mut id = NodeId::zero();
            id.0[0] = prefix[0];
            id.0[1] = prefix[1];
            id.0[2] = prefix[2] | 0x03;
            id.0[19] = r;
            let ip = IpAddr::V4(ip);
            assert!(verify_secure_id(&id, &ip), "{ip}");
            id.0[1] ^= 1;
            assert!(!verify_secure_id(&id, &ip), "{ip}");
        }
    }

    #[test]
    fn generated_ids_verify() {
        let mut rng = Rng::new([7; 32]);
        for ip in [
            IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)),
        ] {
            for _ in 0..20 {
                let id = generate_secure_id(&ip, &mut rng);
                assert!(verify_secure_id(&id, &ip));
                assert!(
                    !verify_secure_id(&id, &IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8))) || {
                        // a 1 in 2^21 coincidence is acceptable but vanishingly rare
                        false
                    }
                );
            }
        }
        assert!(verify_secure_id(
            &rng.id(),
            &IpAddr::V4(Ipv4Addr::LOCALHOST)
        ));
    }

    #[test]
    fn prefix_and_bucket_ids() {
        let mut rng = Rng::new([1; 32]);
        let base = rng.id();
        assert_eq!(common_prefix_bits(&base, &base), 160);
        for p in [0usize, 1, 7, 8, 9, 100, 159] {
            let id = random_id_in_bucket(&base, p, &mut rng);
            assert_eq!(common_prefix_bits(&base, &id), p);
        }
    }
}
