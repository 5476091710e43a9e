//! The binary's global allocator: the system's, with two additions.
//!
//! - It counts, for each thread, the bytes held and their high-water mark,
//!   so that [`crate::footprint`] can measure what building a machine
//!   takes ([`held_while`]).
//! - It asks the host kernel to back large blocks with transparent huge
//!   pages (`madvise(MADV_HUGEPAGE)`; Debian's default THP mode serves
//!   only blocks that ask). The simulator's large tables (the residency
//!   index, the ghost index, the policies' per-frame arrays, the frame
//!   table) are read at random, about one host TLB miss a reference with
//!   4 KiB pages; 2 MiB pages cover tens of MiB with a few dozen TLB
//!   entries. Paired runs of Zipf 50 M over 1 M pages, 100 K frames, one
//!   core, replacement model: 0.90-0.96 of the time. The advice changes
//!   no result, only where the host puts the bytes.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting for each thread the bytes it allocated
/// less those it freed, and their high-water mark (a machine is built on
/// one thread, so other threads' allocations do not blur its measure;
/// memory freed by another thread than its allocator's makes one count
/// too low and the other too high, which no build does), and advising
/// huge pages for blocks of at least [`HUGE_BLOCK`] bytes.
pub struct Allocator;

/// The host's transparent huge page size (x86-64 and most AArch64 hosts).
const HUGE_PAGE: usize = 2 << 20;

/// Blocks from this size up get the advice: at least one whole huge page
/// lies inside them wherever they start.
const HUGE_BLOCK: usize = 2 * HUGE_PAGE;

thread_local! {
    /// Bytes allocated less bytes freed by this thread; no destructor, so
    /// readable in the allocator at any time, thread exit included.
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// The most `LIVE` has been since the last [`held_while`] began.
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

/// The most bytes this thread held at once, beyond those held before,
/// while `build` ran; `None` if it failed (returned false).
pub fn held_while(build: impl FnOnce() -> bool) -> Option<usize> {
    let before = LIVE.get();
    PEAK.set(before);
    if !build() {
        return None;
    }
    usize::try_from(PEAK.get() - before).ok()
}

/// Counts `bytes` more held, and advises huge pages for the block at
/// `block` of `size` bytes that now holds them.
fn grew(bytes: usize, block: *mut u8, size: usize) {
    let live = LIVE.get() + bytes as i64;
    LIVE.set(live);
    PEAK.set(PEAK.get().max(live));
    if size >= HUGE_BLOCK {
        advise_huge_pages(block, size);
    }
}

fn shrank(bytes: usize) {
    LIVE.set(LIVE.get() - bytes as i64);
}

/// Advises huge pages for the whole huge pages inside the block.
fn advise_huge_pages(block: *mut u8, size: usize) {
    let start = (block as usize).next_multiple_of(HUGE_PAGE);
    let end = (block as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside a block this allocator handed out,
        // and MADV_HUGEPAGE changes how the host backs it, not its
        // contents. A host without THP refuses (EINVAL); nothing to do.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

// SAFETY: every call is passed to `System` unchanged; the counters only
// observe sizes of calls that succeeded, and the advice changes no
// memory's contents.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size(), p, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size(), p, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`; `ptr` came from `System`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            match new_size.checked_sub(layout.size()) {
                Some(more) => grew(more, p, new_size),
                None => shrank(layout.size() - new_size),
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a thread allocates while building counts; what it held before
    /// does not, nor what it freed.
    #[test]
    fn held_while_measures_the_peak_of_the_build() {
        let before = vec![0u8; 1 << 20];
        let held = held_while(|| {
            let a = vec![1u8; 300_000];
            drop(std::hint::black_box(a));
            let b = vec![1u8; 200_000];
            std::hint::black_box(&b);
            true
        });
        drop(before);
        // The first block's peak, and nothing but small change besides.
        let held = held.expect("the build succeeded");
        assert!((300_000..300_000 + 4096).contains(&held), "{held}");
        assert_eq!(held_while(|| false), None);
    }

    /// The flags of the mapping holding `addr` (`VmFlags` in smaps).
    fn vm_flags_at(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                if inside {
                    return Some(flags.trim().to_string());
                }
                continue;
            }
            // A mapping's first line starts with its range, `lo-hi`.
            let range = line.split_once(' ').and_then(|(r, _)| r.split_once('-'));
            if let Some((lo, hi)) = range {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = lo <= addr && addr < hi;
                }
            }
        }
        None
    }

    /// A large block is advised to the host as huge pages: its mapping's
    /// flags carry `hg` (on a host whose THP is off there is nothing to
    /// check).
    #[test]
    fn large_blocks_ask_for_huge_pages() {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        if !thp.is_ok_and(|mode| !mode.contains("[never]")) {
            return;
        }
        let block = vec![1u8; 3 * HUGE_BLOCK];
        let flags = vm_flags_at(block.as_ptr() as usize + HUGE_BLOCK).expect("the block is mapped");
        assert!(flags.split_whitespace().any(|f| f == "hg"), "{flags}");
        let small = vec![1u8; HUGE_BLOCK / 4];
        std::hint::black_box((&block, &small));
    }
}
