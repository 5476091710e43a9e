//! Processes: the [`Process`] record (address space, page table, swap
//! entries, heap break, stack), how a process ends ([`ExitStatus`],
//! [`Signal`]), and the [`Personality`] that picks Linux's behaviour or a
//! teaching kernel's (Pintos, xv6) where they differ.

use crate::frames::Pid;
use crate::fs::FdTable;
use crate::policy::ghost::KeyMap;
use crate::policy::ReplacementPolicy;
use crate::region::RegionMap;
use serde::Serialize;
use std::fmt;
use vmlab_hw::PageTable;

/// Which kernel's rules apply where kernels differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Personality {
    /// Linux: signals for bad accesses, the stack grows on a fault anywhere
    /// within RLIMIT_STACK below its top.
    Linux,
    /// Pintos: a bad access kills the process with exit status -1; the
    /// stack grows only for faults at most 32 bytes below the stack pointer.
    Pintos,
    /// xv6: a bad access kills the process with exit status -1; one fixed
    /// stack page with an unmapped guard page below it.
    Xv6,
}

/// `si_code` of a SIGSEGV or SIGBUS, as Linux reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SignalCode {
    /// SEGV_MAPERR: no mapping at the address.
    SegvMaperr,
    /// SEGV_ACCERR: the mapping does not allow the access.
    SegvAccerr,
    /// BUS_ADRERR: the address has no backing (past the end of a file).
    BusAdrerr,
    /// Sent by the kernel itself (SI_KERNEL), as the OOM killer does.
    Kernel,
}

/// A signal that ends a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SignalKind {
    /// Invalid memory reference.
    Sigsegv,
    /// Bus error (an access beyond the end of a mapped file).
    Sigbus,
    /// Killed (the out-of-memory killer).
    Sigkill,
}

/// A delivered signal with its cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Signal {
    /// Which signal.
    pub kind: SignalKind,
    /// Why (`si_code`).
    pub code: SignalCode,
    /// The faulting address (`si_addr`), where there is one.
    pub addr: u64,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            SignalKind::Sigsegv => "SIGSEGV",
            SignalKind::Sigbus => "SIGBUS",
            SignalKind::Sigkill => "SIGKILL",
        };
        let code = match self.code {
            SignalCode::SegvMaperr => "SEGV_MAPERR",
            SignalCode::SegvAccerr => "SEGV_ACCERR",
            SignalCode::BusAdrerr => "BUS_ADRERR",
            SignalCode::Kernel => "SI_KERNEL",
        };
        write!(f, "{name} ({code}) at {:#x}", self.addr)
    }
}

/// How a process ended, as `wait` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// It called exit with this status (or a teaching kernel killed it: -1).
    Exited(i32),
    /// A signal terminated it.
    Signaled(Signal),
}

/// Life-cycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running or runnable.
    Live,
    /// Ended, waiting for its parent to collect the status.
    Zombie(ExitStatus),
}

/// Per-process counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessCounters {
    /// Faults resolved without disk I/O.
    pub minor_faults: u64,
    /// Faults that read from disk (swap-ins).
    pub major_faults: u64,
    /// Pages resident now.
    pub resident_pages: u64,
}

/// One process.
pub struct Process {
    /// Its identifier.
    pub pid: Pid,
    /// The parent (0 for the first process).
    pub parent: Pid,
    /// Address-space identifier used to tag its TLB entries.
    pub asid: u16,
    /// Its page table.
    pub page_table: PageTable,
    /// Its regions.
    pub regions: RegionMap,
    /// Virtual pages whose contents are in a swap slot.
    pub swapped: KeyMap<u32>,
    /// Start of the heap.
    pub brk_start: u64,
    /// Current program break.
    pub brk: u64,
    /// Top of the stack (its highest address, exclusive).
    pub stack_top: u64,
    /// The stack pointer, for Pintos's stack-growth rule.
    pub stack_pointer: u64,
    /// Life-cycle state.
    pub state: ProcessState,
    /// Counts.
    pub counters: ProcessCounters,
    /// Its own replacement policy under local replacement (`None` under
    /// global replacement, and while lent out).
    pub policy: Option<Box<dyn ReplacementPolicy>>,
    /// Its file descriptors.
    pub files: FdTable,
}

impl Process {
    /// The swap entries for virtual pages `start >> page_shift` up to (not
    /// including) `end >> page_shift`, as (page number, slot).
    pub fn swapped_between(&self, start: u64, end: u64, page_shift: u8) -> Vec<(u64, u32)> {
        let pages = (start >> page_shift)..(end >> page_shift);
        self.swapped
            .iter()
            .filter(|(vpn, _)| pages.contains(vpn))
            .map(|(&vpn, &slot)| (vpn, slot))
            .collect()
    }

    /// Whether the process is live and maps any part of the shared
    /// anonymous or huge-page object `object`.
    pub fn maps_object(&self, object: u64) -> bool {
        self.state == ProcessState::Live
            && self.regions.iter().any(|r| {
                matches!(r.kind, crate::region::RegionKind::SharedAnonymous { object: o, .. }
                    | crate::region::RegionKind::HugeTlb { object: o, .. } if o == object)
            })
    }
}
