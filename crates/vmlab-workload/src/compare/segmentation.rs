//! The segmented machine of a comparison: every object is one segment,
//! placed in physical memory by a [`FreeSpaceAllocator`], with its base
//! and bounds in a segment table of 8-byte descriptors (the x86
//! descriptor size, Intel SDM Vol. 3A §3.4.5).
//!
//! Translation model: the processor holds a few segment registers, each
//! caching one descriptor (x86 has six). An access through a loaded
//! register costs one memory reference, the data itself (base + offset is
//! an add and a bounds compare); an access to a segment not loaded first
//! loads its descriptor from the table, one more reference, into the
//! least recently used register. Moving or freeing a segment drops its
//! cached descriptor.
//!
//! With compaction on, an allocation that fails although enough bytes are
//! free compacts the arena (its cost: bytes copied) and tries once more.

use super::{CompareError, Sample, SchemeReport, Stepper};
use vmlab_kernel::freespace::{by_name, FreeSpaceAllocator};

/// Bytes of one segment descriptor.
pub const DESCRIPTOR_BYTES: u64 = 8;

/// A live segment.
#[derive(Clone, Copy, Debug)]
struct Segment {
    base: u64,
    size: u64,
}

/// Segmentation with one allocator.
pub(super) struct Segmented {
    allocator: Box<dyn FreeSpaceAllocator>,
    /// By workload slot.
    segments: Vec<Option<Segment>>,
    /// Slots whose descriptors the registers hold, least recently used
    /// first.
    registers: Vec<u32>,
    register_count: usize,
    /// Segments allocated and not freed: the segment table's entries.
    live: u64,
    compact: bool,
    report: SchemeReport,
}

impl Segmented {
    /// Segmentation over `mem` bytes with the allocator `name`, `slots`
    /// workload slots and `registers` segment registers.
    pub(super) fn new(
        name: &str,
        mem: u64,
        slots: usize,
        registers: usize,
        compact: bool,
    ) -> Result<Segmented, CompareError> {
        let allocator =
            by_name(name, 0, mem).map_err(|e| CompareError::Allocator(e.to_string()))?;
        Ok(Segmented {
            allocator,
            segments: vec![None; slots],
            // More registers than objects are never filled.
            registers: Vec::with_capacity(registers.min(slots)),
            register_count: registers,
            live: 0,
            compact,
            report: SchemeReport::new("segmentation", name.to_owned()),
        })
    }

    /// Compacts, moving the bases of the segments that moved; false when
    /// the allocator cannot compact.
    fn compact(&mut self) -> bool {
        let Some(c) = self.allocator.compact() else {
            return false;
        };
        // Relocations come in address order: look each segment up by base.
        for (slot, seg) in self.segments.iter_mut().enumerate() {
            let Some(seg) = seg else { continue };
            if let Ok(i) = c.relocations.binary_search_by_key(&seg.base, |r| r.from) {
                seg.base = c.relocations[i].to;
                self.registers.retain(|&s| s as usize != slot);
            }
        }
        self.report.compactions += 1;
        self.report.bytes_moved += c.bytes_moved;
        true
    }
}

impl Stepper for Segmented {
    fn allocate(&mut self, slot: u32, size: u64) -> Result<(), CompareError> {
        self.report.allocations += 1;
        let mut base = self.allocator.allocate(size);
        if base.is_none()
            && self.compact
            && self.allocator.stats().free_bytes >= size
            && self.compact()
        {
            base = self.allocator.allocate(size);
        }
        match base {
            Some(base) => {
                self.segments[slot as usize] = Some(Segment { base, size });
                self.live += 1;
                let table = self.live * DESCRIPTOR_BYTES;
                self.report.peak_table_bytes = self.report.peak_table_bytes.max(table);
            }
            None => self.report.failed_allocations += 1,
        }
        Ok(())
    }

    fn free(&mut self, slot: u32) -> Result<(), CompareError> {
        let Some(seg) = self.segments[slot as usize].take() else {
            return Ok(());
        };
        self.registers.retain(|&s| s != slot);
        self.live -= 1;
        self.allocator
            .free(seg.base)
            .map(|_| ())
            .map_err(|e| CompareError::Machine(format!("segment of slot {slot}: {e}")))
    }

    fn access(&mut self, slot: u32, offset: u64) -> Result<(), CompareError> {
        let Some(seg) = self.segments[slot as usize] else {
            return Ok(());
        };
        if offset >= seg.size {
            return Err(CompareError::Machine(format!(
                "offset {offset} is past the {}-byte segment of slot {slot}",
                seg.size
            )));
        }
        self.report.accesses += 1;
        self.report.memory_references += 1;
        match self.registers.iter().position(|&s| s == slot) {
            Some(i) => {
                self.registers.remove(i);
            }
            None => {
                self.report.translation_misses += 1;
                self.report.memory_references += 1;
                if self.register_count == 0 {
                    return Ok(());
                }
                if self.registers.len() == self.register_count {
                    self.registers.remove(0);
                }
            }
        }
        self.registers.push(slot);
        Ok(())
    }

    fn sample(&self, event: u64) -> Sample {
        let s = self.allocator.stats();
        Sample {
            event,
            free_bytes: s.free_bytes,
            largest_free: s.largest_free,
            external_fragmentation: s.external_fragmentation(),
            live_bytes: s.requested_bytes,
            internal_bytes: s.allocated_bytes - s.requested_bytes,
            internal_fragmentation: s.internal_fragmentation(),
            failed_allocations: self.report.failed_allocations,
            table_bytes: self.live * DESCRIPTOR_BYTES,
        }
    }

    fn report(&mut self) -> &mut SchemeReport {
        &mut self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(m: &Segmented, slot: usize) -> Option<u64> {
        m.segments[slot].map(|s| s.base)
    }

    /// First fit in 100 bytes: five 20-byte segments, the second and
    /// fourth freed leave two 20-byte holes (40 free, largest 20). A
    /// 30-byte segment fails; with compaction the segments at 40 and 80
    /// slide to 20 and 40 (40 bytes copied) and it goes at 60.
    #[test]
    fn compaction_on_failure_moves_segments_and_counts_bytes() {
        for compact in [false, true] {
            let mut m = Segmented::new("first", 100, 5, 6, compact).unwrap();
            for slot in 0..5 {
                m.allocate(slot, 20).unwrap();
            }
            m.free(1).unwrap();
            m.free(3).unwrap();
            let s = m.sample(7);
            assert_eq!((s.free_bytes, s.largest_free), (40, 20));
            assert_eq!(s.external_fragmentation, 0.5);
            assert_eq!(s.table_bytes, 3 * DESCRIPTOR_BYTES);
            m.access(4, 0).unwrap();
            m.allocate(1, 30).unwrap();
            let r = m.report().clone();
            if compact {
                assert_eq!(r.failed_allocations, 0);
                assert_eq!((r.compactions, r.bytes_moved), (1, 40));
                assert_eq!(
                    [0, 1, 2, 4].map(|s| base(&m, s)),
                    [Some(0), Some(60), Some(20), Some(40)]
                );
                // The moved segment's cached descriptor was dropped.
                m.access(4, 0).unwrap();
                assert_eq!(m.report().translation_misses, 2);
            } else {
                assert_eq!(r.failed_allocations, 1);
                assert_eq!(r.compactions, 0);
                assert_eq!(base(&m, 1), None);
                // The failed object's free and accesses are skipped.
                m.access(1, 0).unwrap();
                m.free(1).unwrap();
                assert_eq!(m.report().accesses, 1);
            }
        }
    }

    /// Compaction cannot help when the request exceeds all free memory,
    /// and the buddy allocator cannot compact at all.
    #[test]
    fn no_compaction_when_it_cannot_help() {
        let mut m = Segmented::new("first", 100, 2, 6, true).unwrap();
        m.allocate(0, 60).unwrap();
        m.allocate(1, 50).unwrap();
        assert_eq!(m.report().compactions, 0);
        let mut b = Segmented::new("buddy", 1024, 4, 6, true).unwrap();
        for slot in 0..4 {
            b.allocate(slot, 256).unwrap();
        }
        b.free(0).unwrap();
        b.free(2).unwrap();
        b.allocate(0, 512).unwrap();
        assert_eq!(
            (b.report().failed_allocations, b.report().compactions),
            (1, 0)
        );
    }

    /// Accesses to 0, 0, 1, 0: with one register, miss, hit, miss, miss
    /// (7 references); with two, miss, hit, miss, hit (6); with none,
    /// every access loads a descriptor (8).
    #[test]
    fn segment_registers_cache_descriptors() {
        for (registers, refs, misses) in [(1, 7, 3), (2, 6, 2), (0, 8, 4)] {
            let mut m = Segmented::new("best", 1000, 2, registers, false).unwrap();
            m.allocate(0, 100).unwrap();
            m.allocate(1, 100).unwrap();
            for slot in [0, 0, 1, 0] {
                m.access(slot, 8).unwrap();
            }
            let r = m.report();
            assert_eq!((r.accesses, r.memory_references), (4, refs), "{registers}");
            assert_eq!(r.translation_misses, misses);
        }
        let mut m = Segmented::new("best", 1000, 1, 2, false).unwrap();
        m.allocate(0, 100).unwrap();
        assert!(m.access(0, 100).is_err(), "past the bound");
    }
}
