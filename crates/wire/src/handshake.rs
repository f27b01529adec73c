//! The BEP 3 handshake: `\x13BitTorrent protocol`, 8 reserved bytes, the
//! 20-byte info-hash and the 20-byte peer id.

use bytes::{Buf, BytesMut};
use lt_core::{InfoHash, PeerId, ProtocolVersion, Sha1Hash};

use crate::Error;

/// The protocol string, prefixed by its length (19).
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";
/// Length of a complete handshake.
pub const HANDSHAKE_LEN: usize = 68;
/// Length of the part of the handshake up to and including the info-hash.
pub const HANDSHAKE_INFO_HASH_END: usize = 48;

/// The 8 reserved bytes of the handshake, with accessors for the bits that
/// announce protocol extensions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// No extension bits set.
    pub const NONE: Reserved = Reserved([0; 8]);

    fn bit(&self, byte: usize, mask: u8) -> bool {
        self.0[byte] & mask != 0
    }
    fn set_bit(&mut self, byte: usize, mask: u8, on: bool) {
        if on {
            self.0[byte] |= mask;
        } else {
            self.0[byte] &= !mask;
        }
    }
    /// BEP 10 extension protocol (byte 5, `0x10`).
    pub fn extension_protocol(&self) -> bool {
        self.bit(5, 0x10)
    }
    pub fn set_extension_protocol(&mut self, on: bool) -> &mut Self {
        self.set_bit(5, 0x10, on);
        self
    }
    /// BEP 6 fast extension (byte 7, `0x04`).
    pub fn fast(&self) -> bool {
        self.bit(7, 0x04)
    }
    pub fn set_fast(&mut self, on: bool) -> &mut Self {
        self.set_bit(7, 0x04, on);
        self
    }
    /// BEP 5 DHT: the peer accepts `port` messages (byte 7, `0x01`).
    pub fn dht(&self) -> bool {
        self.bit(7, 0x01)
    }
    pub fn set_dht(&mut self, on: bool) -> &mut Self {
        self.set_bit(7, 0x01, on);
        self
    }
    /// BEP 52 v2 upgrade bit (byte 7, `0x10`).
    pub fn v2(&self) -> bool {
        self.bit(7, 0x10)
    }
    pub fn set_v2(&mut self, on: bool) -> &mut Self {
        self.set_bit(7, 0x10, on);
        self
    }
    /// The reserved bits libtorrent sends by default: extension protocol,
    /// fast extension and DHT.
    pub fn standard() -> Self {
        let mut r = Reserved::NONE;
        r.set_extension_protocol(true).set_fast(true).set_dht(true);
        r
    }
    /// The bits both sides set: the extensions in effect on a connection.
    pub fn intersect(&self, other: &Reserved) -> Reserved {
        let mut out = [0u8; 8];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *o = a & b;
        }
        Reserved(out)
    }
}

/// A complete handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: Reserved,
    pub info_hash: Sha1Hash,
    pub peer_id: PeerId,
}

impl Handshake {
    /// The 68-byte wire form.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved.0);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }

    /// Decodes a complete 68-byte handshake.
    pub fn decode(buf: &[u8]) -> Result<Handshake, Error> {
        let mut d = HandshakeDecoder::new();
        let mut b = BytesMut::from(buf);
        loop {
            match d.decode(&mut b)? {
                HandshakeProgress::Complete(h) => return Ok(h),
                HandshakeProgress::InfoHash { .. } => continue,
                HandshakeProgress::NeedMore => {
                    return Err(Error::UnexpectedMessage("truncated handshake"))
                }
            }
        }
    }

    /// The first 48 bytes (protocol string, reserved bits and info-hash):
    /// what an initiating side can send before it learns anything, and what
    /// a receiving side replies with once it knows the torrent.
    pub fn encode_prefix(
        reserved: Reserved,
        info_hash: &Sha1Hash,
    ) -> [u8; HANDSHAKE_INFO_HASH_END] {
        let mut out = [0u8; HANDSHAKE_INFO_HASH_END];
        out[..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&reserved.0);
        out[28..48].copy_from_slice(&info_hash.0);
        out
    }
}

/// How far an incremental handshake decode got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeProgress {
    /// More bytes are needed.
    NeedMore,
    /// The info-hash (and reserved bits) arrived; the peer id has not yet.
    /// Reported once; a receiving side can look the torrent up and reply now.
    InfoHash {
        reserved: Reserved,
        info_hash: Sha1Hash,
    },
    /// The whole handshake arrived.
    Complete(Handshake),
}

/// Incremental handshake decoder. Feed it the receive buffer; it consumes
/// exactly the 68 handshake bytes and leaves whatever follows.
///
/// The protocol string is checked byte by byte as it arrives, so a peer
/// speaking something else is rejected after its first wrong byte.
#[derive(Clone, Debug)]
pub struct HandshakeDecoder {
    got: [u8; HANDSHAKE_LEN],
    len: usize,
    reported_info_hash: bool,
}

impl Default for HandshakeDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl HandshakeDecoder {
    pub fn new() -> Self {
        HandshakeDecoder {
            got: [0; HANDSHAKE_LEN],
            len: 0,
            reported_info_hash: false,
        }
    }

    /// Number of handshake bytes consumed so far.
    pub fn consumed(&self) -> usize {
        self.len
    }

    /// Consumes handshake bytes from the front of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<HandshakeProgress, Error> {
        // Stop at the end of the info-hash once, so that it is reported
        // before the peer id even when both arrive together.
        let end = if self.len < HANDSHAKE_INFO_HASH_END {
            HANDSHAKE_INFO_HASH_END
        } else {
            HANDSHAKE_LEN
        };
        let take = (end - self.len).min(buf.len());
        for i in 0..take {
            let b = buf[i];
            let pos = self.len + i;
            if pos < PROTOCOL.len() && PROTOCOL[pos] != b {
                return Err(Error::BadProtocolString);
            }
            self.got[pos] = b;
        }
        buf.advance(take);
        self.len += take;
        let reserved = || {
            let mut r = [0u8; 8];
            r.copy_from_slice(&self.got[20..28]);
            Reserved(r)
        };
        let info_hash = || {
            let mut h = [0u8; 20];
            h.copy_from_slice(&self.got[28..48]);
            Sha1Hash(h)
        };
        if self.len == HANDSHAKE_LEN {
            let mut p = [0u8; 20];
            p.copy_from_slice(&self.got[48..68]);
            return Ok(HandshakeProgress::Complete(Handshake {
                reserved: reserved(),
                info_hash: info_hash(),
                peer_id: Sha1Hash(p),
            }));
        }
        if self.len >= HANDSHAKE_INFO_HASH_END && !self.reported_info_hash {
            self.reported_info_hash = true;
            return Ok(HandshakeProgress::InfoHash {
                reserved: reserved(),
                info_hash: info_hash(),
            });
        }
        Ok(HandshakeProgress::NeedMore)
    }
}

/// Which of a torrent's info-hashes a 20-byte handshake hash names.
///
/// `Some(V1)` when it equals the v1 hash, `Some(V2)` when it equals the
/// truncated v2 hash, `None` otherwise. A torrent that lacks one of the
/// hashes never matches it (an all-zero hash on the wire matches nothing).
pub fn match_info_hash(torrent: &InfoHash, wire: &Sha1Hash) -> Option<ProtocolVersion> {
    if torrent.has_v1() && torrent.v1 == *wire {
        Some(ProtocolVersion::V1)
    } else if torrent.has_v2() && torrent.v2.truncated() == *wire {
        Some(ProtocolVersion::V2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lt_core::Sha256Hash;

    fn hs() -> Handshake {
        let mut r = Reserved::standard();
        r.set_v2(true);
        Handshake {
            reserved: r,
            info_hash: Sha1Hash([0xaa; 20]),
            peer_id: Sha1Hash(*b"-LT2010-abcdefghijkl"),
        }
    }

    #[test]
    fn reserved_bits_positions() {
        let r = Reserved::standard();
        assert_eq!(r.0, [0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        let mut v = Reserved::NONE;
        v.set_v2(true);
        assert_eq!(v.0[7], 0x10);
        assert!(v.v2() && !v.fast() && !v.dht() && !v.extension_protocol());
        v.set_v2(false);
        assert_eq!(v, Reserved::NONE);
        assert_eq!(r.intersect(&v), Reserved::NONE);
        assert_eq!(r.intersect(&r), r);
    }

    #[test]
    fn round_trip_whole_and_byte_by_byte() {
        let h = hs();
        let wire = h.encode();
        assert_eq!(&wire[..20], PROTOCOL);
        assert_eq!(Handshake::decode(&wire), Ok(h));
        let mut d = HandshakeDecoder::new();
        let mut infos = 0;
        let mut done = None;
        for (i, b) in wire.iter().enumerate() {
            let mut buf = BytesMut::from(&[*b][..]);
            match d.decode(&mut buf).unwrap() {
                HandshakeProgress::NeedMore => assert!(i < 67),
                HandshakeProgress::InfoHash {
                    info_hash,
                    reserved,
                } => {
                    assert_eq!(i, 47);
                    assert_eq!(info_hash, h.info_hash);
                    assert_eq!(reserved, h.reserved);
                    infos += 1;
                }
                HandshakeProgress::Complete(got) => done = Some(got),
            }
            assert!(buf.is_empty());
        }
        assert_eq!(infos, 1);
        assert_eq!(done, Some(h));
    }

    #[test]
    fn leaves_trailing_bytes() {
        let mut buf = BytesMut::from(&hs().encode()[..]);
        buf.extend_from_slice(&[0, 0, 0, 1, 2]);
        let mut d = HandshakeDecoder::new();
        assert!(matches!(
            d.decode(&mut buf),
            Ok(HandshakeProgress::InfoHash { .. })
        ));
        assert_eq!(buf.len(), 20 + 5);
        assert!(matches!(
            d.decode(&mut buf),
            Ok(HandshakeProgress::Complete(_))
        ));
        assert_eq!(&buf[..], &[0, 0, 0, 1, 2]);
    }

    #[test]
    fn bad_protocol_rejected_early() {
        let mut d = HandshakeDecoder::new();
        assert_eq!(
            d.decode(&mut BytesMut::from(&b"\x14"[..])),
            Err(Error::BadProtocolString)
        );
        let mut d = HandshakeDecoder::new();
        assert_eq!(
            d.decode(&mut BytesMut::from(&b"GET / HTTP/1.1"[..])),
            Err(Error::BadProtocolString)
        );
        let mut d = HandshakeDecoder::new();
        assert_eq!(
            d.decode(&mut BytesMut::from(&b"\x13BitTorrent protocoL"[..])),
            Err(Error::BadProtocolString)
        );
        assert!(Handshake::decode(&hs().encode()[..60]).is_err());
    }

    #[test]
    fn info_hash_matching() {
        let v1 = Sha1Hash::digest(b"v1");
        let v2 = Sha256Hash::digest(b"v2");
        let hybrid = InfoHash::new(v1, v2);
        assert_eq!(match_info_hash(&hybrid, &v1), Some(ProtocolVersion::V1));
        assert_eq!(
            match_info_hash(&hybrid, &v2.truncated()),
            Some(ProtocolVersion::V2)
        );
        assert_eq!(match_info_hash(&hybrid, &Sha1Hash::digest(b"x")), None);
        assert_eq!(
            match_info_hash(&InfoHash::from_v2(v2), &Sha1Hash::zero()),
            None
        );
        assert_eq!(
            match_info_hash(&InfoHash::from_v1(v1), &v2.truncated()),
            None
        );
    }
}
