//! LRU: evict the page whose last reference is oldest, knowing every
//! reference exactly (Silberschatz OSC 10e §10.4.4; Mattson et al. 1970).
//! Real kernels cannot afford this bookkeeping; simulators and caches can.

use super::list::FrameLists;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// Frames from least to most recently used.
pub struct Lru {
    order: FrameLists,
}

impl Lru {
    /// LRU over `capacity` frames.
    pub fn new(capacity: usize) -> Lru {
        Lru {
            order: FrameLists::new(capacity, 1),
        }
    }
}

impl ReplacementPolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.order.push_back(0, frame);
    }
    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        self.order.move_to_back(0, frame);
    }
    fn wants_touch(&self) -> bool {
        true
    }
    fn touches_collapse(&self) -> bool {
        true
    }
    fn remove(&mut self, frame: FrameId) {
        self.order.unlink(frame);
    }
    fn prefetch(&self, frame: FrameId) {
        self.order.prefetch(frame);
    }
    fn next_victim(&self, _referenced: Option<&[bool]>) -> Option<FrameId> {
        self.order.front(0)
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        self.order.pop_front(0)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!("least recently used: frame {victim}'s last reference is older than every other resident page's")
    }
}
