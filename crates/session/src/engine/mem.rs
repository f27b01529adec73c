//! Memory per torrent: state every torrent would otherwise copy.

use std::sync::Arc;

use super::Engine;

impl Engine {
    /// The current tracker settings as one allocation shared by every
    /// torrent's tracker list: a new one only when the settings changed
    /// since the last torrent was added (compared by value, so nothing has
    /// to invalidate it).
    pub(super) fn shared_tracker_settings(&mut self) -> Arc<lt_tracker::TrackerSettings> {
        let now = self.tracker_settings();
        match &self.shared_tracker_settings {
            Some(s) if **s == now => s.clone(),
            _ => {
                let s = Arc::new(now);
                self.shared_tracker_settings = Some(s.clone());
                s
            }
        }
    }
}
