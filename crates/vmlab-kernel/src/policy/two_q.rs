//! 2Q, the full version, as defined by T. Johnson and D. Shasha, "2Q: A
//! Low Overhead High Performance Buffer Management Replacement
//! Algorithm", VLDB 1994, section 2.2 (the pseudocode "reclaimfor" and "On
//! accessing a page X").
//!
//! New pages enter `A1in`, a FIFO; a hit there does nothing (a correlated
//! reference). Pages paged out of `A1in` leave their key in `A1out`, a
//! FIFO of at most `Kout` keys. A miss whose key is in `A1out` is a page
//! that came back after a while: it goes to `Am`, an LRU list where hits
//! move a page to the MRU end. `A1in` and `Am` share the frames: a victim
//! comes from `A1in` while `|A1in| > Kin`, else from the LRU end of `Am`
//! (and is not remembered in `A1out`). The paper recommends `Kin` = 25%
//! and `Kout` = 50% of the page slots ([`PolicyParams`] defaults; both
//! rounded down).
//!
//! Two details follow the pseudocode where implementations differ:
//! - The paper decides "X is in A1out" *before* `reclaimfor(X)`, which may
//!   drop the oldest key of `A1out`, X's own. Here the eviction comes
//!   first (the trait calls `evict`, then `insert`), so `A1out` may hold
//!   `Kout + 1` keys between the two calls and is trimmed in `insert`,
//!   after the test: the outcome is the paper's.
//! - A page promoted from `A1out` to `Am` keeps its key in `A1out` (the
//!   pseudocode never removes it; it ages out). libCacheSim's `TwoQ.c`
//!   removes it.
//!
//! If `Am` is empty when a victim is needed (possible only with `Kin`
//! close to the frame count), the victim comes from `A1in` anyway.
//!

use super::ghost::GhostList;
use super::list::FrameLists;
use super::{
    rename_key, FrameId, PageKey, PolicyError, PolicyParams, ReferenceBits, ReplacementPolicy,
};

/// FIFO of pages seen once.
const A1IN: usize = 0;
/// LRU of pages seen again after leaving `A1in`.
const AM: usize = 1;

/// Full 2Q over a fixed number of frames.
pub struct TwoQ {
    /// `A1in` and `Am`, oldest / least recently used first.
    lists: FrameLists,
    page_of: Vec<PageKey>,
    /// Keys paged out of `A1in`, oldest first: at most `kout` after each
    /// miss, `kout + 1` between `evict` and `insert`.
    a1out: GhostList,
    kin: usize,
    kout: usize,
    /// The last victim came from `A1in` (for the explanation).
    last_from_a1in: bool,
}

impl TwoQ {
    /// 2Q over `capacity` frames with `Kin = kin` and `Kout = kout`.
    pub fn new(capacity: usize, kin: usize, kout: usize) -> TwoQ {
        TwoQ {
            lists: FrameLists::new(capacity, 2),
            page_of: vec![0; capacity],
            a1out: GhostList::new(kout + 1),
            kin,
            kout,
            last_from_a1in: false,
        }
    }

    /// 2Q with `Kin` and `Kout` as fractions of `capacity`, rounded down.
    pub fn with_fractions(capacity: usize, kin: f64, kout: f64) -> TwoQ {
        let frames = capacity as f64;
        TwoQ::new(
            capacity,
            (kin * frames).floor() as usize,
            (kout * frames).floor() as usize,
        )
    }

    /// 2Q with [`PolicyParams::two_q_kin`] and
    /// [`PolicyParams::two_q_kout`]; each must be a fraction in `0..=1`.
    pub fn from_params(capacity: usize, params: &PolicyParams) -> Result<TwoQ, PolicyError> {
        for (name, v) in [("Kin", params.two_q_kin), ("Kout", params.two_q_kout)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(PolicyError(format!(
                    "2q: {name} must be a fraction of the frames from 0 to 1, not {v}"
                )));
            }
        }
        Ok(TwoQ::with_fractions(
            capacity,
            params.two_q_kin,
            params.two_q_kout,
        ))
    }

    /// `(|A1in|, |Am|, |A1out|)`.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.lists.len(A1IN), self.lists.len(AM), self.a1out.len())
    }
}

impl ReplacementPolicy for TwoQ {
    fn name(&self) -> &'static str {
        "2q"
    }

    fn insert(&mut self, frame: FrameId, page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.page_of[frame as usize] = page;
        // "else if (X is in A1out)": decided before the trim that belongs
        // to the reclaim of this same miss.
        let seen_before = self.a1out.contains(page);
        while self.a1out.len() > self.kout {
            self.a1out.pop_oldest();
        }
        let list = if seen_before { AM } else { A1IN };
        self.lists.push_back(list, frame);
    }

    /// A hit in `Am` moves the page to its MRU end; in `A1in`, nothing.
    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        if self.lists.list_of(frame) == Some(AM) {
            self.lists.move_to_back(AM, frame);
        }
    }

    fn wants_touch(&self) -> bool {
        true
    }

    fn touches_collapse(&self) -> bool {
        true
    }

    fn remove(&mut self, frame: FrameId) {
        self.lists.unlink(frame);
    }

    fn rekey(&mut self, frame: FrameId, from: PageKey, to: PageKey) {
        rename_key(&mut self.page_of, frame, from, to);
    }

    fn key_of(&self, frame: FrameId) -> Option<PageKey> {
        self.page_of.get(frame as usize).copied()
    }

    /// `reclaimfor` with no free slot.
    fn victim_reason(&self, victim: FrameId) -> String {
        if self.last_from_a1in {
            format!("frame {victim} was the oldest page of A1in (pages seen once), which was over its share Kin = {} or Am was empty; its key goes to A1out", self.kin)
        } else {
            format!("frame {victim} was the least recently used page of Am (pages referenced again after their first stay)")
        }
    }
    fn prefetch_pages(&self, pages: &[PageKey]) {
        for &page in pages {
            self.a1out.prefetch(page);
        }
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        self.last_from_a1in = self.lists.len(A1IN) > self.kin || self.lists.is_empty(AM);
        if self.last_from_a1in {
            let y = self.lists.pop_front(A1IN)?;
            // "add identifier of Y to the head of A1out"; the trim to Kout
            // waits for `insert`.
            self.a1out.push(self.page_of[y as usize]);
            Some(y)
        } else {
            // "do not put it on A1out; it hasn't been accessed for a while"
            self.lists.pop_front(AM)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    fn sim(frames: usize, kin: usize, kout: usize) -> ReplacementSim {
        ReplacementSim::new(Box::new(TwoQ::new(frames, kin, kout)), frames, 0)
    }

    fn resident(s: &ReplacementSim) -> Vec<u64> {
        let mut r = s.resident();
        r.sort_unstable();
        r
    }

    /// Four frames, Kin = 1, Kout = 2, traced by hand through the
    /// pseudocode (queues oldest first):
    ///
    /// ```text
    /// x   A1in      Am    A1out   note
    /// 1   1         -     -
    /// 2   1 2       -     -
    /// 3   1 2 3     -     -
    /// 4   1 2 3 4   -     -       slots full
    /// 5   2 3 4 5   -     1       |A1in| = 4 > 1: page out 1
    /// 6   3 4 5 6   -     1 2
    /// 1   4 5 6     1     2 3     1 in A1out → Am; reclaim pages out 3
    ///                             and drops the oldest key, 1 itself
    /// 2   5 6       1 2   3 4     same for 2 (pages out 4)
    /// 7   6 7       1 2   4 5     |A1in| = 2 > 1: page out 5
    /// 8   7 8       1 2   5 6
    /// ... every further new page pages out the previous one; Am keeps
    /// 1 2, so a scan of once-referenced pages never reaches them.
    /// ```
    #[test]
    fn scan_does_not_evict_hot_am_pages() {
        let mut s = sim(4, 1, 2);
        for x in [1, 2, 3, 4, 5, 6] {
            assert!(!s.access(x, false));
        }
        assert_eq!(resident(&s), [3, 4, 5, 6]);
        assert!(!s.access(1, false));
        assert_eq!(resident(&s), [1, 4, 5, 6]);
        assert!(!s.access(2, false));
        assert_eq!(resident(&s), [1, 2, 5, 6]);
        for x in 7..=40 {
            assert!(!s.access(x, false));
        }
        assert_eq!(resident(&s), [1, 2, 39, 40]);
        assert!(s.access(1, false) && s.access(2, false));
        // FIFO on the same string loses both.
        let mut f =
            ReplacementSim::new(by_name("fifo", 4, &PolicyParams::default()).unwrap(), 4, 0);
        for x in [1, 2, 3, 4, 5, 6, 1, 2].into_iter().chain(7..=40) {
            f.access(x, false);
        }
        assert!(!f.access(1, false));
    }

    /// A hit in A1in changes nothing: the page still leaves in FIFO order.
    /// Four frames, Kin = 1: 1 2 3 4, then 1 (hit in A1in), then 5 pages
    /// out 1, the oldest of A1in, and 1's key goes to A1out.
    #[test]
    fn a1in_hits_do_nothing() {
        let mut s = sim(4, 1, 2);
        for x in [1, 2, 3, 4] {
            s.access(x, false);
        }
        assert!(s.access(1, false));
        assert!(!s.access(5, false));
        assert_eq!(resident(&s), [2, 3, 4, 5]);
    }

    /// Am is LRU, and Am victims are not remembered. Four frames, Kin = 1,
    /// Kout = 2, continuing the trace above (A1in | Am | A1out, oldest
    /// first):
    ///
    /// ```text
    /// 7   6 7 | 1 2   | 4 5     |A1in| = 2 > 1: page out 5
    /// 1   6 7 | 2 1   | 4 5     hit in Am: to the MRU end
    /// 5   7   | 2 1 5 | 5 6     5 in A1out → Am; page out 6, trim 4
    /// 8   7 8 | 1 5   | 5 6     |A1in| = 1, not > 1: Am's LRU (2) goes,
    ///                           leaving no key
    /// 2   8 2 | 1 5   | 6 7     2 is new again: A1in pages out 7
    /// ```
    #[test]
    fn am_is_lru_and_its_victims_leave_no_ghost() {
        let mut s = sim(4, 1, 2);
        for x in [1, 2, 3, 4, 5, 6, 1, 2, 7] {
            s.access(x, false);
        }
        assert!(s.access(1, false));
        assert!(!s.access(5, false));
        assert_eq!(resident(&s), [1, 2, 5, 7]);
        assert!(!s.access(8, false));
        assert_eq!(resident(&s), [1, 5, 7, 8]);
        assert!(!s.access(2, false));
        assert_eq!(resident(&s), [1, 2, 5, 8]);
    }

    #[test]
    fn fractions_round_down() {
        let q = TwoQ::with_fractions(10, 0.25, 0.5);
        assert_eq!((q.kin, q.kout), (2, 5));
        let p = PolicyParams::default();
        assert_eq!(by_name("2q", 10, &p).unwrap().name(), "2q");
    }
}
