//! The paths walks took above the last level, remembered by region (the
//! span one last-level table maps) in [`UpperPaths`], a direct-mapped memo
//! that serves the walk and look-ahead translation.
//!
//! On a workload over many pages a walk's upper entries are the same few
//! every time, valid and already marked accessed: reading them again
//! changes nothing. A slot keeps the last-level table such a path reached
//! and what its entries folded, for the [epoch](PhysMem::epoch) in which
//! the walk [guarded](PhysMem::guard) them, and a walk starts at that
//! table while the epoch lasts (see
//! [`walk_remembering`](crate::walk::walk_remembering)). So the memo stays
//! exact whoever changes memory, and however: no editor need remember to
//! forget a path, since any write near a guarded entry ends the epoch.
//! Debug builds check every answer against a walk of the upper levels.
//!
//! Look-ahead (a trace read in chunks) prefetches the leaf entry a walk
//! will read some accesses later: on a workload with no locality it is the
//! walk's one likely host cache miss, as the last-level tables of a million
//! pages fill megabytes. A prefetch trusts any slot of the region, of any
//! epoch, and finds a table with a search of its own where none is
//! remembered: a stale table's line only wastes the hint. A slot keeps
//! where its table's bytes lie in host memory too ([`ChunkPlace`]), so a
//! prefetch waits for no chunk look-up (on such a workload the chunk
//! table's entry is itself a likely miss), and hints that entry for the
//! walk's own look-up.

use crate::arch::pte::EntryBits;
use crate::arch::Arch;
use crate::pagetable::leaf_table;
use crate::physmem::{ChunkPlace, PhysMem};
use crate::walk::{upper_path, TablePath};

/// Regions remembered: a million pages of 4 KiB need 2 048 last-level
/// tables, so a Zipf trace over them finds nearly every one here.
const SLOTS: usize = 2048;

/// One remembered path: the root and region it was found for.
#[derive(Clone, Copy, Debug)]
struct Slot {
    root: u64,
    /// `vaddr >> region_shift`, plus one so 0 marks an empty slot.
    region: u64,
    /// The epoch in which the walk guarded the path, or 0 (no epoch) for
    /// a table only look-ahead found.
    epoch: u64,
    /// The last-level table, and the fold of the entries above it.
    path: TablePath,
    /// Where the table's bytes lie in host memory: a prefetch through it
    /// waits for no look-up of its own.
    place: ChunkPlace,
}

/// A slot that matches no region.
const EMPTY: Slot = Slot {
    root: 0,
    region: 0,
    epoch: 0,
    path: TablePath {
        table: 0,
        tables_all: u64::MAX,
        tables_any: 0,
    },
    place: ChunkPlace::NOWHERE,
};

/// The paths walks took above the last level lately, and the tables
/// look-ahead found.
#[derive(Clone, Debug)]
pub(crate) struct UpperPaths {
    slots: Vec<Slot>,
    /// Lowest address bit the last level does not index: one last-level
    /// table maps `1 << region_shift` bytes, and the entries above it are
    /// chosen by the bits from here up.
    region_shift: u32,
    /// The last level's index: `(vaddr >> leaf_shift) & index_mask`.
    leaf_shift: u32,
    index_mask: u64,
    entry_bytes: u64,
}

impl UpperPaths {
    /// An empty memo for `arch`'s tables.
    pub(crate) fn new(arch: &Arch) -> UpperPaths {
        let last = arch.plans().last();
        let leaf_shift = last.map_or(0, |p| u32::from(p.shift));
        let index_mask = last.map_or(0, |p| p.index_mask);
        UpperPaths {
            slots: vec![EMPTY; SLOTS],
            region_shift: arch.leaf_table_shift(),
            leaf_shift,
            index_mask,
            entry_bytes: u64::from(arch.pte().bytes),
        }
    }

    /// The region tag of `vaddr` and the slot it lives in.
    #[inline(always)]
    fn place(&self, vaddr: u64) -> (u64, usize) {
        let region = (vaddr >> self.region_shift).wrapping_add(1);
        // Regions are consecutive in a program's address space: the low
        // bits spread them over the slots.
        (region, (region as usize) % SLOTS)
    }

    /// The path a walk of `vaddr` under `root` takes above the last level,
    /// when it would change nothing there (see [`upper_path`]): from the
    /// memo while the epoch it was recorded in lasts, otherwise walked and
    /// remembered. `None` when the walk must start at the root.
    #[inline]
    pub(crate) fn find<const W: usize, B: EntryBits>(
        &mut self,
        bits: &B,
        arch: &Arch,
        mem: &mut PhysMem,
        root: u64,
        vaddr: u64,
    ) -> Option<TablePath> {
        let (region, at) = self.place(vaddr);
        let slot = &mut self.slots[at];
        if slot.region == region && slot.root == root && slot.epoch == mem.epoch() {
            debug_assert_eq!(
                upper_path::<W, B>(bits, arch, mem, root, vaddr),
                Some(slot.path),
                "remembered path of {vaddr:#x} under {root:#x}"
            );
            return Some(slot.path);
        }
        let path = upper_path::<W, B>(bits, arch, mem, root, vaddr)?;
        *slot = Slot {
            root,
            region,
            epoch: mem.epoch(),
            path,
            place: mem.locate(path.table).unwrap_or(ChunkPlace::NOWHERE),
        };
        Some(path)
    }

    /// Hints the host cache to load the leaf entry of `vaddr` in the tables
    /// under `root`, where the tables down to it exist. Changes nothing the
    /// machine can observe.
    #[inline]
    pub(crate) fn prefetch(&mut self, arch: &Arch, mem: &PhysMem, root: u64, vaddr: u64) {
        let (region, at) = self.place(vaddr);
        let slot = &mut self.slots[at];
        if slot.region != region || slot.root != root {
            let Some(table) = leaf_table(arch, mem, root, vaddr) else {
                return;
            };
            let Some(place) = mem.locate(table) else {
                return;
            };
            *slot = Slot {
                root,
                region,
                epoch: 0,
                path: TablePath {
                    table,
                    ..EMPTY.path
                },
                place,
            };
        }
        let index = (vaddr >> self.leaf_shift) & self.index_mask;
        mem.prefetch_in(slot.place, slot.path.table + index * self.entry_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::presets::by_name;
    use crate::arch::pte::LeafAttrs;
    use crate::{AccessKind, Endian, Mode, PageTable, Perms, TableArena};

    /// The memo finds the same table a fresh search does, for pages in
    /// one region and in regions that share a slot.
    #[test]
    fn remembered_tables_are_the_tables_a_walk_reads() {
        let arch = by_name("x86-64").unwrap().unwrap();
        let mut mem = PhysMem::new(1 << 30, Endian::Little).unwrap();
        let mut alloc = TableArena::new(0, 64 << 20, arch.page_bytes());
        let mut pt = PageTable::new(&arch, &mut mem, &mut alloc).unwrap();
        let region = 1u64 << 21;
        let pages = [0x40_0000, 0x40_1000, 0x40_0000 + SLOTS as u64 * region];
        let mut la = UpperPaths::new(&arch);
        assert_eq!(la.region_shift, 21);
        for (i, &va) in pages.iter().enumerate() {
            let frame = (i as u64 + 1) << 12;
            let attrs = LeafAttrs::new(Perms::READ | Perms::USER);
            let mapped = pt
                .map(&arch, &mut mem, &mut alloc, va, frame, 12, attrs)
                .unwrap();
            la.prefetch(&arch, &mem, pt.root(), va);
            let slot = la.slots[((va >> 21) as usize + 1) % SLOTS];
            let leaf = slot.path.table + ((va >> 12) & 511) * 8;
            assert_eq!(leaf, mapped.pte_addr, "{va:#x}");
        }
    }

    /// Whether `paths` holds a path for `va` under `root` that a walk
    /// would trust now.
    fn trusted(paths: &UpperPaths, mem: &PhysMem, root: u64, va: u64) -> bool {
        let (region, at) = paths.place(va);
        let slot = &paths.slots[at];
        slot.region == region && slot.root == root && slot.epoch == mem.epoch()
    }

    /// A walk remembers the path above the leaf only when it leaves every
    /// entry there as it is, and only until something writes near one:
    /// with the PDPT entry's accessed flag cleared behind the memo's back,
    /// the next walk goes from the root and sets it again, and the walk
    /// after remembers the path anew. A table look-ahead found is not
    /// trusted by a walk.
    #[test]
    fn a_walk_remembers_only_what_it_leaves_unchanged() {
        let arch = by_name("x86-64").unwrap().unwrap();
        let mut mem = PhysMem::new(1 << 30, Endian::Little).unwrap();
        let mut alloc = TableArena::new(0, 64 << 20, arch.page_bytes());
        let mut pt = PageTable::new(&arch, &mut mem, &mut alloc).unwrap();
        let attrs = LeafAttrs::new(Perms::READ | Perms::USER);
        let va = 0x40_0000;
        pt.map(&arch, &mut mem, &mut alloc, va, 0x9000, 12, attrs)
            .unwrap();
        let root = pt.root();
        let mut paths = UpperPaths::new(&arch);
        paths.prefetch(&arch, &mem, root, va);
        assert!(!trusted(&paths, &mem, root, va), "found by look-ahead");
        let walk = |paths: &mut UpperPaths, mem: &mut PhysMem| {
            let (kind, mode) = (AccessKind::Read, Mode::User);
            crate::walk::walk_remembering(&arch, mem, paths, root, va, kind, mode).unwrap()
        };
        // Every walk agrees; the first may set the tables' flags.
        let t = walk(&mut paths, &mut mem);
        assert_eq!(walk(&mut paths, &mut mem), t);
        assert!(trusted(&paths, &mem, root, va));
        let pml4e = mem.load(root + arch.index(va, 0) * 8, 8).unwrap();
        let pdpte = arch.pte().frame_addr(pml4e, 12) + arch.index(va, 1) * 8;
        let accessed = 1 << 5;
        let raw = mem.load(pdpte, 8).unwrap();
        assert_ne!(raw & accessed, 0);
        mem.store(pdpte, 8, raw & !accessed).unwrap();
        assert!(!trusted(&paths, &mem, root, va), "a write to the PDPT");
        assert_eq!(walk(&mut paths, &mut mem), t);
        assert_eq!(mem.load(pdpte, 8).unwrap(), raw, "the walk set A again");
        assert!(!trusted(&paths, &mem, root, va), "its own flag write");
        assert_eq!(walk(&mut paths, &mut mem), t);
        assert!(trusted(&paths, &mem, root, va));
    }
}
