//! vmlab's simulated hardware.
//!
//! Module map:
//! - [`access`]: access kinds, privilege modes and decoded permissions.
//! - [`physmem`]: [`PhysMem`], lazily allocated simulated DRAM.
pub mod access;
pub mod physmem;

pub use access::{AccessKind, Mode, Perms};
pub use physmem::{Endian, PhysMem, PhysMemError};
