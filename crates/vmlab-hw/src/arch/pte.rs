//! Page-table entry formats: where each architecture keeps the present bit,
//! the permissions, the accessed and dirty flags and the frame number, and
//! how a raw entry decodes into the neutral [`DecodedPte`] the walker uses.
//!
//! Each [`PteEncoding`] variant is one family of real layouts (x86, RISC-V,
//! AArch64 stage 1, and the plain valid-bit-plus-frame tables of teaching
//! machines); the bit positions inside it are data, so a user-defined
//! scheme may move them.

use crate::access::Perms;
use serde::{Deserialize, Serialize};

/// Bit positions of an x86 (IA-32, PAE, Intel 64) paging entry, Intel SDM
/// Vol. 3A §4.3-4.5, tables 4-4 to 4-20.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X86Bits {
    /// P: the entry is present.
    pub present: u8,
    /// R/W: writes allowed (combined over all levels).
    pub write: u8,
    /// U/S: user-mode accesses allowed (combined over all levels).
    pub user: u8,
    /// A: set by the processor when the entry is used.
    pub accessed: u8,
    /// D: set by the processor on a write through a leaf.
    pub dirty: u8,
    /// PS: at a level that may map a large page, the entry is a leaf.
    pub page_size: u8,
    /// G: the translation is global (survives CR3 writes).
    pub global: u8,
    /// XD/NX: instruction fetches not allowed; absent without PAE.
    pub no_exec: Option<u8>,
}

/// Bit positions of a RISC-V Sv32/39/48/57 PTE, RISC-V Privileged ISA §4.3-4.6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiscVBits {
    /// V: the entry is valid.
    pub valid: u8,
    /// R: readable (a leaf when any of R, W, X is set).
    pub read: u8,
    /// W: writable.
    pub write: u8,
    /// X: executable.
    pub exec: u8,
    /// U: accessible in U-mode.
    pub user: u8,
    /// G: global mapping.
    pub global: u8,
    /// A: accessed.
    pub accessed: u8,
    /// D: dirty.
    pub dirty: u8,
}

/// Bit positions of an AArch64 VMSAv8-64 stage-1 descriptor, Arm ARM D8.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AArch64Bits {
    /// Bit 0: the descriptor is valid.
    pub valid: u8,
    /// Bit 1: table (page at the last level) when set, block when clear.
    pub table: u8,
    /// AP\[1\] (bit 6): EL0 may access.
    pub ap_el0: u8,
    /// AP\[2\] (bit 7): read-only.
    pub ap_read_only: u8,
    /// AF (bit 10): the access flag.
    pub access_flag: u8,
    /// nG (bit 11): not global.
    pub not_global: u8,
    /// DBM (bit 51): dirty bit modifier; with hardware dirty management a
    /// write clears AP\[2\] instead of faulting.
    pub dbm: u8,
    /// PXN (bit 53): privileged execute-never.
    pub pxn: u8,
    /// UXN (bit 54): unprivileged execute-never.
    pub uxn: u8,
    /// PXNTable (bit 59) in table descriptors.
    pub pxn_table: u8,
    /// UXNTable (bit 60) in table descriptors.
    pub uxn_table: u8,
    /// APTable\[0\] (bit 61): no EL0 access below this table.
    pub ap_table_no_el0: u8,
    /// APTable\[1\] (bit 62): no writes below this table.
    pub ap_table_read_only: u8,
}

/// Bit positions of a teaching machine's entry: a valid bit, optional
/// permission and reference bits, and the frame number. An absent
/// permission bit means the right is always granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleBits {
    /// The entry is valid.
    pub valid: u8,
    /// Readable.
    #[serde(default)]
    pub read: Option<u8>,
    /// Writable.
    #[serde(default)]
    pub write: Option<u8>,
    /// Executable.
    #[serde(default)]
    pub exec: Option<u8>,
    /// User-accessible.
    #[serde(default)]
    pub user: Option<u8>,
    /// Referenced, set by the hardware.
    #[serde(default)]
    pub accessed: Option<u8>,
    /// Modified, set by the hardware.
    #[serde(default)]
    pub dirty: Option<u8>,
}

/// The family of an entry layout and its bit positions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum PteEncoding {
    /// x86: P, R/W, U/S, A, D, PS, G, XD.
    X86(X86Bits),
    /// RISC-V: V, R, W, X, U, G, A, D.
    RiscV(RiscVBits),
    /// AArch64 stage 1 descriptors.
    AArch64(AArch64Bits),
    /// A teaching machine's valid bit and frame number.
    Simple(SimpleBits),
}

/// What kind of entry a raw value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PteKind {
    /// Not valid: translation stops with a not-present fault.
    Invalid,
    /// Points at the next level's table.
    Table,
    /// Maps a page (or a huge page above the last level).
    Leaf,
}

/// A raw entry decoded into the walker's neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DecodedPte {
    /// Invalid, table or leaf.
    pub kind: PteKind,
    /// Physical address of the next table (for a table) or of the page
    /// frame (for a leaf), before any huge-page offset is added.
    pub addr: u64,
    /// For a leaf, what it grants; for a table, the most it lets the leaves
    /// below it grant (x86 R/W, U/S, XD; AArch64 APTable, XNTable).
    pub perms: Perms,
    /// The accessed (A, AF) flag.
    pub accessed: bool,
    /// The dirty flag (for AArch64 with DBM: writable and AP\[2\] clear).
    pub dirty: bool,
    /// The global flag (AArch64: nG clear).
    pub global: bool,
    /// A writable leaf whose first write must mark it dirty (x86/RISC-V:
    /// W set and D clear; AArch64: DBM set and AP\[2\] still read-only).
    pub clean_writable: bool,
    /// Reserved bits that are set; non-zero makes the walk fault.
    pub reserved: u64,
    /// An encoding the architecture reserves (RISC-V W without R).
    pub reserved_encoding: bool,
}

/// The rights and flags of a leaf entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafFlags {
    /// Rights granted.
    pub perms: Perms,
    /// Accessed flag.
    pub accessed: bool,
    /// Dirty flag.
    pub dirty: bool,
    /// Global flag.
    pub global: bool,
    /// Writable, but the first write must mark it dirty.
    pub clean_writable: bool,
}

/// One entry layout: its size, frame field and flag encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PteFormat {
    /// Size of an entry in bytes: 1, 2, 4 or 8.
    pub bytes: u8,
    /// Lowest bit of the frame-number field.
    pub frame_lo: u8,
    /// Width of the frame-number field in bits.
    pub frame_bits: u8,
    /// Flag layout.
    pub encoding: PteEncoding,
}

#[inline]
fn bit(raw: u64, pos: u8) -> bool {
    raw >> pos & 1 == 1
}

#[inline]
fn flag(pos: u8) -> u64 {
    1u64 << pos
}

/// Calls `$body` with `$b` bound to the encoding's family bits.
macro_rules! dispatch {
    ($format:expr, $b:ident => $body:expr) => {
        match &$format.encoding {
            PteEncoding::X86($b) => $body,
            PteEncoding::RiscV($b) => $body,
            PteEncoding::AArch64($b) => $body,
            PteEncoding::Simple($b) => $body,
        }
    };
}

/// How one family of entry layouts decodes and updates entries. The walker
/// is compiled once per family, so each entry it reads is decoded without
/// matching on [`PteEncoding`] again.
pub trait EntryBits: Copy {
    /// Whether, without hardware dirty management, a write to a clean
    /// writable leaf is a permission fault (AArch64: a DBM page is still
    /// read-only until AP\[2\] is cleared) rather than a dirty-flag fault.
    const CLEAN_WRITE_IS_PERMISSION_FAULT: bool = false;
    /// Invalid, table or leaf, at a level that may (`may_be_leaf`) or must
    /// (`last`) hold a leaf.
    fn kind(&self, raw: u64, may_be_leaf: bool, last: bool) -> PteKind;
    /// An encoding reserved in a valid entry.
    fn reserved_encoding(&self, _raw: u64) -> bool {
        false
    }
    /// The most a table entry lets the leaves below it grant.
    #[inline(always)]
    fn table_limit(&self, raw: u64) -> Perms {
        self.tables_limit(raw, raw)
    }
    /// The most a path of table entries lets the leaf below them grant,
    /// from the AND (`all`) and the OR (`any`) of their raw values: a
    /// right a set bit grants must be set in every entry, one a set bit
    /// withholds is lost if set in any, so this is the intersection of
    /// each entry's [`table_limit`](EntryBits::table_limit). The walker
    /// folds each table entry in with two instructions and decodes once,
    /// at the leaf. With no entries (`all` all ones, `any` zero) it grants
    /// everything a leaf can.
    fn tables_limit(&self, _all: u64, _any: u64) -> Perms {
        Perms::all()
    }
    /// The accessed flag of a table entry.
    fn table_accessed(&self, _raw: u64) -> bool {
        false
    }
    /// The rights and flags of a leaf entry.
    fn leaf(&self, raw: u64) -> LeafFlags;
    /// `raw` with the accessed flag set or cleared.
    fn with_accessed(&self, raw: u64, on: bool) -> u64;
    /// `raw` with the dirty state set or cleared.
    fn with_dirty(&self, raw: u64, on: bool) -> u64;
}

impl X86Bits {
    /// The rights of entries whose AND is `all` and OR is `any` (one
    /// entry: both its raw value): R/W and U/S grant, XD withholds.
    #[inline(always)]
    fn perms(&self, all: u64, any: u64) -> Perms {
        let mut p = Perms::READ;
        if bit(all, self.write) {
            p |= Perms::WRITE;
        }
        if bit(all, self.user) {
            p |= Perms::USER;
        }
        if !self.no_exec.is_some_and(|nx| bit(any, nx)) {
            p |= Perms::EXEC_USER | Perms::EXEC_SUPER;
        }
        p
    }
}

impl EntryBits for X86Bits {
    #[inline(always)]
    fn kind(&self, raw: u64, may_be_leaf: bool, last: bool) -> PteKind {
        if !bit(raw, self.present) {
            PteKind::Invalid
        } else if last || (may_be_leaf && bit(raw, self.page_size)) {
            PteKind::Leaf
        } else {
            PteKind::Table
        }
    }
    #[inline(always)]
    fn tables_limit(&self, all: u64, any: u64) -> Perms {
        self.perms(all, any)
    }
    #[inline(always)]
    fn table_accessed(&self, raw: u64) -> bool {
        bit(raw, self.accessed)
    }
    #[inline(always)]
    fn leaf(&self, raw: u64) -> LeafFlags {
        let perms = self.perms(raw, raw);
        let dirty = bit(raw, self.dirty);
        LeafFlags {
            perms,
            accessed: bit(raw, self.accessed),
            dirty,
            global: bit(raw, self.global),
            clean_writable: perms.contains(Perms::WRITE) && !dirty,
        }
    }
    fn with_accessed(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, Some(self.accessed), on)
    }
    fn with_dirty(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, Some(self.dirty), on)
    }
}

impl EntryBits for RiscVBits {
    #[inline(always)]
    fn kind(&self, raw: u64, _may_be_leaf: bool, last: bool) -> PteKind {
        if !bit(raw, self.valid) {
            PteKind::Invalid
        } else if bit(raw, self.read) || bit(raw, self.exec) {
            PteKind::Leaf
        } else if last {
            // "Otherwise, this PTE is a pointer to the next level of the page
            // table": at the last level there is none.
            PteKind::Invalid
        } else {
            PteKind::Table
        }
    }
    #[inline(always)]
    fn reserved_encoding(&self, raw: u64) -> bool {
        bit(raw, self.valid) && bit(raw, self.write) && !bit(raw, self.read)
    }
    #[inline(always)]
    fn leaf(&self, raw: u64) -> LeafFlags {
        let mut perms = Perms::empty();
        if bit(raw, self.read) {
            perms |= Perms::READ;
        }
        let w = bit(raw, self.write);
        if w {
            perms |= Perms::WRITE;
        }
        if bit(raw, self.exec) {
            perms |= Perms::EXEC_USER | Perms::EXEC_SUPER;
        }
        if bit(raw, self.user) {
            perms |= Perms::USER;
        }
        let dirty = bit(raw, self.dirty);
        LeafFlags {
            perms,
            accessed: bit(raw, self.accessed),
            dirty,
            global: bit(raw, self.global),
            clean_writable: w && !dirty,
        }
    }
    fn with_accessed(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, Some(self.accessed), on)
    }
    fn with_dirty(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, Some(self.dirty), on)
    }
}

impl EntryBits for AArch64Bits {
    const CLEAN_WRITE_IS_PERMISSION_FAULT: bool = true;
    #[inline(always)]
    fn kind(&self, raw: u64, may_be_leaf: bool, last: bool) -> PteKind {
        if !bit(raw, self.valid) {
            return PteKind::Invalid;
        }
        match (last, bit(raw, self.table)) {
            // At the last level, 0b11 is a page and 0b01 is reserved.
            (true, true) => PteKind::Leaf,
            (true, false) => PteKind::Invalid,
            (false, true) => PteKind::Table,
            (false, false) if may_be_leaf => PteKind::Leaf,
            (false, false) => PteKind::Invalid,
        }
    }
    /// APTable and XNTable bits only withhold, so only `any` counts.
    #[inline(always)]
    fn tables_limit(&self, _all: u64, any: u64) -> Perms {
        let mut p = Perms::all();
        if bit(any, self.ap_table_read_only) {
            p -= Perms::WRITE;
        }
        if bit(any, self.ap_table_no_el0) {
            p -= Perms::USER;
        }
        if bit(any, self.uxn_table) {
            p -= Perms::EXEC_USER;
        }
        if bit(any, self.pxn_table) {
            p -= Perms::EXEC_SUPER;
        }
        p
    }
    #[inline(always)]
    fn leaf(&self, raw: u64) -> LeafFlags {
        let read_only = bit(raw, self.ap_read_only);
        let dbm = bit(raw, self.dbm);
        let mut perms = Perms::READ;
        if !read_only || dbm {
            perms |= Perms::WRITE;
        }
        let el0 = bit(raw, self.ap_el0);
        if el0 {
            perms |= Perms::USER;
        }
        if !bit(raw, self.uxn) {
            perms |= Perms::EXEC_USER;
        }
        // Arm ARM D8.4: a region writable at EL0 is always privileged
        // execute-never.
        let el0_writable = el0 && !read_only;
        if !bit(raw, self.pxn) && !el0_writable {
            perms |= Perms::EXEC_SUPER;
        }
        LeafFlags {
            perms,
            accessed: bit(raw, self.access_flag),
            dirty: dbm && !read_only,
            global: !bit(raw, self.not_global),
            clean_writable: dbm && read_only,
        }
    }
    fn with_accessed(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, Some(self.access_flag), on)
    }
    fn with_dirty(&self, raw: u64, on: bool) -> u64 {
        if bit(raw, self.dbm) {
            set_bit(raw, Some(self.ap_read_only), !on)
        } else {
            raw
        }
    }
}

impl EntryBits for SimpleBits {
    #[inline(always)]
    fn kind(&self, raw: u64, _may_be_leaf: bool, last: bool) -> PteKind {
        if !bit(raw, self.valid) {
            PteKind::Invalid
        } else if last {
            PteKind::Leaf
        } else {
            PteKind::Table
        }
    }
    #[inline(always)]
    fn leaf(&self, raw: u64) -> LeafFlags {
        let granted = |pos: Option<u8>| pos.is_none_or(|p| bit(raw, p));
        let mut perms = Perms::empty();
        if granted(self.read) {
            perms |= Perms::READ;
        }
        if granted(self.write) {
            perms |= Perms::WRITE;
        }
        if granted(self.exec) {
            perms |= Perms::EXEC_USER | Perms::EXEC_SUPER;
        }
        if granted(self.user) {
            perms |= Perms::USER;
        }
        let dirty = self.dirty.is_some_and(|p| bit(raw, p));
        LeafFlags {
            perms,
            accessed: self.accessed.is_some_and(|p| bit(raw, p)),
            dirty,
            global: false,
            clean_writable: self.dirty.is_some() && perms.contains(Perms::WRITE) && !dirty,
        }
    }
    fn with_accessed(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, self.accessed, on)
    }
    fn with_dirty(&self, raw: u64, on: bool) -> u64 {
        set_bit(raw, self.dirty, on)
    }
}

impl PteFormat {
    /// The frame number field of `raw`, as a physical address of a page of
    /// `1 << page_shift` bytes.
    #[inline]
    pub fn frame_addr(&self, raw: u64, page_shift: u8) -> u64 {
        ((raw >> self.frame_lo) & low_mask(self.frame_bits)) << page_shift
    }

    /// Places physical address `addr` (a multiple of the base page) in the
    /// frame field.
    #[inline]
    pub fn with_frame(&self, raw: u64, addr: u64, page_shift: u8) -> u64 {
        let field = low_mask(self.frame_bits) << self.frame_lo;
        (raw & !field) | (((addr >> page_shift) << self.frame_lo) & field)
    }

    /// Every bit position the encoding names, for validating a scheme.
    pub fn named_bits(&self) -> Vec<(&'static str, u8)> {
        match &self.encoding {
            PteEncoding::X86(b) => {
                let mut v = vec![
                    ("present", b.present),
                    ("write", b.write),
                    ("user", b.user),
                    ("accessed", b.accessed),
                    ("dirty", b.dirty),
                    ("page_size", b.page_size),
                    ("global", b.global),
                ];
                v.extend(b.no_exec.map(|p| ("no_exec", p)));
                v
            }
            PteEncoding::RiscV(b) => vec![
                ("valid", b.valid),
                ("read", b.read),
                ("write", b.write),
                ("exec", b.exec),
                ("user", b.user),
                ("global", b.global),
                ("accessed", b.accessed),
                ("dirty", b.dirty),
            ],
            PteEncoding::AArch64(b) => vec![
                ("valid", b.valid),
                ("table", b.table),
                ("ap_el0", b.ap_el0),
                ("ap_read_only", b.ap_read_only),
                ("access_flag", b.access_flag),
                ("not_global", b.not_global),
                ("dbm", b.dbm),
                ("pxn", b.pxn),
                ("uxn", b.uxn),
                ("pxn_table", b.pxn_table),
                ("uxn_table", b.uxn_table),
                ("ap_table_no_el0", b.ap_table_no_el0),
                ("ap_table_read_only", b.ap_table_read_only),
            ],
            PteEncoding::Simple(b) => {
                let mut v = vec![("valid", b.valid)];
                for (name, pos) in [
                    ("read", b.read),
                    ("write", b.write),
                    ("exec", b.exec),
                    ("user", b.user),
                    ("accessed", b.accessed),
                    ("dirty", b.dirty),
                ] {
                    v.extend(pos.map(|p| (name, p)));
                }
                v
            }
        }
    }

    /// Decodes `raw` found at a level that may (`may_be_leaf`) or must
    /// (`last`) hold a leaf, checking the level's reserved masks. The walker
    /// calls the pieces ([`kind`](PteFormat::kind),
    /// [`table_limit`](PteFormat::table_limit), [`leaf`](PteFormat::leaf))
    /// separately so each step computes only what it needs.
    #[inline(always)]
    pub fn decode(
        &self,
        raw: u64,
        page_shift: u8,
        may_be_leaf: bool,
        last: bool,
        table_reserved: u64,
        leaf_reserved: u64,
    ) -> DecodedPte {
        let kind = self.kind(raw, may_be_leaf, last);
        let mut d = DecodedPte {
            kind,
            addr: self.frame_addr(raw, page_shift),
            perms: Perms::empty(),
            accessed: false,
            dirty: false,
            global: false,
            clean_writable: false,
            reserved: 0,
            reserved_encoding: false,
        };
        d.reserved_encoding = self.reserved_encoding(raw);
        match kind {
            PteKind::Invalid => {}
            PteKind::Table => {
                d.perms = self.table_limit(raw);
                d.accessed = self.table_accessed(raw);
                d.global = self.table_global(raw);
                d.reserved = raw & table_reserved;
            }
            PteKind::Leaf => {
                let leaf = self.leaf(raw);
                d.perms = leaf.perms;
                d.accessed = leaf.accessed;
                d.dirty = leaf.dirty;
                d.global = leaf.global;
                d.clean_writable = leaf.clean_writable;
                d.reserved = raw & leaf_reserved;
            }
        }
        d
    }

    /// Whether `raw` is invalid, a pointer to the next table, or a leaf, at
    /// a level that may (`may_be_leaf`) or must (`last`) hold a leaf.
    #[inline(always)]
    pub fn kind(&self, raw: u64, may_be_leaf: bool, last: bool) -> PteKind {
        dispatch!(self, b => b.kind(raw, may_be_leaf, last))
    }

    /// An encoding the architecture reserves in a valid entry (RISC-V: W
    /// without R).
    #[inline(always)]
    pub fn reserved_encoding(&self, raw: u64) -> bool {
        dispatch!(self, b => b.reserved_encoding(raw))
    }

    /// The most a table entry lets the leaves below it grant (x86 R/W, U/S
    /// and XD; AArch64 APTable and XNTable); everything elsewhere.
    #[inline(always)]
    pub fn table_limit(&self, raw: u64) -> Perms {
        dispatch!(self, b => b.table_limit(raw))
    }

    /// The accessed flag of a table entry (only x86 has one).
    #[inline(always)]
    pub fn table_accessed(&self, raw: u64) -> bool {
        dispatch!(self, b => b.table_accessed(raw))
    }

    /// The global flag of a table entry as the decoder reports it (RISC-V
    /// allows G in non-leaf entries).
    fn table_global(&self, raw: u64) -> bool {
        match &self.encoding {
            PteEncoding::RiscV(b) => bit(raw, b.global),
            _ => false,
        }
    }

    /// The rights and flags of a leaf entry.
    #[inline(always)]
    pub fn leaf(&self, raw: u64) -> LeafFlags {
        dispatch!(self, b => b.leaf(raw))
    }

    /// A leaf entry mapping the page at `addr` with `perms`. Returns the
    /// permission the encoding cannot express, if any.
    pub fn encode_leaf(
        &self,
        addr: u64,
        page_shift: u8,
        last: bool,
        attrs: &LeafAttrs,
    ) -> Result<u64, UnencodablePerms> {
        let p = attrs.perms;
        let exec_user = p.contains(Perms::EXEC_USER);
        let exec_super = p.contains(Perms::EXEC_SUPER);
        let mut raw = self.with_frame(0, addr, page_shift);
        match &self.encoding {
            PteEncoding::X86(b) => {
                if !p.contains(Perms::READ) {
                    return Err(UnencodablePerms("a present x86 page is always readable"));
                }
                if exec_user != exec_super {
                    return Err(UnencodablePerms(
                        "x86 has one execute-disable bit for both modes",
                    ));
                }
                raw |= flag(b.present);
                if p.contains(Perms::WRITE) {
                    raw |= flag(b.write);
                }
                if p.contains(Perms::USER) {
                    raw |= flag(b.user);
                }
                // Without XD (32-bit paging) every present page is
                // executable, whatever was asked.
                if let Some(nx) = b.no_exec.filter(|_| !exec_user) {
                    raw |= flag(nx);
                }
                if !last {
                    raw |= flag(b.page_size);
                }
                raw |= self.ref_bits(attrs, b.accessed, b.dirty);
                if attrs.global {
                    raw |= flag(b.global);
                }
            }
            PteEncoding::RiscV(b) => {
                if exec_user != exec_super {
                    return Err(UnencodablePerms("RISC-V has one X bit for both modes"));
                }
                if !p.intersects(Perms::READ | Perms::EXEC_USER) {
                    return Err(UnencodablePerms(
                        "a RISC-V leaf needs R or X (W alone is reserved)",
                    ));
                }
                if p.contains(Perms::WRITE) && !p.contains(Perms::READ) {
                    return Err(UnencodablePerms("RISC-V reserves W without R"));
                }
                raw |= flag(b.valid);
                for (perm, pos) in [
                    (Perms::READ, b.read),
                    (Perms::WRITE, b.write),
                    (Perms::EXEC_USER, b.exec),
                    (Perms::USER, b.user),
                ] {
                    if p.contains(perm) {
                        raw |= flag(pos);
                    }
                }
                raw |= self.ref_bits(attrs, b.accessed, b.dirty);
                if attrs.global {
                    raw |= flag(b.global);
                }
            }
            PteEncoding::AArch64(b) => {
                if !p.contains(Perms::READ) {
                    return Err(UnencodablePerms(
                        "an AArch64 stage-1 page is always readable",
                    ));
                }
                raw |= flag(b.valid);
                if last {
                    raw |= flag(b.table);
                }
                if p.contains(Perms::USER) {
                    raw |= flag(b.ap_el0);
                }
                if p.contains(Perms::WRITE) {
                    // Writable-clean is AP[2]=1 with DBM=1 (hardware dirty
                    // management clears AP[2] on the first write).
                    raw |= flag(b.dbm);
                    if !attrs.dirty {
                        raw |= flag(b.ap_read_only);
                    }
                } else {
                    raw |= flag(b.ap_read_only);
                }
                if !exec_user {
                    raw |= flag(b.uxn);
                }
                if !exec_super {
                    raw |= flag(b.pxn);
                }
                if attrs.accessed {
                    raw |= flag(b.access_flag);
                }
                if !attrs.global {
                    raw |= flag(b.not_global);
                }
            }
            PteEncoding::Simple(b) => {
                raw |= flag(b.valid);
                // A right the format has no bit for is always granted, so
                // asking for it or not makes no difference.
                for (perm, pos) in [
                    (Perms::READ, b.read),
                    (Perms::WRITE, b.write),
                    (Perms::EXEC_USER, b.exec),
                    (Perms::USER, b.user),
                ] {
                    if let Some(pos) = pos.filter(|_| p.contains(perm)) {
                        raw |= flag(pos);
                    }
                }
                if exec_user != exec_super && b.exec.is_some() {
                    return Err(UnencodablePerms("one execute bit serves both modes"));
                }
                if let Some(a) = b.accessed.filter(|_| attrs.accessed) {
                    raw |= flag(a);
                }
                if let Some(d) = b.dirty.filter(|_| attrs.dirty) {
                    raw |= flag(d);
                }
            }
        }
        Ok(raw)
    }

    fn ref_bits(&self, attrs: &LeafAttrs, accessed: u8, dirty: u8) -> u64 {
        let mut raw = 0;
        if attrs.accessed {
            raw |= flag(accessed);
        }
        if attrs.dirty {
            raw |= flag(dirty);
        }
        raw
    }

    /// A table entry pointing at the table at `addr`. Table entries grant
    /// everything; restrictions are expressed at the leaves, as Linux does.
    pub fn encode_table(&self, addr: u64, page_shift: u8, restricts: bool) -> u64 {
        let raw = self.with_frame(0, addr, page_shift);
        match &self.encoding {
            PteEncoding::X86(b) if restricts => {
                raw | flag(b.present) | flag(b.write) | flag(b.user)
            }
            PteEncoding::X86(b) => raw | flag(b.present),
            PteEncoding::RiscV(b) => raw | flag(b.valid),
            PteEncoding::AArch64(b) => raw | flag(b.valid) | flag(b.table),
            PteEncoding::Simple(b) => raw | flag(b.valid),
        }
    }

    /// `raw` with the accessed flag set (or cleared), where the format has one.
    pub fn with_accessed(&self, raw: u64, on: bool) -> u64 {
        dispatch!(self, b => b.with_accessed(raw, on))
    }

    /// `raw` with the dirty state set (or cleared), where the format has one.
    /// On AArch64 dirty means "DBM set and AP\[2\] clear", so only a
    /// DBM-writable entry changes.
    pub fn with_dirty(&self, raw: u64, on: bool) -> u64 {
        dispatch!(self, b => b.with_dirty(raw, on))
    }
}

fn set_bit(raw: u64, pos: Option<u8>, on: bool) -> u64 {
    match pos {
        Some(p) if on => raw | flag(p),
        Some(p) => raw & !flag(p),
        None => raw,
    }
}

/// A mask of the low `bits` bits.
#[inline]
pub fn low_mask(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A mask of bits `lo..=hi`.
pub fn bit_range(lo: u8, hi: u8) -> u64 {
    low_mask(hi + 1) & !low_mask(lo)
}

/// What a new leaf entry should say besides its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafAttrs {
    /// Rights granted.
    pub perms: Perms,
    /// Shared by every address space (not flushed on an ASID change).
    pub global: bool,
    /// Start with the accessed flag set.
    pub accessed: bool,
    /// Start with the dirty flag set.
    pub dirty: bool,
}

impl LeafAttrs {
    /// A non-global, not-yet-accessed, clean mapping with `perms`.
    pub fn new(perms: Perms) -> LeafAttrs {
        LeafAttrs {
            perms,
            global: false,
            accessed: false,
            dirty: false,
        }
    }
}

/// A permission combination the entry format cannot express, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnencodablePerms(pub &'static str);

impl std::fmt::Display for UnencodablePerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
