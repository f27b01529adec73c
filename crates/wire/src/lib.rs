//! The BitTorrent peer wire protocol, sans-IO.
//!
//! Nothing here touches a socket, a thread or a clock. Each piece is a state
//! machine fed bytes and [`std::time::Instant`]s that returns bytes to send
//! and events:
//!
//! * [`handshake`] — the BEP 3 handshake, with the reserved bits of BEP 5,
//!   6, 10 and 52, decoded incrementally.
//! * [`message`] — every message of BEP 3, 6, 10 and 52 and a bounded,
//!   incremental [`MessageDecoder`] whose `piece` blocks are views of the
//!   receive buffer (no copy).
//! * [`extension`] — the BEP 10 extension handshake, `ut_metadata` (BEP 9),
//!   `ut_pex` (BEP 11), `lt_donthave`, `upload_only`, `share_mode`.
//! * [`ut_metadata`] — BEP 9 metadata assembly: which 16 KiB pieces of
//!   the info dictionary to ask which peer for, collecting them and
//!   checking the result against the info-hashes.
//! * [`fast`] — the BEP 6 allowed-fast set.
//! * [`peer`] — [`PeerConnection`], the per-peer state machine.
//! * [`mse`] — Message Stream Encryption (the "encryption" handshake and
//!   RC4 stream), a separate layer below the peer connection.
//!
//! # Driving a [`PeerConnection`]
//!
//! A driver (one tokio task per peer in the session engine) owns the socket
//! and loops:
//!
//! 1. read from the socket into [`PeerConnection::recv_buffer`] and call
//!    [`PeerConnection::process`] with the current `Instant` — or, when a
//!    separate reader task hands over chunks as [`bytes::Bytes`], pass each
//!    to [`PeerConnection::receive_bytes`] (messages wholly inside a chunk
//!    are decoded from it without a copy), or pass a slice to
//!    [`PeerConnection::receive`] (copied);
//! 2. drain [`PeerConnection::poll_event`] and act on the events (store a
//!    [`Event::Block`], read a block from disk for an [`Event::Request`],
//!    tell the picker about [`Event::Have`], …), calling the connection's
//!    methods ([`request`](PeerConnection::request),
//!    [`send_block`](PeerConnection::send_block),
//!    [`unchoke`](PeerConnection::unchoke), …) as it decides;
//! 3. write every chunk from [`PeerConnection::poll_transmit`] to the socket;
//! 4. sleep until readable, or until [`PeerConnection::next_timeout`], and
//!    then call [`PeerConnection::handle_timeout`];
//! 5. stop when [`Event::Disconnect`] comes out.
//!
//! In a tokio task that is roughly:
//!
//! ```ignore
//! loop {
//!     let deadline = conn.next_timeout().map(tokio::time::Instant::from_std);
//!     tokio::select! {
//!         r = socket.read_buf(conn.recv_buffer()) => {
//!             if r? == 0 { break }               // peer closed
//!             conn.process(Instant::now());
//!         }
//!         _ = sleep_until_opt(deadline) => conn.handle_timeout(Instant::now()),
//!         cmd = commands.recv() => apply(&mut conn, cmd),   // from the session
//!     }
//!     while let Some(ev) = conn.poll_event() {
//!         if let Event::Disconnect { reason } = ev { return Err(reason) }
//!         handle(&mut conn, ev).await;
//!     }
//!     while let Some(chunk) = conn.poll_transmit() {
//!         socket.write_all(&chunk).await?;
//!     }
//! }
//! ```
//!
//! The same loop, in memory, with two connections talking to each other:
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use lt_core::{InfoHash, Sha1Hash};
//! use lt_wire::{Bitfield, BlockRequest, Event, PeerConfig, PeerConnection, PieceGeometry, TorrentInfo};
//!
//! let now = Instant::now();
//! let geometry = PieceGeometry::new(16384, 2 * 16384).unwrap();
//! let torrent = |have_all: bool| TorrentInfo {
//!     info_hash: InfoHash::from_v1(Sha1Hash([7; 20])),
//!     geometry: Some(geometry),
//!     our_pieces: if have_all { Bitfield::full(2) } else { Bitfield::new(2) },
//! };
//! let mut leech = PeerConnection::outgoing(
//!     PeerConfig::new(Sha1Hash([1; 20])), torrent(false), Sha1Hash([7; 20]), None, now);
//! let mut seed = PeerConnection::incoming(PeerConfig::new(Sha1Hash([2; 20])), None, now);
//!
//! let mut got = Vec::new();
//! for _round in 0..10 {
//!     // "network": move bytes both ways
//!     while let Some(b) = leech.poll_transmit() { seed.receive(&b, now) }
//!     while let Some(b) = seed.poll_transmit() { leech.receive(&b, now) }
//!     // seed side
//!     while let Some(ev) = seed.poll_event() {
//!         match ev {
//!             Event::IncomingHandshake { .. } => seed.accept(torrent(true), now).unwrap(),
//!             Event::Interested => seed.unchoke().unwrap(),
//!             Event::Request(r) => {
//!                 let block = Bytes::from(vec![r.piece as u8; r.length as usize]);
//!                 seed.send_block(r.piece, r.offset, block).unwrap();
//!             }
//!             _ => {}
//!         }
//!     }
//!     // leech side
//!     while let Some(ev) = leech.poll_event() {
//!         match ev {
//!             Event::HaveAll | Event::Bitfield => leech.interested().unwrap(),
//!             Event::Unchoked => {
//!                 for p in 0..2 {
//!                     leech.request(BlockRequest::new(p, 0, 16384), now).unwrap();
//!                 }
//!             }
//!             Event::Block { piece, data, .. } => got.push((piece, data.len())),
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(got, vec![(0, 16384), (1, 16384)]);
//! ```

pub mod bitfield;
pub mod error;
pub mod extension;
pub mod fast;
pub mod handshake;
pub mod message;
pub mod mse;
pub mod peer;
pub mod ut_metadata;

pub use bitfield::Bitfield;
pub use error::Error;
pub use extension::{ExtHandshake, ExtensionMessage, MetadataMsg, PexMsg};
pub use handshake::{match_info_hash, Handshake, HandshakeDecoder, HandshakeProgress, Reserved};
pub use message::{BlockRequest, HashRequest, Message, MessageDecoder};
pub use peer::{
    Counters, Event, PeerConfig, PeerConnection, PieceGeometry, TorrentInfo, UnknownMessagePolicy,
    MIN_READ_SPACE,
};
