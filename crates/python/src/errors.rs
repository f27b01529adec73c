//! Python bindings: `error_code`, `error_category` and the `*_category()`
//! functions.
//!
//! Helpers for other binding files (keep them stable):
//! - [`error_code_to_py`]: an `lt_core::error::ErrorCode` as a Python `error_code`;
//! - [`error_code_from_py`]: the value of a Python `error_code`.

use crate::convert::to_i32;
use lt_core::error::{Category, ErrorCode};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// A new Python `error_code` holding `ec`.
#[allow(dead_code)] // used by other binding files
pub fn error_code_to_py(py: Python<'_>, ec: ErrorCode) -> PyResult<Bound<'_, PyErrorCode>> {
    Bound::new(py, PyErrorCode { inner: ec })
}

/// The value of a Python `error_code`; `TypeError` for anything else.
#[allow(dead_code)] // used by other binding files
pub fn error_code_from_py(obj: &Bound<'_, PyAny>) -> PyResult<ErrorCode> {
    match obj.cast::<PyErrorCode>() {
        Ok(e) => Ok(e.borrow().inner),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected error_code, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// An error category (cannot be created from Python).
#[pyclass(
    module = "libtorrent",
    name = "error_category",
    frozen,
    skip_from_py_object
)]
pub struct PyErrorCategory {
    cat: Category,
}

fn category_of(obj: &Bound<'_, PyAny>) -> PyResult<Category> {
    match obj.cast::<PyErrorCategory>() {
        Ok(c) => Ok(c.get().cat),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected error_category, got {}",
            obj.get_type().name()?
        ))),
    }
}

#[pymethods]
impl PyErrorCategory {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Self> {
        Err(PyRuntimeError::new_err(
            "This class cannot be instantiated from Python",
        ))
    }

    fn name(&self) -> &'static str {
        self.cat.name()
    }

    fn message(&self, value: &Bound<'_, PyAny>) -> PyResult<String> {
        Ok(self.cat.message(to_i32(value)?))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        category_of(other).is_ok_and(|c| c == self.cat)
    }

    fn __ne__(&self, other: &Bound<'_, PyAny>) -> bool {
        !self.__eq__(other)
    }

    fn __lt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match category_of(other) {
            Ok(c) => Ok((self.cat < c)
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind()),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> isize {
        self.cat as isize + 1
    }
}

fn category_to_py(py: Python<'_>, cat: Category) -> PyResult<Bound<'_, PyErrorCategory>> {
    Bound::new(py, PyErrorCategory { cat })
}

/// An error value and its category.
#[pyclass(module = "libtorrent", name = "error_code", skip_from_py_object)]
pub struct PyErrorCode {
    inner: ErrorCode,
}

#[pymethods]
impl PyErrorCode {
    #[new]
    #[pyo3(signature = (*args))]
    fn new(args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        match args.len() {
            0 => Ok(Self {
                inner: ErrorCode::default(),
            }),
            2 => Ok(Self {
                inner: ErrorCode::new(
                    to_i32(&args.get_item(0)?)?,
                    category_of(&args.get_item(1)?)?,
                ),
            }),
            n => Err(PyTypeError::new_err(format!(
                "error_code() takes no arguments or (value, category), {n} given"
            ))),
        }
    }

    fn value(&self) -> i32 {
        self.inner.value
    }

    fn message(&self) -> String {
        self.inner.message()
    }

    fn category<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyErrorCategory>> {
        category_to_py(py, self.inner.category)
    }

    fn clear(&mut self) {
        self.inner = ErrorCode::default();
    }

    fn assign(&mut self, value: &Bound<'_, PyAny>, category: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner = ErrorCode::new(to_i32(value)?, category_of(category)?);
        Ok(())
    }

    fn __getinitargs__<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }

    fn __getstate__(&self) -> (i32, &'static str) {
        (self.inner.value, self.inner.category.name())
    }

    fn __setstate__(&mut self, state: (i32, String)) -> PyResult<()> {
        let cat = Category::from_name(&state.1)
            .ok_or_else(|| PyValueError::new_err(format!("unknown error category: {}", state.1)))?;
        self.inner = ErrorCode::new(state.0, cat);
        Ok(())
    }
}

macro_rules! category_fns {
    ($($f:ident, $g:ident => $cat:expr;)*) => {
        $(
            #[pyfunction]
            fn $f(py: Python<'_>) -> PyResult<Bound<'_, PyErrorCategory>> {
                category_to_py(py, $cat)
            }
        )*
        $(
            #[pyfunction]
            fn $g(py: Python<'_>) -> PyResult<Bound<'_, PyErrorCategory>> {
                category_to_py(py, $cat)
            }
        )*
    };
}

category_fns! {
    libtorrent_category, get_libtorrent_category => Category::Libtorrent;
    bdecode_category, get_bdecode_category => Category::Bdecode;
    http_category, get_http_category => Category::Http;
    i2p_category, get_i2p_category => Category::I2p;
    socks_category, get_socks_category => Category::Socks;
    upnp_category, get_upnp_category => Category::Upnp;
}

#[pyfunction]
fn generic_category(py: Python<'_>) -> PyResult<Bound<'_, PyErrorCategory>> {
    category_to_py(py, Category::Generic)
}

#[pyfunction]
fn system_category(py: Python<'_>) -> PyResult<Bound<'_, PyErrorCategory>> {
    category_to_py(py, Category::System)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyErrorCategory>()?;
    m.add_class::<PyErrorCode>()?;
    m.add_function(wrap_pyfunction!(generic_category, m)?)?;
    m.add_function(wrap_pyfunction!(system_category, m)?)?;
    m.add_function(wrap_pyfunction!(libtorrent_category, m)?)?;
    m.add_function(wrap_pyfunction!(bdecode_category, m)?)?;
    m.add_function(wrap_pyfunction!(http_category, m)?)?;
    m.add_function(wrap_pyfunction!(i2p_category, m)?)?;
    m.add_function(wrap_pyfunction!(socks_category, m)?)?;
    m.add_function(wrap_pyfunction!(upnp_category, m)?)?;
    m.add_function(wrap_pyfunction!(get_libtorrent_category, m)?)?;
    m.add_function(wrap_pyfunction!(get_bdecode_category, m)?)?;
    m.add_function(wrap_pyfunction!(get_http_category, m)?)?;
    m.add_function(wrap_pyfunction!(get_i2p_category, m)?)?;
    m.add_function(wrap_pyfunction!(get_socks_category, m)?)?;
    m.add_function(wrap_pyfunction!(get_upnp_category, m)?)?;
    Ok(())
}
