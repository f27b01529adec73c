//! Parses arbitrary bytes as a resume file and as a session-state file.
//! Whatever loads must write back without error, and what is written must
//! load again into params that write the very same bytes (reading
//! normalises once, then the format is a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lt_metainfo::LoadLimits;
use lt_resume::{save_state_flags, ResumeData, SessionParams};

fuzz_target!(|data: &[u8]| {
    let limits = LoadLimits {
        max_pieces: 1 << 16,
        ..Default::default()
    };
    if let Ok(rd) = ResumeData::read_with(data, &limits) {
        let first = rd.write().expect("a loaded resume file writes back");
        let again = ResumeData::read_with(&first, &limits).expect("what we write loads");
        let second = again.write().expect("and writes back");
        assert_eq!(first, second);
    }
    for flags in [save_state_flags::ALL, save_state_flags::SAVE_SETTINGS] {
        if let Ok(sp) = SessionParams::read(data, flags) {
            let first = sp.write(save_state_flags::ALL);
            let again =
                SessionParams::read(&first, save_state_flags::ALL).expect("what we write loads");
            assert_eq!(again.write(save_state_flags::ALL), first);
        }
    }
});
