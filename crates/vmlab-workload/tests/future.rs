//! OPT's future from the pre-pass lines up with the runs: in the
//! replacement model it gives the faults OPT has on the page string built
//! here by hand from the trace (page pieces, calls left out); in the full
//! model OPT faults as the replacement model does on the frames left to
//! user pages, as the other policies' agreement test (driver.rs) has it;
//! one pass serves every run at a page size; where the run's references
//! are not known ahead, OPT is refused.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use vmlab_hw::arch::presets;
use vmlab_kernel::policy::sim::{next_uses, ReplacementSim};
use vmlab_kernel::policy::{by_name, PolicyParams};
use vmlab_workload::driver::{Machine, Model};
use vmlab_workload::future::{give_futures, FutureError};
use vmlab_workload::op::{page_pieces, Op};
use vmlab_workload::sweep::{Reading, Source};
use vmlab_workload::trace::{self, ReadOptions};

fn machine(arch: &str, policy: &str, frames: usize) -> Machine {
    Machine {
        arch: presets::by_name(arch).unwrap().unwrap(),
        frames,
        policy: policy.into(),
        tlb: None,
        future: None,
    }
}

/// `source` run on `machine` in `model`, OPT given its future.
fn run(source: &Source, mut machine: Machine, model: Model) -> vmlab_workload::driver::RunReport {
    give_futures(source, [(&mut machine, model)], Reading::InLine, None).unwrap();
    source.run(&machine, model).unwrap()
}

/// A lackey trace with stores that cross a page boundary, runs on one
/// page, and an mmap call in the middle.
fn lackey() -> String {
    let mut text = String::from("==1== Lackey\n");
    for i in 0..3000u64 {
        text.push_str(&format!("I  {:08x},3\n", 0x0040_0000 + (i * 7) % 9000));
        match i % 3 {
            0 => text.push_str(&format!(" L {:08x},8\n", 0x0600_0000 + (i * 4093) % 90_000)),
            1 => text.push_str(&format!(" S {:08x},4\n", 0x0600_0ffe + (i % 23) * 4096)),
            _ => {}
        }
        if i == 1234 {
            text.push_str("SYSCALL[7,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000)\n");
        }
    }
    text
}

fn scratch_trace(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-future-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.lackey");
    std::fs::write(&path, text).unwrap();
    path
}

/// The trace's page string as the replacement model sees it, built from
/// its records here: every page piece of every access, calls left out.
fn page_string(path: &std::path::Path, page: u64) -> (Vec<u64>, u64) {
    let opts = ReadOptions {
        skip_bad_lines: false,
        page_size: page,
    };
    let mut reader = trace::open(path, None, opts).unwrap();
    let (mut pages, mut calls) = (Vec::new(), 0);
    for op in reader.ops() {
        match op.unwrap() {
            Op::Access(r) => pages.extend(page_pieces(r, page).map(|p| p.addr / page)),
            Op::Syscall(_) => calls += 1,
        }
    }
    (pages, calls)
}

/// OPT on `pages` in `frames`, straight on the replacement model.
fn opt_faults(pages: &[u64], frames: usize) -> u64 {
    let params = PolicyParams {
        next_use: Some(Arc::new(next_uses(pages))),
        ..PolicyParams::default()
    };
    let mut sim = ReplacementSim::new(by_name("opt", frames, &params).unwrap(), frames, 0);
    for &p in pages {
        sim.access(p, false);
    }
    sim.stats().faults
}

#[test]
fn the_pre_pass_sees_the_references_the_replacement_model_does() {
    let path = scratch_trace("lineup", &lackey());
    let source = Source::Trace {
        path: path.clone(),
        format: None,
        skip_bad_lines: false,
    };
    // Two page sizes: the split of crossing stores and the string differ.
    for (arch, page) in [("x86-64", 4096), ("aarch64-16k", 16384)] {
        let (pages, calls) = page_string(&path, page);
        assert_eq!(calls, 1);
        let crossing = pages.len() - 3000 - 2000;
        assert!(crossing > 0, "some stores cross a page");
        for frames in [3, 8, 20] {
            let report = run(&source, machine(arch, "opt", frames), Model::Replacement);
            assert_eq!(report.references, pages.len() as u64, "{arch}");
            assert_eq!(report.faults, opt_faults(&pages, frames), "{arch} {frames}");
            let lru = run(&source, machine(arch, "lru", frames), Model::Replacement);
            assert!(report.faults <= lru.faults, "{arch} {frames}");
        }
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// The full model replays a trace's calls, which may skip accesses: OPT
/// there is refused, saying what to use instead.
#[test]
fn a_trace_with_system_calls_has_no_future_in_the_full_model() {
    let path = scratch_trace("calls", &lackey());
    let source = Source::Trace {
        path: path.clone(),
        format: None,
        skip_bad_lines: false,
    };
    let mut m = machine("x86-64", "opt", 64);
    let err = give_futures(&source, [(&mut m, Model::Full)], Reading::InLine, None).unwrap_err();
    let FutureError::Unavailable(message) = err else {
        panic!("{err}");
    };
    assert!(message.contains("records 1 system calls"), "{message}");
    assert!(message.contains("use --model replacement"), "{message}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// As driver.rs's agreement test for the list-ordered policies: the full
/// model's page tables and zero page take frames, and on the frames left
/// OPT faults as often in the full model as in the replacement model.
#[test]
fn opt_faults_alike_in_both_models_on_the_user_frames() {
    for spec in [
        "zipf:pages=300,alpha=0.8,n=20000,seed=7",
        "matmul:dim=40,elem=512,n=60000",
        "loop:pages=120,n=5000",
    ] {
        let source = Source::Generator(spec.parse().unwrap());
        let full = run(&source, machine("x86-64", "opt", 64), Model::Full);
        let user_frames = 64 - 1 - (full.page_table_bytes.unwrap() / 4096) as usize;
        let repl = run(
            &source,
            machine("x86-64", "opt", user_frames),
            Model::Replacement,
        );
        assert_eq!(full.references, repl.references, "{spec}");
        assert_eq!(full.faults, repl.faults, "{spec} on {user_frames} frames");
    }
}

/// A sweep's OPT runs at one page size share one pass; another page size
/// has its own, and other policies get none.
#[test]
fn one_pass_per_page_size_is_shared() {
    let source = Source::Generator("zipf:pages=500,alpha=1.0,n=3000,seed=2".parse().unwrap());
    let mut machines = [
        (machine("x86-64", "opt", 10), Model::Replacement),
        (machine("x86-64", "opt", 40), Model::Full),
        (machine("x86-64", "lru", 40), Model::Full),
        (machine("aarch64-16k", "opt", 40), Model::Full),
    ];
    let runs = machines.iter_mut().map(|(m, model)| (m, *model));
    give_futures(&source, runs, Reading::InLine, None).unwrap();
    let future = |i: usize| machines[i].0.future.as_ref().map(|f| f.next_use());
    assert!(Arc::ptr_eq(&future(0).unwrap(), &future(1).unwrap()));
    assert!(future(2).is_none());
    assert!(!Arc::ptr_eq(&future(0).unwrap(), &future(3).unwrap()));
    assert_eq!(future(0).unwrap().len(), 3000);
}

/// A workload whose next uses would not fit in the memory given is
/// refused before it is read (a generator says its length), or as soon as
/// the pass outgrows it (a trace does not). The table of pages counts too:
/// the budget once left it out, so 1000 references over 10 pages passed
/// in exactly their 8000 bytes of next uses.
#[test]
fn a_future_larger_than_its_budget_is_refused() {
    let gen = Source::Generator("uniform:pages=10,n=1000".parse().unwrap());
    let mut m = machine("x86-64", "opt", 4);
    for budget in [7999, 8000] {
        let err = give_futures(
            &gen,
            [(&mut m, Model::Replacement)],
            Reading::InLine,
            Some(budget),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("which for this workload's 1000 references outgrow the 0.0 GiB left"),
            "{err}"
        );
    }
    assert!(give_futures(
        &gen,
        [(&mut m, Model::Replacement)],
        Reading::InLine,
        Some(9000)
    )
    .is_ok());
    let path = scratch_trace("budget", &lackey());
    let trace = Source::Trace {
        path: path.clone(),
        format: None,
        skip_bad_lines: false,
    };
    let mut m = machine("x86-64", "opt", 4);
    let err = give_futures(
        &trace,
        [(&mut m, Model::Replacement)],
        Reading::OnThread,
        Some(800),
    )
    .unwrap_err();
    // Where the pass stops depends on how its tables grow.
    assert!(
        err.to_string().contains("which for the first ")
            && err
                .to_string()
                .contains(" references of this workload outgrow the 0.0 GiB left"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
