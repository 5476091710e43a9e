//! FIFO: evict the page loaded longest ago, whatever its use. The textbook
//! baseline (Silberschatz OSC 10e §10.4.2) and the policy that shows
//! Belady's anomaly.

use super::list::FrameLists;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// Frames in load order.
pub struct Fifo {
    queue: FrameLists,
}

impl Fifo {
    /// FIFO over `capacity` frames.
    pub fn new(capacity: usize) -> Fifo {
        Fifo {
            queue: FrameLists::new(capacity, 1),
        }
    }
}

impl ReplacementPolicy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.queue.push_back(0, frame);
    }
    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
    fn wants_touch(&self) -> bool {
        false
    }
    fn remove(&mut self, frame: FrameId) {
        self.queue.unlink(frame);
    }
    fn prefetch(&self, frame: FrameId) {
        self.queue.prefetch(frame);
    }
    fn upcoming_victim(&self, _referenced: Option<&[bool]>, ahead: usize) -> Option<FrameId> {
        self.queue.frames(0).nth(ahead)
    }
    /// Two: the queue's victims are exact, and reading the third from its
    /// front costs little.
    fn victims_ahead(&self) -> usize {
        2
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        self.queue.pop_front(0)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!("oldest resident: frame {victim} was loaded before every other page (first in, first out)")
    }
}
