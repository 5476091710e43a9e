//! Every built-in translation scheme checked bit by bit against its manual:
//! the address split (index bits and shift of each level, which levels may
//! hold a leaf, page sizes), address widths, entry size, reserved-bit masks,
//! the canonical-address rule, and the entry layout, by decoding raw entries
//! written out by hand and by comparing encoded leaves with hand-written raw
//! values.
//!
//! References: Intel SDM Vol. 3A ch. 4 "Paging" (tables 4-4 to 4-20);
//! RISC-V Privileged ISA 20211203 §4.3-4.6; Arm ARM DDI 0487 D8 (VMSAv8-64
//! descriptors); OSTEP ch. 20 `paging-multilevel-translate.py`; CS:APP 3e
//! §9.6.4; Silberschatz OSC 10e ch. 10 programming project. Every expected
//! number below was written from those documents, not from the code.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets::{by_name, NAMES};
use vmlab_hw::arch::pte::{
    AArch64Bits, DecodedPte, EntryBits, LeafAttrs, PteEncoding, PteKind, RiscVBits, SimpleBits,
    X86Bits,
};
use vmlab_hw::arch::{AdUpdate, Canonical};
use vmlab_hw::{Arch, Endian, Perms};

const R: Perms = Perms::READ;
const W: Perms = Perms::WRITE;
const XU: Perms = Perms::EXEC_USER;
const XS: Perms = Perms::EXEC_SUPER;
const X: Perms = Perms::EXEC_USER.union(Perms::EXEC_SUPER);
const U: Perms = Perms::USER;

fn preset(name: &str) -> Arch {
    by_name(name).unwrap().unwrap()
}

/// Checks each level's name, index bits, shift (lowest VA bit it indexes,
/// also the size of a leaf there) and whether it may hold a leaf.
fn geometry(arch: &Arch, expected: &[(&str, u8, u8, bool)]) {
    let levels = arch.levels();
    assert_eq!(levels.len(), expected.len(), "{}: level count", arch.name());
    for (i, &(name, bits, shift, leaf)) in expected.iter().enumerate() {
        let l = &levels[i];
        assert_eq!(
            (l.name.as_str(), l.index_bits, arch.level_shift(i), l.leaf),
            (name, bits, shift, leaf),
            "{}: level {i}",
            arch.name()
        );
    }
}

/// Decodes `raw` as an entry found at `level`, with that level's reserved masks.
fn dec(arch: &Arch, level: usize, raw: u64) -> DecodedPte {
    let l = &arch.levels()[level];
    let last = level == arch.levels().len() - 1;
    arch.pte().decode(
        raw,
        arch.page_shift(),
        l.leaf,
        last,
        l.table_reserved,
        l.leaf_reserved,
    )
}

/// Kind, address and rights of a decoded entry.
fn kap(d: DecodedPte) -> (PteKind, u64, Perms) {
    (d.kind, d.addr, d.perms)
}

/// Encodes a leaf for `addr` at `level` with the given rights and flags.
fn enc(
    arch: &Arch,
    level: usize,
    addr: u64,
    perms: Perms,
    global: bool,
    accessed: bool,
    dirty: bool,
) -> Result<u64, String> {
    let last = level == arch.levels().len() - 1;
    let attrs = LeafAttrs {
        perms,
        global,
        accessed,
        dirty,
    };
    arch.pte()
        .encode_leaf(addr, arch.page_shift(), last, &attrs)
        .map_err(|e| e.to_string())
}

fn canonical(arch: &Arch, cases: &[(u64, bool)]) {
    for &(va, ok) in cases {
        assert_eq!(arch.is_canonical(va), ok, "{}: {va:#x}", arch.name());
    }
}

fn indices(arch: &Arch, va: u64) -> Vec<u64> {
    (0..arch.levels().len())
        .map(|i| arch.index(va, i))
        .collect()
}

/// The presets these tests check by hand; a new preset must be added here
/// (and given its own test) before this passes.
#[test]
fn every_preset_has_a_hand_check() {
    let checked = [
        "x86-64",
        "x86-64-la57",
        "x86-32",
        "x86-32-pae",
        "riscv-sv32",
        "riscv-sv39",
        "riscv-sv48",
        "riscv-sv57",
        "aarch64-4k",
        "aarch64-16k",
        "aarch64-64k",
        "ostep",
        "csapp",
        "silberschatz",
    ];
    assert_eq!(NAMES, checked);
    for name in NAMES {
        let arch = preset(name);
        assert_eq!(arch.name(), *name);
        assert_eq!(arch.endian(), Endian::Little, "{name}");
    }
    assert!(by_name("x86-65").is_none());
}

// ---------------------------------------------------------------- x86 ----

/// The x86 flag positions: SDM tables 4-14 to 4-20 (P=0, R/W=1, U/S=2,
/// PWT=3, PCD=4, A=5, D=6, PS/PAT=7, G=8, XD=63).
fn x86_bits(no_exec: Option<u8>) -> PteEncoding {
    PteEncoding::X86(X86Bits {
        present: 0,
        write: 1,
        user: 2,
        accessed: 5,
        dirty: 6,
        page_size: 7,
        global: 8,
        no_exec,
    })
}

#[test]
fn x86_64_four_level_geometry() {
    let a = preset("x86-64");
    // SDM §4.5: 48-bit linear addresses, MAXPHYADDR up to 52, four 9-bit
    // levels over a 12-bit offset; PDPTE may map 1 GiB, PDE 2 MiB.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (48, 52, 12));
    geometry(
        &a,
        &[
            ("PML4", 9, 39, false),
            ("PDPT", 9, 30, true),
            ("PD", 9, 21, true),
            ("PT", 9, 12, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(12, 3), (21, 2), (30, 1)]);
    assert_eq!(a.level_for_page_shift(30), Some(1));
    assert_eq!(a.level_for_page_shift(39), None);
    for level in 0..4 {
        assert_eq!(a.table_bytes(level), 4096);
    }
    // 0x7f12_3456_7abc: bits 47:39 = 0xfe, 38:30 = 0x48, 29:21 = 0x1a2, 20:12 = 0x167.
    assert_eq!(
        indices(&a, 0x0000_7f12_3456_7abc),
        [0xfe, 0x48, 0x1a2, 0x167]
    );
    assert_eq!(a.pte().bytes, 8);
    assert_eq!(a.pte().encoding, x86_bits(Some(63)));
    // Address bits 51:12 (M = 52).
    assert_eq!((a.pte().frame_lo, a.pte().frame_bits), (12, 40));
    assert_eq!(a.asid_bits(), 12, "PCID is 12 bits (CR3[11:0])");
    assert_eq!(a.spec().canonical, Canonical::SignExtend);
    assert_eq!(a.ad_update(), AdUpdate::Hardware);
    // Table 4-15: PS (bit 7) is reserved in a PML4E. Table 4-17: a 1 GiB
    // PDPTE reserves bits 29:13. Table 4-18: a 2 MiB PDE reserves 20:13.
    // Bits 51:M are reserved only below 52-bit MAXPHYADDR.
    let l = a.levels();
    assert_eq!(l[0].table_reserved, 0x80);
    assert_eq!(l[1].table_reserved, 0);
    assert_eq!(l[1].leaf_reserved, 0x3fff_e000);
    assert_eq!(l[2].table_reserved, 0);
    assert_eq!(l[2].leaf_reserved, 0x001f_e000);
    assert_eq!((l[3].table_reserved, l[3].leaf_reserved), (0, 0));
    // SDM §4.6, §4.8: every level's R/W, U/S, XD restrict, and every
    // paging-structure entry used gets its accessed flag set.
    assert!(l.iter().all(|l| l.table_restricts && l.table_accessed));
    // §3.3.7.1: bits 63:47 must all equal bit 47.
    canonical(
        &a,
        &[
            (0, true),
            (0x0000_7fff_ffff_ffff, true),
            (0x0000_8000_0000_0000, false),
            (0xffff_7fff_ffff_ffff, false),
            (0xffff_8000_0000_0000, true),
            (u64::MAX, true),
            (0x0001_0000_0000_0000, false),
        ],
    );
}

#[test]
fn x86_64_entry_layout() {
    let a = preset("x86-64");
    // Table 4-15, PML4E: P, R/W, U/S, A, address 0x12345000, XD.
    let d = dec(&a, 0, 0x8000_0000_1234_5027);
    assert_eq!(kap(d), (PteKind::Table, 0x1234_5000, R | W | U));
    assert!(d.accessed);
    assert_eq!(d.reserved, 0);
    // The same PML4E with PS set: reserved bit 7.
    assert_eq!(dec(&a, 0, 0x0000_0000_1234_50a7).reserved, 0x80);
    // PS=1 in a PML4E does not make a leaf (no 512 GiB pages).
    assert_eq!(dec(&a, 0, 0x0000_0000_1234_5087).kind, PteKind::Table);
    // P=0: not present whatever else is set.
    assert_eq!(dec(&a, 3, 0x0000_0000_1234_5ffe).kind, PteKind::Invalid);
    // PWT (3) and PCD (4) are cache controls, not rights.
    let d = dec(&a, 3, 0x0000_0000_1234_5019);
    assert_eq!(kap(d), (PteKind::Leaf, 0x1234_5000, R | X));
    // Table 4-16/4-17, PDPTE: PS=1 maps 1 GiB at 0xff_c000_0000.
    let d = dec(&a, 1, 0x0000_00ff_c000_0083);
    assert_eq!(kap(d), (PteKind::Leaf, 0xff_c000_0000, R | W | X));
    assert_eq!((d.accessed, d.dirty, d.global), (false, false, false));
    assert!(d.clean_writable);
    assert_eq!(d.reserved, 0);
    // Bit 12 is PAT (allowed); bits 13 and 29 are reserved; 30 is address.
    assert_eq!(dec(&a, 1, 0x0000_00ff_c000_1083).reserved, 0);
    assert_eq!(dec(&a, 1, 0x0000_00ff_c000_2083).reserved, 0x2000);
    assert_eq!(dec(&a, 1, 0x0000_00ff_e000_0083).reserved, 0x2000_0000);
    assert_eq!(dec(&a, 1, 0x0000_00ff_4000_0083).reserved, 0);
    // PS=0 in a PDPTE: a pointer to a page directory.
    assert_eq!(dec(&a, 1, 0x0000_0000_0000_3003).kind, PteKind::Table);
    // Table 4-18, PDE mapping 2 MiB: P, R/W, A, D, PS, G.
    let d = dec(&a, 2, 0x0000_0000_0060_01e3);
    assert_eq!(kap(d), (PteKind::Leaf, 0x60_0000, R | W | X));
    assert_eq!((d.accessed, d.dirty, d.global), (true, true, true));
    assert!(!d.clean_writable);
    assert_eq!(dec(&a, 2, 0x0000_0000_0060_2083).reserved, 0x2000);
    assert_eq!(dec(&a, 2, 0x0000_0000_0070_0083).reserved, 0x10_0000);
    assert_eq!(dec(&a, 2, 0x0000_0000_0080_0083).reserved, 0);
    // Table 4-20, PTE: P, R/W, U/S, A, D, G, XD; bit 7 is PAT here, not PS.
    let d = dec(&a, 3, 0x8000_0000_1234_5167);
    assert_eq!(kap(d), (PteKind::Leaf, 0x1234_5000, R | W | U));
    assert_eq!((d.accessed, d.dirty, d.global), (true, true, true));
    assert_eq!(dec(&a, 3, 0x0000_0000_1234_5085).kind, PteKind::Leaf);
    // Address bits 51:12: bit 51 is in the frame, bits 62:52 are not.
    assert_eq!(
        dec(&a, 3, 0x0008_0000_0000_0001).addr,
        0x0008_0000_0000_0000
    );
    assert_eq!(dec(&a, 3, 0x7ff0_0000_0000_0001).addr, 0);
    assert_eq!(
        dec(&a, 3, 0x000f_ffff_ffff_f001).addr,
        0x000f_ffff_ffff_f000
    );

    // Encoding leaves.
    let rwxu = R | W | X | U;
    assert_eq!(
        enc(&a, 3, 0x1234_5000, rwxu, false, false, false),
        Ok(0x1234_5007)
    );
    assert_eq!(
        enc(&a, 3, 0x1234_5000, R | W | U, false, false, false),
        Ok(0x8000_0000_1234_5007)
    );
    assert_eq!(
        enc(&a, 3, 0x1234_5000, rwxu, true, true, true),
        Ok(0x1234_5167)
    );
    assert_eq!(
        enc(&a, 3, 0x000f_ffff_ffff_f000, R, false, false, false),
        Ok(0x800f_ffff_ffff_f001)
    );
    // 2 MiB and 1 GiB leaves carry PS.
    assert_eq!(
        enc(&a, 2, 0x4020_0000, R | W | X, false, false, false),
        Ok(0x4020_0083)
    );
    assert_eq!(
        enc(&a, 1, 0xc000_0000, R | X, false, true, false),
        Ok(0xc000_00a1)
    );
    // x86 cannot express write-only or a one-mode execute permission.
    assert!(enc(&a, 3, 0x1000, W, false, false, false).is_err());
    assert!(enc(&a, 3, 0x1000, R | XU, false, false, false).is_err());
}

#[test]
fn x86_64_la57() {
    let a = preset("x86-64-la57");
    // SDM §4.5: with CR4.LA57 a PML5 table indexes bits 56:48.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (57, 52, 12));
    geometry(
        &a,
        &[
            ("PML5", 9, 48, false),
            ("PML4", 9, 39, false),
            ("PDPT", 9, 30, true),
            ("PD", 9, 21, true),
            ("PT", 9, 12, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(12, 4), (21, 3), (30, 2)]);
    assert_eq!(
        indices(&a, 0x00fe_dcba_9876_5432),
        [0xfe, 0x1b9, 0xea, 0xc3, 0x165]
    );
    assert_eq!(a.pte().encoding, x86_bits(Some(63)));
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (8, 12, 40)
    );
    // Table 4-14: PS reserved in a PML5E, as in a PML4E.
    let l = a.levels();
    assert_eq!((l[0].table_reserved, l[1].table_reserved), (0x80, 0x80));
    assert_eq!(l[2].leaf_reserved, 0x3fff_e000);
    assert_eq!(l[3].leaf_reserved, 0x001f_e000);
    assert_eq!(dec(&a, 0, 0x0000_0000_0000_20a7).reserved, 0x80);
    // Bits 63:56 must equal bit 56.
    canonical(
        &a,
        &[
            (0x0000_8000_0000_0000, true),
            (0x00ff_ffff_ffff_ffff, true),
            (0x0100_0000_0000_0000, false),
            (0xff00_0000_0000_0000, true),
            (0xfeff_ffff_ffff_ffff, false),
        ],
    );
}

#[test]
fn x86_32_two_level() {
    let a = preset("x86-32");
    // SDM §4.3: 32-bit paging, 10/10/12, 4-byte entries, 4 MiB pages with
    // CR4.PSE=1, no execute-disable bit.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (32, 32, 12));
    geometry(&a, &[("PD", 10, 22, true), ("PT", 10, 12, true)]);
    assert_eq!(a.page_sizes(), vec![(12, 1), (22, 0)]);
    assert_eq!((a.table_bytes(0), a.table_bytes(1)), (4096, 4096));
    assert_eq!(indices(&a, 0x0804_8123), [0x20, 0x48]);
    assert_eq!(a.pte().bytes, 4);
    assert_eq!(a.pte().encoding, x86_bits(None));
    assert_eq!((a.pte().frame_lo, a.pte().frame_bits), (12, 20));
    assert_eq!(a.asid_bits(), 0);
    // Table 4-4 with MAXPHYADDR 32: a 4 MiB PDE has PAT in bit 12 and bits
    // 21:13 reserved; address bits 31:22.
    let l = a.levels();
    assert_eq!(l[0].leaf_reserved, 0x003f_e000);
    assert_eq!((l[0].table_reserved, l[1].leaf_reserved), (0, 0));
    let d = dec(&a, 0, 0x0040_0083);
    assert_eq!(kap(d), (PteKind::Leaf, 0x40_0000, R | W | X));
    assert_eq!(dec(&a, 0, 0x0040_1083).reserved, 0);
    assert_eq!(dec(&a, 0, 0x0040_2083).reserved, 0x2000);
    assert_eq!(dec(&a, 0, 0x0060_0083).reserved, 0x20_0000);
    // Table 4-5: a PDE pointing to a page table.
    let d = dec(&a, 0, 0x0012_3027);
    assert_eq!(kap(d), (PteKind::Table, 0x12_3000, R | W | U | X));
    assert!(d.accessed);
    // Table 4-6: a PTE; no XD, so every present page is executable.
    let d = dec(&a, 1, 0xffff_f065);
    assert_eq!(kap(d), (PteKind::Leaf, 0xffff_f000, R | U | X));
    assert_eq!((d.accessed, d.dirty), (true, true));
    assert_eq!(
        enc(&a, 1, 0x1000, R | W | X | U, false, false, false),
        Ok(0x0000_1007)
    );
    assert_eq!(
        enc(&a, 0, 0x00c0_0000, R | W | X, true, false, false),
        Ok(0x00c0_0183)
    );
    // Without XD every present page is executable, whatever was asked.
    assert_eq!(
        enc(&a, 1, 0x1000, R | W, false, false, false),
        Ok(0x0000_1003)
    );
    canonical(&a, &[(0xffff_ffff, true), (0x1_0000_0000, false)]);
}

#[test]
fn x86_32_pae() {
    let a = preset("x86-32-pae");
    // SDM §4.4: PAE, 2/9/9/12, 8-byte entries, MAXPHYADDR 36, XD.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (32, 36, 12));
    geometry(
        &a,
        &[
            ("PDPT", 2, 30, false),
            ("PD", 9, 21, true),
            ("PT", 9, 12, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(12, 2), (21, 1)]);
    assert_eq!(a.table_bytes(0), 32, "four 8-byte PDPTEs");
    assert_eq!(indices(&a, 0xc040_1234), [3, 2, 1]);
    assert_eq!(a.pte().encoding, x86_bits(Some(63)));
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (8, 12, 24)
    );
    // Table 4-8: PDPTE bits 2:1, 8:5 and 63:36 reserved; no rights, no A.
    let l = a.levels();
    assert_eq!(l[0].table_reserved, 0xffff_fff0_0000_01e6);
    assert!(!l[0].table_restricts && !l[0].table_accessed);
    // Tables 4-9 to 4-11: bits 62:36 reserved (63 is XD); 2 MiB adds 20:13.
    assert_eq!(l[1].table_reserved, 0x7fff_fff0_0000_0000);
    assert_eq!(l[1].leaf_reserved, 0x7fff_fff0_001f_e000);
    assert_eq!(l[2].leaf_reserved, 0x7fff_fff0_0000_0000);
    assert!(l[1].table_restricts && l[2].table_accessed);
    let d = dec(&a, 0, 0x0000_0000_1234_5001);
    assert_eq!(
        (d.kind, d.addr, d.reserved),
        (PteKind::Table, 0x1234_5000, 0)
    );
    assert_eq!(dec(&a, 0, 0x0000_0000_1234_5003).reserved, 0x2);
    assert_eq!(dec(&a, 0, 0x0000_0000_1234_5021).reserved, 0x20);
    assert_eq!(dec(&a, 0, 0x8000_0000_1234_5001).reserved, 1 << 63);
    assert_eq!(dec(&a, 0, 0x0000_0010_0000_1001).reserved, 1 << 36);
    // 2 MiB page at the top of the 36-bit space, NX.
    let d = dec(&a, 1, 0x8000_000f_ffe0_0083);
    assert_eq!(kap(d), (PteKind::Leaf, 0xf_ffe0_0000, R | W));
    assert_eq!(d.reserved, 0);
    assert_eq!(dec(&a, 1, 0x0000_0010_0020_0083).reserved, 1 << 36);
    assert_eq!(dec(&a, 2, 0x0000_0010_0000_1001).reserved, 1 << 36);
    assert_eq!(
        enc(&a, 2, 0xf_ffff_f000, R, false, false, false),
        Ok(0x8000_000f_ffff_f001)
    );
    assert_eq!(
        enc(&a, 1, 0x20_0000, R | X | U, false, false, false),
        Ok(0x0020_0085)
    );
    canonical(&a, &[(0xffff_ffff, true), (0x1_0000_0000, false)]);
}

// ------------------------------------------------------------- RISC-V ----

/// RISC-V priv. spec §4.3.1 figure 4.18: V=0 R=1 W=2 X=3 U=4 G=5 A=6 D=7,
/// RSW 9:8, PPN from bit 10.
fn riscv_bits() -> PteEncoding {
    PteEncoding::RiscV(RiscVBits {
        valid: 0,
        read: 1,
        write: 2,
        exec: 3,
        user: 4,
        global: 5,
        accessed: 6,
        dirty: 7,
    })
}

#[test]
fn riscv_sv32() {
    let a = preset("riscv-sv32");
    // §4.3: 32-bit VA, 34-bit PA, two 10-bit levels, 4 MiB megapages.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (32, 34, 12));
    geometry(&a, &[("level 1", 10, 22, true), ("level 0", 10, 12, true)]);
    assert_eq!(a.page_sizes(), vec![(12, 1), (22, 0)]);
    assert_eq!(indices(&a, 0x8040_1abc), [0x201, 0x1]);
    assert_eq!(a.pte().encoding, riscv_bits());
    // PPN in bits 31:10 (22 bits), 4-byte entries.
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (4, 10, 22)
    );
    assert_eq!(a.asid_bits(), 9, "satp.ASID is 9 bits in Sv32");
    assert!(a.spec().supervisor_denied_user_pages, "SUM=0");
    assert!(a.spec().misaligned_superpage_faults);
    // "For non-leaf PTEs, the D, A, and U bits are reserved."
    let l = a.levels();
    assert_eq!((l[0].table_reserved, l[0].leaf_reserved), (0xd0, 0));
    assert_eq!((l[1].table_reserved, l[1].leaf_reserved), (0xd0, 0));
    // V R W X A D with the largest PPN 0x3fffff: a 34-bit address.
    let d = dec(&a, 1, 0xffff_fccf);
    assert_eq!(kap(d), (PteKind::Leaf, 0x3_ffff_f000, R | W | X));
    assert_eq!((d.accessed, d.dirty, d.global), (true, true, false));
    // V only: a pointer to the next level; at level 0 there is none.
    let d = dec(&a, 0, 0x0000_0401);
    assert_eq!((d.kind, d.addr, d.reserved), (PteKind::Table, 0x1000, 0));
    assert_eq!(dec(&a, 1, 0x0000_0401).kind, PteKind::Invalid);
    // Non-leaf with A set: reserved.
    assert_eq!(dec(&a, 0, 0x0000_0441).reserved, 0x40);
    // W without R is reserved; X alone is an execute-only leaf; RSW ignored.
    assert!(dec(&a, 1, 0x0000_0405).reserved_encoding);
    assert_eq!(kap(dec(&a, 1, 0x0000_0409)), (PteKind::Leaf, 0x1000, X));
    let d = dec(&a, 1, 0x0000_0703);
    assert_eq!((kap(d), d.reserved), ((PteKind::Leaf, 0x1000, R), 0));
    // G and U.
    let d = dec(&a, 1, 0x0000_0433);
    assert_eq!(kap(d), (PteKind::Leaf, 0x1000, R | U));
    assert!(d.global);
    // PPN 0x123456 << 10 = 0x48d1_5800; V R W U A D = 0xd7.
    assert_eq!(
        enc(&a, 1, 0x1_2345_6000, R | W | U, false, true, true),
        Ok(0x48d1_58d7)
    );
    assert_eq!(
        enc(&a, 0, 0x40_0000, R | X, true, false, false),
        Ok(0x0010_002b)
    );
    assert!(enc(&a, 1, 0x1000, W, false, false, false).is_err());
    assert!(enc(&a, 1, 0x1000, R | XS, false, false, false).is_err());
    canonical(&a, &[(0xffff_ffff, true), (0x1_0000_0000, false)]);
}

#[test]
fn riscv_sv39() {
    let a = preset("riscv-sv39");
    // §4.4: 39-bit VA, 56-bit PA, three 9-bit levels, a leaf at any level.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (39, 56, 12));
    geometry(
        &a,
        &[
            ("level 2", 9, 30, true),
            ("level 1", 9, 21, true),
            ("level 0", 9, 12, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(12, 2), (21, 1), (30, 0)]);
    assert_eq!(indices(&a, 0x12_3456_7abc), [0x48, 0x1a2, 0x167]);
    assert_eq!(a.pte().encoding, riscv_bits());
    // PPN bits 53:10 (44 bits); bits 63:54 reserved (no Svnapot/Svpbmt).
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (8, 10, 44)
    );
    assert_eq!(a.asid_bits(), 16);
    for l in a.levels() {
        assert_eq!(l.leaf_reserved, 0xffc0_0000_0000_0000);
        assert_eq!(l.table_reserved, 0xffc0_0000_0000_00d0);
        assert!(!l.table_restricts && !l.table_accessed);
    }
    // The largest PPN: a 56-bit physical address.
    let d = dec(&a, 0, 0x003f_ffff_ffff_fc01);
    assert_eq!((d.kind, d.addr), (PteKind::Table, 0x00ff_ffff_ffff_f000));
    assert_eq!(dec(&a, 2, 0x0040_0000_0000_0003).reserved, 1 << 54);
    assert_eq!(dec(&a, 2, 0x8000_0000_0000_0003).reserved, 1 << 63);
    // §4.4.1: bits 63:39 must equal bit 38.
    canonical(
        &a,
        &[
            (0x0000_003f_ffff_ffff, true),
            (0x0000_0040_0000_0000, false),
            (0xffff_ffc0_0000_0000, true),
            (0xffff_ff80_0000_0000, false),
            (0xffff_ffbf_ffff_ffff, false),
        ],
    );
    // A megapage at 0x8020_0000: PPN 0x80200 << 10.
    assert_eq!(
        enc(&a, 1, 0x8020_0000, R | W, false, false, false),
        Ok(0x2008_0007)
    );
    assert_eq!(
        enc(&a, 2, 0x00ff_ffff_ffff_f000, R | X | U, true, true, false),
        Ok(0x003f_ffff_ffff_fc7b)
    );
}

#[test]
fn riscv_sv48_and_sv57() {
    let a = preset("riscv-sv48");
    // §4.5: four 9-bit levels, 48-bit VA, 512 GiB terapages at level 3.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (48, 56, 12));
    geometry(
        &a,
        &[
            ("level 3", 9, 39, true),
            ("level 2", 9, 30, true),
            ("level 1", 9, 21, true),
            ("level 0", 9, 12, true),
        ],
    );
    assert_eq!(indices(&a, 0x7f12_3456_7abc), [0xfe, 0x48, 0x1a2, 0x167]);
    assert_eq!(a.pte().encoding, riscv_bits());
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (8, 10, 44)
    );
    canonical(
        &a,
        &[
            (0x0000_7fff_ffff_ffff, true),
            (0x0000_8000_0000_0000, false),
            (0xffff_8000_0000_0000, true),
        ],
    );
    let a = preset("riscv-sv57");
    // §4.6: five 9-bit levels, 57-bit VA, 256 TiB petapages at level 4.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (57, 56, 12));
    geometry(
        &a,
        &[
            ("level 4", 9, 48, true),
            ("level 3", 9, 39, true),
            ("level 2", 9, 30, true),
            ("level 1", 9, 21, true),
            ("level 0", 9, 12, true),
        ],
    );
    assert_eq!(a.page_sizes()[4], (48, 0));
    assert_eq!(
        indices(&a, 0x00fe_dcba_9876_5432),
        [0xfe, 0x1b9, 0xea, 0xc3, 0x165]
    );
    assert_eq!(a.levels()[0].leaf_reserved, 0xffc0_0000_0000_0000);
    canonical(
        &a,
        &[
            (0x00ff_ffff_ffff_ffff, true),
            (0x0100_0000_0000_0000, false),
            (0xff00_0000_0000_0000, true),
        ],
    );
}

/// The walker folds the table entries of a path into their AND and OR and
/// decodes the limit once, at the leaf (`EntryBits::tables_limit`): for
/// paths of random entries that equals the intersection of each entry's
/// own limit, on x86 with and without XD, on AArch64 (whose table bits only
/// withhold) and on RISC-V (whose tables limit nothing); an empty path
/// limits nothing.
#[test]
fn folded_table_limits_equal_the_entries_limits_combined() {
    fn check<B: EntryBits>(name: &str, bits: B) {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..5 {
            for _ in 0..300 {
                let path: Vec<u64> = (0..len).map(|_| next()).collect();
                let all = path.iter().fold(u64::MAX, |all, &raw| all & raw);
                let any = path.iter().fold(0, |any, &raw| any | raw);
                let each = path
                    .iter()
                    .fold(Perms::all(), |limit, &raw| limit & bits.table_limit(raw));
                assert_eq!(bits.tables_limit(all, any), each, "{name}: {path:x?}");
            }
        }
    }
    for (name, encoding) in [
        ("x86 with XD", x86_bits(Some(63))),
        ("x86 without XD", x86_bits(None)),
        ("aarch64", aarch64_bits()),
    ] {
        match encoding {
            PteEncoding::X86(bits) => check(name, bits),
            PteEncoding::AArch64(bits) => check(name, bits),
            other => panic!("{name}: {other:?}"),
        }
    }
    match preset("riscv-sv39").pte().encoding {
        PteEncoding::RiscV(bits) => check("riscv", bits),
        ref other => panic!("riscv-sv39: {other:?}"),
    }
}

// ------------------------------------------------------------ AArch64 ----

/// Arm ARM D8.3: valid bit 0, table/page bit 1, AP[1] 6, AP[2] 7, AF 10,
/// nG 11, DBM 51, PXN 53, UXN 54, PXNTable 59, UXNTable 60, APTable 62:61.
fn aarch64_bits() -> PteEncoding {
    PteEncoding::AArch64(AArch64Bits {
        valid: 0,
        table: 1,
        ap_el0: 6,
        ap_read_only: 7,
        access_flag: 10,
        not_global: 11,
        dbm: 51,
        pxn: 53,
        uxn: 54,
        pxn_table: 59,
        uxn_table: 60,
        ap_table_no_el0: 61,
        ap_table_read_only: 62,
    })
}

#[test]
fn aarch64_4k_granule() {
    let a = preset("aarch64-4k");
    // D8.2: T0SZ=16 gives 48-bit VA; the 4 KiB granule starts at L0 with
    // four 9-bit levels; blocks of 1 GiB at L1 and 2 MiB at L2.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (48, 48, 12));
    geometry(
        &a,
        &[
            ("L0", 9, 39, false),
            ("L1", 9, 30, true),
            ("L2", 9, 21, true),
            ("L3", 9, 12, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(12, 3), (21, 2), (30, 1)]);
    assert_eq!(
        indices(&a, 0x0000_8040_603a_bc00),
        [0x100, 0x101, 0x101, 0x1ab]
    );
    assert_eq!(a.pte().encoding, aarch64_bits());
    // Output address bits 47:12.
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (8, 12, 36)
    );
    assert_eq!(a.asid_bits(), 16);
    assert_eq!(a.spec().canonical, Canonical::ZeroExtend);
    // RES0 OA bits 50:48 (no FEAT_LPA); a block's OA bits below its size.
    let l = a.levels();
    assert_eq!(l[0].table_reserved, 0x0007_0000_0000_0000);
    assert_eq!(l[1].leaf_reserved, 0x0007_0000_3fff_f000);
    assert_eq!(l[2].leaf_reserved, 0x0007_0000_001f_f000);
    assert_eq!(l[3].leaf_reserved, 0x0007_0000_0000_0000);
    // APTable/XNTable restrict hierarchically; no table access flag.
    assert!(l.iter().all(|l| l.table_restricts && !l.table_accessed));

    // Page descriptor: 0b11, AP[1]=1 (EL0), AP[2]=0 (RW), AF, nG, PXN, UXN.
    let d = dec(&a, 3, 0x0060_0000_1234_5c43);
    assert_eq!(kap(d), (PteKind::Leaf, 0x1234_5000, R | W | U));
    assert_eq!((d.accessed, d.global, d.dirty), (true, false, false));
    // AP=0b11: read-only at EL0 and EL1; executable in both.
    let d = dec(&a, 3, 0x0000_0000_1234_54c3);
    assert_eq!(kap(d), (PteKind::Leaf, 0x1234_5000, R | U | X));
    assert!(d.global);
    // AP=0b01 (EL0 writable) implies PXN (D8.4.1.2).
    let d = dec(&a, 3, 0x0000_0000_1234_5443);
    assert_eq!(kap(d), (PteKind::Leaf, 0x1234_5000, R | W | U | XU));
    // Bits 1:0 = 0b01 at L3 is reserved: invalid.
    assert_eq!(dec(&a, 3, 0x0000_0000_1234_5401).kind, PteKind::Invalid);
    // L2 block of 2 MiB, kernel RW.
    let d = dec(&a, 2, 0x0000_0000_4020_0401);
    assert_eq!(kap(d), (PteKind::Leaf, 0x4020_0000, R | W | X));
    assert_eq!(dec(&a, 2, 0x0000_0000_4020_1401).reserved, 0x1000);
    // L1 block of 1 GiB.
    let d = dec(&a, 1, 0x0000_0000_8000_0401);
    assert_eq!(
        (d.kind, d.addr, d.reserved),
        (PteKind::Leaf, 0x8000_0000, 0)
    );
    // No blocks at L0: 0b01 there is invalid.
    assert_eq!(dec(&a, 0, 0x0000_0000_8000_0401).kind, PteKind::Invalid);
    // Table descriptor with every APTable/XNTable bit: only reads pass.
    let d = dec(&a, 0, 0x7800_0000_1234_5003);
    assert_eq!(kap(d), (PteKind::Table, 0x1234_5000, R));
    let d = dec(&a, 0, 0x4000_0000_1234_5003);
    assert_eq!(kap(d), (PteKind::Table, 0x1234_5000, R | U | X));
    assert_eq!(dec(&a, 0, 0x2000_0000_0000_3003).perms, R | W | X);
    assert_eq!(dec(&a, 0, 0x1000_0000_0000_3003).perms, R | W | U | XS);
    assert_eq!(dec(&a, 0, 0x0800_0000_0000_3003).perms, R | W | U | XU);
    assert_eq!(dec(&a, 0, 0x0001_0000_0000_3003).reserved, 1 << 48);
    // DBM with AP[2]=1: writable but clean; with AP[2]=0: dirty.
    let d = dec(&a, 3, 0x0008_0000_1234_54c3);
    assert_eq!(d.perms & W, W);
    assert!(d.clean_writable && !d.dirty);
    let d = dec(&a, 3, 0x0008_0000_1234_5443);
    assert!(!d.clean_writable && d.dirty);

    // Encoding: EL0 RW, EL0 exec, clean (DBM + AP[2]), AF, nG, PXN.
    assert_eq!(
        enc(&a, 3, 0x1234_5000, R | W | U | XU, false, true, false),
        Ok(0x0028_0000_1234_5cc3)
    );
    // Dirty: AP[2] clear.
    assert_eq!(
        enc(&a, 3, 0x1234_5000, R | W | U | XU, false, true, true),
        Ok(0x0028_0000_1234_5c43)
    );
    // 2 MiB block, kernel read-only, kernel exec, global, AF: 0b01, AP[2], UXN.
    assert_eq!(
        enc(&a, 2, 0x4020_0000, R | XS, true, true, false),
        Ok(0x0040_0000_4020_0481)
    );
    assert!(enc(&a, 3, 0x1000, W, false, false, false).is_err());
    canonical(
        &a,
        &[
            (0x0000_ffff_ffff_ffff, true),
            (0x0001_0000_0000_0000, false),
            (0xffff_0000_0000_0000, false),
        ],
    );
}

#[test]
fn aarch64_16k_granule() {
    let a = preset("aarch64-16k");
    // D8.2, 16 KiB granule, 48-bit VA: L0 resolves 1 bit (47), then three
    // levels of 11 bits over a 14-bit offset; blocks of 32 MiB at L2 only
    // (64 GiB L1 blocks need 52-bit addresses).
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (48, 48, 14));
    geometry(
        &a,
        &[
            ("L0", 1, 47, false),
            ("L1", 11, 36, false),
            ("L2", 11, 25, true),
            ("L3", 11, 14, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(14, 3), (25, 2)]);
    assert_eq!(indices(&a, 0x0000_8765_4321_0abc), [1, 0x76, 0x2a1, 0x484]);
    assert_eq!(a.pte().encoding, aarch64_bits());
    assert_eq!((a.pte().frame_lo, a.pte().frame_bits), (14, 34));
    assert_eq!(a.table_bytes(0), 16);
    assert_eq!(a.table_bytes(3), 16384);
    assert_eq!(a.levels()[2].leaf_reserved, 0x0007_0000_01ff_c000);
    let d = dec(&a, 3, 0x0000_ffff_ffff_c403);
    assert_eq!(kap(d), (PteKind::Leaf, 0x0000_ffff_ffff_c000, R | W | X));
    let d = dec(&a, 2, 0x0000_0000_0200_0401);
    assert_eq!((d.kind, d.addr, d.reserved), (PteKind::Leaf, 0x200_0000, 0));
    assert_eq!(dec(&a, 2, 0x0000_0000_0200_4401).reserved, 0x4000);
    assert_eq!(dec(&a, 1, 0x0000_0000_0200_0401).kind, PteKind::Invalid);
}

#[test]
fn aarch64_64k_granule() {
    let a = preset("aarch64-64k");
    // D8.2, 64 KiB granule, 48-bit VA: L1 resolves 6 bits (47:42), L2 and
    // L3 13 bits each over a 16-bit offset; 512 MiB blocks at L2 (4 TiB
    // L1 blocks need FEAT_LPA). Bits 15:12 hold OA[51:48] only with
    // FEAT_LPA, so they are RES0.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (48, 48, 16));
    geometry(
        &a,
        &[
            ("L1", 6, 42, false),
            ("L2", 13, 29, true),
            ("L3", 13, 16, true),
        ],
    );
    assert_eq!(a.page_sizes(), vec![(16, 2), (29, 1)]);
    assert_eq!(indices(&a, 0x0000_8765_4321_0abc), [0x21, 0x1b2a, 0x321]);
    assert_eq!(a.pte().encoding, aarch64_bits());
    assert_eq!((a.pte().frame_lo, a.pte().frame_bits), (16, 32));
    assert_eq!(a.table_bytes(0), 512);
    assert_eq!(a.table_bytes(1), 65536);
    let l = a.levels();
    assert_eq!(l[0].table_reserved, 0x0007_0000_0000_f000);
    assert_eq!(l[1].leaf_reserved, 0x0007_0000_1fff_f000);
    assert_eq!(l[2].leaf_reserved, 0x0007_0000_0000_f000);
    let d = dec(&a, 2, 0x0000_ffff_ffff_0403);
    assert_eq!(kap(d), (PteKind::Leaf, 0x0000_ffff_ffff_0000, R | W | X));
    assert_eq!(dec(&a, 2, 0x0000_ffff_ffff_1403).reserved, 0x1000);
    let d = dec(&a, 1, 0x0000_0000_e000_0401);
    assert_eq!(
        (d.kind, d.addr, d.reserved),
        (PteKind::Leaf, 0xe000_0000, 0)
    );
    assert_eq!(dec(&a, 1, 0x0000_0000_e001_0401).reserved, 0x1_0000);
    assert_eq!(
        enc(&a, 2, 0x0000_ffff_ffff_0000, R | U, false, true, false),
        Ok(0x0060_ffff_ffff_0cc3)
    );
}

// --------------------------------------------------- teaching machines ----

#[test]
fn ostep_multilevel() {
    let a = preset("ostep");
    // OSTEP paging-multilevel-translate: 32-byte pages, 32 KiB virtual
    // space (15 bits: 5 PD index, 5 PT index, 5 offset), 128 physical
    // pages (12-bit PA); each PDE/PTE is one byte: valid in bit 7, PFN 6:0.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (15, 12, 5));
    geometry(&a, &[("PD", 5, 10, false), ("PT", 5, 5, true)]);
    assert_eq!(a.page_sizes(), vec![(5, 1)]);
    assert_eq!((a.table_bytes(0), a.table_bytes(1)), (32, 32));
    // README example: VA 0x611c has PDE index 0x18, PTE index 8.
    assert_eq!(indices(&a, 0x611c), [0x18, 0x8]);
    assert_eq!(
        a.pte().encoding,
        PteEncoding::Simple(SimpleBits {
            valid: 7,
            read: None,
            write: None,
            exec: None,
            user: None,
            accessed: None,
            dirty: None,
        })
    );
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (1, 0, 7)
    );
    // "pde contents:0xa1 (valid 1, pfn 0x21)": the PT at 0x21 * 32.
    let d = dec(&a, 0, 0xa1);
    assert_eq!((d.kind, d.addr), (PteKind::Table, 0x420));
    // "pte contents:0xb5 (valid 1, pfn 0x35)".
    let d = dec(&a, 1, 0xb5);
    assert_eq!(kap(d), (PteKind::Leaf, 0x6a0, R | W | X | U));
    // 0x7f: valid 0.
    assert_eq!(dec(&a, 0, 0x7f).kind, PteKind::Invalid);
    assert_eq!(dec(&a, 1, 0x7f).kind, PteKind::Invalid);
    assert_eq!(
        enc(&a, 1, 0x6a0, R | W | X | U, false, false, false),
        Ok(0xb5)
    );
    // A right the format has no bit for is always granted.
    assert_eq!(enc(&a, 1, 0x6a0, R, false, false, false), Ok(0xb5));
    canonical(&a, &[(0x7fff, true), (0x8000, false)]);
}

/// vmlab's linear-table entry layout (the books leave the bits abstract):
/// valid 0, R 1, W 2, X 3, U 4, A 5, D 6, frame from bit 8.
fn linear_bits() -> PteEncoding {
    PteEncoding::Simple(SimpleBits {
        valid: 0,
        read: Some(1),
        write: Some(2),
        exec: Some(3),
        user: Some(4),
        accessed: Some(5),
        dirty: Some(6),
    })
}

#[test]
fn csapp_small_memory_system() {
    let a = preset("csapp");
    // CS:APP 3e §9.6.4: 14-bit VA, 12-bit PA, 64-byte pages: an 8-bit VPN
    // and 6-bit VPO; a 6-bit PPN. One linear table of 256 entries.
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (14, 12, 6));
    geometry(&a, &[("PT", 8, 6, true)]);
    assert_eq!(a.page_sizes(), vec![(6, 0)]);
    assert_eq!(a.pte().encoding, linear_bits());
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (2, 8, 6)
    );
    assert_eq!(a.table_bytes(0), 512);
    // Figure 9.20: VA 0x03d4 has VPN 0x0f, VPO 0x14.
    assert_eq!(indices(&a, 0x03d4), [0x0f]);
    // PPN 0x0d, valid, R W U.
    let d = dec(&a, 0, 0x0d17);
    assert_eq!(kap(d), (PteKind::Leaf, 0x340, R | W | U));
    assert_eq!((d.accessed, d.dirty), (false, false));
    let d = dec(&a, 0, 0x3f7f);
    assert_eq!(kap(d), (PteKind::Leaf, 0xfc0, R | W | X | U));
    assert_eq!((d.accessed, d.dirty), (true, true));
    assert_eq!(dec(&a, 0, 0x3f7e).kind, PteKind::Invalid);
    assert_eq!(
        enc(&a, 0, 0x354 & !0x3f, R | W | U, false, false, false),
        Ok(0x0d17)
    );
    canonical(&a, &[(0x3fff, true), (0x4000, false)]);
}

#[test]
fn silberschatz_vmm() {
    let a = preset("silberschatz");
    // OSC 10e ch. 10 project: 2^16 virtual bytes, 2^8-entry page table,
    // 2^8-byte pages, 256 frames of 256 bytes (16-bit PA).
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (16, 16, 8));
    geometry(&a, &[("PT", 8, 8, true)]);
    assert_eq!(a.pte().encoding, linear_bits());
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (2, 8, 8)
    );
    // The project's first address, 1 (page 0 offset 1); 16916 = 0x4214 is
    // page 66 offset 20.
    assert_eq!(indices(&a, 16916), [66]);
    let d = dec(&a, 0, 0xff03);
    assert_eq!(kap(d), (PteKind::Leaf, 0xff00, R));
    canonical(&a, &[(0xffff, true), (0x1_0000, false)]);
}

#[test]
fn linear_spec_parses() {
    let a = by_name("linear:va=16,page=1024,pa=15").unwrap().unwrap();
    // 16-bit VA with 1 KiB pages: a 6-bit VPN, 64 entries; 15-bit PA gives
    // 5-bit frame numbers, which with 8 flag bits fit a 2-byte entry.
    assert_eq!(a.name(), "linear:va=16,page=1024,pa=15");
    assert_eq!((a.va_bits(), a.pa_bits(), a.page_shift()), (16, 15, 10));
    geometry(&a, &[("PT", 6, 10, true)]);
    assert_eq!(a.pte().encoding, linear_bits());
    assert_eq!(
        (a.pte().bytes, a.pte().frame_lo, a.pte().frame_bits),
        (2, 8, 5)
    );
    assert_eq!(indices(&a, 0xfc00), [0x3f]);
    assert_eq!(
        kap(dec(&a, 0, 0x1f1f)),
        (PteKind::Leaf, 0x7c00, R | W | X | U)
    );
    assert_eq!(
        kap(dec(&a, 0, 0x1f01)),
        (PteKind::Leaf, 0x7c00, Perms::empty())
    );
    assert_eq!(
        enc(&a, 0, 0x7c00, R | W | U, false, false, false),
        Ok(0x1f17)
    );
    // 32-bit space with 4 KiB pages: 20 index bits, 20-bit frames, 4 bytes.
    let a = by_name("linear:va=32,page=4096,pa=32").unwrap().unwrap();
    geometry(&a, &[("PT", 20, 12, true)]);
    assert_eq!((a.pte().bytes, a.pte().frame_bits), (4, 20));
    // 40-bit PA: 28-bit frames need an 8-byte entry.
    let a = by_name("linear:va=24,page=4096,pa=40").unwrap().unwrap();
    assert_eq!((a.pte().bytes, a.pte().frame_bits), (8, 28));
}

#[test]
fn linear_spec_errors_name_the_field() {
    let field = |spec: &str| match by_name(spec) {
        Some(Err(e)) => e.field,
        Some(Ok(a)) => panic!("{spec} accepted as {}", a.name()),
        None => panic!("{spec} not recognised as a linear spec"),
    };
    assert_eq!(field("linear:va=16,page=1000,pa=16"), "linear:page");
    assert_eq!(field("linear:va=16,page=1,pa=16"), "linear:page");
    assert_eq!(field("linear:va=16,page=1024"), "linear:pa");
    assert_eq!(field("linear:page=1024,pa=16"), "linear:va");
    assert_eq!(field("linear:va=x,page=1024,pa=16"), "linear:va");
    assert_eq!(field("linear:va=16,page=1024,pa=99"), "linear:pa");
    assert_eq!(field("linear:vb=16,page=1024,pa=16"), "linear:vb");
    assert_eq!(field("linear:va16,page=1024,pa=16"), "linear:va16");
    // Values the parser accepts but the scheme cannot have: still named by
    // the part of the spec the user wrote.
    assert_eq!(field("linear:va=16,page=1024,pa=60"), "linear:pa");
    assert_eq!(field("linear:va=10,page=1024,pa=16"), "linear:page");
    assert_eq!(field("linear:va=48,page=4096,pa=40"), "linear:va");
    assert_eq!(field("linear:va=0,page=2,pa=16"), "linear:va");
    // A physical space of one page or less: accepted, then every mapping
    // failed ("outside physical memory of 0x10000000000000 bytes").
    assert_eq!(field("linear:va=3,page=2,pa=1"), "linear:pa");
    assert_eq!(field("linear:va=16,page=4096,pa=12"), "linear:pa");
    assert!(by_name("linear:va=16,page=4096,pa=13").unwrap().is_ok());
}
