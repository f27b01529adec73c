//! Core value types shared by every libtorrent-rs crate: SHA-1 and SHA-256
//! digests, the v1/v2 info-hash pair and peer ids.
//!
//! Hashing goes through the `sha1`/`sha2` crates built with their assembly
//! back ends, which use the SHA-NI / ARMv8 crypto instructions when the CPU
//! has them.

use std::fmt;

pub mod base64;
pub mod error;
pub mod fingerprint;
pub mod ip_filter;
pub mod mapped;
pub mod operation;
pub mod x509_names;

/// Error returned when a digest is built from a slice of the wrong length
/// or a hex string that is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashLenError {
    pub expected: usize,
    pub got: usize,
}

impl fmt::Display for HashLenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} bytes, got {}", self.expected, self.got)
    }
}

impl std::error::Error for HashLenError {}

macro_rules! digest_type {
    ($name:ident, $len:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of the digest in bytes.
            pub const LEN: usize = $len;

            /// The all-zeros digest.
            pub const fn zero() -> Self {
                Self([0u8; $len])
            }

            /// Builds a digest from exactly `LEN` bytes.
            pub fn from_slice(b: &[u8]) -> Result<Self, HashLenError> {
                let arr: [u8; $len] = b.try_into().map_err(|_| HashLenError {
                    expected: $len,
                    got: b.len(),
                })?;
                Ok(Self(arr))
            }

            /// Parses a lower- or upper-case hex string of `2 * LEN` digits.
            pub fn from_hex(s: &str) -> Option<Self> {
                let s = s.as_bytes();
                if s.len() != $len * 2 {
                    return None;
                }
                let mut out = [0u8; $len];
                for (i, pair) in s.chunks_exact(2).enumerate() {
                    out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
                }
                Some(Self(out))
            }

            /// Lower-case hex representation.
            pub fn to_hex(&self) -> String {
                to_hex(&self.0)
            }

            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            pub fn is_zero(&self) -> bool {
                self.0.iter().all(|&b| b == 0)
            }

            pub fn clear(&mut self) {
                self.0 = [0u8; $len];
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(a: [u8; $len]) -> Self {
                Self(a)
            }
        }
    };
}

digest_type!(
    Sha1Hash,
    20,
    "A 20-byte SHA-1 digest (v1 info-hash, piece hash, node id)."
);
digest_type!(
    Sha256Hash,
    32,
    "A 32-byte SHA-256 digest (v2 info-hash, merkle node)."
);

/// A peer id is 20 opaque bytes, the same shape as a SHA-1 digest.
pub type PeerId = Sha1Hash;

impl Sha1Hash {
    /// SHA-1 of `data`.
    pub fn digest(data: &[u8]) -> Self {
        use sha1::Digest;
        Self(sha1::Sha1::digest(data).into())
    }
}

impl Sha256Hash {
    /// SHA-256 of `data`.
    pub fn digest(data: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(data).into())
    }

    /// The first 20 bytes, as used for v2 info-hashes on the v1 wire
    /// protocol, trackers and the DHT.
    pub fn truncated(&self) -> Sha1Hash {
        let mut out = [0u8; 20];
        out.copy_from_slice(&self.0[..20]);
        Sha1Hash(out)
    }
}

/// Which BitTorrent protocol version an info-hash belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    V1 = 0,
    V2 = 1,
}

/// The info-hashes of a torrent: a v1 (SHA-1), a v2 (SHA-256) or both
/// (a hybrid torrent). A missing one is all zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct InfoHash {
    pub v1: Sha1Hash,
    pub v2: Sha256Hash,
}

impl InfoHash {
    pub fn new(v1: Sha1Hash, v2: Sha256Hash) -> Self {
        Self { v1, v2 }
    }
    pub fn from_v1(v1: Sha1Hash) -> Self {
        Self {
            v1,
            v2: Sha256Hash::zero(),
        }
    }
    pub fn from_v2(v2: Sha256Hash) -> Self {
        Self {
            v1: Sha1Hash::zero(),
            v2,
        }
    }
    pub fn has_v1(&self) -> bool {
        !self.v1.is_zero()
    }
    pub fn has_v2(&self) -> bool {
        !self.v2.is_zero()
    }
    pub fn has(&self, v: ProtocolVersion) -> bool {
        match v {
            ProtocolVersion::V1 => self.has_v1(),
            ProtocolVersion::V2 => self.has_v2(),
        }
    }
    /// The 20-byte form of the hash for `v` (v2 is truncated).
    pub fn get(&self, v: ProtocolVersion) -> Sha1Hash {
        match v {
            ProtocolVersion::V1 => self.v1,
            ProtocolVersion::V2 => self.v2.truncated(),
        }
    }
    /// The v2 hash (truncated) when there is one, else the v1 hash.
    pub fn best(&self) -> Sha1Hash {
        if self.has_v2() {
            self.v2.truncated()
        } else {
            self.v1
        }
    }
    pub fn is_empty(&self) -> bool {
        !self.has_v1() && !self.has_v2()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex of arbitrary bytes.
pub fn to_hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[(x >> 4) as usize] as char);
        s.push(DIGITS[(x & 15) as usize] as char);
    }
    s
}

/// Decodes hex of any even length; `None` on an odd length or a bad digit.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| Some((hex_val(p[0])? << 4) | hex_val(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_known_vector() {
        assert_eq!(
            Sha1Hash::digest(b"abc").to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            Sha256Hash::digest(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Sha1Hash::digest(b"x");
        assert_eq!(Sha1Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Sha1Hash::from_hex(&h.to_hex().to_uppercase()), Some(h));
        assert_eq!(Sha1Hash::from_hex("zz"), None);
        assert_eq!(from_hex("0a0B"), Some(vec![10, 11]));
        assert_eq!(from_hex("abc"), None);
    }

    #[test]
    fn info_hash_best_prefers_v2() {
        let v1 = Sha1Hash::digest(b"1");
        let v2 = Sha256Hash::digest(b"2");
        assert_eq!(InfoHash::from_v1(v1).best(), v1);
        assert_eq!(InfoHash::new(v1, v2).best(), v2.truncated());
        assert!(InfoHash::default().is_empty());
        assert!(InfoHash::from_v2(v2).has(ProtocolVersion::V2));
        assert!(!InfoHash::from_v2(v2).has_v1());
    }
}
