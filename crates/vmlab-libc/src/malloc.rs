//! malloc, free, calloc and realloc in the style of glibc's ptmalloc
//! (`malloc/malloc.c`), with every header, bin and parameter in the
//! process's simulated memory.
//!
//! Chunks: each block is a chunk whose header is two words before the
//! pointer malloc returns: the previous chunk's size (valid only while
//! that chunk is free: the boundary tag, or "foot") and this chunk's size
//! with flag bits (`PREV_INUSE`: the previous chunk is in use;
//! `IS_MMAPPED`: the chunk is a mapping of its own). Sizes are multiples
//! of 16 and at least 32 (`MINSIZE`); a request of `n` bytes takes
//! `max(32, (n + 8 + 15) & !15)`, since an in-use chunk may use the next
//! chunk's first word. A free chunk keeps its list links in its first two
//! words past the header.
//!
//! The arena (glibc's `main_arena`, in the library's data mapping):
//! the top chunk (the free space at the end of the heap), a bin map of
//! non-empty bins, and 128 bins, each a circular doubly linked list whose
//! head is a pseudo-chunk in the arena, as glibc's `bin_at` has it. Bins
//! 2 to 63 hold one size each (16-byte steps below 1024), bins 64 to 126
//! ranges of sizes (glibc's `largebin_index_64`). malloc takes an exact
//! fit, else the best fit in the request's bin, else a chunk of the next
//! non-empty bin (splitting off the remainder), else the top chunk.
//!
//! Growing (glibc's `sysmalloc`): a request at or above the mmap
//! threshold that the top cannot serve gets its own mapping of
//! `ALIGN_UP(nb + 8, page)` bytes, which free unmaps (and, as glibc's
//! dynamic threshold does, raises the threshold to that size). Otherwise
//! the break grows by `ALIGN_UP(nb + top_pad + MINSIZE - top_size, page)`:
//! with glibc's `DEFAULT_TOP_PAD` of 128 KiB a first `malloc(16)` (nb =
//! 32) grows it by `ALIGN_UP(32 + 131072 + 32, 4096)` = 132 KiB. (glibc
//! `malloc/malloc.c`, `sysmalloc`, main arena: `size = nb + mp_.top_pad +
//! MINSIZE; if (contiguous (av)) size -= old_size; size = ALIGN_UP (size,
//! pagesize);`, and `# define DEFAULT_TOP_PAD 131072` in
//! `sysdeps/generic/malloc-machine.h`.)
//!
//! Freeing coalesces with free neighbours and with the top; once a free
//! leaves a chunk of at least 64 KiB (`FASTBIN_CONSOLIDATION_THRESHOLD`)
//! and the top is at least the trim threshold, glibc's `systrim` gives
//! back `ALIGN_DOWN(top_size - MINSIZE - 1 - top_pad, page)` bytes with a
//! lower break (`_int_free`: `if (size >= FASTBIN_CONSOLIDATION_THRESHOLD)
//! ... if (chunksize (av->top) >= mp_.trim_threshold) systrim (mp_.top_pad,
//! av);`).
//!
//! Left out, for simplicity: tcache and fastbins (which defer coalescing
//! of small chunks), the unsorted bin (freed chunks go straight to their
//! bin), other arenas, mremap for realloc of mapped chunks, and falling
//! back to mmap when brk fails (malloc then fails with ENOMEM). The break
//! is the library's: a program that moves it behind malloc's back is not
//! supported. Freeing a pointer malloc did not return is reported as
//! [`LibcError::InvalidPointer`] with glibc's diagnostic, where glibc
//! would abort or the header load would crash.

use crate::{data, shown, Libc, LibcError, WORD};
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_PRIVATE};
use vmlab_kernel::explain::CallArg;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region::{PROT_READ, PROT_WRITE};
use vmlab_kernel::Errno;

/// Chunk sizes are multiples of this, and pointers aligned to it.
const ALIGNMENT: u64 = 16;
/// The smallest chunk: header and two links.
const MINSIZE: u64 = 32;
/// Size flag: the previous chunk is in use.
const PREV_INUSE: u64 = 1;
/// Size flag: the chunk is a mapping of its own.
const IS_MMAPPED: u64 = 2;
/// The flag bits of a size field (glibc's `SIZE_BITS`).
const SIZE_BITS: u64 = 7;
/// Bins in the arena.
const NBINS: u64 = 128;
/// The smallest size kept in a large bin.
const MIN_LARGE_SIZE: u64 = 1024;
/// A free leaving a chunk this big checks whether to trim.
const FASTBIN_CONSOLIDATION_THRESHOLD: u64 = 64 * 1024;
/// The dynamic mmap threshold never rises past this (64-bit glibc's
/// `DEFAULT_MMAP_THRESHOLD_MAX`, 4 MiB × sizeof(long)).
const MMAP_THRESHOLD_MAX: u64 = 32 << 20;

// The arena, at data::ARENA.
const TOP: u64 = data::ARENA;
const BINMAP: u64 = data::ARENA + 8;
const BINS: u64 = data::ARENA + 24;
// malloc's parameters (glibc's `mp_`), at data::PARAMS.
const TRIM_THRESHOLD: u64 = data::PARAMS;
const TOP_PAD: u64 = data::PARAMS + 8;
const MMAP_THRESHOLD: u64 = data::PARAMS + 16;
const NO_DYN_THRESHOLD: u64 = data::PARAMS + 24;
const N_MMAPS: u64 = data::PARAMS + 32;
const MMAPPED_MEM: u64 = data::PARAMS + 40;
const SBRK_BASE: u64 = data::PARAMS + 48;
/// sbrk's cached break (glibc's `__curbrk`).
const CURBRK: u64 = data::PARAMS + 56;

/// malloc's tunables, as `mallopt(3)` sets them; the defaults are glibc's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MallocConfig {
    /// Requests at or above this many bytes (as chunk sizes) that the top
    /// cannot serve get their own mapping (`M_MMAP_THRESHOLD`, 128 KiB).
    pub mmap_threshold: u64,
    /// The top is trimmed once it reaches this size (`M_TRIM_THRESHOLD`,
    /// 128 KiB).
    pub trim_threshold: u64,
    /// Extra space each brk asks for and each trim keeps (`M_TOP_PAD`,
    /// 128 KiB).
    pub top_pad: u64,
    /// Whether freeing a mapped chunk raises the thresholds to its size
    /// (glibc's default; setting any threshold with mallopt turns it off).
    pub dynamic_threshold: bool,
}

impl Default for MallocConfig {
    fn default() -> MallocConfig {
        MallocConfig {
            mmap_threshold: 128 * 1024,
            trim_threshold: 128 * 1024,
            top_pad: 128 * 1024,
            dynamic_threshold: true,
        }
    }
}

impl MallocConfig {
    /// glibc's defaults with a fixed mmap threshold of `bytes`, as
    /// `mallopt(M_MMAP_THRESHOLD, bytes)` sets it.
    pub fn with_mmap_threshold(bytes: u64) -> MallocConfig {
        MallocConfig {
            mmap_threshold: bytes,
            dynamic_threshold: false,
            ..MallocConfig::default()
        }
    }
}

/// Heap statistics, as glibc's `mallinfo2` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo {
    /// Bytes of heap obtained with brk.
    pub arena: u64,
    /// Free chunks, the top included.
    pub ordblks: u64,
    /// Chunks that are mappings of their own.
    pub hblks: u64,
    /// Bytes in those mappings.
    pub hblkhd: u64,
    /// Bytes of heap in use.
    pub uordblks: u64,
    /// Bytes of heap free, the top included.
    pub fordblks: u64,
    /// Bytes at the top of the heap (what trimming could release).
    pub keepcost: u64,
}

/// glibc's `request2size`: the chunk size for a request of `bytes`
/// (ENOMEM past `PTRDIFF_MAX`).
fn request2size(bytes: u64) -> Result<u64, LibcError> {
    if bytes > i64::MAX as u64 - 2 * MINSIZE {
        return Err(LibcError::Errno(Errno::Enomem));
    }
    Ok(((bytes + WORD + ALIGNMENT - 1) & !(ALIGNMENT - 1)).max(MINSIZE))
}

/// The bin for free chunks of `size` bytes.
fn bin_index(size: u64) -> u64 {
    if size < MIN_LARGE_SIZE {
        return size >> 4;
    }
    // glibc's largebin_index_64.
    let classes = [
        (6, 48, 48),
        (9, 20, 91),
        (12, 10, 110),
        (15, 4, 119),
        (18, 2, 124),
    ];
    for (shift, limit, base) in classes {
        if size >> shift <= limit {
            return base + (size >> shift);
        }
    }
    126
}

/// The pseudo-chunk heading bin `i`: its links are the bin's two words.
fn bin_at(base: u64, i: u64) -> u64 {
    base + BINS + 16 * i - 2 * WORD
}

/// A chunk found behind a pointer given to free or realloc.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    /// Its address (two words before the pointer).
    at: u64,
    /// Its size, flags masked off.
    size: u64,
    /// Whether it is a mapping of its own.
    mmapped: bool,
}

impl Libc {
    /// Sets the arena up (glibc's `malloc_init_state` and `mp_`), and
    /// learns the break as ld.so's `brk(NULL)` does.
    pub(crate) fn init_malloc(&mut self, pid: Pid, base: u64) -> Result<(), LibcError> {
        for i in 1..NBINS {
            let bin = bin_at(base, i);
            self.st(pid, bin + 2 * WORD, bin)?;
            self.st(pid, bin + 3 * WORD, bin)?;
        }
        let c = self.config;
        self.st(pid, base + TRIM_THRESHOLD, c.trim_threshold)?;
        self.st(pid, base + TOP_PAD, c.top_pad)?;
        self.st(pid, base + MMAP_THRESHOLD, c.mmap_threshold)?;
        self.st(
            pid,
            base + NO_DYN_THRESHOLD,
            u64::from(!c.dynamic_threshold),
        )?;
        let brk = self.sys_brk(pid, 0)?;
        self.st(pid, base + CURBRK, brk)
    }

    /// malloc(3): a block of at least `bytes` bytes, 16-byte aligned.
    pub fn malloc(&mut self, pid: Pid, bytes: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "malloc",
            || vec![CallArg::num("size", bytes)],
            shown::pointer,
            |libc| {
                let base = libc.image(pid)?;
                libc.alloc(pid, base, bytes)
            },
        )
    }

    /// free(3). `free(0)` does nothing.
    pub fn free(&mut self, pid: Pid, ptr: u64) -> Result<(), LibcError> {
        self.library_function(
            pid,
            "free",
            || vec![CallArg::addr("ptr", ptr)],
            shown::void,
            |libc| {
                let base = libc.image(pid)?;
                if ptr == 0 {
                    return Ok(());
                }
                libc.release(pid, base, ptr)
            },
        )
    }

    /// malloc inside the library (not a call from the program).
    pub(crate) fn alloc(&mut self, pid: Pid, base: u64, bytes: u64) -> Result<u64, LibcError> {
        let nb = request2size(bytes)?;
        Ok(self.int_malloc(pid, base, nb)? + 2 * WORD)
    }

    /// free inside the library.
    pub(crate) fn release(&mut self, pid: Pid, base: u64, ptr: u64) -> Result<(), LibcError> {
        let chunk = self.chunk_of(pid, base, ptr, "free(): invalid pointer")?;
        self.free_chunk(pid, base, chunk)
    }

    /// calloc(3): a zeroed block of `count` × `size` bytes (ENOMEM when
    /// the product overflows). Memory fresh from mmap is zero already and
    /// is not cleared again; a reused chunk is.
    pub fn calloc(&mut self, pid: Pid, count: u64, size: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "calloc",
            || vec![CallArg::num("nmemb", count), CallArg::num("size", size)],
            shown::pointer,
            |libc| {
                let base = libc.image(pid)?;
                let bytes = count
                    .checked_mul(size)
                    .ok_or(LibcError::Errno(Errno::Enomem))?;
                let p = libc.int_malloc(pid, base, request2size(bytes)?)?;
                let head = libc.ld(pid, p + WORD)?;
                if head & IS_MMAPPED == 0 {
                    libc.fill(pid, p + 2 * WORD, 0, (head & !SIZE_BITS) - WORD)?;
                }
                Ok(p + 2 * WORD)
            },
        )
    }

    /// realloc(3): a block of `bytes` bytes with the old block's contents
    /// up to the smaller size; grows in place into a free neighbour or the
    /// top when it can. `realloc(0, n)` is `malloc(n)`; `realloc(p, 0)`
    /// frees `p` and returns 0, as glibc does.
    pub fn realloc(&mut self, pid: Pid, ptr: u64, bytes: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "realloc",
            || vec![CallArg::addr("ptr", ptr), CallArg::num("size", bytes)],
            shown::pointer,
            |libc| {
                let base = libc.image(pid)?;
                if ptr == 0 {
                    return libc.alloc(pid, base, bytes);
                }
                let chunk = libc.chunk_of(pid, base, ptr, "realloc(): invalid pointer")?;
                if bytes == 0 {
                    libc.free_chunk(pid, base, chunk)?;
                    return Ok(0);
                }
                let nb = request2size(bytes)?;
                if chunk.mmapped {
                    if chunk.size - WORD >= nb {
                        return Ok(ptr);
                    }
                    return libc.move_block(pid, base, chunk, nb, chunk.size - 2 * WORD);
                }
                let mut size = chunk.size;
                if size < nb {
                    let next = chunk.at + size;
                    let top = libc.ld(pid, base + TOP)?;
                    let next_size = libc.ld(pid, next + WORD)? & !SIZE_BITS;
                    if next == top && size + next_size >= nb + MINSIZE {
                        // Grow into the top.
                        libc.set_head_size(pid, chunk.at, nb)?;
                        let new_top = chunk.at + nb;
                        libc.st(pid, base + TOP, new_top)?;
                        libc.st(pid, new_top + WORD, (size + next_size - nb) | PREV_INUSE)?;
                        return Ok(ptr);
                    }
                    let next_free = next != top && !libc.in_use(pid, next, next_size)?;
                    if next_free && size + next_size >= nb {
                        // Take the free neighbour in.
                        libc.unlink(pid, base, next, next_size)?;
                        size += next_size;
                    } else {
                        return libc.move_block(pid, base, chunk, nb, chunk.size - WORD);
                    }
                }
                // Keep nb bytes; a remainder big enough to be a chunk is freed.
                let rest = size - nb;
                if rest < MINSIZE {
                    libc.set_head_size(pid, chunk.at, size)?;
                    libc.set_in_use(pid, chunk.at + size)?;
                } else {
                    libc.set_head_size(pid, chunk.at, nb)?;
                    let remainder = chunk.at + nb;
                    libc.st(pid, remainder + WORD, rest | PREV_INUSE)?;
                    libc.set_in_use(pid, remainder + rest)?;
                    let remainder = Chunk {
                        at: remainder,
                        size: rest,
                        mmapped: false,
                    };
                    libc.free_chunk(pid, base, remainder)?;
                }
                Ok(ptr)
            },
        )
    }

    /// malloc_usable_size(3): the bytes the block at `ptr` may use.
    pub fn malloc_usable_size(&mut self, pid: Pid, ptr: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "malloc_usable_size",
            || vec![CallArg::addr("ptr", ptr)],
            shown::count,
            |libc| {
                let base = libc.image(pid)?;
                let chunk =
                    libc.chunk_of(pid, base, ptr, "malloc_usable_size(): invalid pointer")?;
                Ok(chunk.size - if chunk.mmapped { 2 * WORD } else { WORD })
            },
        )
    }

    /// mallinfo2(3): what the heap holds, found by walking the bins.
    pub fn mallinfo2(&mut self, pid: Pid) -> Result<MallInfo, LibcError> {
        self.library_function(
            pid,
            "mallinfo2",
            Vec::new,
            |m: &MallInfo| {
                Some(format!(
                    "{{ arena = {}, uordblks = {}, fordblks = {}, hblkhd = {} }}",
                    m.arena, m.uordblks, m.fordblks, m.hblkhd
                ))
            },
            |libc| {
                let base = libc.image(pid)?;
                let top = libc.ld(pid, base + TOP)?;
                let top_size = if top == 0 {
                    0
                } else {
                    libc.ld(pid, top + WORD)? & !SIZE_BITS
                };
                let (mut ordblks, mut fordblks) = (u64::from(top != 0), top_size);
                for i in 2..NBINS {
                    if !libc.bin_marked(pid, base, i)? {
                        continue;
                    }
                    let bin = bin_at(base, i);
                    let mut p = libc.ld(pid, bin + 2 * WORD)?;
                    while p != bin {
                        ordblks += 1;
                        fordblks += libc.ld(pid, p + WORD)? & !SIZE_BITS;
                        p = libc.ld(pid, p + 2 * WORD)?;
                    }
                }
                let sbrk_base = libc.ld(pid, base + SBRK_BASE)?;
                let arena = if sbrk_base == 0 {
                    0
                } else {
                    libc.ld(pid, base + CURBRK)? - sbrk_base
                };
                Ok(MallInfo {
                    arena,
                    ordblks,
                    hblks: libc.ld(pid, base + N_MMAPS)?,
                    hblkhd: libc.ld(pid, base + MMAPPED_MEM)?,
                    uordblks: arena - fordblks,
                    fordblks,
                    keepcost: top_size,
                })
            },
        )
    }

    /// realloc by allocating `nb`, copying `keep` bytes and freeing.
    fn move_block(
        &mut self,
        pid: Pid,
        base: u64,
        old: Chunk,
        nb: u64,
        keep: u64,
    ) -> Result<u64, LibcError> {
        // Only growing moves, so the new block holds all `keep` bytes.
        let new = self.int_malloc(pid, base, nb)? + 2 * WORD;
        self.copy(pid, new, old.at + 2 * WORD, keep)?;
        self.free_chunk(pid, base, old)?;
        Ok(new)
    }

    /// glibc's `_int_malloc`: a chunk of `nb` bytes, its address.
    fn int_malloc(&mut self, pid: Pid, base: u64, nb: u64) -> Result<u64, LibcError> {
        if let Some(p) = self.take_from_bins(pid, base, nb)? {
            return Ok(p);
        }
        let top = self.ld(pid, base + TOP)?;
        if top != 0 {
            let top_size = self.ld(pid, top + WORD)? & !SIZE_BITS;
            if top_size >= nb + MINSIZE {
                return self.split_top(pid, base, top, top_size, nb);
            }
        }
        self.sysmalloc(pid, base, nb)
    }

    /// A chunk of `nb` bytes from the bins: an exact fit, the best fit in
    /// `nb`'s bin, or any chunk of the next non-empty bin, split.
    fn take_from_bins(&mut self, pid: Pid, base: u64, nb: u64) -> Result<Option<u64>, LibcError> {
        let first = bin_index(nb);
        let mut i = first;
        while let Some(bin_index) = self.next_marked(pid, base, i)? {
            i = bin_index + 1;
            let bin = bin_at(base, bin_index);
            let victim = if bin_index == first && first >= MIN_LARGE_SIZE >> 4 {
                // The request's large bin holds sizes around nb: best fit.
                let mut best: Option<(u64, u64)> = None;
                let mut p = self.ld(pid, bin + 2 * WORD)?;
                while p != bin {
                    let size = self.ld(pid, p + WORD)? & !SIZE_BITS;
                    if size >= nb && best.is_none_or(|(_, s)| size < s) {
                        best = Some((p, size));
                    }
                    p = self.ld(pid, p + 2 * WORD)?;
                }
                match best {
                    Some(b) => b,
                    None => continue,
                }
            } else {
                // Every chunk here fits: take the oldest.
                let p = self.ld(pid, bin + 3 * WORD)?;
                (p, self.ld(pid, p + WORD)? & !SIZE_BITS)
            };
            let (p, size) = victim;
            self.unlink(pid, base, p, size)?;
            if size - nb < MINSIZE {
                self.set_in_use(pid, p + size)?;
            } else {
                self.st(pid, p + WORD, nb | PREV_INUSE)?;
                let rest = p + nb;
                self.st(pid, rest + WORD, (size - nb) | PREV_INUSE)?;
                self.st(pid, rest + size - nb, size - nb)?;
                self.insert(pid, base, rest, size - nb)?;
            }
            return Ok(Some(p));
        }
        Ok(None)
    }

    /// Carves `nb` bytes off the front of the top chunk.
    fn split_top(
        &mut self,
        pid: Pid,
        base: u64,
        top: u64,
        top_size: u64,
        nb: u64,
    ) -> Result<u64, LibcError> {
        self.st(pid, top + WORD, nb | PREV_INUSE)?;
        let new_top = top + nb;
        self.st(pid, base + TOP, new_top)?;
        self.st(pid, new_top + WORD, (top_size - nb) | PREV_INUSE)?;
        Ok(top)
    }

    /// glibc's `sysmalloc`: memory from the kernel for a chunk of `nb`
    /// bytes the arena cannot serve.
    fn sysmalloc(&mut self, pid: Pid, base: u64, nb: u64) -> Result<u64, LibcError> {
        let page = self.kernel.page_bytes();
        if nb >= self.ld(pid, base + MMAP_THRESHOLD)? {
            let size = (nb + WORD).next_multiple_of(page);
            let rw = PROT_READ | PROT_WRITE;
            // A failed mapping falls through to the heap, as in glibc.
            if let Ok(p) = self.sys_mmap(pid, size, rw, MAP_PRIVATE | MAP_ANONYMOUS) {
                self.st(pid, p, 0)?;
                self.st(pid, p + WORD, size | IS_MMAPPED)?;
                let n = self.ld(pid, base + N_MMAPS)?;
                self.st(pid, base + N_MMAPS, n + 1)?;
                let bytes = self.ld(pid, base + MMAPPED_MEM)?;
                self.st(pid, base + MMAPPED_MEM, bytes + size)?;
                return Ok(p);
            }
        }
        let top = self.ld(pid, base + TOP)?;
        let old_size = if top == 0 {
            0
        } else {
            self.ld(pid, top + WORD)? & !SIZE_BITS
        };
        let pad = self.ld(pid, base + TOP_PAD)?;
        let size = (nb + pad + MINSIZE - old_size).next_multiple_of(page);
        let brk = self.ld(pid, base + CURBRK)?;
        let wanted = brk.checked_add(size).ok_or(Errno::Enomem)?;
        let got = self.sys_brk(pid, wanted)?;
        if got != wanted {
            return Err(LibcError::Errno(Errno::Enomem));
        }
        self.st(pid, base + CURBRK, got)?;
        let (top, top_size) = if top == 0 {
            self.st(pid, base + SBRK_BASE, brk)?;
            (brk, size)
        } else {
            (top, old_size + size)
        };
        self.st(pid, top + WORD, top_size | PREV_INUSE)?;
        self.split_top(pid, base, top, top_size, nb)
    }

    /// Finds the chunk behind `ptr`, checking it the way glibc's free
    /// does; `message` names the function for a pointer that is not one.
    fn chunk_of(
        &mut self,
        pid: Pid,
        base: u64,
        ptr: u64,
        message: &'static str,
    ) -> Result<Chunk, LibcError> {
        let bad = |message| LibcError::InvalidPointer { addr: ptr, message };
        if ptr % ALIGNMENT != 0 || ptr < 2 * WORD {
            return Err(bad(message));
        }
        let at = ptr - 2 * WORD;
        let sbrk_base = self.ld(pid, base + SBRK_BASE)?;
        let brk = self.ld(pid, base + CURBRK)?;
        let top = self.ld(pid, base + TOP)?;
        if sbrk_base != 0 && (sbrk_base..brk).contains(&at) {
            if at >= top {
                return Err(bad("double free or corruption (out)"));
            }
            let size = self.ld(pid, at + WORD)? & !SIZE_BITS;
            if size < MINSIZE || size % ALIGNMENT != 0 || at + size > top {
                return Err(bad("free(): invalid size"));
            }
            let next = self.ld(pid, at + size + WORD)?;
            if next & PREV_INUSE == 0 {
                return Err(bad("double free or corruption (!prev)"));
            }
            return Ok(Chunk {
                at,
                size,
                mmapped: false,
            });
        }
        // Not in the heap: a mapped chunk, or a wild pointer whose header
        // load C would crash on.
        let mapped = self
            .kernel
            .regions(pid)
            .and_then(|r| r.find(at + WORD))
            .is_some_and(|r| !r.prot.is_empty());
        if !mapped {
            return Err(bad(message));
        }
        let head = self.ld(pid, at + WORD)?;
        let size = head & !SIZE_BITS;
        let page = self.kernel.page_bytes();
        if head & IS_MMAPPED == 0 || size == 0 || (at | size) & (page - 1) != 0 {
            return Err(bad("munmap_chunk(): invalid pointer"));
        }
        Ok(Chunk {
            at,
            size,
            mmapped: true,
        })
    }

    /// glibc's `_int_free` and `munmap_chunk` for a checked chunk.
    fn free_chunk(&mut self, pid: Pid, base: u64, chunk: Chunk) -> Result<(), LibcError> {
        let Chunk {
            mut at,
            mut size,
            mmapped,
        } = chunk;
        if mmapped {
            if self.ld(pid, base + NO_DYN_THRESHOLD)? == 0
                && size > self.ld(pid, base + MMAP_THRESHOLD)?
                && size <= MMAP_THRESHOLD_MAX
            {
                self.st(pid, base + MMAP_THRESHOLD, size)?;
                self.st(pid, base + TRIM_THRESHOLD, 2 * size)?;
            }
            let n = self.ld(pid, base + N_MMAPS)?;
            self.st(pid, base + N_MMAPS, n - 1)?;
            let bytes = self.ld(pid, base + MMAPPED_MEM)?;
            self.st(pid, base + MMAPPED_MEM, bytes - size)?;
            return self.sys_munmap(pid, at, size);
        }
        let head = self.ld(pid, at + WORD)?;
        if head & PREV_INUSE == 0 {
            let prev_size = self.ld(pid, at)?;
            at -= prev_size;
            size += prev_size;
            self.unlink(pid, base, at, prev_size)?;
        }
        let next = chunk.at + chunk.size;
        let top = self.ld(pid, base + TOP)?;
        let next_head = self.ld(pid, next + WORD)?;
        let next_size = next_head & !SIZE_BITS;
        if next == top {
            size += next_size;
            self.st(pid, at + WORD, size | PREV_INUSE)?;
            self.st(pid, base + TOP, at)?;
        } else {
            if self.in_use(pid, next, next_size)? {
                self.st(pid, next + WORD, next_head & !PREV_INUSE)?;
            } else {
                self.unlink(pid, base, next, next_size)?;
                size += next_size;
            }
            self.st(pid, at + WORD, size | PREV_INUSE)?;
            self.st(pid, at + size, size)?;
            self.insert(pid, base, at, size)?;
        }
        if size >= FASTBIN_CONSOLIDATION_THRESHOLD {
            let top = self.ld(pid, base + TOP)?;
            let top_size = self.ld(pid, top + WORD)? & !SIZE_BITS;
            if top_size >= self.ld(pid, base + TRIM_THRESHOLD)? {
                self.systrim(pid, base, top, top_size)?;
            }
        }
        Ok(())
    }

    /// glibc's `systrim`: gives the top's pages past `top_pad` back with
    /// a lower break.
    fn systrim(&mut self, pid: Pid, base: u64, top: u64, top_size: u64) -> Result<(), LibcError> {
        let pad = self.ld(pid, base + TOP_PAD)?;
        let page = self.kernel.page_bytes();
        let area = top_size.saturating_sub(MINSIZE + 1);
        if area <= pad {
            return Ok(());
        }
        let extra = (area - pad) & !(page - 1);
        let brk = self.ld(pid, base + CURBRK)?;
        if extra == 0 || brk != top + top_size {
            return Ok(());
        }
        let new_brk = self.sys_brk(pid, brk - extra)?;
        self.st(pid, base + CURBRK, new_brk)?;
        let released = brk - new_brk;
        if released != 0 {
            self.st(pid, top + WORD, (top_size - released) | PREV_INUSE)?;
        }
        Ok(())
    }

    /// Whether the chunk at `p` of `size` bytes is in use: the next
    /// chunk's `PREV_INUSE` bit.
    fn in_use(&mut self, pid: Pid, p: u64, size: u64) -> Result<bool, LibcError> {
        Ok(self.ld(pid, p + size + WORD)? & PREV_INUSE != 0)
    }

    /// Sets the `PREV_INUSE` bit of the chunk at `p`.
    fn set_in_use(&mut self, pid: Pid, p: u64) -> Result<(), LibcError> {
        let head = self.ld(pid, p + WORD)?;
        self.st(pid, p + WORD, head | PREV_INUSE)
    }

    /// Sets the size of the chunk at `p`, keeping its flags.
    fn set_head_size(&mut self, pid: Pid, p: u64, size: u64) -> Result<(), LibcError> {
        let head = self.ld(pid, p + WORD)?;
        self.st(pid, p + WORD, (head & SIZE_BITS) | size)
    }

    /// Puts the free chunk `p` of `size` bytes at the front of its bin.
    fn insert(&mut self, pid: Pid, base: u64, p: u64, size: u64) -> Result<(), LibcError> {
        let i = bin_index(size);
        let bin = bin_at(base, i);
        let first = self.ld(pid, bin + 2 * WORD)?;
        self.st(pid, p + 2 * WORD, first)?;
        self.st(pid, p + 3 * WORD, bin)?;
        self.st(pid, bin + 2 * WORD, p)?;
        self.st(pid, first + 3 * WORD, p)?;
        let word = base + BINMAP + 8 * (i / 64);
        let map = self.ld(pid, word)?;
        self.st(pid, word, map | 1 << (i % 64))
    }

    /// Takes the free chunk `p` of `size` bytes out of its bin, clearing
    /// the bin's mark when it empties.
    fn unlink(&mut self, pid: Pid, base: u64, p: u64, size: u64) -> Result<(), LibcError> {
        let fd = self.ld(pid, p + 2 * WORD)?;
        let bk = self.ld(pid, p + 3 * WORD)?;
        self.st(pid, fd + 3 * WORD, bk)?;
        self.st(pid, bk + 2 * WORD, fd)?;
        if fd == bk {
            // Only the bin's head is left.
            let i = bin_index(size);
            let word = base + BINMAP + 8 * (i / 64);
            let map = self.ld(pid, word)?;
            self.st(pid, word, map & !(1 << (i % 64)))?;
        }
        Ok(())
    }

    /// Whether bin `i` is marked non-empty.
    fn bin_marked(&mut self, pid: Pid, base: u64, i: u64) -> Result<bool, LibcError> {
        let map = self.ld(pid, base + BINMAP + 8 * (i / 64))?;
        Ok(map & 1 << (i % 64) != 0)
    }

    /// The first non-empty bin at or after `i`, reading the bin map a
    /// word at a time.
    fn next_marked(&mut self, pid: Pid, base: u64, i: u64) -> Result<Option<u64>, LibcError> {
        let mut word = i / 64;
        let mut mask = u64::MAX << (i % 64);
        while word < NBINS / 64 {
            let map = self.ld(pid, base + BINMAP + 8 * word)? & mask;
            if map != 0 {
                return Ok(Some(64 * word + u64::from(map.trailing_zeros())));
            }
            word += 1;
            mask = u64::MAX;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_sizes_follow_glibc() {
        assert_eq!(request2size(0).unwrap(), 32);
        assert_eq!(request2size(16).unwrap(), 32);
        assert_eq!(request2size(24).unwrap(), 32);
        assert_eq!(request2size(25).unwrap(), 48);
        assert_eq!(request2size(1000).unwrap(), 1008);
        assert_eq!(request2size(u64::MAX), Err(LibcError::Errno(Errno::Enomem)));
    }

    #[test]
    fn bins_follow_glibc_s_indices() {
        assert_eq!(bin_index(32), 2);
        assert_eq!(bin_index(1008), 63);
        // largebin_index_64: 1024 >> 6 = 16, 48 + 16 = 64.
        assert_eq!(bin_index(1024), 64);
        assert_eq!(bin_index(3072), 96);
        assert_eq!(bin_index(10_240), 111);
        assert_eq!(bin_index(1 << 30), 126);
    }
}
