//! Bounded lists of remembered page keys: the "ghost" entries ARC, 2Q and
//! S3-FIFO keep for pages recently evicted, so that a page coming back
//! soon can be recognised. [`GhostLists`] keeps one or two lists (ARC's
//! `B1` and `B2`) over one index, so which list a key is on, if any, is
//! one look-up; [`GhostList`] is the one-list case. Insertion order is kept
//! (oldest forgotten first); membership and removal are O(1); the storage
//! is sized once, so nothing is allocated after construction.

use super::key_index::KeyIndex;
use super::PageKey;

/// A `HashMap` keyed by page keys.
pub type KeyMap<V> = vmlab_hw::intmap::IntMap<V>;

const NIL: u32 = u32::MAX;

/// Lists one [`GhostLists`] can keep: the index stores a key's list in
/// the top bit of its entry's slot number.
const MAX_LISTS: usize = 2;

/// The top bit of an index value: the key is on list 1.
const LIST_BIT: u32 = 1 << 31;

/// The index value of an entry in `slot` on `list`.
#[inline]
fn tagged(slot: u32, list: usize) -> u32 {
    if list == 1 {
        slot | LIST_BIT
    } else {
        slot
    }
}

/// The list an index value names.
#[inline]
fn list_in(value: u32) -> usize {
    usize::from(value & LIST_BIT != 0)
}

/// A remembered key and its neighbours in insertion order, side by side:
/// forgetting or pushing touches one cache line per entry involved, not
/// one per array.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: PageKey,
    prev: u32,
    next: u32,
}

/// One list's ends, length and bound.
#[derive(Clone, Copy, Debug)]
struct Queue {
    head: u32,
    tail: u32,
    len: usize,
    capacity: usize,
}

/// Up to [`MAX_LISTS`] lists of page keys, each in insertion order and
/// bounded on its own; a key is on one list at most.
#[derive(Clone, Debug)]
pub struct GhostLists {
    /// Key → its entry's slot, with [`LIST_BIT`] set for list 1.
    slot_of: KeyIndex,
    /// Every list's entries, from one pool of slots.
    entries: Vec<Entry>,
    queues: [Queue; MAX_LISTS],
    free: Vec<u32>,
}

impl GhostLists {
    /// Empty lists, one per `(capacity, usual)` pair: list `i` remembers at
    /// most `capacity` keys and usually holds no more than `usual`. The
    /// index is sized for the usual sizes (a smaller table, more of it in
    /// the cache) and grows only if the lists do outgrow them.
    ///
    /// # Panics
    /// With more than two lists, or more keys in all than the index can
    /// number.
    pub fn new(bounds: &[(usize, usize)]) -> GhostLists {
        assert!(bounds.len() <= MAX_LISTS, "at most {MAX_LISTS} ghost lists");
        let slots: usize = bounds.iter().map(|&(capacity, _)| capacity).sum();
        let usual: usize = bounds.iter().map(|&(c, usual)| usual.min(c)).sum();
        assert!(slots < LIST_BIT as usize, "too many ghost keys to number");
        let mut queues = [Queue {
            head: NIL,
            tail: NIL,
            len: 0,
            capacity: 0,
        }; MAX_LISTS];
        for (queue, &(capacity, _)) in queues.iter_mut().zip(bounds) {
            queue.capacity = capacity;
        }
        GhostLists {
            slot_of: KeyIndex::with_capacity(usual),
            entries: vec![
                Entry {
                    key: 0,
                    prev: NIL,
                    next: NIL
                };
                slots
            ],
            queues,
            free: (0..slots as u32).rev().collect(),
        }
    }

    /// Number of keys list `list` remembers.
    #[inline]
    pub fn len(&self, list: usize) -> usize {
        self.queues[list].len
    }

    /// The list `key` is on, if any.
    #[inline]
    pub fn list_of(&self, key: PageKey) -> Option<usize> {
        self.slot_of.get(key).map(list_in)
    }

    /// Whether list `list` remembers `key`.
    #[inline]
    pub fn contains(&self, list: usize, key: PageKey) -> bool {
        self.list_of(key) == Some(list)
    }

    /// Hints the host cache to load where a look-up of `key` starts.
    #[inline]
    pub fn prefetch(&self, key: PageKey) {
        self.slot_of.preload(key);
    }

    /// Remembers `key` as the newest of `list` (taking it off any list it
    /// is on), forgetting that list's oldest when it is full. Returns the
    /// key forgotten, if any.
    pub fn push(&mut self, list: usize, key: PageKey) -> Option<PageKey> {
        if self.queues[list].capacity == 0 {
            return Some(key);
        }
        self.remove(key);
        let forgotten = if self.queues[list].len == self.queues[list].capacity {
            self.pop_oldest(list)
        } else {
            None
        };
        let Some(slot) = self.free.pop() else {
            return forgotten;
        };
        let queue = &mut self.queues[list];
        self.entries[slot as usize] = Entry {
            key,
            prev: queue.tail,
            next: NIL,
        };
        match queue.tail {
            NIL => queue.head = slot,
            t => self.entries[t as usize].next = slot,
        }
        queue.tail = slot;
        queue.len += 1;
        self.slot_of.insert(key, tagged(slot, list));
        forgotten
    }

    /// Forgets `key`; returns the list it was on.
    pub fn remove(&mut self, key: PageKey) -> Option<usize> {
        let value = self.slot_of.remove(key)?;
        let list = list_in(value);
        let slot = value & !LIST_BIT;
        let Entry {
            prev: p, next: n, ..
        } = self.entries[slot as usize];
        let queue = &mut self.queues[list];
        match p {
            NIL => queue.head = n,
            p => self.entries[p as usize].next = n,
        }
        match n {
            NIL => queue.tail = p,
            n => self.entries[n as usize].prev = p,
        }
        queue.len -= 1;
        self.free.push(slot);
        Some(list)
    }

    /// Forgets and returns the oldest key of `list`.
    pub fn pop_oldest(&mut self, list: usize) -> Option<PageKey> {
        let head = self.queues[list].head;
        if head == NIL {
            return None;
        }
        let key = self.entries[head as usize].key;
        self.remove(key);
        // The next oldest's entry is cached now (its link was just fixed):
        // start loading its index slot, which its own forgetting reads.
        if let Some(next) = self.entries.get(self.queues[list].head as usize) {
            self.slot_of.preload(next.key);
        }
        Some(key)
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
    /// (oldest first), through wrap-around of the entry slots.
    #[test]
    fn agrees_with_a_plain_queue() {
        for capacity in [1, 3, 17] {
            let mut g = GhostList::new(capacity);
            let mut model: std::collections::VecDeque<PageKey> = Default::default();
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            for _ in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = x % 40;
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
                for k in 0..40 {
                    assert_eq!(g.contains(k), model.contains(&k), "key {k}");
                }
            }
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
