//! Peer-id fingerprints: building our own (`-LT2110-`), parsing other
//! clients' (Azureus, Shadow and Mainline styles) and naming the client that
//! sent a peer id.

use std::fmt;

#[path = "client_table.rs"]
mod client_table;
use client_table::CLIENTS;

/// Why a fingerprint cannot be generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FingerprintError {
    /// The client code is not exactly 2 bytes.
    NameLength,
    /// A version number is negative.
    NegativeVersion,
}

impl fmt::Display for FingerprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FingerprintError::NameLength => "fingerprint name must be 2 bytes",
            FingerprintError::NegativeVersion => "fingerprint version must be a positive integer",
        })
    }
}

impl std::error::Error for FingerprintError {}

/// The character encoding version number `v` in a fingerprint: `0`-`9`,
/// then `A`, `B`, ... (wrapping around the byte for large numbers);
/// negative numbers are written as `0`.
pub fn version_to_char(v: i32) -> u8 {
    if v < 0 {
        b'0'
    } else if v < 10 {
        b'0' + v as u8
    } else {
        (i64::from(b'A') + i64::from(v) - 10) as u8
    }
}

/// The 8-byte Azureus-style fingerprint `-NNabcd-` for client code `name`
/// (2 bytes) and the four version numbers.
pub fn generate_fingerprint(
    name: &[u8],
    major: i32,
    minor: i32,
    revision: i32,
    tag: i32,
) -> Result<[u8; 8], FingerprintError> {
    if name.len() != 2 {
        return Err(FingerprintError::NameLength);
    }
    if major < 0 || minor < 0 || revision < 0 || tag < 0 {
        return Err(FingerprintError::NegativeVersion);
    }
    Ok([
        b'-',
        name[0],
        name[1],
        version_to_char(major),
        version_to_char(minor),
        version_to_char(revision),
        version_to_char(tag),
        b'-',
    ])
}

/// A client code and version parsed from a peer id. One-letter codes
/// (Shadow and Mainline style) have a NUL second byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub name: [u8; 2],
    pub major: i32,
    pub minor: i32,
    pub revision: i32,
    pub tag: i32,
}

impl Fingerprint {
    /// The 8-byte form `-NNabcd-`.
    pub fn to_bytes(&self) -> [u8; 8] {
        [
            b'-',
            self.name[0],
            self.name[1],
            version_to_char(self.major),
            version_to_char(self.minor),
            version_to_char(self.revision),
            version_to_char(self.tag),
            b'-',
        ]
    }
}

fn decode_digit(c: u8) -> i32 {
    if c.is_ascii_digit() {
        i32::from(c - b'0')
    } else {
        i32::from(c) - i32::from(b'A') + 10
    }
}

fn is_print(c: u8) -> bool {
    (0x20..0x7f).contains(&c)
}

/// `-XYabcd-`: X printable, Y and the version characters at least `'0'`.
fn parse_az_style(id: &[u8; 20]) -> Option<Fingerprint> {
    if id[0] != b'-' || id[7] != b'-' || !is_print(id[1]) || id[2..7].iter().any(|&c| c < b'0') {
        return None;
    }
    Some(Fingerprint {
        name: [id[1], id[2]],
        major: decode_digit(id[3]),
        minor: decode_digit(id[4]),
        revision: decode_digit(id[5]),
        tag: decode_digit(id[6]),
    })
}

/// `Xabc--...` (version characters) or `X` + three raw version bytes with a
/// NUL at offset 8.
fn parse_shadow_style(id: &[u8; 20]) -> Option<Fingerprint> {
    if !id[0].is_ascii_alphanumeric() {
        return None;
    }
    let (major, minor, revision) = if id[4] == b'-' && id[5] == b'-' {
        if id[1..4].iter().any(|&c| c < b'0') {
            return None;
        }
        (
            decode_digit(id[1]),
            decode_digit(id[2]),
            decode_digit(id[3]),
        )
    } else {
        if id[8] != 0 || id[1..4].iter().any(|&c| c > 127) {
            return None;
        }
        (i32::from(id[1]), i32::from(id[2]), i32::from(id[3]))
    };
    Some(Fingerprint {
        name: [id[0], 0],
        major,
        minor,
        revision,
        tag: 0,
    })
}

/// Reads a decimal number of at most 3 characters (sign included) after
/// optional white space, like C's `%3d`; returns it and the rest.
fn scan_num(s: &[u8]) -> Option<(i32, &[u8])> {
    let mut s = s;
    while let Some((&c, rest)) = s.split_first() {
        if matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            s = rest;
        } else {
            break;
        }
    }
    let mut width = 0;
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = rest;
            width = 1;
        }
    }
    let mut v: i32 = 0;
    let mut digits = 0;
    while width < 3 {
        match s.split_first() {
            Some((&c, rest)) if c.is_ascii_digit() => {
                v = v * 10 + i32::from(c - b'0');
                s = rest;
                width += 1;
                digits += 1;
            }
            _ => break,
        }
    }
    if digits == 0 {
        return None;
    }
    Some((if neg { -v } else { v }, s))
}

/// `X1-2-3-`: a printable letter and three dash-separated numbers.
fn parse_mainline_style(id: &[u8; 20]) -> Option<Fingerprint> {
    // the id is read as a C string: it ends at the first NUL
    let end = id.iter().position(|&c| c == 0).unwrap_or(id.len());
    let s = &id[..end];
    let (&name, s) = s.split_first()?;
    let (major, s) = scan_num(s)?;
    let s = s.strip_prefix(b"-")?;
    let (minor, s) = scan_num(s)?;
    let s = s.strip_prefix(b"-")?;
    let (revision, _) = scan_num(s)?;
    if !is_print(name) {
        return None;
    }
    Some(Fingerprint {
        name: [name, 0],
        major,
        minor,
        revision,
        tag: 0,
    })
}

/// The client code and version in a peer id, when it follows one of the
/// common conventions.
pub fn client_fingerprint(id: &[u8; 20]) -> Option<Fingerprint> {
    parse_az_style(id)
        .or_else(|| parse_shadow_style(id))
        .or_else(|| parse_mainline_style(id))
}

/// Peer ids recognised by a fixed string at a fixed offset.
static GENERIC: &[(usize, &[u8], &str)] = &[
    (0, b"Deadman Walking-", "Deadman"),
    (5, b"Azureus", "Azureus 2.0.3.2"),
    (0, b"DansClient", "XanTorrent"),
    (4, b"btfans", "SimpleBT"),
    (0, b"PRC.P---", "Bittorrent Plus! II"),
    (0, b"P87.P---", "Bittorrent Plus!"),
    (0, b"S587Plus", "Bittorrent Plus!"),
    (0, b"martini", "Martini Man"),
    (0, b"Plus---", "Bittorrent Plus"),
    (0, b"turbobt", "TurboBT"),
    (0, b"a00---0", "Swarmy"),
    (0, b"a02---0", "Swarmy"),
    (0, b"T00---0", "Teeweety"),
    (0, b"BTDWV-", "Deadman Walking"),
    (2, b"BS", "BitSpirit"),
    (0, b"Pando-", "Pando"),
    (0, b"LIME", "LimeWire"),
    (0, b"btuga", "BTugaXP"),
    (0, b"oernu", "BTugaXP"),
    (0, b"Mbrst", "Burst!"),
    (0, b"PEERAPP", "PeerApp"),
    (0, b"Plus", "Plus!"),
    (0, b"-Qt-", "Qt"),
    (0, b"exbc", "BitComet"),
    (0, b"DNA", "BitTorrent DNA"),
    (0, b"-G3", "G3 Torrent"),
    (0, b"-FG", "FlashGet"),
    (0, b"-ML", "MLdonkey"),
    (0, b"-MG", "Media Get"),
    (0, b"XBT", "XBT"),
    (0, b"OP", "Opera"),
    (2, b"RS", "Rufus"),
    (0, b"AZ2500BT", "BitTyrant"),
    (0, b"btpd/", "BitTorrent Protocol Daemon"),
    (0, b"TIX", "Tixati"),
    (0, b"QVOD", "Qvod"),
    (0, b"-SP", "BitSpirit 3.6"),
];

fn client_name(code: [u8; 2]) -> Option<&'static str> {
    CLIENTS
        .binary_search_by(|(c, _)| c.cmp(&code))
        .ok()
        .map(|i| CLIENTS[i].1)
}

fn describe(f: &Fingerprint) -> Vec<u8> {
    let mut out = match client_name(f.name) {
        Some(n) => n.as_bytes().to_vec(),
        None if f.name[1] == 0 => vec![f.name[0]],
        None => f.name.to_vec(),
    };
    out.extend_from_slice(format!(" {}.{}.{}", f.major, f.minor, f.revision).as_bytes());
    if f.tag != 0 {
        out.extend_from_slice(format!(".{}", f.tag).as_bytes());
    }
    out
}

/// A readable name (and version) for the client that sent peer id `id`, as
/// bytes: it may quote bytes of the id, which need not be valid UTF-8.
pub fn identify_client_bytes(id: &[u8; 20]) -> Vec<u8> {
    if id.iter().all(|&c| c == 0) {
        return b"Unknown".to_vec();
    }
    for (off, s, name) in GENERIC {
        if id[*off..].starts_with(s) {
            return name.as_bytes().to_vec();
        }
    }
    if id.starts_with(b"-BOW") && id[7] == b'-' {
        let mut out = b"Bits on Wheels ".to_vec();
        out.extend_from_slice(&id[4..7]);
        return out;
    }
    if id.starts_with(b"eX") {
        let mut out = b"eXeem ('".to_vec();
        out.extend_from_slice(&id[2..14]);
        out.extend_from_slice(b"')");
        return out;
    }
    if id[..12].iter().all(|&c| c == 0) && id[12] == 0x97 {
        return b"Experimental 3.2.1b2".to_vec();
    }
    if id[..13].iter().all(|&c| c == 0) {
        return b"Experimental 3.1".to_vec();
    }
    if let Some(f) = client_fingerprint(id) {
        return describe(&f);
    }
    if id[..12].iter().all(|&c| c == 0) {
        return b"Generic".to_vec();
    }
    let mut out = b"Unknown [".to_vec();
    out.extend(id.iter().map(|&c| if is_print(c) { c } else { b'.' }));
    out.push(b']');
    out
}

/// [`identify_client_bytes`] as a string (invalid UTF-8 replaced).
pub fn identify_client(id: &[u8; 20]) -> String {
    String::from_utf8_lossy(&identify_client_bytes(id)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(s: &[u8]) -> [u8; 20] {
        let mut id = [0u8; 20];
        for (d, c) in id.iter_mut().zip(s) {
            *d = *c;
        }
        id
    }

    #[test]
    fn generate() {
        assert_eq!(
            &generate_fingerprint(b"LT", 2, 1, 1, 0).unwrap(),
            b"-LT2110-"
        );
        assert_eq!(
            &generate_fingerprint(b"LT", 10, 11, 36, 37).unwrap(),
            b"-LTAB[\\-"
        );
        assert_eq!(generate_fingerprint(b"LT", 245, 0, 0, 0).unwrap()[3], b',');
        assert_eq!(
            generate_fingerprint(b"L", 1, 0, 0, 0),
            Err(FingerprintError::NameLength)
        );
        assert_eq!(
            generate_fingerprint(b"LT", -1, 0, 0, 0),
            Err(FingerprintError::NegativeVersion)
        );
    }

    #[test]
    fn identify_styles() {
        let cases: &[(&[u8], &str)] = &[
            (b"-LT2110-xxxxxxxxxxxx", "libtorrent 2.1.1"),
            (b"-qB4520-xxxxxxxxxxxx", "qBittorrent 4.5.2"),
            (b"-TR294Z-xxxxxxxxxxxx", "Transmission 2.9.4.35"),
            (b"-ZZ1000-xxxxxxxxxxxx", "ZZ 1.0.0"),
            (b"M4-20-8-xxxxxxxxxxxx", "Mainline 4.20.8"),
            (b"M1-2--3-xxxxxxxxxxxx", "Mainline 1.2.-3"),
            (b"S58B-----xxxxxxxxxxx", "Shadow 5.8.11"),
            (b"xeX", "x 101.88.0"),
            (b"exbc\0LORDxxxxxxxxxxx", "BitComet"),
            (b"Plus---xxxxxxxxxxxxx", "Bittorrent Plus"),
            (b"Plusxxxxxxxxxxxxxxxx", "Plus!"),
            (b"-BOW123-", "Bits on Wheels 123"),
            (b"eXabcdefghijklmnopqr", "eXeem ('abcdefghijkl')"),
            (b"", "Unknown"),
            (b"\0\0\0\0\0\0\0\0\0\0\0\0xxxxxxxx", "Generic"),
            (b"\0\0\0\0\0\0\0\0\0\0\0\0\0xxxxxxx", "Experimental 3.1"),
            (b"-LT21!0-xxxxxxxxxxxx", "Unknown [-LT21!0-xxxxxxxxxxxx]"),
            (b"\xff\xff", "Unknown [....................]"),
        ];
        for (id, want) in cases {
            assert_eq!(identify_client(&pid(id)), *want, "{id:?}");
        }
    }

    #[test]
    fn client_fingerprints() {
        let f = client_fingerprint(&pid(b"-XX1AZ0-xxxxxxxxxxxx")).unwrap();
        assert_eq!((f.major, f.minor, f.revision, f.tag), (1, 10, 35, 0));
        let f = client_fingerprint(&pid(b"M7-2-3--xxxxxxxxxxxx")).unwrap();
        assert_eq!(&f.to_bytes(), b"-M\x007230-");
        let f = client_fingerprint(&pid(b"M1-2--3-xxxxxxxxxxxx")).unwrap();
        assert_eq!(&f.to_bytes(), b"-M\x001200-");
        assert_eq!(client_fingerprint(&pid(b"-LT21!0-xxxxxxxxxxxx")), None);
    }

    #[test]
    fn table_sorted() {
        assert!(CLIENTS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
