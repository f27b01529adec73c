//! Python bindings: alerts.
//!
//! Every alert class mirrors the reference's hierarchy (`alert` →
//! `torrent_alert` → `peer_alert` / `tracker_alert` → leaf classes). Each
//! level holds the same shared [`AlertData`]; getters read the engine's
//! `Alert` value. Only the alert types the engine produces have classes.

use std::sync::{Arc, Weak};

use lt_session::alert::{Alert, AlertKind, BlockEvent, PeerRef, TorrentRef};
use lt_session::Session;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use pyo3::PyClassInitializer;

use crate::enums::{attach_nested, enum_to_py};

use crate::handle::PyTorrentHandle;
use crate::hashes::{info_hash_to_py, sha1_to_py};

pub struct AlertData {
    pub alert: Alert,
    pub ses: Weak<Session>,
}

/// An engine error code as a Python `error_code`.
pub fn error_code_to_py<'py>(
    py: Python<'py>,
    e: &lt_core::error::ErrorCode,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(crate::errors::error_code_to_py(py, *e)?.into_any())
}

/// The `error` attribute: the alert's error code (success when it has none).
fn alert_error<'py>(py: Python<'py>, d: &AlertData) -> PyResult<Bound<'py, PyAny>> {
    error_code_to_py(py, &d.alert.error().copied().unwrap_or_default())
}

fn endpoint_tuple<'py>(
    py: Python<'py>,
    ep: &std::net::SocketAddr,
) -> PyResult<Bound<'py, PyTuple>> {
    (ep.ip().to_string(), ep.port()).into_pyobject(py)
}

/// Base class of every alert.
#[pyclass(module = "libtorrent", name = "alert", subclass, frozen)]
pub struct PyAlert(pub Arc<AlertData>);

#[pymethods]
impl PyAlert {
    fn what(&self) -> &'static str {
        self.0.alert.what()
    }
    fn message(&self) -> String {
        self.0.alert.message()
    }
    fn category(&self) -> u32 {
        self.0.alert.category()
    }
    fn timestamp<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let secs = self
            .0
            .alert
            .timestamp
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        py.import("datetime")?
            .getattr("datetime")?
            .call_method1("fromtimestamp", (secs,))
    }
    fn __str__(&self) -> String {
        self.0.alert.message()
    }
    fn __repr__(&self) -> String {
        format!(
            "<libtorrent.{}_alert: {}>",
            self.0.alert.what(),
            self.0.alert.message()
        )
    }
}

fn torrent_of(d: &AlertData) -> Option<&TorrentRef> {
    d.alert.torrent()
}

fn peer_of(d: &AlertData) -> Option<&PeerRef> {
    use AlertKind::*;
    match &d.alert.kind {
        PeerConnect { peer, .. }
        | PeerDisconnected { peer, .. }
        | PeerBan { peer, .. }
        | PeerError { peer, .. }
        | PeerBlocked { peer, .. } => Some(peer),
        Block { peer, .. }
        | PeerSnubbed { peer, .. }
        | PeerUnsnubbed { peer, .. }
        | InvalidRequest { peer, .. } => Some(peer),
        Extra(x) => x.peer(),
        _ => None,
    }
}

/// `(url, local endpoint, version)` of a tracker alert.
fn tracker_of(
    d: &AlertData,
) -> Option<(&str, Option<std::net::SocketAddr>, lt_core::ProtocolVersion)> {
    use AlertKind::*;
    match &d.alert.kind {
        TrackerAnnounce {
            url,
            local_endpoint,
            version,
            ..
        }
        | TrackerReply {
            url,
            local_endpoint,
            version,
            ..
        }
        | TrackerWarning {
            url,
            local_endpoint,
            version,
            ..
        }
        | TrackerError {
            url,
            local_endpoint,
            version,
            ..
        }
        | ScrapeReply {
            url,
            local_endpoint,
            version,
            ..
        }
        | ScrapeFailed {
            url,
            local_endpoint,
            version,
            ..
        } => Some((url.as_str(), *local_endpoint, *version)),
        _ => None,
    }
}

#[pyclass(module = "libtorrent", name = "torrent_alert", extends = PyAlert, subclass, frozen)]
pub struct TorrentAlert(Arc<AlertData>);

#[pymethods]
impl TorrentAlert {
    #[getter]
    fn handle(&self) -> PyTorrentHandle {
        match torrent_of(&self.0) {
            Some(t) => PyTorrentHandle::new(self.0.ses.clone(), t.id),
            None => PyTorrentHandle::invalid(),
        }
    }
    #[getter]
    fn torrent_name(&self) -> String {
        torrent_of(&self.0)
            .map(|t| t.name.clone())
            .unwrap_or_default()
    }
}

#[pyclass(module = "libtorrent", name = "peer_alert", extends = TorrentAlert, subclass, frozen)]
pub struct PeerAlert(Arc<AlertData>);

#[pymethods]
impl PeerAlert {
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match peer_of(&self.0) {
            Some(p) => Ok(endpoint_tuple(py, &p.endpoint)?.into_any()),
            None => Ok(py.None().into_bound(py)),
        }
    }
    #[getter]
    fn ep<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.endpoint(py)
    }
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.endpoint(py)
    }
    #[getter]
    fn pid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pid = peer_of(&self.0).map(|p| p.pid).unwrap_or([0; 20]);
        Ok(sha1_to_py(py, lt_core::Sha1Hash(pid))?.into_any())
    }
}

#[pyclass(module = "libtorrent", name = "tracker_alert", extends = TorrentAlert, subclass, frozen)]
pub struct TrackerAlert(Arc<AlertData>);

#[pymethods]
impl TrackerAlert {
    #[getter]
    fn url(&self) -> String {
        tracker_of(&self.0)
            .map(|t| t.0.to_owned())
            .unwrap_or_default()
    }
    fn tracker_url(&self) -> String {
        self.url()
    }
    #[getter]
    fn local_endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ep = tracker_of(&self.0)
            .and_then(|t| t.1)
            .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        Ok(endpoint_tuple(py, &ep)?.into_any())
    }
    #[getter]
    fn version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = tracker_of(&self.0).map_or(0, |t| t.2 as i64);
        enum_to_py(py, "protocol_version", v)
    }
}

/// Declares a leaf alert class.
macro_rules! leaf {
    ($rs:ident, $name:literal, $base:ty) => {
        #[pyclass(module = "libtorrent", name = $name, extends = $base, frozen)]
        #[allow(dead_code)] // classes without own attributes never read it
        pub struct $rs(Arc<AlertData>);
    };
}

leaf!(ListenSucceededAlert, "listen_succeeded_alert", PyAlert);
leaf!(ListenFailedAlert, "listen_failed_alert", PyAlert);
leaf!(AddTorrentAlert, "add_torrent_alert", TorrentAlert);
leaf!(TorrentConflictAlert, "torrent_conflict_alert", TorrentAlert);

#[pymethods]
impl TorrentConflictAlert {
    /// The torrent added by the hybrid torrent's other info-hash.
    #[getter]
    fn conflicting_torrent(&self) -> PyTorrentHandle {
        match &self.0.alert.kind {
            AlertKind::TorrentConflict { conflicting, .. } => {
                PyTorrentHandle::new(self.0.ses.clone(), conflicting.id)
            }
            _ => PyTorrentHandle::invalid(),
        }
    }
    /// The metadata that revealed the conflict.
    #[getter]
    fn metadata(&self) -> Option<crate::metainfo::PyTorrentInfo> {
        match &self.0.alert.kind {
            AlertKind::TorrentConflict { metadata, .. } => Some(crate::metainfo::PyTorrentInfo {
                inner: metadata.clone(),
            }),
            _ => None,
        }
    }
}
leaf!(TorrentRemovedAlert, "torrent_removed_alert", TorrentAlert);
leaf!(TorrentDeletedAlert, "torrent_deleted_alert", TorrentAlert);
leaf!(
    TorrentDeleteFailedAlert,
    "torrent_delete_failed_alert",
    TorrentAlert
);
leaf!(StateChangedAlert, "state_changed_alert", TorrentAlert);
leaf!(StateUpdateAlert, "state_update_alert", PyAlert);
leaf!(TorrentCheckedAlert, "torrent_checked_alert", TorrentAlert);
leaf!(
    MetadataReceivedAlert,
    "metadata_received_alert",
    TorrentAlert
);
leaf!(MetadataFailedAlert, "metadata_failed_alert", TorrentAlert);
leaf!(TorrentFinishedAlert, "torrent_finished_alert", TorrentAlert);
leaf!(TorrentPausedAlert, "torrent_paused_alert", TorrentAlert);
leaf!(TorrentResumedAlert, "torrent_resumed_alert", TorrentAlert);
leaf!(TorrentErrorAlert, "torrent_error_alert", TorrentAlert);
leaf!(
    TorrentNeedCertAlert,
    "torrent_need_cert_alert",
    TorrentAlert
);
leaf!(PieceFinishedAlert, "piece_finished_alert", TorrentAlert);
leaf!(HashFailedAlert, "hash_failed_alert", TorrentAlert);
leaf!(UrlSeedAlert, "url_seed_alert", TorrentAlert);
leaf!(FileCompletedAlert, "file_completed_alert", TorrentAlert);
leaf!(SaveResumeDataAlert, "save_resume_data_alert", TorrentAlert);
leaf!(
    SaveResumeDataFailedAlert,
    "save_resume_data_failed_alert",
    TorrentAlert
);
leaf!(
    FastresumeRejectedAlert,
    "fastresume_rejected_alert",
    TorrentAlert
);
leaf!(StorageMovedAlert, "storage_moved_alert", TorrentAlert);
leaf!(
    StorageMovedFailedAlert,
    "storage_moved_failed_alert",
    TorrentAlert
);
leaf!(FileRenamedAlert, "file_renamed_alert", TorrentAlert);
leaf!(PeerBlockedAlert, "peer_blocked_alert", PeerAlert);
leaf!(
    FileRenameFailedAlert,
    "file_rename_failed_alert",
    TorrentAlert
);
leaf!(FileErrorAlert, "file_error_alert", TorrentAlert);
leaf!(ReadPieceAlert, "read_piece_alert", TorrentAlert);
leaf!(PeerConnectAlert, "peer_connect_alert", PeerAlert);
leaf!(PeerDisconnectedAlert, "peer_disconnected_alert", PeerAlert);
leaf!(PeerBanAlert, "peer_ban_alert", PeerAlert);
leaf!(PeerErrorAlert, "peer_error_alert", PeerAlert);
leaf!(
    IncomingConnectionAlert,
    "incoming_connection_alert",
    PyAlert
);
leaf!(TrackerAnnounceAlert, "tracker_announce_alert", TrackerAlert);
leaf!(TrackerReplyAlert, "tracker_reply_alert", TrackerAlert);
leaf!(TrackerWarningAlert, "tracker_warning_alert", TrackerAlert);
leaf!(TrackerErrorAlert, "tracker_error_alert", TrackerAlert);
leaf!(ScrapeReplyAlert, "scrape_reply_alert", TrackerAlert);
leaf!(ScrapeFailedAlert, "scrape_failed_alert", TrackerAlert);
leaf!(
    SessionStatsHeaderAlert,
    "session_stats_header_alert",
    PyAlert
);
leaf!(SessionStatsAlert, "session_stats_alert", PyAlert);
leaf!(AlertsDroppedAlert, "alerts_dropped_alert", PyAlert);
leaf!(Socks5Alert, "socks5_alert", PyAlert);
leaf!(PerformanceAlert, "performance_alert", TorrentAlert);
leaf!(ExternalIpAlert, "external_ip_alert", PyAlert);
leaf!(LogAlert, "log_alert", PyAlert);
leaf!(TorrentAddedAlert, "torrent_added_alert", TorrentAlert);
leaf!(FileProgressAlert, "file_progress_alert", TorrentAlert);
leaf!(PeerInfoAlert, "peer_info_alert", TorrentAlert);
leaf!(
    PieceAvailabilityAlert,
    "piece_availability_alert",
    TorrentAlert
);
leaf!(PieceInfoAlert, "piece_info_alert", TorrentAlert);
leaf!(TrackerListAlert, "tracker_list_alert", TorrentAlert);
leaf!(BlockDownloadingAlert, "block_downloading_alert", PeerAlert);
leaf!(BlockFinishedAlert, "block_finished_alert", PeerAlert);
leaf!(BlockTimeoutAlert, "block_timeout_alert", PeerAlert);
leaf!(BlockUploadedAlert, "block_uploaded_alert", PeerAlert);
leaf!(RequestDroppedAlert, "request_dropped_alert", PeerAlert);
leaf!(UnwantedBlockAlert, "unwanted_block_alert", PeerAlert);
leaf!(PeerSnubbedAlert, "peer_snubbed_alert", PeerAlert);
leaf!(PeerUnsnubbedAlert, "peer_unsnubbed_alert", PeerAlert);
leaf!(InvalidRequestAlert, "invalid_request_alert", PeerAlert);
leaf!(CacheFlushedAlert, "cache_flushed_alert", TorrentAlert);
leaf!(FilePrioAlert, "file_prio_alert", TorrentAlert);
leaf!(StatsAlert, "stats_alert", TorrentAlert);

/// Reads a field of this alert's kind; `$default` when the kind differs
/// (cannot happen: each class is only built for its own kind).
macro_rules! field {
    ($self:ident, $pat:pat => $val:expr, $default:expr) => {
        match &$self.0.alert.kind {
            $pat => $val,
            #[allow(unreachable_patterns)]
            _ => $default,
        }
    };
}

#[pymethods]
impl ListenSucceededAlert {
    #[getter]
    fn address(&self) -> String {
        field!(self, AlertKind::ListenSucceeded { endpoint, .. } => endpoint.ip().to_string(), String::new())
    }
    #[getter]
    fn port(&self) -> u16 {
        field!(self, AlertKind::ListenSucceeded { endpoint, .. } => endpoint.port(), 0)
    }
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ep = field!(self, AlertKind::ListenSucceeded { endpoint, .. } => *endpoint, ([0, 0, 0, 0], 0).into());
        endpoint_tuple(py, &ep)
    }
    #[getter]
    fn socket_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t =
            field!(self, AlertKind::ListenSucceeded { socket_type, .. } => *socket_type as i64, 0);
        enum_to_py(py, "socket_type_t", t)
    }
    #[getter]
    fn sock_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t =
            field!(self, AlertKind::ListenSucceeded { socket_type, .. } => *socket_type as i64, 0);
        enum_to_py(
            py,
            "listen_succeeded_alert_socket_type_t",
            listen_sock_type(t),
        )
    }
}

/// The legacy `listen_*_alert.socket_type_t` numbering: tcp 0, tcp_ssl 1,
/// udp 2, i2p 3, socks5 4, utp_ssl 5.
fn listen_sock_type(socket_type: i64) -> i64 {
    match socket_type {
        0 => 0,
        5 => 1,
        3 => 2,
        4 => 3,
        1 => 4,
        8 => 5,
        _ => 0,
    }
}

#[pymethods]
impl ListenFailedAlert {
    #[getter]
    fn address(&self) -> String {
        field!(self, AlertKind::ListenFailed { endpoint, .. } => endpoint.ip().to_string(), String::new())
    }
    #[getter]
    fn port(&self) -> u16 {
        field!(self, AlertKind::ListenFailed { endpoint, .. } => endpoint.port(), 0)
    }
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ep = field!(self, AlertKind::ListenFailed { endpoint, .. } => *endpoint, ([0, 0, 0, 0], 0).into());
        endpoint_tuple(py, &ep)
    }
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    fn listen_interface(&self) -> String {
        field!(self, AlertKind::ListenFailed { interface, .. } => interface.clone(), String::new())
    }
    #[getter]
    fn op<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let op = field!(self, AlertKind::ListenFailed { op, .. } => *op as i64, 0);
        enum_to_py(py, "operation_t", op)
    }
    #[getter]
    fn operation(&self) -> i64 {
        field!(self, AlertKind::ListenFailed { op, .. } => *op as i64, 0)
    }
    #[getter]
    fn socket_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = field!(self, AlertKind::ListenFailed { socket_type, .. } => *socket_type as i64, 0);
        enum_to_py(py, "socket_type_t", t)
    }
    #[getter]
    fn sock_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = field!(self, AlertKind::ListenFailed { socket_type, .. } => *socket_type as i64, 0);
        enum_to_py(py, "listen_failed_alert_socket_type_t", listen_sock_type(t))
    }
}

#[pymethods]
impl AddTorrentAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    /// The parameters the torrent was added with.
    #[getter]
    fn params(&self, py: Python<'_>) -> PyResult<crate::metainfo::PyAddTorrentParams> {
        let tref = torrent_of(&self.0).cloned();
        let mut rd = match &self.0.alert.kind {
            AlertKind::AddTorrent {
                params: Some(p), ..
            } => p.as_ref().clone(),
            _ => lt_resume::ResumeData {
                info_hashes: tref.as_ref().map(|t| t.info_hashes).unwrap_or_default(),
                name: tref.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                ..Default::default()
            },
        };
        // The metadata the torrent has now (none once it is removed).
        if let (Some(t), Some(ses)) = (tref, self.0.ses.upgrade()) {
            let id = t.id;
            rd.ti = py
                .detach(move || ses.call(move |e| e.torrent_meta(id)))
                .ok()
                .flatten()
                .map(|m| (*m).clone());
        }
        crate::resume::resume_to_atp(py, rd)
    }
}

fn resume_params(d: &AlertData) -> Option<&lt_resume::ResumeData> {
    match &d.alert.kind {
        AlertKind::SaveResumeData { params, .. } => Some(params),
        _ => None,
    }
}

#[pymethods]
impl SaveResumeDataAlert {
    #[getter]
    fn params(&self, py: Python<'_>) -> PyResult<crate::metainfo::PyAddTorrentParams> {
        let rd = resume_params(&self.0).cloned().unwrap_or_default();
        crate::resume::resume_to_atp(py, rd)
    }
    /// The resume data as a bencoded-entry dict.
    #[getter]
    fn resume_data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rd = resume_params(&self.0).cloned().unwrap_or_default();
        crate::resume::resume_entry(py, &rd)
    }
}

#[pymethods]
impl SaveResumeDataFailedAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    #[getter]
    fn msg(&self) -> String {
        self.0
            .alert
            .error()
            .map(|e| e.message())
            .unwrap_or_default()
    }
}

/// `(op, path)` of the alerts naming a failed file operation.
fn op_path(d: &AlertData) -> (i64, String) {
    match &d.alert.kind {
        AlertKind::FastresumeRejected { op, path, .. }
        | AlertKind::StorageMovedFailed { op, path, .. } => (*op as i64, path.clone()),
        _ => (0, String::new()),
    }
}

macro_rules! op_path_getters {
    ($rs:ident) => {
        #[pymethods]
        impl $rs {
            #[getter]
            fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                alert_error(py, &self.0)
            }
            #[getter]
            fn op<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                enum_to_py(py, "operation_t", op_path(&self.0).0)
            }
            /// The operation's name (deprecated form).
            #[getter]
            fn operation(&self) -> &'static str {
                lt_core::operation::operation_name(op_path(&self.0).0)
            }
            fn file_path(&self) -> String {
                op_path(&self.0).1
            }
        }
    };
}
op_path_getters!(FastresumeRejectedAlert);
op_path_getters!(StorageMovedFailedAlert);

#[pymethods]
impl FastresumeRejectedAlert {
    #[getter]
    fn msg(&self) -> String {
        self.0
            .alert
            .error()
            .map(|e| e.message())
            .unwrap_or_default()
    }
}

#[pymethods]
impl StorageMovedAlert {
    #[getter]
    fn path(&self) -> String {
        self.storage_path()
    }
    fn storage_path(&self) -> String {
        field!(self, AlertKind::StorageMoved { path, .. } => path.clone(), String::new())
    }
    fn old_path(&self) -> String {
        field!(self, AlertKind::StorageMoved { old_path, .. } => old_path.clone(), String::new())
    }
}

#[pymethods]
impl FileRenamedAlert {
    #[getter]
    fn index(&self) -> u32 {
        field!(self, AlertKind::FileRenamed { index, .. } => *index, 0)
    }
    #[getter]
    fn name(&self) -> String {
        self.new_name()
    }
    fn new_name(&self) -> String {
        field!(self, AlertKind::FileRenamed { new_name, .. } => new_name.clone(), String::new())
    }
    fn old_name(&self) -> String {
        field!(self, AlertKind::FileRenamed { old_name, .. } => old_name.clone(), String::new())
    }
}

#[pymethods]
impl PeerBlockedAlert {
    #[getter]
    fn reason(&self) -> i32 {
        field!(self, AlertKind::PeerBlocked { reason, .. } => *reason, 0)
    }
}

#[pymethods]
impl FileRenameFailedAlert {
    #[getter]
    fn index(&self) -> u32 {
        field!(self, AlertKind::FileRenameFailed { index, .. } => *index, 0)
    }
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
}

fn removed_hashes(d: &AlertData) -> lt_core::InfoHash {
    torrent_of(d).map(|t| t.info_hashes).unwrap_or_default()
}

macro_rules! info_hash_getters {
    ($rs:ident) => {
        #[pymethods]
        impl $rs {
            #[getter]
            fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                Ok(sha1_to_py(py, removed_hashes(&self.0).best())?.into_any())
            }
            #[getter]
            fn info_hashes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                Ok(info_hash_to_py(py, removed_hashes(&self.0))?.into_any())
            }
        }
    };
}
info_hash_getters!(TorrentRemovedAlert);
info_hash_getters!(TorrentDeletedAlert);

#[pymethods]
impl TorrentDeleteFailedAlert {
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(sha1_to_py(py, removed_hashes(&self.0).best())?.into_any())
    }
    #[getter]
    fn info_hashes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(info_hash_to_py(py, removed_hashes(&self.0))?.into_any())
    }
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    #[getter]
    fn msg(&self) -> String {
        field!(self, AlertKind::TorrentDeleteFailed { error, .. } => error.message(), String::new())
    }
}

#[pymethods]
impl StateChangedAlert {
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = field!(self, AlertKind::StateChanged { state, .. } => *state as i64, 0);
        enum_to_py(py, "torrent_status.states", s)
    }
    #[getter]
    fn prev_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = field!(self, AlertKind::StateChanged { prev_state, .. } => *prev_state as i64, 0);
        enum_to_py(py, "torrent_status.states", s)
    }
}

#[pymethods]
impl StateUpdateAlert {
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let v = field!(self, AlertKind::StateUpdate { status } => status, &empty);
        let items = v
            .iter()
            .map(|s| crate::handle::PyTorrentStatus::new(s.clone(), self.0.ses.clone()))
            .collect::<Vec<_>>();
        PyList::new(py, items)
    }
}

#[pymethods]
impl TorrentErrorAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
}

#[pymethods]
impl TorrentNeedCertAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
}

#[pymethods]
impl PieceFinishedAlert {
    #[getter]
    fn piece_index(&self) -> u32 {
        field!(self, AlertKind::PieceFinished { piece, .. } => *piece, 0)
    }
}

#[pymethods]
impl HashFailedAlert {
    #[getter]
    fn piece_index(&self) -> u32 {
        field!(self, AlertKind::HashFailed { piece, .. } => *piece, 0)
    }
}

#[pymethods]
impl FileCompletedAlert {
    #[getter]
    fn index(&self) -> u32 {
        field!(self, AlertKind::FileCompleted { index, .. } => *index, 0)
    }
}

#[pymethods]
impl FileErrorAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    #[getter]
    fn file(&self) -> String {
        self.filename()
    }
    fn filename(&self) -> String {
        field!(self, AlertKind::FileError { filename, .. } => filename.clone(), String::new())
    }
    #[getter]
    fn msg(&self) -> String {
        field!(self, AlertKind::FileError { error, .. } => error.message(), String::new())
    }
}

#[pymethods]
impl ReadPieceAlert {
    #[getter]
    fn buffer<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let empty = Vec::new();
        let d = field!(self, AlertKind::ReadPiece { data, .. } => data, &empty);
        PyBytes::new(py, d)
    }
    #[getter]
    fn piece(&self) -> u32 {
        field!(self, AlertKind::ReadPiece { piece, .. } => *piece, 0)
    }
    #[getter]
    fn size(&self) -> usize {
        field!(self, AlertKind::ReadPiece { data, .. } => data.len(), 0)
    }
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    #[getter]
    fn ec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.error(py)
    }
}

#[pymethods]
impl PeerDisconnectedAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    #[getter]
    fn msg(&self) -> String {
        field!(self, AlertKind::PeerDisconnected { error, .. } => error.message(), String::new())
    }
    #[getter]
    fn op<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let op = field!(self, AlertKind::PeerDisconnected { op, .. } => *op as i64, 0);
        enum_to_py(py, "operation_t", op)
    }
    #[getter]
    fn reason<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = field!(self, AlertKind::PeerDisconnected { reason, .. } => *reason as i64, 0);
        enum_to_py(py, "close_reason_t", r)
    }
    #[getter]
    fn socket_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t =
            field!(self, AlertKind::PeerDisconnected { socket_type, .. } => *socket_type as i64, 0);
        enum_to_py(py, "socket_type_t", t)
    }
}

#[pymethods]
impl PeerErrorAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    #[getter]
    fn op<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let op = field!(self, AlertKind::PeerError { op, .. } => *op as i64, 0);
        enum_to_py(py, "operation_t", op)
    }
}

#[pymethods]
impl IncomingConnectionAlert {
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ep = field!(self, AlertKind::IncomingConnection { endpoint, .. } => *endpoint, ([0, 0, 0, 0], 0).into());
        endpoint_tuple(py, &ep)
    }
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.endpoint(py)
    }
    #[getter]
    fn socket_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = field!(self, AlertKind::IncomingConnection { socket_type, .. } => *socket_type as i64, 0);
        enum_to_py(py, "socket_type_t", t)
    }
}

#[pymethods]
impl TrackerAnnounceAlert {
    #[getter]
    fn event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = field!(self, AlertKind::TrackerAnnounce { event, .. } => *event as i64, 0);
        enum_to_py(py, "event_t", e)
    }
}

#[pymethods]
impl TrackerReplyAlert {
    #[getter]
    fn num_peers(&self) -> i32 {
        field!(self, AlertKind::TrackerReply { num_peers, .. } => *num_peers, 0)
    }
}

#[pymethods]
impl UrlSeedAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    fn server_url(&self) -> String {
        field!(self, AlertKind::UrlSeed { url, .. } => url.clone(), String::new())
    }
    #[getter]
    fn url(&self) -> String {
        self.server_url()
    }
    fn error_message(&self) -> String {
        field!(self, AlertKind::UrlSeed { msg, .. } => msg.clone(), String::new())
    }
    #[getter]
    fn msg(&self) -> String {
        self.error_message()
    }
}

#[pymethods]
impl TrackerErrorAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    fn error_message(&self) -> String {
        field!(self, AlertKind::TrackerError { failure_reason, .. } => failure_reason.clone(), String::new())
    }
    fn failure_reason(&self) -> String {
        self.error_message()
    }
    #[getter]
    fn msg(&self) -> String {
        self.error_message()
    }
    #[getter]
    fn status_code(&self) -> i32 {
        field!(self, AlertKind::TrackerError { status_code, .. } => *status_code, 0)
    }
    #[getter]
    fn times_in_row(&self) -> i32 {
        field!(self, AlertKind::TrackerError { times_in_row, .. } => *times_in_row, 0)
    }
}

#[pymethods]
impl ScrapeReplyAlert {
    #[getter]
    fn complete(&self) -> i32 {
        field!(self, AlertKind::ScrapeReply { complete, .. } => *complete, 0)
    }
    #[getter]
    fn incomplete(&self) -> i32 {
        field!(self, AlertKind::ScrapeReply { incomplete, .. } => *incomplete, 0)
    }
}

#[pymethods]
impl ScrapeFailedAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    fn error_message(&self) -> String {
        field!(self, AlertKind::ScrapeFailed { msg, .. } => msg.clone(), String::new())
    }
    #[getter]
    fn msg(&self) -> String {
        self.error_message()
    }
}

#[pymethods]
impl SessionStatsAlert {
    /// `{metric name: value}`.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let AlertKind::SessionStats { values } = &self.0.alert.kind {
            for m in lt_settings::metrics::metrics() {
                if let Some(v) = values.get(m.value_index) {
                    d.set_item(m.name, *v)?;
                }
            }
        }
        Ok(d)
    }
}

#[pymethods]
impl AlertsDroppedAlert {
    /// One flag per alert type: whether alerts of that type were dropped.
    #[getter]
    fn dropped_alerts(&self) -> Vec<bool> {
        let bits = field!(self, AlertKind::AlertsDropped { dropped } => *dropped, [0; 4]);
        (0..lt_session::alert::NUM_ALERT_TYPES)
            .map(|i| bits[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }
}

#[pymethods]
impl Socks5Alert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
    /// The proxy's endpoint.
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ep = field!(self, AlertKind::Socks5 { ip, .. } => *ip, ([0, 0, 0, 0], 0).into());
        endpoint_tuple(py, &ep)
    }
    #[getter]
    fn op<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let op = field!(self, AlertKind::Socks5 { op, .. } => *op as i64, 0);
        enum_to_py(py, "operation_t", op)
    }
}

#[pymethods]
impl PerformanceAlert {
    #[getter]
    fn warning_code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let w =
            field!(self, AlertKind::Performance { warning_code, .. } => *warning_code as i64, 0);
        enum_to_py(py, "performance_warning_t", w)
    }
}

#[pymethods]
impl ExternalIpAlert {
    #[getter]
    fn external_address(&self) -> String {
        field!(self, AlertKind::ExternalIp { address } => address.to_string(), String::new())
    }
}

#[pymethods]
impl LogAlert {
    fn log_message(&self) -> String {
        field!(self, AlertKind::Log { msg } => msg.clone(), String::new())
    }
    fn msg(&self) -> String {
        self.log_message()
    }
}

#[pymethods]
impl FileProgressAlert {
    /// Bytes downloaded of each file. (The reference module cannot convert
    /// this list and raises `TypeError`; we return it.)
    #[getter]
    fn files(&self) -> Vec<i64> {
        field!(self, AlertKind::FileProgress { files, .. } => files.clone(), Vec::new())
    }
}

#[pymethods]
impl PeerInfoAlert {
    /// A list of `peer_info` (the reference raises `TypeError` here).
    #[getter]
    fn peer_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let peers =
            field!(self, AlertKind::PeerInfoList { peers, .. } => peers.clone(), Vec::new());
        PyList::new(py, peers.into_iter().map(crate::handle::PyPeerInfo::new))
    }
}

#[pymethods]
impl PieceAvailabilityAlert {
    #[getter]
    fn piece_availability(&self) -> Vec<i32> {
        field!(self, AlertKind::PieceAvailability { availability, .. } => availability.clone(), Vec::new())
    }
}

#[pymethods]
impl PieceInfoAlert {
    /// As `get_download_queue()` (the reference raises `TypeError` here).
    #[getter]
    fn piece_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let q = field!(self, AlertKind::PieceInfo { queue, .. } => queue, &empty);
        crate::handle::download_queue_to_py(py, q)
    }
}

#[pymethods]
impl TrackerListAlert {
    /// As `trackers()` (the reference raises `TypeError` here).
    #[getter]
    fn trackers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let t = field!(self, AlertKind::TrackerList { trackers, .. } => trackers, &empty);
        crate::handle::trackers_to_py(py, t)
    }
}

/// `(piece, block)` of a block alert.
fn block_of(d: &AlertData) -> (u32, u32) {
    match &d.alert.kind {
        AlertKind::Block { piece, block, .. } => (*piece, *block),
        _ => (0, 0),
    }
}

macro_rules! block_getters {
    ($($rs:ident),*) => {$(
        #[pymethods]
        impl $rs {
            #[getter]
            fn piece_index(&self) -> u32 {
                block_of(&self.0).0
            }
            #[getter]
            fn block_index(&self) -> u32 {
                block_of(&self.0).1
            }
        }
    )*};
}
block_getters!(
    BlockDownloadingAlert,
    BlockFinishedAlert,
    BlockTimeoutAlert,
    BlockUploadedAlert,
    RequestDroppedAlert,
    UnwantedBlockAlert
);

#[pymethods]
impl BlockDownloadingAlert {
    /// Always empty in libtorrent 2 (the peer-speed label was dropped).
    #[getter]
    fn peer_speedmsg(&self) -> &'static str {
        ""
    }
}

#[pymethods]
impl InvalidRequestAlert {
    #[getter]
    fn request(&self) -> crate::metainfo::PyPeerRequest {
        let (piece, start, length) = field!(self, AlertKind::InvalidRequest { piece, start, length, .. } => (*piece, *start, *length), (0, 0, 0));
        crate::metainfo::PyPeerRequest {
            piece: i64::from(piece),
            start: i64::from(start),
            length: i64::from(length),
        }
    }
}

#[pymethods]
impl StatsAlert {
    /// Bytes per `stats_channel` during the interval.
    #[getter]
    fn transferred(&self) -> Vec<i32> {
        field!(self, AlertKind::Stats { transferred, .. } => transferred.to_vec(), Vec::new())
    }
    /// Milliseconds the figures cover.
    #[getter]
    fn interval(&self) -> i32 {
        field!(self, AlertKind::Stats { interval, .. } => *interval, 0)
    }
}

/// Builds the Python object for an engine alert.
pub fn alert_to_py(py: Python<'_>, alert: Alert, ses: Weak<Session>) -> PyResult<Py<PyAny>> {
    let d = Arc::new(AlertData { alert, ses });
    let base = || PyClassInitializer::from(PyAlert(d.clone()));
    let t = || base().add_subclass(TorrentAlert(d.clone()));
    let p = || t().add_subclass(PeerAlert(d.clone()));
    let tr = || t().add_subclass(TrackerAlert(d.clone()));
    macro_rules! mk {
        ($init:expr, $leaf:ident) => {
            Py::new(py, $init.add_subclass($leaf(d.clone())))?.into_any()
        };
    }
    use AlertKind::*;
    Ok(match &d.alert.kind {
        ListenSucceeded { .. } => mk!(base(), ListenSucceededAlert),
        ListenFailed { .. } => mk!(base(), ListenFailedAlert),
        AddTorrent { .. } => mk!(t(), AddTorrentAlert),
        TorrentRemoved { .. } => mk!(t(), TorrentRemovedAlert),
        TorrentDeleted { .. } => mk!(t(), TorrentDeletedAlert),
        TorrentDeleteFailed { .. } => mk!(t(), TorrentDeleteFailedAlert),
        StateChanged { .. } => mk!(t(), StateChangedAlert),
        StateUpdate { .. } => mk!(base(), StateUpdateAlert),
        TorrentChecked { .. } => mk!(t(), TorrentCheckedAlert),
        MetadataReceived { .. } => mk!(t(), MetadataReceivedAlert),
        MetadataFailed { .. } => mk!(t(), MetadataFailedAlert),
        TorrentFinished { .. } => mk!(t(), TorrentFinishedAlert),
        TorrentPaused { .. } => mk!(t(), TorrentPausedAlert),
        TorrentResumed { .. } => mk!(t(), TorrentResumedAlert),
        TorrentError { .. } => mk!(t(), TorrentErrorAlert),
        TorrentNeedCert { .. } => mk!(t(), TorrentNeedCertAlert),
        TorrentConflict { .. } => mk!(t(), TorrentConflictAlert),
        PieceFinished { .. } => mk!(t(), PieceFinishedAlert),
        HashFailed { .. } => mk!(t(), HashFailedAlert),
        UrlSeed { .. } => mk!(t(), UrlSeedAlert),
        FileCompleted { .. } => mk!(t(), FileCompletedAlert),
        FileError { .. } => mk!(t(), FileErrorAlert),
        ReadPiece { .. } => mk!(t(), ReadPieceAlert),
        PeerConnect { .. } => mk!(p(), PeerConnectAlert),
        PeerDisconnected { .. } => mk!(p(), PeerDisconnectedAlert),
        PeerBan { .. } => mk!(p(), PeerBanAlert),
        PeerError { .. } => mk!(p(), PeerErrorAlert),
        IncomingConnection { .. } => mk!(base(), IncomingConnectionAlert),
        TrackerAnnounce { .. } => mk!(tr(), TrackerAnnounceAlert),
        TrackerReply { .. } => mk!(tr(), TrackerReplyAlert),
        TrackerWarning { .. } => mk!(tr(), TrackerWarningAlert),
        TrackerError { .. } => mk!(tr(), TrackerErrorAlert),
        ScrapeReply { .. } => mk!(tr(), ScrapeReplyAlert),
        ScrapeFailed { .. } => mk!(tr(), ScrapeFailedAlert),
        SessionStatsHeader => mk!(base(), SessionStatsHeaderAlert),
        SessionStats { .. } => mk!(base(), SessionStatsAlert),
        AlertsDropped { .. } => mk!(base(), AlertsDroppedAlert),
        Socks5 { .. } => mk!(base(), Socks5Alert),
        Performance { .. } => mk!(t(), PerformanceAlert),
        ExternalIp { .. } => mk!(base(), ExternalIpAlert),
        Log { .. } => mk!(base(), LogAlert),
        Dht(_) => crate::dht::dht_alert_to_py(py, &d, base(), tr())?,
        Portmap(_) => crate::portmap::portmap_alert_to_py(py, &d, base())?,
        Extra(_) => crate::log_alerts::log_alert_to_py(py, &d, base(), t(), p())?,
        SaveResumeData { .. } => mk!(t(), SaveResumeDataAlert),
        SaveResumeDataFailed { .. } => mk!(t(), SaveResumeDataFailedAlert),
        FastresumeRejected { .. } => mk!(t(), FastresumeRejectedAlert),
        StorageMoved { .. } => mk!(t(), StorageMovedAlert),
        StorageMovedFailed { .. } => mk!(t(), StorageMovedFailedAlert),
        FileRenamed { .. } => mk!(t(), FileRenamedAlert),
        FileRenameFailed { .. } => mk!(t(), FileRenameFailedAlert),
        PeerBlocked { .. } => mk!(p(), PeerBlockedAlert),
        TorrentAdded { .. } => mk!(t(), TorrentAddedAlert),
        FileProgress { .. } => mk!(t(), FileProgressAlert),
        PeerInfoList { .. } => mk!(t(), PeerInfoAlert),
        PieceAvailability { .. } => mk!(t(), PieceAvailabilityAlert),
        PieceInfo { .. } => mk!(t(), PieceInfoAlert),
        TrackerList { .. } => mk!(t(), TrackerListAlert),
        Block { event, .. } => match event {
            BlockEvent::Downloading => mk!(p(), BlockDownloadingAlert),
            BlockEvent::Finished => mk!(p(), BlockFinishedAlert),
            BlockEvent::Timeout => mk!(p(), BlockTimeoutAlert),
            BlockEvent::Uploaded => mk!(p(), BlockUploadedAlert),
            BlockEvent::Dropped => mk!(p(), RequestDroppedAlert),
            BlockEvent::Unwanted => mk!(p(), UnwantedBlockAlert),
        },
        PeerSnubbed { .. } => mk!(p(), PeerSnubbedAlert),
        PeerUnsnubbed { .. } => mk!(p(), PeerUnsnubbedAlert),
        InvalidRequest { .. } => mk!(p(), InvalidRequestAlert),
        CacheFlushed { .. } => mk!(t(), CacheFlushedAlert),
        FilePrio { .. } => mk!(t(), FilePrioAlert),
        Stats { .. } => mk!(t(), StatsAlert),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAlert>()?;
    attach_nested(&m.py().get_type::<PyAlert>(), "alert")?;
    m.add_class::<TorrentAlert>()?;
    m.add_class::<PeerAlert>()?;
    m.add_class::<TrackerAlert>()?;
    m.add_class::<ListenSucceededAlert>()?;
    m.add_class::<ListenFailedAlert>()?;
    m.add_class::<AddTorrentAlert>()?;
    m.add_class::<TorrentRemovedAlert>()?;
    m.add_class::<TorrentDeletedAlert>()?;
    m.add_class::<TorrentDeleteFailedAlert>()?;
    m.add_class::<StateChangedAlert>()?;
    m.add_class::<StateUpdateAlert>()?;
    m.add_class::<TorrentCheckedAlert>()?;
    m.add_class::<MetadataReceivedAlert>()?;
    m.add_class::<MetadataFailedAlert>()?;
    m.add_class::<TorrentFinishedAlert>()?;
    m.add_class::<TorrentPausedAlert>()?;
    m.add_class::<TorrentResumedAlert>()?;
    m.add_class::<TorrentErrorAlert>()?;
    m.add_class::<TorrentNeedCertAlert>()?;
    m.add_class::<TorrentConflictAlert>()?;
    m.add_class::<PieceFinishedAlert>()?;
    m.add_class::<HashFailedAlert>()?;
    m.add_class::<UrlSeedAlert>()?;
    m.add_class::<FileCompletedAlert>()?;
    m.add_class::<FileErrorAlert>()?;
    m.add_class::<ReadPieceAlert>()?;
    m.add_class::<PeerConnectAlert>()?;
    m.add_class::<PeerDisconnectedAlert>()?;
    m.add_class::<PeerBanAlert>()?;
    m.add_class::<PeerErrorAlert>()?;
    m.add_class::<IncomingConnectionAlert>()?;
    m.add_class::<TrackerAnnounceAlert>()?;
    m.add_class::<TrackerReplyAlert>()?;
    m.add_class::<TrackerWarningAlert>()?;
    m.add_class::<TrackerErrorAlert>()?;
    m.add_class::<ScrapeReplyAlert>()?;
    m.add_class::<ScrapeFailedAlert>()?;
    m.add_class::<SessionStatsHeaderAlert>()?;
    m.add_class::<SessionStatsAlert>()?;
    m.add_class::<AlertsDroppedAlert>()?;
    m.add_class::<Socks5Alert>()?;
    m.add_class::<PerformanceAlert>()?;
    m.add_class::<ExternalIpAlert>()?;
    m.add_class::<LogAlert>()?;
    m.add_class::<SaveResumeDataAlert>()?;
    m.add_class::<SaveResumeDataFailedAlert>()?;
    m.add_class::<FastresumeRejectedAlert>()?;
    m.add_class::<StorageMovedAlert>()?;
    m.add_class::<StorageMovedFailedAlert>()?;
    m.add_class::<FileRenamedAlert>()?;
    m.add_class::<FileRenameFailedAlert>()?;
    m.add_class::<PeerBlockedAlert>()?;
    m.add_class::<TorrentAddedAlert>()?;
    m.add_class::<FileProgressAlert>()?;
    m.add_class::<PeerInfoAlert>()?;
    m.add_class::<PieceAvailabilityAlert>()?;
    m.add_class::<PieceInfoAlert>()?;
    m.add_class::<TrackerListAlert>()?;
    m.add_class::<BlockDownloadingAlert>()?;
    m.add_class::<BlockFinishedAlert>()?;
    m.add_class::<BlockTimeoutAlert>()?;
    m.add_class::<BlockUploadedAlert>()?;
    m.add_class::<RequestDroppedAlert>()?;
    m.add_class::<UnwantedBlockAlert>()?;
    m.add_class::<PeerSnubbedAlert>()?;
    m.add_class::<PeerUnsnubbedAlert>()?;
    m.add_class::<InvalidRequestAlert>()?;
    m.add_class::<CacheFlushedAlert>()?;
    m.add_class::<FilePrioAlert>()?;
    m.add_class::<StatsAlert>()?;
    Ok(())
}

#[pymethods]
impl MetadataFailedAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        alert_error(py, &self.0)
    }
}
