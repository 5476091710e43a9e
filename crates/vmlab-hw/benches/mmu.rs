//! MMU throughput: the TLB-hit path (target 100 M accesses/s on one core,
//! x86-64 with a 64-entry 4-way L1 dTLB), the full 4-level walk on a TLB
//! miss (target 20 M walks/s), and the price of the event stream: the same
//! hit path with no listener, and with a listener that is enabled but
//! throws every event away.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vmlab_hw::arch::presets;
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::tlb::{TlbArrayConfig, TlbConfig, TlbKind, TlbLevelConfig, TlbReplacement};
use vmlab_hw::{
    AccessKind, Context, Event, EventSink, Mmu, Mode, NoEvents, PageTable, Perms, PhysMem,
    TableArena,
};

/// Accesses per measured iteration.
const BATCH: u64 = 4096;

/// A listener that wants events and drops them: what the hot path would
/// pay if building events were not compiled away.
struct DiscardEvents(u64);

impl EventSink for DiscardEvents {
    fn event(&mut self, event: Event) {
        self.0 += black_box(matches!(event, Event::Translated { .. })) as u64;
    }
}

struct Machine {
    mem: PhysMem,
    mmu: Mmu,
    ctx: Context,
}

/// x86-64 with `pages` 4 KiB pages mapped from 0x400000, `stride` pages
/// apart, and a TLB of `tlb`.
fn machine(pages: u64, stride: u64, tlb: TlbConfig) -> Machine {
    let arch = presets::by_name("x86-64")
        .and_then(Result::ok)
        .expect("preset");
    let mut mem = PhysMem::new(1 << 40, arch.endian()).expect("memory");
    let mut arena = TableArena::new(1 << 30, 1 << 34, 4096);
    let mut pt = PageTable::new(&arch, &mut mem, &mut arena).expect("root");
    let attrs = LeafAttrs {
        accessed: true,
        dirty: true,
        ..LeafAttrs::new(Perms::READ | Perms::WRITE | Perms::USER)
    };
    for i in 0..pages {
        let va = 0x40_0000 + i * stride * 4096;
        pt.map(&arch, &mut mem, &mut arena, va, (i + 1) << 12, 12, attrs)
            .expect("map");
    }
    let ctx = Context {
        root: pt.root(),
        asid: 1,
    };
    let mmu = Mmu::new(arch, &tlb).expect("tlb");
    Machine { mem, mmu, ctx }
}

/// A 64-entry 4-way LRU L1 dTLB beside a 64-entry L1 iTLB (which the read
/// benchmark never probes).
fn l1_dtlb_64() -> TlbConfig {
    let level = |name: &str, kind| TlbLevelConfig {
        name: name.into(),
        kind,
        level: 1,
        arrays: vec![TlbArrayConfig {
            entries: 64,
            ways: 4,
            page_shifts: vec![12],
            replacement: TlbReplacement::Lru,
        }],
    };
    TlbConfig {
        levels: vec![
            level("L1d", TlbKind::Data),
            level("L1i", TlbKind::Instruction),
        ],
    }
}

/// Addresses sweeping `pages` mapped pages `stride` pages apart in 64-byte
/// steps (an array traversal: 64 accesses per page, then the next page).
fn sweep(pages: u64, stride: u64, n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let byte = i * 64;
            0x40_0000 + (byte / 4096 % pages) * stride * 4096 + byte % 4096
        })
        .collect()
}

/// Addresses cycling through `pages` mapped pages `stride` pages apart,
/// in a random order with varying offsets.
fn addresses(pages: u64, stride: u64, n: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            0x40_0000 + (x % pages) * stride * 4096 + (x >> 40) % 4096
        })
        .collect()
}

fn run<S: EventSink>(m: &mut Machine, addrs: &[u64], sink: &mut S) -> u64 {
    let mut sum = 0;
    for &va in addrs {
        if let Ok(a) = m
            .mmu
            .access(&mut m.mem, m.ctx, va, AccessKind::Read, Mode::User, sink)
        {
            sum += a.paddr;
        }
    }
    sum
}

fn tlb_hit(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlb_hit");
    group.throughput(Throughput::Elements(BATCH));
    // 48 pages fit the 64-entry, 4-way L1 dTLB with room to spare; a
    // stride of 513 pages spreads them over the sets. "sweep" walks through
    // them in order (consecutive accesses share a page, as in an array
    // traversal); "random" jumps to a random page every time, so the set
    // search mispredicts.
    for (name, addrs) in [
        ("sweep", sweep(48, 513, BATCH)),
        ("random", addresses(48, 513, BATCH)),
    ] {
        let mut m = machine(48, 513, l1_dtlb_64());
        run(&mut m, &addrs, &mut NoEvents);
        m.mmu.tlb_mut().reset_counters();
        group.bench_function(BenchmarkId::new(name, "no_listener"), |b| {
            b.iter(|| run(&mut m, black_box(&addrs), &mut NoEvents))
        });
        let mut sink = DiscardEvents(0);
        group.bench_function(BenchmarkId::new(name, "discarding_listener"), |b| {
            b.iter(|| run(&mut m, black_box(&addrs), &mut sink))
        });
        let l1d = m.mmu.tlb().counters()[0];
        assert_eq!(
            l1d.hits, l1d.probes,
            "after warm-up every access must hit the L1 dTLB"
        );
    }
    group.finish();
}

fn walk(c: &mut Criterion) {
    let mut group = c.benchmark_group("walk");
    group.throughput(Throughput::Elements(BATCH));
    // No TLB: every access is a full 4-level walk. "dense": 4096 adjacent
    // pages, whose 8 page tables stay in the host's caches, so the figure is
    // the walker's own cost. "scattered": one page per page table, 4096
    // tables, so most entry reads also miss the host's caches.
    for (name, stride) in [("dense", 1), ("scattered", 513)] {
        let mut m = machine(4096, stride, TlbConfig::none());
        let addrs = addresses(4096, stride, BATCH);
        group.bench_function(BenchmarkId::new("x86-64_4level", name), |b| {
            b.iter(|| run(&mut m, black_box(&addrs), &mut NoEvents))
        });
        assert_eq!(m.mmu.counters().page_faults, 0);
    }
    group.finish();
}

criterion_group!(benches, tlb_hit, walk);
criterion_main!(benches);
