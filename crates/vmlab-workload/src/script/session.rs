//! The simulated side of a script run: the C library (which owns the
//! kernel), which process runs the script's code at this moment, and the
//! errno each process's library keeps. Every binding goes through
//! [`Session`], which turns the answers into script values: a system
//! call's result or `-errno`, a library function's result or C's failure
//! value (with errno set), a load's value, or the end of the current
//! process (a signal or `exit`), which unwinds the script's code up to
//! the `fork`/`posix_spawn` that started that process.
//!
//! Every process runs [`Libc::start`] first, as a C program's startup
//! code does, so library calls, the script's own system calls and its
//! accesses are all counted by the library's accounting, and stdio's
//! buffers live in each process's memory (fork copies them, unflushed
//! output included).

use super::engine::{Assertions, ScriptOptions};
use rhai::{Dynamic, EvalAltResult, Map, Position, INT};
use std::collections::BTreeMap;
use std::io::Write as _;
use vmlab_kernel::cost::CostModel;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region::RegionKind;
use vmlab_kernel::{Errno, ExitStatus, Kernel, Personality, ReplacementScope, SignalKind};
use vmlab_libc::{Libc, LibcError, MallocConfig};

/// The value a script-side unwinding carries: the process that ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcessEnded(pub(crate) Pid);

/// The error that unwinds the script's code when process `pid` ends.
/// `ErrorTerminated` is one a script's `try`/`catch` cannot catch: a dead
/// process must not run on.
pub(crate) fn ended(pid: Pid) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(Dynamic::from(ProcessEnded(pid)), Position::NONE).into()
}

/// The process an unwinding error says ended, if it is one.
pub(crate) fn ended_pid(e: &EvalAltResult) -> Option<Pid> {
    match e {
        EvalAltResult::ErrorTerminated(value, _) => value.read_lock::<ProcessEnded>().map(|p| p.0),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => ended_pid(inner),
        _ => None,
    }
}

/// Linux's wait status word: the exit code in bits 8-15, or the
/// terminating signal's number in bits 0-6.
pub(crate) fn status_word(status: ExitStatus) -> INT {
    match status {
        ExitStatus::Exited(code) => INT::from(code & 0xff) << 8,
        ExitStatus::Signaled(signal) => signal_number(signal.kind),
    }
}

/// The x86-64 Linux number of a signal.
pub(crate) fn signal_number(kind: SignalKind) -> INT {
    match kind {
        SignalKind::Sigbus => 7,
        SignalKind::Sigkill => 9,
        SignalKind::Sigsegv => 11,
    }
}

/// How a process ended, in words (`exit 0`, `SIGSEGV (SEGV_MAPERR) at 0x0`).
pub(crate) fn describe(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => format!("exit {code}"),
        ExitStatus::Signaled(signal) => signal.to_string(),
    }
}

/// The library functions a script reaches, by the names the library's
/// accounting counts them under.
const LIBRARY_FUNCTIONS: [&str; 25] = [
    "malloc",
    "free",
    "calloc",
    "realloc",
    "fopen",
    "fclose",
    "fflush",
    "fread",
    "fwrite",
    "fputs",
    "fputc",
    "printf",
    "fprintf",
    "exit",
    "_exit",
    "memcpy",
    "memset",
    "memcmp",
    "strlen",
    "strcpy",
    "strcmp",
    "fork",
    "execve",
    "wait",
    "malloc_usable_size",
];

/// The system calls a script or its library makes, by the names strace
/// gives them.
const SYSTEM_CALLS: [&str; 20] = [
    "mmap",
    "munmap",
    "mprotect",
    "msync",
    "madvise",
    "brk",
    "open",
    "close",
    "read",
    "write",
    "lseek",
    "ftruncate",
    "fstat",
    "unlink",
    "ioctl",
    "fork",
    "execve",
    "wait4",
    "exit_group",
    "getpid",
];

/// The library (and its kernel) and the script's processes.
pub(crate) struct Session {
    pub(crate) libc: Libc,
    /// The processes whose code is running, the current one last: a
    /// child's body runs to its end inside its parent's `fork`.
    running: Vec<Pid>,
    /// Each process's errno, as the C library keeps it.
    errno: BTreeMap<Pid, i32>,
    /// Everything the script's `print` printed, in order.
    pub(crate) transcript: String,
    /// Whether printing also goes to the real stdout as it happens.
    echo: bool,
    /// Accesses the bulk operations may still make: Rhai's operation
    /// limit does not see inside a native call, and one `touch` could
    /// otherwise run for hours.
    bulk_left: u64,
    /// What a failed assertion does.
    assertions: Assertions,
    /// The assertions that failed and were counted.
    pub(crate) failed_assertions: FailedAssertions,
}

/// Assertions counted rather than raised ([`Assertions::Count`]).
#[derive(Default)]
pub(crate) struct FailedAssertions {
    pub(crate) count: u64,
    /// The first one's place and message.
    pub(crate) first: Option<(Position, String)>,
}

/// A failed call that does not end the process: the errno a C library
/// would set.
type Failure = Errno;

impl Session {
    /// A machine with the script's first process, on the terminal, its C
    /// library started.
    pub(crate) fn new(
        kernel: Kernel,
        options: &ScriptOptions,
    ) -> Result<(Session, Pid), LibcError> {
        let mut libc = Libc::new(kernel, MallocConfig::default());
        let pid = libc.kernel_mut().spawn(0)?;
        // Descriptors 0, 1 and 2 on the terminal, as a shell gives them.
        libc.kernel_mut().attach_terminal(pid)?;
        libc.start(pid)?;
        let session = Session {
            libc,
            running: vec![pid],
            errno: BTreeMap::new(),
            transcript: String::new(),
            echo: options.echo,
            bulk_left: options.max_bulk_accesses,
            assertions: options.assertions,
            failed_assertions: FailedAssertions::default(),
        };
        Ok((session, pid))
    }

    /// An assertion at `pos` failed with `message`: the error that stops
    /// the script, or, where assertions are counted, nothing.
    pub(crate) fn assertion_failed(
        &mut self,
        pos: Position,
        message: String,
    ) -> Result<(), Box<EvalAltResult>> {
        match self.assertions {
            Assertions::Stop => Err(message.into()),
            Assertions::Count => {
                let failed = &mut self.failed_assertions;
                failed.count += 1;
                failed.first.get_or_insert((pos, message));
                Ok(())
            }
        }
    }

    /// The kernel.
    pub(crate) fn kernel(&self) -> &Kernel {
        self.libc.kernel()
    }

    /// The process running the script's code now; its end when it has
    /// ended (killed by the OOM killer while another process ran).
    pub(crate) fn current(&self) -> Result<Pid, Box<EvalAltResult>> {
        let pid = self.running.last().copied().unwrap_or(0);
        if self.libc.kernel().is_live(pid) {
            Ok(pid)
        } else {
            Err(ended(pid))
        }
    }

    /// What a call by `pid` came to: its value, or the errno of a
    /// failure the process survives; the end of the process when a
    /// signal (or anything else) ended it during the call; a script error
    /// for a misuse glibc would abort on (freeing a bad pointer, a format
    /// that disagrees with its arguments).
    fn settle<T>(
        &mut self,
        pid: Pid,
        result: Result<T, LibcError>,
    ) -> Result<Result<T, Failure>, Box<EvalAltResult>> {
        // The call may have ended the caller (the OOM killer's victim).
        self.current()?;
        match result {
            Ok(value) => Ok(Ok(value)),
            Err(LibcError::Errno(e)) => {
                self.errno.insert(pid, e.number());
                Ok(Err(e))
            }
            Err(LibcError::Signal(_)) => Err(ended(pid)),
            Err(other) => Err(other.to_string().into()),
        }
    }

    /// The system call `name` by the current process, through its C
    /// wrapper (the library counts it): its value, or `-errno` (and errno
    /// set) as Linux's raw system-call ABI returns it.
    pub(crate) fn syscall(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Kernel, Pid) -> Result<INT, Errno>,
    ) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = self.libc.system_call(name, |k| call(k, pid));
        Ok(raw(self.settle(pid, result)?))
    }

    /// read(2) or write(2) by the current process: like
    /// [`Session::syscall`], the bytes moved counted as copied.
    pub(crate) fn copying_syscall(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Kernel, Pid) -> Result<u64, Errno>,
    ) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = self.libc.copying_system_call(name, |k| call(k, pid));
        Ok(raw(self.settle(pid, result)?.map(|n| n as INT)))
    }

    /// A library function called by the current process: its value, or
    /// C's failure value `failed` (NULL, -1, EOF, 0 items) with errno set.
    pub(crate) fn library<T>(
        &mut self,
        failed: T,
        call: impl FnOnce(&mut Libc, Pid) -> Result<T, LibcError>,
    ) -> Result<T, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = call(&mut self.libc, pid);
        Ok(self.settle(pid, result)?.unwrap_or(failed))
    }

    /// The current process's errno (0 before any call failed).
    pub(crate) fn errno(&self) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        Ok(INT::from(self.errno.get(&pid).copied().unwrap_or(0)))
    }

    /// A memory operation by the current process's own code; a signal has
    /// ended the process (the kernel delivered it), which ends its script
    /// code.
    pub(crate) fn memory<T>(
        &mut self,
        op: impl FnOnce(&mut Libc, Pid) -> Result<T, LibcError>,
    ) -> Result<T, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = op(&mut self.libc, pid);
        self.settle(pid, result)?
            .map_err(|e| format!("memory access: {e}").into())
    }

    /// Charges a bulk operation over `sides` ranges of `len` bytes each
    /// (memset one, memcpy and memcmp two) the page pieces of its ranges:
    /// a range not page aligned has one more piece than its length in
    /// pages.
    pub(crate) fn charge_ranges(
        &mut self,
        what: &str,
        len: u64,
        sides: u64,
    ) -> Result<(), Box<EvalAltResult>> {
        let pieces = len.div_ceil(self.kernel().page_bytes()) + 1;
        self.charge(what, pieces.saturating_mul(sides))
    }

    /// Takes `accesses` from the bulk operations' budget before `what`
    /// runs; an error when the budget cannot cover them.
    pub(crate) fn charge(&mut self, what: &str, accesses: u64) -> Result<(), Box<EvalAltResult>> {
        match self.bulk_left.checked_sub(accesses) {
            Some(left) => {
                self.bulk_left = left;
                Ok(())
            }
            None => Err(format!(
                "{what}: {accesses} accesses exceed what is left of the script's limit on bulk accesses ({})",
                self.bulk_left
            )
            .into()),
        }
    }

    /// exit(3) for the current process (`flush`: its streams are flushed
    /// first) or _exit(2) (its buffered output is lost).
    pub(crate) fn exit(&mut self, status: INT, flush: bool) -> Box<EvalAltResult> {
        match self.current() {
            Ok(pid) => {
                // The low byte, as exit(3) keeps; the process is live and
                // started, and a stream that fails does not stop exit.
                let status = (status & 0xff) as i32;
                let _ = if flush {
                    self.libc.exit(pid, status)
                } else {
                    self.libc._exit(pid, status)
                };
                ended(pid)
            }
            Err(e) => e,
        }
    }

    /// Starts a child of the current process: a fork (sharing its pages
    /// copy-on-write, its descriptors and its library's state, unflushed
    /// buffers included), or with `fresh` a new program (an empty address
    /// space on the terminal, its library started, as posix_spawn of
    /// another program gives). The child becomes the current process.
    /// `Ok(Err(-errno))` when the kernel refused.
    pub(crate) fn start_child(
        &mut self,
        fresh: bool,
    ) -> Result<Result<Pid, INT>, Box<EvalAltResult>> {
        let parent = self.current()?;
        let child = if fresh {
            self.spawn_program(parent)
        } else {
            self.libc.fork(parent)
        };
        match self.settle(parent, child)? {
            Ok(child) => {
                if !fresh {
                    if let Some(&errno) = self.errno.get(&parent) {
                        self.errno.insert(child, errno);
                    }
                }
                self.running.push(child);
                Ok(Ok(child))
            }
            Err(e) => Ok(Err(-INT::from(e.number()))),
        }
    }

    /// A new program as a child of `parent`, on the terminal, started.
    fn spawn_program(&mut self, parent: Pid) -> Result<Pid, LibcError> {
        let kernel = self.libc.kernel_mut();
        let child = kernel.spawn(parent)?;
        kernel.attach_terminal(child)?;
        self.libc.start(child)?;
        Ok(child)
    }

    /// Ends the child's turn: a body that returned exits with status 0
    /// (as returning from main calls exit, which flushes the streams);
    /// one that ended by exit or a signal already has; any other error is
    /// the script's and goes on up.
    pub(crate) fn finish_child(
        &mut self,
        child: Pid,
        body: Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<INT, Box<EvalAltResult>> {
        self.running.pop();
        match body {
            Ok(_) => self.end_program(child),
            Err(e) if ended_pid(&e) == Some(child) => {}
            Err(e) => return Err(e),
        }
        self.errno.remove(&child);
        Ok(INT::from(child))
    }

    /// The end of a program whose code ran to its end: exit(0), streams
    /// flushed, unless it has already ended.
    pub(crate) fn end_program(&mut self, pid: Pid) {
        if self.libc.kernel().is_live(pid) {
            let _ = self.libc.exit(pid, 0);
        }
    }

    /// wait4(2) for `child` (any child for `None`): a map with `pid` (the
    /// raw result: the child, 0 when none has ended, or -errno), `status`
    /// (Linux's status word) and `reason` (how it ended, in words).
    pub(crate) fn wait(&mut self, child: Option<Pid>) -> Result<Map, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = self.libc.wait(pid, child);
        let (pid, status, reason) = match self.settle(pid, result)? {
            Ok(Some((child, how))) => (INT::from(child), status_word(how), describe(how)),
            Ok(None) => (0, 0, String::new()),
            Err(e) => (-INT::from(e.number()), 0, String::new()),
        };
        let mut map = Map::new();
        map.insert("pid".into(), pid.into());
        map.insert("status".into(), status.into());
        map.insert("reason".into(), reason.into());
        Ok(map)
    }

    /// execve(3): the current process gets a fresh address space, its
    /// library started anew (unflushed buffers go with the old one).
    pub(crate) fn execve(&mut self) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = self.libc.execve(pid);
        Ok(raw(self.settle(pid, result)?.map(|()| 0)))
    }

    /// The top of the current process's stack (its highest address, exclusive).
    pub(crate) fn stack_top(&self) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let top = self
            .kernel()
            .regions(pid)
            .and_then(|map| {
                map.iter()
                    .filter(|r| matches!(r.kind, RegionKind::Stack { .. }))
                    .map(|r| r.end)
                    .max()
            })
            .unwrap_or(0);
        Ok(top as INT)
    }

    /// The machine's counters by name: the kernel's (system calls
    /// included) and the MMU's; then the C library's accounting since the
    /// script started: `library_calls` and `system_calls` (maps from a
    /// function's name to its calls), `mode_switches`, `user_accesses`,
    /// and the cost model's time split `user_ns`, `kernel_ns`, `disk_ns`
    /// and `time_ns` (their sum).
    pub(crate) fn counters(&self) -> Map {
        let mut map = Map::new();
        let kernel = serde_json::to_value(self.kernel().counters());
        let mmu = serde_json::to_value(self.kernel().mmu().counters());
        for value in [kernel, mmu].into_iter().flatten() {
            if let serde_json::Value::Object(fields) = value {
                for (name, count) in fields {
                    let count = count.as_u64().unwrap_or(0);
                    map.insert(name.into(), (count as INT).into());
                }
            }
        }
        let accounting = self.libc.accounting();
        // Every function a script can reach has its count, 0 until called,
        // so a script can subtract counts without checking they exist.
        let by_name = |known: &[&str], calls: &BTreeMap<&'static str, u64>| -> Map {
            let mut counts: Map = known.iter().map(|&name| (name.into(), 0.into())).collect();
            for (&name, &n) in calls {
                counts.insert(name.into(), (n as INT).into());
            }
            counts
        };
        map.insert(
            "library_calls".into(),
            by_name(&LIBRARY_FUNCTIONS, &accounting.library_calls).into(),
        );
        map.insert(
            "system_calls".into(),
            by_name(&SYSTEM_CALLS, &accounting.system_calls).into(),
        );
        let c = &accounting.counts;
        map.insert("mode_switches".into(), (c.mode_switches as INT).into());
        map.insert("user_accesses".into(), (c.memory_accesses as INT).into());
        let time = self.libc.time(&CostModel::default());
        map.insert("user_ns".into(), time.user_ns.into());
        map.insert("kernel_ns".into(), time.kernel_ns.into());
        map.insert("disk_ns".into(), time.disk_ns.into());
        map.insert("time_ns".into(), time.total_ns().into());
        map
    }

    /// The machine's make-up: scheme, page size, frames, swap slots,
    /// policy, its scope and personality.
    pub(crate) fn machine(&self) -> Map {
        let config = self.kernel().config();
        let personality = match config.personality {
            Personality::Linux => "linux",
            Personality::Pintos => "pintos",
            Personality::Xv6 => "xv6",
        };
        let mut map = Map::new();
        map.insert("arch".into(), config.arch.name().into());
        map.insert(
            "page_size".into(),
            (self.kernel().page_bytes() as INT).into(),
        );
        map.insert("frames".into(), (config.frames as INT).into());
        map.insert("swap_slots".into(), INT::from(config.swap_slots).into());
        map.insert("policy".into(), config.policy.clone().into());
        let scope = match config.scope {
            ReplacementScope::Global => "global",
            ReplacementScope::Local => "local",
        };
        map.insert("scope".into(), scope.into());
        map.insert("personality".into(), personality.into());
        map
    }

    /// Prints one line: to the transcript (and the real stdout when
    /// echoing), and as the simulated program does, with printf to its
    /// stdout (on the terminal, line buffered: one write per line). A
    /// failure is ignored as printf's result usually is; a signal (the
    /// buffer made inaccessible) ends the process, which the script's
    /// next step sees.
    pub(crate) fn print(&mut self, text: &str) {
        let Ok(pid) = self.current() else {
            return;
        };
        self.transcript.push_str(text);
        self.transcript.push('\n');
        if self.echo {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        // The text is the program's literal: a format with no conversion.
        let format = format!("{}\n", text.replace('%', "%%"));
        let _ = self.libc.printf(pid, &format, &[]);
    }
}

/// A call's value, or `-errno` as Linux's raw system-call ABI returns a
/// failure.
fn raw(result: Result<INT, Failure>) -> INT {
    result.unwrap_or_else(|e| -INT::from(e.number()))
}
