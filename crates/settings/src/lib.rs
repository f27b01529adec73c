//! lt-settings: libtorrent's settings (the 266 keys of `settings_pack`), and
//! the session statistics metrics table.
//!
//! - [`SettingsPack`]: a sparse set of explicitly set values (what
//!   `default_settings()`, `high_performance_seed()` and `apply_settings()`
//!   carry), kept sorted by index.
//! - [`Settings`]: the full, dense configuration the engine reads; typed keys
//!   ([`keys::ACTIVE_DOWNLOADS`] etc.) index plain arrays, so reads are cheap.
//!
//! Every setting has a stable flat index: strings `0x0000 + n`, integers
//! `0x4000 + n`, booleans `0x8000 + n`, `n` in libtorrent's declaration
//! order (the order `get_settings()` reports).

mod generated;
pub mod metrics;

pub use generated::{keys, BOOL_SETTINGS, INT_SETTINGS, NUM_BOOL, NUM_INT, NUM_STR, STR_SETTINGS};
use std::fmt;

/// The libtorrent version whose settings defaults we report.
pub const LIBTORRENT_VERSION: &str = "2.1.1.0";
/// Default `user_agent`: `"libtorrent/"` followed by the version.
pub const USER_AGENT: &str = "libtorrent/2.1.1.0";
/// Default `peer_fingerprint`: `"-LT"`, the version digits, `"-"`.
pub const PEER_FINGERPRINT: &str = "-LT2110-";

/// Total number of settings.
pub const NUM_SETTINGS: usize = NUM_STR + NUM_INT + NUM_BOOL;

const STR_BASE: u16 = 0x0000;
const INT_BASE: u16 = 0x4000;
const BOOL_BASE: u16 = 0x8000;
const TYPE_MASK: u16 = 0xc000;

/// Key of a string setting (index into the string table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrKey(pub u16);
/// Key of an integer setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntKey(pub u16);
/// Key of a boolean setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoolKey(pub u16);

/// The type of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingType {
    Str,
    Int,
    Bool,
}

impl SettingType {
    /// `"str"`, `"int"` or `"bool"`.
    pub fn name(self) -> &'static str {
        match self {
            SettingType::Str => "str",
            SettingType::Int => "int",
            SettingType::Bool => "bool",
        }
    }
}

/// A setting's flat index (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SettingIndex(pub u16);

impl SettingIndex {
    /// The index for `n`, if it names a setting.
    pub fn new(n: u16) -> Option<Self> {
        let i = SettingIndex(n);
        let pos = i.position() as usize;
        let ok = match n & TYPE_MASK {
            STR_BASE => pos < NUM_STR,
            INT_BASE => pos < NUM_INT,
            BOOL_BASE => pos < NUM_BOOL,
            _ => false,
        };
        ok.then_some(i)
    }

    /// The setting called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        generated::BY_NAME
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| SettingIndex(generated::BY_NAME[i].1))
    }

    /// Position within its type's table.
    pub fn position(self) -> u16 {
        self.0 & !TYPE_MASK
    }

    pub fn setting_type(self) -> SettingType {
        match self.0 & TYPE_MASK {
            STR_BASE => SettingType::Str,
            INT_BASE => SettingType::Int,
            _ => SettingType::Bool,
        }
    }

    pub fn name(self) -> &'static str {
        let p = self.position() as usize;
        match self.setting_type() {
            SettingType::Str => STR_SETTINGS[p].0,
            SettingType::Int => INT_SETTINGS[p].0,
            SettingType::Bool => BOOL_SETTINGS[p].0,
        }
    }

    /// All settings in index order (strings, ints, bools).
    pub fn all() -> impl Iterator<Item = SettingIndex> {
        (0..NUM_STR as u16)
            .map(|i| SettingIndex(STR_BASE | i))
            .chain((0..NUM_INT as u16).map(|i| SettingIndex(INT_BASE | i)))
            .chain((0..NUM_BOOL as u16).map(|i| SettingIndex(BOOL_BASE | i)))
    }
}

impl From<StrKey> for SettingIndex {
    fn from(k: StrKey) -> Self {
        SettingIndex(STR_BASE | k.0)
    }
}
impl From<IntKey> for SettingIndex {
    fn from(k: IntKey) -> Self {
        SettingIndex(INT_BASE | k.0)
    }
}
impl From<BoolKey> for SettingIndex {
    fn from(k: BoolKey) -> Self {
        SettingIndex(BOOL_BASE | k.0)
    }
}

/// A setting's value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Str(String),
    Int(i32),
    Bool(bool),
}

impl Value {
    pub fn setting_type(&self) -> SettingType {
        match self {
            Value::Str(_) => SettingType::Str,
            Value::Int(_) => SettingType::Int,
            Value::Bool(_) => SettingType::Bool,
        }
    }
}

/// Why a value could not be set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// No setting has this name.
    UnknownName(String),
    /// The value's type is not the setting's type.
    WrongType {
        name: &'static str,
        expected: SettingType,
        got: SettingType,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::UnknownName(n) => write!(f, "unknown name in settings_pack: {n}"),
            SettingsError::WrongType {
                name,
                expected,
                got,
            } => write!(
                f,
                "setting {name} takes a {} value, not {}",
                expected.name(),
                got.name()
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

/// The default value of a setting (`None` for the string settings that
/// `default_settings()` leaves unset).
pub fn default_value(idx: SettingIndex) -> Option<Value> {
    let p = idx.position() as usize;
    match idx.setting_type() {
        SettingType::Str => STR_SETTINGS[p].1.map(|s| Value::Str(s.to_owned())),
        SettingType::Int => Some(Value::Int(INT_SETTINGS[p].1)),
        SettingType::Bool => Some(Value::Bool(BOOL_SETTINGS[p].1)),
    }
}

/// A sparse set of settings values, sorted by index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsPack {
    entries: Vec<(SettingIndex, Value)>,
}

impl SettingsPack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every setting at its default, except the string settings without one
    /// (what `libtorrent.default_settings()` returns).
    pub fn defaults() -> Self {
        let entries = SettingIndex::all()
            .filter_map(|i| default_value(i).map(|v| (i, v)))
            .collect();
        Self { entries }
    }

    fn find(&self, idx: SettingIndex) -> Result<usize, usize> {
        self.entries.binary_search_by(|(i, _)| i.cmp(&idx))
    }

    /// Sets `idx` to `v`, which must have the setting's type.
    pub fn set(&mut self, idx: SettingIndex, v: Value) -> Result<(), SettingsError> {
        if v.setting_type() != idx.setting_type() {
            return Err(SettingsError::WrongType {
                name: idx.name(),
                expected: idx.setting_type(),
                got: v.setting_type(),
            });
        }
        match self.find(idx) {
            Ok(p) => self.entries[p].1 = v,
            Err(p) => self.entries.insert(p, (idx, v)),
        }
        Ok(())
    }

    /// Sets the setting called `name`.
    pub fn set_by_name(&mut self, name: &str, v: Value) -> Result<(), SettingsError> {
        let idx = SettingIndex::from_name(name)
            .ok_or_else(|| SettingsError::UnknownName(name.to_owned()))?;
        self.set(idx, v)
    }

    pub fn set_str(&mut self, k: StrKey, v: impl Into<String>) {
        let idx = SettingIndex::from(k);
        let v = Value::Str(v.into());
        match self.find(idx) {
            Ok(p) => self.entries[p].1 = v,
            Err(p) => self.entries.insert(p, (idx, v)),
        }
    }

    pub fn set_int(&mut self, k: IntKey, v: i32) {
        let idx = SettingIndex::from(k);
        match self.find(idx) {
            Ok(p) => self.entries[p].1 = Value::Int(v),
            Err(p) => self.entries.insert(p, (idx, Value::Int(v))),
        }
    }

    pub fn set_bool(&mut self, k: BoolKey, v: bool) {
        let idx = SettingIndex::from(k);
        match self.find(idx) {
            Ok(p) => self.entries[p].1 = Value::Bool(v),
            Err(p) => self.entries.insert(p, (idx, Value::Bool(v))),
        }
    }

    pub fn get(&self, idx: SettingIndex) -> Option<&Value> {
        self.find(idx).ok().map(|p| &self.entries[p].1)
    }

    pub fn get_str(&self, k: StrKey) -> Option<&str> {
        match self.get(k.into()) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn get_int(&self, k: IntKey) -> Option<i32> {
        match self.get(k.into()) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn get_bool(&self, k: BoolKey) -> Option<bool> {
        match self.get(k.into()) {
            Some(Value::Bool(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn has(&self, idx: SettingIndex) -> bool {
        self.find(idx).is_ok()
    }

    /// Removes `idx` from the pack; returns its value if it was set.
    pub fn remove(&mut self, idx: SettingIndex) -> Option<Value> {
        self.find(idx).ok().map(|p| self.entries.remove(p).1)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The set values in index order.
    pub fn iter(&self) -> impl Iterator<Item = (SettingIndex, &Value)> {
        self.entries.iter().map(|(i, v)| (*i, v))
    }
}

/// A complete configuration: every setting has a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    strs: Vec<String>,
    ints: [i32; NUM_INT],
    bools: [bool; NUM_BOOL],
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            strs: STR_SETTINGS
                .iter()
                .map(|(_, d)| d.unwrap_or("").to_owned())
                .collect(),
            ints: std::array::from_fn(|i| INT_SETTINGS[i].1),
            bools: std::array::from_fn(|i| BOOL_SETTINGS[i].1),
        }
    }
}

impl Settings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults overridden by `pack`.
    pub fn from_pack(pack: &SettingsPack) -> Self {
        let mut s = Self::default();
        s.apply(pack);
        s
    }

    /// Copies every value set in `pack`.
    pub fn apply(&mut self, pack: &SettingsPack) {
        for (idx, v) in pack.iter() {
            self.set_value(idx, v.clone());
        }
    }

    #[inline]
    pub fn get_str(&self, k: StrKey) -> &str {
        &self.strs[k.0 as usize]
    }

    #[inline]
    pub fn get_int(&self, k: IntKey) -> i32 {
        self.ints[k.0 as usize]
    }

    #[inline]
    pub fn get_bool(&self, k: BoolKey) -> bool {
        self.bools[k.0 as usize]
    }

    pub fn set_str(&mut self, k: StrKey, v: impl Into<String>) {
        self.strs[k.0 as usize] = v.into();
    }

    pub fn set_int(&mut self, k: IntKey, v: i32) {
        self.ints[k.0 as usize] = v;
    }

    pub fn set_bool(&mut self, k: BoolKey, v: bool) {
        self.bools[k.0 as usize] = v;
    }

    /// The value of any setting by index.
    pub fn get(&self, idx: SettingIndex) -> Value {
        let p = idx.position() as usize;
        match idx.setting_type() {
            SettingType::Str => Value::Str(self.strs[p].clone()),
            SettingType::Int => Value::Int(self.ints[p]),
            SettingType::Bool => Value::Bool(self.bools[p]),
        }
    }

    /// The value of the setting called `name`.
    pub fn get_by_name(&self, name: &str) -> Result<Value, SettingsError> {
        SettingIndex::from_name(name)
            .map(|i| self.get(i))
            .ok_or_else(|| SettingsError::UnknownName(name.to_owned()))
    }

    /// Sets any setting by index; the value must have the setting's type.
    pub fn set(&mut self, idx: SettingIndex, v: Value) -> Result<(), SettingsError> {
        if v.setting_type() != idx.setting_type() {
            return Err(SettingsError::WrongType {
                name: idx.name(),
                expected: idx.setting_type(),
                got: v.setting_type(),
            });
        }
        self.set_value(idx, v);
        Ok(())
    }

    /// Sets the setting called `name`.
    pub fn set_by_name(&mut self, name: &str, v: Value) -> Result<(), SettingsError> {
        let idx = SettingIndex::from_name(name)
            .ok_or_else(|| SettingsError::UnknownName(name.to_owned()))?;
        self.set(idx, v)
    }

    // callers guarantee the types match (SettingsPack checks on insertion)
    fn set_value(&mut self, idx: SettingIndex, v: Value) {
        let p = idx.position() as usize;
        match v {
            Value::Str(s) => self.strs[p] = s,
            Value::Int(i) => self.ints[p] = i,
            Value::Bool(b) => self.bools[p] = b,
        }
    }

    /// Every setting and its value, in index order (what `get_settings()` reports).
    pub fn iter(&self) -> impl Iterator<Item = (SettingIndex, Value)> + '_ {
        SettingIndex::all().map(move |i| (i, self.get(i)))
    }
}

/// libtorrent's `high_performance_seed()` preset: the values it changes.
pub fn high_performance_seed() -> SettingsPack {
    use keys::*;
    let mut p = SettingsPack::new();
    for (k, v) in [
        (REQUEST_TIMEOUT, 10),
        (MAX_ALLOWED_IN_REQUEST_QUEUE, 2000),
        (MAX_OUT_REQUEST_QUEUE, 1500),
        (PEER_TIMEOUT, 20),
        (FILE_POOL_SIZE, 500),
        (MAX_FAILCOUNT, 1),
        (CONNECTION_SPEED, 500),
        (INACTIVITY_TIMEOUT, 20),
        (ALLOWED_FAST_SET_SIZE, 0),
        (SUGGEST_MODE, 1),
        (MAX_QUEUED_DISK_BYTES, 7 * 1024 * 1024),
        (SEND_BUFFER_LOW_WATERMARK, 1024 * 1024),
        (SEND_BUFFER_WATERMARK, 3 * 1024 * 1024),
        (SEND_BUFFER_WATERMARK_FACTOR, 150),
        (CHOKING_ALGORITHM, 0),
        (ACTIVE_SEEDS, 2000),
        (ACTIVE_DHT_LIMIT, 600),
        (ACTIVE_TRACKER_LIMIT, 2000),
        (ACTIVE_LIMIT, 20000),
        (MAX_REJECTS, 10),
        (MAX_PEER_RECV_BUFFER_SIZE, 5 * 1024 * 1024),
        (UNCHOKE_SLOTS_LIMIT, -1),
        (CONNECTIONS_LIMIT, 8000),
        (MIXED_MODE_ALGORITHM, 0),
        (LISTEN_QUEUE_SIZE, 3000),
        (ALERT_QUEUE_SIZE, 10000),
        (CHECKING_MEM_USAGE, 2048),
        (AIO_THREADS, 8),
        (SEND_NOT_SENT_LOW_WATERMARK, 512 * 1024),
    ] {
        p.set_int(k, v);
    }
    p.set_bool(CLOSE_REDUNDANT_CONNECTIONS, true);
    p.set_bool(NO_ATIME_STORAGE, true);
    p
}

/// libtorrent's `min_memory_usage()` preset: the values it changes.
pub fn min_memory_usage() -> SettingsPack {
    use keys::*;
    let mut p = SettingsPack::new();
    for (k, v) in [
        (AIO_THREADS, 1),
        (ALERT_QUEUE_SIZE, 100),
        (CHECKING_MEM_USAGE, 2),
        (CONNECTION_SPEED, 5),
        (DISK_IO_READ_MODE, 2),
        (DISK_IO_WRITE_MODE, 2),
        (FILE_POOL_SIZE, 4),
        (INACTIVITY_TIMEOUT, 120),
        (MAX_ALLOWED_IN_REQUEST_QUEUE, 100),
        (MAX_FAILCOUNT, 2),
        (MAX_OUT_REQUEST_QUEUE, 300),
        (MAX_PAUSED_PEERLIST_SIZE, 50),
        (MAX_PEER_RECV_BUFFER_SIZE, 32968),
        (MAX_PEERLIST_SIZE, 500),
        (MAX_QUEUED_DISK_BYTES, 1),
        (MAX_REJECTS, 10),
        (RECV_SOCKET_BUFFER_SIZE, 16 * 1024),
        (SEND_BUFFER_WATERMARK, 9),
        (SEND_SOCKET_BUFFER_SIZE, 16 * 1024),
        (WHOLE_PIECES_THRESHOLD, 2),
    ] {
        p.set_int(k, v);
    }
    for (k, v) in [
        (ALLOW_MULTIPLE_CONNECTIONS_PER_IP, false),
        (CLOSE_REDUNDANT_CONNECTIONS, true),
        (CONTIGUOUS_RECV_BUFFER, false),
        (PREFER_UDP_TRACKERS, true),
        (PRIORITIZE_PARTIAL_PIECES, true),
        (USE_PAROLE_MODE, false),
    ] {
        p.set_bool(k, v);
    }
    p
}

/// What a session does to `connections_limit` when it starts: it keeps 20
/// descriptors in reserve and gives connections at most 80% of the rest
/// (never fewer than 5).
pub fn cap_connections_limit(limit: i32, max_open_files: i64) -> i32 {
    let cap = (max_open_files.saturating_sub(20) / 10)
        .saturating_mul(8)
        .saturating_add(max_open_files.saturating_sub(20) % 10 * 8 / 10)
        .max(5);
    i64::from(limit).min(cap) as i32
}

/// The process's soft limit on open file descriptors (`RLIMIT_NOFILE`), read
/// from `/proc/self/limits`; `None` when it cannot be read. "unlimited" is
/// reported as `i64::MAX`.
pub fn max_open_files() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_max_open_files(&text)
}

fn parse_max_open_files(limits: &str) -> Option<i64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        Some(i64::MAX)
    } else {
        soft.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sizes_and_names_round_trip() {
        assert_eq!(NUM_SETTINGS, 266);
        let mut n = 0;
        for i in SettingIndex::all() {
            assert_eq!(SettingIndex::from_name(i.name()), Some(i));
            assert_eq!(SettingIndex::new(i.0), Some(i));
            n += 1;
        }
        assert_eq!(n, 266);
        assert_eq!(SettingIndex::from_name("no_such_setting"), None);
        assert_eq!(SettingIndex::new(0x4000 + NUM_INT as u16), None);
        assert_eq!(SettingIndex::new(0xc000), None);
    }

    #[test]
    fn typed_keys_match_names() {
        assert_eq!(SettingIndex::from(keys::USER_AGENT).name(), "user_agent");
        assert_eq!(
            SettingIndex::from(keys::ACTIVE_DOWNLOADS).name(),
            "active_downloads"
        );
        assert_eq!(SettingIndex::from(keys::ENABLE_DHT).name(), "enable_dht");
        assert_eq!(
            SettingIndex::from(keys::ENABLE_DHT).setting_type(),
            SettingType::Bool
        );
    }

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.get_str(keys::USER_AGENT), "libtorrent/2.1.1.0");
        assert_eq!(s.get_str(keys::PEER_FINGERPRINT), "-LT2110-");
        assert_eq!(s.get_str(keys::PROXY_HOSTNAME), "");
        assert_eq!(s.get_int(keys::ACTIVE_DOWNLOADS), 3);
        assert_eq!(s.get_int(keys::CONNECTIONS_LIMIT), 200);
        assert!(s.get_bool(keys::ENABLE_DHT));
        let p = SettingsPack::defaults();
        assert_eq!(p.len(), 257);
        assert!(!p.has(keys::PROXY_HOSTNAME.into()));
        assert_eq!(Settings::from_pack(&p), s);
    }

    #[test]
    fn pack_set_get_and_type_checks() {
        let mut p = SettingsPack::new();
        p.set_by_name("active_downloads", Value::Int(7)).unwrap();
        p.set_by_name("enable_dht", Value::Bool(false)).unwrap();
        p.set_by_name("user_agent", Value::Str("x".into())).unwrap();
        assert_eq!(p.get_int(keys::ACTIVE_DOWNLOADS), Some(7));
        assert_eq!(p.get_bool(keys::ENABLE_DHT), Some(false));
        assert_eq!(p.get_str(keys::USER_AGENT), Some("x"));
        assert_eq!(p.get_int(keys::ACTIVE_SEEDS), None);
        assert_eq!(
            p.set_by_name("nope", Value::Int(1)),
            Err(SettingsError::UnknownName("nope".into()))
        );
        assert!(matches!(
            p.set_by_name("enable_dht", Value::Int(1)),
            Err(SettingsError::WrongType { .. })
        ));
        // entries stay sorted by index: strings, ints, bools
        let order: Vec<_> = p.iter().map(|(i, _)| i.name()).collect();
        assert_eq!(order, ["user_agent", "active_downloads", "enable_dht"]);
        let mut s = Settings::default();
        s.apply(&p);
        assert_eq!(s.get_int(keys::ACTIVE_DOWNLOADS), 7);
        assert!(!s.get_bool(keys::ENABLE_DHT));
        assert_eq!(s.get_by_name("user_agent"), Ok(Value::Str("x".into())));
        assert_eq!(p.remove(keys::ACTIVE_DOWNLOADS.into()), Some(Value::Int(7)));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn presets() {
        let h = high_performance_seed();
        assert_eq!(h.len(), 31);
        assert_eq!(h.get_int(keys::UNCHOKE_SLOTS_LIMIT), Some(-1));
        let m = min_memory_usage();
        assert_eq!(m.len(), 26);
        assert_eq!(m.get_bool(keys::USE_PAROLE_MODE), Some(false));
    }

    #[test]
    fn connections_cap() {
        assert_eq!(cap_connections_limit(200, 30), 8);
        assert_eq!(cap_connections_limit(200, 100), 64);
        assert_eq!(cap_connections_limit(1000, 300), 224);
        assert_eq!(cap_connections_limit(200, 10), 5);
        assert_eq!(cap_connections_limit(200, i64::MAX), 200);
        let limits = "Limit  Soft Limit Hard Limit Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        assert_eq!(
            parse_max_open_files("Max open files unlimited unlimited files"),
            Some(i64::MAX)
        );
        assert_eq!(parse_max_open_files("garbage"), None);
    }
}
