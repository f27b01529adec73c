//! lt-wire
