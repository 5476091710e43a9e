//! The address-ordered free list the first-, best-, worst- and next-fit
//! allocators share: [`ListAllocator`] keeps the free blocks sorted by
//! address, splits the block a [`Placement`] chooses (the request takes its
//! low end, the rest stays free), coalesces a freed block with the free
//! blocks on either side (OSTEP §17.2, "Splitting and Coalescing"), and can
//! compact the arena. Only the choice of block differs between policies,
//! so it is the one thing a policy file supplies.
//!
//! Both lists are sorted vectors: a search walks the free list anyway, and
//! once the vectors have grown to the workload's size no operation
//! allocates.

use super::{Compaction, FreeError, FreeSpaceAllocator, FreeSpaceStats, Relocation};

/// A free block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Extent {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// How a free-list allocator picks the block a request is carved from.
pub trait Placement: Send {
    /// The allocator's name.
    const NAME: &'static str;

    /// The index in `free` (sorted by address, never empty blocks) of the
    /// block to carve `size` bytes from, or `None` when no block is large
    /// enough.
    fn choose(&mut self, free: &[Extent], size: u64) -> Option<usize>;

    /// `size` bytes were just taken from the low end of a block, ending at
    /// `end` (next fit resumes its search there).
    fn placed(&mut self, end: u64) {
        let _ = end;
    }
}

/// A free-list allocator with placement policy `P`.
#[derive(Clone, Debug)]
pub struct ListAllocator<P> {
    base: u64,
    size: u64,
    /// Free blocks by address; neighbours never touch (they are merged).
    free: Vec<Extent>,
    /// Allocated blocks by address.
    live: Vec<Extent>,
    placement: P,
    failed: u64,
    compactions: u64,
    bytes_moved: u64,
}

impl<P: Placement> ListAllocator<P> {
    /// An allocator whose arena `base..base + size` is all free.
    pub fn new(base: u64, size: u64, placement: P) -> ListAllocator<P> {
        ListAllocator {
            base,
            size,
            free: vec![Extent {
                start: base,
                len: size,
            }],
            live: Vec::new(),
            placement,
            failed: 0,
            compactions: 0,
            bytes_moved: 0,
        }
    }

    /// The free blocks, in address order.
    pub fn free_list(&self) -> &[Extent] {
        &self.free
    }

    /// Puts `block` back into the free list, merged with the free blocks
    /// that end where it starts and start where it ends.
    fn insert_free(&mut self, block: Extent) {
        let at = self.free.partition_point(|e| e.start < block.start);
        let joins_prev = at > 0 && self.free[at - 1].end() == block.start;
        let joins_next = at < self.free.len() && self.free[at].start == block.end();
        match (joins_prev, joins_next) {
            (true, true) => {
                self.free[at - 1].len += block.len + self.free[at].len;
                self.free.remove(at);
            }
            (true, false) => self.free[at - 1].len += block.len,
            (false, true) => {
                self.free[at].start = block.start;
                self.free[at].len += block.len;
            }
            (false, false) => self.free.insert(at, block),
        }
    }
}

impl<P: Placement> FreeSpaceAllocator for ListAllocator<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn allocate(&mut self, size: u64) -> Option<u64> {
        let chosen = if size == 0 {
            None
        } else {
            self.placement.choose(&self.free, size)
        };
        let Some(i) = chosen else {
            self.failed += 1;
            return None;
        };
        let start = self.free[i].start;
        if self.free[i].len == size {
            self.free.remove(i);
        } else {
            self.free[i].start += size;
            self.free[i].len -= size;
        }
        let block = Extent { start, len: size };
        let at = self.live.partition_point(|e| e.start < start);
        self.live.insert(at, block);
        self.placement.placed(block.end());
        Some(start)
    }

    fn free(&mut self, addr: u64) -> Result<u64, FreeError> {
        let at = self.live.partition_point(|e| e.start < addr);
        match self.live.get(at) {
            Some(block) if block.start == addr => {
                let block = self.live.remove(at);
                self.insert_free(block);
                Ok(block.len)
            }
            _ => Err(FreeError { addr }),
        }
    }

    fn stats(&self) -> FreeSpaceStats {
        let free_bytes: u64 = self.free.iter().map(|e| e.len).sum();
        let allocated: u64 = self.live.iter().map(|e| e.len).sum();
        FreeSpaceStats {
            arena_bytes: self.size,
            free_bytes,
            largest_free: self.free.iter().map(|e| e.len).max().unwrap_or(0),
            free_blocks: self.free.len() as u64,
            live_blocks: self.live.len() as u64,
            allocated_bytes: allocated,
            requested_bytes: allocated,
            failed_allocations: self.failed,
            compactions: self.compactions,
            bytes_moved: self.bytes_moved,
        }
    }

    fn compact(&mut self) -> Option<Compaction> {
        let mut out = Compaction::default();
        let mut cursor = self.base;
        for block in &mut self.live {
            if block.start != cursor {
                out.relocations.push(Relocation {
                    from: block.start,
                    to: cursor,
                    bytes: block.len,
                });
                out.bytes_moved += block.len;
                block.start = cursor;
            }
            cursor += block.len;
        }
        self.free.clear();
        let end = self.base + self.size;
        if cursor < end {
            self.free.push(Extent {
                start: cursor,
                len: end - cursor,
            });
        }
        self.compactions += 1;
        self.bytes_moved += out.bytes_moved;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::first_fit::FirstFit;
    use super::*;

    fn extents(a: &ListAllocator<FirstFit>) -> Vec<(u64, u64)> {
        a.free_list().iter().map(|e| (e.start, e.len)).collect()
    }

    /// OSTEP §17.2: a 30-byte heap with bytes 10..20 in use has the free
    /// list 0/10, 20/10. A 1-byte request splits a free chunk (first fit
    /// takes the first: 1/9, 20/10); freeing the used chunk once the byte
    /// is back coalesces everything into one 30-byte chunk, where a list
    /// without coalescing would hold three 10-byte chunks.
    #[test]
    fn ostep_splitting_and_coalescing() {
        let mut a = ListAllocator::new(0, 30, FirstFit);
        assert_eq!(a.allocate(10), Some(0));
        assert_eq!(a.allocate(10), Some(10));
        assert_eq!(a.free(0), Ok(10));
        assert_eq!(extents(&a), [(0, 10), (20, 10)]);
        assert_eq!(a.allocate(1), Some(0));
        assert_eq!(extents(&a), [(1, 9), (20, 10)]);
        assert_eq!(a.free(0), Ok(1));
        assert_eq!(extents(&a), [(0, 10), (20, 10)]);
        assert_eq!(a.free(10), Ok(10));
        assert_eq!(extents(&a), [(0, 30)]);
        let s = a.stats();
        assert_eq!((s.free_bytes, s.largest_free, s.free_blocks), (30, 30, 1));
        assert_eq!(s.external_fragmentation(), 0.0);
    }

    #[test]
    fn coalesces_with_either_neighbour_alone() {
        let mut a = ListAllocator::new(100, 40, FirstFit);
        for at in [100, 110, 120, 130] {
            assert_eq!(a.allocate(10), Some(at));
        }
        a.free(100).unwrap();
        a.free(110).unwrap(); // joins the block before it
        assert_eq!(extents(&a), [(100, 20)]);
        a.free(130).unwrap();
        assert_eq!(extents(&a), [(100, 20), (130, 10)]);
        a.free(120).unwrap(); // joins both
        assert_eq!(extents(&a), [(100, 40)]);
        let mut b = ListAllocator::new(0, 30, FirstFit);
        for _ in 0..3 {
            b.allocate(10).unwrap();
        }
        b.free(20).unwrap();
        b.free(10).unwrap(); // joins the block after it
        assert_eq!(extents(&b), [(10, 20)]);
    }

    #[test]
    fn refusals_are_counted_and_bad_frees_named() {
        let mut a = ListAllocator::new(0, 30, FirstFit);
        assert_eq!(a.allocate(31), None);
        assert_eq!(a.allocate(0), None);
        assert_eq!(a.allocate(30), Some(0));
        assert_eq!(a.allocate(1), None);
        assert_eq!(a.stats().failed_allocations, 3);
        assert_eq!(a.stats().largest_free, 0);
        assert_eq!(a.free(5), Err(FreeError { addr: 5 }));
        assert_eq!(a.free(0), Ok(30));
        assert_eq!(a.free(0), Err(FreeError { addr: 0 }));
    }

    /// Holes of 10 at 10 and 10 at 30 (20 free in all, largest 10): a
    /// 20-byte request fails until compaction slides the blocks at 20 and
    /// 40 down by 10 and 20 bytes: 20 bytes moved.
    #[test]
    fn compaction_slides_blocks_down_and_reports_moves() {
        let mut a = ListAllocator::new(0, 60, FirstFit);
        for at in [0, 10, 20, 30, 40] {
            assert_eq!(a.allocate(10), Some(at));
        }
        a.free(10).unwrap();
        a.free(30).unwrap();
        let s = a.stats();
        assert_eq!((s.free_bytes, s.largest_free), (30, 10));
        assert_eq!(s.external_fragmentation(), 1.0 - 10.0 / 30.0);
        assert_eq!(a.allocate(20), None);
        let c = a.compact().unwrap();
        assert_eq!(
            c.relocations,
            [
                Relocation {
                    from: 20,
                    to: 10,
                    bytes: 10
                },
                Relocation {
                    from: 40,
                    to: 20,
                    bytes: 10
                },
            ]
        );
        assert_eq!(c.bytes_moved, 20);
        assert_eq!(extents(&a), [(30, 30)]);
        assert_eq!(a.allocate(20), Some(30));
        // The moved blocks are known by their new addresses.
        assert_eq!(a.free(20), Ok(10));
        assert_eq!(a.free(40), Err(FreeError { addr: 40 }));
        let s = a.stats();
        assert_eq!((s.compactions, s.bytes_moved), (1, 20));
        // A compaction of a packed arena moves nothing.
        let mut full = ListAllocator::new(0, 20, FirstFit);
        full.allocate(20).unwrap();
        assert_eq!(full.compact().unwrap().bytes_moved, 0);
        assert!(full.free_list().is_empty());
    }
}

/// Arenas laid out as textbook figures, for the policy files' tests.
#[cfg(test)]
pub(super) mod fixtures {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// OSTEP §17.3's free list `10 -> 30 -> 20` in a 100-byte arena: free
    /// blocks 0..10, 20..50 and 60..80, with 10..20, 50..60 and 80..100 in
    /// use.
    pub fn ostep_10_30_20<P: Placement>(placement: P) -> ListAllocator<P> {
        let mut a = ListAllocator::new(0, 100, placement);
        // The arena filled in address order, then the holes freed.
        a.free.clear();
        a.live = [(0, 10), (10, 10), (20, 30), (50, 10), (60, 20), (80, 20)]
            .into_iter()
            .map(|(start, len)| Extent { start, len })
            .collect();
        for hole in [0, 20, 60] {
            a.free(hole).unwrap();
        }
        assert_eq!(holes(&a), [(0, 10), (20, 30), (60, 20)]);
        a
    }

    /// The free list as (start, length) pairs.
    pub fn holes<P: Placement>(a: &ListAllocator<P>) -> Vec<(u64, u64)> {
        a.free_list().iter().map(|e| (e.start, e.len)).collect()
    }
}
