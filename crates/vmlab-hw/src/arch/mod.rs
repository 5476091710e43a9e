//! Translation schemes as data: an [`Arch`] says how a virtual address splits
//! into table indices and an offset, which levels may map a page, how big an
//! entry is and what its bits mean ([`pte`]), and which addresses are
//! canonical. The page-table walker, the editor and the TLB all read it.
//!
//! - [`ArchSpec`] is the plain, serde-readable description (what a TOML file
//!   holds); [`Arch::new`] validates it and precomputes the shifts the hot
//!   path needs, so an `Arch` is consistent by construction.
//! - [`presets`] builds the real architectures and the teaching machines.
//! - [`mod@file`] reads a user's scheme from TOML with errors that point at the
//!   file, line, column and field.

pub mod file;
pub mod presets;
pub mod pte;

use crate::physmem::Endian;
use pte::{low_mask, PteFormat};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most levels a scheme may have (x86-64 5-level and Sv57 use five).
pub const MAX_LEVELS: usize = 6;

/// One level of the page-table tree, root first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// The manual's name for a table at this level (PML4, PDPT, PD, PT; L0..L3).
    pub name: String,
    /// Virtual-address bits that index a table at this level.
    pub index_bits: u8,
    /// Whether an entry at this level may map a page (the last level always
    /// does; above it this allows huge pages).
    #[serde(default)]
    pub leaf: bool,
    /// Bits that must be zero in a table entry at this level.
    #[serde(default)]
    pub table_reserved: u64,
    /// Bits that must be zero in a leaf entry at this level.
    #[serde(default)]
    pub leaf_reserved: u64,
    /// Whether a table entry here limits the rights of the leaves below it
    /// (x86 R/W, U/S, XD; AArch64 APTable). False for PAE's PDPTEs.
    #[serde(default)]
    pub table_restricts: bool,
    /// Whether the walker sets the accessed flag in table entries it uses
    /// here (x86 does; RISC-V and AArch64 do not).
    #[serde(default)]
    pub table_accessed: bool,
}

/// Which virtual addresses the scheme accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Canonical {
    /// Bits above the top translated bit must copy it (x86-64, RISC-V Sv39+).
    SignExtend,
    /// Bits above the translated ones must be zero (AArch64 TTBR0 region,
    /// 32-bit and teaching machines).
    ZeroExtend,
}

/// How accessed and dirty flags are maintained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdUpdate {
    /// The walker sets them (x86; RISC-V Svadu; AArch64 FEAT_HAFDBS).
    Hardware,
    /// A clear flag faults and software sets it (RISC-V Svade; AArch64
    /// without hardware management: an access-flag fault, and a write to a
    /// read-only page is a permission fault).
    Fault,
}

/// The plain description of a translation scheme, as a TOML file holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    /// Short name (`x86-64`, `riscv-sv39`).
    pub name: String,
    /// One line saying what the scheme is and where it is defined.
    pub description: String,
    /// Width of a virtual address in bits.
    pub va_bits: u8,
    /// Width of a physical address in bits.
    pub pa_bits: u8,
    /// Offset bits of the smallest page.
    pub page_shift: u8,
    /// Levels of the table tree, root first.
    pub levels: Vec<Level>,
    /// Layout of an entry.
    pub pte: PteFormat,
    /// Which addresses are canonical.
    pub canonical: Canonical,
    /// Byte order of entries in memory.
    pub endian: Endian,
    /// How accessed and dirty flags are maintained.
    pub ad_update: AdUpdate,
    /// Width of the address-space identifier (PCID, ASID); 0 for none.
    #[serde(default)]
    pub asid_bits: u8,
    /// Whether supervisor-mode accesses to user pages fault (RISC-V with
    /// SUM=0; x86 with SMAP and SMEP).
    #[serde(default)]
    pub supervisor_denied_user_pages: bool,
    /// Whether a huge page whose frame is not aligned to its size faults as
    /// a misaligned superpage (RISC-V) rather than by reserved bits.
    #[serde(default)]
    pub misaligned_superpage_faults: bool,
}

/// What the walker reads about a level on every step, packed into one
/// small copyable value so the hot loop never touches the [`Level`]
/// descriptions (and their names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelPlan {
    /// Lowest virtual-address bit indexed here; the page shift of a leaf here.
    pub shift: u8,
    /// Mask of the index after shifting.
    pub index_mask: u64,
    /// Whether an entry here may be a leaf.
    pub leaf: bool,
    /// Whether this is the last level.
    pub last: bool,
    /// [`Level::table_reserved`].
    pub table_reserved: u64,
    /// [`Level::leaf_reserved`].
    pub leaf_reserved: u64,
    /// [`Level::table_restricts`].
    pub table_restricts: bool,
    /// [`Level::table_accessed`].
    pub table_accessed: bool,
    /// Bytes of one table at this level.
    pub table_bytes: u64,
}

/// A validated translation scheme with the per-level plan the walker needs
/// precomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arch {
    spec: ArchSpec,
    plans: [LevelPlan; MAX_LEVELS],
}

/// An inconsistency in a scheme: which field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchError {
    /// The field at fault, as a dotted path (`levels[2].index_bits`).
    pub field: String,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for ArchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ArchError {}

fn err(field: impl Into<String>, message: impl Into<String>) -> ArchError {
    ArchError {
        field: field.into(),
        message: message.into(),
    }
}

impl ArchSpec {
    fn validate(&self) -> Result<(), ArchError> {
        if !(1..=64).contains(&self.va_bits) {
            return Err(err("va_bits", "expected 1 to 64"));
        }
        if !(1..=56).contains(&self.pa_bits) {
            return Err(err("pa_bits", "expected 1 to 56"));
        }
        if self.page_shift == 0 || self.page_shift >= self.va_bits {
            return Err(err(
                "page_shift",
                "expected at least 1 and less than va_bits",
            ));
        }
        // A physical space of one page (or less) holds no page table and a
        // page besides: every mapping failed later with a misleading error.
        if self.pa_bits <= self.page_shift {
            return Err(err(
                "pa_bits",
                format!(
                    "expected more bits than a page offset ({}): physical memory must hold more than one page",
                    self.page_shift
                ),
            ));
        }
        if self.levels.is_empty() || self.levels.len() > MAX_LEVELS {
            return Err(err(
                "levels",
                format!(
                    "expected 1 to {MAX_LEVELS} levels, found {}",
                    self.levels.len()
                ),
            ));
        }
        let index_total: u32 = self.levels.iter().map(|l| u32::from(l.index_bits)).sum();
        let translated = index_total + u32::from(self.page_shift);
        if translated != u32::from(self.va_bits) {
            return Err(err(
                "levels",
                format!(
                    "index bits ({}) plus page_shift ({}) must add up to va_bits ({}), not {translated}",
                    self.levels
                        .iter()
                        .map(|l| l.index_bits.to_string())
                        .collect::<Vec<_>>()
                        .join("+"),
                    self.page_shift,
                    self.va_bits
                ),
            ));
        }
        for (i, level) in self.levels.iter().enumerate() {
            if level.index_bits == 0 || level.index_bits > 20 {
                return Err(err(format!("levels[{i}].index_bits"), "expected 1 to 20"));
            }
        }
        let pte = &self.pte;
        if !matches!(pte.bytes, 1 | 2 | 4 | 8) {
            return Err(err("pte.bytes", "expected 1, 2, 4 or 8"));
        }
        let entry_bits = u32::from(pte.bytes) * 8;
        if pte.frame_bits == 0 || u32::from(pte.frame_lo) + u32::from(pte.frame_bits) > entry_bits {
            return Err(err(
                "pte.frame_bits",
                format!(
                    "the frame field (bits {}..{}) must lie inside the {entry_bits}-bit entry",
                    pte.frame_lo,
                    u32::from(pte.frame_lo) + u32::from(pte.frame_bits)
                ),
            ));
        }
        let frame_field = low_mask(pte.frame_bits) << pte.frame_lo;
        let mut seen = 0u64;
        for (name, pos) in pte.named_bits() {
            let field = format!("pte.encoding.{name}");
            if u32::from(pos) >= entry_bits {
                return Err(err(
                    field,
                    format!("bit {pos} is outside the {entry_bits}-bit entry"),
                ));
            }
            if frame_field >> pos & 1 == 1 {
                return Err(err(field, format!("bit {pos} overlaps the frame field")));
            }
            if seen >> pos & 1 == 1 {
                return Err(err(field, format!("bit {pos} is used by another flag")));
            }
            seen |= 1 << pos;
        }
        if u32::from(pte.frame_bits) + u32::from(self.page_shift) < u32::from(self.pa_bits) {
            return Err(err(
                "pte.frame_bits",
                format!(
                    "{} frame bits with {}-bit pages cannot address {} physical bits",
                    pte.frame_bits, self.page_shift, self.pa_bits
                ),
            ));
        }
        if u32::from(self.asid_bits) > 16 {
            return Err(err("asid_bits", "expected 0 to 16"));
        }
        let last = self.levels.len() - 1;
        if !self.levels[last].leaf {
            return Err(err(
                format!("levels[{last}].leaf"),
                "the last level always maps pages: expected true",
            ));
        }
        let entry_mask = low_mask(entry_bits as u8);
        for (i, level) in self.levels.iter().enumerate() {
            for (name, mask) in [
                ("table_reserved", level.table_reserved),
                ("leaf_reserved", level.leaf_reserved),
            ] {
                if mask & !entry_mask != 0 {
                    return Err(err(
                        format!("levels[{i}].{name}"),
                        format!("mask {mask:#x} has bits outside the {entry_bits}-bit entry"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Arch {
    /// Validates `spec` and precomputes the per-level plan.
    pub fn new(spec: ArchSpec) -> Result<Arch, ArchError> {
        spec.validate()?;
        let mut plans = [LevelPlan::default(); MAX_LEVELS];
        let mut shift = spec.page_shift;
        let last = spec.levels.len() - 1;
        for (i, level) in spec.levels.iter().enumerate().rev() {
            plans[i] = LevelPlan {
                shift,
                index_mask: low_mask(level.index_bits),
                leaf: level.leaf,
                last: i == last,
                table_reserved: level.table_reserved,
                leaf_reserved: level.leaf_reserved,
                table_restricts: level.table_restricts,
                table_accessed: level.table_accessed,
                table_bytes: (1u64 << level.index_bits) * u64::from(spec.pte.bytes),
            };
            shift += level.index_bits;
        }
        Ok(Arch { spec, plans })
    }

    /// The walker's view of `level`.
    #[inline(always)]
    pub fn plan(&self, level: usize) -> &LevelPlan {
        &self.plans[level]
    }

    /// The walker's view of every level, root first.
    #[inline(always)]
    pub fn plans(&self) -> &[LevelPlan] {
        &self.plans[..self.spec.levels.len()]
    }

    /// The lowest address bit the last level does not index: one
    /// last-level table maps `1 << leaf_table_shift()` bytes (2 MiB on
    /// x86-64). Capped at 63, so a shift by it is defined: a single-level
    /// scheme spanning all 64 bits then counts its one table as two spans.
    pub fn leaf_table_shift(&self) -> u32 {
        let last = self.plan(self.spec.levels.len() - 1);
        (u32::from(last.shift) + last.index_mask.count_ones()).min(63)
    }

    /// The plain description this scheme was built from.
    pub fn spec(&self) -> &ArchSpec {
        &self.spec
    }

    /// Short name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Virtual address width in bits.
    pub fn va_bits(&self) -> u8 {
        self.spec.va_bits
    }

    /// Physical address width in bits.
    pub fn pa_bits(&self) -> u8 {
        self.spec.pa_bits
    }

    /// Offset bits of the base page.
    pub fn page_shift(&self) -> u8 {
        self.spec.page_shift
    }

    /// Size of the base page in bytes.
    pub fn page_bytes(&self) -> u64 {
        1 << self.spec.page_shift
    }

    /// The levels, root first.
    pub fn levels(&self) -> &[Level] {
        &self.spec.levels
    }

    /// The entry format.
    pub fn pte(&self) -> &PteFormat {
        &self.spec.pte
    }

    /// Lowest virtual-address bit indexed at `level`; also the page shift of
    /// a leaf at that level.
    #[inline]
    pub fn level_shift(&self, level: usize) -> u8 {
        self.plans[level].shift
    }

    /// The index into the table at `level` for `vaddr`.
    #[inline]
    pub fn index(&self, vaddr: u64, level: usize) -> u64 {
        let plan = &self.plans[level];
        (vaddr >> plan.shift) & plan.index_mask
    }

    /// Bytes of one table at `level`.
    pub fn table_bytes(&self, level: usize) -> u64 {
        self.plans[level].table_bytes
    }

    /// Bytes to allocate for a table at `level`: whole base pages, because
    /// a table entry holds a frame number.
    pub fn table_alloc_bytes(&self, level: usize) -> u64 {
        self.plans[level].table_bytes.div_ceil(self.page_bytes()) * self.page_bytes()
    }

    /// Page shifts a leaf can have, smallest first, with the level mapping each.
    pub fn page_sizes(&self) -> Vec<(u8, usize)> {
        let mut sizes: Vec<(u8, usize)> = (0..self.spec.levels.len())
            .filter(|&i| self.spec.levels[i].leaf)
            .map(|i| (self.plans[i].shift, i))
            .collect();
        sizes.sort_unstable();
        sizes
    }

    /// The level whose leaves are `1 << page_shift` bytes, if any.
    pub fn level_for_page_shift(&self, page_shift: u8) -> Option<usize> {
        (0..self.spec.levels.len())
            .find(|&i| self.plans[i].leaf && self.plans[i].shift == page_shift)
    }

    /// Whether `vaddr` is canonical for this scheme.
    #[inline]
    pub fn is_canonical(&self, vaddr: u64) -> bool {
        let bits = self.spec.va_bits;
        if bits >= 64 {
            return true;
        }
        let upper = vaddr >> (bits - 1);
        match self.spec.canonical {
            Canonical::SignExtend => upper == 0 || upper == low_mask(65 - bits),
            Canonical::ZeroExtend => vaddr >> bits == 0,
        }
    }

    /// Whether physical address `paddr` fits in `pa_bits`.
    pub fn fits_physical(&self, paddr: u64) -> bool {
        self.spec.pa_bits >= 64 || paddr >> self.spec.pa_bits == 0
    }

    /// How accessed and dirty flags are maintained.
    pub fn ad_update(&self) -> AdUpdate {
        self.spec.ad_update
    }

    /// A copy of this scheme with another accessed/dirty policy (RISC-V
    /// Svade vs Svadu; AArch64 with or without FEAT_HAFDBS).
    pub fn with_ad_update(&self, ad_update: AdUpdate) -> Arch {
        let mut arch = self.clone();
        arch.spec.ad_update = ad_update;
        arch
    }

    /// Byte order of entries.
    pub fn endian(&self) -> Endian {
        self.spec.endian
    }

    /// Width of the address-space identifier; 0 when the scheme has none.
    pub fn asid_bits(&self) -> u8 {
        self.spec.asid_bits
    }
}
