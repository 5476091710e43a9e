//! The machine flags every command that boots a machine shares (`--arch`,
//! `--frames`/`--mem`, `--policy`, `--scope`, `--tlb`, `--swap`, `--personality`,
//! `--read-ahead`, `--huge-pages`) and `--machine FILE`, a machine file
//! the flags are laid over (`docs/machine-file.md`). The settings and
//! their checks live in `vmlab_kernel::machine`; this module only turns
//! flags into settings that name their flag.

use crate::error::CliError;
use crate::footprint::Planned;
use crate::numbers::parse_size;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use vmlab_kernel::kernel::ConfigError;
use vmlab_kernel::machine::{load_machine_file, ArchSource, Given, MachineSpec, Memory};
use vmlab_kernel::policy::needs_future;
use vmlab_kernel::{Kernel, KernelConfig, Personality, ReplacementScope};
use vmlab_workload::driver::{Machine, Model};
use vmlab_workload::future::{give_futures, FutureError};
use vmlab_workload::sweep::{Reading, Source};

/// The machine: a file, flags, or both (flags win).
#[derive(Args)]
pub struct MachineArgs {
    /// A machine file (TOML; docs/machine-file.md); flags override its keys.
    #[arg(long, value_name = "FILE")]
    machine: Option<PathBuf>,
    /// Translation scheme (`vmlab arch list`; default: x86-64).
    #[arg(long)]
    arch: Option<String>,
    /// A scheme defined in a TOML file (overrides --arch).
    #[arg(long, value_name = "FILE")]
    arch_file: Option<PathBuf>,
    /// Physical memory in frames (default: 1024).
    #[arg(long, conflicts_with = "mem")]
    frames: Option<u64>,
    /// Physical memory in bytes (`64MiB`, `1G`), instead of --frames.
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Replacement policy (default: lru), with any parameters after colons
    /// (`aging:bits=4:tick=500`, `random:seed=7`, `wsclock:tau=5000`,
    /// `2q:kin=0.25:kout=0.5`, `s3-fifo:small=0.2`); `opt` on --gen and
    /// --trace only, whose future is read beforehand.
    #[arg(long)]
    policy: Option<String>,
    /// Whose pages a process's fault may evict: any process's, under one
    /// policy (global), or its own, each process with a policy of its own
    /// and a fair share of memory (local) (scripts; default: global).
    #[arg(long, value_enum)]
    scope: Option<ScopeArg>,
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
    /// Pages read ahead on a file-mapping fault (scripts; default: 0).
    #[arg(long, value_name = "PAGES")]
    read_ahead: Option<u64>,
    /// Huge pages reserved at boot for MAP_HUGETLB, each of the scheme's
    /// next page size (2 MiB on x86-64; scripts; default: 0).
    #[arg(long, value_name = "N")]
    huge_pages: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    Global,
    Local,
}

#[derive(Clone, Copy, ValueEnum)]
enum PersonalityArg {
    Linux,
    Pintos,
    Xv6,
}

impl MachineArgs {
    /// Whether any machine flag (or a machine file) was given.
    pub fn is_given(&self) -> bool {
        self.machine.is_some() || !self.flag_names().is_empty()
    }

    /// The flags given that set what only a kernel with processes uses
    /// (a trace or generator run has none to apply them to).
    fn kernel_only_flags(&self) -> Vec<&'static str> {
        self.flag_names()
            .into_iter()
            .filter(|f| {
                [
                    "--scope",
                    "--personality",
                    "--swap",
                    "--read-ahead",
                    "--huge-pages",
                ]
                .contains(f)
            })
            .collect()
    }

    /// A trace or generator run has no processes of its own to apply the
    /// kernel-only flags to (clap's `requires` is not enforced next to a
    /// conflict): an error naming the first one given.
    pub fn refuse_kernel_only_flags(&self) -> Result<(), CliError> {
        match self.kernel_only_flags().first() {
            Some(flag) => Err(CliError::arg(flag, "applies to a SCRIPT only")),
            None => Ok(()),
        }
    }

    fn flag_names(&self) -> Vec<&'static str> {
        [
            ("--arch", self.arch.is_some()),
            ("--arch-file", self.arch_file.is_some()),
            ("--frames", self.frames.is_some()),
            ("--mem", self.mem.is_some()),
            ("--policy", self.policy.is_some()),
            ("--scope", self.scope.is_some()),
            ("--personality", self.personality.is_some()),
            ("--swap", self.swap.is_some()),
            ("--tlb", self.tlb.is_some()),
            ("--read-ahead", self.read_ahead.is_some()),
            ("--huge-pages", self.huge_pages.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }

    /// The settings: the flags laid over the machine file, if any.
    pub fn spec(&self) -> Result<MachineSpec, CliError> {
        let file = match &self.machine {
            Some(path) => load_machine_file(path).map_err(|e| CliError(e.to_string()))?,
            None => MachineSpec::default(),
        };
        let size = |text: &String, flag: &str| -> Result<Given<u64>, CliError> {
            let bytes = parse_size(text).map_err(|e| CliError::arg(flag, e))?;
            Ok(Given::flag(bytes, flag))
        };
        let arch = match (&self.arch_file, &self.arch) {
            (Some(path), _) => Some(Given::flag(ArchSource::File(path.clone()), "--arch-file")),
            (None, Some(name)) => Some(Given::flag(ArchSource::Named(name.clone()), "--arch")),
            (None, None) => None,
        };
        let memory = match (&self.frames, &self.mem) {
            (Some(n), _) => Some(Given::flag(Memory::Frames(*n), "--frames")),
            (None, Some(text)) => {
                let bytes = size(text, "--mem")?;
                Some(Given::flag(Memory::Bytes(bytes.value), "--mem"))
            }
            (None, None) => None,
        };
        let flags = MachineSpec {
            arch,
            memory,
            policy: self.policy.clone().map(|p| Given::flag(p, "--policy")),
            scope: self.scope.map(|s| {
                let s = match s {
                    ScopeArg::Global => ReplacementScope::Global,
                    ScopeArg::Local => ReplacementScope::Local,
                };
                Given::flag(s, "--scope")
            }),
            tlb: self.tlb.clone().map(|t| Given::flag(t, "--tlb")),
            swap: self.swap.as_ref().map(|s| size(s, "--swap")).transpose()?,
            personality: self.personality.map(|p| {
                let p = match p {
                    PersonalityArg::Linux => Personality::Linux,
                    PersonalityArg::Pintos => Personality::Pintos,
                    PersonalityArg::Xv6 => Personality::Xv6,
                };
                Given::flag(p, "--personality")
            }),
            read_ahead: self.read_ahead.map(|n| Given::flag(n, "--read-ahead")),
            huge_pages: self.huge_pages.map(|n| Given::flag(n, "--huge-pages")),
        };
        Ok(flags.over(file))
    }
}

/// The configuration `spec` describes, checked.
pub fn config(spec: &MachineSpec) -> Result<KernelConfig, CliError> {
    spec.config().map_err(|e| CliError(e.to_string()))
}

/// Boots the machine `spec` describes; a refusal names the flag or file
/// position of the setting at fault.
pub fn boot(spec: &MachineSpec) -> Result<Kernel, CliError> {
    let config = config(spec)?;
    if needs_future(&config.policy) {
        return Err(policy_error(
            spec,
            &format!(
                "{} needs every reference of the workload before it runs, and a script's are known only as it runs; it runs on a generator or a trace (vmlab run --gen SPEC or --trace FILE), and a script can try it on a page string with run_reference_string",
                config.policy
            ),
        ));
    }
    crate::footprint::refuse_unless_all_fit(&[Planned::kernel(&config)], 1)
        .map_err(|e| memory_error(spec, &e))?;
    Kernel::new(config).map_err(|e| CliError(spec.locate(&e).to_string()))
}

/// Readies a run of `machine` (from `spec`) in `model` on `source`:
/// refuses one whose state would not fit in this host's memory
/// ([`crate::footprint`]), and gives a policy that needs the workload's
/// future (OPT) the next uses from a pre-pass over `source`, read as
/// `reading` says, in the memory the machine leaves. A refusal names the
/// setting at fault.
pub fn ready_run(
    spec: &MachineSpec,
    machine: &mut Machine,
    model: Model,
    source: &Source,
    reading: Reading,
) -> Result<(), CliError> {
    let room = crate::footprint::refuse_unless_all_fit(&[Planned::run(machine, model)], 1)
        .map_err(|e| memory_error(spec, &e))?;
    give_futures(source, [(machine, model)], reading, room).map_err(|e| match e {
        FutureError::Unavailable(message) => policy_error(spec, &message),
        FutureError::Read(e) => CliError(e.to_string()),
    })
}

/// `message` about the policy, named as `spec` had it (its flag or file
/// position).
fn policy_error(spec: &MachineSpec, message: &str) -> CliError {
    let located = spec.locate(&ConfigError(format!("policy: {message}")));
    CliError(located.to_string())
}

/// `message` about the memory setting, named as `spec` had it (its flag or
/// file position).
fn memory_error(spec: &MachineSpec, message: &str) -> CliError {
    let located = spec.locate(&ConfigError(format!("frames: {message}")));
    CliError(located.to_string())
}

/// What the trace driver needs of `config`: scheme, frames, policy, TLB.
pub fn driver_machine(config: &KernelConfig) -> Machine {
    Machine {
        arch: config.arch.clone(),
        frames: config.frames,
        policy: config.policy.clone(),
        tlb: Some(config.tlb.clone()),
        future: None,
    }
}
