//! Magnet links (BEP 9, BEP 53 `so=`, BEP 52 `btmh`): parsing and writing.

use std::net::{IpAddr, SocketAddr};

use lt_core::{InfoHash, Sha1Hash, Sha256Hash};

/// Errors from parsing a magnet link (libtorrent category codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MagnetError {
    /// Does not start with `magnet:?` (code 24).
    UnsupportedProtocol,
    /// No `xt=urn:btih:` / `xt=urn:btmh:` (code 22).
    MissingInfoHash,
    /// A malformed info-hash (code 39).
    InvalidInfoHash,
    /// A bad `%` escape in `xt` (code 17).
    InvalidEscape,
}

impl MagnetError {
    pub fn code(self) -> i32 {
        match self {
            MagnetError::UnsupportedProtocol => 24,
            MagnetError::MissingInfoHash => 22,
            MagnetError::InvalidInfoHash => 39,
            MagnetError::InvalidEscape => 17,
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            MagnetError::UnsupportedProtocol => "unsupported URL protocol",
            MagnetError::MissingInfoHash => "missing info-hash from URI",
            MagnetError::InvalidInfoHash => "invalid info-hash",
            MagnetError::InvalidEscape => "invalid escaped string",
        }
    }
}

impl std::fmt::Display for MagnetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [libtorrent:{}]", self.message(), self.code())
    }
}

impl std::error::Error for MagnetError {}

/// Largest file index `so=` may name (bounds the priority vector).
pub const MAX_SELECT_INDEX: i64 = 10_000;

/// What a magnet link carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Magnet {
    pub info_hashes: InfoHash,
    /// Display name (`dn`), raw bytes after unescaping (may not be UTF-8).
    pub name: Vec<u8>,
    /// Tracker URLs (raw bytes after unescaping) and their tiers.
    pub trackers: Vec<Vec<u8>>,
    pub tracker_tiers: Vec<i32>,
    pub url_seeds: Vec<Vec<u8>>,
    pub peers: Vec<SocketAddr>,
    pub dht_nodes: Vec<(Vec<u8>, i32)>,
    /// File priorities from `so=` (4 selected, 0 not).
    pub file_priorities: Vec<u8>,
    /// Set when `so=` was present: files not listed are not downloaded.
    pub default_dont_download: bool,
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes (`+` is a space). On a bad escape returns the part
/// decoded so far and `false`.
pub fn unescape(s: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = s.get(i + 1).copied().and_then(hex_digit);
                let lo = s.get(i + 2).copied().and_then(hex_digit);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => return (out, false),
                }
                i += 2;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    (out, true)
}

/// Percent-encodes everything but letters, digits and `-_.!~*()`, with
/// lower-case hex digits.
pub fn escape(s: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() * 3);
    for &c in s {
        if c.is_ascii_alphanumeric() || b"-_.!~*()".contains(&c) {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 15) as usize] as char);
        }
    }
    out
}

/// RFC 4648 base32 of exactly 32 characters into 20 bytes (`1` is read as
/// `I`, case does not matter).
fn base32_20(s: &[u8]) -> Option<[u8; 20]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut o = 0usize;
    for &c in s {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            b'1' => b'I' - b'A',
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(o)? = (acc >> bits) as u8;
            o += 1;
        }
    }
    Some(out)
}

/// C `atoi`: optional sign, leading digits, saturating.
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while s.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    let mut neg = false;
    if let Some(&c) = s.get(i) {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            i += 1;
        }
    }
    let mut v: i64 = 0;
    while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

fn parse_endpoint(s: &[u8]) -> Option<SocketAddr> {
    let s = std::str::from_utf8(s).ok()?;
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h, p)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h, p)
    };
    if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) || port.len() > 5 {
        return None;
    }
    let port: u32 = port.parse().ok()?;
    if port == 0 || port > 65535 {
        return None;
    }
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port as u16))
}

fn eq_nocase(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Parses a magnet link.
pub fn parse_magnet_uri(uri: &str) -> Result<Magnet, MagnetError> {
    let Some(mut rest) = uri.as_bytes().strip_prefix(b"magnet:?") else {
        return Err(MagnetError::UnsupportedProtocol);
    };
    let mut m = Magnet::default();
    let mut display_name = Vec::new();
    let mut tier = 0i32;
    let (mut has_v1, mut has_v2) = (false, false);
    while !rest.is_empty() {
        let (name, after) = match rest.iter().position(|&c| c == b'=') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        let (value, after) = match after.iter().position(|&c| c == b'&') {
            Some(i) => (&after[..i], &after[i + 1..]),
            None => (after, &b""[..]),
        };
        rest = after;
        // a `.<digits>` suffix on the name is ignored
        let name = match name.iter().position(|&c| c == b'.') {
            Some(i) if name[i + 1..].iter().all(|c| c.is_ascii_digit()) => &name[..i],
            _ => name,
        };
        if eq_nocase(name, "dn") {
            display_name = unescape(value).0;
        } else if eq_nocase(name, "tr") {
            let (t, ok) = unescape(value);
            if ok && !t.is_empty() {
                m.trackers.push(t);
                m.tracker_tiers.push(tier);
                tier += 1;
            }
        } else if eq_nocase(name, "ws") {
            let (w, ok) = unescape(value);
            if ok {
                m.url_seeds.push(w);
            }
        } else if eq_nocase(name, "xt") {
            let unescaped;
            let mut v = value;
            if v.contains(&b'%') {
                let (u, ok) = unescape(v);
                if !ok {
                    return Err(MagnetError::InvalidEscape);
                }
                unescaped = u;
                v = &unescaped;
            }
            if let Some(h) = v.strip_prefix(b"urn:btih:") {
                let ih = if h.len() == 40 {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(Sha1Hash::from_hex)
                        .ok_or(MagnetError::InvalidInfoHash)?
                } else if h.len() == 32 {
                    Sha1Hash(base32_20(h).ok_or(MagnetError::InvalidInfoHash)?)
                } else {
                    return Err(MagnetError::InvalidInfoHash);
                };
                m.info_hashes.v1 = ih;
                has_v1 = true;
            } else if let Some(h) = v.strip_prefix(b"urn:btmh:") {
                let Some(h) = h.strip_prefix(b"1220") else {
                    return Err(MagnetError::InvalidInfoHash);
                };
                let ih = std::str::from_utf8(h)
                    .ok()
                    .and_then(Sha256Hash::from_hex)
                    .ok_or(MagnetError::InvalidInfoHash)?;
                m.info_hashes.v2 = ih;
                has_v2 = true;
            }
        } else if eq_nocase(name, "so") {
            if value
                .iter()
                .any(|&c| !c.is_ascii_digit() && c != b'-' && c != b',')
            {
                continue;
            }
            m.default_dont_download = true;
            for token in value.split(|&c| c == b',') {
                if token.is_empty() {
                    continue;
                }
                let (a, b) = match token.iter().position(|&c| c == b'-') {
                    Some(d) => {
                        if d == 0 || d == token.len() - 1 {
                            continue;
                        }
                        (atoi(&token[..d]), atoi(&token[d + 1..]))
                    }
                    None => {
                        let a = atoi(token);
                        (a, a)
                    }
                };
                if !(0..=MAX_SELECT_INDEX).contains(&a)
                    || !(0..=MAX_SELECT_INDEX).contains(&b)
                    || a > b
                {
                    continue;
                }
                let (a, b) = (a as usize, b as usize);
                if m.file_priorities.len() <= b {
                    m.file_priorities.resize(b + 1, 0);
                }
                for p in m.file_priorities.iter_mut().take(b + 1).skip(a) {
                    *p = 4;
                }
            }
        } else if eq_nocase(name, "x.pe") {
            if let Some(ep) = parse_endpoint(value) {
                m.peers.push(ep);
            }
        } else if eq_nocase(name, "dht") {
            if let Some(d) = value.iter().rposition(|&c| c == b':') {
                let port = atoi(&value[d + 1..]);
                if port > 0 && port < 65535 {
                    m.dht_nodes.push((value[..d].to_vec(), port as i32));
                }
            }
        }
    }
    if !has_v1 && !has_v2 {
        return Err(MagnetError::MissingInfoHash);
    }
    if !display_name.is_empty() {
        m.name = display_name;
    }
    Ok(m)
}

/// What a magnet link is written from.
#[derive(Debug, Clone, Default)]
pub struct MagnetSource<'a> {
    pub info_hashes: InfoHash,
    pub name: &'a str,
    pub trackers: Vec<&'a str>,
    pub url_seeds: Vec<&'a str>,
    pub peers: Vec<SocketAddr>,
    pub dht_nodes: Vec<(&'a str, i32)>,
    pub file_priorities: Vec<u8>,
}

/// Writes a magnet link.
pub fn make_magnet_uri(src: &MagnetSource<'_>) -> String {
    let ih = src.info_hashes;
    if !ih.has_v1() && !ih.has_v2() {
        return String::new();
    }
    let mut ret = String::from("magnet:?");
    if ih.has_v1() {
        ret.push_str("xt=urn:btih:");
        ret.push_str(&ih.v1.to_hex());
    }
    if ih.has_v2() {
        if ih.has_v1() {
            ret.push('&');
        }
        ret.push_str("xt=urn:btmh:1220");
        ret.push_str(&ih.v2.to_hex());
    }
    if !src.name.is_empty() {
        ret.push_str("&dn=");
        ret.push_str(&escape(src.name.as_bytes()));
    }
    for t in &src.trackers {
        ret.push_str("&tr=");
        ret.push_str(&escape(t.as_bytes()));
    }
    for w in &src.url_seeds {
        ret.push_str("&ws=");
        ret.push_str(&escape(w.as_bytes()));
    }
    for (h, p) in &src.dht_nodes {
        ret.push_str(&format!("&dht={}:{p}", escape(h.as_bytes())));
    }
    for p in &src.peers {
        ret.push_str(&format!("&x.pe={p}"));
    }
    if src.file_priorities.contains(&0) {
        ret.push_str("&so=");
        let mut first = true;
        let mut i = 0;
        let n = src.file_priorities.len();
        while i < n {
            if src.file_priorities.get(i) == Some(&0) {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < n && src.file_priorities.get(i + 1).is_some_and(|&p| p != 0) {
                i += 1;
            }
            if !first {
                ret.push(',');
            }
            first = false;
            if start == i {
                ret.push_str(&start.to_string());
            } else {
                ret.push_str(&format!("{start}-{i}"));
            }
            i += 1;
        }
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn btih_hex_and_base32() {
        let m = parse_magnet_uri(&format!("magnet:?xt=urn:btih:{H}")).unwrap();
        assert_eq!(m.info_hashes.v1.to_hex(), H);
        let m = parse_magnet_uri("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK").unwrap();
        assert_eq!(m.info_hashes.v1.to_hex(), H);
        assert_eq!(
            parse_magnet_uri("magnet:?xt=urn:btih:abc"),
            Err(MagnetError::InvalidInfoHash)
        );
        assert_eq!(
            parse_magnet_uri("magnet:?dn=x"),
            Err(MagnetError::MissingInfoHash)
        );
        assert_eq!(
            parse_magnet_uri("magnet:"),
            Err(MagnetError::UnsupportedProtocol)
        );
    }

    #[test]
    fn fields() {
        let m = parse_magnet_uri(&format!(
            "magnet:?xt=urn:btih:{H}&dn=a+b%20c&tr=http%3A%2F%2Ft&tr.1=udp://u:1&ws=http://w&x.pe=1.2.3.4:5&x.pe=[::1]:7&so=0,2-3&dht=h:9"
        ))
        .unwrap();
        assert_eq!(m.name, b"a b c");
        assert_eq!(
            m.trackers,
            vec![b"http://t".to_vec(), b"udp://u:1".to_vec()]
        );
        assert_eq!(m.tracker_tiers, vec![0, 1]);
        assert_eq!(m.file_priorities, vec![4, 0, 4, 4]);
        assert!(m.default_dont_download);
        assert_eq!(m.peers.len(), 2);
        assert_eq!(m.dht_nodes, vec![(b"h".to_vec(), 9)]);
    }

    #[test]
    fn write_round_trip() {
        let m = parse_magnet_uri(&format!("magnet:?xt=urn:btih:{H}&dn=x y&so=1-3,5,7")).unwrap();
        let uri = make_magnet_uri(&MagnetSource {
            info_hashes: m.info_hashes,
            name: "x y",
            file_priorities: m.file_priorities.clone(),
            ..Default::default()
        });
        assert_eq!(uri, format!("magnet:?xt=urn:btih:{H}&dn=x%20y&so=1-3,5,7"));
    }
}
