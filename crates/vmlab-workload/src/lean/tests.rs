//! The lean engine against the layered one: the same stream on the same
//! machine must give the same report and the same samples, on every
//! processor scheme and every policy, with loads, stores and fetches,
//! accesses that straddle pages, memory so small the page tables compete
//! with the pages, and TLBs of odd shapes.

use crate::chunk::{batched_accesses, Batched};
use crate::driver::{run_chunks_sampled, DriverError, Machine, Model, RunReport, Sample};
use crate::future::Future;
use crate::op::{MemRef, Op};
use vmlab_hw::arch::presets;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::AccessKind;
use vmlab_kernel::policy::NAMES as POLICIES;

/// Every scheme a real processor implements: the presets whose address
/// space holds the streams below.
fn schemes() -> Vec<&'static str> {
    presets::NAMES
        .iter()
        .copied()
        .filter(|name| presets::by_name(name).unwrap().unwrap().va_bits() >= 32)
        .collect()
}

/// A deterministic stream of `n` accesses over `pages` pages of `page`
/// bytes, skewed towards low pages, with stores, fetches from a few code
/// pages and some accesses that cross into the next page.
fn stream(n: usize, pages: u64, page: u64, seed: u64) -> Vec<MemRef> {
    let mut state = seed;
    let mut next = move || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let base = 0x40_0000u64;
    (0..n)
        .map(|_| {
            let r = next();
            let kind = match r % 10 {
                0..=5 => AccessKind::Read,
                6..=8 => AccessKind::Write,
                _ => AccessKind::Fetch,
            };
            // Skewed: the minimum of two uniform draws.
            let page_no = match kind {
                AccessKind::Fetch => (r >> 8) % 4,
                _ => ((r >> 8) % pages).min((r >> 32) % pages),
            };
            let straddles = (r >> 4) % 16 == 0;
            let offset = if straddles {
                page - 2
            } else {
                (r >> 12) % (page - 8)
            };
            MemRef {
                addr: base + page_no * page + offset,
                size: if straddles { 4 } else { 8 },
                kind,
                value: None,
            }
        })
        .collect()
}

/// Runs `refs` on `machine` in the full model: on the lean engine when
/// `lean` (where the machine is one it models), else on the layered one;
/// the report (its time zeroed) and the samples every `every` references.
fn run(
    refs: &[MemRef],
    machine: &Machine,
    lean: bool,
    every: u64,
) -> Result<(RunReport, Vec<Sample>), String> {
    let mut samples = Vec::new();
    let mut keep = |s: &Sample| samples.push(*s);
    let accesses = refs.iter().map(|&r| Ok(r));
    let report = if lean {
        run_chunks_sampled(
            batched_accesses(accesses),
            machine,
            Model::Full,
            every,
            &mut keep,
        )
    } else {
        let ops = accesses.map(|r| r.map(Op::Access));
        run_chunks_sampled(Batched::new(ops), machine, Model::Full, every, &mut keep)
    };
    let mut report = report.map_err(|e: DriverError| e.to_string())?;
    report.seconds = 0.0;
    Ok((report, samples))
}

/// Both engines on `refs`; fails on any difference, naming the machine.
/// Whether they completed (rather than failing alike).
fn agree(refs: &[MemRef], machine: &Machine) -> bool {
    let what = format!(
        "{} {} {} frames, tlb {:?}",
        machine.arch.name(),
        machine.policy,
        machine.frames,
        machine.tlb
    );
    let lean = run(refs, machine, true, 997);
    let layered = run(refs, machine, false, 997);
    match (lean, layered) {
        (Ok((a, sa)), Ok((b, sb))) => {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap(),
                "{what}"
            );
            assert_eq!(sa, sb, "samples, {what}");
            true
        }
        (a, b) => {
            assert_eq!(a.err(), b.err(), "{what}");
            false
        }
    }
}

fn machine(scheme: &str, policy: &str, frames: usize, refs: &[MemRef]) -> Machine {
    let arch = presets::by_name(scheme).unwrap().unwrap();
    let page = arch.page_bytes();
    Machine {
        arch,
        frames,
        policy: policy.to_string(),
        tlb: None,
        // OPT's future: every reference's page, in order.
        future: Some(Future::of_pages(
            page,
            refs.iter()
                .flat_map(|r| crate::op::page_pieces(*r, page).map(move |p| p.addr / page)),
        )),
    }
}

/// Which machines the lean engine takes: every processor scheme with its
/// default TLB. Without this the agreement tests below could pass with
/// the layered engine on both sides.
#[test]
fn the_lean_engine_models_every_processor_scheme() {
    let mut taken = Vec::new();
    for scheme in schemes() {
        let m = machine(scheme, "lru", 64, &[]);
        if crate::driver::lean_models(&m) {
            taken.push(scheme);
        }
    }
    assert_eq!(taken, schemes());
}

/// Two memories: one whose pages the first TLB level covers, and one
/// whose resident pages need the second (its hits refill the first).
#[test]
fn engines_agree_on_every_scheme_and_policy() {
    for scheme in schemes() {
        let page = presets::by_name(scheme).unwrap().unwrap().page_bytes();
        let small = stream(6000, 300, page, 7);
        let large = stream(8000, 1500, page, 8);
        for policy in POLICIES {
            assert!(agree(&small, &machine(scheme, policy, 64, &small)));
            assert!(agree(&large, &machine(scheme, policy, 700, &large)));
        }
    }
}

/// Policy parameters change tick intervals and queue sizes; the engines
/// must agree under each.
#[test]
fn engines_agree_with_policy_parameters() {
    let specs = [
        "aging:bits=2:tick=300",
        "nru:seed=9:tick=70",
        "nfu:tick=50",
        "random:seed=3",
        "wsclock:tau=400",
        "wsclock:tau=20",
        "2q:kin=0.5:kout=0.25",
        "s3-fifo:small=0.3",
    ];
    for scheme in ["x86-64", "riscv-sv39", "aarch64-4k"] {
        let page = presets::by_name(scheme).unwrap().unwrap().page_bytes();
        let refs = stream(6000, 300, page, 3);
        for spec in specs {
            assert!(agree(&refs, &machine(scheme, spec, 48, &refs)));
        }
    }
}

/// A handful of frames: page tables take frames the pages need, faults
/// make tables first, and at the end memory runs out (both engines must
/// fail alike).
#[test]
fn engines_agree_when_tables_compete_for_memory() {
    for scheme in schemes() {
        let arch = presets::by_name(scheme).unwrap().unwrap();
        let page = arch.page_bytes();
        // Five places far apart, so each needs tables of its own: as far
        // as the address space allows up to 4096 leaf tables' span, where
        // their leaf tables share a slot of the engine's memo.
        let span = 1u64 << arch.plan(arch.levels().len() - 2).shift;
        let room = 1u64 << (arch.va_bits() - 1);
        let mut stride = span;
        while stride < span * 4096 && 0x40_0000 + 8 * stride < room {
            stride *= 2;
        }
        let mut refs = stream(3000, 40, page, 5);
        for (i, r) in refs.iter_mut().enumerate() {
            r.addr += (i as u64 % 5) * stride;
        }
        for policy in ["lru", "clock", "arc", "fifo"] {
            let completed =
                [4, 9, 24].map(|frames| agree(&refs, &machine(scheme, policy, frames, &refs)));
            assert!(completed[2], "{scheme} {policy}: 24 frames hold the tables");
        }
    }
}

/// TLBs of other shapes: sets that are no power of two, one level, none
/// at all; and one whose LRU the lean engine does not model (FIFO), which
/// falls back.
#[test]
fn engines_agree_on_other_tlbs() {
    let refs = stream(6000, 300, 4096, 11);
    for spec in [
        "l1d:48:4,l1i:16:2,l2:384:12",
        "l1d:8:8,l1i:8:8",
        "l1d:64:4:fifo,l1i:64:4,l2:512:8",
    ] {
        for policy in ["lru", "clock", "s3-fifo"] {
            let mut m = machine("x86-64", policy, 64, &refs);
            m.tlb = Some(TlbConfig::parse_spec(spec, 12).unwrap());
            assert!(agree(&refs, &m));
        }
    }
    let mut none = machine("x86-64", "lru", 64, &refs);
    none.tlb = Some(TlbConfig::default());
    assert!(agree(&refs, &none));
}

/// A program's shape: bursts that alternate between a code page and a
/// data page (runs the repeat registers take whole, touching both pages
/// in the order of their last use), moving among a few of each, in a
/// memory that keeps evicting them.
fn program_stream(n: usize, page: u64, seed: u64) -> Vec<MemRef> {
    let mut refs = stream(n / 8, 12, page, seed);
    let mut out = Vec::with_capacity(n);
    let code = 0x40_0000 + 64 * page;
    for (i, data) in refs.drain(..).enumerate() {
        let i = i as u64;
        let fetch = MemRef {
            addr: code + (i % 3) * page + 16,
            size: 4,
            kind: AccessKind::Fetch,
            value: None,
        };
        for k in 0..(i % 5 + 1) {
            out.push(fetch);
            if k % 2 == 0 || i % 3 == 0 {
                out.push(MemRef {
                    addr: data.addr & !7,
                    ..data
                });
            }
        }
        if i % 4 == 0 {
            out.push(data);
            out.push(fetch);
        }
    }
    out
}

#[test]
fn engines_agree_on_runs_of_code_and_data() {
    for scheme in ["x86-64", "riscv-sv39", "aarch64-4k"] {
        let page = presets::by_name(scheme).unwrap().unwrap().page_bytes();
        let refs = program_stream(16000, page, 21);
        for policy in POLICIES {
            for frames in [8, 12] {
                assert!(agree(&refs, &machine(scheme, policy, frames, &refs)));
            }
        }
    }
}
