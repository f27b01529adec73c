//! lt-metainfo
