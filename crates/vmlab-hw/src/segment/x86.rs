//! x86-32 protected-mode segmentation (Intel SDM Vol. 3A ch. 3 "Protected-Mode
//! Memory Management" and ch. 5 "Protection"): 16-bit [`Selector`]s, 8-byte
//! [`SegmentDescriptor`]s kept in descriptor tables in simulated memory, and
//! the [`SegmentUnit`] whose segment registers cache a descriptor when they
//! are loaded, as the processor's hidden part of each register does. An
//! access then checks only the cached copy, turning a segment offset into a
//! 32-bit linear address that paging translates next.
//!
//! Simplification: the GDTR and LDTR bases are linear addresses on real
//! hardware; here they are physical (as if the tables were identity-mapped),
//! so loading a descriptor never needs a page walk.

use super::{SegmentConfigError, SegmentFault, SegmentFaultCause, SegmentId, SegmentOp};
use crate::access::{AccessKind, Mode, Perms};
use crate::physmem::{PhysMem, PhysMemError};
use std::fmt;
use std::ops::Range;

/// The two descriptor tables a selector can point into (its TI bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DescriptorTable {
    /// The global descriptor table (TI = 0).
    Gdt,
    /// The current task's local descriptor table (TI = 1).
    Ldt,
}

impl fmt::Display for DescriptorTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DescriptorTable::Gdt => "GDT",
            DescriptorTable::Ldt => "LDT",
        })
    }
}

/// A segment selector (SDM Vol. 3A §3.4.2): index in bits 15:3, table
/// indicator in bit 2, requested privilege level in bits 1:0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Selector(pub u16);

impl Selector {
    /// The null selector: GDT entry 0, which the processor never reads.
    pub const NULL: Selector = Selector(0);

    /// A selector for descriptor `index` (13 bits kept) of `table`, with
    /// requested privilege level `rpl` (2 bits kept).
    pub fn new(index: u16, table: DescriptorTable, rpl: u8) -> Selector {
        let ti = match table {
            DescriptorTable::Gdt => 0,
            DescriptorTable::Ldt => 1 << 2,
        };
        Selector((index << 3) | ti | u16::from(rpl & 3))
    }

    /// The descriptor's index in its table.
    pub fn index(self) -> u16 {
        self.0 >> 3
    }

    /// Which table the selector points into.
    pub fn table(self) -> DescriptorTable {
        if self.0 & (1 << 2) == 0 {
            DescriptorTable::Gdt
        } else {
            DescriptorTable::Ldt
        }
    }

    /// The requested privilege level.
    pub fn rpl(self) -> u8 {
        (self.0 & 3) as u8
    }

    /// Whether this is a null selector: index 0 in the GDT, any RPL. (Index 0
    /// of the LDT is an ordinary entry.)
    pub fn is_null(self) -> bool {
        self.0 & !3 == 0
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// What a code or data descriptor's S flag and 4-bit type field mean (SDM
/// Vol. 3A §3.4.5.1, table 3-1), without the accessed bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentType {
    /// A data (or stack) segment.
    Data {
        /// W: stores allowed.
        writable: bool,
        /// E: valid offsets lie above the limit instead of below it.
        expand_down: bool,
    },
    /// A code segment.
    Code {
        /// R: loads allowed as well as fetches.
        readable: bool,
        /// C: less privileged code may run it without changing CPL.
        conforming: bool,
    },
    /// A system descriptor (S = 0: LDT, TSS, gates) with its type field;
    /// no segment register other than through special instructions may
    /// hold one.
    System(u8),
}

impl SegmentType {
    /// The accesses a segment of this type allows, in the neutral form:
    /// execute is granted to both modes because x86 decides who may use a
    /// segment when the register is loaded, not on each access.
    pub fn perms(self) -> Perms {
        let exec = Perms::EXEC_USER | Perms::EXEC_SUPER;
        match self {
            SegmentType::Data { writable, .. } => {
                Perms::READ
                    | if writable {
                        Perms::WRITE
                    } else {
                        Perms::empty()
                    }
            }
            SegmentType::Code { readable, .. } => {
                exec | if readable {
                    Perms::READ
                } else {
                    Perms::empty()
                }
            }
            SegmentType::System(_) => Perms::empty(),
        }
    }
}

impl fmt::Display for SegmentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SegmentType::Data {
                writable,
                expand_down,
            } => write!(
                f,
                "{}{} data segment",
                if writable { "read/write" } else { "read-only" },
                if expand_down { " expand-down" } else { "" }
            ),
            SegmentType::Code {
                readable,
                conforming,
            } => write!(
                f,
                "{}{} code segment",
                if readable {
                    "execute/read"
                } else {
                    "execute-only"
                },
                if conforming { " conforming" } else { "" }
            ),
            SegmentType::System(t) => write!(f, "system descriptor of type {t:#x}"),
        }
    }
}

// Bit positions in the 64-bit descriptor (SDM Vol. 3A §3.4.5, figure 3-8);
// the high doubleword's bits are numbered here from bit 32.
const TYPE_SHIFT: u32 = 40;
const ACCESSED_BIT: u64 = 1 << TYPE_SHIFT;
const S_BIT: u32 = 44;
const DPL_SHIFT: u32 = 45;
const P_BIT: u32 = 47;
const AVL_BIT: u32 = 52;
const L_BIT: u32 = 53;
const DB_BIT: u32 = 54;
const G_BIT: u32 = 55;

/// An 8-byte code, data or system segment descriptor, field by field as
/// the SDM lays it out (Vol. 3A §3.4.5, "Segment Descriptors").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SegmentDescriptor {
    /// Base address, bits 31:0 (scattered over three fields in memory).
    pub base: u32,
    /// The raw 20-bit limit field; see [`SegmentDescriptor::limit`] for the
    /// limit in bytes.
    pub limit_field: u32,
    /// The 4-bit type field (bits 11:8 of the high doubleword), accessed
    /// bit included.
    pub type_field: u8,
    /// S: a code or data segment (true) or a system descriptor (false).
    pub code_or_data: bool,
    /// DPL: the descriptor's privilege level, 0 to 3.
    pub dpl: u8,
    /// P: the segment is present in memory.
    pub present: bool,
    /// AVL: available for system software.
    pub avl: bool,
    /// L: a 64-bit code segment (IA-32e mode only).
    pub long: bool,
    /// D/B: 32-bit default operand size; for an expand-down data segment,
    /// an upper bound of 0xFFFFFFFF instead of 0xFFFF.
    pub default_big: bool,
    /// G: the limit counts 4 KiB units instead of bytes.
    pub granularity: bool,
}

impl SegmentDescriptor {
    /// A present code or data descriptor (S = 1, D/B = 1, accessed clear)
    /// for a segment at `base` whose last valid offset is `limit` (for an
    /// expand-down segment, the last invalid one). Limits above 0xFFFFF are
    /// stored in 4 KiB units (G = 1) and must end in 0xFFF.
    pub fn new(
        base: u32,
        limit: u32,
        ty: SegmentType,
        dpl: u8,
    ) -> Result<SegmentDescriptor, SegmentConfigError> {
        let (limit_field, granularity) = if limit <= 0xF_FFFF {
            (limit, false)
        } else if limit & 0xFFF == 0xFFF {
            (limit >> 12, true)
        } else {
            return Err(SegmentConfigError::LimitNotEncodable { limit });
        };
        let (code_or_data, type_field) = match ty {
            SegmentType::Data {
                writable,
                expand_down,
            } => (
                true,
                (u8::from(expand_down) << 2) | (u8::from(writable) << 1),
            ),
            SegmentType::Code {
                readable,
                conforming,
            } => (
                true,
                0b1000 | (u8::from(conforming) << 2) | (u8::from(readable) << 1),
            ),
            SegmentType::System(t) => (false, t & 0xF),
        };
        Ok(SegmentDescriptor {
            base,
            limit_field,
            type_field,
            code_or_data,
            dpl: dpl & 3,
            present: true,
            avl: false,
            long: false,
            default_big: true,
            granularity,
        })
    }

    /// Decodes a descriptor as read from memory (low doubleword in bits
    /// 31:0, high doubleword in bits 63:32). Every bit pattern decodes.
    pub fn decode(raw: u64) -> SegmentDescriptor {
        let bit = |n: u32| (raw >> n) & 1 == 1;
        SegmentDescriptor {
            // Base 15:0 in low-dword bits 31:16, 23:16 in high-dword bits
            // 7:0, 31:24 in high-dword bits 31:24.
            base: ((raw >> 16) & 0xFF_FFFF) as u32 | ((raw >> 56) as u32) << 24,
            // Limit 15:0 in low-dword bits 15:0, 19:16 in high-dword 19:16.
            limit_field: (raw & 0xFFFF) as u32 | (((raw >> 48) & 0xF) as u32) << 16,
            type_field: ((raw >> TYPE_SHIFT) & 0xF) as u8,
            code_or_data: bit(S_BIT),
            dpl: ((raw >> DPL_SHIFT) & 3) as u8,
            present: bit(P_BIT),
            avl: bit(AVL_BIT),
            long: bit(L_BIT),
            default_big: bit(DB_BIT),
            granularity: bit(G_BIT),
        }
    }

    /// The 64-bit value to store in a descriptor table; fields wider than
    /// their slot keep only their low bits.
    pub fn encode(&self) -> u64 {
        let base = u64::from(self.base);
        let limit = u64::from(self.limit_field & 0xF_FFFF);
        let flag = |set: bool, n: u32| u64::from(set) << n;
        (limit & 0xFFFF)
            | (base & 0xFF_FFFF) << 16
            | u64::from(self.type_field & 0xF) << TYPE_SHIFT
            | flag(self.code_or_data, S_BIT)
            | u64::from(self.dpl & 3) << DPL_SHIFT
            | flag(self.present, P_BIT)
            | (limit >> 16) << 48
            | flag(self.avl, AVL_BIT)
            | flag(self.long, L_BIT)
            | flag(self.default_big, DB_BIT)
            | flag(self.granularity, G_BIT)
            | (base >> 24) << 56
    }

    /// The limit in bytes: the raw field, or with G = 1 the field scaled by
    /// 4 KiB with the low 12 bits all ones (`(field << 12) | 0xFFF`).
    pub fn limit(&self) -> u32 {
        let field = self.limit_field & 0xF_FFFF;
        if self.granularity {
            (field << 12) | 0xFFF
        } else {
            field
        }
    }

    /// What the S flag and type field describe.
    pub fn segment_type(&self) -> SegmentType {
        let t = self.type_field & 0xF;
        if !self.code_or_data {
            SegmentType::System(t)
        } else if t & 0b1000 == 0 {
            SegmentType::Data {
                writable: t & 0b10 != 0,
                expand_down: t & 0b100 != 0,
            }
        } else {
            SegmentType::Code {
                readable: t & 0b10 != 0,
                conforming: t & 0b100 != 0,
            }
        }
    }

    /// The accessed bit of a code or data descriptor, which the processor
    /// sets when it loads the descriptor into a segment register.
    pub fn accessed(&self) -> bool {
        self.code_or_data && self.type_field & 1 != 0
    }

    /// The valid offsets: `0 ..= limit` for an expand-up segment; for an
    /// expand-down one, `limit + 1 ..= 0xFFFFFFFF` with D/B = 1 or
    /// `limit + 1 ..= 0xFFFF` with D/B = 0 (SDM Vol. 3A §3.4.5.1), which is
    /// empty when the limit is at or above that top.
    pub fn offsets(&self) -> Range<u64> {
        let limit = u64::from(self.limit());
        match self.segment_type() {
            SegmentType::Data {
                expand_down: true, ..
            } => {
                let top: u64 = if self.default_big { 1 << 32 } else { 1 << 16 };
                limit + 1..top
            }
            _ => 0..limit + 1,
        }
    }
}

/// The six segment registers, numbered as the instruction encoding's
/// `sreg` field numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegReg {
    /// Extra data segment (string destinations).
    Es = 0,
    /// Code segment: instruction fetches.
    Cs = 1,
    /// Stack segment: pushes, pops and EBP/ESP-based operands.
    Ss = 2,
    /// Default data segment.
    Ds = 3,
    /// Extra data segment.
    Fs = 4,
    /// Extra data segment.
    Gs = 5,
}

impl SegReg {
    /// All six, in encoding order.
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];

    /// The assembler name: `ES`, `CS`, ...
    pub fn name(self) -> &'static str {
        match self {
            SegReg::Es => "ES",
            SegReg::Cs => "CS",
            SegReg::Ss => "SS",
            SegReg::Ds => "DS",
            SegReg::Fs => "FS",
            SegReg::Gs => "GS",
        }
    }
}

impl fmt::Display for SegReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the descriptor tables are: the GDTR, and the base and limit cached
/// in the LDTR. A limit is the table's size in bytes minus one; an LDT
/// limit of 0 leaves no usable LDT entry, as a null LDTR does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DescriptorTables {
    /// Physical address of the GDT.
    pub gdt_base: u64,
    /// Size of the GDT in bytes, minus one.
    pub gdt_limit: u16,
    /// Physical address of the current LDT.
    pub ldt_base: u64,
    /// Size of the LDT in bytes, minus one.
    pub ldt_limit: u16,
}

/// One segment register: the visible selector and the hidden descriptor
/// cached when it was loaded (`None` after loading a null selector, which
/// leaves the register unusable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SegmentRegister {
    /// The selector software loaded (for CS, with the RPL set to the CPL).
    pub selector: Selector,
    /// The descriptor as it was when loaded, accessed bit set.
    pub descriptor: Option<SegmentDescriptor>,
}

/// Memory traffic spent loading segment registers; accesses through a loaded
/// register cost none, which is why the processor caches descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SegmentStats {
    /// Segment-register loads that succeeded.
    pub loads: u64,
    /// 8-byte descriptor reads from physical memory, failed loads included.
    pub descriptor_reads: u64,
    /// Descriptor write-backs to set the accessed bit.
    pub descriptor_writes: u64,
}

/// The x86 segmentation unit: descriptor-table registers, the six segment
/// registers with their cached descriptors, and load counters. All registers
/// start out holding the null selector.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SegmentUnit {
    tables: DescriptorTables,
    regs: [SegmentRegister; 6],
    stats: SegmentStats,
}

/// x86 paging treats CPL 3 as user mode and CPL 0 to 2 as supervisor mode
/// (SDM Vol. 3A §4.6); faults report the mode the same way.
fn mode_of(cpl: u8) -> Mode {
    if cpl == 3 {
        Mode::User
    } else {
        Mode::Supervisor
    }
}

impl SegmentUnit {
    /// A unit using `tables`, with every segment register null.
    pub fn new(tables: DescriptorTables) -> SegmentUnit {
        SegmentUnit {
            tables,
            ..SegmentUnit::default()
        }
    }

    /// The descriptor-table registers.
    pub fn tables(&self) -> DescriptorTables {
        self.tables
    }

    /// Replaces the descriptor-table registers (LGDT, LLDT). As on the real
    /// processor, segment registers keep their cached descriptors until
    /// they are reloaded.
    pub fn set_tables(&mut self, tables: DescriptorTables) {
        self.tables = tables;
    }

    /// The selector and cached descriptor in `reg`.
    pub fn register(&self, reg: SegReg) -> SegmentRegister {
        self.regs[reg as usize]
    }

    /// Memory traffic spent on loads so far.
    pub fn stats(&self) -> SegmentStats {
        self.stats
    }

    /// Loads `selector` into `reg` at privilege `cpl` (low two bits used),
    /// following the SDM's MOV and far-JMP pseudo-code (Vol. 2): a null
    /// selector is refused for CS and SS and leaves DS/ES/FS/GS unusable;
    /// otherwise the descriptor is read, its type and privilege checked,
    /// then its present bit, and its accessed bit is set in memory if clear.
    /// Costs one descriptor read, plus one write when the accessed bit was
    /// clear; see [`SegmentUnit::stats`].
    pub fn load_segment(
        &mut self,
        mem: &mut PhysMem,
        reg: SegReg,
        selector: Selector,
        cpl: u8,
    ) -> Result<(), SegmentFault> {
        let cpl = cpl & 3;
        let fault = |cause| SegmentFault {
            segment: SegmentId::Register { reg, selector },
            op: SegmentOp::Load,
            mode: mode_of(cpl),
            cause,
        };
        if selector.is_null() {
            if matches!(reg, SegReg::Cs | SegReg::Ss) {
                return Err(fault(SegmentFaultCause::NullSelector));
            }
            self.regs[reg as usize] = SegmentRegister {
                selector,
                descriptor: None,
            };
            self.stats.loads += 1;
            return Ok(());
        }

        let (table, base, table_limit) = match selector.table() {
            DescriptorTable::Gdt => (
                DescriptorTable::Gdt,
                self.tables.gdt_base,
                self.tables.gdt_limit,
            ),
            DescriptorTable::Ldt => (
                DescriptorTable::Ldt,
                self.tables.ldt_base,
                self.tables.ldt_limit,
            ),
        };
        // "The processor checks that the index ... multiplied by 8 plus 7 is
        // within the limit" (SDM Vol. 3A §5.3 item 3 and §3.5.1).
        let index = selector.index();
        let offset = u64::from(index) * 8;
        if offset + 7 > u64::from(table_limit) {
            return Err(fault(SegmentFaultCause::BadSelector {
                table,
                index,
                table_limit,
            }));
        }
        self.stats.descriptor_reads += 1;
        // A table so high that the entry's address overflows is as far
        // outside physical memory as one just past its end.
        let beyond = PhysMemError::OutOfRange {
            addr: base,
            len: offset + 8,
            size: mem.size(),
        };
        let raw = base
            .checked_add(offset)
            .ok_or(beyond)
            .and_then(|addr| Ok((addr, mem.load(addr, 8)?)));
        let (addr, raw) = raw.map_err(|e| fault(SegmentFaultCause::Descriptor(e)))?;
        let desc = SegmentDescriptor::decode(raw);
        let ty = desc.segment_type();
        let rpl = selector.rpl();
        let privilege = SegmentFaultCause::Privilege {
            cpl,
            rpl,
            dpl: desc.dpl,
        };

        // Type, then privilege, then presence: the order of the SDM's
        // pseudo-code, where the first two raise #GP(selector) and a
        // not-present segment #NP (#SS for SS).
        let type_ok = match reg {
            SegReg::Cs => matches!(ty, SegmentType::Code { .. }),
            SegReg::Ss => matches!(ty, SegmentType::Data { writable: true, .. }),
            _ => matches!(
                ty,
                SegmentType::Data { .. } | SegmentType::Code { readable: true, .. }
            ),
        };
        if !type_ok {
            return Err(fault(SegmentFaultCause::WrongType { found: ty }));
        }
        let privilege_ok = match (reg, ty) {
            // Far JMP: a conforming target needs DPL <= CPL; a
            // nonconforming one RPL <= CPL and DPL = CPL.
            (
                SegReg::Cs,
                SegmentType::Code {
                    conforming: true, ..
                },
            ) => desc.dpl <= cpl,
            (SegReg::Cs, _) => rpl <= cpl && desc.dpl == cpl,
            // MOV SS: "RPL ≠ CPL ... or DPL ≠ CPL THEN #GP(selector)".
            (SegReg::Ss, _) => rpl == cpl && desc.dpl == cpl,
            // Readable conforming code is usable from any level: its
            // effective privilege is the CPL (SDM Vol. 3A §5.7.1).
            (
                _,
                SegmentType::Code {
                    conforming: true, ..
                },
            ) => true,
            // Data and nonconforming code: "the DPL must be greater than or
            // equal to (have less or the same privilege as) both the CPL and
            // the RPL" (§5.7). Vol. 2's MOV pseudo-code words this as "both
            // RPL and CPL > DPL", but LDS and §5.7 make either one enough.
            _ => cpl.max(rpl) <= desc.dpl,
        };
        if !privilege_ok {
            return Err(fault(privilege));
        }
        if !desc.present {
            return Err(fault(SegmentFaultCause::NotPresent));
        }

        let mut desc = desc;
        if !desc.accessed() {
            // §3.4.5.1: the processor sets the accessed bit in the
            // descriptor in memory when it loads the segment register.
            mem.store(addr, 8, raw | ACCESSED_BIT)
                .map_err(|e| fault(SegmentFaultCause::Descriptor(e)))?;
            self.stats.descriptor_writes += 1;
            desc.type_field |= 1;
        }
        let selector = if reg == SegReg::Cs {
            // CS's RPL field always holds the CPL (SDM Vol. 3A §5.8.1).
            Selector((selector.0 & !3) | u16::from(cpl))
        } else {
            selector
        };
        self.regs[reg as usize] = SegmentRegister {
            selector,
            descriptor: Some(desc),
        };
        self.stats.loads += 1;
        Ok(())
    }

    /// The 32-bit linear address of a `width`-byte access of `kind` at
    /// `offset` in the segment `reg` holds, checked against the cached
    /// descriptor only: the register must not be null, every byte must be
    /// within the limit (SDM Vol. 3A §5.3), and the type must allow the
    /// access (§5.5: no writes to code or read-only data, no reads from
    /// execute-only code, no fetches from data). `cpl` only sets the fault's
    /// mode: privilege was checked when the register was loaded. The linear
    /// address wraps at 4 GiB. A `width` of 0 counts as 1.
    #[inline]
    pub fn linear_address(
        &self,
        reg: SegReg,
        offset: u64,
        width: usize,
        kind: AccessKind,
        cpl: u8,
    ) -> Result<u64, SegmentFault> {
        let held = self.regs[reg as usize];
        let fault = |cause| SegmentFault {
            segment: SegmentId::Register {
                reg,
                selector: held.selector,
            },
            op: SegmentOp::Access {
                address: offset,
                kind,
            },
            mode: mode_of(cpl & 3),
            cause,
        };
        let Some(desc) = held.descriptor else {
            return Err(fault(SegmentFaultCause::NullSelector));
        };
        let valid = desc.offsets();
        let width = (width as u64).max(1);
        let in_limit = offset >= valid.start
            && offset
                .checked_add(width - 1)
                .is_some_and(|last| last < valid.end);
        if !in_limit {
            return Err(fault(SegmentFaultCause::Limit {
                offset,
                width,
                start: valid.start,
                end: valid.end,
            }));
        }
        let allowed = desc.segment_type().perms();
        let needed = match kind {
            AccessKind::Read => Perms::READ,
            AccessKind::Write => Perms::WRITE,
            AccessKind::Fetch => Perms::EXEC_USER | Perms::EXEC_SUPER,
        };
        if !allowed.contains(needed) {
            return Err(fault(SegmentFaultCause::Protection { allowed }));
        }
        Ok((u64::from(desc.base) + offset) & 0xFFFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::physmem::Endian;
    use proptest::prelude::*;

    // Hand-assembled from SDM Vol. 3A figure 3-8: base 0, limit field
    // 0xFFFFF, flags nibble 0xC (G = 1, D/B = 1), access byte 0x9A (P = 1,
    // DPL 0, S = 1, type 0xA), 0x92 (type 0x2) or 0xFA / 0xF2 (DPL 3).
    const FLAT_CODE: u64 = 0x00CF_9A00_0000_FFFF;
    const FLAT_DATA: u64 = 0x00CF_9200_0000_FFFF;
    const USER_CODE: u64 = 0x00CF_FA00_0000_FFFF;
    const USER_DATA: u64 = 0x00CF_F200_0000_FFFF;
    const GDT_BASE: u64 = 0x1000;

    fn gdt(i: u16) -> Selector {
        Selector::new(i, DescriptorTable::Gdt, 0)
    }

    /// A 64 KiB machine with `entries` as its GDT at 0x1000.
    fn machine(entries: &[u64]) -> (PhysMem, SegmentUnit) {
        let mut mem = PhysMem::new(1 << 16, Endian::Little).unwrap();
        for (i, &e) in entries.iter().enumerate() {
            mem.store(GDT_BASE + 8 * i as u64, 8, e).unwrap();
        }
        let unit = SegmentUnit::new(DescriptorTables {
            gdt_base: GDT_BASE,
            gdt_limit: (entries.len() * 8 - 1) as u16,
            ..DescriptorTables::default()
        });
        (mem, unit)
    }

    fn encode(base: u32, limit: u32, ty: SegmentType, dpl: u8) -> u64 {
        SegmentDescriptor::new(base, limit, ty, dpl)
            .unwrap()
            .encode()
    }

    const RW: SegmentType = SegmentType::Data {
        writable: true,
        expand_down: false,
    };
    const RO: SegmentType = SegmentType::Data {
        writable: false,
        expand_down: false,
    };
    const XO: SegmentType = SegmentType::Code {
        readable: false,
        conforming: false,
    };
    const XR: SegmentType = SegmentType::Code {
        readable: true,
        conforming: false,
    };

    #[test]
    fn selector_fields() {
        let s = Selector(0x001B); // 0b11_0_11: index 3, GDT, RPL 3
        assert_eq!(
            (s.index(), s.table(), s.rpl()),
            (3, DescriptorTable::Gdt, 3)
        );
        assert_eq!(Selector::new(5, DescriptorTable::Ldt, 2), Selector(0x2E));
        assert_eq!(Selector(0x2E).table(), DescriptorTable::Ldt);
        assert!(Selector(0).is_null() && Selector(3).is_null());
        assert!(!Selector(4).is_null()); // LDT entry 0
        assert_eq!(Selector(0x1B).to_string(), "0x001b");
    }

    #[test]
    fn flat_descriptors_decode_per_sdm() {
        let code = SegmentDescriptor::decode(FLAT_CODE);
        assert_eq!(code.base, 0);
        assert_eq!(code.limit_field, 0xF_FFFF);
        assert!(code.granularity && code.default_big && !code.long && !code.avl);
        assert_eq!(code.limit(), 0xFFFF_FFFF);
        assert_eq!((code.type_field, code.dpl, code.present), (0xA, 0, true));
        assert_eq!(code.segment_type(), XR);
        let data = SegmentDescriptor::decode(FLAT_DATA);
        assert_eq!((data.type_field, data.segment_type()), (0x2, RW));
        let user = SegmentDescriptor::decode(USER_CODE);
        assert_eq!((user.dpl, user.segment_type()), (3, XR));
        assert_eq!(SegmentDescriptor::decode(USER_DATA).dpl, 3);
        // Building the same descriptors field by field gives the same bits.
        assert_eq!(encode(0, 0xFFFF_FFFF, XR, 0), FLAT_CODE);
        assert_eq!(encode(0, 0xFFFF_FFFF, RW, 0), FLAT_DATA);
        assert_eq!(encode(0, 0xFFFF_FFFF, XR, 3), USER_CODE);
        assert_eq!(encode(0, 0xFFFF_FFFF, RW, 3), USER_DATA);
    }

    #[test]
    fn scattered_base_and_limit_fields() {
        // Base 0x12345678, limit field 0xABCDE, G = 0, D/B = 1, AVL = 1,
        // P = 1, DPL 2, S = 1, type 0x3 (read/write data, accessed):
        // low dword  = base 15:0 (0x5678) : limit 15:0 (0xBCDE) = 0x5678BCDE
        // high dword = base 31:24 (0x12) : G D/B L AVL = 0101 : limit 19:16
        //   (0xA) : P DPL S = 1 10 1 : type 0011 : base 23:16 (0x34)
        //   = 0x12_5A_D3_34
        let raw = 0x125A_D334_5678_BCDE;
        let d = SegmentDescriptor::decode(raw);
        let expected = SegmentDescriptor {
            base: 0x1234_5678,
            limit_field: 0xA_BCDE,
            type_field: 0x3,
            code_or_data: true,
            dpl: 2,
            present: true,
            avl: true,
            long: false,
            default_big: true,
            granularity: false,
        };
        assert_eq!(d, expected);
        assert_eq!(d.encode(), raw);
        assert_eq!(d.limit(), 0xA_BCDE);
        assert!(d.accessed());
        let scaled = SegmentDescriptor {
            granularity: true,
            ..d
        };
        assert_eq!(scaled.limit(), 0xABCD_EFFF);
    }

    #[test]
    fn new_chooses_granularity_or_refuses() {
        let small = SegmentDescriptor::new(0x10_0000, 0xF_FFFF, RW, 0).unwrap();
        assert!(!small.granularity);
        assert_eq!(small.limit(), 0xF_FFFF);
        let big = SegmentDescriptor::new(0, 0x1F_FFFF, RW, 0).unwrap();
        assert_eq!((big.granularity, big.limit_field), (true, 0x1FF));
        assert_eq!(
            SegmentDescriptor::new(0, 0x10_0000, RW, 0),
            Err(SegmentConfigError::LimitNotEncodable { limit: 0x10_0000 })
        );
    }

    proptest! {
        #[test]
        fn every_bit_pattern_round_trips(raw in any::<u64>()) {
            prop_assert_eq!(SegmentDescriptor::decode(raw).encode(), raw);
        }
    }

    #[test]
    fn load_sets_accessed_bit_in_memory_once() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, FLAT_DATA]);
        unit.load_segment(&mut mem, SegReg::Ds, gdt(2), 0).unwrap();
        // Type 0x2 became 0x3: bit 40 set in the stored descriptor.
        assert_eq!(mem.load(GDT_BASE + 16, 8).unwrap(), 0x00CF_9300_0000_FFFF);
        assert_eq!(mem.load(GDT_BASE + 8, 8).unwrap(), FLAT_CODE);
        let cached = unit.register(SegReg::Ds).descriptor.unwrap();
        assert!(cached.accessed());
        unit.load_segment(&mut mem, SegReg::Es, gdt(2), 0).unwrap();
        assert_eq!(
            unit.stats(),
            SegmentStats {
                loads: 2,
                descriptor_reads: 2,
                descriptor_writes: 1,
            }
        );
    }

    #[test]
    fn flat_segments_give_linear_equal_to_offset() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, FLAT_DATA]);
        unit.load_segment(&mut mem, SegReg::Cs, gdt(1), 0).unwrap();
        unit.load_segment(&mut mem, SegReg::Ss, gdt(2), 0).unwrap();
        let la = unit.linear_address(SegReg::Cs, 0x40_1000, 1, AccessKind::Fetch, 0);
        assert_eq!(la.unwrap(), 0x40_1000);
        let la = unit.linear_address(SegReg::Ss, 0xFFFF_FFFC, 4, AccessKind::Write, 0);
        assert_eq!(la.unwrap(), 0xFFFF_FFFC);
        // The 4 GiB limit still applies: bytes 0xFFFFFFFD..=0x1_00000000.
        assert!(unit
            .linear_address(SegReg::Ss, 0xFFFF_FFFD, 4, AccessKind::Read, 0)
            .is_err());
    }

    #[test]
    fn base_is_added_and_linear_wraps_at_4_gib() {
        let seg = encode(0xFFFF_F000, 0xFFFF_FFFF, RW, 0);
        let small = encode(0x0012_0000, 0xFFF, RW, 0);
        let (mut mem, mut unit) = machine(&[0, seg, small]);
        unit.load_segment(&mut mem, SegReg::Ds, gdt(1), 0).unwrap();
        unit.load_segment(&mut mem, SegReg::Es, gdt(2), 0).unwrap();
        let la = unit.linear_address(SegReg::Ds, 0x2345, 4, AccessKind::Read, 0);
        assert_eq!(la.unwrap(), 0x1345);
        // Limit 0xFFF: a 4-byte access at 0xFFC is the last that fits.
        let la = unit.linear_address(SegReg::Es, 0xFFC, 4, AccessKind::Write, 0);
        assert_eq!(la.unwrap(), 0x0012_0FFC);
        let fault = unit
            .linear_address(SegReg::Es, 0xFFD, 4, AccessKind::Write, 3)
            .unwrap_err();
        assert_eq!(
            fault.cause,
            SegmentFaultCause::Limit {
                offset: 0xFFD,
                width: 4,
                start: 0,
                end: 0x1000
            }
        );
        assert_eq!(
            fault.to_string(),
            "user write of 0xffd: the 4-byte access at offset 0xffd runs beyond ES (selector 0x0010)'s bound 0x1000"
        );
    }

    #[test]
    fn null_selector_loads_into_ds_but_faults_on_use() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, FLAT_DATA]);
        unit.load_segment(&mut mem, SegReg::Ds, gdt(2), 0).unwrap();
        unit.load_segment(&mut mem, SegReg::Ds, Selector(3), 3)
            .unwrap();
        assert_eq!(unit.register(SegReg::Ds).descriptor, None);
        let fault = unit
            .linear_address(SegReg::Ds, 0x10, 1, AccessKind::Read, 3)
            .unwrap_err();
        assert_eq!(fault.cause, SegmentFaultCause::NullSelector);
        assert_eq!(
            fault.to_string(),
            "user read of 0x10: DS (selector 0x0003) holds the null selector"
        );
        // The null selector never reads memory.
        assert_eq!(unit.stats().descriptor_reads, 1);
    }

    #[test]
    fn null_selector_into_ss_or_cs_faults() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, FLAT_DATA]);
        for reg in [SegReg::Ss, SegReg::Cs] {
            let fault = unit
                .load_segment(&mut mem, reg, Selector::NULL, 0)
                .unwrap_err();
            assert_eq!(fault.cause, SegmentFaultCause::NullSelector);
            assert_eq!(fault.op, SegmentOp::Load);
            assert_eq!(fault.kind(), None);
        }
        assert_eq!(unit.stats().loads, 0);
    }

    #[test]
    fn user_mode_cannot_load_kernel_data() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, FLAT_DATA, USER_CODE, USER_DATA]);
        let user_sel = |i| Selector::new(i, DescriptorTable::Gdt, 3);
        let fault = unit
            .load_segment(&mut mem, SegReg::Ds, user_sel(2), 3)
            .unwrap_err();
        assert_eq!(
            fault.cause,
            SegmentFaultCause::Privilege {
                cpl: 3,
                rpl: 3,
                dpl: 0
            }
        );
        assert_eq!(fault.mode, Mode::User);
        assert_eq!(
            fault.to_string(),
            "user load of DS (selector 0x0013): privilege check failed: CPL 3, RPL 3, descriptor DPL 0"
        );
        // A failed load leaves the register and the accessed bit alone.
        assert_eq!(unit.register(SegReg::Ds), SegmentRegister::default());
        assert_eq!(mem.load(GDT_BASE + 16, 8).unwrap(), FLAT_DATA);
        // The kernel with an RPL 3 selector (a pointer from user space) is
        // refused too: max(CPL, RPL) counts.
        assert!(unit
            .load_segment(&mut mem, SegReg::Es, user_sel(2), 0)
            .is_err());
        unit.load_segment(&mut mem, SegReg::Ds, user_sel(4), 3)
            .unwrap();
        unit.load_segment(&mut mem, SegReg::Cs, user_sel(3), 3)
            .unwrap();
        // The kernel may use user data, but not jump to user code directly.
        unit.load_segment(&mut mem, SegReg::Fs, gdt(4), 0).unwrap();
        assert!(unit.load_segment(&mut mem, SegReg::Cs, gdt(3), 0).is_err());
    }

    #[test]
    fn ss_needs_writable_data_at_cpl() {
        let ro = encode(0, 0xFFFF, RO, 0);
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, ro, USER_DATA, FLAT_DATA]);
        let wrong = |reg, i, cpl, unit: &mut SegmentUnit, mem: &mut PhysMem| {
            unit.load_segment(mem, reg, Selector::new(i, DescriptorTable::Gdt, cpl), cpl)
                .unwrap_err()
                .cause
        };
        assert_eq!(
            wrong(SegReg::Ss, 2, 0, &mut unit, &mut mem),
            SegmentFaultCause::WrongType { found: RO }
        );
        assert_eq!(
            wrong(SegReg::Ss, 1, 0, &mut unit, &mut mem),
            SegmentFaultCause::WrongType { found: XR }
        );
        // DPL 3 data cannot be the kernel's stack: SS needs DPL = CPL.
        assert!(matches!(
            wrong(SegReg::Ss, 3, 0, &mut unit, &mut mem),
            SegmentFaultCause::Privilege { dpl: 3, .. }
        ));
        // RPL must equal CPL for SS even when it is numerically higher.
        let rpl3 = Selector::new(4, DescriptorTable::Gdt, 3);
        assert!(unit.load_segment(&mut mem, SegReg::Ss, rpl3, 0).is_err());
        unit.load_segment(&mut mem, SegReg::Ss, gdt(4), 0).unwrap();
        // Data in CS, and a register loaded from it, are refused.
        assert_eq!(
            wrong(SegReg::Cs, 4, 0, &mut unit, &mut mem),
            SegmentFaultCause::WrongType { found: RW }
        );
    }

    #[test]
    fn cs_keeps_cpl_in_its_rpl() {
        let conforming = encode(
            0,
            0xFFFF_FFFF,
            SegmentType::Code {
                readable: true,
                conforming: true,
            },
            0,
        );
        let (mut mem, mut unit) = machine(&[0, conforming]);
        // Conforming code with DPL 0 runs at CPL 3 without changing CPL.
        unit.load_segment(&mut mem, SegReg::Cs, gdt(1), 3).unwrap();
        assert_eq!(unit.register(SegReg::Cs).selector, Selector(0x0B));
        // And, being readable, may be loaded into a data register.
        unit.load_segment(&mut mem, SegReg::Ds, gdt(1), 3).unwrap();
    }

    #[test]
    fn type_checks_on_access() {
        let xo = encode(0, 0xFFFF, XO, 0);
        let ro = encode(0x8000, 0xFFFF, RO, 0);
        let (mut mem, mut unit) = machine(&[0, xo, ro, FLAT_CODE]);
        unit.load_segment(&mut mem, SegReg::Cs, gdt(1), 0).unwrap();
        unit.load_segment(&mut mem, SegReg::Ds, gdt(2), 0).unwrap();
        unit.load_segment(&mut mem, SegReg::Es, gdt(3), 0).unwrap();
        let la = |reg, kind| unit.linear_address(reg, 0x100, 1, kind, 0);
        assert_eq!(la(SegReg::Cs, AccessKind::Fetch).unwrap(), 0x100);
        let xo_perms = Perms::EXEC_USER | Perms::EXEC_SUPER;
        for (reg, kind, allowed) in [
            (SegReg::Cs, AccessKind::Read, xo_perms),
            (SegReg::Cs, AccessKind::Write, xo_perms),
            (SegReg::Ds, AccessKind::Write, Perms::READ),
            (SegReg::Ds, AccessKind::Fetch, Perms::READ),
            (SegReg::Es, AccessKind::Write, Perms::READ | xo_perms),
        ] {
            let fault = la(reg, kind).unwrap_err();
            assert_eq!(fault.cause, SegmentFaultCause::Protection { allowed });
            assert_eq!(fault.kind(), Some(kind));
        }
        assert_eq!(la(SegReg::Ds, AccessKind::Read).unwrap(), 0x8100);
        assert_eq!(la(SegReg::Es, AccessKind::Read).unwrap(), 0x100);
        // Execute-only code cannot even be loaded into a data register.
        let fault = unit
            .load_segment(&mut mem, SegReg::Gs, gdt(1), 0)
            .unwrap_err();
        assert_eq!(fault.cause, SegmentFaultCause::WrongType { found: XO });
        assert_eq!(
            fault.to_string(),
            "supervisor load of GS (selector 0x0008): GS (selector 0x0008) cannot hold an execute-only code segment"
        );
    }

    #[test]
    fn expand_down_stack_valid_range() {
        let down = SegmentType::Data {
            writable: true,
            expand_down: true,
        };
        // Limit 0xFFF, D/B = 1: valid offsets 0x1000 ..= 0xFFFFFFFF.
        let big = encode(0x1000_0000, 0xFFF, down, 0);
        // The same with D/B = 0: valid offsets 0x1000 ..= 0xFFFF.
        let small = SegmentDescriptor {
            default_big: false,
            ..SegmentDescriptor::decode(big)
        }
        .encode();
        let (mut mem, mut unit) = machine(&[0, big, small]);
        unit.load_segment(&mut mem, SegReg::Ss, gdt(1), 0).unwrap();
        unit.load_segment(&mut mem, SegReg::Es, gdt(2), 0).unwrap();
        let la = |reg, off, width| unit.linear_address(reg, off, width, AccessKind::Write, 0);
        assert_eq!(la(SegReg::Ss, 0x1000, 4).unwrap(), 0x1000_1000);
        assert_eq!(la(SegReg::Ss, 0xFFFF_FFFC, 4).unwrap(), 0x0FFF_FFFC);
        let fault = la(SegReg::Ss, 0xFFF, 1).unwrap_err();
        assert_eq!(
            fault.cause,
            SegmentFaultCause::Limit {
                offset: 0xFFF,
                width: 1,
                start: 0x1000,
                end: 1 << 32
            }
        );
        assert!(la(SegReg::Ss, 0xFFFF_FFFD, 4).is_err());
        assert_eq!(la(SegReg::Es, 0xFFFE, 2).unwrap(), 0x1000_FFFE);
        assert!(la(SegReg::Es, 0xFFFF, 2).is_err());
        assert!(la(SegReg::Es, 0x1_0000, 1).is_err());
        assert!(la(SegReg::Es, 0xFFF, 1).is_err());
    }

    #[test]
    fn bad_selectors_and_absent_segments_fault() {
        let mut absent = SegmentDescriptor::decode(FLAT_DATA);
        absent.present = false;
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE, absent.encode(), FLAT_DATA]);
        let fault = unit
            .load_segment(&mut mem, SegReg::Ds, gdt(2), 0)
            .unwrap_err();
        assert_eq!(fault.cause, SegmentFaultCause::NotPresent);
        // GDT limit 31: entry 3 (bytes 24..=31) fits, entry 4 does not.
        unit.load_segment(&mut mem, SegReg::Ds, gdt(3), 0).unwrap();
        let fault = unit
            .load_segment(&mut mem, SegReg::Ds, gdt(4), 0)
            .unwrap_err();
        assert_eq!(
            fault.cause,
            SegmentFaultCause::BadSelector {
                table: DescriptorTable::Gdt,
                index: 4,
                table_limit: 31
            }
        );
        assert_eq!(
            fault.to_string(),
            "supervisor load of DS (selector 0x0020): descriptor 4 is beyond the GDT's limit 0x1f"
        );
        // With no LDT (limit 0) every LDT selector is out of range.
        let ldt0 = Selector::new(0, DescriptorTable::Ldt, 0);
        assert!(unit.load_segment(&mut mem, SegReg::Ds, ldt0, 0).is_err());
    }

    #[test]
    fn ldt_selectors_read_the_ldt() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE]);
        let ldt_base = 0x2000;
        mem.store(ldt_base + 8, 8, encode(0x5000, 0xFF, RW, 3))
            .unwrap();
        unit.set_tables(DescriptorTables {
            ldt_base,
            ldt_limit: 15,
            ..unit.tables()
        });
        let sel = Selector::new(1, DescriptorTable::Ldt, 3);
        unit.load_segment(&mut mem, SegReg::Ds, sel, 3).unwrap();
        let la = unit.linear_address(SegReg::Ds, 0x10, 1, AccessKind::Read, 3);
        assert_eq!(la.unwrap(), 0x5010);
        assert!(SegmentDescriptor::decode(mem.load(ldt_base + 8, 8).unwrap()).accessed());
    }

    #[test]
    fn descriptor_table_beyond_physical_memory_is_a_fault() {
        let (mut mem, mut unit) = machine(&[0, FLAT_CODE]);
        unit.set_tables(DescriptorTables {
            gdt_base: (1 << 16) - 8,
            gdt_limit: 0xFF,
            ..DescriptorTables::default()
        });
        let fault = unit
            .load_segment(&mut mem, SegReg::Ds, gdt(1), 0)
            .unwrap_err();
        assert_eq!(
            fault.cause,
            SegmentFaultCause::Descriptor(PhysMemError::OutOfRange {
                addr: 1 << 16,
                len: 8,
                size: 1 << 16
            })
        );
        assert_eq!(unit.stats().descriptor_reads, 1);
        // A base near the top of the 64-bit range does not overflow either.
        unit.set_tables(DescriptorTables {
            gdt_base: u64::MAX - 4,
            gdt_limit: 0xFF,
            ..DescriptorTables::default()
        });
        assert!(unit.load_segment(&mut mem, SegReg::Ds, gdt(1), 0).is_err());
    }
}
