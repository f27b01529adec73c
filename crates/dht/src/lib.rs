//! The BitTorrent Mainline DHT as a sans-IO state machine.
//!
//! This crate implements BEP 5 (KRPC, routing table, `get_peers` /
//! `announce_peer`), BEP 32 (`nodes6`), BEP 42 (node-id security and
//! external-address voting), BEP 43 (read-only nodes), BEP 44 (storing
//! arbitrary data: immutable and mutable items) and BEP 51
//! (`sample_infohashes`), following libtorrent's behaviour and defaults.
//!
//! It does no I/O: no sockets, no clocks, no threads, no OS randomness.
//! A [`Dht`] is fed datagrams that arrived on the UDP socket
//! ([`Dht::handle_datagram`]) and the passage of time ([`Dht::tick`]), and
//! hands back datagrams to send ([`Dht::poll_transmit`]) and events
//! ([`Dht::poll_event`]). The caller (the session engine) owns the socket
//! and the timer. One `Dht` serves one address family (the family of the
//! address passed to [`Dht::new`]); a dual-stack session runs two.
//!
//! # Driving loop
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::{Duration, Instant};
//! use lt_dht::{Config, Dht, Event};
//!
//! let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
//! socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
//! // Seed from the OS randomness in real use (tokens, ids, transaction ids).
//! let seed = [42u8; 32];
//! let mut dht = Dht::new(Config::default(), socket.local_addr().unwrap(), seed, Instant::now());
//! dht.add_router("127.0.0.1:6881".parse().unwrap());
//! dht.bootstrap(Instant::now());
//! let target = lt_core::Sha1Hash([1; 20]);
//! dht.get_peers(target, Instant::now());
//! let mut buf = [0u8; 2048];
//! loop {
//!     // 1. whatever arrived
//!     if let Ok((n, from)) = socket.recv_from(&mut buf) {
//!         dht.handle_datagram(&buf[..n], from, Instant::now());
//!     }
//!     // 2. timers (call at least every 100-500 ms, or at next_timeout())
//!     dht.tick(Instant::now());
//!     // 3. what to send
//!     while let Some(t) = dht.poll_transmit() {
//!         let _ = socket.send_to(&t.data, t.to);
//!     }
//!     // 4. what happened
//!     while let Some(ev) = dht.poll_event() {
//!         if let Event::Peers { peers, .. } = ev {
//!             println!("found {} peers", peers.len());
//!             return;
//!         }
//!     }
//! }
//! ```
//!
//! # Mapping to libtorrent's session API
//!
//! | libtorrent | here |
//! |---|---|
//! | `add_dht_node`, `add_dht_router` | [`Dht::add_node`], [`Dht::add_router`] |
//! | `dht_get_peers` / `dht_get_peers_reply_alert` | [`Dht::get_peers`] / [`Event::Peers`] |
//! | `dht_announce` | [`Dht::announce`] (then [`Event::Peers`]) |
//! | `dht_get_immutable_item` / `dht_immutable_item_alert` | [`Dht::get_immutable`] / [`Event::ImmutableItem`] |
//! | `dht_put_immutable_item` / `dht_put_alert` | [`Dht::put_immutable`] / [`Event::PutDone`] |
//! | `dht_get_mutable_item` / `dht_mutable_item_alert` | [`Dht::get_mutable`] / [`Event::MutableItem`] |
//! | `dht_put_mutable_item` / `dht_put_alert` | [`Dht::put_mutable`] with [`KeyPair::from_libtorrent`] / [`Event::PutDone`] |
//! | `dht_sample_infohashes` / `dht_sample_infohashes_alert` | [`Dht::sample_infohashes`] / [`Event::Samples`] |
//! | `dht_live_nodes` / `dht_live_nodes_alert` | [`Dht::live_nodes`] |
//! | `post_dht_stats` / `dht_stats_alert`, `dht.*` counters | [`Dht::stats`] |
//! | `dht_state`, `session_state()["dht state"]` | [`Dht::state`], [`DhtState::encode`], [`Dht::with_state`] |
//! | `dht_bootstrap_alert` | [`Event::Bootstrapped`] |
//! | `dht_announce_alert`, `dht_get_peers_alert`, `dht_outgoing_get_peers_alert` | [`Event::IncomingAnnounce`], [`Event::IncomingGetPeers`], [`Event::OutgoingGetPeers`] |
//! | `dht_*` settings, `apply_settings` | [`Config`], [`Dht::set_config`] |
//! | `dht_pkt_alert` | the caller sees every datagram in and out |
//!
//! # Randomness
//!
//! [`Dht::new`] takes a 32-byte seed for its internal generator (transaction
//! ids, token secrets, node ids, sampling). The session must seed it from
//! the operating system's randomness; tests seed it with constants so that
//! a whole simulated network replays identically.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use lt_bencode::{Kind as BKind, Value};
use lt_core::Sha1Hash;

pub mod id;
pub mod item;
pub mod lookup;
pub mod msg;
mod node;
pub mod routing;
pub mod storage;

pub use id::NodeId;
pub use item::KeyPair;
pub use lookup::LookupId;
pub use msg::{Message, NodeInfo};
pub use node::{Counters, Dht, DhtStats, LookupStats, Transmit};
pub use routing::BucketStats;

/// The DHT settings, named and defaulted as libtorrent's `dht_*` entries of
/// `settings_pack` (see `lt-settings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `dht_max_peers_reply`: peers returned in one `get_peers` response.
    pub max_peers_reply: usize,
    /// `dht_search_branching`: queries in flight per lookup.
    pub search_branching: usize,
    /// `dht_max_fail_count`: consecutive timeouts before a node is removed.
    pub max_fail_count: u32,
    /// `dht_max_torrents`: info-hashes we store peers for.
    pub max_torrents: usize,
    /// `dht_max_dht_items`: BEP 44 items we store.
    pub max_dht_items: usize,
    /// `dht_max_peers`: peers stored per info-hash.
    pub max_peers: usize,
    /// `dht_restrict_routing_ips`: one routing-table node per IP (and per
    /// /24 or /64 within a bucket). Local-network addresses are exempt.
    pub restrict_routing_ips: bool,
    /// `dht_prefer_verified_node_ids`: in a full bucket, a node with a
    /// valid BEP 42 id replaces one without.
    pub prefer_verified_node_ids: bool,
    /// `dht_extended_routing_table`: the four farthest buckets hold 128, 64,
    /// 32 and 16 nodes instead of 8.
    pub extended_routing_table: bool,
    /// `dht_restrict_search_ips`: one lookup candidate per IP.
    pub restrict_search_ips: bool,
    /// `dht_enforce_node_id`: nodes whose id is not valid for their IP under
    /// BEP 42 are not added to the routing table nor used in lookups.
    pub enforce_node_id: bool,
    /// `dht_read_only` (BEP 43): do not answer queries, flag our queries
    /// with `ro`, so that others do not put us in their tables.
    pub read_only: bool,
    /// `dht_upload_rate_limit`: bytes per second of responses we send;
    /// responses beyond it are dropped.
    pub upload_rate_limit: usize,
    /// `dht_block_timeout`: how long an abusive IP is ignored.
    pub block_timeout: Duration,
    /// `dht_block_ratelimit`: packets per second an IP may send us
    /// (measured over 10 seconds) before being blocked.
    pub block_ratelimit: u32,
    /// `dht_item_lifetime`: BEP 44 items expire after this long
    /// (zero: never).
    pub item_lifetime: Duration,
    /// `dht_sample_infohashes_interval`: how long one BEP 51 sample is
    /// served before a new one is drawn.
    pub sample_infohashes_interval: Duration,
    /// `dht_max_infohashes_sample_count`: hashes in one BEP 51 sample.
    pub max_infohashes_sample_count: usize,
    /// Client version sent in the `v` key (none by default).
    pub client_version: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_peers_reply: 100,
            search_branching: 5,
            max_fail_count: 20,
            max_torrents: 2000,
            max_dht_items: 700,
            max_peers: 500,
            restrict_routing_ips: true,
            prefer_verified_node_ids: true,
            extended_routing_table: true,
            restrict_search_ips: true,
            enforce_node_id: false,
            read_only: false,
            upload_rate_limit: 8000,
            block_timeout: Duration::from_secs(300),
            block_ratelimit: 5,
            item_lifetime: Duration::ZERO,
            sample_infohashes_interval: Duration::from_secs(21600),
            max_infohashes_sample_count: 20,
            client_version: None,
        }
    }
}

/// Something the DHT reports to its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A bootstrap lookup finished.
    Bootstrapped {
        lookup: LookupId,
        /// Nodes in the routing table afterwards.
        nodes: usize,
    },
    /// A `get_peers` or `announce` lookup finished (`dht_get_peers_reply_alert`).
    Peers {
        lookup: LookupId,
        info_hash: Sha1Hash,
        peers: Vec<SocketAddr>,
        /// Nodes an `announce_peer` was sent to (0 for a plain `get_peers`).
        announced_to: usize,
    },
    /// An immutable item lookup finished (`dht_immutable_item_alert`).
    ImmutableItem {
        lookup: LookupId,
        target: Sha1Hash,
        /// The bencoded value, when found (its SHA-1 matched the target).
        value: Option<Vec<u8>>,
    },
    /// A mutable item (`dht_mutable_item_alert`): reported with
    /// `authoritative` false each time a lookup finds a newer one, and once
    /// with `authoritative` true when the lookup ends (the item with the
    /// highest sequence number and a valid signature; `value` `None` when
    /// nothing was found).
    MutableItem {
        lookup: LookupId,
        key: [u8; 32],
        salt: Vec<u8>,
        seq: i64,
        signature: [u8; 64],
        /// The bencoded value; `None` when nothing was found.
        value: Option<Vec<u8>>,
        authoritative: bool,
    },
    /// A `put` finished (`dht_put_alert`).
    PutDone {
        lookup: LookupId,
        target: Sha1Hash,
        /// Nodes that accepted the item.
        num_success: usize,
        /// For mutable items: the key, salt, sequence number and signature
        /// published.
        mutable: Option<PutMutableInfo>,
    },
    /// The answer of one node to `sample_infohashes`
    /// (`dht_sample_infohashes_alert`).
    Samples {
        lookup: LookupId,
        from: SocketAddr,
        interval: Duration,
        num: i64,
        samples: Vec<Sha1Hash>,
        nodes: Vec<NodeInfo>,
    },
    /// A direct query (`sample_infohashes`, `ping`) got no answer.
    QueryFailed { lookup: LookupId, to: SocketAddr },
    /// A lookup sent `get_peers` to a node (`dht_outgoing_get_peers_alert`).
    OutgoingGetPeers { info_hash: Sha1Hash, to: SocketAddr },
    /// Someone announced a peer to us (`dht_announce_alert`).
    IncomingAnnounce {
        info_hash: Sha1Hash,
        peer: SocketAddr,
    },
    /// Someone asked us for peers (`dht_get_peers_alert`).
    IncomingGetPeers {
        info_hash: Sha1Hash,
        from: SocketAddr,
    },
    /// BEP 42 voting settled on our external address.
    ExternalAddress { ip: IpAddr },
    /// Our node id changed (a new external address made the old id
    /// invalid under BEP 42).
    NodeIdChanged { id: NodeId },
}

/// The key, salt, sequence number and signature of a published mutable item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutMutableInfo {
    pub key: [u8; 32],
    pub salt: Vec<u8>,
    pub seq: i64,
    pub signature: [u8; 64],
}

/// What survives a restart: our node ids (per external address) and the
/// endpoints of the nodes in the routing table. Encoded as libtorrent's
/// `dht state` dictionary (`node-id`: list of id + address bytes,
/// `nodes` / `nodes6`: lists of compact endpoints).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhtState {
    pub ids: Vec<(IpAddr, NodeId)>,
    pub nodes: Vec<SocketAddr>,
    pub nodes6: Vec<SocketAddr>,
}

/// Most nodes a saved state keeps per family.
pub const MAX_STATE_NODES: usize = 2000;

impl DhtState {
    /// The libtorrent-compatible bencode dictionary.
    pub fn to_value(&self) -> Value {
        let mut d = std::collections::BTreeMap::new();
        let ids = self
            .ids
            .iter()
            .map(|(ip, id)| {
                let mut b = id.0.to_vec();
                match ip {
                    IpAddr::V4(v4) => b.extend_from_slice(&v4.octets()),
                    IpAddr::V6(v6) => b.extend_from_slice(&v6.octets()),
                }
                Value::Bytes(b)
            })
            .collect();
        d.insert(b"node-id".to_vec(), Value::List(ids));
        let list = |v: &[SocketAddr]| {
            Value::List(
                v.iter()
                    .map(|a| Value::Bytes(msg::compact_endpoint(a)))
                    .collect(),
            )
        };
        if !self.nodes.is_empty() {
            d.insert(b"nodes".to_vec(), list(&self.nodes));
        }
        if !self.nodes6.is_empty() {
            d.insert(b"nodes6".to_vec(), list(&self.nodes6));
        }
        Value::Dict(d)
    }

    /// Encoded [`DhtState::to_value`].
    pub fn encode(&self) -> Vec<u8> {
        self.to_value().encode()
    }

    /// Reads the dictionary written by [`DhtState::encode`] (or by
    /// libtorrent). Malformed entries are skipped; a `node-id` that is a
    /// single 20-byte string (older libtorrent) is accepted too.
    pub fn from_node(n: lt_bencode::Node<'_, '_>) -> DhtState {
        let mut st = DhtState::default();
        if n.kind() != BKind::Dict {
            return st;
        }
        if let Some(idn) = n.get(b"node-id") {
            if let Some(b) = idn.as_bytes() {
                if let Ok(id) = NodeId::from_slice(b) {
                    st.ids.push((IpAddr::V4(Ipv4Addr::UNSPECIFIED), id));
                }
            }
            for e in idn.list_iter().take(16) {
                let Some(b) = e.as_bytes() else { continue };
                let (id, ip) = b.split_at(b.len().min(20));
                let Ok(id) = NodeId::from_slice(id) else {
                    continue;
                };
                let ip = match ip.len() {
                    4 => <[u8; 4]>::try_from(ip)
                        .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
                        .ok(),
                    16 => <[u8; 16]>::try_from(ip)
                        .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
                        .ok(),
                    0 => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    _ => None,
                };
                if let Some(ip) = ip {
                    st.ids.push((ip, id));
                }
            }
        }
        for (key, out, v6) in [
            (&b"nodes"[..], &mut st.nodes, false),
            (&b"nodes6"[..], &mut st.nodes6, true),
        ] {
            if let Some(l) = n.get_list(key) {
                for e in l.list_iter().take(MAX_STATE_NODES) {
                    if let Some(a) = e.as_bytes().and_then(msg::parse_compact_endpoint) {
                        if a.is_ipv6() == v6 {
                            out.push(a);
                        }
                    }
                }
            }
        }
        st
    }

    /// Decodes [`DhtState::encode`]'s output.
    pub fn decode(buf: &[u8]) -> Result<DhtState, lt_bencode::Error> {
        let doc = lt_bencode::decode_with(
            buf,
            lt_bencode::Limits {
                max_depth: 8,
                max_tokens: 10_000,
                ..Default::default()
            },
        )?;
        Ok(DhtState::from_node(doc.root()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip() {
        let st = DhtState {
            ids: vec![
                (IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)), Sha1Hash([7; 20])),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), Sha1Hash([8; 20])),
            ],
            nodes: vec![
                "127.0.0.1:6881".parse().unwrap(),
                "10.0.0.2:1".parse().unwrap(),
            ],
            nodes6: vec!["[::1]:6881".parse().unwrap()],
        };
        let enc = st.encode();
        assert_eq!(DhtState::decode(&enc).unwrap(), st);
        // the legacy single-id form
        let legacy = b"d7:node-id20:aaaaaaaaaaaaaaaaaaaae";
        let d = DhtState::decode(legacy).unwrap();
        assert_eq!(
            d.ids,
            vec![(IpAddr::V4(Ipv4Addr::UNSPECIFIED), Sha1Hash([b'a'; 20]))]
        );
        // garbage entries are skipped, not fatal
        let bad = b"d7:node-idl3:abce5:nodesl3:xyzi1eee";
        assert_eq!(DhtState::decode(bad).unwrap(), DhtState::default());
        assert!(DhtState::decode(b"d").is_err());
    }

    #[test]
    fn defaults_match_settings_pack() {
        let c = Config::default();
        let get = |name: &str| -> i64 {
            let found = lt_settings::INT_SETTINGS.iter().find(|(n, _)| *n == name);
            found
                .map(|(_, v)| *v as i64)
                .unwrap_or_else(|| panic!("no setting {name}"))
        };
        let getb = |name: &str| -> bool {
            let found = lt_settings::BOOL_SETTINGS.iter().find(|(n, _)| *n == name);
            found
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("no setting {name}"))
        };
        assert_eq!(c.max_peers_reply as i64, get("dht_max_peers_reply"));
        assert_eq!(c.search_branching as i64, get("dht_search_branching"));
        assert_eq!(c.max_fail_count as i64, get("dht_max_fail_count"));
        assert_eq!(c.max_torrents as i64, get("dht_max_torrents"));
        assert_eq!(c.max_dht_items as i64, get("dht_max_dht_items"));
        assert_eq!(c.max_peers as i64, get("dht_max_peers"));
        assert_eq!(c.upload_rate_limit as i64, get("dht_upload_rate_limit"));
        assert_eq!(c.block_timeout.as_secs() as i64, get("dht_block_timeout"));
        assert_eq!(c.block_ratelimit as i64, get("dht_block_ratelimit"));
        assert_eq!(c.item_lifetime.as_secs() as i64, get("dht_item_lifetime"));
        assert_eq!(
            c.sample_infohashes_interval.as_secs() as i64,
            get("dht_sample_infohashes_interval")
        );
        assert_eq!(
            c.max_infohashes_sample_count as i64,
            get("dht_max_infohashes_sample_count")
        );
        assert_eq!(c.restrict_routing_ips, getb("dht_restrict_routing_ips"));
        assert_eq!(c.restrict_search_ips, getb("dht_restrict_search_ips"));
        assert_eq!(
            c.prefer_verified_node_ids,
            getb("dht_prefer_verified_node_ids")
        );
        assert_eq!(c.enforce_node_id, getb("dht_enforce_node_id"));
        assert_eq!(c.read_only, getb("dht_read_only"));
    }
}
