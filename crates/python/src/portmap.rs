//! Python bindings: the port-mapping alert classes (`portmap_alert`,
//! `portmap_error_alert`, `portmap_log_alert`).

use std::sync::Arc;

use lt_session::alert::AlertKind;
use lt_session::portmap_alert::PortmapAlert;
use pyo3::prelude::*;
use pyo3::PyClassInitializer;

use crate::alerts::{AlertData, PyAlert};

macro_rules! leaf {
    ($rs:ident, $name:literal) => {
        #[pyclass(module = "libtorrent", name = $name, extends = PyAlert, frozen)]
        pub struct $rs(Arc<AlertData>);
    };
}

leaf!(PortmapAlertPy, "portmap_alert");
leaf!(PortmapErrorAlertPy, "portmap_error_alert");
leaf!(PortmapLogAlertPy, "portmap_log_alert");

fn kind(d: &AlertData) -> Option<&PortmapAlert> {
    match &d.alert.kind {
        AlertKind::Portmap(k) => Some(k),
        _ => None,
    }
}

fn transport<'py>(py: Python<'py>, d: &AlertData) -> PyResult<Bound<'py, PyAny>> {
    let v = kind(d).map(|k| k.transport().value()).unwrap_or(0);
    crate::enums::enum_to_py(py, "portmap_transport", i64::from(v))
}

fn map_type(d: &AlertData) -> i32 {
    kind(d)
        .map(|k| i32::from(k.transport().value()))
        .unwrap_or(0)
}

#[pymethods]
impl PortmapAlertPy {
    #[getter]
    fn mapping(&self) -> i32 {
        match kind(&self.0) {
            Some(PortmapAlert::Mapped { mapping, .. }) => *mapping,
            _ => -1,
        }
    }
    #[getter]
    fn external_port(&self) -> i32 {
        match kind(&self.0) {
            Some(PortmapAlert::Mapped { external_port, .. }) => *external_port,
            _ => 0,
        }
    }
    #[getter]
    fn map_protocol<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = match kind(&self.0) {
            Some(PortmapAlert::Mapped { protocol, .. }) => *protocol,
            _ => 0,
        };
        crate::enums::enum_to_py(py, "portmap_protocol", i64::from(v))
    }
    #[getter]
    fn map_transport<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        transport(py, &self.0)
    }
    #[getter]
    fn map_type(&self) -> i32 {
        map_type(&self.0)
    }
    /// Deprecated alias of `map_type`.
    #[getter(r#type)]
    fn kind(&self) -> i32 {
        map_type(&self.0)
    }
}

#[pymethods]
impl PortmapErrorAlertPy {
    #[getter]
    fn mapping(&self) -> i32 {
        match kind(&self.0) {
            Some(PortmapAlert::Error { mapping, .. }) => *mapping,
            _ => -1,
        }
    }
    #[getter]
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.0.alert.error().copied().unwrap_or_default();
        crate::alerts::error_code_to_py(py, &e)
    }
    #[getter]
    fn msg(&self) -> String {
        self.0
            .alert
            .error()
            .map(|e| e.message())
            .unwrap_or_default()
    }
    #[getter]
    fn map_transport<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        transport(py, &self.0)
    }
    #[getter]
    fn map_type(&self) -> i32 {
        map_type(&self.0)
    }
    /// Deprecated alias of `map_type`.
    #[getter(r#type)]
    fn kind(&self) -> i32 {
        map_type(&self.0)
    }
}

#[pymethods]
impl PortmapLogAlertPy {
    #[getter]
    fn msg(&self) -> String {
        match kind(&self.0) {
            Some(PortmapAlert::Log { msg, .. }) => msg.clone(),
            _ => String::new(),
        }
    }
    #[getter]
    fn map_transport<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        transport(py, &self.0)
    }
    #[getter]
    fn map_type(&self) -> i32 {
        map_type(&self.0)
    }
    /// Deprecated alias of `map_type`.
    #[getter(r#type)]
    fn kind(&self) -> i32 {
        map_type(&self.0)
    }
}

/// The Python object of a port-mapping alert.
pub fn portmap_alert_to_py(
    py: Python<'_>,
    d: &Arc<AlertData>,
    base: PyClassInitializer<PyAlert>,
) -> PyResult<Py<PyAny>> {
    Ok(match kind(d) {
        Some(PortmapAlert::Mapped { .. }) => {
            Py::new(py, base.add_subclass(PortmapAlertPy(d.clone())))?.into_any()
        }
        Some(PortmapAlert::Error { .. }) => {
            Py::new(py, base.add_subclass(PortmapErrorAlertPy(d.clone())))?.into_any()
        }
        Some(PortmapAlert::Log { .. }) => {
            Py::new(py, base.add_subclass(PortmapLogAlertPy(d.clone())))?.into_any()
        }
        None => Py::new(py, base)?.into_any(),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PortmapAlertPy>()?;
    m.add_class::<PortmapErrorAlertPy>()?;
    m.add_class::<PortmapLogAlertPy>()?;
    Ok(())
}
