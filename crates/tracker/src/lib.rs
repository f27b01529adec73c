//! BitTorrent tracker clients, sans IO.
//!
//! Nothing in this crate opens a socket or reads a clock. Every protocol is a
//! state machine fed bytes and [`Instant`](std::time::Instant)s that returns
//! bytes to send and events; the session engine drives them from its async
//! runtime.
//!
//! * [`http`]: HTTP(S) trackers (BEP 3, BEP 23 compact peers, BEP 7 IPv6):
//!   [`build_http_url`] builds the announce URL exactly as libtorrent does,
//!   [`HttpTrackerConnection`] produces the GET request and parses the
//!   response (strict, bounded; chunked and gzip bodies; redirects are
//!   reported for the driver to follow).
//! * [`udp`]: UDP trackers (BEP 15, BEP 41 URL data):
//!   [`UdpTrackerConnection`] with connect / announce / scrape, transaction
//!   ids, a shared [`ConnectionCache`] (ids reused for
//!   `udp_tracker_token_expiry`) and retransmission.
//! * [`list`]: [`TrackerList`], the per-torrent announce logic: BEP 12
//!   tiers, libtorrent's `announce_entry` state, intervals, failure
//!   back-off (`tracker_backoff`), `announce_to_all_tiers` /
//!   `announce_to_all_trackers`, event sequencing and `force_reannounce`.
//!
//! # Driving loop
//!
//! A minimal blocking driver with `std::net`, announcing to every HTTP and
//! UDP tracker of one torrent (a real engine multiplexes many connections on
//! its runtime, resolves host names asynchronously and posts alerts for the
//! [`TrackerOutput`] events):
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
//! use std::time::{Duration, Instant};
//! use lt_core::{InfoHash, Sha1Hash};
//! use lt_tracker::*;
//!
//! let settings = TrackerSettings::default();
//! let mut list = TrackerList::new(InfoHash::from_v1(Sha1Hash([1; 20])), settings.clone());
//! list.add_tracker(AnnounceEntry::new("http://127.0.0.1:6969/announce", 0, source::TORRENT));
//! list.add_tracker(AnnounceEntry::new("udp://127.0.0.1:6969/announce", 1, source::TORRENT));
//! list.set_listen_endpoints(&["0.0.0.0:6881".parse().unwrap()]);
//! let status = TorrentStatus { left: 1 << 20, key: 0x1234, ..Default::default() };
//! let mut udp_cache = ConnectionCache::new();
//! let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
//!
//! list.start_announcing(Instant::now(), &status);
//! loop {
//!     while let Some(out) = list.poll_output() {
//!         let TrackerOutput::Announce(job) = out else {
//!             println!("event: {out:?}"); // reply / warning / error -> alerts
//!             continue;
//!         };
//!         let result = if job.request.url.starts_with("udp://") {
//!             let (host, port) = udp_host_port(&job.request.url).unwrap();
//!             let target = (host.as_str(), port).to_socket_addrs().unwrap().next().unwrap();
//!             let mut c = UdpTrackerConnection::new(
//!                 job.request.clone(), target, &settings, Instant::now(), 42).unwrap();
//!             let mut step = c.start(Instant::now(), &mut udp_cache);
//!             loop {
//!                 match step {
//!                     UdpStep::Send(pkt) => { udp.send_to(&pkt, c.target()).unwrap(); }
//!                     UdpStep::Done(UdpOutcome::Announce(r)) => break Ok(r),
//!                     UdpStep::Done(UdpOutcome::Failed(e)) => break Err(e),
//!                     UdpStep::Done(_) | UdpStep::Idle => {}
//!                 }
//!                 let wait = c.next_timeout().saturating_duration_since(Instant::now());
//!                 udp.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).unwrap();
//!                 let mut buf = [0u8; 2048];
//!                 step = match udp.recv_from(&mut buf) {
//!                     Ok((n, from)) => c.on_packet(Instant::now(), from, &buf[..n], &mut udp_cache),
//!                     Err(_) => c.on_timeout(Instant::now()),
//!                 };
//!             }
//!         } else {
//!             let mut c = HttpTrackerConnection::new(job.request.clone(), &settings, Instant::now()).unwrap();
//!             let mut s = TcpStream::connect((c.host(), c.port())).unwrap();
//!             s.write_all(c.request_bytes()).unwrap();
//!             let mut buf = [0u8; 4096];
//!             loop {
//!                 let outcome = match s.read(&mut buf) {
//!                     Ok(0) => c.on_eof(Instant::now()),
//!                     Ok(n) => c.on_data(Instant::now(), &buf[..n]),
//!                     Err(e) => c.on_io_error(e.to_string()),
//!                 };
//!                 match outcome {
//!                     None => continue,
//!                     Some(HttpTrackerOutcome::Announce(r)) => break Ok(r),
//!                     Some(HttpTrackerOutcome::Failed(e)) => break Err(e),
//!                     Some(other) => panic!("redirects not handled here: {other:?}"),
//!                 }
//!             }
//!         };
//!         match result {
//!             Ok(resp) => {
//!                 println!("peers: {:?} {:?}", resp.peers4, resp.peers6);
//!                 list.on_announce_response(Instant::now(), &job, &resp);
//!             }
//!             Err(e) => list.on_announce_error(Instant::now(), &job, &e, &status),
//!         }
//!     }
//!     let Some(when) = list.next_timeout(Instant::now()) else { break };
//!     std::thread::sleep(when.saturating_duration_since(Instant::now()));
//!     list.on_timer(Instant::now(), &status);
//! }
//! ```

pub mod error;
pub mod escape;
pub mod http;
pub mod list;
pub mod request;
pub mod response;
pub mod udp;

pub use error::TrackerError;
pub use escape::{escape, parse_url, ParsedUrl, UrlError};
pub use http::{build_http_request, HttpResponseParser, HttpTrackerConnection, HttpTrackerOutcome};
pub use list::{
    source, AnnounceEndpoint, AnnounceEntry, AnnounceInfoHash, AnnounceJob, AnnounceKey,
    TorrentStatus, TrackerList, TrackerOutput,
};
pub use request::{
    build_http_url, scrape_url, Event, RequestKind, TrackerRequest, TrackerSettings,
};
pub use response::{
    parse_announce_response, parse_scrape_response, AnnounceResponse, PeerEntry, ReplyError,
    ScrapeResponse, MAX_PEERS_PER_REPLY,
};
pub use udp::{
    udp_host_port, ConnectionCache, UdpOutcome, UdpReply, UdpStep, UdpTrackerConnection,
};
