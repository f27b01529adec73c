//! lt-picker: the download strategy of libtorrent-rs, as pure logic.
//!
//! Everything here is sans-IO: no sockets, no disk, no clocks. Time is passed
//! in by the caller (milliseconds on any monotonic scale), randomness comes
//! from seeded generators, and the same sequence of calls always gives the
//! same answers. The session engine feeds peer events in and acts on the
//! decisions that come out.
//!
//! * [`piece_picker`]: which blocks to request ([`PiecePicker`]): rarest
//!   first, priorities, sequential, deadlines, end-game, hash failures.
//! * [`pipeline`]: how many requests to keep in flight per peer and when a
//!   request has timed out ([`RequestPipeline`]).
//! * [`choker`]: which peers to unchoke each round ([`Choker`]).
//! * [`bandwidth`]: token-bucket rate limiting shared fairly among
//!   connections ([`BandwidthManager`]).
//! * [`Bitfield`] and [`Rng`]: the small building blocks the above use.

#![warn(missing_docs)]

pub mod bandwidth;
pub mod bitfield;
pub mod choker;
mod lazy;
pub mod piece_picker;
pub mod pipeline;
pub mod rng;

pub use bandwidth::{BandwidthManager, ChannelId, ConnId, Direction, Grant};
pub use bitfield::Bitfield;
pub use choker::{
    ChokePeer, ChokeRound, Choker, ChokerConfig, ChokingAlgorithm, SeedChokingAlgorithm,
};
pub use piece_picker::{
    file_priorities_to_piece_priorities, BlockInfo, BlockRef, BlockState, PartialPieceInfo,
    PeerKey, PickOptions, PickerError, PiecePicker, BLOCK_SIZE, DEFAULT_PRIORITY, MAX_PRIORITY,
};
pub use pipeline::{PipelineConfig, RequestPipeline};
pub use rng::Rng;
