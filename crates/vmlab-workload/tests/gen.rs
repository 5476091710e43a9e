//! The synthetic generators: determinism, the Zipf sampler's frequencies,
//! hand-checked address patterns, and the spec parser's messages.
#![allow(clippy::unwrap_used)]

use vmlab_hw::AccessKind;
use vmlab_workload::gen::{GenKind, GenSpec};
use vmlab_workload::op::MemRef;

fn stream(spec: &str) -> Vec<MemRef> {
    spec.parse::<GenSpec>().unwrap().stream().collect()
}

fn spec_error(spec: &str) -> String {
    spec.parse::<GenSpec>().unwrap_err().to_string()
}

const RANDOM_KINDS: [&str; 6] = [
    "uniform:pages=1000,n=2000,write=0.3",
    "zipf:pages=1000,alpha=0.8,n=2000,write=0.3",
    "phases:pages=1000,ws=50,phase=100,n=2000",
    "list:nodes=1000,n=2000",
    "stack:depth=100,n=2000",
    "heap:objects=100,n=2000,write=0.5",
];

#[test]
fn same_seed_same_stream_different_seed_different_stream() {
    for spec in RANDOM_KINDS {
        let a = stream(&format!("{spec},seed=1"));
        assert_eq!(a.len(), 2000, "{spec}");
        assert_eq!(a, stream(&format!("{spec},seed=1")), "{spec}");
        assert_ne!(a, stream(&format!("{spec},seed=2")), "{spec}");
    }
}

#[test]
fn every_kind_runs_and_stays_in_its_region() {
    for spec in [
        "seq:pages=2,n=5000",
        "stride:pages=3,stride=5000,n=100",
        "loop:pages=7,n=100",
        "matmul:dim=5,order=tiled,tile=2",
    ]
    .iter()
    .chain(&RANDOM_KINDS)
    {
        let refs = stream(spec);
        assert!(!refs.is_empty(), "{spec}");
        assert!(refs.iter().all(|r| r.addr >= 0x1000_0000), "{spec}");
        assert!(
            refs.iter().all(|r| r.addr < 0x1000_0000 + (64 << 20)),
            "{spec}"
        );
    }
}

#[test]
fn zipf_rank_one_is_about_twice_rank_two() {
    let n = 1_000_000;
    let mut counts = [0u64; 4];
    for r in "zipf:pages=1000,alpha=1.0,n=1000000,seed=7"
        .parse::<GenSpec>()
        .unwrap()
        .stream()
    {
        let page = ((r.addr - 0x1000_0000) / 4096) as usize;
        if page < 4 {
            counts[page] += 1;
        }
    }
    // Zipf(1) over 1000 ranks: P(1) = 1 / H_1000 = 0.1336.
    let p1 = counts[0] as f64 / n as f64;
    assert!((p1 - 0.1336).abs() < 0.005, "P(rank 1) = {p1}");
    for k in 1..4 {
        let ratio = counts[0] as f64 / counts[k] as f64;
        let want = (k + 1) as f64;
        assert!(
            (ratio - want).abs() / want < 0.05,
            "rank 1 / rank {} = {ratio}",
            k + 1
        );
    }
}

#[test]
fn zipf_alpha_zero_is_uniform_and_ranks_stay_in_range() {
    let refs = stream("zipf:pages=10,alpha=0,n=100000,page=4096,base=0");
    let mut counts = [0u32; 10];
    for r in refs {
        counts[(r.addr / 4096) as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| (9_000..11_000).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn matmul_two_by_two_by_hand() {
    let spec = "matmul:dim=2,base=0";
    let (a, b, c) = (0, 4096, 8192);
    let r = |addr| (addr, AccessKind::Read);
    let w = |addr| (addr, AccessKind::Write);
    let naive: Vec<_> = stream(spec).iter().map(|m| (m.addr, m.kind)).collect();
    assert_eq!(
        naive,
        vec![
            r(a),
            r(b),
            r(a + 8),
            r(b + 16),
            w(c),
            r(a),
            r(b + 8),
            r(a + 8),
            r(b + 24),
            w(c + 8),
            r(a + 16),
            r(b),
            r(a + 24),
            r(b + 16),
            w(c + 16),
            r(a + 16),
            r(b + 8),
            r(a + 24),
            r(b + 24),
            w(c + 24),
        ]
    );
    let transposed: Vec<_> = stream(&format!("{spec},order=transposed"))
        .iter()
        .map(|m| (m.addr, m.kind))
        .collect();
    assert_eq!(
        &transposed[..10],
        &[
            r(a),
            r(b),
            r(a + 8),
            r(b + 8),
            w(c),
            r(a),
            r(b + 16),
            r(a + 8),
            r(b + 24),
            w(c + 8),
        ]
    );
    // Tiles of 1: C[i][j] read, one k, written, for each k tile in turn.
    let tiled: Vec<_> = stream(&format!("{spec},order=tiled,tile=1"))
        .iter()
        .map(|m| (m.addr, m.kind))
        .collect();
    assert_eq!(
        &tiled[..8],
        &[r(c), r(a), r(b), w(c), r(c), r(a + 8), r(b + 16), w(c),]
    );
    assert_eq!(tiled.len(), 2 * 2 * 2 * 4);
}

#[test]
fn matmul_tiled_touches_the_same_elements_as_naive() {
    for dim in [1, 3, 7] {
        let count = |spec: String| {
            let mut v: Vec<_> = stream(&spec)
                .into_iter()
                .filter(|m| m.addr < 0x1000_0000 + 2 * 4096)
                .map(|m| m.addr)
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(
            count(format!("matmul:dim={dim}")),
            count(format!("matmul:dim={dim},order=tiled,tile=2"))
        );
    }
}

#[test]
fn list_walk_is_one_cycle_through_every_node() {
    let refs = stream("list:nodes=1000,n=2000,node=64,base=0");
    let nodes: Vec<u64> = refs.iter().map(|r| r.addr / 64).collect();
    let mut first: Vec<u64> = nodes[..1000].to_vec();
    first.sort_unstable();
    assert_eq!(first, (0..1000).collect::<Vec<_>>());
    assert_eq!(nodes[..1000], nodes[1000..]);
    assert_ne!(nodes[..10], (0..10).collect::<Vec<_>>()[..]);
}

#[test]
fn sequential_strided_loop_and_stack_patterns() {
    let seq: Vec<u64> = stream("seq:pages=1,n=514,base=0")
        .iter()
        .map(|r| r.addr)
        .collect();
    assert_eq!(&seq[..3], &[0, 8, 16]);
    assert_eq!(&seq[511..], &[4088, 0, 8]);
    let stride: Vec<u64> = stream("stride:pages=1,stride=1536,n=4,base=0")
        .iter()
        .map(|r| r.addr)
        .collect();
    assert_eq!(stride, vec![0, 1536, 3072, 512]);
    let lp: Vec<u64> = stream("loop:pages=3,n=5,base=0")
        .iter()
        .map(|r| r.addr)
        .collect();
    assert_eq!(lp, vec![0, 4096, 8192, 0, 4096]);
    // A stack: the first access pushes the top word; pops read what the
    // matching push wrote.
    let st = stream("stack:depth=4,n=1000,base=0");
    assert_eq!(st[0], MemRef::write(24, 8));
    let mut depth = 0i64;
    for r in &st {
        depth += if r.kind == AccessKind::Write { 1 } else { -1 };
        assert!((0..=4).contains(&depth));
    }
}

#[test]
fn spec_parser_accepts_good_specs() {
    let g = "zipf:pages=1000000,alpha=1.0,n=50000000,seed=1"
        .parse::<GenSpec>()
        .unwrap();
    assert_eq!(g.kind(), GenKind::Zipf);
    assert_eq!(g.stream().take(3).count(), 3);
    assert_eq!(stream("loop:pages=0x10,n=0x20,page=1024").len(), 32);
    assert_eq!(stream("matmul:dim=3,n=5").len(), 5);
    assert_eq!(stream("matmul:dim=3").len(), 9 * 7);
}

#[test]
fn spec_parser_rejects_bad_specs_by_name() {
    let cases = [
        ("zipf:alpha=x", "zipf:alpha=x: expected a number, found \"x\""),
        ("zipf:pages=10,alpha=-1,n=5", "zipf:alpha=-1: expected a number of at least 0, found \"-1\""),
        ("zipf:pages=10,alpha=1", "zipf:pages=10,alpha=1: expected the key n (zipf requires pages, alpha, n), found none"),
        ("zipf:pages=10,foo=1", "zipf:foo=1: expected a key of zipf (pages, alpha, n, write, page, seed, base), found \"foo\""),
        ("zipf:pages", "zipf:pages: expected key=value, found \"pages\""),
        ("zipf:pages=1,pages=2", "zipf:pages=2: expected each key once, found pages again"),
        ("zipf:pages=0", "zipf:pages=0: expected a whole number of at least 1, found \"0\""),
        ("seq:pages=1,n=1,page=1000", "seq:page=1000: expected a power of two, found \"1000\""),
        ("uniform:pages=4,n=1,write=2", "uniform:write=2: expected a fraction from 0 to 1, found \"2\""),
        ("matmul:dim=2,order=ikj", "matmul:order=ikj: expected naive, transposed or tiled, found \"ikj\""),
        ("phases:pages=4,ws=5,phase=1,n=1", "phases:pages=4,ws=5,phase=1,n=1: expected ws at most pages, found ws=5"),
        ("heap:objects=1000000000000,n=20,obj=1", "heap:objects=1000000000000,n=20,obj=1: expected objects at most 67108864 (heap keeps a table of every object's address), found objects=1000000000000"),
        ("loop:pages=4503599627370496,n=1", "loop:pages=4503599627370496,n=1: expected a workload that fits in a 64-bit address space, found more"),
        ("fractal:n=1", "fractal:n=1: expected a generator kind (seq, stride, uniform, zipf, loop, phases, matmul, list, stack, heap), found \"fractal\""),
    ];
    for (spec, message) in cases {
        assert_eq!(spec_error(spec), message, "spec {spec}");
    }
}
