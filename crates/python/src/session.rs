//! Python bindings: `session` and `session_params`.
//!
//! The Python object owns the only strong reference to the engine
//! (`Arc<Session>`); handles and alerts hold weak ones, so dropping the
//! last Python reference to a session shuts the engine down. Every call that
//! waits for the engine releases the GIL.

use std::sync::Arc;
use std::time::Duration;

use lt_session::torrent::AddTorrent;
use lt_session::{Engine, Session, TorrentId};
use lt_settings::SettingsPack;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::alerts::alert_to_py;
use crate::filters::{ip_filter_from_py, PyIpFilter};
use crate::handle::{PyTorrentHandle, PyTorrentStatus};
use crate::hashes::info_hash_from_py;
use crate::metainfo::{PyAddTorrentParams, PyTorrentInfo};
use crate::settings::{dict_to_pack, pack_to_dict, settings_to_dict};

/// `session_params`: the settings, IP filter and DHT state a session
/// starts with (what `read_session_params` / `write_session_params`
/// carry).
#[pyclass(module = "libtorrent", name = "session_params")]
pub struct PySessionParams {
    /// The settings given (a sparse pack).
    pub settings: SettingsPack,
    /// Shared with Python: `params.ip_filter.add_rule(...)` edits it in
    /// place, as on the reference.
    pub ip_filter: Py<PyIpFilter>,
    /// The legacy DHT settings block and the DHT state (not visible from
    /// Python until the DHT lands; kept for the state file's round trip).
    pub dht_settings: lt_resume::DhtSettings,
    pub dht_state: lt_resume::DhtState,
}

impl PySessionParams {
    /// Params holding `state`.
    pub fn from_state(py: Python<'_>, state: lt_resume::SessionParams) -> PyResult<Self> {
        Ok(PySessionParams {
            settings: state.settings,
            ip_filter: Py::new(
                py,
                PyIpFilter {
                    inner: state.ip_filter,
                },
            )?,
            dht_settings: state.dht_settings,
            dht_state: state.dht_state,
        })
    }

    /// A copy of the params as the state-file model.
    pub fn to_state(&self, py: Python<'_>) -> lt_resume::SessionParams {
        lt_resume::SessionParams {
            settings: self.settings.clone(),
            dht_settings: self.dht_settings,
            dht_state: self.dht_state.clone(),
            ip_filter: self.ip_filter.borrow(py).inner.clone(),
        }
    }
}

#[pymethods]
impl PySessionParams {
    #[new]
    #[pyo3(signature = (*args))]
    fn new(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let mut p = Self::from_state(py, lt_resume::SessionParams::default())?;
        let settings = match args.len() {
            0 => None,
            1 => args.get_item(0)?.cast_into::<PyDict>().ok(),
            _ => None,
        };
        if args.len() > 1 || (args.len() == 1 && settings.is_none()) {
            let mut names = vec!["session_params".to_owned()];
            for a in args.iter() {
                names.push(a.get_type().name()?.to_string());
            }
            let msg = format!(
                "Python argument types in\n    session_params.__init__({})\ndid not match C++ signature:\n    __init__(_object*)\n    __init__(_object*, libtorrent::settings_pack)\n    __init__(_object*)",
                names.join(", ")
            );
            let t = crate::bencode::argument_error_type(py)?;
            return Err(PyErr::from_value(t.call1((msg,))?));
        }
        if let Some(d) = settings {
            p.settings = dict_to_pack(&d)?;
        }
        Ok(p)
    }

    /// Only the settings that were set, as the reference reports them.
    #[getter]
    fn get_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        pack_to_dict(py, &self.settings)
    }

    #[setter]
    fn set_settings(&mut self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        self.settings = dict_to_pack(d)?;
        Ok(())
    }

    #[getter]
    fn get_dht_state(&self) -> crate::dht::PyDhtState {
        crate::dht::PyDhtState {
            inner: self.dht_state.clone(),
        }
    }

    #[setter]
    fn set_dht_state(&mut self, st: crate::dht::PyDhtState) {
        self.dht_state = st.inner;
    }

    #[getter]
    fn get_ip_filter(&self, py: Python<'_>) -> Py<PyIpFilter> {
        self.ip_filter.clone_ref(py)
    }

    /// Stores a copy of `f` (later changes to `f` do not apply).
    #[setter]
    fn set_ip_filter(&mut self, py: Python<'_>, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let inner = ip_filter_from_py(f)?;
        self.ip_filter = Py::new(py, PyIpFilter { inner })?;
        Ok(())
    }
}

#[pyclass(module = "libtorrent", name = "session", frozen)]
pub struct PySession {
    inner: Arc<Session>,
}

fn closed() -> PyErr {
    PyRuntimeError::new_err("the session has been shut down")
}

impl PySession {
    pub(crate) fn get_int(&self, py: Python<'_>, k: lt_settings::IntKey) -> PyResult<i32> {
        self.call(py, move |e| e.settings().get_int(k))
    }

    fn set_bool(&self, py: Python<'_>, k: lt_settings::BoolKey, v: bool) -> PyResult<()> {
        let mut pack = SettingsPack::new();
        pack.set_bool(k, v);
        self.call(py, move |e| e.apply_settings(&pack))
    }

    pub(crate) fn set_int(&self, py: Python<'_>, k: lt_settings::IntKey, v: i32) -> PyResult<()> {
        let mut pack = SettingsPack::new();
        pack.set_int(k, v);
        self.call(py, move |e| e.apply_settings(&pack))
    }

    pub(crate) fn call<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Engine) -> R + Send + 'static,
    {
        let ses = self.inner.clone();
        py.detach(move || ses.call(f)).map_err(|_| closed())
    }

    fn handle(&self, id: TorrentId) -> PyTorrentHandle {
        PyTorrentHandle::new(Arc::downgrade(&self.inner), id)
    }
}

/// The torrent's metainfo with the `url_seeds` of the params added (the
/// torrent's own dropped with `override_web_seeds`). `http_seeds` are
/// ignored, as libtorrent 2.x no longer supports BEP 17 seeds.
fn with_url_seeds(
    shared: &Arc<lt_metainfo::TorrentInfo>,
    atp: &PyAddTorrentParams,
) -> Arc<lt_metainfo::TorrentInfo> {
    if atp.url_seeds.is_empty() && atp.flags & lt_session::torrent::flags::OVERRIDE_WEB_SEEDS == 0 {
        // Unchanged: the torrent shares the caller's metadata.
        return Arc::clone(shared);
    }
    let mut ti = (**shared).clone();
    if atp.flags & lt_session::torrent::flags::OVERRIDE_WEB_SEEDS != 0 {
        ti.clear_web_seeds();
    }
    // as libtorrent, a multi-file torrent's seed is a directory
    let multi = ti.orig_files().num_files() > 1;
    for url in &atp.url_seeds {
        let mut url = url.clone();
        if multi && !url.ends_with('/') {
            url.push('/');
        }
        let url = &url;
        let known = ti
            .web_seeds()
            .iter()
            .any(|w| &w.url == url && w.kind == lt_metainfo::WebSeedKind::UrlSeed);
        if !known {
            ti.add_web_seed(lt_metainfo::WebSeed {
                url: url.clone(),
                auth: String::new(),
                extra_headers: Vec::new(),
                kind: lt_metainfo::WebSeedKind::UrlSeed,
            });
        }
    }
    Arc::new(ti)
}

/// Converts `add_torrent_params` (or the legacy dict) into the engine's form.
fn to_add_torrent(py: Python<'_>, params: &Bound<'_, PyAny>) -> PyResult<AddTorrent> {
    let atp: Py<PyAddTorrentParams> = if let Ok(d) = params.cast::<PyDict>() {
        let atp = Py::new(py, PyAddTorrentParams::default())?;
        let bound = atp.bind(py);
        for (k, v) in d.iter() {
            let key: String = k.extract()?;
            match key.as_str() {
                // Raw digests (as `parse_magnet_uri_dict` gives them): 20
                // bytes are a v1 info-hash, 32 bytes a v2 one.
                "info_hash" | "info_hashes" if v.cast::<pyo3::types::PyBytes>().is_ok() => {
                    let b: Vec<u8> = v.extract()?;
                    let ih = match b.len() {
                        20 => lt_core::InfoHash::from_v1(
                            lt_core::Sha1Hash::from_slice(&b).unwrap_or_default(),
                        ),
                        32 => lt_core::InfoHash::new(
                            lt_core::Sha1Hash::default(),
                            lt_core::Sha256Hash::from_slice(&b).unwrap_or_default(),
                        ),
                        _ => {
                            return Err(pyo3::exceptions::PyValueError::new_err(
                                "info_hash must be 20 or 32 bytes",
                            ))
                        }
                    };
                    bound.borrow_mut().info_hashes = ih;
                }
                "info_hash" => bound.setattr("info_hashes", v)?,
                "url" => {
                    // The deprecated magnet-link member.
                    let uri: String = v.extract()?;
                    if !uri.is_empty() {
                        crate::magnet::merge_magnet(&mut bound.borrow_mut(), &uri)?;
                    }
                }
                _ => bound.setattr(key.as_str(), v)?,
            }
        }
        atp
    } else {
        params
            .cast::<PyAddTorrentParams>()
            .map_err(|_| PyTypeError::new_err("expected add_torrent_params or dict"))?
            .clone()
            .unbind()
    };
    let atp = atp.bind(py).borrow();
    let (meta, mut trackers) = match atp.ti.as_ref() {
        Some(ti) => {
            let ti: PyRef<'_, PyTorrentInfo> = ti.bind(py).borrow();
            if !ti.inner.is_valid() {
                return Err(PyRuntimeError::new_err(
                    "invalid torrent_info [libtorrent:9]",
                ));
            }
            let trackers: Vec<(String, u8)> = ti
                .inner
                .trackers()
                .iter()
                .map(|t| (t.url.clone(), t.tier))
                .collect();
            (with_url_seeds(&ti.inner, &atp), trackers)
        }
        None => {
            // A magnet link: only the info-hash is known; the engine
            // fetches the metadata from peers.
            let mut ih = atp.info_hashes;
            if !ih.has_v1() && !ih.has_v2() && !atp.legacy_info_hash.is_zero() {
                ih = lt_core::InfoHash::from_v1(atp.legacy_info_hash);
            }
            if !ih.has_v1() && !ih.has_v2() {
                return Err(PyRuntimeError::new_err(
                    "missing info-hash from URI [libtorrent:22]",
                ));
            }
            let mut ti = lt_metainfo::TorrentInfo::from_info_hash(ih);
            if !atp.name.is_empty() {
                ti.files_mut().set_name(&atp.name);
            }
            (Arc::new(ti), Vec::new())
        }
    };
    for (i, url) in atp.trackers.iter().enumerate() {
        let tier = atp.tracker_tiers.get(i).copied().unwrap_or(0).clamp(0, 255) as u8;
        trackers.push((url.clone(), tier));
    }
    let mut peers = Vec::new();
    for (host, port) in &atp.peers {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            peers.push(std::net::SocketAddr::new(ip, *port));
        }
    }
    let prio = |v: &[i64]| v.iter().map(|&p| p.clamp(0, 7) as u8).collect::<Vec<u8>>();
    Ok(AddTorrent {
        meta,
        save_path: atp.save_path.clone(),
        flags: atp.flags,
        peers,
        file_priorities: prio(&atp.file_priorities),
        piece_priorities: prio(&atp.piece_priorities),
        upload_limit: atp.upload_limit.clamp(-1, i32::MAX as i64) as i32,
        download_limit: atp.download_limit.clamp(-1, i32::MAX as i64) as i32,
        max_connections: atp.max_connections.clamp(-1, i32::MAX as i64) as i32,
        max_uploads: atp.max_uploads.clamp(-1, i32::MAX as i64) as i32,
        trackers,
        storage_mode: if atp.storage_mode == 0 {
            lt_session::StorageMode::Allocate
        } else {
            lt_session::StorageMode::Sparse
        },
    })
}

#[pymethods]
impl PySession {
    /// `session()`, `session(dict, flags=1)`, `session(session_params)` or
    /// the legacy `session(fingerprint, flags=3, alert_mask=1)`.
    #[new]
    #[pyo3(signature = (*args, **kwargs))]
    fn new(
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut pack = SettingsPack::new();
        let mut dht_state = None;
        let mut filter = None;
        let first = match args.len() {
            0 => kwargs.and_then(|k| k.get_item("settings").ok().flatten()),
            _ => Some(args.get_item(0)?),
        };
        if let Some(a) = first {
            if let Ok(d) = a.cast::<PyDict>() {
                pack = dict_to_pack(d)?;
            } else if let Ok(p) = a.cast::<PySessionParams>() {
                pack = p.borrow().settings.clone();
                dht_state = Some(crate::dht::state_to_engine(&p.borrow().dht_state));
                filter = Some(p.borrow().ip_filter.borrow(py).inner.clone());
            } else if a.hasattr("major")? {
                // legacy fingerprint form: settings stay at their defaults
            } else {
                return Err(PyTypeError::new_err(
                    "session() takes a settings dict, session_params or fingerprint",
                ));
            }
        }
        let ses = py
            .detach(move || Session::new(&pack))
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start session: {e}")))?;
        if let Some(st) = dht_state.filter(|s| *s != lt_dht::DhtState::default()) {
            let _ = ses.call(move |e| e.set_dht_state(st));
        }
        if let Some(f) = filter {
            let _ = ses.post(move |e| e.set_ip_filter(f));
        }
        Ok(PySession {
            inner: Arc::new(ses),
        })
    }

    fn apply_settings(&self, py: Python<'_>, settings: &Bound<'_, PyDict>) -> PyResult<()> {
        let pack = dict_to_pack(settings)?;
        self.call(py, move |e| e.apply_settings(&pack))
    }

    fn get_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.call(py, |e| e.settings().clone())?;
        settings_to_dict(py, &s)
    }

    fn listen_port(&self, py: Python<'_>) -> PyResult<u16> {
        self.call(py, |e| e.listen_port())
    }

    fn is_listening(&self, py: Python<'_>) -> PyResult<bool> {
        self.call(py, |e| e.is_listening())
    }

    fn pause(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |e| e.pause())
    }

    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |e| e.resume())
    }

    fn is_paused(&self, py: Python<'_>) -> PyResult<bool> {
        self.call(py, |e| e.is_paused())
    }

    /// `add_torrent(add_torrent_params)`, `add_torrent(dict)` or the legacy
    /// `add_torrent(ti, save_path, resume_data=b'', storage_mode=sparse, paused=False)`.
    #[pyo3(signature = (params, save_path = None, resume_data = None, storage_mode = None, paused = false))]
    fn add_torrent(
        &self,
        py: Python<'_>,
        params: &Bound<'_, PyAny>,
        save_path: Option<String>,
        resume_data: Option<&Bound<'_, PyAny>>,
        storage_mode: Option<&Bound<'_, PyAny>>,
        paused: bool,
    ) -> PyResult<PyTorrentHandle> {
        let _ = resume_data;
        let (extra, rd) = crate::resume::add_extra(py, params)?;
        let at = if params.cast::<PyTorrentInfo>().is_ok() {
            let Some(save_path) = save_path else {
                return Err(PyTypeError::new_err(
                    "add_torrent(ti, save_path): save_path is required",
                ));
            };
            let d = PyDict::new(py);
            d.set_item("ti", params)?;
            d.set_item("save_path", save_path)?;
            let mut at = to_add_torrent(py, d.as_any())?;
            let f = lt_session::torrent::flags::PAUSED | lt_session::torrent::flags::AUTO_MANAGED;
            at.flags &= !f;
            if paused {
                at.flags |= lt_session::torrent::flags::PAUSED;
            }
            if let Some(m) = storage_mode {
                at.storage_mode = match crate::enums::enum_from_py(m, "storage_mode_t")? {
                    0 => lt_session::StorageMode::Allocate,
                    _ => lt_session::StorageMode::Sparse,
                };
            }
            at
        } else {
            to_add_torrent(py, params)?
        };
        let id = self
            .call(py, move |e| e.add_torrent_resumed(at, extra, rd))?
            .map_err(|err| {
                PyRuntimeError::new_err(format!("{} [libtorrent:{}]", err.message(), err.value))
            })?;
        Ok(self.handle(id))
    }

    /// Adds without waiting; the result comes as `add_torrent_alert`.
    fn async_add_torrent(&self, py: Python<'_>, params: &Bound<'_, PyAny>) -> PyResult<()> {
        let at = to_add_torrent(py, params)?;
        let (extra, rd) = crate::resume::add_extra(py, params)?;
        let ses = self.inner.clone();
        py.detach(move || {
            ses.post(move |e| {
                let _ = e.add_torrent_resumed(at, extra, rd);
            })
        })
        .map_err(|_| closed())
    }

    #[pyo3(signature = (handle, option = 0))]
    fn remove_torrent(&self, handle: &PyTorrentHandle, option: u32) -> PyResult<()> {
        let Some(id) = handle.id() else {
            return Err(crate::handle::invalid_handle());
        };
        let delete = option & 1 != 0;
        if self
            .inner
            .remove_torrent(id, delete)
            .map_err(|_| closed())?
        {
            Ok(())
        } else {
            Err(crate::handle::invalid_handle())
        }
    }

    /// Accepts a `sha1_hash` or an `info_hash_t`; returns an invalid handle
    /// when no torrent matches.
    fn find_torrent(
        &self,
        py: Python<'_>,
        info_hash: &Bound<'_, PyAny>,
    ) -> PyResult<PyTorrentHandle> {
        let ih = match info_hash_from_py(info_hash) {
            Ok(ih) => ih,
            Err(_) => lt_core::InfoHash::from_v1(crate::hashes::sha1_from_py(info_hash)?),
        };
        Ok(match self.call(py, move |e| e.find_torrent(&ih))? {
            Some(id) => self.handle(id),
            None => PyTorrentHandle::invalid(),
        })
    }

    fn get_torrents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let ids = self.call(py, |e| e.torrent_ids())?;
        PyList::new(py, ids.into_iter().map(|id| self.handle(id)))
    }

    #[pyo3(signature = (pred, flags = 0))]
    fn get_torrent_status<'py>(
        &self,
        py: Python<'py>,
        pred: &Bound<'py, PyAny>,
        flags: u32,
    ) -> PyResult<Bound<'py, PyList>> {
        let all = self.call(py, move |e| e.statuses(&e.torrent_ids(), flags))?;
        let out = PyList::empty(py);
        let weak = Arc::downgrade(&self.inner);
        for st in all {
            let obj = Bound::new(py, PyTorrentStatus::new(st, weak.clone()))?;
            if pred.call1((&obj,))?.is_truthy()? {
                out.append(obj)?;
            }
        }
        Ok(out)
    }

    #[pyo3(signature = (torrents, flags = 0))]
    fn refresh_torrent_status<'py>(
        &self,
        py: Python<'py>,
        torrents: &Bound<'py, PyList>,
        flags: u32,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut ids = Vec::new();
        let mut old = std::collections::HashMap::new();
        for t in torrents.iter() {
            let st = t.cast::<PyTorrentStatus>()?;
            if let Some(id) = st.get().st.id {
                ids.push(id);
                old.insert(id, st.clone().unbind());
            }
        }
        let all = self.call(py, move |e| e.statuses(&ids, flags))?;
        let weak = Arc::downgrade(&self.inner);
        PyList::new(
            py,
            all.into_iter().map(|mut st| {
                if let Some(prev) = st.id.and_then(|id| old.get(&id)) {
                    st.keep_unqueried(&prev.get().st);
                }
                PyTorrentStatus::new(st, weak.clone())
            }),
        )
    }

    /// Posts a `state_update_alert` with the status of every torrent.
    #[pyo3(signature = (flags = 0xffff_ffff))]
    fn post_torrent_updates(&self, py: Python<'_>, flags: u32) -> PyResult<()> {
        let _ = flags;
        self.call(py, |e| e.post_torrent_updates())
    }

    fn pop_alerts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let alerts = self.inner.pop_alerts();
        let weak = Arc::downgrade(&self.inner);
        let out = PyList::empty(py);
        for a in alerts {
            out.append(alert_to_py(py, a, weak.clone())?)?;
        }
        Ok(out)
    }

    /// Waits up to `max_wait` milliseconds; returns whether an alert is waiting.
    fn wait_for_alert(&self, py: Python<'_>, max_wait: i64) -> bool {
        let ses = self.inner.clone();
        let d = Duration::from_millis(max_wait.max(0) as u64);
        py.detach(move || ses.wait_for_alert(d))
    }

    fn set_alert_fd(&self, fd: i32) {
        self.inner
            .set_alert_fd(if fd < 0 { None } else { Some(fd) });
    }

    fn set_alert_mask(&self, py: Python<'_>, mask: u32) -> PyResult<()> {
        let mut pack = SettingsPack::new();
        pack.set_int(lt_settings::keys::ALERT_MASK, mask as i32);
        self.call(py, move |e| e.apply_settings(&pack))
    }

    fn set_alert_queue_size_limit(&self, py: Python<'_>, n: i32) -> PyResult<i32> {
        let mut pack = SettingsPack::new();
        pack.set_int(lt_settings::keys::ALERT_QUEUE_SIZE, n);
        self.call(py, move |e| {
            let old = e.settings().get_int(lt_settings::keys::ALERT_QUEUE_SIZE);
            e.apply_settings(&pack);
            old
        })
    }

    /// Deprecated form of `listen_interfaces`: listen on `interface`
    /// (default all IPv4 addresses) at port `min`.
    #[pyo3(signature = (min, max, interface = None, flags = 0))]
    fn listen_on(
        &self,
        py: Python<'_>,
        min: u16,
        max: u16,
        interface: Option<String>,
        flags: i32,
    ) -> PyResult<()> {
        let _ = (max, flags);
        let host = interface
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| "0.0.0.0".into());
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        let mut pack = SettingsPack::new();
        pack.set_str(
            lt_settings::keys::LISTEN_INTERFACES,
            format!("{host}:{min}"),
        );
        self.call(py, move |e| e.apply_settings(&pack))
    }

    fn num_connections(&self, py: Python<'_>) -> PyResult<usize> {
        self.call(py, |e| e.num_connections())
    }

    /// Deprecated: the global peer class's upload limit.
    fn upload_rate_limit(&self, py: Python<'_>) -> PyResult<i32> {
        crate::dht::deprecated(py, "upload_rate_limit() is deprecated")?;
        self.call(py, |e| e.peer_class_rate_limit(0, true))
    }

    /// Deprecated: the global peer class's download limit.
    fn download_rate_limit(&self, py: Python<'_>) -> PyResult<i32> {
        crate::dht::deprecated(py, "download_rate_limit() is deprecated")?;
        self.call(py, |e| e.peer_class_rate_limit(0, false))
    }

    /// Deprecated: sets the `upload_rate_limit` setting.
    fn set_upload_rate_limit(&self, py: Python<'_>, limit: i32) -> PyResult<()> {
        crate::dht::deprecated(py, "set_upload_rate_limit() is deprecated")?;
        self.set_int(py, lt_settings::keys::UPLOAD_RATE_LIMIT, limit)
    }

    /// Deprecated: sets the `download_rate_limit` setting.
    fn set_download_rate_limit(&self, py: Python<'_>, limit: i32) -> PyResult<()> {
        crate::dht::deprecated(py, "set_download_rate_limit() is deprecated")?;
        self.set_int(py, lt_settings::keys::DOWNLOAD_RATE_LIMIT, limit)
    }

    /// Deprecated: the local peer class's upload limit.
    fn local_upload_rate_limit(&self, py: Python<'_>) -> PyResult<i32> {
        crate::dht::deprecated(py, "local_upload_rate_limit() is deprecated")?;
        self.call(py, |e| e.peer_class_rate_limit(2, true))
    }

    /// Deprecated: the local peer class's download limit.
    fn local_download_rate_limit(&self, py: Python<'_>) -> PyResult<i32> {
        crate::dht::deprecated(py, "local_download_rate_limit() is deprecated")?;
        self.call(py, |e| e.peer_class_rate_limit(2, false))
    }

    /// Deprecated: sets the `local_upload_rate_limit` setting (the local
    /// peer class's upload limit).
    fn set_local_upload_rate_limit(&self, py: Python<'_>, limit: i32) -> PyResult<()> {
        crate::dht::deprecated(py, "set_local_upload_rate_limit() is deprecated")?;
        self.set_int(py, lt_settings::keys::LOCAL_UPLOAD_RATE_LIMIT, limit)
    }

    /// Deprecated: sets the `local_download_rate_limit` setting.
    fn set_local_download_rate_limit(&self, py: Python<'_>, limit: i32) -> PyResult<()> {
        crate::dht::deprecated(py, "set_local_download_rate_limit() is deprecated")?;
        self.set_int(py, lt_settings::keys::LOCAL_DOWNLOAD_RATE_LIMIT, limit)
    }

    /// Deprecated and without effect, as on the reference (libtorrent has
    /// no half-open connection limit any more).
    fn set_max_half_open_connections(
        &self,
        py: Python<'_>,
        limit: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        crate::peer_class::int_arg("set_max_half_open_connections", limit)?;
        crate::dht::deprecated(py, "set_max_half_open_connections() is deprecated")
    }

    /// A new peer class labelled `name`; returns its id.
    fn create_peer_class(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<u32> {
        let label = crate::peer_class::label_arg(name)?;
        self.call(py, move |e| e.create_peer_class(&label))
    }

    /// Deletes a peer class (it lives on while peers belong to it).
    fn delete_peer_class(&self, py: Python<'_>, cid: &Bound<'_, PyAny>) -> PyResult<()> {
        let id = crate::peer_class::class_id("delete_peer_class", cid)?;
        self.call(py, move |e| e.delete_peer_class(id))
    }

    /// A peer class's settings as a dict (all zero for no such class).
    fn get_peer_class<'py>(
        &self,
        py: Python<'py>,
        cid: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let id = crate::peer_class::class_id("get_peer_class", cid)?;
        let info = self.call(py, move |e| e.peer_class(id))?;
        crate::peer_class::info_to_dict(py, &info)
    }

    /// Sets a peer class's settings from a dict.
    fn set_peer_class(
        &self,
        py: Python<'_>,
        cid: &Bound<'_, PyAny>,
        info: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let id = crate::peer_class::class_id("set_peer_class", cid)?;
        let info = crate::peer_class::info_from_py(cid, info)?;
        self.call(py, move |e| e.set_peer_class(id, info))
    }

    /// The IP filter whose access values are peer-class masks, for new
    /// connections.
    fn set_peer_class_filter(&self, py: Python<'_>, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let f = crate::peer_class::class_filter_arg(f)?;
        self.call(py, move |e| e.set_peer_class_filter(f))
    }

    /// The socket-type filter applied after the peer-class IP filter.
    fn set_peer_class_type_filter(&self, py: Python<'_>, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let f = crate::peer_class::type_filter_arg(f)?;
        self.call(py, move |e| e.set_peer_class_type_filter(f))
    }

    fn max_connections(&self, py: Python<'_>) -> PyResult<i32> {
        self.get_int(py, lt_settings::keys::CONNECTIONS_LIMIT)
    }

    fn set_max_connections(&self, py: Python<'_>, n: i32) -> PyResult<()> {
        self.set_int(py, lt_settings::keys::CONNECTIONS_LIMIT, n)
    }

    fn set_max_uploads(&self, py: Python<'_>, n: i32) -> PyResult<()> {
        self.set_int(py, lt_settings::keys::UNCHOKE_SLOTS_LIMIT, n)
    }

    /// Posts a `session_stats_alert` with every metric.
    /// Peers whose address the filter blocks (access flag 1) are not
    /// connected, incoming or outgoing (`peer_blocked_alert`).
    fn set_ip_filter(&self, py: Python<'_>, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let f = ip_filter_from_py(f)?;
        self.call(py, move |e| e.set_ip_filter(f))
    }

    fn get_ip_filter<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIpFilter>> {
        let f = self.call(py, |e| e.ip_filter())?;
        crate::filters::ip_filter_to_py(py, f)
    }

    fn post_session_stats(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |e| e.post_session_stats())
    }

    // --- DHT and LSD (conversions in dht.rs) ---

    fn add_dht_node(&self, py: Python<'_>, node: &Bound<'_, PyAny>) -> PyResult<()> {
        let (host, port) = crate::dht::host_port_from_py(node)?;
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                let a = std::net::SocketAddr::new(ip, port);
                self.call(py, move |e| e.dht_add_node(a))
            }
            // a host name: resolved like a router, then pinged
            Err(_) => self.call(py, move |e| e.dht_add_router_host(host, port)),
        }
    }

    fn add_dht_router(&self, py: Python<'_>, router: String, port: u16) -> PyResult<()> {
        self.call(py, move |e| e.dht_add_router_host(router, port))
    }

    fn is_dht_running(&self, py: Python<'_>) -> PyResult<bool> {
        self.call(py, |e| e.is_dht_running())
    }

    /// Deprecated: sets `enable_dht`.
    #[pyo3(signature = (state = None))]
    fn start_dht(&self, py: Python<'_>, state: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let _ = state;
        crate::dht::deprecated(py, "start_dht is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_DHT, true)
    }

    /// Deprecated: clears `enable_dht`.
    fn stop_dht(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "stop_dht is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_DHT, false)
    }

    /// Deprecated: sets `enable_lsd`.
    fn start_lsd(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "start_lsd is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_LSD, true)
    }

    /// Deprecated: clears `enable_lsd`.
    fn stop_lsd(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "stop_lsd is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_LSD, false)
    }

    /// Deprecated: sets `enable_upnp`.
    fn start_upnp(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "start_upnp() is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_UPNP, true)
    }

    /// Deprecated: clears `enable_upnp`.
    fn stop_upnp(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "stop_upnp() is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_UPNP, false)
    }

    /// Deprecated: sets `enable_natpmp`.
    fn start_natpmp(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "start_natpmp() is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_NATPMP, true)
    }

    /// Deprecated: clears `enable_natpmp`.
    fn stop_natpmp(&self, py: Python<'_>) -> PyResult<()> {
        crate::dht::deprecated(py, "stop_natpmp() is deprecated")?;
        self.set_bool(py, lt_settings::keys::ENABLE_NATPMP, false)
    }

    /// Maps `external_port` on the gateways to `local_port` here; returns
    /// the mapping's index in each port mapper (UPnP's, then NAT-PMP's,
    /// for each listen endpoint).
    fn add_port_mapping(
        &self,
        py: Python<'_>,
        protocol: &Bound<'_, PyAny>,
        external_port: &Bound<'_, PyAny>,
        local_port: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<i32>> {
        let proto_ok = crate::enums::enum_type(py, "portmap_protocol")
            .and_then(|t| protocol.is_instance(&t))
            .unwrap_or(false);
        let ext = external_port.extract::<i32>();
        let loc = local_port.extract::<i32>();
        let (true, Ok(ext), Ok(loc)) = (proto_ok, ext, loc) else {
            let mut names = Vec::new();
            for a in [protocol, external_port, local_port] {
                names.push(a.get_type().name()?.to_string());
            }
            let msg = format!(
                "Python argument types in\n    session.add_port_mapping(session, {})\ndid not match C++ signature:\n    add_port_mapping(libtorrent::session {{lvalue}}, libtorrent::portmap_protocol, int, int)",
                names.join(", ")
            );
            let t = crate::bencode::argument_error_type(py)?;
            return Err(PyErr::from_value(t.call1((msg,))?));
        };
        let udp = protocol.extract::<i64>()? == 2;
        // libtorrent keeps the low 16 bits of the port numbers
        let (ext, loc) = (ext as u16, loc as u16);
        self.call(py, move |e| e.add_port_mapping(udp, ext, loc))
    }

    /// Removes mapping `handle` from every port mapper.
    fn delete_port_mapping(&self, py: Python<'_>, handle: i32) -> PyResult<()> {
        self.call(py, move |e| e.delete_port_mapping(handle))
    }

    #[pyo3(signature = (info_hash, port = 0, flags = 0))]
    fn dht_announce(
        &self,
        py: Python<'_>,
        info_hash: &Bound<'_, PyAny>,
        port: u16,
        flags: u32,
    ) -> PyResult<()> {
        let ih = crate::hashes::sha1_from_py(info_hash)?;
        self.call(py, move |e| e.dht_announce(ih, port, flags))
    }

    fn dht_get_peers(&self, py: Python<'_>, info_hash: &Bound<'_, PyAny>) -> PyResult<()> {
        let ih = crate::hashes::sha1_from_py(info_hash)?;
        self.call(py, move |e| e.dht_get_peers(ih))
    }

    /// Stores `data` (any value `bencode` accepts); returns its target.
    fn dht_put_immutable_item<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, crate::hashes::PySha1Hash>> {
        let enc = crate::metainfo::native(py)?
            .getattr("bencode")?
            .call1((data,))?;
        let value = enc.cast::<pyo3::types::PyBytes>()?.as_bytes().to_vec();
        let target = self.call(py, move |e| e.dht_put_immutable(value))?;
        match target {
            Some(t) => crate::hashes::sha1_to_py(py, t),
            None => Err(pyo3::exceptions::PyValueError::new_err(
                "DHT items must be at most 1000 bytes of bencoded data",
            )),
        }
    }

    fn dht_get_immutable_item(&self, py: Python<'_>, target: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = crate::hashes::sha1_from_py(target)?;
        self.call(py, move |e| e.dht_get_immutable(t))
    }

    /// `dht_put_mutable_item(private_key, public_key, data, salt)`: keys in
    /// libtorrent's format (64-byte expanded secret, 32-byte public key);
    /// `data` is stored as a bencoded string.
    fn dht_put_mutable_item(
        &self,
        py: Python<'_>,
        private_key: &Bound<'_, PyAny>,
        public_key: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        salt: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let sk = crate::dht::bytes_arg(private_key)?;
        let pk = crate::dht::bytes_arg(public_key)?;
        let data = crate::dht::bytes_arg(data)?;
        let salt = crate::dht::bytes_arg(salt)?;
        let sk: [u8; 64] = sk.as_slice().try_into().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("private key has wrong length, should be 64")
        })?;
        let pk: [u8; 32] = pk.as_slice().try_into().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("public key has wrong length, should be 32")
        })?;
        let keys = lt_dht::KeyPair::from_libtorrent(&sk, &pk).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("public key does not match the private key")
        })?;
        let mut value = format!("{}:", data.len()).into_bytes();
        value.extend_from_slice(&data);
        self.call(py, move |e| e.dht_put_mutable(keys, value, salt))
    }

    fn dht_get_mutable_item(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        salt: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let k = crate::dht::bytes_arg(key)?;
        let salt = crate::dht::bytes_arg(salt)?;
        let k: [u8; 32] = k.as_slice().try_into().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("public key has wrong length, should be 32")
        })?;
        self.call(py, move |e| e.dht_get_mutable(k, salt))
    }

    fn dht_sample_infohashes(
        &self,
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        target: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let ep = crate::dht::endpoint_from_py(endpoint)?;
        let t = crate::hashes::sha1_from_py(target)?;
        self.call(py, move |e| e.dht_sample_infohashes(ep, t))
    }

    fn dht_live_nodes(&self, py: Python<'_>, nid: &Bound<'_, PyAny>) -> PyResult<()> {
        let id = crate::hashes::sha1_from_py(nid)?;
        self.call(py, move |e| e.dht_live_nodes(id))
    }

    fn post_dht_stats(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |e| e.post_dht_stats())
    }

    /// Deprecated: the DHT state as a decoded dictionary.
    fn dht_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::dht::deprecated(py, "dht_state() is deprecated")?;
        let st = self.call(py, |e| e.dht_state())?;
        crate::metainfo::native(py)?
            .getattr("bdecode")?
            .call1((pyo3::types::PyBytes::new(py, &st.encode()),))
    }

    fn get_dht_settings(&self, py: Python<'_>) -> PyResult<crate::settings::PyDhtSettings> {
        let s = self.call(py, |e| e.settings().clone())?;
        Ok(crate::dht::dht_settings_from(&s))
    }

    fn set_dht_settings(&self, py: Python<'_>, s: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::dht::deprecated(py, "set_dht_settings is deprecated")?;
        let s = s
            .cast::<crate::settings::PyDhtSettings>()
            .map_err(|_| PyTypeError::new_err("expected dht_settings"))?;
        let pack = crate::dht::dht_settings_pack(&s.borrow());
        self.call(py, move |e| e.apply_settings(&pack))
    }

    /// The session's state: the settings that differ from the defaults,
    /// the DHT settings and the DHT state (the parts `flags` selects).
    #[pyo3(signature = (flags = 0xffff_ffff))]
    fn session_state(&self, py: Python<'_>, flags: u32) -> PyResult<PySessionParams> {
        use lt_resume::save_state_flags as f;
        let (settings, dht) = self.call(py, |e| (e.settings().clone(), e.dht_state()))?;
        let mut state = lt_resume::SessionParams::default();
        if flags & f::SAVE_SETTINGS != 0 {
            for (idx, v) in settings.iter() {
                let default = lt_settings::default_value(idx);
                // an unset string (no default) reads as ""
                let unset =
                    default.is_none() && matches!(&v, lt_settings::Value::Str(s) if s.is_empty());
                if !unset && default.as_ref() != Some(&v) {
                    let _ = state.settings.set(idx, v);
                }
            }
        }
        let ds = crate::dht::dht_settings_from(&settings);
        state.dht_settings = crate::dht::dht_settings_resume(
            &ds,
            settings.get_int(lt_settings::keys::DHT_MAX_PEERS),
        );
        if flags & f::SAVE_DHT_STATE != 0 {
            state.dht_state = crate::dht::state_from_engine(&dht);
        }
        PySessionParams::from_state(py, state)
    }

    /// Deprecated: the session state as a decoded dictionary (`settings`:
    /// the settings that differ from the defaults, `dht`: the DHT
    /// settings, `dht state`: the node ids and nodes of a running DHT),
    /// the parts `flags` selects.
    #[pyo3(signature = (flags = 0xffff_ffff))]
    fn save_state<'py>(&self, py: Python<'py>, flags: u32) -> PyResult<Bound<'py, PyAny>> {
        use lt_resume::save_state_flags as f;
        let mut parts = flags & (f::SAVE_SETTINGS | f::SAVE_DHT_SETTINGS | f::SAVE_DHT_STATE);
        let state = self.session_state(py, parts)?.to_state(py);
        if state.dht_state == lt_resume::DhtState::default() {
            // no DHT running: the reference leaves the key out
            parts &= !f::SAVE_DHT_STATE;
        }
        let buf = state.write(parts);
        crate::metainfo::native(py)?
            .getattr("bdecode")?
            .call1((pyo3::types::PyBytes::new(py, &buf),))
    }

    /// Deprecated: restores what `save_state` returned. The `settings`
    /// dictionary is applied when `flags` has `save_settings` or
    /// `save_dht_settings`, the `dht` block (after it) with
    /// `save_dht_settings`, the DHT node ids and nodes with
    /// `save_dht_state`. Anything that is not such a dictionary is
    /// ignored, as the reference does.
    #[pyo3(signature = (entry, flags = 0xffff_ffff))]
    fn load_state(&self, py: Python<'_>, entry: &Bound<'_, PyAny>, flags: u32) -> PyResult<()> {
        use lt_resume::save_state_flags as f;
        if entry.cast::<PyDict>().is_err() {
            return Ok(());
        }
        let Ok(buf) = crate::metainfo::native(py)?
            .getattr("bencode")?
            .call1((entry,))
            .and_then(|b| Ok(b.cast::<pyo3::types::PyBytes>()?.as_bytes().to_vec()))
        else {
            return Ok(());
        };
        let read = |which: u32| lt_resume::SessionParams::read(&buf, which).ok();
        let mut packs = Vec::new();
        if flags & (f::SAVE_SETTINGS | f::SAVE_DHT_SETTINGS) != 0 {
            if let Some(p) = read(f::SAVE_SETTINGS) {
                packs.push(p.settings);
            }
        }
        if flags & f::SAVE_DHT_SETTINGS != 0 {
            if let Some(p) = read(f::SAVE_DHT_SETTINGS) {
                packs.push(p.settings);
            }
        }
        let dht = if flags & f::SAVE_DHT_STATE != 0 {
            read(f::SAVE_DHT_STATE)
                .map(|p| crate::dht::state_to_engine(&p.dht_state))
                .filter(|s| *s != lt_dht::DhtState::default())
        } else {
            None
        };
        self.call(py, move |e| {
            for p in &packs {
                e.apply_settings(p);
            }
            if let Some(st) = dht {
                e.set_dht_state(st);
            }
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySession>()?;
    let t = m.py().get_type::<PySession>();
    t.setattr("delete_files", 1)?;
    t.setattr("delete_partfile", 2)?;
    t.setattr("global_peer_class_id", 0)?;
    t.setattr("tcp_peer_class_id", 1)?;
    t.setattr("local_peer_class_id", 2)?;
    t.setattr("reopen_map_ports", 1)?;
    crate::enums::attach_members(&m.py().get_type::<PySession>(), "portmap_protocol")?;
    m.add_class::<PySessionParams>()?;
    Ok(())
}
