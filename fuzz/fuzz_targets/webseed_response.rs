//! Fuzzes web seed responses: a `WebSeedConnection` (BEP 19 multi-file
//! with a pad file, BEP 19 single-file or BEP 17, chosen by the first
//! byte) with a few requests in flight is fed the fuzzer's bytes in
//! fuzzer-chosen pieces, then EOF. Nothing may panic, every block must lie
//! inside a requested range, and the connection must end up closed or
//! still consistent. The raw `ResponseParser` is driven the same way.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lt_core::Sha1Hash;
use lt_metainfo::{FileStorage, WebSeed, WebSeedKind};
use lt_webseed::{PieceRange, ResponseParser, WebSeedConnection, WebSeedEvent, WebSeedSettings};

fn layout(multi: bool) -> Option<FileStorage> {
    let mut fs = FileStorage::new();
    if multi {
        fs.add_file("t/a", 20_000, Default::default(), 0, "").ok()?;
        fs.add_pad_file(32_768 - 20_000).ok()?;
        fs.add_file("t/b", 50_000, Default::default(), 0, "").ok()?;
    } else {
        fs.add_file("f", 70_000, Default::default(), 0, "").ok()?;
    }
    fs.set_piece_length(32_768);
    fs.compute_num_pieces();
    Some(fs)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&split, body)) = rest.split_first() else {
        return;
    };

    let mut p = ResponseParser::new(4096);
    let mut input = body;
    for _ in 0..100_000 {
        match p.parse(input) {
            Ok((n, ev)) => {
                input = input.get(n..).unwrap_or(&[]);
                if n == 0 && ev.is_none() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = p.on_eof();

    let kind = if mode & 1 == 0 {
        WebSeedKind::UrlSeed
    } else {
        WebSeedKind::HttpSeed
    };
    let Some(fs) = layout(mode & 2 == 0) else {
        return;
    };
    let seed = WebSeed {
        url: "http://127.0.0.1:1/s/".into(),
        auth: String::new(),
        extra_headers: vec![],
        kind,
    };
    let now = Instant::now();
    let settings = WebSeedSettings {
        max_head_size: 2048,
        ..Default::default()
    };
    let Ok(mut c) = WebSeedConnection::new(&seed, fs.clone(), Sha1Hash([1; 20]), settings, now)
    else {
        return;
    };
    let ranges = [
        PieceRange {
            piece: 0,
            start: 0,
            length: 32_768,
        },
        PieceRange {
            piece: 1,
            start: 100,
            length: 1000,
        },
        PieceRange {
            piece: 2,
            start: 0,
            length: fs.piece_size(2),
        },
    ];
    for r in ranges {
        let _ = c.request(r);
    }
    while c.poll_transmit(now).is_some() {}
    let step = usize::from(split).max(1);
    for chunk in body.chunks(step) {
        c.on_data(chunk, now);
        while c.poll_transmit(now).is_some() {}
    }
    c.on_eof(now);
    c.tick(now + Duration::from_secs(3600));
    let total = fs.total_size();
    while let Some(ev) = c.poll_event() {
        if let WebSeedEvent::Block {
            piece,
            offset,
            data,
        } = ev
        {
            let abs = i64::from(piece) * 32_768 + i64::from(offset);
            assert!(abs >= 0 && abs + data.len() as i64 <= total);
            assert!(!data.is_empty() && data.len() <= 16_384);
        }
    }
    assert!(c.is_closed());
});
