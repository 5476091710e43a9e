//! The event stream: every step the hardware takes (segment check, TLB
//! probe, page-walk step, accessed/dirty update, TLB fill, fault) can be
//! handed to an [`EventSink`]. The walker and the MMU are generic over the
//! sink, and [`NoEvents`] declares itself disabled, so with no listener each
//! report compiles to nothing and the hot path pays nothing.

use crate::access::{AccessKind, Mode};
use crate::arch::pte::DecodedPte;
use crate::segment::SegmentFault;
use crate::tlb::TlbEntry;
use crate::walk::PageFault;
use serde::Serialize;

/// One step of the hardware, in the order it happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An access begins.
    Access {
        /// Virtual address.
        vaddr: u64,
        /// Read, write or fetch.
        kind: AccessKind,
        /// User or supervisor.
        mode: Mode,
        /// Address-space identifier in force.
        asid: u16,
    },
    /// The segmentation unit turned a logical address into a linear one.
    Segment {
        /// The offset within the segment (the logical address).
        offset: u64,
        /// The resulting linear (or, without paging, physical) address.
        linear: u64,
    },
    /// A TLB level was probed.
    TlbProbe {
        /// Index of the level in the TLB configuration.
        level: usize,
        /// Virtual address probed.
        vaddr: u64,
        /// The entry that hit, if any.
        hit: Option<TlbEntry>,
    },
    /// The walker read one page-table entry.
    WalkStep {
        /// Table level, 0 being the root.
        level: usize,
        /// Index into the table taken from the virtual address.
        index: u64,
        /// Physical address of the entry.
        pte_addr: u64,
        /// Raw value read.
        raw: u64,
        /// What the raw value means.
        decoded: DecodedPte,
    },
    /// The walker set an accessed or dirty flag in an entry.
    FlagUpdate {
        /// Table level of the entry.
        level: usize,
        /// Physical address of the entry.
        pte_addr: u64,
        /// Value before.
        old: u64,
        /// Value written.
        new: u64,
    },
    /// A translation was installed in a TLB level.
    TlbFill {
        /// Index of the level.
        level: usize,
        /// The entry installed.
        entry: TlbEntry,
        /// The valid entry it replaced, if any.
        evicted: Option<TlbEntry>,
    },
    /// An entry with insufficient rights or a stale dirty state was dropped
    /// so the access re-walks the tables.
    TlbInvalidate {
        /// Index of the level.
        level: usize,
        /// The entry dropped.
        entry: TlbEntry,
        /// Why it was dropped.
        reason: InvalidateReason,
    },
    /// The segmentation unit refused the access (serialised as its message).
    SegmentFault(#[serde(serialize_with = "as_message")] SegmentFault),
    /// The walk ended in a page fault.
    PageFault(PageFault),
    /// The access was translated.
    Translated {
        /// Virtual address.
        vaddr: u64,
        /// Physical address.
        paddr: u64,
        /// Page size of the translation, as a shift.
        page_shift: u8,
    },
}

fn as_message<S: serde::Serializer>(fault: &SegmentFault, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(fault)
}

/// Why the MMU dropped a TLB entry that hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidateReason {
    /// The cached rights do not allow the access; the tables may allow it
    /// now, so the walk decides.
    Rights,
    /// A write through an entry cached clean: the walker must set the dirty
    /// flag in memory.
    Clean,
}

/// A listener for hardware events.
pub trait EventSink {
    /// Whether events are wanted at all; `false` lets the compiler drop every
    /// report, including the work of building it.
    const ENABLED: bool = true;
    /// Receives one event.
    fn event(&mut self, event: Event);
}

/// The listener that wants nothing: zero cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    const ENABLED: bool = false;
    #[inline(always)]
    fn event(&mut self, _event: Event) {}
}

impl EventSink for Vec<Event> {
    fn event(&mut self, event: Event) {
        self.push(event);
    }
}

/// Reports `$event` to `$sink` only when the sink type wants events, so the
/// event is not even built otherwise.
macro_rules! emit {
    ($sink:expr, $event:expr) => {
        if $crate::events::enabled($sink) {
            $crate::events::EventSink::event($sink, $event);
        }
    };
}

/// Whether `sink`'s type wants events; a constant after inlining.
#[inline(always)]
pub(crate) fn enabled<S: EventSink>(_sink: &S) -> bool {
    S::ENABLED
}
pub(crate) use emit;
