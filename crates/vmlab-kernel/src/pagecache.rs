//! The page cache: file pages in simulated frames, one cache per file
//! (page index → frame), shared by read(2) and write(2), which copy to and
//! from user memory, and by file mappings, which map the cached frames.
//!
//! As in Linux:
//! - a page is read from the disk on its first use (a major fault when a
//!   mapping touches it) and stays cached, mapped or not, until the
//!   replacement policy evicts it: a clean page is dropped without I/O, a
//!   dirty one written back first;
//! - a page is dirty when write(2) wrote it or a shared mapping's entry
//!   says so; msync(MS_SYNC), export and eviction write it back, and only
//!   the bytes below the file size reach the disk;
//! - `MAP_SHARED` maps the cached frame itself, so its stores are what
//!   read(2), other mappings and other processes see at once;
//!   `MAP_PRIVATE` maps it read-only and copies it on the first write (the
//!   copy is anonymous memory and never reaches the file), so a private
//!   page not yet written still shows later changes to the file;
//! - an access to a page wholly past the end of the file is SIGBUS; the
//!   rest of the page holding the end reads as zeros;
//! - ftruncate shrinking the file removes the cached pages past the new
//!   end from every mapping (a later access is SIGBUS) and zeroes the tail
//!   of the new last page; growing (ftruncate or a write past the end)
//!   shows zeros between the old end and the new data.
//!
//! Where vmlab differs: with no flusher thread to write dirty pages back
//! in the background, unmapping a shared file mapping (munmap, exit, exec,
//! MAP_FIXED over it) writes its dirty pages back.
//!
//! Cached pages belong to no process, so they are in the global
//! replacement policy; under local replacement it is asked last, when no
//! process's own policy has a page to give.
//!
//! Left out: read-ahead. Private copies of pages past a shrunk end stay
//! mapped (Linux unmaps those too).

use crate::frames::{FrameUse, Pid};
use crate::fs::FileId;
use crate::kernel::{bus, kill_signal, Errno, Kernel};
use crate::policy::FrameId;
use crate::process::Signal;
use crate::region::{ReadAdvice, Region, RegionKind};
use std::collections::BTreeMap;
use vmlab_hw::intmap::IntMap;
use vmlab_hw::{AccessKind, Perms};

/// A cached page: its file and its page index in the file.
pub(crate) type CacheKey = (FileId, u64);

/// Every file's cached pages.
#[derive(Debug, Default)]
pub(crate) struct PageCache {
    pages: BTreeMap<CacheKey, FrameId>,
    key_of_frame: IntMap<CacheKey>,
}

impl PageCache {
    /// The frame caching `key`, if it is cached.
    pub(crate) fn get(&self, key: CacheKey) -> Option<FrameId> {
        self.pages.get(&key).copied()
    }

    /// The file page `frame` caches.
    pub(crate) fn key_of(&self, frame: FrameId) -> Option<CacheKey> {
        self.key_of_frame.get(&u64::from(frame)).copied()
    }

    fn insert(&mut self, key: CacheKey, frame: FrameId) {
        self.pages.insert(key, frame);
        self.key_of_frame.insert(u64::from(frame), key);
    }

    fn remove_frame(&mut self, frame: FrameId) -> Option<CacheKey> {
        let key = self.key_of_frame.remove(&u64::from(frame))?;
        self.pages.remove(&key);
        Some(key)
    }

    /// The cached pages of `file` with index in `indexes`, as (index, frame).
    fn pages_of(&self, file: FileId, indexes: std::ops::Range<u64>) -> Vec<(u64, FrameId)> {
        if indexes.is_empty() {
            return Vec::new();
        }
        self.pages
            .range((file, indexes.start)..(file, indexes.end))
            .map(|(&(_, index), &frame)| (index, frame))
            .collect()
    }

    /// How many pages are cached.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }
}

/// The key the replacement policy knows a cached page by: apart from
/// every process page's (whose keys have the pid in bits 48 up and pids
/// stay far below 2^15).
fn policy_key((file, index): CacheKey) -> u64 {
    (1 << 63) | ((file << 40) ^ index)
}

impl Kernel {
    /// How many file pages the page cache holds.
    pub fn cached_pages(&self) -> usize {
        self.page_cache.len()
    }

    /// The frame caching page `index` of `file`, read from the disk first
    /// if it is not cached (then `true`: the caller counts a major fault
    /// where one applies). `pid` is who needs it (the OOM killer's
    /// target if no frame can be found).
    fn cached_page(
        &mut self,
        pid: Pid,
        file: FileId,
        index: u64,
    ) -> Result<(FrameId, bool), Signal> {
        if let Some(frame) = self.page_cache.get((file, index)) {
            return Ok((frame, false));
        }
        let frame = self.alloc_user_frame(pid, index << self.page_shift())?;
        self.frames.set_use(frame, FrameUse::PageCache);
        let mut buf = std::mem::take(&mut self.page_buf);
        self.fs.read_page(file, index, &mut buf);
        let _ = self
            .mem
            .write_bytes(u64::from(frame) << self.page_shift(), &buf);
        self.page_buf = buf;
        self.counters.file_reads += 1;
        self.page_cache.insert((file, index), frame);
        self.policy_of[frame as usize] = 0;
        let key = policy_key((file, index));
        self.track_frame(0, frame, key);
        Ok((frame, true))
    }

    /// A not-present page of a mapping of a file of the file system.
    pub(crate) fn file_fault(
        &mut self,
        pid: Pid,
        page: u64,
        kind: AccessKind,
        region: &Region,
        perms: Perms,
    ) -> Result<(), Signal> {
        let RegionKind::File { file, shared, .. } = region.kind else {
            return Err(bus(page));
        };
        // A private copy that went out to swap comes back from there.
        let vpn = page >> self.page_shift();
        if let Some(slot) = self
            .procs
            .get_mut(&pid)
            .and_then(|p| p.swapped.remove(&vpn))
        {
            return self.swap_in(pid, page, slot, perms, shared, kind == AccessKind::Write);
        }
        let offset = region.object_offset(page).ok_or_else(|| bus(page))?;
        if offset >= self.fs.size(file) {
            return Err(bus(page));
        }
        let index = offset >> self.page_shift();
        let (frame, read) = self.cached_page(pid, file, index)?;
        self.note(pid, || crate::explain::KernelEvent::FilePage {
            vaddr: page,
            file,
            index,
            frame,
            read,
        });
        if read {
            self.counters.major_faults += 1;
            if let Some(p) = self.procs.get_mut(&pid) {
                p.counters.major_faults += 1;
            }
        } else {
            self.count_minor(pid);
        }
        self.map_file_page(pid, page, kind, perms, shared, frame)?;
        if read {
            // After the page is mapped, so reading ahead cannot evict it.
            self.fault_read_ahead(pid, file, index, region.advice);
        }
        Ok(())
    }

    /// Reads file pages near `index` into the page cache after a major
    /// fault on it, as Linux's `do_sync_mmap_readahead` (mm/filemap.c)
    /// does: none for MADV_RANDOM; the window after the page for
    /// MADV_SEQUENTIAL; otherwise a window around it (starting half a
    /// window before). Pages past the end of the file are not read, and a
    /// frame that cannot be had ends the read-ahead, never the fault.
    fn fault_read_ahead(&mut self, pid: Pid, file: FileId, index: u64, advice: ReadAdvice) {
        let window = self.config().read_ahead_pages;
        let first = match advice {
            ReadAdvice::Random => return,
            ReadAdvice::Sequential => index,
            ReadAdvice::Normal => index.saturating_sub(window / 2),
        };
        let pages_in_file = self.fs.size(file).div_ceil(self.page_bytes());
        let end = first.saturating_add(window).min(pages_in_file);
        for i in (first..end).filter(|&i| i != index) {
            if self.cached_page(pid, file, i).is_err() {
                break;
            }
        }
    }

    /// Maps the cached `frame` at `page` for a fault of `kind`: the frame
    /// itself for a shared mapping or a private read, a private copy for a
    /// private write.
    fn map_file_page(
        &mut self,
        pid: Pid,
        page: u64,
        kind: AccessKind,
        perms: Perms,
        shared: bool,
        frame: FrameId,
    ) -> Result<(), Signal> {
        let write = kind == AccessKind::Write;
        if shared {
            return self
                .map_frame(pid, page, frame, perms, write)
                .map_err(|_| kill_signal(page));
        }
        if !write {
            // Read-only, so the first write copies (write_protect_fault).
            return self
                .map_frame(pid, page, frame, perms - Perms::WRITE, false)
                .map_err(|_| kill_signal(page));
        }
        // A private write: the process gets its own copy at once. The
        // cached page took the frame kept for the copy, so the page tables'
        // frames are made sure of again, with the page held in place.
        self.pinned = Some(frame);
        let copy = self
            .reserve_tables(pid, page)
            .and_then(|()| self.alloc_user_frame(pid, page));
        self.pinned = None;
        let copy = copy?;
        let mut buf = std::mem::take(&mut self.page_buf);
        let _ = self
            .mem
            .read_bytes(u64::from(frame) << self.page_shift(), &mut buf);
        let _ = self
            .mem
            .write_bytes(u64::from(copy) << self.page_shift(), &buf);
        self.page_buf = buf;
        self.counters.cow_copies += 1;
        self.note(pid, || crate::explain::KernelEvent::CowCopy {
            vaddr: page,
            from: frame,
            to: copy,
            zero_page: false,
        });
        self.map_new_frame(pid, page, copy, perms, true)
    }

    /// Removes the cached page in `frame` from every mapping and from the
    /// cache, and frees the frame (the policy must have let it go).
    fn uncache(&mut self, frame: FrameId) {
        // The entries' accessed flags were not read: search the TLB.
        self.unmap_everywhere(frame, true);
        self.page_cache.remove_frame(frame);
        self.frames.free(frame);
    }

    /// Drops the cached page in `frame` without writing it back (its
    /// bytes are past the end of the file, or the file is gone).
    fn drop_cached(&mut self, frame: FrameId) {
        let owner = self.policy_owner(frame);
        self.with_policy(owner, (), |policy, _| policy.remove(frame));
        self.uncache(frame);
    }

    /// Writes the cached page in `frame` to the disk and marks it clean.
    pub(crate) fn write_back_cached(&mut self, frame: FrameId) {
        let Some((file, index)) = self.page_cache.key_of(frame) else {
            return;
        };
        let mut buf = std::mem::take(&mut self.page_buf);
        let _ = self
            .mem
            .read_bytes(u64::from(frame) << self.page_shift(), &mut buf);
        self.fs.write_page(file, index, &buf);
        self.page_buf = buf;
        self.counters.write_backs += 1;
        self.note(0, || crate::explain::KernelEvent::WriteBack {
            frame,
            file,
            index,
        });
        self.frames.set_dirty(frame, false);
        self.clear_owner_flags(frame, None, Some(false));
    }

    /// Eviction of a cached page the replacement policy chose (and so
    /// already let go): written back when dirty, dropped without I/O when
    /// clean.
    pub(crate) fn evict_cached(&mut self, frame: FrameId, dirty: bool) {
        if dirty {
            self.write_back_cached(frame);
        } else {
            self.counters.clean_drops += 1;
            self.note(0, || crate::explain::KernelEvent::CleanDrop { frame });
        }
        self.counters.evictions += 1;
        self.uncache(frame);
    }

    /// Writes back the dirty cached pages of `file` with index in `indexes`.
    pub(crate) fn sync_pages(&mut self, file: FileId, indexes: std::ops::Range<u64>) {
        for (_, frame) in self.page_cache.pages_of(file, indexes) {
            if self.owner_flags(frame).1 {
                self.write_back_cached(frame);
            }
        }
    }

    /// Runs `copy` over the cached pages of `file` covering `len` bytes
    /// from `offset` on, a page piece at a time: with the physical address
    /// of the piece and its range within the `len` bytes.
    fn cache_copy(
        &mut self,
        pid: Pid,
        file: FileId,
        offset: u64,
        len: usize,
        mut copy: impl FnMut(&mut Kernel, FrameId, u64, std::ops::Range<usize>),
    ) -> Result<(), Errno> {
        let page = self.page_bytes();
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let within = at & (page - 1);
            let n = ((page - within) as usize).min(len - done);
            let (frame, _) = self
                .cached_page(pid, file, at >> self.page_shift())
                .map_err(|_| Errno::Enomem)?;
            let paddr = (u64::from(frame) << self.page_shift()) + within;
            copy(self, frame, paddr, done..done + n);
            done += n;
        }
        Ok(())
    }

    /// The file pages `pid` maps shared in `[start, end)`, as (file, page
    /// indexes): what an unmap of the range writes back.
    pub(crate) fn shared_file_pages(
        &self,
        pid: Pid,
        start: u64,
        end: u64,
    ) -> Vec<(FileId, std::ops::Range<u64>)> {
        let Some(p) = self.procs.get(&pid) else {
            return Vec::new();
        };
        let shift = self.page_shift();
        p.regions
            .overlapping(start, end)
            .filter_map(|r| match r.kind {
                RegionKind::File {
                    file, shared: true, ..
                } => {
                    let first = r.object_offset(r.start.max(start))?;
                    let last = first + (r.end.min(end) - r.start.max(start));
                    Some((file, (first >> shift)..(last >> shift)))
                }
                _ => None,
            })
            .collect()
    }

    /// Writes back what [`Kernel::shared_file_pages`] found, once the
    /// mappings are gone: vmlab has no flusher thread, so the last unmap
    /// (munmap, exit, exec, MAP_FIXED) is when a shared mapping's dirty
    /// pages reach the disk if nothing wrote them back before.
    pub(crate) fn write_back_unmapped(&mut self, pages: Vec<(FileId, std::ops::Range<u64>)>) {
        for (file, indexes) in pages {
            self.sync_pages(file, indexes);
        }
    }

    /// Reads the file pages `pid` maps in `[start, end)` (one region's
    /// piece) into the page cache, up to the end of the file: MADV_WILLNEED.
    pub(crate) fn read_ahead(&mut self, pid: Pid, start: u64, end: u64) {
        let Some(region) = self
            .procs
            .get(&pid)
            .and_then(|p| p.regions.find(start).copied())
        else {
            return;
        };
        let RegionKind::File { file, .. } = region.kind else {
            return;
        };
        let (Some(first), Some(last)) =
            (region.object_offset(start), region.object_offset(end - 1))
        else {
            return;
        };
        let pages_in_file = self.fs.size(file).div_ceil(self.page_bytes());
        let shift = self.page_shift();
        for index in (first >> shift)..=(last >> shift) {
            if index >= pages_in_file || self.cached_page(pid, file, index).is_err() {
                break;
            }
        }
    }

    /// Copies `out.len()` bytes of `file` from `offset` on out of the page
    /// cache (the caller keeps the range below the file size).
    pub(crate) fn read_cached(
        &mut self,
        pid: Pid,
        file: FileId,
        offset: u64,
        out: &mut [u8],
    ) -> Result<(), Errno> {
        self.cache_copy(pid, file, offset, out.len(), |k, _, paddr, range| {
            let _ = k.mem.read_bytes(paddr, &mut out[range]);
        })
    }

    /// Copies `data` into the page cache of `file` at `offset`, growing
    /// the file if it ends past the end; the pages become dirty.
    pub(crate) fn write_cached(
        &mut self,
        pid: Pid,
        file: FileId,
        offset: u64,
        data: &[u8],
    ) -> Result<(), Errno> {
        let end = offset + data.len() as u64;
        if end > self.fs.size(file) {
            // Grown first, so write-back keeps the new bytes.
            self.set_file_size(file, end);
        }
        self.cache_copy(pid, file, offset, data.len(), |k, frame, paddr, range| {
            let _ = k.mem.write_bytes(paddr, &data[range]);
            k.frames.set_dirty(frame, true);
        })
    }

    /// Sets the size of `file` (ftruncate, O_TRUNC, a write past the
    /// end): cached pages wholly past the new end leave every mapping and
    /// the cache. The part of the last page past the end is made zeros,
    /// on shrinking and on growing alike: what a mapping stored past the
    /// old end never becomes file data (newer Linux zeroes it on growth
    /// too; older kernels left it to chance and write-back timing).
    pub(crate) fn set_file_size(&mut self, file: FileId, size: u64) {
        let page = self.page_bytes();
        let old = self.fs.size(file);
        let first_gone = size.div_ceil(page);
        for (_, frame) in self.page_cache.pages_of(file, first_gone..u64::MAX) {
            self.drop_cached(frame);
        }
        let end = old.min(size);
        let within = end & (page - 1);
        if within != 0 {
            if let Some(frame) = self.page_cache.get((file, end / page)) {
                let at = (u64::from(frame) << self.page_shift()) + within;
                let _ = self.mem.zero(at, page - within);
            }
        }
        self.fs.set_size(file, size);
    }

    /// Forgets files with no name, no open description and no mapping,
    /// with their cached pages.
    pub(crate) fn collect_files(&mut self) {
        for file in self.fs.orphans() {
            let mapped = self.procs.values().any(|p| {
                p.state == crate::process::ProcessState::Live
                    && p.regions
                        .iter()
                        .any(|r| matches!(r.kind, RegionKind::File { file: f, .. } if f == file))
            });
            if mapped {
                continue;
            }
            for (_, frame) in self.page_cache.pages_of(file, 0..u64::MAX) {
                self.drop_cached(frame);
            }
            self.fs.remove(file);
        }
    }

    /// Creates or replaces the file `name` with `contents` (a file from
    /// the host); its old cached pages go.
    pub fn import_file(&mut self, name: &str, contents: Vec<u8>) -> Result<FileId, Errno> {
        if let Some(file) = self.fs.lookup(name) {
            self.set_file_size(file, 0);
        }
        self.fs.import(name, contents)
    }

    /// Reads the host file `host` into the file system as `name`.
    pub fn import_host_file(
        &mut self,
        name: &str,
        host: &std::path::Path,
    ) -> std::io::Result<FileId> {
        let contents = std::fs::read(host)?;
        self.import_file(name, contents)
            .map_err(|e| std::io::Error::other(format!("{name}: {e}")))
    }

    /// The contents of the file `name`, after writing its dirty cached
    /// pages back (exporting it to the host).
    pub fn export_file(&mut self, name: &str) -> Option<Vec<u8>> {
        let file = self.fs.lookup(name)?;
        self.sync_pages(file, 0..u64::MAX);
        self.fs.export(name)
    }
}
