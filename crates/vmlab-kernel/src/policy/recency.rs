//! [`RecencyLogs`]: lists of frames in order of last use, kept as logs of
//! uses rather than linked lists: LRU's one list, ARC's `T1` and `T2`,
//! S3-FIFO's two queues (a page reinserted is a page used).
//!
//! Moving a frame to the newest end of a list appends it to that list's
//! log and notes where (list and position) in the frame's state; the
//! frame's older entries go stale. The oldest live entry of a list is its
//! least recently used frame; taking it pops stale entries off the front
//! until one is live. A move then writes one frame's state and the end of
//! a log, which is cached, where relinking a node of a doubly linked list
//! rewrites the links of three frames scattered over memory; and the
//! frames next to leave are read off the log in order, so their state can
//! be loaded early. A log that fills is compacted: its live entries (at
//! most one per frame) move to its front.

use super::bit_table::BitTable;
use super::FrameId;

/// A frame's place, one word: its position in a list's log (the high 56
/// bits) and the list (the low 8), so that testing an entry is one
/// compare and a move writes one word. Positions count up from 0 and
/// would need 2^56 moves of one list to overflow (years of simulation).
type Place = u64;

/// The place of a frame on no list (no list is numbered 255).
const UNLISTED: Place = u64::MAX;

/// The place of entry `at` of `list`.
#[inline]
fn place(list: usize, at: u64) -> Place {
    (at << 8) | list as u64
}

/// The list of a place.
#[inline]
fn list_of(place: Place) -> usize {
    (place & 0xff) as usize
}

/// Log entries per frame: a log is compacted when full, and this keeps at
/// least three quarters of it free after a compaction, so each move costs
/// a bounded fraction of an entry's move.
const LOG_PER_FRAME: usize = 4;

/// How far ahead of a log's front taking frames starts loading their
/// places: the entries it will test a few takes later.
const LOOK_AHEAD: u64 = 16;

/// How many entries from a log's front [`RecencyLogs::upcoming`] reads,
/// at most (the front is usually live, so it rarely reads more than a
/// few).
const HINT_REACH: u64 = 32;

/// Lists one [`RecencyLogs`] can hold (ARC's two). A fixed array rather
/// than a vector: a list named by a constant then costs no bounds check
/// or indirection on a touch.
const MAX_LISTS: usize = 2;

/// One list's log: frame ids in order of use; entry `at` sits in
/// `entries[at & mask]` and is live when its frame's place is this list
/// and `at`.
#[derive(Clone, Debug)]
struct Log {
    entries: Vec<FrameId>,
    mask: u64,
    /// Position of the oldest entry kept, and one past the newest.
    front: u64,
    back: u64,
    /// Live entries: frames on this list.
    len: usize,
}

/// Up to a few lists over the frames `0..capacity`, each in order of
/// last use; a frame is on at most one list.
#[derive(Clone, Debug)]
pub struct RecencyLogs {
    places: Vec<Place>,
    /// One bit a frame, set while it is on list 1: which list a frame
    /// being moved leaves, from a table small enough to stay cached (12
    /// KiB for 100 000 frames), where its place would wait for memory.
    on_second: BitTable,
    /// The lists in use are the first `lists`.
    logs: [Log; MAX_LISTS],
    lists: usize,
}

impl RecencyLogs {
    /// `lists` (at most 2) empty lists over `capacity` frames.
    pub fn new(capacity: usize, lists: usize) -> RecencyLogs {
        assert!(lists <= MAX_LISTS, "at most {MAX_LISTS} lists");
        let slots = (capacity.max(1) * LOG_PER_FRAME).next_power_of_two();
        RecencyLogs {
            places: vec![UNLISTED; capacity],
            on_second: BitTable::new(capacity),
            logs: std::array::from_fn(|list| {
                // A list not in use has an empty log.
                let slots = if list < lists { slots } else { 1 };
                Log {
                    entries: vec![0; slots],
                    mask: slots as u64 - 1,
                    front: 0,
                    back: 0,
                    len: 0,
                }
            }),
            lists,
        }
    }

    /// Number of frames on `list`.
    #[inline]
    pub fn len(&self, list: usize) -> usize {
        self.logs[list].len
    }

    /// Whether `list` is empty.
    #[inline]
    pub fn is_empty(&self, list: usize) -> bool {
        self.logs[list].len == 0
    }

    /// The frame of entry `at` of `list`'s log.
    #[inline(always)]
    fn frame_at(&self, list: usize, at: u64) -> FrameId {
        let log = &self.logs[list];
        log.entries[(at & log.mask) as usize]
    }

    /// Whether entry `at` of `list`'s log is its frame's place.
    #[inline(always)]
    fn is_live(&self, list: usize, at: u64) -> bool {
        self.places[self.frame_at(list, at) as usize] == place(list, at)
    }

    /// Appends `frame` to `list`'s log and makes that its place (the
    /// callers keep the lengths).
    #[inline(always)]
    fn append(&mut self, list: usize, frame: FrameId) {
        let log = &self.logs[list];
        if log.back - log.front == log.entries.len() as u64 {
            self.compact(list);
        }
        let log = &mut self.logs[list];
        let at = log.back;
        log.entries[(at & log.mask) as usize] = frame;
        log.back = at + 1;
        self.places[frame as usize] = place(list, at);
        self.set_on_second(frame, list == 1);
    }

    /// Whether `frame` is on list 1, by the bit table.
    #[inline(always)]
    fn is_on_second(&self, frame: FrameId) -> bool {
        self.on_second.get(frame as usize)
    }

    /// Notes whether `frame` is on list 1 (with one list, nothing reads
    /// the table, so nothing is noted).
    #[inline(always)]
    fn set_on_second(&mut self, frame: FrameId, on: bool) {
        if self.lists > 1 {
            self.on_second.set(frame as usize, on);
        }
    }

    /// Moves `list`'s live entries, in order, to the front of its log;
    /// every frame's place is its new position.
    #[cold]
    fn compact(&mut self, list: usize) {
        let (front, back) = (self.logs[list].front, self.logs[list].back);
        let mut kept = front;
        for at in front..back {
            if self.is_live(list, at) {
                let frame = self.frame_at(list, at);
                let log = &mut self.logs[list];
                // `kept <= at`: the entry written over was read already.
                log.entries[(kept & log.mask) as usize] = frame;
                self.places[frame as usize] = place(list, kept);
                kept += 1;
            }
        }
        self.logs[list].back = kept;
    }

    /// Takes `frame` off the list it is on (its entry goes stale); no-op
    /// if on none.
    #[inline]
    pub fn unlink(&mut self, frame: FrameId) {
        let was = std::mem::replace(&mut self.places[frame as usize], UNLISTED);
        if was != UNLISTED {
            self.logs[list_of(was)].len -= 1;
            self.set_on_second(frame, false);
        }
    }

    /// Appends `frame` (on no list) at the newest end of `list`.
    #[inline]
    pub fn push_back(&mut self, list: usize, frame: FrameId) {
        debug_assert_eq!(self.places[frame as usize], UNLISTED);
        self.logs[list].len += 1;
        self.append(list, frame);
    }

    /// Moves `frame` to the newest end of `list`, from the list it is on
    /// (it must be on one).
    #[inline(always)]
    pub fn move_to_back(&mut self, list: usize, frame: FrameId) {
        debug_assert_ne!(self.places[frame as usize], UNLISTED);
        // Repeated uses of one page find it the newest already. Asked of
        // the log's end, which is cached, before the frame's place, which
        // may wait for memory; a newest entry is stale only if its frame
        // left the list, and then its place says so.
        let log = &self.logs[list];
        if log.back > log.front
            && self.frame_at(list, log.back - 1) == frame
            && self.is_live(list, log.back - 1)
        {
            return;
        }
        // The list the frame leaves, from the bit table rather than its
        // place, which a touch would wait for; with one list, the frame
        // is on it already.
        if self.lists > 1 {
            let from = usize::from(self.is_on_second(frame));
            self.logs[from].len -= 1;
            self.logs[list].len += 1;
        }
        self.append(list, frame);
    }

    /// Drops stale entries off the front of `list`'s log, so its front is
    /// the least recently used frame (or the log is empty). Loads the
    /// places of the frames [`LOOK_AHEAD`] entries further as it goes.
    #[inline(always)]
    fn drop_stale_front(&mut self, list: usize) {
        loop {
            let Log { front, back, .. } = self.logs[list];
            if front >= back {
                return;
            }
            if front + LOOK_AHEAD < back {
                let ahead = self.frame_at(list, front + LOOK_AHEAD);
                vmlab_hw::prefetch::prefetch(&self.places[ahead as usize]);
            }
            if self.is_live(list, front) {
                return;
            }
            self.logs[list].front = front + 1;
        }
    }

    /// The least recently used frame of `list`, left on it.
    #[inline(always)]
    pub fn front(&mut self, list: usize) -> Option<FrameId> {
        if self.logs[list].len == 0 {
            return None;
        }
        self.drop_stale_front(list);
        Some(self.frame_at(list, self.logs[list].front))
    }

    /// Removes and returns the least recently used frame of `list`.
    #[inline(always)]
    pub fn pop_front(&mut self, list: usize) -> Option<FrameId> {
        let frame = self.front(list)?;
        self.logs[list].front += 1;
        self.unlink(frame);
        // The next to leave is at the front again, for hints.
        self.drop_stale_front(list);
        Some(frame)
    }

    /// The frames of `list`, least recently used first, among the
    /// `reach` oldest entries of its log.
    fn oldest(&self, list: usize, reach: u64) -> impl Iterator<Item = FrameId> + '_ {
        let log = &self.logs[list];
        (log.front..log.back.min(log.front.saturating_add(reach)))
            .filter(move |&at| self.is_live(list, at))
            .map(move |at| self.frame_at(list, at))
    }

    /// The frames of `list`, least recently used first.
    pub fn frames(&self, list: usize) -> impl Iterator<Item = FrameId> + '_ {
        self.oldest(list, u64::MAX)
    }

    /// The `ahead`-th least recently used frame of `list` (0: the least),
    /// among the [`HINT_REACH`] oldest entries of its log: a hint of the
    /// frames to leave next.
    pub fn upcoming(&self, list: usize, ahead: usize) -> Option<FrameId> {
        self.oldest(list, HINT_REACH).nth(ahead)
    }

    /// Hints the host cache to load `frame`'s place, which any move of
    /// `frame` reads first.
    #[inline]
    pub fn prefetch(&self, frame: FrameId) {
        if let Some(place) = self.places.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(place);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::random::SplitMix64;
    use super::*;

    /// Random pushes, moves (within a list and across lists), unlinks,
    /// looks at the front and pops on 7 frames over 2 lists agree with
    /// plain vectors in order of use, and so do the hints; the logs (32
    /// entries each) compact often.
    #[test]
    fn agrees_with_lists_in_order_of_use() {
        const FRAMES: u32 = 7;
        let mut logs = RecencyLogs::new(FRAMES as usize, 2);
        // Least recently used first.
        let mut model: Vec<Vec<FrameId>> = vec![Vec::new(); 2];
        let mut rng = SplitMix64::new(11);
        let mut compactions = 0;
        for _ in 0..60_000 {
            let x = rng.next_u64();
            let frame = (x % u64::from(FRAMES)) as FrameId;
            let list = ((x >> 8) % 2) as usize;
            let on = model.iter().position(|m| m.contains(&frame));
            let backs: Vec<u64> = logs.logs.iter().map(|l| l.back).collect();
            // Mostly moves, which fill the logs; few unlinks and pops,
            // which would empty them.
            match (x >> 16) % 64 {
                0..=7 if on.is_none() => {
                    logs.push_back(list, frame);
                    model[list].push(frame);
                }
                8 => {
                    logs.unlink(frame);
                    if let Some(o) = on {
                        model[o].retain(|&f| f != frame);
                    }
                }
                9 => {
                    assert_eq!(logs.front(list), model[list].first().copied());
                    let expected = (!model[list].is_empty()).then(|| model[list].remove(0));
                    assert_eq!(logs.pop_front(list), expected);
                }
                _ if on.is_some() => {
                    logs.move_to_back(list, frame);
                    for m in &mut model {
                        m.retain(|&f| f != frame);
                    }
                    model[list].push(frame);
                }
                _ => {}
            }
            compactions += logs
                .logs
                .iter()
                .zip(&backs)
                .filter(|(l, &b)| l.back < b)
                .count();
            for (i, m) in model.iter().enumerate() {
                assert_eq!(logs.len(i), m.len());
                assert_eq!(logs.frames(i).collect::<Vec<_>>(), *m);
                for ahead in 0..3 {
                    assert_eq!(logs.upcoming(i, ahead), m.get(ahead).copied());
                }
            }
        }
        assert!(compactions > 100, "the logs compacted {compactions} times");
    }
}
