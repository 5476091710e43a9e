//! The lean engine: the full model of a trace run (TLB, page walk, fault
//! handler, replacement, page-table entries with their accessed and dirty
//! flags) for the case most runs are, built for speed. The layered engine
//! ([`vmlab_kernel::Kernel`] over [`vmlab_hw::mmu::Mmu`]) answers every
//! question a kernel can be asked; a trace run in trace mode asks few: one
//! process, every page backed memory mapped read-write-execute, base pages
//! only, global replacement, no system calls, no explanation. Here those
//! answers are computed directly, in flat arrays the host's cache can
//! hold, and each count (references, faults, evictions, write-backs, TLB
//! hits, walks, page-table bytes, samples) equals the layered engine's:
//! tests run both on every processor scheme and policy and compare them.
//!
//! What is kept, as the layered engine keeps it:
//! - the frames: the kernel's free list as the kernel left it after
//!   building the process, popped and pushed in the same order, so each
//!   page lands in the frame it would there (a policy may order by frame);
//! - the page tables: one table a frame, made top-down on the fault that
//!   needs them after the page's own frame is taken; leaf entries in the
//!   scheme's real format ([`PteFormat`]), whose accessed and dirty flags
//!   the walk sets (or, where software manages them, whose clear flags
//!   fault) and the policies read and clear. The entries above the leaves
//!   hold only the way down: no count depends on their bits;
//! - the TLB ([`tlb`]): the base-page arrays of every level, LRU;
//! - the policy: the same [`ReplacementPolicy`], built from the same
//!   spec, called in the same order (insertions on faults, touches on
//!   hits with a repeat dropped where touches collapse, ticks before the
//!   same references, victims for the faulting page's key).
//!
//! Where the time goes instead: runs of accesses to the page each side
//! (data, fetches) found first in the TLB are counted in one go, as the
//! layered MMU's repeat registers grant them; leaf tables once found are
//! remembered (tables are never taken down in trace mode); and the host's
//! cache is asked ahead for what the misses will read: a page's leaf
//! entry 16 accesses ahead, the policy's state for its frame 8 ahead (or,
//! if it is absent, where the policy's ghosts would remember it), the
//! next victim's reverse-map and leaf entries after each eviction, and
//! where the ghosts will remember the victim.
//!
//! [`LeanMachine::for_run`] says whether a machine is one of these; the
//! driver falls back to the layered engine for any other, and for streams
//! that may carry system calls.

#[cfg(test)]
mod tests;
mod tlb;

use crate::op::{within_page, MemRef};
use tlb::{LeanTlb, Probe};
use vmlab_hw::arch::pte::{LeafAttrs, PteFormat};
use vmlab_hw::arch::{AdUpdate, MAX_LEVELS};
use vmlab_hw::mmu::Segmentation;
use vmlab_hw::prefetch::prefetch;
use vmlab_hw::{AccessKind, Arch, Perms};
use vmlab_kernel::frames::{Owner, Pid};
use vmlab_kernel::kernel::{page_key, perms_for};
use vmlab_kernel::policy::FrameId;
use vmlab_kernel::policy::{PageKey, ReferenceBits, ReplacementPolicy};
use vmlab_kernel::region::Prot;
use vmlab_kernel::{Kernel, ReplacementScope};

/// Entries of [`Hardware::leaf_memo`]: a power of two, more than the leaf
/// tables of a million pages (about 2 000 on x86-64).
const LEAF_MEMO: usize = 4096;

/// No table, no frame: an empty slot of a table above the leaves, and
/// the leaf index of a frame that holds no user page.
const NONE: u32 = u32::MAX;

/// What the lean engine counted, as the layered engine's kernel and MMU
/// count it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LeanCounters {
    pub(crate) references: u64,
    /// Read-ins (major) and software-managed flag faults (minor).
    pub(crate) faults: u64,
    pub(crate) evictions: u64,
    /// Dirty pages written back on eviction.
    pub(crate) write_backs: u64,
    pub(crate) tlb_hits: u64,
    /// Table walks, those that fault included.
    pub(crate) walks: u64,
    pub(crate) resident_pages: u64,
    /// Page-table bytes, the kernel's root table included.
    pub(crate) table_bytes: u64,
}

/// Why a walk stopped short of a translation.
enum WalkFault {
    /// The page is not mapped; `tables_present`: every table above its
    /// leaf exists.
    NotPresent { tables_present: bool },
    /// Software manages the flags and one the access needs is clear.
    Flags,
}

/// Memory ran out: every frame holds a page table, or the policy offers
/// nothing to evict.
#[derive(Debug)]
struct OutOfMemory;

/// Why an access did not complete.
#[derive(Debug)]
pub(crate) enum Stop<E> {
    /// Memory ran out (the layered engine's kernel kills the process).
    OutOfMemory,
    /// The faults did not resolve in the passes an access may take.
    Unresolved,
    /// The caller refused the absent page.
    Page(E),
}

/// The user page a frame holds: the reverse map, one entry a frame (trace
/// mode shares no page), read together on an eviction.
#[derive(Clone, Copy, Debug)]
struct FrameOwner {
    vpn: u64,
    /// The index in [`Hardware::leaves`] of the entry mapping the page, or
    /// [`NONE`] (the frame is free, or a table).
    leaf: u32,
}

impl FrameOwner {
    const NONE: FrameOwner = FrameOwner { vpn: 0, leaf: NONE };
}

/// A TLB entry the next access of its side to its page hits at once.
#[derive(Clone, Copy, Debug)]
struct Repeat {
    vpn: u64,
    frame: FrameId,
    /// Whether a store may use it (the entry was cached dirty).
    dirty: bool,
}

/// The machine below the policy: tables, TLB, frames and counts. The
/// policy reads and clears flags through it ([`ReferenceBits`]).
struct Hardware {
    format: PteFormat,
    page_shift: u8,
    /// Per level, root first: the shift of its index within a page
    /// number and the index mask (one more than the mask is the level's
    /// entries). Fixed-size, so the walk's loop reads no vector headers.
    index: [(u32, u64); MAX_LEVELS],
    /// Levels above the leaves.
    uppers: usize,
    /// Per level: the bytes a table of it takes.
    table_bytes: Vec<u64>,
    /// The tables above the leaves, one after another, the root first (at
    /// 0): each slot holds where its child table starts (in this vector,
    /// or for the last of them in `leaves`), or [`NONE`].
    upper: Vec<u32>,
    /// The leaf tables' entries, raw, one table after another.
    leaves: Vec<u64>,
    /// Bits of a page number that index its leaf table.
    leaf_bits: u32,
    /// Leaf tables found by walks, by the page number above `leaf_bits`
    /// plus one (0: empty), direct-mapped: a walk that finds its leaf
    /// table here reads no entry above the leaf, as a processor's
    /// paging-structure caches spare it (the walk is counted all the
    /// same; no count depends on the upper entries).
    leaf_memo: Vec<(u64, u32)>,
    /// Whether clear accessed and dirty flags fault (software manages
    /// them) rather than being set by the walk.
    soft_flags: bool,
    /// The rights of every trace-mode page.
    perms: Perms,
    /// The leaf entry of a page read in for a load or fetch, and for a
    /// store, in frame 0: a read-in places its frame in one of these
    /// (every flag but the frame's is the same for every page).
    new_leaf: [u64; 2],
    tlb: LeanTlb,
    /// Free frames; the next taken is the last.
    free: Vec<FrameId>,
    /// Per frame: the page it holds and where its leaf entry is.
    owners: Vec<FrameOwner>,
    /// Per side (data, fetches): the page the side's last access found
    /// in its first TLB array, the newest entry of its set, while no
    /// shootdown came since. Another access of the side to the page is a
    /// hit there that changes no replacement state (a hit on the newest
    /// way), as the layered MMU's repeat registers grant it.
    repeat: [Option<Repeat>; 2],
    counters: LeanCounters,
}

impl Hardware {
    /// The index of page `vpn` in its table at `level`.
    #[inline(always)]
    fn index_of(&self, vpn: u64, level: usize) -> u32 {
        let (shift, mask) = self.index[level];
        // Below the level's entries, a u32 (index bits are few).
        ((vpn >> shift) & mask) as u32
    }

    /// Follows the tables above the leaves down to page `vpn`'s leaf
    /// table: where it starts in `leaves`, or the level whose table is
    /// missing.
    #[inline(always)]
    fn descend(&self, vpn: u64) -> Result<u32, usize> {
        let mut table = 0u32;
        for level in 0..self.uppers {
            table = self.upper[(table + self.index_of(vpn, level)) as usize];
            if table == NONE {
                return Err(level);
            }
        }
        Ok(table)
    }

    /// Where page `vpn`'s leaf table starts in `leaves` (`None` if a table
    /// on the way is missing). Found in [`Hardware::leaf_memo`] when it
    /// can be: tables are never taken down in trace mode, so a leaf table
    /// once found stays where it is.
    #[inline(always)]
    fn leaf_table(&mut self, vpn: u64) -> Option<u32> {
        let key = (vpn >> self.leaf_bits) + 1;
        let slot = (key as usize) & (LEAF_MEMO - 1);
        if self.leaf_memo[slot].0 == key {
            return Some(self.leaf_memo[slot].1);
        }
        let table = self.descend(vpn).ok()?;
        self.leaf_memo[slot] = (key, table);
        Some(table)
    }

    /// Where page `vpn`'s leaf entry is, if its tables exist.
    #[inline(always)]
    fn leaf_at(&mut self, vpn: u64) -> Option<usize> {
        self.leaf_table(vpn)
            .map(|t| (t + self.index_of(vpn, self.uppers)) as usize)
    }

    #[inline(always)]
    fn frame_in(&self, raw: u64) -> FrameId {
        // Frames are counted in u32 (the kernel's frame numbers).
        (self.format.frame_addr(raw, self.page_shift) >> self.page_shift) as FrameId
    }

    /// The walk: page `vpn`'s frame and whether it is dirty, setting the
    /// flags the access needs (x86's walker sets accessed, and dirty on a
    /// write; where software manages them a clear one faults instead).
    #[inline(always)]
    fn walk(&mut self, vpn: u64, kind: AccessKind) -> Result<(FrameId, bool), WalkFault> {
        self.counters.walks += 1;
        let Some(at) = self.leaf_at(vpn) else {
            return Err(WalkFault::NotPresent {
                tables_present: false,
            });
        };
        let raw = self.leaves[at];
        if raw == 0 {
            return Err(WalkFault::NotPresent {
                tables_present: true,
            });
        }
        let write = kind == AccessKind::Write;
        let flags = self.format.leaf(raw);
        if self.soft_flags {
            if !flags.accessed || write && !flags.dirty {
                return Err(WalkFault::Flags);
            }
            return Ok((self.frame_in(raw), flags.dirty));
        }
        let mut new = raw;
        if !flags.accessed {
            new = self.format.with_accessed(new, true);
        }
        if write && !flags.dirty {
            new = self.format.with_dirty(new, true);
        }
        if new != raw {
            self.leaves[at] = new;
        }
        Ok((self.frame_in(new), flags.dirty || write))
    }

    /// Tables missing on the way to page `vpn`'s leaf.
    fn tables_needed(&self, vpn: u64) -> usize {
        self.descend(vpn)
            .err()
            .map_or(0, |level| self.uppers - level)
    }

    /// Makes the missing tables on the way to page `vpn`, top-down, each
    /// in a frame of its own; the leaf entry's index.
    fn make_tables(&mut self, vpn: u64) -> usize {
        let mut table = 0u32;
        for level in 0..self.uppers {
            let slot = (table + self.index_of(vpn, level)) as usize;
            if self.upper[slot] == NONE {
                // Reserved by the caller.
                let _frame = self.free.pop();
                let next = level + 1;
                self.counters.table_bytes += self.table_bytes[next];
                let entries = self.index[next].1 as usize + 1;
                let tables = if next < self.uppers {
                    self.upper.len()
                } else {
                    self.leaves.len()
                };
                // Slots are fewer than the frames' entries; a trace's
                // tables never reach 2^32 slots before memory runs out.
                self.upper[slot] = tables as u32;
                if next < self.uppers {
                    self.upper.resize(tables + entries, NONE);
                } else {
                    self.leaves.resize(tables + entries, 0);
                }
            }
            table = self.upper[slot];
        }
        (table + self.index_of(vpn, self.uppers)) as usize
    }

    /// Whether `frame`'s page has its accessed and dirty flags set.
    fn flags(&self, frame: FrameId) -> (bool, bool) {
        match self.owners[frame as usize].leaf {
            NONE => (false, false),
            at => {
                let flags = self.format.leaf(self.leaves[at as usize]);
                (flags.accessed, flags.dirty)
            }
        }
    }

    /// Rewrites `frame`'s leaf entry by `edit`; a changed entry is shot
    /// down from the TLB. Whether it changed.
    fn edit_flags(&mut self, frame: FrameId, edit: impl Fn(&PteFormat, u64) -> u64) -> bool {
        let FrameOwner { vpn, leaf: at } = self.owners[frame as usize];
        if at == NONE {
            return false;
        }
        let raw = self.leaves[at as usize];
        let new = edit(&self.format, raw);
        if new == raw {
            return false;
        }
        self.leaves[at as usize] = new;
        self.shoot_down(vpn);
        true
    }

    /// Drops every TLB entry for page `vpn` after its leaf entry changed;
    /// the repeat registers are forgotten with them.
    fn shoot_down(&mut self, vpn: u64) {
        self.tlb.flush(vpn);
        self.repeat = [None; 2];
    }

    /// Evicts the page in `frame` (a backed page: written back if dirty,
    /// else dropped) and frees the frame.
    fn evict(&mut self, frame: FrameId) {
        let (young, dirty) = self.flags(frame);
        if dirty {
            self.counters.write_backs += 1;
        }
        let owner = std::mem::replace(&mut self.owners[frame as usize], FrameOwner::NONE);
        self.leaves[owner.leaf as usize] = 0;
        // An entry whose accessed flag is clear is cached nowhere: a TLB
        // entry comes only from a walk that set it, and clearing it shot
        // the entry down.
        if young {
            self.shoot_down(owner.vpn);
        }
        self.counters.resident_pages -= 1;
        self.counters.evictions += 1;
        self.free.push(frame);
    }

    /// Starts loading what evicting `frame` will read.
    #[inline(always)]
    fn prefetch_victim(&self, frame: FrameId) {
        if let Some(owner) = self.owners.get(frame as usize) {
            if let Some(raw) = self.leaves.get(owner.leaf as usize) {
                prefetch(raw);
            }
        }
    }
}

/// The attributes of a page read in with `perms`, for a store when
/// `written`: where software manages the accessed and dirty flags the
/// fault handler sets those the access needs, which the walk would fault
/// on.
fn new_leaf_attrs(perms: Perms, soft_flags: bool, written: bool) -> LeafAttrs {
    LeafAttrs {
        perms,
        global: false,
        accessed: soft_flags,
        dirty: soft_flags && written,
    }
}

/// The policy's view of the hardware: the flags in the leaf entries, and
/// the time (references so far, as the kernel gives it).
struct Refs<'a> {
    hw: &'a mut Hardware,
}

impl ReferenceBits for Refs<'_> {
    fn referenced(&mut self, frame: FrameId) -> bool {
        self.hw.flags(frame).0
    }
    fn clear_referenced(&mut self, frame: FrameId) {
        self.hw
            .edit_flags(frame, |f, raw| f.with_accessed(raw, false));
    }
    fn test_and_clear_referenced(&mut self, frame: FrameId) -> bool {
        self.hw
            .edit_flags(frame, |f, raw| f.with_accessed(raw, false))
    }
    fn dirty(&mut self, frame: FrameId) -> bool {
        self.hw.flags(frame).1
    }
    /// A dirty page a policy cleans ahead of its eviction goes back to
    /// the backing store, and is clean.
    fn write_back(&mut self, frame: FrameId) {
        if self.hw.edit_flags(frame, |f, raw| f.with_dirty(raw, false)) {
            self.hw.counters.write_backs += 1;
        }
    }
    fn now(&self) -> u64 {
        self.hw.counters.references.saturating_sub(1)
    }
}

/// A trace run's machine in the lean engine.
pub(crate) struct LeanMachine {
    policy: Box<dyn ReplacementPolicy>,
    hw: Hardware,
    pid: Pid,
    /// Whether the policy takes touches, and whether a repeat changes
    /// nothing.
    touch: bool,
    collapse: bool,
    /// The frame touched last, while no other policy call came since.
    last_touch: Option<FrameId>,
    tick_interval: u64,
    /// The reference before which the next clock tick falls.
    next_tick: u64,
    /// The frame the policy expects to evict next, whose leaf entry the
    /// next prefetch starts loading.
    victim_hint: Option<FrameId>,
    /// Whether a victim was evicted since the last insertion: once the
    /// new page is in, the policy is asked for its next victim.
    guess_due: bool,
}

impl LeanMachine {
    /// The lean engine for a trace run of `pid` on `k` (a kernel just
    /// built for it, the process's address space empty), with the policy
    /// `policy` ticking every `tick_interval` references; `None` when the
    /// run needs what only the layered engine models.
    pub(crate) fn for_run(
        k: &Kernel,
        pid: Pid,
        policy: Box<dyn ReplacementPolicy>,
        tick_interval: u64,
    ) -> Option<LeanMachine> {
        let config = k.config();
        let arch: &Arch = &config.arch;
        let levels = arch.levels().len();
        let page = arch.page_bytes();
        let tables_fit = (1..levels).all(|l| arch.table_alloc_bytes(l) <= page);
        // The kernel built the root alone, and the TLB is empty.
        let root_only = k.page_table_bytes(pid) == Some(arch.table_alloc_bytes(0));
        let plain = config.scope == ReplacementScope::Global
            && config.watermarks == (0, 0)
            && !k.explaining()
            && k.mmu().counters().walks == 0
            && matches!(k.mmu().segmentation(), Segmentation::Flat);
        if !(tables_fit && root_only && plain) {
            return None;
        }
        let tlb = k.mmu().tlb();
        let lean_tlb = LeanTlb::new(
            &config.tlb,
            arch.page_shift(),
            tlb.levels_for(AccessKind::Read),
            tlb.levels_for(AccessKind::Fetch),
        )?;
        let page_shift = u32::from(arch.page_shift());
        let mut index = [(0, 0); MAX_LEVELS];
        for (level, plan) in arch.plans().iter().enumerate() {
            index[level] = (u32::from(plan.shift) - page_shift, plan.index_mask);
        }
        let root_entries = index[0].1 as usize + 1;
        let uppers = levels - 1;
        let soft_flags = arch.ad_update() == AdUpdate::Fault;
        let perms = perms_for(Prot::READ | Prot::WRITE | Prot::EXEC);
        let shift = arch.page_shift();
        let new_leaf = [false, true].map(|written| {
            arch.pte()
                .encode_leaf(0, shift, true, &new_leaf_attrs(perms, soft_flags, written))
                // Read, write and execute are encodable in every format.
                .unwrap_or(0)
        });
        let hw = Hardware {
            format: arch.pte().clone(),
            page_shift: arch.page_shift(),
            index,
            uppers,
            table_bytes: (0..levels).map(|l| arch.table_alloc_bytes(l)).collect(),
            upper: if uppers > 0 {
                vec![NONE; root_entries]
            } else {
                Vec::new()
            },
            // A one-level scheme's root is its leaf table.
            leaves: if uppers == 0 {
                vec![0; root_entries]
            } else {
                Vec::new()
            },
            leaf_bits: index[uppers].1.count_ones(),
            leaf_memo: vec![(0, 0); LEAF_MEMO],
            soft_flags,
            perms,
            new_leaf,
            tlb: lean_tlb,
            free: k.frames().free_stack().to_vec(),
            owners: vec![FrameOwner::NONE; config.frames],
            repeat: [None; 2],
            counters: LeanCounters {
                table_bytes: arch.table_alloc_bytes(0),
                ..LeanCounters::default()
            },
        };
        Some(LeanMachine {
            touch: policy.wants_touch(),
            collapse: policy.touches_collapse(),
            next_tick: match tick_interval {
                interval if interval > 0 && policy.wants_ticks() => interval,
                _ => u64::MAX,
            },
            policy,
            hw,
            pid,
            last_touch: None,
            tick_interval,
            victim_hint: None,
            guess_due: false,
        })
    }

    /// The counts so far.
    pub(crate) fn counters(&self) -> LeanCounters {
        self.hw.counters
    }

    /// Hints the host cache to load what accesses some way ahead will
    /// read, for a caller that knows them: page `far`'s leaf entry; page
    /// `near`'s policy state (its leaf entry, hinted as `far` some
    /// accesses before, is loaded by now); and the leaf entry of the page
    /// the policy expects to evict next. Returns whether page `near` is
    /// not present: its access will fault, and the caller may start
    /// loading what the fault will read.
    #[inline(always)]
    pub(crate) fn prefetch(&mut self, far: u64, near: u64) -> bool {
        if let Some(at) = self.hw.leaf_at(far) {
            prefetch(&self.hw.leaves[at]);
        }
        if let Some(victim) = self.victim_hint.take() {
            self.hw.prefetch_victim(victim);
            // The victim's key will join the policy's ghosts, if it keeps
            // any: its index slot too (the owner entry, asked for with
            // the guess, is loaded by now).
            if let Some(owner) = self.hw.owners.get(victim as usize) {
                self.policy.prefetch_pages(&[self.key_of(owner.vpn)]);
            }
        }
        match self.hw.leaf_at(near).map(|at| self.hw.leaves[at]) {
            Some(raw) if raw != 0 => {
                self.policy.prefetch(self.hw.frame_in(raw));
                false
            }
            _ => {
                // A miss: the policy will look for the page among its
                // ghosts.
                self.policy.prefetch_pages(&[self.key_of(near)]);
                true
            }
        }
    }

    /// The policy's key of this process's page `vpn`.
    #[inline(always)]
    fn key_of(&self, vpn: u64) -> PageKey {
        page_key(Owner { pid: self.pid, vpn })
    }

    /// One access of `kind` to page `vpn`. A page that is not present is
    /// first handed to `absent` (a page never touched must be mapped as
    /// backed memory before it is read in: the caller's business).
    #[inline(always)]
    pub(crate) fn access<E>(
        &mut self,
        vpn: u64,
        kind: AccessKind,
        mut absent: impl FnMut() -> Result<(), E>,
    ) -> Result<(), Stop<E>> {
        if self.hw.counters.references == self.next_tick {
            self.clock_tick();
        }
        self.hw.counters.references += 1;
        let side = usize::from(kind == AccessKind::Fetch);
        let mut faulted = false;
        // After a fault the TLB holds no entry for the page: the pass after
        // it goes straight to the walk.
        let mut probe_first = true;
        // A fault handler resolves one cause a pass: a read-in, then a
        // software-managed flag at most.
        for _ in 0..4 {
            let probe = if std::mem::replace(&mut probe_first, true) {
                self.hw.tlb.probe(vpn, kind)
            } else {
                self.hw.tlb.known_miss(kind)
            };
            let known_absent = match probe {
                Probe::Hit(frame, dirty) => {
                    self.hw.counters.tlb_hits += 1;
                    self.repeat_from(side, vpn, frame, dirty);
                    self.touch(frame, faulted);
                    return Ok(());
                }
                Probe::Miss { known_absent } => known_absent,
            };
            match self.hw.walk(vpn, kind) {
                Ok((frame, dirty)) => {
                    self.hw.tlb.fill(vpn, kind, frame, dirty, known_absent);
                    if self.hw.tlb.caches() {
                        self.repeat_from(side, vpn, frame, dirty);
                    }
                    self.touch(frame, faulted);
                    return Ok(());
                }
                Err(WalkFault::NotPresent { tables_present }) => {
                    faulted = true;
                    absent().map_err(Stop::Page)?;
                    self.read_in(vpn, kind, tables_present)
                        .map_err(|OutOfMemory| Stop::OutOfMemory)?;
                }
                Err(WalkFault::Flags) => self.set_flags(vpn, kind),
            }
            probe_first = false;
        }
        // As the kernel ends an access whose faults do not resolve (none
        // here: a read-in and a flag fault are all an access can need).
        Err(Stop::Unresolved)
    }

    /// Whether `r` is to the page the last access of its side found first
    /// in the TLB: a caller's cheap test before
    /// [`LeanMachine::repeat_run`] (most accesses of a trace with no
    /// locality start no run).
    #[inline(always)]
    pub(crate) fn may_repeat(&self, r: &MemRef) -> bool {
        let side = usize::from(r.kind == AccessKind::Fetch);
        self.hw.repeat[side].is_some_and(|last| last.vpn == r.addr >> self.hw.page_shift)
    }

    /// Takes the accesses at the front of `run` that hit the repeat
    /// registers (within a page of `page` bytes, to the page the last
    /// access of their side found first in the TLB, a store only through
    /// a dirty entry), stopping before a clock tick; counts them exactly
    /// as [`LeanMachine::access`] would, and returns how many. Where the
    /// policy's touches collapse, a run's touches come to one a page, in
    /// the order of each page's last access.
    #[inline(always)]
    pub(crate) fn repeat_run(&mut self, run: &[MemRef], page: u64) -> usize {
        let shift = self.hw.page_shift;
        let before_tick = self.next_tick - self.hw.counters.references;
        let run = &run[..run
            .len()
            .min(usize::try_from(before_tick).unwrap_or(usize::MAX))];
        let repeat = self.hw.repeat;
        // Per kind of access (loads, stores, fetches, in `AccessKind`'s
        // order): the page whose accesses the registers grant, or one no
        // page number reaches, so each access is one compare.
        let granted = |side: usize, store: bool| {
            repeat[side]
                .filter(|last| !store || last.dirty)
                .map_or(u64::MAX, |last| last.vpn)
        };
        let grants = [granted(0, false), granted(0, true), granted(1, false)];
        let kind_index = |kind: AccessKind| match kind {
            AccessKind::Read => 0,
            AccessKind::Write => 1,
            AccessKind::Fetch => 2,
        };
        let taken = run
            .iter()
            .position(|r| grants[kind_index(r.kind)] != r.addr >> shift || !within_page(r, page))
            .unwrap_or(run.len());
        if taken == 0 {
            return 0;
        }
        // Per side: one past the run's last access of the side (0: none).
        let last_of = |side: usize| {
            run[..taken]
                .iter()
                .rposition(|r| usize::from(r.kind == AccessKind::Fetch) == side)
                .map_or(0, |at| at + 1)
        };
        let frame_of = |side: usize| repeat[side].map_or(0, |last| last.frame);
        if self.touch && !self.collapse {
            // Every touch counts, each at its own time (OPT reads it).
            for r in &run[..taken] {
                self.hw.counters.references += 1;
                self.hw.counters.tlb_hits += 1;
                self.touch(frame_of(usize::from(r.kind == AccessKind::Fetch)), false);
            }
            return taken;
        }
        self.hw.counters.references += taken as u64;
        self.hw.counters.tlb_hits += taken as u64;
        if self.touch {
            let last_of = [last_of(0), last_of(1)];
            let order = if last_of[0] <= last_of[1] {
                [0, 1]
            } else {
                [1, 0]
            };
            for side in order.into_iter().filter(|&side| last_of[side] > 0) {
                self.touch(frame_of(side), false);
            }
        }
        taken
    }

    /// After an access of `side` (0 data, 1 fetches) to page `vpn`, whose
    /// entry (for `frame`, `dirty`) is now the newest of its set in the
    /// side's first TLB array: the next access of the side to the page
    /// hits it there, changing nothing but counts.
    #[inline(always)]
    fn repeat_from(&mut self, side: usize, vpn: u64, frame: FrameId, dirty: bool) {
        self.hw.repeat[side] = Some(Repeat { vpn, frame, dirty });
        if self.hw.tlb.shared_first_level() {
            self.hw.repeat[1 - side] = None;
        }
    }

    /// A hit reaches the policy, unless the access brought its page in (a
    /// page's first use is its insertion) or repeats the last touch of a
    /// policy whose touches collapse.
    #[inline(always)]
    fn touch(&mut self, frame: FrameId, faulted: bool) {
        if !self.touch || faulted || self.collapse && self.last_touch == Some(frame) {
            return;
        }
        self.last_touch = Some(frame);
        let refs = &mut Refs { hw: &mut self.hw };
        self.policy.touch(frame, refs);
    }

    /// The clock interrupt: a policy that samples reference bits does.
    #[cold]
    fn clock_tick(&mut self) {
        self.next_tick = self
            .hw
            .counters
            .references
            .saturating_add(self.tick_interval);
        self.last_touch = None;
        self.policy.tick(&mut Refs { hw: &mut self.hw });
    }

    /// A software-managed flag fault: the handler sets what the hardware
    /// would have (a minor fault).
    #[cold]
    fn set_flags(&mut self, vpn: u64, kind: AccessKind) {
        self.hw.counters.faults += 1;
        if let Some(at) = self.hw.leaf_at(vpn) {
            let format = &self.hw.format;
            let mut raw = format.with_accessed(self.hw.leaves[at], true);
            if kind == AccessKind::Write {
                raw = format.with_dirty(raw, true);
            }
            self.hw.leaves[at] = raw;
        }
        self.hw.shoot_down(vpn);
    }

    /// A major fault on backed page `vpn`: frames for the missing tables
    /// and the page (evicting as needed), then the page read in and
    /// handed to the policy.
    #[inline(never)]
    fn read_in(
        &mut self,
        vpn: u64,
        kind: AccessKind,
        tables_present: bool,
    ) -> Result<(), OutOfMemory> {
        self.hw.counters.faults += 1;
        let key = self.key_of(vpn);
        if !tables_present {
            // One more than the tables: the page needs a frame too, and
            // the tables must not be taken by its eviction.
            let needed = self.hw.tables_needed(vpn) + 1;
            while self.hw.free.len() < needed {
                self.evict_one(key)?;
            }
        }
        let frame = loop {
            if let Some(frame) = self.hw.free.pop() {
                break frame;
            }
            self.evict_one(key)?;
        };
        let at = self.hw.make_tables(vpn);
        let shift = self.hw.page_shift;
        let written = kind == AccessKind::Write;
        let template = self.hw.new_leaf[usize::from(written)];
        let raw = self
            .hw
            .format
            .with_frame(template, u64::from(frame) << shift, shift);
        debug_assert_eq!(
            Ok(raw),
            self.hw.format.encode_leaf(
                u64::from(frame) << shift,
                shift,
                true,
                &new_leaf_attrs(self.hw.perms, self.hw.soft_flags, written)
            )
        );
        self.hw.leaves[at] = raw;
        // Leaf indices are below the frames times a table's entries; a
        // trace's tables never reach 2^32 entries before memory does.
        self.hw.owners[frame as usize] = FrameOwner {
            vpn,
            leaf: at as u32,
        };
        self.hw.counters.resident_pages += 1;
        self.last_touch = None;
        self.policy
            .insert(frame, key, &mut Refs { hw: &mut self.hw });
        if std::mem::take(&mut self.guess_due) {
            self.expect_next_victim();
        }
        Ok(())
    }

    /// Starts loading what the next eviction will read: the policy's
    /// state and reverse-map entry for its guess at its victim now, the
    /// victim's leaf entry at the next prefetch.
    fn expect_next_victim(&mut self) {
        self.victim_hint = self.policy.upcoming_victim(None, 0);
        if let Some(next) = self.victim_hint {
            self.policy.prefetch(next);
            if let Some(owner) = self.hw.owners.get(next as usize) {
                prefetch(owner);
            }
        }
    }

    /// Frees one frame: the victim the policy chooses for the page keyed
    /// `key`.
    fn evict_one(&mut self, key: PageKey) -> Result<(), OutOfMemory> {
        self.last_touch = None;
        // Every frame may be offered once before memory counts as spent.
        for _ in 0..self.hw.owners.len() {
            let victim = self
                .policy
                .evict_for(key, &mut Refs { hw: &mut self.hw })
                .ok_or(OutOfMemory)?;
            if self.hw.owners[victim as usize].leaf == NONE {
                continue;
            }
            self.hw.evict(victim);
            self.guess_due = true;
            return Ok(());
        }
        Err(OutOfMemory)
    }
}
