//! `vmlab scenarios list|show|run NAME`: the built-in library of scenario
//! scripts, one idea each. Each is a file of `examples/scripts/` compiled
//! into the binary; its opening comment is its explanation, and its
//! assertions check its key numbers, so running one is also a test of the
//! machine (every one runs in CI).

use crate::error::CliError;
use crate::output::print_out;
use clap::Subcommand;
use std::fmt::Write as _;
use std::path::Path;
use vmlab_kernel::machine::{parse_machine_toml, MachineSpec};

/// One scenario: its name and its script.
struct Scenario {
    name: &'static str,
    source: &'static str,
}

/// The library, in the order `list` shows it.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "belady",
        source: include_str!("../../../examples/scripts/belady.rhai"),
    },
    Scenario {
        name: "cow",
        source: include_str!("../../../examples/scripts/cow.rhai"),
    },
    Scenario {
        name: "mmap-vs-read",
        source: include_str!("../../../examples/scripts/mmap_vs_read.rhai"),
    },
    Scenario {
        name: "paging-vs-segmentation",
        source: include_str!("../../../examples/scripts/paging_vs_segmentation.rhai"),
    },
    Scenario {
        name: "shared-library",
        source: include_str!("../../../examples/scripts/shared_library.rhai"),
    },
    Scenario {
        name: "stack-growth",
        source: include_str!("../../../examples/scripts/stack_growth.rhai"),
    },
    Scenario {
        name: "syscalls-vs-library-functions",
        source: include_str!("../../../examples/scripts/syscalls_vs_library_functions.rhai"),
    },
    Scenario {
        name: "thrashing",
        source: include_str!("../../../examples/scripts/thrashing.rhai"),
    },
    Scenario {
        name: "tlb-reach",
        source: include_str!("../../../examples/scripts/tlb_reach.rhai"),
    },
    Scenario {
        name: "why-virtual-memory",
        source: include_str!("../../../examples/scripts/why_virtual_memory.rhai"),
    },
];

/// The scenarios that bring their own machine: a machine file beside the
/// script (`examples/scripts/NAME.toml`, `docs/machine-file.md`). The rest
/// run on the default machine, 4 MiB of x86-64 memory.
const MACHINES: &[(&str, &str, &str)] = &[(
    "tlb-reach",
    "examples/scripts/tlb_reach.toml",
    include_str!("../../../examples/scripts/tlb_reach.toml"),
)];

impl Scenario {
    /// The opening comment, without its `//` markers.
    fn explanation(&self) -> String {
        self.source
            .lines()
            .map_while(|l| l.strip_prefix("//"))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The explanation's first sentence.
    fn summary(&self) -> String {
        let text = self.explanation();
        match text.find(". ") {
            Some(end) => text[..=end].to_string(),
            None => text,
        }
    }
}

/// `vmlab scenarios` subcommands.
#[derive(Subcommand)]
pub enum ScenariosCommand {
    /// List the built-in scenarios.
    #[command(after_help = "Examples:\n  vmlab scenarios list\n  vmlab scenarios show belady")]
    List,
    /// Print a scenario's explanation and script.
    #[command(
        after_help = "Examples:\n  vmlab scenarios show cow\n  vmlab scenarios show tlb-reach   (with the machine file it runs on)"
    )]
    Show {
        /// The scenario (`vmlab scenarios list`).
        name: String,
    },
    /// Run a scenario (its assertions included) on its own machine, or
    /// on 4 MiB of x86-64 memory.
    #[command(
        after_help = "Examples:\n  vmlab scenarios run belady\n  vmlab scenarios run thrashing --json\n  vmlab run --scenario cow --policy clock   (the same, with machine flags)\n  vmlab explain --scenario cow --count 50"
    )]
    Run {
        /// The scenario (`vmlab scenarios list`).
        name: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The machine `scenario` runs on.
fn machine_of(scenario: &Scenario) -> Result<MachineSpec, CliError> {
    match MACHINES.iter().find(|(name, ..)| *name == scenario.name) {
        Some((_, path, text)) => {
            parse_machine_toml(text, path, Path::new("")).map_err(|e| CliError(e.to_string()))
        }
        None => Ok(MachineSpec::default()),
    }
}

fn find(name: &str) -> Result<&'static Scenario, CliError> {
    SCENARIOS.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        CliError::arg(
            "scenario",
            format!("expected one of {}, found {name:?}", names.join(", ")),
        )
    })
}

/// The script of the scenario called `name` and the machine it runs on.
pub fn script_and_machine(name: &str) -> Result<(&'static str, MachineSpec), CliError> {
    let s = find(name)?;
    Ok((s.source, machine_of(s)?))
}

/// Runs `vmlab scenarios`.
pub fn run(command: &ScenariosCommand) -> Result<(), CliError> {
    match command {
        ScenariosCommand::List => {
            let mut out = String::new();
            let width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
            for s in SCENARIOS {
                let _ = writeln!(out, "{:<width$} {}", s.name, s.summary());
            }
            print_out(&out)
        }
        ScenariosCommand::Show { name } => {
            let s = find(name)?;
            let mut out = format!("{}\n\n{}", s.explanation(), s.source);
            if let Some((_, path, text)) = MACHINES.iter().find(|(n, ..)| *n == s.name) {
                let _ = write!(out, "\n// The machine it runs on ({path}):\n{text}");
            }
            print_out(&out)
        }
        ScenariosCommand::Run { name, json } => {
            let s = find(name)?;
            crate::run_script::run_source_on(
                &format!("scenario {}", s.name),
                s.source,
                &machine_of(s)?,
                *json,
            )
        }
    }
}
