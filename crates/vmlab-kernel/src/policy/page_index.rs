//! [`PageIndex`]: page key → small index (a frame, the slot of a page's
//! latest reference), for maps whose keys are page numbers: the
//! replacement model's residency look-up and the stack-distance pass of
//! the miss-ratio curve.
//!
//! Page numbers come in runs (a program's text, heap and stack; a
//! generator's `base + rank`), so a two-level table like a page table
//! serves them with 4 bytes a page: a small map from each group of
//! [`GROUP`] pages to its leaf, then the leaf's entry. A [`KeyIndex`] of
//! (page, index) pairs kept half full takes 32 bytes a page, eight times
//! the cache lines, and spreads neighbouring pages over the whole table:
//! the pages a Zipf stream keeps resident (its most popular ranks, which a
//! generator numbers in order) fill 400 KiB of leaves, where their pairs
//! fill 4 MiB of hash table. Pages scattered one or two a group would make
//! the leaves mostly empty, so when they would hold more than [`SPARSE`]
//! entries per page the table turns into the hash map for good: memory
//! stays within a small factor of the hash map's in every case.

use super::key_index::KeyIndex;
use super::PageKey;

/// Pages a leaf covers (a power of two).
const GROUP: usize = 512;

/// Leaf entries per stored page beyond which the pages are too scattered
/// for leaves (8 × 4 bytes: the hash map's 32 bytes a page).
const SPARSE: usize = 8;

/// Leaves always allowed (8 MiB), however few the pages: the first
/// references to a dense range of pages touch most of its groups long
/// before they fill them (Zipf over a million pages touches all 2048
/// groups within its first few thousand pages), so judging by the pages
/// seen so far would switch a range that ends up full.
const FEW_LEAVES: usize = 4096;

/// An empty leaf entry (no stored index is this large).
const EMPTY: u32 = u32::MAX;

/// A map from page keys to indices below `u32::MAX`.
#[derive(Clone, Debug)]
pub struct PageIndex(Layout);

/// How a [`PageIndex`] keeps its pages.
#[derive(Clone, Debug)]
enum Layout {
    /// Groups of pages in leaves.
    Grouped(Grouped),
    /// One hash map entry a page.
    Scattered(KeyIndex),
}

/// The two-level table.
#[derive(Clone, Debug)]
struct Grouped {
    /// Page group (`page / GROUP`) → its leaf's number.
    leaf_of: KeyIndex,
    /// Leaf `n` is `entries[n * GROUP..(n + 1) * GROUP]`.
    entries: Vec<u32>,
    len: usize,
}

impl PageIndex {
    /// An empty map with room for about `pages` pages.
    pub fn with_capacity(pages: usize) -> Self {
        PageIndex(Layout::Grouped(Grouped {
            leaf_of: KeyIndex::with_capacity(pages / GROUP),
            entries: Vec::new(),
            len: 0,
        }))
    }

    /// Pages stored.
    pub fn len(&self) -> usize {
        match &self.0 {
            Layout::Grouped(g) => g.len,
            Layout::Scattered(k) => k.len(),
        }
    }

    /// Whether no page is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index stored for `page`.
    #[inline]
    pub fn get(&self, page: PageKey) -> Option<u32> {
        match &self.0 {
            Layout::Grouped(g) => {
                let index = g.entries[entry(g.leaf(page)?, page)];
                (index != EMPTY).then_some(index)
            }
            Layout::Scattered(k) => k.get(page),
        }
    }

    /// Whether `page` is stored.
    #[inline]
    pub fn contains(&self, page: PageKey) -> bool {
        self.get(page).is_some()
    }

    /// Hints the host cache to load where `page`'s entry lives, so that a
    /// look-up issued soon after finds it loaded (see
    /// [`KeyIndex::preload`]).
    #[inline]
    pub fn preload(&self, page: PageKey) {
        match &self.0 {
            Layout::Grouped(g) => {
                if let Some(leaf) = g.leaf(page) {
                    vmlab_hw::prefetch::prefetch(&g.entries[entry(leaf, page)]);
                }
            }
            Layout::Scattered(k) => k.preload(page),
        }
    }

    /// Stores `index` for `page`; returns the index stored before.
    ///
    /// # Panics
    /// If `index` is `u32::MAX`, which marks empty entries.
    #[inline]
    pub fn insert(&mut self, page: PageKey, index: u32) -> Option<u32> {
        assert_ne!(index, EMPTY, "u32::MAX marks an empty entry");
        let g = match &mut self.0 {
            Layout::Grouped(g) => g,
            Layout::Scattered(k) => return k.insert(page, index),
        };
        let Some(leaf) = g.leaf(page) else {
            // The first page of its group: a new leaf, or the hash map if
            // the leaves are too empty (both cold, and apart so that this
            // path inlines into the caller's loop).
            if g.add_leaf(page, index) {
                return None;
            }
            let mut pages = g.scattered();
            let before = pages.insert(page, index);
            self.0 = Layout::Scattered(pages);
            return before;
        };
        let before = std::mem::replace(&mut g.entries[entry(leaf, page)], index);
        if before == EMPTY {
            g.len += 1;
            None
        } else {
            Some(before)
        }
    }

    /// Removes `page`; returns the index it had. A page's leaf stays when
    /// its last page goes: the group is likely to be used again, and the
    /// leaves are bounded all the same (see [`SPARSE`]).
    #[inline]
    pub fn remove(&mut self, page: PageKey) -> Option<u32> {
        match &mut self.0 {
            Layout::Grouped(g) => {
                let leaf = g.leaf(page)?;
                let before = std::mem::replace(&mut g.entries[entry(leaf, page)], EMPTY);
                (before != EMPTY).then(|| {
                    g.len -= 1;
                    before
                })
            }
            Layout::Scattered(k) => k.remove(page),
        }
    }

    /// Every (page, index) pair, in no particular order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (PageKey, u32)> + '_> {
        match &self.0 {
            Layout::Grouped(g) => Box::new(g.pairs()),
            Layout::Scattered(k) => Box::new(k.iter()),
        }
    }

    /// Replaces every stored index `i` by `renumber(i)`.
    ///
    /// # Panics
    /// If `renumber` gives `u32::MAX`, which marks empty entries.
    pub fn renumber(&mut self, mut renumber: impl FnMut(u32) -> u32) {
        match &mut self.0 {
            Layout::Grouped(g) => {
                for index in g.entries.iter_mut().filter(|i| **i != EMPTY) {
                    *index = renumber(*index);
                    assert_ne!(*index, EMPTY, "u32::MAX marks an empty entry");
                }
            }
            Layout::Scattered(k) => k.renumber(renumber),
        }
    }

    /// Whether the pages went into the hash map (for tests).
    #[cfg(test)]
    fn is_scattered(&self) -> bool {
        matches!(self.0, Layout::Scattered(_))
    }
}

impl Grouped {
    /// The leaf of `page`'s group, if it has one.
    #[inline]
    fn leaf(&self, page: PageKey) -> Option<u32> {
        self.leaf_of.get(page / GROUP as u64)
    }

    /// Every (page, index) pair in the leaves, in no particular order.
    fn pairs(&self) -> impl Iterator<Item = (PageKey, u32)> + '_ {
        self.leaf_of.iter().flat_map(move |(group, leaf)| {
            let start = leaf as usize * GROUP;
            self.entries[start..start + GROUP]
                .iter()
                .enumerate()
                .filter(|(_, &index)| index != EMPTY)
                .map(move |(offset, &index)| (group * GROUP as u64 + offset as u64, index))
        })
    }

    /// Stores `index` for `page`, the first of its group, in a new leaf;
    /// false, storing nothing, if the leaves are too empty for one more.
    #[cold]
    fn add_leaf(&mut self, page: PageKey, index: u32) -> bool {
        let leaves = self.entries.len() / GROUP;
        if leaves >= FEW_LEAVES && (leaves + 1) * GROUP > SPARSE * (self.len + 1) {
            return false;
        }
        self.entries.resize(self.entries.len() + GROUP, EMPTY);
        self.leaf_of.insert(page / GROUP as u64, leaves as u32);
        self.entries[entry(leaves as u32, page)] = index;
        self.len += 1;
        true
    }

    /// Every page in a hash map.
    #[cold]
    fn scattered(&self) -> KeyIndex {
        let mut pages = KeyIndex::with_capacity(self.len.max(1) * 2);
        for (page, index) in self.pairs() {
            pages.insert(page, index);
        }
        pages
    }
}

/// Where `page`'s index lives in the entries, given its group's leaf.
#[inline]
fn entry(leaf: u32, page: PageKey) -> usize {
    leaf as usize * GROUP + (page % GROUP as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts, overwrites, look-ups and removals agree with a
    /// `HashMap`, both on pages in runs (leaves throughout) and on
    /// scattered pages (which must switch to the hash map and keep every
    /// entry).
    #[test]
    fn agrees_with_a_hash_map() {
        for (key_space, scattered) in [(3_000u64, false), (u64::MAX, true)] {
            let mut map = PageIndex::with_capacity(16);
            let mut model = HashMap::new();
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            for slot in 0..60_000u32 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let page = if key_space == u64::MAX {
                    x
                } else {
                    (x % key_space) + (1 << 40)
                };
                match x >> 61 {
                    0 | 1 => {
                        assert_eq!(map.remove(page), model.remove(&page), "remove {page}")
                    }
                    2 => assert_eq!(map.get(page), model.get(&page).copied(), "get {page}"),
                    _ => {
                        map.preload(page);
                        assert_eq!(map.insert(page, slot), model.insert(page, slot));
                    }
                }
                assert_eq!(map.len(), model.len());
                assert_eq!(map.contains(page), model.contains_key(&page));
            }
            assert_eq!(map.is_scattered(), scattered);
            let mut pairs: Vec<(u64, u32)> = map.iter().collect();
            pairs.sort_unstable();
            let mut expected: Vec<(u64, u32)> = model.iter().map(|(&p, &s)| (p, s)).collect();
            expected.sort_unstable();
            assert_eq!(pairs, expected);
            map.renumber(|s| s / 2 + 1);
            for (&page, &slot) in &model {
                assert_eq!(map.remove(page), Some(slot / 2 + 1), "page {page}");
            }
            assert_eq!(map.len(), 0);
        }
    }

    /// A dense range whose first pages land one a group (as a Zipf
    /// stream's do) stays in leaves while it fills in.
    #[test]
    fn a_dense_range_touched_sparsely_first_keeps_its_leaves() {
        let mut map = PageIndex::with_capacity(0);
        let pages = 2048 * GROUP as u64;
        for page in (0..pages).step_by(GROUP) {
            map.insert(page + 0x10000, 1);
        }
        for page in 0..pages {
            map.insert(page + 0x10000, 2);
        }
        assert!(!map.is_scattered());
        assert_eq!(map.len(), pages as usize);
    }

    /// A few pages far apart stay in leaves; the switch needs both many
    /// leaves and few pages per leaf.
    #[test]
    fn few_scattered_pages_keep_their_leaves() {
        let mut map = PageIndex::with_capacity(0);
        for i in 0..FEW_LEAVES as u64 {
            map.insert(i << 30, i as u32);
        }
        assert!(!map.is_scattered());
        map.insert(u64::MAX, 7);
        assert!(map.is_scattered());
        assert_eq!(map.insert(3 << 30, 9), Some(3));
        assert_eq!(map.len(), FEW_LEAVES + 1);
    }
}
