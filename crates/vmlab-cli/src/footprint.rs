//! What a machine will hold in this host's memory, found before it is
//! built. The binary's allocator counts the bytes it holds
//! ([`CountingAllocator`]); [`refuse_unless_it_fits`] builds the machine
//! twice at small sizes, projects the bytes a frame costs to the frames
//! asked for, and refuses a machine larger than the host's memory with an
//! error that says so, where building it would have aborted on a failed
//! allocation (or thrashed first). The frame table and every policy's
//! state grow linearly with the frames; contents of pages a workload
//! touches come on top, and are the workload's to answer for.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use vmlab_workload::driver::{build_only, Machine, Model};
use vmlab_workload::sweep::model_name;

/// The system allocator, counting for each thread the bytes it allocated
/// less those it freed, and their high-water mark: a machine is built on
/// one thread, so other threads' allocations do not blur its measure.
/// (Memory freed by another thread than its allocator's makes one count
/// too low and the other too high; no build does that.)
pub struct CountingAllocator;

thread_local! {
    /// Bytes allocated less bytes freed by this thread; no destructor, so
    /// readable in the allocator at any time, thread exit included.
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// The most `LIVE` has been since the last [`held_while`] began.
    static PEAK: Cell<i64> = const { Cell::new(0) };
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
unsafe impl GlobalAlloc for CountingAllocator {
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

/// The two sizes the machine is built at to measure it: powers of two,
/// so that tables rounded up to one are rounded alike at both.
const PROBES: [usize; 2] = [1 << 14, 1 << 16];

/// Refuses, with a message, a machine of `frames` frames whose state would
/// not fit in this host's memory; `build` builds (and drops) the machine at
/// a given number of frames, and `what` names it in the message ("the full
/// model with lru"). Machines no larger than the probes, hosts whose
/// memory is unknown, and machines that cannot be built at all (the real
/// build names the setting at fault) pass unmeasured.
pub fn refuse_unless_it_fits<E>(
    frames: usize,
    what: &str,
    build: impl Fn(usize) -> Result<(), E>,
) -> Result<(), String> {
    if frames <= PROBES[1] {
        return Ok(());
    }
    let Some(host) = host_memory() else {
        return Ok(());
    };
    let [small, large] = PROBES.map(|probe| held_while(|| build(probe)));
    let (Some(small), Some(large)) = (small, large) else {
        return Ok(());
    };
    let per_frame = large.saturating_sub(small) as f64 / (PROBES[1] - PROBES[0]) as f64;
    let needed = small as f64 + per_frame * (frames - PROBES[0]) as f64;
    if needed <= host as f64 {
        return Ok(());
    }
    Err(format!(
        "{frames} frames of {what} would take about {} ({per_frame:.0} bytes a frame), more than this machine's {} of memory",
        gib(needed),
        gib(host as f64)
    ))
}

/// [`refuse_unless_it_fits`] for a run of the trace driver: `machine` in
/// `model`.
pub fn refuse_unless_run_fits(machine: &Machine, model: Model) -> Result<(), String> {
    let what = format!("the {} model with {}", model_name(model), machine.policy);
    refuse_unless_it_fits(machine.frames, &what, |frames| {
        let probe = Machine {
            frames,
            ..machine.clone()
        };
        build_only(&probe, model)
    })
}

/// The most bytes held at once, beyond those held before, while `build`
/// ran; `None` if it failed.
fn held_while<E>(build: impl FnOnce() -> Result<(), E>) -> Option<usize> {
    let before = LIVE.get();
    PEAK.set(before);
    build().ok()?;
    usize::try_from(PEAK.get() - before).ok()
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / f64::from(1u32 << 30))
}

/// The memory this process may use: the host's (`MemTotal`), or its
/// control group's limit if lower. `None` where neither can be read.
fn host_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let total = total_kib * 1024;
    // cgroup v2's limit, "max" when there is none.
    let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    Some(limit.map_or(total, |limit| limit.min(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine of 100 bytes a frame: refused when that exceeds the host,
    /// passed otherwise, with the size in the message.
    #[test]
    fn a_machine_larger_than_the_host_is_refused_by_its_projected_size() {
        let host = host_memory().expect("a Linux host says how much memory it has");
        let build = |frames: usize| {
            let state = vec![1u8; frames * 100];
            std::hint::black_box(&state);
            Ok::<(), ()>(())
        };
        let too_many = (host / 100) as usize * 2;
        let err = refuse_unless_it_fits(too_many, "a test machine", build).unwrap_err();
        assert!(err.contains("(100 bytes a frame)"), "{err}");
        assert!(
            err.contains(&format!("{too_many} frames of a test machine")),
            "{err}"
        );
        let fits = (host / 100) as usize / 4;
        assert_eq!(refuse_unless_it_fits(fits, "a test machine", build), Ok(()));
    }

    /// The real build gives the error, naming the setting at fault.
    #[test]
    fn a_machine_that_cannot_be_built_is_left_to_the_build() {
        assert_eq!(refuse_unless_it_fits(1 << 40, "x", |_| Err(())), Ok(()));
    }
}
