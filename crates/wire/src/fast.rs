//! BEP 6 allowed-fast set generation.

use std::net::IpAddr;

use lt_core::Sha1Hash;

/// The canonical allowed-fast set (BEP 6) for a peer at `ip` on a torrent
/// with `num_pieces` pieces: up to `k` distinct piece indexes.
///
/// The address is masked to its /24 (`ip & 0xffffff00`), followed by the
/// info-hash, and repeatedly SHA-1 hashed; each digest yields five
/// big-endian 32-bit words taken modulo `num_pieces`. `k` is clamped to
/// `num_pieces`, so the loop always ends.
///
/// BEP 6 defines the algorithm for IPv4 only. An IPv4-mapped IPv6 address
/// is treated as its IPv4 address; for other IPv6 addresses this returns
/// an empty set (no allowed-fast pieces are offered).
pub fn allowed_fast_set(ip: IpAddr, info_hash: &Sha1Hash, num_pieces: u32, k: u32) -> Vec<u32> {
    let v4 = match ip {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a) => a,
            None => return Vec::new(),
        },
    };
    let k = k.min(num_pieces) as usize;
    let mut out: Vec<u32> = Vec::with_capacity(k);
    if k == 0 {
        return out;
    }
    let masked = u32::from(v4) & 0xffff_ff00;
    let mut x = [0u8; 24];
    x[..4].copy_from_slice(&masked.to_be_bytes());
    x[4..].copy_from_slice(&info_hash.0);
    let mut digest = Sha1Hash::digest(&x);
    loop {
        for w in digest.0.chunks_exact(4) {
            if out.len() >= k {
                return out;
            }
            let y = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
            let index = y % num_pieces;
            if !out.contains(&index) {
                out.push(index);
            }
        }
        if out.len() >= k {
            return out;
        }
        digest = Sha1Hash::digest(&digest.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    // The test vectors from BEP 6.
    #[test]
    fn bep6_vectors() {
        let ip = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 200));
        let ih = Sha1Hash([0xaa; 20]);
        assert_eq!(
            allowed_fast_set(ip, &ih, 1313, 7),
            vec![1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(ip, &ih, 1313, 9),
            vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
        // Same /24 gives the same set.
        let ip2 = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 1));
        assert_eq!(
            allowed_fast_set(ip2, &ih, 1313, 7),
            allowed_fast_set(ip, &ih, 1313, 7)
        );
        let mapped = IpAddr::V6(Ipv4Addr::new(80, 4, 4, 200).to_ipv6_mapped());
        assert_eq!(
            allowed_fast_set(mapped, &ih, 1313, 7),
            allowed_fast_set(ip, &ih, 1313, 7)
        );
    }

    #[test]
    fn small_torrents_terminate() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let ih = Sha1Hash([1; 20]);
        let mut s = allowed_fast_set(ip, &ih, 3, 10);
        s.sort();
        assert_eq!(s, vec![0, 1, 2]);
        assert!(allowed_fast_set(ip, &ih, 0, 10).is_empty());
        assert!(allowed_fast_set(IpAddr::V6(Ipv6Addr::LOCALHOST), &ih, 100, 10).is_empty());
    }
}
