//! The disk layer of libtorrent-rs.
//!
//! * [`TorrentStorage`]: one torrent's files under its save path. Maps piece
//!   ranges onto file slices (pieces spanning files), positional reads and
//!   writes, never creates pad files, creates files and directories lazily,
//!   sparse by default ([`StorageMode`]), keeps bytes of pieces shared with
//!   skipped (priority 0) files in a part file, creates BEP 47 symlinks,
//!   moves, renames and deletes.
//! * [`FilePool`]: a bounded LRU pool of open files shared by all torrents.
//! * [`DiskIo`]: the service the session engine talks to. Thread pools for
//!   IO (`aio_threads`) and hashing (`hashing_threads`), a bounded write
//!   cache with hashing on write, file checking, and completions delivered
//!   through a non-blocking [`CompletionSink`] (a closure or a
//!   `std::sync::mpsc::Sender`), so the crate does not depend on an async
//!   runtime.
//!
//! The file list comes through the [`FileLayout`] trait.
//!
//! # Example
//! ```
//! use std::sync::{mpsc, Arc};
//! use lt_metainfo::{FileFlags, FileStorage};
//! use lt_storage::{Completion, DiskIo, DiskIoConfig, HashKinds, StorageParams};
//!
//! let mut fs = FileStorage::new();
//! fs.add_file("demo/a.bin", 20_000, FileFlags::NONE, 0, "").unwrap();
//! fs.set_piece_length(16 * 1024);
//! fs.compute_num_pieces();
//! let dir = std::env::temp_dir().join(format!("lt-storage-doc-{}", std::process::id()));
//!
//! let (tx, rx) = mpsc::channel();
//! let io = DiskIo::new(DiskIoConfig::default(), tx).unwrap();
//! let id = io.add_storage(StorageParams::new(Arc::new(fs), &dir), HashKinds::V1);
//! io.async_write(id, 1, 0, vec![7u8; 20_000 - 16_384]);
//! io.async_hash(id, 1);
//! // The write completes first, then the hash of the (now written) piece.
//! assert!(matches!(rx.recv().unwrap(), Completion::Write { result: Ok(()), .. }));
//! match rx.recv().unwrap() {
//!     Completion::Hash { piece: 1, result: Ok(h), .. } => {
//!         assert_eq!(h.v1, Some(lt_core::Sha1Hash::digest(&[7u8; 20_000 - 16_384])));
//!     }
//!     c => panic!("{c:?}"),
//! }
//! drop(io);
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Every IO failure is reported as a [`StorageError`]: the `io::Error`
//! (errno), the file index ([`ErrorFile`]) and the [`Operation`], ready for
//! a `file_error_alert`. Nothing here panics on IO errors (disk full,
//! read-only paths, missing files).

pub mod disk_io;
pub mod error;
pub mod layout;
mod part_file;
pub mod pool;
pub mod storage;

pub use disk_io::{
    CheckResult, Completion, CompletionSink, DiskIo, DiskIoConfig, DiskStats, HashKinds, PieceHash,
    PieceVerifier, StorageId, BLOCK_SIZE,
};
pub use error::{ErrorFile, Operation, Result, StorageError};
pub use layout::{FileLayout, FileSlice};
pub use pool::{FilePool, OpenFile, OpenFlags, OpenMode};
pub use storage::{
    DeleteFlags, MoveFlags, StorageMode, StorageParams, TorrentStorage, DEFAULT_PRIORITY,
};
