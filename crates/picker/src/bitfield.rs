//! A fixed-size set of piece indices, stored as bits.

/// A fixed-length bit set indexed by piece number.
///
/// The wire form ([`Bitfield::from_bytes`], [`Bitfield::to_bytes`]) is the
/// BitTorrent one: bit 0 is the most significant bit of the first byte.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bitfield {
    words: Vec<u64>,
    len: usize,
    count: usize,
}

impl Bitfield {
    /// An empty set able to hold `len` indices.
    pub fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            len,
            count: 0,
        }
    }

    /// A set with all `len` indices present.
    pub fn full(len: usize) -> Self {
        let mut b = Self::new(len);
        for w in &mut b.words {
            *w = u64::MAX;
        }
        b.clear_tail();
        b.count = len;
        b
    }

    /// Parses the wire form for `len` pieces. Returns `None` when `bytes` is
    /// not exactly `ceil(len / 8)` long or when a spare trailing bit is set.
    pub fn from_bytes(bytes: &[u8], len: usize) -> Option<Self> {
        if bytes.len() != len.div_ceil(8) {
            return None;
        }
        let mut b = Self::new(len);
        for (i, &byte) in bytes.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let idx = i * 8 + bit;
                    if idx >= len {
                        return None;
                    }
                    b.set(idx);
                }
            }
        }
        Some(b)
    }

    /// The wire form: `ceil(len / 8)` bytes, most significant bit first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len.div_ceil(8)];
        for i in self.iter_ones() {
            out[i / 8] |= 0x80 >> (i % 8);
        }
        out
    }

    fn clear_tail(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of indices this set can hold.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set can hold no index at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of indices present.
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when every index is present.
    pub fn all(&self) -> bool {
        self.count == self.len
    }

    /// True when no index is present.
    pub fn none(&self) -> bool {
        self.count == 0
    }

    /// Whether `i` is present; out-of-range indices are never present.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        match self.words.get(i / 64) {
            Some(w) if i < self.len => (w >> (i % 64)) & 1 != 0,
            _ => false,
        }
    }

    /// Adds `i`; returns true when it was not present before. Out-of-range
    /// indices are ignored (returns false).
    pub fn set(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(w) = self.words.get_mut(i / 64) else {
            return false;
        };
        let m = 1u64 << (i % 64);
        if *w & m != 0 {
            return false;
        }
        *w |= m;
        self.count += 1;
        true
    }

    /// Removes `i`; returns true when it was present before.
    pub fn clear(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(w) = self.words.get_mut(i / 64) else {
            return false;
        };
        let m = 1u64 << (i % 64);
        if *w & m == 0 {
            return false;
        }
        *w &= !m;
        self.count -= 1;
        true
    }

    /// Iterates over present indices in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let tz = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + tz)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_count() {
        let mut b = Bitfield::new(70);
        assert!(b.none());
        assert!(b.set(0));
        assert!(!b.set(0));
        assert!(b.set(69));
        assert!(!b.set(70));
        assert_eq!(b.count(), 2);
        assert!(b.get(69) && !b.get(68) && !b.get(1000));
        assert!(b.clear(0));
        assert!(!b.clear(0));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![69]);
        let f = Bitfield::full(70);
        assert!(f.all());
        assert_eq!(f.iter_ones().count(), 70);
    }

    #[test]
    fn wire_roundtrip_and_strictness() {
        let mut b = Bitfield::new(10);
        b.set(0);
        b.set(9);
        let bytes = b.to_bytes();
        assert_eq!(bytes, vec![0x80, 0x40]);
        assert_eq!(Bitfield::from_bytes(&bytes, 10), Some(b));
        assert_eq!(Bitfield::from_bytes(&[0x80], 10), None);
        assert_eq!(Bitfield::from_bytes(&[0x80, 0x20], 10), None);
    }
}
