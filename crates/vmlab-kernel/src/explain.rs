//! The explanation stream of the kernel and the layers above it: what the
//! fault handler found and did, which page the replacement policy evicted
//! and why (in the policy's own words), write-backs and swap-outs, TLB
//! shootdowns and flushes, each system call's entry and result and
//! signals, interleaved with the hardware's own steps
//! ([`vmlab_hw::Event`]) in the order they happened.
//!
//! Explaining is off unless a [`ExplainLog`] is installed
//! ([`Kernel::set_explain`]); then every access goes through the MMU with
//! a recording sink instead of [`vmlab_hw::NoEvents`], and the kernel
//! reports its own steps. With no log the cost is one branch per access
//! and nothing is built. The log keeps only a window of the stream (a run
//! can produce millions of events) and stops recording once the window is
//! past, so the rest of the run goes at full speed.
//!
//! The JSON form of [`Record`] is documented, field by field, in
//! `docs/explain-events.md`.

use crate::frames::{Owner, Pid};
use crate::kernel::{Errno, Kernel};
use crate::process::{ExitStatus, Signal};
use crate::region::{Prot, Region, RegionKind};
use serde::Serialize;
use vmlab_hw::{AccessKind, Event, EventSink, PageFaultCause};

/// One step of any layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Explained {
    /// A step of the hardware (TLB probe, walk step, flag update, fill).
    Hardware(Event),
    /// A step of the kernel.
    Kernel(KernelEvent),
}

/// Which layer a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The MMU and its TLBs.
    Hardware,
    /// The kernel: faults, replacement, swap, system calls.
    Kernel,
}

/// A numbered step, as `vmlab explain` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Position in the whole stream, from 1.
    pub seq: u64,
    /// The layer that took the step.
    pub layer: Layer,
    /// The process on whose behalf (0: the kernel itself).
    pub pid: Pid,
    /// The step.
    #[serde(flatten)]
    pub event: Explained,
}

/// A named argument of a system call or library call, rendered the way
/// C code would write it (`0x7f000`, `PROT_READ|PROT_WRITE`, `"data.bin"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallArg {
    /// The parameter's name in the manual page.
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

/// The name of a variadic argument (printf's values after the format),
/// which the manual does not name.
pub const VARIADIC: &str = "...";

impl CallArg {
    /// A number in decimal.
    pub fn num(name: &'static str, value: impl std::fmt::Display) -> CallArg {
        CallArg {
            name,
            value: value.to_string(),
        }
    }

    /// An address (or size best read in hex).
    pub fn addr(name: &'static str, value: u64) -> CallArg {
        CallArg {
            name,
            value: format!("{value:#x}"),
        }
    }

    /// A string argument, quoted as C source would.
    pub fn text(name: &'static str, value: &str) -> CallArg {
        CallArg {
            name,
            value: format!("{value:?}"),
        }
    }

    /// A protection argument by its `PROT_*` names.
    pub fn prot(name: &'static str, bits: u32) -> CallArg {
        CallArg {
            name,
            value: prot_names(bits),
        }
    }
}

/// `PROT_READ|PROT_WRITE` for the bits of a protection argument.
pub fn prot_names(bits: u32) -> String {
    let prot = Prot::from_bits_truncate(bits);
    if prot.is_empty() && bits == 0 {
        return "PROT_NONE".into();
    }
    let mut names: Vec<String> = [
        (Prot::READ, "PROT_READ"),
        (Prot::WRITE, "PROT_WRITE"),
        (Prot::EXEC, "PROT_EXEC"),
    ]
    .iter()
    .filter(|(p, _)| prot.contains(*p))
    .map(|(_, n)| (*n).to_string())
    .collect();
    let unknown = bits & !prot.bits();
    if unknown != 0 {
        names.push(format!("{unknown:#x}"));
    }
    names.join("|")
}

/// The region a faulting address fell in, as the fault handler saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RegionInfo {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Its protection, `rwx` style (`rw-`).
    pub prot: ProtText,
    /// What backs it.
    pub kind: RegionKindName,
}

/// A region's protection as three letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtText(pub Prot);

impl Serialize for ProtText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for ProtText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bit = |p: Prot, c: char| if self.0.contains(p) { c } else { '-' };
        write!(
            f,
            "{}{}{}",
            bit(Prot::READ, 'r'),
            bit(Prot::WRITE, 'w'),
            bit(Prot::EXEC, 'x')
        )
    }
}

/// What backs a region, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKindName {
    /// Private anonymous memory.
    Anonymous,
    /// Shared anonymous memory.
    SharedAnonymous,
    /// A private file mapping.
    PrivateFile,
    /// A shared file mapping.
    SharedFile,
    /// Trace-mode memory on the backing store.
    Backed,
    /// The brk heap.
    Heap,
    /// A stack.
    Stack,
    /// Huge pages from the boot-time pool (`MAP_HUGETLB`).
    HugeTlb,
}

impl RegionInfo {
    /// The summary of `region`.
    pub fn of(region: &Region) -> RegionInfo {
        let kind = match region.kind {
            RegionKind::Anonymous => RegionKindName::Anonymous,
            RegionKind::SharedAnonymous { .. } => RegionKindName::SharedAnonymous,
            RegionKind::File {
                file: crate::kernel::BACKING_STORE,
                ..
            } => RegionKindName::Backed,
            RegionKind::File { shared: true, .. } => RegionKindName::SharedFile,
            RegionKind::File { shared: false, .. } => RegionKindName::PrivateFile,
            RegionKind::Heap => RegionKindName::Heap,
            RegionKind::Stack { .. } => RegionKindName::Stack,
            RegionKind::HugeTlb { .. } => RegionKindName::HugeTlb,
        };
        RegionInfo {
            start: region.start,
            end: region.end,
            prot: ProtText(region.prot),
            kind,
        }
    }
}

/// One step of the kernel.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum KernelEvent {
    /// The fault handler took a page fault.
    Fault {
        /// The faulting address.
        vaddr: u64,
        /// The access that faulted.
        access: AccessKind,
        /// What the hardware reported.
        cause: PageFaultCause,
        /// The region the address lies in (`None`: no region; the handler
        /// may still grow the stack down to it).
        region: Option<RegionInfo>,
    },
    /// A read of untouched private memory mapped the shared zero page
    /// read-only.
    ZeroPageMapped {
        /// The page.
        vaddr: u64,
    },
    /// A zeroed frame was given to a page never touched before.
    DemandZero {
        /// The page.
        vaddr: u64,
        /// The frame.
        frame: u32,
    },
    /// A page came back from swap.
    SwapIn {
        /// The page.
        vaddr: u64,
        /// The swap slot it was read from.
        slot: u32,
        /// The frame it went into.
        frame: u32,
        /// The page was still in the swap cache: no disk read.
        cached: bool,
    },
    /// A page of a file mapping was found through the page cache.
    FilePage {
        /// The page.
        vaddr: u64,
        /// The file's id.
        file: u64,
        /// The page's index in the file.
        index: u64,
        /// The cache frame.
        frame: u32,
        /// The page had to be read from the disk (a major fault).
        read: bool,
    },
    /// A page of a shared anonymous object already in memory was mapped.
    SharedPageMapped {
        /// The page.
        vaddr: u64,
        /// The object's frame.
        frame: u32,
    },
    /// A page of trace-mode memory was read in from the backing store.
    BackingRead {
        /// The page.
        vaddr: u64,
        /// The frame.
        frame: u32,
    },
    /// Copy-on-write: a write to a shared page got a copy of its own.
    CowCopy {
        /// The page.
        vaddr: u64,
        /// The frame shared until now (the zero page included).
        from: u32,
        /// The new private frame.
        to: u32,
        /// The shared frame was the zero page (the first write to memory
        /// only read so far): the copy is a zeroed frame.
        zero_page: bool,
    },
    /// Copy-on-write without a copy: the writer was the page's only user,
    /// so its entry was simply made writable.
    CowReuse {
        /// The page.
        vaddr: u64,
        /// The frame.
        frame: u32,
    },
    /// The stack region grew down to cover a faulting address.
    StackGrowth {
        /// The faulting address.
        vaddr: u64,
        /// The stack region's new start.
        new_start: u64,
    },
    /// Software set the accessed or dirty flag the hardware left to it.
    FlagsSet {
        /// The page.
        vaddr: u64,
        /// The dirty flag was set too.
        dirty: bool,
    },
    /// An entry's rights lagged its region's (after mprotect) and were
    /// brought in line.
    RightsRefreshed {
        /// The page.
        vaddr: u64,
    },
    /// The replacement policy chose a frame to free.
    Eviction {
        /// The frame.
        frame: u32,
        /// Who mapped it (pid and virtual page number).
        owners: Vec<Owner>,
        /// The page had been modified.
        dirty: bool,
        /// The policy's name.
        policy: &'static str,
        /// Why the policy chose it, in the policy's own terms.
        reason: String,
    },
    /// A page was written to a swap slot.
    SwapOut {
        /// The frame.
        frame: u32,
        /// The slot.
        slot: u32,
    },
    /// A page was written back to its file (or trace-mode backing store).
    WriteBack {
        /// The frame.
        frame: u32,
        /// The file's id (0: the backing store).
        file: u64,
        /// The page's index in the file.
        index: u64,
    },
    /// A clean evicted page was dropped without I/O (its copy on disk or
    /// swap is current).
    CleanDrop {
        /// The frame.
        frame: u32,
    },
    /// The clock interrupt: the policy sampled and cleared the referenced
    /// flags of the pages it tracks (aging, NFU, NRU); each flag cleared
    /// follows as a shootdown.
    ClockTick {
        /// References made before the tick.
        references: u64,
        /// The policy's name.
        policy: &'static str,
    },
    /// One page's TLB entry was invalidated because its page-table entry
    /// changed.
    Shootdown {
        /// Whose entry.
        target: Pid,
        /// The page.
        vaddr: u64,
    },
    /// A whole address space's (or the whole TLB's) entries were dropped.
    TlbFlush {
        /// The address-space identifier flushed (`None`: everything).
        asid: Option<u16>,
        /// Why.
        reason: FlushReason,
    },
    /// The CPU switched to another process's page tables.
    ContextSwitch {
        /// The process now running.
        to: Pid,
        /// Its address-space identifier.
        asid: u16,
    },
    /// A system call began.
    SyscallEnter {
        /// The call's name (`mmap`).
        name: &'static str,
        /// Its arguments.
        args: Vec<CallArg>,
    },
    /// A system call returned.
    SyscallExit {
        /// The call's name.
        name: &'static str,
        /// The value it returned, when it succeeded.
        value: Option<String>,
        /// The errno name, when it failed.
        errno: Option<Errno>,
    },
    /// A signal ended a process.
    Signal {
        /// The signal, its code and address.
        signal: Signal,
        /// Why, in words.
        reason: String,
    },
    /// The out-of-memory killer ended a process.
    OomKill {
        /// The process killed.
        victim: Pid,
        /// Why.
        reason: String,
    },
    /// The program called a C library function (vmlab-libc); the system
    /// calls it makes follow as their own events, then its return.
    LibraryCall {
        /// The function's C name.
        name: &'static str,
        /// Its arguments.
        args: Vec<CallArg>,
    },
    /// A C library function returned to the program (functions that do
    /// not return, exit and a successful execve, have none).
    LibraryReturn {
        /// The function's C name.
        name: &'static str,
        /// The value it returned, as C would print it; `None` for a
        /// `void` function or a failure.
        value: Option<String>,
        /// Why it failed (the errno name, or what ended the process).
        error: Option<String>,
        /// The system calls it made on the way.
        system_calls: u64,
    },
}

/// Why TLB entries were flushed wholesale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushReason {
    /// fork write-protected the parent's pages.
    Fork,
    /// A context switch without ASIDs, or to an ASID another process used.
    ContextSwitch,
    /// The process's address space went away (exit, execve).
    AddressSpaceGone,
}

/// A window of the explanation stream: events `from ..= from + count - 1`
/// (numbered from 1) are kept, the ones before are counted, and one more
/// past the window is counted so the caller knows whether the stream went
/// on; after it, nothing is recorded.
#[derive(Clone, Debug)]
pub struct ExplainLog {
    from: u64,
    last: u64,
    seen: u64,
    kept: Vec<Record>,
}

impl ExplainLog {
    /// A log keeping `count` events from event `from` (1 is the first).
    pub fn window(from: u64, count: u64) -> ExplainLog {
        let from = from.max(1);
        ExplainLog {
            from,
            last: from.saturating_add(count).saturating_sub(1),
            seen: 0,
            kept: Vec::new(),
        }
    }

    /// Whether another event is wanted (the window, or the one after it
    /// that tells whether the stream goes on).
    #[inline]
    pub fn wants(&self) -> bool {
        self.seen <= self.last
    }

    /// Records `event` of `pid`, numbering it.
    pub fn push(&mut self, pid: Pid, event: Explained) {
        if !self.wants() {
            return;
        }
        self.seen += 1;
        if (self.from..=self.last).contains(&self.seen) {
            let layer = match &event {
                Explained::Hardware(_) => Layer::Hardware,
                Explained::Kernel(_) => Layer::Kernel,
            };
            self.kept.push(Record {
                seq: self.seen,
                layer,
                pid,
                event,
            });
        }
    }

    /// The events kept, in order.
    pub fn records(&self) -> &[Record] {
        &self.kept
    }

    /// Whether the stream went on past the window.
    pub fn more(&self) -> bool {
        self.seen > self.last
    }

    /// Events numbered so far (at most one past the window).
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// The hardware's event sink while explaining: records each step for `pid`.
pub(crate) struct LogSink<'a> {
    pub(crate) log: &'a mut ExplainLog,
    pub(crate) pid: Pid,
}

impl EventSink for LogSink<'_> {
    fn event(&mut self, event: Event) {
        self.log.push(self.pid, Explained::Hardware(event));
    }
}

/// Why a signal was sent, in words.
pub fn signal_reason(signal: Signal) -> &'static str {
    use crate::process::{SignalCode, SignalKind};
    match (signal.kind, signal.code) {
        (SignalKind::Sigkill, _) => {
            "the kernel killed the process (out of memory, or killed during the access)"
        }
        (_, SignalCode::SegvMaperr) => {
            "no region maps the address (and the stack may not grow to it)"
        }
        (_, SignalCode::SegvAccerr) => "the region does not allow this access",
        (_, SignalCode::BusAdrerr) => {
            "the page has no backing (past the end of the mapped file, or a bad page-table entry)"
        }
        (_, SignalCode::Kernel) => "sent by the kernel",
    }
}

/// A system call's result in words: what [`KernelEvent::SyscallExit`]
/// shows as its value.
pub trait CallValue {
    /// The value as C would print it.
    fn describe(&self) -> String;
}

impl CallValue for () {
    fn describe(&self) -> String {
        "0".into()
    }
}

/// `ioctl(fd, TCGETS)`'s answer ([`Kernel::sys_isatty`]): 0 for a
/// terminal; on Linux, ENOTTY for anything else.
impl CallValue for bool {
    fn describe(&self) -> String {
        if *self {
            "0 (a terminal)".into()
        } else {
            "-1 ENOTTY (not a terminal)".into()
        }
    }
}

/// fstat(2)'s answer, with the fields stdio reads, as strace shows them.
impl CallValue for crate::fs::FileStat {
    fn describe(&self) -> String {
        if self.char_device {
            format!(
                "0 {{st_mode=S_IFCHR, st_rdev=makedev({}, 0), st_blksize={}}}",
                self.rdev_major, self.blksize
            )
        } else {
            format!(
                "0 {{st_mode=S_IFREG, st_size={}, st_blksize={}}}",
                self.size, self.blksize
            )
        }
    }
}

impl CallValue for u64 {
    fn describe(&self) -> String {
        // Addresses (mmap, brk) read better in hex; counts are small.
        if *self >= 0x1_0000 {
            format!("{self:#x}")
        } else {
            self.to_string()
        }
    }
}

impl CallValue for i32 {
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl CallValue for u32 {
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl CallValue for Option<(Pid, ExitStatus)> {
    fn describe(&self) -> String {
        match self {
            None => "0 (no child has ended)".into(),
            Some((pid, ExitStatus::Exited(code))) => format!("{pid} (exited with {code})"),
            Some((pid, ExitStatus::Signaled(s))) => format!("{pid} (killed by {s})"),
        }
    }
}

impl Kernel {
    /// Installs (or, with `None`, removes) the explanation log; returns
    /// the one it replaces.
    pub fn set_explain(&mut self, log: Option<ExplainLog>) -> Option<ExplainLog> {
        std::mem::replace(&mut self.explain, log.map(Box::new)).map(|b| *b)
    }

    /// The explanation log, if one is installed.
    pub fn explain_log(&self) -> Option<&ExplainLog> {
        self.explain.as_deref()
    }

    /// Whether events are being recorded right now.
    #[inline]
    pub fn explaining(&self) -> bool {
        self.explain.as_ref().is_some_and(|l| l.wants())
    }

    /// Records the kernel step `make` builds, for `pid`; builds nothing
    /// when no event is wanted.
    #[inline]
    pub fn note(&mut self, pid: Pid, make: impl FnOnce() -> KernelEvent) {
        if let Some(log) = self.explain.as_mut().filter(|l| l.wants()) {
            log.push(pid, Explained::Kernel(make()));
        }
    }

    /// Runs the system call `call` named `name` for `pid`, reporting its
    /// entry with the arguments `args` builds and its result.
    pub(crate) fn syscall<T: CallValue>(
        &mut self,
        pid: Pid,
        name: &'static str,
        args: impl FnOnce() -> Vec<CallArg>,
        call: impl FnOnce(&mut Kernel) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        if !self.explaining() {
            return call(self);
        }
        self.note(pid, || KernelEvent::SyscallEnter { name, args: args() });
        let result = call(self);
        self.note(pid, || KernelEvent::SyscallExit {
            name,
            value: result.as_ref().ok().map(CallValue::describe),
            errno: result.as_ref().err().copied(),
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::NAMES;
    use crate::KernelConfig;

    /// A machine of `frames` frames on x86-64 under `policy`, explained.
    fn machine(frames: usize, policy: &str, log: ExplainLog) -> Kernel {
        let arch = vmlab_hw::arch::presets::by_name("x86-64")
            .and_then(Result::ok)
            .expect("x86-64 preset");
        let mut config = KernelConfig::new(arch, frames);
        config.policy = policy.into();
        let mut k = Kernel::new(config).expect("machine");
        k.set_explain(Some(log));
        k
    }

    #[test]
    fn the_window_keeps_its_events_and_counts_one_past_it() {
        let mut log = ExplainLog::window(3, 2);
        for vaddr in 0..10 {
            log.push(1, Explained::Kernel(KernelEvent::RightsRefreshed { vaddr }));
        }
        let kept: Vec<u64> = log.records().iter().map(|r| r.seq).collect();
        assert_eq!(kept, [3, 4]);
        // The fifth event was counted (so the caller knows more follow),
        // nothing after it.
        assert_eq!(log.seen(), 5);
        assert!(log.more());
        assert!(!log.wants());
        let mut short = ExplainLog::window(1, 100);
        short.push(
            1,
            Explained::Kernel(KernelEvent::RightsRefreshed { vaddr: 0 }),
        );
        assert!(!short.more());
        assert_eq!(short.records()[0].layer, Layer::Kernel);
    }

    #[test]
    fn every_policy_names_its_victim_and_says_why() {
        for &policy in NAMES.iter().filter(|&&p| p != "opt") {
            // Eight frames: the zero page, four tables, three pages.
            let mut k = machine(8, policy, ExplainLog::window(1, u64::MAX));
            let pid = k.spawn(0).expect("process");
            let base = k
                .map_backed(pid, None, 6 * 4096, Prot::READ | Prot::WRITE)
                .expect("mapping");
            for round in 0..3u64 {
                for page in 0..6 {
                    k.access(pid, base + page * 4096, AccessKind::Read)
                        .unwrap_or_else(|s| panic!("{policy}: {s} in round {round}"));
                }
            }
            let log = k.explain_log().expect("log");
            let evictions: Vec<(u32, &str, &str)> = log
                .records()
                .iter()
                .filter_map(|r| match &r.event {
                    Explained::Kernel(KernelEvent::Eviction {
                        frame,
                        policy,
                        reason,
                        ..
                    }) => Some((*frame, *policy, reason.as_str())),
                    _ => None,
                })
                .collect();
            assert!(!evictions.is_empty(), "{policy} evicted nothing");
            for (frame, name, reason) in evictions {
                assert_eq!(name, policy);
                assert!(
                    reason.contains(&format!("frame {frame}")),
                    "{policy}'s reason does not name frame {frame}: {reason}"
                );
            }
        }
    }

    #[test]
    fn nothing_is_recorded_without_a_log() {
        let mut k = machine(8, "lru", ExplainLog::window(1, 10));
        assert!(k.set_explain(None).is_some());
        let pid = k.spawn(0).expect("process");
        let addr = k
            .mmap_anonymous(pid, 0, 4096, Prot::READ | Prot::WRITE, false, false)
            .expect("mmap");
        k.store(pid, addr, 8, 7).expect("store");
        assert!(k.explain_log().is_none());
        assert!(!k.explaining());
    }
}
