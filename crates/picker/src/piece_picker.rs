//! Block-level piece picker: which blocks to request from which peer.
//!
//! The [`PiecePicker`] tracks, for one torrent:
//!
//! * how many connected peers have each piece (availability), fed from the
//!   peers' bitfield / have / have-all messages and their disconnects;
//! * which pieces we have, and the state of every block of the pieces being
//!   downloaded (free, requested, writing, finished) with the peer involved;
//! * piece priorities (0 = don't download, 1–7 = higher is more urgent),
//!   sequential mode, time-critical pieces with deadlines, pad blocks.
//!
//! [`PiecePicker::pick`] answers "which `n` blocks should I request from this
//! peer". The order is: pieces with a deadline (earliest first), suggested
//! pieces, blocks of partially downloaded pieces, then new pieces, rarest
//! first with random tie-breaking among equally rare pieces (or in index order
//! in sequential mode). When every wanted block is already requested the
//! picker enters end-game and hands out blocks that are requested from other
//! peers, with a bound on how many peers may have the same block in flight;
//! [`PiecePicker::mark_received`] then reports which duplicate requests to
//! cancel.
//!
//! Availability is kept in buckets keyed by (priority, availability), so
//! updating a count is O(1) and a pick visits pieces in rarest-first order
//! without sorting; it stops as soon as it has `n` blocks.
//!
//! The picker never calls a clock and its only randomness comes from the seed
//! given to [`PiecePicker::new`]: the same calls give the same answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::bitfield::Bitfield;
use crate::lazy::LazyBox;
use crate::rng::Rng;

/// Size of a block (the unit of a request), 16 KiB.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// Highest piece priority; 0 means "don't download".
pub const MAX_PRIORITY: u8 = 7;

/// Priority new pieces start with (libtorrent's default, 4).
pub const DEFAULT_PRIORITY: u8 = 4;

const NONE: u32 = u32::MAX;

/// Bitfields with at least this many pieces mark the buckets for a lazy
/// rebuild instead of moving pieces one by one.
const BULK_THRESHOLD: usize = 4096;

/// Opaque handle the caller uses to identify a peer connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey(pub u32);

/// One block: `block` is the block index inside `piece` (offset / 16 KiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRef {
    /// Piece index.
    pub piece: u32,
    /// Block index within the piece.
    pub block: u32,
}

impl BlockRef {
    /// Convenience constructor.
    pub fn new(piece: u32, block: u32) -> Self {
        Self { piece, block }
    }
}

/// State of one block of a piece being downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockState {
    /// Not requested from anyone.
    Free,
    /// Requested from one or more peers, no data yet.
    Requested,
    /// Data received, being written to storage.
    Writing,
    /// Written to storage (or a pad block).
    Finished,
}

/// Error building a picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickerError {
    /// `piece_length` was zero.
    ZeroPieceLength,
    /// `total_size` was zero.
    ZeroTotalSize,
    /// The torrent would have more pieces than the picker can index.
    TooManyPieces,
}

impl fmt::Display for PickerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroPieceLength => f.write_str("piece length must be positive"),
            Self::ZeroTotalSize => f.write_str("total size must be positive"),
            Self::TooManyPieces => f.write_str("too many pieces"),
        }
    }
}

impl std::error::Error for PickerError {}

/// Per-call options of [`PiecePicker::pick`].
#[derive(Clone, Debug)]
pub struct PickOptions<'a> {
    /// The peer the blocks will be requested from.
    pub peer: PeerKey,
    /// The peer is choking us: only its allowed-fast pieces may be requested.
    pub peer_choking: bool,
    /// Pieces the peer allows us to request while choked (BEP 6).
    pub allowed_fast: &'a [u32],
    /// Pieces the peer suggested (BEP 6); preferred over other pieces.
    pub suggested: &'a [u32],
    /// Allow end-game picks (blocks already requested from other peers).
    pub end_game: bool,
    /// In end-game, the most peers one block may be requested from at once
    /// (including the first). Values below 2 disable duplicates.
    pub max_requesters: u32,
}

impl<'a> PickOptions<'a> {
    /// Options for an unchoked peer with end-game allowed (at most 3 peers per
    /// block) and no suggested or allowed-fast pieces.
    pub fn new(peer: PeerKey) -> Self {
        Self {
            peer,
            peer_choking: false,
            allowed_fast: &[],
            suggested: &[],
            end_game: true,
            max_requesters: 3,
        }
    }
}

/// One block of a partial piece, as reported by [`PiecePicker::partial_piece`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's state.
    pub state: BlockState,
    /// The peer it was requested from (first requester) or, once received,
    /// the peer that sent it. `None` for free and pad blocks.
    pub peer: Option<PeerKey>,
    /// Number of peers the block is currently requested from.
    pub num_peers: u32,
    /// Size of the block in bytes.
    pub block_size: u32,
    /// Bytes of this block we have (its size once writing/finished, else 0).
    pub bytes_progress: u32,
}

/// A piece being downloaded, as `get_download_queue` needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialPieceInfo {
    /// Piece index.
    pub piece: u32,
    /// Every block of the piece, in order.
    pub blocks: Vec<BlockInfo>,
    /// Blocks in [`BlockState::Requested`].
    pub requested: u32,
    /// Blocks in [`BlockState::Writing`].
    pub writing: u32,
    /// Blocks in [`BlockState::Finished`].
    pub finished: u32,
}

#[derive(Clone, Debug)]
struct Piece {
    /// Number of non-seed peers that have the piece.
    avail: u32,
    /// Position in its bucket, or NONE when not in a bucket.
    pos: u32,
    /// Index into `downloading`, or NONE.
    dl: u32,
    /// Epoch of the last pick that looked at this piece.
    visit: u32,
    prio: u8,
    have: bool,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    state: BlockState,
    peer: Option<PeerKey>,
    /// Number of extra requesters stored in `PiecePicker::dups`.
    extra: u16,
    pad: bool,
}

#[derive(Clone, Debug)]
struct Downloading {
    piece: u32,
    blocks: Vec<Block>,
    free: u32,
    requested: u32,
    writing: u32,
    finished: u32,
    pads: u32,
    /// Position in `PiecePicker::open`, or NONE.
    open_pos: u32,
}

impl Downloading {
    fn count_mut(&mut self, s: BlockState) -> &mut u32 {
        match s {
            BlockState::Free => &mut self.free,
            BlockState::Requested => &mut self.requested,
            BlockState::Writing => &mut self.writing,
            BlockState::Finished => &mut self.finished,
        }
    }

    /// Moves block `b` to state `s`, keeping the counters right.
    fn set_state(&mut self, b: usize, s: BlockState) {
        let Some(old) = self.blocks.get(b).map(|x| x.state) else {
            return;
        };
        *self.count_mut(old) -= 1;
        *self.count_mut(s) += 1;
        if let Some(blk) = self.blocks.get_mut(b) {
            blk.state = s;
        }
    }
}

/// The piece picker of one torrent. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct PiecePicker {
    pieces: Vec<Piece>,
    /// `buckets[prio][avail]` lists pickable pieces (wanted, not had, not
    /// being downloaded).
    buckets: Vec<Vec<Vec<u32>>>,
    downloading: Vec<Downloading>,
    /// Wanted pieces being downloaded that still have free blocks (piece
    /// indices), so picks don't scan fully requested pieces.
    open: Vec<u32>,
    /// Extra (end-game) requesters of blocks, beyond the first.
    dups: LazyBox<HashMap<BlockRef, Vec<PeerKey>>>,
    /// Pad blocks, by piece.
    pads: LazyBox<BTreeMap<u32, Vec<u32>>>,
    deadlines: LazyBox<BTreeSet<(u64, u32)>>,
    deadline_of: LazyBox<HashMap<u32, u64>>,
    have: Bitfield,
    seeds: u32,
    piece_length: u32,
    total_size: u64,
    blocks_per_piece: u32,
    /// Free blocks in wanted pieces we don't have.
    free_wanted: u64,
    /// Pieces with priority > 0 that we don't have.
    wanted_missing: u32,
    /// Pieces with priority > 0 that we have.
    wanted_have: u32,
    sequential: bool,
    seq_cursor: u32,
    epoch: u32,
    /// Buckets are stale (after a bulk availability change) and must be
    /// rebuilt before the next pick; while set, no piece is in a bucket.
    dirty: bool,
    rng: Rng,
}

impl PiecePicker {
    /// A picker for a torrent of `total_size` bytes cut into pieces of
    /// `piece_length` bytes (the last one may be shorter). All pieces start
    /// missing with priority [`DEFAULT_PRIORITY`]. `seed` drives the random
    /// tie-breaking.
    pub fn new(total_size: u64, piece_length: u32, seed: u64) -> Result<Self, PickerError> {
        if piece_length == 0 {
            return Err(PickerError::ZeroPieceLength);
        }
        if total_size == 0 {
            return Err(PickerError::ZeroTotalSize);
        }
        let n = total_size.div_ceil(u64::from(piece_length));
        if n >= u64::from(NONE) / 2 {
            return Err(PickerError::TooManyPieces);
        }
        let n = n as u32;
        let pieces = (0..n)
            .map(|_| Piece {
                avail: 0,
                pos: NONE,
                dl: NONE,
                visit: 0,
                prio: DEFAULT_PRIORITY,
                have: false,
            })
            .collect();
        let mut p = Self {
            pieces,
            // built at the first pick: a torrent that never has a peer
            // (idle, or queued) never allocates them
            buckets: Vec::new(),
            downloading: Vec::new(),
            open: Vec::new(),
            dups: LazyBox::default(),
            pads: LazyBox::default(),
            deadlines: LazyBox::default(),
            deadline_of: LazyBox::default(),
            have: Bitfield::new(n as usize),
            seeds: 0,
            piece_length,
            total_size,
            blocks_per_piece: piece_length.div_ceil(BLOCK_SIZE),
            free_wanted: 0,
            wanted_missing: n,
            wanted_have: 0,
            sequential: false,
            seq_cursor: 0,
            epoch: 0,
            dirty: true,
            rng: Rng::new(seed),
        };
        p.free_wanted = (0..n).map(|i| u64::from(p.blocks_in_piece(i))).sum();
        Ok(p)
    }

    // ------------------------------------------------------------------
    // geometry

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Nominal piece length.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Size of piece `i` in bytes (0 when out of range).
    pub fn piece_size(&self, i: u32) -> u32 {
        let n = self.num_pieces();
        if i >= n {
            0
        } else if i + 1 == n {
            (self.total_size - u64::from(i) * u64::from(self.piece_length)) as u32
        } else {
            self.piece_length
        }
    }

    /// Number of blocks in piece `i` (0 when out of range).
    pub fn blocks_in_piece(&self, i: u32) -> u32 {
        self.piece_size(i).div_ceil(BLOCK_SIZE)
    }

    /// Number of blocks in a full-size piece.
    pub fn blocks_per_piece(&self) -> u32 {
        self.blocks_per_piece
    }

    /// Size of a block in bytes (0 when it does not exist).
    pub fn block_size(&self, b: BlockRef) -> u32 {
        let ps = self.piece_size(b.piece);
        let start = u64::from(b.block) * u64::from(BLOCK_SIZE);
        if start >= u64::from(ps) {
            0
        } else {
            (u64::from(ps) - start).min(u64::from(BLOCK_SIZE)) as u32
        }
    }

    fn valid_block(&self, b: BlockRef) -> bool {
        b.block < self.blocks_in_piece(b.piece)
    }

    // ------------------------------------------------------------------
    // bucket / counter bookkeeping

    fn wanted(p: &Piece) -> bool {
        p.prio > 0 && !p.have
    }

    fn free_blocks(&self, i: u32) -> u32 {
        let Some(p) = self.pieces.get(i as usize) else {
            return 0;
        };
        if p.dl == NONE {
            self.blocks_in_piece(i)
        } else {
            self.downloading.get(p.dl as usize).map_or(0, |d| d.free)
        }
    }

    /// Removes piece `i`'s contribution to the buckets and counters; must be
    /// paired with [`Self::attach`] after mutating the piece.
    fn detach(&mut self, i: u32) {
        let free = self.free_blocks(i);
        let Some(p) = self.pieces.get(i as usize) else {
            return;
        };
        let (prio, avail, pos, dl, wanted) = (p.prio, p.avail, p.pos, p.dl, Self::wanted(p));
        if prio > 0 && p.have {
            self.wanted_have -= 1;
        }
        if wanted {
            self.free_wanted -= u64::from(free);
            self.wanted_missing -= 1;
        }
        if dl != NONE {
            let op = self
                .downloading
                .get(dl as usize)
                .map_or(NONE, |d| d.open_pos);
            if op != NONE && (op as usize) < self.open.len() {
                self.open.swap_remove(op as usize);
                if let Some(&moved) = self.open.get(op as usize) {
                    let mdl = self.pieces[moved as usize].dl as usize;
                    if let Some(md) = self.downloading.get_mut(mdl) {
                        md.open_pos = op;
                    }
                }
                if let Some(d) = self.downloading.get_mut(dl as usize) {
                    d.open_pos = NONE;
                }
            }
        }
        if pos != NONE {
            if let Some(b) = self
                .buckets
                .get_mut(usize::from(prio))
                .and_then(|v| v.get_mut(avail as usize))
            {
                let pos = pos as usize;
                if pos < b.len() {
                    b.swap_remove(pos);
                    if let Some(&moved) = b.get(pos) {
                        if let Some(mp) = self.pieces.get_mut(moved as usize) {
                            mp.pos = pos as u32;
                        }
                    }
                }
            }
            if let Some(p) = self.pieces.get_mut(i as usize) {
                p.pos = NONE;
            }
        }
    }

    fn attach(&mut self, i: u32) {
        let free = self.free_blocks(i);
        let Some(p) = self.pieces.get(i as usize) else {
            return;
        };
        let (prio, avail, dl, wanted) = (p.prio, p.avail, p.dl, Self::wanted(p));
        if prio > 0 && p.have {
            self.wanted_have += 1;
        }
        if wanted {
            self.free_wanted += u64::from(free);
            self.wanted_missing += 1;
            if dl != NONE && free > 0 {
                let op = self.open.len() as u32;
                if let Some(d) = self.downloading.get_mut(dl as usize) {
                    d.open_pos = op;
                    self.open.push(i);
                }
            }
            if dl == NONE && !self.dirty {
                let Some(pb) = self.buckets.get_mut(usize::from(prio)) else {
                    return;
                };
                let a = avail as usize;
                if pb.len() <= a {
                    pb.resize_with(a + 1, Vec::new);
                }
                let b = &mut pb[a];
                let pos = b.len() as u32;
                b.push(i);
                if let Some(p) = self.pieces.get_mut(i as usize) {
                    p.pos = pos;
                }
            }
        }
    }

    // ------------------------------------------------------------------
    // availability

    /// A peer sent its bitfield: every piece in it gains one peer.
    ///
    /// Large bitfields only bump the counts and leave the rarest-first
    /// buckets to be rebuilt once, lazily, at the next pick, so a burst of
    /// connecting peers costs O(pieces) per peer plus one rebuild.
    pub fn peer_bitfield(&mut self, has: &Bitfield) {
        self.bulk_avail(has, true);
    }

    fn bulk_avail(&mut self, has: &Bitfield, up: bool) {
        if has.count() >= BULK_THRESHOLD {
            self.mark_dirty();
        }
        for i in has.iter_ones() {
            self.bump_avail(i as u32, up);
        }
    }

    /// Empties the buckets; they are rebuilt by [`Self::rebuild_buckets`].
    fn mark_dirty(&mut self) {
        if self.dirty {
            return;
        }
        self.dirty = true;
        for pb in &mut self.buckets {
            pb.clear();
        }
        for p in &mut self.pieces {
            p.pos = NONE;
        }
    }

    fn rebuild_buckets(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.buckets
            .resize_with(usize::from(MAX_PRIORITY) + 1, Vec::new);
        for (i, p) in self.pieces.iter_mut().enumerate() {
            if Self::wanted(p) && p.dl == NONE {
                let pb = &mut self.buckets[usize::from(p.prio)];
                let a = p.avail as usize;
                if pb.len() <= a {
                    pb.resize_with(a + 1, Vec::new);
                }
                pb[a].push(i as u32);
            }
        }
        // shuffle each bucket so ties are broken randomly, then record
        // positions
        for prio in 0..self.buckets.len() {
            for a in 0..self.buckets[prio].len() {
                let mut b = std::mem::take(&mut self.buckets[prio][a]);
                self.rng.shuffle(&mut b);
                for (pos, &i) in b.iter().enumerate() {
                    self.pieces[i as usize].pos = pos as u32;
                }
                self.buckets[prio][a] = b;
            }
        }
    }

    /// A peer announced piece `i` (HAVE). Out-of-range indices are ignored.
    pub fn peer_have(&mut self, i: u32) {
        self.bump_avail(i, true);
    }

    /// Changes piece `i`'s availability by one. Only its bucket moves: no
    /// counter depends on availability.
    fn bump_avail(&mut self, i: u32, up: bool) {
        let Some(p) = self.pieces.get(i as usize) else {
            return;
        };
        if !up && p.avail == 0 {
            return;
        }
        let (prio, avail, pos) = (usize::from(p.prio), p.avail as usize, p.pos);
        let new_avail = if up { avail + 1 } else { avail - 1 };
        if pos != NONE {
            let Some(pb) = self.buckets.get_mut(prio) else {
                return;
            };
            if pb.len() <= new_avail {
                pb.resize_with(new_avail + 1, Vec::new);
            }
            let pos = pos as usize;
            let moved = match pb.get_mut(avail) {
                Some(b) if pos < b.len() => {
                    b.swap_remove(pos);
                    b.get(pos).copied()
                }
                _ => None,
            };
            if let Some(m) = moved {
                self.pieces[m as usize].pos = pos as u32;
            }
            let nb = &mut pb[new_avail];
            let npos = nb.len() as u32;
            nb.push(i);
            self.pieces[i as usize].pos = npos;
        }
        self.pieces[i as usize].avail = new_avail as u32;
    }

    /// A peer with these pieces went away (or lost them): each loses one peer.
    pub fn peer_lost_bitfield(&mut self, has: &Bitfield) {
        self.bulk_avail(has, false);
    }

    /// One peer no longer has piece `i`.
    pub fn peer_lost_have(&mut self, i: u32) {
        self.bump_avail(i, false);
    }

    /// A peer has every piece (HAVE ALL, or a complete bitfield the caller
    /// chose to count this way). O(1): seeds are counted apart.
    /// A HAVE NONE needs no call: it changes no count.
    pub fn peer_have_all(&mut self) {
        self.seeds += 1;
    }

    /// A peer counted with [`Self::peer_have_all`] went away.
    pub fn peer_lost_have_all(&mut self) {
        self.seeds = self.seeds.saturating_sub(1);
    }

    /// Number of peers that have piece `i` (seeds included).
    pub fn availability(&self, i: u32) -> u32 {
        self.pieces
            .get(i as usize)
            .map_or(0, |p| p.avail + self.seeds)
    }

    /// Availability of every piece (seeds included), as `piece_availability`
    /// reports it.
    pub fn piece_availability(&self) -> Vec<u32> {
        self.pieces.iter().map(|p| p.avail + self.seeds).collect()
    }

    /// Number of peers counted as seeds via [`Self::peer_have_all`].
    pub fn num_seeds(&self) -> u32 {
        self.seeds
    }

    // ------------------------------------------------------------------
    // priorities, modes

    /// Sets piece `i`'s priority (clamped to 0..=7). Returns true when it
    /// changed. Priority 0 pieces are never picked.
    pub fn set_piece_priority(&mut self, i: u32, prio: u8) -> bool {
        let prio = prio.min(MAX_PRIORITY);
        match self.pieces.get(i as usize) {
            Some(p) if p.prio != prio => {}
            _ => return false,
        }
        self.detach(i);
        self.pieces[i as usize].prio = prio;
        self.attach(i);
        if prio > 0 && i < self.seq_cursor {
            self.seq_cursor = i;
        }
        true
    }

    /// Sets every piece's priority from `prios` (extra entries are ignored,
    /// missing ones keep their priority).
    pub fn set_piece_priorities(&mut self, prios: &[u8]) {
        for (i, &p) in prios.iter().enumerate().take(self.pieces.len()) {
            self.set_piece_priority(i as u32, p);
        }
    }

    /// Priority of piece `i` (0 when out of range).
    pub fn piece_priority(&self, i: u32) -> u8 {
        self.pieces.get(i as usize).map_or(0, |p| p.prio)
    }

    /// All piece priorities.
    pub fn piece_priorities(&self) -> Vec<u8> {
        self.pieces.iter().map(|p| p.prio).collect()
    }

    /// Sequential mode: new pieces are picked in index order instead of
    /// rarest first.
    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
        self.seq_cursor = 0;
    }

    /// Whether sequential mode is on.
    pub fn sequential(&self) -> bool {
        self.sequential
    }

    /// Makes piece `i` time-critical with the given deadline (any monotonic
    /// unit the caller likes, e.g. milliseconds). Pieces with a deadline are
    /// picked before all others, earliest deadline first.
    pub fn set_piece_deadline(&mut self, i: u32, deadline: u64) {
        if (i as usize) >= self.pieces.len() || self.have.get(i as usize) {
            return;
        }
        if let Some(old) = self.deadline_of.insert(i, deadline) {
            self.deadlines.remove(&(old, i));
        }
        self.deadlines.insert((deadline, i));
    }

    /// Removes piece `i`'s deadline.
    pub fn clear_piece_deadline(&mut self, i: u32) {
        if let Some(old) = self.deadline_of.if_allocated().and_then(|d| d.remove(&i)) {
            self.deadlines.remove(&(old, i));
        }
    }

    /// Removes every deadline.
    pub fn clear_deadlines(&mut self) {
        self.deadline_of.reset();
        self.deadlines.reset();
    }

    /// Every piece with a deadline, as (deadline, piece), earliest first.
    pub fn deadlines(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.deadlines.iter().copied()
    }

    /// Piece `i`'s deadline, if it has one.
    pub fn piece_deadline(&self, i: u32) -> Option<u64> {
        self.deadline_of.get(&i).copied()
    }

    // ------------------------------------------------------------------
    // our pieces

    /// Whether we have piece `i` (hash checked).
    pub fn have_piece(&self, i: u32) -> bool {
        self.have.get(i as usize)
    }

    /// Number of pieces we have.
    pub fn num_have(&self) -> u32 {
        self.have.count() as u32
    }

    /// Our pieces.
    pub fn have_bitfield(&self) -> &Bitfield {
        &self.have
    }

    /// True when every piece with priority > 0 is had.
    pub fn is_finished(&self) -> bool {
        self.wanted_missing == 0
    }

    /// True when we have every piece.
    pub fn is_seeding(&self) -> bool {
        self.have.all()
    }

    /// Number of pieces with priority > 0 that we still miss.
    pub fn num_wanted_missing(&self) -> u32 {
        self.wanted_missing
    }

    /// Bytes of the pieces with priority > 0 (`total_wanted`), and of
    /// those we have (`total_wanted_done` without partial pieces).
    pub fn wanted_bytes(&self) -> (u64, u64) {
        let len = u64::from(self.piece_length);
        let mut wanted = u64::from(self.wanted_missing + self.wanted_have) * len;
        let mut done = u64::from(self.wanted_have) * len;
        // every counted piece is full-sized but the last one
        if let Some(last) = self.pieces.last().filter(|p| p.prio > 0) {
            let short = len - u64::from(self.piece_size(self.num_pieces() - 1));
            wanted -= short;
            if last.have {
                done -= short;
            }
        }
        (wanted, done)
    }

    /// Marks piece `i` as had (resume data, or a passed hash check), dropping
    /// any download state it had.
    pub fn set_have(&mut self, i: u32) {
        if (i as usize) >= self.pieces.len() || self.have.get(i as usize) {
            return;
        }
        self.detach(i);
        self.remove_downloading(i);
        self.pieces[i as usize].have = true;
        self.have.set(i as usize);
        self.attach(i);
        self.clear_piece_deadline(i);
    }

    /// The piece passed its hash check: we have it now.
    pub fn piece_passed(&mut self, i: u32) {
        self.set_have(i);
    }

    /// Forgets that we have piece `i` (e.g. it failed a recheck).
    pub fn clear_have(&mut self, i: u32) {
        if !self.have.get(i as usize) {
            return;
        }
        self.detach(i);
        self.pieces[i as usize].have = false;
        self.have.clear(i as usize);
        self.attach(i);
        self.restore_pads(i);
        if i < self.seq_cursor {
            self.seq_cursor = i;
        }
    }

    /// The piece failed its hash check: every block goes back to free (pad
    /// blocks stay finished). Returns the peers that sent blocks of it, each
    /// once, so the caller can punish or ban them.
    pub fn piece_failed(&mut self, i: u32) -> Vec<PeerKey> {
        let Some(p) = self.pieces.get(i as usize) else {
            return Vec::new();
        };
        if p.dl == NONE {
            return Vec::new();
        }
        let mut peers: Vec<PeerKey> = Vec::new();
        if let Some(d) = self.downloading.get(p.dl as usize) {
            for b in &d.blocks {
                if let (Some(pk), BlockState::Writing | BlockState::Finished) = (b.peer, b.state) {
                    if !peers.contains(&pk) {
                        peers.push(pk);
                    }
                }
            }
        }
        self.detach(i);
        self.remove_downloading(i);
        self.attach(i);
        self.restore_pads(i);
        if i < self.seq_cursor {
            self.seq_cursor = i;
        }
        peers
    }

    fn remove_downloading(&mut self, i: u32) {
        let dl = match self.pieces.get(i as usize) {
            Some(p) if p.dl != NONE => p.dl as usize,
            _ => return,
        };
        if dl >= self.downloading.len() {
            return;
        }
        let d = self.downloading.swap_remove(dl);
        for (bi, b) in d.blocks.iter().enumerate() {
            if b.extra > 0 {
                if let Some(d) = self.dups.if_allocated() {
                    d.remove(&BlockRef::new(i, bi as u32));
                }
            }
        }
        if let Some(moved) = self.downloading.get(dl).map(|d| d.piece) {
            self.pieces[moved as usize].dl = dl as u32;
        }
        self.pieces[i as usize].dl = NONE;
    }

    /// Makes piece `i` a downloading piece (all blocks free). Caller detaches.
    fn ensure_downloading(&mut self, i: u32) -> usize {
        let p = &self.pieces[i as usize];
        if p.dl != NONE {
            return p.dl as usize;
        }
        let nb = self.blocks_in_piece(i);
        let idx = self.downloading.len();
        self.downloading.push(Downloading {
            piece: i,
            blocks: vec![
                Block {
                    state: BlockState::Free,
                    peer: None,
                    extra: 0,
                    pad: false,
                };
                nb as usize
            ],
            free: nb,
            requested: 0,
            writing: 0,
            finished: 0,
            pads: 0,
            open_pos: NONE,
        });
        self.pieces[i as usize].dl = idx as u32;
        idx
    }

    /// Drops the download entry of piece `i` when nothing in it is in
    /// progress any more, putting the piece back in its bucket. Caller detaches.
    fn maybe_drop_downloading(&mut self, i: u32) {
        let dl = self.pieces[i as usize].dl;
        if dl == NONE {
            return;
        }
        if let Some(d) = self.downloading.get(dl as usize) {
            if d.free as usize == d.blocks.len() {
                self.remove_downloading(i);
            }
        }
    }

    /// Declares a block as padding (it lies entirely in a pad file): it is
    /// never requested and counts as finished. Survives hash failures.
    pub fn mark_pad_block(&mut self, b: BlockRef) {
        if !self.valid_block(b) {
            return;
        }
        let list = self.pads.entry(b.piece).or_default();
        if !list.contains(&b.block) {
            list.push(b.block);
        }
        if !self.have.get(b.piece as usize) {
            self.apply_pad(b);
        }
    }

    fn apply_pad(&mut self, b: BlockRef) {
        self.detach(b.piece);
        let dl = self.ensure_downloading(b.piece);
        if let Some(d) = self.downloading.get_mut(dl) {
            let bi = b.block as usize;
            if let Some(blk) = d.blocks.get(bi) {
                if !blk.pad {
                    let had_dups = blk.extra > 0;
                    if blk.state != BlockState::Finished {
                        d.set_state(bi, BlockState::Finished);
                    }
                    d.blocks[bi].pad = true;
                    d.blocks[bi].peer = None;
                    d.blocks[bi].extra = 0;
                    d.pads += 1;
                    if had_dups {
                        if let Some(d) = self.dups.if_allocated() {
                            d.remove(&b);
                        }
                    }
                }
            }
        }
        self.attach(b.piece);
    }

    fn restore_pads(&mut self, i: u32) {
        let blocks = match self.pads.get(&i) {
            Some(v) => v.clone(),
            None => return,
        };
        for bl in blocks {
            self.apply_pad(BlockRef::new(i, bl));
        }
    }

    /// True when every block of piece `i` is finished (ready to hash).
    pub fn is_piece_complete(&self, i: u32) -> bool {
        match self.pieces.get(i as usize) {
            Some(p) if p.dl != NONE => self
                .downloading
                .get(p.dl as usize)
                .is_some_and(|d| d.finished as usize == d.blocks.len()),
            _ => false,
        }
    }

    // ------------------------------------------------------------------
    // block state transitions

    fn block_mut(&mut self, b: BlockRef) -> Option<(&mut Downloading, usize)> {
        let p = self.pieces.get(b.piece as usize)?;
        if p.dl == NONE {
            return None;
        }
        let d = self.downloading.get_mut(p.dl as usize)?;
        let bi = b.block as usize;
        if bi >= d.blocks.len() {
            return None;
        }
        Some((d, bi))
    }

    fn requesters(&self, b: BlockRef, blk: &Block) -> Vec<PeerKey> {
        let mut v = Vec::new();
        if let Some(p) = blk.peer {
            v.push(p);
        }
        if blk.extra > 0 {
            if let Some(d) = self.dups.get(&b) {
                v.extend_from_slice(d);
            }
        }
        v
    }

    /// Records that block `b` was requested from `peer`. A block already
    /// requested from another peer gains `peer` as an extra (end-game)
    /// requester. Returns false when the block can't be requested (we have
    /// the piece, the block is received/finished, or it doesn't exist).
    pub fn mark_requested(&mut self, b: BlockRef, peer: PeerKey) -> bool {
        if !self.valid_block(b) || self.have.get(b.piece as usize) {
            return false;
        }
        let state = self.block_state(b);
        match state {
            BlockState::Free => {
                self.detach(b.piece);
                let dl = self.ensure_downloading(b.piece);
                let d = &mut self.downloading[dl];
                let bi = b.block as usize;
                d.set_state(bi, BlockState::Requested);
                d.blocks[bi].peer = Some(peer);
                self.attach(b.piece);
                true
            }
            BlockState::Requested => {
                let dl = self.pieces[b.piece as usize].dl as usize;
                let Some(blk) = self
                    .downloading
                    .get_mut(dl)
                    .and_then(|d| d.blocks.get_mut(b.block as usize))
                else {
                    return false;
                };
                if blk.peer == Some(peer) {
                    return true;
                }
                if blk.peer.is_none() {
                    blk.peer = Some(peer);
                    return true;
                }
                let list = self.dups.entry(b).or_default();
                if !list.contains(&peer) {
                    list.push(peer);
                    blk.extra = blk.extra.saturating_add(1);
                }
                true
            }
            BlockState::Writing | BlockState::Finished => false,
        }
    }

    /// Block `b`'s data arrived from `peer` and is being written. Returns the
    /// other peers the block was also requested from (send them CANCEL), or
    /// `None` when the block is not needed (already received, or we have the
    /// piece): the data should be discarded.
    pub fn mark_received(&mut self, b: BlockRef, peer: PeerKey) -> Option<Vec<PeerKey>> {
        if !self.valid_block(b) || self.have.get(b.piece as usize) {
            return None;
        }
        match self.block_state(b) {
            BlockState::Writing | BlockState::Finished => return None,
            BlockState::Free | BlockState::Requested => {}
        }
        self.detach(b.piece);
        let dl = self.ensure_downloading(b.piece);
        let blk = self.downloading[dl].blocks[b.block as usize];
        let mut cancel = self.requesters(b, &blk);
        cancel.retain(|&p| p != peer);
        if blk.extra > 0 {
            if let Some(d) = self.dups.if_allocated() {
                d.remove(&b);
            }
        }
        let d = &mut self.downloading[dl];
        let bi = b.block as usize;
        d.set_state(bi, BlockState::Writing);
        d.blocks[bi].peer = Some(peer);
        d.blocks[bi].extra = 0;
        self.attach(b.piece);
        Some(cancel)
    }

    /// Block `b` is written to storage. Returns true when this completed the
    /// piece (every block finished): the caller should hash it and then call
    /// [`Self::piece_passed`] or [`Self::piece_failed`].
    pub fn mark_finished(&mut self, b: BlockRef) -> bool {
        if !self.valid_block(b) || self.have.get(b.piece as usize) {
            return false;
        }
        if self.block_state(b) == BlockState::Finished {
            return false;
        }
        self.detach(b.piece);
        let dl = self.ensure_downloading(b.piece);
        let bi = b.block as usize;
        let blk = self.downloading[dl].blocks[bi];
        if blk.extra > 0 {
            if let Some(d) = self.dups.if_allocated() {
                d.remove(&b);
            }
        }
        let d = &mut self.downloading[dl];
        d.set_state(bi, BlockState::Finished);
        d.blocks[bi].extra = 0;
        let complete = d.finished as usize == d.blocks.len();
        self.attach(b.piece);
        complete
    }

    /// The request of block `b` to `peer` is gone (rejected, timed out,
    /// cancelled, peer choked us or disconnected). When no other peer has it
    /// requested the block becomes free again.
    pub fn mark_aborted(&mut self, b: BlockRef, peer: PeerKey) {
        if self.block_state(b) != BlockState::Requested {
            return;
        }
        self.detach(b.piece);
        let mut freed = false;
        if let Some((d, bi)) = self.block_mut(b) {
            let blk = d.blocks[bi];
            if blk.peer == Some(peer) {
                // promote an extra requester, if any
                let next = if blk.extra > 0 {
                    self.dups.get_mut(&b).and_then(|v| v.pop())
                } else {
                    None
                };
                // re-borrow after touching dups
                if let Some((d, bi)) = self.block_mut(b) {
                    match next {
                        Some(n) => {
                            d.blocks[bi].peer = Some(n);
                            d.blocks[bi].extra -= 1;
                        }
                        None => {
                            d.blocks[bi].peer = None;
                            d.set_state(bi, BlockState::Free);
                            freed = true;
                        }
                    }
                }
            } else if blk.extra > 0 {
                let mut removed = false;
                if let Some(v) = self.dups.get_mut(&b) {
                    if let Some(pos) = v.iter().position(|&p| p == peer) {
                        v.swap_remove(pos);
                        removed = true;
                    }
                }
                if removed {
                    if let Some((d, bi)) = self.block_mut(b) {
                        d.blocks[bi].extra -= 1;
                    }
                }
            }
            if let Some((d, bi)) = self.block_mut(b) {
                if d.blocks[bi].extra == 0 {
                    if let Some(d) = self.dups.if_allocated() {
                        d.remove(&b);
                    }
                }
            }
        }
        if freed {
            self.maybe_drop_downloading(b.piece);
        }
        self.attach(b.piece);
    }

    /// Writing block `b` failed: it goes back to free.
    pub fn mark_write_failed(&mut self, b: BlockRef) {
        if self.block_state(b) != BlockState::Writing {
            return;
        }
        self.detach(b.piece);
        if let Some((d, bi)) = self.block_mut(b) {
            d.set_state(bi, BlockState::Free);
            d.blocks[bi].peer = None;
        }
        self.maybe_drop_downloading(b.piece);
        self.attach(b.piece);
    }

    /// Aborts every outstanding request to `peer` (it disconnected or choked
    /// us). Returns the blocks that were requested from it.
    pub fn abort_peer(&mut self, peer: PeerKey) -> Vec<BlockRef> {
        let mut out = Vec::new();
        for d in &self.downloading {
            for (bi, blk) in d.blocks.iter().enumerate() {
                if blk.state != BlockState::Requested {
                    continue;
                }
                let b = BlockRef::new(d.piece, bi as u32);
                let mine = blk.peer == Some(peer)
                    || (blk.extra > 0 && self.dups.get(&b).is_some_and(|v| v.contains(&peer)));
                if mine {
                    out.push(b);
                }
            }
        }
        for &b in &out {
            self.mark_aborted(b, peer);
        }
        out
    }

    /// State of block `b` (`Free` for blocks of pieces not being downloaded;
    /// `Finished` for blocks of pieces we have).
    pub fn block_state(&self, b: BlockRef) -> BlockState {
        let Some(p) = self.pieces.get(b.piece as usize) else {
            return BlockState::Free;
        };
        if p.have {
            return BlockState::Finished;
        }
        if p.dl == NONE {
            return BlockState::Free;
        }
        self.downloading
            .get(p.dl as usize)
            .and_then(|d| d.blocks.get(b.block as usize))
            .map_or(BlockState::Free, |x| x.state)
    }

    /// Peers block `b` is currently requested from.
    pub fn block_requesters(&self, b: BlockRef) -> Vec<PeerKey> {
        let Some(p) = self.pieces.get(b.piece as usize) else {
            return Vec::new();
        };
        if p.dl == NONE {
            return Vec::new();
        }
        match self
            .downloading
            .get(p.dl as usize)
            .and_then(|d| d.blocks.get(b.block as usize))
        {
            Some(blk) if blk.state == BlockState::Requested => self.requesters(b, blk),
            _ => Vec::new(),
        }
    }

    // ------------------------------------------------------------------
    // reporting

    /// Number of pieces being downloaded (partial pieces).
    pub fn num_downloading(&self) -> usize {
        self.downloading.len()
    }

    /// True when every block of piece `i` is received (being written or
    /// finished), without allocating.
    pub fn is_piece_received(&self, i: u32) -> bool {
        match self.pieces.get(i as usize) {
            Some(p) if p.dl != NONE => self
                .downloading
                .get(p.dl as usize)
                .is_some_and(|d| d.free == 0 && d.requested == 0),
            _ => false,
        }
    }

    /// True when block `b` was declared padding ([`Self::mark_pad_block`]).
    pub fn is_pad_block(&self, b: BlockRef) -> bool {
        self.pads
            .get(&b.piece)
            .is_some_and(|l| l.contains(&b.block))
    }

    /// Indices of the pieces being downloaded.
    pub fn downloading_pieces(&self) -> Vec<u32> {
        self.downloading.iter().map(|d| d.piece).collect()
    }

    /// Per-block detail of a piece being downloaded (`None` when piece `i`
    /// has no download state).
    pub fn partial_piece(&self, i: u32) -> Option<PartialPieceInfo> {
        let p = self.pieces.get(i as usize)?;
        if p.dl == NONE {
            return None;
        }
        let d = self.downloading.get(p.dl as usize)?;
        let blocks = d
            .blocks
            .iter()
            .enumerate()
            .map(|(bi, blk)| {
                let br = BlockRef::new(i, bi as u32);
                let size = self.block_size(br);
                BlockInfo {
                    state: blk.state,
                    peer: blk.peer,
                    num_peers: if blk.state == BlockState::Requested {
                        u32::from(blk.peer.is_some()) + u32::from(blk.extra)
                    } else {
                        0
                    },
                    block_size: size,
                    bytes_progress: match blk.state {
                        BlockState::Writing | BlockState::Finished => size,
                        _ => 0,
                    },
                }
            })
            .collect();
        Some(PartialPieceInfo {
            piece: i,
            blocks,
            requested: d.requested,
            writing: d.writing,
            finished: d.finished,
        })
    }

    /// The whole download queue, as `get_download_queue` reports it, sorted
    /// by piece index.
    pub fn download_queue(&self) -> Vec<PartialPieceInfo> {
        let mut idx: Vec<u32> = self.downloading.iter().map(|d| d.piece).collect();
        idx.sort_unstable();
        idx.into_iter()
            .filter_map(|i| self.partial_piece(i))
            .collect()
    }

    /// Number of free blocks left in wanted pieces. End-game starts when this
    /// reaches zero.
    pub fn num_free_wanted_blocks(&self) -> u64 {
        self.free_wanted
    }

    /// True when every wanted block is requested, received or had, but some
    /// wanted piece is still missing.
    pub fn is_end_game(&self) -> bool {
        self.free_wanted == 0 && self.wanted_missing > 0
    }

    /// Bytes we have: every had piece plus the finished blocks of partial
    /// pieces (pad blocks included).
    pub fn bytes_done(&self) -> u64 {
        let mut total: u64 = self
            .have
            .iter_ones()
            .map(|i| u64::from(self.piece_size(i as u32)))
            .sum();
        for d in &self.downloading {
            for (bi, blk) in d.blocks.iter().enumerate() {
                if blk.state == BlockState::Finished {
                    total += u64::from(self.block_size(BlockRef::new(d.piece, bi as u32)));
                }
            }
        }
        total
    }

    // ------------------------------------------------------------------
    // picking

    /// Picks up to `n` blocks to request from the peer described by `opts`,
    /// which has the pieces in `peer_has`. Pass [`Bitfield::full`] for a seed.
    /// Nothing is marked: call [`Self::mark_requested`] for each block
    /// actually requested. Blocks are returned in request order.
    ///
    /// Order: when the peer chokes us only its allowed-fast pieces (suggested
    /// ones first); otherwise pieces with a deadline (earliest first),
    /// suggested pieces, partially downloaded pieces, then new pieces in
    /// sequential order or rarest first (higher priority first, random among
    /// equally rare). If fewer than `n` free blocks were found and every
    /// wanted block is already requested (end-game), blocks requested from
    /// other peers are added, fewest requesters first, bounded by
    /// `opts.max_requesters`.
    pub fn pick(&mut self, peer_has: &Bitfield, n: usize, opts: &PickOptions<'_>) -> Vec<BlockRef> {
        let mut out = Vec::new();
        if n == 0 || self.wanted_missing == 0 {
            return out;
        }
        self.rebuild_buckets();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            for p in &mut self.pieces {
                p.visit = 0;
            }
            self.epoch = 1;
        }
        if opts.peer_choking {
            for &i in opts.suggested {
                if opts.allowed_fast.contains(&i) {
                    self.take_free(i, peer_has, n, &mut out);
                }
            }
            for &i in opts.allowed_fast {
                self.take_free(i, peer_has, n, &mut out);
            }
            if out.len() < n && opts.end_game && self.free_wanted == 0 {
                self.end_game_pick(peer_has, n, opts, &mut out);
            }
            return out;
        }
        // time-critical pieces
        if !self.deadlines.is_empty() {
            let order: Vec<u32> = self.deadlines.iter().map(|&(_, i)| i).collect();
            for i in order {
                if out.len() >= n {
                    return out;
                }
                self.take_free(i, peer_has, n, &mut out);
            }
        }
        for &i in opts.suggested {
            if out.len() >= n {
                return out;
            }
            self.take_free(i, peer_has, n, &mut out);
        }
        if self.sequential {
            self.pick_sequential(peer_has, n, &mut out);
        } else {
            // partial pieces first (only those with free blocks)
            let mut k = 0;
            while k < self.open.len() && out.len() < n {
                let i = self.open[k];
                self.take_free(i, peer_has, n, &mut out);
                k += 1;
            }
            if out.len() < n {
                self.pick_rarest(peer_has, n, &mut out);
            }
        }
        if out.len() < n && opts.end_game && self.free_wanted == 0 {
            self.end_game_pick(peer_has, n, opts, &mut out);
        }
        out
    }

    fn pick_sequential(&mut self, peer_has: &Bitfield, n: usize, out: &mut Vec<BlockRef>) {
        let np = self.num_pieces();
        while self.seq_cursor < np {
            let p = &self.pieces[self.seq_cursor as usize];
            if p.have || p.prio == 0 {
                self.seq_cursor += 1;
            } else {
                break;
            }
        }
        let mut i = self.seq_cursor;
        while i < np && out.len() < n {
            self.take_free(i, peer_has, n, out);
            i += 1;
        }
    }

    fn pick_rarest(&mut self, peer_has: &Bitfield, n: usize, out: &mut Vec<BlockRef>) {
        for prio in (1..=usize::from(MAX_PRIORITY)).rev() {
            let navail = self.buckets[prio].len();
            for a in 0..navail {
                let len = self.buckets[prio][a].len();
                if len == 0 {
                    continue;
                }
                let start = self.rng.below(len);
                // walk the bucket from a random start (random tie-breaking);
                // take_free never moves pieces between buckets
                let mut k = 0;
                while k < len {
                    let idx = (start + k) % len;
                    let Some(&i) = self.buckets[prio][a].get(idx) else {
                        break;
                    };
                    if peer_has.get(i as usize) {
                        self.take_free(i, peer_has, n, out);
                        if out.len() >= n {
                            return;
                        }
                    }
                    k += 1;
                }
            }
        }
    }

    /// Appends the free blocks of piece `i` (if pickable for this peer and not
    /// yet visited by this pick) until `out` holds `n` blocks.
    fn take_free(&mut self, i: u32, peer_has: &Bitfield, n: usize, out: &mut Vec<BlockRef>) {
        let epoch = self.epoch;
        let Some(p) = self.pieces.get_mut(i as usize) else {
            return;
        };
        if p.visit == epoch {
            return;
        }
        p.visit = epoch;
        if p.have || p.prio == 0 || !peer_has.get(i as usize) {
            return;
        }
        if p.dl == NONE {
            let nb = self.blocks_in_piece(i);
            for b in 0..nb {
                if out.len() >= n {
                    return;
                }
                out.push(BlockRef::new(i, b));
            }
        } else if let Some(d) = self.downloading.get(p.dl as usize) {
            if d.free == 0 {
                return;
            }
            for (bi, blk) in d.blocks.iter().enumerate() {
                if out.len() >= n {
                    return;
                }
                if blk.state == BlockState::Free {
                    out.push(BlockRef::new(i, bi as u32));
                }
            }
        }
    }

    fn end_game_pick(
        &mut self,
        peer_has: &Bitfield,
        n: usize,
        opts: &PickOptions<'_>,
        out: &mut Vec<BlockRef>,
    ) {
        if opts.max_requesters < 2 {
            return;
        }
        let mut cands: Vec<(u32, BlockRef)> = Vec::new();
        for d in &self.downloading {
            let i = d.piece;
            if d.requested == 0 || !peer_has.get(i as usize) {
                continue;
            }
            let p = &self.pieces[i as usize];
            if p.prio == 0 || p.have {
                continue;
            }
            if opts.peer_choking && !opts.allowed_fast.contains(&i) {
                continue;
            }
            for (bi, blk) in d.blocks.iter().enumerate() {
                if blk.state != BlockState::Requested {
                    continue;
                }
                let b = BlockRef::new(i, bi as u32);
                let count = u32::from(blk.peer.is_some()) + u32::from(blk.extra);
                if count >= opts.max_requesters || blk.peer == Some(opts.peer) {
                    continue;
                }
                if blk.extra > 0 && self.dups.get(&b).is_some_and(|v| v.contains(&opts.peer)) {
                    continue;
                }
                cands.push((count, b));
            }
        }
        // fewest requesters first; shuffle within equal counts so peers
        // spread over different blocks
        self.rng.shuffle(&mut cands);
        cands.sort_by_key(|&(c, _)| c);
        for (_, b) in cands {
            if out.len() >= n {
                break;
            }
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
}

/// Maps file priorities to piece priorities.
///
/// `files` are `(offset, size)` byte ranges of the files in torrent order and
/// `file_prios` their priorities (0–7; missing entries count as
/// [`DEFAULT_PRIORITY`]). A piece gets the highest priority of the non-empty
/// files overlapping it, so a piece shared by a wanted and an unwanted file
/// is downloaded. Pieces no file overlaps get 0.
pub fn file_priorities_to_piece_priorities(
    files: &[(u64, u64)],
    file_prios: &[u8],
    piece_length: u32,
    num_pieces: u32,
) -> Vec<u8> {
    let mut out = vec![0u8; num_pieces as usize];
    if piece_length == 0 || num_pieces == 0 {
        return out;
    }
    let pl = u64::from(piece_length);
    for (fi, &(offset, size)) in files.iter().enumerate() {
        if size == 0 {
            continue;
        }
        let prio = file_prios
            .get(fi)
            .copied()
            .unwrap_or(DEFAULT_PRIORITY)
            .min(MAX_PRIORITY);
        let first = offset / pl;
        let last = offset.saturating_add(size - 1) / pl;
        if first >= u64::from(num_pieces) {
            continue;
        }
        let last = last.min(u64::from(num_pieces) - 1);
        for p in &mut out[first as usize..=last as usize] {
            *p = (*p).max(prio);
        }
    }
    out
}

impl PiecePicker {
    /// Recomputes every internal counter and index from scratch and compares
    /// them with the incrementally maintained ones. O(pieces + blocks); meant
    /// for tests and debugging. Returns a description of the first mismatch.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut free_wanted = 0u64;
        let mut wanted_missing = 0u32;
        let (mut wanted_bytes, mut wanted_done) = (0u64, 0u64);
        for (i, p) in self.pieces.iter().enumerate() {
            let i32_ = i as u32;
            if p.prio > 0 {
                let size = u64::from(self.piece_size(i32_));
                wanted_bytes += size;
                wanted_done += if p.have { size } else { 0 };
            }
            if p.have != self.have.get(i) {
                return Err(format!("piece {i}: have flag mismatch"));
            }
            let wanted = Self::wanted(p);
            if wanted {
                wanted_missing += 1;
                free_wanted += u64::from(self.free_blocks(i32_));
            }
            let should_bucket = wanted && p.dl == NONE && !self.dirty;
            if should_bucket != (p.pos != NONE) {
                return Err(format!("piece {i}: bucket membership wrong"));
            }
            if p.pos != NONE {
                let ok = self
                    .buckets
                    .get(usize::from(p.prio))
                    .and_then(|v| v.get(p.avail as usize))
                    .and_then(|b| b.get(p.pos as usize))
                    == Some(&i32_);
                if !ok {
                    return Err(format!("piece {i}: bucket position wrong"));
                }
            }
            if p.dl != NONE && self.downloading.get(p.dl as usize).map(|d| d.piece) != Some(i32_) {
                return Err(format!("piece {i}: downloading index wrong"));
            }
            if p.have && p.dl != NONE {
                return Err(format!("piece {i}: had but downloading"));
            }
        }
        let mut open_count = 0;
        for d in &self.downloading {
            let p = &self.pieces[d.piece as usize];
            let should_open = Self::wanted(p) && d.free > 0;
            if should_open {
                open_count += 1;
                if self.open.get(d.open_pos as usize) != Some(&d.piece) {
                    return Err(format!("piece {}: open list position wrong", d.piece));
                }
            } else if d.open_pos != NONE {
                return Err(format!("piece {}: in open list but should not be", d.piece));
            }
            let mut c = [0u32; 4];
            for (bi, b) in d.blocks.iter().enumerate() {
                c[b.state as usize] += 1;
                let br = BlockRef::new(d.piece, bi as u32);
                let n = self.dups.get(&br).map_or(0, |v| v.len());
                if n != usize::from(b.extra) {
                    return Err(format!("block {br:?}: extra {} vs {n}", b.extra));
                }
                if b.extra > 0 && b.state != BlockState::Requested {
                    return Err(format!("block {br:?}: duplicates on non-requested block"));
                }
            }
            if c != [d.free, d.requested, d.writing, d.finished] {
                return Err(format!("piece {}: block counters wrong", d.piece));
            }
        }
        if open_count != self.open.len() {
            return Err(format!(
                "open list has {} entries, want {open_count}",
                self.open.len()
            ));
        }
        if free_wanted != self.free_wanted {
            return Err(format!("free_wanted {} vs {free_wanted}", self.free_wanted));
        }
        if (wanted_bytes, wanted_done) != self.wanted_bytes() {
            return Err(format!(
                "wanted bytes {:?} vs {:?}",
                self.wanted_bytes(),
                (wanted_bytes, wanted_done)
            ));
        }
        if wanted_missing != self.wanted_missing {
            return Err(format!(
                "wanted_missing {} vs {wanted_missing}",
                self.wanted_missing
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P0: PeerKey = PeerKey(0);
    const P1: PeerKey = PeerKey(1);
    const P2: PeerKey = PeerKey(2);

    fn picker(pieces: u32, blocks: u32) -> PiecePicker {
        PiecePicker::new(
            u64::from(pieces) * u64::from(blocks * BLOCK_SIZE),
            blocks * BLOCK_SIZE,
            1,
        )
        .unwrap()
    }

    fn ok(p: &PiecePicker) {
        p.check_invariants().unwrap();
    }

    fn download_piece(p: &mut PiecePicker, i: u32, peer: PeerKey) {
        for b in 0..p.blocks_in_piece(i) {
            let br = BlockRef::new(i, b);
            p.mark_requested(br, peer);
            p.mark_received(br, peer);
            p.mark_finished(br);
        }
        assert!(p.is_piece_complete(i));
        p.piece_passed(i);
    }

    #[test]
    fn geometry_last_piece_shorter() {
        let p = PiecePicker::new(3 * 32768 + 20000, 32768, 0).unwrap();
        assert_eq!(p.num_pieces(), 4);
        assert_eq!(p.piece_size(3), 20000);
        assert_eq!(p.blocks_in_piece(3), 2);
        assert_eq!(p.block_size(BlockRef::new(3, 1)), 20000 - 16384);
        assert_eq!(p.block_size(BlockRef::new(3, 2)), 0);
        assert_eq!(p.blocks_in_piece(0), 2);
        assert_eq!(p.piece_size(4), 0);
        let small = PiecePicker::new(10000, 8192, 0).unwrap();
        assert_eq!(small.blocks_in_piece(0), 1);
        assert_eq!(small.piece_size(1), 10000 - 8192);
        assert_eq!(
            PiecePicker::new(0, 16384, 0).unwrap_err(),
            PickerError::ZeroTotalSize
        );
        assert_eq!(
            PiecePicker::new(10, 0, 0).unwrap_err(),
            PickerError::ZeroPieceLength
        );
        assert_eq!(
            PiecePicker::new(u64::MAX, 1, 0).unwrap_err(),
            PickerError::TooManyPieces
        );
    }

    #[test]
    fn rarest_first_and_availability() {
        let mut p = picker(10, 2);
        let mut a = Bitfield::full(10);
        a.clear(3);
        p.peer_bitfield(&a);
        p.peer_bitfield(&Bitfield::full(10));
        let mut only = Bitfield::new(10);
        only.set(7);
        p.peer_bitfield(&only);
        p.peer_have_all();
        assert_eq!(p.availability(3), 2);
        assert_eq!(p.availability(7), 4);
        assert_eq!(p.availability(0), 3);
        ok(&p);
        // piece 3 is rarest (1 non-seed peer), so picked first
        let got = p.pick(&Bitfield::full(10), 2, &PickOptions::new(P0));
        assert_eq!(got, vec![BlockRef::new(3, 0), BlockRef::new(3, 1)]);
        // and piece 7 (most common) is picked last
        let all = p.pick(&Bitfield::full(10), 20, &PickOptions::new(P0));
        assert_eq!(all.len(), 20);
        assert_eq!(all[18].piece, 7);
        p.peer_lost_bitfield(&a);
        p.peer_lost_have_all();
        assert_eq!(p.availability(3), 1);
        assert_eq!(p.piece_availability()[7], 2);
        ok(&p);
    }

    #[test]
    fn wanted_bytes_follow_priorities_and_haves() {
        // three full pieces of 32 KiB and a last one of 20,000 bytes
        let mut p = PiecePicker::new(3 * 32768 + 20000, 32768, 1).unwrap();
        assert_eq!(p.wanted_bytes(), (3 * 32768 + 20000, 0));
        p.set_have(3);
        p.set_have(0);
        assert_eq!(p.wanted_bytes(), (3 * 32768 + 20000, 32768 + 20000));
        p.set_piece_priority(3, 0);
        p.set_piece_priority(1, 0);
        assert_eq!(p.wanted_bytes(), (2 * 32768, 32768));
        p.clear_have(0);
        p.set_piece_priority(3, 1);
        assert_eq!(p.wanted_bytes(), (32768 * 2 + 20000, 20000));
        ok(&p);
    }

    #[test]
    fn buckets_are_built_at_the_first_pick() {
        let mut p = PiecePicker::new(8 * 16384, 16384, 5).unwrap();
        p.set_piece_priority(2, 7);
        p.peer_have(2);
        p.peer_have(6);
        p.peer_have(6);
        assert!(
            p.buckets.is_empty(),
            "an idle torrent's picker allocates none"
        );
        ok(&p);
        let got: Vec<u32> = p
            .pick(&Bitfield::full(8), 8 * 16, &PickOptions::new(P0))
            .iter()
            .map(|b| b.piece)
            .collect();
        // the high-priority piece first, the most common one last
        assert_eq!(got[0], 2);
        assert_eq!(got[got.len() - 1], 6);
        assert!(!p.buckets.is_empty());
        ok(&p);
    }

    #[test]
    fn bulk_bitfields_rebuild_buckets_lazily() {
        let n = 10_000u32;
        let mut p = PiecePicker::new(u64::from(n) * 16384, 16384, 3).unwrap();
        let mut most = Bitfield::full(n as usize);
        for i in 5000..5010 {
            most.clear(i);
        }
        p.peer_bitfield(&most);
        p.peer_bitfield(&most);
        let mut few = Bitfield::new(n as usize);
        few.set(5003);
        p.peer_bitfield(&few); // small: incremental path
        ok(&p);
        assert_eq!(p.availability(5003), 1);
        assert_eq!(p.availability(4999), 2);
        let got: Vec<u32> = p
            .pick(&Bitfield::full(n as usize), 10, &PickOptions::new(P0))
            .iter()
            .map(|b| b.piece)
            .collect();
        // the ten pieces nobody else has; 5003 (one peer) comes last
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (5000..5010).collect::<Vec<u32>>());
        assert_eq!(got[9], 5003);
        let mut first9 = got[..9].to_vec();
        first9.sort_unstable();
        assert_ne!(got[..9], first9[..], "ties are shuffled");
        ok(&p);
        p.peer_lost_bitfield(&most);
        p.peer_lost_bitfield(&most);
        ok(&p);
        assert_eq!(p.availability(4999), 0);
        assert_eq!(p.availability(5003), 1);
        // piece 5003 is now the most common one: picked last
        let got = p.pick(
            &Bitfield::full(n as usize),
            n as usize,
            &PickOptions::new(P0),
        );
        assert_eq!(got.len(), n as usize);
        assert_eq!(got[n as usize - 1].piece, 5003);
        ok(&p);
    }

    #[test]
    fn random_tie_breaking_depends_on_seed() {
        let firsts: Vec<u32> = (0..20)
            .map(|seed| {
                let mut p = PiecePicker::new(100 * 16384, 16384, seed).unwrap();
                p.pick(&Bitfield::full(100), 1, &PickOptions::new(P0))[0].piece
            })
            .collect();
        let mut distinct = firsts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 10, "{firsts:?}");
        // same seed, same answer
        let mut p1 = PiecePicker::new(100 * 16384, 16384, 5).unwrap();
        let mut p2 = PiecePicker::new(100 * 16384, 16384, 5).unwrap();
        let o = PickOptions::new(P0);
        assert_eq!(
            p1.pick(&Bitfield::full(100), 30, &o),
            p2.pick(&Bitfield::full(100), 30, &o)
        );
    }

    #[test]
    fn respects_peer_bitfield_and_priority_zero() {
        let mut p = picker(8, 1);
        for i in 0..8 {
            p.set_piece_priority(i, 0);
        }
        p.set_piece_priority(5, 1);
        p.set_piece_priority(6, 7);
        ok(&p);
        let got = p.pick(&Bitfield::full(8), 10, &PickOptions::new(P0));
        assert_eq!(got, vec![BlockRef::new(6, 0), BlockRef::new(5, 0)]);
        let mut has = Bitfield::new(8);
        has.set(5);
        has.set(1);
        let got = p.pick(&has, 10, &PickOptions::new(P0));
        assert_eq!(got, vec![BlockRef::new(5, 0)]);
        assert_eq!(p.num_wanted_missing(), 2);
        download_piece(&mut p, 5, P0);
        download_piece(&mut p, 6, P0);
        assert!(p.is_finished());
        assert!(!p.is_seeding());
        assert!(p
            .pick(&Bitfield::full(8), 10, &PickOptions::new(P0))
            .is_empty());
        ok(&p);
    }

    #[test]
    fn partial_pieces_are_finished_first() {
        let mut p = picker(20, 4);
        p.peer_bitfield(&Bitfield::full(20));
        // make piece 9 the most common, then start it
        p.peer_have(9);
        p.mark_requested(BlockRef::new(9, 0), P1);
        p.mark_requested(BlockRef::new(9, 2), P1);
        ok(&p);
        let got = p.pick(&Bitfield::full(20), 3, &PickOptions::new(P0));
        assert_eq!(got, vec![BlockRef::new(9, 1), BlockRef::new(9, 3), got[2]]);
        assert_ne!(got[2].piece, 9);
    }

    #[test]
    fn block_lifecycle_and_download_queue() {
        let mut p = picker(4, 3);
        let b0 = BlockRef::new(2, 0);
        let b1 = BlockRef::new(2, 1);
        assert!(p.mark_requested(b0, P0));
        assert!(p.mark_requested(b1, P1));
        let q = p.download_queue();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].piece, 2);
        assert_eq!(q[0].requested, 2);
        assert_eq!(q[0].blocks[1].peer, Some(P1));
        assert_eq!(q[0].blocks[2].state, BlockState::Free);
        assert_eq!(p.mark_received(b0, P0), Some(vec![]));
        assert_eq!(p.block_state(b0), BlockState::Writing);
        assert_eq!(p.mark_received(b0, P2), None, "duplicate data not needed");
        assert!(!p.mark_finished(b0));
        assert_eq!(p.block_state(b0), BlockState::Finished);
        assert!(!p.mark_requested(b0, P2));
        let info = p.partial_piece(2).unwrap();
        assert_eq!((info.requested, info.writing, info.finished), (1, 0, 1));
        assert_eq!(info.blocks[0].bytes_progress, BLOCK_SIZE);
        // abort brings the block back and the piece stays partial
        p.mark_aborted(b1, P1);
        assert_eq!(p.block_state(b1), BlockState::Free);
        ok(&p);
        // aborting every request of an otherwise untouched piece drops it
        p.mark_requested(BlockRef::new(1, 0), P2);
        assert_eq!(p.abort_peer(P2), vec![BlockRef::new(1, 0)]);
        assert!(p.partial_piece(1).is_none());
        ok(&p);
        for b in 1..3 {
            let br = BlockRef::new(2, b);
            p.mark_requested(br, P1);
            p.mark_received(br, P1);
        }
        assert!(!p.mark_finished(BlockRef::new(2, 1)));
        assert!(p.mark_finished(BlockRef::new(2, 2)));
        assert!(p.is_piece_complete(2));
        p.piece_passed(2);
        assert!(p.have_piece(2));
        assert_eq!(p.num_have(), 1);
        assert!(p.partial_piece(2).is_none());
        assert_eq!(p.block_state(b0), BlockState::Finished);
        assert_eq!(p.mark_received(b0, P0), None);
        assert_eq!(p.bytes_done(), 3 * u64::from(BLOCK_SIZE));
        ok(&p);
    }

    #[test]
    fn hash_failure_resets_and_names_peers() {
        let mut p = picker(3, 3);
        for (b, peer) in [(0, P0), (1, P1), (2, P0)] {
            let br = BlockRef::new(1, b);
            p.mark_requested(br, peer);
            p.mark_received(br, peer);
            p.mark_finished(br);
        }
        let mut bad = p.piece_failed(1);
        bad.sort();
        assert_eq!(bad, vec![P0, P1]);
        assert!(p.partial_piece(1).is_none());
        assert_eq!(p.num_free_wanted_blocks(), 9);
        assert!(!p.have_piece(1));
        ok(&p);
        let got = p.pick(&Bitfield::full(3), 9, &PickOptions::new(P0));
        assert_eq!(got.len(), 9);
    }

    #[test]
    fn pad_blocks_count_as_received() {
        let mut p = picker(2, 4);
        p.mark_pad_block(BlockRef::new(1, 2));
        p.mark_pad_block(BlockRef::new(1, 3));
        ok(&p);
        assert_eq!(p.block_state(BlockRef::new(1, 3)), BlockState::Finished);
        let got = p.pick(&Bitfield::full(2), 10, &PickOptions::new(P0));
        assert_eq!(got.len(), 6);
        assert!(!got.contains(&BlockRef::new(1, 2)));
        for b in 0..2 {
            let br = BlockRef::new(1, b);
            p.mark_requested(br, P0);
            p.mark_received(br, P1);
        }
        assert!(!p.mark_finished(BlockRef::new(1, 0)));
        assert!(p.mark_finished(BlockRef::new(1, 1)));
        // hash failure: the pads stay finished, peers are the real senders
        assert_eq!(p.piece_failed(1), vec![P1]);
        assert_eq!(p.block_state(BlockRef::new(1, 2)), BlockState::Finished);
        assert_eq!(p.block_state(BlockRef::new(1, 0)), BlockState::Free);
        assert_eq!(p.num_free_wanted_blocks(), 6);
        ok(&p);
    }

    #[test]
    fn sequential_mode_picks_in_order() {
        let mut p = PiecePicker::new(50 * 16384, 16384, 9).unwrap();
        p.set_sequential(true);
        p.set_piece_priority(3, 0);
        let got = p.pick(&Bitfield::full(50), 5, &PickOptions::new(P0));
        let pieces: Vec<u32> = got.iter().map(|b| b.piece).collect();
        assert_eq!(pieces, vec![0, 1, 2, 4, 5]);
        for b in &got {
            p.mark_requested(*b, P0);
        }
        let got = p.pick(&Bitfield::full(50), 2, &PickOptions::new(P1));
        assert_eq!(got, vec![BlockRef::new(6, 0), BlockRef::new(7, 0)]);
        ok(&p);
    }

    #[test]
    fn received_pieces_deadline_list_and_pad_blocks() {
        // two blocks per piece
        let mut p = PiecePicker::new(4 * 32768, 32768, 3).unwrap();
        p.set_piece_deadline(2, 20);
        p.set_piece_deadline(1, 10);
        assert_eq!(p.deadlines().collect::<Vec<_>>(), vec![(10, 1), (20, 2)]);
        let (a, b) = (BlockRef::new(1, 0), BlockRef::new(1, 1));
        assert!(!p.is_piece_received(1));
        assert!(p.mark_requested(a, P0));
        assert!(p.mark_received(a, P0).is_some());
        assert!(!p.is_piece_received(1), "one block still free");
        assert!(!p.mark_finished(b));
        assert!(p.is_piece_received(1), "one writing, one finished");
        p.mark_pad_block(BlockRef::new(3, 1));
        assert!(p.is_pad_block(BlockRef::new(3, 1)));
        assert!(!p.is_pad_block(BlockRef::new(3, 0)));
        ok(&p);
    }

    #[test]
    fn deadlines_first_earliest_first() {
        let mut p = PiecePicker::new(50 * 16384, 16384, 9).unwrap();
        p.set_sequential(true);
        p.set_piece_deadline(40, 300);
        p.set_piece_deadline(20, 100);
        p.set_piece_deadline(30, 200);
        p.set_piece_deadline(30, 50); // moved earlier
        let got = p.pick(&Bitfield::full(50), 4, &PickOptions::new(P0));
        let pieces: Vec<u32> = got.iter().map(|b| b.piece).collect();
        assert_eq!(pieces, vec![30, 20, 40, 0]);
        assert_eq!(p.piece_deadline(30), Some(50));
        download_piece(&mut p, 30, P0);
        assert_eq!(p.piece_deadline(30), None);
        p.clear_piece_deadline(20);
        let got = p.pick(&Bitfield::full(50), 1, &PickOptions::new(P0));
        assert_eq!(got[0].piece, 40);
    }

    #[test]
    fn choked_peer_only_allowed_fast_and_suggested_preferred() {
        let mut p = picker(10, 1);
        let mut o = PickOptions::new(P0);
        o.peer_choking = true;
        assert!(p.pick(&Bitfield::full(10), 5, &o).is_empty());
        let af = [2u32, 8, 5];
        let sug = [5u32, 1];
        o.allowed_fast = &af;
        o.suggested = &sug;
        let got: Vec<u32> = p
            .pick(&Bitfield::full(10), 5, &o)
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got, vec![5, 2, 8]);
        // unchoked: suggested pieces come before rarest-first
        o.peer_choking = false;
        let got: Vec<u32> = p
            .pick(&Bitfield::full(10), 2, &o)
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got, vec![5, 1]);
    }

    #[test]
    fn end_game_duplicates_bounded_and_cancelled() {
        let mut p = picker(2, 2);
        let all = Bitfield::full(2);
        let got = p.pick(&all, 10, &PickOptions::new(P0));
        assert_eq!(got.len(), 4);
        for b in &got {
            assert!(p.mark_requested(*b, P0));
        }
        assert!(p.is_end_game());
        // P0 already has them all: nothing to duplicate for it
        assert!(p.pick(&all, 10, &PickOptions::new(P0)).is_empty());
        let mut o = PickOptions::new(P1);
        o.max_requesters = 2;
        let dup = p.pick(&all, 10, &o);
        assert_eq!(dup.len(), 4);
        for b in &dup {
            assert!(p.mark_requested(*b, P1));
        }
        ok(&p);
        // bound reached: a third peer gets nothing
        let mut o2 = PickOptions::new(P2);
        o2.max_requesters = 2;
        assert!(p.pick(&all, 10, &o2).is_empty());
        o2.max_requesters = 3;
        assert_eq!(p.pick(&all, 10, &o2).len(), 4);
        o2.end_game = false;
        assert!(p.pick(&all, 10, &o2).is_empty());
        let b = BlockRef::new(0, 1);
        assert_eq!(p.block_requesters(b), vec![P0, P1]);
        assert_eq!(p.partial_piece(0).unwrap().blocks[1].num_peers, 2);
        assert_eq!(p.mark_received(b, P1), Some(vec![P0]));
        assert!(p.block_requesters(b).is_empty());
        ok(&p);
        // aborting the first requester promotes the duplicate
        let c = BlockRef::new(1, 0);
        p.mark_aborted(c, P0);
        assert_eq!(p.block_state(c), BlockState::Requested);
        assert_eq!(p.block_requesters(c), vec![P1]);
        p.mark_aborted(c, P1);
        assert_eq!(p.block_state(c), BlockState::Free);
        assert!(!p.is_end_game());
        ok(&p);
    }

    #[test]
    fn priority_changes_move_pieces() {
        let mut p = picker(6, 1);
        p.peer_bitfield(&Bitfield::full(6));
        p.set_piece_priority(4, 7);
        p.set_piece_priority(1, 1);
        ok(&p);
        let got: Vec<u32> = p
            .pick(&Bitfield::full(6), 6, &PickOptions::new(P0))
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got[0], 4);
        assert_eq!(got[5], 1);
        assert!(!p.set_piece_priority(4, 9)); // clamps to 7: unchanged
        assert_eq!(p.piece_priority(4), 7);
        p.set_have(2);
        p.set_piece_priority(2, 0);
        assert!(p.have_piece(2));
        p.clear_have(2);
        assert_eq!(p.num_wanted_missing(), 5);
        ok(&p);
    }

    #[test]
    fn random_operations_keep_invariants() {
        let mut rng = Rng::new(77);
        // 37 pieces of 3 blocks, last one shorter (2 blocks)
        let mut p = PiecePicker::new(36 * 3 * 16384 + 20000, 3 * 16384, 5).unwrap();
        let np = p.num_pieces();
        let peers: Vec<Bitfield> = (0..6)
            .map(|k| {
                let mut b = Bitfield::new(np as usize);
                for i in 0..np {
                    if (i + k) % 3 != 0 {
                        b.set(i as usize);
                    }
                }
                b
            })
            .collect();
        let mut passed = 0;
        let mut failed = 0;
        for step in 0..6_000u32 {
            let piece = rng.below(np as usize + 2) as u32; // sometimes out of range
            let blk = BlockRef::new(piece, rng.below(4) as u32);
            let peer = PeerKey(rng.below(6) as u32);
            match rng.below(16) {
                0 => p.peer_have(piece),
                1 => p.peer_lost_have(piece),
                2 => {
                    p.set_piece_priority(piece, rng.below(8) as u8);
                }
                3 => {
                    p.mark_requested(blk, peer);
                }
                4 => {
                    p.mark_received(blk, peer);
                }
                5 => {
                    if p.mark_finished(blk) {
                        if rng.below(4) == 0 {
                            p.piece_failed(blk.piece);
                            failed += 1;
                        } else {
                            p.piece_passed(blk.piece);
                            passed += 1;
                        }
                    }
                }
                6 => p.mark_aborted(blk, peer),
                7 => {
                    p.abort_peer(peer);
                }
                8 => p.mark_pad_block(blk),
                9 => p.clear_have(piece),
                10 => p.set_piece_deadline(piece, u64::from(step)),
                11 => p.set_sequential(rng.below(2) == 0),
                12 => p.mark_write_failed(blk),
                _ => {
                    let k = peer.0 as usize;
                    let mut o = PickOptions::new(peer);
                    let af = [piece, (piece + 7) % np];
                    if rng.below(3) == 0 {
                        o.peer_choking = true;
                        o.allowed_fast = &af;
                    }
                    let got = p.pick(&peers[k], 1 + rng.below(8), &o);
                    let mut seen = HashMap::new();
                    for b in &got {
                        assert!(peers[k].get(b.piece as usize));
                        assert!(p.piece_priority(b.piece) > 0);
                        assert!(!p.have_piece(b.piece));
                        assert!(seen.insert(*b, ()).is_none(), "block picked twice");
                        if o.peer_choking {
                            assert!(af.contains(&b.piece));
                        }
                        p.mark_requested(*b, peer);
                    }
                }
            }
            if let Err(e) = p.check_invariants() {
                panic!("step {step}: {e}");
            }
        }
        assert!(passed > 10 && failed > 2, "{passed} {failed}");
    }

    #[test]
    fn file_priority_mapping() {
        // piece length 100; files: [0,150) prio 0, [150,150) empty prio 7,
        // [150,420) prio 2, [420,500) prio 0
        let files = [(0, 150), (150, 0), (150, 270), (420, 80)];
        let prios = [0, 7, 2, 0];
        let got = file_priorities_to_piece_priorities(&files, &prios, 100, 5);
        assert_eq!(got, vec![0, 2, 2, 2, 2]);
        let got = file_priorities_to_piece_priorities(&files, &[1], 100, 5);
        assert_eq!(got, vec![1, 4, 4, 4, 4]);
    }
}
