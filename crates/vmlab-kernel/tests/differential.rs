//! Differential tests against the host's Linux kernel. Each scenario is a
//! small C program in `tests/differential/NAME.c`, compiled with the
//! system C compiler and run on the host, and the same steps written here
//! against vmlab's system-call layer; both print the same normalised
//! record (see `tests/differential/common.h`: one line per step, errno
//! names, addresses relative to a base, signals with their si_code, file
//! contents, minor fault counts where Linux's are stable) and the test
//! shows the diff of any that differ.
//!
//! A faulting access in C is caught by a signal handler and the program
//! goes on; in vmlab a fault ends the process, so the harness tries each
//! access first in a forked child and repeats it in the process only when
//! it succeeded there.
//!
//! Adding a scenario is one C file and one entry in [`SCENARIOS`].
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use vmlab_hw::arch::presets;
use vmlab_kernel::abi::*;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::kernel::task_size;
use vmlab_kernel::region::{PROT_NONE, PROT_READ, PROT_WRITE};
use vmlab_kernel::{Errno, ExitStatus, Kernel, KernelConfig, Signal, SignalCode, SignalKind};

const PAGE: u64 = 4096;
const RW: u32 = PROT_READ | PROT_WRITE;
const ANON_PRIVATE: u32 = MAP_PRIVATE | MAP_ANONYMOUS;

/// One scenario: the C program's file stem, and the same steps on vmlab.
struct Scenario {
    name: &'static str,
    vmlab: fn(&mut Sim),
}

/// Every scenario, by the name of its C file and its vmlab function.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        &[$(Scenario { name: stringify!($name), vmlab: $name }),*]
    };
}

const SCENARIOS: &[Scenario] = scenarios![
    mmap_errors,
    mmap_file_errors,
    mmap_fixed_replaces,
    mmap_fixed_noreplace,
    mmap_hint,
    mmap_populate,
    munmap_partial,
    munmap_holes,
    mprotect_split,
    mprotect_errors,
    brk_grow_shrink,
    brk_unaligned,
    fork_cow,
    fork_shared_anon,
    fork_fd_offset,
    file_read_lseek,
    file_hole,
    file_append,
    file_open_flags,
    file_ftruncate,
    file_unlink,
    file_badf,
    syscall_efault,
    msync_flags,
    madvise_dontneed,
    mmap_shared_file,
    mmap_private_file,
    mmap_file_eof,
    mmap_file_fork,
    mmap_file_prot,
    mmap_file_offset,
    mmap_flag_checks,
    fork_wait_getpid,
    execve_keeps_fds,
    mprotect_merge,
    mmap_two_shared,
    brk_fork,
    mmap_fixed_over_file,
    madvise_file,
    file_cross_page,
    fault_counts,
];

// ---------------------------------------------------------------------
// The record, written the way common.h writes it.

/// A vmlab process running a scenario, and its record.
struct Sim {
    k: Kernel,
    pid: Pid,
    base: u64,
    /// A user buffer for read(2) and write(2): the stack page.
    scratch: u64,
    lines: Vec<String>,
}

impl Sim {
    fn new() -> Sim {
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        let mut k = Kernel::new(KernelConfig::new(arch, 512)).unwrap();
        let pid = k.spawn(0).unwrap();
        // The C program starts with stdin, stdout and stderr open.
        for name in ["<stdin>", "<stdout>", "<stderr>"] {
            k.sys_open(pid, name, O_CREAT | O_RDWR, 0o644).unwrap();
        }
        let scratch = task_size(k.arch()) - 2 * PAGE;
        Sim {
            k,
            pid,
            base: 0,
            scratch,
            lines: Vec::new(),
        }
    }

    fn out(&mut self, line: String) {
        self.lines.push(line);
    }

    fn at(&self, off: i64) -> u64 {
        self.base.wrapping_add_signed(off)
    }

    fn place(&self, addr: u64) -> String {
        let d = addr.wrapping_sub(self.base) as i64;
        match d {
            0 => "base".into(),
            d if d > 0 => format!("base+{d:#x}"),
            d => format!("base-{:#x}", d.unsigned_abs()),
        }
    }

    fn report<T: Into<i64>>(&mut self, what: &str, r: Result<T, Errno>) {
        let line = match r {
            Ok(v) => format!("{what} = {}", v.into()),
            Err(e) => format!("{what} = -1 {e}"),
        };
        self.out(line);
    }

    fn report0(&mut self, what: &str, r: Result<(), Errno>) {
        self.report(what, r.map(|()| 0));
    }

    /// mmap(2) with C's argument list, so the steps read as in C.
    #[allow(clippy::too_many_arguments)]
    fn mmap(&mut self, what: &str, addr: u64, len: u64, prot: u32, flags: u32, fd: i32, off: u64) {
        let r = self.k.sys_mmap(self.pid, addr, len, prot, flags, fd, off);
        let line = match r {
            Err(e) => format!("{what} = -1 {e}"),
            Ok(a) => {
                if self.base == 0 {
                    self.base = a;
                }
                format!("{what} = {}", self.place(a))
            }
        };
        self.out(line);
    }

    fn anon(&mut self, what: &str, len: u64, prot: u32, flags: u32) {
        self.mmap(what, 0, len, prot, flags, -1, 0);
    }

    /// An anonymous mmap with the address `off` from base.
    fn anon_at(&mut self, what: &str, off: i64, len: u64, prot: u32, flags: u32) {
        self.mmap(what, self.at(off), len, prot, flags, -1, 0);
    }

    /// Runs `access` in a forked child first; a signal there is the
    /// answer, else it runs again in the process itself.
    fn probe(
        &mut self,
        access: impl Fn(&mut Kernel, Pid) -> Result<u64, Signal>,
    ) -> Result<u64, Signal> {
        let child = self.k.sys_fork(self.pid).unwrap();
        let tried = access(&mut self.k, child);
        if self.k.is_live(child) {
            self.k.sys_exit(child, 0).unwrap();
        }
        self.k.sys_wait(self.pid, Some(child)).unwrap();
        tried?;
        access(&mut self.k, self.pid)
    }

    fn load(&mut self, off: i64) {
        let addr = self.at(off);
        let r = self.probe(|k, pid| k.load(pid, addr, 1));
        let line = format!(
            "load {} = {}",
            self.place(addr),
            outcome(r.map(|v| v.to_string()))
        );
        self.out(line);
    }

    fn store(&mut self, off: i64, value: u8) {
        let addr = self.at(off);
        let r = self.probe(|k, pid| k.store(pid, addr, 1, u64::from(value)).map(|()| 0));
        let line = format!(
            "store {} = {}",
            self.place(addr),
            outcome(r.map(|_| "ok".into()))
        );
        self.out(line);
    }

    fn show_bytes(&mut self, what: &str, bytes: &[u8]) {
        let line = format!("{what} = {} \"{}\"", bytes.len(), escape(bytes));
        self.out(line);
    }

    fn show_file(&mut self, name: &str) {
        let what = format!("file {name}");
        match self.k.export_file(name) {
            Some(bytes) => self.show_bytes(&what, &bytes),
            None => self.out(format!("{what} = -1 ENOENT")),
        }
    }

    fn read_show(&mut self, fd: i32, count: u64) {
        match self.k.sys_read(self.pid, fd, self.scratch, count) {
            Err(e) => self.out(format!("read = -1 {e}")),
            Ok(n) => {
                let mut buf = vec![0; n as usize];
                self.k.read_user(self.pid, self.scratch, &mut buf).unwrap();
                self.show_bytes("read", &buf);
            }
        }
    }

    /// write(2) of `text`, placed in the scratch buffer first.
    fn write(&mut self, what: &str, fd: i32, text: &str) {
        self.k
            .write_user(self.pid, self.scratch, text.as_bytes())
            .unwrap();
        let r = self
            .k
            .sys_write(self.pid, fd, self.scratch, text.len() as u64);
        self.report(what, r.map(|n| n as i64));
    }

    /// write(2) of one page per character of `fills`, each page all
    /// that character.
    fn write_pages(&mut self, fd: i32, fills: &str) {
        for c in fills.chars() {
            self.write("write page", fd, &c.to_string().repeat(PAGE as usize));
        }
    }

    fn open(&mut self, what: &str, name: &str, flags: u32) -> i32 {
        let r = self.k.sys_open(self.pid, name, flags, 0o644);
        self.report(what, r);
        r.unwrap_or(-1)
    }

    fn lseek(&mut self, what: &str, fd: i32, off: i64, whence: u32) {
        let r = self.k.sys_lseek(self.pid, fd, off, whence);
        self.report(what, r.map(|n| n as i64));
    }

    /// fork(2): the scenario goes on as the child until [`Sim::exit_child`].
    fn fork(&mut self) -> (Pid, Pid) {
        let parent = self.pid;
        let child = self.k.sys_fork(parent).unwrap();
        self.pid = child;
        (parent, child)
    }

    fn exit_child(&mut self, (parent, child): (Pid, Pid), status: i32) {
        if self.k.is_live(child) {
            self.k.sys_exit(child, status).unwrap();
        }
        self.pid = parent;
        let line = match self.k.sys_wait(parent, Some(child)) {
            Ok(Some((_, ExitStatus::Exited(code)))) => format!("wait = exited {code}"),
            Ok(Some((_, ExitStatus::Signaled(signal)))) => format!(
                "wait = killed {}",
                if signal.kind == SignalKind::Sigsegv {
                    "SIGSEGV"
                } else {
                    "SIGBUS"
                }
            ),
            Ok(None) => "wait = still running".into(),
            Err(e) => format!("wait = -1 {e}"),
        };
        self.out(line);
    }

    /// One access at base + `off` expected to succeed (no probe: a forked
    /// child would make the pages copy-on-write), and its minor faults.
    fn touch(&mut self, off: i64, write: bool) {
        let addr = self.at(off);
        let faults = |k: &Kernel, pid| k.process_counters(pid).unwrap().minor_faults;
        let before = faults(&self.k, self.pid);
        if write {
            self.k.store(self.pid, addr, 1, 1).unwrap();
        } else {
            self.k.load(self.pid, addr, 1).unwrap();
        }
        let n = faults(&self.k, self.pid) - before;
        let kind = if write { "write" } else { "read" };
        let line = format!("{kind} {} faults = {n}", self.place(addr));
        self.out(line);
    }

    /// How many regions overlap `[off, off + len)` from base.
    fn regions_in(&mut self, what: &str, off: i64, len: u64) {
        let lo = self.at(off);
        let n = self
            .k
            .regions(self.pid)
            .map_or(0, |r| r.overlapping(lo, lo + len).count());
        self.out(format!("{what} = {n} regions"));
    }

    fn brk(&mut self, what: &str, addr: u64) {
        let r = self.k.sys_brk(self.pid, addr).unwrap();
        let line = format!("{what} = {}", self.place(r));
        self.out(line);
    }
}

fn outcome(r: Result<String, Signal>) -> String {
    match r {
        Ok(text) => text,
        Err(signal) => match (signal.kind, signal.code) {
            (SignalKind::Sigsegv, SignalCode::SegvMaperr) => "SIGSEGV SEGV_MAPERR".into(),
            (SignalKind::Sigsegv, SignalCode::SegvAccerr) => "SIGSEGV SEGV_ACCERR".into(),
            (SignalKind::Sigbus, SignalCode::BusAdrerr) => "SIGBUS BUS_ADRERR".into(),
            _ => "signal ?".into(),
        },
    }
}

fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------
// The scenarios, step for step as in their C files.

fn mmap_errors(s: &mut Sim) {
    s.anon("mmap len 0", 0, PROT_READ, ANON_PRIVATE);
    s.anon("mmap no type", PAGE, PROT_READ, MAP_ANONYMOUS);
    s.mmap("mmap offset 123", 0, PAGE, PROT_READ, ANON_PRIVATE, -1, 123);
    s.anon("mmap len 2^62", 1 << 62, PROT_READ, ANON_PRIVATE);
    s.anon(
        "mmap len -4095",
        4095u64.wrapping_neg(),
        PROT_READ,
        ANON_PRIVATE,
    );
    s.anon("mmap ok", PAGE, PROT_READ, ANON_PRIVATE);
    let fixed = ANON_PRIVATE | MAP_FIXED;
    s.anon_at("mmap fixed misaligned", 1, PAGE, PROT_READ, fixed);
}

fn mmap_file_errors(s: &mut Sim) {
    s.mmap("mmap fd -1", 0, PAGE, PROT_READ, MAP_PRIVATE, -1, 0);
    s.mmap("mmap fd 42", 0, PAGE, PROT_READ, MAP_SHARED, 42, 0);
    let w = s.open("open w.txt wronly", "w.txt", O_CREAT | O_WRONLY);
    s.write("write", w, "data");
    s.mmap(
        "mmap wronly private read",
        0,
        PAGE,
        PROT_READ,
        MAP_PRIVATE,
        w,
        0,
    );
    s.mmap(
        "mmap wronly shared read",
        0,
        PAGE,
        PROT_READ,
        MAP_SHARED,
        w,
        0,
    );
    let r = s.open("open w.txt rdonly", "w.txt", O_RDONLY);
    s.mmap("mmap rdonly shared write", 0, PAGE, RW, MAP_SHARED, r, 0);
    s.mmap("mmap rdonly no type", 0, PAGE, PROT_READ, 0, r, 0);
    s.mmap(
        "mmap rdonly misaligned offset",
        0,
        PAGE,
        PROT_READ,
        MAP_PRIVATE,
        r,
        100,
    );
    s.mmap(
        "mmap fd 42 misaligned offset",
        0,
        PAGE,
        PROT_READ,
        MAP_PRIVATE,
        42,
        100,
    );
    let end = 0x7fff_ffff_ffff_f000;
    s.mmap(
        "mmap offset past off_t",
        0,
        PAGE,
        PROT_READ,
        MAP_PRIVATE,
        r,
        end,
    );
    let near = 0x7fff_ffff_ffff_e000;
    s.mmap(
        "mmap offset near the end of off_t",
        0,
        PAGE,
        PROT_READ,
        MAP_PRIVATE,
        r,
        near,
    );
}

fn mmap_fixed_replaces(s: &mut Sim) {
    s.anon("mmap 4 pages", 4 * PAGE, RW, ANON_PRIVATE);
    for i in 0..4 {
        s.store(i * PAGE as i64, 10 + i as u8);
    }
    let fixed = ANON_PRIVATE | MAP_FIXED;
    s.anon_at("mmap fixed page 1", PAGE as i64, PAGE, RW, fixed);
    for i in 0..4 {
        s.load(i * PAGE as i64);
    }
    let at = s.at(2 * PAGE as i64);
    s.mmap(
        "mmap fixed pages 2-3 read-only",
        at,
        2 * PAGE,
        PROT_READ,
        fixed,
        -1,
        0,
    );
    s.store(3 * PAGE as i64, 1);
    s.load(3 * PAGE as i64);
}

fn mmap_fixed_noreplace(s: &mut Sim) {
    let p = PAGE as i64;
    let noreplace = ANON_PRIVATE | MAP_FIXED_NOREPLACE;
    s.anon("mmap 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    s.store(p, 5);
    s.anon_at("noreplace over page 1", p, PAGE, PROT_READ, noreplace);
    s.load(p);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    s.anon_at("noreplace pages 1-2", p, 2 * PAGE, PROT_READ, noreplace);
    s.anon_at("noreplace page 1", p, PAGE, PROT_READ, noreplace);
    s.load(p);
    s.anon_at("noreplace misaligned", 10, PAGE, PROT_READ, noreplace);
}

fn mmap_hint(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 4 pages", 4 * PAGE, RW, ANON_PRIVATE);
    let r = s.k.sys_munmap(s.pid, s.at(p), 2 * PAGE);
    s.report0("munmap pages 1-2", r);
    s.anon_at("hint page 1 + 100", p + 100, PAGE, PROT_READ, ANON_PRIVATE);
    let moved =
        s.k.sys_mmap(s.pid, s.base, PAGE, PROT_READ, ANON_PRIVATE, -1, 0)
            .is_ok_and(|a| a != s.base);
    s.out(format!(
        "hint on a mapped page moves = {}",
        if moved { "yes" } else { "no" }
    ));
    s.load(0);
}

fn mmap_populate(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap populate", 2 * PAGE, RW, ANON_PRIVATE | MAP_POPULATE);
    s.load(0);
    s.load(p + 7);
    s.store(p + 7, 9);
    s.load(p + 7);
    let shared = MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE;
    s.anon("mmap shared populate", PAGE, PROT_READ, shared);
    s.load(-p);
    s.anon("mmap none", PAGE, PROT_NONE, ANON_PRIVATE);
    s.load(-2 * p);
}

fn munmap_partial(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    s.store(0, 1);
    s.store(p, 2);
    s.store(2 * p, 3);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap middle", r);
    s.load(0);
    s.load(p);
    s.load(2 * p);
    let r = s.k.sys_munmap(s.pid, s.at(2 * p), 10);
    s.report0("munmap last, length not page multiple", r);
    s.load(2 * p);
    s.load(0);
}

fn munmap_holes(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 4 pages", 4 * PAGE, RW, ANON_PRIVATE);
    s.store(0, 1);
    s.store(3 * p, 4);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    let r = s.k.sys_munmap(s.pid, s.at(1), PAGE);
    s.report0("munmap misaligned", r);
    let r = s.k.sys_munmap(s.pid, s.base, 0);
    s.report0("munmap length 0", r);
    let r = s.k.sys_munmap(s.pid, s.base, 4 * PAGE);
    s.report0("munmap all 4 with the hole", r);
    s.load(0);
    s.load(3 * p);
    let r = s.k.sys_munmap(s.pid, s.base, 4 * PAGE);
    s.report0("munmap again", r);
    let r = s.k.sys_munmap(s.pid, 0x7fff_ffff_f000, 2 * PAGE);
    s.report0("munmap past the end of user space", r);
}

fn mprotect_split(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    s.store(p, 42);
    let r = s.k.sys_mprotect(s.pid, s.at(p), PAGE, PROT_READ);
    s.report0("mprotect middle read", r);
    s.store(p, 43);
    s.load(p);
    s.store(0, 1);
    s.store(2 * p, 2);
    let r = s.k.sys_mprotect(s.pid, s.at(p), PAGE, PROT_NONE);
    s.report0("mprotect middle none", r);
    s.load(p);
    let r = s.k.sys_mprotect(s.pid, s.base, 3 * PAGE, RW);
    s.report0("mprotect all read-write", r);
    s.store(p, 44);
    s.load(p);
}

fn mprotect_errors(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    let r = s.k.sys_mprotect(s.pid, s.at(1), PAGE, PROT_READ);
    s.report0("mprotect misaligned", r);
    let r = s.k.sys_mprotect(s.pid, s.base, PAGE, 0x40);
    s.report0("mprotect bad prot", r);
    let r = s.k.sys_mprotect(s.pid, s.at(p), 0, PROT_READ);
    s.report0("mprotect length 0", r);
    let r = s.k.sys_mprotect(s.pid, s.at(p), PAGE, PROT_READ);
    s.report0("mprotect unmapped", r);
    let r = s.k.sys_mprotect(s.pid, s.base, 3 * PAGE, PROT_READ);
    s.report0("mprotect across the hole", r);
    s.store(0, 1);
    s.store(2 * p, 1);
    let r = s.k.sys_mprotect(s.pid, s.at(2 * p), 1, PROT_NONE);
    s.report0("mprotect length not page multiple", r);
    s.load(2 * p);
}

fn brk_grow_shrink(s: &mut Sim) {
    let p = PAGE as i64;
    s.base = s.k.sys_brk(s.pid, 0).unwrap();
    s.brk("brk 0", 0);
    s.brk("brk +3 pages", s.at(3 * p));
    s.store(0, 1);
    s.store(2 * p + 100, 7);
    s.load(2 * p + 100);
    s.brk("brk +1 page", s.at(p));
    s.load(0);
    s.load(2 * p + 100);
    s.brk("brk +3 pages again", s.at(3 * p));
    s.load(2 * p + 100);
    s.brk("brk below start", s.at(-16 * p));
    s.brk("brk 2^50", 1 << 50);
    s.brk("brk back to start", s.base);
    s.load(0);
}

fn brk_unaligned(s: &mut Sim) {
    let p = PAGE as i64;
    s.base = s.k.sys_brk(s.pid, 0).unwrap();
    s.brk("brk +100", s.at(100));
    s.store(50, 5);
    s.store(p - 1, 6);
    s.store(p, 7);
    s.brk("brk +5000", s.at(5000));
    s.store(p, 8);
    s.load(p);
    s.store(2 * p, 9);
}

fn fork_cow(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 2 pages", 2 * PAGE, RW, ANON_PRIVATE);
    s.store(0, 1);
    let pair = s.fork();
    s.load(0);
    s.store(0, 2);
    s.store(p, 3);
    s.load(0);
    s.load(p);
    s.exit_child(pair, 7);
    s.load(0);
    s.load(p);
    s.store(0, 4);
    s.load(0);
}

fn fork_shared_anon(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap shared", PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    s.anon("mmap private", PAGE, RW, ANON_PRIVATE);
    s.store(0, 1);
    let pair = s.fork();
    s.store(0, 2);
    s.store(-p, 3);
    s.exit_child(pair, 0);
    s.load(0);
    s.load(-p);
    let pair = s.fork();
    let _ = s.k.store(s.pid, s.at(-4 * p), 1, 1);
    s.exit_child(pair, 0);
}

fn fork_fd_offset(s: &mut Sim) {
    let fd = s.open("open", "f.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "ab");
    let pair = s.fork();
    s.write("child write", fd, "cd");
    s.lseek("child lseek cur", fd, 0, SEEK_CUR);
    let r = s.k.sys_close(s.pid, fd);
    s.report0("child close", r);
    s.write("child write after close", fd, "xx");
    s.exit_child(pair, 0);
    s.lseek("lseek cur", fd, 0, SEEK_CUR);
    s.write("write", fd, "ef");
    s.show_file("f.txt");
    let r = s.k.sys_close(s.pid, fd);
    s.report0("close", r);
}

fn file_read_lseek(s: &mut Sim) {
    let fd = s.open("open", "f.txt", O_CREAT | O_RDWR);
    s.write("write", fd, "hello world");
    s.lseek("lseek set 0", fd, 0, SEEK_SET);
    s.read_show(fd, 5);
    s.lseek("lseek cur 0", fd, 0, SEEK_CUR);
    s.lseek("lseek end -5", fd, -5, SEEK_END);
    s.read_show(fd, 100);
    s.read_show(fd, 100);
    s.lseek("lseek cur -100", fd, -100, SEEK_CUR);
    s.lseek("lseek whence 7", fd, 0, 7);
    s.lseek("lseek end +100", fd, 100, SEEK_END);
    s.read_show(fd, 10);
    let r = s.k.sys_read(s.pid, fd, 0, 0);
    s.report("read count 0", r.map(|n| n as i64));
}

fn file_hole(s: &mut Sim) {
    let fd = s.open("open", "h.bin", O_CREAT | O_RDWR);
    s.lseek("lseek 5", fd, 5, SEEK_SET);
    s.show_file("h.bin");
    s.write("write", fd, "x");
    s.show_file("h.bin");
    s.lseek("lseek set 0", fd, 0, SEEK_SET);
    s.read_show(fd, 100);
}

fn file_append(s: &mut Sim) {
    let fd = s.open("open", "a.txt", O_CREAT | O_WRONLY | O_TRUNC);
    s.write("write", fd, "one");
    let r = s.k.sys_close(s.pid, fd);
    s.report0("close", r);
    let fd = s.open("open append", "a.txt", O_WRONLY | O_APPEND);
    s.lseek("lseek set 0", fd, 0, SEEK_SET);
    s.write("write", fd, "two");
    s.lseek("lseek cur 0", fd, 0, SEEK_CUR);
    let other = s.open("open plain", "a.txt", O_WRONLY);
    s.write("write plain", other, "ON");
    s.write("write append", fd, "3");
    s.show_file("a.txt");
    s.read_show(fd, 10);
}

fn file_open_flags(s: &mut Sim) {
    s.open("open missing", "m.txt", O_RDONLY);
    s.open("open empty name", "", O_RDONLY);
    let fd = s.open("open create excl", "m.txt", O_CREAT | O_EXCL | O_WRONLY);
    s.write("write", fd, "content");
    s.open("open create excl again", "m.txt", O_CREAT | O_EXCL | O_RDWR);
    let a = s.open("open rdonly", "m.txt", O_RDONLY);
    s.open("open rdonly", "m.txt", O_RDONLY);
    let r = s.k.sys_close(s.pid, fd);
    s.report0("close first", r);
    s.open("open reuses lowest", "m.txt", O_RDONLY);
    s.show_file("m.txt");
    s.open("open trunc", "m.txt", O_WRONLY | O_TRUNC);
    s.show_file("m.txt");
    s.read_show(a, 10);
}

fn file_ftruncate(s: &mut Sim) {
    let fd = s.open("open", "t.txt", O_CREAT | O_RDWR);
    s.write("write", fd, "abcdef");
    let r = s.k.sys_ftruncate(s.pid, fd, 10);
    s.report0("ftruncate 10", r);
    s.show_file("t.txt");
    let r = s.k.sys_ftruncate(s.pid, fd, 2);
    s.report0("ftruncate 2", r);
    s.show_file("t.txt");
    s.lseek("offset stays", fd, 0, SEEK_CUR);
    s.write("write at old offset", fd, "Z");
    s.show_file("t.txt");
    let r = s.open("open rdonly", "t.txt", O_RDONLY);
    let t = s.k.sys_ftruncate(s.pid, r, 0);
    s.report0("ftruncate rdonly", t);
    let t = s.k.sys_ftruncate(s.pid, fd, -1);
    s.report0("ftruncate -1", t);
    let t = s.k.sys_ftruncate(s.pid, 42, 0);
    s.report0("ftruncate bad fd", t);
    let t = s.k.sys_ftruncate(s.pid, 42, -1);
    s.report0("ftruncate bad fd -1", t);
}

fn file_unlink(s: &mut Sim) {
    let fd = s.open("open", "u.txt", O_CREAT | O_RDWR);
    s.write("write", fd, "still here");
    let r = s.k.sys_unlink(s.pid, "u.txt");
    s.report0("unlink", r);
    s.show_file("u.txt");
    let r = s.k.sys_unlink(s.pid, "u.txt");
    s.report0("unlink again", r);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.read_show(fd, 100);
    s.write("write", fd, "!");
    let r = s.k.sys_close(s.pid, fd);
    s.report0("close", r);
    s.open("open new", "u.txt", O_CREAT | O_RDWR);
    s.show_file("u.txt");
    let r = s.k.sys_unlink(s.pid, "nope.txt");
    s.report0("unlink missing", r);
}

fn file_badf(s: &mut Sim) {
    s.read_show(42, 1);
    s.write("write 42", 42, "x");
    let r = s.k.sys_close(s.pid, 42);
    s.report0("close 42", r);
    s.lseek("lseek 42", 42, 0, SEEK_SET);
    let r = s.k.sys_close(s.pid, -1);
    s.report0("close -1", r);
    let w = s.open("open wronly", "b.txt", O_CREAT | O_WRONLY);
    s.read_show(w, 1);
    let r = s.open("open rdonly", "b.txt", O_RDONLY);
    s.write("write rdonly", r, "x");
    let c = s.k.sys_close(s.pid, r);
    s.report0("close", c);
    let c = s.k.sys_close(s.pid, r);
    s.report0("close again", c);
}

fn syscall_efault(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 2 pages", 2 * PAGE, RW, ANON_PRIVATE);
    s.anon("mmap read-only", PAGE, PROT_READ, ANON_PRIVATE);
    s.anon("mmap none", PAGE, PROT_NONE, ANON_PRIVATE);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    let fd = s.open("open", "e.txt", O_CREAT | O_RDWR);
    s.write("write 8 bytes", fd, "abcdefgh");
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    let read = |s: &mut Sim, what: &str, off: i64, n: u64| {
        let r = s.k.sys_read(s.pid, fd, s.at(off), n);
        s.report(what, r.map(|n| n as i64));
    };
    let write = |s: &mut Sim, what: &str, off: i64, n: u64| {
        let r = s.k.sys_write(s.pid, fd, s.at(off), n);
        s.report(what, r.map(|n| n as i64));
    };
    read(s, "read into unmapped", p, 4);
    read(s, "read into read-only", -p, 4);
    read(s, "read into none", -2 * p, 4);
    s.lseek("lseek cur", fd, 0, SEEK_CUR);
    write(s, "write from unmapped", p, 4);
    write(s, "write from none", -2 * p, 4);
    write(s, "write from read-only", -p, 2);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    read(s, "read straddling the hole", p - 3, 8);
    s.load(p - 3);
    s.load(p - 1);
    write(s, "write straddling the hole", p - 2, 8);
    s.show_file("e.txt");
}

fn msync_flags(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    let cases: [(&str, i64, u64, u32); 10] = [
        ("msync sync", 0, PAGE, MS_SYNC),
        ("msync async", 0, PAGE, MS_ASYNC),
        ("msync invalidate", 0, PAGE, MS_INVALIDATE),
        ("msync async|sync", 0, PAGE, MS_ASYNC | MS_SYNC),
        ("msync flag 8", 0, PAGE, 8),
        ("msync misaligned", 1, PAGE, MS_SYNC),
        ("msync length 0", p, 0, MS_SYNC),
        ("msync over the hole", 0, 3 * PAGE, MS_SYNC),
        ("msync unmapped", p, PAGE, MS_ASYNC),
        ("msync partial page length", 2 * p, 1, MS_SYNC),
    ];
    for (what, off, len, flags) in cases {
        let r = s.k.sys_msync(s.pid, s.at(off), len, flags);
        s.report0(what, r);
    }
}

fn madvise_dontneed(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap private 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    s.anon("mmap shared", PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    s.store(0, 1);
    s.store(2 * p, 3);
    s.store(-p, 9);
    let advise = |s: &mut Sim, what: &str, off: i64, len: u64, advice: u32| {
        let r = s.k.sys_madvise(s.pid, s.at(off), len, advice);
        s.report0(what, r);
    };
    advise(s, "madvise willneed", 0, PAGE, MADV_WILLNEED);
    advise(s, "madvise advice 999", 0, PAGE, 999);
    advise(s, "madvise misaligned", 1, PAGE, MADV_DONTNEED);
    advise(s, "madvise length 0", 0, 0, MADV_DONTNEED);
    s.load(0);
    advise(s, "madvise dontneed private", 0, PAGE, MADV_DONTNEED);
    s.load(0);
    advise(s, "madvise dontneed shared", -p, PAGE, MADV_DONTNEED);
    s.load(-p);
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    advise(
        s,
        "madvise dontneed over the hole",
        0,
        3 * PAGE,
        MADV_DONTNEED,
    );
    s.load(2 * p);
    advise(s, "madvise sequential unmapped", p, PAGE, MADV_SEQUENTIAL);
}

fn mmap_shared_file(s: &mut Sim) {
    let fd = s.open("open", "s.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "0123456789");
    s.mmap("mmap shared", 0, PAGE, RW, MAP_SHARED, fd, 0);
    s.load(0);
    s.load(9);
    s.store(0, b'A');
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.read_show(fd, 100);
    s.lseek("lseek 5", fd, 5, SEEK_SET);
    s.write("write", fd, "xy");
    s.load(5);
    s.load(6);
    let r = s.k.sys_msync(s.pid, s.base, PAGE, MS_SYNC);
    s.report0("msync sync", r);
    s.show_file("s.txt");
    s.store(2, b'B');
    let r = s.k.sys_munmap(s.pid, s.base, PAGE);
    s.report0("munmap", r);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.read_show(fd, 100);
}

fn mmap_private_file(s: &mut Sim) {
    let fd = s.open("open", "p.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "abcdefgh");
    s.mmap("mmap private", 0, PAGE, RW, MAP_PRIVATE, fd, 0);
    s.load(0);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.write("write Z", fd, "Z");
    s.load(0);
    s.store(1, b'p');
    s.load(0);
    s.load(1);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.write("write QR", fd, "QR");
    s.load(0);
    s.load(1);
    let r = s.k.sys_msync(s.pid, s.base, PAGE, MS_SYNC);
    s.report0("msync sync", r);
    s.show_file("p.txt");
}

fn mmap_file_eof(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "e.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "0123456789");
    s.mmap("mmap 3 pages shared", 0, 3 * PAGE, RW, MAP_SHARED, fd, 0);
    s.load(9);
    s.load(10);
    s.load(p - 1);
    s.load(p);
    s.store(p, 1);
    s.store(100, b'T');
    let r = s.k.sys_msync(s.pid, s.base, 3 * PAGE, MS_SYNC);
    s.report0("msync sync", r);
    s.show_file("e.txt");
    let r = s.k.sys_ftruncate(s.pid, fd, 5000);
    s.report0("ftruncate 5000", r);
    s.load(p);
    s.store(p + 1, b'G');
    s.load(2 * p);
    let r = s.k.sys_ftruncate(s.pid, fd, 3);
    s.report0("ftruncate 3", r);
    s.load(2);
    s.load(5);
    s.load(p + 1);
    s.show_file("e.txt");
}

fn mmap_file_fork(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "k.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "parent..");
    s.mmap("mmap shared", 0, PAGE, RW, MAP_SHARED, fd, 0);
    s.mmap("mmap private", 0, PAGE, RW, MAP_PRIVATE, fd, 0);
    let pair = s.fork();
    s.store(0, b'C');
    s.store(-p + 1, b'c');
    s.load(-p);
    s.load(-p + 1);
    s.exit_child(pair, 0);
    s.load(0);
    s.load(-p);
    s.load(-p + 1);
    s.show_file("k.txt");
}

fn mmap_file_prot(s: &mut Sim) {
    let p = PAGE as i64;
    let w = s.open("open wronly", "r.txt", O_CREAT | O_WRONLY | O_TRUNC);
    s.write("write", w, "read-only");
    let fd = s.open("open rdonly", "r.txt", O_RDONLY);
    s.mmap("mmap shared read", 0, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    s.load(0);
    s.store(0, b'X');
    let r = s.k.sys_mprotect(s.pid, s.base, PAGE, RW);
    s.report0("mprotect shared write", r);
    let r = s.k.sys_mprotect(s.pid, s.base, PAGE, PROT_NONE);
    s.report0("mprotect shared none", r);
    s.load(0);
    s.mmap("mmap private write", 0, PAGE, RW, MAP_PRIVATE, fd, 0);
    s.store(-p, b'P');
    s.load(-p);
    let r = s.k.sys_mprotect(s.pid, s.at(-p), PAGE, PROT_READ);
    s.report0("mprotect private read", r);
    let r = s.k.sys_mprotect(s.pid, s.at(-p), PAGE, RW);
    s.report0("mprotect private write", r);
    s.store(-p + 1, b'Q');
    s.show_file("r.txt");
}

fn mmap_file_offset(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "o.bin", O_CREAT | O_RDWR | O_TRUNC);
    s.write_pages(fd, "abc");
    s.mmap(
        "mmap offset 1 page",
        0,
        2 * PAGE,
        PROT_READ,
        MAP_SHARED,
        fd,
        PAGE,
    );
    s.load(0);
    s.load(p);
    s.mmap(
        "mmap offset 5 pages",
        0,
        PAGE,
        PROT_READ,
        MAP_PRIVATE,
        fd,
        5 * PAGE,
    );
    s.load(-p);
    let r = s.k.sys_close(s.pid, fd);
    s.report0("close", r);
    let r = s.k.sys_unlink(s.pid, "o.bin");
    s.report0("unlink", r);
    s.load(p + 5);
    s.show_file("o.bin");
}

fn mmap_flag_checks(s: &mut Sim) {
    let p = PAGE as i64;
    let shared_anon = MAP_SHARED | MAP_ANONYMOUS;
    s.anon(
        "anon shared unknown 0x200",
        PAGE,
        PROT_READ,
        shared_anon | 0x200,
    );
    let validate = MAP_SHARED_VALIDATE | MAP_ANONYMOUS;
    s.anon("anon validate", PAGE, PROT_READ, validate);
    s.anon("anon type 0xf", PAGE, PROT_READ, 0xf | MAP_ANONYMOUS);
    let fd = s.open("open", "v.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "abc");
    let cases: [(&str, u32); 5] = [
        ("file validate unknown 0x200", MAP_SHARED_VALIDATE | 0x200),
        ("file validate 0x400000", MAP_SHARED_VALIDATE | 0x40_0000),
        ("file validate MAP_STACK", MAP_SHARED_VALIDATE | MAP_STACK),
        (
            "file validate huge size bits",
            MAP_SHARED_VALIDATE | 0x4000_0000,
        ),
        ("file private unknown 0x200", MAP_PRIVATE | 0x200),
    ];
    for (what, flags) in cases {
        s.mmap(what, 0, PAGE, PROT_READ, flags, fd, 0);
    }
    s.load(-p);
    s.anon("prot 0x10", PAGE, 0x10, ANON_PRIVATE);
    let prots: [(&str, u64, u32); 6] = [
        ("mprotect PROT_SEM", PAGE, PROT_READ | PROT_SEM),
        ("mprotect GROWSUP", PAGE, PROT_READ | PROT_GROWSUP),
        ("mprotect GROWSDOWN", PAGE, PROT_READ | PROT_GROWSDOWN),
        (
            "mprotect both grows",
            PAGE,
            PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP,
        ),
        ("mprotect 0x10", PAGE, 0x10),
        ("mprotect 0x10 length 0", 0, 0x10),
    ];
    for (what, len, prot) in prots {
        let r = s.k.sys_mprotect(s.pid, s.base, len, prot);
        s.report0(what, r);
    }
}

fn fork_wait_getpid(s: &mut Sim) {
    let r = s.k.sys_wait(s.pid, None).map(|_| 0);
    s.report("wait no child", r);
    let parent = s.pid;
    let child = s.k.sys_fork(parent).unwrap();
    let own = s.k.sys_getpid(child).unwrap();
    s.k.sys_exit(child, (own % 256) as i32).unwrap();
    let waited = s.k.sys_wait(parent, Some(child)).unwrap();
    s.report("waitpid", Ok(if waited.is_some() { 0 } else { -1 }));
    let same = matches!(waited, Some((_, ExitStatus::Exited(code))) if code as u32 == child % 256);
    s.out(format!(
        "exit status is the child's pid mod 256 = {}",
        if same { "yes" } else { "no" }
    ));
    let pair = s.fork();
    s.exit_child(pair, 261);
    let r = s.k.sys_wait(s.pid, None).map(|_| 0);
    s.report("wait again", r);
}

fn execve_keeps_fds(s: &mut Sim) {
    let fd = s.open("open", "x.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "abcdef");
    s.lseek("lseek 2", fd, 2, SEEK_SET);
    s.k.sys_execve(s.pid).unwrap();
    s.out("after execve".into());
    let same = s.k.sys_getpid(s.pid) == Ok(s.pid);
    s.out(format!(
        "getpid unchanged = {}",
        if same { "yes" } else { "no" }
    ));
    s.lseek("lseek cur", fd, 0, SEEK_CUR);
    s.read_show(fd, 10);
    let r = s.k.sys_close(s.pid, fd);
    s.report0("close", r);
}

fn mprotect_merge(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 4 pages", 4 * PAGE, RW, ANON_PRIVATE);
    s.regions_in("mapping", 0, 4 * PAGE);
    let steps: [(&str, i64, u64, u32); 4] = [
        ("mprotect page 1 read", p, PAGE, PROT_READ),
        ("mprotect page 2 read", 2 * p, PAGE, PROT_READ),
        ("mprotect pages 1-2 read-write", p, 2 * PAGE, RW),
        ("mprotect page 3 none", 3 * p, PAGE, PROT_NONE),
    ];
    for (what, off, len, prot) in steps {
        let r = s.k.sys_mprotect(s.pid, s.at(off), len, prot);
        s.report0(what, r);
        s.regions_in("mapping", 0, 4 * PAGE);
    }
    let r = s.k.sys_munmap(s.pid, s.at(p), PAGE);
    s.report0("munmap page 1", r);
    let r = s.k.sys_mprotect(s.pid, s.at(3 * p), PAGE, RW);
    s.report0("mprotect page 3 read-write", r);
    s.regions_in("mapping", 0, 4 * PAGE);
}

fn mmap_two_shared(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "t.bin", O_CREAT | O_RDWR | O_TRUNC);
    s.write_pages(fd, "ab");
    s.mmap("mmap shared 1", 0, 2 * PAGE, RW, MAP_SHARED, fd, 0);
    s.mmap("mmap shared 2", 0, 2 * PAGE, RW, MAP_SHARED, fd, 0);
    s.mmap("mmap private", 0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0);
    s.store(0, b'X');
    s.load(-2 * p);
    s.load(-4 * p);
    s.store(-2 * p + p, b'Y');
    s.load(p);
    s.store(-4 * p + p + 1, b'p');
    s.load(-4 * p + p);
    let r = s.k.sys_munmap(s.pid, s.base, PAGE);
    s.report0("munmap first page of shared 1", r);
    s.load(0);
    s.load(p);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.read_show(fd, 3);
    s.lseek("lseek page", fd, p, SEEK_SET);
    s.read_show(fd, 3);
}

fn brk_fork(s: &mut Sim) {
    let p = PAGE as i64;
    s.base = s.k.sys_brk(s.pid, 0).unwrap();
    s.brk("brk +2 pages", s.at(2 * p));
    s.store(0, 1);
    s.store(p, 2);
    let pair = s.fork();
    s.store(0, 3);
    s.brk("child brk +1 page", s.at(p));
    s.load(0);
    s.load(p);
    s.exit_child(pair, 0);
    s.load(0);
    s.load(p);
    s.brk("brk 0", 0);
}

fn mmap_fixed_over_file(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "f.bin", O_CREAT | O_RDWR | O_TRUNC);
    s.write_pages(fd, "fg");
    s.mmap("mmap shared", 0, 2 * PAGE, RW, MAP_SHARED, fd, 0);
    s.store(0, b'S');
    let fixed = ANON_PRIVATE | MAP_FIXED;
    s.anon_at("fixed anon over page 1", p, PAGE, RW, fixed);
    s.load(p);
    s.store(p, b'N');
    s.lseek("lseek page", fd, p, SEEK_SET);
    s.read_show(fd, 3);
    s.load(0);
    let at = s.at(p);
    s.mmap(
        "fixed file page 0 over page 1",
        at,
        PAGE,
        PROT_READ,
        MAP_SHARED | MAP_FIXED,
        fd,
        0,
    );
    s.load(p);
    s.load(p + 1);
}

fn madvise_file(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "m.txt", O_CREAT | O_RDWR | O_TRUNC);
    s.write("write", fd, "hello");
    s.mmap("mmap private", 0, PAGE, RW, MAP_PRIVATE, fd, 0);
    s.mmap("mmap shared", 0, PAGE, RW, MAP_SHARED, fd, 0);
    s.store(0, b'J');
    s.load(0);
    let r = s.k.sys_madvise(s.pid, s.base, PAGE, MADV_DONTNEED);
    s.report0("madvise dontneed private", r);
    s.load(0);
    s.store(-p, b'K');
    let r = s.k.sys_madvise(s.pid, s.at(-p), PAGE, MADV_DONTNEED);
    s.report0("madvise dontneed shared", r);
    s.load(-p);
    s.load(0);
    s.lseek("lseek 0", fd, 0, SEEK_SET);
    s.read_show(fd, 10);
}

fn file_cross_page(s: &mut Sim) {
    let p = PAGE as i64;
    let fd = s.open("open", "c.bin", O_CREAT | O_RDWR | O_TRUNC);
    s.write_pages(fd, "ABC");
    s.write("write tail", fd, "tail");
    s.lseek("lseek page - 3", fd, p - 3, SEEK_SET);
    s.read_show(fd, 8);
    s.lseek("lseek 2 pages - 2", fd, 2 * p - 2, SEEK_SET);
    s.write("write across", fd, "xyzw");
    s.lseek("lseek 2 pages - 3", fd, 2 * p - 3, SEEK_SET);
    s.read_show(fd, 6);
    s.lseek("lseek 3 pages - 1", fd, 3 * p - 1, SEEK_SET);
    s.read_show(fd, 10);
    let r = s.k.sys_ftruncate(s.pid, fd, p + 1);
    s.report0("ftruncate page + 1", r);
    s.lseek("lseek page - 1", fd, p - 1, SEEK_SET);
    s.read_show(fd, 10);
    s.lseek("lseek end", fd, 0, SEEK_END);
}

fn fault_counts(s: &mut Sim) {
    let p = PAGE as i64;
    s.anon("mmap 3 pages", 3 * PAGE, RW, ANON_PRIVATE);
    s.touch(0, false);
    s.touch(0, false);
    s.touch(0, true);
    s.touch(0, true);
    s.touch(p, true);
    let pair = s.fork();
    s.touch(0, true);
    s.touch(2 * p, false);
    s.touch(p, false);
    s.exit_child(pair, 0);
    s.touch(0, true);
    s.touch(p, false);
    s.touch(p, true);
    s.anon("mmap shared", PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    s.touch(-p, false);
    s.touch(-p, true);
}

// ---------------------------------------------------------------------
// The host side.

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// A fresh directory under the system temporary directory.
fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-differential-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles and runs `name`.c in its own directory; its stdout.
fn run_on_linux(name: &str, work: &Path) -> Result<String, String> {
    let source = scenario_dir().join(format!("{name}.c"));
    let run_dir = work.join(name);
    std::fs::create_dir_all(&run_dir).unwrap();
    let binary = run_dir.join(name);
    let compiled = Command::new("cc")
        .args([
            "-std=c11",
            "-O0",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
            "-o",
        ])
        .arg(&binary)
        .arg(&source)
        .output()
        .map_err(|e| {
            format!(
                "cannot run the C compiler `cc` ({e}); install one: sudo apt-get install -y gcc"
            )
        })?;
    if !compiled.status.success() {
        return Err(format!(
            "{name}.c does not compile:\n{}",
            String::from_utf8_lossy(&compiled.stderr)
        ));
    }
    let ran = Command::new(&binary)
        .current_dir(&run_dir)
        .output()
        .map_err(|e| format!("{name}: cannot run: {e}"))?;
    if !ran.status.success() {
        return Err(format!("{name}: exited with {}", ran.status));
    }
    Ok(String::from_utf8_lossy(&ran.stdout).into_owned())
}

fn run_on_vmlab(scenario: &Scenario) -> String {
    let mut sim = Sim::new();
    (scenario.vmlab)(&mut sim);
    let mut text = sim.lines.join("\n");
    text.push('\n');
    text
}

/// A line-by-line diff: `-` for Linux's lines, `+` for vmlab's.
fn diff(linux: &str, vmlab: &str) -> String {
    let a: Vec<&str> = linux.lines().collect();
    let b: Vec<&str> = vmlab.lines().collect();
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => out += &format!("  {x}\n"),
            (x, y) => {
                if let Some(x) = x {
                    out += &format!("- {x}\n");
                }
                if let Some(y) = y {
                    out += &format!("+ {y}\n");
                }
            }
        }
    }
    out
}

#[test]
fn vmlab_matches_linux_on_every_scenario() {
    let work = work_dir();
    let mut failures = Vec::new();
    for scenario in SCENARIOS {
        let linux = match run_on_linux(scenario.name, &work) {
            Ok(text) => text,
            Err(message) => {
                failures.push(message);
                continue;
            }
        };
        let vmlab = run_on_vmlab(scenario);
        if linux != vmlab {
            failures.push(format!(
                "{} differs (- Linux, + vmlab):\n{}",
                scenario.name,
                diff(&linux, &vmlab)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        SCENARIOS.len(),
        failures.join("\n")
    );
}

#[test]
fn every_scenario_file_is_in_the_table() {
    let mut files: Vec<String> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".c").map(str::to_owned)
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = SCENARIOS.iter().map(|s| s.name.to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed);
}
