//! Log alerts (`peer_log_alert`, `torrent_log_alert`, `picker_log_alert`)
//! and the socket/file warnings `udp_error_alert` and
//! `oversized_file_alert`, kept apart from `alert.rs` so that
//! [`crate::alert::AlertKind`] needs a single variant for them
//! ([`crate::alert::AlertKind::Extra`]).
//!
//! The engine builds these only when the alert mask enables their
//! category (`engine/log.rs` checks before formatting anything).

use std::net::SocketAddr;

use lt_core::error::ErrorCode;

use crate::alert::{category, Operation, PeerRef, TorrentRef};

/// `peer_log_alert::direction_t`: how a peer log line reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `<<<`: something arrived on the socket.
    Incoming,
    /// `>>>`: something was sent on (or done to) the socket.
    Outgoing,
    /// `<==`: a protocol message from the peer.
    IncomingMessage,
    /// `==>`: a protocol message to the peer.
    OutgoingMessage,
    /// `***`: an event of the connection.
    Info,
}

impl Direction {
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Incoming => "<<<",
            Direction::Outgoing => ">>>",
            Direction::IncomingMessage => "<==",
            Direction::OutgoingMessage => "==>",
            Direction::Info => "***",
        }
    }
}

/// `picker_log_alert::picker_flags_t` bits.
pub mod picker_flags {
    pub const PARTIAL_RATIO: u32 = 0x1;
    pub const PRIORITIZE_PARTIALS: u32 = 0x2;
    pub const RAREST_FIRST_PARTIALS: u32 = 0x4;
    pub const RAREST_FIRST: u32 = 0x8;
    pub const REVERSE_RAREST_FIRST: u32 = 0x10;
    pub const SUGGESTED_PIECES: u32 = 0x20;
    pub const PRIO_SEQUENTIAL_PIECES: u32 = 0x40;
    pub const SEQUENTIAL_PIECES: u32 = 0x80;
    pub const REVERSE_PIECES: u32 = 0x100;
    pub const TIME_CRITICAL: u32 = 0x200;
    pub const RANDOM_PIECES: u32 = 0x400;
    pub const PREFER_CONTIGUOUS: u32 = 0x800;
    pub const REVERSE_SEQUENTIAL: u32 = 0x1000;
    pub const BACKUP1: u32 = 0x2000;
    pub const BACKUP2: u32 = 0x4000;
    pub const END_GAME: u32 = 0x8000;
    pub const EXTENT_AFFINITY: u32 = 0x10000;

    /// The names of the bits, in bit order, as the message lists them.
    pub const NAMES: [&str; 17] = [
        "partial_ratio",
        "prioritize_partials",
        "rarest_first_partials",
        "rarest_first",
        "rarest_first_reverse",
        "suggested_pieces",
        "prio_sequential_pieces",
        "sequential_pieces",
        "reverse_pieces",
        "time_critical",
        "random_pieces",
        "prefer_contiguous",
        "reverse_sequential",
        "backup1",
        "backup2",
        "end_game",
        "extent_affinity",
    ];
}

/// Alerts of this module.
#[derive(Clone, Debug)]
pub enum LogAlert {
    /// A line of a connection's log. `torrent` is `None` while an incoming
    /// connection has not named its torrent yet.
    Peer {
        torrent: Option<TorrentRef>,
        peer: PeerRef,
        direction: Direction,
        event: &'static str,
        msg: String,
    },
    /// A line of a torrent's log.
    Torrent { torrent: TorrentRef, msg: String },
    /// Blocks the piece picker chose for a peer, and why.
    Picker {
        torrent: TorrentRef,
        peer: PeerRef,
        flags: u32,
        /// (piece, block index)
        blocks: Vec<(u32, u32)>,
    },
    /// An error on a UDP socket (receiving or sending).
    UdpError {
        endpoint: SocketAddr,
        op: Operation,
        error: ErrorCode,
    },
    /// A file of the torrent is larger on disk than the torrent says.
    OversizedFile { torrent: TorrentRef },
}

fn name_of(t: Option<&TorrentRef>) -> String {
    t.map_or_else(|| "------".to_string(), TorrentRef::short_name)
}

impl LogAlert {
    pub fn what(&self) -> &'static str {
        match self {
            LogAlert::Peer { .. } => "peer_log",
            LogAlert::Torrent { .. } => "torrent_log",
            LogAlert::Picker { .. } => "picker_log",
            LogAlert::UdpError { .. } => "udp_error",
            LogAlert::OversizedFile { .. } => "oversized_file",
        }
    }

    /// libtorrent's alert type ids.
    pub fn alert_type(&self) -> usize {
        match self {
            LogAlert::Peer { .. } => 81,
            LogAlert::Torrent { .. } => 80,
            LogAlert::Picker { .. } => 89,
            LogAlert::UdpError { .. } => 46,
            LogAlert::OversizedFile { .. } => 98,
        }
    }

    pub fn category(&self) -> u32 {
        match self {
            LogAlert::Peer { .. } => category::PEER_LOG,
            LogAlert::Torrent { .. } => category::TORRENT_LOG,
            LogAlert::Picker { .. } => category::PICKER_LOG,
            LogAlert::UdpError { .. } => category::ERROR,
            LogAlert::OversizedFile { .. } => category::STORAGE,
        }
    }

    pub fn torrent(&self) -> Option<&TorrentRef> {
        match self {
            LogAlert::Peer { torrent, .. } => torrent.as_ref(),
            LogAlert::Torrent { torrent, .. }
            | LogAlert::Picker { torrent, .. }
            | LogAlert::OversizedFile { torrent } => Some(torrent),
            LogAlert::UdpError { .. } => None,
        }
    }

    pub fn peer(&self) -> Option<&PeerRef> {
        match self {
            LogAlert::Peer { peer, .. } | LogAlert::Picker { peer, .. } => Some(peer),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&ErrorCode> {
        match self {
            LogAlert::UdpError { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The text `log_message()` returns.
    pub fn log_message(&self) -> String {
        match self {
            LogAlert::Peer { msg, .. } | LogAlert::Torrent { msg, .. } => msg.clone(),
            _ => String::new(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            LogAlert::Peer {
                torrent,
                peer,
                direction,
                event,
                msg,
            } => format!(
                "{} peer {} {} {} [ {} ]",
                name_of(torrent.as_ref()),
                peer.endpoint,
                direction.arrow(),
                event,
                msg
            ),
            LogAlert::Torrent { torrent, msg } => format!("{}: {}", torrent.short_name(), msg),
            LogAlert::Picker {
                torrent,
                peer,
                flags,
                blocks,
            } => {
                let mut s = format!(
                    "{} peer {} picker_log [ ",
                    torrent.short_name(),
                    peer.endpoint
                );
                for (i, name) in picker_flags::NAMES.iter().enumerate() {
                    if flags & (1 << i) != 0 {
                        s.push_str(name);
                        s.push(' ');
                    }
                }
                s.push_str("] ");
                for (p, b) in blocks {
                    s.push_str(&format!("({p},{b}) "));
                }
                s
            }
            LogAlert::UdpError {
                endpoint,
                op,
                error,
            } => format!(
                "UDP error: {} from: {} op: {}",
                error.message(),
                endpoint.ip(),
                crate::alert::operation_label(*op)
            ),
            LogAlert::OversizedFile { torrent } => {
                format!("{} has an oversized file", torrent.short_name())
            }
        }
    }
}
