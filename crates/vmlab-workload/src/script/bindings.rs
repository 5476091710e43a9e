//! What a script can call: every system call of `vmlab-kernel` by its C
//! name with C's argument order, the C constants of
//! [`vmlab_kernel::abi`], processes (`fork`/`posix_spawn` with a body, `wait`,
//! `exit`), loads and stores, the bulk operations of
//! [`super::bulk`], assertions, and a look at the machine's counters.
//!
//! Conventions, the raw system-call ABI's: a call returns its value (a
//! descriptor, a count, an address, 0) or `-errno`, and `errno()` holds
//! the last failure's number as the C library's `errno` does. Addresses,
//! lengths and flags are script integers, converted as C converts them
//! (a negative length is a huge `size_t`).

use super::bulk;
use super::session::{signal_number, Session};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Map, Module, NativeCallContext, INT};
use std::sync::{Arc, Mutex, MutexGuard};
use vmlab_kernel::abi::{self, errno};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region;
use vmlab_kernel::{Errno, Kernel, SignalKind};

/// The session every binding shares.
pub(crate) type Shared = Arc<Mutex<Session>>;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The longest string `load_str` returns (and Rhai allows).
pub(crate) const MAX_STRING: usize = 16 << 20;

/// errno values by Linux name: the script's `E*` constants and
/// `errno_name`'s table.
const ERRNOS: [(&str, i32); 19] = [
    ("EPERM", errno::EPERM),
    ("ENOENT", errno::ENOENT),
    ("ESRCH", errno::ESRCH),
    ("EBADF", errno::EBADF),
    ("ECHILD", errno::ECHILD),
    ("EAGAIN", errno::EAGAIN),
    ("ENOMEM", errno::ENOMEM),
    ("EACCES", errno::EACCES),
    ("EFAULT", errno::EFAULT),
    ("EEXIST", errno::EEXIST),
    ("ENODEV", errno::ENODEV),
    ("EISDIR", errno::EISDIR),
    ("EINVAL", errno::EINVAL),
    ("EFBIG", errno::EFBIG),
    ("ENOSPC", errno::ENOSPC),
    ("ESPIPE", errno::ESPIPE),
    ("ENAMETOOLONG", errno::ENAMETOOLONG),
    ("EOVERFLOW", errno::EOVERFLOW),
    ("EOPNOTSUPP", errno::EOPNOTSUPP),
];

/// The C constants, by their C names.
const FLAGS: [(&str, u32); 47] = [
    ("O_RDONLY", abi::O_RDONLY),
    ("O_WRONLY", abi::O_WRONLY),
    ("O_RDWR", abi::O_RDWR),
    ("O_ACCMODE", abi::O_ACCMODE),
    ("O_CREAT", abi::O_CREAT),
    ("O_EXCL", abi::O_EXCL),
    ("O_TRUNC", abi::O_TRUNC),
    ("O_APPEND", abi::O_APPEND),
    ("O_CLOEXEC", abi::O_CLOEXEC),
    ("PROT_NONE", region::PROT_NONE),
    ("PROT_READ", region::PROT_READ),
    ("PROT_WRITE", region::PROT_WRITE),
    ("PROT_EXEC", region::PROT_EXEC),
    ("PROT_SEM", abi::PROT_SEM),
    ("PROT_GROWSDOWN", abi::PROT_GROWSDOWN),
    ("PROT_GROWSUP", abi::PROT_GROWSUP),
    ("MAP_SHARED", abi::MAP_SHARED),
    ("MAP_PRIVATE", abi::MAP_PRIVATE),
    ("MAP_SHARED_VALIDATE", abi::MAP_SHARED_VALIDATE),
    ("MAP_TYPE", abi::MAP_TYPE),
    ("MAP_FIXED", abi::MAP_FIXED),
    ("MAP_ANONYMOUS", abi::MAP_ANONYMOUS),
    ("MAP_ANON", abi::MAP_ANONYMOUS),
    ("MAP_32BIT", abi::MAP_32BIT),
    ("MAP_GROWSDOWN", abi::MAP_GROWSDOWN),
    ("MAP_DENYWRITE", abi::MAP_DENYWRITE),
    ("MAP_EXECUTABLE", abi::MAP_EXECUTABLE),
    ("MAP_LOCKED", abi::MAP_LOCKED),
    ("MAP_NORESERVE", abi::MAP_NORESERVE),
    ("MAP_POPULATE", abi::MAP_POPULATE),
    ("MAP_NONBLOCK", abi::MAP_NONBLOCK),
    ("MAP_STACK", abi::MAP_STACK),
    ("MAP_HUGETLB", abi::MAP_HUGETLB),
    ("MAP_FIXED_NOREPLACE", abi::MAP_FIXED_NOREPLACE),
    ("MS_ASYNC", abi::MS_ASYNC),
    ("MS_INVALIDATE", abi::MS_INVALIDATE),
    ("MS_SYNC", abi::MS_SYNC),
    ("MADV_NORMAL", abi::MADV_NORMAL),
    ("MADV_RANDOM", abi::MADV_RANDOM),
    ("MADV_SEQUENTIAL", abi::MADV_SEQUENTIAL),
    ("MADV_WILLNEED", abi::MADV_WILLNEED),
    ("MADV_DONTNEED", abi::MADV_DONTNEED),
    ("SEEK_SET", abi::SEEK_SET),
    ("SEEK_CUR", abi::SEEK_CUR),
    ("SEEK_END", abi::SEEK_END),
    ("STDOUT_FILENO", 1),
    ("STDERR_FILENO", 2),
];

/// The session, for one binding's call (a script's calls run one at a
/// time; the lock is only poisoned if an earlier call panicked).
pub(crate) fn lock(shared: &Shared) -> Result<MutexGuard<'_, Session>> {
    shared
        .lock()
        .map_err(|_| "the machine's state was lost to an earlier panic".into())
}

/// A descriptor as C's `int`: out of range is no descriptor (EBADF).
fn fd(value: INT) -> i32 {
    i32::try_from(value).unwrap_or(-1)
}

/// A flags argument as C's `int` (the low 32 bits).
fn flags(value: INT) -> u32 {
    value as u32
}

/// A length for a bulk operation, which must not be negative.
fn length(what: &str, value: INT) -> Result<u64> {
    u64::try_from(value).map_err(|_| format!("{what}: length {value} is negative").into())
}

/// The constants a script sees: the C flags, errno values, signal
/// numbers, and the machine's page size.
fn constants(page_bytes: u64) -> Module {
    let mut m = Module::new();
    for (name, value) in FLAGS {
        m.set_var(name, INT::from(value));
    }
    for (name, value) in ERRNOS {
        m.set_var(name, INT::from(value));
    }
    m.set_var("STDIN_FILENO", 0 as INT);
    for kind in [SignalKind::Sigbus, SignalKind::Sigkill, SignalKind::Sigsegv] {
        let name = format!("{kind:?}").to_ascii_uppercase();
        m.set_var(name, signal_number(kind));
    }
    m.set_var("PAGE_SIZE", page_bytes as INT);
    m
}

/// Registers everything on `engine`.
pub(crate) fn register(engine: &mut Engine, shared: &Shared, page_bytes: u64) {
    engine.register_global_module(constants(page_bytes).into());
    register_processes(engine, shared);
    register_files(engine, shared);
    register_memory_calls(engine, shared);
    register_loads_and_stores(engine, shared);
    register_bulk(engine, shared);
    register_checks(engine, shared);
    register_machine(engine, shared);
    super::libc_calls::register(engine, shared);
    let s = shared.clone();
    engine.on_print(move |text| {
        if let Ok(mut session) = s.lock() {
            session.print(text);
        }
    });
}

/// Runs `body` as the child `fork` or `posix_spawn` created; returns the
/// child's pid (or `-errno` when none was created). The body's captured
/// variables are copies: like the rest of the parent's memory, what the
/// child does to them the parent does not see.
fn run_child(shared: &Shared, ctx: &NativeCallContext, body: &FnPtr, fresh: bool) -> Result<INT> {
    let child = match lock(shared)?.start_child(fresh)? {
        Ok(child) => child,
        Err(failure) => return Ok(failure),
    };
    let mut copy = body.clone();
    let values: Vec<Dynamic> = body.iter_curry().map(Dynamic::flatten_clone).collect();
    copy.set_curry(values);
    let result = copy.call_within_context::<Dynamic>(ctx, ());
    lock(shared)?.finish_child(child, result)
}

fn register_processes(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn(
        "fork",
        move |ctx: NativeCallContext, body: FnPtr| -> Result<INT> {
            run_child(&s, &ctx, &body, false)
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "posix_spawn",
        move |ctx: NativeCallContext, body: FnPtr| -> Result<INT> {
            run_child(&s, &ctx, &body, true)
        },
    );
    // C's fork returns twice; a script cannot, so the child is a body.
    engine.register_fn("fork", || -> Result<INT> {
        Err("fork needs the child's body: fork(|| { ... }) runs it as the child, then returns the child's pid to the parent".into())
    });
    let s = shared.clone();
    engine.register_fn("wait", move || -> Result<Map> { lock(&s)?.wait(None) });
    let s = shared.clone();
    engine.register_fn("waitpid", move |pid: INT| -> Result<Map> {
        // -1 is any child, as in C; a pid that is no process's is no
        // child (ECHILD).
        let child = (pid != -1).then(|| u32::try_from(pid).unwrap_or(u32::MAX));
        lock(&s)?.wait(child)
    });
    // exit(3) flushes the process's streams; _exit(2) does not.
    for (name, flush) in [("exit", true), ("_exit", false)] {
        let s = shared.clone();
        engine.register_fn(name, move |status: INT| -> Result<()> {
            Err(lock(&s)?.exit(status, flush))
        });
        let s = shared.clone();
        engine.register_fn(name, move || -> Result<()> {
            Err(lock(&s)?.exit(0, flush))
        });
    }
    let s = shared.clone();
    engine.register_fn("getpid", move || -> Result<INT> {
        lock(&s)?.syscall("getpid", |k, pid| k.sys_getpid(pid).map(INT::from))
    });
    let s = shared.clone();
    engine.register_fn("execve", move || -> Result<INT> { lock(&s)?.execve() });
    engine.register_fn("WIFEXITED", |status: INT| status & 0x7f == 0);
    engine.register_fn("WEXITSTATUS", |status: INT| (status >> 8) & 0xff);
    engine.register_fn("WIFSIGNALED", |status: INT| {
        let sig = status & 0x7f;
        sig != 0 && sig != 0x7f
    });
    engine.register_fn("WTERMSIG", |status: INT| status & 0x7f);
}

fn register_files(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn(
        "open",
        move |path: &str, oflag: INT, mode: INT| -> Result<INT> {
            lock(&s)?.syscall("open", |k, pid| {
                k.sys_open(pid, path, flags(oflag), flags(mode))
                    .map(INT::from)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn("open", move |path: &str, oflag: INT| -> Result<INT> {
        lock(&s)?.syscall("open", |k, pid| {
            k.sys_open(pid, path, flags(oflag), 0).map(INT::from)
        })
    });
    let s = shared.clone();
    engine.register_fn("close", move |d: INT| -> Result<INT> {
        lock(&s)?.syscall("close", |k, pid| k.sys_close(pid, fd(d)).map(|()| 0))
    });
    let s = shared.clone();
    engine.register_fn("unlink", move |path: &str| -> Result<INT> {
        lock(&s)?.syscall("unlink", |k, pid| k.sys_unlink(pid, path).map(|()| 0))
    });
    let s = shared.clone();
    engine.register_fn("read", move |d: INT, buf: INT, n: INT| -> Result<INT> {
        lock(&s)?.copying_syscall("read", |k, pid| {
            k.sys_read(pid, fd(d), buf as u64, n as u64)
        })
    });
    let s = shared.clone();
    engine.register_fn("write", move |d: INT, buf: INT, n: INT| -> Result<INT> {
        lock(&s)?.copying_syscall("write", |k, pid| {
            k.sys_write(pid, fd(d), buf as u64, n as u64)
        })
    });
    let s = shared.clone();
    engine.register_fn(
        "lseek",
        move |d: INT, offset: INT, whence: INT| -> Result<INT> {
            lock(&s)?.syscall("lseek", |k, pid| {
                k.sys_lseek(pid, fd(d), offset, flags(whence))
                    .map(|at| at as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn("ftruncate", move |d: INT, len: INT| -> Result<INT> {
        lock(&s)?.syscall("ftruncate", |k, pid| {
            k.sys_ftruncate(pid, fd(d), len).map(|()| 0)
        })
    });
}

fn register_memory_calls(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn(
        "mmap",
        move |addr: INT, len: INT, prot: INT, flag: INT, d: INT, offset: INT| -> Result<INT> {
            lock(&s)?.syscall("mmap", |k, pid| {
                k.sys_mmap(
                    pid,
                    addr as u64,
                    len as u64,
                    flags(prot),
                    flags(flag),
                    fd(d),
                    offset as u64,
                )
                .map(|at| at as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn("munmap", move |addr: INT, len: INT| -> Result<INT> {
        lock(&s)?.syscall("munmap", |k, pid| {
            k.sys_munmap(pid, addr as u64, len as u64).map(|()| 0)
        })
    });
    // The calls on a range with one more argument and no value.
    type RangeCall = fn(&mut Kernel, Pid, u64, u64, u32) -> std::result::Result<(), Errno>;
    for (name, call) in [
        ("mprotect", Kernel::sys_mprotect as RangeCall),
        ("msync", Kernel::sys_msync),
        ("madvise", Kernel::sys_madvise),
    ] {
        let s = shared.clone();
        engine.register_fn(name, move |addr: INT, len: INT, arg: INT| -> Result<INT> {
            lock(&s)?.syscall(name, |k, pid| {
                call(k, pid, addr as u64, len as u64, flags(arg)).map(|()| 0)
            })
        });
    }
    let s = shared.clone();
    engine.register_fn("brk", move |addr: INT| -> Result<INT> {
        lock(&s)?.syscall("brk", |k, pid| {
            k.sys_brk(pid, addr as u64).map(|at| at as INT)
        })
    });
}

fn register_loads_and_stores(engine: &mut Engine, shared: &Shared) {
    for (size, load, store) in [
        (1, "load8", "store8"),
        (2, "load16", "store16"),
        (4, "load32", "store32"),
        (8, "load64", "store64"),
    ] {
        let s = shared.clone();
        engine.register_fn(load, move |addr: INT| -> Result<INT> {
            lock(&s)?.memory(|c, pid| c.load(pid, addr as u64, size).map(|v| v as INT))
        });
        let s = shared.clone();
        engine.register_fn(store, move |addr: INT, value: INT| -> Result<()> {
            lock(&s)?.memory(|c, pid| c.store(pid, addr as u64, size, value as u64))
        });
    }
    let s = shared.clone();
    engine.register_fn("store_str", move |addr: INT, text: &str| -> Result<INT> {
        lock(&s)?.memory(|c, pid| c.write_bytes(pid, addr as u64, text.as_bytes()))?;
        Ok(text.len() as INT)
    });
    let s = shared.clone();
    engine.register_fn("load_str", move |addr: INT, n: INT| -> Result<String> {
        let n = length("load_str", n)?;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_STRING)
            .ok_or_else(|| format!("load_str: at most {MAX_STRING} bytes at a time"))?;
        let mut bytes = vec![0; n];
        lock(&s)?.memory(|c, pid| c.read_bytes(pid, addr as u64, &mut bytes))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    });
}

fn register_bulk(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn(
        "fill",
        move |addr: INT, len: INT, byte: INT| -> Result<()> {
            let len = length("fill", len)?;
            let byte =
                u8::try_from(byte).map_err(|_| format!("fill: byte {byte} is not in 0..=255"))?;
            let mut session = lock(&s)?;
            session.charge_ranges("fill", len, 1)?;
            session.memory(|k, pid| bulk::fill(k, pid, addr as u64, len, byte))
        },
    );
    let s = shared.clone();
    engine.register_fn("copy", move |dst: INT, src: INT, len: INT| -> Result<()> {
        let len = length("copy", len)?;
        let mut session = lock(&s)?;
        session.charge_ranges("copy", len, 2)?;
        session.memory(|k, pid| bulk::copy(k, pid, dst as u64, src as u64, len))
    });
    let s = shared.clone();
    engine.register_fn("compare", move |a: INT, b: INT, len: INT| -> Result<INT> {
        let len = length("compare", len)?;
        let mut session = lock(&s)?;
        session.charge_ranges("compare", len, 2)?;
        session.memory(|k, pid| bulk::compare(k, pid, a as u64, b as u64, len))
    });
    let s = shared.clone();
    engine.register_fn(
        "touch",
        move |addr: INT, len: INT, stride: INT, write: bool| -> Result<INT> {
            let len = length("touch", len)?;
            let stride = u64::try_from(stride)
                .ok()
                .filter(|&s| s > 0)
                .ok_or_else(|| format!("touch: stride {stride} is not positive"))?;
            let mut session = lock(&s)?;
            session.charge("touch", len.div_ceil(stride))?;
            session.memory(|k, pid| {
                bulk::touch(k, pid, addr as u64, len, stride, write).map(|n| n as INT)
            })
        },
    );
}

/// Whether two script values are equal for `assert_eq`: the same type
/// and the same rendering (so `1` and `1.0` differ, as do `"1"` and `1`).
fn same(a: &Dynamic, b: &Dynamic) -> bool {
    a.type_name() == b.type_name() && a.to_string() == b.to_string()
}

fn register_checks(engine: &mut Engine, shared: &Shared) {
    // A failed check is the session's to raise or count.
    let failed = |shared: &Shared, ctx: &NativeCallContext, message: String| -> Result<()> {
        lock(shared)?.assertion_failed(ctx.call_position(), message)
    };
    let s = shared.clone();
    engine.register_fn(
        "assert",
        move |ctx: NativeCallContext, cond: bool| -> Result<()> {
            if cond {
                Ok(())
            } else {
                failed(&s, &ctx, "assertion failed".into())
            }
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "assert",
        move |ctx: NativeCallContext, cond: bool, message: &str| -> Result<()> {
            if cond {
                Ok(())
            } else {
                failed(&s, &ctx, format!("assertion failed: {message}"))
            }
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "assert_eq",
        move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| -> Result<()> {
            if same(&a, &b) {
                Ok(())
            } else {
                let message =
                    format!("assertion failed: left == right (left: {a:?}, right: {b:?})");
                failed(&s, &ctx, message)
            }
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "assert_eq",
        move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, message: &str| -> Result<()> {
            if same(&a, &b) {
                Ok(())
            } else {
                let message = format!("assertion failed: {message} (left: {a:?}, right: {b:?})");
                failed(&s, &ctx, message)
            }
        },
    );
    let s = shared.clone();
    engine.register_fn("errno", move || -> Result<INT> { lock(&s)?.errno() });
    engine.register_fn("errno_name", |result: INT| -> String {
        let number = result.unsigned_abs();
        ERRNOS
            .iter()
            .find(|(_, value)| u64::from(value.unsigned_abs()) == number)
            .map_or_else(|| format!("errno {number}"), |(name, _)| name.to_string())
    });
}

fn register_machine(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("counters", move || -> Result<Map> {
        Ok(lock(&s)?.counters())
    });
    let s = shared.clone();
    engine.register_fn("machine", move || -> Result<Map> {
        Ok(lock(&s)?.machine())
    });
    let s = shared.clone();
    engine.register_fn("resident_pages", move || -> Result<INT> {
        let session = lock(&s)?;
        let pid = session.current()?;
        let counters = session.kernel().process_counters(pid).unwrap_or_default();
        Ok(counters.resident_pages as INT)
    });
    let s = shared.clone();
    engine.register_fn("stack_top", move || -> Result<INT> {
        lock(&s)?.stack_top()
    });
    let s = shared.clone();
    engine.register_fn("set_stack_pointer", move |sp: INT| -> Result<()> {
        let mut session = lock(&s)?;
        let pid = session.current()?;
        let _ = session.libc.kernel_mut().set_stack_pointer(pid, sp as u64);
        Ok(())
    });
}
