//! Property test of the page-table editor and the walker on every preset
//! (and two `linear:` machines), against a plain `BTreeMap` reference model
//! from virtual page to frame: random distinct pages of every size the
//! scheme supports, anywhere in its (canonical) virtual range, mapped to
//! random frames in its physical range with random rights; then every
//! address inside a mapped page translates as the model says (page size,
//! frame, offset, rights), every other address faults as not present (or
//! non-canonical), and unmapping everything gives every table but the root
//! back to the allocator. Look-ahead (`leaf_table`) finds the table each
//! walk reads its leaf entry from.
//!
//! `PROPTEST_CASES` raises the number of cases (default 128 per scheme).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use vmlab_hw::arch::presets::{by_name, NAMES};
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::arch::Canonical;
use vmlab_hw::pagetable::leaf_table;
use vmlab_hw::physmem::MAX_PHYS_BYTES;
use vmlab_hw::{
    walk, AccessKind, Arch, Endian, Mode, NoEvents, PageFaultCause, PageTable, Perms, PhysMem,
    TableAllocator, TableArena,
};

/// Extra schemes beyond [`NAMES`]: configurable linear tables.
const LINEAR: &[&str] = &[
    "linear:va=20,page=1024,pa=18",
    "linear:va=26,page=4096,pa=40",
];

/// Tables live in the first 16 MiB of physical memory (or all of it).
const ARENA_END: u64 = 16 << 20;

const R: Perms = Perms::READ;
const W: Perms = Perms::WRITE;
const X: Perms = Perms::EXEC_USER.union(Perms::EXEC_SUPER);
const U: Perms = Perms::USER;

/// A [`TableAllocator`] that records which tables are out, so the test can
/// check that everything handed out comes back exactly once.
struct Tracking {
    arena: TableArena,
    live: BTreeMap<u64, u64>,
}

impl TableAllocator for Tracking {
    fn alloc_table(&mut self, bytes: u64) -> Option<u64> {
        let addr = self.arena.alloc_table(bytes)?;
        assert!(
            self.live.insert(addr, bytes).is_none(),
            "table {addr:#x} handed out twice"
        );
        Some(addr)
    }

    fn free_table(&mut self, addr: u64, bytes: u64) {
        assert_eq!(
            self.live.remove(&addr),
            Some(bytes),
            "table {addr:#x} freed but not allocated with {bytes} bytes"
        );
        self.arena.free_table(addr, bytes);
    }
}

/// One page the model holds.
#[derive(Clone, Copy, Debug)]
struct Page {
    shift: u8,
    frame: u64,
    perms: Perms,
}

/// The reference model: first virtual address of each page to its page.
type Model = BTreeMap<u64, Page>;

/// The page of `model` containing `va`, if any.
fn lookup(model: &Model, va: u64) -> Option<(u64, Page)> {
    let (&start, &page) = model.range(..=va).next_back()?;
    (va - start < 1u64 << page.shift).then_some((start, page))
}

/// The virtual address with bits `raw` below `va_bits`, made canonical:
/// sign-extended from the top bit where the scheme sign-extends.
fn canonical_va(arch: &Arch, raw: u64) -> u64 {
    let bits = u32::from(arch.va_bits());
    let low = raw & ((1u64 << bits) - 1);
    match arch.spec().canonical {
        Canonical::SignExtend if low >> (bits - 1) & 1 == 1 => low | !((1u64 << bits) - 1),
        _ => low,
    }
}

/// Rights to try for a page, most to least; the first the format can
/// express is used. Every set includes U so user mode may read.
const PERM_CHOICES: [Perms; 4] = [
    R.union(U),
    R.union(W).union(U),
    R.union(X).union(U),
    R.union(W).union(X).union(U),
];

/// The rights user mode sees (supervisor execute is left out: AArch64
/// withdraws it from EL0-writable pages once they are written).
const USER_VIEW: Perms = R.union(W).union(U).union(Perms::EXEC_USER);

/// Rights a scheme's entry has no bit for, so every page has them: x86-32
/// without PAE has no XD (SDM table 4-6); OSTEP's entries hold only a valid
/// bit and a frame number.
fn always_granted(name: &str) -> Perms {
    match name {
        "x86-32" => X,
        "ostep" => R | W | X | U,
        _ => Perms::empty(),
    }
}

/// Whether user mode may do `kind` under rights `p`, by the plain meaning
/// of the letters (no scheme quirks arise for user-accessible pages).
fn allowed(p: Perms, kind: AccessKind) -> bool {
    match kind {
        AccessKind::Read => p.contains(R),
        AccessKind::Write => p.contains(W),
        AccessKind::Fetch => p.contains(Perms::EXEC_USER),
    }
}

/// The random choices of one case: pages to map and addresses to probe.
#[derive(Clone, Debug)]
struct Case {
    /// (virtual bits, frame bits, page-size choice, rights choice).
    pages: Vec<(u64, u64, usize, usize)>,
    /// (page choice, offset bits, kind choice) probes inside mapped pages.
    inside: Vec<(usize, u64, usize)>,
    /// Arbitrary 64-bit addresses.
    anywhere: Vec<u64>,
    /// Unmap order key.
    order: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((any::<u64>(), any::<u64>(), 0..8usize, 0..4usize), 1..16),
        prop::collection::vec((any::<usize>(), any::<u64>(), 0..3usize), 1..32),
        prop::collection::vec(any::<u64>(), 0..32),
        any::<u64>(),
    )
        .prop_map(|(pages, inside, anywhere, order)| Case {
            pages,
            inside,
            anywhere,
            order,
        })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128)
}

const KINDS: [AccessKind; 3] = [AccessKind::Read, AccessKind::Write, AccessKind::Fetch];

/// Checks every address of `case` against `model`.
fn check_all(
    arch: &Arch,
    mem: &mut PhysMem,
    pt: &PageTable,
    model: &Model,
    case: &Case,
) -> Result<(), TestCaseError> {
    let starts: Vec<u64> = model.keys().copied().collect();
    let mut probes: Vec<(u64, AccessKind)> = Vec::new();
    if !starts.is_empty() {
        for &(pick, offset, kind) in &case.inside {
            let start = starts[pick % starts.len()];
            let page = model[&start];
            probes.push((start + (offset & ((1u64 << page.shift) - 1)), KINDS[kind]));
        }
    }
    for &raw in &case.anywhere {
        // Half the time inside the scheme's range, half anywhere at all.
        let va = if raw & 1 == 0 {
            canonical_va(arch, raw >> 1)
        } else {
            raw
        };
        probes.push((va, AccessKind::Read));
    }
    for (va, kind) in probes {
        let got = walk(arch, mem, pt.root(), va, kind, Mode::User, &mut NoEvents);
        let want_canonical = va == canonical_va(arch, va);
        match (lookup(model, va), got) {
            (Some((start, page)), Ok(t)) => {
                prop_assert!(
                    allowed(page.perms, kind),
                    "{va:#x} {kind} allowed under {}",
                    page.perms
                );
                prop_assert_eq!(t.page_shift, page.shift, "{:#x}", va);
                prop_assert_eq!(t.frame, page.frame, "{:#x}", va);
                prop_assert_eq!(t.paddr, page.frame + (va - start), "{:#x}", va);
                prop_assert_eq!(
                    Some(t.level),
                    arch.level_for_page_shift(page.shift),
                    "{:#x}",
                    va
                );
                prop_assert_eq!(t.perms & USER_VIEW, page.perms & USER_VIEW, "{:#x}", va);
            }
            (Some((_, page)), Err(f)) => {
                prop_assert!(
                    !allowed(page.perms, kind),
                    "{va:#x} {kind} under {}: {f}",
                    page.perms
                );
                prop_assert_eq!(f.cause, PageFaultCause::Protection, "{:#x}", va);
                prop_assert_eq!(
                    Some(f.level),
                    arch.level_for_page_shift(page.shift),
                    "{:#x}",
                    va
                );
            }
            (None, Ok(t)) => {
                return Err(TestCaseError::fail(format!(
                    "{va:#x} is unmapped but translated to {:#x}",
                    t.paddr
                )))
            }
            (None, Err(f)) => {
                let cause = if want_canonical {
                    PageFaultCause::NotPresent
                } else {
                    PageFaultCause::NonCanonical
                };
                prop_assert_eq!(f.cause, cause, "{:#x}", va);
            }
        }
        // Look-ahead reads the same tables without a walk: the table the
        // walk read its leaf entry from.
        if let Ok(t) = &got {
            let last = arch.levels().len() - 1;
            let entry = leaf_table(arch, mem, pt.root(), va)
                .map(|table| table + arch.index(va, last) * u64::from(arch.pte().bytes));
            let want = (t.level == last).then_some(t.pte_addr);
            prop_assert_eq!(entry, want, "leaf entry of {:#x}", va);
        }
        let q = pt.query(arch, mem, va);
        match (lookup(model, va), q) {
            (Some((start, page)), Ok(Some(m))) => {
                prop_assert_eq!(
                    (m.vaddr, m.frame, m.page_shift),
                    (start, page.frame, page.shift)
                );
            }
            (None, Ok(None)) => {}
            (None, Err(_)) if !want_canonical => {}
            (want, got) => {
                return Err(TestCaseError::fail(format!(
                    "query {va:#x}: model {want:?}, tables {got:?}"
                )))
            }
        }
    }
    Ok(())
}

fn run_case(name: &str, case: &Case) -> Result<(), TestCaseError> {
    let arch = by_name(name).unwrap().unwrap();
    let pa_bits = u32::from(arch.pa_bits());
    let mem_size = (1u64 << pa_bits).min(MAX_PHYS_BYTES);
    let mut mem = PhysMem::new(mem_size, Endian::Little).unwrap();
    let mut alloc = Tracking {
        arena: TableArena::new(0, mem_size.min(ARENA_END), arch.page_bytes()),
        live: BTreeMap::new(),
    };
    let mut pt = PageTable::new(&arch, &mut mem, &mut alloc).unwrap();
    let root = pt.root();
    let root_bytes = arch.table_alloc_bytes(0);
    prop_assert_eq!(
        alloc.live.iter().collect::<Vec<_>>(),
        vec![(&root, &root_bytes)]
    );

    let sizes = arch.page_sizes();
    let mut model = Model::new();
    for &(va_raw, frame_raw, size, perm) in &case.pages {
        let (shift, _) = sizes[size % sizes.len()];
        let mask = (1u64 << shift) - 1;
        let va = canonical_va(&arch, va_raw) & !mask;
        let frame = (frame_raw & ((1u64 << pa_bits) - 1)) & !mask;
        // Distinct pages: skip one overlapping a page already mapped.
        let last = va + mask;
        if model
            .range(..=last)
            .next_back()
            .is_some_and(|(&s, p)| s + ((1u64 << p.shift) - 1) >= va)
        {
            continue;
        }
        // The first rights the format can express, from the chosen one on.
        let Some((perms, leaf)) = (0..PERM_CHOICES.len()).find_map(|i| {
            let perms = PERM_CHOICES[(perm + i) % PERM_CHOICES.len()] | always_granted(name);
            let last = arch.level_for_page_shift(shift) == Some(arch.levels().len() - 1);
            arch.pte()
                .encode_leaf(frame, arch.page_shift(), last, &LeafAttrs::new(perms))
                .ok()
                .map(|raw| (perms, raw))
        }) else {
            return Err(TestCaseError::fail(format!(
                "{name}: no rights choice is encodable"
            )));
        };
        let replaced = pt
            .map(
                &arch,
                &mut mem,
                &mut alloc,
                va,
                frame,
                shift,
                LeafAttrs::new(perms),
            )
            .map_err(|e| TestCaseError::fail(format!("map {va:#x} -> {frame:#x}: {e}")))?;
        prop_assert!(replaced.replaced.is_none());
        let m = pt.query(&arch, &mem, va).unwrap().unwrap();
        prop_assert_eq!(m.raw, leaf, "leaf entry for {:#x}", va);
        prop_assert_eq!(m.perms & USER_VIEW, perms & USER_VIEW, "{:#x}", va);
        model.insert(
            va,
            Page {
                shift,
                frame,
                perms,
            },
        );
        prop_assert_eq!(pt.tables(), alloc.live.len() as u64);
        prop_assert_eq!(pt.table_bytes(), alloc.live.values().sum::<u64>());
    }
    check_all(&arch, &mut mem, &pt, &model, case)?;

    // Unmap in an order keyed by the case, checking as pages go.
    let mut order: Vec<u64> = model.keys().copied().collect();
    order.sort_by_key(|va| (va ^ case.order).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for va in order {
        let page = model.remove(&va).unwrap();
        let old = pt
            .unmap(&arch, &mut mem, &mut alloc, va)
            .map_err(|e| TestCaseError::fail(format!("unmap {va:#x}: {e}")))?
            .ok_or_else(|| TestCaseError::fail(format!("unmap {va:#x}: nothing mapped")))?;
        prop_assert_eq!(
            (old.vaddr, old.frame, old.page_shift),
            (va, page.frame, page.shift)
        );
        let f = walk(
            &arch,
            &mut mem,
            root,
            va,
            AccessKind::Read,
            Mode::User,
            &mut NoEvents,
        )
        .unwrap_err();
        prop_assert_eq!(f.cause, PageFaultCause::NotPresent);
        prop_assert!(pt.unmap(&arch, &mut mem, &mut alloc, va).unwrap().is_none());
        prop_assert_eq!(pt.tables(), alloc.live.len() as u64);
    }
    check_all(&arch, &mut mem, &pt, &model, case)?;
    prop_assert_eq!(pt.tables(), 1);
    prop_assert_eq!(pt.table_bytes(), root_bytes);
    prop_assert_eq!(
        alloc.live.into_iter().collect::<Vec<_>>(),
        vec![(root, root_bytes)]
    );
    // The root itself is all zeros again.
    let bytes = usize::from(arch.pte().bytes);
    for i in 0..(1u64 << arch.levels()[0].index_bits) {
        prop_assert_eq!(mem.load(root + i * bytes as u64, bytes).unwrap(), 0);
    }
    Ok(())
}

fn run(name: &str) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&case(), |c| run_case(name, &c)) {
        panic!("{name}: {e}");
    }
}

#[test]
fn walk_agrees_with_a_map_on_every_preset() {
    // Each scheme gets its own runner so a failure names the scheme.
    for name in NAMES.iter().chain(LINEAR) {
        run(name);
    }
}
