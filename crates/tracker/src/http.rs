//! HTTP trackers: the GET request bytes, a strict bounded HTTP/1.x
//! response parser, and [`HttpTrackerConnection`], the sans-IO state machine
//! for one announce or scrape over one TCP (or TLS) stream.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::escape::{parse_url, ParsedUrl};
use crate::request::{build_http_url, RequestKind, TrackerRequest, TrackerSettings};
use crate::response::{
    parse_announce_response, parse_scrape_response, AnnounceResponse, ReplyError, ScrapeResponse,
};
use crate::TrackerError;

/// Longest status line plus header block accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 1024;
/// Redirects followed before giving up (libtorrent follows 5).
pub const MAX_REDIRECTS: u8 = 5;

/// The bytes of `GET <path> HTTP/1.1` for `url`, with the same headers
/// libtorrent sends: `Host` (with the port when not the default),
/// `User-Agent` (when not empty), `Accept-Encoding: gzip`,
/// `Authorization: Basic` (when the URL has `user:pass@`) and
/// `Connection: close`.
pub fn build_http_request(url: &ParsedUrl, user_agent: &str) -> Vec<u8> {
    let mut r = String::with_capacity(url.path.len() + 160);
    r.push_str("GET ");
    if url.path.is_empty() {
        r.push('/');
    } else if url.path.starts_with('?') {
        r.push('/');
        r.push_str(&url.path);
    } else {
        r.push_str(&url.path);
    }
    r.push_str(" HTTP/1.1\r\nHost: ");
    r.push_str(&url.host_for_header());
    let default = if url.scheme == "https" { 443 } else { 80 };
    if let Some(p) = url.port.filter(|&p| p != default) {
        r.push(':');
        r.push_str(&p.to_string());
    }
    r.push_str("\r\n");
    // a user agent with CR or LF would inject headers; drop it
    if !user_agent.is_empty() && !user_agent.contains(['\r', '\n']) {
        r.push_str("User-Agent: ");
        r.push_str(user_agent);
        r.push_str("\r\n");
    }
    r.push_str("Accept-Encoding: gzip\r\n");
    if let Some(auth) = &url.auth {
        r.push_str("Authorization: Basic ");
        r.push_str(&base64(auth.as_bytes()));
        r.push_str("\r\n");
    }
    r.push_str("Connection: close\r\n\r\n");
    r.into_bytes()
}

use lt_core::base64::encode as base64;

/// The parsed status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpHead {
    pub status: u16,
    pub reason: String,
    /// Header names lower-cased, values trimmed, in order received.
    pub headers: Vec<(String, String)>,
}

impl HttpHead {
    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Head,
    Length(u64),
    UntilEof,
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailer,
    Done,
}

/// A strict, bounded, incremental HTTP/1.x response parser.
///
/// Feed it bytes as they arrive; it rejects malformed status lines and
/// headers, header blocks over [`MAX_HEADER_BYTES`], bodies over the
/// configured limit, and malformed chunked encoding.
#[derive(Debug)]
pub struct HttpResponseParser {
    max_body: usize,
    head_buf: Vec<u8>,
    line_buf: Vec<u8>,
    head: Option<HttpHead>,
    body: Vec<u8>,
    state: BodyState,
}

impl HttpResponseParser {
    /// A parser accepting bodies up to `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        HttpResponseParser {
            max_body,
            head_buf: Vec::new(),
            line_buf: Vec::new(),
            head: None,
            body: Vec::new(),
            state: BodyState::Head,
        }
    }

    /// The head, once complete.
    pub fn head(&self) -> Option<&HttpHead> {
        self.head.as_ref()
    }

    /// The body received so far (de-chunked).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Whether the whole response has been received.
    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    /// Consumes `data`; returns `Ok(true)` once the response is complete.
    /// Bytes after the end of the response are ignored.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<bool, TrackerError> {
        while !data.is_empty() && self.state != BodyState::Done {
            match self.state {
                BodyState::Head => {
                    let take = data.len().min(MAX_HEADER_BYTES + 4 - self.head_buf.len());
                    let start = self.head_buf.len().saturating_sub(3);
                    self.head_buf.extend_from_slice(&data[..take]);
                    if let Some(end) = find_head_end(&self.head_buf, start) {
                        let consumed_before = self.head_buf.len() - take;
                        let used = end.saturating_sub(consumed_before).min(data.len());
                        let head = parse_head(&self.head_buf[..end])?;
                        self.head_buf = Vec::new();
                        self.state = body_state_for(&head)?;
                        self.head = Some(head);
                        data = &data[used..];
                    } else {
                        if self.head_buf.len() > MAX_HEADER_BYTES {
                            return Err(TrackerError::HttpParse("header block too large"));
                        }
                        data = &data[take..];
                    }
                }
                BodyState::Length(rem) => {
                    let n = (data.len() as u64).min(rem) as usize;
                    self.push_body(&data[..n])?;
                    data = &data[n..];
                    let rem = rem - n as u64;
                    self.state = if rem == 0 {
                        BodyState::Done
                    } else {
                        BodyState::Length(rem)
                    };
                }
                BodyState::UntilEof => {
                    self.push_body(data)?;
                    data = &[];
                }
                BodyState::ChunkSize | BodyState::ChunkDataEnd | BodyState::Trailer => {
                    let Some(pos) = data.iter().position(|&b| b == b'\n') else {
                        self.push_line(data)?;
                        data = &[];
                        continue;
                    };
                    self.push_line(&data[..pos])?;
                    data = &data[pos + 1..];
                    let line = std::mem::take(&mut self.line_buf);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    self.state = match self.state {
                        BodyState::ChunkSize => {
                            let size = parse_chunk_size(line)?;
                            if size == 0 {
                                BodyState::Trailer
                            } else {
                                if size > (self.max_body - self.body.len()) as u64 {
                                    return Err(TrackerError::ResponseTooLarge);
                                }
                                BodyState::ChunkData(size)
                            }
                        }
                        BodyState::ChunkDataEnd => {
                            if !line.is_empty() {
                                return Err(TrackerError::HttpParse("missing CRLF after chunk"));
                            }
                            BodyState::ChunkSize
                        }
                        _ => {
                            if line.is_empty() {
                                BodyState::Done
                            } else {
                                BodyState::Trailer
                            }
                        }
                    };
                }
                BodyState::ChunkData(rem) => {
                    let n = (data.len() as u64).min(rem) as usize;
                    self.push_body(&data[..n])?;
                    data = &data[n..];
                    let rem = rem - n as u64;
                    self.state = if rem == 0 {
                        BodyState::ChunkDataEnd
                    } else {
                        BodyState::ChunkData(rem)
                    };
                }
                BodyState::Done => {}
            }
        }
        Ok(self.state == BodyState::Done)
    }

    /// The peer closed the stream: a body delimited by EOF is complete,
    /// anything else is truncated.
    pub fn eof(&mut self) -> Result<(), TrackerError> {
        match self.state {
            BodyState::Done => Ok(()),
            BodyState::UntilEof => {
                self.state = BodyState::Done;
                Ok(())
            }
            _ => Err(TrackerError::UnexpectedEof),
        }
    }

    fn push_body(&mut self, d: &[u8]) -> Result<(), TrackerError> {
        if self.body.len() + d.len() > self.max_body {
            return Err(TrackerError::ResponseTooLarge);
        }
        self.body.extend_from_slice(d);
        Ok(())
    }

    fn push_line(&mut self, d: &[u8]) -> Result<(), TrackerError> {
        if self.line_buf.len() + d.len() > MAX_CHUNK_LINE {
            return Err(TrackerError::HttpParse("chunk line too long"));
        }
        self.line_buf.extend_from_slice(d);
        Ok(())
    }
}

fn find_head_end(buf: &[u8], start: usize) -> Option<usize> {
    // accept CRLFCRLF and bare LFLF
    let mut i = start;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

fn parse_head(raw: &[u8]) -> Result<HttpHead, TrackerError> {
    let text = std::str::from_utf8(raw).map_err(|_| TrackerError::HttpParse("non-UTF-8 header"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .ok_or(TrackerError::HttpParse("bad status line"))?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TrackerError::HttpParse("bad status code"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| TrackerError::HttpParse("bad status code"))?;
    if !(100..=599).contains(&status) {
        return Err(TrackerError::HttpParse("bad status code"));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(TrackerError::HttpParse("too many headers"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(TrackerError::HttpParse("bad header line"))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(TrackerError::HttpParse("bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(HttpHead {
        status,
        reason: reason.trim().to_string(),
        headers,
    })
}

fn body_state_for(head: &HttpHead) -> Result<BodyState, TrackerError> {
    if head.status == 204 || head.status == 304 || (100..200).contains(&head.status) {
        return Ok(BodyState::Done);
    }
    if let Some(te) = head.header("transfer-encoding") {
        if te.eq_ignore_ascii_case("chunked") {
            return Ok(BodyState::ChunkSize);
        }
        if !te.eq_ignore_ascii_case("identity") {
            return Err(TrackerError::HttpParse("unsupported transfer-encoding"));
        }
    }
    if let Some(cl) = head.header("content-length") {
        if cl.is_empty() || cl.len() > 19 || !cl.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TrackerError::HttpParse("bad content-length"));
        }
        let n: u64 = cl
            .parse()
            .map_err(|_| TrackerError::HttpParse("bad content-length"))?;
        return Ok(if n == 0 {
            BodyState::Done
        } else {
            BodyState::Length(n)
        });
    }
    Ok(BodyState::UntilEof)
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, TrackerError> {
    let hex = line.split(|&b| b == b';').next().unwrap_or(&[]);
    let hex = hex.trim_ascii();
    if hex.is_empty() || hex.len() > 15 {
        return Err(TrackerError::HttpParse("bad chunk size"));
    }
    let mut v: u64 = 0;
    for &b in hex {
        let d = (b as char)
            .to_digit(16)
            .ok_or(TrackerError::HttpParse("bad chunk size"))?;
        v = (v << 4) | u64::from(d);
    }
    Ok(v)
}

/// Inflates a gzip body, failing when the output would exceed `limit`.
pub fn inflate_gzip(data: &[u8], limit: usize) -> Result<Vec<u8>, TrackerError> {
    let mut out = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(data).take(limit as u64 + 1);
    dec.read_to_end(&mut out).map_err(|_| TrackerError::Gzip)?;
    if out.len() > limit {
        return Err(TrackerError::ResponseTooLarge);
    }
    Ok(out)
}

/// What an [`HttpTrackerConnection`] finished with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpTrackerOutcome {
    /// A successful announce reply (interval already raised to
    /// `min_announce_interval`).
    Announce(AnnounceResponse),
    /// A successful scrape reply.
    Scrape(ScrapeResponse),
    /// The tracker redirected. Call [`HttpTrackerConnection::follow_redirect`]
    /// and connect again to [`HttpTrackerConnection::host`]/`port`.
    Redirect { location: String },
    /// The request failed.
    Failed(ReplyError),
}

/// One HTTP announce or scrape, sans IO.
///
/// The driver resolves [`host`](Self::host), drops the addresses
/// [`filter_endpoints`](Self::filter_endpoints) refuses, connects to one on
/// [`port`](Self::port) (over TLS when [`is_https`](Self::is_https)), writes
/// [`request_bytes`](Self::request_bytes), feeds everything it reads to
/// [`on_data`](Self::on_data), calls [`on_eof`](Self::on_eof) when the
/// stream closes and [`on_timeout`](Self::on_timeout) at
/// [`next_timeout`](Self::next_timeout). The first `Some` outcome is final
/// (except `Redirect`, which may be followed).
#[derive(Debug)]
pub struct HttpTrackerConnection {
    req: TrackerRequest,
    url: String,
    parsed: ParsedUrl,
    request: Vec<u8>,
    parser: HttpResponseParser,
    user_agent: String,
    ssrf_mitigation: bool,
    max_body: usize,
    min_announce_interval: u32,
    redirects: u8,
    /// `user:password` for HTTP basic authentication, set by the user
    /// (`set_tracker_login`); kept across redirects.
    login: Option<String>,
    start: Instant,
    last_receive: Instant,
    completion_timeout: Duration,
    receive_timeout: Duration,
    finished: bool,
}

impl HttpTrackerConnection {
    /// Prepares the request. Fails for malformed or non-HTTP(S) URLs and
    /// for scrapes of URLs without `announce`.
    pub fn new(
        req: TrackerRequest,
        settings: &TrackerSettings,
        now: Instant,
    ) -> Result<Self, TrackerError> {
        let url = build_http_url(&req, settings)?;
        let parsed = parse_url(&url)?;
        if parsed.scheme != "http" && parsed.scheme != "https" {
            return Err(TrackerError::UnsupportedUrlProtocol);
        }
        if !settings.allow_idna && crate::escape::is_idna(&parsed.host) {
            return Err(TrackerError::BlockedByIdna);
        }
        let user_agent = settings
            .effective_user_agent(req.private_torrent)
            .to_string();
        let request = build_http_request(&parsed, &user_agent);
        Ok(HttpTrackerConnection {
            completion_timeout: settings.completion_timeout(req.event),
            receive_timeout: Duration::from_secs(u64::from(settings.tracker_receive_timeout)),
            req,
            url,
            parsed,
            request,
            parser: HttpResponseParser::new(settings.max_http_recv_buffer_size),
            user_agent,
            ssrf_mitigation: settings.ssrf_mitigation,
            max_body: settings.max_http_recv_buffer_size,
            min_announce_interval: settings.min_announce_interval,
            redirects: 0,
            login: None,
            start: now,
            last_receive: now,
            finished: false,
        })
    }

    /// The request this connection serves.
    pub fn request(&self) -> &TrackerRequest {
        &self.req
    }
    /// The full URL requested (with the query built from the request).
    pub fn url(&self) -> &str {
        &self.url
    }
    /// Host to connect to.
    pub fn host(&self) -> &str {
        &self.parsed.host
    }
    /// Port to connect to.
    pub fn port(&self) -> u16 {
        self.parsed.port_or_default().unwrap_or(80)
    }
    /// Whether the stream must be TLS.
    pub fn is_https(&self) -> bool {
        self.parsed.scheme == "https"
    }
    /// The bytes to write once connected.
    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    /// Filters the resolved addresses of [`host`](Self::host) before
    /// connecting: with `ssrf_mitigation`, loopback addresses are refused
    /// unless the path starts with `/announce`. When none is left the
    /// request fails (`SsrfMitigation`); the outcome is returned.
    pub fn filter_endpoints(
        &mut self,
        addrs: &mut Vec<std::net::IpAddr>,
    ) -> Option<HttpTrackerOutcome> {
        if self.finished || !self.ssrf_mitigation || self.parsed.path.starts_with("/announce") {
            return None;
        }
        let before = addrs.len();
        addrs.retain(|a| !a.is_loopback());
        if addrs.is_empty() && before > 0 {
            return self.finish(Err(TrackerError::SsrfMitigation.into()));
        }
        None
    }

    /// When [`on_timeout`](Self::on_timeout) should be called.
    pub fn next_timeout(&self) -> Instant {
        (self.start + self.completion_timeout).min(self.last_receive + self.receive_timeout)
    }

    /// Fails the request when the completion or receive timeout passed.
    pub fn on_timeout(&mut self, now: Instant) -> Option<HttpTrackerOutcome> {
        if self.finished || now < self.next_timeout() {
            return None;
        }
        self.finish(Err(TrackerError::TimedOut.into()))
    }

    /// Bytes read from the stream.
    pub fn on_data(&mut self, now: Instant, data: &[u8]) -> Option<HttpTrackerOutcome> {
        if self.finished {
            return None;
        }
        self.last_receive = now;
        match self.parser.feed(data) {
            Err(e) => self.finish(Err(e.into())),
            Ok(done) => {
                if let Some(head) = self.parser.head() {
                    // redirects and errors do not need the body
                    if (300..400).contains(&head.status) && head.header("location").is_some() {
                        return self.complete();
                    }
                    if head.status != 200 && !done {
                        return self.complete();
                    }
                }
                if done {
                    self.complete()
                } else {
                    None
                }
            }
        }
    }

    /// The stream was closed by the peer.
    pub fn on_eof(&mut self, _now: Instant) -> Option<HttpTrackerOutcome> {
        if self.finished {
            return None;
        }
        match self.parser.eof() {
            Ok(()) => self.complete(),
            Err(e) => self.finish(Err(e.into())),
        }
    }

    /// A transport error (connect refused, reset, TLS failure...).
    pub fn on_io_error(&mut self, message: impl Into<String>) -> Option<HttpTrackerOutcome> {
        if self.finished {
            return None;
        }
        self.finish(Err(TrackerError::Io(message.into()).into()))
    }

    /// Authenticates the request with HTTP basic authentication as
    /// `login` (`user:password`), in place of any credentials in the URL.
    pub fn set_login(&mut self, login: &str) {
        self.login = Some(login.to_string());
        self.parsed.auth = Some(login.to_string());
        self.request = build_http_request(&self.parsed, &self.user_agent);
    }

    /// Re-targets the request at a redirect `location` (absolute, or
    /// relative to the current URL). The driver then opens a new stream.
    pub fn follow_redirect(&mut self, location: &str, now: Instant) -> Result<(), TrackerError> {
        if self.redirects >= MAX_REDIRECTS {
            return Err(TrackerError::TooManyRedirects);
        }
        let new_url = resolve_location(&self.parsed, location)?;
        let parsed = parse_url(&new_url).map_err(|_| TrackerError::InvalidRedirect)?;
        if parsed.scheme != "http" && parsed.scheme != "https" {
            return Err(TrackerError::InvalidRedirect);
        }
        self.redirects += 1;
        let mut parsed = parsed;
        if self.login.is_some() {
            parsed.auth.clone_from(&self.login);
        }
        self.request = build_http_request(&parsed, &self.user_agent);
        self.parsed = parsed;
        self.url = new_url;
        self.parser = HttpResponseParser::new(self.max_body);
        self.start = now;
        self.last_receive = now;
        self.finished = false;
        Ok(())
    }

    fn complete(&mut self) -> Option<HttpTrackerOutcome> {
        let head = self.parser.head()?.clone();
        if (300..400).contains(&head.status) {
            if let Some(loc) = head.header("location") {
                self.finished = true;
                if self.redirects >= MAX_REDIRECTS {
                    return Some(HttpTrackerOutcome::Failed(
                        TrackerError::TooManyRedirects.into(),
                    ));
                }
                return Some(HttpTrackerOutcome::Redirect {
                    location: loc.to_string(),
                });
            }
        }
        if head.status != 200 {
            return self.finish(Err(TrackerError::HttpStatus {
                code: head.status,
                message: head.reason,
            }
            .into()));
        }
        let encoding = head
            .header("content-encoding")
            .unwrap_or("")
            .to_ascii_lowercase();
        let inflated;
        let body: &[u8] = match encoding.as_str() {
            "" | "identity" => self.parser.body(),
            "gzip" | "x-gzip" => match inflate_gzip(self.parser.body(), self.max_body) {
                Ok(b) => {
                    inflated = b;
                    &inflated
                }
                Err(e) => return self.finish(Err(e.into())),
            },
            _ => {
                return self.finish(Err(
                    TrackerError::HttpParse("unsupported content-encoding").into()
                ))
            }
        };
        let result = match self.req.kind {
            RequestKind::Announce => parse_announce_response(body).map(|mut r| {
                r.interval = r.interval.max(self.min_announce_interval);
                HttpTrackerOutcome::Announce(r)
            }),
            RequestKind::Scrape => {
                parse_scrape_response(body, &self.req.info_hash).map(HttpTrackerOutcome::Scrape)
            }
        };
        let result = result.map_err(|mut e| {
            if e.retry_interval > 0 {
                e.retry_interval = e.retry_interval.max(self.min_announce_interval);
            }
            e
        });
        self.finish(result)
    }

    fn finish(&mut self, r: Result<HttpTrackerOutcome, ReplyError>) -> Option<HttpTrackerOutcome> {
        self.finished = true;
        Some(match r {
            Ok(o) => o,
            Err(e) => HttpTrackerOutcome::Failed(e),
        })
    }
}

/// Resolves a `Location` header against the URL it came from.
fn resolve_location(base: &ParsedUrl, location: &str) -> Result<String, TrackerError> {
    if location.is_empty() || location.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(TrackerError::InvalidRedirect);
    }
    if location.contains("://") {
        return Ok(location.to_string());
    }
    let mut origin = format!("{}://{}", base.scheme, base.host_for_header());
    if let Some(p) = base.port {
        origin.push(':');
        origin.push_str(&p.to_string());
    }
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{}://{}", base.scheme, rest));
    }
    if location.starts_with('/') {
        return Ok(origin + location);
    }
    let path = base.path.split('?').next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    Ok(format!("{origin}{dir}{location}"))
}
