//! The MMU's repeated-access registers ([`Mmu::repeat_hit`]) change
//! nothing but speed: a machine that tries them before every access and one
//! that only ever calls [`Mmu::access`] run the same random operations
//! (accesses of every kind to mapped and unmapped pages, in two address
//! spaces and both modes, with page, ASID and whole flushes, single-entry
//! invalidations and write-protection of entries in between) and must agree
//! on every physical address or fault, every counter and every TLB entry,
//! on split, unified and L1-less TLB shapes.
//!
//! `PROPTEST_CASES` raises the number of cases (default 64 per shape).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vmlab_hw::arch::presets::by_name;
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{
    AccessKind, Arch, Context, Endian, Mmu, Mode, PageTable, Perms, PhysMem, TableArena,
};

const MEM: u64 = 16 << 20;
/// Pages the operations name: mapped ones with various rights, and two
/// holes. Several share a TLB set in small configurations.
const PAGES: [u64; 10] = [
    0x40_0000,
    0x40_1000,
    0x40_2000,
    0x41_0000,
    0x50_0000,
    0x50_4000,
    0x7fff_f000,
    0x60_0000,
    0x61_0000,
    0x40_8000,
];
/// How many of [`PAGES`] are mapped (the rest are holes).
const MAPPED: usize = 8;

#[derive(Clone, Debug)]
enum Op {
    /// `times` accesses in a row (runs on one page are what the
    /// registers serve).
    Access {
        page: usize,
        offset: u64,
        kind: AccessKind,
        supervisor: bool,
        asid: u16,
        times: usize,
    },
    FlushAll,
    FlushPage(usize),
    FlushAsid(u16),
    /// Invalidates the `n`th valid entry of level `level`, if any.
    Invalidate {
        level: usize,
        n: usize,
    },
    /// Clears the writable right of a page's entry in memory (a kernel
    /// write-protecting it) without telling the TLB, as a buggy or lazy
    /// kernel would: both machines must keep the same stale entry.
    WriteProtect(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        Just(AccessKind::Read),
        Just(AccessKind::Write),
        Just(AccessKind::Fetch)
    ];
    prop_oneof![
        8 => (
            0..PAGES.len(),
            0..4096u64,
            kind,
            prop::bool::weighted(0.1),
            0..2u16,
            1..5usize
        )
            .prop_map(|(page, offset, kind, supervisor, asid, times)| Op::Access {
                page,
                offset,
                kind,
                supervisor,
                asid,
                times,
            }),
        1 => Just(Op::FlushAll),
        1 => (0..PAGES.len()).prop_map(Op::FlushPage),
        1 => (0..2u16).prop_map(Op::FlushAsid),
        1 => (0..3usize, 0..8usize).prop_map(|(level, n)| Op::Invalidate { level, n }),
        1 => (0..MAPPED).prop_map(Op::WriteProtect),
    ]
}

/// Rights of mapped page `i`: a mix of writable, read-only, executable.
fn perms(i: usize) -> Perms {
    let user = Perms::USER | Perms::READ;
    match i % 4 {
        0 => user | Perms::WRITE,
        1 => user,
        2 => user | Perms::EXEC_USER | Perms::EXEC_SUPER,
        _ => user | Perms::WRITE | Perms::EXEC_USER | Perms::EXEC_SUPER,
    }
}

/// The frame `Machine::new` maps the page of `va` to, if mapped.
fn frame_of(va: u64) -> Option<u64> {
    let i = PAGES[..MAPPED].iter().position(|&p| p == va & !0xfff)?;
    Some((2 << 20) + 0x1000 * i as u64)
}

struct Machine {
    arch: Arch,
    mem: PhysMem,
    mmu: Mmu,
    table: PageTable,
    alloc: TableArena,
}

impl Machine {
    fn new(tlb: &TlbConfig) -> Machine {
        let arch = by_name("x86-64").unwrap().unwrap();
        let mut mem = PhysMem::new(MEM, Endian::Little).unwrap();
        let mut alloc = TableArena::new(0, 1 << 20, arch.page_bytes());
        let mut table = PageTable::new(&arch, &mut mem, &mut alloc).unwrap();
        for (i, &va) in PAGES[..MAPPED].iter().enumerate() {
            let frame = (2 << 20) + 0x1000 * i as u64;
            let attrs = LeafAttrs::new(perms(i));
            table
                .map(&arch, &mut mem, &mut alloc, va, frame, 12, attrs)
                .unwrap();
        }
        let mmu = Mmu::new(arch.clone(), tlb).unwrap();
        Machine {
            arch,
            mem,
            mmu,
            table,
            alloc,
        }
    }

    /// Applies `op` once (an access `times` is repeated by the caller); an
    /// access tries the registers first when `fast`. Returns what an access
    /// gave (physical address or fault).
    fn apply(&mut self, op: &Op, fast: bool) -> Option<Result<u64, String>> {
        match *op {
            Op::Access {
                page,
                offset,
                kind,
                supervisor,
                asid,
                ..
            } => {
                let ctx = Context {
                    root: self.table.root(),
                    asid,
                };
                let mode = if supervisor {
                    Mode::Supervisor
                } else {
                    Mode::User
                };
                let va = PAGES[page] + offset;
                if fast {
                    if let Some(paddr) = self.mmu.repeat_hit(ctx, va, kind, mode) {
                        return Some(Ok(paddr));
                    }
                }
                let mut sink = vmlab_hw::NoEvents;
                Some(
                    self.mmu
                        .access(&mut self.mem, ctx, va, kind, mode, &mut sink)
                        .map(|a| a.paddr)
                        .map_err(|f| f.to_string()),
                )
            }
            Op::FlushAll => {
                self.mmu.tlb_mut().flush_all();
                None
            }
            Op::FlushPage(page) => {
                self.mmu.tlb_mut().flush_page(PAGES[page], None);
                None
            }
            Op::FlushAsid(asid) => {
                self.mmu.tlb_mut().flush_asid(asid);
                None
            }
            Op::Invalidate { level, n } => {
                let slot = self.mmu.tlb().entries(level).nth(n).map(|(slot, _)| slot);
                if let Some(slot) = slot {
                    self.mmu.tlb_mut().invalidate(slot);
                }
                None
            }
            Op::WriteProtect(page) => {
                let va = PAGES[page];
                let m = self
                    .table
                    .query(&self.arch, &self.mem, va)
                    .unwrap()
                    .unwrap();
                let attrs = LeafAttrs::new(m.perms - Perms::WRITE);
                self.table
                    .map(
                        &self.arch,
                        &mut self.mem,
                        &mut self.alloc,
                        va,
                        m.frame,
                        12,
                        attrs,
                    )
                    .unwrap();
                None
            }
        }
    }

    fn tlb_state(&self) -> Vec<Vec<String>> {
        let levels = self.mmu.tlb().config().levels.len();
        (0..levels)
            .map(|l| {
                self.mmu
                    .tlb()
                    .entries(l)
                    .map(|(slot, e)| format!("{slot:?} {e:?}"))
                    .collect()
            })
            .collect()
    }
}

fn run_case(tlb: &TlbConfig, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut fast = Machine::new(tlb);
    let mut plain = Machine::new(tlb);
    for (i, op) in ops.iter().enumerate() {
        let times = match op {
            Op::Access { times, .. } => *times,
            _ => 1,
        };
        for _ in 0..times {
            let got = fast.apply(op, true);
            let want = plain.apply(op, false);
            prop_assert_eq!(got, want, "op {} {:?}", i, op);
        }
        prop_assert_eq!(
            fast.mmu.counters(),
            plain.mmu.counters(),
            "op {} {:?}",
            i,
            op
        );
        prop_assert_eq!(
            fast.mmu.tlb().counters(),
            plain.mmu.tlb().counters(),
            "op {} {:?}",
            i,
            op
        );
        prop_assert_eq!(fast.tlb_state(), plain.tlb_state(), "op {} {:?}", i, op);
    }
    Ok(())
}

/// The accesses of a group of consecutive access ops in one address space
/// and mode, `times` each: what [`Mmu::repeat_run`] is given at once.
struct Group {
    asid: u16,
    supervisor: bool,
    /// Address and kind of each access, in order.
    accesses: Vec<(u64, AccessKind)>,
}

/// Splits `ops` into groups of accesses and the other ops between them.
fn groups(ops: &[Op]) -> Vec<Result<Group, Op>> {
    let mut out: Vec<Result<Group, Op>> = Vec::new();
    for op in ops {
        let Op::Access {
            page,
            offset,
            kind,
            supervisor,
            asid,
            times,
        } = *op
        else {
            out.push(Err(op.clone()));
            continue;
        };
        let access = (PAGES[page] + offset, kind);
        match out.last_mut() {
            Some(Ok(g)) if g.asid == asid && g.supervisor == supervisor => {
                g.accesses.extend(std::iter::repeat_n(access, times));
            }
            _ => out.push(Ok(Group {
                asid,
                supervisor,
                accesses: vec![access; times],
            })),
        }
    }
    out
}

/// One machine takes each group of accesses as runs ([`Mmu::repeat_run`])
/// where the registers grant them and one full access where not; the
/// other takes every access the full way. Counters and TLB contents must
/// agree after every group, and the runs must say which pages they
/// touched, in the order of their last access.
fn run_case_in_runs(tlb: &TlbConfig, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut runs = Machine::new(tlb);
    let mut plain = Machine::new(tlb);
    for group in groups(ops) {
        let g = match group {
            Ok(g) => g,
            Err(op) => {
                runs.apply(&op, false);
                plain.apply(&op, false);
                continue;
            }
        };
        let ctx = Context {
            root: runs.table.root(),
            asid: g.asid,
        };
        let mode = if g.supervisor {
            Mode::Supervisor
        } else {
            Mode::User
        };
        let mut rest = &g.accesses[..];
        while let Some((&(va, kind), tail)) = rest.split_first() {
            let run = runs.mmu.repeat_run(ctx, mode, 12, rest, |&a| Some(a));
            let taken = run.accesses() as usize;
            if taken == 0 {
                let mut sink = vmlab_hw::NoEvents;
                let _ = runs
                    .mmu
                    .access(&mut runs.mem, ctx, va, kind, mode, &mut sink);
                rest = tail;
                continue;
            }
            // The pages touched: each distinct physical page of the run,
            // ordered by its last access.
            let mut want: Vec<u64> = Vec::new();
            for &(va, _) in &rest[..taken] {
                let frame = frame_of(va).ok_or_else(|| TestCaseError::fail("a run took a hole"))?;
                want.retain(|&p| p != frame);
                want.push(frame);
            }
            let got: Vec<u64> = run.pages_touched().collect();
            let mut got_distinct = got.clone();
            got_distinct.dedup();
            prop_assert_eq!(got_distinct, want);
            rest = &rest[taken..];
        }
        for &(va, kind) in &g.accesses {
            let mut sink = vmlab_hw::NoEvents;
            let _ = plain
                .mmu
                .access(&mut plain.mem, ctx, va, kind, mode, &mut sink);
        }
        prop_assert_eq!(runs.mmu.counters(), plain.mmu.counters());
        prop_assert_eq!(runs.mmu.tlb().counters(), plain.mmu.tlb().counters());
        prop_assert_eq!(runs.tlb_state(), plain.tlb_state());
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

/// TLB shapes the agreement tests run on.
const SHAPES: [&str; 4] = [
    // Split L1s and a unified L2, as a current x86-64 core.
    "l1d:8:2,l1i:4:2,l2:32:4",
    // One unified L1: fetches and data share its entries.
    "8:2,32:4",
    // Tiny, direct-mapped and FIFO, where every fill evicts.
    "l1d:2:1:fifo,l1i:2:1,l2:4:2:plru",
    // No TLB: nothing to repeat.
    "none",
];

/// Runs `case` on random operation lists for every TLB shape.
fn on_every_shape(case: fn(&TlbConfig, &[Op]) -> Result<(), TestCaseError>) {
    for spec in SHAPES {
        let tlb = TlbConfig::parse_spec(spec, 12).unwrap();
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            ..Config::default()
        });
        let result = runner.run(&prop::collection::vec(op(), 1..200), |ops| case(&tlb, &ops));
        if let Err(e) = result {
            panic!("TLB {spec}: {e}");
        }
    }
}

#[test]
fn repeat_registers_agree_with_the_full_access_path() {
    on_every_shape(run_case);
}

#[test]
fn runs_through_the_registers_agree_with_the_full_access_path() {
    on_every_shape(run_case_in_runs);
}

/// Without the registers' emptying on a flush, a page flushed from the TLB
/// would still translate through its stale register: the flush must send
/// the next access back to the tables (a walk).
#[test]
fn a_flush_empties_the_registers() {
    let tlb = TlbConfig::parse_spec("l1d:8:2,l1i:4:2", 12).unwrap();
    let mut m = Machine::new(&tlb);
    let read = |page| Op::Access {
        page,
        offset: 8,
        kind: AccessKind::Read,
        supervisor: false,
        asid: 0,
        times: 1,
    };
    for _ in 0..3 {
        m.apply(&read(0), true);
    }
    let walks = m.mmu.counters().walks;
    m.apply(&Op::FlushPage(0), true);
    m.apply(&read(0), true);
    assert_eq!(m.mmu.counters().walks, walks + 1);
}

/// A unified first level: a fetch of another page in the same set renews
/// that page, so the data register for the first page must go, or the next
/// load of it would skip renewing it and a later fill would evict the
/// wrong entry.
#[test]
fn a_fetch_through_a_unified_level_empties_the_data_register() {
    let tlb = TlbConfig::parse_spec("4:2", 12).unwrap();
    let access = |page, kind| Op::Access {
        page,
        offset: 0,
        kind,
        supervisor: false,
        asid: 0,
        times: 1,
    };
    // Pages 0 (data) and 3 (executable) share set 0 of 2; page 4 is a
    // third page of that set.
    // The third load of page 0 is the first its register serves (the
    // first fills the entry, the second renews it).
    let ops = [
        access(0, AccessKind::Read),
        access(0, AccessKind::Read),
        access(0, AccessKind::Read),
        access(3, AccessKind::Fetch),
        access(3, AccessKind::Fetch),
        access(0, AccessKind::Read),
        access(4, AccessKind::Read),
        access(0, AccessKind::Read),
    ];
    let mut fast = Machine::new(&tlb);
    let mut plain = Machine::new(&tlb);
    for op in &ops {
        assert_eq!(fast.apply(op, true), plain.apply(op, false), "{op:?}");
    }
    assert_eq!(fast.tlb_state(), plain.tlb_state());
    assert_eq!(fast.mmu.counters(), plain.mmu.counters());
    // Page 0 was used after page 3, so the fill of page 4 evicted page 3.
    assert_eq!(plain.mmu.counters().walks, 3);
    assert_eq!(fast.mmu.counters().walks, 3);
}
