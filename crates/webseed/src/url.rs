//! Web seed URLs: splitting, escaping and redirect resolution.

use std::fmt;

/// A web seed URL that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    UnsupportedScheme,
    /// No host, a bad port or characters not allowed in a request line.
    Malformed,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::UnsupportedScheme => "unsupported URL protocol",
            UrlError::Malformed => "invalid URL",
        })
    }
}

impl std::error::Error for UrlError {}

/// The parts of an `http(s)://[user:pass@]host[:port][/path]` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `true` for `https`.
    pub tls: bool,
    /// `user:pass` (not decoded), empty when absent.
    pub userinfo: String,
    /// The host as written (IPv6 addresses keep their brackets).
    pub host: String,
    pub port: u16,
    /// Whether the port was written explicitly.
    pub explicit_port: bool,
    /// Path and query, as written (may be empty).
    pub path: String,
}

impl Url {
    /// Splits a URL (libtorrent's `parse_url_components` rules).
    pub fn parse(url: &str) -> Result<Url, UrlError> {
        let (tls, rest) = if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        if url.bytes().any(|c| c <= b' ' || c == 0x7f) {
            return Err(UrlError::Malformed);
        }
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(auth_end);
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (
                authority.get(..i).unwrap_or(""),
                authority.get(i + 1..).unwrap_or(""),
            ),
            None => ("", authority),
        };
        let (host, port) = if hostport.starts_with('[') {
            let close = hostport.find(']').ok_or(UrlError::Malformed)?;
            let host = hostport.get(..=close).unwrap_or("");
            match hostport.get(close + 1..).unwrap_or("") {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or(UrlError::Malformed)?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(UrlError::Malformed);
        }
        let (port, explicit_port) = match port {
            Some(p) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(UrlError::Malformed);
                }
                let n: u32 = p.parse().map_err(|_| UrlError::Malformed)?;
                (u16::try_from(n).map_err(|_| UrlError::Malformed)?, true)
            }
            None => (if tls { 443 } else { 80 }, false),
        };
        if port == 0 {
            return Err(UrlError::Malformed);
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Url {
            tls,
            userinfo: userinfo.to_string(),
            host: host.to_string(),
            port,
            explicit_port,
            path,
        })
    }

    /// `scheme://host[:port]` (no user info, no path).
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.explicit_port {
            format!("{scheme}://{}:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}", self.host)
        }
    }

    /// The value of the `Host` header.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host to connect to (IPv6 brackets removed).
    pub fn connect_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    match s.get(..p.len()) {
        Some(h) if h.eq_ignore_ascii_case(p) => s.get(p.len()..),
        _ => None,
    }
}

/// Percent-encodes bytes: ASCII letters, digits, `-_!.~*()` (and `/` when
/// `keep_slash`) pass, everything else becomes `%xx` (lower-case hex).
pub fn escape_bytes(s: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-_!.~*()".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Percent-encodes everything but ASCII letters, digits and `-_!.~*()`
/// (libtorrent's `escape_string`; UTF-8 bytes become `%xx`).
pub fn escape_string(s: &str) -> String {
    escape_bytes(s.as_bytes(), false)
}

/// Like [`escape_string`] but keeps `/` (libtorrent's `escape_path`).
pub fn escape_path(s: &str) -> String {
    escape_bytes(s.as_bytes(), true)
}

/// Resolves a `Location` header against the URL of the request that got
/// the redirect: absolute URLs are kept, `//host/..` takes the scheme,
/// `/path` the origin, anything else replaces the last path segment.
pub fn resolve_location(base: &str, location: &str) -> Result<String, UrlError> {
    if location.bytes().any(|c| c < b' ' || c == 0x7f) || location.is_empty() {
        return Err(UrlError::Malformed);
    }
    if strip_prefix_ci(location, "http://").is_some()
        || strip_prefix_ci(location, "https://").is_some()
    {
        Url::parse(location)?;
        return Ok(location.to_string());
    }
    let b = Url::parse(base)?;
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = if b.tls { "https" } else { "http" };
        let abs = format!("{scheme}://{rest}");
        Url::parse(&abs)?;
        return Ok(abs);
    }
    if location.starts_with('/') {
        return Ok(format!("{}{}", b.origin(), location));
    }
    let path = b.path.split('?').next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => path.get(..=i).unwrap_or("/"),
        None => "/",
    };
    Ok(format!("{}{}{}", b.origin(), dir, location))
}

/// Splits an absolute URL into its origin (`scheme://host[:port]`) and
/// its path (starting with `/`), as libtorrent does for a per-file
/// redirect of a multi-file web seed.
pub fn split_url(url: &str) -> Result<(String, String), UrlError> {
    let u = Url::parse(url)?;
    let path = if u.path.is_empty() {
        "/".to_string()
    } else {
        u.path.clone()
    };
    Ok((u.origin(), path))
}

pub use lt_core::base64::encode as base64;
