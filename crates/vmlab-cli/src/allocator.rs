//! The binary's global allocator: the system's, counting for each thread
//! the bytes held and their high-water mark, so that [`crate::footprint`]
//! can measure what building a machine takes ([`held_while`]).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting for each thread the bytes it allocated
/// less those it freed, and their high-water mark (a machine is built on
/// one thread, so other threads' allocations do not blur its measure;
/// memory freed by another thread than its allocator's makes one count
/// too low and the other too high, which no build does). The simulation's
/// hot loops allocate nothing, so the counting never shows.
pub struct Allocator;

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

fn grew(bytes: usize) {
    let live = LIVE.get() + bytes as i64;
    LIVE.set(live);
    PEAK.set(PEAK.get().max(live));
}

fn shrank(bytes: usize) {
    LIVE.set(LIVE.get() - bytes as i64);
}

// SAFETY: every call is passed to `System` unchanged; the counters only
// observe sizes of calls that succeeded.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
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
                Some(more) => grew(more),
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
}
