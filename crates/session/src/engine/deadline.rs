//! Streaming order for pieces with deadlines (`set_piece_deadline`).
//!
//! The picker requests deadline pieces earliest first, but pieces that
//! arrive together (a peer's rate limiter sends in bursts) are written by
//! different disk threads and would otherwise be hashed, reported
//! (`piece_finished_alert`) and read back (`read_piece_alert`) in whatever
//! order those threads finish. Here a piece whose writes are done waits for
//! every piece with an earlier deadline that is already wholly received (a
//! piece without a deadline waits for all of them), so hashes are queued
//! (to the hashing thread, in order) by deadline; and the
//! `read_piece_alert`s of deadline pieces are posted in the order the
//! pieces passed.
//!
//! Hooks: [`Engine::deadline_hold`] where a written piece is sent to be
//! hashed, [`Engine::deadline_tick`] from `on_tick`,
//! [`Engine::deadline_read_issued`] / [`Engine::deadline_read_done`] around
//! the reads of `alert_when_available` pieces, [`Engine::deadline_forget`]
//! on removal.

use std::collections::{BTreeSet, HashMap, VecDeque};

use lt_storage::StorageId;

use super::Engine;
use crate::alert::AlertKind;
use crate::torrent::Torrent;
use crate::types::TorrentId;

#[derive(Default)]
pub(crate) struct Deadlines {
    /// Written deadline pieces waiting for earlier ones: (deadline, piece).
    held: HashMap<TorrentId, BTreeSet<(u64, u32)>>,
    /// Deadline pieces being read back for their alert, in pass order.
    reads: HashMap<StorageId, VecDeque<u32>>,
    /// Finished reads waiting for earlier ones.
    ready: HashMap<(StorageId, u32), AlertKind>,
}

/// Whether an earlier-deadline piece than `deadline` is wholly received
/// but not yet sent to be hashed.
fn earlier_in_flight(t: &Torrent, deadline: u64, held: Option<&BTreeSet<(u64, u32)>>) -> bool {
    t.picker
        .deadlines()
        .take_while(|(d, _)| *d < deadline)
        .any(|(d, q)| {
            if t.picker.have_piece(q) || held.is_some_and(|h| h.contains(&(d, q))) {
                return false;
            }
            if t.hashing.contains(&q) {
                return false;
            }
            t.picker.is_piece_received(q)
        })
}

impl Engine {
    /// Hook from the write completion that finished `piece` (already in
    /// `hashing`): true when its hash must wait for an earlier-deadline
    /// piece (for a piece without a deadline: any deadline piece); it is
    /// sent by [`Self::deadline_release`] later.
    pub(super) fn deadline_hold(&mut self, id: TorrentId, piece: u32) -> bool {
        let Some(t) = self.torrents.get(&id) else {
            return false;
        };
        if t.picker.deadlines().next().is_none() {
            return false;
        }
        // a piece without a deadline comes after every one with
        let d = t.picker.piece_deadline(piece).unwrap_or(u64::MAX);
        if !earlier_in_flight(t, d, self.deadlines.held.get(&id)) {
            return false;
        }
        self.deadlines
            .held
            .entry(id)
            .or_default()
            .insert((d, piece));
        true
    }

    /// Sends the held pieces no earlier piece waits for any more, in
    /// deadline order.
    pub(super) fn deadline_release(&mut self, id: TorrentId) {
        let Some(mut held) = self.deadlines.held.remove(&id) else {
            return;
        };
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let storage = t.storage;
        let mut send = Vec::new();
        while let Some(&(d, p)) = held.iter().next() {
            let rest: BTreeSet<(u64, u32)> = held.iter().skip(1).copied().collect();
            if earlier_in_flight(t, d, Some(&rest)) {
                break;
            }
            held.remove(&(d, p));
            send.push(p);
        }
        if !held.is_empty() {
            self.deadlines.held.insert(id, held);
        }
        if let Some(disk) = &self.disk {
            for p in send {
                disk.async_hash(storage, p);
            }
        }
    }

    /// Hook from `on_tick`: a piece that held others may have failed to
    /// write (and is no longer on its way): release what can go.
    pub(super) fn deadline_tick(&mut self) {
        if self.deadlines.held.is_empty() {
            return;
        }
        let ids: Vec<TorrentId> = self.deadlines.held.keys().copied().collect();
        for id in ids {
            self.deadline_release(id);
        }
    }

    /// Hook from `piece_passed`: the read for `piece`'s alert is issued.
    pub(super) fn deadline_read_issued(&mut self, id: TorrentId, piece: u32) {
        if let Some(t) = self.torrents.get(&id) {
            self.deadlines
                .reads
                .entry(t.storage)
                .or_default()
                .push_back(piece);
        }
    }

    /// Hook from the read completion: posts a `read_piece_alert`, after
    /// those of deadline pieces that passed before it.
    pub(super) fn deadline_read_done(&mut self, storage: StorageId, piece: u32, alert: AlertKind) {
        let queued = self
            .deadlines
            .reads
            .get(&storage)
            .is_some_and(|q| q.contains(&piece));
        if !queued {
            self.alert(alert);
            return;
        }
        self.deadlines.ready.insert((storage, piece), alert);
        while let Some(q) = self.deadlines.reads.get_mut(&storage) {
            let Some(&head) = q.front() else {
                self.deadlines.reads.remove(&storage);
                break;
            };
            let Some(a) = self.deadlines.ready.remove(&(storage, head)) else {
                break;
            };
            q.pop_front();
            self.alert(a);
        }
    }

    /// Hook from `remove_torrent`.
    pub(super) fn deadline_forget(&mut self, id: TorrentId) {
        self.deadlines.held.remove(&id);
        if let Some(t) = self.torrents.get(&id) {
            let s = t.storage;
            self.deadlines.reads.remove(&s);
            self.deadlines.ready.retain(|(st, _), _| *st != s);
        }
    }
}
