//! The flags every driving command shares: the workload (`--gen` or
//! `--trace`, `--format`, `--skip-bad-lines`) and the [`Source`] it
//! describes; the machine (`--arch`, `--frames` or `--mem`, `--policy`,
//! `--tlb`, and for scripts `--personality` and `--swap`) and the
//! [`Machine`] or [`KernelConfig`] it describes; the `--model` values.

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::numbers::parse_size;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use vmlab_hw::tlb::TlbConfig;
use vmlab_kernel::{KernelConfig, Personality};
use vmlab_workload::driver::{Machine, Model};
use vmlab_workload::gen::GenSpec;
use vmlab_workload::sweep::Source;
use vmlab_workload::trace::TraceFormat;

/// Where the references come from.
#[derive(Args)]
pub struct WorkloadArgs {
    /// A synthetic workload, e.g. `zipf:pages=1000000,alpha=1.0,n=50000000,seed=1`.
    #[arg(long, value_name = "SPEC", conflicts_with = "trace")]
    gen: Option<String>,
    /// A trace file (lackey text, address list, vmlab-bin, oracleGeneral; gzip or zstd).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// The trace's format, when detection is not wanted.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Count and skip malformed trace lines instead of stopping at the first.
    #[arg(long)]
    skip_bad_lines: bool,
}

impl WorkloadArgs {
    /// The generator or trace, checked (a bad spec or format names its flag).
    pub fn source(&self) -> Result<Source, CliError> {
        if let Some(spec) = &self.gen {
            let gen: GenSpec = spec.parse().map_err(|e| CliError::arg("--gen", e))?;
            return Ok(Source::Generator(gen));
        }
        let Some(path) = &self.trace else {
            return Err(CliError("expected --gen SPEC or --trace FILE".to_string()));
        };
        let format = match &self.format {
            Some(f) => Some(
                f.parse::<TraceFormat>()
                    .map_err(|e| CliError::arg("--format", e))?,
            ),
            None => None,
        };
        Ok(Source::Trace {
            path: path.clone(),
            format,
            skip_bad_lines: self.skip_bad_lines,
        })
    }

    /// Whether a generator or a trace was given.
    pub fn is_given(&self) -> bool {
        self.gen.is_some() || self.trace.is_some()
    }

    /// What reports call the workload: the spec or the trace's path.
    pub fn label(&self) -> String {
        match (&self.gen, &self.trace) {
            (Some(spec), _) => spec.clone(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => String::new(),
        }
    }
}

/// `--model`: how much of the machine to model.
#[derive(Clone, Copy, ValueEnum)]
pub enum ModelArg {
    /// TLB, page walk, fault handler and replacement (trace mode).
    Full,
    /// Which pages are resident, nothing else.
    Replacement,
}

impl From<ModelArg> for Model {
    fn from(m: ModelArg) -> Model {
        match m {
            ModelArg::Full => Model::Full,
            ModelArg::Replacement => Model::Replacement,
        }
    }
}

/// The machine a command drives.
#[derive(Args)]
pub struct MachineArgs {
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
}

/// `--personality`.
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

impl MachineArgs {
    /// Whether any machine flag was given (other than by default).
    pub fn any_given(&self) -> bool {
        self.arch_file.is_some()
            || self.personality.is_some()
            || self.swap.is_some()
            || self.frames.is_some()
            || self.mem.is_some()
            || self.tlb.is_some()
    }

    /// The machine: scheme, frames (1024 by default), policy, TLB.
    pub fn machine(&self) -> Result<Machine, CliError> {
        let arch = resolve_arch(&self.arch, self.arch_file.as_deref())?;
        let frames = match (&self.frames, &self.mem) {
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
        let tlb = match &self.tlb {
            Some(spec) => Some(
                TlbConfig::parse_spec(spec, arch.page_shift())
                    .map_err(|e| CliError::arg("--tlb", e))?,
            ),
            None => None,
        };
        Ok(Machine {
            arch,
            frames,
            policy: self.policy.clone(),
            tlb,
        })
    }

    /// The kernel a script runs on: `machine` with the personality and
    /// swap flags.
    pub fn kernel_config(&self, machine: &Machine) -> Result<KernelConfig, CliError> {
        let mut config = KernelConfig::new(machine.arch.clone(), machine.frames);
        config.policy = machine.policy.clone();
        if let Some(tlb) = &machine.tlb {
            config.tlb = tlb.clone();
        }
        config.personality = match self.personality {
            None | Some(PersonalityArg::Linux) => Personality::Linux,
            Some(PersonalityArg::Pintos) => Personality::Pintos,
            Some(PersonalityArg::Xv6) => Personality::Xv6,
        };
        if let Some(size) = &self.swap {
            config.swap_slots = swap_slots(size, config.arch.page_bytes())?;
        }
        Ok(config)
    }

    /// A trace or generator run has no processes of its own to apply the
    /// script-only flags to (clap's `requires` is not enforced next to a
    /// conflict): an error naming the flag given.
    pub fn check_no_script_flags(&self) -> Result<(), CliError> {
        if self.personality.is_some() {
            return Err(CliError::arg("--personality", "applies to a SCRIPT only"));
        }
        if self.swap.is_some() {
            return Err(CliError::arg("--swap", "applies to a SCRIPT only"));
        }
        Ok(())
    }
}
