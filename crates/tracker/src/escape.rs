//! URL escaping and the small URL parser used by both transports.

/// Percent-encodes `bytes` the way libtorrent's `escape_string` does:
/// ASCII letters, digits and `-_!.~*()` pass through, every other byte
/// becomes `%xx` with lower-case hex digits.
pub fn escape(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_!.~*()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Whether a host name has an IDNA label (one starting with `xn--`, any case).
pub fn is_idna(host: &str) -> bool {
    host.split('.')
        .any(|l| l.len() >= 4 && l[..2].eq_ignore_ascii_case("xn") && &l[2..4] == "--")
}

/// Whether a query string (after `?`) already names a tracker parameter
/// (`info_hash`, `event`, `port`, `left`, `key`, `uploaded`, `downloaded`,
/// `corrupt`, `peer_id`; any case), which `ssrf_mitigation` rejects.
pub fn has_tracker_query_string(query: &str) -> bool {
    const ARGS: [&str; 9] = [
        "info_hash",
        "event",
        "port",
        "left",
        "key",
        "uploaded",
        "downloaded",
        "corrupt",
        "peer_id",
    ];
    query.split('&').any(|arg| {
        let name = arg.split('=').next().unwrap_or("");
        ARGS.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The parts of a tracker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// Lower-cased scheme: `http`, `https` or `udp`.
    pub scheme: String,
    /// `user:password` before an `@`, if any.
    pub auth: Option<String>,
    /// Host name or IP literal (IPv6 without the brackets).
    pub host: String,
    /// Explicit port, if the URL had one.
    pub port: Option<u16>,
    /// Everything after the authority (path and query), possibly empty.
    pub path: String,
}

impl ParsedUrl {
    /// The explicit port, else the scheme's default (80 for http, 443 for
    /// https). UDP URLs have no default port.
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        })
    }

    /// The host as written in a `Host:` header or URL authority (IPv6
    /// literals in brackets).
    pub fn host_for_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// Errors from [`parse_url`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// No `scheme://`.
    MissingScheme,
    /// Empty host, unterminated `[`, or characters not allowed in a host.
    InvalidHost,
    /// A port that is not a number in 1..=65535.
    InvalidPort,
    /// Control characters or spaces in the URL.
    InvalidCharacter,
}

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UrlError::MissingScheme => "missing URL scheme",
            UrlError::InvalidHost => "invalid host in URL",
            UrlError::InvalidPort => "invalid port in URL",
            UrlError::InvalidCharacter => "invalid character in URL",
        })
    }
}

impl std::error::Error for UrlError {}

/// Splits `scheme://[auth@]host[:port][/path?query]`.
pub fn parse_url(url: &str) -> Result<ParsedUrl, UrlError> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(UrlError::InvalidCharacter);
    }
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return Err(UrlError::MissingScheme);
    }
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(auth_end);
    let (auth, hostport) = match authority.rfind('@') {
        Some(i) => (Some(authority[..i].to_string()), &authority[i + 1..]),
        None => (None, authority),
    };
    let (host, port_str) = if let Some(stripped) = hostport.strip_prefix('[') {
        let close = stripped.find(']').ok_or(UrlError::InvalidHost)?;
        let host = &stripped[..close];
        let after = &stripped[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UrlError::InvalidHost),
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UrlError::InvalidHost);
        }
        (host, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || host.contains(['[', ']', '@'])
        || (!hostport.starts_with('[') && host.contains(':'))
    {
        return Err(UrlError::InvalidHost);
    }
    let port = match port_str {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UrlError::InvalidPort);
            }
            let v: u32 = p.parse().map_err(|_| UrlError::InvalidPort)?;
            if v == 0 || v > 65535 {
                return Err(UrlError::InvalidPort);
            }
            Some(v as u16)
        }
    };
    Ok(ParsedUrl {
        scheme: scheme.to_ascii_lowercase(),
        auth,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(escape(b"aZ09-_!.~*()"), "aZ09-_!.~*()");
        assert_eq!(escape(b" '/?&=%+"), "%20%27%2f%3f%26%3d%25%2b");
        assert_eq!(escape(&[0, 0xff, 0x80]), "%00%ff%80");
        assert_eq!(escape(b""), "");
    }

    #[test]
    fn escape_info_hash() {
        let ih: Vec<u8> = (0u8..20).map(|i| i * 13).collect();
        assert_eq!(
            escape(&ih),
            "%00%0d%1a%274AN%5bhu%82%8f%9c%a9%b6%c3%d0%dd%ea%f7"
        );
    }

    #[test]
    fn idna_and_tracker_query() {
        assert!(is_idna("xn--9ca.example"));
        assert!(is_idna("a.XN--abc"));
        assert!(!is_idna("xn-a.example"));
        assert!(!is_idna("example.xn"));
        assert!(has_tracker_query_string("a=1&Port=2"));
        assert!(has_tracker_query_string("info_hash"));
        assert!(!has_tracker_query_string("passkey=x&ports=1"));
        assert!(!has_tracker_query_string(""));
    }

    #[test]
    fn parse_urls() {
        let u = parse_url("http://tracker.example:8080/announce?x=1").unwrap();
        assert_eq!(u.scheme, "http");
        assert_eq!(u.host, "tracker.example");
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path, "/announce?x=1");
        let u = parse_url("udp://[::1]:6969/ann").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.host_for_header(), "[::1]");
        assert_eq!(u.port, Some(6969));
        let u = parse_url("HTTPS://user:pw@h").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.auth.as_deref(), Some("user:pw"));
        assert_eq!(u.port_or_default(), Some(443));
        assert_eq!(u.path, "");
        assert_eq!(parse_url("udp://h").unwrap().port_or_default(), None);
    }

    #[test]
    fn parse_url_rejects_garbage() {
        assert_eq!(parse_url("tracker/announce"), Err(UrlError::MissingScheme));
        assert_eq!(parse_url("http:///announce"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("http://h:0/"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("http://h:65536/"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("http://h:x/"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("http://[::1/"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("http://[zz]/"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("http://a b/"), Err(UrlError::InvalidCharacter));
        assert_eq!(
            parse_url("http://h\r\nX: y/"),
            Err(UrlError::InvalidCharacter)
        );
    }
}
