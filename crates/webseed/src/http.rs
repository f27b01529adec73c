//! An incremental, bounded HTTP/1.x response parser: status line, headers,
//! `Content-Length`, `Transfer-Encoding: chunked` and read-until-EOF bodies,
//! several responses back to back on one connection (pipelining).
//!
//! It never buffers body bytes: [`ResponseParser::parse`] hands out
//! sub-slices of its input. Only the head (at most `max_head` bytes) and
//! one chunk-size or trailer line are buffered.

use std::fmt;
use std::time::Duration;

/// Longest chunk-size or trailer line accepted.
pub const MAX_LINE: usize = 1024;
/// Most header lines accepted in one head.
pub const MAX_HEADER_LINES: usize = 100;
/// Most trailer lines accepted after a chunked body.
pub const MAX_TRAILER_LINES: usize = 32;

/// A malformed or unsupported response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The head is longer than the limit.
    HeadTooLarge,
    /// More than [`MAX_HEADER_LINES`] header lines.
    TooManyHeaders,
    /// The status line is not `HTTP/1.x DDD reason`.
    BadStatusLine,
    /// A header line is not `name: value`.
    BadHeader,
    /// `Content-Length` is not a number, or given twice with different values.
    BadContentLength,
    /// `Content-Range` is not `bytes first-last[/total]`.
    BadContentRange,
    /// A transfer coding other than `chunked`, or a content coding other
    /// than `identity` (we never ask for compression).
    UnsupportedEncoding,
    /// A chunk-size line or the CRLF after chunk data is malformed.
    BadChunk,
    /// `101 Switching Protocols`.
    UnexpectedUpgrade,
    /// The connection closed in the middle of a response.
    UnexpectedEof,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::HeadTooLarge => "HTTP response head too large",
            HttpError::TooManyHeaders => "too many HTTP header lines",
            HttpError::BadStatusLine => "invalid HTTP status line",
            HttpError::BadHeader => "invalid HTTP header line",
            HttpError::BadContentLength => "invalid Content-Length",
            HttpError::BadContentRange => "invalid Content-Range",
            HttpError::UnsupportedEncoding => "unsupported HTTP transfer or content encoding",
            HttpError::BadChunk => "invalid HTTP chunked encoding",
            HttpError::UnexpectedUpgrade => "unexpected HTTP protocol upgrade",
            HttpError::UnexpectedEof => "connection closed in the middle of an HTTP response",
        })
    }
}

impl std::error::Error for HttpError {}

/// The status line and headers of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub status: u16,
    pub reason: String,
    /// Headers in order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub content_length: Option<u64>,
    /// `Content-Range`: first byte and one past the last byte.
    pub content_range: Option<(u64, u64)>,
    pub chunked: bool,
    /// The server closes the connection after this response
    /// (`Connection: close`, or HTTP/1.0 without `keep-alive`).
    pub connection_close: bool,
}

impl ResponseHead {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds (the HTTP-date form is not supported and
    /// gives `None`, as does 0).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?;
        let secs = parse_u64(v.as_bytes())?;
        (secs > 0).then(|| Duration::from_secs(secs.min(u64::from(u32::MAX))))
    }

    fn body_kind(&self) -> Body {
        if (100..200).contains(&self.status) || self.status == 204 || self.status == 304 {
            Body::Length(0)
        } else if self.chunked {
            Body::ChunkSize
        } else if let Some(n) = self.content_length {
            Body::Length(n)
        } else {
            Body::UntilEof
        }
    }
}

/// What [`ResponseParser::parse`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete head (1xx interim responses are skipped).
    Head(ResponseHead),
    /// Body bytes (de-chunked).
    Body(&'a [u8]),
    /// The end of the current response's body.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Length(u64),
    UntilEof,
    ChunkSize,
    ChunkData(u64),
    /// The line end after chunk data (whether its CR was seen).
    ChunkCrlf(bool),
    Trailer(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Head,
    Body(Body),
}

/// The parser. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ResponseParser {
    state: State,
    buf: Vec<u8>,
    max_head: usize,
    /// Set when the current response's head is complete and its `End` has
    /// not been returned.
    in_body: bool,
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0')))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| *c != b' ' && *c != b'\t')
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Parses `bytes first-last[/total|*]` (the `bytes ` unit may be missing,
/// as some servers send it). Returns `(first, last + 1)`.
pub fn parse_content_range(v: &str) -> Result<(u64, u64), HttpError> {
    let v = v.trim();
    let v = match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("bytes ") => v.get(6..).unwrap_or("").trim_start(),
        _ => v,
    };
    let (range, total) = match v.split_once('/') {
        Some((r, t)) => (r, Some(t)),
        None => (v, None),
    };
    let (a, b) = range.split_once('-').ok_or(HttpError::BadContentRange)?;
    let first = parse_u64(a.as_bytes()).ok_or(HttpError::BadContentRange)?;
    let last = parse_u64(b.as_bytes()).ok_or(HttpError::BadContentRange)?;
    if last < first {
        return Err(HttpError::BadContentRange);
    }
    match total {
        None | Some("*") => {}
        Some(t) => {
            let t = parse_u64(t.as_bytes()).ok_or(HttpError::BadContentRange)?;
            if last >= t {
                return Err(HttpError::BadContentRange);
            }
        }
    }
    Ok((first, last + 1))
}

fn parse_head(raw: &[u8]) -> Result<ResponseHead, HttpError> {
    let mut lines = raw
        .split_inclusive(|c| *c == b'\n')
        .map(|l| l.strip_suffix(b"\n").unwrap_or(l))
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().ok_or(HttpError::BadStatusLine)?;
    let rest = status_line
        .strip_prefix(b"HTTP/1.")
        .ok_or(HttpError::BadStatusLine)?;
    let (&minor, rest) = rest.split_first().ok_or(HttpError::BadStatusLine)?;
    if minor != b'0' && minor != b'1' {
        return Err(HttpError::BadStatusLine);
    }
    let rest = rest.strip_prefix(b" ").ok_or(HttpError::BadStatusLine)?;
    let (code, reason) = match rest.get(3..) {
        Some(r) => (rest.get(..3).unwrap_or(&[]), r),
        None => return Err(HttpError::BadStatusLine),
    };
    if !code.iter().all(u8::is_ascii_digit) || !(reason.is_empty() || reason.starts_with(b" ")) {
        return Err(HttpError::BadStatusLine);
    }
    let status = code.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    if status < 100 {
        return Err(HttpError::BadStatusLine);
    }
    let reason = trim(reason);
    if reason.iter().any(|c| c.is_ascii_control() && *c != b'\t') {
        return Err(HttpError::BadStatusLine);
    }
    let mut head = ResponseHead {
        minor_version: minor - b'0',
        status,
        reason: String::from_utf8_lossy(reason).into_owned(),
        headers: Vec::new(),
        content_length: None,
        content_range: None,
        chunked: false,
        connection_close: minor == b'0',
    };
    for l in lines {
        if l.is_empty() {
            break;
        }
        if head.headers.len() >= MAX_HEADER_LINES {
            return Err(HttpError::TooManyHeaders);
        }
        let colon = l
            .iter()
            .position(|c| *c == b':')
            .ok_or(HttpError::BadHeader)?;
        let (name, value) = l.split_at(colon);
        let value = trim(value.get(1..).unwrap_or(&[]));
        if name.is_empty() || !name.iter().all(|c| is_token(*c)) {
            return Err(HttpError::BadHeader);
        }
        if value.iter().any(|c| c.is_ascii_control() && *c != b'\t') {
            return Err(HttpError::BadHeader);
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();
        match name.as_str() {
            "content-length" => {
                let n = parse_u64(value.as_bytes()).ok_or(HttpError::BadContentLength)?;
                if head.content_length.is_some_and(|o| o != n) {
                    return Err(HttpError::BadContentLength);
                }
                head.content_length = Some(n);
            }
            "content-range" => head.content_range = Some(parse_content_range(&value)?),
            "transfer-encoding" => {
                let codings: Vec<String> = value
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect();
                if codings.iter().any(|c| c != "chunked" && c != "identity") {
                    return Err(HttpError::UnsupportedEncoding);
                }
                head.chunked = codings.last().is_some_and(|c| c == "chunked");
            }
            "content-encoding"
                if !value.trim().eq_ignore_ascii_case("identity") && !value.trim().is_empty() =>
            {
                return Err(HttpError::UnsupportedEncoding);
            }
            "connection" => {
                for tok in value.split(',') {
                    let tok = tok.trim();
                    if tok.eq_ignore_ascii_case("close") {
                        head.connection_close = true;
                    } else if tok.eq_ignore_ascii_case("keep-alive") && minor == b'0' {
                        head.connection_close = false;
                    }
                }
            }
            _ => {}
        }
        head.headers.push((name, value));
    }
    if head.chunked {
        // RFC 9112: Transfer-Encoding overrides Content-Length
        head.content_length = None;
    }
    if head.status == 101 {
        return Err(HttpError::UnexpectedUpgrade);
    }
    Ok(head)
}

impl ResponseParser {
    /// A parser whose heads may be at most `max_head` bytes.
    pub fn new(max_head: usize) -> Self {
        ResponseParser {
            state: State::Head,
            buf: Vec::new(),
            max_head,
            in_body: false,
        }
    }

    /// Whether the parser is between responses (nothing partial buffered).
    pub fn is_idle(&self) -> bool {
        self.state == State::Head && self.buf.is_empty()
    }

    /// Consumes a prefix of `data`. Returns how many bytes were consumed and
    /// what was found; `(n, None)` means all `n == data.len()` bytes were
    /// absorbed and more input is needed. Call again with the rest.
    pub fn parse<'a>(&mut self, data: &'a [u8]) -> Result<(usize, Option<Parsed<'a>>), HttpError> {
        match self.state.clone() {
            State::Head => self.parse_head(data),
            State::Body(b) => self.parse_body(b, data),
        }
    }

    /// The connection reached EOF: ends a read-until-EOF body, or fails
    /// when a response is incomplete. `Ok(None)` when idle.
    pub fn on_eof(&mut self) -> Result<Option<Parsed<'static>>, HttpError> {
        match self.state {
            State::Head if self.buf.is_empty() => Ok(None),
            State::Body(Body::UntilEof) => {
                self.state = State::Head;
                self.in_body = false;
                Ok(Some(Parsed::End))
            }
            _ => Err(HttpError::UnexpectedEof),
        }
    }

    fn parse_head<'a>(&mut self, data: &'a [u8]) -> Result<(usize, Option<Parsed<'a>>), HttpError> {
        // skip blank lines between responses (tolerated by RFC 9112)
        let mut skipped = 0;
        if self.buf.is_empty() {
            skipped = data
                .iter()
                .take_while(|c| **c == b'\r' || **c == b'\n')
                .count();
        }
        let data = data.get(skipped..).unwrap_or(&[]);
        let old = self.buf.len();
        let search_from = old.saturating_sub(3);
        let room = self.max_head.saturating_sub(old);
        let take = data.len().min(room);
        self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
        let end =
            find_head_end(self.buf.get(search_from..).unwrap_or(&[])).map(|e| e + search_from);
        let Some(end) = end else {
            if self.buf.len() >= self.max_head {
                return Err(HttpError::HeadTooLarge);
            }
            return Ok((skipped + take, None));
        };
        let consumed = end - old;
        let head = parse_head(self.buf.get(..end).unwrap_or(&[]))?;
        self.buf.clear();
        if (100..200).contains(&head.status) {
            // interim response: skip it, the real one follows
            return Ok((skipped + consumed, None));
        }
        self.state = State::Body(head.body_kind());
        self.in_body = true;
        Ok((skipped + consumed, Some(Parsed::Head(head))))
    }

    fn finish(&mut self) -> Parsed<'static> {
        self.state = State::Head;
        self.in_body = false;
        Parsed::End
    }

    /// Reads a line (for chunk sizes and trailers) into `buf`. Returns the
    /// bytes consumed and whether the line is complete.
    fn take_line(&mut self, data: &[u8]) -> Result<(usize, bool), HttpError> {
        match data.iter().position(|c| *c == b'\n') {
            Some(p) => {
                if self.buf.len() + p > MAX_LINE {
                    return Err(HttpError::BadChunk);
                }
                self.buf.extend_from_slice(data.get(..p).unwrap_or(&[]));
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                Ok((p + 1, true))
            }
            None => {
                if self.buf.len() + data.len() > MAX_LINE {
                    return Err(HttpError::BadChunk);
                }
                self.buf.extend_from_slice(data);
                Ok((data.len(), false))
            }
        }
    }

    fn parse_body<'a>(
        &mut self,
        b: Body,
        data: &'a [u8],
    ) -> Result<(usize, Option<Parsed<'a>>), HttpError> {
        match b {
            Body::Length(0) => Ok((0, Some(self.finish()))),
            Body::Length(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(data.len());
                if take == 0 {
                    return Ok((0, None));
                }
                self.state = State::Body(Body::Length(n - take as u64));
                Ok((take, Some(Parsed::Body(data.get(..take).unwrap_or(&[])))))
            }
            Body::UntilEof => {
                if data.is_empty() {
                    return Ok((0, None));
                }
                Ok((data.len(), Some(Parsed::Body(data))))
            }
            Body::ChunkSize => {
                let (n, done) = self.take_line(data)?;
                if !done {
                    return Ok((n, None));
                }
                let line = std::mem::take(&mut self.buf);
                let size_part = line.split(|c| *c == b';').next().unwrap_or(&[]);
                let size_part = trim(size_part);
                if size_part.is_empty() || size_part.len() > 15 {
                    return Err(HttpError::BadChunk);
                }
                let mut size = 0u64;
                for c in size_part {
                    let d = char::from(*c).to_digit(16).ok_or(HttpError::BadChunk)?;
                    size = (size << 4) | u64::from(d);
                }
                self.state = State::Body(if size == 0 {
                    Body::Trailer(0)
                } else {
                    Body::ChunkData(size)
                });
                Ok((n, None))
            }
            Body::ChunkData(left) => {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                if take == 0 {
                    return Ok((0, None));
                }
                let left = left - take as u64;
                self.state = State::Body(if left == 0 {
                    Body::ChunkCrlf(false)
                } else {
                    Body::ChunkData(left)
                });
                Ok((take, Some(Parsed::Body(data.get(..take).unwrap_or(&[])))))
            }
            Body::ChunkCrlf(seen_cr) => match data.first() {
                None => Ok((0, None)),
                Some(b'\r') if !seen_cr => {
                    self.state = State::Body(Body::ChunkCrlf(true));
                    Ok((1, None))
                }
                Some(b'\n') => {
                    self.state = State::Body(Body::ChunkSize);
                    Ok((1, None))
                }
                Some(_) => Err(HttpError::BadChunk),
            },
            Body::Trailer(count) => {
                let (n, done) = self.take_line(data)?;
                if !done {
                    return Ok((n, None));
                }
                let line = std::mem::take(&mut self.buf);
                if line.is_empty() {
                    return Ok((n, Some(self.finish())));
                }
                if count + 1 > MAX_TRAILER_LINES || !line.contains(&b':') {
                    return Err(HttpError::BadChunk);
                }
                self.state = State::Body(Body::Trailer(count + 1));
                Ok((n, None))
            }
        }
    }
}

/// End of the head (index just past the empty line) in `b`.
fn find_head_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = b.get(i..).and_then(|s| s.iter().position(|c| *c == b'\n')) {
        let nl = i + p;
        let rest = b.get(nl + 1..).unwrap_or(&[]);
        if rest.first() == Some(&b'\n') {
            return Some(nl + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}
