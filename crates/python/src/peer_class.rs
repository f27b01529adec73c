//! Python bindings: the session's peer-class calls (`create_peer_class`,
//! `get_peer_class`, `set_peer_class`, the class filters, the deprecated
//! local rate limits). The `session` methods in session.rs are one-line
//! calls into these functions; the logic is in lt_session::peer_class.
//!
//! Argument handling follows the reference's Boost.Python conversions:
//! class ids are C `unsigned int`s (`str`/`None` → `ArgumentError`, `float`
//! → `TypeError`, negative → `OverflowError`), `set_peer_class` takes a
//! `dict` whose unknown keys raise `KeyError`. Keys left out of that dict
//! get zero values (label `''`, limits 0, priorities 1 after clamping):
//! the reference leaves them uninitialised, so a full dict is the portable
//! use.

use lt_session::peer_class::{PeerClassInfo, PeerClassTypeFilter, NUM_SOCKET_KINDS};
use pyo3::exceptions::{PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyString};

use crate::convert::{no_converter, to_bool, to_i32, to_u32};
use crate::filters::{PyIpFilter, PyPeerClassTypeFilter};

/// Boost.Python's `ArgumentError` for `session.<func>` called with `args`.
fn arg_error(py: Python<'_>, func: &str, args: &[&Bound<'_, PyAny>], cpp: &str) -> PyResult<PyErr> {
    let mut names = vec!["session".to_owned()];
    for a in args {
        names.push(a.get_type().name()?.to_string());
    }
    let msg = format!(
        "Python argument types in\n    session.{func}({})\ndid not match C++ signature:\n    {func}(libtorrent::session {{lvalue}}, {cpp})",
        names.join(", ")
    );
    let t = crate::bencode::argument_error_type(py)?;
    Ok(PyErr::from_value(t.call1((msg,))?))
}

const CLASS_T: &str =
    "libtorrent::aux::strong_typedef<unsigned int, libtorrent::peer_class_tag, void>";

/// A peer class id argument of `session.<func>`.
pub fn class_id(func: &str, obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        return to_u32(obj);
    }
    Err(arg_error(obj.py(), func, &[obj], CLASS_T)?)
}

/// A C `int` argument of `session.<func>` (only `int` matches its signature).
pub fn int_arg(func: &str, obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    if obj.is_instance_of::<PyInt>() {
        return to_i32(obj);
    }
    Err(arg_error(obj.py(), func, &[obj], "int")?)
}

/// `create_peer_class(name)`: the label as a C string (cut at a NUL).
pub fn label_arg(name: &Bound<'_, PyAny>) -> PyResult<String> {
    if name.is_none() {
        return Err(PyRuntimeError::new_err(
            "basic_string::_S_construct null not valid",
        ));
    }
    let Ok(s) = name.cast::<PyString>() else {
        return Err(arg_error(
            name.py(),
            "create_peer_class",
            &[name],
            "char const*",
        )?);
    };
    let s: String = s.extract()?;
    Ok(s.split('\0').next().unwrap_or_default().to_owned())
}

/// A `std::string` value: `str` or `bytes`.
fn string_value(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return s.extract::<String>();
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    Err(no_converter("std::string", v))
}

/// The dict `get_peer_class` returns, in the reference's key order.
pub fn info_to_dict<'py>(py: Python<'py>, i: &PeerClassInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ignore_unchoke_slots", i.ignore_unchoke_slots)?;
    d.set_item("connection_limit_factor", i.connection_limit_factor)?;
    d.set_item("label", &i.label)?;
    d.set_item("upload_limit", i.upload_limit)?;
    d.set_item("download_limit", i.download_limit)?;
    d.set_item("upload_priority", i.upload_priority)?;
    d.set_item("download_priority", i.download_priority)?;
    Ok(d)
}

/// The `set_peer_class` dict as class settings.
pub fn info_from_py(id: &Bound<'_, PyAny>, info: &Bound<'_, PyAny>) -> PyResult<PeerClassInfo> {
    let Ok(d) = info.cast::<PyDict>() else {
        return Err(arg_error(
            info.py(),
            "set_peer_class",
            &[id, info],
            &format!("{CLASS_T}, boost::python::dict"),
        )?);
    };
    let mut out = PeerClassInfo::default();
    for (k, v) in d.iter() {
        let key = string_value(&k)?;
        match key.as_str() {
            "label" => out.label = string_value(&v)?,
            "upload_limit" => out.upload_limit = to_i32(&v)?,
            "download_limit" => out.download_limit = to_i32(&v)?,
            "upload_priority" => out.upload_priority = to_i32(&v)?,
            "download_priority" => out.download_priority = to_i32(&v)?,
            "connection_limit_factor" => out.connection_limit_factor = to_i32(&v)?,
            "ignore_unchoke_slots" => out.ignore_unchoke_slots = to_bool(&v)?,
            _ => {
                return Err(PyKeyError::new_err(format!(
                    "unknown name in peer_class_info: {key}"
                )))
            }
        }
    }
    Ok(out)
}

/// The filter held by a Python `ip_filter` argument of
/// `set_peer_class_filter`.
pub fn class_filter_arg(f: &Bound<'_, PyAny>) -> PyResult<lt_core::ip_filter::IpFilter> {
    match f.cast::<PyIpFilter>() {
        Ok(f) => Ok(f.borrow().inner.clone()),
        Err(_) => Err(arg_error(
            f.py(),
            "set_peer_class_filter",
            &[f],
            "libtorrent::ip_filter",
        )?),
    }
}

/// The filter held by a Python `peer_class_type_filter` argument.
pub fn type_filter_arg(f: &Bound<'_, PyAny>) -> PyResult<PeerClassTypeFilter> {
    match f.cast::<PyPeerClassTypeFilter>() {
        Ok(f) => {
            let f = f.borrow();
            let mut out = PeerClassTypeFilter::default();
            for i in 0..NUM_SOCKET_KINDS {
                out.add[i] = f.peer_class[i];
                out.mask[i] = f.class_mask[i];
            }
            Ok(out)
        }
        Err(_) => Err(arg_error(
            f.py(),
            "set_peer_class_type_filter",
            &[f],
            "libtorrent::peer_class_type_filter",
        )?),
    }
}
