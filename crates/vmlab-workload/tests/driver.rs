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
