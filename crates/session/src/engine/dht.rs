//! Drives the sans-IO DHT node (`lt-dht`) from the engine.
//!
//! One [`lt_dht::Dht`] runs on each listen endpoint's UDP socket (the one
//! uTP uses): datagrams starting with `d` (a bencoded dictionary) are DHT
//! messages, everything else is uTP. The nodes follow the `enable_dht`
//! setting and the set of UDP sockets: [`Engine::dht_sync`] (run on every
//! tick) starts, stops and rebuilds them, carrying the node id and the
//! routing table over in a [`lt_dht::DhtState`].
//!
//! Torrents that are active, not private and without the `disable_dht`
//! flag are announced when the routing table has nodes and then every
//! `dht_announce_interval` seconds; the peers an announce finds become
//! connect candidates, as tracker peers do.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;
use lt_dht::{Dht, DhtState, Event as DhtEvent, LookupId};
use lt_settings::keys;

use super::{os_random, Engine};
use crate::alert::AlertKind;
use crate::dht_alert::{DhtAlert, DhtLookupStats};
use crate::torrent::flags;
use crate::types::TorrentId;

/// Why a lookup was started.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    /// A torrent's periodic announce: peers go to its candidates.
    Torrent(TorrentId),
    /// A user call (`dht_get_peers`, `dht_announce`, items, ...).
    User,
}

struct DhtNode {
    udp_idx: usize,
    local: SocketAddr,
    dht: Dht,
}

/// The DHT side of the engine.
#[derive(Default)]
pub(crate) struct DhtDriver {
    nodes: Vec<DhtNode>,
    /// The state the next node starts from (from `session_params` or
    /// saved when the nodes stopped).
    state: DhtState,
    /// Nodes given with `add_dht_node` (kept for restarts).
    extra_nodes: Vec<SocketAddr>,
    /// Resolved routers (`dht_bootstrap_nodes` and `add_dht_router`).
    routers: Vec<SocketAddr>,
    /// The `dht_bootstrap_nodes` value last resolved.
    bootstrap_setting: Option<String>,
    lookups: HashMap<(usize, LookupId), Purpose>,
    next_announce: HashMap<TorrentId, Instant>,
    last_torrent_scan: Option<Instant>,
    /// The settings the nodes' config was built from.
    config: Option<lt_dht::Config>,
}

/// The node configuration from the `dht_*` settings.
fn dht_config(s: &lt_settings::Settings) -> lt_dht::Config {
    let int = |k| s.get_int(k).max(0) as usize;
    lt_dht::Config {
        max_peers_reply: int(keys::DHT_MAX_PEERS_REPLY),
        search_branching: int(keys::DHT_SEARCH_BRANCHING).max(1),
        max_fail_count: int(keys::DHT_MAX_FAIL_COUNT).max(1) as u32,
        max_torrents: int(keys::DHT_MAX_TORRENTS),
        max_dht_items: int(keys::DHT_MAX_DHT_ITEMS),
        max_peers: int(keys::DHT_MAX_PEERS),
        restrict_routing_ips: s.get_bool(keys::DHT_RESTRICT_ROUTING_IPS),
        prefer_verified_node_ids: s.get_bool(keys::DHT_PREFER_VERIFIED_NODE_IDS),
        extended_routing_table: s.get_bool(keys::DHT_EXTENDED_ROUTING_TABLE),
        restrict_search_ips: s.get_bool(keys::DHT_RESTRICT_SEARCH_IPS),
        enforce_node_id: s.get_bool(keys::DHT_ENFORCE_NODE_ID),
        read_only: s.get_bool(keys::DHT_READ_ONLY),
        upload_rate_limit: int(keys::DHT_UPLOAD_RATE_LIMIT),
        block_timeout: Duration::from_secs(int(keys::DHT_BLOCK_TIMEOUT) as u64),
        block_ratelimit: int(keys::DHT_BLOCK_RATELIMIT) as u32,
        item_lifetime: Duration::from_secs(int(keys::DHT_ITEM_LIFETIME) as u64),
        sample_infohashes_interval: Duration::from_secs(
            int(keys::DHT_SAMPLE_INFOHASHES_INTERVAL) as u64
        ),
        max_infohashes_sample_count: int(keys::DHT_MAX_INFOHASHES_SAMPLE_COUNT),
        // libtorrent's "LT" + version, as its nodes send.
        client_version: Some(b"LT\x02\x01".to_vec()),
    }
}

/// `host:port` entries of a comma-separated list (IPv6 in brackets).
pub(crate) fn parse_host_list(s: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        let Some(colon) = item.rfind(':') else {
            continue;
        };
        let (host, port) = (&item[..colon], &item[colon + 1..]);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            continue;
        }
        if let Ok(p) = port.parse::<u16>() {
            out.push((host.to_owned(), p));
        }
    }
    out
}

impl Engine {
    /// A DHT datagram (one starting with `d`) on UDP endpoint `idx`.
    pub(super) fn dht_datagram(&mut self, idx: usize, from: SocketAddr, data: &[u8]) {
        let now = Instant::now();
        let Some(pos) = self.dht.nodes.iter().position(|n| n.udp_idx == idx) else {
            return;
        };
        if self.should_post(crate::alert::category::DHT_LOG) {
            self.alert(AlertKind::Dht(DhtAlert::Pkt {
                incoming: true,
                endpoint: from,
                buf: data.to_vec(),
            }));
            super::dht_log::log_datagram(&self.shared.alerts, true, from, data);
        }
        if let Some(n) = self.dht.nodes.get_mut(pos) {
            n.dht.handle_datagram(data, from, now);
        }
        self.dht_pump(pos);
    }

    /// Starts, stops or rebuilds the nodes to match the settings and the
    /// UDP sockets, then runs their timers. Called on every tick.
    pub(super) fn dht_tick(&mut self) {
        self.dht_sync();
        let now = Instant::now();
        for pos in 0..self.dht.nodes.len() {
            if let Some(n) = self.dht.nodes.get_mut(pos) {
                n.dht.tick(now);
            }
            self.dht_pump(pos);
        }
        let scan_due = self
            .dht
            .last_torrent_scan
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if scan_due && !self.dht.nodes.is_empty() {
            self.dht.last_torrent_scan = Some(now);
            self.dht_announce_torrents(now);
        }
    }

    /// Reacts to a settings change: new node config, new routers.
    pub(super) fn dht_apply_settings(&mut self) {
        let cfg = dht_config(&self.settings);
        if self.dht.config.as_ref() != Some(&cfg) {
            for n in &mut self.dht.nodes {
                n.dht.set_config(cfg.clone());
            }
            self.dht.config = Some(cfg);
        }
        self.dht_sync();
    }

    fn dht_enabled(&self) -> bool {
        self.settings.get_bool(keys::ENABLE_DHT) && !self.shutting_down
    }

    fn dht_sync(&mut self) {
        if !self.dht_enabled() {
            if !self.dht.nodes.is_empty() {
                self.dht.state = self.dht_state();
                self.dht.nodes.clear();
                self.dht.lookups.clear();
            }
            return;
        }
        let bootstrap = self.settings.get_str(keys::DHT_BOOTSTRAP_NODES).to_owned();
        if self.dht.bootstrap_setting.as_deref() != Some(bootstrap.as_str()) {
            self.dht.bootstrap_setting = Some(bootstrap.clone());
            for (host, port) in parse_host_list(&bootstrap) {
                self.dht_add_router_host(host, port);
            }
        }
        let want: Vec<(usize, SocketAddr)> = self
            .udp
            .iter()
            .enumerate()
            .filter_map(|(i, u)| u.socket.local_addr().ok().map(|a| (i, a)))
            .collect();
        let have: Vec<(usize, SocketAddr)> = self
            .dht
            .nodes
            .iter()
            .map(|n| (n.udp_idx, n.local))
            .collect();
        if want == have {
            return;
        }
        if !self.dht.nodes.is_empty() {
            self.dht.state = self.dht_state();
        }
        self.dht.nodes.clear();
        self.dht.lookups.clear();
        let cfg = dht_config(&self.settings);
        self.dht.config = Some(cfg.clone());
        let now = Instant::now();
        for (udp_idx, local) in want {
            let mut seed = [0u8; 32];
            os_random(&mut seed);
            let mut dht = Dht::with_state(cfg.clone(), local, seed, &self.dht.state, now);
            use super::dht_log::DhtModule;
            self.dht_log(DhtModule::Tracker, || {
                format!(
                    "starting {} DHT tracker with node id: {}",
                    local.ip(),
                    dht.node_id().to_hex()
                )
            });
            for r in &self.dht.routers {
                dht.add_router(*r);
                self.dht_log(DhtModule::Node, || format!("adding router node: {r}"));
            }
            for a in &self.dht.extra_nodes {
                dht.add_node(*a, now);
            }
            self.dht_log(DhtModule::Node, || {
                format!("bootstrapping with {} nodes", self.dht.extra_nodes.len())
            });
            dht.bootstrap(now);
            self.dht.nodes.push(DhtNode {
                udp_idx,
                local,
                dht,
            });
        }
        for pos in 0..self.dht.nodes.len() {
            self.dht_pump(pos);
        }
    }

    /// Sends what node `pos` queued and turns its events into alerts and
    /// peers.
    fn dht_pump(&mut self, pos: usize) {
        let Some(n) = self.dht.nodes.get_mut(pos) else {
            return;
        };
        let udp_idx = n.udp_idx;
        let log = self
            .shared
            .alerts
            .should_post(crate::alert::category::DHT_LOG);
        if let Some(u) = self.udp.get(udp_idx) {
            while let Some(t) = n.dht.poll_transmit() {
                // A full socket buffer drops the datagram; the DHT retries.
                self.proxy
                    .udp_send(&u.socket, udp_idx, false, &t.data, t.to);
                if log {
                    super::dht_log::log_datagram(&self.shared.alerts, false, t.to, &t.data);
                    self.shared
                        .alerts
                        .post(crate::alert::Alert::new(AlertKind::Dht(DhtAlert::Pkt {
                            incoming: false,
                            endpoint: t.to,
                            buf: t.data,
                        })));
                }
            }
        }
        let mut events = Vec::new();
        while let Some(ev) = n.dht.poll_event() {
            events.push(ev);
        }
        for ev in events {
            self.dht_event(pos, ev);
        }
    }

    fn dht_event(&mut self, pos: usize, ev: DhtEvent) {
        use crate::alert::category;
        let dht_cat = self.should_post(category::DHT);
        match ev {
            DhtEvent::Bootstrapped { .. } => {
                if dht_cat {
                    self.alert(AlertKind::Dht(DhtAlert::Bootstrap));
                }
            }
            DhtEvent::Peers {
                lookup,
                info_hash,
                peers,
                ..
            } => match self.dht.lookups.remove(&(pos, lookup)) {
                Some(Purpose::Torrent(tid)) => self.dht_torrent_peers(tid, peers),
                _ => self.alert(AlertKind::Dht(DhtAlert::GetPeersReply { info_hash, peers })),
            },
            DhtEvent::ImmutableItem {
                lookup,
                target,
                value,
            } => {
                self.dht.lookups.remove(&(pos, lookup));
                self.alert(AlertKind::Dht(DhtAlert::ImmutableItem {
                    target,
                    item: value.unwrap_or_default(),
                }));
            }
            DhtEvent::MutableItem {
                lookup,
                key,
                salt,
                seq,
                signature,
                value,
                authoritative,
            } => {
                if authoritative {
                    self.dht.lookups.remove(&(pos, lookup));
                }
                self.alert(AlertKind::Dht(DhtAlert::MutableItem {
                    key,
                    signature,
                    seq,
                    salt,
                    item: value.unwrap_or_default(),
                    authoritative,
                }));
            }
            DhtEvent::PutDone {
                lookup,
                target,
                num_success,
                mutable,
            } => {
                self.dht.lookups.remove(&(pos, lookup));
                let (public_key, signature, salt, seq) = match mutable {
                    Some(m) => (m.key, m.signature, m.salt, m.seq),
                    None => ([0; 32], [0; 64], Vec::new(), 0),
                };
                self.alert(AlertKind::Dht(DhtAlert::Put {
                    target,
                    public_key,
                    signature,
                    salt,
                    seq,
                    num_success: num_success as i32,
                }));
            }
            DhtEvent::Samples {
                lookup,
                from,
                interval,
                num,
                samples,
                nodes,
            } => {
                self.dht.lookups.remove(&(pos, lookup));
                self.alert(AlertKind::Dht(DhtAlert::SampleInfohashes {
                    endpoint: from,
                    interval: interval.as_secs() as i64,
                    num_infohashes: num,
                    samples,
                    nodes: nodes.into_iter().map(|n| (n.id, n.addr)).collect(),
                }));
            }
            DhtEvent::QueryFailed { lookup, .. } => {
                self.dht.lookups.remove(&(pos, lookup));
            }
            DhtEvent::OutgoingGetPeers { info_hash, to } => {
                if dht_cat {
                    self.alert(AlertKind::Dht(DhtAlert::OutgoingGetPeers {
                        info_hash,
                        obfuscated_info_hash: info_hash,
                        endpoint: to,
                    }));
                }
            }
            DhtEvent::IncomingAnnounce { info_hash, peer } => {
                if dht_cat {
                    self.alert(AlertKind::Dht(DhtAlert::Announce {
                        ip: peer.ip(),
                        port: peer.port(),
                        info_hash,
                    }));
                }
            }
            DhtEvent::IncomingGetPeers { info_hash, .. } => {
                if dht_cat {
                    self.alert(AlertKind::Dht(DhtAlert::GetPeers { info_hash }));
                }
            }
            DhtEvent::ExternalAddress { ip } => {
                self.alert(AlertKind::ExternalIp { address: ip });
            }
            DhtEvent::NodeIdChanged { .. } => {}
        }
    }

    /// Peers a torrent's announce found: connect candidates.
    fn dht_torrent_peers(&mut self, tid: TorrentId, peers: Vec<SocketAddr>) {
        let own = self.listen_endpoints();
        let one_per_ip = self.one_per_ip();
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        let torrent = t.torrent_ref();
        let num_peers = peers.len() as i32;
        for a in peers {
            if own.contains(&a) || t.banned.contains(&a.ip()) || a.port() == 0 {
                continue;
            }
            t.learn_peer(a, one_per_ip, false);
        }
        self.alert(AlertKind::Dht(DhtAlert::Reply { torrent, num_peers }));
        self.connect_candidates(tid);
    }

    /// Whether a torrent announces on the DHT.
    fn dht_wants_torrent(&self, tid: TorrentId) -> bool {
        self.torrents.get(&tid).is_some_and(|t| {
            t.is_active() && t.flags & flags::DISABLE_DHT == 0 && !t.meta.as_ref().private()
        })
    }

    fn dht_announce_torrents(&mut self, now: Instant) {
        if self.paused
            || !self
                .dht
                .nodes
                .iter()
                .any(|n| !n.dht.routing_table().is_empty())
        {
            return;
        }
        let interval =
            Duration::from_secs(self.settings.get_int(keys::DHT_ANNOUNCE_INTERVAL).max(1) as u64);
        let ids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        self.dht.next_announce.retain(|id, _| ids.contains(id));
        for tid in ids {
            if !self.dht_wants_torrent(tid) {
                continue;
            }
            let due = self.dht.next_announce.get(&tid).is_none_or(|t| *t <= now);
            if due {
                self.dht.next_announce.insert(tid, now + interval);
                self.dht_announce_torrent(tid, now);
            }
        }
    }

    fn dht_announce_torrent(&mut self, tid: TorrentId, now: Instant) {
        let Some(t) = self.torrents.get(&tid) else {
            return;
        };
        let seed = t.is_seed();
        let ih = t.meta.as_ref().info_hashes();
        let hashes = super::wire_hashes(&ih);
        // SSL torrents announce their SSL listen port (engine/ssl.rs).
        let port = self
            .ssl_announce_port(tid)
            .unwrap_or_else(|| self.listen_port());
        for (pos, n) in self.dht.nodes.iter_mut().enumerate() {
            if n.dht.routing_table().is_empty() {
                continue;
            }
            for h in &hashes {
                let lid = n.dht.announce(*h, Some(port), seed, now);
                self.dht.lookups.insert((pos, lid), Purpose::Torrent(tid));
            }
        }
        for pos in 0..self.dht.nodes.len() {
            self.dht_pump(pos);
        }
    }

    /// Runs `f` on every node, remembering the lookups it starts as user
    /// lookups, then sends what they queued.
    fn dht_each(&mut self, mut f: impl FnMut(&mut Dht, Instant) -> Option<LookupId>) {
        let now = Instant::now();
        for (pos, n) in self.dht.nodes.iter_mut().enumerate() {
            if let Some(lid) = f(&mut n.dht, now) {
                self.dht.lookups.insert((pos, lid), Purpose::User);
            }
        }
        for pos in 0..self.dht.nodes.len() {
            self.dht_pump(pos);
        }
    }

    // ------------------------------------------------------------------
    // the user's calls

    pub fn is_dht_running(&self) -> bool {
        !self.dht.nodes.is_empty()
    }

    /// `add_dht_node`: ping the node (it joins the routing table when it
    /// answers). Remembered for when the DHT (re)starts.
    pub fn dht_add_node(&mut self, addr: SocketAddr) {
        if !self.dht.extra_nodes.contains(&addr) && self.dht.extra_nodes.len() < 256 {
            self.dht.extra_nodes.push(addr);
        }
        self.dht_each(|d, now| {
            d.add_node(addr, now);
            None
        });
    }

    /// `add_dht_router`: resolves `host` off the engine task, then uses
    /// the addresses for bootstrapping.
    pub fn dht_add_router_host(&mut self, host: String, port: u16) {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            self.dht_add_routers(vec![SocketAddr::new(ip, port)]);
            return;
        }
        let jobs = self.jobs.clone();
        tokio::spawn(async move {
            if let Ok(addrs) = tokio::net::lookup_host((host.as_str(), port)).await {
                let addrs: Vec<SocketAddr> = addrs.take(16).collect();
                let _ = jobs.send(Box::new(move |e: &mut Engine| e.dht_add_routers(addrs)));
            }
        });
    }

    fn dht_add_routers(&mut self, addrs: Vec<SocketAddr>) {
        for a in addrs {
            if !self.dht.routers.contains(&a) && self.dht.routers.len() < 64 {
                self.dht.routers.push(a);
            }
            for n in &mut self.dht.nodes {
                n.dht.add_router(a);
            }
            if !self.dht.nodes.is_empty() {
                self.dht_log(super::dht_log::DhtModule::Node, || {
                    format!("adding router node: {a}")
                });
            }
        }
    }

    pub fn dht_get_peers(&mut self, info_hash: Sha1Hash) {
        self.dht_each(|d, now| Some(d.get_peers(info_hash, now)));
    }

    /// `dht_announce(info_hash, port, flags)`: flags bit 0 seed, bit 1
    /// implied port (also when `port` is 0).
    pub fn dht_announce(&mut self, info_hash: Sha1Hash, port: u16, announce_flags: u32) {
        let seed = announce_flags & 1 != 0;
        let port = if announce_flags & 2 != 0 || port == 0 {
            None
        } else {
            Some(port)
        };
        self.dht_each(|d, now| Some(d.announce(info_hash, port, seed, now)));
    }

    /// Stores a bencoded value; returns its target (None when the value is
    /// not valid bencode of at most 1000 bytes).
    pub fn dht_put_immutable(&mut self, value: Vec<u8>) -> Option<Sha1Hash> {
        let target = lt_dht::item::immutable_target(&value);
        let mut ok = false;
        self.dht_each(|d, now| {
            let r = d.put_immutable(value.clone(), now);
            ok |= r.is_some();
            r.map(|(_, lid)| lid)
        });
        if self.dht.nodes.is_empty() || ok {
            Some(target)
        } else {
            None
        }
    }

    pub fn dht_get_immutable(&mut self, target: Sha1Hash) {
        self.dht_each(|d, now| Some(d.get_immutable(target, now)));
    }

    /// Publishes a mutable item signed with `keys`; the sequence number is
    /// one more than the highest found.
    pub fn dht_put_mutable(&mut self, keys: lt_dht::KeyPair, value: Vec<u8>, salt: Vec<u8>) {
        self.dht_each(|d, now| d.put_mutable(keys.clone(), salt.clone(), value.clone(), None, now));
    }

    pub fn dht_get_mutable(&mut self, key: [u8; 32], salt: Vec<u8>) {
        self.dht_each(|d, now| Some(d.get_mutable(key, salt.clone(), now)));
    }

    pub fn dht_sample_infohashes(&mut self, ep: SocketAddr, target: Sha1Hash) {
        let now = Instant::now();
        let Some(pos) = self
            .dht
            .nodes
            .iter()
            .position(|n| n.local.is_ipv6() == ep.is_ipv6())
        else {
            return;
        };
        if let Some(n) = self.dht.nodes.get_mut(pos) {
            let lid = n.dht.sample_infohashes(ep, target, now);
            self.dht.lookups.insert((pos, lid), Purpose::User);
        }
        self.dht_pump(pos);
    }

    /// `dht_live_nodes(nid)`: posts the routing table of our node whose
    /// id is `nid` (no nodes when none is).
    pub fn dht_live_nodes(&mut self, nid: Sha1Hash) {
        let nodes: Vec<(Sha1Hash, SocketAddr)> = self
            .dht
            .nodes
            .iter()
            .filter(|n| n.dht.node_id() == nid)
            .flat_map(|n| n.dht.live_nodes())
            .map(|n| (n.id, n.addr))
            .collect();
        self.alert(AlertKind::Dht(DhtAlert::LiveNodes {
            node_id: nid,
            nodes,
        }));
    }

    /// `post_dht_stats()`: one `dht_stats_alert` (for the first node, or
    /// an empty one when the DHT is not running).
    pub fn post_dht_stats(&mut self) {
        let now = Instant::now();
        let alert = match self.dht.nodes.first() {
            Some(n) => {
                let st = n.dht.stats(now);
                DhtAlert::Stats {
                    node_id: n.dht.node_id(),
                    routing_table: st
                        .routing_table
                        .iter()
                        .map(|b| {
                            (
                                b.num_nodes as i64,
                                b.num_replacements as i64,
                                b.last_active_secs as i64,
                            )
                        })
                        .collect(),
                    active_requests: st
                        .active_lookups
                        .iter()
                        .map(|l| DhtLookupStats {
                            kind: l.kind,
                            outstanding_requests: l.outstanding_requests as i64,
                            timeouts: l.timeouts as i64,
                            responses: l.responses as i64,
                            branch_factor: l.branch_factor as i64,
                            nodes_left: l.nodes_left as i64,
                            last_sent: l.last_sent as i64,
                            first_timeout: l.first_timeout as i64,
                        })
                        .collect(),
                }
            }
            None => DhtAlert::Stats {
                node_id: Sha1Hash::default(),
                routing_table: Vec::new(),
                active_requests: Vec::new(),
            },
        };
        self.alert(AlertKind::Dht(alert));
    }

    /// The DHT state to save: the running nodes' ids and routing tables
    /// (or the state they were started from / stopped with).
    pub fn dht_state(&self) -> DhtState {
        if self.dht.nodes.is_empty() {
            return self.dht.state.clone();
        }
        let mut st = DhtState::default();
        for n in &self.dht.nodes {
            let s = n.dht.state();
            st.ids.extend(s.ids);
            st.nodes.extend(s.nodes);
            st.nodes6.extend(s.nodes6);
        }
        st
    }

    /// The state the next start of the DHT uses (`session_params.dht_state`).
    pub fn set_dht_state(&mut self, st: DhtState) {
        self.dht.state = st;
        // Running nodes restart from it.
        self.dht.nodes.clear();
        self.dht.lookups.clear();
        self.dht_sync();
    }

    /// The `dht.*` session counters, summed over the nodes.
    pub(super) fn dht_metrics(&self) -> Vec<(&'static str, i64)> {
        let now = Instant::now();
        let mut out: Vec<(&'static str, i64)> = Vec::new();
        let mut add = |name: &'static str, v: u64| {
            let v = v.min(i64::MAX as u64) as i64;
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = slot.1.saturating_add(v),
                None => out.push((name, v)),
            }
        };
        for n in &self.dht.nodes {
            let st = n.dht.stats(now);
            let c = &st.counters;
            add("dht.dht_nodes", st.nodes as u64);
            add("dht.dht_node_cache", st.node_cache as u64);
            add("dht.dht_torrents", st.torrents as u64);
            add("dht.dht_peers", st.peers as u64);
            add("dht.dht_immutable_data", st.immutable_items as u64);
            add("dht.dht_mutable_data", st.mutable_items as u64);
            add("dht.dht_allocated_observers", st.outstanding_queries as u64);
            add("dht.dht_messages_in", c.messages_in);
            add("dht.dht_messages_out", c.messages_out);
            add("dht.dht_messages_in_dropped", c.messages_in_dropped);
            add("dht.dht_messages_out_dropped", c.messages_out_dropped);
            add("dht.dht_bytes_in", c.bytes_in);
            add("dht.dht_bytes_out", c.bytes_out);
            add("dht.dht_ping_in", c.ping_in);
            add("dht.dht_ping_out", c.ping_out);
            add("dht.dht_find_node_in", c.find_node_in);
            add("dht.dht_find_node_out", c.find_node_out);
            add("dht.dht_get_peers_in", c.get_peers_in);
            add("dht.dht_get_peers_out", c.get_peers_out);
            add("dht.dht_announce_peer_in", c.announce_peer_in);
            add("dht.dht_announce_peer_out", c.announce_peer_out);
            add("dht.dht_get_in", c.get_in);
            add("dht.dht_get_out", c.get_out);
            add("dht.dht_put_in", c.put_in);
            add("dht.dht_put_out", c.put_out);
            add("dht.dht_sample_infohashes_in", c.sample_infohashes_in);
            add("dht.dht_sample_infohashes_out", c.sample_infohashes_out);
            add("dht.dht_invalid_announce", c.invalid_announce);
            add("dht.dht_invalid_get_peers", c.invalid_get_peers);
            add("dht.dht_invalid_put", c.invalid_put);
            add("dht.dht_invalid_get", c.invalid_get);
        }
        out
    }

    /// The DHT part of `session.status()`.
    pub(super) fn dht_status(&self, st: &mut crate::types::SessionStatus) {
        let now = Instant::now();
        for n in &self.dht.nodes {
            let s = n.dht.stats(now);
            st.dht_nodes += s.nodes as i64;
            st.dht_node_cache += s.node_cache as i64;
            st.dht_torrents += s.torrents as i64;
            st.dht_total_allocations += s.outstanding_queries as i64;
            st.total_dht_download += s.counters.bytes_in.min(i64::MAX as u64) as i64;
            st.total_dht_upload += s.counters.bytes_out.min(i64::MAX as u64) as i64;
        }
    }

    /// `torrent_handle.force_dht_announce()`.
    pub fn force_dht_announce(&mut self, tid: TorrentId) {
        if self.dht_wants_torrent(tid) {
            self.dht.next_announce.remove(&tid);
            self.dht.last_torrent_scan = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_host_list;

    #[test]
    fn host_lists() {
        assert_eq!(
            parse_host_list("dht.libtorrent.org:25401, 127.0.0.1:6881,[::1]:7,bad,:5,x:99999"),
            vec![
                ("dht.libtorrent.org".to_owned(), 25401),
                ("127.0.0.1".to_owned(), 6881),
                ("::1".to_owned(), 7),
            ]
        );
        assert!(parse_host_list("").is_empty());
    }
}
