//! vmlab's kernel memory manager, on top of `vmlab-hw`.
//!
//! Module map:
//! - [`policy`]: page replacement behind one trait, one file per policy,
//!   and a replacement-only simulator used to test them and to run traces
//!   fast.
pub mod policy;
