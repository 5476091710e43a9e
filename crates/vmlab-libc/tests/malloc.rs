//! malloc, free, calloc and realloc against glibc's arithmetic and
//! against a plain model of live blocks.
#![allow(clippy::unwrap_used)]

mod common;

use common::{on_terminal, KIB};
use proptest::prelude::*;
use vmlab_kernel::region::RegionKind;
use vmlab_libc::{Libc, LibcError, MallocConfig};

fn brk_calls(libc: &Libc) -> u64 {
    libc.accounting().syscall("brk")
}

#[test]
fn a_first_small_malloc_grows_the_break_by_132_kib_and_1000_cause_one_brk() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    // Startup asked for the break once (ld.so's brk(NULL)).
    assert_eq!(brk_calls(&libc), 1);
    let start = libc.kernel().current_brk(pid).unwrap();
    let mut blocks = Vec::new();
    for _ in 0..1000 {
        blocks.push(libc.malloc(pid, 16).unwrap());
    }
    assert_eq!(brk_calls(&libc), 2);
    // sysmalloc: ALIGN_UP(32 + 131072 + 32, 4096) = 135168 = 132 KiB.
    let grown = libc.kernel().current_brk(pid).unwrap() - start;
    assert_eq!(grown, 132 * KIB);
    // Each malloc(16) is a 32-byte chunk carved off the top in turn.
    for pair in blocks.windows(2) {
        assert_eq!(pair[1] - pair[0], 32);
    }
    assert_eq!(blocks[0], start + 16);
    assert_eq!(libc.accounting().library("malloc"), 1000);
}

#[test]
fn the_heap_grows_again_only_when_the_top_runs_out() {
    let config = MallocConfig::with_mmap_threshold(1 << 30);
    let (mut libc, pid) = on_terminal(config);
    let start = libc.kernel().current_brk(pid).unwrap();
    // 132 KiB minus the first chunk and MINSIZE is left in the top.
    libc.malloc(pid, 16).unwrap();
    libc.malloc(pid, 100 * KIB).unwrap();
    assert_eq!(brk_calls(&libc), 2);
    // 40 KiB more does not fit: the break grows by nb + pad + MINSIZE
    // minus what the top has, rounded to pages.
    libc.malloc(pid, 40 * KIB).unwrap();
    assert_eq!(brk_calls(&libc), 3);
    let top = 132 * KIB - 32 - (100 * KIB + 16);
    let nb = 40 * KIB + 16;
    let grown = (nb + 128 * KIB + 32 - top).next_multiple_of(4096);
    assert_eq!(
        libc.kernel().current_brk(pid).unwrap() - start,
        132 * KIB + grown
    );
}

#[test]
fn a_malloc_of_200_kib_is_one_mmap_and_free_unmaps_it() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let before = libc.accounting();
    let p = libc.malloc(pid, 200 * KIB).unwrap();
    let after = libc.accounting();
    assert_eq!(after.syscall("mmap") - before.syscall("mmap"), 1);
    assert_eq!(after.syscall("brk"), before.syscall("brk"));
    // Its own anonymous mapping of ALIGN_UP(nb + 8, 4096) bytes, header
    // first, placed right below the library's data (whose region it
    // merges with).
    let region = *libc.kernel().regions(pid).unwrap().find(p).unwrap();
    assert_eq!(region.kind, RegionKind::Anonymous);
    assert_eq!(region.start, p - 16);
    assert_eq!(libc.load(pid, p - 8, 8).unwrap(), (204 * KIB) | 2);
    let info = libc.mallinfo2(pid).unwrap();
    assert_eq!((info.hblks, info.hblkhd), (1, 204 * KIB));
    libc.free(pid, p).unwrap();
    assert_eq!(libc.accounting().syscall("munmap"), 1);
    let regions = libc.kernel().regions(pid).unwrap();
    assert!(regions.find(p - 16 + 204 * KIB - 1).is_none());
    assert!(regions.find(p - 16 + 204 * KIB).is_some());
    assert_eq!(libc.mallinfo2(pid).unwrap().hblks, 0);
    // glibc's dynamic threshold rose to 204 KiB: the same request now
    // comes from the heap.
    libc.malloc(pid, 200 * KIB).unwrap();
    assert_eq!(libc.accounting().syscall("mmap"), after.syscall("mmap"));
    assert_eq!(libc.accounting().syscall("brk"), 2);
}

#[test]
fn the_top_pad_is_configurable() {
    let config = MallocConfig {
        top_pad: 0,
        ..MallocConfig::default()
    };
    let (mut libc, pid) = on_terminal(config);
    let start = libc.kernel().current_brk(pid).unwrap();
    libc.malloc(pid, 16).unwrap();
    // ALIGN_UP(32 + 0 + 32, 4096): one page.
    assert_eq!(libc.kernel().current_brk(pid).unwrap() - start, 4096);
}

#[test]
fn the_mmap_threshold_is_configurable() {
    let (mut libc, pid) = on_terminal(MallocConfig::with_mmap_threshold(64 * KIB));
    let mmaps = libc.accounting().syscall("mmap");
    let p = libc.malloc(pid, 100 * KIB).unwrap();
    assert_eq!(libc.accounting().syscall("mmap"), mmaps + 1);
    libc.free(pid, p).unwrap();
    // A fixed threshold does not move: the next one is mapped too.
    libc.malloc(pid, 100 * KIB).unwrap();
    assert_eq!(libc.accounting().syscall("mmap"), mmaps + 2);
    // Below it, the heap.
    libc.malloc(pid, 60 * KIB).unwrap();
    assert_eq!(libc.accounting().syscall("mmap"), mmaps + 2);
}

#[test]
fn freeing_the_top_past_the_trim_threshold_lowers_the_break() {
    let (mut libc, pid) = on_terminal(MallocConfig::with_mmap_threshold(1 << 30));
    let start = libc.kernel().current_brk(pid).unwrap();
    let p = libc.malloc(pid, 300 * KIB).unwrap();
    // ALIGN_UP(307216 + 131072 + 32, 4096) = 442368.
    assert_eq!(libc.kernel().current_brk(pid).unwrap() - start, 442_368);
    libc.free(pid, p).unwrap();
    // systrim: ALIGN_DOWN(442368 - 33 - 131072, 4096) = 307200 go back.
    assert_eq!(libc.accounting().syscall("brk"), 3);
    assert_eq!(libc.kernel().current_brk(pid).unwrap() - start, 135_168);
    let info = libc.mallinfo2(pid).unwrap();
    assert_eq!((info.arena, info.uordblks, info.ordblks), (135_168, 0, 1));
    // Small frees never trim.
    let q = libc.malloc(pid, 100).unwrap();
    libc.free(pid, q).unwrap();
    assert_eq!(libc.accounting().syscall("brk"), 3);
}

#[test]
fn free_coalesces_with_both_neighbours() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let a = libc.malloc(pid, 100).unwrap();
    let b = libc.malloc(pid, 100).unwrap();
    let c = libc.malloc(pid, 100).unwrap();
    let _guard = libc.malloc(pid, 100).unwrap();
    libc.free(pid, a).unwrap();
    libc.free(pid, c).unwrap();
    assert_eq!(libc.mallinfo2(pid).unwrap().ordblks, 3);
    // b joins a and c: one free chunk of 3 × 112 bytes, besides the top.
    libc.free(pid, b).unwrap();
    assert_eq!(libc.mallinfo2(pid).unwrap().ordblks, 2);
    // It serves a request of that size exactly, at a's place.
    assert_eq!(libc.malloc(pid, 3 * 112 - 8).unwrap(), a);
}

#[test]
fn bad_frees_are_reported_and_leave_the_heap_alone() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let p = libc.malloc(pid, 64).unwrap();
    let q = libc.malloc(pid, 64).unwrap();
    let message = |r: Result<(), LibcError>| match r {
        Err(LibcError::InvalidPointer { message, .. }) => message,
        other => panic!("expected an invalid pointer, got {other:?}"),
    };
    assert_eq!(message(libc.free(pid, p + 1)), "free(): invalid pointer");
    assert_eq!(
        message(libc.free(pid, 0x7000_0000)),
        "free(): invalid pointer"
    );
    libc.free(pid, p).unwrap();
    assert_eq!(
        message(libc.free(pid, p)),
        "double free or corruption (!prev)"
    );
    // The top chunk is not a block.
    let top = q + 80;
    assert_eq!(
        message(libc.free(pid, top)),
        "double free or corruption (out)"
    );
    assert!(matches!(
        libc.realloc(pid, p + 16, 10),
        Err(LibcError::InvalidPointer { .. })
    ));
    // The process lives on and the heap still works.
    assert!(libc.kernel().is_live(pid));
    assert_eq!(libc.malloc(pid, 64).unwrap(), p);
    libc.free(pid, q).unwrap();
}

#[test]
fn realloc_keeps_the_contents() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let bytes: Vec<u8> = (0..100).collect();
    let p = libc.malloc(pid, 100).unwrap();
    libc.write_bytes(pid, p, &bytes).unwrap();
    // Next to the top: grows in place.
    let p2 = libc.realloc(pid, p, 1000).unwrap();
    assert_eq!(p2, p);
    let _block = libc.malloc(pid, 16).unwrap();
    // Hemmed in: moves, and the old chunk is free for reuse.
    let p3 = libc.realloc(pid, p2, 5000).unwrap();
    assert_ne!(p3, p2);
    let mut back = vec![0; 100];
    libc.read_bytes(pid, p3, &mut back).unwrap();
    assert_eq!(back, bytes);
    // Shrinking stays put; a large block moves to a mapping and back.
    assert_eq!(libc.realloc(pid, p3, 50).unwrap(), p3);
    let big = libc.realloc(pid, p3, 300 * KIB).unwrap();
    assert_eq!(libc.accounting().syscall("mmap"), 2);
    let bigger = libc.realloc(pid, big, 400 * KIB).unwrap();
    libc.read_bytes(pid, bigger, &mut back[..50]).unwrap();
    assert_eq!(back[..50], bytes[..50]);
    assert_eq!(libc.realloc(pid, bigger, 0).unwrap(), 0);
    assert_eq!(libc.mallinfo2(pid).unwrap().hblks, 0);
    // realloc(NULL, n) is malloc.
    assert_ne!(libc.realloc(pid, 0, 10).unwrap(), 0);
}

#[test]
fn realloc_grows_into_a_free_neighbour() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let a = libc.malloc(pid, 100).unwrap();
    let b = libc.malloc(pid, 200).unwrap();
    let _guard = libc.malloc(pid, 16).unwrap();
    libc.write_bytes(pid, a, &[7; 100]).unwrap();
    libc.free(pid, b).unwrap();
    // a's 112 bytes and b's 208 make room for 300 in place.
    assert_eq!(libc.realloc(pid, a, 300).unwrap(), a);
    assert_eq!(libc.malloc_usable_size(pid, a).unwrap(), 312);
    let mut back = [0; 100];
    libc.read_bytes(pid, a, &mut back).unwrap();
    assert_eq!(back, [7; 100]);
    assert_eq!(libc.mallinfo2(pid).unwrap().ordblks, 1);
}

#[test]
fn calloc_zeroes_even_reused_memory() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let p = libc.malloc(pid, 200).unwrap();
    libc.write_bytes(pid, p, &[0xff; 200]).unwrap();
    let _guard = libc.malloc(pid, 16).unwrap();
    libc.free(pid, p).unwrap();
    let q = libc.calloc(pid, 10, 20).unwrap();
    assert_eq!(q, p);
    let mut back = [0xaa; 200];
    libc.read_bytes(pid, q, &mut back).unwrap();
    assert_eq!(back, [0; 200]);
    assert_eq!(
        libc.calloc(pid, u64::MAX, 2),
        Err(LibcError::Errno(vmlab_kernel::Errno::Enomem))
    );
    // A mapped block is fresh zeros: no memset over it.
    let accesses = libc.accounting().counts.memory_accesses;
    libc.calloc(pid, 1, 256 * KIB).unwrap();
    assert!(libc.accounting().counts.memory_accesses - accesses < 100);
}

#[test]
fn usable_sizes_follow_the_chunk_sizes() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let p = libc.malloc(pid, 1).unwrap();
    assert_eq!(libc.malloc_usable_size(pid, p).unwrap(), 24);
    let q = libc.malloc(pid, 25).unwrap();
    assert_eq!(libc.malloc_usable_size(pid, q).unwrap(), 40);
    let m = libc.malloc(pid, 200 * KIB).unwrap();
    assert_eq!(libc.malloc_usable_size(pid, m).unwrap(), 204 * KIB - 16);
}

#[derive(Clone, Debug)]
enum Op {
    Malloc(u64),
    Free(usize),
    Realloc(usize, u64),
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0..300u64,
        3 => 300..5000u64,
        1 => 100_000..300_000u64,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => size().prop_map(Op::Malloc),
        2 => any::<usize>().prop_map(Op::Free),
        2 => (any::<usize>(), size()).prop_map(|(i, n)| Op::Realloc(i, n)),
    ]
}

/// A block the model knows: where, how long, which byte fills it.
struct Live {
    at: u64,
    len: u64,
    fill: u8,
}

fn fill(libc: &mut Libc, pid: u32, block: &Live) {
    let bytes = vec![block.fill; block.len as usize];
    libc.write_bytes(pid, block.at, &bytes).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn live_blocks_keep_their_contents_and_never_overlap(ops in prop::collection::vec(op(), 1..60)) {
        let (mut libc, pid) = on_terminal(MallocConfig::default());
        let mut live: Vec<Live> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let fill_byte = step as u8 ^ 0x5a;
            match op {
                Op::Malloc(n) => {
                    let at = libc.malloc(pid, n).unwrap();
                    let block = Live { at, len: n, fill: fill_byte };
                    fill(&mut libc, pid, &block);
                    live.push(block);
                }
                Op::Free(i) if !live.is_empty() => {
                    let block = live.swap_remove(i % live.len());
                    libc.free(pid, block.at).unwrap();
                }
                Op::Realloc(i, n) if !live.is_empty() => {
                    let i = i % live.len();
                    let at = libc.realloc(pid, live[i].at, n).unwrap();
                    if n == 0 {
                        prop_assert_eq!(at, 0);
                        live.swap_remove(i);
                        continue;
                    }
                    // The kept prefix survived the move.
                    let keep = live[i].len.min(n);
                    let mut back = vec![0; keep as usize];
                    libc.read_bytes(pid, at, &mut back).unwrap();
                    prop_assert!(back.iter().all(|&b| b == live[i].fill));
                    live[i] = Live { at, len: n, fill: fill_byte };
                    fill(&mut libc, pid, &live[i]);
                }
                _ => {}
            }
            // Every live block still holds its bytes, and none overlap.
            for block in &live {
                let mut back = vec![0; block.len as usize];
                libc.read_bytes(pid, block.at, &mut back).unwrap();
                prop_assert!(back.iter().all(|&b| b == block.fill));
                prop_assert_eq!(block.at % 16, 0);
            }
            let mut spans: Vec<(u64, u64)> = live.iter().map(|b| (b.at, b.at + b.len)).collect();
            spans.sort_unstable();
            for pair in spans.windows(2) {
                prop_assert!(pair[0].1 <= pair[1].0, "{:?} overlaps {:?}", pair[0], pair[1]);
            }
        }
        for block in live.drain(..) {
            libc.free(pid, block.at).unwrap();
        }
        // Everything coalesced back into the top, no mapping left.
        let info = libc.mallinfo2(pid).unwrap();
        let heap = info.arena > 0;
        prop_assert_eq!((info.uordblks, info.ordblks, info.hblks), (0, u64::from(heap), 0));
        prop_assert_eq!(info.keepcost, info.arena);
        // And all of it can be handed out again without asking the kernel.
        if heap {
            let syscalls = libc.accounting().syscall_total();
            let whole = info.arena - 32 - 8;
            libc.malloc(pid, whole).unwrap();
            prop_assert_eq!(libc.accounting().syscall_total(), syscalls);
        }
    }
}
