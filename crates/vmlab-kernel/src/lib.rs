//! vmlab's kernel memory manager, on top of `vmlab-hw`.
//!
//! Module map:
//! - [`policy`]: page replacement behind one trait, one file per policy,
//!   and a replacement-only simulator used to test them and to run traces
//!   fast.
//! - [`blockdev`]: block devices, a latency model and counters for a disk
//!   (hard disk, SSD and NVMe presets).
//! - [`swap`]: the swap area, page-sized slots with reference counts on a
//!   block device, holding swapped-out pages' bytes.
//! - [`cost`]: the cost model that turns counted events into user, kernel
//!   and disk time.
//! - [`kernel`]: the machine and its processes, the API every layer above
//!   uses (spawn, fork, exec, exit, wait, mmap, munmap, mprotect, brk, user
//!   loads and stores).
//! - [`fault`]: the page-fault handler, eviction and the OOM killer.
//! - [`frames`]: the frame table with its reverse map.
//! - [`freespace`]: free-space allocators for variable-size segments
//!   (first, best, worst and next fit with coalescing and compaction; the
//!   binary buddy allocator) behind one trait.
//! - [`process`]: processes, signals, exit status, personalities.
//! - [`shmem`]: shared anonymous memory's pages, shared by every process
//!   mapping the object.
//! - [`abi`]: Linux x86-64's numbers for open, mmap, msync, madvise,
//!   lseek flags and errno values.
//! - [`fs`]: the in-memory file system (files with contents, names, open
//!   file descriptions, per-process descriptor tables).
//! - [`tty`]: the terminal: a character device whose output is kept as
//!   a transcript, and isatty's question.
//! - [`pagecache`]: file pages in frames, shared by read/write and file
//!   mappings, with dirty tracking and write-back.
//! - [`syscall`]: Linux's system calls with their errno results, on top of
//!   the kernel API; [`syscall_entry`]: their entry points, which report
//!   each call to the explanation stream.
//! - `held_touches`: touches held back from a policy whose touches
//!   collapse, handed over before its next other call.
//! - [`hugetlb`]: the huge-page pool reserved at boot and MAP_HUGETLB
//!   mappings of it.
//! - [`machine`]: machine files, a whole [`KernelConfig`] in TOML, and
//!   settings laid over one another with where each was given.
//! - [`units`]: the integers and sizes (`64MiB`) users type.
//! - [`region`]: a process's address space as Linux keeps it, sorted
//!   non-overlapping regions split and merged by mmap, munmap, mprotect,
//!   brk and stack growth, and where a new mapping goes.
//! - [`explain`]: the explanation stream (faults and how they were
//!   resolved, evictions and why, system calls, signals), off by default.
pub mod abi;
pub mod blockdev;
pub mod cost;
pub mod explain;
pub mod fault;
pub mod frames;
pub mod freespace;
pub mod fs;
mod held_touches;
pub mod hugetlb;
pub mod kernel;
pub mod machine;
pub mod pagecache;
pub mod policy;
pub mod process;
pub mod region;
pub mod shmem;
pub mod swap;
pub mod syscall;
pub mod syscall_entry;
pub mod tty;
pub mod units;

pub use kernel::{Errno, Kernel, KernelConfig, KernelCounters, ReplacementScope, BACKING_STORE};
pub use process::{ExitStatus, Personality, Signal, SignalCode, SignalKind};
