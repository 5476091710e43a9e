//! SIEVE, as defined by Y. Zhang, J. Yang, Y. Yue, Y. Vigfusson and
//! K. V. Rashmi, "SIEVE is Simpler than LRU: an Efficient Turn-Key
//! Eviction Algorithm for Web Caches", USENIX NSDI 2024, Algorithm 1
//! (also libCacheSim's `Sieve.c`, which it matches).
//!
//! One FIFO queue, a visited bit per page and a hand. A hit sets the bit
//! and moves nothing. A new page goes to the head (newest end) with the
//! bit clear. To evict, the hand starts where it last stopped (at the
//! tail, the oldest page, the first time or after passing the head) and
//! moves towards the head, clearing set bits, until it finds a page whose
//! bit is clear: that page goes, and the hand stays at its newer
//! neighbour. Unlike Clock, survivors are not moved, so pages that were
//! inserted after the hand passed wait for the next sweep: new pages sit
//! near the head while old popular ones settle at the tail.
//!
//! The visited bit is kept here, set through
//! [`touch`](ReplacementPolicy::touch), not read from the hardware's
//! accessed bit: the page-table bit is also set by the faulting access
//! itself (the simulator and the MMU set it after
//! [`insert`](ReplacementPolicy::insert) returns), so every page would
//! enter with its bit set, while Algorithm 1 inserts with `visited = 0`.
//! A kernel could clear the accessed bit once after the fault completes
//! and then use it; the result would be this algorithm.

use super::list::FrameLists;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// The queue, oldest (the paper's tail) at the front.
const QUEUE: usize = 0;

/// SIEVE over a fixed number of frames.
pub struct Sieve {
    queue: FrameLists,
    visited: Vec<bool>,
    /// Where the next eviction starts; `None`: at the tail.
    hand: Option<FrameId>,
    /// Visited bits the last search cleared (for the explanation).
    cleared: u64,
}

impl Sieve {
    /// SIEVE over `capacity` frames.
    pub fn new(capacity: usize) -> Sieve {
        Sieve {
            queue: FrameLists::new(capacity, 1),
            visited: vec![false; capacity],
            hand: None,
            cleared: 0,
        }
    }

    /// The page the hand points at (`None`: the tail).
    pub fn hand(&self) -> Option<FrameId> {
        self.hand
    }

    /// The frame after `frame` towards the head, wrapping to the tail.
    #[inline]
    fn towards_head(&self, frame: FrameId) -> Option<FrameId> {
        self.queue.next(frame).or_else(|| self.queue.front(QUEUE))
    }
}

impl ReplacementPolicy for Sieve {
    fn name(&self) -> &'static str {
        "sieve"
    }

    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.visited[frame as usize] = false;
        self.queue.push_back(QUEUE, frame);
    }

    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        self.visited[frame as usize] = true;
    }

    fn wants_touch(&self) -> bool {
        true
    }

    fn touches_collapse(&self) -> bool {
        true
    }

    fn remove(&mut self, frame: FrameId) {
        if self.hand == Some(frame) {
            // As libCacheSim's Sieve_remove: the hand moves on towards
            // the head (or back to the tail).
            self.hand = self.queue.next(frame);
        }
        self.queue.unlink(frame);
        self.visited[frame as usize] = false;
    }

    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        let mut o = self.hand.or_else(|| self.queue.front(QUEUE))?;
        // After one full turn every bit is clear, so this ends.
        self.cleared = 0;
        while self.visited[o as usize] {
            self.visited[o as usize] = false;
            self.cleared += 1;
            o = self.towards_head(o)?;
        }
        self.hand = self.queue.next(o);
        self.queue.unlink(o);
        Some(o)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "the hand, moving from the oldest page towards the newest, found frame {victim} not visited after clearing {} visited bit(s); visited pages stay in place",
            self.cleared
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::*;

    fn sim(frames: usize) -> ReplacementSim {
        ReplacementSim::new(Box::new(Sieve::new(frames)), frames, 0)
    }

    fn resident(s: &ReplacementSim) -> Vec<u64> {
        let mut r = s.resident();
        r.sort_unstable();
        r
    }

    /// Four frames, traced by hand through Algorithm 1 (queue from tail to
    /// head, `*` = visited; "hand" is where the next eviction starts):
    ///
    /// ```text
    /// x   queue after     evicts  hand  how
    /// 1-4 1 2 3 4         -       tail
    /// 1   1* 2 3 4        -       tail  hit: the bit only, no move
    /// 3   1* 2 3* 4       -       tail
    /// 5   1 3* 4 5        2       3     1* cleared, 2 unvisited
    /// 6   1 3 5 6         4       5     3* cleared, 4 unvisited
    /// 1   1* 3 5 6        -       5
    /// 7   1* 3 6 7        5       6
    /// 8   1* 3 7 8        6       7     each new page goes at the next
    /// ...                               miss: the hand trails the scan
    /// 12  1* 3 11 12      10      11
    /// 13  1* 3 12 13      11      12
    /// 12  1* 3 12* 13     -       12
    /// 13  1* 3 12* 13*    -       12
    /// 14  1 12 13 14      3       12    12*, 13* cleared, past the head
    ///                                   back to the tail: 1* cleared,
    ///                                   3 unvisited
    /// ```
    ///
    /// 1 outlived a scan of ten newer pages on one bit, and 3 on none:
    /// the hand did not reset when pages were inserted.
    #[test]
    fn hand_trace_of_algorithm_1() {
        let mut s = sim(4);
        for x in [1, 2, 3, 4] {
            assert!(!s.access(x, false));
        }
        assert!(s.access(1, false) && s.access(3, false));
        s.access(5, false);
        assert_eq!(resident(&s), [1, 3, 4, 5]);
        s.access(6, false);
        assert_eq!(resident(&s), [1, 3, 5, 6]);
        assert!(s.access(1, false));
        s.access(7, false);
        assert_eq!(resident(&s), [1, 3, 6, 7]);
        for x in [8, 9, 10, 11, 12] {
            s.access(x, false);
        }
        assert_eq!(resident(&s), [1, 3, 11, 12]);
        s.access(13, false);
        assert_eq!(resident(&s), [1, 3, 12, 13]);
        assert!(s.access(12, false) && s.access(13, false));
        s.access(14, false);
        assert_eq!(resident(&s), [1, 12, 13, 14]);
        assert_eq!(s.stats().faults, 14);
    }

    /// New pages enter unvisited although the faulting access sets the
    /// accessed bit. Three frames, 1 2 3 1 4 5 6: at 4 the hand clears
    /// 1* and evicts 2, then trails the new pages (3, then 4 go), so 1
    /// stays. Were the accessed bit the visited bit, 1, 2, 3 would all
    /// enter visited, and 4 would clear them all and evict 1.
    #[test]
    fn new_pages_enter_unvisited() {
        let mut s = sim(3);
        for x in [1, 2, 3, 1, 4, 5, 6] {
            s.access(x, false);
        }
        assert_eq!(resident(&s), [1, 5, 6]);
    }

    /// The hand: it rests on the evicted page's newer neighbour, passes
    /// the head back to the tail, and moves on when its page is removed.
    /// The bits lent by the kernel are not read (all "referenced" here).
    #[test]
    fn hand_moves_and_survives_removal() {
        struct AllReferenced;
        impl ReferenceBits for AllReferenced {
            fn referenced(&mut self, _: FrameId) -> bool {
                true
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
        let mut bits = AllReferenced;
        let mut p = Sieve::new(3);
        for f in 0..3 {
            p.insert(f, u64::from(f), &mut bits);
        }
        assert_eq!(p.evict(&mut bits), Some(0));
        assert_eq!(p.hand(), Some(1));
        p.remove(1);
        assert_eq!(p.hand(), Some(2));
        assert_eq!(p.evict(&mut bits), Some(2));
        assert_eq!(p.hand(), None);
        assert_eq!(p.evict(&mut bits), None);
    }
}
