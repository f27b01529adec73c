//! `torrent_conflict_alert` (BEP 52): a hybrid torrent can be added twice
//! as two magnet links, one naming its v1 info-hash and one its v2
//! info-hash. When the metadata arriving on one of them shows that it is
//! the other's torrent too, both stop, as in libtorrent: the other torrent
//! and then this one get `duplicate_torrent` (19) on their metadata
//! (`error_file` -4) and are paused, and a `torrent_conflict_alert` names
//! this torrent, the conflicting one and the metadata. Neither takes the
//! metadata; the user removes one and adds the other again.

use std::sync::Arc;

use lt_core::error::{Category, ErrorCode};

use super::{wire_hashes, Engine};
use crate::alert::AlertKind;
use crate::types::TorrentId;

const DUPLICATE_TORRENT: i32 = 19;
/// `torrent_status::error_file_metadata`.
const ERROR_FILE_METADATA: i32 = -4;

impl Engine {
    /// Checks metadata that arrived for magnet `tid` against the other
    /// torrents; on a conflict stops both, posts the alerts and returns
    /// true (the metadata is not taken).
    pub(super) fn magnet_conflict(
        &mut self,
        tid: TorrentId,
        ti: &lt_metainfo::TorrentInfo,
    ) -> bool {
        let ih = ti.info_hashes();
        let Some(other) = wire_hashes(&ih)
            .iter()
            .filter_map(|h| self.by_hash.get(h))
            .copied()
            .find(|o| *o != tid && self.torrents.contains_key(o))
        else {
            return false;
        };
        let error = ErrorCode::new(DUPLICATE_TORRENT, Category::Libtorrent);
        for id in [other, tid] {
            let Some(t) = self.torrents.get_mut(&id) else {
                continue;
            };
            t.error = Some(error);
            t.error_file = ERROR_FILE_METADATA;
            let torrent = t.torrent_ref();
            self.alert(AlertKind::TorrentError {
                torrent,
                error,
                filename: "metadata".into(),
            });
            self.pause_torrent(id);
        }
        let (Some(a), Some(b)) = (self.torrents.get(&tid), self.torrents.get(&other)) else {
            return true;
        };
        let (torrent, conflicting) = (a.torrent_ref(), b.torrent_ref());
        self.alert(AlertKind::TorrentConflict {
            torrent,
            conflicting,
            metadata: Arc::new(ti.clone()),
        });
        true
    }
}
