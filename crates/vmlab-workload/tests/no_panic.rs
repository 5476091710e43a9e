//! Bad input never panics: arbitrary bytes through every reader (plain,
//! and behind a gzip or zstd magic), arbitrary and near-miss generator
//! specs through the parser and, when they parse, through the generator.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vmlab_workload::gen::GenSpec;
use vmlab_workload::trace::{self, ReadOptions, TraceFormat};

fn read_all(bytes: Vec<u8>, format: Option<TraceFormat>, skip_bad_lines: bool) {
    let opts = ReadOptions {
        skip_bad_lines,
        ..ReadOptions::default()
    };
    let src = Box::new(std::io::Cursor::new(bytes));
    if let Ok(r) = trace::from_reader(src, "fuzz", format, opts) {
        // Every error is a message, and errors end the stream (or are
        // skipped), so this terminates.
        for item in r.take(100_000) {
            if let Err(e) = item {
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

/// Bytes that look enough like each format to get past its first checks.
fn tracey_bytes() -> impl Strategy<Value = Vec<u8>> {
    let text = proptest::collection::vec(
        prop_oneof![
            Just(&b"I  0401ab70,3\n"[..]),
            Just(&b" M 7ff0,8\n"[..]),
            Just(&b"0x10 W\n"[..]),
            Just(&b"==1== x\n"[..]),
            Just(&b"\x89VMT\r\n\x1a\n\x01\x00\x10\x00\x00\x00\x00\x00"[..]),
            Just(&b"\x28\xb5\x2f\xfd"[..]),
            Just(&b"\x1f\x8b"[..]),
            Just(&b","[..]),
            Just(&b" "[..]),
            Just(&b"\n"[..]),
        ],
        0..20,
    );
    (text, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(parts, tail)| {
        let mut v: Vec<u8> = parts.concat();
        v.extend(tail);
        v
    })
}

proptest! {
    #[test]
    fn readers_never_panic(bytes in tracey_bytes(), f in 0..5usize, skip in any::<bool>()) {
        let format = [
            None,
            Some(TraceFormat::Lackey),
            Some(TraceFormat::Addr),
            Some(TraceFormat::VmlabBin),
            Some(TraceFormat::OracleGeneral),
        ][f];
        read_all(bytes, format, skip);
    }

    #[test]
    fn spec_parser_never_panics(spec in "[a-z]{0,8}(:[a-z]{0,7}=[-0-9a-fx.e]{0,6}(,[a-z]{0,7}=[-0-9a-fx.]{0,6}){0,5})?") {
        let _ = spec.parse::<GenSpec>();
    }

    #[test]
    fn valid_specs_generate_without_panicking(
        kind in 0..10usize,
        a in 1..2000u64,
        b in 1..64u64,
        c in 0.0..3.0f64,
        seed in any::<u64>(),
        base in prop_oneof![Just(0u64), Just(0x1000_0000), Just(u64::MAX >> 1)],
    ) {
        let spec = match kind {
            0 => format!("seq:pages={a},n=300,size={b}"),
            1 => format!("stride:pages={a},stride={b},n=300"),
            2 => format!("uniform:pages={a},n=300,write={}", c / 3.0),
            3 => format!("zipf:pages={a},alpha={c},n=300"),
            4 => format!("loop:pages={a},n=300"),
            5 => format!("phases:pages={a},ws={},phase={b},n=300", a.min(b)),
            6 => format!("matmul:dim={b},tile={},n=300,order=tiled", a % 9 + 1),
            7 => format!("list:nodes={a},node={b},n=300"),
            8 => format!("stack:depth={a},n=300,size={b}"),
            _ => format!("heap:objects={a},obj={b},n=300,write={}", c / 3.0),
        };
        let spec = format!("{spec},seed={seed},base={base}");
        let g: GenSpec = spec.parse().unwrap();
        let n = g.stream().count();
        prop_assert!(n <= 300);
    }
}
