//! Property test of the walk memo (the MMU's memo of the paths walks took
//! above the last level): on every preset (and a `linear:` machine), with
//! the walker setting accessed and dirty flags and with software setting
//! them, two machines built alike, with no TLB so every access walks, meet
//! the same random sequence of operations. One machine's accesses are
//! explained, so each walks from the root and reports every step; the
//! other's report nothing and walk through the memo, kept for the whole
//! sequence. Every access must give the same translation or fault at the
//! same cost, and the two memories must hold the same bytes after every
//! step.
//!
//! The sequence first maps and unmaps pages between accesses (tables are
//! linked and freed under remembered paths), then writes raw entries
//! behind the editor's back between accesses: flipping any bit of any
//! entry on a path (an accessed flag cleared, a reserved bit set, a table
//! pointer moved) or copying another path's entry over it. A memo that
//! missed any of those writes would answer from a stale path.
//!
//! `PROPTEST_CASES` sets the number of cases (default 48 per scheme).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use vmlab_hw::arch::presets::{by_name, NAMES};
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::arch::AdUpdate;
use vmlab_hw::physmem::MAX_PHYS_BYTES;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{
    AccessKind, Arch, Context, Endian, Event, Mmu, Mode, NoEvents, PageTable, Perms, PhysMem,
    TableAllocator, TableArena,
};

/// Tables live in the first 16 MiB of physical memory (or all of it).
const ARENA_END: u64 = 16 << 20;

/// Rights to try for a page, from a chosen one on; the first the format
/// can express is used.
const PERM_CHOICES: [Perms; 4] = [
    Perms::READ.union(Perms::USER),
    Perms::READ.union(Perms::WRITE).union(Perms::USER),
    Perms::READ.union(Perms::EXEC_USER).union(Perms::USER),
    Perms::READ.union(Perms::WRITE),
];

const KINDS: [AccessKind; 3] = [AccessKind::Read, AccessKind::Write, AccessKind::Fetch];

/// An arena that knows how far it has handed out: the bytes the two
/// machines' tables may differ in.
struct Arena {
    arena: TableArena,
    top: u64,
}

impl TableAllocator for Arena {
    fn alloc_table(&mut self, bytes: u64) -> Option<u64> {
        let addr = self.arena.alloc_table(bytes)?;
        self.top = self.top.max(addr + bytes);
        Some(addr)
    }

    fn free_table(&mut self, addr: u64, bytes: u64) {
        self.arena.free_table(addr, bytes);
    }
}

/// One machine: memory, its table allocator, one page table, and an MMU
/// with no TLB.
struct Machine {
    mem: PhysMem,
    alloc: Arena,
    pt: PageTable,
    mmu: Mmu,
}

impl Machine {
    fn new(arch: &Arch) -> Machine {
        let size = (1u64 << arch.pa_bits()).min(MAX_PHYS_BYTES);
        let mut mem = PhysMem::new(size, Endian::Little).unwrap();
        let mut alloc = Arena {
            arena: TableArena::new(0, size.min(ARENA_END), arch.page_bytes()),
            top: 0,
        };
        let pt = PageTable::new(arch, &mut mem, &mut alloc).unwrap();
        let mmu = Mmu::new(arch.clone(), &TlbConfig { levels: Vec::new() }).unwrap();
        Machine {
            mem,
            alloc,
            pt,
            mmu,
        }
    }

    fn context(&self) -> Context {
        Context {
            root: self.pt.root(),
            asid: 0,
        }
    }

    /// Every byte the tables may occupy, and the backing store's size.
    fn image(&self) -> (Vec<u8>, u64) {
        let mut bytes = vec![0; self.alloc.top as usize];
        self.mem.read_bytes(0, &mut bytes).unwrap();
        (bytes, self.mem.resident_bytes())
    }
}

/// One step of a sequence: `(what, a, b, c)`, read per phase.
type Step = (u8, u64, u64, usize);

#[derive(Clone, Debug)]
struct Case {
    /// Maps (0), unmaps (1) and accesses (2, 3).
    edits: Vec<Step>,
    /// Raw entry writes (0, 1) and accesses (2, 3).
    pokes: Vec<Step>,
}

fn case() -> impl Strategy<Value = Case> {
    let step = || (0..4u8, any::<u64>(), any::<u64>(), any::<usize>());
    (
        prop::collection::vec(step(), 1..48),
        prop::collection::vec(step(), 0..48),
    )
        .prop_map(|(edits, pokes)| Case { edits, pokes })
}

/// The two machines and what has been mapped in them.
struct Twins<'a> {
    arch: &'a Arch,
    plain: Machine,
    remembering: Machine,
    /// First virtual address of each mapped page, to its page shift.
    pages: BTreeMap<u64, u8>,
}

impl Twins<'_> {
    /// An address in the scheme's range from `raw`, inside a mapped page
    /// when `raw` is even and there is one.
    fn address(&self, raw: u64, offset: u64) -> u64 {
        if raw & 1 == 0 && !self.pages.is_empty() {
            let (&start, &shift) = self
                .pages
                .iter()
                .nth((raw >> 1) as usize % self.pages.len())
                .unwrap();
            return start + (offset & ((1u64 << shift) - 1));
        }
        canonical(self.arch, raw >> 1)
    }

    /// Maps a page of a size chosen by `c` at `va_raw` to `frame_raw`, the
    /// same way in both, unless it overlaps one or no rights fit.
    fn map(&mut self, va_raw: u64, frame_raw: u64, c: usize) {
        let sizes = self.arch.page_sizes();
        let (shift, _) = sizes[c % sizes.len()];
        let mask = (1u64 << shift) - 1;
        let va = canonical(self.arch, va_raw) & !mask;
        let frame = frame_raw & ((1u64 << self.arch.pa_bits()) - 1) & !mask;
        let overlaps = self
            .pages
            .range(..=va + mask)
            .next_back()
            .is_some_and(|(&s, &sh)| s + ((1u64 << sh) - 1) >= va);
        if overlaps {
            return;
        }
        for i in 0..PERM_CHOICES.len() {
            let attrs = LeafAttrs::new(PERM_CHOICES[(c / 8 + i) % PERM_CHOICES.len()]);
            let m = &mut self.plain;
            let done =
                m.pt.map(self.arch, &mut m.mem, &mut m.alloc, va, frame, shift, attrs);
            let m = &mut self.remembering;
            let twin =
                m.pt.map(self.arch, &mut m.mem, &mut m.alloc, va, frame, shift, attrs);
            assert_eq!(done.is_ok(), twin.is_ok(), "map {va:#x}");
            if done.is_ok() {
                self.pages.insert(va, shift);
                return;
            }
        }
    }

    fn unmap(&mut self, raw: u64) {
        let va = self.address(raw & !1, 0);
        self.pages.remove(&va);
        let m = &mut self.plain;
        let done = m.pt.unmap(self.arch, &mut m.mem, &mut m.alloc, va).unwrap();
        let m = &mut self.remembering;
        let twin = m.pt.unmap(self.arch, &mut m.mem, &mut m.alloc, va).unwrap();
        assert_eq!(done, twin, "unmap {va:#x}");
    }

    /// Accesses an address both ways, in user or supervisor mode by `c`.
    fn access(&mut self, raw: u64, offset: u64, c: usize) -> Result<(), TestCaseError> {
        let va = self.address(raw, offset);
        let kind = KINDS[c % KINDS.len()];
        let mode = if c / 3 % 2 == 0 {
            Mode::User
        } else {
            Mode::Supervisor
        };
        let (p, r) = (&mut self.plain, &mut self.remembering);
        let (ctx, mut events) = (p.context(), Vec::<Event>::new());
        let want = p.mmu.access(&mut p.mem, ctx, va, kind, mode, &mut events);
        let ctx = r.context();
        let got = r.mmu.access(&mut r.mem, ctx, va, kind, mode, &mut NoEvents);
        prop_assert_eq!(got, want, "{} {:#x}", kind, va);
        Ok(())
    }

    /// Writes the entry at level `c % levels` on the path of an address
    /// from `raw`, where the path reaches that level: flips bit `b` of it
    /// (`what` 0) or copies over it the entry at the same level on the path
    /// of another address from `b` (`what` 1).
    fn poke(&mut self, what: u8, raw: u64, b: u64, c: usize) {
        let level = c % self.arch.levels().len();
        let va = self.address(raw, c as u64);
        let Some(at) = entry_at(self.arch, &self.plain.mem, self.plain.pt.root(), va, level) else {
            return;
        };
        let bytes = usize::from(self.arch.pte().bytes);
        // A pointer moved before may have sent the path outside memory.
        let Ok(old) = self.plain.mem.load(at, bytes) else {
            return;
        };
        let new = if what == 0 {
            old ^ 1u64 << (b % (8 * bytes as u64))
        } else {
            let other = self.address(b, b >> 7);
            match entry_at(
                self.arch,
                &self.plain.mem,
                self.plain.pt.root(),
                other,
                level,
            ) {
                Some(from) => match self.plain.mem.load(from, bytes) {
                    Ok(raw) => raw,
                    Err(_) => return,
                },
                None => return,
            }
        };
        for m in [&mut self.plain, &mut self.remembering] {
            m.mem.store(at, bytes, new).unwrap();
        }
    }
}

/// The address of the entry at `level` on `va`'s path under `root`, where
/// every entry above it is a table entry.
fn entry_at(arch: &Arch, mem: &PhysMem, root: u64, va: u64, level: usize) -> Option<u64> {
    let format = arch.pte();
    let bytes = u64::from(format.bytes);
    let last = arch.levels().len() - 1;
    let mut table = root;
    for (i, l) in arch.levels().iter().enumerate() {
        let at = table.checked_add(arch.index(va, i) * bytes)?;
        if i == level {
            return Some(at);
        }
        let raw = mem.load(at, usize::from(format.bytes)).ok()?;
        if format.kind(raw, l.leaf, i == last) != vmlab_hw::arch::pte::PteKind::Table {
            return None;
        }
        table = format.frame_addr(raw, arch.page_shift());
    }
    None
}

/// The virtual address with bits `raw` below `va_bits`, made canonical.
fn canonical(arch: &Arch, raw: u64) -> u64 {
    let bits = u32::from(arch.va_bits()).min(63);
    let low = raw & ((1u64 << bits) - 1);
    if arch.is_canonical(low) {
        low
    } else {
        low | !((1u64 << bits) - 1)
    }
}

fn run_case(arch: &Arch, case: &Case) -> Result<(), TestCaseError> {
    let mut t = Twins {
        arch,
        plain: Machine::new(arch),
        remembering: Machine::new(arch),
        pages: BTreeMap::new(),
    };
    for &(what, a, b, c) in &case.edits {
        match what {
            0 => t.map(a, b, c),
            1 => t.unmap(a),
            _ => t.access(a, b, c)?,
        }
        prop_assert!(
            t.plain.image() == t.remembering.image(),
            "after {what} {a:#x}"
        );
    }
    for &(what, a, b, c) in &case.pokes {
        match what {
            0 | 1 => t.poke(what, a, b, c),
            _ => t.access(a, b, c)?,
        }
        prop_assert!(
            t.plain.image() == t.remembering.image(),
            "after {what} {a:#x}"
        );
    }
    Ok(())
}

#[test]
fn a_remembered_walk_is_a_walk_on_every_preset() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48);
    for name in NAMES.iter().chain(&["linear:va=20,page=1024,pa=18"]) {
        let arch = by_name(name).unwrap().unwrap();
        for ad in [AdUpdate::Hardware, AdUpdate::Fault] {
            let arch = arch.with_ad_update(ad);
            let mut runner = TestRunner::new(Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            });
            if let Err(e) = runner.run(&case(), |c| run_case(&arch, &c)) {
                panic!("{name} ({ad:?}): {e}");
            }
        }
    }
}
