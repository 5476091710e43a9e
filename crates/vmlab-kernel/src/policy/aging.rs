//! Aging: LRU approximated in software from the referenced bit. Each page
//! has an n-bit counter; on every clock tick each counter is shifted right
//! by one and the page's R bit is put into the leftmost bit, then R is
//! cleared. On a fault the page with the lowest counter is evicted
//! (Tanenbaum & Bos, MOS 4e §3.4.7, figure 3-17). A page unreferenced for
//! k ticks has k leading zeros, so the counter orders pages by their most
//! recent ticks; unlike LRU it cannot tell apart two references within one
//! tick, and it forgets everything older than n ticks.
//!
//! Choices MOS leaves open, made here:
//! - A newly loaded page starts with counter 0, as every page does in
//!   figure 3-17; the reference that loaded it sets R, which the next tick
//!   folds in. Until then it is among the lowest, which is the algorithm
//!   as the book states it (a short tick interval keeps the window small).
//! - Ties on the counter go to the page loaded earliest (FIFO among
//!   equals), so between two ticks, pages with counter 0 leave in load
//!   order.
//!
//! Making eviction cheap: counters only change at ticks, so each tick
//! rebuilds a min-heap of (counter, load stamp, frame) over the resident
//! pages in O(n) (the tick already touches every page), and a page loaded
//! after the tick waits in a FIFO list with counter 0. A victim is the
//! smaller of the heap's top and the list's front; heap entries of pages
//! gone or reloaded since the tick are recognised by their stamp and
//! skipped. Eviction is O(log n), nothing is allocated after construction.
//! NFU (`nfu.rs`) has the same shape and shares [`TickCounters`].

use super::list::FrameLists;
use super::{FrameId, PageKey, PolicyError, ReferenceBits, ReplacementPolicy};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Per-frame counters updated only at clock ticks, with eviction of the
/// lowest counter (ties: earliest loaded). Shared by aging and NFU, which
/// differ only in how a tick updates a counter.
pub struct TickCounters {
    counter: Vec<u64>,
    /// Load order: larger is newer. Also tells stale heap entries apart.
    stamp: Vec<u64>,
    tracked: Vec<bool>,
    next_stamp: u64,
    /// The counter of the last page evicted (for the explanation).
    last_counter: u64,
    /// Pages loaded since the last tick, oldest first; their counter is 0.
    fresh: FrameLists,
    /// (counter, stamp, frame) of the pages resident at the last tick.
    heap: BinaryHeap<Reverse<(u64, u64, FrameId)>>,
}

impl TickCounters {
    /// Counters for `capacity` frames, none tracked.
    pub fn new(capacity: usize) -> TickCounters {
        TickCounters {
            counter: vec![0; capacity],
            stamp: vec![0; capacity],
            tracked: vec![false; capacity],
            next_stamp: 0,
            last_counter: 0,
            fresh: FrameLists::new(capacity, 1),
            // One entry per tracked frame at most (rebuilt at each tick).
            heap: BinaryHeap::with_capacity(capacity),
        }
    }

    /// The counter of `frame` (0 if it holds no page).
    pub fn counter(&self, frame: FrameId) -> u64 {
        self.counter[frame as usize]
    }

    /// The counter the last evicted page had.
    pub fn last_counter(&self) -> u64 {
        self.last_counter
    }

    /// A page was loaded into `frame`: counter 0, newest.
    pub fn insert(&mut self, frame: FrameId) {
        let f = frame as usize;
        self.tracked[f] = true;
        self.counter[f] = 0;
        self.stamp[f] = self.next_stamp;
        self.next_stamp += 1;
        self.fresh.move_to_back(0, frame);
    }

    /// `frame` is free again.
    pub fn remove(&mut self, frame: FrameId) {
        self.tracked[frame as usize] = false;
        self.counter[frame as usize] = 0;
        // A heap entry for it stays behind and is skipped as stale.
        self.fresh.unlink(frame);
    }

    /// The clock tick: for every resident page, `update(counter, R)`
    /// becomes the new counter, and R is cleared.
    pub fn tick(&mut self, refs: &mut dyn ReferenceBits, update: impl Fn(u64, bool) -> u64) {
        // Reuse the heap's storage: into_vec and from(Vec) do not allocate,
        // and from(Vec) heapifies in O(n).
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.clear();
        for f in 0..self.tracked.len() {
            if !self.tracked[f] {
                continue;
            }
            let frame = f as FrameId;
            let r = refs.test_and_clear_referenced(frame);
            self.counter[f] = update(self.counter[f], r);
            entries.push(Reverse((self.counter[f], self.stamp[f], frame)));
            self.fresh.unlink(frame);
        }
        self.heap = BinaryHeap::from(entries);
    }

    /// Removes and returns the frame with the lowest counter, the earliest
    /// loaded among equals.
    pub fn evict(&mut self) -> Option<FrameId> {
        while let Some(&Reverse((_, stamp, frame))) = self.heap.peek() {
            let f = frame as usize;
            if self.tracked[f] && self.stamp[f] == stamp {
                break;
            }
            self.heap.pop();
        }
        let from_heap = match (self.heap.peek(), self.fresh.front(0)) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
            // Fresh pages have counter 0 and were loaded after every page
            // in the heap: the heap wins ties.
            (Some(&Reverse((counter, _, _))), Some(_)) => counter == 0,
        };
        let frame = if from_heap {
            self.heap.pop().map(|Reverse((_, _, frame))| frame)?
        } else {
            self.fresh.pop_front(0)?
        };
        self.last_counter = self.counter[frame as usize];
        self.remove(frame);
        Some(frame)
    }
}

/// The aging policy: [`TickCounters`] whose tick shifts R in from the left.
pub struct Aging {
    counters: TickCounters,
    bits: u8,
}

impl Aging {
    /// Aging over `capacity` frames with `bits`-bit counters (1 to 64).
    pub fn new(capacity: usize, bits: u8) -> Result<Aging, PolicyError> {
        if !(1..=64).contains(&bits) {
            return Err(PolicyError(format!(
                "aging needs a counter of 1 to 64 bits, not {bits}"
            )));
        }
        Ok(Aging {
            counters: TickCounters::new(capacity),
            bits,
        })
    }

    /// The aging counter of `frame`, for explanations (the low `bits`
    /// bits are used).
    pub fn counter(&self, frame: FrameId) -> u64 {
        self.counters.counter(frame)
    }
}

impl ReplacementPolicy for Aging {
    fn name(&self) -> &'static str {
        "aging"
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
        let top = self.bits - 1;
        self.counters
            .tick(refs, |c, r| (c >> 1) | (u64::from(r) << top));
    }
    fn remove(&mut self, frame: FrameId) {
        self.counters.remove(frame);
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        self.counters.evict()
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "smallest aging counter: frame {victim}'s was {:#0width$b} (each tick shifts the referenced bit in from the left), the oldest load among equals",
            self.counters.last_counter(),
            width = usize::from(self.bits) + 2
        )
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    /// Hardware bits set by hand, for tests that drive a policy directly.
    pub(in super::super) struct FakeBits {
        pub r: Vec<bool>,
        pub m: Vec<bool>,
        pub now: u64,
        pub written: Vec<FrameId>,
    }

    impl FakeBits {
        pub fn new(frames: usize) -> FakeBits {
            FakeBits {
                r: vec![false; frames],
                m: vec![false; frames],
                now: 0,
                written: Vec::new(),
            }
        }
        pub fn set(&mut self, frame: FrameId, r: bool, m: bool) {
            self.r[frame as usize] = r;
            self.m[frame as usize] = m;
        }
    }

    impl ReferenceBits for FakeBits {
        fn referenced(&mut self, frame: FrameId) -> bool {
            self.r[frame as usize]
        }
        fn clear_referenced(&mut self, frame: FrameId) {
            self.r[frame as usize] = false;
        }
        fn dirty(&mut self, frame: FrameId) -> bool {
            self.m[frame as usize]
        }
        fn write_back(&mut self, frame: FrameId) {
            self.m[frame as usize] = false;
            self.written.push(frame);
        }
        fn now(&self) -> u64 {
            self.now
        }
    }

    #[test]
    fn mos_figure_3_17() {
        // Six pages, five ticks, R bits per tick as in MOS 4e figure 3-17
        // (pages 0..5 left to right), and the counters the figure shows
        // after each tick.
        let r_bits = [
            [1, 0, 1, 0, 1, 1],
            [1, 1, 0, 0, 1, 0],
            [1, 1, 0, 1, 0, 1],
            [1, 0, 0, 0, 1, 0],
            [0, 1, 1, 0, 0, 0],
        ];
        let after = [
            [
                0b1000_0000,
                0b0000_0000,
                0b1000_0000,
                0b0000_0000,
                0b1000_0000,
                0b1000_0000,
            ],
            [
                0b1100_0000,
                0b1000_0000,
                0b0100_0000,
                0b0000_0000,
                0b1100_0000,
                0b0100_0000,
            ],
            [
                0b1110_0000,
                0b1100_0000,
                0b0010_0000,
                0b1000_0000,
                0b0110_0000,
                0b1010_0000,
            ],
            [
                0b1111_0000,
                0b0110_0000,
                0b0001_0000,
                0b0100_0000,
                0b1011_0000,
                0b0101_0000,
            ],
            [
                0b0111_1000,
                0b1011_0000,
                0b1000_1000,
                0b0010_0000,
                0b0101_1000,
                0b0010_1000,
            ],
        ];
        let mut bits = FakeBits::new(6);
        let mut p = Aging::new(6, 8).unwrap();
        for f in 0..6 {
            p.insert(f, u64::from(f), &mut bits);
        }
        for (r, want) in r_bits.iter().zip(after) {
            for (f, &bit) in r.iter().enumerate() {
                bits.r[f] = bit == 1;
            }
            p.tick(&mut bits);
            let got: Vec<u64> = (0..6).map(|f| p.counter(f)).collect();
            assert_eq!(got, want);
            assert!(bits.r.iter().all(|&r| !r), "a tick clears R");
        }
        // Lowest after tick 4: page 3 (0010 0000), then page 5 (0010 1000),
        // page 4 (0101 1000), page 0 (0111 1000), page 2, page 1.
        let order: Vec<FrameId> = (0..6).map(|_| p.evict(&mut bits).unwrap()).collect();
        assert_eq!(order, [3, 5, 4, 0, 2, 1]);
    }

    #[test]
    fn counters_keep_only_n_bits_of_history() {
        // With 2-bit counters, a page referenced at ticks 1 and 2 and not
        // at 3 and 4 is 00, like a page never referenced: the older one
        // (frame 0, loaded first) goes first.
        let mut bits = FakeBits::new(2);
        let mut p = Aging::new(2, 2).unwrap();
        p.insert(0, 0, &mut bits);
        p.insert(1, 1, &mut bits);
        for r0 in [true, true, false, false] {
            bits.r[0] = r0;
            p.tick(&mut bits);
        }
        assert_eq!((p.counter(0), p.counter(1)), (0, 0));
        assert_eq!(p.evict(&mut bits), Some(0));
        assert!(Aging::new(2, 0).is_err() && Aging::new(2, 65).is_err());
        assert!(Aging::new(2, 64).is_ok());
    }

    #[test]
    fn fresh_pages_tie_in_load_order_and_lose_to_counted_ones() {
        // Before any tick every counter is 0: FIFO order. After a tick that
        // saw frame 1 referenced, frame 0 (counter 0, loaded earlier) goes
        // before a page loaded after the tick (also 0), which goes before
        // frame 1 (1000 0000).
        let mut bits = FakeBits::new(3);
        let mut p = Aging::new(3, 8).unwrap();
        p.insert(0, 0, &mut bits);
        p.insert(1, 1, &mut bits);
        bits.r[1] = true;
        p.tick(&mut bits);
        p.insert(2, 2, &mut bits);
        assert_eq!(p.evict(&mut bits), Some(0));
        assert_eq!(p.evict(&mut bits), Some(2));
        assert_eq!(p.evict(&mut bits), Some(1));
        assert_eq!(p.evict(&mut bits), None);
    }

    #[test]
    fn through_the_simulator() {
        // Two frames, a tick before every reference but the first.
        //  0 A: loaded, R=1            1 tick A=1000 0000, A hit
        //  2 tick A=1100 0000, A hit   3 tick A=1110 0000, A hit
        //  4 tick A=1111 0000; B loaded (0), R=1
        //  5 tick A=0111 1000 B=1000 0000; B hit
        //  6 tick A=0011 1100 B=1100 0000; C faults: A (lower) evicted,
        //    C in frame 0
        //  7 tick C=1000 0000 B=0110 0000; B hits.
        // NFU on the same string keeps A: see nfu.rs.
        let params = PolicyParams::default();
        let mut sim = ReplacementSim::new(by_name("aging", 2, &params).unwrap(), 2, 1);
        for page in [1, 1, 1, 1, 2, 2, 3, 2] {
            sim.access(page, false);
        }
        assert_eq!(sim.resident(), vec![3, 2]);
        assert_eq!(sim.stats().faults, 3);
    }
}
