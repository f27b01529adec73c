//! `dht_log_alert` (category `dht_log`): a line of the DHT's activity, in
//! libtorrent's modules (tracker, node, routing_table, rpc_manager,
//! traversal). Produced by the DHT driver only while the alert mask asks
//! for the category: every entry point checks the mask before building a
//! message or looking at a datagram, so the cost is one mask test
//! otherwise.
//!
//! The lines are the driver's view: node start, routers, bootstrap, and
//! each query sent or reply/error/query received (from the datagrams).
//! libtorrent's own debug lines (traversal ids, internal state) are not
//! reproduced word for word.

use std::net::SocketAddr;

use super::Engine;
use crate::alert::{category, Alert, AlertKind};
use crate::alert_queue::AlertQueue;
use crate::dht_alert::DhtAlert;

/// libtorrent's `dht_log_alert::dht_module_t` (the modules the driver
/// writes lines for; `routing_table` = 2 and `traversal` = 4 are not used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhtModule {
    Tracker = 0,
    Node = 1,
    RpcManager = 3,
}

/// Posts a `dht_log_alert` when the mask asks for it; `msg` is only
/// built then.
pub(crate) fn post_log(
    alerts: &AlertQueue<Alert>,
    module: DhtModule,
    msg: impl FnOnce() -> String,
) {
    if alerts.should_post(category::DHT_LOG) {
        alerts.post(Alert::new(AlertKind::Dht(DhtAlert::Log {
            module: module as u8,
            message: msg(),
        })));
    }
}

/// Logs a KRPC datagram sent to or received from `addr` (a no-op unless
/// the mask asks for `dht_log`).
pub(crate) fn log_datagram(
    alerts: &AlertQueue<Alert>,
    incoming: bool,
    addr: SocketAddr,
    data: &[u8],
) {
    if !alerts.should_post(category::DHT_LOG) {
        return;
    }
    let limits = lt_bencode::Limits {
        max_depth: 8,
        max_tokens: 4096,
        ..Default::default()
    };
    let Ok(doc) = lt_bencode::decode_with(data, limits) else {
        post_log(alerts, DhtModule::RpcManager, || {
            format!("invalid message ({} bytes) from {addr}", data.len())
        });
        return;
    };
    let root = doc.root();
    let y = root.get_bytes(b"y").unwrap_or_default();
    let q = String::from_utf8_lossy(root.get_bytes(b"q").unwrap_or_default()).into_owned();
    let tid = root
        .get_bytes(b"t")
        .map(|t| t.iter().fold(0u64, |a, b| a << 8 | u64::from(*b)))
        .unwrap_or(0);
    match (incoming, y) {
        (false, b"q") => post_log(alerts, DhtModule::RpcManager, || {
            format!("invoking {q} -> {addr}")
        }),
        (false, b"r") => post_log(alerts, DhtModule::Node, || {
            format!("sending reply to {addr} transaction id: {tid}")
        }),
        (false, b"e") => post_log(alerts, DhtModule::Node, || {
            format!("sending error to {addr} transaction id: {tid}")
        }),
        (true, b"r") => post_log(alerts, DhtModule::RpcManager, || {
            format!("reply with transaction id: {tid} from {addr}")
        }),
        (true, b"e") => post_log(alerts, DhtModule::RpcManager, || {
            format!("reply with error, transaction id: {tid} from {addr}")
        }),
        (true, b"q") => post_log(alerts, DhtModule::Node, || {
            format!("incoming {q} from {addr}")
        }),
        _ => post_log(alerts, DhtModule::RpcManager, || {
            format!("unknown message type from {addr}")
        }),
    }
}

impl Engine {
    /// A `dht_log_alert` line (built only when the mask asks for it).
    pub(super) fn dht_log(&self, module: DhtModule, msg: impl FnOnce() -> String) {
        post_log(&self.shared.alerts, module, msg);
    }
}
