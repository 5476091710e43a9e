//! A cache prefetch hint: [`prefetch`] asks the host processor to start
//! loading the cache line of a value the simulator will read soon.
//!
//! A simulated machine keeps its page tables, frame table and policy lists
//! in host memory far larger than the host's caches, so on a workload with
//! no locality nearly every structure an access reads is a cache miss.
//! When the caller knows an address some accesses ahead (a trace is read
//! in chunks), a hint issued then overlaps those misses with the work in
//! between instead of waiting for each in turn.
//!
//! This is the workspace's second use of `unsafe` (the first maps trace
//! files, in vmlab-workload): the prefetch intrinsic
//! is marked unsafe only because it is a `target_feature` function. A
//! prefetch has no architectural effect (Intel SDM Vol. 2B, PREFETCHh: "a
//! hint to the processor"; it never faults, whatever the address), and the
//! address here comes from a live reference. On other host architectures
//! the hint does nothing.
#![allow(unsafe_code)]

/// Hints that `value` will be read soon: starts loading its first cache
/// line into all cache levels. Costs one instruction and changes nothing
/// the program can observe.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 only hints the cache; SSE, which the intrinsic's
    // `target_feature` names, is part of every x86-64 processor.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
