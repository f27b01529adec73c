//! Python bindings: `ip_filter` and `peer_class_type_filter`.
//!
//! Helpers for the session bindings: [`ip_filter_from_py`] /
//! [`ip_filter_to_py`] convert to and from `lt_core::ip_filter::IpFilter`.

use crate::convert::to_u32;
use lt_core::ip_filter::{format_ipv6, IpFilter};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyList, PyTuple};
use std::net::{IpAddr, Ipv6Addr};

/// The filter held by a Python `ip_filter`.
#[allow(dead_code)] // used by the session bindings
pub fn ip_filter_from_py(obj: &Bound<'_, PyAny>) -> PyResult<IpFilter> {
    match obj.cast::<PyIpFilter>() {
        Ok(f) => Ok(f.borrow().inner.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected ip_filter, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// A new Python `ip_filter` holding `f`.
#[allow(dead_code)] // used by the session bindings
pub fn ip_filter_to_py(py: Python<'_>, f: IpFilter) -> PyResult<Bound<'_, PyIpFilter>> {
    Bound::new(py, PyIpFilter { inner: f })
}

/// Parses an address as the reference does: dotted IPv4 (no leading zeros,
/// no port) or IPv6, which may carry a `%scope` suffix.
pub fn parse_address(s: &str) -> PyResult<IpAddr> {
    let bad = || PyRuntimeError::new_err("Invalid argument [system:22]");
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(a);
    }
    match s.split_once('%') {
        Some((addr, scope)) if !scope.is_empty() => {
            addr.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Sets of address ranges with access flags (bit 0: blocked).
#[pyclass(module = "libtorrent", name = "ip_filter", skip_from_py_object)]
pub struct PyIpFilter {
    pub inner: IpFilter,
}

#[pymethods]
impl PyIpFilter {
    #[new]
    fn new() -> Self {
        Self {
            inner: IpFilter::new(),
        }
    }

    /// Sets the access flags of every address from `first` to `last`.
    fn add_rule(&mut self, first: &str, last: &str, flags: &Bound<'_, PyAny>) -> PyResult<()> {
        // flags are a C int in the reference's signature
        let flags = crate::convert::to_i32(flags)? as u32;
        let (a, b) = (parse_address(first)?, parse_address(last)?);
        self.inner
            .add_rule(a, b, flags)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The access flags of `addr`.
    fn access(&self, addr: &str) -> PyResult<i32> {
        Ok(self.inner.access(parse_address(addr)?) as i32)
    }

    /// `([(first, last), ...] IPv4, [(first, last), ...] IPv6)`: every range.
    fn export_filter<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (v4, v6) = self.inner.export_filter();
        let l4 = PyList::empty(py);
        for (a, b, _) in v4 {
            l4.append((a.to_string(), b.to_string()))?;
        }
        let l6 = PyList::empty(py);
        for (a, b, _) in v6 {
            l6.append((format_ipv6(&a), format_ipv6(&b)))?;
        }
        PyTuple::new(py, [l4.into_any(), l6.into_any()])
    }
}

const NUM_SOCKET_TYPES: usize = 5;

/// Which peer classes peers get, by socket type.
#[pyclass(
    module = "libtorrent",
    name = "peer_class_type_filter",
    skip_from_py_object
)]
#[derive(Clone)]
pub struct PyPeerClassTypeFilter {
    /// classes added per socket type
    pub peer_class: [u32; NUM_SOCKET_TYPES],
    /// classes allowed per socket type
    pub class_mask: [u32; NUM_SOCKET_TYPES],
}

const SOCKET_T: &str = "libtorrent::peer_class_type_filter::socket_type_t";
const CLASS_T: &str =
    "libtorrent::aux::strong_typedef<unsigned int, libtorrent::peer_class_tag, void>";

/// Boost.Python's `ArgumentError` for `peer_class_type_filter.<func>(st, arg)`
/// whose arguments match no signature.
fn type_filter_arg_error(
    func: &str,
    st: &Bound<'_, PyAny>,
    arg: &Bound<'_, PyAny>,
    arg_cpp: &str,
) -> PyErr {
    let py = st.py();
    let name = |o: &Bound<'_, PyAny>| {
        o.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "object".to_owned())
    };
    let msg = format!(
        "Python argument types in\n    peer_class_type_filter.{func}(peer_class_type_filter, {}, {})\ndid not match C++ signature:\n    {func}(libtorrent::peer_class_type_filter {{lvalue}}, {SOCKET_T}, {arg_cpp})",
        name(st),
        name(arg)
    );
    match crate::bencode::argument_error_type(py).and_then(|t| t.call1((msg,))) {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// The socket type argument (only the enum matches the signature).
fn socket_type(
    func: &str,
    st: &Bound<'_, PyAny>,
    arg: &Bound<'_, PyAny>,
    arg_cpp: &str,
) -> PyResult<Option<usize>> {
    let v = crate::enums::enum_from_py(st, "peer_class_type_filter_socket_type_t")
        .map_err(|_| type_filter_arg_error(func, st, arg, arg_cpp))?;
    Ok(usize::try_from(v).ok().filter(|&i| i < NUM_SOCKET_TYPES))
}

/// The (socket type, class bit) arguments of add/remove/allow/disallow:
/// the class is a number (`float` then fails the conversion) or no
/// signature matches.
fn type_and_class(
    func: &str,
    st: &Bound<'_, PyAny>,
    class: &Bound<'_, PyAny>,
) -> PyResult<Option<(usize, u32)>> {
    if !(class.is_instance_of::<PyInt>() || class.is_instance_of::<PyFloat>()) {
        return Err(type_filter_arg_error(func, st, class, CLASS_T));
    }
    let s = socket_type(func, st, class, CLASS_T)?;
    let c = to_u32(class)?;
    Ok(s.zip((c < 32).then(|| 1u32 << c)))
}

#[pymethods]
impl PyPeerClassTypeFilter {
    #[new]
    fn new() -> Self {
        Self {
            peer_class: [0; NUM_SOCKET_TYPES],
            class_mask: [u32::MAX; NUM_SOCKET_TYPES],
        }
    }

    /// Peers on socket type `st` get peer class `class`.
    fn add(&mut self, st: &Bound<'_, PyAny>, class: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some((s, bit)) = type_and_class("add", st, class)? {
            self.peer_class[s] |= bit;
        }
        Ok(())
    }

    fn remove(&mut self, st: &Bound<'_, PyAny>, class: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some((s, bit)) = type_and_class("remove", st, class)? {
            self.peer_class[s] &= !bit;
        }
        Ok(())
    }

    /// Peers on socket type `st` may not be in peer class `class`.
    fn disallow(&mut self, st: &Bound<'_, PyAny>, class: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some((s, bit)) = type_and_class("disallow", st, class)? {
            self.class_mask[s] &= !bit;
        }
        Ok(())
    }

    fn allow(&mut self, st: &Bound<'_, PyAny>, class: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some((s, bit)) = type_and_class("allow", st, class)? {
            self.class_mask[s] |= bit;
        }
        Ok(())
    }

    /// The peer classes of a peer on socket type `st` that would otherwise
    /// be in `mask`.
    fn apply(&self, st: &Bound<'_, PyAny>, mask: &Bound<'_, PyAny>) -> PyResult<u32> {
        if !mask.is_instance_of::<PyInt>() {
            return Err(type_filter_arg_error("apply", st, mask, "unsigned int"));
        }
        let s = socket_type("apply", st, mask, "unsigned int")?;
        let mask = to_u32(mask)?;
        Ok(match s {
            Some(s) => (mask & self.class_mask[s]) | self.peer_class[s],
            None => mask,
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIpFilter>()?;
    m.add_class::<PyPeerClassTypeFilter>()?;
    let cls = m.getattr("peer_class_type_filter")?;
    let st = crate::enums::enum_type(m.py(), "peer_class_type_filter_socket_type_t")?;
    for name in [
        "tcp_socket",
        "utp_socket",
        "ssl_tcp_socket",
        "ssl_utp_socket",
        "i2p_socket",
    ] {
        cls.setattr(name, st.getattr(name)?)?;
    }
    Ok(())
}
