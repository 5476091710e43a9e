//! The element every workload stream is made of: [`MemRef`], one memory
//! access, and [`page_pieces`], which splits an access that crosses page
//! boundaries into the per-page accesses the hardware would perform;
//! [`Op`], an access or a recorded system call, for streams that carry
//! both (a real program's trace).
//!
//! Streams are plain iterators so that they are consumed lazily and a
//! 10 GB trace runs in constant memory: generators are
//! `Iterator<Item = MemRef>` (they cannot fail), trace readers are
//! `Iterator<Item = Result<MemRef, TraceError>>` (see [`crate::trace`]).

use crate::syscall::Syscall;
use vmlab_hw::AccessKind;

/// One step of a stream that carries system calls as well as accesses, in
/// the order the program made them. Accesses stay [`MemRef`]s: a reader's
/// plain `Iterator<Item = MemRef>` side skips the calls, so consumers that
/// only count pages pay one branch for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A memory access.
    Access(MemRef),
    /// An address-space system call and its recorded result.
    Syscall(Syscall),
}

/// Where vmlab's synthetic streams put their first page (generators by
/// default, oracleGeneral objects always): above the null page and the low
/// addresses a program's text takes.
pub const FIRST_STREAM_ADDR: u64 = 0x1000_0000;

/// One memory access: `size` bytes at virtual address `addr`.
///
/// Copy and 32 bytes, so streams pass it by value through the hot loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemRef {
    /// Virtual address of the first byte.
    pub addr: u64,
    /// Bytes accessed (at least 1).
    pub size: u32,
    /// Load, store or instruction fetch.
    pub kind: AccessKind,
    /// The value stored or loaded, when the source knows it (scripts do,
    /// most traces do not); little-endian, meaningful for sizes up to 8.
    pub value: Option<u64>,
}

impl MemRef {
    /// A data load of `size` bytes at `addr`, value unknown.
    pub fn read(addr: u64, size: u32) -> MemRef {
        MemRef {
            addr,
            size,
            kind: AccessKind::Read,
            value: None,
        }
    }

    /// A data store of `size` bytes at `addr`, value unknown.
    pub fn write(addr: u64, size: u32) -> MemRef {
        MemRef {
            addr,
            size,
            kind: AccessKind::Write,
            value: None,
        }
    }

    /// An instruction fetch of `size` bytes at `addr`.
    pub fn fetch(addr: u64, size: u32) -> MemRef {
        MemRef {
            addr,
            size,
            kind: AccessKind::Fetch,
            value: None,
        }
    }

    /// Whether the access touches more than one page of `page_size` bytes
    /// (a power of two).
    #[inline]
    pub fn crosses_page(&self, page_size: u64) -> bool {
        let offset = self.addr & (page_size - 1);
        offset + u64::from(self.size) > page_size
    }
}

/// The pieces of `r` that fall in successive pages of `page_size` bytes (a
/// power of two): `r` itself when it stays inside one page, otherwise one
/// access per page touched, in address order. An access running past the
/// top of the address space wraps to address 0, as the hardware's adder
/// does.
///
/// A known value is divided among the pieces little-endian: the first piece
/// gets the low-order bytes.
///
/// # Panics
/// If `page_size` is not a power of two (a caller's bug: page sizes come
/// from a validated architecture).
pub fn page_pieces(r: MemRef, page_size: u64) -> PagePieces {
    assert!(
        page_size.is_power_of_two(),
        "page size {page_size} is not a power of two"
    );
    PagePieces {
        rest: r,
        done: 0,
        page_size,
        finished: r.size == 0,
    }
}

/// Whether `r` lies within one page of `page_size` bytes (a power of
/// two), so [`page_pieces`] would give it back whole: the common case,
/// checked without building the iterator.
#[inline]
pub fn within_page(r: &MemRef, page_size: u64) -> bool {
    r.size != 0 && (r.addr & (page_size - 1)) + u64::from(r.size) <= page_size
}

/// Iterator returned by [`page_pieces`]; holds no heap memory.
#[derive(Clone, Debug)]
pub struct PagePieces {
    /// What is still to be split: the whole access minus the pieces given.
    rest: MemRef,
    /// Bytes already given out, to shift the value by.
    done: u32,
    page_size: u64,
    finished: bool,
}

impl Iterator for PagePieces {
    type Item = MemRef;

    #[inline]
    fn next(&mut self) -> Option<MemRef> {
        if self.finished {
            return None;
        }
        let r = self.rest;
        let room = self.page_size - (r.addr & (self.page_size - 1));
        if u64::from(r.size) <= room {
            self.finished = true;
            return Some(MemRef {
                value: shifted(r.value, self.done, r.size),
                ..r
            });
        }
        // `room < size <= u32::MAX`, so the cast is lossless.
        let first = room as u32;
        let piece = MemRef {
            size: first,
            value: shifted(r.value, self.done, first),
            ..r
        };
        self.rest.addr = r.addr.wrapping_add(room);
        self.rest.size = r.size - first;
        self.done += first;
        Some(piece)
    }
}

/// Bytes `skip..skip + len` of a little-endian value, or `None` when the
/// value is unknown or those bytes lie beyond its 8.
fn shifted(value: Option<u64>, skip: u32, len: u32) -> Option<u64> {
    let v = value?;
    if skip >= 8 {
        return None;
    }
    let v = v >> (8 * skip);
    Some(if len >= 8 {
        v
    } else {
        v & ((1u64 << (8 * len)) - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memref_stays_small() {
        assert!(size_of::<MemRef>() <= 32);
    }

    #[test]
    fn access_inside_a_page_is_one_piece() {
        let r = MemRef::read(0x1ff8, 8);
        assert!(!r.crosses_page(4096));
        assert_eq!(page_pieces(r, 4096).collect::<Vec<_>>(), vec![r]);
    }

    #[test]
    fn crossing_access_splits_in_two_with_its_value() {
        let r = MemRef {
            value: Some(0x8877_6655_4433_2211),
            ..MemRef::write(0x0ffd, 8)
        };
        assert!(r.crosses_page(4096));
        let p: Vec<_> = page_pieces(r, 4096).collect();
        assert_eq!(
            p,
            vec![
                MemRef {
                    value: Some(0x33_2211),
                    ..MemRef::write(0x0ffd, 3)
                },
                MemRef {
                    value: Some(0x88_7766_5544),
                    ..MemRef::write(0x1000, 5)
                },
            ]
        );
    }

    #[test]
    fn wide_access_on_tiny_pages_gives_one_piece_per_page() {
        let p: Vec<_> = page_pieces(MemRef::fetch(30, 70), 32).collect();
        let spans: Vec<_> = p.iter().map(|r| (r.addr, r.size)).collect();
        assert_eq!(spans, vec![(30, 2), (32, 32), (64, 32), (96, 4)]);
    }

    #[test]
    fn access_at_the_top_wraps() {
        let p: Vec<_> = page_pieces(MemRef::read(u64::MAX - 1, 4), 4096).collect();
        let spans: Vec<_> = p.iter().map(|r| (r.addr, r.size)).collect();
        assert_eq!(spans, vec![(u64::MAX - 1, 2), (0, 2)]);
    }
}
