//! `proxy_type_t.proxy_settings` and the deprecated session functions
//! that read and write the proxy settings through it (`set_proxy`,
//! `proxy`, `set_peer_proxy`, ...), as the reference binds them.

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use lt_settings::{keys, SettingsPack};

use crate::session::PySession;

const SELF_TYPE: &str = "libtorrent::aux::proxy_settings {lvalue}";

/// Boost.Python's error for a property set with a value of the wrong type.
fn setter_error(py: Python<'_>, value: &Bound<'_, PyAny>, cpp: &str) -> PyResult<PyErr> {
    let msg = format!(
        "Python argument types in\n    None.None(proxy_settings, {})\ndid not match C++ signature:\n    None({SELF_TYPE}, {cpp})",
        value.get_type().name()?
    );
    let t = crate::bencode::argument_error_type(py)?;
    Ok(PyErr::from_value(t.call1((msg,))?))
}

fn string_arg(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return s.extract::<String>();
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    Err(setter_error(v.py(), v, "std::string")?)
}

fn bool_arg(v: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Ok(b) = v.extract::<bool>() {
        return Ok(b);
    }
    if v.is_instance_of::<pyo3::types::PyInt>() {
        return v.is_truthy();
    }
    Err(setter_error(v.py(), v, "bool")?)
}

/// Deprecated: the proxy settings as one value.
#[pyclass(module = "libtorrent", name = "proxy_settings", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct PyProxySettings {
    kind: i32,
    hostname: String,
    port: u16,
    username: String,
    password: String,
    proxy_hostnames: bool,
    proxy_peer_connections: bool,
}

impl PyProxySettings {
    fn new_default() -> Self {
        PyProxySettings {
            proxy_hostnames: true,
            proxy_peer_connections: true,
            ..Default::default()
        }
    }
}

#[pymethods]
impl PyProxySettings {
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        if !args.is_empty() {
            let mut names = vec!["proxy_settings".to_owned()];
            for a in args.iter() {
                names.push(a.get_type().name()?.to_string());
            }
            let msg = format!(
                "Python argument types in\n    proxy_settings.__init__({})\ndid not match C++ signature:\n    __init__(boost::python::api::object)",
                names.join(", ")
            );
            let t = crate::bencode::argument_error_type(py)?;
            return Err(PyErr::from_value(t.call1((msg,))?));
        }
        crate::dht::deprecated(py, "proxy_settings is deprecated")?;
        Ok(Self::new_default())
    }

    #[getter(r#type)]
    fn get_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::enums::enum_to_py(py, "proxy_type_t", i64::from(self.kind))
    }

    #[setter(r#type)]
    fn set_type(&mut self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let cls = crate::enums::enum_type(py, "proxy_type_t")?;
        if !v.is_instance(&cls)? {
            return Err(setter_error(
                py,
                v,
                "libtorrent::settings_pack::proxy_type_t",
            )?);
        }
        self.kind = v.extract::<i64>()? as i32;
        Ok(())
    }

    #[getter]
    fn get_hostname(&self) -> String {
        self.hostname.clone()
    }
    #[setter]
    fn set_hostname(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.hostname = string_arg(v)?;
        Ok(())
    }

    #[getter]
    fn get_username(&self) -> String {
        self.username.clone()
    }
    #[setter]
    fn set_username(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.username = string_arg(v)?;
        Ok(())
    }

    #[getter]
    fn get_password(&self) -> String {
        self.password.clone()
    }
    #[setter]
    fn set_password(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.password = string_arg(v)?;
        Ok(())
    }

    #[getter]
    fn get_port(&self) -> u16 {
        self.port
    }
    #[setter]
    fn set_port(&mut self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<()> {
        if !v.is_instance_of::<pyo3::types::PyInt>() {
            return Err(setter_error(py, v, "unsigned short")?);
        }
        let n: i128 = v.extract()?;
        if n < 0 {
            return Err(PyOverflowError::new_err(
                "can't convert negative value to unsigned int",
            ));
        }
        self.port = u16::try_from(n)
            .map_err(|_| PyOverflowError::new_err("bad numeric conversion: positive overflow"))?;
        Ok(())
    }

    #[getter]
    fn get_proxy_hostnames(&self) -> bool {
        self.proxy_hostnames
    }
    #[setter]
    fn set_proxy_hostnames(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.proxy_hostnames = bool_arg(v)?;
        Ok(())
    }

    #[getter]
    fn get_proxy_peer_connections(&self) -> bool {
        self.proxy_peer_connections
    }
    #[setter]
    fn set_proxy_peer_connections(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.proxy_peer_connections = bool_arg(v)?;
        Ok(())
    }
}

/// The `proxy_settings` argument of a session function, or Boost.Python's
/// error naming the function.
fn proxy_arg(func: &str, v: &Bound<'_, PyAny>) -> PyResult<PyProxySettings> {
    if let Ok(p) = v.cast::<PyProxySettings>() {
        return Ok(p.borrow().clone());
    }
    let msg = format!(
        "Python argument types in\n    session.{func}(session, {})\ndid not match C++ signature:\n    {func}(libtorrent::session {{lvalue}}, {})",
        v.get_type().name()?,
        SELF_TYPE.trim_end_matches(" {lvalue}")
    );
    let t = crate::bencode::argument_error_type(v.py())?;
    Err(PyErr::from_value(t.call1((msg,))?))
}

impl PySession {
    fn read_proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        self.call(py, |e| {
            let s = e.settings();
            PyProxySettings {
                kind: s.get_int(keys::PROXY_TYPE),
                hostname: s.get_str(keys::PROXY_HOSTNAME).to_owned(),
                port: s.get_int(keys::PROXY_PORT).clamp(0, 65535) as u16,
                username: s.get_str(keys::PROXY_USERNAME).to_owned(),
                password: s.get_str(keys::PROXY_PASSWORD).to_owned(),
                proxy_hostnames: s.get_bool(keys::PROXY_HOSTNAMES),
                proxy_peer_connections: s.get_bool(keys::PROXY_PEER_CONNECTIONS),
            }
        })
    }

    fn write_proxy(&self, py: Python<'_>, p: PyProxySettings) -> PyResult<()> {
        let mut pack = SettingsPack::new();
        pack.set_int(keys::PROXY_TYPE, p.kind);
        pack.set_str(keys::PROXY_HOSTNAME, p.hostname);
        pack.set_int(keys::PROXY_PORT, i32::from(p.port));
        pack.set_str(keys::PROXY_USERNAME, p.username);
        pack.set_str(keys::PROXY_PASSWORD, p.password);
        pack.set_bool(keys::PROXY_HOSTNAMES, p.proxy_hostnames);
        pack.set_bool(keys::PROXY_PEER_CONNECTIONS, p.proxy_peer_connections);
        self.call(py, move |e| e.apply_settings(&pack))
    }
}

#[pymethods]
impl PySession {
    /// Deprecated: sets the `proxy_*` settings.
    fn set_proxy(&self, py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<()> {
        let p = proxy_arg("set_proxy", p)?;
        crate::dht::deprecated(py, "set_proxy() is deprecated")?;
        self.write_proxy(py, p)
    }

    /// Deprecated: the `proxy_*` settings.
    fn proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        crate::dht::deprecated(py, "proxy() is deprecated")?;
        self.read_proxy(py)
    }

    /// Deprecated: the same as `set_proxy`.
    fn set_peer_proxy(&self, py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<()> {
        let p = proxy_arg("set_peer_proxy", p)?;
        crate::dht::deprecated(py, "set_peer_proxy() is deprecated")?;
        self.write_proxy(py, p)
    }

    fn peer_proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        crate::dht::deprecated(py, "peer_proxy() is deprecated")?;
        self.read_proxy(py)
    }

    /// Deprecated and, as in the reference, without effect: trackers use
    /// the session's proxy (`proxy_tracker_connections`).
    fn set_tracker_proxy(&self, py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<()> {
        proxy_arg("set_tracker_proxy", p)?;
        crate::dht::deprecated(py, "set_tracker_proxy() is deprecated")
    }

    fn tracker_proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        crate::dht::deprecated(py, "tracker_proxy() is deprecated")?;
        self.read_proxy(py)
    }

    /// Deprecated and, as in the reference, without effect.
    fn set_web_seed_proxy(&self, py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<()> {
        proxy_arg("set_web_seed_proxy", p)?;
        crate::dht::deprecated(py, "set_web_seed_proxy() is deprecated")
    }

    fn web_seed_proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        crate::dht::deprecated(py, "web_seed_proxy() is deprecated")?;
        self.read_proxy(py)
    }

    /// Deprecated and, as in the reference, without effect.
    fn set_dht_proxy(&self, py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<()> {
        proxy_arg("set_dht_proxy", p)?;
        crate::dht::deprecated(py, "set_dht_proxy() is deprecated")
    }

    fn dht_proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        crate::dht::deprecated(py, "dht_proxy() is deprecated")?;
        self.read_proxy(py)
    }

    /// Deprecated: sets `i2p_hostname` and `i2p_port`.
    fn set_i2p_proxy(&self, py: Python<'_>, p: &Bound<'_, PyAny>) -> PyResult<()> {
        let p = proxy_arg("set_i2p_proxy", p)?;
        crate::dht::deprecated(py, "set_i2p_proxy() is deprecated")?;
        let mut pack = SettingsPack::new();
        pack.set_str(keys::I2P_HOSTNAME, p.hostname);
        pack.set_int(keys::I2P_PORT, i32::from(p.port));
        self.call(py, move |e| e.apply_settings(&pack))
    }

    /// Deprecated: `i2p_hostname` and `i2p_port` (type `none`).
    fn i2p_proxy(&self, py: Python<'_>) -> PyResult<PyProxySettings> {
        crate::dht::deprecated(py, "i2p_proxy() is deprecated")?;
        self.call(py, |e| {
            let s = e.settings();
            PyProxySettings {
                hostname: s.get_str(keys::I2P_HOSTNAME).to_owned(),
                port: s.get_int(keys::I2P_PORT).clamp(0, 65535) as u16,
                ..PyProxySettings::new_default()
            }
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // Reached only as `proxy_type_t.proxy_settings`, not a module attribute.
    let cls = py.get_type::<PyProxySettings>();
    crate::enums::enum_type(py, "proxy_type_t")?.setattr("proxy_settings", cls)?;
    Ok(())
}
