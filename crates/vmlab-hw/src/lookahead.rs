//! Look-ahead translation for a caller that knows its accesses in advance
//! (a trace read in chunks): [`Lookahead`] finds where a walk of an address
//! will read its leaf entry and prefetches that entry's host cache line,
//! some accesses before the walk.
//!
//! On a workload with no locality the leaf entry is the walk's one likely
//! host cache miss: the few tables above it are read by every walk and stay
//! cached, but the last-level tables of a million pages fill megabytes.
//! Finding the entry means reading the levels above, so the tables found
//! are remembered by region (the span one last-level table maps) in a
//! direct-mapped memo, and finding one again costs a probe, not a walk of
//! the upper levels. A slot keeps where its table's bytes lie in host
//! memory too ([`ChunkPlace`]), so a prefetch waits for no chunk look-up
//! (on such a workload the chunk table's entry is itself a likely miss),
//! and hints that entry for the walk's own look-up.
//!
//! The memo is never invalidated, and need not be: nothing but a prefetch
//! reads it, and a prefetch of a stale table's line (a table since freed,
//! or a region remapped) only wastes the hint. The walk itself always reads
//! the tables.

use crate::arch::Arch;
use crate::pagetable::leaf_table;
use crate::physmem::{ChunkPlace, PhysMem};

/// Regions remembered: a million pages of 4 KiB need 2 048 last-level
/// tables, so a Zipf trace over them finds nearly every one here.
const SLOTS: usize = 2048;

/// One remembered leaf table: the root and region it was found for.
#[derive(Clone, Copy, Debug)]
struct Slot {
    root: u64,
    /// `vaddr >> region_shift`, plus one so 0 marks an empty slot.
    region: u64,
    table: u64,
    /// Where the table's bytes lie in host memory: a prefetch through it
    /// waits for no look-up of its own.
    place: ChunkPlace,
}

const EMPTY: Slot = Slot {
    root: 0,
    region: 0,
    table: 0,
    place: ChunkPlace::NOWHERE,
};

/// The last-level tables found lately, for prefetching leaf entries.
#[derive(Clone, Debug)]
pub struct Lookahead {
    slots: Vec<Slot>,
    /// Lowest address bit the last level does not index: one last-level
    /// table maps `1 << region_shift` bytes.
    region_shift: u32,
    /// The last level's index: `(vaddr >> leaf_shift) & index_mask`.
    leaf_shift: u32,
    index_mask: u64,
    entry_bytes: u64,
}

impl Lookahead {
    /// An empty memo for `arch`'s tables.
    pub fn new(arch: &Arch) -> Lookahead {
        let last = arch.plans().last();
        let leaf_shift = last.map_or(0, |p| u32::from(p.shift));
        let index_mask = last.map_or(0, |p| p.index_mask);
        Lookahead {
            slots: vec![EMPTY; SLOTS],
            region_shift: arch.leaf_table_shift(),
            leaf_shift,
            index_mask,
            entry_bytes: u64::from(arch.pte().bytes),
        }
    }

    /// Hints the host cache to load the leaf entry of `vaddr` in the tables
    /// under `root`, where the tables down to it exist. Changes nothing the
    /// machine can observe.
    #[inline]
    pub fn prefetch(&mut self, arch: &Arch, mem: &PhysMem, root: u64, vaddr: u64) {
        let region = (vaddr >> self.region_shift).wrapping_add(1);
        // Regions are consecutive in a program's address space: the low
        // bits spread them over the slots.
        let slot = &mut self.slots[(region as usize) % SLOTS];
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
                table,
                place,
            };
        }
        let index = (vaddr >> self.leaf_shift) & self.index_mask;
        mem.prefetch_in(slot.place, slot.table + index * self.entry_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::presets::by_name;
    use crate::arch::pte::LeafAttrs;
    use crate::{Endian, PageTable, Perms, TableArena};

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
        let mut la = Lookahead::new(&arch);
        assert_eq!(la.region_shift, 21);
        for (i, &va) in pages.iter().enumerate() {
            let frame = (i as u64 + 1) << 12;
            let attrs = LeafAttrs::new(Perms::READ | Perms::USER);
            let mapped = pt
                .map(&arch, &mut mem, &mut alloc, va, frame, 12, attrs)
                .unwrap();
            la.prefetch(&arch, &mem, pt.root(), va);
            let slot = la.slots[((va >> 21) as usize + 1) % SLOTS];
            let leaf = slot.table + ((va >> 12) & 511) * 8;
            assert_eq!(leaf, mapped.pte_addr, "{va:#x}");
        }
    }
}
