//! The part file: where bytes of pieces that overlap a skipped file
//! (priority 0) are kept, so the skipped file itself is never created.
//!
//! Layout (our own format, little endian):
//! `b"LTRSPRT1"`, `num_pieces: u32`, `piece_length: u32`, then one `u32` per
//! piece giving its slot (`u32::MAX` = none); the data area starts at the
//! next multiple of 4 KiB and slot `s` holds a whole piece's worth of bytes at
//! `data_start + s * piece_length` (only the ranges of skipped files are
//! meaningful). Slots are allocated on first write and reused when freed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Context, ErrorFile, Operation, Result, StorageError};

const MAGIC: &[u8; 8] = b"LTRSPRT1";
const NO_SLOT: u32 = u32::MAX;

pub(crate) struct PartFile {
    path: PathBuf,
    num_pieces: u32,
    piece_length: u32,
    /// Piece → slot. A `BTreeMap`: 24 bytes while empty, which it is for
    /// nearly every torrent (a `HashMap` is 48).
    slots: BTreeMap<u32, u32>,
    free: Vec<u32>,
    next_slot: u32,
    file: Option<File>,
    loaded: bool,
}

fn perr(e: io::Error, op: Operation) -> StorageError {
    StorageError::new(e, ErrorFile::PartFile, op)
}

impl PartFile {
    pub(crate) fn new(path: PathBuf, num_pieces: u32, piece_length: u32) -> Self {
        Self {
            path,
            num_pieces,
            piece_length,
            slots: BTreeMap::new(),
            free: Vec::new(),
            next_slot: 0,
            file: None,
            loaded: false,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn data_start(&self) -> u64 {
        let header = 16 + 4 * u64::from(self.num_pieces);
        header.div_ceil(4096) * 4096
    }

    fn slot_pos(&self, slot: u32) -> u64 {
        self.data_start() + u64::from(slot) * u64::from(self.piece_length)
    }

    /// Reads the slot table of an existing part file, once.
    fn load(&mut self) -> Result<()> {
        if self.loaded {
            return Ok(());
        }
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.loaded = true;
                return Ok(());
            }
            Err(e) => return Err(perr(e, Operation::PartfileRead)),
        };
        let mut head = [0u8; 16];
        f.read_exact_at(&mut head, 0)
            .ctx(ErrorFile::PartFile, Operation::PartfileRead)?;
        let bad = |m: &str| {
            perr(
                io::Error::new(io::ErrorKind::InvalidData, m.to_string()),
                Operation::PartfileRead,
            )
        };
        if &head[..8] != MAGIC {
            return Err(bad("part file: bad magic"));
        }
        let np = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        let pl = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        if np != self.num_pieces || pl != self.piece_length {
            return Err(bad("part file: piece geometry does not match the torrent"));
        }
        let mut table = vec![0u8; 4 * self.num_pieces as usize];
        f.read_exact_at(&mut table, 16)
            .ctx(ErrorFile::PartFile, Operation::PartfileRead)?;
        let mut used = vec![false; self.num_pieces as usize];
        let mut max_slot = 0u32;
        for (piece, chunk) in table.chunks_exact(4).enumerate() {
            let slot = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if slot == NO_SLOT {
                continue;
            }
            match used.get_mut(slot as usize) {
                Some(u) if !*u => *u = true,
                _ => return Err(bad("part file: invalid slot table")),
            }
            self.slots.insert(piece as u32, slot);
            max_slot = max_slot.max(slot + 1);
        }
        self.next_slot = max_slot;
        self.free = (0..max_slot).filter(|s| !used[*s as usize]).rev().collect();
        self.file = None;
        self.loaded = true;
        Ok(())
    }

    fn open_rw(&mut self) -> Result<&File> {
        if self.file.is_none() {
            let existed = self.path.exists();
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent).ctx(ErrorFile::PartFile, Operation::Mkdir)?;
            }
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)
                .ctx(ErrorFile::PartFile, Operation::FileOpen)?;
            if !existed || f.metadata().map(|m| m.len()).unwrap_or(0) < 16 {
                let mut head = Vec::with_capacity(16 + 4 * self.num_pieces as usize);
                head.extend_from_slice(MAGIC);
                head.extend_from_slice(&self.num_pieces.to_le_bytes());
                head.extend_from_slice(&self.piece_length.to_le_bytes());
                for p in 0..self.num_pieces {
                    let s = self.slots.get(&p).copied().unwrap_or(NO_SLOT);
                    head.extend_from_slice(&s.to_le_bytes());
                }
                f.write_all_at(&head, 0)
                    .ctx(ErrorFile::PartFile, Operation::PartfileWrite)?;
            }
            self.file = Some(f);
        }
        match &self.file {
            Some(f) => Ok(f),
            None => Err(perr(
                io::Error::other("part file not open"),
                Operation::FileOpen,
            )),
        }
    }

    /// Pieces that have a slot.
    pub(crate) fn pieces(&mut self) -> Result<Vec<u32>> {
        self.load()?;
        let mut v: Vec<u32> = self.slots.keys().copied().collect();
        v.sort_unstable();
        Ok(v)
    }

    /// Writes `data` at `offset` inside `piece`'s slot, allocating it.
    pub(crate) fn write(&mut self, piece: u32, offset: u32, data: &[u8]) -> Result<()> {
        self.load()?;
        if u64::from(offset) + data.len() as u64 > u64::from(self.piece_length)
            || piece >= self.num_pieces
        {
            return Err(perr(
                io::Error::new(io::ErrorKind::InvalidInput, "part file write out of range"),
                Operation::PartfileWrite,
            ));
        }
        let slot = match self.slots.get(&piece) {
            Some(s) => *s,
            None => {
                let s = match self.free.pop() {
                    Some(s) => s,
                    None => {
                        self.next_slot += 1;
                        self.next_slot - 1
                    }
                };
                let f = self.open_rw()?;
                f.write_all_at(&s.to_le_bytes(), 16 + 4 * u64::from(piece))
                    .ctx(ErrorFile::PartFile, Operation::PartfileWrite)?;
                self.slots.insert(piece, s);
                s
            }
        };
        let pos = self.slot_pos(slot) + u64::from(offset);
        let f = self.open_rw()?;
        f.write_all_at(data, pos)
            .ctx(ErrorFile::PartFile, Operation::PartfileWrite)
    }

    /// Reads into `buf` from `offset` inside `piece`'s slot. Returns
    /// `Ok(false)` (leaving `buf` untouched) when the piece has no slot.
    pub(crate) fn read(&mut self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<bool> {
        self.load()?;
        let Some(&slot) = self.slots.get(&piece) else {
            return Ok(false);
        };
        let pos = self.slot_pos(slot) + u64::from(offset);
        let f = self.open_rw()?;
        // Bytes never written inside a slot read as zeros (sparse file).
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], pos + done as u64) {
                Ok(0) => {
                    buf[done..].fill(0);
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(perr(e, Operation::PartfileRead)),
            }
        }
        Ok(true)
    }

    /// Forgets `piece`'s slot; deletes the file when no slot is left.
    pub(crate) fn free_piece(&mut self, piece: u32) -> Result<()> {
        self.load()?;
        let Some(slot) = self.slots.remove(&piece) else {
            return Ok(());
        };
        if self.slots.is_empty() {
            return self.delete();
        }
        self.free.push(slot);
        let f = self.open_rw()?;
        f.write_all_at(&NO_SLOT.to_le_bytes(), 16 + 4 * u64::from(piece))
            .ctx(ErrorFile::PartFile, Operation::PartfileWrite)
    }

    /// Closes the handle (it is reopened on demand).
    pub(crate) fn close(&mut self) {
        self.file = None;
    }

    /// Removes the file from disk and forgets every slot.
    pub(crate) fn delete(&mut self) -> Result<()> {
        self.file = None;
        self.slots.clear();
        self.free.clear();
        self.next_slot = 0;
        self.loaded = true;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(perr(e, Operation::FileRemove)),
        }
    }

    /// Moves the file to `new_path` (rename, or copy and remove across file
    /// systems). The in-memory table follows.
    pub(crate) fn move_to(&mut self, new_path: PathBuf) -> Result<()> {
        self.file = None;
        if self.path.exists() {
            crate::storage::move_file(&self.path, &new_path)
                .map_err(|e| perr(e, Operation::PartfileMove))?;
        }
        self.path = new_path;
        Ok(())
    }

    /// Points at a new location without touching disk (the table is reloaded
    /// from there on next use).
    pub(crate) fn set_path(&mut self, new_path: PathBuf) {
        self.file = None;
        self.slots.clear();
        self.free.clear();
        self.next_slot = 0;
        self.loaded = false;
        self.path = new_path;
    }
}
