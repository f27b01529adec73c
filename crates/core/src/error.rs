//! Error codes: a value within a category, as libtorrent reports them
//! (`error_code` in the Python API). The category decides the message.

#[path = "error_table.rs"]
mod table;

/// The error categories the Python API exposes. The declaration order is
/// the order the reference's `error_category.__lt__` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Bdecode,
    Http,
    Libtorrent,
    I2p,
    Socks,
    Upnp,
    Generic,
    System,
    /// libtorrent's "pcp error" category (PCP / NAT-PMP result codes in
    /// `portmap_error_alert`); no module function returns it.
    Pcp,
    /// Boost.Asio's "asio.misc" category: end of file (2) when a peer
    /// closes its connection.
    AsioMisc,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Generic,
        Category::System,
        Category::Libtorrent,
        Category::Bdecode,
        Category::Http,
        Category::I2p,
        Category::Socks,
        Category::Upnp,
        Category::Pcp,
        Category::AsioMisc,
    ];

    /// The category's name, as `error_category.name()` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Category::Generic => "generic",
            Category::System => "system",
            Category::Libtorrent => "libtorrent",
            Category::Bdecode => "bdecode",
            Category::Http => "http",
            Category::I2p => "i2p error",
            Category::Socks => "socks",
            Category::Upnp => "upnp",
            Category::Pcp => "pcp error",
            Category::AsioMisc => "asio.misc",
        }
    }

    /// The category with this name.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The message for `value` in this category.
    pub fn message(self, value: i32) -> String {
        let dense = |t: &[&str], fallback: &str| {
            usize::try_from(value)
                .ok()
                .and_then(|i| t.get(i))
                .copied()
                .unwrap_or(fallback)
                .to_owned()
        };
        match self {
            Category::Generic | Category::System => os_message(value),
            Category::Libtorrent => dense(&table::LIBTORRENT, "Unknown error"),
            Category::Bdecode => dense(&table::BDECODE, "Unknown error"),
            Category::Socks => dense(&table::SOCKS, "unknown error"),
            Category::I2p => dense(&table::I2P, "unknown error"),
            Category::Pcp => dense(&PCP_MESSAGES, "Unknown error"),
            Category::AsioMisc => dense(&ASIO_MISC_MESSAGES, "asio.misc error"),
            Category::Upnp => match table::UPNP.iter().find(|(v, _)| *v == value) {
                Some((_, m)) => (*m).to_owned(),
                None => format!("unknown UPnP error ({value})"),
            },
            Category::Http => match table::HTTP.iter().find(|(v, _)| *v == value) {
                Some((_, m)) => format!("{value} {m}"),
                None => format!("{value} (unknown HTTP error)"),
            },
        }
    }
}

/// Messages of the "asio.misc" category, by value.
const ASIO_MISC_MESSAGES: [&str; 5] = [
    "Success",
    "Already open",
    "End of file",
    "Element not found",
    "The descriptor does not fit into the select call's fd_set",
];

/// Messages of the "pcp error" category, by PCP result code (RFC 6887).
const PCP_MESSAGES: [&str; 14] = [
    "success",
    "unsupported version",
    "not authorized",
    "malformed request",
    "unsupported opcode",
    "unsupported option",
    "malformed option",
    "network failure",
    "no resources",
    "unsupported protocol",
    "user exceeded quota",
    "cannot provide external",
    "address mismatch",
    "excessive remote peers",
];

/// The operating system's description of errno `value` (`strerror`).
fn os_message(value: i32) -> String {
    if value == 0 {
        return "Success".to_owned();
    }
    let s = std::io::Error::from_raw_os_error(value).to_string();
    // std appends " (os error N)"
    match s.rfind(" (os error ") {
        Some(p) => s[..p].to_owned(),
        None => s,
    }
}

/// An error value in a category. Value 0 means "no error".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode {
    pub value: i32,
    pub category: Category,
}

impl Default for ErrorCode {
    /// No error (value 0 in the system category).
    fn default() -> Self {
        ErrorCode {
            value: 0,
            category: Category::System,
        }
    }
}

impl ErrorCode {
    pub fn new(value: i32, category: Category) -> Self {
        ErrorCode { value, category }
    }

    pub fn is_error(&self) -> bool {
        self.value != 0
    }

    pub fn message(&self) -> String {
        self.category.message(self.value)
    }
}

/// Values of the libtorrent category used by the engine.
pub mod libtorrent_errors {
    pub const NO_ERROR: i32 = 0;
    pub const FILE_COLLISION: i32 = 1;
    pub const FAILED_HASH_CHECK: i32 = 2;
    pub const TORRENT_IS_NO_DICT: i32 = 3;
    pub const TORRENT_MISSING_INFO: i32 = 4;
    pub const TORRENT_INFO_NO_DICT: i32 = 5;
}

/// Values of the bdecode category.
pub mod bdecode_errors {
    pub const NO_ERROR: i32 = 0;
    pub const EXPECTED_DIGIT: i32 = 1;
    pub const EXPECTED_COLON: i32 = 2;
    pub const UNEXPECTED_EOF: i32 = 3;
    pub const EXPECTED_VALUE: i32 = 4;
    pub const DEPTH_EXCEEDED: i32 = 5;
    pub const LIMIT_EXCEEDED: i32 = 6;
    pub const OVERFLOW: i32 = 7;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(Category::Libtorrent.message(0), "no error");
        assert_eq!(Category::Libtorrent.message(2), "hash check failed");
        assert_eq!(Category::Libtorrent.message(-1), "Unknown error");
        assert_eq!(Category::Libtorrent.message(100_000), "Unknown error");
        assert_eq!(
            Category::Bdecode.message(1),
            "expected digit in bencoded string"
        );
        assert_eq!(Category::Http.message(404), "404 Not Found");
        assert_eq!(Category::Http.message(999), "999 (unknown HTTP error)");
        assert_eq!(Category::Upnp.message(1), "unknown UPnP error (1)");
        assert_eq!(Category::Upnp.message(402), "Invalid Arguments");
        assert_eq!(Category::Socks.message(0), "SOCKS no error");
        assert_eq!(Category::I2p.message(99), "unknown error");
        assert_eq!(Category::Generic.message(0), "Success");
        assert_eq!(Category::Generic.message(2), "No such file or directory");
        assert_eq!(Category::System.message(-1), "Unknown error -1");
    }

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.name()), Some(c));
        }
        assert_eq!(ErrorCode::default().message(), "Success");
        assert!(!ErrorCode::default().is_error());
    }
}
