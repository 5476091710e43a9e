//! `vmlab run`: drives a workload (a generator spec or a trace file) through
//! a machine given by flags, in the full model (TLB, page walk, fault
//! handler, replacement, in trace mode) or the replacement-only model, and
//! prints what it counted.

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::numbers::parse_page_size;
use crate::output::print_out;
use crate::workload::{ModelArg, WorkloadArgs};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use vmlab_hw::tlb::TlbConfig;
use vmlab_workload::driver::{Machine, Model, RunReport};

const EXAMPLES: &str = "\
Examples:
  vmlab run --gen zipf:pages=100000,alpha=1.0,n=1000000,seed=1 --frames 10000 --policy clock
  vmlab run --gen loop:pages=120,n=100000 --frames 100 --policy lru --model replacement
  vmlab run --trace prog.lackey.zst --mem 64MiB --policy s3-fifo --json";

/// Arguments of `vmlab run`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
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
    /// How much of the machine to model.
    #[arg(long, value_enum, default_value_t = ModelArg::Full)]
    model: ModelArg,
    /// TLB geometry, e.g. `l1d:64:4,l1i:64:4,l2:1536:12` or `none`.
    #[arg(long, value_name = "SPEC")]
    tlb: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
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
    let model = Model::from(args.model);
    let source = args.workload.source()?;
    let report = source
        .run(&machine, model)
        .map_err(|e| CliError(e.to_string()))?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        print_out(&format!("{text}\n"))
    } else {
        print_out(&summary(&args.workload.label(), &report))
    }
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
