//! [`BitTable`]: one bit for each of a fixed number of slots, packed 64 to
//! a word, so a table over every frame or ring slot stays small enough to
//! sit in the cache beside what it describes. The recency logs keep which
//! list each frame is on in one; the ghost lists, which of their ring
//! slots are holes.

/// A fixed number of bits, all clear at first.
#[derive(Clone, Debug)]
pub struct BitTable {
    words: Vec<u64>,
}

impl BitTable {
    /// `len` clear bits.
    pub fn new(len: usize) -> BitTable {
        BitTable {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// Bit `i`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Sets bit `i` to `on`.
    #[inline(always)]
    pub fn set(&mut self, i: usize, on: bool) {
        let word = &mut self.words[i / 64];
        *word = (*word & !(1 << (i % 64))) | (u64::from(on) << (i % 64));
    }

    /// Clears every bit.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a `Vec<bool>`, across word boundaries.
    #[test]
    fn bits_agree_with_a_vector_of_bools() {
        let len = 200;
        let mut table = BitTable::new(len);
        let mut model = vec![false; len];
        for step in 0..2000usize {
            let i = step * 37 % len;
            let on = step % 3 != 0;
            table.set(i, on);
            model[i] = on;
            assert!((0..len).all(|j| table.get(j) == model[j]), "step {step}");
        }
        table.clear();
        assert!((0..len).all(|j| !table.get(j)));
    }
}
