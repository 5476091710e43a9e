//! Hand-checked scenarios of the kernel's memory manager, each with the
//! counts a textbook (or Linux) predicts: demand-zero pages and the zero
//! page, swap-in as a major fault and the swap cache's clean drop,
//! copy-on-write (copy when shared, reuse when alone, shootdowns), stack
//! growth under the Linux, Pintos and xv6 rules, the OOM killer, execve,
//! munmap, brk and mprotect, TLB flushes on context switches with and
//! without ASIDs, and the keys the replacement policies with ghosts know
//! shared pages by.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_kernel::frames::{FrameUse, Pid};
use vmlab_kernel::kernel::task_size;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{
    ExitStatus, Kernel, KernelConfig, Personality, ReplacementScope, Signal, SignalCode, SignalKind,
};

const RW: Prot = Prot::READ.union(Prot::WRITE);
const PAGE: u64 = 4096;

fn config(arch: &str, frames: usize, policy: &str) -> KernelConfig {
    let arch = presets::by_name(arch).unwrap().unwrap();
    let mut config = KernelConfig::new(arch, frames);
    config.policy = policy.into();
    config.swap_slots = 256;
    config
}

fn boot(arch: &str, frames: usize, policy: &str) -> Kernel {
    Kernel::new(config(arch, frames, policy)).unwrap()
}

/// Frames holding user pages.
fn anon_frames(k: &Kernel) -> usize {
    let frames = k.frames();
    (0..frames.len() as u32)
        .filter(|&f| frames.used_for(f) == FrameUse::Anon)
        .count()
}

/// A machine of 64 frames running one process with two pages of private
/// anonymous memory, written (1 in the first, 2 in the second): the
/// kernel, the process and the pages' address.
fn two_written_pages(arch: &str, policy: &str) -> (Kernel, Pid, u64) {
    let mut k = boot(arch, 64, policy);
    let pid = k.spawn(0).unwrap();
    let a = map_written_pair(&mut k, pid, false, 1);
    (k, pid, a)
}

/// Maps two pages of anonymous memory (`shared` or private) for `pid` and
/// writes `first` in the first and `first + 1` in the second; their address.
fn map_written_pair(k: &mut Kernel, pid: Pid, shared: bool, first: u64) -> u64 {
    let a = k
        .mmap_anonymous(pid, 0, 2 * PAGE, RW, shared, false)
        .unwrap();
    k.store(pid, a, 8, first).unwrap();
    k.store(pid, a + PAGE, 8, first + 1).unwrap();
    a
}

/// Unmaps the second page of the shared pair at `s` (the object, still
/// mapped through the first, keeps it) and maps a private page there,
/// written with `value`.
fn private_page_over_second(k: &mut Kernel, pid: Pid, s: u64, value: u64) {
    k.munmap(pid, s + PAGE, PAGE).unwrap();
    k.mmap_anonymous(pid, s + PAGE, PAGE, RW, false, true)
        .unwrap();
    k.store(pid, s + PAGE, 8, value).unwrap();
}

fn segv(addr: u64, code: SignalCode) -> Signal {
    Signal {
        kind: SignalKind::Sigsegv,
        code,
        addr,
    }
}

/// The top of the stack (exclusive) of a fresh process: one page below
/// the end of user space.
fn stack_top(k: &Kernel) -> u64 {
    task_size(k.arch()) - k.page_bytes()
}

#[test]
fn demand_zero_read_maps_the_zero_page_and_first_write_allocates() {
    let mut k = boot("x86-64", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 2 * PAGE, RW, false, false)
        .unwrap();

    // A read of untouched memory: the zero page, a minor fault, no frame.
    assert_eq!(k.load(pid, a + 100, 8).unwrap(), 0);
    let c = k.counters();
    assert_eq!(
        (c.zero_page_maps, c.minor_faults, c.major_faults),
        (1, 1, 0)
    );
    let p = k.process_counters(pid).unwrap();
    assert_eq!((p.resident_pages, p.minor_faults), (0, 1));
    assert_eq!(anon_frames(&k), 0);

    // The first write gets a zeroed frame of its own (not a COW copy).
    k.store(pid, a + 100, 4, 0xdead_beef).unwrap();
    let c = k.counters();
    assert_eq!((c.zero_fills, c.cow_copies, c.minor_faults), (1, 0, 2));
    assert_eq!(k.process_counters(pid).unwrap().resident_pages, 1);
    assert_eq!(anon_frames(&k), 1);
    assert_eq!(k.load(pid, a + 100, 4).unwrap(), 0xdead_beef);
    assert_eq!(k.load(pid, a + 104, 4).unwrap(), 0, "the rest stays zero");

    // A first write with no read before it: straight to a zeroed frame.
    k.store(pid, a + PAGE, 1, 7).unwrap();
    let c = k.counters();
    assert_eq!((c.zero_page_maps, c.zero_fills, c.minor_faults), (1, 2, 3));
    assert_eq!(k.process_counters(pid).unwrap().resident_pages, 2);
}

#[test]
fn swap_in_is_a_major_fault_and_the_swap_cache_drops_clean_pages() {
    // 16 frames: the zero page, four tables, eleven for user pages.
    let mut k = boot("x86-64", 16, "fifo");
    let pid = k.spawn(0).unwrap();
    let pages = 40u64;
    let a = k
        .mmap_anonymous(pid, 0, pages * PAGE, RW, false, false)
        .unwrap();
    for i in 0..pages {
        k.store(pid, a + i * PAGE, 8, 1000 + i).unwrap();
    }
    let c = k.counters();
    assert!(c.swap_outs > 0 && c.swap_ins == 0 && c.major_faults == 0);

    // Reading everything back swaps it in: one major fault per swap-in.
    for i in 0..pages {
        assert_eq!(k.load(pid, a + i * PAGE, 8).unwrap(), 1000 + i);
    }
    let after_first = k.counters();
    assert!(after_first.swap_ins > 0);
    assert_eq!(after_first.major_faults, after_first.swap_ins);
    assert_eq!(
        k.process_counters(pid).unwrap().major_faults,
        after_first.swap_ins
    );

    // Every resident page now came from swap unmodified. A second pass
    // evicts only such pages: each is dropped, nothing is written.
    for i in 0..pages {
        assert_eq!(k.load(pid, a + i * PAGE, 8).unwrap(), 1000 + i);
    }
    let c = k.counters();
    assert_eq!(
        c.swap_outs, after_first.swap_outs,
        "clean pages were written"
    );
    assert!(c.clean_drops >= after_first.clean_drops + pages - 11);
    assert_eq!(c.major_faults - after_first.major_faults, pages);

    // A page modified after its swap-in must be written again.
    k.store(pid, a, 8, 5).unwrap();
    for i in 1..pages {
        k.load(pid, a + i * PAGE, 8).unwrap();
    }
    assert!(k.counters().swap_outs > c.swap_outs);
    assert_eq!(k.load(pid, a, 8).unwrap(), 5);

    k.exit(pid, 0).unwrap();
    k.wait(0, Some(pid)).unwrap();
    assert_eq!(k.frames().free_count(), 15);
    assert_eq!(k.swap().used(), 0);
}

#[test]
fn copy_on_write_copies_shared_pages_and_reuses_the_last_copy() {
    let (mut k, parent, a) = two_written_pages("riscv-sv39", "clock");
    let user = anon_frames(&k);
    let child = k.fork(parent).unwrap();
    // Fork shares every page: no user frame is copied.
    assert_eq!(anon_frames(&k), user);
    assert_eq!(k.process_counters(child).unwrap().resident_pages, 2);
    assert_eq!(k.load(child, a, 8).unwrap(), 1);

    // The child writes the first page: shared, so it is copied, and the
    // child's stale read-only translation is shot down.
    let before = k.counters();
    k.store(child, a, 8, 10).unwrap();
    let c = k.counters();
    assert_eq!((c.cow_copies, c.cow_reuses), (1, 0));
    assert!(c.tlb_shootdowns > before.tlb_shootdowns);
    assert_eq!(anon_frames(&k), user + 1);
    assert_eq!(k.load(parent, a, 8).unwrap(), 1);
    assert_eq!(k.load(child, a, 8).unwrap(), 10);

    // The parent now holds the only reference: write in place, no copy.
    k.store(parent, a, 8, 11).unwrap();
    let c = k.counters();
    assert_eq!((c.cow_copies, c.cow_reuses), (1, 1));
    assert_eq!(anon_frames(&k), user + 1);

    // The parent writes the second page first: copied for the parent; then
    // the child's write reuses the original.
    k.store(parent, a + PAGE, 8, 20).unwrap();
    k.store(child, a + PAGE, 8, 21).unwrap();
    let c = k.counters();
    assert_eq!((c.cow_copies, c.cow_reuses), (2, 2));
    assert_eq!(anon_frames(&k), user + 2);
    assert_eq!(k.load(parent, a + PAGE, 8).unwrap(), 20);
    assert_eq!(k.load(child, a + PAGE, 8).unwrap(), 21);
    assert_eq!(k.load(parent, a, 8).unwrap(), 11);
    assert_eq!(k.load(child, a, 8).unwrap(), 10);

    k.exit(child, 0).unwrap();
    assert_eq!(
        k.wait(parent, None).unwrap(),
        Some((child, ExitStatus::Exited(0)))
    );
    assert_eq!(anon_frames(&k), user);
}

/// The keys the replacement policy knows the user pages by, each once.
fn distinct_policy_keys(k: &Kernel) -> Result<(), String> {
    let frames = k.frames();
    let mut seen = std::collections::HashMap::new();
    for f in (0..frames.len() as u32).filter(|&f| frames.used_for(f).is_user()) {
        if let Some(key) = k.policy_key(f) {
            if let Some(other) = seen.insert(key, f) {
                return Err(format!("frames {other} and {f} share key {key:#x}"));
            }
        }
    }
    Ok(())
}

/// Regression: a page shared after fork kept its first owner's key when
/// that owner let go of it (a copy-on-write copy of its own, an exec, a
/// partial unmap of a shared mapping), so that owner's next page at the
/// address had the same key, and ARC, 2Q and S3-FIFO ghosted one for the
/// other.
#[test]
fn pages_left_behind_by_their_key_owner_get_keys_of_their_own() {
    for policy in ["arc", "2q", "s3-fifo"] {
        let (mut k, parent, a) = two_written_pages("x86-64", policy);
        let child = k.fork(parent).unwrap();
        // The parent copies the first page for itself: the original stays
        // with the child.
        k.store(parent, a, 8, 3).unwrap();
        distinct_policy_keys(&k)
            .map_err(|e| format!("{policy}, copy: {e}"))
            .unwrap();
        // The parent execs and maps new pages where the old ones were: the
        // second page stays with the child.
        k.execve(parent).unwrap();
        let b = k
            .mmap_anonymous(parent, a, 2 * PAGE, RW, false, true)
            .unwrap();
        k.store(parent, b, 8, 4).unwrap();
        k.store(parent, b + PAGE, 8, 5).unwrap();
        distinct_policy_keys(&k)
            .map_err(|e| format!("{policy}, exec: {e}"))
            .unwrap();
        assert_eq!(k.load(child, a, 8).unwrap(), 1);
        assert_eq!(k.load(child, a + PAGE, 8).unwrap(), 2);
        // A shared object's page outlives the unmap of its address, and a
        // private page mapped there is another page.
        let s = map_written_pair(&mut k, child, true, 6);
        private_page_over_second(&mut k, child, s, 8);
        distinct_policy_keys(&k)
            .map_err(|e| format!("{policy}, shared: {e}"))
            .unwrap();
    }
}

/// Regression (found by the reference model's soak): under local
/// replacement a dead process's frames go to the policy of a process that
/// maps them, and a shared object's page went with that process's key
/// instead of the object's, so the process's private page at the same
/// address later shared it.
#[test]
fn adopted_shared_pages_keep_the_objects_key() {
    for policy in ["arc", "2q", "s3-fifo"] {
        let mut config = config("x86-64", 64, policy);
        config.scope = ReplacementScope::Local;
        let mut k = Kernel::new(config).unwrap();
        let parent = k.spawn(0).unwrap();
        let s = map_written_pair(&mut k, parent, true, 1);
        let child = k.fork(parent).unwrap();
        // The parent's policy held the object's pages; the child's adopts
        // them.
        k.exit(parent, 0).unwrap();
        // The second page outlives the child's unmap of it (the object is
        // still mapped), and a private page takes its address.
        private_page_over_second(&mut k, child, s, 3);
        distinct_policy_keys(&k)
            .map_err(|e| format!("{policy}: {e}"))
            .unwrap();
        assert_eq!(k.load(child, s, 8).unwrap(), 1);
    }
}

/// The policy's key of every user frame.
fn policy_keys(k: &Kernel) -> Vec<(u32, Option<u64>)> {
    let frames = k.frames();
    (0..frames.len() as u32)
        .filter(|&f| frames.used_for(f).is_user())
        .map(|f| (f, k.policy_key(f)))
        .collect()
}

/// Regression: a victim the kernel could not evict (dirty, swap full) went
/// back to its policy under the key of its most recent mapper instead of
/// the key the policy knew it by: a shared object's page under a process's
/// key, a page shared after fork under the child's instead of the parent's.
#[test]
fn victims_kept_for_want_of_swap_keep_their_keys() {
    for policy in ["arc", "2q", "s3-fifo"] {
        let mut config = config("x86-64", 24, policy);
        config.swap_slots = 0;
        let mut k = Kernel::new(config).unwrap();
        // The policy's oldest pages: a shared object's pair, then a
        // private pair shared with a child through fork.
        let parent = k.spawn(0).unwrap();
        let s = map_written_pair(&mut k, parent, true, 1);
        let a = map_written_pair(&mut k, parent, false, 3);
        let child = k.fork(parent).unwrap();
        let before = policy_keys(&k);
        // A hog fills memory; with no swap the victim is kept and the
        // killer takes the hog, the largest process. The kept page goes
        // back as one seen again, so the next hog's victim is the next of
        // the four.
        for hogs in 1..=4 {
            let hog = k.spawn(0).unwrap();
            let h = k
                .mmap_anonymous(hog, 0, 64 * PAGE, RW, false, false)
                .unwrap();
            let killed = (0..64).find(|&i| k.store(hog, h + i * PAGE, 8, i).is_err());
            assert!(killed.is_some(), "{policy}: hog {hogs} was never killed");
            assert_eq!(k.counters().oom_kills, hogs, "{policy}");
            k.wait(0, Some(hog)).unwrap();
            let after = policy_keys(&k);
            assert_eq!(after, before, "{policy}: keys after hog {hogs}");
        }
        assert_eq!(k.load(parent, s + PAGE, 8).unwrap(), 2);
        assert_eq!(k.load(child, a + PAGE, 8).unwrap(), 4);
    }
}

#[test]
fn linux_stack_grows_within_rlimit_stack() {
    let mut k = boot("x86-64", 64, "lru");
    let top = stack_top(&k);
    let limit = k.config().stack_limit;
    assert_eq!(limit, 8 << 20);
    let pid = k.spawn(0).unwrap();
    // 1 MiB below the top: the stack grows down to it.
    k.store(pid, top - (1 << 20), 8, 42).unwrap();
    assert_eq!(k.counters().stack_growths, 1);
    assert_eq!(k.load(pid, top - (1 << 20), 8).unwrap(), 42);
    let stack = *k.regions(pid).unwrap().find(top - 8).unwrap();
    assert_eq!((stack.start, stack.end), (top - (1 << 20), top));
    // Everything between is stack now, and reads zero.
    assert_eq!(k.load(pid, top - (1 << 19), 8).unwrap(), 0);
    // The lowest page the limit allows.
    k.store(pid, top - limit, 1, 1).unwrap();
    assert_eq!(k.counters().stack_growths, 2);

    // One page further is beyond RLIMIT_STACK: SIGSEGV, SEGV_MAPERR.
    let pid = k.spawn(0).unwrap();
    let below = top - limit - 1;
    let err = k.store(pid, below, 1, 1).unwrap_err();
    assert_eq!(err, segv(below, SignalCode::SegvMaperr));
    assert_eq!(k.counters().stack_growths, 2);
    assert_eq!(
        k.wait(0, Some(pid)).unwrap(),
        Some((pid, ExitStatus::Signaled(err)))
    );
}

#[test]
fn pintos_stack_grows_only_near_the_stack_pointer() {
    let mut config = config("x86-64", 64, "lru");
    config.personality = Personality::Pintos;
    let mut k = Kernel::new(config).unwrap();
    let top = stack_top(&k);
    let sp = top - 5 * PAGE + 40;

    // 32 bytes below the stack pointer (a PUSHA) grows the stack.
    let pid = k.spawn(0).unwrap();
    k.set_stack_pointer(pid, sp).unwrap();
    k.store(pid, sp - 32, 8, 9).unwrap();
    assert_eq!(k.counters().stack_growths, 1);
    assert_eq!(k.load(pid, sp - 32, 8).unwrap(), 9);
    assert_eq!(k.load(pid, sp + 64, 8).unwrap(), 0);

    // 33 bytes below, in an unmapped page: killed with exit status -1.
    let pid = k.spawn(0).unwrap();
    let sp = top - 5 * PAGE + 16;
    k.set_stack_pointer(pid, sp).unwrap();
    let err = k.store(pid, sp - 33, 1, 1).unwrap_err();
    assert_eq!(err.kind, SignalKind::Sigsegv);
    assert_eq!(
        k.wait(0, Some(pid)).unwrap(),
        Some((pid, ExitStatus::Exited(-1)))
    );

    // With the stack pointer at the top, a touch below the stack page is
    // far from it.
    let pid = k.spawn(0).unwrap();
    k.store(pid, top - 8, 8, 1).unwrap();
    assert!(k.load(pid, top - PAGE - 8, 8).is_err());
    assert_eq!(
        k.wait(0, Some(pid)).unwrap(),
        Some((pid, ExitStatus::Exited(-1)))
    );
    assert_eq!(k.counters().stack_growths, 1);
}

#[test]
fn xv6_stack_is_one_page_with_a_guard_below() {
    let mut config = config("riscv-sv39", 64, "fifo");
    config.personality = Personality::Xv6;
    let mut k = Kernel::new(config).unwrap();
    let top = stack_top(&k);
    let pid = k.spawn(0).unwrap();
    k.set_stack_pointer(pid, top - PAGE + 8).unwrap();
    k.store(pid, top - 8, 8, 3).unwrap();
    k.store(pid, top - PAGE, 8, 4).unwrap();
    assert_eq!(k.load(pid, top - 8, 8).unwrap(), 3);
    // Just below the one stack page: the guard page, however near the
    // stack pointer.
    let err = k.store(pid, top - PAGE - 8, 8, 5).unwrap_err();
    assert_eq!(err.kind, SignalKind::Sigsegv);
    assert_eq!(k.counters().stack_growths, 0);
    assert_eq!(
        k.wait(0, Some(pid)).unwrap(),
        Some((pid, ExitStatus::Exited(-1)))
    );
}

#[test]
fn out_of_memory_kills_the_largest_process_and_the_machine_goes_on() {
    let mut config = config("x86-64", 16, "lru");
    config.swap_slots = 4;
    let mut k = Kernel::new(config).unwrap();

    // A process that keeps touching new pages is killed once memory and
    // swap are full (it is the largest, and the only, process).
    let hog = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(hog, 0, 64 * PAGE, RW, false, false)
        .unwrap();
    let mut killed = None;
    for i in 0..64 {
        if let Err(e) = k.store(hog, a + i * PAGE, 8, i) {
            killed = Some(e);
            break;
        }
    }
    let err = killed.expect("the hog was never killed");
    assert_eq!(err.kind, SignalKind::Sigkill);
    assert_eq!(k.counters().oom_kills, 1);
    let reason = k.oom_reason().unwrap().to_string();
    assert!(
        reason.contains(&format!("killed process {hog}")),
        "{reason}"
    );
    let (pid, status) = k.wait(0, Some(hog)).unwrap().unwrap();
    assert_eq!(pid, hog);
    assert!(matches!(status, ExitStatus::Signaled(s) if s.kind == SignalKind::Sigkill));
    assert_eq!(k.frames().free_count(), 15, "the victim's frames came back");
    assert_eq!(k.swap().used(), 0, "the victim's slots came back");

    // A small process faulting when memory and swap are full: the killer
    // takes the largest process, not the one faulting.
    let big = k.spawn(0).unwrap();
    let small = k.spawn(0).unwrap();
    let b = k
        .mmap_anonymous(big, 0, 64 * PAGE, RW, false, false)
        .unwrap();
    let s = k
        .mmap_anonymous(small, 0, 16 * PAGE, RW, false, false)
        .unwrap();
    let mut i = 0;
    while k.swap().used() < 4 {
        k.store(big, b + i * PAGE, 8, i).unwrap();
        i += 1;
    }
    for j in 0..16 {
        k.store(small, s + j * PAGE, 8, 100 + j).unwrap();
        if k.counters().oom_kills == 2 {
            break;
        }
    }
    assert_eq!(k.counters().oom_kills, 2);
    assert!(!k.is_live(big) && k.is_live(small));
    let reason = k.oom_reason().unwrap();
    assert!(
        reason.contains(&format!("killed process {big}")),
        "{reason}"
    );
    assert!(matches!(
        k.wait(0, Some(big)).unwrap(),
        Some((_, ExitStatus::Signaled(s))) if s.kind == SignalKind::Sigkill
    ));

    // The machine stays usable: the survivor's memory is intact and a new
    // process runs.
    for j in 0..16 {
        let v = k.load(small, s + j * PAGE, 8).unwrap();
        assert!(v == 100 + j || v == 0, "page {j}: {v}");
    }
    let fresh = k.spawn(0).unwrap();
    let f = k
        .mmap_anonymous(fresh, 0, 4 * PAGE, RW, false, false)
        .unwrap();
    for j in 0..4 {
        k.store(fresh, f + j * PAGE, 8, 7 * j).unwrap();
    }
    for j in 0..4 {
        assert_eq!(k.load(fresh, f + j * PAGE, 8).unwrap(), 7 * j);
    }
    for pid in [small, fresh] {
        k.exit(pid, 0).unwrap();
        k.wait(0, Some(pid)).unwrap();
    }
    assert_eq!(k.frames().free_count(), 15);
    assert_eq!(k.swap().used(), 0);
}

#[test]
fn execve_discards_the_old_address_space() {
    let mut k = boot("aarch64-4k", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let fresh_free = k.frames().free_count();
    let a = k
        .mmap_anonymous(pid, 0, 4 * PAGE, RW, false, false)
        .unwrap();
    for i in 0..4 {
        k.store(pid, a + i * PAGE, 8, i + 1).unwrap();
    }
    k.brk(pid, k.current_brk(pid).unwrap() + PAGE).unwrap();
    assert_eq!(anon_frames(&k), 4);

    k.execve(pid).unwrap();
    assert!(k.is_live(pid));
    // Every frame of the old image is free again, tables included.
    assert_eq!(anon_frames(&k), 0);
    assert_eq!(k.frames().free_count(), fresh_free);
    assert_eq!(k.process_counters(pid).unwrap().resident_pages, 0);
    assert_eq!(k.regions(pid).unwrap().len(), 1, "only the new stack");
    // The old mapping is gone.
    let err = k.load(pid, a, 8).unwrap_err();
    assert_eq!(err, segv(a, SignalCode::SegvMaperr));
    assert!(matches!(
        k.wait(0, Some(pid)).unwrap(),
        Some((_, ExitStatus::Signaled(s))) if s.code == SignalCode::SegvMaperr
    ));
}

#[test]
fn munmap_frees_frames_and_later_access_faults() {
    let mut k = boot("x86-32", 64, "clock");
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 8 * PAGE, RW, false, false)
        .unwrap();
    k.store(pid, a, 8, 1).unwrap();
    let free = k.frames().free_count();
    for i in 1..8 {
        k.store(pid, a + i * PAGE, 8, i).unwrap();
    }
    assert_eq!(k.frames().free_count(), free - 7);
    assert_eq!(anon_frames(&k), 8);

    // A hole in the middle, then the rest.
    k.munmap(pid, a + 2 * PAGE, 3 * PAGE).unwrap();
    assert_eq!(anon_frames(&k), 5);
    assert_eq!(k.load(pid, a + PAGE, 8).unwrap(), 1);
    assert_eq!(k.load(pid, a + 5 * PAGE, 8).unwrap(), 5);
    k.munmap(pid, a, 8 * PAGE).unwrap();
    assert_eq!(anon_frames(&k), 0);
    assert!(k.frames().free_count() > free);
    assert_eq!(k.process_counters(pid).unwrap().resident_pages, 0);
    let err = k.store(pid, a + 3 * PAGE, 8, 0).unwrap_err();
    assert_eq!(err, segv(a + 3 * PAGE, SignalCode::SegvMaperr));
}

#[test]
fn brk_shrink_frees_pages_and_regrown_heap_reads_zero() {
    let mut k = boot("x86-64", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let start = k.current_brk(pid).unwrap();
    assert_eq!(k.brk(pid, start + 4 * PAGE).unwrap(), start + 4 * PAGE);
    for i in 0..4 {
        k.store(pid, start + i * PAGE, 8, 0x1111 * (i + 1)).unwrap();
    }
    assert_eq!(anon_frames(&k), 4);

    // Shrink to one page and a bit: the three pages above are freed.
    assert_eq!(k.brk(pid, start + PAGE + 8).unwrap(), start + PAGE + 8);
    assert_eq!(anon_frames(&k), 2);
    assert_eq!(k.brk(pid, start + PAGE).unwrap(), start + PAGE);
    assert_eq!(anon_frames(&k), 1);
    assert_eq!(k.process_counters(pid).unwrap().resident_pages, 1);

    // Grow again: the old contents are gone; the kept page keeps its own.
    assert_eq!(k.brk(pid, start + 4 * PAGE).unwrap(), start + 4 * PAGE);
    for i in 1..4 {
        assert_eq!(k.load(pid, start + i * PAGE, 8).unwrap(), 0, "page {i}");
    }
    assert_eq!(k.load(pid, start, 8).unwrap(), 0x1111);
    // Below the heap's start, brk refuses and reports the break in force.
    assert_eq!(k.brk(pid, start - PAGE).unwrap(), start + 4 * PAGE);
}

#[test]
fn mprotect_read_only_then_write_is_segv_accerr() {
    let mut k = boot("aarch64-4k", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 3 * PAGE, RW, false, false)
        .unwrap();
    for i in 0..3 {
        k.store(pid, a + i * PAGE, 8, 50 + i).unwrap();
    }
    k.mprotect(pid, a + PAGE, PAGE, Prot::READ).unwrap();
    // The region split in three; the pages around stay writable.
    assert_eq!(
        k.regions(pid).unwrap().overlapping(a, a + 3 * PAGE).count(),
        3
    );
    k.store(pid, a, 8, 60).unwrap();
    k.store(pid, a + 2 * PAGE, 8, 62).unwrap();
    assert_eq!(k.load(pid, a + PAGE, 8).unwrap(), 51);
    let err = k.store(pid, a + PAGE + 16, 8, 61).unwrap_err();
    assert_eq!(err, segv(a + PAGE + 16, SignalCode::SegvAccerr));
    assert_eq!(
        k.wait(0, Some(pid)).unwrap(),
        Some((pid, ExitStatus::Signaled(err)))
    );

    // PROT_NONE: even a read of a resident page is refused.
    let pid = k.spawn(0).unwrap();
    let a = k.mmap_anonymous(pid, 0, PAGE, RW, false, false).unwrap();
    k.store(pid, a, 8, 1).unwrap();
    k.mprotect(pid, a, PAGE, Prot::empty()).unwrap();
    let err = k.load(pid, a, 8).unwrap_err();
    assert_eq!(err, segv(a, SignalCode::SegvAccerr));
}

/// Ten round trips between two processes that each touch one page; the
/// kernel's flush count and the summed TLB misses across them.
fn ping_pong(arch: &str) -> (u64, u64, u64) {
    let mut k = boot(arch, 64, "lru");
    let a = k.spawn(0).unwrap();
    let b = k.spawn(0).unwrap();
    let pa = k.mmap_anonymous(a, 0, PAGE, RW, false, false).unwrap();
    let pb = k.mmap_anonymous(b, 0, PAGE, RW, false, false).unwrap();
    k.store(a, pa, 8, 1).unwrap();
    k.store(b, pb, 8, 2).unwrap();
    let misses = |k: &Kernel| -> u64 { k.mmu().tlb().counters().iter().map(|c| c.misses).sum() };
    let flushed = |k: &Kernel| -> u64 { k.mmu().tlb().counters().iter().map(|c| c.flushed).sum() };
    let (f0, m0, e0) = (k.counters().tlb_flushes, misses(&k), flushed(&k));
    let switches = k.counters().context_switches;
    for _ in 0..10 {
        assert_eq!(k.load(a, pa, 8).unwrap(), 1);
        assert_eq!(k.load(b, pb, 8).unwrap(), 2);
    }
    assert_eq!(k.counters().context_switches - switches, 20);
    (
        k.counters().tlb_flushes - f0,
        misses(&k) - m0,
        flushed(&k) - e0,
    )
}

#[test]
fn context_switches_flush_the_tlb_only_without_asids() {
    // x86-32 has no ASIDs: every switch empties the TLB, so every first
    // access after one misses.
    let (flushes, misses, flushed) = ping_pong("x86-32");
    assert_eq!(flushes, 20);
    assert!(misses >= 20, "{misses} misses");
    assert!(flushed >= 20, "{flushed} entries flushed");
    // x86-64 tags entries with PCIDs and RISC-V with ASIDs: nothing is
    // flushed and both translations stay cached.
    for arch in ["x86-64", "riscv-sv39"] {
        let (flushes, misses, flushed) = ping_pong(arch);
        assert_eq!((flushes, misses, flushed), (0, 0, 0), "{arch}");
    }
}

/// Regression: a page swapped in by a write fault kept its swap slot, so a
/// working set larger than memory held a slot per page it ever swapped in
/// and ran out of swap (an OOM kill with swap as large as memory). As
/// Linux's `should_try_to_free_swap`, a write fault's swap-in gives the
/// slot up at once: 100 pages rewritten three times on 64 frames with 64
/// swap slots stay intact, and the slots in use never exceed what is not
/// resident.
#[test]
fn write_faults_free_swap_slots_so_a_working_set_larger_than_memory_fits() {
    let mut c = config("x86-64", 64, "lru");
    c.swap_slots = 64;
    let mut k = Kernel::new(c).unwrap();
    let pid = k.spawn(0).unwrap();
    let pages = 100;
    let base = k
        .mmap_anonymous(pid, 0, pages * PAGE, RW, false, false)
        .unwrap();
    for round in 0..3 {
        for i in 0..pages {
            k.store(pid, base + i * PAGE, 8, round * 1000 + i).unwrap();
        }
        let resident = k.process_counters(pid).unwrap().resident_pages;
        assert!(
            u64::from(k.swap().used()) <= pages - resident,
            "round {round}"
        );
    }
    for i in 0..pages {
        assert_eq!(k.load(pid, base + i * PAGE, 8), Ok(2000 + i));
    }
    assert_eq!(k.counters().oom_kills, 0);
    assert!(k.counters().swap_ins >= pages);
}

/// Regression: trace mode maps a trace's pages one at a time, and every
/// page used to become a region of its own (a million regions for a
/// million-page trace, each fault searching them). The backing store is
/// addressed like memory, so neighbouring pages now continue each other
/// and merge, in whatever order they are mapped.
#[test]
fn backed_pages_mapped_one_at_a_time_merge_into_one_region() {
    let mut k = boot("x86-64", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let base = 0x4000_0000;
    for i in [2, 0, 1, 4, 3] {
        k.map_backed(pid, Some(base + i * PAGE), PAGE, RW).unwrap();
    }
    let regions: Vec<(u64, u64)> = k
        .regions(pid)
        .unwrap()
        .overlapping(base, base + 5 * PAGE)
        .map(|r| (r.start, r.end))
        .collect();
    assert_eq!(regions, [(base, base + 5 * PAGE)]);
    for i in 0..5 {
        assert_eq!(k.load(pid, base + i * PAGE, 8), Ok(0));
    }
}

#[test]
fn place_heap_moves_an_empty_heap_and_brk_grows_from_there() {
    let mut k = boot("x86-64", 64, "lru");
    let pid = k.spawn(0).unwrap();
    let at = 0x403_5000;
    k.place_heap(pid, at).unwrap();
    assert_eq!(k.current_brk(pid).unwrap(), at);
    assert_eq!(k.brk(pid, at + 3 * PAGE).unwrap(), at + 3 * PAGE);
    let heap = k.regions(pid).unwrap().find(at).copied().unwrap();
    assert_eq!((heap.start, heap.end), (at, at + 3 * PAGE));
    // Below the placed start the break cannot go; a grown heap stays put.
    assert_eq!(k.brk(pid, at - PAGE).unwrap(), at + 3 * PAGE);
    assert_eq!(
        k.place_heap(pid, 0x800_0000),
        Err(vmlab_kernel::Errno::Einval)
    );
}

/// A process that exits gives its page tables back at once, and the
/// zombie, waiting to be reaped, counts none: it once reported the bytes of
/// the tables it had freed (a Linux zombie has no mm at all).
#[test]
fn a_zombie_holds_no_page_tables() {
    let mut k = boot("x86-64", 64, "lru");
    let free_at_start = k.frames().free_count();
    let pid = k.spawn(0).unwrap();
    let a = k
        .mmap_anonymous(pid, 0, 4 * PAGE, RW, false, false)
        .unwrap();
    k.store(pid, a, 8, 7).unwrap();
    assert!(k.page_table_bytes(pid).unwrap() >= 4 * PAGE);
    k.exit(pid, 0).unwrap();
    assert_eq!(k.page_table_bytes(pid), Some(0));
    assert_eq!(k.frames().free_count(), free_at_start);
    k.wait(0, Some(pid)).unwrap();
    assert_eq!(k.page_table_bytes(pid), None);
}

/// Regression: the kernel never delivered the clock interrupt, so aging
/// and NFU in the whole machine kept every counter at 0 and evicted in
/// FIFO order, and NRU never cleared a referenced flag. Now every
/// `tick_interval` references each policy that samples reference bits
/// reads and clears them through the page tables, the global policy or,
/// under local replacement, every process's own: each referenced page's
/// entry is cleared, and its TLB entry shot down.
#[test]
fn clock_ticks_clear_the_referenced_flags_of_every_process() {
    use vmlab_kernel::explain::{ExplainLog, Explained, KernelEvent};
    for scope in [ReplacementScope::Global, ReplacementScope::Local] {
        for policy in ["aging", "nfu", "nru"] {
            let mut config = config("x86-64", 64, policy);
            config.scope = scope;
            config.policy_params.tick_interval = 10;
            let mut k = Kernel::new(config).unwrap();
            let a = k.spawn(0).unwrap();
            let b = k.spawn(0).unwrap();
            // Two pages each: four stores, references 0 to 3.
            let at_a = map_written_pair(&mut k, a, false, 1);
            let at_b = map_written_pair(&mut k, b, false, 5);
            k.set_explain(Some(ExplainLog::window(0, u64::MAX)));
            // References 4 to 9, then the tick before reference 10.
            for _ in 0..3 {
                k.load(a, at_a, 8).unwrap();
                k.load(b, at_b, 8).unwrap();
            }
            assert_eq!(k.counters().references, 10);
            k.load(a, at_a + PAGE, 8).unwrap();
            let events: Vec<(Pid, KernelEvent)> = k
                .explain_log()
                .unwrap()
                .records()
                .iter()
                .filter_map(|r| match &r.event {
                    Explained::Kernel(e) => Some((r.pid, e.clone())),
                    Explained::Hardware(_) => None,
                })
                .collect();
            let tick = events
                .iter()
                .position(|(_, e)| matches!(e, KernelEvent::ClockTick { references: 10, .. }))
                .unwrap_or_else(|| panic!("{policy} {scope:?}: no tick: {events:?}"));
            let mut shot: Vec<(Pid, u64)> = events[tick..]
                .iter()
                .filter_map(|(_, e)| match e {
                    KernelEvent::Shootdown { target, vaddr } => Some((*target, *vaddr)),
                    _ => None,
                })
                .collect();
            shot.sort();
            assert_eq!(
                shot,
                [(a, at_a), (a, at_a + PAGE), (b, at_b), (b, at_b + PAGE)],
                "{policy} {scope:?}"
            );
        }
    }
}
