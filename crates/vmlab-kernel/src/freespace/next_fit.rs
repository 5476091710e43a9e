//! Next fit: first fit that resumes where the previous search ended,
//! wrapping around at the end of the arena (OSTEP §17.3). Spreading the
//! searches over the list avoids first fit's splinters at its start.

use super::list::{Extent, Placement};

/// Next-fit placement with its roving position.
#[derive(Clone, Copy, Debug)]
pub struct NextFit {
    /// Where the last allocation ended; the next search starts at the free
    /// block holding or following this address.
    rover: u64,
}

impl NextFit {
    /// Next fit whose first search starts at `start` (the arena's base).
    pub fn new(start: u64) -> NextFit {
        NextFit { rover: start }
    }
}

impl Placement for NextFit {
    const NAME: &'static str = "next";

    fn choose(&mut self, free: &[Extent], size: u64) -> Option<usize> {
        // The rover's own block may have been merged into a larger one; an
        // address is stable where an index into the list is not.
        let first = free.partition_point(|e| e.end() <= self.rover);
        (first..free.len())
            .chain(0..first)
            .find(|&i| free[i].len >= size)
    }

    fn placed(&mut self, end: u64) {
        self.rover = end;
    }
}

#[cfg(test)]
mod tests {
    use super::super::first_fit::FirstFit;
    use super::super::list::fixtures::{holes, ostep_10_30_20};
    use super::super::FreeSpaceAllocator;
    use super::*;

    /// From `10 -> 30 -> 20`: 5 bytes at 0 (rover 5); 12 bytes: the
    /// 5-byte rest at 5 is too small, so 20 (rover 32); 4 bytes: next fit
    /// continues at 32 where first fit goes back to 5.
    #[test]
    fn resumes_where_the_last_search_ended() {
        let mut next = ostep_10_30_20(NextFit::new(0));
        let mut first = ostep_10_30_20(FirstFit);
        for a in [&mut next as &mut dyn FreeSpaceAllocator, &mut first] {
            assert_eq!(a.allocate(5), Some(0));
            assert_eq!(a.allocate(12), Some(20));
        }
        assert_eq!(next.allocate(4), Some(32));
        assert_eq!(first.allocate(4), Some(5));
        assert_eq!(holes(&next), [(5, 5), (36, 14), (60, 20)]);
    }

    #[test]
    fn wraps_around_to_the_start() {
        let mut a = ostep_10_30_20(NextFit::new(0));
        assert_eq!(a.allocate(20), Some(20)); // rover 40
        assert_eq!(a.allocate(15), Some(60)); // 40..50 too small; rover 75
        assert_eq!(a.allocate(10), Some(0)); // 75..80 too small: wrap
        assert_eq!(a.allocate(8), Some(40)); // resumes after 10
        assert_eq!(holes(&a), [(48, 2), (75, 5)]);
        assert_eq!(a.allocate(6), None);
    }
}
