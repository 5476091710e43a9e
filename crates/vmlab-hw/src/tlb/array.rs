//! One set-associative TLB array ([`TlbArray`]): the entries of one
//! page-size class stored set-major in a flat vector, and the replacement
//! state ([`Policy`]) that picks victims. [`super::Tlb`] stacks arrays into
//! levels and keeps the counters.
//!
//! The set index is the low bits of the virtual page number (the CS:APP
//! convention: TLBI = low VPN bits, TLBT = the rest), by mask when the set
//! count is a power of two and by remainder otherwise.
//!
//! Beside the entries sits a compact tag array, one `u32` per way: whether
//! the slot is valid, its page size, and a fingerprint of its page number
//! ([`tag_of`]). A probe scans the set's tags (a 12-way set's fit in one
//! cache line, its entries take five) and reads a full entry only where the
//! tag matches, to confirm page and address space; a fill learns from the
//! tags alone whether its victim way is valid and of which size, so it
//! reads the victim's entry only when the caller wants it reported. Every
//! write to a slot rewrites its tag, so `tags[i] == tag_of(slots[i])`
//! always holds; equal tags of valid entries are only a hint, never a match
//! by themselves.

use super::config::{TlbArrayConfig, TlbReplacement};
use super::{TlbEntry, TlbSlotError};
use crate::access::Perms;

/// The `page_shift` of an empty way. Real shifts are at most 63, so the
/// probe's one compare of `page_shift` tests validity and size together.
const EMPTY: u8 = u8::MAX;

const EMPTY_ENTRY: TlbEntry = TlbEntry {
    vpn: 0,
    page_shift: EMPTY,
    frame_base: 0,
    perms: Perms::empty(),
    asid: 0,
    global: false,
    dirty: false,
};

/// Set in the tag of every valid slot.
const TAG_VALID: u32 = 1 << 31;
/// Where a tag keeps the page shift (six bits: shifts are below 64).
const TAG_SHIFT_AT: u32 = 25;
/// The bits of a tag that fingerprint the page number.
const TAG_PAGE_MASK: u32 = (1 << TAG_SHIFT_AT) - 1;

/// The tag of a slot holding page `vpn` of size `2^page_shift` (0 for an
/// empty slot): [`TAG_VALID`], the shift, and the page number folded to 25
/// bits. Pages of one set share their low (index) bits, so the fold keeps
/// the high bits too; a collision costs one needless entry compare, never a
/// wrong match.
#[inline(always)]
const fn tag_of(vpn: u64, page_shift: u8) -> u32 {
    if page_shift == EMPTY {
        return EMPTY_TAG;
    }
    // Truncation is the fold; `as` widening keeps the function const.
    let fold = (vpn ^ (vpn >> TAG_SHIFT_AT) ^ (vpn >> (2 * TAG_SHIFT_AT))) as u32;
    TAG_VALID | ((page_shift as u32 & 63) << TAG_SHIFT_AT) | (fold & TAG_PAGE_MASK)
}

/// The page shift a tag records, [`EMPTY`] for an empty slot's.
#[inline(always)]
fn tag_shift(tag: u32) -> u8 {
    if tag & TAG_VALID == 0 {
        EMPTY
    } else {
        // Six bits.
        ((tag >> TAG_SHIFT_AT) & 63) as u8
    }
}

/// The tag of an empty way.
const EMPTY_TAG: u32 = 0;

/// Whether any of four tags is `tag`.
///
/// Folded with a non-short-circuit OR, the compiler makes of it one vector
/// compare and one mask move (SSE2 `pcmpeqd`, `movmskps`): a search way by
/// way spent seven instructions a way on its compare, branch and counters
/// (callgrind), and the same four compares shifted into a bit mask stay
/// scalar.
#[inline(always)]
fn quad_has(quad: [u32; 4], tag: u32) -> bool {
    quad.iter().fold(false, |any, &t| any | (t == tag))
}

/// Where a fill landed and what it displaced.
pub(super) struct ArrayFill {
    pub(super) set: usize,
    pub(super) way: usize,
    /// Whether the fill replaced a valid entry for another page.
    pub(super) displaced: bool,
    /// That entry, when the fill was asked to report it.
    pub(super) evicted: Option<TlbEntry>,
    /// Further stale entries for the same page that were dropped so no two
    /// entries can match one probe (only after a global/ASID mix-up).
    pub(super) dropped: u64,
}

/// One array: geometry, entries and replacement state.
#[derive(Clone, Debug)]
pub(super) struct TlbArray {
    /// The first page size held. Most arrays hold only this one, so a probe
    /// tries it before looking at `more_shifts`.
    shift: u8,
    /// Further page sizes held, in probe order.
    more_shifts: Vec<u8>,
    ways: usize,
    /// Whether `sets` is a power of two, so indexing is one AND with
    /// `set_mask` rather than a division.
    pow2: bool,
    set_mask: u64,
    sets: usize,
    /// Entry of (set, way) at `set * ways + way`.
    slots: Vec<TlbEntry>,
    /// [`tag_of`] each slot, indexed like `slots`.
    tags: Vec<u32>,
    policy: Policy,
    /// The slot of the last hit at the first page size.
    recent: Position,
    /// Whether no fill has touched replacement state since `recent` last
    /// hit, so it is already the most recently used of its set and a
    /// repeat hit leaves LRU and tree-PLRU state exactly as it is.
    recent_fresh: bool,
    /// Valid entries of the first page size (index 0) and of the others
    /// (index 1; see [`live_index`]). A size with none is not probed:
    /// hardware probes every size at once, and a simulator that searches
    /// sets one size at a time would otherwise pay for the 2 MiB and 1 GiB
    /// arrays on every miss of a machine that maps only 4 KiB pages.
    live: [u32; 2],
}

/// Which of [`TlbArray`]'s live counts an entry of `page_shift` belongs to,
/// in an array whose first page size is `first_shift`.
#[inline]
fn live_index(first_shift: u8, page_shift: u8) -> usize {
    usize::from(page_shift != first_shift)
}

/// Where an entry sits in an array.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Position {
    /// Index in the slot vector.
    pub(super) index: usize,
    pub(super) set: usize,
    pub(super) way: usize,
}

/// Replacement state; per-way state is indexed like `slots`.
#[derive(Clone, Debug)]
enum Policy {
    /// Stamps renewed by hits and fills.
    Lru(Stamps),
    /// Stamps renewed by fills only.
    Fifo(Stamps),
    /// Per set, tree node `n` (1..ways, root 1, children 2n and 2n+1) at
    /// `set * ways + n`; index 0 of each set is unused. `true` sends the
    /// victim search right. Leaves are `ways + way`.
    TreePlru(Vec<bool>),
    /// SplitMix64 state.
    Random(u64),
}

/// A logical clock and the last time each way was stamped; the victim is
/// the way with the smallest stamp.
#[derive(Clone, Debug)]
struct Stamps {
    clock: u64,
    stamp: Vec<u64>,
}

impl Stamps {
    #[inline]
    fn mark(&mut self, index: usize) {
        self.clock += 1;
        self.stamp[index] = self.clock;
    }

    /// Oldest way of the set starting at `base`; ties (never-stamped ways)
    /// go to the lowest way.
    #[inline(always)]
    fn oldest(&self, base: usize, ways: usize) -> usize {
        // `min_by_key` keeps the first of equal minima: the lowest way.
        self.stamp[base..base + ways]
            .iter()
            .enumerate()
            .min_by_key(|&(_, &stamp)| stamp)
            .map_or(0, |(way, _)| way)
    }
}

/// Points every node on the path to `way` at the other side.
#[inline]
fn plru_touch(bits: &mut [bool], way: usize) {
    let mut node = bits.len() + way;
    while node > 1 {
        // An even node is a left child: the victim side becomes the right.
        bits[node / 2] = node % 2 == 0;
        node /= 2;
    }
}

/// Follows the bits from the root to a leaf.
fn plru_victim(bits: &[bool]) -> usize {
    let ways = bits.len();
    let mut node = 1;
    while node < ways {
        node = 2 * node + usize::from(bits[node]);
    }
    node - ways
}

/// SplitMix64 (Steele, Lea, Flood 2014): any seed, zero included, gives a
/// full-period sequence, and it needs no crate.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Policy {
    fn new(replacement: TlbReplacement, entries: usize) -> Self {
        let stamps = || Stamps {
            clock: 0,
            stamp: vec![0; entries],
        };
        match replacement {
            TlbReplacement::Lru => Policy::Lru(stamps()),
            TlbReplacement::Fifo => Policy::Fifo(stamps()),
            TlbReplacement::TreePlru => Policy::TreePlru(vec![false; entries]),
            TlbReplacement::Random { seed } => Policy::Random(seed),
        }
    }

    #[inline(always)]
    fn on_hit(&mut self, base: usize, way: usize, ways: usize) {
        match self {
            Policy::Lru(stamps) => stamps.mark(base + way),
            Policy::TreePlru(bits) => plru_touch(&mut bits[base..base + ways], way),
            Policy::Fifo(_) | Policy::Random(_) => {}
        }
    }

    #[inline(always)]
    fn on_fill(&mut self, base: usize, way: usize, ways: usize) {
        match self {
            Policy::Lru(stamps) | Policy::Fifo(stamps) => stamps.mark(base + way),
            Policy::TreePlru(bits) => plru_touch(&mut bits[base..base + ways], way),
            Policy::Random(_) => {}
        }
    }

    #[inline(always)]
    fn victim(&mut self, base: usize, ways: usize) -> usize {
        match self {
            Policy::Lru(stamps) | Policy::Fifo(stamps) => stamps.oldest(base, ways),
            Policy::TreePlru(bits) => plru_victim(&bits[base..base + ways]),
            // `ways` fits in a u64 and the remainder is below it.
            Policy::Random(state) => (splitmix64(state) % ways as u64) as usize,
        }
    }
}

impl TlbArray {
    /// Builds an empty array; `config` must have passed validation.
    pub(super) fn new(config: &TlbArrayConfig) -> Self {
        let sets = config.sets();
        // Validation guarantees a first page size; without one the array
        // would simply never match.
        let (&shift, more) = config.page_shifts.split_first().unwrap_or((&EMPTY, &[]));
        TlbArray {
            shift,
            more_shifts: more.to_vec(),
            ways: config.ways,
            pow2: sets.is_power_of_two(),
            set_mask: (sets as u64).wrapping_sub(1),
            sets,
            slots: vec![EMPTY_ENTRY; config.entries],
            tags: vec![EMPTY_TAG; config.entries],
            policy: Policy::new(config.replacement, config.entries),
            recent: Position::default(),
            recent_fresh: false,
            live: [0; 2],
        }
    }

    /// Counts a valid entry of `page_shift` in (`present`) or out.
    #[inline]
    fn count_entry(&mut self, page_shift: u8, present: bool) {
        if page_shift == EMPTY {
            return;
        }
        let live = &mut self.live[live_index(self.shift, page_shift)];
        if present {
            *live += 1;
        } else {
            *live -= 1;
        }
    }

    /// The `k`th page shift held, for `k` up to `shift_count()`.
    fn shift_at(&self, k: usize) -> u8 {
        match k {
            0 => self.shift,
            _ => self.more_shifts[k - 1],
        }
    }

    fn shift_count(&self) -> usize {
        1 + self.more_shifts.len()
    }

    /// Whether this array holds pages of `page_shift`.
    pub(super) fn holds(&self, page_shift: u8) -> bool {
        self.shift == page_shift || self.more_shifts.contains(&page_shift)
    }

    #[inline]
    fn set_of(&self, vpn: u64) -> usize {
        // The result is below `sets`, a usize.
        if self.pow2 {
            (vpn & self.set_mask) as usize
        } else {
            (vpn % self.sets as u64) as usize
        }
    }

    /// Where a match for `vaddr` at page size `shift` sits.
    #[inline(always)]
    fn find(&self, shift: u8, vaddr: u64, asid: u16) -> Option<Position> {
        let vpn = vaddr >> shift;
        let set = self.set_of(vpn);
        let base = set * self.ways;
        // `move`: a closure that borrowed the page and address space would
        // have them stored to the stack for every array a probe visits.
        self.first_tagged(base, tag_of(vpn, shift), move |e| {
            e.page_shift == shift && e.vpn == vpn && (e.global || e.asid == asid)
        })
        .map(|way| Position {
            index: base + way,
            set,
            way,
        })
    }

    /// The lowest way of the set at `base` whose tag is `tag` and whose
    /// entry `confirm` accepts. The loop reads the set's tags alone; an
    /// entry is read (and its index checked) only where a tag matches,
    /// which on a probe that misses or a fill with no twin is nowhere.
    ///
    /// Tags are compared four at a time, each a compare and a branch, so
    /// the loop's counters advance once per four ways: a one-way-a-step
    /// scan spent six instructions a way, most of them on its counters
    /// (callgrind), and a probe that misses visits every way of its set.
    #[inline(always)]
    fn first_tagged(
        &self,
        base: usize,
        tag: u32,
        confirm: impl Fn(&TlbEntry) -> bool,
    ) -> Option<usize> {
        let tags = &self.tags[base..base + self.ways];
        let slots = &self.slots[base..base + self.ways];
        let hit = |way: usize, t: u32| t == tag && confirm(&slots[way]);
        let mut quads = tags.chunks_exact(4);
        let mut way = 0;
        for quad in &mut quads {
            // The chunk's own tags, so the compares need no bounds check.
            for (k, &t) in quad.iter().enumerate() {
                if hit(way + k, t) {
                    return Some(way + k);
                }
            }
            way += 4;
        }
        (way..)
            .zip(quads.remainder())
            .find(|&(way, &t)| hit(way, t))
            .map(|(way, _)| way)
    }

    /// Writes `entry` into slot `index` with its tag; returns the old tag.
    /// The old entry is not read: a fill's victim is usually out of the
    /// host's cache, and a store need not wait for it as a load would.
    #[inline(always)]
    fn write_slot(&mut self, index: usize, entry: TlbEntry) -> u32 {
        self.write_tagged(index, entry, tag_of(entry.vpn, entry.page_shift))
    }

    /// [`write_slot`](TlbArray::write_slot) for a caller that has already
    /// computed `tag`, which must be `entry`'s (a fill: the compiler does
    /// not see that the two computations agree, and the fold is a dozen
    /// instructions).
    #[inline(always)]
    fn write_tagged(&mut self, index: usize, entry: TlbEntry, tag: u32) -> u32 {
        debug_assert_eq!(tag, tag_of(entry.vpn, entry.page_shift));
        self.slots[index] = entry;
        std::mem::replace(&mut self.tags[index], tag)
    }

    /// The entry that hit last, if it maps `vaddr` for `asid` and is still
    /// the most recently used of its set, so a hit on it changes no
    /// replacement state: the repeated-access shortcut, with nothing to
    /// update but counters.
    #[inline(always)]
    pub(super) fn recent_hit(&self, vaddr: u64, asid: u16) -> Option<&TlbEntry> {
        let e = self.slots.get(self.recent.index)?;
        (self.recent_fresh
            && e.page_shift == self.shift
            && e.vpn == vaddr >> self.shift
            && (e.global || e.asid == asid))
            .then_some(e)
    }

    /// Probes every page size held; on a hit renews the way's replacement
    /// state and returns where the entry is.
    ///
    /// Accesses come in runs on one page, so the slot that hit last is
    /// checked before any set is searched. Only a hit at the first page size
    /// is remembered, and a set holds at most one match per size, so the
    /// shortcut finds exactly what the search would; a slot refilled or
    /// emptied since simply fails the check.
    #[inline(always)]
    pub(super) fn lookup(&mut self, vaddr: u64, asid: u16) -> Option<(Position, &TlbEntry)> {
        // An empty array (the huge-page arrays of a 4 KiB workload, every
        // level's on each miss) answers from its counts, without a slot read.
        if self.live == [0, 0] {
            return None;
        }
        let recent = self.recent;
        let e = &self.slots[recent.index];
        if e.page_shift == self.shift
            && e.vpn == vaddr >> self.shift
            && (e.global || e.asid == asid)
        {
            if !self.recent_fresh {
                self.policy
                    .on_hit(recent.set * self.ways, recent.way, self.ways);
                self.recent_fresh = true;
            }
            return Some((recent, e));
        }
        let first = if self.live[0] > 0 {
            self.find(self.shift, vaddr, asid)
        } else {
            None
        };
        let found = match first {
            Some(found) => {
                self.recent = found;
                self.recent_fresh = true;
                found
            }
            None if self.live[1] == 0 => return None,
            None => {
                // A shared borrow the closure can copy (see `find`).
                let this = &*self;
                let found = this
                    .more_shifts
                    .iter()
                    .find_map(move |&shift| this.find(shift, vaddr, asid))?;
                // This hit may share a set with `recent` and overtake it.
                self.recent_fresh = false;
                found
            }
        };
        self.policy
            .on_hit(found.index - found.way, found.way, self.ways);
        Some((found, &self.slots[found.index]))
    }

    /// Installs `entry` (whose size this array holds): over an entry for the
    /// same page that a probe could confuse with it, else in the lowest
    /// invalid way, else over the policy's victim. With `REPORT` the entry
    /// displaced is returned; without, it is not read.
    ///
    /// With `after_miss` the caller has just probed this array for the
    /// entry's page in its address space and found nothing, so a twin can
    /// only be there when the new entry is global (it matches any space):
    /// otherwise the search for one is skipped.
    #[inline(always)]
    pub(super) fn fill<const REPORT: bool>(
        &mut self,
        entry: TlbEntry,
        after_miss: bool,
    ) -> ArrayFill {
        let ways = self.ways;
        let set = self.set_of(entry.vpn);
        let base = set * ways;
        let same_page = |e: &TlbEntry| {
            e.vpn == entry.vpn
                && e.page_shift == entry.page_shift
                && (e.global || entry.global || e.asid == entry.asid)
        };
        // Separate tight searches (a colliding entry, then the lowest
        // invalid way only if there is none) cost less than one pass that
        // tests both on every way: a fill usually finds neither. Both go by
        // the tags, reading an entry only where its tag matches.
        let tag = tag_of(entry.vpn, entry.page_shift);
        let entries = self.slots.len();
        let same = if after_miss && !entry.global {
            debug_assert!(
                self.first_tagged(base, tag, same_page).is_none(),
                "a fill after a miss found the page in the array"
            );
            None
        } else {
            self.first_tagged(base, tag, same_page)
        };
        let mut dropped = 0;
        if let Some(way) = same {
            for other in base + way + 1..base + ways {
                if self.tags[other] == tag && same_page(&self.slots[other]) {
                    self.write_slot(other, EMPTY_ENTRY);
                    dropped += 1;
                }
            }
        }
        let (way, evicted) = match same {
            Some(way) => (way, None),
            None => {
                // A full array (the usual state once warm) has no free way
                // in any set; the live counts say so without a search.
                let full = (self.live[0] + self.live[1]) as usize == entries;
                let free = if full {
                    None
                } else {
                    self.tags[base..base + ways]
                        .iter()
                        .position(|&t| t == EMPTY_TAG)
                };
                let way = match free {
                    Some(way) => way,
                    None => self.policy.victim(base, ways),
                };
                let valid = self.tags[base + way] != EMPTY_TAG;
                (way, (REPORT && valid).then(|| self.slots[base + way]))
            }
        };
        let replaced = self.write_tagged(base + way, entry, tag);
        let displaced = same.is_none() && replaced != EMPTY_TAG;
        self.count_entry(tag_shift(replaced), false);
        self.count_entry(entry.page_shift, true);
        // Dropped duplicates have the new entry's size.
        for _ in 0..dropped {
            self.count_entry(entry.page_shift, false);
        }
        self.policy.on_fill(base, way, ways);
        self.recent_fresh = false;
        ArrayFill {
            set,
            way,
            displaced,
            evicted,
            dropped,
        }
    }

    /// Writes `entry` into (set, way) as a fill there would, after checking
    /// that a probe could find it there and nowhere else; returns the valid
    /// entry it overwrote.
    pub(super) fn place(
        &mut self,
        set: usize,
        way: usize,
        entry: TlbEntry,
    ) -> Result<Option<TlbEntry>, TlbSlotError> {
        if set >= self.sets {
            return Err(TlbSlotError::NoSuchSet {
                set,
                sets: self.sets,
            });
        }
        if way >= self.ways {
            return Err(TlbSlotError::NoSuchWay {
                way,
                ways: self.ways,
            });
        }
        if !self.holds(entry.page_shift) {
            return Err(TlbSlotError::PageSizeNotHeld {
                page_shift: entry.page_shift,
            });
        }
        let home = self.set_of(entry.vpn);
        if home != set {
            return Err(TlbSlotError::WrongSet {
                vpn: entry.vpn,
                home,
                set,
            });
        }
        let base = set * self.ways;
        let duplicate = self.slots[base..base + self.ways]
            .iter()
            .enumerate()
            .find(|(w, e)| {
                *w != way
                    && e.page_shift == entry.page_shift
                    && e.vpn == entry.vpn
                    && (e.global || entry.global || e.asid == entry.asid)
            });
        if let Some((other, _)) = duplicate {
            return Err(TlbSlotError::Duplicate { way: other });
        }
        let old = self.slots[base + way];
        self.write_slot(base + way, entry);
        self.count_entry(old.page_shift, false);
        self.count_entry(entry.page_shift, true);
        self.policy.on_fill(base, way, self.ways);
        self.recent_fresh = false;
        Ok((old.page_shift != EMPTY).then_some(old))
    }

    /// The valid entry at (set, way).
    pub(super) fn get(&self, set: usize, way: usize) -> Option<&TlbEntry> {
        self.index(set, way)
            .map(|i| &self.slots[i])
            .filter(|e| e.page_shift != EMPTY)
    }

    /// Marks the valid entry at (set, way) dirty; returns whether there was
    /// one. (Only the dirty bit may change in place: the tag covers the
    /// rest.)
    pub(super) fn set_dirty(&mut self, set: usize, way: usize) -> bool {
        match self
            .index(set, way)
            .map(|i| &mut self.slots[i])
            .filter(|e| e.page_shift != EMPTY)
        {
            Some(e) => {
                e.dirty = true;
                true
            }
            None => false,
        }
    }

    /// Empties (set, way); returns what was there if valid.
    pub(super) fn take(&mut self, set: usize, way: usize) -> Option<TlbEntry> {
        let i = self.index(set, way)?;
        let old = self.slots[i];
        self.write_slot(i, EMPTY_ENTRY);
        self.count_entry(old.page_shift, false);
        (old.page_shift != EMPTY).then_some(old)
    }

    fn index(&self, set: usize, way: usize) -> Option<usize> {
        (set < self.sets && way < self.ways).then_some(set * self.ways + way)
    }

    /// Empties every valid entry `doomed` selects; returns how many.
    pub(super) fn invalidate_if(&mut self, doomed: impl Fn(&TlbEntry) -> bool) -> u64 {
        let mut removed = [0; 2];
        for (e, tag) in self.slots.iter_mut().zip(&mut self.tags) {
            if e.page_shift != EMPTY && doomed(e) {
                removed[live_index(self.shift, e.page_shift)] += 1;
                *e = EMPTY_ENTRY;
                *tag = EMPTY_TAG;
            }
        }
        self.live[0] -= removed[0];
        self.live[1] -= removed[1];
        u64::from(removed[0] + removed[1])
    }

    /// Empties the entries of every size held that map `vaddr`, for `asid`
    /// (and global ones) or, with `None`, for every address space.
    #[inline]
    pub(super) fn flush_page(&mut self, vaddr: u64, asid: Option<u16>) -> u64 {
        // Every eviction flushes its page from every array; on a 4 KiB
        // workload the huge-page arrays hold nothing to look through, and
        // the test inlined in the caller's loop spares them a call.
        if self.live == [0, 0] {
            return 0;
        }
        self.flush_page_in_sets(vaddr, asid)
    }

    /// [`TlbArray::flush_page`] of an array with entries: searches the set
    /// of each page size it holds entries of.
    fn flush_page_in_sets(&mut self, vaddr: u64, asid: Option<u16>) -> u64 {
        let mut count = 0;
        for k in 0..self.shift_count() {
            let shift = self.shift_at(k);
            let live = live_index(self.shift, shift);
            if self.live[live] == 0 {
                continue;
            }
            let removed = self.flush_in_set(shift, vaddr >> shift, asid);
            self.live[live] -= removed;
            count += u64::from(removed);
        }
        count
    }

    /// Empties the entries for page `vpn` of size `2^shift` in its set, of
    /// `asid` and global ones or, with `None`, of any address space;
    /// returns how many. Live counts are the caller's to adjust.
    ///
    /// A shootdown almost never finds its page (an evicted page is a cold
    /// one), so the cost is the tag search, made four tags at a time by
    /// [`quad_has`]; ways beyond the last whole four go one by one.
    #[inline(always)]
    fn flush_in_set(&mut self, shift: u8, vpn: u64, asid: Option<u16>) -> u32 {
        let base = self.set_of(vpn) * self.ways;
        let tag = tag_of(vpn, shift);
        let whole = self.ways / 4 * 4;
        let mut removed = 0;
        let mut at = base;
        while at < base + self.ways {
            let group = if at < base + whole {
                let quad = &self.tags[at..at + 4];
                if !quad_has([quad[0], quad[1], quad[2], quad[3]], tag) {
                    at += 4;
                    continue;
                }
                4
            } else {
                1
            };
            for index in at..at + group {
                let e = &self.slots[index];
                let space = match asid {
                    Some(a) => e.global || e.asid == a,
                    None => true,
                };
                if self.tags[index] == tag && e.page_shift == shift && e.vpn == vpn && space {
                    self.write_slot(index, EMPTY_ENTRY);
                    removed += 1;
                }
            }
            at += group;
        }
        removed
    }

    /// Valid entries as (set, way, entry), set-major.
    pub(super) fn valid(&self) -> impl Iterator<Item = (usize, usize, TlbEntry)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, e)| e.page_shift != EMPTY)
            .map(|(i, e)| (i / self.ways, i % self.ways, *e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fill takes the lowest free way of its set while the array has a
    /// hole anywhere, and the LRU victim once every way is full.
    #[test]
    fn fills_take_free_ways_before_victims() {
        let mut a = TlbArray::new(&TlbArrayConfig {
            entries: 4,
            ways: 2,
            page_shifts: vec![12],
            replacement: TlbReplacement::Lru,
        });
        let page = |vpn: u64| TlbEntry {
            vpn,
            page_shift: 12,
            frame_base: vpn << 12,
            perms: Perms::READ,
            asid: 0,
            global: false,
            dirty: false,
        };
        // Pages 0, 2 go to set 0; 1, 3 to set 1: the array is full.
        for vpn in 0..4 {
            a.fill::<true>(page(vpn), false);
        }
        // Set 0 loses its older way, page 0.
        let full = a.fill::<true>(page(4), false);
        assert_eq!(
            (full.set, full.way, full.evicted.map(|e| e.vpn)),
            (0, 0, Some(0))
        );
        // A hole in set 1 (way 0, the older) with the array otherwise full:
        // a fill in set 1 takes it, a fill in set 0 still evicts.
        a.take(1, 0);
        let refill = a.fill::<true>(page(5), false);
        assert_eq!((refill.set, refill.way, refill.evicted), (1, 0, None));
        let evict = a.fill::<true>(page(6), false);
        assert_eq!(
            (evict.set, evict.way, evict.evicted.map(|e| e.vpn)),
            (0, 1, Some(2))
        );
        // A hole in set 0 while set 1 is full: set 1 evicts its LRU way.
        a.take(0, 0);
        let evict = a.fill::<true>(page(7), false);
        assert_eq!(
            (evict.set, evict.way, evict.evicted.map(|e| e.vpn)),
            (1, 1, Some(3))
        );
        let refill = a.fill::<true>(page(8), false);
        assert_eq!((refill.set, refill.way, refill.evicted), (0, 0, None));
    }

    /// The per-size counts that let probes skip empty sizes stay equal to
    /// a recount through every kind of edit, and a probe still finds every
    /// valid entry a plain scan finds and a flush empties exactly what a
    /// plain scan would, in sets of fewer ways than the tag searches compare
    /// at once, of a multiple of that, and of neither.
    #[test]
    fn live_counts_track_every_edit() {
        for ways in [2, 4, 7, 12] {
            live_counts_track_every_edit_in(ways);
        }
    }

    fn live_counts_track_every_edit_in(ways: usize) {
        let mut a = TlbArray::new(&TlbArrayConfig {
            entries: 4 * ways,
            ways,
            page_shifts: vec![12, 21],
            replacement: TlbReplacement::Lru,
        });
        let mut rng = 7u64;
        for step in 0..5000 {
            let r = splitmix64(&mut rng);
            let shift = if r & 1 == 0 { 12 } else { 21 };
            let vpn = (r >> 8) % 24;
            let asid = ((r >> 16) % 2) as u16;
            match (r >> 4) % 5 {
                0 | 1 => {
                    a.fill::<true>(
                        TlbEntry {
                            vpn,
                            page_shift: shift,
                            frame_base: vpn << shift,
                            perms: Perms::READ,
                            asid,
                            global: (r >> 20) % 7 == 0,
                            dirty: false,
                        },
                        false,
                    );
                }
                2 => {
                    // A flush empties exactly what a scan of every entry
                    // would, for one address space or (`None`) all.
                    let vaddr = vpn << shift;
                    let space = (r >> 36) % 3 != 0;
                    let mut scanned = a.clone();
                    let expected = scanned.invalidate_if(|e| {
                        e.vpn == vaddr >> e.page_shift && (!space || e.global || e.asid == asid)
                    });
                    let flushed = a.flush_page(vaddr, space.then_some(asid));
                    assert_eq!(flushed, expected, "{ways} ways, step {step}: flushed");
                    assert_eq!(
                        (&a.slots, &a.tags, a.live),
                        (&scanned.slots, &scanned.tags, scanned.live),
                        "{ways} ways, step {step}: flush of {vaddr:#x}"
                    );
                }
                3 => {
                    a.take(((r >> 24) % 4) as usize, (r >> 28) as usize % ways);
                }
                _ => {
                    a.invalidate_if(|e| e.asid == asid && e.vpn % 3 == 0);
                }
            }
            assert!(
                a.slots
                    .iter()
                    .zip(&a.tags)
                    .all(|(e, &t)| t == tag_of(e.vpn, e.page_shift)),
                "{ways} ways, step {step}: a tag disagrees with its entry"
            );
            // Any address, found by the tags exactly as by a plain scan of
            // every valid entry, the first page size before the other.
            let probe_shift = if (r >> 32) & 1 == 0 { 12 } else { 21 };
            let vaddr = ((r >> 40) % 24) << probe_shift;
            let probe_asid = ((r >> 48) % 2) as u16;
            let plain = [12, 21]
                .into_iter()
                .find_map(|shift| {
                    a.valid().find(|(_, _, e)| {
                        e.page_shift == shift
                            && e.vpn == vaddr >> shift
                            && (e.global || e.asid == probe_asid)
                    })
                })
                .map(|(set, way, _)| (set, way));
            let found = a.lookup(vaddr, probe_asid).map(|(p, _)| (p.set, p.way));
            assert_eq!(
                found, plain,
                "{ways} ways, step {step}: probe of {vaddr:#x}"
            );
            let first = a.valid().filter(|(_, _, e)| e.page_shift == 12).count();
            let more = a.valid().count() - first;
            assert_eq!(
                (a.live[0] as usize, a.live[1] as usize),
                (first, more),
                "step {step}"
            );
            for (_, _, e) in a.valid().collect::<Vec<_>>() {
                let vaddr = e.vpn << e.page_shift;
                assert!(
                    a.lookup(vaddr, e.asid).is_some(),
                    "step {step}: {e:?} not found"
                );
            }
        }
    }

    /// Two pages whose tags collide in one set are told apart by their
    /// entries: neither's probe finds the other, and filling one keeps the
    /// other.
    #[test]
    fn colliding_tags_never_match_by_themselves() {
        let mut a = TlbArray::new(&TlbArrayConfig {
            entries: 4,
            ways: 4,
            page_shifts: vec![12],
            replacement: TlbReplacement::Lru,
        });
        let (one, two) = (0x10, (1 << TAG_SHIFT_AT) | 0x11);
        assert_eq!(tag_of(one, 12), tag_of(two, 12));
        let page = |vpn: u64| TlbEntry {
            vpn,
            page_shift: 12,
            frame_base: 0x1000,
            perms: Perms::READ,
            asid: 0,
            global: false,
            dirty: false,
        };
        a.fill::<true>(page(one), false);
        assert!(a.lookup(two << 12, 0).is_none());
        let second = a.fill::<true>(page(two), false);
        assert_eq!((second.way, second.evicted, second.dropped), (1, None, 0));
        assert_eq!(a.lookup(one << 12, 0).map(|(p, _)| p.way), Some(0));
        assert_eq!(a.lookup(two << 12, 0).map(|(p, _)| p.way), Some(1));
        assert_eq!(a.flush_page(two << 12, Some(0)), 1);
        assert_eq!(a.lookup(one << 12, 0).map(|(p, _)| p.way), Some(0));
    }

    #[test]
    fn plru_bits_follow_the_documented_convention() {
        // 4 ways: nodes 1 (root), 2 (ways 0-1), 3 (ways 2-3).
        let mut bits = vec![false; 4];
        assert_eq!(plru_victim(&bits), 0);
        plru_touch(&mut bits, 0);
        // Way 0 used: node 2 points right (way 1), root points right.
        assert_eq!(bits[1..], [true, true, false]);
        assert_eq!(plru_victim(&bits), 2);
        plru_touch(&mut bits, 2);
        assert_eq!(bits[1..], [false, true, true]);
        assert_eq!(plru_victim(&bits), 1);
        // One way: no nodes, always way 0.
        let mut one = vec![false; 1];
        plru_touch(&mut one, 0);
        assert_eq!(plru_victim(&one), 0);
    }

    #[test]
    fn splitmix_matches_reference_output() {
        // First output for seed 0 from the reference C implementation.
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
    }
}
