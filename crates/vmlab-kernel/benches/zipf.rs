//! Kernel throughput on the workload: a deterministic Zipf(1.0)
//! stream of page references over `PAGES` distinct pages, with memory for
//! 10% of them, through the whole machine: TLB, page walk, fault handler,
//! replacement policy. Two ways: "anon" stores 8 bytes per reference into
//! anonymous memory, so every byte must survive eviction to swap and back
//! (4 KiB copied out and in per fault pair); "trace" reads backed memory,
//! a trace's page references with no contents kept (read in on a fault,
//! dropped when clean). Prints references per second and the fault rate
//! for LRU, Clock, ARC and S3-FIFO.
//!
//! Sizes: `VMLAB_ZIPF_PAGES` (default 100 000) and `VMLAB_ZIPF_REFS`
//! (default 2 000 000); the full size is 1 000 000 and 50 000 000.

use std::time::Instant;
use vmlab_hw::arch::presets;
use vmlab_kernel::policy::random::SplitMix64;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{Kernel, KernelConfig};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Page indices drawn from Zipf(`alpha`) over `pages` pages by inverting
/// the cumulative distribution (binary search over precomputed sums).
fn zipf_stream(pages: u64, alpha: f64, n: u64, seed: u64) -> Vec<u32> {
    let mut cdf = Vec::with_capacity(pages as usize);
    let mut sum = 0.0;
    for k in 1..=pages {
        sum += 1.0 / (k as f64).powf(alpha);
        cdf.push(sum);
    }
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * sum;
            cdf.partition_point(|&c| c < u) as u32
        })
        .collect()
}

fn main() {
    let pages = env_or("VMLAB_ZIPF_PAGES", 100_000);
    let refs = env_or("VMLAB_ZIPF_REFS", 2_000_000);
    let stream = zipf_stream(pages, 1.0, refs, 1);
    let Some(Ok(arch)) = presets::by_name("x86-64") else {
        eprintln!("no x86-64 preset");
        std::process::exit(1);
    };
    for mode in ["anon", "trace"] {
        for policy in ["lru", "clock", "arc", "s3-fifo"] {
            run(&arch, mode, policy, pages, &stream);
        }
    }
}

fn run(arch: &vmlab_hw::Arch, mode: &str, policy: &str, pages: u64, stream: &[u32]) {
    let mut config = KernelConfig::new(arch.clone(), (pages / 10) as usize);
    config.policy = policy.into();
    config.swap_slots = pages as u32 + 1024;
    let Ok(mut k) = Kernel::new(config) else {
        eprintln!("cannot boot the machine");
        std::process::exit(1);
    };
    let Ok(pid) = k.spawn(0) else {
        std::process::exit(1);
    };
    let rw = Prot::READ | Prot::WRITE;
    let mapped = if mode == "trace" {
        k.map_backed(pid, None, pages * 4096, rw)
    } else {
        k.mmap_anonymous(pid, 0, pages * 4096, rw, false, false)
    };
    let Ok(base) = mapped else {
        std::process::exit(1);
    };
    let start = Instant::now();
    for (i, &page) in stream.iter().enumerate() {
        let at = base + u64::from(page) * 4096;
        let done = if mode == "trace" {
            k.load(pid, at, 8).map(|_| ())
        } else {
            k.store(pid, at, 8, i as u64)
        };
        if done.is_err() {
            eprintln!("{mode} {policy}: reference {i} failed");
            std::process::exit(1);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let c = k.counters();
    let refs = stream.len() as f64;
    println!(
        "zipf {mode:5} {policy:8} pages {pages} frames {} refs {}: {:.2} M refs/s, fault rate {:.4} (minor {}, major {}, swap-outs {}, write-backs {})",
        pages / 10,
        stream.len(),
        refs / secs / 1e6,
        (c.minor_faults + c.major_faults) as f64 / refs,
        c.minor_faults,
        c.major_faults,
        c.swap_outs,
        c.write_backs
    );
}
