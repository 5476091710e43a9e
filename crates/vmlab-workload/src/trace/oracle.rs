//! libCacheSim's oracleGeneral binary trace format, so research users can
//! run the traces they already have (libCacheSim
//! `traceReader/customizedReader/oracle/oracleGeneralBin.h`).
//!
//! No header; 24-byte packed little-endian records to the end of the
//! stream:
//!
//! ```text
//!   0  u32  clock_time         (seconds; ignored)
//!   4  u64  obj_id             (usually a hash of the object's name)
//!  12  u32  obj_size           (bytes; ignored: one object, one page)
//!  16  i64  next_access_vtime  (the oracle's next use; ignored)
//! ```
//!
//! Each object becomes a 1-byte read of a page of its own. Pages are
//! numbered in the order objects first appear, from [`FIRST_OBJECT_ADDR`]
//! up: ids are usually hashes spread over all 64 bits, which as addresses
//! would fall outside any user address space and cost a page-table page
//! (and a bitmap block of the driver's page set) per object; numbered
//! densely they make a compact address space whose page tables and
//! bookkeeping grow with the objects, like any cache simulator's index.
//! Only the equality of ids matters to a replacement policy, and that is
//! kept exactly. Cache studies treat every object as one unit, which is
//! what a page is to the replacement policy.

use super::input::Input;
use super::{ReadOptions, TraceError};
use crate::op::MemRef;
use std::io::Read;
use std::sync::Arc;
use vmlab_hw::intmap::IntMap;

/// The address of the first object's page: where vmlab's generators
/// start too.
pub const FIRST_OBJECT_ADDR: u64 = crate::op::FIRST_STREAM_ADDR;

/// Bytes per oracleGeneral record.
pub const RECORD_LEN: usize = 24;

/// Reads oracleGeneral records from an uncompressed source `R`.
pub struct OracleReader<R> {
    input: Input<R>,
    name: Arc<str>,
    page_size: u64,
    /// Object id → page index, in order of first appearance.
    page_of: IntMap<u64>,
    done: bool,
}

impl<R> std::fmt::Debug for OracleReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleReader")
            .field("name", &self.name)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl<R: Read> OracleReader<R> {
    /// A reader of `src`, which error messages call `name`; objects map to
    /// pages of `opts.page_size` bytes, numbered as they first appear.
    pub fn new(src: R, name: impl Into<Arc<str>>, opts: ReadOptions) -> OracleReader<R> {
        OracleReader::from_input(Input::new(src), name.into(), opts)
    }

    /// Whether the file is read in place (mapped, not decompressed).
    pub(crate) fn reads_in_place(&self) -> bool {
        self.input.in_place()
    }

    pub(crate) fn from_input(input: Input<R>, name: Arc<str>, opts: ReadOptions) -> Self {
        OracleReader {
            input,
            name,
            page_size: opts.page_size,
            page_of: IntMap::default(),
            done: false,
        }
    }

    #[cold]
    fn refill(&mut self) -> Result<(), TraceError> {
        self.input
            .fill(RECORD_LEN)
            .map_err(|e| TraceError::io(&self.name, e))
    }
}

impl<R: Read> Iterator for OracleReader<R> {
    type Item = Result<MemRef, TraceError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.input.available().len() < RECORD_LEN {
            if let Err(e) = self.refill() {
                self.done = true;
                return Some(Err(e));
            }
            let left = self.input.available().len();
            if left < RECORD_LEN {
                self.done = true;
                if left == 0 {
                    return None;
                }
                let at = self.input.offset();
                let found = format!("{left} trailing bytes");
                let e = TraceError::at_byte(&self.name, at, "a whole 24-byte record", found);
                return Some(Err(e));
            }
        }
        let rec = &self.input.available()[..RECORD_LEN];
        let obj_id = u64::from_le_bytes(rec[4..12].try_into().ok()?);
        self.input.consume(RECORD_LEN);
        let next = self.page_of.len() as u64;
        let page = *self.page_of.entry(obj_id).or_insert(next);
        // No overflow: the index is below the number of records read, far
        // fewer than 2^64 / page_size.
        let addr = FIRST_OBJECT_ADDR + page * self.page_size;
        Some(Ok(MemRef::read(addr, 1)))
    }
}
