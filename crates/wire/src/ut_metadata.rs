//! BEP 9 metadata assembly, sans-IO: which 16 KiB pieces of the info
//! dictionary to ask which peer for, collecting them, and checking the
//! result against the torrent's info-hashes.
//!
//! The engine feeds it the sizes peers announce, the pieces they send and
//! the ones they reject; it never sees a socket or a clock other than the
//! `Instant`s it is given.

use std::time::{Duration, Instant};

use lt_core::{InfoHash, Sha1Hash, Sha256Hash};

/// Size of one metadata piece.
pub const PIECE_SIZE: usize = crate::extension::METADATA_PIECE_SIZE;

/// How long a request may stay unanswered before another peer is asked.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a peer's metadata was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaError {
    /// The announced size is 0 or above the `max_metadata_size` limit.
    TooLarge,
    /// A piece that does not fit the size we assembled for (wrong index,
    /// wrong length, or a different `total_size`).
    BadPiece,
    /// All pieces arrived but the dictionary does not hash to the
    /// info-hash. Everything collected is discarded.
    HashMismatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Missing,
    /// Asked of `peer` at `at`.
    Requested {
        peer: u64,
        at: Instant,
    },
    Have,
}

/// Outcome of [`MetadataAssembler::on_data`].
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Stored; more pieces are missing.
    Partial,
    /// The whole dictionary, hashing to the info-hash.
    Complete(Vec<u8>),
}

/// Collects one torrent's info dictionary.
#[derive(Debug)]
pub struct MetadataAssembler {
    info_hash: InfoHash,
    max_size: usize,
    size: Option<usize>,
    buf: Vec<u8>,
    slots: Vec<Slot>,
}

impl MetadataAssembler {
    /// An assembler for the torrent with these info-hashes, refusing
    /// dictionaries larger than `max_size` bytes.
    pub fn new(info_hash: InfoHash, max_size: usize) -> Self {
        MetadataAssembler {
            info_hash,
            max_size,
            size: None,
            buf: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// The size being assembled, once known.
    pub fn size(&self) -> Option<usize> {
        self.size
    }

    /// Number of pieces (0 until the size is known).
    pub fn num_pieces(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Pieces received so far.
    pub fn num_have(&self) -> u32 {
        self.slots.iter().filter(|s| **s == Slot::Have).count() as u32
    }

    /// Whether `size` is acceptable (non-zero and within the limit).
    pub fn size_ok(&self, size: u64) -> bool {
        size > 0 && size <= self.max_size as u64
    }

    /// A peer announced the dictionary's size (`metadata_size` of its
    /// extension handshake, or `total_size` of a data message). The first
    /// acceptable size is the one assembled; a data message with another
    /// size replaces it while no piece has been collected, and is answered
    /// with [`MetaError::BadPiece`] afterwards.
    pub fn set_size(&mut self, size: u64) -> Result<(), MetaError> {
        if !self.size_ok(size) {
            return Err(MetaError::TooLarge);
        }
        if self.size.is_none() {
            let size = size as usize;
            self.size = Some(size);
            self.buf = vec![0; size];
            self.slots = vec![Slot::Missing; size.div_ceil(PIECE_SIZE)];
        }
        Ok(())
    }

    fn piece_len(&self, piece: u32) -> Option<usize> {
        let size = self.size?;
        let start = (piece as usize).checked_mul(PIECE_SIZE)?;
        (start < size).then(|| (size - start).min(PIECE_SIZE))
    }

    /// The next piece to ask `peer` for: a missing piece, or one whose
    /// request to another peer timed out. `None` when nothing is left to
    /// ask (or `peer` already has a request outstanding).
    pub fn pick(&mut self, peer: u64, now: Instant) -> Option<u32> {
        if self
            .slots
            .iter()
            .any(|s| matches!(s, Slot::Requested { peer: p, .. } if *p == peer))
        {
            return None;
        }
        let i = self.slots.iter().position(|s| match s {
            Slot::Missing => true,
            Slot::Requested { at, .. } => now.saturating_duration_since(*at) >= REQUEST_TIMEOUT,
            Slot::Have => false,
        })?;
        self.slots[i] = Slot::Requested { peer, at: now };
        Some(i as u32)
    }

    /// The peer will not send `piece` (reject) — it may be asked again.
    pub fn on_reject(&mut self, peer: u64, piece: u32) {
        if let Some(s) = self.slots.get_mut(piece as usize) {
            if matches!(s, Slot::Requested { peer: p, .. } if *p == peer) {
                *s = Slot::Missing;
            }
        }
    }

    /// The peer went away: its outstanding request is free again.
    pub fn on_peer_gone(&mut self, peer: u64) {
        for s in &mut self.slots {
            if matches!(s, Slot::Requested { peer: p, .. } if *p == peer) {
                *s = Slot::Missing;
            }
        }
    }

    /// A piece arrived (requested or not, from `peer`).
    pub fn on_data(
        &mut self,
        peer: u64,
        piece: u32,
        total_size: u64,
        data: &[u8],
    ) -> Result<Progress, MetaError> {
        self.set_size(total_size)?;
        if self.size != Some(total_size as usize) {
            if self.num_have() > 0 {
                self.on_peer_gone(peer);
                return Err(MetaError::BadPiece);
            }
            // Nothing collected yet: the size we took (from the first
            // peer to announce one) may have been a lie; follow the peer
            // that actually sends data.
            self.reset();
            self.set_size(total_size)?;
        }
        let Some(len) = self.piece_len(piece) else {
            self.on_peer_gone(peer);
            return Err(MetaError::BadPiece);
        };
        if data.len() != len {
            self.on_peer_gone(peer);
            return Err(MetaError::BadPiece);
        }
        let start = piece as usize * PIECE_SIZE;
        let (Some(dst), Some(slot)) = (
            self.buf.get_mut(start..start + len),
            self.slots.get_mut(piece as usize),
        ) else {
            return Err(MetaError::BadPiece);
        };
        dst.copy_from_slice(data);
        *slot = Slot::Have;
        if self.slots.iter().any(|s| *s != Slot::Have) {
            return Ok(Progress::Partial);
        }
        if self.hashes_match() {
            let buf = std::mem::take(&mut self.buf);
            self.reset();
            Ok(Progress::Complete(buf))
        } else {
            self.reset();
            Err(MetaError::HashMismatch)
        }
    }

    /// Forgets everything collected, including the size (a peer may have
    /// announced a wrong one).
    pub fn reset(&mut self) {
        self.size = None;
        self.buf = Vec::new();
        self.slots.clear();
    }

    fn hashes_match(&self) -> bool {
        let ih = &self.info_hash;
        let v1_ok = !ih.has_v1() || Sha1Hash::digest(&self.buf) == ih.v1;
        let v2_ok = !ih.has_v2() || Sha256Hash::digest(&self.buf) == ih.v2;
        (ih.has_v1() || ih.has_v2()) && v1_ok && v2_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(buf: &[u8]) -> InfoHash {
        InfoHash::from_v1(Sha1Hash::digest(buf))
    }

    fn dict(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn assembles_three_pieces_from_two_peers() {
        let info = dict(2 * PIECE_SIZE + 100);
        let mut a = MetadataAssembler::new(v1(&info), 1 << 20);
        let now = Instant::now();
        assert_eq!(a.pick(1, now), None, "size unknown: nothing to ask");
        a.set_size(info.len() as u64).unwrap();
        assert_eq!(a.num_pieces(), 3);
        assert_eq!(a.pick(1, now), Some(0));
        assert_eq!(a.pick(1, now), None, "one request per peer");
        assert_eq!(a.pick(2, now), Some(1));
        let p0 = &info[..PIECE_SIZE];
        assert_eq!(
            a.on_data(1, 0, info.len() as u64, p0),
            Ok(Progress::Partial)
        );
        assert_eq!(a.pick(1, now), Some(2));
        let p2 = &info[2 * PIECE_SIZE..];
        assert_eq!(
            a.on_data(1, 2, info.len() as u64, p2),
            Ok(Progress::Partial)
        );
        assert_eq!(a.num_have(), 2);
        let p1 = &info[PIECE_SIZE..2 * PIECE_SIZE];
        assert_eq!(
            a.on_data(2, 1, info.len() as u64, p1),
            Ok(Progress::Complete(info.clone()))
        );
    }

    #[test]
    fn rejected_and_timed_out_pieces_are_asked_again() {
        let info = dict(PIECE_SIZE + 1);
        let mut a = MetadataAssembler::new(v1(&info), 1 << 20);
        a.set_size(info.len() as u64).unwrap();
        let t0 = Instant::now();
        assert_eq!(a.pick(1, t0), Some(0));
        assert_eq!(a.pick(2, t0), Some(1));
        assert_eq!(a.pick(3, t0), None);
        a.on_reject(1, 0);
        assert_eq!(a.pick(3, t0), Some(0));
        a.on_peer_gone(3);
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(a.pick(5, t1), Some(0));
        // peer 2's request (made at t0) times out first: peer 4 gets it
        assert_eq!(a.pick(4, t1), None);
        assert_eq!(a.pick(4, t0 + REQUEST_TIMEOUT), Some(1));
        // a late piece from peer 2 is still accepted
        assert_eq!(a.num_have(), 0);
    }

    #[test]
    fn bad_hash_discards_everything() {
        let info = dict(PIECE_SIZE + 10);
        let mut wrong = info.clone();
        wrong[5] ^= 1;
        let mut a = MetadataAssembler::new(v1(&info), 1 << 20);
        let n = info.len() as u64;
        assert_eq!(
            a.on_data(1, 0, n, &wrong[..PIECE_SIZE]),
            Ok(Progress::Partial)
        );
        assert_eq!(
            a.on_data(1, 1, n, &wrong[PIECE_SIZE..]),
            Err(MetaError::HashMismatch)
        );
        assert_eq!(a.size(), None);
        assert_eq!(a.num_have(), 0);
        // a good copy afterwards completes
        assert_eq!(
            a.on_data(2, 1, n, &info[PIECE_SIZE..]),
            Ok(Progress::Partial)
        );
        assert_eq!(
            a.on_data(2, 0, n, &info[..PIECE_SIZE]),
            Ok(Progress::Complete(info.clone()))
        );
    }

    #[test]
    fn size_limit_and_bad_pieces() {
        let info = dict(3000);
        let mut a = MetadataAssembler::new(v1(&info), 2000);
        assert_eq!(a.set_size(3000), Err(MetaError::TooLarge));
        assert_eq!(a.set_size(0), Err(MetaError::TooLarge));
        assert_eq!(a.on_data(1, 0, 3000, &info), Err(MetaError::TooLarge));
        assert_eq!(a.on_data(1, 0, u64::MAX, &info), Err(MetaError::TooLarge));
        let mut a = MetadataAssembler::new(v1(&info), 1 << 20);
        // a lying size announced first gives way to the size of the first
        // data actually received
        a.set_size(40_000).unwrap();
        assert_eq!(a.num_pieces(), 3);
        a.set_size(3000).unwrap();
        assert_eq!(a.size(), Some(40_000), "the first announced size sticks");
        // a piece out of range (of the new size), a short piece
        assert_eq!(a.on_data(1, 1, 3000, &info[..1]), Err(MetaError::BadPiece));
        assert_eq!(a.size(), Some(3000));
        assert_eq!(
            a.on_data(1, u32::MAX, 3000, &info),
            Err(MetaError::BadPiece)
        );
        assert_eq!(
            a.on_data(1, 0, 3000, &info[..2999]),
            Err(MetaError::BadPiece)
        );
        // once a piece is in, a different size is an error
        let mut a = MetadataAssembler::new(v1(&info), 1 << 20);
        let big = dict(PIECE_SIZE + 5);
        assert_eq!(
            a.on_data(1, 0, big.len() as u64, &big[..PIECE_SIZE]),
            Ok(Progress::Partial)
        );
        assert_eq!(a.on_data(2, 0, 3000, &info), Err(MetaError::BadPiece));
        assert_eq!(a.num_have(), 1);
    }

    #[test]
    fn v2_and_hybrid_hashes_are_checked() {
        let info = dict(500);
        let v2 = InfoHash::new(Sha1Hash::default(), Sha256Hash::digest(&info));
        let mut a = MetadataAssembler::new(v2, 1 << 20);
        assert_eq!(
            a.on_data(1, 0, 500, &info),
            Ok(Progress::Complete(info.clone()))
        );
        // hybrid: both must match
        let mut hybrid = v1(&info);
        hybrid.v2 = Sha256Hash([9; 32]);
        let mut a = MetadataAssembler::new(hybrid, 1 << 20);
        assert_eq!(a.on_data(1, 0, 500, &info), Err(MetaError::HashMismatch));
    }
}
