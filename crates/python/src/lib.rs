//! The `libtorrent` Python module: a thin PyO3 layer over the libtorrent-rs
//! crates. No BitTorrent logic lives here, only conversion between Python
//! objects and the engine's types.

use pyo3::prelude::*;

mod alerts;
mod bencode;
mod convert;
mod create;
mod dht;
mod enums;
mod errors;
mod filters;
mod fingerprint;
mod handle;
mod handle_compat;
mod handle_ops;
mod hashes;
mod log_alerts;
mod magnet;
mod metainfo;
mod peer_class;
mod portmap;
mod proxy;
mod renamed;
mod resume;
mod session;
mod session_status;
mod settings;
mod ssl;

/// Version reported as `libtorrent.__version__` (the reference API level we mirror).
pub const VERSION: &str = "2.1.1.0";

#[pymodule]
fn _libtorrent(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", VERSION)?;
    m.add("version", VERSION)?;
    m.add("version_major", 2)?;
    m.add("version_minor", 1)?;
    m.add("api_version", 1)?;
    hashes::register(m)?;
    bencode::register(m)?;
    enums::register(m)?;
    settings::register(m)?;
    errors::register(m)?;
    fingerprint::register(m)?;
    filters::register(m)?;
    metainfo::register(m)?;
    create::register(m)?;
    magnet::register(m)?;
    handle::register(m)?;
    handle_ops::register(m)?;
    alerts::register(m)?;
    log_alerts::register(m)?;
    session::register(m)?;
    dht::register(m)?;
    portmap::register(m)?;
    session_status::register(m)?;
    resume::register(m)?;
    proxy::register(m)?;
    renamed::register(m)?;
    Ok(())
}
