//! A bounded list of remembered page keys ([`GhostList`]): the "ghost"
//! entries ARC, 2Q and S3-FIFO keep for pages recently evicted, so that a
//! page coming back soon can be recognised. Insertion order is kept (oldest
//! forgotten first); membership and removal are O(1); the storage is sized
//! once, so nothing is allocated after construction.

use super::key_index::KeyIndex;
use super::PageKey;

/// A `HashMap` keyed by page keys.
pub type KeyMap<V> = vmlab_hw::intmap::IntMap<V>;

const NIL: u32 = u32::MAX;

/// A remembered key and its neighbours in insertion order, side by side:
/// forgetting or pushing touches one cache line per entry involved, not
/// one per array.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: PageKey,
    prev: u32,
    next: u32,
}

/// Up to `capacity` page keys in insertion order.
#[derive(Clone, Debug)]
pub struct GhostList {
    capacity: usize,
    slot_of: KeyIndex,
    entries: Vec<Entry>,
    head: u32,
    tail: u32,
    free: Vec<u32>,
}

impl GhostList {
    /// An empty list that remembers at most `capacity` keys.
    pub fn new(capacity: usize) -> GhostList {
        GhostList::expecting(capacity, capacity)
    }

    /// An empty list that remembers at most `capacity` keys and usually
    /// holds no more than `usual`: its index is sized for `usual` (a
    /// smaller table, more of it in the cache) and grows only if the list
    /// does outgrow that.
    pub fn expecting(capacity: usize, usual: usize) -> GhostList {
        GhostList {
            capacity,
            slot_of: KeyIndex::with_capacity(usual.min(capacity)),
            entries: vec![
                Entry {
                    key: 0,
                    prev: NIL,
                    next: NIL
                };
                capacity
            ],
            head: NIL,
            tail: NIL,
            free: (0..capacity as u32).rev().collect(),
        }
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Whether `key` is remembered.
    #[inline]
    pub fn contains(&self, key: PageKey) -> bool {
        self.slot_of.contains(key)
    }

    /// Hints the host cache to load where a look-up of `key` starts.
    #[inline]
    pub fn prefetch(&self, key: PageKey) {
        self.slot_of.preload(key);
    }

    /// Remembers `key` as the newest, forgetting the oldest when full.
    /// Returns the key forgotten, if any.
    pub fn push(&mut self, key: PageKey) -> Option<PageKey> {
        if self.capacity == 0 {
            return Some(key);
        }
        self.remove(key);
        let forgotten = if self.slot_of.len() == self.capacity {
            self.pop_oldest()
        } else {
            None
        };
        let Some(slot) = self.free.pop() else {
            return forgotten;
        };
        self.entries[slot as usize] = Entry {
            key,
            prev: self.tail,
            next: NIL,
        };
        match self.tail {
            NIL => self.head = slot,
            t => self.entries[t as usize].next = slot,
        }
        self.tail = slot;
        self.slot_of.insert(key, slot);
        forgotten
    }

    /// Forgets `key`; returns whether it was remembered.
    pub fn remove(&mut self, key: PageKey) -> bool {
        let Some(slot) = self.slot_of.remove(key) else {
            return false;
        };
        let Entry {
            prev: p, next: n, ..
        } = self.entries[slot as usize];
        match p {
            NIL => self.head = n,
            p => self.entries[p as usize].next = n,
        }
        match n {
            NIL => self.tail = p,
            n => self.entries[n as usize].prev = p,
        }
        self.free.push(slot);
        true
    }

    /// Forgets and returns the oldest key.
    pub fn pop_oldest(&mut self) -> Option<PageKey> {
        if self.head == NIL {
            return None;
        }
        let key = self.entries[self.head as usize].key;
        self.remove(key);
        // The next oldest's entry is cached now (its link was just fixed):
        // start loading its index slot, which its own forgetting reads.
        if let Some(next) = self.entries.get(self.head as usize) {
            self.slot_of.preload(next.key);
        }
        Some(key)
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
}
