//! `vmlab run SCRIPT` (or `--scenario NAME`): which script, on which
//! machine; runs it as a process on that machine, shows what it printed as it prints it, then the
//! machine, how the script's first process ended and the counters, the C
//! library's calls and the cost model's time split (or all of it as
//! JSON). A bad script is an error naming `FILE:LINE:COLUMN`,
//! with nothing on stdout when the script does not compile.

use crate::error::CliError;
use crate::machine::MachineArgs;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use vmlab_hw::mmu::MmuCounters;
use vmlab_kernel::cost::TimeSplit;
use vmlab_kernel::machine::MachineSpec;
use vmlab_kernel::{KernelConfig, KernelCounters};
use vmlab_workload::script::{run_source, ScriptOptions};

/// What `--json` prints.
#[derive(Serialize)]
struct ScriptReport<'a> {
    script: String,
    #[serde(skip)]
    machine: String,
    arch: &'a str,
    frames: usize,
    policy: &'a str,
    scope: vmlab_kernel::ReplacementScope,
    personality: vmlab_kernel::Personality,
    swap_slots: u32,
    /// How the script's first process ended.
    status: String,
    transcript: &'a str,
    /// Everything written to the terminal (prints and direct writes), up
    /// to the first MiB.
    console: String,
    /// Bytes written to the terminal past what `console` keeps.
    console_bytes_dropped: u64,
    kernel: KernelCounters,
    mmu: MmuCounters,
    /// Library functions the programs called, by name.
    library_calls: &'a BTreeMap<&'static str, u64>,
    /// System calls the programs (and their library) made, by name.
    system_calls: &'a BTreeMap<&'static str, u64>,
    /// User/kernel crossings: two per system call and per user-mode fault.
    mode_switches: u64,
    /// The cost model's time, in ns.
    time: TimeSplit,
}

/// A script to run: what messages call it, its text, and the machine it
/// runs on.
pub struct ChosenScript {
    /// The file's path, or `scenario NAME`.
    pub name: String,
    /// The script's text.
    pub source: String,
    /// The machine flags, laid over a scenario's own machine file.
    pub spec: MachineSpec,
}

/// The script `vmlab run` or `vmlab explain` was given: the file `path`,
/// or the built-in scenario `scenario` on its own machine under the
/// machine flags; `None` when neither was given.
pub fn chosen_script(
    path: Option<&Path>,
    scenario: Option<&str>,
    machine: &MachineArgs,
) -> Result<Option<ChosenScript>, CliError> {
    if let Some(path) = path {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| CliError(format!("{name}: cannot read the script: {e}")))?;
        let spec = machine.spec()?;
        return Ok(Some(ChosenScript { name, source, spec }));
    }
    let Some(scenario) = scenario else {
        return Ok(None);
    };
    let (source, own) = crate::scenarios::script_and_machine(scenario)?;
    Ok(Some(ChosenScript {
        name: format!("scenario {scenario}"),
        source: source.to_string(),
        spec: machine.spec()?.over(own),
    }))
}

/// Runs the script `source` (called `name` in messages) on the machine
/// `spec` describes.
pub fn run_source_on(
    name: &str,
    source: &str,
    spec: &MachineSpec,
    json: bool,
) -> Result<(), CliError> {
    let kernel = crate::machine::boot(spec)?;
    let config = kernel.config().clone();
    let options = ScriptOptions {
        echo: !json,
        ..ScriptOptions::default()
    };
    let outcome =
        run_source(kernel, name, source, &options).map_err(|e| CliError(e.to_string()))?;
    let status = format!("process {} ended: {}", outcome.pid, outcome.status_text());
    let report = ScriptReport {
        script: name.to_string(),
        machine: machine_line(&config),
        arch: config.arch.name(),
        frames: config.frames,
        policy: &config.policy,
        scope: config.scope,
        personality: config.personality,
        swap_slots: config.swap_slots,
        status,
        transcript: &outcome.transcript,
        console: String::from_utf8_lossy(&outcome.kernel.console()).into_owned(),
        console_bytes_dropped: outcome.kernel.console_bytes_dropped(),
        kernel: outcome.kernel.counters(),
        mmu: outcome.kernel.mmu().counters(),
        library_calls: &outcome.accounting.library_calls,
        system_calls: &outcome.accounting.system_calls,
        mode_switches: outcome.accounting.counts.mode_switches,
        time: outcome.time,
    };
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        crate::output::print_out(&format!("{text}\n"))?;
    } else {
        crate::output::print_out(&summary(&report))?;
    }
    Ok(())
}

fn machine_line(config: &KernelConfig) -> String {
    let name = |value: serde_json::Result<serde_json::Value>| {
        value
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let personality = name(serde_json::to_value(config.personality));
    let scope = name(serde_json::to_value(config.scope));
    format!(
        "machine: {}, {} frames, {} replacement ({scope}), {} swap slots, {personality} rules",
        config.arch.name(),
        config.frames,
        config.policy,
        config.swap_slots
    )
}

/// The counters after the transcript.
fn summary(r: &ScriptReport) -> String {
    let k = &r.kernel;
    let mut out = String::new();
    let _ = writeln!(out, "\nvmlab run: {}", r.script);
    let _ = writeln!(out, "{}", r.machine);
    let _ = writeln!(out, "{}", r.status);
    let rows = [
        (
            "system calls",
            format!("{} ({} bytes copied)", k.syscalls, k.user_copy_bytes),
        ),
        (
            "library calls",
            format!(
                "{}, {} mode switches",
                r.library_calls.values().sum::<u64>(),
                r.mode_switches
            ),
        ),
        (
            "time",
            format!(
                "{:.1} us user, {:.1} us kernel, {:.1} us disk",
                r.time.user_ns / 1e3,
                r.time.kernel_ns / 1e3,
                r.time.disk_ns / 1e3
            ),
        ),
        ("references", k.references.to_string()),
        (
            "faults",
            format!("{} minor, {} major", k.minor_faults, k.major_faults),
        ),
        (
            "zero page",
            format!(
                "{} mapped, {} frames zero-filled",
                k.zero_page_maps, k.zero_fills
            ),
        ),
        (
            "copy-on-write",
            format!("{} copies, {} reuses", k.cow_copies, k.cow_reuses),
        ),
        ("swap", format!("{} in, {} out", k.swap_ins, k.swap_outs)),
        (
            "evictions",
            format!("{} ({} written back)", k.evictions, k.write_backs),
        ),
        ("file reads", k.file_reads.to_string()),
        ("stack growths", k.stack_growths.to_string()),
        ("signals", k.segfaults.to_string()),
        (
            "TLB",
            format!(
                "{} hits of {} accesses, {} walks, {} flushes",
                r.mmu.tlb_hits, r.mmu.accesses, r.mmu.walks, k.tlb_flushes
            ),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<16}{value}");
    }
    out
}
