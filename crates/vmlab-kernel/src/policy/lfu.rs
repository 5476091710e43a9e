//! LFU, least frequently used: evict the page referenced the fewest times,
//! knowing every reference exactly. The count is the number of references
//! since the page was last loaded (the faulting reference counts 1), as in
//! the textbook definition (Silberschatz OSC 10e §10.4.6, "counting-based
//! page replacement"); a page evicted and loaded again starts over. Ties
//! between equal counts go to the least recently used page.
//!
//! The structure is the O(1) LFU of Shah, Mitra & Matani ("An O(1)
//! algorithm for implementing the LFU cache eviction scheme", 2010): a
//! list of frequency nodes in increasing frequency, each holding the pages
//! with that count in the order they reached it, which is the order of
//! their last reference. A reference moves a page from node f to node f+1
//! (created next to f when missing, dropped when emptied); the victim is
//! the front page of the first node. Every operation is O(1). Counts are
//! unbounded but the distinct counts present never exceed the number of
//! resident pages, so the nodes come from a pool of `capacity` slots,
//! indexed like frames, sized once.

use super::{FrameId, PageKey, ReferenceBits, ReplacementPolicy};

const NIL: u32 = u32::MAX;

/// Frequency nodes and the pages on them.
pub struct Lfu {
    /// Per frame: the node it is on (`NIL`: not resident), and its
    /// neighbours within that node, oldest towards `prev`.
    node_of: Vec<u32>,
    prev: Vec<u32>,
    next: Vec<u32>,
    /// Per node: the count it stands for, its first and last page, and
    /// its neighbours in the node list (lower count towards `node_prev`).
    freq: Vec<u64>,
    head: Vec<u32>,
    tail: Vec<u32>,
    node_prev: Vec<u32>,
    node_next: Vec<u32>,
    /// The node with the lowest count.
    first: u32,
    /// Unused node slots (a stack filled at construction; never grows).
    spare: Vec<u32>,
    /// The count of the last page evicted (for the explanation).
    last_count: u64,
}

impl Lfu {
    /// LFU over `capacity` frames.
    pub fn new(capacity: usize) -> Lfu {
        Lfu {
            node_of: vec![NIL; capacity],
            prev: vec![NIL; capacity],
            next: vec![NIL; capacity],
            freq: vec![0; capacity],
            head: vec![NIL; capacity],
            tail: vec![NIL; capacity],
            node_prev: vec![NIL; capacity],
            node_next: vec![NIL; capacity],
            first: NIL,
            spare: (0..capacity as u32).rev().collect(),
            last_count: 0,
        }
    }

    /// The reference count of the page in `frame`, if resident.
    pub fn count(&self, frame: FrameId) -> Option<u64> {
        let n = self.node_of[frame as usize];
        (n != NIL).then(|| self.freq[n as usize])
    }

    /// A fresh node for count `freq`, linked after node `after` (at the
    /// front of the node list when `after` is `NIL`).
    fn new_node(&mut self, freq: u64, after: u32) -> Option<u32> {
        // Nodes in use never outnumber resident pages, and a new node is
        // only made while a frame is still free or a node holds two pages,
        // so a spare always exists.
        let n = self.spare.pop()?;
        let i = n as usize;
        self.freq[i] = freq;
        self.head[i] = NIL;
        self.tail[i] = NIL;
        let following = if after == NIL {
            self.first
        } else {
            self.node_next[after as usize]
        };
        self.node_prev[i] = after;
        self.node_next[i] = following;
        if after == NIL {
            self.first = n;
        } else {
            self.node_next[after as usize] = n;
        }
        if following != NIL {
            self.node_prev[following as usize] = n;
        }
        Some(n)
    }

    /// Drops the empty node `n`.
    fn drop_node(&mut self, n: u32) {
        let (p, q) = (self.node_prev[n as usize], self.node_next[n as usize]);
        if p == NIL {
            self.first = q;
        } else {
            self.node_next[p as usize] = q;
        }
        if q != NIL {
            self.node_prev[q as usize] = p;
        }
        self.spare.push(n);
    }

    /// Appends `frame` (on no node) to node `n`, as its most recent page.
    fn append(&mut self, n: u32, frame: FrameId) {
        let (i, f) = (n as usize, frame as usize);
        self.node_of[f] = n;
        self.prev[f] = self.tail[i];
        self.next[f] = NIL;
        if self.tail[i] == NIL {
            self.head[i] = frame;
        } else {
            self.next[self.tail[i] as usize] = frame;
        }
        self.tail[i] = frame;
    }

    /// Takes `frame` off its node, leaving the node (possibly empty) in
    /// place; returns the node.
    fn detach(&mut self, frame: FrameId) -> u32 {
        let f = frame as usize;
        let n = self.node_of[f];
        let i = n as usize;
        let (p, q) = (self.prev[f], self.next[f]);
        if p == NIL {
            self.head[i] = q;
        } else {
            self.next[p as usize] = q;
        }
        if q == NIL {
            self.tail[i] = p;
        } else {
            self.prev[q as usize] = p;
        }
        self.node_of[f] = NIL;
        self.prev[f] = NIL;
        self.next[f] = NIL;
        n
    }
}

impl ReplacementPolicy for Lfu {
    fn name(&self) -> &'static str {
        "lfu"
    }
    fn insert(&mut self, frame: FrameId, _page: PageKey, _refs: &mut dyn ReferenceBits) {
        // A reload of a frame still tracked restarts its count.
        self.remove(frame);
        let n = if self.first != NIL && self.freq[self.first as usize] == 1 {
            self.first
        } else {
            match self.new_node(1, NIL) {
                Some(n) => n,
                None => return,
            }
        };
        self.append(n, frame);
    }
    #[inline]
    fn touch(&mut self, frame: FrameId, _refs: &mut dyn ReferenceBits) {
        let n = self.node_of[frame as usize];
        if n == NIL {
            return;
        }
        let i = n as usize;
        let after = self.node_next[i];
        let Some(f1) = self.freq[i].checked_add(1) else {
            // A count at u64::MAX stays there; only recency moves.
            self.detach(frame);
            self.append(n, frame);
            return;
        };
        if after != NIL && self.freq[after as usize] == f1 {
            self.detach(frame);
            self.append(after, frame);
            if self.head[i] == NIL {
                self.drop_node(n);
            }
        } else if self.head[i] == frame && self.tail[i] == frame {
            // Alone on its node, and no node for f+1: the node itself
            // becomes f+1 (still below the next node's count).
            self.freq[i] = f1;
        } else {
            let Some(m) = self.new_node(f1, n) else {
                return;
            };
            self.detach(frame);
            self.append(m, frame);
        }
    }
    fn wants_touch(&self) -> bool {
        true
    }
    fn remove(&mut self, frame: FrameId) {
        if self.node_of[frame as usize] == NIL {
            return;
        }
        let n = self.detach(frame);
        if self.head[n as usize] == NIL {
            self.drop_node(n);
        }
    }
    fn victim_reason(&self, victim: FrameId) -> String {
        format!(
            "least frequently used: frame {victim} had the fewest references ({}), and the oldest last reference among equals",
            self.last_count
        )
    }
    fn evict(&mut self, _refs: &mut dyn ReferenceBits) -> Option<FrameId> {
        if self.first == NIL {
            return None;
        }
        // Lowest count, and on it the page whose last reference is oldest.
        let victim = self.head[self.first as usize];
        self.last_count = self.freq[self.first as usize];
        self.remove(victim);
        Some(victim)
    }
}

#[cfg(test)]
mod tests {
    use super::super::aging::tests::FakeBits;
    use super::super::sim::ReplacementSim;
    use super::super::{by_name, PolicyParams};
    use super::*;

    fn run(policy: &str, refs: &[u64]) -> ReplacementSim {
        let p = by_name(policy, 3, &PolicyParams::default()).unwrap();
        let mut sim = ReplacementSim::new(p, 3, 0);
        for &r in refs {
            sim.access(r, false);
        }
        sim
    }

    #[test]
    fn fewest_references_then_least_recent() {
        // Worked by hand, three frames (count, last reference index):
        //  0-5  1 2 3 3 2 1: all three at count 2; last uses 3@3 2@4 1@5
        //  6    4: tie at 2, least recent is 3 → evicted, 4 in frame 2 (1)
        //  7    1 hit: 1 at 3
        //  8    5: 4 has the lowest count (1) → evicted, 5 in frame 2
        //  9    2 hit: 2 at 3       10, 11  5 hits twice: 5 at 3
        //  12   6: tie at 3 between 1@7, 2@9, 5@11 → 1 evicted, 6 in frame 0
        // Six faults, frames 6 2 5. LRU would have evicted 2 at index 8.
        let refs = [1, 2, 3, 3, 2, 1, 4, 1, 5, 2, 5, 5, 6];
        let lfu = run("lfu", &refs);
        assert_eq!(lfu.resident(), vec![6, 2, 5]);
        assert_eq!(lfu.stats().faults, 6);
        assert_ne!(run("lru", &refs).resident(), vec![6, 2, 5]);
    }

    #[test]
    fn counts_restart_when_a_page_is_reloaded() {
        // Two frames, 1 1 2 2 2 3 1 3, worked by hand:
        //  1 1 → 1 (2) in frame 0; 2 2 2 → 2 (3) in frame 1
        //  3: 1 has the lower count → evicted, 3 (1) in frame 0
        //  1: 3 (1) evicted, 1 reloaded in frame 0 with count 1, not 3
        //  3: 1 (1) against 2 (3) → 1 evicted, 3 in frame 0.
        // Five faults, frames 3 2. Had 1 kept its count across the
        // eviction (3, tied with 2 but more recent), 2 would have gone.
        let p = by_name("lfu", 2, &PolicyParams::default()).unwrap();
        let mut sim = ReplacementSim::new(p, 2, 0);
        for r in [1, 1, 2, 2, 2, 3, 1, 3] {
            sim.access(r, false);
        }
        assert_eq!(sim.resident(), vec![3, 2]);
        assert_eq!(sim.stats().faults, 5);
    }

    #[test]
    fn nodes_are_reused_without_running_out() {
        // Every page at a different count, then shuffled around: the pool
        // of `capacity` nodes must always suffice.
        let mut bits = FakeBits::new(4);
        let mut p = Lfu::new(4);
        for f in 0..4 {
            p.insert(f, 0, &mut bits);
            for _ in 0..f {
                p.touch(f, &mut bits);
            }
        }
        assert_eq!(
            (0..4).map(|f| p.count(f)).collect::<Vec<_>>(),
            [Some(1), Some(2), Some(3), Some(4)]
        );
        for _ in 0..3 {
            p.touch(0, &mut bits);
        }
        // Frame 0 reached 4 after frame 3: frame 1 (2) is now lowest.
        assert_eq!(p.count(0), Some(4));
        assert_eq!(p.evict(&mut bits), Some(1));
        assert_eq!(p.evict(&mut bits), Some(2));
        assert_eq!(p.evict(&mut bits), Some(3));
        assert_eq!(p.evict(&mut bits), Some(0));
        assert_eq!(p.evict(&mut bits), None);
        p.insert(2, 0, &mut bits);
        assert_eq!(p.count(2), Some(1));
    }
}
