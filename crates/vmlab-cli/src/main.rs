//! `vmlab`, the command line: argument parsing and dispatch. Each command
//! lives in its own module; every error reaches the user here, as one line
//! naming the argument at fault, with exit status 2.

mod allocator;
mod arch_cmd;
mod compare;
mod error;
mod explain;
mod footprint;
mod generate;
mod machine;
mod narrate;
mod numbers;
mod output;
mod plot;
mod plot_cmd;
mod progress;
mod record;
mod run;
mod run_script;
mod scenarios;
mod sweep;
mod table;
mod tour;
mod translate;
mod workload;

use clap::{Parser, Subcommand};
use error::CliError;
use std::process::ExitCode;

/// Counts the bytes held, so a machine too large for the host is refused
/// before it is built (see [`allocator`] and [`footprint`]).
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

const EXAMPLES: &str = "\
Examples:
  vmlab run                                the tour: one experiment per question vmlab answers
  vmlab translate                          walk through the built-in x86-64 example
  vmlab translate --arch x86-64 --map 0x403000=0x12345000:rw 0x403abc 0x403010
  vmlab translate --arch riscv-sv39 --map 0x40200000=0x80600000:rw:2M 0x40200abc:w
  vmlab run examples/scripts/cow.rhai      run a scenario script as a process
  vmlab run --gen zipf:pages=100000,alpha=1.0,n=1000000,seed=1 --frames 10000
  vmlab explain --gen loop:pages=5,n=20 --frames 6 --policy clock
  vmlab compare --mem 8M --allocators first,best,buddy --page-sizes 4K,2M --compact
  vmlab sweep --gen zipf:pages=10000,alpha=1.0,n=1000000 --policies lru,fifo,arc \
      --frames 500..5000:500 --model replacement --csv faults.csv --plot faults.svg
  vmlab plot faults.csv -o faults.png
  vmlab scenarios list
  vmlab scenarios run cow
  vmlab record -- ls -l /                  trace a real program (needs Valgrind)
  vmlab run --trace ls.vmtrace.zst         replay its accesses and address-space calls
  vmlab arch list
  vmlab arch show aarch64-4k";

/// A virtual-memory system you can run, watch and measure.
#[derive(Parser)]
#[command(name = "vmlab", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build page tables from mappings and translate addresses step by step.
    Translate(translate::TranslateArgs),
    /// Run a workload (a script, a generator or a trace) through a machine and count.
    Run(run::RunArgs),
    /// Run a workload step by step and tell each event in plain words (or JSON lines).
    Explain(explain::ExplainArgs),
    /// Compare paging and segmentation on one allocation workload.
    Compare(compare::CompareArgs),
    /// Write a generator's stream to a trace file (vmlab-bin, optionally zstd).
    Generate(generate::GenerateArgs),
    /// Trace a real program under Valgrind: accesses and address-space system calls.
    Record(record::RecordArgs),
    /// Run one workload over many configurations in parallel; table, CSV, JSON, plot.
    Sweep(sweep::SweepArgs),
    /// Plot a saved sweep CSV or a time series as SVG or PNG.
    Plot(plot_cmd::PlotArgs),
    /// List the translation schemes or show one.
    #[command(
        subcommand,
        after_help = "Examples:\n  vmlab arch list\n  vmlab arch show aarch64-4k"
    )]
    Arch(arch_cmd::ArchCommand),
    /// The built-in scenario library: list, show or run one (each a script with assertions).
    #[command(
        subcommand,
        after_help = "Examples:\n  vmlab scenarios list\n  vmlab scenarios show cow\n  vmlab scenarios run belady"
    )]
    Scenarios(scenarios::ScenariosCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), CliError> = match cli.command {
        Command::Translate(args) => translate::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Record(args) => record::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Plot(args) => plot_cmd::run(&args),
        Command::Arch(cmd) => arch_cmd::run(&cmd),
        Command::Scenarios(cmd) => scenarios::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmlab: error: {e}");
            ExitCode::from(2)
        }
    }
}
