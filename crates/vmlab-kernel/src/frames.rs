//! The frame table: what every physical page frame is used for, how many
//! page-table entries map it, and who they are (the reverse map), so the
//! replacement policy's victim can be unmapped from every address space
//! that shares it. Free frames sit on a free list; frames that hold page
//! tables or the shared zero page are pinned and never offered to the
//! replacement policy.

use crate::policy::FrameId;
use serde::Serialize;

/// A process identifier.
pub type Pid = u32;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameUse {
    /// Nothing: on the free list.
    Free,
    /// The shared zero page every untouched anonymous page reads through.
    Zero,
    /// A page table (pinned).
    PageTable,
    /// An anonymous page of one or more processes (shared after fork).
    Anon,
    /// A page of a shared anonymous object: it belongs to the object and
    /// may be mapped by nobody while the object lives.
    Shmem,
    /// A page of the backing store a trace runs on: read in on a fault,
    /// dropped when clean, written back when dirty, contents not kept.
    Backed,
    /// A file page in the page cache: it belongs to the file and may be
    /// mapped by nobody while cached.
    PageCache,
    /// Part of the huge-page pool reserved at boot ([`crate::hugetlb`]):
    /// never on the free list, never replaced or swapped.
    HugePool,
}

impl FrameUse {
    /// Whether the frame holds user data the replacement policy manages.
    pub fn is_user(self) -> bool {
        matches!(
            self,
            FrameUse::Anon | FrameUse::Shmem | FrameUse::Backed | FrameUse::PageCache
        )
    }
}

/// One mapping of a frame: which process maps it at which virtual page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The process.
    pub pid: Pid,
    /// The virtual page number (virtual address >> page shift).
    pub vpn: u64,
}

/// Ends a reverse-map chain.
const NIL: u32 = u32::MAX;
/// Marks a frame's home slot that holds no mapping.
const VACANT: u32 = u32::MAX - 1;

#[derive(Clone, Copy, Debug)]
struct RmapEntry {
    owner: Owner,
    /// Physical address of the owner's leaf entry for the page. Its table
    /// cannot move or be freed while the entry maps the frame, so the
    /// fault path reads and edits the entry here without a walk.
    pte_addr: u64,
    /// The next (older) mapping's slot, [`NIL`] after the last, or
    /// [`VACANT`] in a home slot that holds none.
    next: u32,
    /// In a home slot, the number of page-table entries mapping the frame
    /// (the length of its chain), where unmapping finds it without another
    /// load; stale in chain slots.
    mapcount: u32,
}

const VACANT_ENTRY: RmapEntry = RmapEntry {
    owner: Owner { pid: 0, vpn: 0 },
    pte_addr: 0,
    next: VACANT,
    mapcount: 0,
};

/// Every frame of physical memory.
#[derive(Clone, Debug)]
pub struct FrameTable {
    /// What each frame holds. The frame table is kept field by field, not
    /// as one record per frame: every TLB hit on a user page asks this (to
    /// tell the policy), and at one byte a frame a hundred thousand
    /// frames' worth stays in the host's cache where records would not.
    uses: Vec<FrameUse>,
    /// Per frame: the page is newer than any copy on swap although no entry
    /// mapping it says so: a dirty entry was removed or write-protected
    /// (Linux's PG_dirty, set when a PTE's dirty bit is given up). A byte
    /// a frame for the same reason as `uses`: eviction asks it first.
    dirty: Vec<bool>,
    /// Per frame: the swap slot holding a copy of the page (the swap
    /// cache), if any.
    swap_slots: Vec<Option<u32>>,
    /// Free frames; popped from the end, so the lowest frames go first.
    free: Vec<FrameId>,
    rmap: Vec<RmapEntry>,
    rmap_free: u32,
}

impl FrameTable {
    /// `count` free frames.
    pub fn new(count: usize) -> FrameTable {
        FrameTable {
            uses: vec![FrameUse::Free; count],
            dirty: vec![false; count],
            swap_slots: vec![None; count],
            free: (0..count as FrameId).rev().collect(),
            rmap: vec![VACANT_ENTRY; count],
            rmap_free: NIL,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.uses.len()
    }

    /// Whether there are no frames at all.
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }

    /// Number of free frames.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// The free frames, the next to be taken last: a second engine that
    /// takes over a machine just built hands out the same frames in the
    /// same order.
    pub fn free_stack(&self) -> &[FrameId] {
        &self.free
    }

    /// What `frame` holds.
    pub fn used_for(&self, frame: FrameId) -> FrameUse {
        self.uses[frame as usize]
    }

    /// Takes a free frame for `used_for`, lowest first.
    pub fn alloc(&mut self, used_for: FrameUse) -> Option<FrameId> {
        let frame = self.free.pop()?;
        self.uses[frame as usize] = used_for;
        Some(frame)
    }

    /// Takes `count` contiguous free frames (a table larger than a page on
    /// a teaching machine); the lowest run that fits.
    pub fn alloc_contiguous(&mut self, count: usize, used_for: FrameUse) -> Option<FrameId> {
        if count == 1 {
            return self.alloc(used_for);
        }
        let mut run = 0;
        let mut start = None;
        for (i, &used) in self.uses.iter().enumerate() {
            if used == FrameUse::Free {
                run += 1;
                if run == count {
                    start = Some(i + 1 - count);
                    break;
                }
            } else {
                run = 0;
            }
        }
        let start = start? as FrameId;
        let end = start + count as FrameId;
        self.free.retain(|&f| !(start..end).contains(&f));
        self.uses[start as usize..end as usize].fill(used_for);
        Some(start)
    }

    /// Takes the `count` frames from `start` on out of the free list for
    /// `used_for` (the huge-page pool at boot); false, taking nothing, when
    /// one of them is not free.
    pub fn take_range(&mut self, start: FrameId, count: usize, used_for: FrameUse) -> bool {
        let range = start as usize..start as usize + count;
        if self
            .uses
            .get(range.clone())
            .is_none_or(|run| run.len() < count || run.iter().any(|&u| u != FrameUse::Free))
        {
            return false;
        }
        let end = start + count as FrameId;
        self.free.retain(|&f| !(start..end).contains(&f));
        self.uses[range].fill(used_for);
        true
    }

    /// Changes what an allocated `frame` is used for.
    pub fn set_use(&mut self, frame: FrameId, used_for: FrameUse) {
        self.uses[frame as usize] = used_for;
    }

    /// Returns `frame` to the free list. It must be unmapped.
    pub fn free(&mut self, frame: FrameId) {
        let used = &mut self.uses[frame as usize];
        debug_assert_ne!(*used, FrameUse::Free, "double free");
        *used = FrameUse::Free;
        let i = frame as usize;
        debug_assert_eq!(self.rmap[i].mapcount, 0, "freeing a mapped frame");
        self.swap_slots[i] = None;
        self.dirty[i] = false;
        self.rmap[i] = VACANT_ENTRY;
        self.free.push(frame);
    }

    /// Number of page-table entries mapping `frame`.
    pub fn mapcount(&self, frame: FrameId) -> u32 {
        self.rmap[frame as usize].mapcount
    }

    /// Records that `owner` maps `frame` through the leaf entry at
    /// `pte_addr`.
    pub fn add_owner(&mut self, frame: FrameId, owner: Owner, pte_addr: u64) {
        let home = frame as usize;
        let old = self.rmap[home];
        let next = match old.next {
            VACANT => NIL,
            // The home's mapping moves to a chain slot behind the new one.
            _ => self.chain_slot(old),
        };
        self.rmap[home] = RmapEntry {
            owner,
            pte_addr,
            next,
            mapcount: old.mapcount + 1,
        };
    }

    /// Stores `entry` in a free chain slot; returns the slot.
    fn chain_slot(&mut self, entry: RmapEntry) -> u32 {
        if self.rmap_free != NIL {
            let i = self.rmap_free;
            self.rmap_free = self.rmap[i as usize].next;
            self.rmap[i as usize] = entry;
            i
        } else {
            self.rmap.push(entry);
            (self.rmap.len() - 1) as u32
        }
    }

    /// Puts chain slot `slot` on the free chain.
    fn free_chain_slot(&mut self, slot: u32) {
        self.rmap[slot as usize].next = self.rmap_free;
        self.rmap_free = slot;
    }

    /// Forgets that `owner` maps `frame`; returns the mappings left.
    pub fn remove_owner(&mut self, frame: FrameId, owner: Owner) -> u32 {
        let home = frame as usize;
        let head = self.rmap[home];
        if head.next == VACANT {
            return head.mapcount;
        }
        let left = head.mapcount - 1;
        if head.owner == owner {
            // The next older mapping, if any, moves into the home slot.
            self.rmap[home] = match head.next {
                NIL => VACANT_ENTRY,
                next => {
                    let moved = self.rmap[next as usize];
                    self.free_chain_slot(next);
                    RmapEntry {
                        mapcount: left,
                        ..moved
                    }
                }
            };
        } else {
            let mut prev = home;
            let mut at = head.next;
            loop {
                if at == NIL {
                    return head.mapcount;
                }
                let next = self.rmap[at as usize].next;
                if self.rmap[at as usize].owner == owner {
                    self.rmap[prev].next = next;
                    self.free_chain_slot(at);
                    break;
                }
                prev = at as usize;
                at = next;
            }
        }
        self.rmap[home].mapcount = left;
        left
    }

    /// The mappings of `frame`, most recent first.
    pub fn owners(&self, frame: FrameId) -> impl Iterator<Item = Owner> + '_ {
        self.owner_entries(frame).map(|(owner, _)| owner)
    }

    /// The mappings of `frame` with the address of each one's leaf entry,
    /// most recent first.
    pub fn owner_entries(&self, frame: FrameId) -> OwnerEntries<'_> {
        let at = match self.rmap[frame as usize].next {
            VACANT => NIL,
            _ => frame,
        };
        OwnerEntries { table: self, at }
    }

    /// Hints the host cache to load `frame`'s first reverse-map entry.
    pub fn prefetch_owners(&self, frame: FrameId) {
        if let Some(entry) = self.rmap.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(entry);
        }
    }

    /// The first mapping of `frame` and its leaf entry's address.
    pub fn first_owner(&self, frame: FrameId) -> Option<(Owner, u64)> {
        self.owner_entries(frame).next()
    }

    /// Whether `frame` holds changes no entry's dirty flag records.
    pub fn dirty(&self, frame: FrameId) -> bool {
        self.dirty[frame as usize]
    }

    /// Records (or, once written back, clears) changes to `frame` that no
    /// entry's dirty flag records.
    pub fn set_dirty(&mut self, frame: FrameId, dirty: bool) {
        self.dirty[frame as usize] = dirty;
    }

    /// The swap slot caching a copy of `frame`, if any.
    pub fn swap_slot(&self, frame: FrameId) -> Option<u32> {
        self.swap_slots[frame as usize]
    }

    /// Sets (or clears) the swap slot caching a copy of `frame`.
    pub fn set_swap_slot(&mut self, frame: FrameId, slot: Option<u32>) {
        self.swap_slots[frame as usize] = slot;
    }
}

/// Iterator over a frame's mappings and their leaf entries' addresses.
pub struct OwnerEntries<'a> {
    table: &'a FrameTable,
    at: u32,
}

impl Iterator for OwnerEntries<'_> {
    type Item = (Owner, u64);
    fn next(&mut self) -> Option<(Owner, u64)> {
        if self.at == NIL {
            return None;
        }
        let e = self.table.rmap[self.at as usize];
        self.at = e.next;
        Some((e.owner, e.pte_addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_and_reverse_map() {
        let mut t = FrameTable::new(4);
        assert_eq!(t.alloc(FrameUse::Anon), Some(0));
        assert_eq!(t.alloc(FrameUse::Anon), Some(1));
        let a = Owner { pid: 1, vpn: 10 };
        let b = Owner { pid: 2, vpn: 10 };
        t.add_owner(0, a, 0x1000);
        t.add_owner(0, b, 0x2008);
        assert_eq!(t.mapcount(0), 2);
        assert_eq!(t.owners(0).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(t.first_owner(0), Some((b, 0x2008)));
        assert_eq!(t.remove_owner(0, a), 1);
        assert_eq!(t.owners(0).collect::<Vec<_>>(), vec![b]);
        assert_eq!(t.remove_owner(0, b), 0);
        t.free(0);
        assert_eq!(t.free_count(), 3);
        // Four home slots and the one chain slot `a` moved to; the freed
        // chain slot is reused.
        assert_eq!(t.rmap.len(), 5);
        t.add_owner(1, a, 0x1000);
        t.add_owner(1, b, 0x2008);
        assert_eq!(t.rmap.len(), 5);
        assert_eq!(t.owners(1).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(t.alloc(FrameUse::Anon), Some(0));
    }

    /// Through random adds and removes (removes of owners that are not
    /// there included), every frame's mappings and count match a plain
    /// most-recent-first list per frame.
    #[test]
    fn reverse_map_matches_a_plain_list() {
        const FRAMES: u32 = 3;
        let mut t = FrameTable::new(FRAMES as usize);
        let mut model: Vec<Vec<(Owner, u64)>> = vec![Vec::new(); FRAMES as usize];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for step in 0..4000 {
            // xorshift64: any non-zero state, no crate.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let frame = (state % u64::from(FRAMES)) as FrameId;
            let owner = Owner {
                pid: ((state >> 8) % 4) as Pid,
                vpn: (state >> 16) % 3,
            };
            let list = &mut model[frame as usize];
            let mapped = list.iter().position(|&(o, _)| o == owner);
            match mapped {
                None if (state >> 32) % 3 != 0 => {
                    let pte_addr = (state >> 40) << 3;
                    t.add_owner(frame, owner, pte_addr);
                    list.insert(0, (owner, pte_addr));
                }
                _ => {
                    if let Some(i) = mapped {
                        list.remove(i);
                    }
                    assert_eq!(t.remove_owner(frame, owner), list.len() as u32);
                }
            }
            for f in 0..FRAMES {
                let got: Vec<_> = t.owner_entries(f).collect();
                assert_eq!(got, model[f as usize], "step {step}, frame {f}");
                assert_eq!(t.mapcount(f) as usize, got.len(), "step {step}");
            }
        }
    }

    #[test]
    fn contiguous_runs() {
        let mut t = FrameTable::new(6);
        assert_eq!(t.alloc(FrameUse::Anon), Some(0));
        assert_eq!(t.alloc_contiguous(3, FrameUse::PageTable), Some(1));
        assert_eq!(t.free_count(), 2);
        assert_eq!(t.alloc_contiguous(3, FrameUse::PageTable), None);
        assert_eq!(t.alloc(FrameUse::Anon), Some(4));
    }
}
