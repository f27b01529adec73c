//! Python bindings: SSL torrents — `torrent_handle.set_ssl_certificate`
//! and `set_ssl_certificate_buffer` (the torrent's root certificate is
//! `torrent_info.ssl_cert()`, set with `create_torrent.set_root_cert`).
//!
//! As in libtorrent the calls return at once; a certificate or key that
//! cannot be used is reported as `torrent_error_alert` (its `filename`
//! names the file, or `[certificate]` / `[private key]` with the reason).
//! `dh_params` is read and checked (a missing file or text that holds no
//! DH parameters is reported, as libtorrent reports it) but not used: our
//! TLS (rustls) uses elliptic-curve key exchange only. The private key must be unencrypted PEM; an
//! encrypted one is reported as an error whatever the passphrase.

use lt_session::SslCertificate;
use pyo3::prelude::*;

use crate::handle::PyTorrentHandle;

/// A `std::string` argument: `str` (UTF-8) or `bytes`, as Boost.Python
/// converts them; anything else raises its `ArgumentError`.
fn string_arg(py: Python<'_>, v: &Bound<'_, PyAny>, func: &str, sig: &str) -> PyResult<Vec<u8>> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s.into_bytes());
    }
    if let Ok(b) = v.cast::<pyo3::types::PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    let msg = format!(
        "Python argument types in\n    torrent_handle.{func}(torrent_handle, {})\ndid not match C++ signature:\n    {func}(libtorrent::torrent_handle {{lvalue}}, {sig})",
        v.get_type().name()?
    );
    let t = crate::bencode::argument_error_type(py)?;
    Err(PyErr::from_value(t.call1((msg,))?))
}

const FILE_SIG: &str = "std::string, std::string, std::string [,std::string='']";
const BUF_SIG: &str = "std::string cert, std::string private_key, std::string dh_params";

#[pymethods]
impl PyTorrentHandle {
    /// Our certificate and private key for this SSL torrent, from PEM
    /// files. Peers must present certificates signed by the torrent's root
    /// certificate, as ours must be.
    #[pyo3(signature = (cert, private_key, dh_params, passphrase = None))]
    fn set_ssl_certificate(
        &self,
        py: Python<'_>,
        cert: &Bound<'_, PyAny>,
        private_key: &Bound<'_, PyAny>,
        dh_params: &Bound<'_, PyAny>,
        passphrase: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let f = "set_ssl_certificate";
        let cert = string_arg(py, cert, f, FILE_SIG)?;
        let key = string_arg(py, private_key, f, FILE_SIG)?;
        let dh = string_arg(py, dh_params, f, FILE_SIG)?;
        if let Some(p) = passphrase {
            string_arg(py, p, f, FILE_SIG)?;
        }
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        let src = SslCertificate::Files {
            cert: text(cert),
            key: text(key),
            dh: text(dh),
        };
        self.with(py, move |e, id| e.set_ssl_certificate(id, src))
    }

    /// Our certificate and private key for this SSL torrent, as PEM text.
    fn set_ssl_certificate_buffer(
        &self,
        py: Python<'_>,
        cert: &Bound<'_, PyAny>,
        private_key: &Bound<'_, PyAny>,
        dh_params: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let f = "set_ssl_certificate_buffer";
        let cert = string_arg(py, cert, f, BUF_SIG)?;
        let key = string_arg(py, private_key, f, BUF_SIG)?;
        let dh = string_arg(py, dh_params, f, BUF_SIG)?;
        let src = SslCertificate::Buffers { cert, key, dh };
        self.with(py, move |e, id| e.set_ssl_certificate(id, src))
    }
}
