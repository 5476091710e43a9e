//! Translation lookaside buffers: [`Tlb`], a hierarchy of any number of
//! levels built from a [`TlbConfig`], each level made of set-associative
//! arrays for its page-size classes, with ASID tags, global entries,
//! flushes and per-level [`TlbCounters`].
//!
//! The TLB only caches; the MMU drives it. For an access it probes the
//! levels [`Tlb::levels_for`] lists in order, fills the levels above a hit,
//! and after a full miss walks the page tables and fills every level that
//! [`holds`](Tlb::holds) the page's size. A probe allocates and hashes
//! nothing: it checks the slot that hit last, then scans one set of a flat
//! entry vector, indexed by mask when the set count is a power of two.
//!
//! An entry for page size 2^s matches a virtual address `va` when its `vpn`
//! equals `va >> s` and it is global or carries the probing ASID. Submodules:
//! `config` (geometry, validation, the spec grammar) and `array` (storage
//! and replacement of one array).

mod array;
mod config;

pub use config::{
    TlbArrayConfig, TlbConfig, TlbConfigError, TlbKind, TlbLevelConfig, TlbReplacement, MAX_ENTRIES,
};

use crate::access::{AccessKind, Perms};
use array::TlbArray;
use std::fmt;

/// One cached translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TlbEntry {
    /// Virtual page number: the virtual address shifted right by `page_shift`.
    pub vpn: u64,
    /// log2 of the page size.
    pub page_shift: u8,
    /// Physical address of the start of the page.
    pub frame_base: u64,
    /// What the mapping allows.
    pub perms: Perms,
    /// Address-space tag (ASID, PCID); ignored when `global`.
    pub asid: u16,
    /// Matches in every address space and survives [`Tlb::flush_asid`].
    pub global: bool,
    /// The page-table entry's dirty bit as cached at fill time. A write
    /// through a clean entry must re-walk so the walker sets D in memory.
    pub dirty: bool,
}

impl TlbEntry {
    /// The page size in bytes.
    pub fn page_size(&self) -> u64 {
        1 << self.page_shift
    }

    /// The physical address for `vaddr`, which must lie in this page.
    #[inline]
    pub fn translate(&self, vaddr: u64) -> u64 {
        self.frame_base | (vaddr & (self.page_size() - 1))
    }
}

/// Where an entry sits: level index (into [`TlbConfig::levels`]), array
/// index within the level, set and way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TlbSlot {
    /// Index of the level in [`TlbConfig::levels`].
    pub level: usize,
    /// Index of the array within the level.
    pub array: usize,
    /// Set within the array.
    pub set: usize,
    /// Way within the set.
    pub way: usize,
}

/// A successful probe: the entry, borrowed (copying it on every hit is a
/// measurable part of the hit path), and where it sits, so the MMU can
/// later mark it dirty or drop it without searching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbHit<'a> {
    /// The matching entry.
    pub entry: &'a TlbEntry,
    /// Its position.
    pub slot: TlbSlot,
}

/// What a fill did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TlbFill {
    /// Where the new entry went.
    pub slot: TlbSlot,
    /// The valid entry for another page that it displaced, if any. Refilling
    /// a page already present replaces it in place and evicts nothing.
    pub evicted: Option<TlbEntry>,
}

/// Per-level event counts since construction or
/// [`reset_counters`](Tlb::reset_counters). `probes == hits + misses`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlbCounters {
    /// Probes of this level.
    pub probes: u64,
    /// Probes that found an entry.
    pub hits: u64,
    /// Probes that found none.
    pub misses: u64,
    /// Entries installed by [`Tlb::fill`].
    pub fills: u64,
    /// Valid entries displaced by fills.
    pub evictions: u64,
    /// Entries removed by flushes and [`Tlb::invalidate`].
    pub flushed: u64,
}

/// Why [`Tlb::insert_at`] refused a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlbSlotError {
    /// The level index is out of range.
    NoSuchLevel {
        /// The index given.
        level: usize,
        /// How many levels there are.
        levels: usize,
    },
    /// The array index is out of range for the level.
    NoSuchArray {
        /// The index given.
        array: usize,
        /// How many arrays the level has.
        arrays: usize,
    },
    /// The set is out of range.
    NoSuchSet {
        /// The set given.
        set: usize,
        /// How many sets the array has.
        sets: usize,
    },
    /// The way is out of range.
    NoSuchWay {
        /// The way given.
        way: usize,
        /// How many ways a set has.
        ways: usize,
    },
    /// The array does not hold pages of this size.
    PageSizeNotHeld {
        /// The entry's page shift.
        page_shift: u8,
    },
    /// The entry's VPN indexes another set, so no probe would find it.
    WrongSet {
        /// The entry's VPN.
        vpn: u64,
        /// The set its VPN selects.
        home: usize,
        /// The set given.
        set: usize,
    },
    /// Another way of the set already holds this page for this ASID.
    Duplicate {
        /// The way holding it.
        way: usize,
    },
}

impl fmt::Display for TlbSlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlbSlotError::NoSuchLevel { level, levels } => {
                write!(f, "level {level} does not exist (the TLB has {levels})")
            }
            TlbSlotError::NoSuchArray { array, arrays } => {
                write!(f, "array {array} does not exist (the level has {arrays})")
            }
            TlbSlotError::NoSuchSet { set, sets } => {
                write!(f, "set {set} does not exist (the array has {sets})")
            }
            TlbSlotError::NoSuchWay { way, ways } => {
                write!(f, "way {way} does not exist (sets have {ways})")
            }
            TlbSlotError::PageSizeNotHeld { page_shift } => write!(
                f,
                "the array does not hold {}-byte pages",
                config::size_name(*page_shift)
            ),
            TlbSlotError::WrongSet { vpn, home, set } => {
                write!(f, "VPN {vpn:#x} belongs in set {home}, not set {set}")
            }
            TlbSlotError::Duplicate { way } => {
                write!(f, "way {way} of the set already holds this page")
            }
        }
    }
}

impl std::error::Error for TlbSlotError {}

/// A TLB hierarchy and its counters.
#[derive(Clone, Debug)]
pub struct Tlb {
    /// Every level's arrays, level by level, in one vector so a probe
    /// follows one pointer less.
    arrays: Vec<TlbArray>,
    /// The arrays of level `l` are `arrays[spans[l].0..spans[l].1]`.
    spans: Vec<(usize, usize)>,
    /// Indexed like `config.levels`.
    counters: Vec<TlbCounters>,
    /// Level indices probed for fetches, shallowest first.
    fetch_path: Vec<usize>,
    /// Level indices probed for loads and stores, shallowest first.
    data_path: Vec<usize>,
    config: TlbConfig,
    /// Entries written in so far (fills and preloads; see
    /// [`Tlb::additions`]).
    additions: u64,
}

impl Tlb {
    /// Builds an empty TLB after validating `config`.
    pub fn new(config: &TlbConfig) -> Result<Tlb, TlbConfigError> {
        config.validate()?;
        let mut arrays = Vec::new();
        let mut spans = Vec::new();
        for level in &config.levels {
            let first = arrays.len();
            arrays.extend(level.arrays.iter().map(TlbArray::new));
            spans.push((first, arrays.len()));
        }
        let path = |access: AccessKind| {
            let mut path: Vec<usize> = (0..config.levels.len())
                .filter(|&i| config.levels[i].kind.serves(access))
                .collect();
            path.sort_by_key(|&i| config.levels[i].level);
            path
        };
        Ok(Tlb {
            arrays,
            spans,
            counters: vec![TlbCounters::default(); config.levels.len()],
            fetch_path: path(AccessKind::Fetch),
            data_path: path(AccessKind::Read),
            config: config.clone(),
            additions: 0,
        })
    }

    /// The configuration this TLB was built from.
    pub fn config(&self) -> &TlbConfig {
        &self.config
    }

    /// The level indices an access of `kind` probes, in order. Empty when
    /// there is no TLB.
    #[inline]
    pub fn levels_for(&self, kind: AccessKind) -> &[usize] {
        match kind {
            AccessKind::Fetch => &self.fetch_path,
            AccessKind::Read | AccessKind::Write => &self.data_path,
        }
    }

    /// Index range in `arrays` of level `level`'s arrays.
    #[inline]
    fn span(&self, level: usize) -> Option<(usize, usize)> {
        self.spans.get(level).copied()
    }

    fn level_arrays(&self, level: usize) -> &[TlbArray] {
        match self.span(level) {
            Some((lo, hi)) => &self.arrays[lo..hi],
            None => &[],
        }
    }

    fn level_arrays_mut(&mut self, level: usize) -> &mut [TlbArray] {
        match self.span(level) {
            Some((lo, hi)) => &mut self.arrays[lo..hi],
            None => &mut [],
        }
    }

    /// Whether level `level` has an array for pages of `page_shift`; a
    /// [`fill`](Tlb::fill) of another size does nothing.
    pub fn holds(&self, level: usize, page_shift: u8) -> bool {
        self.level_arrays(level).iter().any(|a| a.holds(page_shift))
    }

    /// Looks `vaddr` up in level `level` for address space `asid`, trying
    /// each array and each page size it holds. A hit renews the entry's
    /// replacement state. Counts a probe and a hit or miss; an out-of-range
    /// level is a miss that counts nothing.
    #[inline(always)]
    pub fn probe(&mut self, level: usize, vaddr: u64, asid: u16) -> Option<TlbHit<'_>> {
        let (lo, hi) = self.span(level)?;
        let counters = &mut self.counters[level];
        counters.probes += 1;
        for (index, a) in self.arrays[lo..hi].iter_mut().enumerate() {
            if let Some((found, entry)) = a.lookup(vaddr, asid) {
                counters.hits += 1;
                return Some(TlbHit {
                    entry,
                    slot: TlbSlot {
                        level,
                        array: index,
                        set: found.set,
                        way: found.way,
                    },
                });
            }
        }
        counters.misses += 1;
        None
    }

    /// The entry `level`'s first array hit last, if it maps `vaddr` for
    /// `asid` and a hit on it would change no replacement state. Counts
    /// nothing: a caller that uses it calls [`Tlb::count_hit`], one that
    /// does not falls back to [`Tlb::probe`]. This is the repeated-access
    /// shortcut that keeps the hit path short.
    #[inline(always)]
    pub fn recent_hit(&self, level: usize, vaddr: u64, asid: u16) -> Option<&TlbEntry> {
        let &(lo, hi) = self.spans.get(level)?;
        if lo == hi {
            return None;
        }
        self.arrays[lo].recent_hit(vaddr, asid)
    }

    /// How many entries have been written in (by fills and preloads)
    /// since construction. Nothing else adds an entry, so while this stands
    /// still a probe that missed would miss again: the MMU counts the
    /// probes of an access retried after a page fault without searching.
    pub fn additions(&self) -> u64 {
        self.additions
    }

    /// Counts a probe of `level` that missed, for a probe known to miss
    /// (see [`Tlb::additions`]) and not searched; an out-of-range level
    /// counts nothing, as [`Tlb::probe`] does.
    #[inline]
    pub fn count_miss(&mut self, level: usize) {
        if let Some(c) = self.counters.get_mut(level) {
            c.probes += 1;
            c.misses += 1;
        }
    }

    /// Counts a probe of `level` that hit, for a hit taken through
    /// [`Tlb::recent_hit`].
    #[inline(always)]
    pub fn count_hit(&mut self, level: usize) {
        self.count_hits(level, 1);
    }

    /// Counts `n` probes of `level` that hit, for a run of hits taken
    /// through [`Tlb::recent_hit`].
    #[inline(always)]
    pub fn count_hits(&mut self, level: usize, n: u64) {
        if let Some(c) = self.counters.get_mut(level) {
            c.probes += n;
            c.hits += n;
        }
    }

    /// Installs `entry` in level `level`, in the array holding its page
    /// size: over the same page's entry if one is present (never a
    /// duplicate), else in the lowest invalid way of its set, else over the
    /// replacement policy's victim. Returns `None`, counting nothing, when
    /// the level holds no pages of that size or does not exist.
    pub fn fill(&mut self, level: usize, entry: TlbEntry) -> Option<TlbFill> {
        let (array, done) = self.fill_array::<true>(level, entry, false)?;
        Some(TlbFill {
            slot: TlbSlot {
                level,
                array,
                set: done.set,
                way: done.way,
            },
            evicted: done.evicted,
        })
    }

    /// [`fill`](Tlb::fill) of each of the first `count` levels an access
    /// of `kind` probes, shallowest first, with the same effect on entries,
    /// replacement state and counters, for a caller that does not need to
    /// know what went where: it never reads an entry it displaces (a likely
    /// cache miss in a large array), only that way's tag. The first
    /// `known_absent` of those levels were just probed for the entry's page
    /// and address space and found without it (the MMU's fill after a walk,
    /// or the refill of the levels above a lower level's hit), so their
    /// fills search for a twin only when the entry is global. Levels that
    /// hold no pages of the entry's size are left alone. One call fills
    /// the whole path: a call per level cost some fifty instructions of
    /// calling and argument copying a fill (callgrind).
    pub fn fill_path_quietly(
        &mut self,
        kind: AccessKind,
        count: usize,
        entry: TlbEntry,
        known_absent: usize,
    ) {
        for depth in 0..count {
            let Some(&level) = self.levels_for(kind).get(depth) else {
                return;
            };
            self.fill_array::<false>(level, entry, depth < known_absent);
        }
    }

    /// Fills the array of `level` that holds `entry`'s size and counts it;
    /// the array's index and what the fill did.
    #[inline(always)]
    fn fill_array<const REPORT: bool>(
        &mut self,
        level: usize,
        entry: TlbEntry,
        after_miss: bool,
    ) -> Option<(usize, array::ArrayFill)> {
        let (array, a) = self
            .level_arrays_mut(level)
            .iter_mut()
            .enumerate()
            .find(|(_, a)| a.holds(entry.page_shift))?;
        let done = a.fill::<REPORT>(entry, after_miss);
        self.additions += 1;
        let counters = &mut self.counters[level];
        counters.fills += 1;
        counters.evictions += u64::from(done.displaced) + done.dropped;
        Some((array, done))
    }

    /// Writes `entry` at `slot`, for preloading a textbook TLB state or a
    /// test. Updates replacement state as a fill would (so preloading in
    /// order sets LRU order) but no counters. Returns the valid entry
    /// overwritten. Refuses a slot out of range, a page size the array
    /// does not hold, a set the entry's VPN does not select, and a page the
    /// set already holds in another way.
    pub fn insert_at(
        &mut self,
        slot: TlbSlot,
        entry: TlbEntry,
    ) -> Result<Option<TlbEntry>, TlbSlotError> {
        let levels = self.counters.len();
        if slot.level >= levels {
            return Err(TlbSlotError::NoSuchLevel {
                level: slot.level,
                levels,
            });
        }
        let arrays = self.level_arrays_mut(slot.level);
        let count = arrays.len();
        let array = arrays
            .get_mut(slot.array)
            .ok_or(TlbSlotError::NoSuchArray {
                array: slot.array,
                arrays: count,
            })?;
        let replaced = array.place(slot.set, slot.way, entry)?;
        self.additions += 1;
        Ok(replaced)
    }

    /// The valid entry at `slot`.
    pub fn entry_at(&self, slot: TlbSlot) -> Option<TlbEntry> {
        self.level_arrays(slot.level)
            .get(slot.array)?
            .get(slot.set, slot.way)
            .copied()
    }

    /// Marks the entry at `slot` dirty, after a walk set the page table's
    /// dirty bit for a write that hit a clean entry. Returns whether a valid
    /// entry was there.
    pub fn set_dirty(&mut self, slot: TlbSlot) -> bool {
        self.level_arrays_mut(slot.level)
            .get_mut(slot.array)
            .is_some_and(|a| a.set_dirty(slot.set, slot.way))
    }

    /// Drops the entry at `slot` (say, one whose cached permissions no
    /// longer suffice) and returns it; counted as flushed.
    pub fn invalidate(&mut self, slot: TlbSlot) -> Option<TlbEntry> {
        let old = self
            .level_arrays_mut(slot.level)
            .get_mut(slot.array)?
            .take(slot.set, slot.way)?;
        self.counters[slot.level].flushed += 1;
        Some(old)
    }

    /// Empties every level. Returns the number of entries removed.
    pub fn flush_all(&mut self) -> u64 {
        self.for_each_level(|a| a.invalidate_if(|_| true))
    }

    /// Empties the non-global entries of address space `asid` (a CR3 write
    /// without PCID preservation, `sfence.vma x0, asid`). Returns the number
    /// of entries removed.
    pub fn flush_asid(&mut self, asid: u16) -> u64 {
        self.for_each_level(|a| a.invalidate_if(|e| !e.global && e.asid == asid))
    }

    /// Empties, in every level and page size, the entries mapping `vaddr`:
    /// those of `asid` and global ones, or with `None` those of every
    /// address space. Global entries go too, as with x86 `invlpg`. Returns
    /// the number of entries removed.
    pub fn flush_page(&mut self, vaddr: u64, asid: Option<u16>) -> u64 {
        self.for_each_level(|a| a.flush_page(vaddr, asid))
    }

    /// Runs a flush on every array, adding what each removes to its level's
    /// `flushed` counter; returns the total.
    fn for_each_level(&mut self, mut flush: impl FnMut(&mut TlbArray) -> u64) -> u64 {
        let mut total = 0;
        for level in 0..self.counters.len() {
            let removed: u64 = self
                .level_arrays_mut(level)
                .iter_mut()
                .map(&mut flush)
                .sum();
            self.counters[level].flushed += removed;
            total += removed;
        }
        total
    }

    /// Counters per level, indexed like [`TlbConfig::levels`].
    pub fn counters(&self) -> &[TlbCounters] {
        &self.counters
    }

    /// Zeroes every counter; entries stay.
    pub fn reset_counters(&mut self) {
        self.counters.fill(TlbCounters::default());
    }

    /// The valid entries of level `level` with their slots, array by array,
    /// set-major; empty for a level that does not exist.
    pub fn entries(&self, level: usize) -> impl Iterator<Item = (TlbSlot, TlbEntry)> + '_ {
        self.level_arrays(level)
            .iter()
            .enumerate()
            .flat_map(move |(array, a)| {
                a.valid().map(move |(set, way, entry)| {
                    (
                        TlbSlot {
                            level,
                            array,
                            set,
                            way,
                        },
                        entry,
                    )
                })
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RW: Perms = Perms::READ.union(Perms::WRITE);

    /// A 4 KiB page `vpn` of address space 0 mapped to frame `vpn + 0x100`.
    fn page(vpn: u64) -> TlbEntry {
        TlbEntry {
            vpn,
            page_shift: 12,
            frame_base: (vpn + 0x100) << 12,
            perms: RW,
            asid: 0,
            global: false,
            dirty: false,
        }
    }

    fn one_level(spec: &str) -> Tlb {
        let mut config = TlbConfig::parse_spec(spec, 12).unwrap();
        // Unified, so the one level serves every access kind.
        assert_eq!(config.levels.len(), 1);
        config.levels[0].name = "T".into();
        Tlb::new(&config).unwrap()
    }

    /// What one reference did.
    #[derive(Debug, PartialEq)]
    enum Ref {
        Hit,
        /// Miss into an empty way.
        Miss,
        /// Miss that evicted this page.
        Evict(u64),
    }
    use Ref::{Evict, Hit, Miss};

    /// Probes each page of `refs` and fills it on a miss.
    fn run(tlb: &mut Tlb, refs: &[u64]) -> Vec<Ref> {
        refs.iter()
            .map(|&p| {
                if tlb.probe(0, p << 12, 0).is_some() {
                    return Hit;
                }
                match tlb.fill(0, page(p)).unwrap().evicted {
                    Some(victim) => Evict(victim.vpn),
                    None => Miss,
                }
            })
            .collect()
    }

    const REFS: [u64; 10] = [1, 2, 3, 4, 1, 5, 2, 1, 3, 4];

    #[test]
    fn lru_reference_string() {
        let mut tlb = one_level("4:4:lru");
        // Residents listed least recently used first.
        let expected = [
            Miss,     // 1: [1]
            Miss,     // 2: [1 2]
            Miss,     // 3: [1 2 3]
            Miss,     // 4: [1 2 3 4]
            Hit,      // 1: [2 3 4 1]
            Evict(2), // 5: [3 4 1 5]
            Evict(3), // 2: [4 1 5 2]
            Hit,      // 1: [4 5 2 1]
            Evict(4), // 3: [5 2 1 3]
            Evict(5), // 4: [2 1 3 4]
        ];
        assert_eq!(run(&mut tlb, &REFS), expected);
        let c = tlb.counters()[0];
        assert_eq!((c.probes, c.hits, c.misses), (10, 2, 8));
        assert_eq!((c.fills, c.evictions), (8, 4));
    }

    #[test]
    fn fifo_reference_string() {
        let mut tlb = one_level("4:4:fifo");
        // Residents listed oldest fill first; hits do not reorder.
        let expected = [
            Miss,     // 1: [1]
            Miss,     // 2: [1 2]
            Miss,     // 3: [1 2 3]
            Miss,     // 4: [1 2 3 4]
            Hit,      // 1: [1 2 3 4]
            Evict(1), // 5: [2 3 4 5]
            Hit,      // 2
            Evict(2), // 1: [3 4 5 1]
            Hit,      // 3
            Hit,      // 4
        ];
        assert_eq!(run(&mut tlb, &REFS), expected);
    }

    #[test]
    fn tree_plru_reference_string() {
        let mut tlb = one_level("4:4:plru");
        // Bits (b1 root, b2 over ways 0-1, b3 over ways 2-3); 0 = victim on
        // the left. Using a way points its path away: way 0 sets b1=1 b2=1,
        // way 1 b1=1 b2=0, way 2 b1=0 b3=1, way 3 b1=0 b3=0.
        let expected = [
            Miss,     // 1 -> way 0: bits 1 1 0, ways [1 - - -]
            Miss,     // 2 -> way 1: bits 1 0 0, ways [1 2 - -]
            Miss,     // 3 -> way 2: bits 0 0 1, ways [1 2 3 -]
            Miss,     // 4 -> way 3: bits 0 0 0, ways [1 2 3 4]
            Hit,      // 1 in way 0: bits 1 1 0
            Evict(3), // 5: root right, b3 left -> way 2: bits 0 1 1, [1 2 5 4]
            Hit,      // 2 in way 1: bits 1 0 1
            Hit,      // 1 in way 0: bits 1 1 1
            Evict(4), // 3: right, right -> way 3: bits 0 1 0, [1 2 5 3]
            Evict(2), // 4: left, right -> way 1: bits 1 0 0, [1 4 5 3]
        ];
        // True LRU would have evicted 2 at the sixth reference, not 3.
        assert_eq!(run(&mut tlb, &REFS), expected);
    }

    #[test]
    fn random_replacement_is_deterministic_per_seed() {
        let refs: Vec<u64> = (0..60).map(|i| (i * 7 + i / 5) % 9).collect();
        let victims = |seed| {
            let mut tlb = one_level(&format!("4:4:random={seed}"));
            run(&mut tlb, &refs)
        };
        let first = victims(42);
        assert_eq!(first, victims(42));
        assert_ne!(first, victims(43));
        assert!(first.iter().filter(|r| matches!(r, Evict(_))).count() > 10);
    }

    /// Steps the tests' xorshift generator.
    fn next(state: &mut u64) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
    }

    /// A quiet fill leaves entries, replacement state and counters exactly
    /// as a reporting fill does, for every replacement policy, through
    /// refills, evictions and flushes, and so does one that knows it
    /// follows a miss (global entries over another address space's
    /// included).
    #[test]
    fn quiet_fills_match_reporting_fills() {
        for policy in ["lru", "fifo", "plru", "random=5"] {
            let mut loud = one_level(&format!("16:4:{policy}"));
            let mut quiet = loud.clone();
            let mut state = 0x9e37_79b9_u64;
            for step in 0..3000 {
                next(&mut state);
                let vpn = state % 40;
                let mut entry = page(vpn);
                entry.asid = ((state >> 8) % 2) as u16;
                entry.global = (state >> 16) % 9 == 0;
                match (state >> 24) % 6 {
                    0 => {
                        loud.flush_page(vpn << 12, Some(entry.asid));
                        quiet.flush_page(vpn << 12, Some(entry.asid));
                    }
                    1 | 2 => {
                        let a = loud.probe(0, vpn << 12, entry.asid).map(|h| h.slot);
                        let b = quiet.probe(0, vpn << 12, entry.asid).map(|h| h.slot);
                        assert_eq!(a, b, "{policy} step {step}");
                    }
                    3 => {
                        assert!(loud.fill(0, entry).is_some());
                        quiet.fill_path_quietly(AccessKind::Read, 1, entry, 0);
                    }
                    _ => {
                        // As in the MMU, a fill after a probe that missed.
                        let a = loud.probe(0, vpn << 12, entry.asid).is_some();
                        let b = quiet.probe(0, vpn << 12, entry.asid).is_some();
                        assert_eq!(a, b, "{policy} step {step}");
                        if !a {
                            assert!(loud.fill(0, entry).is_some());
                            quiet.fill_path_quietly(AccessKind::Read, 1, entry, 1);
                        }
                    }
                }
                assert_eq!(
                    loud.entries(0).collect::<Vec<_>>(),
                    quiet.entries(0).collect::<Vec<_>>(),
                    "{policy} step {step}"
                );
                assert_eq!(loud.counters(), quiet.counters(), "{policy} step {step}");
            }
            assert!(loud.counters()[0].evictions > 100, "{policy}");
        }
    }

    /// A quiet fill of an access's path fills each level it names as a
    /// reporting fill of that level does, on the x86-64 default TLB (split
    /// first levels, several arrays a level, 4 KiB and 2 MiB pages), for
    /// data accesses and fetches, whole paths and their first levels, after
    /// probes that missed (`known_absent`) and without them.
    #[test]
    fn quiet_path_fills_match_reporting_fills_level_by_level() {
        let mut loud = Tlb::new(&TlbConfig::x86_64_default()).unwrap();
        let mut quiet = loud.clone();
        let mut state = 0x51_7cc1_b727_220a_u64;
        for step in 0..4000 {
            next(&mut state);
            let kind = [AccessKind::Read, AccessKind::Fetch][(state % 2) as usize];
            let path = loud.levels_for(kind).to_vec();
            let count = 1 + (state >> 4) as usize % path.len();
            let mut entry = page((state >> 8) % 3000);
            if (state >> 20) % 5 == 0 {
                entry.page_shift = 21;
                entry.vpn %= 40;
                entry.frame_base = entry.vpn << 21;
            }
            entry.asid = ((state >> 24) % 2) as u16;
            entry.global = (state >> 28) % 11 == 0;
            let vaddr = entry.vpn << entry.page_shift;
            // Probe first (both alike) when the step says so, counting the
            // levels from the first that miss.
            let mut known_absent = 0;
            if (state >> 32) % 2 == 0 {
                for &level in &path[..count] {
                    let a = loud.probe(level, vaddr, entry.asid).map(|h| h.slot);
                    let b = quiet.probe(level, vaddr, entry.asid).map(|h| h.slot);
                    assert_eq!(a, b, "step {step}");
                    if a.is_some() {
                        break;
                    }
                    known_absent += 1;
                }
            }
            for &level in &path[..count] {
                loud.fill(level, entry);
            }
            quiet.fill_path_quietly(kind, count, entry, known_absent);
            for level in 0..loud.counters().len() {
                assert!(
                    loud.entries(level).eq(quiet.entries(level)),
                    "step {step}, level {level}"
                );
            }
            assert_eq!(loud.counters(), quiet.counters(), "step {step}");
            assert_eq!(loud.additions(), quiet.additions(), "step {step}");
        }
        assert!(loud.counters().iter().all(|c| c.evictions > 0));
    }

    /// CS:APP 3e §9.6.4, figure 9.20(b): 16 entries, 4 ways, 4 sets, 64-byte
    /// pages; TLBI is VPN bits 0-1, TLBT the rest.
    #[test]
    fn csapp_small_memory_system() {
        let config = TlbConfig::parse_spec("16:4@64", 12).unwrap();
        let mut tlb = Tlb::new(&config).unwrap();
        // (set, way, tag, ppn) of the valid entries.
        let valid = [
            (0, 1, 0x09, 0x0D),
            (0, 3, 0x07, 0x02),
            (1, 0, 0x03, 0x2D),
            (3, 1, 0x03, 0x0D),
            (3, 2, 0x0A, 0x34),
        ];
        for (set, way, tag, ppn) in valid {
            let slot = TlbSlot {
                level: 0,
                array: 0,
                set,
                way,
            };
            let entry = TlbEntry {
                vpn: tag << 2 | set as u64,
                page_shift: 6,
                frame_base: ppn << 6,
                perms: RW,
                asid: 0,
                global: false,
                dirty: false,
            };
            assert_eq!(tlb.insert_at(slot, entry), Ok(None));
        }
        assert_eq!(tlb.entries(0).count(), 5);
        // 0x03d4: VPN 0x0F, TLBI 3, TLBT 0x03 -> PPN 0x0D, PA 0x354.
        let hit = tlb.probe(0, 0x03d4, 0).unwrap();
        assert_eq!(
            hit.slot,
            TlbSlot {
                level: 0,
                array: 0,
                set: 3,
                way: 1
            }
        );
        assert_eq!(hit.entry.frame_base >> 6, 0x0D);
        assert_eq!(hit.entry.translate(0x03d4), 0x354);
        // 0x027c: VPN 0x09, TLBI 1, TLBT 0x02 -> miss (set 1 holds tag 0x03).
        assert!(tlb.probe(0, 0x027c, 0).is_none());
        // 0x03a9: VPN 0x0E, TLBI 2, TLBT 0x03 -> miss (set 2 is empty).
        assert!(tlb.probe(0, 0x03a9, 0).is_none());
        // 0x0040: VPN 0x01, TLBI 1, TLBT 0x00 -> miss.
        assert!(tlb.probe(0, 0x0040, 0).is_none());
        let c = tlb.counters()[0];
        assert_eq!((c.probes, c.hits, c.misses, c.fills), (4, 1, 3, 0));
    }

    #[test]
    fn insert_at_refuses_bad_positions() {
        let mut tlb = Tlb::new(&TlbConfig::parse_spec("16:4@64", 12).unwrap()).unwrap();
        let at = |set, way| TlbSlot {
            level: 0,
            array: 0,
            set,
            way,
        };
        let mut e = page(0x0F);
        e.page_shift = 6;
        assert_eq!(
            tlb.insert_at(at(2, 0), e),
            Err(TlbSlotError::WrongSet {
                vpn: 0x0F,
                home: 3,
                set: 2
            })
        );
        assert!(matches!(
            tlb.insert_at(at(4, 0), e),
            Err(TlbSlotError::NoSuchSet { .. })
        ));
        assert!(matches!(
            tlb.insert_at(at(3, 4), e),
            Err(TlbSlotError::NoSuchWay { .. })
        ));
        assert!(matches!(
            tlb.insert_at(
                TlbSlot {
                    level: 1,
                    ..at(3, 0)
                },
                e
            ),
            Err(TlbSlotError::NoSuchLevel { .. })
        ));
        assert_eq!(
            tlb.insert_at(at(3, 0), page(0x0F)),
            Err(TlbSlotError::PageSizeNotHeld { page_shift: 12 })
        );
        assert_eq!(tlb.insert_at(at(3, 0), e), Ok(None));
        assert_eq!(
            tlb.insert_at(at(3, 1), e),
            Err(TlbSlotError::Duplicate { way: 0 })
        );
        // Overwriting the same way returns the old entry.
        assert_eq!(tlb.insert_at(at(3, 0), e), Ok(Some(e)));
    }

    #[test]
    fn asids_isolate_and_globals_survive_flush_asid() {
        let mut tlb = one_level("8:8");
        let mut a = page(5);
        a.asid = 1;
        let mut b = page(5);
        b.asid = 2;
        b.frame_base = 0x9000;
        let mut kernel = page(0x7f);
        kernel.asid = 1;
        kernel.global = true;
        tlb.fill(0, a).unwrap();
        assert!(tlb.probe(0, 0x5123, 2).is_none());
        // Same VPN, other ASID: a second entry, not a replacement.
        assert_eq!(tlb.fill(0, b).unwrap().evicted, None);
        tlb.fill(0, kernel).unwrap();
        assert_eq!(tlb.entries(0).count(), 3);
        assert_eq!(*tlb.probe(0, 0x5123, 1).unwrap().entry, a);
        assert_eq!(
            tlb.probe(0, 0x5123, 2).unwrap().entry.translate(0x5123),
            0x9123
        );
        // A global entry matches any ASID.
        assert_eq!(*tlb.probe(0, 0x7f000, 9).unwrap().entry, kernel);
        assert_eq!(tlb.flush_asid(1), 1);
        assert!(tlb.probe(0, 0x5123, 1).is_none());
        assert!(tlb.probe(0, 0x5123, 2).is_some());
        assert!(tlb.probe(0, 0x7f000, 1).is_some());
        assert_eq!(tlb.flush_all(), 2);
        assert_eq!(tlb.entries(0).count(), 0);
        assert_eq!(tlb.counters()[0].flushed, 3);
    }

    #[test]
    fn refill_replaces_in_place() {
        let mut tlb = one_level("4:4");
        let first = tlb.fill(0, page(7)).unwrap();
        let mut newer = page(7);
        newer.frame_base = 0x4000;
        newer.dirty = true;
        let second = tlb.fill(0, newer).unwrap();
        assert_eq!(second.slot, first.slot);
        assert_eq!(second.evicted, None);
        let all: Vec<TlbEntry> = tlb.entries(0).map(|(_, e)| e).collect();
        assert_eq!(all, vec![newer]);
        // A global fill for the page also takes over the ASID's entry.
        let mut global = newer;
        global.asid = 3;
        global.global = true;
        assert_eq!(tlb.fill(0, global).unwrap().slot, first.slot);
        assert_eq!(tlb.entries(0).count(), 1);
        assert_eq!(tlb.counters()[0].evictions, 0);
    }

    #[test]
    fn set_dirty_and_invalidate_use_the_hit_slot() {
        let mut tlb = one_level("4:2");
        tlb.fill(0, page(3)).unwrap();
        let hit = tlb.probe(0, 0x3000, 0).unwrap();
        assert!(!hit.entry.dirty);
        let slot = hit.slot;
        assert!(tlb.set_dirty(slot));
        assert!(tlb.probe(0, 0x3000, 0).unwrap().entry.dirty);
        assert_eq!(tlb.entry_at(slot).map(|e| e.vpn), Some(3));
        assert_eq!(tlb.invalidate(slot).map(|e| e.vpn), Some(3));
        assert!(!tlb.set_dirty(slot));
        assert_eq!(tlb.invalidate(slot), None);
        assert!(tlb.probe(0, 0x3000, 0).is_none());
        assert_eq!(tlb.counters()[0].flushed, 1);
    }

    #[test]
    fn direct_mapped_conflicts_evict() {
        // 4 sets of 1 way: pages 1 and 5 share set 1.
        let mut tlb = one_level("4:1");
        assert_eq!(
            run(&mut tlb, &[1, 2, 5, 2, 1, 5]),
            [Miss, Miss, Evict(1), Hit, Evict(5), Evict(1)]
        );
        let slot = tlb.entries(0).find(|(_, e)| e.vpn == 5).unwrap().0;
        assert_eq!((slot.set, slot.way), (1, 0));
    }

    #[test]
    fn non_power_of_two_sets_index_by_remainder() {
        // 3 sets of 2 ways: pages 0, 3, 6 share set 0.
        let mut tlb = one_level("6:2");
        assert_eq!(
            run(&mut tlb, &[0, 3, 1, 6, 0]),
            [Miss, Miss, Miss, Evict(0), Evict(3)]
        );
        let slot = tlb.entries(0).find(|(_, e)| e.vpn == 1).unwrap().0;
        assert_eq!(slot.set, 1);
    }

    #[test]
    fn huge_page_entry_serves_its_whole_range() {
        let mut tlb = one_level("8:2@4K+2M");
        let huge = TlbEntry {
            vpn: 0x4000_0000 >> 21,
            page_shift: 21,
            frame_base: 0x8000_0000,
            ..page(0)
        };
        tlb.fill(0, huge).unwrap();
        tlb.fill(0, page(0x12)).unwrap();
        for va in [0x4000_0000, 0x4012_3456, 0x401f_ffff] {
            let hit = tlb.probe(0, va, 0).unwrap();
            assert_eq!(hit.entry.translate(va), va - 0x4000_0000 + 0x8000_0000);
        }
        assert_eq!(tlb.probe(0, 0x12345, 0).unwrap().entry.page_shift, 12);
        assert!(tlb.probe(0, 0x4020_0000, 0).is_none());
        assert!(tlb.probe(0, 0x3fff_ffff, 0).is_none());
        assert!(tlb.holds(0, 21) && !tlb.holds(0, 30));
        assert_eq!(
            tlb.fill(
                0,
                TlbEntry {
                    page_shift: 30,
                    ..huge
                }
            ),
            None
        );
    }

    #[test]
    fn flush_page_removes_every_size_and_level() {
        let config = TlbConfig::parse_spec("l1:8:2,l1:4:4@2M,l2:16:4@4K+2M", 12).unwrap();
        let mut tlb = Tlb::new(&config).unwrap();
        let small = page(0x40000);
        let huge = TlbEntry {
            vpn: 0x200,
            page_shift: 21,
            frame_base: 0x8000_0000,
            ..page(0)
        };
        let mut other_space = page(0x40001);
        other_space.asid = 7;
        let mut global = huge;
        global.vpn = 0x201;
        global.global = true;
        for level in 0..2 {
            for e in [small, huge, other_space, global] {
                tlb.fill(level, e).unwrap();
            }
        }
        // 0x4000_0123 lies in page 0x40000 and in the 2 MiB page 0x200.
        assert_eq!(tlb.flush_page(0x4000_0123, Some(0)), 4);
        assert!(tlb.probe(0, 0x4000_0123, 0).is_none());
        assert!(tlb.probe(1, 0x4000_0123, 0).is_none());
        // ASID 0 leaves ASID 7's entry; `None` takes every space.
        assert_eq!(tlb.flush_page(0x4000_1000, Some(0)), 0);
        assert_eq!(tlb.flush_page(0x4000_1000, None), 2);
        // Global entries go even when an ASID is given.
        assert_eq!(tlb.flush_page(0x4020_0000, Some(3)), 2);
        assert_eq!(tlb.entries(0).count() + tlb.entries(1).count(), 0);
        let flushed: u64 = tlb.counters().iter().map(|c| c.flushed).sum();
        assert_eq!(flushed, 8);
    }

    /// The MMU's loop: probe down the path, then fill the levels above the
    /// hit, or all of them after a full miss.
    fn mmu_access(tlb: &mut Tlb, kind: AccessKind, p: u64) {
        let path = tlb.levels_for(kind).to_vec();
        let found = path
            .iter()
            .position(|&l| tlb.probe(l, p << 12, 0).is_some());
        for &l in &path[..found.unwrap_or(path.len())] {
            tlb.fill(l, page(p)).unwrap();
        }
    }

    #[test]
    fn paths_and_counters_across_levels() {
        let config = TlbConfig::parse_spec("l2:16:4,l1i:4:4,l1d:4:4", 12).unwrap();
        let mut tlb = Tlb::new(&config).unwrap();
        // Config order is L2, L1i, L1d; probe order is by depth.
        assert_eq!(tlb.levels_for(AccessKind::Fetch), [1, 0]);
        assert_eq!(tlb.levels_for(AccessKind::Read), [2, 0]);
        assert_eq!(tlb.levels_for(AccessKind::Write), [2, 0]);
        for p in [1, 2, 3, 4, 5, 1, 2] {
            mmu_access(&mut tlb, AccessKind::Read, p);
        }
        mmu_access(&mut tlb, AccessKind::Fetch, 1);
        mmu_access(&mut tlb, AccessKind::Fetch, 1);
        let c = tlb.counters();
        // L1d (4 entries, LRU): every read misses; 5 evicts 1, then 1
        // evicts 2 and 2 evicts 3.
        assert_eq!((c[2].probes, c[2].hits, c[2].misses), (7, 0, 7));
        assert_eq!((c[2].fills, c[2].evictions), (7, 3));
        // L2: probed on the 7 L1d misses (1 and 2 hit the second time) and
        // on the first fetch, which hits page 1.
        assert_eq!((c[0].probes, c[0].hits, c[0].misses), (8, 3, 5));
        // L1i: miss then hit.
        assert_eq!((c[1].probes, c[1].hits, c[1].misses), (2, 1, 1));
        for c in c {
            assert_eq!(c.probes, c.hits + c.misses);
        }
        tlb.reset_counters();
        assert_eq!(tlb.counters()[0], TlbCounters::default());
    }

    #[test]
    fn no_tlb_probes_nothing() {
        let mut tlb = Tlb::new(&TlbConfig::none()).unwrap();
        assert!(tlb.levels_for(AccessKind::Fetch).is_empty());
        assert!(tlb.levels_for(AccessKind::Write).is_empty());
        assert!(tlb.probe(0, 0, 0).is_none());
        assert_eq!(tlb.fill(0, page(1)), None);
        assert_eq!(tlb.entries(0).count(), 0);
    }

    #[test]
    fn repeat_hits_keep_lru_order_after_fills() {
        // One set of 2 ways. The repeat hit on 1 comes after a fill made 2
        // the most recent, so it must renew 1 and leave 2 the victim.
        let mut tlb = one_level("2:2:lru");
        assert_eq!(
            run(&mut tlb, &[1, 1, 2, 1, 3]),
            [Miss, Hit, Miss, Hit, Evict(2)]
        );
        // The same through the tree: one node, pointing away from the way
        // used last.
        let mut tlb = one_level("2:2:plru");
        assert_eq!(
            run(&mut tlb, &[1, 1, 2, 1, 3]),
            [Miss, Hit, Miss, Hit, Evict(2)]
        );
    }

    #[test]
    fn repeat_hits_after_a_hit_at_another_size() {
        // One set of 2 ways holding 4 KiB and 2 MiB pages.
        let mut tlb = one_level("2:2:lru@4K+2M");
        let huge = TlbEntry {
            vpn: 1,
            page_shift: 21,
            frame_base: 0x4000_0000,
            ..page(0)
        };
        tlb.fill(0, page(0x1000)).unwrap();
        tlb.fill(0, huge).unwrap();
        assert!(tlb.probe(0, 0x100_0000, 0).is_some()); // 4K page 0x1000
        assert!(tlb.probe(0, 0x20_0000, 0).is_some()); // the 2 MiB page
        assert!(tlb.probe(0, 0x100_0000, 0).is_some()); // 4K again: newest
        let victim = tlb.fill(0, page(0x2000)).unwrap().evicted.unwrap();
        assert_eq!(victim, huge);
    }
}
