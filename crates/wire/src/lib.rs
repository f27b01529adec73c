//! lt-wire
pub mod bitfield;
pub mod error;
pub mod handshake;
pub mod message;
pub use bitfield::Bitfield;
pub use error::Error;
pub mod extension;
pub mod fast;
