//! [`KeyIndex`]: page key → small index (a frame id, a ghost slot), the
//! look-up every reference of the replacement model makes.
//!
//! Open addressing with linear probing in one array of (key, index)
//! slots, kept at most half full, with backward-shift deletion (Knuth,
//! TAOCP vol. 3, §6.4, Algorithm R) so no tombstones build up. A look-up
//! is one hash, usually one cache line, and a key compare; a general
//! `HashMap` reads a control-byte group and then the bucket, two cache
//! misses on a table of a hundred thousand resident pages. The indices a
//! policy stores are below its capacity, so `u32::MAX` marks an empty
//! slot and the table needs no separate occupancy bits.

use super::PageKey;

/// Marks an empty slot (no stored index is this large).
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: PageKey,
    index: u32,
}

const VACANT: Slot = Slot {
    key: 0,
    index: EMPTY,
};

/// A map from page keys to indices below `u32::MAX`.
#[derive(Clone, Debug)]
pub struct KeyIndex {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the hash's top bits pick the home slot.
    shift: u32,
    len: usize,
}

impl KeyIndex {
    /// An empty map that holds `expected` keys without growing.
    pub fn with_capacity(expected: usize) -> KeyIndex {
        // At most half full: short probe sequences.
        let slots = expected.saturating_mul(2).max(8).next_power_of_two();
        KeyIndex {
            slots: vec![VACANT; slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
        }
    }

    /// Keys the table holds without growing.
    pub fn capacity(&self) -> usize {
        self.slots.len() / 2
    }

    /// Keys stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The home slot of `key`: Fibonacci hashing (multiply by 2^64 / φ and
    /// keep the top bits), which spreads consecutive page numbers evenly.
    #[inline]
    fn home(&self, key: PageKey) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `key`, or the empty slot where it would go.
    #[inline]
    fn find(&self, key: PageKey) -> usize {
        let mask = self.mask();
        let mut at = self.home(key);
        loop {
            let slot = self.slots[at];
            if slot.index == EMPTY || slot.key == key {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    /// The index stored for `key`.
    #[inline]
    pub fn get(&self, key: PageKey) -> Option<u32> {
        let slot = self.slots[self.find(key)];
        (slot.index != EMPTY).then_some(slot.index)
    }

    /// Hints the host cache to load the home slot of `key` (see
    /// `vmlab_hw::prefetch`): a look-up issued a little later finds its
    /// first cache line loaded.
    #[inline]
    pub fn preload(&self, key: PageKey) {
        vmlab_hw::prefetch::prefetch(&self.slots[self.home(key)]);
    }

    /// Whether `key` is stored.
    #[inline]
    pub fn contains(&self, key: PageKey) -> bool {
        self.get(key).is_some()
    }

    /// Stores `index` for `key`; returns what was stored for it before.
    ///
    /// # Panics
    /// If `index` is `u32::MAX`, which marks empty slots.
    #[inline]
    pub fn insert(&mut self, key: PageKey, index: u32) -> Option<u32> {
        assert_ne!(index, EMPTY, "u32::MAX marks an empty slot");
        let at = self.find(key);
        let before = self.slots[at].index;
        if before == EMPTY {
            if (self.len + 1) * 2 > self.slots.len() {
                self.grow();
                return self.insert(key, index);
            }
            self.len += 1;
        }
        self.slots[at] = Slot { key, index };
        (before != EMPTY).then_some(before)
    }

    /// Removes `key`; returns the index it had.
    #[inline]
    pub fn remove(&mut self, key: PageKey) -> Option<u32> {
        let at = self.find(key);
        let removed = self.slots[at].index;
        if removed == EMPTY {
            return None;
        }
        self.remove_at(at);
        Some(removed)
    }

    /// Empties the occupied slot `hole`. Backward shift: pulls later
    /// entries of the probe run into the hole unless that would put one
    /// before its home slot; every entry moved comes from further on in
    /// the run and lands at or after `hole`.
    #[inline]
    fn remove_at(&mut self, mut hole: usize) {
        self.len -= 1;
        let mask = self.mask();
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let slot = self.slots[at];
            if slot.index == EMPTY {
                break;
            }
            // Distances travelled from the home slot, modulo the size.
            let home = self.home(slot.key);
            if (at.wrapping_sub(home) & mask) >= (at.wrapping_sub(hole) & mask) {
                self.slots[hole] = slot;
                hole = at;
            }
        }
        self.slots[hole] = VACANT;
    }

    /// Keeps only the pairs `keep` accepts, in one pass over the table.
    pub fn retain(&mut self, mut keep: impl FnMut(PageKey, u32) -> bool) {
        let mask = self.mask();
        // The pass starts after an empty slot (the table is at most half
        // full), so no probe run wraps from its end into its start: a
        // removal pulls entries only from slots the pass has yet to reach,
        // one of them into the slot just emptied, which is looked at again.
        let Some(start) = self.slots.iter().position(|s| s.index == EMPTY) else {
            return;
        };
        let mut step = 1;
        while step <= self.slots.len() {
            let at = (start + step) & mask;
            let slot = self.slots[at];
            if slot.index != EMPTY && !keep(slot.key, slot.index) {
                self.remove_at(at);
            } else {
                step += 1;
            }
        }
    }

    /// Every (key, index) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (PageKey, u32)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.index != EMPTY)
            .map(|s| (s.key, s.index))
    }

    /// Replaces every stored index `i` by `renumber(i)`.
    ///
    /// # Panics
    /// If `renumber` gives `u32::MAX`, which marks empty slots.
    pub fn renumber(&mut self, mut renumber: impl FnMut(u32) -> u32) {
        for slot in self.slots.iter_mut().filter(|s| s.index != EMPTY) {
            slot.index = renumber(slot.index);
            assert_ne!(slot.index, EMPTY, "u32::MAX marks an empty slot");
        }
    }

    /// Doubles the table (only when more keys arrive than were expected).
    #[cold]
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        *self = KeyIndex::with_capacity(old.len());
        for slot in old.into_iter().filter(|s| s.index != EMPTY) {
            self.insert(slot.key, slot.index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts, overwrites, removals and bulk removals (`retain`)
    /// agree with a `HashMap`, with keys that collide in the home slot,
    /// wrap around the end of the table, and outgrow the expected size.
    #[test]
    fn agrees_with_a_hash_map() {
        for (expected, key_space) in [(4, 40u64), (64, 200), (1000, 3000), (50, u64::MAX)] {
            let mut index = KeyIndex::with_capacity(expected);
            let mut model = HashMap::new();
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            for step in 0..30_000u32 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = if key_space == u64::MAX {
                    x
                } else {
                    x % key_space
                };
                match x >> 62 {
                    0 | 1 => {
                        assert_eq!(index.insert(key, step), model.insert(key, step));
                    }
                    2 => assert_eq!(index.remove(key), model.remove(&key), "remove {key}"),
                    _ => assert_eq!(index.get(key), model.get(&key).copied(), "get {key}"),
                }
                if step % 500 == 0 {
                    // Drops about a third, runs and wrap-arounds included.
                    let keep = |k: u64, i: u32| (k ^ u64::from(i)) % 3 != 0;
                    index.retain(keep);
                    model.retain(|&k, &mut i| keep(k, i));
                    for (&k, &i) in &model {
                        assert_eq!(index.get(k), Some(i), "kept {k}");
                    }
                }
                assert_eq!(index.len(), model.len());
            }
            index.renumber(|i| i / 2 + 1);
            for (&key, i) in model.iter_mut() {
                *i = *i / 2 + 1;
                index.preload(key);
                assert!(index.contains(key));
            }
            let mut all: Vec<(u64, u32)> = index.iter().collect();
            let mut want: Vec<(u64, u32)> = model.into_iter().collect();
            all.sort_unstable();
            want.sort_unstable();
            assert_eq!(all, want);
        }
    }

    #[test]
    fn removing_from_the_middle_of_a_probe_run_keeps_the_rest_reachable() {
        let mut index = KeyIndex::with_capacity(4);
        // Keys whose home slots coincide form one run; removing its first
        // member must shift the others back, not lose them.
        let home = index.home(1);
        let same: Vec<u64> = (2..10_000u64)
            .filter(|&k| index.home(k) == home)
            .take(3)
            .collect();
        index.insert(1, 10);
        for (i, &k) in same.iter().enumerate() {
            index.insert(k, i as u32);
        }
        assert_eq!(index.remove(1), Some(10));
        for (i, &k) in same.iter().enumerate() {
            assert_eq!(index.get(k), Some(i as u32));
        }
        assert!(!index.contains(1));
    }
}
