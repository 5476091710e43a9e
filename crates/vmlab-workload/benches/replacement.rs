//! The replacement-only model's speed (no page tables, no TLB: which pages
//! are resident, nothing else), the figure to compare with cache
//! simulators: a Zipf(1.0) stream from the crate's generator over
//! `VMLAB_REPL_PAGES` pages (default 1 000 000) with memory for 10% of
//! them, `VMLAB_REPL_REFS` references (default 10 000 000; the size
//! is 50 000 000), for LRU, FIFO, Clock, ARC, SIEVE and S3-FIFO. Prints
//! references per second and the miss ratio.

use std::time::Instant;
use vmlab_kernel::policy::sim::ReplacementSim;
use vmlab_kernel::policy::{by_name, PolicyParams};
use vmlab_workload::gen::GenSpec;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let pages = env_or("VMLAB_REPL_PAGES", 1_000_000);
    let refs = env_or("VMLAB_REPL_REFS", 10_000_000);
    let spec = format!("zipf:pages={pages},alpha=1.0,n={refs},seed=1");
    let stream: Vec<u64> = match spec.parse::<GenSpec>() {
        Ok(spec) => spec.stream().map(|r| r.addr >> 12).collect(),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let frames = (pages / 10) as usize;
    for policy in ["lru", "fifo", "clock", "arc", "sieve", "s3-fifo"] {
        let Ok(p) = by_name(policy, frames, &PolicyParams::default()) else {
            eprintln!("no policy {policy}");
            std::process::exit(1);
        };
        let mut sim = ReplacementSim::new(p, frames, 0);
        let start = Instant::now();
        // As the driver does: each batch's index slots preloaded together.
        for batch in stream.chunks(16) {
            sim.preload(batch);
            for &page in batch {
                sim.access(page, false);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "replacement {policy:8} pages {pages} frames {frames} refs {refs}: {:.1} M refs/s, miss ratio {:.4}",
            refs as f64 / secs / 1e6,
            sim.stats().miss_ratio()
        );
    }
}
