//! The system calls' entry points: each `sys_*` method reports its entry
//! (name and arguments, decoded as C would write them) and its result
//! (value or errno name) to the explanation stream, around the call
//! itself in [`crate::syscall`]. With no explanation log the wrapper is
//! one branch.

use crate::abi::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_HUGETLB, MAP_POPULATE, MAP_PRIVATE,
    MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_EXCL,
    O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};
use crate::explain::CallArg;
use crate::frames::Pid;
use crate::fs::FileStat;
use crate::kernel::{Errno, Kernel};
use crate::process::ExitStatus;

/// `names` of the bits of `flags` that are set, then what is left in hex.
fn bit_names(flags: u32, names: &[(u32, &str)], mut out: Vec<String>) -> String {
    let mut rest = flags;
    for &(bit, name) in names {
        if flags & bit == bit && bit != 0 {
            out.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out.join("|")
}

/// mmap's flags by their `MAP_*` names.
pub fn map_flag_names(flags: u32) -> String {
    let kind = match flags & MAP_TYPE {
        MAP_SHARED => "MAP_SHARED".to_string(),
        MAP_PRIVATE => "MAP_PRIVATE".to_string(),
        MAP_SHARED_VALIDATE => "MAP_SHARED_VALIDATE".to_string(),
        other => format!("{other:#x}"),
    };
    let others = [
        (MAP_FIXED, "MAP_FIXED"),
        (MAP_ANONYMOUS, "MAP_ANONYMOUS"),
        (MAP_POPULATE, "MAP_POPULATE"),
        (MAP_HUGETLB, "MAP_HUGETLB"),
        (MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"),
    ];
    bit_names(flags & !MAP_TYPE, &others, vec![kind])
}

/// open's flags by their `O_*` names.
pub fn open_flag_names(flags: u32) -> String {
    let mode = match flags & O_ACCMODE {
        O_RDONLY => "O_RDONLY",
        O_WRONLY => "O_WRONLY",
        O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let others = [
        (O_CREAT, "O_CREAT"),
        (O_EXCL, "O_EXCL"),
        (O_TRUNC, "O_TRUNC"),
        (O_APPEND, "O_APPEND"),
        (O_CLOEXEC, "O_CLOEXEC"),
    ];
    bit_names(flags & !O_ACCMODE, &others, vec![mode.to_string()])
}

impl Kernel {
    /// getpid(2).
    pub fn sys_getpid(&mut self, pid: Pid) -> Result<Pid, Errno> {
        self.syscall(pid, "getpid", Vec::new, |k| k.getpid_call(pid))
    }

    /// open(2): opens (with `O_CREAT`, creates) the file `path`; returns
    /// the lowest free descriptor.
    pub fn sys_open(&mut self, pid: Pid, path: &str, flags: u32, mode: u32) -> Result<i32, Errno> {
        let args = || {
            vec![
                CallArg::text("pathname", path),
                CallArg {
                    name: "flags",
                    value: open_flag_names(flags),
                },
                CallArg {
                    name: "mode",
                    value: format!("{mode:#o}"),
                },
            ]
        };
        self.syscall(pid, "open", args, |k| k.open_call(pid, path, flags, mode))
    }

    /// close(2).
    pub fn sys_close(&mut self, pid: Pid, fd: i32) -> Result<(), Errno> {
        let args = || vec![CallArg::num("fd", fd)];
        self.syscall(pid, "close", args, |k| k.close_call(pid, fd))
    }

    /// unlink(2).
    pub fn sys_unlink(&mut self, pid: Pid, path: &str) -> Result<(), Errno> {
        let args = || vec![CallArg::text("pathname", path)];
        self.syscall(pid, "unlink", args, |k| k.unlink_call(pid, path))
    }

    /// read(2): up to `count` bytes from `fd` into user memory at `buf`;
    /// returns the bytes read (0 at the end of the file).
    pub fn sys_read(&mut self, pid: Pid, fd: i32, buf: u64, count: u64) -> Result<u64, Errno> {
        let args = || {
            vec![
                CallArg::num("fd", fd),
                CallArg::addr("buf", buf),
                CallArg::num("count", count),
            ]
        };
        self.syscall(pid, "read", args, |k| k.read_call(pid, fd, buf, count))
    }

    /// write(2): `count` bytes of user memory at `buf` to `fd`; returns
    /// the bytes written.
    pub fn sys_write(&mut self, pid: Pid, fd: i32, buf: u64, count: u64) -> Result<u64, Errno> {
        let args = || {
            vec![
                CallArg::num("fd", fd),
                CallArg::addr("buf", buf),
                CallArg::num("count", count),
            ]
        };
        self.syscall(pid, "write", args, |k| k.write_call(pid, fd, buf, count))
    }

    /// lseek(2); returns the new offset.
    pub fn sys_lseek(&mut self, pid: Pid, fd: i32, offset: i64, whence: u32) -> Result<u64, Errno> {
        let args = || {
            let whence = match whence {
                crate::abi::SEEK_SET => "SEEK_SET".to_string(),
                crate::abi::SEEK_CUR => "SEEK_CUR".to_string(),
                crate::abi::SEEK_END => "SEEK_END".to_string(),
                other => other.to_string(),
            };
            vec![
                CallArg::num("fd", fd),
                CallArg::num("offset", offset),
                CallArg {
                    name: "whence",
                    value: whence,
                },
            ]
        };
        self.syscall(pid, "lseek", args, |k| {
            k.lseek_call(pid, fd, offset, whence)
        })
    }

    /// fstat(2): what kind of file `fd` is, its size and its preferred
    /// I/O size.
    pub fn sys_fstat(&mut self, pid: Pid, fd: i32) -> Result<FileStat, Errno> {
        let args = || vec![CallArg::num("fd", fd)];
        self.syscall(pid, "fstat", args, |k| k.fstat_call(pid, fd))
    }

    /// ftruncate(2).
    pub fn sys_ftruncate(&mut self, pid: Pid, fd: i32, length: i64) -> Result<(), Errno> {
        let args = || vec![CallArg::num("fd", fd), CallArg::num("length", length)];
        self.syscall(pid, "ftruncate", args, |k| {
            k.ftruncate_call(pid, fd, length)
        })
    }

    /// mmap(2) with Linux's flags and its checks in Linux's order; returns
    /// the address.
    #[allow(clippy::too_many_arguments)]
    pub fn sys_mmap(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        fd: i32,
        offset: u64,
    ) -> Result<u64, Errno> {
        let args = || {
            vec![
                CallArg::addr("addr", addr),
                CallArg::num("length", len),
                CallArg::prot("prot", prot),
                CallArg {
                    name: "flags",
                    value: map_flag_names(flags),
                },
                CallArg::num("fd", fd),
                CallArg::addr("offset", offset),
            ]
        };
        self.syscall(pid, "mmap", args, |k| {
            k.mmap_call(pid, addr, len, prot, flags, fd, offset)
        })
    }

    /// munmap(2).
    pub fn sys_munmap(&mut self, pid: Pid, addr: u64, len: u64) -> Result<(), Errno> {
        let args = || vec![CallArg::addr("addr", addr), CallArg::num("length", len)];
        self.syscall(pid, "munmap", args, |k| k.munmap_call(pid, addr, len))
    }

    /// mprotect(2), with Linux's checks in Linux's order.
    pub fn sys_mprotect(&mut self, pid: Pid, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        let args = || {
            vec![
                CallArg::addr("addr", addr),
                CallArg::num("length", len),
                CallArg::prot("prot", prot),
            ]
        };
        self.syscall(pid, "mprotect", args, |k| {
            k.mprotect_call(pid, addr, len, prot)
        })
    }

    /// msync(2): with MS_SYNC, writes back the dirty cached pages of the
    /// shared file mappings in the range.
    pub fn sys_msync(&mut self, pid: Pid, addr: u64, len: u64, flags: u32) -> Result<(), Errno> {
        let args = || {
            vec![
                CallArg::addr("addr", addr),
                CallArg::num("length", len),
                CallArg::addr("flags", u64::from(flags)),
            ]
        };
        self.syscall(pid, "msync", args, |k| k.msync_call(pid, addr, len, flags))
    }

    /// madvise(2).
    pub fn sys_madvise(&mut self, pid: Pid, addr: u64, len: u64, advice: u32) -> Result<(), Errno> {
        let args = || {
            vec![
                CallArg::addr("addr", addr),
                CallArg::num("length", len),
                CallArg::num("advice", advice),
            ]
        };
        self.syscall(pid, "madvise", args, |k| {
            k.madvise_call(pid, addr, len, advice)
        })
    }

    /// brk(2) as the system call: returns the new break, or the old one
    /// when the request is refused (`sys_brk(pid, 0)` asks for it).
    pub fn sys_brk(&mut self, pid: Pid, addr: u64) -> Result<u64, Errno> {
        let args = || vec![CallArg::addr("addr", addr)];
        self.syscall(pid, "brk", args, |k| k.brk_call(pid, addr))
    }

    /// fork(2): returns the child's pid.
    pub fn sys_fork(&mut self, pid: Pid) -> Result<Pid, Errno> {
        self.syscall(pid, "fork", Vec::new, |k| k.fork_call(pid))
    }

    /// execve(2): a fresh address space; open descriptors stay open.
    pub fn sys_execve(&mut self, pid: Pid) -> Result<(), Errno> {
        self.syscall(pid, "execve", Vec::new, |k| k.execve_call(pid))
    }

    /// exit(2).
    pub fn sys_exit(&mut self, pid: Pid, status: i32) -> Result<(), Errno> {
        let args = || vec![CallArg::num("status", status)];
        self.syscall(pid, "exit", args, |k| k.exit_call(pid, status))
    }

    /// wait4(2) for `child` (any child for `None`), without blocking: the
    /// ended child and how it ended, `None` while none has ended.
    pub fn sys_wait(
        &mut self,
        pid: Pid,
        child: Option<Pid>,
    ) -> Result<Option<(Pid, ExitStatus)>, Errno> {
        let args = || {
            let who = child.map_or("-1".to_string(), |c| c.to_string());
            vec![CallArg {
                name: "pid",
                value: who,
            }]
        };
        self.syscall(pid, "wait4", args, |k| k.wait_call(pid, child))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_as_c_would_write_them() {
        assert_eq!(
            map_flag_names(MAP_PRIVATE | MAP_ANONYMOUS),
            "MAP_PRIVATE|MAP_ANONYMOUS"
        );
        assert_eq!(
            map_flag_names(MAP_SHARED | MAP_FIXED | 0x4000),
            "MAP_SHARED|MAP_FIXED|0x4000"
        );
        assert_eq!(open_flag_names(O_RDWR | O_CREAT), "O_RDWR|O_CREAT");
        assert_eq!(open_flag_names(O_RDONLY), "O_RDONLY");
    }
}
