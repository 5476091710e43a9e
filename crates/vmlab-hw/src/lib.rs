//! vmlab's simulated hardware: the bottom layer of the stack.
//!
//! Module map:
//! - [`access`]: access kinds, privilege modes and decoded permissions.
//! - [`physmem`]: [`PhysMem`], lazily allocated simulated DRAM.
//! - [`arch`]: translation schemes as data ([`Arch`]), their entry formats
//!   and the built-in presets.
//! - [`walk`]: the page-table walker.
//! - [`pagetable`]: the page-table editor ([`PageTable`]) the kernel uses.
//! - [`tlb`]: translation lookaside buffers.
//! - [`segment`]: segmentation, from base-and-bounds to x86-32 descriptors.
//! - [`mmu`]: the MMU that combines segmentation, TLBs and the walker.
//! - [`events`]: the event stream every step can report to.
//! - [`intmap`]: a hash map for the integer keys the simulator uses.
pub mod access;
pub mod arch;
pub mod events;
pub mod intmap;
pub mod mmu;
pub mod pagetable;
pub mod physmem;
pub mod prefetch;
pub mod segment;
pub mod tlb;
mod upper;
pub mod walk;

pub use access::{AccessKind, Mode, Perms};
pub use arch::{Arch, ArchError, ArchSpec};
pub use events::{Event, EventSink, NoEvents};
pub use mmu::{
    default_tlb, Access, AccessCost, Context, Mmu, MmuFault, MmuFaultKind, RepeatRun, Segmentation,
};
pub use pagetable::{MapError, Mapped, Mapping, PageTable, TableAllocator, TableArena};
pub use physmem::{ChunkPlace, Endian, PhysMem, PhysMemError};
pub use walk::{walk, PageFault, PageFaultCause, Translation};
