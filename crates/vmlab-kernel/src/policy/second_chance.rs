//! Second chance: FIFO that looks at the referenced bit of the oldest page
//! before evicting it. If the bit is set, the page is moved to the back of
//! the queue as if just loaded, with the bit cleared, and the search goes
//! on; the first page at the front whose bit is clear is evicted
//! (Tanenbaum & Bos, MOS 4e §3.4.4, figure 3-15). If every page was
//! referenced, one pass clears every bit and the policy degenerates to
//! pure FIFO.
//!
//! Clock (`clock.rs`) picks the same victims on a full machine; the
//! difference is the data structure: here a linked queue whose pages
//! really move, there a fixed circle of frames and a moving hand. They
//! part ways when frames are freed and refilled: a refilled frame joins
//! the back of this queue but keeps its place on the clock's circle.
//! The bits are the hardware's accessed flags, read and cleared through
//! [`ReferenceBits`].

use super::list::FrameLists;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// Frames in load order, the oldest at the front.
pub struct SecondChance {
    queue: FrameLists,
    /// Referenced pages the last search sent to the back (for the
    /// explanation).
    requeued: u64,
}

impl SecondChance {
    /// Second chance over `capacity` frames.
    pub fn new(capacity: usize) -> SecondChance {
        SecondChance {
            queue: FrameLists::new(capacity, 1),
            requeued: 0,
        }
    }
}

impl ReplacementPolicy for SecondChance {
    fn name(&self) -> &'static str {
        "second-chance"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.queue.move_to_back(0, frame);
    }
    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
    fn wants_touch(&self) -> bool {
        false
    }
    fn remove(&mut self, frame: FrameId) {
        self.queue.unlink(frame);
    }
    fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        // At most one full pass moves pages: each move clears a bit, so
        // after `len` moves the front page's bit is clear.
        self.requeued = 0;
        loop {
            let front = self.queue.front(0)?;
            if refs.test_and_clear_referenced(front) {
                // Treated as newly loaded: to the back of the queue.
                self.queue.move_to_back(0, front);
                self.requeued += 1;
            } else {
                self.queue.unlink(front);
                return Some(front);
            }
        }
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "oldest page with its referenced bit clear: frame {victim} was at the front of the queue after {} referenced page(s) got a second chance at the back",
            self.requeued
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};

    fn run(policy: &str, refs: &[u64]) -> ReplacementSim {
        let mut sim =
            ReplacementSim::new(by_name(policy, 3, &PolicyParams::default()).unwrap(), 3, 0);
        for &r in refs {
            sim.access(r, false);
        }
        sim
    }

    #[test]
    fn referenced_front_page_goes_to_the_back() {
        // Worked by hand, three frames, queue front→back with R bits:
        //  1 2 3     → 1¹ 2¹ 3¹                  (frames 0, 1, 2)
        //  4 (fault) → every bit set: one pass clears them, 1 evicted;
        //              2⁰ 3⁰ 4¹                   (4 in frame 0)
        //  2 (hit)   → 2¹ 3⁰ 4¹
        //  5 (fault) → 2 moves back cleared, 3 evicted: 4¹ 2⁰ 5¹ (frame 2)
        //  6 (fault) → 4 moves back, 2 evicted: 5¹ 4⁰ 6¹ (frame 1)
        //  4 (hit)   → 5¹ 4¹ 6¹
        //  7 (fault) → all three move back cleared, 5 evicted: 4⁰ 6⁰ 7¹
        //              (7 in frame 2)
        // Seven faults; frames hold 4, 6, 7. FIFO would have evicted 2 at
        // the fifth reference and 4 at the last, keeping 5, 6, 7.
        let refs = [1, 2, 3, 4, 2, 5, 6, 4, 7];
        let sc = run("second-chance", &refs);
        assert_eq!(sc.resident(), vec![4, 6, 7]);
        assert_eq!((sc.stats().faults, sc.stats().hits), (7, 2));
        let fifo = run("fifo", &refs);
        assert_eq!(fifo.resident(), vec![7, 5, 6]);
    }

    #[test]
    fn beladys_string_gives_fifos_count() {
        // Worked by hand, three frames (R bits as superscripts):
        //  1 2 3 → 1¹ 2¹ 3¹; 4 clears all, evicts 1 → 2⁰ 3⁰ 4¹;
        //  1 evicts 2 → 3⁰ 4¹ 1¹; 2 evicts 3 → 4¹ 1¹ 2¹;
        //  5 clears all, evicts 4 → 1⁰ 2⁰ 5¹; 1, 2 hit → 1¹ 2¹ 5¹;
        //  3 clears all, evicts 1 → 2⁰ 5⁰ 3¹; 4 evicts 2 → 5⁰ 3¹ 4¹; 5 hits.
        // Nine faults, as FIFO (OSC 10e §10.4.2), frames holding 5, 3, 4.
        let sc = run("second-chance", &[1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]);
        assert_eq!(sc.stats().faults, 9);
        assert_eq!(sc.resident(), vec![5, 3, 4]);
    }
}
