//! The paged machine of a comparison: every object gets `ceil(size /
//! page)` pages, each backed by any free frame of a frame pool, mapped by
//! the real page-table editor of the chosen scheme
//! ([`vmlab_hw::PageTable`]) into one address space whose virtual ranges
//! are placed first fit. Accesses go through the scheme's MMU
//! ([`vmlab_hw::Mmu`]) with its TLB: a TLB hit costs one memory reference,
//! a miss adds the entries the walker reads (page-walk caches are not
//! modelled). Freeing an object unmaps its pages (tables left empty are
//! given back) and flushes their TLB entries.
//!
//! Any free frame serves any page, so paging has no external
//! fragmentation: the largest request that can succeed is all free
//! memory. Its waste is internal, the unused tail of each object's last
//! page. Page tables live in physical memory above the frame pool and are
//! counted separately from it.

use super::{CompareError, Sample, SchemeReport, Stepper};
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{
    AccessKind, Arch, Context, Mmu, Mode, NoEvents, PageTable, Perms, PhysMem, TableArena,
};
use vmlab_kernel::freespace::first_fit::FirstFit;
use vmlab_kernel::freespace::list::ListAllocator;
use vmlab_kernel::freespace::FreeSpaceAllocator;

/// Where an object lives.
#[derive(Clone, Copy, Debug)]
struct Object {
    vaddr: u64,
    size: u64,
    pages: u64,
}

/// Paging with one page size.
pub(super) struct Paged {
    arch: Arch,
    page_shift: u8,
    page: u64,
    mem: PhysMem,
    tables: TableArena,
    pt: PageTable,
    mmu: Mmu,
    /// The free frames.
    frames: FreeFrames,
    /// Virtual address space for objects, in bytes.
    vspace: ListAllocator<FirstFit>,
    /// By workload slot.
    objects: Vec<Option<Object>>,
    live_bytes: u64,
    live_pages: u64,
    report: SchemeReport,
}

impl Paged {
    /// Paging over `mem` bytes of frames of `1 << page_shift` bytes on
    /// `arch` with a TLB shaped by `tlb`, for `slots` workload slots.
    pub(super) fn new(
        arch: &Arch,
        page_shift: u8,
        tlb: &TlbConfig,
        mem: u64,
        slots: usize,
    ) -> Result<Paged, CompareError> {
        let page = 1u64 << page_shift;
        let Some(leaf_level) = arch.level_for_page_shift(page_shift) else {
            return Err(CompareError::PageSize(format!(
                "{} has no {} pages",
                arch.name(),
                vmlab_hw::pagetable::format_page_size(page_shift)
            )));
        };
        let total_frames = mem / page;
        // Live tables never exceed the root plus, per mapped page, one
        // table at each level above its leaf; freed tables are reused.
        let most_table_bytes = (0..=leaf_level)
            .map(|l| arch.table_alloc_bytes(l))
            .max()
            .unwrap_or(0);
        let most_tables = total_frames
            .checked_mul(leaf_level as u64)
            .and_then(|t| t.checked_add(1));
        let table_base = mem.next_multiple_of(arch.page_bytes());
        let phys_end = most_tables
            .and_then(|t| t.checked_mul(most_table_bytes))
            .and_then(|b| b.checked_add(table_base))
            .filter(|&end| arch.fits_physical(end - 1))
            .ok_or_else(|| {
                CompareError::Memory(format!(
                    "{mem} bytes of {} pages and their page tables do not fit in {}'s {}-bit \
                     physical address space",
                    vmlab_hw::pagetable::format_page_size(page_shift),
                    arch.name(),
                    arch.pa_bits()
                ))
            })?;
        let mut phys = PhysMem::new(phys_end, arch.endian())
            .map_err(|e| CompareError::Memory(e.to_string()))?;
        let mut tables = TableArena::new(table_base, phys_end, arch.page_bytes());
        let pt = PageTable::new(arch, &mut phys, &mut tables)
            .map_err(|e| CompareError::Machine(e.to_string()))?;
        let mmu = Mmu::new(arch.clone(), tlb).map_err(|e| CompareError::Tlb(e.to_string()))?;
        // Objects go in the lower (user) half of the address space, from
        // 1 GiB (or one page, if larger) up.
        let vbase = (1u64 << 30).next_multiple_of(page);
        let vtop = 1u64 << (arch.va_bits() - 1);
        if vbase >= vtop {
            return Err(CompareError::PageSize(format!(
                "{}'s {}-bit address space has no room for {} pages",
                arch.name(),
                arch.va_bits(),
                vmlab_hw::pagetable::format_page_size(page_shift)
            )));
        }
        let vsize = (vtop - vbase) / page * page;
        Ok(Paged {
            arch: arch.clone(),
            page_shift,
            page,
            mem: phys,
            tables,
            pt,
            mmu,
            frames: FreeFrames::new(total_frames, page),
            vspace: ListAllocator::new(vbase, vsize, FirstFit),
            objects: vec![None; slots],
            live_bytes: 0,
            live_pages: 0,
            report: SchemeReport::new(
                "paging",
                format!(
                    "{} ({})",
                    vmlab_hw::pagetable::format_page_size(page_shift),
                    arch.name()
                ),
            ),
        })
    }

    fn machine_error(&self, what: impl std::fmt::Display) -> CompareError {
        CompareError::Machine(format!("{}: {what}", self.report.config))
    }
}

/// The free frames: those freed, the last freed handed out first, then
/// those never used, lowest first. Memory of any size costs two words
/// until frames are freed (a vector of every frame took 128 GiB of host
/// memory for 64 TiB of 4 KiB frames, and the process aborted).
#[derive(Debug)]
struct FreeFrames {
    /// Addresses of freed frames, the last freed at the end.
    freed: Vec<u64>,
    /// The lowest frame number never handed out.
    fresh: u64,
    total: u64,
    page: u64,
}

impl FreeFrames {
    /// `total` frames of `page` bytes from address 0, all free.
    fn new(total: u64, page: u64) -> FreeFrames {
        FreeFrames {
            freed: Vec::new(),
            fresh: 0,
            total,
            page,
        }
    }

    /// How many frames are free.
    fn count(&self) -> u64 {
        self.freed.len() as u64 + (self.total - self.fresh)
    }

    /// A free frame's address, taken.
    fn pop(&mut self) -> Option<u64> {
        if let Some(frame) = self.freed.pop() {
            return Some(frame);
        }
        (self.fresh < self.total).then(|| {
            self.fresh += 1;
            (self.fresh - 1) * self.page
        })
    }

    /// Gives back the frame at `addr`.
    fn push(&mut self, addr: u64) {
        self.freed.push(addr);
    }
}

impl Stepper for Paged {
    fn allocate(&mut self, slot: u32, size: u64) -> Result<(), CompareError> {
        self.report.allocations += 1;
        let pages = size.div_ceil(self.page);
        let vaddr = if pages <= self.frames.count() {
            self.vspace.allocate(pages * self.page)
        } else {
            None
        };
        let Some(vaddr) = vaddr else {
            self.report.failed_allocations += 1;
            return Ok(());
        };
        let attrs = LeafAttrs {
            // Set so schemes whose hardware does not set it (AArch64's
            // access flag) do not fault on the first access.
            accessed: true,
            ..LeafAttrs::new(Perms::READ | Perms::WRITE | Perms::USER)
        };
        for i in 0..pages {
            let frame = self
                .frames
                .pop()
                .ok_or_else(|| self.machine_error("no frame"))?;
            self.pt
                .map(
                    &self.arch,
                    &mut self.mem,
                    &mut self.tables,
                    vaddr + i * self.page,
                    frame,
                    self.page_shift,
                    attrs,
                )
                .map_err(|e| self.machine_error(e))?;
        }
        self.objects[slot as usize] = Some(Object { vaddr, size, pages });
        self.live_bytes += size;
        self.live_pages += pages;
        let table = self.pt.table_bytes();
        self.report.peak_table_bytes = self.report.peak_table_bytes.max(table);
        Ok(())
    }

    fn free(&mut self, slot: u32) -> Result<(), CompareError> {
        let Some(obj) = self.objects[slot as usize].take() else {
            return Ok(());
        };
        for i in 0..obj.pages {
            let va = obj.vaddr + i * self.page;
            let gone = self
                .pt
                .unmap(&self.arch, &mut self.mem, &mut self.tables, va)
                .map_err(|e| self.machine_error(e))?
                .ok_or_else(|| self.machine_error(format!("{va:#x} was not mapped")))?;
            self.frames.push(gone.frame);
            self.mmu.tlb_mut().flush_page(va, None);
        }
        self.vspace
            .free(obj.vaddr)
            .map_err(|e| self.machine_error(e))?;
        self.live_bytes -= obj.size;
        self.live_pages -= obj.pages;
        Ok(())
    }

    fn access(&mut self, slot: u32, offset: u64) -> Result<(), CompareError> {
        let Some(obj) = self.objects[slot as usize] else {
            return Ok(());
        };
        let ctx = Context {
            root: self.pt.root(),
            asid: 0,
        };
        let vaddr = obj.vaddr + offset;
        let done = self
            .mmu
            .access(
                &mut self.mem,
                ctx,
                vaddr,
                AccessKind::Read,
                Mode::User,
                &mut NoEvents,
            )
            .map_err(|f| self.machine_error(format!("{vaddr:#x}: {f}")))?;
        self.report.accesses += 1;
        self.report.memory_references += 1 + u64::from(done.cost.walk_reads);
        if done.tlb_level.is_none() {
            self.report.translation_misses += 1;
        }
        Ok(())
    }

    fn sample(&self, event: u64) -> Sample {
        let free_bytes = self.frames.count() * self.page;
        let held = self.live_pages * self.page;
        Sample {
            event,
            free_bytes,
            largest_free: free_bytes,
            external_fragmentation: 0.0,
            live_bytes: self.live_bytes,
            internal_bytes: held - self.live_bytes,
            internal_fragmentation: if held == 0 {
                0.0
            } else {
                (held - self.live_bytes) as f64 / held as f64
            },
            failed_allocations: self.report.failed_allocations,
            table_bytes: self.pt.table_bytes(),
        }
    }

    fn report(&mut self) -> &mut SchemeReport {
        &mut self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_hw::arch::presets;
    use vmlab_hw::default_tlb;

    fn x86() -> Arch {
        presets::by_name("x86-64").unwrap().unwrap()
    }

    fn paged(shift: u8, mem: u64, slots: usize) -> Paged {
        let arch = x86();
        Paged::new(&arch, shift, &default_tlb(&arch), mem, slots).unwrap()
    }

    /// Two 5000-byte objects on 4 KiB pages take two pages each: 3192
    /// bytes wasted per object, 6384 of 16384. Both sit under one PT, so
    /// the tables are PML4, PDPT, PD and PT: 16 KiB. On 2 MiB pages the
    /// waste is 2 MiB - 5000 each and the tables stop at the PD: 12 KiB.
    #[test]
    fn internal_fragmentation_and_page_tables_by_hand() {
        let mut m = paged(12, 1 << 20, 2);
        m.allocate(0, 5000).unwrap();
        m.allocate(1, 5000).unwrap();
        let s = m.sample(2);
        assert_eq!((s.live_bytes, s.internal_bytes), (10000, 6384));
        assert_eq!(s.internal_fragmentation, 6384.0 / 16384.0);
        assert_eq!(s.table_bytes, 16 << 10);
        assert_eq!(s.free_bytes, (1 << 20) - 16384);
        assert_eq!(
            (s.largest_free, s.external_fragmentation),
            (s.free_bytes, 0.0)
        );
        // Freeing both gives every frame and every table but the root back.
        m.free(0).unwrap();
        m.free(1).unwrap();
        let s = m.sample(4);
        assert_eq!((s.free_bytes, s.table_bytes), (1 << 20, 4096));
        assert_eq!(m.report().peak_table_bytes, 16 << 10);

        let mut huge = paged(21, 8 << 20, 2);
        huge.allocate(0, 5000).unwrap();
        huge.allocate(1, 5000).unwrap();
        let s = huge.sample(2);
        assert_eq!(s.internal_bytes, 2 * ((2 << 20) - 5000));
        assert_eq!(s.table_bytes, 12 << 10);
    }

    /// An object needing more frames than are free fails; paging has no
    /// external fragmentation to blame.
    #[test]
    fn allocation_fails_only_when_frames_run_out() {
        let mut m = paged(12, 3 * 4096, 2);
        m.allocate(0, 8192).unwrap();
        m.allocate(1, 8192).unwrap();
        assert_eq!(m.report().failed_allocations, 1);
        m.allocate(1, 4096).unwrap();
        assert_eq!(m.report().failed_allocations, 1);
        assert_eq!(m.sample(3).free_bytes, 0);
    }

    /// On x86-64 with its TLB: the first touch of each 4 KiB page walks
    /// four levels (5 references), a second touch hits (1). A freed and
    /// reallocated object's pages were flushed, so they walk again.
    #[test]
    fn translation_cost_is_the_walk_on_a_tlb_miss() {
        let mut m = paged(12, 1 << 20, 1);
        m.allocate(0, 8192).unwrap();
        for offset in [0, 8, 4096] {
            m.access(0, offset).unwrap();
        }
        let r = m.report();
        assert_eq!(
            (r.accesses, r.memory_references, r.translation_misses),
            (3, 11, 2)
        );
        m.free(0).unwrap();
        m.allocate(0, 8192).unwrap();
        m.access(0, 0).unwrap();
        assert_eq!(m.report().translation_misses, 3);
        // A 2 MiB page's walk stops at the PD: 3 reads.
        let mut huge = paged(21, 4 << 20, 1);
        huge.allocate(0, 100).unwrap();
        huge.access(0, 0).unwrap();
        assert_eq!(huge.report().memory_references, 4);
    }

    #[test]
    fn unsupported_page_sizes_and_memory_are_refused() {
        let arch = x86();
        let tlb = default_tlb(&arch);
        let e = Paged::new(&arch, 16, &tlb, 1 << 20, 1).err().unwrap();
        assert_eq!(
            e,
            CompareError::PageSize("x86-64 has no 64 KiB pages".into())
        );
        let e = Paged::new(&arch, 12, &tlb, 1 << 60, 1).err().unwrap();
        assert!(matches!(e, CompareError::Memory(m) if m.contains("52-bit")));
    }

    /// The free frames come and go in the order a vector of every frame
    /// (lowest on top) gave them: a plain model of that vector, driven
    /// through a seeded mix of takes and gives.
    #[test]
    fn free_frames_follow_a_stack_of_every_frame() {
        let (total, page) = (50u64, 4096u64);
        let mut model: Vec<u64> = (0..total).rev().map(|f| f * page).collect();
        let mut frames = FreeFrames::new(total, page);
        let mut taken = Vec::new();
        let mut state = 7u64;
        for _ in 0..400 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if state >> 62 == 0 && !taken.is_empty() {
                let addr = taken.swap_remove((state >> 8) as usize % taken.len());
                model.push(addr);
                frames.push(addr);
            } else {
                let got = frames.pop();
                assert_eq!(got, model.pop());
                taken.extend(got);
            }
            assert_eq!(frames.count(), model.len() as u64);
        }
    }

    /// 64 TiB of 4 KiB frames: the machine was built with a vector of all
    /// 16 Gi frames (128 GiB of host memory; the process aborted).
    #[test]
    fn a_machine_of_64_tib_costs_no_host_memory_per_frame() {
        let mut m = paged(12, 64 << 40, 2);
        m.allocate(0, 5000).unwrap();
        assert_eq!(m.sample(1).free_bytes, (64 << 40) - 8192);
    }
}
