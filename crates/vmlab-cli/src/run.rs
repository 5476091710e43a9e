//! `vmlab run`: drives a workload (a generator spec or a trace file) through
//! a machine given by flags, in the full model (TLB, page walk, fault
//! handler, replacement, in trace mode) or the replacement-only model, and
//! prints what it counted; with `--csv`, also a time series of the fault
//! rate and resident set, one row per interval of references. A scenario
//! script runs on the same machine as a process of its own
//! ([`crate::run_script`]). A text or compressed trace is read (parsed,
//! decompressed), or a generator's references drawn, on a second core,
//! when the process may use one, while the first simulates.

use crate::error::CliError;
use crate::machine::MachineArgs;
use crate::output::{print_out, stdout_unless_json, Output};
use crate::progress::{Progress, REFERENCES_PER_REDRAW};
use crate::run_script::ChosenScript;
use crate::workload::{ModelArg, WorkloadArgs};
use clap::Args;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use vmlab_workload::driver::{Machine, Model, RunReport, Sample};
use vmlab_workload::sweep::{Reading, Source, Watch};

const EXAMPLES: &str = "\
Examples:
  vmlab run examples/scripts/cow.rhai
  vmlab run examples/scripts/thrashing.rhai --frames 256 --swap 4MiB --policy clock
  vmlab run examples/scripts/stack_growth.rhai --personality pintos
  vmlab run --gen zipf:pages=100000,alpha=1.0,n=1000000,seed=1 --frames 10000 --policy clock
  vmlab run --gen loop:pages=120,n=100000 --frames 100 --policy lru --model replacement
  vmlab run --trace prog.lackey.zst --mem 64MiB --policy s3-fifo --json
  vmlab run examples/scripts/tlb_reach.rhai --machine examples/scripts/tlb_reach.toml
  vmlab run --scenario tlb-reach --json
  vmlab run examples/scripts/cow.rhai --machine big.toml --policy clock   (flags override the file)
  vmlab run --gen phases:pages=2000,ws=400,phase=50000,n=200000 --frames 500 --csv series.csv --every 10000
  vmlab plot series.csv -o series.svg
A text or compressed trace is read (parsed, decompressed), or a generator's
references drawn, on a second core while the first simulates, when the
process may use two (`taskset -c 0 vmlab run ...` keeps it to one).";

/// Arguments of `vmlab run`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// A scenario script (Rhai) to run as a process on the machine.
    #[arg(value_name = "SCRIPT", conflicts_with_all = ["gen", "trace", "scenario"])]
    script: Option<PathBuf>,
    /// A built-in scenario (`vmlab scenarios list`), on its own machine
    /// under any machine flags given.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["gen", "trace"])]
    scenario: Option<String>,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    machine: MachineArgs,
    /// How much of the machine to model (traces and generators; a script
    /// always runs on the full machine).
    #[arg(long, value_enum, default_value_t = ModelArg::Full, conflicts_with_all = ["script", "scenario"])]
    model: ModelArg,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write a time series (fault rate, resident pages, TLB hit rate per
    /// interval) as CSV to FILE (`-` for standard output instead of the
    /// report); `vmlab plot FILE` draws it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["script", "scenario"])]
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

/// Runs `vmlab run`; with no workload, the built-in tour.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let script = crate::run_script::chosen_script(
        args.script.as_deref(),
        args.scenario.as_deref(),
        &args.machine,
    )?;
    if let Some(script) = script {
        let ChosenScript { name, source, spec } = script;
        return crate::run_script::run_source_on(&name, &source, &spec, args.json);
    }
    if !args.workload.is_given() {
        let machine_flags = args.machine.is_given() || args.csv.is_some() || args.json;
        if machine_flags {
            return Err(CliError::arg(
                "run",
                "expected SCRIPT, --gen SPEC or --trace FILE for the machine flags given (with no flags, `vmlab run` gives the tour)",
            ));
        }
        return print_out(&crate::tour::tour()?);
    }
    args.machine.refuse_kernel_only_flags()?;
    let series_to_stdout = stdout_unless_json("--csv", args.csv.as_deref(), args.json)?;
    let spec = args.machine.spec()?;
    let mut machine = crate::machine::driver_machine(&crate::machine::config(&spec)?);
    let model = Model::from(args.model);
    let source = args.workload.source()?;
    // A single run leaves the other cores idle: one of them reads the
    // stream while this one simulates.
    let reading = if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        Reading::OnThread
    } else {
        Reading::InLine
    };
    crate::machine::ready_run(&spec, &mut machine, model, &source, reading)?;
    let progress = Progress::on_terminal(source.references(), "references");
    let report = match &args.csv {
        Some(path) => {
            let every = args.every;
            run_with_series(&source, &machine, model, reading, every, path, &progress)
        }
        None => {
            // Samples only to move a bar that is drawn; a trace file's
            // reader also says how far through it is (the bar and ETA a
            // stream of unknown length could not have).
            let every = if progress.is_drawn() {
                REFERENCES_PER_REDRAW
            } else {
                0
            };
            let watch = Watch {
                every,
                on_sample: &mut |s| progress.set(s.references),
                on_read: &|fraction| progress.set_fraction(fraction),
            };
            source
                .run_sampled(&machine, model, watch, reading)
                .map_err(|e| CliError(e.to_string()))
        }
    };
    // Before any error, so that its message starts on a line of its own.
    progress.finish();
    let report = report?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        print_out(&format!("{text}\n"))
    } else if series_to_stdout {
        Ok(())
    } else {
        print_out(&summary(&args.workload.label(), &report))
    }
}

/// Runs `source`, writing its time series to `path` as an [`Output`]:
/// rows stream out as the run goes; a file is written whole once the run
/// has succeeded (a failed run leaves no file). Each row also moves
/// `progress`.
fn run_with_series(
    source: &Source,
    machine: &Machine,
    model: Model,
    reading: Reading,
    every: u64,
    path: &Path,
    progress: &Progress,
) -> Result<RunReport, CliError> {
    let flag = |e: CliError| CliError::arg("--csv", e);
    let mut out = Output::create(path).map_err(flag)?;
    let mut failure = writeln!(out, "{}", Sample::CSV_HEADER).err();
    let mut row = |s: &Sample| {
        progress.set(s.references);
        if failure.is_none() {
            failure = writeln!(out, "{}", s.csv_row()).err();
        }
    };
    let watch = Watch {
        every,
        on_sample: &mut row,
        on_read: &|fraction| progress.set_fraction(fraction),
    };
    let report = source
        .run_sampled(machine, model, watch, reading)
        .map_err(|e| CliError(e.to_string()))?;
    if let Some(e) = failure {
        return Err(flag(out.cannot(e)));
    }
    out.finish().map_err(flag)?;
    Ok(report)
}

/// The human report.
pub(crate) fn summary(source: &str, r: &RunReport) -> String {
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
