//! Deprecated `torrent_handle` calls the reference still honours:
//! `set_priority` (reported back by `status().priority`),
//! `set_tracker_login` (HTTP basic authentication towards the torrent's
//! HTTP trackers) and `use_interface` (sets the session's
//! `outgoing_interfaces`).

use super::*;

#[derive(Default)]
pub(super) struct Compat {
    priority: HashMap<TorrentId, i32>,
    /// `user:password` per torrent.
    tracker_login: HashMap<TorrentId, String>,
}

impl Engine {
    /// `set_priority(p)`: negative values count as 0, as in libtorrent.
    pub fn set_torrent_priority(&mut self, id: TorrentId, priority: i32) {
        if !self.torrents.contains_key(&id) {
            return;
        }
        self.compat.priority.insert(id, priority.max(0));
    }

    pub(super) fn torrent_priority(&self, id: TorrentId) -> i32 {
        self.compat.priority.get(&id).copied().unwrap_or(0)
    }

    /// `set_tracker_login(name, password)`: later HTTP tracker requests of
    /// the torrent carry `Authorization: Basic` with `name:password`; both
    /// empty removes it.
    pub fn set_tracker_login(&mut self, id: TorrentId, name: &str, password: &str) {
        if !self.torrents.contains_key(&id) {
            return;
        }
        if name.is_empty() && password.is_empty() {
            self.compat.tracker_login.remove(&id);
        } else {
            self.compat
                .tracker_login
                .insert(id, format!("{name}:{password}"));
        }
    }

    pub(super) fn tracker_login(&self, id: TorrentId) -> Option<String> {
        self.compat.tracker_login.get(&id).cloned()
    }

    /// `use_interface(interfaces)`: replaces the session's
    /// `outgoing_interfaces` setting.
    pub fn use_interface(&mut self, interfaces: &str) {
        let mut pack = SettingsPack::new();
        pack.set_str(keys::OUTGOING_INTERFACES, interfaces);
        self.apply_settings(&pack);
    }

    /// Forgets what a removed torrent set here.
    pub(super) fn compat_forget(&mut self, id: TorrentId) {
        self.compat.priority.remove(&id);
        self.compat.tracker_login.remove(&id);
    }
}
