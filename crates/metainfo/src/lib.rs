//! lt-metainfo

pub mod hasher;
