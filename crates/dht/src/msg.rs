//! KRPC messages (BEP 5) with the extensions libtorrent speaks: BEP 32
//! (`nodes6`, `want`), BEP 33-less `noseed`, BEP 42 (`ip`), BEP 43 (`ro`),
//! BEP 44 (`get`/`put`) and BEP 51 (`sample_infohashes`).
//!
//! [`Message::parse`] is strict and bounded: the bencode decoder runs with
//! libtorrent's DHT limits (depth 10, 500 tokens), every field a message
//! type requires must be present with the right type and length, and
//! nothing in here can panic on any input. Unknown keys are ignored, as
//! the protocol requires for extensibility.
//!
//! [`Message::encode`] writes canonical bencode (sorted keys).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use lt_bencode::{Encoder, Kind, Limits, Node};
use lt_core::Sha1Hash;

use crate::id::NodeId;

/// Largest datagram we parse (bigger ones are dropped unread): the largest
/// UDP payload. What a message may hold is bounded further by [`LIMITS`].
pub const MAX_DATAGRAM: usize = 65535;
/// Longest transaction id we accept.
pub const MAX_TID: usize = 16;
/// Longest token we accept in a response or an announce/put.
pub const MAX_TOKEN: usize = 64;
/// Largest bencoded BEP 44 value.
pub const MAX_ITEM_VALUE: usize = 1000;
/// Longest BEP 44 salt.
pub const MAX_SALT: usize = 64;
/// Most nodes we accept in one `nodes`/`nodes6` field.
pub const MAX_NODES: usize = 64;
/// Most peers we accept in one `values` list.
pub const MAX_VALUES: usize = 512;
/// Most hashes we accept in one `samples` field.
pub const MAX_SAMPLES: usize = 256;

/// The bencode limits used for every datagram (libtorrent uses depth 10 and
/// 500 tokens for DHT messages).
pub const LIMITS: Limits = Limits {
    max_depth: 10,
    max_tokens: 500,
    strict_key_order: false,
    allow_trailing: false,
};

/// A node's id and UDP endpoint, as in compact node info (26 bytes for
/// IPv4, 38 bytes for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// Which address families of nodes a query asks for (BEP 32 `want`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Want {
    pub n4: bool,
    pub n6: bool,
}

impl Want {
    /// Nothing asked: the responder uses the family the query came in on.
    pub fn is_empty(&self) -> bool {
        !self.n4 && !self.n6
    }
}

/// A query's method and arguments (without the sender's id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Ping,
    FindNode {
        target: NodeId,
        want: Want,
    },
    GetPeers {
        info_hash: Sha1Hash,
        want: Want,
        noseed: bool,
    },
    AnnouncePeer {
        info_hash: Sha1Hash,
        port: u16,
        implied_port: bool,
        token: Vec<u8>,
        seed: bool,
    },
    /// BEP 44 `get`.
    Get {
        target: Sha1Hash,
        /// Only return the value when the stored sequence number is newer.
        seq: Option<i64>,
        want: Want,
    },
    /// BEP 44 `put`.
    Put(PutArgs),
    /// BEP 51.
    SampleInfohashes {
        target: NodeId,
        want: Want,
    },
    /// A method we do not know. Answered like `find_node` when it carries a
    /// `target` or `info_hash` (BEP 5 says unknown methods with those keys
    /// should be treated so), else with error 204.
    Unknown {
        method: Vec<u8>,
        target: Option<NodeId>,
    },
}

impl Query {
    /// The `q` string.
    pub fn method(&self) -> &[u8] {
        match self {
            Query::Ping => b"ping",
            Query::FindNode { .. } => b"find_node",
            Query::GetPeers { .. } => b"get_peers",
            Query::AnnouncePeer { .. } => b"announce_peer",
            Query::Get { .. } => b"get",
            Query::Put(_) => b"put",
            Query::SampleInfohashes { .. } => b"sample_infohashes",
            Query::Unknown { method, .. } => method,
        }
    }
}

/// Arguments of a BEP 44 `put`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutArgs {
    pub token: Vec<u8>,
    /// The bencoded value, exactly as received (at most 1000 bytes).
    pub value: Vec<u8>,
    /// Mutable items: the ed25519 public key.
    pub key: Option<[u8; 32]>,
    /// Mutable items: the signature.
    pub sig: Option<[u8; 64]>,
    /// Mutable items: the sequence number.
    pub seq: Option<i64>,
    /// Mutable items: compare-and-swap against this sequence number.
    pub cas: Option<i64>,
    /// Mutable items: the salt (empty when absent).
    pub salt: Vec<u8>,
}

/// A response's fields. Responses do not name their query, so every field
/// any query may return is optional here; the caller matches the
/// transaction id to know what to expect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub nodes: Vec<NodeInfo>,
    pub nodes6: Vec<NodeInfo>,
    pub token: Option<Vec<u8>>,
    /// Compact peers of `get_peers`.
    pub values: Vec<SocketAddr>,
    /// BEP 44: the bencoded value.
    pub v: Option<Vec<u8>>,
    pub k: Option<[u8; 32]>,
    pub sig: Option<[u8; 64]>,
    pub seq: Option<i64>,
    /// BEP 51.
    pub samples: Option<Vec<Sha1Hash>>,
    pub num: Option<i64>,
    pub interval: Option<i64>,
    /// The port libtorrent echoes in a ping response.
    pub p: Option<u16>,
}

/// The body of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Query { id: NodeId, query: Query },
    Response { id: NodeId, response: Box<Response> },
    Error { code: i64, message: Vec<u8> },
}

/// One KRPC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Transaction id (`t`).
    pub tid: Vec<u8>,
    /// Client version (`v`), e.g. `LT\x02\x11`.
    pub version: Option<Vec<u8>>,
    /// BEP 42: the requester's address as the responder sees it (`ip`).
    pub ip: Option<SocketAddr>,
    /// BEP 43: the sender is read-only (`ro`: 1).
    pub read_only: bool,
    pub body: Body,
}

/// Why a datagram was rejected. When the message was a query whose
/// transaction id could be read, the node answers with a KRPC error
/// (code 203) quoting [`ParseError::reason`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub reason: &'static str,
    /// The transaction id, when the message got that far.
    pub tid: Option<Vec<u8>>,
    /// The message was a query (`y` = `q`), so an error reply is due.
    pub is_query: bool,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for ParseError {}

fn fixed<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.try_into().ok()
}

/// Decodes an endpoint in compact form (6 bytes IPv4, 18 bytes IPv6).
pub fn parse_compact_endpoint(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        6 => {
            let ip: [u8; 4] = fixed(b.get(..4)?)?;
            let port = u16::from_be_bytes(fixed(b.get(4..6)?)?);
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        18 => {
            let ip: [u8; 16] = fixed(b.get(..16)?)?;
            let port = u16::from_be_bytes(fixed(b.get(16..18)?)?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// Appends the compact form of an endpoint.
pub fn write_compact_endpoint(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// The compact form of an endpoint.
pub fn compact_endpoint(addr: &SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(18);
    write_compact_endpoint(&mut out, addr);
    out
}

/// Decodes compact node info: `n` records of 26 (`v6` false) or 38 bytes.
pub fn parse_compact_nodes(b: &[u8], v6: bool) -> Result<Vec<NodeInfo>, &'static str> {
    let rec = if v6 { 38 } else { 26 };
    if !b.len().is_multiple_of(rec) {
        return Err(if v6 {
            "nodes6 length not a multiple of 38"
        } else {
            "nodes length not a multiple of 26"
        });
    }
    if b.len() / rec > MAX_NODES {
        return Err("too many nodes");
    }
    let mut out = Vec::with_capacity(b.len() / rec);
    for chunk in b.chunks_exact(rec) {
        let (id, ep) = chunk.split_at(20);
        let id = NodeId::from_slice(id).map_err(|_| "bad node id")?;
        let addr = parse_compact_endpoint(ep).ok_or("bad node endpoint")?;
        out.push(NodeInfo { id, addr });
    }
    Ok(out)
}

/// Appends compact node info for every node of the matching family.
pub fn write_compact_nodes(out: &mut Vec<u8>, nodes: &[NodeInfo], v6: bool) {
    for n in nodes {
        if n.addr.is_ipv6() == v6 {
            out.extend_from_slice(&n.id.0);
            write_compact_endpoint(out, &n.addr);
        }
    }
}

fn parse_want(n: Option<Node<'_, '_>>) -> Result<Want, &'static str> {
    let mut want = Want::default();
    let Some(n) = n else { return Ok(want) };
    if n.kind() != Kind::List {
        return Err("'want' is not a list");
    }
    for item in n.list_iter() {
        match item.as_bytes() {
            Some(b"n4") => want.n4 = true,
            Some(b"n6") => want.n6 = true,
            Some(_) => {}
            None => return Err("'want' item is not a string"),
        }
    }
    Ok(want)
}

fn req_hash(
    args: Node<'_, '_>,
    key: &'static [u8],
    missing: &'static str,
) -> Result<Sha1Hash, &'static str> {
    let b = args.get_bytes(key).ok_or(missing)?;
    Sha1Hash::from_slice(b).map_err(|_| missing)
}

fn opt_int(d: Node<'_, '_>, key: &[u8], err: &'static str) -> Result<Option<i64>, &'static str> {
    match d.get(key) {
        None => Ok(None),
        Some(n) => n.as_int().map(Some).ok_or(err),
    }
}

fn opt_bytes<'a>(
    d: Node<'_, 'a>,
    key: &[u8],
    err: &'static str,
) -> Result<Option<&'a [u8]>, &'static str> {
    match d.get(key) {
        None => Ok(None),
        Some(n) => n.as_bytes().map(Some).ok_or(err),
    }
}

fn flag(d: Node<'_, '_>, key: &[u8]) -> bool {
    d.get_int(key).is_some_and(|v| v != 0)
}

fn parse_query(method: &[u8], args: Node<'_, '_>) -> Result<Query, &'static str> {
    Ok(match method {
        b"ping" => Query::Ping,
        b"find_node" => Query::FindNode {
            target: req_hash(args, b"target", "missing 'target' key")?,
            want: parse_want(args.get(b"want"))?,
        },
        b"get_peers" => Query::GetPeers {
            info_hash: req_hash(args, b"info_hash", "missing 'info_hash' key")?,
            want: parse_want(args.get(b"want"))?,
            noseed: flag(args, b"noseed"),
        },
        b"announce_peer" => {
            let info_hash = req_hash(args, b"info_hash", "missing 'info_hash' key")?;
            let implied_port = flag(args, b"implied_port");
            let port = match args.get_int(b"port") {
                Some(p) if (0..=65535).contains(&p) => p as u16,
                Some(_) => return Err("invalid 'port'"),
                None if implied_port => 0,
                None => return Err("missing 'port' key"),
            };
            let token = args.get_bytes(b"token").ok_or("missing 'token' key")?;
            if token.len() > MAX_TOKEN {
                return Err("token too long");
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token: token.to_vec(),
                seed: flag(args, b"seed"),
            }
        }
        b"get" => Query::Get {
            target: req_hash(args, b"target", "missing 'target' key")?,
            seq: opt_int(args, b"seq", "invalid 'seq'")?,
            want: parse_want(args.get(b"want"))?,
        },
        b"put" => {
            let token = args.get_bytes(b"token").ok_or("missing 'token' key")?;
            if token.len() > MAX_TOKEN {
                return Err("token too long");
            }
            let v = args.get(b"v").ok_or("missing 'v' key")?;
            let value = v.raw();
            if value.len() > MAX_ITEM_VALUE {
                return Err("message too big");
            }
            let key = match opt_bytes(args, b"k", "invalid 'k'")? {
                None => None,
                Some(k) => Some(fixed::<32>(k).ok_or("invalid 'k'")?),
            };
            let sig = match opt_bytes(args, b"sig", "invalid 'sig'")? {
                None => None,
                Some(s) => Some(fixed::<64>(s).ok_or("invalid 'sig'")?),
            };
            let seq = opt_int(args, b"seq", "invalid 'seq'")?;
            let cas = opt_int(args, b"cas", "invalid 'cas'")?;
            let salt = opt_bytes(args, b"salt", "invalid 'salt'")?.unwrap_or(&[]);
            if salt.len() > MAX_SALT {
                return Err("salt too big");
            }
            if key.is_some() && (sig.is_none() || seq.is_none()) {
                return Err("missing 'sig' or 'seq' key");
            }
            if key.is_none()
                && (sig.is_some() || seq.is_some() || cas.is_some() || !salt.is_empty())
            {
                return Err("missing 'k' key");
            }
            Query::Put(PutArgs {
                token: token.to_vec(),
                value: value.to_vec(),
                key,
                sig,
                seq,
                cas,
                salt: salt.to_vec(),
            })
        }
        b"sample_infohashes" => Query::SampleInfohashes {
            target: req_hash(args, b"target", "missing 'target' key")?,
            want: parse_want(args.get(b"want"))?,
        },
        other => {
            if other.len() > 64 {
                return Err("method name too long");
            }
            let target = args
                .get_bytes(b"target")
                .or_else(|| args.get_bytes(b"info_hash"))
                .and_then(|b| Sha1Hash::from_slice(b).ok());
            Query::Unknown {
                method: other.to_vec(),
                target,
            }
        }
    })
}

fn parse_response(r: Node<'_, '_>) -> Result<Response, &'static str> {
    let mut out = Response::default();
    if let Some(n) = opt_bytes(r, b"nodes", "invalid 'nodes'")? {
        out.nodes = parse_compact_nodes(n, false)?;
    }
    if let Some(n) = opt_bytes(r, b"nodes6", "invalid 'nodes6'")? {
        out.nodes6 = parse_compact_nodes(n, true)?;
    }
    if let Some(t) = opt_bytes(r, b"token", "invalid 'token'")? {
        if t.len() > MAX_TOKEN {
            return Err("token too long");
        }
        out.token = Some(t.to_vec());
    }
    if let Some(values) = r.get(b"values") {
        if values.kind() != Kind::List {
            return Err("'values' is not a list");
        }
        if values.len() > MAX_VALUES {
            return Err("too many values");
        }
        for v in values.list_iter() {
            let b = v.as_bytes().ok_or("'values' item is not a string")?;
            // Entries of unknown length are skipped, as libtorrent does.
            if let Some(ep) = parse_compact_endpoint(b) {
                out.values.push(ep);
            }
        }
    }
    if let Some(v) = r.get(b"v") {
        if v.raw().len() > MAX_ITEM_VALUE {
            return Err("item value too big");
        }
        out.v = Some(v.raw().to_vec());
    }
    if let Some(k) = opt_bytes(r, b"k", "invalid 'k'")? {
        out.k = Some(fixed::<32>(k).ok_or("invalid 'k'")?);
    }
    if let Some(s) = opt_bytes(r, b"sig", "invalid 'sig'")? {
        out.sig = Some(fixed::<64>(s).ok_or("invalid 'sig'")?);
    }
    out.seq = opt_int(r, b"seq", "invalid 'seq'")?;
    if let Some(s) = opt_bytes(r, b"samples", "invalid 'samples'")? {
        if !s.len().is_multiple_of(20) {
            return Err("samples length not a multiple of 20");
        }
        if s.len() / 20 > MAX_SAMPLES {
            return Err("too many samples");
        }
        out.samples = Some(
            s.chunks_exact(20)
                .filter_map(|c| Sha1Hash::from_slice(c).ok())
                .collect(),
        );
    }
    out.num = opt_int(r, b"num", "invalid 'num'")?;
    out.interval = opt_int(r, b"interval", "invalid 'interval'")?;
    if let Some(p) = opt_int(r, b"p", "invalid 'p'")? {
        out.p = u16::try_from(p).ok();
    }
    Ok(out)
}

impl Message {
    /// Parses one datagram.
    pub fn parse(buf: &[u8]) -> Result<Message, ParseError> {
        let err = |reason, tid: Option<&[u8]>, is_query| ParseError {
            reason,
            tid: tid.map(|t| t.to_vec()),
            is_query,
        };
        if buf.len() > MAX_DATAGRAM {
            return Err(err("datagram too large", None, false));
        }
        let doc = lt_bencode::decode_with(buf, LIMITS)
            .map_err(|_| err("invalid bencoding", None, false))?;
        let root = doc.root();
        if root.kind() != Kind::Dict {
            return Err(err("message is not a dictionary", None, false));
        }
        let tid = root
            .get_bytes(b"t")
            .ok_or_else(|| err("missing 't' key", None, false))?;
        if tid.len() > MAX_TID {
            return Err(err("transaction id too long", None, false));
        }
        let y = root
            .get_bytes(b"y")
            .ok_or_else(|| err("missing 'y' key", Some(tid), false))?;
        let version = match root.get(b"v") {
            None => None,
            Some(v) => Some(
                v.as_bytes()
                    .filter(|b| b.len() <= 16)
                    .ok_or_else(|| err("invalid 'v'", Some(tid), y == b"q"))?
                    .to_vec(),
            ),
        };
        let ip = match root.get(b"ip") {
            None => None,
            Some(n) => Some(
                n.as_bytes()
                    .and_then(parse_compact_endpoint)
                    .ok_or_else(|| err("invalid 'ip'", Some(tid), y == b"q"))?,
            ),
        };
        let read_only = flag(root, b"ro");
        let body = match y {
            b"q" => {
                let e = |r| err(r, Some(tid), true);
                let method = root.get_bytes(b"q").ok_or_else(|| e("missing 'q' key"))?;
                let args = root.get_dict(b"a").ok_or_else(|| e("missing 'a' key"))?;
                let id = args.get_bytes(b"id").ok_or_else(|| e("missing 'id' key"))?;
                let id = NodeId::from_slice(id).map_err(|_| e("invalid node id"))?;
                let query = parse_query(method, args).map_err(e)?;
                Body::Query { id, query }
            }
            b"r" => {
                let e = |r| err(r, Some(tid), false);
                let r = root.get_dict(b"r").ok_or_else(|| e("missing 'r' key"))?;
                let id = r.get_bytes(b"id").ok_or_else(|| e("missing 'id' key"))?;
                let id = NodeId::from_slice(id).map_err(|_| e("invalid node id"))?;
                let response = Box::new(parse_response(r).map_err(e)?);
                Body::Response { id, response }
            }
            b"e" => {
                let e = |r| err(r, Some(tid), false);
                let l = root.get_list(b"e").ok_or_else(|| e("missing 'e' key"))?;
                let code = l
                    .list_at(0)
                    .and_then(|n| n.as_int())
                    .ok_or_else(|| e("invalid error code"))?;
                let message = l
                    .list_at(1)
                    .and_then(|n| n.as_bytes())
                    .filter(|m| m.len() <= 256)
                    .ok_or_else(|| e("invalid error message"))?;
                Body::Error {
                    code,
                    message: message.to_vec(),
                }
            }
            _ => return Err(err("unknown message type", Some(tid), false)),
        };
        Ok(Message {
            tid: tid.to_vec(),
            version,
            ip,
            read_only,
            body,
        })
    }

    /// Encodes the message as canonical bencode.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        match &self.body {
            Body::Query { id, query } => {
                e.bytes(b"a");
                encode_args(&mut e, id, query);
            }
            Body::Error { code, message } => {
                e.bytes(b"e").begin_list().int(*code).bytes(message).end();
            }
            Body::Response { .. } => {}
        }
        if let Some(ip) = &self.ip {
            e.bytes(b"ip").bytes(&compact_endpoint(ip));
        }
        if let Body::Query { query, .. } = &self.body {
            e.bytes(b"q").bytes(query.method());
        }
        if let Body::Response { id, response } = &self.body {
            e.bytes(b"r");
            encode_response(&mut e, id, response);
        }
        if self.read_only {
            e.bytes(b"ro").int(1);
        }
        e.bytes(b"t").bytes(&self.tid);
        if let Some(v) = &self.version {
            e.bytes(b"v").bytes(v);
        }
        let y: &[u8] = match self.body {
            Body::Query { .. } => b"q",
            Body::Response { .. } => b"r",
            Body::Error { .. } => b"e",
        };
        e.bytes(b"y").bytes(y);
        e.end();
        out
    }
}

fn encode_want(e: &mut Encoder<'_>, want: &Want) {
    if want.is_empty() {
        return;
    }
    e.bytes(b"want").begin_list();
    if want.n4 {
        e.bytes(b"n4");
    }
    if want.n6 {
        e.bytes(b"n6");
    }
    e.end();
}

fn encode_args(e: &mut Encoder<'_>, id: &NodeId, q: &Query) {
    e.begin_dict();
    match q {
        Query::Ping => {
            e.bytes(b"id").bytes(&id.0);
        }
        Query::FindNode { target, want } => {
            e.bytes(b"id").bytes(&id.0);
            e.bytes(b"target").bytes(&target.0);
            encode_want(e, want);
        }
        Query::GetPeers {
            info_hash,
            want,
            noseed,
        } => {
            e.bytes(b"id").bytes(&id.0);
            e.bytes(b"info_hash").bytes(&info_hash.0);
            if *noseed {
                e.bytes(b"noseed").int(1);
            }
            encode_want(e, want);
        }
        Query::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
            seed,
        } => {
            e.bytes(b"id").bytes(&id.0);
            if *implied_port {
                e.bytes(b"implied_port").int(1);
            }
            e.bytes(b"info_hash").bytes(&info_hash.0);
            e.bytes(b"port").int(*port as i64);
            if *seed {
                e.bytes(b"seed").int(1);
            }
            e.bytes(b"token").bytes(token);
        }
        Query::Get { target, seq, want } => {
            e.bytes(b"id").bytes(&id.0);
            if let Some(s) = seq {
                e.bytes(b"seq").int(*s);
            }
            e.bytes(b"target").bytes(&target.0);
            encode_want(e, want);
        }
        Query::Put(p) => {
            if let Some(c) = p.cas {
                e.bytes(b"cas").int(c);
            }
            e.bytes(b"id").bytes(&id.0);
            if let Some(k) = &p.key {
                e.bytes(b"k").bytes(k);
            }
            if !p.salt.is_empty() {
                e.bytes(b"salt").bytes(&p.salt);
            }
            if let Some(s) = p.seq {
                e.bytes(b"seq").int(s);
            }
            if let Some(s) = &p.sig {
                e.bytes(b"sig").bytes(s);
            }
            e.bytes(b"token").bytes(&p.token);
            e.bytes(b"v").raw(&p.value);
        }
        Query::SampleInfohashes { target, want } => {
            e.bytes(b"id").bytes(&id.0);
            e.bytes(b"target").bytes(&target.0);
            encode_want(e, want);
        }
        Query::Unknown { target, .. } => {
            e.bytes(b"id").bytes(&id.0);
            if let Some(t) = target {
                e.bytes(b"target").bytes(&t.0);
            }
        }
    }
    e.end();
}

fn encode_response(e: &mut Encoder<'_>, id: &NodeId, r: &Response) {
    e.begin_dict();
    e.bytes(b"id").bytes(&id.0);
    if let Some(i) = r.interval {
        e.bytes(b"interval").int(i);
    }
    if let Some(k) = &r.k {
        e.bytes(b"k").bytes(k);
    }
    if !r.nodes.is_empty() {
        let mut buf = Vec::with_capacity(r.nodes.len() * 26);
        write_compact_nodes(&mut buf, &r.nodes, false);
        e.bytes(b"nodes").bytes(&buf);
    }
    if !r.nodes6.is_empty() {
        let mut buf = Vec::with_capacity(r.nodes6.len() * 38);
        write_compact_nodes(&mut buf, &r.nodes6, true);
        e.bytes(b"nodes6").bytes(&buf);
    }
    if let Some(n) = r.num {
        e.bytes(b"num").int(n);
    }
    if let Some(p) = r.p {
        e.bytes(b"p").int(p as i64);
    }
    if let Some(s) = &r.samples {
        let mut buf = Vec::with_capacity(s.len() * 20);
        for h in s {
            buf.extend_from_slice(&h.0);
        }
        e.bytes(b"samples").bytes(&buf);
    }
    if let Some(s) = r.seq {
        e.bytes(b"seq").int(s);
    }
    if let Some(s) = &r.sig {
        e.bytes(b"sig").bytes(s);
    }
    if let Some(t) = &r.token {
        e.bytes(b"token").bytes(t);
    }
    if let Some(v) = &r.v {
        e.bytes(b"v").raw(v);
    }
    if !r.values.is_empty() {
        e.bytes(b"values").begin_list();
        for p in &r.values {
            e.bytes(&compact_endpoint(p));
        }
        e.end();
    }
    e.end();
}

#[cfg(test)]
#[path = "msg_tests.rs"]
mod tests;
