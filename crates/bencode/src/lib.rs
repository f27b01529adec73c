//! Bencode (BEP 3) decoding and encoding.
//!
//! API CONTRACT (other crates are written against these signatures; keep them):
//!
//! * [`decode`] / [`decode_with`] parse a buffer into a [`Document`]: a flat
//!   token index over the *borrowed* input, no copy of strings. Each token
//!   records its kind, its byte span in the input and the index of the next
//!   sibling, so lookups walk the index without allocating.
//! * [`Node`] is a cheap `Copy` cursor (document + token index) with typed
//!   accessors. `Node::raw()` returns the exact encoded bytes of a value
//!   (used to compute info-hashes over the `info` dictionary).
//! * [`Value`] is an owned tree for building output; [`encode`] writes it.
//!   [`Encoder`] writes bencode directly into a `Vec<u8>` without building
//!   a tree.
//! * Errors carry an [`ErrorKind`] and the byte offset where it was found.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

mod decode;
mod encode;

use decode::Token;

/// What went wrong while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ended in the middle of a value.
    UnexpectedEof,
    /// A byte that cannot start a value (`expected value (list, dict, int or string)`).
    ExpectedValue,
    /// A string length or integer contained a non-digit.
    ExpectedDigit,
    /// A string length was not followed by `:`.
    ExpectedColon,
    /// An integer or string length with a leading zero (`i03e`, `03:abc`).
    LeadingZero,
    /// `i-0e`.
    NegativeZero,
    /// An empty integer, `ie` or `i-e`.
    EmptyInteger,
    /// An integer that does not fit in `i64`, or a string length beyond the input.
    Overflow,
    /// A dictionary key that is not a byte string.
    ExpectedStringKey,
    /// Dictionary keys not in strictly ascending byte order (strict mode only).
    UnsortedKeys,
    /// The same key twice in one dictionary (strict mode only).
    DuplicateKey,
    /// Nesting deeper than [`Limits::max_depth`].
    DepthExceeded,
    /// More tokens than [`Limits::max_tokens`].
    TokenLimitExceeded,
    /// Bytes left over after the root value (only when `allow_trailing` is false).
    TrailingData,
}

impl ErrorKind {
    /// A short human-readable description.
    pub fn message(self) -> &'static str {
        match self {
            ErrorKind::UnexpectedEof => "unexpected end of input",
            ErrorKind::ExpectedValue => "expected value (list, dict, int or string)",
            ErrorKind::ExpectedDigit => "expected digit",
            ErrorKind::ExpectedColon => "expected colon after string length",
            ErrorKind::LeadingZero => "leading zero in integer or string length",
            ErrorKind::NegativeZero => "negative zero",
            ErrorKind::EmptyInteger => "empty integer",
            ErrorKind::Overflow => "integer overflow or string length beyond the input",
            ErrorKind::ExpectedStringKey => "dictionary key is not a string",
            ErrorKind::UnsortedKeys => "dictionary keys not sorted",
            ErrorKind::DuplicateKey => "duplicate dictionary key",
            ErrorKind::DepthExceeded => "nesting depth limit exceeded",
            ErrorKind::TokenLimitExceeded => "token limit exceeded",
            ErrorKind::TrailingData => "trailing data after the value",
        }
    }
}

/// A decoding error: its kind and the byte offset in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind.message(), self.offset)
    }
}

impl std::error::Error for Error {}

/// Bounds on what the decoder accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum nesting of lists and dictionaries.
    pub max_depth: usize,
    /// Maximum number of tokens (values plus dictionary keys).
    pub max_tokens: usize,
    /// Reject unsorted and duplicate dictionary keys.
    pub strict_key_order: bool,
    /// Accept bytes after the end of the root value (they are ignored).
    pub allow_trailing: bool,
}

impl Default for Limits {
    /// Depth 100, 2,000,000 tokens, lenient key order, no trailing data.
    fn default() -> Self {
        Limits {
            max_depth: 100,
            max_tokens: 2_000_000,
            strict_key_order: false,
            allow_trailing: false,
        }
    }
}

/// The kind of a bencoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bytes,
    List,
    Dict,
}

/// A decoded buffer: the input plus a flat token index over it.
pub struct Document<'a> {
    buf: &'a [u8],
    /// One token per value and per dictionary key, in input order.
    tokens: Vec<Token>,
    /// Bytes taken by the root value.
    consumed: usize,
    /// Where the last `list_at` ended, so that a loop over `list_at(i)` is
    /// linear (like libtorrent's cached lookup). Skipped when contended.
    list_cache: Mutex<ListCache>,
}

#[derive(Clone, Copy)]
struct ListCache {
    list: u32,
    index: u32,
    token: u32,
}

impl ListCache {
    const EMPTY: ListCache = ListCache {
        list: u32::MAX,
        index: 0,
        token: 0,
    };
}

impl<'a> Document<'a> {
    /// The root value.
    pub fn root(&self) -> Node<'_, 'a> {
        Node { doc: self, idx: 0 }
    }
    /// The whole input buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }
    /// Number of bytes the root value occupies (less than `buffer().len()`
    /// only when trailing data was allowed).
    pub fn consumed(&self) -> usize {
        self.consumed
    }
    /// Number of tokens in the index (values plus dictionary keys).
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }
    fn token(&self, idx: u32) -> Token {
        // Every index handed out by a `Node` comes from the index itself, so
        // this lookup always succeeds; the fallback only keeps it panic-free.
        self.tokens
            .get(idx as usize)
            .copied()
            .unwrap_or(Token::EMPTY)
    }
    fn slice(&self, start: u32, end: u32) -> &'a [u8] {
        self.buf.get(start as usize..end as usize).unwrap_or(&[])
    }
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("len", &self.buf.len())
            .field("tokens", &self.tokens.len())
            .field("consumed", &self.consumed)
            .finish()
    }
}

/// Decodes with [`Limits::default()`].
pub fn decode(buf: &[u8]) -> Result<Document<'_>, Error> {
    decode_with(buf, Limits::default())
}

/// Decodes with explicit limits.
///
/// The grammar is strict BEP 3: no leading zeros (`i03e`, `03:abc`), no
/// `i-0e`, integers within `i64`, string lengths within the input, only
/// byte strings as dictionary keys.
pub fn decode_with(buf: &[u8], limits: Limits) -> Result<Document<'_>, Error> {
    decode::parse::<false>(buf, limits)
}

/// Decodes the dialect libtorrent's own `bdecode()` accepts, reporting
/// errors the way it classifies them. Used where we must behave exactly like
/// libtorrent (the Python `bdecode`); engine code should use [`decode_with`].
///
/// Differences from [`decode_with`]:
/// * leading zeros and `i-0e` are accepted;
/// * an integer of up to 20 digits is accepted even when it does not fit in
///   `i64` ([`Node::as_int`] then returns `None`); more digits is
///   [`ErrorKind::Overflow`];
/// * only these kinds are reported: `ExpectedDigit` (also for a non-string
///   dictionary key and for a non-digit in a string length),
///   `ExpectedColon` (input ends inside a string length of two or more
///   digits), `UnexpectedEof` (also for a string longer than the rest of the
///   input and for a stray `e` at the top level), `ExpectedValue`,
///   `DepthExceeded`, `TokenLimitExceeded` and `Overflow` (a string length
///   beyond `i64`, an integer of more than 20 digits);
/// * `max_tokens` counts list and dictionary terminators too;
/// * the depth is checked before each step: with `max_depth` containers
///   open, any further byte is [`ErrorKind::DepthExceeded`] (so exactly
///   `max_depth` levels fail unless the input ends there);
/// * `strict_key_order` and `allow_trailing` apply as usual.
pub fn decode_compat(buf: &[u8], limits: Limits) -> Result<Document<'_>, Error> {
    decode::parse::<true>(buf, limits)
}

/// A cursor on one value of a [`Document`].
#[derive(Clone, Copy)]
pub struct Node<'d, 'a> {
    doc: &'d Document<'a>,
    idx: u32,
}

impl fmt::Debug for Node<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("kind", &self.kind())
            .field("offset", &self.offset())
            .field("len", &self.raw().len())
            .finish()
    }
}

impl<'d, 'a> Node<'d, 'a> {
    fn tok(&self) -> Token {
        self.doc.token(self.idx)
    }
    pub fn kind(&self) -> Kind {
        self.tok().kind()
    }
    /// The encoded bytes of this value, exactly as in the input.
    pub fn raw(&self) -> &'a [u8] {
        let t = self.tok();
        self.doc.slice(t.start, t.end)
    }
    /// Byte offset of this value in the input.
    pub fn offset(&self) -> usize {
        self.tok().start as usize
    }
    pub fn as_int(&self) -> Option<i64> {
        let t = self.tok();
        if t.kind() != Kind::Int {
            return None;
        }
        // Skip the `i` and the `e`.
        let raw = self.doc.slice(t.start, t.end);
        decode::int_value(raw.get(1..raw.len().saturating_sub(1))?)
    }
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        let t = self.tok();
        if t.kind() != Kind::Bytes {
            return None;
        }
        Some(self.doc.slice(t.start + t.payload(), t.end))
    }
    /// The byte string when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }
    /// Number of items of a list or entries of a dictionary; 0 otherwise.
    pub fn len(&self) -> usize {
        let t = self.tok();
        match t.kind() {
            Kind::List | Kind::Dict => t.payload() as usize,
            _ => 0,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Items of a list (empty iterator for other kinds).
    pub fn list_iter(&self) -> impl Iterator<Item = Node<'d, 'a>> + 'd {
        let t = self.tok();
        let remaining = if t.kind() == Kind::List {
            t.payload()
        } else {
            0
        };
        ListIter {
            doc: self.doc,
            next: self.idx + 1,
            remaining,
        }
    }
    /// Item `i` of a list. Constant time when the list holds only integers
    /// and strings; otherwise it walks from the previous `list_at` position
    /// (or the start), so ascending loops over `list_at(i)` stay linear.
    pub fn list_at(&self, i: usize) -> Option<Node<'d, 'a>> {
        let t = self.tok();
        if t.kind() != Kind::List || i >= t.payload() as usize {
            return None;
        }
        let i = i as u32;
        // Every item a single token: item `i` is token `idx + 1 + i`.
        if t.next - self.idx - 1 == t.payload() {
            return Some(Node {
                doc: self.doc,
                idx: self.idx + 1 + i,
            });
        }
        let cached = self
            .doc
            .list_cache
            .try_lock()
            .map(|c| *c)
            .unwrap_or(ListCache::EMPTY);
        let (mut at, mut tok) = if cached.list == self.idx && cached.index <= i {
            (cached.index, cached.token)
        } else {
            (0, self.idx + 1)
        };
        while at < i {
            tok = self.doc.token(tok).next;
            at += 1;
        }
        if let Ok(mut c) = self.doc.list_cache.try_lock() {
            *c = ListCache {
                list: self.idx,
                index: i,
                token: tok,
            };
        }
        Some(Node {
            doc: self.doc,
            idx: tok,
        })
    }
    /// `(key, value)` entries of a dictionary in input order (empty for other kinds).
    pub fn dict_iter(&self) -> impl Iterator<Item = (&'a [u8], Node<'d, 'a>)> + 'd {
        let t = self.tok();
        let remaining = if t.kind() == Kind::Dict {
            t.payload()
        } else {
            0
        };
        DictIter {
            doc: self.doc,
            next: self.idx + 1,
            remaining,
        }
    }
    /// Looks a key up in a dictionary (the first match in input order).
    pub fn get(&self, key: &[u8]) -> Option<Node<'d, 'a>> {
        self.dict_iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    /// `get(key)` then `as_int()`.
    pub fn get_int(&self, key: &[u8]) -> Option<i64> {
        self.get(key)?.as_int()
    }
    /// `get(key)` then `as_bytes()`.
    pub fn get_bytes(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.get(key)?.as_bytes()
    }
    /// `get(key)` then `as_str()`.
    pub fn get_str(&self, key: &[u8]) -> Option<&'a str> {
        self.get(key)?.as_str()
    }
    /// `get(key)` if it is a dictionary.
    pub fn get_dict(&self, key: &[u8]) -> Option<Node<'d, 'a>> {
        self.get(key).filter(|n| n.kind() == Kind::Dict)
    }
    /// `get(key)` if it is a list.
    pub fn get_list(&self, key: &[u8]) -> Option<Node<'d, 'a>> {
        self.get(key).filter(|n| n.kind() == Kind::List)
    }
    /// Copies this value into an owned [`Value`].
    ///
    /// Recurses once per nesting level, so the depth is bounded by the
    /// `max_depth` the document was decoded with. For a duplicate key the
    /// first entry wins (as [`Node::get`]). An integer that does not fit in
    /// `i64` (possible only with [`decode_compat`]) becomes 0.
    pub fn to_value(&self) -> Value {
        match self.kind() {
            Kind::Int => Value::Int(self.as_int().unwrap_or(0)),
            Kind::Bytes => Value::Bytes(self.as_bytes().unwrap_or(&[]).to_vec()),
            Kind::List => Value::List(self.list_iter().map(|n| n.to_value()).collect()),
            Kind::Dict => {
                let mut map = BTreeMap::new();
                for (k, v) in self.dict_iter() {
                    map.entry(k.to_vec()).or_insert_with(|| v.to_value());
                }
                Value::Dict(map)
            }
        }
    }
}

/// Iterator over the items of a list node.
struct ListIter<'d, 'a> {
    doc: &'d Document<'a>,
    next: u32,
    remaining: u32,
}

impl<'d, 'a> Iterator for ListIter<'d, 'a> {
    type Item = Node<'d, 'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let idx = self.next;
        self.next = self.doc.token(idx).next;
        Some(Node { doc: self.doc, idx })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

/// Iterator over the entries of a dictionary node.
struct DictIter<'d, 'a> {
    doc: &'d Document<'a>,
    next: u32,
    remaining: u32,
}

impl<'d, 'a> Iterator for DictIter<'d, 'a> {
    type Item = (&'a [u8], Node<'d, 'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let key_idx = self.next;
        let key = self.doc.token(key_idx);
        // A key is always a byte string, so its value is the next token.
        let value_idx = key_idx + 1;
        self.next = self.doc.token(value_idx).next;
        Some((
            self.doc.slice(key.start + key.payload(), key.end),
            Node {
                doc: self.doc,
                idx: value_idx,
            },
        ))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

/// An owned bencode value. Dictionaries are kept sorted by key, so
/// encoding a `Value` always gives canonical bencode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    /// Encodes into a new buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut e = Encoder::new(out);
        match self {
            Value::Int(v) => {
                e.int(*v);
            }
            Value::Bytes(b) => {
                e.bytes(b);
            }
            Value::List(items) => {
                e.begin_list();
                for item in items {
                    item.encode_into(e.out);
                }
                e.end();
            }
            Value::Dict(map) => {
                e.begin_dict();
                for (k, v) in map {
                    e.bytes(k);
                    v.encode_into(e.out);
                }
                e.end();
            }
        }
    }
}

/// Encodes a value.
pub fn encode(v: &Value) -> Vec<u8> {
    v.encode()
}

/// Writes bencode straight into a buffer. The caller is responsible for
/// writing dictionary keys in sorted order.
pub struct Encoder<'o> {
    pub out: &'o mut Vec<u8>,
}

impl<'o> Encoder<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Encoder { out }
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.out.push(b'i');
        encode::write_decimal(self.out, v);
        self.out.push(b'e');
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        encode::write_decimal(self.out, b.len() as i64);
        self.out.push(b':');
        self.out.extend_from_slice(b);
        self
    }
    pub fn begin_list(&mut self) -> &mut Self {
        self.out.push(b'l');
        self
    }
    pub fn begin_dict(&mut self) -> &mut Self {
        self.out.push(b'd');
        self
    }
    pub fn end(&mut self) -> &mut Self {
        self.out.push(b'e');
        self
    }
    /// Appends already-encoded bencode verbatim.
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.out.extend_from_slice(encoded);
        self
    }
}

#[cfg(test)]
mod tests;
