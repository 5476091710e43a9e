//! LRU: evict the page whose last reference is oldest, knowing every
//! reference exactly (Silberschatz OSC 10e §10.4.4; Mattson et al. 1970).
//! Real kernels cannot afford this bookkeeping; simulators and caches can.
//! The order of use is one [`RecencyLogs`] list: a touch appends to a log
//! instead of relinking a list node (see that module for why).

use super::recency::RecencyLogs;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// Frames in order of last use.
pub struct Lru {
    uses: RecencyLogs,
}

impl Lru {
    /// LRU over `capacity` frames.
    pub fn new(capacity: usize) -> Lru {
        Lru {
            uses: RecencyLogs::new(capacity, 1),
        }
    }
}

impl ReplacementPolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.uses.push_back(0, frame);
    }
    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        self.uses.move_to_back(0, frame);
    }
    fn wants_touch(&self) -> bool {
        true
    }
    fn touches_collapse(&self) -> bool {
        true
    }
    fn remove(&mut self, frame: FrameId) {
        self.uses.unlink(frame);
    }
    fn prefetch(&self, frame: FrameId) {
        self.uses.prefetch(frame);
    }
    fn upcoming_victim(&self, _referenced: Option<&[bool]>, ahead: usize) -> Option<FrameId> {
        self.uses.upcoming(0, ahead)
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        self.uses.pop_front(0)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!("least recently used: frame {victim}'s last reference is older than every other resident page's")
    }
}

#[cfg(test)]
mod tests {
    use super::super::random::SplitMix64;
    use super::super::sim::FrameBits;
    use super::*;

    /// Random inserts, touches, removals and evictions on 7 frames (so
    /// the log of 32 entries compacts every few dozen touches) agree with a
    /// plain list in order of use, and so do the victim hints: the one-list
    /// case, where a touch does not read the frame's place.
    #[test]
    fn agrees_with_a_list_in_order_of_use() {
        const FRAMES: u32 = 7;
        let mut lru = Lru::new(FRAMES as usize);
        let mut bits = FrameBits::new(FRAMES as usize);
        // Least recently used first.
        let mut model: Vec<FrameId> = Vec::new();
        let mut rng = SplitMix64::new(11);
        for _ in 0..50_000 {
            let x = rng.next_u64();
            let frame = (x % u64::from(FRAMES)) as FrameId;
            let tracked = model.contains(&frame);
            // Mostly touches, which fill the log; few evictions and
            // removals, which would empty it.
            match (x >> 8) % 64 {
                0..=7 if !tracked => {
                    lru.insert(frame, 0, &mut bits);
                    model.push(frame);
                }
                2 => {
                    lru.remove(frame);
                    model.retain(|&f| f != frame);
                }
                3 => {
                    let victim = lru.evict(&mut bits);
                    let expected = (!model.is_empty()).then(|| model.remove(0));
                    assert_eq!(victim, expected);
                }
                _ if tracked => {
                    lru.touch(frame, &mut bits);
                    model.retain(|&f| f != frame);
                    model.push(frame);
                }
                _ => {}
            }
            assert_eq!(lru.uses.len(0), model.len());
            for ahead in 0..3 {
                assert_eq!(lru.upcoming_victim(None, ahead), model.get(ahead).copied());
            }
        }
    }
}
