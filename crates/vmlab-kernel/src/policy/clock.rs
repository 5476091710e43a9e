//! Clock: the frames form a circle with a hand; to find a victim the hand
//! sweeps forward, giving every frame whose referenced bit is set a second
//! chance (clearing the bit) and stopping at the first frame whose bit is
//! clear (Corbató 1968; Silberschatz OSC 10e §10.4.5.2; Tanenbaum MOS 4e
//! §3.4.5). The bits are the hardware's accessed flags, read and cleared
//! through [`ReferenceBits`].

use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// Frames [`Clock`]'s victim hint looks at from the hand.
const HINT_REACH: usize = 64;

/// The circle of frames and the hand.
pub struct Clock {
    /// Whether each frame holds a page this policy tracks.
    present: Vec<bool>,
    tracked: usize,
    hand: usize,
    /// Referenced bits the last search cleared (for the explanation).
    cleared: u64,
}

impl Clock {
    /// Clock over `capacity` frames, hand at frame 0.
    pub fn new(capacity: usize) -> Clock {
        Clock {
            present: vec![false; capacity],
            tracked: 0,
            hand: 0,
            cleared: 0,
        }
    }

    /// Where the hand points now.
    pub fn hand(&self) -> FrameId {
        self.hand as FrameId
    }
}

impl ReplacementPolicy for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.present[frame as usize] = true;
        self.tracked += 1;
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
        self.cleared = 0;
        loop {
            let frame = self.hand as FrameId;
            self.hand = (self.hand + 1) % n;
            if !self.present[frame as usize] {
                continue;
            }
            // Second chance: a referenced frame loses its bit and survives
            // this sweep; after one full turn every bit is clear.
            if !refs.test_and_clear_referenced(frame) {
                self.present[frame as usize] = false;
                self.tracked -= 1;
                return Some(frame);
            }
            self.cleared += 1;
        }
    }
    /// The first tracked frame from the hand whose bit is clear: the
    /// frame the sweep would stop at, if no reference sets its bit first.
    /// Looks at most [`HINT_REACH`] frames ahead (a longer sweep is rare,
    /// and the guess must cost little). The next victim only: guessing
    /// further (the second clear bit) cost more than it saved (Zipf 5 M,
    /// 1.06 of the time).
    fn upcoming_victim(&self, referenced: Option<&[bool]>, ahead: usize) -> Option<FrameId> {
        let referenced = referenced?;
        if ahead > 0 {
            return None;
        }
        // From the hand round the circle, without a division a step.
        let n = self.present.len();
        (self.hand..self.hand + HINT_REACH.min(n))
            .map(|at| if at >= n { at - n } else { at })
            .find(|&frame| self.present[frame] && !referenced.get(frame).copied().unwrap_or(true))
            .map(|frame| frame as FrameId)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "the hand found the referenced bit clear at frame {victim} after clearing {} referenced bit(s) (second chances)",
            self.cleared
        )
    }
}
