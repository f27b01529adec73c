//! Errors of tracker requests, named after libtorrent's error codes.

use std::fmt;

/// Why a tracker request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerError {
    /// The tracker replied with a non-200, non-redirect HTTP status.
    HttpStatus { code: u16, message: String },
    /// The tracker replied with `failure reason` (or a UDP error packet).
    TrackerFailure(String),
    /// The reply was not a bencoded dictionary.
    InvalidTrackerResponse,
    /// The reply was not valid bencode.
    Bdecode(lt_bencode::Error),
    /// A scrape reply without a `files` dictionary.
    InvalidFilesEntry,
    /// A scrape reply without an entry for our info-hash.
    InvalidHashEntry,
    /// A dictionary-model `peers` list with no usable entry.
    InvalidPeerDict,
    /// The announce URL has no `announce` to turn into `scrape`.
    ScrapeNotAvailable,
    /// A UDP announce reply whose peer list is not a multiple of 6/18 bytes.
    InvalidTrackerResponseLength,
    /// A UDP reply with an action we did not ask for.
    InvalidTrackerAction,
    /// A UDP reply with another transaction id.
    InvalidTrackerTransactionId,
    /// No complete reply in time.
    TimedOut,
    /// The HTTP response could not be parsed.
    HttpParse(&'static str),
    /// The HTTP body (or its decompressed form) exceeds the size limit.
    ResponseTooLarge,
    /// More redirects than allowed.
    TooManyRedirects,
    /// A `Location` header that is not a usable URL.
    InvalidRedirect,
    /// The connection closed before the response was complete.
    UnexpectedEof,
    /// A scheme this client cannot announce to.
    UnsupportedUrlProtocol,
    /// A malformed tracker URL.
    InvalidUrl(crate::escape::UrlError),
    /// The gzip body could not be inflated.
    Gzip,
    /// A transport error reported by the driver (connect refused, ...).
    Io(String),
    /// `ssrf_mitigation`: a URL whose query already carries tracker
    /// parameters, or a loopback tracker whose path is not `/announce...`.
    SsrfMitigation,
    /// `allow_idna` is off and the host has an IDNA (`xn--`) label.
    BlockedByIdna,
}

impl TrackerError {
    /// The OS error number of a transport error, when the driver's message
    /// carries one (`std::io::Error` text ends with "(os error N)").
    pub fn errno(&self) -> Option<i32> {
        match self {
            TrackerError::Io(msg) => msg
                .rsplit("(os error ")
                .next()
                .filter(|_| msg.contains("(os error "))
                .and_then(|r| r.trim_end_matches(')').parse().ok()),
            _ => None,
        }
    }
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::HttpStatus { code, message } => write!(f, "HTTP {code} {message}"),
            TrackerError::TrackerFailure(m) => write!(f, "tracker sent a failure message: {m}"),
            TrackerError::InvalidTrackerResponse => f.write_str("invalid tracker response"),
            TrackerError::Bdecode(e) => write!(f, "invalid bencoding: {e}"),
            TrackerError::InvalidFilesEntry => f.write_str("invalid files entry"),
            TrackerError::InvalidHashEntry => f.write_str("invalid hash entry"),
            TrackerError::InvalidPeerDict => f.write_str("invalid peer dictionary entry"),
            TrackerError::ScrapeNotAvailable => f.write_str("scrape is not available on url"),
            TrackerError::InvalidTrackerResponseLength => {
                f.write_str("invalid tracker response length")
            }
            TrackerError::InvalidTrackerAction => f.write_str("invalid tracker action"),
            TrackerError::InvalidTrackerTransactionId => {
                f.write_str("invalid tracker transaction id")
            }
            TrackerError::TimedOut => f.write_str("timed out"),
            TrackerError::HttpParse(m) => write!(f, "invalid HTTP response: {m}"),
            TrackerError::ResponseTooLarge => f.write_str("HTTP response too large"),
            TrackerError::TooManyRedirects => f.write_str("too many redirects"),
            TrackerError::InvalidRedirect => f.write_str("invalid redirect location"),
            TrackerError::UnexpectedEof => {
                f.write_str("connection closed before the response was complete")
            }
            TrackerError::UnsupportedUrlProtocol => f.write_str("unsupported URL protocol"),
            TrackerError::InvalidUrl(e) => write!(f, "{e}"),
            TrackerError::Gzip => f.write_str("invalid gzip body"),
            TrackerError::Io(m) => f.write_str(m),
            TrackerError::SsrfMitigation => f.write_str("blocked by SSRF mitigation"),
            TrackerError::BlockedByIdna => f.write_str("blocked by IDNA ban"),
        }
    }
}

impl std::error::Error for TrackerError {}

impl From<crate::escape::UrlError> for TrackerError {
    fn from(e: crate::escape::UrlError) -> Self {
        TrackerError::InvalidUrl(e)
    }
}
