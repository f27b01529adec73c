//! Peer classes in the engine: the public calls (`create_peer_class`,
//! `set_peer_class`, the filters…), putting connections in their classes,
//! and keeping the rate-limit settings and the built-in classes in step.
//! The class logic itself is sans-IO in `crate::peer_class`.
//!
//! Settings and classes, as libtorrent: a change of `upload_rate_limit` /
//! `download_rate_limit` sets the global class's limits and of
//! `local_upload_rate_limit` / `local_download_rate_limit` the local
//! class's (only when the value changes; negative values are stored as 0);
//! `set_peer_class` on those classes does not write the settings back, and
//! the deprecated `upload_rate_limit()` getters read the classes. A change
//! of `ignore_limits_on_local_network` resets the peer-class IP filter to
//! the default one with (true) or without (false) the local ranges.

use std::net::IpAddr;
use std::time::Instant;

use lt_core::ip_filter::IpFilter;
use lt_picker::bandwidth::Direction;
use lt_settings::keys;

use super::{ConnId, Engine};
use crate::peer_class::{
    default_class_filter, ClassSet, PeerClassInfo, PeerClassTypeFilter, SocketKind, GLOBAL_CLASS,
    LOCAL_CLASS,
};

/// The settings tied to peer classes, to see which ones a pack changed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct ClassSettings {
    up: i32,
    down: i32,
    local_up: i32,
    local_down: i32,
    local_separate: bool,
}

impl Engine {
    fn class_settings(&self) -> ClassSettings {
        let s = &self.settings;
        ClassSettings {
            up: s.get_int(keys::UPLOAD_RATE_LIMIT),
            down: s.get_int(keys::DOWNLOAD_RATE_LIMIT),
            local_up: s.get_int(keys::LOCAL_UPLOAD_RATE_LIMIT),
            local_down: s.get_int(keys::LOCAL_DOWNLOAD_RATE_LIMIT),
            local_separate: s.get_bool(keys::IGNORE_LIMITS_ON_LOCAL_NETWORK),
        }
    }

    fn class_now(&self) -> u64 {
        self.millis(Instant::now())
    }

    /// At start: the built-in classes take the limits of the settings the
    /// session was made with.
    pub(super) fn init_peer_class_settings(&mut self) {
        let defaults = ClassSettings {
            up: 0,
            down: 0,
            local_up: 0,
            local_down: 0,
            local_separate: true,
        };
        self.peer_class_settings_changed(defaults);
    }

    /// Before a settings pack is applied: what the class settings were.
    pub(super) fn peer_class_settings_before(&self) -> ClassSettings {
        self.class_settings()
    }

    /// After a settings pack was applied: carries the changed values over
    /// to the classes and the filter.
    pub(super) fn peer_class_settings_changed(&mut self, old: ClassSettings) {
        let now = self.class_now();
        let new = self.class_settings();
        let rates = [
            (
                old.up,
                new.up,
                keys::UPLOAD_RATE_LIMIT,
                GLOBAL_CLASS,
                Direction::Upload,
            ),
            (
                old.down,
                new.down,
                keys::DOWNLOAD_RATE_LIMIT,
                GLOBAL_CLASS,
                Direction::Download,
            ),
            (
                old.local_up,
                new.local_up,
                keys::LOCAL_UPLOAD_RATE_LIMIT,
                LOCAL_CLASS,
                Direction::Upload,
            ),
            (
                old.local_down,
                new.local_down,
                keys::LOCAL_DOWNLOAD_RATE_LIMIT,
                LOCAL_CLASS,
                Direction::Download,
            ),
        ];
        for (before, after, key, class, dir) in rates {
            if before == after {
                continue;
            }
            if after < 0 {
                self.settings.set_int(key, 0);
            }
            self.classes.set_limit(&mut self.bw, now, class, dir, after);
        }
        if old.local_separate != new.local_separate {
            self.classes.filter = default_class_filter(new.local_separate);
        }
    }

    /// A new class labelled `label` (unlimited, priority 1); its id.
    pub fn create_peer_class(&mut self, label: &str) -> u32 {
        let now = self.class_now();
        self.classes.create(&mut self.bw, now, label)
    }

    /// Deletes class `id` (it lives on while connections belong to it).
    pub fn delete_peer_class(&mut self, id: u32) {
        self.classes.delete(&mut self.bw, id);
    }

    /// Class `id`'s settings; all zero when there is no such class.
    pub fn peer_class(&self, id: u32) -> PeerClassInfo {
        self.classes.info(id)
    }

    /// Sets class `id`'s settings (no-op for an unknown class).
    pub fn set_peer_class(&mut self, id: u32, info: PeerClassInfo) {
        let now = self.class_now();
        self.classes.set_info(&mut self.bw, now, id, info);
    }

    /// Class `id`'s rate limit in bytes per second (0: none).
    pub fn peer_class_rate_limit(&self, id: u32, upload: bool) -> i32 {
        let dir = if upload {
            Direction::Upload
        } else {
            Direction::Download
        };
        self.classes.limit(id, dir)
    }

    /// The address → class-mask filter for new connections.
    pub fn set_peer_class_filter(&mut self, f: IpFilter) {
        self.classes.filter = f;
    }

    pub fn peer_class_filter(&self) -> IpFilter {
        self.classes.filter.clone()
    }

    /// The socket-type filter for new connections.
    pub fn set_peer_class_type_filter(&mut self, f: PeerClassTypeFilter) {
        self.classes.type_filter = f;
    }

    pub fn peer_class_type_filter(&self) -> PeerClassTypeFilter {
        self.classes.type_filter
    }

    /// Puts a new connection in its classes (by address and socket type).
    pub(super) fn join_peer_classes(&mut self, id: ConnId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let kind = if p.utp.is_some() {
            SocketKind::Utp
        } else {
            SocketKind::Tcp
        };
        let set = self.classes.join(p.addr.ip(), kind);
        let old = std::mem::replace(&mut p.classes, set);
        self.classes.leave(&mut self.bw, &old);
    }

    /// A connection's classes are released (it is gone).
    pub(super) fn leave_peer_classes(&mut self, set: &ClassSet) {
        self.classes.leave(&mut self.bw, set);
    }

    /// The classes of a web seed connection to `remote`.
    pub(super) fn web_seed_classes(&mut self, remote: IpAddr) -> ClassSet {
        self.classes.join(remote, SocketKind::Tcp)
    }

    /// Whether an incoming connection from `addr` is over the connection
    /// limit, weighed by the classes it would get (`connection_limit_factor`)
    /// and with `connections_slack`, as libtorrent checks it.
    pub(super) fn incoming_over_limit(&self, addr: IpAddr, utp: bool) -> bool {
        let kind = if utp {
            SocketKind::Utp
        } else {
            SocketKind::Tcp
        };
        let limit = self.settings.get_int(keys::CONNECTIONS_LIMIT).max(1);
        let slack = self.settings.get_int(keys::CONNECTIONS_SLACK).max(0);
        let max = self.classes.incoming_limit(addr, kind, limit, slack);
        self.peers.len() as i64 >= max
    }

    /// Whether connection `id` is exempt from the unchoke slots (a class of
    /// its has `ignore_unchoke_slots`): unchoked whenever interested.
    pub(super) fn ignores_unchoke_slots(&self, id: ConnId) -> bool {
        self.peers
            .get(&id)
            .is_some_and(|p| self.classes.ignore_unchoke_slots(&p.classes))
    }

    /// Whether a class of connection `id` limits its downloads.
    pub(super) fn class_download_limited(&self, set: &ClassSet) -> bool {
        self.classes.limited(set, Direction::Download)
    }
}
