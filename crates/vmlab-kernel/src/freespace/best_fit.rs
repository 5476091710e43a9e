//! Best fit: the smallest free block that is large enough, the lowest
//! address among equals (OSTEP §17.3). It searches the whole list to waste
//! the least of the chosen block, and so tends to leave tiny holes.

use super::list::{Extent, Placement};

/// Best-fit placement.
#[derive(Clone, Copy, Debug, Default)]
pub struct BestFit;

impl Placement for BestFit {
    const NAME: &'static str = "best";

    fn choose(&mut self, free: &[Extent], size: u64) -> Option<usize> {
        // min_by_key keeps the first of equal blocks: the lowest address.
        free.iter()
            .enumerate()
            .filter(|(_, e)| e.len >= size)
            .min_by_key(|(_, e)| e.len)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::list::fixtures::{holes, ostep_10_30_20};
    use super::super::FreeSpaceAllocator;
    use super::*;

    /// OSTEP §17.3: from `10 -> 30 -> 20`, a 15-byte request goes to the
    /// 20-byte block, the smallest that fits: `10 -> 30 -> 5`.
    #[test]
    fn ostep_request_of_15_takes_the_smallest_block_that_fits() {
        let mut a = ostep_10_30_20(BestFit);
        assert_eq!(a.allocate(15), Some(60));
        assert_eq!(holes(&a), [(0, 10), (20, 30), (75, 5)]);
        // An exact fit removes the block; ties go to the lower address.
        assert_eq!(a.allocate(5), Some(75));
        assert_eq!(a.allocate(10), Some(0));
    }
}
