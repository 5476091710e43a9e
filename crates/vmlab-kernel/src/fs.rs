//! The in-memory file system: files with real contents ([`Inode`]), one
//! flat namespace of names, open file descriptions ([`OpenFile`]: an
//! offset and the open flags, shared by every descriptor that refers to
//! it) and the per-process descriptor table ([`FdTable`]).
//!
//! Linux's rules are the reference (open(2), lseek(2), ftruncate(2),
//! close(2), unlink(2)):
//! - fork copies the descriptor table, and the copies share the open file
//!   description and so its offset; exit closes every descriptor;
//! - unlink removes the name at once, while the file lives on until its
//!   last descriptor is closed and its last mapping is gone (the kernel
//!   asks [`FileSystem::orphans`] and [`FileSystem::remove`]s them);
//! - `O_APPEND` writes at the end whatever the offset.
//!
//! A file has a size and its disk bytes; data moves between the disk and
//! memory a page at a time ([`FileSystem::read_page`],
//! [`FileSystem::write_page`]), each page one request to the block device
//! whose latency model costs it (a file's blocks lie contiguously from a
//! base of its own). The page cache ([`crate::pagecache`]) decides when;
//! read(2) and write(2) never touch the disk bytes directly.
//!
//! Left out: directories (the namespace is flat; a name is any string of
//! up to 255 bytes), permissions (every process may do everything, as root
//! may; the creation mode is not kept), and `O_CLOEXEC`.

use crate::abi::{O_ACCMODE, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY};
use crate::blockdev::{BlockCounters, BlockDevice};
use crate::kernel::Errno;
use std::collections::BTreeMap;

/// What fstat(2) tells of an open file: the fields the C library reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// `S_ISCHR(st_mode)`: a character device (the terminal), not a
    /// regular file.
    pub char_device: bool,
    /// `major(st_rdev)`: the device number's major half (0 for a file).
    pub rdev_major: u32,
    /// `st_size` (0 for the terminal, as Linux reports for a tty).
    pub size: u64,
    /// `st_blksize`: the preferred I/O size, the buffer stdio allocates.
    pub blksize: u32,
}

/// The terminal's device number's major half: `/dev/tty` is (5, 0) on
/// Linux (devices.txt), not a pseudo-terminal (136-143).
pub const TERMINAL_MAJOR: u32 = 5;

/// `st_blksize` of a regular file: the page size, as ext4 and tmpfs
/// report.
pub const FILE_BLKSIZE: u32 = 4096;

/// `st_blksize` of the terminal: what Linux's tty devices report.
pub const TERMINAL_BLKSIZE: u32 = 1024;

/// A file's identity (its inode number); 0 is the trace backing store.
pub type FileId = u64;

/// The largest file vmlab keeps, in bytes (its contents are a host
/// allocation).
pub const MAX_FILE_BYTES: u64 = 1 << 32;

/// The file system's capacity, in bytes of file size. Files are kept
/// whole, not sparse (a file's disk bytes are one host allocation up to
/// its size), so their sizes together are what the disk holds: a write
/// past it is short or fails with ENOSPC, as on a full disk, and an
/// ftruncate past it fails with EFBIG (where Linux would make a sparse
/// file).
pub const CAPACITY_BYTES: u64 = 1 << 32;

/// The most of the terminal's transcript kept, in bytes: what was written
/// past it is counted ([`FileSystem::terminal_bytes_dropped`]), not kept,
/// as a terminal's scrollback ends somewhere.
pub const TERMINAL_KEPT_BYTES: usize = 1 << 20;

/// The longest name, in bytes (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Blocks between the first blocks of consecutive files on the disk: each
/// file's blocks are contiguous, from `id × FILE_BLOCK_SPAN`.
const FILE_BLOCK_SPAN: u64 = 1 << 20;

/// One file.
#[derive(Clone, Debug, Default)]
pub struct Inode {
    /// Its bytes on the disk: what write-back has written (pages never
    /// written back are missing or stale; the page cache has them).
    contents: Vec<u8>,
    /// Its size in bytes.
    size: u64,
    /// Names referring to it (0 or 1 in a flat namespace without links).
    links: u32,
    /// Open file descriptions referring to it.
    opens: u32,
    /// A terminal ([`crate::tty`]): `contents` is the transcript of what
    /// was written to it, nothing is cached or written to the disk.
    terminal: bool,
}

/// An open file description: what open(2) creates and fork and dup share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFile {
    /// The file.
    pub file: FileId,
    /// The offset the next read or write starts at.
    pub offset: u64,
    /// The open flags (access mode and `O_APPEND`).
    pub flags: u32,
    /// Descriptors referring to it, over all processes.
    refs: u32,
}

impl OpenFile {
    /// Whether it was opened for reading.
    pub fn readable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    /// Whether it was opened for writing.
    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR)
    }
}

/// Identifies an open file description.
pub type DescriptionId = u64;

/// A process's descriptors: descriptor number → open file description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdTable {
    fds: BTreeMap<i32, DescriptionId>,
}

impl FdTable {
    /// The description `fd` refers to.
    pub fn get(&self, fd: i32) -> Option<DescriptionId> {
        self.fds.get(&fd).copied()
    }

    /// The lowest free descriptor number, as open(2) picks it.
    fn lowest_free(&self) -> i32 {
        let mut fd = 0;
        for &used in self.fds.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        fd
    }

    /// How many descriptors are open.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

/// Every file, name and open file description, and the disk they are on.
#[derive(Debug)]
pub struct FileSystem {
    inodes: BTreeMap<FileId, Inode>,
    names: BTreeMap<String, FileId>,
    descriptions: BTreeMap<DescriptionId, OpenFile>,
    next_file: FileId,
    next_description: DescriptionId,
    disk: BlockDevice,
    /// The sizes of the regular files together (at most
    /// [`CAPACITY_BYTES`]).
    used: u64,
    /// Bytes written to the terminal past [`TERMINAL_KEPT_BYTES`].
    terminal_dropped: u64,
}

impl FileSystem {
    /// An empty file system on `disk`.
    pub fn new(disk: BlockDevice) -> FileSystem {
        FileSystem {
            inodes: BTreeMap::new(),
            names: BTreeMap::new(),
            descriptions: BTreeMap::new(),
            // 0 is the trace backing store.
            next_file: 1,
            next_description: 0,
            disk,
            used: 0,
            terminal_dropped: 0,
        }
    }

    // --- Terminals (for vmlab-libc's stdio; see crate::tty) ---

    /// Creates the terminal `name` (or finds it): a character device whose
    /// writes append to a transcript instead of reaching a disk.
    pub fn make_terminal(&mut self, name: &str) -> Result<FileId, Errno> {
        check_name(name)?;
        let file = match self.lookup(name) {
            Some(file) => file,
            None => self.create(name),
        };
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.terminal = true;
        }
        Ok(file)
    }

    /// Whether `file` is a terminal.
    pub fn is_terminal(&self, file: FileId) -> bool {
        self.inodes.get(&file).is_some_and(|i| i.terminal)
    }

    /// Appends `bytes` to the transcript of the terminal `file`, up to
    /// [`TERMINAL_KEPT_BYTES`]; the rest is counted.
    pub fn append_terminal(&mut self, file: FileId, bytes: &[u8]) {
        if let Some(inode) = self.inodes.get_mut(&file).filter(|i| i.terminal) {
            let kept = bytes.len().min(TERMINAL_KEPT_BYTES - inode.contents.len());
            inode.contents.extend_from_slice(&bytes[..kept]);
            inode.size = inode.contents.len() as u64;
            self.terminal_dropped += (bytes.len() - kept) as u64;
        }
    }

    /// Bytes written to the terminal that its transcript did not keep.
    pub fn terminal_bytes_dropped(&self) -> u64 {
        self.terminal_dropped
    }

    // --- end of terminals ---

    /// The disk's counters (requests, blocks, busy time).
    pub fn disk_counters(&self) -> BlockCounters {
        self.disk.counters()
    }

    /// The file called `name`.
    pub fn lookup(&self, name: &str) -> Option<FileId> {
        self.names.get(name).copied()
    }

    /// The file `file`, while it has a name or an open description.
    pub fn inode(&self, file: FileId) -> Option<&Inode> {
        self.inodes.get(&file)
    }

    /// The open file description `id`.
    pub fn description(&self, id: DescriptionId) -> Option<&OpenFile> {
        self.descriptions.get(&id)
    }

    /// Creates or replaces the file `name` with `contents` (importing a
    /// file from the host); no disk time is charged, as for a file that
    /// was on the disk before the run.
    pub fn import(&mut self, name: &str, contents: Vec<u8>) -> Result<FileId, Errno> {
        check_name(name)?;
        let size = contents.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(Errno::Efbig);
        }
        let file = match self.lookup(name) {
            Some(file) => file,
            None => self.create(name),
        };
        if size > self.room(file) {
            return Err(Errno::Enospc);
        }
        self.set_size(file, size);
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.contents = contents;
        }
        Ok(file)
    }

    /// The disk bytes of the file `name`, up to its size (exporting it to
    /// the host; the kernel writes dirty cached pages back first).
    pub fn export(&self, name: &str) -> Option<Vec<u8>> {
        let file = self.lookup(name)?;
        let inode = self.inodes.get(&file)?;
        let mut bytes = inode.contents.clone();
        // In range: sizes are at most MAX_FILE_BYTES.
        bytes.resize(inode.size as usize, 0);
        Some(bytes)
    }

    /// fstat(2)'s answer for `file`.
    pub fn stat(&self, file: FileId) -> FileStat {
        if self.is_terminal(file) {
            FileStat {
                char_device: true,
                rdev_major: TERMINAL_MAJOR,
                size: 0,
                blksize: TERMINAL_BLKSIZE,
            }
        } else {
            FileStat {
                char_device: false,
                rdev_major: 0,
                size: self.size(file),
                blksize: FILE_BLKSIZE,
            }
        }
    }

    /// The size of `file` (0 for a file that is gone).
    pub fn size(&self, file: FileId) -> u64 {
        self.inodes.get(&file).map_or(0, |i| i.size)
    }

    /// The largest size `file` may grow to while the file system has room
    /// ([`CAPACITY_BYTES`]).
    pub fn room(&self, file: FileId) -> u64 {
        self.size(file) + CAPACITY_BYTES.saturating_sub(self.used)
    }

    /// Sets the size of `file`, at most [`FileSystem::room`] (the caller
    /// checks); shrinking drops the disk bytes past it.
    pub fn set_size(&mut self, file: FileId, size: u64) {
        if let Some(inode) = self.inodes.get_mut(&file).filter(|i| !i.terminal) {
            self.used = self.used - inode.size + size;
            inode.size = size;
            let keep = (size as usize).min(inode.contents.len());
            inode.contents.truncate(keep);
        }
    }

    /// Reads page `index` of `file` from the disk into `page` (whose
    /// length is the page size): the bytes below the file size, zeros past
    /// it. One read request.
    pub fn read_page(&mut self, file: FileId, index: u64, page: &mut [u8]) {
        page.fill(0);
        let Some(inode) = self.inodes.get(&file) else {
            return;
        };
        let start = index * page.len() as u64;
        let end = (start + page.len() as u64)
            .min(inode.size)
            .min(inode.contents.len() as u64);
        if end > start {
            let n = (end - start) as usize;
            page[..n].copy_from_slice(&inode.contents[start as usize..end as usize]);
        }
        self.charge(file, start, page.len() as u64, false);
    }

    /// Writes page `index` of `file` from `page` to the disk, the bytes
    /// below the file size only (the rest of a last page never reaches
    /// the file). One write request.
    pub fn write_page(&mut self, file: FileId, index: u64, page: &[u8]) {
        let Some(inode) = self.inodes.get_mut(&file) else {
            return;
        };
        let start = index * page.len() as u64;
        let end = (start + page.len() as u64).min(inode.size);
        if end <= start {
            return;
        }
        let (start_index, end_index) = (start as usize, end as usize);
        if inode.contents.len() < end_index {
            inode.contents.resize(end_index, 0);
        }
        inode.contents[start_index..end_index].copy_from_slice(&page[..end_index - start_index]);
        self.charge(file, start, page.len() as u64, true);
    }

    fn create(&mut self, name: &str) -> FileId {
        let file = self.next_file;
        self.next_file += 1;
        self.inodes.insert(
            file,
            Inode {
                links: 1,
                ..Inode::default()
            },
        );
        self.names.insert(name.to_owned(), file);
        file
    }

    /// Opens `name` with open(2)'s `flags` into `table`; returns the new
    /// descriptor (the lowest free one).
    pub fn open(&mut self, table: &mut FdTable, name: &str, flags: u32) -> Result<i32, Errno> {
        check_name(name)?;
        let file = match self.lookup(name) {
            Some(_) if flags & O_CREAT != 0 && flags & O_EXCL != 0 => return Err(Errno::Eexist),
            // O_TRUNC is the kernel's to apply: cached pages go too.
            Some(file) => file,
            None if flags & O_CREAT != 0 => self.create(name),
            None => return Err(Errno::Enoent),
        };
        let id = self.next_description;
        self.next_description += 1;
        self.descriptions.insert(
            id,
            OpenFile {
                file,
                offset: 0,
                flags: flags & (O_ACCMODE | O_APPEND),
                refs: 1,
            },
        );
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.opens += 1;
        }
        let fd = table.lowest_free();
        table.fds.insert(fd, id);
        Ok(fd)
    }

    /// The open file description behind `fd` in `table`.
    pub fn open_file(&self, table: &FdTable, fd: i32) -> Result<OpenFile, Errno> {
        table
            .get(fd)
            .and_then(|id| self.descriptions.get(&id))
            .copied()
            .ok_or(Errno::Ebadf)
    }

    /// Closes `fd` in `table`: the description goes with its last
    /// descriptor, the file with its last description once unnamed.
    pub fn close(&mut self, table: &mut FdTable, fd: i32) -> Result<(), Errno> {
        let id = table.fds.remove(&fd).ok_or(Errno::Ebadf)?;
        self.release(id);
        Ok(())
    }

    /// Closes every descriptor of `table` (exit).
    pub fn close_all(&mut self, table: FdTable) {
        for id in table.fds.into_values() {
            self.release(id);
        }
    }

    /// Counts a second reference to each description of `table` (fork
    /// copied it).
    pub fn share(&mut self, table: &FdTable) {
        for id in table.fds.values() {
            if let Some(d) = self.descriptions.get_mut(id) {
                d.refs += 1;
            }
        }
    }

    fn release(&mut self, id: DescriptionId) {
        let Some(d) = self.descriptions.get_mut(&id) else {
            return;
        };
        d.refs -= 1;
        if d.refs > 0 {
            return;
        }
        let file = d.file;
        self.descriptions.remove(&id);
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.opens -= 1;
        }
    }

    /// Files with neither a name nor an open description: gone once no
    /// mapping holds them either.
    pub fn orphans(&self) -> Vec<FileId> {
        self.inodes
            .iter()
            .filter(|(_, i)| i.links == 0 && i.opens == 0)
            .map(|(&file, _)| file)
            .collect()
    }

    /// Forgets `file` and its disk bytes.
    pub fn remove(&mut self, file: FileId) {
        if let Some(inode) = self.inodes.remove(&file).filter(|i| !i.terminal) {
            self.used -= inode.size;
        }
    }

    /// Removes the name `name`; the file goes once no description holds it.
    pub fn unlink(&mut self, name: &str) -> Result<(), Errno> {
        check_name(name)?;
        let file = self.names.remove(name).ok_or(Errno::Enoent)?;
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.links -= 1;
        }
        Ok(())
    }

    /// The description behind `fd` if it may be read (read(2)'s checks).
    pub fn reading(&self, table: &FdTable, fd: i32) -> Result<(DescriptionId, OpenFile), Errno> {
        let id = table.get(fd).ok_or(Errno::Ebadf)?;
        let d = *self.descriptions.get(&id).ok_or(Errno::Ebadf)?;
        if d.readable() {
            Ok((id, d))
        } else {
            Err(Errno::Ebadf)
        }
    }

    /// The description behind `fd` if it may be written, and the offset
    /// the write goes to (the end with `O_APPEND`): write(2)'s checks.
    pub fn writing(
        &self,
        table: &FdTable,
        fd: i32,
    ) -> Result<(DescriptionId, OpenFile, u64), Errno> {
        let id = table.get(fd).ok_or(Errno::Ebadf)?;
        let d = *self.descriptions.get(&id).ok_or(Errno::Ebadf)?;
        if !d.writable() {
            return Err(Errno::Ebadf);
        }
        let at = if d.flags & O_APPEND != 0 {
            self.size(d.file)
        } else {
            d.offset
        };
        Ok((id, d, at))
    }

    /// Sets the offset of description `id`.
    pub fn set_offset(&mut self, id: DescriptionId, offset: u64) {
        if let Some(d) = self.descriptions.get_mut(&id) {
            d.offset = offset;
        }
    }

    /// Moves `fd`'s offset (lseek(2)): `whence` is SEEK_SET, SEEK_CUR or
    /// SEEK_END; the new offset may lie past the end but not below 0.
    pub fn lseek(
        &mut self,
        table: &FdTable,
        fd: i32,
        offset: i64,
        whence: u32,
    ) -> Result<u64, Errno> {
        let id = table.get(fd).ok_or(Errno::Ebadf)?;
        let d = *self.descriptions.get(&id).ok_or(Errno::Ebadf)?;
        // Terminal (vmlab-libc): a tty has no file position (Linux's
        // `no_llseek`).
        if self.is_terminal(d.file) {
            return Err(Errno::Espipe);
        }
        let size = self.size(d.file);
        let base = match whence {
            crate::abi::SEEK_SET => 0,
            crate::abi::SEEK_CUR => d.offset,
            crate::abi::SEEK_END => size,
            _ => return Err(Errno::Einval),
        };
        let new = i64::try_from(base)
            .ok()
            .and_then(|b| b.checked_add(offset))
            .ok_or(Errno::Eoverflow)?;
        let new = u64::try_from(new).map_err(|_| Errno::Einval)?;
        if let Some(d) = self.descriptions.get_mut(&id) {
            d.offset = new;
        }
        Ok(new)
    }

    /// Checks ftruncate(2)'s arguments: the file `fd` refers to and the
    /// new size (the kernel applies it, cached pages included).
    pub fn truncating(
        &self,
        table: &FdTable,
        fd: i32,
        length: i64,
    ) -> Result<(FileId, u64), Errno> {
        // Linux checks the length before it looks the descriptor up.
        let length = u64::try_from(length).map_err(|_| Errno::Einval)?;
        let d = self.open_file(table, fd)?;
        if !d.writable() {
            return Err(Errno::Einval);
        }
        if length > MAX_FILE_BYTES {
            return Err(Errno::Efbig);
        }
        // Terminal (vmlab-libc): only regular files have a length.
        if self.is_terminal(d.file) {
            return Err(Errno::Einval);
        }
        // Files are kept whole: a length past the disk's room cannot be a
        // sparse file here (see CAPACITY_BYTES).
        if length > self.room(d.file) {
            return Err(Errno::Efbig);
        }
        Ok((d.file, length))
    }

    /// Charges the disk for moving `len` bytes of `file` at `offset`: one
    /// request over the blocks the range touches.
    fn charge(&mut self, file: FileId, offset: u64, len: u64, write: bool) {
        if len == 0 {
            return;
        }
        let block = u64::from(self.disk.block_size());
        let first = offset / block;
        let count = (offset + len).div_ceil(block) - first;
        let at = file.saturating_mul(FILE_BLOCK_SPAN).saturating_add(first);
        if write {
            self.disk.write(at, count);
        } else {
            self.disk.read(at, count);
        }
    }
}

/// Errs for a name that cannot be a file's: empty (ENOENT) or longer than
/// [`NAME_MAX`] (ENAMETOOLONG).
fn check_name(name: &str) -> Result<(), Errno> {
    if name.is_empty() {
        Err(Errno::Enoent)
    } else if name.len() > NAME_MAX {
        Err(Errno::Enametoolong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockdev::BlockDeviceConfig;

    fn fs() -> FileSystem {
        FileSystem::new(BlockDevice::new(BlockDeviceConfig::ssd()).unwrap())
    }

    #[test]
    fn descriptors_are_the_lowest_free_numbers() {
        let mut fs = fs();
        let mut t = FdTable::default();
        let flags = O_CREAT | O_RDWR;
        assert_eq!(fs.open(&mut t, "a", flags), Ok(0));
        assert_eq!(fs.open(&mut t, "b", flags), Ok(1));
        assert_eq!(fs.open(&mut t, "c", flags), Ok(2));
        fs.close(&mut t, 1).unwrap();
        assert_eq!(fs.open(&mut t, "a", O_RDONLY), Ok(1));
        assert_eq!(fs.close(&mut t, 7), Err(Errno::Ebadf));
    }

    #[test]
    fn an_unlinked_file_is_an_orphan_once_closed() {
        let mut fs = fs();
        let mut t = FdTable::default();
        let fd = fs.open(&mut t, "f", O_CREAT | O_RDWR).unwrap();
        let file = fs.lookup("f").unwrap();
        fs.unlink("f").unwrap();
        assert_eq!(fs.lookup("f"), None);
        assert_eq!(fs.unlink("f"), Err(Errno::Enoent));
        assert!(fs.orphans().is_empty());
        fs.close(&mut t, fd).unwrap();
        assert_eq!(fs.orphans(), vec![file]);
        fs.remove(file);
        assert!(fs.inode(file).is_none());
    }

    #[test]
    fn fork_shares_the_description_until_the_last_close() {
        let mut fs = fs();
        let mut parent = FdTable::default();
        let fd = fs.open(&mut parent, "f", O_CREAT | O_RDWR).unwrap();
        let mut child = parent.clone();
        fs.share(&child);
        let (id, _, _) = fs.writing(&child, fd).unwrap();
        fs.set_offset(id, 4);
        assert_eq!(fs.open_file(&parent, fd).unwrap().offset, 4);
        fs.close(&mut child, fd).unwrap();
        assert_eq!(fs.open_file(&parent, fd).unwrap().offset, 4);
        fs.close_all(parent);
        assert!(fs.descriptions.is_empty());
    }

    #[test]
    fn append_writes_go_to_the_end_and_modes_are_checked() {
        let mut fs = fs();
        let mut t = FdTable::default();
        fs.import("f", b"abc".to_vec()).unwrap();
        let ap = fs.open(&mut t, "f", O_WRONLY | O_APPEND).unwrap();
        assert_eq!(fs.writing(&t, ap).unwrap().2, 3);
        assert_eq!(fs.reading(&t, ap), Err(Errno::Ebadf));
        let ro = fs.open(&mut t, "f", O_RDONLY).unwrap();
        assert_eq!(fs.writing(&t, ro).map(|w| w.2), Err(Errno::Ebadf));
        assert_eq!(fs.truncating(&t, ro, 0), Err(Errno::Einval));
        assert_eq!(fs.truncating(&t, 9, -1), Err(Errno::Einval));
        assert_eq!(fs.truncating(&t, 9, 0), Err(Errno::Ebadf));
    }

    #[test]
    fn pages_move_one_disk_request_each_and_only_below_the_size() {
        let mut fs = fs();
        let file = fs.import("f", b"hello".to_vec()).unwrap();
        let mut page = vec![7; 4096];
        fs.read_page(file, 0, &mut page);
        assert_eq!(&page[..6], b"hello\0");
        assert!(page[5..].iter().all(|&b| b == 0));
        page[..5].copy_from_slice(b"HELLO");
        page[5] = b'!';
        fs.write_page(file, 0, &page);
        // The byte past the size never reaches the file.
        assert_eq!(fs.export("f").unwrap(), b"HELLO");
        fs.set_size(file, 8);
        assert_eq!(fs.export("f").unwrap(), b"HELLO\0\0\0");
        // A page wholly past the end is not written.
        fs.write_page(file, 1, &page);
        let c = fs.disk_counters();
        assert_eq!(
            (c.reads, c.blocks_read, c.writes, c.blocks_written),
            (1, 1, 1, 1)
        );
        // SSD: 80 µs + 2048 ns to read a block, 20 µs + 2048 ns to write one.
        assert_eq!(c.busy_ns, 82_048 + 22_048);
    }

    #[test]
    fn names_are_checked() {
        let mut fs = fs();
        let mut t = FdTable::default();
        assert_eq!(fs.open(&mut t, "", O_RDONLY), Err(Errno::Enoent));
        let long = "n".repeat(NAME_MAX + 1);
        assert_eq!(fs.open(&mut t, &long, O_CREAT), Err(Errno::Enametoolong));
        assert_eq!(fs.open(&mut t, "missing", O_RDONLY), Err(Errno::Enoent));
        fs.import("x", b"1".to_vec()).unwrap();
        assert_eq!(
            fs.open(&mut t, "x", O_CREAT | O_EXCL | O_RDWR),
            Err(Errno::Eexist)
        );
    }
}
