//! The cost model: [`CostModel`] turns what a run counted ([`CostCounts`])
//! into time, split into user, kernel and disk time ([`TimeSplit`]). This
//! is how vmlab answers "what does a system call cost compared with a
//! library call" or "what did that page fault cost" in nanoseconds rather
//! than in events.
//!
//! The model is additive: each event has a price and the total is the sum
//! of counts times prices, with no overlap between events (a real core
//! overlaps memory accesses; the model does not). The prices are data, so a
//! config file can change any of them (missing fields keep their default),
//! and [`CostModel::cycles`] converts a time to cycles at the model's clock.
//!
//! What goes where:
//! - user time: what the hardware does for the program's loads and stores:
//!   TLB hits and misses, the accesses themselves, and the page-walk reads
//!   of TLB misses;
//! - kernel time: mode switches, system-call dispatch, fault handling,
//!   context switches, TLB shootdowns, page copies and zeroing, and copies
//!   between user memory and the kernel (the kernel's own memory accesses
//!   are part of these prices, not counted one by one);
//! - disk time: what the block devices report
//!   ([`BlockCounters::busy_ns`](crate::blockdev::BlockCounters::busy_ns)),
//!   spent waiting, since vmlab's I/O is synchronous.
//!
//! Prices for the default machine, a ~3 GHz x86-64 core running Linux
//! (1 cycle ≈ 0.33 ns). Measured costs vary by several times between
//! machines, kernels and mitigation settings; these are representative
//! values, and the sources give ranges.
//!
//! | field | default | prices | source |
//! |-------|---------|--------|--------|
//! | `clock_ghz` | 3.0 | ns ↔ cycles | a typical desktop or server x86-64 clock |
//! | `tlb_hit_ns` | 0.33 (1 cycle) | a translation found in a TLB | the L1 DTLB is probed in parallel with the virtually indexed L1 data cache, so a hit adds next to nothing to a load (Intel 64 and IA-32 Architectures Optimization Reference Manual); 1 cycle stands for it |
//! | `tlb_miss_ns` | 3.0 (9 cycles) | a lookup that missed every TLB, before the walk | the second-level TLB probe, several cycles on current Intel and AMD cores (Intel optimization manual; Agner Fog, *The microarchitecture of Intel, AMD and VIA CPUs*) |
//! | `memory_access_ns` | 1.33 (4 cycles) | one load or store of the program | an L1 data-cache hit, 4–5 cycles on Intel cores since Skylake (Intel optimization manual); vmlab models no data cache, and most accesses of real programs hit L1. Use 100 ns to price every access as DRAM, as textbook exercises do ("main memory reference: 100 ns", *Latency numbers every programmer should know*) |
//! | `walk_read_ns` | 4.0 (12 cycles) | one page-table entry read by the walker | an L2 cache hit, about 12 cycles on Skylake-class cores (Intel optimization manual): the walker reads entries through the caches, where the upper levels nearly always are |
//! | `mode_switch_ns` | 40 | one crossing between user and kernel mode, either way | `syscall`/`sysret` or an exception and `iret`, with register saving and, under Meltdown mitigation (KPTI), a page-table switch; set so that a null system call, two crossings plus dispatch, costs the ~100 ns lmbench's `lat_syscall null` (`getppid`) measures on current x86-64 Linux |
//! | `syscall_ns` | 20 | dispatching one system call, besides its crossings | the rest of lmbench's ~100 ns null call |
//! | `minor_fault_ns` | 700 | handling a minor fault, besides its crossings and any zeroing or copying | a first touch of an anonymous page costs about 1 µs on current Linux: 80 ns of crossings, 700 ns of handler (find the region, take a frame, set the entry), 256 ns of zeroing |
//! | `major_fault_ns` | 5000 | handling a major fault, besides its crossings and the device time | the kernel's software path of one block I/O (submission, completion interrupt, waking the faulting process): a few µs, which matters only on fast devices |
//! | `context_switch_ns` | 2000 | one switch between processes (saving, scheduling, address-space switch) | lmbench's `lat_ctx` between two processes with tiny working sets: 1–3 µs on current x86-64 Linux; "2–5 µs" is the usual rule. The TLB refills that follow are counted as walks |
//! | `shootdown_ns` | 2000 | one TLB shootdown: an inter-processor interrupt to another core and waiting for its acknowledgement | an IPI round trip, 1–3 µs on current x86-64 servers (per core targeted) |
//! | `copy_bytes_per_ns` | 8 (GB/s) | copy-on-write page copies and copies between user memory and the kernel | a 4 KiB `memcpy` within the caches in about 0.5 µs |
//! | `zero_bytes_per_ns` | 16 (GB/s) | zeroing pages | clearing only writes, about twice as fast as copying: 4 KiB in about 0.25 µs |
//!
//! The counts follow the kernel's own bookkeeping: a system call is two
//! mode switches and one system call; a fault is two mode switches and one
//! minor or major fault, plus a page zeroing (demand-zero), a page copy
//! (copy-on-write) and device time (swap-in) where it did them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The price of each event, as data. `Default` is a ~3 GHz x86-64 machine
/// running Linux; see the module documentation for each number's source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostModel {
    /// Core clock, for [`cycles`](CostModel::cycles), in GHz.
    pub clock_ghz: f64,
    /// A translation found in a TLB, in ns.
    pub tlb_hit_ns: f64,
    /// A lookup that missed every TLB level, before the walk, in ns.
    pub tlb_miss_ns: f64,
    /// One load or store of the program, in ns.
    pub memory_access_ns: f64,
    /// One page-table entry read by the page walker, in ns.
    pub walk_read_ns: f64,
    /// One crossing between user and kernel mode (either way), in ns.
    pub mode_switch_ns: f64,
    /// Dispatching one system call, besides its mode switches, in ns.
    pub syscall_ns: f64,
    /// Handling one minor fault, besides its mode switches and any page
    /// zeroing or copying, in ns.
    pub minor_fault_ns: f64,
    /// Handling one major fault, besides its mode switches and the device
    /// time, in ns.
    pub major_fault_ns: f64,
    /// One switch between processes, in ns.
    pub context_switch_ns: f64,
    /// One TLB shootdown (an inter-processor interrupt and its
    /// acknowledgement), in ns.
    pub shootdown_ns: f64,
    /// Copy speed of the kernel, in bytes per ns (numerically GB/s).
    pub copy_bytes_per_ns: f64,
    /// Page-zeroing speed of the kernel, in bytes per ns (numerically GB/s).
    pub zero_bytes_per_ns: f64,
}

impl Default for CostModel {
    fn default() -> CostModel {
        CostModel {
            clock_ghz: 3.0,
            tlb_hit_ns: 0.33,
            tlb_miss_ns: 3.0,
            memory_access_ns: 1.33,
            walk_read_ns: 4.0,
            mode_switch_ns: 40.0,
            syscall_ns: 20.0,
            minor_fault_ns: 700.0,
            major_fault_ns: 5_000.0,
            context_switch_ns: 2_000.0,
            shootdown_ns: 2_000.0,
            copy_bytes_per_ns: 8.0,
            zero_bytes_per_ns: 16.0,
        }
    }
}

/// A cost model whose numbers make no sense: which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostModelError {
    /// The offending field of [`CostModel`].
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for CostModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cost model {}: {}", self.field, self.message)
    }
}

impl std::error::Error for CostModelError {}

/// What a run counted, in the kernel's terms: the input of
/// [`CostModel::time`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostCounts {
    /// Translations found in a TLB.
    pub tlb_hits: u64,
    /// Lookups that missed every TLB level (each followed by a walk).
    pub tlb_misses: u64,
    /// Loads and stores of user code (an access split at a page boundary
    /// counts twice).
    pub memory_accesses: u64,
    /// Page-table entries read by the page walker.
    pub walk_reads: u64,
    /// Crossings between user and kernel mode, each way counted.
    pub mode_switches: u64,
    /// System calls.
    pub syscalls: u64,
    /// Faults resolved without I/O.
    pub minor_faults: u64,
    /// Faults that waited for a device.
    pub major_faults: u64,
    /// Switches between processes.
    pub context_switches: u64,
    /// TLB shootdowns.
    pub shootdowns: u64,
    /// Pages copied (copy-on-write).
    pub page_copies: u64,
    /// Pages zeroed (demand-zero memory, new heap).
    pub page_zeroes: u64,
    /// Bytes the kernel copied between user memory and itself (the buffers
    /// of `read` and `write`).
    pub user_copy_bytes: u64,
    /// Time the block devices were busy, in ns.
    pub disk_ns: u64,
}

/// Where the time went, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TimeSplit {
    /// Time in user mode: the program's memory accesses and their
    /// translation.
    pub user_ns: f64,
    /// Time in the kernel: mode switches, system calls, faults, switches,
    /// shootdowns, copies and zeroing.
    pub kernel_ns: f64,
    /// Time waiting for devices.
    pub disk_ns: f64,
}

impl TimeSplit {
    /// User, kernel and disk time together, in ns.
    pub fn total_ns(&self) -> f64 {
        self.user_ns + self.kernel_ns + self.disk_ns
    }
}

impl CostModel {
    /// Checks that every price is a finite, non-negative number and every
    /// speed and the clock positive.
    pub fn check(&self) -> Result<(), CostModelError> {
        let positive = [
            ("clock_ghz", self.clock_ghz),
            ("copy_bytes_per_ns", self.copy_bytes_per_ns),
            ("zero_bytes_per_ns", self.zero_bytes_per_ns),
        ];
        for (field, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(CostModelError {
                    field,
                    message: format!("must be a positive number, not {value}"),
                });
            }
        }
        let prices = [
            ("tlb_hit_ns", self.tlb_hit_ns),
            ("tlb_miss_ns", self.tlb_miss_ns),
            ("memory_access_ns", self.memory_access_ns),
            ("walk_read_ns", self.walk_read_ns),
            ("mode_switch_ns", self.mode_switch_ns),
            ("syscall_ns", self.syscall_ns),
            ("minor_fault_ns", self.minor_fault_ns),
            ("major_fault_ns", self.major_fault_ns),
            ("context_switch_ns", self.context_switch_ns),
            ("shootdown_ns", self.shootdown_ns),
        ];
        for (field, value) in prices {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CostModelError {
                    field,
                    message: format!("must be a number of ns, 0 or more, not {value}"),
                });
            }
        }
        Ok(())
    }

    /// The time `counts` took on a machine with pages of `page_size` bytes
    /// (which sizes page copies and zeroing).
    pub fn time(&self, counts: &CostCounts, page_size: u64) -> TimeSplit {
        let n = |count: u64| count as f64;
        let page = n(page_size);
        let user_ns = n(counts.tlb_hits) * self.tlb_hit_ns
            + n(counts.tlb_misses) * self.tlb_miss_ns
            + n(counts.memory_accesses) * self.memory_access_ns
            + n(counts.walk_reads) * self.walk_read_ns;
        let kernel_ns = n(counts.mode_switches) * self.mode_switch_ns
            + n(counts.syscalls) * self.syscall_ns
            + n(counts.minor_faults) * self.minor_fault_ns
            + n(counts.major_faults) * self.major_fault_ns
            + n(counts.context_switches) * self.context_switch_ns
            + n(counts.shootdowns) * self.shootdown_ns
            + (n(counts.page_copies) * page + n(counts.user_copy_bytes)) / self.copy_bytes_per_ns
            + n(counts.page_zeroes) * page / self.zero_bytes_per_ns;
        TimeSplit {
            user_ns,
            kernel_ns,
            disk_ns: n(counts.disk_ns),
        }
    }

    /// `ns` in cycles of the model's clock.
    pub fn cycles(&self, ns: f64) -> f64 {
        ns * self.clock_ghz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    #[test]
    fn system_calls_and_minor_faults() {
        // 1000 null system calls and 3 demand-zero faults: 2006 crossings,
        // 1000 dispatches, 3 handlers, 3 pages zeroed.
        let counts = CostCounts {
            mode_switches: 2 * (1000 + 3),
            syscalls: 1000,
            minor_faults: 3,
            page_zeroes: 3,
            ..CostCounts::default()
        };
        let model = CostModel::default();
        let time = model.time(&counts, PAGE);
        // 2006 × 40 + 1000 × 20 + 3 × 700 + 3 × 4096 / 16
        // = 80240 + 20000 + 2100 + 768.
        assert_eq!(time.kernel_ns, 103_108.0);
        assert_eq!((time.user_ns, time.disk_ns), (0.0, 0.0));
        assert_eq!(time.total_ns(), 103_108.0);
        assert_eq!(model.cycles(time.total_ns()), 309_324.0);
    }

    #[test]
    fn a_null_system_call_costs_about_100_ns_and_a_minor_fault_about_1_us() {
        let model = CostModel::default();
        let syscall = CostCounts {
            mode_switches: 2,
            syscalls: 1,
            ..CostCounts::default()
        };
        assert_eq!(model.time(&syscall, PAGE).kernel_ns, 100.0);
        let fault = CostCounts {
            mode_switches: 2,
            minor_faults: 1,
            page_zeroes: 1,
            ..CostCounts::default()
        };
        assert_eq!(model.time(&fault, PAGE).kernel_ns, 80.0 + 700.0 + 256.0);
    }

    #[test]
    fn major_faults_copies_and_switches() {
        // A swap-in from the SSD preset (82048 ns of device time), then a
        // copy-on-write copy, a 64-byte read(2), a context switch and a
        // shootdown.
        let counts = CostCounts {
            mode_switches: 4,
            syscalls: 1,
            major_faults: 1,
            page_copies: 1,
            user_copy_bytes: 64,
            context_switches: 1,
            shootdowns: 1,
            disk_ns: 82_048,
            ..CostCounts::default()
        };
        let time = CostModel::default().time(&counts, PAGE);
        // 4 × 40 + 20 + 5000 + (4096 + 64) / 8 + 2000 + 2000.
        assert_eq!(time.kernel_ns, 160.0 + 20.0 + 5_000.0 + 520.0 + 4_000.0);
        assert_eq!(time.disk_ns, 82_048.0);
    }

    #[test]
    fn textbook_effective_access_time() {
        // Operating System Concepts' classic example: 20 ns to search the
        // TLB, 100 ns per memory access, one-level page table, 80% hit
        // ratio: 0.8 × 120 + 0.2 × 220 = 140 ns per access.
        let model = CostModel {
            tlb_hit_ns: 20.0,
            tlb_miss_ns: 20.0,
            memory_access_ns: 100.0,
            walk_read_ns: 100.0,
            ..CostModel::default()
        };
        let counts = CostCounts {
            memory_accesses: 100,
            tlb_hits: 80,
            tlb_misses: 20,
            walk_reads: 20,
            ..CostCounts::default()
        };
        assert_eq!(model.time(&counts, PAGE).user_ns / 100.0, 140.0);
    }

    #[test]
    fn page_size_scales_copies() {
        let counts = CostCounts {
            page_copies: 2,
            page_zeroes: 2,
            ..CostCounts::default()
        };
        // 1 KiB pages of a teaching machine: 2 × 1024 / 8 + 2 × 1024 / 16.
        assert_eq!(
            CostModel::default().time(&counts, 1024).kernel_ns,
            256.0 + 128.0
        );
    }

    #[test]
    fn nonsense_prices_are_errors() {
        assert_eq!(CostModel::default().check(), Ok(()));
        let model = CostModel {
            copy_bytes_per_ns: 0.0,
            ..CostModel::default()
        };
        assert_eq!(model.check().unwrap_err().field, "copy_bytes_per_ns");
        let model = CostModel {
            syscall_ns: f64::NAN,
            ..CostModel::default()
        };
        assert_eq!(model.check().unwrap_err().field, "syscall_ns");
        let model = CostModel {
            walk_read_ns: -1.0,
            ..CostModel::default()
        };
        assert_eq!(model.check().unwrap_err().field, "walk_read_ns");
    }
}
