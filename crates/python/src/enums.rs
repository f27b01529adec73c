//! Python bindings: enums and flag holders.
//!
//! The reference exposes two kinds of named integers:
//! - Boost.Python enums: `int` subclasses whose members carry a `.name`, with
//!   class attributes `names` (name -> member) and `values` (int -> member),
//!   `repr` `libtorrent.<enum>.<member>` and `str` `<member>`;
//! - flag holders: plain classes whose attributes are `int`s.
//!
//! The member tables are Rust statics (`enums_table.rs`, generated from the API
//! manifest by `scripts/gen_enums.py`). Python cannot subclass `int` from a
//! PyO3 class, so the small generic class machinery (`_ENUM_SRC`) is Python
//! source compiled once at import; it holds no data.
//!
//! Helpers for other binding files (keep them stable):
//! - [`enum_type`]: the class object of an enum or flag holder by manifest key
//!   (`"torrent_status.states"`, `"operation_t"`, ...);
//! - [`enum_to_py`]: the member object for an integer value (what the engine
//!   returns), e.g. `enum_to_py(py, "torrent_status.states", 3)`;
//! - [`enum_from_py`]: the integer of an argument that must be a member of a
//!   given enum (rejects plain `int`s like the reference does);
//! - [`attach_nested`]: sets the nested enums/flag holders of a class defined
//!   elsewhere (`torrent_status.states`, `alert.category_t`, ...) on it.

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

#[path = "enums_table.rs"]
mod table;
pub use table::ENUM_TABLE;

/// The generic machinery: a Boost.Python-like enum base (an `int` subclass)
/// and factories for enum classes and flag holders.
const ENUM_SRC: &std::ffi::CStr = cr#"
class enum(int):
    """Base of libtorrent's enums: an int that knows its name."""

    @property
    def name(self):
        try:
            return self.__dict__["_name"]
        except KeyError:
            raise AttributeError("'%s' object has no attribute 'name'" % type(self).__name__) from None

    def __repr__(self):
        cls = type(self)
        n = self.__dict__.get("_name")
        if n is None:
            return "%s.%s(%d)" % (cls.__module__, cls.__name__, int(self))
        return "%s.%s.%s" % (cls.__module__, cls.__name__, n)

    def __str__(self):
        n = self.__dict__.get("_name")
        return repr(self) if n is None else n

    __format__ = int.__format__
    __hash__ = int.__hash__


def make_enum(name, members, module):
    cls = type(name, (enum,), {"__module__": module, "__doc__": None})
    names = {}
    values = {}
    for n, v in members:
        o = int.__new__(cls, v)
        o.__dict__["_name"] = n
        setattr(cls, n, o)
        names[n] = o
        values[v] = o
    cls.names = names
    cls.values = values
    return cls


def make_flags(name, members, module):
    ns = {"__module__": module, "__doc__": None}
    for n, v in members:
        ns[n] = v
    return type(name, (object,), ns)
"#;

/// Registry: manifest key -> class object.
static REGISTRY: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

fn build(py: Python<'_>) -> PyResult<Py<PyDict>> {
    let code = PyModule::from_code(py, ENUM_SRC, c"libtorrent/_enums.py", c"libtorrent._enums")?;
    let make_enum = code.getattr("make_enum")?;
    let make_flags = code.getattr("make_flags")?;
    let reg = PyDict::new(py);
    // enums first: a flag holder (protocol_type) may hold enum members.
    for pass_flags in [false, true] {
        for (key, is_flags, members) in ENUM_TABLE {
            if *is_flags != pass_flags {
                continue;
            }
            let short = key.rsplit('.').next().unwrap_or(key);
            let cls = if *is_flags {
                let list = PyList::empty(py);
                for (n, v) in members.iter() {
                    // protocol_type's members are portmap_protocol members
                    let val: Bound<'_, PyAny> = if *key == "protocol_type" {
                        enum_to_py_in(&reg, "portmap_protocol", *v)?
                    } else {
                        v.into_pyobject(py)?.into_any()
                    };
                    list.append(PyTuple::new(py, [n.into_pyobject(py)?.into_any(), val])?)?;
                }
                make_flags.call1((short, list, "libtorrent"))?
            } else {
                let list = PyList::empty(py);
                for (n, v) in members.iter() {
                    list.append((*n, *v))?;
                }
                make_enum.call1((short, list, "libtorrent"))?
            };
            reg.set_item(*key, cls)?;
        }
    }
    reg.set_item("_base", code.getattr("enum")?)?;
    Ok(reg.unbind())
}

fn registry(py: Python<'_>) -> PyResult<&Bound<'_, PyDict>> {
    Ok(REGISTRY.get_or_try_init(py, || build(py))?.bind(py))
}

fn lookup<'py>(reg: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyType>> {
    match reg.get_item(key)? {
        Some(c) => Ok(c.cast_into::<PyType>()?),
        None => Err(PyKeyError::new_err(format!("no such enum: {key}"))),
    }
}

fn enum_to_py_in<'py>(
    reg: &Bound<'py, PyDict>,
    key: &str,
    value: i64,
) -> PyResult<Bound<'py, PyAny>> {
    let cls = lookup(reg, key)?;
    let values = cls.getattr("values")?;
    if let Ok(d) = values.cast::<PyDict>() {
        if let Some(m) = d.get_item(value)? {
            return Ok(m);
        }
    }
    cls.call1((value,))
}

/// The class of an enum or flag holder, by manifest key (e.g.
/// `"torrent_status.states"`, `"alert.category_t"`, `"operation_t"`).
#[allow(dead_code)] // used by other binding files
pub fn enum_type<'py>(py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyType>> {
    lookup(registry(py)?, key)
}

/// The member of enum `key` with this value (a new unnamed instance when no
/// member has it, like the reference's converter).
#[allow(dead_code)] // used by other binding files
pub fn enum_to_py<'py>(py: Python<'py>, key: &str, value: i64) -> PyResult<Bound<'py, PyAny>> {
    enum_to_py_in(registry(py)?, key, value)
}

/// The integer value of `obj`, which must be an instance of enum `key`
/// (plain ints are rejected with `TypeError`, as the reference does).
#[allow(dead_code)] // used by other binding files
pub fn enum_from_py(obj: &Bound<'_, PyAny>, key: &str) -> PyResult<i64> {
    let cls = enum_type(obj.py(), key)?;
    if !obj.is_instance(&cls)? {
        let short = key.rsplit('.').next().unwrap_or(key);
        return Err(PyTypeError::new_err(format!(
            "expected a libtorrent.{short}, got {}",
            obj.get_type().name()?
        )));
    }
    obj.extract::<i64>()
}

/// Attach every enum/flag holder nested under `owner_name` (manifest keys
/// `"<owner_name>.<x>"`) to `owner` as class attributes. Call it from the
/// `register` of the file that defines the owner class, e.g.
/// `attach_nested(&torrent_status_type, "torrent_status")`. The members of
/// a nested *enum* are also set on the owner (`torrent_status.seeding`), as
/// the reference exports them into the enclosing class; flag holders'
/// members are not (`alert.category_t` only).
#[allow(dead_code)] // used by other binding files
pub fn attach_nested(owner: &Bound<'_, PyType>, owner_name: &str) -> PyResult<()> {
    let py = owner.py();
    let prefix = format!("{owner_name}.");
    for (key, is_flags, _) in ENUM_TABLE {
        if let Some(rest) = key.strip_prefix(&prefix) {
            owner.setattr(rest, enum_type(py, key)?)?;
            if !is_flags {
                attach_members(owner, key)?;
            }
        }
    }
    Ok(())
}

/// Set every member of enum `key` as a class attribute of `owner` (e.g.
/// `session.tcp`/`session.udp` from `portmap_protocol`).
#[allow(dead_code)] // used by other binding files
pub fn attach_members(owner: &Bound<'_, PyType>, key: &str) -> PyResult<()> {
    let py = owner.py();
    let cls = enum_type(py, key)?;
    let Some((_, _, members)) = ENUM_TABLE.iter().find(|(k, _, _)| *k == key) else {
        return Err(PyKeyError::new_err(format!("no such enum: {key}")));
    };
    for (name, _) in members.iter() {
        owner.setattr(*name, cls.getattr(*name)?)?;
    }
    Ok(())
}

/// Name of an `operation_t` value, as `libtorrent.operation_name()`.
#[pyfunction]
fn operation_name(op: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    let v = enum_from_py(op, "operation_t")?;
    Ok(lt_core::operation::operation_name(v))
}

/// Test hook (not exported by `libtorrent`): the class for a manifest key,
/// also for nested ones whose owner class is defined by another file.
#[pyfunction]
fn _enum_type<'py>(py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyType>> {
    enum_type(py, key)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(_enum_type, m)?)?;
    let reg = registry(py)?;
    for (key, _, _) in ENUM_TABLE {
        if !key.contains('.') {
            m.add(*key, lookup(reg, key)?)?;
        }
    }
    // proxy_type_t.proxy_type is the enum itself (a class alias in the manifest)
    let proxy = lookup(reg, "proxy_type_t")?;
    proxy.setattr("proxy_type", &proxy)?;
    m.add("create_ut_pex_plugin", "ut_pex")?;
    m.add("create_ut_metadata_plugin", "ut_metadata")?;
    m.add("create_smart_ban_plugin", "smart_ban")?;
    m.add_function(wrap_pyfunction!(operation_name, m)?)?;
    Ok(())
}
