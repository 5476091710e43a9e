//! `vmlab sweep`: one workload (a generator, a trace, or a scenario script
//! run as a process) over the cartesian product of schemes, TLBs, models,
//! policies and memory sizes, run in parallel; or, with `--mrc`,
//! LRU's miss-ratio curve from one pass per page size. Prints a tidy table
//! (text, or JSON with `--json`), writes it as CSV with `--csv`, and plots
//! it with `--plot`.

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::footprint::{fit_at_once, Planned};
use crate::numbers::{parse_list, parse_size, parse_u64};
use crate::output::{print_out, stdout_unless_json};
use crate::plot;
use crate::progress::Progress;
use crate::table;
use crate::workload::{ModelArg, WorkloadArgs};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use vmlab_kernel::machine::{load_machine_file, MachineSpec};
use vmlab_workload::driver::Model;
use vmlab_workload::future::{give_futures, FutureError};
use vmlab_workload::sweep::{
    self as sweeps, Configuration, Memory, MrcMethod, Reading, Row, Source, Sweep,
};

const EXAMPLES: &str = "\
Examples:
  vmlab sweep --gen zipf:pages=10000,alpha=1.0,n=1000000 --policies lru,fifo,clock,arc \\
      --frames 500..5000:500 --model replacement --csv faults.csv --plot faults.svg
  vmlab sweep --gen loop:pages=64,n=200000 --frames 100 \\
      --tlb l1d:8:2,l1i:8:2 --tlb l1d:32:4,l1i:32:4 --tlb l1d:64:4,l1i:64:4 --plot tlb.png
  vmlab sweep --trace prog.lackey.zst --mem 1MiB..64MiB:*2 --arch x86-64 --arch aarch64-16k
  vmlab sweep examples/scripts/thrashing.rhai --policies lru,clock,arc --frames 64..512:*2
  vmlab sweep --scenario thrashing --policies lru,clock,arc --frames 64..1024:*2
  vmlab sweep --gen zipf:pages=1000000,alpha=1.0,n=10000000 --frames 1000..1000000:*2 \\
      --mrc exact,shards:rate=0.01 --plot mrc.svg

Each of --tlb and --arch is repeated once per value (their specs contain commas);
--policies, --frames, --mem, --model and --mrc take comma-separated lists, and
--frames/--mem also ranges FROM..TO:STEP or FROM..TO:*FACTOR.";

/// Arguments of `vmlab sweep`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct SweepArgs {
    /// A scenario script (Rhai) to run as a process on each configuration's
    /// machine (full model only); its failed assertions are named, not
    /// fatal.
    #[arg(value_name = "SCRIPT", conflicts_with_all = ["gen", "trace", "mrc"])]
    script: Option<PathBuf>,
    /// A built-in scenario's script (`vmlab scenarios list`), on its own
    /// machine's settings for what the sweep does not vary.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["gen", "trace", "mrc", "script"])]
    scenario: Option<String>,
    /// A machine file (`docs/machine-file.md`) for a script's settings the
    /// sweep does not vary (swap, scope, personality, read-ahead, huge
    /// pages), and its scheme, policy and TLB where no flag gives them.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["gen", "trace", "mrc"])]
    machine: Option<PathBuf>,
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Translation schemes, one per flag (`vmlab arch list`; default x86-64); each brings
    /// its page size.
    #[arg(long = "arch", value_name = "NAME")]
    archs: Vec<String>,
    /// Schemes defined in TOML files, one per flag (added after --arch).
    #[arg(long = "arch-file", value_name = "FILE")]
    arch_files: Vec<PathBuf>,
    /// Replacement policies, comma-separated, each with any parameters
    /// after colons (`aging:bits=2,aging:bits=8`; `opt` reads the workload
    /// once beforehand, for all its runs at a page size).
    /// [default: lru, or a script's machine file's policy]
    #[arg(long, value_name = "LIST", conflicts_with = "mrc")]
    policies: Option<String>,
    /// Memory sizes in frames: `1000,2000` or `1000..10000:1000` or `1000..64000:*2`.
    #[arg(
        long,
        value_name = "LIST",
        conflicts_with = "mem",
        required_unless_present = "mem"
    )]
    frames: Option<String>,
    /// Memory sizes in bytes: `4MiB,8MiB` or `4MiB..64MiB:4MiB` or `1MiB..1GiB:*2`.
    #[arg(long, value_name = "LIST")]
    mem: Option<String>,
    /// TLB geometries, one per flag, e.g. `l1d:64:4,l1i:64:4,l2:1536:12` or `none`
    /// (default: each scheme's own).
    #[arg(long = "tlb", value_name = "SPEC", conflicts_with = "mrc")]
    tlbs: Vec<String>,
    /// Models, comma-separated.
    #[arg(
        long = "model",
        value_enum,
        value_delimiter = ',',
        default_value = "full",
        conflicts_with = "mrc"
    )]
    models: Vec<ModelArg>,
    /// Instead of simulating each size: LRU's miss-ratio curve in one pass, by
    /// `exact`, `shards:rate=R` and/or `shards:size=N` (comma-separated).
    #[arg(long, value_name = "METHODS")]
    mrc: Option<String>,
    /// Write the table as CSV to FILE (`-` for standard output instead of the text table).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Print the table as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Plot the table to FILE (.svg or .png).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Configurations run at once, at most (1 to 1024), each on a thread
    /// [default: the cores; where configurations share a reading of the
    /// stream, as many as memory allows, up to 64, and one thread more for
    /// the reading].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
}

/// Runs `vmlab sweep`, on `--jobs` threads if given.
pub fn run(args: &SweepArgs) -> Result<(), CliError> {
    match args.jobs {
        Some(jobs) => sweeps::on_threads(usize::from(jobs), || sweep(args))
            .map_err(|e| CliError::arg("--jobs", e))?,
        None => sweep(args),
    }
}

/// Runs `vmlab sweep` on rayon's pool as it is.
fn sweep(args: &SweepArgs) -> Result<(), CliError> {
    let workload = workload(args)?;
    let csv_to_stdout = stdout_unless_json("--csv", args.csv.as_deref(), args.json)?;
    if let Some(path) = &args.plot {
        // Refused before the sweep runs rather than after.
        plot::format(path).map_err(|e| CliError::arg("--plot", e))?;
    }
    let mut archs = Vec::new();
    for name in &args.archs {
        archs.push(resolve_arch(name, None)?);
    }
    for path in &args.arch_files {
        archs.push(resolve_arch("", Some(path))?);
    }
    // Where no flag gives them, a script's machine settings'.
    let machine = match &workload {
        Workload::Script(script) => Some(&script.machine),
        Workload::Stream(_) => None,
    };
    if archs.is_empty() {
        archs.push(match machine {
            Some(m) => m.resolve_arch().map_err(|e| CliError(e.to_string()))?,
            None => resolve_arch("x86-64", None)?,
        });
    }
    let given = |flag: Option<&String>, key: fn(&MachineSpec) -> Option<&String>| {
        flag.or_else(|| machine.and_then(key)).cloned()
    };
    let policies = given(args.policies.as_ref(), |m| {
        m.policy.as_ref().map(|g| &g.value)
    })
    .unwrap_or_else(|| "lru".to_string());
    let tlbs: Vec<Option<String>> = if args.tlbs.is_empty() {
        vec![given(None, |m| m.tlb.as_ref().map(|g| &g.value))]
    } else {
        args.tlbs.iter().cloned().map(Some).collect()
    };
    let memory: Vec<Memory> = match (&args.frames, &args.mem) {
        (Some(list), _) => parse_list(list, parse_u64)
            .map_err(|e| CliError::arg("--frames", e))?
            .into_iter()
            .map(Memory::Frames)
            .collect(),
        (None, Some(list)) => parse_list(list, parse_size)
            .map_err(|e| CliError::arg("--mem", e))?
            .into_iter()
            .map(Memory::Bytes)
            .collect(),
        (None, None) => return Err(CliError::arg("sweep", "expected --frames or --mem")),
    };
    let started = Instant::now();
    // The rows, and how many configurations ran at a time.
    let (rows, at_a_time) = if let Some(methods) = &args.mrc {
        let methods: Vec<MrcMethod> = methods
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::arg("--mrc", e))?;
        let Workload::Stream(source) = &workload else {
            return Err(CliError::arg(
                "--mrc",
                "expected --gen SPEC or --trace FILE, not a script",
            ));
        };
        let outcome =
            sweeps::mrc_rows(source, &archs, &memory, &methods).map_err(|e| sweep_error(&e))?;
        for e in &outcome.errors {
            eprintln!(
                "{} on {}: mean absolute error {:.6} against the exact curve",
                e.method, e.arch, e.mean_absolute_error
            );
        }
        (outcome.rows, None)
    } else {
        let sweep = Sweep {
            archs,
            tlbs,
            models: args.models.iter().map(|&m| Model::from(m)).collect(),
            policies: policies.split(',').map(|p| p.trim().to_string()).collect(),
            memory,
        };
        let mut configs = sweep.configurations().map_err(|e| sweep_error(&e))?;
        let source = match &workload {
            Workload::Script(script) => {
                let rows = run_script(script, &configs)?;
                let at_a_time = sweeps::parallelism().min(configs.len());
                return finish(args, &rows, csv_to_stdout, started, Some(at_a_time));
            }
            Workload::Stream(source) => source,
        };
        let planned: Vec<_> = configs
            .iter()
            .map(|c| Planned::run(&c.machine, c.model))
            .collect();
        let wanted = sweeps::wanted_at_once(source, &configs);
        // Readings shared by no more configurations than --jobs allows.
        let wanted = args
            .jobs
            .map_or(wanted, |jobs| wanted.min(usize::from(jobs)));
        let (at_once, room) = fit_at_once(&planned, sweeps::parallelism(), wanted)
            .map_err(|e| CliError::arg("--frames/--mem", e))?;
        drop(planned);
        // One pre-pass per page size, before the runs fill the cores.
        let runs = configs.iter_mut().map(|c| (&mut c.machine, c.model));
        give_futures(source, runs, Reading::OnThread, room).map_err(|e| match e {
            FutureError::Unavailable(message) => CliError::arg("--policies", message),
            FutureError::Read(e) => CliError(e.to_string()),
        })?;
        let progress = configurations_progress(configs.len());
        let rows = sweeps::run(source, &configs, at_once, &|steps| progress.add(steps));
        progress.finish();
        let rows = rows.map_err(|e| sweep_error(&e))?;
        (rows, Some(at_once.min(configs.len())))
    };
    finish(args, &rows, csv_to_stdout, started, at_a_time)
}

/// What a sweep runs.
enum Workload {
    /// A scenario script, as a process on each machine (boxed: its
    /// machine settings are large beside a stream's description).
    Script(Box<sweeps::Script>),
    /// A generator's or a trace's stream.
    Stream(Source),
}

/// The workload the flags give: a script (a file or a built-in scenario,
/// on the settings of `--machine` and the scenario's own), else the
/// stream of `--gen` or `--trace`.
fn workload(args: &SweepArgs) -> Result<Workload, CliError> {
    let file = match &args.machine {
        Some(path) => load_machine_file(path).map_err(|e| CliError(e.to_string()))?,
        None => MachineSpec::default(),
    };
    if let Some(path) = &args.script {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| CliError(format!("{name}: cannot read the script: {e}")))?;
        return Ok(Workload::Script(Box::new(sweeps::Script {
            name,
            source,
            machine: file,
        })));
    }
    if let Some(scenario) = &args.scenario {
        let (source, own) = crate::scenarios::script_and_machine(scenario)?;
        return Ok(Workload::Script(Box::new(sweeps::Script {
            name: format!("scenario {scenario}"),
            source: source.to_string(),
            machine: file.over(own),
        })));
    }
    if args.machine.is_some() {
        return Err(CliError::arg(
            "--machine",
            "a machine file sets what a script's runs do not vary; a generator or a trace runs in trace mode, which has none of it (expected SCRIPT or --scenario NAME)",
        ));
    }
    if !args.workload.is_given() {
        return Err(CliError::arg(
            "sweep",
            "expected SCRIPT, --scenario NAME, --gen SPEC or --trace FILE",
        ));
    }
    Ok(Workload::Stream(args.workload.source()?))
}

/// Runs `script` on every configuration, once the machines are known to
/// fit in memory as many at a time as the sweep runs.
fn run_script(script: &sweeps::Script, configs: &[Configuration]) -> Result<Vec<Row>, CliError> {
    let kernels: Vec<_> = configs
        .iter()
        .map(|c| sweeps::script_kernel_config(script, c))
        .collect::<Result<_, _>>()
        .map_err(CliError)?;
    let planned: Vec<_> = kernels.iter().map(Planned::kernel).collect();
    fit_at_once(&planned, sweeps::parallelism(), sweeps::parallelism())
        .map_err(|e| CliError::arg("--frames/--mem", e))?;
    drop(planned);
    let progress = configurations_progress(configs.len());
    let sweep = sweeps::run_script(script, configs, &|steps| progress.add(steps));
    progress.finish();
    let sweep = sweep.map_err(|e| sweep_error(&e))?;
    for failed in &sweep.failed_checks {
        let more = match failed.count {
            1 => String::new(),
            n => format!(" ({} more failed)", n - 1),
        };
        eprintln!(
            "vmlab sweep: {}: {}{more}; the run went on, and its row counts all of it (a script's checks are about the machine it was written for)",
            failed.configuration, failed.first
        );
    }
    Ok(sweep.rows)
}

/// The progress bar of a sweep of `configurations`, in their steps.
fn configurations_progress(configurations: usize) -> Progress {
    Progress::on_terminal_in_steps(
        Some(configurations as u64),
        sweeps::CONFIGURATION_STEPS,
        "configurations",
    )
}

/// Writes the rows where the flags say, and the time taken since
/// `started` with `at_a_time` configurations at a time (curves: a pass
/// per page size).
fn finish(
    args: &SweepArgs,
    rows: &[Row],
    csv_to_stdout: bool,
    started: Instant,
    at_a_time: Option<usize>,
) -> Result<(), CliError> {
    output(args, rows, csv_to_stdout)?;
    let parallel = match at_a_time {
        Some(1) => ", one configuration at a time".to_string(),
        Some(n) => format!(", {n} configurations at a time"),
        None => String::new(),
    };
    eprintln!(
        "vmlab sweep: {} rows in {:.2} s{parallel}",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A sweep error as the user's flag: dimensions are flags of the same
/// name; configurations and trace positions speak for themselves.
fn sweep_error(e: &sweeps::SweepError) -> CliError {
    match e.place.as_str() {
        "arch" | "tlb" | "model" | "policies" | "mrc" => {
            CliError::arg(&format!("--{}", e.place), &e.message)
        }
        "memory" => CliError::arg("--frames/--mem", &e.message),
        _ => CliError(e.to_string()),
    }
}

/// Files first (each an [`Output`](crate::output::Output)), then standard
/// output, where `--csv -` puts the CSV instead of the text table.
fn output(args: &SweepArgs, rows: &[Row], csv_to_stdout: bool) -> Result<(), CliError> {
    if let Some(path) = args.csv.as_deref().filter(|_| !csv_to_stdout) {
        crate::output::write_whole(path, table::to_csv(rows).as_bytes())?;
    }
    if let Some(path) = &args.plot {
        let chart = plot::sweep_plot(rows).map_err(|e| CliError::arg("--plot", e))?;
        plot::render(&chart, path)?;
    }
    if args.json {
        print_out(&format!("{}\n", table::to_json(rows)?))?;
    } else if csv_to_stdout {
        print_out(&table::to_csv(rows))?;
    } else {
        print_out(&table::to_text(rows))?;
    }
    Ok(())
}
