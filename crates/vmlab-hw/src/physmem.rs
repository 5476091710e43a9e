//! Simulated DRAM: [`PhysMem`], a byte-addressed physical memory whose
//! backing store is allocated on first write, so a machine with 2^52 bytes
//! of physical address space costs the host only the chunks a program
//! touched. Page tables, segment descriptors and user data all live here as
//! real bytes in the machine's byte order ([`Endian`]).
//!
//! Storage is split into host chunks of [`CHUNK_BYTES`], independent of the
//! simulated page size: a teaching machine with 32-byte pages simply packs
//! many of its frames into one chunk. Reads of never-written memory return
//! zeros without allocating.
//!
//! A chunk is found by direct index when it lies in the first
//! [`DIRECT_CHUNKS`] (the first 4 GiB, where every machine's frames and page
//! tables start, since frames are handed out lowest first), and by hashing
//! above that, so a sparse 2^52-byte memory still costs only what it holds.
//!
//! A memo of what memory holds (the MMU's memo of the paths walks took
//! above the last level) may [`guard`](PhysMem::guard) the bytes it read:
//! every store and zeroing checks, and one that reaches a guarded chunk
//! starts a new [`epoch`](PhysMem::epoch). A memo entry recorded in an
//! epoch is exact while the epoch lasts, whoever writes memory and however.

use crate::intmap::IntMap;
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes in one host chunk of backing store.
pub const CHUNK_BYTES: usize = 4096;
const CHUNK_SHIFT: u32 = CHUNK_BYTES.trailing_zeros();
/// The largest physical memory a machine may have: 2^52 bytes, the widest
/// physical address any preset architecture defines.
pub const MAX_PHYS_BYTES: u64 = 1 << 52;
/// Chunks numbered below this are found through [`PhysMem`]'s direct
/// table: 4 GiB of memory, for a table of at most 4 MiB, grown only as far
/// as the highest chunk stored. The walker and the reverse map read entries
/// of page tables scattered over all of memory; an indexed load finds them
/// where a hash probe (and a small cache in front of it) missed.
pub const DIRECT_CHUNKS: u64 = 1 << 20;
/// Marks a chunk of the direct table never stored to.
const NO_CHUNK: u32 = u32::MAX;
/// Direct-mapped cache of recent hashed chunk look-ups; page walks revisit
/// the same few table chunks, so this saves most hash probes.
const RECENT_SLOTS: usize = 16;

/// Where every memory's epochs come from: a value is drawn once in the
/// process, so an epoch names one memory in one stretch of time, and a memo
/// used with another memory (a cloned MMU's, say) finds nothing of its own.
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// An epoch no memory has had (see [`PhysMem::epoch`]); never 0.
fn fresh_epoch() -> u64 {
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

/// Byte order of multi-byte loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    /// Least significant byte at the lowest address (x86, RISC-V, AArch64).
    Little,
    /// Most significant byte at the lowest address.
    Big,
}

/// Why a physical memory access could not be carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhysMemError {
    /// The access reaches past the end of physical memory.
    OutOfRange {
        /// First byte of the access.
        addr: u64,
        /// Length of the access in bytes.
        len: u64,
        /// Size of physical memory in bytes.
        size: u64,
    },
    /// A load or store width other than 1, 2, 4 or 8 bytes.
    BadWidth(usize),
    /// A memory size outside what [`PhysMem::new`] builds.
    BadSize(u64),
}

impl fmt::Display for PhysMemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhysMemError::OutOfRange { addr, len, size } => write!(
                f,
                "physical access of {len} byte(s) at {addr:#x} is outside physical memory of {size:#x} bytes"
            ),
            PhysMemError::BadWidth(w) => {
                write!(f, "access width {w} is not one of 1, 2, 4 or 8 bytes")
            }
            PhysMemError::BadSize(size) => write!(
                f,
                "a physical memory of {size} bytes is not one vmlab builds (8 bytes to {MAX_PHYS_BYTES:#x})"
            ),
        }
    }
}

impl std::error::Error for PhysMemError {}

/// Where one chunk of a [`PhysMem`] keeps its bytes ([`PhysMem::locate`]).
#[derive(Clone, Copy, Debug)]
pub struct ChunkPlace {
    /// Index of the chunk in the memory's backing store.
    idx: u32,
}

impl ChunkPlace {
    /// A place no chunk has: a prefetch through it hints nothing.
    pub const NOWHERE: ChunkPlace = ChunkPlace { idx: u32::MAX };
}

/// Byte-addressed simulated physical memory, allocated lazily.
pub struct PhysMem {
    size: u64,
    endian: Endian,
    /// Chunk number to its index in `store` ([`NO_CHUNK`] when untouched),
    /// for chunks below [`DIRECT_CHUNKS`]; as long as the highest one stored.
    direct: Vec<u32>,
    /// One bit per chunk of the direct table, set once the chunk has
    /// backing store: 32 times denser than `direct`, so asking whether a
    /// frame about to be zeroed holds anything (in trace mode it never
    /// does) reads a word that is usually cached, where its `direct` entry
    /// usually is not.
    stored: Vec<u64>,
    /// Chunk number to its index in `store`, for the chunks above.
    index: IntMap<u32>,
    /// Every touched chunk, back to back: chunk `i` is
    /// `store[i * CHUNK_BYTES..][..CHUNK_BYTES]`. One flat vector rather than
    /// a box per chunk saves the walker a dependent load per entry.
    store: Vec<u8>,
    /// `(chunk number + 1, index)`; zero marks an empty slot.
    recent: [Cell<(u64, u32)>; RECENT_SLOTS],
    /// See [`PhysMem::epoch`].
    epoch: u64,
    /// One bit per chunk of the direct table guarded in this epoch
    /// ([`PhysMem::guard`]); as long as the highest one guarded.
    guarded: Vec<u64>,
    /// The chunks whose bits `guarded` sets, to clear when the epoch ends.
    guard_list: Vec<u32>,
}

impl fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysMem")
            .field("size", &self.size)
            .field("endian", &self.endian)
            .field("touched_chunks", &(self.store.len() / CHUNK_BYTES))
            .finish()
    }
}

impl PhysMem {
    /// A physical memory of `size` bytes (8 to [`MAX_PHYS_BYTES`]) whose
    /// multi-byte values are stored in `endian` order. Nothing is allocated
    /// until the first store.
    pub fn new(size: u64, endian: Endian) -> Result<PhysMem, PhysMemError> {
        // At least 8 bytes, so the widest load's bounds check is one compare.
        if !(8..=MAX_PHYS_BYTES).contains(&size) {
            return Err(PhysMemError::BadSize(size));
        }
        Ok(PhysMem {
            size,
            endian,
            direct: Vec::new(),
            stored: Vec::new(),
            index: IntMap::default(),
            store: Vec::new(),
            recent: std::array::from_fn(|_| Cell::new((0, 0))),
            epoch: fresh_epoch(),
            guarded: Vec::new(),
            guard_list: Vec::new(),
        })
    }

    /// The current epoch: a value that stays until a store or zeroing
    /// writes into a chunk [guarded](PhysMem::guard) since it began, and
    /// that no memory has had before or will have again. A memo that
    /// guarded the bytes it read and notes the epoch is exact while
    /// `epoch()` still returns it.
    #[inline(always)]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Guards `addr..addr + len` for the current epoch: while the epoch
    /// lasts those bytes keep what they hold now. Guarding is by host
    /// chunk, so a write to a neighbour of the bytes ends the epoch too.
    /// False, guarding nothing, for bytes outside memory or beyond the
    /// direct table (no epoch protects those).
    pub fn guard(&mut self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len).filter(|&end| end <= self.size) else {
            return false;
        };
        if len == 0 {
            return true;
        }
        let (first, last) = (addr >> CHUNK_SHIFT, (end - 1) >> CHUNK_SHIFT);
        if last >= DIRECT_CHUNKS {
            return false;
        }
        for chunk in first..=last {
            // Below 2^20, so it fits a usize and a u32.
            let at = chunk as usize;
            if self.guarded.len() <= at / 64 {
                self.guarded.resize(at / 64 + 1, 0);
            }
            let word = &mut self.guarded[at / 64];
            if *word & (1 << (at % 64)) == 0 {
                *word |= 1 << (at % 64);
                self.guard_list.push(chunk as u32);
            }
        }
        true
    }

    /// Ends the epoch if `chunk` is guarded: called before a byte of it
    /// may change.
    #[inline(always)]
    fn note_write(&mut self, chunk: u64) {
        if chunk >= DIRECT_CHUNKS {
            return;
        }
        // Below 2^20, so it fits a usize.
        let at = chunk as usize;
        if self
            .guarded
            .get(at / 64)
            .is_some_and(|word| word & (1 << (at % 64)) != 0)
        {
            self.next_epoch();
        }
    }

    /// Starts a new epoch, with nothing guarded.
    #[cold]
    fn next_epoch(&mut self) {
        self.epoch = fresh_epoch();
        for chunk in self.guard_list.drain(..) {
            let at = chunk as usize;
            self.guarded[at / 64] &= !(1 << (at % 64));
        }
    }

    /// Size of physical memory in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Byte order of multi-byte loads and stores.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Host bytes spent on backing store (chunks touched by a store).
    pub fn resident_bytes(&self) -> u64 {
        self.store.len() as u64
    }

    fn check(&self, addr: u64, len: u64) -> Result<(), PhysMemError> {
        match addr.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(PhysMemError::OutOfRange {
                addr,
                len,
                size: self.size,
            }),
        }
    }

    #[inline(always)]
    fn lookup(&self, chunk: u64) -> Option<u32> {
        if chunk < DIRECT_CHUNKS {
            // `chunk` is below 2^20, so it fits a usize.
            return match self.direct.get(chunk as usize) {
                Some(&idx) if idx != NO_CHUNK => Some(idx),
                _ => None,
            };
        }
        self.lookup_hashed(chunk)
    }

    /// Whether `chunk` may have backing store: false only for a chunk of
    /// the direct table never stored to (see `stored`).
    #[inline(always)]
    fn may_be_stored(&self, chunk: u64) -> bool {
        if chunk >= DIRECT_CHUNKS {
            return true;
        }
        // Below 2^20, so it fits a usize.
        let at = chunk as usize;
        self.stored
            .get(at / 64)
            .is_some_and(|word| word & (1 << (at % 64)) != 0)
    }

    /// [`lookup`](PhysMem::lookup) of a chunk above the direct table.
    #[inline]
    fn lookup_hashed(&self, chunk: u64) -> Option<u32> {
        let slot = &self.recent[(chunk as usize) % RECENT_SLOTS];
        let (tag, idx) = slot.get();
        if tag == chunk + 1 {
            return Some(idx);
        }
        let idx = *self.index.get(&chunk)?;
        slot.set((chunk + 1, idx));
        Some(idx)
    }

    fn chunk(&self, idx: u32) -> &[u8] {
        &self.store[idx as usize * CHUNK_BYTES..][..CHUNK_BYTES]
    }

    /// The bytes of `chunk`, to write: every write to memory comes here or
    /// through [`PhysMem::zero`], which both end a guarded chunk's epoch.
    #[inline]
    fn chunk_mut(&mut self, chunk: u64) -> &mut [u8] {
        self.note_write(chunk);
        let idx = match self.lookup(chunk) {
            Some(idx) => idx,
            None => self.new_chunk(chunk),
        };
        &mut self.store[idx as usize * CHUNK_BYTES..][..CHUNK_BYTES]
    }

    /// Backing store for `chunk`, on its first store: zeroed, at the end
    /// of `store`. Returns its index.
    #[cold]
    fn new_chunk(&mut self, chunk: u64) -> u32 {
        let idx = (self.store.len() / CHUNK_BYTES) as u32;
        self.store.resize(self.store.len() + CHUNK_BYTES, 0);
        if chunk < DIRECT_CHUNKS {
            let at = chunk as usize;
            if self.direct.len() <= at {
                self.direct.resize(at + 1, NO_CHUNK);
            }
            self.direct[at] = idx;
            if self.stored.len() <= at / 64 {
                self.stored.resize(at / 64 + 1, 0);
            }
            self.stored[at / 64] |= 1 << (at % 64);
        } else {
            self.index.insert(chunk, idx);
        }
        idx
    }

    /// Hints that the bytes at `addr` will be read soon (see
    /// [`prefetch`](crate::prefetch::prefetch)); nothing for memory never
    /// stored to or outside memory.
    #[inline(always)]
    pub fn prefetch(&self, addr: u64) {
        if addr >= self.size {
            return;
        }
        if let Some(idx) = self.lookup(addr >> CHUNK_SHIFT) {
            let at = idx as usize * CHUNK_BYTES + (addr as usize & (CHUNK_BYTES - 1));
            crate::prefetch::prefetch(&self.store[at]);
        }
    }

    /// Where the backing store of the chunk holding `addr` lies, for a
    /// caller that will prefetch in that chunk again and again
    /// ([`PhysMem::prefetch_in`]); `None` for memory never stored to or
    /// outside memory. A chunk keeps its place for the life of the memory,
    /// so the answer never goes stale.
    #[inline]
    pub fn locate(&self, addr: u64) -> Option<ChunkPlace> {
        if addr >= self.size {
            return None;
        }
        self.lookup(addr >> CHUNK_SHIFT)
            .map(|idx| ChunkPlace { idx })
    }

    /// [`PhysMem::prefetch`] of `addr`, in the chunk `place` located for an
    /// address of the same chunk, without the look-up: hints the bytes and
    /// the chunk-table entry the next load of them reads, so neither waits
    /// for the other. A place of another chunk only wastes the hint.
    #[inline(always)]
    pub fn prefetch_in(&self, place: ChunkPlace, addr: u64) {
        let at = place.idx as usize * CHUNK_BYTES + (addr as usize & (CHUNK_BYTES - 1));
        if let Some(byte) = self.store.get(at) {
            crate::prefetch::prefetch(byte);
        }
        // A chunk above the direct table has no entry in it to find.
        if let Some(entry) = usize::try_from(addr >> CHUNK_SHIFT)
            .ok()
            .and_then(|chunk| self.direct.get(chunk))
        {
            crate::prefetch::prefetch(entry);
        }
    }

    /// Loads a `width`-byte value (1, 2, 4 or 8) at `addr`.
    #[inline(always)]
    pub fn load(&self, addr: u64, width: usize) -> Result<u64, PhysMemError> {
        match width {
            8 => self.load_n::<8>(addr),
            4 => self.load_n::<4>(addr),
            2 => self.load_n::<2>(addr),
            1 => self.load_n::<1>(addr),
            _ => Err(PhysMemError::BadWidth(width)),
        }
    }

    /// Loads a `W`-byte value (1, 2, 4 or 8) at `addr`; with the width
    /// known at compile time the common case is a few instructions.
    #[inline(always)]
    pub fn load_n<const W: usize>(&self, addr: u64) -> Result<u64, PhysMemError> {
        // The walker's path: inside memory and inside one chunk.
        let offset = (addr as usize) & (CHUNK_BYTES - 1);
        if offset + W <= CHUNK_BYTES && addr <= self.size - W as u64 {
            let raw = match self.lookup(addr >> CHUNK_SHIFT) {
                Some(idx) => {
                    let mut bytes = [0u8; 8];
                    let at = idx as usize * CHUNK_BYTES + offset;
                    bytes[..W].copy_from_slice(&self.store[at..at + W]);
                    u64::from_le_bytes(bytes)
                }
                None => 0,
            };
            return Ok(match self.endian {
                Endian::Little => raw,
                Endian::Big => raw.swap_bytes() >> (64 - 8 * W),
            });
        }
        self.load_slow(addr, W)
    }

    /// [`load`](PhysMem::load) for a bad width, an address out of range, or
    /// a value straddling two chunks.
    #[cold]
    fn load_slow(&self, addr: u64, width: usize) -> Result<u64, PhysMemError> {
        if !matches!(width, 1 | 2 | 4 | 8) {
            return Err(PhysMemError::BadWidth(width));
        }
        let mut buf = [0u8; 8];
        self.read_bytes(addr, &mut buf[..width])?;
        Ok(self.order(u64::from_le_bytes(buf), width))
    }

    /// Stores the low `width` bytes (1, 2, 4 or 8) of `value` at `addr`.
    #[inline(always)]
    pub fn store(&mut self, addr: u64, width: usize, value: u64) -> Result<(), PhysMemError> {
        match width {
            8 => self.store_n::<8>(addr, value),
            4 => self.store_n::<4>(addr, value),
            2 => self.store_n::<2>(addr, value),
            1 => self.store_n::<1>(addr, value),
            _ => Err(PhysMemError::BadWidth(width)),
        }
    }

    /// Stores the low `W` bytes (1, 2, 4 or 8) of `value` at `addr`; with
    /// the width known at compile time the copy is one move, not a call.
    #[inline(always)]
    pub fn store_n<const W: usize>(&mut self, addr: u64, value: u64) -> Result<(), PhysMemError> {
        // Page-table updates: inside memory and inside one chunk.
        let offset = (addr as usize) & (CHUNK_BYTES - 1);
        if offset + W <= CHUNK_BYTES && addr <= self.size - W as u64 {
            let le = self.order(value, W).to_le_bytes();
            self.chunk_mut(addr >> CHUNK_SHIFT)[offset..offset + W].copy_from_slice(&le[..W]);
            return Ok(());
        }
        self.store_slow(addr, W, value)
    }

    /// [`store`](PhysMem::store) for an address out of range or a value
    /// straddling two chunks.
    #[cold]
    fn store_slow(&mut self, addr: u64, width: usize, value: u64) -> Result<(), PhysMemError> {
        self.check(addr, width as u64)?;
        let le = self.order(value, width).to_le_bytes();
        let offset = (addr as usize) & (CHUNK_BYTES - 1);
        if offset + width <= CHUNK_BYTES {
            self.chunk_mut(addr >> CHUNK_SHIFT)[offset..offset + width]
                .copy_from_slice(&le[..width]);
            Ok(())
        } else {
            self.write_bytes(addr, &le[..width])
        }
    }

    /// Converts between a value and its little-endian image in `width`
    /// bytes: the identity on a little-endian machine, a byte swap of the
    /// low `width` bytes on a big-endian one (the swap is its own inverse).
    #[inline]
    fn order(&self, value: u64, width: usize) -> u64 {
        let value = if width == 8 {
            value
        } else {
            value & ((1u64 << (width * 8)) - 1)
        };
        match self.endian {
            Endian::Little => value,
            Endian::Big => value.swap_bytes() >> (64 - width * 8),
        }
    }

    /// Copies `out.len()` bytes starting at `addr` into `out`.
    pub fn read_bytes(&self, addr: u64, out: &mut [u8]) -> Result<(), PhysMemError> {
        self.check(addr, out.len() as u64)?;
        let mut done = 0;
        while done < out.len() {
            let at = addr + done as u64;
            let offset = (at as usize) & (CHUNK_BYTES - 1);
            let n = (CHUNK_BYTES - offset).min(out.len() - done);
            match self.lookup(at >> CHUNK_SHIFT) {
                Some(idx) => {
                    out[done..done + n].copy_from_slice(&self.chunk(idx)[offset..offset + n])
                }
                None => out[done..done + n].fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// Copies `data` into physical memory starting at `addr`.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), PhysMemError> {
        self.check(addr, data.len() as u64)?;
        let mut done = 0;
        while done < data.len() {
            let at = addr + done as u64;
            let offset = (at as usize) & (CHUNK_BYTES - 1);
            let n = (CHUNK_BYTES - offset).min(data.len() - done);
            self.chunk_mut(at >> CHUNK_SHIFT)[offset..offset + n]
                .copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Sets `len` bytes starting at `addr` to zero. Chunks never written stay
    /// unallocated, so zeroing a fresh frame costs no host memory.
    pub fn zero(&mut self, addr: u64, len: u64) -> Result<(), PhysMemError> {
        self.check(addr, len)?;
        let mut at = addr;
        let end = addr + len;
        while at < end {
            let offset = (at as usize) & (CHUNK_BYTES - 1);
            let n = ((CHUNK_BYTES - offset) as u64).min(end - at) as usize;
            let chunk = at >> CHUNK_SHIFT;
            if let Some(idx) = self
                .may_be_stored(chunk)
                .then(|| self.lookup(chunk))
                .flatten()
            {
                self.note_write(chunk);
                let at = idx as usize * CHUNK_BYTES + offset;
                self.store[at..at + n].fill(0);
            }
            at += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_memory_reads_zero_and_costs_nothing() {
        let mem = PhysMem::new(64 << 30, Endian::Little).unwrap();
        assert_eq!(mem.load(0x1234_5678, 8).unwrap(), 0);
        assert_eq!(mem.resident_bytes(), 0);
    }

    #[test]
    fn little_and_big_endian_layouts() {
        let mut le = PhysMem::new(4096, Endian::Little).unwrap();
        le.store(0, 4, 0x1122_3344).unwrap();
        let mut bytes = [0u8; 4];
        le.read_bytes(0, &mut bytes).unwrap();
        assert_eq!(bytes, [0x44, 0x33, 0x22, 0x11]);
        let mut be = PhysMem::new(4096, Endian::Big).unwrap();
        be.store(0, 4, 0x1122_3344).unwrap();
        be.read_bytes(0, &mut bytes).unwrap();
        assert_eq!(bytes, [0x11, 0x22, 0x33, 0x44]);
        assert_eq!(be.load(0, 2).unwrap(), 0x1122);
        assert_eq!(le.load(2, 2).unwrap(), 0x1122);
    }

    #[test]
    fn store_truncates_to_width_and_spares_neighbours() {
        let mut mem = PhysMem::new(1 << 20, Endian::Little).unwrap();
        mem.store(8, 8, u64::MAX).unwrap();
        mem.store(9, 2, 0xABCD_1234).unwrap();
        assert_eq!(mem.load(8, 8).unwrap(), 0xFFFF_FFFF_FF12_34FF);
    }

    #[test]
    fn accesses_straddling_chunks() {
        let mut mem = PhysMem::new(1 << 20, Endian::Little).unwrap();
        let addr = CHUNK_BYTES as u64 - 3;
        mem.store(addr, 8, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(mem.load(addr, 8).unwrap(), 0x0102_0304_0506_0708);
        assert_eq!(mem.load(CHUNK_BYTES as u64, 1).unwrap(), 0x05);
        assert_eq!(mem.resident_bytes(), 2 * CHUNK_BYTES as u64);
    }

    #[test]
    fn out_of_range_and_bad_width_are_errors() {
        let mut mem = PhysMem::new(4096, Endian::Little).unwrap();
        assert!(matches!(
            mem.load(4093, 4),
            Err(PhysMemError::OutOfRange { addr: 4093, .. })
        ));
        assert!(mem.store(u64::MAX - 1, 8, 0).is_err());
        assert_eq!(mem.load(0, 3), Err(PhysMemError::BadWidth(3)));
        // A size it does not build is named as a size (it read "physical
        // access of 2 byte(s) at 0x0 is outside physical memory of
        // 0x10000000000000 bytes").
        let e = PhysMem::new(2, Endian::Little).err().unwrap();
        assert_eq!(e, PhysMemError::BadSize(2));
        assert!(e
            .to_string()
            .starts_with("a physical memory of 2 bytes is not one vmlab builds"));
        assert_eq!(
            PhysMem::new(MAX_PHYS_BYTES + 1, Endian::Little).err(),
            Some(PhysMemError::BadSize(MAX_PHYS_BYTES + 1))
        );
        assert!(PhysMem::new(MAX_PHYS_BYTES, Endian::Little).is_ok());
    }

    #[test]
    fn zero_clears_only_the_range() {
        let mut mem = PhysMem::new(1 << 16, Endian::Little).unwrap();
        mem.write_bytes(100, &[0xAA; 50]).unwrap();
        mem.zero(110, 20).unwrap();
        assert_eq!(mem.load(109, 1).unwrap(), 0xAA);
        assert_eq!(mem.load(110, 8).unwrap(), 0);
        assert_eq!(mem.load(130, 1).unwrap(), 0xAA);
    }

    #[test]
    fn chunks_on_both_sides_of_the_direct_table_keep_their_bytes() {
        let mut mem = PhysMem::new(MAX_PHYS_BYTES, Endian::Little).unwrap();
        let edge = DIRECT_CHUNKS * CHUNK_BYTES as u64;
        let addrs = [edge + 16, 0, edge - 8, 5 * CHUNK_BYTES as u64, edge << 3];
        for (i, &addr) in addrs.iter().enumerate() {
            mem.store(addr, 8, i as u64 + 1).unwrap();
        }
        for (i, &addr) in addrs.iter().enumerate() {
            assert_eq!(mem.load(addr, 8).unwrap(), i as u64 + 1, "{addr:#x}");
        }
        // Untouched chunks between and beyond stored ones read zero and
        // allocate nothing, on either side of the edge.
        for addr in [
            CHUNK_BYTES as u64,
            edge - 2 * CHUNK_BYTES as u64,
            edge + 2 * CHUNK_BYTES as u64,
        ] {
            assert_eq!(mem.load(addr, 8).unwrap(), 0);
        }
        assert_eq!(mem.resident_bytes(), 5 * CHUNK_BYTES as u64);
        // Zeroing clears every stored chunk, whichever word of the stored
        // bitmap holds its bit, and allocates none for untouched ones.
        for &addr in addrs.iter().chain(&[edge - 3 * CHUNK_BYTES as u64]) {
            mem.zero(addr & !(CHUNK_BYTES as u64 - 1), CHUNK_BYTES as u64)
                .unwrap();
            assert_eq!(mem.load(addr, 8).unwrap(), 0, "{addr:#x}");
        }
        assert_eq!(mem.resident_bytes(), 5 * CHUNK_BYTES as u64);
    }

    /// A chunk has a place once stored to, on either side of the direct
    /// table, and the same place from any of its addresses; memory never
    /// stored to, or outside memory, has none.
    #[test]
    fn stored_chunks_have_places_and_only_they() {
        let mut mem = PhysMem::new(MAX_PHYS_BYTES, Endian::Little).unwrap();
        let edge = DIRECT_CHUNKS * CHUNK_BYTES as u64;
        for (i, addr) in [edge - 64, 3 * CHUNK_BYTES as u64, edge + 64]
            .into_iter()
            .enumerate()
        {
            assert!(mem.locate(addr).is_none(), "{addr:#x}");
            mem.store(addr, 8, 7).unwrap();
            let chunk_start = addr & !(CHUNK_BYTES as u64 - 1);
            let place = mem.locate(addr).unwrap();
            assert_eq!(place.idx, i as u32, "{addr:#x}");
            assert_eq!(mem.locate(chunk_start).unwrap().idx, place.idx);
            // A prefetch through the place changes nothing.
            mem.prefetch_in(place, addr);
            assert_eq!(mem.load(addr, 8).unwrap(), 7);
        }
        assert!(mem.locate(MAX_PHYS_BYTES).is_none());
        assert!(mem.locate(CHUNK_BYTES as u64).is_none());
    }

    /// Writes elsewhere keep the epoch; a store, a byte copy or a zeroing
    /// that reaches a guarded chunk (any byte of it) ends it, once: the
    /// new epoch guards nothing until asked. Memory beyond the direct
    /// table or outside memory cannot be guarded, and no two memories
    /// share an epoch.
    #[test]
    fn writes_to_guarded_chunks_end_the_epoch() {
        let chunk = CHUNK_BYTES as u64;
        let mut mem = PhysMem::new(1 << 30, Endian::Little).unwrap();
        mem.store(3 * chunk, 8, 1).unwrap();
        let writes: [fn(&mut PhysMem, u64); 3] = [
            |m, at| m.store(at, 4, 7).unwrap(),
            |m, at| m.write_bytes(at - 2, &[1; 4]).unwrap(),
            |m, at| m.zero(at, 1).unwrap(),
        ];
        for write in writes {
            let epoch = mem.epoch();
            assert!(mem.guard(3 * chunk + 8, 8));
            write(&mut mem, 5 * chunk + 16);
            write(&mut mem, 2 * chunk + 16);
            assert_eq!(mem.epoch(), epoch, "a write elsewhere");
            write(&mut mem, 3 * chunk + 100);
            let next = mem.epoch();
            assert_ne!(next, epoch, "a write into the guarded chunk");
            write(&mut mem, 3 * chunk + 100);
            assert_eq!(mem.epoch(), next, "nothing is guarded in a new epoch");
        }
        // Loads and look-ups change nothing.
        let epoch = mem.epoch();
        assert!(mem.guard(3 * chunk, 8));
        let _ = mem.load(3 * chunk, 8).unwrap();
        assert!(mem.locate(3 * chunk).is_some());
        assert_eq!(mem.epoch(), epoch);
        // A guard spanning two chunks guards both.
        assert!(mem.guard(7 * chunk - 4, 8));
        mem.store(7 * chunk + 64, 1, 1).unwrap();
        assert_ne!(mem.epoch(), epoch);
        assert!(!mem.guard((1 << 30) - 4, 8), "outside memory");
        let mut big = PhysMem::new(MAX_PHYS_BYTES, Endian::Little).unwrap();
        assert!(
            !big.guard(DIRECT_CHUNKS * chunk, 8),
            "beyond the direct table"
        );
        assert_ne!(big.epoch(), mem.epoch());
    }

    #[test]
    fn sparse_touches_allocate_one_chunk_each() {
        let mut mem = PhysMem::new(MAX_PHYS_BYTES, Endian::Little).unwrap();
        for i in 0..256u64 {
            mem.store(i << 40, 1, i).unwrap();
        }
        assert_eq!(mem.resident_bytes(), 256 * CHUNK_BYTES as u64);
        for i in 0..256u64 {
            assert_eq!(mem.load(i << 40, 1).unwrap(), i);
        }
    }
}
