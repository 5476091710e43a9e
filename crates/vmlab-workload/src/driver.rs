//! The driver: runs one stream of memory references against a configured
//! machine and returns what it counted ([`RunReport`]). Two fidelity
//! levels ([`Model`]): `Full` sends every page piece of every access
//! through the whole machine (TLB, page walk, fault handler, replacement)
//! in trace mode, where every page the trace touches is backed memory that
//! already exists; `Replacement` models only which pages are resident.
//! Both use the same policies, so the fault counts agree.
//!
//! A stream of [`Op`]s ([`run_ops_sampled`]) may also carry a real
//! program's address-space system calls: from the first one on, the full
//! model replays them ([`crate::replay`]) so the process has the program's
//! regions, and only pages outside them are trace mode's backed memory;
//! [`RunReport::replay`] says so. The replacement model has no regions and
//! ignores the calls.
//!
//! [`run_sampled`] also reports a [`Sample`] every `every` references: the
//! time series behind `vmlab run --csv` (fault rate and resident set over
//! the run), streamed to the caller so a long trace keeps constant memory.

use crate::chunk::{batched_accesses, Batched, Chunk, ChunkedOps};
use crate::future::Future;
use crate::lean::{LeanMachine, Stop};
use crate::op::{page_pieces, within_page, MemRef, Op};
use crate::pageset::{PageSet, RecentPages};
use crate::replay::{Replay, ReplayReport};
use crate::syscall::Syscall;
use crate::trace::TraceError;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{AccessKind, Arch};
use vmlab_kernel::explain::ExplainLog;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::policy::sim::ReplacementSim;
use vmlab_kernel::policy::spec::from_spec;
use vmlab_kernel::policy::PolicyParams;
use vmlab_kernel::region::Prot;
use vmlab_kernel::{Kernel, KernelConfig};
use vmlab_kernel::{Signal, SignalCode, SignalKind};

/// How much of the machine a run models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// TLB, page tables, fault handler and replacement.
    Full,
    /// Which pages are resident, nothing else.
    Replacement,
}

/// The machine a run uses.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Translation scheme (its base page is the unit of residency).
    pub arch: Arch,
    /// Physical frames.
    pub frames: usize,
    /// Replacement policy name.
    pub policy: String,
    /// TLB geometry (the scheme's default when `None`).
    pub tlb: Option<TlbConfig>,
    /// The workload's future, for a policy that needs it (OPT): given by
    /// [`give_futures`](crate::future::give_futures) before the run.
    pub future: Option<Future>,
}

/// What a run counted.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The model used.
    pub model: Model,
    /// The scheme's name.
    pub arch: String,
    /// The policy's name.
    pub policy: String,
    /// Physical frames.
    pub frames: usize,
    /// References: page pieces of the stream's accesses.
    pub references: u64,
    /// Distinct pages touched.
    pub distinct_pages: u64,
    /// References to non-resident pages.
    pub faults: u64,
    /// Faults per reference.
    pub fault_rate: f64,
    /// Pages evicted.
    pub evictions: u64,
    /// Dirty pages written back on eviction.
    pub write_backs: u64,
    /// TLB hits (full model only).
    pub tlb_hits: Option<u64>,
    /// Page-table walks (full model only).
    pub walks: Option<u64>,
    /// Bytes of page tables at the end (full model only).
    pub page_table_bytes: Option<u64>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Malformed trace lines skipped (with the reader's skip mode; the
    /// caller fills it in from its reader).
    pub skipped_lines: u64,
    /// What replaying the stream's system calls did (full model, streams
    /// with system calls only; otherwise the run was in trace mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayReport>,
}

/// The machine's state after `references` references, and what happened
/// since the previous sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// References so far.
    pub references: u64,
    /// Faults so far.
    pub faults: u64,
    /// Faults per reference since the previous sample.
    pub interval_fault_rate: f64,
    /// Pages resident now.
    pub resident_pages: u64,
    /// Evictions so far.
    pub evictions: u64,
    /// Write-backs so far.
    pub write_backs: u64,
    /// TLB hits per reference since the previous sample (full model only).
    pub interval_tlb_hit_rate: Option<f64>,
}

impl Sample {
    /// The CSV header matching [`Sample::csv_row`].
    pub const CSV_HEADER: &'static str = "references,faults,interval_fault_rate,resident_pages,evictions,write_backs,interval_tlb_hit_rate";

    /// One CSV row (an empty last cell in the replacement model).
    pub fn csv_row(&self) -> String {
        let tlb = self
            .interval_tlb_hit_rate
            .map_or(String::new(), |r| format!("{r:.6}"));
        format!(
            "{},{},{:.6},{},{},{},{tlb}",
            self.references,
            self.faults,
            self.interval_fault_rate,
            self.resident_pages,
            self.evictions,
            self.write_backs
        )
    }
}

/// Turns cumulative counts into samples with per-interval rates.
#[derive(Default)]
struct Sampler {
    last: Sample,
    last_tlb_hits: u64,
}

impl Sampler {
    /// A sample at `now` (its interval fields are filled in here), with
    /// the cumulative TLB hits where the model has a TLB.
    fn sample(&mut self, mut now: Sample, tlb_hits: Option<u64>) -> Sample {
        let refs = now.references - self.last.references;
        let per_ref = |n: u64| {
            if refs == 0 {
                0.0
            } else {
                n as f64 / refs as f64
            }
        };
        now.interval_fault_rate = per_ref(now.faults - self.last.faults);
        now.interval_tlb_hit_rate = tlb_hits.map(|hits| {
            let rate = per_ref(hits - self.last_tlb_hits);
            self.last_tlb_hits = hits;
            rate
        });
        self.last = now;
        now
    }
}

/// Counts references down to the next sample.
struct Countdown {
    every: u64,
    left: u64,
}

impl Countdown {
    fn new(every: u64) -> Countdown {
        Countdown { every, left: every }
    }

    /// One reference; true when a sample is due. With `every` 0 the count
    /// wraps and never reaches 0 again within any real run.
    #[inline]
    fn tick(&mut self) -> bool {
        self.left = self.left.wrapping_sub(1);
        if self.left == 0 {
            self.left = self.every;
            return true;
        }
        false
    }

    /// References that can go before a sample is due (all, with `every`
    /// 0).
    #[inline]
    fn room(&self) -> u64 {
        if self.left == 0 {
            u64::MAX
        } else {
            self.left
        }
    }

    /// `n` references, at most [`Countdown::room`]; true when a sample is
    /// due after the last of them.
    #[inline]
    fn advance(&mut self, n: u64) -> bool {
        self.left = self.left.wrapping_sub(n);
        if self.left == 0 {
            self.left = self.every;
            return true;
        }
        false
    }

    /// Whether references since the last sample await a final one.
    fn pending(&self) -> bool {
        self.every != 0 && self.left != self.every
    }
}

/// Why a run stopped.
#[derive(Debug)]
pub enum DriverError {
    /// The trace could not be read.
    Trace(TraceError),
    /// The machine cannot be built (names the setting).
    Config(String),
    /// An address the scheme cannot map.
    Address {
        /// The address.
        addr: u64,
        /// Why.
        message: String,
        /// Where in the stream the access was, once known.
        at: Option<StreamPlace>,
        /// Whether the address lies where the scheme cannot map a page for
        /// the process (where a workload that places its own pages should
        /// move them).
        unmappable: bool,
    },
}

/// Where an access was in its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamPlace {
    /// Record `n` of the stream (1-based, accesses and system calls
    /// counted in order, a lackey modify line's load and store apart).
    Record(u64),
    /// Line `line` (1-based) of the text trace `file`.
    Line {
        /// The trace's name, as its reader's errors give it.
        file: Arc<str>,
        /// The line.
        line: u64,
    },
    /// Record `record` (counted as [`StreamPlace::Record`] counts) of the
    /// trace `file`, which has no lines (a binary trace) or could not be
    /// read again to find its line (standard input, a pipe).
    TraceRecord {
        /// The trace's name, as its reader's errors give it.
        file: Arc<str>,
        /// The record.
        record: u64,
    },
}

impl DriverError {
    /// The error placed at record `n` of the stream (an address error
    /// only; it keeps a place it already has).
    fn at_record(self, n: u64) -> DriverError {
        match self {
            DriverError::Address {
                addr,
                message,
                at: None,
                unmappable,
            } => DriverError::Address {
                addr,
                message,
                at: Some(StreamPlace::Record(n)),
                unmappable,
            },
            other => other,
        }
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Trace(e) => write!(f, "{e}"),
            DriverError::Config(m) => f.write_str(m),
            DriverError::Address {
                addr, message, at, ..
            } => {
                match at {
                    Some(StreamPlace::Record(n)) => write!(f, "record {n} of the stream, ")?,
                    Some(StreamPlace::Line { file, line }) => write!(f, "{file}:{line}: ")?,
                    Some(StreamPlace::TraceRecord { file, record }) => {
                        write!(f, "{file}: record {record}: ")?
                    }
                    None => {}
                }
                write!(f, "address {addr:#x}: {message}")
            }
        }
    }
}

impl std::error::Error for DriverError {}

/// Runs `stream` on `machine` under `model`.
pub fn run(
    stream: impl Iterator<Item = Result<MemRef, TraceError>>,
    machine: &Machine,
    model: Model,
) -> Result<RunReport, DriverError> {
    run_sampled(stream, machine, model, 0, &mut |_| {})
}

/// Like [`run`], handing `on_sample` a [`Sample`] after every `every`
/// references (never when `every` is 0) and after the last one.
pub fn run_sampled(
    stream: impl Iterator<Item = Result<MemRef, TraceError>>,
    machine: &Machine,
    model: Model,
    every: u64,
    on_sample: &mut dyn FnMut(&Sample),
) -> Result<RunReport, DriverError> {
    run_chunks_sampled(batched_accesses(stream), machine, model, every, on_sample)
}

/// Like [`run_sampled`], for a stream that may carry system calls (a real
/// program's trace): the full model replays them, the replacement model
/// skips them.
pub fn run_ops_sampled(
    ops: impl Iterator<Item = Result<Op, TraceError>>,
    machine: &Machine,
    model: Model,
    every: u64,
    on_sample: &mut dyn FnMut(&Sample),
) -> Result<RunReport, DriverError> {
    run_chunks_sampled(Batched::new(ops), machine, model, every, on_sample)
}

/// Like [`run_ops_sampled`], for a stream read a chunk at a time (what
/// the others come down to).
pub fn run_chunks_sampled(
    chunks: impl ChunkedOps,
    machine: &Machine,
    model: Model,
    every: u64,
    on_sample: &mut dyn FnMut(&Sample),
) -> Result<RunReport, DriverError> {
    match model {
        Model::Full => run_full(chunks, machine, every, on_sample, None).map(|(report, _)| report),
        Model::Replacement => run_replacement(chunks, machine, every, on_sample),
    }
}

fn report(machine: &Machine, model: Model) -> RunReport {
    RunReport {
        model,
        arch: machine.arch.name().to_string(),
        policy: machine.policy.clone(),
        frames: machine.frames,
        references: 0,
        distinct_pages: 0,
        faults: 0,
        fault_rate: 0.0,
        evictions: 0,
        write_backs: 0,
        tlb_hits: None,
        walks: None,
        page_table_bytes: None,
        seconds: 0.0,
        skipped_lines: 0,
        replay: None,
    }
}

/// References the replacement model preloads together.
const BATCH: usize = 16;

/// Builds what a run of `machine` in `model` holds before its first
/// reference (the frame table and the policy's state, all sized by the
/// frames), and drops it. A program that counts its allocations learns
/// from two small builds what a large one would hold: the command line
/// refuses a machine its host cannot hold instead of failing to allocate.
/// OPT's state does not grow with its future, which is shared and
/// accounted apart: a machine given none is built with an empty one.
pub fn build_only(machine: &Machine, model: Model) -> Result<(), DriverError> {
    let params = PolicyParams {
        next_use: Some(policy_params(machine).next_use.unwrap_or_default()),
        ..PolicyParams::default()
    };
    match model {
        Model::Full => full_kernel(machine, params).map(drop),
        Model::Replacement => replacement_sim(machine, &params).map(drop),
    }
}

/// The policy's knobs for a run of `machine`: the defaults, and the
/// workload's future where it was given.
fn policy_params(machine: &Machine) -> PolicyParams {
    PolicyParams {
        next_use: machine.future.as_ref().map(Future::next_use),
        ..PolicyParams::default()
    }
}

/// The replacement model's simulator for `machine`.
fn replacement_sim(
    machine: &Machine,
    params: &PolicyParams,
) -> Result<ReplacementSim, DriverError> {
    let (policy, params) = from_spec(&machine.policy, machine.frames, params)
        .map_err(|e| DriverError::Config(format!("--policy: {e}")))?;
    Ok(ReplacementSim::new(
        policy,
        machine.frames,
        params.tick_interval,
    ))
}

/// The replacement model; system calls are skipped.
fn run_replacement(
    mut chunks: impl ChunkedOps,
    machine: &Machine,
    every: u64,
    on_sample: &mut dyn FnMut(&Sample),
) -> Result<RunReport, DriverError> {
    let mut sim = replacement_sim(machine, &policy_params(machine))?;
    let page = machine.arch.page_bytes();
    let mut seen = PageSet::new();
    let mut sampler = Sampler::default();
    let mut sample = |sim: &ReplacementSim| {
        let s = sim.stats();
        let now = Sample {
            references: s.references,
            faults: s.faults,
            resident_pages: s.faults - s.evictions,
            evictions: s.evictions,
            write_backs: s.write_backs,
            ..Sample::default()
        };
        on_sample(&sampler.sample(now, None));
    };
    let mut countdown = Countdown::new(every);
    // A shift, not a division per reference: pages are powers of two.
    let page_shift = page.trailing_zeros();
    // References are simulated in batches of up to BATCH: the simulator
    // first preloads every page of a batch, so their cache misses are in
    // flight together instead of one after another.
    let mut pages = [0u64; BATCH];
    let mut writes = [false; BATCH];
    let mut filled = 0;
    // A page's first reference is a fault (it cannot be resident yet), so
    // the distinct pages are counted on faults alone, not looked up on
    // every hit.
    let mut run_batch = |sim: &mut ReplacementSim, pages: &[u64], writes: &[bool]| {
        sim.preload(pages);
        for (&page, &write) in pages.iter().zip(writes) {
            if !sim.access(page, write) {
                seen.insert(page);
            }
            if countdown.tick() {
                sample(sim);
            }
        }
    };
    let start = Instant::now();
    let mut add = |piece: MemRef| {
        let vpn = piece.addr >> page_shift;
        pages[filled] = vpn;
        writes[filled] = piece.kind == AccessKind::Write;
        filled += 1;
        if filled == BATCH {
            run_batch(&mut sim, &pages, &writes);
            filled = 0;
        }
    };
    while let Some(chunk) = chunks.read_chunk() {
        let Chunk::Accesses(accesses) = chunk.map_err(DriverError::Trace)? else {
            continue;
        };
        for &r in accesses {
            // Most accesses stay within their page: no splitting to do.
            if within_page(&r, page) {
                add(r);
            } else {
                page_pieces(r, page).for_each(&mut add);
            }
        }
    }
    run_batch(&mut sim, &pages[..filled], &writes[..filled]);
    if countdown.pending() {
        sample(&sim);
    }
    let stats = sim.stats();
    let mut out = report(machine, Model::Replacement);
    out.references = stats.references;
    out.distinct_pages = seen.len();
    out.faults = stats.faults;
    out.fault_rate = stats.miss_ratio();
    out.evictions = stats.evictions;
    out.write_backs = stats.write_backs;
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

/// Runs `stream` on `machine` in the full model with the explanation
/// `log` installed, until the log has its window (what `vmlab explain`
/// narrates); returns the report of the part run, and the log.
pub fn run_explained(
    stream: impl Iterator<Item = Result<Op, TraceError>>,
    machine: &Machine,
    log: ExplainLog,
) -> Result<(RunReport, ExplainLog), DriverError> {
    let (report, log) = run_full(Batched::new(stream), machine, 0, &mut |_| {}, Some(log))?;
    let log = log.ok_or_else(|| DriverError::Config("the explanation log was lost".into()))?;
    Ok((report, log))
}

/// The full model's kernel for `machine`, in trace mode, its policy
/// built with `params`.
fn full_kernel(machine: &Machine, params: PolicyParams) -> Result<Kernel, DriverError> {
    let mut config = KernelConfig::new(machine.arch.clone(), machine.frames);
    config.policy = machine.policy.clone();
    config.policy_params = params;
    if let Some(tlb) = &machine.tlb {
        config.tlb = tlb.clone();
    }
    // A replayed program's anonymous pages go to swap when evicted; a
    // trace run has no swap flag, so swap never runs out, as trace mode's
    // backing store never does (slots cost memory only when used).
    config.swap_slots = u32::MAX;
    // The kernel names the setting at fault (frames, tlb, policy): the
    // command line's flag of the same name.
    Kernel::new(config).map_err(|e| DriverError::Config(format!("--{e}")))
}

/// The full model's kernel for `machine` with the one process a trace
/// runs in, its address space empty.
fn trace_process(machine: &Machine) -> Result<(Kernel, Pid), DriverError> {
    let mut k = full_kernel(machine, policy_params(machine))?;
    let pid = k.spawn(0).map_err(|e| {
        // Memory too small for the process's first page tables (the
        // address-space layout fits any scheme vmlab accepts).
        DriverError::Config(format!(
            "--frames: {} frames of {} bytes cannot hold a process's page tables on {} ({e})",
            machine.frames,
            machine.arch.page_bytes(),
            machine.arch.name()
        ))
    })?;
    // A trace brings its own addresses, its stack included: the process
    // starts with nothing mapped.
    let initial: Vec<(u64, u64)> = k
        .regions(pid)
        .map(|m| m.iter().map(|r| (r.start, r.end - r.start)).collect())
        .unwrap_or_default();
    for (start, len) in initial {
        k.munmap(pid, start, len)
            .map_err(|e| DriverError::Config(format!("cannot clear the process: {e}")))?;
    }
    Ok((k, pid))
}

/// The lean engine for a trace run of `pid` on `k`, built for `machine`,
/// if it models the machine.
fn lean_machine(
    machine: &Machine,
    k: &Kernel,
    pid: Pid,
) -> Result<Option<LeanMachine>, DriverError> {
    let params = &k.config().policy_params;
    let (policy, params) = from_spec(&machine.policy, machine.frames, params)
        .map_err(|e| DriverError::Config(format!("--policy: {e}")))?;
    Ok(LeanMachine::for_run(k, pid, policy, params.tick_interval))
}

/// Whether a run of `machine` on a stream of accesses alone takes the
/// lean engine.
#[cfg(test)]
pub(crate) fn lean_models(machine: &Machine) -> bool {
    trace_process(machine)
        .and_then(|(k, pid)| lean_machine(machine, &k, pid))
        .is_ok_and(|lean| lean.is_some())
}

/// The full model; with `explain`, the run records into it and stops
/// once it wants no more events.
fn run_full(
    mut chunks: impl ChunkedOps,
    machine: &Machine,
    every: u64,
    on_sample: &mut dyn FnMut(&Sample),
    explain: Option<ExplainLog>,
) -> Result<(RunReport, Option<ExplainLog>), DriverError> {
    let (mut k, pid) = trace_process(machine)?;
    let explaining = explain.is_some();
    if !explaining && chunks.accesses_only() {
        if let Some(lean) = lean_machine(machine, &k, pid)? {
            let report = run_lean(chunks, machine, (k, pid), lean, every, on_sample)?;
            return Ok((report, None));
        }
    }
    k.set_explain(explain);
    let page = k.page_bytes();
    let mut run = FullRun {
        k,
        pid,
        machine,
        page,
        page_shift: page.trailing_zeros(),
        explaining,
        pages: TracePages::default(),
        replay: None,
        countdown: Countdown::new(every),
        sampler: Sampler::default(),
        on_sample,
    };
    let start = Instant::now();
    // Records of the stream before the current chunk: where an error is.
    let mut records = 0u64;
    'stream: while let Some(chunk) = chunks.read_chunk() {
        let accesses = match chunk.map_err(DriverError::Trace)? {
            Chunk::Accesses(accesses) => accesses,
            Chunk::Syscall(call) => {
                records += 1;
                run.syscall(&call).map_err(|e| e.at_record(records))?;
                continue;
            }
        };
        let mut rest = accesses;
        while let Some((&r, tail)) = rest.split_first() {
            let taken = run.repeat_run(rest);
            if taken > 0 {
                rest = &rest[taken..];
                continue;
            }
            rest = tail;
            // The page-table entry of an access some way ahead, and its
            // page's bit among the pages touched.
            if let Some(ahead) = rest.get(TRANSLATION_LOOKAHEAD) {
                run.k.prefetch_translation(run.pid, ahead.addr);
                run.pages.mapped.prefetch(ahead.addr >> run.page_shift);
            }

            // Most accesses stay within their page: no splitting to do.
            let going = if within_page(&r, page) {
                run.step(r)
            } else {
                page_pieces(r, page).try_fold(true, |going, piece| {
                    Ok::<_, DriverError>(going && run.step(piece)?)
                })
            };
            // Placed only on an error: the count is off the hot path.
            let at = |e: DriverError| e.at_record(records + (accesses.len() - rest.len()) as u64);
            if !going.map_err(at)? {
                break 'stream;
            }
        }
        records += accesses.len() as u64;
    }
    if run.countdown.pending() {
        run.sample();
    }
    let FullRun {
        mut k,
        pages,
        replay,
        ..
    } = run;
    let c = k.counters();
    let mmu = k.mmu().counters();
    let counted = FullCounts {
        references: c.references,
        faults: c.minor_faults + c.major_faults,
        evictions: c.evictions,
        write_backs: c.write_backs,
        tlb_hits: mmu.tlb_hits,
        walks: mmu.walks,
    };
    let mut out = full_report(machine, &counted, &pages);
    out.page_table_bytes = k.page_table_bytes(pid);
    out.replay = replay.map(|r| r.into_report(&k));
    out.seconds = start.elapsed().as_secs_f64();
    Ok((out, k.set_explain(None)))
}

/// What a full-model run counted, whichever engine ran it.
struct FullCounts {
    references: u64,
    faults: u64,
    evictions: u64,
    write_backs: u64,
    tlb_hits: u64,
    walks: u64,
}

/// The full model's report of a run of `machine` that counted `c` over
/// the trace-mode pages `pages`.
fn full_report(machine: &Machine, c: &FullCounts, pages: &TracePages) -> RunReport {
    let mut out = report(machine, Model::Full);
    out.references = c.references;
    out.distinct_pages = pages.mapped.len();
    out.faults = c.faults;
    out.fault_rate = if c.references == 0 {
        0.0
    } else {
        c.faults as f64 / c.references as f64
    };
    out.evictions = c.evictions;
    out.write_backs = c.write_backs;
    out.tlb_hits = Some(c.tlb_hits);
    out.walks = Some(c.walks);
    out
}

/// The full model on its lean engine ([`crate::lean`]), for a stream of
/// accesses alone on a machine it models; `k` keeps the process's regions
/// (trace mode's blocks are mapped there, with the same errors).
fn run_lean(
    mut chunks: impl ChunkedOps,
    machine: &Machine,
    (mut k, pid): (Kernel, Pid),
    mut lean: LeanMachine,
    every: u64,
    on_sample: &mut dyn FnMut(&Sample),
) -> Result<RunReport, DriverError> {
    let page = machine.arch.page_bytes();
    let page_shift = page.trailing_zeros();
    let mut pages = TracePages::default();
    let mut countdown = Countdown::new(every);
    let mut sampler = Sampler::default();
    let mut sample = |lean: &LeanMachine| {
        let c = lean.counters();
        let now = Sample {
            references: c.references,
            faults: c.faults,
            resident_pages: c.resident_pages,
            evictions: c.evictions,
            write_backs: c.write_backs,
            ..Sample::default()
        };
        on_sample(&sampler.sample(now, Some(c.tlb_hits)));
    };
    let start = Instant::now();
    // Records of the stream before the current chunk: where an error is.
    let mut records = 0u64;
    // The page of the access prefetched for last.
    let mut last_far = u64::MAX;
    while let Some(chunk) = chunks.read_chunk() {
        let accesses = match chunk.map_err(DriverError::Trace)? {
            Chunk::Accesses(accesses) => accesses,
            Chunk::Syscall(_) => {
                return Err(DriverError::Config(format!(
                    "record {}: a system call in a stream that promised accesses alone",
                    records + 1
                )))
            }
        };
        let mut i = 0;
        while let Some(&r) = accesses.get(i) {
            // A run on the page the last access found first in the TLB,
            // counted in one go, up to a tick or a sample.
            if lean.may_repeat(&r) {
                let room = usize::try_from(countdown.room()).unwrap_or(usize::MAX);
                let end = accesses.len().min(i.saturating_add(room));
                let taken = lean.repeat_run(&accesses[i..end], page);
                if taken > 0 {
                    i += taken;
                    if countdown.advance(taken as u64) {
                        sample(&lean);
                    }
                    continue;
                }
            }
            // What the accesses some way ahead will read: the far one's
            // leaf entry; the near one's policy state (its entry loaded by
            // now), or if it will fault, its bit among the pages touched.
            // Once for a run of accesses to one page.
            if let (Some(far), Some(near)) = (
                accesses.get(i + LEAN_LOOKAHEAD),
                accesses.get(i + LEAN_LOOKAHEAD / 2),
            ) {
                let (far, near) = (far.addr >> page_shift, near.addr >> page_shift);
                if far != last_far {
                    last_far = far;
                    if lean.prefetch(far, near) {
                        pages.mapped.prefetch(near);
                    }
                }
            }
            let at = |e: DriverError| e.at_record(records + i as u64 + 1);
            let mut one = |piece: MemRef| -> Result<(), DriverError> {
                let vpn = piece.addr >> page_shift;
                // Only a page that is not present can be new: the stream's
                // pages are counted, and mapped on first touch, here.
                let absent = || pages.first_touch(&mut k, pid, machine, piece.addr, false);
                lean.access(vpn, piece.kind, absent).map_err(|stop| {
                    let addr = piece.addr & !(page - 1);
                    let (kind, code) = match stop {
                        Stop::Page(e) => return e,
                        Stop::OutOfMemory => (SignalKind::Sigkill, SignalCode::Kernel),
                        Stop::Unresolved => (SignalKind::Sigsegv, SignalCode::SegvAccerr),
                    };
                    signalled(piece.addr, Signal { kind, code, addr })
                })?;
                if countdown.tick() {
                    sample(&lean);
                }
                Ok(())
            };
            if within_page(&r, page) {
                one(r).map_err(at)?;
            } else {
                page_pieces(r, page).try_for_each(&mut one).map_err(at)?;
            }
            i += 1;
        }
        records += accesses.len() as u64;
    }
    if countdown.pending() {
        sample(&lean);
    }
    let c = lean.counters();
    let counted = FullCounts {
        references: c.references,
        faults: c.faults,
        evictions: c.evictions,
        write_backs: c.write_backs,
        tlb_hits: c.tlb_hits,
        walks: c.walks,
    };
    let mut out = full_report(machine, &counted, &pages);
    out.page_table_bytes = Some(c.table_bytes);
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

/// How many accesses ahead the lean engine starts loading a page's leaf
/// entry; half as far, the policy's state for the page's frame.
const LEAN_LOOKAHEAD: usize = 16;

/// How many accesses ahead the full model prefetches page-table entries
/// ([`Kernel::prefetch_translation`]): far enough for a host cache miss
/// to complete during the accesses between.
const TRANSLATION_LOOKAHEAD: usize = 8;

/// The unit trace mode maps backing store in: 2 MiB (or the page, if
/// larger).
const TRACE_BLOCK_BYTES: u64 = 2 << 20;

/// Trace mode's pages: which the stream touched and which blocks of
/// backing store are mapped for them, kept by the driver beside the
/// machine (either engine's).
#[derive(Default)]
struct TracePages {
    /// Every page touched: the distinct pages.
    mapped: PageSet,
    /// Trace mode maps backing store a block of [`TRACE_BLOCK_BYTES`] at a
    /// time, so the address space holds a few large regions rather than
    /// one per page the trace touched (faults are the same: a page is read
    /// in when first accessed, whatever is mapped around it). The blocks
    /// mapped, by first address.
    mapped_blocks: BTreeSet<u64>,
    /// Every block trace mode has tried to map whole (`mapped_blocks`,
    /// until the first replayed call trims them), by block number (block
    /// address over the block size), for the membership test of every
    /// first touch: a bit test where the tree would cost a search.
    blocks_tried: PageSet,
    /// Blocks that did not fit whole (the edge of the address space), whose
    /// pages are mapped one by one.
    blocks_by_page: BTreeSet<u64>,
    /// References come in runs on one page: only a new page is looked up.
    last_base: Option<u64>,
    /// Trace mode's pages entered lately: a program alternates between a
    /// few pages (code, stack, data), so most changes of page find theirs
    /// here and need no first-touch look-up.
    entered: RecentPages,
}

impl TracePages {
    /// The page of an access to `addr` counted, and if it was never
    /// touched before, mapped as backed memory, with its whole block the
    /// first time the trace enters the block (a block at the edge of the
    /// address space page by page). An explanation maps page by page, so
    /// the backed region it narrates is exactly the pages touched so far.
    #[inline(always)]
    fn first_touch(
        &mut self,
        k: &mut Kernel,
        pid: Pid,
        machine: &Machine,
        addr: u64,
        explaining: bool,
    ) -> Result<(), DriverError> {
        let page = machine.arch.page_bytes();
        let base = addr & !(page - 1);
        if !self.mapped.insert(base / page) {
            return Ok(());
        }
        let rwx = Prot::READ | Prot::WRITE | Prot::EXEC;
        let block_bytes = TRACE_BLOCK_BYTES.max(page);
        let block = base & !(block_bytes - 1);
        let mapped = if explaining || self.blocks_by_page.contains(&block) {
            k.map_backed(pid, Some(base), page, rwx).map(drop)
        } else if !self.blocks_tried.insert(block / block_bytes) {
            // Mapped whole before (a block that failed to is in
            // `blocks_by_page`).
            Ok(())
        } else {
            self.mapped_blocks.insert(block);
            if k.map_backed(pid, Some(block), block_bytes, rwx).is_ok() {
                Ok(())
            } else {
                self.blocks_by_page.insert(block);
                k.map_backed(pid, Some(base), page, rwx).map(drop)
            }
        };
        mapped.map_err(|e| unmappable(k, pid, machine, addr, e))
    }
}

/// The error of an access to `addr` that cannot be mapped for `pid` (the
/// mapping failed with `e`).
fn unmappable(
    k: &Kernel,
    pid: Pid,
    machine: &Machine,
    addr: u64,
    e: vmlab_kernel::Errno,
) -> DriverError {
    // The usable span, for the reader to move the workload into.
    let span = k.regions(pid).map_or_else(String::new, |map| {
        format!(" {:#x}..{:#x}", map.min_addr(), map.task_size())
    });
    DriverError::Address {
        addr,
        at: None,
        message: format!(
            "cannot be mapped on {} ({e}): outside its user address space{span} or clashing with the stack",
            machine.arch.name()
        ),
        unmappable: true,
    }
}

/// The error of an access to `addr` that the machine ended with `s`.
fn signalled(addr: u64, s: Signal) -> DriverError {
    DriverError::Address {
        addr,
        message: match s.kind {
            SignalKind::Sigkill => format!(
                "memory and swap ran out and the out-of-memory killer ended the traced program ({s}); give the machine more memory (--frames or --mem)"
            ),
            _ => format!("the machine raised {s}"),
        },
        at: None,
        unmappable: false,
    }
}

/// A full-model run between references: the machine, the one process the
/// stream runs in, and what the driver keeps beside the kernel.
struct FullRun<'a> {
    k: Kernel,
    pid: Pid,
    machine: &'a Machine,
    page: u64,
    page_shift: u32,
    /// Whether the kernel carries an explanation log.
    explaining: bool,
    /// Trace mode's pages: touched, entered, mapped.
    pages: TracePages,
    /// Replaying system calls, from the stream's first one on.
    replay: Option<Replay>,
    countdown: Countdown,
    sampler: Sampler,
    on_sample: &'a mut dyn FnMut(&Sample),
}

impl FullRun<'_> {
    /// Replays a recorded system call.
    fn syscall(&mut self, call: &Syscall) -> Result<(), DriverError> {
        if self.replay.is_none() {
            self.trim_blocks()?;
        }
        self.replay
            .get_or_insert_with(Replay::new)
            .apply(&mut self.k, self.pid, call);
        // The call may have changed the current page's region.
        self.pages.last_base = None;
        Ok(())
    }

    /// Before the first replayed system call: trace mode mapped whole
    /// blocks around the pages touched so far (a program's loader pages),
    /// but the program's own calls expect the rest of its address space
    /// free, as it was when recorded. The blocks shrink back to the pages
    /// touched; untouched pages were never resident, so nothing else
    /// changes.
    fn trim_blocks(&mut self) -> Result<(), DriverError> {
        let block_pages = TRACE_BLOCK_BYTES.max(self.page) / self.page;
        for block in std::mem::take(&mut self.pages.mapped_blocks) {
            let first = block / self.page;
            let mut vpn = first;
            while vpn < first + block_pages {
                if self.pages.mapped.contains(vpn) {
                    vpn += 1;
                    continue;
                }
                let hole = vpn;
                while vpn < first + block_pages && !self.pages.mapped.contains(vpn) {
                    vpn += 1;
                }
                let (addr, len) = (hole * self.page, (vpn - hole) * self.page);
                self.k
                    .munmap(self.pid, addr, len)
                    .map_err(|e| DriverError::Address {
                        addr,
                        message: format!("cannot give back untouched trace pages ({e})"),
                        at: None,
                        unmappable: false,
                    })?;
            }
        }
        Ok(())
    }

    /// Takes the accesses at the front of `rest` that the MMU's repeat
    /// registers grant outright (a run on the current code and data
    /// pages), counted all at once and stopping where a sample is due;
    /// returns how many (0: the next access takes [`FullRun::step`]).
    /// Replay checks every access against the recorded regions, so it
    /// takes them one by one.
    #[inline(always)]
    fn repeat_run(&mut self, rest: &[MemRef]) -> usize {
        // Settled on the first access alone when there is no run (every
        // access of a trace with no locality).
        let starts_run = rest
            .first()
            .is_some_and(|r| within_page(r, self.page) && self.k.repeat_grants(r.addr, r.kind));
        if !starts_run || self.replay.is_some() {
            return 0;
        }
        let room = usize::try_from(self.countdown.room()).unwrap_or(usize::MAX);
        let page = self.page;
        let taken = self
            .k
            .access_run(self.pid, &rest[..rest.len().min(room)], |r| {
                within_page(r, page).then_some((r.addr, r.kind))
            });
        if taken > 0 && self.countdown.advance(taken as u64) {
            self.sample();
        }
        taken
    }

    /// One access within a page; false once an explanation has its window.
    #[inline(always)]
    fn step(&mut self, piece: MemRef) -> Result<bool, DriverError> {
        if self.explaining && !self.k.explaining() {
            return Ok(false);
        }
        let base = piece.addr & !(self.page - 1);
        match self.replay.as_mut() {
            // A page entered lately was touched before and needs nothing
            // else, and most pages entered are such.
            None if self.pages.last_base == Some(base) => {}
            None => {
                self.pages.last_base = Some(base);
                if !self.pages.entered.enter(base >> self.page_shift) {
                    let (k, pid) = (&mut self.k, self.pid);
                    let explaining = self.explaining;
                    self.pages
                        .first_touch(k, pid, self.machine, piece.addr, explaining)?;
                }
            }
            Some(replay) => {
                if self.pages.last_base != Some(base) {
                    self.pages.entered.enter(base >> self.page_shift);
                    self.pages.mapped.insert(base >> self.page_shift);
                    replay
                        .enter_page(&mut self.k, self.pid, base)
                        .map_err(|e| unmappable(&self.k, self.pid, self.machine, piece.addr, e))?;
                    self.pages.last_base = Some(base);
                }
                if !replay.admits(piece.addr, piece.kind) {
                    return Ok(true);
                }
            }
        }
        self.k
            .access(self.pid, piece.addr, piece.kind)
            .map_err(|s| signalled(piece.addr, s))?;
        if self.countdown.tick() {
            self.sample();
        }
        Ok(true)
    }

    /// Hands the caller a [`Sample`] of the counters now.
    fn sample(&mut self) {
        let k = &self.k;
        let c = k.counters();
        let now = Sample {
            references: c.references,
            faults: c.minor_faults + c.major_faults,
            resident_pages: k.process_counters(self.pid).map_or(0, |p| p.resident_pages),
            evictions: c.evictions,
            write_backs: c.write_backs,
            ..Sample::default()
        };
        (self.on_sample)(&self.sampler.sample(now, Some(k.mmu().counters().tlb_hits)));
    }
}
