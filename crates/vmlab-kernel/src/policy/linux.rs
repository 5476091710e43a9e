//! Linux's active and inactive lists (the two-list LRU that predates
//! multi-gen LRU), as in Linux v6.1 `mm/vmscan.c` for one LRU type (the
//! anonymous and file lists behave alike here):
//!
//! - A new page goes to the head of the inactive list (`folio_add_lru`;
//!   new anonymous pages start inactive since v5.9) with `PG_referenced`
//!   clear.
//! - Reclaim takes pages from the inactive tail and asks
//!   `folio_check_references`: the page-table accessed bits are read and
//!   cleared (`folio_referenced`) and `PG_referenced` is tested and
//!   cleared. Accessed and `PG_referenced` set: *activate* (to the head of
//!   the active list). Accessed only: set `PG_referenced` and *keep* (back
//!   to the inactive head), because "all mapped folios start out with page
//!   table references from the instantiating fault, so we need to look
//!   twice"; another reference by the next visit activates the page. Not
//!   accessed: *reclaim*. `PG_referenced` stays set on activated pages, so
//!   a page deactivated and used again is quickly recovered.
//! - Before taking from the inactive list, `shrink_active_list` runs while
//!   `inactive_is_low`: `inactive · ratio < active`, with
//!   `ratio = int_sqrt(10 · GiB)` for the lists' total size in GiB (4 KiB
//!   pages assumed) and 1 below 1 GiB. It moves the active tail to the
//!   inactive head, clearing the accessed bits (`folio_referenced`).
//!   Referenced active pages are deactivated all the same, except
//!   file-backed executable pages (`VM_EXEC`, since v2.6.31), which this
//!   model does not distinguish; kernels before the split LRU (v2.6.28)
//!   put referenced mapped pages back on the active list instead.
//!
//! The policy works only from the accessed bits, read and cleared through
//! [`ReferenceBits`] (in the full model, the page-table entries through
//! the reverse map), as the kernel does: it takes no
//! [`touch`](ReplacementPolicy::touch). Not modelled: reclaim in batches
//! (`SWAP_CLUSTER_MAX`, scan priorities, `get_scan_count`'s balance
//! between anonymous and file lists), `mark_page_accessed` for
//! `read`/`write`, and refault detection through shadow entries
//! (`mm/workingset.c`), which would activate a page refaulting within the
//! workingset size. Here reclaim balances the lists and frees one page
//! per call.

use super::list::FrameLists;
use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

/// The inactive list, tail (oldest) first.
const INACTIVE: usize = 0;
/// The active list, tail (oldest) first.
const ACTIVE: usize = 1;

/// Pages per GiB with 4 KiB pages: `1 << (30 - PAGE_SHIFT)`.
const PAGES_PER_GIB_SHIFT: u32 = 30 - 12;

/// Linux's two lists over a fixed number of frames.
pub struct LinuxLists {
    lists: FrameLists,
    /// The page flag `PG_referenced` (software, unlike the accessed bit).
    pg_referenced: Vec<bool>,
}

/// What `folio_check_references` decides for an inactive page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Activate,
    Keep,
    Reclaim,
}

impl LinuxLists {
    /// Empty lists over `capacity` frames.
    pub fn new(capacity: usize) -> LinuxLists {
        LinuxLists {
            lists: FrameLists::new(capacity, 2),
            pg_referenced: vec![false; capacity],
        }
    }

    /// `(inactive, active)` list lengths.
    pub fn sizes(&self) -> (usize, usize) {
        (self.lists.len(INACTIVE), self.lists.len(ACTIVE))
    }

    /// `inactive_is_low`: too few inactive pages for the active ones.
    fn inactive_is_low(&self) -> bool {
        let (inactive, active) = self.sizes();
        let gib = ((inactive + active) >> PAGES_PER_GIB_SHIFT) as u64;
        let ratio = if gib == 0 { 1 } else { int_sqrt(10 * gib) };
        (inactive as u64) * ratio < active as u64
    }

    /// `shrink_active_list`, one page: the active tail loses its accessed
    /// bits and goes to the inactive head.
    fn deactivate_one(&mut self, refs: &mut dyn ReferenceBits) {
        if let Some(f) = self.lists.front(ACTIVE) {
            refs.clear_referenced(f);
            self.lists.move_to_back(INACTIVE, f);
        }
    }

    /// `folio_check_references` for one mapping per page.
    fn check_references(&mut self, frame: FrameId, refs: &mut dyn ReferenceBits) -> Verdict {
        let referenced_ptes = refs.test_and_clear_referenced(frame);
        let referenced_folio = std::mem::take(&mut self.pg_referenced[frame as usize]);
        if referenced_ptes {
            self.pg_referenced[frame as usize] = true;
            if referenced_folio {
                Verdict::Activate
            } else {
                Verdict::Keep
            }
        } else {
            Verdict::Reclaim
        }
    }
}

/// `int_sqrt`: the floor of the square root.
fn int_sqrt(x: u64) -> u64 {
    let mut r = (x as f64).sqrt() as u64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

impl ReplacementPolicy for LinuxLists {
    fn name(&self) -> &'static str {
        "linux"
    }

    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        self.pg_referenced[frame as usize] = false;
        self.lists.push_back(INACTIVE, frame);
    }

    fn touch(&mut self, _frame: FrameId, _refs: &mut dyn ReferenceBits) {}

    fn wants_touch(&self) -> bool {
        false
    }

    fn remove(&mut self, frame: FrameId) {
        self.lists.unlink(frame);
        self.pg_referenced[frame as usize] = false;
    }

    /// Balances the lists, then scans the inactive tail until a page is
    /// reclaimable. Ends: no accesses happen meanwhile, so a kept page has
    /// a clear accessed bit on its next visit and is reclaimed, and an
    /// activated one comes back through deactivation with its bit clear.
    fn victim_reason(&self, victim: FrameId) -> String {
        format!("frame {victim} reached the tail of the inactive list and no page-table entry had referenced it since it was last checked")
    }
    fn evict(&mut self, refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        loop {
            while self.inactive_is_low() {
                self.deactivate_one(refs);
            }
            let frame = self.lists.front(INACTIVE)?;
            match self.check_references(frame, refs) {
                Verdict::Activate => self.lists.move_to_back(ACTIVE, frame),
                Verdict::Keep => self.lists.move_to_back(INACTIVE, frame),
                Verdict::Reclaim => {
                    self.lists.unlink(frame);
                    self.pg_referenced[frame as usize] = false;
                    return Some(frame);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    fn sim(frames: usize) -> ReplacementSim {
        ReplacementSim::new(Box::new(LinuxLists::new(frames)), frames, 0)
    }

    fn resident(s: &ReplacementSim) -> Vec<u64> {
        let mut r = s.resident();
        r.sort_unstable();
        r
    }

    /// Four frames. Every fault leaves the page's accessed bit set (the
    /// faulting access). Lists tail → head; `a` = accessed bit,
    /// `R` = PG_referenced:
    ///
    /// ```text
    /// x    inactive        active  how
    /// 1-4  1a 2a 3a 4a     -
    /// 5    2R 3R 4R 5a     -       1..4 accessed, not R: each kept with R
    ///                              set, bit cleared; 1 comes round not
    ///                              accessed: reclaimed
    /// 2    2Ra 3R 4R 5a    -       hit: sets 2's accessed bit
    /// 6    4R 5a 6a        2R      2 accessed and R: activated; inactive
    ///                              3 ≥ active 1; 3 not accessed: goes
    /// 7    5a 6a 7a        2R      4 goes
    /// 8    6R 7R 8a        2R      5, 6, 7 kept once; 5 then goes
    /// ```
    ///
    /// and so on: each scan page gets one trip round the inactive list
    /// and goes, while 2, referenced after its fault, stays active.
    #[test]
    fn second_reference_activates_and_survives_a_scan() {
        let mut s = sim(4);
        for x in [1, 2, 3, 4, 5] {
            assert!(!s.access(x, false));
        }
        assert_eq!(resident(&s), [2, 3, 4, 5]);
        assert!(s.access(2, false));
        s.access(6, false);
        assert_eq!(resident(&s), [2, 4, 5, 6]);
        s.access(7, false);
        assert_eq!(resident(&s), [2, 5, 6, 7]);
        s.access(8, false);
        assert_eq!(resident(&s), [2, 6, 7, 8]);
        for x in 9..60 {
            assert!(!s.access(x, false));
        }
        assert!(s.access(2, false));
        // FIFO loses 2 on the same string.
        let mut f =
            ReplacementSim::new(by_name("fifo", 4, &PolicyParams::default()).unwrap(), 4, 0);
        for x in [1, 2, 3, 4, 5, 2, 6, 7, 8].into_iter().chain(9..60) {
            f.access(x, false);
        }
        assert!(!f.access(2, false));
    }

    /// `inactive_is_low` with ratio 1: once the active list outgrows the
    /// inactive one, its tail is deactivated with its accessed bit
    /// cleared, keeping `PG_referenced`, and is reclaimed on its next
    /// inactive visit unless used again. Four frames:
    ///
    /// ```text
    /// 1-5      inactive 2R 3R 4R 5a (as above)
    /// 2 3 4    hits: 2Ra 3Ra 4Ra 5a
    /// 6        2, 3, 4 activated; then inactive 1 (5a) < active 3:
    ///          2 deactivated (inactive 5a 2R, active 3R 4R); 5 kept
    ///          (2R 5R); 2 not accessed: reclaimed
    /// ```
    #[test]
    fn active_list_is_trimmed_to_the_inactive_size() {
        let mut s = sim(4);
        for x in [1, 2, 3, 4, 5, 2, 3, 4] {
            s.access(x, false);
        }
        s.access(6, false);
        assert_eq!(resident(&s), [3, 4, 5, 6]);
        let mut p = LinuxLists::new(4);
        assert!(!p.inactive_is_low());
        let mut bits = Bits(vec![false; 4]);
        for f in 0..4 {
            p.insert(f, u64::from(f), &mut bits);
        }
        // Mark all four active by hand and check the trim.
        for f in 0..4 {
            p.lists.move_to_back(ACTIVE, f);
        }
        assert!(p.inactive_is_low());
        bits.0 = vec![true; 4];
        assert_eq!(p.evict(&mut bits), Some(0));
        // 0 and 1 were deactivated (bits cleared), 0 reclaimed at once.
        assert_eq!(p.sizes(), (1, 2));
        assert_eq!(bits.0, [false, false, true, true]);
    }

    #[test]
    fn int_sqrt_floors() {
        assert_eq!(
            [0, 1, 3, 4, 10, 99, 100].map(int_sqrt),
            [0, 1, 1, 2, 3, 9, 10]
        );
    }

    struct Bits(Vec<bool>);
    impl ReferenceBits for Bits {
        fn referenced(&mut self, f: FrameId) -> bool {
            self.0[f as usize]
        }
        fn clear_referenced(&mut self, f: FrameId) {
            self.0[f as usize] = false;
        }
        fn dirty(&mut self, _: FrameId) -> bool {
            false
        }
        fn write_back(&mut self, _: FrameId) {}
        fn now(&self) -> u64 {
            0
        }
    }
}
