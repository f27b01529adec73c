//! Python bindings: `write_resume_data`, `write_resume_data_buf`,
//! `read_resume_data`, `write_session_params`, `write_session_params_buf`,
//! `read_session_params` (the formats live in `lt-resume`).
//!
//! Helpers for other binding files:
//! - [`atp_to_resume`] / [`resume_to_atp`]: convert between a Python
//!   `add_torrent_params` and [`ResumeData`] (what the engine consumes and
//!   produces for `save_resume_data`).

use std::net::{IpAddr, SocketAddr};

use lt_metainfo::LoadLimits;
use lt_resume::{ResumeData, SessionParams, StorageMode};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyInt, PyString, PyTuple};

use crate::bencode::argument_error;
use crate::convert::{no_converter, to_i32, to_u32};
use crate::filters::parse_address;
use crate::metainfo::{native, PyAddTorrentParams, PyTorrentInfo};
use crate::session::PySessionParams;

/// Formats an address the way the reference's endpoint converter does.
fn address_string(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => lt_core::ip_filter::format_ipv6(a),
    }
}

fn endpoints_from_py(list: &[(String, u16)]) -> PyResult<Vec<SocketAddr>> {
    list.iter()
        .map(|(a, port)| {
            // the reference refuses such a tuple when it is assigned
            let ip = parse_address(a).map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(
                    "No registered converter was able to produce a C++ rvalue of type \
                     boost::asio::ip::basic_endpoint<boost::asio::ip::tcp> from this \
                     Python object of type tuple",
                )
            })?;
            Ok(SocketAddr::new(ip, *port))
        })
        .collect()
}

fn endpoints_to_py(list: &[SocketAddr]) -> Vec<(String, u16)> {
    list.iter()
        .map(|e| (address_string(&e.ip()), e.port()))
        .collect()
}

/// The resume state of `add_torrent` parameters (an `add_torrent_params`
/// or the legacy dict) for the engine, and the parameters themselves
/// (without the torrent) for `add_torrent_alert.params`.
pub fn add_extra(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
) -> PyResult<(lt_session::ResumeExtra, Option<ResumeData>)> {
    let Ok(atp) = params.cast::<PyAddTorrentParams>() else {
        return Ok(Default::default());
    };
    let atp = atp.borrow();
    let extra = lt_session::ResumeExtra {
        have_pieces: atp.have_pieces.clone(),
        verified_pieces: atp.verified_pieces.clone(),
        total_uploaded: atp.total_uploaded,
        total_downloaded: atp.total_downloaded,
        active_time: atp.active_time,
        finished_time: atp.finished_time,
        seeding_time: atp.seeding_time,
        added_time: atp.added_time,
        completed_time: atp.completed_time,
        last_seen_complete: atp.last_seen_complete,
        renamed_files: atp
            .renamed_files
            .iter()
            .filter_map(|(k, v)| Some((usize::try_from(*k).ok()?, v.clone())))
            .collect(),
        unfinished_pieces: atp
            .unfinished_pieces
            .iter()
            .filter_map(|(k, v)| Some((u32::try_from(*k).ok()?, v.clone())))
            .collect(),
    };
    let _ = py;
    // what the reference's `add_torrent_alert.params` keeps: the rest was
    // handed over to the torrent
    let params = ResumeData {
        info_hashes: atp.info_hashes,
        name: atp.name.clone(),
        save_path: atp.save_path.clone(),
        flags: atp.flags,
        storage_mode: if atp.storage_mode == 0 {
            StorageMode::Allocate
        } else {
            StorageMode::Sparse
        },
        ..ResumeData::default()
    };
    Ok((extra, Some(params)))
}

/// The resume entry (a dict, as `write_resume_data` returns) of `rd`.
pub fn resume_entry<'py>(py: Python<'py>, rd: &ResumeData) -> PyResult<Bound<'py, PyAny>> {
    let info = rd.ti.as_ref().map(|t| t.info_section().to_vec());
    let buf = rd
        .write_with_info(info.as_deref())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    entry_with_info(py, &buf, info.as_deref())
}

/// The resume-relevant fields of a Python `add_torrent_params` (the
/// torrent, when set, is cloned into [`ResumeData::ti`]).
#[allow(dead_code)]
pub fn atp_to_resume(py: Python<'_>, atp: &PyAddTorrentParams) -> PyResult<ResumeData> {
    let mut rd = atp_fields(atp)?;
    rd.ti = atp.ti.as_ref().map(|t| (*t.borrow(py).inner).clone());
    Ok(rd)
}

/// Everything but the torrent itself.
fn atp_fields(atp: &PyAddTorrentParams) -> PyResult<ResumeData> {
    Ok(ResumeData {
        info_hashes: atp.info_hashes,
        ti: None,
        name: atp.name.clone(),
        save_path: atp.save_path.clone(),
        url: atp.url.clone(),
        comment: atp.comment.clone(),
        created_by: atp.created_by.clone(),
        creation_date: atp.creation_date,
        root_certificate: atp.root_certificate.clone(),
        part_file_dir: atp.part_file_dir.clone(),
        storage_mode: if atp.storage_mode == 0 {
            StorageMode::Allocate
        } else {
            StorageMode::Sparse
        },
        flags: atp.flags,
        merkle_trees: atp.merkle_trees.clone(),
        merkle_tree_mask: atp.merkle_tree_mask.clone(),
        verified_leaf_hashes: atp.verified_leaf_hashes.clone(),
        total_uploaded: atp.total_uploaded,
        total_downloaded: atp.total_downloaded,
        active_time: atp.active_time as i32,
        finished_time: atp.finished_time as i32,
        seeding_time: atp.seeding_time as i32,
        added_time: atp.added_time,
        completed_time: atp.completed_time,
        last_seen_complete: atp.last_seen_complete,
        last_download: atp.last_download,
        last_upload: atp.last_upload,
        num_complete: atp.num_complete as i32,
        num_incomplete: atp.num_incomplete as i32,
        num_downloaded: atp.num_downloaded as i32,
        max_uploads: atp.max_uploads as i32,
        max_connections: atp.max_connections as i32,
        upload_limit: atp.upload_limit as i32,
        download_limit: atp.download_limit as i32,
        trackers: atp.trackers.clone(),
        tracker_tiers: atp.tracker_tiers.iter().map(|t| *t as i32).collect(),
        url_seeds: atp.url_seeds.clone(),
        have_pieces: atp.have_pieces.clone(),
        verified_pieces: atp.verified_pieces.clone(),
        unfinished_pieces: atp
            .unfinished_pieces
            .iter()
            .map(|(k, v)| (*k as i32, v.clone()))
            .collect(),
        renamed_files: atp
            .renamed_files
            .iter()
            .map(|(k, v)| {
                i32::try_from(*k)
                    .map(|k| (k, v.clone()))
                    .map_err(|_| PyValueError::new_err(format!("invalid file index {k}")))
            })
            .collect::<PyResult<_>>()?,
        peers: endpoints_from_py(&atp.peers)?,
        banned_peers: endpoints_from_py(&atp.banned_peers)?,
        file_priorities: atp.file_priorities.iter().map(|p| *p as u8).collect(),
        piece_priorities: atp.piece_priorities.iter().map(|p| *p as u8).collect(),
    })
}

/// A Python `add_torrent_params` holding `rd`.
pub fn resume_to_atp(py: Python<'_>, rd: ResumeData) -> PyResult<PyAddTorrentParams> {
    let ti = match rd.ti {
        Some(ti) => Some(Py::new(
            py,
            PyTorrentInfo {
                inner: std::sync::Arc::new(ti),
            },
        )?),
        None => None,
    };
    Ok(PyAddTorrentParams {
        ti,
        info_hashes: rd.info_hashes,
        name: rd.name,
        save_path: rd.save_path,
        url: rd.url,
        comment: rd.comment,
        created_by: rd.created_by,
        creation_date: rd.creation_date,
        root_certificate: rd.root_certificate,
        part_file_dir: rd.part_file_dir,
        storage_mode: match rd.storage_mode {
            StorageMode::Allocate => 0,
            StorageMode::Sparse => 1,
        },
        flags: rd.flags,
        merkle_trees: rd.merkle_trees,
        merkle_tree_mask: rd.merkle_tree_mask,
        verified_leaf_hashes: rd.verified_leaf_hashes,
        total_uploaded: rd.total_uploaded,
        total_downloaded: rd.total_downloaded,
        active_time: rd.active_time.into(),
        finished_time: rd.finished_time.into(),
        seeding_time: rd.seeding_time.into(),
        added_time: rd.added_time,
        completed_time: rd.completed_time,
        last_seen_complete: rd.last_seen_complete,
        last_download: rd.last_download,
        last_upload: rd.last_upload,
        num_complete: rd.num_complete.into(),
        num_incomplete: rd.num_incomplete.into(),
        num_downloaded: rd.num_downloaded.into(),
        max_uploads: rd.max_uploads.into(),
        max_connections: rd.max_connections.into(),
        upload_limit: rd.upload_limit.into(),
        download_limit: rd.download_limit.into(),
        trackers: rd.trackers,
        tracker_tiers: rd.tracker_tiers.into_iter().map(i64::from).collect(),
        url_seeds: rd.url_seeds,
        have_pieces: rd.have_pieces,
        verified_pieces: rd.verified_pieces,
        unfinished_pieces: rd
            .unfinished_pieces
            .into_iter()
            .map(|(k, v)| (i64::from(k), v))
            .collect(),
        renamed_files: rd
            .renamed_files
            .into_iter()
            .map(|(k, v)| (i64::from(k), v))
            .collect(),
        peers: endpoints_to_py(&rd.peers),
        banned_peers: endpoints_to_py(&rd.banned_peers),
        file_priorities: rd.file_priorities.into_iter().map(i64::from).collect(),
        piece_priorities: rd.piece_priorities.into_iter().map(i64::from).collect(),
        ..PyAddTorrentParams::default()
    })
}

fn resume_bytes(py: Python<'_>, args: &Bound<'_, PyTuple>, func: &str) -> PyResult<Vec<u8>> {
    let atp = match args.len() {
        1 => args.get_item(0)?,
        _ => {
            return Err(argument_error(
                py,
                func,
                args,
                &format!("{func}(libtorrent::add_torrent_params)"),
            )?)
        }
    };
    let Ok(atp) = atp.cast::<PyAddTorrentParams>() else {
        return Err(argument_error(
            py,
            func,
            args,
            &format!("{func}(libtorrent::add_torrent_params)"),
        )?);
    };
    let atp = atp.borrow();
    let rd = atp_fields(&atp)?;
    // the info section is shared, not copied
    let info = atp
        .ti
        .as_ref()
        .map(|t| t.borrow(py).inner.info_section_arc());
    py.detach(|| rd.write_with_info(info.as_deref()))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Bdecodes `buf` into the entry the reference returns; a preformatted
/// `info` dict becomes a tuple of signed byte values, as it does there.
fn entry_with_info<'py>(
    py: Python<'py>,
    buf: &[u8],
    info: Option<&[u8]>,
) -> PyResult<Bound<'py, PyAny>> {
    let d = native(py)?
        .getattr("bdecode")?
        .call1((PyBytes::new(py, buf),))?;
    if let Some(info) = info {
        // as C `char`s: signed
        let info: Vec<i8> = info.iter().map(|&b| b as i8).collect();
        d.set_item(PyBytes::new(py, b"info"), PyTuple::new(py, info)?)?;
    }
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (*args))]
fn write_resume_data<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let buf = resume_bytes(py, args, "write_resume_data")?;
    let atp = args.get_item(0)?;
    let info = atp.cast::<PyAddTorrentParams>().ok().and_then(|a| {
        a.borrow()
            .ti
            .as_ref()
            .map(|t| t.borrow(py).inner.info_section().to_vec())
    });
    entry_with_info(py, &buf, info.as_deref())
}

#[pyfunction]
#[pyo3(signature = (*args))]
fn write_resume_data_buf<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyBytes>> {
    let buf = resume_bytes(py, args, "write_resume_data_buf")?;
    Ok(PyBytes::new(py, &buf))
}

/// The bytes of a `bytes`/`bytearray` argument.
fn buffer_arg(obj: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        Some(b.as_bytes().to_vec())
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        Some(b.to_vec())
    } else {
        None
    }
}

/// `load_torrent_limits` from a dict, with the reference's conversions.
fn load_limits(d: &Bound<'_, PyDict>) -> PyResult<LoadLimits> {
    let mut l = LoadLimits::default();
    for (k, v) in d.iter() {
        let Ok(k) = k.cast::<PyString>() else {
            return Err(no_converter("std::string", &k));
        };
        match k.to_cow()?.as_ref() {
            "max_buffer_size" => l.max_buffer_size = to_i32(&v)?.into(),
            "max_pieces" => l.max_pieces = to_i32(&v)?.into(),
            "max_decode_depth" => l.max_decode_depth = to_i32(&v)?.into(),
            "max_decode_tokens" => l.max_decode_tokens = to_i32(&v)?.into(),
            _ => {}
        }
    }
    Ok(l)
}

#[pyfunction]
#[pyo3(signature = (*args))]
fn read_resume_data(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<PyAddTorrentParams> {
    let mismatch = || -> PyResult<PyErr> {
        argument_error(
            py,
            "read_resume_data",
            args,
            "read_resume_data(bytes, boost::python::dict)\n    read_resume_data(bytes)",
        )
    };
    let (buf, limits) = match args.len() {
        1 | 2 => {
            let Some(buf) = buffer_arg(&args.get_item(0)?) else {
                return Err(mismatch()?);
            };
            let limits = if args.len() == 2 {
                let d = args.get_item(1)?;
                let Ok(d) = d.cast::<PyDict>() else {
                    return Err(mismatch()?);
                };
                load_limits(d)?
            } else {
                LoadLimits::default()
            };
            (buf, limits)
        }
        _ => return Err(mismatch()?),
    };
    let rd = py
        .detach(|| ResumeData::read_with(&buf, &limits))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    resume_to_atp(py, rd)
}

/// A `save_state_flags_t` argument (an unsigned 32-bit int).
fn state_flags(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    match obj {
        None => Ok(Some(u32::MAX)),
        Some(o) if o.is_instance_of::<PyInt>() => to_u32(o).map(Some),
        Some(_) => Ok(None),
    }
}

fn session_bytes(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    flags: Option<&Bound<'_, PyAny>>,
    func: &str,
    first: &str,
) -> PyResult<Vec<u8>> {
    let mismatch = || -> PyResult<PyErr> {
        let mut a = vec![params.clone()];
        a.extend(flags.cloned());
        argument_error(
            py,
            func,
            &PyTuple::new(py, a)?,
            &format!(
                "{func}(libtorrent::session_params {first}, libtorrent::flags::bitfield_flag<unsigned int, libtorrent::save_state_flags_tag, void> flags=4294967295)"
            ),
        )
    };
    let Ok(sp) = params.cast::<PySessionParams>() else {
        return Err(mismatch()?);
    };
    let Some(flags) = state_flags(flags)? else {
        return Err(mismatch()?);
    };
    let state = sp.borrow().to_state(py);
    Ok(py.detach(|| state.write(flags)))
}

#[pyfunction]
#[pyo3(signature = (entry, flags = None))]
fn write_session_params<'py>(
    py: Python<'py>,
    entry: &Bound<'py, PyAny>,
    flags: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let buf = session_bytes(py, entry, flags, "write_session_params", "entry")?;
    entry_with_info(py, &buf, None)
}

#[pyfunction]
#[pyo3(signature = (buffer, flags = None))]
fn write_session_params_buf<'py>(
    py: Python<'py>,
    buffer: &Bound<'py, PyAny>,
    flags: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let buf = session_bytes(py, buffer, flags, "write_session_params_buf", "buffer")?;
    Ok(PyBytes::new(py, &buf))
}

#[pyfunction]
#[pyo3(signature = (*args))]
fn read_session_params(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<PySessionParams> {
    let mismatch = || -> PyResult<PyErr> {
        argument_error(
            py,
            "read_session_params",
            args,
            "read_session_params(bytes buffer, libtorrent::flags::bitfield_flag<unsigned int, libtorrent::save_state_flags_tag, void> flags=4294967295)\n    read_session_params(boost::python::dict dict, libtorrent::flags::bitfield_flag<unsigned int, libtorrent::save_state_flags_tag, void> flags=4294967295)",
        )
    };
    if args.is_empty() || args.len() > 2 {
        return Err(mismatch()?);
    }
    let flags_arg = if args.len() == 2 {
        Some(args.get_item(1)?)
    } else {
        None
    };
    let Some(flags) = state_flags(flags_arg.as_ref())? else {
        return Err(mismatch()?);
    };
    let first = args.get_item(0)?;
    let buf = if let Some(b) = buffer_arg(&first) {
        b
    } else if first.cast::<PyDict>().is_ok() {
        // a decoded state: encode it as the reference's entry conversion does
        let enc = native(py)?.getattr("bencode")?.call1((first,))?;
        enc.cast::<PyBytes>()?.as_bytes().to_vec()
    } else {
        return Err(mismatch()?);
    };
    let state = py
        .detach(|| SessionParams::read(&buf, flags))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    PySessionParams::from_state(py, state)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(write_resume_data, m)?)?;
    m.add_function(wrap_pyfunction!(write_resume_data_buf, m)?)?;
    m.add_function(wrap_pyfunction!(read_resume_data, m)?)?;
    m.add_function(wrap_pyfunction!(write_session_params, m)?)?;
    m.add_function(wrap_pyfunction!(write_session_params_buf, m)?)?;
    m.add_function(wrap_pyfunction!(read_session_params, m)?)?;
    Ok(())
}
