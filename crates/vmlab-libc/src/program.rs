//! What the program does itself rather than through a library function,
//! counted by the same [`account`](crate::account) as the library's own
//! work: its system calls through the thin wrappers C programs call by
//! the system call's name (`write(2)`, `mmap(2)`: one `syscall`
//! instruction each, so they are counted as system calls, not library
//! calls), and its bare accesses (a loop touching a page per step).
//! A front-end that runs programs (a scenario script) uses these, and
//! hands the kernel back with [`Libc::into_kernel`] when they are done.

use crate::{Libc, LibcError};
use vmlab_hw::AccessKind;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::{Errno, Kernel};

impl Libc {
    /// The system call `name` made by the program through its wrapper:
    /// `call` runs on the kernel and is counted as the library's calls are.
    pub fn system_call<T>(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Kernel) -> Result<T, Errno>,
    ) -> Result<T, LibcError> {
        self.syscall(name, call)
    }

    /// Like [`Libc::system_call`] for a call whose value is the bytes it
    /// copied between user memory and the kernel (read, write).
    pub fn copying_system_call(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Kernel) -> Result<u64, Errno>,
    ) -> Result<u64, LibcError> {
        self.copying(name, call)
    }

    /// One access by the program at `addr`, a store when `write`, that
    /// moves no data the program looks at (touching a page): one user
    /// access.
    pub fn access(&mut self, pid: Pid, addr: u64, write: bool) -> Result<(), LibcError> {
        self.meter.user_accesses += 1;
        let kind = if write {
            AccessKind::Write
        } else {
            AccessKind::Read
        };
        Ok(self.kernel.access(pid, addr, kind)?)
    }

    /// The kernel, when the programs are done (its counters, files and
    /// terminal stay as they were).
    pub fn into_kernel(self) -> Kernel {
        self.kernel
    }
}
