//! vmlab's C library: the library functions programs call, running as
//! user code of simulated processes on a [`Kernel`].
//!
//! Everything the library keeps lives in the process's simulated memory
//! and every byte it touches is a load or store through the MMU: malloc's
//! chunk headers and bins, stdio's `FILE` objects and buffers, the bytes
//! `memcpy` moves. The library reaches the kernel only through its system
//! calls (the `sys_*` methods), and counts both kinds of call, which is
//! what makes the difference between `printf` and `write`, or `malloc`
//! and `brk`, visible in numbers ([`account`]).
//!
//! Module map:
//! - [`malloc`]: malloc, free, calloc, realloc in the style of glibc's
//!   ptmalloc (chunks with boundary tags, bins, brk with padding, mmap for
//!   large requests, trimming).
//! - [`stdio`]: buffered `FILE` streams, printf and exit.
//! - [`string`]: memcpy, memset, memcmp, strlen, strcpy, strcmp.
//! - [`account`]: library calls, system calls, mode switches and user
//!   accesses, turned into time by the kernel's cost model.
//! - `sys`: the system-call wrappers, where system calls are counted.
//! - `program`: the program's own system calls and accesses, counted
//!   alongside the library's.
//!
//! One [`Libc`] serves every process of its kernel. [`Libc::start`] is
//! what a C program's startup code does (map the library's data, learn
//! the program break, set up `stdin`, `stdout` and `stderr`); after
//! it, the program calls library functions by pid. The library's static
//! data (glibc's `.data` and `.bss`: the arena, malloc's parameters, the
//! standard streams) lives in one private mapping per process, so fork
//! copies it with the rest of the address space, unflushed buffers
//! included.
//!
//! The layout is x86-64 glibc's whatever the simulated machine: 8-byte
//! words and sizes, 16-byte alignment.

pub mod account;
pub mod malloc;
mod program;
pub mod stdio;
pub mod string;
mod sys;

use account::Meter;
use std::collections::BTreeMap;
use std::fmt;
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_PRIVATE};
use vmlab_kernel::explain::{CallArg, KernelEvent};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region::{PROT_READ, PROT_WRITE};
use vmlab_kernel::{Errno, Kernel, Signal};

pub use malloc::{MallInfo, MallocConfig};
pub use stdio::Arg;

/// The bytes of one machine word, size field or pointer (x86-64).
pub const WORD: u64 = 8;

/// Where the library's static data lies in its mapping (offsets from its
/// start); see [`malloc`] and [`stdio`] for what each part holds.
pub(crate) mod data {
    /// The arena (glibc's `main_arena`): top chunk, bin map, bins.
    pub const ARENA: u64 = 0;
    /// malloc's parameters (glibc's `mp_`) and sbrk's cached break.
    pub const PARAMS: u64 = 2080;
    /// The stream list head and the three standard `FILE`s.
    pub const STDIO: u64 = 2144;
    /// The buffer an unbuffered stream formats a call's output into
    /// (glibc's `buffered_vfprintf` keeps it on the stack).
    pub const SCRATCH: u64 = 4096;
    /// The scratch buffer's size (glibc's `BUFSIZ`).
    pub const SCRATCH_BYTES: u64 = 8192;
    /// The whole mapping.
    pub const BYTES: u64 = SCRATCH + SCRATCH_BYTES;

    // The parts do not overlap: the arena is the top, two bin-map words
    // and 128 bins of two words; the parameters are eight words; stdio
    // is the list head and three FILEs.
    const _: () = assert!(ARENA + 8 * 3 + 128 * 16 <= PARAMS);
    const _: () = assert!(PARAMS + 8 * 8 <= STDIO);
    const _: () = assert!(STDIO + 8 + 3 * crate::stdio::FILE_BYTES <= SCRATCH);
}

/// What a library call can end in besides its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibcError {
    /// A system call failed, or the library refused the call, with this
    /// errno (what C's `errno` would hold).
    Errno(Errno),
    /// The process was killed by this signal during the call (the library
    /// dereferenced a bad pointer it was given).
    Signal(Signal),
    /// free, realloc or malloc_usable_size of a pointer malloc did not
    /// return, or of a freed one: glibc aborts with `message`; vmlab
    /// reports it and leaves the heap as it was.
    InvalidPointer {
        /// The pointer.
        addr: u64,
        /// glibc's diagnostic, such as `"free(): invalid pointer"`.
        message: &'static str,
    },
    /// printf's format and arguments disagree.
    Format {
        /// Byte offset in the format string.
        at: usize,
        /// What was expected there.
        message: String,
    },
    /// The process has not run [`Libc::start`], or has ended.
    NotStarted(Pid),
}

impl fmt::Display for LibcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibcError::Errno(e) => write!(f, "{e}"),
            LibcError::Signal(s) => write!(f, "killed by {s:?}"),
            LibcError::InvalidPointer { addr, message } => write!(f, "{message} ({addr:#x})"),
            LibcError::Format { at, message } => {
                write!(f, "format string, byte {at}: {message}")
            }
            LibcError::NotStarted(pid) => write!(f, "process {pid} has no C library running"),
        }
    }
}

impl std::error::Error for LibcError {}

impl From<Errno> for LibcError {
    fn from(e: Errno) -> LibcError {
        LibcError::Errno(e)
    }
}

impl From<Signal> for LibcError {
    fn from(s: Signal) -> LibcError {
        LibcError::Signal(s)
    }
}

/// The C library of every process of one kernel.
pub struct Libc {
    kernel: Kernel,
    config: MallocConfig,
    /// Where each started process's library data is mapped.
    images: BTreeMap<Pid, u64>,
    meter: Meter,
}

/// The number of aligned words the bytes `[addr, addr + len)` touch: the
/// loads or stores a word-at-a-time routine makes over them.
pub(crate) fn words(addr: u64, len: u64) -> u64 {
    if len == 0 {
        0
    } else {
        (addr + len - 1) / WORD - addr / WORD + 1
    }
}

impl Libc {
    /// Counts a call of the library function `name` by process `pid` and
    /// reports it, with the arguments `args` builds, to the explanation
    /// stream, if one listens. For the functions that do not return (exit,
    /// execve); the others go through [`Libc::library_function`].
    pub(crate) fn library_call(
        &mut self,
        pid: Pid,
        name: &'static str,
        args: impl FnOnce() -> Vec<CallArg>,
    ) {
        self.meter.call(name);
        self.kernel
            .note(pid, || KernelEvent::LibraryCall { name, args: args() });
    }

    /// Runs `body` as the library function `name` called by process `pid`
    /// ([`Libc::library_call`]), then reports its return: the value as
    /// `describe` gives it (`None` for `void`), or the failure, and how many
    /// system calls it made. Without an explanation it only counts.
    pub(crate) fn library_function<T>(
        &mut self,
        pid: Pid,
        name: &'static str,
        args: impl FnOnce() -> Vec<CallArg>,
        describe: impl FnOnce(&T) -> Option<String>,
        body: impl FnOnce(&mut Libc) -> Result<T, LibcError>,
    ) -> Result<T, LibcError> {
        self.library_call(pid, name, args);
        if !self.kernel.explaining() {
            return body(self);
        }
        let before = self.meter.system_call_total();
        let result = body(self);
        let system_calls = self.meter.system_call_total() - before;
        self.kernel.note(pid, || KernelEvent::LibraryReturn {
            name,
            value: result.as_ref().ok().and_then(describe),
            error: result.as_ref().err().map(ToString::to_string),
            system_calls,
        });
        result
    }

    /// The library for the processes of `kernel`, with malloc's `config`.
    /// Counting starts now.
    pub fn new(kernel: Kernel, config: MallocConfig) -> Libc {
        let meter = Meter::new(&kernel);
        Libc {
            kernel,
            config,
            images: BTreeMap::new(),
            meter,
        }
    }

    /// The kernel (counters, files, the terminal's transcript).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The kernel, to set a process up before [`Libc::start`] (spawn it,
    /// attach the terminal, open files). What is done through it is not
    /// counted as the program's.
    pub fn kernel_mut(&mut self) -> &mut Kernel {
        &mut self.kernel
    }

    /// The program's startup code for `pid` (glibc's `_start` and
    /// `__libc_start_main`, and ld.so's `brk(NULL)`): maps the library's
    /// data, learns the program break, initialises the arena and the
    /// standard streams on descriptors 0, 1 and 2.
    pub fn start(&mut self, pid: Pid) -> Result<(), LibcError> {
        let rw = PROT_READ | PROT_WRITE;
        let base = self.sys_mmap(pid, data::BYTES, rw, MAP_PRIVATE | MAP_ANONYMOUS)?;
        self.images.insert(pid, base);
        self.init_malloc(pid, base)?;
        self.init_stdio(pid, base)
    }

    /// The base of `pid`'s library data.
    pub(crate) fn image(&self, pid: Pid) -> Result<u64, LibcError> {
        match self.images.get(&pid) {
            Some(&base) if self.kernel.is_live(pid) => Ok(base),
            _ => Err(LibcError::NotStarted(pid)),
        }
    }

    /// fork(3): the child gets a copy of everything, the library's data
    /// and unflushed stream buffers included. Returns the child's pid.
    pub fn fork(&mut self, pid: Pid) -> Result<Pid, LibcError> {
        self.library_function(pid, "fork", Vec::new, shown::value, |libc| {
            let base = libc.image(pid)?;
            let child = libc.sys_fork(pid)?;
            libc.images.insert(child, base);
            Ok(child)
        })
    }

    /// execve(3) of a new program in `pid`, which starts it: the old
    /// address space goes, unflushed buffers with it.
    pub fn execve(&mut self, pid: Pid) -> Result<(), LibcError> {
        self.library_call(pid, "execve", Vec::new);
        self.image(pid)?;
        self.sys_execve(pid)?;
        self.images.remove(&pid);
        self.start(pid)
    }

    /// waitpid(3) without blocking: the ended child's pid and exit status
    /// (`None` while none has ended).
    pub fn wait(
        &mut self,
        pid: Pid,
        child: Option<Pid>,
    ) -> Result<Option<(Pid, vmlab_kernel::ExitStatus)>, LibcError> {
        self.library_function(
            pid,
            "wait",
            || vec![CallArg::num("pid", child.map_or(-1, i64::from))],
            shown::value,
            |libc| {
                libc.image(pid)?;
                libc.sys_wait(pid, child)
            },
        )
    }

    /// The program's own load of `size` (1, 2, 4 or 8) bytes at `addr`:
    /// one user access.
    pub fn load(&mut self, pid: Pid, addr: u64, size: usize) -> Result<u64, LibcError> {
        self.meter.user_accesses += 1;
        Ok(self.kernel.load(pid, addr, size)?)
    }

    /// The program's own store of the low `size` bytes of `value`.
    pub fn store(&mut self, pid: Pid, addr: u64, size: usize, value: u64) -> Result<(), LibcError> {
        self.meter.user_accesses += 1;
        Ok(self.kernel.store(pid, addr, size, value)?)
    }

    /// The program reading `out.len()` bytes at `addr`, a word at a time.
    pub fn read_bytes(&mut self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), LibcError> {
        self.read_mem(pid, addr, out)
    }

    /// The program writing `bytes` at `addr`, a word at a time.
    pub fn write_bytes(&mut self, pid: Pid, addr: u64, bytes: &[u8]) -> Result<(), LibcError> {
        self.write_mem(pid, addr, bytes)
    }

    /// One 8-byte load by library code.
    pub(crate) fn ld(&mut self, pid: Pid, addr: u64) -> Result<u64, LibcError> {
        self.meter.user_accesses += 1;
        Ok(self.kernel.load(pid, addr, WORD as usize)?)
    }

    /// One 8-byte store by library code.
    pub(crate) fn st(&mut self, pid: Pid, addr: u64, value: u64) -> Result<(), LibcError> {
        self.meter.user_accesses += 1;
        Ok(self.kernel.store(pid, addr, WORD as usize, value)?)
    }

    /// Reads `out.len()` bytes at `addr`, counted as the words touched.
    pub(crate) fn read_mem(
        &mut self,
        pid: Pid,
        addr: u64,
        out: &mut [u8],
    ) -> Result<(), LibcError> {
        self.meter.user_accesses += words(addr, out.len() as u64);
        Ok(self.kernel.read_user(pid, addr, out)?)
    }

    /// Writes `bytes` at `addr`, counted as the words touched.
    pub(crate) fn write_mem(&mut self, pid: Pid, addr: u64, bytes: &[u8]) -> Result<(), LibcError> {
        self.meter.user_accesses += words(addr, bytes.len() as u64);
        Ok(self.kernel.write_user(pid, addr, bytes)?)
    }
}

/// How library functions' results read in an explanation, as C would
/// print them ([`Libc::library_function`]'s `describe`).
mod shown {
    use vmlab_kernel::explain::CallValue;

    /// A pointer, in hex.
    pub(crate) fn pointer(p: &u64) -> Option<String> {
        Some(format!("{p:#x}"))
    }

    /// A count, in decimal.
    pub(crate) fn count(n: &u64) -> Option<String> {
        Some(n.to_string())
    }

    /// A value as the system calls' results read (an `int`, a pid, 0 for
    /// an `int` that is 0 on success, a waited-for child).
    pub(crate) fn value<T: CallValue>(v: &T) -> Option<String> {
        Some(v.describe())
    }

    /// Nothing (a `void` function).
    pub(crate) fn void(_: &()) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_went_wrong() {
        let bad = LibcError::InvalidPointer {
            addr: 0x10,
            message: "free(): invalid pointer",
        };
        assert_eq!(bad.to_string(), "free(): invalid pointer (0x10)");
        assert_eq!(LibcError::Errno(Errno::Enomem).to_string(), "ENOMEM");
        let format = LibcError::Format {
            at: 3,
            message: "an argument".into(),
        };
        assert_eq!(format.to_string(), "format string, byte 3: an argument");
        assert_eq!(
            LibcError::NotStarted(7).to_string(),
            "process 7 has no C library running"
        );
    }

    #[test]
    fn word_accesses_count_the_aligned_words_touched() {
        assert_eq!(words(0, 0), 0);
        assert_eq!(words(0, 8), 1);
        assert_eq!(words(7, 2), 2);
        assert_eq!(words(8, 16), 2);
        assert_eq!(words(3, 16), 3);
    }
}
