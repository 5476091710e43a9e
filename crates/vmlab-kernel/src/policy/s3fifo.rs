//! S3-FIFO, as defined by J. Yang, Y. Zhang, Z. Qiu, Y. Yue and
//! K. V. Rashmi, "FIFO queues are all you need for cache eviction", ACM
//! SOSP 2023, Algorithm 1 (with section 4's text for what the pseudocode
//! leaves out).
//!
//! Three FIFO queues: a small queue `S` (10% of the frames by default),
//! a main queue `M` (the rest) and a ghost queue `G` of keys, as long as
//! `M`'s share. Each page has a 2-bit frequency, capped at 3, that a hit
//! increments; new pages start at 0. A miss whose key is in `G` enters
//! `M`, any other enters `S`. To evict: if `|S| ≥ 0.1·c`, `EVICTS` takes
//! the tail of `S`: with `freq > 1` it moves to `M` (its bits cleared
//! during the move, section 4.2) and the next tail is tried; otherwise its
//! key goes to `G` and it is evicted. Else `EVICTM` takes the tail of
//! `M`: with `freq > 0` it is reinserted at the head with `freq - 1`,
//! otherwise evicted. Most pages seen once leave from `S` quickly (quick
//! demotion); only pages seen again reach `M`.
//!
//! Details, and where libCacheSim (`S3FIFO.c`, `S3FIFOv0.c`) differs:
//! - Promotion from `S` needs `freq > 1` (Algorithm 1 line 23), which is
//!   libCacheSim's default `move-to-main-threshold=2`; the paper's text
//!   ("accessed more than once") reads the same.
//! - `|S| ≥ 0.1·c` is compared as a real number, so `S`'s share is
//!   `⌈0.1·c⌉`; libCacheSim sizes `S` as `⌊0.1·c⌋`. They agree whenever
//!   `0.1·c` is whole (e.g. 10% of 1 M or 100 k frames).
//! - When moving a page to `M` makes `M` full, Algorithm 1 calls `EVICTM`
//!   at once, evicting a second page in the same `EVICT`. One call of
//!   [`evict`](ReplacementPolicy::evict) returns one frame, so this
//!   follows libCacheSim instead: `M` may exceed its share by the pages
//!   moved, and the next eviction, finding `|S|` below its share, takes
//!   from `M`. The page `M` loses is the same; it leaves one miss later.
//! - A key found in `G` stays there (Algorithm 1 never removes it; it ages
//!   out); libCacheSim removes it.
//! - The miss is checked against `G` after the eviction (Algorithm 1's
//!   order, `INSERT` evicts first); libCacheSim checks before, which only
//!   differs when that eviction pushes the key itself out of a full `G`.
//! - All misses go to `S` until `G` knows a key, as in Algorithm 1 and
//!   `S3FIFOv0.c`; the newer `S3FIFO.c` sends them to `M` once `S` is full
//!   before the first eviction.

use super::ghost::GhostList;
use super::recency::RecencyLogs;
use super::{
    rename_key, FrameId, PageKey, PolicyError, PolicyParams, ReferenceBits, ReplacementPolicy,
};

/// The small FIFO, oldest (tail) first.
const SMALL: usize = 0;
/// The main FIFO, oldest (tail) first.
const MAIN: usize = 1;
/// The cap of the 2-bit counter.
const MAX_FREQ: u8 = 3;
/// Pages of `S` a victim hint looks at, at most.
const HINT_REACH: usize = 16;

/// S3-FIFO over a fixed number of frames.
pub struct S3Fifo {
    /// `S` and `M` as logs, so the victim hint reads the pages next to
    /// leave in order rather than chasing links from frame to frame.
    lists: RecencyLogs,
    freq: Vec<u8>,
    page_of: Vec<PageKey>,
    ghost: GhostList,
    /// The smallest `|S|` with `|S| ≥ fraction · c`.
    small_share: usize,
    /// The last victim came from the small queue (for the explanation).
    last_from_small: bool,
}

impl S3Fifo {
    /// S3-FIFO over `capacity` frames with `S` taking `small_fraction` of
    /// them (the paper uses 0.1); `G` remembers as many keys as `M`'s
    /// share.
    pub fn new(capacity: usize, small_fraction: f64) -> S3Fifo {
        let small_share = ((small_fraction * capacity as f64).ceil() as usize).min(capacity);
        S3Fifo {
            lists: RecencyLogs::new(capacity, 2),
            freq: vec![0; capacity],
            page_of: vec![0; capacity],
            ghost: GhostList::new(capacity - small_share),
            small_share,
            last_from_small: false,
        }
    }

    /// S3-FIFO with [`PolicyParams::s3fifo_small`], a fraction in `0..=1`.
    pub fn from_params(capacity: usize, params: &PolicyParams) -> Result<S3Fifo, PolicyError> {
        let small = params.s3fifo_small;
        if !(0.0..=1.0).contains(&small) {
            return Err(PolicyError(format!(
                "s3-fifo: the small queue must be a fraction of the frames from 0 to 1, not {small}"
            )));
        }
        Ok(S3Fifo::new(capacity, small))
    }

    /// `(|S|, |M|, |G|)`.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (
            self.lists.len(SMALL),
            self.lists.len(MAIN),
            self.ghost.len(),
        )
    }

    /// `EVICTS`: promotes tails seen more than once, evicts the first that
    /// was not. `None` if `S` empties without an eviction.
    fn evict_small(&mut self) -> Option<FrameId> {
        while let Some(t) = self.lists.front(SMALL) {
            if self.freq[t as usize] > 1 {
                self.lists.move_to_back(MAIN, t);
                self.freq[t as usize] = 0;
            } else {
                self.lists.unlink(t);
                self.ghost.push(self.page_of[t as usize]);
                self.last_from_small = true;
                return Some(t);
            }
        }
        None
    }

    /// `EVICTM`: FIFO-reinsertion with the counter as a 2-bit clock; ends
    /// within three passes, as every reinsertion decrements a counter.
    fn evict_main(&mut self) -> Option<FrameId> {
        while let Some(t) = self.lists.front(MAIN) {
            let f = &mut self.freq[t as usize];
            if *f > 0 {
                *f -= 1;
                self.lists.move_to_back(MAIN, t);
            } else {
                self.lists.unlink(t);
                self.last_from_small = false;
                return Some(t);
            }
        }
        None
    }
}

impl ReplacementPolicy for S3Fifo {
    fn name(&self) -> &'static str {
        "s3-fifo"
    }

    fn insert(&mut self, frame: FrameId, page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.page_of[frame as usize] = page;
        self.freq[frame as usize] = 0;
        let list = if self.ghost.contains(page) {
            MAIN
        } else {
            SMALL
        };
        self.lists.push_back(list, frame);
    }

    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        let f = &mut self.freq[frame as usize];
        *f = (*f + 1).min(MAX_FREQ);
    }

    fn wants_touch(&self) -> bool {
        true
    }

    fn remove(&mut self, frame: FrameId) {
        self.lists.unlink(frame);
    }

    fn rekey(&mut self, frame: FrameId, from: PageKey, to: PageKey) {
        rename_key(&mut self.page_of, frame, from, to);
    }

    fn key_of(&self, frame: FrameId) -> Option<PageKey> {
        self.page_of.get(frame as usize).copied()
    }

    fn victim_reason(&self, victim: FrameId) -> String {
        if self.last_from_small {
            format!("frame {victim} left the small FIFO queue without being referenced again since it entered (its key goes to the ghost queue)")
        } else {
            format!("frame {victim} reached the front of the main FIFO queue with its frequency counter worn down to 0")
        }
    }
    fn prefetch_pages(&self, pages: &[PageKey]) {
        for &page in pages {
            self.ghost.prefetch(page);
        }
    }
    fn prefetch(&self, frame: FrameId) {
        self.lists.prefetch(frame);
        if let Some(page) = self.page_of.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(page);
        }
    }
    fn victims_ahead(&self) -> usize {
        2
    }
    /// While `S` holds its share, `EVICTS` takes its victims from `S` in
    /// order, passing over the pages seen more than once (they move to
    /// `M`): the `ahead`-th page of `S` not seen more than once, if no
    /// hit changes a counter first and `S` keeps its share (a miss found
    /// in `G` enters `M`, and then the next victim may come from `M`).
    /// Victims from `M` are not guessed, but with `S` one short of its
    /// share (after such a miss) the next victim comes from `M` and the
    /// miss it makes room for refills `S`, so the ones after it are `S`'s
    /// again: guessed a victim later, which keeps the simulator loading
    /// them evictions ahead.
    fn upcoming_victim(&self, _referenced: Option<&[bool]>, ahead: usize) -> Option<FrameId> {
        let small = self.lists.len(SMALL);
        let ahead = if small >= self.small_share {
            ahead
        } else if small + 1 == self.small_share && ahead > 0 {
            ahead - 1
        } else {
            return None;
        };
        // A loop rather than `filter(..).nth(ahead)`, which compiled to
        // half as many instructions again on this per-eviction path.
        let mut passed = 0;
        for frame in self.lists.frames(SMALL).take(HINT_REACH) {
            if self.freq[frame as usize] <= 1 {
                if passed == ahead {
                    return Some(frame);
                }
                passed += 1;
            }
        }
        None
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        if self.lists.len(SMALL) >= self.small_share && !self.lists.is_empty(SMALL) {
            if let Some(victim) = self.evict_small() {
                return Some(victim);
            }
            // Every page of S moved to M: EVICT runs again, and with S
            // empty it takes from M.
        }
        // M empty (only after removals) leaves S's tail as the victim. S
        // below its share may also promote every page to M (a process's
        // own policy under local replacement tracks far fewer frames than
        // its capacity): then M has them, and gives the victim.
        self.evict_main()
            .or_else(|| self.evict_small())
            .or_else(|| self.evict_main())
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::*;

    fn sim(frames: usize, small: f64) -> ReplacementSim {
        ReplacementSim::new(Box::new(S3Fifo::new(frames, small)), frames, 0)
    }

    fn resident(s: &ReplacementSim) -> Vec<u64> {
        let mut r = s.resident();
        r.sort_unstable();
        r
    }

    /// One-hit wonders leave from S; a page seen three times (freq 2 > 1)
    /// moves to M. Five frames, S's share 2 (fraction 0.4), G holds 3.
    /// Traced by hand (queues tail first, freq in brackets):
    ///
    /// ```text
    /// x  S                    M      G      note
    /// 1  1                    -      -
    /// 2  1 2                  -      -
    /// 2  1 2[1]               -      -      hit
    /// 2  1 2[2]               -      -      hit
    /// 3  1 2[2] 3             -      -
    /// 4  1 2[2] 3 4           -      -
    /// 5  1 2[2] 3 4 5         -      -      full (all misses go to S)
    /// 6  2[2] 3 4 5 6         -      1      |S| = 5 ≥ 2: tail 1 (freq 0)
    ///                                       is ghosted and evicted
    /// 7  4 5 6 7              2      1 3    tail 2 has freq 2 > 1: to M
    ///                                       with freq 0; then 3 goes
    /// 1  5 6 7                2 1    1 3 4  1 is in G: enters M; S's
    ///                                       tail 4 made the room
    /// ```
    #[test]
    fn one_hit_wonders_leave_from_small() {
        let mut s = sim(5, 0.4);
        for x in [1, 2, 2, 2, 3, 4, 5] {
            s.access(x, false);
        }
        s.access(6, false);
        assert_eq!(resident(&s), [2, 3, 4, 5, 6]);
        s.access(7, false);
        assert_eq!(resident(&s), [2, 4, 5, 6, 7]);
        assert!(!s.access(1, false));
        assert_eq!(resident(&s), [1, 2, 5, 6, 7]);
        // A scan of new pages now cycles through S only: M keeps 1 and 2.
        for x in 100..150 {
            assert!(!s.access(x, false));
        }
        assert_eq!(resident(&s), [1, 2, 147, 148, 149]);
        assert!(s.access(1, false) && s.access(2, false));
    }

    /// A page seen only twice (freq 1) is not enough for Algorithm 1's
    /// `freq > 1`: it is ghosted like a one-hit wonder, and enters M
    /// directly on its next miss. Four frames, S's share 1 (⌈0.4⌉), G 3:
    ///
    /// ```text
    /// 1 1 2 3 4  S: 1[1] 2 3 4
    /// 5          tail 1 has freq 1: ghosted, evicted. S: 2 3 4 5, G: 1
    /// 1          |S| = 4 ≥ 1: tail 2 ghosted. 1 in G → M. S: 3 4 5, M: 1
    /// ```
    #[test]
    fn two_references_are_not_enough_for_main() {
        let mut p = S3Fifo::new(4, 0.1);
        assert_eq!(p.small_share, 1);
        let mut s = sim(4, 0.1);
        for x in [1, 1, 2, 3, 4, 5] {
            s.access(x, false);
        }
        assert_eq!(resident(&s), [2, 3, 4, 5]);
        assert!(!s.access(1, false));
        assert_eq!(resident(&s), [1, 3, 4, 5]);
        // The struct's own counts for the same steps.
        let mut bits = NoBits;
        for (f, x) in [1, 2, 3, 4].into_iter().enumerate() {
            p.insert(f as FrameId, x, &mut bits);
        }
        p.touch(0, &mut bits);
        assert_eq!(p.evict(&mut bits), Some(0));
        p.insert(0, 5, &mut bits);
        assert_eq!(p.evict(&mut bits), Some(1));
        p.insert(1, 1, &mut bits);
        assert_eq!(p.sizes(), (3, 1, 2));
    }

    /// M is a 2-bit clock: reinsertion decrements, the counter caps at 3.
    /// Four frames, S's share 1, G holds 3; driven on the struct so S can
    /// be emptied. Pages a..f are 1..6, queues tail first:
    ///
    /// ```text
    /// a b c d        S a b c d
    /// evict, e       a ghosted:           S b c d e      G a
    /// evict, a       b ghosted, a in G:   S c d e  M a   G a b
    /// evict, b       c ghosted:           S d e    M a b G a b c
    /// evict, c       d ghosted (G forgets a): S e  M a b c
    /// hits: a ×4 (freq 3, capped), b ×1 (freq 1)
    /// evict          |S| = 1 ≥ 1: e goes
    /// evict          |S| = 0: M: a[3] → head as a[2], b[1] → b[0],
    ///                c[0] goes
    /// evict          a[2] → a[1], b[0] goes
    /// ```
    #[test]
    fn main_is_a_two_bit_clock() {
        let mut p = S3Fifo::new(4, 0.1);
        let mut bits = NoBits;
        let mut frame_of = std::collections::HashMap::new();
        for (f, x) in [1, 2, 3, 4].into_iter().enumerate() {
            p.insert(f as FrameId, x, &mut bits);
            frame_of.insert(x, f as FrameId);
        }
        for (gone, x) in [(1, 5), (2, 1), (3, 2), (4, 3)] {
            let f = p.evict(&mut bits).unwrap();
            assert_eq!(p.page_of[f as usize], gone);
            p.insert(f, x, &mut bits);
            frame_of.insert(x, f);
        }
        assert_eq!(p.sizes(), (1, 3, 3));
        for _ in 0..4 {
            p.touch(frame_of[&1], &mut bits);
        }
        p.touch(frame_of[&2], &mut bits);
        assert_eq!(p.freq[frame_of[&1] as usize], 3);
        let mut victim = || {
            let f = p.evict(&mut bits).unwrap();
            p.page_of[f as usize]
        };
        assert_eq!([victim(), victim(), victim()], [5, 3, 2]);
        assert_eq!(p.freq[frame_of[&1] as usize], 1);
        assert_eq!(p.sizes(), (0, 1, 3));
    }

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
}

/// Tests across this family of policies (ARC, 2Q, Linux's lists, SIEVE,
/// S3-FIFO) and the baselines they are measured against.
#[cfg(test)]
mod cross_policy {
    use super::super::arc::ArcPolicy;
    use super::super::sim::{ReplacementSim, SimStats};
    use super::super::{by_name, FrameId, PageKey, PolicyParams, ReferenceBits, ReplacementPolicy};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const FAMILY: [&str; 5] = ["arc", "2q", "linux", "sieve", "s3-fifo"];

    fn run(policy: &str, frames: usize, refs: &[u64]) -> SimStats {
        let p = by_name(policy, frames, &PolicyParams::default()).unwrap();
        let mut sim = ReplacementSim::new(p, frames, 0);
        for &r in refs {
            sim.access(r, false);
        }
        sim.stats()
    }

    /// SplitMix64 (Steele, Lea and Flood 2014): a seeded, portable stream.
    struct SplitMix(u64);
    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in [0, 1) with 53 bits.
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// `n` references to pages `0..pages`, page `k` drawn with probability
    /// proportional to `1 / (k + 1)^alpha`, by inverting the CDF.
    fn zipf(pages: usize, alpha: f64, n: usize, seed: u64) -> Vec<u64> {
        let mut cdf = Vec::with_capacity(pages);
        let mut sum = 0.0;
        for k in 0..pages {
            sum += 1.0 / ((k + 1) as f64).powf(alpha);
            cdf.push(sum);
        }
        let mut rng = SplitMix(seed);
        (0..n)
            .map(|_| {
                let u = rng.unit() * sum;
                cdf.partition_point(|&c| c <= u).min(pages - 1) as u64
            })
            .collect()
    }

    /// Zipf(1.0) over 10 000 pages, 200 000 references, memory for 10%:
    /// the orderings the S3-FIFO and SIEVE papers report on such traces
    /// (both below LRU and FIFO; ARC below both) and that hold by a wide
    /// margin here. Ties among the three are not asserted.
    #[test]
    fn zipf_miss_ratios_order_as_published() {
        let refs = zipf(10_000, 1.0, 200_000, 42);
        let mr = |p: &str| run(p, 1_000, &refs).miss_ratio();
        let (fifo, lru) = (mr("fifo"), mr("lru"));
        assert!(lru < fifo, "lru {lru} fifo {fifo}");
        for p in ["arc", "sieve", "s3-fifo"] {
            let m = mr(p);
            assert!(m < lru && m < fifo, "{p} {m} vs lru {lru}, fifo {fifo}");
        }
        for p in ["2q", "linux"] {
            let m = mr(p);
            assert!(m < fifo, "{p} {m} vs fifo {fifo}");
        }
    }

    /// A hot set referenced often, interleaved with a long scan of pages
    /// referenced once: the scan-resistant policies keep the hot set,
    /// FIFO does not.
    #[test]
    fn scan_resistance_beats_fifo() {
        let mut refs = Vec::new();
        let mut scan = 1_000u64;
        for round in 0..200 {
            for hot in 0..20u64 {
                refs.push(hot);
                if round % 2 == 0 {
                    refs.push(hot);
                }
            }
            for _ in 0..40 {
                refs.push(scan);
                scan += 1;
            }
        }
        let fifo = run("fifo", 40, &refs).hits;
        for p in ["arc", "2q", "s3-fifo"] {
            let h = run(p, 40, &refs).hits;
            assert!(h > fifo, "{p} hits {h}, fifo {fifo}");
        }
    }

    /// Wraps a policy and checks what it returns: every victim is a frame
    /// it was given and has not yet given back.
    struct Checked {
        inner: Box<dyn ReplacementPolicy>,
        tracked: BTreeSet<FrameId>,
    }

    impl ReplacementPolicy for Checked {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn insert(&mut self, frame: FrameId, page: PageKey, refs: &mut dyn ReferenceBits) {
            assert!(self.tracked.insert(frame), "frame {frame} inserted twice");
            self.inner.insert(frame, page, refs);
        }
        fn touch(&mut self, frame: FrameId, refs: &mut dyn ReferenceBits) {
            assert!(self.tracked.contains(&frame));
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
            assert!(self.tracked.remove(&frame));
            self.inner.remove(frame);
        }
        fn victim_reason(&self, victim: FrameId) -> String {
            self.inner.victim_reason(victim)
        }
        fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
            let v = self.inner.evict(refs);
            match v {
                Some(f) => assert!(self.tracked.remove(&f), "untracked victim {f}"),
                None => assert!(
                    self.tracked.is_empty(),
                    "no victim among {:?}",
                    self.tracked
                ),
            }
            v
        }
    }

    /// Bits for driving a policy directly, with removals.
    struct Bits {
        referenced: Vec<bool>,
    }
    impl ReferenceBits for Bits {
        fn referenced(&mut self, f: FrameId) -> bool {
            self.referenced[f as usize]
        }
        fn clear_referenced(&mut self, f: FrameId) {
            self.referenced[f as usize] = false;
        }
        fn dirty(&mut self, _: FrameId) -> bool {
            false
        }
        fn write_back(&mut self, _: FrameId) {}
        fn now(&self) -> u64 {
            0
        }
    }

    /// Miss counts on a fixed Zipf(1.0) trace (2 000 pages, 40 000
    /// references), pinned. When written they were checked against
    /// independent line-by-line transcriptions (in Python) of ARC's
    /// Figure 4, 2Q's section 2.2, SIEVE's and S3-FIFO's Algorithm 1 (with
    /// the deviations each file documents), which gave the same counts;
    /// Linux's count is only pinned. The simulator runs ARC through
    /// `evict_for`, the paper's exact ARC; it is also run by hand here.
    #[test]
    fn pinned_miss_counts_on_a_zipf_trace() {
        let refs = zipf(2_000, 1.0, 40_000, 7);
        let expect: [(usize, [u64; 5], u64); 3] = [
            (7, [29_512, 29_578, 31_549, 29_299, 28_311], 29_512),
            (50, [19_702, 20_020, 21_682, 18_785, 19_060], 19_702),
            (200, [13_090, 13_395, 14_449, 12_747, 12_601], 13_090),
        ];
        for (c, counts, arc_exact) in expect {
            for (p, n) in FAMILY.iter().zip(counts) {
                assert_eq!(run(p, c, &refs).faults, n, "{p} with {c} frames");
            }
            assert_eq!(exact_arc_faults(c, &refs), arc_exact, "exact ARC, {c}");
        }
    }

    /// Faults of [`ArcPolicy::evict_for`], the paper's ARC.
    fn exact_arc_faults(c: usize, refs: &[u64]) -> u64 {
        let mut arc = ArcPolicy::new(c);
        let mut bits = Bits {
            referenced: vec![false; c],
        };
        let mut frame_of = std::collections::HashMap::new();
        let mut page_in = vec![0; c];
        let mut faults = 0;
        for &r in refs {
            if let Some(&f) = frame_of.get(&r) {
                arc.touch(f, &mut bits);
                continue;
            }
            faults += 1;
            let f = if frame_of.len() < c {
                frame_of.len() as FrameId
            } else {
                let v = arc.evict_for(r).unwrap();
                frame_of.remove(&page_in[v as usize]);
                v
            };
            frame_of.insert(r, f);
            page_in[f as usize] = r;
            arc.insert(f, r, &mut bits);
        }
        faults
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sim_invariants(
            frames in 1usize..9,
            refs in proptest::collection::vec(0u64..24, 0..400),
        ) {
            for name in FAMILY {
                let inner = by_name(name, frames, &PolicyParams::default()).unwrap();
                let checked = Checked { inner, tracked: BTreeSet::new() };
                let mut sim = ReplacementSim::new(Box::new(checked), frames, 0);
                let mut distinct = BTreeSet::new();
                for &r in &refs {
                    distinct.insert(r);
                    sim.access(r, r % 3 == 0);
                    prop_assert!(sim.resident().len() <= frames);
                }
                let s = sim.stats();
                prop_assert_eq!(s.hits + s.faults, refs.len() as u64);
                prop_assert_eq!(sim.resident().len(), distinct.len().min(frames));
            }
        }

        /// Direct driving with removals (unmaps): victims are always
        /// tracked frames, and a full memory always yields one.
        #[test]
        fn removals_keep_policies_consistent(
            frames in 1usize..9,
            ops in proptest::collection::vec((0u64..20, 0u8..8), 0..300),
        ) {
            for name in FAMILY {
                let inner = by_name(name, frames, &PolicyParams::default()).unwrap();
                let mut p = Checked { inner, tracked: BTreeSet::new() };
                let mut bits = Bits { referenced: vec![false; frames] };
                let mut frame_of = std::collections::BTreeMap::new();
                let mut page_in = vec![None; frames];
                let mut free: Vec<FrameId> = (0..frames as FrameId).rev().collect();
                for &(page, op) in &ops {
                    if op == 0 {
                        // Unmap `page` if resident.
                        if let Some(f) = frame_of.remove(&page) {
                            p.remove(f);
                            page_in[f as usize] = None;
                            free.push(f);
                        }
                        continue;
                    }
                    if let Some(&f) = frame_of.get(&page) {
                        if p.wants_touch() {
                            p.touch(f, &mut bits);
                        }
                        bits.referenced[f as usize] = true;
                        continue;
                    }
                    let f = match free.pop() {
                        Some(f) => f,
                        None => {
                            let v = p.evict(&mut bits);
                            prop_assert!(v.is_some());
                            let v = v.unwrap_or_default();
                            if let Some(old) = page_in[v as usize].take() {
                                frame_of.remove(&old);
                            }
                            v
                        }
                    };
                    frame_of.insert(page, f);
                    page_in[f as usize] = Some(page);
                    bits.referenced[f as usize] = false;
                    p.insert(f, page, &mut bits);
                    bits.referenced[f as usize] = true;
                    prop_assert!(frame_of.len() <= frames);
                }
            }
        }
    }
}
