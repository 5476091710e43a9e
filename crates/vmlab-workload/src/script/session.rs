//! The simulated side of a script run: the kernel, which process runs the
//! script's code at this moment, and the per-process state a C library
//! would keep (errno, the stdout buffer). Every binding goes through
//! [`Session`], which turns the kernel's answers into script values: a
//! system call's result or `-errno`, a load's value, or the end of the
//! current process (a signal or `exit`), which unwinds the script's code
//! up to the `fork`/`posix_spawn` that started that process.

use rhai::{Dynamic, EvalAltResult, Map, Position, INT};
use std::collections::BTreeMap;
use std::io::Write as _;
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_PRIVATE};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region::{RegionKind, PROT_READ, PROT_WRITE};
use vmlab_kernel::{Errno, ExitStatus, Kernel, Personality, Signal, SignalKind};

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

/// The kernel and the script's processes.
pub(crate) struct Session {
    pub(crate) kernel: Kernel,
    /// The processes whose code is running, the current one last: a
    /// child's body runs to its end inside its parent's `fork`.
    running: Vec<Pid>,
    /// Each process's errno, as the C library keeps it.
    errno: BTreeMap<Pid, i32>,
    /// Each process's stdout buffer (one page, mapped by its first print,
    /// inherited by fork as the C library's buffer is).
    stdout_buffer: BTreeMap<Pid, u64>,
    /// Everything printed, in order.
    pub(crate) transcript: String,
    /// Whether printing also goes to the real stdout as it happens.
    echo: bool,
    /// Accesses the bulk operations may still make: Rhai's operation
    /// limit does not see inside a native call, and one `touch` could
    /// otherwise run for hours.
    bulk_left: u64,
}

impl Session {
    /// A machine with the script's first process, on the terminal.
    pub(crate) fn new(
        mut kernel: Kernel,
        echo: bool,
        bulk_limit: u64,
    ) -> Result<(Session, Pid), Errno> {
        let pid = kernel.spawn(0)?;
        let mut session = Session {
            kernel,
            running: vec![pid],
            errno: BTreeMap::new(),
            stdout_buffer: BTreeMap::new(),
            transcript: String::new(),
            echo,
            bulk_left: bulk_limit,
        };
        // Descriptors 0, 1 and 2 on the terminal, as a shell gives them.
        session.kernel.attach_terminal(pid)?;
        Ok((session, pid))
    }

    /// The process running the script's code now; its end when it has
    /// ended (killed by the OOM killer while another process ran).
    pub(crate) fn current(&self) -> Result<Pid, Box<EvalAltResult>> {
        let pid = self.running.last().copied().unwrap_or(0);
        if self.kernel.is_live(pid) {
            Ok(pid)
        } else {
            Err(ended(pid))
        }
    }

    /// A system call by the current process (the kernel counts it): its
    /// value, or `-errno` (and errno set) as Linux's raw system-call ABI
    /// returns it.
    pub(crate) fn syscall(
        &mut self,
        call: impl FnOnce(&mut Kernel, Pid) -> Result<INT, Errno>,
    ) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = call(&mut self.kernel, pid);
        // The call may have ended the caller (the OOM killer's victim).
        self.current()?;
        Ok(match result {
            Ok(value) => value,
            Err(e) => {
                self.errno.insert(pid, e.number());
                -INT::from(e.number())
            }
        })
    }

    /// The current process's errno (0 before any call failed).
    pub(crate) fn errno(&self) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        Ok(INT::from(self.errno.get(&pid).copied().unwrap_or(0)))
    }

    /// A memory operation by the current process; a signal has ended the
    /// process (the kernel delivered it), which ends its script code.
    pub(crate) fn memory<T>(
        &mut self,
        op: impl FnOnce(&mut Kernel, Pid) -> Result<T, Signal>,
    ) -> Result<T, Box<EvalAltResult>> {
        let pid = self.current()?;
        op(&mut self.kernel, pid).map_err(|_| ended(pid))
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

    /// exit(2) for the current process.
    pub(crate) fn exit(&mut self, status: INT) -> Box<EvalAltResult> {
        match self.current() {
            Ok(pid) => {
                // The low byte, as exit(3) keeps; the process is live.
                let _ = self.kernel.sys_exit(pid, (status & 0xff) as i32);
                ended(pid)
            }
            Err(e) => e,
        }
    }

    /// Starts a child of the current process: a fork (sharing its pages
    /// copy-on-write and its descriptors), or with `fresh` a new program
    /// (an empty address space on the terminal, as posix_spawn of
    /// another program gives). The child becomes the current process.
    /// `Ok(Err(-errno))` when the kernel refused.
    pub(crate) fn start_child(
        &mut self,
        fresh: bool,
    ) -> Result<Result<Pid, INT>, Box<EvalAltResult>> {
        let parent = self.current()?;
        let child = if fresh {
            self.kernel.spawn(parent).and_then(|child| {
                self.kernel.attach_terminal(child)?;
                Ok(child)
            })
        } else {
            self.kernel.sys_fork(parent)
        };
        self.current()?;
        match child {
            Ok(child) => {
                if !fresh {
                    if let Some(&buffer) = self.stdout_buffer.get(&parent) {
                        self.stdout_buffer.insert(child, buffer);
                    }
                    if let Some(&errno) = self.errno.get(&parent) {
                        self.errno.insert(child, errno);
                    }
                }
                self.running.push(child);
                Ok(Ok(child))
            }
            Err(e) => {
                self.errno.insert(parent, e.number());
                Ok(Err(-INT::from(e.number())))
            }
        }
    }

    /// Ends the child's turn: a body that returned exits with status 0;
    /// one that ended by exit or a signal already has; any other error is
    /// the script's and goes on up.
    pub(crate) fn finish_child(
        &mut self,
        child: Pid,
        body: Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<INT, Box<EvalAltResult>> {
        self.running.pop();
        match body {
            Ok(_) => {
                if self.kernel.is_live(child) {
                    let _ = self.kernel.sys_exit(child, 0);
                }
            }
            Err(e) if ended_pid(&e) == Some(child) => {}
            Err(e) => return Err(e),
        }
        self.stdout_buffer.remove(&child);
        self.errno.remove(&child);
        Ok(INT::from(child))
    }

    /// wait4(2) for `child` (any child for `None`): a map with `pid` (the
    /// raw result: the child, 0 when none has ended, or -errno), `status`
    /// (Linux's status word) and `reason` (how it ended, in words).
    pub(crate) fn wait(&mut self, child: Option<Pid>) -> Result<Map, Box<EvalAltResult>> {
        let mut reason = String::new();
        let mut status = 0;
        let pid = self.syscall(|k, pid| {
            Ok(match k.sys_wait(pid, child)? {
                Some((child, how)) => {
                    status = status_word(how);
                    reason = describe(how);
                    INT::from(child)
                }
                None => 0,
            })
        })?;
        let mut map = Map::new();
        map.insert("pid".into(), pid.into());
        map.insert("status".into(), status.into());
        map.insert("reason".into(), reason.into());
        Ok(map)
    }

    /// execve(2): the current process gets a fresh address space (its
    /// stdout buffer goes with the old one).
    pub(crate) fn execve(&mut self) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let result = self.syscall(|k, pid| k.sys_execve(pid).map(|()| 0))?;
        if result == 0 {
            self.stdout_buffer.remove(&pid);
        }
        Ok(result)
    }

    /// The top of the current process's stack (its highest address, exclusive).
    pub(crate) fn stack_top(&self) -> Result<INT, Box<EvalAltResult>> {
        let pid = self.current()?;
        let top = self
            .kernel
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

    /// The machine's counters (the kernel's, system calls included, then
    /// the MMU's), by name.
    pub(crate) fn counters(&self) -> Map {
        let mut map = Map::new();
        let kernel = serde_json::to_value(self.kernel.counters());
        let mmu = serde_json::to_value(self.kernel.mmu().counters());
        for value in [kernel, mmu].into_iter().flatten() {
            if let serde_json::Value::Object(fields) = value {
                for (name, count) in fields {
                    let count = count.as_u64().unwrap_or(0);
                    map.insert(name.into(), (count as INT).into());
                }
            }
        }
        map
    }

    /// The machine's make-up: scheme, page size, frames, swap slots,
    /// policy and personality.
    pub(crate) fn machine(&self) -> Map {
        let config = self.kernel.config();
        let personality = match config.personality {
            Personality::Linux => "linux",
            Personality::Pintos => "pintos",
            Personality::Xv6 => "xv6",
        };
        let mut map = Map::new();
        map.insert("arch".into(), config.arch.name().into());
        map.insert("page_size".into(), (self.kernel.page_bytes() as INT).into());
        map.insert("frames".into(), (config.frames as INT).into());
        map.insert("swap_slots".into(), INT::from(config.swap_slots).into());
        map.insert("policy".into(), config.policy.clone().into());
        map.insert("personality".into(), personality.into());
        map
    }

    /// Prints one line: to the transcript (and the real stdout when
    /// echoing), and as the simulated program does, through its stdout
    /// buffer in user memory and write(1, ...). A failure to write is
    /// ignored as printf's result usually is; a signal (the buffer made
    /// inaccessible) ends the process.
    pub(crate) fn print(&mut self, text: &str) {
        let Ok(pid) = self.current() else {
            return;
        };
        self.transcript.push_str(text);
        self.transcript.push('\n');
        if self.echo {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        let mut line = text.as_bytes().to_vec();
        line.push(b'\n');
        let page = self.kernel.page_bytes();
        let buffer = match self.stdout_buffer.get(&pid) {
            Some(&buffer) => buffer,
            None => {
                let rw = PROT_READ | PROT_WRITE;
                let mapped =
                    self.kernel
                        .sys_mmap(pid, 0, page, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                let Ok(buffer) = mapped else {
                    return;
                };
                self.stdout_buffer.insert(pid, buffer);
                buffer
            }
        };
        for piece in line.chunks(page as usize) {
            if self.kernel.write_user(pid, buffer, piece).is_err() {
                return;
            }
            if self
                .kernel
                .sys_write(pid, 1, buffer, piece.len() as u64)
                .is_err()
            {
                return;
            }
        }
    }
}
