//! Python bindings: `peer_log_alert`, `torrent_log_alert`,
//! `picker_log_alert`, `udp_error_alert`, `oversized_file_alert` (the
//! engine's `AlertKind::Extra` alerts).

use std::sync::Arc;

use lt_session::alert::AlertKind;
use lt_session::log_alert::LogAlert;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::PyClassInitializer;

use crate::alerts::{error_code_to_py, AlertData, PeerAlert, PyAlert, TorrentAlert};

macro_rules! log_leaf {
    ($rs:ident, $name:literal, $base:ty) => {
        #[pyclass(module = "libtorrent", name = $name, extends = $base, frozen)]
        #[allow(dead_code)]
        pub struct $rs(Arc<AlertData>);
    };
}

log_leaf!(PeerLogAlert, "peer_log_alert", PeerAlert);
log_leaf!(TorrentLogAlert, "torrent_log_alert", TorrentAlert);
log_leaf!(PickerLogAlert, "picker_log_alert", PeerAlert);
log_leaf!(UdpErrorAlert, "udp_error_alert", PyAlert);
log_leaf!(OversizedFileAlert, "oversized_file_alert", TorrentAlert);

fn kind(d: &AlertData) -> Option<&LogAlert> {
    match &d.alert.kind {
        AlertKind::Extra(k) => Some(k),
        _ => None,
    }
}

fn log_message(d: &AlertData) -> String {
    kind(d).map(LogAlert::log_message).unwrap_or_default()
}

#[pymethods]
impl PeerLogAlert {
    fn log_message(&self) -> String {
        log_message(&self.0)
    }
    fn msg(&self) -> String {
        log_message(&self.0)
    }
}

#[pymethods]
impl TorrentLogAlert {
    fn log_message(&self) -> String {
        log_message(&self.0)
    }
    fn msg(&self) -> String {
        log_message(&self.0)
    }
}

#[pymethods]
impl PickerLogAlert {
    #[getter]
    fn picker_flags(&self) -> u32 {
        match kind(&self.0) {
            Some(LogAlert::Picker { flags, .. }) => *flags,
            _ => 0,
        }
    }
    /// The picked blocks as `(piece, block)` tuples.
    fn blocks(&self) -> Vec<(u32, u32)> {
        match kind(&self.0) {
            Some(LogAlert::Picker { blocks, .. }) => blocks.clone(),
            _ => Vec::new(),
        }
    }
}

#[pymethods]
impl UdpErrorAlert {
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ep = match kind(&self.0) {
            Some(LogAlert::UdpError { endpoint, .. }) => *endpoint,
            _ => ([0, 0, 0, 0], 0).into(),
        };
        (ep.ip().to_string(), ep.port()).into_pyobject(py)
    }
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.0.alert.error().copied().unwrap_or_default();
        error_code_to_py(py, &e)
    }
}

/// Builds the Python object of an `AlertKind::Extra` alert.
pub fn log_alert_to_py(
    py: Python<'_>,
    d: &Arc<AlertData>,
    base: PyClassInitializer<PyAlert>,
    torrent: PyClassInitializer<TorrentAlert>,
    peer: PyClassInitializer<PeerAlert>,
) -> PyResult<Py<PyAny>> {
    let Some(k) = kind(d) else {
        return Ok(Py::new(py, base)?.into_any());
    };
    macro_rules! mk {
        ($init:expr, $leaf:ident) => {
            Py::new(py, $init.add_subclass($leaf(d.clone())))?.into_any()
        };
    }
    Ok(match k {
        LogAlert::Peer { .. } => mk!(peer, PeerLogAlert),
        LogAlert::Torrent { .. } => mk!(torrent, TorrentLogAlert),
        LogAlert::Picker { .. } => mk!(peer, PickerLogAlert),
        LogAlert::UdpError { .. } => mk!(base, UdpErrorAlert),
        LogAlert::OversizedFile { .. } => mk!(torrent, OversizedFileAlert),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PeerLogAlert>()?;
    m.add_class::<TorrentLogAlert>()?;
    m.add_class::<PickerLogAlert>()?;
    m.add_class::<UdpErrorAlert>()?;
    m.add_class::<OversizedFileAlert>()?;
    Ok(())
}
