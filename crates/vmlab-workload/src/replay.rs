//! Replaying a real program's address-space system calls during a run
//! ([`Replay`]), so the simulated process has the regions the program had:
//! brk sets the break (the first one places the heap where the program's
//! was), mmap maps at the recorded address with `MAP_FIXED` semantics,
//! munmap, mprotect and mremap apply to what is there.
//!
//! What the trace cannot say is filled in as trace mode does: the
//! loader's mappings (the program's text and data, the dynamic linker, the
//! stack) were made before the first recorded call, so a page that no
//! recorded call mapped is backed memory that already exists
//! ([`Kernel::map_backed`]), readable, writable and executable, mapped on
//! its first access. A file mapping (mmap with a descriptor) is backed
//! memory too, with the recorded protection: its pages come from a
//! backing store, not from zeroes. An anonymous mapping and the heap are
//! demand-zero, as in the program.
//!
//! Two departures, counted in the [`ReplayReport`] rather than hidden:
//! - a call whose replay gives another result than the recording (the
//!   simulated kernel placed or refused it differently) is counted in
//!   `differing`, and the run goes on with what the simulated kernel did;
//! - an access the regions do not allow (a write to a read-only page, any
//!   access to a `PROT_NONE` one, a fetch from a non-executable one) would
//!   end the program with SIGSEGV; a recorded program survived it (under
//!   Valgrind, or with a handler), so the replay counts it in
//!   `refused_accesses`, skips it, and goes on. mremap moves a mapping's
//!   range but not its resident pages: they fault in again at the new
//!   place.

use crate::syscall::{AddressCall, SysResult, Syscall};
use serde::Serialize;
use vmlab_hw::AccessKind;
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region::{Prot, RegionKind};
use vmlab_kernel::{Errno, Kernel, BACKING_STORE};

/// Linux's `MREMAP_DONTUNMAP`: the old range stays mapped.
const MREMAP_DONTUNMAP: u32 = 4;

/// What a replay did, for the run's report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Recorded system calls, all kinds.
    pub syscalls: u64,
    /// brk calls.
    pub brk: u64,
    /// mmap calls.
    pub mmap: u64,
    /// munmap calls.
    pub munmap: u64,
    /// mprotect calls.
    pub mprotect: u64,
    /// mremap calls.
    pub mremap: u64,
    /// Calls that failed in the recording (they changed nothing, so the
    /// replay does nothing for them).
    pub failed_in_recording: u64,
    /// Calls whose replayed result differed from the recorded one.
    pub differing: u64,
    /// Pages outside every recorded mapping (the loader's), mapped as
    /// backed memory on first access or when a call needed them, from the
    /// first system call on (pages touched before it were mapped by trace
    /// mode alike and are not counted here).
    pub loader_pages: u64,
    /// Faults resolved without I/O over the whole run: demand-zero pages
    /// of the heap and anonymous mappings, chiefly.
    pub minor_faults: u64,
    /// Faults that read a page in: backed (loader and file) pages.
    pub major_faults: u64,
    /// Accesses the regions refused (SIGSEGV in the program), skipped.
    pub refused_accesses: u64,
    /// The first refused access's address.
    pub first_refused: Option<u64>,
}

/// The state of a replay: its counts, whether the heap has been placed,
/// and the protection of the page the stream is on.
#[derive(Clone, Debug)]
pub struct Replay {
    report: ReplayReport,
    heap_placed: bool,
    page_prot: Prot,
}

impl Default for Replay {
    fn default() -> Replay {
        Replay::new()
    }
}

/// Whether a region's protection allows an access, by the rule the
/// kernel's fault handler applies (x86's `access_error`: any protection
/// but `PROT_NONE` makes a page readable).
fn allows(prot: Prot, kind: AccessKind) -> bool {
    match kind {
        AccessKind::Read => !prot.is_empty(),
        AccessKind::Write => prot.contains(Prot::WRITE),
        AccessKind::Fetch => prot.contains(Prot::EXEC),
    }
}

/// What a loader's page allows: everything, since the trace does not say.
const LOADER_PROT: Prot = Prot::READ.union(Prot::WRITE).union(Prot::EXEC);

/// How a mapping is backed when replayed.
#[derive(Clone, Copy)]
enum Backing {
    /// Demand-zero memory, shared between forks or private.
    Anonymous { shared: bool },
    /// Pages that exist on a backing store (files, the loader's pages).
    Backed,
}

impl Replay {
    /// A replay that has applied nothing yet.
    pub fn new() -> Replay {
        Replay {
            report: ReplayReport::default(),
            heap_placed: false,
            page_prot: LOADER_PROT,
        }
    }

    /// What the replay did, with the fault split of `k`, the kernel it
    /// ran on.
    pub fn into_report(self, k: &Kernel) -> ReplayReport {
        let c = k.counters();
        ReplayReport {
            minor_faults: c.minor_faults,
            major_faults: c.major_faults,
            ..self.report
        }
    }

    /// Applies one recorded call to `pid`. A call that failed in the
    /// recording is skipped; one the simulated kernel answers differently
    /// is counted (see the module's notes).
    pub fn apply(&mut self, k: &mut Kernel, pid: Pid, call: &Syscall) {
        let r = &mut self.report;
        r.syscalls += 1;
        match call.call {
            AddressCall::Brk { .. } => r.brk += 1,
            AddressCall::Mmap { .. } => r.mmap += 1,
            AddressCall::Munmap { .. } => r.munmap += 1,
            AddressCall::Mprotect { .. } => r.mprotect += 1,
            AddressCall::Mremap { .. } => r.mremap += 1,
        }
        let Ok(recorded) = call.result else {
            r.failed_in_recording += 1;
            return;
        };
        let replayed = self.replay(k, pid, call.call, recorded);
        if replayed != Ok(recorded) {
            self.report.differing += 1;
        }
    }

    fn replay(&mut self, k: &mut Kernel, pid: Pid, call: AddressCall, recorded: u64) -> SysResult {
        let done = |r: Result<(), Errno>| r.map(|()| 0).map_err(Errno::number);
        match call {
            AddressCall::Brk { .. } if !self.heap_placed => {
                // The first brk (glibc's brk(0)) says where the heap
                // starts: the loader put it after the program's data.
                self.heap_placed = true;
                done(k.place_heap(pid, recorded)).map(|_| recorded)
            }
            // Asking for the recorded break reproduces growth, shrinking
            // and refusal alike.
            AddressCall::Brk { .. } => k.brk(pid, recorded).map_err(Errno::number),
            AddressCall::Mmap {
                len, prot, flags, ..
            } => {
                let backing = if flags & MAP_ANONYMOUS != 0 {
                    let kind = flags & MAP_TYPE;
                    Backing::Anonymous {
                        shared: kind == MAP_SHARED || kind == MAP_SHARED_VALIDATE,
                    }
                } else {
                    Backing::Backed
                };
                let prot = Prot::from_bits_truncate(prot);
                self.map(k, pid, recorded, len, prot, backing)
            }
            AddressCall::Munmap { addr, len } => done(k.munmap(pid, addr, len)),
            AddressCall::Mprotect { addr, len, prot } => {
                // The call succeeded, so every page was mapped: pages no
                // recorded call mapped are the loader's.
                self.back_holes(k, pid, addr, len);
                done(k.mprotect(pid, addr, len, Prot::from_bits_truncate(prot)))
            }
            AddressCall::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                ..
            } => self.remap(k, pid, (old_addr, old_len, new_len, flags), recorded),
        }
    }

    /// Maps `[at, at + len)` replacing what was there, as `MAP_FIXED`.
    fn map(
        &mut self,
        k: &mut Kernel,
        pid: Pid,
        at: u64,
        len: u64,
        prot: Prot,
        backing: Backing,
    ) -> SysResult {
        let placed = match backing {
            Backing::Anonymous { shared } => k.mmap_anonymous(pid, at, len, prot, shared, true),
            Backing::Backed => k
                .munmap(pid, at, len)
                .and_then(|()| k.map_backed(pid, Some(at), len, prot)),
        };
        placed.map_err(Errno::number)
    }

    /// mremap's effect: the mapping at `old_addr` now spans `new_len`
    /// bytes at `recorded`, backed as before.
    fn remap(
        &mut self,
        k: &mut Kernel,
        pid: Pid,
        (old_addr, old_len, new_len, flags): (u64, u64, u64, u32),
        recorded: u64,
    ) -> SysResult {
        let old = k.regions(pid).and_then(|m| m.find(old_addr)).copied();
        let Some(old) = old else {
            // Nothing to move: the replay has lost track of this mapping.
            return Err(Errno::Efault.number());
        };
        let backing = match old.kind {
            RegionKind::File { file, .. } if file == BACKING_STORE => Backing::Backed,
            kind => Backing::Anonymous {
                shared: kind.is_shared(),
            },
        };
        let page = k.page_bytes();
        let old_end = old_addr.saturating_add(old_len.next_multiple_of(page));
        let new_size = new_len.next_multiple_of(page);
        if recorded == old_addr {
            let new_end = old_addr.saturating_add(new_size);
            if new_end < old_end {
                k.munmap(pid, new_end, old_end - new_end)
                    .map_err(Errno::number)?;
            } else if new_end > old_end {
                self.map(k, pid, old_end, new_end - old_end, old.prot, backing)?;
            }
            return Ok(recorded);
        }
        if flags & MREMAP_DONTUNMAP == 0 {
            k.munmap(pid, old_addr, old_end - old_addr)
                .map_err(Errno::number)?;
        }
        self.map(k, pid, recorded, new_size, old.prot, backing)
    }

    /// Maps the parts of `[addr, addr + len)` no region covers as the
    /// loader's backed pages.
    fn back_holes(&mut self, k: &mut Kernel, pid: Pid, addr: u64, len: u64) {
        let page = k.page_bytes();
        let end = addr.saturating_add(len.next_multiple_of(page));
        let Some(regions) = k.regions(pid) else {
            return;
        };
        let mut holes = Vec::new();
        let mut at = addr;
        for r in regions.overlapping(addr, end) {
            if r.start > at {
                holes.push((at, r.start));
            }
            at = at.max(r.end);
        }
        if at < end {
            holes.push((at, end));
        }
        for (start, stop) in holes {
            if k.map_backed(pid, Some(start), stop - start, LOADER_PROT)
                .is_ok()
            {
                self.report.loader_pages += (stop - start) / page;
            }
        }
    }

    /// The stream moved to the page at `base`: maps it as a loader's
    /// backed page when no region covers it, and remembers what its
    /// region allows. The error is the kernel's refusal to map it.
    pub fn enter_page(&mut self, k: &mut Kernel, pid: Pid, base: u64) -> Result<(), Errno> {
        if let Some(r) = k.regions(pid).and_then(|m| m.find(base)) {
            self.page_prot = r.prot;
            return Ok(());
        }
        k.map_backed(pid, Some(base), k.page_bytes(), LOADER_PROT)?;
        self.report.loader_pages += 1;
        self.page_prot = LOADER_PROT;
        Ok(())
    }

    /// Whether the current page's region allows an access of `kind`; when
    /// it does not, the access at `addr` is counted as refused.
    #[inline]
    pub fn admits(&mut self, addr: u64, kind: AccessKind) -> bool {
        if allows(self.page_prot, kind) {
            return true;
        }
        self.report.refused_accesses += 1;
        self.report.first_refused.get_or_insert(addr);
        false
    }
}
