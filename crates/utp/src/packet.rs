//! The uTP (BEP 29, version 1) packet header and its extensions.
//!
//! ```text
//!  0       4       8               16              24              32
//! +-------+-------+---------------+---------------+---------------+
//! | type  | ver   | extension     | connection_id                 |
//! +-------+-------+---------------+---------------+---------------+
//! | timestamp_microseconds                                        |
//! +---------------+---------------+---------------+---------------+
//! | timestamp_difference_microseconds                             |
//! +---------------+---------------+---------------+---------------+
//! | wnd_size                                                      |
//! +---------------+---------------+---------------+---------------+
//! | seq_nr                        | ack_nr                        |
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! followed by a chain of extensions (`next type`, `length`, `length` bytes
//! of data; the chain ends at type 0) and then the payload. All integers are
//! big-endian. Parsing is strict and bounded: anything that does not fit is
//! an error, never a panic.

use std::fmt;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 20;
/// The only protocol version.
pub const VERSION: u8 = 1;
/// Extension number of the selective ACK bitmask.
pub const EXT_SACK: u8 = 1;
/// Extension number libtorrent uses to carry a close reason (2 reserved
/// bytes and a big-endian `u16` reason code).
pub const EXT_CLOSE_REASON: u8 = 3;
/// The largest selective ACK bitmask we send, in bytes (a multiple of 4,
/// as BEP 29 requires). It covers 224 packets past the first missing one
/// and keeps a full data packet under 1452 bytes (the IPv6 UDP payload on
/// a 1500-byte link).
pub const MAX_SACK_BYTES: usize = 28;

/// The packet type (high nibble of the first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Carries payload.
    Data = 0,
    /// Finalises the connection: the last sequence number the sender uses.
    Fin = 1,
    /// An acknowledgement without payload; does not take a sequence number.
    State = 2,
    /// Aborts the connection.
    Reset = 3,
    /// Opens a connection.
    Syn = 4,
}

impl PacketType {
    /// The type for a wire nibble, if it is one of the five defined.
    pub fn from_nibble(n: u8) -> Option<PacketType> {
        Some(match n {
            0 => PacketType::Data,
            1 => PacketType::Fin,
            2 => PacketType::State,
            3 => PacketType::Reset,
            4 => PacketType::Syn,
            _ => return None,
        })
    }
}

/// Why a datagram is not a well-formed uTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than the 20-byte header.
    TooShort,
    /// Version nibble is not 1.
    BadVersion(u8),
    /// Type nibble is not 0..=4.
    BadType(u8),
    /// An extension header or its data runs past the end of the datagram.
    TruncatedExtension,
    /// The same extension appeared twice, or a selective ACK is empty.
    BadExtension(u8),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooShort => write!(f, "datagram shorter than the uTP header"),
            ParseError::BadVersion(v) => write!(f, "unsupported uTP version {v}"),
            ParseError::BadType(t) => write!(f, "unknown uTP packet type {t}"),
            ParseError::TruncatedExtension => write!(f, "truncated uTP extension"),
            ParseError::BadExtension(e) => write!(f, "malformed uTP extension {e}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The fixed part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub packet_type: PacketType,
    pub connection_id: u16,
    pub timestamp_us: u32,
    pub timestamp_diff_us: u32,
    pub wnd_size: u32,
    pub seq_nr: u16,
    pub ack_nr: u16,
}

/// A parsed packet borrowing the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub header: Header,
    /// Selective ACK bitmask: bit `i` (byte `i / 8`, bit `i % 8`, least
    /// significant first) acknowledges `ack_nr + 2 + i`.
    pub sack: Option<&'a [u8]>,
    /// Close reason code from libtorrent's extension 3, if present.
    pub close_reason: Option<u16>,
    pub payload: &'a [u8],
}

/// True when the datagram could be a uTP packet: at least a header long,
/// version 1 and a known type. A cheap test to tell uTP traffic apart from
/// DHT messages (which start with `d`) and UDP tracker replies (which start
/// with a zero byte) arriving on the same socket.
pub fn looks_like_utp(datagram: &[u8]) -> bool {
    match datagram.first() {
        Some(&b0) => datagram.len() >= HEADER_LEN && b0 & 0x0f == VERSION && (b0 >> 4) <= 4,
        None => false,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Packet<'a> {
    /// Parses a datagram. Unknown extensions are skipped.
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, ParseError> {
        if b.len() < HEADER_LEN {
            return Err(ParseError::TooShort);
        }
        let b0 = b[0];
        if b0 & 0x0f != VERSION {
            return Err(ParseError::BadVersion(b0 & 0x0f));
        }
        let packet_type = PacketType::from_nibble(b0 >> 4).ok_or(ParseError::BadType(b0 >> 4))?;
        let short = ParseError::TooShort;
        let header = Header {
            packet_type,
            connection_id: be16(b, 2).ok_or(short)?,
            timestamp_us: be32(b, 4).ok_or(short)?,
            timestamp_diff_us: be32(b, 8).ok_or(short)?,
            wnd_size: be32(b, 12).ok_or(short)?,
            seq_nr: be16(b, 16).ok_or(short)?,
            ack_nr: be16(b, 18).ok_or(short)?,
        };
        let mut ext = b[1];
        let mut pos = HEADER_LEN;
        let mut sack = None;
        let mut close_reason = None;
        // each round consumes at least two bytes, so this ends
        while ext != 0 {
            let next = *b.get(pos).ok_or(ParseError::TruncatedExtension)?;
            let len = *b.get(pos + 1).ok_or(ParseError::TruncatedExtension)? as usize;
            let data = b
                .get(pos + 2..pos + 2 + len)
                .ok_or(ParseError::TruncatedExtension)?;
            match ext {
                EXT_SACK => {
                    if sack.is_some() || data.is_empty() {
                        return Err(ParseError::BadExtension(ext));
                    }
                    sack = Some(data);
                }
                EXT_CLOSE_REASON => {
                    if close_reason.is_some() || data.len() < 4 {
                        return Err(ParseError::BadExtension(ext));
                    }
                    close_reason = Some(u16::from_be_bytes([data[2], data[3]]));
                }
                _ => {}
            }
            pos += 2 + len;
            ext = next;
        }
        Ok(Packet {
            header,
            sack,
            close_reason,
            payload: b.get(pos..).unwrap_or(&[]),
        })
    }
}

/// Appends a packet to `out`: the header, a selective ACK if `sack` is
/// given (BEP 29 wants a non-zero multiple of 4 bytes; anything past 252
/// bytes is cut off), then the payload.
pub fn encode(out: &mut Vec<u8>, h: &Header, sack: Option<&[u8]>, payload: &[u8]) {
    out.reserve(HEADER_LEN + sack.map_or(0, |s| 2 + s.len()) + payload.len());
    out.push(((h.packet_type as u8) << 4) | VERSION);
    out.push(if sack.is_some() { EXT_SACK } else { 0 });
    out.extend_from_slice(&h.connection_id.to_be_bytes());
    out.extend_from_slice(&h.timestamp_us.to_be_bytes());
    out.extend_from_slice(&h.timestamp_diff_us.to_be_bytes());
    out.extend_from_slice(&h.wnd_size.to_be_bytes());
    out.extend_from_slice(&h.seq_nr.to_be_bytes());
    out.extend_from_slice(&h.ack_nr.to_be_bytes());
    if let Some(s) = sack {
        out.push(0);
        out.push(s.len().min(252) as u8);
        out.extend_from_slice(&s[..s.len().min(252)]);
    }
    out.extend_from_slice(payload);
}

/// `a - b` on the 16-bit sequence circle, as a signed distance.
pub fn seq_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

/// True when `a` comes before `b` on the 16-bit sequence circle.
pub fn seq_less(a: u16, b: u16) -> bool {
    seq_diff(a, b) < 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(t: PacketType) -> Header {
        Header {
            packet_type: t,
            connection_id: 0xbeef,
            timestamp_us: 0x0102_0304,
            timestamp_diff_us: 0xa0b0_c0d0,
            wnd_size: 1 << 20,
            seq_nr: 0xfffe,
            ack_nr: 7,
        }
    }

    #[test]
    fn round_trip_all_types() {
        for t in [
            PacketType::Data,
            PacketType::Fin,
            PacketType::State,
            PacketType::Reset,
            PacketType::Syn,
        ] {
            let mut v = Vec::new();
            encode(&mut v, &hdr(t), None, b"hello");
            assert_eq!(v.len(), 25);
            assert_eq!(v[0], ((t as u8) << 4) | 1);
            assert!(looks_like_utp(&v));
            let p = Packet::parse(&v).unwrap();
            assert_eq!(p.header, hdr(t));
            assert_eq!(p.payload, b"hello");
            assert_eq!(p.sack, None);
        }
    }

    #[test]
    fn exact_wire_layout() {
        let mut v = Vec::new();
        encode(&mut v, &hdr(PacketType::State), Some(&[1, 2, 3, 4]), &[]);
        assert_eq!(
            v,
            [
                0x21, 1, 0xbe, 0xef, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0, 0, 0x10, 0, 0, 0xff, 0xfe,
                0, 7, 0, 4, 1, 2, 3, 4
            ]
        );
        let p = Packet::parse(&v).unwrap();
        assert_eq!(p.sack, Some(&[1u8, 2, 3, 4][..]));
        assert!(p.payload.is_empty());
    }

    #[test]
    fn unknown_extensions_are_skipped_and_close_reason_read() {
        let mut v = Vec::new();
        encode(&mut v, &hdr(PacketType::Fin), None, &[]);
        v[1] = 9; // unknown extension first
        v.extend_from_slice(&[EXT_CLOSE_REASON, 3, 0xaa, 0xbb, 0xcc]);
        v.extend_from_slice(&[EXT_SACK, 4, 0, 0, 0x12, 0x34]);
        v.extend_from_slice(&[0, 4, 0x80, 0, 0, 0]);
        v.extend_from_slice(b"xyz");
        let p = Packet::parse(&v).unwrap();
        assert_eq!(p.close_reason, Some(0x1234));
        assert_eq!(p.sack, Some(&[0x80u8, 0, 0, 0][..]));
        assert_eq!(p.payload, b"xyz");
    }

    #[test]
    fn malformed_packets_are_errors() {
        let mut good = Vec::new();
        encode(&mut good, &hdr(PacketType::Data), None, b"p");
        assert_eq!(Packet::parse(&good[..19]), Err(ParseError::TooShort));
        assert_eq!(Packet::parse(&[]), Err(ParseError::TooShort));
        let mut v = good.clone();
        v[0] = 0x02;
        assert_eq!(Packet::parse(&v), Err(ParseError::BadVersion(2)));
        v[0] = 0x51;
        assert_eq!(Packet::parse(&v), Err(ParseError::BadType(5)));
        assert!(!looks_like_utp(&v));
        // extension header cut off
        let mut v = good[..20].to_vec();
        v[1] = EXT_SACK;
        assert_eq!(Packet::parse(&v), Err(ParseError::TruncatedExtension));
        v.push(0);
        assert_eq!(Packet::parse(&v), Err(ParseError::TruncatedExtension));
        v.push(8); // claims 8 bytes, has 2
        v.extend_from_slice(&[1, 2]);
        assert_eq!(Packet::parse(&v), Err(ParseError::TruncatedExtension));
        // empty and duplicated sack
        let mut v = good[..20].to_vec();
        v[1] = EXT_SACK;
        v.extend_from_slice(&[0, 0]);
        assert_eq!(Packet::parse(&v), Err(ParseError::BadExtension(EXT_SACK)));
        let mut v = good[..20].to_vec();
        v[1] = EXT_SACK;
        v.extend_from_slice(&[EXT_SACK, 4, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
        assert_eq!(Packet::parse(&v), Err(ParseError::BadExtension(EXT_SACK)));
        // short close reason
        let mut v = good[..20].to_vec();
        v[1] = EXT_CLOSE_REASON;
        v.extend_from_slice(&[0, 2, 0, 0]);
        assert_eq!(
            Packet::parse(&v),
            Err(ParseError::BadExtension(EXT_CLOSE_REASON))
        );
    }

    #[test]
    fn every_prefix_and_random_bytes_never_panic() {
        let mut v = Vec::new();
        encode(&mut v, &hdr(PacketType::Data), Some(&[0xff; 8]), b"payload");
        for n in 0..=v.len() {
            let _ = Packet::parse(&v[..n]);
        }
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            let mut buf = [0u8; 48];
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            buf[0] = (buf[0] & 0x30) | 1; // mostly valid types
            let n = (x % 48) as usize;
            if let Ok(p) = Packet::parse(&buf[..n]) {
                assert!(p.payload.len() <= n);
            }
        }
    }

    #[test]
    fn looks_like_utp_rejects_dht_and_tracker_traffic() {
        assert!(!looks_like_utp(
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"
        ));
        let mut tracker = vec![0u8; 16];
        tracker[3] = 0; // connect reply: action 0
        assert!(!looks_like_utp(&tracker));
        let mut announce = vec![0u8; 20];
        announce[3] = 1;
        assert!(!looks_like_utp(&announce));
        assert!(!looks_like_utp(&[0x41; 10]));
    }

    #[test]
    fn wrapping_sequence_comparisons() {
        assert!(seq_less(0xfffe, 1));
        assert!(!seq_less(1, 0xfffe));
        assert_eq!(seq_diff(2, 0xffff), 3);
        assert_eq!(seq_diff(0xffff, 2), -3);
        assert!(!seq_less(5, 5));
    }
}
