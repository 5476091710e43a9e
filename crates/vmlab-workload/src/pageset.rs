//! [`PageSet`]: the set of page numbers a stream has touched, as a sparse
//! bitmap: blocks of 32 768 pages (one 4 KiB bitmap each) found through a
//! hash map keyed by block, with the blocks used lately remembered in a
//! small direct-mapped cache in front of it. A trace's pages cluster
//! (text, heap, stack, mapped files), so a million distinct pages live in
//! a few dozen blocks and a membership test is a bit test on a cached
//! block, where a hash set of pages would miss the cache on almost every
//! reference.
//!
//! [`RecentPages`] sits in front of it in the drivers: the last few pages
//! entered, so the run of a program moving between its code, stack and
//! data pages asks the set nothing.

use vmlab_hw::intmap::IntMap;

/// Pages per block (bits in one block's bitmap).
const BLOCK_PAGES: u64 = 1 << 15;
const WORDS: usize = (BLOCK_PAGES / 64) as usize;
/// Slots of the block cache: enough for the dozens of blocks a trace or a
/// random stream over a million pages moves between, small enough to stay
/// in the L1 cache.
const RECENT: usize = 64;
/// Marks an empty cache slot: block numbers are `page / BLOCK_PAGES`, so
/// never this large.
const NO_BLOCK: u64 = u64::MAX;

/// Slots of [`RecentPages`].
const RECENT_PAGES: usize = 16;
/// Marks an empty [`RecentPages`] slot: no page number is this large.
const NO_PAGE: u64 = u64::MAX;

/// The pages entered lately, direct-mapped by page number: a filter that
/// answers "seen just now" for the few pages a program alternates between.
#[derive(Clone, Debug)]
pub struct RecentPages {
    slots: [u64; RECENT_PAGES],
}

impl Default for RecentPages {
    fn default() -> RecentPages {
        RecentPages {
            slots: [NO_PAGE; RECENT_PAGES],
        }
    }
}

impl RecentPages {
    /// Remembers `page`; true if it was remembered already (a page can be
    /// forgotten when another takes its slot, never wrongly remembered).
    #[inline(always)]
    pub fn enter(&mut self, page: u64) -> bool {
        let slot = &mut self.slots[page as usize % RECENT_PAGES];
        std::mem::replace(slot, page) == page
    }
}

/// A set of page numbers.
pub struct PageSet {
    /// Block number → index in `bitmaps`.
    blocks: IntMap<u32>,
    bitmaps: Vec<Box<[u64; WORDS]>>,
    /// Direct-mapped cache of `blocks`: slot `block % RECENT` holds a
    /// block and its bitmap index, or [`NO_BLOCK`].
    recent: [(u64, u32); RECENT],
    len: u64,
}

impl Default for PageSet {
    fn default() -> PageSet {
        PageSet {
            blocks: IntMap::default(),
            bitmaps: Vec::new(),
            recent: [(NO_BLOCK, 0); RECENT],
            len: 0,
        }
    }
}

impl PageSet {
    /// An empty set.
    pub fn new() -> PageSet {
        PageSet::default()
    }

    /// Adds `page`; true if it was not there.
    // Always: called once a reference from a large loop, where the
    // compiler otherwise keeps it a call.
    #[inline(always)]
    pub fn insert(&mut self, page: u64) -> bool {
        let block = page / BLOCK_PAGES;
        let slot = (block % RECENT as u64) as usize;
        let index = match self.recent[slot] {
            (b, i) if b == block => i,
            _ => self.bitmap_of(block, slot),
        };
        let (word, mask) = bit_of(page);
        let word = &mut self.bitmaps[index as usize][word];
        let new = *word & mask == 0;
        *word |= mask;
        self.len += u64::from(new);
        new
    }

    /// The bitmap index of `block`, which `recent`'s `slot` does not hold:
    /// found (or made, empty) in `blocks` and cached in the slot. Out of
    /// line, so the hot [`PageSet::insert`] inlines only the cache hit.
    #[cold]
    #[inline(never)]
    fn bitmap_of(&mut self, block: u64, slot: usize) -> u32 {
        let next = self.bitmaps.len() as u32;
        let i = *self.blocks.entry(block).or_insert(next);
        if i == next {
            self.bitmaps.push(Box::new([0; WORDS]));
        }
        self.recent[slot] = (block, i);
        i
    }

    /// Hints the host cache to load the bitmap word of `page`, where its
    /// block is among those used lately (see `vmlab_hw::prefetch`): over a
    /// million pages the bitmaps outgrow the cache, and a caller that
    /// knows its pages some references ahead need not wait for the word.
    /// Changes nothing.
    #[inline(always)]
    pub fn prefetch(&self, page: u64) {
        let block = page / BLOCK_PAGES;
        let (cached, index) = self.recent[(block % RECENT as u64) as usize];
        if cached != block {
            return;
        }
        if let Some(bitmap) = self.bitmaps.get(index as usize) {
            vmlab_hw::prefetch::prefetch(&bitmap[bit_of(page).0]);
        }
    }

    /// Whether `page` is in the set.
    pub fn contains(&self, page: u64) -> bool {
        let (word, mask) = bit_of(page);
        self.blocks
            .get(&(page / BLOCK_PAGES))
            .is_some_and(|&i| self.bitmaps[i as usize][word] & mask != 0)
    }

    /// Pages in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Where `page` sits in its block's bitmap: the word and the bit's mask.
#[inline(always)]
fn bit_of(page: u64) -> (usize, u64) {
    let bit = page % BLOCK_PAGES;
    ((bit / 64) as usize, 1u64 << (bit % 64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Remembers the last page of each slot, and nothing it was not given:
    /// pages 16 apart share a slot and push each other out.
    #[test]
    fn recent_pages_remember_only_what_they_were_given() {
        let mut recent = RecentPages::default();
        assert!(!recent.enter(0), "an empty filter remembers nothing");
        assert!(!recent.enter(1));
        assert!(recent.enter(0) && recent.enter(1));
        assert!(!recent.enter(16), "page 16 takes page 0's slot");
        assert!(!recent.enter(0));
        assert!(recent.enter(1));
        assert!(!recent.enter(u64::MAX - 1));
        assert!(recent.enter(u64::MAX - 1));
    }

    /// Agrees with a plain hash set on pages spread over blocks, repeats
    /// included, and at the ends of the page-number range; so does
    /// `contains` on pages near them.
    #[test]
    fn agrees_with_a_hash_set() {
        let mut set = PageSet::new();
        let mut model = HashSet::new();
        let mut x = 12345u64;
        let specials = [0, 1, BLOCK_PAGES - 1, BLOCK_PAGES, u64::MAX, u64::MAX - 1];
        for step in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let page = match step % 7 {
                0 => specials[(x >> 60) as usize % specials.len()],
                1..=3 => (x >> 40) % 70_000,
                _ => x >> 20,
            };
            let probe = page ^ (x & 3);
            assert_eq!(set.contains(probe), model.contains(&probe), "page {probe}");
            assert_eq!(set.insert(page), model.insert(page), "page {page}");
            assert!(set.contains(page));
        }
        assert_eq!(set.len(), model.len() as u64);
        assert!(!set.is_empty());
    }
}
