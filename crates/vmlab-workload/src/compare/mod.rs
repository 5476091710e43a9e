//! Paging against segmentation on one allocation workload: [`compare`]
//! runs an [`AllocSpec`] stream under segmentation with each free-space
//! allocator ([`segmentation`]) and under paging with each page size
//! ([`paging`]), and reports per configuration, side by side: external
//! fragmentation (largest free block against total free; failed
//! allocations), internal fragmentation, bytes of page or segment tables,
//! translation cost (memory references per access; TLB misses or segment
//! descriptor loads) and compaction cost, plus a time series of
//! fragmentation sampled every so many allocation and free events.
//!
//! Each configuration replays the same events on a fresh machine with
//! `mem` bytes of physical memory for objects. An allocation that fails in
//! one configuration leaves its slot empty there: its later free and
//! accesses are skipped in that configuration only.

pub mod paging;
pub mod segmentation;
pub mod workload;

pub use workload::{parse_size, AllocEvent, AllocEvents, AllocSpec, SizeDist};

use serde::Serialize;
use std::fmt;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::Arch;

/// One paging configuration: a page size on a scheme that has it, with
/// that scheme's TLB.
#[derive(Clone, Debug)]
pub struct PagingConfig {
    /// The translation scheme.
    pub arch: Arch,
    /// Page size as a shift.
    pub page_shift: u8,
    /// The TLB.
    pub tlb: TlbConfig,
}

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Physical memory for objects, in bytes.
    pub mem: u64,
    /// Free-space allocators for segmentation, by
    /// [`vmlab_kernel::freespace::by_name`] name.
    pub allocators: Vec<String>,
    /// Page sizes for paging.
    pub paging: Vec<PagingConfig>,
    /// Compact the arena when a segment allocation fails for want of a
    /// large enough hole.
    pub compact: bool,
    /// Segment registers caching descriptors.
    pub segment_registers: usize,
    /// Allocation and free events between time-series samples (at least 1).
    pub sample_every: u64,
}

/// A configuration that cannot run, or a machine that misbehaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareError {
    /// An allocator name or arena is not accepted.
    Allocator(String),
    /// A page size the scheme cannot map.
    PageSize(String),
    /// Memory too large for the scheme.
    Memory(String),
    /// A TLB that cannot be built.
    Tlb(String),
    /// The simulated machine refused an operation it should accept (a bug).
    Machine(String),
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompareError::Allocator(m)
            | CompareError::PageSize(m)
            | CompareError::Memory(m)
            | CompareError::Tlb(m) => f.write_str(m),
            CompareError::Machine(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for CompareError {}

/// The state of one configuration after some events.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Allocation and free events so far.
    pub event: u64,
    /// Free bytes of physical memory for objects.
    pub free_bytes: u64,
    /// The largest request that can succeed.
    pub largest_free: u64,
    /// `1 - largest_free / free_bytes`.
    pub external_fragmentation: f64,
    /// Bytes the live objects asked for.
    pub live_bytes: u64,
    /// Bytes held by live objects beyond what they asked for.
    pub internal_bytes: u64,
    /// `internal_bytes` over the bytes the live objects hold.
    pub internal_fragmentation: f64,
    /// Allocations failed so far.
    pub failed_allocations: u64,
    /// Bytes of page tables, or of segment descriptors.
    pub table_bytes: u64,
}

/// Everything measured for one configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemeReport {
    /// `segmentation` or `paging`.
    pub scheme: &'static str,
    /// The allocator, or the page size and scheme.
    pub config: String,
    /// Allocations attempted.
    pub allocations: u64,
    /// Allocations refused.
    pub failed_allocations: u64,
    /// The state after the last event.
    pub last: Sample,
    /// Mean external fragmentation over the samples.
    pub mean_external_fragmentation: f64,
    /// Mean internal fragmentation over the samples.
    pub mean_internal_fragmentation: f64,
    /// The most bytes of tables at any time.
    pub peak_table_bytes: u64,
    /// Accesses made (those to objects this configuration holds).
    pub accesses: u64,
    /// Memory references they cost, data included.
    pub memory_references: u64,
    /// `memory_references / accesses`.
    pub references_per_access: f64,
    /// Accesses that missed the translation cache: TLB misses (page
    /// walks), or segment-descriptor loads.
    pub translation_misses: u64,
    /// Compactions.
    pub compactions: u64,
    /// Bytes copied by compactions.
    pub bytes_moved: u64,
    /// Samples taken every [`CompareConfig::sample_every`] events.
    pub series: Vec<Sample>,
}

impl SchemeReport {
    fn new(scheme: &'static str, config: String) -> SchemeReport {
        SchemeReport {
            scheme,
            config,
            allocations: 0,
            failed_allocations: 0,
            last: Sample {
                event: 0,
                free_bytes: 0,
                largest_free: 0,
                external_fragmentation: 0.0,
                live_bytes: 0,
                internal_bytes: 0,
                internal_fragmentation: 0.0,
                failed_allocations: 0,
                table_bytes: 0,
            },
            mean_external_fragmentation: 0.0,
            mean_internal_fragmentation: 0.0,
            peak_table_bytes: 0,
            accesses: 0,
            memory_references: 0,
            references_per_access: 0.0,
            translation_misses: 0,
            compactions: 0,
            bytes_moved: 0,
            series: Vec::new(),
        }
    }
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareReport {
    /// The workload, every key spelled out.
    pub workload: String,
    /// Physical memory for objects, in bytes.
    pub mem: u64,
    /// Events between samples.
    pub sample_every: u64,
    /// One per configuration: segmentation first, in the order asked.
    pub configs: Vec<SchemeReport>,
}

/// One machine being driven through the events.
trait Stepper {
    fn allocate(&mut self, slot: u32, size: u64) -> Result<(), CompareError>;
    fn free(&mut self, slot: u32) -> Result<(), CompareError>;
    fn access(&mut self, slot: u32, offset: u64) -> Result<(), CompareError>;
    fn sample(&self, event: u64) -> Sample;
    fn report(&mut self) -> &mut SchemeReport;
}

/// Replays the workload on `machine`, sampling as configured.
fn drive(
    spec: &AllocSpec,
    every: u64,
    machine: &mut dyn Stepper,
) -> Result<SchemeReport, CompareError> {
    let mut event = 0;
    let mut series = Vec::new();
    for ev in spec.events() {
        match ev {
            AllocEvent::Allocate { slot, size } => machine.allocate(slot, size)?,
            AllocEvent::Free { slot } => machine.free(slot)?,
            AllocEvent::Access { slot, offset } => {
                machine.access(slot, offset)?;
                continue;
            }
        }
        event += 1;
        if event % every == 0 {
            series.push(machine.sample(event));
        }
    }
    let last = machine.sample(event);
    let mean = |f: fn(&Sample) -> f64| {
        if series.is_empty() {
            0.0
        } else {
            series.iter().map(f).sum::<f64>() / series.len() as f64
        }
    };
    let mean_external = mean(|s| s.external_fragmentation);
    let mean_internal = mean(|s| s.internal_fragmentation);
    let r = machine.report();
    r.last = last;
    r.mean_external_fragmentation = mean_external;
    r.mean_internal_fragmentation = mean_internal;
    r.references_per_access = if r.accesses == 0 {
        0.0
    } else {
        r.memory_references as f64 / r.accesses as f64
    };
    r.series = series;
    Ok(r.clone())
}

/// Runs `spec` under every configuration of `config`.
pub fn compare(spec: &AllocSpec, config: &CompareConfig) -> Result<CompareReport, CompareError> {
    let every = config.sample_every.max(1);
    let slots = spec.live as usize;
    let mut configs = Vec::new();
    for name in &config.allocators {
        let mut m = segmentation::Segmented::new(
            name,
            config.mem,
            slots,
            config.segment_registers,
            config.compact,
        )?;
        configs.push(drive(spec, every, &mut m)?);
    }
    for p in &config.paging {
        let mut m = paging::Paged::new(&p.arch, p.page_shift, &p.tlb, config.mem, slots)?;
        configs.push(drive(spec, every, &mut m)?);
    }
    Ok(CompareReport {
        workload: spec.to_string(),
        mem: config.mem,
        sample_every: every,
        configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_hw::arch::presets;
    use vmlab_hw::default_tlb;

    fn config(mem: u64, shifts: &[u8], compact: bool) -> CompareConfig {
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        CompareConfig {
            mem,
            allocators: ["first", "best", "worst", "next", "buddy"]
                .map(String::from)
                .to_vec(),
            paging: shifts
                .iter()
                .map(|&page_shift| PagingConfig {
                    arch: arch.clone(),
                    page_shift,
                    tlb: default_tlb(&arch),
                })
                .collect(),
            compact,
            segment_registers: 6,
            sample_every: 100,
        }
    }

    /// With memory to spare nothing fails, so every configuration holds
    /// the same objects; only the buddy allocator and paging waste bytes
    /// inside them, and the series has one sample per 100 events.
    #[test]
    fn every_configuration_sees_the_same_objects() {
        let spec: AllocSpec = "allocs:n=1000,min=1K,max=16K,live=50,refs=2"
            .parse()
            .unwrap();
        let r = compare(&spec, &config(128 << 20, &[12, 21], false)).unwrap();
        assert_eq!(r.configs.len(), 7);
        let live = r.configs[0].last.live_bytes;
        for c in &r.configs {
            assert_eq!(
                (c.allocations, c.failed_allocations),
                (1000, 0),
                "{}",
                c.config
            );
            assert_eq!(c.last.live_bytes, live);
            assert_eq!(c.last.event, 1000 + 950);
            assert_eq!(c.series.len(), 19);
            assert_eq!(c.accesses, 2 * 1950);
            let wastes = c.config == "buddy" || c.scheme == "paging";
            assert_eq!(c.last.internal_bytes > 0, wastes, "{}", c.config);
            assert!(c.references_per_access >= 1.0);
        }
        assert_eq!(r.configs[0].last.table_bytes, 50 * 8);
        assert_eq!(r.configs[5].config, "4 KiB (x86-64)");
        assert_eq!(r.configs[6].config, "2 MiB (x86-64)");
        assert_eq!(r.workload, spec.to_string());
        assert_eq!(
            compare(&spec, &config(128 << 20, &[12, 21], false)).unwrap(),
            r
        );
    }

    /// In tight memory, free-list segmentation fragments and fails;
    /// compaction recovers every allocation that enough free bytes allow,
    /// at a cost in bytes moved.
    #[test]
    fn compaction_trades_failures_for_copying() {
        let spec: AllocSpec = "allocs:n=3000,min=1K,max=64K,live=100,refs=0"
            .parse()
            .unwrap();
        let plain = compare(&spec, &config(4 << 20, &[], false)).unwrap();
        let packed = compare(&spec, &config(4 << 20, &[], true)).unwrap();
        for (p, c) in plain.configs.iter().zip(&packed.configs).take(4) {
            assert!(p.failed_allocations > 0, "{}", p.config);
            assert!(p.series.iter().any(|s| s.external_fragmentation > 0.0));
            assert!(c.failed_allocations < p.failed_allocations, "{}", c.config);
            assert!(c.compactions > 0 && c.bytes_moved > 0);
        }
        let buddy = &packed.configs[4];
        assert_eq!((buddy.compactions, buddy.bytes_moved), (0, 0));
    }
}
