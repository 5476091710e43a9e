//! `vmlab run`: drives a workload (a generator spec or a trace file) through
//! a machine given by flags, in the full model (TLB, page walk, fault
//! handler, replacement, in trace mode) or the replacement-only model, and
//! prints what it counted. A scenario script runs on the same machine as a
//! process of its own ([`crate::run_script`]).

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::numbers::parse_page_size;
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::path::PathBuf;
use vmlab_hw::tlb::TlbConfig;
use vmlab_kernel::{KernelConfig, Personality};
use vmlab_workload::driver::{run as drive, Machine, Model, RunReport};
use vmlab_workload::gen::GenSpec;
use vmlab_workload::trace::{self, ReadOptions, TraceFormat};

const EXAMPLES: &str = "\
Examples:
  vmlab run examples/scripts/cow.rhai
  vmlab run examples/scripts/thrashing.rhai --frames 256 --swap 4MiB --policy clock
  vmlab run examples/scripts/stack_growth.rhai --personality pintos
  vmlab run --gen zipf:pages=100000,alpha=1.0,n=1000000,seed=1 --frames 10000 --policy clock
  vmlab run --gen loop:pages=120,n=100000 --frames 100 --policy lru --model replacement
  vmlab run --trace prog.lackey.zst --mem 64MiB --policy s3-fifo --json";

/// Arguments of `vmlab run`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// A scenario script (Rhai) to run as a process on the machine.
    #[arg(value_name = "SCRIPT")]
    script: Option<PathBuf>,
    /// A synthetic workload, e.g. `zipf:pages=1000000,alpha=1.0,n=50000000,seed=1`.
    #[arg(
        long,
        value_name = "SPEC",
        conflicts_with_all = ["trace", "script"],
        required_unless_present_any = ["trace", "script"]
    )]
    gen: Option<String>,
    /// A trace file (lackey text, address list, vmlab-bin, oracleGeneral; gzip or zstd).
    #[arg(long, value_name = "FILE", conflicts_with = "script")]
    trace: Option<PathBuf>,
    /// The trace's format, when detection is not wanted.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Count and skip malformed trace lines instead of stopping at the first.
    #[arg(long)]
    skip_bad_lines: bool,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum ModelArg {
    Full,
    Replacement,
}

#[derive(Clone, Copy, ValueEnum)]
enum PersonalityArg {
    Linux,
    Pintos,
    Xv6,
}

/// Swap slots for `--swap SIZE` on pages of `page_bytes`.
fn swap_slots(size: &str, page_bytes: u64) -> Result<u32, CliError> {
    if size.trim() == "0" {
        return Ok(0);
    }
    let shift = parse_page_size(size).map_err(|e| CliError::arg("--swap", e))?;
    let slots = (1u128 << shift) / u128::from(page_bytes);
    if slots == 0 {
        return Err(CliError::arg(
            "--swap",
            format!("{size} is less than one page of {page_bytes} bytes (0 for no swap)"),
        ));
    }
    u32::try_from(slots).map_err(|_| {
        CliError::arg(
            "--swap",
            format!("{size} is more swap slots than vmlab keeps"),
        )
    })
}

/// Runs `vmlab run`.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let arch = resolve_arch(&args.arch, args.arch_file.as_deref())?;
    let frames = match (&args.frames, &args.mem) {
        (Some(n), _) => *n,
        (None, Some(mem)) => {
            let shift = parse_page_size(mem).map_err(|e| CliError::arg("--mem", e))?;
            ((1u128 << shift) / u128::from(arch.page_bytes())) as usize
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
    let model = match args.model {
        ModelArg::Full => Model::Full,
        ModelArg::Replacement => Model::Replacement,
    };
    let (source, report) = if let Some(spec) = &args.gen {
        let gen: GenSpec = spec.parse().map_err(|e| CliError::arg("--gen", e))?;
        (spec.clone(), drive(gen.stream().map(Ok), &machine, model))
    } else if let Some(path) = &args.trace {
        let format = match &args.format {
            Some(f) => Some(
                f.parse::<TraceFormat>()
                    .map_err(|e| CliError::arg("--format", e))?,
            ),
            None => None,
        };
        let opts = ReadOptions {
            skip_bad_lines: args.skip_bad_lines,
            page_size: machine.arch.page_bytes(),
        };
        let mut reader = trace::open(path, format, opts).map_err(|e| CliError(e.to_string()))?;
        let report = drive(&mut reader, &machine, model).map(|mut r| {
            r.skipped_lines = reader.skipped();
            r
        });
        (path.display().to_string(), report)
    } else {
        return Err(CliError::arg(
            "run",
            "expected SCRIPT, --gen SPEC or --trace FILE",
        ));
    };
    let report = report.map_err(|e| CliError(e.to_string()))?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", summary(&source, &report));
    }
    Ok(())
}

/// The human report.
fn summary(source: &str, r: &RunReport) -> String {
    let model = match r.model {
        Model::Full => "full model (TLB, page walk, fault handler; trace mode)",
        Model::Replacement => "replacement-only model",
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
