//! Python bindings: deprecated calls the reference keeps —
//! `torrent_handle.set_priority`, `set_ratio`, `use_interface`,
//! `set_tracker_login` and `session.add_extension`.

use pyo3::prelude::*;

use crate::handle::{warn_deprecated, PyTorrentHandle};
use crate::session::PySession;

#[pymethods]
impl PyTorrentHandle {
    /// The torrent's priority, reported by `status().priority`
    /// (negative values count as 0).
    fn set_priority(&self, py: Python<'_>, priority: i32) -> PyResult<()> {
        warn_deprecated(py, c"set_priority() is deprecated")?;
        self.with(py, move |e, id| e.set_torrent_priority(id, priority))
    }

    /// Share-ratio targets are gone from libtorrent 2; like the
    /// reference this only warns (even on an invalid handle).
    fn set_ratio(&self, py: Python<'_>, ratio: f32) -> PyResult<()> {
        let _ = ratio;
        warn_deprecated(py, c"set_ratio() is deprecated")
    }

    /// Sets the session's `outgoing_interfaces` (as the reference does).
    fn use_interface(&self, py: Python<'_>, interfaces: String) -> PyResult<()> {
        warn_deprecated(py, c"use_interface() is deprecated")?;
        self.with(py, move |e, _| e.use_interface(&interfaces))
    }

    /// HTTP basic authentication for the torrent's HTTP tracker requests.
    fn set_tracker_login(&self, py: Python<'_>, name: String, password: String) -> PyResult<()> {
        warn_deprecated(py, c"set_tracker_login() is deprecated")?;
        self.with(py, move |e, id| e.set_tracker_login(id, &name, &password))
    }
}

#[pymethods]
impl PySession {
    /// Accepts any object and does nothing, as the reference's binding:
    /// the extensions it names (`ut_metadata`, `ut_pex`, `smart_ban`) are
    /// always on in this engine.
    fn add_extension(&self, extension: &Bound<'_, PyAny>) {
        let _ = extension;
    }
}
