//! The in-memory file system: files with real contents ([`Inode`]), one
//! flat namespace of names, open file descriptions ([`OpenFile`]: an
//! offset and the open flags, shared by every descriptor that refers to
//! it) and the per-process descriptor table ([`FdTable`]).
//!
//! Linux's rules are the reference (open(2), read(2), write(2), lseek(2),
//! ftruncate(2), close(2), unlink(2)):
//! - fork copies the descriptor table, and the copies share the open file
//!   description and so its offset; exit closes every descriptor;
//! - unlink removes the name at once, while the file lives on until its
//!   last descriptor is closed;
//! - a read past the end returns 0 bytes, a write past the end leaves a
//!   hole that reads as zeros, `O_APPEND` writes at the end whatever the
//!   offset.
//!
//! A file's contents are its disk bytes. Without a page cache every read
//! and write goes to the disk: each request is costed by the block device's
//! latency model, one request per call covering the blocks it touches
//! (a file's blocks lie contiguously from a base of its own).
//!
//! Left out: directories (the namespace is flat; a name is any string of
//! up to 255 bytes), permissions (every process may do everything, as root
//! may; the creation mode is not kept), and `O_CLOEXEC`.

use crate::abi::{O_ACCMODE, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use crate::blockdev::{BlockCounters, BlockDevice};
use crate::kernel::Errno;
use std::collections::BTreeMap;

/// A file's identity (its inode number); 0 is the trace backing store.
pub type FileId = u64;

/// The largest file vmlab keeps, in bytes (its contents are a host
/// allocation).
pub const MAX_FILE_BYTES: u64 = 1 << 32;

/// The longest name, in bytes (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Blocks between the first blocks of consecutive files on the disk: each
/// file's blocks are contiguous, from `id × FILE_BLOCK_SPAN`.
const FILE_BLOCK_SPAN: u64 = 1 << 20;

/// One file.
#[derive(Clone, Debug, Default)]
pub struct Inode {
    /// Its contents; the length is the file size.
    pub contents: Vec<u8>,
    /// Names referring to it (0 or 1 in a flat namespace without links).
    links: u32,
    /// Open file descriptions referring to it.
    opens: u32,
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
        }
    }

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
        if contents.len() as u64 > MAX_FILE_BYTES {
            return Err(Errno::Efbig);
        }
        let file = match self.lookup(name) {
            Some(file) => file,
            None => self.create(name),
        };
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.contents = contents;
        }
        Ok(file)
    }

    /// The contents of the file `name` (exporting it to the host).
    pub fn export(&self, name: &str) -> Option<&[u8]> {
        let file = self.lookup(name)?;
        self.inodes.get(&file).map(|i| i.contents.as_slice())
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
            Some(file) => {
                // Linux truncates whatever the access mode (the caller may
                // write the file; vmlab's caller always may).
                if flags & O_TRUNC != 0 {
                    if let Some(inode) = self.inodes.get_mut(&file) {
                        inode.contents.clear();
                    }
                }
                file
            }
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
        self.drop_if_unused(file);
    }

    fn drop_if_unused(&mut self, file: FileId) {
        if self
            .inodes
            .get(&file)
            .is_some_and(|i| i.links == 0 && i.opens == 0)
        {
            self.inodes.remove(&file);
        }
    }

    /// Removes the name `name`; the file goes once no description holds it.
    pub fn unlink(&mut self, name: &str) -> Result<(), Errno> {
        check_name(name)?;
        let file = self.names.remove(name).ok_or(Errno::Enoent)?;
        if let Some(inode) = self.inodes.get_mut(&file) {
            inode.links -= 1;
        }
        self.drop_if_unused(file);
        Ok(())
    }

    /// Reads up to `count` bytes at the offset of `fd`'s description and
    /// advances it (read(2) without the copy to user memory).
    pub fn read(&mut self, table: &FdTable, fd: i32, count: usize) -> Result<Vec<u8>, Errno> {
        let id = table.get(fd).ok_or(Errno::Ebadf)?;
        let d = *self.descriptions.get(&id).ok_or(Errno::Ebadf)?;
        if !d.readable() {
            return Err(Errno::Ebadf);
        }
        let contents = self
            .inodes
            .get(&d.file)
            .map_or(&[][..], |i| &i.contents[..]);
        let start = usize::try_from(d.offset)
            .unwrap_or(usize::MAX)
            .min(contents.len());
        let end = start + count.min(contents.len() - start);
        let data = contents[start..end].to_vec();
        self.charge(d.file, d.offset, data.len() as u64, false);
        if let Some(d) = self.descriptions.get_mut(&id) {
            d.offset += data.len() as u64;
        }
        Ok(data)
    }

    /// Checks that `fd` may be written (write(2)'s checks before it reads
    /// the user buffer).
    pub fn check_writable(&self, table: &FdTable, fd: i32) -> Result<(), Errno> {
        if self.open_file(table, fd)?.writable() {
            Ok(())
        } else {
            Err(Errno::Ebadf)
        }
    }

    /// Writes `data` at the offset of `fd`'s description (at the end with
    /// `O_APPEND`) and advances it; returns the bytes written.
    pub fn write(&mut self, table: &FdTable, fd: i32, data: &[u8]) -> Result<usize, Errno> {
        self.check_writable(table, fd)?;
        let id = table.get(fd).ok_or(Errno::Ebadf)?;
        let d = *self.descriptions.get(&id).ok_or(Errno::Ebadf)?;
        let inode = self.inodes.get_mut(&d.file).ok_or(Errno::Ebadf)?;
        let at = if d.flags & O_APPEND != 0 {
            inode.contents.len() as u64
        } else {
            d.offset
        };
        let end = at
            .checked_add(data.len() as u64)
            .filter(|&end| end <= MAX_FILE_BYTES)
            .ok_or(Errno::Efbig)?;
        // In range: both are at most MAX_FILE_BYTES.
        let (at_index, end_index) = (at as usize, end as usize);
        if inode.contents.len() < end_index {
            inode.contents.resize(end_index, 0);
        }
        inode.contents[at_index..end_index].copy_from_slice(data);
        self.charge(d.file, at, data.len() as u64, true);
        if let Some(d) = self.descriptions.get_mut(&id) {
            d.offset = end;
        }
        Ok(data.len())
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
        let size = self
            .inodes
            .get(&d.file)
            .map_or(0, |i| i.contents.len() as u64);
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

    /// Sets the size of `fd`'s file (ftruncate(2)): growing adds zeros.
    pub fn ftruncate(&mut self, table: &FdTable, fd: i32, length: i64) -> Result<(), Errno> {
        // Linux checks the length before it looks the descriptor up.
        let length = u64::try_from(length).map_err(|_| Errno::Einval)?;
        let d = self.open_file(table, fd)?;
        if !d.writable() {
            return Err(Errno::Einval);
        }
        if length > MAX_FILE_BYTES {
            return Err(Errno::Efbig);
        }
        if let Some(inode) = self.inodes.get_mut(&d.file) {
            inode.contents.resize(length as usize, 0);
        }
        Ok(())
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
    fn unlinked_file_lives_until_closed() {
        let mut fs = fs();
        let mut t = FdTable::default();
        let fd = fs.open(&mut t, "f", O_CREAT | O_RDWR).unwrap();
        fs.write(&t, fd, b"kept").unwrap();
        let file = fs.lookup("f").unwrap();
        fs.unlink("f").unwrap();
        assert_eq!(fs.lookup("f"), None);
        assert_eq!(fs.unlink("f"), Err(Errno::Enoent));
        fs.lseek(&t, fd, 0, crate::abi::SEEK_SET).unwrap();
        assert_eq!(fs.read(&t, fd, 10).unwrap(), b"kept");
        fs.close(&mut t, fd).unwrap();
        assert!(fs.inode(file).is_none());
    }

    #[test]
    fn shared_description_shares_the_offset() {
        let mut fs = fs();
        let mut parent = FdTable::default();
        let fd = fs.open(&mut parent, "f", O_CREAT | O_RDWR).unwrap();
        let child = parent.clone();
        fs.share(&child);
        fs.write(&parent, fd, b"ab").unwrap();
        fs.write(&child, fd, b"cd").unwrap();
        fs.close_all(child);
        assert_eq!(fs.export("f"), Some(&b"abcd"[..]));
        assert_eq!(fs.open_file(&parent, fd).unwrap().offset, 4);
    }

    #[test]
    fn write_past_end_leaves_a_zero_hole_and_append_ignores_the_offset() {
        let mut fs = fs();
        let mut t = FdTable::default();
        let fd = fs.open(&mut t, "f", O_CREAT | O_WRONLY).unwrap();
        fs.lseek(&t, fd, 3, crate::abi::SEEK_SET).unwrap();
        fs.write(&t, fd, b"x").unwrap();
        assert_eq!(fs.export("f"), Some(&b"\0\0\0x"[..]));
        let ap = fs.open(&mut t, "f", O_WRONLY | O_APPEND).unwrap();
        fs.write(&t, ap, b"yz").unwrap();
        assert_eq!(fs.export("f"), Some(&b"\0\0\0xyz"[..]));
        assert_eq!(fs.read(&t, fd, 1), Err(Errno::Ebadf));
    }

    #[test]
    fn each_read_and_write_is_one_disk_request_over_its_blocks() {
        let mut fs = fs();
        let mut t = FdTable::default();
        let fd = fs.open(&mut t, "f", O_CREAT | O_RDWR).unwrap();
        // 10 bytes straddling the first block boundary: 2 blocks.
        fs.lseek(&t, fd, 4090, crate::abi::SEEK_SET).unwrap();
        fs.write(&t, fd, &[1; 10]).unwrap();
        fs.lseek(&t, fd, 0, crate::abi::SEEK_SET).unwrap();
        fs.read(&t, fd, 100).unwrap();
        // A read at the end moves nothing and costs nothing.
        fs.lseek(&t, fd, 0, crate::abi::SEEK_END).unwrap();
        assert!(fs.read(&t, fd, 100).unwrap().is_empty());
        let c = fs.disk_counters();
        assert_eq!((c.writes, c.blocks_written), (1, 2));
        assert_eq!((c.reads, c.blocks_read), (1, 1));
        // SSD: 20 µs + 2 blocks at 2 GB/s (4096 ns); 80 µs + 2048 ns.
        assert_eq!(c.busy_ns, 20_000 + 4_096 + 80_000 + 2_048);
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
