//! The system-call layer: Linux's calls with Linux's arguments (the
//! numbers of [`crate::abi`]) and errno results, on top of the kernel API.
//! Each `sys_*` method checks its arguments in the order Linux does, so a
//! call with several faults reports the errno Linux reports.
//!
//! Every call counts in [`KernelCounters::syscalls`](crate::KernelCounters::syscalls),
//! and the bytes read(2) and write(2) move between user memory and the
//! kernel in `user_copy_bytes`, for the cost model.
//!
//! A call that reads or writes a user buffer goes through the MMU like
//! the program's own accesses (faulting pages in), but a buffer that is
//! not mapped for the access gets EFAULT, not a signal: the call checks
//! the regions first, and moves the accessible prefix when only a prefix
//! is (as Linux's short reads and writes do).
//!
//! Left out: a user buffer below the stack that a fault would grow the
//! stack into is EFAULT (Linux grows the stack for the kernel's access).
//!
//! File data moves through the page cache ([`crate::pagecache`]): read(2)
//! and write(2) copy between it and user memory, file mappings map it.
//!
//! The public entry points (`Kernel::sys_*`) are in [`crate::syscall_entry`],
//! which reports each call to the explanation stream around these.

use crate::abi::{
    LEGACY_MAP_MASK, MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_HUGETLB, MAP_POPULATE, MAP_PRIVATE,
    MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, MS_ASYNC, MS_INVALIDATE, MS_SYNC, PROT_GROWSDOWN,
    PROT_GROWSUP, PROT_SEM,
};
use crate::frames::Pid;
use crate::fs::FileStat;
use crate::kernel::{task_size, Errno, Kernel};
use crate::process::ExitStatus;
use crate::region::{Prot, ReadAdvice, Region, RegionError, RegionKind};
use vmlab_hw::AccessKind;

/// The errno Linux's `get_unmapped_area` gives for a placement failure.
fn placement_errno(e: RegionError) -> Errno {
    match e {
        RegionError::Misaligned { .. } => Errno::Einval,
        RegionError::BelowMinAddr { .. } => Errno::Eperm,
        _ => Errno::Enomem,
    }
}

/// The most bytes read(2) and write(2) move through the host at once:
/// a transfer of any length goes through one buffer of this size.
const RW_PIECE: u64 = 1 << 16;

/// The length of the next piece of a transfer with `left` bytes to go.
fn piece_len(left: u64) -> usize {
    // At most RW_PIECE, which fits a usize.
    left.min(RW_PIECE) as usize
}

impl Kernel {
    /// `count` as read(2) and write(2) take it: at most Linux's
    /// `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`, `rw_verify_area`), so a
    /// larger request moves that many bytes and says so in its result.
    fn max_rw_count(&self, count: u64) -> u64 {
        count.min(i32::MAX as u64 & !(self.page_bytes() - 1))
    }

    /// The descriptor table of live process `pid`.
    pub(crate) fn files_of(&self, pid: Pid) -> Result<&crate::fs::FdTable, Errno> {
        if !self.is_live(pid) {
            return Err(Errno::Esrch);
        }
        Ok(&self.procs[&pid].files)
    }

    /// How many bytes from `addr` on, up to `len`, lie in regions that
    /// allow `kind` accesses: what a system call may copy before it would
    /// fault.
    fn user_prefix(&self, pid: Pid, addr: u64, len: u64, kind: AccessKind) -> u64 {
        let Some(p) = self.procs.get(&pid) else {
            return 0;
        };
        let end = addr.saturating_add(len).min(task_size(self.arch()));
        let mut at = addr;
        while at < end {
            let Some(region) = p.regions.find(at) else {
                break;
            };
            let allowed = match kind {
                AccessKind::Write => region.prot.contains(Prot::WRITE),
                _ => !region.prot.is_empty(),
            };
            if !allowed {
                break;
            }
            let mut piece_end = region.end.min(end);
            if let RegionKind::File { file, offset, .. } = region.kind {
                if file != crate::kernel::BACKING_STORE {
                    // Pages wholly past the end of a mapped file fault.
                    let pages = self.fs.size(file).next_multiple_of(self.page_bytes());
                    let valid = region.start + pages.saturating_sub(offset);
                    piece_end = piece_end.min(valid);
                }
            }
            if piece_end <= at {
                break;
            }
            at = piece_end;
        }
        at.saturating_sub(addr)
    }

    /// The file system (to read files' contents, or export them).
    pub fn files(&self) -> &crate::fs::FileSystem {
        &self.fs
    }

    /// The file system, to import files into.
    pub fn files_mut(&mut self) -> &mut crate::fs::FileSystem {
        &mut self.fs
    }

    /// getpid(2).
    pub(crate) fn getpid_call(&mut self, pid: Pid) -> Result<Pid, Errno> {
        self.counters.syscalls += 1;
        self.files_of(pid).map(|_| pid)
    }

    /// open(2): opens (with `O_CREAT`, creates) the file `path`; returns
    /// the lowest free descriptor. `mode` is accepted as Linux takes it
    /// and not kept (vmlab checks no permissions).
    pub(crate) fn open_call(
        &mut self,
        pid: Pid,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> Result<i32, Errno> {
        self.counters.syscalls += 1;
        let _ = mode;
        self.files_of(pid)?;
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        let fd = self.fs.open(&mut p.files, path, flags)?;
        // Terminal (vmlab-libc): O_TRUNC does not apply to a terminal.
        let terminal = self.terminal_of(pid, fd);
        if flags & crate::abi::O_TRUNC != 0 && !terminal {
            // Linux truncates whatever the access mode (for a caller that
            // may write the file, as every vmlab caller may).
            let file = self.fs.open_file(&self.procs[&pid].files, fd)?.file;
            self.set_file_size(file, 0);
        }
        Ok(fd)
    }

    /// close(2).
    pub(crate) fn close_call(&mut self, pid: Pid, fd: i32) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.files_of(pid)?;
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        self.fs.close(&mut p.files, fd)?;
        self.collect_files();
        Ok(())
    }

    /// unlink(2).
    pub(crate) fn unlink_call(&mut self, pid: Pid, path: &str) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.files_of(pid)?;
        self.fs.unlink(path)?;
        self.collect_files();
        Ok(())
    }

    /// read(2): up to `count` bytes from `fd` into user memory at `buf`;
    /// returns the bytes read (0 at the end of the file).
    pub(crate) fn read_call(
        &mut self,
        pid: Pid,
        fd: i32,
        buf: u64,
        count: u64,
    ) -> Result<u64, Errno> {
        self.counters.syscalls += 1;
        let table = self.files_of(pid)?;
        let (id, open) = self.fs.reading(table, fd)?;
        // Terminal (vmlab-libc): nobody types, so a read is end of file.
        if self.fs.is_terminal(open.file) {
            return Ok(0);
        }
        let available = self
            .max_rw_count(count)
            .min(self.fs.size(open.file).saturating_sub(open.offset));
        if available == 0 {
            return Ok(0);
        }
        let n = self.user_prefix(pid, buf, available, AccessKind::Write);
        if n == 0 {
            return Err(Errno::Efault);
        }
        let mut data = vec![0; piece_len(n)];
        let mut done = 0;
        while done < n {
            let piece = &mut data[..piece_len(n - done)];
            self.read_cached(pid, open.file, open.offset + done, piece)?;
            if self.write_user(pid, buf + done, piece).is_err() {
                break;
            }
            done += piece.len() as u64;
        }
        if done == 0 {
            return Err(Errno::Efault);
        }
        self.counters.user_copy_bytes += done;
        self.fs.set_offset(id, open.offset + done);
        Ok(done)
    }

    /// write(2): `count` bytes of user memory at `buf` to `fd`; returns
    /// the bytes written.
    pub(crate) fn write_call(
        &mut self,
        pid: Pid,
        fd: i32,
        buf: u64,
        count: u64,
    ) -> Result<u64, Errno> {
        self.counters.syscalls += 1;
        let table = self.files_of(pid)?;
        let (id, open, at) = self.fs.writing(table, fd)?;
        if count == 0 {
            return Ok(0);
        }
        let n = self.user_prefix(pid, buf, self.max_rw_count(count), AccessKind::Read);
        if n == 0 {
            return Err(Errno::Efault);
        }
        // Terminal (vmlab-libc): the bytes go to its transcript, with no
        // offset and no size to grow.
        let terminal = self.fs.is_terminal(open.file);
        let n = if terminal {
            n
        } else {
            if at.saturating_add(n) > crate::fs::MAX_FILE_BYTES {
                return Err(Errno::Efbig);
            }
            // A full disk takes what fits (a short write), then nothing.
            let room = self.fs.room(open.file);
            if at >= room {
                return Err(Errno::Enospc);
            }
            n.min(room - at)
        };
        let mut data = vec![0; piece_len(n)];
        let mut done = 0;
        while done < n {
            let piece = &mut data[..piece_len(n - done)];
            if self.read_user(pid, buf + done, piece).is_err() {
                break;
            }
            if terminal {
                self.fs.append_terminal(open.file, piece);
            } else {
                self.write_cached(pid, open.file, at + done, piece)?;
            }
            done += piece.len() as u64;
        }
        if done == 0 {
            return Err(Errno::Efault);
        }
        self.counters.user_copy_bytes += done;
        if !terminal {
            self.fs.set_offset(id, at + done);
        }
        Ok(done)
    }

    /// lseek(2); returns the new offset.
    pub(crate) fn lseek_call(
        &mut self,
        pid: Pid,
        fd: i32,
        offset: i64,
        whence: u32,
    ) -> Result<u64, Errno> {
        self.counters.syscalls += 1;
        let table = self.files_of(pid)?;
        let table = table.clone();
        self.fs.lseek(&table, fd, offset, whence)
    }

    /// fstat(2).
    pub(crate) fn fstat_call(&mut self, pid: Pid, fd: i32) -> Result<FileStat, Errno> {
        self.counters.syscalls += 1;
        let table = self.files_of(pid)?;
        let open = self.fs.open_file(table, fd)?;
        Ok(self.fs.stat(open.file))
    }

    /// ftruncate(2).
    pub(crate) fn ftruncate_call(&mut self, pid: Pid, fd: i32, length: i64) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        let table = self.files_of(pid)?;
        let (file, size) = self.fs.truncating(table, fd, length)?;
        self.set_file_size(file, size);
        Ok(())
    }

    /// mmap(2) with Linux's flags and its checks in Linux's order
    /// (`ksys_mmap_pgoff`, `do_mmap`); returns the address.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn mmap_call(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        fd: i32,
        offset: u64,
    ) -> Result<u64, Errno> {
        self.counters.syscalls += 1;
        let page = self.page_bytes();
        // x86-64's sys_mmap: the offset must be page aligned.
        if offset & (page - 1) != 0 {
            return Err(Errno::Einval);
        }
        let file = if flags & MAP_ANONYMOUS == 0 {
            let table = self.files_of(pid)?;
            let open = self.fs.open_file(table, fd)?;
            // vmlab has no hugetlbfs: no file can back huge pages.
            if flags & MAP_HUGETLB != 0 {
                return Err(Errno::Einval);
            }
            Some(open)
        } else {
            self.files_of(pid)?;
            None
        };
        if len == 0 {
            return Err(Errno::Einval);
        }
        // MAP_FIXED_NOREPLACE places like MAP_FIXED, then refuses overlap.
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let len = len.checked_next_multiple_of(page).ok_or(Errno::Enomem)?;
        // A file's offsets end at the largest off_t (Linux's
        // file_mmap_ok with MAX_LFS_FILESIZE).
        if file.is_some()
            && offset
                .checked_add(len)
                .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(Errno::Eoverflow);
        }
        let start = {
            let regions = &self.procs[&pid].regions;
            let hint = (addr != 0).then_some(addr);
            regions
                .find_free(len, if fixed { Some(addr) } else { hint }, fixed)
                .map_err(placement_errno)?
        };
        if flags & MAP_FIXED_NOREPLACE != 0
            && self.procs[&pid]
                .regions
                .overlapping(start, start + len)
                .next()
                .is_some()
        {
            return Err(Errno::Eexist);
        }
        let kind = flags & MAP_TYPE;
        let shared = match kind {
            MAP_SHARED => true,
            // Only files take the validating form.
            MAP_SHARED_VALIDATE if file.is_some() => true,
            MAP_PRIVATE => false,
            _ => return Err(Errno::Einval),
        };
        if kind == MAP_SHARED_VALIDATE && flags & !LEGACY_MAP_MASK != 0 {
            return Err(Errno::Eopnotsupp);
        }
        let prot = Prot::from_bits_truncate(prot);
        if let Some(open) = file {
            if shared && prot.contains(Prot::WRITE) && !open.writable() {
                return Err(Errno::Eacces);
            }
            if !open.readable() {
                return Err(Errno::Eacces);
            }
            // Terminal (vmlab-libc): a terminal has no pages to map.
            if self.fs.is_terminal(open.file) {
                return Err(Errno::Enodev);
            }
            if fixed {
                self.unmap_range(pid, start, len)?;
            }
            // A shared mapping of a file not open for writing may never
            // become writable (Linux clears VM_MAYWRITE).
            let max_prot = if shared && !open.writable() {
                Prot::READ | Prot::EXEC
            } else {
                Prot::all()
            };
            let kind = RegionKind::File {
                file: open.file,
                offset,
                shared,
            };
            let region = Region::new(start, start + len, prot, kind).with_max_prot(max_prot);
            let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
            p.regions.insert(region).map_err(|_| Errno::Enomem)?;
            self.collect_files();
            // Populating stops at the end of the file (past it is SIGBUS).
            let in_file = self
                .fs
                .size(open.file)
                .saturating_sub(offset)
                .next_multiple_of(page);
            if flags & MAP_POPULATE != 0 {
                self.populate(pid, start, len.min(in_file), prot, shared);
            }
            return Ok(start);
        }
        if flags & MAP_HUGETLB != 0 {
            let start = self.mmap_huge(pid, addr, len, prot, shared, fixed)?;
            if flags & MAP_POPULATE != 0 {
                self.populate(pid, start, len, prot, shared);
            }
            return Ok(start);
        }
        let start = self.mmap_anonymous(pid, start, len, prot, shared, true)?;
        if flags & MAP_POPULATE != 0 {
            self.populate(pid, start, len, prot, shared);
        }
        Ok(start)
    }

    /// MAP_POPULATE's faults over `[start, start + len)`.
    fn populate(&mut self, pid: Pid, start: u64, len: u64, prot: Prot, shared: bool) {
        let page = self.page_bytes();
        if !prot.is_empty() {
            // Linux faults private writable pages in for writing, the
            // rest for reading; a failure to populate is not an error.
            let access = if prot.contains(Prot::WRITE) && !shared {
                AccessKind::Write
            } else {
                AccessKind::Read
            };
            let mut at = start;
            while at < start + len && self.access(pid, at, access).is_ok() {
                at += page;
            }
        }
    }

    /// munmap(2).
    pub(crate) fn munmap_call(&mut self, pid: Pid, addr: u64, len: u64) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        let top = task_size(self.arch());
        if addr > top || len > top - addr {
            return Err(Errno::Einval);
        }
        self.munmap(pid, addr, len)?;
        // The last mapping of an unlinked, closed file held it.
        self.collect_files();
        Ok(())
    }

    /// mprotect(2), with Linux's checks in Linux's order: an unknown
    /// protection bit is EINVAL (PROT_SEM is known and has no effect);
    /// PROT_GROWSDOWN extends the change down to the start of a grows-down
    /// stack (EINVAL for any other region, as PROT_GROWSUP is for regions
    /// that do not grow up).
    pub(crate) fn mprotect_call(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        prot: u32,
    ) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.files_of(pid)?;
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !grows;
        if grows == PROT_GROWSDOWN | PROT_GROWSUP || addr & (self.page_bytes() - 1) != 0 {
            return Err(Errno::Einval);
        }
        if len == 0 {
            return Ok(());
        }
        let end = addr
            .checked_add(len.next_multiple_of(self.page_bytes()))
            .filter(|&end| end > addr)
            .ok_or(Errno::Enomem)?;
        let prot = Prot::from_bits(prot & !PROT_SEM).ok_or(Errno::Einval)?;
        let first = self.procs[&pid]
            .regions
            .overlapping(addr, end)
            .next()
            .copied();
        let first = first.ok_or(Errno::Enomem)?;
        let (start, end) = match grows {
            PROT_GROWSDOWN => {
                if first.kind != (RegionKind::Stack { grows_down: true }) {
                    return Err(Errno::Einval);
                }
                (first.start, end)
            }
            PROT_GROWSUP => {
                if first.start > addr {
                    return Err(Errno::Enomem);
                }
                if first.kind != (RegionKind::Stack { grows_down: false }) {
                    return Err(Errno::Einval);
                }
                (addr, first.end)
            }
            _ => (addr, end),
        };
        self.mprotect(pid, start, end - start, prot)
    }

    /// The regions' pieces in `[addr, addr + len)` (page aligned, rounded
    /// up), and whether the range had a hole: msync's and madvise's walk.
    fn walk_range(&self, pid: Pid, addr: u64, len: u64) -> Result<(Vec<(u64, u64)>, bool), Errno> {
        let end = addr
            .checked_add(len.next_multiple_of(self.page_bytes()))
            .ok_or(Errno::Enomem)?;
        let regions = &self.procs[&pid].regions;
        let mut pieces = Vec::new();
        let mut at = addr;
        let mut hole = false;
        for r in regions.overlapping(addr, end) {
            hole |= r.start > at;
            let start = r.start.max(addr);
            pieces.push((start, r.end.min(end)));
            at = r.end;
        }
        hole |= at < end;
        Ok((pieces, hole))
    }

    /// msync(2): with MS_SYNC, writes back the dirty cached pages of the
    /// shared file mappings in the range (MS_ASYNC has nothing to start:
    /// the cache tracks dirty pages anyway, as Linux's does). ENOMEM for a
    /// range with unmapped parts, after syncing what is mapped.
    pub(crate) fn msync_call(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        flags: u32,
    ) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.files_of(pid)?;
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
            || addr & (self.page_bytes() - 1) != 0
            || flags & MS_ASYNC != 0 && flags & MS_SYNC != 0
        {
            return Err(Errno::Einval);
        }
        if len == 0 {
            return Ok(());
        }
        let (pieces, hole) = self.walk_range(pid, addr, len)?;
        if flags & MS_SYNC != 0 {
            for (start, end) in pieces {
                let region = self.procs[&pid].regions.find(start).copied();
                if let Some(Region {
                    kind:
                        RegionKind::File {
                            file, shared: true, ..
                        },
                    ..
                }) = region
                {
                    let shift = self.page_shift();
                    let first = region.and_then(|r| r.object_offset(start)).unwrap_or(0);
                    let last = first + (end - start);
                    self.sync_pages(file, (first >> shift)..last.div_ceil(self.page_bytes()));
                }
            }
        }
        if hole {
            return Err(Errno::Enomem);
        }
        Ok(())
    }

    /// madvise(2): MADV_WILLNEED reads a file mapping's pages into the
    /// page cache (Linux's read-ahead of the range; a no-op for anonymous
    /// memory); MADV_DONTNEED drops the pages (private anonymous memory
    /// reads as zeros after, private file pages show the file again,
    /// shared memory keeps its contents); MADV_NORMAL, MADV_SEQUENTIAL and
    /// MADV_RANDOM record the access pattern on the regions (splitting
    /// them as Linux splits vmas), which steers read-ahead on their file
    /// faults ([`crate::KernelConfig::read_ahead_pages`]). Other advice is
    /// EINVAL. A range with unmapped parts is advised where mapped and
    /// then ENOMEM.
    pub(crate) fn madvise_call(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        advice: u32,
    ) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.files_of(pid)?;
        let known = matches!(
            advice,
            MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_DONTNEED
        );
        if !known || addr & (self.page_bytes() - 1) != 0 {
            return Err(Errno::Einval);
        }
        if len == 0 {
            return Ok(());
        }
        if addr
            .checked_add(len.next_multiple_of(self.page_bytes()))
            .is_none()
        {
            return Err(Errno::Einval);
        }
        let (pieces, hole) = self.walk_range(pid, addr, len)?;
        for (start, end) in pieces {
            match advice {
                MADV_DONTNEED => self.release_pages(pid, start, end),
                MADV_WILLNEED => self.read_ahead(pid, start, end),
                _ => {
                    let pattern = match advice {
                        MADV_SEQUENTIAL => ReadAdvice::Sequential,
                        MADV_RANDOM => ReadAdvice::Random,
                        _ => ReadAdvice::Normal,
                    };
                    if let Some(p) = self.procs.get_mut(&pid) {
                        // The piece lies within one region (walk_range).
                        let _ = p.regions.advise(start, end, pattern);
                    }
                }
            }
        }
        if hole {
            return Err(Errno::Enomem);
        }
        Ok(())
    }

    /// brk(2) as the system call (not glibc's wrapper): returns the new
    /// break, or the old one when the request is refused or below the
    /// heap's start (so `sys_brk(pid, 0)` asks for the current break).
    pub(crate) fn brk_call(&mut self, pid: Pid, addr: u64) -> Result<u64, Errno> {
        self.counters.syscalls += 1;
        self.brk(pid, addr)
    }

    /// fork(2): returns the child's pid.
    pub(crate) fn fork_call(&mut self, pid: Pid) -> Result<Pid, Errno> {
        self.counters.syscalls += 1;
        self.fork(pid)
    }

    /// execve(2): a fresh address space; open descriptors stay open.
    pub(crate) fn execve_call(&mut self, pid: Pid) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.execve(pid)?;
        self.collect_files();
        Ok(())
    }

    /// exit(2).
    pub(crate) fn exit_call(&mut self, pid: Pid, status: i32) -> Result<(), Errno> {
        self.counters.syscalls += 1;
        self.exit(pid, status & 0xff)
    }

    /// wait4(2) for `child` (any child for `None`), without blocking: the
    /// ended child and how it ended, `None` while none has ended.
    pub(crate) fn wait_call(
        &mut self,
        pid: Pid,
        child: Option<Pid>,
    ) -> Result<Option<(Pid, ExitStatus)>, Errno> {
        self.counters.syscalls += 1;
        self.wait(pid, child)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Kernel, KernelConfig};
    use vmlab_hw::arch::presets;

    /// Linux's `MAX_RW_COUNT` is `INT_MAX & PAGE_MASK`: 0x7fff_f000 with
    /// 4 KiB pages (include/linux/fs.h).
    #[test]
    fn transfers_are_capped_at_linuxs_max_rw_count() {
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        let k = Kernel::new(KernelConfig::new(arch, 64)).unwrap();
        assert_eq!(k.max_rw_count(u64::MAX), 0x7fff_f000);
        assert_eq!(k.max_rw_count(0x7fff_f001), 0x7fff_f000);
        assert_eq!(k.max_rw_count(5), 5);
    }

    /// Files had no capacity beside the 4 GiB of each: a script writing
    /// file after file held them all in host memory until the host
    /// aborted. The file system is full at `CAPACITY_BYTES` of file sizes:
    /// a write takes what fits, then fails with ENOSPC; an ftruncate past
    /// it fails with EFBIG; a file shrunk gives its room back.
    #[test]
    fn a_full_file_system_gives_short_writes_then_enospc() {
        use crate::abi::{O_CREAT, O_RDWR};
        use crate::fs::CAPACITY_BYTES;
        use crate::kernel::Errno;
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        let mut k = Kernel::new(KernelConfig::new(arch, 64)).unwrap();
        let pid = k.spawn(0).unwrap();
        let buf = k.sys_mmap(pid, 0, 4096, 3, 0x22, -1, 0).unwrap();
        let big = k.sys_open(pid, "big", O_RDWR | O_CREAT, 0o644).unwrap();
        let small = k.sys_open(pid, "small", O_RDWR | O_CREAT, 0o644).unwrap();
        // All but 100 bytes taken by one file's size (no data written, so
        // no host memory held).
        let most = i64::try_from(CAPACITY_BYTES - 100).unwrap();
        k.sys_ftruncate(pid, big, most).unwrap();
        assert_eq!(k.sys_write(pid, small, buf, 4096), Ok(100));
        assert_eq!(k.sys_write(pid, small, buf, 4096), Err(Errno::Enospc));
        assert_eq!(k.sys_ftruncate(pid, small, 200), Err(Errno::Efbig));
        // Rewriting within the size needs no room.
        k.sys_lseek(pid, small, 0, crate::abi::SEEK_SET).unwrap();
        assert_eq!(k.sys_write(pid, small, buf, 100), Ok(100));
        k.sys_ftruncate(pid, big, most - 4096).unwrap();
        assert_eq!(k.sys_write(pid, small, buf, 4096), Ok(4096));
        // An unlinked file's room comes back once it is closed.
        k.sys_unlink(pid, "big").unwrap();
        assert_eq!(k.sys_write(pid, small, buf, 4096), Err(Errno::Enospc));
        k.sys_close(pid, big).unwrap();
        assert_eq!(k.sys_write(pid, small, buf, 4096), Ok(4096));
    }
}
