//! lt-settings
