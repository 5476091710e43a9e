//! `vmlab run`: drives a workload (a generator spec or a trace file) through
//! a machine given by flags, in the full model (TLB, page walk, fault
//! handler, replacement, in trace mode) or the replacement-only model, and
//! prints what it counted; with `--csv`, also a time series of the fault
//! rate and resident set, one row per interval of references. A scenario
//! script runs on the same machine as a process of its own
//! ([`crate::run_script`]).

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::numbers::parse_size;
use crate::output::{commit, print_out, temp_beside};
use crate::progress::Progress;
use crate::workload::{ModelArg, WorkloadArgs};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use vmlab_hw::tlb::TlbConfig;
use vmlab_kernel::{KernelConfig, Personality};
use vmlab_workload::driver::{Machine, Model, RunReport, Sample};
use vmlab_workload::sweep::Source;

const EXAMPLES: &str = "\
Examples:
  vmlab run examples/scripts/cow.rhai
  vmlab run examples/scripts/thrashing.rhai --frames 256 --swap 4MiB --policy clock
  vmlab run examples/scripts/stack_growth.rhai --personality pintos
  vmlab run --gen zipf:pages=100000,alpha=1.0,n=1000000,seed=1 --frames 10000 --policy clock
  vmlab run --gen loop:pages=120,n=100000 --frames 100 --policy lru --model replacement
  vmlab run --trace prog.lackey.zst --mem 64MiB --policy s3-fifo --json
  vmlab run --gen phases:pages=2000,ws=400,phase=50000,n=200000 --frames 500 --csv series.csv --every 10000
  vmlab plot series.csv -o series.svg";

/// References between redraws of the progress bar: often enough to move
/// a few times a second, rare enough to cost nothing measurable.
const PROGRESS_EVERY: u64 = 1 << 20;

/// Arguments of `vmlab run`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// A scenario script (Rhai) to run as a process on the machine.
    #[arg(value_name = "SCRIPT", conflicts_with_all = ["gen", "trace"])]
    script: Option<PathBuf>,
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Translation scheme (`vmlab arch list`).
    #[arg(long, default_value = "x86-64")]
    arch: String,
    /// A scheme defined in a TOML file (overrides --arch).
    #[arg(long, value_name = "FILE")]
    arch_file: Option<PathBuf>,
    /// Physical memory in frames.
    #[arg(long, conflicts_with = "mem")]
    frames: Option<usize>,
    /// Physical memory in bytes (`64MiB`, `1G`), instead of --frames.
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Replacement policy.
    #[arg(long, default_value = "lru")]
    policy: String,
    /// How much of the machine to model (traces and generators; a script
    /// always runs on the full machine).
    #[arg(long, value_enum, default_value_t = ModelArg::Full, conflicts_with = "script")]
    model: ModelArg,
    /// Whose rules the kernel follows where kernels differ (scripts;
    /// default: linux).
    #[arg(long, value_enum)]
    personality: Option<PersonalityArg>,
    /// Swap space (`64MiB`, `1G`, `0` for none; scripts; default: as much as memory).
    #[arg(long, value_name = "SIZE")]
    swap: Option<String>,
    /// TLB geometry, e.g. `l1d:64:4,l1i:64:4,l2:1536:12` or `none`.
    #[arg(long, value_name = "SPEC")]
    tlb: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write a time series (fault rate, resident pages, TLB hit rate per
    /// interval) as CSV to FILE; `vmlab plot FILE` draws it.
    #[arg(long, value_name = "FILE", conflicts_with = "script")]
    csv: Option<PathBuf>,
    /// References per time-series interval.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        requires = "csv",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    every: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum PersonalityArg {
    Linux,
    Pintos,
    Xv6,
}

/// Swap slots for `--swap SIZE` on pages of `page_bytes`.
fn swap_slots(size: &str, page_bytes: u64) -> Result<u32, CliError> {
    let bytes = parse_size(size).map_err(|e| CliError::arg("--swap", e))?;
    if bytes != 0 && bytes < page_bytes {
        return Err(CliError::arg(
            "--swap",
            format!("{size} is less than one page of {page_bytes} bytes (0 for no swap)"),
        ));
    }
    u32::try_from(bytes / page_bytes).map_err(|_| {
        CliError::arg(
            "--swap",
            format!("{size} is more swap slots than vmlab keeps"),
        )
    })
}

/// Runs `vmlab run`; with no workload, the built-in tour.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    if args.script.is_none() && !args.workload.is_given() {
        let machine_flags = args.arch_file.is_some()
            || args.personality.is_some()
            || args.swap.is_some()
            || args.frames.is_some()
            || args.mem.is_some()
            || args.tlb.is_some()
            || args.csv.is_some()
            || args.json;
        if machine_flags {
            return Err(CliError::arg(
                "run",
                "expected SCRIPT, --gen SPEC or --trace FILE for the machine flags given (with no flags, `vmlab run` gives the tour)",
            ));
        }
        return print_out(&crate::tour::tour()?);
    }
    let arch = resolve_arch(&args.arch, args.arch_file.as_deref())?;
    let frames = match (&args.frames, &args.mem) {
        (Some(n), _) => *n,
        (None, Some(mem)) => {
            let bytes = parse_size(mem).map_err(|e| CliError::arg("--mem", e))?;
            usize::try_from(bytes / arch.page_bytes()).unwrap_or(usize::MAX)
        }
        (None, None) => 1024,
    };
    if frames == 0 {
        return Err(CliError::arg("--frames", "expected at least 1 frame"));
    }
    let tlb = match &args.tlb {
        Some(spec) => Some(
            TlbConfig::parse_spec(spec, arch.page_shift())
                .map_err(|e| CliError::arg("--tlb", e))?,
        ),
        None => None,
    };
    let machine = Machine {
        arch,
        frames,
        policy: args.policy.clone(),
        tlb,
    };
    // A trace or generator run has no processes of its own to apply
    // these to (clap's `requires` is not enforced next to a conflict).
    if args.script.is_none() {
        if args.personality.is_some() {
            return Err(CliError::arg("--personality", "applies to a SCRIPT only"));
        }
        if args.swap.is_some() {
            return Err(CliError::arg("--swap", "applies to a SCRIPT only"));
        }
    }
    if let Some(path) = &args.script {
        let mut config = KernelConfig::new(machine.arch.clone(), machine.frames);
        config.policy = machine.policy.clone();
        if let Some(tlb) = machine.tlb {
            config.tlb = tlb;
        }
        config.personality = match args.personality {
            None | Some(PersonalityArg::Linux) => Personality::Linux,
            Some(PersonalityArg::Pintos) => Personality::Pintos,
            Some(PersonalityArg::Xv6) => Personality::Xv6,
        };
        if let Some(size) = &args.swap {
            config.swap_slots = swap_slots(size, config.arch.page_bytes())?;
        }
        return crate::run_script::run(path, config, args.json);
    }
    let model = Model::from(args.model);
    let source = args.workload.source()?;
    let progress = Progress::on_terminal(source.references(), "references");
    let report = match &args.csv {
        Some(path) => run_with_series(&source, &machine, model, args.every, path, &progress),
        None if progress.is_drawn() => source
            .run_sampled(&machine, model, PROGRESS_EVERY, &mut |s| {
                progress.set(s.references)
            })
            .map_err(|e| CliError(e.to_string())),
        None => source
            .run(&machine, model)
            .map_err(|e| CliError(e.to_string())),
    };
    // Before any error, so that its message starts on a line of its own.
    progress.finish();
    let report = report?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        print_out(&format!("{text}\n"))
    } else {
        print_out(&summary(&args.workload.label(), &report))
    }
}

/// Runs `source`, writing its time series to `path` whole: rows stream
/// into a temporary file beside it, renamed into place once the run has
/// succeeded (a failed run leaves no file). Each row also moves `progress`.
fn run_with_series(
    source: &Source,
    machine: &Machine,
    model: Model,
    every: u64,
    path: &Path,
    progress: &Progress,
) -> Result<RunReport, CliError> {
    let temp = temp_beside(path);
    let cannot = |e: std::io::Error| {
        let _ = std::fs::remove_file(&temp);
        CliError::arg("--csv", format!("{}: cannot write: {e}", path.display()))
    };
    let file = std::fs::File::create(&temp).map_err(cannot)?;
    let mut out = BufWriter::new(file);
    let mut failure = writeln!(out, "{}", Sample::CSV_HEADER).err();
    let run = source.run_sampled(machine, model, every, &mut |s| {
        progress.set(s.references);
        if failure.is_none() {
            failure = writeln!(out, "{}", s.csv_row()).err();
        }
    });
    let written = match failure {
        Some(e) => Err(e),
        None => out.flush(),
    };
    drop(out);
    let report = match run {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(CliError(e.to_string()));
        }
    };
    written.map_err(cannot)?;
    commit(&temp, path)?;
    Ok(report)
}

/// The human report.
fn summary(source: &str, r: &RunReport) -> String {
    let model = match (r.model, &r.replay) {
        (Model::Full, None) => "full model (TLB, page walk, fault handler; trace mode)",
        (Model::Full, Some(_)) => {
            "full model (TLB, page walk, fault handler; replaying the trace's system calls)"
        }
        (Model::Replacement, _) => "replacement-only model",
    };
    let mut out = String::new();
    let _ = writeln!(out, "vmlab run: {source}");
    let _ = writeln!(
        out,
        "machine: {}, {} frames, {} replacement, {model}",
        r.arch, r.frames, r.policy
    );
    let _ = writeln!(out, "references      {}", r.references);
    if r.skipped_lines > 0 {
        let _ = writeln!(out, "skipped lines   {} (malformed)", r.skipped_lines);
    }
    let _ = writeln!(out, "distinct pages  {}", r.distinct_pages);
    let _ = writeln!(
        out,
        "faults          {} (fault rate {:.4})",
        r.faults, r.fault_rate
    );
    let _ = writeln!(out, "evictions       {}", r.evictions);
    let _ = writeln!(out, "write-backs     {}", r.write_backs);
    if let (Some(hits), Some(walks)) = (r.tlb_hits, r.walks) {
        let _ = writeln!(out, "TLB hits        {hits}");
        let _ = writeln!(out, "page walks      {walks}");
    }
    if let Some(bytes) = r.page_table_bytes {
        let _ = writeln!(out, "page tables     {bytes} bytes");
    }
    if let Some(replay) = &r.replay {
        crate::record::write_replay(&mut out, replay);
    }
    let rate = if r.seconds > 0.0 {
        r.references as f64 / r.seconds / 1e6
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "time            {:.3} s ({rate:.2} M refs/s)",
        r.seconds
    );
    out
}
