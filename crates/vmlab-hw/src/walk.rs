//! The page-table walker: reads entries from [`PhysMem`] level by level as
//! the scheme's [`Arch`] describes, checks rights, maintains the accessed and
//! dirty flags where (and only where) the hardware does, and returns a
//! [`Translation`] or a [`PageFault`] that names the level and the cause.
//!
//! The steps follow the manuals; the quoted lines are from the RISC-V
//! Privileged ISA §4.3.2 "Virtual Address Translation Process", whose
//! algorithm reads closest to code. x86 (Intel SDM Vol. 3A §4.5, §4.6, §4.8)
//! and AArch64 (Arm ARM D8.2-D8.4) differ where noted.
//!
//! The MMU's quiet walks start at the last level when its memo of upper
//! paths holds the path above it: on a workload over many pages every walk
//! reads the same few upper entries, valid and already marked accessed, so
//! a walk from the root would read them and change nothing.

use crate::access::{AccessKind, Mode, Perms};
use crate::arch::pte::{EntryBits, PteEncoding, PteKind};
use crate::arch::{AdUpdate, Arch, LevelPlan};
use crate::events::{emit, Event, EventSink, NoEvents};
use crate::physmem::PhysMem;
use crate::upper::UpperPaths;
use serde::Serialize;
use std::fmt;

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Translation {
    /// The physical address of the accessed byte.
    pub paddr: u64,
    /// Physical address of the start of the page.
    pub frame: u64,
    /// Size of the page as a shift (12 for 4 KiB).
    pub page_shift: u8,
    /// Rights after combining every level.
    pub perms: Perms,
    /// Whether the leaf is global.
    pub global: bool,
    /// Whether a later write may go through without touching the entry:
    /// the leaf is dirty now, or its format tracks no dirty state for it.
    /// A TLB caches this so a write through a clean entry re-walks.
    pub dirty: bool,
    /// Level of the leaf (0 is the root): the walk read `level + 1` entries.
    pub level: usize,
    /// Physical address of the leaf entry.
    pub pte_addr: u64,
}

/// Why a translation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageFaultCause {
    /// The address is outside the scheme's canonical range.
    NonCanonical,
    /// An entry on the path is not present (x86 P=0, RISC-V V=0, an invalid
    /// AArch64 descriptor: a translation fault).
    NotPresent,
    /// The leaf does not grant the access at this privilege.
    Protection,
    /// An entry has a reserved bit or encoding set.
    ReservedBit,
    /// The accessed flag is clear and the hardware does not set it (AArch64
    /// access flag fault; RISC-V Svade).
    AccessFlag,
    /// A write to a page whose dirty flag is clear, where the hardware does
    /// not set it (RISC-V Svade).
    DirtyFlag,
    /// A huge-page leaf's frame is not aligned to the page size (RISC-V).
    MisalignedSuperpage,
    /// A table entry points outside physical memory.
    TableOutsideMemory,
}

impl PageFaultCause {
    /// A plain-words description.
    pub fn describe(self) -> &'static str {
        match self {
            PageFaultCause::NonCanonical => "the address is not canonical",
            PageFaultCause::NotPresent => "the entry is not present",
            PageFaultCause::Protection => "the page does not allow this access",
            PageFaultCause::ReservedBit => "a reserved bit is set in the entry",
            PageFaultCause::AccessFlag => "the accessed flag is clear and software must set it",
            PageFaultCause::DirtyFlag => "the dirty flag is clear and software must set it",
            PageFaultCause::MisalignedSuperpage => "the huge page's frame is misaligned",
            PageFaultCause::TableOutsideMemory => "a page table lies outside physical memory",
        }
    }
}

/// A failed translation: where and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PageFault {
    /// The faulting virtual address.
    pub vaddr: u64,
    /// Read, write or fetch.
    pub kind: AccessKind,
    /// User or supervisor.
    pub mode: Mode,
    /// Level at which the walk stopped (0 is the root).
    pub level: usize,
    /// The reason.
    pub cause: PageFaultCause,
    /// Page-table entries the walk read before it stopped.
    pub walk_reads: u32,
}

impl fmt::Display for PageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page fault: {} {} of {:#x} at level {}: {}",
            self.mode,
            self.kind,
            self.vaddr,
            self.level,
            self.cause.describe()
        )
    }
}

impl std::error::Error for PageFault {}

/// Whether `perms` allow `kind` at `mode` on `arch`, including the
/// supervisor's exclusion from user pages where the scheme has it (RISC-V
/// with SUM=0, which also never lets S-mode execute U pages).
#[inline]
pub fn access_allowed(arch: &Arch, perms: Perms, kind: AccessKind, mode: Mode) -> bool {
    if mode == Mode::Supervisor
        && perms.contains(Perms::USER)
        && arch.spec().supervisor_denied_user_pages
    {
        return false;
    }
    perms.allows(kind, mode)
}

/// Translates `vaddr` through the tables rooted at physical address `root`,
/// reporting each step to `sink`.
#[inline]
pub fn walk<S: EventSink>(
    arch: &Arch,
    mem: &mut PhysMem,
    root: u64,
    vaddr: u64,
    kind: AccessKind,
    mode: Mode,
    sink: &mut S,
) -> Result<Translation, PageFault> {
    let request = Request {
        root,
        vaddr,
        kind,
        mode,
    };
    walk_with(arch, mem, request, None, sink)
}

/// [`walk`] reporting nothing, that takes the path above the last level
/// from `paths` when it holds it for this memory's
/// [epoch](PhysMem::epoch), and remembers it there otherwise: the same
/// result, the same reads counted, and the same entries written as a walk
/// from the root (which would read those entries and leave them as they
/// are).
#[inline]
pub(crate) fn walk_remembering(
    arch: &Arch,
    mem: &mut PhysMem,
    paths: &mut UpperPaths,
    root: u64,
    vaddr: u64,
    kind: AccessKind,
    mode: Mode,
) -> Result<Translation, PageFault> {
    let request = Request {
        root,
        vaddr,
        kind,
        mode,
    };
    walk_with(arch, mem, request, Some(paths), &mut NoEvents)
}

/// [`walk`], through `paths` when given.
#[inline(always)]
fn walk_with<S: EventSink>(
    arch: &Arch,
    mem: &mut PhysMem,
    request: Request,
    paths: Option<&mut UpperPaths>,
    sink: &mut S,
) -> Result<Translation, PageFault> {
    // One copy of the walk per entry family and size, so each entry is
    // decoded without matching on the family and read with a load of a
    // width known at compile time.
    match &arch.pte().encoding {
        PteEncoding::X86(b) => walk_family(b, arch, mem, request, paths, sink),
        PteEncoding::RiscV(b) => walk_family(b, arch, mem, request, paths, sink),
        PteEncoding::AArch64(b) => walk_family(b, arch, mem, request, paths, sink),
        PteEncoding::Simple(b) => walk_family(b, arch, mem, request, paths, sink),
    }
}

/// What one walk is asked to translate.
#[derive(Clone, Copy)]
struct Request {
    root: u64,
    vaddr: u64,
    kind: AccessKind,
    mode: Mode,
}

/// A table a walk has reached, with what the table entries above it
/// folded in: the walk's whole state between levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TablePath {
    /// Physical address of the table.
    pub(crate) table: u64,
    /// x86 combines R/W, U/S and XD over every level (SDM §4.6); AArch64
    /// applies APTable and XNTable hierarchically (D8.4.2). The
    /// restricting table entries are folded into an AND and an OR and
    /// decoded once, at the leaf (see `EntryBits::tables_limit`): decoding
    /// each level's cost fifteen instructions a level.
    pub(crate) tables_all: u64,
    /// The OR of the same entries.
    pub(crate) tables_any: u64,
}

impl TablePath {
    /// The root table, with nothing above it.
    fn root(root: u64) -> TablePath {
        TablePath {
            table: root,
            tables_all: u64::MAX,
            tables_any: 0,
        }
    }

    /// The table `next` the table entry `raw` at a level planned by `plan`
    /// points to, from this one.
    #[inline(always)]
    fn through(self, plan: &LevelPlan, raw: u64, next: u64) -> TablePath {
        let (all, any) = if plan.table_restricts {
            (self.tables_all & raw, self.tables_any | raw)
        } else {
            (self.tables_all, self.tables_any)
        };
        TablePath {
            table: next,
            tables_all: all,
            tables_any: any,
        }
    }
}

/// What entry `raw` is, at a level planned by `plan`, or the fault it
/// raises. Step 3: "If pte.v = 0, or if pte.r = 0 and pte.w = 1, or if any
/// bits or encodings that are reserved for future standard use are set
/// within pte, stop and raise a page-fault exception."
#[inline(always)]
fn check_entry<B: EntryBits>(
    bits: &B,
    plan: &LevelPlan,
    raw: u64,
) -> Result<PteKind, PageFaultCause> {
    let entry_kind = bits.kind(raw, plan.leaf, plan.last);
    let reserved = match entry_kind {
        PteKind::Table => raw & plan.table_reserved,
        _ => raw & plan.leaf_reserved,
    };
    if bits.reserved_encoding(raw) {
        Err(PageFaultCause::ReservedBit)
    } else if entry_kind == PteKind::Invalid {
        Err(PageFaultCause::NotPresent)
    } else if reserved != 0 {
        Err(PageFaultCause::ReservedBit)
    } else {
        Ok(entry_kind)
    }
}

/// The walk of `vaddr` under `root` above the last level, changing no
/// entry: the last-level table it reaches, when every entry on the way is
/// a valid table entry the walk leaves as it is (accessed already, where
/// the walker sets the flag) and `mem` [guards](PhysMem::guard) each for
/// its epoch. `None` otherwise (a fault, a huge page, a flag to set, a
/// one-level scheme, an entry that cannot be guarded): the walk must start
/// at the root.
pub(crate) fn upper_path<const W: usize, B: EntryBits>(
    bits: &B,
    arch: &Arch,
    mem: &mut PhysMem,
    root: u64,
    vaddr: u64,
) -> Option<TablePath> {
    let (_, above) = arch.plans().split_last()?;
    if above.is_empty() {
        return None;
    }
    let mut path = TablePath::root(root);
    for plan in above {
        let index = (vaddr >> plan.shift) & plan.index_mask;
        let pte_addr = path.table + index * W as u64;
        let raw = mem.load_n::<W>(pte_addr).ok()?;
        let settled = check_entry(bits, plan, raw) == Ok(PteKind::Table)
            && (!plan.table_accessed || bits.table_accessed(raw));
        if !settled || !mem.guard(pte_addr, W as u64) {
            return None;
        }
        let next = arch.pte().frame_addr(raw, arch.page_shift());
        path = path.through(plan, raw, next);
    }
    Some(path)
}

/// The walk for one entry family. Its bit positions are read where used,
/// not loaded up front: most walks start at the last level (see
/// [`UpperPaths`]) and use few of them.
#[inline(always)]
fn walk_family<B: EntryBits, S: EventSink>(
    bits: &B,
    arch: &Arch,
    mem: &mut PhysMem,
    request: Request,
    paths: Option<&mut UpperPaths>,
    sink: &mut S,
) -> Result<Translation, PageFault> {
    match arch.pte().bytes {
        8 => walk_sized::<8, B, S>(bits, arch, mem, request, paths, sink),
        4 => walk_sized::<4, B, S>(bits, arch, mem, request, paths, sink),
        2 => walk_sized::<2, B, S>(bits, arch, mem, request, paths, sink),
        _ => walk_sized::<1, B, S>(bits, arch, mem, request, paths, sink),
    }
}

#[inline(always)]
fn walk_sized<const W: usize, B: EntryBits, S: EventSink>(
    bits: &B,
    arch: &Arch,
    mem: &mut PhysMem,
    request: Request,
    paths: Option<&mut UpperPaths>,
    sink: &mut S,
) -> Result<Translation, PageFault> {
    let Request {
        root,
        vaddr,
        kind,
        mode,
    } = request;
    let fault = |level: usize, cause: PageFaultCause, walk_reads: u32| PageFault {
        vaddr,
        kind,
        mode,
        level,
        cause,
        walk_reads,
    };
    // Sv39: "bits 63-39 must all equal bit 38, or else a page-fault exception
    // will occur"; x86-64 raises #GP for a non-canonical address, and AArch64
    // a translation fault at level 0 outside the TTBR0 range.
    if !arch.is_canonical(vaddr) {
        let f = fault(0, PageFaultCause::NonCanonical, 0);
        emit!(sink, Event::PageFault(f));
        return Err(f);
    }
    let format = arch.pte();
    let pte_bytes = W;
    let page_shift = arch.page_shift();
    // Step 1: "Let a be satp.ppn x PAGESIZE, and let i = LEVELS - 1."
    // Or the last level's table, when the memo has the path to it.
    let plans = arch.plans();
    let (first, mut at) = match paths.and_then(|p| p.find::<W, B>(bits, arch, mem, root, vaddr)) {
        Some(path) => (plans.len() - 1, path),
        None => (0, TablePath::root(root)),
    };
    for (plan, i) in plans[first..].iter().zip(first..) {
        // Step 2: "Let pte be the value of the PTE at address
        // a + va.vpn[i] x PTESIZE."
        let index = (vaddr >> plan.shift) & plan.index_mask;
        let pte_addr = at.table + index * pte_bytes as u64;
        let reads = i as u32 + 1;
        let Ok(raw) = mem.load_n::<W>(pte_addr) else {
            let f = fault(i, PageFaultCause::TableOutsideMemory, i as u32);
            emit!(sink, Event::PageFault(f));
            return Err(f);
        };
        emit!(
            sink,
            Event::WalkStep {
                level: i,
                index,
                pte_addr,
                raw,
                decoded: format.decode(
                    raw,
                    page_shift,
                    plan.leaf,
                    plan.last,
                    plan.table_reserved,
                    plan.leaf_reserved,
                ),
            }
        );
        let entry_kind = match check_entry(bits, plan, raw) {
            Ok(entry_kind) => entry_kind,
            Err(cause) => {
                let f = fault(i, cause, reads);
                emit!(sink, Event::PageFault(f));
                return Err(f);
            }
        };
        let addr = format.frame_addr(raw, page_shift);
        if entry_kind == PteKind::Table {
            // Step 4: "Otherwise, this PTE is a pointer to the next level of
            // the page table. Let i = i - 1 ... let a = pte.ppn x PAGESIZE
            // and go to step 2." (The decoder already turned a pointer at the
            // last level into an invalid entry.)
            // x86: "Whenever the processor uses a paging-structure entry as
            // part of linear-address translation, it sets the accessed flag
            // in that entry (if it is not already set)" (SDM §4.8).
            if plan.table_accessed && !bits.table_accessed(raw) {
                let new = bits.with_accessed(raw, true);
                set_entry::<W, S>(mem, sink, i, pte_addr, raw, new);
            }
            at = at.through(plan, raw, addr);
            continue;
        }
        let d = bits.leaf(raw);
        // Step 5: "A leaf PTE has been found. Determine if the requested
        // memory access is allowed by the pte.r, pte.w, pte.x, and pte.u
        // bits, given the current privilege mode and the value of the SUM
        // and MXR fields of the mstatus register."
        let shift = plan.shift;
        let size_mask = (1u64 << shift) - 1;
        let perms = d.perms & bits.tables_limit(at.tables_all, at.tables_any);
        // A clean DBM page is writable only through hardware dirty
        // management; without it the write is a permission fault (D8.4.6).
        let aarch64_no_dbm = B::CLEAN_WRITE_IS_PERMISSION_FAULT
            && arch.ad_update() == AdUpdate::Fault
            && d.clean_writable;
        let write = kind == AccessKind::Write;
        if !access_allowed(arch, perms, kind, mode) || (write && aarch64_no_dbm) {
            let f = fault(i, PageFaultCause::Protection, reads);
            emit!(sink, Event::PageFault(f));
            return Err(f);
        }
        // Step 6: "If i > 0 and pte.ppn[i-1:0] != 0, this is a misaligned
        // superpage; stop and raise a page-fault exception." x86 and AArch64
        // express the same rule as reserved bits (step 3).
        if addr & size_mask != 0 && arch.spec().misaligned_superpage_faults {
            let f = fault(i, PageFaultCause::MisalignedSuperpage, reads);
            emit!(sink, Event::PageFault(f));
            return Err(f);
        }
        // Step 7: "If pte.a = 0, or if the original memory access is a store
        // and pte.d = 0, either raise a page-fault exception or: set pte.a to
        // 1 and, if the memory access is a store, also set pte.d to 1."
        let needs_dirty = write && d.clean_writable;
        let mut dirty = d.dirty;
        if !d.accessed || needs_dirty {
            match arch.ad_update() {
                AdUpdate::Fault if !d.accessed => {
                    let f = fault(i, PageFaultCause::AccessFlag, reads);
                    emit!(sink, Event::PageFault(f));
                    return Err(f);
                }
                AdUpdate::Fault if !aarch64_no_dbm => {
                    let f = fault(i, PageFaultCause::DirtyFlag, reads);
                    emit!(sink, Event::PageFault(f));
                    return Err(f);
                }
                AdUpdate::Fault => {}
                AdUpdate::Hardware => {
                    let mut new = bits.with_accessed(raw, true);
                    if needs_dirty {
                        new = bits.with_dirty(new, true);
                        dirty = true;
                    }
                    set_entry::<W, S>(mem, sink, i, pte_addr, raw, new);
                }
            }
        }
        // Step 8: "The translation is successful. The translated physical
        // address is given as follows: pa.pgoff = va.pgoff; if i > 0, then
        // this is a superpage translation and pa.ppn[i-1:0] = va.vpn[i-1:0];
        // pa.ppn[LEVELS-1:i] = pte.ppn[LEVELS-1:i]."
        let frame = addr & !size_mask;
        let t = Translation {
            paddr: frame | (vaddr & size_mask),
            frame,
            page_shift: shift,
            perms,
            global: d.global,
            dirty: dirty || !d.clean_writable,
            level: i,
            pte_addr,
        };
        emit!(
            sink,
            Event::Translated {
                vaddr,
                paddr: t.paddr,
                page_shift: shift,
            }
        );
        return Ok(t);
    }
    unreachable!("the last level always decodes to a leaf or an invalid entry")
}

/// Writes an updated `W`-byte entry back (the walker's atomic flag update).
fn set_entry<const W: usize, S: EventSink>(
    mem: &mut PhysMem,
    sink: &mut S,
    level: usize,
    pte_addr: u64,
    old: u64,
    new: u64,
) {
    if new == old {
        return;
    }
    // The entry was just read from this address, so the store is in range.
    if mem.store_n::<W>(pte_addr, new).is_ok() {
        emit!(
            sink,
            Event::FlagUpdate {
                level,
                pte_addr,
                old,
                new,
            }
        );
    }
}
