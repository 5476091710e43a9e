//! NFU, not frequently used: a software counter per page, to which every
//! clock tick adds the page's R bit (then clears it); on a fault the page
//! with the smallest count is evicted (Tanenbaum & Bos, MOS 4e §3.4.7).
//! The count is the number of ticks in which the page was referenced since
//! it was loaded. NFU never forgets: a page heavily used long ago keeps a
//! high count and outlives pages in current use, the flaw aging (`aging.rs`)
//! repairs by shifting instead of adding.
//!
//! As in aging, a new page starts at 0 and ties go to the page loaded
//! earliest; the counting and eviction machinery is aging's
//! [`TickCounters`]. Counts saturate at `u64::MAX`.

use super::aging::TickCounters;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// The NFU policy: [`TickCounters`] whose tick adds R.
pub struct Nfu {
    counters: TickCounters,
}

impl Nfu {
    /// NFU over `capacity` frames.
    pub fn new(capacity: usize) -> Nfu {
        Nfu {
            counters: TickCounters::new(capacity),
        }
    }

    /// The count of `frame`, for explanations.
    pub fn counter(&self, frame: FrameId) -> u64 {
        self.counters.counter(frame)
    }
}

impl ReplacementPolicy for Nfu {
    fn name(&self) -> &'static str {
        "nfu"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.counters.insert(frame);
    }
    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
    fn wants_touch(&self) -> bool {
        false
    }
    fn wants_ticks(&self) -> bool {
        true
    }
    fn tick(&mut self, refs: &mut dyn ReferenceBits) {
        self.counters
            .tick(refs, |c, r| c.saturating_add(u64::from(r)));
    }
    fn remove(&mut self, frame: FrameId) {
        self.counters.remove(frame);
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        self.counters.evict()
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "not frequently used: frame {victim} had the smallest count of ticks it was referenced in ({}), the oldest load among equals",
            self.counters.last_counter()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::aging::tests::FakeBits;
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    #[test]
    fn counts_ticks_with_r_set() {
        // MOS figure 3-17's R bits for pages 0..5 over five ticks; NFU's
        // counts are the number of 1s in each column: 4, 3, 2, 1, 3, 2.
        let r_bits = [
            [1, 0, 1, 0, 1, 1],
            [1, 1, 0, 0, 1, 0],
            [1, 1, 0, 1, 0, 1],
            [1, 0, 0, 0, 1, 0],
            [0, 1, 1, 0, 0, 0],
        ];
        let mut bits = FakeBits::new(6);
        let mut p = Nfu::new(6);
        for f in 0..6 {
            p.insert(f, u64::from(f), &mut bits);
        }
        for r in r_bits {
            for (f, &bit) in r.iter().enumerate() {
                bits.r[f] = bit == 1;
            }
            p.tick(&mut bits);
        }
        let got: Vec<u64> = (0..6).map(|f| p.counter(f)).collect();
        assert_eq!(got, [4, 3, 2, 1, 3, 2]);
        // Smallest first; ties (2: pages 2 and 5; 3: pages 1 and 4) in
        // load order. Aging evicts 3, 5, 4, 0, 2, 1 on the same history.
        let order: Vec<FrameId> = (0..6).map(|_| p.evict(&mut bits).unwrap()).collect();
        assert_eq!(order, [3, 2, 5, 1, 4, 0]);
    }

    #[test]
    fn nfu_does_not_forget_where_aging_does() {
        // Two frames, a tick before every reference but the first; the
        // string 1 1 1 1 2 2 3 2. Worked by hand for NFU:
        //  0 A loaded              1 tick A=1, A hit
        //  2 tick A=2, A hit       3 tick A=3, A hit
        //  4 tick A=4; B loaded (0)
        //  5 tick A=4 B=1; B hit   6 tick A=4 B=2; C faults: B (smaller)
        //    evicted, C in frame 1
        //  7 tick A=4 C=1; B faults: C evicted, B in frame 1.
        // Four faults, A still resident though unused for four ticks.
        // Aging evicts A at reference 6 and has three faults (aging.rs).
        let run = |policy| {
            let p = by_name(policy, 2, &PolicyParams::default()).unwrap();
            let mut sim = ReplacementSim::new(p, 2, 1);
            for page in [1, 1, 1, 1, 2, 2, 3, 2] {
                sim.access(page, false);
            }
            (sim.resident(), sim.stats().faults)
        };
        assert_eq!(run("nfu"), (vec![1, 2], 4));
        assert_eq!(run("aging"), (vec![3, 2], 3));
    }
}
