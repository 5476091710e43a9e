//! Accounting that answers "library function or system call?" with
//! numbers: how many times the program called each library function,
//! how many times the library called each system call, how many loads and
//! stores user code made, and what the kernel did meanwhile, turned into
//! time by the kernel's [`CostModel`]. The counts cover every process of
//! one [`Libc`], from its creation on.
//!
//! System calls are counted in the library's wrappers (`sys`), by name:
//! the wrapper is where a real C library executes the `syscall`
//! instruction, and the library is the only way its programs reach the
//! kernel. (The kernel's own total, `KernelCounters::syscalls`, agrees,
//! but also counts calls made on the kernel directly to set a process
//! up, and has no names.) Each wrapper takes a snapshot of the kernel's
//! and the MMU's counters before and after the call, so what happened
//! inside system calls (the kernel copying a buffer, faulting pages in)
//! is told apart from what user code caused.
//!
//! Library calls are counted once per call from the program: a library
//! function calling another (printf allocating its buffer with malloc)
//! is not a second library call, as it is not a call through the PLT.
//!
//! How the counts become [`CostCounts`]:
//! - memory accesses: the loads and stores of user code, a word (8
//!   bytes) at a time for bulk moves ([`crate::words`]);
//! - TLB misses and walk reads: the MMU's walks and walk reads outside
//!   system calls; TLB hits: the other user accesses (the MMU sees one
//!   translation per page piece of a bulk move, the hardware one per
//!   access, and the rest hit the entry the first one filled);
//! - mode switches: two per system call and two per fault taken in user
//!   mode (a fault inside a system call does not change mode);
//! - faults, page zeroing and copy-on-write copies, context switches,
//!   shootdowns: the kernel's counters; disk time: the file system's and
//!   the swap device's busy time; user-copy bytes: what read and write
//!   moved.

use crate::Libc;
use std::collections::BTreeMap;
use vmlab_kernel::cost::{CostCounts, CostModel, TimeSplit};
use vmlab_kernel::Kernel;

/// The kernel and MMU counters the accounting follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    minor_faults: u64,
    major_faults: u64,
    zero_fills: u64,
    cow_copies: u64,
    context_switches: u64,
    shootdowns: u64,
    walks: u64,
    walk_reads: u64,
    disk_ns: u64,
}

impl Snapshot {
    pub(crate) fn of(kernel: &Kernel) -> Snapshot {
        let k = kernel.counters();
        let mmu = kernel.mmu().counters();
        Snapshot {
            minor_faults: k.minor_faults,
            major_faults: k.major_faults,
            zero_fills: k.zero_fills,
            cow_copies: k.cow_copies,
            context_switches: k.context_switches,
            shootdowns: k.tlb_shootdowns,
            walks: mmu.walks,
            walk_reads: mmu.walk_reads,
            disk_ns: kernel.files().disk_counters().busy_ns
                + kernel.swap().device().counters().busy_ns,
        }
    }

    fn faults(&self) -> u64 {
        self.minor_faults + self.major_faults
    }

    /// `op` of each field of `self` and `other`.
    fn combine(&self, other: &Snapshot, op: impl Fn(u64, u64) -> u64) -> Snapshot {
        Snapshot {
            minor_faults: op(self.minor_faults, other.minor_faults),
            major_faults: op(self.major_faults, other.major_faults),
            zero_fills: op(self.zero_fills, other.zero_fills),
            cow_copies: op(self.cow_copies, other.cow_copies),
            context_switches: op(self.context_switches, other.context_switches),
            shootdowns: op(self.shootdowns, other.shootdowns),
            walks: op(self.walks, other.walks),
            walk_reads: op(self.walk_reads, other.walk_reads),
            disk_ns: op(self.disk_ns, other.disk_ns),
        }
    }

    /// `self - earlier`, field by field.
    fn since(&self, earlier: &Snapshot) -> Snapshot {
        self.combine(earlier, |now, then| now - then)
    }
}

/// What the library counts as it runs.
#[derive(Clone, Debug)]
pub(crate) struct Meter {
    /// The counters when counting started.
    start: Snapshot,
    /// What happened inside system calls.
    in_syscalls: Snapshot,
    pub(crate) library_calls: BTreeMap<&'static str, u64>,
    pub(crate) system_calls: BTreeMap<&'static str, u64>,
    pub(crate) user_accesses: u64,
    pub(crate) user_copy_bytes: u64,
}

impl Meter {
    pub(crate) fn new(kernel: &Kernel) -> Meter {
        Meter {
            start: Snapshot::of(kernel),
            in_syscalls: Snapshot::default(),
            library_calls: BTreeMap::new(),
            system_calls: BTreeMap::new(),
            user_accesses: 0,
            user_copy_bytes: 0,
        }
    }

    /// Counts a call of the library function `name` by the program.
    pub(crate) fn call(&mut self, name: &'static str) {
        *self.library_calls.entry(name).or_default() += 1;
    }

    /// System calls counted so far.
    pub(crate) fn system_call_total(&self) -> u64 {
        self.system_calls.values().sum()
    }

    /// Counts the system call `name`, which took the kernel from `before`
    /// to `after`.
    pub(crate) fn syscall(&mut self, name: &'static str, before: &Snapshot, after: &Snapshot) {
        *self.system_calls.entry(name).or_default() += 1;
        let inside = after.since(before);
        self.in_syscalls = self.in_syscalls.combine(&inside, |sum, d| sum + d);
    }
}

/// The library-versus-kernel numbers of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Accounting {
    /// Calls of each library function by the program.
    pub library_calls: BTreeMap<&'static str, u64>,
    /// Calls of each system call by the library.
    pub system_calls: BTreeMap<&'static str, u64>,
    /// The counts the cost model prices.
    pub counts: CostCounts,
}

impl Accounting {
    /// Calls of library function `name`.
    pub fn library(&self, name: &str) -> u64 {
        self.library_calls.get(name).copied().unwrap_or(0)
    }

    /// Calls of system call `name`.
    pub fn syscall(&self, name: &str) -> u64 {
        self.system_calls.get(name).copied().unwrap_or(0)
    }

    /// All library calls.
    pub fn library_total(&self) -> u64 {
        self.library_calls.values().sum()
    }

    /// All system calls.
    pub fn syscall_total(&self) -> u64 {
        self.system_calls.values().sum()
    }
}

impl Libc {
    /// The numbers since [`Libc::new`].
    pub fn accounting(&self) -> Accounting {
        let m = &self.meter;
        let total = Snapshot::of(&self.kernel).since(&m.start);
        let inside = &m.in_syscalls;
        let syscalls = m.system_call_total();
        let user_faults = total.faults() - inside.faults();
        let user_walks = total.walks - inside.walks;
        let counts = CostCounts {
            tlb_hits: m.user_accesses.saturating_sub(user_walks),
            tlb_misses: user_walks,
            memory_accesses: m.user_accesses,
            walk_reads: total.walk_reads - inside.walk_reads,
            mode_switches: 2 * syscalls + 2 * user_faults,
            syscalls,
            minor_faults: total.minor_faults,
            major_faults: total.major_faults,
            context_switches: total.context_switches,
            shootdowns: total.shootdowns,
            page_copies: total.cow_copies,
            page_zeroes: total.zero_fills,
            user_copy_bytes: m.user_copy_bytes,
            disk_ns: total.disk_ns,
        };
        Accounting {
            library_calls: m.library_calls.clone(),
            system_calls: m.system_calls.clone(),
            counts,
        }
    }

    /// The time the run took under `model`, split into user, kernel and
    /// disk time.
    pub fn time(&self, model: &CostModel) -> TimeSplit {
        model.time(&self.accounting().counts, self.kernel.page_bytes())
    }
}
