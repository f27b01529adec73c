//! Alerts of the DHT and of local service discovery, kept apart from
//! `alert.rs` so that [`crate::alert::AlertKind`] needs a single variant
//! for them ([`crate::alert::AlertKind::Dht`]).

use std::net::SocketAddr;

use lt_core::error::ErrorCode;
use lt_core::Sha1Hash;

use crate::alert::{category, TorrentRef};

/// One running lookup in a `dht_stats_alert`.
#[derive(Clone, Debug)]
pub struct DhtLookupStats {
    pub kind: &'static str,
    pub outstanding_requests: i64,
    pub timeouts: i64,
    pub responses: i64,
    pub branch_factor: i64,
    pub nodes_left: i64,
    pub last_sent: i64,
    pub first_timeout: i64,
}

/// What the DHT (or LSD) reports.
#[derive(Clone, Debug)]
pub enum DhtAlert {
    /// The bootstrap lookup finished.
    Bootstrap,
    /// Someone asked us for peers of `info_hash`.
    GetPeers { info_hash: Sha1Hash },
    /// Someone announced itself to us.
    Announce {
        ip: std::net::IpAddr,
        port: u16,
        info_hash: Sha1Hash,
    },
    /// A torrent's DHT announce returned peers (a `tracker_alert`).
    Reply { torrent: TorrentRef, num_peers: i32 },
    /// One of our lookups sent `get_peers` to a node.
    OutgoingGetPeers {
        info_hash: Sha1Hash,
        obfuscated_info_hash: Sha1Hash,
        endpoint: SocketAddr,
    },
    /// `dht_get_immutable_item` finished; `item` is the bencoded value
    /// (empty when nothing was found).
    ImmutableItem { target: Sha1Hash, item: Vec<u8> },
    /// `dht_get_mutable_item` found an item (or finished).
    MutableItem {
        key: [u8; 32],
        signature: [u8; 64],
        seq: i64,
        salt: Vec<u8>,
        item: Vec<u8>,
        authoritative: bool,
    },
    /// A put finished.
    Put {
        target: Sha1Hash,
        public_key: [u8; 32],
        signature: [u8; 64],
        salt: Vec<u8>,
        seq: i64,
        num_success: i32,
    },
    /// `dht_get_peers` finished.
    GetPeersReply {
        info_hash: Sha1Hash,
        peers: Vec<SocketAddr>,
    },
    /// `dht_live_nodes`: the routing table's nodes.
    LiveNodes {
        node_id: Sha1Hash,
        nodes: Vec<(Sha1Hash, SocketAddr)>,
    },
    /// A node answered `sample_infohashes`.
    SampleInfohashes {
        endpoint: SocketAddr,
        interval: i64,
        num_infohashes: i64,
        samples: Vec<Sha1Hash>,
        nodes: Vec<(Sha1Hash, SocketAddr)>,
    },
    /// `post_dht_stats`.
    Stats {
        node_id: Sha1Hash,
        /// `(num_nodes, num_replacements, last_active)` per bucket.
        routing_table: Vec<(i64, i64, i64)>,
        active_requests: Vec<DhtLookupStats>,
    },
    /// Local service discovery found a peer for a torrent.
    LsdPeer {
        torrent: TorrentRef,
        endpoint: SocketAddr,
    },
    /// The LSD socket could not be opened.
    LsdError { error: ErrorCode },
    /// A line of the DHT's activity (`dht_log_alert`, category
    /// `dht_log`); `module` is libtorrent's `dht_module_t`.
    Log { module: u8, message: String },
    /// A DHT datagram received (`incoming`) or sent (category `dht_log`).
    Pkt {
        incoming: bool,
        endpoint: SocketAddr,
        buf: Vec<u8>,
    },
}

impl DhtAlert {
    pub fn what(&self) -> &'static str {
        use DhtAlert::*;
        match self {
            Bootstrap => "dht_bootstrap",
            GetPeers { .. } => "dht_get_peers",
            Announce { .. } => "dht_announce",
            Reply { .. } => "dht_reply",
            OutgoingGetPeers { .. } => "dht_outgoing_get_peers",
            ImmutableItem { .. } => "dht_immutable_item",
            MutableItem { .. } => "dht_mutable_item",
            Put { .. } => "dht_put",
            GetPeersReply { .. } => "dht_get_peers_reply",
            LiveNodes { .. } => "dht_live_nodes",
            SampleInfohashes { .. } => "dht_sample_infohashes",
            Stats { .. } => "dht_stats",
            LsdPeer { .. } => "lsd_peer",
            LsdError { .. } => "lsd_error",
            Pkt { .. } => "dht_pkt",
            Log { .. } => "dht_log",
        }
    }

    /// libtorrent's numeric alert type.
    pub fn alert_type(&self) -> usize {
        use DhtAlert::*;
        match self {
            Reply { .. } => 16,
            Announce { .. } => 55,
            GetPeers { .. } => 56,
            LsdPeer { .. } => 60,
            LsdError { .. } => 82,
            Pkt { .. } => 86,
            Log { .. } => 85,
            Bootstrap => 62,
            ImmutableItem { .. } => 74,
            MutableItem { .. } => 75,
            Put { .. } => 76,
            OutgoingGetPeers { .. } => 78,
            Stats { .. } => 83,
            GetPeersReply { .. } => 87,
            LiveNodes { .. } => 91,
            SampleInfohashes { .. } => 93,
        }
    }

    pub fn category(&self) -> u32 {
        use category::*;
        use DhtAlert::*;
        match self {
            Reply { .. } => DHT | TRACKER,
            GetPeersReply { .. } | SampleInfohashes { .. } => DHT_OPERATION,
            // As the reference reports it (the alert is always posted).
            Stats { .. } => 0,
            LsdPeer { .. } => PEER,
            LsdError { .. } => ERROR,
            Pkt { .. } | Log { .. } => DHT_LOG,
            _ => DHT,
        }
    }

    pub fn torrent(&self) -> Option<&TorrentRef> {
        match self {
            DhtAlert::Reply { torrent, .. } | DhtAlert::LsdPeer { torrent, .. } => Some(torrent),
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        use DhtAlert::*;
        match self {
            Log { module, message } => {
                let name = [
                    "tracker",
                    "node",
                    "routing_table",
                    "rpc_manager",
                    "traversal",
                ]
                .get(*module as usize)
                .copied()
                .unwrap_or("");
                format!("DHT {name}: {message}")
            }
            Bootstrap => "DHT bootstrap complete".into(),
            GetPeers { info_hash } => format!("incoming dht get_peers: {}", info_hash.to_hex()),
            Announce {
                ip,
                port,
                info_hash,
            } => format!(
                "incoming dht announce: {} ({})",
                SocketAddr::new(*ip, *port),
                info_hash.to_hex()
            ),
            Reply { torrent, num_peers } => format!(
                "{} ()[-v1] received DHT peers: {}",
                torrent.short_name(),
                num_peers
            ),
            OutgoingGetPeers {
                info_hash,
                obfuscated_info_hash,
                endpoint,
            } => {
                let obf = if obfuscated_info_hash != info_hash {
                    format!(" [obfuscated: {}]", obfuscated_info_hash.to_hex())
                } else {
                    String::new()
                };
                format!(
                    "outgoing dht get_peers : {}{} -> {}",
                    info_hash.to_hex(),
                    obf,
                    endpoint
                )
            }
            ImmutableItem { target, item } => format!(
                "DHT immutable item {} [ {} ]",
                target.to_hex(),
                entry_text(item)
            ),
            MutableItem {
                key,
                seq,
                salt,
                item,
                authoritative,
                ..
            } => format!(
                "DHT mutable item (key={} salt={} seq={} {}) [ {} ]",
                hex(key),
                String::from_utf8_lossy(salt),
                seq,
                if *authoritative { "auth" } else { "non-auth" },
                entry_text(item)
            ),
            Put {
                target,
                public_key,
                signature,
                salt,
                seq,
                num_success,
            } => {
                if public_key.iter().all(|&b| b == 0) {
                    format!(
                        "DHT put complete (success={} hash={})",
                        num_success,
                        target.to_hex()
                    )
                } else {
                    format!(
                        "DHT put complete (success={} key={} sig={} salt={} seq={})",
                        num_success,
                        hex(public_key),
                        hex(signature),
                        String::from_utf8_lossy(salt),
                        seq
                    )
                }
            }
            GetPeersReply { info_hash, peers } => format!(
                "incoming dht get_peers reply: {}, peers {}",
                info_hash.to_hex(),
                peers.len()
            ),
            LiveNodes { node_id, nodes } => format!(
                "dht live nodes for id: {}, nodes {}",
                node_id.to_hex(),
                nodes.len()
            ),
            SampleInfohashes {
                endpoint, samples, ..
            } => format!(
                "incoming dht sample_infohashes reply from: {}, samples {}",
                endpoint,
                samples.len()
            ),
            Stats {
                node_id,
                routing_table,
                active_requests,
            } => format!(
                "DHT stats: ({}) reqs: {} buckets: {}",
                node_id.to_hex(),
                active_requests.len(),
                routing_table.len()
            ),
            LsdPeer { torrent, endpoint } => format!(
                "{} peer {}: received peer from local service discovery",
                torrent.short_name(),
                endpoint
            ),
            LsdError { error } => format!("Local Service Discovery error: {}", error.message()),
            Pkt {
                incoming,
                endpoint,
                buf,
            } => format!(
                "{} [{}] {}",
                if *incoming { "<==" } else { "==>" },
                endpoint,
                entry_text_with(buf, true)
            ),
        }
    }

    /// The error code of `lsd_error_alert`.
    pub fn error(&self) -> Option<&ErrorCode> {
        match self {
            DhtAlert::LsdError { error } => Some(error),
            _ => None,
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A bencoded value printed the way libtorrent's `entry::to_string` does
/// (strings quoted, or in hex when not printable).
fn entry_text(item: &[u8]) -> String {
    entry_text_with(item, false)
}

/// `packet`: the form of `dht_pkt_alert` messages (binary strings quoted,
/// long ones shortened).
fn entry_text_with(item: &[u8], packet: bool) -> String {
    match lt_bencode::decode(item) {
        Ok(doc) => {
            let mut out = String::new();
            node_text(doc.root(), &mut out, packet);
            out
        }
        Err(_) if packet => format!("<invalid: {} bytes>", item.len()),
        Err(_) => String::new(),
    }
}

fn node_text(n: lt_bencode::Node<'_, '_>, out: &mut String, packet: bool) {
    use lt_bencode::Kind;
    match n.kind() {
        Kind::Int => out.push_str(&n.as_int().unwrap_or(0).to_string()),
        Kind::Bytes => {
            let b = n.as_bytes().unwrap_or(&[]);
            if b.iter().all(|c| (0x20..0x7f).contains(c)) {
                out.push('\'');
                out.push_str(&String::from_utf8_lossy(b));
                out.push('\'');
            } else if packet {
                let h = hex(b);
                out.push('\'');
                match (h.get(..50), h.get(h.len().saturating_sub(8)..)) {
                    (Some(head), Some(tail)) if h.len() > 60 => {
                        out.push_str(head);
                        out.push_str("...");
                        out.push_str(tail);
                    }
                    _ => out.push_str(&h),
                }
                out.push('\'');
            } else {
                out.push_str(&hex(b));
            }
        }
        Kind::List => {
            out.push('[');
            let mut first = true;
            for e in n.list_iter() {
                out.push_str(if first { " " } else { ", " });
                first = false;
                node_text(e, out, packet);
            }
            out.push_str(" ]");
        }
        Kind::Dict => {
            out.push('{');
            let mut first = true;
            for (k, v) in n.dict_iter() {
                out.push_str(if first { " '" } else { ", '" });
                first = false;
                out.push_str(&String::from_utf8_lossy(k));
                out.push_str("': ");
                node_text(v, out, packet);
            }
            out.push_str(" }");
        }
    }
}
