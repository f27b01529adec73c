//! BEP 44 items: targets, the signed buffer, ed25519 signing and
//! verification.
//!
//! Signing uses `ed25519-dalek` (ed25519 is a cryptographic primitive,
//! outside our core). Keys come either from a 32-byte seed or in
//! libtorrent's format: a 64-byte *expanded* secret key (the clamped
//! scalar followed by the hash prefix, as produced by
//! `ed25519_create_keypair`) plus the 32-byte public key.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use lt_core::Sha1Hash;
use sha2::{Digest, Sha512};

/// Target of an immutable item: SHA-1 of its bencoded value.
pub fn immutable_target(value: &[u8]) -> Sha1Hash {
    Sha1Hash::digest(value)
}

/// Target of a mutable item: SHA-1 of the public key followed by the salt.
pub fn mutable_target(key: &[u8; 32], salt: &[u8]) -> Sha1Hash {
    let mut buf = Vec::with_capacity(32 + salt.len());
    buf.extend_from_slice(key);
    buf.extend_from_slice(salt);
    Sha1Hash::digest(&buf)
}

/// The bytes a mutable item's signature covers:
/// `4:salt<len>:<salt>` (only with a salt) `3:seqi<seq>e1:v<value>`.
pub fn signed_buffer(salt: &[u8], seq: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(salt.len() + value.len() + 40);
    let mut e = lt_bencode::Encoder::new(&mut out);
    if !salt.is_empty() {
        e.bytes(b"salt").bytes(salt);
    }
    e.bytes(b"seq").int(seq).bytes(b"v").raw(value);
    out
}

/// Verifies a mutable item's signature.
pub fn verify_mutable(key: &[u8; 32], salt: &[u8], seq: i64, value: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    let sig = Signature::from_bytes(sig);
    vk.verify(&signed_buffer(salt, seq, value), &sig).is_ok()
}

/// An ed25519 key pair for publishing mutable items.
#[derive(Clone)]
pub struct KeyPair {
    expanded: [u8; 64],
    public: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print the secret
        f.debug_struct("KeyPair")
            .field("public", &lt_core::to_hex(&self.public))
            .finish_non_exhaustive()
    }
}

/// Error for a key pair whose parts do not belong together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyError;

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid ed25519 key pair")
    }
}

impl std::error::Error for KeyError {}

impl KeyPair {
    /// The key pair of a 32-byte seed (RFC 8032 key generation, the same
    /// as libtorrent's `ed25519_create_keypair`).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let h = Sha512::digest(seed);
        let mut expanded = [0u8; 64];
        expanded.copy_from_slice(&h);
        expanded[0] &= 248;
        expanded[31] &= 63;
        expanded[31] |= 64;
        let public = ed25519_dalek::SigningKey::from_bytes(seed)
            .verifying_key()
            .to_bytes();
        KeyPair { expanded, public }
    }

    /// A key pair in libtorrent's format (64-byte expanded secret key and
    /// public key). Fails when the public key does not match the secret.
    pub fn from_libtorrent(secret: &[u8; 64], public: &[u8; 32]) -> Result<Self, KeyError> {
        let esk = ExpandedSecretKey::from_bytes(secret);
        let derived = VerifyingKey::from(&esk).to_bytes();
        if derived != *public {
            return Err(KeyError);
        }
        Ok(KeyPair {
            expanded: *secret,
            public: *public,
        })
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The 64-byte expanded secret key in libtorrent's format.
    pub fn libtorrent_secret(&self) -> [u8; 64] {
        self.expanded
    }

    /// Signs raw bytes.
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        let esk = ExpandedSecretKey::from_bytes(&self.expanded);
        // The public key was checked against (or derived from) the secret.
        match VerifyingKey::from_bytes(&self.public) {
            Ok(vk) => raw_sign::<Sha512>(&esk, msg, &vk).to_bytes(),
            Err(_) => {
                let vk = VerifyingKey::from(&esk);
                raw_sign::<Sha512>(&esk, msg, &vk).to_bytes()
            }
        }
    }

    /// Signs a mutable item.
    pub fn sign_mutable(&self, salt: &[u8], seq: i64, value: &[u8]) -> [u8; 64] {
        self.sign_raw(&signed_buffer(salt, seq, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep44_signed_buffer_format() {
        assert_eq!(
            signed_buffer(b"", 1, b"12:Hello World!"),
            b"3:seqi1e1:v12:Hello World!".to_vec()
        );
        assert_eq!(
            signed_buffer(b"foobar", 1, b"12:Hello World!"),
            b"4:salt6:foobar3:seqi1e1:v12:Hello World!".to_vec()
        );
    }

    #[test]
    fn bep44_test_vectors() {
        // From BEP 44 ("test vectors"): the key pair and signatures.
        let pk =
            lt_core::from_hex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548")
                .unwrap();
        let sk = lt_core::from_hex(
            "e06d3183d14159228433ed599221b80bd0a5ce8352e4bdf0262f76786ef1c74d\
             b7e7a9fea2c0eb269d61e3b38e450a22e754941ac78479d6c54e1faf6037881d",
        )
        .unwrap();
        let pk: [u8; 32] = pk.try_into().unwrap();
        let sk: [u8; 64] = sk.try_into().unwrap();
        let kp = KeyPair::from_libtorrent(&sk, &pk).unwrap();
        let sig = kp.sign_mutable(b"", 1, b"12:Hello World!");
        let want = lt_core::from_hex(
            "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff\
             1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01",
        )
        .unwrap();
        assert_eq!(sig.to_vec(), want);
        assert!(verify_mutable(&pk, b"", 1, b"12:Hello World!", &sig));
        assert!(!verify_mutable(&pk, b"", 2, b"12:Hello World!", &sig));
        let sig2 = kp.sign_mutable(b"foobar", 1, b"12:Hello World!");
        let want2 = lt_core::from_hex(
            "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d\
             df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08",
        )
        .unwrap();
        assert_eq!(sig2.to_vec(), want2);
        assert_eq!(
            mutable_target(&pk, b"").to_hex(),
            "4a533d47ec9c7d95b1ad75f576cffc641853b750"
        );
        assert_eq!(
            mutable_target(&pk, b"foobar").to_hex(),
            "411eba73b6f087ca51a3795d9c8c938d365e32c1"
        );
        assert_eq!(
            immutable_target(b"12:Hello World!").to_hex(),
            "e5f96f6f38320f0f33959cb4d3d656452117aadb"
        );
    }

    #[test]
    fn seed_keys_round_trip() {
        let kp = KeyPair::from_seed(&[9; 32]);
        let again = KeyPair::from_libtorrent(&kp.libtorrent_secret(), &kp.public_key()).unwrap();
        assert_eq!(again.public_key(), kp.public_key());
        let sig = kp.sign_mutable(b"s", 5, b"i3e");
        assert!(verify_mutable(&kp.public_key(), b"s", 5, b"i3e", &sig));
        let other = KeyPair::from_seed(&[8; 32]);
        assert!(KeyPair::from_libtorrent(&kp.libtorrent_secret(), &other.public_key()).is_err());
        // a corrupted signature or key fails
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!verify_mutable(&kp.public_key(), b"s", 5, b"i3e", &bad));
        assert!(!verify_mutable(&[0xff; 32], b"s", 5, b"i3e", &sig));
    }
}
