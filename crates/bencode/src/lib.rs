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
        todo!()
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
    // implementation-defined token index
}

impl<'a> Document<'a> {
    /// The root value.
    pub fn root(&self) -> Node<'_, 'a> {
        todo!()
    }
    /// The whole input buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }
    /// Number of bytes the root value occupies (less than `buffer().len()`
    /// only when trailing data was allowed).
    pub fn consumed(&self) -> usize {
        todo!()
    }
}

/// Decodes with [`Limits::default()`].
pub fn decode(buf: &[u8]) -> Result<Document<'_>, Error> {
    decode_with(buf, Limits::default())
}

/// Decodes with explicit limits.
pub fn decode_with(buf: &[u8], limits: Limits) -> Result<Document<'_>, Error> {
    let _ = (buf, limits);
    todo!()
}

/// A cursor on one value of a [`Document`].
#[derive(Clone, Copy)]
pub struct Node<'d, 'a> {
    doc: &'d Document<'a>,
    idx: u32,
}

impl<'d, 'a> Node<'d, 'a> {
    pub fn kind(&self) -> Kind {
        let _ = (self.doc, self.idx);
        todo!()
    }
    /// The encoded bytes of this value, exactly as in the input.
    pub fn raw(&self) -> &'a [u8] {
        todo!()
    }
    /// Byte offset of this value in the input.
    pub fn offset(&self) -> usize {
        todo!()
    }
    pub fn as_int(&self) -> Option<i64> {
        todo!()
    }
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        todo!()
    }
    /// The byte string when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        todo!()
    }
    /// Number of items of a list or entries of a dictionary; 0 otherwise.
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Items of a list (empty iterator for other kinds).
    pub fn list_iter(&self) -> impl Iterator<Item = Node<'d, 'a>> + 'd {
        std::iter::empty()
    }
    /// Item `i` of a list.
    pub fn list_at(&self, i: usize) -> Option<Node<'d, 'a>> {
        let _ = i;
        todo!()
    }
    /// `(key, value)` entries of a dictionary in input order (empty for other kinds).
    pub fn dict_iter(&self) -> impl Iterator<Item = (&'a [u8], Node<'d, 'a>)> + 'd {
        std::iter::empty()
    }
    /// Looks a key up in a dictionary (the first match in input order).
    pub fn get(&self, key: &[u8]) -> Option<Node<'d, 'a>> {
        let _ = key;
        todo!()
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
    pub fn to_value(&self) -> Value {
        todo!()
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
        let _ = out;
        todo!()
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
        let _ = v;
        todo!()
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        let _ = b;
        todo!()
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
