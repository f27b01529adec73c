//! Python bindings: the DHT's classes (`dht_settings`, `dht_state`), the
//! conversions the session's `dht_*` methods use, and the DHT alert
//! classes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use lt_session::alert::AlertKind;
use lt_session::dht_alert::DhtAlert;
use lt_settings::{Settings, SettingsPack, Value};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use pyo3::PyClassInitializer;

use crate::alerts::{AlertData, PyAlert, TrackerAlert};
use crate::hashes::sha1_to_py;

// ---------------------------------------------------------------------------
// dht_settings (the deprecated class lives in settings.rs)

use crate::settings::PyDhtSettings;

/// Integer fields of `dht_settings`, each the `dht_<field>` setting.
const INT_FIELDS: [&str; 9] = [
    "max_peers_reply",
    "search_branching",
    "max_fail_count",
    "max_torrents",
    "max_dht_items",
    "max_torrent_search_reply",
    "block_timeout",
    "block_ratelimit",
    "item_lifetime",
];
const BOOL_FIELDS: [&str; 8] = [
    "restrict_routing_ips",
    "restrict_search_ips",
    "extended_routing_table",
    "aggressive_lookups",
    "privacy_lookups",
    "enforce_node_id",
    "ignore_dark_internet",
    "read_only",
];

fn int_mut<'a>(d: &'a mut PyDhtSettings, name: &str) -> Option<&'a mut i32> {
    Some(match name {
        "max_peers_reply" => &mut d.max_peers_reply,
        "search_branching" => &mut d.search_branching,
        "max_fail_count" => &mut d.max_fail_count,
        "max_torrents" => &mut d.max_torrents,
        "max_dht_items" => &mut d.max_dht_items,
        "max_torrent_search_reply" => &mut d.max_torrent_search_reply,
        "block_timeout" => &mut d.block_timeout,
        "block_ratelimit" => &mut d.block_ratelimit,
        "item_lifetime" => &mut d.item_lifetime,
        _ => return None,
    })
}

fn bool_mut<'a>(d: &'a mut PyDhtSettings, name: &str) -> Option<&'a mut bool> {
    Some(match name {
        "restrict_routing_ips" => &mut d.restrict_routing_ips,
        "restrict_search_ips" => &mut d.restrict_search_ips,
        "extended_routing_table" => &mut d.extended_routing_table,
        "aggressive_lookups" => &mut d.aggressive_lookups,
        "privacy_lookups" => &mut d.privacy_lookups,
        "enforce_node_id" => &mut d.enforce_node_id,
        "ignore_dark_internet" => &mut d.ignore_dark_internet,
        "read_only" => &mut d.read_only,
        _ => return None,
    })
}

/// `dht_settings` holding the session's `dht_*` settings.
pub fn dht_settings_from(s: &Settings) -> PyDhtSettings {
    let mut d = PyDhtSettings::default();
    for f in INT_FIELDS {
        if let (Ok(Value::Int(v)), Some(slot)) =
            (s.get_by_name(&format!("dht_{f}")), int_mut(&mut d, f))
        {
            *slot = v;
        }
    }
    for f in BOOL_FIELDS {
        if let (Ok(Value::Bool(v)), Some(slot)) =
            (s.get_by_name(&format!("dht_{f}")), bool_mut(&mut d, f))
        {
            *slot = v;
        }
    }
    d
}

/// The `dht_*` settings a `dht_settings` stands for.
pub fn dht_settings_pack(d: &PyDhtSettings) -> SettingsPack {
    let mut me = d.clone();
    let mut p = SettingsPack::new();
    for f in INT_FIELDS {
        if let Some(v) = int_mut(&mut me, f) {
            let _ = p.set_by_name(&format!("dht_{f}"), Value::Int(*v));
        }
    }
    for f in BOOL_FIELDS {
        if let Some(v) = bool_mut(&mut me, f) {
            let _ = p.set_by_name(&format!("dht_{f}"), Value::Bool(*v));
        }
    }
    p
}

/// The legacy `dht` block of a session state.
pub fn dht_settings_resume(d: &PyDhtSettings, max_peers: i32) -> lt_resume::DhtSettings {
    lt_resume::DhtSettings {
        max_peers_reply: d.max_peers_reply,
        search_branching: d.search_branching,
        max_fail_count: d.max_fail_count,
        max_torrents: d.max_torrents,
        max_dht_items: d.max_dht_items,
        max_peers,
        max_torrent_search_reply: d.max_torrent_search_reply,
        restrict_routing_ips: d.restrict_routing_ips,
        restrict_search_ips: d.restrict_search_ips,
        extended_routing_table: d.extended_routing_table,
        aggressive_lookups: d.aggressive_lookups,
        privacy_lookups: d.privacy_lookups,
        enforce_node_id: d.enforce_node_id,
        ignore_dark_internet: d.ignore_dark_internet,
        block_timeout: d.block_timeout,
        block_ratelimit: d.block_ratelimit,
        read_only: d.read_only,
        item_lifetime: d.item_lifetime,
    }
}

pub(crate) fn deprecated(py: Python<'_>, msg: &str) -> PyResult<()> {
    let w = py.get_type::<pyo3::exceptions::PyDeprecationWarning>();
    let c = std::ffi::CString::new(msg).unwrap_or_default();
    PyErr::warn(py, &w, &c, 1)
}

// ---------------------------------------------------------------------------
// dht_state

/// `session_params.dht_state`: our node ids and the nodes of the routing
/// table, as saved in the session state.
#[pyclass(module = "libtorrent", name = "dht_state", from_py_object)]
#[derive(Clone, Default)]
pub struct PyDhtState {
    pub inner: lt_resume::DhtState,
}

#[pymethods]
impl PyDhtState {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// `[(address, node id)]` (the reference cannot convert this one and
    /// raises `TypeError`).
    #[getter]
    fn nids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .inner
            .nids
            .iter()
            .map(|(ip, id)| {
                (ip.to_string(), sha1_to_py(py, lt_core::Sha1Hash(*id))?).into_pyobject(py)
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// `[(address, port)]` of the saved IPv4 nodes.
    #[getter]
    fn nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        endpoints(py, &self.inner.nodes)
    }

    #[getter]
    fn nodes6<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        endpoints(py, &self.inner.nodes6)
    }
}

fn endpoints<'py>(py: Python<'py>, v: &[SocketAddr]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(
        py,
        v.iter()
            .map(|a| (a.ip().to_string(), a.port()))
            .collect::<Vec<_>>(),
    )
}

pub fn state_to_engine(s: &lt_resume::DhtState) -> lt_dht::DhtState {
    lt_dht::DhtState {
        ids: s
            .nids
            .iter()
            .map(|(ip, id)| (*ip, lt_core::Sha1Hash(*id)))
            .collect(),
        nodes: s.nodes.clone(),
        nodes6: s.nodes6.clone(),
    }
}

pub fn state_from_engine(s: &lt_dht::DhtState) -> lt_resume::DhtState {
    lt_resume::DhtState {
        nids: s.ids.iter().map(|(ip, id)| (*ip, id.0)).collect(),
        nodes: s.nodes.clone(),
        nodes6: s.nodes6.clone(),
    }
}

/// `(host, port)` → an address (host must be an IP literal).
pub fn endpoint_from_py(obj: &Bound<'_, PyAny>) -> PyResult<SocketAddr> {
    let t = obj
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("expected a (host, port) tuple"))?;
    if t.len() != 2 {
        return Err(PyTypeError::new_err("expected a (host, port) tuple"));
    }
    let host: String = t.get_item(0)?.extract()?;
    let port: u16 = t.get_item(1)?.extract()?;
    let ip: IpAddr = host
        .parse()
        .map_err(|_| PyValueError::new_err(format!("invalid address: {host}")))?;
    Ok(SocketAddr::new(ip, port))
}

/// `(host, port)` with `host` a name or an IP literal.
pub fn host_port_from_py(obj: &Bound<'_, PyAny>) -> PyResult<(String, u16)> {
    let t = obj
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("expected a (host, port) tuple"))?;
    if t.len() != 2 {
        return Err(PyTypeError::new_err("expected a (host, port) tuple"));
    }
    Ok((t.get_item(0)?.extract()?, t.get_item(1)?.extract()?))
}

/// Bytes of a `bytes`/`str` argument.
pub fn bytes_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.extract::<String>() {
        return Ok(s.into_bytes());
    }
    Err(PyTypeError::new_err(format!(
        "expected bytes, got {}",
        obj.get_type().name()?
    )))
}

/// A bencoded value as the Python object `bdecode` gives.
fn item_to_py<'py>(py: Python<'py>, item: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if item.is_empty() {
        return Ok(py.None().into_bound(py));
    }
    crate::metainfo::native(py)?
        .getattr("bdecode")?
        .call1((PyBytes::new(py, item),))
}

// ---------------------------------------------------------------------------
// alerts

macro_rules! dht_leaf {
    ($rs:ident, $name:literal, $base:ty) => {
        #[pyclass(module = "libtorrent", name = $name, extends = $base, frozen)]
        #[allow(dead_code)]
        pub struct $rs(Arc<AlertData>);
    };
}

dht_leaf!(DhtBootstrapAlert, "dht_bootstrap_alert", PyAlert);
dht_leaf!(DhtGetPeersAlert, "dht_get_peers_alert", PyAlert);
dht_leaf!(DhtAnnounceAlert, "dht_announce_alert", PyAlert);
dht_leaf!(DhtReplyAlert, "dht_reply_alert", TrackerAlert);
dht_leaf!(
    DhtOutgoingGetPeersAlert,
    "dht_outgoing_get_peers_alert",
    PyAlert
);
dht_leaf!(DhtImmutableItemAlert, "dht_immutable_item_alert", PyAlert);
dht_leaf!(DhtMutableItemAlert, "dht_mutable_item_alert", PyAlert);
dht_leaf!(DhtPutAlert, "dht_put_alert", PyAlert);
dht_leaf!(DhtGetPeersReplyAlert, "dht_get_peers_reply_alert", PyAlert);
dht_leaf!(DhtLiveNodesAlert, "dht_live_nodes_alert", PyAlert);
dht_leaf!(
    DhtSampleInfohashesAlert,
    "dht_sample_infohashes_alert",
    PyAlert
);
dht_leaf!(DhtStatsAlert, "dht_stats_alert", PyAlert);
dht_leaf!(LsdErrorAlert, "lsd_error_alert", PyAlert);
dht_leaf!(DhtPktAlert, "dht_pkt_alert", PyAlert);
dht_leaf!(DhtLogAlert, "dht_log_alert", PyAlert);

fn kind(d: &AlertData) -> Option<&DhtAlert> {
    match &d.alert.kind {
        AlertKind::Dht(k) => Some(k),
        _ => None,
    }
}

macro_rules! get {
    ($self:ident, $pat:pat => $val:expr, $default:expr) => {
        match kind(&$self.0) {
            Some($pat) => $val,
            #[allow(unreachable_patterns)]
            _ => $default,
        }
    };
}

fn ep_tuple<'py>(py: Python<'py>, a: &SocketAddr) -> PyResult<Bound<'py, PyAny>> {
    Ok((a.ip().to_string(), a.port()).into_pyobject(py)?.into_any())
}

fn node_dicts<'py>(
    py: Python<'py>,
    nodes: &[(lt_core::Sha1Hash, SocketAddr)],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (id, a) in nodes {
        let d = PyDict::new(py);
        d.set_item("nid", sha1_to_py(py, *id)?)?;
        d.set_item("endpoint", ep_tuple(py, a)?)?;
        out.append(d)?;
    }
    Ok(out)
}

#[pymethods]
impl DhtGetPeersAlert {
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::GetPeers { info_hash } => *info_hash, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
}

#[pymethods]
impl DhtAnnounceAlert {
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::Announce { info_hash, .. } => *info_hash, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    #[getter]
    fn ip(&self) -> String {
        get!(self, DhtAlert::Announce { ip, .. } => ip.to_string(), String::new())
    }
    #[getter]
    fn port(&self) -> u16 {
        get!(self, DhtAlert::Announce { port, .. } => *port, 0)
    }
}

#[pymethods]
impl DhtReplyAlert {
    #[getter]
    fn num_peers(&self) -> i32 {
        get!(self, DhtAlert::Reply { num_peers, .. } => *num_peers, 0)
    }
}

#[pymethods]
impl DhtOutgoingGetPeersAlert {
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::OutgoingGetPeers { info_hash, .. } => *info_hash, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    #[getter]
    fn obfuscated_info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::OutgoingGetPeers { obfuscated_info_hash, .. } => *obfuscated_info_hash, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let a = get!(self, DhtAlert::OutgoingGetPeers { endpoint, .. } => *endpoint, SocketAddr::from(([0, 0, 0, 0], 0)));
        ep_tuple(py, &a)
    }
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.endpoint(py)
    }
}

#[pymethods]
impl DhtImmutableItemAlert {
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::ImmutableItem { target, .. } => *target, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    #[getter]
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let empty = Vec::new();
        let v = get!(self, DhtAlert::ImmutableItem { item, .. } => item, &empty);
        item_to_py(py, v)
    }
}

#[pymethods]
impl DhtMutableItemAlert {
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let k = get!(self, DhtAlert::MutableItem { key, .. } => *key, [0; 32]);
        PyBytes::new(py, &k)
    }
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let s = get!(self, DhtAlert::MutableItem { signature, .. } => *signature, [0; 64]);
        PyBytes::new(py, &s)
    }
    #[getter]
    fn seq(&self) -> i64 {
        get!(self, DhtAlert::MutableItem { seq, .. } => *seq, 0)
    }
    #[getter]
    fn salt<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let empty = Vec::new();
        let s = get!(self, DhtAlert::MutableItem { salt, .. } => salt, &empty);
        PyBytes::new(py, s)
    }
    #[getter]
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let empty = Vec::new();
        let v = get!(self, DhtAlert::MutableItem { item, .. } => item, &empty);
        item_to_py(py, v)
    }
    #[getter]
    fn authoritative(&self) -> bool {
        get!(self, DhtAlert::MutableItem { authoritative, .. } => *authoritative, false)
    }
}

#[pymethods]
impl DhtPutAlert {
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::Put { target, .. } => *target, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let k = get!(self, DhtAlert::Put { public_key, .. } => *public_key, [0; 32]);
        PyBytes::new(py, &k)
    }
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let s = get!(self, DhtAlert::Put { signature, .. } => *signature, [0; 64]);
        PyBytes::new(py, &s)
    }
    #[getter]
    fn salt<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let empty = Vec::new();
        let s = get!(self, DhtAlert::Put { salt, .. } => salt, &empty);
        PyBytes::new(py, s)
    }
    #[getter]
    fn seq(&self) -> i64 {
        get!(self, DhtAlert::Put { seq, .. } => *seq, 0)
    }
    #[getter]
    fn num_success(&self) -> i32 {
        get!(self, DhtAlert::Put { num_success, .. } => *num_success, 0)
    }
}

#[pymethods]
impl DhtGetPeersReplyAlert {
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h =
            get!(self, DhtAlert::GetPeersReply { info_hash, .. } => *info_hash, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    fn num_peers(&self) -> usize {
        get!(self, DhtAlert::GetPeersReply { peers, .. } => peers.len(), 0)
    }
    fn peers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let v = get!(self, DhtAlert::GetPeersReply { peers, .. } => peers, &empty);
        endpoints(py, v)
    }
}

#[pymethods]
impl DhtLiveNodesAlert {
    #[getter]
    fn node_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = get!(self, DhtAlert::LiveNodes { node_id, .. } => *node_id, Default::default());
        Ok(sha1_to_py(py, h)?.into_any())
    }
    #[getter]
    fn num_nodes(&self) -> usize {
        get!(self, DhtAlert::LiveNodes { nodes, .. } => nodes.len(), 0)
    }
    #[getter]
    fn nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let v = get!(self, DhtAlert::LiveNodes { nodes, .. } => nodes, &empty);
        node_dicts(py, v)
    }
}

#[pymethods]
impl DhtSampleInfohashesAlert {
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let a = get!(self, DhtAlert::SampleInfohashes { endpoint, .. } => *endpoint, SocketAddr::from(([0, 0, 0, 0], 0)));
        ep_tuple(py, &a)
    }
    /// A `datetime.timedelta`.
    #[getter]
    fn interval<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let secs = get!(self, DhtAlert::SampleInfohashes { interval, .. } => *interval, 0);
        let td = py.import("datetime")?.getattr("timedelta")?;
        let kw = PyDict::new(py);
        kw.set_item("seconds", secs)?;
        td.call((), Some(&kw))
    }
    #[getter]
    fn num_infohashes(&self) -> i64 {
        get!(self, DhtAlert::SampleInfohashes { num_infohashes, .. } => *num_infohashes, 0)
    }
    #[getter]
    fn num_samples(&self) -> usize {
        get!(self, DhtAlert::SampleInfohashes { samples, .. } => samples.len(), 0)
    }
    #[getter]
    fn samples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let v = get!(self, DhtAlert::SampleInfohashes { samples, .. } => samples, &empty);
        PyList::new(
            py,
            v.iter()
                .map(|h| sha1_to_py(py, *h))
                .collect::<PyResult<Vec<_>>>()?,
        )
    }
    #[getter]
    fn num_nodes(&self) -> usize {
        get!(self, DhtAlert::SampleInfohashes { nodes, .. } => nodes.len(), 0)
    }
    #[getter]
    fn nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let empty = Vec::new();
        let v = get!(self, DhtAlert::SampleInfohashes { nodes, .. } => nodes, &empty);
        node_dicts(py, v)
    }
}

#[pymethods]
impl DhtStatsAlert {
    /// `[{'num_nodes', 'num_replacements'}]`, one per bucket.
    #[getter]
    fn routing_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let Some(DhtAlert::Stats { routing_table, .. }) = kind(&self.0) {
            for (n, r, _) in routing_table {
                let d = PyDict::new(py);
                d.set_item("num_nodes", n)?;
                d.set_item("num_replacements", r)?;
                out.append(d)?;
            }
        }
        Ok(out)
    }
    /// One dict per running lookup.
    #[getter]
    fn active_requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let Some(DhtAlert::Stats {
            active_requests, ..
        }) = kind(&self.0)
        {
            for l in active_requests {
                let d = PyDict::new(py);
                d.set_item("type", l.kind)?;
                d.set_item("outstanding_requests", l.outstanding_requests)?;
                d.set_item("timeouts", l.timeouts)?;
                d.set_item("responses", l.responses)?;
                d.set_item("branch_factor", l.branch_factor)?;
                d.set_item("nodes_left", l.nodes_left)?;
                d.set_item("last_sent", l.last_sent)?;
                d.set_item("first_timeout", l.first_timeout)?;
                out.append(d)?;
            }
        }
        Ok(out)
    }
}

#[pymethods]
impl LsdErrorAlert {
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.0.alert.error().copied().unwrap_or_default();
        crate::alerts::error_code_to_py(py, &e)
    }
}

#[pymethods]
impl DhtPktAlert {
    /// The datagram's bytes.
    #[getter]
    fn pkt_buf<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let empty = Vec::new();
        let b = get!(self, DhtAlert::Pkt { buf, .. } => buf, &empty);
        PyBytes::new(py, b)
    }
}

#[pymethods]
impl DhtLogAlert {
    /// The module that wrote the line (`dht_module_t`).
    #[getter]
    fn module<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = get!(self, DhtAlert::Log { module, .. } => *module, 0);
        crate::enums::enum_to_py(py, "dht_module_t", i64::from(m))
    }

    /// The line itself (`message()` prefixes the module's name).
    fn log_message(&self) -> String {
        get!(self, DhtAlert::Log { message, .. } => message.clone(), String::new())
    }
}

/// `dht_lookup`: the reference's (empty) lookup record; `dht_stats_alert`
/// reports lookups as dictionaries.
#[pyclass(module = "libtorrent", name = "dht_lookup")]
#[derive(Default)]
pub struct PyDhtLookup {
    #[pyo3(get)]
    branch_factor: i32,
    #[pyo3(get)]
    outstanding_requests: i32,
    #[pyo3(get)]
    response: i32,
    #[pyo3(get)]
    timeouts: i32,
}

#[pymethods]
impl PyDhtLookup {
    #[new]
    fn new() -> Self {
        Self::default()
    }
    #[getter(r#type)]
    fn kind<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        py.None().into_bound(py)
    }
}

/// The Python object of a DHT/LSD alert.
pub fn dht_alert_to_py(
    py: Python<'_>,
    d: &Arc<AlertData>,
    base: PyClassInitializer<PyAlert>,
    tracker: PyClassInitializer<TrackerAlert>,
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
        DhtAlert::Bootstrap => mk!(base, DhtBootstrapAlert),
        DhtAlert::GetPeers { .. } => mk!(base, DhtGetPeersAlert),
        DhtAlert::Announce { .. } => mk!(base, DhtAnnounceAlert),
        DhtAlert::Reply { .. } => mk!(tracker, DhtReplyAlert),
        DhtAlert::OutgoingGetPeers { .. } => mk!(base, DhtOutgoingGetPeersAlert),
        DhtAlert::ImmutableItem { .. } => mk!(base, DhtImmutableItemAlert),
        DhtAlert::MutableItem { .. } => mk!(base, DhtMutableItemAlert),
        DhtAlert::Put { .. } => mk!(base, DhtPutAlert),
        DhtAlert::GetPeersReply { .. } => mk!(base, DhtGetPeersReplyAlert),
        DhtAlert::LiveNodes { .. } => mk!(base, DhtLiveNodesAlert),
        DhtAlert::SampleInfohashes { .. } => mk!(base, DhtSampleInfohashesAlert),
        DhtAlert::Stats { .. } => mk!(base, DhtStatsAlert),
        DhtAlert::LsdError { .. } => mk!(base, LsdErrorAlert),
        DhtAlert::Pkt { .. } => mk!(base, DhtPktAlert),
        DhtAlert::Log { .. } => mk!(base, DhtLogAlert),
        // The reference has no class for it: a plain `alert`.
        DhtAlert::LsdPeer { .. } => Py::new(py, base)?.into_any(),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDhtState>()?;
    m.add_class::<DhtBootstrapAlert>()?;
    m.add_class::<DhtGetPeersAlert>()?;
    m.add_class::<DhtAnnounceAlert>()?;
    m.add_class::<DhtReplyAlert>()?;
    m.add_class::<DhtOutgoingGetPeersAlert>()?;
    m.add_class::<DhtImmutableItemAlert>()?;
    m.add_class::<DhtMutableItemAlert>()?;
    m.add_class::<DhtPutAlert>()?;
    m.add_class::<DhtGetPeersReplyAlert>()?;
    m.add_class::<DhtLiveNodesAlert>()?;
    m.add_class::<DhtSampleInfohashesAlert>()?;
    m.add_class::<DhtStatsAlert>()?;
    m.add_class::<LsdErrorAlert>()?;
    m.add_class::<DhtPktAlert>()?;
    m.add_class::<DhtLogAlert>()?;
    m.add_class::<PyDhtLookup>()?;
    Ok(())
}
