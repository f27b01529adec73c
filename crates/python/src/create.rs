//! Python bindings: creating torrents (`create_torrent`, `create_file_entry`,
//! `list_files`, `add_files`, `set_piece_hashes`).

use std::path::PathBuf;

use pyo3::exceptions::{
    PyDeprecationWarning, PyIndexError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use lt_bencode::Value;
use lt_core::Sha1Hash;
use lt_metainfo::create::{self, flags, CreateError, CreateFileEntry, CreateTorrent};
use lt_metainfo::{FileFlags, FileStorage};

use crate::metainfo::{PyFileStorage, PyTorrentInfo};

fn deprecated(py: Python<'_>, msg: &std::ffi::CStr) -> PyResult<()> {
    PyErr::warn(py, &py.get_type::<PyDeprecationWarning>(), msg, 1)
}

/// Converts a creation error into the exception the reference raises.
fn create_err(e: CreateError) -> PyErr {
    match &e {
        CreateError::InvalidPieceIndex => PyIndexError::new_err("invalid piece index"),
        CreateError::FileIndexOutOfRange => PyIndexError::new_err("file index out of range"),
        CreateError::Io(io) => match io.raw_os_error() {
            Some(n) => {
                let msg = io.to_string();
                let msg = msg
                    .strip_suffix(&format!(" (os error {n})"))
                    .unwrap_or(&msg);
                PyRuntimeError::new_err(format!("{msg} [system:{n}]"))
            }
            None => PyRuntimeError::new_err(io.to_string()),
        },
        _ => match e.code() {
            Some((cat, n)) => PyRuntimeError::new_err(format!("{} [{}:{}]", e.message(), cat, n)),
            None => PyRuntimeError::new_err(e.message()),
        },
    }
}

/// An integer flags argument: an `int` or anything with `__int__`/`__index__`
/// (the flag objects of the module).
fn flags_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<u32> {
    let Some(obj) = obj else { return Ok(0) };
    if obj.is_none() {
        return Ok(0);
    }
    let v: i64 = match obj.extract() {
        Ok(v) => v,
        Err(_) => obj
            .call_method0("__int__")
            .and_then(|i| i.extract())
            .map_err(|_| PyTypeError::new_err("flags must be an integer"))?,
    };
    u32::try_from(v).map_err(|_| PyValueError::new_err("invalid flags"))
}

/// A path argument: `str`, `bytes` or `os.PathLike`.
fn path_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.extract::<String>() {
        return Ok(s);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    let fspath = obj.py().import("os")?.getattr("fspath")?.call1((obj,))?;
    if let Ok(s) = fspath.extract::<String>() {
        return Ok(s);
    }
    Err(PyTypeError::new_err("expected a str path"))
}

/// A SHA-1 argument: 20 `bytes`, or an object with `to_bytes()` (`sha1_hash`).
fn sha1_arg(obj: &Bound<'_, PyAny>) -> PyResult<Sha1Hash> {
    if let Ok(h) = crate::hashes::sha1_from_py(obj) {
        return Ok(h);
    }
    let raw: Vec<u8> = if let Ok(b) = obj.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if let Ok(s) = obj.extract::<String>() {
        s.into_bytes()
    } else if obj.hasattr("to_bytes")? {
        obj.call_method0("to_bytes")?.extract()?
    } else {
        return Err(PyTypeError::new_err("expected a 20 byte hash"));
    };
    if raw.len() < 20 {
        return Err(PyValueError::new_err("short hash length"));
    }
    Sha1Hash::from_slice(&raw[..20]).map_err(|_| PyValueError::new_err("short hash length"))
}

/// A bencode value as the Python objects `bdecode` gives: `int`, `bytes`,
/// `list` and `dict` with `bytes` keys.
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::List(l) => {
            let out = PyList::empty(py);
            for x in l {
                out.append(value_to_py(py, x)?)?;
            }
            out.into_any()
        }
        Value::Dict(d) => {
            let out = PyDict::new(py);
            for (k, x) in d {
                out.set_item(PyBytes::new(py, k), value_to_py(py, x)?)?;
            }
            out.into_any()
        }
    })
}

/// A file to put in a torrent (`create_file_entry`).
#[pyclass(module = "libtorrent", name = "create_file_entry", from_py_object)]
#[derive(Clone)]
pub struct PyCreateFileEntry {
    pub entry: CreateFileEntry,
}

#[pymethods]
impl PyCreateFileEntry {
    #[new]
    #[pyo3(signature = (filename, size, flags = None, mtime = 0, symlink = String::new()))]
    fn new(
        filename: &Bound<'_, PyAny>,
        size: i64,
        flags: Option<&Bound<'_, PyAny>>,
        mtime: i64,
        symlink: String,
    ) -> PyResult<Self> {
        let fl = flags_arg(flags)?;
        Ok(PyCreateFileEntry {
            entry: CreateFileEntry {
                path: path_arg(filename)?,
                size,
                flags: FileFlags::from_bits((fl & 0xff) as u8),
                mtime,
                symlink,
            },
        })
    }
    #[getter]
    fn filename(&self) -> String {
        self.entry.path.clone()
    }
    #[getter]
    fn size(&self) -> i64 {
        self.entry.size
    }
    /// The file flags as an int (the reference cannot convert them and raises
    /// `TypeError`).
    #[getter]
    fn flags(&self) -> u8 {
        self.entry.flags.bits()
    }
    #[getter]
    fn mtime(&self) -> i64 {
        self.entry.mtime
    }
    #[getter]
    fn symlink(&self) -> String {
        self.entry.symlink.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "create_file_entry({:?}, {})",
            self.entry.path, self.entry.size
        )
    }
}

/// A torrent being created.
///
/// As in the reference, the torrent is generated from the files it was
/// created with; `files()` hands out a `file_storage` holding a copy of them,
/// the same object on every call, whose changes do not reach the torrent.
#[pyclass(module = "libtorrent", name = "create_torrent")]
pub struct PyCreateTorrent {
    ct: CreateTorrent,
    fs: FileStorage,
    view: Option<Py<PyFileStorage>>,
}

impl PyCreateTorrent {
    fn from_entries(entries: &[CreateFileEntry], piece_size: i32, fl: u32) -> PyResult<Self> {
        let fs = create::layout_files(entries, piece_size, fl).map_err(create_err)?;
        let ct = CreateTorrent::new(&fs, fl);
        Ok(PyCreateTorrent { ct, fs, view: None })
    }

    /// Runs `f` on the files of the torrent.
    pub fn with_fs<R>(&self, _py: Python<'_>, f: impl FnOnce(&FileStorage) -> R) -> R {
        f(&self.fs)
    }
}

#[pymethods]
#[allow(non_upper_case_globals)]
impl PyCreateTorrent {
    #[classattr]
    const optimize_alignment: u32 = flags::OPTIMIZE_ALIGNMENT;
    #[classattr]
    const merkle: u32 = flags::MERKLE;
    #[classattr]
    const modification_time: u32 = flags::MODIFICATION_TIME;
    #[classattr]
    const symlinks: u32 = flags::SYMLINKS;
    #[classattr]
    const v2_only: u32 = flags::V2_ONLY;
    #[classattr]
    const v1_only: u32 = flags::V1_ONLY;
    #[classattr]
    const canonical_files: u32 = flags::CANONICAL_FILES;
    #[classattr]
    const no_attributes: u32 = flags::NO_ATTRIBUTES;
    #[classattr]
    const canonical_files_no_tail_padding: u32 = flags::CANONICAL_FILES_NO_TAIL_PADDING;

    #[new]
    #[pyo3(signature = (files, piece_size = 0, flags = None))]
    fn new(
        files: &Bound<'_, PyAny>,
        piece_size: i64,
        flags: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let piece_size = i32::try_from(piece_size).map_err(|_| {
            pyo3::exceptions::PyOverflowError::new_err("bad numeric conversion: positive overflow")
        })?;
        let fl = flags_arg(flags)?;
        let py = files.py();
        if let Ok(fs_obj) = files.cast::<PyFileStorage>() {
            deprecated(
                py,
                c"create_torrent constructor from file_storage is deprecated",
            )?;
            // like the reference, the caller's file_storage is laid out in
            // place (sorted, padded); the torrent keeps its own copy
            let entries = create::entries_of(&fs_obj.borrow().inner);
            let laid = create::layout_files(&entries, piece_size, fl).map_err(create_err)?;
            let ct = CreateTorrent::new(&laid, fl);
            fs_obj.borrow_mut().inner = laid.clone();
            return Ok(PyCreateTorrent {
                ct,
                fs: laid,
                view: None,
            });
        }
        if let Ok(ti) = files.cast::<PyTorrentInfo>() {
            let (fs, ct) = CreateTorrent::from_torrent_info(&ti.borrow().inner);
            return Ok(PyCreateTorrent { ct, fs, view: None });
        }
        if let Ok(list) = files.cast::<PyList>() {
            let mut entries = Vec::with_capacity(list.len());
            for item in list.iter() {
                let e = item
                    .extract::<PyCreateFileEntry>()
                    .map_err(|_| PyTypeError::new_err("expected a list of create_file_entry"))?;
                entries.push(e.entry);
            }
            return Self::from_entries(&entries, piece_size, fl);
        }
        if let Ok(e) = files.extract::<PyCreateFileEntry>() {
            return Self::from_entries(&[e.entry], piece_size, fl);
        }
        // any other iterable of create_file_entry
        if let Ok(it) = files.try_iter() {
            let mut entries = Vec::new();
            for item in it {
                let e = item?
                    .extract::<PyCreateFileEntry>()
                    .map_err(|_| PyTypeError::new_err("expected a list of create_file_entry"))?;
                entries.push(e.entry);
            }
            return Self::from_entries(&entries, piece_size, fl);
        }
        Err(PyTypeError::new_err(
            "create_torrent() expects a list of create_file_entry",
        ))
    }

    #[pyo3(signature = (announce_url, tier = None))]
    fn add_tracker(&mut self, announce_url: &str, tier: Option<i32>) {
        self.ct.add_tracker(announce_url, tier.unwrap_or(0));
    }
    fn add_url_seed(&mut self, url: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ct.add_url_seed(&path_arg(url)?);
        Ok(())
    }
    fn add_http_seed(&mut self, url: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ct.add_http_seed(&path_arg(url)?);
        Ok(())
    }
    /// `add_node(host, port)` or `add_node((host, port))`.
    #[pyo3(signature = (host, port = None))]
    fn add_node(&mut self, host: &Bound<'_, PyAny>, port: Option<i32>) -> PyResult<()> {
        let (h, p): (String, i32) = match port {
            Some(p) => (host.extract()?, p),
            None => host.extract()?,
        };
        self.ct.add_node(&h, p);
        Ok(())
    }
    fn add_collection(&mut self, c: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ct.add_collection(&path_arg(c)?);
        Ok(())
    }
    fn add_similar_torrent(&mut self, ih: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ct.add_similar_torrent(sha1_arg(ih)?);
        Ok(())
    }
    fn set_comment(&mut self, c: &str) {
        self.ct.set_comment(c);
    }
    fn set_creator(&mut self, c: &str) {
        self.ct.set_creator(c);
    }
    fn set_creation_date(&mut self, t: i64) {
        self.ct.set_creation_date(t);
    }
    fn set_priv(&mut self, p: bool) {
        self.ct.set_priv(p);
    }
    fn r#priv(&self) -> bool {
        self.ct.is_private()
    }
    fn set_root_cert(&mut self, pem: &Bound<'_, PyAny>) -> PyResult<()> {
        let b: Vec<u8> = if let Ok(s) = pem.extract::<String>() {
            s.into_bytes()
        } else {
            pem.extract()?
        };
        self.ct.set_root_cert(&b);
        Ok(())
    }
    fn set_hash(&mut self, piece: i64, h: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = sha1_arg(h)?;
        let piece =
            i32::try_from(piece).map_err(|_| PyIndexError::new_err("invalid piece index"))?;
        self.ct.set_hash(piece, hash).map_err(create_err)
    }
    fn set_file_hash(&mut self, file: i64, h: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = sha1_arg(h)?;
        let file =
            usize::try_from(file).map_err(|_| PyIndexError::new_err("file index out of range"))?;
        self.ct.set_file_hash(file, hash).map_err(create_err)
    }
    fn piece_length(&self) -> i32 {
        self.ct.piece_length()
    }
    fn piece_size(&self, py: Python<'_>, piece: i64) -> PyResult<i32> {
        let piece =
            i32::try_from(piece).map_err(|_| PyIndexError::new_err("invalid piece index"))?;
        self.with_fs(py, |fs| self.ct.piece_size(fs, piece))
            .map_err(create_err)
    }
    /// The torrent's files: a `file_storage` holding a copy of them (the
    /// same object on every call).
    fn files(&mut self, py: Python<'_>) -> PyResult<Py<PyFileStorage>> {
        if let Some(v) = &self.view {
            return Ok(v.clone_ref(py));
        }
        let obj = Py::new(
            py,
            PyFileStorage {
                inner: self.fs.clone(),
            },
        )?;
        self.view = Some(obj.clone_ref(py));
        Ok(obj)
    }
    fn num_pieces(&self) -> i32 {
        self.ct.num_pieces()
    }
    /// The torrent as a dictionary of bencode values (`bencode()` it to get
    /// the .torrent file).
    fn generate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = self
            .with_fs(py, |fs| self.ct.generate(fs))
            .map_err(create_err)?;
        let out = value_to_py(py, &v)?;
        if let Some(raw) = self.ct.raw_info() {
            // a re-created torrent keeps its info dictionary verbatim: like
            // the reference, hand it out as preformatted bencode (a tuple of
            // signed byte values, which `bencode()` writes as is)
            let bytes: Vec<i8> = raw.iter().map(|&b| b as i8).collect();
            out.set_item(PyBytes::new(py, b"info"), PyTuple::new(py, bytes)?)?;
        }
        Ok(out)
    }
    /// The bencoded torrent as a list of one-character strings (the shape the
    /// reference returns; bytes above 0x7f map to the same code point).
    fn generate_buf<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let buf = self
            .with_fs(py, |fs| self.ct.generate_buf(fs))
            .map_err(create_err)?;
        let mut chars = Vec::with_capacity(buf.len());
        for b in buf {
            chars.push(PyString::new(py, char::from(b).encode_utf8(&mut [0u8; 4])));
        }
        PyList::new(py, chars)
    }
}

/// `list_files(path, [predicate], flags=0)`.
#[pyfunction]
#[pyo3(signature = (path, predicate = None, flags = None))]
fn list_files(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    predicate: Option<&Bound<'_, PyAny>>,
    flags: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<PyCreateFileEntry>> {
    let root = PathBuf::from(path_arg(path)?);
    let fl = flags_arg(flags)?;
    let entries = list_with_predicate(py, &root, fl, predicate)?;
    Ok(entries
        .into_iter()
        .map(|entry| PyCreateFileEntry { entry })
        .collect())
}

/// Walks `root`, calling the Python predicate (if any) for every path.
pub fn list_with_predicate(
    py: Python<'_>,
    root: &std::path::Path,
    fl: u32,
    predicate: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<CreateFileEntry>> {
    let _ = py;
    let mut err: Option<PyErr> = None;
    let entries = create::list_files(root, fl, |p| {
        let Some(pred) = predicate.filter(|p| !p.is_none()) else {
            return true;
        };
        if err.is_some() {
            return false;
        }
        match pred.call1((p,)).and_then(|r| r.is_truthy()) {
            Ok(b) => b,
            Err(e) => {
                err = Some(e);
                false
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(entries),
    }
}

/// `add_files(fs, path, [predicate], flags=0)` (deprecated in favour of
/// `list_files`): appends the files below `path` to `fs`.
#[pyfunction]
#[pyo3(signature = (fs, path, predicate = None, flags = None))]
fn add_files(
    py: Python<'_>,
    fs: &Bound<'_, PyFileStorage>,
    path: &Bound<'_, PyAny>,
    predicate: Option<&Bound<'_, PyAny>>,
    flags: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    deprecated(py, c"add_files is deprecated, use list_files() instead")?;
    let root = PathBuf::from(path_arg(path)?);
    let fl = flags_arg(flags)?;
    let entries = list_with_predicate(py, &root, fl, predicate)?;
    let mut fs = fs.borrow_mut();
    for e in entries {
        fs.inner
            .add_file(&e.path, e.size, e.flags, e.mtime, &e.symlink)
            .map_err(|err| PyRuntimeError::new_err(format!("{err}")))?;
    }
    Ok(())
}

/// `set_piece_hashes(ct, path, [callback])`: reads the files below `path`
/// and sets every hash. The GIL is released while hashing and taken back
/// only to call `callback(piece_index)`.
#[pyfunction]
#[pyo3(signature = (ct, path, callback = None))]
fn set_piece_hashes(
    py: Python<'_>,
    ct: &Bound<'_, PyCreateTorrent>,
    path: &Bound<'_, PyAny>,
    callback: Option<Py<PyAny>>,
) -> PyResult<()> {
    let base = PathBuf::from(path_arg(path)?);
    let req = {
        let c = ct.borrow();
        c.with_fs(py, |fs| c.ct.hash_request(fs, &base, 0))
    };
    let callback = callback.filter(|c| !c.is_none(py));
    let mut cb_err: Option<PyErr> = None;
    let result = py.detach(|| {
        lt_metainfo::hasher::hash_files(&req, |piece| match &callback {
            None => true,
            Some(cb) => Python::attach(|py| match cb.call1(py, (piece,)) {
                Ok(_) => true,
                Err(e) => {
                    cb_err = Some(e);
                    false
                }
            }),
        })
    });
    if let Some(e) = cb_err {
        return Err(e);
    }
    let out = result.map_err(|e| create_err(e.into()))?;
    ct.borrow_mut().ct.apply_hashes(out);
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCreateFileEntry>()?;
    m.add_class::<PyCreateTorrent>()?;
    m.add_function(wrap_pyfunction!(list_files, m)?)?;
    m.add_function(wrap_pyfunction!(set_piece_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(add_files, m)?)?;
    Ok(())
}
