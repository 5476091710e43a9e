//! Miss-ratio-curve throughput on the workload: a deterministic
//! Zipf(1.0) stream over `VMLAB_MRC_PAGES` pages (default 1 000 000) of
//! `VMLAB_MRC_REFS` references (default 10 000 000). Prints references per
//! second for the exact one-pass LRU curve (the target: at least
//! 10 M/s), batched and one reference at a time, and for SHARDS at rate 0.01 and with 8192 pages, with SHARDS's
//! mean absolute error against the exact curve.

use std::time::Instant;
use vmlab_kernel::policy::random::SplitMix64;
use vmlab_workload::mrc::{mean_absolute_error, LruMrc, MissRatioCurve, SampledCurve, Shards};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Zipf(`alpha`) over `pages` pages by inverting the cumulative
/// distribution; ranks scattered over the page numbers by an odd
/// multiplier (a bijection), as real page numbers are not 0, 1, 2.
fn zipf(pages: usize, alpha: f64, n: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(pages);
    let mut sum = 0.0;
    for k in 1..=pages {
        sum += (k as f64).powf(-alpha);
        cdf.push(sum);
    }
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * sum;
            (cdf.partition_point(|&c| c < u) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
        .collect()
}

/// Runs `shards` over `stream`, printing its speed and error.
fn shards(name: &str, mut shards: Shards, stream: &[u64], exact: &MissRatioCurve) {
    let start = Instant::now();
    for &page in stream {
        shards.access(page);
    }
    let curve: SampledCurve = shards.curve();
    let secs = start.elapsed().as_secs_f64();
    let distinct = exact.distinct_pages();
    let sizes: Vec<usize> = (1..=100).map(|k| k * distinct / 100).collect();
    println!(
        "{name:24} {:7.2} M refs/s  ({secs:.2} s, final rate {:.4}, MAE {:.5})",
        stream.len() as f64 / secs / 1e6,
        curve.rate(),
        mean_absolute_error(exact, &curve, &sizes)
    );
}

fn main() {
    let pages = env_or("VMLAB_MRC_PAGES", 1_000_000);
    let refs = env_or("VMLAB_MRC_REFS", 10_000_000);
    let stream = zipf(pages, 1.0, refs, 1);
    println!("zipf(1.0) over {pages} pages, {refs} references");

    // As a streaming trace reader would hand them over: in blocks.
    let start = Instant::now();
    let mut mrc = LruMrc::new();
    for block in stream.chunks(4096) {
        mrc.access_all(block);
    }
    let exact = mrc.curve();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:24} {:7.2} M refs/s  ({secs:.2} s, {} distinct pages, miss ratio at 10%: {:.4})",
        "exact LRU, access_all",
        refs as f64 / secs / 1e6,
        exact.distinct_pages(),
        exact.miss_ratio(pages / 10)
    );

    let start = Instant::now();
    let mut one = LruMrc::new();
    for &page in &stream {
        one.access(page);
    }
    let same = one.curve() == exact;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:24} {:7.2} M refs/s  ({secs:.2} s, same curve: {same})",
        "exact LRU, access",
        refs as f64 / secs / 1e6,
    );

    let Ok(fixed_rate) = Shards::fixed_rate(0.01) else {
        return;
    };
    shards("SHARDS rate 0.01", fixed_rate, &stream, &exact);
    let Ok(fixed_size) = Shards::fixed_size(8192) else {
        return;
    };
    shards("SHARDS 8192 pages", fixed_size, &stream, &exact);
}
