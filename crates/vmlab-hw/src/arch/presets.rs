//! The built-in translation schemes: real architectures, each laid out bit
//! for bit as its manual defines it, and the teaching machines of the
//! textbooks instructors use. [`by_name`] finds one; [`NAMES`] lists them.
//!
//! Sources: Intel SDM Vol. 3A ch. 4 "Paging"; RISC-V Privileged ISA
//! (20211203) §4.3-4.6; Arm ARM (DDI 0487) D8 "The AArch64 Virtual Memory
//! System Architecture"; OSTEP ch. 20 homework `paging-multilevel-translate.py`;
//! CS:APP 3e §9.6.4; Silberschatz, Operating System Concepts 10e, ch. 10
//! programming project "Designing a Virtual Memory Manager".

use super::pte::{bit_range, AArch64Bits, PteEncoding, PteFormat, RiscVBits, SimpleBits, X86Bits};
use super::{AdUpdate, Arch, ArchError, ArchSpec, Canonical, Level};
use crate::physmem::Endian;

/// The preset names [`by_name`] accepts, with `linear:...` for a
/// configurable single-level machine.
pub const NAMES: &[&str] = &[
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

/// The preset called `name`, or a `linear:va=BITS,page=BYTES,pa=BITS`
/// teaching machine. `None` for an unknown name; a malformed `linear:` spec
/// is an error naming the part at fault.
pub fn by_name(name: &str) -> Option<Result<Arch, ArchError>> {
    if let Some(params) = name.strip_prefix("linear:") {
        return Some(parse_linear(params));
    }
    let arch = match name {
        "x86-64" => x86_64(4),
        "x86-64-la57" => x86_64(5),
        "x86-32" => x86_32(),
        "x86-32-pae" => x86_32_pae(),
        "riscv-sv32" => riscv_sv32(),
        "riscv-sv39" => riscv_sv(3),
        "riscv-sv48" => riscv_sv(4),
        "riscv-sv57" => riscv_sv(5),
        "aarch64-4k" => aarch64(12),
        "aarch64-16k" => aarch64(14),
        "aarch64-64k" => aarch64(16),
        "ostep" => ostep(),
        "csapp" => csapp(),
        "silberschatz" => silberschatz(),
        _ => return None,
    };
    Some(Ok(arch))
}

fn level(name: &str, index_bits: u8, leaf: bool) -> Level {
    Level {
        name: name.to_string(),
        index_bits,
        leaf,
        table_reserved: 0,
        leaf_reserved: 0,
        table_restricts: false,
        table_accessed: false,
    }
}

fn build(spec: ArchSpec) -> Arch {
    match Arch::new(spec) {
        Ok(arch) => arch,
        // Presets are fixed data checked by the test suite; an invalid one is
        // a bug in this file, not a user error.
        Err(e) => unreachable!("built-in scheme is inconsistent: {e}"),
    }
}

fn x86_bits(no_exec: Option<u8>) -> X86Bits {
    X86Bits {
        present: 0,
        write: 1,
        user: 2,
        accessed: 5,
        dirty: 6,
        page_size: 7,
        global: 8,
        no_exec,
    }
}

/// An x86 paging level: table entries restrict the leaves below and get
/// their accessed flag set when used (SDM §4.6, §4.8).
fn x86_level(name: &str, leaf: bool, table_reserved: u64, leaf_reserved: u64) -> Level {
    Level {
        table_reserved,
        leaf_reserved,
        table_restricts: true,
        table_accessed: true,
        ..level(name, 9, leaf)
    }
}

/// Intel 64 4-level (48-bit) or 5-level (57-bit, LA57) paging with
/// MAXPHYADDR 52, NX enabled (IA32_EFER.NXE=1) and PCIDs (CR4.PCIDE=1).
fn x86_64(levels: usize) -> Arch {
    // SDM tables 4-15 to 4-20: PS is reserved in PML5E/PML4E; a 1 GiB page
    // has bits 29:13 reserved and a 2 MiB page bits 20:13 (bit 12 is PAT).
    let mut tables = Vec::new();
    if levels == 5 {
        tables.push(x86_level("PML5", false, 1 << 7, 0));
    }
    tables.extend([
        x86_level("PML4", false, 1 << 7, 0),
        x86_level("PDPT", true, 0, bit_range(13, 29)),
        x86_level("PD", true, 0, bit_range(13, 20)),
        x86_level("PT", true, 0, 0),
    ]);
    let (name, va_bits) = if levels == 5 {
        ("x86-64-la57", 57)
    } else {
        ("x86-64", 48)
    };
    build(ArchSpec {
        name: name.into(),
        description: format!(
            "Intel 64 {levels}-level paging: {va_bits}-bit virtual, 52-bit physical, 4 KiB/2 MiB/1 GiB pages, NX, PCID (Intel SDM Vol. 3A §4.5)"
        ),
        va_bits,
        pa_bits: 52,
        page_shift: 12,
        levels: tables,
        pte: PteFormat {
            bytes: 8,
            frame_lo: 12,
            frame_bits: 40,
            encoding: PteEncoding::X86(x86_bits(Some(63))),
        },
        canonical: Canonical::SignExtend,
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: 12,
        supervisor_denied_user_pages: false,
        misaligned_superpage_faults: false,
    })
}

/// IA-32 32-bit paging with PSE (CR4.PSE=1) and MAXPHYADDR 32.
fn x86_32() -> Arch {
    // SDM table 4-4: a 4 MiB PDE holds PA bits 31:22; with MAXPHYADDR 32 its
    // bits 21:13 are reserved (bit 12 is PAT).
    build(ArchSpec {
        name: "x86-32".into(),
        description:
            "IA-32 32-bit paging (10/10/12) with 4 MiB PSE pages, no NX (Intel SDM Vol. 3A §4.3)"
                .into(),
        va_bits: 32,
        pa_bits: 32,
        page_shift: 12,
        levels: vec![
            Level {
                index_bits: 10,
                ..x86_level("PD", true, 0, bit_range(13, 21))
            },
            Level {
                index_bits: 10,
                ..x86_level("PT", true, 0, 0)
            },
        ],
        pte: PteFormat {
            bytes: 4,
            frame_lo: 12,
            frame_bits: 20,
            encoding: PteEncoding::X86(x86_bits(None)),
        },
        canonical: Canonical::ZeroExtend,
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: 0,
        supervisor_denied_user_pages: false,
        misaligned_superpage_faults: false,
    })
}

/// IA-32 PAE paging (2/9/9/12) with MAXPHYADDR 36 and NX.
fn x86_32_pae() -> Arch {
    // SDM table 4-8: a PDPTE reserves bits 2:1, 8:5 and 63:M; it carries no
    // access rights and no accessed flag. Tables 4-9 to 4-11: bits 62:M are
    // reserved in PDEs and PTEs; a 2 MiB PDE also reserves 20:13.
    let above_pa = bit_range(36, 62);
    build(ArchSpec {
        name: "x86-32-pae".into(),
        description:
            "IA-32 PAE paging (2/9/9/12): 32-bit virtual, 36-bit physical, 4 KiB/2 MiB pages, NX (Intel SDM Vol. 3A §4.4)"
                .into(),
        va_bits: 32,
        pa_bits: 36,
        page_shift: 12,
        levels: vec![
            Level {
                index_bits: 2,
                table_reserved: bit_range(1, 2) | bit_range(5, 8) | bit_range(36, 63),
                ..level("PDPT", 2, false)
            },
            x86_level("PD", true, above_pa, above_pa | bit_range(13, 20)),
            x86_level("PT", true, 0, above_pa),
        ],
        pte: PteFormat {
            bytes: 8,
            frame_lo: 12,
            frame_bits: 24,
            encoding: PteEncoding::X86(x86_bits(Some(63))),
        },
        canonical: Canonical::ZeroExtend,
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: 0,
        supervisor_denied_user_pages: false,
        misaligned_superpage_faults: false,
    })
}

const RISCV_BITS: RiscVBits = RiscVBits {
    valid: 0,
    read: 1,
    write: 2,
    exec: 3,
    user: 4,
    global: 5,
    accessed: 6,
    dirty: 7,
};

/// A RISC-V level: "For non-leaf PTEs, the D, A, and U bits are reserved
/// for future standard use" (priv. spec §4.3.1), and setting a reserved bit
/// raises a page fault (§4.3.2 step 3).
fn riscv_level(i: usize, index_bits: u8, reserved: u64) -> Level {
    Level {
        table_reserved: reserved | 1 << 4 | 1 << 6 | 1 << 7,
        leaf_reserved: reserved,
        ..level(&format!("level {i}"), index_bits, true)
    }
}

fn riscv_spec(name: &str, description: String, va_bits: u8, levels: Vec<Level>) -> ArchSpec {
    ArchSpec {
        name: name.into(),
        description,
        va_bits,
        pa_bits: if va_bits == 32 { 34 } else { 56 },
        page_shift: 12,
        levels,
        pte: PteFormat {
            bytes: if va_bits == 32 { 4 } else { 8 },
            frame_lo: 10,
            frame_bits: if va_bits == 32 { 22 } else { 44 },
            encoding: PteEncoding::RiscV(RISCV_BITS),
        },
        canonical: if va_bits == 32 {
            Canonical::ZeroExtend
        } else {
            Canonical::SignExtend
        },
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: if va_bits == 32 { 9 } else { 16 },
        supervisor_denied_user_pages: true,
        misaligned_superpage_faults: true,
    }
}

/// RISC-V Sv32: two levels of 10 bits, 4 MiB megapages, 34-bit physical.
fn riscv_sv32() -> Arch {
    build(riscv_spec(
        "riscv-sv32",
        "RISC-V Sv32: 32-bit virtual, 34-bit physical, 4 KiB pages and 4 MiB megapages (RISC-V Privileged ISA §4.3)".into(),
        32,
        vec![riscv_level(1, 10, 0), riscv_level(0, 10, 0)],
    ))
}

/// RISC-V Sv39/Sv48/Sv57: 3, 4 or 5 levels of 9 bits, a leaf at any level,
/// 56-bit physical. Bits 63:54 (N, PBMT and reserved) must be zero without
/// Svnapot and Svpbmt.
fn riscv_sv(levels: usize) -> Arch {
    let va_bits = (12 + 9 * levels) as u8;
    let name = format!("riscv-sv{va_bits}");
    build(riscv_spec(
        &name,
        format!("RISC-V Sv{va_bits}: {levels} levels of 9 bits, {va_bits}-bit virtual, 56-bit physical, a leaf at any level (RISC-V Privileged ISA §4.4-4.6)"),
        va_bits,
        (0..levels)
            .rev()
            .map(|i| riscv_level(i, 9, bit_range(54, 63)))
            .collect(),
    ))
}

/// AArch64 stage 1, 48-bit VA (TCR_EL1.T0SZ=16) through TTBR0_EL1, 48-bit
/// output addresses, with granule `1 << page_shift` (4, 16 or 64 KiB).
fn aarch64(page_shift: u8) -> Arch {
    // Arm ARM D8.3: bits 50:48 are RES0 without 52-bit addresses; a block's
    // output-address bits below its size are RES0. With the 64 KiB granule
    // bits 15:12 hold OA[51:48] only with FEAT_LPA, so they are RES0 here.
    let high = bit_range(48, 50);
    let lpa = if page_shift == 16 {
        bit_range(12, 15)
    } else {
        0
    };
    let lvl = |name: &str, bits: u8, leaf: bool, block_low: u64| Level {
        table_reserved: high | lpa,
        leaf_reserved: high | lpa | block_low,
        table_restricts: true,
        ..level(name, bits, leaf)
    };
    let (levels, granule) = match page_shift {
        12 => (
            vec![
                lvl("L0", 9, false, 0),
                lvl("L1", 9, true, bit_range(12, 29)),
                lvl("L2", 9, true, bit_range(12, 20)),
                lvl("L3", 9, true, 0),
            ],
            "4 KiB granule: 4 KiB pages, 2 MiB and 1 GiB blocks",
        ),
        14 => (
            vec![
                lvl("L0", 1, false, 0),
                lvl("L1", 11, false, 0),
                lvl("L2", 11, true, bit_range(14, 24)),
                lvl("L3", 11, true, 0),
            ],
            "16 KiB granule: 16 KiB pages, 32 MiB blocks",
        ),
        _ => (
            vec![
                lvl("L1", 6, false, 0),
                lvl("L2", 13, true, bit_range(16, 28)),
                lvl("L3", 13, true, 0),
            ],
            "64 KiB granule: 64 KiB pages, 512 MiB blocks",
        ),
    };
    build(ArchSpec {
        name: format!("aarch64-{}k", 1u32 << (page_shift - 10)),
        description: format!(
            "AArch64 stage 1 (VMSAv8-64), 48-bit VA via TTBR0_EL1, 48-bit PA, {granule}, hardware AF/DBM (Arm ARM D8)"
        ),
        va_bits: 48,
        pa_bits: 48,
        page_shift,
        levels,
        pte: PteFormat {
            bytes: 8,
            frame_lo: page_shift,
            frame_bits: 48 - page_shift,
            encoding: PteEncoding::AArch64(AArch64Bits {
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
            }),
        },
        canonical: Canonical::ZeroExtend,
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: 16,
        supervisor_denied_user_pages: false,
        misaligned_superpage_faults: false,
    })
}

/// OSTEP's multi-level homework machine: 15-bit virtual addresses, 32-byte
/// pages, 128 physical pages (12-bit physical), a page directory and page
/// tables of 32 one-byte entries each: valid in bit 7, frame in bits 6:0.
fn ostep() -> Arch {
    build(ArchSpec {
        name: "ostep".into(),
        description: "OSTEP ch. 20 multi-level homework: 15-bit VA (5/5/5), 32-byte pages, 128 physical pages, 1-byte PDE/PTE with valid bit 7".into(),
        va_bits: 15,
        pa_bits: 12,
        page_shift: 5,
        levels: vec![level("PD", 5, false), level("PT", 5, true)],
        pte: PteFormat {
            bytes: 1,
            frame_lo: 0,
            frame_bits: 7,
            encoding: PteEncoding::Simple(SimpleBits {
                valid: 7,
                read: None,
                write: None,
                exec: None,
                user: None,
                accessed: None,
                dirty: None,
            }),
        },
        canonical: Canonical::ZeroExtend,
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: 0,
        supervisor_denied_user_pages: false,
        misaligned_superpage_faults: false,
    })
}

/// A single-level linear page table (one entry per virtual page) with
/// `va_bits` virtual bits, `1 << page_shift`-byte pages and `pa_bits`
/// physical bits. Entries hold valid, R, W, X, U, A, D in bits 0-6 and the
/// frame number from bit 8, in the smallest of 2, 4 or 8 bytes that fits.
pub fn linear(
    name: &str,
    description: &str,
    va_bits: u8,
    page_shift: u8,
    pa_bits: u8,
) -> Result<Arch, ArchError> {
    let frame_bits = pa_bits.saturating_sub(page_shift).max(1);
    let bytes = match 8 + u32::from(frame_bits) {
        0..=16 => 2,
        17..=32 => 4,
        _ => 8,
    };
    Arch::new(ArchSpec {
        name: name.into(),
        description: description.into(),
        va_bits,
        pa_bits,
        page_shift,
        levels: vec![level("PT", va_bits.saturating_sub(page_shift), true)],
        pte: PteFormat {
            bytes,
            frame_lo: 8,
            frame_bits,
            encoding: PteEncoding::Simple(SimpleBits {
                valid: 0,
                read: Some(1),
                write: Some(2),
                exec: Some(3),
                user: Some(4),
                accessed: Some(5),
                dirty: Some(6),
            }),
        },
        canonical: Canonical::ZeroExtend,
        endian: Endian::Little,
        ad_update: AdUpdate::Hardware,
        asid_bits: 0,
        supervisor_denied_user_pages: false,
        misaligned_superpage_faults: false,
    })
}

/// CS:APP's small memory system: 14-bit virtual, 12-bit physical, 64-byte
/// pages, one linear table of 256 entries (the book leaves the PTE bits
/// abstract; vmlab uses the [`linear`] layout).
fn csapp() -> Arch {
    build_linear(
        "csapp",
        "CS:APP 3e §9.6.4 small memory system: 14-bit VA, 12-bit PA, 64-byte pages, single-level table",
        14,
        6,
        12,
    )
}

/// Silberschatz's virtual memory manager project: 16-bit virtual addresses,
/// 256-byte pages, 256 frames (16-bit physical), a 256-entry table.
fn silberschatz() -> Arch {
    build_linear(
        "silberschatz",
        "Silberschatz OSC ch. 10 VMM project: 16-bit VA, 256-byte pages, 256 frames, single-level table",
        16,
        8,
        16,
    )
}

fn build_linear(name: &str, description: &str, va: u8, shift: u8, pa: u8) -> Arch {
    match linear(name, description, va, shift, pa) {
        Ok(arch) => arch,
        Err(e) => unreachable!("built-in scheme is inconsistent: {e}"),
    }
}

/// Parses `va=BITS,page=BYTES,pa=BITS` (page a power of two).
fn parse_linear(params: &str) -> Result<Arch, ArchError> {
    let mut va = None;
    let mut page = None;
    let mut pa = None;
    for part in params.split(',') {
        let (key, value) = part.split_once('=').ok_or_else(|| ArchError {
            field: format!("linear:{part}"),
            message: "expected KEY=VALUE with KEY one of va, page, pa".into(),
        })?;
        let number: u64 = value.parse().map_err(|_| ArchError {
            field: format!("linear:{key}"),
            message: format!("expected a decimal number, found {value:?}"),
        })?;
        let slot = match key {
            "va" => &mut va,
            "page" => &mut page,
            "pa" => &mut pa,
            _ => {
                return Err(ArchError {
                    field: format!("linear:{key}"),
                    message: "expected one of va, page, pa".into(),
                })
            }
        };
        *slot = Some(number);
    }
    let need = |v: Option<u64>, key: &str| {
        v.ok_or_else(|| ArchError {
            field: format!("linear:{key}"),
            message: "missing; expected linear:va=BITS,page=BYTES,pa=BITS".into(),
        })
    };
    let (va, page, pa) = (need(va, "va")?, need(page, "page")?, need(pa, "pa")?);
    if !page.is_power_of_two() || page < 2 {
        return Err(ArchError {
            field: "linear:page".into(),
            message: format!("expected a power of two of at least 2 bytes, found {page}"),
        });
    }
    let bits = |v: u64, key: &str| {
        u8::try_from(v)
            .ok()
            .filter(|b| *b <= 64)
            .ok_or_else(|| ArchError {
                field: format!("linear:{key}"),
                message: format!("expected a bit width of at most 64, found {v}"),
            })
    };
    let name = format!("linear:va={va},page={page},pa={pa}");
    let page_shift = page.trailing_zeros() as u8;
    linear(
        &name,
        "single-level linear page table (teaching machine)",
        bits(va, "va")?,
        page_shift,
        bits(pa, "pa")?,
    )
    // Name the part of the spec to change, not the scheme's inner field.
    .map_err(|e| {
        let (part, message) = match e.field.as_str() {
            "page_shift" => (
                "page",
                format!("a {page}-byte page must be smaller than the {va}-bit address space"),
            ),
            "pa_bits" => ("pa", e.message),
            field if field.starts_with("levels") => (
                "va",
                format!(
                    "{va}-bit addresses with {page}-byte pages need a {}-bit table index; expected 1 to 20",
                    va - u64::from(page_shift)
                ),
            ),
            _ => ("va", e.message),
        };
        ArchError {
            field: format!("linear:{part}"),
            message,
        }
    })
}
