//! A collection that costs one pointer until first written (the picker's
//! rarely used maps: end-game duplicates, pad blocks, deadlines). Most
//! torrents of a large session never use them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::LazyLock;

use crate::piece_picker::{BlockRef, PeerKey};

/// A shared, never-mutated empty value, read through an absent [`LazyBox`].
pub(crate) trait EmptyValue: Default + 'static {
    fn empty() -> &'static Self;
}

macro_rules! empty_value {
    ($($t:ty),* $(,)?) => {$(
        impl EmptyValue for $t {
            fn empty() -> &'static Self {
                static EMPTY: LazyLock<$t> = LazyLock::new(<$t>::default);
                &EMPTY
            }
        }
    )*};
}

empty_value!(
    HashMap<BlockRef, Vec<PeerKey>>,
    BTreeMap<u32, Vec<u32>>,
    BTreeSet<(u64, u32)>,
    HashMap<u32, u64>,
    HashMap<crate::bandwidth::ConnId, crate::bandwidth::Usage>,
);

/// A `T` allocated on the first mutable access; reads see an empty `T`
/// until then.
#[derive(Default, Clone, Debug)]
pub(crate) struct LazyBox<T>(Option<Box<T>>);

impl<T: EmptyValue> LazyBox<T> {
    /// Drops the value (it reads as empty again).
    pub fn reset(&mut self) {
        self.0 = None;
    }

    /// The value for writing if it is allocated, without allocating it.
    pub fn if_allocated(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }
}

impl<T: EmptyValue> Deref for LazyBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(b) => b,
            None => T::empty(),
        }
    }
}

impl<T: EmptyValue> DerefMut for LazyBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_on_first_write_only() {
        let mut m: LazyBox<HashMap<u32, u64>> = LazyBox::default();
        assert!(m.get(&1).is_none());
        assert!(m.if_allocated().is_none());
        m.insert(1, 2);
        assert_eq!(m.get(&1), Some(&2));
        assert!(m.if_allocated().is_some());
        m.reset();
        assert!(m.is_empty());
        assert!(<HashMap<u32, u64> as EmptyValue>::empty().is_empty());
        assert_eq!(std::mem::size_of_val(&m), std::mem::size_of::<usize>());
    }
}
