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
pub use pool::{FilePool, OpenMode};
pub use storage::{
    DeleteFlags, MoveFlags, StorageMode, StorageParams, TorrentStorage, DEFAULT_PRIORITY,
};
