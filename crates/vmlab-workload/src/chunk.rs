//! A stream read a chunk at a time ([`ChunkedOps`]): the driver walks a
//! slice of accesses in a row, and takes a system call (or an error) on
//! its own between slices. Matching an `Option<Result<Op, _>>` per access
//! moved every access through the stack several times over; a slice hands
//! each one to the hot loop straight from the reader's buffer.
//!
//! [`Batched`] turns any stream of [`Op`]s into chunks through a buffer
//! of [`BATCH_ACCESSES`]; a reader that already parses ahead into a buffer
//! (the lackey reader) lends its own slice instead.

use crate::op::{MemRef, Op};
use crate::syscall::Syscall;
use crate::trace::TraceError;

/// A stretch of a stream: accesses in the stream's order, or one system
/// call.
#[derive(Debug)]
pub enum Chunk<'a> {
    /// Accesses in a row (never empty).
    Accesses(&'a [MemRef]),
    /// An address-space system call and its recorded result.
    Syscall(Syscall),
}

/// A stream of accesses and system calls, read a [`Chunk`] at a time.
pub trait ChunkedOps {
    /// The next chunk; `None` at the end. After an error the stream
    /// gives nothing more that means anything.
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>>;
}

impl<T: ChunkedOps + ?Sized> ChunkedOps for &mut T {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        (**self).read_chunk()
    }
}

/// Every op of `chunks` in order, errors included: the stream taken apart
/// again, one op per access (what a reader's `next_op` gives).
pub fn ops_of(mut chunks: impl ChunkedOps) -> Vec<Result<Op, TraceError>> {
    let mut ops = Vec::new();
    while let Some(chunk) = chunks.read_chunk() {
        match chunk {
            Ok(Chunk::Accesses(accesses)) => {
                ops.extend(accesses.iter().map(|&r| Ok(Op::Access(r))));
            }
            Ok(Chunk::Syscall(call)) => ops.push(Ok(Op::Syscall(call))),
            Err(e) => ops.push(Err(e)),
        }
    }
    ops
}

/// Accesses a [`Batched`] stream gathers before handing them on.
pub const BATCH_ACCESSES: usize = 256;

/// Any stream of [`Op`]s read as chunks: accesses gathered in a buffer up
/// to [`BATCH_ACCESSES`] or the next system call or error, which waits for
/// the following chunk.
#[derive(Debug)]
pub struct Batched<I> {
    ops: I,
    buffer: Vec<MemRef>,
    /// What stopped the last gathering early: given next.
    waiting: Option<Result<Syscall, TraceError>>,
}

impl<I: Iterator<Item = Result<Op, TraceError>>> Batched<I> {
    /// Chunks of `ops`.
    pub fn new(ops: I) -> Batched<I> {
        Batched {
            ops,
            buffer: Vec::with_capacity(BATCH_ACCESSES),
            waiting: None,
        }
    }
}

impl<I: Iterator<Item = Result<Op, TraceError>>> ChunkedOps for Batched<I> {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        if let Some(waiting) = self.waiting.take() {
            return Some(waiting.map(Chunk::Syscall));
        }
        self.buffer.clear();
        while self.buffer.len() < BATCH_ACCESSES {
            match self.ops.next() {
                Some(Ok(Op::Access(r))) => self.buffer.push(r),
                Some(Ok(Op::Syscall(call))) => {
                    self.waiting = Some(Ok(call));
                    break;
                }
                Some(Err(e)) => {
                    self.waiting = Some(Err(e));
                    break;
                }
                None => break,
            }
        }
        if self.buffer.is_empty() {
            return self.waiting.take().map(|w| w.map(Chunk::Syscall));
        }
        Some(Ok(Chunk::Accesses(&self.buffer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::AddressCall;

    fn call(n: u64) -> Syscall {
        Syscall {
            call: AddressCall::Brk { addr: n },
            result: Ok(n),
        }
    }

    /// The chunks of `ops` flattened back into ops, errors as their text.
    fn flatten(ops: Vec<Result<Op, TraceError>>) -> Vec<Result<Op, String>> {
        ops_of(Batched::new(ops.into_iter()))
            .into_iter()
            .map(|op| op.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn accesses_are_gathered_a_batch_at_a_time() {
        let ops = (0..1000u64).map(|i| Ok(Op::Access(MemRef::read(i, 1))));
        let mut chunks = Batched::new(ops);
        let mut lengths = Vec::new();
        while let Some(Ok(Chunk::Accesses(rs))) = chunks.read_chunk() {
            lengths.push(rs.len());
        }
        assert_eq!(lengths, [256, 256, 256, 232]);
    }

    #[test]
    fn chunks_keep_every_op_in_order_across_batch_boundaries() {
        let mut ops = Vec::new();
        for i in 0..1000u64 {
            ops.push(Op::Access(MemRef::read(i * 8, 8)));
            if i % 300 == 7 || i == 511 || i == 512 {
                ops.push(Op::Syscall(call(i)));
            }
        }
        let back = flatten(ops.iter().copied().map(Ok).collect());
        assert_eq!(back, ops.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_comes_after_the_accesses_before_it() {
        let err = TraceError::at_line(&"t".into(), 3, 1, "an access", "x".into());
        let ops = vec![
            Ok(Op::Access(MemRef::read(0, 1))),
            Ok(Op::Access(MemRef::write(8, 1))),
            Err(err),
        ];
        let back = flatten(ops);
        assert_eq!(back.len(), 3);
        assert_eq!(back[1], Ok(Op::Access(MemRef::write(8, 1))));
        assert!(back[2].as_ref().is_err_and(|e| e.contains("t:3:1")));
    }
}
