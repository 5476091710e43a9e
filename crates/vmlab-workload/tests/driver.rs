//! The driver's two models agree: the same generated stream run through the
//! whole machine in trace mode faults exactly as often as the replacement-
//! only model predicts for the frames left to user pages (those not
//! holding the zero page or page tables), for list-ordered policies.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_workload::driver::{run, Machine, Model};
use vmlab_workload::gen::GenSpec;

fn machine(policy: &str, frames: usize) -> Machine {
    Machine {
        arch: presets::by_name("x86-64").unwrap().unwrap(),
        frames,
        policy: policy.into(),
        tlb: None,
    }
}

fn stream(
    spec: &str,
) -> impl Iterator<Item = Result<vmlab_workload::op::MemRef, vmlab_workload::trace::TraceError>> {
    spec.parse::<GenSpec>().unwrap().stream().map(Ok)
}

#[test]
fn full_and_replacement_models_agree() {
    let spec = "zipf:pages=300,alpha=0.8,n=20000,seed=7";
    for policy in ["lru", "fifo", "lfu", "sieve"] {
        let full = run(stream(spec), &machine(policy, 64), Model::Full).unwrap();
        let tables = (full.page_table_bytes.unwrap() / 4096) as usize;
        let user_frames = 64 - 1 - tables;
        let repl = run(
            stream(spec),
            &machine(policy, user_frames),
            Model::Replacement,
        )
        .unwrap();
        assert_eq!(full.references, repl.references, "{policy}");
        assert_eq!(full.distinct_pages, repl.distinct_pages, "{policy}");
        assert_eq!(
            full.faults, repl.faults,
            "{policy} with {user_frames} user frames"
        );
        assert!(full.tlb_hits.unwrap() > 0);
    }
}

#[test]
fn unknown_policy_names_the_flag() {
    let err = run(
        stream("seq:pages=4,n=10"),
        &machine("bogus", 16),
        Model::Replacement,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--policy: unknown replacement policy"),
        "{err}"
    );
}

/// A loop over 120 pages in 100 frames under LRU faults on every
/// reference (each page was used longest ago when it comes round), so
/// after the first 120 references every interval's fault rate is 1 and
/// 100 pages stay resident. The series ends on a partial interval, and its
/// last sample is the report's totals, in both models.
#[test]
fn time_series_samples_every_interval() {
    use vmlab_workload::driver::{run_sampled, Sample};
    for model in [Model::Replacement, Model::Full] {
        let mut samples: Vec<Sample> = Vec::new();
        // The full model's frames also hold the zero page and 4 tables.
        let frames = if model == Model::Full { 105 } else { 100 };
        let report = run_sampled(
            stream("loop:pages=120,n=1050"),
            &machine("lru", frames),
            model,
            200,
            &mut |s| samples.push(*s),
        )
        .unwrap();
        let refs: Vec<u64> = samples.iter().map(|s| s.references).collect();
        assert_eq!(refs, [200, 400, 600, 800, 1000, 1050], "{model:?}");
        for s in &samples[1..] {
            assert_eq!(s.interval_fault_rate, 1.0, "{model:?} {s:?}");
            assert_eq!(s.resident_pages, 100, "{model:?} {s:?}");
        }
        let last = samples.last().unwrap();
        assert_eq!(last.faults, report.faults);
        assert_eq!(last.evictions, report.evictions);
        assert_eq!(
            last.interval_tlb_hit_rate.is_some(),
            model == Model::Full,
            "only the full model has a TLB"
        );
    }
}

/// Regression: objects of an oracleGeneral trace with hashed 64-bit ids
/// once became pages at `id * page_size`, outside any user address space
/// (the full model refused the trace) and one page-set block each (the
/// replacement model took ~4 KiB per object).
#[test]
fn oracle_general_trace_with_hashed_ids_runs_in_both_models() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let ids: Vec<u64> = (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect();
    let mut bytes = Vec::new();
    for i in 0..5000u32 {
        let id = ids[(i as usize * 7919) % ids.len() / ((i as usize % 3) + 1)];
        bytes.extend_from_slice(&i.to_le_bytes());
        bytes.extend_from_slice(&id.to_le_bytes());
        bytes.extend_from_slice(&4096u32.to_le_bytes());
        bytes.extend_from_slice(&(-1i64).to_le_bytes());
    }
    let read = || {
        vmlab_workload::trace::oracle::OracleReader::new(
            &bytes[..],
            "hashed.oracleGeneral",
            vmlab_workload::trace::ReadOptions::default(),
        )
    };
    let full = run(read(), &machine("lru", 64), Model::Full).unwrap();
    let tables = (full.page_table_bytes.unwrap() / 4096) as usize;
    let repl = run(read(), &machine("lru", 64 - 1 - tables), Model::Replacement).unwrap();
    assert_eq!(full.distinct_pages, 200);
    assert_eq!(repl.distinct_pages, 200);
    assert_eq!(full.faults, repl.faults);
    // Dense pages: one leaf table and its three ancestors.
    assert_eq!(tables, 4);
}
