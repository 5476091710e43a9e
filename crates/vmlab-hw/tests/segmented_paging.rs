//! The MMU with segmentation in front of paging: x86-32 segment registers
//! loaded from a GDT in simulated memory, then 32-bit paging (segmented
//! paging, Intel SDM Vol. 3A §3.1: logical → linear → physical), a limit
//! violation reported before any page walk, and pure segmentation
//! (base-and-bounds, an OSTEP segment table) with paging off.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::segment::x86::{
    DescriptorTable, DescriptorTables, SegReg, SegmentDescriptor, SegmentType, SegmentUnit,
    Selector,
};
use vmlab_hw::segment::{BaseBounds, Segment, SegmentTable};
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{
    AccessKind, Context, Event, Mmu, MmuFaultKind, Mode, PageTable, Perms, PhysMem, Segmentation,
    TableArena,
};

#[test]
fn x86_32_segment_then_page() {
    let arch = presets::by_name("x86-32").unwrap().unwrap();
    let mut mem = PhysMem::new(1 << 32, arch.endian()).unwrap();
    // GDT at 0x1000: entry 0 null, entry 1 a read/write data segment based
    // at 0x1000_0000 whose last valid offset is 0xFFFF.
    let data = SegmentDescriptor::new(
        0x1000_0000,
        0xFFFF,
        SegmentType::Data {
            writable: true,
            expand_down: false,
        },
        3,
    )
    .unwrap();
    mem.store(0x1008, 8, data.encode()).unwrap();
    let mut unit = SegmentUnit::new(DescriptorTables {
        gdt_base: 0x1000,
        gdt_limit: 15,
        ldt_base: 0,
        ldt_limit: 0,
    });
    unit.load_segment(
        &mut mem,
        SegReg::Ds,
        Selector::new(1, DescriptorTable::Gdt, 3),
        3,
    )
    .unwrap();
    // Paging maps linear page 0x1000_2000 to frame 0x0050_0000.
    let mut arena = TableArena::new(0x10_0000, 0x20_0000, 4096);
    let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
    let attrs = LeafAttrs::new(Perms::READ | Perms::WRITE | Perms::USER);
    pt.map(
        &arch,
        &mut mem,
        &mut arena,
        0x1000_2000,
        0x50_0000,
        12,
        attrs,
    )
    .unwrap();
    let mut mmu = Mmu::new(arch, &TlbConfig::none())
        .unwrap()
        .with_segmentation(Segmentation::X86(unit), true);
    let ctx = Context {
        root: pt.root(),
        asid: 0,
    };
    // Offset 0x2abc in DS: linear 0x1000_2abc, physical 0x50_0abc, after a
    // two-level walk.
    let mut events = Vec::new();
    let a = mmu
        .access(
            &mut mem,
            ctx,
            0x2abc,
            AccessKind::Write,
            Mode::User,
            &mut events,
        )
        .unwrap();
    assert_eq!(a.paddr, 0x50_0abc);
    assert_eq!(a.cost.walk_reads, 2);
    assert!(events.contains(&Event::Segment {
        offset: 0x2abc,
        linear: 0x1000_2abc
    }));
    // Offset 0x1_0000 is past the limit: a segment fault, and no page walk.
    let mut events = Vec::new();
    let f = mmu
        .access(
            &mut mem,
            ctx,
            0x1_0000,
            AccessKind::Read,
            Mode::User,
            &mut events,
        )
        .unwrap_err();
    assert!(matches!(f.kind, MmuFaultKind::Segment(_)));
    assert_eq!(f.cost.walk_reads, 0);
    assert!(!events.iter().any(|e| matches!(e, Event::WalkStep { .. })));
    assert_eq!(mmu.counters().segment_faults, 1);
    assert_eq!(mmu.counters().walks, 1);
}

#[test]
fn base_and_bounds_without_paging() {
    // OSTEP ch. 15: base 32 KiB, bounds 16 KiB.
    let arch = presets::by_name("x86-32").unwrap().unwrap();
    let mut mem = PhysMem::new(1 << 20, arch.endian()).unwrap();
    let mut mmu = Mmu::new(arch, &TlbConfig::none())
        .unwrap()
        .with_segmentation(
            Segmentation::BaseBounds(BaseBounds::new(32 << 10, 16 << 10).unwrap()),
            false,
        );
    let ctx = Context { root: 0, asid: 0 };
    let mut none = vmlab_hw::NoEvents;
    let a = mmu
        .access(
            &mut mem,
            ctx,
            15 << 10,
            AccessKind::Read,
            Mode::User,
            &mut none,
        )
        .unwrap();
    assert_eq!(a.paddr, 47 << 10);
    let f = mmu
        .access(
            &mut mem,
            ctx,
            16 << 10,
            AccessKind::Read,
            Mode::User,
            &mut none,
        )
        .unwrap_err();
    assert!(matches!(f.kind, MmuFaultKind::Segment(_)));
}

#[test]
fn ostep_segment_table_without_paging() {
    // OSTEP ch. 16: 14-bit addresses, 2 top bits select code (base 32K,
    // size 2K), heap (base 34K, size 3K), stack (base 28K, size 2K, grows
    // down).
    let arch = presets::by_name("x86-32").unwrap().unwrap();
    let mut mem = PhysMem::new(1 << 20, arch.endian()).unwrap();
    let rw = Perms::READ | Perms::WRITE | Perms::USER;
    let table = SegmentTable::new(
        14,
        2,
        vec![
            Segment::grow_up(32 << 10, 2 << 10, rw | Perms::EXEC_USER),
            Segment::grow_up(34 << 10, 3 << 10, rw),
            Segment::default(),
            Segment::grow_down(28 << 10, 2 << 10, rw),
        ],
    )
    .unwrap();
    let mut mmu = Mmu::new(arch, &TlbConfig::none())
        .unwrap()
        .with_segmentation(Segmentation::Table(table), false);
    let ctx = Context { root: 0, asid: 0 };
    let mut none = vmlab_hw::NoEvents;
    let mut go = |va: u64| mmu.access(&mut mem, ctx, va, AccessKind::Read, Mode::User, &mut none);
    // Heap: virtual 4200 is offset 104 in segment 1: physical 34K + 104.
    assert_eq!(go(4200).unwrap().paddr, (34 << 10) + 104);
    // Stack: virtual 15K is 1K below the top of segment 3: physical 27K.
    assert_eq!(go(15 << 10).unwrap().paddr, 27 << 10);
    // Past the heap's 3K: a fault.
    assert!(go((4 << 10) + (3 << 10)).is_err());
}
