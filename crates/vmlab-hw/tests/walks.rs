//! Hand-worked page walks with every number written out: raw entries are
//! stored into physical memory by hand, and each walk step's entry address
//! and raw value, each accessed/dirty update, and the result or fault are
//! compared with values worked from the references:
//!
//! - CS:APP 3e §9.6.4 (figures 9.20 and practice problems 9.11-9.13), the
//!   small memory system's page table and translations;
//! - OSTEP ch. 20 homework `paging-multilevel-translate.py` README example;
//! - Intel SDM Vol. 3A §4.3 (32-bit paging, PSE), §4.5 (4-level paging),
//!   §4.6 (access rights), §4.8 (accessed and dirty flags);
//! - RISC-V Privileged ISA 20211203 §4.3.2 (translation process), §4.4 (Sv39);
//! - Arm ARM DDI 0487 D8 (VMSAv8-64 descriptors, APTable, XN, AF, DBM);
//! - and, through the MMU, an LRU TLB on a textbook reference string, the
//!   issue's `vmlab translate` example, and an access retried after its
//!   page fault (counted as a reporting machine counts it).
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets::by_name;
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::arch::AdUpdate;
use vmlab_hw::tlb::{
    TlbArrayConfig, TlbConfig, TlbEntry, TlbKind, TlbLevelConfig, TlbReplacement, TlbSlot,
};
use vmlab_hw::{
    walk, AccessKind, Arch, Context, Endian, Event, Mmu, MmuFaultKind, Mode, NoEvents, PageFault,
    PageFaultCause, PageTable, Perms, PhysMem, TableArena, Translation,
};

use AccessKind::{Fetch, Read, Write};
use Mode::{Supervisor, User};

const R: Perms = Perms::READ;
const W: Perms = Perms::WRITE;
const X: Perms = Perms::EXEC_USER.union(Perms::EXEC_SUPER);
const U: Perms = Perms::USER;

fn preset(name: &str) -> Arch {
    by_name(name).unwrap().unwrap()
}

fn mem(size: u64) -> PhysMem {
    PhysMem::new(size, Endian::Little).unwrap()
}

/// A machine: a scheme, physical memory with hand-stored tables, a root.
struct Machine {
    arch: Arch,
    mem: PhysMem,
    root: u64,
}

impl Machine {
    fn new(arch: Arch, mem_size: u64, root: u64) -> Machine {
        Machine {
            arch,
            mem: mem(mem_size),
            root,
        }
    }

    /// Stores raw entries `(physical address, value)` of the scheme's size.
    fn store(&mut self, entries: &[(u64, u64)]) {
        let bytes = usize::from(self.arch.pte().bytes);
        for &(addr, raw) in entries {
            self.mem.store(addr, bytes, raw).unwrap();
        }
    }

    fn load(&self, addr: u64) -> u64 {
        self.mem
            .load(addr, usize::from(self.arch.pte().bytes))
            .unwrap()
    }

    /// Walks `va` and returns the result with the events it reported.
    fn walk(
        &mut self,
        va: u64,
        kind: AccessKind,
        mode: Mode,
    ) -> (Result<Translation, PageFault>, Vec<Event>) {
        let mut events = Vec::new();
        let r = walk(
            &self.arch,
            &mut self.mem,
            self.root,
            va,
            kind,
            mode,
            &mut events,
        );
        (r, events)
    }

    /// Walks `va`, expecting a translation.
    fn ok(&mut self, va: u64, kind: AccessKind, mode: Mode) -> (Translation, Vec<Event>) {
        let (r, events) = self.walk(va, kind, mode);
        match r {
            Ok(t) => (t, events),
            Err(f) => panic!("{va:#x}: unexpected {f}"),
        }
    }

    /// Walks `va`, expecting a fault; returns its level, cause and reads.
    fn fault(&mut self, va: u64, kind: AccessKind, mode: Mode) -> (usize, PageFaultCause, u32) {
        let (r, events) = self.walk(va, kind, mode);
        match r {
            Ok(t) => panic!("{va:#x}: translated to {:#x}, expected a fault", t.paddr),
            Err(f) => {
                assert_eq!((f.vaddr, f.kind, f.mode), (va, kind, mode));
                assert!(
                    matches!(events.last(), Some(Event::PageFault(e)) if *e == f),
                    "the last event reports the fault"
                );
                (f.level, f.cause, f.walk_reads)
            }
        }
    }
}

/// Every walk step as `(level, entry address, raw value)`.
fn steps(events: &[Event]) -> Vec<(usize, u64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::WalkStep {
                level,
                pte_addr,
                raw,
                ..
            } => Some((*level, *pte_addr, *raw)),
            _ => None,
        })
        .collect()
}

/// Every accessed/dirty update as `(entry address, old, new)`.
fn updates(events: &[Event]) -> Vec<(u64, u64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::FlagUpdate {
                pte_addr, old, new, ..
            } => Some((*pte_addr, *old, *new)),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------- CS:APP ----

/// CS:APP figure 9.20(b): the first 16 PTEs (VPN, PPN) of the small memory
/// system; VPNs 01, 04, 06, 07, 0B and 0C are invalid. vmlab's entry holds
/// the PPN from bit 8 and V R W X U in bits 0-4 (0x1f).
fn csapp() -> Machine {
    let mut m = Machine::new(preset("csapp"), 1 << 12, 0x800);
    let valid = [
        (0x00, 0x28),
        (0x02, 0x33),
        (0x03, 0x02),
        (0x05, 0x16),
        (0x08, 0x13),
        (0x09, 0x17),
        (0x0a, 0x09),
        (0x0d, 0x2d),
        (0x0e, 0x11),
        (0x0f, 0x0d),
    ];
    let entries: Vec<(u64, u64)> = valid
        .iter()
        .map(|&(vpn, ppn)| (0x800 + 2 * vpn, ppn << 8 | 0x1f))
        .collect();
    m.store(&entries);
    m
}

#[test]
fn csapp_small_memory_system() {
    let mut m = csapp();
    // §9.6.4 worked example: VA 0x03d4 = VPN 0x0f, VPO 0x14; PTE 0x0f
    // holds PPN 0x0d, so PA = 0x0d << 6 | 0x14 = 0x354.
    let (t, ev) = m.ok(0x03d4, Read, User);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x354, 0x340, 6, 0)
    );
    assert_eq!(steps(&ev), [(0, 0x81e, 0x0d1f)]);
    // The walker sets the referenced flag (bit 5) as the hardware would.
    assert_eq!(updates(&ev), [(0x81e, 0x0d1f, 0x0d3f)]);
    // A write then sets the modified flag (bit 6).
    let (t, ev) = m.ok(0x03d4, Write, User);
    assert!(t.dirty);
    assert_eq!(updates(&ev), [(0x81e, 0x0d3f, 0x0d7f)]);
    // Practice problem 9.11: VA 0x027c = VPN 0x09, VPO 0x3c, PPN 0x17 → 0x5fc.
    let (t, ev) = m.ok(0x027c, Read, User);
    assert_eq!(t.paddr, 0x5fc);
    assert_eq!(steps(&ev), [(0, 0x812, 0x171f)]);
    // Practice problem 9.12: VA 0x03a9 = VPN 0x0e, VPO 0x29, PPN 0x11 → 0x469.
    let (t, ev) = m.ok(0x03a9, Read, User);
    assert_eq!(t.paddr, 0x469);
    assert_eq!(steps(&ev), [(0, 0x81c, 0x111f)]);
    // Practice problem 9.13: VA 0x0040 = VPN 0x01, invalid: a page fault.
    assert_eq!(
        m.fault(0x0040, Read, User),
        (0, PageFaultCause::NotPresent, 1)
    );
    // VPN 0x00 maps PPN 0x28: VA 0x003f → 0xa3f.
    assert_eq!(m.ok(0x003f, Read, User).0.paddr, 0xa3f);
}

// --------------------------------------------------------------- OSTEP ----

#[test]
fn ostep_multilevel_readme_example() {
    // PDBR 108: the page directory is page 108, at 108 * 32 = 0xd80.
    let mut m = Machine::new(preset("ostep"), 1 << 12, 108 * 32);
    // VA 0x611c: PDE index 0x18 → PDE at 0xd80 + 0x18 = 0xd98, 0xa1 (valid,
    // pfn 0x21); PTE index 8 of page 0x21 → 0x21 * 32 + 8 = 0x428, 0xb5
    // (valid, pfn 0x35); PA = 0x35 * 32 + 0x1c = 0x6bc.
    m.store(&[(0xd98, 0xa1), (0x428, 0xb5)]);
    let (t, ev) = m.ok(0x611c, Read, User);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x6bc, 0x6a0, 5, 1)
    );
    assert_eq!(steps(&ev), [(0, 0xd98, 0xa1), (1, 0x428, 0xb5)]);
    // The format has no accessed or dirty bit: nothing is written back.
    assert!(updates(&ev).is_empty());
    let (_, ev) = m.ok(0x611c, Write, User);
    assert!(updates(&ev).is_empty());
    // "pde contents:0x7f (valid 0)": a fault at the directory.
    m.store(&[(0xd81, 0x7f)]);
    assert_eq!(
        m.fault(0x0400, Read, User),
        (0, PageFaultCause::NotPresent, 1)
    );
    // A valid PDE over an invalid PTE (0x7f) faults at the table.
    m.store(&[(0x429, 0x7f)]);
    assert_eq!(
        m.fault(0x6120, Read, User),
        (1, PageFaultCause::NotPresent, 2)
    );
}

// --------------------------------------------------------------- x86-32 ----

#[test]
fn x86_32_two_level_and_pse() {
    // CR3 = 0x100000. VA 0x0804_8123: PD index 0x20, PT index 0x48,
    // offset 0x123. PDE at 0x100000 + 0x20 * 4 = 0x100080 → PT 0x101000
    // (P, R/W, U/S); PTE at 0x101000 + 0x48 * 4 = 0x101120 → frame
    // 0x200000 (P, U/S, read-only).
    let mut m = Machine::new(preset("x86-32"), 1 << 32, 0x10_0000);
    m.store(&[(0x10_0080, 0x0010_1007), (0x10_1120, 0x0020_0005)]);
    let (t, ev) = m.ok(0x0804_8123, Read, User);
    assert_eq!((t.paddr, t.page_shift, t.level), (0x0020_0123, 12, 1));
    assert_eq!(t.perms, R | U | X);
    assert_eq!(
        steps(&ev),
        [(0, 0x10_0080, 0x0010_1007), (1, 0x10_1120, 0x0020_0005)]
    );
    // §4.8: A set in the PDE and the PTE.
    assert_eq!(
        updates(&ev),
        [
            (0x10_0080, 0x0010_1007, 0x0010_1027),
            (0x10_1120, 0x0020_0005, 0x0020_0025)
        ]
    );
    // Read-only PTE: a user write faults at the PT, D stays clear.
    assert_eq!(
        m.fault(0x0804_8123, Write, User),
        (1, PageFaultCause::Protection, 2)
    );
    assert_eq!(m.load(0x10_1120), 0x0020_0025);

    // A 4 MiB PSE page: VA 0xc040_1234 has PD index 0x301 → PDE at
    // 0x100c04 = 0x0080_0083 (P, R/W, PS, frame 0x800000); PA = 0x800000
    // + (0xc040_1234 & 0x3fffff) = 0x0080_1234.
    m.store(&[(0x10_0c04, 0x0080_0083)]);
    let (t, ev) = m.ok(0xc040_1234, Read, Supervisor);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x0080_1234, 0x80_0000, 22, 0)
    );
    assert_eq!(steps(&ev), [(0, 0x10_0c04, 0x0080_0083)]);
    assert_eq!(updates(&ev), [(0x10_0c04, 0x0080_0083, 0x0080_00a3)]);
    let (_, ev) = m.ok(0xc07f_fffc, Write, Supervisor);
    assert_eq!(updates(&ev), [(0x10_0c04, 0x0080_00a3, 0x0080_00e3)]);
    // U/S = 0: user accesses fault at the PDE.
    assert_eq!(
        m.fault(0xc040_1234, Read, User),
        (0, PageFaultCause::Protection, 1)
    );
    // Bit 13 in a 4 MiB PDE is reserved (MAXPHYADDR 32).
    m.store(&[(0x10_0c08, 0x00c0_2083)]);
    assert_eq!(
        m.fault(0xc080_0000, Read, Supervisor),
        (0, PageFaultCause::ReservedBit, 1)
    );
}

// --------------------------------------------------------------- x86-64 ----

/// CR3 = 0x1000 and these hand-built tables (SDM tables 4-15 to 4-20):
///
/// | entry                 | address | value                 |
/// |-----------------------|---------|-----------------------|
/// | PML4E 0 → PDPT        | 0x1000  | 0x2007                |
/// | PDPTE 0 → PD          | 0x2000  | 0x3007                |
/// | PDPTE 2 → PD          | 0x2010  | 0x5007                |
/// | PDPTE 3, 1 GiB        | 0x2018  | 0xff_c000_0083        |
/// | PDE 2 → PT            | 0x3010  | 0x4007                |
/// | PDE 3 → PT, R/W=0     | 0x3018  | 0x6005                |
/// | PTE 3, rw user        | 0x4018  | 0x1234_5007           |
/// | PTE 4, XD             | 0x4020  | 0x8000_0000_1234_6007 |
/// | PTE 5, supervisor     | 0x4028  | 0x1234_7003           |
/// | PTE 6, read-only      | 0x4030  | 0x1234_8005           |
/// | PDE 1, 2 MiB          | 0x5008  | 0x1_2340_0083         |
/// | PDE 2, 2 MiB, bit 13  | 0x5010  | 0x1_2340_2083         |
/// | PTE 0 (under R/W=0)   | 0x6000  | 0x1234_9007           |
fn x86_64() -> Machine {
    let mut m = Machine::new(preset("x86-64"), 1 << 32, 0x1000);
    m.store(&[
        (0x1000, 0x2007),
        (0x2000, 0x3007),
        (0x2010, 0x5007),
        (0x2018, 0xff_c000_0083),
        (0x3010, 0x4007),
        (0x3018, 0x6005),
        (0x4018, 0x1234_5007),
        (0x4020, 0x8000_0000_1234_6007),
        (0x4028, 0x1234_7003),
        (0x4030, 0x1234_8005),
        (0x5008, 0x1_2340_0083),
        (0x5010, 0x1_2340_2083),
        (0x6000, 0x1234_9007),
    ]);
    m
}

#[test]
fn x86_64_four_level_walk_sets_accessed_then_dirty() {
    let mut m = x86_64();
    // VA 0x403abc: PML4 0, PDPT 0, PD 2, PT 3, offset 0xabc.
    let (t, ev) = m.ok(0x40_3abc, Read, User);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x1234_5abc, 0x1234_5000, 12, 3)
    );
    assert_eq!((t.pte_addr, t.dirty), (0x4018, false));
    assert_eq!(t.perms, R | W | U | X);
    assert_eq!(
        steps(&ev),
        [
            (0, 0x1000, 0x2007),
            (1, 0x2000, 0x3007),
            (2, 0x3010, 0x4007),
            (3, 0x4018, 0x1234_5007)
        ]
    );
    // §4.8: A (bit 5) set at every level; D not set by a read.
    assert_eq!(
        updates(&ev),
        [
            (0x1000, 0x2007, 0x2027),
            (0x2000, 0x3007, 0x3027),
            (0x3010, 0x4007, 0x4027),
            (0x4018, 0x1234_5007, 0x1234_5027)
        ]
    );
    // A write sets D (bit 6) in the PTE only.
    let (t, ev) = m.ok(0x40_3000, Write, User);
    assert!(t.dirty);
    assert_eq!(updates(&ev), [(0x4018, 0x1234_5027, 0x1234_5067)]);
    assert_eq!(
        [
            m.load(0x1000),
            m.load(0x2000),
            m.load(0x3010),
            m.load(0x4018)
        ],
        [0x2027, 0x3027, 0x4027, 0x1234_5067]
    );
    // A second write changes nothing.
    let (_, ev) = m.ok(0x40_3fff, Write, User);
    assert!(updates(&ev).is_empty());
}

#[test]
fn x86_64_two_mib_and_one_gib_pages() {
    let mut m = x86_64();
    // VA 0x802f_1234: PDPT index 2, PD index 1, offset 0xf_1234 in the
    // 2 MiB page at 0x1_2340_0000.
    let (t, ev) = m.ok(0x802f_1234, Read, Supervisor);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x1_234f_1234, 0x1_2340_0000, 21, 2)
    );
    assert_eq!(
        steps(&ev),
        [
            (0, 0x1000, 0x2007),
            (1, 0x2010, 0x5007),
            (2, 0x5008, 0x1_2340_0083)
        ]
    );
    let (_, ev) = m.ok(0x8020_0000, Write, Supervisor);
    assert_eq!(updates(&ev), [(0x5008, 0x1_2340_00a3, 0x1_2340_00e3)]);
    // VA 0xc123_4567: PDPT index 3, a 1 GiB page at 0xff_c000_0000.
    let (t, ev) = m.ok(0xc123_4567, Read, Supervisor);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0xff_c123_4567, 0xff_c000_0000, 30, 1)
    );
    assert_eq!(
        steps(&ev),
        [(0, 0x1000, 0x2027), (1, 0x2018, 0xff_c000_0083)]
    );
    assert_eq!(updates(&ev), [(0x2018, 0xff_c000_0083, 0xff_c000_00a3)]);
}

#[test]
fn x86_64_faults() {
    let mut m = x86_64();
    // Table 4-18: bit 13 of a 2 MiB PDE is reserved → #PF with RSVD at
    // the PD; the entry is not marked accessed.
    assert_eq!(
        m.fault(0x8040_0000, Read, Supervisor),
        (2, PageFaultCause::ReservedBit, 3)
    );
    assert_eq!(m.load(0x5010), 0x1_2340_2083);
    // XD: an instruction fetch faults at the PTE; a read does not.
    assert_eq!(
        m.fault(0x40_4000, Fetch, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(m.ok(0x40_4123, Read, User).0.paddr, 0x1234_6123);
    // U/S = 0 at the PTE: user accesses fault; the supervisor's succeed.
    assert_eq!(
        m.fault(0x40_5000, Read, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(m.ok(0x40_5008, Write, Supervisor).0.paddr, 0x1234_7008);
    // R/W = 0: a write to a read-only page faults at the leaf (level 3).
    assert_eq!(
        m.fault(0x40_6010, Write, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(m.ok(0x40_6010, Read, User).0.paddr, 0x1234_8010);
    // Non-canonical: bits 63:47 are not all equal. Nothing is read.
    let (r, ev) = m.walk(0x0000_8000_0000_0000, Read, Supervisor);
    let f = r.unwrap_err();
    assert_eq!(
        (f.level, f.cause, f.walk_reads),
        (0, PageFaultCause::NonCanonical, 0)
    );
    assert!(steps(&ev).is_empty());
    // The canonical upper half walks: PML4 index 256 at 0x1800 is empty.
    assert_eq!(
        m.fault(0xffff_8000_0000_0000, Read, Supervisor),
        (0, PageFaultCause::NotPresent, 1)
    );
    // A hole in the page table: PDE 0 of PDPT 2 (0x5000) is zero.
    assert_eq!(
        m.fault(0x8000_0000, Read, Supervisor),
        (2, PageFaultCause::NotPresent, 3)
    );
}

#[test]
fn x86_64_rights_combine_across_levels() {
    let mut m = x86_64();
    // §4.6: with R/W = 0 in the PDE (0x6005), the writable PTE (0x1234_9007)
    // is read-only: reads pass, writes fault at the leaf, D stays clear.
    let (t, _) = m.ok(0x60_0abc, Read, User);
    assert_eq!((t.paddr, t.perms), (0x1234_9abc, R | U | X));
    assert_eq!(
        m.fault(0x60_0abc, Write, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(m.load(0x6000), 0x1234_9027);
    // U/S = 0 in the PML4E hides every page below it from user mode.
    m.store(&[(0x1000, 0x2023)]);
    assert_eq!(
        m.fault(0x40_3abc, Read, User),
        (3, PageFaultCause::Protection, 4)
    );
    // XD in the PML4E forbids fetches below it.
    m.store(&[(0x1000, 0x8000_0000_0000_2027)]);
    assert_eq!(
        m.fault(0x40_3abc, Fetch, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(m.ok(0x40_3abc, Write, User).0.paddr, 0x1234_5abc);
}

// --------------------------------------------------------------- Sv39 ----

/// satp.PPN = 1 (root at 0x1000). VPN[2] = 1 → PTE at 0x1008 = 0x801 (V,
/// PPN 2: the level-1 table at 0x2000). Level-1 entries at 0x2000 + 8 *
/// VPN[1], for VAs 0x4000_0000 + VPN[1] << 21:
///
/// | VPN[1] | VA          | raw          | meaning                          |
/// |--------|-------------|--------------|----------------------------------|
/// | 3      | 0x4060_0000 | 0x2008_0007  | megapage PPN 0x80200, V R W      |
/// | 4      | 0x4080_0000 | 0x2008_04c7  | PPN 0x80201: misaligned          |
/// | 5      | 0x40a0_0000 | 0x0000_0c41  | non-leaf with A: reserved        |
/// | 6      | 0x40c0_0000 | 0x2008_0005  | W without R: reserved            |
/// | 7      | 0x40e0_0000 | 0x2008_0007  | megapage, A and D clear          |
/// | 8      | 0x4100_0000 | 0x2008_0057  | megapage, U, A                   |
fn sv39(arch: Arch) -> Machine {
    let mut m = Machine::new(arch, 1 << 32, 0x1000);
    m.store(&[
        (0x1008, 0x801),
        (0x2018, 0x2008_0007),
        (0x2020, 0x2008_04c7),
        (0x2028, 0x0000_0c41),
        (0x2030, 0x2008_0005),
        (0x2038, 0x2008_0007),
        (0x2040, 0x2008_0057),
    ]);
    m
}

#[test]
fn sv39_megapage() {
    let mut m = sv39(preset("riscv-sv39"));
    // VA 0x407a_bcde: VPN[2] 1, VPN[1] 3, offset 0x1a_bcde in the megapage
    // at PPN 0x80200 << 12 = 0x8020_0000 → PA 0x803a_bcde.
    let (t, ev) = m.ok(0x407a_bcde, Read, Supervisor);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x803a_bcde, 0x8020_0000, 21, 1)
    );
    assert_eq!(steps(&ev), [(0, 0x1008, 0x801), (1, 0x2018, 0x2008_0007)]);
    // Svadu: A set in the leaf only (non-leaf A is reserved).
    assert_eq!(updates(&ev), [(0x2018, 0x2008_0007, 0x2008_0047)]);
    let (_, ev) = m.ok(0x4060_0000, Write, Supervisor);
    assert_eq!(updates(&ev), [(0x2018, 0x2008_0047, 0x2008_00c7)]);
    // Step 6: a megapage with PPN[0] ≠ 0 is misaligned.
    assert_eq!(
        m.fault(0x4080_0000, Read, Supervisor),
        (1, PageFaultCause::MisalignedSuperpage, 2)
    );
    // Step 3: A set in a non-leaf, and W without R, are reserved.
    assert_eq!(
        m.fault(0x40a0_0000, Read, Supervisor),
        (1, PageFaultCause::ReservedBit, 2)
    );
    assert_eq!(
        m.fault(0x40c0_0000, Read, Supervisor),
        (1, PageFaultCause::ReservedBit, 2)
    );
    // SUM = 0: S-mode may not touch a U page; U-mode may.
    assert_eq!(
        m.fault(0x4100_0000, Read, Supervisor),
        (1, PageFaultCause::Protection, 2)
    );
    assert_eq!(m.ok(0x4100_0010, Read, User).0.paddr, 0x8020_0010);
    // A page with U=0 is closed to U-mode.
    assert_eq!(
        m.fault(0x4060_0000, Read, User),
        (1, PageFaultCause::Protection, 2)
    );
    // VPN[2] = 0 is invalid; bit 38 not copied into 63:39 is non-canonical.
    assert_eq!(
        m.fault(0x0000_1000, Read, Supervisor),
        (0, PageFaultCause::NotPresent, 1)
    );
    assert_eq!(
        m.fault(0x0000_0040_0000_0000, Read, Supervisor),
        (0, PageFaultCause::NonCanonical, 0)
    );
}

#[test]
fn sv39_svade_faults_until_software_sets_a_and_d() {
    let mut m = sv39(preset("riscv-sv39").with_ad_update(AdUpdate::Fault));
    // Step 7 without Svadu: A = 0 raises a page fault; the entry is unchanged.
    assert_eq!(
        m.fault(0x40e0_0000, Read, Supervisor),
        (1, PageFaultCause::AccessFlag, 2)
    );
    assert_eq!(m.load(0x2038), 0x2008_0007);
    // Software sets A: reads pass; a store with D = 0 faults.
    m.store(&[(0x2038, 0x2008_0047)]);
    assert_eq!(m.ok(0x40e0_0000, Read, Supervisor).0.paddr, 0x8020_0000);
    assert_eq!(
        m.fault(0x40e0_0000, Write, Supervisor),
        (1, PageFaultCause::DirtyFlag, 2)
    );
    // Software sets D: the store passes and nothing is written back.
    m.store(&[(0x2038, 0x2008_00c7)]);
    let (t, ev) = m.ok(0x40e0_0000, Write, Supervisor);
    assert!(t.dirty);
    assert!(updates(&ev).is_empty());
}

// ------------------------------------------------------------- AArch64 ----

/// TTBR0 = 0x1000, 4 KiB granule. VAs 0x80_4000_0000 + (L2 << 21) +
/// (L3 << 12) use L0 index 1 and L1 index 1:
///
/// | descriptor                    | address | value                 |
/// |-------------------------------|---------|-----------------------|
/// | L0[1] table → 0x2000          | 0x1008  | 0x2003                |
/// | L1[1] table → 0x3000          | 0x2008  | 0x3003                |
/// | L2[3] table → 0x4000          | 0x3018  | 0x4003                |
/// | L2[4] 2 MiB block, AF         | 0x3020  | 0x8000_0401           |
/// | L2[5] table, APTable = 0b10   | 0x3028  | 0x4000_0000_0000_5003 |
/// | L3[3] page, EL0 RW, AF        | 0x4018  | 0x1234_5443           |
/// | L3[4] page, EL0 RW, AF = 0    | 0x4020  | 0x1234_6043           |
/// | L3[5] page, DBM, AP[2] = 1    | 0x4028  | 0x0008_0000_1234_74c3 |
/// | L3[6] page, UXN               | 0x4030  | 0x0040_0000_1234_9443 |
/// | L3[0] under APTable, EL0 RW   | 0x5000  | 0x1234_8443           |
fn aarch64(arch: Arch) -> Machine {
    let mut m = Machine::new(arch, 1 << 32, 0x1000);
    m.store(&[
        (0x1008, 0x2003),
        (0x2008, 0x3003),
        (0x3018, 0x4003),
        (0x3020, 0x8000_0401),
        (0x3028, 0x4000_0000_0000_5003),
        (0x4018, 0x1234_5443),
        (0x4020, 0x1234_6043),
        (0x4028, 0x0008_0000_1234_74c3),
        (0x4030, 0x0040_0000_1234_9443),
        (0x5000, 0x1234_8443),
    ]);
    m
}

#[test]
fn aarch64_4k_walk_and_block() {
    let mut m = aarch64(preset("aarch64-4k"));
    // VA 0x80_4060_3abc: L0 1, L1 1, L2 3, L3 3, offset 0xabc.
    let (t, ev) = m.ok(0x80_4060_3abc, Read, User);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x1234_5abc, 0x1234_5000, 12, 3)
    );
    assert_eq!(
        steps(&ev),
        [
            (0, 0x1008, 0x2003),
            (1, 0x2008, 0x3003),
            (2, 0x3018, 0x4003),
            (3, 0x4018, 0x1234_5443)
        ]
    );
    // AF already set and tables have no access flag: nothing written.
    assert!(updates(&ev).is_empty());
    // AP = 0b01 (EL0 RW, no DBM): a write needs no update either.
    let (t, ev) = m.ok(0x80_4060_3abc, Write, User);
    assert!(t.dirty);
    assert!(updates(&ev).is_empty());
    // L2[4]: a 2 MiB block at 0x8000_0000; VA 0x80_408f_edcb → 0x800f_edcb.
    let (t, ev) = m.ok(0x80_408f_edcb, Read, Supervisor);
    assert_eq!(
        (t.paddr, t.frame, t.page_shift, t.level),
        (0x800f_edcb, 0x8000_0000, 21, 2)
    );
    assert_eq!(steps(&ev).len(), 3);
    // The block is EL1-only (AP[1] = 0).
    assert_eq!(
        m.fault(0x80_408f_edcb, Read, User),
        (2, PageFaultCause::Protection, 3)
    );
    // TTBR0 covers only addresses with bits 63:48 zero.
    assert_eq!(
        m.fault(0x0001_0000_0000_0000, Read, User),
        (0, PageFaultCause::NonCanonical, 0)
    );
}

#[test]
fn aarch64_access_flag_and_dirty_bit_modifier() {
    // Without FEAT_HAFDBS: AF = 0 is an access flag fault (D8.4.5), and a
    // write to AP[2] = 1 is a permission fault even with DBM set.
    let mut m = aarch64(preset("aarch64-4k").with_ad_update(AdUpdate::Fault));
    assert_eq!(
        m.fault(0x80_4060_4000, Read, User),
        (3, PageFaultCause::AccessFlag, 4)
    );
    assert_eq!(m.load(0x4020), 0x1234_6043);
    assert_eq!(
        m.fault(0x80_4060_5000, Write, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(m.ok(0x80_4060_5000, Read, User).0.paddr, 0x1234_7000);
    // With hardware management: AF is set by the walk, and a write through
    // a DBM descriptor clears AP[2] (bit 7) instead of faulting.
    let mut m = aarch64(preset("aarch64-4k"));
    let (_, ev) = m.ok(0x80_4060_4000, Read, User);
    assert_eq!(updates(&ev), [(0x4020, 0x1234_6043, 0x1234_6443)]);
    let (t, ev) = m.ok(0x80_4060_5000, Read, User);
    assert!(!t.dirty);
    assert!(updates(&ev).is_empty());
    let (t, ev) = m.ok(0x80_4060_5000, Write, User);
    assert!(t.dirty);
    assert_eq!(
        updates(&ev),
        [(0x4028, 0x0008_0000_1234_74c3, 0x0008_0000_1234_7443)]
    );
}

#[test]
fn aarch64_hierarchical_and_execute_never() {
    let mut m = aarch64(preset("aarch64-4k"));
    // APTable[1] (bit 62) in L2[5]: the EL0-writable page below is read-only.
    let (t, _) = m.ok(0x80_40a0_0123, Read, User);
    assert_eq!(t.paddr, 0x1234_8123);
    assert_eq!(t.perms & W, Perms::empty());
    assert_eq!(
        m.fault(0x80_40a0_0123, Write, User),
        (3, PageFaultCause::Protection, 4)
    );
    // UXN: EL0 may read but not fetch; the page is EL0-writable, hence
    // also PXN for EL1 (D8.4.1.2).
    assert_eq!(m.ok(0x80_4060_6000, Read, User).0.paddr, 0x1234_9000);
    assert_eq!(
        m.fault(0x80_4060_6000, Fetch, User),
        (3, PageFaultCause::Protection, 4)
    );
    assert_eq!(
        m.fault(0x80_4060_6000, Fetch, Supervisor),
        (3, PageFaultCause::Protection, 4)
    );
    // The page at L3[3] has neither XN bit: EL0 may fetch from it.
    assert_eq!(m.ok(0x80_4060_3000, Fetch, User).0.paddr, 0x1234_5000);
}

// ------------------------------------------------------------------ MMU ----

/// One unified, fully associative LRU level for pages of `page_shift`.
fn one_level_lru(entries: usize, page_shift: u8) -> TlbConfig {
    TlbConfig {
        levels: vec![TlbLevelConfig {
            name: "L1".into(),
            kind: TlbKind::Unified,
            level: 1,
            arrays: vec![TlbArrayConfig {
                entries,
                ways: entries,
                page_shifts: vec![page_shift],
                replacement: TlbReplacement::Lru,
            }],
        }],
    }
}

/// Builds x86-64 tables with the page-table editor, mapping each
/// `(va, frame)` 4 KiB page with `perms`.
fn x86_64_mapped(maps: &[(u64, u64)], perms: Perms) -> (Arch, PhysMem, PageTable) {
    let arch = preset("x86-64");
    let mut mem = mem(1 << 32);
    let mut arena = TableArena::new(0x1000, 0x10_0000, 0x1000);
    let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
    for &(va, frame) in maps {
        pt.map(
            &arch,
            &mut mem,
            &mut arena,
            va,
            frame,
            12,
            LeafAttrs::new(perms),
        )
        .unwrap();
    }
    (arch, mem, pt)
}

#[test]
fn four_entry_lru_tlb_reference_string() {
    // Pages 1-5 at VA n << 12 map frames 0x100000 + (n << 12).
    let maps: Vec<(u64, u64)> = (1..=5).map(|n| (n << 12, 0x10_0000 + (n << 12))).collect();
    let (arch, mut mem, pt) = x86_64_mapped(&maps, R | W | X | U);
    let mut mmu = Mmu::new(arch, &one_level_lru(4, 12)).unwrap();
    let ctx = Context {
        root: pt.root(),
        asid: 0,
    };
    // Reference string 1 2 3 4 1 5 1 2 3 4 5 on 4 LRU entries:
    //   1-4 miss (compulsory); 1 hits (LRU order now 2 3 4 1);
    //   5 misses, evicts 2 (3 4 1 5); 1 hits (3 4 5 1);
    //   2 misses, evicts 3; 3 evicts 4; 4 evicts 5; 5 evicts 1.
    let expected: [(u64, bool, Option<u64>); 11] = [
        (1, false, None),
        (2, false, None),
        (3, false, None),
        (4, false, None),
        (1, true, None),
        (5, false, Some(2)),
        (1, true, None),
        (2, false, Some(3)),
        (3, false, Some(4)),
        (4, false, Some(5)),
        (5, false, Some(1)),
    ];
    for (step, &(page, hit, victim)) in expected.iter().enumerate() {
        let mut ev = Vec::new();
        let va = page << 12 | 0x10;
        let a = mmu.access(&mut mem, ctx, va, Read, User, &mut ev).unwrap();
        assert_eq!(a.paddr, 0x10_0000 + (page << 12) + 0x10, "step {step}");
        assert_eq!(a.tlb_level.is_some(), hit, "step {step}: page {page}");
        assert_eq!(a.cost.walk_reads, if hit { 0 } else { 4 }, "step {step}");
        let fills: Vec<Option<u64>> = ev
            .iter()
            .filter_map(|e| match e {
                Event::TlbFill { evicted, .. } => Some(evicted.map(|v| v.vpn)),
                _ => None,
            })
            .collect();
        let want_fills = if hit { vec![] } else { vec![victim] };
        assert_eq!(fills, want_fills, "step {step}: page {page}");
    }
    let c = mmu.tlb().counters()[0];
    assert_eq!((c.hits, c.misses, c.evictions), (2, 9, 5));
    assert_eq!(mmu.counters().walks, 9);
}

/// An access that missed every TLB level and faulted is retried once the
/// page is mapped; the retry counts its probes without searching while no
/// entry has been added since, and searches once one has (here a preload
/// of the very page). A machine that reports events, which always
/// searches, agrees on every result, counter and entry.
#[test]
fn a_retried_access_finds_an_entry_added_since_its_fault() {
    let (arch, mut quiet_mem, mut quiet_pt) = x86_64_mapped(&[], R | W | U);
    let (_, mut loud_mem, mut loud_pt) = x86_64_mapped(&[], R | W | U);
    let mut quiet = Mmu::new(arch.clone(), &TlbConfig::x86_64_default()).unwrap();
    let mut loud = quiet.clone();
    let ctx = Context {
        root: quiet_pt.root(),
        asid: 1,
    };
    assert_eq!(ctx.root, loud_pt.root());
    // Each machine's tables for the new pages come from its own arena.
    let mut arenas = [0, 1].map(|_| TableArena::new(0x20_0000, 0x30_0000, 0x1000));
    for (page, preload) in [(0x40_0000, false), (0x40_1000, true)] {
        let mut events = Vec::new();
        let a = quiet.access(&mut quiet_mem, ctx, page, Read, User, &mut NoEvents);
        let b = loud.access(&mut loud_mem, ctx, page, Read, User, &mut events);
        assert!(a.is_err() && b.is_err(), "{page:#x} is not mapped yet");
        let machines = [
            (&mut quiet_mem, &mut quiet_pt),
            (&mut loud_mem, &mut loud_pt),
        ];
        for ((mem, pt), arena) in machines.into_iter().zip(&mut arenas) {
            let attrs = LeafAttrs::new(R | W | U);
            pt.map(&arch, mem, arena, page, 0x80_0000 + page, 12, attrs)
                .unwrap();
        }
        if preload {
            let entry = TlbEntry {
                vpn: page >> 12,
                page_shift: 12,
                frame_base: 0x80_0000 + page,
                perms: R | W | U,
                asid: 1,
                global: false,
                dirty: false,
            };
            // The L1d's 4 KiB array: 16 sets of 4 ways.
            let slot = TlbSlot {
                level: 1,
                array: 0,
                set: ((page >> 12) % 16) as usize,
                way: 0,
            };
            for mmu in [&mut quiet, &mut loud] {
                mmu.tlb_mut().insert_at(slot, entry).unwrap();
            }
        }
        let a = quiet.access(&mut quiet_mem, ctx, page, Read, User, &mut NoEvents);
        let b = loud.access(&mut loud_mem, ctx, page, Read, User, &mut events);
        assert_eq!(a, b, "{page:#x}");
        assert_eq!(a.unwrap().tlb_level.is_some(), preload, "{page:#x}");
        assert_eq!(quiet.counters(), loud.counters(), "{page:#x}");
        assert_eq!(quiet.tlb().counters(), loud.tlb().counters(), "{page:#x}");
        for level in 0..3 {
            let entries = |mmu: &Mmu| mmu.tlb().entries(level).collect::<Vec<_>>();
            assert_eq!(entries(&quiet), entries(&loud), "{page:#x} level {level}");
        }
    }
}

#[test]
fn translate_example_walks_then_hits() {
    // `vmlab translate --arch x86-64 --map 0x403000=0x12345000:rw 0x403abc
    // 0x403010`: the first address walks all four levels; the second hits.
    let (arch, mut mem, pt) = x86_64_mapped(&[(0x40_3000, 0x1234_5000)], R | W);
    let mut mmu = Mmu::new(arch, &TlbConfig::x86_64_default()).unwrap();
    let ctx = Context {
        root: pt.root(),
        asid: 0,
    };
    let mut ev = Vec::new();
    let a = mmu
        .access(&mut mem, ctx, 0x40_3abc, Read, Supervisor, &mut ev)
        .unwrap();
    assert_eq!(
        (a.paddr, a.tlb_level, a.cost.walk_reads),
        (0x1234_5abc, None, 4)
    );
    let walked: Vec<usize> = steps(&ev).iter().map(|s| s.0).collect();
    assert_eq!(walked, [0, 1, 2, 3]);
    let mut ev = Vec::new();
    let a = mmu
        .access(&mut mem, ctx, 0x40_3010, Read, Supervisor, &mut ev)
        .unwrap();
    assert_eq!((a.paddr, a.cost.walk_reads), (0x1234_5010, 0));
    assert!(a.tlb_level.is_some());
    assert!(steps(&ev).is_empty());
    // `--map 0x403000=0x12345000:r 0x403abc:w`: a protection fault at the leaf.
    let (arch, mut mem, pt) = x86_64_mapped(&[(0x40_3000, 0x1234_5000)], R);
    let mut mmu = Mmu::new(arch, &TlbConfig::x86_64_default()).unwrap();
    let ctx = Context {
        root: pt.root(),
        asid: 0,
    };
    let f = mmu
        .access(&mut mem, ctx, 0x40_3abc, Write, Supervisor, &mut Vec::new())
        .unwrap_err();
    match f.kind {
        MmuFaultKind::Page(p) => assert_eq!((p.level, p.cause), (3, PageFaultCause::Protection)),
        other => panic!("expected a page fault, got {other:?}"),
    }
    assert_eq!(f.cost.walk_reads, 4);
}

/// Quiet walks remember the path above the last level, but an explained
/// walk still reads and reports every level of it; both count four reads.
#[test]
fn an_explained_walk_reports_every_level_of_a_remembered_path() {
    let pages = [0x40_3000, 0x40_4000, 0x40_5000, 0x40_6000];
    let maps = pages.map(|va| (va, 0x1234_0000 + va));
    let (arch, mut mem, pt) = x86_64_mapped(&maps, R | W);
    let mut mmu = Mmu::new(arch, &TlbConfig::x86_64_default()).unwrap();
    let ctx = Context {
        root: pt.root(),
        asid: 0,
    };
    // The first walk sets the tables' accessed flags; the second finds
    // them set and remembers the path.
    for va in &pages[..2] {
        let a = mmu.access(&mut mem, ctx, *va, Read, Supervisor, &mut NoEvents);
        assert_eq!(a.unwrap().cost.walk_reads, 4, "{va:#x}");
    }
    let mut ev = Vec::new();
    let a = mmu
        .access(&mut mem, ctx, pages[2], Read, Supervisor, &mut ev)
        .unwrap();
    assert_eq!((a.tlb_level, a.cost.walk_reads), (None, 4));
    let walked: Vec<usize> = steps(&ev).iter().map(|s| s.0).collect();
    assert_eq!(walked, [0, 1, 2, 3]);
    let a = mmu.access(&mut mem, ctx, pages[3], Read, Supervisor, &mut NoEvents);
    assert_eq!(a.unwrap().cost.walk_reads, 4);
    assert_eq!(mmu.counters().walk_reads, 16);
}

/// Whether each access of `kinds` to `va` hit the TLB.
fn tlb_hits(
    mmu: &mut Mmu,
    mem: &mut PhysMem,
    root: u64,
    va: u64,
    kinds: &[AccessKind],
) -> Vec<bool> {
    let ctx = Context { root, asid: 0 };
    kinds
        .iter()
        .map(|&k| {
            mmu.access(mem, ctx, va, k, User, &mut Vec::new())
                .unwrap()
                .tlb_level
                .is_some()
        })
        .collect()
}

#[test]
fn writes_rewalk_only_while_the_hardware_must_set_dirty() {
    // x86-64: a read caches the page clean; the first write re-walks to set
    // D (SDM §4.8), later writes hit.
    let (arch, mut mem, pt) = x86_64_mapped(&[(0x40_3000, 0x1234_5000)], R | W | U);
    let mut mmu = Mmu::new(arch, &one_level_lru(4, 12)).unwrap();
    let hits = tlb_hits(
        &mut mmu,
        &mut mem,
        pt.root(),
        0x40_3000,
        &[Read, Write, Write, Read],
    );
    assert_eq!(hits, [false, false, true, true]);
    // OSTEP's format has no dirty bit: after the first walk every write hits.
    let mut m = Machine::new(preset("ostep"), 1 << 12, 108 * 32);
    m.store(&[(0xd98, 0xa1), (0x428, 0xb5)]);
    let mut mmu = Mmu::new(m.arch.clone(), &one_level_lru(4, 5)).unwrap();
    let hits = tlb_hits(&mut mmu, &mut m.mem, m.root, 0x611c, &[Write, Write, Read]);
    assert_eq!(hits, [false, true, true]);
    // AArch64 AP = 0b01 without DBM is writable with nothing to update.
    let mut m = aarch64(preset("aarch64-4k"));
    let mut mmu = Mmu::new(m.arch.clone(), &one_level_lru(4, 12)).unwrap();
    let hits = tlb_hits(
        &mut mmu,
        &mut m.mem,
        m.root,
        0x80_4060_3000,
        &[Read, Write, Write],
    );
    assert_eq!(hits, [false, true, true]);
    // AArch64 DBM page: clean until the first write clears AP[2].
    let hits = tlb_hits(
        &mut mmu,
        &mut m.mem,
        m.root,
        0x80_4060_5000,
        &[Read, Write, Write],
    );
    assert_eq!(hits, [false, false, true]);
    assert_eq!(m.load(0x4028), 0x0008_0000_1234_7443);
}
