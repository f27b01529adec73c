//! lt-storage
