//! Random: evict a page chosen uniformly at random among the resident ones,
//! ignoring all history. The baseline every other policy must beat
//! (Belady 1966, "A study of replacement algorithms for a virtual-storage
//! computer", algorithm RAND; Tanenbaum MOS 4e §3.4 lists it as the
//! yardstick). Seeded, so a run is reproducible bit for bit.
//!
//! The generator is SplitMix64 (Steele, Lea & Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014; constants from Vigna's
//! reference `splitmix64.c`), and a draw below `n` uses Lemire's
//! multiply-and-reject method ("Fast random integer generation in an
//! interval", ACM TOMACS 2019), which is exactly uniform.

use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// SplitMix64: a 64-bit state advanced by a Weyl constant and scrambled.
/// Small, fast and good enough for choosing victims; shared with NRU.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed` (every seed, 0 included, is fine).
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n`; `n` must be at least 1 (0 gives 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // The high word of x * n is uniform in 0..n except for the
        // `2^64 mod n` values of x whose low word falls below that
        // threshold; redrawing those removes the bias (Lemire 2019).
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }
}

const NIL: u32 = u32::MAX;

/// The resident frames as a dense array, so a uniform pick is one index.
pub struct RandomPolicy {
    /// Tracked frames, in no meaningful order.
    dense: Vec<FrameId>,
    /// Each frame's index in `dense`, or `NIL`; makes removal O(1).
    pos: Vec<u32>,
    rng: SplitMix64,
}

impl RandomPolicy {
    /// Random replacement over `capacity` frames, seeded with `seed`.
    pub fn new(capacity: usize, seed: u64) -> RandomPolicy {
        RandomPolicy {
            dense: Vec::with_capacity(capacity),
            pos: vec![NIL; capacity],
            rng: SplitMix64::new(seed),
        }
    }

    /// Takes the entry at `i` out of `dense` by moving the last one into
    /// its place (order does not matter, only membership).
    fn take(&mut self, i: usize) -> FrameId {
        let frame = self.dense.swap_remove(i);
        if let Some(&moved) = self.dense.get(i) {
            self.pos[moved as usize] = i as u32;
        }
        self.pos[frame as usize] = NIL;
        frame
    }
}

impl ReplacementPolicy for RandomPolicy {
    fn name(&self) -> &'static str {
        "random"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        if self.pos[frame as usize] != NIL {
            return;
        }
        self.pos[frame as usize] = self.dense.len() as u32;
        // Within the capacity reserved at construction: no allocation.
        self.dense.push(frame);
    }
    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
    fn wants_touch(&self) -> bool {
        false
    }
    fn remove(&mut self, frame: FrameId) {
        let i = self.pos[frame as usize];
        if i != NIL {
            self.take(i as usize);
        }
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        if self.dense.is_empty() {
            return None;
        }
        let i = self.rng.below(self.dense.len() as u64) as usize;
        Some(self.take(i))
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "drawn uniformly at random (seeded): frame {victim}, one of {} resident pages",
            self.dense.len() + 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_outputs() {
        // The first outputs of Vigna's splitmix64.c seeded with 0.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(g.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut g = SplitMix64::new(7);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[g.below(6) as usize] += 1;
        }
        // Expected 10 000 each; a fair die stays within ±5 % (about 5
        // standard deviations) with overwhelming probability.
        for c in counts {
            assert!((9_500..=10_500).contains(&c), "{counts:?}");
        }
        assert_eq!(g.below(1), 0);
    }

    /// Pages evicted, in order, by random replacement with 4 frames over
    /// a cyclic string of 10 pages (every reference after the first 4
    /// faults, so every reference after warm-up evicts).
    fn victims(seed: u64) -> Vec<u64> {
        let params = PolicyParams {
            seed,
            ..PolicyParams::default()
        };
        let mut sim = ReplacementSim::new(by_name("random", 4, &params).unwrap(), 4, 0);
        let mut out = Vec::new();
        let mut before = Vec::new();
        for i in 0..200u64 {
            sim.access(i % 10, false);
            let now = sim.resident();
            out.extend(before.iter().filter(|p| !now.contains(p)));
            before = now;
        }
        out
    }

    #[test]
    fn same_seed_same_run_other_seed_other_run() {
        let a = victims(1);
        assert_eq!(a.len(), 200 - 4 - count_hits(1));
        assert_eq!(a, victims(1));
        assert_ne!(a, victims(2));
        assert_ne!(a, victims(3));
    }

    fn count_hits(seed: u64) -> usize {
        let params = PolicyParams {
            seed,
            ..PolicyParams::default()
        };
        let mut sim = ReplacementSim::new(by_name("random", 4, &params).unwrap(), 4, 0);
        (0..200u64).filter(|i| sim.access(i % 10, false)).count()
    }

    #[test]
    fn evicts_only_tracked_frames_and_none_when_empty() {
        struct NoBits;
        impl ReferenceBits for NoBits {
            fn referenced(&mut self, _: FrameId) -> bool {
                false
            }
            fn clear_referenced(&mut self, _: FrameId) {}
            fn dirty(&mut self, _: FrameId) -> bool {
                false
            }
            fn write_back(&mut self, _: FrameId) {}
            fn now(&self) -> u64 {
                0
            }
        }
        let mut p = RandomPolicy::new(5, 9);
        for f in 0..5 {
            p.insert(f, u64::from(f), &mut NoBits);
        }
        p.remove(2);
        p.remove(4);
        let mut got: Vec<FrameId> = (0..3).map(|_| p.evict(&mut NoBits).unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 3]);
        assert_eq!(p.evict(&mut NoBits), None);
    }
}
