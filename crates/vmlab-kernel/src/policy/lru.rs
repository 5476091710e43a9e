//! LRU: evict the page whose last reference is oldest, knowing every
//! reference exactly (Silberschatz OSC 10e §10.4.4; Mattson et al. 1970).
//! Real kernels cannot afford this bookkeeping; simulators and caches can.
//!
//! The recency order is kept as a log of uses, not a linked list: a touch
//! appends the frame to the log and notes where, and the frame's older
//! entries go stale. The oldest live entry is the least recently used
//! frame; evicting pops stale entries off the front until it finds one.
//! A touch then writes two words (one of them at the end of the log,
//! which is cached) where moving a list node rewrites the links of three
//! frames scattered over memory, and the victims ahead are read off the
//! log in order, so their state can be loaded early. When the log fills,
//! its live entries (at most one per frame) are compacted to its front.

use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// `last_use` of a frame this policy does not track.
const UNTRACKED: u64 = u64::MAX;

/// Log entries per frame: the log is compacted when full, and this keeps
/// at least three quarters of it free after a compaction, so each use
/// costs a bounded fraction of a move.
const LOG_PER_FRAME: usize = 4;

/// How far ahead of the front the eviction starts loading the frames' use
/// positions: the entries it will test after a few more evictions.
const LOOK_AHEAD: u64 = 16;

/// How many log entries a victim hint reads, at most (the front is
/// usually live, so the hint rarely reads more than a few).
const HINT_REACH: u64 = 32;

/// Frames in order of last use, as a log of uses.
pub struct Lru {
    /// Each frame's position of its last use in the log, or `UNTRACKED`.
    /// Positions count up for ever; entry `at` sits in `log[at & mask]`.
    last_use: Vec<u64>,
    /// The frames in order of use; the entry at `at` is live when its
    /// frame's `last_use` is `at`, stale otherwise.
    log: Vec<FrameId>,
    mask: u64,
    /// Position of the oldest entry kept, and one past the newest.
    front: u64,
    back: u64,
    tracked: usize,
}

impl Lru {
    /// LRU over `capacity` frames.
    pub fn new(capacity: usize) -> Lru {
        let slots = (capacity.max(1) * LOG_PER_FRAME).next_power_of_two();
        Lru {
            last_use: vec![UNTRACKED; capacity],
            log: vec![0; slots],
            mask: slots as u64 - 1,
            front: 0,
            back: 0,
            tracked: 0,
        }
    }

    /// The frame of the entry at position `at`.
    #[inline]
    fn frame_at(&self, at: u64) -> FrameId {
        self.log[(at & self.mask) as usize]
    }

    /// Whether the entry at `at` is its frame's last use.
    #[inline]
    fn is_live(&self, at: u64) -> bool {
        self.last_use[self.frame_at(at) as usize] == at
    }

    /// Logs a use of `frame`, which becomes the most recently used.
    #[inline]
    fn log_use(&mut self, frame: FrameId) {
        if self.back - self.front == self.log.len() as u64 {
            self.compact();
        }
        let at = self.back;
        self.log[(at & self.mask) as usize] = frame;
        self.last_use[frame as usize] = at;
        self.back = at + 1;
    }

    /// Moves the live entries, in order, to the front of the log; every
    /// frame's position is its new one.
    #[cold]
    fn compact(&mut self) {
        let mut kept = self.front;
        for at in self.front..self.back {
            if self.is_live(at) {
                let frame = self.frame_at(at);
                // `kept <= at`: the entry written over was read already.
                self.log[(kept & self.mask) as usize] = frame;
                self.last_use[frame as usize] = kept;
                kept += 1;
            }
        }
        self.back = kept;
    }

    /// Drops stale entries off the front, so the front is the least
    /// recently used frame (or the log is empty). Loads the positions of
    /// the frames `LOOK_AHEAD` entries further as it goes.
    #[inline]
    fn drop_stale_front(&mut self) {
        while self.front < self.back {
            let ahead = self.front + LOOK_AHEAD;
            if ahead < self.back {
                vmlab_hw::prefetch::prefetch(&self.last_use[self.frame_at(ahead) as usize]);
            }
            if self.is_live(self.front) {
                return;
            }
            self.front += 1;
        }
    }

    /// The live frames from the front, oldest use first, among the
    /// [`HINT_REACH`] oldest entries.
    fn oldest_live(&self) -> impl Iterator<Item = FrameId> + '_ {
        (self.front..self.back.min(self.front + HINT_REACH))
            .filter(|&at| self.is_live(at))
            .map(|at| self.frame_at(at))
    }
}

impl ReplacementPolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        debug_assert_eq!(self.last_use[frame as usize], UNTRACKED);
        self.tracked += 1;
        self.log_use(frame);
    }
    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        debug_assert_ne!(self.last_use[frame as usize], UNTRACKED);
        // Repeated uses of one page find it the newest already. Asked of
        // the log's end, which is cached, rather than of the frame's
        // position, which would wait for memory: the newest entry is
        // always live.
        if self.back == self.front || self.frame_at(self.back - 1) != frame {
            self.log_use(frame);
        }
    }
    fn wants_touch(&self) -> bool {
        true
    }
    fn touches_collapse(&self) -> bool {
        true
    }
    fn remove(&mut self, frame: FrameId) {
        if std::mem::replace(&mut self.last_use[frame as usize], UNTRACKED) != UNTRACKED {
            self.tracked -= 1;
        }
    }
    fn prefetch(&self, frame: FrameId) {
        if let Some(last) = self.last_use.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(last);
        }
    }
    fn upcoming_victim(&self, _referenced: Option<&[bool]>, ahead: usize) -> Option<FrameId> {
        self.oldest_live().nth(ahead)
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        if self.tracked == 0 {
            return None;
        }
        self.drop_stale_front();
        let victim = self.frame_at(self.front);
        self.front += 1;
        self.last_use[victim as usize] = UNTRACKED;
        self.tracked -= 1;
        // The next victim is at the front again, for the hints.
        self.drop_stale_front();
        Some(victim)
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!("least recently used: frame {victim}'s last reference is older than every other resident page's")
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::FrameBits;
    use super::*;

    /// Random inserts, touches, removals and evictions on 7 frames (so
    /// the log of 32 entries compacts every few dozen touches) agree with a
    /// plain list in order of use, and so do the victim hints.
    #[test]
    fn agrees_with_a_list_in_order_of_use() {
        const FRAMES: u32 = 7;
        let mut lru = Lru::new(FRAMES as usize);
        let mut bits = FrameBits::new(FRAMES as usize);
        // Least recently used first.
        let mut model: Vec<FrameId> = Vec::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut compactions_seen = 0;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let frame = (x % u64::from(FRAMES)) as FrameId;
            let tracked = model.contains(&frame);
            let back_before = lru.back;
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
            if lru.back < back_before {
                compactions_seen += 1;
            }
            assert_eq!(lru.tracked, model.len());
            for ahead in 0..3 {
                assert_eq!(lru.upcoming_victim(None, ahead), model.get(ahead).copied());
            }
        }
        assert!(
            compactions_seen > 100,
            "the log compacted {compactions_seen} times"
        );
    }
}
