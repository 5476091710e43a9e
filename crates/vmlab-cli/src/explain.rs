//! `vmlab explain`: runs the same inputs as `vmlab run` (a script, a
//! built-in scenario, a generator or a trace) on the same machine flags,
//! and tells what happened step by step, numbered: each access with its
//! TLB probes and walk steps (the entries decoded), each page fault with
//! its cause and how the handler resolved it, each eviction with the
//! victim and the policy's reason, write-backs, shootdowns, system calls
//! with their arguments and results, and signals. `--json` prints the same
//! steps as JSON lines (schema: `docs/explain-events.md`). A run can take
//! millions of steps, so a window is shown: `--from N --count M`.

use crate::error::CliError;
use crate::machine::MachineArgs;
use crate::narrate::hardware_step;
use crate::output::print_out;
use crate::run_script::ChosenScript;
use crate::workload::WorkloadArgs;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{AccessKind, Arch, Event, Mode};
use vmlab_kernel::explain::{
    CallArg, ExplainLog, Explained, FlushReason, KernelEvent, Record, VARIADIC,
};
use vmlab_workload::driver::Model;
use vmlab_workload::script::{run_source_keeping_machine, ScriptOptions};
use vmlab_workload::sweep::Reading;

const EXAMPLES: &str = "\
Examples:
  vmlab explain --gen stride:pages=4,stride=4096,n=8 --frames 8 --policy fifo
  vmlab explain --gen loop:pages=5,n=20 --frames 6 --policy clock --from 60 --count 40
  vmlab explain examples/scripts/cow.rhai --count 500
  vmlab explain --scenario cow --json > cow.jsonl
  vmlab explain --trace prog.lackey.zst --mem 1MiB --policy lru --from 1000000";

/// Events shown when `--count` is not given.
const DEFAULT_COUNT: u64 = 200;

/// The most events one explanation shows: a window of 18446744073709551615
/// events on a 3 M-reference trace held 970 MB before printing.
const MAX_COUNT: u64 = 1_000_000;

/// Arguments of `vmlab explain`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct ExplainArgs {
    /// A scenario script (Rhai) to run as a process on the machine.
    #[arg(value_name = "SCRIPT", conflicts_with_all = ["gen", "trace", "scenario"])]
    script: Option<PathBuf>,
    /// A built-in scenario (`vmlab scenarios list`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["gen", "trace"])]
    scenario: Option<String>,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    machine: MachineArgs,
    /// Print the events as JSON lines (schema: docs/explain-events.md).
    #[arg(long)]
    json: bool,
    /// The first event to show, numbered from 1 as the text output numbers them.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    from: u64,
    /// How many events to show (at most a million: they are held in
    /// memory, about 300 bytes each, until printed).
    #[arg(long, value_name = "M", default_value_t = DEFAULT_COUNT, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    count: u64,
}

/// What ran, for the heading.
struct Explanation {
    label: String,
    arch: Arch,
    tlb: TlbConfig,
    frames: usize,
    policy: String,
    log: ExplainLog,
    /// The error that stopped a script, after the events up to it.
    failure: Option<String>,
}

/// Runs `vmlab explain`. A script that fails is narrated up to its error,
/// which then ends the command as any error does.
pub fn run(args: &ExplainArgs) -> Result<(), CliError> {
    let explanation = explain(args)?;
    show(&explanation, args)?;
    match explanation.failure {
        Some(failure) => Err(CliError(failure)),
        None => Ok(()),
    }
}

/// Prints the events, as text or JSON lines.
fn show(explanation: &Explanation, args: &ExplainArgs) -> Result<(), CliError> {
    if args.json {
        let mut out = String::new();
        for record in explanation.log.records() {
            let line = serde_json::to_string(record)
                .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
            let _ = writeln!(out, "{line}");
        }
        if explanation.log.more() {
            eprintln!("{}", more_note(args));
        }
        print_out(&out)
    } else {
        print_out(&text(explanation, args))
    }
}

/// Runs the input with a log over the window asked for.
fn explain(args: &ExplainArgs) -> Result<Explanation, CliError> {
    let log = ExplainLog::window(args.from, args.count);
    let script = crate::run_script::chosen_script(
        args.script.as_deref(),
        args.scenario.as_deref(),
        &args.machine,
    )?;
    let spec = match &script {
        Some(script) => script.spec.clone(),
        None => args.machine.spec()?,
    };
    let config = crate::machine::config(&spec)?;
    let mut machine = crate::machine::driver_machine(&config);
    let tlb = config.tlb;
    // Taken apart, so the run below may still give the machine its future.
    let (arch, frames, policy) = (machine.arch.clone(), machine.frames, machine.policy.clone());
    let heading = |label: String, log: ExplainLog| Explanation {
        label,
        arch: arch.clone(),
        tlb: tlb.clone(),
        frames,
        policy: policy.clone(),
        log,
        failure: None,
    };
    if let Some(ChosenScript { name, source, spec }) = script {
        let mut kernel = crate::machine::boot(&spec)?;
        kernel.set_explain(Some(log));
        let options = ScriptOptions::default();
        let (mut kernel, failure) =
            match run_source_keeping_machine(kernel, &name, &source, &options) {
                Ok(outcome) => (outcome.kernel, None),
                Err((e, Some(kernel))) => (*kernel, Some(e.to_string())),
                Err((e, None)) => return Err(CliError(e.to_string())),
            };
        let log = kernel
            .set_explain(None)
            .ok_or_else(|| CliError("the explanation log was lost".into()))?;
        return Ok(Explanation {
            failure,
            ..heading(name, log)
        });
    }
    if !args.workload.is_given() {
        return Err(CliError::arg(
            "explain",
            "expected SCRIPT, --scenario NAME, --gen SPEC or --trace FILE",
        ));
    }
    args.machine.refuse_kernel_only_flags()?;
    let source = args.workload.source()?;
    // The window is usually a short stretch at the start: the pre-pass
    // (OPT only) reads in line, as the run does.
    crate::machine::ready_run(&spec, &mut machine, Model::Full, &source, Reading::InLine)?;
    let (_, log) = source
        .explain(&machine, log)
        .map_err(|e| CliError(e.to_string()))?;
    Ok(heading(args.workload.label(), log))
}

/// How to see the events after the window.
fn more_note(args: &ExplainArgs) -> String {
    format!(
        "more events follow: add --from {} (and --count M) to see them",
        args.from.saturating_add(args.count)
    )
}

/// The text form: heading, numbered steps, and where the window ended.
fn text(e: &Explanation, args: &ExplainArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "vmlab explain: {}", e.label);
    let _ = writeln!(
        out,
        "machine: {}, {} frames, {} replacement",
        e.arch.name(),
        e.frames,
        e.policy
    );
    let mut narrator = Narrator::new(&e.arch, &e.tlb);
    for record in e.log.records() {
        let _ = writeln!(out, "{}", narrator.line(record));
    }
    if e.log.more() {
        let _ = writeln!(out, "... {}", more_note(args));
    } else if e.log.seen() < args.from {
        let _ = writeln!(
            out,
            "the run has only {} events (--from {} is past its end)",
            e.log.seen(),
            args.from
        );
    } else {
        let _ = writeln!(out, "end of the run: {} events", e.log.seen());
    }
    out
}

/// Tells records in words, remembering the access in progress (the TLB
/// narration says what kind of access a dropped entry refused).
pub struct Narrator<'a> {
    arch: &'a Arch,
    tlb: &'a TlbConfig,
    mode: Mode,
    kind: AccessKind,
}

impl<'a> Narrator<'a> {
    /// A narrator for a machine on `arch` with TLB `tlb`.
    pub fn new(arch: &'a Arch, tlb: &'a TlbConfig) -> Narrator<'a> {
        Narrator {
            arch,
            tlb,
            mode: Mode::User,
            kind: AccessKind::Read,
        }
    }

    /// One numbered line: `   12  pid 1    TLB l1d: miss`; the hardware's
    /// steps within an access are indented under it.
    pub fn line(&mut self, record: &Record) -> String {
        let (indent, words) = match &record.event {
            Explained::Hardware(Event::Access { .. }) => ("", self.hardware(&record.event)),
            Explained::Hardware(_) => ("  ", self.hardware(&record.event)),
            Explained::Kernel(k) => ("", kernel_step(k)),
        };
        format!("{:>6}  pid {:<3} {indent}{words}", record.seq, record.pid)
    }

    fn hardware(&mut self, event: &Explained) -> String {
        let Explained::Hardware(event) = event else {
            return String::new();
        };
        match event {
            Event::Access {
                vaddr, kind, mode, ..
            } => {
                self.mode = *mode;
                self.kind = *kind;
                format!("{mode} {kind} at {vaddr:#x}")
            }
            Event::Translated {
                paddr, page_shift, ..
            } => format!(
                "=> physical {paddr:#x} ({} page)",
                vmlab_hw::pagetable::format_page_size(*page_shift)
            ),
            Event::PageFault(f) => {
                let level = self
                    .arch
                    .levels()
                    .get(f.level)
                    .map_or(String::new(), |l| format!(" at the {} level", l.name));
                format!("=> page fault{level}: {}", f.cause.describe())
            }
            Event::Segment { offset, linear } => {
                format!("segment: offset {offset:#x} -> linear {linear:#x}")
            }
            Event::SegmentFault(fault) => format!("=> segmentation fault: {fault}"),
            step => {
                hardware_step(self.arch, self.tlb, self.mode, self.kind, step).unwrap_or_default()
            }
        }
    }
}

/// `name(a=1, b=0x2)`.
fn call(name: &str, args: &[CallArg]) -> String {
    // A variadic argument (printf's values) has no name of its own.
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.name {
            VARIADIC => a.value.clone(),
            name => format!("{name}={}", a.value),
        })
        .collect();
    format!("{name}({})", args.join(", "))
}

/// One kernel step in words.
pub fn kernel_step(event: &KernelEvent) -> String {
    match event {
        KernelEvent::Fault {
            vaddr,
            access,
            cause,
            region,
        } => {
            let place = match region {
                Some(r) => format!(
                    "in the {} region [{:#x}, {:#x}) {}",
                    serde_json::to_value(r.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                        .unwrap_or_default(),
                    r.start,
                    r.end,
                    r.prot
                ),
                None => "outside every region".into(),
            };
            format!(
                "page fault on a {access} at {vaddr:#x}: {}; {place}",
                cause.describe()
            )
        }
        KernelEvent::ZeroPageMapped { vaddr } => format!(
            "resolved: a read of untouched private memory: the shared zero page is mapped read-only at {vaddr:#x} (no frame used until a write)"
        ),
        KernelEvent::DemandZero { vaddr, frame } => format!(
            "resolved: demand-zero page: frame {frame} is zeroed and mapped at {vaddr:#x}"
        ),
        KernelEvent::SwapIn {
            vaddr,
            slot,
            frame,
            cached,
        } => {
            if *cached {
                format!("resolved: swap-in of {vaddr:#x} from slot {slot}: still in the swap cache in frame {frame}, no disk read")
            } else {
                format!("resolved: swap-in of {vaddr:#x}: slot {slot} read from the swap disk into frame {frame} (a major fault)")
            }
        }
        KernelEvent::FilePage {
            vaddr,
            file,
            index,
            frame,
            read,
        } => {
            let how = if *read {
                "read from the disk into the page cache (a major fault)"
            } else {
                "found in the page cache"
            };
            format!("resolved: page {index} of file {file} {how}, frame {frame}, mapped at {vaddr:#x}")
        }
        KernelEvent::SharedPageMapped { vaddr, frame } => format!(
            "resolved: the shared object's page is already in frame {frame}: mapped at {vaddr:#x}"
        ),
        KernelEvent::BackingRead { vaddr, frame } => format!(
            "resolved: page {vaddr:#x} read in from the backing store into frame {frame} (a major fault)"
        ),
        KernelEvent::CowCopy {
            vaddr,
            from,
            to,
            zero_page,
        } => {
            if *zero_page {
                format!("resolved: first write to a page that read as the zero page: frame {to} is zeroed and mapped writable at {vaddr:#x}")
            } else {
                format!("resolved: copy-on-write: frame {from} is shared, so the writer gets its own copy in frame {to}, mapped writable at {vaddr:#x}")
            }
        }
        KernelEvent::CowReuse { vaddr, frame } => format!(
            "resolved: copy-on-write without a copy: the writer is the only user of frame {frame}, so the entry for {vaddr:#x} just becomes writable"
        ),
        KernelEvent::StackGrowth { vaddr, new_start } => format!(
            "the stack grows down to {new_start:#x} to cover {vaddr:#x}"
        ),
        KernelEvent::FlagsSet { vaddr, dirty } => format!(
            "resolved: the kernel sets the accessed{} flag of {vaddr:#x} (this hardware leaves it to software)",
            if *dirty { " and dirty" } else { "" }
        ),
        KernelEvent::RightsRefreshed { vaddr } => format!(
            "resolved: the entry for {vaddr:#x} had older rights than its region: brought in line"
        ),
        KernelEvent::Eviction {
            frame,
            owners,
            dirty,
            policy,
            reason,
        } => {
            let owners: Vec<String> = owners
                .iter()
                .map(|o| format!("pid {} page {:#x}", o.pid, o.vpn))
                .collect();
            let whose = if owners.is_empty() {
                "no mapping".to_string()
            } else {
                owners.join(", ")
            };
            let state = if *dirty { "dirty" } else { "clean" };
            format!("evict frame {frame} ({whose}; {state}): {policy} chose it: {reason}")
        }
        KernelEvent::SwapOut { frame, slot } => {
            format!("frame {frame} written to swap slot {slot}")
        }
        KernelEvent::WriteBack { frame, file, index } => {
            if *file == vmlab_kernel::BACKING_STORE {
                format!("frame {frame} written back to the backing store (page {index:#x})")
            } else {
                format!("frame {frame} written back to page {index} of file {file}")
            }
        }
        KernelEvent::CleanDrop { frame } => format!(
            "frame {frame} is clean (its copy on disk is current): dropped without a write"
        ),
        KernelEvent::ClockTick { references, policy } => format!(
            "clock tick after {references} references: {policy} samples every resident page's referenced flag and clears it"
        ),
        KernelEvent::Shootdown { target, vaddr } => format!(
            "TLB shootdown: pid {target}'s cached translation of {vaddr:#x} is invalidated (its page-table entry changed)"
        ),
        KernelEvent::TlbFlush { asid, reason } => {
            let what = match asid {
                Some(a) => format!("the entries of ASID {a}"),
                None => "the whole TLB".to_string(),
            };
            let why = match reason {
                FlushReason::Fork => "fork made the parent's writable pages copy-on-write",
                FlushReason::ContextSwitch => {
                    "a context switch to a process whose entries may be stale"
                }
                FlushReason::AddressSpaceGone => "the address space went away",
            };
            format!("TLB flush of {what}: {why}")
        }
        KernelEvent::ContextSwitch { to, asid } => format!(
            "context switch to process {to}: its page-table root is loaded (ASID {asid})"
        ),
        KernelEvent::SyscallEnter { name, args } => {
            format!("system call {}", call(name, args))
        }
        KernelEvent::SyscallExit {
            name,
            value,
            errno,
        } => match (value, errno) {
            (_, Some(e)) => format!("{name} failed: {e} (errno {})", e.number()),
            (Some(v), None) => format!("{name} returned {v}"),
            (None, None) => format!("{name} returned"),
        },
        KernelEvent::Signal { signal, reason } => {
            format!("signal {signal}: {reason}; the process ends")
        }
        KernelEvent::OomKill { victim, reason } => {
            format!("out-of-memory killer: process {victim} is killed: {reason}")
        }
        KernelEvent::LibraryCall { name, args } => format!(
            "library call {}: runs in user mode; any system calls it needs follow",
            call(name, args)
        ),
        KernelEvent::LibraryReturn {
            name,
            value,
            error,
            system_calls,
        } => {
            let outcome = match (value, error) {
                (_, Some(e)) => format!("{name} failed: {e}"),
                (Some(v), None) => format!("{name} returned {v}"),
                (None, None) => format!("{name} returned"),
            };
            match system_calls {
                0 => format!("{outcome}, without a system call: user mode throughout"),
                1 => format!("{outcome}, after 1 system call"),
                n => format!("{outcome}, after {n} system calls"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_kernel::region::Prot;
    use vmlab_kernel::{Kernel, KernelConfig};

    /// A 16-frame x86-64 machine with an explanation log over everything.
    fn machine() -> Kernel {
        let arch = vmlab_hw::arch::presets::by_name("x86-64")
            .and_then(Result::ok)
            .expect("x86-64 preset");
        let mut k = Kernel::new(KernelConfig::new(arch, 16)).expect("machine");
        k.set_explain(Some(ExplainLog::window(1, 100_000)));
        k
    }

    /// The kernel steps recorded so far, in words.
    fn kernel_lines(k: &Kernel) -> Vec<String> {
        k.explain_log()
            .expect("log installed")
            .records()
            .iter()
            .filter_map(|r| match &r.event {
                Explained::Kernel(e) => Some(kernel_step(e)),
                Explained::Hardware(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_first_write_to_anonymous_memory_is_a_demand_zero_fault() {
        let mut k = machine();
        let pid = k.spawn(0).expect("process");
        let rw = Prot::READ | Prot::WRITE;
        let addr = k
            .mmap_anonymous(pid, 0, 4096, rw, false, false)
            .expect("mmap");
        k.store(pid, addr, 8, 42).expect("store");
        let lines = kernel_lines(&k);
        let fault = lines
            .iter()
            .position(|l| l.starts_with(&format!("page fault on a write at {addr:#x}")))
            .expect("the fault is told");
        assert!(lines[fault].contains("the entry is not present; in the anonymous region"));
        assert!(lines[fault].contains("rw-"));
        assert!(
            lines[fault + 1].starts_with("resolved: demand-zero page: frame ")
                && lines[fault + 1].ends_with(&format!("is zeroed and mapped at {addr:#x}")),
            "{lines:?}"
        );
    }

    #[test]
    fn a_write_after_fork_copies_the_shared_page() {
        let mut k = machine();
        let parent = k.spawn(0).expect("process");
        let rw = Prot::READ | Prot::WRITE;
        let addr = k
            .mmap_anonymous(parent, 0, 4096, rw, false, false)
            .expect("mmap");
        k.store(parent, addr, 8, 1).expect("store");
        let child = k.fork(parent).expect("fork");
        let before = kernel_lines(&k).len();
        k.store(child, addr, 8, 2).expect("child's store");
        let lines = kernel_lines(&k)[before..].to_vec();
        // The child's entry is read-only since fork: a protection fault,
        // resolved by a copy, then the old translation is shot down.
        let fault = lines
            .iter()
            .position(|l| {
                l.starts_with(&format!(
                    "page fault on a write at {addr:#x}: the page does not allow this access"
                ))
            })
            .expect("a protection fault");
        assert!(
            lines[fault + 1].starts_with("resolved: copy-on-write: frame ")
                && lines[fault + 1].contains("is shared, so the writer gets its own copy in frame"),
            "{lines:?}"
        );
        assert!(lines[fault + 2].starts_with(&format!(
            "TLB shootdown: pid {child}'s cached translation of {addr:#x}"
        )));
        // The parent's next write finds itself the only user: no copy.
        let before = kernel_lines(&k).len();
        k.store(parent, addr, 8, 3).expect("parent's store");
        let lines = kernel_lines(&k)[before..].to_vec();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("resolved: copy-on-write without a copy")),
            "{lines:?}"
        );
    }

    #[test]
    fn system_calls_are_told_with_c_arguments_and_errno_names() {
        let mut k = machine();
        let pid = k.spawn(0).expect("process");
        let _ = k.sys_mmap(pid, 0, 4096, 3, 0x22, -1, 0).expect("mmap");
        assert_eq!(k.sys_munmap(pid, 1, 4096), Err(vmlab_kernel::Errno::Einval));
        let lines = kernel_lines(&k);
        assert!(lines.contains(&"system call mmap(addr=0x0, length=4096, prot=PROT_READ|PROT_WRITE, flags=MAP_PRIVATE|MAP_ANONYMOUS, fd=-1, offset=0x0)".to_string()), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("mmap returned 0x")));
        assert!(
            lines.contains(&"munmap failed: EINVAL (errno 22)".to_string()),
            "{lines:?}"
        );
    }
}
