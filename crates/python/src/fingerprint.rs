//! Python bindings: `fingerprint`, `generate_fingerprint(_bytes)`,
//! `client_fingerprint`, `identify_client`.

use crate::convert::to_i32;
use crate::hashes::sha1_from_py;
use lt_core::fingerprint::{self as fp, Fingerprint, FingerprintError};
use pyo3::exceptions::{PyDeprecationWarning, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

fn fp_err(e: FingerprintError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Bytes as a Python `str`, raising `UnicodeDecodeError` for invalid UTF-8
/// like the reference does.
fn utf8_str<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    PyBytes::new(py, b).call_method1("decode", ("utf-8",))
}

fn name_bytes(obj: &Bound<'_, PyAny>, allow_str: bool, allow_bytes: bool) -> PyResult<Vec<u8>> {
    if allow_str {
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(s.to_cow()?.as_bytes().to_vec());
        }
    }
    if allow_bytes {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(b.as_bytes().to_vec());
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return Ok(b.to_vec());
        }
    }
    Err(PyTypeError::new_err(format!(
        "fingerprint name must be {}, not {}",
        if allow_str { "str" } else { "bytes" },
        obj.get_type().name()?
    )))
}

/// A client code and version (deprecated in the reference).
#[pyclass(module = "libtorrent", name = "fingerprint", skip_from_py_object)]
pub struct PyFingerprint {
    inner: Fingerprint,
}

#[pymethods]
impl PyFingerprint {
    #[new]
    fn new(
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        major: &Bound<'_, PyAny>,
        minor: &Bound<'_, PyAny>,
        revision: &Bound<'_, PyAny>,
        tag: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        PyErr::warn(
            py,
            &py.get_type::<PyDeprecationWarning>(),
            c"the fingerprint class is deprecated",
            1,
        )?;
        let name = name_bytes(name, true, false)?;
        let (major, minor, revision, tag) = (
            to_i32(major)?,
            to_i32(minor)?,
            to_i32(revision)?,
            to_i32(tag)?,
        );
        fp::generate_fingerprint(&name, major, minor, revision, tag).map_err(fp_err)?;
        Ok(Self {
            inner: Fingerprint {
                name: [name[0], name[1]],
                major,
                minor,
                revision,
                tag,
            },
        })
    }

    fn __str__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        utf8_str(py, &self.inner.to_bytes())
    }

    #[getter]
    fn major_version(&self) -> i32 {
        self.inner.major
    }

    #[getter]
    fn minor_version(&self) -> i32 {
        self.inner.minor
    }

    #[getter]
    fn revision_version(&self) -> i32 {
        self.inner.revision
    }

    #[getter]
    fn tag_version(&self) -> i32 {
        self.inner.tag
    }
}

/// The 8-character fingerprint `-NNabcd-` as `str`.
#[pyfunction]
fn generate_fingerprint<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    major: &Bound<'py, PyAny>,
    minor: &Bound<'py, PyAny>,
    revision: &Bound<'py, PyAny>,
    tag: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let name = name_bytes(name, true, true)?;
    let b = fp::generate_fingerprint(
        &name,
        to_i32(major)?,
        to_i32(minor)?,
        to_i32(revision)?,
        to_i32(tag)?,
    )
    .map_err(fp_err)?;
    utf8_str(py, &b)
}

/// The 8-byte fingerprint `-NNabcd-` as `bytes`.
#[pyfunction]
#[pyo3(signature = (name, major, minor=None, revision=None, tag=None))]
fn generate_fingerprint_bytes<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    major: &Bound<'py, PyAny>,
    minor: Option<&Bound<'py, PyAny>>,
    revision: Option<&Bound<'py, PyAny>>,
    tag: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let name = name_bytes(name, false, true)?;
    let opt = |o: Option<&Bound<'py, PyAny>>| o.map_or(Ok(0), to_i32);
    let b = fp::generate_fingerprint(
        &name,
        to_i32(major)?,
        opt(minor)?,
        opt(revision)?,
        opt(tag)?,
    )
    .map_err(fp_err)?;
    Ok(PyBytes::new(py, &b))
}

/// The client code and version in a peer id, or `None` (deprecated).
#[pyfunction]
fn client_fingerprint(py: Python<'_>, pid: &Bound<'_, PyAny>) -> PyResult<Option<PyFingerprint>> {
    let id = sha1_from_py(pid)?;
    PyErr::warn(
        py,
        &py.get_type::<PyDeprecationWarning>(),
        c"client_fingerprint is deprecated",
        1,
    )?;
    Ok(fp::client_fingerprint(&id.0).map(|inner| PyFingerprint { inner }))
}

/// A readable name and version of the client that made peer id `pid`.
#[pyfunction]
fn identify_client<'py>(py: Python<'py>, pid: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let id = sha1_from_py(pid)?;
    utf8_str(py, &fp::identify_client_bytes(&id.0))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFingerprint>()?;
    m.add_function(wrap_pyfunction!(generate_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(generate_fingerprint_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(client_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(identify_client, m)?)?;
    Ok(())
}
