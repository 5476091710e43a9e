//! [`MappedFile`]: a trace file read in place. The file is mapped into
//! memory, so a reader decodes it straight from the page cache instead of
//! having read(2) copy it into a buffer first: for an 800 MB vmlab-bin
//! trace the copy was 45% of the run (0.37 s of system time in 0.82 s).
//!
//! This is one of the workspace's two uses of `unsafe` (the other is the
//! prefetch hint, `vmlab_hw::prefetch`). Mapping a file is unsafe
//! in Rust because another process may change or truncate it while it is
//! mapped: the bytes would change under a shared borrow, and a read past
//! a truncated end raises SIGBUS. vmlab only reads traces, as ripgrep reads
//! the files it searches, and takes the same risk for the same speed; a
//! trace being rewritten during its own replay is not a supported use.
#![allow(unsafe_code)]

use memmap2::Mmap;
use std::fs::File;
use std::io;

/// Decoded bytes are given back to the kernel, and bytes ahead mapped
/// in, in steps of this many bytes (a multiple of every page size, and of
/// the 2 MiB folios a page cache may hold a file in: 1 MiB steps tripled
/// the system time, splitting them): the mapping adds about two steps to
/// the resident set however long the trace is.
const STEP: usize = 2 << 20;

/// A read-only mapping of a whole regular file.
pub(crate) struct MappedFile {
    map: Mmap,
    /// Bytes before this offset have been given back (a multiple of
    /// [`STEP`]).
    released: usize,
    /// Bytes before this offset have been asked to be mapped in.
    populated: usize,
}

impl MappedFile {
    /// Maps `file` if it is a regular file with something in it; `None`
    /// for anything else (a pipe, a terminal, an empty file), which is
    /// read instead.
    pub(crate) fn map(file: &File) -> io::Result<Option<MappedFile>> {
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() == 0 {
            return Ok(None);
        }
        // SAFETY: the mapping is only read, and is dropped with the reader;
        // see the module documentation for the file changing meanwhile.
        let map = unsafe { Mmap::map(file)? };
        let mut mapped = MappedFile {
            map,
            released: 0,
            populated: 0,
        };
        mapped.release_before(0);
        Ok(Some(mapped))
    }

    /// The file's bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The offset from which [`MappedFile::release_before`] next has
    /// something to do.
    pub(crate) fn next_release(&self) -> usize {
        self.released + STEP
    }

    /// Whether no byte of the file starts `needle` (a pattern shorter
    /// than a step). One pass of a SIMD substring search, a step at a
    /// time, each given back once searched so the pass adds no more to the
    /// resident set than reading does; the mapping is then as just made,
    /// so the reader maps its first steps in again from the page cache.
    pub(crate) fn lacks(&mut self, needle: &[u8]) -> bool {
        let finder = memchr::memmem::Finder::new(needle);
        let len = self.map.len();
        let mut found = false;
        let mut start = 0;
        while start < len && !found {
            let end = (start + STEP).min(len);
            self.populate(end, (end + STEP).min(len));
            // Overlapping the next step by the needle's length less one
            // finds a needle that straddles the boundary.
            let window = &self.map[start..(end + needle.len().saturating_sub(1)).min(len)];
            found = finder.find(window).is_some();
            self.give_back(start, end);
            start = end;
        }
        self.populated = 0;
        self.released = 0;
        self.release_before(0);
        !found
    }

    /// Gives the pages of the steps before `offset`'s back to the kernel,
    /// and has the two steps from `offset`'s mapped in ahead. Without this
    /// the whole file would end up in the process's resident set, and
    /// every 64 KiB of it would cost a page fault. Nothing is lost: a byte
    /// given back and read again (the start of a line that straddles a
    /// step) is faulted in again from the page cache.
    pub(crate) fn release_before(&mut self, offset: usize) {
        let step_start = offset / STEP * STEP;
        if step_start > self.released {
            self.give_back(self.released, step_start);
            self.released = step_start;
        }
        let ahead = (step_start + 2 * STEP).min(self.map.len());
        self.populate(self.populated, ahead);
    }

    /// Drops the mapping's pages of bytes `from..to` (they stay in the
    /// page cache).
    fn give_back(&self, from: usize, to: usize) {
        #[cfg(unix)]
        {
            // SAFETY: DONTNEED on a shared read-only file mapping drops
            // page-table entries only; the next read of those bytes maps
            // the same page-cache pages again, with the same contents.
            // Failure only leaves the pages resident.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
            };
        }
        #[cfg(not(unix))]
        let _ = (from, to);
    }

    /// Has bytes `from..to` mapped in, if past what was asked before.
    fn populate(&mut self, from: usize, to: usize) {
        if to > self.populated {
            // One call instead of a fault per 64 KiB (Linux 5.14 and
            // later; where unsupported the faults happen as before).
            #[cfg(target_os = "linux")]
            let _ = self
                .map
                .advise_range(memmap2::Advice::PopulateRead, from, to - from);
            #[cfg(not(target_os = "linux"))]
            let _ = from;
            self.populated = to;
        }
    }
}
