//! First fit: the first free block, in address order, that is large
//! enough (OSTEP §17.3). Fast when the request fits early, but it leaves
//! small splinters at the start of the list that every later search walks
//! past.

use super::list::{Extent, Placement};

/// First-fit placement.
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstFit;

impl Placement for FirstFit {
    const NAME: &'static str = "first";

    fn choose(&mut self, free: &[Extent], size: u64) -> Option<usize> {
        free.iter().position(|e| e.len >= size)
    }
}

#[cfg(test)]
mod tests {
    use super::super::list::fixtures::{holes, ostep_10_30_20};
    use super::super::FreeSpaceAllocator;
    use super::*;

    /// OSTEP §17.3: from `10 -> 30 -> 20`, a 15-byte request is carved
    /// from the 30-byte block, the first that fits: `10 -> 15 -> 20`.
    #[test]
    fn ostep_request_of_15_takes_the_first_block_that_fits() {
        let mut a = ostep_10_30_20(FirstFit);
        assert_eq!(a.allocate(15), Some(20));
        assert_eq!(holes(&a), [(0, 10), (35, 15), (60, 20)]);
        assert_eq!(a.allocate(5), Some(0));
    }
}
