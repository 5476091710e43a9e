//! Isolation: no sequence of user operations lets one process read or
//! write another's private memory.
//!
//! Every process maps the same virtual range (inherited through fork, or
//! mapped at the same fixed address by independently spawned processes)
//! and stores values tagged with its own pid into the same addresses.
//! Memory is a handful of frames, so pages are evicted, written to swap,
//! read back and shared copy-on-write all the time, and frames and swap
//! slots freed by one process are soon reused by another. Each process
//! must only ever read its own values (or what it inherited at fork), and
//! never a byte it did not write: untouched memory, including memory just
//! released by another process, reads zero. Loads at random addresses
//! outside the process's mappings must fault, never find another
//! process's data.
//!
//! `PROPTEST_CASES` sets the cases per machine (default 100); `VMLAB_SOAK=N`
//! multiplies them by N (100 when not a number) with a random seed.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::cell::Cell;
use std::collections::BTreeMap;
use vmlab_hw::arch::presets;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::kernel::task_size;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{
    Errno, ExitStatus, Kernel, KernelConfig, ReplacementScope, Signal, SignalCode, SignalKind,
};

/// One machine: the shared range's address, and a memory of a few user
/// frames once `MAX_PROCS` processes' page tables are in.
struct Machine {
    arch: &'static str,
    frames: usize,
    base: u64,
    /// The teaching machine's one-level table takes 64 contiguous frames,
    /// which a fragmented memory may not have: spawn and fork may then
    /// fail with ENOMEM.
    contiguous_tables: bool,
}

const MACHINES: &[Machine] = &[
    Machine {
        arch: "x86-64",
        frames: 28,
        base: 0x1000_0000,
        contiguous_tables: false,
    },
    Machine {
        arch: "x86-32",
        frames: 16,
        base: 0x1000_0000,
        contiguous_tables: false,
    },
    Machine {
        arch: "riscv-sv39",
        frames: 22,
        base: 0x1000_0000,
        contiguous_tables: false,
    },
    Machine {
        arch: "aarch64-4k",
        frames: 28,
        base: 0x1000_0000,
        contiguous_tables: false,
    },
    Machine {
        arch: "linear:va=20,page=256,pa=20",
        frames: 3 * 64 + 24,
        base: 0x4000,
        contiguous_tables: true,
    },
    Machine {
        arch: "csapp",
        frames: 3 * 8 + 16,
        base: 0x400,
        contiguous_tables: true,
    },
];

/// Pages in the range every process maps.
const PAGES: u64 = 12;
/// 8-byte slots used per page: few, so processes collide on them.
const SLOTS_PER_PAGE: u64 = 4;
const MAX_PROCS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Spawn,
    Fork {
        p: u8,
    },
    Exit {
        p: u8,
    },
    Store {
        p: u8,
        slot: u8,
    },
    Load {
        p: u8,
        slot: u8,
    },
    /// Stores a tagged value into every slot: memory pressure.
    Sweep {
        p: u8,
    },
    /// munmap and mmap the range again: it must read zero.
    Remap {
        p: u8,
    },
    /// Reads a whole page: every byte must be the process's own.
    ReadPage {
        p: u8,
        page: u8,
    },
    /// A load at an arbitrary address.
    Probe {
        p: u8,
        addr: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Spawn),
        3 => any::<u8>().prop_map(|p| Op::Fork { p }),
        1 => any::<u8>().prop_map(|p| Op::Exit { p }),
        30 => (any::<u8>(), any::<u8>()).prop_map(|(p, slot)| Op::Store { p, slot }),
        20 => (any::<u8>(), any::<u8>()).prop_map(|(p, slot)| Op::Load { p, slot }),
        4 => any::<u8>().prop_map(|p| Op::Sweep { p }),
        1 => any::<u8>().prop_map(|p| Op::Remap { p }),
        6 => (any::<u8>(), any::<u8>()).prop_map(|(p, page)| Op::ReadPage { p, page }),
        1 => (any::<u8>(), any::<u64>()).prop_map(|(p, addr)| Op::Probe { p, addr }),
    ]
}

/// The kernel and, per process, the values it may see at each slot.
struct World {
    k: Kernel,
    base: u64,
    page: u64,
    task: u64,
    /// Per live process: its parent and the values it stored or inherited.
    procs: BTreeMap<Pid, (Pid, BTreeMap<u64, u64>)>,
    /// Makes every stored value unique.
    seq: u64,
    contiguous_tables: bool,
}

/// A value no other process stores: the writer's pid in the top bits.
fn tag(pid: Pid, seq: u64) -> u64 {
    (u64::from(pid) << 48) | seq
}

impl World {
    fn new(machine: &Machine, policy: &str, scope: ReplacementScope) -> World {
        let arch = presets::by_name(machine.arch).unwrap().unwrap();
        let page = arch.page_bytes();
        let task = task_size(&arch);
        let mut config = KernelConfig::new(arch, machine.frames);
        config.policy = policy.into();
        config.scope = scope;
        config.swap_slots = 4096;
        // A fixed one-page stack, so a stray address never grows it.
        config.stack_limit = page;
        config.policy_params.tick_interval = 16;
        config.policy_params.wsclock_tau = 64;
        World {
            k: Kernel::new(config).unwrap(),
            base: machine.base,
            page,
            task,
            procs: BTreeMap::new(),
            seq: 0,
            contiguous_tables: machine.contiguous_tables,
        }
    }

    fn pick(&self, p: u8) -> Pid {
        *self
            .procs
            .keys()
            .nth(usize::from(p) % self.procs.len())
            .unwrap()
    }

    fn slot_addr(&self, slot: u8) -> u64 {
        let slot = u64::from(slot) % (PAGES * SLOTS_PER_PAGE);
        let (page, i) = (slot / SLOTS_PER_PAGE, slot % SLOTS_PER_PAGE);
        // Spread over the page, the last slot at its very end.
        let step = (self.page / SLOTS_PER_PAGE) & !7;
        let off = if i + 1 == SLOTS_PER_PAGE {
            self.page - 8
        } else {
            i * step
        };
        self.base + page * self.page + off
    }

    fn map_range(&mut self, pid: Pid) -> Result<(), TestCaseError> {
        let len = PAGES * self.page;
        let rw = Prot::READ | Prot::WRITE;
        let got = self.k.mmap_anonymous(pid, self.base, len, rw, false, true);
        prop_assert_eq!(got, Ok(self.base));
        Ok(())
    }

    fn reap(&mut self, pid: Pid, status: ExitStatus) -> Result<(), TestCaseError> {
        let parent = self.procs[&pid].0;
        prop_assert_eq!(self.k.wait(parent, Some(pid)), Ok(Some((pid, status))));
        self.procs.remove(&pid);
        for (p, _) in self.procs.values_mut() {
            if *p == pid {
                *p = 0;
            }
        }
        Ok(())
    }

    /// A signal the access should not have had.
    fn unexpected(&self, what: &str, s: Signal) -> TestCaseError {
        TestCaseError::fail(format!("{what}: {s} (OOM: {:?})", self.k.oom_reason()))
    }

    /// A spawn or fork that failed: only for want of contiguous frames,
    /// and leaving no process behind.
    fn refused(&self, what: &str, e: Errno) -> Result<(), TestCaseError> {
        prop_assert!(
            self.contiguous_tables && e == Errno::Enomem,
            "{what}: {e} (OOM: {:?})",
            self.k.oom_reason()
        );
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        prop_assert_eq!(self.k.pids(), pids);
        Ok(())
    }

    fn expected(&self, pid: Pid, addr: u64) -> u64 {
        self.procs[&pid].1.get(&addr).copied().unwrap_or(0)
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if self.procs.is_empty() || matches!(op, Op::Spawn) {
            if self.procs.len() < MAX_PROCS {
                match self.k.spawn(0) {
                    Ok(pid) => {
                        self.procs.insert(pid, (0, BTreeMap::new()));
                        self.map_range(pid)?;
                    }
                    Err(e) => self.refused("spawn", e)?,
                }
            }
            return Ok(());
        }
        match *op {
            Op::Spawn => unreachable!(),
            Op::Fork { p } => {
                if self.procs.len() < MAX_PROCS {
                    let pid = self.pick(p);
                    match self.k.fork(pid) {
                        Ok(child) => {
                            let values = self.procs[&pid].1.clone();
                            self.procs.insert(child, (pid, values));
                        }
                        Err(e) => self.refused("fork", e)?,
                    }
                }
            }
            Op::Exit { p } => {
                let pid = self.pick(p);
                prop_assert_eq!(self.k.exit(pid, 0), Ok(()));
                self.reap(pid, ExitStatus::Exited(0))?;
            }
            Op::Store { p, slot } => {
                let pid = self.pick(p);
                let addr = self.slot_addr(slot);
                self.seq += 1;
                let value = tag(pid, self.seq);
                if let Err(s) = self.k.store(pid, addr, 8, value) {
                    return Err(self.unexpected("store", s));
                }
                self.procs.get_mut(&pid).unwrap().1.insert(addr, value);
            }
            Op::Load { p, slot } => {
                let pid = self.pick(p);
                let addr = self.slot_addr(slot);
                let got = self.k.load(pid, addr, 8);
                let got = got.map_err(|s| self.unexpected("load", s))?;
                let want = self.expected(pid, addr);
                prop_assert_eq!(
                    got,
                    want,
                    "process {} read {:#x} at {:#x} (written by process {})",
                    pid,
                    got,
                    addr,
                    got >> 48
                );
            }
            Op::Sweep { p } => {
                for slot in 0..(PAGES * SLOTS_PER_PAGE) as u8 {
                    self.apply(&Op::Store { p, slot })?;
                }
            }
            Op::Remap { p } => {
                let pid = self.pick(p);
                let len = PAGES * self.page;
                prop_assert_eq!(self.k.munmap(pid, self.base, len), Ok(()));
                self.map_range(pid)?;
                self.procs.get_mut(&pid).unwrap().1.clear();
            }
            Op::ReadPage { p, page } => {
                let pid = self.pick(p);
                let start = self.base + u64::from(page) % PAGES * self.page;
                let mut got = vec![0u8; self.page as usize];
                if let Err(s) = self.k.read_user(pid, start, &mut got) {
                    return Err(self.unexpected("read", s));
                }
                let mut want = vec![0u8; self.page as usize];
                for (&addr, &v) in self.procs[&pid].1.range(start..start + self.page) {
                    let at = (addr - start) as usize;
                    want[at..at + 8].copy_from_slice(&v.to_le_bytes());
                }
                prop_assert!(
                    got == want,
                    "process {} page {:#x} holds foreign bytes",
                    pid,
                    start
                );
            }
            Op::Probe { p, addr } => {
                let pid = self.pick(p);
                let addr = addr % self.task;
                let stack = self.task - 2 * self.page;
                let in_range = (self.base..self.base + PAGES * self.page).contains(&addr);
                let in_stack = (stack..stack + self.page).contains(&addr);
                let got = self.k.load(pid, addr & !7, 8);
                if in_range {
                    let got = got.map_err(|s| self.unexpected("probe", s))?;
                    prop_assert_eq!(got, self.expected(pid, addr & !7));
                } else if in_stack {
                    prop_assert_eq!(got, Ok(0));
                } else {
                    let s = Signal {
                        kind: SignalKind::Sigsegv,
                        code: SignalCode::SegvMaperr,
                        addr: addr & !7,
                    };
                    prop_assert_eq!(got, Err(s));
                    self.reap(pid, ExitStatus::Signaled(s))?;
                }
            }
        }
        Ok(())
    }

    /// Every process reads its whole range back, then all exit; nothing
    /// may be left behind.
    fn finish(&mut self, frames: usize) -> Result<(), TestCaseError> {
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            for page in 0..PAGES as u8 {
                let p = self.procs.keys().position(|&q| q == pid).unwrap() as u8;
                self.apply(&Op::ReadPage { p, page })?;
            }
            prop_assert_eq!(self.k.exit(pid, 0), Ok(()));
            self.reap(pid, ExitStatus::Exited(0))?;
        }
        prop_assert_eq!(self.k.frames().free_count(), frames - 1);
        prop_assert_eq!(self.k.swap().used(), 0);
        Ok(())
    }
}

fn run(machine: &Machine) {
    let soak = std::env::var("VMLAB_SOAK")
        .ok()
        .map(|v| v.parse::<u32>().unwrap_or(100).max(1));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        * soak.unwrap_or(1);
    let mut config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    if soak.is_none() && std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        let seed = machine
            .arch
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
        config.rng_seed = RngSeed::Fixed(seed);
    }
    // Every policy but OPT, which needs the future reference string.
    let policies: Vec<&str> = vmlab_kernel::policy::NAMES
        .iter()
        .copied()
        .filter(|&p| p != "opt")
        .collect();
    let strategy = (
        0..policies.len(),
        prop_oneof![
            Just(ReplacementScope::Global),
            Just(ReplacementScope::Local)
        ],
        prop::collection::vec(op(), 1..150),
    );
    let mut runner = TestRunner::new(config);
    let swap_ins = Cell::new(0);
    let result = runner.run(&strategy, |(policy, scope, ops)| {
        let mut w = World::new(machine, policies[policy], scope);
        for op in &ops {
            w.apply(op)?;
        }
        w.finish(machine.frames)?;
        swap_ins.set(swap_ins.get() + w.k.counters().swap_ins);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{}: {e}", machine.arch);
    }
    // Not vacuous: the memory was under pressure.
    assert!(swap_ins.get() > 0, "{}: nothing was swapped", machine.arch);
}

#[test]
fn isolation_x86_64() {
    run(&MACHINES[0]);
}

#[test]
fn isolation_x86_32() {
    run(&MACHINES[1]);
}

#[test]
fn isolation_riscv_sv39() {
    run(&MACHINES[2]);
}

#[test]
fn isolation_aarch64_4k() {
    run(&MACHINES[3]);
}

#[test]
fn isolation_teaching_machine() {
    run(&MACHINES[4]);
}

#[test]
fn isolation_csapp() {
    run(&MACHINES[5]);
}
