//! The full model's numbers on every real translation scheme under every
//! replacement policy, pinned: one line per run (faults, evictions,
//! write-backs, TLB hits, walks, page-table bytes) in a snapshot
//! (`snapshots/pinned_reports__*.snap`).
//!
//! What the numbers should be is tested elsewhere, against independent
//! references (the replacement-only model, hand-worked textbook examples,
//! the architecture manuals' layouts). This test is the other half: work
//! on the simulator's speed must change none of them, on any scheme, so a
//! change that moves a single count fails here and shows which. A change
//! meant to alter the numbers re-records the snapshot (`cargo insta
//! review`, or `INSTA_UPDATE=always`) and says why in its commit.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write;

use vmlab_hw::arch::presets;
use vmlab_kernel::policy::NAMES as POLICIES;
use vmlab_workload::driver::{Machine, Model};
use vmlab_workload::future::give_futures;
use vmlab_workload::gen::GenSpec;
use vmlab_workload::sweep::{Reading, Source};

/// One line per policy of the full model's report on each scheme for the
/// generator `spec` (given the scheme's page size), on `frames` frames
/// and the scheme's default TLB.
fn table(spec: impl Fn(u64) -> String, frames: usize) -> String {
    let mut out = String::from(
        "scheme       policy         faults  evicted  written  TLB hits  walks  table bytes\n",
    );
    for scheme in common::processor_schemes() {
        let arch = presets::by_name(scheme).unwrap().unwrap();
        let source = Source::Generator(spec(arch.page_bytes()).parse::<GenSpec>().unwrap());
        for policy in POLICIES {
            let mut machine = Machine {
                arch: arch.clone(),
                frames,
                policy: policy.to_string(),
                tlb: None,
                future: None,
            };
            give_futures(
                &source,
                [(&mut machine, Model::Full)],
                Reading::InLine,
                None,
            )
            .unwrap();
            let r = source.run(&machine, Model::Full).unwrap();
            writeln!(
                out,
                "{scheme:<12} {policy:<13} {:>7} {:>8} {:>8} {:>9} {:>6} {:>12}",
                r.faults,
                r.evictions,
                r.write_backs,
                r.tlb_hits.unwrap(),
                r.walks.unwrap(),
                r.page_table_bytes.unwrap(),
            )
            .unwrap();
        }
    }
    out
}

/// Scattered references with writes: every policy evicts, dirty pages go
/// to swap and come back, and most accesses miss the TLB.
#[test]
fn zipf_with_writes_on_every_scheme() {
    insta::assert_snapshot!(table(
        |page| format!("zipf:pages=400,alpha=0.9,n=12000,seed=11,page={page},write=0.25"),
        64
    ));
}

/// Phases of a shifting working set: runs of references on few pages,
/// which the TLB's repeat shortcuts take, between changes of phase that
/// fault in bursts.
#[test]
fn phases_on_every_scheme() {
    insta::assert_snapshot!(table(
        |page| format!("phases:pages=600,ws=40,phase=2000,n=12000,seed=5,page={page},write=0.1"),
        64
    ));
}
