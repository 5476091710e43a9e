//! The page-fault handler and everything it leans on: demand-zero pages
//! (the shared zero page for reads, a zeroed frame for the first write),
//! swap-in through the swap cache, copy-on-write (copy, or reuse of the
//! only copy), stack growth under each personality's rule, software
//! accessed/dirty flags, and the frame supply behind them: eviction chosen
//! by the replacement policy, written to swap when dirty, and the
//! out-of-memory killer when nothing can be evicted.
//!
//! The replacement policy reads and clears reference bits through
//! [`KernelRefs`], which goes through the reverse map to every page-table
//! entry mapping a frame and invalidates the TLB entry it clears (a test
//! and clear in one pass over the entries).

use crate::explain::{ExplainLog, FlushReason, KernelEvent, RegionInfo};
use crate::frames::{FrameUse, Owner, Pid};
use crate::kernel::{
    bus, kill_signal, page_key, perms_for, segv, Errno, Kernel, KernelCounters, ReplacementScope,
    TableFrames,
};
use crate::policy::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};
use crate::process::{ExitStatus, Personality, Signal, SignalCode, SignalKind};
use crate::region::{Prot, Region, RegionKind};
use crate::shmem::{ShmemKey, ShmemPage};
use crate::swap::SlotId;
use std::sync::Arc;
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::arch::AdUpdate;
use vmlab_hw::{AccessKind, Mmu, PageFault, PageFaultCause, Perms};

/// The hardware state the replacement policy may consult, reached through
/// the reverse map.
pub(crate) struct KernelRefs<'a> {
    kernel: &'a mut Kernel,
}

impl ReferenceBits for KernelRefs<'_> {
    fn referenced(&mut self, frame: FrameId) -> bool {
        self.kernel.owner_flags(frame).0
    }
    fn clear_referenced(&mut self, frame: FrameId) {
        self.kernel.clear_owner_flags(frame, Some(false), None);
    }
    /// One pass over the entries instead of a read and then a clear:
    /// clearing an entry's accessed flag changes the entry exactly when
    /// the flag was set, so the entries changed say whether the page was
    /// referenced (Clock's hand asks this of every frame it passes).
    fn test_and_clear_referenced(&mut self, frame: FrameId) -> bool {
        self.kernel.clear_owner_flags(frame, Some(false), None)
    }
    fn dirty(&mut self, frame: FrameId) -> bool {
        self.kernel.owner_flags(frame).1
    }
    fn write_back(&mut self, frame: FrameId) {
        if !self.kernel.owner_flags(frame).1 {
            return;
        }
        match self.kernel.frames.used_for(frame) {
            // A file page goes back to its file, and trace mode's backed
            // page to the backing store, not to swap.
            FrameUse::PageCache => self.kernel.write_back_cached(frame),
            FrameUse::Backed => {
                self.kernel.write_backed(frame);
                self.kernel.frames.set_dirty(frame, false);
                self.kernel.clear_owner_flags(frame, None, Some(false));
            }
            _ => {
                if self.kernel.write_to_swap(frame).is_ok() {
                    self.kernel.clear_owner_flags(frame, None, Some(false));
                }
            }
        }
    }
    fn now(&self) -> u64 {
        self.kernel.counters.references.saturating_sub(1)
    }
}

/// Invalidates the TLB entry of `pid`'s `page` (under its ASID `asid`)
/// after the page-table entry changed, counting the shootdown:
/// [`Kernel::shootdown`] for callers that cannot lend the whole kernel.
/// With `cached` false the caller has proved that no TLB entry caches the
/// page ([`Kernel::accessed_gates_tlb`]): the search, which would find
/// nothing, is skipped, and the rest is as after one that did.
fn shoot_down(
    mmu: &mut Mmu,
    counters: &mut KernelCounters,
    explain: &mut Option<Box<ExplainLog>>,
    (pid, asid): (Pid, u16),
    page: u64,
    cached: bool,
) {
    // Lending the TLB out forgets the MMU's repeat grants, searched or not.
    let tlb = mmu.tlb_mut();
    if cached {
        tlb.flush_page(page, Some(asid));
    }
    counters.tlb_shootdowns += 1;
    if let Some(log) = explain.as_mut().filter(|l| l.wants()) {
        let event = KernelEvent::Shootdown {
            target: pid,
            vaddr: page,
        };
        log.push(pid, crate::explain::Explained::Kernel(event));
    }
}

/// Whether a region's protection allows an access, by Linux's rules: any
/// of read, write or execute makes a page readable (x86 `access_error`).
fn region_allows(prot: Prot, kind: AccessKind) -> bool {
    match kind {
        AccessKind::Read => !prot.is_empty(),
        AccessKind::Write => prot.contains(Prot::WRITE),
        AccessKind::Fetch => prot.contains(Prot::EXEC),
    }
}

impl Kernel {
    /// Resolves the page fault `cause` of `pid`'s `kind` access at `vaddr`,
    /// or returns the signal it earns. Out of line: inlined into
    /// [`Kernel::resolve_faults`]'s loop, its many paths had the loop set
    /// up field addresses for all of them on every fault (callgrind: some
    /// fifteen instructions a fault more).
    #[inline(never)]
    pub(crate) fn handle_fault(
        &mut self,
        pid: Pid,
        vaddr: u64,
        kind: AccessKind,
        fault: &PageFault,
    ) -> Result<(), Signal> {
        let cause = fault.cause;
        if cause == PageFaultCause::NonCanonical {
            return Err(segv(vaddr, SignalCode::SegvMaperr));
        }
        let found = self.procs[&pid].regions.find(vaddr).copied();
        self.note(pid, || KernelEvent::Fault {
            vaddr,
            access: kind,
            cause,
            region: found.as_ref().map(RegionInfo::of),
        });
        let region = match found {
            Some(region) => region,
            None => self.grow_stack(pid, vaddr)?,
        };
        if !region_allows(region.prot, kind) {
            return Err(segv(vaddr, SignalCode::SegvAccerr));
        }
        let page = vaddr & !(self.page_bytes() - 1);
        match cause {
            PageFaultCause::NotPresent if matches!(region.kind, RegionKind::HugeTlb { .. }) => {
                let tables_present = fault.level + 1 == self.arch.levels().len();
                self.huge_fault(pid, vaddr, &region, kind, tables_present)
            }
            PageFaultCause::NotPresent => {
                // A walk that stopped at the last level found every table
                // on the way; one that stopped higher needs tables made.
                let tables_present = fault.level + 1 == self.arch.levels().len();
                self.fault_in(pid, page, kind, &region, tables_present)
            }
            PageFaultCause::Protection if kind == AccessKind::Write => {
                self.write_protect_fault(pid, page, &region)
            }
            PageFaultCause::AccessFlag | PageFaultCause::DirtyFlag => {
                // Software-managed flags: set what the hardware would have.
                let dirty = (kind == AccessKind::Write).then_some(true);
                self.note(pid, || KernelEvent::FlagsSet {
                    vaddr: page,
                    dirty: dirty.is_some(),
                });
                self.set_flags(pid, page, Some(true), dirty);
                self.count_minor(pid);
                Ok(())
            }
            // A read or fetch refused by an entry whose region allows it:
            // the entry's rights lag the region's; bring them in line.
            PageFaultCause::Protection => {
                let perms = perms_for(region.prot);
                let arch = Arc::clone(&self.arch);
                let p = self.procs.get_mut(&pid).ok_or_else(|| kill_signal(vaddr))?;
                let old = p.page_table.query(&arch, &self.mem, page).ok().flatten();
                if old.is_some_and(|m| m.perms.contains(perms - Perms::WRITE)) {
                    return Err(segv(vaddr, SignalCode::SegvAccerr));
                }
                let keep_cow = old.is_some_and(|m| !m.perms.contains(Perms::WRITE));
                let perms = if keep_cow {
                    perms - Perms::WRITE
                } else {
                    perms
                };
                let _ = p.page_table.protect(&arch, &mut self.mem, page, perms);
                self.note(pid, || KernelEvent::RightsRefreshed { vaddr: page });
                self.shootdown(pid, page);
                Ok(())
            }
            PageFaultCause::ReservedBit
            | PageFaultCause::MisalignedSuperpage
            | PageFaultCause::TableOutsideMemory
            | PageFaultCause::NonCanonical => Err(bus(vaddr)),
        }
    }

    /// Extends the stack down to cover `vaddr` if the personality allows
    /// it; otherwise SIGSEGV (SEGV_MAPERR).
    fn grow_stack(&mut self, pid: Pid, vaddr: u64) -> Result<Region, Signal> {
        let maperr = segv(vaddr, SignalCode::SegvMaperr);
        // The same clamp the layout applies: a quarter of a small space.
        let limit = self
            .config()
            .stack_limit
            .min(crate::kernel::task_size(self.arch()) / 4);
        let personality = self.config().personality;
        let p = self.procs.get_mut(&pid).ok_or(maperr)?;
        let allowed = match personality {
            // Linux: anywhere within RLIMIT_STACK of the top (expand_stack).
            Personality::Linux => true,
            // Pintos: at most 32 bytes below the stack pointer (PUSHA).
            Personality::Pintos => vaddr.saturating_add(32) >= p.stack_pointer,
            // xv6: one fixed stack page with an unmapped guard page below.
            Personality::Xv6 => false,
        };
        if !allowed || p.regions.grow_stack(vaddr, limit).is_err() {
            return Err(maperr);
        }
        self.counters.stack_growths += 1;
        let region = p.regions.find(vaddr).copied().ok_or(maperr)?;
        self.note(pid, || KernelEvent::StackGrowth {
            vaddr,
            new_start: region.start,
        });
        Ok(region)
    }

    pub(crate) fn count_minor(&mut self, pid: Pid) {
        self.counters.minor_faults += 1;
        if let Some(p) = self.procs.get_mut(&pid) {
            p.counters.minor_faults += 1;
        }
    }

    /// A not-present page: swap it in, or give it the zero page (read) or a
    /// zeroed frame (write).
    fn fault_in(
        &mut self,
        pid: Pid,
        page: u64,
        kind: AccessKind,
        region: &Region,
        tables_present: bool,
    ) -> Result<(), Signal> {
        let vpn = page >> self.page_shift();
        if !tables_present {
            self.reserve_tables(pid, page)?;
        }
        let perms = perms_for(region.prot);
        let shared = region.kind.is_shared();
        if let RegionKind::File { file, .. } = region.kind {
            return if file == crate::kernel::BACKING_STORE {
                self.backing_fault(pid, page, perms, kind)
            } else {
                self.file_fault(pid, page, kind, region, perms)
            };
        }
        if let (RegionKind::SharedAnonymous { object, .. }, Some(offset)) =
            (region.kind, region.object_offset(page))
        {
            return self.shmem_fault(pid, page, (object, offset >> self.page_shift()), perms);
        }
        if let Some(slot) = self
            .procs
            .get_mut(&pid)
            .and_then(|p| p.swapped.remove(&vpn))
        {
            return self.swap_in(pid, page, slot, perms, shared, kind == AccessKind::Write);
        }
        if kind != AccessKind::Write && !shared {
            // A read of untouched private memory maps the shared zero page.
            self.map_frame(pid, page, self.zero_frame, perms - Perms::WRITE, false)
                .map_err(|_| kill_signal(page))?;
            self.counters.zero_page_maps += 1;
            self.note(pid, || KernelEvent::ZeroPageMapped { vaddr: page });
            self.count_minor(pid);
            return Ok(());
        }
        let frame = self.alloc_user_frame(pid, page)?;
        let at = u64::from(frame) << self.page_shift();
        let _ = self.mem.zero(at, self.page_bytes());
        self.counters.zero_fills += 1;
        self.note(pid, || KernelEvent::DemandZero { vaddr: page, frame });
        self.map_new_frame(pid, page, frame, perms, kind == AccessKind::Write)?;
        self.count_minor(pid);
        Ok(())
    }

    /// A not-present page of a shared anonymous object: map the object's
    /// page wherever it is (a frame, swap) or a new zeroed one.
    fn shmem_fault(
        &mut self,
        pid: Pid,
        page: u64,
        key: ShmemKey,
        perms: Perms,
    ) -> Result<(), Signal> {
        match self.shmem.get(key) {
            Some(ShmemPage::Resident(frame)) => {
                self.note(pid, || KernelEvent::SharedPageMapped { vaddr: page, frame });
                self.map_frame(pid, page, frame, perms, false)
                    .map_err(|_| kill_signal(page))?;
                self.count_minor(pid);
                Ok(())
            }
            Some(ShmemPage::Swapped(slot)) => {
                // The object's reference on the slot becomes the cache's.
                let frame = self.read_from_swap(pid, page, slot)?;
                self.note(pid, || KernelEvent::SwapIn {
                    vaddr: page,
                    slot,
                    frame,
                    cached: false,
                });
                self.frames.set_use(frame, FrameUse::Shmem);
                self.shmem.set_resident(key, frame);
                self.map_new_frame(pid, page, frame, perms, false)
            }
            None => {
                let frame = self.alloc_user_frame(pid, page)?;
                let _ = self
                    .mem
                    .zero(u64::from(frame) << self.page_shift(), self.page_bytes());
                self.counters.zero_fills += 1;
                self.note(pid, || KernelEvent::DemandZero { vaddr: page, frame });
                self.frames.set_use(frame, FrameUse::Shmem);
                self.shmem.set_resident(key, frame);
                self.map_new_frame(pid, page, frame, perms, true)?;
                self.count_minor(pid);
                Ok(())
            }
        }
    }

    /// A not-present page of backed (trace-mode) memory: read it in.
    fn backing_fault(
        &mut self,
        pid: Pid,
        page: u64,
        perms: Perms,
        kind: AccessKind,
    ) -> Result<(), Signal> {
        let frame = self.alloc_user_frame(pid, page)?;
        let _ = self
            .mem
            .zero(u64::from(frame) << self.page_shift(), self.page_bytes());
        self.frames.set_use(frame, FrameUse::Backed);
        self.backing.read(page >> self.page_shift(), 1);
        self.counters.backing_reads += 1;
        self.note(pid, || KernelEvent::BackingRead { vaddr: page, frame });
        self.counters.major_faults += 1;
        if let Some(p) = self.procs.get_mut(&pid) {
            p.counters.major_faults += 1;
        }
        self.map_new_frame(pid, page, frame, perms, kind == AccessKind::Write)
    }

    /// Frees the pages of shared anonymous objects no live process maps
    /// any more (the last munmap or exit of a mapping of them).
    pub(crate) fn collect_shmem(&mut self) {
        for object in self.shmem.objects() {
            let mapped = self.procs.values().any(|p| p.maps_object(object));
            if mapped {
                continue;
            }
            for page in self.shmem.remove_object(object) {
                match page {
                    ShmemPage::Resident(frame) => {
                        if self.frames.mapcount(frame) == 0 {
                            self.detach_swap_cache(frame);
                            let owner = self.policy_owner(frame);
                            self.with_policy(owner, (), |policy, _| policy.remove(frame));
                            self.frames.free(frame);
                        }
                    }
                    ShmemPage::Swapped(slot) => {
                        let _ = self.swap.free(SlotId(slot));
                    }
                }
            }
        }
    }

    /// Maps a frame just filled for `pid` and hands it to the policy.
    pub(crate) fn map_new_frame(
        &mut self,
        pid: Pid,
        page: u64,
        frame: FrameId,
        perms: Perms,
        written: bool,
    ) -> Result<(), Signal> {
        if self.map_frame(pid, page, frame, perms, written).is_err() {
            self.frames.free(frame);
            return Err(kill_signal(page));
        }
        let key = self.policy_key_of(
            frame,
            Owner {
                pid,
                vpn: page >> self.page_shift(),
            },
        );
        let owner = match self.config().scope {
            ReplacementScope::Global => 0,
            ReplacementScope::Local => pid,
        };
        self.policy_of[frame as usize] = owner;
        self.track_frame(owner, frame, key);
        Ok(())
    }

    /// The key a replacement policy knows the page in `frame` by, mapped
    /// by `owner`: a shared object's page by the object's (the page
    /// outlives its mappings), any other by its owner's.
    fn policy_key_of(&self, frame: FrameId, owner: Owner) -> PageKey {
        let object_page = match self.frames.used_for(frame) {
            FrameUse::Shmem => self.shmem.key_of(frame),
            _ => None,
        };
        match object_page {
            Some(object_page) => crate::shmem::policy_key(object_page),
            None => page_key(owner),
        }
    }

    pub(crate) fn swap_in(
        &mut self,
        pid: Pid,
        page: u64,
        slot: u32,
        perms: Perms,
        shared: bool,
        write: bool,
    ) -> Result<(), Signal> {
        if let Some(&frame) = self.swap_cache.get(&slot) {
            // Another mapping brought the page in already: share its frame.
            let _ = self.swap.free(SlotId(slot));
            let exclusive = shared
                || (self.frames.mapcount(frame) == 0 && self.swap.refcount(SlotId(slot)) <= 1);
            let perms = if exclusive {
                perms
            } else {
                perms - Perms::WRITE
            };
            self.note(pid, || KernelEvent::SwapIn {
                vaddr: page,
                slot,
                frame,
                cached: true,
            });
            self.map_frame(pid, page, frame, perms, false)
                .map_err(|_| kill_signal(page))?;
            self.count_minor(pid);
            return Ok(());
        }
        // The faulting entry's reference on the slot becomes the cache's.
        let frame = self.read_from_swap(pid, page, slot)?;
        self.note(pid, || KernelEvent::SwapIn {
            vaddr: page,
            slot,
            frame,
            cached: false,
        });
        let exclusive = shared || self.swap.refcount(SlotId(slot)) <= 1;
        let perms = if exclusive {
            perms
        } else {
            perms - Perms::WRITE
        };
        self.map_new_frame(pid, page, frame, perms, false)?;
        // Linux's `should_try_to_free_swap`: the copy on swap of a page
        // only this mapping uses is given up at once when the fault is a
        // write (the page is about to differ from it anyway) or when swap
        // is more than half full (`vm_swap_full`); otherwise the swap cache
        // keeps it, so a clean page can be dropped again without a write.
        // Kept, a working set larger than memory would hold a slot per
        // page it ever swapped in and run swap out.
        let swap_full = 2 * self.swap.used() > self.swap.capacity();
        if exclusive && !shared && (write || swap_full) {
            self.detach_swap_cache(frame);
            self.frames.set_dirty(frame, true);
        }
        Ok(())
    }

    /// A major fault's I/O: a frame for `pid`'s `page` filled from swap
    /// `slot`, left in the swap cache holding the caller's reference on the
    /// slot, so a clean page can be dropped again without a write.
    fn read_from_swap(&mut self, pid: Pid, page: u64, slot: u32) -> Result<FrameId, Signal> {
        let frame = self.alloc_user_frame(pid, page)?;
        let at = u64::from(frame) << self.page_shift();
        let mut buf = std::mem::take(&mut self.page_buf);
        let read = self.swap.read(SlotId(slot), &mut buf);
        let _ = self.mem.write_bytes(at, &buf);
        self.page_buf = buf;
        if read.is_err() {
            self.frames.free(frame);
            return Err(bus(page));
        }
        self.frames.set_swap_slot(frame, Some(slot));
        self.swap_cache.insert(slot, frame);
        self.counters.swap_ins += 1;
        self.counters.major_faults += 1;
        if let Some(p) = self.procs.get_mut(&pid) {
            p.counters.major_faults += 1;
        }
        Ok(frame)
    }

    /// A write to a present page the entry keeps read-only although the
    /// region is writable: copy-on-write (or the zero page's first write).
    fn write_protect_fault(&mut self, pid: Pid, page: u64, region: &Region) -> Result<(), Signal> {
        let arch = Arc::clone(&self.arch);
        self.reserve_tables(pid, page)?;
        let perms = perms_for(region.prot);
        let Some(old) = self.procs[&pid]
            .page_table
            .query(&arch, &self.mem, page)
            .ok()
            .flatten()
        else {
            // Evicted while frames were reserved: fault again.
            return Ok(());
        };
        let frame = (old.frame >> self.page_shift()) as FrameId;
        let owner = Owner {
            pid,
            vpn: page >> self.page_shift(),
        };
        // A cached file page is the file's: a private mapping copies it.
        let sole = frame != self.zero_frame
            && (region.kind.is_shared()
                || self.frames.mapcount(frame) == 1
                    && self.frames.used_for(frame) != FrameUse::PageCache);
        if sole {
            // The only mapping: make it writable in place. A swap copy
            // would go stale, so the frame leaves the swap cache.
            self.detach_swap_cache(frame);
            if let Some(p) = self.procs.get_mut(&pid) {
                let _ = p.page_table.protect(&arch, &mut self.mem, page, perms);
            }
            self.counters.cow_reuses += 1;
            self.note(pid, || KernelEvent::CowReuse { vaddr: page, frame });
            self.shootdown(pid, page);
            self.count_minor(pid);
            return Ok(());
        }
        // The page being copied stays put while its copy's frame is found.
        self.pinned = Some(frame);
        let new = self.alloc_user_frame(pid, page);
        self.pinned = None;
        let new = new?;
        // The allocation may still have killed or unmapped the page.
        let still = self
            .procs
            .get(&pid)
            .and_then(|p| p.page_table.query(&arch, &self.mem, page).ok().flatten());
        if still.map(|m| m.frame) != Some(old.frame) {
            self.frames.free(new);
            return Ok(());
        }
        let to = u64::from(new) << self.page_shift();
        if frame == self.zero_frame {
            let _ = self.mem.zero(to, self.page_bytes());
            self.counters.zero_fills += 1;
        } else {
            let mut buf = std::mem::take(&mut self.page_buf);
            let _ = self.mem.read_bytes(old.frame, &mut buf);
            let _ = self.mem.write_bytes(to, &buf);
            self.page_buf = buf;
            // The departing entry's dirty flag must not be lost for the
            // mappings that stay.
            if old.dirty {
                self.frames.set_dirty(frame, true);
            }
            self.frames.remove_owner(frame, owner);
            self.pass_key_on(frame, owner);
            if let Some(p) = self.procs.get_mut(&pid) {
                p.counters.resident_pages -= 1;
            }
            self.counters.cow_copies += 1;
        }
        let zero_page = frame == self.zero_frame;
        self.note(pid, || KernelEvent::CowCopy {
            vaddr: page,
            from: frame,
            to: new,
            zero_page,
        });
        self.shootdown(pid, page);
        self.map_new_frame(pid, page, new, perms, true)?;
        self.count_minor(pid);
        Ok(())
    }

    /// Maps `frame` at `page` for `pid` with `perms` and records the owner
    /// (the zero page is shared without owners).
    pub(crate) fn map_frame(
        &mut self,
        pid: Pid,
        page: u64,
        frame: FrameId,
        perms: Perms,
        dirty: bool,
    ) -> Result<(), Errno> {
        let page_shift = self.page_shift();
        let addr = u64::from(frame) << page_shift;
        // Borrowed field by field beside the tables it edits (every fault
        // comes here, and a clone of the Arc is two atomic operations).
        let arch = &*self.arch;
        let soft_flags = arch.ad_update() == AdUpdate::Fault;
        // Where software manages the flags, a new mapping starts accessed
        // (and dirty for a write), as Linux's fault path makes it young.
        let attrs = LeafAttrs {
            perms,
            global: false,
            accessed: soft_flags,
            dirty: dirty && soft_flags,
        };
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        let mut alloc = TableFrames {
            frames: &mut self.frames,
            page_shift,
        };
        // A copy-on-write fault replaces the old leaf; its caller has
        // already dropped the old frame's owner.
        let mapped = p
            .page_table
            .map(
                arch,
                &mut self.mem,
                &mut alloc,
                page,
                addr,
                page_shift,
                attrs,
            )
            .map_err(|_| Errno::Enomem)?;
        if frame != self.zero_frame {
            p.counters.resident_pages += 1;
            self.frames.add_owner(
                frame,
                Owner {
                    pid,
                    vpn: page >> page_shift,
                },
                mapped.pte_addr,
            );
        }
        Ok(())
    }

    /// Invalidates `pid`'s TLB entry for `page` after its entry changed.
    pub(crate) fn shootdown(&mut self, pid: Pid, page: u64) {
        let asid = self.asid_of(pid);
        shoot_down(
            &mut self.mmu,
            &mut self.counters,
            &mut self.explain,
            (pid, asid),
            page,
            true,
        );
    }

    /// Flushes every TLB entry of `pid`.
    pub(crate) fn flush_process(&mut self, pid: Pid) {
        let mut flushed = None;
        if self.arch().asid_bits() == 0 {
            self.mmu.tlb_mut().flush_all();
        } else if let Some(p) = self.procs.get(&pid) {
            let asid = p.asid;
            self.mmu.tlb_mut().flush_asid(asid);
            flushed = Some(asid);
        }
        self.counters.tlb_flushes += 1;
        self.note(pid, || KernelEvent::TlbFlush {
            asid: flushed,
            reason: FlushReason::AddressSpaceGone,
        });
    }

    /// Sets or clears accessed/dirty in `pid`'s entry for `page`.
    fn set_flags(&mut self, pid: Pid, page: u64, accessed: Option<bool>, dirty: Option<bool>) {
        let arch = Arc::clone(&self.arch);
        if let Some(p) = self.procs.get_mut(&pid) {
            let _ = p
                .page_table
                .set_flags(&arch, &mut self.mem, page, accessed, dirty);
        }
        self.shootdown(pid, page);
    }

    /// Whether any mapping of `frame` has its accessed flag set, and
    /// whether the page is dirty (an entry's flag, or the frame's own).
    /// Reads each entry where the reverse map says it is, as Linux's
    /// `page_referenced` reaches PTEs through the rmap, without a walk.
    pub(crate) fn owner_flags(&self, frame: FrameId) -> (bool, bool) {
        let format = self.arch.pte();
        let bytes = usize::from(format.bytes);
        let mut flags = (false, self.frames.dirty(frame));
        for (_, pte_addr) in self.frames.owner_entries(frame) {
            if let Ok(raw) = self.mem.load(pte_addr, bytes) {
                let leaf = format.leaf(raw);
                flags.0 |= leaf.accessed;
                flags.1 |= leaf.dirty;
            }
        }
        flags
    }

    /// Sets or clears the flags of every mapping of `frame`; each entry
    /// that changes has its TLB entry invalidated so the hardware sees the
    /// change (as `ptep_clear_flush_young` flushes only a young entry: an
    /// entry whose flag was already clear cannot be cached with it set).
    /// Returns whether any entry changed.
    pub(crate) fn clear_owner_flags(
        &mut self,
        frame: FrameId,
        accessed: Option<bool>,
        dirty: Option<bool>,
    ) -> bool {
        let format = self.arch.pte();
        let bytes = usize::from(format.bytes);
        let shift = self.page_shift();
        let mut changed = false;
        for (owner, pte_addr) in self.frames.owner_entries(frame) {
            let Ok(raw) = self.mem.load(pte_addr, bytes) else {
                continue;
            };
            let mut new = raw;
            if let Some(on) = accessed {
                new = format.with_accessed(new, on);
            }
            if let Some(on) = dirty {
                new = format.with_dirty(new, on);
            }
            if new == raw {
                continue;
            }
            let _ = self.mem.store(pte_addr, bytes, new);
            changed = true;
            // The reverse map is borrowed for the walk, so the shootdown
            // takes only the fields it needs.
            let asid = self.asid_of(owner.pid);
            shoot_down(
                &mut self.mmu,
                &mut self.counters,
                &mut self.explain,
                (owner.pid, asid),
                owner.vpn << shift,
                true,
            );
        }
        changed
    }

    /// Removes the mapping `owner` has of `frame` through the leaf entry at
    /// `pte_addr`: clears the entry (the tables above stay, as a kernel
    /// keeps them for the page's return), forgets the owner and
    /// invalidates its TLB entry. `young` false says the entry's accessed
    /// flag was clear: where that proves the TLB holds no copy of it (the
    /// format has the flag and the TLB's entries under the owner's ASID
    /// are the owner's), the TLB is not searched.
    fn unmap_owner(&mut self, frame: FrameId, owner: Owner, pte_addr: u64, young: bool) {
        let bytes = usize::from(self.arch.pte().bytes);
        let _ = self.mem.store(pte_addr, bytes, 0);
        // One look-up for the count and the ASID.
        let (asid, cached) = match self.procs.get_mut(&owner.pid) {
            Some(p) => {
                p.counters.resident_pages -= 1;
                let own_asid = self.asid_owner.get(usize::from(p.asid)) == Some(&owner.pid);
                (p.asid, young || !self.accessed_gates_tlb || !own_asid)
            }
            None => (0, true),
        };
        self.frames.remove_owner(frame, owner);
        let page = owner.vpn << self.page_shift();
        shoot_down(
            &mut self.mmu,
            &mut self.counters,
            &mut self.explain,
            (owner.pid, asid),
            page,
            cached,
        );
    }

    /// After `gone` let go of `frame`, which others still map: a policy that
    /// knew the page by `gone`'s key knows it by the key of a mapper that
    /// stays from now on ([`ReplacementPolicy::rekey`]), so that `gone`'s
    /// next page at that address (after a copy-on-write copy, an unmap or
    /// an exec) is a page of its own to the policy's ghosts.
    fn pass_key_on(&mut self, frame: FrameId, gone: Owner) {
        let Some(heir) = self.frames.owners(frame).next() else {
            return;
        };
        let (from, to) = (page_key(gone), page_key(heir));
        let owner = self.policy_owner(frame);
        self.with_policy(owner, (), |policy, _| policy.rekey(frame, from, to));
    }

    /// Writes `frame` to its swap slot (allocating one, which joins the swap
    /// cache). Fails when swap is full.
    pub(crate) fn write_to_swap(&mut self, frame: FrameId) -> Result<u32, ()> {
        let slot = match self.frames.swap_slot(frame) {
            Some(slot) => slot,
            None => {
                let slot = self.swap.alloc().ok_or(())?.0;
                self.frames.set_swap_slot(frame, Some(slot));
                self.swap_cache.insert(slot, frame);
                slot
            }
        };
        let mut buf = std::mem::take(&mut self.page_buf);
        let _ = self
            .mem
            .read_bytes(u64::from(frame) << self.page_shift(), &mut buf);
        let written = self.swap.write(SlotId(slot), &buf);
        self.page_buf = buf;
        written.map_err(|_| ())?;
        self.frames.set_dirty(frame, false);
        self.counters.swap_outs += 1;
        self.note(0, || KernelEvent::SwapOut { frame, slot });
        Ok(slot)
    }

    /// Takes `frame` out of the swap cache, dropping the cache's reference
    /// on its slot.
    fn detach_swap_cache(&mut self, frame: FrameId) {
        if let Some(slot) = self.frames.swap_slot(frame) {
            self.swap_cache.remove(&slot);
            let _ = self.swap.free(SlotId(slot));
            self.frames.set_swap_slot(frame, None);
        }
    }

    /// Evicts `frame`: every mapping becomes a swap entry; a dirty page (or
    /// one swap has no copy of) is written first. Fails when swap is full.
    fn evict_frame(&mut self, frame: FrameId) -> Result<(), ()> {
        let (young, dirty) = self.owner_flags(frame);
        if self.frames.used_for(frame) == FrameUse::Backed {
            self.evict_backed(frame, young, dirty);
            return Ok(());
        }
        if self.frames.used_for(frame) == FrameUse::PageCache {
            self.evict_cached(frame, dirty);
            return Ok(());
        }
        let slot = if dirty || self.frames.swap_slot(frame).is_none() {
            self.write_to_swap(frame)?
        } else {
            self.counters.clean_drops += 1;
            self.note(0, || KernelEvent::CleanDrop { frame });
            self.frames.swap_slot(frame).ok_or(())?
        };
        // A shared object's page is found through the object, not through
        // per-process swap entries; the object keeps one reference.
        let object_page = self.shmem.key_of(frame).is_some();
        if object_page {
            let _ = self.swap.dup(SlotId(slot));
            self.shmem.set_swapped(frame, slot);
        }
        while let Some((owner, pte_addr)) = self.frames.first_owner(frame) {
            if !object_page {
                if let Some(p) = self.procs.get_mut(&owner.pid) {
                    p.swapped.insert(owner.vpn, slot);
                }
                let _ = self.swap.dup(SlotId(slot));
            }
            self.unmap_owner(frame, owner, pte_addr, young);
        }
        self.detach_swap_cache(frame);
        self.frames.free(frame);
        self.counters.evictions += 1;
        Ok(())
    }

    /// Evicts a backing-store page: written back if dirty, else dropped;
    /// its mappings simply go (the next touch reads it in again). `young`:
    /// whether any of them has its accessed flag set.
    fn evict_backed(&mut self, frame: FrameId, young: bool, dirty: bool) {
        if dirty {
            self.write_backed(frame);
        } else {
            self.counters.clean_drops += 1;
            self.note(0, || KernelEvent::CleanDrop { frame });
        }
        self.unmap_everywhere(frame, young);
        self.frames.free(frame);
        self.counters.evictions += 1;
    }

    /// Writes the backing-store page in `frame` back (trace mode's pages
    /// are addressed like memory: page `vpn` is block `vpn`).
    fn write_backed(&mut self, frame: FrameId) {
        if let Some((owner, _)) = self.frames.first_owner(frame) {
            self.backing.write(owner.vpn, 1);
            self.note(owner.pid, || KernelEvent::WriteBack {
                frame,
                file: crate::kernel::BACKING_STORE,
                index: owner.vpn,
            });
        }
        self.counters.write_backs += 1;
    }

    /// Removes every page-table entry mapping `frame`, through the
    /// reverse map; `young` false when every one's accessed flag was found
    /// clear ([`Kernel::unmap_owner`]).
    pub(crate) fn unmap_everywhere(&mut self, frame: FrameId, young: bool) {
        while let Some((owner, pte_addr)) = self.frames.first_owner(frame) {
            self.unmap_owner(frame, owner, pte_addr, young);
        }
    }

    /// Whose policy gives up a frame when `pid` needs one: the global one,
    /// or under local replacement `pid`'s own once it holds its share, else
    /// that of the process furthest above its share.
    fn victim_owner(&self, pid: Pid) -> Pid {
        if self.config().scope == ReplacementScope::Global {
            return 0;
        }
        let live: Vec<(Pid, u64)> = self
            .procs
            .values()
            .filter(|p| p.state == crate::process::ProcessState::Live)
            .map(|p| (p.pid, p.counters.resident_pages))
            .collect();
        let share = (self.frames.len() as u64 - 1) / live.len().max(1) as u64;
        let own = live.iter().find(|&&(p, _)| p == pid).map_or(0, |&(_, r)| r);
        if own >= share || own > 0 && live.len() == 1 {
            return pid;
        }
        live.iter()
            .max_by_key(|&&(p, resident)| (resident, p))
            .map_or(pid, |&(p, _)| p)
    }

    /// Frees one frame by eviction, for `pid`'s fault at the page keyed
    /// `page_key_hint`; false when no page can be evicted.
    fn evict_one(&mut self, pid: Pid, page_key_hint: u64) -> bool {
        let first = self.victim_owner(pid);
        if self.evict_from(first, page_key_hint) {
            return true;
        }
        if self.config().scope != ReplacementScope::Local {
            return false;
        }
        // The chosen process's policy may track none of its resident pages
        // (pages shared through fork stay with the policy of the process
        // that mapped them first): before memory counts as exhausted, every
        // other process's policy is tried, the largest process first.
        let mut others: Vec<(u64, Pid)> = self
            .procs
            .values()
            .filter(|p| p.pid != first && p.state == crate::process::ProcessState::Live)
            .map(|p| (p.counters.resident_pages, p.pid))
            .collect();
        others.sort_unstable_by(|a, b| b.cmp(a));
        // Last, the global policy: under local replacement it holds the
        // page cache, which belongs to no process.
        others
            .into_iter()
            .any(|(_, owner)| self.evict_from(owner, page_key_hint))
            || self.evict_from(0, page_key_hint)
    }

    /// Under local replacement, hands the frames `pid`'s policy still
    /// tracks (pages it shared through fork, mapped by others now that it
    /// has ended) to the policy of a process that maps them: left with the
    /// dead process's policy, no eviction could reach them again.
    pub(crate) fn adopt_frames_of(&mut self, pid: Pid) {
        if self.config().scope != ReplacementScope::Local {
            return;
        }
        for frame in 0..self.frames.len() as FrameId {
            if self.policy_of[frame as usize] != pid || !self.frames.used_for(frame).is_user() {
                continue;
            }
            // A process that maps the page, or, for a shared object's page
            // nobody maps now, one that maps the object.
            let heir = self.frames.owners(frame).next().or_else(|| {
                let (object, index) = self.shmem.key_of(frame)?;
                self.procs
                    .values()
                    .find(|p| p.pid != pid && p.maps_object(object))
                    .map(|p| Owner {
                        pid: p.pid,
                        vpn: index,
                    })
            });
            let Some(heir) = heir else {
                continue;
            };
            self.with_policy(pid, (), |policy, _| policy.remove(frame));
            self.policy_of[frame as usize] = heir.pid;
            let key = self.policy_key_of(frame, heir);
            self.track_frame(heir.pid, frame, key);
        }
    }

    /// Evicts the victim `owner`'s policy (0: the global one) chooses;
    /// false when it offers nothing evictable.
    fn evict_from(&mut self, owner: Pid, page_key_hint: u64) -> bool {
        let mut skipped = None;
        let mut evicted = false;
        // Every tracked frame may be tried once before giving up.
        let explaining = self.explaining();
        for _ in 0..self.frames.len() {
            let chosen = self.with_policy(owner, None, |policy, refs| {
                let victim = policy.evict_for(page_key_hint, refs)?;
                // Read now: a victim kept after all goes back under it.
                let key = policy.key_of(victim).unwrap_or(0);
                // Asked only while explaining: the reason is a string.
                let why = explaining.then(|| (policy.name(), policy.victim_reason(victim)));
                Some((victim, key, why))
            });
            let Some((victim, key, why)) = chosen else {
                break;
            };
            if !self.frames.used_for(victim).is_user() {
                continue;
            }
            if Some(victim) == self.pinned {
                // Handed back once a victim is found, so the policy cannot
                // offer it again in this search.
                skipped = Some((victim, key));
                continue;
            }
            if let Some((policy, reason)) = why {
                let owners = self.frames.owners(victim).collect();
                let dirty = self.owner_flags(victim).1;
                self.note(0, || KernelEvent::Eviction {
                    frame: victim,
                    owners,
                    dirty,
                    policy,
                    reason,
                });
            }
            if self.evict_frame(victim).is_ok() {
                evicted = true;
                self.guess_due = Some(owner);
            } else {
                // Swap is full and the page is dirty: it stays resident,
                // back under its own key. A policy that remembered the key
                // as evicted takes it as a page seen again (ARC's T2, 2Q's
                // Am, S3-FIFO's main queue), as Linux activates a page it
                // could not swap out (`activate_locked` in
                // `shrink_folio_list`).
                self.track_frame(owner, victim, key);
            }
            break;
        }
        if let Some((frame, key)) = skipped {
            self.track_frame(owner, frame, key);
        }
        evicted
    }

    /// Hands `frame`, holding the page `key`, to `owner`'s policy (0: the
    /// global one); after an eviction from that policy, guesses its next
    /// victim now that the queues hold the new page.
    pub(crate) fn track_frame(&mut self, owner: Pid, frame: FrameId, key: PageKey) {
        self.with_policy(owner, (), |policy, refs| policy.insert(frame, key, refs));
        if self.guess_due == Some(owner) {
            self.guess_due = None;
            self.expect_next_victim(owner);
        }
    }

    /// Makes sure `count` frames are free (page tables need them), evicting
    /// (for the page whose fault needs them, `key`) or, failing that,
    /// killing for memory.
    pub(crate) fn reserve_frames(&mut self, pid: Pid, count: usize, key: u64) -> Result<(), Errno> {
        while self.frames.free_count() < count {
            if !self.evict_one(pid, key) && !self.oom_kill(pid, "page tables") {
                return Err(Errno::Enomem);
            }
        }
        Ok(())
    }

    /// Frees the frames mapping `page` for `pid` will need for new tables
    /// (usually none), before anything else is allocated for the fault.
    pub(crate) fn reserve_tables(&mut self, pid: Pid, page: u64) -> Result<(), Signal> {
        let arch = Arc::clone(&self.arch);
        let needed = self.procs[&pid]
            .page_table
            .tables_needed(&arch, &self.mem, page)
            .map_err(|_| bus(page))?;
        if needed == 0 {
            return Ok(());
        }
        let key = page_key(Owner {
            pid,
            vpn: page >> self.page_shift(),
        });
        // One more than the tables: the page itself will need a frame too,
        // and the tables must not be taken by its eviction.
        self.reserve_frames(pid, needed + 1, key)
            .map_err(|_| kill_signal(page))?;
        if self.is_live(pid) {
            Ok(())
        } else {
            Err(kill_signal(page))
        }
    }

    /// A frame for user data of `pid` faulting at `page`.
    pub(crate) fn alloc_user_frame(&mut self, pid: Pid, page: u64) -> Result<FrameId, Signal> {
        let key = page_key(Owner {
            pid,
            vpn: page >> self.page_shift(),
        });
        loop {
            if let Some(frame) = self.frames.alloc(FrameUse::Anon) {
                self.background_reclaim(pid, key);
                return Ok(frame);
            }
            if !self.evict_one(pid, key) && !self.oom_kill(pid, "user pages") {
                return Err(kill_signal(page));
            }
            if !self.is_live(pid) {
                return Err(kill_signal(page));
            }
        }
    }

    /// kswapd's job: once free frames fall below the low watermark, evict
    /// until they reach the high one, so later faults find frames free.
    fn background_reclaim(&mut self, pid: Pid, key: u64) {
        let (low, high) = self.config().watermarks;
        if self.frames.free_count() >= low {
            return;
        }
        while self.frames.free_count() < high {
            if !self.evict_one(pid, key) {
                break;
            }
            self.counters.background_evictions += 1;
        }
    }

    /// Kills the live process with the most resident pages (the OOM
    /// killer's choice when badness is resident memory); false if none.
    fn oom_kill(&mut self, faulting: Pid, wanted: &str) -> bool {
        let victim = self
            .procs
            .values()
            .filter(|p| p.state == crate::process::ProcessState::Live)
            .max_by_key(|p| (p.counters.resident_pages, p.pid))
            .map(|p| (p.pid, p.counters.resident_pages));
        let Some((pid, resident)) = victim else {
            return false;
        };
        self.oom_reason = Some(format!(
            "out of memory: no free frame for {wanted} of process {faulting}, nothing evictable and swap full; killed process {pid} ({resident} resident pages)"
        ));
        self.counters.oom_kills += 1;
        let reason = self.oom_reason.clone().unwrap_or_default();
        self.note(faulting, || KernelEvent::OomKill {
            victim: pid,
            reason,
        });
        let signal = Signal {
            kind: SignalKind::Sigkill,
            code: SignalCode::Kernel,
            addr: 0,
        };
        self.terminate(pid, ExitStatus::Signaled(signal));
        true
    }

    /// Removes `[start, start + len)`: regions, pages, swap entries.
    pub(crate) fn unmap_range(&mut self, pid: Pid, start: u64, len: u64) -> Result<(), Errno> {
        let end = start.checked_add(len).ok_or(Errno::Einval)?;
        let file_pages = self.shared_file_pages(pid, start, end);
        let huge: Vec<Region> = self.procs.get(&pid).map_or(Vec::new(), |p| {
            p.regions
                .overlapping(start, end)
                .filter(|r| matches!(r.kind, RegionKind::HugeTlb { .. }))
                .copied()
                .collect()
        });
        {
            let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
            p.regions.unmap(start, len).map_err(|_| Errno::Einval)?;
        }
        self.release_pages(pid, start, end);
        for r in &huge {
            self.release_huge(r, start, end);
        }
        self.collect_huge();
        self.collect_shmem();
        self.write_back_unmapped(file_pages);
        Ok(())
    }

    /// Frees the pages and swap entries of `pid` in `[start, end)`.
    pub(crate) fn release_pages(&mut self, pid: Pid, start: u64, end: u64) {
        let arch = Arc::clone(&self.arch);
        let shift = self.page_shift();
        let Some(mappings) = self
            .procs
            .get(&pid)
            .and_then(|p| p.page_table.mappings(&arch, &self.mem, start, end).ok())
        else {
            return;
        };
        for m in mappings {
            if let Some(p) = self.procs.get_mut(&pid) {
                let mut alloc = TableFrames {
                    frames: &mut self.frames,
                    page_shift: shift,
                };
                let _ = p
                    .page_table
                    .unmap(&arch, &mut self.mem, &mut alloc, m.vaddr);
            }
            self.shootdown(pid, m.vaddr);
            let frame = (m.frame >> shift) as FrameId;
            // The zero page has no owners; a huge page belongs to the pool
            // ([`crate::hugetlb`]), which the caller settles with.
            if frame == self.zero_frame || m.page_shift != shift {
                continue;
            }
            if let Some(p) = self.procs.get_mut(&pid) {
                p.counters.resident_pages -= 1;
            }
            let owner = Owner {
                pid,
                vpn: m.vaddr >> shift,
            };
            let left = self.frames.remove_owner(frame, owner);
            self.pass_key_on(frame, owner);
            // A shared object's page outlives its mappings: it stays with the
            // object (dirty state and all) until the object is collected.
            let object_page = self.shmem.key_of(frame).is_some()
                || self.frames.used_for(frame) == FrameUse::PageCache;
            if (left > 0 || object_page) && m.dirty {
                self.frames.set_dirty(frame, true);
            }
            if left == 0 && !object_page {
                self.detach_swap_cache(frame);
                let owner = self.policy_owner(frame);
                self.with_policy(owner, (), |policy, _| policy.remove(frame));
                self.frames.free(frame);
            }
        }
        let slots = self
            .procs
            .get(&pid)
            .map_or(Vec::new(), |p| p.swapped_between(start, end, shift));
        for (vpn, slot) in slots {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.swapped.remove(&vpn);
            }
            let _ = self.swap.free(SlotId(slot));
        }
    }

    /// Frees every page and swap slot of `pid`.
    pub(crate) fn release_address_space(&mut self, pid: Pid) {
        let regions: Vec<Region> = self
            .procs
            .get(&pid)
            .map_or(Vec::new(), |p| p.regions.iter().copied().collect());
        for r in regions {
            let _ = self.unmap_range(pid, r.start, r.end - r.start);
        }
        // Swap entries outside any region cannot exist, but leave nothing.
        let slots: Vec<u32> = self
            .procs
            .get_mut(&pid)
            .map_or(Vec::new(), |p| p.swapped.drain().map(|(_, s)| s).collect());
        for slot in slots {
            let _ = self.swap.free(SlotId(slot));
        }
    }

    /// Brings the entries of `[start, end)` in line with their regions'
    /// protection, keeping shared-frame pages read-only for copy-on-write.
    pub(crate) fn reprotect_range(&mut self, pid: Pid, start: u64, end: u64) -> Result<(), Errno> {
        let arch = Arc::clone(&self.arch);
        let shift = self.page_shift();
        let mappings = match self.procs.get(&pid) {
            Some(p) => p
                .page_table
                .mappings(&arch, &self.mem, start, end)
                .map_err(|_| Errno::Enomem)?,
            None => return Err(Errno::Esrch),
        };
        for m in mappings {
            let Some(region) = self.procs[&pid].regions.find(m.vaddr).copied() else {
                continue;
            };
            let frame = (m.frame >> shift) as FrameId;
            let mut perms = perms_for(region.prot);
            let cow = !region.kind.is_shared()
                && (frame == self.zero_frame
                    || self.frames.used_for(frame) == FrameUse::PageCache
                    || self.frames.mapcount(frame) > 1
                    || !m.perms.contains(Perms::WRITE) && self.frames.swap_slot(frame).is_some());
            if cow {
                perms -= Perms::WRITE;
            }
            // Some formats cannot mark a read-only entry dirty (AArch64's
            // dirty state is "DBM and writable"): keep it on the frame.
            if m.dirty && frame != self.zero_frame {
                self.frames.set_dirty(frame, true);
            }
            if let Some(p) = self.procs.get_mut(&pid) {
                let _ = p.page_table.protect(&arch, &mut self.mem, m.vaddr, perms);
            }
            self.shootdown(pid, m.vaddr);
        }
        Ok(())
    }

    /// Runs `f` with a replacement policy (the global one for `owner` 0,
    /// else process `owner`'s own) and a view of the hardware bits lent to
    /// it. The policy is taken out of the kernel for the call so the rest of
    /// the kernel can be lent whole; `default` is returned if there is no
    /// such policy (a policy never calls back into itself).
    pub(crate) fn with_policy<R>(
        &mut self,
        owner: Pid,
        default: R,
        f: impl FnOnce(&mut dyn ReplacementPolicy, &mut KernelRefs<'_>) -> R,
    ) -> R {
        // The touches held back go first, so the policy sees every call
        // in order.
        self.hand_over_touches();
        self.lend_policy(owner, default, f)
    }

    /// Hands the touches held back to their policy, oldest first. Every
    /// call of a policy comes here first, and after an eviction in the
    /// same fault none are held: that test is inline, the rest is not.
    #[inline(always)]
    pub(crate) fn hand_over_touches(&mut self) {
        if !self.held_touches.is_empty() {
            self.hand_over_held_touches();
        }
    }

    /// [`Kernel::hand_over_touches`] once some are held.
    #[inline(never)]
    fn hand_over_held_touches(&mut self) {
        if let Some((owner, frames)) = self.held_touches.take() {
            self.lend_policy(owner, (), |policy, refs| {
                frames.for_each(|frame| policy.touch(frame, refs));
            });
        }
    }

    /// The replacement policy of `owner` (0: the global one), to read.
    pub(crate) fn policy_ref(&self, owner: Pid) -> Option<&dyn ReplacementPolicy> {
        if owner == 0 {
            self.policy.as_deref()
        } else {
            self.procs.get(&owner)?.policy.as_deref()
        }
    }

    /// After an eviction from `owner`'s policy: starts loading what the
    /// next eviction will read (the policy's guess at its victim: the
    /// victim's reverse-map entry and policy state now, its page-table
    /// entry at the next look-ahead step).
    fn expect_next_victim(&mut self, owner: Pid) {
        let next = self.policy_ref(owner).and_then(|policy| {
            let next = policy.upcoming_victim(None, 0)?;
            policy.prefetch(next);
            Some(next)
        });
        if let Some(next) = next {
            self.frames.prefetch_owners(next);
        }
        self.victim_hint = next;
    }

    /// [`Kernel::with_policy`] once no touches are held.
    fn lend_policy<R>(
        &mut self,
        owner: Pid,
        default: R,
        f: impl FnOnce(&mut dyn ReplacementPolicy, &mut KernelRefs<'_>) -> R,
    ) -> R {
        let taken = if owner == 0 {
            self.policy.take()
        } else {
            self.procs.get_mut(&owner).and_then(|p| p.policy.take())
        };
        let Some(mut policy) = taken else {
            return default;
        };
        let result = f(policy.as_mut(), &mut KernelRefs { kernel: self });
        if owner == 0 {
            self.policy = Some(policy);
        } else if let Some(p) = self.procs.get_mut(&owner) {
            p.policy = Some(policy);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KernelConfig;

    /// The trait's own test-and-clear (a read, then a clear) over the
    /// kernel's entries, to hold [`KernelRefs`]'s one pass against.
    struct ReadThenClear<'a>(KernelRefs<'a>);

    impl ReferenceBits for ReadThenClear<'_> {
        fn referenced(&mut self, frame: FrameId) -> bool {
            self.0.referenced(frame)
        }
        fn clear_referenced(&mut self, frame: FrameId) {
            self.0.clear_referenced(frame);
        }
        fn dirty(&mut self, frame: FrameId) -> bool {
            self.0.dirty(frame)
        }
        fn write_back(&mut self, frame: FrameId) {
            self.0.write_back(frame);
        }
        fn now(&self) -> u64 {
            self.0.now()
        }
    }

    /// Pages written by a parent, shared with a child by fork, some read
    /// again by the child only: user frames with one mapping or two, the
    /// accessed flag set in none, one or both. Every step is recorded.
    fn machine() -> Kernel {
        let arch = vmlab_hw::arch::presets::by_name("x86-64")
            .and_then(Result::ok)
            .expect("x86-64 preset");
        let mut k = Kernel::new(KernelConfig::new(arch, 64)).expect("machine");
        k.set_explain(Some(ExplainLog::window(0, u64::MAX)));
        let parent = k.spawn(0).expect("spawn");
        let rw = Prot::READ | Prot::WRITE;
        let base = k
            .mmap_anonymous(parent, 0, 8 * 4096, rw, false, false)
            .expect("mmap");
        for page in 0..8 {
            k.store(parent, base + page * 4096, 8, page).expect("store");
        }
        let child = k.fork(parent).expect("fork");
        for page in [1, 3, 5] {
            k.load(child, base + page * 4096, 8).expect("load");
        }
        k
    }

    /// [`Kernel::unmap_owner`] skips the TLB search for an entry whose
    /// accessed flag is clear; that changes nothing: beside a machine made
    /// to search on every shootdown, the TLB's entries and counters, the
    /// MMU's counters and the kernel's stay equal after every step of
    /// processes that fork, write, unmap, change rights and exit in a
    /// memory far too small for them, under a policy that clears accessed
    /// flags (Clock) and one that does not (FIFO), with an ASID a process
    /// and with one ASID all share. So does what the skip relies on: each
    /// TLB entry caches a page whose leaf entry, in the process owning the
    /// entry's ASID, is present with its accessed flag set.
    #[test]
    fn skipped_tlb_searches_would_have_found_nothing() {
        for arch in ["x86-64", "x86-32-pae", "riscv-sv39", "aarch64-4k"] {
            for policy in ["clock", "fifo"] {
                searches_skipped_alike(arch, policy);
            }
        }
        let ostep = vmlab_hw::arch::presets::by_name("ostep")
            .and_then(Result::ok)
            .expect("ostep preset");
        let k = Kernel::new(KernelConfig::new(ostep, 64)).expect("machine");
        assert!(
            !k.accessed_gates_tlb,
            "ostep's entries have no accessed flag"
        );
    }

    fn searches_skipped_alike(arch: &str, policy: &str) {
        let arch = vmlab_hw::arch::presets::by_name(arch)
            .and_then(Result::ok)
            .expect("preset");
        let page = arch.page_bytes();
        let mut config = KernelConfig::new(arch, 40);
        config.policy = policy.to_string();
        let mut k = Kernel::new(config.clone()).expect("machine");
        assert!(k.accessed_gates_tlb);
        let mut searching = Kernel::new(config).expect("machine");
        searching.accessed_gates_tlb = false;
        let rw = Prot::READ | Prot::WRITE;
        let len = 64 * page;
        // Each live process and where its pages are; a process a signal
        // ended (a write to a page made read-only or unmapped) is
        // replaced by a new one.
        let mut live: Vec<(Pid, u64)> = Vec::new();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for step in 0..3000 {
            live.retain(|&(p, _)| k.is_live(p));
            while live.len() < 2 {
                let pid = k.spawn(0).expect("spawn");
                let base = k.mmap_anonymous(pid, 0, len, rw, false, false);
                assert_eq!(searching.spawn(0), Ok(pid));
                let again = searching.mmap_anonymous(pid, 0, len, rw, false, false);
                assert_eq!(base, again);
                live.push((pid, base.expect("mmap")));
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (pid, base) = live[(state % live.len() as u64) as usize];
            let addr = base + (state >> 8) % len;
            let at = addr & !(page - 1);
            let op = (state >> 40) % 64;
            if op == 0 {
                let child = k.fork(pid);
                assert_eq!(searching.fork(pid), child);
                if live.len() < 4 {
                    live.extend(child.ok().map(|c| (c, base)));
                }
            }
            for k in [&mut k, &mut searching] {
                match op {
                    0 => {}
                    1 => k.exit(pid, 0).expect("exit"),
                    2 => {
                        let _ = k.munmap(pid, at, page);
                    }
                    3 => {
                        let _ = k.mprotect(pid, at, page, Prot::READ);
                    }
                    4 => {
                        let _ = k.mprotect(pid, at, page, rw);
                    }
                    n if n % 2 == 0 => {
                        let _ = k.store(pid, addr, 1, step);
                    }
                    _ => {
                        let _ = k.load(pid, addr, 1);
                    }
                }
            }
            assert_eq!(k.counters(), searching.counters(), "step {step}");
            assert_eq!(k.mmu.counters(), searching.mmu.counters(), "step {step}");
            let (tlb, other) = (k.mmu.tlb(), searching.mmu.tlb());
            assert_eq!(tlb.counters(), other.counters(), "step {step}");
            for level in 0..tlb.counters().len() {
                assert!(tlb.entries(level).eq(other.entries(level)), "step {step}");
                for (_, e) in tlb.entries(level) {
                    let pid = k.asid_owner[usize::from(e.asid)];
                    let vaddr = e.vpn << e.page_shift;
                    let leaf = k
                        .procs
                        .get(&pid)
                        .and_then(|p| p.page_table.query(&k.arch, &k.mem, vaddr).ok().flatten());
                    assert!(
                        leaf.is_some_and(|m| m.accessed),
                        "step {step}: process {pid}'s page {vaddr:#x} cached, its entry {leaf:?}"
                    );
                }
            }
        }
        let c = k.counters();
        assert!(c.evictions > 300 && c.tlb_shootdowns > 1000);
    }

    /// Test-and-clear through [`KernelRefs`] answers, changes entries,
    /// shoots down and records exactly as a read and then a clear do, on
    /// every user frame, twice over (the second time finds every flag
    /// clear).
    #[test]
    fn test_and_clear_in_one_pass_is_a_read_then_a_clear() {
        let (mut one_pass, mut separate) = (machine(), machine());
        let frames: Vec<FrameId> = (0..one_pass.frames.len() as FrameId)
            .filter(|&f| one_pass.frames.used_for(f).is_user())
            .collect();
        assert!(frames.iter().any(|&f| one_pass.frames.mapcount(f) == 2));
        let mut referenced = 0;
        for round in 0..2 {
            for &frame in &frames {
                let fused = KernelRefs {
                    kernel: &mut one_pass,
                }
                .test_and_clear_referenced(frame);
                let split = ReadThenClear(KernelRefs {
                    kernel: &mut separate,
                })
                .test_and_clear_referenced(frame);
                assert_eq!(fused, split, "frame {frame}, round {round}");
                assert_eq!(one_pass.owner_flags(frame), separate.owner_flags(frame));
                referenced += usize::from(fused && round == 0);
                assert!(!(fused && round == 1), "frame {frame} still referenced");
            }
        }
        assert!(referenced > 0);
        assert_eq!(one_pass.counters(), separate.counters());
        let records = |k: &Kernel| k.explain_log().map(|log| log.records().to_vec());
        assert_eq!(records(&one_pass), records(&separate));
    }
}
