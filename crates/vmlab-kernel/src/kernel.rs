//! The kernel: one machine (physical memory, MMU, frame table, swap) and
//! its processes. [`Kernel`] is the API every layer above uses: create,
//! fork, exec, exit and wait for processes; map, unmap and protect
//! anonymous memory and move the program break; and load and store user
//! memory of any size and alignment, which runs through the MMU and, on a
//! page fault, through the fault handler in [`crate::fault`].
//!
//! Every byte a program stores lives in a simulated frame or a swap slot;
//! the invariant the tests check is that a load returns the last value
//! stored at that address in that address space.

use crate::blockdev::{BlockDevice, BlockDeviceConfig};
use crate::explain::{ExplainLog, FlushReason, KernelEvent, LogSink};
use crate::frames::{FrameTable, FrameUse, Owner, Pid};
use crate::held_touches::HeldTouches;
use crate::policy::{self, FrameId, PageKey, PolicyParams, ReplacementPolicy};
use crate::process::{
    ExitStatus, Personality, Process, ProcessCounters, ProcessState, Signal, SignalCode, SignalKind,
};
use crate::region::{Prot, Region, RegionError, RegionKind, RegionMap};
use crate::swap::{SlotId, SwapDevice};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use vmlab_hw::arch::Canonical;
use vmlab_hw::physmem::PhysMemError;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{
    AccessKind, Arch, Context, Mmu, MmuFaultKind, Mode, NoEvents, PageFaultCause, PageTable, Perms,
    PhysMem, TableAllocator,
};

/// The file id of the backing store trace-mode memory lives on
/// ([`Kernel::map_backed`]); files of the file system get other ids.
pub const BACKING_STORE: u64 = 0;

/// Where a faulting process's replacement victim comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplacementScope {
    /// Any process's page (one policy over all frames).
    Global,
    /// Each process has its own policy over its own pages; a process at or
    /// above its share (user frames / live processes) evicts its own page,
    /// one below it takes from the process furthest above its share.
    Local,
}

/// Everything that defines a machine.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// The translation scheme.
    pub arch: Arch,
    /// Physical memory in base pages (page tables come out of it too).
    pub frames: usize,
    /// TLB geometry.
    pub tlb: TlbConfig,
    /// Replacement policy: a name ([`policy::NAMES`]) and any parameters
    /// it takes ([`policy::spec`]: `aging:bits=4`).
    pub policy: String,
    /// Replacement policy knobs.
    pub policy_params: PolicyParams,
    /// Global or local replacement.
    pub scope: ReplacementScope,
    /// Swap slots (one base page each); 0 for no swap.
    pub swap_slots: u32,
    /// The swap disk.
    pub swap_device: BlockDeviceConfig,
    /// Linux, Pintos or xv6 rules.
    pub personality: Personality,
    /// RLIMIT_STACK: how far below its top the stack may grow (Linux).
    pub stack_limit: u64,
    /// Free frames below which background reclaim starts (low), and the
    /// level it refills to (high); (0, 0) reclaims only on demand.
    pub watermarks: (usize, usize),
    /// Read-ahead window, in pages, for a major fault on a file mapping
    /// (Linux's `ra_pages`, 32 pages of 4 KiB by default there; 0 here, so
    /// fault counts stay one disk read per page unless asked for).
    /// madvise steers it per region: MADV_NORMAL reads around the
    /// faulting page, MADV_SEQUENTIAL ahead of it, MADV_RANDOM not at all.
    pub read_ahead_pages: u64,
    /// Huge pages reserved at boot for MAP_HUGETLB mappings (Linux's
    /// `nr_hugepages`, 0 by default there too), each of the scheme's next
    /// page size above the base page (2 MiB on x86-64).
    pub huge_pages: usize,
}

impl KernelConfig {
    /// A machine of `frames` frames on `arch` with its default TLB, LRU
    /// (global replacement), as much swap as memory, Linux rules.
    pub fn new(arch: Arch, frames: usize) -> KernelConfig {
        KernelConfig {
            tlb: vmlab_hw::default_tlb(&arch),
            arch,
            frames,
            policy: "lru".into(),
            policy_params: PolicyParams::default(),
            scope: ReplacementScope::Global,
            swap_slots: frames as u32,
            swap_device: BlockDeviceConfig::ssd(),
            personality: Personality::Linux,
            stack_limit: 8 << 20,
            watermarks: (0, 0),
            read_ahead_pages: 0,
            huge_pages: 0,
        }
    }
}

/// A configuration that cannot be built, naming the setting at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The most processes that may exist at once, live or ended and not yet
/// waited for: Linux's default `pid_max` (`PID_MAX_DEFAULT`, 32768), past
/// which fork(2) fails with EAGAIN. Without a bound a script forking in a
/// loop grew the process table until the host ran out of memory.
pub const MAX_PROCESSES: usize = 32_768;

/// An errno result of a kernel call, with Linux's name
/// ([`Errno::number`] gives its x86-64 Linux value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Errno {
    /// Operation not permitted (a fixed mapping below `mmap_min_addr`).
    Eperm,
    /// No such file.
    Enoent,
    /// No such process (or no child to wait for).
    Esrch,
    /// The descriptor is not open, or not open for this access.
    Ebadf,
    /// No child processes.
    Echild,
    /// Try again: no process can be created (every process id is taken).
    Eagain,
    /// Out of memory, or the range is not mapped.
    Enomem,
    /// Permission denied (the descriptor's mode or the mapping's limits
    /// refuse the protection).
    Eacces,
    /// A user buffer is not mapped for the access the call makes.
    Efault,
    /// The range overlaps an existing mapping (MAP_FIXED_NOREPLACE), or
    /// the file exists (O_CREAT | O_EXCL).
    Eexist,
    /// The file cannot be memory mapped.
    Enodev,
    /// Invalid argument.
    Einval,
    /// The file would grow past the largest size vmlab keeps.
    Efbig,
    /// No space left on the device: the file system is full
    /// ([`crate::fs::CAPACITY_BYTES`]).
    Enospc,
    /// A file name longer than the system allows.
    Enametoolong,
    /// The file offset of the mapping's end does not fit.
    Eoverflow,
    /// MAP_SHARED_VALIDATE with a flag the kernel does not know.
    Eopnotsupp,
    /// lseek on something with no file position (the terminal).
    Espipe,
}

impl Errno {
    /// Linux's name for it (`"EINVAL"`).
    pub fn name(self) -> &'static str {
        match self {
            Errno::Eperm => "EPERM",
            Errno::Enoent => "ENOENT",
            Errno::Esrch => "ESRCH",
            Errno::Ebadf => "EBADF",
            Errno::Echild => "ECHILD",
            Errno::Eagain => "EAGAIN",
            Errno::Enomem => "ENOMEM",
            Errno::Eacces => "EACCES",
            Errno::Efault => "EFAULT",
            Errno::Eexist => "EEXIST",
            Errno::Enodev => "ENODEV",
            Errno::Einval => "EINVAL",
            Errno::Efbig => "EFBIG",
            Errno::Enospc => "ENOSPC",
            Errno::Enametoolong => "ENAMETOOLONG",
            Errno::Eoverflow => "EOVERFLOW",
            Errno::Eopnotsupp => "EOPNOTSUPP",
            Errno::Espipe => "ESPIPE",
        }
    }

    /// Its value on x86-64 Linux (what `errno` holds after the call).
    pub fn number(self) -> i32 {
        use crate::abi::errno::*;
        match self {
            Errno::Eperm => EPERM,
            Errno::Enoent => ENOENT,
            Errno::Esrch => ESRCH,
            Errno::Ebadf => EBADF,
            Errno::Echild => ECHILD,
            Errno::Eagain => EAGAIN,
            Errno::Enomem => ENOMEM,
            Errno::Eacces => EACCES,
            Errno::Efault => EFAULT,
            Errno::Eexist => EEXIST,
            Errno::Enodev => ENODEV,
            Errno::Einval => EINVAL,
            Errno::Efbig => EFBIG,
            Errno::Enospc => ENOSPC,
            Errno::Enametoolong => ENAMETOOLONG,
            Errno::Eoverflow => EOVERFLOW,
            Errno::Eopnotsupp => EOPNOTSUPP,
            Errno::Espipe => ESPIPE,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Machine-wide event counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KernelCounters {
    /// User memory references (each page-sized piece of an access).
    pub references: u64,
    /// Faults resolved without disk I/O.
    pub minor_faults: u64,
    /// Faults that read from swap.
    pub major_faults: u64,
    /// Reads of untouched anonymous memory served by the zero page.
    pub zero_page_maps: u64,
    /// Frames zeroed for first writes (a huge page counts once).
    pub zero_fills: u64,
    /// Faults that mapped a huge page of the MAP_HUGETLB pool (also
    /// counted as minor faults).
    pub huge_faults: u64,
    /// Copy-on-write faults that copied the page.
    pub cow_copies: u64,
    /// Copy-on-write faults that reused the only copy.
    pub cow_reuses: u64,
    /// Pages read from swap.
    pub swap_ins: u64,
    /// Pages written to swap.
    pub swap_outs: u64,
    /// Pages evicted (with or without a write).
    pub evictions: u64,
    /// Of those, pages evicted by background reclaim below the low watermark.
    pub background_evictions: u64,
    /// Clean pages dropped without I/O because swap already held them.
    pub clean_drops: u64,
    /// Whole-TLB or whole-address-space flushes.
    pub tlb_flushes: u64,
    /// Single-page TLB invalidations caused by page-table changes.
    pub tlb_shootdowns: u64,
    /// Context switches.
    pub context_switches: u64,
    /// Stack growths.
    pub stack_growths: u64,
    /// Processes killed by the out-of-memory killer.
    pub oom_kills: u64,
    /// Processes ended by a memory fault signal.
    pub segfaults: u64,
    /// Pages read in from the backing store (trace mode).
    pub backing_reads: u64,
    /// Dirty pages written back: backing-store pages on eviction, file
    /// pages on eviction or msync.
    pub write_backs: u64,
    /// File pages read from the disk into the page cache.
    pub file_reads: u64,
    /// System calls made (the `sys_*` methods), failed ones included.
    pub syscalls: u64,
    /// Bytes read(2) and write(2) copied between user memory and the kernel.
    pub user_copy_bytes: u64,
}

/// The machine and its processes.
pub struct Kernel {
    config: KernelConfig,
    /// The scheme, shared so the fault path can hold it while it mutates
    /// the rest of the kernel (cloning an `Arch` allocates).
    pub(crate) arch: Arc<Arch>,
    page_shift: u8,
    pub(crate) mem: PhysMem,
    pub(crate) mmu: Mmu,
    pub(crate) frames: FrameTable,
    /// `None` only while lent out by [`Kernel::with_policy`].
    pub(crate) policy: Option<Box<dyn ReplacementPolicy>>,
    /// Whether the policy wants every hit reported.
    touch_policy: bool,
    /// Whether its touches collapse
    /// ([`ReplacementPolicy::touches_collapse`]), so they are held.
    touches_collapse: bool,
    /// Touches not yet handed to the policy: every call through
    /// [`Kernel::with_policy`] hands them over first.
    pub(crate) held_touches: HeldTouches,
    /// The reference count at which the next clock interrupt falls (see
    /// [`Kernel::clock_tick`]); `u64::MAX` where the policy takes no ticks.
    next_tick: u64,
    /// The frame the policy expects to evict next, noted after an
    /// eviction so the next look-ahead prefetches its page-table entry
    /// (see [`Kernel::prefetch_translation`]).
    pub(crate) victim_hint: Option<FrameId>,
    /// The policy (its owner) that evicted last, until the frame it freed
    /// is handed to a policy: its next victim is guessed then, as a guess
    /// made before the new page is in reads a queue that is one short
    /// (S3-FIFO's small queue, below its share, names no victim).
    pub(crate) guess_due: Option<Pid>,
    /// Shared anonymous objects' pages.
    pub(crate) shmem: crate::shmem::ShmemPages,
    /// A frame eviction must not take (the source of a copy-on-write copy
    /// while its destination is allocated).
    pub(crate) pinned: Option<FrameId>,
    /// Which policy tracks each frame: 0 for the global one, else the pid
    /// whose own policy does (local replacement).
    pub(crate) policy_of: Vec<Pid>,
    pub(crate) swap: SwapDevice,
    /// The disk trace-mode memory is read from and written back to.
    pub(crate) backing: BlockDevice,
    /// Swap slot → the frame holding its page (the swap cache).
    pub(crate) swap_cache: BTreeMap<u32, FrameId>,
    pub(crate) procs: BTreeMap<Pid, Process>,
    /// Each parent's children (0's: the first processes and orphans), so
    /// that exit reparents and wait finds a child without a scan of every
    /// process (a loop of forks left tens of thousands of zombies, and each
    /// exit scanned them all).
    children: BTreeMap<Pid, BTreeSet<Pid>>,
    next_pid: Pid,
    current: Option<Pid>,
    /// The running process's translation registers (page-table root and
    /// ASID), loaded by [`Kernel::switch_to`] as a CPU loads CR3 or SATP.
    current_ctx: Context,
    /// Which process each ASID was last used by: the TLB's entries under
    /// an ASID are that process's (taking the ASID flushes them).
    pub(crate) asid_owner: Vec<Pid>,
    /// Whether a leaf entry with its accessed flag clear proves that no
    /// TLB entry of its process caches the page: the format has the flag,
    /// every fill walks to a leaf that has it set (the walker sets it, or
    /// faults until software does), and the kernel shoots down every page
    /// whose set flag it clears. False for a format without the flag.
    pub(crate) accessed_gates_tlb: bool,
    pub(crate) zero_frame: FrameId,
    pub(crate) counters: KernelCounters,
    /// The last shared anonymous or huge-page object handed out.
    pub(crate) next_object: u64,
    /// Why the last out-of-memory kill happened.
    pub(crate) oom_reason: Option<String>,
    /// Reusable one-page buffer for copies to and from swap.
    pub(crate) page_buf: Vec<u8>,
    /// The file system: files, names and open file descriptions.
    pub(crate) fs: crate::fs::FileSystem,
    /// Cached file pages.
    pub(crate) page_cache: crate::pagecache::PageCache,
    /// The explanation log, when `vmlab explain` (or a test) listens;
    /// boxed so the kernel stays small when nobody does.
    pub(crate) explain: Option<Box<ExplainLog>>,
    /// The huge-page pool and the huge-page objects' pages.
    pub(crate) huge: crate::hugetlb::HugePool,
}

/// Hands page-table frames out of the frame table.
pub(crate) struct TableFrames<'a> {
    pub(crate) frames: &'a mut FrameTable,
    pub(crate) page_shift: u8,
}

impl TableAllocator for TableFrames<'_> {
    fn alloc_table(&mut self, bytes: u64) -> Option<u64> {
        let count = (bytes >> self.page_shift).max(1) as usize;
        let frame = self.frames.alloc_contiguous(count, FrameUse::PageTable)?;
        Some(u64::from(frame) << self.page_shift)
    }
    fn free_table(&mut self, addr: u64, bytes: u64) {
        let first = (addr >> self.page_shift) as FrameId;
        for f in first..first + (bytes >> self.page_shift).max(1) as FrameId {
            self.frames.free(f);
        }
    }
}

/// The largest user address plus one: the lower half of a sign-extended
/// space, or all of a zero-extended one.
pub fn task_size(arch: &Arch) -> u64 {
    let bits = arch.va_bits().min(63);
    match arch.spec().canonical {
        Canonical::SignExtend => 1u64 << (bits - 1),
        Canonical::ZeroExtend => 1u64 << bits,
    }
}

impl Kernel {
    /// Boots a machine: physical memory, MMU, frame table (frame 0 becomes
    /// the shared zero page), swap, the replacement policy (`policy` may
    /// carry parameters, `aging:bits=4`, which then replace those of
    /// `policy_params`).
    pub fn new(mut config: KernelConfig) -> Result<Kernel, ConfigError> {
        let arch = config.arch.clone();
        let page_shift = arch.page_shift();
        let page = arch.page_bytes();
        let levels = arch.levels().len();
        if config.frames < levels + 2 {
            return Err(ConfigError(format!(
                "frames: {} frames cannot hold the zero page, a page table tree of {levels} levels and one user page",
                config.frames
            )));
        }
        let phys = (config.frames as u64)
            .checked_mul(page)
            .filter(|&b| arch.fits_physical(b - 1))
            .ok_or_else(|| {
                ConfigError(format!(
                    "frames: {} frames of {page} bytes exceed {}'s {}-bit physical address space",
                    config.frames,
                    arch.name(),
                    arch.pa_bits()
                ))
            })?;
        let mem = PhysMem::new(phys.max(8), arch.endian())
            .map_err(|e| ConfigError(format!("frames: {e}")))?;
        let mmu =
            Mmu::new(arch.clone(), &config.tlb).map_err(|e| ConfigError(format!("tlb: {e}")))?;
        let (policy, params) =
            policy::spec::from_spec(&config.policy, config.frames, &config.policy_params)
                .map_err(|e| ConfigError(format!("policy: {e}")))?;
        config.policy_params = params;
        let device = BlockDevice::new(config.swap_device.clone())
            .map_err(|e| ConfigError(format!("swap device: {e}")))?;
        let backing = BlockDevice::new(config.swap_device.clone())
            .map_err(|e| ConfigError(format!("swap device: {e}")))?;
        let file_disk = BlockDevice::new(config.swap_device.clone())
            .map_err(|e| ConfigError(format!("swap device: {e}")))?;
        let swap = SwapDevice::new(config.swap_slots, page as usize, device)
            .map_err(|e| ConfigError(format!("swap: {e}")))?;
        let mut frames = FrameTable::new(config.frames);
        let huge = crate::hugetlb::HugePool::boot(&arch, &mut frames, config.huge_pages)?;
        let zero_frame = frames
            .alloc(FrameUse::Zero)
            .ok_or_else(|| ConfigError("frames: no frame for the zero page".into()))?;
        let asids = if arch.asid_bits() == 0 {
            1
        } else {
            1usize << arch.asid_bits()
        };
        Ok(Kernel {
            arch: Arc::new(config.arch.clone()),
            page_shift,
            mem,
            mmu,
            frames,
            touch_policy: policy.wants_touch(),
            touches_collapse: policy.touches_collapse(),
            held_touches: HeldTouches::default(),
            next_tick: match config.policy_params.tick_interval {
                interval if interval > 0 && policy.wants_ticks() => interval,
                _ => u64::MAX,
            },
            victim_hint: None,
            guess_due: None,
            policy_of: vec![0; config.frames],
            pinned: None,
            shmem: Default::default(),
            policy: Some(policy),
            swap,
            backing,
            swap_cache: BTreeMap::new(),
            procs: BTreeMap::new(),
            children: BTreeMap::new(),
            next_pid: 1,
            current: None,
            current_ctx: Context { root: 0, asid: 0 },
            asid_owner: vec![0; asids],
            accessed_gates_tlb: arch.pte().with_accessed(0, true) != 0,
            zero_frame,
            counters: KernelCounters::default(),
            next_object: 0,
            oom_reason: None,
            page_buf: vec![0; page as usize],
            fs: crate::fs::FileSystem::new(file_disk),
            page_cache: Default::default(),
            explain: None,
            huge,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &KernelConfig {
        &self.config
    }

    /// Whose replacement policy tracks `frame` (0: the global one). Under
    /// global replacement that is always the global one, known without a
    /// read of the per-frame table, which over a large memory misses the
    /// host cache on nearly every touch.
    #[inline(always)]
    pub(crate) fn policy_owner(&self, frame: FrameId) -> Pid {
        match self.config.scope {
            ReplacementScope::Global => 0,
            ReplacementScope::Local => self.policy_of[frame as usize],
        }
    }

    /// The ASID of `pid` (0 for a process that is gone): the running
    /// process's from its loaded context, which holds the ASID it was
    /// given (a process keeps its ASID for life), without a search.
    #[inline]
    pub(crate) fn asid_of(&self, pid: Pid) -> u16 {
        if self.current == Some(pid) {
            return self.current_ctx.asid;
        }
        self.procs.get(&pid).map_or(0, |p| p.asid)
    }

    /// The translation scheme.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Base page size as a shift.
    pub fn page_shift(&self) -> u8 {
        self.page_shift
    }

    /// Base page size in bytes.
    pub fn page_bytes(&self) -> u64 {
        1 << self.page_shift
    }

    /// Machine-wide counts.
    pub fn counters(&self) -> KernelCounters {
        self.counters
    }

    /// The MMU (TLB counters, flushes).
    pub fn mmu(&self) -> &Mmu {
        &self.mmu
    }

    /// The swap device (counters, slots in use).
    pub fn swap(&self) -> &SwapDevice {
        &self.swap
    }

    /// The frame table.
    pub fn frames(&self) -> &FrameTable {
        &self.frames
    }

    /// The key the replacement policy knows the page in `frame` by, where
    /// the policy keeps keys (ARC, 2Q and S3-FIFO remember evicted pages by
    /// key) and tracks the frame; for inspection and tests.
    pub fn policy_key(&self, frame: FrameId) -> Option<PageKey> {
        let policy = self.policy_ref(*self.policy_of.get(frame as usize)?)?;
        policy.key_of(frame)
    }

    /// Why the out-of-memory killer last killed, if it did.
    pub fn oom_reason(&self) -> Option<&str> {
        self.oom_reason.as_deref()
    }

    /// A process's counts (resident pages and faults).
    pub fn process_counters(&self, pid: Pid) -> Option<ProcessCounters> {
        self.procs.get(&pid).map(|p| p.counters)
    }

    /// Page-table bytes a process uses.
    pub fn page_table_bytes(&self, pid: Pid) -> Option<u64> {
        self.procs.get(&pid).map(|p| p.page_table.table_bytes())
    }

    /// The regions of a process.
    pub fn regions(&self, pid: Pid) -> Option<&RegionMap> {
        self.procs.get(&pid).map(|p| &p.regions)
    }

    /// Live and zombie process ids.
    pub fn pids(&self) -> Vec<Pid> {
        self.procs.keys().copied().collect()
    }

    /// Whether `pid` exists and has not ended.
    pub fn is_live(&self, pid: Pid) -> bool {
        self.procs
            .get(&pid)
            .is_some_and(|p| p.state == ProcessState::Live)
    }

    fn live(&self, pid: Pid) -> Result<&Process, Errno> {
        self.procs
            .get(&pid)
            .filter(|p| p.state == ProcessState::Live)
            .ok_or(Errno::Esrch)
    }

    /// The initial address space: an empty heap at the break and one stack
    /// page below the top of user space.
    fn new_address_space(&mut self) -> Result<(PageTable, RegionMap, u64, u64), Errno> {
        let arch = Arc::clone(&self.arch);
        let page = self.page_bytes();
        let top = task_size(&arch);
        let stack_top = top - page;
        let stack_limit = self.config.stack_limit.min(top / 4) & !(page - 1);
        // Linux's stack guard gap is 256 pages; a small teaching machine
        // gets at most a sixteenth of its space (on CS:APP's 256 pages the
        // full gap would cover everything below the stack, so brk could
        // never grow and mmap would find room only above the stack).
        let guard = (page << 8).min(top / 16) & !(page - 1);
        let mmap_base = stack_top - stack_limit.max(page) - guard;
        let mmap_base = mmap_base & !(page - 1);
        let brk_start = (0x60_0000u64.min(top / 8)).max(page) & !(page - 1);
        self.reserve_frames(0, arch.levels().len() + 1, 0)?;
        let mut alloc = TableFrames {
            frames: &mut self.frames,
            page_shift: self.page_shift,
        };
        let pt = PageTable::new(&arch, &mut self.mem, &mut alloc).map_err(|_| Errno::Enomem)?;
        let mut regions = RegionMap::new(page, mmap_base, top)
            .and_then(|map| map.with_stack_guard_gap(guard))
            .map_err(|_| Errno::Enomem)?;
        let stack = Region::new(
            stack_top - page,
            stack_top,
            Prot::READ | Prot::WRITE,
            RegionKind::Stack { grows_down: true },
        );
        regions.insert(stack).map_err(|_| Errno::Enomem)?;
        Ok((pt, regions, brk_start, stack_top))
    }

    fn assign_asid(&self, pid: Pid) -> u16 {
        let asids = self.asid_owner.len() as u32;
        if asids <= 1 {
            0
        } else {
            // ASID 0 is never handed out, so it can mean "no ASID".
            (1 + (pid - 1) % (asids - 1)) as u16
        }
    }

    /// A new process with an empty address space (a stack page and an
    /// empty heap), child of `parent` (0 for none). EAGAIN when
    /// [`MAX_PROCESSES`] processes (live or not yet waited for) exist.
    pub fn spawn(&mut self, parent: Pid) -> Result<Pid, Errno> {
        if self.procs.len() >= MAX_PROCESSES {
            return Err(Errno::Eagain);
        }
        let (page_table, regions, brk_start, stack_top) = self.new_address_space()?;
        let pid = self.next_pid;
        self.next_pid += 1;
        let asid = self.assign_asid(pid);
        let policy = match self.config.scope {
            ReplacementScope::Global => None,
            ReplacementScope::Local => Some(
                policy::spec::from_spec(
                    &self.config.policy,
                    self.config.frames,
                    &self.config.policy_params,
                )
                .map_err(|_| Errno::Einval)?
                .0,
            ),
        };
        self.procs.insert(
            pid,
            Process {
                pid,
                parent,
                asid,
                page_table,
                regions,
                swapped: Default::default(),
                brk_start,
                brk: brk_start,
                stack_top,
                stack_pointer: stack_top,
                state: ProcessState::Live,
                counters: ProcessCounters::default(),
                policy,
                files: Default::default(),
            },
        );
        self.children.entry(parent).or_default().insert(pid);
        Ok(pid)
    }

    /// Makes `pid` the running process: loads its page-table root and
    /// ASID; without ASIDs (or when another process used the ASID since)
    /// the TLB is flushed. Every access asks; the answer is nearly always
    /// that `pid` runs already, settled inline.
    #[inline]
    pub fn switch_to(&mut self, pid: Pid) -> Result<(), Errno> {
        if self.current == Some(pid) {
            return Ok(());
        }
        self.switch_to_another(pid)
    }

    /// [`Kernel::switch_to`] a process other than the current one.
    #[inline(never)]
    fn switch_to_another(&mut self, pid: Pid) -> Result<(), Errno> {
        let (asid, root) = {
            let p = self.live(pid)?;
            (p.asid, p.page_table.root())
        };
        self.current_ctx = Context { root, asid };
        self.counters.context_switches += 1;
        self.note(pid, || KernelEvent::ContextSwitch { to: pid, asid });
        let owner = &mut self.asid_owner[usize::from(asid)];
        let flushed = if self.config.arch.asid_bits() == 0 {
            self.mmu.tlb_mut().flush_all();
            self.counters.tlb_flushes += 1;
            Some(None)
        } else if *owner != pid {
            self.mmu.tlb_mut().flush_asid(asid);
            self.counters.tlb_flushes += 1;
            Some(Some(asid))
        } else {
            None
        };
        *owner = pid;
        if let Some(asid) = flushed {
            self.note(pid, || KernelEvent::TlbFlush {
                asid,
                reason: FlushReason::ContextSwitch,
            });
        }
        self.current = Some(pid);
        Ok(())
    }

    /// Sets the stack pointer (Pintos grows the stack only near it).
    pub fn set_stack_pointer(&mut self, pid: Pid, sp: u64) -> Result<(), Errno> {
        self.live(pid)?;
        if let Some(p) = self.procs.get_mut(&pid) {
            p.stack_pointer = sp;
        }
        Ok(())
    }

    /// Translates one access that stays within a page, resolving faults.
    #[inline]
    fn translate(&mut self, pid: Pid, vaddr: u64, kind: AccessKind) -> Result<u64, Signal> {
        self.tick_if_due();
        match self.repeat_access(pid, vaddr, kind) {
            Some(paddr) => Ok(paddr),
            None => self.translate_through_mmu(pid, vaddr, kind),
        }
    }

    /// The hot path of a run of accesses to one page: the first TLB level
    /// grants the access through the entry it hit last, so the MMU counts a
    /// hit and nothing else changes. `None` when that is not so, or when
    /// explaining (the full path reports every step).
    #[inline(always)]
    fn repeat_access(&mut self, pid: Pid, vaddr: u64, kind: AccessKind) -> Option<u64> {
        if self.current != Some(pid) || self.explain.is_some() {
            return None;
        }
        let paddr = self
            .mmu
            .repeat_hit(self.current_ctx, vaddr, kind, Mode::User)?;
        self.counters.references += 1;
        self.touch_resident(paddr);
        Some(paddr)
    }

    /// An access through the whole MMU, and the fault handler as needed.
    /// The first pass is the common case, a TLB hit or a walk that finds
    /// the page present; anything that faults goes on out of line, so the
    /// hit path does not carry the fault loop's setup (callgrind: about
    /// 28 fewer instructions per access that misses the repeat registers).
    fn translate_through_mmu(
        &mut self,
        pid: Pid,
        vaddr: u64,
        kind: AccessKind,
    ) -> Result<u64, Signal> {
        self.switch_to(pid).map_err(|_| kill_signal(vaddr))?;
        let ctx = self.current_ctx;
        self.counters.references += 1;
        match self.mmu_pass(pid, ctx, vaddr, kind) {
            Ok(access) => {
                self.touch_resident(access.paddr);
                Ok(access.paddr)
            }
            Err(fault) => self.resolve_faults(pid, ctx, vaddr, kind, fault),
        }
    }

    /// One pass of an access through the MMU, recorded when explaining.
    #[inline(always)]
    fn mmu_pass(
        &mut self,
        pid: Pid,
        ctx: Context,
        vaddr: u64,
        kind: AccessKind,
    ) -> Result<vmlab_hw::Access, vmlab_hw::MmuFault> {
        // Explaining costs this one branch when off; the recording access
        // is out of line, so the hot path's code stays as it was (one call
        // site of the NoEvents access, inlined).
        match self.explain.as_deref_mut() {
            Some(log) if log.wants() => {
                access_recorded(&mut self.mmu, &mut self.mem, log, pid, ctx, vaddr, kind)
            }
            _ => self
                .mmu
                .access(&mut self.mem, ctx, vaddr, kind, Mode::User, &mut NoEvents),
        }
    }

    /// The rest of an access whose first pass faulted with `fault`: the
    /// fault handler, then the access again, until it is granted or a
    /// signal ends it.
    #[cold]
    #[inline(never)]
    fn resolve_faults(
        &mut self,
        pid: Pid,
        ctx: Context,
        vaddr: u64,
        kind: AccessKind,
        mut fault: vmlab_hw::MmuFault,
    ) -> Result<u64, Signal> {
        // A fault handler resolves one cause per pass (a swap-in, then a
        // copy-on-write, then a dirty-flag fault at most); more means a bug.
        // The access that faulted reached the policy as an insertion, not a
        // hit: touching it again would count its first use twice (and send
        // every new page straight to ARC's T2).
        let mut faulted = false;
        for pass in 0..4 {
            let MmuFaultKind::Page(pf) = fault.kind else {
                return Err(self.deliver(pid, segv(vaddr, SignalCode::SegvMaperr)));
            };
            // Only faults that bring a page in are insertions; a software
            // accessed/dirty fault is a hit on a resident page.
            faulted |= matches!(
                pf.cause,
                PageFaultCause::NotPresent | PageFaultCause::Protection
            );
            let oom_kills = self.counters.oom_kills;
            if let Err(signal) = self.handle_fault(pid, vaddr, kind, &pf) {
                return Err(self.deliver(pid, signal));
            }
            // Only the out-of-memory killer ends a process while its fault
            // is handled (the process was live: it ran the access), so the
            // process is looked up only after a kill.
            if self.counters.oom_kills != oom_kills && !self.is_live(pid) {
                return Err(kill_signal(vaddr));
            }
            if pass == 3 {
                break;
            }
            match self.mmu_pass(pid, ctx, vaddr, kind) {
                Ok(access) => {
                    if !faulted {
                        self.touch_resident(access.paddr);
                    }
                    return Ok(access.paddr);
                }
                Err(again) => fault = again,
            }
        }
        Err(self.deliver(pid, segv(vaddr, SignalCode::SegvAccerr)))
    }

    /// The clock interrupt, if it falls before the next reference.
    #[inline(always)]
    fn tick_if_due(&mut self) {
        if self.counters.references == self.next_tick {
            self.clock_tick();
        }
    }

    /// The periodic clock interrupt, before reference number `next_tick`
    /// (every [`PolicyParams::tick_interval`] references, the machine's
    /// virtual time): each policy that samples reference bits (aging, NFU,
    /// NRU) reads and clears them now, through the page-table entries, as
    /// a kernel's timer handler does. The replacement model ticks before
    /// the same references, so the two models agree.
    #[cold]
    #[inline(never)]
    fn clock_tick(&mut self) {
        let references = self.counters.references;
        self.next_tick = references.saturating_add(self.config.policy_params.tick_interval);
        let pid = self.current.unwrap_or(0);
        let policy = self.policy_ref(0).map_or("", |p| p.name());
        self.note(pid, || KernelEvent::ClockTick { references, policy });
        self.with_policy(0, (), |policy, refs| policy.tick(refs));
        if self.config.scope == ReplacementScope::Local {
            // Each process's own policy, by pid, without collecting the
            // pids: the tick lends the kernel whole to each in turn.
            let mut next = self.procs.keys().next().copied();
            while let Some(owner) = next {
                self.with_policy(owner, (), |policy, refs| policy.tick(refs));
                next = self.procs.range(owner + 1..).next().map(|(&p, _)| p);
            }
        }
    }

    /// Reports a hit on the user page at `paddr` to the policy tracking its
    /// frame, if the policy wants hits: at once, or held back where the
    /// policy's touches collapse (a repeat of the last touch is dropped).
    #[inline(always)]
    fn touch_resident(&mut self, paddr: u64) {
        let frame = (paddr >> self.page_shift) as FrameId;
        if !self.touch_policy
            || self.held_touches.is_last(frame)
            || !self.frames.used_for(frame).is_user()
        {
            return;
        }
        let owner = self.policy_owner(frame);
        if !self.touches_collapse {
            self.with_policy(owner, (), |policy, refs| policy.touch(frame, refs));
        } else if !self.held_touches.hold(owner, frame) {
            // Full, or another owner's: those go first, then this one is
            // held.
            self.hand_over_touches();
            self.held_touches.hold(owner, frame);
        }
    }

    /// Copies user memory at `vaddr` into `out`, page piece by page piece.
    pub fn read_user(&mut self, pid: Pid, vaddr: u64, out: &mut [u8]) -> Result<(), Signal> {
        self.user_copy(
            pid,
            vaddr,
            out.len(),
            AccessKind::Read,
            |mem, paddr, range| mem.read_bytes(paddr, &mut out[range]),
        )
    }

    /// Copies `data` into user memory at `vaddr`.
    pub fn write_user(&mut self, pid: Pid, vaddr: u64, data: &[u8]) -> Result<(), Signal> {
        self.user_copy(
            pid,
            vaddr,
            data.len(),
            AccessKind::Write,
            |mem, paddr, range| mem.write_bytes(paddr, &data[range]),
        )
    }

    fn user_copy(
        &mut self,
        pid: Pid,
        vaddr: u64,
        len: usize,
        kind: AccessKind,
        mut copy: impl FnMut(&mut PhysMem, u64, std::ops::Range<usize>) -> Result<(), PhysMemError>,
    ) -> Result<(), Signal> {
        let page = self.page_bytes();
        let mut done = 0usize;
        while done < len {
            let at = vaddr.wrapping_add(done as u64);
            let n = ((page - (at & (page - 1))) as usize).min(len - done);
            let paddr = self.translate(pid, at, kind)?;
            if copy(&mut self.mem, paddr, done..done + n).is_err() {
                return Err(self.deliver(pid, bus(at)));
            }
            done += n;
        }
        Ok(())
    }

    /// One access of `kind` to the byte at `vaddr`, with no data moved:
    /// what a trace replay does (a fetch goes through the instruction TLB).
    #[inline]
    pub fn access(&mut self, pid: Pid, vaddr: u64, kind: AccessKind) -> Result<(), Signal> {
        self.translate(pid, vaddr, kind).map(|_| ())
    }

    /// Hints the host cache to load the page-table entry an access to
    /// `vaddr` by `pid` will read on a TLB miss, for a caller that knows
    /// its accesses some way ahead (a trace), and the entry of the page the
    /// policy expects to evict next (the eviction reads it for the dirty
    /// flag; its reverse-map entry was prefetched at the last eviction).
    /// Changes nothing the machine can observe; nothing unless `pid` is
    /// current.
    #[inline]
    pub fn prefetch_translation(&mut self, pid: Pid, vaddr: u64) {
        if self.current != Some(pid) {
            return;
        }
        self.mmu
            .prefetch_translation(&self.mem, self.current_ctx, vaddr);
        if let Some(victim) = self.victim_hint.take() {
            if let Some((_, pte_addr)) = self.frames.first_owner(victim) {
                self.mem.prefetch(pte_addr);
            }
        }
    }

    /// Whether the MMU's repeat registers grant an access of `kind` to
    /// `vaddr` outright: whether [`Kernel::access_run`] could start a run
    /// with it. A caller's cheap test, most useful where runs are rare.
    #[inline(always)]
    pub fn repeat_grants(&self, vaddr: u64, kind: AccessKind) -> bool {
        self.mmu.repeat_grants(vaddr, kind)
    }

    /// [`Kernel::access`] over a run: takes the longest prefix of `items`
    /// (each an address and kind by `access_of`, or `None` for one that
    /// needs the full path) that the MMU's repeat registers grant outright,
    /// counts it exactly as that many `access` calls would, and returns how
    /// many it took (0 when it took none, or when it cannot: `pid` is not
    /// the current process, an explanation is being recorded, or the
    /// policy counts every touch). A run's touches reduce to one per page
    /// in the order of its last access, which is what touches come to for
    /// a policy whose touches collapse.
    #[inline(always)]
    pub fn access_run<T>(
        &mut self,
        pid: Pid,
        items: &[T],
        access_of: impl Fn(&T) -> Option<(u64, AccessKind)>,
    ) -> usize {
        if self.current != Some(pid)
            || self.explain.is_some()
            || (self.touch_policy && !self.touches_collapse)
        {
            return 0;
        }
        self.tick_if_due();
        // A run stops at the next tick, which may clear the accessed flags
        // (and so the TLB entries) the run's accesses hit through.
        let before_tick = self.next_tick - self.counters.references;
        let items = &items[..items
            .len()
            .min(usize::try_from(before_tick).unwrap_or(usize::MAX))];
        let run = self.mmu.repeat_run(
            self.current_ctx,
            Mode::User,
            u32::from(self.page_shift),
            items,
            access_of,
        );
        if run.accesses() == 0 {
            return 0;
        }
        self.counters.references += run.accesses();
        for paddr in run.pages_touched() {
            self.touch_resident(paddr);
        }
        run.accesses() as usize
    }

    /// Loads a `size`-byte (1, 2, 4 or 8) value in the machine's byte order;
    /// an access crossing a page boundary is two accesses.
    pub fn load(&mut self, pid: Pid, vaddr: u64, size: usize) -> Result<u64, Signal> {
        let mut buf = [0u8; 8];
        let size = size.clamp(1, 8);
        self.read_user(pid, vaddr, &mut buf[..size])?;
        Ok(match self.config.arch.endian() {
            vmlab_hw::Endian::Little => u64::from_le_bytes(buf),
            vmlab_hw::Endian::Big => u64::from_be_bytes(buf) >> (64 - 8 * size),
        })
    }

    /// Stores the low `size` bytes of `value` in the machine's byte order.
    pub fn store(&mut self, pid: Pid, vaddr: u64, size: usize, value: u64) -> Result<(), Signal> {
        let size = size.clamp(1, 8);
        let bytes = match self.config.arch.endian() {
            vmlab_hw::Endian::Little => value.to_le_bytes(),
            vmlab_hw::Endian::Big => (value << (64 - 8 * size)).to_be_bytes(),
        };
        self.write_user(pid, vaddr, &bytes[..size])
    }

    /// Ends `pid` because of `signal` (or, under a teaching kernel's rules,
    /// with exit status -1) and returns the signal for the caller.
    pub(crate) fn deliver(&mut self, pid: Pid, signal: Signal) -> Signal {
        if self.is_live(pid) {
            self.note(pid, || KernelEvent::Signal {
                signal,
                reason: crate::explain::signal_reason(signal).to_string(),
            });
            self.counters.segfaults += u64::from(signal.kind != SignalKind::Sigkill);
            let status = match self.config.personality {
                Personality::Linux => ExitStatus::Signaled(signal),
                Personality::Pintos | Personality::Xv6 => ExitStatus::Exited(-1),
            };
            self.terminate(pid, status);
        }
        signal
    }

    /// Maps `len` bytes of anonymous memory (`shared` between forked
    /// processes or private copy-on-write), at `addr` exactly when `fixed`
    /// (replacing what was there), else near the hint or where there is
    /// room. Returns the address.
    pub fn mmap_anonymous(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        prot: Prot,
        shared: bool,
        fixed: bool,
    ) -> Result<u64, Errno> {
        self.live(pid)?;
        let page = self.page_bytes();
        if len == 0 || (fixed && addr & (page - 1) != 0) {
            return Err(Errno::Einval);
        }
        let len = len.checked_next_multiple_of(page).ok_or(Errno::Enomem)?;
        let start = {
            let p = &self.procs[&pid];
            let hint = (addr != 0).then_some(addr & !(page - 1));
            p.regions
                .find_free(len, hint, fixed)
                .map_err(|_| Errno::Enomem)?
        };
        if fixed {
            self.unmap_range(pid, start, len)?;
        }
        let kind = if shared {
            // Each shared anonymous mapping is its own shmem object.
            self.next_object += 1;
            RegionKind::SharedAnonymous {
                object: self.next_object,
                offset: 0,
            }
        } else {
            RegionKind::Anonymous
        };
        let region = Region::new(start, start + len, prot, kind);
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        p.regions.insert(region).map_err(|_| Errno::Enomem)?;
        Ok(start)
    }

    /// Maps `len` bytes of backed memory for a trace that has no system
    /// calls: pages that already exist on a backing store, as a program's
    /// text and data exist on disk. A first touch of a page is a major fault
    /// that reads it in; a clean page is dropped on eviction and a dirty one
    /// written back. The simulator keeps no contents for these pages
    /// (every read-in page reads as zeros), which is what lets a long
    /// address trace run without its data. Returns the address.
    /// With `at`, the mapping goes exactly there (a trace's own addresses)
    /// and must not overlap anything (EEXIST).
    pub fn map_backed(
        &mut self,
        pid: Pid,
        at: Option<u64>,
        len: u64,
        prot: Prot,
    ) -> Result<u64, Errno> {
        self.live(pid)?;
        let page = self.page_bytes();
        if len == 0 || at.is_some_and(|a| a & (page - 1) != 0) {
            return Err(Errno::Einval);
        }
        let len = len.checked_next_multiple_of(page).ok_or(Errno::Enomem)?;
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        let start = p
            .regions
            .find_free(len, at, at.is_some())
            .map_err(|_| Errno::Enomem)?;
        // The backing store is addressed like memory (page `vpn` is block
        // `vpn`), so a region's offset is its address: mappings of
        // neighbouring pages then continue each other and merge into one
        // region, as a trace's pages are mapped one at a time.
        let kind = RegionKind::File {
            file: BACKING_STORE,
            offset: start,
            shared: true,
        };
        // Only a mapping at a given address can overlap: a placed one
        // goes where nothing is.
        p.regions
            .insert(Region::new(start, start + len, prot, kind))
            .map_err(|e| match e {
                RegionError::Overlap { .. } => Errno::Eexist,
                _ => Errno::Enomem,
            })?;
        Ok(start)
    }

    /// Removes `[addr, addr + len)` from the address space, freeing its
    /// pages and swap slots; holes are fine (munmap).
    pub fn munmap(&mut self, pid: Pid, addr: u64, len: u64) -> Result<(), Errno> {
        self.live(pid)?;
        let page = self.page_bytes();
        if addr & (page - 1) != 0 || len == 0 {
            return Err(Errno::Einval);
        }
        let len = len.checked_next_multiple_of(page).ok_or(Errno::Einval)?;
        let len = self.huge_unmap_len(pid, addr, len)?;
        self.unmap_range(pid, addr, len)
    }

    /// Changes the protection of `[addr, addr + len)` (mprotect); every
    /// page must be mapped. Pages already present get the new rights in
    /// their entries (copy-on-write pages stay read-only).
    pub fn mprotect(&mut self, pid: Pid, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        self.live(pid)?;
        let page = self.page_bytes();
        if addr & (page - 1) != 0 {
            return Err(Errno::Einval);
        }
        let len = len.checked_next_multiple_of(page).ok_or(Errno::Enomem)?;
        if len == 0 {
            return Ok(());
        }
        self.huge_split_check(pid, addr, addr.saturating_add(len))?;
        let result = {
            let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
            p.regions.protect(addr, len, prot).map_err(|e| match e {
                // A region whose limits refuse the protection (a shared
                // mapping of a file opened read-only asked for PROT_WRITE).
                RegionError::Denied { .. } => Errno::Eacces,
                _ => Errno::Enomem,
            })
        };
        // Whatever part the region map changed, the entries follow.
        self.reprotect_range(pid, addr, addr + len)?;
        result
    }

    /// Moves the program break (brk): growing maps new zeroed heap, shrinking
    /// frees the pages past the new break. Returns the break in force (the
    /// old one when the request is refused, as Linux's brk does).
    pub fn brk(&mut self, pid: Pid, new_brk: u64) -> Result<u64, Errno> {
        let (brk_start, old) = {
            let p = self.live(pid)?;
            (p.brk_start, p.brk)
        };
        if new_brk < brk_start {
            return Ok(old);
        }
        let page = self.page_bytes();
        let old_end = old.next_multiple_of(page);
        let new_end = new_brk.next_multiple_of(page);
        let removed = match self.procs.get_mut(&pid) {
            Some(p) => match p.regions.set_brk(old_end, new_end) {
                Ok(removed) => removed,
                // Refused (no room, or nothing to shrink): the old break stays.
                Err(_) => return Ok(old),
            },
            None => return Err(Errno::Esrch),
        };
        for r in removed {
            self.release_pages(pid, r.start, r.end);
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.brk = new_brk;
        }
        Ok(new_brk)
    }

    /// The current program break.
    pub fn current_brk(&self, pid: Pid) -> Result<u64, Errno> {
        Ok(self.live(pid)?.brk)
    }

    /// Starts `pid`'s heap, still empty, at `start`: where a loader leaves
    /// the break after a program's data, and where a replayed trace's
    /// first brk says it was. EINVAL once the heap has grown.
    pub fn place_heap(&mut self, pid: Pid, start: u64) -> Result<(), Errno> {
        self.live(pid)?;
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        if p.brk != p.brk_start {
            return Err(Errno::Einval);
        }
        p.brk_start = start;
        p.brk = start;
        Ok(())
    }

    /// Creates a child sharing the parent's pages copy-on-write (shared
    /// mappings stay shared) and its swap slots; returns the child's pid.
    pub fn fork(&mut self, parent: Pid) -> Result<Pid, Errno> {
        self.live(parent)?;
        let child = self.spawn(parent)?;
        // The child's tables mirror the parent's, so the frames for them are
        // freed first: the copy shares every page and allocates nothing but
        // tables, and nothing may be evicted once it has read the parent's
        // mappings.
        let needed = {
            let frames = |pid: Pid| self.procs[&pid].page_table.table_bytes() >> self.page_shift;
            frames(parent).saturating_sub(frames(child)) as usize
        };
        let copied = self.reserve_frames(parent, needed, 0).and_then(|()| {
            if self.is_live(parent) && self.is_live(child) {
                self.copy_address_space(parent, child)
            } else {
                Err(Errno::Enomem)
            }
        });
        if let Err(e) = copied {
            // A half-built child must not linger holding frames and swap
            // slots: free what it has and forget it, as a failed fork does.
            if self.is_live(child) {
                self.terminate(child, ExitStatus::Exited(-1));
            }
            self.forget(child);
            return Err(e);
        }
        // The child shares the parent's open file descriptions (offsets
        // included), as fork(2) does.
        let files = self.procs[&parent].files.clone();
        self.fs.share(&files);
        if let Some(c) = self.procs.get_mut(&child) {
            c.files = files;
        }
        // The parent's cached writable translations are stale now.
        let asid = self.procs[&parent].asid;
        let flushed = if self.config.arch.asid_bits() == 0 {
            self.mmu.tlb_mut().flush_all();
            None
        } else {
            self.mmu.tlb_mut().flush_asid(asid);
            Some(asid)
        };
        self.counters.tlb_flushes += 1;
        self.note(parent, || KernelEvent::TlbFlush {
            asid: flushed,
            reason: FlushReason::Fork,
        });
        Ok(child)
    }

    /// Gives `child` (fresh from spawn) the parent's regions, its present
    /// pages shared (private ones copy-on-write) and its swap entries.
    fn copy_address_space(&mut self, parent: Pid, child: Pid) -> Result<(), Errno> {
        let arch = Arc::clone(&self.arch);
        let regions: Vec<Region> = self.procs[&parent].regions.iter().copied().collect();
        let (brk_start, brk, stack_top, sp) = {
            let p = &self.procs[&parent];
            (p.brk_start, p.brk, p.stack_top, p.stack_pointer)
        };
        // The child's regions are exactly the parent's.
        {
            let c = self.procs.get_mut(&child).ok_or(Errno::Esrch)?;
            let stack: Vec<Region> = c.regions.iter().copied().collect();
            for r in stack {
                let _ = c.regions.unmap(r.start, r.end - r.start);
            }
            // A private huge-page region gets a copy of its own
            // (`fork_huge`), never the parent's object, even for a moment.
            for r in regions.iter().filter(|r| !r.is_private_huge()) {
                c.regions.insert(*r).map_err(|_| Errno::Enomem)?;
            }
            c.brk_start = brk_start;
            c.brk = brk;
            c.stack_top = stack_top;
            c.stack_pointer = sp;
        }
        for r in &regions {
            if let RegionKind::HugeTlb { .. } = r.kind {
                self.fork_huge(child, r)?;
                continue;
            }
            let shared = r.kind.is_shared();
            let mappings = {
                let p = &self.procs[&parent];
                p.page_table
                    .mappings(&arch, &self.mem, r.start, r.end)
                    .map_err(|_| Errno::Enomem)?
            };
            for m in mappings {
                let frame = (m.frame >> self.page_shift) as FrameId;
                // The child's entry starts clean and the parent's may lose
                // its dirty flag when write-protected: the frame keeps it.
                if m.dirty && frame != self.zero_frame {
                    self.frames.set_dirty(frame, true);
                }
                let mut perms = m.perms;
                if !shared && frame != self.zero_frame && perms.contains(Perms::WRITE) {
                    // Both sides lose write access; the first write copies.
                    perms -= Perms::WRITE;
                    let p = self.procs.get_mut(&parent).ok_or(Errno::Esrch)?;
                    p.page_table
                        .protect(&arch, &mut self.mem, m.vaddr, perms)
                        .map_err(|_| Errno::Enomem)?;
                }
                self.map_frame(child, m.vaddr, frame, perms, m.dirty)?;
            }
            let swapped = self.procs[&parent].swapped_between(r.start, r.end, self.page_shift);
            for (vpn, slot) in swapped {
                let _ = self.swap.dup(SlotId(slot));
                if let Some(c) = self.procs.get_mut(&child) {
                    c.swapped.insert(vpn, slot);
                }
            }
        }
        Ok(())
    }

    /// Replaces `pid`'s address space with a fresh one (execve).
    pub fn execve(&mut self, pid: Pid) -> Result<(), Errno> {
        self.live(pid)?;
        // The new address space is built before the old one goes, as Linux
        // allocates the new mm before exec's point of no return: when there
        // is no memory for it, exec fails and the process is as it was.
        let (mut page_table, regions, brk_start, stack_top) = self.new_address_space()?;
        let arch = Arc::clone(&self.arch);
        if !self.is_live(pid) {
            // Reclaim for the new tables killed the process itself.
            let mut alloc = TableFrames {
                frames: &mut self.frames,
                page_shift: self.page_shift,
            };
            page_table.destroy(&arch, &mut self.mem, &mut alloc);
            return Err(Errno::Enomem);
        }
        self.release_address_space(pid);
        let p = self.procs.get_mut(&pid).ok_or(Errno::Esrch)?;
        let mut old = std::mem::replace(&mut p.page_table, page_table);
        if self.current == Some(pid) {
            self.current_ctx.root = p.page_table.root();
        }
        p.regions = regions;
        p.brk_start = brk_start;
        p.brk = brk_start;
        p.stack_top = stack_top;
        p.stack_pointer = stack_top;
        let mut alloc = TableFrames {
            frames: &mut self.frames,
            page_shift: self.page_shift,
        };
        old.destroy(&arch, &mut self.mem, &mut alloc);
        self.flush_process(pid);
        Ok(())
    }

    /// Ends `pid` with exit status `status`.
    pub fn exit(&mut self, pid: Pid, status: i32) -> Result<(), Errno> {
        self.live(pid)?;
        self.terminate(pid, ExitStatus::Exited(status));
        Ok(())
    }

    /// Collects an ended child of `parent` (any child when `child` is
    /// `None`): its pid and how it ended. `Ok(None)` while children live
    /// but none has ended; ECHILD when there are no children.
    pub fn wait(
        &mut self,
        parent: Pid,
        child: Option<Pid>,
    ) -> Result<Option<(Pid, ExitStatus)>, Errno> {
        let mut any = false;
        let mut found = None;
        let children = self.children.get(&parent).into_iter().flatten();
        for &pid in children.filter(|&&pid| child.is_none_or(|c| c == pid)) {
            any = true;
            if let Some(ProcessState::Zombie(status)) = self.procs.get(&pid).map(|p| p.state) {
                found = Some((pid, status));
                break;
            }
        }
        if !any {
            return Err(Errno::Echild);
        }
        if let Some((pid, _)) = found {
            self.forget(pid);
        }
        Ok(found)
    }

    /// Drops the record of process `pid` (waited for, or a fork that
    /// failed), and its place among its parent's children.
    fn forget(&mut self, pid: Pid) {
        if let Some(p) = self.procs.remove(&pid) {
            if let Some(siblings) = self.children.get_mut(&p.parent) {
                siblings.remove(&pid);
                if siblings.is_empty() {
                    self.children.remove(&p.parent);
                }
            }
        }
    }

    /// Frees everything `pid` holds and leaves it a zombie with `status`;
    /// its children are reparented to 0.
    pub(crate) fn terminate(&mut self, pid: Pid, status: ExitStatus) {
        self.release_address_space(pid);
        if let Some(p) = self.procs.get_mut(&pid) {
            let files = std::mem::take(&mut p.files);
            self.fs.close_all(files);
        }
        self.collect_files();
        self.adopt_frames_of(pid);
        let arch = Arc::clone(&self.arch);
        if let Some(p) = self.procs.get_mut(&pid) {
            // The zombie keeps its emptied page table (the old root only as
            // a value); it never runs again, and wait() drops the record.
            p.state = ProcessState::Zombie(status);
            let mut alloc = TableFrames {
                frames: &mut self.frames,
                page_shift: self.page_shift,
            };
            p.page_table.destroy(&arch, &mut self.mem, &mut alloc);
        }
        self.flush_process(pid);
        for orphan in self.children.remove(&pid).unwrap_or_default() {
            if let Some(p) = self.procs.get_mut(&orphan) {
                p.parent = 0;
            }
            self.children.entry(0).or_default().insert(orphan);
        }
        if self.current == Some(pid) {
            self.current = None;
        }
    }
}

/// One user access of `pid` through `mmu` with `log` recording the
/// hardware's steps: the explaining side of [`Kernel::translate`]'s branch.
#[cold]
#[inline(never)]
fn access_recorded(
    mmu: &mut Mmu,
    mem: &mut PhysMem,
    log: &mut ExplainLog,
    pid: Pid,
    ctx: Context,
    vaddr: u64,
    kind: AccessKind,
) -> Result<vmlab_hw::Access, vmlab_hw::MmuFault> {
    mmu.access(mem, ctx, vaddr, kind, Mode::User, &mut LogSink { log, pid })
}

/// SIGSEGV at `addr` with `code`.
pub(crate) fn segv(addr: u64, code: SignalCode) -> Signal {
    Signal {
        kind: SignalKind::Sigsegv,
        code,
        addr,
    }
}

/// SIGBUS at `addr`.
pub(crate) fn bus(addr: u64) -> Signal {
    Signal {
        kind: SignalKind::Sigbus,
        code: SignalCode::BusAdrerr,
        addr,
    }
}

/// SIGKILL (the process was killed while the access was in flight).
pub(crate) fn kill_signal(addr: u64) -> Signal {
    Signal {
        kind: SignalKind::Sigkill,
        code: SignalCode::Kernel,
        addr,
    }
}

/// The page-table rights for a region's protection, widened to what the
/// architecture can express (x86 and AArch64 cannot map a page writable
/// or executable but unreadable; RISC-V reserves W without R).
///
/// PROT_NONE keeps the page present but for the kernel only: x86, AArch64
/// and RISC-V cannot encode a present leaf with no rights, and an entry the
/// encoder refuses would keep its old, wider rights. A kernel-only entry
/// still holds the frame (as Linux's PROT_NONE entry does) while every user
/// access faults and gets SEGV_ACCERR from the region check.
pub fn perms_for(prot: Prot) -> Perms {
    if prot.is_empty() {
        return Perms::READ;
    }
    let mut perms = Perms::USER;
    if prot.contains(Prot::READ) {
        perms |= Perms::READ;
    }
    if prot.contains(Prot::WRITE) {
        perms |= Perms::WRITE | Perms::READ;
    }
    if prot.contains(Prot::EXEC) {
        perms |= Perms::EXEC_USER | Perms::EXEC_SUPER | Perms::READ;
    }
    perms
}

/// Owner key the replacement policies remember pages by.
pub fn page_key(owner: Owner) -> u64 {
    (u64::from(owner.pid) << 48) ^ owner.vpn
}
