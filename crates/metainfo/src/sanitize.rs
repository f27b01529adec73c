//! Cleaning of names and paths taken from torrent files, so that no file
//! can be placed outside the save directory and every name is valid UTF-8.
//!
//! The rules follow what libtorrent produces, observed on its output:
//! * invalid UTF-8 sequences become one `_` each (a sequence is as long as
//!   its lead byte announces, cut at the end of the input);
//! * `/`, `\`, NUL and the bidirectional-override code points are dropped;
//! * other control characters (below 32, and DEL) become `_`;
//! * an element left empty, or made only of one or two dots, is dropped;
//! * an element longer than 240 bytes is cut at 240 bytes, keeping a short
//!   file extension when the original had one.

/// Decodes one code point at the start of `s`: `(code point or -1 if
/// invalid, bytes consumed)`. `s` must not be empty.
pub fn parse_utf8_codepoint(s: &[u8]) -> (i32, usize) {
    let Some(&b) = s.first() else {
        return (-1, 0);
    };
    let (len, mut ch) = if b < 0x80 {
        return (i32::from(b), 1);
    } else if b & 0xe0 == 0xc0 {
        (2, i32::from(b & 0x1f))
    } else if b & 0xf0 == 0xe0 {
        (3, i32::from(b & 0x0f))
    } else if b & 0xf8 == 0xf0 {
        (4, i32::from(b & 0x07))
    } else if b & 0xfc == 0xf8 {
        // obsolete 5- and 6-byte forms: never valid, but consumed whole
        return (-1, 5.min(s.len()));
    } else if b & 0xfe == 0xfc {
        return (-1, 6.min(s.len()));
    } else {
        return (-1, 1);
    };
    if s.len() < len {
        return (-1, s.len());
    }
    for &c in s.iter().take(len).skip(1) {
        if c & 0xc0 != 0x80 {
            return (-1, len);
        }
        ch = (ch << 6) | i32::from(c & 0x3f);
    }
    let overlong = match len {
        2 => ch < 0x80,
        3 => ch < 0x800,
        _ => ch < 0x10000,
    };
    if overlong || ch > 0x10ffff || (0xd800..=0xdfff).contains(&ch) {
        return (-1, len);
    }
    (ch, len)
}

/// Replaces each invalid UTF-8 sequence with `_`.
pub fn sanitize_utf8(s: &[u8]) -> String {
    if let Ok(v) = std::str::from_utf8(s) {
        return v.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(rest) = s.get(i..).filter(|r| !r.is_empty()) {
        let (cp, len) = parse_utf8_codepoint(rest);
        match (cp >= 0).then(|| char::from_u32(cp as u32)).flatten() {
            Some(c) => out.push(c),
            None => out.push('_'),
        }
        i += len.max(1);
    }
    out
}

fn filtered(cp: i32) -> bool {
    matches!(cp, 0x202a..=0x202e | 0x200e | 0x200f | 0 | 0x2f | 0x5c)
}

fn valid_path_char(cp: i32) -> bool {
    cp >= 32 && cp != 127
}

/// Sanitizes one path element. Returns `"_"` for an empty element and an
/// empty string when the element is dropped (see the module rules).
pub fn sanitize_element(e: &[u8]) -> String {
    sanitize_element_cow(e).into_owned()
}

/// Whether [`sanitize_element`] leaves `e` exactly as it is: shorter than
/// the 240-byte cut, printable ASCII only (no control character, DEL,
/// `/` or backslash), and not `.` or `..`.
fn element_is_clean(e: &[u8]) -> bool {
    !e.is_empty()
        && e.len() < 240
        // no short cut inside the loop, so that it compiles to SIMD
        && e.iter().fold(true, |ok, &c| {
            ok & (c.wrapping_sub(0x20) < 0x5f) & (c != b'/') & (c != b'\\')
        })
        && e != b"."
        && e != b".."
}

/// [`sanitize_element`] without a copy when the element needs no change
/// (the common case: plain ASCII names).
pub fn sanitize_element_cow(e: &[u8]) -> std::borrow::Cow<'_, str> {
    if element_is_clean(e) {
        // printable ASCII is valid UTF-8
        if let Ok(s) = std::str::from_utf8(e) {
            return std::borrow::Cow::Borrowed(s);
        }
    }
    std::borrow::Cow::Owned(sanitize_element_slow(e))
}

fn sanitize_element_slow(e: &[u8]) -> String {
    if e.is_empty() {
        return "_".to_owned();
    }
    if e == b"." {
        return String::new();
    }
    let mut out: Vec<u8> = Vec::with_capacity(e.len().min(260));
    let mut added = 0usize;
    let mut num_dots = 0usize;
    let mut found_extension = false;
    let mut i = 0usize;
    while i < e.len() {
        let rest = e.get(i..).unwrap_or(&[]);
        let (cp, seq_len) = parse_utf8_codepoint(rest);
        let seq_len = seq_len.max(1);
        if cp >= 0 && filtered(cp) {
            i += seq_len;
            continue;
        }
        if cp < 0 || !valid_path_char(cp) {
            out.push(b'_');
            added += 1;
            i += seq_len;
            continue;
        }
        out.extend_from_slice(rest.get(..seq_len).unwrap_or(&[]));
        if cp == i32::from(b'.') {
            num_dots += 1;
        }
        added += seq_len;
        if added >= 240 && !found_extension {
            // look for an extension near the end of the element
            let size = e.len() as i64;
            let lower = (size - 10).max(i as i64);
            let mut j = size - 1;
            let mut dot = None;
            while j > lower {
                if e.get(j as usize) == Some(&b'.') {
                    dot = Some(j as usize);
                    break;
                }
                j -= 1;
            }
            match dot {
                None => break,
                Some(d) => {
                    found_extension = true;
                    i = d;
                    continue;
                }
            }
        }
        i += seq_len;
    }
    if added == num_dots && added <= 2 {
        return String::new();
    }
    // only whole code points or `_` were copied, so this is valid UTF-8
    String::from_utf8(out).unwrap_or_default()
}

/// Sanitizes a list of path elements for a file path: elements that are
/// dropped become `_`. Returns the elements.
pub fn sanitize_path_elements<'a>(elements: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    elements
        .map(|e| {
            let s = sanitize_element(e);
            if s.is_empty() {
                "_".to_owned()
            } else {
                s
            }
        })
        .collect()
}

/// Sanitizes a symlink target: dropped elements are left out.
pub fn sanitize_symlink<'a>(elements: impl Iterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for e in elements {
        let s = sanitize_element(e);
        if s.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements() {
        assert_eq!(sanitize_element(b""), "_");
        assert_eq!(sanitize_element(b"."), "");
        assert_eq!(sanitize_element(b".."), "");
        assert_eq!(sanitize_element(b"..."), "...");
        assert_eq!(sanitize_element(b"a/b\\c"), "abc");
        assert_eq!(sanitize_element(b"/.."), "");
        assert_eq!(sanitize_element(b"a\x00b"), "ab");
        assert_eq!(sanitize_element(b"c\x01d\x7f"), "c_d_");
        assert_eq!(sanitize_element(b"a\xe2\x80\xaeb"), "ab");
        assert_eq!(sanitize_element(b"\xc3("), "_");
        assert_eq!(sanitize_element(b"\xe2\x82x"), "_");
        assert_eq!(sanitize_element(b"\xff\xff"), "__");
        assert_eq!(sanitize_element(b"\xf8abcd"), "_");
        assert_eq!(sanitize_element(b"\xf8abcdef"), "_ef");
        assert_eq!(sanitize_element(b"\xc0\xaf"), "_");
        assert_eq!(sanitize_element(b"\xed\xa0\x80"), "_");
        assert_eq!(sanitize_element("😀".as_bytes()), "😀");
        assert_eq!(sanitize_element(b"C:"), "C:");
    }

    #[test]
    fn clean_elements_are_borrowed_and_match_the_full_rules() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"file.txt".to_vec(),
            b"a b~!@#$%^&*()".to_vec(),
            b".".to_vec(),
            b"..".to_vec(),
            b"...".to_vec(),
            b"".to_vec(),
            b"a/b".to_vec(),
            b"a\\b".to_vec(),
            b"a\x7fb".to_vec(),
            b"a\x1fb".to_vec(),
            "é".as_bytes().to_vec(),
            b"\xff".to_vec(),
        ];
        for n in [238, 239, 240, 241, 300] {
            cases.push(vec![b'x'; n]);
            let mut v = vec![b'x'; n];
            v.extend_from_slice(b".txt");
            cases.push(v);
        }
        for c in &cases {
            let fast = sanitize_element_cow(c);
            assert_eq!(fast, sanitize_element_slow(c), "{c:?}");
            let borrowed = matches!(fast, std::borrow::Cow::Borrowed(_));
            assert_eq!(borrowed, element_is_clean(c), "{c:?}");
            if borrowed {
                assert_eq!(fast.as_bytes(), c.as_slice());
            }
        }
        assert!(element_is_clean(b"file.txt"));
        assert!(!element_is_clean(&[b'x'; 240]));
    }

    #[test]
    fn long_elements() {
        let mut e = vec![b'x'; 239];
        e.extend_from_slice(b".txt");
        assert_eq!(sanitize_element(&e).len(), 240);
        let mut e = vec![b'x'; 300];
        e.extend_from_slice(b".txt");
        let s = sanitize_element(&e);
        assert_eq!(s.len(), 244);
        assert!(s.ends_with("x.txt"));
        let e = "é".repeat(250);
        assert_eq!(sanitize_element(e.as_bytes()).chars().count(), 120);
    }

    #[test]
    fn paths_and_text() {
        let p = sanitize_path_elements([&b".."[..], b"..", b"x"].into_iter());
        assert_eq!(p, vec!["_", "_", "x"]);
        assert_eq!(
            sanitize_symlink([&b"sub"[..], b"..", b"b.txt"].into_iter()),
            "sub/b.txt"
        );
        assert_eq!(sanitize_utf8(b"\xffbad"), "_bad");
        assert_eq!(sanitize_utf8(b"\xc3("), "_");
        assert_eq!(sanitize_utf8("ok é".as_bytes()), "ok é");
    }
}
