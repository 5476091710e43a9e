//! The page-table editor the kernel above uses: [`PageTable`] maps, unmaps,
//! re-protects and queries pages of every size the scheme supports, writing
//! real entries into [`PhysMem`]. Table frames come from a
//! [`TableAllocator`] the caller provides; tables left empty by an unmap are
//! given back, and the bytes spent on tables are counted.
//!
//! Each editor remembers the last-level tables it reached lately
//! ([`LeafTables`]), so mapping a base page where the tables exist (a
//! kernel's fault path, once per fault) writes the leaf entry without
//! reading the entries above it again.
//!
//! Table entries grant everything and leaves carry the rights, as Linux
//! builds its tables, so re-protecting a page touches one entry.

use crate::access::Perms;
use crate::arch::pte::{LeafAttrs, PteKind, UnencodablePerms};
use crate::arch::{Arch, MAX_LEVELS};
use crate::physmem::{PhysMem, PhysMemError};
use serde::Serialize;
use std::fmt;

/// Where page-table frames come from.
pub trait TableAllocator {
    /// `bytes` (a multiple of the base page) of physical memory aligned to a
    /// base page, or `None` when none is left. The editor zeroes it.
    fn alloc_table(&mut self, bytes: u64) -> Option<u64>;
    /// Gives back a table allocated with the same `bytes`.
    fn free_table(&mut self, addr: u64, bytes: u64);
}

/// A [`TableAllocator`] that hands out tables from one physical range and
/// reuses freed ones; enough for tools and tests that build tables without a
/// kernel.
#[derive(Clone, Debug)]
pub struct TableArena {
    next: u64,
    end: u64,
    align: u64,
    freed: Vec<(u64, u64)>,
}

impl TableArena {
    /// An arena over physical addresses `start..end`, aligning tables to
    /// `align` bytes (the base page size).
    pub fn new(start: u64, end: u64, align: u64) -> TableArena {
        TableArena {
            next: start.next_multiple_of(align.max(1)),
            end,
            align: align.max(1),
            freed: Vec::new(),
        }
    }

    /// Whether `addr` lies in memory this arena has handed out.
    pub fn owns(&self, start: u64, addr: u64) -> bool {
        (start..self.next).contains(&addr)
    }
}

impl TableAllocator for TableArena {
    fn alloc_table(&mut self, bytes: u64) -> Option<u64> {
        if let Some(pos) = self.freed.iter().position(|&(_, b)| b == bytes) {
            return Some(self.freed.swap_remove(pos).0);
        }
        let addr = self.next.next_multiple_of(self.align);
        let end = addr.checked_add(bytes)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        Some(addr)
    }

    fn free_table(&mut self, addr: u64, bytes: u64) {
        self.freed.push((addr, bytes));
    }
}

/// One leaf mapping as the tables hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// First virtual address of the page.
    pub vaddr: u64,
    /// Physical address of the frame.
    pub frame: u64,
    /// Page size as a shift.
    pub page_shift: u8,
    /// Level of the leaf entry (0 is the root).
    pub level: usize,
    /// Rights granted by the leaf.
    pub perms: Perms,
    /// Global flag.
    pub global: bool,
    /// Accessed flag.
    pub accessed: bool,
    /// Dirty flag.
    pub dirty: bool,
    /// Physical address of the leaf entry.
    pub pte_addr: u64,
    /// Raw value of the leaf entry.
    pub raw: u64,
}

/// What [`PageTable::map`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapped {
    /// Physical address of the new leaf entry.
    pub pte_addr: u64,
    /// The leaf of the same size that was there before, if any.
    pub replaced: Option<Mapping>,
}

/// Why an edit could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The virtual address is not canonical.
    NonCanonical(u64),
    /// The scheme has no pages of this size.
    UnsupportedPageSize(u8),
    /// An address is not aligned to the page size.
    Misaligned {
        /// "virtual address" or "frame".
        what: &'static str,
        /// The address.
        addr: u64,
        /// The page size as a shift.
        page_shift: u8,
    },
    /// The frame lies beyond the scheme's physical address width.
    FrameTooWide(u64),
    /// A huge page already maps the range where a table is needed.
    HugePageInTheWay {
        /// Level of the huge leaf.
        level: usize,
        /// Its first virtual address.
        vaddr: u64,
    },
    /// A table of smaller pages occupies the slot a huge page needs.
    TableInTheWay {
        /// Level of the table entry.
        level: usize,
    },
    /// The allocator has no frame left for a table.
    OutOfTableMemory,
    /// The scheme's entry format cannot express these rights.
    Unencodable(UnencodablePerms),
    /// No page maps this address.
    NotMapped(u64),
    /// A table lies outside physical memory.
    Memory(PhysMemError),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NonCanonical(va) => write!(f, "virtual address {va:#x} is not canonical"),
            MapError::UnsupportedPageSize(shift) => {
                write!(f, "the scheme has no {} pages", format_page_size(*shift))
            }
            MapError::Misaligned {
                what,
                addr,
                page_shift,
            } => write!(
                f,
                "{what} {addr:#x} is not aligned to the {} page size",
                format_page_size(*page_shift)
            ),
            MapError::FrameTooWide(pa) => {
                write!(f, "frame {pa:#x} is beyond the physical address width")
            }
            MapError::HugePageInTheWay { level, vaddr } => {
                write!(f, "a huge page at level {level} already maps {vaddr:#x}")
            }
            MapError::TableInTheWay { level } => write!(
                f,
                "a table of smaller pages already occupies the level-{level} entry"
            ),
            MapError::OutOfTableMemory => f.write_str("no memory left for a page table"),
            MapError::Unencodable(why) => write!(f, "cannot express these rights: {why}"),
            MapError::NotMapped(va) => write!(f, "no page maps {va:#x}"),
            MapError::Memory(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MapError {}

impl From<PhysMemError> for MapError {
    fn from(e: PhysMemError) -> MapError {
        MapError::Memory(e)
    }
}

/// "4 KiB", "2 MiB", "1 GiB" for a page shift.
pub fn format_page_size(shift: u8) -> String {
    let bytes = 1u128 << shift;
    for (unit, s) in [
        ("PiB", 50),
        ("TiB", 40),
        ("GiB", 30),
        ("MiB", 20),
        ("KiB", 10),
    ] {
        if shift >= s {
            return format!("{} {unit}", bytes >> s);
        }
    }
    format!("{bytes} B")
}

/// The entries on the path to a virtual address: for each level visited,
/// the table's address and the entry's address and raw value.
struct Path {
    tables: [u64; MAX_LEVELS],
    pte_addrs: [u64; MAX_LEVELS],
    raws: [u64; MAX_LEVELS],
    /// Levels visited; the last one holds a leaf, an invalid entry, or the
    /// table entry at the level asked for.
    depth: usize,
    /// Kind of the last entry visited.
    kind: PteKind,
}

impl Path {
    /// Follows `vaddr` from the root table at `root` down to `stop_level`
    /// at most, or to the first leaf or invalid entry.
    fn follow(
        root: u64,
        arch: &Arch,
        mem: &PhysMem,
        vaddr: u64,
        stop_level: usize,
    ) -> Result<Path, MapError> {
        let format = arch.pte();
        let bytes = usize::from(format.bytes);
        let last = arch.levels().len() - 1;
        let mut path = Path {
            tables: [0; MAX_LEVELS],
            pte_addrs: [0; MAX_LEVELS],
            raws: [0; MAX_LEVELS],
            depth: 0,
            kind: PteKind::Invalid,
        };
        let mut table = root;
        for (i, level) in arch.levels().iter().enumerate() {
            let pte_addr = table + arch.index(vaddr, i) * bytes as u64;
            let raw = mem.load(pte_addr, bytes)?;
            // Only the kind and the next table's address matter here; a
            // full decode of rights and flags would be wasted work.
            let kind = format.kind(raw, level.leaf, i == last);
            path.tables[i] = table;
            path.pte_addrs[i] = pte_addr;
            path.raws[i] = raw;
            path.depth = i + 1;
            path.kind = kind;
            if kind != PteKind::Table || i == stop_level {
                break;
            }
            table = format.frame_addr(raw, arch.page_shift());
        }
        Ok(path)
    }
}

/// The last-level table on `vaddr`'s path under the root table at `root`,
/// changing nothing: the table a walk of `vaddr` reads its leaf entry from.
/// `None` where a table on the way is missing or an entry above the last
/// level ends the path (a huge page). Reads only the entries above the
/// leaf: for look-ahead (see
/// [`Mmu::prefetch_translation`](crate::Mmu::prefetch_translation)), which
/// prefetches the leaf entry rather than waiting for it.
pub fn leaf_table(arch: &Arch, mem: &PhysMem, root: u64, vaddr: u64) -> Option<u64> {
    let last = arch.levels().len() - 1;
    let Some(above) = last.checked_sub(1) else {
        return Some(root);
    };
    let path = Path::follow(root, arch, mem, vaddr, above).ok()?;
    (path.depth == last && path.kind == PteKind::Table)
        .then(|| arch.pte().frame_addr(path.raws[above], arch.page_shift()))
}

/// Slots of [`LeafTables`] at most: a million pages of 4 KiB need 2 048
/// last-level tables, so a trace over them finds nearly every one
/// remembered.
const LEAF_TABLE_SLOTS: usize = 2048;

/// Slots of [`LeafTables`] once it remembers a table: it grows from here
/// with the tree (see [`LeafTables::remember`]).
const MIN_LEAF_TABLE_SLOTS: usize = 16;

/// The last-level tables a [`PageTable`] reached lately, by region (the
/// span one last-level table maps), in a direct-mapped memo. Unlike
/// look-ahead's memo, which only steers prefetches, this one is trusted
/// instead of a walk, so it is kept exact: a slot names only a table linked
/// into the tree now. Tables are linked only by [`PageTable::map`], which
/// remembers them, and unlinked only by [`PageTable::unmap`], which forgets
/// the region of any table it frees (a table above the last level is freed
/// only once the last-level tables under it are, or holds a huge leaf and
/// none).
#[derive(Clone, Debug)]
struct LeafTables {
    /// Per slot: the region (`vaddr >> shift`, plus one so 0 marks an
    /// empty slot) and its table. A power of two long, or empty until the
    /// first table is remembered: many page tables (a zombie's, one
    /// replaced by exec) never map a page.
    slots: Vec<(u64, u64)>,
    /// Lowest address bit the last level does not index.
    shift: u32,
}

impl LeafTables {
    fn new(arch: &Arch) -> LeafTables {
        LeafTables {
            slots: Vec::new(),
            // A single-level scheme spanning all 64 bits keeps its one
            // table in two regions, which is still exact.
            shift: arch.leaf_table_shift(),
        }
    }

    /// The region tag and slot of `vaddr`.
    #[inline]
    fn place(&self, vaddr: u64) -> (u64, usize) {
        let region = (vaddr >> self.shift) + 1;
        // Regions are consecutive in a program's address space: the low
        // bits spread them over the slots. With no slots the mask is all
        // ones and the slot is out of range: nothing is remembered.
        (region, region as usize & self.slots.len().wrapping_sub(1))
    }

    /// The last-level table mapping `vaddr`, if remembered.
    #[inline]
    fn get(&self, vaddr: u64) -> Option<u64> {
        let (region, slot) = self.place(vaddr);
        match self.slots.get(slot) {
            Some(&(tag, table)) if tag == region => Some(table),
            _ => None,
        }
    }

    /// Remembers `table` as the last-level table of `vaddr`'s region, in
    /// a tree of `tables` tables.
    fn remember(&mut self, vaddr: u64, table: u64, tables: u64) {
        // About a slot per table of the tree, up to the most: a process
        // with a few pages (a script may run thousands) keeps a few hundred
        // bytes here, not the 32 KiB a million-page trace's tree wants.
        // Growing drops what was remembered; the next walks find it again.
        let wanted = usize::try_from(tables)
            .map_or(LEAF_TABLE_SLOTS, |n| n.min(LEAF_TABLE_SLOTS))
            .next_power_of_two()
            .max(MIN_LEAF_TABLE_SLOTS);
        if self.slots.len() < wanted {
            self.slots = vec![(0, 0); wanted];
        }
        let (region, slot) = self.place(vaddr);
        self.slots[slot] = (region, table);
    }

    fn forget(&mut self, vaddr: u64) {
        let (region, slot) = self.place(vaddr);
        if let Some(entry) = self.slots.get_mut(slot).filter(|e| e.0 == region) {
            *entry = (0, 0);
        }
    }
}

/// One address space's page tables.
#[derive(Clone, Debug)]
pub struct PageTable {
    root: u64,
    table_bytes: u64,
    tables: u64,
    leaf_tables: LeafTables,
}

impl PageTable {
    /// A new, empty root table.
    pub fn new(
        arch: &Arch,
        mem: &mut PhysMem,
        alloc: &mut dyn TableAllocator,
    ) -> Result<PageTable, MapError> {
        let mut pt = PageTable {
            root: 0,
            table_bytes: 0,
            tables: 0,
            leaf_tables: LeafTables::new(arch),
        };
        pt.root = pt.new_table(arch, mem, alloc, 0)?;
        Ok(pt)
    }

    /// Physical address of the root table (what CR3, satp or TTBR0 holds).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Bytes of physical memory spent on tables, root included.
    pub fn table_bytes(&self) -> u64 {
        self.table_bytes
    }

    /// Number of tables, root included.
    pub fn tables(&self) -> u64 {
        self.tables
    }

    fn new_table(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        alloc: &mut dyn TableAllocator,
        level: usize,
    ) -> Result<u64, MapError> {
        let bytes = arch.table_alloc_bytes(level);
        let addr = alloc.alloc_table(bytes).ok_or(MapError::OutOfTableMemory)?;
        if let Err(e) = mem.zero(addr, bytes) {
            alloc.free_table(addr, bytes);
            return Err(e.into());
        }
        self.table_bytes += bytes;
        self.tables += 1;
        Ok(addr)
    }

    /// Follows `vaddr` down to `stop_level` at most, or to the first leaf or
    /// invalid entry.
    fn path(
        &self,
        arch: &Arch,
        mem: &PhysMem,
        vaddr: u64,
        stop_level: usize,
    ) -> Result<Path, MapError> {
        Path::follow(self.root, arch, mem, vaddr, stop_level)
    }

    fn mapping_at(arch: &Arch, vaddr: u64, level: usize, pte_addr: u64, raw: u64) -> Mapping {
        let l = &arch.levels()[level];
        let last = level == arch.levels().len() - 1;
        let d = arch
            .pte()
            .decode(raw, arch.page_shift(), l.leaf, last, 0, 0);
        let shift = arch.level_shift(level);
        let mask = (1u64 << shift) - 1;
        Mapping {
            vaddr: vaddr & !mask,
            frame: d.addr & !mask,
            page_shift: shift,
            level,
            perms: d.perms,
            global: d.global,
            accessed: d.accessed,
            dirty: d.dirty,
            pte_addr,
            raw,
        }
    }

    /// Maps the `1 << page_shift`-byte page at `vaddr` to `frame`, creating
    /// tables on the way. Replaces a leaf of the same size already there
    /// (returned in [`Mapped::replaced`]; the caller invalidates any TLB
    /// entry for it). The new entry's address comes back too, so a kernel
    /// can keep it in its reverse map and edit the entry without a walk.
    /// A base page whose last-level table is remembered ([`LeafTables`])
    /// is mapped without reading the entries above its leaf.
    #[allow(clippy::too_many_arguments)]
    pub fn map(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        alloc: &mut dyn TableAllocator,
        vaddr: u64,
        frame: u64,
        page_shift: u8,
        attrs: LeafAttrs,
    ) -> Result<Mapped, MapError> {
        if !arch.is_canonical(vaddr) {
            return Err(MapError::NonCanonical(vaddr));
        }
        let target = arch
            .level_for_page_shift(page_shift)
            .ok_or(MapError::UnsupportedPageSize(page_shift))?;
        let mask = (1u64 << page_shift) - 1;
        for (what, addr) in [("virtual address", vaddr), ("frame", frame)] {
            if addr & mask != 0 {
                return Err(MapError::Misaligned {
                    what,
                    addr,
                    page_shift,
                });
            }
        }
        if !arch.fits_physical(frame | mask) {
            return Err(MapError::FrameTooWide(frame));
        }
        let last = arch.levels().len() - 1;
        let format = arch.pte();
        let leaf = format
            .encode_leaf(frame, arch.page_shift(), target == last, &attrs)
            .map_err(MapError::Unencodable)?;
        let bytes = usize::from(format.bytes);
        let remembered = self.leaf_tables.get(vaddr).filter(|_| target == last);
        let table = match remembered {
            Some(table) => {
                debug_assert_eq!(
                    leaf_table(arch, mem, self.root, vaddr),
                    Some(table),
                    "the remembered last-level table for {vaddr:#x} is the one a walk finds"
                );
                table
            }
            None => {
                let table = self.descend(arch, mem, alloc, vaddr, target)?;
                if target == last {
                    self.leaf_tables.remember(vaddr, table, self.tables);
                }
                table
            }
        };
        let pte_addr = table + arch.index(vaddr, target) * bytes as u64;
        let raw = mem.load(pte_addr, bytes)?;
        let level = &arch.levels()[target];
        let replaced = match format.kind(raw, level.leaf, target == last) {
            PteKind::Table => return Err(MapError::TableInTheWay { level: target }),
            PteKind::Leaf => Some(Self::mapping_at(arch, vaddr, target, pte_addr, raw)),
            PteKind::Invalid => None,
        };
        mem.store(pte_addr, bytes, leaf)?;
        Ok(Mapped { pte_addr, replaced })
    }

    /// The table at level `target` on `vaddr`'s path, following the
    /// entries from the root and creating the tables missing on the way.
    fn descend(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        alloc: &mut dyn TableAllocator,
        vaddr: u64,
        target: usize,
    ) -> Result<u64, MapError> {
        let format = arch.pte();
        let bytes = usize::from(format.bytes);
        let mut table = self.root;
        for i in 0..target {
            let level = &arch.levels()[i];
            let pte_addr = table + arch.index(vaddr, i) * bytes as u64;
            let raw = mem.load(pte_addr, bytes)?;
            table = match format.kind(raw, level.leaf, false) {
                PteKind::Table => format.frame_addr(raw, arch.page_shift()),
                PteKind::Leaf => {
                    return Err(MapError::HugePageInTheWay {
                        level: i,
                        vaddr: vaddr & !((1u64 << arch.level_shift(i)) - 1),
                    })
                }
                PteKind::Invalid => {
                    let next = self.new_table(arch, mem, alloc, i + 1)?;
                    let entry = format.encode_table(next, arch.page_shift(), level.table_restricts);
                    mem.store(pte_addr, bytes, entry)?;
                    next
                }
            };
        }
        Ok(table)
    }

    /// The leaf mapping `vaddr`, if any.
    pub fn query(
        &self,
        arch: &Arch,
        mem: &PhysMem,
        vaddr: u64,
    ) -> Result<Option<Mapping>, MapError> {
        if !arch.is_canonical(vaddr) {
            return Err(MapError::NonCanonical(vaddr));
        }
        let path = self.path(arch, mem, vaddr, MAX_LEVELS)?;
        let i = path.depth - 1;
        Ok((path.kind == PteKind::Leaf)
            .then(|| Self::mapping_at(arch, vaddr, i, path.pte_addrs[i], path.raws[i])))
    }

    /// How many tables mapping a base page at `vaddr` would have to create:
    /// what a kernel must have free before it maps.
    pub fn tables_needed(&self, arch: &Arch, mem: &PhysMem, vaddr: u64) -> Result<usize, MapError> {
        let last = arch.levels().len() - 1;
        let path = self.path(arch, mem, vaddr, last)?;
        Ok(match path.kind {
            PteKind::Invalid => last + 1 - path.depth,
            _ => 0,
        })
    }

    /// Removes the page mapping `vaddr` (of whatever size) and gives back
    /// every table the removal leaves empty. Returns what was mapped.
    pub fn unmap(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        alloc: &mut dyn TableAllocator,
        vaddr: u64,
    ) -> Result<Option<Mapping>, MapError> {
        if !arch.is_canonical(vaddr) {
            return Err(MapError::NonCanonical(vaddr));
        }
        let path = self.path(arch, mem, vaddr, MAX_LEVELS)?;
        let leaf_level = path.depth - 1;
        if path.kind != PteKind::Leaf {
            return Ok(None);
        }
        let bytes = usize::from(arch.pte().bytes);
        let old = Self::mapping_at(
            arch,
            vaddr,
            leaf_level,
            path.pte_addrs[leaf_level],
            path.raws[leaf_level],
        );
        mem.store(path.pte_addrs[leaf_level], bytes, 0)?;
        // Walk back up: a table now all zeros is freed and its entry cleared.
        for level in (1..=leaf_level).rev() {
            let table = path.tables[level];
            if !Self::table_is_empty(arch, mem, table, level)? {
                break;
            }
            let table_bytes = arch.table_alloc_bytes(level);
            mem.store(path.pte_addrs[level - 1], bytes, 0)?;
            self.leaf_tables.forget(vaddr);
            alloc.free_table(table, table_bytes);
            self.table_bytes -= table_bytes;
            self.tables -= 1;
        }
        Ok(Some(old))
    }

    /// Clears the leaf mapping `vaddr` but keeps the tables above it, as a
    /// kernel does when it swaps a page out and expects it back. Returns
    /// what was mapped.
    pub fn clear_leaf(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        vaddr: u64,
    ) -> Result<Option<Mapping>, MapError> {
        let Some(old) = self.query(arch, mem, vaddr)? else {
            return Ok(None);
        };
        mem.store(old.pte_addr, usize::from(arch.pte().bytes), 0)?;
        Ok(Some(old))
    }

    fn table_is_empty(
        arch: &Arch,
        mem: &PhysMem,
        table: u64,
        level: usize,
    ) -> Result<bool, MapError> {
        let len = arch.table_bytes(level);
        let mut at = table;
        while at < table + len {
            let width = (table + len - at).min(8) as usize;
            let width = [8, 4, 2, 1].into_iter().find(|w| *w <= width).unwrap_or(1);
            if mem.load(at, width)? != 0 {
                return Ok(false);
            }
            at += width as u64;
        }
        Ok(true)
    }

    /// Rewrites the leaf mapping `vaddr` with `perms`, keeping its frame and
    /// flags. Returns the mapping as it was.
    pub fn protect(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        vaddr: u64,
        perms: Perms,
    ) -> Result<Mapping, MapError> {
        self.rewrite_leaf(arch, mem, vaddr, |attrs| attrs.perms = perms)
    }

    /// Sets or clears the accessed and dirty flags of the leaf mapping
    /// `vaddr` (what a replacement policy does when it samples and clears
    /// the reference bit). Returns the mapping as it was.
    pub fn set_flags(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        vaddr: u64,
        accessed: Option<bool>,
        dirty: Option<bool>,
    ) -> Result<Mapping, MapError> {
        let format = arch.pte();
        let old = self
            .query(arch, mem, vaddr)?
            .ok_or(MapError::NotMapped(vaddr))?;
        let mut raw = old.raw;
        if let Some(a) = accessed {
            raw = format.with_accessed(raw, a);
        }
        if let Some(d) = dirty {
            raw = format.with_dirty(raw, d);
        }
        mem.store(old.pte_addr, usize::from(format.bytes), raw)?;
        Ok(old)
    }

    fn rewrite_leaf(
        &mut self,
        arch: &Arch,
        mem: &mut PhysMem,
        vaddr: u64,
        change: impl FnOnce(&mut LeafAttrs),
    ) -> Result<Mapping, MapError> {
        let old = self
            .query(arch, mem, vaddr)?
            .ok_or(MapError::NotMapped(vaddr))?;
        let mut attrs = LeafAttrs {
            perms: old.perms,
            global: old.global,
            accessed: old.accessed,
            dirty: old.dirty,
        };
        change(&mut attrs);
        let last = old.level == arch.levels().len() - 1;
        let raw = arch
            .pte()
            .encode_leaf(old.frame, arch.page_shift(), last, &attrs)
            .map_err(MapError::Unencodable)?;
        mem.store(old.pte_addr, usize::from(arch.pte().bytes), raw)?;
        Ok(old)
    }

    /// Every leaf mapping a page that starts in `start..end`, in address
    /// order, found by walking the tree and skipping empty subtrees (what
    /// fork, munmap and exit need instead of a query per page).
    pub fn mappings(
        &self,
        arch: &Arch,
        mem: &PhysMem,
        start: u64,
        end: u64,
    ) -> Result<Vec<Mapping>, MapError> {
        let mut out = Vec::new();
        self.collect(arch, mem, self.root, 0, 0, start, end, &mut out)?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        arch: &Arch,
        mem: &PhysMem,
        table: u64,
        level: usize,
        base: u64,
        start: u64,
        end: u64,
        out: &mut Vec<Mapping>,
    ) -> Result<(), MapError> {
        let plan = arch.plan(level);
        let span = 1u64 << plan.shift;
        let bytes = u64::from(arch.pte().bytes);
        for index in 0..=plan.index_mask {
            let vaddr = base | (index << plan.shift);
            // Entries wholly outside the range are skipped unread.
            if vaddr >= end || vaddr.saturating_add(span) <= start {
                continue;
            }
            let pte_addr = table + index * bytes;
            let raw = mem.load(pte_addr, bytes as usize)?;
            match arch.pte().kind(raw, plan.leaf, plan.last) {
                PteKind::Invalid => {}
                PteKind::Leaf => {
                    if vaddr >= start {
                        out.push(Self::mapping_at(arch, vaddr, level, pte_addr, raw));
                    }
                }
                PteKind::Table => {
                    let next = arch.pte().frame_addr(raw, arch.page_shift());
                    self.collect(arch, mem, next, level + 1, vaddr, start, end, out)?;
                }
            }
        }
        Ok(())
    }

    /// Frees every table, root included, leaving a page table that holds
    /// none: a zombie's, which keeps its old root only as a value (it never
    /// runs again) and counts no table bytes. Nothing may map into it.
    pub fn destroy(&mut self, arch: &Arch, mem: &mut PhysMem, alloc: &mut dyn TableAllocator) {
        Self::free_subtree(arch, mem, alloc, self.root, 0);
        self.tables = 0;
        self.table_bytes = 0;
        self.leaf_tables = LeafTables::new(arch);
    }

    fn free_subtree(
        arch: &Arch,
        mem: &PhysMem,
        alloc: &mut dyn TableAllocator,
        table: u64,
        level: usize,
    ) {
        let last = arch.levels().len() - 1;
        if level < last {
            let bytes = u64::from(arch.pte().bytes);
            let l = &arch.levels()[level];
            for i in 0..(1u64 << l.index_bits) {
                let Ok(raw) = mem.load(table + i * bytes, bytes as usize) else {
                    continue;
                };
                let d = arch
                    .pte()
                    .decode(raw, arch.page_shift(), l.leaf, false, 0, 0);
                if d.kind == PteKind::Table {
                    Self::free_subtree(arch, mem, alloc, d.addr, level + 1);
                }
            }
        }
        alloc.free_table(table, arch.table_alloc_bytes(level));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::presets::by_name;
    use crate::{Endian, TableArena};

    fn x86_64() -> (Arch, PhysMem, TableArena) {
        let arch = by_name("x86-64").unwrap().unwrap();
        let mem = PhysMem::new(1 << 30, Endian::Little).unwrap();
        let arena = TableArena::new(0, 64 << 20, arch.page_bytes());
        (arch, mem, arena)
    }

    fn map_page(
        pt: &mut PageTable,
        arch: &Arch,
        mem: &mut PhysMem,
        arena: &mut TableArena,
        va: u64,
        frame: u64,
    ) -> Mapped {
        let attrs = LeafAttrs::new(Perms::READ | Perms::USER);
        pt.map(arch, mem, arena, va, frame, 12, attrs).unwrap()
    }

    /// The entry a walk would find for `va`: its last-level table's, found
    /// from the root.
    fn walked_pte(arch: &Arch, mem: &PhysMem, pt: &PageTable, va: u64) -> u64 {
        leaf_table(arch, mem, pt.root(), va).unwrap() + ((va >> 12) & 511) * 8
    }

    /// A page mapped in a region whose table is remembered lands in the
    /// entry a walk finds, and the table is remembered once mapped.
    #[test]
    fn pages_map_through_the_remembered_table_into_the_walked_entry() {
        let (arch, mut mem, mut arena) = x86_64();
        let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
        assert_eq!(pt.leaf_tables.get(0x40_0000), None);
        let first = map_page(&mut pt, &arch, &mut mem, &mut arena, 0x40_0000, 0x1_0000);
        let table = leaf_table(&arch, &mem, pt.root(), 0x40_0000);
        assert_eq!(pt.leaf_tables.get(0x40_0000), table);
        assert_eq!(first.pte_addr, walked_pte(&arch, &mem, &pt, 0x40_0000));
        let tables = pt.tables();
        let second = map_page(&mut pt, &arch, &mut mem, &mut arena, 0x40_1000, 0x2_0000);
        assert_eq!(second.pte_addr, walked_pte(&arch, &mem, &pt, 0x40_1000));
        assert_eq!(second.pte_addr, first.pte_addr + 8);
        assert_eq!(
            pt.tables(),
            tables,
            "no table made for a page beside one mapped"
        );
        let m = pt.query(&arch, &mem, 0x40_1000).unwrap().unwrap();
        assert_eq!((m.frame, m.pte_addr), (0x2_0000, second.pte_addr));
        // Remapping replaces the leaf, through the same entry.
        let again = map_page(&mut pt, &arch, &mut mem, &mut arena, 0x40_1000, 0x3_0000);
        assert_eq!(again.pte_addr, second.pte_addr);
        assert_eq!(again.replaced.map(|m| m.frame), Some(0x2_0000));
    }

    /// An unmap that frees a region's table forgets it: the freed table
    /// goes to another region's path, and mapping in the first region again
    /// builds (and remembers) a table of its own instead of writing into
    /// the reused one.
    #[test]
    fn a_freed_table_is_forgotten_before_it_is_reused() {
        let (arch, mut mem, mut arena) = x86_64();
        let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
        let a = 0x40_0000;
        map_page(&mut pt, &arch, &mut mem, &mut arena, a, 0x1_0000);
        let old = pt.leaf_tables.get(a).unwrap();
        pt.unmap(&arch, &mut mem, &mut arena, a).unwrap().unwrap();
        assert_eq!(pt.tables(), 1, "every table but the root freed");
        assert_eq!(pt.leaf_tables.get(a), None);
        // Far away: new tables at every level, the freed ones reused.
        let b = 0x7f00_0000_0000;
        let mb = map_page(&mut pt, &arch, &mut mem, &mut arena, b, 0x2_0000);
        let reused = (1..4).any(|level| {
            let path = Path::follow(pt.root(), &arch, &mem, b, 3).unwrap();
            path.tables[level] == old
        });
        assert!(reused, "the arena handed the freed table out again");
        let ma = map_page(&mut pt, &arch, &mut mem, &mut arena, a, 0x3_0000);
        assert_eq!(ma.pte_addr, walked_pte(&arch, &mem, &pt, a));
        assert_ne!(pt.leaf_tables.get(a), Some(old));
        // Both pages translate as mapped, through their own entries.
        let qa = pt.query(&arch, &mem, a).unwrap().unwrap();
        let qb = pt.query(&arch, &mem, b).unwrap().unwrap();
        assert_eq!((qa.frame, qa.pte_addr), (0x3_0000, ma.pte_addr));
        assert_eq!((qb.frame, qb.pte_addr), (0x2_0000, mb.pte_addr));
    }

    /// The memo grows with the tree, from a few slots for a process with a
    /// few pages; what it drops on growing is found again, and every page
    /// still lands in the entry a walk finds.
    #[test]
    fn the_memo_grows_with_the_tree() {
        let (arch, mut mem, mut arena) = x86_64();
        let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
        map_page(&mut pt, &arch, &mut mem, &mut arena, 0x40_0000, 0x1000);
        assert_eq!(pt.leaf_tables.slots.len(), MIN_LEAF_TABLE_SLOTS);
        // A page in each of 100 regions: 100 last-level tables.
        let region = |i: u64| 0x40_0000 + (i << 21);
        for i in 0..100 {
            let mapped = map_page(
                &mut pt,
                &arch,
                &mut mem,
                &mut arena,
                region(i),
                (i + 2) << 12,
            );
            assert_eq!(mapped.pte_addr, walked_pte(&arch, &mem, &pt, region(i)));
        }
        assert_eq!(pt.leaf_tables.slots.len(), 128);
        for i in 0..100 {
            let va = region(i) + 0x1000;
            let mapped = map_page(&mut pt, &arch, &mut mem, &mut arena, va, (i + 200) << 12);
            assert_eq!(mapped.pte_addr, walked_pte(&arch, &mem, &pt, va));
            assert_eq!(
                pt.leaf_tables.get(va),
                leaf_table(&arch, &mem, pt.root(), va)
            );
        }
    }

    /// Two regions sharing a slot take it in turn; each mapping still lands
    /// in its own region's table.
    #[test]
    fn regions_sharing_a_slot_take_it_in_turn() {
        let (arch, mut mem, mut arena) = x86_64();
        let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
        let a = 0x40_0000;
        let b = a + ((LEAF_TABLE_SLOTS as u64) << 21);
        let turns = [(a, b), (b, a), (a + 0x1000, b), (b + 0x1000, a)];
        for (i, (va, other)) in turns.into_iter().enumerate() {
            let frame = (i as u64 + 1) << 12;
            let mapped = map_page(&mut pt, &arch, &mut mem, &mut arena, va, frame);
            assert_eq!(mapped.pte_addr, walked_pte(&arch, &mem, &pt, va), "{va:#x}");
            assert_eq!(
                pt.leaf_tables.get(va),
                leaf_table(&arch, &mem, pt.root(), va)
            );
            assert_eq!(pt.leaf_tables.get(other), None, "{other:#x} lost the slot");
        }
    }
}
