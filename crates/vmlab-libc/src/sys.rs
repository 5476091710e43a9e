//! The system-call wrappers: the only way the library reaches the kernel.
//! Each one is a counted crossing ([`crate::account`]): it names the call
//! as strace would and measures what the kernel did inside it.

use crate::account::Snapshot;
use crate::{Libc, LibcError};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::fs::FileStat;
use vmlab_kernel::{Errno, ExitStatus, Kernel};

impl Libc {
    /// Runs `call` as the system call `name`.
    pub(crate) fn syscall<T>(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Kernel) -> Result<T, Errno>,
    ) -> Result<T, LibcError> {
        let before = Snapshot::of(&self.kernel);
        let result = call(&mut self.kernel);
        let after = Snapshot::of(&self.kernel);
        self.meter.syscall(name, &before, &after);
        Ok(result?)
    }

    pub(crate) fn sys_mmap(
        &mut self,
        pid: Pid,
        len: u64,
        prot: u32,
        flags: u32,
    ) -> Result<u64, LibcError> {
        self.syscall("mmap", |k| k.sys_mmap(pid, 0, len, prot, flags, -1, 0))
    }

    pub(crate) fn sys_munmap(&mut self, pid: Pid, addr: u64, len: u64) -> Result<(), LibcError> {
        self.syscall("munmap", |k| k.sys_munmap(pid, addr, len))
    }

    /// brk(2): the break in force afterwards.
    pub(crate) fn sys_brk(&mut self, pid: Pid, addr: u64) -> Result<u64, LibcError> {
        self.syscall("brk", |k| k.sys_brk(pid, addr))
    }

    pub(crate) fn sys_open(&mut self, pid: Pid, path: &str, flags: u32) -> Result<i32, LibcError> {
        // fopen creates files with mode 0666 (before the umask).
        self.syscall("open", |k| k.sys_open(pid, path, flags, 0o666))
    }

    pub(crate) fn sys_close(&mut self, pid: Pid, fd: i32) -> Result<(), LibcError> {
        self.syscall("close", |k| k.sys_close(pid, fd))
    }

    pub(crate) fn sys_read(
        &mut self,
        pid: Pid,
        fd: i32,
        buf: u64,
        n: u64,
    ) -> Result<u64, LibcError> {
        self.copying("read", |k| k.sys_read(pid, fd, buf, n))
    }

    pub(crate) fn sys_write(
        &mut self,
        pid: Pid,
        fd: i32,
        buf: u64,
        n: u64,
    ) -> Result<u64, LibcError> {
        self.copying("write", |k| k.sys_write(pid, fd, buf, n))
    }

    /// A call that copies the bytes it returns between user memory and
    /// the kernel.
    pub(crate) fn copying(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Kernel) -> Result<u64, Errno>,
    ) -> Result<u64, LibcError> {
        let n = self.syscall(name, call)?;
        self.meter.user_copy_bytes += n;
        Ok(n)
    }

    pub(crate) fn sys_lseek(
        &mut self,
        pid: Pid,
        fd: i32,
        offset: i64,
        whence: u32,
    ) -> Result<u64, LibcError> {
        self.syscall("lseek", |k| k.sys_lseek(pid, fd, offset, whence))
    }

    pub(crate) fn sys_fstat(&mut self, pid: Pid, fd: i32) -> Result<FileStat, LibcError> {
        self.syscall("fstat", |k| k.sys_fstat(pid, fd))
    }

    /// isatty(3)'s `ioctl(fd, TCGETS)`.
    pub(crate) fn sys_isatty(&mut self, pid: Pid, fd: i32) -> Result<bool, LibcError> {
        self.syscall("ioctl", |k| k.sys_isatty(pid, fd))
    }

    pub(crate) fn sys_fork(&mut self, pid: Pid) -> Result<Pid, LibcError> {
        self.syscall("fork", |k| k.sys_fork(pid))
    }

    pub(crate) fn sys_execve(&mut self, pid: Pid) -> Result<(), LibcError> {
        self.syscall("execve", |k| k.sys_execve(pid))
    }

    pub(crate) fn sys_wait(
        &mut self,
        pid: Pid,
        child: Option<Pid>,
    ) -> Result<Option<(Pid, ExitStatus)>, LibcError> {
        self.syscall("wait4", |k| k.sys_wait(pid, child))
    }

    /// exit_group(2), what both exit(3) and _exit(2) end in.
    pub(crate) fn sys_exit(&mut self, pid: Pid, status: i32) -> Result<(), LibcError> {
        self.syscall("exit_group", |k| k.sys_exit(pid, status))?;
        self.images.remove(&pid);
        Ok(())
    }
}
