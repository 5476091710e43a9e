//! OPT's future: a pre-pass over a workload whose references are known
//! before it runs (a generator, a trace file), giving each reference the
//! index of the next reference to the same page ([`Future`]), which OPT
//! (Belady's MIN) evicts by.
//!
//! The pre-pass must see exactly the references the policy will, in the
//! same order, since OPT looks the next use up by the run's reference
//! counter (`ReferenceBits::now`): that is every page piece of every
//! access (an access crossing a page boundary is one reference per page),
//! repeats included, system-call records left out. The replacement model
//! counts exactly these, one per [`ReplacementSim::access`]. The full
//! model counts one per access the kernel translates, and in trace mode it
//! translates every page piece, in order: the same indices. A trace with
//! system calls is different in the full model: from its first call on the
//! run replays them, which skips accesses the replayed regions refuse and
//! may put a new page at an old address, so which references the run
//! makes is only known as it runs; OPT is refused there
//! ([`give_futures`]), as it is for a trace that is not a regular file
//! (standard input, a pipe), which cannot be read a second time.
//!
//! The pre-pass holds 8 bytes a reference and an entry per distinct page
//! ([`NextUses`]); one pass serves every run at its page size (a sweep's
//! OPT runs share it), and a budget stops it, with an error, before it
//! outgrows the memory it was given.
//!
//! [`ReplacementSim::access`]: vmlab_kernel::policy::sim::ReplacementSim::access

use crate::driver::{DriverError, Machine, Model};
use crate::sweep::{Reading, Source};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;
use vmlab_kernel::policy::needs_future;
use vmlab_kernel::policy::sim::NextUses;

/// The next use of every reference of a workload at one page size, shared
/// by every run given it.
#[derive(Clone)]
pub struct Future {
    page_bytes: u64,
    next_use: Arc<Vec<u64>>,
    /// System-call records the pre-pass left out.
    system_calls: u64,
}

impl fmt::Debug for Future {
    /// The sizes, not the millions of next uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("page_bytes", &self.page_bytes)
            .field("references", &self.next_use.len())
            .field("system_calls", &self.system_calls)
            .finish()
    }
}

impl Future {
    /// The future of a stream whose references touch the pages `pages`
    /// (page numbers, in order), pages of `page_bytes`: for tests that
    /// make their streams by hand.
    #[cfg(test)]
    pub(crate) fn of_pages(page_bytes: u64, pages: impl IntoIterator<Item = u64>) -> Future {
        let mut next = NextUses::default();
        for page in pages {
            next.push(page).expect("a test's future fits in memory");
        }
        Future {
            page_bytes,
            next_use: Arc::new(next.finish()),
            system_calls: 0,
        }
    }

    /// For reference `i`, the index of the next reference to its page
    /// (`u64::MAX`: none), as OPT takes it.
    pub fn next_use(&self) -> Arc<Vec<u64>> {
        Arc::clone(&self.next_use)
    }
}

/// Why a run cannot be given its workload's future.
#[derive(Debug)]
pub enum FutureError {
    /// Not for this workload, model or memory: why, and what to do instead
    /// (a sentence about OPT, for the caller to place at the policy's
    /// setting).
    Unavailable(String),
    /// The pre-pass could not read the workload (the error names its file
    /// and line).
    Read(DriverError),
}

impl fmt::Display for FutureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FutureError::Unavailable(m) => f.write_str(m),
            FutureError::Read(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FutureError {}

/// Bytes a reference's next use takes.
const BYTES_PER_REFERENCE: u64 = 8;

/// Gives every run of `runs` whose policy needs the future (OPT) the next
/// uses of `source`'s references at its scheme's page size: one pre-pass
/// per page size, read as `reading` says, shared by the runs at that size.
/// A pass whose next uses and page table would outgrow `budget` bytes
/// stops with an error. Runs of other policies are left as they are, and
/// so is everything when none needs the future.
pub fn give_futures<'a>(
    source: &Source,
    runs: impl IntoIterator<Item = (&'a mut Machine, Model)>,
    reading: Reading,
    budget: Option<u64>,
) -> Result<(), FutureError> {
    let mut passes: Vec<Future> = Vec::new();
    for (machine, model) in runs {
        if !needs_future(&machine.policy) {
            continue;
        }
        let page = machine.arch.page_bytes();
        let future = match passes.iter().find(|f| f.page_bytes == page) {
            Some(future) => future.clone(),
            None => {
                let future = pre_pass(source, page, reading, budget)?;
                passes.push(future.clone());
                future
            }
        };
        if model == Model::Full && future.system_calls > 0 {
            return Err(FutureError::Unavailable(format!(
                "{} cannot run this trace in the full model: it records {} system calls, which the full model replays, skipping accesses the replayed regions refuse and mapping new pages at old addresses, so which references the run makes is only known as it runs; use --model replacement, which leaves the calls out, or another policy",
                machine.policy, future.system_calls
            )));
        }
        machine.future = Some(future);
    }
    Ok(())
}

/// The next uses of `source`'s references at `page` bytes a page.
fn pre_pass(
    source: &Source,
    page: u64,
    reading: Reading,
    budget: Option<u64>,
) -> Result<Future, FutureError> {
    if let Some(message) =
        source.read_once_error(2, "opt reads it twice, first to learn its future")
    {
        return Err(FutureError::Unavailable(format!(
            "{message}, or use another policy"
        )));
    }
    let budget = budget.unwrap_or(u64::MAX);
    // After `read` references: all of a workload of known length, or the
    // first of one read until the tables outgrew the room.
    let too_large = |read: usize| {
        let which = match source.references() {
            Some(n) => format!("this workload's {n} references"),
            None => format!("the first {read} references of this workload"),
        };
        let room = if budget == u64::MAX {
            "what vmlab could allocate".to_string()
        } else {
            format!("the {:.1} GiB left", budget as f64 / f64::from(1u32 << 30))
        };
        FutureError::Unavailable(format!(
            "opt needs the next use of every reference ({BYTES_PER_REFERENCE} bytes each) and a table of the pages they touch, which for {which} outgrow {room}; use a shorter workload or another policy"
        ))
    };
    let mut next = NextUses::default();
    if let Some(n) = source.references() {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if (n as u64).saturating_mul(BYTES_PER_REFERENCE) > budget || next.reserve(n).is_err() {
            return Err(too_large(n));
        }
    }
    let mut overflow = false;
    let pass = source
        .for_each_page(page, reading, |vpn| {
            if next.push(vpn).is_err() || next.heap_bytes() > budget {
                overflow = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .map_err(FutureError::Read)?;
    if overflow {
        return Err(too_large(next.len()));
    }
    Ok(Future {
        page_bytes: page,
        next_use: Arc::new(next.finish()),
        system_calls: pass.system_calls,
    })
}
