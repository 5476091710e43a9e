//! Arbitrary text through the generator spec parser, and the first
//! references of any spec that parses: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmlab_workload::gen::GenSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<GenSpec>() {
        Ok(spec) => {
            for r in spec.stream().take(10_000) {
                std::hint::black_box(r);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
