use super::*;

fn strict() -> Limits {
    Limits {
        strict_key_order: true,
        ..Limits::default()
    }
}

fn fails(input: &[u8], kind: ErrorKind, offset: usize) {
    match decode(input) {
        Ok(_) => panic!(
            "{:?} decoded, expected {kind:?}",
            String::from_utf8_lossy(input)
        ),
        Err(e) => assert_eq!(
            e,
            Error { kind, offset },
            "input {:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

fn fails_with(input: &[u8], limits: Limits, kind: ErrorKind, offset: usize) {
    match decode_with(input, limits) {
        Ok(_) => panic!(
            "{:?} decoded, expected {kind:?}",
            String::from_utf8_lossy(input)
        ),
        Err(e) => assert_eq!(
            e,
            Error { kind, offset },
            "input {:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

fn fails_compat(input: &[u8], kind: ErrorKind) {
    let limits = Limits {
        allow_trailing: true,
        ..Limits::default()
    };
    match decode_compat(input, limits) {
        Ok(_) => panic!(
            "{:?} decoded, expected {kind:?}",
            String::from_utf8_lossy(input)
        ),
        Err(e) => assert_eq!(e.kind, kind, "input {:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn error_unexpected_eof() {
    fails(b"", ErrorKind::UnexpectedEof, 0);
    fails(b"i", ErrorKind::UnexpectedEof, 1);
    fails(b"i12", ErrorKind::UnexpectedEof, 3);
    fails(b"i-", ErrorKind::UnexpectedEof, 2);
    fails(b"l", ErrorKind::UnexpectedEof, 1);
    fails(b"li1e", ErrorKind::UnexpectedEof, 4);
    fails(b"d1:a", ErrorKind::UnexpectedEof, 4);
    fails(b"d1:ai1e", ErrorKind::UnexpectedEof, 7);
    fails(b"1", ErrorKind::UnexpectedEof, 1);
    fails(b"2:", ErrorKind::Overflow, 0);
}

#[test]
fn error_expected_value() {
    fails(b"x", ErrorKind::ExpectedValue, 0);
    fails(b"e", ErrorKind::ExpectedValue, 0);
    fails(b"-1:a", ErrorKind::ExpectedValue, 0);
    fails(b"li1exe", ErrorKind::ExpectedValue, 4);
    fails(b"d1:ae", ErrorKind::ExpectedValue, 4);
    fails(b"d1:a:e", ErrorKind::ExpectedValue, 4);
}

#[test]
fn error_expected_digit() {
    fails(b"i12a3e", ErrorKind::ExpectedDigit, 3);
    fails(b"i1-2e", ErrorKind::ExpectedDigit, 2);
    fails(b"i--1e", ErrorKind::ExpectedDigit, 2);
    fails(b"i+1e", ErrorKind::ExpectedDigit, 1);
    fails(b"i 1e", ErrorKind::ExpectedDigit, 1);
    fails(b"li1ei2xe", ErrorKind::ExpectedDigit, 6);
}

#[test]
fn error_expected_colon() {
    fails(b"3abc", ErrorKind::ExpectedColon, 1);
    fails(b"1x", ErrorKind::ExpectedColon, 1);
    fails(b"1x:aaaaaaaaa", ErrorKind::ExpectedColon, 1);
    fails(b"10-aaaaaaaaaaaaaa", ErrorKind::ExpectedColon, 2);
    fails(b"l1-ae", ErrorKind::ExpectedColon, 2);
}

#[test]
fn error_leading_zero() {
    fails(b"i03e", ErrorKind::LeadingZero, 1);
    fails(b"i00e", ErrorKind::LeadingZero, 1);
    fails(b"i-01e", ErrorKind::LeadingZero, 2);
    fails(b"03:abc", ErrorKind::LeadingZero, 0);
    fails(b"00:", ErrorKind::LeadingZero, 0);
    fails(b"li1e01:ae", ErrorKind::LeadingZero, 4);
    // A lone zero is fine.
    assert_eq!(decode(b"i0e").unwrap().root().as_int(), Some(0));
    assert_eq!(decode(b"0:").unwrap().root().as_bytes(), Some(&b""[..]));
}

#[test]
fn error_negative_zero() {
    fails(b"i-0e", ErrorKind::NegativeZero, 1);
    fails(b"li-0ee", ErrorKind::NegativeZero, 2);
}

#[test]
fn error_empty_integer() {
    fails(b"ie", ErrorKind::EmptyInteger, 1);
    fails(b"i-e", ErrorKind::EmptyInteger, 2);
    fails(b"d1:aiee", ErrorKind::EmptyInteger, 5);
}

#[test]
fn error_overflow() {
    fails(b"i9223372036854775808e", ErrorKind::Overflow, 19);
    fails(b"i-9223372036854775809e", ErrorKind::Overflow, 20);
    fails(b"i99999999999999999999999999e", ErrorKind::Overflow, 19);
    fails(b"5:abc", ErrorKind::Overflow, 0);
    fails(b"l5:abce", ErrorKind::Overflow, 1);
    // A length already larger than the whole input fails before its colon.
    fails(b"12x", ErrorKind::Overflow, 0);
    // A claimed length far beyond the input stops at once.
    fails(b"99999999999999999999999999999:a", ErrorKind::Overflow, 0);
    let max = decode(b"i9223372036854775807e").unwrap();
    assert_eq!(max.root().as_int(), Some(i64::MAX));
    let min = decode(b"i-9223372036854775808e").unwrap();
    assert_eq!(min.root().as_int(), Some(i64::MIN));
}

#[test]
fn error_expected_string_key() {
    fails(b"di1ei2ee", ErrorKind::ExpectedStringKey, 1);
    fails(b"dlei1ee", ErrorKind::ExpectedStringKey, 1);
    fails(b"d1:ai1edee", ErrorKind::ExpectedStringKey, 7);
}

#[test]
fn error_unsorted_and_duplicate_keys() {
    fails_with(b"d1:bi1e1:ai2ee", strict(), ErrorKind::UnsortedKeys, 7);
    fails_with(b"d2:abi1e1:ai2ee", strict(), ErrorKind::UnsortedKeys, 8);
    fails_with(b"d1:ai1e1:ai2ee", strict(), ErrorKind::DuplicateKey, 7);
    fails_with(b"ld1:ai1e1:ai2eee", strict(), ErrorKind::DuplicateKey, 8);
    // Inner dictionaries keep their own order.
    let ok = b"d1:ad1:zi1e1:bi2ee1:bi3ee";
    fails_with(ok, strict(), ErrorKind::UnsortedKeys, 11);
    let sorted = b"d1:ad1:bi2e1:zi1ee1:bi3ee";
    assert!(decode_with(sorted, strict()).is_ok());
    // Lenient mode accepts both; lookups give the first match.
    let doc = decode(b"d1:bi1e1:ai2e1:ai3ee").unwrap();
    assert_eq!(doc.root().get_int(b"a"), Some(2));
    assert_eq!(doc.root().len(), 3);
}

#[test]
fn error_depth_exceeded() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(decode_with(b"llleee", limits).is_ok());
    fails_with(b"lllleeee", limits, ErrorKind::DepthExceeded, 3);
    fails_with(
        b"d1:ad1:ad1:ad1:ai1eeeee",
        limits,
        ErrorKind::DepthExceeded,
        12,
    );
    // Default depth is 100.
    let deep = |n: usize| [vec![b'l'; n], vec![b'e'; n]].concat();
    assert!(decode(&deep(100)).is_ok());
    fails(&deep(101), ErrorKind::DepthExceeded, 100);
    // A hostile input a million levels deep is rejected without recursion.
    fails(&deep(1_000_000), ErrorKind::DepthExceeded, 100);
}

#[test]
fn error_token_limit() {
    let limits = Limits {
        max_tokens: 3,
        ..Limits::default()
    };
    assert!(decode_with(b"li1ei2ee", limits).is_ok());
    fails_with(b"li1ei2ei3ee", limits, ErrorKind::TokenLimitExceeded, 7);
    // Keys count as tokens.
    fails_with(b"d1:ai1e1:bi2ee", limits, ErrorKind::TokenLimitExceeded, 7);
}

#[test]
fn error_trailing_data() {
    fails(b"i1ex", ErrorKind::TrailingData, 3);
    fails(b"i1ee", ErrorKind::TrailingData, 3);
    fails(b"lei1e", ErrorKind::TrailingData, 2);
    let limits = Limits {
        allow_trailing: true,
        ..Limits::default()
    };
    let doc = decode_with(b"d1:ai1eexyz", limits).unwrap();
    assert_eq!(doc.consumed(), 8);
    assert_eq!(doc.buffer().len(), 11);
    assert_eq!(doc.root().get_int(b"a"), Some(1));
}

#[test]
fn error_display() {
    let e = decode(b"i03e").unwrap_err();
    assert_eq!(
        e.to_string(),
        "leading zero in integer or string length at offset 1"
    );
}

#[test]
fn compat_dialect_matches_libtorrent() {
    let limits = Limits {
        allow_trailing: true,
        ..Limits::default()
    };
    let v = |b: &[u8]| decode_compat(b, limits).unwrap().root().to_value();
    assert_eq!(v(b"i03e"), Value::Int(3));
    assert_eq!(v(b"i-0e"), Value::Int(0));
    assert_eq!(v(b"03:abc"), Value::Bytes(b"abc".to_vec()));
    assert_eq!(v(b"i1ex"), Value::Int(1));
    // 20 digits: accepted, the value does not fit.
    let big = decode_compat(b"i99999999999999999999e", limits).unwrap();
    assert_eq!(big.root().as_int(), None);
    assert_eq!(big.root().kind(), Kind::Int);
    fails_compat(b"i999999999999999999999e", ErrorKind::Overflow);
    fails_compat(b"i999999999999999999999x", ErrorKind::Overflow);
    fails_compat(b"", ErrorKind::UnexpectedEof);
    fails_compat(b"e", ErrorKind::UnexpectedEof);
    fails_compat(b"1", ErrorKind::UnexpectedEof);
    fails_compat(b"12", ErrorKind::ExpectedColon);
    fails_compat(b"3abc", ErrorKind::ExpectedDigit);
    fails_compat(b"5:abc", ErrorKind::UnexpectedEof);
    fails_compat(b"9223372036854775808:a", ErrorKind::Overflow);
    fails_compat(b"9223372036854775807:a", ErrorKind::UnexpectedEof);
    fails_compat(b"ie", ErrorKind::ExpectedDigit);
    fails_compat(b"i-e", ErrorKind::ExpectedDigit);
    fails_compat(b"i-", ErrorKind::UnexpectedEof);
    fails_compat(b"di1ei2ee", ErrorKind::ExpectedDigit);
    fails_compat(b"d1:ae", ErrorKind::ExpectedValue);
    fails_compat(b"garbage", ErrorKind::ExpectedValue);
    // The depth check runs before each step.
    let deep = |n: usize| [vec![b'l'; n], vec![b'e'; n]].concat();
    assert!(decode_compat(&deep(99), limits).is_ok());
    fails_compat(&deep(100), ErrorKind::DepthExceeded);
    fails_compat(&[b'l'; 100], ErrorKind::UnexpectedEof);
    fails_compat(&[b'l'; 101], ErrorKind::DepthExceeded);
    // Terminators count against the token limit.
    let small = Limits {
        max_tokens: 4,
        ..limits
    };
    assert!(decode_compat(b"l0:0:e", small).is_ok());
    assert_eq!(
        decode_compat(b"l0:0:0:e", small).unwrap_err().kind,
        ErrorKind::TokenLimitExceeded
    );
}

#[test]
fn node_accessors() {
    let input = b"d4:infod6:lengthi42e4:name3:abce4:listli1e3:xyzlee3:numi-7ee";
    let doc = decode(input).unwrap();
    let root = doc.root();
    assert_eq!(root.kind(), Kind::Dict);
    assert_eq!(root.len(), 3);
    assert_eq!(root.raw(), &input[..]);
    let info = root.get_dict(b"info").unwrap();
    assert_eq!(info.raw(), b"d6:lengthi42e4:name3:abce");
    assert_eq!(info.offset(), 7);
    assert_eq!(info.get_int(b"length"), Some(42));
    assert_eq!(info.get_str(b"name"), Some("abc"));
    assert_eq!(info.get_bytes(b"name"), Some(&b"abc"[..]));
    assert!(info.get(b"missing").is_none());
    assert!(root.get_list(b"info").is_none());
    let list = root.get_list(b"list").unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.list_at(0).unwrap().as_int(), Some(1));
    assert_eq!(list.list_at(1).unwrap().as_str(), Some("xyz"));
    assert_eq!(list.list_at(1).unwrap().raw(), b"3:xyz");
    assert_eq!(list.list_at(2).unwrap().kind(), Kind::List);
    assert!(list.list_at(2).unwrap().is_empty());
    assert!(list.list_at(3).is_none());
    assert_eq!(root.get_int(b"num"), Some(-7));
    let keys: Vec<&[u8]> = root.dict_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![&b"info"[..], b"list", b"num"]);
    // Accessors of the wrong kind.
    assert_eq!(root.as_int(), None);
    assert_eq!(root.as_bytes(), None);
    assert_eq!(list.dict_iter().count(), 0);
    assert_eq!(info.list_iter().count(), 0);
    assert_eq!(root.get_int(b"info"), None);
    assert_eq!(doc.root().list_at(0).map(|n| n.offset()), None);
    // Non-UTF-8 strings are bytes but not str.
    let doc = decode(b"2:\xff\xfe").unwrap();
    assert_eq!(doc.root().as_bytes(), Some(&b"\xff\xfe"[..]));
    assert_eq!(doc.root().as_str(), None);
}

#[test]
fn encoder_and_value() {
    let mut out = Vec::new();
    Encoder::new(&mut out)
        .begin_dict()
        .bytes(b"a")
        .int(i64::MIN)
        .bytes(b"b")
        .begin_list()
        .int(0)
        .int(-1)
        .bytes(b"")
        .end()
        .bytes(b"c")
        .raw(b"i9e")
        .end();
    assert_eq!(
        out,
        b"d1:ai-9223372036854775808e1:bli0ei-1e0:e1:ci9ee".to_vec()
    );
    let mut map = BTreeMap::new();
    map.insert(b"z".to_vec(), Value::Int(1));
    map.insert(
        b"a".to_vec(),
        Value::List(vec![Value::Bytes(b"x".to_vec())]),
    );
    map.insert(b"m".to_vec(), Value::Dict(BTreeMap::new()));
    let v = Value::Dict(map);
    assert_eq!(encode(&v), b"d1:al1:xe1:mde1:zi1ee".to_vec());
    assert_eq!(
        Value::Int(i64::MAX).encode(),
        b"i9223372036854775807e".to_vec()
    );
    let mut out = b"prefix".to_vec();
    Value::Int(5).encode_into(&mut out);
    assert_eq!(out, b"prefixi5e".to_vec());
}

#[test]
fn to_value_first_duplicate_wins_and_canonicalises() {
    let doc = decode(b"d1:bi1e1:ai2e1:ai3ee").unwrap();
    let v = doc.root().to_value();
    assert_eq!(v.encode(), b"d1:ai2e1:bi1ee".to_vec());
}

/// A small deterministic PRNG (xorshift64*), so the tests need no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let pick = if depth >= 6 {
        rng.below(2)
    } else {
        rng.below(4)
    };
    match pick {
        0 => Value::Int(match rng.below(4) {
            0 => 0,
            1 => i64::MIN,
            2 => i64::MAX,
            _ => rng.next() as i64 >> rng.below(64),
        }),
        1 => {
            let n = rng.below(12) as usize;
            Value::Bytes((0..n).map(|_| rng.next() as u8).collect())
        }
        2 => {
            let n = rng.below(5) as usize;
            Value::List((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => {
            let n = rng.below(5) as usize;
            let mut map = BTreeMap::new();
            for _ in 0..n {
                let klen = rng.below(4) as usize;
                let key: Vec<u8> = (0..klen).map(|_| b'a' + rng.below(4) as u8).collect();
                map.insert(key, random_value(rng, depth + 1));
            }
            Value::Dict(map)
        }
    }
}

/// Checks that every node's `raw()` re-decodes to the same value.
fn check_raw_spans(node: Node<'_, '_>) {
    let again = decode(node.raw()).unwrap();
    assert_eq!(again.root().to_value(), node.to_value());
    assert_eq!(
        &node.doc.buffer()[node.offset()..][..node.raw().len()],
        node.raw()
    );
    for item in node.list_iter() {
        check_raw_spans(item);
    }
    for (_, v) in node.dict_iter() {
        check_raw_spans(v);
    }
}

#[test]
fn random_round_trips() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let v = random_value(&mut rng, 0);
        let enc = v.encode();
        let doc = decode_with(&enc, strict()).unwrap();
        assert_eq!(doc.consumed(), enc.len());
        assert_eq!(doc.root().to_value(), v);
        assert_eq!(doc.root().raw(), &enc[..]);
        check_raw_spans(doc.root());
        // The compat dialect accepts every canonical document identically.
        let compat = decode_compat(&enc, Limits::default()).unwrap();
        assert_eq!(compat.root().to_value(), v);
    }
}

#[test]
fn random_corruptions_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let mut enc = random_value(&mut rng, 0).encode();
        let edits = 1 + rng.below(3);
        for _ in 0..edits {
            if enc.is_empty() {
                break;
            }
            let at = rng.below(enc.len() as u64) as usize;
            match rng.below(3) {
                0 => enc[at] = b"ilde0123456789:-x"[rng.below(17) as usize],
                1 => {
                    enc.remove(at);
                }
                _ => enc.truncate(at),
            }
        }
        for limits in [Limits::default(), strict()] {
            match decode_with(&enc, limits) {
                Ok(doc) => {
                    // Whatever decodes strictly is canonical unless keys are unsorted.
                    let v = doc.root().to_value();
                    if limits.strict_key_order {
                        assert_eq!(v.encode(), enc);
                    }
                }
                Err(e) => assert!(e.offset <= enc.len()),
            }
            if let Err(e) = decode_compat(&enc, limits) {
                assert!(e.offset <= enc.len());
            }
        }
    }
}

#[test]
fn strict_rejects_what_is_not_canonical() {
    // Strict decoding plus strict key order accepts exactly canonical input:
    // re-encoding gives back the same bytes.
    let samples: &[&[u8]] = &[
        b"i0e",
        b"i-1e",
        b"0:",
        b"le",
        b"de",
        b"d1:ale1:bdee",
        b"li1eli2eee",
    ];
    for s in samples {
        let doc = decode_with(s, strict()).unwrap();
        assert_eq!(doc.root().to_value().encode(), s.to_vec());
    }
}

#[test]
fn list_at_any_order_matches_iteration() {
    let mut rng = Rng(7);
    for _ in 0..300 {
        let v = Value::List(
            (0..rng.below(20))
                .map(|_| random_value(&mut rng, 3))
                .collect(),
        );
        let enc = v.encode();
        let doc = decode(&enc).unwrap();
        let root = doc.root();
        let items: Vec<usize> = root.list_iter().map(|n| n.offset()).collect();
        // Ascending, descending and random access, interleaved with other lists.
        for (i, &offset) in items.iter().enumerate() {
            assert_eq!(root.list_at(i).unwrap().offset(), offset);
        }
        for (i, &offset) in items.iter().enumerate().rev() {
            assert_eq!(root.list_at(i).unwrap().offset(), offset);
            if let Some(inner) = root.list_at(i).filter(|n| n.kind() == Kind::List) {
                let _ = inner.list_at(0);
            }
        }
        for _ in 0..items.len() {
            let i = rng.below(items.len() as u64) as usize;
            assert_eq!(root.list_at(i).unwrap().offset(), items[i]);
        }
        assert!(root.list_at(items.len()).is_none());
    }
}

#[test]
fn document_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Document<'static>>();
}
