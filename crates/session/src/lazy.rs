//! [`LazyBox`]: a collection that costs one pointer until first written.
//!
//! Most torrents in a large session are idle: no peers, no candidates, no
//! pieces being hashed. Their per-peer sets and maps stay empty, yet an
//! empty `HashSet` is 48 bytes inline and a `VecDeque` 32, which adds up to
//! hundreds of bytes per torrent. A `LazyBox<T>` is a single (nullable)
//! pointer: reading an absent collection sees a shared empty one, and the
//! first mutable access allocates it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::sync::LazyLock;
use std::time::Instant;

use crate::peer_io::ConnId;

/// A shared, never-mutated empty value of `Self`, for reading an absent
/// [`LazyBox`].
pub(crate) trait EmptyValue: Default + 'static {
    fn empty() -> &'static Self;
}

/// Implements [`EmptyValue`] for concrete types (a `static` cannot be
/// generic, so each type gets its own).
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
    HashSet<ConnId>,
    HashSet<SocketAddr>,
    HashSet<IpAddr>,
    HashSet<u32>,
    VecDeque<SocketAddr>,
    Vec<(Instant, SocketAddr)>,
    HashMap<SocketAddr, u32>,
    HashMap<u32, HashSet<ConnId>>,
);

/// A `T` allocated on the first mutable access. Dereferences to `T` (an
/// empty one while absent), so it is used like the collection itself.
#[derive(Default)]
pub(crate) struct LazyBox<T>(Option<Box<T>>);

impl<T: EmptyValue> LazyBox<T> {
    /// Drops the allocation (the value reads as empty again).
    #[allow(dead_code)]
    pub fn reset(&mut self) {
        self.0 = None;
    }

    /// The value for writing if it is allocated, without allocating it
    /// (for mutations that do nothing to an empty collection).
    pub fn if_allocated(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }

    /// Whether the value has been allocated.
    #[cfg(test)]
    pub fn is_allocated(&self) -> bool {
        self.0.is_some()
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

impl<'a, T: EmptyValue> IntoIterator for &'a LazyBox<T>
where
    &'a T: IntoIterator,
{
    type Item = <&'a T as IntoIterator>::Item;
    type IntoIter = <&'a T as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

impl<A, T: EmptyValue + FromIterator<A>> FromIterator<A> for LazyBox<T> {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        let mut it = iter.into_iter().peekable();
        if it.peek().is_none() {
            return LazyBox(None);
        }
        LazyBox(Some(Box::new(it.collect())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_empty_until_written() {
        let mut s: LazyBox<HashSet<u32>> = LazyBox::default();
        assert!(s.is_empty());
        assert!(!s.contains(&3));
        assert_eq!((&s).into_iter().count(), 0);
        assert!(!s.is_allocated());
        assert!(s.insert(3));
        assert!(s.is_allocated());
        assert!(s.contains(&3));
        assert_eq!(s.len(), 1);
        s.reset();
        assert!(!s.is_allocated());
        assert!(s.is_empty());
        // the shared empty value was never written
        assert!(<HashSet<u32> as EmptyValue>::empty().is_empty());
    }

    #[test]
    fn is_one_pointer() {
        assert_eq!(
            std::mem::size_of::<LazyBox<HashMap<u32, HashSet<ConnId>>>>(),
            std::mem::size_of::<usize>()
        );
    }
}
