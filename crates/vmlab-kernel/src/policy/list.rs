//! Intrusive doubly linked lists over frame ids, the queue structure most
//! policies are made of (FIFO order, 2Q's A1in/Am, S3-FIFO's small and
//! main queues, SIEVE's queue). All lists of one [`FrameLists`] share one
//! link array, and a frame is on at most one list at a time, so every
//! operation is O(1) and nothing is allocated after construction. Lists
//! in order of use, where every hit moves a frame (LRU, ARC's T1/T2), are
//! kept as logs instead (`super::recency`).

use super::FrameId;

const NIL: u32 = u32::MAX;

/// A frame's neighbours on its list (`NIL` at either end or off-list).
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

/// Up to `lists` linked lists over the frames `0..capacity`.
#[derive(Clone, Debug)]
pub struct FrameLists {
    /// Each frame's neighbours, side by side: a move touches one cache
    /// line per frame involved instead of one per array.
    links: Vec<Link>,
    /// Which list each frame is on, or `NOT_LISTED`.
    on: Vec<u8>,
    head: Vec<u32>,
    tail: Vec<u32>,
    len: Vec<usize>,
}

const NOT_LISTED: u8 = u8::MAX;

impl FrameLists {
    /// `lists` empty lists over `capacity` frames.
    pub fn new(capacity: usize, lists: usize) -> FrameLists {
        FrameLists {
            links: vec![UNLINKED; capacity],
            on: vec![NOT_LISTED; capacity],
            head: vec![NIL; lists],
            tail: vec![NIL; lists],
            len: vec![0; lists],
        }
    }

    /// The list `frame` is on, if any.
    #[inline]
    pub fn list_of(&self, frame: FrameId) -> Option<usize> {
        let on = self.on[frame as usize];
        (on != NOT_LISTED).then_some(usize::from(on))
    }

    /// Number of frames on `list`.
    #[inline]
    pub fn len(&self, list: usize) -> usize {
        self.len[list]
    }

    /// Whether `list` is empty.
    #[inline]
    pub fn is_empty(&self, list: usize) -> bool {
        self.len[list] == 0
    }

    /// The frame at the front (oldest end) of `list`.
    #[inline]
    pub fn front(&self, list: usize) -> Option<FrameId> {
        let h = self.head[list];
        (h != NIL).then_some(h)
    }

    /// The frames of `list`, front (oldest) first.
    #[inline]
    pub fn frames(&self, list: usize) -> impl Iterator<Item = FrameId> + '_ {
        std::iter::successors(self.front(list), move |&frame| self.next(frame))
    }

    /// Hints the host cache to load `frame`'s links, which any move of
    /// `frame` reads first.
    #[inline]
    pub fn prefetch(&self, frame: FrameId) {
        if let Some(link) = self.links.get(frame as usize) {
            vmlab_hw::prefetch::prefetch(link);
        }
    }

    /// The frame after `frame` on its list (towards the back).
    #[inline]
    pub fn next(&self, frame: FrameId) -> Option<FrameId> {
        let n = self.links[frame as usize].next;
        (n != NIL).then_some(n)
    }

    /// Appends `frame` (on no list) at the back (newest end) of `list`.
    #[inline]
    pub fn push_back(&mut self, list: usize, frame: FrameId) {
        debug_assert_eq!(self.on[frame as usize], NOT_LISTED);
        let f = frame as usize;
        self.on[f] = list as u8;
        self.links[f] = Link {
            prev: self.tail[list],
            next: NIL,
        };
        match self.tail[list] {
            NIL => self.head[list] = frame,
            t => self.links[t as usize].next = frame,
        }
        self.tail[list] = frame;
        self.len[list] += 1;
    }

    /// Takes `frame` off whatever list it is on; no-op if on none.
    #[inline]
    pub fn unlink(&mut self, frame: FrameId) {
        let f = frame as usize;
        let on = self.on[f];
        if on == NOT_LISTED {
            return;
        }
        let list = usize::from(on);
        let Link { prev: p, next: n } = self.links[f];
        match p {
            NIL => self.head[list] = n,
            p => self.links[p as usize].next = n,
        }
        match n {
            NIL => self.tail[list] = p,
            n => self.links[n as usize].prev = p,
        }
        self.on[f] = NOT_LISTED;
        self.links[f] = UNLINKED;
        self.len[list] -= 1;
    }

    /// Moves `frame` to the back of `list` (from whatever list it was on).
    #[inline]
    pub fn move_to_back(&mut self, list: usize, frame: FrameId) {
        // Repeated uses of one page find it at the back already.
        let f = frame as usize;
        if self.on[f] != list as u8 {
            self.unlink(frame);
            self.push_back(list, frame);
            return;
        }
        let tail = self.tail[list];
        if tail == frame {
            return;
        }
        // Already on `list` and not last: relink it after the tail in
        // place; the list's membership and length do not change.
        let Link { prev: p, next: n } = self.links[f];
        match p {
            NIL => self.head[list] = n,
            p => self.links[p as usize].next = n,
        }
        // `n` is not NIL: the frame is not the tail.
        self.links[n as usize].prev = p;
        self.links[tail as usize].next = frame;
        self.links[f] = Link {
            prev: tail,
            next: NIL,
        };
        self.tail[list] = frame;
    }

    /// Removes and returns the front of `list`.
    #[inline]
    pub fn pop_front(&mut self, list: usize) -> Option<FrameId> {
        let f = self.front(list)?;
        self.unlink(f);
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(l: &FrameLists, list: usize) -> Vec<FrameId> {
        l.frames(list).collect()
    }

    #[test]
    fn push_unlink_move_pop() {
        let mut l = FrameLists::new(8, 2);
        for f in [3, 1, 4, 5] {
            l.push_back(0, f);
        }
        l.push_back(1, 2);
        assert_eq!(contents(&l, 0), [3, 1, 4, 5]);
        assert_eq!(
            (l.frames(0).next(), l.frames(0).nth(3), l.frames(0).nth(4)),
            (Some(3), Some(5), None)
        );
        l.unlink(4);
        assert_eq!(contents(&l, 0), [3, 1, 5]);
        l.move_to_back(0, 3);
        assert_eq!(contents(&l, 0), [1, 5, 3]);
        l.move_to_back(1, 5);
        assert_eq!(contents(&l, 0), [1, 3]);
        assert_eq!(contents(&l, 1), [2, 5]);
        assert_eq!(l.list_of(5), Some(1));
        assert_eq!(l.pop_front(0), Some(1));
        assert_eq!(l.pop_front(0), Some(3));
        assert_eq!(l.pop_front(0), None);
        assert_eq!((l.len(0), l.len(1)), (0, 2));
        assert_eq!(l.list_of(3), None);
        l.unlink(3);
    }

    /// Walks `list` from its tail through the `prev` links.
    fn contents_backward(l: &FrameLists, list: usize) -> Vec<FrameId> {
        let mut out = Vec::new();
        let mut at = l.tail[list];
        while at != NIL {
            out.push(at);
            at = l.links[at as usize].prev;
        }
        out.reverse();
        out
    }

    /// Random pushes, unlinks, pops and moves (within a list, from head,
    /// middle and tail, and across lists) agree with a plain model, in
    /// both link directions.
    #[test]
    fn agrees_with_a_model_of_vectors() {
        const FRAMES: u32 = 12;
        let mut l = FrameLists::new(FRAMES as usize, 3);
        let mut model: Vec<Vec<FrameId>> = vec![Vec::new(); 3];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let frame = (x % u64::from(FRAMES)) as FrameId;
            let list = ((x >> 8) % 3) as usize;
            let on = model.iter().position(|m| m.contains(&frame));
            match (x >> 16) % 4 {
                0 if on.is_none() => {
                    l.push_back(list, frame);
                    model[list].push(frame);
                }
                1 => {
                    l.unlink(frame);
                    if let Some(o) = on {
                        model[o].retain(|&f| f != frame);
                    }
                }
                2 => {
                    let popped = l.pop_front(list);
                    let expected = (!model[list].is_empty()).then(|| model[list].remove(0));
                    assert_eq!(popped, expected);
                }
                _ => {
                    l.move_to_back(list, frame);
                    if let Some(o) = on {
                        model[o].retain(|&f| f != frame);
                    }
                    model[list].push(frame);
                }
            }
            for (i, m) in model.iter().enumerate() {
                assert_eq!(contents(&l, i), *m);
                assert_eq!(contents_backward(&l, i), *m);
                assert_eq!(l.len(i), m.len());
            }
        }
    }
}
