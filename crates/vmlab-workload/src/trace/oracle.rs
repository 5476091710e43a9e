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
//! Object `i` becomes a 1-byte read at `i * page_size` (wrapping, so an id
//! keeps its low `64 - log2(page_size)` bits: ids differing only in their
//! top bits share a page, which for hashed ids is as rare as a hash
//! collision). Cache studies treat every object as one unit, which is what
//! a page is to the replacement policy.

use super::input::Input;
use super::{ReadOptions, TraceError};
use crate::op::MemRef;
use std::io::Read;
use std::sync::Arc;

/// Bytes per oracleGeneral record.
pub const RECORD_LEN: usize = 24;

/// Reads oracleGeneral records from an uncompressed source `R`.
pub struct OracleReader<R> {
    input: Input<R>,
    name: Arc<str>,
    page_size: u64,
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
    /// pages of `opts.page_size` bytes.
    pub fn new(src: R, name: impl Into<Arc<str>>, opts: ReadOptions) -> OracleReader<R> {
        OracleReader::from_input(Input::new(src), name.into(), opts)
    }

    pub(crate) fn from_input(input: Input<R>, name: Arc<str>, opts: ReadOptions) -> Self {
        OracleReader {
            input,
            name,
            page_size: opts.page_size,
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
        Some(Ok(MemRef::read(obj_id.wrapping_mul(self.page_size), 1)))
    }
}
