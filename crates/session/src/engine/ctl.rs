//! Torrent control: resume data (`save_resume_data`, adding with resume
//! data without a full recheck, `need_save_resume_data`), the download
//! queue (`queue_position*`, followed by auto-management), storage moves
//! and file renames.
//!
//! Kept apart from `engine.rs`; the engine calls in through a few hooks:
//! [`Engine::ctl_take_resume`] from `start_checking`, [`Engine::ctl_on_disk`]
//! for move/rename completions, [`Engine::ctl_queue_sort`] from
//! `auto_manage` and [`Engine::ctl_status`] from `status`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lt_core::error::{Category, ErrorCode};
use lt_core::ip_filter::IpFilter;
use lt_resume::ResumeData;
use lt_storage::{Completion, MoveFlags};

use super::{io_error, storage_op, Engine, Job};
use crate::alert::{AlertKind, Operation};
use crate::torrent::{flags, whole_secs, Metadata, Times, Torrent};
use crate::types::{TorrentId, TorrentState, TorrentStatus};

/// `torrent_handle` resume flags.
pub mod resume_flags {
    pub const FLUSH_DISK_CACHE: u32 = 1;
    pub const SAVE_INFO_DICT: u32 = 2;
    pub const IF_COUNTERS_CHANGED: u32 = 8;
    pub const IF_DOWNLOAD_PROGRESS: u32 = 16;
    pub const IF_CONFIG_CHANGED: u32 = 32;
    pub const IF_STATE_CHANGED: u32 = 64;
    pub const IF_METADATA_CHANGED: u32 = 128;
    /// Any of the `if_*` conditions.
    pub const ONLY_IF_MODIFIED: u32 = 248;
}

/// Torrent flags a resume file keeps.
const SAVED_FLAGS: u64 = flags::SEED_MODE
    | flags::UPLOAD_MODE
    | flags::SHARE_MODE
    | flags::APPLY_IP_FILTER
    | flags::PAUSED
    | flags::AUTO_MANAGED
    | flags::SUPER_SEEDING
    | flags::SEQUENTIAL_DOWNLOAD
    | flags::STOP_WHEN_READY
    | flags::DISABLE_DHT
    | flags::DISABLE_LSD
    | flags::DISABLE_PEX
    | flags::I2P_TORRENT;

/// Resume state given when adding a torrent (the parts of
/// `add_torrent_params` that `AddTorrent` does not carry).
#[derive(Clone, Debug, Default)]
pub struct ResumeExtra {
    /// Pieces the resume data says we have; trusted when the files exist.
    pub have_pieces: Vec<bool>,
    pub total_uploaded: i64,
    pub total_downloaded: i64,
    /// Seconds.
    pub active_time: i64,
    pub finished_time: i64,
    pub seeding_time: i64,
    /// Unix times; 0 keeps the default (now / never).
    pub added_time: i64,
    pub completed_time: i64,
    pub last_seen_complete: i64,
    /// Files renamed before: index → name (relative to the save path, or
    /// absolute).
    pub renamed_files: Vec<(usize, String)>,
    /// Partially downloaded pieces: piece → one flag per block, set for
    /// the blocks already written to disk. Trusted like `have_pieces`; the
    /// piece is hash-checked once its last block arrives.
    pub unfinished_pieces: BTreeMap<u32, Vec<bool>>,
    /// Seed mode: the pieces already hashed (not hashed again before their
    /// first upload).
    pub verified_pieces: Vec<bool>,
}

/// A torrent added with resume data whose files are being looked at.
struct ResumeCheck {
    id: TorrentId,
    have: Vec<bool>,
    partial: BTreeMap<u32, Vec<bool>>,
    /// The files that must exist for the resume data to be trusted, with
    /// the exact size each must have when the data says the torrent is a
    /// seed (as libtorrent, which rejects a seed's resume data, or seed
    /// mode, on any file of the wrong size).
    paths: Vec<(PathBuf, Option<u64>)>,
}

/// What the last saved resume data looked like, to answer
/// `need_save_resume_data`. `None` fingerprints count as changed.
#[derive(Clone, Copy, Default)]
struct Mark {
    counters: Fp,
    download: Fp,
    config: Fp,
    state: Fp,
    metadata_saved: bool,
}

/// A fingerprint in a [`Mark`]: 8 bytes with its `None` (a map entry per
/// torrent: 40 bytes instead of 72).
type Fp = Option<std::num::NonZeroU64>;

/// `v` as an [`Fp`]; 0 is stored as `u64::MAX` (a fingerprint of either
/// value then matches the other, as rare as any other collision).
fn fp(v: u64) -> Fp {
    Some(std::num::NonZeroU64::new(v).unwrap_or(std::num::NonZeroU64::MAX))
}

/// Engine state of this module.
#[derive(Default)]
pub(crate) struct Ctl {
    /// Unfinished torrents in queue order (synced lazily, see
    /// [`Engine::queue_snapshot`]).
    queue: Vec<TorrentId>,
    marks: HashMap<TorrentId, Mark>,
    /// Resume state of the torrent being added, for `start_checking`.
    pending: Option<(TorrentId, ResumeExtra)>,
    /// Moves in flight: the old save path and the flags.
    moving: HashMap<TorrentId, VecDeque<(String, MoveFlags)>>,
    /// Renames in flight: (torrent, file) → (old name, new name).
    renaming: HashMap<(TorrentId, usize), VecDeque<(String, String)>>,
    /// Files renamed: their new names (relative to the save path or absolute).
    renamed: HashMap<TorrentId, BTreeMap<usize, String>>,
    /// The parameters of the torrent being added (without the metadata),
    /// for its `add_torrent_alert`.
    add_params: Option<Box<ResumeData>>,
    /// The session's IP filter, and whether it blocks anything.
    ip_filter: IpFilter,
    ip_blocks: bool,
    /// Pieces whose blocks came partly from resume data: the disk does not
    /// know those blocks, so the piece is hashed explicitly once every
    /// other block is on its way to disk ([`Engine::ctl_tick`]).
    restored: HashMap<TorrentId, HashSet<u32>>,
    /// `save_resume_data` calls with `flush_disk_cache` waiting for their
    /// flush: their flags.
    flush_saves: HashMap<TorrentId, VecDeque<u32>>,
    /// Resume checks waiting for the blocking task, and whether it runs.
    checks: Vec<ResumeCheck>,
    checks_running: bool,
}

/// Stands for the resume data among the contributors of a piece (no
/// connection has this id).
const RESUME_CONTRIBUTOR: crate::peer_io::ConnId = crate::peer_io::ConnId(u64::MAX);

/// A fast hasher for change fingerprints: the input is the engine's own
/// state, so SipHash's resistance to chosen keys buys nothing here, and
/// `torrent_status` asks for the fingerprints of every torrent.
#[derive(Default)]
struct Fingerprint(u64);

impl Fingerprint {
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.mix(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.mix(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }
}

fn fingerprint<T: Hash>(v: &T) -> u64 {
    let mut h = Fingerprint::default();
    v.hash(&mut h);
    h.finish()
}

/// The fingerprint of `n` values without collecting them.
fn fingerprint_iter(n: u32, f: impl Fn(u32) -> u8) -> u64 {
    let mut h = Fingerprint::default();
    for i in 0..n {
        h.mix(u64::from(f(i)));
    }
    h.0
}

/// What `if_download_progress` watches: the pieces we have.
fn download_fp(t: &Torrent) -> Fp {
    fp(fingerprint_iter(t.picker.num_pieces(), |i| {
        u8::from(t.picker.have_piece(i))
    }))
}

/// What `if_state_changed` watches: paused and auto-managed.
fn state_fp(t: &Torrent) -> Fp {
    fp(t.flags & (flags::PAUSED | flags::AUTO_MANAGED))
}

/// The oldest request in flight under `key` (forgetting the key when none
/// is left).
fn pop_front<K: Hash + Eq, V>(map: &mut HashMap<K, VecDeque<V>>, key: K) -> Option<V> {
    let q = map.get_mut(&key)?;
    let v = q.pop_front();
    if q.is_empty() {
        map.remove(&key);
    }
    v
}

fn in_queue(t: &Torrent) -> bool {
    !t.picker.is_finished()
}

impl Engine {
    // ------------------------------------------------------------------
    // resume data

    /// Adds a torrent with resume state: when `extra` claims pieces and the
    /// files holding them exist, they are trusted without a recheck.
    /// `params` is what the user passed, kept for `add_torrent_alert`.
    pub fn add_torrent_resumed(
        &mut self,
        p: crate::torrent::AddTorrent,
        extra: ResumeExtra,
        params: Option<ResumeData>,
    ) -> Result<TorrentId, ErrorCode> {
        let next = TorrentId(self.next_torrent);
        let restore = extra.clone();
        self.ctl.pending = Some((next, extra));
        self.ctl.add_params = params.map(|mut params| {
            params.ti = None;
            Box::new(params)
        });
        let r = self.add_torrent(p);
        self.ctl.pending = None;
        self.ctl.add_params = None;
        let id = r?;
        if id != next {
            // an existing torrent
            return Ok(id);
        }
        let renamed = self.valid_renames(id, &restore.renamed_files);
        if !renamed.is_empty() {
            self.ctl.renamed.insert(id, renamed.into_iter().collect());
        }
        if let Some(t) = self.torrents.get_mut(&id) {
            let now = Instant::now();
            t.total_payload_upload = restore.total_uploaded.max(0);
            t.total_payload_download = restore.total_downloaded.max(0);
            // fold the restored totals in so they do not show as a rate
            let totals = [
                t.total_download,
                t.total_upload,
                t.total_payload_download,
                t.total_payload_upload,
            ];
            t.rates.update(totals, f64::MAX);
            t.times = Times {
                active: restore.active_time.max(0) as f64,
                finished: restore.finished_time.max(0) as f64,
                seeding: restore.seeding_time.max(0) as f64,
                since: now,
            };
            if restore.added_time > 0 {
                t.added_time = restore.added_time;
            }
            if restore.completed_time > 0 {
                t.completed_time = restore.completed_time;
            }
            t.last_seen_complete = t.last_seen_complete.max(restore.last_seen_complete);
            if t.flags & flags::SEED_MODE != 0 && restore.verified_pieces.contains(&true) {
                t.seed_verify = Some(crate::torrent::SeedVerify::new(
                    restore.verified_pieces.clone(),
                    t.picker.num_pieces() as usize,
                ));
            }
        }
        let mark = self.current_mark(id).map(|m| Mark {
            counters: None,
            download: None,
            metadata_saved: false,
            ..m
        });
        if let Some(m) = mark {
            self.ctl.marks.insert(id, m);
        }
        Ok(id)
    }

    /// The renames of `list` that name a file of the torrent.
    fn valid_renames(&self, id: TorrentId, list: &[(usize, String)]) -> Vec<(usize, String)> {
        let n = self
            .torrents
            .get(&id)
            .map_or(0, |t| Metadata::files(t.meta.as_ref()).num_files());
        list.iter()
            .filter(|(i, name)| *i < n && !name.is_empty())
            .cloned()
            .collect()
    }

    /// Hook from `add_torrent`: the renamed files of the torrent being
    /// added, for its storage.
    pub(super) fn ctl_pending_renames(&self) -> Vec<(usize, PathBuf)> {
        let n = self.next_torrent;
        match &self.ctl.pending {
            // `add_torrent` took the id already
            Some((id, extra)) if id.0 + 1 == n => extra
                .renamed_files
                .iter()
                .filter(|(_, name)| !name.is_empty())
                .map(|(i, name)| (*i, PathBuf::from(name)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Hook from `start_checking`: verifies resume data instead of a full
    /// check. Returns true when it took over.
    pub(super) fn ctl_take_resume(&mut self, id: TorrentId) -> bool {
        let extra = match self.ctl.pending.take() {
            Some((pid, extra)) if pid == id => extra,
            other => {
                self.ctl.pending = other;
                return false;
            }
        };
        let Some(t) = self.torrents.get_mut(&id) else {
            return false;
        };
        // As libtorrent: resume data without a piece list (whatever its
        // unfinished pieces) is checked against the files; with one (even
        // of no piece) it is trusted, and ends seed mode.
        if extra.have_pieces.is_empty() {
            return false;
        }
        t.flags &= !flags::SEED_MODE;
        t.seed_verify = None;
        let t = &*t;
        let fs = Metadata::files(t.meta.as_ref());
        let plen = fs.piece_length().max(1) as i64;
        // the files holding data the resume data claims
        let mut needed = std::collections::BTreeSet::new();
        for i in 0..fs.num_files() {
            let size = fs.file_size(i);
            if size <= 0 {
                continue;
            }
            let first = fs.file_offset(i) / plen;
            let last = (fs.file_offset(i) + size - 1) / plen;
            if (first..=last).any(|p| extra.have_pieces.get(p as usize) == Some(&true)) {
                needed.insert(i);
            }
        }
        let block = i64::from(lt_picker::BLOCK_SIZE);
        for (&piece, mask) in &extra.unfinished_pieces {
            let Ok(p) = i32::try_from(piece) else {
                continue;
            };
            if p >= fs.num_pieces() {
                continue;
            }
            let psize = i64::from(fs.piece_size(p));
            for (b, _) in mask.iter().enumerate().filter(|(_, set)| **set) {
                let off = b as i64 * block;
                if off >= psize {
                    break;
                }
                for sl in fs.map_block(p, off, block.min(psize - off)) {
                    needed.insert(sl.file_index);
                }
            }
        }
        let seed = extra.have_pieces.len() as u64 >= u64::from(t.picker.num_pieces())
            && extra.have_pieces.iter().all(|h| *h);
        let paths = resume_paths(t, needed, &extra.renamed_files, seed);
        self.queue_resume_check(ResumeCheck {
            id,
            have: extra.have_pieces,
            partial: extra.unfinished_pieces,
            paths,
        });
        true
    }

    /// Seed mode: the files are trusted without a check once each exists
    /// with its size; otherwise seed mode ends with a
    /// `fastresume_rejected_alert` and the files are checked.
    pub(super) fn ctl_check_seed_mode(&mut self, id: TorrentId) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let n = t.picker.num_pieces() as usize;
        let paths = resume_paths(
            t,
            0..Metadata::files(t.meta.as_ref()).num_files(),
            &[],
            true,
        );
        self.set_state(id, TorrentState::CheckingResumeData);
        self.queue_resume_check(ResumeCheck {
            id,
            have: vec![true; n],
            partial: BTreeMap::new(),
            paths,
        });
    }

    fn queue_resume_check(&mut self, check: ResumeCheck) {
        self.ctl.checks.push(check);
        if !self.ctl.checks_running {
            self.run_resume_checks();
        }
    }

    /// Looks at the files of every queued resume check in one blocking
    /// task (adding many torrents at once costs one thread, not one each).
    fn run_resume_checks(&mut self) {
        let batch = std::mem::take(&mut self.ctl.checks);
        if batch.is_empty() {
            self.ctl.checks_running = false;
            return;
        }
        self.ctl.checks_running = true;
        let jobs = self.jobs.clone();
        let check = move || {
            let done: Vec<(ResumeCheck, Option<(PathBuf, Operation)>)> = batch
                .into_iter()
                .map(|c| {
                    // a missing file fails its stat; one of the wrong size
                    // fails the resume check (libtorrent's operations)
                    let missing = c
                        .paths
                        .iter()
                        .find_map(|(p, size)| match std::fs::metadata(p) {
                            Ok(m) if m.is_file() && size.is_none_or(|s| m.len() == s) => None,
                            Ok(m) if m.is_file() => Some((p.clone(), Operation::CheckResume)),
                            _ => Some((p.clone(), Operation::FileStat)),
                        });
                    (c, missing)
                })
                .collect();
            let job: Job = Box::new(move |e: &mut Engine| {
                for (c, missing) in done {
                    e.resume_verified(c.id, c.have, c.partial, missing);
                }
                e.run_resume_checks();
            });
            let _ = jobs.send(job);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(check);
            }
            Err(_) => check(),
        }
    }

    /// The files of the resume data were looked at.
    fn resume_verified(
        &mut self,
        id: TorrentId,
        have: Vec<bool>,
        partial: BTreeMap<u32, Vec<bool>>,
        missing: Option<(PathBuf, Operation)>,
    ) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if t.state != TorrentState::CheckingResumeData || t.full_check {
            return;
        }
        match missing {
            None => {
                let n = t.picker.num_pieces();
                for (i, _) in have.iter().enumerate().filter(|(_, h)| **h) {
                    if (i as u64) < n as u64 {
                        t.picker.set_have(i as u32);
                    }
                }
                self.restore_partial(id, partial);
                self.checked(id);
            }
            Some((path, op)) => {
                let tref = t.torrent_ref();
                self.alert(AlertKind::FastresumeRejected {
                    torrent: tref,
                    error: ErrorCode::new(
                        134, /* mismatching_file_size */
                        Category::Libtorrent,
                    ),
                    op,
                    path: path.to_string_lossy().into_owned(),
                });
                if let Some(t) = self.torrents.get_mut(&id) {
                    t.flags &= !flags::SEED_MODE;
                    t.seed_verify = None;
                }
                self.start_checking(id);
                // as libtorrent: a rejected resume is checked in full, in
                // checking_files even with nothing on disk
                self.set_state(id, TorrentState::CheckingFiles);
            }
        }
    }

    /// Marks the blocks of partially downloaded pieces (from resume data)
    /// as finished in the picker, so they are not requested again. A piece
    /// that this completes is hashed at once; the others are watched by
    /// [`Engine::ctl_tick`].
    fn restore_partial(&mut self, id: TorrentId, partial: BTreeMap<u32, Vec<bool>>) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        let n = t.picker.num_pieces();
        let mut hash = Vec::new();
        let mut watch = HashSet::new();
        for (piece, mask) in partial {
            if piece >= n || t.picker.have_piece(piece) {
                continue;
            }
            let blocks = t.picker.blocks_in_piece(piece);
            let mut complete = false;
            let mut any = false;
            for (b, _) in mask.iter().enumerate().filter(|(_, set)| **set) {
                let Ok(b) = u32::try_from(b) else { break };
                if b >= blocks {
                    break;
                }
                any = true;
                complete |= t.picker.mark_finished(lt_picker::BlockRef::new(piece, b));
            }
            if any {
                // the resume data counts as a contributor of the piece: a
                // failed check then cannot be blamed on one peer alone
                t.contributors
                    .entry(piece)
                    .or_default()
                    .insert(RESUME_CONTRIBUTOR);
            }
            if complete {
                hash.push(piece);
            } else if any {
                watch.insert(piece);
            }
        }
        let storage = t.storage;
        for piece in hash {
            if t.hashing.insert(piece) {
                if let Some(disk) = &self.disk {
                    disk.async_hash(storage, piece);
                }
            }
        }
        if !watch.is_empty() {
            self.ctl.restored.insert(id, watch);
        }
    }

    /// Hook from `on_tick`: a piece holding blocks from resume data whose
    /// remaining blocks are all received is hashed now. (The disk completes
    /// a piece's writes when it holds the whole piece, which it never does
    /// for such a piece; hashing writes them out and reads the older
    /// blocks back.)
    pub(super) fn ctl_tick(&mut self) {
        if self.ctl.restored.is_empty() {
            return;
        }
        let mut hash = Vec::new();
        self.ctl.restored.retain(|id, pieces| {
            let Some(t) = self.torrents.get_mut(id) else {
                return false;
            };
            pieces.retain(|&piece| {
                if t.picker.have_piece(piece) || t.hashing.contains(&piece) {
                    return false;
                }
                // no download state left: the piece failed and starts over
                let Some(pp) = t.picker.partial_piece(piece) else {
                    return false;
                };
                let all = pp.blocks.len() as u32;
                if pp.requested == 0 && pp.writing > 0 && pp.writing + pp.finished == all {
                    t.hashing.insert(piece);
                    hash.push((t.storage, piece));
                    return false;
                }
                true
            });
            !pieces.is_empty()
        });
        if let Some(disk) = &self.disk {
            for (storage, piece) in hash {
                disk.async_hash(storage, piece);
            }
        }
    }

    /// The blocks of partially downloaded pieces that are on disk (pad
    /// blocks count as present), for the resume data.
    fn unfinished_pieces(t: &Torrent) -> BTreeMap<i32, Vec<bool>> {
        let mut out = BTreeMap::new();
        for pp in t.picker.download_queue() {
            let mut real = false;
            let mask: Vec<bool> = pp
                .blocks
                .iter()
                .enumerate()
                .map(|(b, info)| {
                    let done = info.state == lt_picker::BlockState::Finished;
                    if done
                        && !t
                            .picker
                            .is_pad_block(lt_picker::BlockRef::new(pp.piece, b as u32))
                    {
                        real = true;
                    }
                    done
                })
                .collect();
            if real {
                if let Ok(p) = i32::try_from(pp.piece) {
                    out.insert(p, mask);
                }
            }
        }
        out
    }

    /// Hook from `add_torrent`: the parameters for its `add_torrent_alert`
    /// (only kept when the alert is posted).
    pub(super) fn ctl_take_add_params(&mut self) -> Option<Box<ResumeData>> {
        let p = self.ctl.add_params.take();
        if self.should_post(crate::alert::category::STATUS) {
            p
        } else {
            None
        }
    }

    /// The torrent's resume state, as `save_resume_data` reports it.
    pub fn resume_data(&self, id: TorrentId, save_info_dict: bool) -> Option<ResumeData> {
        let t = self.torrents.get(&id)?;
        let meta = t.meta.as_ref();
        let n = t.picker.num_pieces();
        let now = Instant::now();
        let num_files = Metadata::files(meta).num_files();
        let file_priorities: Vec<u8> = if t.file_priorities.iter().all(|&p| p == 4) {
            Vec::new()
        } else {
            (0..num_files)
                .map(|i| t.file_priorities.get(i).copied().unwrap_or(4))
                .collect()
        };
        let piece_priorities: Vec<u8> = (0..n).map(|i| t.picker.piece_priority(i)).collect();
        let piece_priorities = if piece_priorities.iter().all(|&p| p == 4) {
            Vec::new()
        } else {
            piece_priorities
        };
        let mut peers: Vec<std::net::SocketAddr> = t
            .known
            .iter()
            .filter(|a| !t.banned.contains(&a.ip()))
            .copied()
            .collect();
        peers.sort();
        let trackers = t.trackers.trackers();
        let times = t.times_at(now, !self.paused);
        Some(ResumeData {
            info_hashes: Metadata::info_hashes(meta),
            ti: save_info_dict.then(|| meta.clone()),
            name: Metadata::name(meta).to_owned(),
            save_path: t.save_path.clone(),
            flags: t.flags & SAVED_FLAGS,
            total_uploaded: t.total_payload_upload,
            total_downloaded: t.total_payload_download,
            active_time: whole_secs(times.active).as_secs() as i32,
            finished_time: whole_secs(times.finished).as_secs() as i32,
            seeding_time: whole_secs(times.seeding).as_secs() as i32,
            added_time: t.added_time,
            completed_time: t.completed_time,
            last_seen_complete: t.last_seen_complete,
            num_complete: 0xff_ffff,
            num_incomplete: 0xff_ffff,
            num_downloaded: 0xff_ffff,
            max_uploads: t.max_uploads,
            max_connections: t.max_connections,
            upload_limit: t.upload_limit,
            download_limit: t.download_limit,
            trackers: trackers.iter().map(|a| a.url.clone()).collect(),
            tracker_tiers: trackers.iter().map(|a| a.tier as i32).collect(),
            have_pieces: (0..n).map(|i| t.picker.have_piece(i)).collect(),
            renamed_files: self
                .ctl
                .renamed
                .get(&id)
                .map(|m| m.iter().map(|(k, v)| (*k as i32, v.clone())).collect())
                .unwrap_or_default(),
            unfinished_pieces: Self::unfinished_pieces(t),
            peers,
            file_priorities,
            piece_priorities,
            verified_pieces: match &t.seed_verify {
                Some(sv) if t.flags & flags::SEED_MODE != 0 => sv.verified.clone(),
                _ => Vec::new(),
            },
            ..ResumeData::default()
        })
    }

    /// The fingerprints of what the torrent looks like now.
    fn current_mark(&self, id: TorrentId) -> Option<Mark> {
        let t = self.torrents.get(&id)?;
        Some(Mark {
            counters: self.counters_fp(t, Instant::now()),
            download: download_fp(t),
            config: self.config_fp(t),
            state: state_fp(t),
            metadata_saved: true,
        })
    }

    /// What `if_counters_changed` watches: the payload totals and the
    /// active time.
    fn counters_fp(&self, t: &Torrent, now: Instant) -> Fp {
        let active = whole_secs(t.times_at(now, !self.paused).active).as_secs();
        fp(fingerprint(&(
            t.total_payload_upload,
            t.total_payload_download,
            active,
        )))
    }

    /// What `if_config_changed` watches: the settings a resume file keeps.
    fn config_fp(&self, t: &Torrent) -> Fp {
        let mut h = Fingerprint::default();
        (
            &t.save_path,
            t.upload_limit,
            t.download_limit,
            t.max_connections,
            t.max_uploads,
            &t.file_priorities,
            fingerprint_iter(t.picker.num_pieces(), |i| t.picker.piece_priority(i)),
            t.flags & SAVED_FLAGS & !(flags::PAUSED | flags::AUTO_MANAGED),
            self.ctl.renamed.get(&t.id),
        )
            .hash(&mut h);
        for a in t.trackers.trackers() {
            (a.url.as_str(), a.tier).hash(&mut h);
        }
        fp(h.finish())
    }

    /// `need_save_resume_data(flags)`: whether any of the `if_*`
    /// conditions in `which` changed since the last save.
    pub fn need_save_resume_data(&self, id: TorrentId, which: u32) -> bool {
        self.need_save_resume_at(id, which, Instant::now())
    }

    /// [`Self::need_save_resume_data`] at `now`, the cheap conditions
    /// first.
    fn need_save_resume_at(&self, id: TorrentId, which: u32, now: Instant) -> bool {
        use resume_flags::*;
        let Some(t) = self.torrents.get(&id) else {
            return false;
        };
        let saved = self.ctl.marks.get(&id).copied().unwrap_or_default();
        (which & IF_METADATA_CHANGED != 0 && !saved.metadata_saved)
            || (which & IF_STATE_CHANGED != 0 && saved.state != state_fp(t))
            || (which & IF_COUNTERS_CHANGED != 0 && saved.counters != self.counters_fp(t, now))
            || (which & IF_DOWNLOAD_PROGRESS != 0 && saved.download != download_fp(t))
            || (which & IF_CONFIG_CHANGED != 0 && saved.config != self.config_fp(t))
    }

    /// `save_resume_data(flags)`: posts `save_resume_data_alert` (or the
    /// failed alert when `only_if_modified` conditions did not change).
    pub fn save_resume_data(&mut self, id: TorrentId, which: u32) {
        use resume_flags::*;
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let tref = t.torrent_ref();
        let storage = t.storage;
        if which & ONLY_IF_MODIFIED != 0 && !self.need_save_resume_data(id, which) {
            self.alert(AlertKind::SaveResumeDataFailed {
                torrent: tref,
                error: ErrorCode::new(
                    143, /* resume_data_not_modified */
                    Category::Libtorrent,
                ),
            });
            return;
        }
        if which & FLUSH_DISK_CACHE != 0 {
            // reported once the written blocks are on disk, so that the
            // blocks of unfinished pieces count
            self.ctl.flush_saves.entry(id).or_default().push_back(which);
            self.disk().async_flush(storage);
            return;
        }
        self.post_resume_data(id, which);
    }

    fn post_resume_data(&mut self, id: TorrentId, which: u32) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let tref = t.torrent_ref();
        let Some(params) = self.resume_data(id, which & resume_flags::SAVE_INFO_DICT != 0) else {
            return;
        };
        if let Some(m) = self.current_mark(id) {
            self.ctl.marks.insert(id, m);
        }
        self.alert(AlertKind::SaveResumeData {
            torrent: tref,
            params: Box::new(params),
        });
    }

    /// Hook from `on_disk` (`Flushed`): posts a resume data save that
    /// waited for the flush. Returns true when it did.
    pub(super) fn ctl_flushed(&mut self, id: TorrentId) -> bool {
        match pop_front(&mut self.ctl.flush_saves, id) {
            Some(which) => {
                self.post_resume_data(id, which);
                true
            }
            None => false,
        }
    }

    // ------------------------------------------------------------------
    // queue

    /// The download queue: the remembered order of torrents still in it,
    /// then torrents that joined since, oldest first.
    fn queue_snapshot(&self) -> Vec<TorrentId> {
        // Fast path: `ctl.queue` has no duplicates and every torrent joins
        // it when added, so usually it already lists every queued torrent.
        let listed: Vec<TorrentId> = self
            .ctl
            .queue
            .iter()
            .copied()
            .filter(|id| self.torrents.get(id).is_some_and(|t| in_queue(t)))
            .collect();
        if listed.len() == self.torrents.values().filter(|t| in_queue(t)).count() {
            return listed;
        }
        let mut seen = HashSet::new();
        let mut v: Vec<TorrentId> = self
            .ctl
            .queue
            .iter()
            .copied()
            .filter(|id| self.torrents.get(id).is_some_and(|t| in_queue(t)) && seen.insert(*id))
            .collect();
        let mut new: Vec<TorrentId> = self
            .torrents
            .values()
            .filter(|t| in_queue(t) && !seen.contains(&t.id))
            .map(|t| t.id)
            .collect();
        new.sort();
        v.extend(new);
        v
    }

    fn sync_queue(&mut self) {
        self.ctl.queue = self.queue_snapshot();
    }

    /// The torrent's place in the download queue; -1 when it is not in it
    /// (finished torrents).
    pub fn queue_position(&self, id: TorrentId) -> i32 {
        if !self.torrents.get(&id).is_some_and(|t| in_queue(t)) {
            return -1;
        }
        // `ctl.queue` holds no duplicates: count the queued torrents ahead
        // without building the snapshot (status() asks this of every
        // torrent).
        let mut pos = 0;
        for &q in &self.ctl.queue {
            if q == id {
                return pos;
            }
            if self.torrents.get(&q).is_some_and(|t| in_queue(t)) {
                pos += 1;
            }
        }
        // Added since the queue was last synced: the full order decides.
        self.queue_snapshot()
            .iter()
            .position(|&q| q == id)
            .map_or(-1, |p| p as i32)
    }

    /// The statuses of `ids` (those that exist) with the optional parts in
    /// `query`, the queue walked once for all of them.
    pub fn statuses(&self, ids: &[TorrentId], query: u32) -> Vec<TorrentStatus> {
        let queue: HashMap<TorrentId, i32> = self.queue_snapshot().into_iter().zip(0..).collect();
        let now = Instant::now();
        ids.iter()
            .filter_map(|&id| self.status_with(id, query, Some(&queue), now))
            .collect()
    }

    /// Moves the torrent in the queue: `Up`, `Down`, `Top`, `Bottom`, or to
    /// an absolute position.
    pub fn queue_move(&mut self, id: TorrentId, to: QueueMove) {
        self.sync_queue();
        let q = &mut self.ctl.queue;
        let Some(at) = q.iter().position(|&x| x == id) else {
            return;
        };
        let last = q.len() - 1;
        let dest = match to {
            QueueMove::Up => at.saturating_sub(1),
            QueueMove::Down => (at + 1).min(last),
            QueueMove::Top => 0,
            QueueMove::Bottom => last,
            QueueMove::Set(p) => (p.max(0) as usize).min(last),
        };
        if dest == at {
            return;
        }
        let x = q.remove(at);
        q.insert(dest, x);
        self.trigger_auto_manage();
    }

    /// Hook from `auto_manage`: orders candidates by queue position;
    /// torrents outside the queue (finished ones) come after, those that
    /// have not reached their seeding goals first, oldest first.
    pub(super) fn ctl_queue_sort(&mut self, ids: &mut [TorrentId]) {
        self.sync_queue();
        let pos: HashMap<TorrentId, usize> = self
            .ctl
            .queue
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        let now = Instant::now();
        let rank: HashMap<TorrentId, i32> = ids
            .iter()
            .filter(|id| !pos.contains_key(id))
            .map(|id| (*id, self.seed_rank(*id, now)))
            .collect();
        ids.sort_by_cached_key(|id| {
            (
                pos.get(id).copied().unwrap_or(usize::MAX),
                std::cmp::Reverse(rank.get(id).copied().unwrap_or(0)),
                *id,
            )
        });
    }

    /// The priority of a finished torrent for a seed slot
    /// ([`Torrent::seed_rank_for`]), over the time it spent running and
    /// seeding while not paused, as libtorrent counts it.
    fn seed_rank(&self, id: TorrentId, now: Instant) -> i32 {
        let Some(t) = self.torrents.get(&id) else {
            return 0;
        };
        // the peer list counts, as libtorrent's: known peers, connected or
        // not, and those seen to be seeds
        let (mut seeds, mut peers) = (t.known_seeds.len(), t.known.len());
        for p in t.peers.iter().filter_map(|c| self.peers.get(c)) {
            let seed = p.is_seed();
            seeds += usize::from(seed && !t.known_seeds.contains(&p.addr));
            peers += usize::from(!t.known.contains(&p.addr));
        }
        let times = t.times_at(now, !self.paused);
        t.seed_rank_for(
            &self.settings,
            seeds as i32,
            peers as i32,
            times.active as i64,
            times.finished as i64,
        )
    }

    /// Hook from `checked`: a torrent with `stop_when_ready` is paused (and
    /// taken out of auto-management) once its files are checked; the flag
    /// is cleared. Returns true when it paused the torrent.
    pub(super) fn ctl_stop_when_ready(&mut self, id: TorrentId) -> bool {
        let Some(t) = self.torrents.get_mut(&id) else {
            return false;
        };
        if t.flags & flags::STOP_WHEN_READY == 0 {
            return false;
        }
        t.flags &= !(flags::STOP_WHEN_READY | flags::AUTO_MANAGED);
        self.pause_torrent(id);
        true
    }

    /// `stop_when_ready(on)`: a torrent past checking is paused at once.
    pub fn stop_when_ready(&mut self, id: TorrentId, on: bool) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if !on {
            t.flags &= !flags::STOP_WHEN_READY;
            return;
        }
        t.flags |= flags::STOP_WHEN_READY;
        if matches!(
            t.state,
            TorrentState::Downloading | TorrentState::Finished | TorrentState::Seeding
        ) {
            self.ctl_stop_when_ready(id);
        }
    }

    /// Hook from `status`: the fields this module knows.
    pub(super) fn ctl_status(
        &self,
        id: TorrentId,
        st: &mut TorrentStatus,
        queue: Option<&HashMap<TorrentId, i32>>,
        now: Instant,
    ) {
        st.queue_position = match queue {
            Some(q) => q.get(&id).copied().unwrap_or(-1),
            None => self.queue_position(id),
        };
        st.seed_rank = self.seed_rank(id, now);
        st.moving_storage = self.ctl.moving.contains_key(&id);
        st.need_save_resume = self.need_save_resume_at(id, resume_flags::ONLY_IF_MODIFIED, now);
        if let Some(m) = self.ctl.renamed.get(&id) {
            st.renamed_files = m.clone();
        }
    }

    /// Hook from `add_torrent`: the torrent joins the download queue at the
    /// end.
    pub(super) fn ctl_added(&mut self, id: TorrentId) {
        self.ctl.queue.push(id);
    }

    /// Hook from `remove_torrent`.
    pub(super) fn ctl_forget(&mut self, id: TorrentId) {
        self.ctl.marks.remove(&id);
        self.ctl.restored.remove(&id);
        self.ctl.flush_saves.remove(&id);
        self.ctl.moving.remove(&id);
        self.ctl.renamed.remove(&id);
        self.ctl.renaming.retain(|(t, _), _| *t != id);
        self.ctl.queue.retain(|t| *t != id);
    }

    // ------------------------------------------------------------------
    // storage

    /// `move_storage(path, flags)`; the result comes as
    /// `storage_moved_alert` or `storage_moved_failed_alert`.
    pub fn move_storage(&mut self, id: TorrentId, path: String, how: MoveFlags) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let storage = t.storage;
        self.ctl
            .moving
            .entry(id)
            .or_default()
            .push_back((t.save_path.clone(), how));
        self.disk()
            .async_move_storage(storage, PathBuf::from(path), how);
    }

    /// `rename_file(index, name)`; the result comes as `file_renamed_alert`
    /// or `file_rename_failed_alert`.
    pub fn rename_file(&mut self, id: TorrentId, index: i64, name: String) {
        let Some(t) = self.torrents.get(&id) else {
            return;
        };
        let fs = Metadata::files(t.meta.as_ref());
        let Some(i) = usize::try_from(index).ok().filter(|&i| i < fs.num_files()) else {
            let tref = t.torrent_ref();
            self.alert(AlertKind::FileRenameFailed {
                torrent: tref,
                index: index.clamp(0, u32::MAX as i64) as u32,
                error: ErrorCode::new(libc::EINVAL, Category::System),
            });
            return;
        };
        let old = self
            .ctl
            .renamed
            .get(&id)
            .and_then(|m| m.get(&i).cloned())
            .unwrap_or_else(|| fs.file_path(i, ""));
        let storage = t.storage;
        self.ctl
            .renaming
            .entry((id, i))
            .or_default()
            .push_back((old, name.clone()));
        self.disk()
            .async_rename_file(storage, i, PathBuf::from(name));
    }

    /// Files renamed so far: index → new name.
    pub fn renamed_files(&self, id: TorrentId) -> BTreeMap<usize, String> {
        self.ctl.renamed.get(&id).cloned().unwrap_or_default()
    }

    /// Hook from `on_disk`: move and rename completions.
    pub(super) fn ctl_on_disk(&mut self, c: Completion) {
        match c {
            Completion::Moved { storage, result } => {
                let Some(&id) = self.by_storage.get(&storage) else {
                    return;
                };
                let Some((old, how)) = pop_front(&mut self.ctl.moving, id) else {
                    return;
                };
                let Some(t) = self.torrents.get_mut(&id) else {
                    return;
                };
                let tref = t.torrent_ref();
                match result {
                    Ok(new) => {
                        let new = new.to_string_lossy().into_owned();
                        t.save_path = new.clone();
                        self.alert(AlertKind::StorageMoved {
                            torrent: tref,
                            path: new,
                            old_path: old,
                        });
                        // files found at the destination may differ
                        if matches!(how, MoveFlags::DontReplace | MoveFlags::ResetSavePath) {
                            self.force_recheck(id);
                        }
                    }
                    Err(e) => {
                        let exists = e.error.raw_os_error() == Some(libc::EEXIST);
                        let path = match e.file {
                            // the file that could not be moved
                            lt_storage::ErrorFile::Index(i) => {
                                Metadata::files(t.meta.as_ref()).file_path(i, &t.save_path)
                            }
                            _ => String::new(),
                        };
                        self.alert(AlertKind::StorageMovedFailed {
                            torrent: tref,
                            error: io_error(&e.error),
                            op: if exists {
                                Operation::FileStat
                            } else {
                                storage_op(e.operation)
                            },
                            path,
                        });
                    }
                }
            }
            Completion::Renamed {
                storage,
                file,
                result,
            } => {
                let Some(&id) = self.by_storage.get(&storage) else {
                    return;
                };
                let Some((old, new)) = pop_front(&mut self.ctl.renaming, (id, file)) else {
                    return;
                };
                let Some(t) = self.torrents.get(&id) else {
                    return;
                };
                let tref = t.torrent_ref();
                match result {
                    Ok(_) => {
                        self.ctl
                            .renamed
                            .entry(id)
                            .or_default()
                            .insert(file, new.clone());
                        self.alert(AlertKind::FileRenamed {
                            torrent: tref,
                            index: file as u32,
                            new_name: new,
                            old_name: old,
                        });
                    }
                    Err(e) => self.alert(AlertKind::FileRenameFailed {
                        torrent: tref,
                        index: file as u32,
                        error: io_error(&e.error),
                    }),
                }
            }
            _ => {}
        }
    }
}

impl Engine {
    // ------------------------------------------------------------------
    // IP filter

    /// `session.set_ip_filter`: replaces the filter and disconnects the
    /// peers it now blocks (of torrents that apply it).
    pub fn set_ip_filter(&mut self, f: IpFilter) {
        let (v4, v6) = f.export_filter();
        self.ctl.ip_blocks = v4.iter().any(|r| r.2 & 1 != 0) || v6.iter().any(|r| r.2 & 1 != 0);
        self.ctl.ip_filter = f;
        let ids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        for id in ids {
            self.ip_filter_updated(id);
        }
    }

    pub fn ip_filter(&self) -> IpFilter {
        self.ctl.ip_filter.clone()
    }

    /// `torrent_handle.apply_ip_filter(on)`.
    pub fn apply_ip_filter(&mut self, id: TorrentId, on: bool) {
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if on {
            t.flags |= flags::APPLY_IP_FILTER;
        } else {
            t.flags &= !flags::APPLY_IP_FILTER;
        }
        self.ip_filter_updated(id);
    }

    /// Disconnects the torrent's peers the filter blocks and forgets them
    /// as candidates.
    fn ip_filter_updated(&mut self, id: TorrentId) {
        if !self.ctl.ip_blocks {
            return;
        }
        let f = &self.ctl.ip_filter;
        let Some(t) = self.torrents.get_mut(&id) else {
            return;
        };
        if t.flags & flags::APPLY_IP_FILTER == 0 {
            return;
        }
        t.candidates.retain(|a| f.access(a.ip()) & 1 == 0);
        let blocked: Vec<_> = t
            .peers
            .iter()
            .filter_map(|c| self.peers.get(c).map(|p| (*c, p.addr)))
            .filter(|(_, a)| f.access(a.ip()) & 1 != 0)
            .collect();
        let tref = t.torrent_ref();
        for (c, addr) in blocked {
            self.peer_blocked(Some(tref.clone()), addr, 0 /* ip_filter */);
            self.disconnect(c, None);
        }
    }

    /// Hook from `connect_candidates` (with the torrent) and `on_incoming`
    /// (without): whether the IP filter blocks `addr`; posts
    /// `peer_blocked_alert` when it does.
    pub(super) fn ctl_blocked(&mut self, torrent: Option<TorrentId>, addr: SocketAddr) -> bool {
        if !self.ctl.ip_blocks {
            return false;
        }
        let f = &self.ctl.ip_filter;
        let tref = match torrent {
            Some(id) => match self.torrents.get(&id) {
                Some(t) if t.flags & flags::APPLY_IP_FILTER != 0 => Some(t.torrent_ref()),
                _ => return false,
            },
            None => None,
        };
        if f.access(addr.ip()) & 1 == 0 {
            return false;
        }
        self.peer_blocked(tref, addr, 0 /* ip_filter */);
        true
    }
}

/// Where [`Engine::queue_move`] puts a torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueMove {
    Up,
    Down,
    Top,
    Bottom,
    Set(i32),
}

/// The paths (and, for a seed, the sizes) a resume check looks at: the
/// files of `files` that hold data, skipping pad files and files not
/// downloaded (priority 0), under their renamed paths.
fn resume_paths(
    t: &Torrent,
    files: impl IntoIterator<Item = usize>,
    renamed: &[(usize, String)],
    seed: bool,
) -> Vec<(PathBuf, Option<u64>)> {
    let fs = Metadata::files(t.meta.as_ref());
    let mut paths = Vec::new();
    for i in files {
        let size = fs.file_size(i);
        if fs.pad_file_at(i) || size <= 0 || t.file_priorities.get(i) == Some(&0) {
            continue;
        }
        let path = match renamed.iter().rev().find(|(f, _)| *f == i) {
            Some((_, name)) => Path::new(&t.save_path).join(name),
            None => PathBuf::from(fs.file_path(i, &t.save_path)),
        };
        paths.push((path, seed.then_some(size as u64)));
    }
    paths
}
