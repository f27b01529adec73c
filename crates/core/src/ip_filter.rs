//! IP filter: maps every IPv4 and IPv6 address to a 32-bit access value
//! (bit 0 set = blocked), stored as sorted, non-overlapping ranges.
//!
//! The range update follows libtorrent's rules exactly, including what it
//! does with a rule whose first address is above its last.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Access value meaning "blocked".
pub const BLOCKED: u32 = 1;

trait Addr: Copy + Ord {
    const MIN: Self;
    const MAX: Self;
    fn plus_one(self) -> Self;
    fn minus_one(self) -> Self;
}

impl Addr for u32 {
    const MIN: Self = 0;
    const MAX: Self = u32::MAX;
    fn plus_one(self) -> Self {
        self.wrapping_add(1)
    }
    fn minus_one(self) -> Self {
        self.wrapping_sub(1)
    }
}

impl Addr for u128 {
    const MIN: Self = 0;
    const MAX: Self = u128::MAX;
    fn plus_one(self) -> Self {
        self.wrapping_add(1)
    }
    fn minus_one(self) -> Self {
        self.wrapping_sub(1)
    }
}

/// Ranges of one address family: (start, access), sorted by start; the
/// first range always starts at the lowest address.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ranges<A: Addr> {
    list: Vec<(A, u32)>,
}

impl<A: Addr> Ranges<A> {
    fn new() -> Self {
        Self {
            list: vec![(A::MIN, 0)],
        }
    }

    /// Index of the first range starting after `a`.
    fn upper_bound(&self, a: A) -> usize {
        self.list.partition_point(|r| r.0 <= a)
    }

    /// Inserts a range start unless one already starts there; returns its
    /// index and whether it was inserted.
    fn insert(&mut self, start: A, access: u32) -> (usize, bool) {
        match self.list.binary_search_by(|r| r.0.cmp(&start)) {
            Ok(i) => (i, false),
            Err(i) => {
                self.list.insert(i, (start, access));
                (i, true)
            }
        }
    }

    fn add_rule(&mut self, first: A, last: A, flags: u32) {
        let mut i = self.upper_bound(first);
        let mut j = self.upper_bound(last);
        i = i.saturating_sub(1);
        // the list is never empty and starts at MIN <= last, so j >= 1
        let Some(&(i_start, i_access)) = self.list.get(i) else {
            return;
        };
        let mut first_access = i_access;
        let last_access = match j.checked_sub(1).and_then(|k| self.list.get(k)) {
            Some(r) => r.1,
            None => return,
        };
        if i_start != first && first_access != flags {
            let (idx, inserted) = self.insert(first, flags);
            if inserted && idx <= j {
                j += 1;
            }
            i = idx;
        } else if i > 0 && self.list[i - 1].1 == flags {
            i -= 1;
            first_access = self.list[i].1;
        }
        if i + 1 < j {
            self.list.drain(i + 1..j);
            j = i + 1;
        }
        if self.list[i].0 == first {
            self.list[i].1 = flags;
        } else if first_access != flags {
            let (idx, inserted) = self.insert(first, flags);
            if inserted && idx <= j {
                j += 1;
            }
        }
        let split_needed = match self.list.get(j) {
            Some(r) => r.0.minus_one() != last,
            None => last != A::MAX,
        };
        if split_needed && last_access != flags {
            let (idx, _) = self.insert(last.plus_one(), last_access);
            j = idx;
        }
        if self.list.get(j).is_some_and(|r| r.1 == flags) {
            self.list.remove(j);
        }
    }

    fn access(&self, a: A) -> u32 {
        let i = self.upper_bound(a).saturating_sub(1);
        self.list.get(i).map_or(0, |r| r.1)
    }

    /// (first, last, access) of every range.
    fn export(&self) -> Vec<(A, A, u32)> {
        let mut out = Vec::with_capacity(self.list.len());
        for (k, &(start, access)) in self.list.iter().enumerate() {
            let last = match self.list.get(k + 1) {
                Some(next) => next.0.minus_one(),
                None => A::MAX,
            };
            out.push((start, last, access));
        }
        out
    }
}

/// Why a rule cannot be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFilterError {
    /// The two ends of the range are of different address families.
    MixedFamilies,
}

impl std::fmt::Display for IpFilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad address cast")
    }
}

impl std::error::Error for IpFilterError {}

/// An IP filter over both address families.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpFilter {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl Default for IpFilter {
    fn default() -> Self {
        Self::new()
    }
}

/// The ranges of a filter: (first, last, access) per family.
pub type ExportedFilter = (
    Vec<(Ipv4Addr, Ipv4Addr, u32)>,
    Vec<(Ipv6Addr, Ipv6Addr, u32)>,
);

impl IpFilter {
    /// A filter that allows everything (access 0).
    pub fn new() -> Self {
        Self {
            v4: Ranges::new(),
            v6: Ranges::new(),
        }
    }

    /// Sets the access of every address from `first` to `last` to `flags`.
    pub fn add_rule(
        &mut self,
        first: IpAddr,
        last: IpAddr,
        flags: u32,
    ) -> Result<(), IpFilterError> {
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => self.v4.add_rule(u32::from(a), u32::from(b), flags),
            (IpAddr::V6(a), IpAddr::V6(b)) => self.v6.add_rule(u128::from(a), u128::from(b), flags),
            _ => return Err(IpFilterError::MixedFamilies),
        }
        Ok(())
    }

    /// The access value of `addr`.
    pub fn access(&self, addr: IpAddr) -> u32 {
        match addr {
            IpAddr::V4(a) => self.v4.access(u32::from(a)),
            IpAddr::V6(a) => self.v6.access(u128::from(a)),
        }
    }

    /// Every range with its access value, IPv4 then IPv6.
    pub fn export_filter(&self) -> ExportedFilter {
        (
            self.v4
                .export()
                .into_iter()
                .map(|(a, b, f)| (Ipv4Addr::from(a), Ipv4Addr::from(b), f))
                .collect(),
            self.v6
                .export()
                .into_iter()
                .map(|(a, b, f)| (Ipv6Addr::from(a), Ipv6Addr::from(b), f))
                .collect(),
        )
    }
}

/// Formats an IPv6 address the way C's `inet_ntop` does (which differs from
/// Rust's `Display` for IPv4-compatible addresses such as `::0.1.0.0`).
pub fn format_ipv6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    // longest run of zero words (first one wins), only if at least 2 long
    let (mut best_base, mut best_len) = (usize::MAX, 0);
    let mut k = 0;
    while k < 8 {
        if w[k] == 0 {
            let start = k;
            while k < 8 && w[k] == 0 {
                k += 1;
            }
            if k - start > best_len {
                best_base = start;
                best_len = k - start;
            }
        } else {
            k += 1;
        }
    }
    if best_len < 2 {
        best_base = usize::MAX;
        best_len = 0;
    }
    let in_best = |k: usize| best_base != usize::MAX && k >= best_base && k < best_base + best_len;
    let mut out = String::new();
    for k in 0..8 {
        if in_best(k) {
            if k == best_base {
                out.push(':');
            }
            continue;
        }
        if k != 0 {
            out.push(':');
        }
        if k == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{:x}", w[k]));
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(':');
    }
    out
}

/// Loopback, private (RFC 1918 / ULA), link-local or unspecified: the
/// addresses libtorrent treats as "local" (no rate limits by default, not
/// counted as incoming connectivity, not routed in the DHT).
pub fn is_local(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (s & 0xfe00) == 0xfc00
                || (s & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ranges(f: &IpFilter) -> Vec<(String, String, u32)> {
        f.export_filter()
            .0
            .into_iter()
            .map(|(a, b, x)| (a.to_string(), b.to_string(), x))
            .collect()
    }

    fn r(a: &str, b: &str, x: u32) -> (String, String, u32) {
        (a.into(), b.into(), x)
    }

    #[test]
    fn nested_rules() {
        let mut f = IpFilter::new();
        f.add_rule(v4("10.0.0.0"), v4("10.255.255.255"), 1).unwrap();
        f.add_rule(v4("10.1.0.0"), v4("10.1.0.255"), 0).unwrap();
        assert_eq!(
            ranges(&f),
            [
                r("0.0.0.0", "9.255.255.255", 0),
                r("10.0.0.0", "10.0.255.255", 1),
                r("10.1.0.0", "10.1.0.255", 0),
                r("10.1.1.0", "10.255.255.255", 1),
                r("11.0.0.0", "255.255.255.255", 0),
            ]
        );
        assert_eq!(f.access(v4("10.1.0.5")), 0);
        assert_eq!(f.access(v4("10.2.0.0")), 1);
        // covering everything again merges back to one range
        f.add_rule(v4("0.0.0.0"), v4("255.255.255.255"), 0).unwrap();
        assert_eq!(ranges(&f), [r("0.0.0.0", "255.255.255.255", 0)]);
    }

    #[test]
    fn reversed_rule_like_libtorrent() {
        let mut f = IpFilter::new();
        f.add_rule(v4("5.0.0.0"), v4("6.0.0.0"), 1).unwrap();
        f.add_rule(v4("5.5.0.0"), v4("5.4.0.0"), 2).unwrap();
        assert_eq!(
            ranges(&f),
            [
                r("0.0.0.0", "4.255.255.255", 0),
                r("5.0.0.0", "5.4.0.0", 1),
                r("5.4.0.1", "5.4.255.255", 1),
                r("5.5.0.0", "6.0.0.0", 2),
                r("6.0.0.1", "255.255.255.255", 0),
            ]
        );
    }

    #[test]
    fn families_are_separate() {
        let mut f = IpFilter::new();
        f.add_rule(v4("1.2.3.4"), v4("1.2.3.4"), 1).unwrap();
        assert_eq!(f.access(v4("::ffff:1.2.3.4")), 0);
        assert_eq!(
            f.add_rule(v4("1.2.3.4"), v4("::1"), 1),
            Err(IpFilterError::MixedFamilies)
        );
    }

    #[test]
    fn ipv6_formatting_like_inet_ntop() {
        for (s, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("::2", "::2"),
            ("::0.1.0.0", "::0.1.0.0"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("fe80::1", "fe80::1"),
            ("1::", "1::"),
        ] {
            let a: Ipv6Addr = s.parse().unwrap();
            assert_eq!(format_ipv6(&a), want);
        }
    }
}
