//! Reads the subject common names and DNS alternative names of arbitrary
//! bytes taken as a DER certificate (peer certificates of SSL torrents).
//! Must never panic; whatever it returns lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lt_core::x509_names::cert_names;

fuzz_target!(|data: &[u8]| {
    if let Some(n) = cert_names(data) {
        let total: usize = n.common_names.iter().chain(&n.dns).map(Vec::len).sum();
        assert!(total <= data.len());
    }
});
