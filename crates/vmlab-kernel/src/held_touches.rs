//! Touches the kernel holds back from a replacement policy whose touches
//! collapse ([`ReplacementPolicy::touches_collapse`]): between two other
//! calls on such a policy, only the order of each frame's last touch
//! matters, so a program alternating between a few pages (code, stack,
//! data) need not call the policy on every change of page. The kernel
//! hands the survivors over, oldest first, before the policy's next call
//! of any other kind ([`Kernel::with_policy`](crate::kernel::Kernel)).
//!
//! [`ReplacementPolicy::touches_collapse`]: crate::policy::ReplacementPolicy::touches_collapse

use crate::frames::Pid;
use crate::policy::FrameId;

/// Distinct frames held at most: more than the pages a program's
/// instruction stream and its data alternate between at once.
const HELD: usize = 4;

/// Frames touched since the policy's last call, in order of their last
/// touch (oldest first), all tracked by one owner's policy.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeldTouches {
    /// The policy's owner (0: the global policy).
    owner: Pid,
    frames: [FrameId; HELD],
    len: usize,
}

impl HeldTouches {
    /// Whether `frame` is the frame touched last: touching it again
    /// changes nothing.
    #[inline(always)]
    pub(crate) fn is_last(&self, frame: FrameId) -> bool {
        self.len > 0 && self.frames[self.len - 1] == frame
    }

    /// Whether no touches are held.
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Holds a touch of `frame` for `owner`'s policy, moving it to the
    /// newest end if held already; false when it cannot be held (another
    /// owner's touches are held, or as many other frames as fit): the
    /// caller hands the held touches over first.
    #[inline(always)]
    pub(crate) fn hold(&mut self, owner: Pid, frame: FrameId) -> bool {
        let len = self.len;
        if len > 0 && owner != self.owner {
            return false;
        }
        if let Some(at) = self.frames[..len].iter().position(|&f| f == frame) {
            // Shifted by hand: a slice rotation copies through memmove.
            for i in at..len - 1 {
                self.frames[i] = self.frames[i + 1];
            }
            self.frames[len - 1] = frame;
            return true;
        }
        if len == HELD {
            return false;
        }
        self.owner = owner;
        self.frames[len] = frame;
        self.len += 1;
        true
    }

    /// The held touches' owner and frames, oldest first; none are held
    /// after.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<(Pid, impl Iterator<Item = FrameId>)> {
        if self.len == 0 {
            return None;
        }
        let len = std::mem::take(&mut self.len);
        Some((self.owner, self.frames.into_iter().take(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(held: &mut HeldTouches) -> Option<(Pid, Vec<FrameId>)> {
        held.take().map(|(owner, frames)| (owner, frames.collect()))
    }

    #[test]
    fn frames_come_back_in_order_of_their_last_touch() {
        let mut held = HeldTouches::default();
        for frame in [7, 3, 7, 9, 3, 3] {
            assert!(held.hold(0, frame));
        }
        assert!(held.is_last(3) && !held.is_last(9));
        assert!(!held.is_empty());
        assert_eq!(taken(&mut held), Some((0, vec![7, 9, 3])));
        assert!(held.is_empty());
        assert_eq!(taken(&mut held), None);
    }

    #[test]
    fn a_fifth_frame_or_another_owner_is_refused() {
        let mut held = HeldTouches::default();
        for frame in 1..=HELD as FrameId {
            assert!(held.hold(2, frame));
        }
        assert!(!held.hold(2, 99));
        assert!(held.hold(2, 1), "a held frame moves to the newest end");
        assert!(!held.hold(5, 1), "another owner's policy");
        assert_eq!(taken(&mut held), Some((2, vec![2, 3, 4, 1])));
        assert!(held.hold(5, 1));
        assert_eq!(taken(&mut held), Some((5, vec![1])));
    }
}
