//! vmlab's workloads: where streams of memory references come from and
//! what is measured over them.
//!
//! Module map:
//! - [`compare`]: paging against segmentation on one allocation workload
//!   (fragmentation, table memory, translation cost, compaction cost).
//! - [`chunk`]: a stream read a slice of accesses at a time, the
//!   driver's hot loop's input.
//! - [`driver`]: runs a stream on a machine, full or replacement-only.
//! - [`op`]: [`MemRef`](op::MemRef), the one element of every stream, and
//!   splitting an access that crosses pages; [`Op`](op::Op), an access or
//!   a system call.
//! - [`syscall`]: the address-space system calls a real program's trace
//!   keeps (brk, mmap, munmap, mprotect, mremap) with their results.
//! - [`replay`]: applying those calls to a process during a run, so the
//!   replay has the regions the program had.
//! - [`pageset`]: the set of pages a stream touched, as a sparse bitmap.
//! - [`gen`]: seeded synthetic generators (sequential, strided, uniform,
//!   Zipf, loops, phases, matrix multiply, list chasing, stack, heap) and
//!   their command-line spec.
//! - [`trace`]: real traces read as streams (lackey text, address lists,
//!   vmlab-bin, libCacheSim oracleGeneral; gzip and zstd detected).
//! - [`script`]: scenario scripts in Rhai, run as simulated processes.
//! - [`mrc`]: miss-ratio curves: exact LRU at every memory size in one
//!   pass (stack distances), and SHARDS sampling for traces too big for it.
//! - [`sweep`]: one workload over many configurations in parallel, as a
//!   tidy table of rows; miss-ratio curves as rows of the same table.
//! - [`future`]: OPT's knowledge of the future, from a pre-pass over a
//!   workload known before it runs.

pub mod chunk;
pub mod compare;
pub mod driver;
pub mod future;
pub mod gen;
mod lean;
pub mod mrc;
pub mod op;
pub mod pageset;
pub mod replay;
pub mod script;
pub mod sweep;
pub mod syscall;
pub mod trace;
