//! lt-resume: libtorrent's resume-data format ([`ResumeData`]) and
//! session-state format ([`SessionParams`]), byte-compatible with
//! libtorrent 2.1 in both directions.
//!
//! Engine use:
//! - `save_resume_data()`: fill a [`ResumeData`] from the torrent (info
//!   hashes, `ti`, save path, flags, stats and times, trackers with tiers,
//!   web seeds, `have_pieces`/`verified_pieces`, `unfinished_pieces` as one
//!   bit per block of each partial piece, priorities, known and banned
//!   peers, renamed files, v2 merkle trees) and hand it to the alert;
//!   [`ResumeData::write`] gives the file.
//! - adding with resume data: [`ResumeData::read`] (or the fields of the
//!   Python `add_torrent_params`), then trust `have_pieces` (skip the
//!   recheck of those pieces), restore `unfinished_pieces` into the picker,
//!   apply priorities and limits; `flags` tells which trackers/web seeds
//!   replace the torrent's ([`flags::OVERRIDE_TRACKERS`],
//!   [`flags::OVERRIDE_WEB_SEEDS`]).
//! - `session_state()` / `session(params)`: [`SessionParams`] carries the
//!   settings pack, the IP filter and the DHT state.

pub mod error;
pub mod resume_data;
pub mod session_state;

pub use error::ResumeError;
pub use resume_data::{flags, ResumeData, StorageMode, WriteError};
pub use session_state::{save_state_flags, DhtSettings, DhtState, SessionParams};

#[cfg(test)]
mod tests;
