//! NRU, not recently used: every page falls in one of four classes by its
//! hardware bits, class = 2·R + M with R the referenced bit and M the
//! modified (dirty) bit:
//!
//! | class | R | M | meaning                         |
//! |-------|---|---|---------------------------------|
//! | 0     | 0 | 0 | not referenced, not modified    |
//! | 1     | 0 | 1 | not referenced, modified        |
//! | 2     | 1 | 0 | referenced, not modified        |
//! | 3     | 1 | 1 | referenced, modified            |
//!
//! On a fault the victim is a page chosen at random from the lowest
//! non-empty class, and on every clock interrupt the R bits are cleared
//! (M is not: it says whether the page must be written back). So class 1
//! arises from a class-3 page whose R was cleared by a tick. Tanenbaum &
//! Bos, MOS 4e §3.4.2.
//!
//! The classes cannot be kept as lists: the bits live in page-table
//! entries and change without the kernel hearing of it. So eviction reads
//! the bits of every resident page through [`ReferenceBits`], as a kernel
//! scanning its frames would: two passes, one to count the classes, one to
//! find the chosen page (the k-th of its class in frame order, k drawn
//! uniformly with the seeded [`SplitMix64`]). O(frames) per fault and per
//! tick, nothing allocated.

use super::random::SplitMix64;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// The resident frames and the generator that picks within a class.
pub struct Nru {
    present: Vec<bool>,
    tracked: usize,
    rng: SplitMix64,
    /// The class the last victim came from and how many pages it held
    /// (for the explanation).
    last_class: (usize, u64),
}

/// NRU's class of the page in `frame`: 2·R + M.
#[inline]
fn class(frame: FrameId, refs: &mut dyn ReferenceBits) -> usize {
    2 * usize::from(refs.referenced(frame)) + usize::from(refs.dirty(frame))
}

impl Nru {
    /// NRU over `capacity` frames, choosing within a class with `seed`.
    pub fn new(capacity: usize, seed: u64) -> Nru {
        Nru {
            present: vec![false; capacity],
            tracked: 0,
            rng: SplitMix64::new(seed),
            last_class: (0, 0),
        }
    }

    fn frames(&self) -> impl Iterator<Item = FrameId> + '_ {
        self.present
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p)
            .map(|(f, _)| f as FrameId)
    }
}

impl ReplacementPolicy for Nru {
    fn name(&self) -> &'static str {
        "nru"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        if !std::mem::replace(&mut self.present[frame as usize], true) {
            self.tracked += 1;
        }
    }
    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
    fn wants_touch(&self) -> bool {
        false
    }
    fn wants_ticks(&self) -> bool {
        true
    }
    /// The clock interrupt: clear every resident page's R bit (only those
    /// set, so the full model invalidates no TLB entry needlessly).
    fn tick(&mut self, refs: &mut dyn ReferenceBits) {
        for f in 0..self.present.len() {
            if self.present[f] {
                refs.test_and_clear_referenced(f as FrameId);
            }
        }
    }
    fn remove(&mut self, frame: FrameId) {
        if std::mem::replace(&mut self.present[frame as usize], false) {
            self.tracked -= 1;
        }
    }
    fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        if self.tracked == 0 {
            return None;
        }
        let mut count = [0u64; 4];
        for f in 0..self.present.len() {
            if self.present[f] {
                count[class(f as FrameId, refs)] += 1;
            }
        }
        // tracked > 0, so some class is non-empty.
        let lowest = count.iter().position(|&c| c > 0)?;
        self.last_class = (lowest, count[lowest]);
        let mut k = self.rng.below(count[lowest]);
        let mut victim = None;
        for f in 0..self.present.len() {
            let f = f as FrameId;
            if self.present[f as usize] && class(f, refs) == lowest {
                if k == 0 {
                    victim = Some(f);
                    break;
                }
                k -= 1;
            }
        }
        let victim = victim?;
        self.remove(victim);
        Some(victim)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        let (class, size) = self.last_class;
        let bit = |on: bool| if on { "set" } else { "clear" };
        format!(
            "not recently used: frame {victim} is in class {class} (referenced {}, modified {}), the lowest class with pages, drawn at random among its {size}",
            bit(class >= 2),
            bit(class % 2 == 1)
        )
    }
}

impl Nru {
    /// How many resident pages are in each class now (for explanations).
    pub fn classes(&self, refs: &mut dyn ReferenceBits) -> [usize; 4] {
        let mut count = [0; 4];
        for f in self.frames() {
            count[class(f, refs)] += 1;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::super::aging::tests::FakeBits;
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    #[test]
    fn lowest_class_goes_first() {
        // Four frames, one page per class: frame 0 is (R,M) = (1,1),
        // frame 1 (1,0), frame 2 (0,1), frame 3 (0,0). MOS §3.4.2: class 0
        // before class 1 before class 2 before class 3.
        let mut bits = FakeBits::new(4);
        let mut p = Nru::new(4, 1);
        for f in 0..4 {
            p.insert(f, u64::from(f), &mut bits);
        }
        bits.set(0, true, true);
        bits.set(1, true, false);
        bits.set(2, false, true);
        bits.set(3, false, false);
        assert_eq!(p.classes(&mut bits), [1, 1, 1, 1]);
        assert_eq!(p.evict(&mut bits), Some(3));
        assert_eq!(p.evict(&mut bits), Some(2));
        assert_eq!(p.evict(&mut bits), Some(1));
        assert_eq!(p.evict(&mut bits), Some(0));
        assert_eq!(p.evict(&mut bits), None);
    }

    #[test]
    fn a_tick_clears_r_but_not_m() {
        // (1,1) becomes class 1 and (1,0) class 0: the clean page goes
        // first, then the modified one.
        let mut bits = FakeBits::new(2);
        let mut p = Nru::new(2, 1);
        p.insert(0, 0, &mut bits);
        p.insert(1, 1, &mut bits);
        bits.set(0, true, true);
        bits.set(1, true, false);
        p.tick(&mut bits);
        assert_eq!(p.classes(&mut bits), [1, 1, 0, 0]);
        assert_eq!((bits.r[0], bits.m[0]), (false, true));
        assert_eq!(p.evict(&mut bits), Some(1));
    }

    #[test]
    fn random_choice_stays_within_the_class() {
        // Frames 0..8: the even ones are class 0, the odd ones class 2.
        // Whatever the seed, the first four victims are the even frames.
        for seed in 0..20 {
            let mut bits = FakeBits::new(8);
            let mut p = Nru::new(8, seed);
            for f in 0..8 {
                p.insert(f, u64::from(f), &mut bits);
                bits.set(f, f % 2 == 1, false);
            }
            let mut first: Vec<FrameId> = (0..4).map(|_| p.evict(&mut bits).unwrap()).collect();
            first.sort_unstable();
            assert_eq!(first, [0, 2, 4, 6]);
        }
        // And the order within the class depends on the seed.
        let order = |seed| {
            let mut bits = FakeBits::new(8);
            let mut p = Nru::new(8, seed);
            for f in 0..8 {
                p.insert(f, u64::from(f), &mut bits);
            }
            (0..8)
                .map(|_| p.evict(&mut bits).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(order(5), order(5));
        assert!((0..10).any(|s| order(s) != order(5)));
    }

    #[test]
    fn simulated_ticks_and_writes() {
        // Three frames, a tick every 3 references (before references 3, 6):
        //  0 a read  → a (1,0)          1 b write → b (1,1)
        //  2 c read  → c (1,0)          3 tick: a (0,0) b (0,1) c (0,0);
        //                                 c read (hit) → c (1,0)
        //  4 d: classes a:0 b:1 c:2 → a evicted, d (1,0) in frame 0
        //  5 e: b:1 c:2 d:2 → b evicted (dirty: one write-back), e in frame 1
        // Whatever the seed, each choice is forced.
        for seed in [1, 2, 99] {
            let params = PolicyParams {
                seed,
                ..PolicyParams::default()
            };
            let mut sim = ReplacementSim::new(by_name("nru", 3, &params).unwrap(), 3, 3);
            for (page, write) in [
                (10, false),
                (11, true),
                (12, false),
                (12, false),
                (13, false),
                (14, false),
            ] {
                sim.access(page, write);
            }
            assert_eq!(sim.resident(), vec![13, 14, 12]);
            let s = sim.stats();
            assert_eq!((s.faults, s.write_backs), (5, 1));
        }
    }
}
