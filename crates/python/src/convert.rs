//! Integer/bool argument conversion with the reference's (Boost.Python)
//! rules and messages: only `int` (and `bool`, an `int`) is accepted for
//! integers; out-of-range values raise `OverflowError`.

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyInt;

/// `TypeError` for an argument no converter accepts.
pub fn no_converter(cpp: &str, obj: &Bound<'_, PyAny>) -> PyErr {
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

fn as_long(obj: &Bound<'_, PyAny>, cpp: &str) -> PyResult<i64> {
    if !obj.is_instance_of::<PyInt>() {
        return Err(no_converter(cpp, obj));
    }
    obj.extract::<i64>()
        .map_err(|_| PyOverflowError::new_err("Python int too large to convert to C long"))
}

fn checked<T: TryFrom<i64>>(v: i64) -> PyResult<T> {
    T::try_from(v).map_err(|_| {
        PyOverflowError::new_err(if v < 0 {
            "bad numeric conversion: negative overflow"
        } else {
            "bad numeric conversion: positive overflow"
        })
    })
}

/// A C `int` argument.
pub fn to_i32(obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    checked(as_long(obj, "int")?)
}

/// A C `unsigned int` argument.
pub fn to_u32(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    let v = as_long(obj, "unsigned int")?;
    if v < 0 {
        return Err(PyOverflowError::new_err(
            "can't convert negative value to unsigned int",
        ));
    }
    checked(v)
}

/// A C `unsigned char` argument.
pub fn to_u8(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    checked(as_long(obj, "unsigned char")?)
}

/// A C++ `bool` argument: any `int`, or `None` (false).
pub fn to_bool(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    if obj.is_none() {
        Ok(false)
    } else if obj.is_instance_of::<PyInt>() {
        obj.is_truthy()
    } else {
        Err(no_converter("bool", obj))
    }
}
