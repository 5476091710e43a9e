//! Scenario scripts in Rhai: a script is the program of a simulated
//! process on a [`Kernel`](vmlab_kernel::Kernel), with vmlab's C library
//! ([`vmlab_libc`]) linked in. It makes every system call by its C name
//! with the C constants (`mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE |
//! MAP_ANONYMOUS, -1, 0)`), calls the library's functions (`malloc`,
//! `fopen`, `printf`, `memcpy`, ...), loads and stores
//! bytes, integers and strings, runs bulk operations natively, starts
//! children with `fork(|| { ... })` (the body runs as the child, to its
//! end, then the parent goes on) and collects them with `wait`, and
//! asserts, so a scenario doubles as a test. A signal ends only the
//! process it hits (its parent sees it in `wait`'s status); a script
//! error names `FILE:LINE:COLUMN`.
//!
//! Module map:
//! - [`engine`]: running a script (limits, the first process, the outcome).
//! - `bindings`: the system calls, processes, memory and checks a script
//!   can call, and the constants it sees.
//! - `libc_calls`: the C library's functions and streams.
//! - `experiments`: runs on machines of their own (a reference string on
//!   a replacement model, paging against segmentation).
//! - `session`: the C library (which owns the kernel) and the script's
//!   processes (current process, errno, transcript).
//! - `bulk`: fill, copy, compare and touch, executed natively.
//! - [`errors`]: script errors with their place.

mod bindings;
mod bulk;
pub mod engine;
pub mod errors;
mod experiments;
mod libc_calls;
mod session;

pub use engine::{
    run_file, run_source, run_source_keeping_machine, Assertions, ScriptOptions, ScriptOutcome,
};
pub use errors::ScriptError;
