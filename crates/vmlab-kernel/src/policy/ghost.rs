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

/// Up to `capacity` page keys in insertion order.
#[derive(Clone, Debug)]
pub struct GhostList {
    capacity: usize,
    slot_of: KeyIndex,
    keys: Vec<PageKey>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
    free: Vec<u32>,
}

impl GhostList {
    /// An empty list that remembers at most `capacity` keys.
    pub fn new(capacity: usize) -> GhostList {
        GhostList {
            capacity,
            slot_of: KeyIndex::with_capacity(capacity),
            keys: vec![0; capacity],
            prev: vec![NIL; capacity],
            next: vec![NIL; capacity],
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
        let s = slot as usize;
        self.keys[s] = key;
        self.prev[s] = self.tail;
        self.next[s] = NIL;
        match self.tail {
            NIL => self.head = slot,
            t => self.next[t as usize] = slot,
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
        let s = slot as usize;
        let (p, n) = (self.prev[s], self.next[s]);
        match p {
            NIL => self.head = n,
            p => self.next[p as usize] = n,
        }
        match n {
            NIL => self.tail = p,
            n => self.prev[n as usize] = p,
        }
        self.free.push(slot);
        true
    }

    /// Forgets and returns the oldest key.
    pub fn pop_oldest(&mut self) -> Option<PageKey> {
        if self.head == NIL {
            return None;
        }
        let key = self.keys[self.head as usize];
        self.remove(key);
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
    }
}
