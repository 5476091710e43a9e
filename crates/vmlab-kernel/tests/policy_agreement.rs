//! The whole kernel and the replacement-only simulator must agree: the same
//! reference string, run as stores through TLB, page walk, fault handler and
//! swap, faults exactly as often as the policy alone predicts for the frames
//! left to user pages (those not holding the zero page or page tables).
//! A regression test for the retried access after a fault being reported
//! to the policy as a hit, which sent every new page straight to ARC's T2.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_kernel::policy::random::SplitMix64;
use vmlab_kernel::policy::sim::{next_uses, ReplacementSim};
use vmlab_kernel::policy::{by_name, PolicyParams};
use vmlab_kernel::region::Prot;
use vmlab_kernel::{Kernel, KernelConfig};

const FRAMES: usize = 120;
const PAGES: u64 = 400;

/// A hot set of 60 pages taking 70% of references, the rest uniform.
fn stream() -> Vec<u64> {
    let mut rng = SplitMix64::new(3);
    (0..40_000)
        .map(|_| {
            if rng.below(10) < 7 {
                rng.below(60)
            } else {
                rng.below(PAGES)
            }
        })
        .collect()
}

/// OPT's knowledge of the future for the whole run: the warm-up touches
/// of every page, then `refs`, one reference each.
fn params(refs: &[u64]) -> PolicyParams {
    let all: Vec<u64> = (0..PAGES).chain(refs.iter().copied()).collect();
    PolicyParams {
        next_use: Some(next_uses(&all).into()),
        ..PolicyParams::default()
    }
}

/// Faults in the kernel, and the frames user pages had.
fn kernel_faults(policy: &str, refs: &[u64]) -> (u64, usize) {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, FRAMES);
    config.policy = policy.into();
    config.policy_params = params(refs);
    config.swap_slots = 1024;
    let mut k = Kernel::new(config).unwrap();
    let pid = k.spawn(0).unwrap();
    let base = k
        .mmap_anonymous(pid, 0, PAGES * 4096, Prot::READ | Prot::WRITE, false, false)
        .unwrap();
    // Touch every page once so all page tables exist before memory fills.
    for p in 0..PAGES {
        k.store(pid, base + p * 4096, 8, p).unwrap();
    }
    let tables = (k.page_table_bytes(pid).unwrap() / 4096) as usize;
    let before = k.counters();
    for (i, &p) in refs.iter().enumerate() {
        k.store(pid, base + p * 4096, 8, i as u64).unwrap();
    }
    let after = k.counters();
    // And every page still holds the last value stored in it.
    let mut last = vec![None; PAGES as usize];
    for (i, &p) in refs.iter().enumerate() {
        last[p as usize] = Some(i as u64);
    }
    for (p, value) in last.iter().enumerate() {
        let expected = value.unwrap_or(p as u64);
        assert_eq!(
            k.load(pid, base + p as u64 * 4096, 8).unwrap(),
            expected,
            "{policy}: page {p}"
        );
    }
    let faults =
        after.minor_faults + after.major_faults - before.minor_faults - before.major_faults;
    (faults, FRAMES - 1 - tables)
}

fn sim_faults(policy: &str, frames: usize, refs: &[u64]) -> u64 {
    let mut sim = ReplacementSim::new(by_name(policy, frames, &params(refs)).unwrap(), frames, 0);
    for p in 0..PAGES {
        sim.access(p, true);
    }
    let before = sim.stats().faults;
    for &p in refs {
        sim.access(p, true);
    }
    sim.stats().faults - before
}

#[test]
fn kernel_faults_equal_the_policy_alone() {
    let refs = stream();
    // List-ordered policies whose state depends only on frame order of use,
    // not on frame numbers or a size parameter, agree exactly.
    for policy in ["fifo", "lru", "lfu", "sieve", "second-chance"] {
        let (kernel, frames) = kernel_faults(policy, &refs);
        assert_eq!(
            kernel,
            sim_faults(policy, frames, &refs),
            "{policy} with {frames} user frames"
        );
    }
    // Size-parameterised policies see the whole machine's frame count in the
    // kernel; they agree within a few percent.
    // OPT breaks ties between never-again pages by frame number, which
    // differ between the two.
    for policy in ["arc", "2q", "s3-fifo", "clock", "opt"] {
        let (kernel, frames) = kernel_faults(policy, &refs);
        let sim = sim_faults(policy, frames, &refs);
        let diff = kernel.abs_diff(sim) as f64 / sim as f64;
        assert!(
            diff < 0.03,
            "{policy}: kernel {kernel} vs policy alone {sim}"
        );
    }
}
