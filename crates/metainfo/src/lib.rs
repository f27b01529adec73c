//! lt-metainfo: torrent metadata. The file layout of a torrent
//! ([`FileStorage`]), parsing of `.torrent` files ([`TorrentInfo`]) and
//! magnet links.

pub mod file_storage;

pub use file_storage::{FileFlags, FileSlice, FileStorage, FileStorageError, NewFile, PeerRequest};
