//! The replacement-only model: which pages are resident in a fixed number
//! of frames, and nothing else (no page tables, no TLB, no data). Each
//! reference is a hit or a fault; a fault with no free frame asks the
//! policy for a victim. Referenced and dirty bits are kept per frame, as the
//! hardware would set them, so bit-driven policies behave as in the full
//! model. This is what vmsim-style course simulators and cache simulators
//! count, and what the policy tests run.

use super::ghost::KeyMap;
use super::page_index::PageIndex;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};
use serde::Serialize;
use std::collections::TryReserveError;

/// What the simulation counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// References presented.
    pub references: u64,
    /// References to resident pages.
    pub hits: u64,
    /// References to non-resident pages.
    pub faults: u64,
    /// Pages evicted to make room.
    pub evictions: u64,
    /// Dirty pages written back (on eviction or scheduled by the policy).
    pub write_backs: u64,
}

impl SimStats {
    /// Faults per reference.
    pub fn miss_ratio(&self) -> f64 {
        if self.references == 0 {
            0.0
        } else {
            self.faults as f64 / self.references as f64
        }
    }
}

/// Per-frame hardware bits and the clock as plain vectors, lent to the
/// policy: the replacement model's hardware (and a test's).
pub struct FrameBits {
    /// Per frame: referenced since the policy last cleared it.
    pub referenced: Vec<bool>,
    /// Per frame: written since last written back.
    pub dirty: Vec<bool>,
    /// The time the policy reads (references so far).
    pub now: u64,
    /// Dirty frames the policy wrote back.
    pub write_backs: u64,
}

impl FrameBits {
    /// All clear, for `capacity` frames, at time 0.
    pub fn new(capacity: usize) -> FrameBits {
        FrameBits {
            referenced: vec![false; capacity],
            dirty: vec![false; capacity],
            now: 0,
            write_backs: 0,
        }
    }
}

impl ReferenceBits for FrameBits {
    fn referenced(&mut self, frame: FrameId) -> bool {
        self.referenced[frame as usize]
    }
    fn clear_referenced(&mut self, frame: FrameId) {
        self.referenced[frame as usize] = false;
    }
    fn dirty(&mut self, frame: FrameId) -> bool {
        self.dirty[frame as usize]
    }
    fn write_back(&mut self, frame: FrameId) {
        if std::mem::replace(&mut self.dirty[frame as usize], false) {
            self.write_backs += 1;
        }
    }
    fn now(&self) -> u64 {
        self.now
    }
}

/// A policy driving `capacity` frames over a stream of page references.
pub struct ReplacementSim {
    policy: Box<dyn ReplacementPolicy>,
    touch: bool,
    tick_interval: u64,
    /// The reference before which the next tick falls (`u64::MAX`: ticks
    /// are off); compared rather than `now % tick_interval`, a division
    /// on every reference.
    next_tick: u64,
    /// Page → its frame: 4 bytes a page for pages in runs, so the pages
    /// a stream keeps resident stay in few cache lines (see [`PageIndex`]).
    frame_of: PageIndex,
    page_in: Vec<PageKey>,
    free: Vec<FrameId>,
    bits: FrameBits,
    stats: SimStats,
    /// The page referenced last and its frame, while another reference to
    /// it would be a hit with nothing for the policy to do (no touch, or a
    /// touch that repeats the last one): a run of references to one page
    /// skips the residency look-up.
    repeat: Option<(PageKey, FrameId)>,
    /// Whether a touch repeated at once changes nothing for this policy
    /// (or it takes no touches).
    repeat_is_free: bool,
    /// The frame the policy expects to evict next, noted after an
    /// eviction: the next look-up starts loading the index slot its page
    /// will be removed from.
    victim_hint: Option<FrameId>,
    /// How many evictions ahead victims are guessed (the policy's
    /// [`victims_ahead`](ReplacementPolicy::victims_ahead)). With 1 a
    /// removal's index slot starts loading an eviction (a few references)
    /// before it is needed, rather than at the reference after the last
    /// eviction, which was too late: FIFO on Zipf 5 M took 0.92 of the
    /// time. With 2, two evictions before: the ghost index slot S3-FIFO's
    /// victim is pushed to still missed the cache one eviction after its
    /// prefetch (Zipf 5 M, paired against 1: S3-FIFO 0.93, FIFO 0.88, ARC
    /// 0.97 of the time; LRU 1.04).
    victims_ahead: usize,
    /// The victim guessed `victims_ahead` evictions ahead at the last
    /// eviction: at this one it is the guess one eviction nearer, taken
    /// as it is rather than asked of the policy again (a second scan of
    /// its queue on every eviction).
    farthest_guess: Option<FrameId>,
}

impl ReplacementSim {
    /// `policy` over `capacity` empty frames, ticking every
    /// `tick_interval` references (0: never).
    pub fn new(policy: Box<dyn ReplacementPolicy>, capacity: usize, tick_interval: u64) -> Self {
        ReplacementSim {
            touch: policy.wants_touch(),
            repeat_is_free: !policy.wants_touch() || policy.touches_collapse(),
            repeat: None,
            victims_ahead: policy.victims_ahead().max(1),
            victim_hint: None,
            farthest_guess: None,
            policy,
            tick_interval,
            next_tick: if tick_interval == 0 {
                u64::MAX
            } else {
                tick_interval
            },
            frame_of: PageIndex::with_capacity(capacity),
            page_in: vec![0; capacity],
            // Frames are handed out lowest first.
            free: (0..capacity as FrameId).rev().collect(),
            bits: FrameBits::new(capacity),
            stats: SimStats::default(),
        }
    }

    /// Starts loading the residency index slots that references to
    /// `pages`, coming next, will read, so that their cache misses are in
    /// flight together instead of each stalling its own reference, and
    /// what a miss on them would read of the policy's history. Changes no
    /// result.
    #[inline]
    pub fn preload(&self, pages: &[PageKey]) {
        for &page in pages {
            self.frame_of.preload(page);
        }
        self.policy.prefetch_pages(pages);
    }

    /// One reference to `page` (a store when `write`); true on a hit.
    /// A run's repeat is settled here, inline in the caller's loop; a
    /// tick and the look-up are out of line.
    #[inline(always)]
    pub fn access(&mut self, page: PageKey, write: bool) -> bool {
        let now = self.stats.references;
        self.bits.now = now;
        self.stats.references += 1;
        if now == self.next_tick {
            self.tick(now);
        }
        match self.repeat {
            Some((last, frame)) if last == page => {
                self.stats.hits += 1;
                self.reference(frame, write);
                true
            }
            _ => self.look_up(page, write),
        }
    }

    /// The tick before reference `now`, and the time of the next.
    #[cold]
    #[inline(never)]
    fn tick(&mut self, now: u64) {
        // Before references `tick_interval`, `2 * tick_interval`, ...
        self.next_tick = now.saturating_add(self.tick_interval);
        self.policy.tick(&mut self.bits);
    }

    /// [`ReplacementSim::access`] past its repeat: the residency look-up,
    /// then a hit or a fault.
    #[inline(never)]
    fn look_up(&mut self, page: PageKey, write: bool) -> bool {
        // The next eviction is a few references away: start loading the
        // slots its victim's page will be removed from (the residency
        // index, and the policy's ghosts, which remember it).
        if let Some(victim) = self.victim_hint.take() {
            self.preload_removal(victim);
        }
        if let Some(frame) = self.frame_of.get(page) {
            self.stats.hits += 1;
            if self.touch {
                self.policy.touch(frame, &mut self.bits);
            }
            self.reference(frame, write);
            self.repeat = self.repeat_is_free.then_some((page, frame));
            return true;
        }
        self.stats.faults += 1;
        // Until this page is in: a repeat after an insertion is the
        // page's first touch, which may matter (ARC's T1 to T2).
        self.repeat = None;
        let evicted = self.free.is_empty();
        let frame = match self.free.pop() {
            Some(frame) => frame,
            None => {
                let Some(victim) = self.policy.evict_for(page, &mut self.bits) else {
                    // A policy that tracks nothing while every frame is
                    // full cannot happen; count the reference as a miss.
                    return false;
                };
                self.stats.evictions += 1;
                if std::mem::replace(&mut self.bits.dirty[victim as usize], false) {
                    self.stats.write_backs += 1;
                }
                self.frame_of.remove(self.page_in[victim as usize]);
                victim
            }
        };
        self.page_in[frame as usize] = page;
        self.frame_of.insert(page, frame);
        self.bits.referenced[frame as usize] = false;
        self.policy.insert(frame, page, &mut self.bits);
        // Guessed with the new page in: S3-FIFO's small queue is one
        // short of its share before, and names no victim then.
        if evicted {
            self.expect_victims();
        }
        // The faulting access itself references the page once loaded.
        self.reference(frame, write);
        if !self.touch {
            self.repeat = Some((page, frame));
        }
        false
    }

    /// After an eviction, once the new page is in: starts loading what the
    /// evictions to come will read. Where the policy can tell the victims
    /// `victims_ahead` evictions ahead, the farthest one's policy state,
    /// page and dirty bit start loading now, and the index slot of the page
    /// of the one before it (the farthest guess of the last eviction, whose
    /// page was loaded then): each removal then finds its slot loaded
    /// evictions earlier. Otherwise the next victim's state and page load
    /// now, its slot at the next look-up.
    fn expect_victims(&mut self) {
        let referenced = Some(&self.bits.referenced[..]);
        match self.policy.upcoming_victim(referenced, self.victims_ahead) {
            Some(farthest) => {
                let before = self.farthest_guess.replace(farthest).or_else(|| {
                    self.policy
                        .upcoming_victim(referenced, self.victims_ahead - 1)
                });
                if let Some(before) = before {
                    self.preload_removal(before);
                }
                self.prefetch_victim(farthest);
            }
            None => {
                self.farthest_guess = None;
                self.victim_hint = self.policy.upcoming_victim(referenced, 0);
                if let Some(next) = self.victim_hint {
                    self.prefetch_victim(next);
                }
            }
        }
    }

    /// Starts loading the policy's state of `frame`, the page in it and
    /// its dirty bit, which evicting it reads.
    fn prefetch_victim(&self, frame: FrameId) {
        self.policy.prefetch(frame);
        if let Some(page) = self.page_in.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(page);
        }
        if let Some(dirty) = self.bits.dirty.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(dirty);
        }
    }

    /// Starts loading the slots that evicting `frame` will change: its
    /// page's residency index slot, and the policy's ghosts, which will
    /// remember the page.
    fn preload_removal(&self, frame: FrameId) {
        let gone = self.page_in[frame as usize];
        self.frame_of.preload(gone);
        self.policy.prefetch_pages(&[gone]);
    }

    #[inline]
    fn reference(&mut self, frame: FrameId, write: bool) {
        self.bits.referenced[frame as usize] = true;
        if write {
            self.bits.dirty[frame as usize] = true;
        }
    }

    /// Counts so far (write-backs include those the policy scheduled).
    pub fn stats(&self) -> SimStats {
        SimStats {
            write_backs: self.stats.write_backs + self.bits.write_backs,
            ..self.stats
        }
    }

    /// Pages resident now, in frame order.
    pub fn resident(&self) -> Vec<PageKey> {
        let mut frames: Vec<(FrameId, PageKey)> =
            self.frame_of.iter().map(|(p, f)| (f, p)).collect();
        frames.sort_unstable();
        frames.into_iter().map(|(_, p)| p).collect()
    }
}

/// For each reference `i` of `pages`, the index of the next reference to
/// the same page, or `u64::MAX` if there is none: OPT's knowledge of the
/// future ([`NextUses`] over the whole string).
pub fn next_uses(pages: &[PageKey]) -> Vec<u64> {
    let mut future = NextUses {
        next: Vec::with_capacity(pages.len()),
        latest: KeyMap::default(),
    };
    for &page in pages {
        future.record(page);
    }
    future.finish()
}

/// [`next_uses`] built one reference at a time, in one forward pass: each
/// reference's next use is filled in when that use comes. It holds 8 bytes
/// a reference and one entry per distinct page (its latest reference),
/// never the string itself, which a pre-pass over a long trace need not
/// keep; every allocation is fallible, so a string too long for the host
/// is an error rather than an abort.
#[derive(Debug, Default)]
pub struct NextUses {
    next: Vec<u64>,
    latest: KeyMap<u64>,
}

impl NextUses {
    /// Room for `references` more, ahead of a string of known length.
    pub fn reserve(&mut self, references: usize) -> Result<(), TryReserveError> {
        self.next.try_reserve_exact(references)
    }

    /// The next reference of the string, to `page`.
    pub fn push(&mut self, page: PageKey) -> Result<(), TryReserveError> {
        self.latest.try_reserve(1)?;
        self.next.try_reserve(1)?;
        self.record(page);
        Ok(())
    }

    /// [`NextUses::push`] where the room is there.
    fn record(&mut self, page: PageKey) {
        let now = self.next.len() as u64;
        self.next.push(u64::MAX);
        if let Some(earlier) = self.latest.insert(page, now) {
            self.next[earlier as usize] = now;
        }
    }

    /// References so far.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// The host bytes it holds, about: 8 a reference room is kept for, and
    /// the table of distinct pages (a key, a reference index and a control
    /// byte a slot, with the hash table's eighth of slots kept free).
    pub fn heap_bytes(&self) -> u64 {
        let word = size_of::<u64>() as u64;
        let slot = 2 * word + 1;
        self.next.capacity() as u64 * word + self.latest.capacity() as u64 * slot * 8 / 7
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// The next uses, one per reference.
    pub fn finish(self) -> Vec<u64> {
        let mut next = self.next;
        // Growth doubles the capacity; what the string did not use goes
        // back (in place).
        next.shrink_to_fit();
        next
    }
}

#[cfg(test)]
mod tests {
    use super::super::{by_name, PolicyParams};
    use super::*;

    /// The reference string of Belady, Nelson and Shedler (1969) as
    /// Silberschatz OSC 10e §10.4.2 prints it.
    const BELADY: [u64; 12] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

    /// A run on one page skips the residency look-up only where that
    /// changes nothing. ARC with 2 frames on 1, 1, 2, 3, 1: the second
    /// reference to 1 is its first touch (T1 to T2), so 3 replaces 2 and
    /// the last 1 hits; skipped, 1 would stay in T1 and be replaced.
    /// LFU counts every reference of a run: after 1, 1, 1, 2, 2 the fault
    /// on 3 replaces 2 (referenced twice), not 1 (three times).
    #[test]
    fn runs_on_one_page_touch_where_it_matters() {
        assert_eq!(faults("arc", 2, &[1, 1, 2, 3, 1]), 3);
        assert_eq!(faults("lfu", 2, &[1, 1, 1, 2, 2, 3, 1]), 3);
    }

    fn faults(policy: &str, frames: usize, refs: &[u64]) -> u64 {
        let params = PolicyParams {
            next_use: Some(next_uses(refs).into()),
            ..PolicyParams::default()
        };
        let p = by_name(policy, frames, &params).unwrap();
        let mut sim = ReplacementSim::new(p, frames, 0);
        for &r in refs {
            sim.access(r, false);
        }
        sim.stats().faults
    }

    #[test]
    fn fifo_shows_beladys_anomaly() {
        // OSC: 9 faults with three frames, 10 with four.
        assert_eq!(faults("fifo", 3, &BELADY), 9);
        assert_eq!(faults("fifo", 4, &BELADY), 10);
    }

    #[test]
    fn lru_is_a_stack_algorithm_on_beladys_string() {
        // Worked by hand: 10 faults with three frames, 8 with four.
        assert_eq!(faults("lru", 3, &BELADY), 10);
        assert_eq!(faults("lru", 4, &BELADY), 8);
    }

    #[test]
    fn silberschatz_reference_string() {
        // OSC 10e figures 10.12 and 10.15: 15 FIFO faults and 12 LRU
        // faults with three frames.
        let refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(faults("fifo", 3, &refs), 15);
        assert_eq!(faults("lru", 3, &refs), 12);
    }

    #[test]
    fn clock_gives_second_chances() {
        // Three frames hold 1, 2, 3 with their bits set; 4 sweeps the
        // hand once round (clearing all) and takes frame 0 (page 1). Then 2
        // is referenced again; 5 finds frame 1 (page 2) referenced, clears
        // it, and takes frame 2 (page 3).
        let p = by_name("clock", 3, &PolicyParams::default()).unwrap();
        let mut sim = ReplacementSim::new(p, 3, 0);
        for r in [1, 2, 3, 4, 2, 5] {
            sim.access(r, false);
        }
        assert_eq!(sim.resident(), vec![4, 2, 5]);
        assert_eq!(sim.stats().faults, 5);
    }

    #[test]
    fn dirty_victims_are_written_back() {
        let p = by_name("fifo", 2, &PolicyParams::default()).unwrap();
        let mut sim = ReplacementSim::new(p, 2, 0);
        sim.access(1, true);
        sim.access(2, false);
        sim.access(3, false); // evicts dirty 1
        sim.access(4, false); // evicts clean 2
        let s = sim.stats();
        assert_eq!((s.faults, s.evictions, s.write_backs), (4, 2, 1));
    }

    #[test]
    fn next_uses_looks_ahead() {
        assert_eq!(
            next_uses(&[1, 2, 1, 3, 2]),
            vec![2, 4, u64::MAX, u64::MAX, u64::MAX]
        );
    }

    /// FIFO that also notes the virtual time of every tick.
    struct TickLog {
        fifo: Box<dyn ReplacementPolicy>,
        ticks: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    }

    impl ReplacementPolicy for TickLog {
        fn name(&self) -> &'static str {
            "tick-log"
        }
        fn insert(&mut self, frame: FrameId, page: PageKey, refs: &mut dyn ReferenceBits) {
            self.fifo.insert(frame, page, refs);
        }
        fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}
        fn wants_touch(&self) -> bool {
            false
        }
        fn tick(&mut self, refs: &mut dyn ReferenceBits) {
            self.ticks.lock().unwrap().push(refs.now());
        }
        fn remove(&mut self, frame: FrameId) {
            self.fifo.remove(frame);
        }
        fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
            self.fifo.evict(refs)
        }
        fn victim_reason(&self, victim: FrameId) -> String {
            self.fifo.victim_reason(victim)
        }
    }

    #[test]
    fn ticks_fall_before_every_multiple_of_the_interval() {
        let ticks = std::sync::Arc::default();
        let policy = TickLog {
            fifo: by_name("fifo", 2, &PolicyParams::default()).unwrap(),
            ticks: std::sync::Arc::clone(&ticks),
        };
        let mut sim = ReplacementSim::new(Box::new(policy), 2, 4);
        for r in 0..13 {
            sim.access(r % 3, false);
        }
        assert_eq!(*ticks.lock().unwrap(), vec![4, 8, 12]);
        // A run on one page (the repeat taken inline) ticks on time too.
        for _ in 13..22 {
            sim.access(7, false);
        }
        assert_eq!(*ticks.lock().unwrap(), vec![4, 8, 12, 16, 20]);
        ticks.lock().unwrap().clear();
        let off = TickLog {
            fifo: by_name("fifo", 2, &PolicyParams::default()).unwrap(),
            ticks: std::sync::Arc::clone(&ticks),
        };
        let mut never = ReplacementSim::new(Box::new(off), 2, 0);
        for r in 0..10 {
            never.access(r, false);
        }
        assert!(ticks.lock().unwrap().is_empty(), "interval 0: no ticks");
    }
}
