//! Python bindings: settings dictionaries, presets and session statistics
//! metrics.
//!
//! Conversion helpers for the session bindings (keep them stable):
//! - [`dict_to_pack`]: a settings `dict` (as given to `session(dict)`,
//!   `apply_settings`) to a [`SettingsPack`], validating like the reference:
//!   unknown names raise `KeyError("unknown name in settings_pack: <name>")`,
//!   values of the wrong type raise `TypeError`, ints beyond 64 bits raise
//!   `OverflowError`; nothing is applied when any item fails;
//! - [`pack_to_dict`]: the values set in a pack (what `default_settings()`
//!   and the presets return);
//! - [`settings_to_dict`]: all 266 settings (what `get_settings()` returns).

use lt_settings::metrics::{self, MetricType};
use lt_settings::{SettingIndex, SettingType, Settings, SettingsPack, Value};
use pyo3::exceptions::{PyKeyError, PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString};

fn no_converter(cpp: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let tname = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned());
    PyTypeError::new_err(format!(
        "No registered converter was able to produce a C++ rvalue of type {cpp} \
         from this Python object of type {tname}"
    ))
}

/// A Python `str` or (UTF-8) `bytes` as a Rust string.
fn extract_string(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        // the reference keeps invalid UTF-8 and fails when reading it back;
        // we refuse it here with the same exception type
        return match std::str::from_utf8(b.as_bytes()) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(obj
                .py()
                .import("builtins")?
                .getattr("bytes")?
                .getattr("decode")?
                .call1((obj, "utf-8"))
                .err()
                .unwrap_or_else(|| PyTypeError::new_err("invalid UTF-8"))),
        };
    }
    Err(no_converter("std::string", obj))
}

/// A settings value of type `ty` from a Python object, converted the way the
/// reference does: ints are read as a C long and truncated to 32 bits,
/// booleans accept any int (and `None` as false), strings accept `str` and
/// `bytes`.
pub fn value_from_py(ty: SettingType, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    match ty {
        SettingType::Str => Ok(Value::Str(extract_string(obj)?)),
        SettingType::Int => {
            if !obj.is_instance_of::<PyInt>() {
                return Err(no_converter("long", obj));
            }
            match obj.extract::<i64>() {
                // truncation to the setting's 32 bits, as the reference does
                Ok(v) => Ok(Value::Int(v as i32)),
                Err(_) => Err(PyOverflowError::new_err(
                    "Python int too large to convert to C long",
                )),
            }
        }
        SettingType::Bool => {
            if obj.is_none() {
                Ok(Value::Bool(false))
            } else if obj.is_instance_of::<PyInt>() {
                Ok(Value::Bool(obj.is_truthy()?))
            } else {
                Err(no_converter("bool", obj))
            }
        }
    }
}

/// A settings `dict` as a [`SettingsPack`] (see the module docs).
pub fn dict_to_pack(d: &Bound<'_, PyDict>) -> PyResult<SettingsPack> {
    let mut pack = SettingsPack::new();
    for (k, v) in d.iter() {
        let name = extract_string(&k)?;
        let idx = SettingIndex::from_name(&name)
            .ok_or_else(|| PyKeyError::new_err(format!("unknown name in settings_pack: {name}")))?;
        // the reference reads the value back by the converted (str) key
        let v = if k.is_instance_of::<PyString>() {
            v
        } else {
            match d.get_item(&name)? {
                Some(v) => v,
                None => return Err(PyKeyError::new_err(name)),
            }
        };
        let value = value_from_py(idx.setting_type(), &v)?;
        pack.set(idx, value)
            .map_err(|e| PyTypeError::new_err(e.to_string()))?;
    }
    Ok(pack)
}

/// A settings value as a Python object.
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
    })
}

/// The values set in `pack`, keyed by name, in index order.
pub fn pack_to_dict<'py>(py: Python<'py>, pack: &SettingsPack) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (idx, v) in pack.iter() {
        d.set_item(idx.name(), value_to_py(py, v)?)?;
    }
    Ok(d)
}

/// Every setting of `s`, keyed by name, in index order.
pub fn settings_to_dict<'py>(py: Python<'py>, s: &Settings) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (idx, v) in s.iter() {
        d.set_item(idx.name(), value_to_py(py, &v)?)?;
    }
    Ok(d)
}

/// The default value of every setting (the string settings without a
/// default are left out).
#[pyfunction]
fn default_settings(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    pack_to_dict(py, &SettingsPack::defaults())
}

/// The settings `high_performance_seed` changes, for a seed serving many peers.
#[pyfunction]
fn high_performance_seed(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    pack_to_dict(py, &lt_settings::high_performance_seed())
}

/// The settings `min_memory_usage` changes, to keep memory use low.
#[pyfunction]
fn min_memory_usage(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    pack_to_dict(py, &lt_settings::min_memory_usage())
}

/// One session statistics metric.
#[pyclass(module = "libtorrent", name = "stats_metric", skip_from_py_object)]
pub struct PyStatsMetric {
    name: Option<&'static str>,
    value_index: usize,
    kind: MetricType,
}

#[pymethods]
impl PyStatsMetric {
    #[new]
    fn new() -> Self {
        Self {
            name: None,
            value_index: 0,
            kind: MetricType::Counter,
        }
    }

    #[getter]
    fn name(&self) -> Option<&'static str> {
        self.name
    }

    #[getter]
    fn value_index(&self) -> usize {
        self.value_index
    }

    #[getter(r#type)]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::enums::enum_to_py(py, "metric_type_t", self.kind as i64)
    }
}

/// Every session statistics metric, in libtorrent's order.
#[pyfunction]
fn session_stats_metrics(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for m in metrics::metrics() {
        list.append(Bound::new(
            py,
            PyStatsMetric {
                name: Some(m.name),
                value_index: m.value_index,
                kind: m.kind,
            },
        )?)?;
    }
    Ok(list)
}

/// Value index of the metric called `name`, or -1.
#[pyfunction]
fn find_metric_idx(name: &Bound<'_, PyAny>) -> PyResult<i64> {
    let Ok(s) = name.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "find_metric_idx() argument must be str, not {}",
            name.get_type().name()?
        )));
    };
    Ok(metrics::find_metric_idx(&s.to_cow()?)
        .map(|i| i as i64)
        .unwrap_or(-1))
}

/// Test hook (not exported by `libtorrent`): validates a settings dict the
/// way `session(dict)`/`apply_settings` do and returns the resulting pack.
#[pyfunction]
fn _settings_pack_from_dict<'py>(d: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    pack_to_dict(d.py(), &dict_to_pack(d)?)
}

/// Test hook: all settings after applying a settings dict to the defaults.
#[pyfunction]
fn _settings_after_apply<'py>(d: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    settings_to_dict(d.py(), &Settings::from_pack(&dict_to_pack(d)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_settings_pack_from_dict, m)?)?;
    m.add_function(wrap_pyfunction!(_settings_after_apply, m)?)?;
    m.add_function(wrap_pyfunction!(default_settings, m)?)?;
    m.add_function(wrap_pyfunction!(high_performance_seed, m)?)?;
    m.add_function(wrap_pyfunction!(min_memory_usage, m)?)?;
    m.add_function(wrap_pyfunction!(session_stats_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(find_metric_idx, m)?)?;
    m.add_class::<PyStatsMetric>()?;
    m.add_class::<PyPeSettings>()?;
    m.add_class::<PyDhtSettings>()?;
    Ok(())
}

macro_rules! property_bag {
    ($rs:ident, $pyname:literal, { $($field:ident : $ty:ty = $default:expr, $conv:path;)* }) => {
        #[pyclass(module = "libtorrent", name = $pyname, skip_from_py_object)]
        #[derive(Clone)]
        pub struct $rs {
            $(pub $field: $ty,)*
        }

        impl Default for $rs {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        #[pymethods]
        impl $rs {
            #[new]
            fn new() -> Self {
                Self::default()
            }

            fn __reduce__(&self) -> PyResult<()> {
                Err(pyo3::exceptions::PyRuntimeError::new_err(concat!(
                    "Pickling of \"libtorrent.", $pyname,
                    "\" instances is not enabled (http://www.boost.org/libs/python/doc/v2/pickle.html)"
                )))
            }

            $(
                #[getter]
                fn $field(&self) -> $ty {
                    self.$field
                }
            )*

            fn __setattr__(
                slf: &Bound<'_, Self>,
                name: &str,
                value: &Bound<'_, PyAny>,
            ) -> PyResult<()> {
                if slf.borrow_mut().set_field(name, value)? {
                    return Ok(());
                }
                Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                    "'{}' object has no attribute '{name}'",
                    $pyname
                )))
            }
        }

        impl $rs {
            fn set_field(&mut self, name: &str, v: &Bound<'_, PyAny>) -> PyResult<bool> {
                match name {
                    $(stringify!($field) => {
                        self.$field = $conv(v)?;
                        Ok(true)
                    })*
                    _ => Ok(false),
                }
            }
        }
    };
}

property_bag!(PyPeSettings, "pe_settings", {
    out_enc_policy: u8 = 1, crate::convert::to_u8;
    in_enc_policy: u8 = 1, crate::convert::to_u8;
    allowed_enc_level: u8 = 3, crate::convert::to_u8;
    prefer_rc4: bool = false, crate::convert::to_bool;
});

property_bag!(PyDhtSettings, "dht_settings", {
    max_peers_reply: i32 = 100, crate::convert::to_i32;
    search_branching: i32 = 5, crate::convert::to_i32;
    max_fail_count: i32 = 20, crate::convert::to_i32;
    max_torrents: i32 = 2000, crate::convert::to_i32;
    max_dht_items: i32 = 700, crate::convert::to_i32;
    max_torrent_search_reply: i32 = 20, crate::convert::to_i32;
    restrict_routing_ips: bool = true, crate::convert::to_bool;
    restrict_search_ips: bool = true, crate::convert::to_bool;
    extended_routing_table: bool = true, crate::convert::to_bool;
    aggressive_lookups: bool = true, crate::convert::to_bool;
    privacy_lookups: bool = false, crate::convert::to_bool;
    enforce_node_id: bool = false, crate::convert::to_bool;
    ignore_dark_internet: bool = true, crate::convert::to_bool;
    block_timeout: i32 = 300, crate::convert::to_i32;
    block_ratelimit: i32 = 5, crate::convert::to_i32;
    read_only: bool = false, crate::convert::to_bool;
    item_lifetime: i32 = 0, crate::convert::to_i32;
});
