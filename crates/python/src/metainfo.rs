//! Python bindings: `file_storage`, `file_entry`, `file_slice`,
//! `peer_request`, `torrent_info`, `announce_entry`, `add_torrent_params`
//! and the `load_torrent_*` / `write_torrent_file*` functions.
//!
//! Helpers for other binding files (keep them stable):
//! - [`PyTorrentInfo`] wraps an `lt_metainfo::TorrentInfo` (`.inner`);
//! - [`PyAddTorrentParams`] is the `add_torrent_params` class;
//! - [`PyAnnounceEntry::from_tracker`] builds an `announce_entry`;
//! - [`metainfo_err`] turns a parse error into the reference's exception.

use std::collections::BTreeMap;
use std::sync::Arc;

use lt_core::{InfoHash, Sha1Hash};
use lt_metainfo::{
    FileFlags, FileStorage, LoadLimits, MetainfoError, NewFile, TorrentInfo, Tracker,
    TrackerSource, WebSeed, WebSeedKind,
};
use pyo3::exceptions::{PyDeprecationWarning, PyIndexError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::hashes::{
    info_hash_from_py, info_hash_to_py, sha1_from_py, sha1_to_py, sha256_from_py, sha256_to_py,
    PyInfoHash, PySha1Hash, PySha256Hash,
};

/// The exception the reference raises for a torrent that fails to load.
pub fn metainfo_err(e: MetainfoError) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

fn deprecated(py: Python<'_>, msg: &std::ffi::CStr) -> PyResult<()> {
    PyErr::warn(py, &py.get_type::<PyDeprecationWarning>(), msg, 1)
}

pub(crate) fn native(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("libtorrent._libtorrent")
}

// ---------------------------------------------------------------------------
// file_storage

#[pyclass(module = "libtorrent", name = "file_storage", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyFileStorage {
    pub inner: FileStorage,
}

fn file_index(fs: &FileStorage, idx: i64) -> PyResult<usize> {
    if idx < 0 || idx as u64 >= fs.num_files() as u64 {
        return Err(PyIndexError::new_err("invalid file index"));
    }
    Ok(idx as usize)
}

fn piece_index(fs: &FileStorage, idx: i64) -> PyResult<i32> {
    if idx < 0 || idx >= i64::from(fs.num_pieces()) {
        return Err(PyIndexError::new_err("invalid piece index"));
    }
    Ok(idx as i32)
}

fn fs_error(e: lt_metainfo::FileStorageError) -> PyErr {
    use lt_metainfo::FileStorageError as E;
    PyRuntimeError::new_err(match e {
        E::FileTooLarge => "File too large [generic:27]".to_owned(),
        E::InvalidLength => "invalid length of torrent [libtorrent:9]".to_owned(),
        E::TooManyFiles => "too many files in torrent [libtorrent:159]".to_owned(),
    })
}

/// A path argument: `str` or `bytes` (UTF-8, invalid bytes replaced).
fn path_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    if let Ok(p) = obj.py().import("os")?.getattr("fspath")?.call1((obj,)) {
        if let Ok(s) = p.cast::<PyString>() {
            return Ok(s.to_cow()?.into_owned());
        }
    }
    Err(PyTypeError::new_err(format!(
        "expected str or bytes, got {}",
        obj.get_type().name()?
    )))
}

fn flags_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<u8> {
    match obj {
        None => Ok(0),
        Some(o) => Ok((o.extract::<i64>()? & 0xff) as u8),
    }
}

fn file_entry_of(fs: &FileStorage, i: usize) -> PyFileEntry {
    let flags = fs.file_flags(i);
    PyFileEntry {
        path: fs.file_path(i, ""),
        symlink_path: fs.symlink(i),
        filehash: fs.hash(i),
        offset: fs.file_offset(i),
        size: fs.file_size(i),
        mtime: fs.mtime(i),
        pad_file: flags.contains(FileFlags::PAD_FILE),
        executable_attribute: flags.contains(FileFlags::EXECUTABLE),
        hidden_attribute: flags.contains(FileFlags::HIDDEN),
        symlink_attribute: flags.contains(FileFlags::SYMLINK),
    }
}

#[pymethods]
#[allow(non_upper_case_globals)]
impl PyFileStorage {
    #[classattr]
    const flag_pad_file: u8 = 1;
    #[classattr]
    const flag_hidden: u8 = 2;
    #[classattr]
    const flag_executable: u8 = 4;
    #[classattr]
    const flag_symlink: u8 = 8;

    #[new]
    fn new() -> Self {
        Self::default()
    }

    fn is_valid(&self) -> bool {
        self.inner.is_valid()
    }

    /// `add_file(path, size, flags=0, mtime=0, linkpath='')` or
    /// `add_file(file_entry)`.
    #[pyo3(signature = (path, size = None, flags = None, mtime = 0, linkpath = None))]
    fn add_file(
        &mut self,
        path: &Bound<'_, PyAny>,
        size: Option<i64>,
        flags: Option<&Bound<'_, PyAny>>,
        mtime: i64,
        linkpath: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if let Ok(fe) = path.cast::<PyFileEntry>() {
            let fe = fe.borrow();
            let mut fl = FileFlags::NONE;
            if fe.pad_file {
                fl |= FileFlags::PAD_FILE;
            }
            if fe.hidden_attribute {
                fl |= FileFlags::HIDDEN;
            }
            if fe.executable_attribute {
                fl |= FileFlags::EXECUTABLE;
            }
            if fe.symlink_attribute {
                fl |= FileFlags::SYMLINK;
            }
            self.inner
                .add_file_full(NewFile {
                    path: &fe.path,
                    size: fe.size,
                    flags: fl,
                    mtime: fe.mtime,
                    symlink: &fe.symlink_path,
                    root: None,
                    filehash: (!fe.filehash.is_zero()).then_some(fe.filehash),
                })
                .map_err(fs_error)?;
            return Ok(());
        }
        let p = path_arg(path)?;
        let Some(size) = size else {
            return Err(PyTypeError::new_err(
                "add_file() missing required argument 'size'",
            ));
        };
        let link = match linkpath {
            Some(l) => path_arg(l)?,
            None => String::new(),
        };
        self.inner
            .add_file(&p, size, FileFlags(flags_arg(flags)?), mtime, &link)
            .map_err(fs_error)?;
        Ok(())
    }

    fn num_files(&self) -> usize {
        self.inner.num_files()
    }

    fn at(&self, py: Python<'_>, index: i64) -> PyResult<PyFileEntry> {
        deprecated(py, c"at() is deprecated")?;
        let i = file_index(&self.inner, index)?;
        Ok(file_entry_of(&self.inner, i))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        deprecated(py, c"__len__() is deprecated")?;
        Ok(self.inner.num_files())
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        deprecated(py, c"__iter__ is deprecated")?;
        let items: Vec<PyFileEntry> = self
            .inner
            .file_range()
            .map(|i| file_entry_of(&self.inner, i))
            .collect();
        let list = PyList::new(
            py,
            items
                .into_iter()
                .map(|e| Bound::new(py, e))
                .collect::<PyResult<Vec<_>>>()?,
        )?;
        Ok(list.try_iter()?.into_any().unbind())
    }

    fn hash<'py>(&self, py: Python<'py>, index: i64) -> PyResult<Bound<'py, PySha1Hash>> {
        let i = file_index(&self.inner, index)?;
        sha1_to_py(py, self.inner.hash(i))
    }
    fn root<'py>(&self, py: Python<'py>, index: i64) -> PyResult<Bound<'py, PySha256Hash>> {
        let i = file_index(&self.inner, index)?;
        sha256_to_py(py, self.inner.root(i))
    }
    fn symlink(&self, index: i64) -> PyResult<String> {
        let i = file_index(&self.inner, index)?;
        Ok(self.inner.symlink(i))
    }
    fn file_index_for_root(&self, root: &Bound<'_, PyAny>) -> PyResult<i64> {
        let r = sha256_from_py(root)?;
        Ok(self.inner.file_index_for_root(&r).map_or(-1, |i| i as i64))
    }
    fn file_size(&self, index: i64) -> PyResult<i64> {
        Ok(self.inner.file_size(file_index(&self.inner, index)?))
    }
    fn file_offset(&self, index: i64) -> PyResult<i64> {
        Ok(self.inner.file_offset(file_index(&self.inner, index)?))
    }
    fn file_name(&self, index: i64) -> PyResult<String> {
        Ok(self
            .inner
            .file_name(file_index(&self.inner, index)?)
            .to_owned())
    }
    fn file_flags(&self, index: i64) -> PyResult<u8> {
        Ok(self
            .inner
            .file_flags(file_index(&self.inner, index)?)
            .bits())
    }
    fn file_absolute_path(&self, index: i64) -> PyResult<bool> {
        Ok(self
            .inner
            .file_absolute_path(file_index(&self.inner, index)?))
    }
    #[pyo3(signature = (idx, save_path = ""))]
    fn file_path(&self, idx: i64, save_path: &str) -> PyResult<String> {
        Ok(self
            .inner
            .file_path(file_index(&self.inner, idx)?, save_path))
    }
    fn rename_file(&mut self, index: i64, new_filename: &Bound<'_, PyAny>) -> PyResult<()> {
        let i = file_index(&self.inner, index)?;
        let p = path_arg(new_filename)?;
        self.inner.rename_file(i, &p);
        Ok(())
    }

    fn total_size(&self) -> i64 {
        self.inner.total_size()
    }
    fn size_on_disk(&self) -> i64 {
        self.inner.size_on_disk()
    }
    fn v2(&self) -> bool {
        self.inner.v2()
    }
    fn set_num_pieces(&mut self, n: i32) {
        self.inner.set_num_pieces(n);
    }
    fn num_pieces(&self) -> i32 {
        self.inner.num_pieces()
    }
    fn set_piece_length(&mut self, l: i32) {
        self.inner.set_piece_length(l);
    }
    fn piece_length(&self) -> i32 {
        self.inner.piece_length()
    }
    fn piece_size(&self, index: i64) -> PyResult<i32> {
        Ok(self.inner.piece_size(piece_index(&self.inner, index)?))
    }
    fn file_index_at_offset(&self, offset: i64) -> i64 {
        self.inner
            .file_index_at_offset(offset)
            .map_or(-1, |i| i as i64)
    }
    fn file_index_at_piece(&self, piece: i64) -> PyResult<i64> {
        let p = piece_index(&self.inner, piece)?;
        Ok(self.inner.file_index_at_piece(p).map_or(-1, |i| i as i64))
    }
    fn last_file_index_at_piece(&self, piece: i64) -> PyResult<i64> {
        let p = piece_index(&self.inner, piece)?;
        Ok(self
            .inner
            .last_file_index_at_piece(p)
            .map_or(-1, |i| i as i64))
    }
    fn piece_index_at_file(&self, index: i64) -> PyResult<i32> {
        Ok(self
            .inner
            .piece_index_at_file(file_index(&self.inner, index)?))
    }
    fn set_name(&mut self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        let n = path_arg(name)?;
        self.inner.set_name(&n);
        Ok(())
    }
    fn name(&self) -> String {
        self.inner.name().to_owned()
    }
}

// ---------------------------------------------------------------------------
// file_entry, file_slice, peer_request

#[pyclass(module = "libtorrent", name = "file_entry", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyFileEntry {
    #[pyo3(get, set)]
    path: String,
    #[pyo3(get, set)]
    symlink_path: String,
    filehash: Sha1Hash,
    #[pyo3(get)]
    offset: i64,
    #[pyo3(get)]
    size: i64,
    #[pyo3(get, set)]
    mtime: i64,
    #[pyo3(get)]
    pad_file: bool,
    #[pyo3(get)]
    executable_attribute: bool,
    #[pyo3(get)]
    hidden_attribute: bool,
    #[pyo3(get)]
    symlink_attribute: bool,
}

#[pymethods]
impl PyFileEntry {
    #[new]
    fn new() -> Self {
        Self::default()
    }
    #[getter]
    fn filehash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PySha1Hash>> {
        sha1_to_py(py, self.filehash)
    }
    #[setter]
    fn set_filehash(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.filehash = sha1_from_py(v)?;
        Ok(())
    }
}

#[pyclass(module = "libtorrent", name = "file_slice", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyFileSlice {
    #[pyo3(get)]
    file_index: i64,
    #[pyo3(get, set)]
    offset: i64,
    #[pyo3(get, set)]
    size: i64,
}

#[pymethods]
impl PyFileSlice {
    #[new]
    fn new() -> Self {
        Self::default()
    }
}

#[pyclass(module = "libtorrent", name = "peer_request", eq, skip_from_py_object)]
#[derive(Clone, Default, PartialEq)]
pub struct PyPeerRequest {
    #[pyo3(get, set)]
    pub piece: i64,
    #[pyo3(get, set)]
    pub start: i64,
    #[pyo3(get, set)]
    pub length: i64,
}

#[pymethods]
impl PyPeerRequest {
    #[new]
    fn new() -> Self {
        Self::default()
    }
}

// ---------------------------------------------------------------------------
// announce_entry

#[pyclass(module = "libtorrent", name = "announce_entry", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyAnnounceEntry {
    #[pyo3(get, set)]
    pub url: String,
    #[pyo3(get)]
    pub trackerid: String,
    #[pyo3(get, set)]
    pub tier: i64,
    #[pyo3(get, set)]
    pub fail_limit: i64,
    pub source: i64,
    #[pyo3(get)]
    pub verified: bool,
    pub fails: i64,
    pub updating: bool,
    pub start_sent: bool,
    pub complete_sent: bool,
    pub send_stats: bool,
    pub message: String,
    pub scrape_complete: i64,
    pub scrape_incomplete: i64,
    pub scrape_downloaded: i64,
}

impl PyAnnounceEntry {
    pub fn from_tracker(t: &Tracker) -> Self {
        PyAnnounceEntry {
            url: t.url.clone(),
            tier: i64::from(t.tier),
            source: 0,
            ..Default::default()
        }
    }
}

#[pymethods]
impl PyAnnounceEntry {
    #[new]
    fn new(url: String) -> Self {
        PyAnnounceEntry {
            url,
            ..Default::default()
        }
    }
    #[getter]
    fn source<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.source.into_pyobject(py)?.into_any())
    }
    #[getter]
    fn fails(&self, py: Python<'_>) -> PyResult<i64> {
        deprecated(py, c"fails is deprecated")?;
        Ok(self.fails)
    }
    #[getter]
    fn updating(&self, py: Python<'_>) -> PyResult<bool> {
        deprecated(py, c"updating is deprecated")?;
        Ok(self.updating)
    }
    #[getter]
    fn start_sent(&self, py: Python<'_>) -> PyResult<bool> {
        deprecated(py, c"start_sent is deprecated")?;
        Ok(self.start_sent)
    }
    #[getter]
    fn complete_sent(&self, py: Python<'_>) -> PyResult<bool> {
        deprecated(py, c"complete_sent is deprecated")?;
        Ok(self.complete_sent)
    }
    #[getter]
    fn send_stats(&self, py: Python<'_>) -> PyResult<bool> {
        deprecated(py, c"send_stats is deprecated")?;
        Ok(self.send_stats)
    }
    #[getter]
    fn message(&self, py: Python<'_>) -> PyResult<String> {
        deprecated(py, c"message is deprecated")?;
        Ok(self.message.clone())
    }
    #[getter]
    fn scrape_complete(&self, py: Python<'_>) -> PyResult<i64> {
        deprecated(py, c"scrape_complete is deprecated")?;
        Ok(self.scrape_complete)
    }
    #[getter]
    fn scrape_incomplete(&self, py: Python<'_>) -> PyResult<i64> {
        deprecated(py, c"scrape_incomplete is deprecated")?;
        Ok(self.scrape_incomplete)
    }
    #[getter]
    fn scrape_downloaded(&self, py: Python<'_>) -> PyResult<i64> {
        deprecated(py, c"scrape_downloaded is deprecated")?;
        Ok(self.scrape_downloaded)
    }
    #[getter]
    fn last_error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        deprecated(py, c"last_error is deprecated")?;
        native(py)?.getattr("error_code")?.call0()
    }
    #[getter]
    fn min_announce(&self, py: Python<'_>) -> PyResult<Option<i64>> {
        deprecated(py, c"min_announce is deprecated")?;
        Ok(None)
    }
    #[getter]
    fn next_announce(&self, py: Python<'_>) -> PyResult<Option<i64>> {
        deprecated(py, c"next_announce is deprecated")?;
        Ok(None)
    }
    fn min_announce_in(&self, py: Python<'_>) -> PyResult<i64> {
        deprecated(py, c"min_announce_in() is deprecated")?;
        Ok(0)
    }
    fn next_announce_in(&self, py: Python<'_>) -> PyResult<i64> {
        deprecated(py, c"next_announce_in() is deprecated")?;
        Ok(0)
    }
    fn is_working(&self, py: Python<'_>) -> PyResult<bool> {
        deprecated(py, c"is_working() is deprecated")?;
        Ok(false)
    }
    fn can_announce(&self, py: Python<'_>, is_seed: bool) -> PyResult<bool> {
        let _ = is_seed;
        deprecated(py, c"can_announce() is deprecated")?;
        Ok(true)
    }
    fn reset(&mut self, py: Python<'_>) -> PyResult<()> {
        deprecated(py, c"reset() is deprecated")?;
        self.fails = 0;
        self.updating = false;
        self.start_sent = false;
        self.complete_sent = false;
        Ok(())
    }
    fn trim(&mut self, py: Python<'_>) -> PyResult<()> {
        deprecated(py, c"trim() is deprecated")?;
        let start = self.url.trim_start();
        self.url = start.to_owned();
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// torrent_info

#[pyclass(module = "libtorrent", name = "torrent_info", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyTorrentInfo {
    /// Shared with the torrents added from it (copied on write), as
    /// libtorrent shares its `torrent_info` between the two.
    pub inner: Arc<TorrentInfo>,
}

pub(crate) fn limits_from_dict(d: Option<&Bound<'_, PyAny>>) -> PyResult<LoadLimits> {
    let mut l = LoadLimits::default();
    let Some(d) = d else { return Ok(l) };
    let d = d
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("expected a dict of load limits"))?;
    if let Some(v) = d.get_item("max_buffer_size")? {
        l.max_buffer_size = v.extract()?;
    }
    if let Some(v) = d.get_item("max_pieces")? {
        l.max_pieces = v.extract()?;
    }
    if let Some(v) = d.get_item("max_decode_depth")? {
        l.max_decode_depth = v.extract()?;
    }
    if let Some(v) = d.get_item("max_decode_tokens")? {
        l.max_decode_tokens = v.extract()?;
    }
    Ok(l)
}

/// Loads a torrent from any of the constructor's argument forms.
fn load_ti(arg: &Bound<'_, PyAny>, limits: Option<&Bound<'_, PyAny>>) -> PyResult<TorrentInfo> {
    let py = arg.py();
    if let Ok(t) = arg.cast::<PyTorrentInfo>() {
        return Ok((*t.borrow().inner).clone());
    }
    if let Ok(h) = arg.cast::<PyInfoHash>() {
        let _ = h;
        return Ok(TorrentInfo::from_info_hash(info_hash_from_py(arg)?));
    }
    if arg.cast::<PySha1Hash>().is_ok() {
        return Ok(TorrentInfo::from_info_hash(InfoHash::from_v1(
            sha1_from_py(arg)?,
        )));
    }
    if arg.cast::<PySha256Hash>().is_ok() {
        return Ok(TorrentInfo::from_info_hash(InfoHash::from_v2(
            sha256_from_py(arg)?,
        )));
    }
    let lim = limits_from_dict(limits)?;
    if let Ok(b) = arg.cast::<PyBytes>() {
        // `bytes` is immutable and `arg` keeps it alive for this call, so
        // it is parsed in place (no copy) with the GIL released.
        let data: &[u8] = b.as_bytes();
        return py
            .detach(|| TorrentInfo::from_bytes_with(data, &lim))
            .map_err(metainfo_err);
    }
    if let Ok(b) = arg.cast::<PyByteArray>() {
        let data = b.to_vec();
        return py
            .detach(|| TorrentInfo::from_bytes_with(&data, &lim))
            .map_err(metainfo_err);
    }
    if let Ok(s) = arg.cast::<PyString>() {
        let path = std::path::PathBuf::from(s.to_cow()?.into_owned());
        return py
            .detach(|| TorrentInfo::from_file(&path, &lim))
            .map_err(metainfo_err);
    }
    if arg.cast::<PyDict>().is_ok() {
        let enc = native(py)?.getattr("bencode")?.call1((arg,))?;
        let data = enc.cast::<PyBytes>()?.as_bytes().to_vec();
        return py
            .detach(|| TorrentInfo::from_bytes_with(&data, &lim))
            .map_err(metainfo_err);
    }
    let args = PyTuple::new(py, [arg])?;
    Err(ti_argument_error(py, &args)?)
}

/// Boost.Python's error for arguments that match no constructor.
fn ti_argument_error(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<PyErr> {
    let mut names = vec!["torrent_info".to_owned()];
    for a in args.iter() {
        names.push(a.get_type().name()?.to_string());
    }
    let sigs = [
        "__init__(boost::python::api::object, libtorrent::digest32<256l>)",
        "__init__(boost::python::api::object, libtorrent::digest32<160l>)",
        "__init__(_object*, libtorrent::torrent_info ti)",
        "__init__(boost::python::api::object, std::basic_string_view<char, std::char_traits<char> >, boost::python::dict)",
        "__init__(boost::python::api::object, std::basic_string_view<char, std::char_traits<char> >)",
        "__init__(boost::python::api::object, bytes, boost::python::dict)",
        "__init__(boost::python::api::object, bytes)",
        "__init__(boost::python::api::object, boost::python::dict, boost::python::dict)",
        "__init__(boost::python::api::object, boost::python::dict)",
        "__init__(_object*, libtorrent::info_hash_t info_hash)",
    ];
    let msg =
        format!(
        "Python argument types in\n    torrent_info.__init__({})\ndid not match C++ signature:\n{}",
        names.join(", "),
        sigs.iter().map(|s| format!("    {s}")).collect::<Vec<_>>().join("\n")
    );
    let t = crate::bencode::argument_error_type(py)?;
    Ok(PyErr::from_value(t.call1((msg,))?))
}

fn web_seed_dict<'py>(py: Python<'py>, w: &WebSeed) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("url", &w.url)?;
    d.set_item("auth", &w.auth)?;
    Ok(d)
}

fn peer_request_of(r: lt_metainfo::PeerRequest) -> PyPeerRequest {
    PyPeerRequest {
        piece: i64::from(r.piece),
        start: i64::from(r.start),
        length: i64::from(r.length),
    }
}

#[pymethods]
impl PyTorrentInfo {
    #[new]
    #[pyo3(signature = (*args, **kwargs))]
    fn new(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut pos: Vec<Bound<'_, PyAny>> = args.iter().collect();
        if let Some(kw) = kwargs {
            for key in ["ti", "info_hash"] {
                if let Some(v) = kw.get_item(key)? {
                    pos.insert(0, v);
                }
            }
        }
        match pos.as_slice() {
            [a] => Ok(PyTorrentInfo {
                inner: Arc::new(load_ti(a, None)?),
            }),
            [a, l] => Ok(PyTorrentInfo {
                inner: Arc::new(load_ti(a, Some(l))?),
            }),
            _ => Err(ti_argument_error(args.py(), args)?),
        }
    }

    fn files(&self, py: Python<'_>) -> PyResult<PyFileStorage> {
        deprecated(py, c"files() is deprecated")?;
        Ok(PyFileStorage {
            inner: self.inner.files().clone(),
        })
    }
    fn orig_files(&self, py: Python<'_>) -> PyResult<PyFileStorage> {
        deprecated(py, c"orig_files() is deprecated")?;
        Ok(PyFileStorage {
            inner: self.inner.orig_files().clone(),
        })
    }
    fn layout(&self) -> PyFileStorage {
        PyFileStorage {
            inner: self.inner.files().clone(),
        }
    }
    fn remap_files(&mut self, fs: &PyFileStorage) -> PyResult<()> {
        if !Arc::make_mut(&mut self.inner).remap_files(fs.inner.clone()) {
            return Err(PyRuntimeError::new_err("remap_files: total size differs"));
        }
        Ok(())
    }
    fn rename_file(&mut self, index: i64, new_filename: &str) -> PyResult<()> {
        let i = file_index(self.inner.files(), index)?;
        Arc::make_mut(&mut self.inner).rename_file(i, new_filename);
        Ok(())
    }
    fn file_at(&self, py: Python<'_>, index: i64) -> PyResult<PyFileEntry> {
        deprecated(py, c"file_at() is deprecated")?;
        let i = file_index(self.inner.files(), index)?;
        Ok(file_entry_of(self.inner.files(), i))
    }
    fn map_block(&self, piece: i64, offset: i64, size: i64) -> PyResult<Vec<PyFileSlice>> {
        let p = piece.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        Ok(self
            .inner
            .files()
            .map_block(p, offset, size)
            .into_iter()
            .map(|s| PyFileSlice {
                file_index: s.file_index as i64,
                offset: s.offset,
                size: s.size,
            })
            .collect())
    }
    fn map_file(&self, file: i64, offset: i64, size: i32) -> PyResult<PyPeerRequest> {
        // out of range files map past the end, as in the reference
        let i = usize::try_from(file).unwrap_or(usize::MAX);
        Ok(peer_request_of(
            self.inner.files().map_file(i, offset, size),
        ))
    }

    fn num_files(&self) -> usize {
        self.inner.num_files()
    }
    fn num_pieces(&self) -> i32 {
        self.inner.num_pieces()
    }
    fn piece_length(&self) -> i32 {
        self.inner.piece_length()
    }
    fn piece_size(&self, index: i64) -> PyResult<i32> {
        Ok(self
            .inner
            .piece_size(piece_index(self.inner.files(), index)?))
    }
    fn total_size(&self) -> i64 {
        self.inner.total_size()
    }
    fn size_on_disk(&self) -> i64 {
        self.inner.files().size_on_disk()
    }
    fn hash_for_piece<'py>(&self, py: Python<'py>, index: i64) -> PyResult<Bound<'py, PyBytes>> {
        if index < 0 || index >= i64::from(self.inner.num_pieces()) {
            return Err(PyIndexError::new_err("piece index out of range"));
        }
        Ok(PyBytes::new(
            py,
            self.inner.hash_for_piece(index as i32).as_bytes(),
        ))
    }
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PySha1Hash>> {
        sha1_to_py(py, self.inner.info_hashes().best())
    }
    fn info_hashes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyInfoHash>> {
        info_hash_to_py(py, self.inner.info_hashes())
    }
    fn is_valid(&self) -> bool {
        self.inner.is_valid()
    }
    #[pyo3(name = "priv")]
    fn priv_(&self) -> bool {
        self.inner.private()
    }
    fn is_i2p(&self) -> bool {
        self.inner.is_i2p()
    }
    fn is_merkle_torrent(&self, py: Python<'_>) -> PyResult<bool> {
        deprecated(py, c"is_merkle_torrent() is deprecated")?;
        Ok(false)
    }
    fn merkle_tree<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        deprecated(py, c"merkle_tree() is deprecated")?;
        deprecated(py, c"get_merkle_tree is deprecated")?;
        Ok(PyList::empty(py))
    }
    fn set_merkle_tree(&mut self, py: Python<'_>, tree: &Bound<'_, PyList>) -> PyResult<()> {
        let _ = tree;
        deprecated(py, c"set_merkle_tree() is deprecated")?;
        Ok(())
    }
    fn name(&self) -> String {
        self.inner.name().to_owned()
    }
    fn comment(&self) -> String {
        self.inner.comment().to_owned()
    }
    fn creator(&self) -> String {
        self.inner.creator().to_owned()
    }
    fn creation_date(&self) -> i64 {
        self.inner.creation_date()
    }
    fn ssl_cert(&self) -> String {
        self.inner.ssl_cert().to_owned()
    }
    fn info_section<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.info_section())
    }
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        deprecated(py, c"metadata() is deprecated")?;
        Ok(PyBytes::new(py, self.inner.info_section()))
    }
    fn metadata_size(&self, py: Python<'_>) -> PyResult<usize> {
        deprecated(py, c"metadata_size() is deprecated")?;
        Ok(self.inner.metadata_size())
    }
    fn collections(&self) -> Vec<String> {
        self.inner.collections().to_vec()
    }
    fn similar_torrents<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PySha1Hash>>> {
        self.inner
            .similar_torrents()
            .iter()
            .map(|h| sha1_to_py(py, *h))
            .collect()
    }
    fn nodes(&self, py: Python<'_>) -> PyResult<Vec<(String, i64)>> {
        deprecated(py, c"nodes() is deprecated")?;
        Ok(self.inner.nodes().to_vec())
    }
    fn add_node(&mut self, host: String, port: i64) {
        Arc::make_mut(&mut self.inner).add_node(host, port);
    }
    fn trackers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        deprecated(py, c"trackers() is deprecated")?;
        let v = self
            .inner
            .trackers()
            .iter()
            .map(|t| Bound::new(py, PyAnnounceEntry::from_tracker(t)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, v)?.try_iter()?.into_any().unbind())
    }
    #[pyo3(signature = (url, tier = 0, source = None))]
    fn add_tracker(
        &mut self,
        url: &str,
        tier: i64,
        source: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let src = match source {
            Some(s) => s.extract::<i64>()?,
            None => 2,
        };
        let src = match src {
            1 => TrackerSource::Torrent,
            4 => TrackerSource::MagnetLink,
            8 => TrackerSource::Tex,
            _ => TrackerSource::Client,
        };
        Arc::make_mut(&mut self.inner).add_tracker(
            url, // 8-bit tiers, wrapping, as in the reference
            tier as u8, src,
        );
        Ok(())
    }
    fn web_seeds<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        deprecated(py, c"web_seeds() is deprecated")?;
        self.inner
            .web_seeds()
            .iter()
            .filter(|w| w.kind == WebSeedKind::UrlSeed)
            .map(|w| web_seed_dict(py, w))
            .collect()
    }
    fn set_web_seeds(&mut self, seeds: &Bound<'_, PyList>) -> PyResult<()> {
        let mut out = Vec::new();
        for s in seeds.iter() {
            let d = s.cast::<PyDict>()?;
            let url: String = d
                .get_item("url")?
                .map(|v| v.extract())
                .transpose()?
                .unwrap_or_default();
            let auth: String = d
                .get_item("auth")?
                .map(|v| v.extract())
                .transpose()?
                .unwrap_or_default();
            let kind: i64 = d
                .get_item("type")?
                .map(|v| v.extract())
                .transpose()?
                .unwrap_or(0);
            out.push(WebSeed {
                url,
                auth,
                extra_headers: Vec::new(),
                kind: if kind == 1 {
                    WebSeedKind::HttpSeed
                } else {
                    WebSeedKind::UrlSeed
                },
            });
        }
        Arc::make_mut(&mut self.inner).set_web_seeds(out);
        Ok(())
    }
    #[pyo3(signature = (url, extern_auth = "", extra_headers = None))]
    fn add_url_seed(
        &mut self,
        url: &str,
        extern_auth: &str,
        extra_headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.add_seed(url, extern_auth, extra_headers, WebSeedKind::UrlSeed)
    }
    #[pyo3(signature = (url, extern_auth = "", extra_headers = None))]
    fn add_http_seed(
        &mut self,
        url: &str,
        extern_auth: &str,
        extra_headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.add_seed(url, extern_auth, extra_headers, WebSeedKind::HttpSeed)
    }
}

impl PyTorrentInfo {
    fn add_seed(
        &mut self,
        url: &str,
        auth: &str,
        extra_headers: Option<&Bound<'_, PyAny>>,
        kind: WebSeedKind,
    ) -> PyResult<()> {
        let mut headers = Vec::new();
        if let Some(h) = extra_headers {
            for item in h.try_iter()? {
                let (k, v): (String, String) = item?.extract()?;
                headers.push((k, v));
            }
        }
        Arc::make_mut(&mut self.inner).add_web_seed(WebSeed {
            url: url.to_owned(),
            auth: auth.to_owned(),
            extra_headers: headers,
            kind,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// add_torrent_params

/// `torrent_flags::default_flags`.
pub const DEFAULT_FLAGS: u64 = 352_440;

#[pyclass(module = "libtorrent", name = "add_torrent_params")]
pub struct PyAddTorrentParams {
    #[pyo3(get, set)]
    pub version: i64,
    pub ti: Option<Py<PyTorrentInfo>>,
    #[pyo3(get, set)]
    pub trackers: Vec<String>,
    #[pyo3(get, set)]
    pub tracker_tiers: Vec<i64>,
    #[pyo3(get, set)]
    pub dht_nodes: Vec<(String, i64)>,
    #[pyo3(get, set)]
    pub name: String,
    #[pyo3(get, set)]
    pub save_path: String,
    pub storage_mode: i64,
    #[pyo3(get, set)]
    pub url_seeds: Vec<String>,
    #[pyo3(get, set)]
    pub http_seeds: Vec<String>,
    #[pyo3(get, set)]
    pub flags: u64,
    pub info_hashes: InfoHash,
    /// The deprecated single `info_hash` field (zero: use `info_hashes`).
    pub legacy_info_hash: Sha1Hash,
    #[pyo3(get, set)]
    pub max_uploads: i64,
    #[pyo3(get, set)]
    pub max_connections: i64,
    #[pyo3(get, set)]
    pub upload_limit: i64,
    #[pyo3(get, set)]
    pub download_limit: i64,
    #[pyo3(get, set)]
    pub total_uploaded: i64,
    #[pyo3(get, set)]
    pub total_downloaded: i64,
    #[pyo3(get, set)]
    pub active_time: i64,
    #[pyo3(get, set)]
    pub finished_time: i64,
    #[pyo3(get, set)]
    pub seeding_time: i64,
    #[pyo3(get, set)]
    pub added_time: i64,
    #[pyo3(get, set)]
    pub completed_time: i64,
    #[pyo3(get, set)]
    pub last_seen_complete: i64,
    #[pyo3(get, set)]
    pub num_complete: i64,
    #[pyo3(get, set)]
    pub num_incomplete: i64,
    #[pyo3(get, set)]
    pub num_downloaded: i64,
    #[pyo3(get, set)]
    pub last_download: i64,
    #[pyo3(get, set)]
    pub last_upload: i64,
    #[pyo3(get, set)]
    pub trackerid: String,
    #[pyo3(get, set)]
    pub url: String,
    #[pyo3(get, set)]
    pub comment: String,
    #[pyo3(get, set)]
    pub created_by: String,
    #[pyo3(get, set)]
    pub creation_date: i64,
    #[pyo3(get, set)]
    pub root_certificate: String,
    #[pyo3(get, set)]
    pub part_file_dir: String,
    #[pyo3(get, set)]
    pub file_priorities: Vec<i64>,
    #[pyo3(get, set)]
    pub piece_priorities: Vec<i64>,
    #[pyo3(get, set)]
    pub peers: Vec<(String, u16)>,
    #[pyo3(get, set)]
    pub banned_peers: Vec<(String, u16)>,
    #[pyo3(get, set)]
    pub have_pieces: Vec<bool>,
    #[pyo3(get, set)]
    pub verified_pieces: Vec<bool>,
    #[pyo3(get, set)]
    pub unfinished_pieces: BTreeMap<i64, Vec<bool>>,
    #[pyo3(get, set)]
    pub renamed_files: BTreeMap<i64, String>,
    #[pyo3(get, set)]
    pub merkle_tree: Vec<Py<PyAny>>,
    #[pyo3(get, set)]
    pub resume_data: Vec<Py<PyAny>>,
    /// v2 merkle trees per file, with the node mask and verified leaves
    /// (not visible from Python; carried through resume data and filled
    /// from a v2 torrent's piece layers by the loaders).
    pub merkle_trees: Vec<Vec<lt_core::Sha256Hash>>,
    pub merkle_tree_mask: Vec<Vec<bool>>,
    pub verified_leaf_hashes: Vec<Vec<bool>>,
}

impl Default for PyAddTorrentParams {
    fn default() -> Self {
        PyAddTorrentParams {
            version: 20101,
            ti: None,
            trackers: Vec::new(),
            tracker_tiers: Vec::new(),
            dht_nodes: Vec::new(),
            name: String::new(),
            save_path: String::new(),
            storage_mode: 1,
            url_seeds: Vec::new(),
            http_seeds: Vec::new(),
            flags: DEFAULT_FLAGS,
            info_hashes: InfoHash::default(),
            legacy_info_hash: Sha1Hash::zero(),
            max_uploads: -1,
            max_connections: -1,
            upload_limit: -1,
            download_limit: -1,
            total_uploaded: 0,
            total_downloaded: 0,
            active_time: 0,
            finished_time: 0,
            seeding_time: 0,
            added_time: 0,
            completed_time: 0,
            last_seen_complete: 0,
            num_complete: -1,
            num_incomplete: -1,
            num_downloaded: -1,
            last_download: 0,
            last_upload: 0,
            trackerid: String::new(),
            url: String::new(),
            comment: String::new(),
            created_by: String::new(),
            creation_date: 0,
            root_certificate: String::new(),
            part_file_dir: String::new(),
            file_priorities: Vec::new(),
            piece_priorities: Vec::new(),
            peers: Vec::new(),
            banned_peers: Vec::new(),
            have_pieces: Vec::new(),
            verified_pieces: Vec::new(),
            unfinished_pieces: BTreeMap::new(),
            renamed_files: BTreeMap::new(),
            merkle_tree: Vec::new(),
            resume_data: Vec::new(),
            merkle_trees: Vec::new(),
            merkle_tree_mask: Vec::new(),
            verified_leaf_hashes: Vec::new(),
        }
    }
}

#[pymethods]
impl PyAddTorrentParams {
    #[new]
    fn new() -> Self {
        Self::default()
    }
    #[getter]
    fn ti(&self, py: Python<'_>) -> Option<Py<PyTorrentInfo>> {
        self.ti.as_ref().map(|t| t.clone_ref(py))
    }
    #[setter]
    fn set_ti(&mut self, v: Option<Py<PyTorrentInfo>>) {
        self.ti = v;
    }
    #[getter]
    fn storage_mode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::enums::enum_to_py(py, "storage_mode_t", self.storage_mode)
    }
    #[setter]
    fn set_storage_mode(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.storage_mode = crate::enums::enum_from_py(v, "storage_mode_t")?;
        Ok(())
    }
    #[getter]
    fn info_hashes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyInfoHash>> {
        info_hash_to_py(py, self.info_hashes)
    }
    #[setter]
    fn set_info_hashes(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.info_hashes = info_hash_from_py(v)?;
        Ok(())
    }
    #[getter]
    fn info_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PySha1Hash>> {
        let h = if self.legacy_info_hash.is_zero() {
            self.info_hashes.best()
        } else {
            self.legacy_info_hash
        };
        sha1_to_py(py, h)
    }
    #[setter]
    fn set_info_hash(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.legacy_info_hash = sha1_from_py(v)?;
        Ok(())
    }
}

impl PyAddTorrentParams {
    /// Moves a parsed torrent's trackers, seeds, nodes and descriptive
    /// fields into the params (what `load_torrent_*` returns).
    pub fn from_torrent(py: Python<'_>, mut ti: TorrentInfo) -> PyResult<Self> {
        let mut p = PyAddTorrentParams {
            info_hashes: ti.info_hashes(),
            comment: ti.comment().to_owned(),
            created_by: ti.creator().to_owned(),
            creation_date: ti.creation_date(),
            ..Default::default()
        };
        for t in ti.trackers() {
            p.trackers.push(t.url.clone());
            p.tracker_tiers.push(i64::from(t.tier));
        }
        for w in ti.web_seeds() {
            match w.kind {
                WebSeedKind::UrlSeed => p.url_seeds.push(w.url.clone()),
                WebSeedKind::HttpSeed => p.http_seeds.push(w.url.clone()),
            }
        }
        p.dht_nodes = ti.nodes().to_vec();
        // the v2 piece layers become merkle trees, as the reference does
        let mut trees = lt_resume::ResumeData::default();
        trees.set_trees_from_torrent(&ti);
        p.merkle_trees = trees.merkle_trees;
        p.merkle_tree_mask = trees.merkle_tree_mask;
        p.verified_leaf_hashes = trees.verified_leaf_hashes;
        ti.clear_trackers();
        ti.clear_web_seeds();
        ti.clear_nodes();
        ti.set_comment(String::new());
        ti.set_creator(String::new());
        p.ti = Some(Py::new(
            py,
            PyTorrentInfo {
                inner: Arc::new(ti),
            },
        )?);
        Ok(p)
    }
}

#[pyfunction]
#[pyo3(signature = (buffer, cfg = None))]
fn load_torrent_buffer(
    py: Python<'_>,
    buffer: &Bound<'_, PyAny>,
    cfg: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyAddTorrentParams> {
    let lim = limits_from_dict(cfg)?;
    let data: Vec<u8> = if let Ok(b) = buffer.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if let Ok(b) = buffer.cast::<PyByteArray>() {
        b.to_vec()
    } else if let Ok(s) = buffer.cast::<PyString>() {
        s.to_cow()?.as_bytes().to_vec()
    } else {
        return Err(PyTypeError::new_err("load_torrent_buffer() expects bytes"));
    };
    let ti = py
        .detach(|| TorrentInfo::from_bytes_with(&data, &lim))
        .map_err(metainfo_err)?;
    PyAddTorrentParams::from_torrent(py, ti)
}

#[pyfunction]
#[pyo3(signature = (filename, cfg = None))]
fn load_torrent_file(
    py: Python<'_>,
    filename: &str,
    cfg: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyAddTorrentParams> {
    let lim = limits_from_dict(cfg)?;
    let path = std::path::PathBuf::from(filename);
    let ti = py
        .detach(|| TorrentInfo::from_file(&path, &lim))
        .map_err(metainfo_err)?;
    PyAddTorrentParams::from_torrent(py, ti)
}

/// `load_torrent_parsed(dict)`: a decoded torrent (as `bdecode` returns).
#[pyfunction]
#[pyo3(signature = (torrent, cfg = None))]
fn load_torrent_parsed(
    py: Python<'_>,
    torrent: &Bound<'_, PyAny>,
    cfg: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyAddTorrentParams> {
    let lim = limits_from_dict(cfg)?;
    let enc = native(py)?.getattr("bencode")?.call1((torrent,))?;
    let data = enc.cast::<PyBytes>()?.as_bytes().to_vec();
    let ti = py
        .detach(|| TorrentInfo::from_bytes_with(&data, &lim))
        .map_err(metainfo_err)?;
    PyAddTorrentParams::from_torrent(py, ti)
}

/// Encodes the torrent file of `atp` (its `ti` plus the trackers, seeds,
/// nodes and descriptive fields of the params).
fn torrent_file_bytes(py: Python<'_>, atp: &PyAddTorrentParams) -> PyResult<Vec<u8>> {
    let Some(ti) = atp.ti.as_ref() else {
        return Err(metainfo_err(MetainfoError::MissingInfo));
    };
    let ti = ti.borrow(py);
    let ti = &ti.inner;
    if !ti.is_valid() {
        return Err(metainfo_err(MetainfoError::MissingInfo));
    }
    let mut entries: BTreeMap<&[u8], Vec<u8>> = BTreeMap::new();
    let enc = |f: &dyn Fn(&mut lt_bencode::Encoder)| {
        let mut out = Vec::new();
        f(&mut lt_bencode::Encoder::new(&mut out));
        out
    };
    // trackers: a single tracker is written as `announce`, several as
    // `announce-list` grouped by tier
    if atp.trackers.len() == 1 {
        if let Some(t) = atp.trackers.first() {
            entries.insert(
                b"announce",
                enc(&|e| {
                    e.bytes(t.as_bytes());
                }),
            );
        }
    } else if atp.trackers.len() > 1 {
        // tiers 0..=max, empty lists for the tiers nobody is in
        let mut tiers: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        let max_tier = atp
            .tracker_tiers
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .clamp(0, 1000);
        for t in 0..=max_tier {
            tiers.insert(t, Vec::new());
        }
        for (i, t) in atp.trackers.iter().enumerate() {
            let tier = atp
                .tracker_tiers
                .get(i)
                .copied()
                .unwrap_or(0)
                .clamp(0, 1000);
            tiers.entry(tier).or_default().push(t);
        }
        entries.insert(
            b"announce-list",
            enc(&|e| {
                e.begin_list();
                for urls in tiers.values() {
                    e.begin_list();
                    for u in urls {
                        e.bytes(u.as_bytes());
                    }
                    e.end();
                }
                e.end();
            }),
        );
    }
    if !atp.comment.is_empty() {
        entries.insert(
            b"comment",
            enc(&|e| {
                e.bytes(atp.comment.as_bytes());
            }),
        );
    }
    if !atp.created_by.is_empty() {
        entries.insert(
            b"created by",
            enc(&|e| {
                e.bytes(atp.created_by.as_bytes());
            }),
        );
    }
    if atp.creation_date != 0 {
        entries.insert(
            b"creation date",
            enc(&|e| {
                e.int(atp.creation_date);
            }),
        );
    }
    entries.insert(b"info", ti.info_section().to_vec());
    if ti.v2() {
        let fs = ti.files();
        let layers: Vec<(lt_core::Sha256Hash, &[u8])> = fs
            .file_range()
            .filter(|&i| !ti.piece_layer(i).is_empty())
            .map(|i| (fs.root(i), ti.piece_layer(i)))
            .collect();
        if !layers.is_empty() {
            let mut sorted = layers;
            sorted.sort_by_key(|a| a.0);
            sorted.dedup_by(|a, b| a.0 == b.0);
            entries.insert(
                b"piece layers",
                enc(&|e| {
                    e.begin_dict();
                    for (r, l) in &sorted {
                        e.bytes(r.as_bytes()).bytes(l);
                    }
                    e.end();
                }),
            );
        }
    }
    if !atp.url_seeds.is_empty() {
        entries.insert(
            b"url-list",
            enc(&|e| {
                if atp.url_seeds.len() == 1 {
                    e.bytes(atp.url_seeds.first().map_or(&b""[..], |s| s.as_bytes()));
                } else {
                    e.begin_list();
                    for u in &atp.url_seeds {
                        e.bytes(u.as_bytes());
                    }
                    e.end();
                }
            }),
        );
    }
    let mut out = Vec::new();
    let mut e = lt_bencode::Encoder::new(&mut out);
    e.begin_dict();
    for (k, v) in &entries {
        e.bytes(k).raw(v);
    }
    e.end();
    Ok(out)
}

#[pyfunction]
#[pyo3(signature = (atp, flags = None))]
fn write_torrent_file<'py>(
    py: Python<'py>,
    atp: &PyAddTorrentParams,
    flags: Option<&Bound<'_, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let _ = flags;
    let buf = torrent_file_bytes(py, atp)?;
    let d = native(py)?
        .getattr("bdecode")?
        .call1((PyBytes::new(py, &buf),))?;
    // the reference hands the info section back as a tuple of byte values
    if let Some(ti) = atp.ti.as_ref() {
        // as C `char`s: signed
        let info: Vec<i8> = ti
            .borrow(py)
            .inner
            .info_section()
            .iter()
            .map(|&b| b as i8)
            .collect();
        d.set_item(PyBytes::new(py, b"info"), PyTuple::new(py, info)?)?;
    }
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (atp, flags = None))]
fn write_torrent_file_buf<'py>(
    py: Python<'py>,
    atp: &PyAddTorrentParams,
    flags: Option<&Bound<'_, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let _ = flags;
    let buf = torrent_file_bytes(py, atp)?;
    Ok(PyBytes::new(py, &buf))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFileStorage>()?;
    m.add_class::<PyFileEntry>()?;
    m.add_class::<PyFileSlice>()?;
    m.add_class::<PyPeerRequest>()?;
    m.add_class::<PyTorrentInfo>()?;
    m.add_class::<PyAnnounceEntry>()?;
    m.add_class::<PyAddTorrentParams>()?;
    m.add_function(wrap_pyfunction!(load_torrent_buffer, m)?)?;
    m.add_function(wrap_pyfunction!(load_torrent_file, m)?)?;
    m.add_function(wrap_pyfunction!(load_torrent_parsed, m)?)?;
    m.add_function(wrap_pyfunction!(write_torrent_file, m)?)?;
    m.add_function(wrap_pyfunction!(write_torrent_file_buf, m)?)?;
    Ok(())
}
