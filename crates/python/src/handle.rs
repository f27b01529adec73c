//! Python bindings: `torrent_handle`, `torrent_status`, `peer_info`.
//!
//! A handle is a weak reference to the session plus the torrent's id. Every
//! call releases the GIL while the engine answers. Calls on a handle whose
//! torrent is gone raise `RuntimeError("invalid torrent handle used
//! [libtorrent:20]")`, as the reference does.

use std::sync::Weak;

use lt_core::InfoHash;
use lt_metainfo::WebSeedKind;
use lt_session::{Engine, PeerInfo, Session, TorrentId, TorrentStatus};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::enums::enum_to_py;
use crate::hashes::{info_hash_to_py, sha1_to_py};

pub fn invalid_handle() -> PyErr {
    PyRuntimeError::new_err("invalid torrent handle used [libtorrent:20]")
}

/// `(address, port)` from a Python endpoint tuple.
pub fn endpoint_from_py(obj: &Bound<'_, PyAny>) -> PyResult<std::net::SocketAddr> {
    let (host, port): (String, u16) = obj.extract()?;
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("invalid address: {host}")))?;
    Ok(std::net::SocketAddr::new(ip, port))
}

pub fn endpoint_to_py<'py>(
    py: Python<'py>,
    a: &std::net::SocketAddr,
) -> PyResult<Bound<'py, PyTuple>> {
    (a.ip().to_string(), a.port()).into_pyobject(py)
}

#[pyclass(module = "libtorrent", name = "torrent_handle", frozen, from_py_object)]
#[derive(Clone)]
pub struct PyTorrentHandle {
    ses: Weak<Session>,
    id: Option<TorrentId>,
}

impl PyTorrentHandle {
    pub fn new(ses: Weak<Session>, id: TorrentId) -> Self {
        PyTorrentHandle { ses, id: Some(id) }
    }

    pub fn invalid() -> Self {
        PyTorrentHandle {
            ses: Weak::new(),
            id: None,
        }
    }

    pub fn id(&self) -> Option<TorrentId> {
        self.id
    }

    /// Runs `f` on the engine with this torrent's id; raises for an invalid
    /// handle. The GIL is released while waiting.
    pub(crate) fn with<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Engine, TorrentId) -> R + Send + 'static,
    {
        let id = self.id.ok_or_else(invalid_handle)?;
        let ses = self.ses.upgrade().ok_or_else(invalid_handle)?;
        let r = py.detach(move || {
            ses.call(move |e| {
                if e.has_torrent(id) {
                    Some(f(e, id))
                } else {
                    None
                }
            })
        });
        r.ok().flatten().ok_or_else(invalid_handle)
    }
}

#[pymethods]
impl PyTorrentHandle {
    #[new]
    fn py_new() -> Self {
        Self::invalid()
    }

    fn is_valid(&self) -> bool {
        match (self.id, self.ses.upgrade()) {
            (Some(id), Some(ses)) => ses.has_torrent(id),
            _ => false,
        }
    }

    #[pyo3(signature = (flags = 0xffff_ffff))]
    fn status(&self, py: Python<'_>, flags: u32) -> PyResult<PyTorrentStatus> {
        let mut st = self
            .with(py, move |e, id| e.statuses(&[id], flags).pop())?
            .ok_or_else(invalid_handle)?;
        if flags & 256 == 0 {
            // query_renamed_files
            st.renamed_files.clear();
        }
        Ok(PyTorrentStatus::new(st, self.ses.clone()))
    }

    #[pyo3(signature = (flags = 0))]
    fn pause(&self, py: Python<'_>, flags: u32) -> PyResult<()> {
        let _ = flags;
        self.with(py, |e, id| e.pause_torrent(id))
    }

    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.resume_torrent(id))
    }

    fn is_paused(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.status(py, 0)?.st.paused)
    }

    fn is_finished(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.status(py, 0)?.st.is_finished)
    }

    fn is_seed(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.status(py, 0)?.st.is_seeding)
    }

    fn is_auto_managed(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.status(py, 0)?.st.auto_managed)
    }

    fn has_metadata(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.status(py, 0)?.st.has_metadata)
    }

    fn name(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.status(py, 0)?.st.name)
    }

    fn save_path(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.status(py, 0)?.st.save_path)
    }

    fn flags(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.status(py, 0)?.st.flags)
    }

    #[pyo3(signature = (flags, mask = None))]
    fn set_flags(&self, py: Python<'_>, flags: u64, mask: Option<u64>) -> PyResult<()> {
        let mask = mask.unwrap_or(flags);
        self.with(py, move |e, id| e.set_flags(id, flags, mask))
    }

    fn unset_flags(&self, py: Python<'_>, flags: u64) -> PyResult<()> {
        self.with(py, move |e, id| e.set_flags(id, 0, flags))
    }

    fn set_upload_mode(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        let f = lt_session::torrent::flags::UPLOAD_MODE;
        self.with(py, move |e, id| e.set_flags(id, if on { f } else { 0 }, f))
    }

    fn auto_managed(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        let f = lt_session::torrent::flags::AUTO_MANAGED;
        self.with(py, move |e, id| e.set_flags(id, if on { f } else { 0 }, f))
    }

    fn clear_error(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.clear_error(id))
    }

    fn flush_cache(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.flush_cache(id))
    }

    fn set_sequential_download(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        let f = lt_session::torrent::flags::SEQUENTIAL_DOWNLOAD;
        self.with(py, move |e, id| e.set_flags(id, if on { f } else { 0 }, f))
    }

    /// Deprecated: `super_seeding()` reads `torrent_flags.super_seeding`,
    /// `super_seeding(on)` sets or clears it.
    #[pyo3(signature = (on = None))]
    fn super_seeding(&self, py: Python<'_>, on: Option<bool>) -> PyResult<Option<bool>> {
        warn_deprecated(py, c"super_seeding() is deprecated")?;
        let f = lt_session::torrent::flags::SUPER_SEEDING;
        match on {
            None => Ok(Some(self.status(py, 0)?.st.flags & f != 0)),
            Some(on) => {
                self.with(py, move |e, id| e.set_flags(id, if on { f } else { 0 }, f))?;
                Ok(None)
            }
        }
    }

    /// Deprecated: sets or clears `torrent_flags.share_mode`.
    fn set_share_mode(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        warn_deprecated(py, c"set_share_mode() is deprecated")?;
        let f = lt_session::torrent::flags::SHARE_MODE;
        self.with(py, move |e, id| e.set_flags(id, if on { f } else { 0 }, f))
    }

    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ih = self.hashes(py);
        Ok(sha1_to_py(py, ih.best())?.into_any())
    }

    fn info_hashes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ih = self.hashes(py);
        Ok(info_hash_to_py(py, ih)?.into_any())
    }

    #[pyo3(signature = (endpoint, source = 0, flags = 13))]
    fn connect_peer(
        &self,
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        source: u32,
        flags: u32,
    ) -> PyResult<()> {
        let _ = (source, flags);
        let addr = endpoint_from_py(endpoint)?;
        self.with(py, move |e, id| e.connect_peer(id, addr))
    }

    fn force_recheck(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.force_recheck(id))
    }

    fn have_piece(&self, py: Python<'_>, piece: u32) -> PyResult<bool> {
        self.with(py, move |e, id| e.have_piece(id, piece))
    }

    fn read_piece(&self, py: Python<'_>, piece: u32) -> PyResult<()> {
        self.with(py, move |e, id| e.read_piece(id, piece))
    }

    #[pyo3(signature = (flags = 0))]
    fn file_progress(&self, py: Python<'_>, flags: u32) -> Vec<i64> {
        let _ = flags;
        self.with(py, |e, id| e.file_progress(id))
            .unwrap_or_default()
    }

    /// Empty for a seed, which does not track availability (as libtorrent).
    fn piece_availability(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        self.with(py, |e, id| e.piece_availability(id))
    }

    /// A list of ints (a `Vec<u8>` would become `bytes`).
    fn get_piece_priorities(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        self.with(py, |e, id| e.piece_priorities(id))
            .map(|v| v.into_iter().map(i32::from).collect())
    }

    fn piece_priorities(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        self.get_piece_priorities(py)
    }

    #[pyo3(signature = (piece, priority = None))]
    fn piece_priority(
        &self,
        py: Python<'_>,
        piece: u32,
        priority: Option<u8>,
    ) -> PyResult<Option<i32>> {
        match priority {
            None => {
                let v = self.get_piece_priorities(py)?;
                Ok(Some(v.get(piece as usize).copied().unwrap_or(0)))
            }
            Some(p) => {
                self.with(py, move |e, id| {
                    e.set_piece_priorities(id, &[(piece, p.min(7))])
                })?;
                Ok(None)
            }
        }
    }

    /// Takes a list of priorities (one per piece) or of `(piece, priority)` pairs.
    fn prioritize_pieces(&self, py: Python<'_>, prios: Bound<'_, PyAny>) -> PyResult<()> {
        let pairs: Vec<(u32, u8)> = match prios.extract::<Vec<(u32, u8)>>() {
            Ok(p) => p,
            Err(_) => prios
                .extract::<Vec<u8>>()?
                .into_iter()
                .enumerate()
                .map(|(i, p)| (i as u32, p))
                .collect(),
        };
        let pairs: Vec<(u32, u8)> = pairs.into_iter().map(|(i, p)| (i, p.min(7))).collect();
        self.with(py, move |e, id| e.set_piece_priorities(id, &pairs))
    }

    /// A list of ints (a `Vec<u8>` would become `bytes`).
    fn get_file_priorities(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        self.with(py, |e, id| e.file_priorities(id))
            .map(|v| v.into_iter().map(i32::from).collect())
    }

    fn file_priorities(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        self.get_file_priorities(py)
    }

    #[pyo3(signature = (index, priority = None))]
    fn file_priority(
        &self,
        py: Python<'_>,
        index: usize,
        priority: Option<u8>,
    ) -> PyResult<Option<i32>> {
        let mut v = self.with(py, |e, id| e.file_priorities(id))?;
        match priority {
            None => Ok(Some(v.get(index).copied().map_or(0, i32::from))),
            Some(p) => {
                if let Some(slot) = v.get_mut(index) {
                    *slot = p.min(7);
                }
                self.with(py, move |e, id| e.set_file_priorities(id, v))?;
                Ok(None)
            }
        }
    }

    fn prioritize_files(&self, py: Python<'_>, prios: Vec<u8>) -> PyResult<()> {
        let prios: Vec<u8> = prios.into_iter().map(|p| p.min(7)).collect();
        self.with(py, move |e, id| e.set_file_priorities(id, prios))
    }

    fn get_peer_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let peers = self.with(py, |e, id| e.peer_info(id))?;
        PyList::new(py, peers.into_iter().map(|p| PyPeerInfo { p }))
    }

    fn trackers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = self.with(py, |e, id| e.trackers(id))?;
        trackers_to_py(py, &list)
    }

    /// The torrent's BEP 19 web seeds, sorted.
    fn url_seeds(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |e, id| e.web_seed_urls(id, WebSeedKind::UrlSeed))
    }

    fn add_url_seed(&self, py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<()> {
        let url = seed_url_arg(py, url, "add_url_seed")?;
        self.with(py, move |e, id| {
            e.add_web_seed(id, url, WebSeedKind::UrlSeed);
        })
    }

    fn remove_url_seed(&self, py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<()> {
        let url = seed_url_arg(py, url, "remove_url_seed")?;
        self.with(py, move |e, id| {
            e.remove_web_seed(id, &url, WebSeedKind::UrlSeed);
        })
    }

    /// BEP 17 seeds: libtorrent 2.x dropped them; as there, the list is
    /// always empty and adding or removing one changes nothing (no error
    /// even for an invalid handle).
    fn http_seeds(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        warn_deprecated(py, c"http_seeds() is deprecated")?;
        Ok(Vec::new())
    }

    fn add_http_seed(&self, py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<()> {
        seed_url_arg(py, url, "add_http_seed")?;
        warn_deprecated(py, c"add_http_seed() is deprecated")
    }

    fn remove_http_seed(&self, py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<()> {
        seed_url_arg(py, url, "remove_http_seed")?;
        warn_deprecated(py, c"remove_http_seed() is deprecated")
    }

    /// `add_tracker({'url': ..., 'tier': ...})`.
    fn add_tracker(&self, py: Python<'_>, entry: &Bound<'_, PyAny>) -> PyResult<()> {
        let (url, tier) = tracker_from_py(entry)?;
        self.with(py, move |e, id| e.add_tracker(id, url, tier))
    }

    fn replace_trackers(&self, py: Python<'_>, entries: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut list = Vec::new();
        for item in entries.try_iter()? {
            list.push(tracker_from_py(&item?)?);
        }
        self.with(py, move |e, id| e.replace_trackers(id, list))
    }

    #[pyo3(signature = (seconds = 0, tracker_idx = -1, flags = 0))]
    fn force_reannounce(
        &self,
        py: Python<'_>,
        seconds: i64,
        tracker_idx: i64,
        flags: u32,
    ) -> PyResult<()> {
        let idx = usize::try_from(tracker_idx).ok();
        let secs = seconds.clamp(0, u32::MAX as i64) as u32;
        let ignore_min = flags & 1 != 0;
        self.with(py, move |e, id| {
            e.force_reannounce(id, secs, idx, ignore_min)
        })
    }

    fn force_dht_announce(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.force_dht_announce(id))
    }

    #[pyo3(signature = (idx = -1))]
    fn scrape_tracker(&self, py: Python<'_>, idx: i64) -> PyResult<()> {
        let idx = usize::try_from(idx).ok();
        self.with(py, move |e, id| e.scrape_tracker(id, idx))
    }

    fn upload_limit(&self, py: Python<'_>) -> PyResult<i32> {
        Ok(self.status(py, 0)?.st.upload_limit)
    }

    fn download_limit(&self, py: Python<'_>) -> PyResult<i32> {
        Ok(self.status(py, 0)?.st.download_limit)
    }

    fn set_upload_limit(&self, py: Python<'_>, limit: i32) -> PyResult<()> {
        self.with(py, move |e, id| {
            e.set_torrent_limits(id, Some(limit.max(0)), None, None, None)
        })
    }

    fn set_download_limit(&self, py: Python<'_>, limit: i32) -> PyResult<()> {
        self.with(py, move |e, id| {
            e.set_torrent_limits(id, None, Some(limit.max(0)), None, None)
        })
    }

    fn max_connections(&self, py: Python<'_>) -> PyResult<i32> {
        Ok(unlimited(self.status(py, 0)?.st.connections_limit))
    }

    fn max_uploads(&self, py: Python<'_>) -> PyResult<i32> {
        Ok(unlimited(self.status(py, 0)?.st.uploads_limit))
    }

    fn set_max_connections(&self, py: Python<'_>, n: i32) -> PyResult<()> {
        self.with(py, move |e, id| {
            e.set_torrent_limits(id, None, None, Some(n), None)
        })
    }

    fn set_max_uploads(&self, py: Python<'_>, n: i32) -> PyResult<()> {
        self.with(py, move |e, id| {
            e.set_torrent_limits(id, None, None, None, Some(n))
        })
    }

    #[pyo3(signature = (index, deadline, flags = 0))]
    fn set_piece_deadline(
        &self,
        py: Python<'_>,
        index: u32,
        deadline: i64,
        flags: u32,
    ) -> PyResult<()> {
        let d = deadline.clamp(0, u32::MAX as i64) as u32;
        let alert = flags & 1 != 0;
        self.with(py, move |e, id| e.set_piece_deadline(id, index, d, alert))
    }

    fn reset_piece_deadline(&self, py: Python<'_>, index: u32) -> PyResult<()> {
        self.with(py, move |e, id| e.reset_piece_deadline(id, index))
    }

    fn clear_piece_deadlines(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.clear_piece_deadlines(id))
    }

    fn get_download_queue<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let q = self.with(py, |e, id| e.download_queue(id))?;
        download_queue_to_py(py, &q)
    }

    fn post_download_queue(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.post_download_queue(id))
    }

    #[pyo3(signature = (flags = 0))]
    fn post_file_progress(&self, py: Python<'_>, flags: u32) -> PyResult<()> {
        let _ = flags; // we always report byte counts per file
        self.with(py, |e, id| e.post_file_progress(id))
    }

    fn post_peer_info(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.post_peer_info(id))
    }

    fn post_piece_availability(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.post_piece_availability(id))
    }

    fn post_trackers(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.post_trackers(id))
    }

    #[pyo3(signature = (flags = 0xffff_ffff))]
    fn post_status(&self, py: Python<'_>, flags: u32) -> PyResult<()> {
        let _ = flags; // every field is always filled in
        self.with(py, |e, id| e.post_status(id))
    }

    /// The files renamed so far (a copy).
    fn get_renamed_files(&self, py: Python<'_>) -> PyResult<crate::renamed::PyRenamedFiles> {
        let m = self.with(py, |e, id| e.renamed_files(id))?;
        Ok(crate::renamed::PyRenamedFiles::from_map(&m))
    }

    fn torrent_file(&self, py: Python<'_>) -> PyResult<Option<crate::metainfo::PyTorrentInfo>> {
        let ti = self
            .with(py, |e, id| e.torrent_meta(id))
            .ok()
            .flatten()
            .filter(|t| t.is_valid());
        Ok(ti.map(|t| crate::metainfo::PyTorrentInfo { inner: t }))
    }

    /// Supplies a magnet link's info dictionary (bencoded).
    fn set_metadata(&self, py: Python<'_>, info: &Bound<'_, PyAny>) -> PyResult<()> {
        let info: Vec<u8> = if let Ok(b) = info.cast::<pyo3::types::PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            // A str goes through as its UTF-8 bytes (as the reference's
            // std::string conversion does).
            info.extract::<String>()?.into_bytes()
        };
        self.with(py, move |e, id| e.set_metadata(id, &info))
    }

    /// `None` while a magnet link's metadata is missing, like the reference.
    fn get_torrent_info(&self, py: Python<'_>) -> PyResult<Option<crate::metainfo::PyTorrentInfo>> {
        self.torrent_file(py)
    }

    // resume data, queue, storage, IP filter (engine/ctl.rs)

    /// Whether the session's IP filter applies to this torrent's peers.
    fn apply_ip_filter(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        self.with(py, move |e, id| e.apply_ip_filter(id, on))
    }

    /// Pause the torrent (and stop auto-managing it) once its files are
    /// checked.
    fn stop_when_ready(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        self.with(py, move |e, id| e.stop_when_ready(id, on))
    }

    /// Posts `save_resume_data_alert` (or `save_resume_data_failed_alert`).
    #[pyo3(signature = (flags = 0))]
    fn save_resume_data(&self, py: Python<'_>, flags: u32) -> PyResult<()> {
        self.with(py, move |e, id| e.save_resume_data(id, flags))
    }

    #[pyo3(signature = (flags = lt_session::resume_flags::ONLY_IF_MODIFIED))]
    fn need_save_resume_data(&self, py: Python<'_>, flags: u32) -> PyResult<bool> {
        self.with(py, move |e, id| e.need_save_resume_data(id, flags))
    }

    /// The resume state now, as a bencoded-entry dict.
    fn write_resume_data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rd = self
            .with(py, |e, id| e.resume_data(id, false))?
            .ok_or_else(invalid_handle)?;
        crate::resume::resume_entry(py, &rd)
    }

    fn queue_position(&self, py: Python<'_>) -> PyResult<i32> {
        self.with(py, |e, id| e.queue_position(id))
    }

    fn queue_position_up(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.queue_move(id, lt_session::QueueMove::Up))
    }

    fn queue_position_down(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.queue_move(id, lt_session::QueueMove::Down))
    }

    fn queue_position_top(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.queue_move(id, lt_session::QueueMove::Top))
    }

    fn queue_position_bottom(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e, id| e.queue_move(id, lt_session::QueueMove::Bottom))
    }

    /// Moves the files; `storage_moved_alert` or `storage_moved_failed_alert`
    /// tells the outcome.
    #[pyo3(signature = (path, flags = None))]
    fn move_storage(
        &self,
        py: Python<'_>,
        path: String,
        flags: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        use lt_session::MoveFlags as M;
        let v: i64 = match flags {
            None => 0,
            Some(f) => f
                .extract()
                .or_else(|_| f.call_method0("__int__")?.extract())?,
        };
        let how = match v {
            0 => M::AlwaysReplaceFiles,
            1 => M::FailIfExist,
            2 => M::DontReplace,
            3 => M::ResetSavePath,
            4 => M::ResetSavePathUnchecked,
            _ => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "invalid move_flags_t value {v}"
                )))
            }
        };
        self.with(py, move |e, id| e.move_storage(id, path, how))
    }

    /// Renames a file; `file_renamed_alert` or `file_rename_failed_alert`
    /// tells the outcome.
    fn rename_file(&self, py: Python<'_>, index: i64, name: String) -> PyResult<()> {
        self.with(py, move |e, id| e.rename_file(id, index, name))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTorrentHandle>() {
            Ok(o) => {
                let o = o.get();
                self.id == o.id && self.ses.ptr_eq(&o.ses)
            }
            Err(_) => false,
        }
    }

    fn __ne__(&self, other: &Bound<'_, PyAny>) -> bool {
        !self.__eq__(other)
    }

    fn __lt__(&self, other: &PyTorrentHandle) -> bool {
        self.id < other.id
    }

    fn __hash__(&self) -> u64 {
        self.id.map_or(0, |t| t.0)
    }
}

/// libtorrent reports "no limit" as 2^24 - 1.
/// `get_download_queue()` / `piece_info_alert.piece_info`: one dict per
/// piece being downloaded.
pub fn download_queue_to_py<'py>(
    py: Python<'py>,
    q: &[lt_picker::PartialPieceInfo],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for p in q {
        let d = PyDict::new(py);
        d.set_item("piece_index", p.piece)?;
        let blocks = PyList::empty(py);
        let (mut finished, mut writing, mut requested) = (0, 0, 0);
        for b in &p.blocks {
            let bd = PyDict::new(py);
            let state = match b.state {
                lt_picker::BlockState::Free => 0,
                lt_picker::BlockState::Requested => {
                    requested += 1;
                    1
                }
                lt_picker::BlockState::Writing => {
                    writing += 1;
                    2
                }
                lt_picker::BlockState::Finished => {
                    finished += 1;
                    3
                }
            };
            bd.set_item("state", state)?;
            bd.set_item("num_peers", b.num_peers)?;
            bd.set_item("bytes_progress", b.bytes_progress)?;
            bd.set_item("block_size", b.block_size)?;
            bd.set_item("peer", ("0.0.0.0", 0))?;
            blocks.append(bd)?;
        }
        d.set_item("blocks_in_piece", p.blocks.len())?;
        d.set_item("blocks", blocks)?;
        d.set_item("finished", finished)?;
        d.set_item("writing", writing)?;
        d.set_item("requested", requested)?;
        out.append(d)?;
    }
    Ok(out)
}

fn unlimited(v: i32) -> i32 {
    if v <= 0 {
        (1 << 24) - 1
    } else {
        v
    }
}

fn tracker_from_py(entry: &Bound<'_, PyAny>) -> PyResult<(String, u8)> {
    if let Ok(d) = entry.cast::<PyDict>() {
        let url: String = d
            .get_item("url")?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err("url"))?
            .extract()?;
        let tier: i64 = match d.get_item("tier")? {
            Some(t) => t.extract()?,
            None => 0,
        };
        return Ok((url, tier.clamp(0, 255) as u8));
    }
    let url: String = entry.getattr("url")?.extract()?;
    let tier: i64 = entry.getattr("tier")?.extract()?;
    Ok((url, tier.clamp(0, 255) as u8))
}

/// An `Instant` as unix seconds (0 for none).
fn unix_time(t: Option<std::time::Instant>) -> i64 {
    let Some(t) = t else { return 0 };
    let now = std::time::Instant::now();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if t >= now {
        unix + t.duration_since(now).as_secs() as i64
    } else {
        unix - now.duration_since(t).as_secs() as i64
    }
}

fn error_dict<'py>(
    py: Python<'py>,
    e: &Option<lt_tracker::TrackerError>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let ec = e
        .as_ref()
        .map(lt_session::tracker_error_code)
        .unwrap_or_default();
    d.set_item("value", ec.value)?;
    d.set_item("category", ec.category.name())?;
    Ok(d)
}

fn info_hash_state<'py>(
    py: Python<'py>,
    h: &lt_tracker::AnnounceInfoHash,
    d: &Bound<'py, PyDict>,
) -> PyResult<()> {
    d.set_item("message", &h.message)?;
    d.set_item("last_error", error_dict(py, &h.last_error)?)?;
    d.set_item("next_announce", unix_time(h.next_announce))?;
    d.set_item("min_announce", unix_time(h.min_announce))?;
    d.set_item("scrape_incomplete", h.scrape_incomplete)?;
    d.set_item("scrape_complete", h.scrape_complete)?;
    d.set_item("scrape_downloaded", h.scrape_downloaded)?;
    d.set_item("fails", h.fails)?;
    d.set_item("updating", h.updating)?;
    d.set_item("start_sent", h.start_sent)?;
    d.set_item("complete_sent", h.complete_sent)?;
    Ok(())
}

/// `trackers()` entries, in the reference module's dict form.
/// `trackers()` / `tracker_list_alert.trackers`.
pub fn trackers_to_py<'py>(
    py: Python<'py>,
    list: &[lt_tracker::AnnounceEntry],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for t in list {
        out.append(announce_entry_dict(py, t)?)?;
    }
    Ok(out)
}

fn announce_entry_dict<'py>(
    py: Python<'py>,
    t: &lt_tracker::AnnounceEntry,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("url", &t.url)?;
    d.set_item("trackerid", &t.trackerid)?;
    d.set_item("tier", t.tier)?;
    d.set_item("fail_limit", t.fail_limit)?;
    d.set_item("source", t.source)?;
    d.set_item("verified", t.verified)?;
    let eps = PyList::empty(py);
    let mut first: Option<&lt_tracker::AnnounceInfoHash> = None;
    for e in &t.endpoints {
        let ed = PyDict::new(py);
        ed.set_item("local_address", endpoint_to_py(py, &e.local_endpoint)?)?;
        let ihs = PyList::empty(py);
        for h in &e.info_hashes {
            let hd = PyDict::new(py);
            info_hash_state(py, h, &hd)?;
            ihs.append(hd)?;
        }
        ed.set_item("info_hashes", ihs)?;
        info_hash_state(py, &e.info_hashes[0], &ed)?;
        first.get_or_insert(&e.info_hashes[0]);
        eps.append(ed)?;
    }
    let default = lt_tracker::AnnounceInfoHash::default();
    info_hash_state(py, first.unwrap_or(&default), &d)?;
    d.set_item("endpoints", eps)?;
    d.set_item("send_stats", false)?;
    Ok(d)
}

impl PyTorrentHandle {
    fn hashes(&self, py: Python<'_>) -> InfoHash {
        self.with(py, |e, id| e.torrent_meta(id).map(|m| m.info_hashes()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}

#[pyclass(module = "libtorrent", name = "torrent_status", frozen)]
pub struct PyTorrentStatus {
    pub st: TorrentStatus,
    ses: Weak<Session>,
    /// `renamed_files`, made on first access (changes made to it stay, as
    /// in the reference, where it is a member of the status).
    renamed: std::sync::OnceLock<Py<crate::renamed::PyRenamedFiles>>,
}

impl PyTorrentStatus {
    pub fn new(st: TorrentStatus, ses: Weak<Session>) -> Self {
        PyTorrentStatus {
            st,
            ses,
            renamed: std::sync::OnceLock::new(),
        }
    }
}

macro_rules! getters {
    ($($name:ident: $ty:ty),* $(,)?) => {
        #[pymethods]
        impl PyTorrentStatus {
            $(
                #[getter]
                fn $name(&self) -> $ty {
                    self.st.$name.clone()
                }
            )*
        }
    };
}

getters!(
    name: String,
    save_path: String,
    flags: u64,
    paused: bool,
    auto_managed: bool,
    is_finished: bool,
    is_seeding: bool,
    has_metadata: bool,
    seed_mode: bool,
    upload_mode: bool,
    share_mode: bool,
    super_seeding: bool,
    sequential_download: bool,
    stop_when_ready: bool,
    moving_storage: bool,
    announcing_to_trackers: bool,
    announcing_to_lsd: bool,
    announcing_to_dht: bool,
    need_save_resume: bool,
    ip_filter_applies: bool,
    has_incoming: bool,
    progress: f32,
    progress_ppm: i32,
    error_file: i32,
    current_tracker: String,
    total_download: i64,
    total_upload: i64,
    total_payload_download: i64,
    total_payload_upload: i64,
    total_failed_bytes: i64,
    total_redundant_bytes: i64,
    all_time_download: i64,
    all_time_upload: i64,
    total_done: i64,
    total: i64,
    total_wanted_done: i64,
    total_wanted: i64,
    download_rate: i32,
    upload_rate: i32,
    download_payload_rate: i32,
    upload_payload_rate: i32,
    num_seeds: i32,
    num_peers: i32,
    num_complete: i32,
    num_incomplete: i32,
    list_seeds: i32,
    list_peers: i32,
    connect_candidates: i32,
    num_pieces: i32,
    pieces: Vec<bool>,
    verified_pieces: Vec<bool>,
    distributed_full_copies: i32,
    distributed_fraction: i32,
    distributed_copies: f32,
    block_size: i32,
    num_uploads: i32,
    num_connections: i32,
    uploads_limit: i32,
    connections_limit: i32,
    up_bandwidth_queue: i32,
    down_bandwidth_queue: i32,
    download_limit: i32,
    upload_limit: i32,
    queue_position: i32,
    added_time: i64,
    completed_time: i64,
    last_seen_complete: i64,
    last_scrape: i64,
);

#[pymethods]
impl PyTorrentStatus {
    /// A default status (of no torrent).
    #[new]
    fn py_new() -> Self {
        PyTorrentStatus::new(TorrentStatus::default(), Weak::new())
    }
    #[getter]
    fn renamed_files(&self, py: Python<'_>) -> PyResult<Py<crate::renamed::PyRenamedFiles>> {
        if let Some(r) = self.renamed.get() {
            return Ok(r.clone_ref(py));
        }
        let r = Py::new(
            py,
            crate::renamed::PyRenamedFiles::from_map(&self.st.renamed_files),
        )?;
        // another thread may have set it meanwhile: use whichever won
        let _ = self.renamed.set(r);
        match self.renamed.get() {
            Some(r) => Ok(r.clone_ref(py)),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err("renamed_files")),
        }
    }
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        enum_to_py(py, "torrent_status.states", self.st.state as i64)
    }
    #[getter]
    fn error(&self) -> String {
        self.st
            .error
            .as_ref()
            .map(|e| e.message())
            .unwrap_or_default()
    }
    #[getter]
    fn errc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::alerts::error_code_to_py(py, &self.st.error.unwrap_or_default())
    }
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(sha1_to_py(py, self.st.info_hashes.best())?.into_any())
    }
    #[getter]
    fn info_hashes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(info_hash_to_py(py, self.st.info_hashes)?.into_any())
    }
    #[getter]
    fn handle(&self) -> PyTorrentHandle {
        match self.st.id {
            Some(id) => PyTorrentHandle::new(self.ses.clone(), id),
            None => PyTorrentHandle::invalid(),
        }
    }
    #[getter]
    fn storage_mode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        enum_to_py(py, "storage_mode_t", self.st.storage_mode as i64)
    }
    /// Whole seconds, as the reference module reports durations.
    #[getter]
    fn active_time(&self) -> i64 {
        self.st.active_duration.as_secs() as i64
    }
    #[getter]
    fn finished_time(&self) -> i64 {
        self.st.finished_duration.as_secs() as i64
    }
    #[getter]
    fn seeding_time(&self) -> i64 {
        self.st.seeding_duration.as_secs() as i64
    }
    #[getter]
    fn next_announce<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        timedelta(py, self.st.next_announce)
    }
    #[getter]
    fn announce_interval<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        timedelta(py, self.st.announce_interval)
    }
    #[getter]
    fn active_duration<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        timedelta(py, self.st.active_duration)
    }
    #[getter]
    fn finished_duration<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        timedelta(py, self.st.finished_duration)
    }
    #[getter]
    fn seeding_duration<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        timedelta(py, self.st.seeding_duration)
    }
    #[getter]
    fn need_save_resume_data(&self) -> u32 {
        u32::from(self.st.need_save_resume)
    }
    #[getter]
    fn torrent_file(&self) -> Option<crate::metainfo::PyTorrentInfo> {
        if self.st.query & lt_session::status_query::TORRENT_FILE == 0 {
            return None;
        }
        let ti = self
            .st
            .id
            .and_then(|id| {
                let ses = self.ses.upgrade()?;
                ses.call(move |e| e.torrent_meta(id)).ok().flatten()
            })
            .filter(|t| t.is_valid());
        ti.map(|t| crate::metainfo::PyTorrentInfo { inner: t })
    }
    #[getter]
    fn is_loaded(&self) -> bool {
        true
    }
    #[getter]
    fn seed_rank(&self) -> i32 {
        self.st.seed_rank
    }
    /// When payload was last received (`None`: never).
    #[getter]
    fn last_download<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_or_none(py, self.st.last_download)
    }
    #[getter]
    fn last_upload<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_or_none(py, self.st.last_upload)
    }
    /// Seconds since payload was last received, -1 if never.
    #[getter]
    fn time_since_download(&self) -> i64 {
        seconds_since(self.st.last_download)
    }
    #[getter]
    fn time_since_upload(&self) -> i64 {
        seconds_since(self.st.last_upload)
    }
    /// Two statuses are equal when they are of the same torrent.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyTorrentStatus>().is_ok_and(|o| {
            let o = o.get();
            o.st.id.is_some() && o.st.id == self.st.id && Weak::ptr_eq(&o.ses, &self.ses)
        })
    }
    #[getter]
    fn priority(&self) -> i32 {
        self.st.priority
    }
}

fn datetime_or_none<'py>(py: Python<'py>, unix: i64) -> PyResult<Bound<'py, PyAny>> {
    if unix <= 0 {
        return Ok(py.None().into_bound(py));
    }
    py.import("datetime")?
        .getattr("datetime")?
        .call_method1("fromtimestamp", (unix,))
}

fn seconds_since(unix: i64) -> i64 {
    if unix <= 0 {
        return -1;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    (now - unix).max(0)
}

fn timedelta<'py>(py: Python<'py>, d: std::time::Duration) -> PyResult<Bound<'py, PyAny>> {
    py.import("datetime")?
        .getattr("timedelta")?
        .call1((0, d.as_secs(), d.subsec_micros()))
}

#[pyclass(module = "libtorrent", name = "peer_info", frozen)]
pub struct PyPeerInfo {
    p: PeerInfo,
}

impl PyPeerInfo {
    pub fn new(p: PeerInfo) -> Self {
        PyPeerInfo { p }
    }
}

macro_rules! peer_getters {
    ($($name:ident: $ty:ty),* $(,)?) => {
        #[pymethods]
        impl PyPeerInfo {
            $(
                #[getter]
                fn $name(&self) -> $ty {
                    self.p.$name.clone()
                }
            )*
        }
    };
}

peer_getters!(
    flags: u32,
    source: u32,
    connection_type: u32,
    pieces: Vec<bool>,
    num_pieces: i32,
    up_speed: i32,
    down_speed: i32,
    payload_up_speed: i32,
    payload_down_speed: i32,
    total_download: i64,
    total_upload: i64,
    download_queue_length: i32,
    upload_queue_length: i32,
    queue_bytes: i32,
    request_timeout: i32,
    num_hashfails: i32,
    failcount: i32,
    downloading_piece_index: i32,
    downloading_block_index: i32,
    downloading_progress: i32,
    downloading_total: i32,
    progress: f32,
    progress_ppm: i32,
    rtt: i32,
    send_buffer_size: i32,
    used_send_buffer: i32,
    receive_buffer_size: i32,
    used_receive_buffer: i32,
    download_rate_peak: i32,
    upload_rate_peak: i32,
    read_state: u8,
    write_state: u8,
    pending_disk_bytes: i32,
    send_quota: i32,
    receive_quota: i32,
    download_queue_time: i32,
    remote_dl_rate: i32,
);

#[pymethods]
impl PyPeerInfo {
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        endpoint_to_py(py, &self.p.ip)
    }
    fn local_endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        endpoint_to_py(py, &self.p.local_endpoint)
    }
    /// The client's name, as bytes (the engine's `PeerInfo::client`: the
    /// extension handshake's version, else what the peer id tells; empty
    /// until the handshake), as in libtorrent's bindings.
    #[getter]
    fn client<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.p.client)
    }
    #[getter]
    fn pid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(sha1_to_py(py, lt_core::Sha1Hash(self.p.pid))?.into_any())
    }
    fn remote_endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        endpoint_to_py(py, &self.p.ip)
    }
    /// Only I2P peers have a destination; we make no I2P connections.
    fn i2p_destination<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(crate::hashes::sha256_to_py(py, lt_core::Sha256Hash::default())?.into_any())
    }
    /// The BitTyrant reciprocation estimate: libtorrent 2 no longer has
    /// that choker and reports 0, as we do.
    #[getter]
    fn estimated_reciprocation_rate(&self) -> i32 {
        0
    }
    /// Legacy field, 0 in libtorrent 2 as here.
    #[getter]
    fn load_balancing(&self) -> i32 {
        0
    }
    #[getter]
    fn download_limit(&self) -> i32 {
        -1
    }
    #[getter]
    fn upload_limit(&self) -> i32 {
        -1
    }
    #[getter]
    fn last_request(&self) -> i64 {
        self.p.last_request.as_secs() as i64
    }
    #[getter]
    fn last_active(&self) -> i64 {
        self.p.last_active.as_secs() as i64
    }
}

/// Integer constants the reference exposes on the classes.
const HANDLE_CONSTS: &[(&str, i64)] = &[
    ("alert_when_available", 1),
    ("flush_disk_cache", 1),
    ("graceful_pause", 1),
    ("high_priority", 2),
    ("ignore_min_interval", 1),
    ("only_if_modified", 248),
    ("overwrite_existing", 1),
    ("piece_granularity", 1),
    ("query_accurate_download_counters", 2),
    ("query_distributed_copies", 1),
    ("query_last_seen_complete", 4),
    ("query_pieces", 8),
    ("query_renamed_files", 256),
    ("query_verified_pieces", 16),
    ("save_info_dict", 2),
];

const PEER_INFO_CONSTS: &[(&str, i64)] = &[
    ("interesting", 0x1),
    ("choked", 0x2),
    ("remote_interested", 0x4),
    ("remote_choked", 0x8),
    ("supports_extensions", 0x10),
    ("local_connection", 0x20),
    ("outgoing_connection", 0x20),
    ("handshake", 0x40),
    ("connecting", 0x80),
    ("queued", 0x100),
    ("on_parole", 0x200),
    ("seed", 0x400),
    ("optimistic_unchoke", 0x800),
    ("snubbed", 0x1000),
    ("upload_only", 0x2000),
    ("endgame_mode", 0x4000),
    ("holepunched", 0x8000),
    ("i2p_socket", 0x10000),
    ("rc4_encrypted", 0x80000),
    ("plaintext_encrypted", 0x100000),
    ("standard_bittorrent", 1),
    ("web_seed", 2),
    ("http_seed", 4),
    ("tracker", 1),
    ("dht", 2),
    ("pex", 4),
    ("lsd", 8),
    ("resume_data", 16),
    ("bw_idle", 1),
    ("bw_limit", 2),
    ("bw_torrent", 2),
    ("bw_global", 2),
    ("bw_network", 4),
    ("bw_disk", 16),
];

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTorrentHandle>()?;
    let t = m.py().get_type::<PyTorrentHandle>();
    for (k, v) in HANDLE_CONSTS {
        t.setattr(*k, *v)?;
    }
    m.add_class::<PyTorrentStatus>()?;
    crate::enums::attach_nested(&m.py().get_type::<PyTorrentStatus>(), "torrent_status")?;
    m.add_class::<PyPeerInfo>()?;
    let t = m.py().get_type::<PyPeerInfo>();
    for (k, v) in PEER_INFO_CONSTS {
        t.setattr(*k, *v)?;
    }
    Ok(())
}

/// A web seed URL argument: `str` or `bytes` (Boost.Python converts both
/// to `std::string`); anything else raises its `ArgumentError`.
fn seed_url_arg(py: Python<'_>, url: &Bound<'_, PyAny>, func: &str) -> PyResult<String> {
    if let Ok(s) = url.extract::<String>() {
        return Ok(s);
    }
    if let Ok(b) = url.cast::<pyo3::types::PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    let msg = format!(
        "Python argument types in\n    torrent_handle.{func}(torrent_handle, {})\ndid not match C++ signature:\n    {func}(libtorrent::torrent_handle {{lvalue}}, std::string)",
        url.get_type().name()?
    );
    let t = crate::bencode::argument_error_type(py)?;
    Err(PyErr::from_value(t.call1((msg,))?))
}

pub(crate) fn warn_deprecated(py: Python<'_>, msg: &std::ffi::CStr) -> PyResult<()> {
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
        msg,
        1,
    )
}
