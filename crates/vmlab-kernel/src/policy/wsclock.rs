//! WSClock: the working-set policy run by a clock hand (Carr & Hennessy,
//! "WSCLOCK — a simple and effective algorithm for virtual memory
//! management", SOSP 1981; Tanenbaum & Bos, MOS 4e §3.4.9, figure 3-20).
//! The frames form a circle with a hand, and each page carries the
//! virtual time of its last use. The working set is the pages used in the
//! last τ references (`PolicyParams::wsclock_tau`); a page older than that
//! is a candidate, and a dirty candidate is cleaned by a scheduled write
//! rather than evicted, so eviction itself never waits for I/O.
//!
//! Exactly, on a fault at virtual time `now` (the reference index), the
//! hand sweeps forward from where it stopped last, over resident frames:
//! 1. R set: the page was used since the hand last passed; clear R, set
//!    its time of last use to `now`, move on. (Sampling R here, rather than
//!    at clock ticks, is WSClock's point: one scan both measures the
//!    working set and finds the victim; `tick` does nothing.)
//! 2. R clear and age `now − last use` > τ (out of the working set):
//!    clean → evict it, done; dirty → schedule its write
//!    ([`ReferenceBits::write_back`]) and move on.
//! 3. R clear, age ≤ τ: in the working set, move on.
//!
//! If the hand comes back to where it started (MOS's two cases):
//! - writes were scheduled: keep sweeping by the same rules. Writes
//!   complete at once in this model (`write_back` leaves the page clean),
//!   so the page whose write was scheduled first is evicted: old clean
//!   pages were taken in the first turn and referenced ones made young,
//!   so the written pages are the only old ones left.
//! - no write was scheduled (every page is in the working set): evict the
//!   first clean page the hand passed during the turn; if none was clean,
//!   the page at the hand (the kernel writes it back as it evicts it).
//!
//! Either way the hand stops just past the victim, where the new page
//! goes. O(frames) per fault in the worst case, nothing allocated.

use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// The circle of frames, the hand and each page's time of last use.
pub struct WsClock {
    present: Vec<bool>,
    tracked: usize,
    /// Virtual time of each page's last use, as sampled by the hand.
    last_use: Vec<u64>,
    hand: usize,
    tau: u64,
    /// Which rule chose the last victim (for the explanation).
    last_rule: WsRule,
}

/// The rule of WSClock's search that found a victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WsRule {
    /// Unreferenced for longer than τ and clean, in the first turn.
    OldClean,
    /// Unreferenced for longer than τ, written back in the first turn.
    OldWritten,
    /// Nothing old: the first clean page the hand passed.
    FirstClean,
    /// Nothing old or clean: the page at the hand.
    AtHand,
}

impl WsClock {
    /// WSClock over `capacity` frames with working-set window `tau`
    /// references, hand at frame 0.
    pub fn new(capacity: usize, tau: u64) -> WsClock {
        WsClock {
            present: vec![false; capacity],
            tracked: 0,
            last_use: vec![0; capacity],
            hand: 0,
            tau,
            last_rule: WsRule::AtHand,
        }
    }

    /// Where the hand points now.
    pub fn hand(&self) -> FrameId {
        self.hand as FrameId
    }

    /// The time of last use recorded for `frame`.
    pub fn last_use(&self, frame: FrameId) -> u64 {
        self.last_use[frame as usize]
    }

    fn take(&mut self, frame: FrameId) -> FrameId {
        self.present[frame as usize] = false;
        self.tracked -= 1;
        self.hand = (frame as usize + 1) % self.present.len();
        frame
    }
}

impl ReplacementPolicy for WsClock {
    fn name(&self) -> &'static str {
        "wsclock"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, refs: &mut dyn ReferenceBits) {
        if !std::mem::replace(&mut self.present[frame as usize], true) {
            self.tracked += 1;
        }
        // Loaded by the reference at `now`: its first use.
        self.last_use[frame as usize] = refs.now();
    }
    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
    fn wants_touch(&self) -> bool {
        false
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
        let n = self.present.len();
        let now = refs.now();
        let start = self.hand;
        let mut first_clean = None;
        let mut scheduled = false;
        // First turn: the three rules, noting a clean page for case two.
        for step in 0..n {
            let frame = ((start + step) % n) as FrameId;
            let f = frame as usize;
            if !self.present[f] {
                continue;
            }
            if refs.test_and_clear_referenced(frame) {
                self.last_use[f] = now;
            } else if now.saturating_sub(self.last_use[f]) > self.tau {
                if !refs.dirty(frame) {
                    self.last_rule = WsRule::OldClean;
                    return Some(self.take(frame));
                }
                refs.write_back(frame);
                scheduled = true;
                continue;
            }
            if first_clean.is_none() && !refs.dirty(frame) {
                first_clean = Some(frame);
            }
        }
        if scheduled {
            // Second turn: R bits are all clear now and no reference can
            // happen during the fault, so rule 2 finds a written page.
            for step in 0..n {
                let frame = ((start + step) % n) as FrameId;
                let f = frame as usize;
                if self.present[f]
                    && !refs.referenced(frame)
                    && now.saturating_sub(self.last_use[f]) > self.tau
                    && !refs.dirty(frame)
                {
                    self.last_rule = WsRule::OldWritten;
                    return Some(self.take(frame));
                }
            }
        }
        if let Some(frame) = first_clean {
            self.last_rule = WsRule::FirstClean;
            return Some(self.take(frame));
        }
        // All dirty and in the working set (or writes that did not clean,
        // which this model never has): the page at the hand.
        let frame = (0..n)
            .map(|step| ((start + step) % n) as FrameId)
            .find(|&f| self.present[f as usize])?;
        self.last_rule = WsRule::AtHand;
        Some(self.take(frame))
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        let tau = self.tau;
        match self.last_rule {
            WsRule::OldClean => format!("frame {victim} is out of the working set (not referenced for more than τ = {tau} references) and clean"),
            WsRule::OldWritten => format!("frame {victim} is out of the working set (not referenced for more than τ = {tau} references); it was dirty, so the hand scheduled its write and took it once clean"),
            WsRule::FirstClean => format!("every page is in the working set (referenced within τ = {tau} references): frame {victim} is the first clean page the hand passed"),
            WsRule::AtHand => format!("every page is dirty and in the working set: frame {victim} is the page at the hand"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};

    fn sim(frames: usize, tau: u64) -> ReplacementSim {
        let params = PolicyParams {
            wsclock_tau: tau,
            ..PolicyParams::default()
        };
        ReplacementSim::new(by_name("wsclock", frames, &params).unwrap(), frames, 0)
    }

    #[test]
    fn young_pages_skipped_old_dirty_written_old_clean_evicted() {
        // Three frames, τ = 2; worked by hand (t = reference index, pages
        // with R, last use; hand position h):
        //  t0 1, t1 2, t2 3 (write): frames 0 1 2 hold 1 2 3, R set,
        //     last uses 0 1 2, h=0.
        //  t3 4: every R set → cleared, last uses 3; no write scheduled,
        //     so the first clean page seen, frame 0 (page 1), goes; 4 in
        //     frame 0 (last use 3), h=1.
        //  t4 2, t5 4, t6 4: hits set R on frames 1 and 0.
        //  t7 5: h=1: page 2 R → cleared, last use 7 (young, skipped);
        //     page 3 R clear, age 7-3=4 > 2, dirty → write scheduled;
        //     page 4 R → cleared, last use 7. Back at h=1 with a write
        //     scheduled: page 2 young, page 3 old and now clean → evicted;
        //     5 in frame 2 (last use 7), h=0.
        //  t8 5, t9 2: hits.
        //  t10 6: h=0: page 4 R clear, age 10-7=3 > 2, clean → evicted at
        //     once; 6 in frame 0.
        // Six faults, one write-back (page 3, by the policy; it left clean).
        let mut s = sim(3, 2);
        for (page, write) in [
            (1, false),
            (2, false),
            (3, true),
            (4, false),
            (2, false),
            (4, false),
            (4, false),
            (5, false),
            (5, false),
            (2, false),
            (6, false),
        ] {
            s.access(page, write);
        }
        assert_eq!(s.resident(), vec![6, 2, 5]);
        let st = s.stats();
        assert_eq!((st.faults, st.evictions, st.write_backs), (6, 3, 1));
    }

    #[test]
    fn all_dirty_in_the_working_set_evicts_at_the_hand() {
        // Two frames, τ large, both pages written: the sweep clears both R
        // bits, schedules nothing (both young), sees no clean page, and
        // takes the page at the hand (frame 0, page 1), which the kernel
        // writes back on eviction.
        let mut s = sim(2, 100);
        s.access(1, true);
        s.access(2, true);
        s.access(3, false);
        assert_eq!(s.resident(), vec![3, 2]);
        assert_eq!(s.stats().write_backs, 1);
    }

    #[test]
    fn tau_zero_is_clock_like_on_clean_pages() {
        // With τ = 0 every page not referenced since the hand last passed
        // is old, so on clean pages WSClock picks Clock's victims (Clock
        // worked in sim.rs: 1 2 3 4 2 5 leaves 4 2 5 with three frames).
        let mut s = sim(3, 0);
        for r in [1, 2, 3, 4, 2, 5] {
            s.access(r, false);
        }
        assert_eq!(s.resident(), vec![4, 2, 5]);
    }
}
