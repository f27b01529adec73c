//! The announce logic above the transports: a torrent's tracker list
//! (BEP 12 tiers), per-tracker and per-endpoint state as libtorrent's
//! `announce_entry` exposes it, intervals, failure back-off and event
//! sequencing.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lt_core::{InfoHash, PeerId, ProtocolVersion};

use crate::request::{Event, RequestKind, TrackerRequest, TrackerSettings};
use crate::response::{AnnounceResponse, ReplyError, ScrapeResponse};
use crate::TrackerError;

/// Where a tracker came from (libtorrent's `tracker_source` flags).
pub mod source {
    pub const TORRENT: u8 = 1;
    pub const CLIENT: u8 = 2;
    pub const MAGNET_LINK: u8 = 4;
    pub const TEX: u8 = 8;
}

/// Wait at least this long before retrying a failed tracker.
const RETRY_DELAY_MIN: u64 = 5;
/// Never wait longer than this to retry a failed tracker.
const RETRY_DELAY_MAX: u64 = 3600;

/// Announce state of one info-hash (v1 or v2) on one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceInfoHash {
    /// The last warning or failure message from the tracker.
    pub message: String,
    /// The last error, `None` after a success.
    pub last_error: Option<TrackerError>,
    /// Earliest regular re-announce (`None`: any time).
    pub next_announce: Option<Instant>,
    /// Earliest announce the tracker allows (`None`: any time).
    pub min_announce: Option<Instant>,
    /// -1 until a reply or scrape tells.
    pub scrape_incomplete: i32,
    pub scrape_complete: i32,
    pub scrape_downloaded: i32,
    /// Failures in a row (saturates at 127).
    pub fails: u8,
    /// A request is in flight.
    pub updating: bool,
    /// `started` was acknowledged (and no `stopped` sent since).
    pub start_sent: bool,
    /// `completed` was acknowledged.
    pub complete_sent: bool,
    /// The next announce was requested by `force_reannounce`.
    pub triggered_manually: bool,
}

impl Default for AnnounceInfoHash {
    fn default() -> Self {
        AnnounceInfoHash {
            message: String::new(),
            last_error: None,
            next_announce: None,
            min_announce: None,
            scrape_incomplete: -1,
            scrape_complete: -1,
            scrape_downloaded: -1,
            fails: 0,
            updating: false,
            start_sent: false,
            complete_sent: false,
            triggered_manually: false,
        }
    }
}

impl AnnounceInfoHash {
    /// True until an announce fails (and again after one succeeds).
    pub fn is_working(&self) -> bool {
        self.fails == 0
    }

    /// libtorrent's rule: the next announce time has come (with one second
    /// of slack), the tracker's minimum interval passed (unless a seed
    /// still owes `completed`), the fail limit is not reached and nothing
    /// is in flight.
    pub fn can_announce(&self, now: Instant, is_seed: bool, fail_limit: u8) -> bool {
        let need_send_complete = is_seed && !self.complete_sent;
        self.next_announce
            .is_none_or(|t| now + Duration::from_secs(1) >= t)
            && (self.min_announce.is_none_or(|t| now >= t) || need_send_complete)
            && (fail_limit == 0 || self.fails < fail_limit)
            && !self.updating
    }

    /// Records a failure: the next retry waits
    /// `max(retry_interval, min(3600, 5 + fails² · 5 · tracker_backoff / 100))`
    /// seconds.
    pub fn failed(&mut self, now: Instant, tracker_backoff: u32, retry_interval: u32) {
        if self.fails < 127 {
            self.fails += 1;
        }
        let fail_square = u64::from(self.fails) * u64::from(self.fails);
        let backoff =
            RETRY_DELAY_MIN + fail_square * RETRY_DELAY_MIN * u64::from(tracker_backoff) / 100;
        let delay = u64::from(retry_interval).max(backoff.min(RETRY_DELAY_MAX));
        self.next_announce = Some(now + Duration::from_secs(delay));
        self.updating = false;
    }

    /// Forgets `start_sent` and the announce times.
    pub fn reset(&mut self) {
        self.start_sent = false;
        self.next_announce = None;
        self.min_announce = None;
    }
}

/// One local listen endpoint's view of a tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceEndpoint {
    /// The listen socket announced from.
    pub local_endpoint: SocketAddr,
    pub enabled: bool,
    /// Indexed by protocol version: `[v1, v2]`.
    pub info_hashes: [AnnounceInfoHash; 2],
}

impl AnnounceEndpoint {
    pub fn new(local_endpoint: SocketAddr) -> Self {
        AnnounceEndpoint {
            local_endpoint,
            enabled: true,
            info_hashes: Default::default(),
        }
    }
    /// Any info-hash still working.
    pub fn is_working(&self) -> bool {
        self.info_hashes.iter().any(|a| a.is_working())
    }
}

/// One tracker of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceEntry {
    pub url: String,
    /// The `tracker id` the tracker last gave us.
    pub trackerid: String,
    pub tier: u8,
    /// Failures after which the tracker is no longer tried (0: never give up).
    pub fail_limit: u8,
    /// Bit set of [`source`] flags.
    pub source: u8,
    /// The tracker has answered at least once.
    pub verified: bool,
    pub endpoints: Vec<AnnounceEndpoint>,
}

impl AnnounceEntry {
    /// A tracker on `tier` from `source`, with leading whitespace trimmed
    /// off the URL (libtorrent's `trim`).
    pub fn new(url: &str, tier: u8, source: u8) -> Self {
        AnnounceEntry {
            url: url.trim_start().to_string(),
            trackerid: String::new(),
            tier,
            fail_limit: 0,
            source,
            verified: false,
            endpoints: Vec::new(),
        }
    }
    /// Resets every endpoint's state.
    pub fn reset(&mut self) {
        for e in &mut self.endpoints {
            for a in &mut e.info_hashes {
                a.reset();
            }
        }
    }
    /// Any endpoint working.
    pub fn is_working(&self) -> bool {
        self.endpoints.iter().any(|e| e.is_working())
    }
}

/// What the torrent reports in announces; the engine passes a fresh one to
/// each call that may announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TorrentStatus {
    pub peer_id: PeerId,
    pub key: u32,
    /// Overrides the listen endpoint's port (`announce_port`).
    pub listen_port: Option<u16>,
    pub uploaded: i64,
    pub downloaded: i64,
    pub left: i64,
    pub corrupt: i64,
    pub redundant: i64,
    pub is_seed: bool,
    /// All wanted pieces are downloaded (a partial seed when not `is_seed`).
    pub is_finished: bool,
    pub private_torrent: bool,
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
}

/// Identifies an outstanding request: tracker URL, listen endpoint and
/// protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnnounceKey {
    pub url: String,
    pub local_endpoint: SocketAddr,
    pub version: ProtocolVersion,
}

/// A request the engine should send (to the URL's transport, from the
/// key's listen endpoint), then report back with the `on_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceJob {
    pub key: AnnounceKey,
    pub request: TrackerRequest,
}

/// Output of a [`TrackerList`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerOutput {
    /// Send this announce (post `tracker_announce_alert` with its event).
    Announce(AnnounceJob),
    /// Send this scrape.
    Scrape(AnnounceJob),
    /// An announce succeeded (`tracker_reply_alert`).
    Reply { key: AnnounceKey, num_peers: usize },
    /// The tracker sent a warning (`tracker_warning_alert`).
    Warning { key: AnnounceKey, message: String },
    /// An announce failed (`tracker_error_alert`).
    Error {
        key: AnnounceKey,
        error: TrackerError,
        times_in_row: u8,
        failure_reason: String,
    },
    /// The tracker gave a new `tracker id` (`trackerid_alert`).
    TrackerId { key: AnnounceKey, trackerid: String },
    /// A scrape succeeded (`scrape_reply_alert`).
    ScrapeReply {
        key: AnnounceKey,
        complete: i32,
        incomplete: i32,
    },
    /// A scrape failed (`scrape_failed_alert`).
    ScrapeFailed {
        key: AnnounceKey,
        error: TrackerError,
    },
}

#[derive(Debug, Clone, Copy)]
struct ProtoState {
    tier: u32,
    sent_announce: bool,
    done: bool,
}

impl Default for ProtoState {
    fn default() -> Self {
        ProtoState {
            tier: u32::MAX,
            sent_announce: false,
            done: false,
        }
    }
}

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V1, ProtocolVersion::V2];

fn vidx(v: ProtocolVersion) -> usize {
    match v {
        ProtocolVersion::V1 => 0,
        ProtocolVersion::V2 => 1,
    }
}

/// A torrent's trackers and the logic deciding whom to announce to, when.
///
/// Call [`set_listen_endpoints`](Self::set_listen_endpoints), then
/// [`start_announcing`](Self::start_announcing); run
/// [`on_timer`](Self::on_timer) at [`next_timeout`](Self::next_timeout);
/// drain [`poll_output`](Self::poll_output) after every call; report each
/// job's outcome with [`on_announce_response`](Self::on_announce_response)
/// or [`on_announce_error`](Self::on_announce_error).
#[derive(Debug)]
pub struct TrackerList {
    trackers: Vec<AnnounceEntry>,
    info_hash: InfoHash,
    /// Shared: every torrent of a session has the same settings.
    settings: Arc<TrackerSettings>,
    listen: Vec<SocketAddr>,
    announcing: bool,
    complete_sent: bool,
    trackerid: String,
    last_working: Option<usize>,
    out: VecDeque<TrackerOutput>,
}

impl TrackerList {
    pub fn new(info_hash: InfoHash, settings: impl Into<Arc<TrackerSettings>>) -> Self {
        TrackerList {
            trackers: Vec::new(),
            info_hash,
            settings: settings.into(),
            listen: Vec::new(),
            announcing: false,
            complete_sent: false,
            trackerid: String::new(),
            last_working: None,
            out: VecDeque::new(),
        }
    }

    pub fn settings(&self) -> &TrackerSettings {
        &self.settings
    }
    pub fn set_settings(&mut self, s: impl Into<Arc<TrackerSettings>>) {
        self.settings = s.into();
    }
    /// The trackers, ordered by tier.
    pub fn trackers(&self) -> &[AnnounceEntry] {
        &self.trackers
    }
    /// Mutable access to one tracker (e.g. to set `fail_limit`).
    pub fn tracker_mut(&mut self, idx: usize) -> Option<&mut AnnounceEntry> {
        self.trackers.get_mut(idx)
    }
    /// Whether announcing is on (between start and stop).
    pub fn is_announcing(&self) -> bool {
        self.announcing
    }
    /// Index of the tracker that answered last.
    pub fn last_working(&self) -> Option<usize> {
        self.last_working
    }
    /// The torrent-level tracker id used for trackers without their own.
    pub fn set_default_trackerid(&mut self, id: String) {
        self.trackerid = id;
    }
    /// The torrent was complete before (resume data): no `completed` is sent.
    pub fn set_complete_sent(&mut self, v: bool) {
        self.complete_sent = v;
    }

    /// Next output to act on.
    pub fn poll_output(&mut self) -> Option<TrackerOutput> {
        self.out.pop_front()
    }

    /// Adds a tracker after the others of its tier. A URL already present
    /// only merges its source flags; returns whether it was new.
    pub fn add_tracker(&mut self, entry: AnnounceEntry) -> bool {
        if entry.url.is_empty() {
            return false;
        }
        if let Some(t) = self.trackers.iter_mut().find(|t| t.url == entry.url) {
            t.source |= entry.source;
            return false;
        }
        let pos = self
            .trackers
            .iter()
            .position(|t| t.tier > entry.tier)
            .unwrap_or(self.trackers.len());
        self.trackers.insert(pos, entry);
        if let Some(lw) = self.last_working {
            if lw >= pos {
                self.last_working = Some(lw + 1);
            }
        }
        true
    }

    /// Replaces the whole list (sorted by tier, order kept within a tier,
    /// duplicates dropped).
    pub fn replace_trackers(&mut self, entries: Vec<AnnounceEntry>) {
        self.trackers.clear();
        self.last_working = None;
        for e in entries {
            self.add_tracker(e);
        }
        if self.settings.prefer_udp_trackers {
            self.prioritize_udp_trackers();
        }
    }

    /// `prefer_udp_trackers`: each UDP tracker trades places with the first
    /// earlier non-UDP tracker on the same host (each keeps its tier, as in
    /// libtorrent). [`replace_trackers`](Self::replace_trackers) does this
    /// when the setting is on.
    pub fn prioritize_udp_trackers(&mut self) {
        let host = |u: &str| crate::escape::parse_url(u).map(|p| p.host).ok();
        for i in 0..self.trackers.len() {
            if !self.trackers[i].url.starts_with("udp://") {
                continue;
            }
            let Some(udp_host) = host(&self.trackers[i].url) else {
                continue;
            };
            let j = (0..i).find(|&j| {
                !self.trackers[j].url.starts_with("udp://")
                    && host(&self.trackers[j].url).as_deref() == Some(&udp_host)
            });
            if let Some(j) = j {
                self.trackers.swap(i, j);
                self.fix_last_working(i, j);
            }
        }
    }

    /// BEP 12: shuffles the trackers within each tier (`seed` supplies the
    /// randomness).
    pub fn shuffle_tiers(&mut self, seed: u64) {
        let mut rng = seed | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut start = 0;
        while start < self.trackers.len() {
            let tier = self.trackers[start].tier;
            let end = self.trackers[start..]
                .iter()
                .position(|t| t.tier != tier)
                .map_or(self.trackers.len(), |p| start + p);
            for i in (start + 1..end).rev() {
                let j = start + (next() % (i - start + 1) as u64) as usize;
                self.trackers.swap(i, j);
            }
            start = end;
        }
        self.last_working = None;
    }

    /// Sets the listen sockets announced from: each tracker gets one
    /// endpoint per socket, keeping the state of sockets already known.
    pub fn set_listen_endpoints(&mut self, endpoints: &[SocketAddr]) {
        self.listen = endpoints.to_vec();
        for t in &mut self.trackers {
            Self::sync(t, &self.listen);
        }
    }

    fn sync(t: &mut AnnounceEntry, listen: &[SocketAddr]) {
        if t.endpoints.len() == listen.len()
            && t.endpoints
                .iter()
                .zip(listen)
                .all(|(e, l)| e.local_endpoint == *l)
        {
            return;
        }
        let mut old = std::mem::take(&mut t.endpoints);
        for l in listen {
            match old.iter().position(|e| e.local_endpoint == *l) {
                Some(i) => t.endpoints.push(old.swap_remove(i)),
                None => t.endpoints.push(AnnounceEndpoint::new(*l)),
            }
        }
    }

    /// Starts announcing (torrent started or resumed): sends `started`.
    pub fn start_announcing(&mut self, now: Instant, st: &TorrentStatus) {
        if self.announcing {
            return;
        }
        self.announcing = true;
        // tell the trackers we are back
        for t in &mut self.trackers {
            t.reset();
        }
        self.announce(now, Event::None, st);
    }

    /// Stops announcing (pause or removal): sends `stopped` to the trackers
    /// that were sent `started`.
    pub fn stop_announcing(&mut self, now: Instant, st: &TorrentStatus) {
        if !self.announcing {
            return;
        }
        self.announcing = false;
        for t in &mut self.trackers {
            for e in &mut t.endpoints {
                for a in &mut e.info_hashes {
                    a.next_announce = Some(now);
                    a.min_announce = Some(now);
                }
            }
        }
        self.announce(now, Event::Stopped, st);
    }

    /// The download completed: trackers that were not told get `completed`
    /// (pass a status with `is_seed`).
    pub fn completed(&mut self, now: Instant, st: &TorrentStatus) {
        if !self.announcing {
            return;
        }
        for t in &mut self.trackers {
            for e in t.endpoints.iter_mut().filter(|e| e.enabled) {
                for a in e.info_hashes.iter_mut().filter(|a| !a.complete_sent) {
                    a.next_announce = Some(now);
                    a.min_announce = Some(now);
                }
            }
        }
        self.announce(now, Event::None, st);
    }

    /// Runs due announces; call at [`next_timeout`](Self::next_timeout).
    pub fn on_timer(&mut self, now: Instant, st: &TorrentStatus) {
        self.announce(now, Event::None, st);
    }

    /// `force_reannounce(seconds, tracker_index, flags)`: makes the
    /// tracker(s) due `seconds` from now (not before their minimum
    /// interval unless `ignore_min_interval`), plus the one second
    /// libtorrent adds; [`next_timeout`](Self::next_timeout) reflects it.
    pub fn force_reannounce(
        &mut self,
        now: Instant,
        seconds: u32,
        tracker: Option<usize>,
        ignore_min_interval: bool,
    ) {
        let t = now + Duration::from_secs(u64::from(seconds));
        for (i, tr) in self.trackers.iter_mut().enumerate() {
            if tracker.is_some_and(|x| x != i) {
                continue;
            }
            for e in &mut tr.endpoints {
                for a in &mut e.info_hashes {
                    let base = if ignore_min_interval {
                        t
                    } else {
                        a.min_announce.map_or(t, |m| m.max(t))
                    };
                    let next = base + Duration::from_secs(1);
                    a.next_announce = Some(next);
                    a.min_announce = Some(next);
                    a.triggered_manually = true;
                }
            }
        }
    }

    /// Scrapes tracker `idx` (or every tracker) from each endpoint.
    pub fn scrape(&mut self, idx: Option<usize>, st: &TorrentStatus) {
        for (i, t) in self.trackers.iter().enumerate() {
            if idx.is_some_and(|x| x != i) {
                continue;
            }
            for e in &t.endpoints {
                for v in VERSIONS {
                    if !self.info_hash.has(v) {
                        continue;
                    }
                    let request = TrackerRequest {
                        url: t.url.clone(),
                        kind: RequestKind::Scrape,
                        info_hash: self.info_hash.get(v),
                        peer_id: st.peer_id,
                        listen_port: st.listen_port.unwrap_or(e.local_endpoint.port()),
                        key: st.key,
                        private_torrent: st.private_torrent,
                        ..Default::default()
                    };
                    let key = AnnounceKey {
                        url: t.url.clone(),
                        local_endpoint: e.local_endpoint,
                        version: v,
                    };
                    self.out
                        .push_back(TrackerOutput::Scrape(AnnounceJob { key, request }));
                }
            }
        }
    }

    /// libtorrent's `announce_with_tracker`.
    fn announce(&mut self, now: Instant, e: Event, st: &TorrentStatus) {
        if self.trackers.is_empty() || self.listen.is_empty() {
            return;
        }
        if e != Event::Stopped && !self.announcing {
            return;
        }
        let e = if e == Event::None && st.is_finished && !st.is_seed {
            Event::Paused
        } else {
            e
        };
        let all_tiers = self.settings.announce_to_all_tiers;
        let all_trackers = self.settings.announce_to_all_trackers;
        let mut states = vec![[ProtoState::default(); 2]; self.listen.len()];
        let num_want = if e == Event::Stopped {
            0
        } else {
            self.settings.num_want
        };
        for ti in 0..self.trackers.len() {
            Self::sync(&mut self.trackers[ti], &self.listen);
            let t = &mut self.trackers[ti];
            let tier = u32::from(t.tier);
            let trackerid = if t.trackerid.is_empty() {
                self.trackerid.clone()
            } else {
                t.trackerid.clone()
            };
            for (ei, ep) in t.endpoints.iter_mut().enumerate() {
                if !ep.enabled {
                    continue;
                }
                for v in VERSIONS {
                    if !self.info_hash.has(v) {
                        continue;
                    }
                    let Some(state) = states.get_mut(ei).map(|s| &mut s[vidx(v)]) else {
                        continue;
                    };
                    let a = &mut ep.info_hashes[vidx(v)];
                    if state.done {
                        continue;
                    }
                    if all_tiers
                        && !all_trackers
                        && state.sent_announce
                        && tier <= state.tier
                        && state.tier != u32::MAX
                    {
                        continue;
                    }
                    if tier > state.tier && state.sent_announce && !all_tiers {
                        continue;
                    }
                    if a.is_working() {
                        state.tier = tier;
                        state.sent_announce = false;
                    }
                    if !a.can_announce(now, st.is_seed, t.fail_limit) {
                        if a.is_working() {
                            state.sent_announce = true;
                            if !all_trackers && !all_tiers {
                                state.done = true;
                            }
                        }
                        continue;
                    }
                    let mut event = e;
                    if event == Event::None {
                        if !a.start_sent {
                            event = Event::Started;
                        } else if !a.complete_sent && !self.complete_sent && st.is_seed {
                            event = Event::Completed;
                        }
                    }
                    // a tracker never told `started` need not hear `stopped`
                    if event == Event::Stopped && !a.start_sent {
                        continue;
                    }
                    if event == Event::Stopped {
                        a.start_sent = false;
                    }
                    a.triggered_manually = false;
                    a.updating = true;
                    a.next_announce = Some(now);
                    a.min_announce = Some(now);
                    let request = TrackerRequest {
                        url: t.url.clone(),
                        kind: RequestKind::Announce,
                        info_hash: self.info_hash.get(v),
                        peer_id: st.peer_id,
                        listen_port: st.listen_port.unwrap_or(ep.local_endpoint.port()),
                        uploaded: st.uploaded,
                        downloaded: st.downloaded.max(0),
                        left: st.left,
                        corrupt: st.corrupt,
                        redundant: st.redundant,
                        key: st.key,
                        event,
                        num_want,
                        trackerid: trackerid.clone(),
                        ipv4: if self.settings.anonymous_mode {
                            Vec::new()
                        } else {
                            st.ipv4.clone()
                        },
                        ipv6: if self.settings.anonymous_mode {
                            Vec::new()
                        } else {
                            st.ipv6.clone()
                        },
                        private_torrent: st.private_torrent,
                    };
                    let key = AnnounceKey {
                        url: t.url.clone(),
                        local_endpoint: ep.local_endpoint,
                        version: v,
                    };
                    self.out
                        .push_back(TrackerOutput::Announce(AnnounceJob { key, request }));
                    state.sent_announce = true;
                    if a.is_working() && !all_trackers && !all_tiers {
                        state.done = true;
                    }
                }
            }
            if states.iter().all(|s| s.iter().all(|p| p.done)) {
                break;
            }
        }
    }

    /// When [`on_timer`](Self::on_timer) should run next (libtorrent's
    /// `update_tracker_timer`); `None` when nothing is scheduled.
    pub fn next_timeout(&self, now: Instant) -> Option<Instant> {
        if !self.announcing || self.listen.is_empty() {
            return None;
        }
        let all_tiers = self.settings.announce_to_all_tiers;
        let all_trackers = self.settings.announce_to_all_trackers;
        #[derive(Clone, Copy)]
        struct S {
            tier: u32,
            found_working: bool,
            done: bool,
        }
        let mut states = vec![
            [S {
                tier: u32::MAX,
                found_working: false,
                done: false
            }; 2];
            self.listen.len()
        ];
        let mut next: Option<Instant> = None;
        let mut found_any = false;
        'outer: for t in &self.trackers {
            let tier = u32::from(t.tier);
            for (ei, ep) in t.endpoints.iter().enumerate() {
                if !ep.enabled {
                    continue;
                }
                for v in VERSIONS {
                    if !self.info_hash.has(v) {
                        continue;
                    }
                    let Some(state) = states.get_mut(ei).map(|s| &mut s[vidx(v)]) else {
                        continue;
                    };
                    let a = &ep.info_hashes[vidx(v)];
                    if state.done {
                        continue;
                    }
                    if all_tiers
                        && state.found_working
                        && tier <= state.tier
                        && state.tier != u32::MAX
                    {
                        continue;
                    }
                    if tier > state.tier && !all_tiers {
                        break;
                    }
                    if a.is_working() {
                        state.tier = tier;
                        state.found_working = false;
                    }
                    if t.fail_limit != 0 && a.fails >= t.fail_limit {
                        continue;
                    }
                    if a.updating {
                        state.found_working = true;
                    } else {
                        let due = match (a.next_announce, a.min_announce) {
                            (Some(x), Some(y)) => x.max(y),
                            (Some(x), None) | (None, Some(x)) => x,
                            (None, None) => now,
                        };
                        if !state.found_working || a.is_working() {
                            found_any = true;
                            next = Some(next.map_or(due, |n| n.min(due)));
                        }
                    }
                    if a.is_working() {
                        state.found_working = true;
                    }
                    if state.found_working && !all_trackers && !all_tiers {
                        state.done = true;
                    }
                }
            }
            if states.iter().all(|s| s.iter().all(|p| p.done)) {
                break 'outer;
            }
        }
        if !found_any {
            return None;
        }
        next.map(|n| n.max(now))
    }

    fn find(&self, key: &AnnounceKey) -> Option<(usize, usize)> {
        let ti = self.trackers.iter().position(|t| t.url == key.url)?;
        let ei = self.trackers[ti]
            .endpoints
            .iter()
            .position(|e| e.local_endpoint == key.local_endpoint)?;
        Some((ti, ei))
    }

    fn prioritize(&mut self, mut idx: usize) -> usize {
        while idx > 0 && self.trackers[idx].tier == self.trackers[idx - 1].tier {
            self.trackers.swap(idx, idx - 1);
            self.fix_last_working(idx, idx - 1);
            idx -= 1;
        }
        idx
    }

    fn deprioritize(&mut self, mut idx: usize) -> usize {
        while idx + 1 < self.trackers.len()
            && self.trackers[idx].tier == self.trackers[idx + 1].tier
        {
            self.trackers.swap(idx, idx + 1);
            self.fix_last_working(idx, idx + 1);
            idx += 1;
        }
        idx
    }

    fn fix_last_working(&mut self, a: usize, b: usize) {
        if self.last_working == Some(a) {
            self.last_working = Some(b);
        } else if self.last_working == Some(b) {
            self.last_working = Some(a);
        }
    }

    /// An announce succeeded: schedules the next one, records the
    /// tracker's counts, moves the tracker to the front of its tier.
    pub fn on_announce_response(
        &mut self,
        now: Instant,
        job: &AnnounceJob,
        resp: &AnnounceResponse,
    ) {
        let key = &job.key;
        let Some((ti, ei)) = self.find(key) else {
            return;
        };
        let interval = resp.interval.max(self.settings.min_announce_interval);
        let event = job.request.event;
        {
            let t = &mut self.trackers[ti];
            t.verified = true;
            let a = &mut t.endpoints[ei].info_hashes[vidx(key.version)];
            match event {
                Event::Started => a.start_sent = true,
                Event::Completed => a.complete_sent = true,
                Event::Stopped => a.start_sent = false,
                _ => {}
            }
            a.fails = 0;
            a.last_error = None;
            a.updating = false;
            a.next_announce = Some(now + Duration::from_secs(u64::from(interval)));
            a.min_announce = Some(now + Duration::from_secs(u64::from(resp.min_interval)));
            a.message = resp.warning_message.clone();
            if resp.complete >= 0 {
                a.scrape_complete = resp.complete;
            }
            if resp.incomplete >= 0 {
                a.scrape_incomplete = resp.incomplete;
            }
            if resp.downloaded >= 0 {
                a.scrape_downloaded = resp.downloaded;
            }
            if !resp.trackerid.is_empty() && t.trackerid != resp.trackerid {
                t.trackerid = resp.trackerid.clone();
                self.out.push_back(TrackerOutput::TrackerId {
                    key: key.clone(),
                    trackerid: resp.trackerid.clone(),
                });
            }
        }
        let idx = self.prioritize(ti);
        self.last_working = Some(idx);
        if !resp.warning_message.is_empty() {
            self.out.push_back(TrackerOutput::Warning {
                key: key.clone(),
                message: resp.warning_message.clone(),
            });
        }
        self.out.push_back(TrackerOutput::Reply {
            key: key.clone(),
            num_peers: resp.num_peers(),
        });
    }

    /// An announce failed: backs the tracker off, moves it to the end of its
    /// tier and announces to the next candidate.
    pub fn on_announce_error(
        &mut self,
        now: Instant,
        job: &AnnounceJob,
        err: &ReplyError,
        st: &TorrentStatus,
    ) {
        let key = &job.key;
        let Some((ti, ei)) = self.find(key) else {
            return;
        };
        let backoff = self.settings.tracker_backoff;
        let fails;
        let failure_reason = match &err.error {
            TrackerError::TrackerFailure(m) => m.clone(),
            _ => String::new(),
        };
        {
            let t = &mut self.trackers[ti];
            // HTTP 410 Gone: never talk to this tracker again
            if matches!(err.error, TrackerError::HttpStatus { code: 410, .. }) {
                t.fail_limit = 1;
            }
            let a = &mut t.endpoints[ei].info_hashes[vidx(key.version)];
            a.failed(now, backoff, err.retry_interval);
            a.last_error = Some(err.error.clone());
            a.message = match &err.error {
                TrackerError::TrackerFailure(m) => m.clone(),
                TrackerError::HttpStatus { message, .. } => message.clone(),
                _ => String::new(),
            };
            fails = a.fails;
        }
        self.deprioritize(ti);
        if !err.warning_message.is_empty() {
            self.out.push_back(TrackerOutput::Warning {
                key: key.clone(),
                message: err.warning_message.clone(),
            });
        }
        self.out.push_back(TrackerOutput::Error {
            key: key.clone(),
            error: err.error.clone(),
            times_in_row: fails,
            failure_reason,
        });
        if self.announcing || job.request.event == Event::Stopped {
            self.announce(now, job.request.event, st);
        }
    }

    /// A scrape succeeded.
    pub fn on_scrape_response(&mut self, job: &AnnounceJob, resp: &ScrapeResponse) {
        let key = &job.key;
        if let Some((ti, ei)) = self.find(key) {
            let a = &mut self.trackers[ti].endpoints[ei].info_hashes[vidx(key.version)];
            if resp.complete >= 0 {
                a.scrape_complete = resp.complete;
            }
            if resp.incomplete >= 0 {
                a.scrape_incomplete = resp.incomplete;
            }
            if resp.downloaded >= 0 {
                a.scrape_downloaded = resp.downloaded;
            }
        }
        self.out.push_back(TrackerOutput::ScrapeReply {
            key: key.clone(),
            complete: resp.complete,
            incomplete: resp.incomplete,
        });
    }

    /// A scrape failed.
    pub fn on_scrape_error(&mut self, job: &AnnounceJob, err: &ReplyError) {
        let key = &job.key;
        if let Some((ti, ei)) = self.find(key) {
            let a = &mut self.trackers[ti].endpoints[ei].info_hashes[vidx(key.version)];
            a.last_error = Some(err.error.clone());
        }
        self.out.push_back(TrackerOutput::ScrapeFailed {
            key: key.clone(),
            error: err.error.clone(),
        });
    }
}
