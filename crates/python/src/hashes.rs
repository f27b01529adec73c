//! Python bindings: `sha1_hash` (alias `peer_id`), `sha256_hash`, `info_hash_t`.
//!
//! Conversion helpers for the other binding files are at the top; keep their
//! signatures stable:
//! - [`sha1_to_py`] / [`sha1_from_py`]
//! - [`sha256_to_py`] / [`sha256_from_py`]
//! - [`info_hash_to_py`] / [`info_hash_from_py`]

use lt_core::{InfoHash, ProtocolVersion, Sha1Hash, Sha256Hash};
use pyo3::exceptions::{PyDeprecationWarning, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};

// ---------------------------------------------------------------------------
// helpers for other binding files

/// A new Python `sha1_hash` holding `h`.
#[allow(dead_code)] // used by other binding files
pub fn sha1_to_py(py: Python<'_>, h: Sha1Hash) -> PyResult<Bound<'_, PySha1Hash>> {
    Bound::new(py, PySha1Hash { inner: h })
}

/// The digest of a Python `sha1_hash` (or `peer_id`); `TypeError` for anything else.
#[allow(dead_code)] // used by other binding files
pub fn sha1_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Sha1Hash> {
    match obj.cast::<PySha1Hash>() {
        Ok(h) => Ok(h.borrow().inner),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected sha1_hash, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// A new Python `sha256_hash` holding `h`.
#[allow(dead_code)] // used by other binding files
pub fn sha256_to_py(py: Python<'_>, h: Sha256Hash) -> PyResult<Bound<'_, PySha256Hash>> {
    Bound::new(py, PySha256Hash { inner: h })
}

/// The digest of a Python `sha256_hash`; `TypeError` for anything else.
#[allow(dead_code)] // used by other binding files
pub fn sha256_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Sha256Hash> {
    match obj.cast::<PySha256Hash>() {
        Ok(h) => Ok(h.borrow().inner),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected sha256_hash, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// A new Python `info_hash_t` holding `ih`.
#[allow(dead_code)] // used by other binding files
pub fn info_hash_to_py(py: Python<'_>, ih: InfoHash) -> PyResult<Bound<'_, PyInfoHash>> {
    Bound::new(py, PyInfoHash::from_value(py, ih)?)
}

/// The value of a Python `info_hash_t`; `TypeError` for anything else.
#[allow(dead_code)] // used by other binding files
pub fn info_hash_from_py(obj: &Bound<'_, PyAny>) -> PyResult<InfoHash> {
    match obj.cast::<PyInfoHash>() {
        Ok(h) => Ok(h.borrow().value(obj.py())),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected info_hash_t, got {}",
            obj.get_type().name()?
        ))),
    }
}

// ---------------------------------------------------------------------------

fn no_pickle(name: &str) -> PyErr {
    PyRuntimeError::new_err(format!(
        "Pickling of \"libtorrent.{name}\" instances is not enabled \
         (http://www.boost.org/libs/python/doc/v2/pickle.html)"
    ))
}

/// Python's hash of a digest: its first 8 bytes as a little-endian integer
/// (-1 is reserved by Python and becomes -2).
fn digest_hash(b: &[u8]) -> isize {
    let v = first_word(b) as isize;
    if v == -1 {
        -2
    } else {
        v
    }
}

/// The first 8 bytes of a digest as a little-endian integer.
fn first_word(b: &[u8]) -> i64 {
    let mut first = [0u8; 8];
    for (d, s) in first.iter_mut().zip(b) {
        *d = *s;
    }
    i64::from_le_bytes(first)
}

/// Bytes of a constructor argument: `bytes`, `bytearray` or (deprecated)
/// `str` as UTF-8. Short input is an error; long input is truncated with a
/// `DeprecationWarning`, like the reference.
fn digest_bytes<const N: usize>(arg: &Bound<'_, PyAny>, cls: &str) -> PyResult<[u8; N]> {
    let py = arg.py();
    let data: Vec<u8> = if let Ok(b) = arg.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if let Ok(b) = arg.cast::<PyByteArray>() {
        b.to_vec()
    } else if let Ok(s) = arg.cast::<PyString>() {
        let msg = std::ffi::CString::new(format!("{cls}('str') is deprecated"))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyErr::warn(py, &py.get_type::<PyDeprecationWarning>(), &msg, 1)?;
        s.to_cow()?.as_bytes().to_vec()
    } else {
        return Err(PyTypeError::new_err(format!(
            "{cls}() argument must be bytes or str, not {}",
            arg.get_type().name()?
        )));
    };
    if data.len() < N {
        return Err(PyValueError::new_err("short hash length"));
    }
    if data.len() > N {
        PyErr::warn(
            py,
            &py.get_type::<PyDeprecationWarning>(),
            c"long hash length. this will work, but is deprecated",
            1,
        )?;
    }
    let mut out = [0u8; N];
    out.copy_from_slice(&data[..N]);
    Ok(out)
}

macro_rules! digest_class {
    ($rs:ident, $pyname:literal, $inner:ty, $len:expr) => {
        #[pyclass(module = "libtorrent", name = $pyname, skip_from_py_object)]
        #[derive(Clone)]
        pub struct $rs {
            pub inner: $inner,
        }

        #[pymethods]
        impl $rs {
            #[new]
            #[pyo3(signature = (*args))]
            fn new(args: &Bound<'_, PyTuple>) -> PyResult<Self> {
                let inner = match args.len() {
                    0 => <$inner>::zero(),
                    1 => <$inner>::from(digest_bytes::<$len>(&args.get_item(0)?, $pyname)?),
                    n => {
                        return Err(PyTypeError::new_err(format!(
                            "{}() takes at most 1 argument ({n} given)",
                            $pyname
                        )))
                    }
                };
                Ok(Self { inner })
            }

            fn __str__(&self) -> String {
                self.inner.to_hex()
            }

            fn __hash__(&self) -> isize {
                digest_hash(self.inner.as_bytes())
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                match other.cast::<$rs>() {
                    Ok(o) => o.borrow().inner == self.inner,
                    Err(_) => false,
                }
            }

            fn __ne__(&self, other: &Bound<'_, PyAny>) -> bool {
                !self.__eq__(other)
            }

            fn __lt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                let py = other.py();
                match other.cast::<$rs>() {
                    Ok(o) => Ok((self.inner < o.borrow().inner)
                        .into_pyobject(py)?
                        .to_owned()
                        .into_any()
                        .unbind()),
                    Err(_) => Ok(py.NotImplemented()),
                }
            }

            fn __reduce__(&self) -> PyResult<()> {
                Err(no_pickle($pyname))
            }

            /// The digest as `bytes`.
            fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                PyBytes::new(py, self.inner.as_bytes())
            }

            /// The digest as `bytes` (same as `to_bytes`).
            fn to_string<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                PyBytes::new(py, self.inner.as_bytes())
            }

            fn is_all_zeros(&self) -> bool {
                self.inner.is_zero()
            }

            fn clear(&mut self) {
                self.inner.clear();
            }
        }
    };
}

digest_class!(PySha1Hash, "sha1_hash", Sha1Hash, 20);
digest_class!(PySha256Hash, "sha256_hash", Sha256Hash, 32);

/// `info_hash_t`: the v1 and v2 info-hashes of a torrent. `v1`/`v2` return
/// the contained hash objects themselves (so `ih.v1.clear()` changes `ih`,
/// as in the reference).
#[pyclass(module = "libtorrent", name = "info_hash_t", skip_from_py_object)]
pub struct PyInfoHash {
    v1: Py<PySha1Hash>,
    v2: Py<PySha256Hash>,
}

impl PyInfoHash {
    pub fn from_value(py: Python<'_>, ih: InfoHash) -> PyResult<Self> {
        Ok(Self {
            v1: Py::new(py, PySha1Hash { inner: ih.v1 })?,
            v2: Py::new(py, PySha256Hash { inner: ih.v2 })?,
        })
    }

    pub fn value(&self, py: Python<'_>) -> InfoHash {
        InfoHash::new(self.v1.borrow(py).inner, self.v2.borrow(py).inner)
    }
}

fn protocol_version(v: &Bound<'_, PyAny>) -> PyResult<ProtocolVersion> {
    match crate::enums::enum_from_py(v, "protocol_version")? {
        0 => Ok(ProtocolVersion::V1),
        1 => Ok(ProtocolVersion::V2),
        x => Err(PyValueError::new_err(format!(
            "invalid protocol_version: {x}"
        ))),
    }
}

#[pymethods]
impl PyInfoHash {
    #[new]
    #[pyo3(signature = (sha1_hash=None, sha256_hash=None))]
    fn new(
        py: Python<'_>,
        sha1_hash: Option<&Bound<'_, PyAny>>,
        sha256_hash: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        // one positional argument may be either kind, as in the reference
        let (mut v1, mut v2) = (Sha1Hash::zero(), Sha256Hash::zero());
        match (sha1_hash, sha256_hash) {
            (None, None) => {}
            (Some(a), None) => {
                if let Ok(h) = a.cast::<PySha256Hash>() {
                    v2 = h.borrow().inner;
                } else {
                    v1 = sha1_from_py(a)?;
                }
            }
            (None, Some(b)) => v2 = sha256_from_py(b)?,
            (Some(a), Some(b)) => {
                v1 = sha1_from_py(a)?;
                v2 = sha256_from_py(b)?;
            }
        }
        Self::from_value(py, InfoHash::new(v1, v2))
    }

    #[getter]
    fn v1(&self, py: Python<'_>) -> Py<PySha1Hash> {
        self.v1.clone_ref(py)
    }

    #[getter]
    fn v2(&self, py: Python<'_>) -> Py<PySha256Hash> {
        self.v2.clone_ref(py)
    }

    fn has_v1(&self, py: Python<'_>) -> bool {
        self.value(py).has_v1()
    }

    fn has_v2(&self, py: Python<'_>) -> bool {
        self.value(py).has_v2()
    }

    fn has(&self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.value(py).has(protocol_version(v)?))
    }

    fn get<'py>(&self, py: Python<'py>, v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PySha1Hash>> {
        sha1_to_py(py, self.value(py).get(protocol_version(v)?))
    }

    fn get_best<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PySha1Hash>> {
        sha1_to_py(py, self.value(py).best())
    }

    /// The xor of the first 8 bytes (little-endian) of v1 and v2.
    fn __hash__(&self, py: Python<'_>) -> isize {
        let ih = self.value(py);
        let v = first_word(ih.v1.as_bytes()) ^ first_word(ih.v2.as_bytes());
        if v == -1 {
            -2
        } else {
            v as isize
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyInfoHash>() {
            Ok(o) => o.borrow().value(other.py()) == self.value(other.py()),
            Err(_) => false,
        }
    }

    fn __ne__(&self, other: &Bound<'_, PyAny>) -> bool {
        !self.__eq__(other)
    }

    fn __lt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyInfoHash>() {
            Ok(o) => Ok((self.value(py) < o.borrow().value(py))
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind()),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(no_pickle("info_hash_t"))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySha1Hash>()?;
    m.add_class::<PySha256Hash>()?;
    m.add_class::<PyInfoHash>()?;
    m.add("peer_id", m.getattr("sha1_hash")?)?;
    Ok(())
}
