//! Python bindings: `session.status()` with the `session_status` class, the
//! session's peer id, and the legacy setters over settings (`pe_settings`,
//! `outgoing_ports`).

use lt_session::SessionStatus;
use lt_settings::{keys, SettingsPack};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::session::PySession;
use crate::settings::PyPeSettings;

#[pyclass(module = "libtorrent", name = "session_status", frozen)]
pub struct PySessionStatus {
    st: SessionStatus,
}

macro_rules! status_getters {
    ($($name:ident: $ty:ty),* $(,)?) => {
        #[pymethods]
        impl PySessionStatus {
            $(
                #[getter]
                fn $name(&self) -> $ty {
                    self.st.$name
                }
            )*
        }
    };
}

status_getters!(
    has_incoming_connections: bool,
    upload_rate: i32,
    download_rate: i32,
    payload_upload_rate: i32,
    payload_download_rate: i32,
    total_download: i64,
    total_upload: i64,
    total_payload_download: i64,
    total_payload_upload: i64,
    total_failed_bytes: i64,
    total_redundant_bytes: i64,
    num_peers: i32,
    num_unchoked: i32,
    allowed_upload_slots: i32,
    up_bandwidth_queue: i32,
    down_bandwidth_queue: i32,
    up_bandwidth_bytes_queue: i32,
    down_bandwidth_bytes_queue: i32,
    dht_nodes: i64,
    dht_node_cache: i64,
    dht_torrents: i64,
    dht_total_allocations: i64,
    total_dht_download: i64,
    total_dht_upload: i64,
);

/// Counters we do not keep: IP overhead and tracker traffic are inside the
/// totals above, as no separate channel exists for them in our engine; the
/// DHT's rates and its estimate of the global network size are not
/// computed. They read 0.
macro_rules! zero_getters {
    ($($name:ident),* $(,)?) => {
        #[pymethods]
        impl PySessionStatus {
            $(
                #[getter]
                fn $name(&self) -> i64 {
                    0
                }
            )*
        }
    };
}

zero_getters!(
    ip_overhead_download_rate,
    ip_overhead_upload_rate,
    total_ip_overhead_download,
    total_ip_overhead_upload,
    tracker_download_rate,
    tracker_upload_rate,
    total_tracker_download,
    total_tracker_upload,
    dht_download_rate,
    dht_upload_rate,
    dht_global_nodes,
    optimistic_unchoke_counter,
    unchoke_counter,
);

#[pymethods]
impl PySessionStatus {
    /// Outstanding DHT lookups (none without a DHT node).
    #[getter]
    fn active_requests(&self) -> Vec<Py<PyAny>> {
        Vec::new()
    }
    /// uTP sockets by state.
    #[getter]
    fn utp_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("num_idle", 0)?;
        d.set_item("num_syn_sent", 0)?;
        d.set_item("num_connected", self.st.utp_connected)?;
        d.set_item("num_fin_sent", 0)?;
        d.set_item("num_close_wait", 0)?;
        Ok(d)
    }
}

#[pymethods]
impl PySession {
    fn status(&self, py: Python<'_>) -> PyResult<PySessionStatus> {
        let st = self.call(py, |e| e.session_status())?;
        Ok(PySessionStatus { st })
    }

    /// The peer id sent in handshakes.
    fn id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let id = self.call(py, |e| e.peer_id())?;
        Ok(crate::hashes::sha1_to_py(py, id)?.into_any())
    }

    fn set_peer_id(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        let id = crate::hashes::sha1_from_py(id)?;
        self.call(py, move |e| e.set_peer_id(id))
    }

    /// The port of the first SSL listen socket (an `s`-suffixed
    /// `listen_interfaces` entry), 0 when there is none.
    fn ssl_listen_port(&self, py: Python<'_>) -> PyResult<u16> {
        self.call(py, |e| e.ssl_listen_port())
    }

    /// Outgoing connections bind to a local port in `[begin, end)`.
    fn outgoing_ports(&self, py: Python<'_>, begin: i32, end: i32) -> PyResult<()> {
        let mut pack = SettingsPack::new();
        pack.set_int(keys::OUTGOING_PORT, begin);
        pack.set_int(keys::NUM_OUTGOING_PORTS, end - begin);
        self.call(py, move |e| e.apply_settings(&pack))
    }

    /// Opens configured listen sockets that are not open yet (e.g. a port
    /// that was busy); open ones are kept. We map no ports, so the
    /// `reopen_map_ports` flag has nothing to refresh.
    #[pyo3(signature = (options = 1))]
    fn reopen_network_sockets(&self, py: Python<'_>, options: u32) -> PyResult<()> {
        let _ = options;
        self.call(py, |e| e.reopen_network_sockets())
    }

    fn get_pe_settings(&self, py: Python<'_>) -> PyResult<PyPeSettings> {
        self.call(py, |e| {
            let s = e.settings();
            PyPeSettings {
                out_enc_policy: s.get_int(keys::OUT_ENC_POLICY) as u8,
                in_enc_policy: s.get_int(keys::IN_ENC_POLICY) as u8,
                allowed_enc_level: s.get_int(keys::ALLOWED_ENC_LEVEL) as u8,
                prefer_rc4: s.get_bool(keys::PREFER_RC4),
            }
        })
    }

    fn set_pe_settings(&self, py: Python<'_>, pe: PyRef<'_, PyPeSettings>) -> PyResult<()> {
        let mut pack = SettingsPack::new();
        pack.set_int(keys::OUT_ENC_POLICY, i32::from(pe.out_enc_policy));
        pack.set_int(keys::IN_ENC_POLICY, i32::from(pe.in_enc_policy));
        pack.set_int(keys::ALLOWED_ENC_LEVEL, i32::from(pe.allowed_enc_level));
        pack.set_bool(keys::PREFER_RC4, pe.prefer_rc4);
        self.call(py, move |e| e.apply_settings(&pack))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySessionStatus>()
}
