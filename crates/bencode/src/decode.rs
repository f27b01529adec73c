//! The decoder: one pass over the input that builds a flat token index.
//!
//! There is no recursion: open lists and dictionaries live on an explicit
//! stack whose length is bounded by `Limits::max_depth`, and the token vector
//! grows with the number of values actually present in the input (it is
//! never sized from a length the input claims).

use std::sync::Mutex;

use crate::{Document, Error, ErrorKind, Kind, Limits, ListCache};

const KIND_INT: u32 = 0;
const KIND_BYTES: u32 = 1;
const KIND_LIST: u32 = 2;
const KIND_DICT: u32 = 3;

/// Payloads (item counts, header lengths) live in the upper 30 bits of `meta`.
const MAX_PAYLOAD: usize = (1 << 30) - 1;

/// One value (or dictionary key) of the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    /// Offset of the value's first byte.
    pub start: u32,
    /// Offset one past the value's last byte.
    pub end: u32,
    /// Index of the token following this value and all its descendants,
    /// i.e. its next sibling when it has one.
    pub next: u32,
    /// Kind in the low two bits; the upper bits hold the length of the
    /// `<len>:` header for a byte string and the number of items (list) or
    /// entries (dictionary) for a container.
    meta: u32,
}

impl Token {
    /// An empty byte string; only used as a panic-free fallback.
    pub const EMPTY: Token = Token {
        start: 0,
        end: 0,
        next: 0,
        meta: KIND_BYTES,
    };

    #[inline]
    pub fn kind(self) -> Kind {
        match self.meta & 3 {
            KIND_INT => Kind::Int,
            KIND_BYTES => Kind::Bytes,
            KIND_LIST => Kind::List,
            _ => Kind::Dict,
        }
    }

    #[inline]
    pub fn payload(self) -> u32 {
        self.meta >> 2
    }
}

/// An open list or dictionary.
struct Frame {
    /// Its token index.
    tok: u32,
    /// Items (list) or complete entries (dictionary) so far.
    count: u32,
    dict: bool,
    /// For a dictionary: the next value is a key.
    expect_key: bool,
    /// For a dictionary: token index of the previous key (`u32::MAX` if none).
    last_key: u32,
}

#[inline]
fn err(kind: ErrorKind, offset: usize) -> Error {
    Error { kind, offset }
}

/// Parses `buf`. `COMPAT` selects libtorrent's dialect and error
/// classification (see `decode_compat`).
pub(crate) fn parse<const COMPAT: bool>(buf: &[u8], limits: Limits) -> Result<Document<'_>, Error> {
    let len = buf.len();
    // Offsets are stored as u32.
    if len >= u32::MAX as usize {
        return Err(err(ErrorKind::TokenLimitExceeded, 0));
    }
    let max_tokens = limits.max_tokens.min(MAX_PAYLOAD);
    // A cheap estimate: real torrents average well over 6 bytes per token.
    // Bounded by the input size, never by anything the input claims.
    let mut tokens: Vec<Token> = Vec::with_capacity((len / 6 + 2).min(max_tokens));
    let mut stack: Vec<Frame> = Vec::new();
    let mut pos = 0usize;
    // libtorrent counts every step of its loop, terminators included.
    let mut steps = 0usize;

    loop {
        let Some(&b) = buf.get(pos) else {
            return Err(err(ErrorKind::UnexpectedEof, pos));
        };
        if COMPAT {
            // libtorrent checks the depth at the start of every step, so
            // `max_depth` open containers fail only when more input follows.
            if stack.len() >= limits.max_depth {
                return Err(err(ErrorKind::DepthExceeded, pos));
            }
            steps += 1;
            if steps > max_tokens {
                return Err(err(ErrorKind::TokenLimitExceeded, pos));
            }
        }

        if b == b'e' {
            let Some(frame) = stack.pop() else {
                return Err(err(
                    if COMPAT {
                        ErrorKind::UnexpectedEof
                    } else {
                        ErrorKind::ExpectedValue
                    },
                    pos,
                ));
            };
            if frame.dict && !frame.expect_key {
                return Err(err(ErrorKind::ExpectedValue, pos));
            }
            let next = tokens.len() as u32;
            if let Some(t) = tokens.get_mut(frame.tok as usize) {
                t.end = (pos + 1) as u32;
                t.next = next;
                t.meta |= frame.count << 2;
            }
            pos += 1;
            if stack.is_empty() {
                break;
            }
            // A container is never a key (keys are checked below), so this
            // completes a list item or a dictionary value.
            complete(&mut stack, &tokens, buf, frame.tok, limits.strict_key_order)?;
            continue;
        }

        if let Some(f) = stack.last() {
            if f.dict && f.expect_key && !b.is_ascii_digit() {
                return Err(err(
                    if COMPAT {
                        ErrorKind::ExpectedDigit
                    } else {
                        ErrorKind::ExpectedStringKey
                    },
                    pos,
                ));
            }
        }
        if !COMPAT && tokens.len() >= max_tokens {
            return Err(err(ErrorKind::TokenLimitExceeded, pos));
        }
        let idx = tokens.len() as u32;
        match b {
            b'i' => {
                let end = if COMPAT {
                    scan_int_compat(buf, pos)?
                } else {
                    scan_int_strict(buf, pos)?
                };
                tokens.push(Token {
                    start: pos as u32,
                    end: end as u32,
                    next: idx + 1,
                    meta: KIND_INT,
                });
                pos = end;
            }
            b'l' | b'd' => {
                if !COMPAT && stack.len() >= limits.max_depth {
                    return Err(err(ErrorKind::DepthExceeded, pos));
                }
                let dict = b == b'd';
                tokens.push(Token {
                    start: pos as u32,
                    end: 0,
                    next: 0,
                    meta: if dict { KIND_DICT } else { KIND_LIST },
                });
                stack.push(Frame {
                    tok: idx,
                    count: 0,
                    dict,
                    expect_key: true,
                    last_key: u32::MAX,
                });
                pos += 1;
                continue;
            }
            b'0'..=b'9' => {
                let (header, end) = if COMPAT {
                    scan_str_compat(buf, pos)?
                } else {
                    scan_str_strict(buf, pos)?
                };
                tokens.push(Token {
                    start: pos as u32,
                    end: end as u32,
                    next: idx + 1,
                    meta: KIND_BYTES | ((header as u32) << 2),
                });
                pos = end;
            }
            _ => return Err(err(ErrorKind::ExpectedValue, pos)),
        }
        if stack.is_empty() {
            break;
        }
        complete(&mut stack, &tokens, buf, idx, limits.strict_key_order)?;
    }

    if !limits.allow_trailing && pos < len {
        return Err(err(ErrorKind::TrailingData, pos));
    }
    Ok(Document {
        buf,
        tokens,
        consumed: pos,
        list_cache: Mutex::new(ListCache::EMPTY),
    })
}

/// Records that the value at token `idx` is complete inside the innermost
/// open container.
#[inline]
fn complete(
    stack: &mut [Frame],
    tokens: &[Token],
    buf: &[u8],
    idx: u32,
    strict_key_order: bool,
) -> Result<(), Error> {
    let Some(frame) = stack.last_mut() else {
        return Ok(());
    };
    if !frame.dict {
        frame.count += 1;
        return Ok(());
    }
    if !frame.expect_key {
        frame.count += 1;
        frame.expect_key = true;
        return Ok(());
    }
    if strict_key_order && frame.last_key != u32::MAX {
        let key = key_bytes(tokens, buf, idx);
        let prev = key_bytes(tokens, buf, frame.last_key);
        match prev.cmp(key) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => {
                return Err(err(ErrorKind::DuplicateKey, start_of(tokens, idx)))
            }
            std::cmp::Ordering::Greater => {
                return Err(err(ErrorKind::UnsortedKeys, start_of(tokens, idx)))
            }
        }
    }
    frame.last_key = idx;
    frame.expect_key = false;
    Ok(())
}

fn start_of(tokens: &[Token], idx: u32) -> usize {
    tokens.get(idx as usize).map_or(0, |t| t.start as usize)
}

fn key_bytes<'a>(tokens: &[Token], buf: &'a [u8], idx: u32) -> &'a [u8] {
    let t = tokens.get(idx as usize).copied().unwrap_or(Token::EMPTY);
    buf.get((t.start + t.payload()) as usize..t.end as usize)
        .unwrap_or(&[])
}

/// Strict integer: `i`, optional `-`, digits without a leading zero, `e`,
/// within `i64`, not `-0`. Returns the offset after the `e`.
fn scan_int_strict(buf: &[u8], p: usize) -> Result<usize, Error> {
    let mut q = p + 1;
    let neg = buf.get(q) == Some(&b'-');
    if neg {
        q += 1;
    }
    let first = q;
    let limit: u64 = if neg {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    let mut mag: u64 = 0;
    loop {
        match buf.get(q) {
            None => return Err(err(ErrorKind::UnexpectedEof, q)),
            Some(b'e') => {
                if q == first {
                    return Err(err(ErrorKind::EmptyInteger, q));
                }
                break;
            }
            Some(&d) if d.is_ascii_digit() => {
                if q > first && mag == 0 {
                    return Err(err(ErrorKind::LeadingZero, first));
                }
                mag = mag
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(d - b'0')))
                    .filter(|m| *m <= limit)
                    .ok_or(err(ErrorKind::Overflow, q))?;
            }
            Some(_) => return Err(err(ErrorKind::ExpectedDigit, q)),
        }
        q += 1;
    }
    if neg && mag == 0 {
        return Err(err(ErrorKind::NegativeZero, p + 1));
    }
    Ok(q + 1)
}

/// libtorrent's integer check: optional `-`, then one or more digits up to
/// `e`; more than 20 digits is an overflow (whatever else went wrong).
fn scan_int_compat(buf: &[u8], p: usize) -> Result<usize, Error> {
    let len = buf.len();
    let mut q = p + 1;
    if q >= len {
        return Err(err(ErrorKind::UnexpectedEof, q));
    }
    if buf.get(q) == Some(&b'-') {
        q += 1;
        if q >= len {
            return Err(err(ErrorKind::UnexpectedEof, q));
        }
    }
    let mut digits = 0usize;
    let mut fault = None;
    loop {
        match buf.get(q) {
            Some(d) if d.is_ascii_digit() => {}
            _ => {
                fault = Some(ErrorKind::ExpectedDigit);
                break;
            }
        }
        q += 1;
        digits += 1;
        match buf.get(q) {
            None => {
                fault = Some(ErrorKind::UnexpectedEof);
                break;
            }
            Some(b'e') => break,
            Some(_) => {}
        }
    }
    if digits > 20 {
        fault = Some(ErrorKind::Overflow);
    }
    match fault {
        Some(kind) => Err(err(kind, q)),
        None => Ok(q + 1),
    }
}

/// Strict byte string: `<len>:<bytes>` with no leading zero in `len` and
/// `len` within the input. Returns (header length, offset after the data).
fn scan_str_strict(buf: &[u8], p: usize) -> Result<(usize, usize), Error> {
    let len = buf.len();
    let mut q = p;
    let mut n: u64 = 0;
    loop {
        match buf.get(q) {
            None => return Err(err(ErrorKind::UnexpectedEof, q)),
            Some(b':') => break,
            Some(&d) if d.is_ascii_digit() => {
                if q > p && n == 0 {
                    return Err(err(ErrorKind::LeadingZero, p));
                }
                // `n` stays below 10 * len + 10, far from u64 overflow.
                n = n * 10 + u64::from(d - b'0');
                if n > len as u64 {
                    return Err(err(ErrorKind::Overflow, p));
                }
            }
            Some(_) => return Err(err(ErrorKind::ExpectedColon, q)),
        }
        q += 1;
    }
    let data = q + 1;
    if n > (len - data) as u64 {
        return Err(err(ErrorKind::Overflow, p));
    }
    Ok((data - p, data + n as usize))
}

/// libtorrent's string header: a digit, then digits up to `:` with overflow
/// checks against `i64`; then the data must fit in the input.
fn scan_str_compat(buf: &[u8], p: usize) -> Result<(usize, usize), Error> {
    let len = buf.len();
    let mut n: i64 = buf.get(p).map_or(0, |d| i64::from(d.wrapping_sub(b'0')));
    let mut q = p + 1;
    if q >= len {
        return Err(err(ErrorKind::UnexpectedEof, q));
    }
    while let Some(&c) = buf.get(q) {
        if c == b':' {
            break;
        }
        if !c.is_ascii_digit() {
            return Err(err(ErrorKind::ExpectedDigit, q));
        }
        n = n
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(c - b'0')))
            .ok_or(err(ErrorKind::Overflow, q))?;
        q += 1;
    }
    if q >= len {
        return Err(err(ErrorKind::ExpectedColon, q));
    }
    let data = q + 1;
    if n as u64 > (len - data) as u64 {
        return Err(err(ErrorKind::UnexpectedEof, q));
    }
    Ok((data - p, data + n as usize))
}

/// The value of an integer body (between `i` and `e`): optional `-` and
/// digits. `None` when it does not fit in `i64` or is malformed.
pub(crate) fn int_value(body: &[u8]) -> Option<i64> {
    let (neg, digits) = match body.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, body),
    };
    if digits.is_empty() {
        return None;
    }
    let mut mag: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        mag = mag.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if mag <= i64::MIN.unsigned_abs() {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}
