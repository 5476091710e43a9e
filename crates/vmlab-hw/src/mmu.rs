//! The MMU: one [`Mmu::access`] call takes a virtual address through
//! segmentation (if the machine has it), the TLB levels, and on a miss the
//! page-table walker, fills the TLBs, and returns the physical address with
//! what it cost ([`AccessCost`]) or the fault that stopped it ([`MmuFault`]).
//!
//! The address space is named per access by a [`Context`]: the root table
//! and ASID that CR3, satp or TTBR0 would hold. Every step is reported to an
//! [`EventSink`]; with [`NoEvents`](crate::events::NoEvents) the reports
//! vanish at compile time.

use crate::access::{AccessKind, Mode};
use crate::arch::Arch;
use crate::events::{emit, enabled, Event, EventSink, InvalidateReason};
use crate::physmem::PhysMem;
use crate::segment::x86::{SegReg, SegmentUnit};
use crate::segment::{BaseBounds, SegmentFault, SegmentTable};
use crate::tlb::{
    Tlb, TlbArrayConfig, TlbConfig, TlbConfigError, TlbEntry, TlbKind, TlbLevelConfig,
    TlbReplacement,
};
use crate::upper::UpperPaths;
use crate::walk::{access_allowed, walk, walk_remembering, PageFault};
use serde::Serialize;
use std::fmt;

/// A TLB shaped for `arch` when the user names none: the x86-64 preset's
/// (a current Intel core's split L1 and unified L2) for x86-64, otherwise a
/// 64-entry 4-way L1i and L1d and a 1024-entry 8-way L2 holding every page
/// size the scheme has, all LRU.
pub fn default_tlb(arch: &Arch) -> TlbConfig {
    if arch.name().starts_with("x86-64") {
        return TlbConfig::x86_64_default();
    }
    let shifts: Vec<u8> = arch.page_sizes().iter().map(|&(shift, _)| shift).collect();
    let level = |name: &str, kind, level, entries, ways| TlbLevelConfig {
        name: name.into(),
        kind,
        level,
        arrays: vec![TlbArrayConfig {
            entries,
            ways,
            page_shifts: shifts.clone(),
            replacement: TlbReplacement::Lru,
        }],
    };
    TlbConfig {
        levels: vec![
            level("L1i", TlbKind::Instruction, 1, 64, 4),
            level("L1d", TlbKind::Data, 1, 64, 4),
            level("L2", TlbKind::Unified, 2, 1024, 8),
        ],
    }
}

/// The translation registers of one address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Context {
    /// Physical address of the root page table.
    pub root: u64,
    /// Address-space identifier (PCID, ASID); 0 where the scheme has none.
    pub asid: u16,
}

/// The segmentation stage in front of paging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segmentation {
    /// No segmentation (a flat address space).
    Flat,
    /// One base-and-bounds register pair.
    BaseBounds(BaseBounds),
    /// A segment table selected by the top bits of the address.
    Table(SegmentTable),
    /// x86-32 segment registers: fetches use CS, data accesses DS.
    X86(SegmentUnit),
}

/// What an access cost in hardware work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccessCost {
    /// TLB levels probed.
    pub tlb_probes: u32,
    /// Page-table entries read by the walker.
    pub walk_reads: u32,
}

/// A completed access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Access {
    /// The physical address.
    pub paddr: u64,
    /// Size of the page that mapped it, as a shift.
    pub page_shift: u8,
    /// The TLB level that hit, or `None` when the tables were walked.
    pub tlb_level: Option<usize>,
    /// What it cost.
    pub cost: AccessCost,
}

/// Which stage refused the access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MmuFaultKind {
    /// Segmentation, before any page walk (boxed: rare, and large).
    Segment(Box<SegmentFault>),
    /// Paging.
    Page(PageFault),
}

/// A refused access and what it cost before it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmuFault {
    /// The fault.
    pub kind: MmuFaultKind,
    /// Work done before the fault.
    pub cost: AccessCost,
}

impl fmt::Display for MmuFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            MmuFaultKind::Segment(s) => write!(f, "{s}"),
            MmuFaultKind::Page(p) => write!(f, "{p}"),
        }
    }
}

impl std::error::Error for MmuFault {}

/// Counts over all accesses since construction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MmuCounters {
    /// Accesses presented.
    pub accesses: u64,
    /// Accesses translated by a TLB hit.
    pub tlb_hits: u64,
    /// Page-table walks started.
    pub walks: u64,
    /// Page-table entries read by walks.
    pub walk_reads: u64,
    /// Page faults.
    pub page_faults: u64,
    /// Segmentation faults.
    pub segment_faults: u64,
}

/// A repeated-access register: what the entry a first TLB level hit last
/// through the shortcut grants, kept where the next access to the same page
/// finds it in a few instructions. There is one for data accesses and one
/// for fetches, as a program interleaves the two (one L1 TLB each, on most
/// machines). A register stands for its entry while a hit on it changes
/// nothing but counters: every path that can change the TLB (an access
/// that is not a register hit, [`Mmu::tlb_mut`], [`Mmu::segmentation_mut`])
/// empties both first.
#[derive(Clone, Copy, Debug)]
struct RepeatGrant {
    /// The page's number at its size (`vaddr >> shift`).
    page: u64,
    shift: u8,
    frame_base: u64,
    /// The address space it was granted in.
    asid: u16,
    mode: Mode,
    /// The access kinds it grants (bit [`kind_bit`]): those of its side
    /// whose first TLB level is `level` and that the entry allows outright.
    kinds: u8,
    /// The TLB level the entry is in.
    level: usize,
}

impl RepeatGrant {
    /// Whether the grant covers an access of `kind` to `vaddr` (its page,
    /// a kind it allows), whatever the address space and mode.
    #[inline(always)]
    fn covers(&self, vaddr: u64, kind: AccessKind) -> bool {
        vaddr >> self.shift == self.page && self.kinds & kind_bit(kind) != 0
    }
}

/// What [`Mmu::repeat_run`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepeatRun {
    /// Accesses granted per register (0: data, 1: fetch).
    hits: [u64; 2],
    /// Per register, the physical address of the page it granted.
    frame_base: [u64; 2],
    /// The register of the run's last access.
    last: usize,
}

impl RepeatRun {
    /// How many accesses the run took.
    pub fn accesses(&self) -> u64 {
        self.hits[0] + self.hits[1]
    }

    /// The physical pages the run touched, each once, in the order of its
    /// last access.
    pub fn pages_touched(&self) -> impl Iterator<Item = u64> + '_ {
        [1 - self.last, self.last]
            .into_iter()
            .filter(|&side| self.hits[side] > 0)
            .map(|side| self.frame_base[side])
    }
}

/// An access kind's bit in [`RepeatGrant::kinds`].
#[inline(always)]
fn kind_bit(kind: AccessKind) -> u8 {
    1 << kind as u8
}

/// The register an access kind uses: 0 for loads and stores, 1 for fetches.
#[inline(always)]
fn side(kind: AccessKind) -> usize {
    match kind {
        AccessKind::Read | AccessKind::Write => 0,
        AccessKind::Fetch => 1,
    }
}

/// Segmentation, TLBs and the walker for one scheme.
#[derive(Clone, Debug)]
pub struct Mmu {
    arch: Arch,
    tlb: Tlb,
    segmentation: Segmentation,
    paging: bool,
    counters: MmuCounters,
    /// Indexed by [`side`].
    repeat: [Option<RepeatGrant>; 2],
    /// The paths walks took above the last level, and the tables
    /// look-ahead found.
    paths: UpperPaths,
    /// The last access that probed every TLB level on its path and missed
    /// in all of them (see [`MissedEverywhere`]).
    missed: Option<MissedEverywhere>,
}

/// An access whose probes all missed, and the TLB's
/// [`additions`](Tlb::additions) then. While no entry is added the same
/// probes miss again (a probe that misses changes nothing but counters),
/// so the access retried after its page fault is handled counts its probes
/// without searching: five arrays of two levels, on a workload that faults
/// on every fifth reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MissedEverywhere {
    linear: u64,
    asid: u16,
    kind: AccessKind,
    additions: u64,
}

impl Mmu {
    /// A paging MMU for `arch` with TLBs built from `tlb`, no segmentation.
    pub fn new(arch: Arch, tlb: &TlbConfig) -> Result<Mmu, TlbConfigError> {
        tlb.check_page_sizes(&arch)?;
        let tlb = Tlb::new(tlb)?;
        Ok(Mmu {
            tlb,
            segmentation: Segmentation::Flat,
            paging: true,
            counters: MmuCounters::default(),
            repeat: [None; 2],
            paths: UpperPaths::new(&arch),
            missed: None,
            arch,
        })
    }

    /// Hints the host cache to load the leaf entry a walk of `vaddr` in
    /// `ctx` would read (finding its table through the memo of upper paths
    /// the walks keep); nothing behind segmentation or without paging.
    /// Changes nothing the machine can observe.
    #[inline]
    pub fn prefetch_translation(&mut self, mem: &PhysMem, ctx: Context, vaddr: u64) {
        if self.paging && matches!(self.segmentation, Segmentation::Flat) {
            self.paths.prefetch(&self.arch, mem, ctx.root, vaddr);
        }
    }

    /// Puts `segmentation` in front of translation; with `paging` false the
    /// segment output is the physical address (pure segmentation).
    pub fn with_segmentation(mut self, segmentation: Segmentation, paging: bool) -> Mmu {
        self.segmentation = segmentation;
        self.paging = paging;
        self.repeat = [None; 2];
        self
    }

    /// The translation scheme.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// The TLBs, for flushes and inspection.
    pub fn tlb(&self) -> &Tlb {
        &self.tlb
    }

    /// The TLBs, mutably (flushes, shootdowns).
    pub fn tlb_mut(&mut self) -> &mut Tlb {
        self.repeat = [None; 2];
        &mut self.tlb
    }

    /// The segmentation stage.
    pub fn segmentation(&self) -> &Segmentation {
        &self.segmentation
    }

    /// The segmentation stage, mutably (loading segment registers).
    pub fn segmentation_mut(&mut self) -> &mut Segmentation {
        self.repeat = [None; 2];
        &mut self.segmentation
    }

    /// Counts since construction.
    pub fn counters(&self) -> MmuCounters {
        self.counters
    }

    /// Translates the byte at `vaddr` for an access of `kind` at `mode` in
    /// address space `ctx`, setting accessed and dirty flags as the hardware
    /// does.
    #[inline]
    pub fn access<S: EventSink>(
        &mut self,
        mem: &mut PhysMem,
        ctx: Context,
        vaddr: u64,
        kind: AccessKind,
        mode: Mode,
        sink: &mut S,
    ) -> Result<Access, MmuFault> {
        self.forget_repeats_on_path(kind);
        self.counters.accesses += 1;
        emit!(
            sink,
            Event::Access {
                vaddr,
                kind,
                mode,
                asid: ctx.asid,
            }
        );
        let mut cost = AccessCost::default();
        let linear = match self.segmentation {
            Segmentation::Flat => vaddr,
            _ => self.segment(vaddr, kind, mode, cost, sink)?,
        };
        if !self.paging {
            return Ok(Access {
                paddr: linear,
                page_shift: 0,
                tlb_level: None,
                cost,
            });
        }
        // The repeated-access shortcut: the first level's last hit, when it
        // allows the access outright. Anything else takes the full probe.
        if let Some((first, &e)) = self.recent_grant(linear, ctx.asid, kind, mode) {
            let (paddr, page_shift) = (e.translate(linear), e.page_shift);
            if matches!(self.segmentation, Segmentation::Flat) {
                self.repeat[side(kind)] = Some(self.repeat_grant(kind, first, e, ctx.asid, mode));
            }
            emit!(
                sink,
                Event::TlbProbe {
                    level: first,
                    vaddr: linear,
                    hit: Some(e),
                }
            );
            self.count_recent_hit(first);
            return Ok(Access {
                paddr,
                page_shift,
                tlb_level: Some(first),
                cost: AccessCost {
                    tlb_probes: 1,
                    walk_reads: 0,
                },
            });
        }
        let probes = self.tlb.levels_for(kind).len();
        // How many levels from the first are known to hold no entry for
        // the page now: their fills need not look for one to replace.
        let mut known_absent = probes;
        let this_access = MissedEverywhere {
            linear,
            asid: ctx.asid,
            kind,
            additions: self.tlb.additions(),
        };
        // An explanation reports every probe's search; it takes no
        // shortcut.
        let missed_again = self.missed == Some(this_access) && !enabled(sink);
        for depth in 0..probes {
            let level = self.tlb.levels_for(kind)[depth];
            cost.tlb_probes += 1;
            if missed_again {
                self.tlb.count_miss(level);
                continue;
            }
            let hit = self.tlb.probe(level, linear, ctx.asid);
            emit!(
                sink,
                Event::TlbProbe {
                    level,
                    vaddr: linear,
                    hit: hit.map(|h| *h.entry),
                }
            );
            let Some(hit) = hit else { continue };
            let e = hit.entry;
            // A cached entry that does not grant the access, or a write
            // through an entry cached clean, sends the processor back to the
            // tables: the rights may have been raised since, and the walker
            // must set the dirty flag in memory.
            let reason = if !access_allowed(&self.arch, e.perms, kind, mode) {
                Some(InvalidateReason::Rights)
            } else if kind == AccessKind::Write && !e.dirty {
                Some(InvalidateReason::Clean)
            } else {
                None
            };
            let (paddr, page_shift) = (e.translate(linear), e.page_shift);
            let slot = hit.slot;
            if let Some(reason) = reason {
                let entry = *e;
                self.tlb.invalidate(slot);
                emit!(
                    sink,
                    Event::TlbInvalidate {
                        level,
                        entry,
                        reason,
                    }
                );
                // The levels below were not probed.
                known_absent = depth + 1;
                break;
            }
            self.counters.tlb_hits += 1;
            if depth > 0 {
                // An L2 hit refills the levels probed before it.
                let entry = *e;
                Self::fill_path(&mut self.tlb, kind, depth, entry, depth, sink);
            }
            return Ok(Access {
                paddr,
                page_shift,
                tlb_level: Some(level),
                cost,
            });
        }
        if known_absent == probes {
            self.missed = Some(this_access);
        }
        self.counters.walks += 1;
        // An explanation reports every step of the walk, from the root.
        let walked = if enabled(sink) {
            walk(&self.arch, mem, ctx.root, linear, kind, mode, sink)
        } else {
            walk_remembering(
                &self.arch,
                mem,
                &mut self.paths,
                ctx.root,
                linear,
                kind,
                mode,
            )
        };
        match walked {
            Ok(t) => {
                let reads = t.level as u32 + 1;
                cost.walk_reads += reads;
                self.counters.walk_reads += u64::from(reads);
                let entry = TlbEntry {
                    vpn: linear >> t.page_shift,
                    page_shift: t.page_shift,
                    frame_base: t.frame,
                    perms: t.perms,
                    asid: ctx.asid,
                    global: t.global,
                    dirty: t.dirty,
                };
                Self::fill_path(&mut self.tlb, kind, probes, entry, known_absent, sink);
                Ok(Access {
                    paddr: t.paddr,
                    page_shift: t.page_shift,
                    tlb_level: None,
                    cost,
                })
            }
            Err(fault) => {
                cost.walk_reads += fault.walk_reads;
                self.counters.walk_reads += u64::from(fault.walk_reads);
                self.counters.page_faults += 1;
                Err(MmuFault {
                    kind: MmuFaultKind::Page(fault),
                    cost,
                })
            }
        }
    }

    /// The first TLB level's last hit, with that level, when it maps
    /// `linear` for `asid` and allows an access of `kind` at `mode` outright
    /// (a write only through an entry cached dirty): a hit on it changes
    /// nothing but counters.
    #[inline(always)]
    fn recent_grant(
        &self,
        linear: u64,
        asid: u16,
        kind: AccessKind,
        mode: Mode,
    ) -> Option<(usize, &TlbEntry)> {
        let &first = self.tlb.levels_for(kind).first()?;
        let e = self.tlb.recent_hit(first, linear, asid)?;
        let write_ok = kind != AccessKind::Write || e.dirty;
        (write_ok && access_allowed(&self.arch, e.perms, kind, mode)).then_some((first, e))
    }

    /// Empties the registers an access of `kind` could make stale: its own
    /// side's, and the other side's if that names a level this access
    /// probes or fills (a unified first level, say). A data access leaves
    /// the fetch register of a separate L1i standing, and the reverse.
    #[inline(always)]
    fn forget_repeats_on_path(&mut self, kind: AccessKind) {
        self.repeat[side(kind)] = None;
        let other = &mut self.repeat[1 - side(kind)];
        if other.is_some_and(|g| self.tlb.levels_for(kind).contains(&g.level)) {
            *other = None;
        }
    }

    /// The register for `entry`, through which level `level` just granted
    /// an access of `granted` by the shortcut.
    fn repeat_grant(
        &self,
        granted: AccessKind,
        level: usize,
        entry: TlbEntry,
        asid: u16,
        mode: Mode,
    ) -> RepeatGrant {
        let kinds = [AccessKind::Read, AccessKind::Write, AccessKind::Fetch]
            .into_iter()
            .filter(|&kind| {
                side(kind) == side(granted)
                    && self.tlb.levels_for(kind).first() == Some(&level)
                    && (kind != AccessKind::Write || entry.dirty)
                    && access_allowed(&self.arch, entry.perms, kind, mode)
            })
            .fold(0, |kinds, kind| kinds | kind_bit(kind));
        RepeatGrant {
            page: entry.vpn,
            shift: entry.page_shift,
            frame_base: entry.frame_base,
            asid,
            mode,
            kinds,
            level,
        }
    }

    #[inline(always)]
    fn count_recent_hit(&mut self, level: usize) {
        self.tlb.count_hit(level);
        self.counters.tlb_hits += 1;
    }

    /// The repeated-access shortcut for the hot loop of a run: when the
    /// access is to the page a flat machine's first TLB level granted last
    /// through the shortcut, and that grant covers it (same address space,
    /// mode, and a kind the entry allows outright), counts the access and
    /// the TLB hit exactly as [`Mmu::access`] would and returns the
    /// physical address. Otherwise `None`, counting nothing: the caller
    /// goes on to `access`. Reports no events (a caller that explains uses
    /// `access`).
    #[inline(always)]
    pub fn repeat_hit(
        &mut self,
        ctx: Context,
        vaddr: u64,
        kind: AccessKind,
        mode: Mode,
    ) -> Option<u64> {
        let g = self
            .register(kind)
            .filter(|g| g.covers(vaddr, kind) && g.asid == ctx.asid && g.mode == mode)?;
        let paddr = g.frame_base | (vaddr & ((1u64 << g.shift) - 1));
        let level = g.level;
        self.counters.accesses += 1;
        self.count_recent_hit(level);
        Some(paddr)
    }

    /// Whether a repeat register grants an access of `kind` to `vaddr`
    /// outright, so that [`Mmu::repeat_hit`] or [`Mmu::repeat_run`] would
    /// take it. Changes nothing: a caller's cheap test before either.
    #[inline(always)]
    pub fn repeat_grants(&self, vaddr: u64, kind: AccessKind) -> bool {
        self.register(kind).is_some_and(|g| g.covers(vaddr, kind))
    }

    /// The repeat register an access of `kind` uses, if it holds a grant.
    #[inline(always)]
    fn register(&self, kind: AccessKind) -> Option<&RepeatGrant> {
        // `self.repeat[side(kind)]` says the same, but the compiler then
        // indexes at run time: callgrind counts 19% more instructions per
        // reference on a TLB-hit stream than with this match.
        match kind {
            AccessKind::Read | AccessKind::Write => self.repeat[0].as_ref(),
            AccessKind::Fetch => self.repeat[1].as_ref(),
        }
    }

    /// [`Mmu::repeat_hit`] over a run: counts the longest prefix of
    /// `items` whose accesses (`access_of` gives an item's address and
    /// kind, or `None` for one that must take the full path) a repeat
    /// register grants outright, exactly as that many `repeat_hit` calls
    /// would, and says which registers' pages the run touched, in the order
    /// of their last access. Only registers for pages of `1 << page_shift`
    /// bytes count: the frame a huge page's access touches depends on the
    /// address. This is the hot loop of a run on a page or two (a program's
    /// code and data page): a few instructions an access.
    #[inline(always)]
    pub fn repeat_run<T>(
        &mut self,
        ctx: Context,
        mode: Mode,
        page_shift: u32,
        items: &[T],
        access_of: impl Fn(&T) -> Option<(u64, AccessKind)>,
    ) -> RepeatRun {
        let mut run = RepeatRun::default();
        // Per side: the page granted (`u64::MAX` matches no address
        // shifted right by a page shift), and the kinds (0: none).
        let mut page = [u64::MAX; 2];
        let mut kinds = [0u8; 2];
        for (side, g) in self.repeat.iter().enumerate() {
            if let Some(g) = g {
                if u32::from(g.shift) == page_shift && g.asid == ctx.asid && g.mode == mode {
                    page[side] = g.page;
                    kinds[side] = g.kinds;
                }
            }
        }
        let mut last = 0;
        for item in items {
            let Some((vaddr, kind)) = access_of(item) else {
                break;
            };
            let side = side(kind);
            if vaddr >> page_shift != page[side] || kinds[side] & kind_bit(kind) == 0 {
                break;
            }
            run.hits[side] += 1;
            last = side;
        }
        let total = run.hits[0] + run.hits[1];
        if total == 0 {
            return run;
        }
        self.counters.accesses += total;
        self.counters.tlb_hits += total;
        for (side, &hits) in run.hits.iter().enumerate() {
            if let Some(g) = self.repeat[side].filter(|_| hits > 0) {
                self.tlb.count_hits(g.level, hits);
                run.frame_base[side] = g.frame_base;
            }
        }
        run.last = last;
        run
    }

    /// Fills the first `count` levels `kind`'s accesses probe with
    /// `entry`, reporting each fill and what it evicted when `sink` wants
    /// events; otherwise no evicted entry is read. The first `known_absent`
    /// levels were probed by this access and hold no entry for the page
    /// now (see [`Tlb::fill_path_quietly`]).
    #[inline]
    fn fill_path<S: EventSink>(
        tlb: &mut Tlb,
        kind: AccessKind,
        count: usize,
        entry: TlbEntry,
        known_absent: usize,
        sink: &mut S,
    ) {
        if !enabled(sink) {
            tlb.fill_path_quietly(kind, count, entry, known_absent);
            return;
        }
        for depth in 0..count {
            let level = tlb.levels_for(kind)[depth];
            if let Some(done) = tlb.fill(level, entry) {
                emit!(
                    sink,
                    Event::TlbFill {
                        level,
                        entry,
                        evicted: done.evicted,
                    }
                );
            }
        }
    }

    /// The segmentation stage, for machines that have one.
    #[cold]
    fn segment<S: EventSink>(
        &mut self,
        vaddr: u64,
        kind: AccessKind,
        mode: Mode,
        cost: AccessCost,
        sink: &mut S,
    ) -> Result<u64, MmuFault> {
        let result = match &self.segmentation {
            Segmentation::Flat => Ok(vaddr),
            Segmentation::BaseBounds(bb) => bb.translate(vaddr, kind, mode),
            Segmentation::Table(table) => table.translate(vaddr, kind, mode),
            Segmentation::X86(unit) => {
                let reg = if kind == AccessKind::Fetch {
                    SegReg::Cs
                } else {
                    SegReg::Ds
                };
                let cpl = if mode == Mode::User { 3 } else { 0 };
                unit.linear_address(reg, vaddr, 1, kind, cpl)
            }
        };
        match result {
            Ok(linear) => {
                emit!(
                    sink,
                    Event::Segment {
                        offset: vaddr,
                        linear,
                    }
                );
                Ok(linear)
            }
            Err(fault) => {
                self.counters.segment_faults += 1;
                emit!(sink, Event::SegmentFault(fault.clone()));
                Err(MmuFault {
                    kind: MmuFaultKind::Segment(Box::new(fault)),
                    cost,
                })
            }
        }
    }
}
