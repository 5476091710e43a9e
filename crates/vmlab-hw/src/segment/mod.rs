//! The segmentation unit: translation by variable-sized segments instead of
//! (or before) pages. Three forms, from the simplest to the one real
//! hardware shipped:
//!
//! - [`BaseBounds`]: one relocation register pair (OSTEP ch. 15, "Address
//!   Translation"): physical = base + virtual, if virtual < bounds.
//! - [`SegmentTable`]: the teaching form (OSTEP ch. 16, "Segmentation"), where
//!   the top bits of a virtual address select a [`Segment`] with its own
//!   base, size, growth direction and protection bits.
//! - [`x86`]: x86-32 protected-mode segmentation: selectors, 8-byte
//!   descriptors in simulated memory, segment registers caching their
//!   descriptors; the result is a linear address that paging translates next.
//!
//! Every failed check is a [`SegmentFault`] value that names the segment,
//! the access and the cause. The MMU runs segmentation before the TLB and
//! the page walk, so a limit violation never reaches the page tables.

pub mod x86;

use crate::access::{AccessKind, Mode, Perms};
use crate::physmem::PhysMemError;
use std::fmt;
use x86::{DescriptorTable, SegReg, SegmentType, Selector};

/// Which segment a fault concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentId {
    /// The single base-and-bounds register pair of a [`BaseBounds`] machine.
    Relocation,
    /// Segment number `n` of a [`SegmentTable`] (the value of the top bits).
    Table(usize),
    /// An x86 segment register and the selector it holds, or was being
    /// loaded with when the fault happened.
    Register {
        /// The segment register.
        reg: SegReg,
        /// The selector in it, or being loaded into it.
        selector: Selector,
    },
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentId::Relocation => f.write_str("the relocation register"),
            SegmentId::Table(n) => write!(f, "segment {n}"),
            SegmentId::Register { reg, selector } => write!(f, "{reg} (selector {selector})"),
        }
    }
}

/// What the processor was doing when segmentation faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentOp {
    /// A memory access of `kind` at `address`: the virtual address for
    /// [`BaseBounds`] and [`SegmentTable`], the offset within the segment
    /// for x86.
    Access {
        /// The address or offset the access presented.
        address: u64,
        /// What the access does.
        kind: AccessKind,
    },
    /// Loading an x86 segment register (MOV to a segment register, a far
    /// jump for CS); the selector is in the fault's [`SegmentId`].
    Load,
}

/// Why segmentation refused an access or a segment-register load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentFaultCause {
    /// The virtual address has bits set above the segment table's
    /// virtual-address width.
    BeyondAddressSpace {
        /// The width of the virtual address space in bits.
        va_bits: u8,
    },
    /// The bytes `offset ..= offset + width - 1` are not all inside the
    /// segment's valid offsets `start .. end`. For a segment that grows up
    /// `start` is 0 and `end` is its size (an x86 limit plus one); for one
    /// that grows down `start` is its lowest valid offset.
    Limit {
        /// Offset of the first byte within the segment.
        offset: u64,
        /// Bytes accessed.
        width: u64,
        /// Lowest valid offset.
        start: u64,
        /// One past the highest valid offset.
        end: u64,
    },
    /// The segment's protection does not allow this kind of access at this
    /// privilege (a write to code or read-only data, a fetch from data, a
    /// read from execute-only code, a user access to a supervisor segment).
    Protection {
        /// What the segment does allow.
        allowed: Perms,
    },
    /// The segment is marked not present (an unused segment-table slot, or
    /// an x86 descriptor with P = 0).
    NotPresent,
    /// An x86 segment register holds the null selector and was used for an
    /// access, or the null selector was loaded into CS or SS.
    NullSelector,
    /// The selector's index points past the end of its descriptor table.
    BadSelector {
        /// The table the selector's TI bit names.
        table: DescriptorTable,
        /// The selector's index.
        index: u16,
        /// The table's limit: its size in bytes minus one.
        table_limit: u16,
    },
    /// The descriptor's type cannot go into this segment register: CS needs
    /// code, SS writable data, DS/ES/FS/GS data or readable code.
    WrongType {
        /// The type the descriptor has.
        found: SegmentType,
    },
    /// The x86 privilege check on a segment-register load failed.
    Privilege {
        /// Current privilege level.
        cpl: u8,
        /// Requested privilege level (the selector's low two bits).
        rpl: u8,
        /// The descriptor's privilege level.
        dpl: u8,
    },
    /// The descriptor could not be read from, or its accessed bit written
    /// back to, physical memory.
    Descriptor(PhysMemError),
}

/// A fault raised by the segmentation unit, before any page walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFault {
    /// The segment concerned.
    pub segment: SegmentId,
    /// The access or load that faulted.
    pub op: SegmentOp,
    /// The privilege the processor was running at (x86 CPL 3 is user mode,
    /// CPL 0 to 2 supervisor).
    pub mode: Mode,
    /// Why it faulted.
    pub cause: SegmentFaultCause,
}

impl SegmentFault {
    /// The kind of access that faulted, or `None` for a segment-register load.
    pub fn kind(&self) -> Option<AccessKind> {
        match self.op {
            SegmentOp::Access { kind, .. } => Some(kind),
            SegmentOp::Load => None,
        }
    }
}

impl fmt::Display for SegmentFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seg = &self.segment;
        match self.op {
            SegmentOp::Access { address, kind } => {
                write!(f, "{} {kind} of {address:#x}: ", self.mode)?
            }
            SegmentOp::Load => write!(f, "{} load of {seg}: ", self.mode)?,
        }
        match &self.cause {
            SegmentFaultCause::BeyondAddressSpace { va_bits } => {
                write!(f, "the address does not fit in {va_bits} bits")
            }
            SegmentFaultCause::Limit {
                offset,
                width,
                start,
                end,
            } => {
                if offset < start {
                    write!(
                        f,
                        "offset {offset:#x} is below {seg}'s lower bound {start:#x} (it grows down)"
                    )
                } else if *width <= 1 {
                    write!(f, "offset {offset:#x} is beyond {seg}'s bound {end:#x}")
                } else {
                    write!(
                        f,
                        "the {width}-byte access at offset {offset:#x} runs beyond {seg}'s bound {end:#x}"
                    )
                }
            }
            SegmentFaultCause::Protection { allowed } => {
                write!(f, "{seg}'s permissions {allowed} do not allow it")
            }
            SegmentFaultCause::NotPresent => write!(f, "{seg} is not present"),
            SegmentFaultCause::NullSelector => match self.op {
                SegmentOp::Access { .. } => write!(f, "{seg} holds the null selector"),
                SegmentOp::Load => f.write_str("CS and SS may not hold the null selector"),
            },
            SegmentFaultCause::BadSelector {
                table,
                index,
                table_limit,
            } => write!(
                f,
                "descriptor {index} is beyond the {table}'s limit {table_limit:#x}"
            ),
            SegmentFaultCause::WrongType { found } => {
                let article = if matches!(
                    found,
                    SegmentType::Code {
                        readable: false,
                        ..
                    }
                ) {
                    "an"
                } else {
                    "a"
                };
                write!(f, "{seg} cannot hold {article} {found}")
            }
            SegmentFaultCause::Privilege { cpl, rpl, dpl } => write!(
                f,
                "privilege check failed: CPL {cpl}, RPL {rpl}, descriptor DPL {dpl}"
            ),
            SegmentFaultCause::Descriptor(err) => {
                write!(f, "reading the descriptor failed: {err}")
            }
        }
    }
}

impl std::error::Error for SegmentFault {}

/// A segment description that cannot work, reported when a [`BaseBounds`],
/// [`SegmentTable`] or [`x86::SegmentDescriptor`] is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentConfigError {
    /// The virtual-address width is not between 2 and 64 bits.
    VaBits {
        /// The width asked for.
        va_bits: u8,
    },
    /// The selector bits leave no offset bits, or there are none.
    SelectorBits {
        /// The selector bits asked for.
        selector_bits: u8,
        /// The virtual-address width.
        va_bits: u8,
    },
    /// A segment number that the selector bits cannot express.
    TooManySegments {
        /// The segment number (or count) asked for.
        count: usize,
        /// How many segments the selector bits can name.
        max: u64,
    },
    /// A segment larger than the offset bits can address.
    SegmentTooLarge {
        /// The segment number.
        index: usize,
        /// Its size in bytes.
        size: u64,
        /// The largest size the offset bits allow.
        max: u64,
    },
    /// A segment that would run past the top of the physical address space
    /// (growing up) or below address zero (growing down).
    Wraps {
        /// The segment's base.
        base: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// An x86 limit above 0xFFFFF whose low 12 bits are not all ones, which
    /// the 20-bit limit field cannot express even in 4 KiB units.
    LimitNotEncodable {
        /// The limit asked for.
        limit: u32,
    },
}

impl fmt::Display for SegmentConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentConfigError::VaBits { va_bits } => {
                write!(f, "virtual address width {va_bits} is not between 2 and 64 bits")
            }
            SegmentConfigError::SelectorBits {
                selector_bits,
                va_bits,
            } => write!(
                f,
                "{selector_bits} selector bits must be at least 1 and leave offset bits in a {va_bits}-bit address"
            ),
            SegmentConfigError::TooManySegments { count, max } => {
                write!(f, "{count} segments, but the selector bits name only {max}")
            }
            SegmentConfigError::SegmentTooLarge { index, size, max } => write!(
                f,
                "segment {index} has size {size:#x}, larger than the {max:#x} bytes its offset bits reach"
            ),
            SegmentConfigError::Wraps { base, size } => write!(
                f,
                "a segment of {size:#x} bytes at base {base:#x} does not fit in the physical address space"
            ),
            SegmentConfigError::LimitNotEncodable { limit } => write!(
                f,
                "limit {limit:#x} is above 0xfffff and does not end in 0xfff, so no descriptor can hold it"
            ),
        }
    }
}

impl std::error::Error for SegmentConfigError {}

/// One segment of a [`SegmentTable`]: where it sits in physical memory, how
/// big it is, which way it grows and what it allows. The default value is an
/// absent segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Segment {
    /// Physical address of the segment's lowest byte if it grows up; of the
    /// byte just above it if it grows down (OSTEP's stack with base 28 KiB
    /// and size 2 KiB occupies 26 KiB up to 28 KiB).
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Whether the segment grows toward lower addresses (a stack).
    pub grows_down: bool,
    /// What accesses the segment allows, and whether user mode may use it.
    pub perms: Perms,
    /// Whether the segment is in use; an access to an absent one faults.
    pub present: bool,
}

impl Segment {
    /// A present segment growing up from `base`.
    pub fn grow_up(base: u64, size: u64, perms: Perms) -> Segment {
        Segment {
            base,
            size,
            grows_down: false,
            perms,
            present: true,
        }
    }

    /// A present segment growing down from `base` (the address just above
    /// its highest byte).
    pub fn grow_down(base: u64, size: u64, perms: Perms) -> Segment {
        Segment {
            base,
            size,
            grows_down: true,
            perms,
            present: true,
        }
    }

    /// Whether the segment's bytes all have physical addresses: checked once
    /// at configuration so translation can add and subtract without overflow.
    fn fits(&self) -> Result<(), SegmentConfigError> {
        let fits = if self.grows_down {
            self.base >= self.size
        } else {
            self.base.checked_add(self.size).is_some()
        };
        if fits || !self.present {
            Ok(())
        } else {
            Err(SegmentConfigError::Wraps {
                base: self.base,
                size: self.size,
            })
        }
    }
}

/// Base-and-bounds translation with one relocation register pair: every
/// virtual address below `bounds` is moved up by `base`; anything else
/// faults. The OS reloads the pair on each context switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseBounds {
    base: u64,
    bounds: u64,
}

impl BaseBounds {
    /// A relocation register pair; fails if `base + bounds` overflows.
    pub fn new(base: u64, bounds: u64) -> Result<BaseBounds, SegmentConfigError> {
        Segment::grow_up(base, bounds, Perms::empty()).fits()?;
        Ok(BaseBounds { base, bounds })
    }

    /// The base register: where virtual address 0 lands.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The bounds register: the size of the address space in bytes.
    pub fn bounds(&self) -> u64 {
        self.bounds
    }

    /// The physical address of `vaddr`, or a limit fault if it is not below
    /// the bounds. `kind` and `mode` only describe the access in the fault:
    /// base and bounds has no protection bits.
    #[inline]
    pub fn translate(&self, vaddr: u64, kind: AccessKind, mode: Mode) -> Result<u64, SegmentFault> {
        if vaddr < self.bounds {
            Ok(self.base + vaddr)
        } else {
            Err(SegmentFault {
                segment: SegmentId::Relocation,
                op: SegmentOp::Access {
                    address: vaddr,
                    kind,
                },
                mode,
                cause: SegmentFaultCause::Limit {
                    offset: vaddr,
                    width: 1,
                    start: 0,
                    end: self.bounds,
                },
            })
        }
    }
}

/// A segment table selected by the top bits of the virtual address: with a
/// 14-bit address and 2 selector bits, bits 13:12 pick one of four segments
/// and bits 11:0 are the offset within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentTable {
    va_bits: u8,
    selector_bits: u8,
    segments: Vec<Segment>,
}

impl SegmentTable {
    /// A table for `va_bits`-bit virtual addresses (2 to 64) whose top
    /// `selector_bits` (at least 1, fewer than `va_bits`) select one of
    /// `segments`; selector values past the end of `segments` name absent
    /// segments.
    pub fn new(
        va_bits: u8,
        selector_bits: u8,
        segments: Vec<Segment>,
    ) -> Result<SegmentTable, SegmentConfigError> {
        if !(2..=64).contains(&va_bits) {
            return Err(SegmentConfigError::VaBits { va_bits });
        }
        if selector_bits == 0 || selector_bits >= va_bits {
            return Err(SegmentConfigError::SelectorBits {
                selector_bits,
                va_bits,
            });
        }
        let mut table = SegmentTable {
            va_bits,
            selector_bits,
            segments: Vec::with_capacity(segments.len()),
        };
        for (index, segment) in segments.into_iter().enumerate() {
            table.set_segment(index, segment)?;
        }
        Ok(table)
    }

    /// Width of a virtual address in bits.
    pub fn va_bits(&self) -> u8 {
        self.va_bits
    }

    /// How many top bits select the segment.
    pub fn selector_bits(&self) -> u8 {
        self.selector_bits
    }

    /// How many low bits are the offset within a segment.
    pub fn offset_bits(&self) -> u8 {
        self.va_bits - self.selector_bits
    }

    /// The largest size a segment can have: 2^offset bits. At most 2^63,
    /// since at least one bit selects the segment.
    pub fn max_segment_size(&self) -> u64 {
        1 << self.offset_bits()
    }

    /// The segments, indexed by selector value.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Replaces segment `index` (as the OS does when it moves or grows a
    /// segment), adding absent segments before it if the table is shorter.
    pub fn set_segment(
        &mut self,
        index: usize,
        segment: Segment,
    ) -> Result<(), SegmentConfigError> {
        let max_segments = 1u64 << self.selector_bits;
        if index as u64 >= max_segments {
            return Err(SegmentConfigError::TooManySegments {
                count: index + 1,
                max: max_segments,
            });
        }
        if segment.size > self.max_segment_size() {
            return Err(SegmentConfigError::SegmentTooLarge {
                index,
                size: segment.size,
                max: self.max_segment_size(),
            });
        }
        segment.fits()?;
        if index >= self.segments.len() {
            self.segments.resize(index + 1, Segment::default());
        }
        self.segments[index] = segment;
        Ok(())
    }

    /// Splits `vaddr` into its segment number (the top bits) and the offset
    /// within the segment; bits above the address width are ignored.
    #[inline]
    pub fn split(&self, vaddr: u64) -> (usize, u64) {
        let offset_bits = self.offset_bits();
        let offset = vaddr & (self.max_segment_size() - 1);
        let selector = (vaddr >> offset_bits) & ((1 << self.selector_bits) - 1);
        (selector as usize, offset)
    }

    /// The physical address of `vaddr`, checking in order that the address
    /// fits, the segment is present, the offset is within its bounds, and
    /// its protection allows `kind` at `mode`.
    pub fn translate(&self, vaddr: u64, kind: AccessKind, mode: Mode) -> Result<u64, SegmentFault> {
        let (index, offset) = self.split(vaddr);
        let fault = |cause| SegmentFault {
            segment: SegmentId::Table(index),
            op: SegmentOp::Access {
                address: vaddr,
                kind,
            },
            mode,
            cause,
        };
        if self.va_bits < 64 && vaddr >> self.va_bits != 0 {
            return Err(fault(SegmentFaultCause::BeyondAddressSpace {
                va_bits: self.va_bits,
            }));
        }
        let segment = match self.segments.get(index) {
            Some(segment) if segment.present => segment,
            _ => return Err(fault(SegmentFaultCause::NotPresent)),
        };
        let max = self.max_segment_size();
        let (start, end) = if segment.grows_down {
            (max - segment.size, max)
        } else {
            (0, segment.size)
        };
        if offset < start || offset >= end {
            return Err(fault(SegmentFaultCause::Limit {
                offset,
                width: 1,
                start,
                end,
            }));
        }
        if !segment.perms.allows(kind, mode) {
            return Err(fault(SegmentFaultCause::Protection {
                allowed: segment.perms,
            }));
        }
        if segment.grows_down {
            // OSTEP ch. 16's rule for a segment that grows down. The offset
            // field counts up from the bottom of the segment's largest
            // possible extent, so subtracting the maximum segment size gives
            // a negative offset from the top, which is where `base` points:
            //     negative = offset - max_segment_size    (always < 0)
            //     valid if |negative| <= size              (checked above as offset >= start)
            //     physical = base + negative
            // Worked example: 14-bit addresses, 2 selector bits, so the
            // maximum segment is 4 KiB; stack base 28 KiB, size 2 KiB.
            // Virtual 15 KiB = 0x3C00 = 0b11_1100_0000_0000: segment 3,
            // offset 0xC00 = 3072; negative = 3072 - 4096 = -1024, and
            // 1024 <= 2048 so it is valid; physical = 28672 - 1024 = 27648
            // = 27 KiB. In unsigned arithmetic: base - (max - offset).
            Ok(segment.base - (max - offset))
        } else {
            Ok(segment.base + offset)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KIB: u64 = 1024;

    fn user(letters: &str) -> Perms {
        Perms::parse_letters(letters).unwrap() | Perms::USER
    }

    /// OSTEP ch. 16, figure 16.3 with the protection bits of figure 16.5:
    /// code at 32 KiB (2 KiB, read-execute), heap at 34 KiB (3 KiB,
    /// read-write), segment 2 unused, stack at 28 KiB (2 KiB, read-write,
    /// growing down); 14-bit addresses, top 2 bits select.
    fn ostep_table() -> SegmentTable {
        SegmentTable::new(
            14,
            2,
            vec![
                Segment::grow_up(32 * KIB, 2 * KIB, user("rx")),
                Segment::grow_up(34 * KIB, 3 * KIB, user("rw")),
                Segment::default(),
                Segment::grow_down(28 * KIB, 2 * KIB, user("rw")),
            ],
        )
        .unwrap()
    }

    fn limit_cause(fault: &SegmentFault) -> (u64, u64, u64) {
        match fault.cause {
            SegmentFaultCause::Limit {
                offset, start, end, ..
            } => (offset, start, end),
            ref other => panic!("expected a limit fault, got {other:?}"),
        }
    }

    #[test]
    fn base_bounds_relocates_below_bounds_and_faults_at_bounds() {
        // Base 32 KiB, bounds 16 KiB.
        let bb = BaseBounds::new(32 * KIB, 16 * KIB).unwrap();
        let tr = |va| bb.translate(va, AccessKind::Read, Mode::User);
        assert_eq!(tr(15 * KIB).unwrap(), 48128); // 32768 + 15360
        assert_eq!(tr(4400).unwrap(), 37168); // 32768 + 4400
        assert_eq!(tr(0).unwrap(), 32768);
        assert_eq!(tr(16383).unwrap(), 49151); // the last byte
        let fault = tr(16 * KIB).unwrap_err();
        assert_eq!(fault.segment, SegmentId::Relocation);
        assert_eq!(limit_cause(&fault), (16384, 0, 16384));
        assert_eq!(
            fault.to_string(),
            "user read of 0x4000: offset 0x4000 is beyond the relocation register's bound 0x4000"
        );
    }

    #[test]
    fn base_bounds_ostep_ch15_example_translations() {
        // OSTEP ch. 15: a 4 KiB address space loaded at 16 KiB.
        let bb = BaseBounds::new(16 * KIB, 4 * KIB).unwrap();
        let tr = |va| bb.translate(va, AccessKind::Write, Mode::User);
        assert_eq!(tr(0).unwrap(), 16384);
        assert_eq!(tr(KIB).unwrap(), 17408);
        assert_eq!(tr(3000).unwrap(), 19384);
        assert!(tr(4400).is_err());
        assert!(BaseBounds::new(u64::MAX - 10, 11).is_err());
        assert!(BaseBounds::new(u64::MAX - 10, 10).is_ok());
    }

    #[test]
    fn ostep_ch16_code_and_heap_translate() {
        let t = ostep_table();
        assert_eq!(t.split(4200), (1, 104));
        // "virtual address 100 ... in the code segment ... 100 + 32KB = 32868"
        assert_eq!(
            t.translate(100, AccessKind::Fetch, Mode::User).unwrap(),
            32868
        );
        // Heap: 4200 is segment 01, offset 104: 34 KiB + 104 = 34920.
        assert_eq!(
            t.translate(4200, AccessKind::Read, Mode::User).unwrap(),
            34920
        );
        // Last heap byte: offset 3071, 34816 + 3071.
        assert_eq!(
            t.translate(7 * KIB - 1, AccessKind::Write, Mode::User)
                .unwrap(),
            37887
        );
    }

    #[test]
    fn ostep_ch16_heap_end_faults() {
        // "an illegal address (i.e., a virtual address of 7KB or greater)".
        let fault = ostep_table()
            .translate(7 * KIB, AccessKind::Read, Mode::User)
            .unwrap_err();
        assert_eq!(fault.segment, SegmentId::Table(1));
        assert_eq!(limit_cause(&fault), (0xC00, 0, 0xC00));
        assert_eq!(
            fault.to_string(),
            "user read of 0x1c00: offset 0xc00 is beyond segment 1's bound 0xc00"
        );
    }

    #[test]
    fn ostep_ch16_stack_grows_down() {
        let t = ostep_table();
        let tr = |va| t.translate(va, AccessKind::Write, Mode::User);
        // The chapter's example: virtual 15 KiB -> physical 27 KiB.
        assert_eq!(tr(15 * KIB).unwrap(), 27 * KIB);
        // Offset 0xFFF is the byte just below the base: 28672 - 1.
        assert_eq!(tr(0x3FFF).unwrap(), 28671);
        // Offset 0x800: negative offset -2048, exactly the size: 26 KiB.
        assert_eq!(tr(0x3800).unwrap(), 26 * KIB);
        // Offset 0x7FF: negative offset -2049, one byte too far down.
        let fault = tr(0x37FF).unwrap_err();
        assert_eq!(fault.segment, SegmentId::Table(3));
        assert_eq!(limit_cause(&fault), (0x7FF, 0x800, 0x1000));
        assert_eq!(
            fault.to_string(),
            "user write of 0x37ff: offset 0x7ff is below segment 3's lower bound 0x800 (it grows down)"
        );
    }

    #[test]
    fn unused_segment_and_wide_address_fault() {
        let t = ostep_table();
        let fault = t
            .translate(0x2000, AccessKind::Read, Mode::User)
            .unwrap_err();
        assert_eq!(fault.cause, SegmentFaultCause::NotPresent);
        assert_eq!(fault.segment, SegmentId::Table(2));
        assert_eq!(
            fault.to_string(),
            "user read of 0x2000: segment 2 is not present"
        );
        let fault = t
            .translate(0x4000, AccessKind::Read, Mode::User)
            .unwrap_err();
        assert_eq!(
            fault.cause,
            SegmentFaultCause::BeyondAddressSpace { va_bits: 14 }
        );
    }

    #[test]
    fn protection_bits_are_checked() {
        let t = ostep_table();
        let write_code = t.translate(100, AccessKind::Write, Mode::User).unwrap_err();
        assert_eq!(
            write_code.cause,
            SegmentFaultCause::Protection {
                allowed: user("rx")
            }
        );
        assert_eq!(write_code.kind(), Some(AccessKind::Write));
        assert_eq!(
            write_code.to_string(),
            "user write of 0x64: segment 0's permissions r-xu do not allow it"
        );
        assert!(t.translate(4200, AccessKind::Fetch, Mode::User).is_err());
        // A supervisor-only segment refuses user mode but serves the kernel.
        let mut t = t;
        t.set_segment(
            2,
            Segment::grow_up(40 * KIB, KIB, Perms::READ | Perms::WRITE),
        )
        .unwrap();
        assert!(t.translate(0x2010, AccessKind::Read, Mode::User).is_err());
        assert_eq!(
            t.translate(0x2010, AccessKind::Read, Mode::Supervisor)
                .unwrap(),
            40 * KIB + 0x10
        );
    }

    #[test]
    fn bad_tables_are_rejected() {
        let rw = user("rw");
        assert_eq!(
            SegmentTable::new(14, 0, vec![]),
            Err(SegmentConfigError::SelectorBits {
                selector_bits: 0,
                va_bits: 14
            })
        );
        assert!(SegmentTable::new(14, 14, vec![]).is_err());
        assert!(SegmentTable::new(65, 2, vec![]).is_err());
        assert_eq!(
            SegmentTable::new(14, 1, vec![Segment::default(); 3]),
            Err(SegmentConfigError::TooManySegments { count: 3, max: 2 })
        );
        assert_eq!(
            SegmentTable::new(14, 2, vec![Segment::grow_up(0, 4097, rw)]),
            Err(SegmentConfigError::SegmentTooLarge {
                index: 0,
                size: 4097,
                max: 4096
            })
        );
        // A stack of 2 KiB cannot grow down from physical 1 KiB.
        assert_eq!(
            SegmentTable::new(14, 2, vec![Segment::grow_down(KIB, 2 * KIB, rw)]),
            Err(SegmentConfigError::Wraps {
                base: KIB,
                size: 2 * KIB
            })
        );
        // The widest table: 64-bit addresses, the top bit selects.
        let wide = SegmentTable::new(
            64,
            1,
            vec![Segment::default(), Segment::grow_down(1 << 63, 16, rw)],
        )
        .unwrap();
        assert_eq!(
            wide.translate(u64::MAX, AccessKind::Read, Mode::User)
                .unwrap(),
            (1 << 63) - 1
        );
    }
}
