//! Worst fit: the largest free block, the lowest address among equals
//! (OSTEP §17.3). It leaves the largest remainder, hoping it stays useful;
//! studies cited by OSTEP found it fragments badly.

use super::list::{Extent, Placement};

/// Worst-fit placement.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorstFit;

impl Placement for WorstFit {
    const NAME: &'static str = "worst";

    fn choose(&mut self, free: &[Extent], size: u64) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, e) in free.iter().enumerate() {
            // Strictly larger, so the lowest address wins a tie.
            if e.len >= size && best.is_none_or(|b| e.len > free[b].len) {
                best = Some(i);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::super::list::fixtures::{holes, ostep_10_30_20};
    use super::super::FreeSpaceAllocator;
    use super::*;

    /// OSTEP §17.3: from `10 -> 30 -> 20`, a 15-byte request goes to the
    /// 30-byte block, the largest: `10 -> 15 -> 20`.
    #[test]
    fn ostep_request_of_15_takes_the_largest_block() {
        let mut a = ostep_10_30_20(WorstFit);
        assert_eq!(a.allocate(15), Some(20));
        assert_eq!(holes(&a), [(0, 10), (35, 15), (60, 20)]);
        // Now the 20-byte block is the largest; first fit would take 0.
        assert_eq!(a.allocate(5), Some(60));
        // 15 and 15: the lower address wins.
        assert_eq!(a.allocate(1), Some(35));
        assert_eq!(a.allocate(16), None);
    }
}
