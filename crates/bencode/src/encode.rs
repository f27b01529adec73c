//! Number formatting for the encoder.

/// Appends the decimal form of `v` (no allocation).
pub(crate) fn write_decimal(out: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    // Work on the magnitude as u64 so that i64::MIN is handled.
    let mut m = v.unsigned_abs();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[pos..]);
}
