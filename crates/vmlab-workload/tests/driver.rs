//! The driver's two models agree: the same generated stream run through the
//! whole machine in trace mode faults exactly as often as the replacement-
//! only model predicts for the frames left to user pages (those not
//! holding the zero page or page tables), for list-ordered policies, on
//! every real translation scheme.
#![allow(clippy::unwrap_used)]

mod common;

use vmlab_hw::arch::presets;
use vmlab_workload::driver::{run, Machine, Model, RunReport};
use vmlab_workload::gen::GenSpec;

fn machine(policy: &str, frames: usize) -> Machine {
    machine_on("x86-64", policy, frames)
}

fn machine_on(arch: &str, policy: &str, frames: usize) -> Machine {
    Machine {
        arch: presets::by_name(arch).unwrap().unwrap(),
        frames,
        policy: policy.into(),
        tlb: None,
        future: None,
    }
}

fn stream(
    spec: &str,
) -> impl Iterator<Item = Result<vmlab_workload::op::MemRef, vmlab_workload::trace::TraceError>> {
    spec.parse::<GenSpec>().unwrap().stream().map(Ok)
}

/// The frames of a full-model run on `frames` of `page_bytes` left to
/// user pages: all but the zero page and the page tables.
fn user_frames(full: &RunReport, frames: usize, page_bytes: u64) -> usize {
    frames - 1 - (full.page_table_bytes.unwrap() / page_bytes) as usize
}

#[test]
fn full_and_replacement_models_agree() {
    // Zipf scatters references; a matrix multiply interleaves runs on the
    // pages of three arrays, which the kernel's touch memo (a repeat of the
    // last touch skipped) must not change.
    for spec in [
        "zipf:pages=300,alpha=0.8,n=20000,seed=7",
        "matmul:dim=40,elem=512,n=60000",
    ] {
        models_agree(spec);
    }
}

/// The same agreement on every real translation scheme: tables of two to
/// five levels, 4 to 64 KiB pages, entries of 4 and 8 bytes, accessed and
/// dirty flags set by the walker or (RISC-V) by the fault handler. Each
/// scheme's page tables take frames of its own page size, and a fault the
/// handler takes only to set a flag is no page brought in.
#[test]
fn full_and_replacement_models_agree_on_every_scheme() {
    for arch in common::processor_schemes() {
        let page_bytes = presets::by_name(arch).unwrap().unwrap().page_bytes();
        // Pages of the scheme's size, written to now and then, so dirty
        // pages go to swap and come back.
        let spec = format!("zipf:pages=300,alpha=0.8,n=20000,seed=7,page={page_bytes},write=0.3");
        // With parameters too: the kernel ticks at the spec's interval.
        for policy in [
            "lru",
            "fifo",
            "lfu",
            "sieve",
            "aging",
            "nfu",
            "nru",
            "aging:bits=2:tick=300",
            "nru:seed=9:tick=70",
        ] {
            let full = run(stream(&spec), &machine_on(arch, policy, 64), Model::Full).unwrap();
            let user_frames = user_frames(&full, 64, page_bytes);
            let repl = run(
                stream(&spec),
                &machine_on(arch, policy, user_frames),
                Model::Replacement,
            )
            .unwrap();
            let at = format!("{arch} {policy} with {user_frames} user frames");
            assert_eq!(full.distinct_pages, 300, "{at}");
            assert_eq!(full.references, repl.references, "{at}");
            assert_eq!(full.faults, repl.faults, "{at}");
            assert_eq!(full.evictions, repl.evictions, "{at}");
            assert_eq!(full.write_backs, repl.write_backs, "{at}");
            assert!(full.write_backs > 0, "{at}");
        }
    }
}

fn models_agree(spec: &str) {
    for policy in ["lru", "fifo", "lfu", "sieve"] {
        let full = run(stream(spec), &machine(policy, 64), Model::Full).unwrap();
        let user_frames = user_frames(&full, 64, 4096);
        let repl = run(
            stream(spec),
            &machine(policy, user_frames),
            Model::Replacement,
        )
        .unwrap();
        assert_eq!(full.references, repl.references, "{spec} {policy}");
        assert_eq!(full.distinct_pages, repl.distinct_pages, "{spec} {policy}");
        assert_eq!(
            full.faults, repl.faults,
            "{spec} {policy} with {user_frames} user frames"
        );
        assert!(full.tlb_hits.unwrap() > 0);
    }
}

/// A program fetching from its one code page between loads from ten data
/// pages, all resident, then loading new pages until five of the ten must
/// go: under LRU the code page is the most recently used throughout, so it
/// stays, and its last fetch hits (faults: the code page, the ten, the
/// new). Its fetches between loads reach the kernel as runs through the
/// MMU's fetch register (`Kernel::access_run`); were a run's touch lost,
/// LRU would take the code page for unused since its first fetch and
/// evict it first.
#[test]
fn touches_of_register_runs_reach_the_policy() {
    use vmlab_workload::op::MemRef;
    let data = |i: u64| MemRef::read(0x1000_0000 + i * 4096, 8);
    let code = |i: u64| MemRef::fetch(0x40_0000 + (i % 64) * 16, 4);
    let trace = |new: u64| {
        let mut refs = vec![code(0)];
        for i in 0..2000 {
            refs.push(data(i % 10));
            refs.push(code(i));
        }
        refs.extend((10..10 + new).map(data));
        refs.push(code(0));
        refs.into_iter().map(Ok)
    };
    let lru = machine("lru", 64);
    let probe = run(trace(1), &lru, Model::Full).unwrap();
    let user_frames = user_frames(&probe, 64, 4096);
    let new = (user_frames - 11 + 5) as u64;
    let full = run(trace(new), &lru, Model::Full).unwrap();
    let repl = run(trace(new), &machine("lru", user_frames), Model::Replacement).unwrap();
    assert_eq!(full.faults, 11 + new);
    assert_eq!(repl.faults, 11 + new);
}

/// Runs of accesses to one page cross the clock ticks of aging and NFU
/// (every 1000 references; runs of 37): the whole machine takes a run
/// through the MMU's repeat registers in one step, which must stop at the
/// tick, as the tick clears the accessed flag the run hits through. Were a
/// tick late, the pages' counters, and so the faults, would differ from
/// the replacement model's, which ticks before reference 1000, 2000, ...
#[test]
fn runs_of_repeat_hits_stop_at_the_clock_tick() {
    use vmlab_workload::op::MemRef;
    let trace = || {
        let mut refs = Vec::new();
        let mut state = 7u64;
        for _ in 0..800 {
            // A page picked by xorshift, half of them among 20 hot pages.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let page = if state % 2 == 0 {
                state % 20
            } else {
                state % 120
            };
            refs.extend((0..37).map(|i| MemRef::read(0x1000_0000 + page * 4096 + i * 8, 8)));
        }
        refs.into_iter().map(Ok)
    };
    for policy in ["aging", "nfu"] {
        let full = run(trace(), &machine(policy, 64), Model::Full).unwrap();
        let user_frames = user_frames(&full, 64, 4096);
        let repl = run(trace(), &machine(policy, user_frames), Model::Replacement).unwrap();
        assert_eq!(full.references, 800 * 37);
        assert_eq!(full.faults, repl.faults, "{policy}");
        assert_eq!(full.evictions, repl.evictions, "{policy}");
    }
}

#[test]
fn unknown_policy_names_the_flag() {
    let err = run(
        stream("seq:pages=4,n=10"),
        &machine("bogus", 16),
        Model::Replacement,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--policy: unknown replacement policy"),
        "{err}"
    );
}

/// A loop over 120 pages in 100 frames under LRU faults on every
/// reference (each page was used longest ago when it comes round), so
/// after the first 120 references every interval's fault rate is 1 and
/// 100 pages stay resident. The series ends on a partial interval, and its
/// last sample is the report's totals, in both models.
#[test]
fn time_series_samples_every_interval() {
    use vmlab_workload::driver::{run_sampled, Sample};
    for model in [Model::Replacement, Model::Full] {
        let mut samples: Vec<Sample> = Vec::new();
        // The full model's frames also hold the zero page and 4 tables.
        let frames = if model == Model::Full { 105 } else { 100 };
        let report = run_sampled(
            stream("loop:pages=120,n=1050"),
            &machine("lru", frames),
            model,
            200,
            &mut |s| samples.push(*s),
        )
        .unwrap();
        let refs: Vec<u64> = samples.iter().map(|s| s.references).collect();
        assert_eq!(refs, [200, 400, 600, 800, 1000, 1050], "{model:?}");
        for s in &samples[1..] {
            assert_eq!(s.interval_fault_rate, 1.0, "{model:?} {s:?}");
            assert_eq!(s.resident_pages, 100, "{model:?} {s:?}");
        }
        let last = samples.last().unwrap();
        assert_eq!(last.faults, report.faults);
        assert_eq!(last.evictions, report.evictions);
        assert_eq!(
            last.interval_tlb_hit_rate.is_some(),
            model == Model::Full,
            "only the full model has a TLB"
        );
    }
}

/// Regression: objects of an oracleGeneral trace with hashed 64-bit ids
/// once became pages at `id * page_size`, outside any user address space
/// (the full model refused the trace) and one page-set block each (the
/// replacement model took ~4 KiB per object).
#[test]
fn oracle_general_trace_with_hashed_ids_runs_in_both_models() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let ids: Vec<u64> = (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect();
    let mut bytes = Vec::new();
    for i in 0..5000u32 {
        let id = ids[(i as usize * 7919) % ids.len() / ((i as usize % 3) + 1)];
        bytes.extend_from_slice(&i.to_le_bytes());
        bytes.extend_from_slice(&id.to_le_bytes());
        bytes.extend_from_slice(&4096u32.to_le_bytes());
        bytes.extend_from_slice(&(-1i64).to_le_bytes());
    }
    let read = || {
        vmlab_workload::trace::oracle::OracleReader::new(
            &bytes[..],
            "hashed.oracleGeneral",
            vmlab_workload::trace::ReadOptions::default(),
        )
    };
    let full = run(read(), &machine("lru", 64), Model::Full).unwrap();
    let tables = (full.page_table_bytes.unwrap() / 4096) as usize;
    let repl = run(read(), &machine("lru", 64 - 1 - tables), Model::Replacement).unwrap();
    assert_eq!(full.distinct_pages, 200);
    assert_eq!(repl.distinct_pages, 200);
    assert_eq!(full.faults, repl.faults);
    // Dense pages: one leaf table and its three ancestors.
    assert_eq!(tables, 4);
}

mod replay {
    //! A hand-made program's stream of accesses and system calls, with
    //! the counts each call implies worked out by hand.
    use super::machine;
    use vmlab_hw::AccessKind;
    use vmlab_workload::driver::{run_ops_sampled, Model};
    use vmlab_workload::op::{MemRef, Op};
    use vmlab_workload::syscall::{AddressCall, Syscall};

    const PAGE: u64 = 4096;
    const HEAP: u64 = 0x1000_0000;
    const MAP: u64 = 0x2000_0000;

    fn call(call: AddressCall, result: Result<u64, i32>) -> Op {
        Op::Syscall(Syscall { call, result })
    }

    /// `ops` through the full model on `frames` frames under LRU.
    fn run_full(ops: Vec<Op>, frames: usize) -> vmlab_workload::driver::RunReport {
        run_ops_sampled(
            ops.into_iter().map(Ok),
            &machine("lru", frames),
            Model::Full,
            0,
            &mut |_| {},
        )
        .unwrap()
    }

    fn touch(addr: u64, kind: AccessKind) -> Op {
        Op::Access(MemRef {
            addr,
            size: 8,
            kind,
            value: None,
        })
    }

    #[test]
    fn replay_builds_the_programs_regions() {
        let anon = |addr, len, prot| AddressCall::Mmap {
            addr,
            len,
            prot,
            flags: 0x22,
            fd: -1,
            offset: 0,
        };
        let mut ops = vec![
            // The loader's page, before any call: trace mode backs it.
            touch(0x40_0000, AccessKind::Fetch),
            call(AddressCall::Brk { addr: 0 }, Ok(HEAP)),
            call(
                AddressCall::Brk {
                    addr: HEAP + 3 * PAGE,
                },
                Ok(HEAP + 3 * PAGE),
            ),
            call(anon(0, 8 * PAGE, 3), Ok(MAP)),
            // A call that failed when recorded changes nothing.
            call(anon(1, PAGE, 99), Err(22)),
        ];
        for i in 0..3 {
            ops.push(touch(HEAP + i * PAGE, AccessKind::Write));
        }
        for i in 0..8 {
            ops.push(touch(MAP + i * PAGE, AccessKind::Write));
            ops.push(touch(MAP + i * PAGE + 64, AccessKind::Read));
        }
        ops.extend([
            call(
                AddressCall::Mprotect {
                    addr: MAP,
                    len: PAGE,
                    prot: 1,
                },
                Ok(0),
            ),
            // Now read-only: the program would have had SIGSEGV.
            touch(MAP + 8, AccessKind::Write),
            touch(MAP + 16, AccessKind::Read),
            call(
                AddressCall::Munmap {
                    addr: MAP + 4 * PAGE,
                    len: 4 * PAGE,
                },
                Ok(0),
            ),
            // Unmapped: outside every recorded mapping, so a loader page.
            touch(MAP + 5 * PAGE, AccessKind::Read),
            // A file mapping: backed pages, read in on first touch.
            call(
                AddressCall::Mmap {
                    addr: 0,
                    len: 2 * PAGE,
                    prot: 1,
                    flags: 0x2,
                    fd: 3,
                    offset: 0,
                },
                Ok(0x3000_0000),
            ),
            touch(0x3000_0000, AccessKind::Read),
            touch(0x3000_1000, AccessKind::Read),
            // Shrinking the heap frees its top page; a store there is then
            // outside every mapping again.
            call(
                AddressCall::Brk {
                    addr: HEAP + 2 * PAGE,
                },
                Ok(HEAP + 2 * PAGE),
            ),
        ]);
        let report = run_full(ops, 64);
        let r = report.replay.unwrap();
        assert_eq!(
            (r.syscalls, r.brk, r.mmap, r.munmap, r.mprotect),
            (8, 3, 3, 1, 1)
        );
        assert_eq!(r.failed_in_recording, 1);
        assert_eq!(r.differing, 0);
        // 3 heap pages and 8 anonymous ones: one demand-zero fault each.
        assert_eq!(r.minor_faults, 11);
        // The loader's page, the unmapped one, the file's two.
        assert_eq!(r.major_faults, 4);
        assert_eq!(
            r.loader_pages, 1,
            "the unmapped page (the first came before any call)"
        );
        assert_eq!((r.refused_accesses, r.first_refused), (1, Some(MAP + 8)));
        assert_eq!(report.faults, 15);
    }

    /// Trace mode maps backing store in 2 MiB blocks until the first
    /// call; the program's calls then find the rest of each block free, as
    /// it was when recorded: a heap placed and grown just after the
    /// loader's pages, in the same block, gets the recorded break.
    #[test]
    fn calls_find_free_what_the_trace_never_touched() {
        let heap = 0x40_8000;
        let ops = vec![
            touch(0x40_0000, AccessKind::Fetch),
            touch(0x40_3000, AccessKind::Read),
            call(AddressCall::Brk { addr: 0 }, Ok(heap)),
            call(AddressCall::Brk { addr: heap + PAGE }, Ok(heap + PAGE)),
            touch(heap, AccessKind::Write),
            touch(0x40_3000, AccessKind::Read),
        ];
        let report = run_full(ops, 64);
        let r = report.replay.unwrap();
        assert_eq!((r.differing, r.refused_accesses), (0, 0));
        // The two loader pages from disk, the heap page demand-zero.
        assert_eq!((r.major_faults, r.minor_faults), (2, 1));
        assert_eq!(report.faults, 3);
    }

    #[test]
    fn anonymous_pages_beyond_memory_swap_instead_of_killing_the_replay() {
        let mut ops = vec![call(
            AddressCall::Mmap {
                addr: 0,
                len: 64 * PAGE,
                prot: 3,
                flags: 0x22,
                fd: -1,
                offset: 0,
            },
            Ok(MAP),
        )];
        ops.extend((0..64).map(|i| touch(MAP + i * PAGE, AccessKind::Write)));
        let report = run_full(ops, 16);
        assert_eq!(report.replay.unwrap().minor_faults, 64);
        assert!(report.evictions >= 64 - 16);
    }

    #[test]
    fn a_stream_without_calls_runs_in_trace_mode() {
        let ops = (16..20).map(|i| Ok(touch(i * PAGE, AccessKind::Read)));
        let report =
            run_ops_sampled(ops, &machine("lru", 64), Model::Full, 0, &mut |_| {}).unwrap();
        assert!(report.replay.is_none());
        assert_eq!(report.faults, 4);
    }
}

/// Trace mode maps backing store 2 MiB blocks at a time; a block that does
/// not fit (the top of x86-64's user half, a whole machine smaller than a
/// block) is mapped page by page. Either way each page the trace touches
/// faults exactly once when memory holds them all, in both models.
#[test]
fn trace_pages_at_the_edges_of_the_address_space_are_mapped() {
    use vmlab_hw::AccessKind;
    use vmlab_workload::op::MemRef;
    let cases: [(&str, &[u64]); 3] = [
        (
            "x86-64",
            &[0x1000, 0x7fff_ffff_e008, 0x7fff_ffe0_0000, 0x40_0000],
        ),
        ("riscv-sv39", &[0x3f_ffff_f000, 0x20_0000, 0x20_1000]),
        ("linear:va=20,page=1024,pa=18", &[0x400, 0xf_fc00, 0x8_0400]),
    ];
    for (arch, pages) in cases {
        let machine = Machine {
            arch: presets::by_name(arch).unwrap().unwrap(),
            frames: 64,
            policy: "lru".into(),
            tlb: None,
            future: None,
        };
        // Each page read, written, then read again.
        let refs: Vec<MemRef> = [AccessKind::Read, AccessKind::Write, AccessKind::Read]
            .into_iter()
            .flat_map(|kind| {
                pages.iter().map(move |&addr| MemRef {
                    addr,
                    size: 1,
                    kind,
                    value: None,
                })
            })
            .collect();
        for model in [Model::Full, Model::Replacement] {
            let report = run(refs.iter().copied().map(Ok), &machine, model).unwrap();
            assert_eq!(report.faults, pages.len() as u64, "{arch} {model:?}");
            assert_eq!(
                report.distinct_pages,
                pages.len() as u64,
                "{arch} {model:?}"
            );
        }
    }
}

/// An address the machine cannot map, or a process ended by the
/// out-of-memory killer, was reported with no place in the stream: the
/// error names the record now (1-based), and says what the kill means.
#[test]
fn errors_name_the_record_of_the_stream() {
    let at = |addr: u64, size: u32| Ok(vmlab_workload::op::MemRef::read(addr, size));
    let refs = vec![
        at(0x400_0040, 8),
        at(0x400_0048, 8),
        at(0x8000_0000_0000, 8),
    ];
    let e = run(refs.into_iter(), &machine("lru", 64), Model::Full).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "record 3 of the stream, address 0x800000000000: cannot be mapped on x86-64"
        ),
        "{e}"
    );
    let huge = vec![at(0x400_0000, 8), at(0x1000, 1 << 31)];
    let e = run(huge.into_iter(), &machine("lru", 16), Model::Full).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("record 2 of the stream, address ")
            && e.to_string()
                .contains("the out-of-memory killer ended the traced program"),
        "{e}"
    );
}
