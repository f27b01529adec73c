//! The operation that failed, as reported with errors (libtorrent's
//! `operation_t`): the numeric values are part of the Python API.

/// Names of the operations, indexed by their numeric value.
const NAMES: [&str; 47] = [
    "unknown",
    "bittorrent",
    "iocontrol",
    "getpeername",
    "getname",
    "alloc_recvbuf",
    "alloc_sndbuf",
    "file_write",
    "file_read",
    "file",
    "sock_write",
    "sock_read",
    "sock_open",
    "sock_bind",
    "available",
    "encryption",
    "connect",
    "ssl_handshake",
    "get_interface",
    "sock_listen",
    "sock_bind_to_device",
    "sock_accept",
    "parse_address",
    "enum_if",
    "file_stat",
    "file_copy",
    "file_fallocate",
    "file_hard_link",
    "file_remove",
    "file_rename",
    "file_open",
    "mkdir",
    "check_resume",
    "exception",
    "alloc_cache_piece",
    "partfile_move",
    "partfile_read",
    "partfile_write",
    "hostname_lookup",
    "symlink",
    "handshake",
    "sock_option",
    "enum_route",
    "file_seek",
    "timer",
    "file_mmap",
    "file_truncate",
];

/// Name of operation `op`; `"unknown operation"` for values outside the
/// table. The operation is a byte: only the low 8 bits of `op` count.
pub fn operation_name(op: i64) -> &'static str {
    NAMES
        .get(usize::from(op as u8))
        .copied()
        .unwrap_or("unknown operation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_out_of_range() {
        assert_eq!(operation_name(0), "unknown");
        assert_eq!(operation_name(16), "connect");
        assert_eq!(operation_name(41), "sock_option");
        assert_eq!(operation_name(46), "file_truncate");
        assert_eq!(operation_name(47), "unknown operation");
        assert_eq!(operation_name(-1), "unknown operation");
        assert_eq!(operation_name(256), "unknown");
    }
}
