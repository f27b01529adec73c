//! What the storage needs to know about a torrent's files.
//!
//! [`FileLayout`] is the narrow view of a torrent's file list that the disk
//! layer uses: sizes, offsets in the torrent's byte stream, relative paths,
//! pad and symlink flags, the piece geometry and the mapping of a byte range
//! of a piece onto file slices.

use std::path::PathBuf;

/// A contiguous part of one file that a range of a piece maps onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSlice {
    /// Index of the file in the torrent's file list.
    pub file_index: usize,
    /// Byte offset inside that file.
    pub offset: u64,
    /// Number of bytes.
    pub size: u64,
}

/// The file list of one torrent as seen by the disk layer.
///
/// Implementations must be consistent: files are laid end to end in index
/// order (`file_offset(i + 1) == file_offset(i) + file_size(i)`), pieces cover
/// `total_size()` bytes, and `map_block` returns the slices of a range in
/// order, their sizes summing to the (clamped) range length.
pub trait FileLayout: Send + Sync + 'static {
    /// Number of files, pad files included.
    fn num_files(&self) -> usize;
    /// Size in bytes of file `index`.
    fn file_size(&self, index: usize) -> u64;
    /// Offset of file `index` in the torrent's concatenated byte stream.
    fn file_offset(&self, index: usize) -> u64;
    /// Path of file `index` relative to the save path (for a multi-file
    /// torrent this starts with the torrent's name). Already sanitised: no
    /// `..`, no absolute components.
    fn file_path(&self, index: usize) -> PathBuf;
    /// Whether file `index` is a pad file (BEP 47): it is never created on
    /// disk and reads as zeros.
    fn pad_file_at(&self, index: usize) -> bool;
    /// For a BEP 47 symlink entry, the link target, relative to the save
    /// path in the same way as [`file_path`](Self::file_path). `None` for
    /// regular files.
    fn symlink_target(&self, index: usize) -> Option<PathBuf>;
    /// Nominal piece length.
    fn piece_length(&self) -> u32;
    /// Number of pieces.
    fn num_pieces(&self) -> u32;
    /// Size of piece `piece` (the last piece may be shorter).
    fn piece_size(&self, piece: u32) -> u32;
    /// Total size of all files, pad files included.
    fn total_size(&self) -> u64;
    /// Maps `size` bytes starting `offset` bytes into piece `piece` onto the
    /// file slices that hold them, in order. Zero-sized files are skipped.
    /// A range past the end of the torrent is clamped.
    fn map_block(&self, piece: u32, offset: u32, size: u32) -> Vec<FileSlice>;

    /// Bytes of `piece` covered by v2 hashes: v2 pieces never span files,
    /// so this is the piece's bytes up to the end of the file it starts in
    /// (pad files excluded). The default derives it from
    /// [`map_block`](Self::map_block): the size of the piece's first file
    /// slice, or 0 when the piece starts in a pad file.
    fn piece_size_v2(&self, piece: u32) -> u32 {
        let slices = self.map_block(piece, 0, self.piece_size(piece));
        match slices.first() {
            Some(s) if !self.pad_file_at(s.file_index) => s.size as u32,
            _ => 0,
        }
    }
}

/// [`FileLayout`] for the metadata layer's file list; the mapping of piece
/// ranges onto files is `FileStorage::map_block`.
impl FileLayout for lt_metainfo::FileStorage {
    fn num_files(&self) -> usize {
        lt_metainfo::FileStorage::num_files(self)
    }
    fn file_size(&self, index: usize) -> u64 {
        lt_metainfo::FileStorage::file_size(self, index).max(0) as u64
    }
    fn file_offset(&self, index: usize) -> u64 {
        lt_metainfo::FileStorage::file_offset(self, index).max(0) as u64
    }
    fn file_path(&self, index: usize) -> PathBuf {
        PathBuf::from(lt_metainfo::FileStorage::file_path(self, index, ""))
    }
    fn pad_file_at(&self, index: usize) -> bool {
        lt_metainfo::FileStorage::pad_file_at(self, index)
    }
    fn symlink_target(&self, index: usize) -> Option<PathBuf> {
        let flags = self.file_flags(index);
        if !flags.contains(lt_metainfo::FileFlags::SYMLINK) {
            return None;
        }
        Some(PathBuf::from(self.symlink(index)))
    }
    fn piece_length(&self) -> u32 {
        lt_metainfo::FileStorage::piece_length(self).max(0) as u32
    }
    fn num_pieces(&self) -> u32 {
        lt_metainfo::FileStorage::num_pieces(self).max(0) as u32
    }
    fn piece_size(&self, piece: u32) -> u32 {
        match i32::try_from(piece) {
            Ok(p) => lt_metainfo::FileStorage::piece_size(self, p).max(0) as u32,
            Err(_) => 0,
        }
    }
    fn total_size(&self) -> u64 {
        lt_metainfo::FileStorage::total_size(self).max(0) as u64
    }
    fn map_block(&self, piece: u32, offset: u32, size: u32) -> Vec<FileSlice> {
        let Ok(p) = i32::try_from(piece) else {
            return Vec::new();
        };
        lt_metainfo::FileStorage::map_block(self, p, i64::from(offset), i64::from(size))
            .into_iter()
            .map(|s| FileSlice {
                file_index: s.file_index,
                offset: s.offset.max(0) as u64,
                size: s.size.max(0) as u64,
            })
            .collect()
    }
    fn piece_size_v2(&self, piece: u32) -> u32 {
        match i32::try_from(piece) {
            Ok(p) => self.piece_size2(p).max(0) as u32,
            Err(_) => 0,
        }
    }
}

/// [`FileLayout`] for a whole torrent: its file list, shared with the
/// engine through the `Arc` the torrent already holds instead of a copy.
impl FileLayout for lt_metainfo::TorrentInfo {
    fn num_files(&self) -> usize {
        FileLayout::num_files(self.files())
    }
    fn file_size(&self, index: usize) -> u64 {
        FileLayout::file_size(self.files(), index)
    }
    fn file_offset(&self, index: usize) -> u64 {
        FileLayout::file_offset(self.files(), index)
    }
    fn file_path(&self, index: usize) -> PathBuf {
        FileLayout::file_path(self.files(), index)
    }
    fn pad_file_at(&self, index: usize) -> bool {
        FileLayout::pad_file_at(self.files(), index)
    }
    fn symlink_target(&self, index: usize) -> Option<PathBuf> {
        FileLayout::symlink_target(self.files(), index)
    }
    fn piece_length(&self) -> u32 {
        FileLayout::piece_length(self.files())
    }
    fn num_pieces(&self) -> u32 {
        FileLayout::num_pieces(self.files())
    }
    fn piece_size(&self, piece: u32) -> u32 {
        FileLayout::piece_size(self.files(), piece)
    }
    fn total_size(&self) -> u64 {
        FileLayout::total_size(self.files())
    }
    fn map_block(&self, piece: u32, offset: u32, size: u32) -> Vec<FileSlice> {
        FileLayout::map_block(self.files(), piece, offset, size)
    }
    fn piece_size_v2(&self, piece: u32) -> u32 {
        FileLayout::piece_size_v2(self.files(), piece)
    }
}
