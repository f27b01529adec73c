//! Python bindings: `parse_magnet_uri`, `parse_magnet_uri_dict`,
//! `make_magnet_uri`.

use std::net::SocketAddr;

use lt_metainfo::magnet::{self, Magnet, MagnetSource};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::metainfo::{PyAddTorrentParams, PyTorrentInfo, DEFAULT_FLAGS};

/// `torrent_flags::default_dont_download`.
const DEFAULT_DONT_DOWNLOAD: u64 = 0x80_0000;

fn magnet_err(e: magnet::MagnetError) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Bytes from the link as a Python `str`. Bytes that are not UTF-8 are
/// replaced (U+FFFD); the reference raises `UnicodeDecodeError` when such
/// a field is read.
fn text(b: &[u8]) -> PyResult<String> {
    Ok(String::from_utf8_lossy(b).into_owned())
}

fn endpoint(a: &SocketAddr) -> (String, u16) {
    (a.ip().to_string(), a.port())
}

fn params_of(m: &Magnet) -> PyResult<PyAddTorrentParams> {
    let mut p = PyAddTorrentParams {
        info_hashes: m.info_hashes,
        name: text(&m.name)?,
        ..Default::default()
    };
    for t in &m.trackers {
        p.trackers.push(text(t)?);
    }
    p.tracker_tiers = m.tracker_tiers.iter().map(|&t| i64::from(t)).collect();
    for w in &m.url_seeds {
        p.url_seeds.push(text(w)?);
    }
    p.peers = m.peers.iter().map(endpoint).collect();
    for (h, port) in &m.dht_nodes {
        p.dht_nodes.push((text(h)?, i64::from(*port)));
    }
    p.file_priorities = m.file_priorities.iter().map(|&x| i64::from(x)).collect();
    if m.default_dont_download {
        p.flags |= DEFAULT_DONT_DOWNLOAD;
    }
    Ok(p)
}

/// Adds what magnet link `uri` names to `atp` (the `url` member of the
/// legacy `add_torrent(dict)`): info-hashes, name (if unset), trackers,
/// peers and web seeds.
pub(crate) fn merge_magnet(atp: &mut PyAddTorrentParams, uri: &str) -> PyResult<()> {
    let m = magnet::parse_magnet_uri(uri).map_err(magnet_err)?;
    let p = params_of(&m)?;
    atp.info_hashes = p.info_hashes;
    if atp.name.is_empty() {
        atp.name = p.name;
    }
    atp.trackers.extend(p.trackers);
    atp.tracker_tiers.extend(p.tracker_tiers);
    atp.peers.extend(p.peers);
    atp.url_seeds.extend(p.url_seeds);
    Ok(())
}

#[pyfunction]
fn parse_magnet_uri(uri: &str) -> PyResult<PyAddTorrentParams> {
    let m = magnet::parse_magnet_uri(uri).map_err(magnet_err)?;
    params_of(&m)
}

/// The dictionary form: the fields the reference puts in it.
#[pyfunction]
fn parse_magnet_uri_dict<'py>(py: Python<'py>, uri: &str) -> PyResult<Bound<'py, PyDict>> {
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
        c"parse_magnet_uri_dict() is deprecated",
        1,
    )?;
    let m = magnet::parse_magnet_uri(uri).map_err(magnet_err)?;
    let p = params_of(&m)?;
    let d = PyDict::new(py);
    d.set_item("trackers", p.trackers.clone())?;
    d.set_item("dht_nodes", p.dht_nodes.clone())?;
    let ih = m.info_hashes;
    let full: &[u8] = if ih.has_v2() {
        ih.v2.as_bytes()
    } else {
        ih.v1.as_bytes()
    };
    d.set_item("info_hashes", PyBytes::new(py, full))?;
    d.set_item("info_hash", PyBytes::new(py, ih.best().as_bytes()))?;
    d.set_item("name", &p.name)?;
    d.set_item("save_path", "")?;
    d.set_item(
        "storage_mode",
        crate::enums::enum_to_py(py, "storage_mode_t", 1)?,
    )?;
    d.set_item("url", "")?;
    d.set_item("flags", p.flags)?;
    let _ = DEFAULT_FLAGS;
    Ok(d)
}

fn peer_addr(host: &str, port: u16) -> Option<SocketAddr> {
    host.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// `make_magnet_uri(torrent_info | add_torrent_params)`. A torrent handle
/// is accepted once it has a `torrent_file()` / info-hash to read from.
#[pyfunction]
fn make_magnet_uri(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(t) = obj.cast::<PyTorrentInfo>() {
        let t = t.borrow();
        let ti = &t.inner;
        if !ti.is_valid() {
            return Ok(magnet::make_magnet_uri(&MagnetSource {
                info_hashes: ti.info_hashes(),
                ..Default::default()
            }));
        }
        let src = MagnetSource {
            info_hashes: ti.info_hashes(),
            name: ti.name(),
            trackers: ti.trackers().iter().map(|t| t.url.as_str()).collect(),
            url_seeds: ti
                .web_seeds()
                .iter()
                .filter(|w| w.kind == lt_metainfo::WebSeedKind::UrlSeed)
                .map(|w| w.url.as_str())
                .collect(),
            ..Default::default()
        };
        return Ok(magnet::make_magnet_uri(&src));
    }
    if let Ok(p) = obj.cast::<PyAddTorrentParams>() {
        let p = p.borrow();
        let ti_name;
        let name: &str = match p.ti.as_ref() {
            Some(t) => {
                ti_name = t.borrow(py).inner.name().to_owned();
                &ti_name
            }
            None => &p.name,
        };
        let src = MagnetSource {
            info_hashes: p.info_hashes,
            name,
            trackers: p.trackers.iter().map(|s| s.as_str()).collect(),
            url_seeds: p.url_seeds.iter().map(|s| s.as_str()).collect(),
            peers: p
                .peers
                .iter()
                .filter_map(|(h, port)| peer_addr(h, *port))
                .collect(),
            dht_nodes: p
                .dht_nodes
                .iter()
                .map(|(h, port)| (h.as_str(), *port as i32))
                .collect(),
            file_priorities: p
                .file_priorities
                .iter()
                .map(|&x| x.clamp(0, 255) as u8)
                .collect(),
        };
        return Ok(magnet::make_magnet_uri(&src));
    }
    let args = pyo3::types::PyTuple::new(py, [obj])?;
    Err(crate::bencode::argument_error(
        py,
        "make_magnet_uri",
        &args,
        "make_magnet_uri(libtorrent::torrent_handle)\n    make_magnet_uri(libtorrent::torrent_info)\n    make_magnet_uri(libtorrent::add_torrent_params)",
    )?)
}

/// `add_magnet_uri(session, uri, dict)` (deprecated): adds the torrent the
/// magnet link names, with the other `add_torrent_params` fields from the
/// dict.
#[pyfunction]
fn add_magnet_uri<'py>(
    py: Python<'py>,
    ses: &Bound<'py, crate::session::PySession>,
    uri: &str,
    params: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
        c"add_magnet_uri() is deprecated",
        1,
    )?;
    // Parse first: a bad link raises before anything is added.
    magnet::parse_magnet_uri(uri).map_err(magnet_err)?;
    let d = params.copy()?;
    d.set_item("url", uri)?;
    ses.call_method1("add_torrent", (d,))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add_magnet_uri, m)?)?;
    m.add_function(wrap_pyfunction!(parse_magnet_uri, m)?)?;
    m.add_function(wrap_pyfunction!(parse_magnet_uri_dict, m)?)?;
    m.add_function(wrap_pyfunction!(make_magnet_uri, m)?)?;
    Ok(())
}
