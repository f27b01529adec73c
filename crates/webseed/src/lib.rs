//! Web seeds, sans IO: BEP 19 (GetRight-style `url-list`) and BEP 17
//! (Hoffman-style `httpseeds`), following libtorrent's rules.
//!
//! A [`WebSeedConnection`] is one HTTP/1.1 connection to one web seed. It
//! owns no socket and reads no clock: the driver connects to
//! [`host`](WebSeedConnection::host):[`port`](WebSeedConnection::port)
//! (with TLS when [`is_tls`](WebSeedConnection::is_tls)), writes what
//! [`poll_transmit`](WebSeedConnection::poll_transmit) returns, feeds what
//! it reads to [`on_data`](WebSeedConnection::on_data) /
//! [`on_eof`](WebSeedConnection::on_eof), calls
//! [`tick`](WebSeedConnection::tick) at
//! [`next_timeout`](WebSeedConnection::next_timeout), and takes
//! [`WebSeedEvent`]s.
//!
//! # Requests
//!
//! The session asks for byte ranges of the torrent ([`PieceRange`]: a
//! piece, an offset and a length that may run into later pieces).
//!
//! * **BEP 19**: the range is mapped onto files with
//!   [`FileStorage::map_block`](lt_metainfo::FileStorage::map_block); each
//!   file slice is one `GET` with `Range: bytes=first-last`. Pad files are
//!   never requested; their bytes are zeros filled in locally. URLs follow
//!   libtorrent: for a multi-file torrent the URL is a directory (a `/` is
//!   added if missing) and the request path is the URL's path followed by
//!   the percent-encoded `name/dir/file` path; for a single-file torrent a
//!   URL ending in `/` gets the percent-encoded torrent name appended and
//!   any other URL is the file itself (used as written).
//! * **BEP 17**: one `GET url?info_hash=..&piece=N[&ranges=a-b]` per
//!   piece; `ranges` is only sent for less than a whole piece.
//!
//! Requests are pipelined on the connection (up to
//! [`WebSeedSettings::max_pipeline`] in flight) and the responses are
//! matched in order.
//!
//! # Responses
//!
//! Parsed strictly and bounded ([`http`]): the status line, headers (at
//! most [`WebSeedSettings::max_head_size`] bytes), `Content-Length`,
//! `Content-Range` (a 206 must cover exactly the requested range, a 200
//! only answers a request for a whole file from offset 0), chunked bodies
//! and bodies ending at EOF. Body bytes are reassembled into 16 KiB blocks
//! ([`WebSeedEvent::Block`]) aligned to the piece; no more than one block
//! per connection is buffered. A redirect, an error status (404, 503 with
//! `Retry-After`, ...), a malformed response, a timeout or the server
//! closing the connection end the connection with
//! [`WebSeedEvent::Closed`], which lists the ranges not delivered so the
//! session can request them again (from a new connection, or after the
//! retry delay).
//!
//! # Driving loop
//!
//! A blocking driver with `std::net` that downloads piece 0 and reconnects
//! while the server closes connections (a real session runs this on its
//! async runtime, hands the blocks to the disk and checks piece hashes):
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//! use lt_core::Sha1Hash;
//! use lt_metainfo::{FileStorage, WebSeed, WebSeedKind};
//! use lt_webseed::*;
//!
//! let mut files = FileStorage::new();
//! files.add_file("t/a.bin", 100_000, Default::default(), 0, "").unwrap();
//! files.set_name("t");
//! files.set_piece_length(32 * 1024);
//! files.compute_num_pieces();
//! let seed = WebSeed {
//!     url: "http://127.0.0.1:8000/".into(),
//!     auth: String::new(),
//!     extra_headers: vec![],
//!     kind: WebSeedKind::UrlSeed,
//! };
//! let mut todo = vec![PieceRange { piece: 0, start: 0, length: 32 * 1024 }];
//! while !todo.is_empty() {
//!     let mut c = WebSeedConnection::new(&seed, files.clone(), Sha1Hash([0; 20]),
//!         WebSeedSettings::default(), Instant::now()).unwrap();
//!     for r in todo.drain(..) {
//!         c.request(r).unwrap();
//!     }
//!     let mut sock = TcpStream::connect((c.host(), c.port())).unwrap();
//!     let mut buf = vec![0u8; 64 * 1024];
//!     while !c.is_closed() {
//!         while let Some(bytes) = c.poll_transmit(Instant::now()) {
//!             sock.write_all(&bytes).unwrap();
//!         }
//!         let wait = c.next_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!         sock.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1)))).unwrap();
//!         match sock.read(&mut buf) {
//!             Ok(0) => c.on_eof(Instant::now()),
//!             Ok(n) => c.on_data(&buf[..n], Instant::now()),
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                 c.tick(Instant::now())
//!             }
//!             Err(_) => c.on_eof(Instant::now()),
//!         }
//!         while let Some(ev) = c.poll_event() {
//!             match ev {
//!                 WebSeedEvent::Block { piece, offset, data } => {
//!                     println!("block {piece}/{offset}: {} bytes", data.len());
//!                 }
//!                 WebSeedEvent::RequestDone(r) => println!("done {r:?}"),
//!                 WebSeedEvent::Closed { reason, unfinished } => {
//!                     println!("closed: {reason:?}");
//!                     // reconnect and go on (a session would wait
//!                     // `retry_after` on HttpStatus, follow redirects, ...)
//!                     todo = unfinished;
//!                 }
//!             }
//!         }
//!         if c.pending_requests() == 0 {
//!             c.close();
//!         }
//!     }
//! }
//! ```

pub mod conn;
pub mod http;
pub mod url;

pub use conn::{
    CloseReason, PieceRange, WebSeedConnection, WebSeedError, WebSeedEvent, WebSeedSettings,
};
pub use http::{HttpError, Parsed, ResponseHead, ResponseParser};
pub use url::{escape_path, escape_string, resolve_location, split_url, Url, UrlError};

#[cfg(test)]
mod tests;
