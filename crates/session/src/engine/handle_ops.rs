//! Operations that feed the engine directly: per-peer rate limits,
//! pieces supplied by the user (`add_piece`), outgoing port ranges.

use super::*;

/// The picker key under which user-supplied blocks are recorded.
const USER_KEY: PeerKey = PeerKey(u32::MAX);

impl Engine {
    /// `set_peer_upload_limit` / `set_peer_download_limit`: a rate limit
    /// on one connection of the torrent (0 or less: unlimited).
    pub fn set_peer_limit(&mut self, id: TorrentId, addr: SocketAddr, upload: bool, limit: i32) {
        let now = self.millis(Instant::now());
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let conns: Vec<ConnId> = t.peers.iter().copied().collect();
        for c in conns {
            let Some(p) = self.peers.get_mut(&c).filter(|p| p.addr == addr) else {
                continue;
            };
            let ch = *p.bw_channel.get_or_insert_with(|| self.bw.add_channel(now));
            let dir = if upload {
                Direction::Upload
            } else {
                Direction::Download
            };
            self.bw.set_limit(now, ch, dir, limit.max(0) as u64);
        }
    }

    /// `add_piece()`: the user supplies a whole piece. It is written and
    /// hash-checked like downloaded data (a piece we already have is left
    /// alone unless `overwrite`).
    pub fn add_piece(&mut self, id: TorrentId, piece: u32, data: Vec<u8>, overwrite: bool) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if piece >= t.picker.num_pieces() || data.len() != t.picker.piece_size(piece) as usize {
            return;
        }
        if t.picker.have_piece(piece) {
            if !overwrite {
                return;
            }
            t.picker.clear_have(piece);
        }
        let storage = t.storage;
        let data = Bytes::from(data);
        let mut cancels: Vec<(ConnId, BlockRequest)> = Vec::new();
        let mut writes = Vec::new();
        for block in 0..t.picker.blocks_in_piece(piece) {
            let b = BlockRef::new(piece, block);
            let Some(cancel) = t.picker.mark_received(b, USER_KEY) else {
                continue;
            };
            let offset = block * lt_picker::BLOCK_SIZE;
            let len = t.picker.block_size(b) as usize;
            let start = offset as usize;
            writes.push((offset, data.slice(start..(start + len).min(data.len()))));
            let r = BlockRequest::new(piece, offset, len as u32);
            cancels.extend(cancel.iter().map(|k| (ConnId(u64::from(k.0)), r)));
        }
        for (offset, block) in writes {
            self.recv_budget.add(block.len());
            self.disk().async_write(storage, piece, offset, block);
        }
        for (c, r) in cancels {
            self.cancel_request(c, r);
        }
    }

    /// Withdraws request `r` from peer `c` (another source delivered it).
    pub(super) fn cancel_request(&mut self, c: ConnId, r: BlockRequest) {
        if let Some(q) = self.peers.get_mut(&c) {
            let _ = q.conn.cancel(r);
            q.pipeline
                .on_request_removed(BlockRef::new(r.piece, r.offset / lt_picker::BLOCK_SIZE));
        }
        self.flush(c);
    }

    /// The local ports outgoing connections bind to (`outgoing_port`,
    /// `num_outgoing_ports`); empty: any port.
    pub(super) fn outgoing_ports(&self) -> std::ops::Range<u16> {
        let first = self.settings.get_int(keys::OUTGOING_PORT);
        let n = self.settings.get_int(keys::NUM_OUTGOING_PORTS);
        if first <= 0 || n <= 0 {
            return 0..0;
        }
        let first = first.min(i32::from(u16::MAX)) as u16;
        first..first.saturating_add(n.min(i32::from(u16::MAX)) as u16)
    }

    /// `file_status()`: the torrent's files held open by the file pool.
    pub fn file_status(&self, id: TorrentId) -> Vec<lt_storage::OpenFile> {
        match (self.torrents.get(&id), &self.disk) {
            (Some(t), Some(disk)) => disk.open_files(t.storage),
            _ => Vec::new(),
        }
    }
}
