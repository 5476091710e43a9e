//! The swap area: [`SwapDevice`], `N` slots of one page each on a
//! [`BlockDevice`], holding the real bytes of swapped-out pages.
//!
//! Each slot has a reference count, as Linux's `swap_map` does: one for
//! every swap entry that names the slot (a page-table entry of each process
//! that shares the page after fork) and one for the swap cache. The kernel
//! takes a slot with [`alloc`](SwapDevice::alloc) (count 1), adds sharers
//! with [`dup`](SwapDevice::dup) and drops them with
//! [`free`](SwapDevice::free); the slot is free again, and its bytes
//! dropped, when the count reaches zero.
//!
//! Allocation takes the lowest-numbered free slot. Linux instead scans
//! from a cursor in clusters of 256 slots (`scan_swap_map_slots`), so that
//! consecutive swap-outs land in consecutive slots of a disk and flash
//! erase blocks fill evenly; its slot numbers depend on that history.
//! Lowest-first is deterministic, easy to predict by hand, keeps the used
//! part of the area compact, and still gives consecutive slots to a burst
//! of swap-outs into an empty area, which is what makes a disk's
//! sequential discount apply.
//!
//! Storage is sparse: bookkeeping grows only to the highest slot ever
//! used, a page's bytes are kept only while its slot is in use, and a page
//! of zeros is stored as nothing at all. An unused 1 GiB swap area costs
//! the host a few bytes.
//!
//! Slot `s` occupies blocks `s × b .. (s + 1) × b` of the device, where
//! `b` is the page size divided by the block size, rounded up (a page
//! smaller than a block still takes a whole block, as a device cannot move
//! less).

use crate::blockdev::BlockDevice;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

/// A slot's index in the swap area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SlotId(pub u32);

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "swap slot {}", self.0)
    }
}

/// A request the swap area cannot serve. Every one of them is a bug in
/// the caller (the kernel), reported instead of panicking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwapError {
    /// The page size given to [`SwapDevice::new`] was zero.
    ZeroPageSize,
    /// The slot lies beyond the end of the area.
    OutOfRange(SlotId),
    /// The slot is free: nothing refers to it.
    FreeSlot(SlotId),
    /// The slot is in use but no page was ever written to it.
    Unwritten(SlotId),
    /// [`SwapDevice::dup`] would overflow the slot's reference count.
    RefcountOverflow(SlotId),
    /// The buffer given to a read or write is not one page long.
    WrongLength {
        /// The page size.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
}

impl fmt::Display for SwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwapError::ZeroPageSize => f.write_str("a swap area needs a page size of at least 1"),
            SwapError::OutOfRange(slot) => write!(f, "{slot} is beyond the swap area"),
            SwapError::FreeSlot(slot) => write!(f, "{slot} is free"),
            SwapError::Unwritten(slot) => write!(f, "{slot} holds no page yet"),
            SwapError::RefcountOverflow(slot) => {
                write!(f, "{slot} has too many references")
            }
            SwapError::WrongLength { expected, got } => {
                write!(f, "a swap page is {expected} bytes, not {got}")
            }
        }
    }
}

impl std::error::Error for SwapError {}

/// What the swap area has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SwapCounters {
    /// Pages written to swap.
    pub swap_outs: u64,
    /// Pages read from swap.
    pub swap_ins: u64,
    /// Slots in use now.
    pub slots_in_use: u64,
    /// The most slots ever in use at once.
    pub peak_slots: u64,
}

/// What a slot in use holds.
#[derive(Clone, Debug)]
enum Contents {
    /// Allocated, not written yet.
    Unwritten,
    /// A page of zeros, kept as nothing.
    Zero,
    /// A page's bytes.
    Bytes(Box<[u8]>),
}

/// One slot's state.
#[derive(Clone, Debug)]
struct Slot {
    /// Swap entries and swap-cache pages naming this slot; 0 when free.
    refs: u32,
    contents: Contents,
}

/// A swap area of page-sized slots on a block device.
#[derive(Clone, Debug)]
pub struct SwapDevice {
    /// Slots `0..slots.len()`: every slot ever allocated and the free ones
    /// below them. Slots above were never used and need no state.
    slots: Vec<Slot>,
    /// Free slots below `slots.len()`, lowest on top.
    free: BinaryHeap<Reverse<u32>>,
    capacity: u32,
    page_size: usize,
    blocks_per_slot: u64,
    /// Host bytes held by stored pages.
    resident_bytes: u64,
    device: BlockDevice,
    counters: SwapCounters,
}

impl SwapDevice {
    /// A swap area of `slots` pages of `page_size` bytes on `device`, all
    /// free.
    pub fn new(slots: u32, page_size: usize, device: BlockDevice) -> Result<SwapDevice, SwapError> {
        if page_size == 0 {
            return Err(SwapError::ZeroPageSize);
        }
        let blocks_per_slot = (page_size as u64).div_ceil(u64::from(device.block_size()));
        Ok(SwapDevice {
            slots: Vec::new(),
            free: BinaryHeap::new(),
            capacity: slots,
            page_size,
            blocks_per_slot,
            resident_bytes: 0,
            device,
            counters: SwapCounters::default(),
        })
    }

    /// Slots in the area.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Slots in use.
    pub fn used(&self) -> u32 {
        // At most `capacity`, a u32.
        self.counters.slots_in_use as u32
    }

    /// Bytes in one slot.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Host memory held by the pages stored now, in bytes (zero pages and
    /// free slots hold none).
    pub fn resident_bytes(&self) -> u64 {
        self.resident_bytes
    }

    /// What the swap area has done so far.
    pub fn counters(&self) -> SwapCounters {
        self.counters
    }

    /// The device under the area, with its own counters.
    pub fn device(&self) -> &BlockDevice {
        &self.device
    }

    /// Takes the lowest free slot, with a reference count of 1; `None` when
    /// every slot is in use.
    pub fn alloc(&mut self) -> Option<SlotId> {
        let index = match self.free.pop() {
            Some(Reverse(index)) => index,
            None => {
                let next = u32::try_from(self.slots.len()).ok()?;
                if next >= self.capacity {
                    return None;
                }
                self.slots.push(Slot {
                    refs: 0,
                    contents: Contents::Unwritten,
                });
                next
            }
        };
        self.slots[index as usize].refs = 1;
        self.counters.slots_in_use += 1;
        self.counters.peak_slots = self.counters.peak_slots.max(self.counters.slots_in_use);
        Some(SlotId(index))
    }

    /// Adds a reference to a slot in use (another swap entry or the swap
    /// cache now names it).
    pub fn dup(&mut self, slot: SlotId) -> Result<(), SwapError> {
        let entry = self.slot_in_use(slot)?;
        entry.refs = entry
            .refs
            .checked_add(1)
            .ok_or(SwapError::RefcountOverflow(slot))?;
        Ok(())
    }

    /// Drops a reference to a slot in use; returns whether that was the
    /// last one, in which case the slot is free and its bytes are gone.
    pub fn free(&mut self, slot: SlotId) -> Result<bool, SwapError> {
        let entry = self.slot_in_use(slot)?;
        entry.refs -= 1;
        if entry.refs > 0 {
            return Ok(false);
        }
        let old = std::mem::replace(&mut entry.contents, Contents::Unwritten);
        if let Contents::Bytes(bytes) = old {
            self.resident_bytes -= bytes.len() as u64;
        }
        self.free.push(Reverse(slot.0));
        self.counters.slots_in_use -= 1;
        Ok(true)
    }

    /// References to `slot`: 0 when it is free or beyond the area.
    pub fn refcount(&self, slot: SlotId) -> u32 {
        self.slots
            .get(slot.0 as usize)
            .map_or(0, |entry| entry.refs)
    }

    /// Swaps a page out: stores `data` (one page) in `slot`, which must be
    /// in use, replacing what it held. Returns the device time in ns.
    pub fn write(&mut self, slot: SlotId, data: &[u8]) -> Result<u64, SwapError> {
        self.check_length(data.len())?;
        let entry = self.slot_in_use(slot)?;
        let contents = if data.iter().all(|&byte| byte == 0) {
            Contents::Zero
        } else {
            Contents::Bytes(data.into())
        };
        let added = match &contents {
            Contents::Bytes(bytes) => bytes.len() as u64,
            _ => 0,
        };
        let removed = match std::mem::replace(&mut entry.contents, contents) {
            Contents::Bytes(bytes) => bytes.len() as u64,
            _ => 0,
        };
        self.resident_bytes = self.resident_bytes - removed + added;
        self.counters.swap_outs += 1;
        let first = u64::from(slot.0) * self.blocks_per_slot;
        Ok(self.device.write(first, self.blocks_per_slot))
    }

    /// Swaps a page in: copies the page stored in `slot` into `out` (one
    /// page). Returns the device time in ns. The slot keeps its page and
    /// its references.
    pub fn read(&mut self, slot: SlotId, out: &mut [u8]) -> Result<u64, SwapError> {
        self.check_length(out.len())?;
        match &self.slot_in_use(slot)?.contents {
            Contents::Unwritten => return Err(SwapError::Unwritten(slot)),
            Contents::Zero => out.fill(0),
            Contents::Bytes(bytes) => out.copy_from_slice(bytes),
        }
        self.counters.swap_ins += 1;
        let first = u64::from(slot.0) * self.blocks_per_slot;
        Ok(self.device.read(first, self.blocks_per_slot))
    }

    /// The state of `slot`, which must be in use.
    fn slot_in_use(&mut self, slot: SlotId) -> Result<&mut Slot, SwapError> {
        if slot.0 >= self.capacity {
            return Err(SwapError::OutOfRange(slot));
        }
        match self.slots.get_mut(slot.0 as usize) {
            Some(entry) if entry.refs > 0 => Ok(entry),
            _ => Err(SwapError::FreeSlot(slot)),
        }
    }

    fn check_length(&self, len: usize) -> Result<(), SwapError> {
        if len == self.page_size {
            Ok(())
        } else {
            Err(SwapError::WrongLength {
                expected: self.page_size,
                got: len,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockdev::BlockDeviceConfig;

    const PAGE: usize = 4096;

    fn swap(slots: u32, config: BlockDeviceConfig) -> SwapDevice {
        SwapDevice::new(slots, PAGE, BlockDevice::new(config).unwrap()).unwrap()
    }

    fn pattern(seed: u8) -> Vec<u8> {
        (0..PAGE)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    #[test]
    fn refcounts_follow_alloc_dup_free() {
        let mut swap = swap(4, BlockDeviceConfig::ssd());
        let slot = swap.alloc().unwrap();
        assert_eq!(swap.refcount(slot), 1);
        // Parent and child after fork, plus the swap cache.
        swap.dup(slot).unwrap();
        swap.dup(slot).unwrap();
        assert_eq!(swap.refcount(slot), 3);
        assert_eq!(swap.free(slot), Ok(false));
        assert_eq!(swap.free(slot), Ok(false));
        assert_eq!(swap.used(), 1);
        assert_eq!(swap.free(slot), Ok(true));
        assert_eq!(swap.refcount(slot), 0);
        assert_eq!(swap.used(), 0);
        // A free slot has no references to drop or add to.
        assert_eq!(swap.free(slot), Err(SwapError::FreeSlot(slot)));
        assert_eq!(swap.dup(slot), Err(SwapError::FreeSlot(slot)));
        assert_eq!(swap.dup(SlotId(4)), Err(SwapError::OutOfRange(SlotId(4))));
    }

    #[test]
    fn the_lowest_free_slot_is_reused_first() {
        let mut swap = swap(8, BlockDeviceConfig::ssd());
        let slots: Vec<SlotId> = (0..5).map(|_| swap.alloc().unwrap()).collect();
        assert_eq!(slots, [0, 1, 2, 3, 4].map(SlotId));
        swap.free(SlotId(3)).unwrap();
        swap.free(SlotId(1)).unwrap();
        swap.free(SlotId(4)).unwrap();
        assert_eq!(swap.alloc(), Some(SlotId(1)));
        assert_eq!(swap.alloc(), Some(SlotId(3)));
        assert_eq!(swap.alloc(), Some(SlotId(4)));
        assert_eq!(swap.alloc(), Some(SlotId(5)));
        let counters = swap.counters();
        assert_eq!(counters.slots_in_use, 6);
        assert_eq!(counters.peak_slots, 6);
    }

    #[test]
    fn exhausted_swap_returns_none() {
        let mut swap = swap(2, BlockDeviceConfig::ssd());
        assert_eq!(swap.alloc(), Some(SlotId(0)));
        assert_eq!(swap.alloc(), Some(SlotId(1)));
        assert_eq!(swap.alloc(), None);
        swap.free(SlotId(0)).unwrap();
        assert_eq!(swap.alloc(), Some(SlotId(0)));
        assert_eq!(swap.alloc(), None);
        assert_eq!(swap.counters().peak_slots, 2);
        let mut empty = self::swap(0, BlockDeviceConfig::ssd());
        assert_eq!(empty.alloc(), None);
    }

    #[test]
    fn pages_round_trip_with_device_time() {
        let mut swap = swap(4, BlockDeviceConfig::ssd());
        let a = swap.alloc().unwrap();
        let b = swap.alloc().unwrap();
        // One 4096-byte block each way on the SSD: 20 µs + 2048 ns to
        // write, 80 µs + 2048 ns to read.
        assert_eq!(swap.write(a, &pattern(1)), Ok(22_048));
        assert_eq!(swap.write(b, &pattern(2)), Ok(22_048));
        let mut page = vec![0; PAGE];
        assert_eq!(swap.read(a, &mut page), Ok(82_048));
        assert_eq!(page, pattern(1));
        assert_eq!(swap.read(b, &mut page), Ok(82_048));
        assert_eq!(page, pattern(2));
        // Rewriting replaces the page.
        swap.write(a, &pattern(3)).unwrap();
        swap.read(a, &mut page).unwrap();
        assert_eq!(page, pattern(3));
        let counters = swap.counters();
        assert_eq!((counters.swap_outs, counters.swap_ins), (3, 3));
        let disk = swap.device().counters();
        assert_eq!((disk.writes, disk.reads), (3, 3));
        assert_eq!(disk.busy_ns, 3 * 22_048 + 3 * 82_048);
    }

    #[test]
    fn consecutive_slots_are_sequential_on_a_disk() {
        let mut swap = swap(4, BlockDeviceConfig::hdd());
        let a = swap.alloc().unwrap();
        let b = swap.alloc().unwrap();
        // The first write seeks; the next slot follows it on the disk.
        assert_eq!(swap.write(a, &pattern(1)), Ok(8_000_000 + 27_307));
        assert_eq!(swap.write(b, &pattern(2)), Ok(27_307));
    }

    #[test]
    fn pages_smaller_than_a_block_take_a_whole_block() {
        let disk = BlockDevice::new(BlockDeviceConfig::ssd()).unwrap();
        let mut swap = SwapDevice::new(4, 32, disk).unwrap();
        let slot = swap.alloc().unwrap();
        assert_eq!(swap.write(slot, &[7; 32]), Ok(22_048));
        assert_eq!(swap.device().counters().blocks_written, 1);
    }

    #[test]
    fn zero_pages_and_freed_slots_cost_no_memory() {
        let mut swap = swap(1 << 18, BlockDeviceConfig::ssd()); // 1 GiB
        assert_eq!(swap.resident_bytes(), 0);
        let zero = swap.alloc().unwrap();
        swap.write(zero, &[0; PAGE]).unwrap();
        assert_eq!(swap.resident_bytes(), 0);
        let mut page = vec![0xff; PAGE];
        swap.read(zero, &mut page).unwrap();
        assert_eq!(page, [0; PAGE]);

        let data = swap.alloc().unwrap();
        swap.write(data, &pattern(9)).unwrap();
        assert_eq!(swap.resident_bytes(), PAGE as u64);
        // Overwriting with zeros drops the bytes.
        swap.write(data, &[0; PAGE]).unwrap();
        assert_eq!(swap.resident_bytes(), 0);
        swap.write(data, &pattern(9)).unwrap();
        // Freeing drops them too.
        assert_eq!(swap.free(data), Ok(true));
        assert_eq!(swap.resident_bytes(), 0);
        // Bookkeeping grew only to the slots used.
        assert_eq!(swap.slots.len(), 2);
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut swap = swap(4, BlockDeviceConfig::ssd());
        let mut page = vec![0; PAGE];
        assert_eq!(
            swap.read(SlotId(0), &mut page),
            Err(SwapError::FreeSlot(SlotId(0)))
        );
        let slot = swap.alloc().unwrap();
        assert_eq!(swap.read(slot, &mut page), Err(SwapError::Unwritten(slot)));
        assert_eq!(
            swap.write(slot, &[1; 100]),
            Err(SwapError::WrongLength {
                expected: PAGE,
                got: 100
            })
        );
        swap.write(slot, &pattern(4)).unwrap();
        swap.free(slot).unwrap();
        assert_eq!(swap.read(slot, &mut page), Err(SwapError::FreeSlot(slot)));
        assert_eq!(
            swap.write(SlotId(9), &pattern(4)),
            Err(SwapError::OutOfRange(SlotId(9)))
        );
        // Failed requests did not reach the device.
        assert_eq!(swap.counters().swap_ins, 0);
        assert_eq!(swap.device().counters().reads, 0);
        let disk = BlockDevice::new(BlockDeviceConfig::ssd()).unwrap();
        assert_eq!(
            SwapDevice::new(4, 0, disk).unwrap_err(),
            SwapError::ZeroPageSize
        );
    }
}
