//! Page replacement: the [`ReplacementPolicy`] trait every policy
//! implements, one file per policy, [`by_name`] to choose one
//! ([`spec::from_spec`] with its parameters, `aging:bits=4`), and
//! [`sim`], a replacement-only model (which pages are resident, nothing
//! else) that drives a policy over a reference string.
//!
//! A policy tracks the frames it has been given by [`FrameId`], a dense
//! index `0..capacity`, so its state lives in flat vectors and the hot path
//! allocates nothing. It learns of events through the trait's methods:
//! a page loaded into a frame ([`insert`](ReplacementPolicy::insert)), a hit
//! on a resident page ([`touch`](ReplacementPolicy::touch), for policies that
//! assume exact knowledge of every reference, like LRU and ARC), a periodic
//! clock tick ([`tick`](ReplacementPolicy::tick), for aging and NFU), a frame
//! freed without eviction ([`remove`](ReplacementPolicy::remove)), and the
//! request for a victim ([`evict`](ReplacementPolicy::evict)).
//!
//! Policies that real kernels drive from the hardware's accessed and dirty
//! bits (second chance, Clock, NRU, aging, NFU, WSClock, Linux's lists)
//! read and clear those bits through [`ReferenceBits`]: in the full model
//! that means reading and clearing the simulated page-table entries through
//! the reverse map (and invalidating the TLB entry), never a side channel.

pub mod aging;
pub mod arc;
pub mod bit_table;
pub mod clock;
pub mod fifo;
pub mod ghost;
pub mod key_index;
pub mod lfu;
pub mod linux;
pub mod list;
pub mod lru;
pub mod nfu;
pub mod nru;
pub mod opt;
pub mod page_index;
pub mod random;
pub mod recency;
pub mod s3fifo;
pub mod second_chance;
pub mod sieve;
pub mod sim;
pub mod spec;
pub mod two_q;
pub mod wsclock;

use std::fmt;

/// A frame's index among the frames a policy manages: `0..capacity`.
pub type FrameId = u32;

/// Identity of a page, stable across eviction (address space and virtual
/// page, file and offset, or shared object and index), for policies that
/// remember evicted pages (ARC's and 2Q's ghost lists, S3-FIFO's ghost
/// queue). A page shared after fork has the key of one process that maps
/// it, passed on when that process lets go ([`ReplacementPolicy::rekey`]),
/// so no two resident pages share a key.
pub type PageKey = u64;

/// The hardware state a policy may consult, as the kernel sees it.
pub trait ReferenceBits {
    /// Whether the page in `frame` was referenced since the bit was last
    /// cleared (any mapping's accessed flag).
    fn referenced(&mut self, frame: FrameId) -> bool;
    /// Clears the referenced state of `frame` (every mapping's accessed
    /// flag; the full model also invalidates the TLB entries).
    fn clear_referenced(&mut self, frame: FrameId);
    /// Whether the page in `frame` has been modified since it was loaded or
    /// last written back.
    fn dirty(&mut self, frame: FrameId) -> bool;
    /// Starts writing the dirty page in `frame` back, leaving it resident
    /// and clean (WSClock schedules writes instead of evicting dirty pages).
    fn write_back(&mut self, frame: FrameId);
    /// Virtual time: references so far (the index of the current one).
    fn now(&self) -> u64;

    /// Reads and clears the referenced state in one step.
    fn test_and_clear_referenced(&mut self, frame: FrameId) -> bool {
        let was = self.referenced(frame);
        if was {
            self.clear_referenced(frame);
        }
        was
    }
}

/// One page-replacement algorithm.
pub trait ReplacementPolicy: Send {
    /// The name [`by_name`] knows it by.
    fn name(&self) -> &'static str;

    /// The page `page` was just loaded into `frame` (free until now).
    fn insert(&mut self, frame: FrameId, page: PageKey, refs: &mut dyn ReferenceBits);

    /// A reference hit the resident page in `frame`. Only policies that
    /// assume exact knowledge of references use it; the kernel skips the
    /// call when [`wants_touch`](ReplacementPolicy::wants_touch) is false.
    fn touch(&mut self, frame: FrameId, refs: &mut dyn ReferenceBits);

    /// Whether [`touch`](ReplacementPolicy::touch) does anything.
    fn wants_touch(&self) -> bool;

    /// Whether touches collapse: a run of touches with no other call
    /// between leaves the policy as touching each frame once, in the order
    /// of its last touch, would. So it is where a touch only moves its
    /// frame to the most recent end of a list it names or sets a flag (LRU,
    /// ARC's T2, 2Q's Am, SIEVE's visited bit), and touching a frame twice
    /// in a row changes nothing. The kernel then holds touches back
    /// (dropping repeats, keeping each frame's last) until the policy's
    /// next other call, and the replacement model skips the repeats of a
    /// run of references to one page. False where every reference counts
    /// (LFU, OPT, S3-FIFO's frequency).
    fn touches_collapse(&self) -> bool {
        false
    }

    /// Hints the host cache to load what touching or evicting `frame` will
    /// read of the policy's state; changes nothing. A caller that knows
    /// the frame some accesses ahead calls it so the policy finds its state
    /// cached (see `vmlab_hw::prefetch`).
    fn prefetch(&self, _frame: FrameId) {}

    /// Hints the host cache to load what a miss on any of `pages`, coming
    /// next, would read of the policy's history (its ghost lists' index
    /// slots, where it keeps one); changes nothing.
    fn prefetch_pages(&self, _pages: &[PageKey]) {}

    /// How many evictions ahead a caller that prefetches by
    /// [`upcoming_victim`](ReplacementPolicy::upcoming_victim) should ask
    /// (at least 1): as far as the guesses pay for what reading them
    /// costs. Two for FIFO, ARC and S3-FIFO, whose removals then find
    /// their slots loaded more often; one for the rest (LRU's guess two
    /// ahead reads more of its log on every eviction than the earlier
    /// loading saves: 1.04 of the time on Zipf 5 M).
    fn victims_ahead(&self) -> usize {
        1
    }

    /// The frame the eviction `ahead` evictions from now would most
    /// likely choose (0: the next [`evict`](ReplacementPolicy::evict)), if
    /// nothing happened before it but those evictions, where the policy
    /// can tell without changing anything: a hint to prefetch by, never
    /// relied on. A caller that knows victims a few evictions ahead can
    /// start loading what removing their pages will read in time.
    /// `referenced` is each frame's referenced bit, where the caller holds
    /// the bits in a plain array (the replacement model; the kernel's are
    /// in page tables, too far to read for a hint). Exact for FIFO, and
    /// for LRU unless a frame ahead is touched first; S3-FIFO names the
    /// victims it would take from its small queue. ARC guesses from the
    /// list `REPLACE` takes from now, and misses when the page coming in
    /// is a ghost that moves its target. Clock guesses the next victim
    /// only: it needs the bits, and misses when a reference sets the
    /// guessed frame's bit before the sweep gets there.
    fn upcoming_victim(&self, _referenced: Option<&[bool]>, _ahead: usize) -> Option<FrameId> {
        None
    }

    /// A periodic clock interrupt (every [`PolicyParams::tick_interval`]
    /// references): aging, NFU and NRU sample and clear reference bits here.
    fn tick(&mut self, _refs: &mut dyn ReferenceBits) {}

    /// Whether [`tick`](ReplacementPolicy::tick) does anything: the
    /// kernel's clock interrupt reaches only policies that sample
    /// reference bits, so the others' explanations show no tick.
    fn wants_ticks(&self) -> bool {
        false
    }

    /// The page in `frame` is gone without eviction (unmapped, process
    /// exit); the frame is free again.
    fn remove(&mut self, frame: FrameId);

    /// If the page in `frame` is known by `from`, it is known by `to` from
    /// now on: the process whose page it was let go of it (a copy-on-write
    /// copy of its own, an unmap, an exec) while another still maps it.
    /// Without this, a later page of that process at that address would
    /// share the key, and a ghost of either would stand for both. Only a
    /// policy that remembers evicted pages by key keeps keys (ARC, 2Q,
    /// S3-FIFO); the rest ignore it.
    fn rekey(&mut self, _frame: FrameId, _from: PageKey, _to: PageKey) {}

    /// The key the page in `frame` is known by, for a policy that keeps
    /// keys (see [`rekey`](ReplacementPolicy::rekey)), while it tracks the
    /// frame and after it chose the frame as a victim, until the frame is
    /// inserted again: a victim the kernel cannot evict after all (dirty
    /// with swap full, or pinned) goes back under the key it had.
    fn key_of(&self, _frame: FrameId) -> Option<PageKey> {
        None
    }

    /// Chooses the frame to evict and forgets it. `None` only when the
    /// policy tracks no frame.
    fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId>;

    /// Chooses the frame to evict to make room for `page`, which is about
    /// to be inserted. Policies whose choice depends on the missing page
    /// (ARC's REPLACE asks whether it is a B2 ghost) override this; the
    /// rest choose as [`evict`](ReplacementPolicy::evict) does.
    fn evict_for(&mut self, page: PageKey, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        let _ = page;
        self.evict(refs)
    }

    /// Why the last [`evict`](ReplacementPolicy::evict) chose `victim`, in
    /// the policy's own terms ("least recently used", "the hand found the
    /// referenced bit clear at frame 7 after clearing 2"). Asked only while
    /// explaining, right after the choice, so a policy keeps at most a few
    /// numbers about its last search.
    fn victim_reason(&self, victim: FrameId) -> String;
}

/// Knobs some policies take. Every policy is deterministic for given
/// parameters.
#[derive(Clone, Debug)]
pub struct PolicyParams {
    /// Seed of the random policy (and of NRU's choice within a class).
    pub seed: u64,
    /// Bits of the aging counter.
    pub aging_bits: u8,
    /// References between clock ticks (aging, NFU, NRU).
    pub tick_interval: u64,
    /// WSClock's working-set window τ, in references.
    pub wsclock_tau: u64,
    /// For OPT: for reference `i` of the workload, the index of the next
    /// reference to the same page (`u64::MAX` for never), computed in a
    /// pre-pass ([`sim::next_uses`], [`sim::NextUses`]). A `Vec` behind
    /// the `Arc`, not a slice: a pre-pass over a trace of unknown length
    /// grows it in place, and turning it into an `Arc<[u64]>` would copy
    /// it, twice its 8 bytes a reference at once.
    pub next_use: Option<std::sync::Arc<Vec<u64>>>,
    /// 2Q's `Kin`, the threshold on `A1in`, as a fraction of the frames
    /// (Johnson and Shasha recommend 25%).
    pub two_q_kin: f64,
    /// 2Q's `Kout`, the length of `A1out`, as a fraction of the frames
    /// (recommended: 50%).
    pub two_q_kout: f64,
    /// S3-FIFO's small queue as a fraction of the frames (Yang et al.:
    /// 10%).
    pub s3fifo_small: f64,
}

impl Default for PolicyParams {
    fn default() -> PolicyParams {
        PolicyParams {
            seed: 1,
            aging_bits: 8,
            tick_interval: 1000,
            wsclock_tau: 10_000,
            next_use: None,
            two_q_kin: 0.25,
            two_q_kout: 0.5,
            s3fifo_small: 0.1,
        }
    }
}

/// Whether the policy called `name` needs the workload's future
/// ([`PolicyParams::next_use`]): OPT, which only a workload known before
/// it runs can be given.
pub fn needs_future(name: &str) -> bool {
    name == "opt"
}

/// A policy that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// The names [`by_name`] accepts.
pub const NAMES: &[&str] = &[
    "fifo",
    "lru",
    "clock",
    "second-chance",
    "nru",
    "aging",
    "nfu",
    "lfu",
    "random",
    "opt",
    "wsclock",
    "arc",
    "2q",
    "linux",
    "sieve",
    "s3-fifo",
];

/// The renaming half of [`ReplacementPolicy::rekey`] for a policy that
/// keeps the key of each frame's page in `page_of`: if the page in `frame`
/// is known by `from`, it is known by `to` from now on. Returns whether it
/// was renamed.
fn rename_key(page_of: &mut [PageKey], frame: FrameId, from: PageKey, to: PageKey) -> bool {
    let page = &mut page_of[frame as usize];
    let renamed = *page == from;
    if renamed {
        *page = to;
    }
    renamed
}

/// The policy called `name` for `capacity` frames.
pub fn by_name(
    name: &str,
    capacity: usize,
    params: &PolicyParams,
) -> Result<Box<dyn ReplacementPolicy>, PolicyError> {
    if capacity == 0 || capacity > u32::MAX as usize {
        return Err(PolicyError(format!(
            "a policy needs 1 to {} frames, not {capacity}",
            u32::MAX
        )));
    }
    // ARC remembers up to 2c + 1 evicted pages, 2Q and S3-FIFO up to c + 1.
    if matches!(name, "arc" | "2q" | "s3-fifo") && 2 * capacity + 1 > ghost::MAX_KEYS {
        return Err(PolicyError(format!(
            "{name} remembers up to twice as many evicted pages as it has frames, so it takes at most {} frames, not {capacity}",
            (ghost::MAX_KEYS - 1) / 2
        )));
    }
    Ok(match name {
        "fifo" => Box::new(fifo::Fifo::new(capacity)),
        "lru" => Box::new(lru::Lru::new(capacity)),
        "clock" => Box::new(clock::Clock::new(capacity)),
        "second-chance" => Box::new(second_chance::SecondChance::new(capacity)),
        "nru" => Box::new(nru::Nru::new(capacity, params.seed)),
        "aging" => Box::new(aging::Aging::new(capacity, params.aging_bits)?),
        "nfu" => Box::new(nfu::Nfu::new(capacity)),
        "lfu" => Box::new(lfu::Lfu::new(capacity)),
        "random" => Box::new(random::RandomPolicy::new(capacity, params.seed)),
        "opt" => Box::new(opt::Opt::new(capacity, params)?),
        "wsclock" => Box::new(wsclock::WsClock::new(capacity, params.wsclock_tau)),
        "arc" => Box::new(arc::ArcPolicy::new(capacity)),
        "2q" => Box::new(two_q::TwoQ::from_params(capacity, params)?),
        "linux" => Box::new(linux::LinuxLists::new(capacity)),
        "sieve" => Box::new(sieve::Sieve::new(capacity)),
        "s3-fifo" => Box::new(s3fifo::S3Fifo::from_params(capacity, params)?),
        _ => return Err(unknown_policy(name)),
    })
}

/// The error for a policy name vmlab does not know.
fn unknown_policy(name: &str) -> PolicyError {
    PolicyError(format!(
        "unknown replacement policy {name:?}; expected one of {}",
        NAMES.join(", ")
    ))
}
