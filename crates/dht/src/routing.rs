//! The routing table: 160 buckets of [`K`] nodes (with the extended table,
//! the four farthest hold more), bucket `i` holding the nodes whose id
//! shares exactly `i` leading bits with ours, each with a replacement list
//! of up to [`K`] nodes that are used when a node of the bucket goes bad.
//! Only nodes that answered one of our queries enter the table.
//!
//! A node is *good* when it answered us within the last 15 minutes and has
//! not failed since, *questionable* when it has not been heard from for
//! longer, and *bad* once it failed to answer `max_fail_count` queries in a
//! row; bad nodes are removed and replaced from the replacement list. A
//! node that failed at least once is not handed out to others and is the
//! first to be evicted by a newcomer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::id::{common_prefix_bits, distance, NodeId};
use crate::msg::NodeInfo;

/// Nodes per bucket.
pub const K: usize = 8;
/// Number of buckets.
pub const BUCKETS: usize = 160;
/// A node not heard from for this long is questionable.
pub const QUESTIONABLE_AFTER: Duration = Duration::from_secs(15 * 60);
/// A bucket with no activity for this long is refreshed.
pub const BUCKET_REFRESH: Duration = Duration::from_secs(15 * 60);

/// One node in the table.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: NodeId,
    pub addr: SocketAddr,
    /// When it last answered one of our queries (`None`: never, it is only
    /// known from hearsay; such nodes live only in replacement lists).
    pub last_seen: Option<Instant>,
    /// Queries it failed to answer since its last answer.
    pub fail_count: u32,
    /// Round-trip time of its last answer.
    pub rtt: Option<Duration>,
    /// Its id is valid for its address under BEP 42.
    pub verified: bool,
    /// When we last sent it a liveness ping.
    pub last_pinged: Option<Instant>,
}

impl Entry {
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            id: self.id,
            addr: self.addr,
        }
    }
    /// Answered within [`QUESTIONABLE_AFTER`] and no failure since.
    pub fn is_good(&self, now: Instant) -> bool {
        self.fail_count == 0
            && self
                .last_seen
                .is_some_and(|t| now.saturating_duration_since(t) < QUESTIONABLE_AFTER)
    }
}

/// One bucket.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub nodes: Vec<Entry>,
    pub replacements: Vec<Entry>,
    /// Last time a node of this bucket answered or the bucket was refreshed.
    pub last_active: Instant,
}

/// What [`RoutingTable::node_seen`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// New node in its bucket.
    Inserted,
    /// Known node refreshed.
    Updated,
    /// Bucket full: kept in the replacement list.
    Replacement,
    /// Refused (our own id, an address restriction, or an id/address
    /// mismatch with a node we know).
    Rejected,
}

/// Per-bucket counts for stats reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketStats {
    pub num_nodes: usize,
    pub num_replacements: usize,
    /// Seconds since the bucket was last active.
    pub last_active_secs: u64,
}

/// The routing table.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    our_id: NodeId,
    buckets: Vec<Bucket>,
    /// IP -> number of table (not replacement) entries with that IP.
    ips: HashMap<IpAddr, u32>,
    /// `dht_restrict_routing_ips`: one node per IP in the table and one per
    /// /24 (IPv4) or /64 (IPv6) per bucket, local addresses exempt.
    pub restrict_ips: bool,
    /// `dht_max_fail_count`.
    pub max_fail_count: u32,
    /// `dht_prefer_verified_node_ids`: in a full bucket, a node whose id is
    /// valid under BEP 42 replaces one whose id is not.
    pub prefer_verified: bool,
    /// `dht_extended_routing_table`: larger far buckets (see
    /// [`RoutingTable::bucket_limit`]).
    pub extended: bool,
}

fn same_subnet(a: &IpAddr, b: &IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x.octets()[..3] == y.octets()[..3],
        (IpAddr::V6(x), IpAddr::V6(y)) => x.octets()[..8] == y.octets()[..8],
        _ => false,
    }
}

impl RoutingTable {
    pub fn new(our_id: NodeId, now: Instant) -> Self {
        RoutingTable {
            our_id,
            buckets: (0..BUCKETS)
                .map(|_| Bucket {
                    nodes: Vec::new(),
                    replacements: Vec::new(),
                    last_active: now,
                })
                .collect(),
            ips: HashMap::new(),
            restrict_ips: true,
            max_fail_count: 20,
            prefer_verified: true,
            extended: false,
        }
    }

    pub fn our_id(&self) -> NodeId {
        self.our_id
    }

    /// How many nodes bucket `b` holds: [`K`], or with
    /// `extended` (libtorrent's `dht_extended_routing_table`) 16, 8, 4 and
    /// 2 times [`K`] for the four farthest buckets, which cover most of the
    /// id space.
    pub fn bucket_limit(&self, b: usize) -> usize {
        match (self.extended, b) {
            (true, 0) => K * 16,
            (true, 1) => K * 8,
            (true, 2) => K * 4,
            (true, 3) => K * 2,
            _ => K,
        }
    }

    /// The bucket index for `id`, `None` for our own id.
    pub fn bucket_index(&self, id: &NodeId) -> Option<usize> {
        let p = common_prefix_bits(&self.our_id, id);
        (p < BUCKETS).then_some(p)
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Nodes in the table (not counting replacements).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nodes in replacement lists.
    pub fn replacements_len(&self) -> usize {
        self.buckets.iter().map(|b| b.replacements.len()).sum()
    }

    /// Deepest bucket holding a node (0 when empty).
    pub fn depth(&self) -> usize {
        self.buckets
            .iter()
            .rposition(|b| !b.nodes.is_empty())
            .unwrap_or(0)
    }

    pub fn stats(&self, now: Instant) -> Vec<BucketStats> {
        let depth = self.depth();
        self.buckets[..=depth]
            .iter()
            .map(|b| BucketStats {
                num_nodes: b.nodes.len(),
                num_replacements: b.replacements.len(),
                last_active_secs: now.saturating_duration_since(b.last_active).as_secs(),
            })
            .collect()
    }

    pub fn find(&self, id: &NodeId) -> Option<&Entry> {
        let b = self.bucket_index(id)?;
        self.buckets.get(b)?.nodes.iter().find(|e| e.id == *id)
    }

    fn find_by_addr(&self, addr: &SocketAddr) -> Option<NodeId> {
        self.buckets
            .iter()
            .flat_map(|b| b.nodes.iter())
            .find(|e| e.addr == *addr)
            .map(|e| e.id)
    }

    /// Every node in the table.
    pub fn nodes(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// Every node in a replacement list.
    pub fn replacement_nodes(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.replacements.iter())
    }

    fn ip_restricted(&self, bucket: usize, addr: &SocketAddr) -> bool {
        if !self.restrict_ips || crate::id::is_local(&addr.ip()) {
            return false;
        }
        let ip = addr.ip();
        if self.ips.get(&ip).copied().unwrap_or(0) > 0 {
            return true;
        }
        self.buckets
            .get(bucket)
            .is_some_and(|b| b.nodes.iter().any(|e| same_subnet(&e.addr.ip(), &ip)))
    }

    fn remove_ip(&mut self, ip: &IpAddr) {
        if let Some(c) = self.ips.get_mut(ip) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.ips.remove(ip);
            }
        }
    }

    /// Would a node with this id and address be taken into the table (or
    /// its replacement list) if it answered? Used to decide whether to ping
    /// a node we only heard about.
    pub fn wants(&self, id: &NodeId, addr: &SocketAddr) -> bool {
        let Some(b) = self.bucket_index(id) else {
            return false;
        };
        let Some(bucket) = self.buckets.get(b) else {
            return false;
        };
        if bucket.nodes.iter().any(|e| e.id == *id || e.addr == *addr) {
            return false;
        }
        if self.ip_restricted(b, addr) {
            return false;
        }
        bucket.nodes.len() < self.bucket_limit(b) || bucket.nodes.iter().any(|e| e.fail_count > 0)
    }

    /// A node answered one of our queries (or, for `confirmed` false, we
    /// merely heard of it: it then only goes to a replacement list).
    pub fn node_seen(
        &mut self,
        id: NodeId,
        addr: SocketAddr,
        rtt: Option<Duration>,
        verified: bool,
        now: Instant,
    ) -> Added {
        let Some(b) = self.bucket_index(&id) else {
            return Added::Rejected;
        };
        // A known node: refresh it, unless it changed address.
        if let Some(bucket) = self.buckets.get_mut(b) {
            if let Some(e) = bucket.nodes.iter_mut().find(|e| e.id == id) {
                if e.addr != addr {
                    return Added::Rejected;
                }
                e.last_seen = Some(now);
                e.fail_count = 0;
                if rtt.is_some() {
                    e.rtt = rtt;
                }
                e.verified = verified;
                bucket.last_active = now;
                return Added::Updated;
            }
        }
        // Same address, new id: the node restarted with another id; drop
        // the old entry.
        if let Some(old) = self.find_by_addr(&addr) {
            self.remove(&old);
        }
        if self.ip_restricted(b, &addr) {
            return Added::Rejected;
        }
        let entry = Entry {
            id,
            addr,
            last_seen: Some(now),
            fail_count: 0,
            rtt,
            verified,
            last_pinged: None,
        };
        let limit = self.bucket_limit(b);
        let Some(bucket) = self.buckets.get_mut(b) else {
            return Added::Rejected;
        };
        bucket.replacements.retain(|e| e.id != id && e.addr != addr);
        if bucket.nodes.len() < limit {
            bucket.nodes.push(entry);
            bucket.last_active = now;
            *self.ips.entry(addr.ip()).or_insert(0) += 1;
            return Added::Inserted;
        }
        // Full: evict the node that failed most, if any failed.
        if let Some((pos, _)) = bucket
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, e)| e.fail_count > 0)
            .max_by_key(|(_, e)| e.fail_count)
        {
            let old = std::mem::replace(&mut bucket.nodes[pos], entry);
            bucket.last_active = now;
            let old_ip = old.addr.ip();
            self.remove_ip(&old_ip);
            *self.ips.entry(addr.ip()).or_insert(0) += 1;
            return Added::Inserted;
        }
        // `dht_prefer_verified_node_ids`: a verified node takes the place of
        // an unverified one, which moves to the replacement list.
        if self.prefer_verified && verified {
            if let Some(pos) = bucket.nodes.iter().position(|e| !e.verified) {
                let old = std::mem::replace(&mut bucket.nodes[pos], entry);
                bucket.last_active = now;
                let old_ip = old.addr.ip();
                if bucket.replacements.len() >= K {
                    bucket.replacements.remove(0);
                }
                bucket.replacements.push(old);
                self.remove_ip(&old_ip);
                *self.ips.entry(addr.ip()).or_insert(0) += 1;
                return Added::Inserted;
            }
        }
        if bucket.replacements.len() >= K {
            bucket.replacements.remove(0);
        }
        bucket.replacements.push(entry);
        Added::Replacement
    }

    /// A query to `id` at `addr` timed out.
    pub fn node_failed(&mut self, id: &NodeId, addr: &SocketAddr) {
        let Some(b) = self.bucket_index(id) else {
            return;
        };
        let max_fail = self.max_fail_count.max(1);
        let Some(bucket) = self.buckets.get_mut(b) else {
            return;
        };
        bucket.replacements.retain(|e| e.id != *id);
        let Some(pos) = bucket
            .nodes
            .iter()
            .position(|e| e.id == *id && e.addr == *addr)
        else {
            return;
        };
        let e = &mut bucket.nodes[pos];
        e.fail_count = e.fail_count.saturating_add(1);
        if e.fail_count < max_fail {
            return;
        }
        // Bad: replace it by the most recently seen replacement.
        let old = bucket.nodes.remove(pos);
        if let Some(rep) = bucket.replacements.pop() {
            let ip = rep.addr.ip();
            bucket.nodes.push(rep);
            *self.ips.entry(ip).or_insert(0) += 1;
        }
        self.remove_ip(&old.addr.ip());
    }

    /// Removes a node from the table.
    pub fn remove(&mut self, id: &NodeId) {
        let Some(b) = self.bucket_index(id) else {
            return;
        };
        let Some(bucket) = self.buckets.get_mut(b) else {
            return;
        };
        if let Some(pos) = bucket.nodes.iter().position(|e| e.id == *id) {
            let old = bucket.nodes.remove(pos);
            self.remove_ip(&old.addr.ip());
        }
    }

    /// Marks that we pinged a node (for liveness checks).
    pub fn mark_pinged(&mut self, id: &NodeId, now: Instant) {
        let Some(b) = self.bucket_index(id) else {
            return;
        };
        if let Some(e) = self
            .buckets
            .get_mut(b)
            .and_then(|bk| bk.nodes.iter_mut().find(|e| e.id == *id))
        {
            e.last_pinged = Some(now);
        }
    }

    /// Marks a bucket refreshed.
    pub fn touch_bucket(&mut self, b: usize, now: Instant) {
        if let Some(bucket) = self.buckets.get_mut(b) {
            bucket.last_active = now;
        }
    }

    /// The `n` nodes closest to `target` that have not failed since they
    /// last answered.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        let mut all: Vec<&Entry> = self.nodes().filter(|e| e.fail_count == 0).collect();
        all.sort_by_key(|e| distance(target, &e.id));
        all.into_iter().take(n).map(|e| e.info()).collect()
    }

    /// A bucket (within the table's depth, plus one) with no activity for
    /// [`BUCKET_REFRESH`], if any.
    pub fn bucket_to_refresh(&self, now: Instant) -> Option<usize> {
        let limit = (self.depth() + 1).min(BUCKETS - 1);
        (0..=limit).find(|&i| {
            self.buckets
                .get(i)
                .is_some_and(|b| now.saturating_duration_since(b.last_active) >= BUCKET_REFRESH)
        })
    }

    /// A questionable node that was not pinged within the last
    /// [`QUESTIONABLE_AFTER`], if any (the least recently seen one).
    pub fn node_to_ping(&self, now: Instant) -> Option<NodeInfo> {
        self.nodes()
            .filter(|e| !e.is_good(now))
            .filter(|e| {
                e.last_pinged
                    .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(60))
            })
            .min_by_key(|e| e.last_seen)
            .map(|e| e.info())
    }

    /// Re-keys the table for a new id of ours, keeping every node that
    /// still fits.
    pub fn rebuild(&mut self, new_id: NodeId, now: Instant) {
        let old: Vec<Entry> = self
            .buckets
            .iter()
            .flat_map(|b| b.nodes.iter().chain(b.replacements.iter()))
            .cloned()
            .collect();
        let (restrict, max_fail, prefer) =
            (self.restrict_ips, self.max_fail_count, self.prefer_verified);
        *self = RoutingTable::new(new_id, now);
        self.restrict_ips = restrict;
        self.max_fail_count = max_fail;
        self.prefer_verified = prefer;
        for e in old {
            if let Some(seen) = e.last_seen {
                let _ = self.node_seen(e.id, e.addr, e.rtt, e.verified, seen);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{random_id_in_bucket, Rng};
    use std::net::Ipv4Addr;

    fn addr(a: u8, b: u8, c: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(80, a, b, c)), port)
    }

    fn setup() -> (RoutingTable, Rng, Instant) {
        let mut rng = Rng::new([3; 32]);
        let now = Instant::now();
        let id = rng.id();
        (RoutingTable::new(id, now), rng, now)
    }

    #[test]
    fn bucket_fills_then_replacements() {
        let (mut t, mut rng, now) = setup();
        let our = t.our_id();
        for i in 0..K {
            let id = random_id_in_bucket(&our, 0, &mut rng);
            assert_eq!(
                t.node_seen(id, addr(i as u8, 0, 1, 1), None, true, now),
                Added::Inserted
            );
        }
        let extra = random_id_in_bucket(&our, 0, &mut rng);
        assert_eq!(
            t.node_seen(extra, addr(99, 0, 1, 1), None, true, now),
            Added::Replacement
        );
        assert_eq!(t.len(), K);
        assert_eq!(t.replacements_len(), 1);
        assert!(!t.wants(&random_id_in_bucket(&our, 0, &mut rng), &addr(98, 0, 1, 1)));
        // a different bucket still has room
        let other = random_id_in_bucket(&our, 3, &mut rng);
        assert!(t.wants(&other, &addr(97, 0, 1, 1)));
        assert_eq!(t.bucket_index(&other), Some(3));
        assert_eq!(
            t.node_seen(our, addr(1, 1, 1, 1), None, true, now),
            Added::Rejected
        );
    }

    #[test]
    fn extended_buckets() {
        let (mut t, mut rng, now) = setup();
        t.extended = true;
        let our = t.our_id();
        assert_eq!(
            (t.bucket_limit(0), t.bucket_limit(3), t.bucket_limit(4)),
            (128, 16, 8)
        );
        let mut n = 0;
        for i in 0..200u16 {
            let id = random_id_in_bucket(&our, 1, &mut rng);
            let a = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(81, (i >> 8) as u8, i as u8, 1)), 1);
            if t.node_seen(id, a, None, true, now) == Added::Inserted {
                n += 1;
            }
        }
        assert_eq!(n, 64);
        assert_eq!(t.replacements_len(), K);
    }

    #[test]
    fn failing_node_is_replaced() {
        let (mut t, mut rng, now) = setup();
        t.max_fail_count = 3;
        let our = t.our_id();
        let mut ids = Vec::new();
        for i in 0..K {
            let id = random_id_in_bucket(&our, 1, &mut rng);
            t.node_seen(id, addr(i as u8, 0, 1, 1), None, true, now);
            ids.push(id);
        }
        let rep = random_id_in_bucket(&our, 1, &mut rng);
        t.node_seen(rep, addr(50, 0, 1, 1), None, true, now);
        let victim = ids[2];
        let a = addr(2, 0, 1, 1);
        t.node_failed(&victim, &a);
        t.node_failed(&victim, &a);
        assert!(t.find(&victim).is_some());
        assert!(
            t.closest(&victim, 1)[0].id != victim,
            "failed nodes are not handed out"
        );
        t.node_failed(&victim, &a);
        assert!(t.find(&victim).is_none());
        assert!(t.find(&rep).is_some());
        assert_eq!(t.replacements_len(), 0);
        // an answer resets the fail count
        t.node_failed(&ids[3], &addr(3, 0, 1, 1));
        t.node_seen(ids[3], addr(3, 0, 1, 1), None, true, now);
        assert_eq!(t.find(&ids[3]).map(|e| e.fail_count), Some(0));
    }

    #[test]
    fn verified_ids_are_preferred() {
        let (mut t, mut rng, now) = setup();
        let our = t.our_id();
        let mut unverified = Vec::new();
        for i in 0..K {
            let id = random_id_in_bucket(&our, 0, &mut rng);
            t.node_seen(id, addr(i as u8, 0, 1, 1), None, i != 3, now);
            if i == 3 {
                unverified.push(id);
            }
        }
        let v = random_id_in_bucket(&our, 0, &mut rng);
        // an unverified newcomer only makes the replacement list
        let u = random_id_in_bucket(&our, 0, &mut rng);
        assert_eq!(
            t.node_seen(u, addr(40, 0, 1, 1), None, false, now),
            Added::Replacement
        );
        assert_eq!(
            t.node_seen(v, addr(41, 0, 1, 1), None, true, now),
            Added::Inserted
        );
        assert!(t.find(&unverified[0]).is_none());
        assert!(t.replacement_nodes().any(|e| e.id == unverified[0]));
        // with the preference off, a full bucket of good nodes stays as is
        t.prefer_verified = false;
        let w = random_id_in_bucket(&our, 0, &mut rng);
        assert_eq!(
            t.node_seen(w, addr(42, 0, 1, 1), None, true, now),
            Added::Replacement
        );
    }

    #[test]
    fn restrict_ips() {
        let (mut t, mut rng, now) = setup();
        let our = t.our_id();
        let a = random_id_in_bucket(&our, 0, &mut rng);
        let b = random_id_in_bucket(&our, 0, &mut rng);
        let c = random_id_in_bucket(&our, 4, &mut rng);
        assert_eq!(
            t.node_seen(a, addr(1, 2, 3, 1000), None, true, now),
            Added::Inserted
        );
        // same /24 in the same bucket
        assert_eq!(
            t.node_seen(b, addr(1, 2, 4, 1000), None, true, now),
            Added::Rejected
        );
        // same IP anywhere
        assert_eq!(
            t.node_seen(
                c,
                SocketAddr::new(addr(1, 2, 3, 0).ip(), 2000),
                None,
                true,
                now
            ),
            Added::Rejected
        );
        t.restrict_ips = false;
        assert_eq!(
            t.node_seen(b, addr(1, 2, 4, 1000), None, true, now),
            Added::Inserted
        );
        // loopback is exempt even when restricted
        t.restrict_ips = true;
        let l1 = SocketAddr::from(([127, 0, 0, 1], 1));
        let l2 = SocketAddr::from(([127, 0, 0, 1], 2));
        assert_eq!(
            t.node_seen(random_id_in_bucket(&our, 2, &mut rng), l1, None, true, now),
            Added::Inserted
        );
        assert_eq!(
            t.node_seen(random_id_in_bucket(&our, 2, &mut rng), l2, None, true, now),
            Added::Inserted
        );
    }

    #[test]
    fn address_change_and_closest() {
        let (mut t, mut rng, now) = setup();
        let our = t.our_id();
        let a = random_id_in_bucket(&our, 0, &mut rng);
        t.node_seen(a, addr(1, 1, 1, 1), None, true, now);
        assert_eq!(
            t.node_seen(a, addr(1, 1, 1, 2), None, true, now),
            Added::Rejected
        );
        // same address, new id replaces the old entry
        let a2 = random_id_in_bucket(&our, 0, &mut rng);
        assert_eq!(
            t.node_seen(a2, addr(1, 1, 1, 1), None, true, now),
            Added::Inserted
        );
        assert!(t.find(&a).is_none());
        let mut ids = vec![a2];
        for i in 0..40u8 {
            let id = rng.id();
            if t.node_seen(id, addr(10 + i, 1, 1, 1), None, true, now) == Added::Inserted {
                ids.push(id);
            }
        }
        let target = rng.id();
        let got = t.closest(&target, 8);
        ids.sort_by_key(|i| distance(&target, i));
        let want: Vec<NodeId> = ids.iter().take(8).copied().collect();
        assert_eq!(got.iter().map(|n| n.id).collect::<Vec<_>>(), want);
    }

    #[test]
    fn refresh_and_liveness() {
        let (mut t, mut rng, now) = setup();
        let our = t.our_id();
        let a = random_id_in_bucket(&our, 0, &mut rng);
        t.node_seen(a, addr(1, 1, 1, 1), None, true, now);
        assert_eq!(t.bucket_to_refresh(now), None);
        let later = now + BUCKET_REFRESH;
        assert_eq!(t.bucket_to_refresh(later), Some(0));
        t.touch_bucket(0, later);
        assert_eq!(t.bucket_to_refresh(later), Some(1));
        assert!(t.find(&a).is_some_and(|e| e.is_good(now)));
        assert!(t.find(&a).is_some_and(|e| !e.is_good(later)));
        assert_eq!(t.node_to_ping(now), None);
        assert_eq!(t.node_to_ping(later).map(|n| n.id), Some(a));
        t.mark_pinged(&a, later);
        assert_eq!(t.node_to_ping(later), None);
    }

    #[test]
    fn rebuild_keeps_nodes() {
        let (mut t, mut rng, now) = setup();
        for i in 0..30u8 {
            t.node_seen(rng.id(), addr(i, 1, 1, 1), None, true, now);
        }
        let before = t.len();
        let new = rng.id();
        t.rebuild(new, now);
        assert_eq!(t.our_id(), new);
        assert!(t.len() + t.replacements_len() >= before.min(20));
        for e in t.nodes() {
            assert_eq!(t.bucket_index(&e.id), Some(common_prefix_bits(&new, &e.id)));
        }
    }
}
