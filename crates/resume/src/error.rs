//! Errors of resume-data parsing, with libtorrent's categories, codes and
//! messages (`"<message> [<category>:<code>]"`).

use std::fmt;

use lt_metainfo::MetainfoError;

/// Why a resume file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeError {
    /// The root value is not a dictionary (`libtorrent:136`).
    NotADictionary,
    /// `file-format` is not `libtorrent resume file`, or `file-version` is
    /// neither 1 nor 2 (`libtorrent:28`).
    InvalidFileTag,
    /// Neither a 20-byte `info-hash` nor a 32-byte `info-hash2`
    /// (`libtorrent:29`).
    MissingInfoHash,
    /// The embedded `info` dictionary does not hash to the stored
    /// info-hash (`libtorrent:30`).
    MismatchingInfoHash,
    /// A bencode syntax error or an invalid embedded `info` dictionary (the
    /// metainfo error, in its own category).
    Metainfo(MetainfoError),
}

impl ResumeError {
    pub fn category(&self) -> &'static str {
        match self {
            ResumeError::Metainfo(e) => e.category().name(),
            _ => "libtorrent",
        }
    }

    pub fn code(&self) -> i32 {
        match self {
            ResumeError::NotADictionary => 136,
            ResumeError::InvalidFileTag => 28,
            ResumeError::MissingInfoHash => 29,
            ResumeError::MismatchingInfoHash => 30,
            ResumeError::Metainfo(e) => e.code(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            ResumeError::NotADictionary => "not a dictionary".to_owned(),
            ResumeError::InvalidFileTag => "invalid file format tag".to_owned(),
            ResumeError::MissingInfoHash => "missing info-hash".to_owned(),
            ResumeError::MismatchingInfoHash => "mismatching info-hash".to_owned(),
            ResumeError::Metainfo(e) => e.message(),
        }
    }
}

impl fmt::Display for ResumeError {
    /// `"<message> [<category>:<code>]"`, as libtorrent's Python bindings
    /// word the exception.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}:{}]",
            self.message(),
            self.category(),
            self.code()
        )
    }
}

impl std::error::Error for ResumeError {}

impl From<MetainfoError> for ResumeError {
    fn from(e: MetainfoError) -> Self {
        ResumeError::Metainfo(e)
    }
}

impl From<lt_bencode::Error> for ResumeError {
    fn from(e: lt_bencode::Error) -> Self {
        ResumeError::Metainfo(MetainfoError::from(e))
    }
}
