//! The terminal: one character device, `/dev/tty`, that processes get as
//! descriptors 0, 1 and 2 ([`Kernel::attach_terminal`], what login does
//! before it starts a shell). Its output is kept as a transcript
//! ([`Kernel::console`]) that tests and front-ends read; nobody types, so
//! reading it gives end of file.
//!
//! It exists for the C library's stdio, whose buffering depends on whether
//! a stream is a terminal: fstat(2) ([`Kernel::sys_fstat`]) says it is a
//! character device, `/dev/tty`'s (5, 0), and [`Kernel::sys_isatty`]
//! answers the question isatty(3) then asks Linux with `ioctl(fd, TCGETS)`.
//!
//! In the system calls, a terminal differs from a file as on Linux: write
//! appends to the transcript (no page cache, no disk), read returns 0,
//! O_TRUNC does not apply, mmap is ENODEV, ftruncate EINVAL and lseek
//! ESPIPE. Left out: input.

use crate::explain::CallArg;
use crate::frames::Pid;
use crate::kernel::{Errno, Kernel};

/// The terminal's name in the file system.
pub const TERMINAL: &str = "/dev/tty";

impl Kernel {
    /// Opens the terminal as descriptors 0, 1 and 2 (standard input,
    /// output and error) of `pid`, which must have no descriptor open
    /// (EINVAL otherwise). Children inherit them through fork.
    pub fn attach_terminal(&mut self, pid: Pid) -> Result<(), Errno> {
        let open = self.procs.get(&pid).ok_or(Errno::Esrch)?.files.len();
        if open != 0 {
            return Err(Errno::Einval);
        }
        self.fs.make_terminal(TERMINAL)?;
        for _ in 0..3 {
            self.sys_open(pid, TERMINAL, crate::abi::O_RDWR, 0)?;
        }
        Ok(())
    }

    /// Everything written to the terminal so far, up to
    /// [`crate::fs::TERMINAL_KEPT_BYTES`].
    pub fn console(&self) -> Vec<u8> {
        self.fs.export(TERMINAL).unwrap_or_default()
    }

    /// Bytes written to the terminal past what [`Kernel::console`] keeps.
    pub fn console_bytes_dropped(&self) -> u64 {
        self.fs.terminal_bytes_dropped()
    }

    /// Whether `fd` of `pid` is a terminal: the answer of
    /// `ioctl(fd, TCGETS)`, which isatty(3) asks (EBADF for a descriptor
    /// that is not open).
    pub fn sys_isatty(&mut self, pid: Pid, fd: i32) -> Result<bool, Errno> {
        let args = || {
            vec![
                CallArg::num("fd", fd),
                CallArg {
                    name: "op",
                    value: "TCGETS".into(),
                },
            ]
        };
        self.syscall(pid, "ioctl", args, |k| {
            k.counters.syscalls += 1;
            k.terminal_fd(pid, fd)
        })
    }

    /// Whether `fd` of `pid` is a terminal (not a system call).
    fn terminal_fd(&self, pid: Pid, fd: i32) -> Result<bool, Errno> {
        let open = self.fs.open_file(self.files_of(pid)?, fd)?;
        Ok(self.fs.is_terminal(open.file))
    }

    /// Whether `fd` of `pid` is an open terminal.
    pub(crate) fn terminal_of(&self, pid: Pid, fd: i32) -> bool {
        self.terminal_fd(pid, fd).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{MAP_SHARED, O_RDWR, O_TRUNC};
    use crate::region::PROT_READ;
    use crate::KernelConfig;
    use vmlab_hw::arch::presets;

    fn boot() -> (Kernel, Pid) {
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        let mut k = Kernel::new(KernelConfig::new(arch, 64)).unwrap();
        let pid = k.spawn(0).unwrap();
        (k, pid)
    }

    #[test]
    fn writes_to_the_terminal_make_its_transcript() {
        let (mut k, pid) = boot();
        k.attach_terminal(pid).unwrap();
        let buf = k.sys_mmap(pid, 0, 4096, 3, 0x22, -1, 0).unwrap();
        k.write_user(pid, buf, b"hello\n").unwrap();
        assert_eq!(k.sys_write(pid, 1, buf, 6), Ok(6));
        assert_eq!(k.sys_write(pid, 2, buf, 3), Ok(3));
        assert_eq!(k.console(), b"hello\nhel");
        assert_eq!(k.counters().user_copy_bytes, 9);
        // Nothing is read back, and nothing reached the disk or the cache.
        assert_eq!(k.sys_read(pid, 0, buf, 10), Ok(0));
        assert_eq!(k.files().disk_counters().writes, 0);
        // Opening with O_TRUNC keeps the transcript; it cannot be mapped
        // or truncated.
        let fd = k.sys_open(pid, TERMINAL, O_RDWR | O_TRUNC, 0).unwrap();
        assert_eq!(fd, 3);
        assert_eq!(k.console(), b"hello\nhel");
        assert_eq!(
            k.sys_mmap(pid, 0, 4096, PROT_READ, MAP_SHARED, fd, 0),
            Err(Errno::Enodev)
        );
        assert_eq!(k.sys_ftruncate(pid, fd, 0), Err(Errno::Einval));
        assert_eq!(
            k.sys_lseek(pid, fd, 0, crate::abi::SEEK_SET),
            Err(Errno::Espipe)
        );
    }

    /// The transcript grew by every byte written: writes of 256 MiB to the
    /// terminal in a loop held gigabytes of host memory (and each write a
    /// host copy of its whole length). It keeps its first MiB now and
    /// counts the rest; write(2) still returns the whole count.
    #[test]
    fn the_transcript_keeps_its_first_mib_and_counts_the_rest() {
        use crate::fs::TERMINAL_KEPT_BYTES;
        let (mut k, pid) = boot();
        k.attach_terminal(pid).unwrap();
        let len = 3 << 19;
        let buf = k.sys_mmap(pid, 0, len, 3, 0x22, -1, 0).unwrap();
        k.write_user(pid, buf, b"first").unwrap();
        assert_eq!(k.sys_write(pid, 1, buf, len), Ok(len));
        let console = k.console();
        assert_eq!(console.len(), TERMINAL_KEPT_BYTES);
        assert_eq!(&console[..5], b"first");
        assert_eq!(k.console_bytes_dropped(), len - TERMINAL_KEPT_BYTES as u64);
        assert_eq!(k.sys_write(pid, 2, buf, 5), Ok(5));
        assert_eq!(
            k.console_bytes_dropped(),
            len + 5 - TERMINAL_KEPT_BYTES as u64
        );
        assert_eq!(k.counters().user_copy_bytes, len + 5);
    }

    #[test]
    fn isatty_tells_the_terminal_from_files() {
        let (mut k, pid) = boot();
        assert_eq!(k.sys_isatty(pid, 1), Err(Errno::Ebadf));
        k.attach_terminal(pid).unwrap();
        assert_eq!(k.attach_terminal(pid), Err(Errno::Einval));
        k.sys_close(pid, 1).unwrap();
        let fd = k.sys_open(pid, "out", O_RDWR | crate::abi::O_CREAT, 0o644);
        assert_eq!(fd, Ok(1));
        let calls = k.counters().syscalls;
        assert_eq!(k.sys_isatty(pid, 0), Ok(true));
        assert_eq!(k.sys_isatty(pid, 1), Ok(false));
        assert_eq!(k.counters().syscalls, calls + 2);
        // A child inherits the terminal.
        let child = k.sys_fork(pid).unwrap();
        assert_eq!(k.sys_isatty(child, 2), Ok(true));
    }

    /// fstat tells the terminal (a character device, /dev/tty's 5, 0, with
    /// a tty's 1024-byte blocks) from a regular file (its size, 4 KiB
    /// blocks), as Linux does; stdio reads it to choose its buffer.
    #[test]
    fn fstat_tells_a_character_device_from_a_file() {
        let (mut k, pid) = boot();
        assert_eq!(k.sys_fstat(pid, 0), Err(Errno::Ebadf));
        k.attach_terminal(pid).unwrap();
        let tty = k.sys_fstat(pid, 1).unwrap();
        assert_eq!(
            (tty.char_device, tty.rdev_major, tty.blksize),
            (true, 5, 1024)
        );
        let fd = k
            .sys_open(pid, "out", O_RDWR | crate::abi::O_CREAT, 0o644)
            .unwrap();
        let buf = k.sys_brk(pid, 0).unwrap();
        k.sys_brk(pid, buf + 4096).unwrap();
        assert_eq!(k.sys_write(pid, fd, buf, 100), Ok(100));
        let calls = k.counters().syscalls;
        let file = k.sys_fstat(pid, fd).unwrap();
        assert_eq!(k.counters().syscalls, calls + 1);
        assert_eq!(
            (file.char_device, file.rdev_major, file.size, file.blksize),
            (false, 0, 100, 4096)
        );
    }
}
