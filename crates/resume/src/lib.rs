//! lt-resume: libtorrent's resume-data format ([`ResumeData`]) and
//! session-state format ([`SessionParams`]), byte-compatible with
//! libtorrent 2.1 in both directions.

pub mod error;
pub mod resume_data;
pub mod session_state;

pub use error::ResumeError;
pub use resume_data::{flags, ResumeData, StorageMode, WriteError};
pub use session_state::{save_state_flags, DhtSettings, DhtState, SessionParams};

#[cfg(test)]
mod tests;
