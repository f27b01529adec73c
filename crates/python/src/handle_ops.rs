//! Python bindings: torrent-handle operations beyond status and control —
//! per-peer rate limits, `add_piece`, `file_status`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::handle::{endpoint_from_py, PyTorrentHandle};

/// One open file (`open_file_state`).
#[pyclass(module = "libtorrent", name = "open_file_state", frozen)]
pub struct PyOpenFileState {
    f: lt_session::OpenFile,
}

#[pymethods]
impl PyOpenFileState {
    #[getter]
    fn file_index(&self) -> usize {
        self.f.file_index
    }
    /// `file_open_mode` bits: `read_only` (0) or `read_write` (2). (The
    /// reference cannot convert this field and raises `TypeError`.)
    #[getter]
    fn open_mode(&self) -> u32 {
        if self.f.writable {
            2
        } else {
            0
        }
    }
    /// When the file was last read or written, as a `datetime` (the
    /// reference raises `TypeError` here too).
    #[getter]
    fn last_use<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let secs = self
            .f
            .last_use
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        py.import("datetime")?
            .getattr("datetime")?
            .call_method1("fromtimestamp", (secs,))
    }
}

/// `torrent_handle::overwrite_existing`.
const OVERWRITE_EXISTING: u32 = 1;

#[pymethods]
impl PyTorrentHandle {
    /// Limits the upload rate to the peer at `endpoint` (bytes/s, 0 or
    /// less: unlimited).
    fn set_peer_upload_limit(
        &self,
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        limit: i32,
    ) -> PyResult<()> {
        let addr = endpoint_from_py(endpoint)?;
        self.with(py, move |e, id| e.set_peer_limit(id, addr, true, limit))
    }

    fn set_peer_download_limit(
        &self,
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        limit: i32,
    ) -> PyResult<()> {
        let addr = endpoint_from_py(endpoint)?;
        self.with(py, move |e, id| e.set_peer_limit(id, addr, false, limit))
    }

    /// The torrent's files currently held open.
    fn file_status(&self, py: Python<'_>) -> PyResult<Vec<PyOpenFileState>> {
        let files = self.with(py, |e, id| e.file_status(id))?;
        Ok(files.into_iter().map(|f| PyOpenFileState { f }).collect())
    }

    /// Supplies the data of a whole piece (`bytes`, or a `str` taken as its
    /// UTF-8 encoding, as the reference converts it). It is hash-checked
    /// like downloaded data: `piece_finished_alert` or `hash_failed_alert`.
    #[pyo3(signature = (piece, data, flags = 0))]
    fn add_piece(
        &self,
        py: Python<'_>,
        piece: u32,
        data: &Bound<'_, PyAny>,
        flags: u32,
    ) -> PyResult<()> {
        let bytes: Vec<u8> = if let Ok(b) = data.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else if let Ok(s) = data.cast::<PyString>() {
            s.extract::<String>()?.into_bytes()
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "add_piece() data must be bytes or str",
            ));
        };
        let overwrite = flags & OVERWRITE_EXISTING != 0;
        self.with(py, move |e, id| e.add_piece(id, piece, bytes, overwrite))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyOpenFileState>()
}
