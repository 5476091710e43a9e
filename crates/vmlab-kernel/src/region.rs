//! One process's address space as Linux keeps it: [`RegionMap`], a sorted
//! set of non-overlapping [`Region`]s (Linux's VMAs), and the region-level
//! half of mmap, munmap, mprotect, brk and stack growth. Pages, frames and
//! page tables belong to the kernel core; this module decides only which
//! addresses are mapped, how, and where a new mapping goes.
//!
//! Linux is the reference (mm/vma.c, mm/mmap.c, mm/mprotect.c, and the
//! mmap(2), munmap(2) and mprotect(2) pages):
//! - Neighbours merge when Linux's `is_mergeable_vma` and
//!   `can_vma_merge_before/after` would merge them: same protection, same
//!   `VM_MAY*` limits ([`Region::max_prot`]), same backing object at
//!   contiguous offsets. Private anonymous mappings always qualify (Linux
//!   derives their page offset from their address). Each shared anonymous
//!   mmap gets its own shmem object (`shmem_zero_setup`), so two of them
//!   never merge, while the pieces of one split mapping merge back. Heap and
//!   stack regions merge only with their own kind (Linux tells a stack by
//!   `VM_GROWSDOWN`; the heap is ours to keep apart, for the fault handler
//!   and the display).
//! - A split keeps offsets: the upper piece of a file mapping starts further
//!   into the file (`__split_vma`).
//! - munmap of a range with holes succeeds and removes what is there
//!   (`do_vmi_munmap`).
//! - mprotect works region by region in address order and stops at the
//!   first hole (ENOMEM) or at the first region whose limits refuse the new
//!   protection (EACCES), keeping the changes made before that point
//!   (`do_mprotect_pkey`); see [`RegionMap::protect`].
//! - Placement follows `generic_get_unmapped_area_topdown`: a usable hint is
//!   taken, else the highest gap below `mmap_base`, else the lowest gap above
//!   a third of the address space; gaps keep clear of a stack's guard gap
//!   (`vm_start_gap`, `vm_end_gap`).
//! - brk growth keeps one free page and any stack guard gap above the new
//!   break; stack growth keeps the guard gap below a grows-down stack unless
//!   the neighbour is another grows-down stack or inaccessible
//!   (`expand_downwards`), and the stack within its size limit
//!   (`acct_stack_growth`).
//!
//! Left out: Linux also refuses to merge regions whose `anon_vma`s differ
//! (after fork) or whose `VM_ACCOUNT` differs (a private mapping once made
//! writable stays accounted), and it caps the number of regions
//! (`max_map_count`). The map ignores these, so it can hold fewer regions
//! than `/proc/<pid>/maps` would list; which addresses are mapped, and how,
//! is the same.

use std::collections::BTreeMap;
use std::fmt;

use bitflags::bitflags;
use serde::Serialize;

/// Linux's `PROT_NONE`.
pub const PROT_NONE: u32 = 0;
/// Linux's `PROT_READ`.
pub const PROT_READ: u32 = 1;
/// Linux's `PROT_WRITE`.
pub const PROT_WRITE: u32 = 2;
/// Linux's `PROT_EXEC`.
pub const PROT_EXEC: u32 = 4;

/// Linux's default `stack_guard_gap`, in pages.
pub const DEFAULT_STACK_GUARD_GAP_PAGES: u64 = 256;

bitflags! {
    /// What a region allows. The bits are Linux's `PROT_*` values, so
    /// `Prot::from_bits(prot)` decodes an mmap or mprotect argument (`None`
    /// when it has unknown bits) and `bits()` encodes one.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Prot: u32 {
        /// Loads are allowed.
        const READ = PROT_READ;
        /// Stores are allowed.
        const WRITE = PROT_WRITE;
        /// Instruction fetches are allowed.
        const EXEC = PROT_EXEC;
    }
}

/// What backs a region, and so what a fault in it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Private anonymous memory (`MAP_PRIVATE | MAP_ANONYMOUS`): zeros until
    /// written, copied on write after fork.
    Anonymous,
    /// Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`). Linux backs
    /// each such mmap with a shmem object of its own, which fork shares:
    /// `object` names it and `offset` is the object offset of the region's
    /// start (page aligned; 0 for a fresh mmap).
    SharedAnonymous {
        /// The shmem object, unique to one mmap call.
        object: u64,
        /// Object offset of the region's start.
        offset: u64,
    },
    /// A mapping of a file.
    File {
        /// The file's identity.
        file: u64,
        /// File offset of the region's start, page aligned.
        offset: u64,
        /// `MAP_SHARED` (stores reach the file and every other mapping of
        /// it) rather than `MAP_PRIVATE` (stores are copied on write).
        shared: bool,
    },
    /// Huge pages from the boot-time pool (`MAP_HUGETLB`,
    /// [`crate::hugetlb`]), in an object of their own as Linux's anonymous
    /// hugetlbfs file: `object` names it, `offset` is the object offset of
    /// the region's start (huge-page aligned).
    HugeTlb {
        /// The huge-page object, unique to one mmap call (or one fork of
        /// a private one).
        object: u64,
        /// Object offset of the region's start.
        offset: u64,
        /// `MAP_SHARED`: every process mapping the object sees its pages.
        shared: bool,
    },
    /// The heap that brk moves.
    Heap,
    /// A stack.
    Stack {
        /// It grows towards lower addresses (Linux's `VM_GROWSDOWN`);
        /// otherwise upwards (`VM_GROWSUP`, as on PA-RISC).
        grows_down: bool,
    },
}

impl RegionKind {
    /// Whether stores are shared with other mappings of the same object.
    pub fn is_shared(self) -> bool {
        matches!(
            self,
            RegionKind::SharedAnonymous { .. }
                | RegionKind::File { shared: true, .. }
                | RegionKind::HugeTlb { shared: true, .. }
        )
    }

    /// The kind of the part that starts `by` bytes further on.
    fn advanced(self, by: u64) -> RegionKind {
        // Cannot overflow: insert checked that the object offset of the
        // region's end fits, and every piece lies within the region.
        match self {
            RegionKind::SharedAnonymous { object, offset } => RegionKind::SharedAnonymous {
                object,
                offset: offset + by,
            },
            RegionKind::File {
                file,
                offset,
                shared,
            } => RegionKind::File {
                file,
                offset: offset + by,
                shared,
            },
            RegionKind::HugeTlb {
                object,
                offset,
                shared,
            } => RegionKind::HugeTlb {
                object,
                offset: offset + by,
                shared,
            },
            other => other,
        }
    }

    /// The object offset of the region's start, for kinds with an object.
    fn offset(self) -> Option<u64> {
        match self {
            RegionKind::SharedAnonymous { offset, .. }
            | RegionKind::File { offset, .. }
            | RegionKind::HugeTlb { offset, .. } => Some(offset),
            _ => None,
        }
    }
}

/// One mapped range `[start, end)` with one protection and one backing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    /// First address, page aligned.
    pub start: u64,
    /// One past the last address, page aligned.
    pub end: u64,
    /// What accesses are allowed now.
    pub prot: Prot,
    /// The most mprotect may ever allow (Linux's `VM_MAYREAD`,
    /// `VM_MAYWRITE`, `VM_MAYEXEC`): a shared mapping of a file opened
    /// read-only lacks WRITE, so mprotect(PROT_WRITE) fails with EACCES.
    pub max_prot: Prot,
    /// What backs it.
    pub kind: RegionKind,
    /// How its file pages are expected to be read (madvise's
    /// MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM: Linux's `VM_SEQ_READ`
    /// and `VM_RAND_READ`), which steers read-ahead on faults.
    pub advice: ReadAdvice,
}

/// The access pattern madvise announced for a region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadAdvice {
    /// No advice: read around the faulting page.
    #[default]
    Normal,
    /// Sequential: read ahead of the faulting page.
    Sequential,
    /// Random: read only the faulting page.
    Random,
}

impl Region {
    /// A region that mprotect may later give any protection.
    pub fn new(start: u64, end: u64, prot: Prot, kind: RegionKind) -> Region {
        Region {
            start,
            end,
            prot,
            max_prot: Prot::all(),
            kind,
            advice: ReadAdvice::Normal,
        }
    }

    /// The same region with `max_prot` as its limit.
    pub fn with_max_prot(self, max_prot: Prot) -> Region {
        Region { max_prot, ..self }
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.end - self.start
    }

    /// Whether `addr` lies in it.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Whether it is a private MAP_HUGETLB mapping.
    pub fn is_private_huge(&self) -> bool {
        matches!(self.kind, RegionKind::HugeTlb { shared: false, .. })
    }

    /// The offset of `addr` within the backing file or shmem object, for
    /// regions that have one and contain `addr`.
    pub fn object_offset(&self, addr: u64) -> Option<u64> {
        if !self.contains(addr) {
            return None;
        }
        self.kind
            .offset()
            .map(|offset| offset + (addr - self.start))
    }

    /// Whether `next` starts where this region ends and the two would be
    /// one region in Linux (see the module documentation).
    fn merges_with(&self, next: &Region) -> bool {
        if self.end != next.start
            || self.prot != next.prot
            || self.max_prot != next.max_prot
            || self.advice != next.advice
        {
            return false;
        }
        match (self.kind, next.kind) {
            (RegionKind::Anonymous, RegionKind::Anonymous)
            | (RegionKind::Heap, RegionKind::Heap) => true,
            (RegionKind::Stack { grows_down: a }, RegionKind::Stack { grows_down: b }) => a == b,
            (
                RegionKind::SharedAnonymous { object: a, offset },
                RegionKind::SharedAnonymous {
                    object: b,
                    offset: next_offset,
                },
            ) => a == b && offset + self.size() == next_offset,
            (
                RegionKind::File {
                    file: a,
                    offset,
                    shared,
                },
                RegionKind::File {
                    file: b,
                    offset: next_offset,
                    shared: next_shared,
                },
            ) => a == b && shared == next_shared && offset + self.size() == next_offset,
            (
                RegionKind::HugeTlb {
                    object: a, offset, ..
                },
                RegionKind::HugeTlb {
                    object: b,
                    offset: next_offset,
                    ..
                },
            ) => a == b && offset + self.size() == next_offset,
            _ => false,
        }
    }

    /// Cuts the region at `at` (strictly inside it): it keeps the lower
    /// part and returns the upper one.
    fn split_off(&mut self, at: u64) -> Region {
        let upper = Region {
            start: at,
            kind: self.kind.advanced(at - self.start),
            ..*self
        };
        self.end = at;
        upper
    }

    /// Lowest address another mapping may end at: a grows-down stack keeps
    /// the guard gap below it free (Linux's `vm_start_gap`).
    fn start_gap(&self, guard_gap: u64) -> u64 {
        match self.kind {
            RegionKind::Stack { grows_down: true } => self.start.saturating_sub(guard_gap),
            _ => self.start,
        }
    }

    /// Lowest address another mapping may start at: a grows-up stack keeps
    /// the guard gap above it free (Linux's `vm_end_gap`).
    fn end_gap(&self, guard_gap: u64) -> u64 {
        match self.kind {
            RegionKind::Stack { grows_down: false } => self.end.saturating_add(guard_gap),
            _ => self.end,
        }
    }
}

/// Why a region operation failed, with the errno Linux gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// `value`, the argument named `what`, is not a multiple of the page
    /// size. EINVAL.
    Misaligned {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// A length of zero where one is needed (munmap, a new region). EINVAL.
    ZeroLength,
    /// `[start, start + len)` wraps around or leaves the user address space
    /// `[0, task_size)`. munmap: EINVAL; mmap, mprotect, brk: ENOMEM.
    OutOfRange {
        /// Start of the range.
        start: u64,
        /// Its length.
        len: u64,
    },
    /// The object offset of the region's end does not fit in 64 bits.
    /// EOVERFLOW.
    OffsetOverflow,
    /// The new region overlaps a mapped range starting at `addr`. EEXIST
    /// (what `MAP_FIXED_NOREPLACE` reports).
    Overlap {
        /// First overlapping address.
        addr: u64,
    },
    /// Nothing is mapped at `addr`. mprotect: ENOMEM, after changing
    /// `[start, addr)`; brk shrinking and stack growth change nothing.
    Unmapped {
        /// The first unmapped address met.
        addr: u64,
    },
    /// The region at `addr` does not allow the protection asked for (its
    /// [`max_prot`](Region::max_prot)). mprotect: EACCES, after changing
    /// `[start, addr)`; insert: nothing changed.
    Denied {
        /// Start of the refusing part.
        addr: u64,
    },
    /// No free range is large enough, or growth would reach another region
    /// or its guard gap, or pass the stack's size limit. ENOMEM.
    NoSpace,
    /// Below the lowest address a mapping may use (`mmap_min_addr`). EPERM.
    BelowMinAddr {
        /// The address refused.
        addr: u64,
    },
    /// The map's parameters are inconsistent.
    BadLayout(&'static str),
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::Misaligned { what, value } => {
                write!(f, "{what} {value:#x} is not a multiple of the page size")
            }
            RegionError::ZeroLength => f.write_str("the length is zero"),
            RegionError::OutOfRange { start, len } => write!(
                f,
                "the range at {start:#x} of {len:#x} bytes leaves the user address space"
            ),
            RegionError::OffsetOverflow => {
                f.write_str("the object offset of the mapping's end overflows")
            }
            RegionError::Overlap { addr } => write!(f, "{addr:#x} is already mapped"),
            RegionError::Unmapped { addr } => write!(f, "{addr:#x} is not mapped"),
            RegionError::Denied { addr } => {
                write!(f, "the mapping at {addr:#x} does not allow that protection")
            }
            RegionError::NoSpace => f.write_str("no room in the address space"),
            RegionError::BelowMinAddr { addr } => {
                write!(f, "{addr:#x} is below the lowest mappable address")
            }
            RegionError::BadLayout(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for RegionError {}

/// One process's regions, kept sorted, non-overlapping and merged.
#[derive(Clone, Debug)]
pub struct RegionMap {
    /// Regions by start address. Changed only through
    /// [`RegionMap::changing`], which keeps `last_inserted` true.
    regions: BTreeMap<u64, Region>,
    /// The region the last [`RegionMap::insert`] made (after merging), while
    /// nothing else has changed the map: a trace maps a page and faults on
    /// it at once, and this answers that fault's [`RegionMap::find`]
    /// without a search.
    last_inserted: Option<Region>,
    page_size: u64,
    mmap_base: u64,
    task_size: u64,
    min_addr: u64,
    stack_guard_gap: u64,
}

impl RegionMap {
    /// An empty address space `[0, task_size)` with pages of `page_size`
    /// bytes, placing mmaps top-down from `mmap_base`. The guard gap starts
    /// at Linux's 256 pages (at most the whole space) and the lowest
    /// mappable address at one page.
    pub fn new(page_size: u64, mmap_base: u64, task_size: u64) -> Result<RegionMap, RegionError> {
        if !page_size.is_power_of_two() {
            return Err(RegionError::BadLayout(
                "the page size must be a power of two",
            ));
        }
        let map = RegionMap {
            regions: BTreeMap::new(),
            last_inserted: None,
            page_size,
            mmap_base,
            task_size,
            min_addr: page_size,
            stack_guard_gap: page_size
                .checked_mul(DEFAULT_STACK_GUARD_GAP_PAGES)
                .map_or(task_size, |gap| gap.min(task_size)),
        };
        map.check_aligned("task size", task_size)?;
        map.check_aligned("mmap base", mmap_base)?;
        if task_size < page_size || mmap_base > task_size {
            return Err(RegionError::BadLayout(
                "need one page <= task size and mmap base <= task size",
            ));
        }
        Ok(map)
    }

    /// The same map with a guard gap of `bytes` around growable stacks
    /// (Linux's `stack_guard_gap`).
    pub fn with_stack_guard_gap(mut self, bytes: u64) -> Result<RegionMap, RegionError> {
        self.check_aligned("stack guard gap", bytes)?;
        self.stack_guard_gap = bytes;
        Ok(self)
    }

    /// The same map with `addr` as the lowest address a mapping may use
    /// (Linux's `mmap_min_addr`).
    pub fn with_min_addr(mut self, addr: u64) -> Result<RegionMap, RegionError> {
        self.check_aligned("minimum address", addr)?;
        if addr >= self.task_size {
            return Err(RegionError::BadLayout(
                "the minimum address must lie below the task size",
            ));
        }
        self.min_addr = addr;
        Ok(self)
    }

    /// Bytes per page.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Where top-down placement starts (exclusive).
    pub fn mmap_base(&self) -> u64 {
        self.mmap_base
    }

    /// End of the user address space (exclusive).
    pub fn task_size(&self) -> u64 {
        self.task_size
    }

    /// Lowest address a mapping may use.
    pub fn min_addr(&self) -> u64 {
        self.min_addr
    }

    /// Bytes kept free next to a growable stack.
    pub fn stack_guard_gap(&self) -> u64 {
        self.stack_guard_gap
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The regions in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Region> + ExactSizeIterator {
        self.regions.values()
    }

    /// The region containing `addr`.
    #[inline]
    pub fn find(&self, addr: u64) -> Option<&Region> {
        if let Some(last) = self.last_inserted.as_ref().filter(|r| r.contains(addr)) {
            return Some(last);
        }
        self.regions
            .range(..=addr)
            .next_back()
            .map(|(_, region)| region)
            .filter(|region| region.end > addr)
    }

    /// The regions meeting `[start, end)`, in address order.
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Region> {
        let first = match self.regions.range(..start).next_back() {
            Some((&key, region)) if region.end > start => key,
            _ => start,
        };
        let stop = if end > start { end } else { first };
        self.regions.range(first..stop).map(|(_, region)| region)
    }

    /// Adds `region` (mmap after placement), merging it with neighbours it
    /// continues. Fails without change if it overlaps a mapped range (the
    /// kernel unmaps first for `MAP_FIXED`), is misaligned or empty, leaves
    /// the address space, or asks for more than its `max_prot`.
    pub fn insert(&mut self, region: Region) -> Result<(), RegionError> {
        self.check_aligned("start", region.start)?;
        self.check_aligned("end", region.end)?;
        if region.start == region.end {
            return Err(RegionError::ZeroLength);
        }
        if region.start > region.end || region.end > self.task_size {
            return Err(RegionError::OutOfRange {
                start: region.start,
                len: region.end.wrapping_sub(region.start),
            });
        }
        if let Some(offset) = region.kind.offset() {
            self.check_aligned("offset", offset)?;
            if offset.checked_add(region.size()).is_none() {
                return Err(RegionError::OffsetOverflow);
            }
        }
        if !region.max_prot.contains(region.prot) {
            return Err(RegionError::Denied { addr: region.start });
        }
        // The region before `end` and the one at `end` decide everything:
        // the first overlaps unless it ends by `start` (and is then the
        // neighbour below), the second is the only one above that can
        // merge. Two look-ups, rather than asking for overlaps and then
        // merging around, matter when a trace maps its pages one at a time
        // into a map of many thousands of regions.
        let prev = self
            .regions
            .range(..region.end)
            .next_back()
            .map(|(_, r)| *r);
        if prev.is_some_and(|p| p.end > region.start) {
            // Rare: the error names the first overlapping address.
            let first = self.overlapping(region.start, region.end).next();
            let addr = first.map_or(region.start, |o| o.start.max(region.start));
            return Err(RegionError::Overlap { addr });
        }
        let next = self.regions.get(&region.end).copied();
        let end = match next {
            Some(next) if region.merges_with(&next) => {
                self.changing().remove(&next.start);
                next.end
            }
            _ => region.end,
        };
        let merged = match prev {
            Some(prev) if prev.merges_with(&region) => Region { end, ..prev },
            _ => Region { end, ..region },
        };
        self.changing().insert(merged.start, merged);
        self.last_inserted = Some(merged);
        Ok(())
    }

    /// Removes `[start, start + len)` (munmap), cutting regions that cross
    /// its ends, and returns the removed pieces in address order so the
    /// kernel can release their pages. Holes in the range are fine; the
    /// range must be page aligned, non-empty and inside the address space.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<Vec<Region>, RegionError> {
        let end = self.check_range(start, len)?;
        self.split_at(start);
        self.split_at(end);
        let regions = self.changing();
        let mut above = regions.split_off(&end);
        let removed = regions.split_off(&start);
        regions.append(&mut above);
        Ok(removed.into_values().collect())
    }

    /// Gives `[start, start + len)` the protection `prot` (mprotect),
    /// splitting regions at the range's ends and merging neighbours that
    /// become alike. A zero length does nothing.
    ///
    /// As in Linux, the range is walked region by region from `start`: a
    /// hole fails with [`RegionError::Unmapped`] (ENOMEM) and a region whose
    /// `max_prot` refuses `prot` with [`RegionError::Denied`] (EACCES). Both
    /// name the address where the walk stopped; everything in `[start,
    /// addr)` has already changed and stays changed, so the kernel must
    /// update those pages' entries even on failure. A hole at `start` itself
    /// changes nothing.
    pub fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), RegionError> {
        self.check_aligned("start", start)?;
        self.check_aligned("length", len)?;
        if len == 0 {
            return Ok(());
        }
        let end = start
            .checked_add(len)
            .ok_or(RegionError::OutOfRange { start, len })?;
        let mut at = start;
        while at < end {
            let region = *self.find(at).ok_or(RegionError::Unmapped { addr: at })?;
            if !region.max_prot.contains(prot) {
                return Err(RegionError::Denied { addr: at });
            }
            let piece_end = region.end.min(end);
            if region.prot != prot {
                self.update_piece(at, piece_end, |piece| piece.prot = prot);
            }
            at = piece_end;
        }
        Ok(())
    }

    /// Records `advice` for `[start, end)`, which must lie within one
    /// region (madvise walks the range region by region), splitting it at
    /// the ends and merging neighbours that become alike, as Linux's
    /// madvise splits vmas.
    pub fn advise(&mut self, start: u64, end: u64, advice: ReadAdvice) -> Result<(), RegionError> {
        self.check_aligned("start", start)?;
        self.check_aligned("end", end)?;
        let region = *self
            .find(start)
            .ok_or(RegionError::Unmapped { addr: start })?;
        if end > region.end {
            return Err(RegionError::Unmapped { addr: region.end });
        }
        if start < end && region.advice != advice {
            self.update_piece(start, end, |piece| piece.advice = advice);
        }
        Ok(())
    }

    /// Splits the region holding `[start, end)` at both ends, changes the
    /// piece with `change`, and merges it with neighbours now alike.
    fn update_piece(&mut self, start: u64, end: u64, change: impl FnOnce(&mut Region)) {
        self.split_at(start);
        self.split_at(end);
        if let Some(piece) = self.changing().get_mut(&start) {
            change(piece);
        }
        self.merge_around(start);
    }

    /// Moves the program break from `old_brk` to `new_brk` (both page
    /// aligned; the syscall layer rounds brk values up and keeps the exact
    /// break). Shrinking unmaps `[new_brk, old_brk)` and returns the pieces
    /// removed; it needs something mapped there. Growing maps
    /// `[old_brk, new_brk)` as read-write [`RegionKind::Heap`], joined to
    /// the heap below when alike, and needs one free page above the new
    /// break plus the guard gap below a stack there, as Linux's brk does.
    pub fn set_brk(&mut self, old_brk: u64, new_brk: u64) -> Result<Vec<Region>, RegionError> {
        self.check_aligned("old break", old_brk)?;
        self.check_aligned("new break", new_brk)?;
        if new_brk < old_brk {
            if self.overlapping(new_brk, old_brk).next().is_none() {
                return Err(RegionError::Unmapped { addr: new_brk });
            }
            return self.unmap(new_brk, old_brk - new_brk);
        }
        if new_brk == old_brk {
            return Ok(Vec::new());
        }
        if new_brk > self.task_size {
            return Err(RegionError::OutOfRange {
                start: old_brk,
                len: new_brk - old_brk,
            });
        }
        let next = self
            .find(old_brk)
            .or_else(|| self.regions.range(old_brk..).next().map(|(_, r)| r))
            .copied();
        if let Some(next) = next {
            if new_brk.saturating_add(self.page_size) > next.start_gap(self.stack_guard_gap) {
                return Err(RegionError::NoSpace);
            }
        }
        self.insert(Region::new(
            old_brk,
            new_brk,
            Prot::READ | Prot::WRITE,
            RegionKind::Heap,
        ))?;
        Ok(Vec::new())
    }

    /// Grows a stack to cover `addr` (a fault outside every region),
    /// keeping it at most `max_size` bytes (RLIMIT_STACK) and clear of its
    /// neighbour's guard gap. Like Linux's `expand_stack`, it first tries a
    /// grows-up stack ending below `addr`, then a grows-down stack starting
    /// above it. Growth never merges regions. Nothing happens if `addr` is
    /// mapped already; with no stack to grow the error is
    /// [`RegionError::Unmapped`].
    pub fn grow_stack(&mut self, addr: u64, max_size: u64) -> Result<(), RegionError> {
        if self.find(addr).is_some() {
            return Ok(());
        }
        let page = addr & !(self.page_size - 1);
        let below = self.regions.range(..addr).next_back().map(|(_, r)| *r);
        let above = self.regions.range(addr..).next().map(|(_, r)| *r);
        let mut result = Err(RegionError::Unmapped { addr });
        if let Some(stack) = below.filter(|r| r.kind == RegionKind::Stack { grows_down: false }) {
            result = self.expand_up(stack, page.saturating_add(self.page_size), above, max_size);
            if result.is_ok() {
                return result;
            }
        }
        if let Some(stack) = above.filter(|r| r.kind == RegionKind::Stack { grows_down: true }) {
            result = self.expand_down(stack, page, below, max_size);
        }
        result
    }

    /// An address for a new mapping of `len` bytes, as Linux's
    /// `generic_get_unmapped_area_topdown` picks it:
    /// - `fixed` (MAP_FIXED): the hint itself, which must be page aligned
    ///   and fit below the task size, whatever is mapped there;
    /// - else a hint, rounded down to a page (raised to the minimum address
    ///   if below it), is taken when the range is free and clear of stack
    ///   guard gaps;
    /// - else the highest free range below `mmap_base`;
    /// - else the lowest free range above a third of the address space
    ///   (Linux's `TASK_UNMAPPED_BASE`) up to the task size.
    ///
    /// Same map, same answer.
    pub fn find_free(&self, len: u64, hint: Option<u64>, fixed: bool) -> Result<u64, RegionError> {
        self.check_aligned("length", len)?;
        if len == 0 {
            return Err(RegionError::ZeroLength);
        }
        if len > self.task_size - self.min_addr {
            return Err(RegionError::NoSpace);
        }
        if fixed {
            let addr = hint.unwrap_or(0);
            self.check_aligned("address", addr)?;
            if addr > self.task_size - len {
                return Err(RegionError::OutOfRange { start: addr, len });
            }
            if addr < self.min_addr {
                return Err(RegionError::BelowMinAddr { addr });
            }
            return Ok(addr);
        }
        if let Some(hint) = hint {
            let mut addr = hint & !(self.page_size - 1);
            // Linux treats a hint that rounds to 0 as no hint.
            if addr != 0 {
                addr = addr.max(self.min_addr);
                if self.is_free(addr, len) {
                    return Ok(addr);
                }
            }
        }
        let gaps = self.gaps();
        let low = self.min_addr.max(self.page_size);
        for &(gap_start, gap_end) in gaps.iter().rev() {
            let lo = gap_start.max(low);
            let hi = gap_end.min(self.mmap_base);
            if hi > lo && hi - lo >= len {
                return Ok(hi - len);
            }
        }
        let unmapped_base = (self.task_size / 3).next_multiple_of(self.page_size);
        for &(gap_start, gap_end) in &gaps {
            let lo = gap_start.max(unmapped_base).max(low);
            if gap_end > lo && gap_end - lo >= len {
                return Ok(lo);
            }
        }
        Err(RegionError::NoSpace)
    }

    /// The regions, for a change, which may alter or remove the region
    /// last inserted: [`RegionMap::find`] stops answering from it.
    fn changing(&mut self) -> &mut BTreeMap<u64, Region> {
        self.last_inserted = None;
        &mut self.regions
    }

    /// Errs unless `value` is a multiple of the page size.
    fn check_aligned(&self, what: &'static str, value: u64) -> Result<(), RegionError> {
        if value & (self.page_size - 1) == 0 {
            Ok(())
        } else {
            Err(RegionError::Misaligned { what, value })
        }
    }

    /// The end of `[start, start + len)` after checking it is aligned,
    /// non-empty and inside the address space.
    fn check_range(&self, start: u64, len: u64) -> Result<u64, RegionError> {
        self.check_aligned("start", start)?;
        self.check_aligned("length", len)?;
        if len == 0 {
            return Err(RegionError::ZeroLength);
        }
        match start.checked_add(len) {
            Some(end) if end <= self.task_size => Ok(end),
            _ => Err(RegionError::OutOfRange { start, len }),
        }
    }

    /// Cuts the region strictly containing `addr`, if any, in two at `addr`.
    fn split_at(&mut self, addr: u64) {
        let key = match self.regions.range(..addr).next_back() {
            Some((&key, region)) if region.end > addr => key,
            _ => return,
        };
        if let Some(region) = self.changing().get_mut(&key) {
            let upper = region.split_off(addr);
            self.changing().insert(addr, upper);
        }
    }

    /// Merges the region starting at `start` with its neighbours where they
    /// are alike. The map is canonical (no two neighbours alike) before any
    /// change, so only the changed region's two edges need a look.
    fn merge_around(&mut self, start: u64) {
        let Some(&current) = self.regions.get(&start) else {
            return;
        };
        let mut merged = current;
        if let Some((_, prev)) = self.regions.range(..start).next_back() {
            if prev.merges_with(&current) {
                merged = Region {
                    end: current.end,
                    ..*prev
                };
                self.changing().remove(&start);
            }
        }
        if let Some(&next) = self.regions.get(&merged.end) {
            if merged.merges_with(&next) {
                merged.end = next.end;
                self.changing().remove(&next.start);
            }
        }
        self.changing().insert(merged.start, merged);
    }

    /// Whether `[addr, addr + len)` lies in the mappable space, is unmapped,
    /// and keeps clear of the stack guard gaps around it.
    fn is_free(&self, addr: u64, len: u64) -> bool {
        if addr < self.min_addr || addr > self.task_size - len || self.find(addr).is_some() {
            return false;
        }
        let gap = self.stack_guard_gap;
        let next_ok = self
            .regions
            .range(addr..)
            .next()
            .is_none_or(|(_, next)| addr + len <= next.start_gap(gap));
        let prev_ok = self
            .regions
            .range(..addr)
            .next_back()
            .is_none_or(|(_, prev)| addr >= prev.end_gap(gap));
        next_ok && prev_ok
    }

    /// The free ranges `[start, end)` in address order, shrunk by the stack
    /// guard gaps, up to the task size.
    fn gaps(&self) -> Vec<(u64, u64)> {
        let gap = self.stack_guard_gap;
        let mut gaps = Vec::with_capacity(self.regions.len() + 1);
        let mut from = 0;
        for region in self.regions.values() {
            let to = region.start_gap(gap);
            if to > from {
                gaps.push((from, to));
            }
            from = from.max(region.end_gap(gap));
        }
        if self.task_size > from {
            gaps.push((from, self.task_size));
        }
        gaps
    }

    /// Lowers the start of the grows-down `stack` to `new_start`
    /// (Linux's `expand_downwards`).
    fn expand_down(
        &mut self,
        stack: Region,
        new_start: u64,
        below: Option<Region>,
        max_size: u64,
    ) -> Result<(), RegionError> {
        if new_start < self.min_addr {
            return Err(RegionError::BelowMinAddr { addr: new_start });
        }
        if let Some(below) = below {
            // Another grows-down stack, or an inaccessible region (a guard
            // the program made itself), may be approached to the page.
            let guarded =
                below.kind != RegionKind::Stack { grows_down: true } && !below.prot.is_empty();
            let gap = if guarded { self.stack_guard_gap } else { 0 };
            if new_start < below.end.saturating_add(gap) {
                return Err(RegionError::NoSpace);
            }
        }
        if stack.end - new_start > max_size {
            return Err(RegionError::NoSpace);
        }
        self.changing().remove(&stack.start);
        self.changing().insert(
            new_start,
            Region {
                start: new_start,
                ..stack
            },
        );
        Ok(())
    }

    /// Raises the end of the grows-up `stack` to `new_end` (Linux's
    /// `expand_upwards`).
    fn expand_up(
        &mut self,
        stack: Region,
        new_end: u64,
        above: Option<Region>,
        max_size: u64,
    ) -> Result<(), RegionError> {
        if new_end > self.task_size {
            return Err(RegionError::NoSpace);
        }
        if let Some(above) = above {
            let guarded =
                above.kind != RegionKind::Stack { grows_down: false } && !above.prot.is_empty();
            let gap = if guarded { self.stack_guard_gap } else { 0 };
            if new_end.saturating_add(gap) > above.start {
                return Err(RegionError::NoSpace);
            }
        }
        if new_end - stack.start > max_size {
            return Err(RegionError::NoSpace);
        }
        if let Some(region) = self.changing().get_mut(&stack.start) {
            region.end = new_end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: u64 = 0x1000;
    const RW: Prot = Prot::READ.union(Prot::WRITE);

    /// A 1 GiB space with mmaps placed below 768 MiB.
    fn map() -> RegionMap {
        RegionMap::new(P, 0x3000_0000, 0x4000_0000).unwrap()
    }

    fn anon(start: u64, end: u64, prot: Prot) -> Region {
        Region::new(start, end, prot, RegionKind::Anonymous)
    }

    fn file(start: u64, end: u64, id: u64, offset: u64) -> Region {
        Region::new(
            start,
            end,
            Prot::READ,
            RegionKind::File {
                file: id,
                offset,
                shared: false,
            },
        )
    }

    fn spans(map: &RegionMap) -> Vec<(u64, u64, Prot)> {
        map.iter().map(|r| (r.start, r.end, r.prot)).collect()
    }

    #[test]
    fn partial_unmaps_at_start_middle_and_end() {
        let mut m = map();
        m.insert(anon(0x10000, 0x20000, RW)).unwrap();

        let removed = m.unmap(0x10000, 0x2000).unwrap();
        assert_eq!(removed, vec![anon(0x10000, 0x12000, RW)]);
        assert_eq!(spans(&m), vec![(0x12000, 0x20000, RW)]);

        let removed = m.unmap(0x1e000, 0x2000).unwrap();
        assert_eq!(removed, vec![anon(0x1e000, 0x20000, RW)]);
        assert_eq!(spans(&m), vec![(0x12000, 0x1e000, RW)]);

        // A hole in the middle splits the region in two.
        let removed = m.unmap(0x15000, 0x3000).unwrap();
        assert_eq!(removed, vec![anon(0x15000, 0x18000, RW)]);
        assert_eq!(
            spans(&m),
            vec![(0x12000, 0x15000, RW), (0x18000, 0x1e000, RW)]
        );
    }

    #[test]
    fn split_file_pieces_keep_their_offsets() {
        let mut m = map();
        m.insert(file(0x10000, 0x18000, 7, 0x4000)).unwrap();
        let removed = m.unmap(0x12000, 0x1000).unwrap();
        assert_eq!(removed, vec![file(0x12000, 0x13000, 7, 0x6000)]);
        assert_eq!(m.find(0x13000).unwrap().kind.offset(), Some(0x7000));
        assert_eq!(
            m.find(0x17fff).unwrap().object_offset(0x17fff),
            Some(0xbfff)
        );
        assert_eq!(
            m.find(0x10000).unwrap().object_offset(0x11000),
            Some(0x5000)
        );
    }

    #[test]
    fn unmap_across_regions_and_holes() {
        let mut m = map();
        m.insert(anon(0x10000, 0x14000, RW)).unwrap();
        m.insert(anon(0x16000, 0x18000, Prot::READ)).unwrap();
        m.insert(file(0x18000, 0x1a000, 1, 0)).unwrap();
        m.insert(anon(0x1c000, 0x20000, RW)).unwrap();

        let removed = m.unmap(0x12000, 0xc000).unwrap();
        assert_eq!(
            removed,
            vec![
                anon(0x12000, 0x14000, RW),
                anon(0x16000, 0x18000, Prot::READ),
                file(0x18000, 0x1a000, 1, 0),
                anon(0x1c000, 0x1e000, RW),
            ]
        );
        assert_eq!(
            spans(&m),
            vec![(0x10000, 0x12000, RW), (0x1e000, 0x20000, RW)]
        );
        // Nothing mapped there at all: still a success.
        assert_eq!(m.unmap(0x30000, 0x1000), Ok(Vec::new()));
    }

    #[test]
    fn mprotect_splits_in_three_and_merges_back() {
        let mut m = map();
        m.insert(anon(0x10000, 0x20000, RW)).unwrap();
        m.protect(0x14000, 0x4000, Prot::READ).unwrap();
        assert_eq!(
            spans(&m),
            vec![
                (0x10000, 0x14000, RW),
                (0x14000, 0x18000, Prot::READ),
                (0x18000, 0x20000, RW),
            ]
        );
        m.protect(0x14000, 0x4000, RW).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(spans(&m), vec![(0x10000, 0x20000, RW)]);
        // Zero length: nothing to do, success.
        assert_eq!(m.protect(0x50000, 0, Prot::empty()), Ok(()));
    }

    #[test]
    fn mprotect_over_a_hole_changes_what_comes_before_it() {
        let mut m = map();
        m.insert(anon(0x10000, 0x12000, RW)).unwrap();
        m.insert(anon(0x13000, 0x15000, RW)).unwrap();

        // Linux walks the VMAs in order: [0x10000, 0x12000) is changed,
        // then the hole at 0x12000 stops it with ENOMEM.
        assert_eq!(
            m.protect(0x10000, 0x5000, Prot::READ),
            Err(RegionError::Unmapped { addr: 0x12000 })
        );
        assert_eq!(
            spans(&m),
            vec![(0x10000, 0x12000, Prot::READ), (0x13000, 0x15000, RW)]
        );

        // A range running past the last region: the regions are changed,
        // then ENOMEM at their end.
        assert_eq!(
            m.protect(0x13000, 0x3000, Prot::empty()),
            Err(RegionError::Unmapped { addr: 0x15000 })
        );
        assert_eq!(m.find(0x14000).unwrap().prot, Prot::empty());

        // A hole at the start: nothing changes.
        assert_eq!(
            m.protect(0x12000, 0x2000, Prot::EXEC),
            Err(RegionError::Unmapped { addr: 0x12000 })
        );
        assert_eq!(m.find(0x13000).unwrap().prot, Prot::empty());
    }

    #[test]
    fn mprotect_beyond_max_prot_is_denied_after_earlier_regions() {
        let mut m = map();
        m.insert(anon(0x10000, 0x12000, Prot::READ)).unwrap();
        // A shared mapping of a read-only descriptor: no VM_MAYWRITE.
        let read_only = Region::new(
            0x12000,
            0x14000,
            Prot::READ,
            RegionKind::File {
                file: 3,
                offset: 0,
                shared: true,
            },
        )
        .with_max_prot(Prot::READ | Prot::EXEC);
        m.insert(read_only).unwrap();
        assert_eq!(
            m.protect(0x10000, 0x4000, RW),
            Err(RegionError::Denied { addr: 0x12000 })
        );
        assert_eq!(
            spans(&m),
            vec![(0x10000, 0x12000, RW), (0x12000, 0x14000, Prot::READ)]
        );
        assert_eq!(
            m.insert(read_only.with_max_prot(Prot::empty())),
            Err(RegionError::Denied { addr: 0x12000 })
        );
    }

    #[test]
    fn overlapping_insert_fails_without_change() {
        let mut m = map();
        m.insert(anon(0x10000, 0x14000, RW)).unwrap();
        assert_eq!(
            m.insert(anon(0x8000, 0x11000, RW)),
            Err(RegionError::Overlap { addr: 0x10000 })
        );
        assert_eq!(
            m.insert(anon(0x13000, 0x18000, Prot::READ)),
            Err(RegionError::Overlap { addr: 0x13000 })
        );
        assert_eq!(spans(&m), vec![(0x10000, 0x14000, RW)]);
    }

    #[test]
    fn adjacent_private_anonymous_mappings_merge() {
        let mut m = map();
        m.insert(anon(0x10000, 0x12000, RW)).unwrap();
        m.insert(anon(0x14000, 0x16000, RW)).unwrap();
        // Fills the hole: all three become one.
        m.insert(anon(0x12000, 0x14000, RW)).unwrap();
        assert_eq!(spans(&m), vec![(0x10000, 0x16000, RW)]);
        // Different protection, heap, stack: no merge.
        m.insert(anon(0x16000, 0x17000, Prot::READ)).unwrap();
        m.insert(Region::new(0xf000, 0x10000, RW, RegionKind::Heap))
            .unwrap();
        m.insert(Region::new(
            0x17000,
            0x18000,
            Prot::READ,
            RegionKind::Stack { grows_down: true },
        ))
        .unwrap();
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn shared_anonymous_mappings_merge_only_within_one_object() {
        let mut m = map();
        let shm = |start, end, object, offset| {
            Region::new(
                start,
                end,
                RW,
                RegionKind::SharedAnonymous { object, offset },
            )
        };
        // Two separate mmaps: two shmem objects, never merged.
        m.insert(shm(0x10000, 0x12000, 1, 0)).unwrap();
        m.insert(shm(0x12000, 0x14000, 2, 0)).unwrap();
        assert_eq!(m.len(), 2);
        // One mapping split by mprotect merges back when restored.
        m.protect(0x10000, 0x1000, Prot::READ).unwrap();
        assert_eq!(m.len(), 3);
        m.protect(0x10000, 0x1000, RW).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.find(0x11000).unwrap(), &shm(0x10000, 0x12000, 1, 0));
    }

    #[test]
    fn file_mappings_merge_only_at_contiguous_offsets() {
        let mut m = map();
        m.insert(file(0x10000, 0x12000, 1, 0x1000)).unwrap();
        m.insert(file(0x12000, 0x13000, 1, 0x3000)).unwrap();
        assert_eq!(spans(&m), vec![(0x10000, 0x13000, Prot::READ)]);
        // Same file, offset not following on.
        m.insert(file(0x13000, 0x14000, 1, 0x5000)).unwrap();
        // Another file at the offset that would follow on.
        m.insert(file(0x14000, 0x15000, 2, 0x6000)).unwrap();
        // Shared and private mappings of one file stay apart.
        let shared = Region::new(
            0x15000,
            0x16000,
            Prot::READ,
            RegionKind::File {
                file: 2,
                offset: 0x7000,
                shared: true,
            },
        );
        m.insert(shared).unwrap();
        assert_eq!(m.len(), 4);
        // Below the first one at the offset just before it: merges.
        m.insert(file(0xf000, 0x10000, 1, 0)).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m.find(0xf000).unwrap(), &file(0xf000, 0x13000, 1, 0));
        // Below that, at an offset that does not lead into it: stays apart.
        m.insert(file(0xe000, 0xf000, 1, 0x3000)).unwrap();
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn find_free_places_top_down_and_honours_usable_hints() {
        let mut m = map();
        let base = m.mmap_base();
        // Empty map: right below mmap_base.
        assert_eq!(m.find_free(0x3000, None, false), Ok(base - 0x3000));
        m.insert(anon(base - 0x3000, base, RW)).unwrap();
        assert_eq!(m.find_free(0x1000, None, false), Ok(base - 0x4000));
        // A hole too small is skipped; a large enough one lower down is the
        // highest that fits.
        m.insert(anon(base - 0x10000, base - 0x4000, RW)).unwrap();
        assert_eq!(m.find_free(0x2000, None, false), Ok(base - 0x12000));
        assert_eq!(m.find_free(0x2000, None, false), Ok(base - 0x12000));
        assert_eq!(m.find_free(0x1000, None, false), Ok(base - 0x4000));

        // A free, aligned hint is taken as is.
        assert_eq!(m.find_free(0x2000, Some(0x40_0000), false), Ok(0x40_0000));
        // A misaligned hint is rounded down first.
        assert_eq!(m.find_free(0x2000, Some(0x40_0123), false), Ok(0x40_0000));
        // A hint over a mapping, past the task size, or rounding to 0 is
        // ignored in favour of the top-down search.
        assert_eq!(
            m.find_free(0x2000, Some(base - 0x2000), false),
            Ok(base - 0x12000)
        );
        assert_eq!(
            m.find_free(0x2000, Some(m.task_size()), false),
            Ok(base - 0x12000)
        );
        assert_eq!(m.find_free(0x2000, Some(0x123), false), Ok(base - 0x12000));
        // MAP_FIXED: the address itself, mapped or not.
        assert_eq!(
            m.find_free(0x2000, Some(base - 0x2000), true),
            Ok(base - 0x2000)
        );
        assert_eq!(
            m.find_free(0x2000, Some(0x1234), true),
            Err(RegionError::Misaligned {
                what: "address",
                value: 0x1234
            })
        );
        assert_eq!(
            m.find_free(0x2000, Some(0), true),
            Err(RegionError::BelowMinAddr { addr: 0 })
        );
        assert_eq!(
            m.find_free(0x2000, Some(m.task_size() - 0x1000), true),
            Err(RegionError::OutOfRange {
                start: m.task_size() - 0x1000,
                len: 0x2000
            })
        );
    }

    #[test]
    fn find_free_keeps_the_stack_guard_gap_and_falls_back_bottom_up() {
        // 64 pages, mmap base at page 48, a guard gap of 4 pages.
        let mut m = RegionMap::new(P, 48 * P, 64 * P)
            .unwrap()
            .with_stack_guard_gap(4 * P)
            .unwrap();
        m.insert(Region::new(
            44 * P,
            48 * P,
            RW,
            RegionKind::Stack { grows_down: true },
        ))
        .unwrap();
        // The highest spot below the stack ends at its guard gap.
        assert_eq!(m.find_free(P, None, false), Ok(39 * P));
        // A hint inside the guard gap is not usable.
        assert_eq!(m.find_free(P, Some(42 * P), false), Ok(39 * P));
        // Fill [1, 40) pages: nothing below mmap_base, so bottom-up from
        // a third of the space (page 22 rounded up) finds the space above
        // the stack.
        m.insert(anon(P, 40 * P, RW)).unwrap();
        assert_eq!(m.find_free(P, None, false), Ok(48 * P));
        assert_eq!(m.find_free(17 * P, None, false), Err(RegionError::NoSpace));
        assert_eq!(m.find_free(64 * P, None, false), Err(RegionError::NoSpace));
    }

    #[test]
    fn stack_growth_stops_at_the_guard_gap() {
        let mut m = RegionMap::new(P, 48 * P, 64 * P)
            .unwrap()
            .with_stack_guard_gap(4 * P)
            .unwrap();
        let stack = RegionKind::Stack { grows_down: true };
        m.insert(Region::new(60 * P, 64 * P, RW, stack)).unwrap();
        m.insert(anon(40 * P, 50 * P, RW)).unwrap();

        // A fault anywhere in a page below the stack extends it to that page.
        m.grow_stack(58 * P + 0x123, 64 * P).unwrap();
        assert_eq!(m.find(58 * P).unwrap().start, 58 * P);
        // Mapped already: nothing to do.
        m.grow_stack(59 * P, 64 * P).unwrap();
        // Page 54 is the lowest: [50, 54) is the guard gap.
        m.grow_stack(54 * P, 64 * P).unwrap();
        assert_eq!(m.find(54 * P).unwrap().start, 54 * P);
        assert_eq!(m.grow_stack(53 * P, 64 * P), Err(RegionError::NoSpace));
        assert_eq!(m.find(60 * P).unwrap().start, 54 * P);
        assert_eq!(m.len(), 2);

        // The size limit (RLIMIT_STACK) holds too.
        let mut m = RegionMap::new(P, 48 * P, 64 * P).unwrap();
        m.insert(Region::new(60 * P, 64 * P, RW, stack)).unwrap();
        assert_eq!(m.grow_stack(55 * P, 8 * P), Err(RegionError::NoSpace));
        m.grow_stack(56 * P, 8 * P).unwrap();

        // An inaccessible neighbour is a guard the program made itself: the
        // stack may grow right up to it.
        let mut m = RegionMap::new(P, 48 * P, 64 * P)
            .unwrap()
            .with_stack_guard_gap(4 * P)
            .unwrap();
        m.insert(Region::new(60 * P, 64 * P, RW, stack)).unwrap();
        m.insert(anon(50 * P, 51 * P, Prot::empty())).unwrap();
        m.grow_stack(51 * P, 64 * P).unwrap();
        assert_eq!(m.find(51 * P).unwrap().kind, stack);

        // Not below a stack: no growth.
        assert_eq!(
            m.grow_stack(10 * P, 64 * P),
            Err(RegionError::Unmapped { addr: 10 * P })
        );
    }

    #[test]
    fn a_grows_up_stack_extends_its_end() {
        let mut m = RegionMap::new(P, 48 * P, 64 * P)
            .unwrap()
            .with_stack_guard_gap(2 * P)
            .unwrap();
        let up = RegionKind::Stack { grows_down: false };
        m.insert(Region::new(10 * P, 12 * P, RW, up)).unwrap();
        m.insert(anon(20 * P, 21 * P, RW)).unwrap();
        m.grow_stack(17 * P + 8, 64 * P).unwrap();
        assert_eq!(m.find(10 * P).unwrap().end, 18 * P);
        assert_eq!(m.grow_stack(18 * P, 64 * P), Err(RegionError::NoSpace));
        // Placement keeps the gap above it free.
        assert_eq!(m.find_free(P, Some(18 * P), false), Ok(47 * P));
        assert_eq!(m.find_free(P, Some(19 * P), false), Ok(47 * P));
        assert_eq!(m.find_free(P, Some(21 * P), false), Ok(21 * P));
    }

    #[test]
    fn brk_grows_with_a_free_page_above_and_shrinks() {
        let mut m = map();
        m.insert(anon(0x20000, 0x21000, RW)).unwrap();
        assert_eq!(m.set_brk(0x10000, 0x14000), Ok(Vec::new()));
        assert_eq!(m.set_brk(0x14000, 0x18000), Ok(Vec::new()));
        assert_eq!(
            spans(&m),
            vec![(0x10000, 0x18000, RW), (0x20000, 0x21000, RW)]
        );
        assert_eq!(m.find(0x10000).unwrap().kind, RegionKind::Heap);
        // Up to one page below the next mapping, not to it.
        assert_eq!(m.set_brk(0x18000, 0x1f000), Ok(Vec::new()));
        assert_eq!(m.set_brk(0x1f000, 0x20000), Err(RegionError::NoSpace));
        // Shrinking returns the pages to free.
        assert_eq!(
            m.set_brk(0x1f000, 0x12000),
            Ok(vec![Region::new(0x12000, 0x1f000, RW, RegionKind::Heap)])
        );
        assert_eq!(m.set_brk(0x12000, 0x12000), Ok(Vec::new()));
        assert_eq!(
            m.set_brk(0x16000, 0x14000),
            Err(RegionError::Unmapped { addr: 0x14000 })
        );
    }

    #[test]
    fn misaligned_or_empty_input_is_rejected() {
        let mut m = map();
        assert_eq!(
            m.insert(anon(0x10001, 0x12000, RW)),
            Err(RegionError::Misaligned {
                what: "start",
                value: 0x10001
            })
        );
        assert_eq!(
            m.insert(anon(0x10000, 0x10800, RW)),
            Err(RegionError::Misaligned {
                what: "end",
                value: 0x10800
            })
        );
        assert_eq!(
            m.insert(file(0x10000, 0x11000, 1, 0x10)),
            Err(RegionError::Misaligned {
                what: "offset",
                value: 0x10
            })
        );
        assert_eq!(
            m.insert(file(0x10000, 0x11000, 1, !(P - 1))),
            Err(RegionError::OffsetOverflow)
        );
        assert_eq!(
            m.insert(anon(0x10000, 0x10000, RW)),
            Err(RegionError::ZeroLength)
        );
        assert!(matches!(
            m.insert(anon(0x12000, 0x10000, RW)),
            Err(RegionError::OutOfRange { .. })
        ));
        assert!(matches!(
            m.insert(anon(0x10000, m.task_size() + P, RW)),
            Err(RegionError::OutOfRange { .. })
        ));
        assert!(matches!(
            m.unmap(0x10000, 0x800),
            Err(RegionError::Misaligned { .. })
        ));
        assert!(matches!(
            m.unmap(0x10800, 0x1000),
            Err(RegionError::Misaligned { .. })
        ));
        assert_eq!(m.unmap(0x10000, 0), Err(RegionError::ZeroLength));
        assert!(matches!(
            m.unmap(!(P - 1), 2 * P),
            Err(RegionError::OutOfRange { .. })
        ));
        assert!(matches!(
            m.protect(0x10800, 0x1000, RW),
            Err(RegionError::Misaligned { .. })
        ));
        assert!(matches!(
            m.find_free(0x1800, None, false),
            Err(RegionError::Misaligned { .. })
        ));
        assert!(matches!(
            RegionMap::new(3000, 0, 3000),
            Err(RegionError::BadLayout(_))
        ));
        assert!(matches!(
            RegionMap::new(P, 0x2000, 0x1000),
            Err(RegionError::BadLayout(_))
        ));
        assert!(matches!(
            RegionMap::new(P, 0x1800, 0x4000),
            Err(RegionError::Misaligned { .. })
        ));
        assert!(m.is_empty());
    }

    #[test]
    fn overlapping_lists_the_regions_meeting_a_range() {
        let mut m = map();
        m.insert(anon(0x10000, 0x12000, RW)).unwrap();
        m.insert(anon(0x14000, 0x16000, Prot::READ)).unwrap();
        let starts =
            |s: u64, e: u64| -> Vec<u64> { m.overlapping(s, e).map(|r| r.start).collect() };
        assert_eq!(starts(0x11000, 0x15000), vec![0x10000, 0x14000]);
        assert_eq!(starts(0x12000, 0x14000), Vec::<u64>::new());
        assert_eq!(starts(0x11000, 0x11000), Vec::<u64>::new());
        assert_eq!(starts(0x15000, 0x11000), Vec::<u64>::new());
        assert_eq!(
            Prot::from_bits(PROT_READ | PROT_EXEC),
            Some(Prot::READ | Prot::EXEC)
        );
        assert_eq!(Prot::from_bits(8), None);
    }

    #[test]
    fn find_never_answers_from_a_region_changed_since_its_insert() {
        let mut m = map();
        let span = |m: &RegionMap, addr: u64| m.find(addr).map(|r| (r.start, r.end, r.prot));
        // An insert merged with the region below: found whole.
        m.insert(anon(0x10000, 0x11000, RW)).unwrap();
        m.insert(anon(0x11000, 0x12000, RW)).unwrap();
        assert_eq!(span(&m, 0x10800), Some((0x10000, 0x12000, RW)));
        // Split by mprotect.
        m.protect(0x11000, P, Prot::READ).unwrap();
        assert_eq!(span(&m, 0x10800), Some((0x10000, 0x11000, RW)));
        assert_eq!(span(&m, 0x11800), Some((0x11000, 0x12000, Prot::READ)));
        // Advised.
        m.insert(anon(0x20000, 0x22000, RW)).unwrap();
        m.advise(0x20000, 0x21000, ReadAdvice::Random).unwrap();
        assert_eq!(m.find(0x20000).map(|r| r.advice), Some(ReadAdvice::Random));
        assert_eq!(span(&m, 0x21000), Some((0x21000, 0x22000, RW)));
        // Unmapped.
        m.insert(anon(0x30000, 0x31000, RW)).unwrap();
        m.unmap(0x30000, P).unwrap();
        assert_eq!(span(&m, 0x30000), None);
        // A stack grown down below where it was inserted.
        let stack = Region::new(
            0x40_0000,
            0x40_1000,
            RW,
            RegionKind::Stack { grows_down: true },
        );
        m.insert(stack).unwrap();
        m.grow_stack(0x3f_f000, 1 << 20).unwrap();
        assert_eq!(span(&m, 0x40_0000), Some((0x3f_f000, 0x40_1000, RW)));
        // The heap grown by brk (an insert), then shrunk (an unmap).
        m.set_brk(0x6_0000, 0x6_2000).unwrap();
        assert_eq!(span(&m, 0x6_1000), Some((0x6_0000, 0x6_2000, RW)));
        m.set_brk(0x6_2000, 0x6_1000).unwrap();
        assert_eq!(span(&m, 0x6_1000), None);
        // A failed insert changes nothing, the last good one still answers.
        m.insert(anon(0x50000, 0x51000, RW)).unwrap();
        assert!(m.insert(anon(0x50000, 0x52000, RW)).is_err());
        assert_eq!(span(&m, 0x50000), Some((0x50000, 0x51000, RW)));
        assert_eq!(span(&m, 0x51000), None);
        // A copy (fork) answers for its own map.
        let mut copy = m.clone();
        copy.unmap(0x50000, P).unwrap();
        assert_eq!(span(&copy, 0x50000), None);
        assert_eq!(span(&m, 0x50000), Some((0x50000, 0x51000, RW)));
    }

    // The reference model: what is mapped at each page of a small space.

    const PAGES: u64 = 32;

    /// Per page: protection, limit, backing kind with the object offset of
    /// that page folded in (so contiguity is visible page by page).
    type PageView = Option<(Prot, Prot, RegionKind)>;

    fn page_kind(region: &Region, addr: u64) -> RegionKind {
        region.kind.advanced(addr - region.start)
    }

    fn view(map: &RegionMap) -> Vec<PageView> {
        (0..PAGES)
            .map(|page| {
                map.find(page * P)
                    .map(|r| (r.prot, r.max_prot, page_kind(r, page * P)))
            })
            .collect()
    }

    fn pieces_view(pieces: &[Region]) -> Vec<(u64, PageView)> {
        pieces
            .iter()
            .flat_map(|r| {
                (r.start / P..r.end / P)
                    .map(move |page| (page, Some((r.prot, r.max_prot, page_kind(r, page * P)))))
            })
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert {
            page: u64,
            pages: u64,
            prot: Prot,
            max_prot: Prot,
            kind: RegionKind,
        },
        Unmap {
            page: u64,
            pages: u64,
        },
        Protect {
            page: u64,
            pages: u64,
            prot: Prot,
        },
    }

    fn prot() -> impl Strategy<Value = Prot> {
        (0u32..8).prop_map(Prot::from_bits_truncate)
    }

    fn kind() -> impl Strategy<Value = RegionKind> {
        prop_oneof![
            3 => Just(RegionKind::Anonymous),
            1 => (0u64..2, 0u64..4).prop_map(|(object, offset)| RegionKind::SharedAnonymous {
                object,
                offset: offset * P,
            }),
            2 => (0u64..2, 0u64..4, any::<bool>()).prop_map(|(file, offset, shared)| {
                RegionKind::File {
                    file,
                    offset: offset * P,
                    shared,
                }
            }),
            1 => Just(RegionKind::Heap),
            1 => any::<bool>().prop_map(|grows_down| RegionKind::Stack { grows_down }),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..PAGES, 1u64..7, prot(), prop_oneof![Just(Prot::all()), Just(Prot::READ | Prot::EXEC)], kind())
                .prop_map(|(page, pages, prot, max_prot, kind)| Op::Insert {
                    page,
                    pages,
                    prot: prot & max_prot,
                    max_prot,
                    kind,
                }),
            1 => (0..PAGES, 1u64..9).prop_map(|(page, pages)| Op::Unmap { page, pages }),
            2 => (0..PAGES, 1u64..9, prot())
                .prop_map(|(page, pages, prot)| Op::Protect { page, pages, prot }),
        ]
    }

    /// Applies `op` to the model, returning what the map should answer.
    fn apply_model(model: &mut [PageView], op: &Op) -> Result<Vec<(u64, PageView)>, RegionError> {
        match *op {
            Op::Insert {
                page,
                pages,
                prot,
                max_prot,
                kind,
            } => {
                let end = (page + pages).min(PAGES);
                if let Some(busy) = (page..end).find(|&p| model[p as usize].is_some()) {
                    return Err(RegionError::Overlap { addr: busy * P });
                }
                for p in page..end {
                    model[p as usize] = Some((prot, max_prot, kind.advanced((p - page) * P)));
                }
                Ok(Vec::new())
            }
            Op::Unmap { page, pages } => {
                let end = (page + pages).min(PAGES);
                Ok((page..end)
                    .filter_map(|p| model[p as usize].take().map(|v| (p, Some(v))))
                    .collect())
            }
            Op::Protect { page, pages, prot } => {
                let end = (page + pages).min(PAGES);
                for p in page..end {
                    match &mut model[p as usize] {
                        None => return Err(RegionError::Unmapped { addr: p * P }),
                        Some((_, max_prot, _)) if !max_prot.contains(prot) => {
                            return Err(RegionError::Denied { addr: p * P })
                        }
                        Some((page_prot, _, _)) => *page_prot = prot,
                    }
                }
                Ok(Vec::new())
            }
        }
    }

    fn apply_map(map: &mut RegionMap, op: &Op) -> Result<Vec<(u64, PageView)>, RegionError> {
        match *op {
            Op::Insert {
                page,
                pages,
                prot,
                max_prot,
                kind,
            } => {
                let end = (page + pages).min(PAGES);
                map.insert(Region::new(page * P, end * P, prot, kind).with_max_prot(max_prot))
                    .map(|()| Vec::new())
            }
            Op::Unmap { page, pages } => {
                let end = (page + pages).min(PAGES);
                map.unmap(page * P, (end - page) * P)
                    .map(|removed| pieces_view(&removed))
            }
            Op::Protect { page, pages, prot } => {
                let end = (page + pages).min(PAGES);
                map.protect(page * P, (end - page) * P, prot)
                    .map(|()| Vec::new())
            }
        }
    }

    /// Cases for the model test: `PROPTEST_CASES` when set (a long soak),
    /// else enough that rare merges (same shmem object or file at following
    /// offsets) come up every run.
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2048)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn matches_a_per_page_model_and_stays_canonical(ops in prop::collection::vec(op(), 1..40)) {
            let mut map = RegionMap::new(P, 24 * P, PAGES * P).unwrap();
            let mut model: Vec<PageView> = vec![None; PAGES as usize];
            for op in &ops {
                let expected = apply_model(&mut model, op);
                let got = apply_map(&mut map, op);
                prop_assert_eq!(&got, &expected, "after {:?}", op);
                prop_assert_eq!(view(&map), model.clone(), "after {:?}", op);
                let regions: Vec<&Region> = map.iter().collect();
                for r in &regions {
                    prop_assert!(r.start < r.end && r.start % P == 0 && r.end % P == 0);
                }
                for pair in regions.windows(2) {
                    prop_assert!(pair[0].end <= pair[1].start, "overlap: {:?}", pair);
                    prop_assert!(!pair[0].merges_with(pair[1]), "not merged: {:?}", pair);
                }
            }
        }
    }
}
