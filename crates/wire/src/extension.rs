//! BEP 10 extension protocol: the extension handshake and the extension
//! messages this crate understands — `ut_metadata` (BEP 9), `ut_pex`
//! (BEP 11) and libtorrent's `lt_donthave`, `upload_only` and `share_mode`.
//!
//! Payloads are bencoded with `lt-bencode`. Parsing is bounded (nesting
//! depth and token count) and never trusts a length it has not checked.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;
use lt_bencode::{decode_with, Encoder, Kind, Limits};

use crate::Error;

/// Extension names.
pub mod names {
    pub const UT_METADATA: &str = "ut_metadata";
    pub const UT_PEX: &str = "ut_pex";
    pub const LT_DONTHAVE: &str = "lt_donthave";
    pub const UPLOAD_ONLY: &str = "upload_only";
    pub const SHARE_MODE: &str = "share_mode";
}

/// Size of a metadata piece (BEP 9).
pub const METADATA_PIECE_SIZE: usize = 16 * 1024;

fn limits(allow_trailing: bool) -> Limits {
    Limits {
        max_depth: 8,
        max_tokens: 20_000,
        strict_key_order: false,
        allow_trailing,
    }
}

fn bad(why: &str) -> Error {
    Error::BadExtension(why.to_string())
}

/// The extension handshake (extended message id 0).
///
/// Fields the peer omitted (or sent with the wrong type or an impossible
/// value) are `None`; `m` maps extension names to the message id the
/// sender wants to *receive* them under (0 = disabled).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// Extension name → message id.
    pub m: BTreeMap<String, u8>,
    /// The sender's listen port.
    pub p: Option<u16>,
    /// Client name and version.
    pub v: Option<String>,
    /// Our address as the sender sees it (4 or 16 bytes on the wire).
    pub yourip: Option<IpAddr>,
    /// The sender's IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// The sender's IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// How many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// Size of the info dictionary (BEP 9).
    pub metadata_size: Option<u64>,
    /// The sender does not download (BEP 21 style flag, libtorrent).
    pub upload_only: Option<bool>,
    /// The sender is in share mode (libtorrent).
    pub share_mode: Option<bool>,
    /// Seconds since the sender last had the complete torrent (libtorrent).
    pub complete_ago: Option<i64>,
}

fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

impl ExtHandshake {
    /// Parses an extension handshake payload. The payload must be one
    /// bencoded dictionary; individual fields of the wrong type are ignored.
    pub fn parse(payload: &[u8]) -> Result<ExtHandshake, Error> {
        let doc =
            decode_with(payload, limits(false)).map_err(|e| Error::BadExtension(e.to_string()))?;
        let root = doc.root();
        if root.kind() != Kind::Dict {
            return Err(bad("extension handshake is not a dictionary"));
        }
        let mut h = ExtHandshake::default();
        if let Some(m) = root.get_dict(b"m") {
            for (k, v) in m.dict_iter() {
                let (Ok(name), Some(id)) = (std::str::from_utf8(k), v.as_int()) else {
                    continue;
                };
                if let Ok(id) = u8::try_from(id) {
                    h.m.insert(name.to_string(), id);
                }
            }
        }
        h.p = root
            .get_int(b"p")
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0);
        h.v = root
            .get_bytes(b"v")
            .map(|v| String::from_utf8_lossy(v).into_owned());
        h.yourip = root.get_bytes(b"yourip").and_then(parse_ip);
        h.ipv6 = root.get_bytes(b"ipv6").and_then(|b| match parse_ip(b) {
            Some(IpAddr::V6(a)) => Some(a),
            _ => None,
        });
        h.ipv4 = root.get_bytes(b"ipv4").and_then(|b| match parse_ip(b) {
            Some(IpAddr::V4(a)) => Some(a),
            _ => None,
        });
        h.reqq = root
            .get_int(b"reqq")
            .and_then(|r| u32::try_from(r).ok())
            .filter(|&r| r > 0);
        h.metadata_size = root
            .get_int(b"metadata_size")
            .and_then(|r| u64::try_from(r).ok());
        h.upload_only = root.get_int(b"upload_only").map(|v| v != 0);
        h.share_mode = root.get_int(b"share_mode").map(|v| v != 0);
        h.complete_ago = root.get_int(b"complete_ago");
        Ok(h)
    }

    /// The bencoded payload (canonical: keys in sorted order).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        if let Some(c) = self.complete_ago {
            e.bytes(b"complete_ago").int(c);
        }
        if let Some(a) = self.ipv4 {
            e.bytes(b"ipv4").bytes(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            e.bytes(b"ipv6").bytes(&a.octets());
        }
        e.bytes(b"m").begin_dict();
        for (k, v) in &self.m {
            e.bytes(k.as_bytes()).int(*v as i64);
        }
        e.end();
        if let Some(s) = self.metadata_size {
            e.bytes(b"metadata_size").int(s.min(i64::MAX as u64) as i64);
        }
        if let Some(p) = self.p {
            e.bytes(b"p").int(p as i64);
        }
        if let Some(r) = self.reqq {
            e.bytes(b"reqq").int(r as i64);
        }
        if let Some(s) = self.share_mode {
            e.bytes(b"share_mode").int(s as i64);
        }
        if let Some(u) = self.upload_only {
            e.bytes(b"upload_only").int(u as i64);
        }
        if let Some(v) = &self.v {
            e.bytes(b"v").bytes(v.as_bytes());
        }
        match self.yourip {
            Some(IpAddr::V4(a)) => {
                e.bytes(b"yourip").bytes(&a.octets());
            }
            Some(IpAddr::V6(a)) => {
                e.bytes(b"yourip").bytes(&a.octets());
            }
            None => {}
        }
        e.end();
        out
    }
}

/// A `ut_metadata` (BEP 9) message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataMsg {
    /// msg_type 0: please send metadata piece `piece`.
    Request { piece: u32 },
    /// msg_type 1: metadata piece `piece` of an info dictionary of
    /// `total_size` bytes; `data` is at most 16 KiB.
    Data {
        piece: u32,
        total_size: u64,
        data: Bytes,
    },
    /// msg_type 2: the sender will not send piece `piece`.
    Reject { piece: u32 },
    /// Any other msg_type; BEP 9 says to ignore it.
    Unknown { msg_type: i64 },
}

impl MetadataMsg {
    /// Parses a `ut_metadata` payload: a bencoded dictionary, followed for
    /// `data` messages by the piece's bytes.
    pub fn parse(payload: &Bytes) -> Result<MetadataMsg, Error> {
        let doc =
            decode_with(payload, limits(true)).map_err(|e| Error::BadExtension(e.to_string()))?;
        let root = doc.root();
        if root.kind() != Kind::Dict {
            return Err(bad("ut_metadata header is not a dictionary"));
        }
        let consumed = doc.consumed();
        let msg_type = root
            .get_int(b"msg_type")
            .ok_or_else(|| bad("ut_metadata without msg_type"))?;
        let piece = root
            .get_int(b"piece")
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| bad("ut_metadata without a valid piece"));
        let trailing = payload.len() - consumed.min(payload.len());
        Ok(match msg_type {
            0 | 2 => {
                if trailing != 0 {
                    return Err(bad("ut_metadata request/reject with trailing data"));
                }
                if msg_type == 0 {
                    MetadataMsg::Request { piece: piece? }
                } else {
                    MetadataMsg::Reject { piece: piece? }
                }
            }
            1 => {
                let total_size = root
                    .get_int(b"total_size")
                    .and_then(|t| u64::try_from(t).ok())
                    .ok_or_else(|| bad("ut_metadata data without total_size"))?;
                if trailing > METADATA_PIECE_SIZE {
                    return Err(bad("ut_metadata piece larger than 16 KiB"));
                }
                MetadataMsg::Data {
                    piece: piece?,
                    total_size,
                    data: payload.slice(consumed..),
                }
            }
            other => MetadataMsg::Unknown { msg_type: other },
        })
    }

    /// The payload: bencoded header, then the data for `Data`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        match self {
            MetadataMsg::Request { piece } => {
                e.bytes(b"msg_type")
                    .int(0)
                    .bytes(b"piece")
                    .int(*piece as i64);
            }
            MetadataMsg::Data {
                piece, total_size, ..
            } => {
                e.bytes(b"msg_type")
                    .int(1)
                    .bytes(b"piece")
                    .int(*piece as i64);
                e.bytes(b"total_size")
                    .int((*total_size).min(i64::MAX as u64) as i64);
            }
            MetadataMsg::Reject { piece } => {
                e.bytes(b"msg_type")
                    .int(2)
                    .bytes(b"piece")
                    .int(*piece as i64);
            }
            MetadataMsg::Unknown { msg_type } => {
                e.bytes(b"msg_type").int(*msg_type);
            }
        }
        e.end();
        if let MetadataMsg::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }
}

/// PEX peer flags (BEP 11 `added.f`).
pub mod pex_flags {
    /// Prefers encrypted connections.
    pub const ENCRYPTION: u8 = 0x01;
    /// Seed / upload only.
    pub const SEED: u8 = 0x02;
    /// Supports uTP.
    pub const UTP: u8 = 0x04;
    /// Supports the holepunch extension.
    pub const HOLEPUNCH: u8 = 0x08;
    /// Reachable: the sender connected out to this peer.
    pub const OUTGOING: u8 = 0x10;
}

/// A `ut_pex` (BEP 11) message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PexMsg {
    /// Peers added since the last message, with their flags (0 when the
    /// sender gave no flags).
    pub added: Vec<(SocketAddr, u8)>,
    /// Peers dropped since the last message.
    pub dropped: Vec<SocketAddr>,
}

fn compact_peers(b: &[u8], v6: bool) -> Result<Vec<SocketAddr>, Error> {
    let step = if v6 { 18 } else { 6 };
    if !b.len().is_multiple_of(step) {
        return Err(bad(
            "ut_pex peer list length is not a multiple of the entry size",
        ));
    }
    Ok(b.chunks_exact(step)
        .map(|c| {
            let port = u16::from_be_bytes([c[step - 2], c[step - 1]]);
            if v6 {
                let mut a = [0u8; 16];
                a.copy_from_slice(&c[..16]);
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(a), port, 0, 0))
            } else {
                SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::new(c[0], c[1], c[2], c[3]),
                    port,
                ))
            }
        })
        .collect())
}

fn write_compact(out: &mut Vec<u8>, a: &SocketAddr) {
    match a {
        SocketAddr::V4(a) => out.extend_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.extend_from_slice(&a.ip().octets()),
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

impl PexMsg {
    /// Parses a `ut_pex` payload. Compact lists whose length is not a
    /// multiple of the entry size are errors; a flags string whose length
    /// does not match its list is ignored (flags become 0).
    pub fn parse(payload: &[u8]) -> Result<PexMsg, Error> {
        let doc =
            decode_with(payload, limits(false)).map_err(|e| Error::BadExtension(e.to_string()))?;
        let root = doc.root();
        if root.kind() != Kind::Dict {
            return Err(bad("ut_pex message is not a dictionary"));
        }
        let mut msg = PexMsg::default();
        for (key, fkey, v6) in [
            (&b"added"[..], &b"added.f"[..], false),
            (b"added6", b"added6.f", true),
        ] {
            let peers = compact_peers(root.get_bytes(key).unwrap_or(&[]), v6)?;
            let flags = root.get_bytes(fkey).filter(|f| f.len() == peers.len());
            for (i, p) in peers.into_iter().enumerate() {
                let f = flags.and_then(|f| f.get(i).copied()).unwrap_or(0);
                msg.added.push((p, f));
            }
        }
        for (key, v6) in [(&b"dropped"[..], false), (b"dropped6", true)] {
            msg.dropped
                .extend(compact_peers(root.get_bytes(key).unwrap_or(&[]), v6)?);
        }
        Ok(msg)
    }

    /// The bencoded payload.
    pub fn encode(&self) -> Vec<u8> {
        let (mut a4, mut f4, mut a6, mut f6, mut d4, mut d6) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (a, f) in &self.added {
            if a.is_ipv4() {
                write_compact(&mut a4, a);
                f4.push(*f);
            } else {
                write_compact(&mut a6, a);
                f6.push(*f);
            }
        }
        for a in &self.dropped {
            if a.is_ipv4() {
                write_compact(&mut d4, a);
            } else {
                write_compact(&mut d6, a);
            }
        }
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        e.bytes(b"added").bytes(&a4).bytes(b"added.f").bytes(&f4);
        e.bytes(b"added6").bytes(&a6).bytes(b"added6.f").bytes(&f6);
        e.bytes(b"dropped").bytes(&d4).bytes(b"dropped6").bytes(&d6);
        e.end();
        out
    }
}

/// A parsed extension message of a known extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionMessage {
    Metadata(MetadataMsg),
    Pex(PexMsg),
    /// `lt_donthave`: the peer no longer has this piece.
    DontHave(u32),
    /// `upload_only`: the peer switched upload-only mode on or off.
    UploadOnly(bool),
    /// `share_mode`: the peer switched share mode on or off.
    ShareMode(bool),
}

fn one_byte_flag(payload: &[u8], what: &str) -> Result<bool, Error> {
    match payload {
        [b] => Ok(*b != 0),
        _ => Err(Error::BadExtension(format!(
            "{what} payload must be one byte"
        ))),
    }
}

impl ExtensionMessage {
    /// The extension name this message is sent under.
    pub fn name(&self) -> &'static str {
        match self {
            ExtensionMessage::Metadata(_) => names::UT_METADATA,
            ExtensionMessage::Pex(_) => names::UT_PEX,
            ExtensionMessage::DontHave(_) => names::LT_DONTHAVE,
            ExtensionMessage::UploadOnly(_) => names::UPLOAD_ONLY,
            ExtensionMessage::ShareMode(_) => names::SHARE_MODE,
        }
    }

    /// Parses a payload received for extension `name`. `Ok(None)` when this
    /// crate has no parser for `name`.
    pub fn parse(name: &str, payload: &Bytes) -> Result<Option<ExtensionMessage>, Error> {
        Ok(Some(match name {
            names::UT_METADATA => ExtensionMessage::Metadata(MetadataMsg::parse(payload)?),
            names::UT_PEX => ExtensionMessage::Pex(PexMsg::parse(payload)?),
            names::LT_DONTHAVE => match payload[..] {
                [a, b, c, d] => ExtensionMessage::DontHave(u32::from_be_bytes([a, b, c, d])),
                _ => return Err(bad("lt_donthave payload must be 4 bytes")),
            },
            names::UPLOAD_ONLY => {
                ExtensionMessage::UploadOnly(one_byte_flag(payload, "upload_only")?)
            }
            names::SHARE_MODE => ExtensionMessage::ShareMode(one_byte_flag(payload, "share_mode")?),
            _ => return Ok(None),
        }))
    }

    /// The payload (without the extended message id).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ExtensionMessage::Metadata(m) => m.encode(),
            ExtensionMessage::Pex(p) => p.encode(),
            ExtensionMessage::DontHave(i) => i.to_be_bytes().to_vec(),
            ExtensionMessage::UploadOnly(b) | ExtensionMessage::ShareMode(b) => vec![*b as u8],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_handshake() -> ExtHandshake {
        let mut m = BTreeMap::new();
        m.insert(names::UT_METADATA.to_string(), 2);
        m.insert(names::UT_PEX.to_string(), 1);
        m.insert(names::LT_DONTHAVE.to_string(), 7);
        ExtHandshake {
            m,
            p: Some(6881),
            v: Some("libtorrent-rs 0.1".into()),
            yourip: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
            ipv6: Some(Ipv6Addr::LOCALHOST),
            ipv4: Some(Ipv4Addr::new(127, 0, 0, 2)),
            reqq: Some(500),
            metadata_size: Some(31337),
            upload_only: Some(true),
            share_mode: Some(false),
            complete_ago: Some(-1),
        }
    }

    #[test]
    fn ext_handshake_round_trip() {
        let h = full_handshake();
        let wire = h.encode();
        assert_eq!(ExtHandshake::parse(&wire), Ok(h));
        let empty = ExtHandshake::default();
        assert_eq!(empty.encode(), b"d1:mdee");
        assert_eq!(ExtHandshake::parse(b"d1:mdee"), Ok(empty));
    }

    #[test]
    fn ext_handshake_known_bytes() {
        let h = ExtHandshake::parse(
            b"d1:md11:ut_metadatai3e6:ut_pexi0e3:badi300ee1:pi6881e4:reqqi0e1:v2:xye",
        )
        .unwrap();
        assert_eq!(h.m.get("ut_metadata"), Some(&3));
        assert_eq!(h.m.get("ut_pex"), Some(&0));
        assert_eq!(h.m.get("bad"), None);
        assert_eq!(h.p, Some(6881));
        assert_eq!(h.reqq, None);
        assert_eq!(h.v.as_deref(), Some("xy"));
        let h = ExtHandshake::parse(b"d4:ipv43:abc1:pi70000e6:yourip3:abce").unwrap();
        assert_eq!((h.p, h.yourip, h.ipv4), (None, None, None));
    }

    #[test]
    fn ext_handshake_malformed() {
        assert!(ExtHandshake::parse(b"").is_err());
        assert!(ExtHandshake::parse(b"le").is_err());
        assert!(ExtHandshake::parse(b"d1:m").is_err());
        assert!(ExtHandshake::parse(b"d1:mdeexx").is_err());
        let deep = format!("d1:x{}{}e", "l".repeat(1000), "e".repeat(1000));
        assert!(ExtHandshake::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn metadata_round_trip() {
        let msgs = [
            MetadataMsg::Request { piece: 3 },
            MetadataMsg::Reject { piece: 0 },
            MetadataMsg::Data {
                piece: 1,
                total_size: 20000,
                data: Bytes::from(vec![0x65; 100]),
            },
            MetadataMsg::Unknown { msg_type: 9 },
        ];
        for m in msgs {
            let wire = Bytes::from(m.encode());
            assert_eq!(MetadataMsg::parse(&wire), Ok(m));
        }
        assert_eq!(
            MetadataMsg::Request { piece: 3 }.encode(),
            b"d8:msg_typei0e5:piecei3ee"
        );
    }

    #[test]
    fn metadata_malformed() {
        let p = |b: &'static [u8]| MetadataMsg::parse(&Bytes::from_static(b));
        assert!(p(b"d5:piecei0ee").is_err());
        assert!(p(b"d8:msg_typei0ee").is_err());
        assert!(p(b"d8:msg_typei0e5:piecei-1ee").is_err());
        assert!(p(b"d8:msg_typei0e5:piecei0eeXX").is_err());
        assert!(p(b"d8:msg_typei1e5:piecei0ee").is_err());
        assert!(p(b"i1e").is_err());
        let mut big = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
        big.extend(vec![0; METADATA_PIECE_SIZE + 1]);
        assert!(MetadataMsg::parse(&Bytes::from(big)).is_err());
    }

    #[test]
    fn pex_round_trip_and_flags() {
        let a4: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        let a6: SocketAddr = "[::1]:51413".parse().unwrap();
        let m = PexMsg {
            added: vec![
                (a4, pex_flags::SEED | pex_flags::UTP),
                (a6, pex_flags::ENCRYPTION),
            ],
            dropped: vec!["127.0.0.9:1".parse().unwrap(), a6],
        };
        assert_eq!(PexMsg::parse(&m.encode()), Ok(m));
        // flags of the wrong length are ignored
        let p = PexMsg::parse(b"d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f2:\x01\x02e").unwrap();
        assert_eq!(p.added, vec![(a4, 0)]);
        assert!(PexMsg::parse(b"d5:added5:\x7f\x00\x00\x01\x1ae").is_err());
        assert!(PexMsg::parse(
            b"d8:dropped617:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00e"
        )
        .is_err());
    }

    #[test]
    fn small_extensions() {
        let b = |s: &'static [u8]| Bytes::from_static(s);
        assert_eq!(
            ExtensionMessage::parse("lt_donthave", &b(&[0, 0, 1, 0])),
            Ok(Some(ExtensionMessage::DontHave(256)))
        );
        assert!(ExtensionMessage::parse("lt_donthave", &b(&[0, 0, 1])).is_err());
        assert_eq!(
            ExtensionMessage::parse("upload_only", &b(&[1])),
            Ok(Some(ExtensionMessage::UploadOnly(true)))
        );
        assert!(ExtensionMessage::parse("share_mode", &b(&[])).is_err());
        assert_eq!(ExtensionMessage::parse("lt_unknown", &b(&[])), Ok(None));
        for m in [
            ExtensionMessage::DontHave(7),
            ExtensionMessage::ShareMode(false),
            ExtensionMessage::UploadOnly(true),
        ] {
            assert_eq!(
                ExtensionMessage::parse(m.name(), &Bytes::from(m.encode())),
                Ok(Some(m))
            );
        }
    }
}
