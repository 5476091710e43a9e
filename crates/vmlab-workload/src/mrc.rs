//! Miss-ratio curves: LRU's miss ratio at every memory size from one pass
//! over a stream of page references, exactly ([`LruMrc`]) or from a
//! spatially hashed sample ([`Shards`]).
//!
//! LRU is a stack algorithm (Mattson, Gecsei, Slutz and Traiger, "Evaluation
//! techniques for storage hierarchies", IBM Systems Journal 9(2), 1970): the
//! pages resident in `c` frames are always the `c` most recently used, so a
//! reference hits with `c` frames exactly when its *stack distance* (1 plus
//! the number of distinct pages referenced since the previous reference to
//! the same page) is at most `c`. One histogram of stack distances gives
//! the fault count at every size at once; a first reference is a cold miss
//! at every size.
//!
//! Pages are `u64` page numbers: the caller divides addresses by whatever
//! page size it studies, so one pass serves any page size.
//!
//! [`StackDistances`] finds each distance in O(log n) with a Fenwick tree
//! over virtual time; its documentation says how memory stays bounded.
//! Each page's latest reference is found in a [`PageIndex`] (a two-level table
//! for pages in runs, a hash map for scattered ones).
//! [`Shards`] feeds it only the pages whose hash falls below a threshold
//! (Waldspurger, Park, Garthwaite and Ahmad, "Efficient MRC Construction
//! with SHARDS", FAST 2015), so its memory is a fixed fraction of the
//! distinct pages (fixed rate) or a fixed number of them (fixed size), and
//! [`mean_absolute_error`] measures what the sampling cost against the
//! exact curve.

use std::collections::BinaryHeap;
use std::fmt;
use vmlab_kernel::policy::page_index::PageIndex;

/// References whose page lookups [`LruMrc::access_all`] issues together.
const BATCH: usize = 64;

/// A first reference among a batch's previous slots.
const FIRST: u32 = u32::MAX;

/// Stack distances of a reference stream, one reference at a time.
///
/// Every reference takes the next slot of virtual time, and each page
/// remembers the slot of its latest reference. When a page is referenced
/// again, its old slot becomes a *hole*. The pages referenced since its
/// previous reference at slot `p` are then exactly the non-hole slots in
/// `(p, now)`, so the distance is `1 + (now - 1 - p) - holes in (p, now)`.
/// Only holes are recorded: a first reference records nothing, a repeat
/// counts the holes up to `p` and adds one.
///
/// Holes are bits, 64 slots to a word, with a Fenwick tree over the words
/// counting their holes: counting is one popcount plus O(log(slots / 64))
/// additions, and the whole structure is 3/16 of a byte per slot, so for
/// a million pages it takes under a megabyte and stays in the L2 cache.
///
/// Memory stays proportional to the distinct pages however long the trace:
/// when the slots run out, the live slots (one per page) are renumbered
/// `0..pages` in their order, which keeps every distance, and the holes
/// are forgotten. If the pages then fill more than a quarter of the slots,
/// the slots grow to four times the pages first, so each renumbering
/// (O(slots / 64 + pages)) is paid for by at least `3 × slots / 4`
/// references: amortized O(1) per reference, and at most
/// `max(128, 4 × pages + 63)` slots, and never more than 2³¹ (where a
/// quarter would not fit `u32` slot numbers, half still does). (Half, as
/// first written, renumbered a million pages every million references: 7%
/// of a long pass.)
///
/// A lookup in a map of a million pages misses the cache, and the tree's
/// work after it fills the processor's window of instructions in flight,
/// so one reference at a time the misses come one after another. A batch
/// does all its lookups first, in a tight loop whose misses overlap, then
/// all its distances, in order (each slot's hole is added only after the
/// distances of the references before it); that is what makes
/// [`LruMrc::access_all`] the fast path.
///
/// Supports fewer than 2³⁰ distinct pages at once (slot numbers are `u32`;
/// the page map alone would need 16 GiB before that).
#[derive(Clone, Debug)]
pub struct StackDistances {
    /// Page → slot of its latest reference: 4 bytes a page when pages
    /// come in runs (see [`PageIndex`]), which a batch loads for all its
    /// pages first.
    last: PageIndex,
    /// Bit `s % 64` of word `s / 64` is set when slot `s` is a hole.
    holes: Vec<u64>,
    /// Fenwick tree of each word's holes; index `w + 1` covers word `w`,
    /// index 0 is unused.
    tree: Vec<u32>,
    /// The slot the next reference takes.
    now: u32,
    /// Holes among slots `0..now`.
    hole_count: u32,
}

impl Default for StackDistances {
    fn default() -> Self {
        StackDistances::with_capacity(0)
    }
}

impl StackDistances {
    /// Room for `pages` distinct pages before anything grows.
    pub fn with_capacity(pages: usize) -> Self {
        let last = PageIndex::with_capacity(pages);
        // At least two batches of slots, so that a renumbering always
        // leaves room for a batch.
        let words = pages
            .saturating_mul(4)
            .div_ceil(64)
            .clamp(2 * BATCH / 64, 1 << 25);
        StackDistances {
            last,
            holes: vec![0; words],
            tree: vec![0; words + 1],
            now: 0,
            hole_count: 0,
        }
    }

    /// Distinct pages tracked now.
    pub fn distinct(&self) -> usize {
        self.last.len()
    }

    /// One reference to `page`: its stack distance (1 for a repeat of the
    /// previous reference), or `None` on its first reference.
    #[inline]
    pub fn access(&mut self, page: u64) -> Option<u64> {
        if self.now as usize == self.holes.len() * 64 {
            self.compact();
        }
        let now = self.now;
        self.now += 1;
        let prev = self.last.insert(page, now)?;
        Some(u64::from(self.distance(prev, now)))
    }

    /// The distances of `pages` (at most [`BATCH`]) into `distances`, 0
    /// for a first reference.
    #[inline]
    fn access_batch(&mut self, pages: &[u64], distances: &mut [u32; BATCH]) {
        if self.now as usize + pages.len() > self.holes.len() * 64 {
            self.compact();
        }
        let start = self.now;
        let mut prevs = [FIRST; BATCH];
        // Every page's slot first: the batch's cache misses overlap.
        for &page in pages {
            self.last.preload(page);
        }
        for ((&page, prev), now) in pages.iter().zip(&mut prevs).zip(start..) {
            *prev = self.last.insert(page, now).unwrap_or(FIRST);
        }
        self.now += pages.len() as u32;
        for ((&prev, distance), now) in prevs[..pages.len()].iter().zip(distances).zip(start..) {
            *distance = if prev == FIRST {
                0
            } else {
                self.distance(prev, now)
            };
        }
    }

    /// The distance of the reference at slot `now` to a page last
    /// referenced at `prev`, which becomes a hole.
    #[inline]
    fn distance(&mut self, prev: u32, now: u32) -> u32 {
        let holes_after = self.hole_count - self.holes_through(prev);
        self.add_hole(prev);
        now - prev - holes_after
    }

    /// Stops tracking `page`, as if it had never been referenced: later
    /// distances no longer count it, and its next reference is a first
    /// one. SHARDS's fixed-size variant uses this to drop sampled pages.
    pub fn forget(&mut self, page: u64) {
        if let Some(prev) = self.last.remove(page) {
            self.add_hole(prev);
        }
    }

    /// Holes in slots `0..=slot`.
    #[inline]
    fn holes_through(&self, slot: u32) -> u32 {
        let (word, bit) = (slot as usize / 64, slot % 64);
        let mut sum = (self.holes[word] & (u64::MAX >> (63 - bit))).count_ones();
        // The words before `word`.
        let mut i = word;
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    /// Marks `slot` a hole.
    #[inline]
    fn add_hole(&mut self, slot: u32) {
        let word = slot as usize / 64;
        self.holes[word] |= 1 << (slot % 64);
        self.hole_count += 1;
        let mut i = word + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Renumbers the live slots `0..pages`, keeping their order, and
    /// forgets the holes (growing the slots to four times the pages if
    /// these would fill more than a quarter of them).
    #[cold]
    fn compact(&mut self) {
        // The tree's first entries become each word's first new slot
        // number: the live slots before it (slots from `now` on are
        // unused, not live).
        let mut live = 0;
        for (word, &holes) in self.holes.iter().enumerate() {
            self.tree[word] = live;
            let used = (self.now as usize).saturating_sub(word * 64).min(64);
            let in_use = if used == 64 {
                u64::MAX
            } else {
                (1 << used) - 1
            };
            live += (!holes & in_use).count_ones();
        }
        let (holes, tree) = (&self.holes, &self.tree);
        self.last.renumber(|slot| {
            let (word, bit) = (slot as usize / 64, slot % 64);
            let live_below = !holes[word] & ((1 << bit) - 1);
            tree[word] + live_below.count_ones()
        });
        assert!(
            live < 1 << 30,
            "stack distances support fewer than 2^30 distinct pages"
        );
        let words = self
            .holes
            .len()
            .max((4 * live as usize).min(1 << 31).div_ceil(64));
        self.holes.clear();
        self.holes.resize(words, 0);
        self.tree.clear();
        self.tree.resize(words + 1, 0);
        self.now = live;
        self.hole_count = 0;
    }
}

/// The exact LRU miss-ratio curve of a reference stream, built in one pass.
#[derive(Clone, Debug, Default)]
pub struct LruMrc {
    stack: StackDistances,
    /// References at each stack distance; index 0 unused. One entry per
    /// distinct page, since no distance exceeds the pages seen.
    ///
    /// Counts are kept modulo 2³², with `wrapped` saying how often each
    /// wrapped: the histogram is read at a random distance for most
    /// references to a large footprint, and at 4 bytes an entry it takes
    /// half the cache lines of `u64` counts.
    histogram: Vec<u32>,
    /// A distance each time its count wrapped to 0 (adds 2³² to it).
    wrapped: Vec<u32>,
    cold: u64,
    references: u64,
}

impl LruMrc {
    /// An empty pass.
    pub fn new() -> Self {
        LruMrc::with_capacity(0)
    }

    /// An empty pass with room for `pages` distinct pages, so that nothing
    /// allocates until more are seen.
    pub fn with_capacity(pages: usize) -> Self {
        let mut histogram = Vec::with_capacity(pages + 1);
        histogram.push(0);
        LruMrc {
            stack: StackDistances::with_capacity(pages),
            histogram,
            wrapped: Vec::new(),
            cold: 0,
            references: 0,
        }
    }

    /// One reference to `page`.
    #[inline]
    pub fn access(&mut self, page: u64) {
        self.references += 1;
        let distance = self.stack.access(page).map_or(0, |d| d as u32);
        self.record(distance);
    }

    /// References to each of `pages` in order: the same as [`access`] on
    /// each, several times faster on a large footprint because the page
    /// lookups of a batch overlap (see [`StackDistances`]).
    ///
    /// [`access`]: LruMrc::access
    pub fn access_all(&mut self, pages: &[u64]) {
        let mut distances = [0; BATCH];
        for batch in pages.chunks(BATCH) {
            self.stack.access_batch(batch, &mut distances);
            for &distance in &distances[..batch.len()] {
                self.record(distance);
            }
        }
        self.references += pages.len() as u64;
    }

    /// One more reference at `distance` (0: a first reference, a cold
    /// miss, which adds the histogram entry of one more distinct page).
    #[inline]
    fn record(&mut self, distance: u32) {
        if distance == 0 {
            self.cold += 1;
            self.histogram.push(0);
            return;
        }
        let count = &mut self.histogram[distance as usize];
        *count = count.wrapping_add(1);
        if *count == 0 {
            self.wrapped.push(distance);
        }
    }

    /// The curve of the references so far.
    pub fn curve(&self) -> MissRatioCurve {
        let mut histogram: Vec<u64> = self.histogram.iter().map(|&c| u64::from(c)).collect();
        for &distance in &self.wrapped {
            histogram[distance as usize] += 1 << 32;
        }
        MissRatioCurve::new(histogram, self.cold, self.references)
    }
}

/// LRU's misses at every memory size, from a histogram of stack distances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissRatioCurve {
    references: u64,
    cold: u64,
    histogram: Vec<u64>,
    /// Misses with `f` frames at index `f`, for `f` in `0..=distinct`.
    misses: Vec<u64>,
}

impl MissRatioCurve {
    /// The curve of `pages`, in one pass.
    pub fn exact(pages: &[u64]) -> Self {
        let mut mrc = LruMrc::new();
        mrc.access_all(pages);
        mrc.curve()
    }

    fn new(histogram: Vec<u64>, cold: u64, references: u64) -> Self {
        let mut misses = Vec::with_capacity(histogram.len());
        let mut left = references;
        misses.push(left);
        for &hits in &histogram[1..] {
            left -= hits;
            misses.push(left);
        }
        MissRatioCurve {
            references,
            cold,
            histogram,
            misses,
        }
    }

    /// References in the stream.
    pub fn references(&self) -> u64 {
        self.references
    }

    /// First references: misses at every size.
    pub fn cold_misses(&self) -> u64 {
        self.cold
    }

    /// Distinct pages: the size from which only cold misses remain.
    pub fn distinct_pages(&self) -> usize {
        self.histogram.len() - 1
    }

    /// References at each stack distance (index 0 is always 0).
    pub fn histogram(&self) -> &[u64] {
        &self.histogram
    }

    /// LRU's misses with `frames` frames.
    pub fn misses(&self, frames: usize) -> u64 {
        self.misses[frames.min(self.misses.len() - 1)]
    }

    /// LRU's misses per reference with `frames` frames (0 for an empty
    /// stream).
    pub fn miss_ratio(&self, frames: usize) -> f64 {
        if self.references == 0 {
            0.0
        } else {
            self.misses(frames) as f64 / self.references as f64
        }
    }

    /// `(frames, miss ratio)` at each of `sizes`, for plotting.
    pub fn points(&self, sizes: &[usize]) -> Vec<(usize, f64)> {
        sizes.iter().map(|&f| (f, self.miss_ratio(f))).collect()
    }
}

/// A SHARDS configuration that cannot work.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardsError(pub String);

impl fmt::Display for ShardsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShardsError {}

/// 2⁶⁴ as a float: the modulus `P` of the sampling condition.
const P: f64 = 18_446_744_073_709_551_616.0;

/// SHARDS: an approximate LRU miss-ratio curve from the references to a
/// spatially hashed sample of the pages (Waldspurger et al., FAST 2015).
///
/// A page is sampled when `hash(page) mod P < T` (the paper's section
/// "SHARDS Sampling Algorithm"; here `P = 2⁶⁴` and the hash is the
/// SplitMix64 finalizer), so every reference to a sampled page is seen and
/// its distance among sampled pages is exact; with sampling rate
/// `R = T / P`, that distance scaled by `1 / R` (rounded to whole frames)
/// estimates the true one, and each sampled reference stands for `1 / R`
/// references. The two variants of that section:
///
/// - Fixed rate ([`Shards::fixed_rate`]): `R` never changes; memory is
///   about `R ×` the distinct pages.
/// - Fixed size ([`Shards::fixed_size`]): at most `s_max` pages are
///   tracked; when one more is sampled, the pages with the largest hash are
///   dropped and `T` is lowered to that hash, so the rate falls as the
///   trace reveals more pages. The paper rescales the histogram by
///   `T_new / T_old` at each lowering; weighting each reference by `1 / R`
///   at the time it is seen gives the same ratios without the rescan.
///
/// Both correct the first histogram bucket at the end (the paper's
/// SHARDS_adj, in its evaluation section: a sample holding the wrong share
/// of hot pages is what makes the sampled references `N_s` stray from
/// their expectation `N·R`, so the difference is added to the first
/// bucket). The paper states it for fixed rate; in whole-trace units it is
/// `N − Σ 1/R` over the sampled references, which applies unchanged when
/// `R` varies, so the fixed-size variant gets it too. On Zipf(1.0) over a
/// million pages (10 M references) it takes the mean absolute error from
/// 0.068 to 0.0009 at rate 0.01, and from 0.040 to 0.0005 with 8192 pages
/// (`benches/mrc.rs`).
#[derive(Clone, Debug)]
pub struct Shards {
    stack: StackDistances,
    /// Sampled when `hash <= t_max` (`T - 1`, so that `R = 1` fits).
    t_max: u64,
    /// `1 / R`: the weight of a sampled reference and the distance scale.
    scale: f64,
    fixed_size: Option<FixedSize>,
    /// Estimated references at each (scaled) stack distance; index 0
    /// unused.
    histogram: Vec<f64>,
    cold: f64,
    /// Sum of the weights of the sampled references.
    weight: f64,
    sampled: u64,
    references: u64,
}

/// The fixed-size variant's bound and the tracked pages by hash.
#[derive(Clone, Debug)]
struct FixedSize {
    s_max: usize,
    /// `(hash, page)` of every tracked page, largest hash on top.
    by_hash: BinaryHeap<(u64, u64)>,
}

impl Shards {
    /// Fixed-rate SHARDS sampling a fraction `rate` (in `(0, 1]`) of the
    /// pages.
    pub fn fixed_rate(rate: f64) -> Result<Self, ShardsError> {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(ShardsError(format!(
                "a SHARDS sampling rate must be in (0, 1], not {rate}"
            )));
        }
        // The cast saturates at u64::MAX for rate 1: every page sampled.
        let t_max = ((rate * P) as u64).saturating_sub(u64::from(rate < 1.0));
        Ok(Shards::new(t_max, None))
    }

    /// Fixed-size SHARDS tracking at most `s_max` (at least 1) pages,
    /// starting from rate 1.
    pub fn fixed_size(s_max: usize) -> Result<Self, ShardsError> {
        if s_max == 0 {
            return Err(ShardsError(
                "fixed-size SHARDS must track at least one page".into(),
            ));
        }
        let mut by_hash = BinaryHeap::new();
        by_hash.reserve(s_max + 1);
        Ok(Shards::new(u64::MAX, Some(FixedSize { s_max, by_hash })))
    }

    fn new(t_max: u64, fixed_size: Option<FixedSize>) -> Self {
        let pages = fixed_size.as_ref().map_or(0, |f| f.s_max + 1);
        let mut shards = Shards {
            stack: StackDistances::with_capacity(pages),
            t_max,
            scale: 1.0,
            fixed_size,
            // Index 1 exists from the start for SHARDS_adj's correction.
            histogram: vec![0.0; 2],
            cold: 0.0,
            weight: 0.0,
            sampled: 0,
            references: 0,
        };
        shards.set_threshold(t_max);
        shards
    }

    fn set_threshold(&mut self, t_max: u64) {
        self.t_max = t_max;
        self.scale = P / (t_max as f64 + 1.0);
    }

    /// The sampling rate now (falls over time in the fixed-size variant).
    pub fn rate(&self) -> f64 {
        1.0 / self.scale
    }

    /// Pages tracked now.
    pub fn tracked(&self) -> usize {
        self.stack.distinct()
    }

    /// One reference to `page`.
    #[inline]
    pub fn access(&mut self, page: u64) {
        self.references += 1;
        let hash = spatial_hash(page);
        if hash > self.t_max {
            return;
        }
        self.sampled += 1;
        self.weight += self.scale;
        match self.stack.access(page) {
            Some(distance) => {
                let scaled = (distance as f64 * self.scale).round() as usize;
                if scaled >= self.histogram.len() {
                    self.histogram.resize(scaled + 1, 0.0);
                }
                self.histogram[scaled] += self.scale;
            }
            None => {
                self.cold += self.scale;
                if let Some(fixed) = &mut self.fixed_size {
                    fixed.by_hash.push((hash, page));
                    if self.stack.distinct() > fixed.s_max {
                        self.shrink();
                    }
                }
            }
        }
    }

    /// Drops the tracked pages with the largest hash and lowers the
    /// threshold below it.
    #[cold]
    fn shrink(&mut self) {
        let Some(fixed) = &mut self.fixed_size else {
            return;
        };
        let Some(&(top, _)) = fixed.by_hash.peek() else {
            return;
        };
        while let Some(&(hash, page)) = fixed.by_hash.peek() {
            if hash < top {
                break;
            }
            fixed.by_hash.pop();
            self.stack.forget(page);
        }
        self.set_threshold(top.saturating_sub(1));
    }

    /// The estimated curve of the references so far.
    pub fn curve(&self) -> SampledCurve {
        let mut histogram = self.histogram.clone();
        let mut total = self.weight;
        if self.sampled > 0 {
            // SHARDS_adj in whole-trace references: N − Σ 1/R more hits in
            // the first bucket, which makes the total N.
            let n = self.references as f64;
            histogram[1] += n - self.weight;
            total = n;
        }
        let mut misses = Vec::with_capacity(histogram.len());
        let mut left = total;
        misses.push(left);
        for &hits in &histogram[1..] {
            left -= hits;
            misses.push(left);
        }
        SampledCurve {
            total,
            misses,
            rate: self.rate(),
        }
    }
}

/// A good 64-bit mix (the SplitMix64 finalizer), so that sampling is
/// uniform whatever the structure of the page numbers.
#[inline]
fn spatial_hash(page: u64) -> u64 {
    let mut z = page.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An estimated LRU miss-ratio curve, from [`Shards`].
#[derive(Clone, Debug, PartialEq)]
pub struct SampledCurve {
    /// Estimated references in the stream.
    total: f64,
    /// Estimated misses with `f` frames at index `f`.
    misses: Vec<f64>,
    rate: f64,
}

impl SampledCurve {
    /// The sampling rate at the end of the pass.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Estimated misses per reference with `frames` frames, within
    /// `[0, 1]` (the bias correction can push a raw estimate past either
    /// end at tiny sizes).
    pub fn miss_ratio(&self, frames: usize) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let misses = self.misses[frames.min(self.misses.len() - 1)];
        (misses / self.total).clamp(0.0, 1.0)
    }

    /// `(frames, estimated miss ratio)` at each of `sizes`, for plotting.
    pub fn points(&self, sizes: &[usize]) -> Vec<(usize, f64)> {
        sizes.iter().map(|&f| (f, self.miss_ratio(f))).collect()
    }
}

/// The mean, over `sizes`, of the absolute difference between the exact
/// and the estimated miss ratio (the paper's accuracy measure; 0 for no
/// sizes).
pub fn mean_absolute_error(exact: &MissRatioCurve, approx: &SampledCurve, sizes: &[usize]) -> f64 {
    if sizes.is_empty() {
        return 0.0;
    }
    let sum: f64 = sizes
        .iter()
        .map(|&f| (exact.miss_ratio(f) - approx.miss_ratio(f)).abs())
        .sum();
    sum / sizes.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A count past `u32::MAX` comes out whole: one page referenced over
    /// and over, its count set just below the wrap as 2³² references
    /// would leave it.
    #[test]
    fn histogram_counts_past_u32_come_out_whole() {
        let mut mrc = LruMrc::new();
        mrc.access_all(&[7, 7]);
        mrc.histogram[1] = u32::MAX;
        mrc.references = 1 << 32;
        mrc.access_all(&[7, 7, 7]);
        let curve = mrc.curve();
        assert_eq!(curve.histogram(), &[0, (1 << 32) + 2]);
        assert_eq!(curve.misses(1), 1);
    }
}
