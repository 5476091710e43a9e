//! OPT (Belady's MIN): evict the page whose next reference lies farthest in
//! the future, pages never referenced again first. No demand-paging policy
//! has fewer faults on any reference string (Belady, "A study of
//! replacement algorithms for a virtual-storage computer", IBM Systems
//! Journal 5(2), 1966; Mattson, Gecsei, Slutz & Traiger 1970 for the
//! proof; Silberschatz OSC 10e §10.4.3). It needs the future, so it is a
//! yardstick for simulations, never a kernel's policy.
//!
//! The future comes from a pre-pass over the workload
//! ([`sim::next_uses`](super::sim::next_uses); for a run of a generator or
//! trace, vmlab-workload's `future` module): `next_use[i]` is the index
//! of the next reference to the page of reference `i`. On a load and on
//! every hit (reference `refs.now()`), the frame's next use becomes
//! `next_use[now]`. A max-heap of (next use, frame) finds the victim; an
//! entry made stale by a later update, an eviction or a removal is
//! recognised by a sequence stamp and skipped when it surfaces. Between
//! evictions every hit pushes an entry, so the heap is compacted (stale
//! entries dropped, in place) whenever it reaches twice the capacity: its
//! storage is reserved once and never grows. Among pages never used again
//! (the only possible tie) the lowest frame goes first.

use super::{FrameId, PageKey, PolicyError, PolicyParams, ReferenceBits, ReplacementPolicy};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Belady's optimal policy over a known reference string.
pub struct Opt {
    next_use: Arc<Vec<u64>>,
    /// Per frame: its page's next use, and the stamp of its live entry.
    next: Vec<u64>,
    stamp: Vec<u64>,
    tracked: Vec<bool>,
    next_stamp: u64,
    /// (next use, frame (lowest first on ties), stamp), largest on top.
    heap: BinaryHeap<(u64, Reverse<FrameId>, u64)>,
    /// Heap length at which stale entries are dropped.
    compact_at: usize,
}

impl Opt {
    /// OPT over `capacity` frames, with the next uses of `params`.
    pub fn new(capacity: usize, params: &PolicyParams) -> Result<Opt, PolicyError> {
        let Some(next_use) = params.next_use.clone() else {
            return Err(PolicyError(
                "opt needs the future: PolicyParams::next_use, the next-use index of every \
                 reference of the workload (from sim::next_uses in a pre-pass), was not given"
                    .into(),
            ));
        };
        let compact_at = 2 * capacity.max(1);
        Ok(Opt {
            next_use,
            next: vec![u64::MAX; capacity],
            stamp: vec![0; capacity],
            tracked: vec![false; capacity],
            next_stamp: 0,
            heap: BinaryHeap::with_capacity(compact_at + 1),
            compact_at,
        })
    }

    /// The next use recorded for `frame` (`u64::MAX`: never).
    pub fn next_use_of(&self, frame: FrameId) -> u64 {
        self.next[frame as usize]
    }

    /// Records that the page in `frame` is referenced at `now`.
    fn record(&mut self, frame: FrameId, now: u64) {
        // A reference beyond the pre-pass (a workload longer than the one
        // analysed) counts as never used again rather than failing.
        let next = usize::try_from(now)
            .ok()
            .and_then(|i| self.next_use.get(i).copied())
            .unwrap_or(u64::MAX);
        let f = frame as usize;
        self.tracked[f] = true;
        self.next[f] = next;
        self.stamp[f] = self.next_stamp;
        if self.heap.len() >= self.compact_at {
            let (tracked, stamp) = (&self.tracked, &self.stamp);
            // In place; afterwards one live entry per resident frame at
            // most (this frame's new one is pushed below).
            self.heap.retain(|&(_, Reverse(g), s)| {
                tracked[g as usize] && stamp[g as usize] == s && g != frame
            });
        }
        self.heap.push((next, Reverse(frame), self.next_stamp));
        self.next_stamp += 1;
    }

    fn live(&self, &(_, Reverse(frame), stamp): &(u64, Reverse<FrameId>, u64)) -> bool {
        self.tracked[frame as usize] && self.stamp[frame as usize] == stamp
    }
}

impl ReplacementPolicy for Opt {
    fn name(&self) -> &'static str {
        "opt"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, refs: &mut dyn ReferenceBits) {
        self.record(frame, refs.now());
    }
    #[inline]
    fn touch(&mut self, frame: FrameId, refs: &mut dyn ReferenceBits) {
        if self.tracked[frame as usize] {
            self.record(frame, refs.now());
        }
    }
    fn wants_touch(&self) -> bool {
        true
    }
    fn remove(&mut self, frame: FrameId) {
        // Its heap entry goes stale and is skipped later.
        self.tracked[frame as usize] = false;
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        match self.next[victim as usize] {
            u64::MAX => format!("optimal: frame {victim}'s page is never used again"),
            next => format!(
                "optimal: frame {victim}'s page is next used at reference {}, farther ahead than any other resident page's",
                next + 1
            ),
        }
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        while let Some(top) = self.heap.pop() {
            if self.live(&top) {
                let (_, Reverse(frame), _) = top;
                self.tracked[frame as usize] = false;
                return Some(frame);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::aging::tests::FakeBits;
    use super::super::sim::{next_uses, ReplacementSim};
    use super::super::{by_name, FrameId, PageKey, PolicyParams, ReferenceBits, ReplacementPolicy};
    use super::*;
    use proptest::prelude::*;

    fn faults(policy: &str, frames: usize, refs: &[u64], tick: u64) -> u64 {
        let params = PolicyParams {
            next_use: Some(next_uses(refs).into()),
            wsclock_tau: 4,
            ..PolicyParams::default()
        };
        let p = by_name(policy, frames, &params).unwrap();
        let mut sim = ReplacementSim::new(p, frames, tick);
        for &r in refs {
            sim.access(r, false);
        }
        sim.stats().faults
    }

    #[test]
    fn beladys_string() {
        // OSC 10e §10.4.3 and Belady, Nelson & Shedler 1969: OPT has 7
        // faults with three frames and 6 with four on this string.
        let belady = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
        assert_eq!(faults("opt", 3, &belady, 0), 7);
        assert_eq!(faults("opt", 4, &belady, 0), 6);
    }

    #[test]
    fn silberschatz_reference_string() {
        // OSC 10e figure 10.14: 9 faults with three frames.
        let refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(faults("opt", 3, &refs, 0), 9);
    }

    #[test]
    fn missing_future_is_an_error_naming_it() {
        let err = by_name("opt", 3, &PolicyParams::default()).err().unwrap();
        assert!(err.0.contains("next_use"), "{err}");
    }

    #[test]
    fn heap_stays_bounded_over_a_long_run_of_hits() {
        // Two pages in two frames, hit 10 000 times: the heap is compacted
        // at 2 × capacity entries.
        let refs: Vec<u64> = (0..10_000).map(|i| i % 2).collect();
        let params = PolicyParams {
            next_use: Some(next_uses(&refs).into()),
            ..PolicyParams::default()
        };
        let mut p = Opt::new(2, &params).unwrap();
        let mut bits = FakeBits::new(2);
        p.insert(0, 0, &mut bits);
        bits.now = 1;
        p.insert(1, 1, &mut bits);
        for i in 2..10_000 {
            bits.now = i;
            p.touch((i % 2) as FrameId, &mut bits);
            assert!(p.heap.len() <= 4);
        }
        // At the last two references both pages have no next use: tie →
        // frame 0 first.
        assert_eq!(p.next_use_of(0), u64::MAX);
        assert_eq!(p.evict(&mut bits), Some(0));
        assert_eq!(p.evict(&mut bits), Some(1));
        assert_eq!(p.evict(&mut bits), None);
    }

    /// Every policy of this helper's set; NAMES also lists the others.
    const POLICIES: &[&str] = &[
        "second-chance",
        "nru",
        "aging",
        "nfu",
        "lfu",
        "random",
        "opt",
        "wsclock",
    ];

    /// A policy wrapped with a model of the frames it should be tracking,
    /// checking every call against it.
    struct Checked {
        inner: Box<dyn ReplacementPolicy>,
        tracked: Vec<bool>,
    }

    impl ReplacementPolicy for Checked {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn insert(&mut self, frame: FrameId, page: PageKey, refs: &mut dyn ReferenceBits) {
            assert!(!self.tracked[frame as usize], "{frame} inserted twice");
            self.tracked[frame as usize] = true;
            self.inner.insert(frame, page, refs);
        }
        fn touch(&mut self, frame: FrameId, refs: &mut dyn ReferenceBits) {
            assert!(self.tracked[frame as usize]);
            self.inner.touch(frame, refs);
        }
        fn wants_touch(&self) -> bool {
            self.inner.wants_touch()
        }
        fn tick(&mut self, refs: &mut dyn ReferenceBits) {
            self.inner.tick(refs);
        }
        fn wants_ticks(&self) -> bool {
            self.inner.wants_ticks()
        }
        fn remove(&mut self, frame: FrameId) {
            self.tracked[frame as usize] = false;
            self.inner.remove(frame);
        }
        fn victim_reason(&self, victim: FrameId) -> String {
            self.inner.victim_reason(victim)
        }
        fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
            let got = self.inner.evict(refs);
            match got {
                Some(f) => {
                    let name = self.inner.name();
                    assert!(
                        self.tracked[f as usize],
                        "{name} evicted untracked frame {f}"
                    );
                    self.tracked[f as usize] = false;
                }
                None => assert!(self.tracked.iter().all(|&t| !t)),
            }
            got
        }
    }

    fn params_for(refs: &[u64], seed: u64, tau: u64) -> PolicyParams {
        PolicyParams {
            seed,
            aging_bits: 3,
            wsclock_tau: tau,
            next_use: Some(next_uses(refs).into()),
            ..PolicyParams::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn opt_never_faults_more(
            refs in prop::collection::vec(0u64..12, 1..150),
            frames in 1usize..6,
        ) {
            let opt = faults("opt", frames, &refs, 0);
            for other in ["fifo", "lru", "clock", "second-chance", "lfu", "random", "nru", "aging", "nfu", "wsclock"] {
                for tick in [0, 3] {
                    let f = faults(other, frames, &refs, tick);
                    prop_assert!(opt <= f, "opt {} > {} {}", opt, other, f);
                }
            }
        }

        #[test]
        fn simulator_invariants_hold_for_every_policy(
            ops in prop::collection::vec((0u64..16, any::<bool>()), 1..200),
            frames in 1usize..7,
            tick in 0u64..5,
            seed in any::<u64>(),
            tau in 0u64..8,
        ) {
            let refs: Vec<u64> = ops.iter().map(|&(p, _)| p).collect();
            let params = params_for(&refs, seed, tau);
            for &name in POLICIES {
                let inner = by_name(name, frames, &params).unwrap();
                let checked = Checked { inner, tracked: vec![false; frames] };
                let mut sim = ReplacementSim::new(Box::new(checked), frames, tick);
                for &(page, write) in &ops {
                    sim.access(page, write);
                    prop_assert!(sim.resident().len() <= frames);
                }
                let s = sim.stats();
                prop_assert_eq!(s.hits + s.faults, refs.len() as u64);
                // Every page resident at the end was referenced.
                prop_assert!(sim.resident().iter().all(|p| refs.contains(p)));
                let distinct = {
                    let mut d = refs.clone();
                    d.sort_unstable();
                    d.dedup();
                    d.len() as u64
                };
                // Every page faults once at least; every fault after the
                // frames filled evicted one (the sim never frees frames).
                prop_assert!(s.faults >= distinct);
                prop_assert_eq!(s.evictions, s.faults - s.faults.min(frames as u64));
            }
        }

        #[test]
        fn removals_never_confuse_a_policy(
            ops in prop::collection::vec((0u8..4, 0u32..6), 1..200),
            seed in any::<u64>(),
        ) {
            // Driven directly, with frames freed behind the policy's back
            // (munmap, exit): op 0 loads a free frame, 1 hits, 2 removes,
            // 3 evicts; now and R/M advance as a kernel's would.
            const FRAMES: usize = 6;
            let refs: Vec<u64> = (0..ops.len() as u64).collect();
            let params = params_for(&refs, seed, 2);
            for &name in POLICIES {
                let inner = by_name(name, FRAMES, &params).unwrap();
                let mut p = Checked { inner, tracked: vec![false; FRAMES] };
                let mut bits = FakeBits::new(FRAMES);
                for (i, &(op, f)) in ops.iter().enumerate() {
                    bits.now = i as u64;
                    let tracked = p.tracked[f as usize];
                    match op {
                        0 if !tracked => {
                            p.insert(f, u64::from(f), &mut bits);
                            bits.set(f, true, i % 3 == 0);
                        }
                        1 if tracked => {
                            if p.wants_touch() {
                                p.touch(f, &mut bits);
                            }
                            bits.r[f as usize] = true;
                        }
                        2 => p.remove(f),
                        3 => {
                            p.evict(&mut bits);
                        }
                        _ => p.tick(&mut bits),
                    }
                }
                while p.evict(&mut bits).is_some() {}
                prop_assert!(p.tracked.iter().all(|&t| !t));
            }
        }
    }
}
