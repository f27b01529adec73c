//! A fixed-size bitfield of pieces, stored as on the wire (MSB first).

use crate::Error;

/// A set of piece indexes `0..len`, stored big-endian bit order exactly as
/// the BEP 3 `bitfield` message carries it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    count: u32,
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.count, self.len)
    }
}

/// Number of bytes a bitfield of `len` pieces takes on the wire.
pub fn bitfield_bytes(len: u32) -> usize {
    (len as usize).div_ceil(8)
}

impl Bitfield {
    /// An empty bitfield (no piece set) of `len` pieces.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; bitfield_bytes(len)],
            len,
            count: 0,
        }
    }

    /// A bitfield with every one of `len` pieces set.
    pub fn full(len: u32) -> Self {
        let mut b = Bitfield {
            bytes: vec![0xff; bitfield_bytes(len)],
            len,
            count: len,
        };
        b.clear_spare();
        b
    }

    /// Parses a wire bitfield for `len` pieces: the byte length must be
    /// exactly `ceil(len / 8)` and the spare bits at the end must be zero.
    pub fn from_wire(data: &[u8], len: u32) -> Result<Self, Error> {
        if data.len() != bitfield_bytes(len) {
            return Err(Error::BadBitfield);
        }
        let spare = (data.len() * 8) as u64 - len as u64;
        if spare > 0 {
            let mask = (1u16 << spare) as u8 - 1;
            if data.last().is_some_and(|b| b & mask != 0) {
                return Err(Error::BadBitfield);
            }
        }
        let count = data.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: data.to_vec(),
            len,
            count,
        })
    }

    fn clear_spare(&mut self) {
        let spare = (self.bytes.len() * 8) as u64 - self.len as u64;
        if spare > 0 {
            if let Some(last) = self.bytes.last_mut() {
                *last &= !((1u16 << spare) as u8 - 1);
            }
        }
    }

    /// Number of pieces the bitfield covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of pieces set.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True when every piece is set (and there is at least one piece).
    pub fn all(&self) -> bool {
        self.len > 0 && self.count == self.len
    }

    /// Whether piece `i` is set; `false` when out of range.
    pub fn get(&self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        self.bytes
            .get((i / 8) as usize)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// Sets piece `i`; returns false (and does nothing) when out of range.
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        if let Some(b) = self.bytes.get_mut((i / 8) as usize) {
            let m = 0x80 >> (i % 8);
            if *b & m == 0 {
                *b |= m;
                self.count += 1;
            }
        }
        true
    }

    /// Clears piece `i`; returns false (and does nothing) when out of range.
    pub fn clear(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        if let Some(b) = self.bytes.get_mut((i / 8) as usize) {
            let m = 0x80 >> (i % 8);
            if *b & m != 0 {
                *b &= !m;
                self.count -= 1;
            }
        }
        true
    }

    /// Sets every piece.
    pub fn set_all(&mut self) {
        *self = Bitfield::full(self.len);
    }

    /// Clears every piece.
    pub fn clear_all(&mut self) {
        *self = Bitfield::new(self.len);
    }

    /// The wire representation.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Iterates over the indexes that are set.
    pub fn iter_set(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_count() {
        let mut b = Bitfield::new(10);
        assert_eq!(b.as_bytes().len(), 2);
        assert!(b.set(0) && b.set(9) && b.set(9));
        assert!(!b.set(10));
        assert_eq!(b.count(), 2);
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert!(b.get(9) && !b.get(8) && !b.get(100));
        assert!(b.clear(9));
        assert_eq!(b.count(), 1);
        assert_eq!(b.iter_set().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn full_clears_spare_bits() {
        let b = Bitfield::full(10);
        assert_eq!(b.as_bytes(), &[0xff, 0xc0]);
        assert!(b.all());
        assert_eq!(Bitfield::full(16).as_bytes(), &[0xff, 0xff]);
    }

    #[test]
    fn from_wire_validates() {
        assert!(Bitfield::from_wire(&[0xff, 0xc0], 10).is_ok());
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0xe0], 10),
            Err(Error::BadBitfield)
        );
        assert_eq!(Bitfield::from_wire(&[0xff], 10), Err(Error::BadBitfield));
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0, 0], 10),
            Err(Error::BadBitfield)
        );
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0xc0], 10).map(|b| b.count()),
            Ok(10)
        );
        assert!(Bitfield::from_wire(&[], 0).is_ok());
    }
}
