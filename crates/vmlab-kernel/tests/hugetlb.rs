//! MAP_HUGETLB on the boot-time huge-page pool: data reads back, one fault
//! per 2 MiB page, fewer TLB misses than 4 KiB pages over the same range,
//! the pool taken at mmap and given back at munmap and exit, ENOMEM when
//! the pool is short, and fork (shared stays shared, private is copied).
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED};
use vmlab_kernel::frames::FrameUse;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{Errno, Kernel, KernelConfig, SignalCode, SignalKind};

const HUGE: u64 = 2 << 20;
const RW: u32 = Prot::READ.union(Prot::WRITE).bits();
const PRIVATE: u32 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
const SHARED: u32 = MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB;

/// 32 MiB of x86-64 memory with a pool of `huge` huge pages.
fn boot(huge: usize) -> Kernel {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 8192);
    config.huge_pages = huge;
    Kernel::new(config).unwrap()
}

#[test]
fn the_pool_is_contiguous_aligned_and_out_of_the_free_list() {
    let k = boot(4);
    let frames = k.frames();
    let pool: Vec<u32> = (0..frames.len() as u32)
        .filter(|&f| frames.used_for(f) == FrameUse::HugePool)
        .collect();
    assert_eq!(pool.len(), 4 * 512);
    assert_eq!(pool[0] % 512, 0, "aligned to 2 MiB");
    assert_eq!(pool[pool.len() - 1] - pool[0] + 1, 4 * 512, "contiguous");
    assert_eq!(k.huge_pool().free_pages(), 4);
    assert_eq!(k.huge_pool().page_bytes(), HUGE);
}

#[test]
fn data_reads_back_with_one_fault_per_huge_page() {
    let mut k = boot(4);
    let pid = k.spawn(0).unwrap();
    // 3 MiB rounds up to two huge pages, aligned to 2 MiB.
    let a = k.sys_mmap(pid, 0, 3 << 20, RW, PRIVATE, -1, 0).unwrap();
    assert_eq!(a % HUGE, 0);
    assert_eq!(k.huge_pool().available(), 2, "two promised at mmap");
    let before = k.counters();
    for i in 0..(2 * HUGE / 4096) {
        k.store(pid, a + i * 4096 + 8, 8, i * 3 + 1).unwrap();
    }
    for i in 0..(2 * HUGE / 4096) {
        assert_eq!(k.load(pid, a + i * 4096 + 8, 8).unwrap(), i * 3 + 1);
    }
    // Untouched bytes of a huge page read as zeros.
    assert_eq!(k.load(pid, a + HUGE + 100, 8).unwrap(), 0);
    let after = k.counters();
    assert_eq!(after.huge_faults - before.huge_faults, 2);
    assert_eq!(after.minor_faults - before.minor_faults, 2);
    assert_eq!(k.huge_pool().free_pages(), 2);
}

/// 8 MiB touched page by page, twice: with 4 KiB pages its 2048 pages
/// outrun the TLB (64 L1 and 1536 L2 entries) and every page walks each
/// round; with 2 MiB pages four entries cover it all.
#[test]
fn huge_pages_cut_tlb_misses() {
    let walks = |flags: u32| {
        let mut k = boot(4);
        let pid = k.spawn(0).unwrap();
        let a = k.sys_mmap(pid, 0, 4 * HUGE, RW, flags, -1, 0).unwrap();
        for round in 0..2 {
            for i in 0..(4 * HUGE / 4096) {
                k.store(pid, a + i * 4096, 8, round).unwrap();
            }
        }
        k.mmu().counters().walks
    };
    let small = walks(MAP_PRIVATE | MAP_ANONYMOUS);
    let huge = walks(PRIVATE);
    // 4 KiB: at least one walk for each of the 2048 pages; 2 MiB: one walk
    // per huge page (the fault's and the retry's), a handful in all.
    assert!(small >= 2048, "{small}");
    assert!(huge <= 16, "{huge}");
}

#[test]
fn munmap_and_exit_return_the_pool() {
    let mut k = boot(4);
    let pid = k.spawn(0).unwrap();
    let a = k.sys_mmap(pid, 0, 2 * HUGE, RW, PRIVATE, -1, 0).unwrap();
    k.store(pid, a, 8, 1).unwrap();
    k.store(pid, a + HUGE, 8, 2).unwrap();
    assert_eq!(k.huge_pool().free_pages(), 2);
    // An unaligned address is EINVAL; a short length rounds up.
    assert_eq!(k.sys_munmap(pid, a + 4096, 4096), Err(Errno::Einval));
    k.sys_munmap(pid, a, 4096).unwrap();
    assert_eq!(k.huge_pool().free_pages(), 3);
    assert_eq!(k.load(pid, a + HUGE, 8).unwrap(), 2);
    let b = k.sys_mmap(pid, 0, HUGE, RW, SHARED, -1, 0).unwrap();
    k.store(pid, b, 8, 3).unwrap();
    assert_eq!(k.huge_pool().free_pages(), 2);
    k.exit(pid, 0).unwrap();
    assert_eq!(k.huge_pool().free_pages(), 4);
    assert_eq!(k.huge_pool().available(), 4);
}

#[test]
fn a_short_pool_is_enomem() {
    let mut k = boot(2);
    let pid = k.spawn(0).unwrap();
    assert_eq!(
        k.sys_mmap(pid, 0, 3 * HUGE, RW, PRIVATE, -1, 0),
        Err(Errno::Enomem)
    );
    let a = k.sys_mmap(pid, 0, HUGE, RW, PRIVATE, -1, 0).unwrap();
    // The promise counts before any fault: one page is left to promise.
    assert_eq!(
        k.sys_mmap(pid, 0, 2 * HUGE, RW, PRIVATE, -1, 0),
        Err(Errno::Enomem)
    );
    k.sys_mmap(pid, 0, HUGE, RW, PRIVATE, -1, 0).unwrap();
    k.store(pid, a, 8, 7).unwrap();
    // No pool at all (Linux's default nr_hugepages = 0) is ENOMEM too.
    let mut k = boot(0);
    let pid = k.spawn(0).unwrap();
    assert_eq!(
        k.sys_mmap(pid, 0, HUGE, RW, PRIVATE, -1, 0),
        Err(Errno::Enomem)
    );
}

#[test]
fn a_pool_needs_a_huge_page_size_and_room() {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 1024);
    config.huge_pages = 2;
    let Err(e) = Kernel::new(config) else {
        panic!("4 MiB cannot hold two 2 MiB pages and the kernel")
    };
    assert!(e.0.starts_with("huge-pages: 2 huge pages of 2 MiB"), "{e}");
    let arch = presets::by_name("x86-32").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 4096);
    config.huge_pages = 1;
    // x86-32 without PAE has 4 MiB pages: one fits in 16 MiB.
    let k = Kernel::new(config).unwrap();
    assert_eq!(k.huge_pool().page_bytes(), 4 << 20);
}

#[test]
fn fork_shares_shared_huge_pages_and_copies_private_ones() {
    let mut k = boot(4);
    let parent = k.spawn(0).unwrap();
    let shared = k.sys_mmap(parent, 0, HUGE, RW, SHARED, -1, 0).unwrap();
    let private = k.sys_mmap(parent, 0, HUGE, RW, PRIVATE, -1, 0).unwrap();
    k.store(parent, shared, 8, 11).unwrap();
    k.store(parent, private, 8, 22).unwrap();
    let child = k.fork(parent).unwrap();
    // The private mapping was copied into a page of its own.
    assert_eq!(k.huge_pool().free_pages(), 1);
    assert_eq!(k.load(child, private, 8).unwrap(), 22);
    k.store(child, private, 8, 33).unwrap();
    k.store(child, shared, 8, 44).unwrap();
    assert_eq!(k.load(parent, private, 8).unwrap(), 22);
    assert_eq!(k.load(parent, shared, 8).unwrap(), 44);
    k.exit(child, 0).unwrap();
    assert_eq!(k.huge_pool().free_pages(), 2, "the child's copy is back");
    assert_eq!(k.load(parent, shared, 8).unwrap(), 44);
    // A fork whose private copy does not fit in the pool fails.
    let big = k.sys_mmap(parent, 0, 2 * HUGE, RW, PRIVATE, -1, 0).unwrap();
    k.store(parent, big, 8, 1).unwrap();
    assert_eq!(k.fork(parent), Err(Errno::Enomem));
    assert_eq!(k.huge_pool().available(), 0);
    assert_eq!(k.load(parent, big, 8).unwrap(), 1);
}

#[test]
fn huge_pages_are_never_swapped() {
    // 96 frames of ordinary memory besides the pool, and 4 MiB of churn.
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 1024 + 128);
    config.huge_pages = 2;
    let mut k = Kernel::new(config).unwrap();
    let pid = k.spawn(0).unwrap();
    let h = k.sys_mmap(pid, 0, HUGE, RW, PRIVATE, -1, 0).unwrap();
    k.store(pid, h, 8, 5).unwrap();
    let a = k
        .sys_mmap(pid, 0, 4 << 20, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    for i in 0..1024 {
        k.store(pid, a + i * 4096, 8, i).unwrap();
    }
    assert!(k.counters().swap_outs > 0);
    let faults = k.counters().huge_faults;
    assert_eq!(k.load(pid, h, 8).unwrap(), 5);
    assert_eq!(k.counters().huge_faults, faults, "still mapped");
}

#[test]
fn mmap_hugetlb_of_a_file_is_einval() {
    let mut k = boot(1);
    let pid = k.spawn(0).unwrap();
    let fd = k
        .sys_open(
            pid,
            "/f",
            vmlab_kernel::abi::O_RDWR | vmlab_kernel::abi::O_CREAT,
            0o644,
        )
        .unwrap();
    assert_eq!(
        k.sys_mmap(pid, 0, HUGE, RW, MAP_SHARED | MAP_HUGETLB, fd, 0),
        Err(Errno::Einval)
    );
}

#[test]
fn mprotect_changes_whole_huge_pages_only() {
    let mut k = boot(2);
    let pid = k.spawn(0).unwrap();
    let a = k.sys_mmap(pid, 0, 2 * HUGE, RW, PRIVATE, -1, 0).unwrap();
    k.store(pid, a + HUGE, 8, 9).unwrap();
    // Cutting a huge page is EINVAL, as Linux's hugetlb split refuses.
    assert_eq!(
        k.sys_mprotect(pid, a + 4096, 4096, Prot::READ.bits()),
        Err(Errno::Einval)
    );
    k.sys_mprotect(pid, a + HUGE, HUGE, Prot::READ.bits())
        .unwrap();
    assert_eq!(k.load(pid, a + HUGE, 8).unwrap(), 9);
    k.store(pid, a, 8, 1).unwrap();
    k.sys_mprotect(pid, a + HUGE, HUGE, RW).unwrap();
    k.store(pid, a + HUGE + 64, 8, 2).unwrap();
    assert_eq!(k.load(pid, a + HUGE + 64, 8).unwrap(), 2);
    k.sys_mprotect(pid, a, HUGE, Prot::READ.bits()).unwrap();
    let e = k.store(pid, a + 64, 8, 3).unwrap_err();
    assert_eq!(
        (e.kind, e.code),
        (SignalKind::Sigsegv, SignalCode::SegvAccerr)
    );
}
