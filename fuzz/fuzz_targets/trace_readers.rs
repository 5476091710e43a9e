//! Arbitrary bytes through every trace reader, compressed or not, with and
//! without skip-bad-lines: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmlab_workload::trace::{self, ReadOptions, TraceFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let format = match selector % 5 {
        0 => None,
        1 => Some(TraceFormat::Lackey),
        2 => Some(TraceFormat::Addr),
        3 => Some(TraceFormat::VmlabBin),
        _ => Some(TraceFormat::OracleGeneral),
    };
    let opts = ReadOptions {
        skip_bad_lines: selector & 0x80 != 0,
        ..ReadOptions::default()
    };
    let src = Box::new(std::io::Cursor::new(bytes.to_vec()));
    if let Ok(reader) = trace::from_reader(src, "fuzz", format, opts) {
        for item in reader.take(1 << 20) {
            if let Err(e) = item {
                let _ = e.to_string();
            }
        }
    }
});
