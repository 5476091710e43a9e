//! The reference-model property test: random sequences of operations over
//! several processes (anonymous private and shared maps, fixed maps over
//! existing ones, stores and loads of 1, 2, 4 and 8 bytes at any offset
//! including page-crossing ones, whole-page copies, fork, exec, exit,
//! munmap of sub-ranges, mprotect, brk) run against the kernel and against a
//! plain model of each address space: its pages' bytes and protections.
//!
//! Every load must return what the model holds, every bad access must get
//! the signal the model predicts (SIGSEGV with SEGV_MAPERR outside every
//! region, SEGV_ACCERR against the protection) and end the process, the
//! kernel's regions must cover exactly the model's pages, and after every
//! process has exited no frame and no swap slot may be left in use.
//!
//! The matrix is every preset below (x86-64, RISC-V Sv39, AArch64 4K,
//! x86-32 without ASIDs, a single-level teaching machine with 256-byte
//! pages, and CS:APP's 16 KiB machine with 64-byte pages), a tiny memory (a handful of user frames once the page tables are
//! in, so swapping never stops) and a large one (no swapping), and every
//! replacement policy except OPT, which needs the future reference string
//! and so cannot run an interactive sequence.
//!
//! The stack is fixed at one page here (RLIMIT_STACK = one page), so an
//! access outside every region is always SEGV_MAPERR; stack growth has its
//! own tests in `kernel_behaviour.rs`. Swap is large (4096 slots), so the
//! OOM killer never fires: a SIGKILL here is a failure.
//!
//! Case count: `PROPTEST_CASES` sets the cases per (machine, memory,
//! policy) combination (default 6); `VMLAB_SOAK=N` multiplies the cases by
//! N (100 when set to something that is not a number), lengthens the
//! sequences and draws a fresh random seed each run. Without either, the
//! seeds are fixed, so CI runs are reproducible; `PROPTEST_RNG_SEED` picks
//! another seed.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use vmlab_hw::arch::presets;
use vmlab_kernel::frames::{FrameUse, Pid};
use vmlab_kernel::kernel::task_size;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{
    Errno, ExitStatus, Kernel, KernelConfig, KernelCounters, ReplacementScope, Signal, SignalCode,
    SignalKind,
};

/// One machine of the matrix.
struct Machine {
    arch: &'static str,
    /// Frames for the tiny memory: the page tables of `max_procs`
    /// processes, the zero page, and a handful of user frames.
    tiny: usize,
    /// Frames for the large memory (nothing is evicted).
    large: usize,
    /// Most processes alive at once (keeps the pinned page tables within
    /// the tiny memory).
    max_procs: usize,
    /// Whether spawn, fork and exec may fail with ENOMEM: the teaching
    /// machine's one-level table needs 64 contiguous frames, which a
    /// fragmented memory may not have.
    contiguous_tables: bool,
}

/// Per process, a 4-level machine needs at most the root, three tables for
/// the heap and three for the stack and mmap area (all mmaps stay within
/// one last-level table below the stack); 3-level: 5; x86-32: 3; the
/// teaching machine: one 64-frame table.
const MACHINES: &[Machine] = &[
    Machine {
        arch: "x86-64",
        tiny: 32,
        large: 1024,
        max_procs: 3,
        contiguous_tables: false,
    },
    Machine {
        arch: "riscv-sv39",
        tiny: 24,
        large: 1024,
        max_procs: 3,
        contiguous_tables: false,
    },
    Machine {
        arch: "aarch64-4k",
        tiny: 32,
        large: 1024,
        max_procs: 3,
        contiguous_tables: false,
    },
    Machine {
        arch: "x86-32",
        tiny: 16,
        large: 1024,
        max_procs: 3,
        contiguous_tables: false,
    },
    Machine {
        arch: "linear:va=20,page=256,pa=20",
        tiny: 3 * 64 + 24,
        large: 4096,
        max_procs: 3,
        contiguous_tables: true,
    },
    // CS:APP's 16 KiB machine: 64-byte pages, 8-frame tables, and at most
    // 64 frames.
    Machine {
        arch: "csapp",
        tiny: 3 * 8 + 16,
        large: 64,
        max_procs: 3,
        contiguous_tables: true,
    },
];

/// The protections an mmap or mprotect may ask for.
const PROTS: &[Prot] = &[
    Prot::empty(),
    Prot::READ,
    Prot::READ.union(Prot::WRITE),
    Prot::WRITE,
    Prot::READ.union(Prot::EXEC),
    Prot::EXEC,
    Prot::all(),
];

/// The protection an mmap or mprotect asks for: read-write half the time,
/// so most stores land.
fn prot_of(i: u8) -> Prot {
    if i < 128 {
        Prot::READ | Prot::WRITE
    } else {
        PROTS[usize::from(i) % PROTS.len()]
    }
}

/// An address an operation uses, resolved against the model when it runs.
#[derive(Clone, Debug)]
struct Addr {
    /// Pick among the process's own mapped pages (else among every page
    /// any process ever had mapped, and their neighbours).
    mapped: bool,
    pick: u16,
    /// Offset into the page, or (with `near_end`) back from its end, so an
    /// access crosses into the next page.
    off: u16,
    near_end: bool,
}

/// One user operation; `p` picks a live process.
#[derive(Clone, Debug)]
enum Op {
    Spawn,
    Mmap {
        p: u8,
        pages: u8,
        prot: u8,
        shared: bool,
        fixed: Option<u16>,
    },
    Munmap {
        p: u8,
        at: u16,
        pages: u8,
    },
    Mprotect {
        p: u8,
        at: u16,
        pages: u8,
        prot: u8,
    },
    /// Moves the break by `pages` pages plus or minus part of one.
    Brk {
        p: u8,
        pages: i8,
        bytes: u16,
    },
    Store {
        p: u8,
        at: Addr,
        size: u8,
        value: u64,
    },
    Load {
        p: u8,
        at: Addr,
        size: u8,
    },
    Fork {
        p: u8,
    },
    Exit {
        p: u8,
        status: u8,
    },
    Exec {
        p: u8,
    },
    /// Writes a pattern over every writable page of the process.
    Sweep {
        p: u8,
        value: u8,
    },
    /// Reads every readable page of the process back and compares it.
    Check {
        p: u8,
    },
}

fn addr() -> impl Strategy<Value = Addr> {
    (
        prop::bool::weighted(0.95),
        any::<u16>(),
        any::<u16>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(mapped, pick, off, near_end)| Addr {
            mapped,
            pick,
            off,
            near_end,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Spawn),
        8 => (any::<u8>(), 1u8..=16, any::<u8>(), prop::bool::weighted(0.25),
              prop::option::weighted(0.2, any::<u16>()))
            .prop_map(|(p, pages, prot, shared, fixed)| Op::Mmap { p, pages, prot, shared, fixed }),
        4 => (any::<u8>(), any::<u16>(), 1u8..=4)
            .prop_map(|(p, at, pages)| Op::Munmap { p, at, pages }),
        5 => (any::<u8>(), any::<u16>(), 1u8..=4, any::<u8>())
            .prop_map(|(p, at, pages, prot)| Op::Mprotect { p, at, pages, prot }),
        5 => (any::<u8>(), -4i8..=4, any::<u16>())
            .prop_map(|(p, pages, bytes)| Op::Brk { p, pages, bytes }),
        30 => (any::<u8>(), addr(), any::<u8>(), any::<u64>())
            .prop_map(|(p, at, size, value)| Op::Store { p, at, size, value }),
        25 => (any::<u8>(), addr(), any::<u8>()).prop_map(|(p, at, size)| Op::Load { p, at, size }),
        4 => any::<u8>().prop_map(|p| Op::Fork { p }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(p, status)| Op::Exit { p, status }),
        1 => any::<u8>().prop_map(|p| Op::Exec { p }),
        6 => (any::<u8>(), any::<u8>()).prop_map(|(p, value)| Op::Sweep { p, value }),
        2 => any::<u8>().prop_map(|p| Op::Check { p }),
    ]
}

/// A page's bytes: its own, or shared with other mappings of one shared
/// anonymous object (after fork).
#[derive(Clone, Debug)]
enum Bytes {
    Private(Vec<u8>),
    Shared(Rc<RefCell<Vec<u8>>>),
}

impl Bytes {
    fn read(&self, at: usize, out: &mut [u8]) {
        match self {
            Bytes::Private(v) => out.copy_from_slice(&v[at..at + out.len()]),
            Bytes::Shared(v) => out.copy_from_slice(&v.borrow()[at..at + out.len()]),
        }
    }
    fn write(&mut self, at: usize, data: &[u8]) {
        match self {
            Bytes::Private(v) => v[at..at + data.len()].copy_from_slice(data),
            Bytes::Shared(v) => v.borrow_mut()[at..at + data.len()].copy_from_slice(data),
        }
    }
    /// The page as a child sees it after fork.
    fn forked(&self) -> Bytes {
        match self {
            Bytes::Private(v) => Bytes::Private(v.clone()),
            Bytes::Shared(v) => Bytes::Shared(Rc::clone(v)),
        }
    }
}

#[derive(Clone, Debug)]
struct MPage {
    prot: Prot,
    bytes: Bytes,
}

/// The model of one process.
#[derive(Debug)]
struct MProc {
    parent: Pid,
    pages: BTreeMap<u64, MPage>,
    brk_start: u64,
    brk: u64,
}

/// The kernel and the model side by side.
struct World {
    k: Kernel,
    page: u64,
    task: u64,
    frames: usize,
    max_procs: usize,
    contiguous_tables: bool,
    procs: BTreeMap<Pid, MProc>,
    /// Every page any process ever had mapped, and the pages next to it.
    seen: BTreeSet<u64>,
    /// Print each operation as it resolves (replaying a failing case).
    trace: bool,
}

/// Reads a little-endian value (every machine in the matrix is
/// little-endian).
fn le_value(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

fn segv(addr: u64, code: SignalCode) -> Signal {
    Signal {
        kind: SignalKind::Sigsegv,
        code,
        addr,
    }
}

impl World {
    fn new(machine: &Machine, frames: usize, policy: &str, scope: ReplacementScope) -> World {
        let arch = presets::by_name(machine.arch).unwrap().unwrap();
        assert_eq!(arch.endian(), vmlab_hw::Endian::Little);
        let page = arch.page_bytes();
        let task = task_size(&arch);
        let mut config = KernelConfig::new(arch, frames);
        config.policy = policy.into();
        config.scope = scope;
        config.swap_slots = 4096;
        config.stack_limit = page;
        // Tick often so aging, NFU, NRU and WSClock read and clear the
        // reference bits within a short sequence.
        config.policy_params.tick_interval = 16;
        config.policy_params.wsclock_tau = 64;
        World {
            k: Kernel::new(config).unwrap(),
            page,
            task,
            frames,
            max_procs: machine.max_procs,
            contiguous_tables: machine.contiguous_tables,
            procs: BTreeMap::new(),
            seen: BTreeSet::new(),
            trace: false,
        }
    }

    fn pick(&self, p: u8) -> Option<Pid> {
        let n = self.procs.len();
        (n > 0).then(|| *self.procs.keys().nth(usize::from(p) % n).unwrap())
    }

    fn see(&mut self, start: u64, end: u64) {
        let mut at = start.saturating_sub(self.page);
        while at <= end && at < self.task {
            if at >= self.page && at + 8 * self.page <= self.task {
                self.seen.insert(at);
            }
            at += self.page;
        }
    }

    fn resolve(&self, pid: Pid, a: &Addr) -> u64 {
        let own = &self.procs[&pid].pages;
        let page = if a.mapped && !own.is_empty() {
            *own.keys().nth(usize::from(a.pick) % own.len()).unwrap()
        } else if !self.seen.is_empty() {
            *self
                .seen
                .iter()
                .nth(usize::from(a.pick) % self.seen.len())
                .unwrap()
        } else {
            self.page
        };
        let off = if a.near_end {
            self.page - 1 - u64::from(a.off) % 8
        } else {
            u64::from(a.off) % self.page
        };
        page + off
    }

    fn candidate(&self, at: u16) -> u64 {
        if self.seen.is_empty() {
            return self.page;
        }
        *self
            .seen
            .iter()
            .nth(usize::from(at) % self.seen.len())
            .unwrap()
    }

    /// A fresh address space in the model: the one-page stack below the
    /// top, an empty heap at the kernel's break.
    fn fresh_space(&mut self, pid: Pid, parent: Pid) -> Result<(), TestCaseError> {
        let stack = self.task - 2 * self.page;
        let regions: Vec<_> = self.k.regions(pid).unwrap().iter().copied().collect();
        prop_assert_eq!(regions.len(), 1, "a new address space is one stack page");
        prop_assert_eq!(
            (regions[0].start, regions[0].end),
            (stack, stack + self.page)
        );
        let brk = self.k.current_brk(pid).unwrap();
        let mut pages = BTreeMap::new();
        pages.insert(
            stack,
            MPage {
                prot: Prot::READ | Prot::WRITE,
                bytes: Bytes::Private(vec![0; self.page as usize]),
            },
        );
        self.procs.insert(
            pid,
            MProc {
                parent,
                pages,
                brk_start: brk,
                brk,
            },
        );
        self.see(stack, stack + self.page);
        self.see(brk & !(self.page - 1), (brk & !(self.page - 1)) + self.page);
        Ok(())
    }

    /// A failed spawn, fork or exec: only the teaching machine may run out
    /// of contiguous frames for a table, and nothing may have changed.
    fn refused(&self, what: &str, e: Errno, before: &[Pid]) -> Result<(), TestCaseError> {
        prop_assert!(
            self.contiguous_tables && e == Errno::Enomem,
            "{what} failed: {e}"
        );
        prop_assert_eq!(
            self.k.pids(),
            before.to_vec(),
            "{} failed but left a process",
            what
        );
        Ok(())
    }

    /// Collects `pid`, which has ended with `status`, and drops its model.
    fn reap(&mut self, pid: Pid, status: ExitStatus) -> Result<(), TestCaseError> {
        prop_assert!(!self.k.is_live(pid), "process {pid} still runs");
        let parent = self.procs[&pid].parent;
        let got = self.k.wait(parent, Some(pid));
        prop_assert_eq!(got, Ok(Some((pid, status))));
        self.procs.remove(&pid);
        for p in self.procs.values_mut() {
            if p.parent == pid {
                p.parent = 0;
            }
        }
        Ok(())
    }

    fn oom_report(&self) -> String {
        let tables: u64 = self
            .procs
            .keys()
            .filter_map(|&p| self.k.page_table_bytes(p))
            .sum();
        format!(
            "unexpected SIGKILL: {:?}; {} frames, {} page-table bytes in use",
            self.k.oom_reason(),
            self.frames,
            tables
        )
    }

    /// The model's side of a user access of `len` bytes at `addr`, piece by
    /// page piece as the kernel does it: a store's first piece lands even
    /// when the second faults.
    fn model_access(
        &mut self,
        pid: Pid,
        addr: u64,
        data: &mut [u8],
        write: bool,
    ) -> Result<(), Signal> {
        let page = self.page;
        let mut done = 0usize;
        while done < data.len() {
            let at = addr + done as u64;
            let base = at & !(page - 1);
            let off = (at - base) as usize;
            let n = (page as usize - off).min(data.len() - done);
            let p = self.procs.get_mut(&pid).unwrap();
            let Some(mp) = p.pages.get_mut(&base) else {
                return Err(segv(at, SignalCode::SegvMaperr));
            };
            let allowed = if write {
                mp.prot.contains(Prot::WRITE)
            } else {
                !mp.prot.is_empty()
            };
            if !allowed {
                return Err(segv(at, SignalCode::SegvAccerr));
            }
            if write {
                mp.bytes.write(off, &data[done..done + n]);
            } else {
                mp.bytes.read(off, &mut data[done..done + n]);
            }
            done += n;
        }
        Ok(())
    }

    /// Compares the kernel's and the model's outcome of an access; a
    /// signal ends the process on both sides.
    fn settle<T: PartialEq + std::fmt::Debug>(
        &mut self,
        pid: Pid,
        expected: Result<T, Signal>,
        got: Result<T, Signal>,
        what: &str,
    ) -> Result<(), TestCaseError> {
        if let Err(s) = &got {
            prop_assert!(s.kind != SignalKind::Sigkill, "{}", self.oom_report());
        }
        prop_assert_eq!(&got, &expected, "{}", what);
        if let Err(signal) = got {
            self.reap(pid, ExitStatus::Signaled(signal))?;
        }
        Ok(())
    }

    fn remove_pages(&mut self, pid: Pid, start: u64, end: u64) {
        let p = self.procs.get_mut(&pid).unwrap();
        let doomed: Vec<u64> = p.pages.range(start..end).map(|(&a, _)| a).collect();
        for a in doomed {
            p.pages.remove(&a);
        }
    }

    /// What `op` will do, resolved against the current state.
    fn describe(&self, op: &Op) -> String {
        let p = match *op {
            Op::Spawn => None,
            Op::Mmap { p, .. }
            | Op::Munmap { p, .. }
            | Op::Mprotect { p, .. }
            | Op::Brk { p, .. }
            | Op::Store { p, .. }
            | Op::Load { p, .. }
            | Op::Fork { p }
            | Op::Exit { p, .. }
            | Op::Exec { p }
            | Op::Sweep { p, .. }
            | Op::Check { p } => Some(p),
        };
        let Some(pid) = p.and_then(|p| self.pick(p)) else {
            return "spawn".into();
        };
        match op {
            Op::Mmap {
                pages,
                prot: pr,
                shared,
                fixed,
                ..
            } => format!(
                "{pid}: mmap {pages} pages {:?} shared={shared} fixed={:?}",
                prot_of(*pr),
                fixed.map(|f| format!("{:#x}", self.candidate(f)))
            ),
            Op::Munmap { at, pages, .. } => {
                format!("{pid}: munmap {:#x} {pages} pages", self.candidate(*at))
            }
            Op::Mprotect {
                at,
                pages,
                prot: pr,
                ..
            } => format!(
                "{pid}: mprotect {:#x} {pages} pages {:?}",
                self.candidate(*at),
                prot_of(*pr)
            ),
            Op::Store {
                at, size, value, ..
            } => format!(
                "{pid}: store {} bytes at {:#x} value {value:#x}",
                [1, 2, 4, 8][usize::from(*size) % 4],
                self.resolve(pid, at)
            ),
            Op::Load { at, size, .. } => format!(
                "{pid}: load {} bytes at {:#x}",
                [1, 2, 4, 8][usize::from(*size) % 4],
                self.resolve(pid, at)
            ),
            other => format!("{pid}: {other:?}"),
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if self.procs.is_empty() || matches!(op, Op::Spawn) {
            if self.procs.len() >= self.max_procs {
                return Ok(());
            }
            let before = self.k.pids();
            return match self.k.spawn(0) {
                Ok(pid) => self.fresh_space(pid, 0),
                Err(e) => self.refused("spawn", e, &before),
            };
        }
        let page = self.page;
        match *op {
            Op::Spawn => unreachable!(),
            Op::Mmap {
                p,
                pages,
                prot,
                shared,
                fixed,
            } => {
                let pid = self.pick(p).unwrap();
                let len = u64::from(pages) * page;
                let prot = prot_of(prot);
                let want = fixed.map(|f| self.candidate(f));
                let got = self.k.mmap_anonymous(
                    pid,
                    want.unwrap_or(0),
                    len,
                    prot,
                    shared,
                    want.is_some(),
                );
                if want.is_some_and(|w| w + len > self.task) {
                    // MAP_FIXED past the end of user space.
                    prop_assert_eq!(got, Err(Errno::Enomem));
                    return Ok(());
                }
                let start = match got {
                    Ok(a) => a,
                    Err(Errno::Enomem) if want.is_none() => {
                        // A small machine may run out of room; then there
                        // must be no hole that large below the mmap base.
                        let base = self.k.regions(pid).unwrap().mmap_base();
                        let p = &self.procs[&pid];
                        let mut run = 0;
                        let mut at = page;
                        while at < base {
                            run = if p.pages.contains_key(&at) {
                                0
                            } else {
                                run + 1
                            };
                            prop_assert!(run < pages, "mmap of {} pages: ENOMEM", pages);
                            at += page;
                        }
                        return Ok(());
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("mmap failed: {e}"))),
                };
                if let Some(want) = want {
                    prop_assert_eq!(start, want, "MAP_FIXED moved");
                } else {
                    prop_assert!(start % page == 0 && start + len <= self.task);
                    let p = &self.procs[&pid];
                    prop_assert!(
                        p.pages.range(start..start + len).next().is_none(),
                        "mmap placed {:#x}+{:#x} over a mapping",
                        start,
                        len
                    );
                }
                self.remove_pages(pid, start, start + len);
                let p = self.procs.get_mut(&pid).unwrap();
                for i in 0..u64::from(pages) {
                    let zeros = vec![0u8; page as usize];
                    let bytes = if shared {
                        Bytes::Shared(Rc::new(RefCell::new(zeros)))
                    } else {
                        Bytes::Private(zeros)
                    };
                    p.pages.insert(start + i * page, MPage { prot, bytes });
                }
                self.see(start, start + len);
            }
            Op::Munmap { p, at, pages } => {
                let pid = self.pick(p).unwrap();
                let start = self.candidate(at);
                let len = u64::from(pages) * page;
                let got = self.k.munmap(pid, start, len);
                prop_assert_eq!(got, Ok(()));
                self.remove_pages(pid, start, start + len);
            }
            Op::Mprotect { p, at, pages, prot } => {
                let pid = self.pick(p).unwrap();
                let start = self.candidate(at);
                let len = u64::from(pages) * page;
                let prot = prot_of(prot);
                // Linux walks the range and stops at the first hole,
                // keeping what it changed before it.
                let mut expected = Ok(());
                let m = self.procs.get_mut(&pid).unwrap();
                for i in 0..u64::from(pages) {
                    match m.pages.get_mut(&(start + i * page)) {
                        Some(mp) => mp.prot = prot,
                        None => {
                            expected = Err(Errno::Enomem);
                            break;
                        }
                    }
                }
                let got = self.k.mprotect(pid, start, len, prot);
                prop_assert_eq!(got, expected);
            }
            Op::Brk { p, pages, bytes } => {
                let pid = self.pick(p).unwrap();
                let (brk_start, old) = {
                    let m = &self.procs[&pid];
                    (m.brk_start, m.brk)
                };
                let delta = i64::from(pages) * page as i64 + (u64::from(bytes) % page) as i64
                    - page as i64 / 2;
                let new = old.saturating_add_signed(delta);
                let old_end = old.next_multiple_of(page);
                let new_end = new.next_multiple_of(page);
                let m = &self.procs[&pid];
                let accepted = if new < brk_start {
                    false
                } else if new_end < old_end {
                    // Shrinking needs something mapped in the range.
                    m.pages.range(new_end..old_end).next().is_some()
                } else if new_end == old_end {
                    true
                } else {
                    // Growing needs the range and one page above it free.
                    new_end <= self.task && m.pages.range(old_end..new_end + page).next().is_none()
                };
                let got = self.k.brk(pid, new);
                prop_assert_eq!(got, Ok(if accepted { new } else { old }), "brk({:#x})", new);
                if accepted {
                    if new_end < old_end {
                        self.remove_pages(pid, new_end, old_end);
                    }
                    let m = self.procs.get_mut(&pid).unwrap();
                    let mut at = old_end;
                    while at < new_end {
                        m.pages.insert(
                            at,
                            MPage {
                                prot: Prot::READ | Prot::WRITE,
                                bytes: Bytes::Private(vec![0; page as usize]),
                            },
                        );
                        at += page;
                    }
                    m.brk = new;
                    self.see(old_end, new_end);
                }
            }
            Op::Store {
                p,
                ref at,
                size,
                value,
            } => {
                let pid = self.pick(p).unwrap();
                let addr = self.resolve(pid, at);
                let size = [1usize, 2, 4, 8][usize::from(size) % 4];
                let mut bytes = value.to_le_bytes();
                let expected = self.model_access(pid, addr, &mut bytes[..size], true);
                let got = self.k.store(pid, addr, size, value);
                let what = format!("store of {size} bytes at {addr:#x} by {pid}");
                self.settle(pid, expected, got, &what)?;
            }
            Op::Load { p, ref at, size } => {
                let pid = self.pick(p).unwrap();
                let addr = self.resolve(pid, at);
                let size = [1usize, 2, 4, 8][usize::from(size) % 4];
                let mut bytes = [0u8; 8];
                let expected = self
                    .model_access(pid, addr, &mut bytes[..size], false)
                    .map(|()| le_value(&bytes[..size]));
                let got = self.k.load(pid, addr, size);
                let what = format!("load of {size} bytes at {addr:#x} by {pid}");
                self.settle(pid, expected, got, &what)?;
            }
            Op::Fork { p } => {
                if self.procs.len() >= self.max_procs {
                    return Ok(());
                }
                let pid = self.pick(p).unwrap();
                let before = self.k.pids();
                match self.k.fork(pid) {
                    Ok(child) => {
                        let m = &self.procs[&pid];
                        let pages = m
                            .pages
                            .iter()
                            .map(|(&a, mp)| {
                                (
                                    a,
                                    MPage {
                                        prot: mp.prot,
                                        bytes: mp.bytes.forked(),
                                    },
                                )
                            })
                            .collect();
                        let copy = MProc {
                            parent: pid,
                            pages,
                            brk_start: m.brk_start,
                            brk: m.brk,
                        };
                        self.procs.insert(child, copy);
                    }
                    Err(e) => self.refused("fork", e, &before)?,
                }
            }
            Op::Exit { p, status } => {
                let pid = self.pick(p).unwrap();
                let status = i32::from(status as i8);
                prop_assert_eq!(self.k.exit(pid, status), Ok(()));
                self.reap(pid, ExitStatus::Exited(status))?;
            }
            Op::Exec { p } => {
                let pid = self.pick(p).unwrap();
                let before = self.k.pids();
                match self.k.execve(pid) {
                    Ok(()) => {
                        let parent = self.procs[&pid].parent;
                        self.fresh_space(pid, parent)?;
                    }
                    Err(e) => self.refused("exec", e, &before)?,
                }
            }
            Op::Sweep { p, value } => {
                let pid = self.pick(p).unwrap();
                let writable: Vec<u64> = self.procs[&pid]
                    .pages
                    .iter()
                    .filter(|(_, mp)| mp.prot.contains(Prot::WRITE))
                    .map(|(&a, _)| a)
                    .collect();
                for a in writable {
                    let mut data: Vec<u8> = (0..page)
                        .map(|i| (i as u8).wrapping_mul(31) ^ value ^ (a / page) as u8)
                        .collect();
                    let got = self.k.write_user(pid, a, &data);
                    if let Err(s) = got {
                        prop_assert!(s.kind != SignalKind::Sigkill, "{}", self.oom_report());
                    }
                    prop_assert_eq!(got, Ok(()), "sweep of {:#x}", a);
                    self.model_access(pid, a, &mut data, true).unwrap();
                }
            }
            Op::Check { p } => {
                let pid = self.pick(p).unwrap();
                self.check_all(pid)?;
            }
        }
        Ok(())
    }

    /// Reads every readable page of `pid` and compares it with the model.
    fn check_all(&mut self, pid: Pid) -> Result<(), TestCaseError> {
        let readable: Vec<u64> = self.procs[&pid]
            .pages
            .iter()
            .filter(|(_, mp)| !mp.prot.is_empty())
            .map(|(&a, _)| a)
            .collect();
        let page = self.page as usize;
        for a in readable {
            let mut got = vec![0u8; page];
            let read = self.k.read_user(pid, a, &mut got);
            if let Err(s) = read {
                prop_assert!(s.kind != SignalKind::Sigkill, "{}", self.oom_report());
            }
            prop_assert_eq!(read, Ok(()), "read of page {:#x}", a);
            let mut want = vec![0u8; page];
            self.model_access(pid, a, &mut want, false).unwrap();
            if got != want {
                let i = (0..page).find(|&i| got[i] != want[i]).unwrap();
                return Err(TestCaseError::fail(format!(
                    "process {pid} page {a:#x} byte {i}: kernel {:#04x}, model {:#04x}",
                    got[i], want[i]
                )));
            }
        }
        Ok(())
    }

    /// What must hold after every operation: the same processes, regions
    /// covering exactly the model's pages with the same protection and
    /// sharing, and every user frame mapped by someone.
    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        prop_assert_eq!(self.k.pids(), pids);
        let mut resident = 0u64;
        for (&pid, m) in &self.procs {
            prop_assert!(self.k.is_live(pid));
            let mut count = 0usize;
            for r in self.k.regions(pid).unwrap().iter() {
                let mut at = r.start;
                while at < r.end {
                    let Some(mp) = m.pages.get(&at) else {
                        return Err(TestCaseError::fail(format!(
                            "process {pid}: kernel maps {at:#x} ({r:?}), the model does not"
                        )));
                    };
                    prop_assert_eq!(mp.prot, r.prot, "process {} page {:#x}", pid, at);
                    prop_assert_eq!(
                        matches!(mp.bytes, Bytes::Shared(_)),
                        r.kind.is_shared(),
                        "process {} page {:#x}",
                        pid,
                        at
                    );
                    count += 1;
                    at += self.page;
                }
            }
            prop_assert_eq!(count, m.pages.len(), "process {} regions", pid);
            let c = self.k.process_counters(pid).unwrap();
            prop_assert!(c.resident_pages <= m.pages.len() as u64);
            resident += c.resident_pages;
        }
        let frames = self.k.frames();
        let mut mapped = 0u64;
        for f in 0..frames.len() as u32 {
            // A shared object's page may outlive its mappings; a private
            // page may not.
            if frames.used_for(f) == FrameUse::Anon {
                prop_assert!(frames.mapcount(f) > 0, "frame {} is in use but unmapped", f);
            }
            if frames.used_for(f).is_user() {
                mapped += u64::from(frames.mapcount(f));
            }
        }
        prop_assert_eq!(mapped, resident, "reverse-map entries vs resident pages");
        // A policy that remembers evicted pages by key (ARC, 2Q, S3-FIFO)
        // must know no two resident pages by one key, or a ghost of one
        // would stand for the other (after a copy-on-write copy, an unmap
        // or an exec by the process whose key a shared page had).
        let mut keys = std::collections::HashMap::new();
        for f in 0..frames.len() as u32 {
            if let Some(key) = self
                .k
                .policy_key(f)
                .filter(|_| frames.used_for(f).is_user())
            {
                if let Some(other) = keys.insert(key, f) {
                    let about = |f: u32| {
                        let owners: Vec<_> = frames.owners(f).collect();
                        format!("{:?}, mapped by {owners:?}", frames.used_for(f))
                    };
                    return Err(TestCaseError::fail(format!(
                        "frames {other} ({}) and {f} ({}) are both known to the policy by key {key:#x}",
                        about(other),
                        about(f)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Checks every process's memory, ends them all and checks that every
    /// frame and swap slot came back.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in &pids {
            self.check_all(*pid)?;
        }
        for pid in pids {
            prop_assert_eq!(self.k.exit(pid, 0), Ok(()));
            self.reap(pid, ExitStatus::Exited(0))?;
        }
        prop_assert!(self.k.pids().is_empty());
        prop_assert_eq!(
            self.k.frames().free_count(),
            self.frames - 1,
            "frames leaked"
        );
        prop_assert_eq!(self.k.swap().used(), 0, "swap slots leaked");
        Ok(())
    }
}

fn run_case(
    machine: &Machine,
    frames: usize,
    policy: &str,
    scope: ReplacementScope,
    ops: &[Op],
    trace: bool,
) -> Result<KernelCounters, TestCaseError> {
    let mut w = World::new(machine, frames, policy, scope);
    w.trace = trace;
    for op in ops {
        if trace {
            eprintln!("{}", w.describe(op));
        }
        w.apply(op)?;
        w.check_invariants()?;
    }
    w.finish()?;
    Ok(w.k.counters())
}

/// The shortest prefix of `ops` after which some process's memory differs
/// from the model's (each prefix replayed on a fresh machine, then every
/// page read), which locates a divergence that shows only later.
fn first_divergence(
    machine: &Machine,
    frames: usize,
    policy: &str,
    scope: ReplacementScope,
    ops: &[Op],
) -> String {
    for n in 0..=ops.len() {
        let mut w = World::new(machine, frames, policy, scope);
        let mut failed = None;
        for op in &ops[..n] {
            if let Err(e) = w.apply(op) {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() {
            let pids: Vec<Pid> = w.procs.keys().copied().collect();
            for pid in pids {
                if let Err(e) = w.check_all(pid) {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            return format!(
                "memory first differs after step {n} ({:?}): {e}",
                ops.get(n.wrapping_sub(1))
            );
        }
    }
    "no prefix diverges".into()
}

/// The soak multiplier: `VMLAB_SOAK=N`, 100 for a non-number, 1 unset.
fn soak() -> Option<u32> {
    let v = std::env::var("VMLAB_SOAK").ok()?;
    Some(v.parse().unwrap_or(100).max(1))
}

/// A stable seed per combination.
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn run_machine(machine: &Machine) {
    let cases_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    let soak = soak();
    let cases = cases_env.unwrap_or(6) * soak.unwrap_or(1);
    let max_len = if soak.is_some() { 500 } else { 200 };
    for &frames in &[machine.tiny, machine.large] {
        // What the cases did, to show the test is not vacuous.
        let tally = Cell::new(KernelCounters::default());
        for &policy in vmlab_kernel::policy::NAMES {
            // OPT needs the future reference string, which an interactive
            // sequence does not have.
            if policy == "opt" {
                continue;
            }
            let name = format!("{} frames={frames} policy={policy}", machine.arch);
            let mut config = Config {
                cases,
                failure_persistence: None,
                // The automatic limit is 4 per case, too few to shrink a
                // long sequence to the few steps that matter.
                max_shrink_iters: 4096,
                ..Config::default()
            };
            if soak.is_none() && std::env::var_os("PROPTEST_RNG_SEED").is_none() {
                config.rng_seed = RngSeed::Fixed(seed_of(&name));
            }
            let mut runner = TestRunner::new(config);
            // Each case runs under global or local replacement.
            let strategy = (
                prop_oneof![
                    Just(ReplacementScope::Global),
                    Just(ReplacementScope::Local)
                ],
                prop::collection::vec(op(), 1..max_len),
            );
            let result = runner.run(&strategy, |(scope, ops)| {
                let c = run_case(machine, frames, policy, scope, &ops, false)?;
                let mut t = tally.get();
                t.swap_ins += c.swap_ins;
                t.swap_outs += c.swap_outs;
                t.clean_drops += c.clean_drops;
                t.cow_copies += c.cow_copies;
                t.cow_reuses += c.cow_reuses;
                t.segfaults += c.segfaults;
                t.zero_page_maps += c.zero_page_maps;
                t.references += c.references;
                tally.set(t);
                Ok(())
            });
            if let Err(e) = result {
                // Replay the smallest failing sequence with each step
                // resolved, so the report shows pids and addresses.
                if let proptest::test_runner::TestError::Fail(_, (scope, ops)) = &e {
                    eprintln!("replaying the minimal case of {name} scope={scope:?}:");
                    let _ = run_case(machine, frames, policy, *scope, ops, true);
                    let first = first_divergence(machine, frames, policy, *scope, ops);
                    eprintln!("{first}");
                }
                panic!("{name}: {e}");
            }
        }
        let t = tally.get();
        eprintln!("{} frames={frames}: {t:?}", machine.arch);
        assert!(t.references > 0 && t.segfaults > 0 && t.zero_page_maps > 0);
        if frames == machine.tiny {
            assert!(
                t.swap_ins > 0 && t.swap_outs > 0,
                "{}: the tiny memory never swapped",
                machine.arch
            );
        }
    }
}

#[test]
fn reference_model_x86_64() {
    run_machine(&MACHINES[0]);
}

#[test]
fn reference_model_riscv_sv39() {
    run_machine(&MACHINES[1]);
}

#[test]
fn reference_model_aarch64_4k() {
    run_machine(&MACHINES[2]);
}

#[test]
fn reference_model_x86_32() {
    run_machine(&MACHINES[3]);
}

#[test]
fn reference_model_teaching_machine() {
    run_machine(&MACHINES[4]);
}

#[test]
fn reference_model_csapp() {
    run_machine(&MACHINES[5]);
}
