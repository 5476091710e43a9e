//! Converting a trace to vmlab-bin, zstd-compressed ([`to_vmlab_bin_zst`]):
//! what `vmlab record` does with Valgrind's log, keeping the program's
//! address-space system calls in order with its accesses. The counts of
//! what was written come back as a [`Converted`].

use super::bin::BinWriter;
use super::{TraceError, TraceReader};
use crate::op::Op;
use crate::syscall::CALL_NAMES;
use std::io::{self, Write};

/// zstd's default level: fast to write, and a lackey trace's
/// repetitive records compress well at it.
const ZSTD_LEVEL: i32 = 3;

/// What a conversion wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Converted {
    /// Memory accesses.
    pub accesses: u64,
    /// System calls, by [`CALL_NAMES`] index.
    pub syscalls: [u64; CALL_NAMES.len()],
    /// Malformed lines skipped (with the reader's skip mode).
    pub skipped_lines: u64,
}

impl Converted {
    /// All system calls kept.
    pub fn total_syscalls(&self) -> u64 {
        self.syscalls.iter().sum()
    }
}

/// Why a conversion stopped.
#[derive(Debug)]
pub enum ConvertError {
    /// The input trace is malformed or unreadable.
    Read(TraceError),
    /// The output could not be written.
    Write(io::Error),
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvertError::Read(e) => write!(f, "{e}"),
            ConvertError::Write(e) => write!(f, "cannot write the trace: {e}"),
        }
    }
}

impl std::error::Error for ConvertError {}

/// Writes every access and system call of `reader` to `out` as a
/// zstd-compressed vmlab-bin trace; returns the counts and `out`.
pub fn to_vmlab_bin_zst<W: Write>(
    reader: &mut TraceReader,
    out: W,
) -> Result<(Converted, W), ConvertError> {
    let encoder =
        zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(ConvertError::Write)?;
    let mut writer = BinWriter::new(encoder).map_err(ConvertError::Write)?;
    let mut counts = Converted::default();
    while let Some(op) = reader.next_op() {
        let op = op.map_err(ConvertError::Read)?;
        match &op {
            Op::Access(_) => counts.accesses += 1,
            Op::Syscall(c) => counts.syscalls[usize::from(c.call.code())] += 1,
        }
        writer.write_op(&op).map_err(ConvertError::Write)?;
    }
    counts.skipped_lines = reader.skipped();
    let out = writer
        .finish()
        .and_then(|encoder| encoder.finish())
        .map_err(ConvertError::Write)?;
    Ok((counts, out))
}
