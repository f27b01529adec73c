//! lt-picker
