//! Iterative lookups (traversals): the candidate list of one lookup and the
//! step that decides whom to query next and when the lookup is done.
//!
//! Candidates are kept sorted by XOR distance to the target (at most
//! [`MAX_CANDIDATES`]). Each step walks them closest first: answered nodes
//! count towards the [`K`] results, unqueried ones are
//! queried while fewer than `branching` queries are in flight (a query that
//! passed its short timeout no longer counts, so a slow node does not stall
//! the lookup). The lookup is done when the `K` closest live candidates all
//! answered, or when nothing is left to ask and nothing is in flight.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use lt_core::Sha1Hash;

use crate::id::{distance, NodeId};
use crate::item::KeyPair;
use crate::msg::NodeInfo;
use crate::routing::K;

/// Most candidates a lookup keeps.
pub const MAX_CANDIDATES: usize = 100;
/// Most peers one `get_peers` lookup collects.
pub const MAX_LOOKUP_PEERS: usize = 1000;

/// Identifies a lookup (or a single direct query such as
/// `sample_infohashes`); carried by the events it produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CState {
    Fresh,
    Queried,
    /// Passed the short timeout; still may answer.
    Slow,
    Responded,
    Failed,
}

#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// `None` for a router or a saved node whose id we do not know yet.
    pub id: Option<NodeId>,
    pub addr: SocketAddr,
    pub state: CState,
    pub token: Option<Vec<u8>>,
    key: [u8; 20],
}

/// What to publish once a `put` lookup has found the closest nodes.
#[derive(Clone, Debug)]
pub(crate) struct MutablePut {
    pub keys: KeyPair,
    pub value: Vec<u8>,
    /// Explicit sequence number; `None`: one more than the highest found.
    pub seq: Option<i64>,
}

/// A mutable item found by a lookup.
#[derive(Clone, Debug)]
pub(crate) struct FoundMutable {
    pub seq: i64,
    pub sig: [u8; 64],
    pub value: Vec<u8>,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Bootstrap,
    Refresh,
    GetPeers {
        announce: Option<(u16, bool, bool)>, // port, implied_port, seed
        noseed: bool,
    },
    GetImmutable {
        put: Option<Vec<u8>>,
        found: Option<Vec<u8>>,
    },
    GetMutable {
        key: [u8; 32],
        salt: Vec<u8>,
        put: Option<Box<MutablePut>>,
        found: Option<FoundMutable>,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Bootstrap => "bootstrap",
            Kind::Refresh => "refresh",
            Kind::GetPeers { announce: None, .. } => "get_peers",
            Kind::GetPeers {
                announce: Some(_), ..
            } => "announce",
            Kind::GetImmutable { put: None, .. } | Kind::GetMutable { put: None, .. } => "get",
            Kind::GetImmutable { put: Some(_), .. } | Kind::GetMutable { put: Some(_), .. } => {
                "put"
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Search,
    /// Sending announce_peer / put to the closest nodes.
    Storing {
        outstanding: usize,
        success: usize,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    pub kind: Kind,
    pub target: Sha1Hash,
    pub cands: Vec<Candidate>,
    pub branching: usize,
    pub phase: Phase,
    pub peers: Vec<SocketAddr>,
    pub responses: u32,
    pub timeouts: u32,
    pub last_sent: Option<Instant>,
    pub first_timeout: Option<Instant>,
    pub restrict_ips: bool,
    /// Sequence number/signature of the item a put published.
    pub published: Option<(i64, [u8; 64])>,
}

impl Lookup {
    pub fn new(kind: Kind, target: Sha1Hash, branching: usize, restrict_ips: bool) -> Self {
        Lookup {
            kind,
            target,
            cands: Vec::new(),
            branching: branching.max(1),
            phase: Phase::Search,
            peers: Vec::new(),
            responses: 0,
            timeouts: 0,
            last_sent: None,
            first_timeout: None,
            restrict_ips,
            published: None,
        }
    }

    /// Adds a candidate unless known (by id or address), our own id, or
    /// (with `restrict_ips`) an IP already in the list.
    pub fn add(&mut self, id: Option<NodeId>, addr: SocketAddr, our_id: &NodeId) {
        if id.as_ref() == Some(our_id) || addr.port() == 0 {
            return;
        }
        let ip: IpAddr = addr.ip();
        if self
            .cands
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id))
        {
            return;
        }
        if self.restrict_ips
            && !crate::id::is_local(&ip)
            && self.cands.iter().any(|c| c.addr.ip() == ip)
        {
            return;
        }
        let key = match &id {
            Some(id) => distance(&self.target, id),
            None => [0xff; 20],
        };
        let pos = self.cands.partition_point(|c| c.key <= key);
        if pos >= MAX_CANDIDATES {
            return;
        }
        self.cands.insert(
            pos,
            Candidate {
                id,
                addr,
                state: CState::Fresh,
                token: None,
                key,
            },
        );
        if self.cands.len() > MAX_CANDIDATES {
            // Drop the farthest candidate that is not waiting on a reply.
            if let Some(p) = self
                .cands
                .iter()
                .rposition(|c| !matches!(c.state, CState::Queried | CState::Slow))
            {
                self.cands.remove(p);
            }
        }
    }

    pub fn find(&mut self, addr: &SocketAddr) -> Option<&mut Candidate> {
        self.cands.iter_mut().find(|c| c.addr == *addr)
    }

    /// A candidate answered: record its id (re-sorting when it was
    /// unknown) and token.
    pub fn responded(&mut self, addr: &SocketAddr, id: NodeId, token: Option<Vec<u8>>) {
        let Some(pos) = self.cands.iter().position(|c| c.addr == *addr) else {
            return;
        };
        let mut c = self.cands.remove(pos);
        c.state = CState::Responded;
        c.token = token;
        c.id = Some(id);
        c.key = distance(&self.target, &id);
        let p = self.cands.partition_point(|x| x.key <= c.key);
        self.cands.insert(p, c);
    }

    pub fn in_flight(&self) -> usize {
        self.cands
            .iter()
            .filter(|c| c.state == CState::Queried)
            .count()
    }

    pub fn outstanding(&self) -> usize {
        self.cands
            .iter()
            .filter(|c| matches!(c.state, CState::Queried | CState::Slow))
            .count()
    }

    /// One step: returns the candidates to query now (already marked
    /// queried) and whether the search is complete.
    pub fn step(&mut self) -> (Vec<(Option<NodeId>, SocketAddr)>, bool) {
        let mut to_query = Vec::new();
        let mut in_flight = self.in_flight();
        let mut answered = 0;
        let mut pending = false;
        for c in self.cands.iter_mut() {
            match c.state {
                CState::Failed => continue,
                CState::Responded => {
                    answered += 1;
                    if answered >= K {
                        break;
                    }
                }
                CState::Queried | CState::Slow => pending = true,
                CState::Fresh => {
                    pending = true;
                    if in_flight < self.branching {
                        c.state = CState::Queried;
                        in_flight += 1;
                        to_query.push((c.id, c.addr));
                    }
                }
            }
        }
        (to_query, !pending)
    }

    /// The closest answered nodes (with their tokens), at most `n`.
    pub fn closest_responded(&self, n: usize) -> Vec<(NodeInfo, Option<Vec<u8>>)> {
        self.cands
            .iter()
            .filter(|c| c.state == CState::Responded)
            .filter_map(|c| {
                Some((
                    NodeInfo {
                        id: c.id?,
                        addr: c.addr,
                    },
                    c.token.clone(),
                ))
            })
            .take(n)
            .collect()
    }

    /// Nodes still to visit among the closest: fresh and in-flight ones.
    pub fn nodes_left(&self) -> usize {
        self.cands
            .iter()
            .filter(|c| matches!(c.state, CState::Fresh | CState::Queried | CState::Slow))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Rng;

    fn sa(i: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, (i >> 8) as u8, i as u8], 6881))
    }

    #[test]
    fn step_respects_branching_and_finishes() {
        let mut rng = Rng::new([4; 32]);
        let target = rng.id();
        let our = rng.id();
        let mut l = Lookup::new(Kind::Refresh, target, 3, true);
        let ids: Vec<NodeId> = (0..20).map(|_| rng.id()).collect();
        for (i, id) in ids.iter().enumerate() {
            l.add(Some(*id), sa(i as u16), &our);
        }
        l.add(Some(our), sa(99), &our);
        l.add(Some(ids[0]), sa(98), &our);
        assert_eq!(l.cands.len(), 20);
        let (q, done) = l.step();
        assert_eq!(q.len(), 3);
        assert!(!done);
        // sorted by distance: the first three are the closest
        let mut sorted = ids.clone();
        sorted.sort_by_key(|i| distance(&target, i));
        assert_eq!(
            q.iter().map(|x| x.0.unwrap()).collect::<Vec<_>>(),
            sorted[..3].to_vec()
        );
        let (q2, _) = l.step();
        assert!(q2.is_empty(), "branching limit");
        // answer everything as it is queried
        let mut rounds = 0;
        let mut pending = q;
        loop {
            for (id, addr) in pending.drain(..) {
                l.responded(&addr, id.unwrap(), Some(vec![1]));
            }
            let (q, done) = l.step();
            if done {
                break;
            }
            pending = q;
            rounds += 1;
            assert!(rounds < 20);
        }
        let best = l.closest_responded(K);
        assert_eq!(best.len(), K);
        assert_eq!(
            best.iter().map(|b| b.0.id).collect::<Vec<_>>(),
            sorted[..K].to_vec()
        );
        // nodes beyond the K closest were never asked
        assert!(l.cands.iter().any(|c| c.state == CState::Fresh));
    }

    #[test]
    fn slow_nodes_free_a_slot_and_routers_sort_last() {
        let mut rng = Rng::new([5; 32]);
        let our = rng.id();
        let mut l = Lookup::new(Kind::Bootstrap, rng.id(), 1, true);
        l.add(None, sa(1), &our);
        l.add(Some(rng.id()), sa(2), &our);
        assert_eq!(l.cands[1].addr, sa(1));
        let (q, _) = l.step();
        assert_eq!(q, vec![(l.cands[0].id, sa(2))]);
        l.find(&sa(2)).unwrap().state = CState::Slow;
        let (q, done) = l.step();
        assert_eq!(q, vec![(None, sa(1))]);
        assert!(!done);
        l.responded(&sa(1), rng.id(), None);
        l.find(&sa(2)).unwrap().state = CState::Failed;
        let (q, done) = l.step();
        assert!(q.is_empty());
        assert!(done);
    }

    #[test]
    fn restrict_ips_and_bound() {
        let mut rng = Rng::new([6; 32]);
        let our = rng.id();
        let mut l = Lookup::new(Kind::Refresh, rng.id(), 3, true);
        let a = SocketAddr::from(([80, 1, 1, 1], 1));
        let b = SocketAddr::from(([80, 1, 1, 1], 2));
        l.add(Some(rng.id()), a, &our);
        l.add(Some(rng.id()), b, &our);
        assert_eq!(l.cands.len(), 1);
        for i in 0..300u16 {
            l.add(Some(rng.id()), sa(i + 1000), &our);
        }
        assert_eq!(l.cands.len(), MAX_CANDIDATES);
    }
}
