//! The binary buddy allocator (Knuth, TAOCP vol. 1 §2.5; OSTEP §17.4):
//! blocks are powers of two, aligned to their size within the arena. A
//! request is rounded up to the smallest block that holds it; a larger
//! free block is split in halves ("buddies") until one of that size
//! exists. On free, a block merges with its buddy (the block whose offset
//! differs only in the bit of its size) for as long as the buddy is free
//! and whole, so coalescing costs one lookup per level.
//!
//! An arena whose size is not a power of two starts as the largest
//! aligned power-of-two blocks that tile it, as Linux's zones do; bytes
//! past the last whole minimum block are not managed. Each size keeps its
//! free blocks sorted by address and hands out the lowest, so the splits
//! match the textbook figures.

use super::{Compaction, FreeError, FreeSpaceAllocator, FreeSpaceError, FreeSpaceStats};

/// The smallest block [`by_name`](super::by_name) builds buddies with.
pub const MIN_BLOCK: u64 = 64;

/// A live block: offset from the arena base, order, bytes asked for.
#[derive(Clone, Copy, Debug)]
struct Live {
    offset: u64,
    order: u8,
    requested: u64,
}

/// A binary buddy allocator.
#[derive(Clone, Debug)]
pub struct Buddy {
    base: u64,
    /// Bytes managed: a multiple of `min_block`.
    size: u64,
    min_block: u64,
    /// `free[k]`: offsets of the free blocks of `min_block << k` bytes, in
    /// increasing order.
    free: Vec<Vec<u64>>,
    /// Allocated blocks by offset.
    live: Vec<Live>,
    failed: u64,
}

impl Buddy {
    /// A buddy allocator over `base..base + size` whose smallest block is
    /// `min_block` bytes (a power of two).
    pub fn new(base: u64, size: u64, min_block: u64) -> Result<Buddy, FreeSpaceError> {
        if !min_block.is_power_of_two() || size < min_block {
            return Err(FreeSpaceError(format!(
                "a buddy allocator needs a power-of-two smallest block no larger than its arena, \
                 not {min_block} bytes in {size}"
            )));
        }
        let size = size - size % min_block;
        let orders = (size / min_block).ilog2() as usize + 1;
        let mut buddy = Buddy {
            base,
            size,
            min_block,
            free: vec![Vec::new(); orders],
            live: Vec::new(),
            failed: 0,
        };
        // Tile the arena with the largest aligned blocks, low to high.
        let mut offset = 0;
        while offset < size {
            let order = (0..orders)
                .rev()
                .find(|&k| {
                    let bytes = min_block << k;
                    offset % bytes == 0 && offset + bytes <= size
                })
                .unwrap_or(0);
            buddy.free[order].push(offset);
            offset += min_block << order;
        }
        Ok(buddy)
    }

    fn block_bytes(&self, order: usize) -> u64 {
        self.min_block << order
    }

    /// The free blocks as (address, bytes), smallest size first.
    pub fn free_blocks(&self) -> Vec<(u64, u64)> {
        self.free
            .iter()
            .enumerate()
            .flat_map(|(k, offsets)| {
                offsets
                    .iter()
                    .map(move |&o| (self.base + o, self.min_block << k))
            })
            .collect()
    }

    fn insert_free(&mut self, order: usize, offset: u64) {
        let list = &mut self.free[order];
        let at = list.partition_point(|&o| o < offset);
        list.insert(at, offset);
    }
}

impl FreeSpaceAllocator for Buddy {
    fn name(&self) -> &'static str {
        "buddy"
    }

    fn allocate(&mut self, size: u64) -> Option<u64> {
        let want = (size > 0)
            .then(|| size.div_ceil(self.min_block).checked_next_power_of_two())
            .flatten()
            .map(|blocks| blocks.ilog2() as usize)
            .filter(|&k| k < self.free.len());
        let found = want.and_then(|k| (k..self.free.len()).find(|&j| !self.free[j].is_empty()));
        let (Some(want), Some(mut order)) = (want, found) else {
            self.failed += 1;
            return None;
        };
        let offset = self.free[order].remove(0);
        // Split, keeping the lower half, until the block is the size wanted.
        while order > want {
            order -= 1;
            let upper = offset + self.block_bytes(order);
            self.insert_free(order, upper);
        }
        let at = self.live.partition_point(|l| l.offset < offset);
        self.live.insert(
            at,
            Live {
                offset,
                order: order as u8,
                requested: size,
            },
        );
        Some(self.base + offset)
    }

    fn free(&mut self, addr: u64) -> Result<u64, FreeError> {
        let offset = addr.wrapping_sub(self.base);
        let at = self.live.partition_point(|l| l.offset < offset);
        let block = match self.live.get(at) {
            Some(l) if l.offset == offset && addr >= self.base => self.live.remove(at),
            _ => return Err(FreeError { addr }),
        };
        let mut order = usize::from(block.order);
        let mut offset = block.offset;
        // Merge with the buddy while it is free at the same size. A block
        // of the largest order has no buddy inside the arena.
        while let Some(list) = self.free.get_mut(order) {
            let buddy = offset ^ (self.min_block << order);
            match list.binary_search(&buddy) {
                Ok(i) => {
                    list.remove(i);
                    offset = offset.min(buddy);
                    order += 1;
                }
                Err(_) => break,
            }
        }
        self.insert_free(order, offset);
        Ok(self.block_bytes(usize::from(block.order)))
    }

    fn stats(&self) -> FreeSpaceStats {
        let free_bytes = (0..self.free.len())
            .map(|k| self.free[k].len() as u64 * self.block_bytes(k))
            .sum();
        let largest_free = (0..self.free.len())
            .rev()
            .find(|&k| !self.free[k].is_empty())
            .map_or(0, |k| self.block_bytes(k));
        FreeSpaceStats {
            arena_bytes: self.size,
            free_bytes,
            largest_free,
            free_blocks: self.free.iter().map(|l| l.len() as u64).sum(),
            live_blocks: self.live.len() as u64,
            allocated_bytes: self
                .live
                .iter()
                .map(|l| self.block_bytes(usize::from(l.order)))
                .sum(),
            requested_bytes: self.live.iter().map(|l| l.requested).sum(),
            failed_allocations: self.failed,
            compactions: 0,
            bytes_moved: 0,
        }
    }

    /// Buddy blocks must stay aligned to their size, so sliding them down
    /// is not possible.
    fn compact(&mut self) -> Option<Compaction> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 1024;

    /// OSTEP Figure 17.8: a 7 KiB request in a 64 KiB arena splits 64 into
    /// 32 + 32, 32 into 16 + 16, 16 into 8 + 8, and gets the leftmost 8 KiB
    /// block; 1 KiB of it is internal fragmentation.
    #[test]
    fn ostep_7k_request_in_64k_splits_down_to_8k() {
        let mut b = Buddy::new(0x10000, 64 * K, K).unwrap();
        assert_eq!(b.allocate(7 * K), Some(0x10000));
        assert_eq!(
            b.free_blocks(),
            [
                (0x10000 + 8 * K, 8 * K),
                (0x10000 + 16 * K, 16 * K),
                (0x10000 + 32 * K, 32 * K)
            ]
        );
        let s = b.stats();
        assert_eq!((s.allocated_bytes, s.requested_bytes), (8 * K, 7 * K));
        assert_eq!(s.internal_fragmentation(), 1.0 / 8.0);
        assert_eq!(
            (s.free_bytes, s.largest_free, s.free_blocks),
            (56 * K, 32 * K, 3)
        );
        // The next 8 KiB request takes the buddy; then a 16 KiB one.
        assert_eq!(b.allocate(8 * K), Some(0x10000 + 8 * K));
        assert_eq!(b.allocate(9 * K), Some(0x10000 + 16 * K));
        assert_eq!(b.free_blocks(), [(0x10000 + 32 * K, 32 * K)]);
        // Freeing in any order merges buddies back into one 64 KiB block.
        assert_eq!(b.free(0x10000 + 8 * K), Ok(8 * K));
        assert_eq!(b.free_blocks().len(), 2, "8 KiB block waits for its buddy");
        assert_eq!(b.free(0x10000 + 16 * K), Ok(16 * K));
        assert_eq!(b.free(0x10000), Ok(8 * K));
        assert_eq!(b.free_blocks(), [(0x10000, 64 * K)]);
    }

    /// Freed neighbours that are not buddies stay apart: 8..16 and 16..24
    /// KiB touch, but the buddy of 8..16 is 0..8.
    #[test]
    fn only_buddies_merge() {
        let mut b = Buddy::new(0, 32 * K, 8 * K).unwrap();
        for at in [0, 8 * K, 16 * K, 24 * K] {
            assert_eq!(b.allocate(8 * K), Some(at));
        }
        b.free(8 * K).unwrap();
        b.free(16 * K).unwrap();
        assert_eq!(b.free_blocks(), [(8 * K, 8 * K), (16 * K, 8 * K)]);
        let s = b.stats();
        assert_eq!((s.free_bytes, s.largest_free), (16 * K, 8 * K));
        assert_eq!(b.allocate(16 * K), None);
        assert_eq!(b.stats().failed_allocations, 1);
        assert!(b.compact().is_none());
    }

    #[test]
    fn arena_that_is_not_a_power_of_two_is_tiled() {
        // 48 KiB + 100 bytes with 1 KiB blocks: 32 KiB then 16 KiB.
        let mut b = Buddy::new(0, 48 * K + 100, K).unwrap();
        assert_eq!(b.free_blocks(), [(32 * K, 16 * K), (0, 32 * K)]);
        assert_eq!(b.stats().arena_bytes, 48 * K);
        // The 16 KiB block has no buddy: freeing it never merges upward.
        assert_eq!(b.allocate(16 * K), Some(32 * K));
        assert_eq!(b.allocate(33 * K), None);
        b.free(32 * K).unwrap();
        assert_eq!(b.free_blocks(), [(32 * K, 16 * K), (0, 32 * K)]);
    }

    #[test]
    fn bad_requests_and_frees() {
        let mut b = Buddy::new(0x1000, 4 * K, K).unwrap();
        assert_eq!(b.allocate(0), None);
        assert_eq!(b.allocate(4 * K + 1), None);
        assert_eq!(b.allocate(u64::MAX), None);
        assert_eq!(b.stats().failed_allocations, 3);
        assert_eq!(b.free(0x1000), Err(FreeError { addr: 0x1000 }));
        assert_eq!(b.free(0), Err(FreeError { addr: 0 }));
        assert!(Buddy::new(0, 4 * K, 3).is_err());
        assert!(Buddy::new(0, 512, K).is_err());
    }
}
