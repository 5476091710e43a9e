//! Sweeps: one workload run over the cartesian product of machine
//! dimensions (schemes, TLBs, models, policies, memory sizes), one tidy
//! [`Row`] per configuration; or, with [`mrc_rows`], LRU's miss ratio at
//! every memory size from one pass per page size (exact and/or SHARDS).
//!
//! Configurations are enumerated in a fixed order ([`Sweep::configurations`])
//! and run in parallel with rayon; each run is the driver on its own
//! machine with its own copy of the stream, so a row depends only on its
//! configuration, and rows come back in enumeration order whatever the
//! threads' timing. A binary trace read in place is read once per
//! configuration: its records decode in a few instructions, and every
//! core reads its own copy. A generator, or a trace whose reading costs
//! about as much as a run (text, or compressed), is read once per pass
//! instead, each reading feeding as many configurations of one page size
//! as memory allows, each on a thread of its own ([`run`]). Either way
//! memory stays constant in the stream's length. A trace that can be read
//! only once (standard input, a pipe) is refused by any sweep that would
//! read it twice. A single run ([`Source::run_sampled`] with [`Reading::OnThread`], what
//! `vmlab run` asks for) and a miss-ratio pass with a core to spare read
//! their stream on a thread of their own. A scenario script runs on each
//! configuration's kernel as a process instead ([`run_script`]).
//!
//! Rows carry no wall-clock time, so the same sweep gives the same table
//! bit for bit.

use crate::chunk::{batched_accesses, read_on_thread, read_shared, Chunk, ChunkedOps};
use crate::driver::{
    run_chunks_sampled, DriverError, Machine, Model, RunReport, Sample, StreamPlace,
};
use crate::gen::GenSpec;
use crate::mrc::{mean_absolute_error, LruMrc, Shards};
use crate::op::{page_pieces, Op};
use crate::script::{Assertions, ScriptError, ScriptOptions};
use crate::trace::{self, ReadOptions, TraceError, TraceFormat, TraceReader};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::Arch;
use vmlab_kernel::machine::MachineSpec;
use vmlab_kernel::policy::spec::from_spec;
use vmlab_kernel::policy::{needs_future, PolicyParams};
use vmlab_kernel::{ExitStatus, Kernel, KernelConfig};

/// Where a sweep's references come from; every configuration replays it.
#[derive(Clone, Debug)]
pub enum Source {
    /// A seeded generator.
    Generator(GenSpec),
    /// A trace file.
    Trace {
        /// The file.
        path: PathBuf,
        /// Its format, or `None` to detect it.
        format: Option<TraceFormat>,
        /// Count and skip malformed lines instead of stopping.
        skip_bad_lines: bool,
    },
}

/// An address error of a generator's run, with what moves its pages: a
/// generator places them at its `base` in pages of its `page` bytes, and
/// the defaults (0x10000000, 4096) lie outside a small teaching scheme's
/// address space.
fn placed_by_generator(e: DriverError) -> DriverError {
    match e {
        DriverError::Address {
            addr,
            message,
            at,
            unmappable: true,
        } => DriverError::Address {
            addr,
            at,
            message: format!(
                "{message}; the generator's keys base= (default 0x10000000) and page= (default 4096) place its pages"
            ),
            unmappable: true,
        },
        other => other,
    }
}

/// Where a run's stream is read (a trace decompressed, parsed and decoded;
/// a generator's references drawn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// On the simulating thread, in turn with the simulation.
    InLine,
    /// On a thread of its own beside the simulation ([`read_on_thread`]):
    /// for a single run on a host with a core to spare, not for a sweep's
    /// runs, which fill the cores already. Parsing lackey text takes about
    /// as long as simulating a line; drawing Zipf references, a third of
    /// the replacement model's time. A trace that is
    /// [cheap to read](TraceReader::cheap_to_read) is read in line all the
    /// same.
    OnThread,
}

impl Source {
    /// How many references the stream holds, when that is known before
    /// reading it (a generator's `n`; not a trace's).
    pub fn references(&self) -> Option<u64> {
        match self {
            Source::Generator(spec) => Some(spec.references()),
            Source::Trace { .. } => None,
        }
    }

    /// Whether the stream can be read only once: a trace on standard
    /// input or in a pipe ([`trace::read_once`]). A generator draws its
    /// stream again from its seed.
    pub fn read_once(&self) -> bool {
        match self {
            Source::Generator(_) => false,
            Source::Trace { path, .. } => trace::read_once(path),
        }
    }

    /// The error for a stream that can be read only once, which is to be
    /// read `passes` times, as `reading` says (e.g. "a sweep reads it once
    /// a configuration, 4 times").
    pub fn read_once_error(&self, passes: usize, reading: &str) -> Option<String> {
        match self {
            Source::Trace { path, .. } if passes > 1 && self.read_once() => Some(format!(
                "{} can be read only once (standard input, a pipe or a device, not a regular file), and {reading}; save it to a file first",
                trace::trace_name(path)
            )),
            _ => None,
        }
    }

    /// Runs the whole stream on `machine` under `model`, reading it in line.
    pub fn run(&self, machine: &Machine, model: Model) -> Result<RunReport, DriverError> {
        let watch = Watch {
            every: 0,
            on_sample: &mut |_| {},
            on_read: &|_| {},
        };
        self.run_sampled(machine, model, watch, Reading::InLine)
    }

    /// Like [`Source::run`], watched as `watch` says, the stream read as
    /// `reading` says.
    pub fn run_sampled(
        &self,
        machine: &Machine,
        model: Model,
        watch: Watch<'_>,
        reading: Reading,
    ) -> Result<RunReport, DriverError> {
        let (m, n, w) = (machine, model, watch);
        match self {
            Source::Generator(spec) => {
                let ops = batched_accesses(spec.stream().map(Ok));
                run_stream(ops, reading, m, n, w).map_err(placed_by_generator)
            }
            Source::Trace {
                path,
                format,
                skip_bad_lines,
            } => {
                let page = machine.arch.page_bytes();
                let mut reader =
                    open_trace(path, *format, *skip_bad_lines, page).map_err(DriverError::Trace)?;
                let reading = reading_of(&reader, reading);
                // One driver loop per format, so each reader's decoding is
                // inlined into it instead of dispatched per record.
                let mut report = match &mut reader {
                    TraceReader::Lackey(r) => run_stream(r, reading, m, n, w),
                    TraceReader::Addr(r) => run_stream(r, reading, m, n, w),
                    TraceReader::VmlabBin(r) => run_stream(r, reading, m, n, w),
                    TraceReader::OracleGeneral(r) => {
                        run_stream(batched_accesses(r), reading, m, n, w)
                    }
                }
                .map_err(|e| placed_in_trace(e, path, *format, *skip_bad_lines, page))?;
                report.skipped_lines = reader.skipped();
                Ok(report)
            }
        }
    }

    /// Runs the stream on `machine` in the full model with the explanation
    /// `log` installed, until the log has its window.
    pub fn explain(
        &self,
        machine: &Machine,
        log: vmlab_kernel::explain::ExplainLog,
    ) -> Result<(RunReport, vmlab_kernel::explain::ExplainLog), DriverError> {
        match self {
            Source::Generator(spec) => {
                crate::driver::run_explained(spec.stream().map(|r| Ok(Op::Access(r))), machine, log)
                    .map_err(placed_by_generator)
            }
            Source::Trace {
                path,
                format,
                skip_bad_lines,
            } => {
                let page = machine.arch.page_bytes();
                let mut reader =
                    open_trace(path, *format, *skip_bad_lines, page).map_err(DriverError::Trace)?;
                let (mut report, log) = crate::driver::run_explained(reader.ops(), machine, log)
                    .map_err(|e| placed_in_trace(e, path, *format, *skip_bad_lines, page))?;
                report.skipped_lines = reader.skipped();
                Ok((report, log))
            }
        }
    }

    /// Whether a sweep's runs on pages of `page` bytes should share their
    /// readings of the stream: a generator (drawing a Zipf reference costs
    /// about a third of a replacement-model run's time) or a trace that is
    /// not [cheap to read](TraceReader::cheap_to_read) (text, or
    /// compressed, whose reading costs about as much as a run); not a
    /// binary trace read in place, whose records decode in a few
    /// instructions each.
    fn shares_reading(&self, page: u64) -> bool {
        match self {
            Source::Generator(_) => true,
            Source::Trace {
                path,
                format,
                skip_bad_lines,
            } => open_trace(path, *format, *skip_bad_lines, page)
                .is_ok_and(|reader| !reader.cheap_to_read()),
        }
    }

    /// Runs each of `runs` (machines of one page size, with their models)
    /// on one reading of the stream, each on a thread of its own
    /// ([`read_shared`]); `progress` hears of the pass's
    /// [`CONFIGURATION_STEPS`] per run as the reading goes on. The reports
    /// and errors are each run's alone, as [`Source::run`] gives them.
    fn run_shared(
        &self,
        runs: &[(&Machine, Model)],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Vec<Result<RunReport, DriverError>> {
        let any_full = runs.iter().any(|&(_, model)| model == Model::Full);
        let (path, format, skip_bad_lines) = match self {
            Source::Generator(spec) => {
                let ops = batched_accesses(spec.stream().map(Ok)).expecting(spec.references());
                return match shared_runs(ops, any_full, runs, progress) {
                    Ok(reports) => reports
                        .into_iter()
                        .map(|r| r.map_err(placed_by_generator))
                        .collect(),
                    Err(e) => runs.iter().map(|_| Err(no_reader_thread(&e))).collect(),
                };
            }
            Source::Trace {
                path,
                format,
                skip_bad_lines,
            } => (path, format, skip_bad_lines),
        };
        let page = runs.first().map_or(0, |run| run.0.arch.page_bytes());
        let mut reader = match open_trace(path, *format, *skip_bad_lines, page) {
            Ok(reader) => reader,
            Err(e) => {
                return runs
                    .iter()
                    .map(|_| Err(DriverError::Trace(e.duplicate())))
                    .collect()
            }
        };
        // One loop per format, as for runs.
        let reports = match &mut reader {
            TraceReader::Lackey(r) => shared_runs(r, any_full, runs, progress),
            TraceReader::Addr(r) => shared_runs(r, any_full, runs, progress),
            TraceReader::VmlabBin(r) => shared_runs(r, any_full, runs, progress),
            TraceReader::OracleGeneral(r) => {
                shared_runs(batched_accesses(r), any_full, runs, progress)
            }
        };
        let skipped = reader.skipped();
        match reports {
            Ok(reports) => reports
                .into_iter()
                .map(|r| match r {
                    Ok(report) => Ok(RunReport {
                        skipped_lines: skipped,
                        ..report
                    }),
                    Err(e) => Err(placed_in_trace(e, path, *format, *skip_bad_lines, page)),
                })
                .collect(),
            Err(e) => runs.iter().map(|_| Err(no_reader_thread(&e))).collect(),
        }
    }

    /// Calls `each` with the page number (at `page` bytes a page) of every
    /// page piece of the stream, in order, read as `reading` says, until it
    /// breaks; returns what the pass skipped.
    pub(crate) fn for_each_page(
        &self,
        page: u64,
        reading: Reading,
        mut each: impl FnMut(u64) -> ControlFlow<()>,
    ) -> Result<Pass, DriverError> {
        let each = &mut each;
        match self {
            Source::Generator(spec) => {
                let ops = batched_accesses(spec.stream().map(Ok));
                pages_of(ops, reading, page, each)
            }
            Source::Trace {
                path,
                format,
                skip_bad_lines,
            } => {
                let mut reader =
                    open_trace(path, *format, *skip_bad_lines, page).map_err(DriverError::Trace)?;
                let reading = reading_of(&reader, reading);
                // One loop per format, as for runs.
                let pass = match &mut reader {
                    TraceReader::Lackey(r) => pages_of(r, reading, page, each),
                    TraceReader::Addr(r) => pages_of(r, reading, page, each),
                    TraceReader::VmlabBin(r) => pages_of(r, reading, page, each),
                    TraceReader::OracleGeneral(r) => {
                        let ops = batched_accesses(r);
                        pages_of(ops, reading, page, each)
                    }
                }?;
                Ok(Pass {
                    skipped_lines: reader.skipped(),
                    ..pass
                })
            }
        }
    }
}

/// What [`Source::for_each_page`] passed over.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pass {
    /// Malformed trace lines skipped.
    pub skipped_lines: u64,
    /// System-call records (the replacement model skips them too).
    pub system_calls: u64,
}

/// [`Source::for_each_page`] of a stream's `chunks`, read as `reading`
/// says; system calls are counted and skipped.
fn pages_of(
    mut chunks: impl ChunkedOps + Send,
    reading: Reading,
    page: u64,
    each: &mut impl FnMut(u64) -> ControlFlow<()>,
) -> Result<Pass, DriverError> {
    // A shift, not a division per reference: pages are powers of two.
    let shift = page.trailing_zeros();
    let mut walk = |chunks: &mut dyn ChunkedOps| {
        let mut pass = Pass::default();
        while let Some(chunk) = chunks.read_chunk() {
            let accesses = match chunk.map_err(DriverError::Trace)? {
                Chunk::Accesses(accesses) => accesses,
                Chunk::Syscall(_) => {
                    pass.system_calls += 1;
                    continue;
                }
            };
            for &r in accesses {
                if page_pieces(r, page)
                    .try_for_each(|p| each(p.addr >> shift))
                    .is_break()
                {
                    return Ok(pass);
                }
            }
        }
        Ok(pass)
    };
    if reading == Reading::InLine {
        return walk(&mut chunks);
    }
    read_on_thread(chunks, false, &|_| {}, |c| walk(c)).map_err(|e| no_reader_thread(&e))?
}

/// Where to read `reader`'s trace when `asked` says where: in line if it
/// is cheap to read.
fn reading_of(reader: &TraceReader, asked: Reading) -> Reading {
    if reader.cheap_to_read() {
        Reading::InLine
    } else {
        asked
    }
}

/// The error when the host refuses [`read_on_thread`] its thread.
fn no_reader_thread(e: &std::io::Error) -> DriverError {
    DriverError::Config(format!("cannot start a thread to read the stream: {e}"))
}

/// What a caller of [`Source::run_sampled`] hears as the run goes on.
pub struct Watch<'a> {
    /// References between samples (0: none).
    pub every: u64,
    /// Called with each [`Sample`] (see [`run_sampled`]).
    pub on_sample: &'a mut dyn FnMut(&Sample),
    /// Called, from the reader thread, with the fraction of its input the
    /// stream has read, where the stream is read on a thread of its own
    /// ([`Reading::OnThread`]) and knows its length (a file).
    pub on_read: &'a (dyn Fn(f64) + Sync),
}

/// [`run_chunks_sampled`] of a stream's `chunks`, read as `reading` says.
fn run_stream(
    mut chunks: impl ChunkedOps + Send,
    reading: Reading,
    machine: &Machine,
    model: Model,
    watch: Watch<'_>,
) -> Result<RunReport, DriverError> {
    let Watch {
        every,
        on_sample,
        on_read,
    } = watch;
    if reading == Reading::InLine {
        return run_chunks_sampled(chunks, machine, model, every, on_sample);
    }
    // Only the full model uses the answer (its lean engine), and asking
    // a text trace searches the whole file.
    let accesses_only = model == Model::Full && chunks.accesses_only();
    read_on_thread(chunks, accesses_only, on_read, |c| {
        run_chunks_sampled(c, machine, model, every, on_sample)
    })
    .map_err(|e| no_reader_thread(&e))?
}

/// [`Source::run_shared`] on a stream's `chunks`: whether the stream has
/// system calls is asked first where a full-model run needs to know.
fn shared_runs(
    mut chunks: impl ChunkedOps + Send,
    any_full: bool,
    runs: &[(&Machine, Model)],
    progress: &(dyn Fn(u64) + Sync),
) -> std::io::Result<Vec<Result<RunReport, DriverError>>> {
    let accesses_only = any_full && chunks.accesses_only();
    // The pass's steps, credited as the reading goes on (the runs keep
    // within a few hand-overs of it) where its length is known, and the
    // rest once the runs are done.
    let whole = runs.len() as u64 * CONFIGURATION_STEPS;
    let credited = AtomicU64::new(0);
    let on_read = |fraction: f64| {
        let now = ((fraction * whole as f64) as u64).min(whole);
        let before = credited.fetch_max(now, Ordering::Relaxed);
        if now > before {
            progress(now - before);
        }
    };
    let reports = read_shared(chunks, accesses_only, runs.len(), &on_read, |i, c| {
        let (machine, model) = runs[i];
        run_chunks_sampled(c, machine, model, 0, &mut |_| {})
    });
    progress(whole - credited.into_inner());
    reports
}

/// An address error of a run on the trace at `path` (read as `format`,
/// skipping bad lines if `skip_bad_lines`, in pages of `page` bytes),
/// placed at the line of its record where the trace is text: the trace is
/// read again up to it, which only an error pays for, and only a trace
/// that can be read again allows (standard input or a pipe would go on
/// from where the run stopped, and name a wrong line).
fn placed_in_trace(
    e: DriverError,
    path: &std::path::Path,
    format: Option<TraceFormat>,
    skip_bad_lines: bool,
    page: u64,
) -> DriverError {
    let DriverError::Address {
        addr,
        message,
        at: Some(StreamPlace::Record(n)),
        unmappable,
    } = e
    else {
        return e;
    };
    let reread = if trace::read_once(path) {
        None
    } else {
        open_trace(path, format, skip_bad_lines, page).ok()
    };
    let line = match reread {
        Some(TraceReader::Lackey(r)) => r.line_of_record(n),
        Some(TraceReader::Addr(r)) => r.line_of_record(n),
        _ => None,
    };
    let file = trace::trace_name(path).into();
    let at = match line {
        Some(line) => StreamPlace::Line { file, line },
        None => StreamPlace::TraceRecord { file, record: n },
    };
    DriverError::Address {
        addr,
        message,
        at: Some(at),
        unmappable,
    }
}

/// Opens the trace of a [`Source::Trace`] for pages of `page_size` bytes
/// (the one place its options are made).
fn open_trace(
    path: &std::path::Path,
    format: Option<TraceFormat>,
    skip_bad_lines: bool,
    page_size: u64,
) -> Result<TraceReader, TraceError> {
    let opts = ReadOptions {
        skip_bad_lines,
        page_size,
    };
    trace::open(path, format, opts)
}

/// A memory size, in frames or in bytes (turned into frames of each
/// scheme's base page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// This many frames whatever the page size.
    Frames(u64),
    /// This many bytes: `bytes / page` frames.
    Bytes(u64),
}

impl Memory {
    /// Frames of `page` bytes, or why there are none.
    pub fn frames(self, page: u64) -> Result<u64, String> {
        let frames = match self {
            Memory::Frames(n) => n,
            Memory::Bytes(b) => b / page,
        };
        if frames == 0 {
            return Err(match self {
                Memory::Frames(_) => "expected at least 1 frame".to_string(),
                Memory::Bytes(b) => format!("{b} bytes is less than one {page}-byte page"),
            });
        }
        Ok(frames)
    }
}

/// The dimensions of a sweep; each list must be non-empty.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Translation schemes (each brings its page size).
    pub archs: Vec<Arch>,
    /// TLB specs (`TlbConfig::parse_spec`), `None` for the scheme's
    /// default. Only the full model has a TLB.
    pub tlbs: Vec<Option<String>>,
    /// Models.
    pub models: Vec<Model>,
    /// Replacement policies by name.
    pub policies: Vec<String>,
    /// Memory sizes.
    pub memory: Vec<Memory>,
}

/// One point of a sweep.
#[derive(Clone, Debug)]
pub struct Configuration {
    /// The machine.
    pub machine: Machine,
    /// The model.
    pub model: Model,
    /// The TLB as the user wrote it (`default`, or `-` for no TLB model).
    pub tlb_label: String,
    /// Total TLB entries over every level and array (full model only).
    pub tlb_entries: Option<u64>,
}

/// A sweep that cannot run: which dimension (the flag's name without
/// `--`) or which configuration, and why.
#[derive(Debug)]
pub struct SweepError {
    /// `archs`, `tlb`, `policies`, `memory`, `mrc`, or a configuration's
    /// description.
    pub place: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl std::error::Error for SweepError {}

fn dimension_error(place: &str, message: impl fmt::Display) -> SweepError {
    SweepError {
        place: place.to_string(),
        message: message.to_string(),
    }
}

impl Sweep {
    /// Every configuration, schemes outermost, then TLBs, models, policies
    /// and memory sizes innermost (so a policy's curve is a run of rows).
    /// The replacement-only model has no TLB, so it is enumerated once per
    /// scheme whatever the TLB list.
    pub fn configurations(&self) -> Result<Vec<Configuration>, SweepError> {
        for (place, empty) in [
            ("arch", self.archs.is_empty()),
            ("tlb", self.tlbs.is_empty()),
            ("model", self.models.is_empty()),
            ("policies", self.policies.is_empty()),
            ("memory", self.memory.is_empty()),
        ] {
            if empty {
                return Err(dimension_error(place, "expected at least one value"));
            }
        }
        // A name is checked by building its policy; OPT's future is given
        // later (`give_futures`), so it is built here with an empty one.
        let params = PolicyParams {
            next_use: Some(Default::default()),
            ..PolicyParams::default()
        };
        for name in &self.policies {
            from_spec(name, 1, &params)
                .map_err(|e| dimension_error("policies", format!("{name:?}: {e}")))?;
        }
        let mut out = Vec::new();
        for arch in &self.archs {
            let page = arch.page_bytes();
            let frames: Vec<u64> = self
                .memory
                .iter()
                .map(|m| m.frames(page))
                .collect::<Result<_, _>>()
                .map_err(|e| dimension_error("memory", format!("on {}: {e}", arch.name())))?;
            let mut tlbs: Vec<(String, Option<TlbConfig>)> = Vec::new();
            for spec in &self.tlbs {
                tlbs.push(match spec {
                    Some(s) => {
                        let config = TlbConfig::parse_spec(s, arch.page_shift()).map_err(|e| {
                            dimension_error("tlb", format!("{s:?} on {}: {e}", arch.name()))
                        })?;
                        (s.clone(), Some(config))
                    }
                    None => ("default".to_string(), None),
                });
            }
            for &model in &self.models {
                let model_tlbs: Vec<(String, Option<TlbConfig>)> = match model {
                    Model::Full => tlbs.clone(),
                    Model::Replacement => vec![("-".to_string(), None)],
                };
                for (tlb_label, tlb) in model_tlbs {
                    let tlb_entries = match model {
                        Model::Full => Some(total_entries(
                            tlb.as_ref().unwrap_or(&vmlab_hw::default_tlb(arch)),
                        )),
                        Model::Replacement => None,
                    };
                    for policy in &self.policies {
                        for &n in &frames {
                            let frames = usize::try_from(n)
                                .map_err(|_| dimension_error("memory", "too many frames"))?;
                            out.push(Configuration {
                                machine: Machine {
                                    arch: arch.clone(),
                                    frames,
                                    policy: policy.clone(),
                                    tlb: tlb.clone(),
                                    future: None,
                                },
                                model,
                                tlb_label: tlb_label.clone(),
                                tlb_entries,
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

fn total_entries(tlb: &TlbConfig) -> u64 {
    tlb.levels
        .iter()
        .flat_map(|l| &l.arrays)
        .map(|a| a.entries as u64)
        .sum()
}

/// One configuration's results: the configuration, then every counter of
/// its [`RunReport`] (empty where its model does not count it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The scheme's name.
    pub arch: String,
    /// Its base page size in bytes.
    pub page_bytes: u64,
    /// The TLB spec, `default`, or `-` when the model has none.
    pub tlb: String,
    /// Total TLB entries.
    pub tlb_entries: Option<u64>,
    /// `full`, `replacement`, or the miss-ratio-curve method
    /// (`mrc-exact`, `shards-rate=R`, `shards-size=N`).
    pub model: String,
    /// The replacement policy.
    pub policy: String,
    /// Physical frames.
    pub frames: u64,
    /// Physical memory in bytes (`frames × page_bytes`).
    pub mem_bytes: u64,
    /// References (page pieces of the stream's accesses).
    pub references: u64,
    /// Distinct pages touched (unknown to SHARDS alone).
    pub distinct_pages: Option<u64>,
    /// References to non-resident pages (SHARDS: estimated).
    pub faults: u64,
    /// Faults per reference.
    pub fault_rate: f64,
    /// Pages evicted.
    pub evictions: Option<u64>,
    /// Dirty pages written back.
    pub write_backs: Option<u64>,
    /// TLB hits.
    pub tlb_hits: Option<u64>,
    /// TLB hits per reference.
    pub tlb_hit_rate: Option<f64>,
    /// Page-table walks.
    pub walks: Option<u64>,
    /// Bytes of page tables at the end.
    pub page_table_bytes: Option<u64>,
    /// Malformed trace lines skipped.
    pub skipped_lines: u64,
}

/// The column names of [`Row`], in order.
pub const COLUMNS: &[&str] = &[
    "arch",
    "page_bytes",
    "tlb",
    "tlb_entries",
    "model",
    "policy",
    "frames",
    "mem_bytes",
    "references",
    "distinct_pages",
    "faults",
    "fault_rate",
    "evictions",
    "write_backs",
    "tlb_hits",
    "tlb_hit_rate",
    "walks",
    "page_table_bytes",
    "skipped_lines",
];

impl Row {
    /// The row of `config`'s run.
    pub fn new(config: &Configuration, r: &RunReport) -> Row {
        let page_bytes = config.machine.arch.page_bytes();
        let frames = config.machine.frames as u64;
        Row {
            arch: r.arch.clone(),
            page_bytes,
            tlb: config.tlb_label.clone(),
            tlb_entries: config.tlb_entries,
            model: model_name(r.model).to_string(),
            policy: r.policy.clone(),
            frames,
            mem_bytes: frames * page_bytes,
            references: r.references,
            distinct_pages: Some(r.distinct_pages),
            faults: r.faults,
            fault_rate: r.fault_rate,
            evictions: Some(r.evictions),
            write_backs: Some(r.write_backs),
            tlb_hits: r.tlb_hits,
            tlb_hit_rate: r.tlb_hits.map(|h| ratio(h, r.references)),
            walks: r.walks,
            page_table_bytes: r.page_table_bytes,
            skipped_lines: r.skipped_lines,
        }
    }

    /// The row's cells as text, in [`COLUMNS`] order (empty for `None`;
    /// floats in Rust's shortest form that reads back to the same value).
    pub fn cells(&self) -> Vec<String> {
        fn opt<T: ToString>(v: Option<T>) -> String {
            v.map_or_else(String::new, |v| v.to_string())
        }
        vec![
            self.arch.clone(),
            self.page_bytes.to_string(),
            self.tlb.clone(),
            opt(self.tlb_entries),
            self.model.clone(),
            self.policy.clone(),
            self.frames.to_string(),
            self.mem_bytes.to_string(),
            self.references.to_string(),
            opt(self.distinct_pages),
            self.faults.to_string(),
            self.fault_rate.to_string(),
            opt(self.evictions),
            opt(self.write_backs),
            opt(self.tlb_hits),
            opt(self.tlb_hit_rate),
            opt(self.walks),
            opt(self.page_table_bytes),
            self.skipped_lines.to_string(),
        ]
    }
}

/// The name a model has in a row.
pub fn model_name(model: Model) -> &'static str {
    match model {
        Model::Full => "full",
        Model::Replacement => "replacement",
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// What a configuration is called in an error.
fn describe(c: &Configuration) -> String {
    format!(
        "configuration arch={} tlb={} model={} policy={} frames={}",
        c.machine.arch.name(),
        c.tlb_label,
        model_name(c.model),
        c.machine.policy,
        c.machine.frames
    )
}

/// How many configurations [`run`] runs at once: the size of rayon's
/// pool.
pub fn parallelism() -> usize {
    rayon::current_num_threads()
}

/// Runs `work` on a pool of `threads` threads: what it runs in parallel
/// on rayon's pool (a sweep's configurations, a script's, the passes of
/// miss-ratio curves) runs on these, and [`parallelism`] is `threads`.
/// Fails only if the threads cannot be started.
pub fn on_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> Result<T, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("cannot start {threads} threads: {e}"))?;
    Ok(pool.install(work))
}

/// Configurations one reading of a trace feeds at most: past a few dozen,
/// the reading's cost shared among them is next to nothing, and more
/// would only add threads.
const MOST_SHARING_A_READING: usize = 64;

/// How many of `configs` a sweep of `source` would hold in memory at once
/// if memory allowed: where they share their readings of the stream (see
/// [`run`]), those of the page size most of them have, at most
/// [`MOST_SHARING_A_READING`]; else [`parallelism`].
pub fn wanted_at_once(source: &Source, configs: &[Configuration]) -> usize {
    match sharing_groups(source, configs) {
        Some(groups) => groups
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .min(MOST_SHARING_A_READING),
        None => parallelism(),
    }
}

/// The indices of `configs` by page size (a reading is decoded for one),
/// smallest page first, where two or more configurations share their
/// readings of `source`; `None` where each reads its own.
fn sharing_groups(source: &Source, configs: &[Configuration]) -> Option<Vec<Vec<usize>>> {
    let first = configs.first()?;
    if configs.len() < 2 || !source.shares_reading(first.machine.arch.page_bytes()) {
        return None;
    }
    let mut groups: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    for (i, c) in configs.iter().enumerate() {
        groups
            .entry(c.machine.arch.page_bytes())
            .or_default()
            .push(i);
    }
    Some(groups.into_values().collect())
}

/// Steps a configuration counts for in what a sweep reports of its
/// progress: configurations that share a reading advance together, in
/// fractions of one, as the reading goes on.
pub const CONFIGURATION_STEPS: u64 = 1000;

/// Runs every configuration on `source`; `progress` hears of
/// [`CONFIGURATION_STEPS`] per configuration as it runs (all at once as
/// it ends, where it reads the stream alone), from whichever thread ran
/// it. Rows come back in the order of `configs`; on failure, the error of
/// the first failing configuration in that order.
///
/// How they share the cores: over a trace that is cheap to read (a
/// binary file read in place), each configuration reads the stream
/// itself, [`parallelism`] at a time on rayon's pool (`RAYON_NUM_THREADS`
/// or [`on_threads`] sets its size). Over a generator, or a trace whose
/// reading costs about as much as a run (text, or compressed), the
/// configurations of each page size share their readings instead: up to
/// `at_once` of them at a time (at least one, at most 64), each on a
/// thread of its own (the caller bounds `at_once`: rayon's pool does
/// not), are fed by one reading of the trace on another
/// ([`Source::run_shared`]). On two cores,
/// twelve runs (six policies at two sizes) of a 16 M-line lackey trace
/// took 0.65 of the time that way in the replacement model and 0.51 in
/// the full model (0.59 and 0.69 from zstd); sharing in twos only, as
/// rayon would run them, took 1.11. Twenty-four runs of a Zipf generator
/// took 0.75 (replacement) and 0.80 (full) of the time (`farm-bench`,
/// paired, medians of 5).
pub fn run(
    source: &Source,
    configs: &[Configuration],
    at_once: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Row>, SweepError> {
    refuse_rereading(source, "a sweep", "a configuration", configs.len())?;
    if let Some(rows) = run_sharing_reads(source, configs, at_once, progress) {
        return rows;
    }
    let results: Vec<Result<Row, SweepError>> = configs
        .par_iter()
        .map(|c| {
            let result = source
                .run(&c.machine, c.model)
                .map(|r| Row::new(c, &r))
                .map_err(|e| dimension_error(&describe(c), e));
            progress(CONFIGURATION_STEPS);
            result
        })
        .collect();
    results.into_iter().collect()
}

/// Refuses a stream that can be read only once where `reader` would read
/// it `passes` times, once `per` (a configuration, a page size).
fn refuse_rereading(
    source: &Source,
    reader: &str,
    per: &str,
    passes: usize,
) -> Result<(), SweepError> {
    let reading = format!("{reader} reads it once {per}, {passes} times");
    match source.read_once_error(passes, &reading) {
        Some(message) => Err(dimension_error("trace", message)),
        None => Ok(()),
    }
}

/// [`run`] for a generator or a trace that costs about as much to read as
/// to simulate (text, or compressed): the configurations of each page size run
/// `at_once` at a time on one reading of the trace for all of them
/// ([`Source::run_shared`]) rather than one each. `None` for any other
/// source, or one configuration (which [`run`] runs as it runs every
/// other).
fn run_sharing_reads(
    source: &Source,
    configs: &[Configuration],
    at_once: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Option<Result<Vec<Row>, SweepError>> {
    let groups = sharing_groups(source, configs)?;
    let mut results: Vec<Option<Result<Row, SweepError>>> = configs.iter().map(|_| None).collect();
    for of_page in groups {
        for pass in of_page.chunks(at_once.clamp(1, MOST_SHARING_A_READING)) {
            let runs: Vec<(&Machine, Model)> = pass
                .iter()
                .map(|&i| (&configs[i].machine, configs[i].model))
                .collect();
            let reports = source.run_shared(&runs, progress);
            for (&i, report) in pass.iter().zip(reports) {
                let c = &configs[i];
                results[i] = Some(
                    report
                        .map(|r| Row::new(c, &r))
                        .map_err(|e| dimension_error(&describe(c), e)),
                );
            }
        }
    }
    Some(results.into_iter().flatten().collect())
}

/// A scenario script a sweep runs as a process on each configuration's
/// machine (`vmlab sweep SCRIPT`): its name in messages (its path) and its
/// text.
#[derive(Clone, Debug)]
pub struct Script {
    /// What messages call it.
    pub name: String,
    /// The Rhai source.
    pub source: String,
    /// The settings the sweep does not vary (swap, scope, personality,
    /// read-ahead, huge pages): a machine file's, a scenario's own.
    pub machine: MachineSpec,
}

/// The kernel `script` runs on in configuration `c`: its scheme, frames,
/// policy and TLB, the rest as the script's machine settings say, else
/// [`KernelConfig::new`]'s defaults (as much swap as memory, global
/// replacement, Linux rules), as `vmlab run SCRIPT` builds it from the
/// same flags.
pub fn script_kernel_config(script: &Script, c: &Configuration) -> Result<KernelConfig, String> {
    let m = &c.machine;
    let mut config = KernelConfig::new(m.arch.clone(), m.frames);
    config.policy = m.policy.clone();
    if let Some(tlb) = &m.tlb {
        config.tlb = tlb.clone();
    }
    script
        .machine
        .set_the_rest(&mut config)
        .map_err(|e| e.to_string())?;
    Ok(config)
}

/// Runs `script` on every configuration, in parallel on rayon's pool, as
/// [`run`] runs a stream: rows in the order of `configs`, or the error of
/// the first failing configuration in that order. Each run is the script
/// as a process of its own on a fresh kernel ([`script_kernel_config`]);
/// its row counts the whole machine: every process's references, faults
/// and evictions, write-backs with swap-outs (every dirty page written),
/// the TLB hit rate per MMU access. A script's pages are not counted
/// apart (no `distinct_pages`), nor its page tables at the end, when its
/// processes have exited. Scripts run in the full model only (the
/// replacement model has no processes), and a run whose first process
/// does not exit with status 0 is an error, as a trace's out-of-memory
/// kill is. The script's assertions are counted, not raised
/// ([`Assertions::Count`]): a scenario's checks are about the machine it
/// was written for, and on the others its numbers are what is wanted.
pub fn run_script(
    script: &Script,
    configs: &[Configuration],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScriptSweep, SweepError> {
    if configs.iter().any(|c| c.model != Model::Full) {
        return Err(dimension_error(
            "model",
            "a script runs as a process on the whole machine, which only the full model has; expected full",
        ));
    }
    let base_name = |c: &Configuration| {
        c.machine
            .policy
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    if let Some(c) = configs.iter().find(|c| needs_future(&base_name(c))) {
        return Err(dimension_error(
            "policies",
            format!(
                "{} needs every reference of the workload before it runs, and a script's are known only as it runs; sweep it over a generator or a trace (--gen SPEC or --trace FILE)",
                c.machine.policy
            ),
        ));
    }
    let results: Vec<Result<(Row, Option<FailedChecks>), SweepError>> = configs
        .par_iter()
        .map(|c| {
            let result = script_row(script, c).map_err(|e| dimension_error(&describe(c), e));
            progress(CONFIGURATION_STEPS);
            result
        })
        .collect();
    let mut sweep = ScriptSweep::default();
    for result in results {
        let (row, failed) = result?;
        sweep.rows.push(row);
        sweep.failed_checks.extend(failed);
    }
    Ok(sweep)
}

/// What [`run_script`] gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScriptSweep {
    /// One row per configuration, in their order.
    pub rows: Vec<Row>,
    /// The configurations on which some of the script's assertions did
    /// not hold, in the same order.
    pub failed_checks: Vec<FailedChecks>,
}

/// A script's assertions that did not hold on one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedChecks {
    /// The configuration, as errors name it.
    pub configuration: String,
    /// How many assertions failed.
    pub count: u64,
    /// The first, at its place in the script.
    pub first: ScriptError,
}

/// The row of `script` run on configuration `c`'s machine, and its
/// assertions that failed.
fn script_row(script: &Script, c: &Configuration) -> Result<(Row, Option<FailedChecks>), String> {
    // The kernel names the setting at fault (frames, tlb, policy).
    let config = script_kernel_config(script, c)?;
    let kernel = Kernel::new(config).map_err(|e| format!("--{e}"))?;
    let options = ScriptOptions {
        assertions: Assertions::Count,
        ..ScriptOptions::default()
    };
    let outcome = crate::script::run_source(kernel, &script.name, &script.source, &options)
        .map_err(|e| e.to_string())?;
    let failed = outcome
        .first_failed_assertion
        .clone()
        .map(|first| FailedChecks {
            configuration: describe(c),
            count: outcome.failed_assertions,
            first,
        });
    let k = &outcome.kernel;
    let counted = k.counters();
    if outcome.status != ExitStatus::Exited(0) {
        let mut hint = if counted.oom_kills > 0 {
            "; memory and swap ran out and the out-of-memory killer ended it: give the machine more memory (--frames or --mem)".to_string()
        } else {
            String::new()
        };
        // A check that guarded what came next may be why it ended.
        if let Some(failed) = &failed {
            hint.push_str(&format!("; before that, {}", failed.first));
        }
        return Err(format!(
            "{}: the script's process ended: {} (a sweep's script must end with exit 0){hint}",
            script.name,
            outcome.status_text()
        ));
    }
    let mmu = k.mmu().counters();
    let page_bytes = c.machine.arch.page_bytes();
    let frames = c.machine.frames as u64;
    let faults = counted.minor_faults + counted.major_faults;
    let row = Row {
        arch: c.machine.arch.name().to_string(),
        page_bytes,
        tlb: c.tlb_label.clone(),
        tlb_entries: c.tlb_entries,
        model: model_name(Model::Full).to_string(),
        policy: c.machine.policy.clone(),
        frames,
        mem_bytes: frames * page_bytes,
        references: counted.references,
        distinct_pages: None,
        faults,
        fault_rate: ratio(faults, counted.references),
        evictions: Some(counted.evictions),
        write_backs: Some(counted.write_backs + counted.swap_outs),
        tlb_hits: Some(mmu.tlb_hits),
        tlb_hit_rate: Some(ratio(mmu.tlb_hits, mmu.accesses)),
        walks: Some(mmu.walks),
        page_table_bytes: None,
        skipped_lines: 0,
    };
    Ok((row, failed))
}

/// How a miss-ratio curve is computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MrcMethod {
    /// The exact one-pass LRU curve ([`LruMrc`]).
    Exact,
    /// Fixed-rate SHARDS sampling this fraction of the pages.
    ShardsRate(f64),
    /// Fixed-size SHARDS tracking at most this many pages.
    ShardsSize(usize),
}

impl MrcMethod {
    /// The method's name in a row's `model` column.
    pub fn name(self) -> String {
        match self {
            MrcMethod::Exact => "mrc-exact".to_string(),
            MrcMethod::ShardsRate(r) => format!("shards-rate={r}"),
            MrcMethod::ShardsSize(n) => format!("shards-size={n}"),
        }
    }
}

impl FromStr for MrcMethod {
    type Err = String;

    /// `exact`, `shards:rate=R` or `shards:size=N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected exact, shards:rate=R (0 < R <= 1) or shards:size=N (N >= 1)";
        let s = s.trim();
        if s == "exact" {
            return Ok(MrcMethod::Exact);
        }
        let bad = || format!("{expected}, found {s:?}");
        let Some(param) = s.strip_prefix("shards:") else {
            return Err(bad());
        };
        let method = if let Some(rate) = param.strip_prefix("rate=") {
            MrcMethod::ShardsRate(rate.parse().map_err(|_| bad())?)
        } else if let Some(size) = param.strip_prefix("size=") {
            MrcMethod::ShardsSize(size.parse().map_err(|_| bad())?)
        } else {
            return Err(bad());
        };
        // Shards's constructors say what a bad parameter is.
        method.sampler().map_err(|e| format!("{s:?}: {e}"))?;
        Ok(method)
    }
}

impl MrcMethod {
    fn sampler(self) -> Result<Option<Shards>, String> {
        match self {
            MrcMethod::Exact => Ok(None),
            MrcMethod::ShardsRate(r) => Shards::fixed_rate(r).map(Some).map_err(|e| e.to_string()),
            MrcMethod::ShardsSize(n) => Shards::fixed_size(n).map(Some).map_err(|e| e.to_string()),
        }
    }
}

/// A SHARDS curve's mean absolute error against the exact curve over a
/// sweep's memory sizes, on one scheme.
#[derive(Clone, Debug, PartialEq)]
pub struct MrcError {
    /// The scheme.
    pub arch: String,
    /// The SHARDS method's name.
    pub method: String,
    /// Mean of `|exact - estimate|` miss ratio over the sizes.
    pub mean_absolute_error: f64,
}

/// What [`mrc_rows`] computed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MrcOutcome {
    /// The curves' points as rows.
    pub rows: Vec<Row>,
    /// Each SHARDS curve's error against the exact one, when both ran.
    pub errors: Vec<MrcError>,
}

/// Page numbers [`mrc_rows`] hands to [`LruMrc::access_all`] at once.
const MRC_BATCH: usize = 4096;

/// LRU's miss ratio at each of `memory` on each of `archs` by `methods`:
/// one pass over `source` per page size (in parallel; schemes of one page
/// size have the same curves), all methods fed from that pass. Rows are schemes outermost, then methods, then sizes. When
/// the exact curve is among the methods, each SHARDS curve's error against
/// it is reported too.
pub fn mrc_rows(
    source: &Source,
    archs: &[Arch],
    memory: &[Memory],
    methods: &[MrcMethod],
) -> Result<MrcOutcome, SweepError> {
    if methods.is_empty() {
        return Err(dimension_error("mrc", "expected at least one method"));
    }
    if memory.is_empty() {
        return Err(dimension_error("memory", "expected at least one value"));
    }
    // A curve depends on the page size alone: one pass per page size, its
    // curves given to each scheme of that size.
    let mut passes: Vec<&Arch> = Vec::new();
    for arch in archs {
        if !passes.iter().any(|a| a.page_bytes() == arch.page_bytes()) {
            passes.push(arch);
        }
    }
    refuse_rereading(source, "a miss-ratio sweep", "a page size", passes.len())?;
    // Fewer passes than cores leave a core to each pass's reading.
    let reading = if passes.len() < parallelism() {
        Reading::OnThread
    } else {
        Reading::InLine
    };
    let per_page: Vec<Result<MrcOutcome, SweepError>> = passes
        .par_iter()
        .map(|arch| mrc_one_arch(source, arch, memory, methods, reading))
        .collect();
    let per_page: Vec<MrcOutcome> = per_page.into_iter().collect::<Result<_, _>>()?;
    // Schemes outermost, in the order given.
    let mut all = MrcOutcome::default();
    for arch in archs {
        let Some(at) = passes
            .iter()
            .position(|a| a.page_bytes() == arch.page_bytes())
        else {
            continue;
        };
        let name = arch.name().to_string();
        all.rows.extend(per_page[at].rows.iter().map(|r| Row {
            arch: name.clone(),
            ..r.clone()
        }));
        all.errors
            .extend(per_page[at].errors.iter().map(|e| MrcError {
                arch: name.clone(),
                ..e.clone()
            }));
    }
    Ok(all)
}

fn mrc_one_arch(
    source: &Source,
    arch: &Arch,
    memory: &[Memory],
    methods: &[MrcMethod],
    reading: Reading,
) -> Result<MrcOutcome, SweepError> {
    let page = arch.page_bytes();
    let sizes: Vec<usize> = memory
        .iter()
        .map(|m| m.frames(page).map(|f| f as usize))
        .collect::<Result<_, _>>()
        .map_err(|e| dimension_error("memory", format!("on {}: {e}", arch.name())))?;
    let mut exact = methods.contains(&MrcMethod::Exact).then(LruMrc::new);
    let mut samplers: Vec<(MrcMethod, Shards)> = Vec::new();
    for &m in methods {
        if let Some(s) = m.sampler().map_err(|e| dimension_error("mrc", e))? {
            samplers.push((m, s));
        }
    }
    let mut batch = Vec::with_capacity(MRC_BATCH);
    let mut references = 0u64;
    let skipped = source
        .for_each_page(page, reading, |vpn| {
            references += 1;
            for (_, s) in &mut samplers {
                s.access(vpn);
            }
            if let Some(mrc) = &mut exact {
                batch.push(vpn);
                if batch.len() == MRC_BATCH {
                    mrc.access_all(&batch);
                    batch.clear();
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| dimension_error(&format!("miss-ratio pass on {}", arch.name()), e))?
        .skipped_lines;
    let exact = exact.map(|mut mrc| {
        mrc.access_all(&batch);
        mrc.curve()
    });
    let row = |method: MrcMethod, frames: usize, references: u64| Row {
        arch: arch.name().to_string(),
        page_bytes: page,
        tlb: "-".to_string(),
        tlb_entries: None,
        model: method.name(),
        policy: "lru".to_string(),
        frames: frames as u64,
        mem_bytes: frames as u64 * page,
        references,
        distinct_pages: None,
        faults: 0,
        fault_rate: 0.0,
        evictions: None,
        write_backs: None,
        tlb_hits: None,
        tlb_hit_rate: None,
        walks: None,
        page_table_bytes: None,
        skipped_lines: skipped,
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for &method in methods {
        match method {
            MrcMethod::Exact => {
                let Some(curve) = &exact else { continue };
                for &f in &sizes {
                    let distinct = curve.distinct_pages() as u64;
                    let faults = curve.misses(f);
                    // LRU on demand paging evicts on every fault once
                    // the frames are full, and they fill with the first
                    // min(frames, distinct) faults.
                    let evictions = faults - (f as u64).min(distinct);
                    rows.push(Row {
                        distinct_pages: Some(distinct),
                        faults,
                        fault_rate: curve.miss_ratio(f),
                        evictions: Some(evictions),
                        ..row(method, f, curve.references())
                    });
                }
            }
            MrcMethod::ShardsRate(_) | MrcMethod::ShardsSize(_) => {
                let Some((_, sampler)) = samplers.iter().find(|(m, _)| *m == method) else {
                    continue;
                };
                let curve = sampler.curve();
                for &f in &sizes {
                    let fault_rate = curve.miss_ratio(f);
                    rows.push(Row {
                        faults: (fault_rate * references as f64).round() as u64,
                        fault_rate,
                        ..row(method, f, references)
                    });
                }
                if let Some(exact) = &exact {
                    errors.push(MrcError {
                        arch: arch.name().to_string(),
                        method: method.name(),
                        mean_absolute_error: mean_absolute_error(exact, &curve, &sizes),
                    });
                }
            }
        }
    }
    Ok(MrcOutcome { rows, errors })
}
