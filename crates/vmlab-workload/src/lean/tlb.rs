//! The lean engine's TLB ([`LeanTlb`]): for each configured level, the one
//! array that holds base pages, with LRU replacement. Trace mode maps base
//! pages only, so the arrays for other page sizes stay empty and change
//! no count; the layered TLB ([`vmlab_hw::tlb::Tlb`]) is the reference
//! this one must equal, hit for hit and victim for victim:
//! - a probe goes through the levels of the access's path in order; a hit
//!   renews the way's stamp, and a hit below the first level refills the
//!   levels probed before it;
//! - a write through an entry cached clean invalidates it and goes to the
//!   tables (the walker must set the dirty flag), probing no further;
//! - a fill overwrites an entry for the same page (unless the caller has
//!   just missed in the array), else takes the lowest empty way while the
//!   array is not full, else the way with the oldest stamp (the lowest on
//!   a tie).

use vmlab_hw::tlb::{TlbConfig, TlbReplacement};
use vmlab_hw::AccessKind;

/// A way's tag when empty; a valid tag is the page number plus one.
const EMPTY: u64 = 0;

/// One set-associative array of base-page entries.
#[derive(Clone, Debug)]
struct LeanArray {
    ways: usize,
    sets: u64,
    /// Whether `sets` is a power of two (the set is then a mask, not a
    /// remainder).
    pow2: bool,
    /// Per way (set-major): page number + 1, or [`EMPTY`].
    tags: Vec<u64>,
    /// Per way: the frame the entry maps.
    frames: Vec<u32>,
    /// Per way: whether the entry was cached with the page dirty.
    dirty: Vec<bool>,
    /// Per way: the LRU stamp of its last hit or fill.
    stamps: Vec<u64>,
    clock: u64,
    /// Valid entries.
    live: usize,
}

impl LeanArray {
    fn new(entries: usize, ways: usize) -> LeanArray {
        let sets = (entries / ways) as u64;
        LeanArray {
            ways,
            sets,
            pow2: sets.is_power_of_two(),
            tags: vec![EMPTY; entries],
            frames: vec![0; entries],
            dirty: vec![false; entries],
            stamps: vec![0; entries],
            clock: 0,
            live: 0,
        }
    }

    /// The first way of `vpn`'s set.
    #[inline(always)]
    fn base(&self, vpn: u64) -> usize {
        let set = if self.pow2 {
            vpn & (self.sets - 1)
        } else {
            vpn % self.sets
        };
        // Below the entry count, a usize.
        set as usize * self.ways
    }

    /// The way holding `vpn`, as an index into the per-way vectors.
    #[inline(always)]
    fn find(&self, vpn: u64) -> Option<usize> {
        let base = self.base(vpn);
        let tag = vpn + 1;
        self.tags[base..base + self.ways]
            .iter()
            .position(|&t| t == tag)
            .map(|way| base + way)
    }

    #[inline(always)]
    fn stamp(&mut self, at: usize) {
        self.clock += 1;
        self.stamps[at] = self.clock;
    }

    /// Empties way `at`; its stamp goes to 0, older than any entry's, so
    /// the next fill of its set takes it.
    #[inline(always)]
    fn invalidate(&mut self, at: usize) {
        self.tags[at] = EMPTY;
        self.stamps[at] = 0;
        self.live -= 1;
    }

    /// Installs `vpn → frame`; `after_miss`: the caller has just probed
    /// this array for `vpn` and found nothing.
    #[inline(always)]
    fn fill(&mut self, vpn: u64, frame: u32, dirty: bool, after_miss: bool) {
        let base = self.base(vpn);
        let set = base..base + self.ways;
        let same = if after_miss { None } else { self.find(vpn) };
        let at = same.unwrap_or_else(|| {
            // An empty way's stamp is 0 and an entry's is at least 1, so
            // the oldest stamp (the lowest way on a tie) is the lowest
            // empty way if there is one, else the least recently used.
            let mut way = 0;
            let mut oldest = u64::MAX;
            for (w, &stamp) in self.stamps[set].iter().enumerate() {
                if stamp < oldest {
                    oldest = stamp;
                    way = w;
                }
            }
            if self.tags[base + way] == EMPTY {
                self.live += 1;
            }
            base + way
        });
        self.tags[at] = vpn + 1;
        self.frames[at] = frame;
        self.dirty[at] = dirty;
        self.stamp(at);
    }
}

/// What a probe of the TLB found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    /// A hit: the page's frame, and whether the entry is dirty.
    Hit(u32, bool),
    /// A miss: the tables must be walked, and fills at depths below
    /// `known_absent` need not look for an entry of the page first.
    Miss { known_absent: usize },
}

/// The levels' base-page arrays and the two probe paths.
#[derive(Clone, Debug)]
pub(super) struct LeanTlb {
    arrays: Vec<LeanArray>,
    /// Arrays probed by loads and stores, in order.
    data_path: Vec<usize>,
    /// Arrays probed by instruction fetches, in order.
    fetch_path: Vec<usize>,
    /// Whether both paths start at the same array.
    shared_first: bool,
}

impl LeanTlb {
    /// The TLB `config` describes, probed along the layered TLB's paths
    /// (`data_path`, `fetch_path`: level indices in probe order) for pages
    /// of `page_shift`; `None` when a level's base-page array replaces by
    /// anything but LRU (the layered TLB alone models those).
    pub(super) fn new(
        config: &TlbConfig,
        page_shift: u8,
        data_path: &[usize],
        fetch_path: &[usize],
    ) -> Option<LeanTlb> {
        let mut arrays = Vec::new();
        // Per level: its base-page array's index in `arrays`, if any.
        let mut array_of = Vec::new();
        for level in &config.levels {
            let array = level
                .arrays
                .iter()
                .find(|a| a.page_shifts.contains(&page_shift));
            array_of.push(match array {
                Some(a) if a.replacement == TlbReplacement::Lru => {
                    arrays.push(LeanArray::new(a.entries, a.ways));
                    Some(arrays.len() - 1)
                }
                Some(_) => return None,
                // A level with no base-page array never hits nor fills.
                None => None,
            });
        }
        let path = |levels: &[usize]| -> Vec<usize> {
            levels
                .iter()
                .filter_map(|&l| array_of.get(l).copied().flatten())
                .collect()
        };
        let (data_path, fetch_path) = (path(data_path), path(fetch_path));
        Some(LeanTlb {
            shared_first: data_path.first() == fetch_path.first(),
            data_path,
            fetch_path,
            arrays,
        })
    }

    /// Whether loads and stores and instruction fetches first probe the
    /// same array (no separate first levels): an access of one then
    /// changes what the other finds first.
    #[inline(always)]
    pub(super) fn shared_first_level(&self) -> bool {
        self.shared_first
    }

    /// Whether there is a TLB at all (with none, every access walks).
    #[inline(always)]
    pub(super) fn caches(&self) -> bool {
        !self.arrays.is_empty()
    }

    #[inline(always)]
    fn path(&self, kind: AccessKind) -> &[usize] {
        match kind {
            AccessKind::Fetch => &self.fetch_path,
            AccessKind::Read | AccessKind::Write => &self.data_path,
        }
    }

    /// A probe's miss on `kind`'s path that probed nothing: where the TLB
    /// holds no entry for the page (it was just not present, or its entry
    /// just shot down), a probe would miss and change nothing.
    #[inline(always)]
    pub(super) fn known_miss(&self, kind: AccessKind) -> Probe {
        Probe::Miss {
            known_absent: self.path(kind).len(),
        }
    }

    /// Probes for page `vpn` on `kind`'s path.
    #[inline(always)]
    pub(super) fn probe(&mut self, vpn: u64, kind: AccessKind) -> Probe {
        let path_len = self.path(kind).len();
        for depth in 0..path_len {
            let a = self.path(kind)[depth];
            let array = &mut self.arrays[a];
            let Some(at) = array.find(vpn) else { continue };
            if kind == AccessKind::Write && !array.dirty[at] {
                array.invalidate(at);
                return Probe::Miss {
                    known_absent: depth + 1,
                };
            }
            array.stamp(at);
            let (frame, dirty) = (array.frames[at], array.dirty[at]);
            for d in 0..depth {
                let upper = self.path(kind)[d];
                self.arrays[upper].fill(vpn, frame, dirty, true);
            }
            return Probe::Hit(frame, dirty);
        }
        Probe::Miss {
            known_absent: path_len,
        }
    }

    /// Fills every array on `kind`'s path after a walk.
    #[inline(always)]
    pub(super) fn fill(
        &mut self,
        vpn: u64,
        kind: AccessKind,
        frame: u32,
        dirty: bool,
        known_absent: usize,
    ) {
        for depth in 0..self.path(kind).len() {
            let a = self.path(kind)[depth];
            self.arrays[a].fill(vpn, frame, dirty, depth < known_absent);
        }
    }

    /// Drops every entry for page `vpn` (a shootdown).
    pub(super) fn flush(&mut self, vpn: u64) {
        // An empty array (the instruction side's, in a trace of data)
        // answers without a search.
        for array in self.arrays.iter_mut().filter(|a| a.live > 0) {
            if let Some(at) = array.find(vpn) {
                array.invalidate(at);
            }
        }
    }
}
