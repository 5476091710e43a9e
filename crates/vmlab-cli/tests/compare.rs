//! `vmlab compare` end to end: the built-in default, a tiny workload whose
//! every figure is worked by hand, the CSV time series (whole or not at
//! all), determinism, and bad flags named with exit status 2.

#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, stdout_of};

fn json_of(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&stdout_of(args)).expect("json")
}

#[test]
fn default_compares_five_allocators_and_three_page_sizes() {
    let out = stdout_of(&["compare"]);
    assert!(out.starts_with("vmlab compare: allocs:n=10000,min=1024,max=65536,live=200"));
    assert!(out.contains("physical memory 8.00 MiB"));
    for row in [
        "segmentation  first ",
        "segmentation  best ",
        "segmentation  worst ",
        "segmentation  next ",
        "segmentation  buddy ",
        "paging        4 KiB (x86-64) ",
        "paging        64 KiB (aarch64-64k) ",
        "paging        2 MiB (x86-64) ",
    ] {
        assert!(out.contains(row), "{row:?} in\n{out}");
    }
    assert!(out.contains("ext frag") && out.contains("refs/access"));
}

/// Two 5000-byte objects in 1 MiB. First fit: exact, 16 bytes of
/// descriptors. Buddy: 8 KiB blocks, 3192 wasted each. 4 KiB pages: two
/// pages each, the same waste, four 4 KiB tables on x86-64. 2 MiB pages:
/// no frame at all in 1 MiB, both fail.
#[test]
fn tiny_workload_worked_by_hand() {
    let doc = json_of(&[
        "compare",
        "--workload",
        "allocs:n=2,min=5000,max=5000,live=2,refs=0",
        "--mem",
        "1M",
        "--allocators",
        "first,buddy",
        "--page-sizes",
        "4K,2M",
        "--every",
        "1",
        "--json",
    ]);
    let c = &doc["configs"];
    let first = &c[0]["last"];
    assert_eq!(c[0]["config"], "first");
    assert_eq!(first["free_bytes"], (1 << 20) - 10000);
    assert_eq!(first["largest_free"], (1 << 20) - 10000);
    assert_eq!(first["internal_bytes"], 0);
    assert_eq!(first["table_bytes"], 16);
    let buddy = &c[1]["last"];
    assert_eq!(buddy["internal_bytes"], 6384);
    assert_eq!(buddy["internal_fragmentation"], 6384.0 / 16384.0);
    assert_eq!(buddy["free_bytes"], (1 << 20) - 16384);
    let small = &c[2];
    assert_eq!(small["config"], "4 KiB (x86-64)");
    assert_eq!(small["last"]["internal_bytes"], 6384);
    assert_eq!(small["last"]["table_bytes"], 4 * 4096);
    assert_eq!(small["failed_allocations"], 0);
    let huge = &c[3];
    assert_eq!(huge["failed_allocations"], 2);
    assert_eq!(huge["last"]["live_bytes"], 0);
    // One sample per event: two allocations.
    assert_eq!(c[0]["series"].as_array().unwrap().len(), 2);
}

#[test]
fn translation_cost_with_one_object_on_one_page() {
    // Every access hits one 4 KiB page: the first walks 4 levels (5
    // references), the other 15 hit the TLB: 20 references for 16.
    // Segmentation: one descriptor load, then the register holds it.
    let doc = json_of(&[
        "compare",
        "--workload",
        "allocs:n=1,min=4K,max=4K,live=1,refs=16",
        "--mem",
        "64K",
        "--allocators",
        "best",
        "--page-sizes",
        "4K",
        "--json",
    ]);
    let seg = &doc["configs"][0];
    assert_eq!(
        (seg["accesses"].as_u64(), seg["memory_references"].as_u64()),
        (Some(16), Some(17))
    );
    let page = &doc["configs"][1];
    assert_eq!(page["memory_references"], 20);
    assert_eq!(page["translation_misses"], 1);
    assert_eq!(page["references_per_access"], 1.25);
    // More segment registers than objects: no descriptor is ever evicted.
    let doc = json_of(&[
        "compare",
        "--workload",
        "allocs:n=1,min=4K,max=4K,live=1,refs=16",
        "--page-sizes",
        "none",
        "--segment-registers",
        "1000000000000",
        "--json",
    ]);
    assert_eq!(doc["configs"][0]["translation_misses"], 1);
}

#[test]
fn csv_time_series_is_written_whole_and_runs_repeat() {
    let dir = std::env::temp_dir().join(format!("vmlab-cli-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("series.csv");
    let p = path.to_str().unwrap();
    let args = [
        "compare",
        "--workload",
        "allocs:n=500,min=1K,max=8K,live=40,dist=bimodal,seed=3",
        "--mem",
        "256K",
        "--allocators",
        "first,next",
        "--page-sizes",
        "4K",
        "--compact",
        "--every",
        "100",
        "--csv",
        p,
    ];
    let out = stdout_of(&args);
    assert!(out.contains(&format!("time series written to {p}")));
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "scheme,config,event,free_bytes,largest_free,external_fragmentation,live_bytes,\
         internal_bytes,internal_fragmentation,failed_allocations,table_bytes"
    );
    // 500 allocations and 460 frees: 9 samples for each of 3 configurations.
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 27);
    assert!(rows[0].starts_with("segmentation,\"first\",100,"));
    assert!(rows[26].starts_with("paging,\"4 KiB (x86-64)\",900,"));
    assert!(rows.iter().all(|r| r.split(',').count() == 11));
    assert_eq!(stdout_of(&args), out, "same flags, same output");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), csv);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary left"
    );
    // A CSV that cannot be written leaves nothing behind and says where.
    let bad = dir.join("missing").join("series.csv");
    let err = refused(&[
        "compare",
        "--page-sizes",
        "4K",
        "--csv",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("--csv") && err.contains("series.csv"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (&["--mem", "8X"], "--mem: expected a size"),
        (&["--mem", "0"], "--mem: expected a size of at least 1 byte"),
        (
            &["--allocators", "fastest"],
            "--allocators: unknown allocator \"fastest\"",
        ),
        (
            &["--allocators", "none", "--page-sizes", "none"],
            "--allocators: nothing to compare",
        ),
        (
            &["--page-sizes", "8K"],
            "--page-sizes: no scheme given by --arch",
        ),
        (
            &["--page-sizes", "3K"],
            "--page-sizes: page size \"3K\" is not a power of two",
        ),
        (&["--arch", "vax"], "--arch: unknown scheme \"vax\""),
        (&["--tlb", "63:4"], "--tlb: spec item 1"),
        (&["--every", "0"], "--every: expected at least 1"),
        (
            &["--workload", "allocs:n=1"],
            "--workload: allocs:n=1: expected the key min",
        ),
        (
            &["--workload", "allocs:n=1,min=2,max=1,live=1"],
            "--workload: allocs:n=1,min=2,max=1,live=1: expected max at least min",
        ),
        (&["--mem", "1P"], "--mem: expected a size"),
        (
            &["--mem", "1T", "--page-sizes", "4K", "--arch", "x86-32"],
            "--mem:",
        ),
        // Repeats ran twice and printed identical rows.
        (
            &["--allocators", "first,best,first"],
            "--allocators: first is listed twice",
        ),
        (
            &["--page-sizes", "4K,2M,4K"],
            "--page-sizes: 4 KiB is listed twice",
        ),
        // Scripts' compare_schemes refused 0 registers; the flag took it.
        (&["--segment-registers", "0"], "--segment-registers"),
        (
            &[
                "--workload",
                "allocs:n=10,min=1K,max=64K,live=2,dist=exp,mean=0",
            ],
            "--workload: allocs:mean=0: expected a mean of at least 1 byte",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["compare"];
        args.extend_from_slice(flags);
        let err = refused(&args);
        assert!(err.contains(expected), "{flags:?}: {err}");
    }
}

/// 64 TiB of memory: paging's machine was built with a vector of every
/// frame (128 GiB of host memory) and the process aborted.
#[test]
fn a_huge_memory_costs_no_host_memory_per_frame() {
    let out = stdout_of(&[
        "compare",
        "--mem",
        "64TiB",
        "--allocators",
        "none",
        "--page-sizes",
        "4K",
        "--workload",
        "allocs:n=50,min=1K,max=8K,live=4",
    ]);
    assert!(out.contains("paging"), "{out}");
}
