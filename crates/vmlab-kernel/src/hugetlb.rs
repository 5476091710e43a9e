//! Huge pages, as Linux's hugetlbfs gives them to `mmap(MAP_HUGETLB)`: a
//! pool of huge frames reserved at boot ([`crate::KernelConfig::huge_pages`],
//! Linux's `nr_hugepages`), each of the scheme's next page size above the
//! base page (2 MiB on x86-64), contiguous and aligned in physical memory.
//!
//! A MAP_HUGETLB mapping is an object of its own (Linux backs it with an
//! unlinked hugetlbfs file): its length is rounded up to whole huge pages
//! and its start aligned to one; mmap reserves a pool page for every huge
//! page of it and fails with ENOMEM when the pool cannot promise them all,
//! as Linux's `hugetlb_reserve_pages` does, so a fault never finds the
//! pool empty. The first touch of a huge page takes one fault, zero-fills
//! the whole page and maps one huge leaf, which the TLB then caches as one
//! entry. Huge pages are never swapped or replaced. munmap needs a
//! huge-aligned address (EINVAL otherwise) and rounds the length up, as
//! Linux (and mprotect may not cut a huge page, EINVAL); a private
//! mapping's pages go back to the pool at once, a shared
//! object's when the last process mapping it lets go (munmap or exit).
//!
//! fork: a `MAP_SHARED` huge mapping stays shared (the child faults the
//! object's pages in as it touches them). A `MAP_PRIVATE` one is copied at
//! fork into a new object from the pool, huge page by huge page, and fork
//! fails with ENOMEM when the pool cannot hold the copy. Linux instead
//! shares the pages copy-on-write and, when a later copy finds the pool
//! empty, takes the mapping away from the child; the eager copy keeps the
//! same contents for both processes and never takes memory away later.
//!
//! Left out: MAP_HUGETLB on files (hugetlbfs mounts), the `MAP_HUGE_2MB`
//! size bits (the one huge size is used), surplus pages
//! (`nr_overcommit_hugepages`), madvise on huge-page mappings
//! (MADV_DONTNEED unmaps the leaf but the object keeps its page, where
//! Linux would free a private one).

use crate::frames::{FrameTable, FrameUse, Pid};
use crate::kernel::{ConfigError, Errno, Kernel};
use crate::policy::FrameId;
use crate::process::Signal;
use crate::region::{Region, RegionKind};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::arch::AdUpdate;
use vmlab_hw::{AccessKind, Arch};

/// One huge page of an object: (object, index of the huge page in it).
type HugeKey = (u64, u64);

/// The pool and which object holds which of its pages.
#[derive(Clone, Debug, Default)]
pub struct HugePool {
    /// The huge page size as a shift (0 when there is no pool).
    shift: u8,
    /// Physical address of the pool's first page.
    base: u64,
    /// Pool pages (indexes from the first frame) nobody holds.
    free: Vec<u32>,
    /// Pool pages holding objects' pages.
    pages: BTreeMap<HugeKey, u32>,
    /// Huge pages promised to mappings but not yet touched.
    reserved: BTreeSet<HugeKey>,
}

/// The huge page size and the frames a pool of `count` huge pages takes
/// out of `memory` frames (`None` for no pool), or why `arch` and that
/// memory cannot have it. Checked at boot, and by a machine file's
/// settings for runs that boot no kernel of theirs (traces).
pub(crate) fn reservation(
    arch: &Arch,
    memory: usize,
    count: usize,
) -> Result<Option<(u8, usize)>, ConfigError> {
    if count == 0 {
        return Ok(None);
    }
    let base = arch.page_shift();
    let Some(&(shift, _)) = arch.page_sizes().iter().find(|&&(s, _)| s > base) else {
        return Err(ConfigError(format!(
            "huge-pages: {} has one page size, so no huge pages",
            arch.name()
        )));
    };
    count
        .checked_mul(1usize << (shift - base))
        .filter(|&t| t + arch.levels().len() + 2 <= memory)
        .map(|total| Some((shift, total)))
        .ok_or_else(|| too_many(memory, count, shift))
}

/// A pool of `count` huge pages of `2^shift` bytes does not fit.
fn too_many(memory: usize, count: usize, shift: u8) -> ConfigError {
    ConfigError(format!(
        "huge-pages: {count} huge pages of {} need more than the {} frames of memory (and the kernel needs some)",
        vmlab_hw::pagetable::format_page_size(shift),
        memory
    ))
}

impl HugePool {
    /// Reserves `count` huge pages at boot out of `frames`: as high in
    /// memory as they fit, aligned to their size. Errors name the
    /// `huge-pages` setting.
    pub(crate) fn boot(
        arch: &Arch,
        frames: &mut FrameTable,
        count: usize,
    ) -> Result<HugePool, ConfigError> {
        let Some((shift, total)) = reservation(arch, frames.len(), count)? else {
            return Ok(HugePool::default());
        };
        let base = arch.page_shift();
        let per_page = 1usize << (shift - base);
        let memory = frames.len();
        let too_many = || too_many(memory, count, shift);
        let start = (memory - total) / per_page * per_page;
        let first_frame = FrameId::try_from(start).map_err(|_| too_many())?;
        if !frames.take_range(first_frame, total, FrameUse::HugePool) {
            return Err(too_many());
        }
        Ok(HugePool {
            shift,
            base: (start as u64) << base,
            // Popped from the end: the lowest page first.
            free: (0..count as u32).rev().collect(),
            pages: BTreeMap::new(),
            reserved: BTreeSet::new(),
        })
    }

    /// The huge page size in bytes (0 with no pool).
    pub fn page_bytes(&self) -> u64 {
        if self.shift == 0 {
            0
        } else {
            1 << self.shift
        }
    }

    /// The huge page size as a shift (0 with no pool).
    pub fn page_shift(&self) -> u8 {
        self.shift
    }

    /// Pool pages neither held nor promised (Linux's `HugePages_Free`
    /// minus `HugePages_Rsvd`).
    pub fn available(&self) -> usize {
        self.free.len().saturating_sub(self.reserved.len())
    }

    /// Pool pages nobody holds (`HugePages_Free`).
    pub fn free_pages(&self) -> usize {
        self.free.len()
    }

    /// The physical address of pool page `index`.
    fn address(&self, index: u32) -> u64 {
        self.base + (u64::from(index) << self.shift)
    }

    /// Takes a pool page for `key`: its reservation if it has one, else an
    /// unpromised page.
    fn take(&mut self, key: HugeKey) -> Option<u32> {
        if !self.reserved.remove(&key) && self.available() == 0 {
            return None;
        }
        let index = self.free.pop()?;
        self.pages.insert(key, index);
        Some(index)
    }

    /// Gives back the pages of `object` with index in `indexes`, and their
    /// reservations.
    fn release(&mut self, object: u64, indexes: std::ops::Range<u64>) {
        let keys: Vec<HugeKey> = self
            .pages
            .range((object, indexes.start)..(object, indexes.end))
            .map(|(&k, _)| k)
            .collect();
        for key in keys {
            if let Some(index) = self.pages.remove(&key) {
                self.free.push(index);
            }
        }
        let promised: Vec<HugeKey> = self
            .reserved
            .range((object, indexes.start)..(object, indexes.end))
            .copied()
            .collect();
        for key in promised {
            self.reserved.remove(&key);
        }
    }

    /// The objects holding pages or reservations.
    fn objects(&self) -> BTreeSet<u64> {
        self.pages
            .keys()
            .chain(self.reserved.iter())
            .map(|&(object, _)| object)
            .collect()
    }
}

impl Kernel {
    /// The huge-page pool.
    pub fn huge_pool(&self) -> &HugePool {
        &self.huge
    }

    /// mmap's MAP_HUGETLB part for an anonymous mapping: the length in
    /// whole huge pages, the start aligned to one (EINVAL for an unaligned
    /// fixed address), the pages promised (ENOMEM when the pool is short).
    pub(crate) fn mmap_huge(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        prot: crate::region::Prot,
        shared: bool,
        fixed: bool,
    ) -> Result<u64, Errno> {
        let huge = self.huge.page_bytes();
        if huge == 0 {
            return Err(Errno::Enomem);
        }
        let len = len.checked_next_multiple_of(huge).ok_or(Errno::Enomem)?;
        if fixed && addr % huge != 0 {
            return Err(Errno::Einval);
        }
        let count = len / huge;
        if (self.huge.available() as u64) < count {
            return Err(Errno::Enomem);
        }
        let start = if fixed {
            addr
        } else {
            // Room for the length plus one huge page, aligned inside.
            let regions = &self.procs[&pid].regions;
            let hint = (addr != 0).then_some(addr);
            let room = len.checked_add(huge).ok_or(Errno::Enomem)?;
            let at = regions
                .find_free(room - self.page_bytes(), hint, false)
                .map_err(|_| Errno::Enomem)?;
            at.next_multiple_of(huge)
        };
        if fixed {
            self.unmap_range(pid, start, len)?;
        }
        self.next_object += 1;
        let object = self.next_object;
        let kind = RegionKind::HugeTlb {
            object,
            offset: 0,
            shared,
        };
        let region = Region::new(start, start + len, prot, kind);
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        p.regions.insert(region).map_err(|_| Errno::Enomem)?;
        self.huge.reserved.extend((0..count).map(|i| (object, i)));
        Ok(start)
    }

    /// munmap's check of a range that touches huge-page mappings: the
    /// address must be huge aligned (EINVAL), and the length rounds up to
    /// whole huge pages. Other ranges keep their length.
    pub(crate) fn huge_unmap_len(&self, pid: Pid, addr: u64, len: u64) -> Result<u64, Errno> {
        let huge = self.huge.page_bytes();
        let Some(p) = self.procs.get(&pid) else {
            return Ok(len);
        };
        let end = addr.saturating_add(len.max(1));
        let touches = p
            .regions
            .overlapping(addr, end)
            .any(|r| matches!(r.kind, RegionKind::HugeTlb { .. }));
        if !touches || huge == 0 {
            return Ok(len);
        }
        if addr % huge != 0 {
            return Err(Errno::Einval);
        }
        len.checked_next_multiple_of(huge).ok_or(Errno::Einval)
    }

    /// mprotect's check: `[start, end)` may not cut a huge-page region
    /// inside a huge page (EINVAL, as Linux's `hugetlb_vm_op_split`).
    pub(crate) fn huge_split_check(&self, pid: Pid, start: u64, end: u64) -> Result<(), Errno> {
        let huge = self.huge.page_bytes();
        let Some(p) = self.procs.get(&pid) else {
            return Ok(());
        };
        let cuts = |r: &Region, at: u64| r.start < at && at < r.end && at % huge != 0;
        let bad = p
            .regions
            .overlapping(start, end)
            .filter(|r| matches!(r.kind, RegionKind::HugeTlb { .. }))
            .any(|r| cuts(r, start) || cuts(r, end));
        if bad {
            Err(Errno::Einval)
        } else {
            Ok(())
        }
    }

    /// A not-present fault in a huge-page region: map the object's huge
    /// page, zero-filling a new one.
    pub(crate) fn huge_fault(
        &mut self,
        pid: Pid,
        vaddr: u64,
        region: &Region,
        kind: AccessKind,
        tables_present: bool,
    ) -> Result<(), Signal> {
        let bus = crate::kernel::bus(vaddr);
        let RegionKind::HugeTlb { object, .. } = region.kind else {
            return Err(bus);
        };
        let huge = self.huge.page_bytes();
        let base = vaddr & !(huge - 1);
        let offset = region.object_offset(base).ok_or(bus)?;
        let key = (object, offset / huge);
        let index = match self.huge.pages.get(&key) {
            Some(&index) => index,
            None => {
                // Linux: no huge page for the fault is SIGBUS.
                let index = self.huge.take(key).ok_or(bus)?;
                let _ = self.mem.zero(self.huge.address(index), huge);
                self.counters.zero_fills += 1;
                index
            }
        };
        if !tables_present {
            self.reserve_tables(pid, base)?;
        }
        let arch = Arc::clone(&self.arch);
        let soft_flags = arch.ad_update() == AdUpdate::Fault;
        let attrs = LeafAttrs {
            perms: crate::kernel::perms_for(region.prot),
            global: false,
            accessed: soft_flags,
            dirty: soft_flags && kind == AccessKind::Write,
        };
        let addr = self.huge.address(index);
        let shift = self.huge.page_shift();
        let page_shift = self.page_shift();
        let p = self.procs.get_mut(&pid).ok_or(bus)?;
        let mut alloc = crate::kernel::TableFrames {
            frames: &mut self.frames,
            page_shift,
        };
        p.page_table
            .map(&arch, &mut self.mem, &mut alloc, base, addr, shift, attrs)
            .map_err(|_| bus)?;
        self.counters.huge_faults += 1;
        self.count_minor(pid);
        Ok(())
    }

    /// Gives back what `[start, end)` of `region` held: a private
    /// mapping's huge pages and their reservations (a shared object keeps
    /// its pages until [`Kernel::collect_huge`]).
    pub(crate) fn release_huge(&mut self, region: &Region, start: u64, end: u64) {
        let RegionKind::HugeTlb {
            object,
            shared: false,
            ..
        } = region.kind
        else {
            return;
        };
        let huge = self.huge.page_bytes();
        let (Some(from), Some(to)) = (
            region.object_offset(start.max(region.start)),
            region.object_offset(end.min(region.end) - 1),
        ) else {
            return;
        };
        self.huge.release(object, from / huge..to / huge + 1);
    }

    /// Returns to the pool the pages of huge-page objects no live process
    /// maps any more.
    pub(crate) fn collect_huge(&mut self) {
        for object in self.huge.objects() {
            if !self.procs.values().any(|p| p.maps_object(object)) {
                self.huge.release(object, 0..u64::MAX);
            }
        }
    }

    /// fork's part for a huge-page region of the parent: a shared one the
    /// child has inherited as it is; a private one the child gets as a new
    /// object with a copy of every page the parent touched and a promise
    /// of the rest (ENOMEM when the pool cannot hold them; pages already
    /// copied go back when the failed child is collected).
    pub(crate) fn fork_huge(&mut self, child: Pid, region: &Region) -> Result<(), Errno> {
        let RegionKind::HugeTlb {
            object,
            offset,
            shared: false,
        } = region.kind
        else {
            return Ok(());
        };
        let huge = self.huge.page_bytes();
        let first = offset / huge;
        let count = region.size() / huge;
        if (self.huge.available() as u64) < count {
            return Err(Errno::Enomem);
        }
        self.next_object += 1;
        let copy = self.next_object;
        for i in 0..count {
            let Some(&from) = self.huge.pages.get(&(object, first + i)) else {
                self.huge.reserved.insert((copy, i));
                continue;
            };
            let to = self.huge.take((copy, i)).ok_or(Errno::Enomem)?;
            let (src, dst) = (self.huge.address(from), self.huge.address(to));
            let mut bytes = vec![0; huge as usize];
            self.mem
                .read_bytes(src, &mut bytes)
                .and_then(|()| self.mem.write_bytes(dst, &bytes))
                .map_err(|_| Errno::Enomem)?;
        }
        let kind = RegionKind::HugeTlb {
            object: copy,
            offset: 0,
            shared: false,
        };
        let c = self.procs.get_mut(&child).ok_or(Errno::Esrch)?;
        c.regions
            .insert(Region { kind, ..*region })
            .map_err(|_| Errno::Enomem)
    }
}
