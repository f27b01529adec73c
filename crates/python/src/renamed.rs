//! Python bindings: `renamed_files`, the files of a torrent renamed
//! against their names in the metadata (`torrent_handle.get_renamed_files()`,
//! `torrent_status.renamed_files`).
//!
//! The reference keeps any index given to `rename_file` (and lists it in
//! `export_filenames`), takes from `import_filenames` only the indices of
//! the file storage, and ignores empty names. Where the reference reads a
//! file storage at an index it does not have (and crashes), we raise
//! `IndexError`.

use std::collections::BTreeMap;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString};

use crate::metainfo::PyFileStorage;

#[pyclass(module = "libtorrent", name = "renamed_files", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyRenamedFiles {
    pub map: BTreeMap<i32, String>,
}

impl PyRenamedFiles {
    pub fn from_map(m: &BTreeMap<usize, String>) -> Self {
        PyRenamedFiles {
            map: m
                .iter()
                .filter_map(|(k, v)| Some((i32::try_from(*k).ok()?, v.clone())))
                .collect(),
        }
    }
}

/// A file index argument (`file_index_t`: a C `int`).
fn index_arg(obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    if !obj.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "No registered converter was able to produce a C++ rvalue of type int from this \
             Python object of type {}",
            obj.get_type().name()?
        )));
    }
    let v: i64 = obj.extract().map_err(|_| overflow(obj))?;
    i32::try_from(v).map_err(|_| overflow(obj))
}

fn overflow(obj: &Bound<'_, PyAny>) -> PyErr {
    let neg = obj.lt(0).unwrap_or(false);
    PyOverflowError::new_err(if neg {
        "bad numeric conversion: negative overflow"
    } else {
        "bad numeric conversion: positive overflow"
    })
}

/// A name argument: `str` or `bytes`.
fn name_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    Err(PyTypeError::new_err(format!(
        "No registered converter was able to produce a C++ rvalue of type std::string from \
         this Python object of type {}",
        obj.get_type().name()?
    )))
}

/// The index as a file of `fs`.
fn file_of(fs: &PyFileStorage, index: i32) -> PyResult<usize> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < fs.inner.num_files())
        .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("invalid file index"))
}

fn is_absolute(p: &str) -> bool {
    p.starts_with('/')
}

/// `save_path` and `name` joined with one separator.
fn combine(save_path: &str, name: &str) -> String {
    if save_path.is_empty() {
        return name.to_owned();
    }
    if save_path.ends_with('/') {
        format!("{save_path}{name}")
    } else {
        format!("{save_path}/{name}")
    }
}

/// The last element of a path (a trailing separator ignored).
fn leaf(p: &str) -> &str {
    let p = p.strip_suffix('/').unwrap_or(p);
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

#[pymethods]
impl PyRenamedFiles {
    #[new]
    fn py_new() -> Self {
        Self::default()
    }

    /// Renames file `index` (an empty name changes nothing).
    fn rename_file(
        &mut self,
        fs: PyRef<'_, PyFileStorage>,
        index: &Bound<'_, PyAny>,
        new_filename: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let _ = fs;
        let i = index_arg(index)?;
        let name = name_arg(new_filename)?;
        if !name.is_empty() {
            self.map.insert(i, name);
        }
        Ok(())
    }

    /// Takes the names of `filenames` (index → name) for the files `fs`
    /// has.
    fn import_filenames(
        &mut self,
        fs: PyRef<'_, PyFileStorage>,
        filenames: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let mut add = Vec::new();
        for (k, v) in filenames.iter() {
            let i = index_arg(&k)?;
            let name = name_arg(&v)?;
            let valid = usize::try_from(i).is_ok_and(|i| i < fs.inner.num_files());
            if valid && !name.is_empty() {
                add.push((i, name));
            }
        }
        self.map.extend(add);
        Ok(())
    }

    /// Every renamed file: index → name.
    fn export_filenames<'py>(
        &self,
        py: Python<'py>,
        fs: PyRef<'_, PyFileStorage>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let _ = fs;
        let d = PyDict::new(py);
        for (k, v) in &self.map {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    #[pyo3(signature = (fs, index, save_path = None))]
    fn file_path(
        &self,
        fs: PyRef<'_, PyFileStorage>,
        index: &Bound<'_, PyAny>,
        save_path: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let i = index_arg(index)?;
        let f = file_of(&fs, i)?;
        let save = match save_path {
            Some(s) => name_arg(s)?,
            None => String::new(),
        };
        Ok(match self.map.get(&i) {
            Some(name) if is_absolute(name) => name.clone(),
            Some(name) => combine(&save, name),
            None => fs.inner.file_path(f, &save),
        })
    }

    fn file_name(
        &self,
        fs: PyRef<'_, PyFileStorage>,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let i = index_arg(index)?;
        let f = file_of(&fs, i)?;
        Ok(match self.map.get(&i) {
            Some(name) => leaf(name).to_owned(),
            None => fs.inner.file_name(f).to_owned(),
        })
    }

    fn file_absolute_path(
        &self,
        fs: PyRef<'_, PyFileStorage>,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let i = index_arg(index)?;
        let f = file_of(&fs, i)?;
        Ok(match self.map.get(&i) {
            Some(name) => is_absolute(name),
            None => fs.inner.file_absolute_path(f),
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRenamedFiles>()
}
