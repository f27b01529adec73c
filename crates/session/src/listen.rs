//! Parsing of the `listen_interfaces` setting.
//!
//! The setting is a comma-separated list of `address:port` entries, where the
//! address is an IPv4 address, a bracketed IPv6 address or a device name, and
//! the port may carry flags: `s` (SSL) and `l` (local network only), e.g.
//! `0.0.0.0:6881,[::]:6881s`. Entries that do not parse are skipped and
//! reported, as libtorrent does.

use std::net::IpAddr;

/// One entry of `listen_interfaces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenInterface {
    /// An IP address, or a device name (not resolved here).
    pub host: ListenHost,
    pub port: u16,
    pub ssl: bool,
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenHost {
    Ip(IpAddr),
    Device(String),
}

/// Parses the setting. Returns the entries and the text of those that were
/// rejected.
pub fn parse_listen_interfaces(s: &str) -> (Vec<ListenInterface>, Vec<String>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match parse_one(item) {
            Some(li) => out.push(li),
            None => bad.push(item.to_string()),
        }
    }
    (out, bad)
}

fn parse_one(item: &str) -> Option<ListenInterface> {
    let (host, rest) = if let Some(stripped) = item.strip_prefix('[') {
        let end = stripped.find(']')?;
        let addr: IpAddr = stripped[..end].parse().ok()?;
        (ListenHost::Ip(addr), stripped[end + 1..].strip_prefix(':')?)
    } else {
        let colon = item.rfind(':')?;
        let h = &item[..colon];
        if h.is_empty() {
            return None;
        }
        let host = match h.parse::<IpAddr>() {
            Ok(ip) => ListenHost::Ip(ip),
            Err(_)
                if h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                ListenHost::Device(h.to_string())
            }
            Err(_) => return None,
        };
        (host, &item[colon + 1..])
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return None;
    }
    let port: u16 = rest[..digits_end].parse().ok()?;
    let mut ssl = false;
    let mut local = false;
    for c in rest[digits_end..].chars() {
        match c {
            's' => ssl = true,
            'l' => local = true,
            _ => return None,
        }
    }
    Some(ListenInterface {
        host,
        port,
        ssl,
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let (v, bad) = parse_listen_interfaces("0.0.0.0:6881, [::1]:0s,eth0:7000l,lo:1sl");
        assert!(bad.is_empty());
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].host, ListenHost::Ip("0.0.0.0".parse().unwrap()));
        assert_eq!(v[0].port, 6881);
        assert_eq!(v[1].host, ListenHost::Ip("::1".parse().unwrap()));
        assert!(v[1].ssl && !v[1].local);
        assert_eq!(v[2].host, ListenHost::Device("eth0".into()));
        assert!(v[2].local);
        assert!(v[3].ssl && v[3].local);
    }

    #[test]
    fn rejects_malformed_entries() {
        let (v, bad) =
            parse_listen_interfaces("127.0.0.1,[::1:5,:80,1.2.3.4:99999,1.2.3.4:1x,a b:1");
        assert!(v.is_empty());
        assert_eq!(bad.len(), 6);
    }
}
