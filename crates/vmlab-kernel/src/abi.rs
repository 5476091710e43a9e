//! The Linux x86-64 system-call ABI's numbers: open flags, mmap flags,
//! msync and madvise values, lseek whences and errno values, exactly as
//! `<fcntl.h>`, `<sys/mman.h>`, `<unistd.h>` and `<errno.h>` define them on
//! x86-64 Linux, so a program's arguments mean in vmlab what they mean on
//! the host (the differential tests pass the same numbers to both).
//! Protection bits live with [`Prot`](crate::region::Prot).

/// Open for reading only.
pub const O_RDONLY: u32 = 0;
/// Open for writing only.
pub const O_WRONLY: u32 = 1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 2;
/// The access-mode bits of the open flags.
pub const O_ACCMODE: u32 = 3;
/// Create the file if it does not exist.
pub const O_CREAT: u32 = 0o100;
/// With `O_CREAT`: fail with EEXIST if the file exists.
pub const O_EXCL: u32 = 0o200;
/// Truncate the file to length 0 (when opened for writing).
pub const O_TRUNC: u32 = 0o1000;
/// Every write goes to the end of the file.
pub const O_APPEND: u32 = 0o2000;
/// Close the descriptor on execve.
pub const O_CLOEXEC: u32 = 0o2000000;

/// Share the mapping: stores reach the file and every other mapping.
pub const MAP_SHARED: u32 = 0x01;
/// Private copy-on-write mapping.
pub const MAP_PRIVATE: u32 = 0x02;
/// `MAP_SHARED` that refuses unknown flags (EOPNOTSUPP).
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
/// The bits that hold the mapping type.
pub const MAP_TYPE: u32 = 0x0f;
/// Place the mapping exactly at the address, replacing what is there.
pub const MAP_FIXED: u32 = 0x10;
/// No file: zero-filled memory (the descriptor is ignored).
pub const MAP_ANONYMOUS: u32 = 0x20;
/// Map below 2 GiB (accepted, no effect in vmlab).
pub const MAP_32BIT: u32 = 0x40;
/// A stack that grows down (accepted, no effect in vmlab).
pub const MAP_GROWSDOWN: u32 = 0x100;
/// Ignored by Linux.
pub const MAP_DENYWRITE: u32 = 0x800;
/// Ignored by Linux.
pub const MAP_EXECUTABLE: u32 = 0x1000;
/// Lock the pages in memory (accepted, no effect in vmlab).
pub const MAP_LOCKED: u32 = 0x2000;
/// Do not reserve swap space (accepted, no effect in vmlab).
pub const MAP_NORESERVE: u32 = 0x4000;
/// With MAP_POPULATE: do not block on I/O (accepted, no effect).
pub const MAP_NONBLOCK: u32 = 0x1_0000;
/// The mapping is a thread stack (accepted, no effect in vmlab).
pub const MAP_STACK: u32 = 0x2_0000;
/// Huge pages from the boot-time pool ([`crate::hugetlb`]).
pub const MAP_HUGETLB: u32 = 0x4_0000;
/// The huge page size field (bits 26 to 31), as `MAP_HUGE_2MB |
/// MAP_HUGE_1GB` covers it in Linux's mask.
pub const MAP_HUGE_SIZE_BITS: u32 = 0x7c00_0000;
/// The flags Linux has always known (`LEGACY_MAP_MASK`): what
/// `MAP_SHARED_VALIDATE` accepts (others are EOPNOTSUPP, including
/// `MAP_FIXED_NOREPLACE`, as in Linux); plain `MAP_SHARED` and
/// `MAP_PRIVATE` ignore unknown flags.
pub const LEGACY_MAP_MASK: u32 = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
    | MAP_32BIT
    | MAP_HUGE_SIZE_BITS;
/// Fault the pages in at mmap time.
pub const MAP_POPULATE: u32 = 0x8000;
/// Like `MAP_FIXED`, but fail with EEXIST instead of replacing.
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

/// mprotect: System V semaphores may live here (accepted, no effect).
pub const PROT_SEM: u32 = 0x8;
/// mprotect: extend the change down to the start of a grows-down region.
pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
/// mprotect: extend the change up to the end of a grows-up region.
pub const PROT_GROWSUP: u32 = 0x0200_0000;

/// msync: schedule the write-back and return.
pub const MS_ASYNC: u32 = 1;
/// msync: invalidate other mappings' cached copies.
pub const MS_INVALIDATE: u32 = 2;
/// msync: write back and wait for it.
pub const MS_SYNC: u32 = 4;

/// madvise: no special treatment.
pub const MADV_NORMAL: u32 = 0;
/// madvise: expect random references.
pub const MADV_RANDOM: u32 = 1;
/// madvise: expect sequential references.
pub const MADV_SEQUENTIAL: u32 = 2;
/// madvise: expect access soon.
pub const MADV_WILLNEED: u32 = 3;
/// madvise: drop the pages; private anonymous memory reads as zeros after.
pub const MADV_DONTNEED: u32 = 4;

/// lseek: set the offset to the argument.
pub const SEEK_SET: u32 = 0;
/// lseek: add the argument to the current offset.
pub const SEEK_CUR: u32 = 1;
/// lseek: add the argument to the file size.
pub const SEEK_END: u32 = 2;

/// The errno values of [`Errno`](crate::Errno), by Linux name.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// No such process.
    pub const ESRCH: i32 = 3;
    /// Bad file descriptor.
    pub const EBADF: i32 = 9;
    /// No child processes.
    pub const ECHILD: i32 = 10;
    /// Resource temporarily unavailable.
    pub const EAGAIN: i32 = 11;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// No such device (the file cannot be memory mapped).
    pub const ENODEV: i32 = 19;
    /// Is a directory.
    pub const EISDIR: i32 = 21;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// File too large.
    pub const EFBIG: i32 = 27;
    /// No space left on device.
    pub const ENOSPC: i32 = 28;
    /// Illegal seek.
    pub const ESPIPE: i32 = 29;
    /// File name too long.
    pub const ENAMETOOLONG: i32 = 36;
    /// Value too large for defined data type.
    pub const EOVERFLOW: i32 = 75;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
}
