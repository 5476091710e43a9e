//! Shared anonymous memory. Linux backs every `MAP_SHARED | MAP_ANONYMOUS`
//! mapping with a shmem object of its own; its pages belong to the object,
//! not to any process, so every process mapping it (the one that called
//! mmap and the children that inherited the mapping by fork) faults in the
//! same page, whether it is resident or out on swap. [`ShmemPages`] keeps
//! each object page's location by (object, page index) and, for resident
//! pages, the way back from the frame.

use crate::policy::FrameId;
use std::collections::BTreeMap;
use vmlab_hw::intmap::IntMap;

/// An object page: which object, and the page's index within it.
pub(crate) type ShmemKey = (u64, u64);

/// Where an object page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShmemPage {
    /// In a frame.
    Resident(FrameId),
    /// In a swap slot, on which the object holds a reference.
    Swapped(u32),
}

/// Every shared anonymous object's pages.
#[derive(Debug, Default)]
pub(crate) struct ShmemPages {
    pages: BTreeMap<ShmemKey, ShmemPage>,
    key_of_frame: IntMap<ShmemKey>,
}

/// The key the replacement policy knows an object's page by, whoever maps
/// it (the page outlives its mappings): apart from every process page's
/// (whose keys have the pid in bits 48 up, and pids stay far below 2^14)
/// and the page cache's (bit 63 set and, for the first 2^22 files, bit 62
/// clear).
pub(crate) fn policy_key((object, index): ShmemKey) -> u64 {
    (3 << 62) | ((object << 40) ^ index)
}

impl ShmemPages {
    /// Where the page `key` is, if it was ever touched.
    pub(crate) fn get(&self, key: ShmemKey) -> Option<ShmemPage> {
        self.pages.get(&key).copied()
    }

    /// Records that the page `key` is now in `frame`.
    pub(crate) fn set_resident(&mut self, key: ShmemKey, frame: FrameId) {
        self.pages.insert(key, ShmemPage::Resident(frame));
        self.key_of_frame.insert(u64::from(frame), key);
    }

    /// The object page `frame` holds, if it holds one.
    pub(crate) fn key_of(&self, frame: FrameId) -> Option<ShmemKey> {
        self.key_of_frame.get(&u64::from(frame)).copied()
    }

    /// Records that the page in `frame` went out to swap `slot`.
    pub(crate) fn set_swapped(&mut self, frame: FrameId, slot: u32) {
        if let Some(key) = self.key_of_frame.remove(&u64::from(frame)) {
            self.pages.insert(key, ShmemPage::Swapped(slot));
        }
    }

    /// The objects with pages.
    pub(crate) fn objects(&self) -> Vec<u64> {
        let mut objects: Vec<u64> = self.pages.keys().map(|&(o, _)| o).collect();
        objects.dedup();
        objects
    }

    /// Removes every page of `object`, returning where each was.
    pub(crate) fn remove_object(&mut self, object: u64) -> Vec<ShmemPage> {
        let keys: Vec<ShmemKey> = self
            .pages
            .range((object, 0)..=(object, u64::MAX))
            .map(|(&k, _)| k)
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let page = self.pages.remove(&k)?;
                if let ShmemPage::Resident(frame) = page {
                    self.key_of_frame.remove(&u64::from(frame));
                }
                Some(page)
            })
            .collect()
    }
}
