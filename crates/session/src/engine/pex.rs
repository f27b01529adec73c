//! Peer exchange (`ut_pex`, BEP 11): every peer that supports it gets, at
//! most once a minute, the peers of the torrent we are connected to that
//! were added or dropped since the last message (the full list the first
//! time). Peers learnt from others become connect candidates. Never for
//! private torrents (BEP 27) nor torrents with the `disable_pex` flag.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_settings::keys;
use lt_wire::extension::{names, pex_flags, ExtensionMessage, PexMsg};

use super::{Crypto, Engine};
use crate::peer_io::ConnId;
use crate::torrent::flags;
use crate::types::TorrentId;

/// Minimum time between two messages to one peer.
pub(super) const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Most entries in one message's added (and dropped) list, as libtorrent.
const MAX_ENTRIES: usize = 100;
/// Most added peers taken from one received message.
const MAX_ACCEPTED: usize = 200;

/// `peer_info.source` bits.
const SOURCE_PEX: u32 = 0x4;
const SOURCE_INCOMING: u32 = 0x20;

#[derive(Default)]
struct PexPeer {
    last_sent: Option<Instant>,
    /// What the peer was told is in the swarm.
    sent: HashSet<SocketAddr>,
}

#[derive(Default)]
pub(super) struct PexState {
    peers: HashMap<ConnId, PexPeer>,
    /// Addresses learnt through PEX, per torrent.
    learnt: HashSet<(TorrentId, SocketAddr)>,
}

impl Engine {
    fn pex_allowed(&self, tid: TorrentId) -> bool {
        self.torrents
            .get(&tid)
            .is_some_and(|t| t.flags & flags::DISABLE_PEX == 0 && !t.meta.private())
    }

    /// The address other peers can reach peer `id` at: where we connected
    /// to, or (incoming) its IP with the listen port of its extension
    /// handshake. `None` when unknown.
    fn pex_endpoint(&self, id: ConnId) -> Option<SocketAddr> {
        let p = self.peers.get(&id)?;
        if p.outgoing {
            return Some(p.addr);
        }
        let port = p.conn.peer_extensions()?.p?;
        Some(SocketAddr::new(p.addr.ip(), port))
    }

    fn pex_flags(&self, id: ConnId) -> u8 {
        let Some(p) = self.peers.get(&id) else {
            return 0;
        };
        let mut f = 0;
        if matches!(p.crypto, Crypto::Rc4 { .. } | Crypto::MsePlain) {
            f |= pex_flags::ENCRYPTION;
        }
        let upload_only = p
            .conn
            .peer_extensions()
            .and_then(|h| h.upload_only)
            .unwrap_or(false);
        if p.is_seed() || upload_only {
            f |= pex_flags::SEED;
        }
        if p.utp.is_some() {
            f |= pex_flags::UTP;
        }
        if p.outgoing {
            f |= pex_flags::OUTGOING;
        }
        f
    }

    /// Once a second: send the due PEX messages.
    pub(super) fn pex_tick(&mut self) {
        let now = Instant::now();
        let tids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        for tid in tids {
            if !self.pex_allowed(tid) {
                continue;
            }
            let Some(t) = self.torrents.get(&tid) else {
                continue;
            };
            let conns: Vec<ConnId> = t
                .peers
                .iter()
                .copied()
                .filter(|c| self.peers.get(c).is_some_and(|p| p.conn.is_connected()))
                .collect();
            // The swarm as we see it: every connected peer with a known
            // reachable address, and its flags.
            let swarm: Vec<(ConnId, SocketAddr, u8)> = conns
                .iter()
                .filter_map(|c| Some((*c, self.pex_endpoint(*c)?, self.pex_flags(*c))))
                .collect();
            for &id in &conns {
                let supports = self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.conn.peer_supports(names::UT_PEX));
                if !supports {
                    continue;
                }
                let st = self.pex.peers.entry(id).or_default();
                if st
                    .last_sent
                    .is_some_and(|at| now.duration_since(at) < PEX_INTERVAL)
                {
                    continue;
                }
                let me = self.peers.get(&id).map(|p| p.addr);
                let current: HashMap<SocketAddr, u8> = swarm
                    .iter()
                    .filter(|(c, a, _)| *c != id && Some(*a) != me)
                    .map(|(_, a, f)| (*a, *f))
                    .collect();
                let mut msg = PexMsg::default();
                for (a, f) in &current {
                    if msg.added.len() < MAX_ENTRIES && !st.sent.contains(a) {
                        msg.added.push((*a, *f));
                    }
                }
                let gone: Vec<SocketAddr> = st
                    .sent
                    .iter()
                    .filter(|a| !current.contains_key(a))
                    .take(MAX_ENTRIES)
                    .copied()
                    .collect();
                msg.dropped = gone;
                let first = st.last_sent.is_none();
                if msg.added.is_empty() && msg.dropped.is_empty() && !first {
                    continue;
                }
                for (a, _) in &msg.added {
                    st.sent.insert(*a);
                }
                for a in &msg.dropped {
                    st.sent.remove(a);
                }
                st.last_sent = Some(now);
                if let Some(p) = self.peers.get_mut(&id) {
                    let _ = p.conn.send_extension(&ExtensionMessage::Pex(msg));
                }
                self.flush(id);
            }
        }
    }

    /// A `ut_pex` message: its added peers become connect candidates.
    pub(super) fn on_pex(&mut self, id: ConnId, msg: PexMsg) {
        let Some(tid) = self.peers.get(&id).and_then(|p| p.torrent) else {
            return;
        };
        if !self.pex_allowed(tid) {
            return;
        }
        // 0 would mean "no limit": PEX input stays bounded regardless.
        let max_list = match self.settings.get_int(keys::MAX_PEERLIST_SIZE) {
            n if n > 0 => n as usize,
            _ => 4000,
        };
        let ours: Vec<SocketAddr> = self.listen_endpoints();
        let one_per_ip = self.one_per_ip();
        let Some(t) = self.torrents.get_mut(&tid) else {
            return;
        };
        let mut added = false;
        for (a, _flags) in msg.added.into_iter().take(MAX_ACCEPTED) {
            if a.port() == 0 || a.ip().is_unspecified() || a.ip().is_multicast() {
                continue;
            }
            if ours
                .iter()
                .any(|o| o.port() == a.port() && (o.ip() == a.ip() || o.ip().is_unspecified()))
            {
                continue;
            }
            if t.known.len() >= max_list {
                break;
            }
            if t.banned.contains(&a.ip()) {
                continue;
            }
            if t.learn_peer(a, one_per_ip, false) {
                self.pex.learnt.insert((tid, a));
                added = true;
            }
        }
        if added {
            self.connect_candidates(tid);
        }
    }

    pub(super) fn pex_peer_gone(&mut self, id: ConnId) {
        self.pex.peers.remove(&id);
    }

    pub(super) fn pex_torrent_removed(&mut self, tid: TorrentId) {
        self.pex.learnt.retain(|(t, _)| *t != tid);
    }

    /// `peer_info.source` of a connection.
    pub(super) fn peer_source(&self, tid: TorrentId, addr: SocketAddr, outgoing: bool) -> u32 {
        let mut s = 0;
        if self.pex.learnt.contains(&(tid, addr)) {
            s |= SOURCE_PEX;
        }
        if !outgoing {
            s |= SOURCE_INCOMING;
        }
        s
    }
}
