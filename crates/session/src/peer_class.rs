//! Peer classes (libtorrent's `peer_class`): named groups of connections
//! sharing rate limits, bandwidth priorities, an unchoke-slot exemption and
//! a connection-limit factor.
//!
//! A connection is put in classes when it is made: the peer-class IP filter
//! maps its address to a bit mask of class ids (bit *n* = class *n*), the
//! socket-type filter then adds and removes classes by socket type
//! (TCP, uTP, …), and the ids of classes that exist are kept. Each class owns
//! one [`BandwidthManager`] channel per session; a connection's transfers are
//! charged to the channels of all its classes (plus its torrent's and its
//! own), so the tightest of them holds it back.
//!
//! The session starts with three classes: `global` (id 0), `tcp` (id 1) and
//! `local` (id 2; always unchoked, connection-limit factor 150). The default
//! IP filter puts every address in `global`, except local-network ones
//! (10/8, 172.16/12, 192.168/16, 169.254/16, 127/8, fc00::/7, link-local
//! fe80::, ::1), which are in `local` instead — so the session-wide
//! `upload_rate_limit`/`download_rate_limit` (the global class's limits)
//! don't apply to peers on the local network unless the filter is changed.
//! TCP connections are also in `tcp`.
//!
//! Classes are reference counted like libtorrent's: a class deleted while
//! connections still belong to it lives on (and keeps limiting them) until
//! the last one is gone; only then is its id reused (last freed, first
//! reused). Everything here is sans-IO: time comes in as milliseconds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lt_core::ip_filter::IpFilter;
use lt_picker::bandwidth::{BandwidthManager, ChannelId, Direction};

/// Id of the built-in `global` class.
pub const GLOBAL_CLASS: u32 = 0;
/// Id of the built-in `tcp` class.
pub const TCP_CLASS: u32 = 1;
/// Id of the built-in `local` class.
pub const LOCAL_CLASS: u32 = 2;

/// A class's settings, as `get_peer_class` / `set_peer_class` carry them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerClassInfo {
    /// Peers in the class are unchoked whenever they are interested and
    /// don't take unchoke slots.
    pub ignore_unchoke_slots: bool,
    /// Percent weighing of the connection limit for incoming connections
    /// (the largest factor of a peer's classes; 0 counts as 100).
    pub connection_limit_factor: i32,
    pub label: String,
    /// Bytes per second, 0 = unlimited.
    pub upload_limit: i32,
    pub download_limit: i32,
    /// Bandwidth priority, 1..=255 (a weight in the fair share).
    pub upload_priority: i32,
    pub download_priority: i32,
}

/// Socket types of the socket-type filter (`peer_class_type_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    Tcp = 0,
    Utp = 1,
    SslTcp = 2,
    SslUtp = 3,
    I2p = 4,
}

/// Number of socket types of the filter.
pub const NUM_SOCKET_KINDS: usize = 5;

/// Adds and removes classes by socket type (libtorrent's
/// `peer_class_type_filter`), applied after the IP filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerClassTypeFilter {
    /// Classes added, per socket type.
    pub add: [u32; NUM_SOCKET_KINDS],
    /// Classes allowed, per socket type.
    pub mask: [u32; NUM_SOCKET_KINDS],
}

impl Default for PeerClassTypeFilter {
    fn default() -> Self {
        Self {
            add: [0; NUM_SOCKET_KINDS],
            mask: [u32::MAX; NUM_SOCKET_KINDS],
        }
    }
}

impl PeerClassTypeFilter {
    /// Peers on `kind` sockets get class `class` (ids above 31 are ignored).
    pub fn add(&mut self, kind: SocketKind, class: u32) {
        if class < 32 {
            self.add[kind as usize] |= 1 << class;
        }
    }

    pub fn remove(&mut self, kind: SocketKind, class: u32) {
        if class < 32 {
            self.add[kind as usize] &= !(1 << class);
        }
    }

    /// Peers on `kind` sockets may not be in class `class`.
    pub fn disallow(&mut self, kind: SocketKind, class: u32) {
        if class < 32 {
            self.mask[kind as usize] &= !(1 << class);
        }
    }

    pub fn allow(&mut self, kind: SocketKind, class: u32) {
        if class < 32 {
            self.mask[kind as usize] |= 1 << class;
        }
    }

    /// The class mask of a peer on a `kind` socket whose IP filter gave `mask`.
    pub fn apply(&self, kind: SocketKind, mask: u32) -> u32 {
        (mask & self.mask[kind as usize]) | self.add[kind as usize]
    }
}

/// The default peer-class IP filter: everything in `global`, or, with
/// `local_separate`, local-network addresses in `local` instead.
pub fn default_class_filter(local_separate: bool) -> IpFilter {
    let g = 1u32 << GLOBAL_CLASS;
    let l = 1u32 << LOCAL_CLASS;
    let mut f = IpFilter::new();
    let v4 = |a: [u8; 4]| IpAddr::V4(Ipv4Addr::from(a));
    let v6 = |a: u128| IpAddr::V6(Ipv6Addr::from(a));
    let _ = f.add_rule(v4([0, 0, 0, 0]), v4([255, 255, 255, 255]), g);
    let _ = f.add_rule(v6(0), v6(u128::MAX), g);
    if local_separate {
        for (a, b) in [
            ([10, 0, 0, 0], [10, 255, 255, 255]),
            ([172, 16, 0, 0], [172, 31, 255, 255]),
            ([192, 168, 0, 0], [192, 168, 255, 255]),
            ([169, 254, 0, 0], [169, 254, 255, 255]),
            ([127, 0, 0, 0], [127, 255, 255, 255]),
        ] {
            let _ = f.add_rule(v4(a), v4(b), l);
        }
        // unique local fc00::/7; link-local from fe80:: up to
        // febf:0:ffff:ffff:ffff:ffff:ffff:ffff (libtorrent's range, which
        // stops short of the end of fe80::/10); loopback
        for (a, b) in [
            (0xfc00u128 << 112, (0xfe00u128 << 112) - 1),
            (0xfe80u128 << 112, (0xfebfu128 << 112) | ((1u128 << 96) - 1)),
            (1, 1),
        ] {
            let _ = f.add_rule(v6(a), v6(b), l);
        }
    }
    f
}

/// The default socket-type filter: TCP, SSL/TCP and I2P peers are in `tcp`.
pub fn default_type_filter() -> PeerClassTypeFilter {
    let mut f = PeerClassTypeFilter::default();
    for k in [SocketKind::Tcp, SocketKind::SslTcp, SocketKind::I2p] {
        f.add(k, TCP_CLASS);
    }
    f
}

#[derive(Clone, Debug)]
struct Class {
    info: PeerClassInfo,
    channel: ChannelId,
    /// Connections in the class.
    members: u32,
    /// The user's reference, dropped by `delete`.
    owned: bool,
}

/// The session's classes and filters.
#[derive(Clone, Debug)]
pub struct PeerClasses {
    slots: Vec<Option<Class>>,
    free: Vec<u32>,
    /// Address → class mask.
    pub filter: IpFilter,
    pub type_filter: PeerClassTypeFilter,
}

fn clamp_limit(v: i32) -> i32 {
    match v {
        i32::MIN..=0 => 0,
        1..=9 => 10,
        v => v,
    }
}

impl PeerClasses {
    /// The three built-in classes and the default filters.
    pub fn new(bw: &mut BandwidthManager, now: u64) -> Self {
        let mut c = Self {
            slots: Vec::new(),
            free: Vec::new(),
            filter: default_class_filter(true),
            type_filter: default_type_filter(),
        };
        c.create(bw, now, "global");
        c.create(bw, now, "tcp");
        let local = c.create(bw, now, "local");
        if let Some(cl) = c.get_mut(local) {
            cl.info.ignore_unchoke_slots = true;
            cl.info.connection_limit_factor = 150;
        }
        c
    }

    fn get(&self, id: u32) -> Option<&Class> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut Class> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// Whether class `id` exists (including a deleted one still in use).
    pub fn exists(&self, id: u32) -> bool {
        self.get(id).is_some()
    }

    /// A new unlimited class labelled `label`; returns its id.
    pub fn create(&mut self, bw: &mut BandwidthManager, now: u64, label: &str) -> u32 {
        let class = Class {
            info: PeerClassInfo {
                ignore_unchoke_slots: false,
                connection_limit_factor: 100,
                label: label.to_owned(),
                upload_limit: 0,
                download_limit: 0,
                upload_priority: 1,
                download_priority: 1,
            },
            channel: bw.add_channel(now),
            members: 0,
            owned: true,
        };
        if let Some(id) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(id as usize) {
                *slot = Some(class);
                return id;
            }
        }
        self.slots.push(Some(class));
        (self.slots.len() - 1) as u32
    }

    /// Drops the user's reference to class `id`; the class goes when no
    /// connection belongs to it any more. Unknown or already deleted: no-op.
    pub fn delete(&mut self, bw: &mut BandwidthManager, id: u32) {
        if let Some(c) = self.get_mut(id) {
            if c.owned {
                c.owned = false;
                self.release_if_unused(bw, id);
            }
        }
    }

    fn release_if_unused(&mut self, bw: &mut BandwidthManager, id: u32) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if let Some(c) = slot {
            if !c.owned && c.members == 0 {
                bw.remove_channel(c.channel);
                *slot = None;
                self.free.push(id);
            }
        }
    }

    /// The settings of class `id`; all zero for a class that doesn't exist.
    pub fn info(&self, id: u32) -> PeerClassInfo {
        self.get(id).map(|c| c.info.clone()).unwrap_or_default()
    }

    /// Sets class `id`'s settings (limits 1..9 become 10, negative ones 0;
    /// priorities are clamped to 1..=255). Unknown class: no-op.
    pub fn set_info(&mut self, bw: &mut BandwidthManager, now: u64, id: u32, info: PeerClassInfo) {
        let Some(c) = self.get_mut(id) else {
            return;
        };
        c.info = PeerClassInfo {
            upload_limit: clamp_limit(info.upload_limit),
            download_limit: clamp_limit(info.download_limit),
            upload_priority: info.upload_priority.clamp(1, 255),
            download_priority: info.download_priority.clamp(1, 255),
            ..info
        };
        let (ch, up, down) = (c.channel, c.info.upload_limit, c.info.download_limit);
        bw.set_limit(now, ch, Direction::Upload, up as u64);
        bw.set_limit(now, ch, Direction::Download, down as u64);
    }

    /// Sets one direction's limit as the rate-limit settings do (negative
    /// values are 0, no rounding up). Unknown class: no-op.
    pub fn set_limit(
        &mut self,
        bw: &mut BandwidthManager,
        now: u64,
        id: u32,
        dir: Direction,
        limit: i32,
    ) {
        let Some(c) = self.get_mut(id) else {
            return;
        };
        let limit = limit.max(0);
        match dir {
            Direction::Upload => c.info.upload_limit = limit,
            Direction::Download => c.info.download_limit = limit,
        }
        bw.set_limit(now, c.channel, dir, limit as u64);
    }

    /// Class `id`'s limit in direction `dir` (0 = unlimited or no class).
    pub fn limit(&self, id: u32, dir: Direction) -> i32 {
        self.get(id).map_or(0, |c| match dir {
            Direction::Upload => c.info.upload_limit,
            Direction::Download => c.info.download_limit,
        })
    }

    /// The classes of a new connection to or from `addr` over a `kind`
    /// socket, each counted as in use until [`Self::leave`].
    pub fn join(&mut self, addr: IpAddr, kind: SocketKind) -> ClassSet {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
            a => a,
        };
        let mut mask = self.type_filter.apply(kind, self.filter.access(addr));
        let mut set = ClassSet::default();
        let mut id = 0u32;
        while mask != 0 {
            if mask & 1 != 0 {
                if let Some(c) = self.get_mut(id) {
                    c.members += 1;
                    set.0.push(id);
                }
            }
            mask >>= 1;
            id += 1;
        }
        set
    }

    /// A connection in `set` is gone.
    pub fn leave(&mut self, bw: &mut BandwidthManager, set: &ClassSet) {
        for &id in &set.0 {
            if let Some(c) = self.get_mut(id) {
                c.members = c.members.saturating_sub(1);
            }
            self.release_if_unused(bw, id);
        }
    }

    /// The bandwidth channels of the classes in `set`.
    pub fn channels<'a>(&'a self, set: &'a ClassSet) -> impl Iterator<Item = ChannelId> + 'a {
        set.0
            .iter()
            .filter_map(|&id| self.get(id).map(|c| c.channel))
    }

    /// Whether any class in `set` limits direction `dir`.
    pub fn limited(&self, set: &ClassSet, dir: Direction) -> bool {
        set.0.iter().any(|&id| self.limit(id, dir) > 0)
    }

    /// The bandwidth priority of a connection in `set`: the highest of its
    /// classes' priorities, at least 1.
    pub fn priority(&self, set: &ClassSet, dir: Direction) -> u64 {
        set.0
            .iter()
            .filter_map(|&id| self.get(id))
            .map(|c| match dir {
                Direction::Upload => c.info.upload_priority,
                Direction::Download => c.info.download_priority,
            })
            .max()
            .unwrap_or(1)
            .max(1) as u64
    }

    /// Whether a connection in `set` is exempt from the unchoke slots.
    pub fn ignore_unchoke_slots(&self, set: &ClassSet) -> bool {
        set.0
            .iter()
            .filter_map(|&id| self.get(id))
            .any(|c| c.info.ignore_unchoke_slots)
    }

    /// The connection limit an incoming connection from `addr` over a
    /// `kind` socket is checked against: `connections_limit × 100 /
    /// factor + slack`, the factor being the largest of the classes it
    /// would get (0 counts as 100), as libtorrent computes it.
    pub fn incoming_limit(&self, addr: IpAddr, kind: SocketKind, limit: i32, slack: i32) -> i64 {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
            a => a,
        };
        let mut mask = self.type_filter.apply(kind, self.filter.access(addr));
        let mut factor = 0i64;
        let mut id = 0u32;
        while mask != 0 {
            if mask & 1 != 0 {
                if let Some(c) = self.get(id) {
                    factor = factor.max(i64::from(c.info.connection_limit_factor));
                }
            }
            mask >>= 1;
            id += 1;
        }
        if factor <= 0 {
            factor = 100;
        }
        i64::from(limit) * 100 / factor + i64::from(slack)
    }
}

/// The classes a connection belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassSet(Vec<u32>);

impl ClassSet {
    /// The class ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Direction = Direction::Upload;
    const DOWN: Direction = Direction::Download;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn setup() -> (BandwidthManager, PeerClasses) {
        let mut bw = BandwidthManager::new(0);
        let c = PeerClasses::new(&mut bw, 0);
        (bw, c)
    }

    #[test]
    fn built_in_classes() {
        let (_, c) = setup();
        let g = c.info(GLOBAL_CLASS);
        assert_eq!(g.label, "global");
        assert_eq!(
            (g.connection_limit_factor, g.ignore_unchoke_slots),
            (100, false)
        );
        assert_eq!((g.upload_priority, g.download_priority), (1, 1));
        assert_eq!(c.info(TCP_CLASS).label, "tcp");
        let l = c.info(LOCAL_CLASS);
        assert_eq!(
            (
                l.label.as_str(),
                l.connection_limit_factor,
                l.ignore_unchoke_slots
            ),
            ("local", 150, true)
        );
        // a class that doesn't exist reads as all zero
        assert_eq!(c.info(3), PeerClassInfo::default());
        assert_eq!(c.info(u32::MAX), PeerClassInfo::default());
    }

    #[test]
    fn default_filter_puts_local_networks_in_local() {
        let (mut bw, mut c) = setup();
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.9.9",
            "::1",
            "fe80::1",
            "fd00::5",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(
                c.join(ip(a), SocketKind::Tcp).ids(),
                &[TCP_CLASS, LOCAL_CLASS],
                "{a}"
            );
            assert_eq!(c.join(ip(a), SocketKind::Utp).ids(), &[LOCAL_CLASS], "{a}");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "11.0.0.1",
            "2001:db8::1",
            "fec0::1",
        ] {
            assert_eq!(
                c.join(ip(a), SocketKind::Tcp).ids(),
                &[GLOBAL_CLASS, TCP_CLASS],
                "{a}"
            );
            assert_eq!(c.join(ip(a), SocketKind::Utp).ids(), &[GLOBAL_CLASS], "{a}");
        }
        // without the local ranges, everything is global
        c.filter = default_class_filter(false);
        assert_eq!(
            c.join(ip("127.0.0.1"), SocketKind::Utp).ids(),
            &[GLOBAL_CLASS]
        );
        let set = c.join(ip("127.0.0.1"), SocketKind::Tcp);
        assert!(!c.limited(&set, UP));
        c.set_limit(&mut bw, 0, GLOBAL_CLASS, UP, 5000);
        assert!(c.limited(&set, UP) && !c.limited(&set, DOWN));
    }

    #[test]
    fn type_filter_adds_and_masks() {
        let mut f = PeerClassTypeFilter::default();
        assert_eq!(f.apply(SocketKind::Tcp, 0b101), 0b101);
        f.add(SocketKind::Tcp, 4);
        f.disallow(SocketKind::Tcp, 0);
        assert_eq!(f.apply(SocketKind::Tcp, 0b101), 0b10100);
        assert_eq!(f.apply(SocketKind::Utp, 0b101), 0b101);
        f.allow(SocketKind::Tcp, 0);
        f.remove(SocketKind::Tcp, 4);
        f.add(SocketKind::Tcp, 32); // out of range: ignored
        assert_eq!(f, PeerClassTypeFilter::default());
    }

    #[test]
    fn create_delete_and_reuse() {
        let (mut bw, mut c) = setup();
        let a = c.create(&mut bw, 0, "a");
        let b = c.create(&mut bw, 0, "b");
        let d = c.create(&mut bw, 0, "d");
        assert_eq!((a, b, d), (3, 4, 5));
        assert_eq!(c.info(b).label, "b");
        assert_eq!(c.info(b).connection_limit_factor, 100);
        c.delete(&mut bw, a);
        c.delete(&mut bw, a); // twice: no-op
        c.delete(&mut bw, d);
        c.delete(&mut bw, 77);
        assert_eq!(c.info(a), PeerClassInfo::default());
        // last freed, first reused
        assert_eq!(c.create(&mut bw, 0, "x"), d);
        assert_eq!(c.create(&mut bw, 0, "y"), a);
        assert_eq!(c.create(&mut bw, 0, "z"), 6);
        // even the global class can be deleted, and its id reused
        c.delete(&mut bw, GLOBAL_CLASS);
        assert!(!c.exists(GLOBAL_CLASS));
        assert_eq!(c.create(&mut bw, 0, ""), GLOBAL_CLASS);
    }

    #[test]
    fn a_deleted_class_lives_while_used() {
        let (mut bw, mut c) = setup();
        let x = c.create(&mut bw, 0, "x");
        let _ = c.filter.add_rule(ip("8.8.8.0"), ip("8.8.8.255"), 1 << x);
        let set = c.join(ip("8.8.8.8"), SocketKind::Utp);
        assert_eq!(set.ids(), &[x]);
        c.set_limit(&mut bw, 0, x, DOWN, 1000);
        c.delete(&mut bw, x);
        assert_eq!(c.info(x).label, "x");
        assert!(c.limited(&set, DOWN));
        assert_eq!(c.create(&mut bw, 0, "other"), x + 1);
        c.leave(&mut bw, &set);
        assert!(!c.exists(x));
        assert_eq!(c.create(&mut bw, 0, "again"), x);
        // classes named by the filter that don't exist are skipped
        let _ = c.filter.add_rule(ip("9.9.9.9"), ip("9.9.9.9"), 1 << 20 | 1);
        assert_eq!(
            c.join(ip("9.9.9.9"), SocketKind::Utp).ids(),
            &[GLOBAL_CLASS]
        );
    }

    #[test]
    fn set_info_clamps_like_libtorrent() {
        let (mut bw, mut c) = setup();
        let x = c.create(&mut bw, 0, "x");
        let info = PeerClassInfo {
            ignore_unchoke_slots: true,
            connection_limit_factor: -5,
            label: "y".into(),
            upload_limit: 5,
            download_limit: -1,
            upload_priority: 0,
            download_priority: 300,
        };
        c.set_info(&mut bw, 0, x, info);
        let got = c.info(x);
        assert_eq!((got.upload_limit, got.download_limit), (10, 0));
        assert_eq!((got.upload_priority, got.download_priority), (1, 255));
        assert_eq!(
            (
                got.connection_limit_factor,
                got.label.as_str(),
                got.ignore_unchoke_slots
            ),
            (-5, "y", true)
        );
        // the settings path doesn't round small limits up
        c.set_limit(&mut bw, 0, x, UP, 7);
        assert_eq!(c.limit(x, UP), 7);
        c.set_limit(&mut bw, 0, x, UP, -3);
        assert_eq!(c.limit(x, UP), 0);
        // unknown class: nothing happens
        c.set_info(&mut bw, 0, 99, PeerClassInfo::default());
        assert!(!c.exists(99));
    }

    #[test]
    fn priorities_unchoke_exemption_and_connection_factor() {
        let (mut bw, mut c) = setup();
        let local_tcp = c.join(ip("127.0.0.1"), SocketKind::Tcp);
        let remote = c.join(ip("8.8.8.8"), SocketKind::Tcp);
        assert!(c.ignore_unchoke_slots(&local_tcp));
        assert!(!c.ignore_unchoke_slots(&remote));
        assert_eq!(c.priority(&remote, UP), 1);
        let mut g = c.info(GLOBAL_CLASS);
        g.upload_priority = 7;
        c.set_info(&mut bw, 0, GLOBAL_CLASS, g);
        assert_eq!(c.priority(&remote, UP), 7);
        assert_eq!(c.priority(&remote, DOWN), 1);
        assert_eq!(c.priority(&ClassSet::default(), UP), 1);
        // local peers: 200 × 100 / 150 + 10
        assert_eq!(
            c.incoming_limit(ip("127.0.0.1"), SocketKind::Tcp, 200, 10),
            143
        );
        assert_eq!(
            c.incoming_limit(ip("8.8.8.8"), SocketKind::Tcp, 200, 10),
            210
        );
        let mut t = c.info(TCP_CLASS);
        t.connection_limit_factor = 0;
        c.set_info(&mut bw, 0, TCP_CLASS, t);
        let mut g = c.info(GLOBAL_CLASS);
        g.connection_limit_factor = 0;
        c.set_info(&mut bw, 0, GLOBAL_CLASS, g);
        assert_eq!(
            c.incoming_limit(ip("8.8.8.8"), SocketKind::Tcp, 200, 10),
            210
        );
    }

    #[test]
    fn class_buckets_limit_their_members_only() {
        let (mut bw, mut c) = setup();
        let slow = c.create(&mut bw, 0, "slow");
        let _ = c
            .filter
            .add_rule(ip("127.0.0.2"), ip("127.0.0.2"), 1 << slow);
        let mut info = c.info(slow);
        info.download_limit = 2000;
        c.set_info(&mut bw, 0, slow, info);
        c.set_limit(&mut bw, 0, GLOBAL_CLASS, DOWN, 1000);
        let in_slow = c.join(ip("127.0.0.2"), SocketKind::Utp);
        let local = c.join(ip("127.0.0.1"), SocketKind::Utp);
        let remote = c.join(ip("8.8.8.8"), SocketKind::Utp);
        let mut got = [0u64; 3];
        for step in 1..=1000u64 {
            let t = step * 10;
            for (i, set) in [&in_slow, &local, &remote].into_iter().enumerate() {
                let ch: Vec<_> = c.channels(set).collect();
                got[i] += bw
                    .request(
                        t,
                        lt_picker::bandwidth::ConnId(i as u32),
                        &ch,
                        DOWN,
                        100_000,
                    )
                    .bytes;
            }
        }
        // 10 s: the slow class 20 kB, the global class 10 kB, local unlimited
        assert!((17_000..=20_100).contains(&got[0]), "{got:?}");
        assert!(got[1] >= 10_000_000, "{got:?}");
        assert!((8_500..=10_100).contains(&got[2]), "{got:?}");
    }
}
