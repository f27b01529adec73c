//! Python bindings: `error_code` and `error_category`.

use lt_core::{ErrorCategory, ErrorCode};
use pyo3::prelude::*;

#[pyclass(module = "libtorrent", name = "error_category", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyErrorCategory(pub ErrorCategory);

#[pymethods]
impl PyErrorCategory {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn message(&self, value: i32) -> String {
        ErrorCode::new(self.0, value, "").message
    }
}

#[pyclass(module = "libtorrent", name = "error_code")]
#[derive(Clone)]
pub struct PyErrorCode(pub ErrorCode);

#[pymethods]
impl PyErrorCode {
    #[new]
    #[pyo3(signature = (value = 0, category = None))]
    fn new(value: i32, category: Option<PyErrorCategory>) -> Self {
        let cat = category.map_or(ErrorCategory::System, |c| c.0);
        PyErrorCode(ErrorCode::new(cat, value, system_message(cat, value)))
    }
    fn value(&self) -> i32 {
        self.0.value
    }
    fn message(&self) -> String {
        self.0.message.clone()
    }
    fn category(&self) -> PyErrorCategory {
        PyErrorCategory(self.0.category)
    }
    fn clear(&mut self) {
        self.0 = ErrorCode::success();
    }
    fn assign(&mut self, value: i32, category: PyErrorCategory) {
        self.0 = ErrorCode::new(category.0, value, system_message(category.0, value));
    }
}

fn system_message(cat: ErrorCategory, value: i32) -> String {
    match (cat, value) {
        (_, 0) => "Success".into(),
        (ErrorCategory::System, v) => {
            let s = std::io::Error::from_raw_os_error(v).to_string();
            match s.rfind(" (os error ") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
        (_, v) => format!("error {v}"),
    }
}

pub fn error_code_to_py<'py>(py: Python<'py>, e: &ErrorCode) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(py, PyErrorCode(e.clone()))?.into_any())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyErrorCode>()?;
    m.add_class::<PyErrorCategory>()?;
    Ok(())
}
