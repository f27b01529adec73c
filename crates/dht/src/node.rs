//! The [`Dht`] node: query/response dispatch, lookups, the serving side,
//! maintenance, rate limiting and counters.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;

use crate::id::{self, random_id_in_bucket, NodeId, Rng};
use crate::item::{self, KeyPair};
use crate::lookup::{CState, FoundMutable, Kind, Lookup, LookupId, MutablePut, Phase};
use crate::msg::{Body, Message, NodeInfo, ParseError, PutArgs, Query, Response, Want};
use crate::routing::{BucketStats, RoutingTable, K};
use crate::storage::{ItemStore, PeerStore, StoredMutable, Tokens};
use crate::{Config, DhtState, Event, PutMutableInfo};

/// After this long without an answer a query no longer counts against a
/// lookup's branching.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(2);
/// After this long without an answer a query has failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most queries we keep outstanding at once.
pub const MAX_OUTSTANDING: usize = 2000;
/// Most lookups running at once.
pub const MAX_LOOKUPS: usize = 200;
/// Interval of routing-table maintenance (one refresh / one ping).
const MAINTENANCE: Duration = Duration::from_secs(5);
/// Interval of storage expiry.
const EXPIRY: Duration = Duration::from_secs(60);
/// Re-bootstrap interval while the table is empty.
const REBOOTSTRAP: Duration = Duration::from_secs(30);
/// Votes (from distinct voters) an external address needs to be adopted.
const IP_VOTES_NEEDED: usize = 5;
/// IPs tracked by the abuse blocker.
const MAX_TRACKED_IPS: usize = 1000;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub data: Vec<u8>,
    pub to: SocketAddr,
}

/// Message and byte counters, named after libtorrent's `dht.*` metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_in: u64,
    pub messages_out: u64,
    pub messages_in_dropped: u64,
    pub messages_out_dropped: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub ping_in: u64,
    pub ping_out: u64,
    pub find_node_in: u64,
    pub find_node_out: u64,
    pub get_peers_in: u64,
    pub get_peers_out: u64,
    pub announce_peer_in: u64,
    pub announce_peer_out: u64,
    pub get_in: u64,
    pub get_out: u64,
    pub put_in: u64,
    pub put_out: u64,
    pub sample_infohashes_in: u64,
    pub sample_infohashes_out: u64,
    pub invalid_announce: u64,
    pub invalid_get_peers: u64,
    pub invalid_put: u64,
    pub invalid_get: u64,
}

/// One running lookup, for `dht_stats_alert`'s `active_requests`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupStats {
    pub id: LookupId,
    /// `bootstrap`, `refresh`, `get_peers`, `announce`, `get`, `put`.
    pub kind: &'static str,
    pub target: Sha1Hash,
    pub outstanding_requests: usize,
    pub timeouts: u32,
    pub responses: u32,
    pub branch_factor: usize,
    pub nodes_left: usize,
    /// Seconds since the last query was sent.
    pub last_sent: u64,
    /// Seconds since the first timeout (0 when none).
    pub first_timeout: u64,
}

/// A snapshot for `dht_stats_alert` and the `dht.*` session counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtStats {
    pub routing_table: Vec<BucketStats>,
    pub active_lookups: Vec<LookupStats>,
    /// `dht.dht_nodes`
    pub nodes: usize,
    /// `dht.dht_node_cache` (replacement lists)
    pub node_cache: usize,
    /// `dht.dht_torrents`
    pub torrents: usize,
    /// `dht.dht_peers`
    pub peers: usize,
    /// `dht.dht_immutable_data`
    pub immutable_items: usize,
    /// `dht.dht_mutable_data`
    pub mutable_items: usize,
    /// `dht.dht_allocated_observers` (outstanding queries)
    pub outstanding_queries: usize,
    pub counters: Counters,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RpcKind {
    Ping,
    FindNode,
    GetPeers,
    AnnouncePeer,
    Get,
    Put,
    SampleInfohashes,
}

#[derive(Clone, Debug)]
struct Rpc {
    addr: SocketAddr,
    id: Option<NodeId>,
    kind: RpcKind,
    lookup: Option<LookupId>,
    sent: Instant,
    slow: bool,
}

#[derive(Clone, Debug)]
struct Blocker {
    count: u32,
    window: Instant,
    blocked_until: Option<Instant>,
}

/// A DHT node. See the crate documentation for the driving loop.
#[derive(Debug)]
pub struct Dht {
    config: Config,
    id: NodeId,
    local: SocketAddr,
    external_ip: Option<IpAddr>,
    table: RoutingTable,
    rng: Rng,
    tokens: Tokens,
    peers: PeerStore,
    items: ItemStore,
    rpcs: HashMap<u16, Rpc>,
    lookups: HashMap<LookupId, Lookup>,
    /// Direct queries (sample_infohashes, ping via `ping()`) awaiting an answer.
    directs: HashSet<LookupId>,
    next_lookup: u64,
    routers: Vec<SocketAddr>,
    /// Saved nodes to try at the next bootstrap.
    saved_nodes: Vec<SocketAddr>,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
    send_quota: i64,
    quota_at: Instant,
    blocked: HashMap<IpAddr, Blocker>,
    votes: HashMap<IpAddr, HashSet<IpAddr>>,
    counters: Counters,
    next_maintenance: Instant,
    next_expiry: Instant,
    last_bootstrap: Option<Instant>,
    bootstrap_lookup: Option<LookupId>,
    refresh_lookup: Option<LookupId>,
}

fn query_kind(q: &Query) -> RpcKind {
    match q {
        Query::Ping | Query::Unknown { .. } => RpcKind::Ping,
        Query::FindNode { .. } => RpcKind::FindNode,
        Query::GetPeers { .. } => RpcKind::GetPeers,
        Query::AnnouncePeer { .. } => RpcKind::AnnouncePeer,
        Query::Get { .. } => RpcKind::Get,
        Query::Put(_) => RpcKind::Put,
        Query::SampleInfohashes { .. } => RpcKind::SampleInfohashes,
    }
}

impl Dht {
    /// A node bound to `local` (the address of the UDP socket; it decides
    /// the address family). When `local` is a public address the node id
    /// is a BEP 42 id for it, otherwise random until external-address
    /// voting settles.
    pub fn new(config: Config, local: SocketAddr, seed: [u8; 32], now: Instant) -> Dht {
        let mut rng = Rng::new(seed);
        let ip = local.ip();
        let id = if !ip.is_unspecified() && !id::is_local(&ip) {
            id::generate_secure_id(&ip, &mut rng)
        } else {
            rng.id()
        };
        let tokens = Tokens::new(&mut rng, now);
        let mut table = RoutingTable::new(id, now);
        table.restrict_ips = config.restrict_routing_ips;
        table.max_fail_count = config.max_fail_count;
        table.prefer_verified = config.prefer_verified_node_ids;
        table.extended = config.extended_routing_table;
        Dht {
            peers: PeerStore::new(config.max_torrents, config.max_peers),
            items: ItemStore::new(config.max_dht_items, config.item_lifetime),
            send_quota: config.upload_rate_limit as i64,
            config,
            id,
            local,
            external_ip: None,
            table,
            rng,
            tokens,
            rpcs: HashMap::new(),
            lookups: HashMap::new(),
            directs: HashSet::new(),
            next_lookup: 1,
            routers: Vec::new(),
            saved_nodes: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            quota_at: now,
            blocked: HashMap::new(),
            votes: HashMap::new(),
            counters: Counters::default(),
            next_maintenance: now + MAINTENANCE,
            next_expiry: now + EXPIRY,
            last_bootstrap: None,
            bootstrap_lookup: None,
            refresh_lookup: None,
        }
    }

    /// A node restored from a saved [`DhtState`]: it reuses the saved id
    /// for this address family (when still valid for the external address
    /// under BEP 42) and tries the saved nodes first when bootstrapping.
    pub fn with_state(
        config: Config,
        local: SocketAddr,
        seed: [u8; 32],
        state: &DhtState,
        now: Instant,
    ) -> Dht {
        let mut dht = Dht::new(config, local, seed, now);
        let v6 = local.is_ipv6();
        let saved = state
            .ids
            .iter()
            .find(|(ip, _)| ip.is_ipv6() == v6 && (ip.is_unspecified() || *ip == local.ip()))
            .or_else(|| state.ids.iter().find(|(ip, _)| ip.is_unspecified()))
            .map(|(_, id)| *id);
        if let Some(saved) = saved {
            let lip = local.ip();
            if lip.is_unspecified() || id::verify_secure_id(&saved, &lip) {
                dht.set_id(saved, now);
            }
        }
        let nodes = if v6 { &state.nodes6 } else { &state.nodes };
        dht.saved_nodes = nodes.iter().take(crate::MAX_STATE_NODES).copied().collect();
        dht
    }

    /// Our node id.
    pub fn node_id(&self) -> NodeId {
        self.id
    }

    /// The address the node was created for.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Our external address as voted by other nodes (BEP 42), if settled.
    pub fn external_ip(&self) -> Option<IpAddr> {
        self.external_ip
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Applies changed settings (`apply_settings`). Limits take effect for
    /// new data; what is stored beyond a lowered limit is dropped as it is
    /// replaced or expires.
    pub fn set_config(&mut self, config: Config) {
        self.table.restrict_ips = config.restrict_routing_ips;
        self.table.max_fail_count = config.max_fail_count;
        self.table.prefer_verified = config.prefer_verified_node_ids;
        self.table.extended = config.extended_routing_table;
        self.peers.max_torrents = config.max_torrents;
        self.peers.max_peers = config.max_peers;
        self.items.max_items = config.max_dht_items;
        self.items.lifetime = config.item_lifetime;
        self.send_quota = self.send_quota.min(config.upload_rate_limit as i64);
        self.config = config;
    }

    /// The routing table (read only).
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// Live nodes of the routing table (`dht_live_nodes`).
    pub fn live_nodes(&self) -> Vec<NodeInfo> {
        self.table.nodes().map(|e| e.info()).collect()
    }

    fn set_id(&mut self, id: NodeId, now: Instant) {
        self.id = id;
        self.table.rebuild(id, now);
    }

    /// What to save for the next session (`dht_state`).
    pub fn state(&self) -> DhtState {
        let ip = self.external_ip.unwrap_or_else(|| {
            if self.local.is_ipv6() {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
            }
        });
        let nodes: Vec<SocketAddr> = self
            .table
            .nodes()
            .chain(self.table.replacement_nodes())
            .map(|e| e.addr)
            .take(crate::MAX_STATE_NODES)
            .collect();
        let mut st = DhtState {
            ids: vec![(ip, self.id)],
            ..Default::default()
        };
        if self.local.is_ipv6() {
            st.nodes6 = nodes;
        } else {
            st.nodes = nodes;
        }
        st
    }

    /// Counters and table/lookup snapshot.
    pub fn stats(&self, now: Instant) -> DhtStats {
        let mut active: Vec<LookupStats> = self
            .lookups
            .iter()
            .map(|(id, l)| LookupStats {
                id: *id,
                kind: l.kind.name(),
                target: l.target,
                outstanding_requests: l.outstanding(),
                timeouts: l.timeouts,
                responses: l.responses,
                branch_factor: l.branching,
                nodes_left: l.nodes_left(),
                last_sent: l
                    .last_sent
                    .map_or(0, |t| now.saturating_duration_since(t).as_secs()),
                first_timeout: l
                    .first_timeout
                    .map_or(0, |t| now.saturating_duration_since(t).as_secs()),
            })
            .collect();
        active.sort_by_key(|s| s.id);
        DhtStats {
            routing_table: self.table.stats(now),
            active_lookups: active,
            nodes: self.table.len(),
            node_cache: self.table.replacements_len(),
            torrents: self.peers.num_torrents(),
            peers: self.peers.num_peers(),
            immutable_items: self.items.num_immutable(),
            mutable_items: self.items.num_mutable(),
            outstanding_queries: self.rpcs.len(),
            counters: self.counters.clone(),
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Dht::tick`] next has work to do (a query timing out or
    /// maintenance).
    pub fn next_timeout(&self) -> Instant {
        let mut t = self.next_maintenance.min(self.next_expiry);
        for r in self.rpcs.values() {
            let due = if r.slow {
                r.sent + TIMEOUT
            } else {
                r.sent + SHORT_TIMEOUT
            };
            t = t.min(due);
        }
        t
    }

    /// Adds a bootstrap router (used while the table is empty and by
    /// [`Dht::bootstrap`]; routers are never put in the routing table).
    pub fn add_router(&mut self, addr: SocketAddr) {
        if addr.is_ipv6() == self.local.is_ipv6()
            && !self.routers.contains(&addr)
            && self.routers.len() < 64
        {
            self.routers.push(addr);
        }
    }

    /// Pings a node; it enters the routing table if it answers
    /// (`add_dht_node`).
    pub fn add_node(&mut self, addr: SocketAddr, now: Instant) {
        if addr.is_ipv6() == self.local.is_ipv6() {
            self.send_query(addr, None, Query::Ping, None, now);
        }
    }

    /// Pings a node, reporting [`Event::QueryFailed`] if it does not answer.
    pub fn ping(&mut self, addr: SocketAddr, now: Instant) -> LookupId {
        let lid = self.new_lookup_id();
        if self.send_query(addr, None, Query::Ping, Some(lid), now) {
            self.directs.insert(lid);
        } else {
            self.events.push_back(Event::QueryFailed {
                lookup: lid,
                to: addr,
            });
        }
        lid
    }

    fn new_lookup_id(&mut self) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        id
    }

    /// Starts a bootstrap: a `find_node` lookup for our own id seeded with
    /// the table, the saved nodes and the routers. Reports
    /// [`Event::Bootstrapped`].
    pub fn bootstrap(&mut self, now: Instant) -> LookupId {
        self.last_bootstrap = Some(now);
        let target = self.id;
        let lid = self.start_lookup(Kind::Bootstrap, target, now);
        self.bootstrap_lookup = Some(lid);
        lid
    }

    /// Looks up peers of `info_hash` (`dht_get_peers`); reports
    /// [`Event::Peers`].
    pub fn get_peers(&mut self, info_hash: Sha1Hash, now: Instant) -> LookupId {
        self.start_lookup(
            Kind::GetPeers {
                announce: None,
                noseed: false,
            },
            info_hash,
            now,
        )
    }

    /// Announces that we have `info_hash` (`dht_announce`): a `get_peers`
    /// lookup, then `announce_peer` to the [`K`] closest nodes with their
    /// tokens. `port` `None` sets `implied_port` (the receiver uses the
    /// source port of the datagram). Reports [`Event::Peers`].
    pub fn announce(
        &mut self,
        info_hash: Sha1Hash,
        port: Option<u16>,
        seed: bool,
        now: Instant,
    ) -> LookupId {
        let announce = Some((port.unwrap_or(0), port.is_none(), seed));
        self.start_lookup(
            Kind::GetPeers {
                announce,
                noseed: false,
            },
            info_hash,
            now,
        )
    }

    /// Looks up an immutable item (`dht_get_immutable_item`); reports
    /// [`Event::ImmutableItem`].
    pub fn get_immutable(&mut self, target: Sha1Hash, now: Instant) -> LookupId {
        self.start_lookup(
            Kind::GetImmutable {
                put: None,
                found: None,
            },
            target,
            now,
        )
    }

    /// Stores an immutable item (`dht_put_immutable_item`): `value` is
    /// bencoded, at most 1000 bytes. Returns its target (SHA-1 of `value`)
    /// and the lookup, or `None` when `value` is too big or not valid
    /// bencode. Reports [`Event::PutDone`].
    pub fn put_immutable(&mut self, value: Vec<u8>, now: Instant) -> Option<(Sha1Hash, LookupId)> {
        if !valid_item_value(&value) {
            return None;
        }
        let target = item::immutable_target(&value);
        let lid = self.start_lookup(
            Kind::GetImmutable {
                put: Some(value),
                found: None,
            },
            target,
            now,
        );
        Some((target, lid))
    }

    /// Looks up a mutable item (`dht_get_mutable_item`); reports
    /// [`Event::MutableItem`].
    pub fn get_mutable(&mut self, key: [u8; 32], salt: Vec<u8>, now: Instant) -> LookupId {
        let target = item::mutable_target(&key, &salt);
        self.start_lookup(
            Kind::GetMutable {
                key,
                salt,
                put: None,
                found: None,
            },
            target,
            now,
        )
    }

    /// Publishes a mutable item (`dht_put_mutable_item`): a `get` lookup
    /// for the current sequence number, then a signed `put` to the [`K`]
    /// closest nodes. With `seq` `None` the item gets one more than the
    /// highest sequence number found (1 if none). Returns `None` when
    /// `value` is too big or not bencode, or `salt` is longer than 64
    /// bytes. Reports [`Event::PutDone`].
    pub fn put_mutable(
        &mut self,
        keys: KeyPair,
        salt: Vec<u8>,
        value: Vec<u8>,
        seq: Option<i64>,
        now: Instant,
    ) -> Option<LookupId> {
        if !valid_item_value(&value) || salt.len() > crate::msg::MAX_SALT {
            return None;
        }
        let key = keys.public_key();
        let target = item::mutable_target(&key, &salt);
        Some(self.start_lookup(
            Kind::GetMutable {
                key,
                salt,
                put: Some(Box::new(MutablePut { keys, value, seq })),
                found: None,
            },
            target,
            now,
        ))
    }

    /// Sends one `sample_infohashes` query to `addr` (BEP 51,
    /// `dht_sample_infohashes`); reports [`Event::Samples`] or
    /// [`Event::QueryFailed`].
    pub fn sample_infohashes(
        &mut self,
        addr: SocketAddr,
        target: Sha1Hash,
        now: Instant,
    ) -> LookupId {
        let lid = self.new_lookup_id();
        let q = Query::SampleInfohashes {
            target,
            want: Want::default(),
        };
        if self.send_query(addr, None, q, Some(lid), now) {
            self.directs.insert(lid);
        } else {
            self.events.push_back(Event::QueryFailed {
                lookup: lid,
                to: addr,
            });
        }
        lid
    }

    fn start_lookup(&mut self, kind: Kind, target: Sha1Hash, now: Instant) -> LookupId {
        let lid = self.new_lookup_id();
        let mut l = Lookup::new(
            kind,
            target,
            self.config.search_branching,
            self.config.restrict_search_ips,
        );
        let our = self.id;
        for n in self.table.closest(&target, K * 2) {
            l.add(Some(n.id), n.addr, &our);
        }
        if l.cands.len() < K {
            for a in self.saved_nodes.iter().take(50) {
                l.add(None, *a, &our);
            }
            for a in &self.routers {
                l.add(None, *a, &our);
            }
        }
        if self.lookups.len() >= MAX_LOOKUPS {
            // Too many at once: finish it immediately with no result.
            self.lookups.insert(lid, l);
            self.finish_search(lid, now);
            return lid;
        }
        self.lookups.insert(lid, l);
        self.step_lookup(lid, now);
        lid
    }

    fn lookup_query(&self, l: &Lookup) -> Query {
        let want = Want::default();
        match &l.kind {
            Kind::Bootstrap | Kind::Refresh => Query::FindNode {
                target: l.target,
                want,
            },
            Kind::GetPeers { noseed, .. } => Query::GetPeers {
                info_hash: l.target,
                want,
                noseed: *noseed,
            },
            Kind::GetImmutable { .. } => Query::Get {
                target: l.target,
                seq: None,
                want,
            },
            Kind::GetMutable { .. } => Query::Get {
                target: l.target,
                seq: None,
                want,
            },
        }
    }

    fn step_lookup(&mut self, lid: LookupId, now: Instant) {
        let Some(l) = self.lookups.get_mut(&lid) else {
            return;
        };
        if l.phase != Phase::Search {
            return;
        }
        let (to_query, done) = l.step();
        if !to_query.is_empty() {
            l.last_sent = Some(now);
        }
        let q = match self.lookups.get(&lid) {
            Some(l) => self.lookup_query(l),
            None => return,
        };
        let mut failed = Vec::new();
        for (id, addr) in to_query {
            if !self.send_query(addr, id, q.clone(), Some(lid), now) {
                failed.push(addr);
            } else if let Query::GetPeers { info_hash, .. } = &q {
                self.events.push_back(Event::OutgoingGetPeers {
                    info_hash: *info_hash,
                    to: addr,
                });
            }
        }
        if !failed.is_empty() {
            if let Some(l) = self.lookups.get_mut(&lid) {
                for a in failed {
                    if let Some(c) = l.find(&a) {
                        c.state = CState::Failed;
                    }
                }
            }
            // try the next candidates
            return self.step_lookup(lid, now);
        }
        if done {
            self.finish_search(lid, now);
        }
    }

    /// The search phase of a lookup is over: report, or start storing.
    fn finish_search(&mut self, lid: LookupId, now: Instant) {
        let Some(mut l) = self.lookups.remove(&lid) else {
            return;
        };
        let closest = l.closest_responded(K);
        match &mut l.kind {
            Kind::Bootstrap => {
                if self.bootstrap_lookup == Some(lid) {
                    self.bootstrap_lookup = None;
                }
                self.events.push_back(Event::Bootstrapped {
                    lookup: lid,
                    nodes: self.table.len(),
                });
            }
            Kind::Refresh => {
                if self.refresh_lookup == Some(lid) {
                    self.refresh_lookup = None;
                }
            }
            Kind::GetPeers { announce, .. } => {
                let mut sent = 0;
                if let Some((port, implied, seed)) = *announce {
                    for (n, token) in &closest {
                        let Some(token) = token.clone() else { continue };
                        let q = Query::AnnouncePeer {
                            info_hash: l.target,
                            port,
                            implied_port: implied,
                            token,
                            seed,
                        };
                        if self.send_query(n.addr, Some(n.id), q, None, now) {
                            sent += 1;
                        }
                    }
                }
                self.events.push_back(Event::Peers {
                    lookup: lid,
                    info_hash: l.target,
                    peers: std::mem::take(&mut l.peers),
                    announced_to: sent,
                });
            }
            Kind::GetImmutable { put, found } => match put.take() {
                None => {
                    self.events.push_back(Event::ImmutableItem {
                        lookup: lid,
                        target: l.target,
                        value: found.take(),
                    });
                }
                Some(value) => {
                    let mut sent = 0;
                    for (n, token) in &closest {
                        let Some(token) = token.clone() else { continue };
                        let q = Query::Put(PutArgs {
                            token,
                            value: value.clone(),
                            key: None,
                            sig: None,
                            seq: None,
                            cas: None,
                            salt: Vec::new(),
                        });
                        if self.send_query(n.addr, Some(n.id), q, Some(lid), now) {
                            sent += 1;
                        }
                    }
                    l.phase = Phase::Storing {
                        outstanding: sent,
                        success: 0,
                    };
                    self.lookups.insert(lid, l);
                    self.check_storing_done(lid);
                }
            },
            Kind::GetMutable {
                key,
                salt,
                put,
                found,
            } => match put.take() {
                None => {
                    let f = found.take();
                    self.events.push_back(Event::MutableItem {
                        lookup: lid,
                        key: *key,
                        salt: salt.clone(),
                        seq: f.as_ref().map_or(0, |f| f.seq),
                        signature: f.as_ref().map_or([0; 64], |f| f.sig),
                        value: f.map(|f| f.value),
                        authoritative: true,
                    });
                }
                Some(p) => {
                    let seq = p
                        .seq
                        .unwrap_or_else(|| found.as_ref().map_or(1, |f| f.seq.saturating_add(1)));
                    let sig = p.keys.sign_mutable(salt, seq, &p.value);
                    l.published = Some((seq, sig));
                    let mut sent = 0;
                    for (n, token) in &closest {
                        let Some(token) = token.clone() else { continue };
                        let q = Query::Put(PutArgs {
                            token,
                            value: p.value.clone(),
                            key: Some(*key),
                            sig: Some(sig),
                            seq: Some(seq),
                            cas: None,
                            salt: salt.clone(),
                        });
                        if self.send_query(n.addr, Some(n.id), q, Some(lid), now) {
                            sent += 1;
                        }
                    }
                    l.phase = Phase::Storing {
                        outstanding: sent,
                        success: 0,
                    };
                    self.lookups.insert(lid, l);
                    self.check_storing_done(lid);
                }
            },
        }
    }

    fn check_storing_done(&mut self, lid: LookupId) {
        let Some(l) = self.lookups.get(&lid) else {
            return;
        };
        let Phase::Storing {
            outstanding,
            success,
        } = l.phase
        else {
            return;
        };
        if outstanding > 0 {
            return;
        }
        let Some(l) = self.lookups.remove(&lid) else {
            return;
        };
        let mutable = match (&l.kind, l.published) {
            (Kind::GetMutable { key, salt, .. }, Some((seq, signature))) => Some(PutMutableInfo {
                key: *key,
                salt: salt.clone(),
                seq,
                signature,
            }),
            _ => None,
        };
        self.events.push_back(Event::PutDone {
            lookup: lid,
            target: l.target,
            num_success: success,
            mutable,
        });
    }

    fn storing_reply(&mut self, lid: LookupId, ok: bool) {
        if let Some(l) = self.lookups.get_mut(&lid) {
            if let Phase::Storing {
                outstanding,
                success,
            } = &mut l.phase
            {
                *outstanding = outstanding.saturating_sub(1);
                if ok {
                    *success += 1;
                }
            }
        }
        self.check_storing_done(lid);
    }

    // ---------------------------------------------------------------- sending

    fn new_tid(&mut self) -> Option<u16> {
        for _ in 0..64 {
            let t = self.rng.next_u64() as u16;
            if !self.rpcs.contains_key(&t) {
                return Some(t);
            }
        }
        None
    }

    fn send_query(
        &mut self,
        addr: SocketAddr,
        id: Option<NodeId>,
        query: Query,
        lookup: Option<LookupId>,
        now: Instant,
    ) -> bool {
        if self.rpcs.len() >= MAX_OUTSTANDING
            || addr.port() == 0
            || addr.is_ipv6() != self.local.is_ipv6()
        {
            self.counters.messages_out_dropped += 1;
            return false;
        }
        let Some(tid) = self.new_tid() else {
            return false;
        };
        let kind = query_kind(&query);
        let msg = Message {
            tid: tid.to_be_bytes().to_vec(),
            version: self.config.client_version.clone(),
            ip: None,
            read_only: self.config.read_only,
            body: Body::Query { id: self.id, query },
        };
        let data = msg.encode();
        let c = &mut self.counters;
        match kind {
            RpcKind::Ping => c.ping_out += 1,
            RpcKind::FindNode => c.find_node_out += 1,
            RpcKind::GetPeers => c.get_peers_out += 1,
            RpcKind::AnnouncePeer => c.announce_peer_out += 1,
            RpcKind::Get => c.get_out += 1,
            RpcKind::Put => c.put_out += 1,
            RpcKind::SampleInfohashes => c.sample_infohashes_out += 1,
        }
        c.messages_out += 1;
        c.bytes_out += data.len() as u64;
        self.out.push_back(Transmit { data, to: addr });
        self.rpcs.insert(
            tid,
            Rpc {
                addr,
                id,
                kind,
                lookup,
                sent: now,
                slow: false,
            },
        );
        true
    }

    fn refill_quota(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.quota_at);
        let limit = self.config.upload_rate_limit as i64;
        let add = (limit as u128).saturating_mul(elapsed.as_millis()) / 1000;
        if add > 0 {
            let add = i64::try_from(add).unwrap_or(i64::MAX);
            self.send_quota = self.send_quota.saturating_add(add).min(limit);
            self.quota_at = now;
        }
    }

    fn send_reply(&mut self, to: SocketAddr, tid: &[u8], body: Body) {
        let msg = Message {
            tid: tid.to_vec(),
            version: self.config.client_version.clone(),
            ip: Some(to),
            read_only: false,
            body,
        };
        let data = msg.encode();
        if self.send_quota < data.len() as i64 {
            self.counters.messages_out_dropped += 1;
            return;
        }
        self.send_quota -= data.len() as i64;
        self.counters.messages_out += 1;
        self.counters.bytes_out += data.len() as u64;
        self.out.push_back(Transmit { data, to });
    }

    fn send_error(&mut self, to: SocketAddr, tid: &[u8], code: i64, message: &str) {
        self.send_reply(
            to,
            tid,
            Body::Error {
                code,
                message: message.as_bytes().to_vec(),
            },
        );
    }

    // -------------------------------------------------------------- receiving

    /// Whether `ip` is blocked for sending too much; counts the packet.
    fn dos_blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        let limit = self.config.block_ratelimit.saturating_mul(10);
        if limit == 0 {
            return false;
        }
        if !self.blocked.contains_key(&ip) && self.blocked.len() >= MAX_TRACKED_IPS {
            // forget the entry with the oldest window
            if let Some(old) = self
                .blocked
                .iter()
                .filter(|(_, b)| b.blocked_until.is_none_or(|t| t <= now))
                .min_by_key(|(_, b)| b.window)
                .map(|(ip, _)| *ip)
            {
                self.blocked.remove(&old);
            } else {
                return false;
            }
        }
        let timeout = self.config.block_timeout;
        let b = self.blocked.entry(ip).or_insert(Blocker {
            count: 0,
            window: now,
            blocked_until: None,
        });
        if let Some(t) = b.blocked_until {
            if now < t {
                return true;
            }
            b.blocked_until = None;
            b.count = 0;
            b.window = now;
        }
        if now.saturating_duration_since(b.window) >= Duration::from_secs(10) {
            b.count = 0;
            b.window = now;
        }
        b.count = b.count.saturating_add(1);
        if b.count > limit {
            b.blocked_until = now.checked_add(timeout);
            return true;
        }
        false
    }

    /// Feeds one datagram received from `from`. An IPv4-mapped IPv6 source
    /// (from a dual-stack socket) counts as the IPv4 address; datagrams of
    /// the other address family are dropped.
    pub fn handle_datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        let from = match from {
            SocketAddr::V6(v6) if !self.local.is_ipv6() => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
                None => from,
            },
            _ => from,
        };
        self.counters.messages_in += 1;
        self.counters.bytes_in += data.len() as u64;
        self.refill_quota(now);
        if from.port() == 0
            || from.is_ipv6() != self.local.is_ipv6()
            || self.dos_blocked(from.ip(), now)
        {
            self.counters.messages_in_dropped += 1;
            return;
        }
        let msg = match Message::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.counters.messages_in_dropped += 1;
                self.parse_failed(e, from);
                return;
            }
        };
        match msg.body {
            Body::Query { id, query } => {
                self.handle_query(&msg.tid, msg.read_only, id, query, from, now)
            }
            Body::Response { id, response } => {
                self.handle_response(&msg.tid, msg.read_only, msg.ip, id, *response, from, now)
            }
            Body::Error { .. } => self.handle_error(&msg.tid, from, now),
        }
    }

    fn parse_failed(&mut self, e: ParseError, from: SocketAddr) {
        if self.config.read_only || !e.is_query {
            return;
        }
        let Some(tid) = e.tid else { return };
        let code = match e.reason {
            "message too big" => 205,
            "salt too big" => 207,
            _ => 203,
        };
        self.send_error(from, &tid, code, e.reason);
    }

    fn node_verified(&self, id: &NodeId, addr: &SocketAddr) -> bool {
        id::verify_secure_id(id, &addr.ip())
    }

    fn handle_query(
        &mut self,
        tid: &[u8],
        ro: bool,
        id: NodeId,
        query: Query,
        from: SocketAddr,
        now: Instant,
    ) {
        let c = &mut self.counters;
        match query_kind(&query) {
            RpcKind::Ping => c.ping_in += 1,
            RpcKind::FindNode => c.find_node_in += 1,
            RpcKind::GetPeers => c.get_peers_in += 1,
            RpcKind::AnnouncePeer => c.announce_peer_in += 1,
            RpcKind::Get => c.get_in += 1,
            RpcKind::Put => c.put_in += 1,
            RpcKind::SampleInfohashes => c.sample_infohashes_in += 1,
        }
        if self.config.read_only {
            // BEP 43: read-only nodes do not answer.
            return;
        }
        // A node querying us may belong in our table: ping it to verify it
        // (read-only nodes never go in).
        let verified = self.node_verified(&id, &from);
        if !ro
            && id != self.id
            && (verified || !self.config.enforce_node_id)
            && !self.routers.contains(&from)
            && self.table.wants(&id, &from)
            && !self.rpcs.values().any(|r| r.addr == from)
        {
            self.send_query(from, Some(id), Query::Ping, None, now);
        }
        let our = self.id;
        let mut r = Response::default();
        let nodes_for = |t: &RoutingTable, target: &NodeId| t.closest(target, K);
        let v6 = self.local.is_ipv6();
        let set_nodes = |r: &mut Response, nodes: Vec<NodeInfo>| {
            if v6 {
                r.nodes6 = nodes;
            } else {
                r.nodes = nodes;
            }
        };
        match query {
            Query::Ping => {}
            Query::FindNode { target, .. } => set_nodes(&mut r, nodes_for(&self.table, &target)),
            Query::GetPeers {
                info_hash, noseed, ..
            } => {
                r.token = Some(self.tokens.generate(&from.ip(), &info_hash));
                r.values = self.peers.get(
                    &info_hash,
                    noseed,
                    self.config.max_peers_reply,
                    &mut self.rng,
                );
                set_nodes(&mut r, nodes_for(&self.table, &info_hash));
                self.events
                    .push_back(Event::IncomingGetPeers { info_hash, from });
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                seed,
            } => {
                if !self.tokens.verify(&token, &from.ip(), &info_hash) {
                    self.counters.invalid_announce += 1;
                    return self.send_error(from, tid, 203, "invalid token");
                }
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    self.counters.invalid_announce += 1;
                    return self.send_error(from, tid, 203, "invalid port");
                }
                let peer = SocketAddr::new(from.ip(), port);
                self.peers
                    .announce(info_hash, peer, seed, &mut self.rng, now);
                self.events
                    .push_back(Event::IncomingAnnounce { info_hash, peer });
            }
            Query::Get { target, seq, .. } => {
                r.token = Some(self.tokens.generate(&from.ip(), &target));
                set_nodes(&mut r, nodes_for(&self.table, &target));
                if let Some(i) = self.items.get_immutable(&target) {
                    r.v = Some(i.value.clone());
                } else if let Some(m) = self.items.get_mutable(&target) {
                    r.k = Some(m.key);
                    r.seq = Some(m.seq);
                    if seq.is_none_or(|s| m.seq > s) {
                        r.sig = Some(m.sig);
                        r.v = Some(m.value.clone());
                    }
                }
            }
            Query::Put(p) => {
                if let Err((code, msg)) = self.incoming_put(p, from, now) {
                    self.counters.invalid_put += 1;
                    return self.send_error(from, tid, code, msg);
                }
            }
            Query::SampleInfohashes { target, .. } => {
                let interval = self.config.sample_infohashes_interval;
                let samples = self.peers.sample(
                    self.config.max_infohashes_sample_count,
                    interval,
                    &mut self.rng,
                    now,
                );
                r.interval = Some(interval.as_secs() as i64);
                r.num = Some(self.peers.num_torrents() as i64);
                r.samples = Some(samples);
                set_nodes(&mut r, nodes_for(&self.table, &target));
            }
            Query::Unknown { target, .. } => match target {
                Some(t) => set_nodes(&mut r, nodes_for(&self.table, &t)),
                None => return self.send_error(from, tid, 204, "method unknown"),
            },
        }
        self.send_reply(
            from,
            tid,
            Body::Response {
                id: our,
                response: Box::new(r),
            },
        );
    }

    fn incoming_put(
        &mut self,
        p: PutArgs,
        from: SocketAddr,
        now: Instant,
    ) -> Result<(), (i64, &'static str)> {
        match (p.key, p.sig, p.seq) {
            (None, _, _) => {
                let target = item::immutable_target(&p.value);
                if !self.tokens.verify(&p.token, &from.ip(), &target) {
                    return Err((203, "invalid token"));
                }
                if !self.items.put_immutable(target, &p.value, now) {
                    return Err((202, "item storage full"));
                }
                Ok(())
            }
            (Some(key), Some(sig), Some(seq)) => {
                let target = item::mutable_target(&key, &p.salt);
                if !self.tokens.verify(&p.token, &from.ip(), &target) {
                    return Err((203, "invalid token"));
                }
                if !item::verify_mutable(&key, &p.salt, seq, &p.value, &sig) {
                    return Err((206, "invalid signature"));
                }
                self.items
                    .put_mutable(
                        target,
                        StoredMutable {
                            value: p.value,
                            key,
                            sig,
                            seq,
                            salt: p.salt,
                            last_put: now,
                        },
                        p.cas,
                    )
                    .map_err(|e| (e.code, e.message))
            }
            _ => Err((203, "missing 'sig' or 'seq' key")),
        }
    }

    fn take_rpc(&mut self, tid: &[u8], from: SocketAddr) -> Option<Rpc> {
        let t: [u8; 2] = tid.try_into().ok()?;
        let t = u16::from_be_bytes(t);
        let r = self.rpcs.get(&t)?;
        if r.addr != from {
            return None;
        }
        self.rpcs.remove(&t)
    }

    fn vote_ip(&mut self, voter: IpAddr, ip: IpAddr, now: Instant) {
        if ip.is_ipv6() != self.local.is_ipv6() || ip.is_unspecified() {
            return;
        }
        if self.votes.len() >= 50 && !self.votes.contains_key(&ip) {
            return;
        }
        let voters = self.votes.entry(ip).or_default();
        if voters.len() < 1000 {
            voters.insert(voter);
        }
        let n = voters.len();
        if n < IP_VOTES_NEEDED {
            return;
        }
        let best = self.votes.values().map(|v| v.len()).max().unwrap_or(0);
        if n < best {
            return;
        }
        self.votes.clear();
        if self.external_ip == Some(ip) {
            return;
        }
        self.external_ip = Some(ip);
        self.events.push_back(Event::ExternalAddress { ip });
        if !id::verify_secure_id(&self.id, &ip) {
            let new = id::generate_secure_id(&ip, &mut self.rng);
            self.set_id(new, now);
            self.events.push_back(Event::NodeIdChanged { id: new });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_response(
        &mut self,
        tid: &[u8],
        ro: bool,
        ip: Option<SocketAddr>,
        id: NodeId,
        r: Response,
        from: SocketAddr,
        now: Instant,
    ) {
        let Some(rpc) = self.take_rpc(tid, from) else {
            self.counters.messages_in_dropped += 1;
            return;
        };
        if let Some(ip) = ip {
            self.vote_ip(from.ip(), ip.ip(), now);
        }
        let verified = self.node_verified(&id, &from);
        let acceptable = (verified || !self.config.enforce_node_id) && id != self.id;
        if acceptable && !ro && !self.routers.contains(&from) {
            let rtt = now.saturating_duration_since(rpc.sent);
            if let Some(b) = self.table.bucket_index(&id) {
                self.table.touch_bucket(b, now);
            }
            self.table.node_seen(id, from, Some(rtt), verified, now);
        }
        let Some(lid) = rpc.lookup else { return };
        if self.directs.remove(&lid) {
            if rpc.kind == RpcKind::SampleInfohashes {
                let v6 = self.local.is_ipv6();
                self.events.push_back(Event::Samples {
                    lookup: lid,
                    from,
                    interval: Duration::from_secs(r.interval.unwrap_or(0).max(0) as u64),
                    num: r.num.unwrap_or(0),
                    samples: r.samples.unwrap_or_default(),
                    nodes: if v6 { r.nodes6 } else { r.nodes },
                });
            }
            return;
        }
        if matches!(rpc.kind, RpcKind::Put | RpcKind::AnnouncePeer) {
            self.storing_reply(lid, true);
            return;
        }
        let our = self.id;
        let enforce = self.config.enforce_node_id;
        let v6 = self.local.is_ipv6();
        let Some(l) = self.lookups.get_mut(&lid) else {
            return;
        };
        if l.phase != Phase::Search {
            return;
        }
        if !acceptable {
            if let Some(c) = l.find(&from) {
                c.state = CState::Failed;
            }
            return self.step_lookup(lid, now);
        }
        l.responses += 1;
        l.responded(&from, id, r.token.clone());
        let nodes = if v6 { &r.nodes6 } else { &r.nodes };
        for n in nodes {
            if enforce && !id::verify_secure_id(&n.id, &n.addr.ip()) {
                continue;
            }
            l.add(Some(n.id), n.addr, &our);
        }
        let target = l.target;
        match &mut l.kind {
            Kind::GetPeers { .. } => {
                for p in &r.values {
                    if l.peers.len() >= crate::lookup::MAX_LOOKUP_PEERS {
                        break;
                    }
                    if !l.peers.contains(p) && p.port() != 0 {
                        l.peers.push(*p);
                    }
                }
            }
            Kind::GetImmutable { found, put } => {
                if let Some(v) = &r.v {
                    if found.is_none() && item::immutable_target(v) == target {
                        *found = Some(v.clone());
                        // A plain get is done as soon as the item is found
                        // (its hash proves it is the right one).
                        if put.is_none() {
                            return self.finish_search(lid, now);
                        }
                    }
                }
            }
            Kind::GetMutable {
                key,
                salt,
                found,
                put,
            } => {
                if let (Some(k), Some(sig), Some(seq), Some(v)) = (r.k, r.sig, r.seq, &r.v) {
                    if k == *key
                        && found.as_ref().is_none_or(|f| seq > f.seq)
                        && item::verify_mutable(&k, salt, seq, v, &sig)
                    {
                        *found = Some(FoundMutable {
                            seq,
                            sig,
                            value: v.clone(),
                        });
                        // Each newer item is reported as it arrives; the
                        // authoritative report comes when the lookup ends.
                        if put.is_none() {
                            let ev = Event::MutableItem {
                                lookup: lid,
                                key: k,
                                salt: salt.clone(),
                                seq,
                                signature: sig,
                                value: Some(v.clone()),
                                authoritative: false,
                            };
                            self.events.push_back(ev);
                        }
                    }
                }
            }
            Kind::Bootstrap | Kind::Refresh => {}
        }
        self.step_lookup(lid, now);
    }

    fn handle_error(&mut self, tid: &[u8], from: SocketAddr, now: Instant) {
        let Some(rpc) = self.take_rpc(tid, from) else {
            self.counters.messages_in_dropped += 1;
            return;
        };
        // The node is alive but refused: fail the query for the lookup.
        self.query_failed(rpc, now, false);
    }

    fn query_failed(&mut self, rpc: Rpc, now: Instant, timed_out: bool) {
        if timed_out {
            if let Some(id) = rpc.id {
                self.table.node_failed(&id, &rpc.addr);
            }
        }
        let Some(lid) = rpc.lookup else { return };
        if self.directs.remove(&lid) {
            self.events.push_back(Event::QueryFailed {
                lookup: lid,
                to: rpc.addr,
            });
            return;
        }
        if matches!(rpc.kind, RpcKind::Put | RpcKind::AnnouncePeer) {
            self.storing_reply(lid, false);
            return;
        }
        if let Some(l) = self.lookups.get_mut(&lid) {
            if timed_out {
                l.timeouts += 1;
                if l.first_timeout.is_none() {
                    l.first_timeout = Some(now);
                }
            }
            if let Some(c) = l.find(&rpc.addr) {
                c.state = CState::Failed;
            }
        }
        self.step_lookup(lid, now);
    }

    // ------------------------------------------------------------------- time

    /// Advances time: times out queries, steps lookups, rotates the token
    /// secret, expires stored data and maintains the routing table (bucket
    /// refresh, pinging questionable nodes, re-bootstrapping while empty).
    pub fn tick(&mut self, now: Instant) {
        self.refill_quota(now);
        // timeouts
        let mut slow = Vec::new();
        let mut dead = Vec::new();
        for (t, r) in self.rpcs.iter_mut() {
            let age = now.saturating_duration_since(r.sent);
            if age >= TIMEOUT {
                dead.push(*t);
            } else if age >= SHORT_TIMEOUT && !r.slow {
                r.slow = true;
                slow.push((r.lookup, r.addr));
            }
        }
        dead.sort_unstable();
        for t in dead {
            if let Some(r) = self.rpcs.remove(&t) {
                self.query_failed(r, now, true);
            }
        }
        slow.sort_unstable();
        for (lid, addr) in slow {
            let Some(lid) = lid else { continue };
            if let Some(l) = self.lookups.get_mut(&lid) {
                if let Some(c) = l.find(&addr) {
                    if c.state == CState::Queried {
                        c.state = CState::Slow;
                    }
                }
                self.step_lookup(lid, now);
            }
        }
        self.tokens.tick(&mut self.rng, now);
        if now >= self.next_expiry {
            self.next_expiry = now + EXPIRY;
            self.peers.expire(now);
            self.items.expire(now);
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + MAINTENANCE;
            self.maintain(now);
        }
    }

    fn maintain(&mut self, now: Instant) {
        if self.table.is_empty() {
            let due = self
                .last_bootstrap
                .is_none_or(|t| now.saturating_duration_since(t) >= REBOOTSTRAP);
            if due
                && self.bootstrap_lookup.is_none()
                && (!self.routers.is_empty() || !self.saved_nodes.is_empty())
            {
                self.bootstrap(now);
            }
            return;
        }
        if self.refresh_lookup.is_none() {
            if let Some(b) = self.table.bucket_to_refresh(now) {
                self.table.touch_bucket(b, now);
                let target = random_id_in_bucket(&self.id, b, &mut self.rng);
                let lid = self.start_lookup(Kind::Refresh, target, now);
                if self.lookups.contains_key(&lid) {
                    self.refresh_lookup = Some(lid);
                }
            }
        }
        if let Some(n) = self.table.node_to_ping(now) {
            self.table.mark_pinged(&n.id, now);
            self.send_query(n.addr, Some(n.id), Query::Ping, None, now);
        }
    }
}

/// A BEP 44 value: valid bencode of at most 1000 bytes.
fn valid_item_value(v: &[u8]) -> bool {
    v.len() <= crate::msg::MAX_ITEM_VALUE && lt_bencode::decode_with(v, crate::msg::LIMITS).is_ok()
}
