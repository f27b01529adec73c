//! lt-metainfo: torrent metadata. The file layout of a torrent
//! ([`FileStorage`]), parsing of `.torrent` files ([`TorrentInfo`]) and
//! magnet links ([`magnet`]).

pub mod create;
pub mod error;
pub mod file_storage;
pub mod hasher;
pub mod magnet;
pub mod merkle;
pub mod sanitize;
pub mod torrent_info;

pub use error::{BdecodeError, Category, MetainfoError};
pub use file_storage::{FileFlags, FileSlice, FileStorage, FileStorageError, NewFile, PeerRequest};
pub use torrent_info::{LoadLimits, TorrentInfo, Tracker, TrackerSource, WebSeed, WebSeedKind};
