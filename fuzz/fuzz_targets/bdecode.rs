//! Decodes arbitrary bytes with several limit sets and both dialects; every
//! accepted document must walk cleanly, report exact spans and round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lt_bencode::{decode, decode_compat, decode_with, Kind, Limits, Node, Value};

/// Walks a node: spans lie inside the buffer and re-decode to the same value.
fn walk(node: Node<'_, '_>, buf: &[u8]) {
    let raw = node.raw();
    let off = node.offset();
    assert_eq!(&buf[off..off + raw.len()], raw);
    match node.kind() {
        Kind::Int => assert!(node.as_bytes().is_none()),
        Kind::Bytes => {
            let b = node.as_bytes().unwrap();
            assert!(raw.ends_with(b));
            assert_eq!(node.len(), 0);
        }
        Kind::List => {
            let items: Vec<_> = node.list_iter().collect();
            assert_eq!(items.len(), node.len());
            for (i, item) in items.iter().enumerate() {
                assert_eq!(node.list_at(i).unwrap().offset(), item.offset());
                walk(*item, buf);
            }
            assert!(node.list_at(items.len()).is_none());
        }
        Kind::Dict => {
            let entries: Vec<_> = node.dict_iter().collect();
            assert_eq!(entries.len(), node.len());
            for (k, v) in &entries {
                // `get` finds the first entry with this key.
                let first = entries.iter().find(|(k2, _)| k2 == k).unwrap();
                assert_eq!(node.get(k).unwrap().offset(), first.1.offset());
                walk(*v, buf);
            }
        }
    }
}

fn check_round_trip(value: &Value) {
    let enc = value.encode();
    let strict = Limits {
        strict_key_order: true,
        max_depth: usize::MAX,
        max_tokens: usize::MAX,
        ..Limits::default()
    };
    let again = decode_with(&enc, strict).expect("canonical encoding must decode strictly");
    assert_eq!(&again.root().to_value(), value);
    assert_eq!(again.root().raw(), &enc[..]);
}

fuzz_target!(|data: &[u8]| {
    let strict = Limits {
        strict_key_order: true,
        ..Limits::default()
    };
    let tight = Limits {
        max_depth: 4,
        max_tokens: 32,
        strict_key_order: false,
        allow_trailing: true,
    };
    for limits in [Limits::default(), strict, tight] {
        match decode_with(data, limits) {
            Ok(doc) => {
                assert!(doc.consumed() <= data.len());
                assert!(doc.consumed() == data.len() || limits.allow_trailing);
                assert!(doc.token_count() <= limits.max_tokens);
                walk(doc.root(), data);
                let value = doc.root().to_value();
                check_round_trip(&value);
                if limits.strict_key_order {
                    // Strict decoding accepts only canonical bencode.
                    assert_eq!(value.encode(), data);
                }
            }
            Err(e) => assert!(e.offset <= data.len()),
        }
    }
    // Whatever the strict decoder accepts, the lenient one accepts too.
    if decode_with(data, strict).is_ok() {
        assert!(decode(data).is_ok());
    }
    let compat = Limits {
        allow_trailing: true,
        ..Limits::default()
    };
    match decode_compat(data, compat) {
        Ok(doc) => {
            walk(doc.root(), data);
            check_round_trip(&doc.root().to_value());
        }
        Err(e) => assert!(e.offset <= data.len()),
    }
    // Strictly valid input means the same thing in the compat dialect.
    if let Ok(doc) = decode(data) {
        // libtorrent's depth check fails at `max_depth` open containers
        // followed by more input, ours when opening one more.
        let limits = Limits {
            max_depth: Limits::default().max_depth + 1,
            ..Limits::default()
        };
        let c = decode_compat(data, limits).expect("valid input must decode in compat mode");
        assert_eq!(c.root().to_value(), doc.root().to_value());
    }
});
