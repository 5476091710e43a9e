//! Bounded lists of remembered page keys: the "ghost" entries ARC, 2Q and
//! S3-FIFO keep for pages recently evicted, so that a page coming back
//! soon can be recognised. [`GhostLists`] keeps one or two lists (ARC's
//! `B1` and `B2`) over one index, so which list a key is on, if any, is
//! one look-up; [`GhostList`] is the one-list case. Insertion order is kept
//! (oldest forgotten first); membership and removal are O(1); the storage
//! is sized once, so nothing is allocated after construction.
//!
//! Each list is a log: a ring of keys in insertion order, numbered by
//! position. The index maps a key to its list and position, and an entry
//! is live while its position is at or past its list's front. Forgetting
//! the oldest key, which a full list does on every push, only advances the
//! front: the key's index entry goes stale where it lies, in a cache line
//! nothing else needs now, instead of being looked up and deleted. Stale
//! entries are dropped in bulk (a purge) once there are as many as the
//! index leaves room for. A key taken off a list from the middle (removed,
//! or pushed again) leaves a hole in its log, marked in a bit table and
//! skipped when the front reaches it; a log whose holes fill its ring is
//! compacted, renumbering its live keys.

use super::bit_table::BitTable;
use super::key_index::KeyIndex;
use super::PageKey;

/// A `HashMap` keyed by page keys.
pub type KeyMap<V> = vmlab_hw::intmap::IntMap<V>;

/// Lists one [`GhostLists`] can keep: the index stores a key's list in
/// the top bit of its entry's value.
const MAX_LISTS: usize = 2;

/// Keys one list can remember: its ring, twice as long, must number its
/// positions well within [`POSITION_MASK`] (see [`PURGE_EVERY`]).
pub const MAX_KEYS: usize = 1 << 27;

/// The top bit of an index value: the key is on list 1.
const LIST_BIT: u32 = 1 << 31;

/// The bits of an index value that keep a position, modulo their range.
/// Thirty rather than thirty-one, so no value is `u32::MAX`, which the
/// index reserves.
const POSITION_MASK: u32 = (1 << 30) - 1;

/// Pushes after which stale index entries are purged however few they
/// are: a stale position then cannot come round, modulo
/// [`POSITION_MASK`], into its list's live range.
const PURGE_EVERY: u64 = 1 << 28;

/// The index value of the entry at position `at` of `list`.
#[inline]
fn tagged(at: u64, list: usize) -> u32 {
    let position = at as u32 & POSITION_MASK;
    if list == 1 {
        position | LIST_BIT
    } else {
        position
    }
}

/// The list an index value names.
#[inline]
fn list_in(value: u32) -> usize {
    usize::from(value & LIST_BIT != 0)
}

/// One list: a ring of keys in insertion order, its holes, its ends.
#[derive(Clone, Debug)]
struct Log {
    /// The key at position `at` sits in `keys[at & mask]`.
    keys: Vec<PageKey>,
    /// One bit a ring slot, set while its key was taken off the list
    /// from the middle: the front skips it.
    holes: BitTable,
    mask: u64,
    /// Position of the oldest entry kept, and one past the newest.
    front: u64,
    back: u64,
    /// Live keys.
    len: usize,
    capacity: usize,
}

impl Log {
    fn new(capacity: usize) -> Log {
        // Twice the bound: a compaction finds at least half the ring holes.
        let slots = (capacity * 2).max(1).next_power_of_two();
        Log {
            keys: vec![0; slots],
            holes: BitTable::new(slots),
            mask: slots as u64 - 1,
            front: 0,
            back: 0,
            len: 0,
            capacity,
        }
    }

    /// The absolute position an index value of this list names, if that
    /// position is live (the index holds live keys' positions exactly, so
    /// a position in the live range is the key's own).
    #[inline]
    fn live_position(&self, value: u32) -> Option<u64> {
        let behind = (self.back as u32).wrapping_sub(value) & POSITION_MASK;
        (behind >= 1 && u64::from(behind) <= self.back - self.front)
            .then(|| self.back - u64::from(behind))
    }

    #[inline]
    fn is_hole(&self, at: u64) -> bool {
        self.holes.get((at & self.mask) as usize)
    }

    #[inline]
    fn set_hole(&mut self, at: u64, hole: bool) {
        self.holes.set((at & self.mask) as usize, hole);
    }
}

/// Up to [`MAX_LISTS`] lists of page keys, each in insertion order and
/// bounded on its own; a key is on one list at most.
#[derive(Clone, Debug)]
pub struct GhostLists {
    /// Key → its list ([`LIST_BIT`]) and position; stale for keys
    /// forgotten as the oldest, until the next purge.
    index: KeyIndex,
    logs: [Log; MAX_LISTS],
    /// Stale index entries allowed before a purge (or half the live ones,
    /// if more: a purge reads the whole index).
    stale_room: usize,
    /// Pushes since the last purge (see [`PURGE_EVERY`]).
    pushes_since_purge: u64,
}

impl GhostLists {
    /// Empty lists, one per `(capacity, usual)` pair: list `i` remembers at
    /// most `capacity` keys and usually holds no more than `usual`. The
    /// index is sized for the usual sizes (a smaller table, more of it in
    /// the cache) and grows only if the lists do outgrow them.
    ///
    /// # Panics
    /// With more than two lists, or a list too long for the positions the
    /// index stores.
    pub fn new(bounds: &[(usize, usize)]) -> GhostLists {
        assert!(bounds.len() <= MAX_LISTS, "at most {MAX_LISTS} ghost lists");
        assert!(
            bounds.iter().all(|&(capacity, _)| capacity <= MAX_KEYS),
            "too many ghost keys to number"
        );
        let usual: usize = bounds.iter().map(|&(c, usual)| usual.min(c)).sum();
        // A list not asked for has no room.
        let logs = std::array::from_fn(|list| Log::new(bounds.get(list).map_or(0, |&(c, _)| c)));
        // Stale entries may take what room the index has beyond the usual
        // live keys, at least as much again as those.
        let index = KeyIndex::with_capacity(2 * usual.max(64));
        GhostLists {
            stale_room: index.capacity() - usual,
            index,
            logs,
            pushes_since_purge: 0,
        }
    }

    /// Number of keys list `list` remembers.
    #[inline]
    pub fn len(&self, list: usize) -> usize {
        self.logs[list].len
    }

    /// The list `key` is on, if any.
    #[inline]
    pub fn list_of(&self, key: PageKey) -> Option<usize> {
        let value = self.index.get(key)?;
        let list = list_in(value);
        self.logs[list].live_position(value).map(|_| list)
    }

    /// Whether list `list` remembers `key`.
    #[inline]
    pub fn contains(&self, list: usize, key: PageKey) -> bool {
        self.list_of(key) == Some(list)
    }

    /// Hints the host cache to load where a look-up of `key` starts.
    #[inline]
    pub fn prefetch(&self, key: PageKey) {
        self.index.preload(key);
    }

    /// Remembers `key` as the newest of `list` (taking it off any list it
    /// is on), forgetting that list's oldest when it is full. Returns the
    /// key forgotten, if any.
    pub fn push(&mut self, list: usize, key: PageKey) -> Option<PageKey> {
        if self.logs[list].capacity == 0 {
            return Some(key);
        }
        self.remove(key);
        let forgotten = if self.logs[list].len == self.logs[list].capacity {
            self.pop_oldest(list)
        } else {
            None
        };
        let log = &self.logs[list];
        if log.back - log.front == log.keys.len() as u64 {
            self.compact(list);
        }
        let log = &mut self.logs[list];
        let at = log.back;
        log.keys[(at & log.mask) as usize] = key;
        log.set_hole(at, false);
        log.back = at + 1;
        log.len += 1;
        self.index.insert(key, tagged(at, list));
        self.pushes_since_purge += 1;
        self.purge_when_due();
        forgotten
    }

    /// Forgets `key`; returns the list it was on.
    pub fn remove(&mut self, key: PageKey) -> Option<usize> {
        // A stale entry goes too: its slot is loaded now.
        let value = self.index.remove(key)?;
        let list = list_in(value);
        let at = self.logs[list].live_position(value)?;
        let log = &mut self.logs[list];
        log.set_hole(at, true);
        log.len -= 1;
        Some(list)
    }

    /// Forgets and returns the oldest key of `list`. Its index entry is
    /// left stale (see the module doc).
    pub fn pop_oldest(&mut self, list: usize) -> Option<PageKey> {
        let log = &mut self.logs[list];
        if log.len == 0 {
            return None;
        }
        while log.is_hole(log.front) {
            log.front += 1;
        }
        let key = log.keys[(log.front & log.mask) as usize];
        log.front += 1;
        log.len -= 1;
        self.purge_when_due();
        Some(key)
    }

    /// Moves the live keys of `list`'s full ring to its front, in order,
    /// numbered on from its back (so every stale position stays behind
    /// the front), and points their index entries at them.
    #[cold]
    fn compact(&mut self, list: usize) {
        let log = &mut self.logs[list];
        let (front, back) = (log.front, log.back);
        let mut kept = 0;
        for at in front..back {
            if !log.is_hole(at) {
                let key = log.keys[(at & log.mask) as usize];
                // The ring is full, so new position `back + kept` has the
                // slot of old position `front + kept`, at or before `at`.
                log.keys[((front + kept) & log.mask) as usize] = key;
                self.index.insert(key, tagged(back + kept, list));
                kept += 1;
            }
        }
        log.holes.clear();
        log.front = back;
        log.back = back + kept;
    }

    /// Purges once the stale index entries outnumber their room, or
    /// [`PURGE_EVERY`] pushes after the last purge.
    #[inline]
    fn purge_when_due(&mut self) {
        let live = self.logs[0].len + self.logs[1].len;
        if self.index.len() - live > self.stale_room.max(live / 2)
            || self.pushes_since_purge >= PURGE_EVERY
        {
            self.purge();
        }
    }

    /// Drops the index entries of keys forgotten as the oldest.
    #[cold]
    fn purge(&mut self) {
        let logs = &self.logs;
        self.index
            .retain(|_, value| logs[list_in(value)].live_position(value).is_some());
        self.pushes_since_purge = 0;
    }
}

/// Up to `capacity` page keys in insertion order: [`GhostLists`] with one
/// list.
#[derive(Clone, Debug)]
pub struct GhostList(GhostLists);

impl GhostList {
    /// An empty list that remembers at most `capacity` keys.
    pub fn new(capacity: usize) -> GhostList {
        GhostList::expecting(capacity, capacity)
    }

    /// An empty list that remembers at most `capacity` keys and usually
    /// holds no more than `usual` (see [`GhostLists::new`]).
    pub fn expecting(capacity: usize, usual: usize) -> GhostList {
        GhostList(GhostLists::new(&[(capacity, usual)]))
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.0.len(0)
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is remembered.
    #[inline]
    pub fn contains(&self, key: PageKey) -> bool {
        self.0.contains(0, key)
    }

    /// Hints the host cache to load where a look-up of `key` starts.
    #[inline]
    pub fn prefetch(&self, key: PageKey) {
        self.0.prefetch(key);
    }

    /// Remembers `key` as the newest, forgetting the oldest when full.
    /// Returns the key forgotten, if any.
    pub fn push(&mut self, key: PageKey) -> Option<PageKey> {
        self.0.push(0, key)
    }

    /// Forgets `key`; returns whether it was remembered.
    pub fn remove(&mut self, key: PageKey) -> bool {
        self.0.remove(key).is_some()
    }

    /// Forgets and returns the oldest key.
    pub fn pop_oldest(&mut self) -> Option<PageKey> {
        self.0.pop_oldest(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_fifo_of_keys() {
        let mut g = GhostList::new(3);
        assert_eq!(g.push(10), None);
        assert_eq!(g.push(20), None);
        assert_eq!(g.push(30), None);
        assert_eq!(g.push(40), Some(10));
        assert!(!g.contains(10) && g.contains(40));
        assert!(g.remove(30));
        assert_eq!(g.push(50), None);
        // Re-pushing refreshes the key's age.
        assert_eq!(g.push(20), None);
        assert_eq!(g.pop_oldest(), Some(40));
        assert_eq!(g.pop_oldest(), Some(50));
        assert_eq!(g.pop_oldest(), Some(20));
        assert!(g.is_empty());
        let mut none = GhostList::new(0);
        assert_eq!(none.push(1), Some(1));
        // Outgrowing the usual size loses nothing.
        let mut small = GhostList::expecting(100, 2);
        for k in 0..150 {
            small.push(k);
        }
        assert_eq!(small.len(), 100);
        assert!((50..150).all(|k| small.contains(k)) && !small.contains(49));
    }

    /// Random pushes, removals and pops agree with a plain queue of keys
    /// (oldest first), through wrap-around and compaction of the rings;
    /// with many keys, through purges of the stale index entries, which
    /// keep the index from holding every key ever pushed.
    #[test]
    fn agrees_with_a_plain_queue() {
        for (capacity, keys) in [(1, 40), (3, 40), (17, 40), (17, 400)] {
            let mut g = GhostList::new(capacity);
            let mut model: std::collections::VecDeque<PageKey> = Default::default();
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            for step in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = x % keys;
                match x >> 62 {
                    0 | 1 => {
                        model.retain(|&k| k != key);
                        let forgotten = (model.len() == capacity)
                            .then(|| model.pop_front())
                            .flatten();
                        model.push_back(key);
                        assert_eq!(g.push(key), forgotten);
                    }
                    2 => {
                        let had = model.contains(&key);
                        model.retain(|&k| k != key);
                        assert_eq!(g.remove(key), had);
                    }
                    _ => assert_eq!(g.pop_oldest(), model.pop_front()),
                }
                assert_eq!(g.len(), model.len());
                let stale = g.0.index.len() - g.len();
                assert!(stale <= g.0.stale_room.max(g.len() / 2), "{stale} stale");
                if keys <= 40 || step % 16 == 0 {
                    for k in 0..keys {
                        assert_eq!(g.contains(k), model.contains(&k), "key {k}");
                    }
                }
            }
        }
    }

    /// A memory with more frames than the ghost lists can number positions
    /// for is refused with an error naming the limit (ARC at 10^8 frames
    /// panicked).
    #[test]
    fn ghost_policies_refuse_memories_their_lists_cannot_number() {
        let params = super::super::PolicyParams::default();
        let limit = (MAX_KEYS - 1) / 2;
        for name in ["arc", "2q", "s3-fifo"] {
            let err = super::super::by_name(name, limit + 1, &params).err();
            let message = err.expect(name).to_string();
            assert!(
                message.contains(&format!("at most {limit} frames")),
                "{message}"
            );
        }
    }

    /// Two lists over one index agree with two plain queues, a key on one
    /// of them at most: a push takes it off the other, a removal says
    /// which it was on, and each list keeps its own bound.
    #[test]
    fn two_lists_agree_with_two_plain_queues() {
        let bounds = [(3, 3), (5, 2)];
        let mut g = GhostLists::new(&bounds);
        let mut model: [std::collections::VecDeque<PageKey>; 2] = Default::default();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x % 12;
            let list = (x >> 40) as usize % 2;
            match x >> 62 {
                0 | 1 => {
                    model[0].retain(|&k| k != key);
                    model[1].retain(|&k| k != key);
                    let queue = &mut model[list];
                    let forgotten = (queue.len() == bounds[list].0)
                        .then(|| queue.pop_front())
                        .flatten();
                    queue.push_back(key);
                    assert_eq!(g.push(list, key), forgotten);
                }
                2 => {
                    let was = (0..2).find(|&l| model[l].contains(&key));
                    model[0].retain(|&k| k != key);
                    model[1].retain(|&k| k != key);
                    assert_eq!(g.remove(key), was);
                }
                _ => assert_eq!(g.pop_oldest(list), model[list].pop_front()),
            }
            for (l, queue) in model.iter().enumerate() {
                assert_eq!(g.len(l), queue.len());
            }
            for k in 0..12 {
                let on = (0..2).find(|&l| model[l].contains(&k));
                assert_eq!(g.list_of(k), on, "key {k}");
            }
        }
    }
}
