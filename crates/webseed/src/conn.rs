//! The per-connection web seed state machine.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;
use lt_metainfo::file_storage::BLOCK_SIZE;
use lt_metainfo::{FileStorage, WebSeed, WebSeedKind};

use crate::http::{HttpError, Parsed, ResponseHead, ResponseParser};
use crate::url::{
    base64, escape_bytes, escape_path, escape_string, resolve_location, Url, UrlError,
};

/// A byte range of the torrent to download, starting at `start` in
/// `piece`. It may run on into the following pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PieceRange {
    pub piece: i32,
    pub start: i32,
    pub length: i32,
}

/// Settings of a web seed connection (the `urlseed_*` settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSeedSettings {
    /// `user_agent`, sent with the first request (empty: never).
    pub user_agent: String,
    /// `always_send_user_agent`: send it with every request.
    pub always_send_user_agent: bool,
    /// `urlseed_timeout`: give up when requests are outstanding and
    /// nothing arrives for this long.
    pub request_timeout: Duration,
    /// `urlseed_wait_retry`: the retry delay when an error response gives
    /// none.
    pub default_retry: Duration,
    /// `urlseed_pipeline_size`: HTTP requests in flight at once.
    pub max_pipeline: usize,
    /// Largest response head accepted.
    pub max_head_size: usize,
}

impl Default for WebSeedSettings {
    fn default() -> Self {
        WebSeedSettings {
            user_agent: "libtorrent/2.1.1.0".to_string(),
            always_send_user_agent: false,
            request_timeout: Duration::from_secs(20),
            default_retry: Duration::from_secs(30),
            max_pipeline: 5,
            max_head_size: 16 * 1024,
        }
    }
}

/// Why a web seed connection failed or cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebSeedError {
    /// The web seed URL is not usable.
    Url(UrlError),
    /// The response is not valid HTTP.
    Http(HttpError),
    /// The response's byte range or length differs from the request.
    InvalidRange,
    /// A response arrived with no request outstanding.
    UnexpectedResponse,
    /// A redirect without a (valid) `Location`.
    MissingLocation,
    /// The requested range is outside the torrent or empty.
    BadRequest,
    /// A header name or value (auth, extra headers) holds CR, LF or NUL.
    BadHeaderValue,
    /// The connection is closed.
    Closed,
    /// The torrent has no files or no pieces.
    NoFiles,
}

impl fmt::Display for WebSeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSeedError::Url(e) => e.fmt(f),
            WebSeedError::Http(e) => e.fmt(f),
            WebSeedError::InvalidRange => f.write_str("invalid HTTP range in response"),
            WebSeedError::UnexpectedResponse => f.write_str("unexpected HTTP response"),
            WebSeedError::MissingLocation => f.write_str("missing location header"),
            WebSeedError::BadRequest => f.write_str("invalid piece range request"),
            WebSeedError::BadHeaderValue => f.write_str("invalid header value"),
            WebSeedError::Closed => f.write_str("web seed connection closed"),
            WebSeedError::NoFiles => f.write_str("torrent has no files"),
        }
    }
}

impl std::error::Error for WebSeedError {}

impl From<UrlError> for WebSeedError {
    fn from(e: UrlError) -> Self {
        WebSeedError::Url(e)
    }
}

impl From<HttpError> for WebSeedError {
    fn from(e: HttpError) -> Self {
        WebSeedError::Http(e)
    }
}

/// Why a connection ended. After it the connection accepts nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// A 3xx response. `location` is absolute (resolved against the
    /// request URL). For a multi-file BEP 19 seed, `file` is the file whose
    /// request was redirected (libtorrent then fetches that file from the
    /// new location only; see [`crate::split_url`] and
    /// [`WebSeedConnection::set_file_path`]); `None` means the whole seed
    /// moved.
    Redirect {
        status: u16,
        location: String,
        file: Option<usize>,
    },
    /// A status other than 200/206/3xx, e.g. 404 or 503. `file` is the file
    /// requested (multi-file BEP 19), which this server does not have.
    /// `retry_after`: the `Retry-After` header, or for a BEP 17 seed's 503
    /// the number in the body (60 s when not a positive number), else
    /// [`WebSeedSettings::default_retry`].
    HttpStatus {
        status: u16,
        reason: String,
        file: Option<usize>,
        retry_after: Duration,
    },
    /// A malformed or mismatching response.
    Protocol(WebSeedError),
    /// Nothing arrived for [`WebSeedSettings::request_timeout`].
    Timeout,
    /// The server ended the connection (`Connection: close`, HTTP/1.0 or
    /// EOF). Reconnect to continue with the unfinished ranges.
    ServerClosed,
    /// [`WebSeedConnection::close`] was called.
    Local,
}

/// What a connection reports; take them with [`WebSeedConnection::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebSeedEvent {
    /// Downloaded bytes: a whole 16 KiB block of `piece` at `offset` (or
    /// the part of it the request covers; the last block of a piece may
    /// be shorter). Pad-file bytes are zeros filled in locally.
    Block {
        piece: i32,
        offset: i32,
        data: Vec<u8>,
    },
    /// Every byte of a range passed to [`WebSeedConnection::request`] was
    /// delivered.
    RequestDone(PieceRange),
    /// The connection is over. `unfinished` are the parts of requested
    /// ranges not delivered yet (starting at a block boundary; bytes of a
    /// partial block are dropped).
    Closed {
        reason: CloseReason,
        unfinished: Vec<PieceRange>,
    },
}

#[derive(Clone, Debug)]
struct HttpPart {
    /// File index (BEP 19) or `None` (BEP 17).
    file: Option<usize>,
    /// Path and query of the request.
    target: String,
    /// Expected first byte of the body in the file (BEP 19 range).
    start: i64,
    len: i64,
    /// `Range:` header to send (BEP 19 only).
    range: bool,
    sent: bool,
}

#[derive(Clone, Debug)]
enum Part {
    Pad(i64),
    Http(HttpPart),
}

#[derive(Clone, Debug)]
struct Job {
    range: PieceRange,
    parts: VecDeque<Part>,
    /// Absolute torrent offset of the first byte of `block`.
    block_start: i64,
    block: Vec<u8>,
    end: i64,
}

#[derive(Clone, Debug)]
enum RxState {
    /// Between responses.
    Idle,
    /// Receiving the body of the front HTTP part.
    Body { got: i64 },
    /// Receiving an error response body (BEP 17 503), bounded.
    ErrorBody {
        head: Box<ResponseHead>,
        body: Vec<u8>,
    },
}

const MAX_ERROR_BODY: usize = 64;

/// One HTTP connection to a web seed. See the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct WebSeedConnection {
    url: Url,
    full_url: String,
    kind: WebSeedKind,
    files: FileStorage,
    info_hash: Sha1Hash,
    settings: WebSeedSettings,
    /// Base path: the file itself (single-file) or the directory.
    base_path: String,
    single_file: bool,
    auth: String,
    extra_headers: Vec<(String, String)>,
    file_paths: Vec<(usize, String)>,
    jobs: VecDeque<Job>,
    parser: ResponseParser,
    rx: RxState,
    first_request: bool,
    responses: u32,
    keep_alive: Option<bool>,
    no_more_requests: bool,
    in_flight: usize,
    last_activity: Instant,
    events: VecDeque<WebSeedEvent>,
    closed: bool,
}

fn clean(s: &str) -> bool {
    !s.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0)
}

impl WebSeedConnection {
    /// A connection to `seed` for the torrent whose (original, unrenamed)
    /// file layout is `files` and whose v1 info-hash is `info_hash` (used
    /// by BEP 17 seeds). Nothing is sent until [`request`](Self::request).
    pub fn new(
        seed: &WebSeed,
        files: FileStorage,
        info_hash: Sha1Hash,
        settings: WebSeedSettings,
        now: Instant,
    ) -> Result<Self, WebSeedError> {
        let url = Url::parse(&seed.url)?;
        if files.num_files() == 0 || files.num_pieces() <= 0 || files.piece_length() <= 0 {
            return Err(WebSeedError::NoFiles);
        }
        if !clean(&seed.auth)
            || !seed
                .extra_headers
                .iter()
                .all(|(n, v)| clean(n) && clean(v) && !n.contains(':'))
        {
            return Err(WebSeedError::BadHeaderValue);
        }
        let single_file = files.num_files() == 1;
        let mut base_path = url.path.clone();
        if base_path.is_empty() {
            base_path.push('/');
        }
        if seed.kind == WebSeedKind::UrlSeed {
            if single_file {
                // a URL ending in '/' is a directory holding the file
                if base_path.ends_with('/') {
                    base_path.push_str(&escape_string(files.name()));
                }
            } else if !base_path.ends_with('/') {
                base_path.push('/');
            }
        }
        let auth = if !seed.auth.is_empty() {
            seed.auth.clone()
        } else if !url.userinfo.is_empty() {
            format!("Basic {}", base64(url.userinfo.as_bytes()))
        } else {
            String::new()
        };
        Ok(WebSeedConnection {
            full_url: seed.url.clone(),
            url,
            kind: seed.kind,
            files,
            info_hash,
            settings: settings.clone(),
            base_path,
            single_file,
            auth,
            extra_headers: seed.extra_headers.clone(),
            file_paths: Vec::new(),
            jobs: VecDeque::new(),
            parser: ResponseParser::new(settings.max_head_size),
            rx: RxState::Idle,
            first_request: true,
            responses: 0,
            keep_alive: None,
            no_more_requests: false,
            in_flight: 0,
            last_activity: now,
            events: VecDeque::new(),
            closed: false,
        })
    }

    /// Host to connect to (IPv6 without brackets).
    pub fn host(&self) -> &str {
        self.url.connect_host()
    }

    /// Port to connect to.
    pub fn port(&self) -> u16 {
        self.url.port
    }

    /// Whether the connection must use TLS (`https`).
    pub fn is_tls(&self) -> bool {
        self.url.tls
    }

    /// The web seed URL as given.
    pub fn url(&self) -> &str {
        &self.full_url
    }

    /// Whether the server keeps connections open: `None` before the first
    /// response, `Some(false)` if the first response closed it (then one
    /// request per connection is all it takes; request large ranges).
    pub fn keep_alive(&self) -> Option<bool> {
        self.keep_alive
    }

    /// Whether the connection ended ([`WebSeedEvent::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Number of requested ranges not yet completed.
    pub fn pending_requests(&self) -> usize {
        self.jobs.len()
    }

    /// HTTP requests sent and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Requests `file` (BEP 19 multi-file) at `path` (path and query on
    /// this connection's host, e.g. from a per-file redirect) instead of
    /// the base URL joined with the file's path.
    pub fn set_file_path(&mut self, file: usize, path: &str) -> Result<(), WebSeedError> {
        if !clean(path) || path.bytes().any(|c| c == b' ') || !path.starts_with('/') {
            return Err(WebSeedError::BadHeaderValue);
        }
        self.file_paths.retain(|(f, _)| *f != file);
        self.file_paths.push((file, path.to_string()));
        Ok(())
    }

    /// The request target (path and query) for `file` (BEP 19).
    pub fn file_target(&self, file: usize) -> String {
        if let Some((_, p)) = self.file_paths.iter().find(|(f, _)| *f == file) {
            return p.clone();
        }
        if self.single_file {
            // the path of a single-file seed is used as given
            return self.base_path.clone();
        }
        format!(
            "{}{}",
            self.base_path,
            escape_path(&self.files.file_path(file, ""))
        )
    }

    /// Queues a range for download. Pad-file bytes are never requested;
    /// they are delivered as zeros when their turn comes.
    pub fn request(&mut self, r: PieceRange) -> Result<(), WebSeedError> {
        if self.closed {
            return Err(WebSeedError::Closed);
        }
        let pl = i64::from(self.files.piece_length());
        if r.piece < 0 || r.piece >= self.files.num_pieces() || r.start < 0 || r.length <= 0 {
            return Err(WebSeedError::BadRequest);
        }
        let abs = i64::from(r.piece) * pl + i64::from(r.start);
        let end = abs + i64::from(r.length);
        if end > self.files.total_size() {
            return Err(WebSeedError::BadRequest);
        }
        let mut parts = VecDeque::new();
        match self.kind {
            WebSeedKind::UrlSeed => {
                for s in self
                    .files
                    .map_block(r.piece, i64::from(r.start), i64::from(r.length))
                {
                    if self.files.pad_file_at(s.file_index) {
                        parts.push_back(Part::Pad(s.size));
                    } else {
                        parts.push_back(Part::Http(HttpPart {
                            file: Some(s.file_index),
                            target: self.file_target(s.file_index),
                            start: s.offset,
                            len: s.size,
                            range: true,
                            sent: false,
                        }));
                    }
                }
            }
            WebSeedKind::HttpSeed => {
                let mut pos = abs;
                while pos < end {
                    let piece = (pos / pl) as i32;
                    let off = pos % pl;
                    let psize = i64::from(self.files.piece_size(piece));
                    let len = (psize - off).min(end - pos);
                    if len <= 0 {
                        return Err(WebSeedError::BadRequest);
                    }
                    let sep = if self.base_path.contains('?') {
                        '&'
                    } else {
                        '?'
                    };
                    let mut target = format!(
                        "{}{sep}info_hash={}&piece={piece}",
                        self.base_path,
                        escape_bytes(&self.info_hash.0, false)
                    );
                    if off > 0 || len != psize {
                        target.push_str(&format!("&ranges={}-{}", off, off + len - 1));
                    }
                    parts.push_back(Part::Http(HttpPart {
                        file: None,
                        target,
                        start: 0,
                        len,
                        range: false,
                        sent: false,
                    }));
                    pos += len;
                }
            }
        }
        let covered: i64 = parts
            .iter()
            .map(|p| match p {
                Part::Pad(n) => *n,
                Part::Http(h) => h.len,
            })
            .sum();
        if covered != end - abs {
            return Err(WebSeedError::BadRequest);
        }
        self.jobs.push_back(Job {
            range: r,
            parts,
            block_start: abs,
            block: Vec::new(),
            end,
        });
        self.advance();
        Ok(())
    }

    /// The next request bytes to write to the socket (as many requests as
    /// the pipeline allows), or `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.closed || self.no_more_requests {
            return None;
        }
        let mut out = String::new();
        let was_idle = self.in_flight == 0;
        'jobs: for ji in 0..self.jobs.len() {
            let n_parts = self.jobs.get(ji).map_or(0, |j| j.parts.len());
            for pi in 0..n_parts {
                if self.in_flight >= self.settings.max_pipeline.max(1) {
                    break 'jobs;
                }
                let Some(Part::Http(h)) = self.jobs.get(ji).and_then(|j| j.parts.get(pi)) else {
                    continue;
                };
                if h.sent {
                    continue;
                }
                let h = h.clone();
                self.write_request(&mut out, &h);
                if let Some(Part::Http(h)) = self.jobs.get_mut(ji).and_then(|j| j.parts.get_mut(pi))
                {
                    h.sent = true;
                }
                self.in_flight += 1;
            }
        }
        if out.is_empty() {
            return None;
        }
        if was_idle {
            self.last_activity = now;
        }
        Some(out.into_bytes())
    }

    fn write_request(&mut self, out: &mut String, h: &HttpPart) {
        out.push_str("GET ");
        out.push_str(&h.target);
        out.push_str(" HTTP/1.1\r\nHost: ");
        out.push_str(&self.url.host_header());
        if (self.first_request || self.settings.always_send_user_agent)
            && !self.settings.user_agent.is_empty()
        {
            out.push_str("\r\nUser-Agent: ");
            out.push_str(&self.settings.user_agent);
        }
        if !self.auth.is_empty() {
            out.push_str("\r\nAuthorization: ");
            out.push_str(&self.auth);
        }
        for (n, v) in &self.extra_headers {
            out.push_str(&format!("\r\n{n}: {v}"));
        }
        if self.first_request {
            out.push_str("\r\nConnection: keep-alive");
        }
        if h.range {
            out.push_str(&format!(
                "\r\nRange: bytes={}-{}",
                h.start,
                h.start + h.len - 1
            ));
        }
        out.push_str("\r\n\r\n");
        self.first_request = false;
    }

    /// Takes the next event.
    pub fn poll_event(&mut self) -> Option<WebSeedEvent> {
        self.events.pop_front()
    }

    /// When [`tick`](Self::tick) must be called (the request timeout), if
    /// anything is outstanding.
    pub fn next_timeout(&self) -> Option<Instant> {
        (!self.closed && self.in_flight > 0)
            .then(|| self.last_activity + self.settings.request_timeout)
    }

    /// Advances time: times out the connection when requests are
    /// outstanding and nothing arrived for the request timeout.
    pub fn tick(&mut self, now: Instant) {
        if self.next_timeout().is_some_and(|t| now >= t) {
            self.close_with(CloseReason::Timeout);
        }
    }

    /// Ends the connection from our side; unfinished ranges are reported
    /// in the [`WebSeedEvent::Closed`] event.
    pub fn close(&mut self) {
        self.close_with(CloseReason::Local);
    }

    /// Feeds bytes read from the socket.
    pub fn on_data(&mut self, data: &[u8], now: Instant) {
        if self.closed {
            return;
        }
        self.last_activity = now;
        let mut data = data;
        loop {
            let (n, ev) = match self.parser.parse(data) {
                Ok(x) => x,
                Err(e) => return self.close_with(CloseReason::Protocol(e.into())),
            };
            data = data.get(n..).unwrap_or(&[]);
            let res = match ev {
                None if n == 0 => break,
                None => Ok(()),
                Some(Parsed::Head(h)) => self.on_head(h),
                Some(Parsed::Body(b)) => self.on_body(b),
                Some(Parsed::End) => self.on_end(),
            };
            if let Err(e) = res {
                return self.close_with(CloseReason::Protocol(e));
            }
            if self.closed {
                return;
            }
        }
    }

    /// The socket reached EOF (or the driver's read failed).
    pub fn on_eof(&mut self, _now: Instant) {
        if self.closed {
            return;
        }
        match self.parser.on_eof() {
            Ok(Some(_)) => {
                if let Err(e) = self.on_end() {
                    return self.close_with(CloseReason::Protocol(e));
                }
                if !self.closed {
                    self.close_with(CloseReason::ServerClosed);
                }
            }
            Ok(None) => self.close_with(CloseReason::ServerClosed),
            Err(e) => {
                if matches!(self.rx, RxState::ErrorBody { .. }) {
                    let _ = self.finish_error_body();
                } else if self.parser.is_idle() || self.in_flight == 0 {
                    self.close_with(CloseReason::ServerClosed);
                } else {
                    self.close_with(CloseReason::Protocol(e.into()));
                }
            }
        }
    }

    fn front_http(&self) -> Option<&HttpPart> {
        match self.jobs.front()?.parts.front()? {
            Part::Http(h) if h.sent => Some(h),
            _ => None,
        }
    }

    fn request_url(&self, h: &HttpPart) -> String {
        format!("{}{}", self.url.origin(), h.target)
    }

    fn on_head(&mut self, head: ResponseHead) -> Result<(), WebSeedError> {
        let h = self
            .front_http()
            .cloned()
            .ok_or(WebSeedError::UnexpectedResponse)?;
        self.responses += 1;
        if head.connection_close {
            self.no_more_requests = true;
            if self.responses == 1 {
                self.keep_alive = Some(false);
            }
        } else if self.keep_alive.is_none() {
            self.keep_alive = Some(true);
        }
        let status = head.status;
        if (300..400).contains(&status) {
            let loc = head
                .header("location")
                .ok_or(WebSeedError::MissingLocation)?;
            let location = resolve_location(&self.request_url(&h), loc)
                .map_err(|_| WebSeedError::MissingLocation)?;
            let file = if self.single_file || self.kind == WebSeedKind::HttpSeed {
                None
            } else {
                h.file
            };
            self.close_with(CloseReason::Redirect {
                status,
                location,
                file,
            });
            return Ok(());
        }
        let accepted = match self.kind {
            WebSeedKind::UrlSeed => status == 200 || status == 206,
            WebSeedKind::HttpSeed => status == 200,
        };
        if !accepted {
            if self.kind == WebSeedKind::HttpSeed && status == 503 {
                self.rx = RxState::ErrorBody {
                    head: Box::new(head),
                    body: Vec::new(),
                };
                return Ok(());
            }
            let retry_after = head.retry_after().unwrap_or(self.settings.default_retry);
            self.close_with(CloseReason::HttpStatus {
                status,
                reason: head.reason,
                file: h.file,
                retry_after,
            });
            return Ok(());
        }
        let len = u64::try_from(h.len).map_err(|_| WebSeedError::InvalidRange)?;
        let start = u64::try_from(h.start).map_err(|_| WebSeedError::InvalidRange)?;
        if head.content_length.is_some_and(|c| c != len) {
            return Err(WebSeedError::InvalidRange);
        }
        if status == 206 {
            if head.content_range != Some((start, start + len)) {
                return Err(WebSeedError::InvalidRange);
            }
        } else if h.range && start != 0 {
            // 200: the server sent the whole file; only right if we asked
            // for the whole file (checked by the length)
            return Err(WebSeedError::InvalidRange);
        }
        self.rx = RxState::Body { got: 0 };
        Ok(())
    }

    fn on_body(&mut self, b: &[u8]) -> Result<(), WebSeedError> {
        let want = self.front_http().map_or(0, |h| h.len);
        match &mut self.rx {
            RxState::ErrorBody { body, .. } => {
                let room = MAX_ERROR_BODY.saturating_sub(body.len());
                body.extend_from_slice(b.get(..room.min(b.len())).unwrap_or(&[]));
                Ok(())
            }
            RxState::Body { got } => {
                let n = i64::try_from(b.len()).map_err(|_| WebSeedError::InvalidRange)?;
                if *got + n > want {
                    return Err(WebSeedError::InvalidRange);
                }
                *got += n;
                self.feed(b);
                Ok(())
            }
            RxState::Idle => Err(WebSeedError::UnexpectedResponse),
        }
    }

    fn finish_error_body(&mut self) -> Result<(), WebSeedError> {
        let RxState::ErrorBody { head, body } = std::mem::replace(&mut self.rx, RxState::Idle)
        else {
            return Ok(());
        };
        let file = self.front_http().and_then(|h| h.file);
        let text = String::from_utf8_lossy(&body);
        let secs: u64 = text.trim().parse().unwrap_or(0);
        let retry_after = if secs > 0 {
            Duration::from_secs(secs.min(u64::from(u32::MAX)))
        } else {
            Duration::from_secs(60)
        };
        self.close_with(CloseReason::HttpStatus {
            status: head.status,
            reason: head.reason.clone(),
            file,
            retry_after,
        });
        Ok(())
    }

    fn on_end(&mut self) -> Result<(), WebSeedError> {
        match std::mem::replace(&mut self.rx, RxState::Idle) {
            RxState::Idle => return Err(WebSeedError::UnexpectedResponse),
            e @ RxState::ErrorBody { .. } => {
                self.rx = e;
                return self.finish_error_body();
            }
            RxState::Body { got } => {
                let want = self.front_http().map_or(-1, |h| h.len);
                if got != want {
                    return Err(WebSeedError::InvalidRange);
                }
            }
        }
        if let Some(j) = self.jobs.front_mut() {
            j.parts.pop_front();
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.advance();
        if self.no_more_requests && !self.closed {
            self.close_with(CloseReason::ServerClosed);
        }
        Ok(())
    }

    /// Appends bytes to the front job's block buffer, emitting blocks.
    fn feed(&mut self, mut data: &[u8]) {
        let pl = i64::from(self.files.piece_length());
        let Some(job) = self.jobs.front_mut() else {
            return;
        };
        while !data.is_empty() {
            let have = job.block_start + job.block.len() as i64;
            let block_end = block_end(&self.files, pl, job.block_start).min(job.end);
            let need = usize::try_from(block_end - have).unwrap_or(0);
            if need == 0 {
                break;
            }
            let take = need.min(data.len());
            job.block.extend_from_slice(data.get(..take).unwrap_or(&[]));
            data = data.get(take..).unwrap_or(&[]);
            if job.block_start + job.block.len() as i64 == block_end {
                let piece = (job.block_start / pl) as i32;
                let offset = (job.block_start % pl) as i32;
                self.events.push_back(WebSeedEvent::Block {
                    piece,
                    offset,
                    data: std::mem::take(&mut job.block),
                });
                job.block_start = block_end;
            }
        }
    }

    /// Handles pad parts at the front and completed jobs.
    fn advance(&mut self) {
        loop {
            let Some(job) = self.jobs.front_mut() else {
                return;
            };
            match job.parts.front() {
                None => {
                    let r = job.range;
                    self.jobs.pop_front();
                    self.events.push_back(WebSeedEvent::RequestDone(r));
                }
                Some(Part::Pad(n)) => {
                    let mut left = *n;
                    job.parts.pop_front();
                    let zeros = vec![0u8; usize::try_from(left.min(BLOCK_SIZE)).unwrap_or(0)];
                    while left > 0 {
                        let step = left.min(BLOCK_SIZE);
                        self.feed(
                            zeros
                                .get(..usize::try_from(step).unwrap_or(0))
                                .unwrap_or(&[]),
                        );
                        left -= step;
                    }
                }
                Some(Part::Http(_)) => return,
            }
        }
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        let pl = i64::from(self.files.piece_length());
        let mut unfinished = Vec::new();
        for j in self.jobs.drain(..) {
            let len = j.end - j.block_start;
            if len > 0 {
                unfinished.push(PieceRange {
                    piece: (j.block_start / pl) as i32,
                    start: (j.block_start % pl) as i32,
                    length: len as i32,
                });
            }
        }
        self.in_flight = 0;
        self.events
            .push_back(WebSeedEvent::Closed { reason, unfinished });
    }
}

/// End (absolute offset) of the block that starts at absolute `pos`.
fn block_end(files: &FileStorage, pl: i64, pos: i64) -> i64 {
    let piece = pos / pl;
    let off = pos % pl;
    let psize = i64::from(files.piece_size(piece as i32));
    let end_in_piece = ((off / BLOCK_SIZE + 1) * BLOCK_SIZE).min(psize);
    piece * pl + end_in_piece
}
