//! Every free-space allocator against a plain model of its arena, a map of
//! which bytes are in use: no two blocks overlap, every block lies in the
//! arena (buddy blocks aligned to their size), the counters add up, the
//! free-list allocators' free list is exactly the model's maximal runs of
//! free bytes (so neighbours always coalesced) and a request fails exactly
//! when no run is long enough; compaction moves blocks as it reports; and
//! once everything is freed the arena is one free block again.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vmlab_kernel::freespace::{by_name, FreeSpaceAllocator, NAMES};

const BASE: u64 = 0x4000;
const ARENA: u64 = 4096;

#[derive(Clone, Debug)]
enum Op {
    Allocate(u64),
    /// Frees the live block at this index (modulo their number).
    Free(usize),
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..600).prop_map(Op::Allocate),
        3 => any::<usize>().prop_map(Op::Free),
        1 => Just(Op::Compact),
    ]
}

/// The arena as bytes in use, and the live blocks (address, size asked).
struct Model {
    used: Vec<bool>,
    live: Vec<(u64, u64)>,
}

impl Model {
    fn mark(&mut self, addr: u64, size: u64, used: bool) {
        for b in addr - BASE..addr - BASE + size {
            assert_ne!(self.used[b as usize], used, "byte {b:#x} overlaps");
            self.used[b as usize] = used;
        }
    }

    /// Maximal runs of free bytes, as lengths.
    fn free_runs(&self) -> Vec<u64> {
        let mut runs = Vec::new();
        let mut run = 0;
        for &u in &self.used {
            if u {
                if run > 0 {
                    runs.push(run);
                }
                run = 0;
            } else {
                run += 1;
            }
        }
        if run > 0 {
            runs.push(run);
        }
        runs
    }
}

fn check(name: &str, ops: &[Op]) {
    let mut a: Box<dyn FreeSpaceAllocator> = by_name(name, BASE, ARENA).unwrap();
    let is_list = name != "buddy";
    let mut m = Model {
        used: vec![false; ARENA as usize],
        live: Vec::new(),
    };
    let mut failed = 0;
    for op in ops {
        match *op {
            Op::Allocate(size) => {
                let longest = m.free_runs().into_iter().max().unwrap_or(0);
                match a.allocate(size) {
                    Some(addr) => {
                        assert!(addr >= BASE && addr + size <= BASE + ARENA);
                        if !is_list {
                            let block = size.max(64).next_power_of_two();
                            assert_eq!((addr - BASE) % block, 0, "buddy block aligned");
                        }
                        m.mark(addr, size, true);
                        m.live.push((addr, size));
                    }
                    None => {
                        failed += 1;
                        if is_list {
                            assert!(size > longest, "{size} fits in a run of {longest}");
                        }
                    }
                }
            }
            Op::Free(i) if !m.live.is_empty() => {
                let (addr, size) = m.live.swap_remove(i % m.live.len());
                let bytes = a.free(addr).unwrap();
                assert!(bytes >= size);
                m.mark(addr, size, false);
                assert!(a.free(addr).is_err(), "double free refused");
            }
            Op::Free(_) => {}
            Op::Compact => match a.compact() {
                Some(c) => {
                    assert!(is_list);
                    let mut moved = 0;
                    for (addr, size) in m.live.clone() {
                        m.mark(addr, size, false);
                    }
                    for r in &c.relocations {
                        let block = m.live.iter_mut().find(|b| b.0 == r.from).unwrap();
                        assert_eq!(block.1, r.bytes);
                        assert!(r.to < r.from, "blocks only slide down");
                        block.0 = r.to;
                        moved += r.bytes;
                    }
                    for (addr, size) in m.live.clone() {
                        m.mark(addr, size, true);
                    }
                    assert_eq!(c.bytes_moved, moved);
                    let live: u64 = m.live.iter().map(|b| b.1).sum();
                    assert!(m.used[..live as usize].iter().all(|&u| u), "packed");
                }
                None => assert!(!is_list),
            },
        }
        let s = a.stats();
        let requested: u64 = m.live.iter().map(|b| b.1).sum();
        assert_eq!(s.arena_bytes, ARENA);
        assert_eq!(s.free_bytes + s.allocated_bytes, ARENA);
        assert_eq!(s.requested_bytes, requested);
        assert_eq!(s.live_blocks, m.live.len() as u64);
        assert_eq!(s.failed_allocations, failed);
        assert!(s.largest_free <= s.free_bytes);
        if is_list {
            let runs = m.free_runs();
            assert_eq!(s.free_blocks, runs.len() as u64, "neighbours coalesced");
            assert_eq!(s.largest_free, runs.iter().copied().max().unwrap_or(0));
        }
    }
    for (addr, _) in m.live.drain(..) {
        a.free(addr).unwrap();
    }
    let s = a.stats();
    assert_eq!(
        (s.free_bytes, s.largest_free, s.free_blocks),
        (ARENA, ARENA, 1)
    );
    assert_eq!(s.external_fragmentation(), 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn allocators_agree_with_the_byte_map(ops in proptest::collection::vec(op(), 1..120)) {
        for &name in NAMES {
            check(name, &ops);
        }
    }
}
