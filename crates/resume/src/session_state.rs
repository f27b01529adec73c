//! libtorrent's session-state file (`write_session_params` /
//! `read_session_params`): settings, the legacy DHT settings block, the DHT
//! state (node ids and nodes), extension state and the IP filter, each part
//! selected by a `save_state_flags_t` bit.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use lt_bencode::{Encoder, Kind, Node};
use lt_core::ip_filter::IpFilter;
use lt_metainfo::LoadLimits;
use lt_settings::{SettingIndex, SettingType, SettingsPack, Value};

use crate::error::ResumeError;
use crate::resume_data::{bencode_limits, read_endpoint};

/// `save_state_flags_t` bits.
pub mod save_state_flags {
    pub const SAVE_SETTINGS: u32 = 1 << 0;
    pub const SAVE_DHT_SETTINGS: u32 = 1 << 1;
    pub const SAVE_DHT_STATE: u32 = 1 << 2;
    pub const SAVE_EXTENSION_STATE: u32 = 1 << 11;
    pub const SAVE_IP_FILTER: u32 = 1 << 12;
    pub const ALL: u32 = u32::MAX;
}

/// libtorrent's deprecated `dht_settings` block, still written under
/// `dht` and applied to the `dht_*` settings when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhtSettings {
    pub max_peers_reply: i32,
    pub search_branching: i32,
    pub max_fail_count: i32,
    pub max_torrents: i32,
    pub max_dht_items: i32,
    pub max_peers: i32,
    pub max_torrent_search_reply: i32,
    pub restrict_routing_ips: bool,
    pub restrict_search_ips: bool,
    pub extended_routing_table: bool,
    pub aggressive_lookups: bool,
    pub privacy_lookups: bool,
    pub enforce_node_id: bool,
    pub ignore_dark_internet: bool,
    pub block_timeout: i32,
    pub block_ratelimit: i32,
    pub read_only: bool,
    pub item_lifetime: i32,
}

impl Default for DhtSettings {
    fn default() -> Self {
        DhtSettings {
            max_peers_reply: 100,
            search_branching: 5,
            max_fail_count: 20,
            max_torrents: 2000,
            max_dht_items: 700,
            max_peers: 500,
            max_torrent_search_reply: 20,
            restrict_routing_ips: true,
            restrict_search_ips: true,
            extended_routing_table: true,
            aggressive_lookups: true,
            privacy_lookups: false,
            enforce_node_id: false,
            ignore_dark_internet: true,
            block_timeout: 300,
            block_ratelimit: 5,
            read_only: false,
            item_lifetime: 0,
        }
    }
}

/// A field of [`DhtSettings`], for table-driven reading and writing.
enum DhtField {
    Int(fn(&mut DhtSettings) -> &mut i32),
    Bool(fn(&mut DhtSettings) -> &mut bool),
}

/// Key (without the `dht_` prefix of the matching setting) and field, in
/// the order libtorrent applies them.
const DHT_FIELDS: [(&str, DhtField); 18] = [
    ("max_peers_reply", DhtField::Int(|s| &mut s.max_peers_reply)),
    (
        "search_branching",
        DhtField::Int(|s| &mut s.search_branching),
    ),
    ("max_fail_count", DhtField::Int(|s| &mut s.max_fail_count)),
    ("max_torrents", DhtField::Int(|s| &mut s.max_torrents)),
    ("max_dht_items", DhtField::Int(|s| &mut s.max_dht_items)),
    ("max_peers", DhtField::Int(|s| &mut s.max_peers)),
    (
        "max_torrent_search_reply",
        DhtField::Int(|s| &mut s.max_torrent_search_reply),
    ),
    (
        "restrict_routing_ips",
        DhtField::Bool(|s| &mut s.restrict_routing_ips),
    ),
    (
        "restrict_search_ips",
        DhtField::Bool(|s| &mut s.restrict_search_ips),
    ),
    (
        "extended_routing_table",
        DhtField::Bool(|s| &mut s.extended_routing_table),
    ),
    (
        "aggressive_lookups",
        DhtField::Bool(|s| &mut s.aggressive_lookups),
    ),
    (
        "privacy_lookups",
        DhtField::Bool(|s| &mut s.privacy_lookups),
    ),
    (
        "enforce_node_id",
        DhtField::Bool(|s| &mut s.enforce_node_id),
    ),
    (
        "ignore_dark_internet",
        DhtField::Bool(|s| &mut s.ignore_dark_internet),
    ),
    ("block_timeout", DhtField::Int(|s| &mut s.block_timeout)),
    ("block_ratelimit", DhtField::Int(|s| &mut s.block_ratelimit)),
    ("read_only", DhtField::Bool(|s| &mut s.read_only)),
    ("item_lifetime", DhtField::Int(|s| &mut s.item_lifetime)),
];

/// The DHT's saved state: our node ids (with the address each belongs to)
/// and known nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhtState {
    pub nids: Vec<(IpAddr, [u8; 20])>,
    pub nodes: Vec<SocketAddr>,
    pub nodes6: Vec<SocketAddr>,
}

/// Everything a session-state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionParams {
    /// The settings given (a sparse pack: only these are written).
    pub settings: SettingsPack,
    pub dht_settings: DhtSettings,
    pub dht_state: DhtState,
    pub ip_filter: IpFilter,
}

fn write_address(out: &mut Vec<u8>, a: &IpAddr) {
    match a {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

fn encode_settings(e: &mut Encoder<'_>, pack: &SettingsPack) {
    // an entry dictionary: sorted by name
    let mut sorted: Vec<(&'static str, &Value)> = pack.iter().map(|(i, v)| (i.name(), v)).collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    e.begin_dict();
    for (name, v) in sorted {
        e.bytes(name.as_bytes());
        match v {
            Value::Str(s) => e.bytes(s.as_bytes()),
            Value::Int(i) => e.int(i64::from(*i)),
            Value::Bool(b) => e.int(i64::from(*b)),
        };
    }
    e.end();
}

fn encode_dht_settings(e: &mut Encoder<'_>, s: &DhtSettings) {
    let mut copy = *s;
    let mut fields: Vec<(&str, i64)> = DHT_FIELDS
        .iter()
        .map(|(name, f)| {
            let v = match f {
                DhtField::Int(get) => i64::from(*get(&mut copy)),
                DhtField::Bool(get) => i64::from(*get(&mut copy)),
            };
            (*name, v)
        })
        .collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    e.begin_dict();
    for (k, v) in fields {
        e.bytes(k.as_bytes()).int(v);
    }
    e.end();
}

fn encode_dht_state(e: &mut Encoder<'_>, s: &DhtState) {
    e.begin_dict();
    e.bytes(b"node-id").begin_list();
    for (addr, id) in &s.nids {
        let mut b = id.to_vec();
        write_address(&mut b, addr);
        e.bytes(&b);
    }
    e.end();
    for (key, list) in [(&b"nodes"[..], &s.nodes), (b"nodes6", &s.nodes6)] {
        if list.is_empty() {
            continue;
        }
        e.bytes(key).begin_list();
        for ep in list {
            let mut b = Vec::with_capacity(18);
            write_address(&mut b, &ep.ip());
            b.extend_from_slice(&ep.port().to_be_bytes());
            e.bytes(&b);
        }
        e.end();
    }
    e.end();
}

fn encode_ip_filter(d: &mut BTreeMap<&[u8], Vec<u8>>, f: &IpFilter) {
    let (v4, v6) = f.export_filter();
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.begin_list();
    for (first, last, access) in v4 {
        let mut b = Vec::with_capacity(12);
        b.extend_from_slice(&first.octets());
        b.extend_from_slice(&last.octets());
        b.extend_from_slice(&access.to_be_bytes());
        e.bytes(&b);
    }
    e.end();
    d.insert(b"ip_filter4", out);
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.begin_list();
    for (first, last, access) in v6 {
        let mut b = Vec::with_capacity(36);
        b.extend_from_slice(&first.octets());
        b.extend_from_slice(&last.octets());
        b.extend_from_slice(&access.to_be_bytes());
        e.bytes(&b);
    }
    e.end();
    d.insert(b"ip_filter6", out);
}

impl SessionParams {
    /// The bencoded session state, the parts selected by `flags`
    /// ([`save_state_flags`]), as libtorrent 2.1 writes it.
    pub fn write(&self, flags: u32) -> Vec<u8> {
        use save_state_flags::*;
        let mut d: BTreeMap<&[u8], Vec<u8>> = BTreeMap::new();
        let part = |f: &dyn Fn(&mut Encoder<'_>)| {
            let mut out = Vec::new();
            f(&mut Encoder::new(&mut out));
            out
        };
        if flags & SAVE_SETTINGS != 0 {
            d.insert(b"settings", part(&|e| encode_settings(e, &self.settings)));
        }
        if flags & SAVE_DHT_SETTINGS != 0 {
            d.insert(
                b"dht",
                part(&|e| encode_dht_settings(e, &self.dht_settings)),
            );
        }
        if flags & SAVE_DHT_STATE != 0 {
            d.insert(
                b"dht state",
                part(&|e| encode_dht_state(e, &self.dht_state)),
            );
        }
        if flags & SAVE_EXTENSION_STATE != 0 {
            // no extension keeps state
            d.insert(
                b"extensions",
                part(&|e| {
                    e.begin_dict().end();
                }),
            );
        }
        if flags & SAVE_IP_FILTER != 0 {
            encode_ip_filter(&mut d, &self.ip_filter);
        }
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        for (k, v) in &d {
            e.bytes(k).raw(v);
        }
        e.end();
        out
    }

    /// Parses a session-state buffer (libtorrent's default decode limits);
    /// only bencode errors fail, anything else malformed is skipped.
    pub fn read(buf: &[u8], flags: u32) -> Result<Self, ResumeError> {
        let doc = lt_bencode::decode_compat(buf, bencode_limits(&LoadLimits::default()))?;
        Ok(Self::from_node(doc.root(), flags))
    }

    /// Reads the parts selected by `flags` from a decoded session state. A
    /// root that is not a dictionary gives the defaults.
    pub fn from_node(e: Node<'_, '_>, flags: u32) -> Self {
        use save_state_flags::*;
        let mut ret = SessionParams::default();
        if e.kind() != Kind::Dict {
            return ret;
        }
        // the legacy dht block first: a `settings` dict replaces the
        // settings it gave
        if flags & SAVE_DHT_SETTINGS != 0 {
            if let Some(s) = e.get_dict(b"dht") {
                load_dht_settings(s, &mut ret.dht_settings, &mut ret.settings);
            }
        }
        if flags & SAVE_SETTINGS != 0 {
            if let Some(s) = e.get_dict(b"settings") {
                let mut pack = SettingsPack::new();
                load_settings(s, &mut pack);
                ret.settings = pack;
            }
        }
        if flags & SAVE_DHT_STATE != 0 {
            if let Some(s) = e.get_dict(b"dht state") {
                ret.dht_state = read_dht_state(s);
            }
        }
        if flags & SAVE_IP_FILTER != 0 {
            if let Some(l) = e.get_list(b"ip_filter4") {
                for r in l.list_iter() {
                    let Some(b) = r.as_bytes().filter(|b| b.len() == 12) else {
                        continue;
                    };
                    let (Some(a), Some(z), Some(f)) = (b.get(0..4), b.get(4..8), b.get(8..12))
                    else {
                        continue;
                    };
                    let (Ok(a), Ok(z), Ok(f)) = (
                        <[u8; 4]>::try_from(a),
                        <[u8; 4]>::try_from(z),
                        <[u8; 4]>::try_from(f),
                    ) else {
                        continue;
                    };
                    // a reversed range is skipped
                    if a > z {
                        continue;
                    }
                    let _ = ret.ip_filter.add_rule(
                        IpAddr::V4(Ipv4Addr::from(a)),
                        IpAddr::V4(Ipv4Addr::from(z)),
                        u32::from_be_bytes(f),
                    );
                }
            }
            if let Some(l) = e.get_list(b"ip_filter6") {
                for r in l.list_iter() {
                    let Some(b) = r.as_bytes().filter(|b| b.len() == 36) else {
                        continue;
                    };
                    let (Some(a), Some(z), Some(f)) = (b.get(0..16), b.get(16..32), b.get(32..36))
                    else {
                        continue;
                    };
                    let (Ok(a), Ok(z), Ok(f)) = (
                        <[u8; 16]>::try_from(a),
                        <[u8; 16]>::try_from(z),
                        <[u8; 4]>::try_from(f),
                    ) else {
                        continue;
                    };
                    // a reversed range is skipped
                    if a > z {
                        continue;
                    }
                    let _ = ret.ip_filter.add_rule(
                        IpAddr::V6(Ipv6Addr::from(a)),
                        IpAddr::V6(Ipv6Addr::from(z)),
                        u32::from_be_bytes(f),
                    );
                }
            }
        }
        ret
    }
}

/// Applies a `settings` dictionary to `pack`: known names whose value has
/// the setting's type (ints truncated to 32 bits, any int for a bool);
/// anything else is ignored.
pub fn load_settings(d: Node<'_, '_>, pack: &mut SettingsPack) {
    for (k, v) in d.dict_iter() {
        let Some(idx) = std::str::from_utf8(k)
            .ok()
            .and_then(SettingIndex::from_name)
        else {
            continue;
        };
        let value = match (idx.setting_type(), v.kind()) {
            (SettingType::Str, Kind::Bytes) => {
                Value::Str(String::from_utf8_lossy(v.as_bytes().unwrap_or(&[])).into_owned())
            }
            (SettingType::Int, Kind::Int) => Value::Int(v.as_int().unwrap_or(0) as i32),
            (SettingType::Bool, Kind::Int) => Value::Bool(v.as_int().unwrap_or(0) != 0),
            _ => continue,
        };
        let _ = pack.set(idx, value);
    }
}

fn load_dht_settings(d: Node<'_, '_>, dht: &mut DhtSettings, pack: &mut SettingsPack) {
    for (name, field) in &DHT_FIELDS {
        let Some(v) = d.get_int(name.as_bytes()) else {
            continue;
        };
        let setting = SettingIndex::from_name(&format!("dht_{name}"));
        match field {
            DhtField::Int(get) => {
                *get(dht) = v as i32;
                if let Some(idx) = setting {
                    let _ = pack.set(idx, Value::Int(v as i32));
                }
            }
            DhtField::Bool(get) => {
                *get(dht) = v != 0;
                if let Some(idx) = setting {
                    let _ = pack.set(idx, Value::Bool(v != 0));
                }
            }
        }
    }
}

fn read_dht_state(d: Node<'_, '_>) -> DhtState {
    let mut st = DhtState::default();
    // an old-style single node id
    if let Some(id) = d.get_bytes(b"node-id").filter(|b| b.len() == 20) {
        if let Ok(id) = <[u8; 20]>::try_from(id) {
            st.nids.push((IpAddr::V4(Ipv4Addr::UNSPECIFIED), id));
        }
    } else if let Some(l) = d.get_list(b"node-id") {
        for n in l.list_iter() {
            let Some(b) = n.as_bytes() else { continue };
            let (Some(id), Some(addr)) = (b.get(..20), b.get(20..)) else {
                continue;
            };
            let Ok(id) = <[u8; 20]>::try_from(id) else {
                continue;
            };
            let addr = if let Ok(a) = <[u8; 4]>::try_from(addr) {
                IpAddr::V4(Ipv4Addr::from(a))
            } else if let Ok(a) = <[u8; 16]>::try_from(addr) {
                IpAddr::V6(Ipv6Addr::from(a))
            } else {
                continue;
            };
            st.nids.push((addr, id));
        }
    }
    for (key, list) in [(&b"nodes"[..], &mut st.nodes), (b"nodes6", &mut st.nodes6)] {
        if let Some(l) = d.get_list(key) {
            for n in l.list_iter() {
                if let Some(ep) = n.as_bytes().and_then(read_endpoint) {
                    list.push(ep);
                }
            }
        }
    }
    st
}
