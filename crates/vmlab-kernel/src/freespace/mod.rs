//! Free-space management for variable-size segments: the
//! [`FreeSpaceAllocator`] trait every allocator implements, one file per
//! allocator, [`by_name`] to choose one, and the statistics a comparison
//! of paging and segmentation reads ([`FreeSpaceStats`]).
//!
//! Allocators manage one arena of physical memory `base..base + size`.
//! The four free-list allocators ([`first_fit`], [`best_fit`],
//! [`worst_fit`], [`next_fit`]) share one address-ordered free list in
//! [`list`] that coalesces neighbours on free and can be compacted; they
//! differ only in which free block a request is carved from (OSTEP ch. 17,
//! "Free-Space Management", §17.3). [`buddy`] is the binary buddy
//! allocator (OSTEP §17.4; Knuth TAOCP vol. 1 §2.5), which rounds every
//! request up to a power of two and so trades internal fragmentation for
//! cheap coalescing.
//!
//! A segment needs no header in the arena: the operating system keeps its
//! base and bounds in the segment table, so free-list allocators hand out
//! exactly the bytes asked for and their internal fragmentation is zero.

pub mod best_fit;
pub mod buddy;
pub mod first_fit;
pub mod list;
pub mod next_fit;
pub mod worst_fit;

use serde::Serialize;
use std::fmt;

/// One allocator of variable-size blocks from an arena.
pub trait FreeSpaceAllocator: Send {
    /// The name [`by_name`] knows it by.
    fn name(&self) -> &'static str;

    /// Places a block of at least `size` bytes and returns its first
    /// address, or `None` when no free block can hold it (a request for 0
    /// bytes is refused too). Every refusal counts as a failed allocation.
    fn allocate(&mut self, size: u64) -> Option<u64>;

    /// Gives back the block that starts at `addr`, coalescing it with free
    /// neighbours; returns the bytes the block occupied.
    fn free(&mut self, addr: u64) -> Result<u64, FreeError>;

    /// Free bytes, the largest free block, fragmentation and counters.
    fn stats(&self) -> FreeSpaceStats;

    /// Slides every allocated block down to the bottom of the arena, in
    /// address order, leaving one free block at the top. Returns what moved
    /// (the caller updates the segment bases it holds), or `None` when this
    /// allocator cannot move blocks (the buddy allocator, whose blocks must
    /// stay aligned to their size).
    fn compact(&mut self) -> Option<Compaction>;
}

/// The state of an arena and what happened to it so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FreeSpaceStats {
    /// Bytes the allocator manages.
    pub arena_bytes: u64,
    /// Bytes in free blocks.
    pub free_bytes: u64,
    /// The largest free block: the largest request that can succeed.
    pub largest_free: u64,
    /// Number of free blocks.
    pub free_blocks: u64,
    /// Blocks allocated and not yet freed.
    pub live_blocks: u64,
    /// Bytes occupied by live blocks (requests rounded up as the allocator
    /// rounds them).
    pub allocated_bytes: u64,
    /// Bytes the live blocks' requests asked for.
    pub requested_bytes: u64,
    /// Allocations refused.
    pub failed_allocations: u64,
    /// Compactions done.
    pub compactions: u64,
    /// Bytes copied by all compactions: their cost.
    pub bytes_moved: u64,
}

impl FreeSpaceStats {
    /// External fragmentation, `1 - largest_free / free_bytes`: 0 when all
    /// free memory is one block (or there is none), approaching 1 as it is
    /// scattered over many small holes.
    pub fn external_fragmentation(&self) -> f64 {
        if self.free_bytes == 0 {
            0.0
        } else {
            1.0 - self.largest_free as f64 / self.free_bytes as f64
        }
    }

    /// Internal fragmentation: the fraction of allocated bytes no request
    /// asked for (the buddy allocator's rounding up to a power of two).
    pub fn internal_fragmentation(&self) -> f64 {
        if self.allocated_bytes == 0 {
            0.0
        } else {
            (self.allocated_bytes - self.requested_bytes) as f64 / self.allocated_bytes as f64
        }
    }
}

/// One block moved by a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Relocation {
    /// Where the block started.
    pub from: u64,
    /// Where it starts now.
    pub to: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What one compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Compaction {
    /// The blocks that moved, in address order.
    pub relocations: Vec<Relocation>,
    /// Bytes copied.
    pub bytes_moved: u64,
}

/// A free of an address that starts no allocated block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeError {
    /// The address given.
    pub addr: u64,
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no allocated block starts at {:#x}", self.addr)
    }
}

impl std::error::Error for FreeError {}

/// An allocator that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeSpaceError(pub String);

impl fmt::Display for FreeSpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FreeSpaceError {}

/// The names [`by_name`] accepts.
pub const NAMES: &[&str] = &["first", "best", "worst", "next", "buddy"];

/// The allocator called `name` over the arena `base..base + size`.
pub fn by_name(
    name: &str,
    base: u64,
    size: u64,
) -> Result<Box<dyn FreeSpaceAllocator>, FreeSpaceError> {
    if size == 0 || base.checked_add(size).is_none() {
        return Err(FreeSpaceError(format!(
            "an arena of {size} bytes at {base:#x} does not fit in a 64-bit address space or is empty"
        )));
    }
    Ok(match name {
        "first" => Box::new(list::ListAllocator::new(base, size, first_fit::FirstFit)),
        "best" => Box::new(list::ListAllocator::new(base, size, best_fit::BestFit)),
        "worst" => Box::new(list::ListAllocator::new(base, size, worst_fit::WorstFit)),
        "next" => Box::new(list::ListAllocator::new(
            base,
            size,
            next_fit::NextFit::new(base),
        )),
        "buddy" => Box::new(buddy::Buddy::new(base, size, buddy::MIN_BLOCK)?),
        _ => {
            return Err(FreeSpaceError(format!(
                "unknown allocator {name:?}; expected one of {}",
                NAMES.join(", ")
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragmentation_measures() {
        let s = FreeSpaceStats {
            free_bytes: 40,
            largest_free: 10,
            allocated_bytes: 64,
            requested_bytes: 48,
            ..FreeSpaceStats::default()
        };
        assert_eq!(s.external_fragmentation(), 0.75);
        assert_eq!(s.internal_fragmentation(), 0.25);
        assert_eq!(FreeSpaceStats::default().external_fragmentation(), 0.0);
        assert_eq!(FreeSpaceStats::default().internal_fragmentation(), 0.0);
    }

    #[test]
    fn by_name_knows_every_name_and_refuses_others() {
        for &name in NAMES {
            let a = by_name(name, 0x1000, 1 << 16).unwrap();
            assert_eq!(a.name(), name);
            assert_eq!(a.stats().free_bytes, 1 << 16);
        }
        let refused = |name, base, size| by_name(name, base, size).err().unwrap().0;
        assert!(refused("fastest", 0, 64).contains("first, best"));
        assert!(refused("first", 0, 0).contains("empty"));
        assert!(refused("first", u64::MAX, 2).contains("64-bit"));
    }
}
