//! Errors of torrent parsing, with the categories, codes and messages
//! libtorrent reports, so callers can present them identically
//! (`"<message> [<category>:<code>]"`).

use std::fmt;

/// Error category, as in libtorrent's `error_code` categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Libtorrent,
    Bdecode,
    Generic,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Libtorrent => "libtorrent",
            Category::Bdecode => "bdecode",
            Category::Generic => "generic",
        }
    }
}

/// Why a torrent could not be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetainfoError {
    NotADictionary,
    MissingInfo,
    MissingPieceLength,
    MissingName,
    InvalidName,
    InvalidLength,
    FailedToParseFiles,
    MissingPieces,
    InvalidHashes,
    TooManyPieces,
    InvalidBencoding,
    NoFiles,
    MetadataTooLarge,
    UnknownVersion,
    MissingFileTree,
    MissingMetaVersion,
    InconsistentFiles,
    MissingPieceLayer,
    InvalidPieceLayer,
    MissingPiecesRoot,
    V2PadFile,
    TooDeepFileTree,
    /// A bencode syntax error (bdecode category).
    Bdecode(BdecodeError),
    /// An OS error reading a file (generic category, errno).
    Io(i32),
}

/// libtorrent's bdecode error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BdecodeError {
    ExpectedDigit = 1,
    ExpectedColon = 2,
    UnexpectedEof = 3,
    ExpectedValue = 4,
    DepthExceeded = 5,
    LimitExceeded = 6,
    Overflow = 7,
}

impl BdecodeError {
    pub fn message(self) -> &'static str {
        match self {
            BdecodeError::ExpectedDigit => "expected digit in bencoded string",
            BdecodeError::ExpectedColon => "expected colon in bencoded string",
            BdecodeError::UnexpectedEof => "unexpected end of file in bencoded string",
            BdecodeError::ExpectedValue => {
                "expected value (list, dict, int or string) in bencoded string"
            }
            BdecodeError::DepthExceeded => "bencoded nesting depth exceeded",
            BdecodeError::LimitExceeded => "bencoded item count limit exceeded",
            BdecodeError::Overflow => "integer overflow",
        }
    }
}

impl From<lt_bencode::Error> for MetainfoError {
    fn from(e: lt_bencode::Error) -> Self {
        use lt_bencode::ErrorKind as K;
        MetainfoError::Bdecode(match e.kind {
            K::ExpectedDigit
            | K::ExpectedStringKey
            | K::LeadingZero
            | K::EmptyInteger
            | K::NegativeZero => BdecodeError::ExpectedDigit,
            K::ExpectedColon => BdecodeError::ExpectedColon,
            K::UnexpectedEof | K::TrailingData | K::UnsortedKeys | K::DuplicateKey => {
                BdecodeError::UnexpectedEof
            }
            K::ExpectedValue => BdecodeError::ExpectedValue,
            K::DepthExceeded => BdecodeError::DepthExceeded,
            K::TokenLimitExceeded => BdecodeError::LimitExceeded,
            K::Overflow => BdecodeError::Overflow,
        })
    }
}

impl MetainfoError {
    pub fn category(&self) -> Category {
        match self {
            MetainfoError::Bdecode(_) => Category::Bdecode,
            MetainfoError::Io(_) => Category::Generic,
            _ => Category::Libtorrent,
        }
    }

    /// The numeric error code within its category.
    pub fn code(&self) -> i32 {
        use MetainfoError::*;
        match self {
            NotADictionary => 3,
            MissingInfo => 4,
            MissingPieceLength => 6,
            MissingName => 7,
            InvalidName => 8,
            InvalidLength => 9,
            FailedToParseFiles => 10,
            MissingPieces => 11,
            InvalidHashes => 12,
            TooManyPieces => 13,
            InvalidBencoding => 15,
            NoFiles => 16,
            MetadataTooLarge => 100,
            UnknownVersion => 210,
            MissingFileTree => 211,
            MissingMetaVersion => 212,
            InconsistentFiles => 213,
            MissingPieceLayer => 214,
            InvalidPieceLayer => 215,
            MissingPiecesRoot => 216,
            V2PadFile => 218,
            TooDeepFileTree => 219,
            Bdecode(b) => *b as i32,
            Io(e) => *e,
        }
    }

    pub fn message(&self) -> String {
        use MetainfoError::*;
        let s = match self {
            NotADictionary => "torrent file is not a dictionary",
            MissingInfo => "missing or invalid 'info' section in torrent file",
            MissingPieceLength => "invalid or missing 'piece length' entry in torrent file",
            MissingName => "missing name in torrent file",
            InvalidName => "invalid 'name' of torrent (possible exploit attempt)",
            InvalidLength => "invalid length of torrent",
            FailedToParseFiles => "failed to parse files from torrent file",
            MissingPieces => "invalid or missing 'pieces' entry in torrent file",
            InvalidHashes => "incorrect number of piece hashes in torrent file",
            TooManyPieces => "too many pieces in torrent",
            InvalidBencoding => "invalid bencoding",
            NoFiles => "no files in torrent",
            MetadataTooLarge => "metadata too large",
            UnknownVersion => "the torrent file has an unknown meta version",
            MissingFileTree => "the v2 torrent file has no file tree",
            MissingMetaVersion => {
                "the torrent contains v2 keys but does not specify meta version 2"
            }
            InconsistentFiles => "the v1 and v2 file metadata does not match",
            MissingPieceLayer => "one or more files are missing piece layer hashes",
            InvalidPieceLayer => "a piece layer is invalid",
            MissingPiecesRoot => "a v2 file entry has no root hash",
            V2PadFile => "a file in the v2 metadata has the pad attribute set",
            TooDeepFileTree => "directory structure in torrent file exceeds depth limit",
            Bdecode(b) => b.message(),
            Io(e) => return io_message(*e),
        };
        s.to_owned()
    }
}

fn io_message(errno: i32) -> String {
    match errno {
        2 => "No such file or directory".to_owned(),
        13 => "Permission denied".to_owned(),
        21 => "Is a directory".to_owned(),
        _ => {
            let e = std::io::Error::from_raw_os_error(errno);
            let s = e.to_string();
            // std appends " (os error N)"
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        }
    }
}

impl fmt::Display for MetainfoError {
    /// `"<message> [<category>:<code>]"`, the form libtorrent's Python
    /// bindings put in the exception text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}:{}]",
            self.message(),
            self.category().name(),
            self.code()
        )
    }
}

impl std::error::Error for MetainfoError {}
