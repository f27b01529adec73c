//! lt-tracker
