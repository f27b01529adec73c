//! Reports the engine posts as alerts on request (`torrent_handle.post_*`)
//! and the per-block / per-peer notifications of the block-progress,
//! upload, peer and stats alert categories.

use super::*;
use crate::alert::{category, BlockEvent, TorrentRef};

impl Engine {
    fn post_for(&mut self, id: TorrentId, make: impl FnOnce(&Engine, TorrentRef) -> AlertKind) {
        let Some(tref) = self.torrents.get(&id).map(|t| t.torrent_ref()) else {
            return;
        };
        let kind = make(self, tref);
        self.alert(kind);
    }

    /// `post_file_progress()`: a `file_progress` alert.
    pub fn post_file_progress(&mut self, id: TorrentId) {
        self.post_for(id, |e, torrent| AlertKind::FileProgress {
            torrent,
            files: e.file_progress(id),
        });
    }

    /// `post_peer_info()`: a `peer_info` alert.
    pub fn post_peer_info(&mut self, id: TorrentId) {
        self.post_for(id, |e, torrent| AlertKind::PeerInfoList {
            torrent,
            peers: e.peer_info(id),
        });
    }

    /// `post_piece_availability()`: a `piece_availability` alert.
    pub fn post_piece_availability(&mut self, id: TorrentId) {
        self.post_for(id, |e, torrent| AlertKind::PieceAvailability {
            torrent,
            availability: e.piece_availability(id),
        });
    }

    /// `post_download_queue()`: a `piece_info` alert.
    pub fn post_download_queue(&mut self, id: TorrentId) {
        self.post_for(id, |e, torrent| AlertKind::PieceInfo {
            torrent,
            queue: e.download_queue(id),
        });
    }

    /// `post_trackers()`: a `tracker_list` alert.
    pub fn post_trackers(&mut self, id: TorrentId) {
        self.post_for(id, |e, torrent| AlertKind::TrackerList {
            torrent,
            trackers: e.trackers(id),
        });
    }

    /// `post_status()`: a `state_update` alert with this torrent's status.
    pub fn post_status(&mut self, id: TorrentId) {
        if let Some(st) = self.status(id) {
            self.alert(AlertKind::StateUpdate { status: vec![st] });
        }
    }

    /// Posts a block alert for peer `id` when its category is enabled.
    pub(super) fn block_alert(&mut self, id: ConnId, event: BlockEvent, piece: u32, offset: u32) {
        let cat = match event {
            BlockEvent::Downloading | BlockEvent::Finished => category::BLOCK_PROGRESS,
            BlockEvent::Timeout | BlockEvent::Dropped => category::BLOCK_PROGRESS | category::PEER,
            BlockEvent::Uploaded => category::UPLOAD,
            BlockEvent::Unwanted => category::PEER,
        };
        if !self.should_post(cat) {
            return;
        }
        if let Some((torrent, peer)) = self.peer_ref(id) {
            self.alert(AlertKind::Block {
                torrent,
                peer,
                event,
                piece,
                block: offset / lt_picker::BLOCK_SIZE,
            });
        }
    }

    /// A peer asked for a block we will not serve.
    pub(super) fn invalid_request_alert(&mut self, id: ConnId, r: BlockRequest, we_have: bool) {
        if !self.should_post(category::PEER) {
            return;
        }
        let interested = self
            .peers
            .get(&id)
            .is_some_and(|p| p.conn.peer_interested());
        if let Some((torrent, peer)) = self.peer_ref(id) {
            self.alert(AlertKind::InvalidRequest {
                torrent,
                peer,
                piece: r.piece,
                start: r.offset,
                length: r.length,
                we_have,
                peer_interested: interested,
                withheld: false,
            });
        }
    }

    /// Once a second: snub transitions and, when the stats category is
    /// enabled, every torrent's `stats` alert.
    pub(super) fn report_second(&mut self, interval: Duration) {
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            let snubbed = p.pipeline.is_snubbed();
            if snubbed == p.reported_snubbed {
                continue;
            }
            p.reported_snubbed = snubbed;
            if !self.should_post(category::PEER) {
                continue;
            }
            if let Some((torrent, peer)) = self.peer_ref(id) {
                self.alert(if snubbed {
                    AlertKind::PeerSnubbed { torrent, peer }
                } else {
                    AlertKind::PeerUnsnubbed { torrent, peer }
                });
            }
        }
        if !self.should_post(category::STATS) {
            return;
        }
        let ms = interval.as_millis().min(i32::MAX as u128) as i32;
        let tids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        for tid in tids {
            let Some(t) = self.torrents.get_mut(&tid) else {
                continue;
            };
            let now = [
                t.total_payload_upload,
                t.total_upload - t.total_payload_upload,
                t.total_payload_download,
                t.total_download - t.total_payload_download,
            ];
            let prev = std::mem::replace(&mut t.stats_reported, now);
            // stats_alert channels: upload_payload, upload_protocol,
            // download_payload, download_protocol, then IP overhead, DHT and
            // tracker channels, which we do not count per torrent.
            let mut transferred = [0i32; 10];
            for (slot, (n, p)) in transferred.iter_mut().zip(now.iter().zip(prev.iter())) {
                *slot = (n - p).clamp(0, i32::MAX as i64) as i32;
            }
            let torrent = t.torrent_ref();
            self.alert(AlertKind::Stats {
                torrent,
                transferred,
                interval: ms,
            });
        }
    }
}

impl Engine {
    /// `session.status()`: totals and rates summed over the torrents.
    pub fn session_status(&self) -> crate::types::SessionStatus {
        let mut st = crate::types::SessionStatus {
            has_incoming_connections: self.had_incoming,
            allowed_upload_slots: self.settings.get_int(keys::UNCHOKE_SLOTS_LIMIT),
            ..Default::default()
        };
        for t in self.torrents.values() {
            st.upload_rate += t.rates.upload;
            st.download_rate += t.rates.download;
            st.payload_upload_rate += t.rates.payload_upload;
            st.payload_download_rate += t.rates.payload_download;
            st.total_download += t.total_download;
            st.total_upload += t.total_upload;
            st.total_payload_download += t.total_payload_download;
            st.total_payload_upload += t.total_payload_upload;
            st.total_failed_bytes += t.total_failed_bytes;
            st.total_redundant_bytes += t.total_redundant_bytes;
        }
        st.num_peers = self.num_not_connecting(self.peers.keys()) as i32;
        for p in self.peers.values().filter(|p| p.conn.is_connected()) {
            if !p.conn.am_choking() {
                st.num_unchoked += 1;
            }
            if !p.deferred.is_empty() && p.reading == 0 {
                st.up_bandwidth_queue += 1;
                st.up_bandwidth_bytes_queue +=
                    p.deferred.iter().map(|r| r.length as i32).sum::<i32>();
            }
        }
        st.utp_connected = self
            .udp
            .iter()
            .map(|u| u.utp.num_connections() as i32)
            .sum();
        self.dht_status(&mut st);
        st
    }

    /// The peer id we send in handshakes (`session.id()`).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// `set_peer_id()`: the id used from now on; the fingerprint setting
    /// becomes the id, as in libtorrent.
    pub fn set_peer_id(&mut self, id: PeerId) {
        self.peer_id = id;
        let mut pack = SettingsPack::new();
        pack.set_str(
            keys::PEER_FINGERPRINT,
            String::from_utf8_lossy(&id.0).into_owned(),
        );
        self.settings.apply(&pack);
    }
}
