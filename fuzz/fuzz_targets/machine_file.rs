//! Arbitrary text through the machine-file parser, and the configuration
//! of any file that parses: errors are fine, panics are not. A file naming
//! an `arch-file` is not built (that would read whatever file it names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use vmlab_kernel::machine::{parse_machine_toml, ArchSource};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_machine_toml(text, "fuzz.toml", Path::new("")) {
        Ok(spec) => {
            if !matches!(&spec.arch, Some(a) if matches!(a.value, ArchSource::File(_))) {
                if let Err(e) = spec.config() {
                    let _ = e.to_string();
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
