//! End-to-end checks of the kernel API: demand-zero pages, swapping under
//! every policy with no frame or slot leaked, copy-on-write fork, signals.
#![allow(clippy::unwrap_used)]
use vmlab_hw::arch::presets;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{ExitStatus, Kernel, KernelConfig, SignalCode, SignalKind};

fn kernel(arch: &str, frames: usize, policy: &str) -> Kernel {
    let arch = presets::by_name(arch).unwrap().unwrap();
    let mut config = KernelConfig::new(arch, frames);
    config.policy = policy.into();
    config.swap_slots = 256;
    Kernel::new(config).unwrap()
}

#[test]
fn demand_zero_then_store_and_load() {
    let mut k = kernel("x86-64", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 8192, Prot::READ | Prot::WRITE, false, false)
        .unwrap();
    assert_eq!(k.load(pid, a + 8, 8).unwrap(), 0);
    assert_eq!(k.counters().zero_page_maps, 1);
    k.store(pid, a + 8, 8, 0x1122_3344_5566_7788).unwrap();
    assert_eq!(k.load(pid, a + 8, 8).unwrap(), 0x1122_3344_5566_7788);
    assert_eq!(k.load(pid, a + 9, 2).unwrap(), 0x6677);
    // Crossing the page boundary.
    k.store(pid, a + 4092, 8, 0x0102_0304_0506_0708).unwrap();
    assert_eq!(k.load(pid, a + 4092, 8).unwrap(), 0x0102_0304_0506_0708);
}

#[test]
fn swapping_keeps_every_byte() {
    for policy in vmlab_kernel::policy::NAMES {
        if *policy == "opt" {
            continue;
        }
        let mut k = kernel("x86-64", 12, policy);
        let pid = k.spawn(0).unwrap();
        let pages = 40u64;
        let a = k
            .mmap_anonymous(pid, 0, pages * 4096, Prot::READ | Prot::WRITE, false, false)
            .unwrap();
        for i in 0..pages {
            k.store(pid, a + i * 4096 + i, 8, i * 7 + 1).unwrap();
        }
        for round in 0..2 {
            for i in 0..pages {
                assert_eq!(
                    k.load(pid, a + i * 4096 + i, 8).unwrap(),
                    i * 7 + 1,
                    "{policy} round {round} page {i}"
                );
            }
        }
        assert!(
            k.counters().swap_outs > 0 && k.counters().major_faults > 0,
            "{policy}"
        );
        k.exit(pid, 0).unwrap();
        assert_eq!(
            k.wait(0, Some(pid)).unwrap(),
            Some((pid, ExitStatus::Exited(0)))
        );
        assert_eq!(k.frames().free_count(), 11, "{policy}: frames leaked");
        assert_eq!(k.swap().used(), 0, "{policy}: swap slots leaked");
    }
}

#[test]
fn fork_copies_on_write() {
    let mut k = kernel("riscv-sv39", 64, "clock");
    let parent = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(parent, 0, 4096, Prot::READ | Prot::WRITE, false, false)
        .unwrap();
    k.store(parent, a, 4, 0xAAAA).unwrap();
    let child = k.fork(parent).unwrap();
    assert_eq!(k.load(child, a, 4).unwrap(), 0xAAAA);
    k.store(child, a, 4, 0xBBBB).unwrap();
    assert_eq!(k.load(parent, a, 4).unwrap(), 0xAAAA);
    assert_eq!(k.load(child, a, 4).unwrap(), 0xBBBB);
    assert_eq!(k.counters().cow_copies, 1);
    k.exit(child, 3).unwrap();
    assert_eq!(
        k.wait(parent, None).unwrap(),
        Some((child, ExitStatus::Exited(3)))
    );
    k.store(parent, a, 4, 0xCCCC).unwrap();
    assert_eq!(k.counters().cow_reuses, 1);
}

#[test]
fn bad_accesses_signal() {
    let mut k = kernel("x86-64", 64, "fifo");
    let pid = k.spawn(0).unwrap();
    let err = k.load(pid, 0x1000, 4).unwrap_err();
    assert_eq!(
        (err.kind, err.code),
        (SignalKind::Sigsegv, SignalCode::SegvMaperr)
    );
    let status = k.wait(0, Some(pid)).unwrap().unwrap().1;
    assert!(matches!(status, ExitStatus::Signaled(s) if s.code == SignalCode::SegvMaperr));
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 4096, Prot::READ, false, false)
        .unwrap();
    let err = k.store(pid, a, 1, 1).unwrap_err();
    assert_eq!(err.code, SignalCode::SegvAccerr);
}

#[test]
fn background_reclaim_keeps_frames_free() {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 24);
    config.swap_slots = 256;
    config.watermarks = (4, 8);
    let mut k = Kernel::new(config).unwrap();
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 64 * 4096, Prot::READ | Prot::WRITE, false, false)
        .unwrap();
    for i in 0..64u64 {
        k.store(pid, a + i * 4096, 8, i).unwrap();
        // Reclaim runs as soon as free frames dip below the low watermark.
        assert!(
            k.frames().free_count() >= 4,
            "page {i}: {} free",
            k.frames().free_count()
        );
    }
    assert!(k.counters().background_evictions > 0);
    for i in 0..64u64 {
        assert_eq!(k.load(pid, a + i * 4096, 8).unwrap(), i);
    }
}

/// Process 1 keeps a small working set while process 2 sweeps a large one:
/// under global replacement the sweep steals process 1's frames, under
/// local replacement it evicts only its own pages.
fn working_set_faults(scope: vmlab_kernel::ReplacementScope) -> u64 {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 48);
    config.swap_slots = 512;
    config.scope = scope;
    let mut k = Kernel::new(config).unwrap();
    let small = k.spawn(0).unwrap();
    let big = k.spawn(0).unwrap();
    let rw = Prot::READ | Prot::WRITE;
    let a = k
        .mmap_anonymous(small, 0, 8 * 4096, rw, false, false)
        .unwrap();
    let b = k
        .mmap_anonymous(big, 0, 200 * 4096, rw, false, false)
        .unwrap();
    for round in 0..5u64 {
        for i in 0..8 {
            k.store(small, a + i * 4096, 8, round).unwrap();
        }
        for i in 0..200 {
            k.store(big, b + i * 4096, 8, round).unwrap();
        }
    }
    k.process_counters(small).unwrap().major_faults
}

#[test]
fn local_replacement_protects_a_small_working_set() {
    assert_eq!(working_set_faults(vmlab_kernel::ReplacementScope::Local), 0);
    assert!(working_set_faults(vmlab_kernel::ReplacementScope::Global) > 0);
}

#[test]
fn backed_memory_reads_in_and_writes_back_without_swap() {
    let c = backed_memory_through_few_frames("lru");
    assert_eq!(c.write_backs + c.clean_drops, c.evictions);
}

/// WSClock writes old dirty pages back ahead of their eviction: trace
/// mode's pages go to the backing store, as their evictions do, never
/// to swap (they did: 18 pages of this test went to swap).
#[test]
fn pages_cleaned_ahead_of_eviction_go_back_to_the_backing_store() {
    let c = backed_memory_through_few_frames("wsclock:tau=20");
    assert!(c.write_backs + c.clean_drops > c.evictions, "{c:?}");
}

/// 64 backed pages stored to, then loaded, through 24 frames under
/// `policy`; the kernel's counts after checks common to every policy.
fn backed_memory_through_few_frames(policy: &str) -> vmlab_kernel::KernelCounters {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut config = KernelConfig::new(arch, 24);
    config.policy = policy.to_string();
    let mut k = Kernel::new(config).unwrap();
    let pid = k.spawn(0).unwrap();
    let a = k
        .map_backed(pid, None, 64 * 4096, Prot::READ | Prot::WRITE)
        .unwrap();
    // 64 pages through far fewer frames, twice: every touch of a page not
    // resident reads it in; the first pass's stores make evictions write back.
    for i in 0..64u64 {
        k.store(pid, a + i * 4096, 8, i).unwrap();
    }
    for i in 0..64u64 {
        k.load(pid, a + i * 4096, 8).unwrap();
    }
    let c = k.counters();
    assert_eq!(c.backing_reads, c.major_faults);
    assert_eq!(
        c.backing_reads, 128,
        "two passes of 64 pages, none resident twice"
    );
    assert!(c.write_backs > 0 && c.clean_drops > 0);
    assert_eq!((c.swap_outs, k.swap().used()), (0, 0), "{policy}");
    k.exit(pid, 0).unwrap();
    k.wait(0, Some(pid)).unwrap();
    assert_eq!(k.frames().free_count(), 23, "frames leaked");
    c
}
